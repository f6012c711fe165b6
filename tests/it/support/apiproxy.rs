//! A loopback HTTP proxy in front of a real API server, for what the server itself cannot be
//! made to do on cue: answer 429 or 5xx to chosen requests, report an older Kubernetes
//! release on `/version`, or hold a request until the test has stopped the server.
//!
//! The command under test talks plain HTTP to the proxy (its kubeconfig points there); the
//! proxy forwards every request it does not answer itself to the real server with the admin
//! identity, and returns the real answer. When the real server cannot be reached the proxy
//! drops the client's connection without an answer, as a dying server does. Every request
//! is recorded with what it got.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::sync::Notify;

/// How the proxy treats requests; change it at any time with [`ApiProxy::rules`].
#[derive(Debug, Default)]
pub struct Rules {
    /// PATCH requests (server-side apply) answered with this status instead of being
    /// forwarded, by their 1-based position among all PATCH requests the proxy has seen.
    pub patch_faults: BTreeMap<usize, u16>,
    /// `/version` reports this release (`v1.32.4`) instead of the server's own.
    pub version: Option<String>,
    /// Hold this PATCH (1-based, as above) until [`ApiProxy::release`]; [`ApiProxy::held`]
    /// returns once it arrived.
    pub hold_patch: Option<usize>,
}

/// One request and what became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub method: String,
    pub path: String,
    /// The status the client got; `None` when its connection was dropped unanswered.
    pub status: Option<u16>,
    /// Answered by the proxy itself (a fault or a rewritten `/version`).
    pub injected: bool,
}

#[derive(Debug, Default)]
struct Shared {
    rules: Mutex<Rules>,
    log: Mutex<Vec<Seen>>,
    patches: Mutex<usize>,
    arrived: Notify,
    release: Notify,
}

