//! What Flux objects and workloads say about themselves, judged one way for every command
//! that asks: bootstrap's readiness wait, `homelab status`, `homelab sync` (and the `--wait`
//! of `push` and `add-app`) and the doctor.
//!
//! The rules are kstatus's, the library Flux's own `check` and `bootstrap` wait with:
//! - an object whose controller has not observed its latest generation is not Ready, whatever
//!   its conditions say (the status describes an older spec);
//! - `Stalled=True` is a failure that waiting will not heal; `Reconciling=True` is progress;
//! - a Flux object is Ready when its `Ready` condition is True (Flux sets it False on a failed
//!   attempt, and retries, and Unknown while it works);
//! - workloads have no Ready condition: their replica counts say whether the rollout is done.
//!
//! On top of that, each Flux kind's revision: the artifact a source stored, the commit a
//! Kustomization applied, the chart version a HelmRelease installed. Evaluation is pure
//! (JSON in, [`ObjectStatus`] out); [`list_flux`] reads every Flux object of the cluster.

use std::collections::BTreeMap;

use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams};
use serde::Serialize;
use serde_json::Value;

use crate::kube::client::describe;

/// Where Flux runs, and the name of the GitRepository and Kustomization `bootstrap` creates.
pub use crate::component::FLUX_NAMESPACE;
/// The GitRepository (and root Kustomization) that syncs the homelab repository.
pub const SYNC_NAME: &str = "flux-system";

/// What a Flux kind's revision means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Stores an artifact: `status.artifact.revision`.
    Source,
    /// Applies a path of a source: `status.lastAppliedRevision`.
    Kustomization,
    /// Installs a chart: the version of its latest release.
    HelmRelease,
}

/// A Flux kind homelab reads, without generated types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FluxKind {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub plural: &'static str,
    pub role: Role,
}

impl FluxKind {
    pub fn resource(&self) -> ApiResource {
        ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk(self.group, self.version, self.kind),
            self.plural,
        )
    }

    /// The kind for a `kind` name, e.g. a `sourceRef.kind`.
    pub fn named(kind: &str) -> Option<FluxKind> {
        FLUX_KINDS.iter().copied().find(|k| k.kind == kind)
    }
}

pub const GIT_REPOSITORY: FluxKind = FluxKind {
    group: "source.toolkit.fluxcd.io",
    version: "v1",
    kind: "GitRepository",
    plural: "gitrepositories",
    role: Role::Source,
};
pub const OCI_REPOSITORY: FluxKind = FluxKind {
    group: "source.toolkit.fluxcd.io",
    version: "v1",
    kind: "OCIRepository",
    plural: "ocirepositories",
    role: Role::Source,
};
pub const HELM_REPOSITORY: FluxKind = FluxKind {
    group: "source.toolkit.fluxcd.io",
    version: "v1",
    kind: "HelmRepository",
    plural: "helmrepositories",
    role: Role::Source,
};
pub const HELM_CHART: FluxKind = FluxKind {
    group: "source.toolkit.fluxcd.io",
    version: "v1",
    kind: "HelmChart",
    plural: "helmcharts",
    role: Role::Source,
};
pub const KUSTOMIZATION: FluxKind = FluxKind {
    group: "kustomize.toolkit.fluxcd.io",
    version: "v1",
    kind: "Kustomization",
    plural: "kustomizations",
    role: Role::Kustomization,
};
pub const HELM_RELEASE: FluxKind = FluxKind {
    group: "helm.toolkit.fluxcd.io",
    version: "v2",
    kind: "HelmRelease",
    plural: "helmreleases",
    role: Role::HelmRelease,
};

/// Every Flux kind of a homelab, in the order things flow: sources, then what applies them.
pub const FLUX_KINDS: [FluxKind; 6] = [
    GIT_REPOSITORY,
    OCI_REPOSITORY,
    HELM_REPOSITORY,
    HELM_CHART,
    KUSTOMIZATION,
    HELM_RELEASE,
];

/// Where an object stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Reconciled at its latest generation, and Ready.
    Ready,
    /// Not reconciled yet, or being reconciled: waiting may help.
    Progressing,
    /// The last attempt failed; the controller retries.
    Failed,
    /// The controller gave up (`Stalled=True`): only a change to the object helps.
    Stalled,
    /// Being deleted.
    Terminating,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Ready => "ready",
            State::Progressing => "progressing",
            State::Failed => "failed",
            State::Stalled => "stalled",
            State::Terminating => "terminating",
        }
    }
}

