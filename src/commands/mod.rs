//! One module per subcommand. Each takes its parsed arguments and a [`Context`], does its
//! work through the library modules, and returns a typed [`Status`] or [`Error`].

use std::path::PathBuf;

use crate::cli::{Cli, Command};
use crate::error::{Result, Status};

pub mod add_app;
pub mod apps;
pub mod bootstrap;
pub mod completions;
pub mod doctor;
pub mod init;
pub mod key;
pub mod push;
pub mod remove_app;
pub mod render;
pub mod schema;
pub mod secret;
pub mod status;
pub mod sync;

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
    crate::ui::printer::init(cli.global.no_color, cli.global.verbose);
    let ctx = Context {
        dir: cli.global.dir.clone(),
        verbose: cli.global.verbose,
    };
    match cli.command {
        Command::Completions(args) => completions::run(&args),
        Command::Schema => schema::run(),
        Command::Push(args) => push::run(&ctx, &args),
        Command::Render(args) => render::run(&ctx, &args),
        Command::Doctor(args) => doctor::run(&ctx, &args),
        Command::AddApp(args) => add_app::run(&ctx, &args),
        Command::RemoveApp(args) => remove_app::run(&ctx, &args),
        Command::Apps => apps::run(&ctx),
        Command::Bootstrap(args) => bootstrap::run(&ctx, &args),
        Command::Init(args) => init::run(&ctx, &args),
        Command::Status(args) => status::run(&args),
        Command::Sync(args) => sync::run(&ctx, &args),
        Command::Secret(args) => secret::run(&ctx, &args),
        Command::Key(args) => key::run(&ctx, &args),
    }
}
