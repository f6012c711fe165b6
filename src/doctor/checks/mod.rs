//! The cluster sections, one file each, every one a function of the configuration, one
//! [`Snapshot`] and the delivery chain read from it ([`Causes`]).
//!
//! Pure except for the two checks that must leave the cluster: the NFS server's TCP port and
//! the app hosts' DNS resolution, which are asked from this machine, as a user's browser
//! and the nodes would; both also run when the cluster cannot be reached.
//!
//! Hints point at homelab's own commands (`homelab status`, `homelab sync`, `homelab push
//! --wait`, `homelab bootstrap`) and at the node's own tools, never at kubectl or the flux
//! CLI, which a homelab does not need.

use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::api::DynamicObject;

use super::causes::{Causes, Root};
use super::local::{GitState, SopsRecipients};
use super::snapshot::{Listing, Snapshot};
use super::{Finding, Section};
use crate::config::Config;
use crate::kube::status::{ObjectStatus, State, short_revision};

mod apps;
mod certificates;
mod dns;
mod flux;
mod network;
mod nodes;
mod storage;

pub use apps::apps;
pub use certificates::{EXPIRY_FAILED_DAYS, EXPIRY_WARNING_DAYS, certificates, days_until};
pub use dns::dns;
pub use flux::flux;
pub use network::loadbalancing;
pub use nodes::nodes;
pub use storage::{nfs_port, storage};

/// Every cluster section.
pub async fn all(
    cfg: &Config,
    snap: &Snapshot,
    git: &GitState,
    sops: &SopsRecipients,
) -> Vec<Section> {
    let causes = Causes::new(cfg, snap, sops);
    let (storage, dns) = tokio::join!(storage(cfg, snap, &causes), dns(cfg));
    vec![
        nodes(cfg, snap),
        flux(cfg, snap, git, sops, &causes),
        loadbalancing(cfg, snap, &causes),
        certificates(cfg, snap, &causes),
        storage,
        dns,
        apps(cfg, snap, &causes),
    ]
}

/// The sections that still make sense when the cluster cannot be reached: the NFS server
/// and the app hosts are asked from this machine.
pub async fn without_cluster(cfg: &Config) -> Vec<Section> {
    let (nfs, dns) = tokio::join!(storage::nfs_reachable(cfg), dns(cfg));
    vec![Section::new("storage", "Storage", vec![nfs]), dns]
}

fn name_of<K: kube::Resource>(obj: &K) -> String {
    let name = obj.meta().name.clone().unwrap_or_default();
    match &obj.meta().namespace {
        Some(ns) => format!("{ns}/{name}"),
        None => name,
    }
}

fn unreadable<T>(check: &str, what: &str, listing: &Listing<T>) -> Option<Finding> {
    match listing {
        Listing::Error(err) => Some(Finding::failed(
            check,
            format!("cannot list {what}: {err}"),
            "the kubeconfig's user needs read access to the whole cluster (cluster-admin, or the `view` ClusterRole plus nodes and CRDs)",
        )),
        _ => None,
    }
}

fn str_at<'a>(obj: &'a DynamicObject, pointer: &str) -> Option<&'a str> {
    obj.data
        .pointer(pointer)
        .and_then(serde_json::Value::as_str)
}

/// The hint for a suspended Flux object.
const SUSPENDED_HINT: &str = "it was suspended on purpose (spec.suspend: true); resume it the way it was suspended once done, then `homelab sync`";

/// A Flux object's status as a finding. `hint` says what to do when it failed; a failing
/// object downstream of a broken link waits on `root` instead.
fn flux_object(check: &str, st: &ObjectStatus, hint: &str, root: Option<Root>) -> Finding {
    let id = st.id();
    if st.suspended {
        return Finding::warning(
            check,
            format!("{id} is suspended: Flux does not reconcile it"),
            SUSPENDED_HINT,
        );
    }
    if st.ready {
        let detail = st
            .revision
            .as_deref()
            .map(short_revision)
            .unwrap_or_else(|| st.message.clone());
        return Finding::ok(check, format!("{id} ready ({detail})"));
    }
    if st.state == State::Progressing && st.reason == "NotReconciled" {
        return Finding::failed_unless(
            check,
            format!("{id} has not been reconciled yet"),
            "Flux reconciles it within minutes once its controllers run; `homelab sync` asks for it now and waits",
            root,
        );
    }
    Finding::failed_unless(
        check,
        format!("{id} not ready: {}: {}", st.reason, st.message),
        hint,
        root,
    )
}

