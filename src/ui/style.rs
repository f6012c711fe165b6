//! Output style: colors only when allowed (`--no-color`, `NO_COLOR`, not a terminal), and
//! the `error:` / `hint:` format of user-facing failures.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{Result, Status};

static COLOR: AtomicBool = AtomicBool::new(false);

/// Decide once whether stderr gets colors.
pub fn init(no_color_flag: bool) {
    let no_color_env = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let on = !no_color_flag && !no_color_env && std::io::stderr().is_terminal();
    COLOR.store(on, Ordering::Relaxed);
    if !on {
        console::set_colors_enabled(false);
        console::set_colors_enabled_stderr(false);
    }
}

/// Whether colors are enabled.
pub fn color() -> bool {
    COLOR.load(Ordering::Relaxed)
}

fn paint(text: &str, code: &str) -> String {
    if color() {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_owned()
    }
}

pub fn red(text: &str) -> String {
    paint(text, "1;31")
}

pub fn yellow(text: &str) -> String {
    paint(text, "1;33")
}

pub fn green(text: &str) -> String {
    paint(text, "1;32")
}

pub fn bold(text: &str) -> String {
    paint(text, "1")
}

/// Print a status line to stderr (progress and messages go to stderr; data to stdout).
pub fn note(message: &str) {
    eprintln!("{message}");
}

/// Print an error, and its hint, to stderr and return the exit code it maps to.
pub fn report_outcome(outcome: Result<Status>) -> ExitCode {
    match outcome {
        Ok(Status::Ok) => ExitCode::SUCCESS,
        Ok(Status::ChecksFailed) => ExitCode::from(1),
        Err(err) => {
            eprintln!("{} {}", red("error:"), err.message);
            if let Some(hint) = &err.hint {
                eprintln!("{} {hint}", bold("hint:"));
            }
            ExitCode::from(err.exit_code())
        }
    }
}
