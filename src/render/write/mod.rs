//! The one writer: every command that changes the repository (`init`, `render`, `add-app`,
//! `remove-app`) changes it through [`Workspace::apply`], without clobbering the user's edits.
//!
//! Re-rendering templates over a repository the user has edited is the classic way homelab
//! repos rot: people stop re-rendering. A [`Workspace`] is the repository opened for writing
//! under its lock ([`RepoLock`]: one writer at a time), reached only through [`RepoTree`]
//! (never through a symbolic link). [`Workspace::apply`]:
//!
//! 1. rolls back any apply that was interrupted before it committed;
//! 2. plans every file first ([`decide`]), comparing the disk with what the tool generated
//!    last ([`State`]) and the new rendering: untouched files are replaced, the user's edits
//!    are kept, edits on both sides are merged three-way (base: the previous rendering);
//! 3. writes nothing in [`Mode::Diff`]; otherwise writes a journal, stages every new content
//!    in a temporary file beside its target, renames them in one burst, writes the state file
//!    and commits once ([`journal`]) — exactly the files homelab decided, never other
//!    changes in the work tree, and nothing at all while a conflict remains.
//!
//! The journal (in the git directory, never committed) lists every path about to change with
//! its previous content, so a failure or a crash at any point before the commit is undone
//! (in-process for a failure, on the next run for a crash): the tree, the index and the
//! recorded renderings come back exactly as they were, uncommitted user edits included.

mod decide;
mod journal;
mod report;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

pub use decide::has_conflict_markers;
pub use journal::FAILPOINT_ENV;
pub use report::{FileReport, Outcome, Report};

use super::lock::RepoLock;
use super::state::{STATE_FILE, State};
use crate::error::{Error, Result};
use crate::git::tree::{RepoTree, TMP_SUFFIX};

/// How [`Workspace::apply`] treats files the user edited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Keep edits, merge cleanly mergeable ones, report conflicts and leave those files alone.
    Apply,
    /// Print what would change as a unified diff; write nothing.
    Diff,
    /// Replace edited files with the new rendering, after printing what is lost.
    Force,
    /// Like `Apply`, but write conflicts into the files with standard conflict markers.
    Merge,
}

/// One change to the repository: the new rendering of the files it concerns.
#[derive(Debug, Clone)]
pub struct Change {
    /// Generated files: repository-relative path → the new rendering.
    pub files: BTreeMap<String, String>,
    /// The paths this change concerns, besides `files`. `None`: the whole repository
    /// (`files` is the complete rendering; recorded files missing from it are no longer
    /// generated). `Some`: only these; the records of other files stay as they are.
    pub scope: Option<BTreeSet<String>>,
    /// For paths the state file does not record yet: what homelab generated for them before
    /// this change (repositories written before homelab recorded them). A file on disk equal
    /// to it counts as homelab's; it is also the merge base.
    pub previous: BTreeMap<String, String>,
    /// Paths written as given whatever is on disk: the user's own file (`homelab.yaml`) that
    /// the command edited in place, under the lock.
    pub replace: BTreeSet<String>,
    /// Paths this change never reads, writes or commits (their records stay as they are):
    /// a `homelab.yaml` that is a link.
    pub untouched: BTreeSet<String>,
    pub mode: Mode,
    /// The commit message.
    pub message: String,
    /// Write nothing at all when any file would conflict (`add-app`, `remove-app`).
    pub all_or_nothing: bool,
}

impl Change {
    /// The whole rendering of the repository, applied with `mode`.
    pub fn whole(files: BTreeMap<String, String>, mode: Mode, message: &str) -> Self {
        Self {
            files,
            scope: None,
            previous: BTreeMap::new(),
            replace: BTreeSet::new(),
            untouched: BTreeSet::new(),
            mode,
            message: message.to_owned(),
            all_or_nothing: false,
        }
    }
}

