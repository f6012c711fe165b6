//! The SOPS file format, both ways, for one YAML document encrypted with age.
//!
//! homelab writes app Secrets in this format (so `add-app` needs no `sops` binary) and reads
//! them back for `homelab secret show`. The format, as sops 3.x defines it: every scalar the
//! file's rule selects (`encrypted_regex` and friends, recorded in the `sops:` block) becomes
//! `ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]`, sealed under a random 32-byte data key with
//! its key path (`stringData:password:`) as authenticated data; the data key is sealed to
//! the age recipients; and a SHA-512 over every value in document order (the MAC), itself
//! sealed with the `lastmodified` timestamp as authenticated data, binds the readable
//! values too. So the walk order and each value's text must be exactly sops's: mappings
//! keep their order here ([`Node`]), and scalars hash as Go's sops prints them.
//! The integration tests prove both directions against the real `sops` binary.

use std::fmt;
use std::str::FromStr as _;

use crate::error::{Context as _, Error, Result};
use aes_gcm::aead::consts::U32;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::aes::Aes256;
use aes_gcm::{AesGcm, Nonce};

/// A failure with a formatted message (the file or its key is wrong, or sealing failed).
macro_rules! fail {
    ($($t:tt)*) => { Error::failed(format!($($t)*)) };
}
/// Return [`fail!`].
macro_rules! bail {
    ($($t:tt)*) => { return Err(fail!($($t)*)) };
}
/// [`bail!`] unless the condition holds.
macro_rules! ensure {
    ($cond:expr, $($t:tt)*) => { if !$cond { bail!($($t)*); } };
}
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use rand::RngCore as _;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use sha2::{Digest as _, Sha512};

/// The SOPS format version we write (the metadata layout of sops 3.x).
const SOPS_VERSION: &str = "3.10.2";

/// The key of the metadata block in an encrypted document.
const METADATA: &str = "sops";

/// What sops leaves readable when a file records no rule of its own.
const DEFAULT_UNENCRYPTED_SUFFIX: &str = "_unencrypted";

/// SOPS uses 32-byte GCM nonces, not the usual 12.
type SopsCipher = AesGcm<Aes256, U32>;

/// A YAML value as SOPS sees it. Mappings keep their document order, which the MAC
/// depends on (a sorted map would compute another MAC for a file sops wrote).
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(String, Node)>),
}

