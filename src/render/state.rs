//! What the tool generated last: `.homelab/state.yaml`, committed with the repository.
//!
//! Re-rendering is only safe if the tool can tell the user's edits from its own output. The
//! state file records, per generated file, the sha256 of the rendering the tool produced and
//! the git blob id of that rendering, so the exact text can be recovered from the object
//! database as the base of a three-way merge. The renderings are also kept reachable under
//! [`RENDERED_REF`] so `git gc` never prunes a base that is still needed.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The state file, relative to the repository root.
pub const STATE_FILE: &str = ".homelab/state.yaml";

/// The git reference whose tree holds the renderings recorded in the state file.
pub const RENDERED_REF: &str = "refs/homelab/rendered";

/// The state format this binary reads and writes.
pub const STATE_VERSION: u32 = 1;

const HEADER: &str = "# Written by `homelab render`: what homelab generated last, so your own edits are kept.\n# Do not edit by hand.\n";

/// The recorded rendering of one generated file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileState {
    /// Hex sha256 of the rendering the tool produced.
    pub sha256: String,
    /// The git blob id of that rendering (the merge base of the next render).
    pub blob: String,
}

impl FileState {
    /// The record of `content` as rendered.
    pub fn of(content: &str) -> Self {
        Self {
            sha256: sha256_hex(content.as_bytes()),
            blob: blob_id(content.as_bytes()).to_string(),
        }
    }

    /// Whether `content` is exactly this rendering.
    pub fn matches(&self, content: &[u8]) -> bool {
        sha256_hex(content) == self.sha256
    }
}

/// The whole state file. `files` is a sorted map, so the file is stable across runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    pub version: u32,
    #[serde(default)]
    pub files: BTreeMap<String, FileState>,
}

impl Default for State {
    fn default() -> Self {
        Self {
            version: STATE_VERSION,
            files: BTreeMap::new(),
        }
    }
}

impl State {
    /// Read the state of the repository at `repo_dir`; an absent file is an empty state (the
    /// repository was never rendered).
    pub fn load(repo_dir: &Path) -> Result<Self> {
        let path = repo_dir.join(STATE_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(err) => {
                return Err(Error::failed(format!(
                    "cannot read {}: {err}",
                    path.display()
                )));
            }
        };
        Self::parse(&text)
    }

    /// Parse the state file's text.
    pub fn parse(text: &str) -> Result<Self> {
        let state: State = serde_saphyr::from_str(text).map_err(|err| {
            Error::usage(format!("{STATE_FILE} is not a valid state file: {err}")).with_hint(
                format!("restore it from git: `git checkout HEAD -- {STATE_FILE}`"),
            )
        })?;
        if state.version != STATE_VERSION {
            return Err(Error::usage(format!(
                "{STATE_FILE}: version {} is not supported (this homelab reads version {STATE_VERSION})",
                state.version
            ))
            .with_hint("upgrade homelab, or restore the file from git"));
        }
        for (path, file) in &state.files {
            let valid_sha =
                file.sha256.len() == 64 && file.sha256.bytes().all(|b| b.is_ascii_hexdigit());
            if !valid_sha || git2::Oid::from_str(&file.blob).is_err() {
                return Err(Error::usage(format!(
                    "{STATE_FILE}: files.{path} has an invalid sha256 or blob id"
                ))
                .with_hint(format!(
                    "restore it from git: `git checkout HEAD -- {STATE_FILE}`"
                )));
            }
        }
        Ok(state)
    }

    /// The file's text: a comment header, then stable YAML.
    pub fn to_text(&self) -> Result<String> {
        let body = serde_saphyr::to_string(self)
            .map_err(|err| Error::failed(format!("cannot serialize {STATE_FILE}: {err}")))?;
        Ok(format!("{HEADER}{body}"))
    }
}

/// Hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// The git blob id `bytes` would have, without touching any repository.
pub fn blob_id(bytes: &[u8]) -> git2::Oid {
    // Hashing a blob in memory cannot fail; libgit2 only errors on invalid object types.
    git2::Oid::hash_object(git2::ObjectType::Blob, bytes).expect("hash a blob")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_in_stable_order() {
        let mut state = State::default();
        state.files.insert("b/x.yaml".into(), FileState::of("b\n"));
        state.files.insert("a.yaml".into(), FileState::of("a\n"));
        let text = state.to_text().expect("serialize");
        assert!(text.find("a.yaml").expect("a") < text.find("b/x.yaml").expect("b"));
        assert_eq!(State::parse(&text).expect("parse"), state);
        assert_eq!(state.to_text().expect("again"), text);
    }

    #[test]
    fn blob_ids_match_git() {
        // `printf 'hello\n' | git hash-object --stdin`
        assert_eq!(
            blob_id(b"hello\n").to_string(),
            "ce013625030ba8dba906f756967f9e9ca394464a"
        );
        assert!(FileState::of("hello\n").matches(b"hello\n"));
        assert!(!FileState::of("hello\n").matches(b"hello"));
    }

    #[test]
    fn corrupt_state_is_a_usage_error_with_a_hint() {
        let err = State::parse("version: 1\nfiles:\n  a.yaml:\n    sha256: nope\n    blob: x\n")
            .expect_err("invalid");
        assert_eq!(err.exit_code(), 2);
        assert!(err.message.contains("files.a.yaml"), "{}", err.message);
        assert!(err.hint.is_some());
        let err = State::parse("version: 9\n").expect_err("future version");
        assert!(err.message.contains("version 9"), "{}", err.message);
    }
}
