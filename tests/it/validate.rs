//! `homelab.yaml` validation against the corpus: every invalid case yields exactly its
//! expected diagnostics, every valid case (and each example) parses.
//!
//! `HOMELAB_BLESS=1` rewrites the `.expected` files from the current output, for review
//! with `git diff`; without it the test only compares.

use std::fs;
use std::path::{Path, PathBuf};

use homelab::config::validate::{parse, to_yaml};

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
    let bless = std::env::var_os("HOMELAB_BLESS").is_some();
    let mut failures = Vec::new();
    for case in &cases {
        let expected_file = case.with_extension("expected");
        let actual = diagnostics(case);
        assert!(
            !actual.is_empty(),
            "{} is accepted, but it is in the invalid corpus",
            case.display()
        );
        if bless {
            fs::write(&expected_file, actual.join("\n") + "\n").unwrap();
            continue;
        }
        let expected = fs::read_to_string(&expected_file)
            .unwrap_or_else(|e| panic!("read {}: {e}", expected_file.display()));
        let expected: Vec<&str> = expected.lines().collect();
        if actual != expected {
            failures.push(format!(
                "{}\n  expected:\n    {}\n  actual:\n    {}",
                case.display(),
                expected.join("\n    "),
                actual.join("\n    ")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn every_expected_file_has_its_case() {
    for expected in corpus("invalid", "expected") {
        assert!(
            expected.with_extension("yaml").is_file(),
            "{} has no .yaml case",
            expected.display()
        );
    }
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
    let cfg = homelab::config::validate::load(&root().join("examples/full.yaml")).unwrap();
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
