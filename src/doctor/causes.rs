//! One root cause, reported once.
//!
//! A homelab is delivered along a chain: Flux's controllers fetch the repository, its
//! Kustomizations apply it (in `dependsOn` order, decrypting with the SOPS key Secret), their
//! HelmReleases install charts from chart sources, and those charts run MetalLB,
//! cert-manager, the ingress controller, the storage provisioner and the apps. When a link
//! breaks, everything after it fails too, and a list of every such failure buries the one
//! thing to fix. [`Causes`] reads the chain from the snapshot once; a check that fails
//! downstream of a broken link asks it for the link it waits on and reports itself as
//! waiting on it, without a hint of its own (the root's hint is the one to follow).

use std::collections::{BTreeMap, BTreeSet};

use kube::ResourceExt;
use kube::api::DynamicObject;

use super::local::SopsRecipients;
use super::snapshot::{Listing, SecretAge, Snapshot};
use crate::config::Config;
use crate::kube::status::{self, FLUX_NAMESPACE, FluxKind, ObjectRef, ObjectStatus, SYNC_NAME};

/// The failed thing a finding waits on, named as its own finding names it (e.g.
/// `Kustomization flux-system/infra-controllers`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Root(pub String);

/// The state of one Flux controller Deployment.
#[derive(Debug, Clone)]
pub struct Controller {
    pub name: String,
    /// `None` when it is not deployed.
    pub status: Option<ObjectStatus>,
    pub image: String,
}

/// The delivery chain as the snapshot shows it.
#[derive(Debug, Clone, Default)]
pub struct Causes {
    /// Flux is not there at all.
    pub not_installed: bool,
    /// Each of `flux.components` in flux-system.
    pub controllers: Vec<Controller>,
    /// Flux CRDs missing (empty when present or unknown).
    pub missing_crds: Vec<String>,
    /// Every Kustomization, HelmRelease and chart source, evaluated.
    pub kustomizations: Vec<ObjectStatus>,
    pub releases: Vec<ObjectStatus>,
    pub chart_sources: Vec<ObjectStatus>,
    /// The homelab's GitRepository, when it exists.
    pub source: Option<ObjectStatus>,
    /// Decryption Secrets that cannot work: `(namespace, name)`.
    pub broken_secrets: BTreeSet<(String, String)>,
    /// Kustomization → the Secret it decrypts with.
    decryption: BTreeMap<ObjectRef, (String, String)>,
    /// Namespace → the Kustomization that applied it (when labeled); `None` when the
    /// namespaces could not be listed.
    namespaces: Option<BTreeMap<String, Option<ObjectRef>>>,
}

/// The CRDs each Flux component serves.
pub fn flux_crds(component: &str) -> &'static [&'static str] {
    match component {
        "source-controller" => &[
            "gitrepositories.source.toolkit.fluxcd.io",
            "ocirepositories.source.toolkit.fluxcd.io",
            "helmrepositories.source.toolkit.fluxcd.io",
            "helmcharts.source.toolkit.fluxcd.io",
            "buckets.source.toolkit.fluxcd.io",
        ],
        "kustomize-controller" => &["kustomizations.kustomize.toolkit.fluxcd.io"],
        "helm-controller" => &["helmreleases.helm.toolkit.fluxcd.io"],
        "notification-controller" => &[
            "alerts.notification.toolkit.fluxcd.io",
            "providers.notification.toolkit.fluxcd.io",
            "receivers.notification.toolkit.fluxcd.io",
        ],
        "image-reflector-controller" => &[
            "imagerepositories.image.toolkit.fluxcd.io",
            "imagepolicies.image.toolkit.fluxcd.io",
        ],
        "image-automation-controller" => &["imageupdateautomations.image.toolkit.fluxcd.io"],
        "source-watcher" => &["artifactgenerators.source.extensions.fluxcd.io"],
        _ => &[],
    }
}

fn evaluate_all(kind: FluxKind, listing: &Listing<DynamicObject>) -> Vec<ObjectStatus> {
    listing
        .items()
        .iter()
        .map(|o| status::evaluate_flux(&kind, &serde_json::to_value(o).unwrap_or_default()))
        .collect()
}

/// Not Ready, and not on hold: what breaks the chain (a suspended object is a warning).
fn failing(o: &ObjectStatus) -> bool {
    !o.ready && !o.suspended
}

