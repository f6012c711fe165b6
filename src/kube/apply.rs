//! Server-side apply of a set of manifests, in the order a fresh cluster needs them:
//! Namespaces, then CustomResourceDefinitions (waiting until they are Established and their
//! kinds are served), then everything else.
//!
//! Why not just loop over `kubectl apply`: we want no binaries at run time, one discovery
//! request per group-version instead of per object, objects applied concurrently, a report of
//! what actually changed (so a rerun can say "no changes"), and retries that ride out an API
//! server restart or an etcd leader election half way through.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams, ValidationDirective};
use kube::{Client, core::GroupVersionKind};
use serde_json::Value;

use crate::error::{Error, Result};

/// The field manager every object is applied with; `doctor` and reruns rely on it.
pub const FIELD_MANAGER: &str = "homelab";

/// How long one request keeps being retried on transient errors (a restarting API server
/// takes seconds, an etcd leader election less).
const RETRY_BUDGET: Duration = Duration::from_secs(120);
/// How long a just-created CRD may take to be Established and served.
const CRD_BUDGET: Duration = Duration::from_secs(90);
/// Objects applied at once: enough to hide latency, few enough not to trip rate limits.
const CONCURRENCY: usize = 8;

/// How to apply.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApplyOptions {
    /// Server-side dry run: the server validates and computes, nothing is stored.
    pub dry_run: bool,
    /// Reject unknown or duplicate fields (fieldValidation=Strict) instead of dropping them.
    pub field_validation_strict: bool,
}

/// What applying one object did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Created,
    Configured,
    Unchanged,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Created => "created",
            Outcome::Configured => "configured",
            Outcome::Unchanged => "unchanged",
        }
    }
}

/// One applied object.
#[derive(Debug, Clone)]
pub struct Applied {
    pub api_version: String,
    pub kind: String,
    /// `None` for cluster-scoped objects.
    pub namespace: Option<String>,
    pub name: String,
    pub outcome: Outcome,
    /// Dry run only: why the server could not validate the object (its CRD or namespace is
    /// itself only being dry-run).
    pub unvalidated: Option<String>,
}

impl Applied {
    /// `Kind/name` or `Kind/namespace/name`.
    pub fn id(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{}/{ns}/{}", self.kind, self.name),
            None => format!("{}/{}", self.kind, self.name),
        }
    }
}

/// What an apply did, object by object.
#[derive(Debug, Clone, Default)]
pub struct ApplyReport {
    pub objects: Vec<Applied>,
    /// Requests that failed transiently and were retried.
    pub retries: usize,
}

impl ApplyReport {
    pub fn count(&self, outcome: Outcome) -> usize {
        self.objects.iter().filter(|o| o.outcome == outcome).count()
    }

    /// Whether nothing was created or changed.
    pub fn is_unchanged(&self) -> bool {
        self.objects.iter().all(|o| o.outcome == Outcome::Unchanged)
    }

    /// `3 created, 1 configured, 40 unchanged`.
    pub fn summary(&self) -> String {
        format!(
            "{} created, {} configured, {} unchanged",
            self.count(Outcome::Created),
            self.count(Outcome::Configured),
            self.count(Outcome::Unchanged)
        )
    }

    pub fn extend(&mut self, other: ApplyReport) {
        self.objects.extend(other.objects);
        self.retries += other.retries;
    }

    pub fn find(&self, kind: &str, name: &str) -> Option<&Applied> {
        self.objects
            .iter()
            .find(|o| o.kind == kind && o.name == name)
    }
}

/// Parse a multi-document YAML stream into JSON values, skipping empty documents.
pub fn parse_documents(yaml: &str) -> Result<Vec<Value>> {
    let docs: Vec<Value> =
        serde_saphyr::from_multiple(yaml).map_err(|e| Error::failed(e.to_string()))?;
    Ok(docs
        .into_iter()
        .filter(|d| !d.is_null() && d.as_object().is_none_or(|o| !o.is_empty()))
        .collect())
}

/// A kind as the server serves it.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub resource: ApiResource,
    pub namespaced: bool,
}

