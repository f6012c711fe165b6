//! The `homelab init` wizard: asks for every field of `homelab.yaml` on a terminal, with
//! defaults derived from earlier answers, and re-asks until each answer is valid.
//!
//! Each answer is checked by the same validator that checks `homelab.yaml` files: the
//! answer is put into a draft configuration and every diagnostic on an answered field is
//! shown, so cross-field rules (an address inside the node CIDR, outside the pool…) apply
//! while typing and the wizard can never accept what `--config` would reject.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use dialoguer::theme::{ColorfulTheme, SimpleTheme, Theme};
use dialoguer::{Confirm, Input, MultiSelect, Select};

use crate::config::validate::{to_yaml, validate};
use crate::config::{
    AcmeServer, App, Certificates, Challenge, Choice, Cluster, Config, DnsProvider,
    FLUX_COMPONENTS, Flux, Git, Ingress, IngressController, Network, Node, NodeRole, Provisioner,
    Storage,
};
use crate::error::{Error, Result};

/// Why the wizard stopped without a configuration.
fn aborted(err: &dialoguer::Error) -> Error {
    let dialoguer::Error::IO(io) = err;
    if io.kind() == std::io::ErrorKind::Interrupted {
        Error::usage("aborted; nothing was written")
    } else {
        Error::failed(format!("cannot read the answer from the terminal: {io}"))
    }
}

