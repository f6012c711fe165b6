//! `homelab init --config`: the non-interactive path, end to end through the binary.

use std::path::Path;

use crate::support::{example_config, homelab, root};

fn commit_count(dir: &Path) -> usize {
    let repo = git2::Repository::open(dir).expect("a git repository");
    let mut walk = repo.revwalk().expect("revwalk");
    walk.push_head().expect("HEAD");
    walk.count()
}

#[test]
fn init_from_config_renders_and_commits_once() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("lab");
    homelab()
        .args(["init", "--no-push", "--no-bootstrap", "--config"])
        .arg(example_config())
        .dir(&dir)
        .ok()
        .stderr_has("skipped push")
        .stderr_has("skipped bootstrap");
    for file in [
        "homelab.yaml",
        "README.md",
        "clusters/homelab/flux-system/gotk-components.yaml",
        "clusters/homelab/flux-system/gotk-sync.yaml",
        "clusters/homelab/flux-system/kustomization.yaml",
        "clusters/homelab/infrastructure.yaml",
        "clusters/homelab/apps.yaml",
        "apps/kustomization.yaml",
    ] {
        assert!(dir.join(file).is_file(), "{file} missing");
    }
    assert_eq!(commit_count(&dir), 1);
    let repo = git2::Repository::open(&dir).expect("repo");
    assert!(
        repo.statuses(None).expect("status").is_empty(),
        "work tree not clean after init"
    );

    // Twice: nothing changes.
    homelab()
        .args(["init", "--no-push", "--no-bootstrap", "--config"])
        .arg(example_config())
        .dir(&dir)
        .ok();
    assert_eq!(commit_count(&dir), 1);
}

#[test]
fn init_refuses_a_different_existing_homelab() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("lab");
    homelab()
        .args(["init", "--no-push", "--no-bootstrap", "--config"])
        .arg(example_config())
        .dir(&dir)
        .ok();
    let other = tmp.path().join("other.yaml");
    let text = std::fs::read_to_string(example_config())
        .expect("read")
        .replace("example.com", "example.org");
    std::fs::write(&other, text).expect("write");
    homelab()
        .args(["init", "--no-push", "--no-bootstrap", "--config"])
        .arg(&other)
        .dir(&dir)
        .expect_code(2)
        .stderr_has("already holds a different homelab");
    assert_eq!(commit_count(&dir), 1);
}

/// Every invalid config of the corpus fails through the binary with exactly its expected
/// diagnostics, exit 2, and writes nothing.
#[test]
fn invalid_configs_fail_with_their_diagnostics_and_write_nothing() {
    let corpus = root().join("tests/corpus/invalid");
    let mut cases = 0;
    for entry in std::fs::read_dir(&corpus).expect("corpus") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        cases += 1;
        let expected =
            std::fs::read_to_string(path.with_extension("expected")).expect("expected file");
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("lab");
        let run = homelab()
            .args(["init", "--no-push", "--no-bootstrap", "--config"])
            .arg(&path)
            .dir(&dir)
            .expect_code(2);
        let stderr = run.stderr();
        for line in expected.lines().filter(|l| !l.trim().is_empty()) {
            assert!(
                stderr.contains(line),
                "{}: stderr lacks {line:?}\n{stderr}",
                path.display()
            );
        }
        assert!(
            !dir.exists(),
            "{}: init wrote into {}",
            path.display(),
            dir.display()
        );
    }
    assert!(
        cases >= 30,
        "the corpus has {cases} cases, expected at least 30"
    );
}

/// With a remote, init pushes what it committed; an API server that does not answer makes
/// it skip the bootstrap and say so, rather than fail after the push.
#[test]
fn init_pushes_and_skips_an_unreachable_cluster() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let remote = tmp.path().join("remote.git");
    git2::Repository::init_bare(&remote).expect("bare remote");
    let config = tmp.path().join("homelab.yaml");
    let text = std::fs::read_to_string(example_config())
        .expect("read")
        .replace(
            "  url: \"\"",
            &format!("  url: \"file://{}\"", remote.display()),
        );
    std::fs::write(&config, text).expect("write config");
    let kubeconfig = tmp.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: \"https://127.0.0.1:1\", insecure-skip-tls-verify: true}\nusers:\n- name: u\n  user: {token: t}\ncontexts:\n- name: lab\n  context: {cluster: c, user: u}\ncurrent-context: lab\n",
    )
    .expect("write kubeconfig");
    let dir = tmp.path().join("lab");
    homelab()
        .args(["init", "--config"])
        .arg(&config)
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .dir(&dir)
        .ok()
        .stderr_has("skipped bootstrap");
    let local = git2::Repository::open(&dir)
        .expect("local")
        .head()
        .expect("head")
        .target();
    let pushed = git2::Repository::open_bare(&remote)
        .expect("remote")
        .refname_to_id("refs/heads/main")
        .ok();
    assert_eq!(pushed, local, "the remote's main is not the local commit");
}