/// Applies manifests; remembers discovery per group-version across calls.
pub struct Applier {
    client: Client,
    opts: ApplyOptions,
    cache: HashMap<String, HashMap<String, Resolved>>,
    retries: Arc<AtomicUsize>,
    /// `(apiVersion, kind)` provided by CRDs this applier applied (or dry-ran).
    provided: BTreeSet<(String, String)>,
}

impl std::fmt::Debug for Applier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Applier")
            .field("opts", &self.opts)
            .field("cached_group_versions", &self.cache.len())
            .finish_non_exhaustive()
    }
}

fn str_at<'a>(doc: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = doc;
    for key in path {
        cur = cur.get(key)?;
    }
    cur.as_str()
}

/// `(apiVersion, kind, namespace, name)` of a manifest, or an error naming what is missing.
fn identity(doc: &Value) -> Result<(String, String, Option<String>, String)> {
    let api_version = str_at(doc, &["apiVersion"]).unwrap_or_default();
    let kind = str_at(doc, &["kind"]).unwrap_or_default();
    let name = str_at(doc, &["metadata", "name"]).unwrap_or_default();
    if api_version.is_empty() || kind.is_empty() || name.is_empty() {
        return Err(Error::usage(format!(
            "a manifest lacks apiVersion, kind or metadata.name (apiVersion {api_version:?}, kind {kind:?}, name {name:?})"
        ))
        .with_hint("every document must be a complete Kubernetes object; check the files listed in kustomization.yaml"));
    }
    let namespace = str_at(doc, &["metadata", "namespace"]).map(str::to_owned);
    Ok((
        api_version.to_owned(),
        kind.to_owned(),
        namespace,
        name.to_owned(),
    ))
}

fn is_kind(doc: &Value, api_version: &str, kind: &str) -> bool {
    str_at(doc, &["apiVersion"]) == Some(api_version) && str_at(doc, &["kind"]) == Some(kind)
}

fn is_namespace(doc: &Value) -> bool {
    is_kind(doc, "v1", "Namespace")
}

fn is_crd(doc: &Value) -> bool {
    is_kind(doc, "apiextensions.k8s.io/v1", "CustomResourceDefinition")
}

/// Whether a failed request is worth repeating: the connection dropped or was refused, the
/// server is overloaded or restarting, or etcd is electing a leader.
pub fn is_transient(err: &kube::Error) -> bool {
    match err {
        kube::Error::Api(status) => {
            matches!(status.code, 429 | 500 | 502 | 503 | 504)
                || status.message.contains("etcdserver:")
                || status.message.contains("leader changed")
                || status.message.contains("please try again")
        }
        kube::Error::HyperError(_) | kube::Error::Service(_) => true,
        _ => false,
    }
}

fn is_not_found(err: &kube::Error) -> bool {
    matches!(err, kube::Error::Api(s) if s.code == 404)
}

/// A 404 for the object's namespace (not for its kind).
fn is_namespace_not_found(err: &kube::Error) -> bool {
    matches!(err, kube::Error::Api(s) if s.code == 404 && s.message.starts_with("namespaces \""))
}

/// Run `f` until it succeeds, fails for good, or the retry budget is spent.
/// `retry_not_found` also retries 404s (a just-registered kind not yet served).
async fn with_retry<T, F, Fut>(
    retries: &AtomicUsize,
    retry_not_found: bool,
    mut f: F,
) -> std::result::Result<T, kube::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = std::result::Result<T, kube::Error>>,
{
    let start = tokio::time::Instant::now();
    let mut delay = Duration::from_millis(200);
    loop {
        match f().await {
            Ok(v) => return Ok(v),
            Err(e) => {
                let budget = if is_transient(&e) {
                    RETRY_BUDGET
                } else if retry_not_found && is_not_found(&e) && !is_namespace_not_found(&e) {
                    CRD_BUDGET
                } else {
                    return Err(e);
                };
                if start.elapsed() + delay > budget {
                    return Err(e);
                }
                retries.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(3));
            }
        }
    }
}