/// A reference to another object (`dependsOn`, `sourceRef`, `chartRef`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct ObjectRef {
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

impl std::fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}/{}", self.kind, self.namespace, self.name)
    }
}

/// One object's status, as `homelab status` shows it and the waits and the doctor judge it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectStatus {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    /// `state == ready`.
    pub ready: bool,
    pub state: State,
    /// `spec.suspend`: Flux does not reconcile it (its status is the last one it had).
    pub suspended: bool,
    /// The revision it runs: a source's artifact, a Kustomization's applied commit, a
    /// HelmRelease's chart version; absent before the first success.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// The revision of the last attempt, when it differs from `revision` (a failing upgrade).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempted_revision: Option<String>,
    /// The reason of the condition that decided the state (e.g. `BuildFailed`).
    pub reason: String,
    /// One line: the object's own message, or why it is not Ready.
    pub message: String,
    /// Kustomizations it waits for (`spec.dependsOn`).
    #[serde(skip)]
    pub depends_on: Vec<ObjectRef>,
    /// Where it comes from: a Kustomization's `sourceRef`, a HelmRelease's chart source.
    #[serde(skip)]
    pub source: Option<ObjectRef>,
    /// The Kustomization that applied it (kustomize-controller's labels).
    #[serde(skip)]
    pub applied_by: Option<ObjectRef>,
    /// `status.lastHandledReconcileAt`: the last `reconcile.fluxcd.io/requestedAt` handled.
    #[serde(skip)]
    pub last_handled: Option<String>,
}

impl ObjectStatus {
    pub fn reference(&self) -> ObjectRef {
        ObjectRef {
            kind: self.kind.clone(),
            namespace: self.namespace.clone(),
            name: self.name.clone(),
        }
    }

    /// `Kind namespace/name`, how messages name an object.
    pub fn id(&self) -> String {
        self.reference().to_string()
    }

    /// The state and message in one phrase, e.g. `failed: kustomize build failed: …`.
    pub fn describe(&self) -> String {
        let mut text = if self.reason.is_empty() {
            format!("{}: {}", self.state.as_str(), self.message)
        } else {
            format!(
                "{} ({}): {}",
                self.state.as_str(),
                self.reason,
                self.message
            )
        };
        if self.suspended {
            text.push_str(" [suspended]");
        }
        text
    }
}

/// Errors can span lines; statuses are one line.
pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn str_at<'a>(obj: &'a Value, pointer: &str) -> Option<&'a str> {
    obj.pointer(pointer).and_then(Value::as_str)
}

fn int_at(obj: &Value, pointer: &str) -> Option<i64> {
    obj.pointer(pointer).and_then(Value::as_i64)
}

/// The condition `type_` of an object.
pub fn condition<'a>(obj: &'a Value, type_: &str) -> Option<&'a Value> {
    obj.pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(type_))
}

fn cond_text(c: &Value, key: &str) -> String {
    one_line(c.get(key).and_then(Value::as_str).unwrap_or_default())
}

fn is_true(c: Option<&Value>) -> bool {
    c.and_then(|c| c.get("status"))
        .and_then(Value::as_str)
        .is_some_and(|s| s == "True")
}

/// Why the status describes an older spec, if it does: `status.observedGeneration` (or the
/// Ready condition's own `observedGeneration`) behind `metadata.generation`. `strict`: a
/// missing `status.observedGeneration` counts as behind (every Flux controller and the
/// workload controllers set it).
fn stale_generation(obj: &Value, strict: bool) -> Option<String> {
    let generation = int_at(obj, "/metadata/generation")?;
    let observed = int_at(obj, "/status/observedGeneration");
    let in_condition = condition(obj, "Ready").and_then(|c| c.get("observedGeneration")?.as_i64());
    match (observed, in_condition) {
        (Some(o), _) if o < generation => Some(format!(
            "generation {generation} not reconciled yet (last observed: {o})"
        )),
        (_, Some(o)) if o < generation => Some(format!(
            "generation {generation} not reconciled yet (Ready condition is for generation {o})"
        )),
        (None, _) if strict => Some(format!("generation {generation} not reconciled yet")),
        _ => None,
    }
}

fn meta_ref(obj: &Value, kind: &str) -> (String, String, String) {
    (
        kind.to_owned(),
        str_at(obj, "/metadata/namespace")
            .unwrap_or_default()
            .to_owned(),
        str_at(obj, "/metadata/name").unwrap_or_default().to_owned(),
    )
}

