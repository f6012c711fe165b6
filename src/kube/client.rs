//! Reaching the cluster the way kubectl does, and the pre-flight checks that must pass
//! before anything is applied: the server answers, is new enough, and lets us do our work.
//!
//! The kubeconfig is resolved in steps, each its own function so `doctor` can report them
//! one by one while `bootstrap` and `init` simply chain them ([`connect`]):
//! 1. [`load_files`]: `--kubeconfig`, else every file of `$KUBECONFIG` merged (files that
//!    do not exist are skipped, as kubectl does; none existing is an error), else
//!    `~/.kube/config`;
//! 2. [`choose_context`]: `--context`, else the current context, with its cluster and server;
//! 3. [`configure`]: the client configuration of that context, and its credentials: a
//!    credential plugin (`exec:`) is run here, by homelab, under `--request-timeout` and
//!    killed when it overruns (kube-rs would run it without a bound, several times);
//! 4. [`client`]: a client whose every request (connecting, sending, and reading the answer
//!    to its last byte) must finish within `--request-timeout`, so a server that accepts
//!    the connection and stays silent, or trickles, ends in an error naming it.

use std::collections::BTreeSet;
use std::future::Future;
use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use kube::api::{Api, PostParams};
use kube::client::{Body, ClientBuilder, DynBody};
use kube::config::{ExecConfig, ExecInteractiveMode, KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

use crate::error::{Error, Result};
use crate::net::{DEFAULT_REQUEST_TIMEOUT, human};

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

/// How to reach the cluster, as kubectl's flags say it. The CLI's `--kubeconfig`,
/// `--context` and `--request-timeout` convert to this; library code takes only this.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// The kubeconfig file (default: `$KUBECONFIG`, then `~/.kube/config`).
    pub kubeconfig: Option<std::path::PathBuf>,
    /// The kubeconfig context (default: the current context).
    pub context: Option<String>,
    /// The longest one request, or the kubeconfig's credential plugin, may take.
    pub request_timeout: Option<Duration>,
}

/// How long one request may take: `--request-timeout`, else `default`.
pub fn request_timeout(args: &Options, default: Duration) -> Duration {
    args.request_timeout.unwrap_or(default)
}

/// Where the kubeconfig files came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Flag,
    Env,
    Default,
}

/// Step 1: the kubeconfig files that were read, and their merge.
#[derive(Clone)]
pub struct Files {
    pub source: Source,
    pub read: Vec<PathBuf>,
    /// `$KUBECONFIG` entries that do not exist.
    pub skipped: Vec<PathBuf>,
    pub merged: Kubeconfig,
}

impl std::fmt::Debug for Files {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Files")
            .field("source", &self.source)
            .field("read", &self.read)
            .field("skipped", &self.skipped)
            .finish_non_exhaustive()
    }
}

impl Files {
    /// One line for people: which files, and which were skipped.
    pub fn describe(&self) -> String {
        let list = |paths: &[PathBuf]| {
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let from = match self.source {
            Source::Flag => " (--kubeconfig)",
            Source::Env => " (KUBECONFIG)",
            Source::Default => "",
        };
        let mut line = format!("kubeconfig {}{from}", list(&self.read));
        if !self.skipped.is_empty() {
            line.push_str(&format!("; skipped, not found: {}", list(&self.skipped)));
        }
        line
    }
}

const HINT_KUBECONFIG: &str = "pass --kubeconfig FILE or set KUBECONFIG (k3s writes \
    /etc/rancher/k3s/k3s.yaml on the server; copy it and replace 127.0.0.1 with the server's \
    address)";

fn home_kubeconfig() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|h| PathBuf::from(h).join(".kube").join("config"))
}

fn read_one(path: &std::path::Path) -> Result<Kubeconfig> {
    Kubeconfig::read_from(path).map_err(|e| {
        Error::usage(format!(
            "{} is not a valid kubeconfig: {}",
            path.display(),
            one_line(&e.to_string())
        ))
        .with_hint(
            "fix or regenerate the kubeconfig file, or pass another one with --kubeconfig FILE",
        )
    })
}

