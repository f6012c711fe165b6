//! One writer at a time: the repository lock every command that changes the repository
//! takes first.
//!
//! Two `homelab render` runs at once used to roll back each other's half-done work and commit
//! each other's temporary files. The lock is `flock(2)` on `.git/homelab.lock`, held for the
//! whole command: the kernel releases it when the process ends, however it ends, so a
//! killed run never leaves a lock behind that blocks the next one (the file itself stays
//! and only names the last holder). While it is held, other commands stop within a moment
//! with a message naming the holder.

use std::fs::File;
use std::io::{Read as _, Seek as _, Write as _};
use std::path::{Path, PathBuf};

use rustix::fs::{FlockOperation, Mode, OFlags};
use rustix::io::Errno;

use crate::error::{Error, Result};

/// The lock file, in the git directory (never committed).
pub const LOCK_FILE: &str = "homelab.lock";

/// The repository lock, released when dropped.
#[derive(Debug)]
pub struct RepoLock {
    file: Option<File>,
    path: PathBuf,
}

impl RepoLock {
    /// Take the lock of the repository whose git directory is `git_dir`, for `command`
    /// (named in the message another command shows while it waits).
    pub fn acquire(git_dir: &Path, command: &str) -> Result<Self> {
        let path = git_dir.join(LOCK_FILE);
        let fd = rustix::fs::open(
            &path,
            OFlags::RDWR | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o644),
        )
        .map_err(|err| {
            Error::failed(format!(
                "cannot open the repository lock {}: {}",
                path.display(),
                std::io::Error::from(err)
            ))
        })?;
        let mut file = File::from(fd);
        match lock_briefly(&file) {
            Ok(()) => {}
            Err(Errno::WOULDBLOCK) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                return Err(held(&holder));
            }
            // A filesystem without locks (some network mounts): go on unprotected, as git does.
            Err(Errno::NOLCK | Errno::NOSYS | Errno::OPNOTSUPP) => {
                crate::feedback::note(&format!(
                    "note: this filesystem does not support locks; make sure no other homelab command runs in {} at the same time",
                    git_dir.display()
                ));
                return Ok(Self { file: None, path });
            }
            Err(err) => {
                return Err(Error::failed(format!(
                    "cannot lock {}: {}",
                    path.display(),
                    std::io::Error::from(err)
                )));
            }
        }
        // Whoever held it before is gone (the kernel released their lock): name ourselves.
        let holder = format!(
            "pid {}\ncommand homelab {command}\nsince {}\n",
            std::process::id(),
            crate::secrets::rfc3339_now()
        );
        let _ = file
            .set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| file.write_all(holder.as_bytes()));
        Ok(Self {
            file: Some(file),
            path,
        })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for RepoLock {
    fn drop(&mut self) {
        // The file stays (removing it would let two processes lock two different inodes);
        // closing it releases the lock.
        if let Some(file) = self.file.take() {
            let _ = file.set_len(0);
        }
    }
}

/// How long a command waits for a lock that is held before it says so. A lock that was just
/// released can still be held for a moment by a child process forked in between (it shares
/// the open file until it runs its program); another command's lock lasts seconds, not this.
const GRACE: std::time::Duration = std::time::Duration::from_millis(1500);

/// Take the lock, retrying for [`GRACE`] while it is held.
fn lock_briefly(file: &File) -> std::result::Result<(), Errno> {
    let until = std::time::Instant::now() + GRACE;
    loop {
        match rustix::fs::flock(file, FlockOperation::NonBlockingLockExclusive) {
            Err(Errno::WOULDBLOCK) if std::time::Instant::now() < until => {
                std::thread::sleep(std::time::Duration::from_millis(25));
            }
            other => return other,
        }
    }
}

/// The error shown while another command holds the lock.
fn held(holder: &str) -> Error {
    let field = |key: &str| {
        holder
            .lines()
            .find_map(|l| l.strip_prefix(key).map(|v| v.trim().to_owned()))
    };
    let who = match (field("command "), field("pid ")) {
        (Some(command), Some(pid)) => {
            let since = field("since ")
                .map(|s| format!(", since {s}"))
                .unwrap_or_default();
            format!("`{command}` (pid {pid}{since})")
        }
        _ => "another homelab command".to_owned(),
    };
    Error::failed(format!(
        "the repository is being changed by {who}: one homelab command at a time"
    ))
    .with_hint("wait for it to finish, then run this command again")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_naming_the_holder_and_freed_on_drop() {
        let dir = tempfile::tempdir().expect("tmp");
        let first = RepoLock::acquire(dir.path(), "render").expect("first");
        let err = RepoLock::acquire(dir.path(), "add-app").expect_err("held");
        assert!(
            err.message.contains("`homelab render` (pid ")
                && err.message.contains(&std::process::id().to_string()),
            "{}",
            err.message
        );
        assert_eq!(err.exit_code(), 1);
        drop(first);
        RepoLock::acquire(dir.path(), "add-app").expect("free again");
    }

    #[test]
    fn a_lock_file_left_by_a_dead_process_does_not_block() {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::write(
            dir.path().join(LOCK_FILE),
            "pid 999999999\ncommand homelab render\nsince 2020-01-01T00:00:00Z\n",
        )
        .expect("write");
        let lock = RepoLock::acquire(dir.path(), "push").expect("stale file is free");
        let text = std::fs::read_to_string(lock.path()).expect("read");
        assert!(text.contains("command homelab push"), "{text}");
    }
}
