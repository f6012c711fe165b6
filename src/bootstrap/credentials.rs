//! The Secrets bootstrap creates (Flux's git credentials, the SOPS key, the DNS provider's
//! token), all decided before anything is applied, so a missing credential is a pre-flight
//! failure and never a half-bootstrapped cluster.

use std::collections::BTreeMap;

use serde_json::Value;
use ssh_key::HashAlg;

use super::cluster_secrets::{self as credentials, GIT_SECRET, GitRemote, SOPS_SECRET};
use super::{Options, Ui};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::git::hostkeys::HostKeyPolicy;

/// A freshly made (or supplied) deploy key to show the user, and to check with.
pub struct NewDeployKey {
    pub public: String,
    pub fingerprint: String,
    pub key: ssh_key::PrivateKey,
    pub known_hosts: String,
}

/// The Secrets to apply, decided before anything is applied.
pub struct Credentials {
    pub docs: Vec<Value>,
    pub deploy_key: Option<NewDeployKey>,
    pub notes: Vec<String>,
}

/// Decide every Secret: all failures here are pre-flight failures (nothing applied yet).
pub async fn gather_credentials(
    client: &kube::Client,
    cfg: &Config,
    remote: &GitRemote,
    opts: &Options,
    age_key: &crate::secrets::AgeKey,
    ui: &dyn Ui,
) -> Result<Credentials> {
    let mut docs = Vec::new();
    let mut notes = Vec::new();
    let mut deploy_key = None;
    let (git_ns, git_name) = GIT_SECRET;
    let existing = credentials::existing_secret(client, git_ns, git_name).await?;

    match remote {
        GitRemote::Ssh { host, port, .. } => {
            let keep = credentials::has_keys(&existing, &["identity", "known_hosts"])
                && !opts.rotate_keys
                && opts.deploy_key.is_none();
            if keep {
                notes.push(format!("keeping the existing deploy key in Secret {git_ns}/{git_name} (--rotate-keys replaces it)"));
            } else {
                let key = credentials::deploy_key(
                    opts.deploy_key.as_deref(),
                    &format!("flux-{}", cfg.cluster.name),
                )?;
                // The same trust policy as `homelab push`: Flux gets a key the user trusts.
                let policy = HostKeyPolicy::new(
                    opts.known_hosts.as_deref(),
                    opts.accept_new_host_key,
                    ui.can_ask(),
                );
                let (known_hosts, note) = credentials::known_hosts_for(
                    &cfg.git.url,
                    host,
                    *port,
                    &policy,
                    opts.git_timeout,
                )?;
                notes.push(note);
                let data = credentials::ssh_secret_data(&key, &known_hosts)?;
                docs.push(credentials::secret(git_ns, git_name, &data));
                deploy_key = Some(NewDeployKey {
                    public: key.public_key().to_openssh().unwrap_or_default(),
                    fingerprint: key.public_key().fingerprint(HashAlg::Sha256).to_string(),
                    key,
                    known_hosts,
                });
            }
        }
        GitRemote::Https { username } => {
            if opts.deploy_key.is_some() {
                return Err(Error::usage(
                    "--deploy-key needs an SSH git.url, but git.url is an HTTPS URL",
                )
                .with_hint("drop --deploy-key (HTTPS uses HOMELAB_GIT_TOKEN), or set git.url to an ssh:// URL"));
            }
            let keep = credentials::has_keys(&existing, &["password"]) && !opts.rotate_keys;
            if keep {
                notes.push(format!("keeping the existing git credentials in Secret {git_ns}/{git_name} (--rotate-keys replaces them)"));
            } else {
                let token = match std::env::var("HOMELAB_GIT_TOKEN") {
                    Ok(t) if !t.is_empty() => t,
                    _ if ui.can_ask() => {
                        ui.ask_secret("Git access token for Flux (HOMELAB_GIT_TOKEN)")?
                    }
                    _ => {
                        return Err(Error::usage(
                            "HOMELAB_GIT_TOKEN is not set: Flux needs a token to pull over HTTPS",
                        )
                        .with_hint("export HOMELAB_GIT_TOKEN=<a read-only access token for the repository> and run again"));
                    }
                };
                let data = BTreeMap::from([
                    ("username".to_owned(), username.clone().into_bytes()),
                    ("password".to_owned(), token.into_bytes()),
                ]);
                docs.push(credentials::secret(git_ns, git_name, &data));
            }
        }
    }

    let (ns, name) = SOPS_SECRET;
    docs.push(credentials::secret(
        ns,
        name,
        &BTreeMap::from([("age.agekey".to_owned(), age_key.private_bytes().to_vec())]),
    ));

    let mut ask = |question: &str| ui.ask_secret(question);
    let prompt: credentials::Prompt<'_> = if ui.can_ask() { Some(&mut ask) } else { None };
    let dns =
        credentials::dns_credentials(client, cfg, &|var| std::env::var_os(var), prompt).await?;
    notes.extend(dns.note);
    docs.extend(dns.docs);

    Ok(Credentials {
        docs,
        deploy_key,
        notes,
    })
}
