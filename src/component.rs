//! The infrastructure components: the controllers the repository installs beside Flux
//! (MetalLB, cert-manager, an ingress controller, an NFS provisioner), addressed by
//! [`ComponentId`].
//!
//! Each component owns every fact about it (namespace, pinned chart, Flux Kustomization,
//! files, release template, the StorageClass provisioner it serves, its configs layer), so
//! rendering, doctor, bootstrap and validation read them from here instead of repeating
//! names. [`ComponentId::component`] matches exhaustively and [`Component`] has no defaults:
//! a new component does not compile until every fact is given. Which components a
//! configuration installs is decided by `catalog::plan`.
//!
//! Depends on nothing else in the crate, so any module may read it.

use serde::Serialize;

/// The namespace Flux runs in, and where every Flux object of the repository lives.
pub const FLUX_NAMESPACE: &str = "flux-system";

/// An infrastructure component.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ComponentId {
    Metallb,
    CertManager,
    Traefik,
    EnvoyGateway,
    CsiDriverNfs,
    NfsSubdir,
}

impl ComponentId {
    /// Every component, in the order the repository lists controllers.
    pub const ALL: [ComponentId; 6] = [
        ComponentId::Metallb,
        ComponentId::CertManager,
        ComponentId::Traefik,
        ComponentId::EnvoyGateway,
        ComponentId::CsiDriverNfs,
        ComponentId::NfsSubdir,
    ];

    /// Everything known about this component.
    pub const fn component(self) -> &'static Component {
        match self {
            ComponentId::Metallb => &METALLB,
            ComponentId::CertManager => &CERT_MANAGER,
            ComponentId::Traefik => &TRAEFIK,
            ComponentId::EnvoyGateway => &ENVOY_GATEWAY,
            ComponentId::CsiDriverNfs => &CSI_DRIVER_NFS,
            ComponentId::NfsSubdir => &NFS_SUBDIR,
        }
    }

    /// The namespace the component runs in (where its Secrets live too).
    pub const fn namespace(self) -> &'static str {
        self.component().namespace
    }

    /// The folder, HelmRelease and chart source name.
    pub const fn name(self) -> &'static str {
        self.component().name
    }
}

/// Where a chart comes from: an OCI artifact (Flux `OCIRepository` + HelmRelease `chartRef`)
/// or a classic Helm repository (`HelmRepository` + `chart.spec`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    Oci,
    Helm,
}

/// One infrastructure component. Serialized flat for the templates (`chart.name`,
/// `chart.namespace`, `chart.version`, …).
#[derive(Debug, Serialize)]
pub struct Component {
    pub id: ComponentId,
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
    /// The Flux Kustomization that installs it.
    pub layer: &'static str,
    /// What that Kustomization holds, as the comment above it says.
    pub about: &'static str,
    /// The template of its `release.yaml` (the HelmRelease and its values).
    pub release_template: &'static str,
    /// Files of its controller folder beyond the Namespace, source and HelmRelease:
    /// `(file name, template)`.
    pub extra_files: &'static [(&'static str, &'static str)],
    /// The StorageClass provisioner name it serves, for a storage provisioner.
    pub storage_provisioner: Option<&'static str>,
    /// The objects that need its CRDs and webhooks, applied once it is Ready.
    pub configs: Option<Configs>,
    /// Apps cannot be applied without it (their manifests use its CRDs), so the `apps`
    /// Kustomization depends on it. Nothing else does: a failing controller must not hold
    /// back apps that do not need it.
    pub apps_need_it: bool,
}

/// A component's configs layer: one file under `infrastructure/configs/<component>/`, applied
/// by its own Flux Kustomization once the component (and `needs`) is Ready.
#[derive(Debug, Serialize)]
pub struct Configs {
    /// The Flux Kustomization's name.
    pub layer: &'static str,
    pub file: &'static str,
    pub template: &'static str,
    /// Other components it waits for, beyond its own.
    pub needs: &'static [ComponentId],
    /// How long applying and the health checks may take.
    pub timeout: &'static str,
    /// What the Kustomization holds, as the comment above it says.
    pub about: &'static str,
}

const STORAGE_CLASS: &[(&str, &str)] = &[(
    "storage-class.yaml",
    "repo/infrastructure/controllers/storage-class.yaml",
)];

/// The Flux Kustomization of the storage provisioner: one name whichever provisioner, so
/// what depends on storage need not know it.
const STORAGE_LAYER: &str = "infra-storage";
const STORAGE_ABOUT: &str = "the NFS provisioner and the StorageClass of the volumes";

const METALLB: Component = Component {
    id: ComponentId::Metallb,
    name: "metallb",
    namespace: "metallb-system",
    source: SourceKind::Helm,
    url: "https://metallb.github.io/metallb",
    chart: "metallb",
    version: "0.16.1",
    privileged: true,
    layer: "infra-metallb",
    about: "MetalLB, which gives LoadBalancer Services their addresses",
    release_template: "repo/infrastructure/controllers/release-metallb.yaml",
    extra_files: &[],
    storage_provisioner: None,
    configs: Some(Configs {
        layer: "infra-metallb-pool",
        file: "pool.yaml",
        template: "repo/infrastructure/configs/metallb.yaml",
        needs: &[],
        timeout: "5m",
        about: "the address pool, once MetalLB's CRDs and webhook are served",
    }),
    apps_need_it: false,
};

