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

/// A Flux Kustomization of the infrastructure: one per component, so one failing component
/// holds back only what really needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Layer {
    /// The Flux Kustomization's name.
    pub name: &'static str,
    /// The folder it applies, relative to the repository root (no `./`).
    pub path: String,
    /// The Kustomizations that must be Ready first.
    pub depends_on: Vec<&'static str>,
    /// How long applying and the health checks may take.
    pub timeout: &'static str,
    /// What it holds, as the comment above it says.
    pub about: &'static str,
}

/// The Flux Kustomization that installs `chart`.
pub fn layer_name(chart: &Chart) -> &'static str {
    match chart.name {
        "metallb" => "infra-metallb",
        "cert-manager" => "infra-cert-manager",
        "traefik" => "infra-traefik",
        "envoy-gateway" => "infra-envoy-gateway",
        // One name whichever provisioner, so what depends on storage need not know it.
        _ => "infra-storage",
    }
}

/// The Flux Kustomizations of the infrastructure, in dependency order.
pub fn layers(cfg: &Config) -> Vec<Layer> {
    let mut out = Vec::new();
    for chart in controllers(cfg) {
        let about = match chart.name {
            "metallb" => "MetalLB, which gives LoadBalancer Services their addresses",
            "cert-manager" => "cert-manager, which issues the certificates",
            "traefik" => "Traefik, the ingress controller",
            "envoy-gateway" => "Envoy Gateway, the Gateway API controller (and its CRDs)",
            _ => "the NFS provisioner and the StorageClass of the volumes",
        };
        out.push(Layer {
            name: layer_name(&chart),
            path: format!("infrastructure/controllers/{}", chart.name),
            depends_on: Vec::new(),
            timeout: "15m",
            about,
        });
    }
    out.push(Layer {
        name: "infra-metallb-pool",
        path: "infrastructure/configs/metallb".into(),
        depends_on: vec!["infra-metallb"],
        timeout: "5m",
        about: "the address pool, once MetalLB's CRDs and webhook are served",
    });
    out.push(Layer {
        name: "infra-cert-issuers",
        path: "infrastructure/configs/cert-manager".into(),
        depends_on: vec!["infra-cert-manager"],
        timeout: "5m",
        about: "the ClusterIssuers, once cert-manager's CRDs and webhook are served",
    });
    if cfg.ingress.controller == IngressController::EnvoyGateway {
        out.push(Layer {
            name: "infra-gateway",
            path: "infrastructure/configs/envoy-gateway".into(),
            depends_on: vec!["infra-envoy-gateway", "infra-cert-manager"],
            timeout: "10m",
            about: "the shared Gateway and its wildcard Certificate (Ready once the certificate is issued)",
        });
    }
    out
}

/// What the `apps` Kustomization waits for: only what every app needs to be applied at all
/// (the HTTPRoute CRD with envoy-gateway). A failing NFS provisioner must not keep apps that
/// need no volume from deploying; an app's volume waits for its claim to bind on its own.
pub fn apps_depend_on(cfg: &Config) -> Vec<&'static str> {
    match cfg.ingress.controller {
        IngressController::Traefik => Vec::new(),
        IngressController::EnvoyGateway => vec!["infra-envoy-gateway"],
    }
}

/// One file of the repository: its path and the template that renders it, plus the controller
/// it belongs to (for the per-controller templates).
#[derive(Debug, Clone)]
pub struct Entry {
    pub path: String,
    pub template: &'static str,
    pub chart: Option<Chart>,
    /// The files a `kustomization.yaml` lists (empty for other files).
    pub resources: Vec<&'static str>,
}

/// The files of a controller's folder, as listed in its kustomization.yaml.
pub fn controller_files(chart: &Chart) -> Vec<&'static str> {
    let mut files = vec!["namespace.yaml", "source.yaml", "release.yaml"];
    if chart.name == CSI_DRIVER_NFS.name || chart.name == NFS_SUBDIR.name {
        files.push("storage-class.yaml");
    }
    files
}

