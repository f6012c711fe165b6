//! `homelab push` and `homelab::git::push` against real servers on loopback: bare
//! repositories over file:// and plain paths, `git daemon` over git://, and `sshd` with key
//! files, passphrase-protected keys, ssh-agent and host-key checks. Every successful push is
//! verified by cloning the remote back with the git CLI and comparing trees.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use homelab::git::{self, PushOptions, PushOutcome, SyncStatus};

use crate::support::gitserver::{
    self, Agent, GitDaemon, HttpsServer, Sshd, Stall, StallServer, git, run,
};
use crate::support::{Homelab, example_config, homelab};

/// A scratch homelab: a work tree with homelab.yaml, a private HOME, and room for remotes.
struct Lab {
    tmp: tempfile::TempDir,
    work: PathBuf,
    home: PathBuf,
}

impl Lab {
    fn new(url: &str) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let work = tmp.path().join("work");
        let home = tmp.path().join("home");
        fs::create_dir_all(home.join(".ssh")).unwrap();
        fs::create_dir_all(work.join("clusters/homelab")).unwrap();
        let lab = Self { tmp, work, home };
        lab.set_url(url);
        fs::write(
            lab.work.join("clusters/homelab/kustomization.yaml"),
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: []\n",
        )
        .unwrap();
        lab
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.tmp.path().join(rel)
    }

    fn set_url(&self, url: &str) {
        let example = fs::read_to_string(example_config()).unwrap();
        assert!(
            example.contains("  url: \"\"\n"),
            "example config changed shape"
        );
        let config = example.replace(
            "  url: \"\"\n",
            &format!("  url: {}\n", serde_json::to_string(url).unwrap()),
        );
        fs::write(self.work.join("homelab.yaml"), config).unwrap();
    }

    /// Commit what the test wrote, as the homelab command that wrote it would have (push
    /// itself commits nothing), on the branch homelab.yaml names.
    fn commit(&self) {
        let config = fs::read_to_string(self.work.join("homelab.yaml")).unwrap();
        let branch = config
            .lines()
            .find_map(|l| l.strip_prefix("  branch: "))
            .unwrap_or("main")
            .trim();
        let repo = git::open_or_init(&self.work, branch).unwrap();
        git::commit_all(&repo, "homelab").unwrap();
    }

    /// `homelab push --allow-stale` after committing the test's changes: these tests push
    /// hand-made repositories, not rendered ones.
    fn push(&self) -> Homelab {
        self.commit();
        self.push_only().arg("--allow-stale")
    }

    /// `homelab push` in the work tree, with HOME private and no agent inherited.
    fn push_only(&self) -> Homelab {
        homelab()
            .dir(&self.work)
            .env("HOME", &self.home)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env_remove("SSH_AUTH_SOCK")
            .env_remove("HOMELAB_SSH_KEY_PASSPHRASE")
            .arg("push")
    }

    fn head(&self) -> String {
        run(git(&self.work).args(["rev-parse", "HEAD"]))
            .trim()
            .to_owned()
    }

    /// Clone `url` with the git CLI and check it holds exactly the local HEAD and tree.
    fn assert_remote_has_local_head(&self, url: &str) {
        let dest = self.path(&format!("clone-{}", rand_suffix()));
        gitserver::clone(url, &dest);
        let theirs = run(git(&dest).args(["rev-parse", "HEAD"]))
            .trim()
            .to_owned();
        assert_eq!(
            theirs,
            self.head(),
            "the remote's HEAD is not the local commit"
        );
        let tree = |dir: &Path| run(git(dir).args(["ls-tree", "-r", "HEAD"]));
        assert_eq!(tree(&dest), tree(&self.work));
        assert_eq!(
            fs::read_to_string(dest.join("homelab.yaml")).unwrap(),
            fs::read_to_string(self.work.join("homelab.yaml")).unwrap()
        );
    }
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

fn file_url(path: &Path) -> String {
    format!("file://{}", path.display())
}

// ---------------------------------------------------------------- local remotes

#[test]
fn pushes_to_an_empty_bare_repository_over_file_url_and_is_idempotent() {
    let tmp = tempfile::tempdir().unwrap();
    let bare = gitserver::bare_repo(&tmp.path().join("remote.git"), "main");
    let lab = Lab::new(&file_url(&bare));

    lab.push().ok().stderr_has("pushed main");
    lab.assert_remote_has_local_head(&file_url(&bare));
    let first = gitserver::rev(&bare, "main").unwrap();

    // Second run: nothing to commit, nothing to push.
    lab.push().ok().stderr_has("already up to date");
    assert_eq!(gitserver::rev(&bare, "main").unwrap(), first);
    let count = run(git(&lab.work).args(["rev-list", "--count", "HEAD"]));
    assert_eq!(count.trim(), "1");

    // No credentials or surprises in .git/config: just the URL.
    let config = fs::read_to_string(lab.work.join(".git/config")).unwrap();
    assert!(
        config.contains(&format!("url = {}", file_url(&bare))),
        "{config}"
    );
}

