//! The command line itself: help, exit codes, completions.

use crate::support::homelab;

#[test]
fn help_lists_every_subcommand() {
    let run = homelab().arg("--help").ok();
    for sub in [
        "init",
        "render",
        "add-app",
        "remove-app",
        "apps",
        "doctor",
        "bootstrap",
        "push",
        "completions",
    ] {
        assert!(
            run.stdout().contains(sub),
            "--help lacks {sub}\n{}",
            run.describe()
        );
    }
}

#[test]
fn unknown_flag_is_a_usage_error() {
    homelab().arg("--no-such-flag").expect_code(2);
}
