//! The printer: the one module that writes to the terminal.
//!
//! It decides once, from the command line and the environment, whether each stream gets
//! colours and marks (`--no-color`, `NO_COLOR`, whether the stream is a terminal), how much
//! to say (`-v`), and where progress is drawn. Data (reports, lists, keys) goes to stdout;
//! messages, details and progress go to stderr. Every other module returns text or calls
//! these functions: the crate denies `print!`/`eprint!` (clippy's `print_stdout` and
//! `print_stderr`) everywhere but here.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::{IsTerminal, Write as _};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::error::{Result, Status};

/// Whether stderr gets colours and fancy marks.
static COLOR_STDERR: AtomicBool = AtomicBool::new(false);
/// Whether stdout gets colours and fancy marks.
static COLOR_STDOUT: AtomicBool = AtomicBool::new(false);
/// The `-v` count.
static VERBOSE: AtomicU8 = AtomicU8::new(0);

/// Decide once, before anything is printed: colours per stream and verbosity.
pub fn init(no_color_flag: bool, verbose: u8) {
    let no_color_env = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let allowed = !no_color_flag && !no_color_env;
    let stderr = allowed && std::io::stderr().is_terminal();
    let stdout = allowed && std::io::stdout().is_terminal();
    COLOR_STDERR.store(stderr, Ordering::Relaxed);
    COLOR_STDOUT.store(stdout, Ordering::Relaxed);
    VERBOSE.store(verbose, Ordering::Relaxed);
    // dialoguer and indicatif style through `console`: keep them in line.
    console::set_colors_enabled(stdout);
    console::set_colors_enabled_stderr(stderr);
    crate::feedback::install(&Terminal);
}

/// The terminal behind [`crate::feedback`]: the library's notes, bars and host-key question.
struct Terminal;

impl crate::feedback::Feedback for Terminal {
    fn note(&self, message: &str) {
        note(message);
    }

    fn bar(&self, len: u64, message: &str) -> ProgressBar {
        bar(len, message)
    }

    fn trust_host_key(&self, q: &crate::feedback::HostKeyQuestion<'_>) -> std::io::Result<bool> {
        crate::ui::prompt::confirm_host_key(q.name, q.key_type, q.fingerprint, q.known, q.record_to)
    }
}

/// Whether stderr (messages, progress) gets colours and fancy marks.
pub fn color() -> bool {
    COLOR_STDERR.load(Ordering::Relaxed)
}

/// Whether stdout (data) gets colours and fancy marks.
pub fn color_stdout() -> bool {
    COLOR_STDOUT.load(Ordering::Relaxed)
}

/// The `-v` count: 0 by default.
pub fn verbosity() -> u8 {
    VERBOSE.load(Ordering::Relaxed)
}

/// A message for the user, on stderr.
pub fn note(message: &str) {
    eprintln!("{message}");
}

/// Text for the user that already ends its lines (a summary, a checklist), on stderr.
pub fn note_raw(text: &str) {
    eprint!("{text}");
}

/// A detail only `-v` shows, on stderr.
pub fn detail(message: &str) {
    if verbosity() > 0 {
        eprintln!("{message}");
    }
}

/// Data, on stdout, as is (the caller ends its lines).
pub fn data(text: &str) {
    let mut out = std::io::stdout().lock();
    // A closed pipe (`homelab apps | head`) is not an error worth a panic.
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// One line of data, on stdout.
pub fn data_line(line: &str) {
    data(&format!("{line}\n"));
}

/// Whether stdout is a terminal (data that must not land in the scrollback checks it).
pub fn stdout_is_terminal() -> bool {
    std::io::stdout().is_terminal()
}

/// Whether someone can answer a question: stdin and stderr (where prompts go) are terminals.
pub fn can_ask() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// A writer on stdout, for data produced by a library that writes (shell completions).
pub fn data_writer() -> std::io::StdoutLock<'static> {
    std::io::stdout().lock()
}

/// Print an error, and its hint, to stderr and return the exit code it maps to.
pub fn report_outcome(outcome: Result<Status>) -> ExitCode {
    use crate::ui::style::{bold, red};
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

/// Whether progress is drawn: only when stderr is a terminal, so logs and pipes stay clean.
pub fn progress_enabled() -> bool {
    std::io::stderr().is_terminal()
}

fn progress(len: Option<u64>, template: &str) -> ProgressBar {
    if !progress_enabled() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(len, ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar
}

/// The spinner of every slow step: `⠋ message 3s` on stderr, hidden off a terminal.
pub fn spinner(message: impl Into<String>) -> ProgressBar {
    let bar = progress(None, "{spinner} {msg} {elapsed:.dim}");
    bar.set_message(message.into());
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// The bar of every counted step (objects pushed, files written): `message [===   ] 3/10`
/// on stderr, hidden off a terminal.
pub fn bar(len: u64, message: impl Into<String>) -> ProgressBar {
    let bar = progress(Some(len), "{msg} {bar:30} {pos}/{len}");
    bar.set_message(message.into());
    bar
}

/// A message for the user on stderr, formatted like `eprintln!`.
#[macro_export]
macro_rules! note {
    () => {
        $crate::ui::printer::note("")
    };
    ($($arg:tt)*) => {
        $crate::ui::printer::note(&format!($($arg)*))
    };
}
