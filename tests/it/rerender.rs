//! Safe re-rendering: the user's edits survive, merges are three-way, conflicts are reported,
//! and an interrupted apply leaves the repository exactly as it was.
//!
//! The renderings are maps built here: an "older template set" (v0) and the current one (v1)
//! of a small but realistic Flux repository, so every rule is exercised on real git
//! repositories in temporary directories.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use homelab::render::state::{RENDERED_REF, STATE_FILE, State};
use homelab::render::write::{Mode, Outcome, Report, apply, recover};

use crate::support::{example_config, homelab};

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

/// The paths with uncommitted changes (untracked files included).
fn uncommitted(dir: &Path) -> Vec<String> {
    let repo = repo(dir);
    let mut opts = git2::StatusOptions::new();
    opts.include_untracked(true).recurse_untracked_dirs(true);
    repo.statuses(Some(&mut opts))
        .expect("status")
        .iter()
        .filter_map(|s| s.path().ok().map(str::to_owned))
        .collect()
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
        homelab::ui::render::status(&report),
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
    // One commit holds all of homelab's files; the user's own file is never swept in.
    assert_eq!(uncommitted(dir.path()), [USER_FILE]);
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
        "--ignored",
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

/// Not a test of its own: the body of the child processes above, which shows the write's
/// report as `homelab render` does (the diff on stdout); run only by them (ignored otherwise,
/// so it is never counted as a passing test). Without its environment variables
/// it does nothing.
#[test]
#[ignore = "the body of the crash tests' child processes, run by them"]
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
    let report = ok(Path::new(&dir), &v1(), mode);
    homelab::ui::render::show(&report, false);
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
    assert_eq!(uncommitted(dir.path()), [USER_FILE]);
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
    let (_tmp, dir) = lab();
    let mine = format!(
        "# my homelab\n{}",
        read(&dir, "homelab.yaml").replace("version: 1", "version: 1  # keep this comment")
    );
    write(&dir, "homelab.yaml", &mine);
    homelab().dir(&dir).arg("render").ok();
    assert_eq!(read(&dir, "homelab.yaml"), mine);
    let state = State::load(&dir).expect("state");
    assert!(state.files["homelab.yaml"].matches(mine.as_bytes()));
    assert!(!dirty(&dir));
}

/// `-v` lists every file, unchanged ones too, and the totals count the listed lines.
#[test]
fn verbose_render_lists_every_file_and_the_totals_add_up() {
    let (_tmp, dir) = lab();
    let quiet = homelab().dir(&dir).arg("render").ok().stderr();
    let run = homelab().dir(&dir).args(["render", "-v"]).ok().stderr();
    let listed = run
        .lines()
        .filter(|l| l.trim_start().starts_with("unchanged "))
        .count();
    assert!(listed > 10, "{run}");
    assert!(
        run.contains(&format!("{listed} files: {listed} unchanged\n")),
        "{run}"
    );
    // Without -v, only the totals of the same files.
    assert!(
        quiet.starts_with(&format!("{listed} files: {listed} unchanged\n")),
        "{quiet}"
    );
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

// --- The one writer through the binary ---------------------------------------------------

/// A directory with the example homelab.yaml, rendered and committed by `homelab render`.
fn lab() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempdir();
    let dir = tmp.path().join("lab");
    std::fs::create_dir(&dir).expect("mkdir");
    std::fs::copy(example_config(), dir.join("homelab.yaml")).expect("copy");
    homelab().dir(&dir).arg("render").ok();
    assert!(!dirty(&dir));
    (tmp, dir)
}

