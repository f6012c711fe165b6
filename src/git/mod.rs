//! The homelab repository in git, through libgit2 (no `git` binary needed at run time):
//! open or create it, commit the tool's changes, and push them to `git.url` over SSH, HTTPS,
//! git:// or a local path; its work tree is reached only through [`tree::RepoTree`].

mod credentials;
pub mod hostkeys;
pub mod probe;
mod push;
pub mod tree;

pub use credentials::{ENV_GIT_TOKEN, ENV_SSH_PASSPHRASE};
pub use push::{
    PushOptions, PushOutcome, REMOTE, SyncStatus, head_commit, parse_url, push, remote_status,
};

use std::path::Path;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use crate::error::{Context as _, Error, Result};
use git2::{IndexAddOption, Repository, RepositoryInitOptions, Signature};

/// Make libgit2 give up connecting, and waiting for a server's next bytes, after `timeout`;
/// by default its sockets wait forever. Its SSH transport takes the same value as libssh2's
/// session timeout. The setting is process-wide and read when a connection is opened.
pub fn set_socket_timeouts(timeout: Duration) {
    static CURRENT: Mutex<Option<Duration>> = Mutex::new(None);
    let mut current = CURRENT.lock().unwrap_or_else(PoisonError::into_inner);
    if *current == Some(timeout) {
        return;
    }
    let millis = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
    // SAFETY: git2 marks these unsafe because they write two plain C ints that libgit2 reads
    // without a lock when it opens a connection. Writes are serialised by CURRENT, happen
    // only when the value changes (once per process in the binary: each command has one
    // timeout, set before its first connection), and an int store cannot leave libgit2
    // with a value it cannot use. No safe API exists for these options.
    #[allow(unsafe_code)]
    let set = unsafe {
        git2::opts::set_server_connect_timeout_in_milliseconds(millis)
            .and_then(|()| git2::opts::set_server_timeout_in_milliseconds(millis))
    };
    if set.is_ok() {
        *current = Some(timeout);
    }
}

/// Open the repository at `dir`, or create it with `branch` as its initial branch.
pub fn open_or_init(dir: &Path, branch: &str) -> Result<Repository> {
    match Repository::open(dir) {
        Ok(repo) => Ok(repo),
        Err(_) => {
            let mut opts = RepositoryInitOptions::new();
            opts.initial_head(branch);
            Repository::init_opts(dir, &opts)
                .with_context(|| format!("cannot create a git repository in {}", dir.display()))
        }
    }
}

/// The signature for the tool's commits: the user's git identity when configured, so the
/// history shows who ran the tool, else a neutral one.
fn signature(repo: &Repository) -> Result<Signature<'static>> {
    match repo.signature() {
        Ok(sig) => Ok(sig.to_owned()),
        Err(_) => Ok(Signature::now("homelab", "homelab@localhost")?),
    }
}

/// Stage every change under the work tree (additions, edits and deletions) and commit it.
/// Returns `None`, and commits nothing, when the tree is unchanged since HEAD. The commands
/// never sweep the work tree like this (they commit exactly what they wrote, with
/// [`commit_paths`]); tests use it to set up repositories.
pub fn commit_all(repo: &Repository, message: &str) -> Result<Option<git2::Oid>> {
    let mut index = repo.index()?;
    index.add_all(["*"].iter(), IndexAddOption::DEFAULT, None)?;
    index.update_all(["*"].iter(), None)?;
    index.write()?;
    let tree_id = index.write_tree()?;
    let parent = match repo.head() {
        Ok(head) => Some(head.peel_to_commit()?),
        Err(_) => None,
    };
    if let Some(parent) = &parent
        && parent.tree_id() == tree_id
    {
        return Ok(None);
    }
    let tree = repo.find_tree(tree_id)?;
    let sig = signature(repo)?;
    let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
    let oid = repo.commit(Some("HEAD"), &sig, &sig, message, &tree, &parents)?;
    Ok(Some(oid))
}

