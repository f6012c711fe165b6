//! `homelab completions <shell>`: print the completion script for a shell.

use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs};
use crate::error::{Result, Status};

/// Write the completion script for `shell` into `out`.
pub fn generate(shell: clap_complete::Shell, out: &mut dyn std::io::Write) {
    let mut cmd = Cli::command();
    clap_complete::generate(shell, &mut cmd, "homelab", out);
}

pub fn run(args: &CompletionsArgs) -> Result<Status> {
    generate(args.shell, &mut crate::ui::printer::data_writer());
    Ok(Status::Ok)
}
