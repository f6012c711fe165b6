//! App secrets in git, encrypted with SOPS + age, so the repository alone (plus one age key
//! file kept outside it) is enough to rebuild every app, while nothing readable leaks into
//! git history.
//!
//! Flux's kustomize-controller decrypts `*.sops.yaml` with the identity stored in the
//! `flux-system/sops-age` Secret. We write the SOPS file format ourselves (it is small and
//! stable) instead of shelling out to the `sops` binary, so `add-app` needs no extra tool:
//! every leaf under `data`/`stringData` is sealed with AES-256-GCM under a random data key,
//! the data key is sealed to the age recipient, and a MAC over all values binds them.
//! The integration tests prove the files against the real `sops -d`.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::str::FromStr as _;

use aes_gcm::aead::consts::U32;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::aes::Aes256;
use aes_gcm::{AesGcm, Nonce};
use age::secrecy::ExposeSecret as _;
use anyhow::{Context as _, Result, anyhow, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use rand::RngCore as _;
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha512};

/// The environment variable that points at the age identity file instead of the default.
pub const AGE_KEY_FILE_ENV: &str = "HOMELAB_AGE_KEY_FILE";

/// The keys SOPS encrypts in a Kubernetes Secret; everything else stays readable.
pub const ENCRYPTED_REGEX: &str = "^(data|stringData)$";

/// The SOPS format version we write (the metadata layout of sops 3.x).
const SOPS_VERSION: &str = "3.10.2";

/// SOPS uses 32-byte GCM nonces, not the usual 12.
type SopsCipher = AesGcm<Aes256, U32>;

/// Where the age keys live: `${XDG_CONFIG_HOME:-~/.config}/homelab/age/`, one file per key
/// named by its public recipient (`age1….agekey`), so a repository finds its key from the
/// recipient in its committed `.sops.yaml`, and two repositories never share a key by
/// accident (as they did when keys were filed under the cluster name).
pub fn keys_dir() -> Result<PathBuf> {
    Ok(config_dir()?.join("homelab").join("age"))
}

fn config_dir() -> Result<PathBuf> {
    match std::env::var_os("XDG_CONFIG_HOME").filter(|p| !p.is_empty()) {
        Some(dir) => Ok(PathBuf::from(dir)),
        None => {
            let home = std::env::var_os("HOME")
                .filter(|p| !p.is_empty())
                .ok_or_else(|| anyhow!("neither HOME nor XDG_CONFIG_HOME is set"))?;
            Ok(PathBuf::from(home).join(".config"))
        }
    }
}

