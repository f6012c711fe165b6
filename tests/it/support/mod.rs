//! Shared test helpers: where the fixtures are, and a small fluent runner for the binary.

#![allow(dead_code, unused_macros, unused_imports)]

pub mod apiproxy;
pub mod charts;
pub mod cluster;
pub mod envtest;
pub mod gitserver;
pub mod netns;
pub mod network;
pub mod process;
pub mod snapshot;
pub mod sops;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The project root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `${CARGO_TARGET_DIR:-target}`, absolute: where the tools the tests run are built.
pub fn target_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target"));
    if target.is_absolute() {
        target
    } else {
        root().join(target)
    }
}

/// A real tool the tests run, built once by `scripts/<script>` into `<target>/tools/<name>`
/// (never downloaded by a test): `$<env>`, else that file; panics with how to build it.
pub fn tool(name: &str, env: &str, script: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(env) {
        return PathBuf::from(p);
    }
    let bin = target_dir().join("tools").join(name);
    assert!(
        bin.is_file(),
        "the {name} binary is missing at {}: build it once with `scripts/{script}` (needs Go and the Go module proxy), or set {env}",
        bin.display()
    );
    bin
}

// The one fixture loader, shared with the library's unit tests and the benches.
#[path = "../../../src/test_fixtures.rs"]
mod test_fixtures;
pub use test_fixtures::{fixtures_dir, flux_install};

/// The example configuration shipped in the repository.
pub fn example_config() -> PathBuf {
    root().join("examples/homelab.yaml")
}

/// `homelab init` from `examples/homelab.yaml`, pushing and bootstrapping nothing; the
/// caller names the directory and what to expect.
pub fn init_example() -> Homelab {
    homelab()
        .args(["init", "--no-push", "--no-bootstrap", "--config"])
        .arg(example_config())
}

/// The full example: every non-default option (the configuration reference's example).
pub fn full_example_config() -> PathBuf {
    root().join("examples/full.yaml")
}

/// `examples/homelab.yaml`, parsed and validated the way every command loads `homelab.yaml`.
pub fn example() -> homelab::config::Config {
    load_config(&example_config())
}

/// `examples/full.yaml`, parsed and validated the way every command loads `homelab.yaml`.
pub fn full_example() -> homelab::config::Config {
    load_config(&full_example_config())
}

/// A configuration file through the validating parser; a test starting from an invalid
/// example would prove nothing, so it stops here with every problem.
pub fn load_config(path: &Path) -> homelab::config::Config {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    homelab::catalog::parse_config(&text).unwrap_or_else(|d| panic!("{}: {d:?}", path.display()))
}

/// The `XDG_CONFIG_HOME` of the binary under test: the age keys it creates live there.
pub fn config_home() -> PathBuf {
    // Set for test binaries; an example sharing these helpers gets one under the target dir.
    option_env!("CARGO_TARGET_TMPDIR")
        .map_or_else(|| target_dir().join("tmp"), PathBuf::from)
        .join("xdg-config")
}

/// Every blob of every commit reachable from HEAD of the repository at `dir`, as
/// `(commit:path, content)`: what a secret must never be found in.
pub fn history_blobs(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let repo = git2::Repository::open(dir).expect("open the repository");
    let mut revs = repo.revwalk().expect("revwalk");
    revs.push_head().expect("head");
    let mut out = Vec::new();
    for oid in revs {
        let commit = repo.find_commit(oid.expect("oid")).expect("commit");
        let tree = commit.tree().expect("tree");
        tree.walk(git2::TreeWalkMode::PreOrder, |root, entry| {
            if let Ok(blob) = entry.to_object(&repo).and_then(|o| o.peel_to_blob()) {
                let name = entry.name().unwrap_or_default();
                out.push((
                    format!("{}:{root}{name}", commit.id()),
                    blob.content().to_vec(),
                ));
            }
            git2::TreeWalkResult::Ok
        })
        .expect("walk");
    }
    out
}

/// Everything a command could change in a repository: every file outside `.git` with its
/// content and modification time, HEAD, the tree it points at, every ref, and the paths
/// `git status` reports. Two equal fingerprints mean a run changed nothing, not even by
/// rewriting a file with the same bytes or moving a ref.
#[derive(PartialEq, Eq)]
pub struct Fingerprint {
    pub files: std::collections::BTreeMap<String, (Vec<u8>, std::time::SystemTime)>,
    pub head: Option<git2::Oid>,
    pub tree: Option<git2::Oid>,
    pub refs: Vec<(String, git2::Oid)>,
    pub status: Vec<String>,
}

/// Files as their size, a hash of their bytes and their time, so a failed comparison shows
/// which paths differ rather than every byte.
impl std::fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use std::hash::{Hash as _, Hasher as _};
        let files: std::collections::BTreeMap<&str, String> = self
            .files
            .iter()
            .map(|(path, (bytes, mtime))| {
                let mut h = std::collections::hash_map::DefaultHasher::new();
                bytes.hash(&mut h);
                let since = mtime
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default();
                (
                    path.as_str(),
                    format!("{} bytes #{:016x} @{since:?}", bytes.len(), h.finish()),
                )
            })
            .collect();
        f.debug_struct("Fingerprint")
            .field("files", &files)
            .field("head", &self.head)
            .field("tree", &self.tree)
            .field("refs", &self.refs)
            .field("status", &self.status)
            .finish()
    }
}

