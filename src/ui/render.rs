//! What the commands that write the repository say about it: the commit made or why none
//! was, what to run next, and a newly created age key.

use crate::config::{CONFIG_FILE, Config};
use crate::error::Status;
use crate::render::change::COMMIT_MESSAGE;
use crate::render::write::{Mode, Outcome, Report};
use crate::ui::{printer, style};

/// Show what a write did: its diff (`--diff`, `--force`) on stdout, then its [`summary`]
/// on stderr.
pub fn show(report: &Report, every_file: bool) {
    printer::data(&report.diff);
    printer::note_raw(&summary(report, every_file));
}

/// One line per file that did not stay as it was (every file with `every_file`, `-v`) and
/// the totals, outcomes coloured by how much they need the user.
pub fn summary(report: &Report, every_file: bool) -> String {
    report.summary_with(every_file, |outcome, label| match outcome {
        Outcome::Conflict | Outcome::Overwritten => style::red(label),
        Outcome::KeptUserEdit | Outcome::OrphanKept | Outcome::Merged => style::yellow(label),
        _ => style::green(label),
    })
}

/// Say where a new age key is and that it must be backed up.
pub fn announce_key(key: &crate::secrets::AgeKey) {
    style::note(&format!(
        "created the repository's age key {} (public key {}): back it up with `homelab key export <file outside this repository>`; {}",
        key.file.display(),
        key.recipient,
        crate::secrets::WHY_BACK_UP_THE_KEY
    ));
}

/// Report the outcome of a render on stderr: the commit made (or why none was), and what
/// to run next. Exit 1 when conflicts remain.
pub fn conclude(report: &Report, cfg: &Config) -> Status {
    if report.has_conflicts() {
        return status(report);
    }
    match report.commit {
        Some(oid) => {
            style::note(&format!(
                "committed {} ({COMMIT_MESSAGE})",
                &oid.to_string()[..8]
            ));
            style::note(&next_step(cfg));
        }
        None => style::note("nothing to commit: the repository already matches homelab.yaml"),
    }
    Status::Ok
}

/// What to run after a commit: push it (or say what push needs).
pub fn next_step(cfg: &Config) -> String {
    if cfg.git.url.trim().is_empty() {
        format!(
            "{} set git.url in {CONFIG_FILE}, then run `homelab push` to publish it",
            style::bold("next:")
        )
    } else {
        format!(
            "{} run `homelab push` to publish it to {}",
            style::bold("next:"),
            cfg.git.url
        )
    }
}

/// Exit 1 when conflicts remain (in any mode: under `--merge` the markers must be resolved).
pub fn status(report: &Report) -> Status {
    if report.has_conflicts() {
        let hint = match report.mode {
            Mode::Merge => {
                "resolve the conflict markers in the files above, then run `homelab render` again: it commits once no conflict remains"
            }
            Mode::Diff => {
                "run `homelab render --merge` to write conflict markers, or `--force` to take the new rendering"
            }
            _ => {
                "run `homelab render --diff` to see them, then `--merge` to resolve by hand or `--force` to take the new rendering"
            }
        };
        if report.mode != Mode::Diff {
            style::note(
                "nothing was committed: the files without conflict are written, and the commit waits until no conflict remains",
            );
        }
        style::note(&format!("{} {hint}", style::bold("hint:")));
        Status::ChecksFailed
    } else {
        Status::Ok
    }
}