/// Commit exactly `changes` on top of HEAD: each path with its new content, or deleted
/// (`None`). Nothing else in the work tree or the index goes into the commit (the user's
/// unrelated edits, staged or not, stay as they are); the index entries of these paths are
/// updated to match, so `git status` shows them clean. Returns `None`, and commits nothing,
/// when HEAD already holds exactly this content.
pub fn commit_paths(
    repo: &Repository,
    changes: &[(String, Option<Vec<u8>>)],
    message: &str,
) -> crate::error::Result<Option<git2::Oid>> {
    let git = |err: git2::Error| Error::failed(format!("git: {}", err.message()));
    let parent = match repo.head() {
        Ok(head) => Some(head.peel_to_commit().map_err(git)?),
        Err(_) => None,
    };
    let base = match &parent {
        Some(commit) => commit.tree().map_err(git)?,
        None => {
            let empty = repo
                .treebuilder(None)
                .and_then(|b| b.write())
                .map_err(git)?;
            repo.find_tree(empty).map_err(git)?
        }
    };
    let mut update = git2::build::TreeUpdateBuilder::new();
    let mut index_entries = Vec::new();
    let mut changed = false;
    for (path, content) in changes {
        let existing = base.get_path(Path::new(path)).ok();
        match content {
            Some(bytes) => {
                let id = git2::Oid::hash_object(git2::ObjectType::Blob, bytes).map_err(git)?;
                // Keep an executable bit the user set; generated files are plain.
                let mode = match existing.as_ref().map(git2::TreeEntry::filemode) {
                    Some(m) if m == i32::from(git2::FileMode::BlobExecutable) => {
                        git2::FileMode::BlobExecutable
                    }
                    _ => git2::FileMode::Blob,
                };
                index_entries.push((path.as_str(), Some((bytes.as_slice(), mode))));
                let same = existing
                    .as_ref()
                    .is_some_and(|e| e.id() == id && e.filemode() == i32::from(mode));
                if !same {
                    repo.blob(bytes).map_err(git)?;
                    update.upsert(path.as_str(), id, mode);
                    changed = true;
                }
            }
            None => {
                index_entries.push((path.as_str(), None));
                if existing.is_some() {
                    update.remove(path.as_str());
                    changed = true;
                }
            }
        }
    }
    let mut index = repo.index().map_err(git)?;
    for (path, entry) in &index_entries {
        match entry {
            Some((bytes, mode)) => {
                let entry = git2::IndexEntry {
                    ctime: git2::IndexTime::new(0, 0),
                    mtime: git2::IndexTime::new(0, 0),
                    dev: 0,
                    ino: 0,
                    mode: u32::from(*mode),
                    uid: 0,
                    gid: 0,
                    file_size: 0,
                    id: git2::Oid::ZERO_SHA1,
                    flags: 0,
                    flags_extended: 0,
                    path: path.as_bytes().to_vec(),
                };
                index.add_frombuffer(&entry, bytes).map_err(git)?;
            }
            None => {
                let _ = index.remove_path(Path::new(path));
            }
        }
    }
    if !changed {
        // Still bring the index in line: an earlier apply may have left it behind.
        let _ = index.write();
        return Ok(None);
    }
    let tree = update.create_updated(repo, &base).map_err(git)?;
    let tree = repo.find_tree(tree).map_err(git)?;
    if parent.is_none() && tree.is_empty() {
        return Ok(None);
    }
    let sig = signature(repo).context("git")?;
    let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
    let oid = repo
        .commit(Some("HEAD"), &sig, &sig, message, &tree, &parents)
        .map_err(git)?;
    if let Err(err) = index.write() {
        crate::feedback::note(&format!(
            "note: committed {oid}, but the git index could not be updated ({}); `git status` may list the committed files until you run `git reset`",
            err.message()
        ));
    }
    Ok(Some(oid))
}
