//! Drafts: the wizard's answers so far, kept outside the repository so that Ctrl-C, a
//! closed terminal or a failure after the last question never costs the user their answers.
//!
//! One draft per target directory, under `${XDG_STATE_HOME:-~/.local/state}/homelab/drafts/`
//! (state, not configuration: it is only useful until `init` has written the repository).
//! A draft holds what `homelab.yaml` would hold, which never includes a secret (the
//! validators refuse credentials in every field), and which questions were answered. It is
//! rewritten after every answer and removed once the repository is committed.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::config::Config;

/// The format of the draft file; a draft of another version is ignored.
const VERSION: u32 = 1;

/// What the wizard saves after each answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Draft {
    pub version: u32,
    /// The directory `init` will write, as given (for the user's eyes).
    pub dir: String,
    /// Key paths of the answered questions.
    pub answered: Vec<String>,
    /// The configuration so far; unanswered fields are empty or at their defaults.
    pub config: Config,
    /// The kubeconfig context chosen for the bootstrap, if that question was answered.
    #[serde(default)]
    pub context: Option<String>,
}

impl Draft {
    pub fn new(dir: &Path, answered: Vec<String>, config: Config, context: Option<String>) -> Self {
        Self {
            version: VERSION,
            dir: dir.display().to_string(),
            answered,
            config,
            context,
        }
    }
}

/// Where the draft of one target directory lives.
#[derive(Debug, Clone)]
pub struct Store {
    file: PathBuf,
}

impl Store {
    /// The draft file of `target`; None when neither XDG_STATE_HOME nor HOME is set.
    pub fn for_dir(target: &Path) -> Option<Self> {
        let state = crate::dirs::homelab(crate::dirs::Base::State)?;
        let absolute = resolved(target);
        let digest = Sha256::digest(absolute.as_os_str().as_encoded_bytes());
        let hash: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        let name: String = absolute
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .take(40)
            .collect();
        let file = state.join("drafts").join(format!("{name}-{hash}.yaml"));
        Some(Self { file })
    }

    /// The draft file.
    pub fn path(&self) -> &Path {
        &self.file
    }

    /// The saved draft, if there is a readable one of this version.
    pub fn load(&self) -> Option<Draft> {
        let text = std::fs::read_to_string(&self.file).ok()?;
        let draft: Draft = serde_saphyr::from_str(&text).ok()?;
        (draft.version == VERSION).then_some(draft)
    }

    /// Save the draft: readable by its owner only, replaced atomically so a kill mid-write
    /// leaves the previous draft.
    pub fn save(&self, draft: &Draft) -> std::io::Result<()> {
        let text = serde_saphyr::to_string(draft).map_err(std::io::Error::other)?;
        let dir = self.file.parent().unwrap_or(Path::new("."));
        private_dir(dir)?;
        let tmp = self.file.with_extension("yaml.tmp");
        let _ = std::fs::remove_file(&tmp);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let mut file = options.open(&tmp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&tmp, &self.file)
    }

    /// Forget the draft (the repository holds the answers now, or the user chose a fresh
    /// start).
    pub fn discard(&self) {
        let _ = std::fs::remove_file(&self.file);
    }
}

/// `target` as an absolute path with its existing part resolved, so `lab`, `./lab` and
/// `/home/me/lab` share one draft whether or not the directory exists yet.
fn resolved(target: &Path) -> PathBuf {
    let absolute = std::path::absolute(target).unwrap_or_else(|_| target.to_path_buf());
    let mut existing = absolute.clone();
    let mut rest = Vec::new();
    loop {
        if let Ok(mut out) = std::fs::canonicalize(&existing) {
            // What does not exist yet holds no symlink: `..` simply goes up.
            for part in rest.iter().rev() {
                if part == ".." {
                    out.pop();
                } else if part != "." {
                    out.push(part);
                }
            }
            return out;
        }
        let Some(last) = existing.components().next_back() else {
            return absolute;
        };
        let last = last.as_os_str().to_owned();
        if !existing.pop() {
            return absolute;
        }
        rest.push(last);
    }
}

#[cfg(unix)]
fn private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_draft_per_directory_however_it_is_spelled() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let base = tmp.path().canonicalize().expect("canonical");
        let a = resolved(&base.join("lab"));
        let b = resolved(&base.join("x/../lab"));
        assert_eq!(a, base.join("lab"));
        assert_eq!(a, b);
        std::fs::create_dir(base.join("lab")).expect("mkdir");
        assert_eq!(resolved(&base.join("lab")), a);
        assert_ne!(resolved(&base.join("other")), a);
    }
}
