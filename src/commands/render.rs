//! `homelab render`: re-render the repository from `homelab.yaml` at any time, safely.
//!
//! The command only gathers the inputs (configuration, Flux manifest) and the rendering;
//! the safety rules (keep, merge, report) live in [`crate::render::write`], shared with
//! `init` and `add-app`.

use std::collections::BTreeMap;
use std::path::Path;

use crate::cli::RenderArgs;
use crate::config::{CONFIG_FILE, Config};
use crate::error::{Result, Status};
use crate::render::write::{self, Mode, Report};

use super::Context;

/// The commit message of a re-render.
pub const COMMIT_MESSAGE: &str = "Re-render the repository from homelab.yaml";

/// The write mode the flags ask for (clap already rejects `--force` with `--merge`).
pub fn mode(args: &RenderArgs) -> Mode {
    if args.diff {
        Mode::Diff
    } else if args.force {
        Mode::Force
    } else if args.merge {
        Mode::Merge
    } else {
        Mode::Apply
    }
}

/// Run `homelab render`.
pub fn run(ctx: &Context, args: &RenderArgs) -> Result<Status> {
    let cfg = crate::config::load(&ctx.dir)?;
    let files = render_files(&cfg, args)?;
    apply_rendering(&ctx.dir, files, mode(args))
}

/// The new rendering of the whole repository.
fn render_files(cfg: &Config, args: &RenderArgs) -> Result<BTreeMap<String, String>> {
    let install =
        crate::flux::install_manifest(&cfg.flux.version, args.flux.flux_manifests.as_deref())?;
    Ok(crate::render::render(cfg, &install)?.files)
}

/// Write a rendering with the safety rules and report: the summary on stderr, exit 1 when
/// conflicts are left for the user.
pub fn apply_rendering(
    dir: &Path,
    mut files: BTreeMap<String, String>,
    mode: Mode,
) -> Result<Status> {
    // homelab.yaml is the input of the render: the user's file, comments and all, is the
    // truth, so it is recorded as generated but never rewritten from its parsed form.
    if let Ok(text) = std::fs::read_to_string(dir.join(CONFIG_FILE))
        && files.contains_key(CONFIG_FILE)
    {
        files.insert(CONFIG_FILE.to_owned(), text);
    }
    let report = write::apply(dir, &files, mode, COMMIT_MESSAGE)?;
    eprint!("{}", report.summary());
    Ok(status(&report))
}

/// Exit 1 when conflicts remain (in any mode: under `--merge` the markers must be resolved).
pub fn status(report: &Report) -> Status {
    if report.has_conflicts() {
        let hint = match report.mode {
            Mode::Merge => "resolve the conflict markers in the files above, then commit",
            Mode::Diff => {
                "run `homelab render --merge` to write conflict markers, or `--force` to take the new rendering"
            }
            _ => {
                "run `homelab render --diff` to see them, then `--merge` to resolve by hand or `--force` to take the new rendering"
            }
        };
        crate::ui::style::note(&format!("{} {hint}", crate::ui::style::bold("hint:")));
        Status::ChecksFailed
    } else {
        Status::Ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_select_the_mode() {
        let mut args = RenderArgs::default();
        assert_eq!(mode(&args), Mode::Apply);
        args.merge = true;
        assert_eq!(mode(&args), Mode::Merge);
        args.force = true;
        assert_eq!(mode(&args), Mode::Force);
        args.diff = true;
        assert_eq!(mode(&args), Mode::Diff);
    }
}
