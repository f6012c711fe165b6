//! `homelab.yaml` validation against the corpus: every invalid case yields exactly its
//! expected diagnostics, every valid case (and each example) parses.
//!
//! The expected diagnostics of `tests/corpus/invalid/<case>.yaml` are the insta snapshot
//! `<case>.snap` next to it. After an intended change, `INSTA_UPDATE=always cargo test --test
//! it validate` (or `cargo insta review`) updates them, for review with `git diff`.

use std::fs;
use std::path::{Path, PathBuf};

use homelab::catalog::parse_config as parse;
use homelab::config::validate::to_yaml;

use crate::support::root;

fn corpus(kind: &str, ext: &str) -> Vec<PathBuf> {
    let dir = root().join("tests/corpus").join(kind);
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    files.sort();
    files
}

fn diagnostics(file: &Path) -> Vec<String> {
    let text = fs::read_to_string(file).unwrap();
    match parse(&text) {
        Ok(_) => Vec::new(),
        Err(diags) => diags.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn every_invalid_case_reports_exactly_its_expected_diagnostics() {
    let cases = corpus("invalid", "yaml");
    assert!(
        cases.len() >= 30,
        "the corpus has only {} cases",
        cases.len()
    );
    crate::support::snapshot::refuse_updates_in_ci();
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(root().join("tests/corpus/invalid"));
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    let mut failures = Vec::new();
    for case in &cases {
        let actual = diagnostics(case);
        assert!(
            !actual.is_empty(),
            "{} is accepted, but it is in the invalid corpus",
            case.display()
        );
        let name = case.file_stem().unwrap().to_string_lossy().into_owned();
        settings.set_input_file(case);
        // Every case is compared (and, when updating, written) before the test fails.
        let compared = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            settings.bind(|| {
                crate::support::snapshot::assert_snapshot!(name.as_str(), actual.join("\n"))
            })
        }));
        if compared.is_err() {
            failures.push(case.display().to_string());
        }
    }
    assert!(
        failures.is_empty(),
        "diagnostics differ from their snapshots: {failures:?}"
    );
}

#[test]
fn the_expectations_read_elsewhere_are_the_snapshots() {
    for case in corpus("invalid", "yaml") {
        assert_eq!(
            crate::support::snapshot::corpus_expectation(&case).trim_end(),
            diagnostics(&case).join("\n"),
            "{}",
            case.display()
        );
    }
}

#[test]
fn every_snapshot_has_its_case() {
    for snapshot in corpus("invalid", "snap") {
        assert!(
            snapshot.with_extension("yaml").is_file(),
            "{} has no .yaml case",
            snapshot.display()
        );
    }
    // The expectations used to be `.expected` files; one left over would be ignored.
    assert_eq!(
        corpus("invalid", "expected"),
        Vec::<PathBuf>::new(),
        "expectations are the .snap files now: move these into <case>.snap \
         (INSTA_UPDATE=always cargo test --test it validate writes them)"
    );
}

/// CI with an update mode left in its environment fails instead of rewriting the
/// expectations: the corpus test, run in such an environment, refuses and changes no file.
#[test]
fn ci_with_an_update_mode_refuses_instead_of_rewriting() {
    let dir = root().join("tests/corpus/invalid");
    let files = || -> Vec<(PathBuf, Vec<u8>)> {
        let mut all: Vec<(PathBuf, Vec<u8>)> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .map(|p| (p.clone(), fs::read(&p).unwrap()))
            .collect();
        all.sort();
        all
    };
    let before = files();
    let run = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "validate::every_invalid_case_reports_exactly_its_expected_diagnostics",
            "--exact",
        ])
        .env("CI", "true")
        .env("INSTA_UPDATE", "always")
        .output()
        .unwrap();
    let output = format!(
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(!run.status.success(), "{output}");
    assert!(output.contains("1 failed"), "{output}");
    assert!(
        output.contains("refusing to check snapshots in CI"),
        "{output}"
    );
    assert!(files() == before, "the corpus changed");
}

#[test]
fn every_valid_case_and_example_parses_and_round_trips() {
    let mut files = corpus("valid", "yaml");
    files.push(root().join("examples/homelab.yaml"));
    files.push(root().join("examples/full.yaml"));
    for file in files {
        let text = fs::read_to_string(&file).unwrap();
        let cfg = parse(&text).unwrap_or_else(|diags| {
            let lines: Vec<String> = diags.iter().map(ToString::to_string).collect();
            panic!("{} is invalid:\n{}", file.display(), lines.join("\n"))
        });
        assert_eq!(parse(&to_yaml(&cfg)), Ok(cfg), "{}", file.display());
    }
}

#[test]
fn the_corpus_copies_of_the_examples_match_them() {
    for (copy, example) in [("example.yaml", "homelab.yaml"), ("full.yaml", "full.yaml")] {
        assert_eq!(
            fs::read_to_string(root().join("tests/corpus/valid").join(copy)).unwrap(),
            fs::read_to_string(root().join("examples").join(example)).unwrap(),
            "tests/corpus/valid/{copy} differs from examples/{example}"
        );
    }
}

#[test]
fn full_example_uses_every_non_default_option() {
    use homelab::config::*;
    let cfg = homelab::catalog::load_config(&root().join("examples/full.yaml")).unwrap();
    assert_eq!(cfg.ingress.controller, IngressController::EnvoyGateway);
    assert_eq!(cfg.certificates.acme_server, AcmeServer::Staging);
    assert_eq!(cfg.certificates.dns_provider, DnsProvider::Route53);
    assert!(cfg.certificates.dns_settings.contains_key("region"));
    assert_eq!(
        cfg.storage.provisioner,
        Provisioner::NfsSubdirExternalProvisioner
    );
    assert!(!cfg.storage.default_class);
    assert_ne!(cfg.storage.storage_class, "nfs");
    assert!(cfg.storage.local_class.is_some());
    assert!(cfg.flux.components.len() > Flux::default().components.len());
    assert!(cfg.network.loadbalancer_pool.len() > 1);
    assert!(
        cfg.network
            .loadbalancer_pool
            .iter()
            .any(|e| e.contains('/'))
    );
    assert!(!cfg.git.url.is_empty());
    assert_ne!(cfg.git.branch, Git::default().branch);
}
