//! SSH host-key verification against OpenSSH `known_hosts` files: the one trust policy for
//! every SSH server homelab talks to, whether it pushes there (`push`, `init`, `add-app`) or
//! hands the key to Flux (`bootstrap`).
//!
//! libgit2 hands us the server's raw host key; we decide. homelab must never talk to a host
//! it cannot authenticate: an unknown key is shown with its fingerprint and trusted only
//! when the user confirms it on a terminal or passed `--accept-new-host-key`, and a changed
//! or revoked key is always refused. Accepted keys are recorded, as OpenSSH does.
//!
//! `@cert-authority` lines are not used: libssh2 does not negotiate host certificates, so
//! the server's plain key is all there is to check.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use hmac::{Hmac, Mac};
use sha2::Digest as _;
use ssh_key::PublicKey;
use ssh_key::known_hosts::{HostPatterns, KnownHosts, Marker};

use crate::error::Error;
use crate::net::{Budget, GIT_EXCHANGE_FACTOR, human};

/// The `known_hosts` name of a host: `host` on port 22, `[host]:port` elsewhere.
pub fn host_name(host: &str, port: Option<u16>) -> String {
    match port {
        None | Some(22) => host.to_owned(),
        Some(port) => format!("[{host}]:{port}"),
    }
}

/// The OpenSSH-style fingerprint of a raw (wire-format) public key: `SHA256:<base64>`.
pub fn fingerprint(raw_key: &[u8]) -> String {
    let digest = sha2::Sha256::digest(raw_key);
    format!("SHA256:{}", STANDARD_NO_PAD.encode(digest))
}

/// The key algorithm name at the start of a wire-format key (e.g. `ssh-ed25519`).
pub fn key_type(raw_key: &[u8]) -> Option<String> {
    let len = u32::from_be_bytes(raw_key.get(..4)?.try_into().ok()?) as usize;
    let name = raw_key.get(4..4 + len)?;
    String::from_utf8(name.to_vec()).ok()
}

/// What the known_hosts files say about a host and the key it presented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// A matching entry holds this very key.
    Known,
    /// No entry names this host.
    Unknown,
    /// The host is known with other key types only (the server offered a new type).
    UnknownType { known_types: Vec<String> },
    /// The host is known with a different key of the same type: possible interception.
    Changed { file: PathBuf },
    /// The key is marked `@revoked`.
    Revoked { file: PathBuf },
}

/// How a host key came to be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trust {
    /// The known_hosts files already held it.
    Known,
    /// It was unknown; the user accepted it (flag or prompt) and it was recorded.
    Accepted,
}

/// Checks host keys against an ordered list of known_hosts files.
#[derive(Debug, Clone)]
pub struct HostKeyPolicy {
    /// Files read, in order; missing files are skipped.
    pub files: Vec<PathBuf>,
    /// Where a newly accepted key is appended.
    pub record_to: PathBuf,
    /// Record unknown keys without asking (`--accept-new-host-key`).
    pub accept_new: bool,
    /// Otherwise ask about an unknown key on the terminal.
    pub ask: bool,
}

impl HostKeyPolicy {
    /// `~/.ssh/known_hosts` plus the extra file; new keys go to the extra file when given.
    /// `ask`: whether an unknown key may be put to the user (a terminal, no `--yes`).
    pub fn new(extra: Option<&Path>, accept_new: bool, ask: bool) -> Self {
        let user_file = crate::dirs::home().map(|h| h.join(".ssh/known_hosts"));
        let mut files: Vec<PathBuf> = user_file.iter().cloned().collect();
        if let Some(extra) = extra {
            files.push(extra.to_path_buf());
        }
        let record_to = extra
            .map(Path::to_path_buf)
            .or(user_file)
            .unwrap_or_else(|| PathBuf::from(".ssh/known_hosts"));
        Self {
            files,
            record_to,
            accept_new,
            ask,
        }
    }

