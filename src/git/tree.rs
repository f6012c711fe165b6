//! The files of a repository, reached without ever following a symbolic link.
//!
//! A repository is untrusted input: a cloned one may hold a link `clusters -> /etc`, and a
//! state file or journal naming `clusters/x`, so that writing or deleting `clusters/x`
//! would touch a file outside the repository. Every path homelab writes, deletes or reads
//! as its own output goes through [`RepoTree`], which holds the repository root open and
//! walks each path one component at a time with `openat(O_NOFOLLOW)` (the portable form of
//! `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`), so a link anywhere between the root
//! and the file is refused with a message naming it, and no file is created through a
//! final link (`O_CREAT | O_EXCL | O_NOFOLLOW`). Only the root itself, which the user
//! named with `--dir`, may be reached through links.

use std::fs::File;
use std::io::{Read as _, Write as _};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, Mode, OFlags};
use rustix::io::Errno;

use crate::error::{Error, Result};

/// Suffix of the temporary files staged beside their targets.
pub const TMP_SUFFIX: &str = ".homelab-tmp";

/// A repository's work tree, opened once; every path is relative with `/` separators.
#[derive(Debug)]
pub struct RepoTree {
    root: PathBuf,
    fd: OwnedFd,
}

/// Why a relative path cannot name a file inside the repository, if it cannot.
pub fn check_relative(path: &str) -> std::result::Result<(), &'static str> {
    if path.is_empty() {
        return Err("it is empty");
    }
    if path.starts_with('/') || path.contains('\\') || path.contains('\0') {
        return Err("it must be relative, with '/' separators");
    }
    if path
        .split('/')
        .any(|part| part.is_empty() || part == "." || part == "..")
    {
        return Err("it has an empty, '.' or '..' component");
    }
    if path
        .split('/')
        .any(|part| part.eq_ignore_ascii_case(".git"))
    {
        return Err("it is inside .git, which only git writes");
    }
    Ok(())
}

impl RepoTree {
    /// Open the repository root (which must exist and be a directory).
    pub fn open(root: &Path) -> Result<Self> {
        let fd = rustix::fs::open(
            root,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|err| match err {
            Errno::NOTDIR => Error::usage(format!("{} is not a directory", root.display()))
                .with_hint("--dir must name the repository directory"),
            err => Error::failed(format!("cannot open {}: {err}", root.display())),
        })?;
        Ok(Self {
            root: root.to_path_buf(),
            fd,
        })
    }

    /// The root as the user named it.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The content of `path`, or `None` when it (or a directory above it) does not exist.
    /// A link or a directory where a file is expected is an error.
    pub fn read(&self, path: &str) -> Result<Option<Vec<u8>>> {
        let Some((dir, name)) = self.parent(path, false)? else {
            return Ok(None);
        };
        let fd = match rustix::fs::openat(
            &dir,
            name,
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            Err(Errno::NOENT) => return Ok(None),
            Err(err) => return Err(self.refusal(&dir, name, path, path, err)),
        };
        let mut file = File::from(fd);
        let meta = file
            .metadata()
            .map_err(|err| Error::failed(format!("cannot read {path}: {err}")))?;
        if !meta.is_file() {
            return Err(not_a_file(path));
        }
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(|err| Error::failed(format!("cannot read {path}: {err}")))?;
        Ok(Some(bytes))
    }

    /// Whether `path` exists as a regular file (links and directories are errors).
    pub fn exists(&self, path: &str) -> Result<bool> {
        Ok(self.read(path)?.is_some())
    }

