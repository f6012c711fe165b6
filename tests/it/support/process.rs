//! Child processes of tests that never outlive the test process.
//!
//! Why: a test that starts servers (etcd, kube-apiserver, controllers, sshd) must not leave
//! them running when it panics, is interrupted or is killed with SIGKILL, and a `static`
//! server is never dropped at all. So every process runs in its own process group under a
//! small `sh` watchdog that polls the test process and kills its child as soon as the test
//! process is gone. The watchdog can also supervise, as a kubelet does: restart the child
//! with a growing delay when it exits. A janitor does the same for a whole directory of
//! processes and removes the directory once the test process is gone.

#![allow(dead_code)]

use std::ffi::OsString;
use std::fs;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A lock that stays usable after a test panicked while holding it.
pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The watchdog: runs the command in the background and polls the test process; when the
/// test process is gone (or the watchdog is told to stop) the command is killed. With
/// `restart=1` an exited command is started again after 1, 2, 4 … 30 s (back to 1 s after a
/// run of a minute or more), like a kubelet's crash-loop back-off. SIGKILL, not a graceful
/// stop: test data is thrown away anyway. `$1` = test pid, `$2` = restart (0/1), `$3` = file
/// for the current child's pid, the rest = the command line.
const WATCHDOG: &str = r#"
owner=$1; restart=$2; childfile=$3; shift 3
child=
stop() { [ -n "$child" ] && kill -KILL "$child" 2>/dev/null; wait; exit 0; }
trap stop TERM INT HUP
alive() { kill -0 "$owner" 2>/dev/null; }
delay=1
while :; do
  "$@" &
  child=$!
  echo "$child" > "$childfile"
  ticks=0
  while alive && kill -0 "$child" 2>/dev/null; do sleep 0.5; ticks=$((ticks+1)); done
  alive || stop
  wait "$child"; code=$?
  [ "$restart" = 1 ] || exit "$code"
  [ "$ticks" -ge 120 ] && delay=1
  echo "[supervisor] $(basename "$1") exited with status $code; restarting in ${delay}s" >&2
  i=0
  while [ "$i" -lt $((delay * 2)) ]; do alive || stop; sleep 0.5; i=$((i+1)); done
  delay=$((delay * 2)); [ "$delay" -gt 30 ] && delay=30
done
"#;