/// Where homelab before keyed storage kept a cluster's key:
/// `${XDG_CONFIG_HOME:-~/.config}/homelab/<cluster>/age.agekey`; still read, never written.
/// Only a valid cluster name (a DNS label) is looked up, so it cannot steer the path.
fn legacy_key_file(cluster: &str) -> Option<PathBuf> {
    crate::config::validate::field::dns_label(cluster).ok()?;
    Some(
        config_dir()
            .ok()?
            .join("homelab")
            .join(cluster)
            .join("age.agekey"),
    )
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
pub fn repo_recipients(repo: &Path) -> crate::error::Result<Vec<String>> {
    if !repo.is_dir() {
        return Ok(Vec::new());
    }
    let tree = crate::render::tree::RepoTree::open(repo)?;
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
pub fn find_key(repo: &Path, cluster: &str) -> crate::error::Result<Option<AgeKey>> {
    let recipients = repo_recipients(repo)?;
    if let Some(file) = env_key_file(repo)? {
        if !file.exists() {
            return Ok(None);
        }
        let key = load_key(&file)?;
        check_recipient(&key, &recipients, AGE_KEY_FILE_ENV)?;
        return Ok(Some(key));
    }
    let dir = keys_dir().map_err(|e| crate::error::Error::failed(format!("{e:#}")))?;
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

/// The age key of the repository, or an error saying where it was expected and how to
/// restore it.
pub fn require_key(repo: &Path, cluster: &str) -> crate::error::Result<AgeKey> {
    if let Some(key) = find_key(repo, cluster)? {
        return Ok(key);
    }
    let recipients = repo_recipients(repo)?;
    let expected = match (env_key_file(repo)?, recipients.first()) {
        (Some(file), _) => file.display().to_string(),
        (None, Some(r)) => keys_dir()
            .map(|d| d.join(format!("{r}.agekey")).display().to_string())
            .unwrap_or_else(|_| format!("~/.config/homelab/age/{r}.agekey")),
        (None, None) => {
            return Err(crate::error::Error::failed(format!(
                "this repository has no age key yet (no {SOPS_CONFIG})"
            ))
            .with_hint(
                "run `homelab render`: it creates the repository's age key and .sops.yaml",
            ));
        }
    };
    let whose = match recipients.first() {
        Some(r) => format!("the age key for {r} (named in {SOPS_CONFIG})"),
        None => "the age key".to_owned(),
    };
    Err(crate::error::Error::failed(format!(
        "{whose} is missing: expected {expected}"
    ))
    .with_hint(format!(
        "restore your backup of the key to {expected} (mode 600), or point {AGE_KEY_FILE_ENV} at it"
    )))
}

/// The repository's age key, created (mode 0600, in a 0700 directory) when the repository
/// has none yet; `true` when it was just created. A repository whose `.sops.yaml` names a
/// key that cannot be found gets an error, never a new key (its secrets need the old one).
pub fn ensure_key(repo: &Path, cluster: &str) -> crate::error::Result<(AgeKey, bool)> {
    if let Some(key) = find_key(repo, cluster)? {
        return Ok((key, false));
    }
    if !repo_recipients(repo)?.is_empty() {
        return Err(require_key(repo, cluster).expect_err("no key was found"));
    }
    let failed = |e: anyhow::Error| crate::error::Error::failed(format!("{e:#}"));
    let identity = age::x25519::Identity::generate();
    let recipient = identity.to_public().to_string();
    let path = match env_key_file(repo)? {
        Some(file) => file,
        None => keys_dir()
            .map_err(failed)?
            .join(format!("{recipient}.agekey")),
    };
    if let Some(dir) = path.parent() {
        create_private_dir(dir).map_err(failed)?;
    }
    let body = format!(
        "# homelab SOPS identity: back this file up; it decrypts the app secrets in git.\n# public key: {recipient}\n{}\n",
        identity.to_string().expose_secret()
    );
    write_private(&path, body.as_bytes()).map_err(|e| {
        crate::error::Error::failed(format!("cannot write the age key {}: {e}", path.display()))
    })?;
    Ok((
        AgeKey {
            file: path,
            recipient,
            contents: body.into_bytes(),
        },
        true,
    ))
}

/// `$HOMELAB_AGE_KEY_FILE`, made absolute, refused when it lies inside the repository (the
/// key would end up committed next to what it decrypts).
fn env_key_file(repo: &Path) -> crate::error::Result<Option<PathBuf>> {
    let Some(value) = std::env::var_os(AGE_KEY_FILE_ENV).filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    let path = PathBuf::from(&value);
    let path = if path.is_absolute() {
        path
    } else {
        std::env::current_dir()
            .map_err(|e| {
                crate::error::Error::failed(format!("cannot read the current directory: {e}"))
            })?
            .join(path)
    };
    if is_inside(repo, &path) {
        return Err(crate::error::Error::usage(format!(
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
fn load_key(file: &Path) -> crate::error::Result<AgeKey> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = fs::metadata(file)
            .map_err(|e| {
                crate::error::Error::failed(format!(
                    "cannot read the age key {}: {e}",
                    file.display()
                ))
            })?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(crate::error::Error::usage(format!(
                "the age key {} can be read by other users (mode {:o}): it decrypts every app secret",
                file.display(),
                mode & 0o777
            ))
            .with_hint(format!("chmod 600 {}", file.display())));
        }
    }
    let contents = fs::read(file).map_err(|e| {
        crate::error::Error::failed(format!("cannot read the age key {}: {e}", file.display()))
    })?;
    let identity = parse_identity(&String::from_utf8_lossy(&contents)).map_err(|e| {
        crate::error::Error::usage(format!("{} holds no age identity ({e:#})", file.display()))
            .with_hint("restore the key file from your backup")
    })?;
    Ok(AgeKey {
        file: file.to_path_buf(),
        recipient: identity.to_public().to_string(),
        contents,
    })
}

fn check_recipient(key: &AgeKey, recipients: &[String], source: &str) -> crate::error::Result<()> {
    if recipients.is_empty() || recipients.contains(&key.recipient) {
        return Ok(());
    }
    Err(crate::error::Error::usage(format!(
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
        .ok_or_else(|| anyhow!("no AGE-SECRET-KEY line"))?;
    age::x25519::Identity::from_str(line).map_err(|e| anyhow!("invalid age identity: {e}"))
}

/// The public recipients (`age1…`) of every valid identity line in `text` (an age key file,
/// or the `*.agekey` entry of the Secret Flux decrypts with).
pub fn identity_recipients(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| l.starts_with("AGE-SECRET-KEY-"))
        .filter_map(|l| age::x25519::Identity::from_str(l).ok())
        .map(|id| id.to_public().to_string())
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
    let recipient_key = age::x25519::Recipient::from_str(recipient)
        .map_err(|e| anyhow!("invalid age recipient {recipient:?}: {e}"))?;
    let doc: Value =
        serde_saphyr::from_str(plain_secret_yaml).context("the Secret is not valid YAML")?;
    let Value::Object(root) = doc else {
        bail!("the Secret must be a YAML mapping");
    };
    if root.contains_key("sops") {
        bail!("the Secret is already SOPS-encrypted");
    }
    let matcher = regex::Regex::new(ENCRYPTED_REGEX).expect("constant regex");

    let mut data_key = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut data_key);
    let mut mac = Sha512::new();
    let mut path = Vec::new();
    let encrypted = seal_map(&root, &data_key, &matcher, false, &mut path, &mut mac)?;

    let lastmodified = rfc3339_now();
    let digest = hex_upper(&mac.finalize());
    let sealed_mac = seal_str(&digest, &data_key, &lastmodified)?;
    let enc = age::encrypt_and_armor(&recipient_key, &data_key)
        .map_err(|e| anyhow!("cannot seal the data key: {e}"))?;

    let mut sops = Map::new();
    sops.insert(
        "age".into(),
        Value::Array(vec![
            serde_json::json!({ "recipient": recipient, "enc": enc }),
        ]),
    );
    sops.insert("lastmodified".into(), Value::String(lastmodified));
    sops.insert("mac".into(), Value::String(sealed_mac));
    sops.insert(
        "encrypted_regex".into(),
        Value::String(ENCRYPTED_REGEX.into()),
    );
    sops.insert("version".into(), Value::String(SOPS_VERSION.into()));
    let mut out = encrypted;
    out.insert("sops".into(), Value::Object(sops));
    serde_saphyr::to_string(&Value::Object(out)).context("cannot write the encrypted Secret")
}

/// Walk a mapping in document order, as SOPS does: every scalar feeds the MAC, and scalars
/// below a key matching the regex are sealed with their key path as authenticated data.
fn seal_map(
    map: &Map<String, Value>,
    key: &[u8; 32],
    matcher: &regex::Regex,
    inside: bool,
    path: &mut Vec<String>,
    mac: &mut Sha512,
) -> Result<Map<String, Value>> {
    let mut out = Map::new();
    for (k, v) in map {
        path.push(k.clone());
        let enc = inside || matcher.is_match(k);
        let sealed = seal_value(v, key, matcher, enc, path, mac)?;
        path.pop();
        out.insert(k.clone(), sealed);
    }
    Ok(out)
}

fn seal_value(
    value: &Value,
    key: &[u8; 32],
    matcher: &regex::Regex,
    enc: bool,
    path: &mut Vec<String>,
    mac: &mut Sha512,
) -> Result<Value> {
    Ok(match value {
        Value::Object(map) => Value::Object(seal_map(map, key, matcher, enc, path, mac)?),
        // SOPS does not add list indexes to the path.
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| seal_value(v, key, matcher, enc, path, mac))
                .collect::<Result<_>>()?,
        ),
        Value::String(s) => {
            mac.update(s.as_bytes());
            if enc && !s.is_empty() {
                Value::String(seal_str(s, key, &format!("{}:", path.join(":")))?)
            } else {
                value.clone()
            }
        }
        // Readable scalars feed the MAC the way SOPS prints them (Go's Python-compatible forms).
        Value::Bool(b) if !enc => {
            mac.update(if *b {
                b"True".as_slice()
            } else {
                b"False".as_slice()
            });
            value.clone()
        }
        Value::Number(n) if !enc && (n.is_i64() || n.is_u64()) => {
            mac.update(n.to_string().as_bytes());
            value.clone()
        }
        _ => bail!(
            "{}: only text values can be encrypted (Secret data is always text)",
            path.join(".")
        ),
    })
}

/// One SOPS value: `ENC[AES256_GCM,data:…,iv:…,tag:…,type:str]`.
fn seal_str(plain: &str, key: &[u8; 32], additional_data: &str) -> Result<String> {
    let cipher = SopsCipher::new_from_slice(key).expect("32-byte key");
    let mut iv = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut iv);
    let sealed = cipher
        .encrypt(
            Nonce::<U32>::from_slice(&iv),
            Payload {
                msg: plain.as_bytes(),
                aad: additional_data.as_bytes(),
            },
        )
        .map_err(|_| anyhow!("AES-GCM encryption failed"))?;
    let (data, tag) = sealed.split_at(sealed.len() - 16);
    Ok(format!(
        "ENC[AES256_GCM,data:{},iv:{},tag:{},type:str]",
        B64.encode(data),
        B64.encode(iv),
        B64.encode(tag)
    ))
}

fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
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
