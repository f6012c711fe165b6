//! The `homelab init` wizard: asks for every field of `homelab.yaml` on a terminal, with
//! defaults derived from earlier answers, and never loses what the user typed.
//!
//! Each answer is checked by the validator that checks `homelab.yaml` files, where it is
//! given: the answer goes into a copy of the configuration so far, and every problem it
//! causes (on its own field, or a new one on a field answered before) is shown in the
//! wizard's words, and the question asked again. Choices are checked the same way, and the
//! node list as soon as it is complete. So the wizard can never accept what `--config`
//! would reject, and a problem is never discovered after the last question.
//!
//! Answers that mean one thing only (`Home.Example.com`, `192.168.1.240-250`) are
//! rewritten by [`crate::config::normalize`] and the rewrite is shown. Every answer is saved
//! to a draft ([`draft`]) at once, which the next `homelab init` offers to resume; an
//! existing `homelab.yaml` provides the defaults. Ctrl-C ends the wizard with "aborted;
//! nothing was written" and a visible cursor ([`interrupt`]).

mod draft;
mod interrupt;
mod speak;

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::path::Path;

use dialoguer::theme::{ColorfulTheme, SimpleTheme, Theme};
use dialoguer::{Confirm, Input, MultiSelect, Select};
use serde_json::Value;

use crate::catalog::validate_config as validate;
use crate::config::validate::to_yaml;
use crate::config::{
    AcmeServer, App, CONFIG_FILE, Certificates, Challenge, Choice, Cluster, Config, Diagnostic,
    DnsProvider, FLUX_COMPONENTS, Flux, Git, Ingress, Network, Node, NodeRole, Provisioner,
    Storage, normalize,
};
use crate::error::{Error, Result};
use crate::ui::style;

use draft::{Draft, Store};

/// What the wizard (or `--config`) decided, for `init`.
#[derive(Debug)]
pub struct Answers {
    pub config: Config,
    /// The kubeconfig context to bootstrap into (None: the current one, or none at all).
    pub context: Option<String>,
    /// `homelab.yaml` exists and the user confirmed replacing it with these answers.
    pub replaces_existing: bool,
    draft: Option<Store>,
}

impl Answers {
    /// Answers read from a file: there is no draft to keep.
    pub fn from_file(config: Config, context: Option<String>) -> Self {
        Self {
            config,
            context,
            replaces_existing: false,
            draft: None,
        }
    }

    /// The repository holds the answers now: the draft has served its purpose.
    pub fn written(&self) {
        if let Some(store) = &self.draft {
            store.discard();
        }
    }
}

/// A configuration with every field empty or at its default, filled in by the wizard.
fn empty_config() -> Config {
    Config {
        version: 1,
        cluster: Cluster {
            name: String::new(),
            domain: String::new(),
        },
        nodes: Vec::new(),
        network: Network {
            node_cidr: String::new(),
            loadbalancer_pool: Vec::new(),
            ingress_address: String::new(),
        },
        ingress: Ingress::default(),
        certificates: Certificates {
            email: String::new(),
            acme_server: AcmeServer::default(),
            challenge: Challenge::default(),
            dns_provider: DnsProvider::default(),
            dns_settings: BTreeMap::new(),
        },
        storage: Storage {
            provisioner: Provisioner::default(),
            nfs_server: String::new(),
            nfs_path: String::new(),
            storage_class: "nfs".to_owned(),
            default_class: true,
            local_class: None,
        },
        git: Git::default(),
        flux: Flux::default(),
        charts: Default::default(),
        apps: Vec::<App>::new(),
    }
}

/// One question of the wizard. Every key path of `homelab.yaml` the wizard sets belongs to
/// exactly one question, so a problem found anywhere can be answered by asking it again.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Q {
    ClusterName,
    Domain,
    /// The whole node list: each node's questions, and whether there is another.
    Nodes,
    NodeName(usize),
    NodeAddress(usize),
    NodeRole(usize),
    /// Which node runs the control plane, when none of them does.
    ControlPlane,
    NodeCidr,
    Pool,
    IngressAddress,
    IngressController,
    Challenge,
    Email,
    AcmeServer,
    DnsProvider,
    DnsSetting(String),
    Provisioner,
    NfsServer,
    NfsPath,
    StorageClass,
    DefaultClass,
    GitUrl,
    GitBranch,
    FluxVersion,
    FluxComponents,
    Context,
}

/// The path recorded for the bootstrap context question (not a key of homelab.yaml).
const CONTEXT_PATH: &str = "(bootstrap context)";

impl Q {
    /// The key path this question answers.
    fn path(&self) -> String {
        match self {
            Q::ClusterName => "cluster.name".into(),
            Q::Domain => "cluster.domain".into(),
            Q::Nodes | Q::ControlPlane => "nodes".into(),
            Q::NodeName(i) => format!("nodes[{i}].name"),
            Q::NodeAddress(i) => format!("nodes[{i}].address"),
            Q::NodeRole(i) => format!("nodes[{i}].role"),
            Q::NodeCidr => "network.node_cidr".into(),
            Q::Pool => "network.loadbalancer_pool".into(),
            Q::IngressAddress => "network.ingress_address".into(),
            Q::IngressController => "ingress.controller".into(),
            Q::Challenge => "certificates.challenge".into(),
            Q::Email => "certificates.email".into(),
            Q::AcmeServer => "certificates.acme_server".into(),
            Q::DnsProvider => "certificates.dns_provider".into(),
            Q::DnsSetting(key) => format!("certificates.dns_settings.{key}"),
            Q::Provisioner => "storage.provisioner".into(),
            Q::NfsServer => "storage.nfs_server".into(),
            Q::NfsPath => "storage.nfs_path".into(),
            Q::StorageClass => "storage.storage_class".into(),
            Q::DefaultClass => "storage.default_class".into(),
            Q::GitUrl => "git.url".into(),
            Q::GitBranch => "git.branch".into(),
            Q::FluxVersion => "flux.version".into(),
            Q::FluxComponents => "flux.components".into(),
            Q::Context => CONTEXT_PATH.into(),
        }
    }