/// A repository opened for writing: its git repository, its work tree and its lock.
pub struct Workspace {
    dir: PathBuf,
    repo: git2::Repository,
    tree: RepoTree,
    _lock: RepoLock,
}

impl std::fmt::Debug for Workspace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workspace")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl Workspace {
    /// Open the repository at `dir` for `command`, creating the directory and the git
    /// repository (with `branch` as its first branch) when missing, and take its lock.
    pub fn create(dir: &Path, branch: &str, command: &str) -> Result<Self> {
        check_dir(dir)?;
        std::fs::create_dir_all(dir)
            .map_err(|err| Error::failed(format!("cannot create {}: {err}", dir.display())))?;
        let repo = crate::git::open_or_init(dir, branch)?;
        Self::with_repo(dir, repo, command)
    }

    /// Open the existing repository at `dir` for `command` and take its lock.
    pub fn open(dir: &Path, command: &str) -> Result<Self> {
        check_dir(dir)?;
        let repo = git2::Repository::open(dir).map_err(|_| {
            Error::usage(format!("{} is not a git repository", dir.display())).with_hint(
                "run this in your homelab repository (or pass --dir), or create one with `homelab init`",
            )
        })?;
        Self::with_repo(dir, repo, command)
    }

    fn with_repo(dir: &Path, repo: git2::Repository, command: &str) -> Result<Self> {
        let lock = RepoLock::acquire(repo.path(), command)?;
        let tree = RepoTree::open(dir)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            repo,
            tree,
            _lock: lock,
        })
    }

    /// The repository directory, as given.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The work tree, reached without following links.
    pub fn tree(&self) -> &RepoTree {
        &self.tree
    }

    /// The git repository.
    pub fn repo(&self) -> &git2::Repository {
        &self.repo
    }

    /// Roll back an apply that was interrupted before its commit, if there is one. Returns
    /// whether anything was rolled back. [`Workspace::apply`] calls this first.
    pub fn recover(&self) -> Result<bool> {
        journal::recover_repo(&self.repo, &self.tree)
    }

    /// Apply `change` (see the module documentation). Conflicts are not errors: they are in
    /// the [`Report`] (see [`Report::has_conflicts`]), and the command maps them to exit 1.
    /// Errors are reserved for what stops the apply (unreadable files, links, invalid paths,
    /// a corrupt state file, git failures); nothing is changed then.
    pub fn apply(&self, change: &Change) -> Result<Report> {
        check_change(change)?;
        let recovered = if change.mode == Mode::Diff {
            if journal::interrupted(&self.repo) {
                return Err(Error::failed("an earlier render was interrupted")
                    .with_hint("run `homelab render` (without --diff) to roll it back first"));
            }
            false
        } else {
            self.recover()?
        };
        let old_state = load_state(&self.tree)?;
        let plan = decide::plan(Some(&self.tree), Some(&self.repo), &old_state, change)?;

        let mut report = Report {
            mode: change.mode,
            files: plan.reports,
            commit: None,
            recovered,
            diff: String::new(),
        };
        match change.mode {
            Mode::Diff => {
                report.diff = diff_text(&plan.diffs);
                return Ok(report);
            }
            Mode::Force => report.diff = diff_text(&plan.diffs),
            _ => {}
        }
        if change.all_or_nothing && report.has_conflicts() {
            return Ok(report);
        }

        let mut ops = plan.ops;
        let state_text = plan.state.to_text()?;
        if self.tree.read(STATE_FILE)?.as_deref() != Some(state_text.as_bytes()) {
            ops.push(decide::Op {
                path: STATE_FILE.to_owned(),
                content: Some(state_text.into_bytes()),
            });
        }
        // The commit: every file homelab decided, as it is on disk after the apply.
        let commit = if report.has_conflicts() {
            None
        } else {
            let written: BTreeMap<&str, &Option<Vec<u8>>> = ops
                .iter()
                .map(|op| (op.path.as_str(), &op.content))
                .collect();
            let mut set = Vec::new();
            let decided = report
                .files
                .iter()
                .filter(|f| f.outcome.committed())
                .map(|f| f.path.as_str())
                .chain(std::iter::once(STATE_FILE));
            for path in decided {
                let content = match written.get(path) {
                    Some(content) => (*content).clone(),
                    None => self.tree.read(path)?,
                };
                set.push((path.to_owned(), content));
            }
            refuse_credentials(&set)?;
            Some(set)
        };
        report.commit = journal::execute(
            &self.repo,
            &self.tree,
            &ops,
            &plan.state,
            &plan.renderings,
            commit.as_ref().map(|set| (set, change.message.as_str())),
        )?;
        let written: BTreeSet<&str> = ops.iter().map(|op| op.path.as_str()).collect();
        for file in &mut report.files {
            file.written = written.contains(file.path.as_str());
        }
        Ok(report)
    }
}

