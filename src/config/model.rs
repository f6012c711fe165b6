//! The serde model of `homelab.yaml`. Field names are the file's contract: users and tests
//! depend on them, and the README's configuration reference documents each one.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::component::ComponentId;

/// The file name of the configuration, at the repository root.
pub const CONFIG_FILE: &str = "homelab.yaml";

/// The configuration format versions this binary understands.
pub const SUPPORTED_VERSIONS: &[u32] = &[1];

/// A closed set of names in `homelab.yaml` (`nodes[].role`, `certificates.challenge`, …).
///
/// Each such enum derives its names once, with strum, spelled as serde spells them (a test
/// holds the two to each other); validation, the JSON Schema, the wizard and messages all
/// read them from here, so a new variant needs no list updated by hand.
pub trait Choice:
    Copy
    + Eq
    + strum::VariantArray
    + strum::VariantNames
    + strum::EnumMessage
    + Into<&'static str>
    + 'static
{
    /// Every value, in declaration order.
    fn all() -> &'static [Self] {
        <Self as strum::VariantArray>::VARIANTS
    }

    /// The names accepted in `homelab.yaml`, in declaration order.
    fn names() -> &'static [&'static str] {
        <Self as strum::VariantNames>::VARIANTS
    }

    /// The name used in `homelab.yaml`.
    fn as_str(self) -> &'static str {
        self.into()
    }

    /// What the value means, from its doc comment on one line (the wizard shows it; the JSON
    /// Schema carries the same comment).
    fn description(self) -> String {
        let doc = self.get_documentation().unwrap_or_default();
        doc.split_whitespace().collect::<Vec<_>>().join(" ")
    }
}

/// Declares a [`Choice`] enum with the derives every one of them needs, written once. The
/// derives come first, so the `#[serde]` and `#[strum]` attributes given follow them.
macro_rules! choice {
    ($(#[$attr:meta])* $vis:vis enum $name:ident { $($body:tt)* }) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
        #[derive(strum::VariantArray, strum::VariantNames, strum::IntoStaticStr)]
        #[derive(strum::EnumMessage)]
        $(#[$attr])*
        $vis enum $name { $($body)* }

        impl Choice for $name {}
    };
}

/// A DNS-1123 label, for the JSON Schema (the rules pass checks it with a better message).
const DNS_LABEL: &str = "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$";
/// A DNS-1123 subdomain: labels joined by '.'.
const DNS_SUBDOMAIN: &str =
    "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$";
/// A domain of at least two labels.
const DOMAIN: &str = "^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\\.)+[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$";
/// An IPv4 CIDR.
const CIDR: &str = "^[0-9]{1,3}(\\.[0-9]{1,3}){3}/[0-9]{1,2}$";
/// A MetalLB pool entry: a range `a-b` or a CIDR.
const POOL_ENTRY: &str =
    "^[0-9]{1,3}(\\.[0-9]{1,3}){3}(-[0-9]{1,3}(\\.[0-9]{1,3}){3}|/[0-9]{1,2})$";

/// The settings of a homelab: `homelab.yaml`, at the root of its repository. `homelab init`
/// writes it, `homelab add-app` records apps in it, every command reads it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The format of this file; only 1 exists.
    #[schemars(extend("enum" = SUPPORTED_VERSIONS))]
    pub version: u32,
    /// The cluster's name and domain.
    pub cluster: Cluster,
    /// The machines of the cluster: at least one, one of them with role control-plane.
    pub nodes: Vec<Node>,
    /// The nodes' network and the addresses MetalLB hands out.
    pub network: Network,
    /// What serves the apps over HTTPS.
    #[serde(default)]
    pub ingress: Ingress,
    /// How the apps' certificates are issued.
    pub certificates: Certificates,
    /// Persistent volumes on an NFS share.
    pub storage: Storage,
    /// The git remote Flux pulls this repository from.
    #[serde(default)]
    pub git: Git,
    /// The Flux release and components installed.
    #[serde(default)]
    pub flux: Flux,
    /// Where charts are fetched from; upstream unless a mirror is set.
    #[serde(default, skip_serializing_if = "Charts::is_default")]
    pub charts: Charts,
    /// The installed apps; written by `homelab add-app`, edit with care.
    #[serde(default)]
    pub apps: Vec<App>,
}

/// The cluster's name and domain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Cluster {
    /// A DNS-1123 label (lowercase letters, digits and '-'); Flux syncs `clusters/<name>`.
    #[schemars(pattern(DNS_LABEL))]
    pub name: String,
    /// A DNS domain of at least two labels, without a trailing dot; apps are served at
    /// `<app>.<domain>`.
    #[schemars(pattern(DOMAIN), length(max = 253))]
    pub domain: String,
}