/// The object without what an apply of ours never sets: the fields the server changes on
/// every write, field ownership, and the status controllers write. Two objects comparable
/// alike are the same to whoever reads them, so an apply between them changes nothing.
fn comparable(obj: &DynamicObject) -> Value {
    let mut v = serde_json::to_value(obj).unwrap_or(Value::Null);
    if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        for key in ["resourceVersion", "managedFields", "generation"] {
            meta.remove(key);
        }
    }
    if let Some(map) = v.as_object_mut() {
        map.remove("status");
    }
    v
}

async fn apply_one(
    client: Client,
    resolved: Resolved,
    doc: Value,
    opts: ApplyOptions,
    retries: Arc<AtomicUsize>,
) -> Result<Applied> {
    let (api_version, kind, namespace, name) = identity(&doc)?;
    let namespace = resolved
        .namespaced
        .then(|| namespace.unwrap_or_else(|| "default".to_owned()));
    let api: Api<DynamicObject> = match &namespace {
        Some(ns) => Api::namespaced_with(client, ns, &resolved.resource),
        None => Api::all_with(client, &resolved.resource),
    };
    let id = match &namespace {
        Some(ns) => format!("{kind}/{ns}/{name}"),
        None => format!("{kind}/{name}"),
    };
    let fail = |e: kube::Error| {
        Error::failed(format!("cannot apply {id}: {}", crate::kube::client::describe(&e)))
            .with_hint("fix the manifest (or the cluster) and run the command again; objects already applied are kept")
    };
    let before = with_retry(&retries, false, || api.get_opt(&name))
        .await
        .map_err(fail)?;
    let mut params = PatchParams::apply(FIELD_MANAGER).force();
    params.dry_run = opts.dry_run;
    if opts.field_validation_strict {
        params.field_validation = Some(ValidationDirective::Strict);
    }
    let patch = Patch::Apply(&doc);
    // An object that exists is applied only when that changes it. A forced apply of the
    // same content still writes when another manager (Flux's kustomize-controller, once it
    // applied the same manifests) owns a field whose stored form differs from ours
    // (`pods: "1000"` is stored as `1k`, `fieldRef` gains its defaulted `apiVersion`): it
    // moves the field's ownership back to us, which bumps the resourceVersion and makes
    // every rerun "configured" while nothing a reader sees changed. The server's dry run
    // says what the apply would store, as Flux itself decides.
    if let Some(before) = before.as_ref().filter(|_| !opts.dry_run) {
        let mut dry = params.clone();
        dry.dry_run = true;
        let would = with_retry(&retries, true, || api.patch(&name, &dry, &patch))
            .await
            .map_err(fail)?;
        if comparable(before) == comparable(&would) {
            return Ok(Applied {
                api_version,
                kind,
                namespace,
                name,
                outcome: Outcome::Unchanged,
                unvalidated: None,
            });
        }
    }
    let after = match with_retry(&retries, true, || api.patch(&name, &params, &patch)).await {
        Ok(after) => after,
        // A dry run in a namespace the same dry run only pretends to create: the server
        // decoded (and strictly validated) the object, but cannot go further.
        Err(e) if opts.dry_run && is_namespace_not_found(&e) => {
            return Ok(Applied {
                api_version,
                kind,
                namespace,
                name,
                outcome: Outcome::Created,
                unvalidated: Some("its namespace does not exist yet".to_owned()),
            });
        }
        Err(e) => return Err(fail(e)),
    };
    let outcome = match before {
        None => Outcome::Created,
        Some(before) if opts.dry_run => {
            if comparable(&before) == comparable(&after) {
                Outcome::Unchanged
            } else {
                Outcome::Configured
            }
        }
        Some(before) => {
            if before.metadata.resource_version == after.metadata.resource_version {
                Outcome::Unchanged
            } else {
                Outcome::Configured
            }
        }
    };
    Ok(Applied {
        api_version,
        kind,
        namespace,
        name,
        outcome,
        unvalidated: None,
    })
}

