//! What the repository consists of for a given configuration: which controllers (with their
//! pinned charts), and which template renders which file.
//!
//! Kept apart from the rendering itself so the choices (traefik or envoy-gateway, which NFS
//! provisioner, which issuers) read as one table, and so chart versions live in one place.

use serde::Serialize;

use crate::config::{Challenge, Config, IngressController, Provisioner};

/// Where a chart comes from: an OCI artifact (Flux `OCIRepository` + HelmRelease `chartRef`)
/// or a classic Helm repository (`HelmRepository` + `chart.spec`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    Oci,
    Helm,
}

/// A controller of the infrastructure layer, installed from a pinned chart.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Chart {
    /// The folder under `infrastructure/controllers/`, the HelmRelease and source name.
    pub name: &'static str,
    /// The namespace the controller runs in.
    pub namespace: &'static str,
    pub source: SourceKind,
    /// `oci://…` artifact (without tag) or the Helm repository URL.
    pub url: &'static str,
    /// The chart name in a Helm repository (unused for OCI).
    pub chart: &'static str,
    /// The exact chart version (the OCI tag for OCI charts).
    pub version: &'static str,
    /// The namespace runs privileged pods (MetalLB speakers, NFS node plugins).
    pub privileged: bool,
}

pub const METALLB: Chart = Chart {
    name: "metallb",
    namespace: "metallb-system",
    source: SourceKind::Helm,
    url: "https://metallb.github.io/metallb",
    chart: "metallb",
    version: "0.16.1",
    privileged: true,
};

pub const CERT_MANAGER: Chart = Chart {
    name: "cert-manager",
    namespace: "cert-manager",
    source: SourceKind::Oci,
    url: "oci://quay.io/jetstack/charts/cert-manager",
    chart: "cert-manager",
    version: "v1.21.1",
    privileged: false,
};

pub const TRAEFIK: Chart = Chart {
    name: "traefik",
    namespace: "traefik",
    source: SourceKind::Oci,
    url: "oci://ghcr.io/traefik/helm/traefik",
    chart: "traefik",
    version: "41.3.0",
    privileged: false,
};

pub const ENVOY_GATEWAY: Chart = Chart {
    name: "envoy-gateway",
    namespace: "envoy-gateway-system",
    source: SourceKind::Oci,
    url: "oci://docker.io/envoyproxy/gateway-helm",
    chart: "gateway-helm",
    version: "v1.9.0",
    privileged: false,
};

pub const CSI_DRIVER_NFS: Chart = Chart {
    name: "csi-driver-nfs",
    namespace: "csi-driver-nfs",
    source: SourceKind::Helm,
    url: "https://raw.githubusercontent.com/kubernetes-csi/csi-driver-nfs/master/charts",
    chart: "csi-driver-nfs",
    version: "4.13.4",
    privileged: true,
};

pub const NFS_SUBDIR: Chart = Chart {
    name: "nfs-subdir-external-provisioner",
    namespace: "nfs-provisioner",
    source: SourceKind::Helm,
    url: "https://kubernetes-sigs.github.io/nfs-subdir-external-provisioner",
    chart: "nfs-subdir-external-provisioner",
    version: "4.0.18",
    privileged: true,
};

/// Every chart the renderer knows, for documentation and tests.
pub const ALL_CHARTS: [Chart; 6] = [
    METALLB,
    CERT_MANAGER,
    TRAEFIK,
    ENVOY_GATEWAY,
    CSI_DRIVER_NFS,
    NFS_SUBDIR,
];

/// The namespace Flux runs in.
pub const FLUX_NAMESPACE: &str = "flux-system";

/// Namespaces no app may install into, each with who owns it: Kubernetes' own, Flux's, and
/// every infrastructure controller's (all of them, not only today's choice, since
/// `ingress.controller` or `storage.provisioner` can change later). An app's namespace is
/// created by the `apps` Kustomization, which prunes: sharing one of these would let
/// removing the app delete the controller's namespace.
pub fn reserved_namespaces() -> Vec<(&'static str, &'static str)> {
    let mut out = vec![
        (FLUX_NAMESPACE, "Flux"),
        ("kube-system", "Kubernetes"),
        ("kube-public", "Kubernetes"),
        ("kube-node-lease", "Kubernetes"),
        ("default", "Kubernetes"),
    ];
    out.extend(ALL_CHARTS.iter().map(|c| (c.namespace, c.name)));
    out
}

/// The StorageClass provisioner name of each NFS provisioner (set explicitly on the chart
/// for nfs-subdir, so the StorageClass we render matches it).
pub fn storage_provisioner_name(p: Provisioner) -> &'static str {
    match p {
        Provisioner::CsiDriverNfs => "nfs.csi.k8s.io",
        Provisioner::NfsSubdirExternalProvisioner => {
            "cluster.local/nfs-subdir-external-provisioner"
        }
    }
}

