//! The `homelab` binary: parse the command line, run it, map the outcome to an exit code.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = homelab::cli::Cli::parse();
    let outcome = homelab::commands::run(cli);
    homelab::ui::style::report_outcome(outcome)
}
