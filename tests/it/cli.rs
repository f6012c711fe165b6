//! The command line itself: help, exit codes, completions.

use std::process::Command;

#[test]
fn help_lists_every_subcommand() {
    let out = Command::new(env!("CARGO_BIN_EXE_homelab")).arg("--help").output().expect("run homelab");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for sub in ["init", "render", "add-app", "remove-app", "apps", "doctor", "bootstrap", "push", "completions"] {
        assert!(text.contains(sub), "--help lacks {sub}: {text}");
    }
}