#[test]
fn origin_follows_git_url_and_the_branch_tracks_it() {
    let tmp = tempfile::tempdir().unwrap();
    let first = gitserver::bare_repo(&tmp.path().join("first.git"), "main");
    let second = gitserver::bare_repo(&tmp.path().join("second.git"), "main");
    let lab = Lab::new(&file_url(&first));
    lab.push().ok().stderr_has("pushed main");
    let remote_of = |key: &str| {
        run(git(&lab.work).args(["config", "--get-all", key]))
            .trim()
            .to_owned()
    };
    assert_eq!(remote_of("remote.origin.url"), file_url(&first));
    // `origin/main` is the upstream, so plain git commands work afterwards.
    assert_eq!(
        run(git(&lab.work).args(["rev-parse", "--abbrev-ref", "main@{upstream}"])).trim(),
        "origin/main"
    );
    assert_eq!(remote_of("branch.main.remote"), "origin");
    assert_eq!(remote_of("branch.main.merge"), "refs/heads/main");
    assert!(
        run(git(&lab.work).args(["status", "-sb"])).starts_with("## main...origin/main\n"),
        "{}",
        run(git(&lab.work).args(["status", "-sb"]))
    );

    // git.url changes: origin is re-pointed (not a second remote), and the push goes there.
    lab.set_url(&file_url(&second));
    lab.push().ok().stderr_has("pushed main");
    assert_eq!(remote_of("remote.origin.url"), file_url(&second));
    assert_eq!(run(git(&lab.work).arg("remote")).trim(), "origin");
    lab.assert_remote_has_local_head(&file_url(&second));
    assert_ne!(
        gitserver::rev(&first, "main").unwrap(),
        lab.head(),
        "the old remote got the new commit"
    );
    assert_eq!(
        run(git(&lab.work).args(["rev-parse", "main@{upstream}"])).trim(),
        lab.head()
    );
}

#[test]
fn pushes_new_changes_to_a_plain_path() {
    let tmp = tempfile::tempdir().unwrap();
    let bare = gitserver::bare_repo(&tmp.path().join("nas/homelab.git"), "main");
    let lab = Lab::new(bare.to_str().unwrap());
    lab.push().ok();
    fs::write(lab.work.join("clusters/homelab/extra.yaml"), "a: 1\n").unwrap();
    lab.push().ok().stderr_has("pushed main");
    lab.assert_remote_has_local_head(bare.to_str().unwrap());
    // push itself commits nothing: an uncommitted file stays local, and is named.
    let pushed = gitserver::rev(&bare, "main");
    fs::write(lab.work.join("clusters/homelab/extra.yaml"), "a: 2\n").unwrap();
    lab.push_only()
        .arg("--allow-stale")
        .ok()
        .stderr_has("already up to date")
        .stderr_has("uncommitted changes are not pushed: clusters/homelab/extra.yaml");
    assert_eq!(gitserver::rev(&bare, "main"), pushed);
}

#[test]
fn a_relative_path_is_taken_from_the_repository_directory() {
    let lab = Lab::new("../remote.git");
    let bare = gitserver::bare_repo(&lab.path("remote.git"), "main");
    // Run from elsewhere: the path must not depend on the current directory.
    lab.push()
        .current_dir(&lab.home)
        .ok()
        .stderr_has("pushed main");
    lab.assert_remote_has_local_head(&file_url(&bare));
    let config = fs::read_to_string(lab.work.join(".git/config")).unwrap();
    let absolute = bare.canonicalize().unwrap();
    assert!(
        config.contains(&format!("url = {}", absolute.display())),
        "{config}"
    );
}

#[test]
fn pushes_to_the_configured_branch() {
    let tmp = tempfile::tempdir().unwrap();
    let bare = gitserver::bare_repo(&tmp.path().join("remote.git"), "main");
    let lab = Lab::new(&file_url(&bare));
    let config = fs::read_to_string(lab.work.join("homelab.yaml")).unwrap();
    fs::write(
        lab.work.join("homelab.yaml"),
        config.replace("  branch: main\n", "  branch: homelab\n"),
    )
    .unwrap();
    lab.push().ok().stderr_has("pushed homelab");
    assert!(gitserver::rev(&bare, "main").is_none());
    assert_eq!(gitserver::rev(&bare, "homelab").unwrap(), lab.head());
}

#[test]
fn empty_url_is_a_usage_error_and_changes_nothing() {
    let lab = Lab::new("");
    lab.push_only()
        .expect_code(2)
        .stderr_has("git.url is empty")
        .stderr_has("hint:");
    assert!(!lab.work.join(".git").exists(), "a repository was created");
}

#[test]
fn a_token_in_the_url_is_refused_and_never_echoed() {
    let lab = Lab::new("https://me:ghp_SECRET123@git.example.com/me/homelab.git");
    let run = lab
        .push_only()
        .expect_code(2)
        .stderr_has("HOMELAB_GIT_TOKEN");
    assert!(
        !run.stderr().contains("ghp_SECRET123"),
        "{}",
        run.describe()
    );
    assert!(
        !run.stdout().contains("ghp_SECRET123"),
        "{}",
        run.describe()
    );
    assert!(!lab.work.join(".git").exists());
}

#[test]
fn a_missing_ssh_key_file_is_a_usage_error() {
    let lab = Lab::new("ssh://git@127.0.0.1:1/x.git");
    lab.push_only()
        .args(["--ssh-key", "/nonexistent/id_ed25519"])
        .expect_code(2)
        .stderr_has("--ssh-key /nonexistent/id_ed25519")
        .stderr_has("hint:");
    assert!(!lab.work.join(".git").exists());
}

#[test]
fn an_unreachable_remote_fails_with_a_hint() {
    let tmp = tempfile::tempdir().unwrap();
    let lab = Lab::new(&file_url(&tmp.path().join("does-not-exist.git")));
    lab.push()
        .expect_code(1)
        .stderr_has("cannot fetch from")
        .stderr_has("hint:");
}

// ---------------------------------------------------------------- git daemon

#[test]
fn pushes_over_git_daemon() {
    let tmp = tempfile::tempdir().unwrap();
    gitserver::bare_repo(&tmp.path().join("homelab.git"), "main");
    let daemon = GitDaemon::start(tmp.path());
    let url = daemon.url("homelab.git");
    let lab = Lab::new(&url);
    lab.push().ok().stderr_has("pushed main");
    lab.assert_remote_has_local_head(&url);
    lab.push().ok().stderr_has("already up to date");
}