fn reference(obj: Option<&Value>, default_kind: &str, default_ns: &str) -> Option<ObjectRef> {
    let obj = obj?;
    Some(ObjectRef {
        kind: obj
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or(default_kind)
            .to_owned(),
        namespace: obj
            .get("namespace")
            .and_then(Value::as_str)
            .unwrap_or(default_ns)
            .to_owned(),
        name: obj.get("name").and_then(Value::as_str)?.to_owned(),
    })
}

/// Evaluate a Flux object (as JSON) of `kind`.
pub fn evaluate_flux(kind: &FluxKind, obj: &Value) -> ObjectStatus {
    let (kind_name, namespace, name) = meta_ref(obj, kind.kind);
    let suspended = obj.pointer("/spec/suspend").and_then(Value::as_bool) == Some(true);
    let (revision, attempted) = match kind.role {
        Role::Source => (str_at(obj, "/status/artifact/revision"), None),
        Role::Kustomization => (
            str_at(obj, "/status/lastAppliedRevision"),
            str_at(obj, "/status/lastAttemptedRevision"),
        ),
        Role::HelmRelease => (
            str_at(obj, "/status/history/0/chartVersion")
                .or_else(|| str_at(obj, "/status/lastAttemptedRevision")),
            str_at(obj, "/status/lastAttemptedRevision"),
        ),
    };
    let revision = revision.filter(|r| !r.is_empty()).map(str::to_owned);
    let attempted_revision = attempted
        .filter(|a| !a.is_empty() && Some(*a) != revision.as_deref())
        .map(str::to_owned);
    let depends_on = obj
        .pointer("/spec/dependsOn")
        .and_then(Value::as_array)
        .map(|deps| {
            deps.iter()
                .filter_map(|d| reference(Some(d), kind.kind, &namespace))
                .collect()
        })
        .unwrap_or_default();
    let source = match kind.role {
        Role::Kustomization => {
            reference(obj.pointer("/spec/sourceRef"), "GitRepository", &namespace)
        }
        Role::HelmRelease => reference(obj.pointer("/spec/chartRef"), "OCIRepository", &namespace)
            .or_else(|| {
                // A chart from a HelmRepository is fetched through a HelmChart that
                // helm-controller names `<namespace>-<name>` in the repository's namespace.
                let repo = reference(
                    obj.pointer("/spec/chart/spec/sourceRef"),
                    "HelmRepository",
                    &namespace,
                )?;
                Some(ObjectRef {
                    kind: "HelmChart".to_owned(),
                    name: format!("{namespace}-{name}"),
                    namespace: repo.namespace,
                })
            }),
        Role::Source if kind.kind == "HelmChart" => {
            reference(obj.pointer("/spec/sourceRef"), "HelmRepository", &namespace)
        }
        Role::Source => None,
    };
    let applied_by = match (
        str_at(obj, "/metadata/labels/kustomize.toolkit.fluxcd.io~1name"),
        str_at(
            obj,
            "/metadata/labels/kustomize.toolkit.fluxcd.io~1namespace",
        ),
    ) {
        (Some(n), Some(ns)) => Some(ObjectRef {
            kind: "Kustomization".to_owned(),
            namespace: ns.to_owned(),
            name: n.to_owned(),
        }),
        _ => None,
    };
    let (state, reason, message) = flux_state(kind, obj);
    ObjectStatus {
        kind: kind_name,
        namespace,
        name,
        ready: state == State::Ready,
        state,
        suspended,
        revision,
        attempted_revision,
        reason,
        message,
        depends_on,
        source,
        applied_by,
        last_handled: str_at(obj, "/status/lastHandledReconcileAt").map(str::to_owned),
    }
}