/// Every path of every commit reachable from HEAD.
fn committed_paths(dir: &Path) -> BTreeSet<String> {
    let repo = repo(dir);
    let mut walk = repo.revwalk().expect("revwalk");
    walk.push_head().expect("head");
    let mut out = BTreeSet::new();
    for oid in walk {
        let tree = repo
            .find_commit(oid.expect("oid"))
            .expect("commit")
            .tree()
            .expect("tree");
        tree.walk(git2::TreeWalkMode::PreOrder, |root, entry| {
            if entry.kind() == Some(git2::ObjectType::Blob) {
                out.insert(format!("{root}{}", entry.name().unwrap_or_default()));
            }
            git2::TreeWalkResult::Ok
        })
        .expect("walk");
    }
    out
}

/// The paths the last commit changed.
fn last_commit_paths(dir: &Path) -> BTreeSet<String> {
    let repo = repo(dir);
    let head = repo.head().expect("head").peel_to_commit().expect("commit");
    let parent = head.parent(0).ok().map(|p| p.tree().expect("tree"));
    let diff = repo
        .diff_tree_to_tree(parent.as_ref(), Some(&head.tree().expect("tree")), None)
        .expect("diff");
    diff.deltas()
        .filter_map(|d| {
            d.new_file()
                .path()
                .or(d.old_file().path())
                .map(|p| p.to_string_lossy().into_owned())
        })
        .collect()
}

fn edit_config(dir: &Path, from: &str, to: &str) {
    replace_in(dir, "homelab.yaml", from, to);
}

#[test]
fn render_refuses_a_symlinked_directory_and_writes_nothing_outside() {
    let tmp = tempdir();
    let outside = tmp.path().join("outside");
    std::fs::create_dir(&outside).expect("mkdir");
    let dir = tmp.path().join("lab");
    std::fs::create_dir(&dir).expect("mkdir");
    std::fs::copy(example_config(), dir.join("homelab.yaml")).expect("copy");
    std::os::unix::fs::symlink(&outside, dir.join("clusters")).expect("link");
    homelab()
        .dir(&dir)
        .arg("render")
        .expect_code(1)
        .stderr_has("clusters is a symbolic link")
        .stderr_has("hint: replace the link clusters with a real directory");
    assert_eq!(
        std::fs::read_dir(&outside).expect("ls").count(),
        0,
        "wrote outside"
    );
    assert!(head(&dir).is_none(), "nothing committed");

    // init, into a directory whose infrastructure/ is a link.
    let dir = tmp.path().join("lab2");
    std::fs::create_dir(&dir).expect("mkdir");
    std::os::unix::fs::symlink(&outside, dir.join("infrastructure")).expect("link");
    homelab()
        .args([
            "init",
            "--no-push",
            "--no-bootstrap",
            "--allow-non-empty",
            "--config",
        ])
        .arg(example_config())
        .dir(&dir)
        .expect_code(1)
        .stderr_has("infrastructure is a symbolic link");
    assert_eq!(
        std::fs::read_dir(&outside).expect("ls").count(),
        0,
        "wrote outside"
    );
}

#[test]
fn a_cloned_repository_cannot_make_render_delete_a_file_outside_it() {
    let tmp = tempdir();
    let victim_dir = tmp.path().join("victim");
    std::fs::create_dir(&victim_dir).expect("mkdir");
    let victim = "precious data\n";
    std::fs::write(victim_dir.join("victim.txt"), victim).expect("write");
    // The attacker's repository: a link out of it, and a state entry matching the victim.
    let (_lab, origin) = lab();
    std::os::unix::fs::symlink(&victim_dir, origin.join("loot")).expect("link");
    let mut state = State::load(&origin).expect("state");
    state.files.insert(
        "loot/victim.txt".into(),
        homelab::render::state::FileState::of(victim),
    );
    write(&origin, STATE_FILE, &state.to_text().expect("state text"));
    homelab::git::commit_all(&repo(&origin), "innocent").expect("commit");
    let clone = tmp.path().join("clone");
    git2::Repository::clone(origin.to_str().expect("utf8"), &clone).expect("clone");
    assert!(clone.join("loot").is_symlink());

    homelab()
        .dir(&clone)
        .arg("render")
        .expect_code(1)
        .stderr_has("loot is a symbolic link");
    assert_eq!(
        std::fs::read_to_string(victim_dir.join("victim.txt")).expect("victim survives"),
        victim
    );
}

