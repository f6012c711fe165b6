//! Waiting until what was applied actually works: Deployments Available, Flux objects Ready
//! at the revision that was pushed, judged by [`crate::kube::status`]. On timeout, each
//! object's own status message says why, which is what a user needs (not "timed out").

use std::time::Duration;

use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject};
use serde_json::Value;

use crate::kube::client::describe;
use crate::kube::status;

/// What "ready" means for one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// A Deployment whose rollout is complete at its current generation.
    DeploymentAvailable,
    /// A Flux object Ready at its current generation, and, when given, whose revision
    /// (`status.artifact.revision` for sources, `status.lastAppliedRevision` for
    /// Kustomizations) equals this one.
    FluxReady { revision: Option<String> },
}

/// One object to wait for.
#[derive(Debug, Clone)]
pub struct Target {
    pub resource: ApiResource,
    pub namespace: String,
    pub name: String,
    pub check: Check,
}

impl Target {
    pub fn id(&self) -> String {
        format!("{}/{}/{}", self.resource.kind, self.namespace, self.name)
    }
}

/// Where a target stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    pub ready: bool,
    /// Why not ready (the object's own message where it has one).
    pub message: String,
}

/// Judge an object (as JSON) against a check, by the rules of [`crate::kube::status`].
pub fn evaluate(obj: &Value, check: &Check) -> State {
    match check {
        Check::DeploymentAvailable => {
            let st = status::evaluate_workload(obj);
            State {
                ready: st.ready,
                message: st.message,
            }
        }
        Check::FluxReady { revision } => {
            let kind = obj
                .get("kind")
                .and_then(Value::as_str)
                .and_then(status::FluxKind::named)
                .unwrap_or(status::KUSTOMIZATION);
            let st = status::evaluate_flux(&kind, obj);
            if !st.ready {
                return State {
                    ready: false,
                    message: st.message,
                };
            }
            if let Some(want) = revision
                && st.revision.as_deref() != Some(want.as_str())
            {
                return State {
                    ready: false,
                    message: format!(
                        "at revision {:?}, waiting for {want:?}",
                        st.revision.as_deref().unwrap_or("none")
                    ),
                };
            }
            State {
                ready: true,
                message: st.message,
            }
        }
    }
}

/// Read a target's current state (a missing object or a failed read is "not ready").
pub async fn state(client: &Client, target: &Target) -> State {
    let api: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), &target.namespace, &target.resource);
    match api.get_opt(&target.name).await {
        Ok(Some(obj)) => {
            let mut json = serde_json::to_value(&obj).unwrap_or(Value::Null);
            // The kind decides the rules; a response without it is the target's kind.
            if json.get("kind").is_none() {
                json["kind"] = Value::String(target.resource.kind.clone());
            }
            evaluate(&json, &target.check)
        }
        Ok(None) => State {
            ready: false,
            message: "does not exist".to_owned(),
        },
        Err(e) => State {
            ready: false,
            message: format!("cannot read it: {}", describe(&e)),
        },
    }
}

/// Poll until every target is ready, calling `progress(ready, total)` on each round.
/// Returns the states of the targets still not ready at the deadline (empty on success).
pub async fn wait_all(
    client: &Client,
    targets: &[Target],
    deadline: tokio::time::Instant,
    mut progress: impl FnMut(usize, usize),
) -> Vec<(Target, State)> {
    loop {
        let mut waiting = Vec::new();
        for target in targets {
            let st = state(client, target).await;
            if !st.ready {
                waiting.push((target.clone(), st));
            }
        }
        progress(targets.len() - waiting.len(), targets.len());
        if waiting.is_empty() || tokio::time::Instant::now() >= deadline {
            return waiting;
        }
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        tokio::time::sleep(left.min(Duration::from_secs(1))).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn flux_ready_needs_the_revision() {
        let check = Check::FluxReady {
            revision: Some("main@sha1:abc".to_owned()),
        };
        let mut obj = json!({
            "kind": "GitRepository",
            "metadata": {"generation": 1},
            "status": {"observedGeneration": 1,
                "conditions": [{"type": "Ready", "status": "True", "message": "stored artifact"}],
                "artifact": {"revision": "main@sha1:old"}}
        });
        let st = evaluate(&obj, &check);
        assert!(!st.ready);
        assert!(st.message.contains("main@sha1:old"), "{}", st.message);
        obj["status"]["artifact"]["revision"] = json!("main@sha1:abc");
        assert!(evaluate(&obj, &check).ready);
    }

    #[test]
    fn not_ready_carries_the_objects_own_message() {
        let obj = json!({"kind": "Kustomization", "status": {"conditions": [
            {"type": "Ready", "status": "False", "message": "kustomize build failed: boom"}]}});
        let st = evaluate(&obj, &Check::FluxReady { revision: None });
        assert!(!st.ready);
        assert_eq!(st.message, "kustomize build failed: boom");
    }

    #[test]
    fn deployment_needs_available_for_its_generation() {
        let mut obj = json!({"kind": "Deployment", "metadata": {"generation": 2},
            "status": {"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1,
            "readyReplicas": 1, "availableReplicas": 1,
            "conditions": [{"type": "Available", "status": "True"}]}});
        assert!(!evaluate(&obj, &Check::DeploymentAvailable).ready);
        obj["status"]["observedGeneration"] = json!(2);
        assert!(evaluate(&obj, &Check::DeploymentAvailable).ready);
    }
}
