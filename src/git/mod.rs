//! The homelab repository in git, through libgit2 (no `git` binary needed at run time):
//! open or create it, commit the tool's changes, and push them to `git.url` over SSH, HTTPS,
//! git:// or a local path.

mod credentials;
pub mod hostkeys;
pub mod probe;
mod push;

pub use credentials::{ENV_GIT_TOKEN, ENV_SSH_PASSPHRASE};
pub use push::{
    PushOptions, PushOutcome, REMOTE, RemoteUrl, SyncStatus, head_commit, parse_url, push,
    remote_status,
};

use std::path::Path;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context as _, Result};
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
/// Returns `None`, and commits nothing, when the tree is unchanged since HEAD.
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
