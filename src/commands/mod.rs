//! One module per subcommand. Each takes its parsed arguments and a [`Context`], does its
//! work through the library modules, and returns a typed [`Status`] or [`Error`].

use std::path::PathBuf;

use crate::cli::{Cli, Command};
use crate::error::{Error, Result, Status};

pub mod bootstrap;
pub mod completions;

/// What every command gets besides its own arguments.
#[derive(Debug, Clone)]
pub struct Context {
    /// The repository directory (`--dir`).
    pub dir: PathBuf,
    /// `-v` count.
    pub verbose: u8,
}

/// Run the parsed command line.
pub fn run(cli: Cli) -> Result<Status> {
    crate::ui::style::init(cli.global.no_color);
    let ctx = Context {
        dir: cli.global.dir.clone(),
        verbose: cli.global.verbose,
    };
    match cli.command {
        Command::Completions(args) => completions::run(&args),
        Command::Bootstrap(args) => bootstrap::run(&ctx, &args),
        Command::Init(_)
        | Command::Render(_)
        | Command::AddApp(_)
        | Command::RemoveApp(_)
        | Command::Apps
        | Command::Doctor(_)
        | Command::Push(_) => {
            let _ = &ctx;
            Err(Error::usage("not yet implemented"))
        }
    }
}
