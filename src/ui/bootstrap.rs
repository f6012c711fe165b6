//! The terminal as the bootstrap engine's [`Ui`]: spinners and notes on stderr, the applied
//! objects and the deploy key on stdout, hidden prompts when a terminal can answer them.
//! Shared by `homelab bootstrap` and `homelab init`.

use indicatif::ProgressBar;

use crate::bootstrap::{DeployKey, Step, Ui};
use crate::error::{Error, Result};
use crate::kube::apply::{ApplyReport, Outcome};
use crate::ui::printer;
use crate::ui::style::{self, Mark};

/// The terminal as the bootstrap engine's UI.
#[derive(Debug)]
pub struct Terminal {
    ask: bool,
}

impl Terminal {
    /// Questions are asked only on a terminal, and never with `--yes`.
    pub fn new(yes: bool) -> Self {
        Self {
            ask: printer::can_ask() && !yes,
        }
    }
}

impl Ui for Terminal {
    fn note(&self, text: &str) {
        style::note(text);
    }

    fn notice(&self, text: &str) {
        style::note(&format!("{} {text}", style::yellow("note:")));
    }

    fn warning(&self, text: &str) {
        style::note(&format!("{} {text}", style::yellow("warning:")));
    }

    fn cluster(&self, context: &str, server: &str) {
        style::note(&format!(
            "Cluster: context {} at {server}",
            style::bold(context)
        ));
    }

    fn step(&self, message: &str) -> Box<dyn Step + '_> {
        Box::new(Spinner::start(message))
    }

    fn report(&self, report: &ApplyReport, dry_run: bool) {
        print_report(report, dry_run);
    }

    fn deploy_key(&self, key: &DeployKey<'_>) -> Result<()> {
        printer::data_line(key.public);
        style::note(&format!(
            "Add the public key above ({}) as a deploy key of {}{}.",
            key.fingerprint,
            crate::config::git_url::redact(key.url),
            if key.write {
                " with write access (image automation pushes commits)"
            } else {
                " (read-only is enough)"
            }
        ));
        crate::ui::deploy_key::confirm(key.url, key.key, key.known_hosts, self.ask, key.timeout)
    }

    fn finished(&self, text: &str) {
        style::note(&format!("{} {text}", style::green("Done:")));
    }

    fn can_ask(&self) -> bool {
        self.ask
    }

    fn ask_secret(&self, prompt: &str) -> Result<String> {
        dialoguer::Password::new()
            .with_prompt(prompt)
            .interact()
            .map_err(|e| Error::failed(format!("cannot read the answer: {e}")))
    }
}

/// A progress spinner on a terminal, plain notes otherwise.
struct Spinner {
    bar: ProgressBar,
}

impl Spinner {
    fn start(message: &str) -> Self {
        if !printer::progress_enabled() {
            // Logs get one line per step instead of a spinner.
            style::note(&format!("{message}..."));
        }
        Self {
            bar: printer::spinner(message),
        }
    }
}

impl Step for Spinner {
    fn set(&self, message: &str) {
        self.bar.set_message(message.to_owned());
    }

    fn done(self: Box<Self>, message: &str) {
        self.bar.finish_and_clear();
        style::note(&format!("{} {message}", style::mark(Mark::Ok)));
    }

    // Dropping the step clears the spinner.
    fn abandon(self: Box<Self>) {}
}

impl Drop for Spinner {
    // However the step ends (done, abandoned, or an error path that returned early), no
    // spinner is left drawing.
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

fn print_report(report: &ApplyReport, dry_run: bool) {
    for obj in &report.objects {
        // `-v` shows every object, unchanged ones too.
        if dry_run || obj.outcome != Outcome::Unchanged || printer::verbosity() > 0 {
            let suffix = match &obj.unvalidated {
                Some(why) => format!(" (not validated: {why})"),
                None => String::new(),
            };
            printer::data_line(&format!(
                "{:<10} {}{suffix}",
                obj.outcome.as_str(),
                obj.id()
            ));
        }
    }
    let retried = if report.retries > 0 {
        format!(" ({} transient errors retried)", report.retries)
    } else {
        String::new()
    };
    if dry_run {
        style::note(&format!(
            "Dry run, nothing changed: would be {}{retried}",
            report.summary()
        ));
    } else if report.is_unchanged() {
        style::note(&format!(
            "No changes: the cluster already matches ({} objects unchanged){retried}",
            report.objects.len()
        ));
    } else {
        style::note(&format!("Applied: {}{retried}", report.summary()));
    }
}
