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

/// The longest duration accepted anywhere (a week): long enough for any wait a homelab
/// needs, short enough that adding it to the current instant can never overflow.
pub const MAX_DURATION: Duration = Duration::from_secs(7 * 24 * 3600);

/// Parse a duration like `90s`, `10m`, `1h`, `1h30m` or a bare number of seconds, of at
/// most [`MAX_DURATION`].
pub fn parse_duration(text: &str) -> Option<Duration> {
    parse_unbounded(text).filter(|d| *d <= MAX_DURATION)
}

/// The clap value parser of duration flags: a usage error (exit 2) at parse time, naming
/// the bound, instead of a failure (or an overflow) later.
pub fn duration_arg(text: &str) -> Result<String, String> {
    match parse_unbounded(text) {
        Some(d) if d <= MAX_DURATION => Ok(text.to_owned()),
        Some(_) => Err(format!(
            "{} is longer than the limit of {}h (a week); use e.g. 10m, 1h or 24h",
            crate::text::Shown(text),
            MAX_DURATION.as_secs() / 3600
        )),
        None => Err(format!(
            "{} is not a duration; use e.g. 90s, 10m or 1h30m",
            crate::text::Shown(text)
        )),
    }
}

/// A duration of any length (callers bound it: see [`parse_duration`]).
pub fn parse_unbounded(text: &str) -> Option<Duration> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if let Ok(secs) = text.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let mut total = 0u64;
    let mut number = String::new();
    for ch in text.chars() {
        if ch.is_ascii_digit() {
            number.push(ch);
            continue;
        }
        let unit = match ch {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            _ => return None,
        };
        let n: u64 = number.parse().ok()?;
        total = total.checked_add(n.checked_mul(unit)?)?;
        number.clear();
    }
    if !number.is_empty() {
        return None;
    }
    Some(Duration::from_secs(total))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("10m"), Some(Duration::from_secs(600)));
        assert_eq!(parse_duration("1h"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("45"), Some(Duration::from_secs(45)));
        assert_eq!(parse_duration("10x"), None);
        assert_eq!(parse_duration("m"), None);
        assert_eq!(parse_duration("5m3"), None);
        assert_eq!(parse_duration(""), None);
    }

    #[test]
    fn durations_are_bounded_so_deadlines_cannot_overflow() {
        assert_eq!(parse_duration("168h"), Some(MAX_DURATION));
        for huge in ["18446744073709551615", "168h1s", "99999999999h", "604801"] {
            assert_eq!(parse_duration(huge), None, "{huge}");
            let err = duration_arg(huge).unwrap_err();
            assert!(err.contains("longer than the limit"), "{err}");
        }
        assert!(
            duration_arg("forever")
                .unwrap_err()
                .contains("not a duration")
        );
        assert_eq!(duration_arg("10m").as_deref(), Ok("10m"));
        // The bound itself added to now is fine.
        let _ = std::time::Instant::now() + MAX_DURATION;
    }

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