#[test]
fn a_crafted_journal_cannot_write_or_delete_outside_nor_drop_the_index() {
    use base64::Engine as _;
    let tmp = tempdir();
    let (_lab, dir) = lab();
    let victim = tmp.path().join("journalvictim.txt");
    std::fs::write(&victim, "keep me").expect("write");
    let head = head(&dir).expect("head").to_string();
    for path in [
        "../journalvictim.txt",
        "../journalwritten.txt",
        ".git/index",
    ] {
        let journal = serde_json::json!({
            "head": head,
            "rendered_ref": null,
            "index_existed": false,
            "entries": [{
                "path": path,
                "before": if path.contains("written") {
                    Some(base64::engine::general_purpose::STANDARD.encode("pwned"))
                } else {
                    None
                },
            }],
        });
        std::fs::write(dir.join(".git/homelab-apply.journal"), journal.to_string())
            .expect("journal");
        homelab()
            .dir(&dir)
            .arg("render")
            .expect_code(1)
            .stderr_has("which homelab never writes");
        assert_eq!(std::fs::read_to_string(&victim).expect("victim"), "keep me");
        assert!(!tmp.path().join("journalwritten.txt").exists());
        assert!(dir.join(".git/index").exists(), "the index survives");
    }
    // A journal of a repository with commits that claims there was no index: the index
    // is kept, the rest rolled back.
    let journal = serde_json::json!({
        "head": head, "rendered_ref": null, "index_existed": false, "entries": [],
    });
    std::fs::write(dir.join(".git/homelab-apply.journal"), journal.to_string()).expect("journal");
    homelab().dir(&dir).arg("render").ok();
    assert!(dir.join(".git/index").exists(), "the index survives");
    assert!(!dirty(&dir));
}

#[test]
fn render_commits_only_the_files_it_decided_with_the_commit_id_and_next_step() {
    let (_tmp, dir) = lab();
    // Unrelated work of the user: a new file and an edit of a file homelab does not manage.
    write(&dir, "notes/todo.md", "buy disks\n");
    write(&dir, "mine.yaml", "a: 1\n");
    homelab::git::commit_paths(
        &repo(&dir),
        &[("mine.yaml".to_owned(), Some(b"a: 1\n".to_vec()))],
        "mine",
    )
    .expect("commit");
    write(&dir, "mine.yaml", "a: 2\n");
    edit_config(&dir, "domain: example.com", "domain: example.org");
    let run = homelab().dir(&dir).arg("render").ok();
    let committed = head(&dir).expect("head");
    run.stderr_has(&format!("committed {}", &committed.to_string()[..8]))
        .stderr_has("next: set git.url in homelab.yaml, then run `homelab push`");
    let changed = last_commit_paths(&dir);
    assert!(
        changed.contains("homelab.yaml") && changed.contains("README.md"),
        "{changed:?}"
    );
    assert!(changed.contains(STATE_FILE));
    assert!(
        !changed.contains("mine.yaml") && !changed.contains("notes/todo.md"),
        "{changed:?}"
    );
    assert_eq!(
        read(&dir, "mine.yaml"),
        "a: 2\n",
        "the user's edit stays, uncommitted"
    );
    assert!(
        committed_paths(&dir)
            .iter()
            .all(|p| !p.ends_with(".homelab-tmp"))
    );

    // Nothing to do: said so, no commit.
    homelab()
        .dir(&dir)
        .arg("render")
        .ok()
        .stderr_has("nothing to commit");
    assert_eq!(head(&dir), Some(committed));
}

