//! App secrets in git, encrypted with SOPS + age, so the repository alone (plus one age key
//! file kept outside it) is enough to rebuild every app, while nothing readable leaks into
//! git history.
//!
//! Flux's kustomize-controller decrypts `*.sops.yaml` with the identity stored in the
//! `flux-system/sops-age` Secret. We read and write the SOPS file format ourselves
//! ([`sops`]; it is small and stable) instead of shelling out to the `sops` binary, so
//! neither `add-app` nor `homelab secret show` needs an extra tool. This module owns the
//! age key: where a repository's key lives, finding, creating, backing up and restoring it.
//! The integration tests prove the files against the real `sops`.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::str::FromStr as _;

use crate::error::{Context as _, Error, Result};
use age::secrecy::ExposeSecret as _;
use serde_json::Value;

pub mod sops;

/// The environment variable that points at the age identity file instead of the default.
pub const AGE_KEY_FILE_ENV: &str = "HOMELAB_AGE_KEY_FILE";

/// The keys SOPS encrypts in a Kubernetes Secret; everything else stays readable.
pub const ENCRYPTED_REGEX: &str = "^(data|stringData)$";

/// Where the age keys live: `${XDG_CONFIG_HOME:-~/.config}/homelab/age/`, one file per key
/// named by its public recipient (`age1….agekey`), so a repository finds its key from the
/// recipient in its committed `.sops.yaml`, and two repositories never share a key by
/// accident (as they did when keys were filed under the cluster name).
pub fn keys_dir() -> Result<PathBuf> {
    Ok(config_dir()?.join("age"))
}

/// homelab's config folder: `${XDG_CONFIG_HOME:-~/.config}/homelab`.
fn config_dir() -> Result<PathBuf> {
    crate::dirs::homelab(crate::dirs::Base::Config)
        .ok_or_else(|| Error::failed(crate::dirs::missing(crate::dirs::Base::Config)))
}

/// Where homelab before keyed storage kept a cluster's key:
/// `${XDG_CONFIG_HOME:-~/.config}/homelab/<cluster>/age.agekey`; still read, never written.
/// Only a valid cluster name (a DNS label) is looked up, so it cannot steer the path.
fn legacy_key_file(cluster: &str) -> Option<PathBuf> {
    crate::config::validate::field::dns_label(cluster).ok()?;
    Some(config_dir().ok()?.join(cluster).join("age.agekey"))
}

/// The age key a repository's secrets are encrypted for.
pub struct AgeKey {
    /// The key file.
    pub file: PathBuf,
    /// Its public recipient (`age1…`), as `.sops.yaml` names it.
    pub recipient: String,
    /// The file's content (the private key): what `flux-system/sops-age` holds.
    contents: Vec<u8>,
}

impl std::fmt::Debug for AgeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgeKey")
            .field("file", &self.file)
            .field("recipient", &self.recipient)
            .finish_non_exhaustive()
    }
}

impl AgeKey {
    /// The key file's content, for the cluster's decryption Secret. Never print it.
    pub fn private_bytes(&self) -> &[u8] {
        &self.contents
    }

    /// Decrypt a SOPS file (its text) encrypted for this key.
    pub fn decrypt(&self, sops_text: &str) -> Result<sops::Node, sops::DecryptError> {
        let identity = parse_identity(&String::from_utf8_lossy(&self.contents))
            .map_err(|e| sops::DecryptError::Format(format!("the key file: {e:#}")))?;
        sops::decrypt(sops_text, &identity)
    }
}