    /// Write `bytes` to the temporary file beside `path` (creating the directories above
    /// it), fsynced, with `path`'s permissions when it exists. [`RepoTree::rename_staged`]
    /// then puts it in place.
    pub fn stage(&self, path: &str, bytes: &[u8]) -> Result<()> {
        let (dir, name) = self.parent(path, true)?.expect("created");
        let tmp = tmp_name(name);
        match rustix::fs::unlinkat(&dir, tmp.as_str(), AtFlags::empty()) {
            Ok(()) | Err(Errno::NOENT) => {}
            Err(err) => return Err(io_error("remove", &tmp_path(path), err)),
        }
        let existing = rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW).ok();
        let existing_mode = match existing {
            None => None,
            Some(st)
                if rustix::fs::FileType::from_raw_mode(st.st_mode)
                    == rustix::fs::FileType::RegularFile =>
            {
                Some(Mode::from_raw_mode(st.st_mode) & Mode::from_raw_mode(0o7777))
            }
            // Never replace a link or a directory: refuse, naming it.
            Some(_) => return Err(self.refusal(&dir, name, path, path, Errno::EXIST)),
        };
        let fd = rustix::fs::openat(
            &dir,
            tmp.as_str(),
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o666),
        )
        .map_err(|err| io_error("create", &tmp_path(path), err))?;
        if let Some(mode) = existing_mode {
            rustix::fs::fchmod(&fd, mode).map_err(|err| io_error("write", &tmp_path(path), err))?;
        }
        let mut file = File::from(fd);
        file.write_all(bytes)
            .and_then(|()| file.sync_all())
            .map_err(|err| Error::failed(format!("cannot write {}: {err}", tmp_path(path))))?;
        Ok(())
    }

    /// Put the file staged for `path` in place (atomically replacing the old one).
    pub fn rename_staged(&self, path: &str) -> Result<()> {
        let (dir, name) = self
            .parent(path, false)?
            .ok_or_else(|| Error::failed(format!("cannot write {path}: its directory vanished")))?;
        rustix::fs::renameat(&dir, tmp_name(name).as_str(), &dir, name)
            .map_err(|err| io_error("write", path, err))
    }

    /// Remove the temporary file of `path`, if any (a crash may leave one behind).
    pub fn discard_staged(&self, path: &str) {
        if let Ok(Some((dir, name))) = self.parent(path, false) {
            let _ = rustix::fs::unlinkat(&dir, tmp_name(name).as_str(), AtFlags::empty());
        }
    }

    /// Write `bytes` to `path` durably: staged, renamed, directory fsynced.
    pub fn write_atomic(&self, path: &str, bytes: &[u8]) -> Result<()> {
        self.stage(path, bytes)?;
        self.rename_staged(path)?;
        self.sync_parent(path);
        Ok(())
    }

    /// Delete the file `path`; `Ok(false)` when it did not exist.
    pub fn remove(&self, path: &str) -> Result<bool> {
        let Some((dir, name)) = self.parent(path, false)? else {
            return Ok(false);
        };
        match rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW) {
            Err(Errno::NOENT) => return Ok(false),
            Err(err) => return Err(io_error("remove", path, err)),
            Ok(st) => {
                if rustix::fs::FileType::from_raw_mode(st.st_mode)
                    != rustix::fs::FileType::RegularFile
                {
                    return Err(not_a_file(path));
                }
            }
        }
        match rustix::fs::unlinkat(&dir, name, AtFlags::empty()) {
            Ok(()) => Ok(true),
            Err(Errno::NOENT) => Ok(false),
            Err(err) => Err(io_error("remove", path, err)),
        }
    }

    /// Remove the directories above `path` that are now empty, up to (not including) the root.
    pub fn remove_empty_parents(&self, path: &str) {
        let parts: Vec<&str> = path.split('/').collect();
        for end in (1..parts.len()).rev() {
            let dir_path = parts[..end].join("/");
            let Ok(Some((parent, name))) = self.parent(&dir_path, false) else {
                return;
            };
            if rustix::fs::unlinkat(&parent, name, AtFlags::REMOVEDIR).is_err() {
                return;
            }
        }
    }

    /// Make renames in `path`'s directory durable. Best effort: not every filesystem can.
    pub fn sync_parent(&self, path: &str) {
        if let Ok(Some((dir, _))) = self.parent(path, false) {
            let _ = rustix::fs::fsync(&dir);
        }
    }

    /// The open directory holding `path` and `path`'s last component. `None` when a
    /// directory on the way is missing and `create` is false.
    fn parent<'p>(&self, path: &'p str, create: bool) -> Result<Option<(OwnedFd, &'p str)>> {
        check_relative(path).map_err(|why| {
            Error::failed(format!("refusing the path {path:?}: {why}"))
                .with_hint("homelab only writes inside the repository")
        })?;
        let (dirs, name) = match path.rsplit_once('/') {
            Some((dirs, name)) => (Some(dirs), name),
            None => (None, path),
        };
        let mut current = rustix::fs::openat(
            &self.fd,
            ".",
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|err| Error::failed(format!("cannot open {}: {err}", self.root.display())))?;
        let mut walked = String::new();
        for part in dirs.into_iter().flat_map(|d| d.split('/')) {
            if !walked.is_empty() {
                walked.push('/');
            }
            walked.push_str(part);
            let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
            let next = match rustix::fs::openat(&current, part, flags, Mode::empty()) {
                Ok(fd) => fd,
                Err(Errno::NOENT) if !create => return Ok(None),
                Err(Errno::NOENT) => {
                    match rustix::fs::mkdirat(&current, part, Mode::from_raw_mode(0o777)) {
                        Ok(()) | Err(Errno::EXIST) => {}
                        Err(err) => return Err(io_error("create", &walked, err)),
                    }
                    rustix::fs::openat(&current, part, flags, Mode::empty())
                        .map_err(|err| self.refusal(&current, part, &walked, path, err))?
                }
                Err(err) => return Err(self.refusal(&current, part, &walked, path, err)),
            };
            current = next;
        }
        Ok(Some((current, name)))
    }

    /// The error for a component that could not be opened: a link, a file where a
    /// directory is needed, or an I/O error.
    fn refusal(&self, dir: &OwnedFd, name: &str, walked: &str, path: &str, err: Errno) -> Error {
        let kind = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)
            .ok()
            .map(|st| rustix::fs::FileType::from_raw_mode(st.st_mode));
        match kind {
            Some(rustix::fs::FileType::Symlink) => {
                let target = rustix::fs::readlinkat(dir, name, Vec::new())
                    .map(|t| format!(" (to {})", t.to_string_lossy()))
                    .unwrap_or_default();
                let what = if walked == path {
                    format!("{path} is a symbolic link{target}")
                } else {
                    format!("{walked} is a symbolic link{target}, on the way to {path}")
                };
                Error::failed(format!(
                    "refusing {what}: homelab never reads or writes through links in the repository"
                ))
                .with_hint(format!(
                    "replace the link {walked} with a real {} (or remove it), then run the command again",
                    if walked == path { "file" } else { "directory" }
                ))
            }
            Some(rustix::fs::FileType::Directory) if walked == path => not_a_file(path),
            Some(_) if walked != path => Error::failed(format!(
                "cannot write {path}: {walked} is a file, not a directory"
            ))
            .with_hint(format!(
                "move {walked} out of the way, then run the command again"
            )),
            _ => io_error("open", walked, err),
        }
    }
}

