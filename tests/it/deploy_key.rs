//! `bootstrap` checks the deploy key it printed against the git server before it says Flux
//! can pull: a real sshd on loopback serving the repository over git+ssh, a real API server,
//! and the prompt driven through a pseudo-terminal.

use std::path::{Path, PathBuf};
use std::process::Command;

use rexpect::process::WaitStatus;
use rexpect::session::{PtySession, spawn_command};

use crate::support::envtest::ApiServer;
use crate::support::gitserver::{Sshd, bare_repo, git, keygen, public_key, run};
use crate::support::{example_config, homelab};

const ENTER: &str = "\r";

/// A rendered repository whose git.url is a repository served by a loopback sshd that lets
/// in only the keys of its authorized_keys file, and a HOME that knows the sshd's host key.
struct Lab {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    home: PathBuf,
    sshd: Sshd,
    server: ApiServer,
}

impl Lab {
    fn new() -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path().canonicalize().expect("canonical");
        let sshd = Sshd::start(&root.join("sshd"), &[]);
        let bare = bare_repo(&root.join("srv/lab.git"), "main");
        let config = root.join("homelab.yaml");
        let text = std::fs::read_to_string(example_config())
            .expect("example")
            .replace("  url: \"\"", &format!("  url: \"{}\"", sshd.url(&bare)))
            .replace("challenge: dns01", "challenge: selfsigned");
        std::fs::write(&config, text).expect("config");
        let dir = root.join("lab");
        // init makes the repository's age key under HOME, where bootstrap looks for it.
        let home = root.join("home");
        std::fs::create_dir_all(home.join(".ssh")).expect(".ssh");
        homelab()
            .args(["init", "--no-push", "--no-bootstrap", "--config"])
            .arg(&config)
            .dir(&dir)
            .env("HOME", &home)
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("HOMELAB_AGE_KEY_FILE")
            .ok();
        run(git(&dir).arg("push").arg("-q").arg(&bare).arg("main"));
        std::fs::write(home.join(".ssh/known_hosts"), sshd.known_hosts_line())
            .expect("known_hosts");
        Self {
            _tmp: tmp,
            dir,
            home,
            sshd,
            server: ApiServer::start(),
        }
    }

    fn bootstrap(&self) -> crate::support::Homelab {
        homelab()
            .dir(&self.dir)
            .args(["bootstrap", "--no-wait", "--kubeconfig"])
            .arg(self.server.kubeconfig())
            .env("HOME", &self.home)
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("HOMELAB_AGE_KEY_FILE")
    }

    /// `homelab bootstrap` on a terminal.
    fn bootstrap_on_a_terminal(&self, extra: &[&str]) -> PtySession {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_homelab"));
        cmd.arg("--dir")
            .arg(&self.dir)
            .args(["bootstrap", "--no-wait", "--kubeconfig"])
            .arg(self.server.kubeconfig())
            .args(extra)
            .env("NO_COLOR", "1")
            .env("TERM", "xterm")
            .env("HOME", &self.home)
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("HOMELAB_AGE_KEY_FILE")
            .env_remove("KUBECONFIG")
            .env_remove("HOMELAB_SSH_KEY");
        spawn_command(cmd, Some(120_000)).expect("spawn homelab bootstrap in a pty")
    }

    /// Let `public` (an OpenSSH public key line) in.
    fn authorize(&self, public: &str) {
        let mut keys = std::fs::read_to_string(&self.sshd.authorized_keys).expect("read");
        keys.push_str(public.trim());
        keys.push('\n');
        std::fs::write(&self.sshd.authorized_keys, keys).expect("authorize");
    }
}

fn expect(p: &mut PtySession, text: &str) -> String {
    p.exp_string(text)
        .unwrap_or_else(|e| panic!("waiting for {text:?}: {e}"))
}

/// The deploy key bootstrap printed.
fn printed_key(p: &mut PtySession) -> String {
    let (_, key) = p
        .exp_regex(r"ssh-ed25519 [A-Za-z0-9+/=]+ flux-homelab")
        .expect("the deploy key is printed");
    key
}

fn exit_code(p: &mut PtySession) -> (String, i32) {
    let rest = p.exp_eof().expect("bootstrap ends");
    match p.process().wait().expect("exit status") {
        WaitStatus::Exited(_, code) => (rest, code),
        other => panic!("bootstrap did not exit normally: {other:?}\n{rest}"),
    }
}

fn key_pair(dir: &Path, name: &str) -> (PathBuf, String) {
    let private = keygen(&dir.join(name), "");
    let public = public_key(&private);
    (private, public)
}

#[test]
fn without_a_terminal_the_key_is_checked_and_the_outcome_said() {
    let lab = Lab::new();
    let (private, public) = key_pair(&lab.home, "deploy_key");

    lab.bootstrap()
        .args(["--yes", "--deploy-key"])
        .arg(&private)
        .ok()
        .stderr_has("Flux cannot pull with the deploy key yet (the server refused the key)");

    lab.authorize(&public);
    lab.bootstrap()
        .args(["--yes", "--deploy-key"])
        .arg(&private)
        .ok()
        .stderr_has("accepts the deploy key: Flux can pull");
}

#[test]
fn on_a_terminal_the_question_defaults_to_no_and_a_yes_is_checked() {
    let lab = Lab::new();

    // Enter alone does not claim the key was added.
    let mut p = lab.bootstrap_on_a_terminal(&[]);
    printed_key(&mut p);
    expect(&mut p, "Have you added the deploy key? [y/N]");
    p.send(ENTER).expect("enter");
    p.flush().expect("flush");
    expect(&mut p, "stopped before Flux started pulling from git");
    let (out, code) = exit_code(&mut p);
    assert_eq!(code, 1, "{out}");

    // "Yes" before the key is in: the server says otherwise, and the user checks again
    // once it is.
    let mut p = lab.bootstrap_on_a_terminal(&["--rotate-keys"]);
    let key = printed_key(&mut p);
    expect(&mut p, "Have you added the deploy key?");
    p.send("y").expect("y");
    p.flush().expect("flush");
    expect(
        &mut p,
        "does not take the deploy key: the server refused the key",
    );
    expect(&mut p, "What now?");
    lab.authorize(&key);
    p.send(ENTER).expect("check again");
    p.flush().expect("flush");
    expect(&mut p, "accepts the deploy key: Flux can pull");
    let (out, code) = exit_code(&mut p);
    assert_eq!(code, 0, "{out}");
}