/// The controllers this configuration installs, in the order they are listed.
pub fn controllers(cfg: &Config) -> Vec<Chart> {
    let ingress = match cfg.ingress.controller {
        IngressController::Traefik => TRAEFIK,
        IngressController::EnvoyGateway => ENVOY_GATEWAY,
    };
    let storage = match cfg.storage.provisioner {
        Provisioner::CsiDriverNfs => CSI_DRIVER_NFS,
        Provisioner::NfsSubdirExternalProvisioner => NFS_SUBDIR,
    };
    vec![METALLB, CERT_MANAGER, ingress, storage]
}

/// One file of the repository: its path and the template that renders it, plus the controller
/// it belongs to (for the per-controller templates).
#[derive(Debug, Clone)]
pub struct Entry {
    pub path: String,
    pub template: &'static str,
    pub chart: Option<Chart>,
}

/// The files of `infrastructure/configs/`, by name, as listed in its kustomization.yaml.
pub fn config_files(cfg: &Config) -> Vec<&'static str> {
    let mut files = vec!["metallb.yaml", "cluster-issuers.yaml"];
    if cfg.ingress.controller == IngressController::EnvoyGateway {
        files.push("gateway.yaml");
    }
    files.push("storage-class.yaml");
    files
}

/// Every templated file of the repository for `cfg` (homelab.yaml is serialized, not templated).
pub fn entries(cfg: &Config) -> Vec<Entry> {
    let cluster = format!("clusters/{}", cfg.cluster.name);
    let mut out = Vec::new();
    let mut add = |path: String, template: &'static str, chart: Option<Chart>| {
        out.push(Entry {
            path,
            template,
            chart,
        })
    };
    add("README.md".into(), "repo/README.md", None);
    add(".gitignore".into(), "repo/gitignore", None);
    add(
        format!("{cluster}/kustomization.yaml"),
        "repo/clusters/kustomization.yaml",
        None,
    );
    add(
        format!("{cluster}/flux-system/kustomization.yaml"),
        "repo/clusters/flux-system/kustomization.yaml",
        None,
    );
    add(
        format!("{cluster}/flux-system/gotk-sync.yaml"),
        "repo/clusters/flux-system/gotk-sync.yaml",
        None,
    );
    add(
        format!("{cluster}/infrastructure.yaml"),
        "repo/clusters/infrastructure.yaml",
        None,
    );
    add(
        format!("{cluster}/apps.yaml"),
        "repo/clusters/apps.yaml",
        None,
    );
    add(
        "infrastructure/controllers/kustomization.yaml".into(),
        "repo/infrastructure/controllers/kustomization.yaml",
        None,
    );
    for chart in controllers(cfg) {
        let dir = format!("infrastructure/controllers/{}", chart.name);
        add(
            format!("{dir}/kustomization.yaml"),
            "repo/infrastructure/controllers/kustomization-controller.yaml",
            Some(chart),
        );
        add(
            format!("{dir}/namespace.yaml"),
            "repo/infrastructure/controllers/namespace.yaml",
            Some(chart),
        );
        add(
            format!("{dir}/source.yaml"),
            "repo/infrastructure/controllers/source.yaml",
            Some(chart),
        );
        let release = match chart.name {
            "metallb" => "repo/infrastructure/controllers/release-metallb.yaml",
            "cert-manager" => "repo/infrastructure/controllers/release-cert-manager.yaml",
            "traefik" => "repo/infrastructure/controllers/release-traefik.yaml",
            "envoy-gateway" => "repo/infrastructure/controllers/release-envoy-gateway.yaml",
            "csi-driver-nfs" => "repo/infrastructure/controllers/release-csi-driver-nfs.yaml",
            _ => "repo/infrastructure/controllers/release-nfs-subdir-external-provisioner.yaml",
        };
        add(format!("{dir}/release.yaml"), release, Some(chart));
    }
    add(
        "infrastructure/configs/kustomization.yaml".into(),
        "repo/infrastructure/configs/kustomization.yaml",
        None,
    );
    for file in config_files(cfg) {
        let template = match file {
            "metallb.yaml" => "repo/infrastructure/configs/metallb.yaml",
            "cluster-issuers.yaml" => "repo/infrastructure/configs/cluster-issuers.yaml",
            "gateway.yaml" => "repo/infrastructure/configs/gateway.yaml",
            _ => "repo/infrastructure/configs/storage-class.yaml",
        };
        add(format!("infrastructure/configs/{file}"), template, None);
    }
    add(
        "apps/kustomization.yaml".into(),
        "repo/apps/kustomization.yaml",
        None,
    );
    out
}

/// Does this configuration use ACME (Let's Encrypt) issuers?
pub fn uses_acme(cfg: &Config) -> bool {
    cfg.certificates.challenge != Challenge::Selfsigned
}