/// Step 1: read the kubeconfig by kubectl's precedence.
pub fn load_files(args: &Options) -> Result<Files> {
    let (source, candidates) = if let Some(path) = &args.kubeconfig {
        (Source::Flag, vec![path.clone()])
    } else if let Some(paths) = std::env::var_os("KUBECONFIG")
        .map(|v| {
            std::env::split_paths(&v)
                .filter(|p| !p.as_os_str().is_empty())
                .collect::<Vec<_>>()
        })
        .filter(|p| !p.is_empty())
    {
        (Source::Env, paths)
    } else {
        match home_kubeconfig() {
            Some(path) => (Source::Default, vec![path]),
            None => {
                return Err(Error::usage(
                    "no kubeconfig found: no --kubeconfig, no KUBECONFIG, and HOME is not set",
                )
                .with_hint(HINT_KUBECONFIG));
            }
        }
    };
    let (read, skipped): (Vec<PathBuf>, Vec<PathBuf>) =
        candidates.into_iter().partition(|p| p.is_file());
    if read.is_empty() {
        let missing = skipped
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let message = match source {
            Source::Flag => format!("no kubeconfig at {missing} (--kubeconfig)"),
            Source::Env => format!("no kubeconfig: none of the KUBECONFIG files exist ({missing})"),
            Source::Default => {
                format!("no kubeconfig at {missing} (no --kubeconfig given, KUBECONFIG not set)")
            }
        };
        return Err(Error::usage(message).with_hint(HINT_KUBECONFIG));
    }
    // A file given explicitly must exist; KUBECONFIG entries may not (kubectl skips them).
    let skipped = if source == Source::Flag {
        Vec::new()
    } else {
        skipped
    };
    let mut merged = Kubeconfig::default();
    for path in &read {
        merged = merged.merge(read_one(path)?).map_err(|e| {
            Error::usage(format!(
                "cannot merge {} into the kubeconfig: {e}",
                path.display()
            ))
            .with_hint(HINT_KUBECONFIG)
        })?;
    }
    Ok(Files {
        source,
        read,
        skipped,
        merged,
    })
}

/// Step 2: the context in use, its cluster and server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chosen {
    pub context: String,
    pub cluster: String,
    pub server_url: String,
}

/// Step 2: `--context`, else the kubeconfig's current context.
pub fn choose_context(files: &Files, args: &Options) -> Result<Chosen> {
    let kc = &files.merged;
    let known = || {
        let names: Vec<&str> = kc.contexts.iter().map(|c| c.name.as_str()).collect();
        if names.is_empty() {
            "the kubeconfig defines no contexts".to_owned()
        } else {
            format!("pass --context with one of: {}", names.join(", "))
        }
    };
    let (context, flag) = match (&args.context, &kc.current_context) {
        (Some(c), _) => (c.clone(), true),
        (None, Some(c)) if !c.is_empty() => (c.clone(), false),
        _ => {
            return Err(Error::usage("the kubeconfig has no current context")
                .with_hint(format!("{} (see `kubectl config get-contexts`)", known())));
        }
    };
    let Some(entry) = kc
        .contexts
        .iter()
        .find(|c| c.name == context)
        .and_then(|c| c.context.as_ref())
    else {
        let message = if flag {
            format!("--context: no context named {context:?} in the kubeconfig")
        } else {
            format!("the kubeconfig's current-context {context:?} names no context it defines")
        };
        return Err(Error::usage(message).with_hint(known()));
    };
    let cluster = entry.cluster.clone();
    let server_url = kc
        .clusters
        .iter()
        .find(|c| c.name == cluster)
        .and_then(|c| c.cluster.as_ref())
        .and_then(|c| c.server.clone())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            Error::usage(format!(
                "context {context:?} uses cluster {cluster:?}, which has no server URL in the kubeconfig"
            ))
            .with_hint("fix the clusters section of the kubeconfig, or pick another context with --context")
        })?;
    Ok(Chosen {
        context,
        cluster,
        server_url,
    })
}