#[test]
fn a_ref_rejected_by_the_server_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let bare = gitserver::bare_repo(&tmp.path().join("homelab.git"), "main");
    let hook = bare.join("hooks/pre-receive");
    fs::write(&hook, "#!/bin/sh\necho 'main is protected' >&2\nexit 1\n").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        fs::set_permissions(&hook, fs::Permissions::from_mode(0o755)).unwrap();
    }
    let daemon = GitDaemon::start(tmp.path());
    let lab = Lab::new(&daemon.url("homelab.git"));
    lab.push()
        .expect_code(1)
        .stderr_has("refused to update refs/heads/main")
        .stderr_has("main is protected")
        .stderr_has("hint:");
    assert!(gitserver::rev(&bare, "main").is_none());
}

// ---------------------------------------------------------------- sshd

/// A server, its repository, and a lab pointing at it over ssh://.
struct SshLab {
    lab: Lab,
    sshd: Sshd,
    bare: PathBuf,
    key: PathBuf,
}

impl SshLab {
    /// `authorize` says whether the client's key is let in; `trust` whether the client's
    /// known_hosts already holds the server's key.
    fn new(passphrase: &str, authorize: bool, trust: bool) -> Self {
        let lab = Lab::new("");
        let keys = lab.path("keys");
        fs::create_dir_all(&keys).unwrap();
        let key = gitserver::keygen(&keys.join("id_homelab"), passphrase);
        let authorized = if authorize {
            vec![gitserver::public_key(&key)]
        } else {
            Vec::new()
        };
        let sshd = Sshd::start(&lab.path("sshd"), &authorized);
        let bare = gitserver::bare_repo(&lab.path("srv/homelab.git"), "main");
        lab.set_url(&sshd.url(&bare));
        if trust {
            fs::write(lab.home.join(".ssh/known_hosts"), sshd.known_hosts_line()).unwrap();
        }
        Self {
            lab,
            sshd,
            bare,
            key,
        }
    }

    fn assert_pushed(&self) {
        self.lab.assert_remote_has_local_head(&file_url(&self.bare));
    }

    fn assert_untouched(&self) {
        assert!(
            gitserver::rev(&self.bare, "main").is_none(),
            "the remote was changed"
        );
    }

    fn fingerprint(&self) -> String {
        let line = run(std::process::Command::new("ssh-keygen")
            .arg("-lf")
            .arg(self.lab.path("sshd/ssh_host_ed25519_key.pub")));
        line.split_whitespace().nth(1).unwrap().to_owned()
    }
}

#[test]
fn ssh_push_with_a_key_file() {
    let s = SshLab::new("", true, true);
    s.lab
        .push()
        .arg("--ssh-key")
        .arg(&s.key)
        .ok()
        .stderr_has("pushed main");
    s.assert_pushed();
    // Again: the remote is compared over SSH and nothing is sent.
    s.lab
        .push()
        .arg("--ssh-key")
        .arg(&s.key)
        .ok()
        .stderr_has("already up to date");
}

#[test]
fn ssh_push_with_a_default_key_in_home() {
    let s = SshLab::new("", true, true);
    fs::copy(&s.key, s.lab.home.join(".ssh/id_ed25519")).unwrap();
    s.lab.push().ok().stderr_has("pushed main");
    s.assert_pushed();
}

#[test]
fn ssh_push_with_a_passphrase_protected_key() {
    let s = SshLab::new("correct horse battery", true, true);
    // Without the passphrase and no terminal to ask on, the key is skipped with a reason.
    s.lab
        .push()
        .env("HOMELAB_SSH_KEY", &s.key)
        .expect_code(1)
        .stderr_has("authentication failed")
        .stderr_has("needs a passphrase")
        .stderr_has("HOMELAB_SSH_KEY_PASSPHRASE");
    s.assert_untouched();

    // A wrong passphrase is an authentication failure, not a hang or a crash.
    s.lab
        .push()
        .env("HOMELAB_SSH_KEY", &s.key)
        .env("HOMELAB_SSH_KEY_PASSPHRASE", "wrong horse")
        .expect_code(1)
        .stderr_has("authentication failed")
        .stderr_has("hint:");
    s.assert_untouched();

    let run = s
        .lab
        .push()
        .env("HOMELAB_SSH_KEY", &s.key)
        .env("HOMELAB_SSH_KEY_PASSPHRASE", "correct horse battery")
        .ok()
        .stderr_has("pushed main");
    assert!(
        !run.stderr().contains("correct horse"),
        "{}",
        run.describe()
    );
    s.assert_pushed();
}

#[test]
fn ssh_push_through_ssh_agent() {
    let s = SshLab::new("", true, true);
    let agent = Agent::start(&s.lab.path("."));
    agent.add(&s.key);
    s.lab
        .push()
        .env("SSH_AUTH_SOCK", &agent.socket)
        .ok()
        .stderr_has("pushed main");
    s.assert_pushed();
}

#[test]
fn ssh_push_with_a_wrong_key_fails_cleanly() {
    let s = SshLab::new("", false, true);
    let agent = Agent::start(&s.lab.path("."));
    agent.add(&s.key);
    s.lab
        .push()
        .arg("--ssh-key")
        .arg(&s.key)
        .env("SSH_AUTH_SOCK", &agent.socket)
        .expect_code(1)
        .stderr_has("authentication failed")
        .stderr_has("the SSH agent")
        .stderr_has(&format!("the key {}", s.key.display()))
        .stderr_has("hint:");
    s.assert_untouched();
}