/// The values of a decrypted Kubernetes Secret, in document order: `stringData` as written,
/// then `data` decoded from base64 (a key in both shows its `stringData` value, as
/// Kubernetes merges them).
pub fn secret_values(doc: &sops::Node) -> Result<Vec<(String, String)>> {
    let mut out: Vec<(String, String)> = Vec::new();
    if let Some(sops::Node::Map(items)) = doc.get("stringData") {
        for (k, v) in items {
            let text = v
                .scalar_text()
                .ok_or_else(|| Error::failed(format!("stringData.{k} is not a text value")))?;
            out.push((k.clone(), text));
        }
    }
    if let Some(sops::Node::Map(items)) = doc.get("data") {
        for (k, v) in items {
            if out.iter().any(|(o, _)| o == k) {
                continue;
            }
            let bytes = v
                .as_str()
                .and_then(|b64| {
                    use base64::Engine as _;
                    base64::engine::general_purpose::STANDARD
                        .decode(b64.trim())
                        .ok()
                })
                .ok_or_else(|| Error::failed(format!("data.{k} is not base64")))?;
            let text = String::from_utf8(bytes)
                .map_err(|_| Error::failed(format!("data.{k} is binary, not text")))?;
            out.push((k.clone(), text));
        }
    }
    Ok(out)
}

/// The age recipients a `.sops.yaml` encrypts for (the `age:` values of its creation
/// rules, comma-separated lists split).
pub fn sops_recipients(text: &str) -> Vec<String> {
    let Ok(doc) = serde_saphyr::from_str::<Value>(text) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for rule in doc["creation_rules"].as_array().into_iter().flatten() {
        if let Some(list) = rule["age"].as_str() {
            for r in list.split(',').map(str::trim).filter(|r| !r.is_empty()) {
                if !out.iter().any(|o| o == r) {
                    out.push(r.to_owned());
                }
            }
        }
    }
    out
}

/// The recipients of the repository at `repo` (its `.sops.yaml`, read without following
/// links); empty when it has none yet.
pub fn repo_recipients(repo: &Path) -> Result<Vec<String>> {
    if !repo.is_dir() {
        return Ok(Vec::new());
    }
    let tree = crate::git::tree::RepoTree::open(repo)?;
    Ok(tree
        .read(SOPS_CONFIG)?
        .map(|bytes| sops_recipients(&String::from_utf8_lossy(&bytes)))
        .unwrap_or_default())
}

/// The repository file naming the age recipients.
pub const SOPS_CONFIG: &str = ".sops.yaml";

/// Find the age key of the repository at `repo` (cluster `cluster`), without creating one:
/// `$HOMELAB_AGE_KEY_FILE` when set, else the key of a recipient its `.sops.yaml` names
/// under [`keys_dir`], else the key homelab kept under the cluster's name before.
/// `Ok(None)` when there is none. The one lookup every command uses.
pub fn find_key(repo: &Path, cluster: &str) -> Result<Option<AgeKey>> {
    let recipients = repo_recipients(repo)?;
    if let Some(file) = env_key_file(repo)? {
        if !file.exists() {
            return Ok(None);
        }
        let key = load_key(&file)?;
        check_recipient(&key, &recipients, AGE_KEY_FILE_ENV)?;
        return Ok(Some(key));
    }
    let dir = keys_dir()?;
    for recipient in &recipients {
        let file = dir.join(format!("{recipient}.agekey"));
        if file.exists() {
            let key = load_key(&file)?;
            check_recipient(&key, std::slice::from_ref(recipient), "the key file")?;
            return Ok(Some(key));
        }
    }
    if let Some(file) = legacy_key_file(cluster).filter(|f| f.exists()) {
        let key = load_key(&file)?;
        if recipients.is_empty() || recipients.contains(&key.recipient) {
            return Ok(Some(key));
        }
    }
    Ok(None)
}

/// Where the key for `recipient` belongs: `$HOMELAB_AGE_KEY_FILE` when set, else
/// `<keys_dir>/<recipient>.agekey`. Where [`find_key`] looks first, [`ensure_key`] creates a
/// key and [`import_key`] restores one.
pub fn key_file_for(repo: &Path, recipient: &str) -> Result<PathBuf> {
    if let Some(file) = env_key_file(repo)? {
        return Ok(file);
    }
    keys_dir().map(|d| d.join(format!("{recipient}.agekey")))
}

/// Why the age key must be backed up, in the words every message about it uses.
pub const WHY_BACK_UP_THE_KEY: &str = "without it the app secrets in git cannot be decrypted, and a rebuilt cluster cannot deploy the apps";

