//! The `homelab` binary: parse the command line, run it, map the outcome to an exit code.

#![deny(clippy::print_stdout, clippy::print_stderr, clippy::dbg_macro)]

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = homelab::cli::Cli::parse();
    let outcome = homelab::commands::run(cli);
    homelab::ui::printer::report_outcome(outcome)
}