#[test]
fn ssh_unknown_host_key_is_refused_then_accepted_on_request() {
    let s = SshLab::new("", true, false);
    let fp = s.fingerprint();
    s.lab
        .push()
        .arg("--ssh-key")
        .arg(&s.key)
        .expect_code(1)
        .stderr_has("is not known")
        .stderr_has(&fp)
        .stderr_has("--accept-new-host-key");
    s.assert_untouched();
    let known_hosts = s.lab.home.join(".ssh/known_hosts");
    assert!(!known_hosts.exists());

    s.lab
        .push()
        .arg("--ssh-key")
        .arg(&s.key)
        .arg("--accept-new-host-key")
        .ok()
        .stderr_has("added the SSH host key");
    s.assert_pushed();
    let recorded = fs::read_to_string(&known_hosts).unwrap();
    let key: Vec<&str> = s.sshd.host_key.split_whitespace().take(2).collect();
    assert_eq!(
        recorded,
        format!("[127.0.0.1]:{} {}\n", s.sshd.port, key.join(" "))
    );

    // Recorded: later pushes need no flag.
    s.lab
        .push()
        .arg("--ssh-key")
        .arg(&s.key)
        .ok()
        .stderr_has("already up to date");
}

#[test]
fn ssh_host_key_from_an_extra_known_hosts_file() {
    let s = SshLab::new("", true, false);
    let extra = s.lab.path("extra_known_hosts");
    fs::write(&extra, s.sshd.known_hosts_line()).unwrap();
    s.lab
        .push()
        .arg("--ssh-key")
        .arg(&s.key)
        .arg("--known-hosts")
        .arg(&extra)
        .ok();
    s.assert_pushed();
}

#[test]
fn ssh_hashed_known_hosts_entry_is_honoured() {
    let s = SshLab::new("", true, true);
    let known_hosts = s.lab.home.join(".ssh/known_hosts");
    run(std::process::Command::new("ssh-keygen")
        .arg("-H")
        .arg("-f")
        .arg(&known_hosts));
    assert!(fs::read_to_string(&known_hosts).unwrap().starts_with("|1|"));
    s.lab.push().arg("--ssh-key").arg(&s.key).ok();
    s.assert_pushed();
}

#[test]
fn ssh_changed_host_key_is_always_refused() {
    let s = SshLab::new("", true, false);
    let other = gitserver::keygen(&s.lab.path("keys/impostor"), "");
    let line = format!(
        "[127.0.0.1]:{} {}\n",
        s.sshd.port,
        gitserver::public_key(&other)
    );
    let known_hosts = s.lab.home.join(".ssh/known_hosts");
    fs::write(&known_hosts, &line).unwrap();
    s.lab
        .push()
        .arg("--ssh-key")
        .arg(&s.key)
        .arg("--accept-new-host-key")
        .expect_code(1)
        .stderr_has("CHANGED")
        .stderr_has(&s.fingerprint())
        .stderr_has("ssh-keygen -R");
    s.assert_untouched();
    assert_eq!(fs::read_to_string(&known_hosts).unwrap(), line);
}

// ---------------------------------------------------------------- HTTPS (smart HTTP)

const TOKEN: &str = "tok_4f9a1c";

/// A lab pushing over https:// to `git http-backend` that accepts user `git` and [`TOKEN`].
fn https_lab() -> (Lab, HttpsServer, PathBuf) {
    let lab = Lab::new("");
    let root = lab.path("srv");
    let bare = gitserver::bare_repo(&root.join("homelab.git"), "main");
    let server = HttpsServer::start(&lab.path("https"), &root, "git", TOKEN);
    lab.set_url(&server.url("homelab.git"));
    (lab, server, bare)
}

#[test]
fn https_push_with_a_token() {
    let (lab, server, bare) = https_lab();
    let run = lab
        .push()
        .env("SSL_CERT_FILE", &server.ca_file)
        .env("HOMELAB_GIT_TOKEN", TOKEN)
        .ok()
        .stderr_has("pushed main");
    assert!(!run.stderr().contains(TOKEN), "{}", run.describe());
    lab.assert_remote_has_local_head(&file_url(&bare));
    let config = fs::read_to_string(lab.work.join(".git/config")).unwrap();
    assert!(!config.contains(TOKEN), "{config}");
    lab.push()
        .env("SSL_CERT_FILE", &server.ca_file)
        .env("HOMELAB_GIT_TOKEN", TOKEN)
        .ok()
        .stderr_has("already up to date");
}

#[test]
fn https_push_with_a_wrong_or_missing_token_fails_cleanly() {
    let (lab, server, bare) = https_lab();
    let run = lab
        .push()
        .env("SSL_CERT_FILE", &server.ca_file)
        .env("HOMELAB_GIT_TOKEN", "not-the-token")
        .expect_code(1)
        .stderr_has("authentication failed")
        .stderr_has("hint:")
        .stderr_has("HOMELAB_GIT_TOKEN");
    assert!(
        !run.stderr().contains("not-the-token"),
        "{}",
        run.describe()
    );
    lab.push()
        .env("SSL_CERT_FILE", &server.ca_file)
        .expect_code(1)
        .stderr_has("HOMELAB_GIT_TOKEN is not set");
    assert!(gitserver::rev(&bare, "main").is_none());
}