choice! {
    /// What a node runs.
    #[serde(rename_all = "kebab-case")]
    #[strum(serialize_all = "kebab-case")]
    pub enum NodeRole {
        /// Runs the Kubernetes control plane, and workloads (on k3s: a server).
        ControlPlane,
        /// Runs workloads only (on k3s: an agent).
        #[default]
        Worker,
    }
}

/// A machine of the cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Node {
    /// The node's name, a DNS-1123 subdomain as Kubernetes node names are; unique.
    #[schemars(pattern(DNS_SUBDOMAIN), length(max = 253))]
    pub name: String,
    /// The node's IPv4 address: inside network.node_cidr, outside the load-balancer pool;
    /// unique.
    #[schemars(ipv4)]
    pub address: String,
    /// What the node runs.
    #[serde(default)]
    pub role: NodeRole,
}

/// The nodes' network and the addresses MetalLB hands out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// The nodes' IPv4 network in canonical form (192.168.1.0/24), /30 or shorter.
    #[schemars(pattern(CIDR))]
    pub node_cidr: String,
    /// The addresses MetalLB hands to LoadBalancer Services: ranges `a-b` and/or CIDRs,
    /// inside node_cidr, not overlapping; keep them out of the router's DHCP range.
    #[schemars(length(min = 1), inner(pattern(POOL_ENTRY)))]
    pub loadbalancer_pool: Vec<String>,
    /// The fixed LoadBalancer IPv4 address of the ingress controller, inside the pool; point
    /// `*.<domain>` at it in DNS.
    #[schemars(ipv4)]
    pub ingress_address: String,
}

choice! {
    /// What serves the apps' HTTPS.
    #[serde(rename_all = "kebab-case")]
    #[strum(serialize_all = "kebab-case")]
    pub enum IngressController {
        /// Traefik, serving Kubernetes Ingresses.
        #[default]
        Traefik,
        /// Envoy Gateway, serving Gateway API HTTPRoutes through one Gateway.
        EnvoyGateway,
    }
}

impl IngressController {
    /// The infrastructure component that serves this choice.
    pub fn component(self) -> ComponentId {
        match self {
            IngressController::Traefik => ComponentId::Traefik,
            IngressController::EnvoyGateway => ComponentId::EnvoyGateway,
        }
    }
}

/// What serves the apps over HTTPS.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct Ingress {
    /// The ingress controller.
    #[serde(default)]
    pub controller: IngressController,
}

choice! {
    /// Which Let's Encrypt directory issues the certificates.
    #[serde(rename_all = "lowercase")]
    #[strum(serialize_all = "lowercase")]
    pub enum AcmeServer {
        /// Trusted certificates, strict rate limits.
        #[default]
        Production,
        /// Untrusted certificates, generous rate limits: for testing.
        Staging,
    }
}

choice! {
    /// How certificates are obtained.
    #[serde(rename_all = "lowercase")]
    #[strum(serialize_all = "lowercase")]
    pub enum Challenge {
        /// Let's Encrypt through a DNS record: works for LAN-only services and wildcards; needs
        /// your DNS provider's API credentials.
        #[default]
        Dns01,
        /// Let's Encrypt over port 80, which must be reachable from the internet; not with
        /// envoy-gateway.
        Http01,
        /// A self-signed internal CA: nothing leaves the LAN; browsers warn until you trust it.
        Selfsigned,
    }
}

choice! {
    /// The DNS service that holds `cluster.domain`, for DNS-01 challenges.
    #[derive(PartialOrd, Ord)]
    #[serde(rename_all = "lowercase")]
    #[strum(serialize_all = "lowercase")]
    pub enum DnsProvider {
        /// Cloudflare.
        #[default]
        Cloudflare,
        /// AWS Route 53.
        Route53,
        /// DigitalOcean.
        Digitalocean,
        /// Google Cloud DNS.
        Clouddns,
        /// Azure DNS.
        Azuredns,
        /// Any DNS server accepting RFC 2136 dynamic updates signed with TSIG.
        Rfc2136,
    }
}