/// Where a repository's age key comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySource {
    /// `$HOMELAB_AGE_KEY_FILE`.
    Env,
    /// homelab's key store, [`keys_dir`].
    Store,
    /// Where homelab kept a cluster's key before keys were filed by recipient.
    Legacy,
}

/// Which age key a repository uses and where it is: what `homelab key` shows and what a
/// user must back up. The file is where the key was found, or where homelab looks for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyLocation {
    /// The public key (`age1…`) the repository's `.sops.yaml` encrypts for.
    pub recipient: String,
    /// The private key file.
    pub file: PathBuf,
    /// Whether that file is there (and holds the key).
    pub present: bool,
    pub source: KeySource,
}

/// Which age key the repository at `repo` uses and whether its file is present; `None` when
/// the repository has no key yet (no `.sops.yaml`, no key found). Errors as [`find_key`]
/// (a key file others can read, or one holding another repository's key).
pub fn key_location(repo: &Path, cluster: &str) -> Result<Option<KeyLocation>> {
    let env = env_key_file(repo)?;
    if let Some(key) = find_key(repo, cluster)? {
        let source = if env.is_some() {
            KeySource::Env
        } else if legacy_key_file(cluster).is_some_and(|f| f == key.file) {
            KeySource::Legacy
        } else {
            KeySource::Store
        };
        return Ok(Some(KeyLocation {
            recipient: key.recipient,
            file: key.file,
            present: true,
            source,
        }));
    }
    let Some(recipient) = repo_recipients(repo)?.into_iter().next() else {
        return Ok(None);
    };
    Ok(Some(KeyLocation {
        file: key_file_for(repo, &recipient)?,
        recipient,
        present: false,
        source: if env.is_some() {
            KeySource::Env
        } else {
            KeySource::Store
        },
    }))
}

/// The age key of the repository, or an error saying where it was expected and how to
/// restore it.
pub fn require_key(repo: &Path, cluster: &str) -> Result<AgeKey> {
    if let Some(key) = find_key(repo, cluster)? {
        return Ok(key);
    }
    let Some(location) = key_location(repo, cluster)? else {
        return Err(Error::failed(format!(
            "this repository has no age key yet (no {SOPS_CONFIG})"
        ))
        .with_hint("run `homelab render`: it creates the repository's age key and .sops.yaml"));
    };
    Err(Error::failed(format!(
        "the age key for {} (named in {SOPS_CONFIG}) is missing: expected {}",
        location.recipient,
        location.file.display()
    ))
    .with_hint(format!(
        "restore your backup with `homelab key import <backup file>` (or point {AGE_KEY_FILE_ENV} at it)"
    )))
}

/// The repository's age key, created (mode 0600, in a 0700 directory) when the repository
/// has none yet; `true` when it was just created. A repository whose `.sops.yaml` names a
/// key that cannot be found gets an error, never a new key (its secrets need the old one).
pub fn ensure_key(repo: &Path, cluster: &str) -> Result<(AgeKey, bool)> {
    if let Some(key) = find_key(repo, cluster)? {
        return Ok((key, false));
    }
    if !repo_recipients(repo)?.is_empty() {
        return Err(require_key(repo, cluster).expect_err("no key was found"));
    }
    let identity = age::x25519::Identity::generate();
    let key = store_key(
        &key_file_for(repo, &identity.to_public().to_string())?,
        &identity,
    )?;
    Ok((key, true))
}

/// Write `identity` as a new key file at `path` (mode 0600, its directory 0700).
fn store_key(path: &Path, identity: &age::x25519::Identity) -> Result<AgeKey> {
    let recipient = identity.to_public().to_string();
    if let Some(dir) = path.parent() {
        create_private_dir(dir)?;
    }
    let body = format!(
        "# homelab SOPS identity: back this file up; it decrypts the app secrets in git.\n# public key: {recipient}\n{}\n",
        identity.to_string().expose_secret()
    );
    write_private(path, body.as_bytes())
        .map_err(|e| Error::failed(format!("cannot write the age key {}: {e}", path.display())))?;
    Ok(AgeKey {
        file: path.to_path_buf(),
        recipient,
        contents: body.into_bytes(),
    })
}