/// A configuration with every field empty or at its default, filled in by the wizard.
fn empty_draft() -> Config {
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

/// The wizard's state: the draft and which key paths have been answered.
struct Wizard {
    draft: Config,
    answered: Vec<String>,
    theme: Box<dyn Theme>,
}

impl Wizard {
    /// Diagnostics on answered paths (and `path`) if `apply` were applied to the draft.
    fn problems(&self, path: &str, apply: &dyn Fn(&mut Config)) -> Option<String> {
        let mut candidate = self.draft.clone();
        apply(&mut candidate);
        let relevant: Vec<String> = validate(&candidate)
            .into_iter()
            .filter(|d| {
                d.path.starts_with(path)
                    || self.answered.iter().any(|a| d.path.starts_with(a.as_str()))
            })
            .map(|d| d.to_string())
            .collect();
        if relevant.is_empty() {
            None
        } else {
            Some(relevant.join("\n"))
        }
    }

    /// Ask for a string at `path`, validated against the whole draft, then store it.
    fn text(
        &mut self,
        path: &str,
        prompt: &str,
        default: Option<String>,
        set: impl Fn(&mut Config, String) + Clone,
    ) -> Result<String> {
        let mut input = Input::<String>::with_theme(self.theme.as_ref()).with_prompt(prompt);
        if let Some(default) = default {
            input = input.default(default);
        } else {
            input = input.allow_empty(false);
        }
        let set_check = set.clone();
        let answer = input
            .validate_with(|value: &String| -> std::result::Result<(), String> {
                let value = value.trim().to_owned();
                match self.problems(path, &|c| set_check(c, value.clone())) {
                    Some(problems) => Err(problems),
                    None => Ok(()),
                }
            })
            .interact_text()
            .map_err(|e| aborted(&e))?;
        let answer = answer.trim().to_owned();
        set(&mut self.draft, answer.clone());
        self.answered.push(path.to_owned());
        Ok(answer)
    }

    fn select(&self, prompt: &str, items: &[&str], default: usize) -> Result<usize> {
        Select::with_theme(self.theme.as_ref())
            .with_prompt(prompt)
            .items(items)
            .default(default)
            .interact()
            .map_err(|e| aborted(&e))
    }

    /// Ask for one of `T`'s values, each shown with its name and description.
    fn choose<T: Choice>(&self, prompt: &str, default: T) -> Result<T> {
        let labels: Vec<String> = T::all()
            .iter()
            .map(|v| format!("{} - {}", v.as_str(), v.description()))
            .collect();
        let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
        let default = T::all().iter().position(|v| *v == default).unwrap_or(0);
        Ok(T::all()[self.select(prompt, &labels, default)?])
    }

    fn confirm(&self, prompt: &str, default: bool) -> Result<bool> {
        Confirm::with_theme(self.theme.as_ref())
            .with_prompt(prompt)
            .default(default)
            .interact()
            .map_err(|e| aborted(&e))
    }
}

/// The /24 around an address, as a default node CIDR.
fn cidr_around(address: &str) -> Option<String> {
    let ip: Ipv4Addr = address.parse().ok()?;
    let [a, b, c, _] = ip.octets();
    Some(format!("{a}.{b}.{c}.0/24"))
}

/// Run the wizard. `contexts` are the kubeconfig contexts (name, server) to offer for the
/// bootstrap; the chosen one is returned beside the configuration (None: skip bootstrap).
pub fn run(contexts: &[(String, String)]) -> Result<(Config, Option<String>)> {
    let theme: Box<dyn Theme> = if crate::ui::style::color() {
        Box::new(ColorfulTheme::default())
    } else {
        Box::new(SimpleTheme)
    };
    let mut w = Wizard {
        draft: empty_draft(),
        answered: Vec::new(),
        theme,
    };

    eprintln!(
        "Let's describe your homelab. Press Enter to take the [default]; Ctrl-C aborts without writing anything.\n"
    );

    w.text(
        "cluster.name",
        "Cluster name",
        Some("homelab".into()),
        |c, v| c.cluster.name = v,
    )?;
    let domain = w.text(
        "cluster.domain",
        "Domain (apps are served at <app>.<domain>)",
        None,
        |c, v| {
            c.cluster.domain = v;
        },
    )?;

    loop {
        let i = w.draft.nodes.len();
        let role_default = if i == 0 {
            NodeRole::ControlPlane
        } else {
            NodeRole::Worker
        };
        w.draft.nodes.push(Node {
            name: String::new(),
            address: String::new(),
            role: NodeRole::Worker,
        });
        let path = format!("nodes[{i}]");
        w.text(
            &format!("{path}.name"),
            &format!("Node {} name", i + 1),
            Some(format!("node-{}", i + 1)),
            move |c, v| {
                c.nodes[i].name = v;
            },
        )?;
        let previous = i
            .checked_sub(1)
            .and_then(|p| w.draft.nodes[p].address.parse::<Ipv4Addr>().ok());
        let next_address =
            previous.map(|ip| Ipv4Addr::from(u32::from(ip).wrapping_add(1)).to_string());
        w.text(
            &format!("{path}.address"),
            &format!("Node {} IP address", i + 1),
            next_address,
            move |c, v| {
                c.nodes[i].address = v;
            },
        )?;
        w.draft.nodes[i].role = w.choose(&format!("Node {} role", i + 1), role_default)?;
        w.answered.push(format!("{path}.role"));
        if !w.confirm("Add another node?", false)? {
            break;
        }
    }

    let cidr_default = cidr_around(&w.draft.nodes[0].address);
    w.text(
        "network.node_cidr",
        "LAN (node) CIDR",
        cidr_default,
        |c, v| c.network.node_cidr = v,
    )?;
    let addresses: Vec<String> = w.draft.nodes.iter().map(|n| n.address.clone()).collect();
    let pool_default =
        crate::config::validate::suggest_pool(&w.draft.network.node_cidr, &addresses);
    w.text(
        "network.loadbalancer_pool",
        "Load-balancer (MetalLB) addresses: ranges a-b or CIDRs, comma-separated",
        pool_default,
        |c, v| {
            c.network.loadbalancer_pool = v
                .split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        },
    )?;
    let first_pool_address = w
        .draft
        .network
        .loadbalancer_pool
        .first()
        .map(|e| e.split(['-', '/']).next().unwrap_or_default().to_owned());
    w.text(
        "network.ingress_address",
        "Ingress controller address (inside the pool)",
        first_pool_address,
        |c, v| {
            c.network.ingress_address = v;
        },
    )?;

    w.draft.ingress.controller = w.choose("Ingress controller", IngressController::default())?;

    w.draft.certificates.challenge = w.choose("Certificates", Challenge::default())?;
    w.answered.push("certificates.challenge".into());
    if w.draft.certificates.challenge != Challenge::Selfsigned {
        w.text(
            "certificates.email",
            "Email for Let's Encrypt",
            Some(format!("admin@{domain}")),
            |c, v| {
                c.certificates.email = v;
            },
        )?;
        w.draft.certificates.acme_server =
            w.choose("Let's Encrypt server", AcmeServer::default())?;
    } else {
        w.draft.certificates.email = format!("admin@{domain}");
    }
    if w.draft.certificates.challenge == Challenge::Dns01 {
        let provider = w.choose("DNS provider", DnsProvider::default())?;
        w.draft.certificates.dns_provider = provider;
        for key in provider.required_settings() {
            let key = (*key).to_owned();
            let path = format!("certificates.dns_settings.{key}");
            let k = key.clone();
            w.text(
                &path,
                &format!("{} {key}", provider.as_str()),
                None,
                move |c, v| {
                    c.certificates.dns_settings.insert(k.clone(), v);
                },
            )?;
        }
        w.answered.push("certificates.dns_settings".into());
    }

    w.draft.storage.provisioner = w.choose("NFS provisioner", Provisioner::default())?;
    w.text(
        "storage.nfs_server",
        "NFS server (IP or hostname)",
        None,
        |c, v| c.storage.nfs_server = v,
    )?;
    w.text(
        "storage.nfs_path",
        "NFS export path",
        Some("/srv/nfs/kubernetes".into()),
        |c, v| c.storage.nfs_path = v,
    )?;
    w.text(
        "storage.storage_class",
        "StorageClass name",
        Some("nfs".into()),
        |c, v| c.storage.storage_class = v,
    )?;
    w.draft.storage.default_class = w.confirm("Make it the default StorageClass?", true)?;

    w.text(
        "git.url",
        "Git remote URL (empty: local repository only)",
        Some(String::new()),
        |c, v| c.git.url = v,
    )?;
    w.text("git.branch", "Git branch", Some("main".into()), |c, v| {
        c.git.branch = v
    })?;

    let defaults: Vec<bool> = FLUX_COMPONENTS
        .iter()
        .map(|c| w.draft.flux.components.iter().any(|d| d == c))
        .collect();
    let chosen = MultiSelect::with_theme(w.theme.as_ref())
        .with_prompt("Flux components (space toggles, Enter accepts)")
        .items(FLUX_COMPONENTS)
        .defaults(&defaults)
        .interact()
        .map_err(|e| aborted(&e))?;
    w.draft.flux.components = chosen
        .into_iter()
        .map(|i| FLUX_COMPONENTS[i].to_owned())
        .collect();

    let context = if contexts.is_empty() {
        None
    } else {
        let mut items: Vec<String> = contexts
            .iter()
            .map(|(name, server)| format!("{name}  ({server})"))
            .collect();
        items.push("none: do not bootstrap now".to_owned());
        let refs: Vec<&str> = items.iter().map(String::as_str).collect();
        let i = w.select("Bootstrap Flux into which cluster context?", &refs, 0)?;
        contexts.get(i).map(|(name, _)| name.clone())
    };

    let problems = validate(&w.draft);
    if !problems.is_empty() {
        let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
        return Err(Error::usage(lines.join("\n")).with_hint("run `homelab init` again"));
    }

    eprintln!("\nSummary (homelab.yaml):\n\n{}", to_yaml(&w.draft));
    if let Some(context) = &context {
        eprintln!("Flux will be bootstrapped into context {context}.");
    }
    if !w.confirm("Write this homelab?", true)? {
        return Err(Error::usage("aborted; nothing was written"));
    }
    Ok((w.draft, context))
}
