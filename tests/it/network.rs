//! The network edge of `bootstrap` and `init`, through the binary: against servers on
//! loopback that accept and never answer, or trickle, and a credential plugin that never
//! returns, each command ends in bounded time with an error naming what did not answer;
//! `doctor` and `bootstrap` resolve the kubeconfig by the same rules; and `bootstrap` trusts
//! the git server's SSH host key by the same policy as `push` (against a real sshd and a
//! real API server).

use std::path::{Path, PathBuf};
use std::time::Instant;

use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::Api;
use serde_json::Value;

use crate::support::envtest::ApiServer;
use crate::support::gitserver::{self, Sshd, Stall, StallServer};
use crate::support::network::{
    HANG, TOKEN_USER, assert_plugin_stopped, hanging_plugin, loopback_config, write_kubeconfig,
};
use crate::support::{Homelab, Run, homelab};

/// The loopback homelab.yaml with `git_url`, HTTP-01 certificates (so bootstrap needs no
/// DNS provider token) and no apps (bootstrap has nothing to do with them).
fn config(git_url: &str) -> String {
    let dns01 = "  challenge: dns01\n  dns_provider: cloudflare\n";
    let apps = "apps:\n  - name: homepage\n    namespace: homepage\n    host: localhost\n";
    let text = loopback_config(git_url);
    assert!(
        text.contains(dns01) && text.contains(apps),
        "the loopback config changed shape"
    );
    text.replace(dns01, "  challenge: http01\n")
        .replace(apps, "")
}

/// A rendered, committed homelab repository (by `homelab init`, never pushed) and a HOME.
struct Lab {
    tmp: tempfile::TempDir,
    dir: PathBuf,
    home: PathBuf,
}

impl Lab {
    fn new(git_url: &str) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("homelab");
        let home = tmp.path().join("home");
        std::fs::create_dir_all(&home).unwrap();
        let file = tmp.path().join("answers.yaml");
        std::fs::write(&file, config(git_url)).unwrap();
        homelab()
            .args(["init", "--no-push", "--no-bootstrap", "--config"])
            .arg(&file)
            .dir(&dir)
            .env("HOME", &home)
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env_remove("HOMELAB_AGE_KEY_FILE")
            .ok();
        Self { tmp, dir, home }
    }

    /// A command in this repository with a private HOME (and ~/.ssh, ~/.config in it).
    fn cmd(&self, command: &str) -> Homelab {
        homelab()
            .dir(&self.dir)
            .arg(command)
            .env("HOME", &self.home)
            .env("XDG_CONFIG_HOME", self.home.join(".config"))
            .env_remove("HOMELAB_AGE_KEY_FILE")
            .env_remove("SSH_AUTH_SOCK")
    }

    fn bootstrap(&self, kubeconfig: &Path) -> Homelab {
        self.cmd("bootstrap")
            .args(["--yes", "--no-wait", "--kubeconfig"])
            .arg(kubeconfig)
    }

    /// A kubeconfig named `name` in the lab for `server`, with `user`.
    fn kubeconfig(&self, name: &str, server: &str, user: &str) -> PathBuf {
        write_kubeconfig(&self.tmp.path().join(name), server, user)
    }
}

/// Run, check it ended well within [`HANG`] and with `code`.
fn timed(cmd: Homelab, code: i32) -> Run {
    let start = Instant::now();
    let run = cmd.run();
    let took = start.elapsed();
    assert!(took < HANG, "took {took:?}\n{}", run.describe());
    assert_eq!(run.code(), code, "unexpected exit code\n{}", run.describe());
    run
}

/// A port where nothing listens: connections are refused at once.
fn refused_port() -> u16 {
    gitserver::free_port()
}

// ------------------------------------------------------------------ hanging API servers

#[test]
fn bootstrap_gives_up_on_an_api_server_that_never_answers_or_trickles() {
    let lab = Lab::new(&format!("https://127.0.0.1:{}/homelab.git", refused_port()));
    let json = Stall::Trickle {
        content_type: "application/json",
        prefix: "",
    };
    for (i, (stall, tls)) in [(Stall::Silent, true), (json, false), (json, true)]
        .into_iter()
        .enumerate()
    {
        let server = StallServer::start(lab.tmp.path(), stall, tls);
        let scheme = if tls { "https" } else { "http" };
        let url = format!("{scheme}://127.0.0.1:{}", server.port);
        let kubeconfig = lab.kubeconfig(&format!("stall-{i}"), &url, TOKEN_USER);
        let bootstrap = lab
            .bootstrap(&kubeconfig)
            .args(["--request-timeout", "2s"])
            .env("HOMELAB_GIT_TOKEN", "t");
        timed(bootstrap, 1)
            .stderr_has(&format!(
                "cannot reach the Kubernetes API server {url} (context home): no complete answer within 2s"
            ))
            .stderr_has("--request-timeout");
    }
}