/// What [`import_key`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Imported {
    /// The key was written to this file.
    Written(KeyLocation),
    /// The file already held this key; nothing changed.
    AlreadyThere(KeyLocation),
}

/// The largest key file [`import_key`] reads (a key file is about 200 bytes).
pub const MAX_KEY_FILE: u64 = 64 * 1024;

/// Restore a backed-up age key (`text`, read from `source`) for the repository at `repo`:
/// the identity whose public key the repository's `.sops.yaml` names is stored where
/// [`find_key`] looks (mode 0600 in a 0700 directory). Idempotent; never prints the key.
pub fn import_key(repo: &Path, text: &str, source: &str) -> Result<Imported> {
    let expected = repo_recipients(repo)?;
    if expected.is_empty() {
        return Err(Error::usage(format!(
            "{} has no {SOPS_CONFIG}, so it names no age key to import",
            repo.display()
        ))
        .with_hint("run the command in the repository the key belongs to (--dir), or `homelab render` first"));
    }
    let identities = identities(text);
    if identities.is_empty() {
        return Err(Error::usage(format!(
            "{source} holds no age identity (an AGE-SECRET-KEY-1… line)"
        ))
        .with_hint("give the file `homelab key export` wrote, or the age key file itself"));
    }
    let Some(identity) = identities
        .iter()
        .find(|id| expected.contains(&id.to_public().to_string()))
    else {
        let found: Vec<String> = identities
            .iter()
            .map(|id| id.to_public().to_string())
            .collect();
        return Err(Error::usage(format!(
            "{source} holds the age key for {}, but this repository's {SOPS_CONFIG} expects {}",
            found.join(", "),
            expected.join(", ")
        ))
        .with_hint(
            "import the backup of this repository's key (its public key is in .sops.yaml)",
        ));
    };
    let recipient = identity.to_public().to_string();
    let file = key_file_for(repo, &recipient)?;
    let source_kind = if env_key_file(repo)?.is_some() {
        KeySource::Env
    } else {
        KeySource::Store
    };
    let location = KeyLocation {
        recipient: recipient.clone(),
        file: file.clone(),
        present: true,
        source: source_kind,
    };
    if file.symlink_metadata().is_ok() {
        let existing = load_key(&file)?;
        if existing.recipient == recipient {
            return Ok(Imported::AlreadyThere(location));
        }
        return Err(Error::usage(format!(
            "{} already holds another age key ({})",
            file.display(),
            existing.recipient
        ))
        .with_hint(format!(
            "point {AGE_KEY_FILE_ENV} at another file, or move that one away first"
        )));
    }
    store_key(&file, identity)?;
    Ok(Imported::Written(location))
}

/// Copy the key to `dest` for a backup: created with mode 0600 (never readable by others,
/// not even for a moment), refused inside the repository (where it could be committed next
/// to what it decrypts) and over an existing file unless `force` (then replaced whole).
pub fn export_key(key: &AgeKey, repo: &Path, dest: &Path, force: bool) -> Result<()> {
    let dest = absolute(dest)?;
    if is_inside(repo, &dest) {
        return Err(Error::usage(format!(
            "{} is inside the repository {}, where the key could be committed next to the secrets it decrypts",
            dest.display(),
            repo.display()
        ))
        .with_hint("export to a file outside the repository, e.g. on a USB stick or into a password manager"));
    }
    if let (Ok(a), Ok(b)) = (dest.canonicalize(), key.file.canonicalize())
        && a == b
    {
        return Err(
            Error::usage(format!("{} is the key file itself", dest.display())).with_hint(
                "export to another place: a backup next to the original is lost with it",
            ),
        );
    }
    let exists = dest.symlink_metadata().is_ok();
    if exists && !force {
        return Err(Error::usage(format!("{} already exists", dest.display()))
            .with_hint("choose another file name, or pass --force to replace it"));
    }
    if dest.is_dir() {
        return Err(Error::usage(format!("{} is a directory", dest.display()))
            .with_hint("give a file name, e.g. <dir>/homelab-age.agekey"));
    }
    let cannot = |e: std::io::Error| Error::failed(format!("cannot write {}: {e}", dest.display()));
    if !exists {
        return write_private(&dest, key.private_bytes()).map_err(cannot);
    }
    // Replace whole: a private temporary file renamed over the old one (a link at `dest` is
    // replaced, not followed).
    let name = dest.file_name().unwrap_or_default().to_string_lossy();
    let tmp = dest.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let _ = fs::remove_file(&tmp);
    write_private(&tmp, key.private_bytes())
        .and_then(|()| fs::rename(&tmp, &dest))
        .map_err(|e| {
            let _ = fs::remove_file(&tmp);
            cannot(e)
        })
}