fn flux_state(kind: &FluxKind, obj: &Value) -> (State, String, String) {
    if str_at(obj, "/metadata/deletionTimestamp").is_some() {
        return (
            State::Terminating,
            "Terminating".into(),
            "being deleted".into(),
        );
    }
    let ready = condition(obj, "Ready");
    // An OCI HelmRepository is only a pointer: source-controller leaves it without status.
    if kind.kind == "HelmRepository"
        && str_at(obj, "/spec/type") == Some("oci")
        && obj
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .is_none_or(Vec::is_empty)
    {
        return (
            State::Ready,
            "Static".into(),
            "OCI repository: nothing to fetch until a chart is pulled".into(),
        );
    }
    // Never reconciled: no status yet (Flux's CRDs default `observedGeneration` to -1).
    if ready.is_none() && int_at(obj, "/status/observedGeneration").is_none_or(|o| o < 0) {
        return (
            State::Progressing,
            "NotReconciled".into(),
            "waiting to be reconciled".into(),
        );
    }
    if let Some(stale) = stale_generation(obj, true) {
        let last = ready
            .map(|c| format!("; last status: {}", cond_text(c, "message")))
            .unwrap_or_default();
        return (
            State::Progressing,
            "LatestGenerationNotObserved".into(),
            format!("{stale}{last}"),
        );
    }
    if let Some(c) = condition(obj, "Stalled").filter(|c| is_true(Some(c))) {
        return (
            State::Stalled,
            cond_text(c, "reason"),
            cond_text(c, "message"),
        );
    }
    if let Some(c) = condition(obj, "Reconciling").filter(|c| is_true(Some(c))) {
        let (reason, mut message) = (cond_text(c, "reason"), cond_text(c, "message"));
        // helm-controller retrying a failed install or upgrade says only "retrying after
        // 5m0s" here; what failed is in the Ready condition, and that is what a user needs.
        if reason == "ProgressingWithRetry"
            && let Some(failure) = ready
                .filter(|r| r.get("status").and_then(Value::as_str) == Some("False"))
                .map(|r| cond_text(r, "message"))
                .filter(|f| !f.is_empty() && *f != message)
        {
            message = format!("{failure} ({message})");
        }
        return (State::Progressing, reason, message);
    }
    match ready {
        None => (
            State::Progressing,
            "NotReconciled".into(),
            "waiting to be reconciled".into(),
        ),
        Some(c) => {
            let status = c.get("status").and_then(Value::as_str).unwrap_or_default();
            let state = match status {
                "True" => State::Ready,
                "False" => State::Failed,
                _ => State::Progressing,
            };
            (state, cond_text(c, "reason"), cond_text(c, "message"))
        }
    }
}

/// Evaluate a workload (Deployment, DaemonSet, StatefulSet) as JSON by its replica counts,
/// kstatus's way. Other kinds fall back to their Ready condition.
pub fn evaluate_workload(obj: &Value) -> ObjectStatus {
    let kind = str_at(obj, "/kind").unwrap_or_default().to_owned();
    let (kind, namespace, name) = meta_ref(obj, &kind);
    let (state, reason, message) = workload_state(&kind, obj);
    ObjectStatus {
        kind,
        namespace,
        name,
        ready: state == State::Ready,
        state,
        suspended: false,
        revision: None,
        attempted_revision: None,
        reason,
        message,
        depends_on: Vec::new(),
        source: None,
        applied_by: None,
        last_handled: None,
    }
}

fn in_progress(reason: &str, message: String) -> (State, String, String) {
    (State::Progressing, reason.to_owned(), message)
}

/// The first count short of what is wanted, in kstatus's order: `(want, have, reason, what)`.
fn first_short(counts: &[(i64, i64, &str, &str)]) -> Option<(State, String, String)> {
    counts
        .iter()
        .find(|(want, have, _, _)| want > have)
        .map(|(want, have, reason, what)| in_progress(reason, format!("{have}/{want} {what}")))
}

/// Pods of an old revision still terminating.
fn extra_pods(spec: i64, replicas: i64) -> Option<(State, String, String)> {
    (replicas > spec).then(|| {
        in_progress(
            "ExtraPods",
            format!("{} old pod(s) terminating", replicas - spec),
        )
    })
}

