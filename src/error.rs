//! The error type every command returns, and the exit code each kind maps to.
//!
//! Exit codes are part of the interface: 0 ok, 1 checks failed, 2 usage or config error.
//! Every error carries an optional `hint:` line telling the user what to do next.

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

impl From<anyhow::Error> for Error {
    fn from(err: anyhow::Error) -> Self {
        if let Some(e) = err.downcast_ref::<Error>() {
            return Self {
                kind: e.kind,
                message: e.message.clone(),
                hint: e.hint.clone(),
            };
        }
        Self::failed(format!("{err:#}"))
    }
}

impl From<std::io::Error> for Error {
    fn from(err: std::io::Error) -> Self {
        Self::failed(err.to_string())
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
