//! Credentials for git remotes, offered to libgit2 one method at a time.
//!
//! libgit2 calls the credentials callback again after every rejected attempt, forever, so
//! each method is handed out at most once per connection and the list of what was tried is
//! kept to explain a final failure. Secrets (passphrases, tokens) live only in memory.
//! Prompts stop the exchange's deadline while they wait for the user.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use git2::{Cred, CredentialType};

use crate::net::Budget;

/// Environment variable holding the passphrase of the SSH key.
pub const ENV_SSH_PASSPHRASE: &str = "HOMELAB_SSH_KEY_PASSPHRASE";
/// Environment variable holding the HTTPS token (password).
pub const ENV_GIT_TOKEN: &str = "HOMELAB_GIT_TOKEN";
/// The user name for git hosting when the URL names none.
pub const DEFAULT_USER: &str = "git";
/// Default private keys, in the order OpenSSH-using people expect them to be tried.
const DEFAULT_KEYS: &[&str] = &["id_ed25519", "id_ecdsa", "id_rsa"];

/// One way of authenticating.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Method {
    Agent,
    Key(PathBuf),
    Token,
}

/// Secrets asked for once and reused across the connections of one push (fetch, then push,
/// each on a thread of its own).
#[derive(Debug, Default)]
pub struct SecretCache {
    passphrases: Vec<(PathBuf, String)>,
    token: Option<String>,
}

/// The state of one connection's credential negotiation.
#[derive(Debug)]
pub struct Negotiator<'a> {
    ssh_key: Option<PathBuf>,
    interactive: bool,
    cache: &'a Mutex<SecretCache>,
    budget: &'a Budget,
    handed_out: Vec<Method>,
    /// Human-readable account of each attempt, for the final error.
    pub tried: Vec<String>,
    /// Set once every method was used up.
    pub exhausted: bool,
    username_given: bool,
}

impl<'a> Negotiator<'a> {
    pub fn new(
        ssh_key: Option<PathBuf>,
        interactive: bool,
        cache: &'a Mutex<SecretCache>,
        budget: &'a Budget,
    ) -> Self {
        Self {
            ssh_key,
            interactive,
            cache,
            budget,
            handed_out: Vec::new(),
            tried: Vec::new(),
            exhausted: false,
            username_given: false,
        }
    }

    /// The body of libgit2's credentials callback.
    pub fn next(
        &mut self,
        url: &str,
        user_from_url: Option<&str>,
        allowed: CredentialType,
    ) -> Result<Cred, git2::Error> {
        let user = user_from_url
            .filter(|u| !u.is_empty())
            .unwrap_or(DEFAULT_USER);
        if allowed.contains(CredentialType::USERNAME) && !self.username_given {
            // SSH without a user in the URL: libgit2 first asks who we are.
            self.username_given = true;
            return Cred::username(user);
        }
        if allowed.contains(CredentialType::SSH_KEY) {
            while let Some(method) = self.next_ssh_method() {
                self.handed_out.push(method.clone());
                match method {
                    Method::Agent => {
                        self.tried.push("the SSH agent (SSH_AUTH_SOCK)".into());
                        return Cred::ssh_key_from_agent(user);
                    }
                    Method::Key(path) => match self.passphrase_for(&path) {
                        Ok(passphrase) => {
                            self.tried.push(format!("the key {}", path.display()));
                            return Cred::ssh_key(user, None, &path, passphrase.as_deref());
                        }
                        Err(why) => {
                            self.tried
                                .push(format!("the key {} (skipped: {why})", path.display()));
                        }
                    },
                    Method::Token => unreachable!("tokens are not SSH methods"),
                }
            }
        } else if allowed.contains(CredentialType::USER_PASS_PLAINTEXT)
            && !self.handed_out.contains(&Method::Token)
        {
            self.handed_out.push(Method::Token);
            if url.to_ascii_lowercase().starts_with("http://") {
                // A token over plain HTTP is readable by anyone on the path.
                self.tried.push(
                    "a token (not sent: the URL is unencrypted http://, use https://)".into(),
                );
                self.exhausted = true;
                return Err(git2::Error::new(
                    git2::ErrorCode::Auth,
                    git2::ErrorClass::Callback,
                    "refusing to send a token over http://",
                ));
            }
            match self.token() {
                Some(token) => {
                    self.tried.push(format!(
                        "a token from {ENV_GIT_TOKEN} or the prompt (user {user})"
                    ));
                    return Cred::userpass_plaintext(user, &token);
                }
                None => self
                    .tried
                    .push(format!("a token (none: {ENV_GIT_TOKEN} is not set)")),
            }
        }
        self.exhausted = true;
        Err(git2::Error::new(
            git2::ErrorCode::Auth,
            git2::ErrorClass::Callback,
            "no more credentials to try",
        ))
    }

