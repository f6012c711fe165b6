//! `homelab render`: re-render the repository from `homelab.yaml` at any time, safely.
//!
//! The command only gathers the inputs (configuration, Flux manifest) and the rendering;
//! the safety rules (keep, merge, report, lock, commit) live in [`crate::render::write`],
//! shared with `init`, `add-app` and `remove-app`.

use crate::cli::RenderArgs;
use crate::error::{Result, Status};
use crate::git::tree::RepoTree;
use crate::render::change::{repo_key, whole_change};
use crate::render::write::{self, Mode, Workspace};
use crate::ui::render::{announce_key, conclude, status};

use super::Context;

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
    write::check_dir(&ctx.dir)?;
    // Read once before anything is created, so a missing or invalid homelab.yaml changes
    // nothing; read again under the lock, where no other homelab command can change it.
    let cfg = crate::catalog::load_config(&ctx.dir)?;
    let install =
        crate::flux::install_manifest(&cfg.flux.version, args.flux.flux_manifests.as_deref())?;
    let mode = mode(args);
    if mode == Mode::Diff {
        let tree = RepoTree::open(&ctx.dir)?;
        let key = repo_key(&tree, &cfg, false)?;
        let change = whole_change(&tree, &cfg, &install, mode, key.as_ref().map(|(k, _)| k))?;
        let report = write::preview(&ctx.dir, &change)?;
        crate::ui::render::show(&report, ctx.verbose > 0);
        return Ok(status(&report));
    }
    let ws = Workspace::create(&ctx.dir, &cfg.git.branch, "render")?;
    let cfg = crate::catalog::load_config(&ctx.dir)?;
    let key = repo_key(ws.tree(), &cfg, true)?;
    if let Some((key, true)) = &key {
        announce_key(key);
    }
    let change = whole_change(
        ws.tree(),
        &cfg,
        &install,
        mode,
        key.as_ref().map(|(k, _)| k),
    )?;
    let report = ws.apply(&change)?;
    crate::ui::render::show(&report, ctx.verbose > 0);
    Ok(conclude(&report, &cfg))
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