impl DnsProvider {
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

/// How the apps' certificates are issued.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Certificates {
    /// The Let's Encrypt account's email address, which receives expiry notices.
    #[schemars(pattern("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$"))]
    pub email: String,
    /// The Let's Encrypt directory.
    #[serde(default)]
    pub acme_server: AcmeServer,
    /// How certificates are obtained.
    #[serde(default)]
    pub challenge: Challenge,
    /// The DNS service holding cluster.domain; used with challenge dns01 only.
    #[serde(default)]
    pub dns_provider: DnsProvider,
    /// The provider's non-secret settings, e.g. route53: {region, hosted_zone_id}. Never
    /// secrets: `homelab bootstrap` reads credentials from the environment.
    #[serde(default)]
    pub dns_settings: BTreeMap<String, String>,
}

choice! {
    /// What creates the NFS volumes.
    #[serde(rename_all = "kebab-case")]
    #[strum(serialize_all = "kebab-case")]
    pub enum Provisioner {
        /// The NFS CSI driver of Kubernetes SIG Storage.
        #[default]
        CsiDriverNfs,
        /// One directory of the share per volume, without CSI.
        NfsSubdirExternalProvisioner,
    }
}

impl Provisioner {
    /// The infrastructure component that serves this choice.
    pub fn component(self) -> ComponentId {
        match self {
            Provisioner::CsiDriverNfs => ComponentId::CsiDriverNfs,
            Provisioner::NfsSubdirExternalProvisioner => ComponentId::NfsSubdir,
        }
    }
}

/// Persistent volumes on an NFS share.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Storage {
    /// What creates the NFS volumes.
    #[serde(default)]
    pub provisioner: Provisioner,
    /// The NFS server: an IPv4 address or a hostname.
    pub nfs_server: String,
    /// The exported directory: an absolute path without empty, '.' or '..' parts.
    #[schemars(pattern("^/"))]
    pub nfs_path: String,
    /// The StorageClass name, a DNS-1123 subdomain.
    #[serde(default = "default_storage_class")]
    #[schemars(pattern(DNS_SUBDOMAIN))]
    pub storage_class: String,
    /// Make it the cluster's default StorageClass.
    #[serde(default = "default_true")]
    pub default_class: bool,
    /// A node-local StorageClass the cluster already has (k3s ships `local-path`), for the
    /// apps whose data is a database that does not belong on NFS. Unset: NFS for everything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(DNS_SUBDOMAIN))]
    pub local_class: Option<String>,
}

fn default_storage_class() -> String {
    "nfs".to_owned()
}

fn default_true() -> bool {
    true
}

/// The git remote Flux pulls this repository from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Git {
    /// `ssh://…`, `user@host:path`, `https://…`, `git://…`, `file:///…` or a path; empty for
    /// a local repository only. Never a password or token: export HOMELAB_GIT_TOKEN.
    #[serde(default)]
    pub url: String,
    /// The branch Flux follows.
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

/// The Flux release and components installed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Flux {
    /// A Flux v2 release `vX.Y.Z`, v2.6.0 or later.
    #[serde(default = "default_flux_version")]
    #[schemars(pattern("^v2\\.[0-9]+\\.[0-9]+(-[0-9A-Za-z.]+)?$"))]
    pub version: String,
    /// The Flux controllers installed; source-, kustomize- and helm-controller are needed.
    #[serde(default = "default_components")]
    #[schemars(extend("items" = { "type": "string", "enum": FLUX_COMPONENTS }))]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct Mirror {
    /// `http(s)://…` Helm repository (its `index.yaml` lists every chart), or `oci://…`
    /// where each chart is `<helm_repository>/<chart>`. Unset: upstream Helm repositories.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern("^(https?|oci)://"))]
    pub helm_repository: Option<String>,
    /// `oci://host[:port][/path]`, the prefix of the OCI charts. Unset: upstream registries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern("^oci://"))]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct App {
    /// The catalog profile's name (`homelab apps` lists them); unique.
    #[schemars(pattern(DNS_LABEL))]
    pub name: String,
    /// The app's namespace, a DNS-1123 label.
    #[schemars(pattern(DNS_LABEL))]
    pub namespace: String,
    /// The app's DNS name, usually `<name>.<cluster.domain>`; unique.
    #[schemars(pattern(DNS_SUBDOMAIN))]
    pub host: String,
    /// Answers to the profile's questions (never secrets).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub settings: BTreeMap<String, String>,
}
