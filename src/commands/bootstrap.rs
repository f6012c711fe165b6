//! `homelab bootstrap`: the flags become the engine's options ([`crate::bootstrap`]), and
//! the terminal is its UI ([`crate::ui::bootstrap`]).

use crate::cli::{BootstrapArgs, BootstrapOptions};
use crate::commands::Context;
use crate::error::{Result, Status};
use crate::ui::bootstrap::Terminal;

/// `homelab bootstrap`.
pub fn run(ctx: &Context, args: &BootstrapArgs) -> Result<Status> {
    let cfg = crate::catalog::load_config(&ctx.dir)?;
    let flags = BootstrapOptions {
        remote: args.remote.clone(),
        ..args.options.clone()
    };
    crate::bootstrap::run(&ctx.dir, &cfg, &flags.engine()?, &Terminal::new(flags.yes))
}