/// What is wrong with a pod, if anything: (is a failure, one line). A pod that restarted
/// more than three times but runs is a warning.
fn pod_problem(pod: &Pod) -> Option<(bool, String)> {
    let status = pod.status.as_ref()?;
    let phase = status.phase.as_deref().unwrap_or("Unknown");
    if phase == "Succeeded" {
        return None;
    }
    let containers = status.container_statuses.clone().unwrap_or_default();
    let restarts: i32 = containers.iter().map(|c| c.restart_count).sum();
    let not_ready = containers.iter().find(|c| !c.ready);
    if phase != "Running" || not_ready.is_some() || containers.is_empty() {
        let state = not_ready.and_then(|c| c.state.as_ref());
        let (reason, message) = state
            .and_then(|s| {
                s.waiting
                    .as_ref()
                    .map(|w| (w.reason.clone(), w.message.clone()))
                    .or_else(|| {
                        s.terminated
                            .as_ref()
                            .map(|t| (t.reason.clone(), t.message.clone()))
                    })
            })
            .unwrap_or((None, None));
        // Unscheduled pods have no container status: the PodScheduled condition says why.
        let scheduling = status
            .conditions
            .as_ref()
            .and_then(|cs| {
                cs.iter()
                    .find(|c| c.type_ == "PodScheduled" && c.status == "False")
            })
            .map(|c| {
                format!(
                    "{}: {}",
                    c.reason.clone().unwrap_or_default(),
                    c.message.clone().unwrap_or_default()
                )
            });
        let why = match (reason, message, scheduling) {
            (Some(r), Some(m), _) if !m.is_empty() => format!("{r}: {m}"),
            (Some(r), _, _) => r,
            (None, _, Some(s)) => s,
            _ => phase.to_owned(),
        };
        return Some((
            true,
            format!(
                "pod {} not ready: {} ({restarts} restarts)",
                pod.name_any(),
                crate::kube::status::one_line(&why)
            ),
        ));
    }
    if restarts > 3 {
        return Some((
            false,
            format!("pod {} restarted {restarts} times", pod.name_any()),
        ));
    }
    None
}

/// The pods of a workload (by its selector's `matchLabels`) in its namespace.
fn pods_of<'a>(snap: &'a Snapshot, workload: &serde_json::Value) -> Vec<&'a Pod> {
    let ns = workload
        .pointer("/metadata/namespace")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default();
    let Some(labels) = workload
        .pointer("/spec/selector/matchLabels")
        .and_then(serde_json::Value::as_object)
    else {
        return Vec::new();
    };
    snap.pods
        .items()
        .iter()
        .filter(|p| p.namespace().as_deref() == Some(ns))
        .filter(|p| {
            labels
                .iter()
                .all(|(k, v)| p.labels().get(k).map(String::as_str) == v.as_str())
        })
        .collect()
}

/// `: pod x not ready: ImagePullBackOff: …` for the first pod of a workload with a problem.
fn first_pod_problem(snap: &Snapshot, workload: &serde_json::Value) -> String {
    pods_of(snap, workload)
        .into_iter()
        .find_map(pod_problem)
        .map(|(_, line)| format!("; {line}"))
        .unwrap_or_default()
}

#[cfg(test)]
pub(crate) mod testing {
    //! Building snapshots for the sections' unit tests.

    use serde_json::Value;

    use super::*;

    pub fn example() -> Config {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/homelab.yaml"
        ))
        .unwrap();
        serde_saphyr::from_str(&text).unwrap()
    }

    pub fn dynamic(
        api_version: &str,
        kind: &str,
        ns: Option<&str>,
        name: &str,
        rest: Value,
    ) -> DynamicObject {
        let mut v = serde_json::json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": name}});
        if let Some(ns) = ns {
            v["metadata"]["namespace"] = serde_json::json!(ns);
        }
        for (k, val) in rest.as_object().unwrap() {
            if k == "metadata" {
                for (mk, mv) in val.as_object().unwrap() {
                    v["metadata"][mk] = mv.clone();
                }
            } else {
                v[k] = val.clone();
            }
        }
        serde_json::from_value(v).unwrap()
    }

    /// An otherwise empty cluster where Flux's controllers run, so that nothing waits on
    /// Flux in the sections' tests.
    pub fn flux_running(cfg: &Config) -> Snapshot {
        let deployments = cfg
            .flux
            .components
            .iter()
            .map(|c| {
                serde_json::from_value(serde_json::json!({
                    "metadata": {"name": c, "namespace": "flux-system", "generation": 1},
                    "spec": {"replicas": 1, "selector": {"matchLabels": {"app": c}},
                        "template": {"spec": {"containers": [{"name": "manager", "image": "x"}]}}},
                    "status": {"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1,
                        "readyReplicas": 1, "availableReplicas": 1}
                }))
                .unwrap()
            })
            .collect();
        let mut snap = Snapshot::empty();
        snap.deployments = Listing::Items(deployments);
        snap.crds = Listing::Items(
            cfg.flux
                .components
                .iter()
                .flat_map(|c| {
                    crate::doctor::causes::flux_crds(c)
                        .iter()
                        .map(|n| (*n).to_owned())
                })
                .collect(),
        );
        snap
    }

    pub fn by_check<'a>(s: &'a Section, check: &str) -> Vec<&'a Finding> {
        s.findings.iter().filter(|f| f.check == check).collect()
    }
}