/// What `change` would do to the repository at `dir`, with its diff; writes nothing.
/// Works on a directory that is not a repository yet (then everything is created).
pub fn preview(dir: &Path, change: &Change) -> Result<Report> {
    let mut change = change.clone();
    change.mode = Mode::Diff;
    if git2::Repository::open(dir).is_ok() {
        return Workspace::open(dir, "render --diff")?.apply(&change);
    }
    check_change(&change)?;
    let tree = if dir.is_dir() {
        Some(RepoTree::open(dir)?)
    } else {
        None
    };
    let old = match &tree {
        Some(tree) => load_state(tree)?,
        None => State::default(),
    };
    let plan = decide::plan(tree.as_ref(), None, &old, &change)?;
    Ok(Report {
        mode: Mode::Diff,
        files: plan.reports,
        commit: None,
        recovered: false,
        diff: diff_text(&plan.diffs),
    })
}

/// Apply the whole rendering `new` to the repository at `dir` (created with `main` as its
/// first branch when missing) with `mode`, committing with `message`.
pub fn apply(
    dir: &Path,
    new: &BTreeMap<String, String>,
    mode: Mode,
    message: &str,
) -> Result<Report> {
    let change = Change::whole(new.clone(), mode, message);
    if mode == Mode::Diff {
        return preview(dir, &change);
    }
    Workspace::create(dir, "main", "render")?.apply(&change)
}

/// Roll back an interrupted apply in the repository at `dir`, if there is one.
pub fn recover(dir: &Path) -> Result<bool> {
    match git2::Repository::open(dir) {
        Ok(_) => Workspace::open(dir, "render")?.recover(),
        Err(_) => Ok(false),
    }
}

/// `--dir` must be a directory (or not exist yet).
pub fn check_dir(dir: &Path) -> Result<()> {
    if dir.exists() && !dir.is_dir() {
        return Err(Error::usage(format!(
            "--dir {}: it is a file, not a directory",
            dir.display()
        ))
        .with_hint("--dir names the repository directory (the one holding homelab.yaml)"));
    }
    Ok(())
}

/// Every path of a change must be one homelab may generate.
fn check_change(change: &Change) -> Result<()> {
    let scoped = change.scope.iter().flatten();
    for path in change
        .files
        .keys()
        .chain(scoped)
        .chain(change.previous.keys())
    {
        check_path(path).map_err(|why| {
            Error::failed(format!(
                "the rendering contains an invalid path {path:?}: {why}"
            ))
        })?;
    }
    Ok(())
}

/// The state file, with every path it records checked like a rendering's.
fn load_state(tree: &RepoTree) -> Result<State> {
    let state = match tree.read(STATE_FILE)? {
        Some(bytes) => State::parse(&String::from_utf8_lossy(&bytes))?,
        None => State::default(),
    };
    for path in state.files.keys() {
        check_path(path).map_err(|why| {
            Error::usage(format!("{STATE_FILE}: invalid path {path:?}: {why}")).with_hint(format!(
                "restore it from git: `git checkout HEAD -- {STATE_FILE}`"
            ))
        })?;
    }
    Ok(state)
}

