//! The Secrets bootstrap gives the cluster, which git can never hold: the git credentials
//! Flux pulls with (an SSH deploy key with the git host's real host key, or an HTTPS token),
//! the SOPS age identity (found by [`crate::secrets::require_key`]), and the DNS provider's
//! API credentials for cert-manager. They need git's host-key policy, render's mirror CA and
//! the age key, so they belong to bootstrap rather than to the cluster client.
//!
//! They are built in memory and applied straight to the cluster: never written to disk,
//! never printed (only public keys and fingerprints are).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};
use ssh_key::{Algorithm, HashAlg, LineEnding, PrivateKey, PublicKey};

use crate::component::ComponentId;
use crate::config::git_url::{FORMS, GitUrl, Problem, redact};
use crate::config::{Choice, Config};
use crate::error::{Error, Result};
use crate::git::hostkeys::{self, HostKeyPolicy, Trust};

/// The namespace and name of Flux's git credentials Secret, as `flux bootstrap` names it.
pub const GIT_SECRET: (&str, &str) = ("flux-system", "flux-system");
/// The Secret the Kustomizations decrypt SOPS files with.
pub const SOPS_SECRET: (&str, &str) = ("flux-system", "sops-age");
/// cert-manager looks for the DNS provider's credentials in its own namespace.
fn provider_namespace() -> &'static str {
    ComponentId::CertManager.namespace()
}

/// How Flux reaches the git remote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GitRemote {
    Ssh {
        user: String,
        host: String,
        port: u16,
    },
    Https {
        username: String,
    },
}

/// How Flux pulls `git.url` (parsed by [`GitUrl::parse`]); remotes Flux cannot pull
/// (`git://`, local paths) are refused with the reason `doctor` gives too.
pub fn parse_remote(url: &str) -> Result<GitRemote> {
    let shown = crate::text::Shown(&redact(url));
    let parsed = GitUrl::parse(url).map_err(|problem| match problem {
        Problem::Empty => Error::usage("git.url is empty: bootstrap needs a git remote Flux can pull from")
            .with_hint("set git.url in homelab.yaml (e.g. ssh://git@github.com/you/homelab.git), run `homelab push`, then `homelab bootstrap`"),
        _ => Error::usage(format!("git.url {shown} {problem}")).with_hint(FORMS),
    })?;
    if let Some(why) = parsed.unpullable() {
        return Err(
            Error::usage(format!("git.url {shown} cannot be pulled by Flux: {why}")).with_hint(
                "set git.url in homelab.yaml to an ssh://, user@host:path or https:// URL the cluster can reach",
            ),
        );
    }
    let user = parsed.user.clone().unwrap_or_else(|| "git".to_owned());
    Ok(match parsed.ssh_endpoint() {
        Some((host, port)) => GitRemote::Ssh {
            user,
            host: host.to_owned(),
            port,
        },
        None => GitRemote::Https { username: user },
    })
}

/// The host field of a known_hosts line: `host`, or `[host]:port` off port 22.
pub fn known_hosts_pattern(host: &str, port: u16) -> String {
    hostkeys::host_name(host, Some(port))
}

/// The `known_hosts` content for Flux: the git host's real key, read from the server and
/// trusted by the same policy as `homelab push` (known, or accepted by the user and then
/// recorded; a changed or revoked key is refused). When the server cannot be reached from
/// here, the keys the known_hosts files hold for it are used. Returns the content and a
/// note for the user.
pub fn known_hosts_for(
    url: &str,
    host: &str,
    port: u16,
    policy: &HostKeyPolicy,
    timeout: Duration,
) -> Result<(String, String)> {
    let pattern = known_hosts_pattern(host, port);
    let line = |key: &PublicKey| -> Result<String> {
        let text = key
            .to_openssh()
            .map_err(|e| Error::failed(format!("cannot encode the host key: {e}")))?;
        Ok(format!("{pattern} {text}\n"))
    };
    match hostkeys::scan(url, timeout) {
        Ok(raw) => {
            let key = PublicKey::from_bytes(&raw).map_err(|e| {
                Error::failed(format!(
                    "the SSH server {pattern} sent a host key homelab cannot read: {e}"
                ))
            })?;
            let fingerprint = key.fingerprint(HashAlg::Sha256);
            let note = match policy.check(host, Some(port), &raw, None)? {
                Trust::Known => {
                    format!("host key of {pattern} ({fingerprint}) matches your known_hosts")
                }
                Trust::Accepted => {
                    format!("host key of {pattern} ({fingerprint}) accepted for Flux")
                }
            };
            Ok((line(&key)?, note))
        }
        Err(why) => {
            let known = policy.known_keys(host, Some(port));
            if known.is_empty() {
                return Err(Error::failed(format!(
                    "cannot read the SSH host key of {pattern}: {why}"
                ))
                .with_hint(format!(
                    "make sure {host} is reachable on port {port} from here, or add its key to \
                     ~/.ssh/known_hosts or a file given with --known-hosts (ssh-keyscan -p {port} {host})"
                )));
            }
            let lines = known.iter().map(line).collect::<Result<String>>()?;
            Ok((
                lines,
                format!("could not reach {pattern} ({why}); using its key from your known_hosts"),
            ))
        }
    }
}