    fn next_ssh_method(&self) -> Option<Method> {
        let mut candidates = Vec::new();
        if agent_available() {
            candidates.push(Method::Agent);
        }
        if let Some(key) = &self.ssh_key {
            candidates.push(Method::Key(key.clone()));
        }
        if let Some(home) = crate::dirs::home() {
            for name in DEFAULT_KEYS {
                let path = home.join(".ssh").join(name);
                if path.is_file() {
                    candidates.push(Method::Key(path));
                }
            }
        }
        candidates
            .into_iter()
            .find(|m| !self.handed_out.contains(m))
    }

    /// `Ok(None)` for an unencrypted key, the passphrase for an encrypted one, or why not.
    fn passphrase_for(&self, path: &Path) -> Result<Option<String>, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read it: {e}"))?;
        if !key_is_encrypted(&text) {
            return Ok(None);
        }
        if let Ok(p) = std::env::var(ENV_SSH_PASSPHRASE) {
            return Ok(Some(p));
        }
        if let Some((_, p)) = self.cache().passphrases.iter().find(|(k, _)| k == path) {
            return Ok(Some(p.clone()));
        }
        if !self.can_prompt() {
            return Err(format!(
                "it needs a passphrase: set {ENV_SSH_PASSPHRASE} or run in a terminal"
            ));
        }
        let p = self
            .budget
            .paused(|| {
                dialoguer::Password::new()
                    .with_prompt(format!("Passphrase for {}", path.display()))
                    .allow_empty_password(true)
                    .interact()
            })
            .map_err(|e| format!("no passphrase entered: {e}"))?;
        self.cache()
            .passphrases
            .push((path.to_path_buf(), p.clone()));
        Ok(Some(p))
    }

    fn token(&self) -> Option<String> {
        if let Ok(t) = std::env::var(ENV_GIT_TOKEN)
            && !t.is_empty()
        {
            return Some(t);
        }
        if let Some(t) = &self.cache().token {
            return Some(t.clone());
        }
        if !self.can_prompt() {
            return None;
        }
        let t = self
            .budget
            .paused(|| {
                dialoguer::Password::new()
                    .with_prompt("Git access token (password)")
                    .interact()
            })
            .ok()?;
        self.cache().token = Some(t.clone());
        Some(t)
    }

    fn cache(&self) -> MutexGuard<'_, SecretCache> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn can_prompt(&self) -> bool {
        self.interactive
    }
}

/// Whether an SSH agent socket is there to ask (libgit2 aborts, rather than moving on to
/// the next method, when the agent cannot be reached at all).
fn agent_available() -> bool {
    std::env::var_os("SSH_AUTH_SOCK")
        .filter(|s| !s.is_empty())
        .is_some_and(|s| Path::new(&s).exists())
}

/// Whether a private key file (OpenSSH or legacy PEM) is passphrase-protected.
pub fn key_is_encrypted(text: &str) -> bool {
    match ssh_key::PrivateKey::from_openssh(text) {
        Ok(key) => key.is_encrypted(),
        // Legacy PEM keys announce encryption in a header.
        Err(_) => text.contains("ENCRYPTED"),
    }
}