impl Causes {
    pub fn new(cfg: &Config, snap: &Snapshot, sops: &SopsRecipients) -> Causes {
        let flux_deployments: Vec<_> = snap
            .deployments
            .items()
            .iter()
            .filter(|d| d.namespace().as_deref() == Some(FLUX_NAMESPACE))
            .collect();
        let not_installed =
            flux_deployments.is_empty() && matches!(snap.git_repositories, Listing::NotInstalled);
        let controllers = cfg
            .flux
            .components
            .iter()
            .map(|component| {
                let found = flux_deployments.iter().find(|d| d.name_any() == *component);
                Controller {
                    name: component.clone(),
                    status: found.map(|d| {
                        status::evaluate_workload(&serde_json::to_value(d).unwrap_or_default())
                    }),
                    image: found
                        .and_then(|d| d.spec.as_ref())
                        .and_then(|s| s.template.spec.as_ref())
                        .and_then(|p| p.containers.first())
                        .and_then(|c| c.image.clone())
                        .unwrap_or_default(),
                }
            })
            .collect();
        let missing_crds = match &snap.crds {
            Listing::Items(names) => {
                let have: BTreeSet<&str> = names.iter().map(String::as_str).collect();
                cfg.flux
                    .components
                    .iter()
                    .flat_map(|c| flux_crds(c).iter().copied())
                    .filter(|c| !have.contains(c))
                    .map(str::to_owned)
                    .collect()
            }
            _ => Vec::new(),
        };
        let source = evaluate_all(status::GIT_REPOSITORY, &snap.git_repositories)
            .into_iter()
            .find(|g| g.namespace == FLUX_NAMESPACE && g.name == SYNC_NAME);
        let mut chart_sources = evaluate_all(status::OCI_REPOSITORY, &snap.oci_repositories);
        chart_sources.extend(evaluate_all(
            status::HELM_REPOSITORY,
            &snap.helm_repositories,
        ));
        chart_sources.extend(evaluate_all(status::HELM_CHART, &snap.helm_charts));
        let decryption = snap
            .kustomizations
            .items()
            .iter()
            .filter_map(|k| {
                let name = k
                    .data
                    .pointer("/spec/decryption/secretRef/name")?
                    .as_str()?;
                let ns = k.namespace().unwrap_or_default();
                Some((
                    ObjectRef {
                        kind: "Kustomization".into(),
                        namespace: ns.clone(),
                        name: k.name_any(),
                    },
                    (ns, name.to_owned()),
                ))
            })
            .collect();
        let broken_secrets = snap
            .sops_secrets
            .iter()
            .filter(|s| match &s.state {
                SecretAge::Keys { recipients, .. } => match sops {
                    _ if recipients.is_empty() => true,
                    SopsRecipients::Recipients(want) => {
                        !recipients.iter().any(|r| want.contains(r))
                    }
                    _ => false,
                },
                _ => true,
            })
            .map(|s| (s.namespace.clone(), s.name.clone()))
            .collect();
        let namespaces = match &snap.namespaces {
            Listing::Items(list) => Some(
                list.iter()
                    .map(|n| {
                        let owner = match (
                            n.labels.get("kustomize.toolkit.fluxcd.io/name"),
                            n.labels.get("kustomize.toolkit.fluxcd.io/namespace"),
                        ) {
                            (Some(name), Some(ns)) => Some(ObjectRef {
                                kind: "Kustomization".into(),
                                namespace: ns.clone(),
                                name: name.clone(),
                            }),
                            _ => None,
                        };
                        (n.name.clone(), owner)
                    })
                    .collect(),
            ),
            _ => None,
        };
        Causes {
            not_installed,
            controllers,
            missing_crds,
            kustomizations: evaluate_all(status::KUSTOMIZATION, &snap.kustomizations),
            releases: evaluate_all(status::HELM_RELEASE, &snap.helm_releases),
            chart_sources,
            source,
            broken_secrets,
            decryption,
            namespaces,
        }
    }

    /// Flux itself cannot deliver: not installed, a controller not ready, CRDs missing.
    pub fn flux(&self) -> Option<Root> {
        if self.not_installed {
            return Some(Root("Flux (not installed)".into()));
        }
        if let Some(c) = self
            .controllers
            .iter()
            .find(|c| !c.status.as_ref().is_some_and(|s| s.ready))
        {
            return Some(Root(c.name.clone()));
        }
        if !self.missing_crds.is_empty() {
            return Some(Root("the Flux CRDs".into()));
        }
        None
    }

    /// What the homelab's GitRepository waits on, when it is failing.
    pub fn for_source(&self) -> Option<Root> {
        self.flux()
    }

    /// The GitRepository itself, as a root, when it is failing (or missing).
    fn source_root(&self) -> Option<Root> {
        match &self.source {
            Some(s) if failing(s) => Some(self.for_source().unwrap_or_else(|| Root(s.id()))),
            Some(_) => None,
            None if self.not_installed => None,
            None => Some(Root(format!("GitRepository {FLUX_NAMESPACE}/{SYNC_NAME}"))),
        }
    }