/// Every templated file of the repository for `cfg` (homelab.yaml is serialized, not templated).
pub fn entries(cfg: &Config) -> Vec<Entry> {
    let cluster = format!("clusters/{}", cfg.cluster.name);
    let file = |path: String, template: &'static str, chart: Option<Chart>| Entry {
        path,
        template,
        chart,
        resources: Vec::new(),
    };
    let mut out = vec![
        file("README.md".into(), "repo/README.md", None),
        file(".gitignore".into(), "repo/gitignore", None),
    ];
    for (name, template) in [
        ("kustomization.yaml", "repo/clusters/kustomization.yaml"),
        (
            "flux-system/kustomization.yaml",
            "repo/clusters/flux-system/kustomization.yaml",
        ),
        (
            "flux-system/gotk-sync.yaml",
            "repo/clusters/flux-system/gotk-sync.yaml",
        ),
        ("infrastructure.yaml", "repo/clusters/infrastructure.yaml"),
        ("apps.yaml", "repo/clusters/apps.yaml"),
    ] {
        out.push(file(format!("{cluster}/{name}"), template, None));
    }
    for chart in controllers(cfg) {
        let dir = format!("infrastructure/controllers/{}", chart.name);
        for name in controller_files(&chart) {
            let template = match (name, chart.name) {
                ("namespace.yaml", _) => "repo/infrastructure/controllers/namespace.yaml",
                ("source.yaml", _) => "repo/infrastructure/controllers/source.yaml",
                ("storage-class.yaml", _) => "repo/infrastructure/controllers/storage-class.yaml",
                (_, "metallb") => "repo/infrastructure/controllers/release-metallb.yaml",
                (_, "cert-manager") => "repo/infrastructure/controllers/release-cert-manager.yaml",
                (_, "traefik") => "repo/infrastructure/controllers/release-traefik.yaml",
                (_, "envoy-gateway") => {
                    "repo/infrastructure/controllers/release-envoy-gateway.yaml"
                }
                (_, "csi-driver-nfs") => {
                    "repo/infrastructure/controllers/release-csi-driver-nfs.yaml"
                }
                _ => "repo/infrastructure/controllers/release-nfs-subdir-external-provisioner.yaml",
            };
            out.push(file(format!("{dir}/{name}"), template, Some(chart)));
        }
        out.push(Entry {
            resources: controller_files(&chart),
            ..file(
                format!("{dir}/kustomization.yaml"),
                "repo/infrastructure/controllers/kustomization.yaml",
                Some(chart),
            )
        });
    }
    let mut configs = vec![
        (
            "metallb",
            "pool.yaml",
            "repo/infrastructure/configs/metallb.yaml",
        ),
        (
            "cert-manager",
            "cluster-issuers.yaml",
            "repo/infrastructure/configs/cluster-issuers.yaml",
        ),
    ];
    if cfg.ingress.controller == IngressController::EnvoyGateway {
        configs.push((
            "envoy-gateway",
            "gateway.yaml",
            "repo/infrastructure/configs/gateway.yaml",
        ));
    }
    for (dir, name, template) in configs {
        out.push(file(
            format!("infrastructure/configs/{dir}/{name}"),
            template,
            None,
        ));
        out.push(Entry {
            resources: vec![name],
            ..file(
                format!("infrastructure/configs/{dir}/kustomization.yaml"),
                "repo/infrastructure/configs/kustomization.yaml",
                None,
            )
        });
    }
    out.push(file(
        "apps/kustomization.yaml".into(),
        "repo/apps/kustomization.yaml",
        None,
    ));
    out
}

/// Does this configuration use ACME (Let's Encrypt) issuers?
pub fn uses_acme(cfg: &Config) -> bool {
    cfg.certificates.challenge != Challenge::Selfsigned
}