/// The janitor of a directory of processes: once the test process is gone, kill the process
/// group of every `*.pid` file in the directory and remove it. `$1` = test pid, `$2` = dir.
const JANITOR: &str = r#"
owner=$1; dir=$2
trap 'exit 0' TERM INT HUP
while kill -0 "$owner" 2>/dev/null; do sleep 0.5; done
for f in "$dir"/*.pid; do
  [ -f "$f" ] && kill -KILL -- "-$(cat "$f")" 2>/dev/null
done
rm -rf "$dir"
"#;

/// How to start a process.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Extra environment variables.
    pub env: Vec<(String, OsString)>,
    /// Restart it with back-off when it exits (a supervised service).
    pub restart: bool,
    /// Working directory.
    pub cwd: Option<PathBuf>,
}

/// One process under its watchdog, in its own process group. Its output is appended to
/// `<dir>/<name>.log`; the watchdog's pid (= the group) is in `<dir>/<name>.pid`.
#[derive(Debug)]
pub struct Proc {
    pub name: String,
    child: Child,
    log: PathBuf,
    childfile: PathBuf,
    stopped: bool,
}

impl Proc {
    /// Start `bin args` once (no restart).
    pub fn spawn(dir: &Path, name: &str, bin: &Path, args: &[String]) -> Result<Proc, String> {
        Self::spawn_with(dir, name, bin, args, &Options::default())
    }

    /// Start `bin args` with these options.
    pub fn spawn_with(
        dir: &Path,
        name: &str,
        bin: &Path,
        args: &[String],
        options: &Options,
    ) -> Result<Proc, String> {
        let log = dir.join(format!("{name}.log"));
        let out = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .map_err(|e| format!("open {}: {e}", log.display()))?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        let childfile = dir.join(format!("{name}.child"));
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(WATCHDOG)
            .arg(format!("watchdog {}", dir.display()))
            .arg(std::process::id().to_string())
            .arg(if options.restart { "1" } else { "0" })
            .arg(&childfile)
            .arg(bin)
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0);
        for (key, value) in &options.env {
            cmd.env(key, value);
        }
        if let Some(cwd) = &options.cwd {
            cmd.current_dir(cwd);
        }
        let child = cmd
            .spawn()
            .map_err(|e| format!("start {}: {e}", bin.display()))?;
        let _ = fs::write(dir.join(format!("{name}.pid")), child.id().to_string());
        Ok(Proc {
            name: name.into(),
            child,
            log,
            childfile,
            stopped: false,
        })
    }

    /// Fails with the log tail if the process (its watchdog, for a supervised one) has exited.
    pub fn check_alive(&mut self) -> Result<(), String> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(format!(
                "{} exited ({status}); last log lines:\n{}",
                self.name,
                self.log_tail(30)
            )),
            Err(e) => Err(format!("{}: {e}", self.name)),
        }
    }

    /// Wait until something accepts connections on the loopback `port`; fails with the log
    /// tail when the process exits or `timeout` passes.
    pub fn wait_listening(&mut self, port: u16, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        loop {
            self.check_alive()?;
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{} not listening on {port} after {timeout:?}\n{}",
                    self.name,
                    self.log_tail(30)
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The log file.
    pub fn log(&self) -> &Path {
        &self.log
    }

    /// The last `lines` lines of the log.
    pub fn log_tail(&self, lines: usize) -> String {
        tail(&self.log, lines)
    }

    /// Kill the current child only: a supervised process is started again by its watchdog
    /// (after its back-off delay), as a kubelet restarts a killed container.
    pub fn kill_child(&self) {
        if let Ok(pid) = fs::read_to_string(&self.childfile)
            && let Ok(pid) = pid.trim().parse::<u32>()
        {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }

    /// Kill the whole group (watchdog and child) and reap the watchdog. Like a crash: etcd
    /// keeps its data consistent, and restart tests want exactly that.
    pub fn stop(mut self) {
        self.stopped = true;
        signal_group(self.child.id(), "KILL");
        let _ = self.child.wait();
        // The child belonged to the watchdog; wait until it is really gone so its port is
        // free for a restart.
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline && group_alive(self.child.id()) {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Proc {
    /// A process not stopped explicitly dies with its handle.
    fn drop(&mut self) {
        if !self.stopped {
            signal_group(self.child.id(), "KILL");
            let _ = self.child.wait();
        }
    }
}

/// The last `lines` lines of a text file (empty if unreadable).
pub fn tail(path: &Path, lines: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Start the janitor of `dir` (see [`JANITOR`]); returns its handle, to be stopped with
/// [`Proc::stop`]-like semantics through [`Janitor::dismiss`] when the owner cleans up itself.
pub fn janitor(dir: &Path) -> Result<Janitor, String> {
    let child = Command::new("sh")
        .arg("-c")
        .arg(JANITOR)
        .arg(format!("janitor {}", dir.display()))
        .arg(std::process::id().to_string())
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("start the janitor of {}: {e}", dir.display()))?;
    Ok(Janitor { child })
}

/// A running janitor (see [`janitor`]).
#[derive(Debug)]
pub struct Janitor {
    child: Child,
}

impl Janitor {
    /// The owner cleaned up itself: stop the janitor without letting it do anything.
    pub fn dismiss(mut self) {
        signal_group(self.child.id(), "KILL");
        let _ = self.child.wait();
    }
}

/// Send a signal to a whole process group with the `kill` utility (no `unsafe` libc calls
/// in this crate).
pub fn signal_group(pgid: u32, signal: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg("--")
        .arg(format!("-{pgid}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Whether any process of group `pgid` still runs (finished zombies excluded).
pub fn group_alive(pgid: u32) -> bool {
    let Ok(entries) = fs::read_dir("/proc") else {
        return false;
    };
    entries.flatten().any(|e| {
        fs::read_to_string(e.path().join("stat")).is_ok_and(|stat| {
            // Fields after the command name: state ppid pgrp ...
            let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
            let mut f = rest.split_whitespace();
            let state = f.next();
            let pgrp = f.nth(1);
            // A zombie leader may still have threads tearing down (holding its sockets).
            let running = state != Some("Z")
                || fs::read_dir(e.path().join("task")).is_ok_and(|t| t.count() > 1);
            running && pgrp == Some(pgid.to_string().as_str())
        })
    })
}

/// Whether `pid` still is a watchdog or janitor of `dir` (guards against pid reuse).
pub fn owned_by(pid: u32, dir: &Path) -> bool {
    fs::read(format!("/proc/{pid}/cmdline"))
        .map(|c| String::from_utf8_lossy(&c).contains(&*dir.to_string_lossy()))
        .unwrap_or(false)
}

/// Kill the process groups recorded in `dir/*.pid` that still belong to `dir`.
pub fn kill_recorded(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|x| x == "pid")
            && let Ok(pid) = fs::read_to_string(&path)
            && let Ok(pid) = pid.trim().parse::<u32>()
            && owned_by(pid, dir)
        {
            signal_group(pid, "KILL");
        }
    }
}
