//! Safe re-rendering: the user's edits survive, merges are three-way, conflicts are reported,
//! and an interrupted apply leaves the repository exactly as it was.
//!
//! The renderings are maps built here: an "older template set" (v0) and the current one (v1)
//! of a small but realistic Flux repository, so every rule is exercised on real git
//! repositories in temporary directories.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use homelab::render::state::{RENDERED_REF, STATE_FILE, State};
use homelab::render::write::{Mode, Outcome, Report, apply, recover};

const HELMRELEASE: &str = "infrastructure/controllers/traefik/helmrelease.yaml";
const KUSTOMIZATION: &str = "infrastructure/controllers/kustomization.yaml";
const NAMESPACE: &str = "infrastructure/controllers/traefik/namespace.yaml";
const OLD_ONLY: &str = "infrastructure/controllers/legacy/configmap.yaml";
const NEW_ONLY: &str = "infrastructure/controllers/traefik/ocirepository.yaml";
const USER_FILE: &str = "apps/mine/deployment.yaml";

const HELMRELEASE_V0: &str = r#"apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: traefik
  namespace: traefik
spec:
  interval: 30m
  chartRef:
    kind: OCIRepository
    name: traefik
  install:
    remediation:
      retries: 3
  values:
    service:
      annotations:
        metallb.io/loadBalancerIPs: "192.168.1.240"
    ingressClass:
      enabled: true
      isDefaultClass: true
    ports:
      web:
        redirections:
          entryPoint:
            to: websecure
            scheme: https
"#;

/// The current template set: a longer interval and an upgrade remediation, far from the values.
const HELMRELEASE_V1: &str = r#"apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: traefik
  namespace: traefik
spec:
  interval: 1h
  chartRef:
    kind: OCIRepository
    name: traefik
  install:
    remediation:
      retries: 3
  upgrade:
    remediation:
      retries: 3
  values:
    service:
      annotations:
        metallb.io/loadBalancerIPs: "192.168.1.240"
    ingressClass:
      enabled: true
      isDefaultClass: true
    ports:
      web:
        redirections:
          entryPoint:
            to: websecure
            scheme: https
"#;

const KUSTOMIZATION_V0: &str = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - traefik\n  - legacy\n";
const KUSTOMIZATION_V1: &str =
    "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - traefik\n";
const NAMESPACE_YAML: &str = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: traefik\n";
const OLD_ONLY_YAML: &str =
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: legacy\ndata:\n  a: \"1\"\n";
const NEW_ONLY_YAML: &str = "apiVersion: source.toolkit.fluxcd.io/v1\nkind: OCIRepository\nmetadata:\n  name: traefik\n  namespace: traefik\nspec:\n  interval: 12h\n  url: oci://ghcr.io/traefik/helm/traefik\n  ref:\n    tag: 41.3.0\n";

fn v0() -> BTreeMap<String, String> {
    map(&[
        (HELMRELEASE, HELMRELEASE_V0),
        (KUSTOMIZATION, KUSTOMIZATION_V0),
        (NAMESPACE, NAMESPACE_YAML),
        (OLD_ONLY, OLD_ONLY_YAML),
    ])
}