#[test]
fn bootstrap_stops_a_credential_plugin_that_never_returns() {
    let lab = Lab::new(&format!("https://127.0.0.1:{}/homelab.git", refused_port()));
    let pid_file = lab.tmp.path().join("plugin.pid");
    let refused = format!("https://127.0.0.1:{}", refused_port());
    let kubeconfig = lab.kubeconfig("plugin", &refused, &hanging_plugin(&pid_file));
    let bootstrap = lab
        .bootstrap(&kubeconfig)
        .args(["--request-timeout", "2s"])
        .env("HOMELAB_GIT_TOKEN", "t");
    timed(bootstrap, 1)
        .stderr_has(
            "the kubeconfig's credential plugin `sh` did not finish within 2s; it was stopped",
        )
        .stderr_has("--request-timeout");
    assert_plugin_stopped(&pid_file);
}

/// `init` checks the cluster answers before bootstrapping; that check is bounded as a
/// whole, the credential plugin included, and a cluster that does not answer only means
/// the bootstrap is skipped, with the reason.
#[test]
fn init_bounds_its_reachability_check() {
    let tmp = tempfile::tempdir().unwrap();
    let silent = StallServer::start(tmp.path(), Stall::Silent, false);
    let server = format!("https://127.0.0.1:{}", silent.port);
    let pid_file = tmp.path().join("plugin.pid");
    let plugin = write_kubeconfig(
        &tmp.path().join("plugin"),
        &server,
        &hanging_plugin(&pid_file),
    );
    let token = write_kubeconfig(&tmp.path().join("token"), &server, TOKEN_USER);
    let cases = [
        (
            plugin,
            vec!["--request-timeout", "2s"],
            "skipped bootstrap: the kubeconfig's credential plugin `sh` did not finish within 2s",
        ),
        (token, vec![], "did not answer within 5s"),
    ];
    for (i, (kubeconfig, flags, expected)) in cases.iter().enumerate() {
        // A remote of its own per run: each init makes a repository with its own age key.
        let remote = gitserver::bare_repo(&tmp.path().join(format!("remote-{i}.git")), "main");
        let answers = tmp.path().join(format!("answers-{i}.yaml"));
        std::fs::write(&answers, config(&format!("file://{}", remote.display()))).unwrap();
        let init = homelab()
            .args(["init", "--config"])
            .arg(&answers)
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .args(flags)
            .dir(&tmp.path().join(format!("homelab-{i}")))
            .env("HOME", tmp.path());
        timed(init, 0).stderr_has(expected);
    }
    assert_plugin_stopped(&pid_file);
}

// ------------------------------------------------------------------ one kubeconfig resolver

/// The one finding of `check` in a `doctor --output json` run.
fn doctor_finding(run: &Run, check: &str) -> Value {
    let doc: Value = serde_json::from_str(&run.stdout())
        .unwrap_or_else(|e| panic!("not JSON: {e}\n{}", run.describe()));
    doc["sections"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["findings"].as_array().unwrap().clone())
        .find(|f| f["check"] == check)
        .unwrap_or_else(|| panic!("no {check} finding\n{}", run.describe()))
}

/// Assert a doctor finding's status, and that its message contains `needle`.
fn assert_doctor(run: &Run, check: &str, status: &str, needle: &str) {
    let found = doctor_finding(run, check);
    assert_eq!(found["status"], status, "{found:#}");
    let message = found["message"].as_str().unwrap();
    assert!(message.contains(needle), "{found:#}");
}

