//! What library code tells the person running homelab while it works: a note, a progress
//! bar, and the one question a connection may have to ask (an unknown SSH host key).
//!
//! The engines (`git`, `render`) sit below the terminal UI and must not reach up to it, yet
//! a push deep inside libgit2's callbacks still needs its bar and its host-key question. So
//! they speak through this facade, and `ui` installs the terminal behind it once, at start
//! (as the `log` crate's macros reach whichever logger the binary installed). Until one is
//! installed (a library caller, a test), notes go nowhere, bars are hidden and an unknown
//! host key is not trusted.

use std::path::Path;
use std::sync::OnceLock;

use indicatif::ProgressBar;

/// An unknown SSH host key, put to the user before anything is sent to the host.
#[derive(Debug, Clone, Copy)]
pub struct HostKeyQuestion<'a> {
    /// The host as known_hosts names it (`host` or `[host]:port`).
    pub name: &'a str,
    pub key_type: &'a str,
    pub fingerprint: &'a str,
    /// What the files know of the host instead, as a parenthesised remark (or empty).
    pub known: &'a str,
    /// The known_hosts file a yes records the key in.
    pub record_to: &'a Path,
}

/// The receiving end: the terminal UI implements it.
pub trait Feedback: Send + Sync {
    /// A message for the user (a warning, what was done on the side).
    fn note(&self, message: &str);
    /// A counted bar of `len` steps, labelled `message` (hidden where nobody sees it).
    fn bar(&self, len: u64, message: &str) -> ProgressBar;
    /// Whether to trust, and record, an unknown host key.
    fn trust_host_key(&self, question: &HostKeyQuestion<'_>) -> std::io::Result<bool>;
}

static INSTALLED: OnceLock<&'static dyn Feedback> = OnceLock::new();

/// Send everything from now on to `feedback`; the first installation wins.
pub fn install(feedback: &'static dyn Feedback) {
    let _ = INSTALLED.set(feedback);
}

/// Tell the user `message`.
pub fn note(message: &str) {
    if let Some(feedback) = INSTALLED.get() {
        feedback.note(message);
    }
}

/// A progress bar of `len` steps (hidden when nothing is installed).
pub fn bar(len: u64, message: &str) -> ProgressBar {
    match INSTALLED.get() {
        Some(feedback) => feedback.bar(len, message),
        None => ProgressBar::hidden(),
    }
}

/// Ask whether to trust an unknown host key; no when nobody can be asked.
pub fn trust_host_key(question: &HostKeyQuestion<'_>) -> std::io::Result<bool> {
    match INSTALLED.get() {
        Some(feedback) => feedback.trust_host_key(question),
        None => Ok(false),
    }
}
