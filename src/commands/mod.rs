//! One module per subcommand. Each takes its parsed arguments and a [`Context`], does its
//! work through the library modules, and returns a typed [`Status`] or [`Error`].

use std::path::PathBuf;

use crate::cli::{Cli, Command};
use crate::error::{Error, Result, Status};

pub mod add_app;
pub mod apps;
pub mod completions;
pub mod remove_app;

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
        Command::AddApp(args) => add_app::run(&ctx, &args),
        Command::RemoveApp(args) => remove_app::run(&ctx, &args),
        Command::Apps => apps::run(&ctx),
        Command::Init(_)
        | Command::Render(_)
        | Command::Doctor(_)
        | Command::Bootstrap(_)
        | Command::Push(_) => {
            let _ = &ctx;
            Err(Error::usage("not yet implemented"))
        }
    }
}