/// Flux's deploy key: the one in `file`, or a new ed25519 key.
pub fn deploy_key(file: Option<&Path>, comment: &str) -> Result<PrivateKey> {
    match file {
        Some(path) => {
            let key = PrivateKey::read_openssh_file(path).map_err(|e| {
                Error::usage(format!(
                    "--deploy-key {}: not a readable OpenSSH private key ({e})",
                    path.display()
                ))
                .with_hint("pass an OpenSSH private key file, e.g. one made with `ssh-keygen -t ed25519 -N ''`")
            })?;
            if key.is_encrypted() {
                return Err(Error::usage(format!(
                    "--deploy-key {}: the key is passphrase-protected; Flux needs an unencrypted key",
                    path.display()
                ))
                .with_hint("use a dedicated deploy key without a passphrase, or omit --deploy-key to generate one"));
            }
            Ok(key)
        }
        None => {
            let mut key = PrivateKey::random(&mut rand::rngs::OsRng, Algorithm::Ed25519)
                .map_err(|e| Error::failed(format!("cannot generate a deploy key: {e}")))?;
            key.set_comment(comment);
            Ok(key)
        }
    }
}

/// A Secret manifest; values are base64-encoded `data` (not `stringData`, which the server
/// rewrites, so reapplying would never be a no-op).
pub fn secret(namespace: &str, name: &str, data: &BTreeMap<String, Vec<u8>>) -> Value {
    let engine = base64::engine::general_purpose::STANDARD;
    let data: serde_json::Map<String, Value> = data
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(engine.encode(v))))
        .collect();
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/managed-by": "homelab"},
        },
        "type": "Opaque",
        "data": data,
    })
}

/// The SSH git credentials Secret content.
pub fn ssh_secret_data(key: &PrivateKey, known_hosts: &str) -> Result<BTreeMap<String, Vec<u8>>> {
    let private = key
        .to_openssh(LineEnding::LF)
        .map_err(|e| Error::failed(format!("cannot encode the deploy key: {e}")))?;
    let public = key
        .public_key()
        .to_openssh()
        .map_err(|e| Error::failed(format!("cannot encode the deploy key: {e}")))?;
    Ok(BTreeMap::from([
        ("identity".to_owned(), private.as_bytes().to_vec()),
        (
            "identity.pub".to_owned(),
            format!("{public}\n").into_bytes(),
        ),
        ("known_hosts".to_owned(), known_hosts.as_bytes().to_vec()),
    ]))
}

/// What `bootstrap` does about the DNS provider's credentials.
#[derive(Debug)]
pub struct DnsCredentials {
    /// The objects to apply: the cert-manager Namespace and the Secret, or nothing when an
    /// existing Secret is kept (or DNS-01 is not used).
    pub docs: Vec<Value>,
    /// What to tell the user.
    pub note: Option<String>,
}

/// Asks the user for one credential (a hidden prompt); `None` when nobody can answer.
pub type Prompt<'a> = Option<&'a mut dyn FnMut(&str) -> Result<String>>;