/// `$HOMELAB_AGE_KEY_FILE`, made absolute, refused when it lies inside the repository (the
/// key would end up committed next to what it decrypts).
fn env_key_file(repo: &Path) -> Result<Option<PathBuf>> {
    let Some(value) = std::env::var_os(AGE_KEY_FILE_ENV).filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    let path = absolute(Path::new(&value))?;
    if is_inside(repo, &path) {
        return Err(Error::usage(format!(
            "{AGE_KEY_FILE_ENV}={}: the key would be inside the repository {}, where it could be committed next to the secrets it decrypts",
            PathBuf::from(&value).display(),
            repo.display()
        ))
        .with_hint(format!(
            "keep the key outside the repository, e.g. unset {AGE_KEY_FILE_ENV} to use {}",
            keys_dir().map(|d| d.display().to_string()).unwrap_or_else(|_| "~/.config/homelab/age".into())
        )));
    }
    Ok(Some(path))
}

/// `path`, taken from the current directory when relative.
fn absolute(path: &Path) -> Result<PathBuf> {
    if path.is_absolute() {
        return Ok(path.to_path_buf());
    }
    std::env::current_dir()
        .map(|cwd| cwd.join(path))
        .map_err(|e| Error::failed(format!("cannot read the current directory: {e}")))
}

/// Whether `path` (absolute, possibly not existing yet) resolves inside `repo`.
fn is_inside(repo: &Path, path: &Path) -> bool {
    let Ok(root) = repo.canonicalize() else {
        return false;
    };
    // Resolve the deepest existing ancestor, then add back what does not exist yet.
    let mut existing = path.to_path_buf();
    let mut rest = Vec::new();
    while !existing.exists() {
        match (existing.file_name(), existing.parent()) {
            (Some(name), Some(parent)) => {
                rest.push(name.to_owned());
                existing = parent.to_path_buf();
            }
            _ => return false,
        }
    }
    let Ok(mut resolved) = existing.canonicalize() else {
        return false;
    };
    for name in rest.iter().rev() {
        resolved.push(name);
    }
    resolved.starts_with(&root)
}

/// Read a key file: private to its owner, holding one age identity.
fn load_key(file: &Path) -> Result<AgeKey> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = fs::metadata(file)
            .map_err(|e| Error::failed(format!("cannot read the age key {}: {e}", file.display())))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(Error::usage(format!(
                "the age key {} can be read by other users (mode {:o}): it decrypts every app secret",
                file.display(),
                mode & 0o777
            ))
            .with_hint(format!("chmod 600 {}", file.display())));
        }
    }
    let contents = fs::read(file)
        .map_err(|e| Error::failed(format!("cannot read the age key {}: {e}", file.display())))?;
    let identity = parse_identity(&String::from_utf8_lossy(&contents)).map_err(|e| {
        Error::usage(format!("{} holds no age identity ({e:#})", file.display()))
            .with_hint("restore the key file from your backup")
    })?;
    Ok(AgeKey {
        file: file.to_path_buf(),
        recipient: identity.to_public().to_string(),
        contents,
    })
}

