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
    crate::support::init_example()
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

    // Twice: nothing changes, not a file, not its time, not a ref.
    let before = crate::support::fingerprint(&dir);
    crate::support::init_example().dir(&dir).ok();
    assert_eq!(crate::support::fingerprint(&dir), before);
    assert_eq!(commit_count(&dir), 1);
}

#[test]
fn init_refuses_a_different_existing_homelab() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("lab");
    crate::support::init_example().dir(&dir).ok();
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
/// diagnostics, exit 2, and writes nothing; `render` of the same file fails with the same
/// exit code and message.
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
        let expected = crate::support::snapshot::corpus_expectation(&path);
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("lab");
        let existing = tmp.path().join("existing");
        std::fs::create_dir(&existing).expect("mkdir");
        let config = existing.join("homelab.yaml");
        std::fs::copy(&path, &config).expect("copy");
        let run = homelab()
            .args(["init", "--no-push", "--no-bootstrap", "--config"])
            .arg(&config)
            .dir(&dir)
            .expect_code(2);
        let stderr = run.stderr();
        let render = homelab().arg("render").dir(&existing).expect_code(2);
        assert_eq!(render.stderr(), stderr, "{}", path.display());
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

fn init_args() -> Vec<&'static str> {
    vec!["init", "--no-push", "--no-bootstrap", "--config"]
}

fn tracked(dir: &Path) -> Vec<String> {
    let repo = git2::Repository::open(dir).expect("repo");
    let tree = repo.head().expect("head").peel_to_tree().expect("tree");
    let mut out = Vec::new();
    tree.walk(git2::TreeWalkMode::PreOrder, |root, entry| {
        if entry.kind() == Some(git2::ObjectType::Blob) {
            out.push(format!("{root}{}", entry.name().unwrap_or_default()));
        }
        git2::TreeWalkResult::Ok
    })
    .expect("walk");
    out
}

#[test]
fn init_refuses_a_directory_with_other_files_and_never_commits_them() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let home = tmp.path().join("home");
    for (path, text) in [
        (
            ".ssh/id_ed25519",
            concat!("-----BEGIN OPENSSH ", "PRIVATE KEY----- FAKE\n"),
        ),
        (
            ".aws/credentials",
            "[default]\naws_secret_access_key = FAKE\n",
        ),
        ("notes.txt", "mine\n"),
    ] {
        let file = home.join(path);
        std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
        std::fs::write(file, text).expect("write");
    }
    let remote = tmp.path().join("remote.git");
    git2::Repository::init_bare(&remote).expect("bare");
    let config = tmp.path().join("cfg.yaml");
    let text = std::fs::read_to_string(example_config())
        .expect("read")
        .replace(
            "  url: \"\"",
            &format!("  url: \"file://{}\"", remote.display()),
        );
    std::fs::write(&config, text).expect("write");

    // From the home directory by mistake: refused, nothing created.
    homelab()
        .args(["init", "--no-bootstrap", "--config"])
        .arg(&config)
        .current_dir(&home)
        .expect_code(2)
        .stderr_has("is not empty")
        .stderr_has("--allow-non-empty");
    assert!(!home.join(".git").exists());
    assert!(!home.join("homelab.yaml").exists());

    // Told to: only the rendered files are committed and pushed.
    homelab()
        .args(["init", "--no-bootstrap", "--allow-non-empty", "--config"])
        .arg(&config)
        .current_dir(&home)
        .ok();
    let pushed = git2::Repository::open_bare(&remote).expect("remote");
    let tree = pushed
        .find_reference("refs/heads/main")
        .expect("pushed")
        .peel_to_tree()
        .expect("tree");
    for secret in [".ssh/id_ed25519", ".aws/credentials", "notes.txt"] {
        assert!(
            tree.get_path(Path::new(secret)).is_err(),
            "{secret} was pushed"
        );
    }
    assert!(tree.get_path(Path::new("homelab.yaml")).is_ok());
    let files = tracked(&home);
    assert!(
        files
            .iter()
            .all(|f| !f.starts_with(".ssh") && !f.starts_with(".aws")),
        "{files:?}"
    );
}

