//! Reaching the cluster the way kubectl does (`--kubeconfig`, `$KUBECONFIG` with several
//! files merged, `~/.kube/config`, `--context`), and the pre-flight checks that must pass
//! before anything is applied: the server answers, is new enough, and lets us do our work.

use std::collections::BTreeSet;
use std::path::PathBuf;

use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use kube::api::{Api, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

use crate::cli::KubeArgs;
use crate::error::{Error, Result};

/// The oldest Kubernetes minor version (1.x) Flux 2.9 supports.
pub const MIN_MINOR: u32 = 33;

/// A client for one kubeconfig context.
#[derive(Clone)]
pub struct Connected {
    pub client: Client,
    /// The kubeconfig context in use.
    pub context: String,
    /// The API server URL of that context.
    pub server_url: String,
}

impl std::fmt::Debug for Connected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connected")
            .field("context", &self.context)
            .field("server_url", &self.server_url)
            .finish_non_exhaustive()
    }
}

fn home_kubeconfig() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|h| PathBuf::from(h).join(".kube").join("config"))
}

/// The merged kubeconfig, by kubectl's precedence: `--kubeconfig`, `$KUBECONFIG`
/// (':'-separated files merged, first wins), `~/.kube/config`.
fn load_kubeconfig(args: &KubeArgs) -> Result<Kubeconfig> {
    let unreadable = |path: &std::path::Path, err: kube::config::KubeconfigError| {
        Error::usage(format!("cannot read kubeconfig {}: {err}", path.display())).with_hint(
            "pass a readable kubeconfig with --kubeconfig FILE or set KUBECONFIG (files separated by ':')",
        )
    };
    if let Some(path) = &args.kubeconfig {
        return Kubeconfig::read_from(path).map_err(|e| unreadable(path, e));
    }
    if let Some(value) = std::env::var_os("KUBECONFIG") {
        let paths: Vec<PathBuf> = std::env::split_paths(&value)
            .filter(|p| !p.as_os_str().is_empty())
            .collect();
        if !paths.is_empty() {
            let mut merged = Kubeconfig::default();
            for path in &paths {
                let next = Kubeconfig::read_from(path).map_err(|e| unreadable(path, e))?;
                merged = merged.merge(next).map_err(|e| unreadable(path, e))?;
            }
            return Ok(merged);
        }
    }
    match home_kubeconfig() {
        Some(path) if path.is_file() => Kubeconfig::read_from(&path).map_err(|e| unreadable(&path, e)),
        _ => Err(Error::usage("no kubeconfig found (--kubeconfig, $KUBECONFIG, ~/.kube/config)")
            .with_hint("pass --kubeconfig FILE, set KUBECONFIG, or copy your cluster's admin kubeconfig to ~/.kube/config")),
    }
}

/// The server URL of a context, if the kubeconfig names one.
fn server_of(kc: &Kubeconfig, context: &str) -> Option<String> {
    let ctx = kc.contexts.iter().find(|c| c.name == context)?;
    let cluster_name = &ctx.context.as_ref()?.cluster;
    let cluster = kc.clusters.iter().find(|c| &c.name == cluster_name)?;
    cluster.cluster.as_ref()?.server.clone()
}

/// Every context of the kubeconfig with its API server, for the wizard's context picker.
pub fn contexts(args: &KubeArgs) -> Result<Vec<(String, String)>> {
    let kc = load_kubeconfig(args)?;
    Ok(kc
        .contexts
        .iter()
        .map(|c| (c.name.clone(), server_of(&kc, &c.name).unwrap_or_default()))
        .collect())
}

