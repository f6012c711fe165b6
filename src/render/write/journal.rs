//! Carrying out a plan all-or-nothing: the journal, the burst of renames, the commit, and
//! the rollback of an apply that did not finish.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};

use super::decide::Op;
use crate::error::{Error, Result};
use crate::git::tree::RepoTree;
use crate::render::state::{RENDERED_REF, STATE_FILE, State};

/// The environment variable naming a failpoint. Test-only: `render-after-N-writes` aborts
/// the process right after the N-th rename or removal of an apply, to prove crash safety;
/// `render-fail-after-N-writes` makes it fail there instead, to prove the in-process rollback.
pub const FAILPOINT_ENV: &str = "HOMELAB_FAILPOINT";

/// The journal of an apply in progress, in the git directory.
const JOURNAL: &str = "homelab-apply.journal";
/// A copy of the git index taken before an apply, restored on rollback.
const INDEX_BACKUP: &str = "homelab-apply.index";

#[derive(Debug, Serialize, Deserialize)]
struct Journal {
    /// HEAD when the apply started; a different HEAD on recovery means the commit landed.
    head: Option<String>,
    /// The rendered-files reference when the apply started.
    rendered_ref: Option<String>,
    /// Whether the git index existed (and was copied to the backup).
    index_existed: bool,
    /// Every path the apply may change, with the blob of its previous content.
    entries: Vec<JournalEntry>,
}

#[derive(Debug, Serialize, Deserialize)]
struct JournalEntry {
    path: String,
    /// The previous content, base64; `None`: the file did not exist. Kept in the journal
    /// itself (fsynced) rather than as a git object, which libgit2 does not fsync.
    before: Option<String>,
}

/// What the commit of an apply holds: every path homelab decided, with its content on disk
/// after the apply (`None`: deleted).
pub(super) type CommitSet = Vec<(String, Option<Vec<u8>>)>;

/// Whether a journal of an interrupted apply exists.
pub(super) fn interrupted(repo: &git2::Repository) -> bool {
    journal_path(repo).exists()
}

/// Carry out `ops` crash-safely, then commit `commit` (when given); returns the commit, if
/// any. On an error the apply is rolled back in-process, so the repository is as before.
pub(super) fn execute(
    repo: &git2::Repository,
    tree: &RepoTree,
    ops: &[Op],
    state: &State,
    renderings: &BTreeMap<String, String>,
    commit: Option<(&CommitSet, &str)>,
) -> Result<Option<git2::Oid>> {
    if ops.is_empty() {
        // Nothing to write: at most a commit of what an earlier apply left uncommitted.
        return match commit {
            Some((set, message)) => crate::git::commit_paths(repo, set, message),
            None => Ok(None),
        };
    }
    if let Err(err) = write_journal(repo, tree, ops) {
        finish(repo);
        return Err(err);
    }
    let outcome = write_and_commit(repo, tree, ops, state, renderings, commit);
    match outcome {
        Ok(oid) => {
            finish(repo);
            Ok(oid)
        }
        Err(err) => match recover_repo(repo, tree) {
            Ok(_) => Err(err),
            Err(rollback) => Err(Error::failed(format!(
                "{}; rolling back failed too: {}",
                err.message, rollback.message
            ))
            .with_hint("free the cause (disk space, permissions), then run the command again: it finishes the rollback first")),
        },
    }
}

/// The journal: previous contents, the index copied, HEAD and ref noted.
fn write_journal(repo: &git2::Repository, tree: &RepoTree, ops: &[Op]) -> Result<()> {
    let mut entries = Vec::with_capacity(ops.len());
    for op in ops {
        entries.push(JournalEntry {
            path: op.path.clone(),
            before: tree.read(&op.path)?.map(|bytes| BASE64.encode(bytes)),
        });
    }
    let index_file = repo.path().join("index");
    let index_existed = index_file.exists();
    if index_existed {
        let backup = repo.path().join(INDEX_BACKUP);
        let bytes = fs::read(&index_file).map_err(|err| io_err("read", &index_file, err))?;
        write_git_file(&backup, &bytes)?;
    }
    let journal = Journal {
        head: head_id(repo),
        rendered_ref: repo
            .refname_to_id(RENDERED_REF)
            .ok()
            .map(|id| id.to_string()),
        index_existed,
        entries,
    };
    let text = serde_json::to_vec_pretty(&journal)
        .map_err(|err| Error::failed(format!("cannot write the journal: {err}")))?;
    write_git_file(&journal_path(repo), &text)
}