    /// Every entry of every file, with the file it is in. Lines this parser does not
    /// understand (odd key types, options) are skipped, as OpenSSH does, rather than
    /// failing the whole file.
    fn entries(&self) -> Vec<(PathBuf, ssh_key::known_hosts::Entry)> {
        let mut all = Vec::new();
        for file in &self.files {
            let Ok(text) = fs::read_to_string(file) else {
                continue;
            };
            all.extend(KnownHosts::new(&text).flatten().map(|e| (file.clone(), e)));
        }
        all
    }

    /// Look the key up in every file. A key marked `@revoked` anywhere is refused for every
    /// host, whatever the line's host field says: a revoked key is never good.
    pub fn verdict(&self, host: &str, port: Option<u16>, raw_key: &[u8]) -> Verdict {
        let name = host_name(host, port);
        let presented_type = key_type(raw_key).unwrap_or_default();
        let entries = self.entries();
        let same_key = |entry: &ssh_key::known_hosts::Entry| {
            entry.public_key().to_bytes().unwrap_or_default() == raw_key
        };
        if let Some((file, _)) = entries
            .iter()
            .find(|(_, e)| matches!(e.marker(), Some(Marker::Revoked)) && same_key(e))
        {
            return Verdict::Revoked { file: file.clone() };
        }
        let mut other_types = Vec::new();
        let mut changed = None;
        for (file, entry) in &entries {
            if entry.marker().is_some() || !host_matches(entry.host_patterns(), &name) {
                continue;
            }
            if same_key(entry) {
                return Verdict::Known;
            }
            let entry_type = entry.public_key().algorithm().to_string();
            if entry_type == presented_type {
                changed.get_or_insert_with(|| file.clone());
            } else if !other_types.contains(&entry_type) {
                other_types.push(entry_type);
            }
        }
        if let Some(file) = changed {
            Verdict::Changed { file }
        } else if other_types.is_empty() {
            Verdict::Unknown
        } else {
            Verdict::UnknownType {
                known_types: other_types,
            }
        }
    }

    /// Apply the policy: how the key is trusted, or the error to show the user. A prompt
    /// stops `budget` (the deadline of the connection it interrupts) while it waits.
    pub fn check(
        &self,
        host: &str,
        port: Option<u16>,
        raw_key: &[u8],
        budget: Option<&Budget>,
    ) -> Result<Trust, Error> {
        let name = host_name(host, port);
        let fp = fingerprint(raw_key);
        let ktype = key_type(raw_key).unwrap_or_else(|| "unknown".into());
        match self.verdict(host, port, raw_key) {
            Verdict::Known => Ok(Trust::Known),
            Verdict::Changed { file } => Err(Error::failed(format!(
                "WARNING: the SSH host key of {name} has CHANGED: it now presents {ktype} {fp}, \
                 which differs from the key recorded in {}. Someone may be intercepting the \
                 connection; nothing was sent to it",
                file.display()
            ))
            .with_hint(format!(
                "if the server's key was legitimately replaced, verify the new fingerprint with its \
                 administrator, then remove the old entry (ssh-keygen -R '{name}' -f {}) and run again",
                file.display()
            ))),
            Verdict::Revoked { file } => Err(Error::failed(format!(
                "the SSH host key of {name} ({ktype} {fp}) is marked @revoked in {}; nothing was sent to it",
                file.display()
            ))
            .with_hint("ask the server's administrator for its current host key")),
            verdict @ (Verdict::Unknown | Verdict::UnknownType { .. }) => {
                let known = match verdict {
                    Verdict::UnknownType { known_types } => format!(
                        " (known only with other key types: {})",
                        known_types.join(", ")
                    ),
                    _ => String::new(),
                };
                let accepted = self.accept_new || self.ask && self.confirm(&name, &ktype, &fp, &known, budget)?;
                if accepted {
                    self.record(&name, raw_key)?;
                    crate::feedback::note(&format!(
                        "added the SSH host key of {name} ({ktype} {fp}) to {}",
                        self.record_to.display()
                    ));
                    return Ok(Trust::Accepted);
                }
                let why = if self.ask { "it was not confirmed" } else { "refusing an unverified host" };
                Err(Error::failed(format!(
                    "the SSH host key of {name} is not known{known}: it presents {ktype} {fp}; \
                     {why}, nothing was sent to it"
                ))
                .with_hint(format!(
                    "check that fingerprint with the server's administrator (or its web page), then \
                     run again with --accept-new-host-key (or answer yes on a terminal) to record it \
                     in {}, or add the host to a file given with --known-hosts",
                    self.record_to.display()
                )))
            }
        }
    }

