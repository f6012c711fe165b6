//! One concurrent read of everything the checks look at: a list call per kind, all in
//! flight at once, so a run costs one round trip's worth of latency rather than one per
//! object. Kinds whose CRD is not installed are recorded as such, not as errors.

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use k8s_openapi::api::core::v1::{Event, Node, PersistentVolumeClaim, Pod, Secret, Service};
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams};
use serde::de::DeserializeOwned;

use crate::config::{Challenge, Config};

/// The result of one list call.
#[derive(Debug, Clone)]
pub enum Listing<T> {
    Items(Vec<T>),
    /// The API group/kind is not served: its CRDs are not installed.
    NotInstalled,
    Error(String),
}

impl<T> Listing<T> {
    /// The items, or nothing when not installed or unreadable.
    pub fn items(&self) -> &[T] {
        match self {
            Listing::Items(v) => v,
            _ => &[],
        }
    }
}

/// A custom kind the doctor reads without generated types.
#[derive(Debug, Clone, Copy)]
pub struct Kind {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub plural: &'static str,
}

impl Kind {
    fn resource(&self) -> ApiResource {
        ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk(self.group, self.version, self.kind),
            self.plural,
        )
    }
}

pub const GIT_REPOSITORY: Kind = Kind {
    group: "source.toolkit.fluxcd.io",
    version: "v1",
    kind: "GitRepository",
    plural: "gitrepositories",
};
pub const KUSTOMIZATION: Kind = Kind {
    group: "kustomize.toolkit.fluxcd.io",
    version: "v1",
    kind: "Kustomization",
    plural: "kustomizations",
};
pub const HELM_RELEASE: Kind = Kind {
    group: "helm.toolkit.fluxcd.io",
    version: "v2",
    kind: "HelmRelease",
    plural: "helmreleases",
};
pub const IP_ADDRESS_POOL: Kind = Kind {
    group: "metallb.io",
    version: "v1beta1",
    kind: "IPAddressPool",
    plural: "ipaddresspools",
};
pub const CLUSTER_ISSUER: Kind = Kind {
    group: "cert-manager.io",
    version: "v1",
    kind: "ClusterIssuer",
    plural: "clusterissuers",
};
pub const CERTIFICATE: Kind = Kind {
    group: "cert-manager.io",
    version: "v1",
    kind: "Certificate",
    plural: "certificates",
};
/// k3s installs its bundled Traefik through its own Helm controller's HelmChart objects.
pub const K3S_HELM_CHART: Kind = Kind {
    group: "helm.cattle.io",
    version: "v1",
    kind: "HelmChart",
    plural: "helmcharts",
};
pub const HTTP_ROUTE: Kind = Kind {
    group: "gateway.networking.k8s.io",
    version: "v1",
    kind: "HTTPRoute",
    plural: "httproutes",
};

/// The DNS provider's credential Secret: whether it exists and which keys it has. Values
/// are never kept.
#[derive(Debug, Clone)]
pub enum SecretKeys {
    /// DNS-01 is not used: no Secret expected.
    NotNeeded,
    Missing,
    Keys(Vec<String>),
    Error(String),
}

/// Everything read from the cluster for one doctor run.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub nodes: Listing<Node>,
    pub deployments: Listing<Deployment>,
    pub daemonsets: Listing<DaemonSet>,
    pub services: Listing<Service>,
    pub pods: Listing<Pod>,
    pub pvcs: Listing<PersistentVolumeClaim>,
    pub pvc_events: Listing<Event>,
    pub storage_classes: Listing<StorageClass>,
    /// CRD names only (listing full CRDs would transfer megabytes of schemas).
    pub crds: Listing<String>,
    pub ingresses: Listing<Ingress>,
    pub git_repositories: Listing<DynamicObject>,
    pub kustomizations: Listing<DynamicObject>,
    pub helm_releases: Listing<DynamicObject>,
    pub ip_pools: Listing<DynamicObject>,
    pub cluster_issuers: Listing<DynamicObject>,
    pub certificates: Listing<DynamicObject>,
    pub k3s_helm_charts: Listing<DynamicObject>,
    pub http_routes: Listing<DynamicObject>,
    pub dns_secret: SecretKeys,
}

fn describe(err: kube::Error) -> String {
    match err {
        kube::Error::Api(status) => format!("{} ({})", status.message, status.code),
        other => crate::kube::client::describe(&other),
    }
}

fn is_not_found(err: &kube::Error) -> bool {
    matches!(err, kube::Error::Api(s) if s.code == 404)
}

async fn list<K>(client: &Client, lp: ListParams) -> Listing<K>
where
    K: kube::Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug,
{
    match Api::<K>::all(client.clone()).list(&lp).await {
        Ok(list) => Listing::Items(list.items),
        Err(err) => Listing::Error(describe(err)),
    }
}

async fn list_cluster<K>(client: &Client) -> Listing<K>
where
    K: kube::Resource<DynamicType = (), Scope = kube::core::ClusterResourceScope>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug,
{
    match Api::<K>::all(client.clone())
        .list(&ListParams::default())
        .await
    {
        Ok(list) => Listing::Items(list.items),
        Err(err) => Listing::Error(describe(err)),
    }
}