#[test]
fn a_render_with_conflicts_commits_nothing_and_merge_markers_stay_uncommitted() {
    let (_tmp, dir) = lab();
    let issuers = "infrastructure/configs/cert-manager/cluster-issuers.yaml";
    let before = head(&dir);
    // The user edits the e-mail line in the issuers; the config changes the same line.
    let text = read(&dir, issuers);
    let email_line = text
        .lines()
        .find(|l| l.contains("email:"))
        .expect("email line")
        .to_owned();
    replace_in(&dir, issuers, &email_line, &format!("{email_line} # mine"));
    let cfg = read(&dir, "homelab.yaml");
    let old_email = cfg
        .lines()
        .find(|l| l.trim_start().starts_with("email:"))
        .expect("email")
        .to_owned();
    edit_config(&dir, &old_email, "  email: someone@example.org");
    edit_config(&dir, "domain: example.com", "domain: example.org");

    homelab()
        .dir(&dir)
        .arg("render")
        .expect_code(1)
        .stderr_has("conflict")
        .stderr_has("nothing was committed");
    assert_eq!(head(&dir), before, "no commit while a conflict remains");
    assert!(
        read(&dir, "README.md").contains("example.org"),
        "safe files are written"
    );

    homelab()
        .dir(&dir)
        .args(["render", "--merge"])
        .expect_code(1);
    assert_eq!(head(&dir), before, "markers are never committed");
    assert!(read(&dir, issuers).contains("<<<<<<<"));
    // A render while markers remain still commits nothing.
    homelab()
        .dir(&dir)
        .arg("render")
        .expect_code(1)
        .stderr_has("still has conflict markers");
    assert_eq!(head(&dir), before);

    // Resolved: the next render commits everything, the resolution included.
    let resolved: String = read(&dir, issuers)
        .lines()
        .filter(|l| {
            !l.starts_with("<<<<<<<") && !l.starts_with("=======") && !l.starts_with(">>>>>>>")
        })
        .filter(|l| !l.contains("# mine"))
        .map(|l| format!("{l}\n"))
        .collect();
    write(&dir, issuers, &resolved);
    homelab()
        .dir(&dir)
        .arg("render")
        .ok()
        .stderr_has("committed");
    assert_ne!(head(&dir), before);
    assert!(last_commit_paths(&dir).contains(issuers));
    assert!(!dirty(&dir));
}

#[test]
fn a_credential_is_never_committed() {
    let (_tmp, dir) = lab();
    let before = head(&dir);
    let text = read(&dir, "homelab.yaml");
    write(
        &dir,
        "homelab.yaml",
        &format!(
            "# backup: {}\n{text}",
            concat!("AGE-SECRET-", "KEY-1QQQQQQQQQQQQQQQQ")
        ),
    );
    homelab()
        .dir(&dir)
        .arg("render")
        .expect_code(1)
        .stderr_has("refusing to commit homelab.yaml: it looks like an age private key");
    assert_eq!(head(&dir), before);
}

#[test]
fn a_failure_mid_apply_is_rolled_back_in_process() {
    let (_tmp, dir) = lab();
    edit_config(&dir, "domain: example.com", "domain: example.org");
    let before = snapshot(&dir);
    for n in 0..3 {
        homelab()
            .dir(&dir)
            .arg("render")
            .env("HOMELAB_FAILPOINT", format!("render-fail-after-{n}-writes"))
            .expect_code(1)
            .stderr_has("failpoint")
            .stderr_has("rolled back");
        assert_eq!(snapshot(&dir), before, "as before the failure at {n}");
        assert!(!dir.join(".git/homelab-apply.journal").exists());
    }
    homelab().dir(&dir).arg("render").ok();
}