/// A plain-HTTP listener that answers every request with `401 Unauthorized` (asking for
/// Basic credentials, keeping the connection open) and records each request's header lines,
/// so a client that retries with credentials is seen doing so.
struct Http401 {
    port: u16,
    requests: std::sync::Arc<std::sync::Mutex<Vec<Vec<String>>>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Http401 {
    fn start() -> Self {
        use std::io::{BufRead as _, BufReader, Write as _};
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (seen, done) = (requests.clone(), stop.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                let Ok((stream, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                let seen = seen.clone();
                std::thread::spawn(move || {
                    stream.set_nonblocking(false).unwrap();
                    stream
                        .set_read_timeout(Some(Duration::from_secs(30)))
                        .unwrap();
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    // One request after another on the same connection, until it closes.
                    loop {
                        let mut headers = Vec::new();
                        let mut line = String::new();
                        while reader.read_line(&mut line).unwrap_or(0) > 0 && line != "\r\n" {
                            headers.push(line.trim_end().to_owned());
                            line.clear();
                        }
                        if headers.is_empty() {
                            return;
                        }
                        seen.lock().unwrap().push(headers);
                        let answer = b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"git\"\r\nContent-Length: 0\r\n\r\n";
                        if (&stream).write_all(answer).is_err() {
                            return;
                        }
                    }
                });
            }
        });
        Self {
            port,
            requests,
            stop,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/homelab.git", self.port)
    }

    /// The requests seen so far that carried an `Authorization` header.
    fn with_authorization(&self) -> Vec<Vec<String>> {
        let requests = self.requests.lock().unwrap();
        requests
            .iter()
            .filter(|h| {
                h.iter()
                    .any(|l| l.to_ascii_lowercase().starts_with("authorization:"))
            })
            .cloned()
            .collect()
    }

    fn request_count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }
}

impl Drop for Http401 {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

#[test]
fn a_token_is_never_sent_over_plain_http() {
    let server = Http401::start();
    // The listener does see credentials when a client sends them: git itself, given a
    // user and password, retries the refused request with an Authorization header.
    let tmp = tempfile::tempdir().unwrap();
    let probe = std::process::Command::new("git")
        .args(["-c", "credential.helper=", "ls-remote"])
        .arg(
            server
                .url()
                .replace("http://", "http://probe:probe-password@"),
        )
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", tmp.path())
        .output()
        .unwrap();
    assert!(!probe.status.success());
    assert_eq!(
        server.with_authorization().len(),
        1,
        "the listener cannot observe credentials"
    );
    let before = server.request_count();

    let lab = Lab::new(&server.url());
    lab.push()
        .env("HOMELAB_GIT_TOKEN", TOKEN)
        .expect_code(1)
        .stderr_has("not sent: the URL is unencrypted http://");
    assert!(
        server.request_count() > before,
        "homelab never reached the server"
    );
    assert_eq!(
        server.with_authorization().len(),
        1,
        "a token was sent over plain HTTP: {:?}",
        server.with_authorization()
    );
}

#[test]
fn https_with_an_untrusted_certificate_is_refused() {
    let (lab, _server, bare) = https_lab();
    lab.push()
        .env("HOMELAB_GIT_TOKEN", TOKEN)
        .env("SSL_CERT_FILE", "/dev/null")
        .expect_code(1)
        .stderr_has("cannot fetch from")
        .stderr_has("certificate");
    assert!(gitserver::rev(&bare, "main").is_none());
}

// ---------------------------------------------------------------- divergence (library API)

/// A local repository pushed once to a bare remote, and a second clone ("elsewhere") that
/// can add commits to the remote behind the local repository's back.
struct Diverge {
    tmp: tempfile::TempDir,
    repo: git2::Repository,
    bare: PathBuf,
    opts: PushOptions,
}

impl Diverge {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let bare = gitserver::bare_repo(&tmp.path().join("remote.git"), "main");
        let work = tmp.path().join("work");
        fs::create_dir_all(&work).unwrap();
        let repo = git::open_or_init(&work, "main").unwrap();
        fs::write(work.join("a.yaml"), "a: 1\nshared: original\n").unwrap();
        fs::write(work.join("b.yaml"), "b: 1\n").unwrap();
        git::commit_all(&repo, "first").unwrap().unwrap();
        let opts = PushOptions::new(&file_url(&bare), "main");
        let d = Self {
            tmp,
            repo,
            bare,
            opts,
        };
        assert!(matches!(
            git::push(&d.repo, &d.opts).unwrap(),
            PushOutcome::Pushed { .. }
        ));
        d
    }

    fn work(&self) -> PathBuf {
        self.repo.workdir().unwrap().to_path_buf()
    }

    /// Commit `content` to `file` on the remote from another clone.
    fn commit_elsewhere(&self, file: &str, content: &str) -> String {
        let other = self.tmp.path().join(format!("elsewhere-{}", rand_suffix()));
        gitserver::clone(&file_url(&self.bare), &other);
        fs::write(other.join(file), content).unwrap();
        run(git(&other).args(["commit", "-q", "-am", "edited on the web"]));
        run(git(&other).args(["push", "-q", "origin", "main"]));
        gitserver::rev(&self.bare, "main").unwrap()
    }

    fn commit_locally(&self, file: &str, content: &str) -> git2::Oid {
        fs::write(self.work().join(file), content).unwrap();
        git::commit_all(&self.repo, "local change")
            .unwrap()
            .unwrap()
    }

    fn local_head(&self) -> String {
        git::head_commit(&self.repo).unwrap().to_string()
    }