async fn list_dynamic(client: &Client, kind: Kind) -> Listing<DynamicObject> {
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &kind.resource());
    match api.list(&ListParams::default()).await {
        Ok(list) => Listing::Items(list.items),
        Err(err) if is_not_found(&err) => Listing::NotInstalled,
        Err(err) => Listing::Error(describe(err)),
    }
}

async fn crd_names(client: &Client) -> Listing<String> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    match api.list_metadata(&ListParams::default()).await {
        Ok(list) => Listing::Items(
            list.items
                .into_iter()
                .filter_map(|m| m.metadata.name)
                .collect(),
        ),
        Err(err) => Listing::Error(describe(err)),
    }
}

async fn dns_secret(client: &Client, cfg: &Config) -> SecretKeys {
    if cfg.certificates.challenge != Challenge::Dns01 {
        return SecretKeys::NotNeeded;
    }
    let (name, _) = cfg.certificates.dns_provider.secret();
    let api: Api<Secret> = Api::namespaced(client.clone(), CERT_MANAGER_NAMESPACE);
    match api.get_opt(name).await {
        Ok(Some(secret)) => {
            let mut keys: Vec<String> = secret.data.unwrap_or_default().into_keys().collect();
            keys.extend(secret.string_data.unwrap_or_default().into_keys());
            SecretKeys::Keys(keys)
        }
        Ok(None) => SecretKeys::Missing,
        Err(err) => SecretKeys::Error(describe(err)),
    }
}

/// Where cert-manager runs and where its DNS provider Secret lives.
pub const CERT_MANAGER_NAMESPACE: &str = "cert-manager";

impl Snapshot {
    /// A cluster with nothing in it and every kind installed: the base of unit tests.
    pub fn empty() -> Snapshot {
        Snapshot {
            nodes: Listing::Items(vec![]),
            deployments: Listing::Items(vec![]),
            daemonsets: Listing::Items(vec![]),
            services: Listing::Items(vec![]),
            pods: Listing::Items(vec![]),
            pvcs: Listing::Items(vec![]),
            pvc_events: Listing::Items(vec![]),
            storage_classes: Listing::Items(vec![]),
            crds: Listing::Items(vec![]),
            ingresses: Listing::Items(vec![]),
            git_repositories: Listing::Items(vec![]),
            kustomizations: Listing::Items(vec![]),
            helm_releases: Listing::Items(vec![]),
            ip_pools: Listing::Items(vec![]),
            cluster_issuers: Listing::Items(vec![]),
            certificates: Listing::Items(vec![]),
            k3s_helm_charts: Listing::Items(vec![]),
            http_routes: Listing::Items(vec![]),
            dns_secret: SecretKeys::NotNeeded,
        }
    }

    /// Read everything, concurrently.
    pub async fn take(client: &Client, cfg: &Config) -> Snapshot {
        let all = ListParams::default;
        let core = async {
            tokio::join!(
                list_cluster::<Node>(client),
                list::<Deployment>(client, all()),
                list::<DaemonSet>(client, all()),
                list::<Service>(client, all()),
                list::<Pod>(client, all()),
                list::<PersistentVolumeClaim>(client, all()),
                list::<Event>(
                    client,
                    all().fields("involvedObject.kind=PersistentVolumeClaim")
                ),
                list_cluster::<StorageClass>(client),
                crd_names(client),
                list::<Ingress>(client, all()),
            )
        };
        let custom = async {
            tokio::join!(
                list_dynamic(client, GIT_REPOSITORY),
                list_dynamic(client, KUSTOMIZATION),
                list_dynamic(client, HELM_RELEASE),
                list_dynamic(client, IP_ADDRESS_POOL),
                list_dynamic(client, CLUSTER_ISSUER),
                list_dynamic(client, CERTIFICATE),
                list_dynamic(client, K3S_HELM_CHART),
                list_dynamic(client, HTTP_ROUTE),
                dns_secret(client, cfg),
            )
        };
        // Both groups in flight at once: the run costs about one round trip.
        let (
            (
                nodes,
                deployments,
                daemonsets,
                services,
                pods,
                pvcs,
                pvc_events,
                storage_classes,
                crds,
                ingresses,
            ),
            (
                git_repositories,
                kustomizations,
                helm_releases,
                ip_pools,
                cluster_issuers,
                certificates,
                k3s_helm_charts,
                http_routes,
                dns_secret,
            ),
        ) = tokio::join!(core, custom);
        Snapshot {
            nodes,
            deployments,
            daemonsets,
            services,
            pods,
            pvcs,
            pvc_events,
            storage_classes,
            crds,
            ingresses,
            git_repositories,
            kustomizations,
            helm_releases,
            ip_pools,
            cluster_issuers,
            certificates,
            k3s_helm_charts,
            http_routes,
            dns_secret,
        }
    }
}
