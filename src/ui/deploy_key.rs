//! After `bootstrap` printed a new deploy key: make sure the git server takes it before
//! saying Flux can pull, instead of trusting a "yes" typed on autopilot.
//!
//! On a terminal the question "have you added the deploy key?" defaults to No, and a Yes is
//! checked by a fetch handshake with the key ([`crate::git::probe`]); while the server
//! refuses it the user can check again, go on anyway (Flux retries by itself) or stop.
//! Without a terminal (or with `--yes`) the key is checked once and the outcome reported.

use std::time::Duration;

use ssh_key::PrivateKey;

use crate::error::{Error, Result};
use crate::ui::style;

/// Check that `url` accepts `key`, each check bounded by `timeout` (`--git-timeout`); `ask`
/// when a terminal may answer questions.
pub fn confirm(
    url: &str,
    key: &PrivateKey,
    known_hosts: &str,
    ask: bool,
    timeout: Duration,
) -> Result<()> {
    let shown = crate::config::git_url::redact(url);
    let works = || {
        style::note(&format!(
            "{} {shown} accepts the deploy key: Flux can pull",
            style::green("✓")
        ));
    };
    if !ask {
        match crate::git::probe::fetch_with_key(url, key, known_hosts, timeout) {
            Ok(()) => works(),
            Err(why) => style::note(&format!(
                "Flux cannot pull with the deploy key yet ({why}); it retries on its own once the key is added."
            )),
        }
        return Ok(());
    }
    let stop = || {
        Error::failed("stopped before Flux started pulling from git")
            .with_hint("add the deploy key, then run `homelab bootstrap` again (the key is kept)")
    };
    let prompt_failed = |e: dialoguer::Error| Error::failed(format!("cannot read the answer: {e}"));
    let added = dialoguer::Confirm::new()
        .with_prompt("Have you added the deploy key?")
        .default(false)
        .interact()
        .map_err(prompt_failed)?;
    if !added {
        return Err(stop());
    }
    loop {
        let spinner =
            crate::ui::progress::spinner(format!("Checking that {shown} accepts the key"));
        let checked = crate::git::probe::fetch_with_key(url, key, known_hosts, timeout);
        spinner.finish_and_clear();
        let why = match checked {
            Ok(()) => {
                works();
                return Ok(());
            }
            Err(why) => why,
        };
        style::note(&format!(
            "{} {shown} does not take the deploy key: {why}",
            style::yellow("warning:")
        ));
        let choice = dialoguer::Select::new()
            .with_prompt("What now?")
            .items([
                "check again (after adding the key)",
                "go on: Flux retries until the key works",
                "stop here",
            ])
            .default(0)
            .interact()
            .map_err(prompt_failed)?;
        match choice {
            0 => continue,
            1 => return Ok(()),
            _ => return Err(stop()),
        }
    }
}