impl Applier {
    pub fn new(client: Client, opts: ApplyOptions) -> Self {
        Self {
            client,
            opts,
            cache: HashMap::new(),
            retries: Arc::new(AtomicUsize::new(0)),
            provided: BTreeSet::new(),
        }
    }

    pub fn options(&self) -> ApplyOptions {
        self.opts
    }

    /// Forget what discovery said about a group-version (after its CRDs changed).
    pub fn forget(&mut self, api_version: &str) {
        self.cache.remove(api_version);
    }

    /// How the server serves `kind` of `api_version`, from the cache or one discovery request
    /// for the whole group-version. `None` when the server does not serve it (yet).
    pub async fn resolve(&mut self, api_version: &str, kind: &str) -> Result<Option<Resolved>> {
        if !self.cache.contains_key(api_version) {
            let client = self.client.clone();
            let gv = api_version.to_owned();
            let listed = with_retry(&self.retries, false, || {
                let client = client.clone();
                let gv = gv.clone();
                async move {
                    if gv.contains('/') {
                        client.list_api_group_resources(&gv).await
                    } else {
                        client.list_core_api_resources(&gv).await
                    }
                }
            })
            .await;
            let list = match listed {
                Ok(list) => list,
                Err(e) if is_not_found(&e) => return Ok(None),
                Err(e) => {
                    return Err(Error::failed(format!(
                        "cannot discover the API group-version {api_version}: {}",
                        crate::kube::client::describe(&e)
                    )));
                }
            };
            let (group, version) = match api_version.split_once('/') {
                Some((g, v)) => (g.to_owned(), v.to_owned()),
                None => (String::new(), api_version.to_owned()),
            };
            let kinds = list
                .resources
                .into_iter()
                .filter(|r| !r.name.contains('/'))
                .map(|r| {
                    let gvk = GroupVersionKind::gvk(&group, &version, &r.kind);
                    let resolved = Resolved {
                        resource: ApiResource::from_gvk_with_plural(&gvk, &r.name),
                        namespaced: r.namespaced,
                    };
                    (r.kind, resolved)
                })
                .collect();
            self.cache.insert(api_version.to_owned(), kinds);
        }
        Ok(self
            .cache
            .get(api_version)
            .and_then(|kinds| kinds.get(kind))
            .cloned())
    }