/// Every context of the kubeconfig with its API server, for the wizard's context picker.
pub fn contexts(args: &Options) -> Result<Vec<(String, String)>> {
    let files = load_files(args)?;
    let kc = &files.merged;
    Ok(kc
        .contexts
        .iter()
        .map(|c| {
            let server = c
                .context
                .as_ref()
                .and_then(|ctx| kc.clusters.iter().find(|cl| cl.name == ctx.cluster))
                .and_then(|cl| cl.cluster.as_ref())
                .and_then(|cl| cl.server.clone())
                .unwrap_or_default();
            (c.name.clone(), server)
        })
        .collect())
}

/// Step 3a: the client configuration of the chosen context, with every timeout set.
pub async fn configure(files: &Files, chosen: &Chosen, timeout: Duration) -> Result<Config> {
    let options = KubeConfigOptions {
        context: Some(chosen.context.clone()),
        ..KubeConfigOptions::default()
    };
    let mut config = Config::from_custom_kubeconfig(files.merged.clone(), &options)
        .await
        .map_err(|e| {
            Error::usage(format!(
                "kubeconfig context {:?} is not usable: {}",
                chosen.context,
                one_line(&e.to_string())
            ))
            .with_hint("check its cluster server URL, certificates and user credentials")
        })?;
    // The connector's own bounds only keep a connection attempt the request gave up on from
    // lingering; they are a little longer so that the request's deadline, which covers the
    // whole exchange, is the one that fires and names itself.
    let lingering = timeout + Duration::from_secs(1);
    config.connect_timeout = Some(lingering);
    config.read_timeout = Some(lingering);
    config.write_timeout = Some(lingering);
    Ok(config)
}

/// Whether the user's credentials come from a plugin homelab must run (kube-rs uses a
/// token, basic auth, a token file or an auth provider first, as client-go does).
fn plugin_of(config: &Config) -> Option<&ExecConfig> {
    let user = &config.auth_info;
    let other = user.auth_provider.is_some()
        || user.username.is_some() && user.password.is_some()
        || user.token.is_some()
        || user.token_file.is_some();
    if other { None } else { user.exec.as_ref() }
}

/// Step 3b: run the context's credential plugin, if it has one, and put what it returned
/// in the configuration. Returns a line for people saying what was obtained.
pub async fn credentials(config: &mut Config, timeout: Duration) -> Result<Option<String>> {
    let Some(exec) = plugin_of(config).cloned() else {
        return Ok(None);
    };
    let status = run_plugin(&exec, timeout).await?;
    let command = exec.command.clone().unwrap_or_default();
    // The plugin's answer becomes plain kubeconfig credentials; kube-rs then never runs it.
    let mut found = serde_json::Map::new();
    let base64 = |text: &str| {
        use base64::Engine as _;
        serde_json::Value::String(base64::engine::general_purpose::STANDARD.encode(text))
    };
    let what = match (
        &status.token,
        &status.client_certificate_data,
        &status.client_key_data,
    ) {
        (_, Some(cert), Some(key)) => {
            found.insert("client-certificate-data".into(), base64(cert));
            found.insert("client-key-data".into(), base64(key));
            "a client certificate"
        }
        (Some(token), _, _) => {
            found.insert("token".into(), serde_json::Value::String(token.clone()));
            "a token"
        }
        _ => {
            return Err(Error::failed(format!(
                "the kubeconfig's credential plugin `{command}` returned neither a token nor a client certificate"
            ))
            .with_hint("run the plugin by hand to see what it prints; it must print an ExecCredential with status.token or status.clientCertificateData and clientKeyData"));
        }
    };
    let parsed: kube::config::AuthInfo =
        serde_json::from_value(serde_json::Value::Object(found))
            .map_err(|e| Error::failed(format!("cannot use the plugin's credentials: {e}")))?;
    let user = &mut config.auth_info;
    user.exec = None;
    user.token = parsed.token;
    user.client_certificate_data = parsed.client_certificate_data;
    user.client_key_data = parsed.client_key_data;
    Ok(Some(format!(
        "credential plugin `{command}` returned {what}"
    )))
}

