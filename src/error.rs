//! The error type every command and library module returns, and the exit code each kind
//! maps to.
//!
//! Exit codes are part of the interface: 0 ok, 1 checks failed, 2 usage or config error.
//! Every error carries an optional `hint:` line telling the user what to do next.
//!
//! The kind says whose move it is, so the same failure exits with the same code from every
//! command:
//! - [`Kind::Usage`] (2): the command line, `homelab.yaml` or a file the user named (a key
//!   file, `--ssh-key`) is wrong; fixing that input fixes the run. An app whose settings its
//!   profile cannot accept is one of these: validation refuses it, naming `apps[i].…`,
//!   before any command renders.
//! - [`Kind::Failed`] (1): the input is fine but the work could not be done: a server, the
//!   cluster or the disk said no, or a check found a problem. An embedded profile or
//!   template that fails to render a validated configuration is a defect of homelab, not of
//!   the input, so it is a failure too, with a hint saying so ([`Error::defect`]).
//!
//! Library errors from other crates (I/O, libgit2, templates, JSON) are failures unless the
//! caller knows better; [`Context`] adds what was being done, keeping the kind and hint.

use std::fmt;

/// What went wrong, by the exit code it maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Something the user asked for could not be done, or a check failed (exit 1).
    Failed,
    /// The command line or the configuration is wrong (exit 2).
    Usage,
}

/// An error for the user: a message, an optional hint, and the exit code it maps to.
#[derive(Debug)]
pub struct Error {
    pub kind: Kind,
    pub message: String,
    pub hint: Option<String>,
}

impl Error {
    /// A usage or configuration error (exit 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            kind: Kind::Usage,
            message: message.into(),
            hint: None,
        }
    }

    /// An operation or check that failed (exit 1).
    pub fn failed(message: impl Into<String>) -> Self {
        Self {
            kind: Kind::Failed,
            message: message.into(),
            hint: None,
        }
    }

    /// Attach a `hint:` line saying how to fix it.
    #[must_use]
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self.kind {
            Kind::Failed => 1,
            Kind::Usage => 2,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(err: std::io::Error) -> Self {
        Self::failed(err.to_string())
    }
}

impl From<git2::Error> for Error {
    fn from(err: git2::Error) -> Self {
        Self::failed(err.message().to_owned())
    }
}

impl From<minijinja::Error> for Error {
    fn from(err: minijinja::Error) -> Self {
        Self::failed(chain(&err))
    }
}

impl From<serde_json::Error> for Error {
    fn from(err: serde_json::Error) -> Self {
        Self::failed(err.to_string())
    }
}

/// An error and its sources, `outer: inner: …`, as one line.
pub fn chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = cause.source();
    }
    out
}

impl Error {
    /// Prefix the message with what was being done (`"{what}: {message}"`).
    #[must_use]
    pub fn context(mut self, what: impl fmt::Display) -> Self {
        self.message = format!("{what}: {}", self.message);
        self
    }

    /// A defect of homelab itself (an embedded profile or template that does not render a
    /// configuration validation accepted): a failure, with a hint to report it.
    pub fn defect(message: impl Into<String>) -> Self {
        Self::failed(message).with_hint(
            "this is a defect of homelab, not of your homelab.yaml: please report it with the message above",
        )
    }
}

/// `.context(…)` on any result whose error converts into [`Error`].
pub trait Context<T> {
    /// Prefix the error with what was being done, keeping its kind and hint.
    fn context(self, what: impl fmt::Display) -> Result<T>;
    /// As [`Context::context`], with the text built only on failure.
    fn with_context<D: fmt::Display>(self, what: impl FnOnce() -> D) -> Result<T>;
}

impl<T, E: Into<Error>> Context<T> for std::result::Result<T, E> {
    fn context(self, what: impl fmt::Display) -> Result<T> {
        self.map_err(|e| e.into().context(what))
    }

    fn with_context<D: fmt::Display>(self, what: impl FnOnce() -> D) -> Result<T> {
        self.map_err(|e| e.into().context(what()))
    }
}

/// The result of a command: `Ok(Status)` or an [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How a command that did not error ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Everything went fine (exit 0).
    Ok,
    /// The command ran, but checks failed or work was left undone (exit 1).
    ChecksFailed,
}