/// A client for the chosen (or current) context. Does not contact the server yet.
pub async fn connect(args: &KubeArgs) -> Result<Connected> {
    let kc = load_kubeconfig(args)?;
    let context = match args.context.clone().or_else(|| kc.current_context.clone()) {
        Some(c) if !c.is_empty() => c,
        _ => {
            return Err(Error::usage("the kubeconfig has no current context")
                .with_hint("choose one with --context NAME (see `kubectl config get-contexts`)"));
        }
    };
    if !kc.contexts.iter().any(|c| c.name == context) {
        let known: Vec<&str> = kc.contexts.iter().map(|c| c.name.as_str()).collect();
        return Err(Error::usage(format!(
            "--context: no context named {context:?} in the kubeconfig"
        ))
        .with_hint(format!("known contexts: {}", known.join(", "))));
    }
    let server_url = server_of(&kc, &context).unwrap_or_default();
    let options = KubeConfigOptions {
        context: Some(context.clone()),
        ..KubeConfigOptions::default()
    };
    let config = Config::from_custom_kubeconfig(kc, &options)
        .await
        .map_err(|e| {
            Error::usage(format!("kubeconfig context {context:?} is not usable: {e}"))
                .with_hint("check its cluster server URL, certificates and user credentials")
        })?;
    let client = Client::try_from(config).map_err(|e| {
        Error::failed(format!(
            "cannot create a client for context {context:?}: {e}"
        ))
    })?;
    Ok(Connected {
        client,
        context,
        server_url,
    })
}

/// Parse `v1.37.2`, `1.33+`-style versions into (major, minor).
pub fn parse_version(git_version: &str, major: &str, minor: &str) -> Option<(u32, u32)> {
    let digits = |s: &str| -> Option<u32> {
        s.chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse()
            .ok()
    };
    if let (Some(ma), Some(mi)) = (digits(major), digits(minor)) {
        return Some((ma, mi));
    }
    let mut parts = git_version.trim_start_matches('v').split('.');
    Some((digits(parts.next()?)?, digits(parts.next()?)?))
}

/// Pre-flight 1: the server answers `/version` and runs Kubernetes ≥ 1.33.
/// Returns the server's version string.
pub async fn check_server(conn: &Connected) -> Result<String> {
    let info = conn.client.apiserver_version().await.map_err(|e| {
        Error::failed(format!(
            "cannot reach the Kubernetes API server {} (context {}): {e}",
            conn.server_url, conn.context
        ))
        .with_hint("check that the cluster is running and reachable from here, or pick another context with --context")
    })?;
    match parse_version(&info.git_version, &info.major, &info.minor) {
        Some((1, minor)) if minor >= MIN_MINOR => Ok(info.git_version),
        Some((major, _)) if major > 1 => Ok(info.git_version),
        _ => Err(Error::failed(format!(
            "the cluster runs Kubernetes {}, Flux needs 1.{MIN_MINOR} or newer",
            info.git_version
        ))
        .with_hint("upgrade the cluster before bootstrapping Flux")),
    }
}

/// One permission the bootstrap needs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Access {
    pub verb: String,
    pub group: String,
    pub resource: String,
    /// Empty for cluster-scoped resources.
    pub namespace: String,
}

/// Pre-flight 2: ask the server (SelfSubjectAccessReview) whether the current identity may
/// do each of `needed`. Returns the denied ones.
pub async fn denied(conn: &Connected, needed: &BTreeSet<Access>) -> Result<Vec<Access>> {
    let api: Api<SelfSubjectAccessReview> = Api::all(conn.client.clone());
    let mut tasks = tokio::task::JoinSet::new();
    for access in needed.iter().cloned() {
        let api = api.clone();
        tasks.spawn(async move {
            let review = SelfSubjectAccessReview {
                spec: SelfSubjectAccessReviewSpec {
                    resource_attributes: Some(ResourceAttributes {
                        verb: Some(access.verb.clone()),
                        group: Some(access.group.clone()),
                        resource: Some(access.resource.clone()),
                        namespace: (!access.namespace.is_empty()).then(|| access.namespace.clone()),
                        ..ResourceAttributes::default()
                    }),
                    ..SelfSubjectAccessReviewSpec::default()
                },
                ..SelfSubjectAccessReview::default()
            };
            let result = api.create(&PostParams::default(), &review).await;
            (access, result)
        });
    }
    let mut denied = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (access, result) = joined.map_err(|e| Error::failed(e.to_string()))?;
        let review = result.map_err(|e| {
            Error::failed(format!("cannot check permissions (SelfSubjectAccessReview): {e}"))
                .with_hint("the API server must allow self-subject access reviews; check the user in your kubeconfig")
        })?;
        if !review.status.is_some_and(|s| s.allowed) {
            denied.push(access);
        }
    }
    denied.sort();
    Ok(denied)
}