#[test]
fn init_renders_a_gitignore_and_creates_the_age_key_with_sops_yaml() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let config_home = tmp.path().join("config");
    let dir = tmp.path().join("lab");
    let run = homelab()
        .args(init_args())
        .arg(example_config())
        .dir(&dir)
        .env("XDG_CONFIG_HOME", &config_home)
        .ok();
    let gitignore = std::fs::read_to_string(dir.join(".gitignore")).expect(".gitignore");
    for pattern in ["*.agekey", "id_ed25519", ".aws/", "*.pem"] {
        assert!(gitignore.lines().any(|l| l == pattern), "{pattern} missing");
    }
    let sops = std::fs::read_to_string(dir.join(".sops.yaml")).expect(".sops.yaml");
    let recipients = homelab::secrets::sops_recipients(&sops);
    assert_eq!(recipients.len(), 1, "{sops}");
    let key = config_home
        .join("homelab/age")
        .join(format!("{}.agekey", recipients[0]));
    assert!(key.is_file(), "{} missing", key.display());
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&key).expect("key").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    run.stderr_has(&key.display().to_string())
        .stderr_has("back up the age key");
    let files = tracked(&dir);
    assert!(files.contains(&".sops.yaml".to_owned()) && files.contains(&".gitignore".to_owned()));
    assert!(files.iter().all(|f| !f.ends_with(".agekey")));
}

#[test]
fn two_repositories_with_the_same_cluster_name_never_share_a_key_and_a_clone_finds_its_own() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let config_home = tmp.path().join("config");
    let mut recipients = Vec::new();
    for name in ["one", "two"] {
        let dir = tmp.path().join(name);
        homelab()
            .args(init_args())
            .arg(example_config())
            .dir(&dir)
            .env("XDG_CONFIG_HOME", &config_home)
            .ok();
        let sops = std::fs::read_to_string(dir.join(".sops.yaml")).expect(".sops.yaml");
        recipients.push(homelab::secrets::sops_recipients(&sops)[0].clone());
    }
    assert_ne!(
        recipients[0], recipients[1],
        "the same cluster name shared a key"
    );

    // A fresh clone of the second finds the second's key through .sops.yaml.
    let clone = tmp.path().join("clone");
    git2::Repository::clone(tmp.path().join("two").to_str().expect("utf8"), &clone).expect("clone");
    homelab()
        .dir(&clone)
        .env("XDG_CONFIG_HOME", &config_home)
        .args(["add-app", "grafana", "--non-interactive", "--no-push"])
        .ok();
    let secret =
        std::fs::read_to_string(clone.join("apps/grafana/secret.sops.yaml")).expect("secret");
    assert!(
        secret.contains(&recipients[1]),
        "encrypted for the clone's own key"
    );
    assert!(!secret.contains(&recipients[0]));
}

#[test]
fn the_age_key_file_is_never_inside_the_repository_nor_readable_by_others() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("lab");
    homelab()
        .args(init_args())
        .arg(example_config())
        .dir(&dir)
        .env("HOMELAB_AGE_KEY_FILE", tmp.path().join("keys/lab.agekey"))
        .ok();
    let head = git2::Repository::open(&dir)
        .expect("repo")
        .head()
        .expect("head")
        .target();

    // A relative path resolving inside the repository: refused before anything is written.
    homelab()
        .current_dir(&dir)
        .env("HOMELAB_AGE_KEY_FILE", "age.agekey")
        .args(["add-app", "grafana", "--non-interactive", "--no-push"])
        .expect_code(2)
        .stderr_has("inside the repository");
    assert!(!dir.join("age.agekey").exists());
    let now = git2::Repository::open(&dir)
        .expect("repo")
        .head()
        .expect("head")
        .target();
    assert_eq!(now, head);

    // A key file others can read: refused with the chmod hint.
    use std::os::unix::fs::PermissionsExt as _;
    let key = tmp.path().join("keys/lab.agekey");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    homelab()
        .dir(&dir)
        .env("HOMELAB_AGE_KEY_FILE", &key)
        .args(["add-app", "grafana", "--non-interactive", "--no-push"])
        .expect_code(2)
        .stderr_has(&format!("hint: chmod 600 {}", key.display()));
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    homelab()
        .dir(&dir)
        .env("HOMELAB_AGE_KEY_FILE", &key)
        .args(["add-app", "grafana", "--non-interactive", "--no-push"])
        .ok();
}

