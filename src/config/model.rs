//! The serde model of `homelab.yaml`. Field names are the file's contract: users and tests
//! depend on them, and the README's configuration reference documents each one.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The file name of the configuration, at the repository root.
pub const CONFIG_FILE: &str = "homelab.yaml";

/// The configuration format versions this binary understands.
pub const SUPPORTED_VERSIONS: &[u32] = &[1];

/// The whole of `homelab.yaml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub version: u32,
    pub cluster: Cluster,
    pub nodes: Vec<Node>,
    pub network: Network,
    #[serde(default)]
    pub ingress: Ingress,
    pub certificates: Certificates,
    pub storage: Storage,
    #[serde(default)]
    pub git: Git,
    #[serde(default)]
    pub flux: Flux,
    /// Where charts are fetched from; upstream unless a mirror is set.
    #[serde(default, skip_serializing_if = "Charts::is_default")]
    pub charts: Charts,
    #[serde(default)]
    pub apps: Vec<App>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cluster {
    /// DNS-1123 label; the Flux path is `clusters/<name>`.
    pub name: String,
    /// Apps are served at `<app>.<domain>`.
    pub domain: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum NodeRole {
    ControlPlane,
    #[default]
    Worker,
}

impl NodeRole {
    /// The names accepted in `homelab.yaml`, in declaration order.
    pub const NAMES: &'static [&'static str] = &["control-plane", "worker"];
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Node {
    pub name: String,
    pub address: String,
    #[serde(default)]
    pub role: NodeRole,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Network {
    pub node_cidr: String,
    /// MetalLB addresses: ranges `a-b` and/or CIDRs.
    pub loadbalancer_pool: Vec<String>,
    /// The fixed LoadBalancer IP of the ingress controller.
    pub ingress_address: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum IngressController {
    #[default]
    Traefik,
    EnvoyGateway,
}

impl IngressController {
    /// The names accepted in `homelab.yaml`, in declaration order.
    pub const NAMES: &'static [&'static str] = &["traefik", "envoy-gateway"];
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Ingress {
    #[serde(default)]
    pub controller: IngressController,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum AcmeServer {
    #[default]
    Production,
    Staging,
}

impl AcmeServer {
    /// The names accepted in `homelab.yaml`, in declaration order.
    pub const NAMES: &'static [&'static str] = &["production", "staging"];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Challenge {
    #[default]
    Dns01,
    Http01,
    Selfsigned,
}

impl Challenge {
    /// The names accepted in `homelab.yaml`, in declaration order.
    pub const NAMES: &'static [&'static str] = &["dns01", "http01", "selfsigned"];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum DnsProvider {
    #[default]
    Cloudflare,
    Route53,
    Digitalocean,
    Clouddns,
    Azuredns,
    Rfc2136,
}

impl DnsProvider {
    pub const ALL: [DnsProvider; 6] = [
        DnsProvider::Cloudflare,
        DnsProvider::Route53,
        DnsProvider::Digitalocean,
        DnsProvider::Clouddns,
        DnsProvider::Azuredns,
        DnsProvider::Rfc2136,
    ];

    /// The names accepted in `homelab.yaml`, in declaration order.
    pub const NAMES: &'static [&'static str] = &[
        "cloudflare",
        "route53",
        "digitalocean",
        "clouddns",
        "azuredns",
        "rfc2136",
    ];

    /// Everything homelab knows about this provider: its row of [`crate::config::dns::PROVIDERS`].
    pub fn spec(self) -> &'static crate::config::dns::Provider {
        crate::config::dns::spec(self)
    }

    /// The environment variables `bootstrap` may read the provider's credentials from; they
    /// never appear in `homelab.yaml`. For clouddns the variable holds the path of the
    /// service-account key file, not the key itself.
    pub fn credential_env(self) -> Vec<&'static str> {
        self.spec().credentials.iter().map(|c| c.env).collect()
    }

    /// The name used in `homelab.yaml`.
    pub fn as_str(self) -> &'static str {
        match self {
            DnsProvider::Cloudflare => "cloudflare",
            DnsProvider::Route53 => "route53",
            DnsProvider::Digitalocean => "digitalocean",
            DnsProvider::Clouddns => "clouddns",
            DnsProvider::Azuredns => "azuredns",
            DnsProvider::Rfc2136 => "rfc2136",
        }
    }

    /// The non-secret `dns_settings` keys this provider requires.
    pub fn required_settings(self) -> Vec<&'static str> {
        let settings = self.spec().settings.iter();
        settings.filter(|s| s.required).map(|s| s.key).collect()
    }

    /// The `dns_settings` keys this provider accepts (required and optional).
    pub fn allowed_settings(self) -> Vec<&'static str> {
        self.spec().settings.iter().map(|s| s.key).collect()
    }

    /// The Secret (in the cert-manager namespace) holding the provider's credentials.
    /// Templates reference it by name; `bootstrap` creates it.
    pub fn secret_name(self) -> &'static str {
        self.spec().secret
    }

    /// The keys of [`Self::secret_name`] with these settings: exactly the keys the solver
    /// references and `bootstrap` writes.
    pub fn secret_keys(self, settings: &BTreeMap<String, String>) -> Vec<&'static str> {
        self.spec().secret_keys(settings)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Certificates {
    pub email: String,
    #[serde(default)]
    pub acme_server: AcmeServer,
    #[serde(default)]
    pub challenge: Challenge,
    #[serde(default)]
    pub dns_provider: DnsProvider,
    /// The provider's non-secret settings, e.g. route53: {region, hosted_zone_id}.
    #[serde(default)]
    pub dns_settings: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Provisioner {
    #[default]
    CsiDriverNfs,
    NfsSubdirExternalProvisioner,
}

impl Provisioner {
    /// The names accepted in `homelab.yaml`, in declaration order.
    pub const NAMES: &'static [&'static str] =
        &["csi-driver-nfs", "nfs-subdir-external-provisioner"];
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Storage {
    #[serde(default)]
    pub provisioner: Provisioner,
    pub nfs_server: String,
    pub nfs_path: String,
    #[serde(default = "default_storage_class")]
    pub storage_class: String,
    #[serde(default = "default_true")]
    pub default_class: bool,
    /// A node-local StorageClass the cluster already has (k3s ships `local-path`), for the
    /// apps whose data is a database that does not belong on NFS. Unset: NFS for everything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_class: Option<String>,
}

fn default_storage_class() -> String {
    "nfs".to_owned()
}

fn default_true() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Git {
    /// May be empty: local repository only.
    #[serde(default)]
    pub url: String,
    #[serde(default = "default_branch")]
    pub branch: String,
}

impl Default for Git {
    fn default() -> Self {
        Self {
            url: String::new(),
            branch: default_branch(),
        }
    }
}

fn default_branch() -> String {
    "main".to_owned()
}

/// Flux components that `flux install` knows; the first four are the defaults.
pub const FLUX_COMPONENTS: &[&str] = &[
    "source-controller",
    "kustomize-controller",
    "helm-controller",
    "notification-controller",
    "image-reflector-controller",
    "image-automation-controller",
    "source-watcher",
];

/// The Flux version rendered by default.
pub const DEFAULT_FLUX_VERSION: &str = "v2.9.4";

/// The oldest Flux the rendered repository works with: it uses OCIRepository
/// `source.toolkit.fluxcd.io/v1`, which became stable in Flux v2.6.0.
pub const MIN_FLUX_VERSION: (u64, u64, u64) = (2, 6, 0);

/// Components the rendered repository cannot work without: Flux's sync needs the
/// source and kustomize controllers, and every infrastructure controller is a HelmRelease.
pub const REQUIRED_FLUX_COMPONENTS: &[&str] = &[
    "source-controller",
    "kustomize-controller",
    "helm-controller",
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Flux {
    #[serde(default = "default_flux_version")]
    pub version: String,
    #[serde(default = "default_components")]
    pub components: Vec<String>,
}

impl Default for Flux {
    fn default() -> Self {
        Self {
            version: default_flux_version(),
            components: default_components(),
        }
    }
}

fn default_flux_version() -> String {
    DEFAULT_FLUX_VERSION.to_owned()
}

fn default_components() -> Vec<String> {
    FLUX_COMPONENTS[..4]
        .iter()
        .map(|c| (*c).to_owned())
        .collect()
}

/// Where the cluster fetches Helm charts from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Charts {
    /// Every chart source, infrastructure and apps, rewritten to a mirror (air-gapped
    /// networks, registry rate limits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirror: Option<Mirror>,
}

impl Charts {
    fn is_default(&self) -> bool {
        *self == Charts::default()
    }
}

/// A chart mirror: one Helm repository serving every chart that upstream publishes in a Helm
/// repository, and one OCI registry prefix under which the OCI charts keep their upstream
/// paths (`oci://quay.io/jetstack/charts/cert-manager` → `<oci_registry>/jetstack/charts/cert-manager`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Mirror {
    /// `http(s)://…` Helm repository (its `index.yaml` lists every chart), or `oci://…`
    /// where each chart is `<helm_repository>/<chart>`. Unset: upstream Helm repositories.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub helm_repository: Option<String>,
    /// `oci://host[:port][/path]`, the prefix of the OCI charts. Unset: upstream registries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oci_registry: Option<String>,
    /// A PEM file (relative to the repository, or absolute) with the CA that signed the
    /// mirror's certificate; `bootstrap` stores it in the cluster for Flux to trust.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    /// The OCI registry speaks plain HTTP.
    #[serde(default, skip_serializing_if = "is_false")]
    pub insecure: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// An installed app, recorded by `homelab add-app` with its non-secret answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct App {
    /// The catalog profile's name.
    pub name: String,
    pub namespace: String,
    pub host: String,
    /// Answers to the profile's questions (never secrets).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub settings: BTreeMap<String, String>,
}