impl Node {
    /// The value under `key` of a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Map(items) => items.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The text of a string scalar.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Node::Str(s) => Some(s),
            _ => None,
        }
    }

    /// A scalar as sops hashes and encrypts it: Go's forms, booleans as Python's
    /// `True`/`False`. `None` for null and collections (never hashed).
    pub fn scalar_text(&self) -> Option<String> {
        match self {
            Node::Bool(true) => Some("True".to_owned()),
            Node::Bool(false) => Some("False".to_owned()),
            Node::Int(i) => Some(i.to_string()),
            // Rust's shortest round-trip form without exponent, as Go's FormatFloat(v, 'f', -1).
            Node::Float(f) => Some(f.to_string()),
            Node::Str(s) => Some(s.clone()),
            Node::Null | Node::Seq(_) | Node::Map(_) => None,
        }
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a YAML value")
    }

    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_none<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        Node::deserialize(d)
    }

    fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Int(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Node, E> {
        i64::try_from(v)
            .map(Node::Int)
            .map_err(|_| E::custom(format!("the integer {v} is too large")))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Node, E> {
        Ok(Node::Float(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Node, E> {
        Ok(Node::Str(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Node, E> {
        Ok(Node::Str(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Node::Seq(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut items: Vec<(String, Node)> = Vec::new();
        while let Some((key, value)) = map.next_entry::<String, Node>()? {
            items.push((key, value));
        }
        Ok(Node::Map(items))
    }
}

impl Serialize for Node {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Node::Null => s.serialize_unit(),
            Node::Bool(b) => s.serialize_bool(*b),
            Node::Int(i) => s.serialize_i64(*i),
            Node::Float(f) => s.serialize_f64(*f),
            Node::Str(v) => s.serialize_str(v),
            Node::Seq(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Node::Map(items) => {
                let mut map = s.serialize_map(Some(items.len()))?;
                for (k, v) in items {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

/// Parse one YAML document the way sops's YAML store reads it: YAML 1.2 booleans only
/// (`yes` stays text), so every scalar hashes as sops hashes it.
pub fn parse(text: &str) -> Result<Node> {
    let mut options = serde_saphyr::Options::default();
    options.strict_booleans = true;
    serde_saphyr::from_str_with_options::<Node>(text, options)
        .map_err(|e| fail!("not valid YAML: {e}"))
}

/// Which values a file encrypts: the one rule its metadata records (sops allows one).
#[derive(Debug)]
enum Rule {
    UnencryptedSuffix(String),
    EncryptedSuffix(String),
    UnencryptedRegex(regex::Regex),
    EncryptedRegex(regex::Regex),
}

impl Rule {
    /// Whether the value at `path` is encrypted (sops's `shouldBeEncrypted`, without the
    /// comment rules, which a file homelab reads never uses).
    fn encrypts(&self, path: &[String]) -> bool {
        match self {
            Rule::UnencryptedSuffix(s) => !path.iter().any(|k| k.ends_with(s.as_str())),
            Rule::EncryptedSuffix(s) => path.iter().any(|k| k.ends_with(s.as_str())),
            Rule::UnencryptedRegex(r) => !path.iter().any(|k| r.is_match(k)),
            Rule::EncryptedRegex(r) => path.iter().any(|k| r.is_match(k)),
        }
    }

    /// The rule a `sops:` block records, as sops reads it: at most one, and without any,
    /// values whose key ends in `_unencrypted` stay readable.
    fn from_metadata(meta: &Node) -> Result<Rule> {
        for unsupported in ["encrypted_comment_regex", "unencrypted_comment_regex"] {
            ensure!(
                meta.get(unsupported).is_none(),
                "it selects values by comments (sops.{unsupported}), which homelab does not read"
            );
        }
        let text = |key: &str| -> Result<Option<String>> {
            match meta.get(key) {
                None | Some(Node::Null) => Ok(None),
                Some(Node::Str(s)) if s.is_empty() => Ok(None),
                Some(Node::Str(s)) => Ok(Some(s.clone())),
                Some(_) => bail!("sops.{key} is not text"),
            }
        };
        let regex = |key: &str, r: String| {
            regex::Regex::new(&r).map_err(|e| fail!("sops.{key} is not a valid regex: {e}"))
        };
        let mut rules = Vec::new();
        if let Some(s) = text("unencrypted_suffix")? {
            rules.push(Rule::UnencryptedSuffix(s));
        }
        if let Some(s) = text("encrypted_suffix")? {
            rules.push(Rule::EncryptedSuffix(s));
        }
        if let Some(r) = text("unencrypted_regex")? {
            rules.push(Rule::UnencryptedRegex(regex("unencrypted_regex", r)?));
        }
        if let Some(r) = text("encrypted_regex")? {
            rules.push(Rule::EncryptedRegex(regex("encrypted_regex", r)?));
        }
        ensure!(
            rules.len() <= 1,
            "its sops block names more than one encryption rule"
        );
        Ok(rules
            .pop()
            .unwrap_or_else(|| Rule::UnencryptedSuffix(DEFAULT_UNENCRYPTED_SUFFIX.to_owned())))
    }
}

/// Call `leaf` on every scalar below `node` (nulls excluded, as sops skips them) with its
/// key path, in document order. List items share their list's path, as in sops.
fn walk(
    node: &mut Node,
    path: &mut Vec<String>,
    leaf: &mut dyn FnMut(&mut Node, &[String]) -> Result<()>,
) -> Result<()> {
    match node {
        Node::Map(items) => {
            for (k, v) in items {
                path.push(k.clone());
                walk(v, path, leaf)?;
                path.pop();
            }
            Ok(())
        }
        Node::Seq(items) => items.iter_mut().try_for_each(|v| walk(v, path, leaf)),
        Node::Null => Ok(()),
        scalar => leaf(scalar, path),
    }
}

/// The authenticated data of a value: its key path, each key followed by `:`.
fn additional_data(path: &[String]) -> String {
    path.iter().map(|k| format!("{k}:")).collect()
}

/// Encrypt a plain YAML document (a Kubernetes Secret) for `recipient`, encrypting the
/// values below keys matching `encrypted_regex` and leaving the rest readable.
pub fn encrypt(plain_yaml: &str, recipient: &str, encrypted_regex: &str) -> Result<String> {
    let recipient_key = age::x25519::Recipient::from_str(recipient)
        .map_err(|e| fail!("invalid age recipient {recipient:?}: {e}"))?;
    let mut doc = parse(plain_yaml).context("the Secret is not valid YAML")?;
    let Node::Map(_) = doc else {
        bail!("the Secret must be a YAML mapping");
    };
    if doc.get(METADATA).is_some() {
        bail!("the Secret is already SOPS-encrypted");
    }
    let rule = Rule::EncryptedRegex(
        regex::Regex::new(encrypted_regex).map_err(|e| fail!("the regex: {e}"))?,
    );

    let mut data_key = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut data_key);
    let mut mac = Sha512::new();
    walk(&mut doc, &mut Vec::new(), &mut |value, path| {
        let text = value.scalar_text().expect("walk visits scalars only");
        mac.update(text.as_bytes());
        if rule.encrypts(path) && !text.is_empty() {
            let kind = match value {
                Node::Bool(_) => "bool",
                Node::Int(_) => "int",
                Node::Float(_) => "float",
                _ => "str",
            };
            *value = Node::Str(seal(&text, kind, &data_key, &additional_data(path))?);
        }
        Ok(())
    })?;

    let lastmodified = super::rfc3339_now();
    let digest = hex_upper(&mac.finalize());
    let sealed_mac = seal(&digest, "str", &data_key, &lastmodified)?;
    let enc = age::encrypt_and_armor(&recipient_key, &data_key)
        .map_err(|e| fail!("cannot seal the data key: {e}"))?;
    let stanza = Node::Map(vec![
        ("recipient".into(), Node::Str(recipient.to_owned())),
        ("enc".into(), Node::Str(enc)),
    ]);
    let metadata = Node::Map(vec![
        ("age".into(), Node::Seq(vec![stanza])),
        ("lastmodified".into(), Node::Str(lastmodified)),
        ("mac".into(), Node::Str(sealed_mac)),
        (
            "encrypted_regex".into(),
            Node::Str(encrypted_regex.to_owned()),
        ),
        ("version".into(), Node::Str(SOPS_VERSION.into())),
    ]);
    if let Node::Map(items) = &mut doc {
        items.push((METADATA.to_owned(), metadata));
    }
    serde_saphyr::to_string(&doc).map_err(|e| fail!("cannot write the encrypted Secret: {e}"))
}

/// Why a file could not be decrypted, for the message and the exit code.
#[derive(Debug)]
pub enum DecryptError {
    /// The file is not a SOPS file homelab can read (a broken or foreign file).
    Format(String),
    /// The file is not encrypted for this identity; the recipients it is encrypted for.
    WrongKey(Vec<String>),
    /// A value or the MAC does not authenticate: the file was changed after encryption.
    Tampered(String),
}

impl fmt::Display for DecryptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecryptError::Format(why) | DecryptError::Tampered(why) => f.write_str(why),
            DecryptError::WrongKey(recipients) if recipients.is_empty() => {
                f.write_str("it is not encrypted for any age key")
            }
            DecryptError::WrongKey(recipients) => write!(
                f,
                "it is encrypted for {}, not for this key",
                recipients.join(", ")
            ),
        }
    }
}

impl std::error::Error for DecryptError {}

/// Decrypt a SOPS YAML file with an age identity: the data key from the file's age
/// stanzas, every encrypted value checked against its key path, and the MAC over all
/// values verified. Returns the document without its `sops:` block. Never returns
/// anything decrypted from a file whose MAC does not match.
pub fn decrypt(text: &str, identity: &age::x25519::Identity) -> Result<Node, DecryptError> {
    let format = |why: String| DecryptError::Format(why);
    let mut doc = parse(text).map_err(|e| format(format!("{e:#}")))?;
    let Node::Map(items) = &mut doc else {
        return Err(format("it is not a YAML mapping".to_owned()));
    };
    let Some(at) = items.iter().position(|(k, _)| k == METADATA) else {
        return Err(format(
            "it has no sops metadata (is it encrypted?)".to_owned(),
        ));
    };
    let (_, meta) = items.remove(at);
    let rule = Rule::from_metadata(&meta).map_err(|e| format(format!("{e:#}")))?;
    let mac_only_encrypted = matches!(meta.get("mac_only_encrypted"), Some(Node::Bool(true)));
    let text_field = |key: &str| {
        meta.get(key)
            .and_then(Node::as_str)
            .map(str::to_owned)
            .ok_or_else(|| format(format!("its sops block has no {key}")))
    };
    let lastmodified = text_field("lastmodified")?;
    let sealed_mac = text_field("mac")?;
    let data_key = data_key(&meta, identity)?;

    let mut mac = Sha512::new();
    if mac_only_encrypted {
        // sops starts such a MAC with SHA-256("sops"), so the two kinds never collide.
        mac.update(sha2::Sha256::digest(b"sops"));
    }
    walk(&mut doc, &mut Vec::new(), &mut |value, path| {
        let encrypted = rule.encrypts(path);
        if encrypted {
            let Node::Str(sealed) = value else {
                bail!(
                    "{}: expected an encrypted value, found a readable one",
                    path.join(".")
                );
            };
            if !sealed.is_empty() {
                *value = open(sealed, &data_key, &additional_data(path))
                    .with_context(|| path.join("."))?;
            }
        }
        if !mac_only_encrypted || encrypted {
            mac.update(value.scalar_text().unwrap_or_default().as_bytes());
        }
        Ok(())
    })
    .map_err(|e| DecryptError::Tampered(format!("{e:#}")))?;

    let want = match open(&sealed_mac, &data_key, &lastmodified) {
        Ok(Node::Str(mac)) => mac,
        _ => {
            return Err(DecryptError::Tampered(
                "its MAC does not authenticate (the file was changed after it was encrypted)"
                    .to_owned(),
            ));
        }
    };
    if want != hex_upper(&mac.finalize()) {
        return Err(DecryptError::Tampered(
            "MAC mismatch: the file was changed after it was encrypted".to_owned(),
        ));
    }
    Ok(doc)
}

/// The data key, opened from the age stanza of `identity`'s recipient.
fn data_key(meta: &Node, identity: &age::x25519::Identity) -> Result<[u8; 32], DecryptError> {
    if meta.get("key_groups").is_some_and(|g| *g != Node::Null) {
        return Err(DecryptError::Format(
            "it splits its data key across key groups (Shamir), which homelab does not read"
                .to_owned(),
        ));
    }
    let mine = identity.to_public().to_string();
    let mut recipients = Vec::new();
    let stanzas = match meta.get("age") {
        Some(Node::Seq(items)) => items.as_slice(),
        _ => &[],
    };
    for stanza in stanzas {
        let recipient = stanza.get("recipient").and_then(Node::as_str).unwrap_or("");
        recipients.push(recipient.to_owned());
        if recipient != mine {
            continue;
        }
        let enc = stanza.get("enc").and_then(Node::as_str).unwrap_or("");
        let key = age::decrypt(identity, enc.as_bytes()).map_err(|e| {
            DecryptError::Tampered(format!("the age stanza for {mine} does not open: {e}"))
        })?;
        return <[u8; 32]>::try_from(key.as_slice()).map_err(|_| {
            DecryptError::Format(format!(
                "the data key sealed for {mine} is {} bytes, not 32",
                key.len()
            ))
        });
    }
    Err(DecryptError::WrongKey(recipients))
}

/// One SOPS value: `ENC[AES256_GCM,data:…,iv:…,tag:…,type:<kind>]`.
fn seal(plain: &str, kind: &str, key: &[u8; 32], additional_data: &str) -> Result<String> {
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
        .map_err(|_| fail!("AES-GCM encryption failed"))?;
    let (data, tag) = sealed.split_at(sealed.len() - 16);
    Ok(format!(
        "ENC[AES256_GCM,data:{},iv:{},tag:{},type:{kind}]",
        B64.encode(data),
        B64.encode(iv),
        B64.encode(tag)
    ))
}

/// Open one `ENC[…]` value, authenticated with `additional_data`, as the type it records.
fn open(sealed: &str, key: &[u8; 32], additional_data: &str) -> Result<Node> {
    let inner = sealed
        .strip_prefix("ENC[AES256_GCM,")
        .and_then(|s| s.strip_suffix(']'))
        .ok_or_else(|| fail!("not an encrypted value"))?;
    let mut fields = [None; 4];
    for part in inner.split(',') {
        let (name, value) = part
            .split_once(':')
            .ok_or_else(|| fail!("malformed encrypted value"))?;
        let slot = ["data", "iv", "tag", "type"]
            .iter()
            .position(|n| *n == name)
            .ok_or_else(|| fail!("malformed encrypted value"))?;
        fields[slot] = Some(value);
    }
    let [Some(data), Some(iv), Some(tag), Some(kind)] = fields else {
        bail!("malformed encrypted value");
    };
    let decode = |b64: &str| B64.decode(b64).map_err(|_| fail!("malformed base64"));
    let iv = decode(iv)?;
    ensure!(iv.len() == 32, "unexpected nonce length");
    let mut msg = decode(data)?;
    msg.extend(decode(tag)?);
    let cipher = SopsCipher::new_from_slice(key).expect("32-byte key");
    let plain = cipher
        .decrypt(
            Nonce::<U32>::from_slice(&iv),
            Payload {
                msg: &msg,
                aad: additional_data.as_bytes(),
            },
        )
        .map_err(|_| fail!("does not authenticate (changed, or moved from another key)"))?;
    let text = String::from_utf8(plain).map_err(|_| fail!("not UTF-8 text"))?;
    Ok(match kind {
        "str" | "bytes" | "time" => Node::Str(text),
        "int" => Node::Int(text.parse().map_err(|_| fail!("not an integer"))?),
        "float" => Node::Float(text.parse().map_err(|_| fail!("not a number"))?),
        // Go's strconv.ParseBool.
        "bool" => Node::Bool(match text.as_str() {
            "1" | "t" | "T" | "TRUE" | "true" | "True" => true,
            "0" | "f" | "F" | "FALSE" | "false" | "False" => false,
            _ => bail!("not a boolean"),
        }),
        other => bail!("unknown value type {other:?}"),
    })
}

fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAIN: &str = "kind: Secret\nmetadata:\n  name: s\n  labels:\n    on: \"yes\"\n    plain: yes\n  replicas: 3\n  ratio: 1.5\n  flag: true\n  none: null\nstringData:\n  zeta: z-value\n  alpha: a-value\n  empty: \"\"\n  list: [one, two]\n";

    fn identity() -> (age::x25519::Identity, String) {
        let id = age::x25519::Identity::generate();
        let recipient = id.to_public().to_string();
        (id, recipient)
    }

    #[test]
    fn decrypt_returns_what_was_encrypted_in_document_order() {
        let (id, recipient) = identity();
        let sealed = encrypt(PLAIN, &recipient, "^(data|stringData)$").expect("encrypts");
        assert!(
            !sealed.contains("a-value") && !sealed.contains("z-value"),
            "{sealed}"
        );
        // Readable values stay readable, in their order.
        assert!(sealed.find("zeta").expect("zeta") < sealed.find("alpha").expect("alpha"));
        let doc = decrypt(&sealed, &id).expect("decrypts");
        assert_eq!(doc, parse(PLAIN).expect("plain"));
        // `yes` is text, as for sops (YAML 1.2), not a boolean.
        assert_eq!(
            doc.get("metadata")
                .and_then(|m| m.get("labels"))
                .and_then(|l| l.get("plain")),
            Some(&Node::Str("yes".into()))
        );
    }

    #[test]
    fn a_changed_readable_value_fails_the_mac() {
        let (id, recipient) = identity();
        let sealed = encrypt(PLAIN, &recipient, "^(data|stringData)$").expect("encrypts");
        let tampered = sealed.replace("name: s", "name: t");
        assert_ne!(tampered, sealed);
        assert!(matches!(
            decrypt(&tampered, &id),
            Err(DecryptError::Tampered(why)) if why.contains("MAC mismatch")
        ));
    }

    #[test]
    fn an_encrypted_value_moved_to_another_key_does_not_open() {
        let (id, recipient) = identity();
        let sealed = encrypt(PLAIN, &recipient, "^(data|stringData)$").expect("encrypts");
        let mut doc = parse(&sealed).expect("parses");
        let Some(Node::Map(items)) = doc_mut(&mut doc, "stringData") else {
            panic!("no stringData");
        };
        let zeta = items[0].1.clone();
        items[1].1 = zeta;
        let moved = serde_saphyr::to_string(&doc).expect("yaml");
        let err = decrypt(&moved, &id).expect_err("refused");
        assert!(
            matches!(&err, DecryptError::Tampered(why) if why.starts_with("stringData.alpha")),
            "{err}"
        );
        assert!(!err.to_string().contains("z-value"));
    }

    fn doc_mut<'a>(doc: &'a mut Node, key: &str) -> Option<&'a mut Node> {
        match doc {
            Node::Map(items) => items.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    #[test]
    fn another_key_is_told_which_recipients_the_file_needs() {
        let (_, recipient) = identity();
        let (other, _) = identity();
        let sealed = encrypt(PLAIN, &recipient, "^(data|stringData)$").expect("encrypts");
        match decrypt(&sealed, &other) {
            Err(DecryptError::WrongKey(r)) => assert_eq!(r, vec![recipient]),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_default_rule_leaves_unencrypted_suffixes_readable() {
        let meta = parse("mac: x").expect("yaml");
        let rule = Rule::from_metadata(&meta).expect("rule");
        assert!(rule.encrypts(&["password".into()]));
        assert!(!rule.encrypts(&["note_unencrypted".into(), "x".into()]));
        let two = parse("encrypted_regex: a\nunencrypted_suffix: b").expect("yaml");
        assert!(Rule::from_metadata(&two).is_err());
    }

    #[test]
    fn scalars_hash_as_sops_prints_them() {
        assert_eq!(Node::Bool(true).scalar_text().as_deref(), Some("True"));
        assert_eq!(Node::Float(1.5).scalar_text().as_deref(), Some("1.5"));
        assert_eq!(Node::Float(100.0).scalar_text().as_deref(), Some("100"));
        assert_eq!(
            Node::Float(1e21).scalar_text().as_deref(),
            Some("1000000000000000000000")
        );
        assert_eq!(Node::Null.scalar_text(), None);
    }
}