/// The running proxy. Stops on drop.
#[derive(Debug)]
pub struct ApiProxy {
    url: String,
    kubeconfig: PathBuf,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl ApiProxy {
    /// A proxy to the server that `upstream` (an admin kubeconfig) names.
    pub fn start(upstream: &Path) -> ApiProxy {
        let dir = tempfile::tempdir().expect("tempdir");
        let shared = Arc::new(Shared::default());
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let upstream = upstream.to_path_buf();
        let state = shared.clone();
        // Its own runtime: the test's may be busy waiting for the command under test.
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("proxy runtime");
            runtime.block_on(async move {
                let client = upstream_client(&upstream).await;
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind the proxy");
                addr_tx
                    .send(listener.local_addr().expect("proxy address"))
                    .expect("report the address");
                tokio::select! {
                    _ = stopped => {}
                    _ = serve(listener, client, state) => {}
                }
            });
            runtime.shutdown_background();
        });
        let addr: SocketAddr = addr_rx.recv().expect("the proxy started");
        let url = format!("http://{addr}");
        let kubeconfig = super::network::write_kubeconfig(
            &dir.path().join("proxy.kubeconfig"),
            &url,
            super::network::TOKEN_USER,
        );
        ApiProxy {
            url,
            kubeconfig,
            shared,
            stop: Some(stop),
            thread: Some(thread),
            _dir: dir,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A kubeconfig (context `home`) pointing at the proxy.
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// Change the rules.
    pub fn rules(&self, change: impl FnOnce(&mut Rules)) {
        change(&mut self.shared.rules.lock().unwrap());
    }

    /// Every request so far.
    pub fn log(&self) -> Vec<Seen> {
        self.shared.log.lock().unwrap().clone()
    }

    /// Wait until the request named by [`Rules::hold_patch`] has arrived (it stays held).
    pub async fn held(&self) {
        self.shared.arrived.notified().await;
    }

    /// Let the held request go on (to wherever the server now is).
    pub fn release(&self) {
        self.shared.release.notify_one();
    }
}

impl Drop for ApiProxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        // A request may still be held: let it go so the runtime can stop.
        self.shared.release.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn upstream_client(kubeconfig: &Path) -> kube::Client {
    let kc = kube::config::Kubeconfig::read_from(kubeconfig).expect("read the admin kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .expect("load the admin kubeconfig");
    kube::Client::try_from(config).expect("upstream client")
}

async fn serve(listener: tokio::net::TcpListener, client: kube::Client, state: Arc<Shared>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let (client, state) = (client.clone(), state.clone());
        tokio::spawn(async move {
            let service = service_fn(move |req| handle(req, client.clone(), state.clone()));
            // An error ends the connection without an answer: what the client must ride out.
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

type Answer = hyper::Response<Full<Bytes>>;

fn status_body(code: u16) -> Value {
    let reason = match code {
        429 => "TooManyRequests",
        500 => "InternalError",
        503 => "ServiceUnavailable",
        504 => "Timeout",
        _ => "",
    };
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": format!("injected by the test proxy: {code}"), "reason": reason, "code": code})
}

fn answer(code: u16, body: &Value) -> Answer {
    hyper::Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("response")
}

async fn handle(
    req: hyper::Request<hyper::body::Incoming>,
    client: kube::Client,
    state: Arc<Shared>,
) -> Result<Answer, String> {
    let method = req.method().to_string();
    let path = req
        .uri()
        .path_and_query()
        .map(ToString::to_string)
        .unwrap_or_default();
    let record = |status: Option<u16>, injected: bool| {
        state.log.lock().unwrap().push(Seen {
            method: method.clone(),
            path: path.clone(),
            status,
            injected,
        });
    };

    if req.method() == hyper::Method::PATCH {
        let n = {
            let mut patches = state.patches.lock().unwrap();
            *patches += 1;
            *patches
        };
        let (fault, hold) = {
            let rules = state.rules.lock().unwrap();
            (
                rules.patch_faults.get(&n).copied(),
                rules.hold_patch == Some(n),
            )
        };
        if let Some(code) = fault {
            record(Some(code), true);
            return Ok(answer(code, &status_body(code)));
        }
        if hold {
            let released = state.release.notified();
            state.arrived.notify_one();
            released.await;
        }
    }

    let (parts, body) = req.into_parts();
    let body = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
    let mut forward = http::Request::builder()
        .method(parts.method.clone())
        .uri(path.as_str());
    for (name, value) in &parts.headers {
        // The proxy's own identity is the admin's; connection handling is per hop.
        if !matches!(
            name.as_str(),
            "authorization" | "host" | "connection" | "content-length" | "transfer-encoding"
        ) {
            forward = forward.header(name, value);
        }
    }
    let forward = forward
        .body(kube::client::Body::from(body.to_vec()))
        .map_err(|e| e.to_string())?;
    let response = match client.send(forward).await {
        Ok(r) => r,
        Err(e) => {
            record(None, false);
            return Err(e.to_string());
        }
    };
    let (parts, body) = response.into_parts();
    let body = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            record(None, false);
            return Err(e.to_string());
        }
    };
    let code = parts.status.as_u16();
    let rewrite = state.rules.lock().unwrap().version.clone();
    if let Some(version) = rewrite
        && path == "/version"
        && code == 200
    {
        let mut info: Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
        let minor = version
            .trim_start_matches('v')
            .split('.')
            .nth(1)
            .unwrap_or("0");
        info["gitVersion"] = json!(version);
        info["minor"] = json!(minor);
        record(Some(code), true);
        return Ok(answer(code, &info));
    }
    record(Some(code), false);
    let mut out = hyper::Response::builder().status(parts.status);
    for (name, value) in &parts.headers {
        if !matches!(
            name.as_str(),
            "connection" | "content-length" | "transfer-encoding"
        ) {
            out = out.header(name, value);
        }
    }
    out.body(Full::new(body)).map_err(|e| e.to_string())
}