/// `doctor` says OK exactly where `bootstrap` gets past the same step.
#[test]
fn doctor_and_bootstrap_resolve_the_kubeconfig_alike() {
    let lab = Lab::new(&format!("https://127.0.0.1:{}/homelab.git", refused_port()));
    let refused = format!("https://127.0.0.1:{}", refused_port());
    let real = lab.kubeconfig("real", &refused, TOKEN_USER);
    let missing = lab.tmp.path().join("missing");
    let doctor = |kubeconfig: &std::ffi::OsStr| {
        let doctor = lab
            .cmd("doctor")
            .args(["--output", "json", "--git-timeout", "2s"])
            .env("KUBECONFIG", kubeconfig);
        timed(doctor, 1)
    };
    let bootstrap = |kubeconfig: &std::ffi::OsStr, code| {
        let bootstrap = lab
            .cmd("bootstrap")
            .args(["--yes", "--no-wait"])
            .env("KUBECONFIG", kubeconfig)
            .env("HOMELAB_GIT_TOKEN", "t");
        timed(bootstrap, code)
    };

    // A KUBECONFIG entry that does not exist is skipped by both: the next step is reached.
    let both = std::env::join_paths([&missing, &real]).unwrap();
    let run = doctor(&both);
    assert_doctor(&run, "cluster.kubeconfig", "ok", "skipped, not found");
    assert_doctor(&run, "cluster.reachable", "failed", &refused);
    bootstrap(&both, 1).stderr_has(&format!("cannot reach the Kubernetes API server {refused}"));

    // None of them exists: both fail at the first step, saying the same.
    let expected = format!(
        "no kubeconfig: none of the KUBECONFIG files exist ({})",
        missing.display()
    );
    let run = doctor(missing.as_os_str());
    assert_doctor(&run, "cluster.kubeconfig", "failed", &expected);
    bootstrap(missing.as_os_str(), 2).stderr_has(&expected);

    // A current-context that names no context: the same message, not a --context error.
    let text = std::fs::read_to_string(&real)
        .unwrap()
        .replace("current-context: home", "current-context: gone");
    let dangling = lab.tmp.path().join("dangling");
    std::fs::write(&dangling, text).unwrap();
    let expected = "the kubeconfig's current-context \"gone\" names no context it defines";
    let run = doctor(dangling.as_os_str());
    assert_doctor(&run, "cluster.context", "failed", expected);
    bootstrap(dangling.as_os_str(), 2)
        .stderr_has(expected)
        .stderr_has("pass --context with one of: home");
}

// ------------------------------------------------------------------ one SSH trust policy

fn fingerprint(public_key_line: &str) -> String {
    let key = ssh_key::PublicKey::from_openssh(public_key_line).unwrap();
    key.fingerprint(ssh_key::HashAlg::Sha256).to_string()
}

async fn namespace_exists(client: &kube::Client, name: &str) -> bool {
    let api: Api<Namespace> = Api::all(client.clone());
    api.get_opt(name).await.unwrap().is_some()
}

async fn known_hosts_for_flux(client: &kube::Client) -> String {
    let api: Api<Secret> = Api::namespaced(client.clone(), "flux-system");
    let secret = api.get("flux-system").await.unwrap();
    let data = secret.data.unwrap();
    String::from_utf8(data["known_hosts"].0.clone()).unwrap()
}

/// Bootstrap reads the git server's host key for Flux and trusts it exactly as `push`
/// does: `--known-hosts`, `--accept-new-host-key` (recording the key), `@revoked`, and no
/// silent trust of an unknown key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_trusts_the_git_host_key_by_the_push_policy() {
    let server = ApiServer::start();
    let client = server.client().await;
    let tmp = tempfile::tempdir().unwrap();
    let sshd = Sshd::start(&tmp.path().join("sshd"), &[]);
    let url = format!("ssh://git@127.0.0.1:{}/srv/homelab.git", sshd.port);
    let lab = Lab::new(&url);
    let fp = fingerprint(&sshd.host_key);
    // As recorded: the key without its comment.
    let key: Vec<&str> = sshd.host_key.split_whitespace().take(2).collect();
    let line = format!("[127.0.0.1]:{} {}\n", sshd.port, key.join(" "));
    let extra = lab.tmp.path().join("known_hosts.extra");

    // Unknown key, no terminal, no flag: refused before anything is applied.
    lab.bootstrap(server.kubeconfig())
        .expect_code(1)
        .stderr_has("is not known")
        .stderr_has(&fp)
        .stderr_has("--accept-new-host-key");
    assert!(!namespace_exists(&client, "flux-system").await);
    assert!(!extra.exists());

    // Accepted on request: recorded in the --known-hosts file, and handed to Flux.
    lab.bootstrap(server.kubeconfig())
        .arg("--known-hosts")
        .arg(&extra)
        .arg("--accept-new-host-key")
        .expect_code(0)
        .stderr_has("added the SSH host key");
    assert_eq!(std::fs::read_to_string(&extra).unwrap(), line);
    assert_eq!(known_hosts_for_flux(&client).await, line);

    // Known from then on: a new deploy key needs no flag.
    lab.bootstrap(server.kubeconfig())
        .arg("--known-hosts")
        .arg(&extra)
        .arg("--rotate-keys")
        .expect_code(0)
        .stderr_has("matches your known_hosts");

    // Revoked: refused even when accepting new keys, and Flux keeps what it had.
    let ssh_dir = lab.home.join(".ssh");
    std::fs::create_dir_all(&ssh_dir).unwrap();
    std::fs::write(
        ssh_dir.join("known_hosts"),
        format!("@revoked * {}\n", sshd.host_key),
    )
    .unwrap();
    lab.bootstrap(server.kubeconfig())
        .arg("--known-hosts")
        .arg(&extra)
        .args(["--rotate-keys", "--accept-new-host-key"])
        .expect_code(1)
        .stderr_has("@revoked")
        .stderr_has(&fp);
    assert_eq!(known_hosts_for_flux(&client).await, line);
}
