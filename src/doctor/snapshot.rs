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

use crate::component::ComponentId;
use crate::config::{Challenge, Config};
use crate::kube::status::{self, FluxKind};

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

/// A Namespace's name and labels (kustomize-controller labels what it applied, so a
/// namespace says which Kustomization delivers it).
#[derive(Debug, Clone)]
pub struct NamespaceMeta {
    pub name: String,
    pub labels: std::collections::BTreeMap<String, String>,
}

/// What a Secret that Kustomizations decrypt SOPS files with holds. Only the public
/// recipients derived from its age keys are kept, never the keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretAge {
    Missing,
    Error(String),
    Keys {
        /// The Secret's entry names (`age.agekey`, …).
        entries: Vec<String>,
        /// The recipients of the valid age identities in its `*.agekey` entries.
        recipients: Vec<String>,
    },
}

/// A Secret named by `spec.decryption.secretRef` of one or more Kustomizations.
#[derive(Debug, Clone)]
pub struct SopsSecret {
    pub namespace: String,
    pub name: String,
    /// The Kustomizations (`namespace/name`) that decrypt with it.
    pub used_by: Vec<String>,
    pub state: SecretAge,
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
    pub namespaces: Listing<NamespaceMeta>,
    pub git_repositories: Listing<DynamicObject>,
    pub oci_repositories: Listing<DynamicObject>,
    pub helm_repositories: Listing<DynamicObject>,
    pub helm_charts: Listing<DynamicObject>,
    pub kustomizations: Listing<DynamicObject>,
    pub helm_releases: Listing<DynamicObject>,
    pub sops_secrets: Vec<SopsSecret>,
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
    list_resource(client, &kind.resource()).await
}

async fn list_flux(client: &Client, kind: FluxKind) -> Listing<DynamicObject> {
    list_resource(client, &kind.resource()).await
}

async fn list_resource(client: &Client, resource: &ApiResource) -> Listing<DynamicObject> {
    let api: Api<DynamicObject> = Api::all_with(client.clone(), resource);
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

async fn namespaces(client: &Client) -> Listing<NamespaceMeta> {
    let api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    match api.list_metadata(&ListParams::default()).await {
        Ok(list) => Listing::Items(
            list.items
                .into_iter()
                .map(|m| NamespaceMeta {
                    name: m.metadata.name.unwrap_or_default(),
                    labels: m.metadata.labels.unwrap_or_default(),
                })
                .collect(),
        ),
        Err(err) => Listing::Error(describe(err)),
    }
}

/// The Kustomizations, then the Secrets their `spec.decryption.secretRef` name.
async fn kustomizations_and_secrets(client: &Client) -> (Listing<DynamicObject>, Vec<SopsSecret>) {
    let kustomizations = list_flux(client, status::KUSTOMIZATION).await;
    let mut wanted: Vec<SopsSecret> = Vec::new();
    for k in kustomizations.items() {
        let Some(name) = k
            .data
            .pointer("/spec/decryption/secretRef/name")
            .and_then(serde_json::Value::as_str)
        else {
            continue;
        };
        let namespace = k.metadata.namespace.clone().unwrap_or_default();
        let user = format!(
            "{namespace}/{}",
            k.metadata.name.clone().unwrap_or_default()
        );
        match wanted
            .iter_mut()
            .find(|s| s.namespace == namespace && s.name == name)
        {
            Some(secret) => secret.used_by.push(user),
            None => wanted.push(SopsSecret {
                namespace,
                name: name.to_owned(),
                used_by: vec![user],
                state: SecretAge::Missing,
            }),
        }
    }
    for secret in &mut wanted {
        let api: Api<Secret> = Api::namespaced(client.clone(), &secret.namespace);
        secret.state = match api.get_opt(&secret.name).await {
            Ok(Some(found)) => {
                let data = found.data.unwrap_or_default();
                let recipients = data
                    .iter()
                    .filter(|(key, _)| key.ends_with(".agekey"))
                    .flat_map(|(_, value)| {
                        crate::secrets::identity_recipients(&String::from_utf8_lossy(&value.0))
                    })
                    .collect();
                SecretAge::Keys {
                    entries: data.into_keys().collect(),
                    recipients,
                }
            }
            Ok(None) => SecretAge::Missing,
            Err(err) => SecretAge::Error(describe(err)),
        };
    }
    (kustomizations, wanted)
}

async fn dns_secret(client: &Client, cfg: &Config) -> SecretKeys {
    if cfg.certificates.challenge != Challenge::Dns01 {
        return SecretKeys::NotNeeded;
    }
    let name = cfg.certificates.dns_provider.secret_name();
    let api: Api<Secret> = Api::namespaced(client.clone(), ComponentId::CertManager.namespace());
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
            namespaces: Listing::Items(vec![]),
            git_repositories: Listing::Items(vec![]),
            oci_repositories: Listing::Items(vec![]),
            helm_repositories: Listing::Items(vec![]),
            helm_charts: Listing::Items(vec![]),
            kustomizations: Listing::Items(vec![]),
            helm_releases: Listing::Items(vec![]),
            sops_secrets: vec![],
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
                namespaces(client),
            )
        };
        let flux = async {
            tokio::join!(
                list_flux(client, status::GIT_REPOSITORY),
                list_flux(client, status::OCI_REPOSITORY),
                list_flux(client, status::HELM_REPOSITORY),
                list_flux(client, status::HELM_CHART),
                kustomizations_and_secrets(client),
                list_flux(client, status::HELM_RELEASE),
            )
        };
        let custom = async {
            tokio::join!(
                list_dynamic(client, IP_ADDRESS_POOL),
                list_dynamic(client, CLUSTER_ISSUER),
                list_dynamic(client, CERTIFICATE),
                list_dynamic(client, K3S_HELM_CHART),
                list_dynamic(client, HTTP_ROUTE),
                dns_secret(client, cfg),
            )
        };
        // All groups in flight at once: the run costs about one round trip (two for the
        // decryption Secrets, which the Kustomizations name).
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
                namespaces,
            ),
            (
                git_repositories,
                oci_repositories,
                helm_repositories,
                helm_charts,
                (kustomizations, sops_secrets),
                helm_releases,
            ),
            (ip_pools, cluster_issuers, certificates, k3s_helm_charts, http_routes, dns_secret),
        ) = tokio::join!(core, flux, custom);
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
            namespaces,
            git_repositories,
            oci_repositories,
            helm_repositories,
            helm_charts,
            kustomizations,
            helm_releases,
            sops_secrets,
            ip_pools,
            cluster_issuers,
            certificates,
            k3s_helm_charts,
            http_routes,
            dns_secret,
        }
    }
}
