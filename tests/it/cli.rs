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
        "schema",
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

/// The committed completion scripts and man page must match the CLI definition.
/// Run with `HOMELAB_BLESS=1` to regenerate them.
#[test]
fn completions_and_man_page_are_up_to_date() {
    use clap::CommandFactory;
    use clap_complete::Shell;

    let root = crate::support::root();
    let mut expected: Vec<(std::path::PathBuf, Vec<u8>)> = Vec::new();
    for (shell, file) in [
        (Shell::Bash, "homelab.bash"),
        (Shell::Zsh, "_homelab"),
        (Shell::Fish, "homelab.fish"),
        (Shell::PowerShell, "_homelab.ps1"),
        (Shell::Elvish, "homelab.elv"),
    ] {
        let mut buf = Vec::new();
        homelab::commands::completions::generate(shell, &mut buf);
        expected.push((root.join("completions").join(file), buf));
    }
    let mut man = Vec::new();
    clap_mangen::Man::new(homelab::cli::Cli::command())
        .render(&mut man)
        .expect("render man page");
    expected.push((root.join("completions/homelab.1"), man));

    let bless = std::env::var_os("HOMELAB_BLESS").is_some();
    let mut stale = Vec::new();
    for (path, content) in expected {
        if std::fs::read(&path).ok().as_deref() != Some(content.as_slice()) {
            if bless {
                std::fs::write(&path, &content).expect("write");
            } else {
                stale.push(path.display().to_string());
            }
        }
    }
    assert!(
        stale.is_empty(),
        "out of date: {stale:?}; run `HOMELAB_BLESS=1 cargo test --test it completions` and commit"
    );
}

#[test]
fn completions_subcommand_prints_a_script() {
    homelab()
        .args(["completions", "bash"])
        .ok()
        .stdout_has("_homelab()");
}