fn write_and_commit(
    repo: &git2::Repository,
    tree: &RepoTree,
    ops: &[Op],
    state: &State,
    renderings: &BTreeMap<String, String>,
    commit: Option<(&CommitSet, &str)>,
) -> Result<Option<git2::Oid>> {
    let git = |err: git2::Error| Error::failed(format!("git: {}", err.message()));
    // Stage every new content beside its target. The bar only shows on a terminal.
    let bar = crate::feedback::bar(ops.len() as u64, "writing files");
    for op in ops {
        bar.inc(1);
        if let Some(bytes) = &op.content {
            tree.stage(&op.path, bytes)?;
        }
    }

    // Rename (or remove) in one burst.
    let failpoint = failpoint();
    for (n, op) in ops.iter().enumerate() {
        failpoint.hit(n)?;
        match &op.content {
            Some(_) => tree.rename_staged(&op.path)?,
            None => {
                tree.remove(&op.path)?;
            }
        }
    }
    failpoint.hit(ops.len())?;
    for op in ops {
        tree.sync_parent(&op.path);
    }
    for op in ops.iter().filter(|op| op.content.is_none()) {
        tree.remove_empty_parents(&op.path);
    }

    // Keep the recorded renderings reachable (they are the next merge bases).
    update_rendered_ref(repo, state, renderings).map_err(git)?;

    bar.set_message("committing");
    let oid = match commit {
        Some((set, message)) => crate::git::commit_paths(repo, set, message)?,
        None => None,
    };
    bar.finish_and_clear();
    Ok(oid)
}

/// The failpoint of this process, from [`FAILPOINT_ENV`].
struct Failpoint {
    after: Option<usize>,
    abort: bool,
}

impl Failpoint {
    fn hit(&self, n: usize) -> Result<()> {
        if self.after != Some(n) {
            return Ok(());
        }
        if self.abort {
            std::process::abort();
        }
        Err(Error::failed(format!(
            "failpoint: failing after {n} writes"
        )))
    }
}

/// Only debug and test builds have failpoints: a released binary ignores the variable, so
/// nothing outside the test suite can make it abort or fail half-way.
#[cfg(not(debug_assertions))]
fn failpoint() -> Failpoint {
    Failpoint {
        after: None,
        abort: false,
    }
}

#[cfg(debug_assertions)]
fn failpoint() -> Failpoint {
    let value = std::env::var(FAILPOINT_ENV).unwrap_or_default();
    match parse_failpoint(&value) {
        Some((after, abort)) => Failpoint {
            after: Some(after),
            abort,
        },
        None => Failpoint {
            after: None,
            abort: false,
        },
    }
}

/// `(N, abort)` of `render-after-N-writes` (abort) or `render-fail-after-N-writes` (error).
#[cfg_attr(not(debug_assertions), allow(dead_code))]
fn parse_failpoint(value: &str) -> Option<(usize, bool)> {
    let (rest, abort) = match value.strip_prefix("render-fail-after-") {
        Some(rest) => (rest, false),
        None => (value.strip_prefix("render-after-")?, true),
    };
    Some((rest.strip_suffix("-writes")?.parse().ok()?, abort))
}

fn head_id(repo: &git2::Repository) -> Option<String> {
    repo.head()
        .ok()
        .and_then(|h| h.target())
        .map(|id| id.to_string())
}

/// Point [`RENDERED_REF`] at a commit whose tree holds every recorded rendering.
fn update_rendered_ref(
    repo: &git2::Repository,
    state: &State,
    renderings: &BTreeMap<String, String>,
) -> std::result::Result<(), git2::Error> {
    let empty = repo.treebuilder(None)?.write()?;
    let empty = repo.find_tree(empty)?;
    let mut update = git2::build::TreeUpdateBuilder::new();
    for (path, file) in &state.files {
        let oid = match renderings.get(path) {
            Some(text) => repo.blob(text.as_bytes())?,
            None => match git2::Oid::from_str(&file.blob) {
                // A kept file's base from an earlier render; skip it if git lost it.
                Ok(oid) if repo.find_blob(oid).is_ok() => oid,
                _ => continue,
            },
        };
        update.upsert(path.as_str(), oid, git2::FileMode::Blob);
    }
    let tree = update.create_updated(repo, &empty)?;
    let tree = repo.find_tree(tree)?;
    let sig = git2::Signature::now("homelab", "homelab@localhost")?;
    let commit = repo.commit(None, &sig, &sig, "homelab renderings", &tree, &[])?;
    repo.reference(RENDERED_REF, commit, true, "homelab render")?;
    Ok(())
}

/// Drop the journal and the index copy of a finished apply.
fn finish(repo: &git2::Repository) {
    let _ = fs::remove_file(journal_path(repo));
    let _ = fs::remove_file(repo.path().join(INDEX_BACKUP));
    sync_dir(repo.path());
}