/// The [`Fingerprint`] of the repository at `dir`.
pub fn fingerprint(dir: &Path) -> Fingerprint {
    fn walk(
        root: &Path,
        dir: &Path,
        out: &mut std::collections::BTreeMap<String, (Vec<u8>, std::time::SystemTime)>,
    ) {
        for entry in std::fs::read_dir(dir).expect("read_dir") {
            let path = entry.expect("entry").path();
            let rel = path.strip_prefix(root).expect("prefix");
            if rel == Path::new(".git") {
                continue;
            }
            let meta = std::fs::symlink_metadata(&path).expect("metadata");
            if meta.is_dir() {
                walk(root, &path, out);
            } else {
                let content = std::fs::read(&path).unwrap_or_default();
                let mtime = meta.modified().expect("mtime");
                out.insert(rel.to_string_lossy().into_owned(), (content, mtime));
            }
        }
    }
    let mut files = std::collections::BTreeMap::new();
    walk(dir, dir, &mut files);
    let repo = git2::Repository::open(dir).expect("open the repository");
    let head = repo.head().ok().and_then(|h| h.target());
    let tree = head
        .and_then(|id| repo.find_commit(id).ok())
        .map(|c| c.tree_id());
    let mut refs: Vec<(String, git2::Oid)> = repo
        .references()
        .expect("refs")
        .filter_map(|r| {
            let r = r.ok()?;
            Some((r.name().ok()?.to_owned(), r.target()?))
        })
        .collect();
    refs.sort();
    let mut opts = git2::StatusOptions::new();
    opts.include_untracked(true).recurse_untracked_dirs(true);
    let status = repo
        .statuses(Some(&mut opts))
        .expect("status")
        .iter()
        .map(|e| format!("{:?} {}", e.status(), e.path().unwrap_or_default()))
        .collect();
    Fingerprint {
        files,
        head,
        tree,
        refs,
        status,
    }
}

/// Start building a `homelab` invocation.
pub fn homelab() -> Homelab {
    // Set for test binaries; examples sharing these helpers never run the binary.
    let mut cmd = Command::new(option_env!("CARGO_BIN_EXE_homelab").unwrap_or("homelab"));
    cmd.env("NO_COLOR", "1")
        .env("HOMELAB_FLUX_MANIFESTS", flux_install())
        // Age keys created by init and render go here, never into the real ~/.config.
        .env("XDG_CONFIG_HOME", config_home())
        .env_remove("HOMELAB_AGE_KEY_FILE")
        .env_remove("KUBECONFIG")
        .env_remove("HOMELAB_SSH_KEY")
        .env_remove("HOMELAB_GIT_TOKEN")
        .stdin(Stdio::null());
    Homelab { cmd }
}

/// A fluent wrapper around the `homelab` binary.
#[derive(Debug)]
pub struct Homelab {
    cmd: Command,
}

impl Homelab {
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.cmd.arg(arg);
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.cmd.args(args);
        self
    }

    /// Run in (`--dir`) this repository.
    pub fn dir(mut self, dir: &Path) -> Self {
        self.cmd.arg("--dir").arg(dir);
        self
    }

    pub fn env(mut self, key: &str, value: impl AsRef<OsStr>) -> Self {
        self.cmd.env(key, value);
        self
    }

    pub fn env_remove(mut self, key: &str) -> Self {
        self.cmd.env_remove(key);
        self
    }

    pub fn current_dir(mut self, dir: &Path) -> Self {
        self.cmd.current_dir(dir);
        self
    }

    /// Start in the background, its output going to files that can be read while it runs.
    pub fn spawn(mut self) -> Running {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = |name: &str| std::fs::File::create(dir.path().join(name)).expect("output file");
        self.cmd.stdout(file("stdout")).stderr(file("stderr"));
        let child = self.cmd.spawn().expect("start the homelab binary");
        Running { child, dir }
    }

    /// Run and return the result for assertions.
    pub fn run(mut self) -> Run {
        let output = self.cmd.output().expect("run the homelab binary");
        Run { output }
    }

    /// Run and assert the exit code.
    pub fn expect_code(self, code: i32) -> Run {
        let run = self.run();
        assert_eq!(run.code(), code, "unexpected exit code\n{}", run.describe());
        run
    }

    /// Run and assert success.
    pub fn ok(self) -> Run {
        self.expect_code(0)
    }
}

/// A run in progress (see [`Homelab::spawn`]). Killed if dropped while running.
#[derive(Debug)]
pub struct Running {
    child: std::process::Child,
    dir: tempfile::TempDir,
}

impl Running {
    /// Whether it still runs.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }

    /// What it wrote to stderr so far.
    pub fn stderr_so_far(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr")).unwrap_or_default()
    }

    /// Wait for it to end, at most `limit` (then it is killed and the test fails).
    pub fn finish(mut self, limit: std::time::Duration) -> Run {
        let deadline = std::time::Instant::now() + limit;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            if std::time::Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "still running after {limit:?}; stderr:\n{}",
                    self.stderr_so_far()
                );
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        };
        let read = |name: &str| std::fs::read(self.dir.path().join(name)).unwrap_or_default();
        Run {
            output: Output {
                status,
                stdout: read("stdout"),
                stderr: read("stderr"),
            },
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.is_running() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The outcome of one run.
#[derive(Debug)]
pub struct Run {
    pub output: Output,
}

impl Run {
    pub fn code(&self) -> i32 {
        self.output.status.code().unwrap_or(-1)
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    pub fn describe(&self) -> String {
        format!(
            "--- stdout ---\n{}\n--- stderr ---\n{}",
            self.stdout(),
            self.stderr()
        )
    }

    /// Assert stderr contains `needle`.
    pub fn stderr_has(self, needle: &str) -> Self {
        assert!(
            self.stderr().contains(needle),
            "stderr lacks {needle:?}\n{}",
            self.describe()
        );
        self
    }

    /// Assert stdout contains `needle`.
    pub fn stdout_has(self, needle: &str) -> Self {
        assert!(
            self.stdout().contains(needle),
            "stdout lacks {needle:?}\n{}",
            self.describe()
        );
        self
    }
}