    /// The question whose answer a problem at `path` is about, if the wizard asks one.
    fn of_path(path: &str, cfg: &Config) -> Option<Q> {
        if let Some(rest) = path.strip_prefix("nodes[")
            && let Some((index, field)) = rest.split_once("].")
            && let Ok(i) = index.parse::<usize>()
        {
            return match field {
                "name" => Some(Q::NodeName(i)),
                "address" => Some(Q::NodeAddress(i)),
                "role" => Some(Q::NodeRole(i)),
                _ => None,
            };
        }
        if path == "nodes" {
            return Some(if cfg.nodes.is_empty() {
                Q::Nodes
            } else {
                Q::ControlPlane
            });
        }
        if path.starts_with("network.loadbalancer_pool") {
            return Some(Q::Pool);
        }
        if path.starts_with("flux.components") {
            return Some(Q::FluxComponents);
        }
        if let Some(key) = path.strip_prefix("certificates.dns_settings.") {
            let provider = cfg.certificates.dns_provider;
            return Some(if provider.allowed_settings().contains(&key) {
                Q::DnsSetting(key.to_owned())
            } else {
                Q::DnsProvider
            });
        }
        Some(match path {
            "cluster.name" => Q::ClusterName,
            "cluster.domain" => Q::Domain,
            "network.node_cidr" => Q::NodeCidr,
            "network.ingress_address" => Q::IngressAddress,
            "ingress.controller" => Q::IngressController,
            "certificates.challenge" => Q::Challenge,
            "certificates.email" => Q::Email,
            "certificates.acme_server" => Q::AcmeServer,
            "certificates.dns_provider" | "certificates.dns_settings" => Q::DnsProvider,
            "storage.provisioner" => Q::Provisioner,
            "storage.nfs_server" => Q::NfsServer,
            "storage.nfs_path" => Q::NfsPath,
            "storage.storage_class" => Q::StorageClass,
            "storage.default_class" => Q::DefaultClass,
            "git.url" => Q::GitUrl,
            "git.branch" => Q::GitBranch,
            "flux.version" => Q::FluxVersion,
            _ => return None,
        })
    }
}

/// What an answer set: the form shown to the user, and other paths it answered too.
struct Taken {
    shown: String,
    also: Vec<String>,
}

impl Taken {
    fn plain(shown: impl Into<String>) -> Self {
        Self {
            shown: shown.into(),
            also: Vec::new(),
        }
    }
}

type Apply<'f> = &'f dyn Fn(&mut Config, &str) -> Taken;

/// The wizard's state.
struct Wizard<'a> {
    dir: &'a Path,
    contexts: &'a [(String, String)],
    draft: Config,
    context: Option<String>,
    /// Paths answered (by the user, in this run or a resumed one).
    answered: BTreeSet<String>,
    /// Paths not to ask again in this pass (a resumed draft's, and this run's answers).
    settled: BTreeSet<String>,
    /// How many nodes came from an existing homelab.yaml: their roles are known.
    known_nodes: usize,
    /// A problem's path that the question being asked again must also clear.
    must_clear: Option<String>,
    theme: Box<dyn Theme>,
    store: Option<Store>,
    saved: bool,
    save_warned: bool,
}

/// Run the wizard for the repository `dir`. `contexts` are the kubeconfig contexts (name,
/// server) to offer for the bootstrap.
pub fn run(dir: &Path, contexts: &[(String, String)]) -> Result<Answers> {
    let guard = interrupt::catch();
    let outcome = run_caught(dir, contexts);
    match outcome {
        Ok(answers) => {
            drop(guard);
            Ok(answers)
        }
        Err(err) => {
            interrupt::restore_terminal();
            guard.keep();
            Err(err)
        }
    }
}

fn run_caught(dir: &Path, contexts: &[(String, String)]) -> Result<Answers> {
    let existing = read_existing(dir)?;
    let theme: Box<dyn Theme> = if style::color() {
        Box::new(ColorfulTheme::default())
    } else {
        Box::new(SimpleTheme)
    };
    let mut w = Wizard {
        dir,
        contexts,
        draft: empty_config(),
        context: None,
        answered: BTreeSet::new(),
        settled: BTreeSet::new(),
        known_nodes: 0,
        must_clear: None,
        theme,
        store: Store::for_dir(dir),
        saved: false,
        save_warned: false,
    };

    crate::note!(
        "Let's describe your homelab. Press Enter to take the [default]. Ctrl-C stops; the answers given so far are kept for the next `homelab init`.\n"
    );
    let mut resumed = false;
    if let Some(saved) = w.store.as_ref().and_then(Store::load) {
        let file = w.store.as_ref().map(|s| s.path().display().to_string());
        crate::note!(
            "An earlier `homelab init` for {} stopped after {} answers; they are saved in {}.",
            saved.dir,
            saved.answered.len(),
            file.unwrap_or_default()
        );
        if w.confirm("Resume where it stopped?", true)? {
            w.draft = saved.config;
            w.answered = saved.answered.into_iter().collect();
            w.settled = w.answered.clone();
            w.context = saved.context;
            w.saved = true;
            resumed = true;
        } else if let Some(store) = &w.store {
            store.discard();
        }
    }
    if !resumed && let Some(existing) = &existing {
        crate::note!(
            "{} exists: its values are the defaults, Enter keeps each one.\n",
            dir.join(CONFIG_FILE).display()
        );
        w.draft = existing.clone();
        w.known_nodes = existing.nodes.len();
    }

    loop {
        w.ask_all()?;
        w.settle_final()?;
        crate::note!("\nSummary (homelab.yaml):\n\n{}", to_yaml(&w.draft));
        if let Some(existing) = &existing {
            let changed = changed_paths(existing, &w.draft);
            if changed.is_empty() {
                crate::note!("These are the values of the existing homelab.yaml.");
            } else {
                crate::note!(
                    "This changes {} in the existing homelab.yaml (edited in place: its comments and layout stay) and re-renders the repository from it.",
                    changed.join(", ")
                );
            }
        }
        if let Some(context) = &w.context {
            crate::note!("Flux will be bootstrapped into context {context}.");
        }
        match w.select(
            "Write this homelab?",
            &[
                "yes: write homelab.yaml and render the repository",
                "change an answer",
                "no: stop here (the answers stay saved for the next `homelab init`)",
            ],
            0,
        )? {
            0 => break,
            1 => w.change()?,
            _ => return Err(w.stopped(Error::usage("aborted; nothing was written"))),
        }
    }

    let replaces_existing = existing.as_ref().is_some_and(|e| *e != w.draft);
    Ok(Answers {
        config: w.draft,
        context: w.context,
        replaces_existing,
        draft: w.store,
    })
}