fn workload_state(kind: &str, obj: &Value) -> (State, String, String) {
    if str_at(obj, "/metadata/deletionTimestamp").is_some() {
        return (
            State::Terminating,
            "Terminating".into(),
            "being deleted".into(),
        );
    }
    // The DaemonSet controller always sets observedGeneration; the others may not have yet.
    if let Some(stale) = stale_generation(obj, kind == "DaemonSet") {
        return in_progress("LatestGenerationNotObserved", stale);
    }
    let n = |pointer: &str, default: i64| int_at(obj, pointer).unwrap_or(default);
    match kind {
        "Deployment" => {
            if let Some(c) = condition(obj, "Progressing")
                && cond_text(c, "reason") == "ProgressDeadlineExceeded"
            {
                return (
                    State::Stalled,
                    "ProgressDeadlineExceeded".into(),
                    cond_text(c, "message"),
                );
            }
            let spec = n("/spec/replicas", 1);
            let replicas = n("/status/replicas", 0);
            let updated = n("/status/updatedReplicas", 0);
            let ready = n("/status/readyReplicas", 0);
            let available = n("/status/availableReplicas", 0);
            let short = first_short(&[
                (spec, replicas, "LessReplicas", "replicas"),
                (spec, updated, "LessUpdated", "updated"),
            ])
            .or_else(|| extra_pods(spec, replicas))
            .or_else(|| {
                first_short(&[
                    (updated, available, "LessAvailable", "available"),
                    (spec, ready, "LessReady", "ready"),
                ])
            });
            if let Some(short) = short {
                return short;
            }
            if let Some(c) = condition(obj, "Available")
                && !is_true(Some(c))
            {
                return in_progress("DeploymentNotAvailable", cond_text(c, "message"));
            }
            (
                State::Ready,
                "Available".into(),
                format!("{ready}/{spec} ready"),
            )
        }
        "DaemonSet" => {
            let desired = n("/status/desiredNumberScheduled", -1);
            if desired < 0 {
                return in_progress("NoDesiredNumber", "not scheduled yet".into());
            }
            let short = first_short(&[
                (
                    desired,
                    n("/status/currentNumberScheduled", 0),
                    "LessCurrent",
                    "nodes scheduled",
                ),
                (
                    desired,
                    n("/status/updatedNumberScheduled", 0),
                    "LessUpdated",
                    "nodes updated",
                ),
                (
                    desired,
                    n("/status/numberAvailable", 0),
                    "LessAvailable",
                    "nodes available",
                ),
                (
                    desired,
                    n("/status/numberReady", 0),
                    "LessReady",
                    "nodes ready",
                ),
            ]);
            if let Some(short) = short {
                return short;
            }
            (
                State::Ready,
                "Available".into(),
                format!("ready on {desired}/{desired} nodes"),
            )
        }
        "StatefulSet" => {
            let spec = n("/spec/replicas", 1);
            let replicas = n("/status/replicas", 0);
            let ready = n("/status/readyReplicas", 0);
            let short = first_short(&[
                (spec, replicas, "LessReplicas", "replicas"),
                (spec, ready, "LessReady", "ready"),
            ])
            .or_else(|| extra_pods(spec, replicas));
            if let Some(short) = short {
                return short;
            }
            if str_at(obj, "/spec/updateStrategy/type") != Some("OnDelete")
                && str_at(obj, "/status/currentRevision") != str_at(obj, "/status/updateRevision")
            {
                return in_progress("RevisionMismatch", "rolling out a new revision".into());
            }
            (
                State::Ready,
                "Available".into(),
                format!("{ready}/{spec} ready"),
            )
        }
        _ => match condition(obj, "Ready") {
            Some(c) if is_true(Some(c)) => (
                State::Ready,
                cond_text(c, "reason"),
                cond_text(c, "message"),
            ),
            Some(c) => (
                State::Failed,
                cond_text(c, "reason"),
                cond_text(c, "message"),
            ),
            None => in_progress("NotReconciled", "no Ready condition yet".into()),
        },
    }
}

/// An object with a `Ready` condition that is not a Flux object (cert-manager's issuers and
/// certificates): the generic rules, without revisions.
pub fn evaluate_conditions(kind: &str, obj: &Value) -> ObjectStatus {
    let mut status = evaluate_workload(obj);
    status.kind = kind.to_owned();
    status
}

/// The Flux objects of one kind in the cluster, or why they could not be read.
#[derive(Debug, Clone)]
pub enum Listed {
    Objects(Vec<ObjectStatus>),
    /// The kind is not served: its CRD is not installed.
    NotInstalled,
    Error(String),
}

/// Every Flux object of the cluster, by kind (in [`FLUX_KINDS`] order), read concurrently.
pub async fn list_flux(client: &Client) -> Vec<(FluxKind, Listed)> {
    let mut reads = tokio::task::JoinSet::new();
    for (index, kind) in FLUX_KINDS.iter().copied().enumerate() {
        let client = client.clone();
        reads.spawn(async move { (index, kind, list_kind(&client, &kind).await) });
    }
    let mut out = Vec::new();
    while let Some(joined) = reads.join_next().await {
        match joined {
            Ok(read) => out.push(read),
            Err(e) => return vec![(GIT_REPOSITORY, Listed::Error(e.to_string()))],
        }
    }
    out.sort_by_key(|(index, _, _)| *index);
    out.into_iter()
        .map(|(_, kind, listed)| (kind, listed))
        .collect()
}

