//! The command line itself: the subcommands, usage errors, global flags (`-v`, `--no-color`,
//! `NO_COLOR`, what a terminal gets and a pipe does not), completions.

use crate::support::homelab;

/// The subcommands `--help` lists, read from its `Commands:` section (one `  name  about`
/// line each, continuation lines indented further).
fn listed_subcommands(help: &str) -> Vec<String> {
    let section = help
        .split_once("\nCommands:\n")
        .unwrap_or_else(|| panic!("--help has no Commands: section\n{help}"))
        .1;
    section
        .lines()
        .take_while(|line| !line.trim().is_empty())
        .filter(|line| line.starts_with("  ") && !line.starts_with("   "))
        .map(|line| {
            line.split_whitespace()
                .next()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

#[test]
fn help_lists_every_subcommand() {
    let run = homelab().arg("--help").ok();
    assert_eq!(
        listed_subcommands(&run.stdout()),
        [
            "init",
            "render",
            "add-app",
            "remove-app",
            "apps",
            "doctor",
            "bootstrap",
            "push",
            "status",
            "sync",
            "secret",
            "key",
            "completions",
            "schema",
            "help",
        ],
        "{}",
        run.describe()
    );
    // Each one is a real subcommand with its own help.
    for sub in listed_subcommands(&run.stdout()) {
        if sub != "help" {
            homelab()
                .args(["help", sub.as_str()])
                .ok()
                .stdout_has(&format!("Usage: homelab {sub}"));
        }
    }
}

#[test]
fn unknown_flag_is_a_usage_error() {
    homelab()
        .arg("--no-such-flag")
        .expect_code(2)
        .stderr_has("unexpected argument '--no-such-flag'")
        .stderr_has("Usage: homelab");
}

#[test]
fn an_unknown_output_format_is_a_usage_error() {
    let tmp = tempfile::tempdir().unwrap();
    let run = homelab()
        .dir(tmp.path())
        .args(["doctor", "--output", "xml"])
        .expect_code(2)
        .stderr_has("invalid value 'xml' for '--output <OUTPUT>'")
        .stderr_has("[possible values: text, json]");
    assert_eq!(run.stdout(), "", "doctor ran anyway");
}

/// `-v` is global (before or after the subcommand) and shows details: `init` lists every
/// file it wrote, which it does not without it.
#[test]
fn verbose_is_global_and_shows_details() {
    let tmp = tempfile::tempdir().unwrap();
    let init = |dir: &str, verbose: &[&str], after: &[&str]| {
        homelab()
            .dir(&tmp.path().join(dir))
            .args(verbose)
            .args(["init", "--non-interactive", "--config"])
            .arg(crate::support::example_config())
            .args(after)
            .env("HOME", tmp.path().join("home"))
            .env_remove("HOMELAB_AGE_KEY_FILE")
            .ok()
    };
    let file_line = |run: &crate::support::Run| {
        run.stderr()
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["created", "homelab.yaml"])
    };
    let quiet = init("quiet", &[], &[]);
    assert!(!file_line(&quiet), "{}", quiet.describe());
    for (dir, before, after) in [
        ("before", &["-v"][..], &[][..]),
        ("after", &[], &["--verbose"]),
        ("twice", &["-vv"], &[]),
    ] {
        let run = init(dir, before, after);
        assert!(file_line(&run), "{dir}: {}", run.describe());
        assert!(
            run.stderr().lines().count() > quiet.stderr().lines().count(),
            "{dir}: {}",
            run.describe()
        );
    }
}

/// `homelab doctor` in a directory with nothing in it: a report with failures, quickly, and
/// without a network.
fn doctor_in(dir: &std::path::Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_homelab"));
    cmd.arg("--dir")
        .arg(dir)
        .args(["doctor", "--kubeconfig"])
        .arg(dir.join("no-kubeconfig"))
        .env_remove("KUBECONFIG")
        .env_remove("NO_COLOR");
    cmd
}

/// Everything a command printed on a terminal (stdout and stderr, as the terminal shows them).
fn on_a_terminal(cmd: std::process::Command) -> String {
    // The timeout only keeps a hung command from hanging the suite.
    let mut session = rexpect::session::spawn_command(cmd, Some(60_000)).unwrap();
    // rexpect turns each byte into a char; put the bytes back together as UTF-8.
    let raw = session.exp_eof().unwrap();
    let bytes: Vec<u8> = raw
        .chars()
        .map(|c| u8::try_from(u32::from(c)).expect("one byte per char"))
        .collect();
    String::from_utf8(bytes).expect("UTF-8 on the terminal")
}

const ESC: char = '\x1b';

/// Colors and ✓/✗ marks on a terminal; ASCII marks and no escape codes through a pipe
/// (without NO_COLOR), with `--no-color`, or with `NO_COLOR` set (but not set empty).
#[test]
fn colors_only_on_a_terminal_unless_disabled() {
    let tmp = tempfile::tempdir().unwrap();

    // Through a pipe, NO_COLOR unset: plain, and no progress either.
    let piped = doctor_in(tmp.path()).output().unwrap();
    assert_eq!(piped.status.code(), Some(1));
    let (out, err) = (
        String::from_utf8_lossy(&piped.stdout),
        String::from_utf8_lossy(&piped.stderr),
    );
    assert!(out.contains("  [fail] homelab.yaml: "), "{out}");
    assert!(!out.contains(ESC) && !out.contains('✗'), "{out}");
    assert!(!err.contains(ESC) && !err.contains('\r'), "{err}");

    // On a terminal: colored marks, a progress spinner, a red "error:" from other commands.
    let fancy = on_a_terminal(doctor_in(tmp.path()));
    assert!(
        fancy.contains("\x1b[31m✗\x1b[0m homelab.yaml: "),
        "{fancy:?}"
    );
    assert!(fancy.contains("checking the homelab"), "{fancy:?}");
    assert!(!fancy.contains("[fail]"), "{fancy:?}");
    let mut push = std::process::Command::new(env!("CARGO_BIN_EXE_homelab"));
    push.arg("--dir")
        .arg(tmp.path())
        .arg("push")
        .env_remove("NO_COLOR");
    assert!(
        on_a_terminal(push).contains("\x1b[1;31merror:\x1b[0m"),
        "no red error on a terminal"
    );

    // On a terminal, but disabled by the flag or by NO_COLOR: plain.
    let mut flag = doctor_in(tmp.path());
    flag.arg("--no-color");
    let mut env = doctor_in(tmp.path());
    env.env("NO_COLOR", "1");
    for (how, cmd) in [("--no-color", flag), ("NO_COLOR=1", env)] {
        let text = on_a_terminal(cmd);
        assert!(text.contains("  [fail] homelab.yaml: "), "{how}: {text:?}");
        assert!(
            !text.contains("\x1b[31m") && !text.contains('✗'),
            "{how}: {text:?}"
        );
    }
    let mut push = std::process::Command::new(env!("CARGO_BIN_EXE_homelab"));
    push.arg("--dir")
        .arg(tmp.path())
        .args(["--no-color", "push"])
        .env_remove("NO_COLOR");
    let text = on_a_terminal(push);
    assert!(text.contains("error: ") && !text.contains(ESC), "{text:?}");

    // An empty NO_COLOR does not count (no-color.org).
    let mut empty = doctor_in(tmp.path());
    empty.env("NO_COLOR", "");
    assert!(on_a_terminal(empty).contains("✗"));
}

/// What `cargo run --example completions` writes into `completions/`.
#[path = "../../examples/completions.rs"]
#[allow(dead_code)]
mod shipped;

/// The committed completion scripts and man page match the CLI definition. Only the
/// generator writes them; this test never does.
#[test]
fn completions_and_man_page_are_up_to_date() {
    let stale: Vec<String> = shipped::artifacts(&crate::support::root())
        .into_iter()
        .filter(|(path, content)| std::fs::read(path).ok().as_deref() != Some(content.as_slice()))
        .map(|(path, _)| path.display().to_string())
        .collect();
    assert!(
        stale.is_empty(),
        "out of date: {stale:?}; run `cargo run --example completions` and commit the result"
    );
}

#[test]
fn completions_subcommand_prints_a_script() {
    homelab()
        .args(["completions", "bash"])
        .ok()
        .stdout_has("_homelab()");
}

/// Every command checks the whole homelab.yaml before it does anything: with an invalid
/// one, each that reads it stops with exit 2 naming the field, and the repository is left
/// exactly as it was (no file, time or ref changed). (`status` reads only the cluster;
/// `doctor` reports the file as a finding; `init` is checked against the whole corpus.)
#[test]
fn an_invalid_homelab_yaml_stops_every_command_before_it_changes_anything() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("lab");
    let key = tmp.path().join("keys/age.agekey");
    std::fs::create_dir(&dir).unwrap();
    std::fs::copy(crate::support::example_config(), dir.join("homelab.yaml")).unwrap();
    let run = |args: &[&str]| {
        homelab()
            .dir(&dir)
            .env("HOMELAB_AGE_KEY_FILE", &key)
            .args(args)
            .run()
    };
    assert_eq!(run(&["render"]).code(), 0);
    let added = run(&["add-app", "homepage", "--no-push", "--non-interactive"]);
    assert_eq!(added.code(), 0, "{}", added.describe());
    let text = std::fs::read_to_string(dir.join("homelab.yaml")).unwrap();
    std::fs::write(
        dir.join("homelab.yaml"),
        text.replace("domain: example.com", "domain: not a domain"),
    )
    .unwrap();
    let before = crate::support::fingerprint(&dir);
    let kubeconfig = crate::support::network::write_kubeconfig(
        &tmp.path().join("kubeconfig"),
        "https://127.0.0.1:1",
        crate::support::network::TOKEN_USER,
    );
    let kubeconfig = kubeconfig.to_str().unwrap();
    for args in [
        &["render"][..],
        &["render", "--force"],
        &["add-app", "vaultwarden", "--no-push", "--non-interactive"],
        &["remove-app", "homepage", "--no-push"],
        &["push"],
        &["bootstrap", "--yes", "--kubeconfig", kubeconfig],
        &["sync", "--kubeconfig", kubeconfig],
    ] {
        let out = run(args);
        assert_eq!(out.code(), 2, "{args:?}: {}", out.describe());
        assert!(
            out.stderr().contains("cluster.domain"),
            "{args:?} does not name the field: {}",
            out.describe()
        );
        assert_eq!(
            crate::support::fingerprint(&dir),
            before,
            "{args:?} changed the repository"
        );
    }
}