#[test]
fn bootstrap_needs_the_age_key_and_says_where_it_belongs() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let config_home = tmp.path().join("config");
    let dir = tmp.path().join("lab");
    let config = tmp.path().join("cfg.yaml");
    let text = std::fs::read_to_string(example_config())
        .expect("read")
        .replace("  url: \"\"", "  url: \"ssh://git@127.0.0.1:1/lab.git\"");
    std::fs::write(&config, text).expect("write");
    homelab()
        .args(init_args())
        .arg(&config)
        .dir(&dir)
        .env("XDG_CONFIG_HOME", &config_home)
        .ok();
    let keys: Vec<_> = std::fs::read_dir(config_home.join("homelab/age"))
        .expect("keys")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(keys.len(), 1);
    std::fs::remove_file(&keys[0]).expect("lose the key");
    homelab()
        .dir(&dir)
        .env("XDG_CONFIG_HOME", &config_home)
        .args(["bootstrap", "--kubeconfig", "/nonexistent"])
        .expect_code(1)
        .stderr_has("is missing: expected")
        .stderr_has(&keys[0].display().to_string())
        .stderr_has("hint: restore your backup");
}

/// A full disk during init: the in-process rollback leaves no half-written repository, and
/// a retry with room succeeds. Runs in a user and mount namespace with a small tmpfs.
#[test]
fn a_full_disk_during_init_rolls_back_and_a_retry_works() {
    let probe = std::process::Command::new("unshare")
        .args(["-rm", "true"])
        .status();
    if !probe.is_ok_and(|s| s.success()) {
        eprintln!("skipped: no user namespaces here (unshare -rm)");
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let mnt = tmp.path().join("disk");
    std::fs::create_dir(&mnt).expect("mkdir");
    let bin = env!("CARGO_BIN_EXE_homelab");
    let script = r#"set -u
mount -t tmpfs -o size=450k tmpfs "$MNT"
"$BIN" init --no-push --no-bootstrap --config "$CFG" --dir "$MNT/lab"; echo "first=$?"
ls -A "$MNT/lab" | tr '\n' ' '; echo
test -e "$MNT/lab/.git/homelab-apply.journal" && echo journal-left
mount -o remount,size=64m "$MNT"
"$BIN" init --no-push --no-bootstrap --config "$CFG" --dir "$MNT/lab"; echo "second=$?"
git -C "$MNT/lab" status --porcelain | wc -l | sed 's/^/dirty=/'
git -C "$MNT/lab" rev-list --count HEAD | sed 's/^/commits=/'
"#;
    let out = std::process::Command::new("unshare")
        .args(["-rm", "sh", "-c", script])
        .env("MNT", &mnt)
        .env("BIN", bin)
        .env("CFG", example_config())
        .env("NO_COLOR", "1")
        .env("HOMELAB_FLUX_MANIFESTS", crate::support::flux_install())
        .env("XDG_CONFIG_HOME", tmp.path().join("config"))
        .output()
        .expect("unshare");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let report = format!("--- stdout\n{stdout}\n--- stderr\n{stderr}");
    assert!(stdout.contains("first=1"), "{report}");
    assert!(stderr.contains("space"), "{report}");
    assert!(!stdout.contains("journal-left"), "{report}");
    let listing = stdout.lines().nth(1).unwrap_or_default();
    assert_eq!(
        listing.trim(),
        ".git",
        "only the empty git repository is left: {report}"
    );
    assert!(stdout.contains("second=0"), "{report}");
    assert!(
        stdout.contains("dirty=0") && stdout.contains("commits=1"),
        "{report}"
    );
}