/// The objects of one Flux kind, evaluated and sorted by namespace and name.
pub async fn list_kind(client: &Client, kind: &FluxKind) -> Listed {
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &kind.resource());
    match api.list(&ListParams::default()).await {
        Ok(list) => {
            let mut objects: Vec<ObjectStatus> = list
                .items
                .iter()
                .map(|o| evaluate_flux(kind, &serde_json::to_value(o).unwrap_or_default()))
                .collect();
            objects.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
            Listed::Objects(objects)
        }
        Err(kube::Error::Api(s)) if s.code == 404 => Listed::NotInstalled,
        Err(e) => Listed::Error(describe(&e)),
    }
}

/// Kustomizations in the order their `dependsOn` implies (dependencies first; ties by
/// namespace and name; a cycle or a missing dependency does not stop the rest).
pub fn dependency_order(kustomizations: &[ObjectStatus]) -> Vec<&ObjectStatus> {
    let by_ref: BTreeMap<ObjectRef, &ObjectStatus> =
        kustomizations.iter().map(|k| (k.reference(), k)).collect();
    let mut done: BTreeMap<ObjectRef, bool> = BTreeMap::new();
    let mut order = Vec::new();
    fn visit<'a>(
        k: &'a ObjectStatus,
        by_ref: &BTreeMap<ObjectRef, &'a ObjectStatus>,
        done: &mut BTreeMap<ObjectRef, bool>,
        order: &mut Vec<&'a ObjectStatus>,
    ) {
        let key = k.reference();
        if done.contains_key(&key) {
            return; // visited, or on the current path (a cycle)
        }
        done.insert(key.clone(), false);
        for dep in &k.depends_on {
            if let Some(d) = by_ref.get(dep) {
                visit(d, by_ref, done, order);
            }
        }
        done.insert(key, true);
        order.push(k);
    }
    for k in by_ref.values() {
        visit(k, &by_ref, &mut done, &mut order);
    }
    order
}