/// Why `path` cannot be a generated file, if it cannot.
pub(crate) fn check_path(path: &str) -> std::result::Result<(), &'static str> {
    crate::git::tree::check_relative(path)?;
    let first = path.split('/').next().unwrap_or_default();
    if first == ".homelab" {
        return Err("it is inside .homelab, which homelab manages itself");
    }
    if path.ends_with(TMP_SUFFIX) {
        return Err("it ends like homelab's temporary files");
    }
    Ok(())
}

/// Never commit what looks like a private key or a credential: refuse, naming the file.
fn refuse_credentials(set: &[(String, Option<Vec<u8>>)]) -> Result<()> {
    for (path, content) in set {
        let Some(content) = content else { continue };
        if let Some(what) = credential_in(&String::from_utf8_lossy(content)) {
            return Err(Error::failed(format!(
                "refusing to commit {path}: it looks like {what}"
            ))
            .with_hint(format!(
                "secrets never go into git in plaintext; move {path} out of the repository (or remove the secret from it), then run the command again"
            )));
        }
    }
    Ok(())
}

/// What kind of secret `text` seems to hold, if any.
pub fn credential_in(text: &str) -> Option<&'static str> {
    // The PEM armour is spelled in parts so this source holds no key-shaped line.
    let pem = regex::Regex::new(concat!("-----BEGIN ([A-Z0-9]+ )*", "PRIVATE KEY-----"))
        .expect("constant regex");
    if pem.is_match(text) {
        return Some("a private key");
    }
    if text.contains(concat!("AGE-SECRET-", "KEY-1")) {
        return Some("an age private key");
    }
    if text.contains(concat!("PuTTY-User-", "Key-File-")) {
        return Some("a private key");
    }
    let aws = regex::Regex::new(r"(?im)^\s*aws_secret_access_key\s*[=:]").expect("constant regex");
    if aws.is_match(text) {
        return Some("cloud credentials");
    }
    None
}

/// The unified diff of `diffs`, each file preceded by its note (`# path: note`) if any.
fn diff_text(diffs: &[decide::Diff]) -> String {
    let formatter = diffy::PatchFormatter::new();
    let mut out = String::new();
    for (path, from, to, note) in diffs {
        let mut opts = diffy::DiffOptions::new();
        opts.set_original_filename(format!("a/{path}"))
            .set_modified_filename(format!("b/{path}"));
        let patch = opts.create_patch(from, to);
        if let Some(note) = note {
            out.push_str(&format!("# {path}: {note}\n"));
        }
        out.push_str(&formatter.fmt_patch(&patch).to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_must_stay_inside_the_repository() {
        assert!(check_path("clusters/home/apps.yaml").is_ok());
        assert!(check_path(".gitignore").is_ok());
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../b",
            "a//b",
            "./a",
            ".git/config",
            ".homelab/state.yaml",
            "a\\b",
            "a/.b.yaml.homelab-tmp",
        ] {
            assert!(check_path(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn credentials_are_recognised() {
        let pem = format!(
            "{}\nabc\n",
            concat!("-----BEGIN OPENSSH ", "PRIVATE KEY-----")
        );
        assert_eq!(credential_in(&pem), Some("a private key"));
        let rsa = concat!("-----BEGIN ", "PRIVATE KEY-----");
        assert!(credential_in(rsa).is_some());
        assert!(credential_in(concat!("# x\nAGE-SECRET-", "KEY-1QQQ\n")).is_some());
        assert!(credential_in("[default]\naws_secret_access_key = x\n").is_some());
        assert!(credential_in("-----BEGIN AGE ENCRYPTED FILE-----\n").is_none());
        assert!(credential_in("password: ENC[AES256_GCM,data:x]\n").is_none());
    }
}