#[test]
fn one_writer_at_a_time_names_the_holder() {
    let (_tmp, dir) = lab();
    let lock =
        homelab::render::lock::RepoLock::acquire(&dir.join(".git"), "doctor-test").expect("lock");
    let pid = std::process::id().to_string();
    for args in [
        vec!["render"],
        vec!["add-app", "grafana", "--non-interactive", "--no-push"],
        vec!["remove-app", "grafana", "--non-interactive", "--no-push"],
    ] {
        let run = homelab().dir(&dir).args(&args).run();
        if args[0] == "remove-app" {
            // Not installed: refused before it needs the lock.
            assert_eq!(run.code(), 2, "{}", run.describe());
            continue;
        }
        assert_eq!(run.code(), 1, "{args:?}\n{}", run.describe());
        let stderr = run.stderr();
        assert!(
            stderr.contains("`homelab doctor-test` (pid") && stderr.contains(&pid),
            "{stderr}"
        );
    }
    drop(lock);
    homelab().dir(&dir).arg("render").ok();
}

#[test]
fn concurrent_renders_never_commit_temporary_files_nor_undo_each_other() {
    let (_tmp, dir) = lab();
    let variants = [
        ("storage_class: nfs", "storage_class: nfs-b"),
        ("acme_server: production", "acme_server: staging"),
        ("default_class: true", "default_class: false"),
    ];
    for round in 0..8 {
        let (from, to) = variants[round % variants.len()];
        if read(&dir, "homelab.yaml").contains(from) {
            edit_config(&dir, from, to);
        } else {
            edit_config(&dir, to, from);
        }
        let children: Vec<_> = (0..3)
            .map(|_| {
                std::process::Command::new(env!("CARGO_BIN_EXE_homelab"))
                    .arg("--dir")
                    .arg(&dir)
                    .arg("render")
                    .env("NO_COLOR", "1")
                    .env("HOMELAB_FLUX_MANIFESTS", crate::support::flux_install())
                    .env("XDG_CONFIG_HOME", crate::support::config_home())
                    .stderr(std::process::Stdio::piped())
                    .stdout(std::process::Stdio::null())
                    .spawn()
                    .expect("spawn")
            })
            .collect();
        let mut succeeded = 0;
        for child in children {
            let out = child.wait_with_output().expect("wait");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(!stderr.contains("rolled back"), "round {round}: {stderr}");
            assert!(!stderr.contains("kept "), "round {round}: {stderr}");
            if out.status.success() {
                succeeded += 1;
            } else {
                assert!(
                    stderr.contains("one homelab command at a time"),
                    "round {round}: {stderr}"
                );
            }
        }
        assert!(succeeded >= 1, "round {round}: no render got through");
        // Whatever the interleaving, a serial render finds the repository in line.
        homelab()
            .dir(&dir)
            .arg("render")
            .ok()
            .stderr_has("nothing to commit");
        assert!(!dirty(&dir), "round {round}");
    }
    let paths = committed_paths(&dir);
    assert!(
        paths.iter().all(|p| !p.ends_with(".homelab-tmp")),
        "temporary files committed: {paths:?}"
    );
}

#[test]
fn dir_naming_a_file_is_a_usage_error() {
    let tmp = tempdir();
    let file = tmp.path().join("afile.txt");
    std::fs::write(&file, "just a file").expect("write");
    for args in [
        vec!["render"],
        vec!["push"],
        vec!["add-app", "grafana"],
        vec!["remove-app", "grafana"],
    ] {
        homelab()
            .dir(&file)
            .args(&args)
            .expect_code(2)
            .stderr_has("it is a file, not a directory");
    }
    crate::support::init_example()
        .dir(&file)
        .expect_code(2)
        .stderr_has("it is a file, not a directory");
    assert_eq!(std::fs::read_to_string(&file).expect("read"), "just a file");
}

#[test]
fn a_symlinked_homelab_yaml_is_read_but_never_written() {
    let tmp = tempdir();
    let real = tmp.path().join("real-homelab.yaml");
    std::fs::copy(example_config(), &real).expect("copy");
    let dir = tmp.path().join("lab");
    std::fs::create_dir(&dir).expect("mkdir");
    std::os::unix::fs::symlink(&real, dir.join("homelab.yaml")).expect("link");
    homelab().dir(&dir).arg("render").ok();
    assert!(dir.join("homelab.yaml").is_symlink());
    assert!(dir.join("README.md").is_file());
    assert!(!committed_paths(&dir).contains("homelab.yaml"));
}