    /// Push after the remote moved to `theirs` (which set `a.yaml` to `a: 2`): the local
    /// branch and work tree are fast-forwarded to it.
    fn assert_push_fast_forwards_to(&self, theirs: &str) {
        assert_eq!(
            git::push(&self.repo, &self.opts).unwrap(),
            PushOutcome::FastForwarded {
                commit: theirs.parse().unwrap()
            }
        );
        assert_eq!(self.local_head(), theirs);
        assert_eq!(
            fs::read_to_string(self.work().join("a.yaml")).unwrap(),
            "a: 2\nshared: original\n"
        );
    }
}

#[test]
fn remote_ahead_fast_forwards_the_local_branch() {
    let d = Diverge::new();
    let theirs = d.commit_elsewhere("a.yaml", "a: 2\nshared: original\n");
    assert_eq!(
        git::remote_status(&d.repo, &d.opts).unwrap(),
        SyncStatus::Behind { behind: 1 }
    );
    d.assert_push_fast_forwards_to(&theirs);
    assert_eq!(
        git::remote_status(&d.repo, &d.opts).unwrap(),
        SyncStatus::InSync
    );
    assert_eq!(git::push(&d.repo, &d.opts).unwrap(), PushOutcome::UpToDate);
}

#[test]
fn a_fast_forward_stops_when_local_edits_are_in_the_way() {
    let d = Diverge::new();
    let before = d.local_head();
    let theirs = d.commit_elsewhere("a.yaml", "a: 2\nshared: original\n");
    // An uncommitted edit of the file the remote changed: the checkout would overwrite it.
    fs::write(d.work().join("a.yaml"), "a: mine\nshared: original\n").unwrap();
    let err = git::push(&d.repo, &d.opts).unwrap_err();
    assert_eq!(err.exit_code(), 1);
    assert!(
        err.message
            .contains("cannot update the work tree to the remote's commits"),
        "{}",
        err.message
    );
    assert!(
        err.hint
            .as_deref()
            .unwrap()
            .contains("commit or discard your local edits")
    );
    // Nothing moved, nothing overwritten.
    assert_eq!(d.local_head(), before);
    assert_eq!(
        fs::read_to_string(d.work().join("a.yaml")).unwrap(),
        "a: mine\nshared: original\n"
    );
    assert_eq!(gitserver::rev(&d.bare, "main").unwrap(), theirs);

    // An edit elsewhere is not in the way: the branch moves and the edit stays.
    fs::write(d.work().join("a.yaml"), "a: 1\nshared: original\n").unwrap();
    fs::write(d.work().join("b.yaml"), "b: mine\n").unwrap();
    d.assert_push_fast_forwards_to(&theirs);
    assert_eq!(
        fs::read_to_string(d.work().join("b.yaml")).unwrap(),
        "b: mine\n"
    );
}

#[test]
fn diverged_branches_rebase_local_commits_when_clean() {
    let d = Diverge::new();
    let theirs = d.commit_elsewhere("a.yaml", "a: 2\nshared: original\n");
    let ours = d.commit_locally("b.yaml", "b: 2\n");
    assert_eq!(
        git::remote_status(&d.repo, &d.opts).unwrap(),
        SyncStatus::Diverged {
            ahead: 1,
            behind: 1
        }
    );
    let outcome = git::push(&d.repo, &d.opts).unwrap();
    let PushOutcome::RebasedAndPushed { commit, replayed } = outcome else {
        panic!("unexpected outcome {outcome:?}");
    };
    assert_eq!(replayed, 1);
    assert_ne!(commit, ours, "the local commit must have been replayed");
    assert_eq!(d.local_head(), commit.to_string());
    assert_eq!(gitserver::rev(&d.bare, "main").unwrap(), commit.to_string());
    // The replayed commit sits on the remote's, keeps its message, and both changes are there.
    let parent = run(git(&d.bare).args(["rev-parse", "main^"]));
    assert_eq!(parent.trim(), theirs);
    let subject = run(git(&d.bare).args(["log", "-1", "--format=%s", "main"]));
    assert_eq!(subject.trim(), "local change");
    let clone = d.tmp.path().join("check");
    gitserver::clone(&file_url(&d.bare), &clone);
    assert_eq!(
        fs::read_to_string(clone.join("a.yaml")).unwrap(),
        "a: 2\nshared: original\n"
    );
    assert_eq!(fs::read_to_string(clone.join("b.yaml")).unwrap(), "b: 2\n");
    // The work tree follows the new HEAD.
    assert_eq!(
        fs::read_to_string(d.work().join("a.yaml")).unwrap(),
        "a: 2\nshared: original\n"
    );
    let status = run(git(&d.work()).args(["status", "--porcelain"]));
    assert_eq!(status, "", "the work tree is not clean");
}

#[test]
fn conflicting_divergence_stops_and_touches_nothing() {
    let d = Diverge::new();
    let theirs = d.commit_elsewhere("a.yaml", "a: 1\nshared: theirs\n");
    let ours = d.commit_locally("a.yaml", "a: 1\nshared: ours\n");
    let err = git::push(&d.repo, &d.opts).unwrap_err();
    assert_eq!(err.exit_code(), 1);
    assert!(err.message.contains("conflicts"), "{}", err.message);
    assert!(err.message.contains("a.yaml"), "{}", err.message);
    assert!(err.hint.as_deref().unwrap().contains("git pull --rebase"));
    assert_eq!(d.local_head(), ours.to_string());
    assert_eq!(gitserver::rev(&d.bare, "main").unwrap(), theirs);
    assert_eq!(
        fs::read_to_string(d.work().join("a.yaml")).unwrap(),
        "a: 1\nshared: ours\n"
    );
    let status = run(git(&d.work()).args(["status", "--porcelain"]));
    assert_eq!(status, "", "the work tree or index was changed");
}

#[test]
fn diverged_push_through_the_binary_reports_the_rebase() {
    let tmp = tempfile::tempdir().unwrap();
    let bare = gitserver::bare_repo(&tmp.path().join("remote.git"), "main");
    let lab = Lab::new(&file_url(&bare));
    lab.push().ok();
    let other = lab.path("elsewhere");
    gitserver::clone(&file_url(&bare), &other);
    fs::write(other.join("README.md"), "edited elsewhere\n").unwrap();
    run(git(&other).args(["add", "README.md"]));
    run(git(&other).args(["commit", "-q", "-m", "add readme"]));
    run(git(&other).args(["push", "-q", "origin", "main"]));
    fs::write(lab.work.join("clusters/homelab/app.yaml"), "app: 1\n").unwrap();
    lab.push()
        .ok()
        .stderr_has("replayed 1 local commit")
        .stderr_has("pushed main");
    lab.assert_remote_has_local_head(&file_url(&bare));
    assert!(lab.work.join("README.md").is_file());
}

#[test]
fn a_forge_initialised_remote_joins_a_fresh_local_repository() {
    // The forge created the repository with a README; homelab made its own first commit.
    let tmp = tempfile::tempdir().unwrap();
    let bare = gitserver::bare_repo(&tmp.path().join("remote.git"), "main");
    let seed = tmp.path().join("seed");
    fs::create_dir_all(&seed).unwrap();
    run(git(&seed).args(["init", "-q", "-b", "main"]));
    fs::write(seed.join("README.md"), "# homelab\n").unwrap();
    run(git(&seed).args(["add", "README.md"]));
    run(git(&seed).args(["commit", "-q", "-m", "Initial commit"]));
    run(git(&seed)
        .args(["push", "-q"])
        .arg(file_url(&bare))
        .arg("main"));
    let lab = Lab::new(&file_url(&bare));
    lab.push()
        .ok()
        .stderr_has("replayed 1 local commit")
        .stderr_has("pushed main");
    lab.assert_remote_has_local_head(&file_url(&bare));
    assert_eq!(
        fs::read_to_string(lab.work.join("README.md")).unwrap(),
        "# homelab\n"
    );
    assert!(
        lab.work
            .join("clusters/homelab/kustomization.yaml")
            .is_file()
    );
}

#[test]
fn remote_status_of_an_empty_remote_and_a_local_lead() {
    let tmp = tempfile::tempdir().unwrap();
    let bare = gitserver::bare_repo(&tmp.path().join("remote.git"), "main");
    let work = tmp.path().join("work");
    let repo = git::open_or_init(&work, "main").unwrap();
    let opts = PushOptions::new(&bare.to_string_lossy(), "main");
    assert_eq!(
        git::remote_status(&repo, &opts).unwrap(),
        SyncStatus::LocalMissing
    );
    assert!(
        repo.find_remote("origin").is_err(),
        "a status check added a remote"
    );
    fs::write(work.join("x"), "1").unwrap();
    git::commit_all(&repo, "one").unwrap();
    assert_eq!(
        git::remote_status(&repo, &opts).unwrap(),
        SyncStatus::RemoteMissing
    );
    git::push(&repo, &opts).unwrap();
    fs::write(work.join("x"), "2").unwrap();
    git::commit_all(&repo, "two").unwrap();
    assert_eq!(
        git::remote_status(&repo, &opts).unwrap(),
        SyncStatus::Ahead { ahead: 1 }
    );
}

// ---------------------------------------------------------------- prompts on a terminal

/// Run `homelab push` in a pseudo-terminal, answer its hidden prompt with `answer`, and
/// return everything it printed.
fn push_on_a_terminal(lab: &Lab, envs: &[(&str, &Path)], prompt: &str, answer: &str) -> String {
    lab.commit();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_homelab"));
    cmd.arg("--dir")
        .arg(&lab.work)
        .args(["push", "--allow-stale"])
        .env("HOME", &lab.home)
        .env("NO_COLOR", "1")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env_remove("SSH_AUTH_SOCK")
        .env_remove("HOMELAB_SSH_KEY")
        .env_remove("HOMELAB_SSH_KEY_PASSPHRASE")
        .env_remove("HOMELAB_GIT_TOKEN");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    // The timeout only keeps a broken prompt from hanging the suite.
    let mut session = rexpect::session::spawn_command(cmd, Some(60_000)).unwrap();
    let before = session.exp_string(prompt).unwrap();
    session.send_line(answer).unwrap();
    let after = session.exp_eof().unwrap();
    let output = format!("{before}{prompt}{after}");
    assert!(
        !output.contains(answer),
        "the secret was echoed to the terminal:\n{output}"
    );
    output
}

#[test]
fn ssh_passphrase_is_asked_for_on_a_terminal() {
    let s = SshLab::new("terminal passphrase", true, true);
    let output = push_on_a_terminal(
        &s.lab,
        &[("HOMELAB_SSH_KEY", &s.key)],
        "Passphrase for",
        "terminal passphrase",
    );
    assert!(output.contains("pushed main"), "{output}");
    s.assert_pushed();
}

#[test]
fn https_token_is_asked_for_on_a_terminal() {
    let (lab, server, bare) = https_lab();
    let output = push_on_a_terminal(
        &lab,
        &[("SSL_CERT_FILE", &server.ca_file)],
        "Git access token",
        TOKEN,
    );
    assert!(output.contains("pushed main"), "{output}");
    assert_eq!(gitserver::rev(&bare, "main").unwrap(), lab.head());
}

// ---------------------------------------------------------------- servers that hang

/// Far above any timeout the tests set: a run that takes this long was hanging.
const HANG: Duration = Duration::from_secs(60);

/// `homelab push --git-timeout 2s` to a server that accepts and never answers: over every
/// transport, a clean failure naming the remote and the bound, within it.
#[test]
fn a_remote_that_never_answers_is_given_up_on() {
    let tmp = tempfile::tempdir().unwrap();
    let server = StallServer::start(tmp.path(), Stall::Silent, false);
    let port = server.port;
    for url in [
        format!("https://127.0.0.1:{port}/homelab.git"),
        format!("http://127.0.0.1:{port}/homelab.git"),
        format!("git://127.0.0.1:{port}/homelab.git"),
        format!("ssh://git@127.0.0.1:{port}/homelab.git"),
    ] {
        let lab = Lab::new(&url);
        let start = Instant::now();
        let run = lab.push().args(["--git-timeout", "2s"]).expect_code(1);
        let took = start.elapsed();
        assert!(took < HANG, "{url}: took {took:?}\n{}", run.describe());
        run.stderr_has(&format!("cannot fetch from {url}"))
            .stderr_has("did not answer within 2s")
            .stderr_has("--git-timeout");
    }
}

/// A server that answers with a body trickling in forever defeats a per-read timeout; the
/// bound on the whole exchange (ten times --git-timeout) stops it.
#[test]
fn a_remote_that_trickles_is_stopped_by_the_exchange_bound() {
    let tmp = tempfile::tempdir().unwrap();
    for tls in [false, true] {
        let server = StallServer::start(
            tmp.path(),
            Stall::Trickle {
                content_type: "application/x-git-upload-pack-advertisement",
                // The smart-HTTP preamble, then a pkt-line announcing 4 KiB that never
                // arrives.
                prefix: "001e# service=git-upload-pack\n00001000",
            },
            tls,
        );
        let scheme = if tls { "https" } else { "http" };
        let url = format!("{scheme}://127.0.0.1:{}/homelab.git", server.port);
        let lab = Lab::new(&url);
        let mut push = lab.push().args(["--git-timeout", "2s"]);
        if let Some(ca) = &server.ca_file {
            push = push.env("SSL_CERT_FILE", ca);
        }
        let start = Instant::now();
        let run = push.expect_code(1);
        let took = start.elapsed();
        assert!(took < HANG, "{url}: took {took:?}\n{}", run.describe());
        assert!(
            took >= Duration::from_secs(15),
            "{url}: ended after {took:?}, before the exchange bound\n{}",
            run.describe()
        );
        run.stderr_has(&format!("cannot fetch from {url}"))
            .stderr_has("did not finish within 20s")
            .stderr_has("--git-timeout");
    }
}

/// Bad timeout values are usage errors.
#[test]
fn a_timeout_out_of_range_is_a_usage_error() {
    let lab = Lab::new("file:///nonexistent");
    for bad in ["0s", "18446744073709551615", "soon"] {
        lab.push()
            .args(["--git-timeout", bad])
            .expect_code(2)
            .stderr_has("--git-timeout");
    }
}

// ---------------------------------------------------------------- host key on a terminal

/// Run `homelab push` in a pseudo-terminal against an unknown host and answer the host-key
/// question; returns everything printed.
fn confirm_host_key_on_a_terminal(s: &SshLab, answer: &str) -> String {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_homelab"));
    cmd.arg("--dir")
        .arg(&s.lab.work)
        .arg("push")
        // The lab's files are the test's own, not a rendering (see `Lab::push`).
        .arg("--allow-stale")
        .arg("--ssh-key")
        .arg(&s.key)
        .env("HOME", &s.lab.home)
        .env("NO_COLOR", "1")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env_remove("SSH_AUTH_SOCK")
        .env_remove("HOMELAB_SSH_KEY")
        .env_remove("HOMELAB_SSH_KEY_PASSPHRASE");
    // The timeout only keeps a broken prompt from hanging the suite.
    let mut session = rexpect::session::spawn_command(cmd, Some(60_000)).unwrap();
    let prompt = "Trust this host key";
    let before = session.exp_string(prompt).unwrap();
    session.send_line(answer).unwrap();
    let after = session.exp_eof().unwrap();
    format!("{before}{prompt}{after}")
}

#[test]
fn an_unknown_host_key_is_shown_and_confirmed_on_a_terminal() {
    let s = SshLab::new("", true, false);
    let known_hosts = s.lab.home.join(".ssh/known_hosts");
    // push pushes commits; it makes none (see `Lab::push`).
    s.lab.commit();

    // No: nothing is recorded and nothing pushed.
    let output = confirm_host_key_on_a_terminal(&s, "n");
    assert!(output.contains(&s.fingerprint()), "{output}");
    assert!(output.contains("ssh-ed25519"), "{output}");
    assert!(output.contains("it was not confirmed"), "{output}");
    assert!(!known_hosts.exists());
    s.assert_untouched();

    // Yes: recorded, then the push goes ahead (the push itself does not ask again).
    let output = confirm_host_key_on_a_terminal(&s, "y");
    assert!(output.contains("added the SSH host key"), "{output}");
    assert!(output.contains("pushed main"), "{output}");
    s.assert_pushed();
    let key: Vec<&str> = s.sshd.host_key.split_whitespace().take(2).collect();
    assert_eq!(
        fs::read_to_string(&known_hosts).unwrap(),
        format!("[127.0.0.1]:{} {}\n", s.sshd.port, key.join(" "))
    );
}

#[test]
fn a_revoked_host_key_is_refused_even_when_accepting_new_keys() {
    let s = SshLab::new("", true, false);
    let extra = s.lab.path("revocations");
    fs::write(&extra, format!("@revoked * {}\n", s.sshd.host_key)).unwrap();
    fs::write(
        s.lab.home.join(".ssh/known_hosts"),
        s.sshd.known_hosts_line(),
    )
    .unwrap();
    s.lab
        .push()
        .arg("--ssh-key")
        .arg(&s.key)
        .arg("--known-hosts")
        .arg(&extra)
        .arg("--accept-new-host-key")
        .expect_code(1)
        .stderr_has("@revoked")
        .stderr_has(&s.fingerprint());
    s.assert_untouched();
}
