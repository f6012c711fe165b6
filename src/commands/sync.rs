//! `homelab sync`: ask Flux to reconcile now and wait until the cluster runs the local
//! branch's commit ([`crate::ui::sync`], shared with the `--wait` of `push` and `add-app`).

use crate::cli::SyncArgs;
use crate::commands::Context;
use crate::error::{Result, Status};

/// `homelab sync`.
pub fn run(ctx: &Context, args: &SyncArgs) -> Result<Status> {
    let cfg = crate::catalog::load_config(&ctx.dir)?;
    crate::ui::sync::block_on(crate::ui::sync::sync_to_local(
        &ctx.dir,
        &cfg,
        &(&args.kube).into(),
        &args.timeout,
        !args.no_wait,
    ))
}