/// The `homelab.yaml` already in `dir`, as the wizard's starting point: valid or not (the
/// wizard asks every question again and checks every answer), but readable.
fn read_existing(dir: &Path) -> Result<Option<Config>> {
    let path = dir.join(CONFIG_FILE);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(None);
    };
    match crate::catalog::parse_config(&text) {
        Ok(cfg) => Ok(Some(cfg)),
        Err(diags) => match serde_saphyr::from_str::<Config>(&text) {
            Ok(cfg) => Ok(Some(cfg)),
            Err(_) => {
                let lines: Vec<String> = diags.iter().map(ToString::to_string).collect();
                Err(Error::usage(format!(
                    "{} exists but cannot be read as a homelab, so the wizard cannot start from it:\n{}",
                    path.display(),
                    lines.join("\n")
                ))
                .with_hint(
                    "fix it (then `homelab render`), or move it out of the way to start over",
                ))
            }
        },
    }
}

/// The leaf key paths whose values differ between two configurations.
fn changed_paths(old: &Config, new: &Config) -> Vec<String> {
    fn leaves(value: &Value, path: String, out: &mut BTreeMap<String, String>) {
        match value {
            Value::Object(map) => {
                for (key, item) in map {
                    let child = if path.is_empty() {
                        key.clone()
                    } else {
                        format!("{path}.{key}")
                    };
                    leaves(item, child, out);
                }
            }
            Value::Array(items) if items.iter().all(|i| !i.is_object()) => {
                out.insert(path, value.to_string());
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    leaves(item, format!("{path}[{i}]"), out);
                }
            }
            other => {
                out.insert(path, other.to_string());
            }
        }
    }
    let mut a = BTreeMap::new();
    let mut b = BTreeMap::new();
    leaves(
        &serde_json::to_value(old).unwrap_or(Value::Null),
        String::new(),
        &mut a,
    );
    leaves(
        &serde_json::to_value(new).unwrap_or(Value::Null),
        String::new(),
        &mut b,
    );
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .cloned()
        .collect()
}

/// The /24 around an address, as a default node CIDR.
fn cidr_around(address: &str) -> Option<String> {
    let ip: Ipv4Addr = address.parse().ok()?;
    let [a, b, c, _] = ip.octets();
    Some(format!("{a}.{b}.{c}.0/24"))
}

/// The name after `previous` in a numbered series: `nuc1` → `nuc2`, `node-09` → `node-10`;
/// a name without a number gets one (`pi` → `pi-2`).
fn next_name(previous: &str) -> String {
    let digits = previous
        .chars()
        .rev()
        .take_while(char::is_ascii_digit)
        .count();
    let (stem, number) = previous.split_at(previous.len() - digits);
    match number.parse::<u64>() {
        Ok(n) => format!("{stem}{:0width$}", n.saturating_add(1), width = digits),
        Err(_) => format!("{previous}-2"),
    }
}

/// The next IPv4 address after `previous`.
fn next_address(previous: &str) -> Option<String> {
    let ip: Ipv4Addr = previous.parse().ok()?;
    Some(Ipv4Addr::from(u32::from(ip).checked_add(1)?).to_string())
}

/// A non-empty current value, else the fallback.
fn or(current: &str, fallback: Option<String>) -> Option<String> {
    if current.is_empty() {
        fallback
    } else {
        Some(current.to_owned())
    }
}