fn check_recipient(key: &AgeKey, recipients: &[String], source: &str) -> Result<()> {
    if recipients.is_empty() || recipients.contains(&key.recipient) {
        return Ok(());
    }
    Err(Error::usage(format!(
        "{source} {} holds the key for {}, but this repository's {SOPS_CONFIG} encrypts for {}",
        key.file.display(),
        key.recipient,
        recipients.join(", ")
    ))
    .with_hint(format!(
        "point {AGE_KEY_FILE_ENV} at the key of this repository (or unset it)"
    )))
}

fn parse_identity(text: &str) -> Result<age::x25519::Identity> {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .ok_or_else(|| Error::failed("no AGE-SECRET-KEY line"))?;
    age::x25519::Identity::from_str(line)
        .map_err(|e| Error::failed(format!("invalid age identity: {e}")))
}

/// The public recipients (`age1…`) of every valid identity line in `text` (an age key file,
/// or the `*.agekey` entry of the Secret Flux decrypts with).
pub fn identity_recipients(text: &str) -> Vec<String> {
    identities(text)
        .iter()
        .map(|id| id.to_public().to_string())
        .collect()
}

/// Every valid age identity line in `text`.
fn identities(text: &str) -> Vec<age::x25519::Identity> {
    text.lines()
        .map(str::trim)
        .filter(|l| l.starts_with("AGE-SECRET-KEY-"))
        .filter_map(|l| age::x25519::Identity::from_str(l).ok())
        .collect()
}

#[cfg(unix)]
fn create_private_dir(dir: &std::path::Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create {}", dir.display()))
}

#[cfg(not(unix))]
fn create_private_dir(dir: &std::path::Path) -> Result<()> {
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))
}

/// Create `path` readable by its owner only, from the first byte (no window where the key
/// is world-readable).
fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    let mut file = opts.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Encrypt a plain Kubernetes Secret (one YAML document) for `recipient`, in the SOPS file
/// format: values under `data`/`stringData` become `ENC[AES256_GCM,…]`, the rest stays
/// readable, and a `sops:` block carries the sealed data key, timestamp and MAC.
pub fn encrypt_secret(plain_secret_yaml: &str, recipient: &str) -> Result<String> {
    sops::encrypt(plain_secret_yaml, recipient, ENCRYPTED_REGEX)
}

/// The current UTC time as RFC 3339 with seconds, e.g. `2026-11-26T21:30:00Z` (the form SOPS
/// authenticates the MAC with).
pub(crate) fn rfc3339_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    rfc3339(secs)
}

fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// A random password of `len` letters and digits (no symbols: they survive every shell,
/// URL and config format the apps put them in).
pub fn generate_password(len: usize) -> String {
    use rand::Rng as _;
    const CHARS: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut rng = rand::rngs::OsRng;
    (0..len)
        .map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_formats_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_798_761_600 + 3723), "2027-01-01T01:02:03Z");
    }

    #[test]
    fn only_data_values_are_sealed() {
        let id = age::x25519::Identity::generate();
        let recipient = id.to_public().to_string();
        let plain = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  namespace: n\nstringData:\n  password: hunter2hunter2\n";
        let out = encrypt_secret(plain, &recipient).expect("encrypts");
        assert!(!out.contains("hunter2"), "{out}");
        let doc: Value = serde_saphyr::from_str(&out).expect("parses");
        assert_eq!(doc["metadata"]["name"], "s");
        let sealed = doc["stringData"]["password"].as_str().expect("str");
        assert!(sealed.starts_with("ENC[AES256_GCM,data:"), "{sealed}");
        assert!(
            doc["sops"]["mac"]
                .as_str()
                .expect("mac")
                .starts_with("ENC[")
        );
        assert_eq!(doc["sops"]["age"][0]["recipient"], recipient.as_str());
        assert_eq!(doc["sops"]["encrypted_regex"], ENCRYPTED_REGEX);
    }

    #[test]
    fn passwords_are_long_and_different() {
        let a = generate_password(32);
        assert_eq!(a.len(), 32);
        assert_ne!(a, generate_password(32));
    }
}