fn v1() -> BTreeMap<String, String> {
    map(&[
        (HELMRELEASE, HELMRELEASE_V1),
        (KUSTOMIZATION, KUSTOMIZATION_V1),
        (NAMESPACE, NAMESPACE_YAML),
        (NEW_ONLY, NEW_ONLY_YAML),
    ])
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

fn read(dir: &Path, path: &str) -> String {
    std::fs::read_to_string(dir.join(path)).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

fn write(dir: &Path, path: &str, text: &str) {
    let full = dir.join(path);
    std::fs::create_dir_all(full.parent().expect("parent")).expect("mkdir");
    std::fs::write(full, text).expect("write");
}

fn replace_in(dir: &Path, path: &str, from: &str, to: &str) {
    let text = read(dir, path);
    assert!(text.contains(from), "{path} lacks {from:?}");
    write(dir, path, &text.replacen(from, to, 1));
}

fn repo(dir: &Path) -> git2::Repository {
    git2::Repository::open(dir).expect("open repo")
}

fn head(dir: &Path) -> Option<git2::Oid> {
    repo(dir).head().ok().and_then(|h| h.target())
}

fn commit_count(dir: &Path) -> usize {
    let repo = repo(dir);
    let mut walk = repo.revwalk().expect("revwalk");
    walk.push_head().expect("head");
    walk.count()
}

/// Whether the working tree has uncommitted changes (untracked files included).
fn dirty(dir: &Path) -> bool {
    let repo = repo(dir);
    let mut opts = git2::StatusOptions::new();
    opts.include_untracked(true).recurse_untracked_dirs(true);
    !repo.statuses(Some(&mut opts)).expect("status").is_empty()
}

/// Every file under `dir` except `.git`, with its bytes.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).expect("read_dir") {
            let path = entry.expect("entry").path();
            if path.file_name().is_some_and(|n| n == ".git") {
                continue;
            }
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).expect("under root");
                let rel = rel.to_string_lossy().replace('\\', "/");
                out.insert(rel, std::fs::read(&path).expect("read"));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn mtime(dir: &Path, path: &str) -> std::time::SystemTime {
    std::fs::metadata(dir.join(path))
        .and_then(|m| m.modified())
        .expect("mtime")
}

fn ok(dir: &Path, new: &BTreeMap<String, String>, mode: Mode) -> Report {
    apply(dir, new, mode, "render").unwrap_or_else(|e| panic!("apply: {} {:?}", e.message, e.hint))
}

/// A repository rendered with the older template set and committed.
fn rendered_v0() -> tempfile::TempDir {
    let dir = tempdir();
    let report = ok(dir.path(), &v0(), Mode::Apply);
    assert!(report.with(Outcome::Created).count() == 4, "{report:?}");
    dir
}

#[test]
fn first_apply_creates_files_records_state_and_commits_once() {
    let dir = tempdir();
    let report = ok(dir.path(), &v0(), Mode::Apply);
    assert!(
        report
            .files
            .iter()
            .all(|f| f.outcome == Outcome::Created && f.written)
    );
    assert!(report.commit.is_some());
    assert_eq!(commit_count(dir.path()), 1);
    assert!(!dirty(dir.path()), "everything is committed");
    for (path, text) in v0() {
        assert_eq!(read(dir.path(), &path), text);
    }

    let state = State::load(dir.path()).expect("state");
    assert_eq!(state.files.len(), 4);
    let repo = repo(dir.path());
    for (path, text) in v0() {
        let record = &state.files[&path];
        assert!(record.matches(text.as_bytes()));
        // The recorded blob is the rendering, in the object database.
        let blob = repo
            .find_blob(git2::Oid::from_str(&record.blob).expect("oid"))
            .expect("blob stored");
        assert_eq!(blob.content(), text.as_bytes());
    }
    // The renderings stay reachable from the rendered ref.
    let rendered = repo
        .find_reference(RENDERED_REF)
        .expect("ref")
        .peel_to_tree()
        .expect("tree");
    assert!(rendered.get_path(Path::new(HELMRELEASE)).is_ok());
    // The state file is committed with the files it describes.
    let committed = repo.head().unwrap().peel_to_tree().unwrap();
    assert!(committed.get_path(Path::new(STATE_FILE)).is_ok());
}

#[test]
fn second_apply_writes_nothing_and_makes_no_commit() {
    let dir = rendered_v0();
    let before = head(dir.path());
    let times: Vec<_> = v0().keys().map(|p| mtime(dir.path(), p)).collect();
    let state_time = mtime(dir.path(), STATE_FILE);

    let report = ok(dir.path(), &v0(), Mode::Apply);
    assert!(
        report
            .files
            .iter()
            .all(|f| f.outcome == Outcome::Unchanged && !f.written)
    );
    assert_eq!(report.commit, None);
    assert_eq!(head(dir.path()), before);
    let after: Vec<_> = v0().keys().map(|p| mtime(dir.path(), p)).collect();
    assert_eq!(times, after);
    assert_eq!(state_time, mtime(dir.path(), STATE_FILE));
}

#[test]
fn a_config_change_rewrites_only_the_affected_files() {
    let dir = rendered_v0();
    let untouched = mtime(dir.path(), NAMESPACE);
    let mut new = v0();
    new.insert(
        KUSTOMIZATION.into(),
        KUSTOMIZATION_V0.replace("legacy", "legacy-renamed"),
    );
    let report = ok(dir.path(), &new, Mode::Apply);
    assert_eq!(report.outcome(KUSTOMIZATION), Some(Outcome::Updated));
    assert_eq!(report.outcome(NAMESPACE), Some(Outcome::Unchanged));
    assert_eq!(report.files.iter().filter(|f| f.written).count(), 1);
    assert_eq!(mtime(dir.path(), NAMESPACE), untouched);
    assert!(read(dir.path(), KUSTOMIZATION).contains("legacy-renamed"));
    assert_eq!(commit_count(dir.path()), 2);
    assert!(!dirty(dir.path()));
}

#[test]
fn a_user_edit_is_kept_when_the_rendering_did_not_change() {
    let dir = rendered_v0();
    replace_in(
        dir.path(),
        NAMESPACE,
        "name: traefik\n",
        "name: traefik\n  labels:\n    team: me\n",
    );
    let edited = read(dir.path(), NAMESPACE);
    let mut new = v0();
    new.insert(KUSTOMIZATION.into(), KUSTOMIZATION_V1.into());
    let report = ok(dir.path(), &new, Mode::Apply);
    assert_eq!(report.outcome(NAMESPACE), Some(Outcome::KeptUserEdit));
    assert_eq!(read(dir.path(), NAMESPACE), edited);
    assert_eq!(report.outcome(KUSTOMIZATION), Some(Outcome::Updated));
    assert!(!report.has_conflicts());

    // And again: still kept, nothing written, no commit.
    let report = ok(dir.path(), &new, Mode::Apply);
    assert_eq!(report.outcome(NAMESPACE), Some(Outcome::KeptUserEdit));
    assert!(!report.wrote_anything());
    assert_eq!(report.commit, None);
}

#[test]
fn a_values_edit_merges_cleanly_with_a_template_change_elsewhere_in_the_helmrelease() {
    let dir = rendered_v0();
    replace_in(
        dir.path(),
        HELMRELEASE,
        "      isDefaultClass: true\n",
        "      isDefaultClass: true\n    logs:\n      general:\n        level: DEBUG\n",
    );
    let report = ok(dir.path(), &v1(), Mode::Apply);
    assert_eq!(report.outcome(HELMRELEASE), Some(Outcome::Merged));
    let merged = read(dir.path(), HELMRELEASE);
    assert!(
        merged.contains("  interval: 1h\n"),
        "template change applied:\n{merged}"
    );
    assert!(
        merged.contains("  upgrade:\n    remediation:\n"),
        "{merged}"
    );
    assert!(
        merged.contains("        level: DEBUG\n"),
        "user edit kept:\n{merged}"
    );
    assert!(!merged.contains("<<<<<<<"));
    let doc: serde_json::Value = serde_saphyr::from_str(&merged).expect("still YAML");
    assert_eq!(doc["spec"]["values"]["logs"]["general"]["level"], "DEBUG");
    assert_eq!(doc["spec"]["interval"], "1h");
    assert!(!report.has_conflicts());

    // The base is now the v1 rendering: the next render keeps the merged file as it is.
    let report = ok(dir.path(), &v1(), Mode::Apply);
    assert_eq!(report.outcome(HELMRELEASE), Some(Outcome::KeptUserEdit));
    assert_eq!(read(dir.path(), HELMRELEASE), merged);
    assert_eq!(report.commit, None);
}

/// The user pinned another address; the new rendering changes the same line.
fn conflicting_setup() -> (tempfile::TempDir, BTreeMap<String, String>) {
    let dir = rendered_v0();
    replace_in(dir.path(), HELMRELEASE, "192.168.1.240", "192.168.1.241");
    let mut new = v1();
    new.insert(
        HELMRELEASE.into(),
        HELMRELEASE_V1.replace("192.168.1.240", "192.168.1.250"),
    );
    (dir, new)
}

#[test]
fn a_conflicting_edit_is_reported_and_left_untouched() {
    let (dir, new) = conflicting_setup();
    let edited = read(dir.path(), HELMRELEASE);
    let state_before = State::load(dir.path()).expect("state");
    let report = ok(dir.path(), &new, Mode::Apply);
    assert!(report.has_conflicts());
    assert_eq!(report.outcome(HELMRELEASE), Some(Outcome::Conflict));
    assert_eq!(read(dir.path(), HELMRELEASE), edited, "left untouched");
    // The other files still moved on, and the base of the conflicting one did not.
    assert_eq!(report.outcome(NEW_ONLY), Some(Outcome::Created));
    let state = State::load(dir.path()).expect("state");
    assert_eq!(state.files[HELMRELEASE], state_before.files[HELMRELEASE]);
    assert_eq!(
        homelab::commands::render::status(&report),
        homelab::error::Status::ChecksFailed,
        "conflicts exit 1"
    );
    // Still a conflict next time: nothing was lost or silently resolved.
    let again = ok(dir.path(), &new, Mode::Apply);
    assert_eq!(again.outcome(HELMRELEASE), Some(Outcome::Conflict));
    assert_eq!(again.commit, None);
}

#[test]
fn merge_mode_writes_standard_conflict_markers() {
    let (dir, new) = conflicting_setup();
    let report = ok(dir.path(), &new, Mode::Merge);
    assert_eq!(report.outcome(HELMRELEASE), Some(Outcome::Conflict));
    assert!(report.has_conflicts());
    let text = read(dir.path(), HELMRELEASE);
    assert!(text.contains("<<<<<<< ours\n"), "{text}");
    assert!(text.contains("192.168.1.241\"\n=======\n"), "{text}");
    assert!(text.contains("192.168.1.250\"\n>>>>>>> theirs\n"), "{text}");
    // The rest of the template change is merged around the conflict.
    assert!(text.contains("  interval: 1h\n"), "{text}");

    // The user resolves by keeping their address; the next render keeps the resolution.
    let resolved = text
        .lines()
        .filter(|l| !l.starts_with("<<<<<<<") && !l.starts_with(">>>>>>>"))
        .collect::<Vec<_>>()
        .join("\n");
    let resolved = resolved.replace(
        "        metallb.io/loadBalancerIPs: \"192.168.1.241\"\n=======\n        metallb.io/loadBalancerIPs: \"192.168.1.250\"\n",
        "        metallb.io/loadBalancerIPs: \"192.168.1.241\"\n",
    ) + "\n";
    assert!(!resolved.contains("======="), "{resolved}");
    write(dir.path(), HELMRELEASE, &resolved);
    let report = ok(dir.path(), &new, Mode::Apply);
    assert_eq!(report.outcome(HELMRELEASE), Some(Outcome::KeptUserEdit));
    assert!(!report.has_conflicts());
    assert_eq!(read(dir.path(), HELMRELEASE), resolved);
}

#[test]
fn force_overwrites_edits_with_the_new_rendering() {
    let (dir, new) = conflicting_setup();
    write(dir.path(), USER_FILE, "kind: Deployment\n");
    let report = ok(dir.path(), &new, Mode::Force);
    assert_eq!(report.outcome(HELMRELEASE), Some(Outcome::Overwritten));
    assert_eq!(read(dir.path(), HELMRELEASE), new[HELMRELEASE]);
    assert!(!report.has_conflicts());
    assert_eq!(
        read(dir.path(), USER_FILE),
        "kind: Deployment\n",
        "user files untouched"
    );
}

#[test]
fn files_no_longer_generated_are_removed_unless_edited() {
    let dir = rendered_v0();
    let report = ok(dir.path(), &v1(), Mode::Apply);
    assert_eq!(report.outcome(OLD_ONLY), Some(Outcome::Removed));
    assert!(!dir.path().join(OLD_ONLY).exists());
    assert!(
        !dir.path()
            .join("infrastructure/controllers/legacy")
            .exists(),
        "the emptied directory goes too"
    );
    assert!(
        !State::load(dir.path())
            .unwrap()
            .files
            .contains_key(OLD_ONLY)
    );

    let dir = rendered_v0();
    replace_in(dir.path(), OLD_ONLY, "a: \"1\"", "a: \"2\"");
    let report = ok(dir.path(), &v1(), Mode::Apply);
    assert_eq!(report.outcome(OLD_ONLY), Some(Outcome::OrphanKept));
    assert!(read(dir.path(), OLD_ONLY).contains("a: \"2\""));
    assert!(!report.has_conflicts());
    // From now on it is the user's file: not tracked, never touched.
    assert!(
        !State::load(dir.path())
            .unwrap()
            .files
            .contains_key(OLD_ONLY)
    );
    let report = ok(dir.path(), &v1(), Mode::Apply);
    assert_eq!(report.outcome(OLD_ONLY), None);
    assert!(dir.path().join(OLD_ONLY).exists());
}

#[test]
fn files_the_user_added_are_never_touched() {
    let dir = rendered_v0();
    write(dir.path(), USER_FILE, "kind: Deployment\n");
    for mode in [Mode::Apply, Mode::Force, Mode::Merge] {
        let report = ok(dir.path(), &v1(), mode);
        assert_eq!(report.outcome(USER_FILE), None);
        assert_eq!(read(dir.path(), USER_FILE), "kind: Deployment\n");
    }
    // A file the user created where homelab now wants to generate one is a conflict.
    let mut new = v1();
    new.insert(USER_FILE.into(), "kind: Deployment\nmetadata: {}\n".into());
    let report = ok(dir.path(), &new, Mode::Apply);
    assert_eq!(report.outcome(USER_FILE), Some(Outcome::Conflict));
    assert_eq!(read(dir.path(), USER_FILE), "kind: Deployment\n");
}

#[test]
fn a_deleted_generated_file_stays_deleted_until_the_rendering_changes() {
    let dir = rendered_v0();
    std::fs::remove_file(dir.path().join(NAMESPACE)).unwrap();
    let report = ok(dir.path(), &v0(), Mode::Apply);
    assert_eq!(report.outcome(NAMESPACE), Some(Outcome::KeptUserEdit));
    assert!(!dir.path().join(NAMESPACE).exists());

    let mut new = v0();
    new.insert(
        NAMESPACE.into(),
        NAMESPACE_YAML.replace("traefik", "ingress"),
    );
    let report = ok(dir.path(), &new, Mode::Apply);
    assert_eq!(report.outcome(NAMESPACE), Some(Outcome::Conflict));
    assert!(!dir.path().join(NAMESPACE).exists());
}

#[test]
fn diff_mode_writes_nothing() {
    let (dir, new) = conflicting_setup();
    let before = tree(dir.path());
    let head_before = head(dir.path());
    let report = ok(dir.path(), &new, Mode::Diff);
    assert_eq!(report.outcome(HELMRELEASE), Some(Outcome::Conflict));
    assert_eq!(report.outcome(OLD_ONLY), Some(Outcome::Removed));
    assert_eq!(report.outcome(NEW_ONLY), Some(Outcome::Created));
    assert!(!report.wrote_anything());
    assert_eq!(tree(dir.path()), before);
    assert_eq!(head(dir.path()), head_before);
}

#[test]
fn diff_mode_prints_a_unified_diff_on_stdout() {
    let dir = rendered_v0();
    let before = tree(dir.path());
    let out = child("diff", dir.path(), None);
    assert!(out.status.success(), "{}", describe(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("--- a/{HELMRELEASE}\n+++ b/{HELMRELEASE}\n")),
        "{stdout}"
    );
    assert!(
        stdout.contains("-  interval: 30m\n+  interval: 1h\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("# {OLD_ONLY}: deleted")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("# {NEW_ONLY}: new file")),
        "{stdout}"
    );
    assert_eq!(tree(dir.path()), before);
}

#[test]
fn force_prints_what_is_lost() {
    let (dir, _) = conflicting_setup();
    let out = child("force", dir.path(), None);
    assert!(out.status.success(), "{}", describe(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("# {HELMRELEASE}: overwritten, losing your edits")),
        "{stdout}"
    );
    assert!(
        stdout.contains("-        metallb.io/loadBalancerIPs: \"192.168.1.241\""),
        "{stdout}"
    );
}

#[test]
fn upgrading_the_template_set_keeps_edits_and_applies_template_changes() {
    // Rendered with the older templates, edited by the user, rendered with the current ones.
    let dir = rendered_v0();
    replace_in(
        dir.path(),
        HELMRELEASE,
        "  namespace: traefik\n",
        "  namespace: traefik\n  labels:\n    team: me\n",
    );
    replace_in(
        dir.path(),
        HELMRELEASE,
        "scheme: https\n",
        "scheme: https\n            permanent: true\n",
    );
    replace_in(
        dir.path(),
        NAMESPACE,
        "name: traefik\n",
        "name: traefik\n  labels:\n    a: b\n",
    );
    write(dir.path(), USER_FILE, "kind: Deployment\n");
    let report = ok(dir.path(), &v1(), Mode::Apply);
    assert!(!report.has_conflicts(), "{}", report.summary());
    assert_eq!(report.outcome(HELMRELEASE), Some(Outcome::Merged));
    assert_eq!(report.outcome(NAMESPACE), Some(Outcome::KeptUserEdit));
    assert_eq!(report.outcome(KUSTOMIZATION), Some(Outcome::Updated));
    assert_eq!(report.outcome(OLD_ONLY), Some(Outcome::Removed));
    assert_eq!(report.outcome(NEW_ONLY), Some(Outcome::Created));
    let doc: serde_json::Value = serde_saphyr::from_str(&read(dir.path(), HELMRELEASE)).unwrap();
    assert_eq!(doc["metadata"]["labels"]["team"], "me", "the user's edit");
    let redirect = &doc["spec"]["values"]["ports"]["web"]["redirections"]["entryPoint"];
    assert_eq!(redirect["permanent"], true, "the user's edit");
    assert_eq!(
        doc["spec"]["upgrade"]["remediation"]["retries"], 3,
        "the new template"
    );
    assert_eq!(doc["spec"]["interval"], "1h", "the new template");
    assert_eq!(read(dir.path(), KUSTOMIZATION), KUSTOMIZATION_V1);
    assert!(read(dir.path(), NAMESPACE).contains("a: b"));
    assert!(!dirty(dir.path()), "one commit holds it all");
    assert_eq!(commit_count(dir.path()), 2);
}

#[test]
fn a_corrupt_state_file_stops_with_a_hint_and_changes_nothing() {
    let dir = rendered_v0();
    write(dir.path(), STATE_FILE, "version: 1\nfiles: [oops\n");
    let before = tree(dir.path());
    let err = apply(dir.path(), &v1(), Mode::Apply, "render").expect_err("corrupt");
    assert_eq!(err.exit_code(), 2);
    assert!(err.message.contains(STATE_FILE), "{}", err.message);
    assert!(
        err.hint
            .as_deref()
            .unwrap_or_default()
            .contains("git checkout")
    );
    assert_eq!(tree(dir.path()), before);
}

#[test]
fn invalid_paths_in_a_rendering_are_refused_before_writing() {
    let dir = rendered_v0();
    let before = tree(dir.path());
    for bad in [
        "../escape.yaml",
        "/abs.yaml",
        ".git/config",
        ".homelab/state.yaml",
    ] {
        let mut new = v1();
        new.insert(bad.into(), "x\n".into());
        let err = apply(dir.path(), &new, Mode::Apply, "render").expect_err(bad);
        assert!(err.message.contains(bad), "{}", err.message);
    }
    assert_eq!(tree(dir.path()), before);
}

// --- Crash safety ------------------------------------------------------------------------

/// Everything a crash could disturb: the files, HEAD, the index and the rendered ref.
#[derive(Debug, PartialEq)]
struct Snapshot {
    tree: BTreeMap<String, Vec<u8>>,
    head: Option<git2::Oid>,
    index: Vec<u8>,
    rendered: Option<git2::Oid>,
}

fn snapshot(dir: &Path) -> Snapshot {
    Snapshot {
        tree: tree(dir),
        head: head(dir),
        index: std::fs::read(dir.join(".git/index")).unwrap_or_default(),
        rendered: repo(dir).refname_to_id(RENDERED_REF).ok(),
    }
}

/// Re-run this test binary as a child that applies v1 to `dir` (see `child_process`).
fn child(mode: &str, dir: &Path, failpoint: Option<usize>) -> std::process::Output {
    let exe: PathBuf = std::env::current_exe().expect("test binary");
    let mut cmd = Command::new(exe);
    cmd.args([
        "rerender::child_process",
        "--exact",
        "--nocapture",
        "--test-threads=1",
    ])
    .env("HOMELAB_RERENDER_CHILD", mode)
    .env("HOMELAB_RERENDER_DIR", dir)
    .env("NO_COLOR", "1")
    .env_remove("HOMELAB_FAILPOINT");
    if let Some(n) = failpoint {
        cmd.env("HOMELAB_FAILPOINT", format!("render-after-{n}-writes"));
    }
    cmd.output().expect("run the child")
}

fn describe(out: &std::process::Output) -> String {
    format!(
        "status {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Not a test of its own: the body of the child processes above. Without its environment
/// variables it does nothing.
#[test]
fn child_process() {
    let (Ok(mode), Ok(dir)) = (
        std::env::var("HOMELAB_RERENDER_CHILD"),
        std::env::var("HOMELAB_RERENDER_DIR"),
    ) else {
        return;
    };
    let mode = match mode.as_str() {
        "diff" => Mode::Diff,
        "force" => Mode::Force,
        _ => Mode::Apply,
    };
    ok(Path::new(&dir), &v1(), mode);
}

/// v0 rendered and committed, then uncommitted user edits: one to merge, one file of their own.
fn crash_setup() -> tempfile::TempDir {
    let dir = rendered_v0();
    replace_in(
        dir.path(),
        HELMRELEASE,
        "      isDefaultClass: true\n",
        "      isDefaultClass: true\n    logs:\n      general:\n        level: DEBUG\n",
    );
    write(dir.path(), USER_FILE, "kind: Deployment\n");
    dir
}

#[test]
fn a_crash_at_any_write_leaves_the_previous_tree_and_git_state() {
    // v0 → v1 with a merge: 1 merged + 1 updated + 1 removed + 1 created + the state file.
    let writes = 5;
    for n in 0..=writes {
        let dir = crash_setup();
        let before = snapshot(dir.path());
        let out = child("apply", dir.path(), Some(n));
        assert!(
            !out.status.success(),
            "the failpoint aborts at {n}: {}",
            describe(&out)
        );
        let crashed = snapshot(dir.path());
        if n > 0 {
            assert_ne!(
                crashed.tree, before.tree,
                "the crash at {n} left a partial apply"
            );
        }
        assert_eq!(crashed.head, before.head, "no commit at {n}");

        assert!(recover(dir.path()).expect("recover"), "rolled back at {n}");
        assert_eq!(snapshot(dir.path()), before, "as before the crash at {n}");
        assert!(
            !recover(dir.path()).expect("recover again"),
            "nothing left at {n}"
        );

        // The next render completes normally.
        let report = ok(dir.path(), &v1(), Mode::Apply);
        assert_eq!(report.outcome(HELMRELEASE), Some(Outcome::Merged), "at {n}");
        assert!(read(dir.path(), HELMRELEASE).contains("level: DEBUG"));
        assert_eq!(commit_count(dir.path()), 2, "at {n}");
    }
}

#[test]
fn the_next_apply_rolls_back_an_interrupted_one_first() {
    let dir = crash_setup();
    let before = snapshot(dir.path());
    let out = child("apply", dir.path(), Some(3));
    assert!(!out.status.success(), "{}", describe(&out));
    // --diff refuses to plan on a half-written tree.
    let err = apply(dir.path(), &v1(), Mode::Diff, "render").expect_err("interrupted");
    assert!(err.hint.unwrap_or_default().contains("homelab render"));
    assert_ne!(snapshot(dir.path()).tree, before.tree);

    let report = ok(dir.path(), &v1(), Mode::Apply);
    assert!(report.recovered);
    assert_eq!(report.outcome(HELMRELEASE), Some(Outcome::Merged));
    assert_eq!(report.outcome(OLD_ONLY), Some(Outcome::Removed));
    assert_eq!(read(dir.path(), USER_FILE), "kind: Deployment\n");
    assert_eq!(commit_count(dir.path()), 2);
    assert!(!dirty(dir.path()));
}

#[test]
fn a_crash_in_the_very_first_apply_leaves_an_empty_repository() {
    let dir = tempdir();
    git2::Repository::init(dir.path()).expect("init");
    write(dir.path(), USER_FILE, "kind: Deployment\n");
    let before = snapshot(dir.path());
    let out = child("apply", dir.path(), Some(2));
    assert!(!out.status.success(), "{}", describe(&out));
    assert!(recover(dir.path()).expect("recover"));
    assert_eq!(snapshot(dir.path()), before);
}

// --- The command -------------------------------------------------------------------------

#[test]
fn render_keeps_the_users_homelab_yaml_as_written() {
    use homelab::commands::render::apply_rendering;
    use homelab::error::Status;
    let dir = tempdir();
    let mine = "# my homelab\nversion: 1  # keep this comment\n";
    write(dir.path(), "homelab.yaml", mine);
    let mut files = v0();
    files.insert("homelab.yaml".into(), "version: 1\n".into());
    let status = apply_rendering(dir.path(), files.clone(), Mode::Apply).expect("render");
    assert_eq!(status, Status::Ok);
    assert_eq!(read(dir.path(), "homelab.yaml"), mine);
    let state = State::load(dir.path()).expect("state");
    assert!(state.files["homelab.yaml"].matches(mine.as_bytes()));
    assert!(!dirty(dir.path()));
    // A conflict elsewhere makes the command exit 1.
    replace_in(dir.path(), HELMRELEASE, "192.168.1.240", "192.168.1.241");
    files.insert(
        HELMRELEASE.into(),
        HELMRELEASE_V0.replace("192.168.1.240", "192.168.1.250"),
    );
    let status = apply_rendering(dir.path(), files, Mode::Apply).expect("render");
    assert_eq!(status, Status::ChecksFailed);
}

#[test]
fn render_without_homelab_yaml_exits_2_with_a_hint() {
    let dir = tempdir();
    crate::support::homelab()
        .dir(dir.path())
        .arg("render")
        .expect_code(2)
        .stderr_has("homelab.yaml")
        .stderr_has("hint: run `homelab init`");
    assert!(tree(dir.path()).is_empty(), "nothing was created");
    assert!(!dir.path().join(".git").exists());
}

#[test]
fn render_refuses_force_with_merge() {
    let dir = tempdir();
    crate::support::homelab()
        .dir(dir.path())
        .args(["render", "--force", "--merge"])
        .expect_code(2)
        .stderr_has("--force");
}