/// The part of a plugin's ExecCredential homelab uses. Values are secrets: never printed.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct PluginStatus {
    token: Option<String>,
    client_certificate_data: Option<String>,
    client_key_data: Option<String>,
}

#[derive(serde::Deserialize)]
struct PluginOutput {
    status: Option<PluginStatus>,
}

/// Run a credential plugin as client-go does (arguments, environment, KUBERNETES_EXEC_INFO),
/// killing it when it outlives `timeout`.
async fn run_plugin(exec: &ExecConfig, timeout: Duration) -> Result<PluginStatus> {
    let Some(command) = exec.command.clone().filter(|c| !c.is_empty()) else {
        return Err(
            Error::usage("the kubeconfig user's exec section names no command").with_hint(
                "fix the users section of the kubeconfig (exec.command), or use another context",
            ),
        );
    };
    let mut cmd = tokio::process::Command::new(&command);
    cmd.args(exec.args.iter().flatten());
    for var in exec.env.iter().flatten() {
        if let (Some(name), Some(value)) = (var.get("name"), var.get("value")) {
            cmd.env(name, value);
        }
    }
    for name in exec.drop_env.iter().flatten() {
        cmd.env_remove(name);
    }
    // A plugin may talk to the user (a login) only when there is a terminal to talk on.
    let interactive =
        exec.interactive_mode != Some(ExecInteractiveMode::Never) && std::io::stdin().is_terminal();
    let info = serde_json::json!({
        "apiVersion": exec.api_version.clone().unwrap_or_else(|| "client.authentication.k8s.io/v1".into()),
        "kind": "ExecCredential",
        "spec": {"interactive": interactive, "cluster": exec.cluster},
    });
    cmd.env("KUBERNETES_EXEC_INFO", info.to_string())
        .stdin(if interactive {
            std::process::Stdio::inherit()
        } else {
            std::process::Stdio::null()
        })
        .stdout(std::process::Stdio::piped())
        .stderr(if interactive {
            std::process::Stdio::inherit()
        } else {
            std::process::Stdio::piped()
        })
        .kill_on_drop(true);
    let child = cmd.spawn().map_err(|e| {
        let hint = exec.install_hint.clone().unwrap_or_else(|| {
            "install the plugin the kubeconfig names, or use a context with other credentials"
                .to_owned()
        });
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::usage(format!(
                "the kubeconfig's credential plugin `{command}` is not installed"
            ))
            .with_hint(hint)
        } else {
            Error::failed(format!(
                "cannot run the kubeconfig's credential plugin `{command}`: {e}"
            ))
            .with_hint(hint)
        }
    })?;
    // Dropping the unfinished wait drops the child, which kills it (kill_on_drop).
    let output = match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Ok(Ok(output)) => output,
        Ok(Err(e)) => {
            return Err(Error::failed(format!(
                "the kubeconfig's credential plugin `{command}` failed: {e}"
            )));
        }
        Err(_) => {
            return Err(Error::failed(format!(
                "the kubeconfig's credential plugin `{command}` did not finish within {}; it was stopped",
                human(timeout)
            ))
            .with_hint(
                "run the plugin once by hand (it may wait for a login or a network it cannot reach), \
                 or allow it more time with --request-timeout DURATION",
            ));
        }
    };
    if !output.status.success() {
        let said = String::from_utf8_lossy(&output.stderr);
        let first = said
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or_default();
        let first: String = first.chars().take(200).collect();
        return Err(Error::failed(format!(
            "the kubeconfig's credential plugin `{command}` failed ({}){}",
            output.status,
            if first.is_empty() {
                String::new()
            } else {
                format!(": {first}")
            }
        ))
        .with_hint("run the plugin by hand to see why, or use a context with other credentials"));
    }
    serde_json::from_slice::<PluginOutput>(&output.stdout)
        .ok()
        .and_then(|o| o.status)
        .ok_or_else(|| {
            Error::failed(format!(
                "the kubeconfig's credential plugin `{command}` did not print an ExecCredential with a status"
            ))
            .with_hint("run the plugin by hand to see what it prints")
        })
}