/// `main@sha1:0123456789abcdef…` → `main@sha1:0123456` (for people; JSON keeps it whole).
pub fn short_revision(rev: &str) -> String {
    match rev.rsplit_once(':') {
        Some((prefix, hash)) if hash.len() > 7 && hash.chars().all(|c| c.is_ascii_hexdigit()) => {
            format!("{prefix}:{}", &hash[..7])
        }
        _ => rev.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ready(status: &str, message: &str) -> Value {
        json!({"type": "Ready", "status": status, "reason": "Because", "message": message})
    }

    fn kustomization(generation: i64, observed: i64, conditions: Value) -> Value {
        json!({
            "kind": "Kustomization",
            "metadata": {"name": "apps", "namespace": "flux-system", "generation": generation},
            "spec": {"sourceRef": {"kind": "GitRepository", "name": "flux-system"},
                "dependsOn": [{"name": "infra-configs"}]},
            "status": {"observedGeneration": observed, "conditions": conditions,
                "lastAppliedRevision": "main@sha1:aaa", "lastAttemptedRevision": "main@sha1:bbb"}
        })
    }

    #[test]
    fn ready_true_at_the_current_generation_is_ready() {
        let st = evaluate_flux(
            &KUSTOMIZATION,
            &kustomization(
                2,
                2,
                json!([ready("True", "Applied revision: main@sha1:aaa")]),
            ),
        );
        assert_eq!(st.state, State::Ready);
        assert!(st.ready);
        assert_eq!(st.revision.as_deref(), Some("main@sha1:aaa"));
        assert_eq!(st.attempted_revision.as_deref(), Some("main@sha1:bbb"));
        assert_eq!(
            st.source,
            Some(ObjectRef {
                kind: "GitRepository".into(),
                namespace: "flux-system".into(),
                name: "flux-system".into()
            })
        );
        assert_eq!(st.depends_on[0].name, "infra-configs");
        assert_eq!(st.depends_on[0].namespace, "flux-system");
    }

    #[test]
    fn a_stale_observed_generation_is_not_ready_whatever_the_conditions_say() {
        let st = evaluate_flux(
            &KUSTOMIZATION,
            &kustomization(3, 2, json!([ready("True", "ok")])),
        );
        assert_eq!(st.state, State::Progressing);
        assert!(!st.ready);
        assert!(
            st.message.contains("generation 3 not reconciled yet"),
            "{}",
            st.message
        );
        // The Ready condition's own observedGeneration counts too.
        let mut obj = kustomization(3, 3, json!([ready("True", "ok")]));
        obj["status"]["conditions"][0]["observedGeneration"] = json!(2);
        assert!(!evaluate_flux(&KUSTOMIZATION, &obj).ready);
        // And no observedGeneration at all is not current either.
        let mut obj = kustomization(1, 1, json!([ready("True", "ok")]));
        obj["status"]
            .as_object_mut()
            .unwrap()
            .remove("observedGeneration");
        assert!(!evaluate_flux(&KUSTOMIZATION, &obj).ready);
    }

    #[test]
    fn stalled_reconciling_failed_and_unreconciled() {
        let stalled = kustomization(
            1,
            1,
            json!([ready("False", "x"), {"type": "Stalled", "status": "True", "reason": "InvalidPath", "message": "path not found"}]),
        );
        let st = evaluate_flux(&KUSTOMIZATION, &stalled);
        assert_eq!(
            (st.state, st.message.as_str()),
            (State::Stalled, "path not found")
        );
        let reconciling = kustomization(
            1,
            1,
            json!([ready("Unknown", "x"), {"type": "Reconciling", "status": "True", "reason": "Progressing", "message": "building"}]),
        );
        assert_eq!(
            evaluate_flux(&KUSTOMIZATION, &reconciling).state,
            State::Progressing
        );
        let failed = kustomization(
            1,
            1,
            json!([ready("False", "kustomize build failed:\n  boom")]),
        );
        let st = evaluate_flux(&KUSTOMIZATION, &failed);
        assert_eq!(st.state, State::Failed);
        assert_eq!(st.message, "kustomize build failed: boom");
        let fresh = json!({"kind": "GitRepository", "metadata": {"name": "a", "namespace": "b"}});
        let st = evaluate_flux(&GIT_REPOSITORY, &fresh);
        assert_eq!(
            (st.state, st.message.as_str()),
            (State::Progressing, "waiting to be reconciled")
        );
    }

    #[test]
    fn a_release_retrying_after_a_failure_shows_the_failure() {
        // What helm-controller sets after a failed install with the RetryOnFailure strategy.
        let hr = json!({"kind": "HelmRelease",
        "metadata": {"name": "syncthing", "namespace": "syncthing", "generation": 2},
        "status": {"observedGeneration": 2, "conditions": [
            {"type": "Reconciling", "status": "True", "reason": "ProgressingWithRetry",
                "message": "retrying after 5m0s"},
            {"type": "Ready", "status": "False", "reason": "InstallFailed",
                "message": "Helm install failed for release syncthing/syncthing: values don't meet the specifications:\n- at '/image/pullPolicy': value must be one of 'Always', 'IfNotPresent', 'Never'"},
        ]}});
        let st = evaluate_flux(&HELM_RELEASE, &hr);
        assert_eq!(st.state, State::Progressing);
        assert_eq!(st.reason, "ProgressingWithRetry");
        assert_eq!(
            st.message,
            "Helm install failed for release syncthing/syncthing: values don't meet the specifications: - at '/image/pullPolicy': value must be one of 'Always', 'IfNotPresent', 'Never' (retrying after 5m0s)"
        );
    }

    #[test]
    fn revisions_per_kind() {
        let hr = json!({"metadata": {"name": "n", "namespace": "n", "generation": 1},
            "spec": {"chartRef": {"kind": "OCIRepository", "name": "n"}},
            "status": {"observedGeneration": 1, "conditions": [ready("True", "ok")],
                "history": [{"chartVersion": "9.2.4"}], "lastAttemptedRevision": "9.2.5"}});
        let st = evaluate_flux(&HELM_RELEASE, &hr);
        assert_eq!(st.revision.as_deref(), Some("9.2.4"));
        assert_eq!(st.attempted_revision.as_deref(), Some("9.2.5"));
        assert_eq!(st.source.unwrap().to_string(), "OCIRepository n/n");
        let git = json!({"metadata": {"name": "a", "namespace": "b", "generation": 1},
            "status": {"observedGeneration": 1, "conditions": [ready("True", "stored")],
                "artifact": {"revision": "main@sha1:abc"}}});
        assert_eq!(
            evaluate_flux(&GIT_REPOSITORY, &git).revision.as_deref(),
            Some("main@sha1:abc")
        );
        let from_repo = json!({"metadata": {"name": "metallb", "namespace": "metallb-system"},
            "spec": {"chart": {"spec": {"chart": "metallb", "sourceRef": {"kind": "HelmRepository", "name": "metallb"}}}}});
        assert_eq!(
            evaluate_flux(&HELM_RELEASE, &from_repo)
                .source
                .unwrap()
                .to_string(),
            "HelmChart metallb-system/metallb-system-metallb"
        );
    }

    #[test]
    fn suspended_is_a_flag_and_static_oci_repositories_are_ready() {
        let mut obj = kustomization(1, 1, json!([ready("True", "ok")]));
        obj["spec"]["suspend"] = json!(true);
        let st = evaluate_flux(&KUSTOMIZATION, &obj);
        assert!(st.ready && st.suspended);
        assert!(st.describe().ends_with("[suspended]"));
        let oci = json!({"metadata": {"name": "a", "namespace": "b", "generation": 1},
            "spec": {"type": "oci", "url": "oci://ghcr.io/x"}});
        assert!(evaluate_flux(&HELM_REPOSITORY, &oci).ready);
    }

    #[test]
    fn deployments_need_their_rollout_done_at_their_generation() {
        let mut d = json!({"kind": "Deployment", "metadata": {"name": "d", "namespace": "n", "generation": 2},
            "spec": {"replicas": 1},
            "status": {"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1, "readyReplicas": 1,
                "availableReplicas": 1, "conditions": [{"type": "Available", "status": "True"}]}});
        assert!(!evaluate_workload(&d).ready);
        d["status"]["observedGeneration"] = json!(2);
        assert!(evaluate_workload(&d).ready);
        d["status"]["readyReplicas"] = json!(0);
        let st = evaluate_workload(&d);
        assert_eq!((st.ready, st.message.as_str()), (false, "0/1 ready"));
        d["status"]["conditions"] = json!([{"type": "Progressing", "status": "False",
            "reason": "ProgressDeadlineExceeded", "message": "ReplicaSet \"d-1\" has timed out progressing."}]);
        assert_eq!(evaluate_workload(&d).state, State::Stalled);
    }

    #[test]
    fn daemonsets_need_every_node() {
        let mut ds = json!({"kind": "DaemonSet", "metadata": {"name": "s", "namespace": "n", "generation": 1},
            "status": {"observedGeneration": 1, "desiredNumberScheduled": 2, "currentNumberScheduled": 2,
                "updatedNumberScheduled": 2, "numberAvailable": 2, "numberReady": 1}});
        let st = evaluate_workload(&ds);
        assert_eq!((st.ready, st.message.as_str()), (false, "1/2 nodes ready"));
        ds["status"]["numberReady"] = json!(2);
        assert!(evaluate_workload(&ds).ready);
        ds["status"]
            .as_object_mut()
            .unwrap()
            .remove("observedGeneration");
        assert!(!evaluate_workload(&ds).ready);
    }

    #[test]
    fn kustomizations_are_ordered_by_their_dependencies() {
        let k = |name: &str, deps: &[&str]| ObjectStatus {
            kind: "Kustomization".into(),
            namespace: "flux-system".into(),
            name: name.into(),
            ready: true,
            state: State::Ready,
            suspended: false,
            revision: None,
            attempted_revision: None,
            reason: String::new(),
            message: String::new(),
            depends_on: deps
                .iter()
                .map(|d| ObjectRef {
                    kind: "Kustomization".into(),
                    namespace: "flux-system".into(),
                    name: (*d).into(),
                })
                .collect(),
            source: None,
            applied_by: None,
            last_handled: None,
        };
        let all = [
            k("apps", &["infra-configs"]),
            k("infra-configs", &["infra-controllers"]),
            k("flux-system", &[]),
            k("infra-controllers", &[]),
            k("loop-a", &["loop-b"]),
            k("loop-b", &["loop-a"]),
        ];
        let names: Vec<&str> = dependency_order(&all)
            .iter()
            .map(|k| k.name.as_str())
            .collect();
        assert_eq!(
            names,
            [
                "infra-controllers",
                "infra-configs",
                "apps",
                "flux-system",
                "loop-b",
                "loop-a"
            ]
        );
    }

    #[test]
    fn revisions_are_shortened() {
        assert_eq!(
            short_revision("main@sha1:0123456789abcdef"),
            "main@sha1:0123456"
        );
        assert_eq!(short_revision("v1.2.3"), "v1.2.3");
        assert_eq!(short_revision("9.2.4"), "9.2.4");
    }
}