const CERT_MANAGER: Component = Component {
    id: ComponentId::CertManager,
    name: "cert-manager",
    namespace: "cert-manager",
    source: SourceKind::Oci,
    url: "oci://quay.io/jetstack/charts/cert-manager",
    chart: "cert-manager",
    version: "v1.21.1",
    privileged: false,
    layer: "infra-cert-manager",
    about: "cert-manager, which issues the certificates",
    release_template: "repo/infrastructure/controllers/release-cert-manager.yaml",
    extra_files: &[],
    storage_provisioner: None,
    configs: Some(Configs {
        layer: "infra-cert-issuers",
        file: "cluster-issuers.yaml",
        template: "repo/infrastructure/configs/cluster-issuers.yaml",
        needs: &[],
        timeout: "5m",
        about: "the ClusterIssuers, once cert-manager's CRDs and webhook are served",
    }),
    apps_need_it: false,
};

const TRAEFIK: Component = Component {
    id: ComponentId::Traefik,
    name: "traefik",
    namespace: "traefik",
    source: SourceKind::Oci,
    url: "oci://ghcr.io/traefik/helm/traefik",
    chart: "traefik",
    version: "41.3.0",
    privileged: false,
    layer: "infra-traefik",
    about: "Traefik, the ingress controller",
    release_template: "repo/infrastructure/controllers/release-traefik.yaml",
    extra_files: &[],
    storage_provisioner: None,
    configs: None,
    // Apps' Ingresses are plain Kubernetes objects.
    apps_need_it: false,
};

const ENVOY_GATEWAY: Component = Component {
    id: ComponentId::EnvoyGateway,
    name: "envoy-gateway",
    namespace: "envoy-gateway-system",
    source: SourceKind::Oci,
    url: "oci://docker.io/envoyproxy/gateway-helm",
    chart: "gateway-helm",
    version: "v1.9.0",
    privileged: false,
    layer: "infra-envoy-gateway",
    about: "Envoy Gateway, the Gateway API controller (and its CRDs)",
    release_template: "repo/infrastructure/controllers/release-envoy-gateway.yaml",
    extra_files: &[],
    storage_provisioner: None,
    configs: Some(Configs {
        layer: "infra-gateway",
        file: "gateway.yaml",
        template: "repo/infrastructure/configs/gateway.yaml",
        needs: &[ComponentId::CertManager],
        timeout: "10m",
        about: "the shared Gateway and its wildcard Certificate (Ready once the certificate is issued)",
    }),
    // Apps' HTTPRoutes need the Gateway API CRDs it installs.
    apps_need_it: true,
};

const CSI_DRIVER_NFS: Component = Component {
    id: ComponentId::CsiDriverNfs,
    name: "csi-driver-nfs",
    namespace: "csi-driver-nfs",
    source: SourceKind::Helm,
    url: "https://raw.githubusercontent.com/kubernetes-csi/csi-driver-nfs/master/charts",
    chart: "csi-driver-nfs",
    version: "4.13.4",
    privileged: true,
    layer: STORAGE_LAYER,
    about: STORAGE_ABOUT,
    release_template: "repo/infrastructure/controllers/release-csi-driver-nfs.yaml",
    extra_files: STORAGE_CLASS,
    storage_provisioner: Some("nfs.csi.k8s.io"),
    configs: None,
    apps_need_it: false,
};

const NFS_SUBDIR: Component = Component {
    id: ComponentId::NfsSubdir,
    name: "nfs-subdir-external-provisioner",
    namespace: "nfs-provisioner",
    source: SourceKind::Helm,
    url: "https://kubernetes-sigs.github.io/nfs-subdir-external-provisioner",
    chart: "nfs-subdir-external-provisioner",
    version: "4.0.18",
    privileged: true,
    layer: STORAGE_LAYER,
    about: STORAGE_ABOUT,
    release_template: "repo/infrastructure/controllers/release-nfs-subdir-external-provisioner.yaml",
    extra_files: STORAGE_CLASS,
    // Set explicitly on the chart, so the StorageClass we render matches it.
    storage_provisioner: Some("cluster.local/nfs-subdir-external-provisioner"),
    configs: None,
    apps_need_it: false,
};

/// Namespaces no app may install into, each with who owns it: Kubernetes' own, Flux's, and
/// every component's (all of them, not only today's choice, since `ingress.controller` or
/// `storage.provisioner` can change later). An app's namespace is created by the `apps`
/// Kustomization, which prunes: sharing one of these would let removing the app delete the
/// controller's namespace.
pub fn reserved_namespaces() -> Vec<(&'static str, &'static str)> {
    let mut out = vec![
        (FLUX_NAMESPACE, "Flux"),
        ("kube-system", "Kubernetes"),
        ("kube-public", "Kubernetes"),
        ("kube-node-lease", "Kubernetes"),
        ("default", "Kubernetes"),
    ];
    out.extend(
        ComponentId::ALL
            .iter()
            .map(|id| (id.namespace(), id.name())),
    );
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn every_component_knows_its_own_id_and_names_are_unique() {
        let mut names = BTreeSet::new();
        let mut layers = BTreeSet::new();
        for id in ComponentId::ALL {
            let c = id.component();
            assert_eq!(c.id, id);
            assert!(names.insert(c.name), "{} twice", c.name);
            if let Some(configs) = &c.configs {
                assert!(layers.insert(configs.layer), "{} twice", configs.layer);
                assert!(!configs.needs.contains(&id), "{}", c.name);
            }
        }
        // Only the storage provisioners share a Flux Kustomization; they exclude each other.
        let storage: Vec<_> = ComponentId::ALL
            .iter()
            .filter(|id| id.component().layer == STORAGE_LAYER)
            .collect();
        assert_eq!(
            storage,
            [&ComponentId::CsiDriverNfs, &ComponentId::NfsSubdir]
        );
        for id in storage {
            assert!(id.component().storage_provisioner.is_some(), "{id:?}");
        }
    }
}