    /// Put an unknown key to the user; the connection's deadline stops meanwhile.
    fn confirm(
        &self,
        name: &str,
        ktype: &str,
        fp: &str,
        known: &str,
        budget: Option<&Budget>,
    ) -> Result<bool, Error> {
        let ask = || {
            crate::feedback::trust_host_key(&crate::feedback::HostKeyQuestion {
                name,
                key_type: ktype,
                fingerprint: fp,
                known,
                record_to: &self.record_to,
            })
        };
        let answer = match budget {
            Some(budget) => budget.paused(ask),
            None => ask(),
        };
        answer.map_err(|e| Error::failed(format!("cannot read the answer: {e}")))
    }

    /// The keys the files hold for a host (not revoked, no markers), e.g. for Flux when the
    /// host cannot be reached from here.
    pub fn known_keys(&self, host: &str, port: Option<u16>) -> Vec<PublicKey> {
        let name = host_name(host, port);
        let entries = self.entries();
        let revoked: Vec<Vec<u8>> = entries
            .iter()
            .filter(|(_, e)| matches!(e.marker(), Some(Marker::Revoked)))
            .filter_map(|(_, e)| e.public_key().to_bytes().ok())
            .collect();
        let mut keys: Vec<PublicKey> = Vec::new();
        for (_, entry) in &entries {
            let bytes = entry.public_key().to_bytes().unwrap_or_default();
            if entry.marker().is_none()
                && host_matches(entry.host_patterns(), &name)
                && !revoked.contains(&bytes)
                && !keys
                    .iter()
                    .any(|k| k.key_data() == entry.public_key().key_data())
            {
                keys.push(entry.public_key().clone());
            }
        }
        keys
    }

    /// Append `name key` to the record file, creating it (and `~/.ssh`) privately.
    fn record(&self, name: &str, raw_key: &[u8]) -> Result<(), Error> {
        let key = PublicKey::from_bytes(raw_key)
            .and_then(|k| k.to_openssh())
            .unwrap_or_else(|_| {
                format!(
                    "{} {}",
                    key_type(raw_key).unwrap_or_default(),
                    STANDARD.encode(raw_key)
                )
            });
        let path = &self.record_to;
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
            && !parent.exists()
        {
            fs::create_dir_all(parent)?;
            set_mode(parent, 0o700);
        }
        let needs_newline = fs::read(path)
            .map(|b| !b.is_empty() && !b.ends_with(b"\n"))
            .unwrap_or(false);
        let mut file = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| {
                Error::failed(format!("cannot write {}: {e}", path.display()))
                    .with_hint("check the permissions of that file and its directory")
            })?;
        let line = format!("{}{name} {key}\n", if needs_newline { "\n" } else { "" });
        file.write_all(line.as_bytes())?;
        Ok(())
    }
}