// --- push ----------------------------------------------------------------------------------

/// A rendered lab whose git.url is a local bare repository.
fn lab_with_remote() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let (tmp, dir) = lab();
    let remote = tmp.path().join("remote.git");
    git2::Repository::init_bare(&remote).expect("bare");
    edit_config(
        &dir,
        "  url: \"\"",
        &format!("  url: \"file://{}\"", remote.display()),
    );
    homelab().dir(&dir).arg("render").ok();
    (tmp, dir, remote)
}

fn remote_head(remote: &Path) -> Option<git2::Oid> {
    git2::Repository::open_bare(remote)
        .expect("remote")
        .refname_to_id("refs/heads/main")
        .ok()
}

#[test]
fn push_refuses_conflict_markers_and_stale_files_and_commits_nothing() {
    let (_tmp, dir, remote) = lab_with_remote();

    // Uncommitted files are not pushed, and not committed.
    write(&dir, "scratch.txt", "not for the remote\n");
    let local = head(&dir);
    homelab()
        .dir(&dir)
        .arg("push")
        .ok()
        .stderr_has("pushed main");
    assert_eq!(head(&dir), local, "push made no commit");
    assert_eq!(remote_head(&remote), local);

    // homelab.yaml edited but not rendered: refused, unless --allow-stale.
    edit_config(&dir, "domain: example.com", "domain: example.org");
    homelab::git::commit_all(&repo(&dir), "edit config only").expect("commit");
    homelab()
        .dir(&dir)
        .arg("push")
        .expect_code(1)
        .stderr_has("out of date with homelab.yaml")
        .stderr_has("README.md")
        .stderr_has("--allow-stale");
    assert_eq!(remote_head(&remote), local, "nothing pushed");
    homelab()
        .dir(&dir)
        .args(["push", "--allow-stale"])
        .ok()
        .stderr_has("pushed main");
    assert_eq!(remote_head(&remote), head(&dir));
    homelab().dir(&dir).arg("render").ok();

    // Conflict markers committed by hand: refused, naming the file.
    let readme = read(&dir, "README.md");
    write(
        &dir,
        "README.md",
        &format!("<<<<<<< ours\nmine\n=======\ntheirs\n>>>>>>> theirs\n{readme}"),
    );
    homelab::git::commit_all(&repo(&dir), "oops").expect("commit");
    let pushed = remote_head(&remote);
    homelab()
        .dir(&dir)
        .args(["push", "--allow-stale"])
        .expect_code(1)
        .stderr_has("conflict markers in:\n  README.md");
    assert_eq!(remote_head(&remote), pushed);
}

