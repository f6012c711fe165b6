//! Reading and waiting for Flux objects in the e2e tests, with the product's own readiness
//! rules (`homelab::kube::wait`), so a test sees "Ready" exactly as `homelab` does.

use std::time::{Duration, Instant};

use homelab::kube::wait::{Check, evaluate};
use kube::api::{Api, ApiResource, DynamicObject, ListParams};
use serde_json::Value;

/// The Flux kinds the tests and the scenario look at, with their served versions (Flux
/// v2.9.4), in the order a table shows them.
pub const KINDS: &[(&str, &str, &str, &str)] = &[
    // (kind, group, version, plural)
    (
        "GitRepository",
        "source.toolkit.fluxcd.io",
        "v1",
        "gitrepositories",
    ),
    (
        "OCIRepository",
        "source.toolkit.fluxcd.io",
        "v1",
        "ocirepositories",
    ),
    (
        "HelmRepository",
        "source.toolkit.fluxcd.io",
        "v1",
        "helmrepositories",
    ),
    ("HelmChart", "source.toolkit.fluxcd.io", "v1", "helmcharts"),
    (
        "Kustomization",
        "kustomize.toolkit.fluxcd.io",
        "v1",
        "kustomizations",
    ),
    (
        "HelmRelease",
        "helm.toolkit.fluxcd.io",
        "v2",
        "helmreleases",
    ),
];

/// The API resource of a Flux kind of [`KINDS`].
pub fn resource(kind: &str) -> ApiResource {
    let (kind, group, version, plural) = KINDS
        .iter()
        .find(|k| k.0 == kind)
        .unwrap_or_else(|| panic!("not a Flux kind of the tests: {kind}"));
    ApiResource {
        group: group.to_string(),
        version: version.to_string(),
        api_version: format!("{group}/{version}"),
        kind: kind.to_string(),
        plural: plural.to_string(),
    }
}

/// One Flux object as JSON, if it exists.
pub async fn get(client: &kube::Client, kind: &str, ns: &str, name: &str) -> Option<Value> {
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &resource(kind));
    api.get_opt(name)
        .await
        .ok()
        .flatten()
        .and_then(|o| serde_json::to_value(o).ok())
}

/// Every object of a kind, in all namespaces (empty when the CRD is missing).
pub async fn list(client: &kube::Client, kind: &str) -> Vec<Value> {
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &resource(kind));
    api.list(&ListParams::default())
        .await
        .map(|l| {
            l.items
                .into_iter()
                .filter_map(|o| serde_json::to_value(o).ok())
                .collect()
        })
        .unwrap_or_default()
}

/// The revision an object reports: the artifact's for sources, the last applied or
/// attempted one for Kustomizations and HelmReleases.
pub fn revision(obj: &Value) -> String {
    [
        "/status/artifact/revision",
        "/status/lastAppliedRevision",
        "/status/history/0/chartVersion",
        "/status/lastAttemptedRevision",
    ]
    .iter()
    .find_map(|p| obj.pointer(p).and_then(Value::as_str))
    .unwrap_or_default()
    .to_owned()
}

/// The Ready condition's status and message.
pub fn ready(obj: &Value) -> (String, String) {
    obj.pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|cs| {
            cs.iter()
                .find(|c| c.get("type").and_then(Value::as_str) == Some("Ready"))
        })
        .map(|c| {
            (
                c.get("status")
                    .and_then(Value::as_str)
                    .unwrap_or("Unknown")
                    .to_owned(),
                c.get("message")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .unwrap_or_else(|| ("Unknown".to_owned(), "no Ready condition yet".to_owned()))
}

/// Wait until a Flux object is Ready for its current generation (and at `revision`, when
/// given), as `homelab` judges it. Err carries the object's own last message.
pub async fn wait_ready(
    client: &kube::Client,
    kind: &str,
    ns: &str,
    name: &str,
    revision: Option<&str>,
    timeout: Duration,
) -> Result<Value, String> {
    let check = Check::FluxReady {
        revision: revision.map(str::to_owned),
    };
    let deadline = Instant::now() + timeout;
    loop {
        let last = match get(client, kind, ns, name).await {
            Some(obj) => {
                let state = evaluate(&obj, &check);
                if state.ready {
                    return Ok(obj);
                }
                format!(
                    "{}\nstatus: {}",
                    state.message,
                    serde_json::to_string_pretty(obj.get("status").unwrap_or(&Value::Null))
                        .unwrap_or_default()
                )
            }
            None => "does not exist".to_owned(),
        };
        if Instant::now() > deadline {
            return Err(format!(
                "{kind} {ns}/{name} not Ready after {timeout:?}: {last}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Poll `probe` until it returns `Some`, or fail after `timeout` with `what` and the last
/// note the probe left.
pub async fn until<T, F, Fut>(what: &str, timeout: Duration, mut probe: F) -> Result<T, String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        match probe().await {
            Ok(value) => return Ok(value),
            Err(note) if Instant::now() > deadline => {
                return Err(format!("{what}: not after {timeout:?}: {note}"));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}