fn tmp_name(name: &str) -> String {
    format!(".{name}{TMP_SUFFIX}")
}

fn tmp_path(path: &str) -> String {
    match path.rsplit_once('/') {
        Some((dir, name)) => format!("{dir}/{}", tmp_name(name)),
        None => tmp_name(path),
    }
}

fn not_a_file(path: &str) -> Error {
    Error::failed(format!(
        "cannot write {path}: it is a directory or a special file, not a regular file"
    ))
    .with_hint(format!(
        "move {path} out of the way, then run the command again"
    ))
}

fn io_error(what: &str, path: &str, err: Errno) -> Error {
    Error::failed(format!(
        "cannot {what} {path}: {}",
        std::io::Error::from(err)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_only() {
        assert!(check_relative("a/b.yaml").is_ok());
        assert!(check_relative(".gitignore").is_ok());
        for bad in [
            "",
            "/a",
            "a/../b",
            "..",
            "a//b",
            "./a",
            ".git/index",
            "a/.GIT/x",
            "a\\b",
        ] {
            assert!(check_relative(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn links_anywhere_on_the_way_are_refused() {
        let outside = tempfile::tempdir().expect("tmp");
        let repo = tempfile::tempdir().expect("tmp");
        std::fs::write(outside.path().join("victim"), "precious").expect("write");
        std::os::unix::fs::symlink(outside.path(), repo.path().join("link")).expect("link");
        std::os::unix::fs::symlink(outside.path().join("victim"), repo.path().join("file"))
            .expect("link");
        let tree = RepoTree::open(repo.path()).expect("open");
        for path in ["link/victim", "link/new/x"] {
            let err = tree.write_atomic(path, b"x").expect_err(path);
            assert!(
                err.message.contains("link is a symbolic link"),
                "{}",
                err.message
            );
            assert!(tree.read(path).is_err());
            assert!(tree.remove(path).is_err());
        }
        let err = tree.write_atomic("file", b"x").expect_err("final link");
        assert!(
            err.message.contains("file is a symbolic link"),
            "{}",
            err.message
        );
        assert!(tree.read("file").is_err());
        assert!(tree.remove("file").is_err());
        assert_eq!(
            std::fs::read_to_string(outside.path().join("victim")).expect("read"),
            "precious"
        );
        assert_eq!(std::fs::read_dir(outside.path()).expect("ls").count(), 1);
    }

    #[test]
    fn writes_create_directories_and_removals_prune_them() {
        let repo = tempfile::tempdir().expect("tmp");
        let tree = RepoTree::open(repo.path()).expect("open");
        tree.write_atomic("a/b/c.yaml", b"one").expect("write");
        assert_eq!(
            tree.read("a/b/c.yaml").expect("read"),
            Some(b"one".to_vec())
        );
        assert_eq!(tree.read("a/missing/c.yaml").expect("read"), None);
        assert!(tree.remove("a/b/c.yaml").expect("remove"));
        tree.remove_empty_parents("a/b/c.yaml");
        assert!(!repo.path().join("a").exists());
        std::fs::write(repo.path().join("f"), "x").expect("write");
        let err = tree
            .write_atomic("f/x", b"x")
            .expect_err("parent is a file");
        assert!(err.message.contains("f is a file"), "{}", err.message);
    }
}
