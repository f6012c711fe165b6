//! `homelab push`: push the committed repository to `git.url`, after checking it is fit to
//! be applied by Flux: no conflict markers in the last commit, rendered files not stale
//! against `homelab.yaml` (`--allow-stale` overrides). The checks and the push are
//! [`crate::ui::publish`], shared with `init`, `add-app` and `remove-app`.

use crate::cli::PushCommandArgs;
use crate::commands::Context;
use crate::error::{Result, Status};
use crate::render::write;

pub fn run(ctx: &Context, args: &PushCommandArgs) -> Result<Status> {
    write::check_dir(&ctx.dir)?;
    let config = crate::catalog::load_config(&ctx.dir)?;
    crate::ui::publish::push_repo(&ctx.dir, &config, &(&args.push).into())?;
    crate::ui::sync::after_push(&ctx.dir, &config, args.wait.wait(), Status::Ok)
}