/// Decide the DNS provider's credential Secret for DNS-01 (nothing for other challenges):
/// every key the solver references (see [`crate::config::dns`]) comes from its environment
/// variable (`env`, the process environment in `bootstrap`); with none of them set, an
/// existing Secret holding every key is kept, else each is asked through `prompt`. A
/// partial set is refused, since the solver would reference a key that does not exist.
pub async fn dns_credentials(
    client: &kube::Client,
    cfg: &Config,
    env: &dyn Fn(&str) -> Option<std::ffi::OsString>,
    mut prompt: Prompt<'_>,
) -> Result<DnsCredentials> {
    let ns = provider_namespace();
    if cfg.certificates.challenge != crate::config::Challenge::Dns01 {
        return Ok(DnsCredentials {
            docs: Vec::new(),
            note: None,
        });
    }
    let provider = cfg.certificates.dns_provider;
    let spec = provider.spec();
    let settings = &cfg.certificates.dns_settings;
    let needed: Vec<&crate::config::dns::Credential> = spec.credentials_for(settings).collect();
    let vars: Vec<&str> = needed.iter().map(|c| c.env).collect();
    let set: Vec<_> = needed
        .iter()
        .map(|c| env(c.env).filter(|v| !v.is_empty()))
        .collect();
    let missing_hint = |what: &str| {
        Error::usage(format!(
            "{what}: cert-manager needs the {} credentials for DNS-01 challenges",
            provider.as_str()
        ))
        .with_hint(format!(
            "export {} (they go into Secret {ns}/{}, never into git) and run again",
            vars.iter()
                .map(|v| format!("{v}=..."))
                .collect::<Vec<_>>()
                .join(" "),
            spec.secret
        ))
    };
    let mut data = BTreeMap::new();
    if set.iter().all(Option::is_some) {
        for (c, value) in needed.iter().zip(set) {
            let value = value.unwrap_or_default();
            let bytes = if c.is_file {
                std::fs::read(&value).map_err(|e| {
                    Error::usage(format!(
                        "{}: cannot read the service account file {}: {e}",
                        c.env,
                        PathBuf::from(&value).display()
                    ))
                    .with_hint(format!("set {} to the path of the JSON key file of the service account cert-manager should use", c.env))
                })?
            } else {
                value.to_string_lossy().into_owned().into_bytes()
            };
            data.insert(c.secret_key.to_owned(), bytes);
        }
    } else if set.iter().any(Option::is_some) {
        let unset: Vec<&str> = needed
            .iter()
            .zip(&set)
            .filter(|(_, v)| v.is_none())
            .map(|(c, _)| c.env)
            .collect();
        return Err(missing_hint(&not_set(&unset)));
    } else {
        let keys: Vec<&str> = needed.iter().map(|c| c.secret_key).collect();
        let existing = existing_secret(client, ns, spec.secret).await?;
        if has_keys(&existing, &keys) {
            return Ok(DnsCredentials {
                docs: Vec::new(),
                note: Some(format!(
                    "keeping the existing {} credentials in Secret {ns}/{} (set {} to replace them)",
                    provider.as_str(),
                    spec.secret,
                    vars.join(" and ")
                )),
            });
        }
        let Some(ask) = prompt
            .as_mut()
            .filter(|_| needed.iter().all(|c| !c.is_file))
        else {
            return Err(missing_hint(&not_set(&vars)));
        };
        for c in &needed {
            let value = ask(&format!(
                "{} credentials for cert-manager ({})",
                provider.as_str(),
                c.env
            ))?;
            data.insert(c.secret_key.to_owned(), value.into_bytes());
        }
    }
    Ok(DnsCredentials {
        docs: vec![
            json!({
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": ns},
            }),
            secret(ns, spec.secret, &data),
        ],
        note: None,
    })
}

/// The chart mirror's CA (`charts.mirror.ca_file`, relative to the repository `dir`) as
/// the Secret source-controller mounts and trusts; `None` without a CA file.
pub fn mirror_ca_secret(dir: &Path, cfg: &Config) -> Result<Option<Value>> {
    let Some(file) = crate::render::mirror::ca_file(cfg) else {
        return Ok(None);
    };
    let path = dir.join(file);
    let hint = "set charts.mirror.ca_file to a PEM file holding the CA certificate that signed the mirror's certificate (relative to the repository, or absolute)";
    let pem = std::fs::read(&path).map_err(|e| {
        Error::usage(format!(
            "charts.mirror.ca_file: cannot read {}: {e}",
            path.display()
        ))
        .with_hint(hint)
    })?;
    let text = String::from_utf8_lossy(&pem);
    if !text.contains("-----BEGIN CERTIFICATE-----") || !text.contains("-----END CERTIFICATE-----")
    {
        return Err(Error::usage(format!(
            "charts.mirror.ca_file: {} holds no PEM certificate",
            path.display()
        ))
        .with_hint(hint));
    }
    let data = BTreeMap::from([(crate::render::mirror::CA_KEY.to_owned(), pem)]);
    Ok(Some(secret(
        GIT_SECRET.0,
        crate::render::mirror::CA_SECRET,
        &data,
    )))
}