    /// What the revision check waits on: a failing source.
    pub fn for_revision(&self) -> Option<Root> {
        self.flux().or_else(|| self.source_root())
    }

    fn kustomization(&self, r: &ObjectRef) -> Option<&ObjectStatus> {
        self.kustomizations.iter().find(|k| &k.reference() == r)
    }

    /// The most upstream broken link a failing Kustomization's failure comes from (itself
    /// when nothing upstream is broken). `seen` guards against `dependsOn` cycles.
    fn kustomization_root(&self, k: &ObjectStatus, seen: &mut BTreeSet<ObjectRef>) -> Root {
        if let Some(root) = self.flux() {
            return root;
        }
        let sync = ObjectRef {
            kind: "GitRepository".into(),
            namespace: FLUX_NAMESPACE.into(),
            name: SYNC_NAME.into(),
        };
        if k.source.as_ref() == Some(&sync)
            && let Some(root) = self.source_root()
        {
            return root;
        }
        if let Some(secret) = self.decryption.get(&k.reference())
            && self.broken_secrets.contains(secret)
        {
            return Root(format!("Secret {}/{}", secret.0, secret.1));
        }
        seen.insert(k.reference());
        for dep in &k.depends_on {
            if seen.contains(dep) {
                continue;
            }
            if let Some(d) = self.kustomization(dep).filter(|d| failing(d)) {
                return self.kustomization_root(d, seen);
            }
        }
        Root(k.id())
    }

    /// What a failing Kustomization waits on; `None` when it is the root cause itself.
    pub fn for_kustomization(&self, k: &ObjectStatus) -> Option<Root> {
        let root = self.kustomization_root(k, &mut BTreeSet::new());
        (root.0 != k.id()).then_some(root)
    }

    fn release_root(&self, hr: &ObjectStatus) -> Root {
        if let Some(root) = self.flux() {
            return root;
        }
        if let Some(k) = hr
            .applied_by
            .as_ref()
            .and_then(|r| self.kustomization(r))
            .filter(|k| failing(k))
        {
            let root = self.kustomization_root(k, &mut BTreeSet::new());
            // A Kustomization that waits for its releases' health fails *because* of them:
            // then the release is the cause, not the Kustomization.
            if root.0 != k.id() {
                return root;
            }
        }
        if let Some(src) = hr
            .source
            .as_ref()
            .and_then(|s| self.chart_sources.iter().find(|c| &c.reference() == s))
            .filter(|s| failing(s))
        {
            return Root(src.id());
        }
        Root(hr.id())
    }

    /// What a failing HelmRelease waits on; `None` when it is the root cause itself.
    pub fn for_release(&self, hr: &ObjectStatus) -> Option<Root> {
        let root = self.release_root(hr);
        (root.0 != hr.id()).then_some(root)
    }

    /// What a chart source waits on.
    pub fn for_chart_source(&self) -> Option<Root> {
        self.flux()
    }

    /// The first failing Kustomization (dependencies first), as a root.
    fn first_failing_kustomization(&self) -> Option<Root> {
        status::dependency_order(&self.kustomizations)
            .into_iter()
            .find(|k| failing(k))
            .map(|k| self.kustomization_root(k, &mut BTreeSet::new()))
    }

    /// What something the repository delivers into namespace `ns` waits on: Flux, a failing
    /// HelmRelease in that namespace, the Kustomization that applied the namespace, or, when
    /// the namespace does not exist yet, the first failing Kustomization.
    pub fn for_namespace(&self, ns: &str) -> Option<Root> {
        if let Some(root) = self.flux() {
            return Some(root);
        }
        if let Some(hr) = self
            .releases
            .iter()
            .find(|hr| hr.namespace == ns && failing(hr))
        {
            return Some(self.release_root(hr));
        }
        let namespaces = self.namespaces.as_ref()?;
        match namespaces.get(ns) {
            Some(Some(owner)) => self
                .kustomization(owner)
                .filter(|k| failing(k))
                .map(|k| self.kustomization_root(k, &mut BTreeSet::new())),
            Some(None) => None,
            None => self.first_failing_kustomization(),
        }
    }

    /// What something delivered by the repository outside a namespace of its own (an address
    /// pool, an issuer, a storage class) waits on: Flux, the namespace of the controller that
    /// serves it, or any failing Kustomization.
    pub fn for_delivered(&self, controller_ns: &str) -> Option<Root> {
        self.for_namespace(controller_ns)
            .or_else(|| self.first_failing_kustomization())
    }
}