/// Step 4: a client whose every request is bounded by `timeout`.
pub fn client(config: Config, timeout: Duration) -> Result<Client> {
    let builder = ClientBuilder::try_from(config).map_err(|e| {
        Error::usage(format!(
            "cannot create a client from the kubeconfig: {}",
            one_line(&e.to_string())
        ))
        .with_hint("check the certificate data and credentials of the context in the kubeconfig")
    })?;
    Ok(builder.with_layer(&DeadlineLayer(timeout)).build())
}

/// Every step: a client for the chosen (or current) context. Does not contact the server
/// yet; a credential plugin, if any, has run.
pub async fn connect(args: &Options) -> Result<Connected> {
    let timeout = request_timeout(args, DEFAULT_REQUEST_TIMEOUT);
    let files = load_files(args)?;
    let chosen = choose_context(&files, args)?;
    let mut config = configure(&files, &chosen, timeout).await?;
    credentials(&mut config, timeout).await?;
    Ok(Connected {
        client: client(config, timeout)?,
        context: chosen.context,
        server_url: chosen.server_url,
    })
}

/// A request (connect, send, and its answer to the last byte) took longer than allowed.
#[derive(Debug, Clone, Copy)]
pub struct RequestTimedOut(pub Duration);

impl std::fmt::Display for RequestTimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "no complete answer within {}", human(self.0))
    }
}

impl std::error::Error for RequestTimedOut {}

/// The errors a client error was caused by, outermost first.
fn causes(err: &kube::Error) -> impl Iterator<Item = &(dyn std::error::Error + 'static)> {
    std::iter::successors(Some(err as &(dyn std::error::Error + 'static)), |e| {
        e.source()
    })
}

/// Whether a client error is a timeout: the request's deadline, or (should it fire first)
/// the connector's own bound on connecting or reading.
pub fn timed_out(err: &kube::Error) -> bool {
    causes(err).any(|e| {
        e.is::<RequestTimedOut>()
            || e.is::<tokio::time::error::Elapsed>()
            || e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
    })
}

/// A client error in one line: the server's message, the deadline, or the transport's
/// innermost cause ("connection refused"), not kube's wrapper names.
pub fn describe(err: &kube::Error) -> String {
    if let Some(deadline) = causes(err).find_map(|e| e.downcast_ref::<RequestTimedOut>()) {
        return deadline.to_string();
    }
    if let kube::Error::Api(status) = err
        && !status.message.is_empty()
    {
        return status.message.clone();
    }
    let innermost = causes(err).last().unwrap_or(err);
    let inner = one_line(&innermost.to_string());
    if timed_out(err) {
        return format!("no answer in time ({inner})");
    }
    // A transport failure: its root cause says it all ("Connection refused (os error
    // 111)"); the layers around it only name kube's and hyper's wrappers.
    if matches!(err, kube::Error::Service(_) | kube::Error::HyperError(_)) {
        // The TLS stack reports a failed handshake as invalid data wrapping its own error
        // (itself wrapped in another I/O error), whose text ("received corrupt message…")
        // does not say it was TLS.
        let tls = causes(err)
            .filter_map(|e| e.downcast_ref::<std::io::Error>())
            .any(|io| {
                std::iter::successors(Some(io), |io| {
                    io.get_ref()
                        .and_then(|inner| inner.downcast_ref::<std::io::Error>())
                })
                .any(|io| io.kind() == std::io::ErrorKind::InvalidData && io.get_ref().is_some())
            });
        return if tls {
            format!("TLS handshake failed: {inner}")
        } else {
            inner
        };
    }
    let outer = one_line(&err.to_string());
    if inner == outer || outer.contains(&inner) {
        outer
    } else {
        format!("{outer}: {inner}")
    }
}

/// Errors can span lines; messages are one line.
pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The per-request deadline, as a layer over kube's HTTP stack.
#[derive(Debug, Clone, Copy)]
struct DeadlineLayer(Duration);

impl<S> tower::Layer<S> for DeadlineLayer {
    type Service = Deadline<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Deadline {
            inner,
            limit: self.0,
        }
    }
}