impl Wizard<'_> {
    // ---------------------------------------------------------------------------------
    // The questions, in order.

    /// Ask every question that applies and is not settled.
    fn ask_all(&mut self) -> Result<()> {
        self.ask_open(Q::ClusterName)?;
        self.ask_open(Q::Domain)?;
        if !self.settled.contains("nodes") {
            self.ask(Q::Nodes)?;
        }
        for q in [
            Q::NodeCidr,
            Q::Pool,
            Q::IngressAddress,
            Q::IngressController,
            Q::Challenge,
        ] {
            self.ask_open(q)?;
        }
        if self.draft.certificates.challenge == Challenge::Selfsigned {
            // Not asked (no ACME account), but the field is required.
            if self.draft.certificates.email.is_empty() {
                self.draft.certificates.email = format!("admin@{}", self.draft.cluster.domain);
            }
        } else {
            self.ask_open(Q::Email)?;
            self.ask_open(Q::AcmeServer)?;
        }
        if self.draft.certificates.challenge == Challenge::Dns01 {
            self.ask_open(Q::DnsProvider)?;
            let required: Vec<String> = self
                .draft
                .certificates
                .dns_provider
                .required_settings()
                .iter()
                .map(|k| k.to_string())
                .collect();
            for key in required {
                self.ask_open(Q::DnsSetting(key))?;
            }
        }
        for q in [
            Q::Provisioner,
            Q::NfsServer,
            Q::NfsPath,
            Q::StorageClass,
            Q::DefaultClass,
            Q::GitUrl,
            Q::GitBranch,
            Q::FluxComponents,
        ] {
            self.ask_open(q)?;
        }
        if !self.contexts.is_empty() {
            self.ask_open(Q::Context)?;
        }
        Ok(())
    }

    fn ask_open(&mut self, q: Q) -> Result<()> {
        if self.settled.contains(&q.path()) {
            return Ok(());
        }
        self.ask(q)
    }

    /// Ask one question (again), with the current value as the default.
    fn ask(&mut self, q: Q) -> Result<()> {
        let domain = self.draft.cluster.domain.clone();
        match q {
            Q::ClusterName => {
                let default = or(&self.draft.cluster.name, Some("homelab".into()));
                self.text(&q, "Cluster name", default, &|c, v| {
                    c.cluster.name = normalize::name(v);
                    Taken::plain(&c.cluster.name)
                })
            }
            Q::Domain => {
                let default = or(&self.draft.cluster.domain, None);
                self.text(
                    &q,
                    "Domain (apps are served at <app>.<domain>)",
                    default,
                    &|c, v| {
                        c.cluster.domain = normalize::domain(v);
                        Taken::plain(&c.cluster.domain)
                    },
                )
            }
            Q::Nodes => self.nodes(),
            Q::NodeName(i) => {
                let current = &self.draft.nodes[i].name;
                let derived = i
                    .checked_sub(1)
                    .map(|p| next_name(&self.draft.nodes[p].name));
                let default = or(current, derived);
                self.text(
                    &q,
                    &format!("Node {} name (its Kubernetes node name)", i + 1),
                    default,
                    &move |c, v| {
                        c.nodes[i].name = normalize::name(v);
                        Taken::plain(&c.nodes[i].name)
                    },
                )
            }
            Q::NodeAddress(i) => {
                let current = &self.draft.nodes[i].address;
                let derived = i
                    .checked_sub(1)
                    .and_then(|p| next_address(&self.draft.nodes[p].address));
                let default = or(current, derived);
                self.text(
                    &q,
                    &format!("Node {} IP address", i + 1),
                    default,
                    &move |c, v| {
                        c.nodes[i].address = normalize::ipv4(v);
                        Taken::plain(&c.nodes[i].address)
                    },
                )
            }
            Q::NodeRole(i) => {
                // A role never chosen defaults by position: the first node runs the
                // control plane.
                let known = i < self.known_nodes || self.answered.contains(&q.path());
                let current = match (known, i) {
                    (true, _) => self.draft.nodes[i].role,
                    (false, 0) => NodeRole::ControlPlane,
                    (false, _) => NodeRole::Worker,
                };
                self.choose_value(
                    &q,
                    &format!("Node {} role", i + 1),
                    current,
                    &move |c, role| c.nodes[i].role = role,
                )
                .map(drop)
            }
            Q::ControlPlane => {
                let items: Vec<String> = self
                    .draft
                    .nodes
                    .iter()
                    .map(|n| format!("{} ({})", n.name, n.address))
                    .collect();
                let refs: Vec<&str> = items.iter().map(String::as_str).collect();
                let i = self.choose(
                    &q,
                    "Which node runs the Kubernetes control plane?",
                    &refs,
                    0,
                    &|c, choice| c.nodes[choice].role = NodeRole::ControlPlane,
                )?;
                self.mark(&format!("nodes[{i}].role"));
                Ok(())
            }
            Q::NodeCidr => {
                let first = self.draft.nodes.first().map(|n| n.address.clone());
                let default = or(
                    &self.draft.network.node_cidr,
                    first.and_then(|a| cidr_around(&a)),
                );
                self.text(&q, "LAN (node) CIDR", default, &|c, v| {
                    c.network.node_cidr = normalize::cidr(v);
                    Taken::plain(&c.network.node_cidr)
                })
            }
            Q::Pool => {
                let addresses: Vec<String> =
                    self.draft.nodes.iter().map(|n| n.address.clone()).collect();
                let suggested = crate::config::validate::suggest_pool(
                    &self.draft.network.node_cidr,
                    &addresses,
                );
                let default = or(&self.draft.network.loadbalancer_pool.join(", "), suggested);
                crate::note!(
                    "MetalLB gives services addresses from a pool on your LAN: keep it outside your router's DHCP range, so no device gets one of them too."
                );
                self.text(
                    &q,
                    "Load-balancer (MetalLB) addresses, outside the DHCP range: ranges a-b or CIDRs",
                    default,
                    &|c, v| {
                        c.network.loadbalancer_pool = normalize::pool(v);
                        Taken::plain(c.network.loadbalancer_pool.join(", "))
                    },
                )
            }
            Q::IngressAddress => {
                let first = self
                    .draft
                    .network
                    .loadbalancer_pool
                    .first()
                    .map(|e| e.split(['-', '/']).next().unwrap_or_default().to_owned());
                let default = or(&self.draft.network.ingress_address, first);
                self.text(
                    &q,
                    &format!(
                        "Ingress controller address (inside the pool; point *.{domain} at it in DNS)"
                    ),
                    default,
                    &|c, v| {
                        c.network.ingress_address = normalize::ipv4(v);
                        Taken::plain(&c.network.ingress_address)
                    },
                )
            }
            Q::IngressController => self
                .choose_value(
                    &q,
                    "Ingress controller",
                    self.draft.ingress.controller,
                    &|c, controller| c.ingress.controller = controller,
                )
                .map(drop),
            Q::Challenge => self
                .choose_value(
                    &q,
                    "Certificates",
                    self.draft.certificates.challenge,
                    &|c, challenge| c.certificates.challenge = challenge,
                )
                .map(drop),
            Q::Email => {
                let default = or(
                    &self.draft.certificates.email,
                    Some(format!("admin@{domain}")),
                );
                self.text(
                    &q,
                    "Email for Let's Encrypt (expiry warnings)",
                    default,
                    &|c, v| {
                        c.certificates.email = normalize::email(v);
                        Taken::plain(&c.certificates.email)
                    },
                )
            }
            Q::AcmeServer => self
                .choose_value(
                    &q,
                    "Let's Encrypt server",
                    self.draft.certificates.acme_server,
                    &|c, server| c.certificates.acme_server = server,
                )
                .map(drop),
            Q::DnsProvider => {
                let labels: Vec<String> = DnsProvider::all()
                    .iter()
                    .map(|p| {
                        format!(
                            "{} (credentials from {})",
                            p.as_str(),
                            p.credential_env().join(" and ")
                        )
                    })
                    .collect();
                let options: Vec<(DnsProvider, &str)> = DnsProvider::all()
                    .iter()
                    .copied()
                    .zip(labels.iter().map(String::as_str))
                    .collect();
                let provider = self.choose_one(
                    &q,
                    "DNS provider",
                    &options,
                    self.draft.certificates.dns_provider,
                    &|c, provider| {
                        c.certificates.dns_provider = provider;
                        // Settings of another provider mean nothing to this one.
                        let allowed = provider.allowed_settings();
                        c.certificates
                            .dns_settings
                            .retain(|k, _| allowed.contains(&k.as_str()));
                    },
                )?;
                crate::note!(
                    "  `homelab bootstrap` reads the {} credentials from {} (they never go into homelab.yaml or git).",
                    provider.as_str(),
                    provider.credential_env().join(" and ")
                );
                Ok(())
            }
            Q::DnsSetting(ref key) => {
                let provider = self.draft.certificates.dns_provider;
                let current = self
                    .draft
                    .certificates
                    .dns_settings
                    .get(key)
                    .cloned()
                    .unwrap_or_default();
                let k = key.clone();
                self.text(
                    &q,
                    &format!("{} {key}", provider.as_str()),
                    or(&current, None),
                    &move |c, v| {
                        let value = v.trim().to_owned();
                        c.certificates.dns_settings.insert(k.clone(), value.clone());
                        Taken::plain(value)
                    },
                )
            }
            Q::Provisioner => self
                .choose_value(
                    &q,
                    "NFS provisioner",
                    self.draft.storage.provisioner,
                    &|c, provisioner| c.storage.provisioner = provisioner,
                )
                .map(drop),
            Q::NfsServer => {
                let default = or(&self.draft.storage.nfs_server, None);
                self.text(
                    &q,
                    "NFS server (IP or hostname; server:/export sets the path too)",
                    default,
                    &|c, v| {
                        let (server, path) = normalize::nfs_server(v);
                        c.storage.nfs_server = server.clone();
                        match path {
                            Some(path) => {
                                c.storage.nfs_path = path.clone();
                                Taken {
                                    shown: format!("server {server}, export path {path}"),
                                    also: vec![Q::NfsPath.path()],
                                }
                            }
                            None => Taken::plain(server),
                        }
                    },
                )
            }
            Q::NfsPath => {
                let default = or(
                    &self.draft.storage.nfs_path,
                    Some("/srv/nfs/kubernetes".into()),
                );
                self.text(&q, "NFS export path", default, &|c, v| {
                    c.storage.nfs_path = v.trim().to_owned();
                    Taken::plain(&c.storage.nfs_path)
                })
            }
            Q::StorageClass => {
                let default = or(&self.draft.storage.storage_class, Some("nfs".into()));
                self.text(&q, "StorageClass name", default, &|c, v| {
                    c.storage.storage_class = normalize::name(v);
                    Taken::plain(&c.storage.storage_class)
                })
            }
            Q::DefaultClass => {
                let answer = self.confirm(
                    "Make it the default StorageClass?",
                    self.draft.storage.default_class,
                )?;
                self.draft.storage.default_class = answer;
                self.mark(&q.path());
                Ok(())
            }
            Q::GitUrl => {
                crate::note!(
                    "Flux in the cluster pulls the repository from the git remote: give an ssh:// or https:// URL it can reach (a local path or file:// URL can be pushed to, but not bootstrapped from)."
                );
                let default = Some(self.draft.git.url.clone());
                self.text(
                    &q,
                    "Git remote URL (empty: local repository only)",
                    default,
                    &|c, v| {
                        c.git.url = v.trim().to_owned();
                        Taken::plain(crate::config::git_url::redact(&c.git.url))
                    },
                )?;
                let url = &self.draft.git.url;
                if !url.is_empty()
                    && let Err(why) = crate::bootstrap::cluster_secrets::parse_remote(url)
                {
                    crate::note!(
                        "{} {}; homelab can push there, but `homelab init` will not bootstrap",
                        style::yellow("note:"),
                        why.message
                    );
                }
                Ok(())
            }
            Q::GitBranch => {
                let default = or(&self.draft.git.branch, Some("main".into()));
                self.text(&q, "Git branch", default, &|c, v| {
                    c.git.branch = v.trim().to_owned();
                    Taken::plain(&c.git.branch)
                })
            }
            Q::FluxVersion => {
                let default = or(&self.draft.flux.version, None);
                self.text(&q, "Flux version", default, &|c, v| {
                    c.flux.version = v.trim().to_owned();
                    Taken::plain(&c.flux.version)
                })
            }
            Q::FluxComponents => self.flux_components(),
            Q::Context => {
                let mut items: Vec<String> = self
                    .contexts
                    .iter()
                    .map(|(name, server)| format!("{name}  ({server})"))
                    .collect();
                items.push("none: do not bootstrap now".to_owned());
                let refs: Vec<&str> = items.iter().map(String::as_str).collect();
                let default = self
                    .context
                    .as_ref()
                    .and_then(|c| self.contexts.iter().position(|(name, _)| name == c))
                    .unwrap_or(0);
                let i =
                    self.select("Bootstrap Flux into which cluster context?", &refs, default)?;
                self.context = self.contexts.get(i).map(|(name, _)| name.clone());
                self.mark(CONTEXT_PATH);
                Ok(())
            }
        }
    }

    /// The node list: each node's name, address and role, until there is no other; then
    /// the list's own rule (a control-plane node) is checked at once.
    fn nodes(&mut self) -> Result<()> {
        crate::note!(
            "Node names must be the machines' Kubernetes node names (on k3s, their hostnames)."
        );
        let mut i = 0;
        loop {
            if i >= self.draft.nodes.len() {
                self.draft.nodes.push(Node {
                    name: String::new(),
                    address: String::new(),
                    role: NodeRole::Worker,
                });
            }
            self.ask_open(Q::NodeName(i))?;
            self.ask_open(Q::NodeAddress(i))?;
            self.ask_open(Q::NodeRole(i))?;
            let more = i + 1 < self.draft.nodes.len();
            if !self.confirm("Add another node?", more)? {
                break;
            }
            i += 1;
        }
        // Nodes beyond the last one kept (from a draft or the existing file) are gone.
        self.draft.nodes.truncate(i + 1);
        let beyond = |p: &String| {
            p.strip_prefix("nodes[")
                .and_then(|r| r.split_once(']'))
                .and_then(|(n, _)| n.parse::<usize>().ok())
                .is_some_and(|n| n > i)
        };
        self.answered.retain(|p| !beyond(p));
        self.settled.retain(|p| !beyond(p));
        self.save();

        let missing_control_plane = validate(&self.draft).iter().any(|d| d.path == "nodes");
        if missing_control_plane {
            self.show_error(
                "None of these nodes runs the Kubernetes control plane, and one must (on k3s: a server).",
            );
            self.ask(Q::ControlPlane)?;
        }
        self.mark("nodes");
        Ok(())
    }

    fn flux_components(&mut self) -> Result<()> {
        let path = Q::FluxComponents.path();
        let mut checked: Vec<bool> = FLUX_COMPONENTS
            .iter()
            .map(|c| self.draft.flux.components.iter().any(|d| d == c))
            .collect();
        loop {
            let chosen = MultiSelect::with_theme(self.theme.as_ref())
                .with_prompt("Flux components (space toggles, Enter accepts)")
                .items(FLUX_COMPONENTS)
                .defaults(&checked)
                .interact()
                .map_err(|e| self.prompt_failed(e))?;
            let mut candidate = self.draft.clone();
            candidate.flux.components = chosen
                .iter()
                .map(|&i| FLUX_COMPONENTS[i].to_owned())
                .collect();
            let problems = self.problems(&candidate, std::slice::from_ref(&path));
            if problems.is_empty() {
                self.draft = candidate;
                self.mark(&path);
                return Ok(());
            }
            self.show_error(&self.explain(&problems, &path));
            checked = (0..FLUX_COMPONENTS.len())
                .map(|i| chosen.contains(&i))
                .collect();
        }
    }

    // ---------------------------------------------------------------------------------
    // The end: the whole configuration, and changes.

    /// Check the whole configuration; ask again each question a remaining problem is about
    /// (answers resumed from a draft or taken from an existing file were not all checked
    /// together).
    fn settle_final(&mut self) -> Result<()> {
        loop {
            let problems = validate(&self.draft);
            let Some(first) = problems.first() else {
                return Ok(());
            };
            let Some(q) = Q::of_path(&first.path, &self.draft) else {
                let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
                return Err(self.stopped(
                    Error::usage(format!(
                        "the answers cannot make a valid homelab.yaml:\n{}",
                        lines.join("\n")
                    ))
                    .with_hint(format!(
                        "fix these keys in {} and run `homelab render`",
                        self.dir.join(CONFIG_FILE).display()
                    )),
                ));
            };
            let path = first.path.clone();
            let same: Vec<Diagnostic> = problems
                .iter()
                .filter(|d| Q::of_path(&d.path, &self.draft).as_ref() == Some(&q))
                .cloned()
                .collect();
            self.show_error(&self.explain(&same, ""));
            self.unsettle(&q);
            self.must_clear = Some(path);
            let asked = self.ask(q);
            self.must_clear = None;
            asked?;
        }
    }

    /// Let the user pick an answer to change, and ask it again.
    fn change(&mut self) -> Result<()> {
        let d = &self.draft;
        let mut entries: Vec<(String, Q)> = vec![
            (format!("cluster name: {}", d.cluster.name), Q::ClusterName),
            (format!("domain: {}", d.cluster.domain), Q::Domain),
        ];
        let nodes: Vec<String> = d
            .nodes
            .iter()
            .map(|n| format!("{} {}", n.name, n.address))
            .collect();
        entries.push((format!("nodes: {}", nodes.join(", ")), Q::Nodes));
        entries.push((format!("LAN: {}", d.network.node_cidr), Q::NodeCidr));
        entries.push((
            format!(
                "load-balancer pool: {}",
                d.network.loadbalancer_pool.join(", ")
            ),
            Q::Pool,
        ));
        entries.push((
            format!("ingress address: {}", d.network.ingress_address),
            Q::IngressAddress,
        ));
        entries.push((
            format!("ingress controller: {}", d.ingress.controller.as_str()),
            Q::IngressController,
        ));
        entries.push((
            format!("certificates: {}", d.certificates.challenge.as_str()),
            Q::Challenge,
        ));
        if d.certificates.challenge != Challenge::Selfsigned {
            entries.push((format!("email: {}", d.certificates.email), Q::Email));
        }
        if d.certificates.challenge == Challenge::Dns01 {
            entries.push((
                format!("DNS provider: {}", d.certificates.dns_provider.as_str()),
                Q::DnsProvider,
            ));
            for (key, value) in &d.certificates.dns_settings {
                entries.push((format!("{key}: {value}"), Q::DnsSetting(key.clone())));
            }
        }
        entries.push((
            format!("NFS: {}:{}", d.storage.nfs_server, d.storage.nfs_path),
            Q::NfsServer,
        ));
        entries.push((
            format!("NFS export path: {}", d.storage.nfs_path),
            Q::NfsPath,
        ));
        entries.push((
            format!("StorageClass: {}", d.storage.storage_class),
            Q::StorageClass,
        ));
        entries.push((
            format!("git remote: {}", crate::config::git_url::redact(&d.git.url)),
            Q::GitUrl,
        ));
        entries.push((format!("git branch: {}", d.git.branch), Q::GitBranch));
        entries.push((
            format!("Flux components: {}", d.flux.components.join(", ")),
            Q::FluxComponents,
        ));
        if !self.contexts.is_empty() {
            entries.push((
                format!(
                    "bootstrap context: {}",
                    self.context.as_deref().unwrap_or("none")
                ),
                Q::Context,
            ));
        }
        let items: Vec<&str> = entries.iter().map(|(label, _)| label.as_str()).collect();
        let i = self.select("Which answer?", &items, 0)?;
        let q = entries[i].1.clone();
        self.unsettle(&q);
        self.ask(q)
    }

    // ---------------------------------------------------------------------------------
    // Asking.

    /// Ask for text at `q`'s path; the answer, as `apply` reads it into a copy of the
    /// configuration, must cause no problem. The reading is shown when it differs from what
    /// was typed.
    fn text(
        &mut self,
        q: &Q,
        prompt: &str,
        default: Option<String>,
        apply: Apply<'_>,
    ) -> Result<()> {
        let path = q.path();
        let mut input = Input::<String>::with_theme(self.theme.as_ref()).with_prompt(prompt);
        input = match default {
            Some(default) => input.default(default),
            None => input.allow_empty(false),
        };
        let answer = input
            .validate_with(|value: &String| -> std::result::Result<(), String> {
                let mut candidate = self.draft.clone();
                let taken = apply(&mut candidate, value);
                let mut asking = vec![path.clone()];
                asking.extend(taken.also);
                let problems = self.problems(&candidate, &asking);
                if problems.is_empty() {
                    Ok(())
                } else {
                    Err(self.explain(&problems, &path))
                }
            })
            .interact_text()
            .map_err(|e| self.prompt_failed(e))?;
        let taken = apply(&mut self.draft, &answer);
        if taken.shown != answer.trim() {
            crate::note!("  → {}", taken.shown);
        }
        for also in &taken.also {
            self.answered.insert(also.clone());
            self.settled.insert(also.clone());
        }
        self.mark(&path);
        Ok(())
    }

    /// Ask a choice at `q`'s path; a choice that causes a problem is explained and asked
    /// again. Returns the index chosen.
    fn choose(
        &mut self,
        q: &Q,
        prompt: &str,
        items: &[&str],
        default: usize,
        apply: &dyn Fn(&mut Config, usize),
    ) -> Result<usize> {
        let path = q.path();
        let mut default = default;
        loop {
            let choice = self.select(prompt, items, default)?;
            let mut candidate = self.draft.clone();
            apply(&mut candidate, choice);
            let problems = self.problems(&candidate, std::slice::from_ref(&path));
            if problems.is_empty() {
                self.draft = candidate;
                self.mark(&path);
                return Ok(choice);
            }
            self.show_error(&self.explain(&problems, &path));
            default = choice;
        }
    }

    /// [`Self::choose`] among values, each with its label; the current value is the
    /// default. Returns the value chosen.
    fn choose_one<T: Copy + PartialEq>(
        &mut self,
        q: &Q,
        prompt: &str,
        options: &[(T, &str)],
        current: T,
        set: &dyn Fn(&mut Config, T),
    ) -> Result<T> {
        let default = options.iter().position(|(v, _)| *v == current).unwrap_or(0);
        let labels: Vec<&str> = options.iter().map(|(_, label)| *label).collect();
        let i = self.choose(q, prompt, &labels, default, &|c, i| set(c, options[i].0))?;
        Ok(options[i].0)
    }

    /// [`Self::choose_one`] among every value of a [`Choice`], each labelled with its name
    /// in `homelab.yaml` and what it means (its doc comment).
    fn choose_value<T: Choice>(
        &mut self,
        q: &Q,
        prompt: &str,
        current: T,
        set: &dyn Fn(&mut Config, T),
    ) -> Result<T> {
        let labels: Vec<String> = T::all()
            .iter()
            .map(|v| {
                let meaning = v.description();
                format!("{} - {}", v.as_str(), meaning.trim_end_matches('.'))
            })
            .collect();
        let options: Vec<(T, &str)> = T::all()
            .iter()
            .copied()
            .zip(labels.iter().map(String::as_str))
            .collect();
        self.choose_one(q, prompt, &options, current, set)
    }

    fn select(&self, prompt: &str, items: &[&str], default: usize) -> Result<usize> {
        Select::with_theme(self.theme.as_ref())
            .with_prompt(prompt)
            .items(items)
            .default(default.min(items.len().saturating_sub(1)))
            .interact()
            .map_err(|e| self.prompt_failed(e))
    }

    fn confirm(&self, prompt: &str, default: bool) -> Result<bool> {
        Confirm::with_theme(self.theme.as_ref())
            .with_prompt(prompt)
            .default(default)
            .interact()
            .map_err(|e| self.prompt_failed(e))
    }

    // ---------------------------------------------------------------------------------
    // Rules, messages, state.

    /// The problems `candidate` has that the answer being given must clear: every problem
    /// on the paths being answered, and new problems on paths answered before (an answer
    /// must not break an earlier one; problems it did not cause are asked about on their
    /// own).
    fn problems(&self, candidate: &Config, asking: &[String]) -> Vec<Diagnostic> {
        fn on<'p>(mut paths: impl Iterator<Item = &'p String>, d: &Diagnostic) -> bool {
            paths.any(|p| d.path.starts_with(p.as_str()))
        }
        let before = validate(&self.draft);
        validate(candidate)
            .into_iter()
            .filter(|d| {
                on(asking.iter().chain(self.must_clear.iter()), d)
                    || (on(self.answered.iter(), d) && !before.contains(d))
            })
            .collect()
    }

    fn explain(&self, problems: &[Diagnostic], asking: &str) -> String {
        let lines: Vec<String> = problems.iter().map(|d| speak::explain(d, asking)).collect();
        lines.join("\n")
    }

    fn show_error(&self, message: &str) {
        let mut out = String::new();
        let _ = self.theme.format_error(&mut out, message);
        crate::note!("{out}");
    }

    /// Record an answer and save the draft.
    fn mark(&mut self, path: &str) {
        self.answered.insert(path.to_owned());
        self.settled.insert(path.to_owned());
        self.save();
    }

    /// Ask `q` again in this pass.
    fn unsettle(&mut self, q: &Q) {
        let path = q.path();
        if *q == Q::Nodes {
            self.settled.retain(|p| !p.starts_with("nodes"));
        } else {
            self.settled.remove(&path);
        }
    }

    fn save(&mut self) {
        let Some(store) = &self.store else {
            return;
        };
        let draft = Draft::new(
            self.dir,
            self.answered.iter().cloned().collect(),
            self.draft.clone(),
            self.context.clone(),
        );
        match store.save(&draft) {
            Ok(()) => self.saved = true,
            Err(e) if !self.save_warned => {
                self.save_warned = true;
                crate::note!(
                    "{} cannot save the answers to {} ({e}); they will be lost if the wizard stops",
                    style::yellow("warning:"),
                    store.path().display()
                );
            }
            Err(_) => {}
        }
    }

    /// An error that ends the wizard, with where the answers are kept.
    fn stopped(&self, err: Error) -> Error {
        match (&self.store, self.saved, &err.hint) {
            (Some(store), true, None) => err.with_hint(format!(
                "your answers are saved in {}; `homelab init` offers to resume them",
                store.path().display()
            )),
            _ => err,
        }
    }

    fn prompt_failed(&self, err: dialoguer::Error) -> Error {
        let dialoguer::Error::IO(io) = err;
        let err = if io.kind() == std::io::ErrorKind::Interrupted {
            Error::usage("aborted; nothing was written")
        } else {
            Error::failed(format!("cannot read the answer from the terminal: {io}"))
        };
        self.stopped(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_node_name_continues_the_series() {
        assert_eq!(next_name("nuc1"), "nuc2");
        assert_eq!(next_name("node-09"), "node-10");
        assert_eq!(next_name("pi99"), "pi100");
        assert_eq!(next_name("pi"), "pi-2");
        assert_eq!(next_name(""), "-2");
    }

    #[test]
    fn the_next_address_follows_the_previous() {
        assert_eq!(
            next_address("192.168.1.10").as_deref(),
            Some("192.168.1.11")
        );
        assert_eq!(next_address("255.255.255.255"), None);
        assert_eq!(next_address("nas"), None);
    }

    #[test]
    fn every_path_the_validator_reports_has_a_question() {
        let cfg = crate::catalog::parse_config(include_str!("../../../examples/full.yaml"))
            .expect("example");
        for path in [
            "cluster.name",
            "cluster.domain",
            "nodes[1].address",
            "nodes[0].name",
            "nodes[2].role",
            "network.node_cidr",
            "network.loadbalancer_pool[3]",
            "network.ingress_address",
            "ingress.controller",
            "certificates.email",
            "certificates.challenge",
            "certificates.dns_provider",
            "certificates.dns_settings.region",
            "certificates.dns_settings.api_token",
            "storage.nfs_server",
            "storage.nfs_path",
            "storage.storage_class",
            "git.url",
            "git.branch",
            "flux.version",
            "flux.components[1]",
        ] {
            let q = Q::of_path(path, &cfg).unwrap_or_else(|| panic!("no question for {path}"));
            let asked = q.path();
            assert!(
                path.starts_with(&asked) || asked.starts_with("certificates.dns_provider"),
                "{path} is asked as {asked}"
            );
        }
        assert_eq!(Q::of_path("nodes", &cfg), Some(Q::ControlPlane));
        assert_eq!(
            Q::of_path("certificates.dns_settings.api_token", &cfg),
            Some(Q::DnsProvider)
        );
        assert_eq!(Q::of_path("apps[0].host", &cfg), None);
    }

    #[test]
    fn changes_are_listed_by_key_path() {
        let old = crate::catalog::parse_config(include_str!("../../../examples/homelab.yaml"))
            .expect("example");
        let mut new = old.clone();
        assert!(changed_paths(&old, &new).is_empty());
        new.cluster.domain = "lab.example.org".into();
        new.nodes[1].address = "192.168.1.12".into();
        new.flux.components.pop();
        assert_eq!(
            changed_paths(&old, &new),
            ["cluster.domain", "flux.components", "nodes[1].address"]
        );
    }
}
