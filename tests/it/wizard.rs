//! The `homelab init` wizard, driven for real through a pseudo-terminal.

use std::process::Command;

use rexpect::session::{PtySession, spawn_command};

use crate::support::{flux_install, homelab};

fn spawn_wizard(dir: &std::path::Path) -> PtySession {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_homelab"));
    cmd.args(["init", "--no-push", "--no-bootstrap", "--dir"])
        .arg(dir)
        .env("NO_COLOR", "1")
        .env("TERM", "xterm")
        .env("HOMELAB_FLUX_MANIFESTS", flux_install())
        .env_remove("KUBECONFIG");
    spawn_command(cmd, Some(60_000)).expect("spawn homelab init in a pty")
}

/// Wait for a prompt, then type a line.
fn answer(p: &mut PtySession, prompt: &str, line: &str) {
    p.exp_string(prompt)
        .unwrap_or_else(|e| panic!("waiting for {prompt:?}: {e}"));
    p.send_line(line).expect("type");
}

/// Wait for a prompt, then press one key (selects and confirms).
fn key(p: &mut PtySession, prompt: &str, key: &str) {
    p.exp_string(prompt)
        .unwrap_or_else(|e| panic!("waiting for {prompt:?}: {e}"));
    p.send(key).expect("type");
    p.flush().expect("flush");
}

const ENTER: &str = "\r";

#[test]
fn wizard_asks_reasks_on_error_and_writes_the_repository() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("lab");
    let mut p = spawn_wizard(&dir);

    answer(&mut p, "Cluster name", "");
    answer(&mut p, "Domain", "not a domain!");
    p.exp_string("cluster.domain")
        .expect("the wrong domain is reported");
    p.send_line("lab.example.com").expect("type");
    answer(&mut p, "Node 1 name", "");
    answer(&mut p, "Node 1 IP address", "192.168.1.10");
    key(&mut p, "Node 1 role", ENTER);
    key(&mut p, "Add another node?", "y");
    answer(&mut p, "Node 2 name", "");
    answer(&mut p, "Node 2 IP address", "");
    key(&mut p, "Node 2 role", ENTER);
    key(&mut p, "Add another node?", "n");
    answer(&mut p, "LAN (node) CIDR", "");
    answer(&mut p, "Load-balancer (MetalLB) addresses", "");
    answer(&mut p, "Ingress controller address", "");
    key(&mut p, "Ingress controller", ENTER);
    key(&mut p, "Certificates", ENTER);
    answer(&mut p, "Email for Let's Encrypt", "");
    key(&mut p, "Let's Encrypt server", ENTER);
    key(&mut p, "DNS provider", ENTER);
    key(&mut p, "NFS provisioner", ENTER);
    answer(&mut p, "NFS server", "192.168.1.5");
    answer(&mut p, "NFS export path", "");
    answer(&mut p, "StorageClass name", "");
    key(&mut p, "default StorageClass?", "y");
    answer(&mut p, "Git remote URL", "");
    answer(&mut p, "Git branch", "");
    key(&mut p, "Flux components", ENTER);
    key(&mut p, "Write this homelab?", "y");
    p.exp_eof().expect("init finishes");

    let written = std::fs::read_to_string(dir.join("homelab.yaml")).expect("homelab.yaml written");
    let cfg = homelab::config::validate::parse(&written).expect("valid config");
    assert_eq!(cfg.cluster.domain, "lab.example.com");
    assert_eq!(cfg.nodes.len(), 2);
    assert_eq!(cfg.nodes[1].address, "192.168.1.11");
    assert_eq!(cfg.network.node_cidr, "192.168.1.0/24");
    assert!(
        cfg.network
            .loadbalancer_pool
            .iter()
            .all(|e| !e.contains("192.168.1.10-"))
    );
    assert!(
        dir.join("clusters/homelab/flux-system/gotk-sync.yaml")
            .is_file()
    );
    // init is idempotent: the same answers again change nothing.
    homelab()
        .args(["init", "--no-push", "--no-bootstrap", "--config"])
        .arg(dir.join("homelab.yaml"))
        .dir(&dir)
        .ok();
}

#[test]
fn ctrl_c_leaves_nothing_on_disk() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("lab");
    let mut p = spawn_wizard(&dir);
    answer(&mut p, "Cluster name", "");
    p.exp_string("Domain").expect("domain prompt");
    p.send_control('c').expect("ctrl-c");
    p.exp_eof().expect("exits");
    assert!(
        !dir.exists(),
        "init wrote into {} after Ctrl-C",
        dir.display()
    );
}

#[test]
fn without_a_terminal_or_config_init_refuses() {
    let tmp = tempfile::tempdir().expect("tempdir");
    homelab()
        .args(["init", "--no-push", "--no-bootstrap"])
        .dir(tmp.path())
        .expect_code(2)
        .stderr_has("--config");
    for dont_ask in ["--yes", "-y", "--non-interactive"] {
        homelab()
            .args(["init", dont_ask])
            .dir(tmp.path())
            .expect_code(2)
            .stderr_has("--yes (don't ask) needs --config FILE");
    }
    assert_eq!(std::fs::read_dir(tmp.path()).expect("read").count(), 0);
}

/// `--yes` is the one spelling of "don't ask"; `--non-interactive` still works, unlisted.
#[test]
fn yes_is_the_one_spelling_of_dont_ask() {
    for command in ["init", "add-app", "remove-app", "bootstrap"] {
        let help = homelab().args([command, "--help"]).ok().stdout();
        assert!(help.contains("-y, --yes"), "{command} --help:\n{help}");
        assert!(
            !help.contains("non-interactive"),
            "{command} --help:\n{help}"
        );
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    for args in [
        ["add-app", "nextcloud", "--non-interactive"],
        ["remove-app", "nextcloud", "--non-interactive"],
        ["add-app", "nextcloud", "--yes"],
        ["remove-app", "nextcloud", "-y"],
    ] {
        // Parsed (no homelab.yaml here is the error), not refused as an unknown flag.
        homelab()
            .args(args)
            .dir(tmp.path())
            .expect_code(2)
            .stderr_has("homelab.yaml not found");
    }
}