/// Roll back an apply that was interrupted before its commit, if there is one. Returns
/// whether anything was rolled back.
///
/// The journal lives in `.git`, so it is not part of a clone, but it is still read as
/// untrusted: every path in it must be one homelab could have written, and is restored
/// through [`RepoTree`] (never through a link).
pub(super) fn recover_repo(repo: &git2::Repository, tree: &RepoTree) -> Result<bool> {
    let path = journal_path(repo);
    let text = match fs::read(&path) {
        Ok(text) => text,
        Err(_) => {
            // An index copy without a journal: the crash came before the journal existed.
            let _ = fs::remove_file(repo.path().join(INDEX_BACKUP));
            return Ok(false);
        }
    };
    let damaged = |why: String| {
        Error::failed(format!(
            "the journal of an interrupted render ({}) {why}",
            path.display()
        ))
        .with_hint(format!(
            "check `git status`, restore what you need with `git checkout`, then delete {}",
            path.display()
        ))
    };
    let journal: Journal =
        serde_json::from_slice(&text).map_err(|err| damaged(format!("is unreadable: {err}")))?;
    let mut restores = Vec::with_capacity(journal.entries.len());
    for entry in &journal.entries {
        if entry.path != STATE_FILE
            && let Err(why) = super::check_path(&entry.path)
        {
            return Err(damaged(format!(
                "names the path {:?}, which homelab never writes ({why}); refusing to roll it back",
                entry.path
            )));
        }
        let before = match &entry.before {
            Some(b64) => Some(
                BASE64
                    .decode(b64)
                    .map_err(|err| damaged(format!("is damaged ({}): {err}", entry.path)))?,
            ),
            None => None,
        };
        restores.push((entry.path.as_str(), before));
    }
    for (path, _) in &restores {
        tree.discard_staged(path);
    }
    if head_id(repo) != journal.head {
        // The commit landed; only the clean-up was interrupted.
        finish(repo);
        return Ok(false);
    }
    let git = |err: git2::Error| Error::failed(format!("git: {}", err.message()));
    for (path, before) in &restores {
        match before {
            Some(bytes) => tree.write_atomic(path, bytes)?,
            None => {
                tree.remove(path)?;
                // Directories the apply created for it go too (emptied, they are its own).
                tree.remove_empty_parents(path);
            }
        }
    }
    let index_file = repo.path().join("index");
    let backup = repo.path().join(INDEX_BACKUP);
    if journal.index_existed {
        if backup.exists() {
            fs::rename(&backup, &index_file).map_err(|err| io_err("restore", &index_file, err))?;
        }
    } else if journal.head.is_none() {
        // A first apply into a fresh repository created the index; a repository with
        // commits always has one, so a journal claiming otherwise is not believed.
        let _ = fs::remove_file(&index_file);
    }
    match &journal.rendered_ref {
        Some(id) => {
            let oid = git2::Oid::from_str(id).map_err(git)?;
            repo.reference(RENDERED_REF, oid, true, "homelab render rollback")
                .map_err(git)?;
        }
        None => {
            if let Ok(mut r) = repo.find_reference(RENDERED_REF) {
                r.delete().map_err(git)?;
            }
        }
    }
    finish(repo);
    crate::feedback::note(
        "rolled back an interrupted change: the repository is as it was before it",
    );
    Ok(true)
}

fn journal_path(repo: &git2::Repository) -> PathBuf {
    repo.path().join(JOURNAL)
}

fn io_err(what: &str, path: &Path, err: std::io::Error) -> Error {
    Error::failed(format!("cannot {what} {}: {err}", path.display()))
}

/// Write a file of homelab's own in the git directory durably (temporary file, fsync,
/// rename). The git directory is the user's, never part of a clone.
fn write_git_file(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write as _;
    let tmp = path.with_extension("homelab-tmp");
    let write = || -> std::io::Result<()> {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    };
    write().map_err(|err| {
        let _ = fs::remove_file(&tmp);
        io_err("write", path, err)
    })?;
    sync_dir(path.parent().unwrap_or(Path::new(".")));
    Ok(())
}

/// Make renames in `dir` durable. Best effort: not every filesystem supports it.
fn sync_dir(dir: &Path) {
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failpoints_parse_only_their_own_forms() {
        // The env var itself is exercised end to end by the crash tests.
        assert_eq!(parse_failpoint("render-after-3-writes"), Some((3, true)));
        assert_eq!(
            parse_failpoint("render-fail-after-0-writes"),
            Some((0, false))
        );
        assert_eq!(parse_failpoint("render-after-x-writes"), None);
        assert_eq!(parse_failpoint("other"), None);
    }
}