/// Connect to the SSH server of `url` and return its raw host key: libssh2 hands it to the
/// certificate check before any authentication, and the connection stops right there.
/// Bounded like every exchange: connecting and each wait by `timeout`, the whole by
/// [`GIT_EXCHANGE_FACTOR`] times that.
pub fn scan(url: &str, timeout: Duration) -> Result<Vec<u8>, String> {
    super::set_socket_timeouts(timeout);
    let url = url.to_owned();
    let budget: Arc<Budget> = Budget::new(timeout.saturating_mul(GIT_EXCHANGE_FACTOR));
    let outcome = budget.run(move || {
        let captured = std::rc::Rc::new(std::cell::RefCell::new(None::<Vec<u8>>));
        let sink = captured.clone();
        let mut callbacks = git2::RemoteCallbacks::new();
        callbacks.certificate_check(move |cert, _host| {
            if let Some(raw) = cert.as_hostkey().and_then(|k| k.hostkey()) {
                *sink.borrow_mut() = Some(raw.to_vec());
            }
            Err(git2::Error::from_str(
                "host key recorded, not connecting further",
            ))
        });
        let result = git2::Remote::create_detached(url.as_str()).and_then(|mut remote| {
            remote
                .connect_auth(git2::Direction::Fetch, Some(callbacks), None)
                .map(|_| ())
        });
        match captured.borrow_mut().take() {
            Some(raw) => Ok(raw),
            None => Err(match result {
                Err(e) => e.message().to_owned(),
                Ok(()) => "the server sent no SSH host key".to_owned(),
            }),
        }
    });
    outcome.unwrap_or_else(|elapsed| Err(format!("no answer within {}", human(elapsed.0))))
}

/// Does an entry's host field name `name` (`host` or `[host]:port`)?
pub fn host_matches(patterns: &HostPatterns, name: &str) -> bool {
    match patterns {
        HostPatterns::HashedName { salt, hash } => {
            let Ok(mut mac) = Hmac::<sha1::Sha1>::new_from_slice(salt) else {
                return false;
            };
            mac.update(name.as_bytes());
            mac.verify_slice(hash).is_ok()
        }
        HostPatterns::Patterns(list) => {
            // OpenSSH: a negated match vetoes the line; otherwise any positive match counts.
            let mut matched = false;
            for pattern in list {
                if let Some(negated) = pattern.strip_prefix('!') {
                    if glob(negated, name) {
                        return false;
                    }
                } else if glob(pattern, name) {
                    matched = true;
                }
            }
            matched
        }
    }
}

/// OpenSSH host patterns: `*` any run, `?` any one character, case-insensitive.
fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.to_ascii_lowercase().chars().collect();
    let t: Vec<char> = text.to_ascii_lowercase().chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(unix)]
pub(crate) fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt as _;
    let _ = fs::set_permissions(path, fs::Permissions::from_mode(mode));
}

#[cfg(not(unix))]
pub(crate) fn set_mode(_path: &Path, _mode: u32) {}

#[cfg(test)]
mod tests {
    use super::*;

    const ED: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";

    fn raw(b64: &str) -> Vec<u8> {
        STANDARD.decode(b64).unwrap()
    }