    /// Resolve, re-discovering for a while if the kind is not served yet (a CRD that was
    /// just Established can take a moment to show up in discovery).
    async fn resolve_waiting(&mut self, api_version: &str, kind: &str) -> Result<Resolved> {
        let start = tokio::time::Instant::now();
        loop {
            if let Some(r) = self.resolve(api_version, kind).await? {
                return Ok(r);
            }
            if start.elapsed() > CRD_BUDGET {
                return Err(Error::failed(format!(
                    "the cluster does not serve kind {kind} of {api_version}"
                ))
                .with_hint("install the CustomResourceDefinition that provides it first (or check the apiVersion for typos)"));
            }
            self.forget(api_version);
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Apply documents concurrently; all must already resolve.
    async fn apply_batch(&mut self, docs: Vec<(Resolved, Value)>) -> Result<Vec<Applied>> {
        let semaphore = Arc::new(tokio::sync::Semaphore::new(CONCURRENCY));
        let mut tasks = tokio::task::JoinSet::new();
        for (index, (resolved, doc)) in docs.into_iter().enumerate() {
            let client = self.client.clone();
            let opts = self.opts;
            let retries = self.retries.clone();
            let semaphore = semaphore.clone();
            tasks.spawn(async move {
                let _permit = semaphore.acquire_owned().await;
                (index, apply_one(client, resolved, doc, opts, retries).await)
            });
        }
        let mut results = Vec::new();
        let mut first_error = None;
        while let Some(joined) = tasks.join_next().await {
            let (index, result) = joined.map_err(|e| Error::failed(e.to_string()))?;
            match result {
                Ok(applied) => results.push((index, applied)),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        if let Some(e) = first_error {
            return Err(e);
        }
        results.sort_by_key(|(i, _)| *i);
        Ok(results.into_iter().map(|(_, a)| a).collect())
    }

    /// Wait until every named CRD is Established.
    async fn wait_established(&self, names: &[String]) -> Result<()> {
        let api: Api<CustomResourceDefinition> = Api::all(self.client.clone());
        for name in names {
            let start = tokio::time::Instant::now();
            loop {
                let crd = with_retry(&self.retries, false, || api.get_opt(name))
                    .await
                    .map_err(|e| {
                        Error::failed(format!(
                            "cannot read CustomResourceDefinition {name}: {}",
                            crate::kube::client::describe(&e)
                        ))
                    })?;
                let established = crd
                    .and_then(|c| c.status)
                    .and_then(|s| s.conditions)
                    .is_some_and(|conds| {
                        conds
                            .iter()
                            .any(|c| c.type_ == "Established" && c.status == "True")
                    });
                if established {
                    break;
                }
                if start.elapsed() > CRD_BUDGET {
                    return Err(Error::failed(format!(
                        "CustomResourceDefinition {name} did not become Established"
                    ))
                    .with_hint("check the API server's logs; then run the command again"));
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
        Ok(())
    }

    /// Apply `docs`: Namespaces, then CRDs (waiting until Established), then the rest.
    pub async fn apply(&mut self, docs: &[Value]) -> Result<ApplyReport> {
        for doc in docs {
            identity(doc)?;
        }
        let retries_before = self.retries.load(Ordering::Relaxed);
        let mut report = ApplyReport::default();

        let namespaces: Vec<Value> = docs.iter().filter(|d| is_namespace(d)).cloned().collect();
        let crds: Vec<Value> = docs.iter().filter(|d| is_crd(d)).cloned().collect();
        let rest: Vec<Value> = docs
            .iter()
            .filter(|d| !is_namespace(d) && !is_crd(d))
            .cloned()
            .collect();

        for phase in [namespaces, crds.clone()] {
            let mut batch = Vec::new();
            for doc in phase {
                let (api_version, kind, _, _) = identity(&doc)?;
                batch.push((self.resolve_waiting(&api_version, &kind).await?, doc));
            }
            report.objects.extend(self.apply_batch(batch).await?);
        }

        // Kinds the CRDs provide: served only once they are Established.
        let mut crd_names = Vec::new();
        let mut new_group_versions = BTreeSet::new();
        for crd in &crds {
            if let Some(name) = str_at(crd, &["metadata", "name"]) {
                crd_names.push(name.to_owned());
            }
            let group = str_at(crd, &["spec", "group"]).unwrap_or_default();
            let kind = str_at(crd, &["spec", "names", "kind"]).unwrap_or_default();
            for version in crd
                .pointer("/spec/versions")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(v) = version.get("name").and_then(Value::as_str) {
                    let gv = format!("{group}/{v}");
                    new_group_versions.insert(gv.clone());
                    self.provided.insert((gv, kind.to_owned()));
                }
            }
        }
        if !self.opts.dry_run && !crd_names.is_empty() {
            self.wait_established(&crd_names).await?;
        }
        for api_version in &new_group_versions {
            self.forget(api_version);
        }

        let mut batch = Vec::new();
        let mut pending = Vec::new();
        for doc in rest {
            let (api_version, kind, namespace, name) = identity(&doc)?;
            let provided = self.provided.contains(&(api_version.clone(), kind.clone()));
            let resolved = if provided && !self.opts.dry_run {
                Some(self.resolve_waiting(&api_version, &kind).await?)
            } else {
                self.resolve(&api_version, &kind).await?
            };
            let unvalidated = match &resolved {
                // The CRD was only dry-run: the kind is not served.
                None if provided && self.opts.dry_run => {
                    Some("its CRD does not exist yet".to_owned())
                }
                None => {
                    return Err(Error::failed(format!(
                        "the cluster does not serve kind {kind} of {api_version}"
                    ))
                    .with_hint("install the CustomResourceDefinition that provides it first (or check the apiVersion for typos)"));
                }
                Some(_) => None,
            };
            match (resolved, unvalidated) {
                (Some(resolved), None) => batch.push((resolved, doc)),
                (_, reason) => pending.push(Applied {
                    api_version,
                    kind,
                    namespace,
                    name,
                    outcome: Outcome::Created,
                    unvalidated: reason,
                }),
            }
        }
        let custom: Vec<(Resolved, Value)> = batch
            .iter()
            .filter(|(r, _)| {
                self.provided
                    .contains(&(r.resource.api_version.clone(), r.resource.kind.clone()))
            })
            .cloned()
            .collect();
        let applied = self.apply_batch(batch).await?;
        // The API server stores a custom resource created right after its CRD without the
        // schema's defaults, and persists them on the next apply: without this second,
        // otherwise no-op apply, every rerun would report it "configured".
        let created: BTreeSet<(String, String, String)> = applied
            .iter()
            .filter(|a| a.outcome == Outcome::Created)
            .map(|a| {
                (
                    a.kind.clone(),
                    a.namespace.clone().unwrap_or_default(),
                    a.name.clone(),
                )
            })
            .collect();
        let settle: Vec<(Resolved, Value)> = custom
            .into_iter()
            .filter(|(r, d)| {
                let ns = if r.namespaced {
                    str_at(d, &["metadata", "namespace"]).unwrap_or("default")
                } else {
                    ""
                };
                created.contains(&(
                    r.resource.kind.clone(),
                    ns.to_owned(),
                    str_at(d, &["metadata", "name"])
                        .unwrap_or_default()
                        .to_owned(),
                ))
            })
            .collect();
        if !self.opts.dry_run && !settle.is_empty() {
            self.apply_batch(settle).await?;
        }
        report.objects.extend(applied);
        report.objects.extend(pending);
        report.retries = self.retries.load(Ordering::Relaxed) - retries_before;
        Ok(report)
    }
}

/// Apply `docs` with a fresh [`Applier`]: Namespaces, then CRDs, then the rest.
pub async fn apply_documents(
    client: &Client,
    docs: &[Value],
    opts: ApplyOptions,
) -> Result<ApplyReport> {
    Applier::new(client.clone(), opts).apply(docs).await
}

/// Apply every object as a server-side dry run with strict field validation: the server
/// checks each against its schema (and CRD schemas) without storing anything.
pub async fn dry_run_strict(client: &Client, docs: &[Value]) -> Result<ApplyReport> {
    apply_documents(
        client,
        docs,
        ApplyOptions {
            dry_run: true,
            field_validation_strict: true,
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_multi_document_yaml_and_skips_empty_documents() {
        let docs = parse_documents(
            "---\n# only a comment\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n---\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n  namespace: a\n",
        )
        .expect("parse");
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0]["kind"], "Namespace");
        assert_eq!(docs[1]["metadata"]["namespace"], "a");
    }

    #[test]
    fn parse_rejects_broken_yaml() {
        assert!(parse_documents("a: [1, 2\n").is_err());
    }

    #[test]
    fn identity_names_the_missing_field() {
        let err = identity(&serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap"}))
            .expect_err("no name");
        assert!(err.message.contains("metadata.name"), "{}", err.message);
    }

    #[test]
    fn transient_errors_are_told_apart() {
        let api = |code: u16, message: &str| {
            kube::Error::Api(Box::new(kube::core::Status {
                code,
                message: message.to_owned(),
                ..kube::core::Status::default()
            }))
        };
        assert!(is_transient(&api(503, "unavailable")));
        assert!(is_transient(&api(429, "too many requests")));
        assert!(is_transient(&api(
            400,
            "etcdserver: leader changed while processing"
        )));
        assert!(!is_transient(&api(422, "spec.replicas: Invalid value")));
        assert!(!is_transient(&api(403, "forbidden")));
    }

    #[test]
    fn the_flux_install_manifest_parses() {
        let text = std::fs::read_to_string(crate::test_fixtures::flux_install()).expect("fixture");
        let docs = parse_documents(&text).expect("parse");
        assert!(docs.iter().any(is_crd));
        assert!(docs.iter().any(is_namespace));
        for doc in &docs {
            identity(doc).expect("complete object");
        }
    }
}