#[derive(Debug, Clone)]
struct Deadline<S> {
    inner: S,
    limit: Duration,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl<S> tower::Service<http::Request<Body>> for Deadline<S>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Box<DynBody>>>,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    type Response = http::Response<DeadlineBody>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let limit = self.limit;
        let deadline = tokio::time::Instant::now() + limit;
        let response = self.inner.call(request);
        Box::pin(async move {
            match tokio::time::timeout_at(deadline, response).await {
                Err(_) => Err(Box::new(RequestTimedOut(limit)) as BoxError),
                Ok(Err(e)) => Err(e.into()),
                Ok(Ok(response)) => Ok(response.map(|body| DeadlineBody {
                    inner: body,
                    expires: Box::pin(tokio::time::sleep_until(deadline)),
                    limit,
                })),
            }
        })
    }
}

/// A response body that fails once the request's deadline passes, however steadily bytes
/// trickle in (a per-read timeout never fires on a server sending a byte a second).
struct DeadlineBody {
    inner: Box<DynBody>,
    expires: Pin<Box<tokio::time::Sleep>>,
    limit: Duration,
}

impl http_body::Body for DeadlineBody {
    type Data = bytes::Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        if this.expires.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err(Box::new(RequestTimedOut(this.limit)))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
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
    let info = conn
        .client
        .apiserver_version()
        .await
        .map_err(|e| unreachable(conn, &e))?;
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

/// The error for a server that did not answer `/version`: what did not answer, and why.
pub fn unreachable(conn: &Connected, err: &kube::Error) -> Error {
    let hint = if timed_out(err) {
        "the server accepted the connection but did not answer in time: check that the URL \
         is the API server's (port 6443 on k3s), or allow more time with --request-timeout \
         DURATION"
    } else {
        "check that the cluster is running and reachable from here, or pick another context \
         with --context"
    };
    Error::failed(format!(
        "cannot reach the Kubernetes API server {} (context {}): {}",
        conn.server_url,
        conn.context,
        describe(err)
    ))
    .with_hint(hint)
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
            Error::failed(format!(
                "cannot check permissions (SelfSubjectAccessReview): {}",
                describe(&e)
            ))
                .with_hint("the API server must allow self-subject access reviews; check the user in your kubeconfig")
        })?;
        if !review.status.is_some_and(|s| s.allowed) {
            denied.push(access);
        }
    }
    denied.sort();
    Ok(denied)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transport(err: impl std::error::Error + Send + Sync + 'static) -> kube::Error {
        kube::Error::Service(Box::new(err))
    }

    #[test]
    fn errors_read_as_their_cause() {
        let refused = std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "Connection refused (os error 111)",
        );
        let err = transport(refused);
        assert_eq!(describe(&err), "Connection refused (os error 111)");
        assert!(!timed_out(&err));

        let err = transport(RequestTimedOut(Duration::from_secs(30)));
        assert_eq!(describe(&err), "no complete answer within 30s");
        assert!(timed_out(&err));

        let slow = std::io::Error::new(std::io::ErrorKind::TimedOut, "deadline has elapsed");
        let err = transport(slow);
        assert!(timed_out(&err));
        assert_eq!(describe(&err), "no answer in time (deadline has elapsed)");
    }

    #[test]
    fn versions_with_plus_suffix_parse() {
        assert_eq!(parse_version("v1.33.5+k3s1", "1", "33+"), Some((1, 33)));
        assert_eq!(parse_version("v1.37.2", "", ""), Some((1, 37)));
        assert_eq!(parse_version("", "", ""), None);
    }
}