/// `X is not set`, `X and Y are not set`.
fn not_set(vars: &[&str]) -> String {
    match vars {
        [one] => format!("{one} is not set"),
        many => format!("{} are not set", many.join(" and ")),
    }
}

/// A Secret of the cluster, if it exists.
pub async fn existing_secret(
    client: &kube::Client,
    ns: &str,
    name: &str,
) -> Result<Option<k8s_openapi::api::core::v1::Secret>> {
    let api: kube::Api<k8s_openapi::api::core::v1::Secret> =
        kube::Api::namespaced(client.clone(), ns);
    api.get_opt(name).await.map_err(|e| {
        Error::failed(format!(
            "cannot read Secret {ns}/{name}: {}",
            crate::kube::client::describe(&e)
        ))
    })
}

/// Whether `secret` exists and holds every key of `keys`.
pub fn has_keys(secret: &Option<k8s_openapi::api::core::v1::Secret>, keys: &[&str]) -> bool {
    secret
        .as_ref()
        .and_then(|s| s.data.as_ref())
        .is_some_and(|d| keys.iter().all(|k| d.contains_key(*k)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remotes_are_classified() {
        assert_eq!(
            parse_remote("ssh://git@github.com/me/homelab.git").expect("ssh"),
            GitRemote::Ssh {
                user: "git".into(),
                host: "github.com".into(),
                port: 22
            }
        );
        assert_eq!(
            parse_remote("ssh://forgejo@nas.lan:2222/me/homelab.git").expect("port"),
            GitRemote::Ssh {
                user: "forgejo".into(),
                host: "nas.lan".into(),
                port: 2222
            }
        );
        assert_eq!(
            parse_remote("git@gitlab.com:me/homelab.git").expect("scp"),
            GitRemote::Ssh {
                user: "git".into(),
                host: "gitlab.com".into(),
                port: 22
            }
        );
        assert_eq!(
            parse_remote("https://oauth2@gitea.lan/me/homelab.git").expect("https"),
            GitRemote::Https {
                username: "oauth2".into()
            }
        );
        assert_eq!(
            parse_remote("https://github.com/me/homelab.git").expect("https"),
            GitRemote::Https {
                username: "git".into()
            }
        );
        for bad in ["", "/srv/git/homelab.git", "file:///srv/x", "git://host/x"] {
            let err = parse_remote(bad).expect_err(bad);
            assert!(err.message.contains("git.url"), "{}", err.message);
            assert!(err.hint.is_some());
        }
    }

    #[test]
    fn known_hosts_patterns_follow_openssh() {
        assert_eq!(known_hosts_pattern("github.com", 22), "github.com");
        assert_eq!(known_hosts_pattern("127.0.0.1", 2222), "[127.0.0.1]:2222");
    }

    #[test]
    fn ssh_secret_has_the_keys_flux_reads() {
        let key = deploy_key(None, "flux").expect("key");
        let data = ssh_secret_data(&key, "h ssh-ed25519 AAAA\n").expect("data");
        assert_eq!(
            data.keys().collect::<Vec<_>>(),
            ["identity", "identity.pub", "known_hosts"]
        );
        let private = String::from_utf8(data["identity"].clone()).expect("utf8");
        // The PEM armour, spelled in two parts so the source holds no key-shaped line.
        assert!(private.starts_with(concat!("-----BEGIN OPENSSH ", "PRIVATE KEY-----")));
        let manifest = secret("flux-system", "flux-system", &data);
        assert_eq!(manifest["type"], "Opaque");
        assert!(manifest.get("stringData").is_none());
    }
}
