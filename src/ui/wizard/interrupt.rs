//! Ctrl-C at a prompt: the wizard stops cleanly instead of dying.
//!
//! dialoguer reads keys in raw mode and, on Ctrl-C, raises SIGINT at its own process before
//! returning an "interrupted" error. With the default disposition that signal kills the
//! process on the spot: no "aborted" message, no draft note, and the cursor a selection hid
//! stays hidden. While the wizard runs, SIGINT is caught (and the prompt's error ends the
//! wizard); afterwards Ctrl-C ends the process as before, with the cursor restored.

use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Whether a prompt is open: SIGINT is then the prompt's business.
static PROMPTING: AtomicBool = AtomicBool::new(false);

/// Catches SIGINT while it lives; dropping it makes Ctrl-C end the process again.
#[derive(Debug)]
pub struct Guard(());

impl Guard {
    /// Keep catching SIGINT for the rest of the process: the wizard ends with an error that
    /// `main` reports, and the SIGINT the prompt raised may still be on its way to the
    /// handler thread, which must not exit before that report is printed.
    pub fn keep(self) {
        std::mem::forget(self);
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        PROMPTING.store(false, Ordering::SeqCst);
    }
}

/// Catch SIGINT until the guard is dropped.
pub fn catch() -> Guard {
    install();
    PROMPTING.store(true, Ordering::SeqCst);
    Guard(())
}

/// Make the cursor visible again (selections hide it while they draw).
pub fn restore_terminal() {
    let _ = console::Term::stderr().show_cursor();
}

/// Once per process: a thread that receives SIGINT. Registering the handler replaces the
/// default action for the rest of the process, so outside the wizard the thread performs
/// it: restore the terminal and exit with the conventional status 130.
fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let (ready, registered) = std::sync::mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("sigint".into())
            .spawn(move || {
                let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    let _ = ready.send(());
                    return;
                };
                runtime.block_on(async move {
                    use tokio::signal::unix::{SignalKind, signal};
                    let Ok(mut sigint) = signal(SignalKind::interrupt()) else {
                        let _ = ready.send(());
                        return;
                    };
                    let _ = ready.send(());
                    while sigint.recv().await.is_some() {
                        if !PROMPTING.load(Ordering::SeqCst) {
                            restore_terminal();
                            eprintln!();
                            std::process::exit(130);
                        }
                    }
                });
            });
        if spawned.is_ok() {
            // The first prompt must not open before the handler is in place.
            let _ = registered.recv_timeout(Duration::from_secs(5));
        }
    });
}