/// `homelab render --diff` and `--force` through the binary, on the tree the real templates
/// render from the example homelab.yaml: the diff shows the new rendering and writes
/// nothing; force prints the edit it loses, takes the new rendering, leaves the user's own
/// files alone and commits; a render after that changes nothing at all.
#[test]
fn render_diff_and_force_through_the_binary_with_the_real_templates() {
    let (_tmp, dir) = lab();
    let issuers = "infrastructure/configs/cert-manager/cluster-issuers.yaml";
    let email_line = read(&dir, issuers)
        .lines()
        .find(|l| l.contains("email:"))
        .expect("email line")
        .to_owned();
    // The user's edit of a line the next rendering changes too, and a file of their own.
    replace_in(&dir, issuers, &email_line, &format!("{email_line} # mine"));
    write(&dir, "notes/todo.md", "buy disks\n");
    let old_email = read(&dir, "homelab.yaml")
        .lines()
        .find(|l| l.trim_start().starts_with("email:"))
        .expect("email")
        .to_owned();
    edit_config(&dir, &old_email, "  email: someone@example.org");
    edit_config(&dir, "domain: example.com", "domain: example.org");
    let before = crate::support::fingerprint(&dir);

    // --diff: what would change, on stdout; the conflict makes it exit 1; nothing written.
    let diff = homelab()
        .dir(&dir)
        .args(["render", "--diff"])
        .expect_code(1);
    let out = diff.stdout();
    assert!(
        out.contains("--- a/README.md") && out.contains("+++ b/README.md"),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with('+') && l.contains("example.org")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with('-') && l.contains("example.com")),
        "{out}"
    );
    diff.stderr_has("conflict").stderr_has(issuers);
    assert_eq!(crate::support::fingerprint(&dir), before, "--diff wrote");

    // --force: prints the user's line it drops, then the new rendering everywhere.
    let force = homelab().dir(&dir).args(["render", "--force"]).ok();
    assert!(
        force
            .stdout()
            .lines()
            .any(|l| l.starts_with('-') && l.contains("# mine")),
        "{}",
        force.describe()
    );
    let text = read(&dir, issuers);
    assert!(
        !text.contains("# mine") && text.contains("someone@example.org"),
        "{text}"
    );
    assert!(read(&dir, "README.md").contains("example.org"));
    assert_eq!(read(&dir, "notes/todo.md"), "buy disks\n");
    assert_ne!(head(&dir), before.head, "force commits");
    let changed = last_commit_paths(&dir);
    assert!(
        changed.contains(issuers) && !changed.contains("notes/todo.md"),
        "{changed:?}"
    );
    assert_eq!(uncommitted(&dir), ["notes/todo.md"]);

    // Again, in every mode: nothing changes, not a byte, not a ref.
    let after = crate::support::fingerprint(&dir);
    for mode in [
        &["render"][..],
        &["render", "--diff"],
        &["render", "--force"],
    ] {
        let run = homelab().dir(&dir).args(mode).ok();
        assert_eq!(run.stdout(), "", "{mode:?}: {}", run.describe());
        assert_eq!(
            crate::support::fingerprint(&dir),
            after,
            "{mode:?} changed something"
        );
    }
}

/// The state file through the binary: of an unknown version it stops the render (exit 2,
/// the hint to restore it, nothing changed); deleted, identical files are adopted and an
/// edited one is a conflict, left as the user wrote it, and nothing is committed.
#[test]
fn a_state_file_of_another_version_or_deleted_never_costs_an_edit() {
    let (_tmp, dir) = lab();
    let state = read(&dir, STATE_FILE);
    assert!(state.contains("\nversion: 1\n"), "{state}");
    write(
        &dir,
        STATE_FILE,
        &state.replace("\nversion: 1\n", "\nversion: 99\n"),
    );
    let before = crate::support::fingerprint(&dir);
    homelab()
        .dir(&dir)
        .arg("render")
        .expect_code(2)
        .stderr_has(".homelab/state.yaml: version 99 is not supported")
        .stderr_has("hint: upgrade homelab, or restore the file from git");
    assert_eq!(crate::support::fingerprint(&dir), before);

    write(&dir, STATE_FILE, &state);
    let mine = format!("{}\nMy notes.\n", read(&dir, "README.md"));
    write(&dir, "README.md", &mine);
    std::fs::remove_file(dir.join(STATE_FILE)).expect("rm state");
    let head_before = head(&dir);
    let run = homelab().dir(&dir).arg("render").expect_code(1);
    let stderr = run.stderr();
    let conflicts: Vec<&str> = stderr.lines().filter(|l| l.contains("conflict")).collect();
    assert!(
        conflicts.iter().any(|l| l.contains("README.md")),
        "{}",
        run.describe()
    );
    assert!(
        conflicts
            .iter()
            .all(|l| !l.contains("apps/kustomization.yaml")),
        "an identical file is a conflict: {}",
        run.describe()
    );
    run.stderr_has("nothing was committed");
    assert_eq!(read(&dir, "README.md"), mine);
    assert_eq!(head(&dir), head_before);
}