    fn policy_with(text: &str) -> (tempfile::TempDir, HostKeyPolicy) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("known_hosts");
        fs::write(&file, text).unwrap();
        let policy = HostKeyPolicy {
            files: vec![file.clone()],
            record_to: file,
            accept_new: false,
            ask: false,
        };
        (dir, policy)
    }

    #[test]
    fn globs() {
        assert!(glob("*.example.com", "git.example.com"));
        assert!(glob("git?.lan", "git1.lan"));
        assert!(!glob("git?.lan", "git12.lan"));
        assert!(glob("[127.0.0.1]:2222", "[127.0.0.1]:2222"));
        assert!(!glob("127.0.0.1", "[127.0.0.1]:2222"));
        assert!(glob("GitHub.com", "github.com"));
    }

    #[test]
    fn plain_port_and_negated_entries() {
        let (_d, p) = policy_with(&format!(
            "# comment\n[nas.lan]:2222 ssh-ed25519 {ED}\n*.lan,!evil.lan ssh-ed25519 {ED}\n"
        ));
        let key = raw(ED);
        assert_eq!(p.verdict("nas.lan", Some(2222), &key), Verdict::Known);
        assert_eq!(p.verdict("git.lan", None, &key), Verdict::Known);
        assert_eq!(p.verdict("evil.lan", None, &key), Verdict::Unknown);
        assert_eq!(p.verdict("nas.lan", Some(22), &key), Verdict::Known);
        assert_eq!(p.verdict("other.org", None, &key), Verdict::Unknown);
    }

    #[test]
    fn hashed_entries_match_only_their_host() {
        let salt = [7u8; 20];
        let mut mac = Hmac::<sha1::Sha1>::new_from_slice(&salt).unwrap();
        mac.update(b"[10.1.2.3]:2200");
        let hash = mac.finalize().into_bytes();
        let line = format!(
            "|1|{}|{} ssh-ed25519 {ED}\n",
            STANDARD.encode(salt),
            STANDARD.encode(hash)
        );
        let (_d, p) = policy_with(&line);
        assert_eq!(p.verdict("10.1.2.3", Some(2200), &raw(ED)), Verdict::Known);
        assert_eq!(p.verdict("10.1.2.3", None, &raw(ED)), Verdict::Unknown);
    }

    #[test]
    fn changed_key_is_refused_even_when_accepting_new() {
        let other = PublicKey::from(ssh_key::public::Ed25519PublicKey([9u8; 32]));
        let (_d, mut p) = policy_with(&format!("host.lan {}\n", other.to_openssh().unwrap()));
        p.accept_new = true;
        let key = raw(ED);
        assert!(matches!(
            p.verdict("host.lan", None, &key),
            Verdict::Changed { .. }
        ));
        let err = p.check("host.lan", None, &key, None).unwrap_err();
        assert!(err.message.contains("CHANGED"), "{}", err.message);
        assert!(err.message.contains(&fingerprint(&key)));
    }

    #[test]
    fn unknown_key_refused_then_recorded_when_accepted() {
        let (_d, mut p) = policy_with("");
        let key = raw(ED);
        let err = p.check("new.lan", Some(2022), &key, None).unwrap_err();
        assert!(err.message.contains("SHA256:"), "{}", err.message);
        assert!(err.hint.unwrap().contains("--accept-new-host-key"));
        p.accept_new = true;
        assert_eq!(
            p.check("new.lan", Some(2022), &key, None).unwrap(),
            Trust::Accepted
        );
        let text = fs::read_to_string(&p.record_to).unwrap();
        assert!(text.starts_with(&format!("[new.lan]:2022 ssh-ed25519 {ED}")));
        p.accept_new = false;
        assert_eq!(
            p.check("new.lan", Some(2022), &key, None).unwrap(),
            Trust::Known
        );
    }

    #[test]
    fn revoked_key_is_refused() {
        let (_d, mut p) = policy_with(&format!("@revoked * ssh-ed25519 {ED}\n"));
        p.accept_new = true;
        assert!(p.check("any.lan", None, &raw(ED), None).is_err());
    }

    #[test]
    fn a_revocation_wins_over_a_line_that_trusts_the_key() {
        let (_d, p) = policy_with(&format!(
            "host.lan ssh-ed25519 {ED}\n@revoked other.lan ssh-ed25519 {ED}\n"
        ));
        assert!(matches!(
            p.verdict("host.lan", None, &raw(ED)),
            Verdict::Revoked { .. }
        ));
        assert!(p.known_keys("host.lan", None).is_empty());
    }

    #[test]
    fn known_keys_skip_markers_and_other_hosts() {
        let other = PublicKey::from(ssh_key::public::Ed25519PublicKey([9u8; 32]));
        let (_d, p) = policy_with(&format!(
            "[git.lan]:2222 ssh-ed25519 {ED}\n@cert-authority *.lan {}\ngit.lan {}\n",
            other.to_openssh().unwrap(),
            other.to_openssh().unwrap()
        ));
        let keys = p.known_keys("git.lan", Some(2222));
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].to_bytes().unwrap(), raw(ED));
        assert_eq!(p.known_keys("git.lan", None), vec![other]);
    }
}
