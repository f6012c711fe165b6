//! Reaching the cluster for the doctor: the steps of [`crate::kube::client`]'s resolver (the
//! same one `bootstrap` and `init` use), each reported as its own finding (kubeconfig,
//! context, credentials, reachability, version) instead of stopping at the first error.

use std::time::Duration;

use super::Finding;
use crate::error::Error;
use crate::kube::client::{self, MIN_MINOR};

/// A client for the chosen context (the same type `bootstrap` connects with).
pub use crate::kube::client::Connected;
/// Errors can span lines; findings are one line.
pub use crate::kube::client::one_line;

/// How long one request may take unless `--request-timeout` says otherwise: a doctor must
/// answer quickly even when the server is down or a firewall swallows packets.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A failed step as a finding: "cannot reach cluster: <why>" and the step's hint.
fn failed(check: &str, err: Error) -> Finding {
    Finding::failed(
        check,
        format!("cannot reach cluster: {}", one_line(&err.message)),
        err.hint
            .unwrap_or_else(|| "check the kubeconfig (--kubeconfig, --context)".to_owned()),
    )
}

/// Check cluster access step by step. Returns the findings of the "Cluster access" section
/// and a client when the server answered with a supported version.
pub async fn check(args: &client::Options) -> (Vec<Finding>, Option<Connected>) {
    let timeout = client::request_timeout(args, REQUEST_TIMEOUT);
    let mut findings = Vec::new();
    let files = match client::load_files(args) {
        Ok(files) => files,
        Err(err) => return (vec![failed("cluster.kubeconfig", err)], None),
    };
    findings.push(Finding::ok("cluster.kubeconfig", files.describe()));

    let chosen = match client::choose_context(&files, args) {
        Ok(chosen) => chosen,
        Err(err) => {
            findings.push(failed("cluster.context", err));
            return (findings, None);
        }
    };
    let mut config = match client::configure(&files, &chosen, timeout).await {
        Ok(config) => config,
        Err(err) => {
            findings.push(failed("cluster.context", err));
            return (findings, None);
        }
    };
    let server_url = chosen.server_url.clone();
    findings.push(Finding::ok(
        "cluster.context",
        format!("context {} ({server_url})", chosen.context),
    ));

    match client::credentials(&mut config, timeout).await {
        Ok(Some(obtained)) => findings.push(Finding::ok("cluster.credentials", obtained)),
        Ok(None) => {}
        Err(err) => {
            findings.push(failed("cluster.credentials", err));
            return (findings, None);
        }
    }

    let kube = match client::client(config, timeout) {
        Ok(c) => c,
        Err(err) => {
            findings.push(failed("cluster.reachable", err));
            return (findings, None);
        }
    };
    let version = match kube.apiserver_version().await {
        Ok(v) => v,
        Err(err) => {
            let hint = if client::timed_out(&err) {
                format!(
                    "the server accepted the connection but did not answer in time: check that \
                     {server_url} is the API server's address and port, or allow more time with \
                     --request-timeout DURATION"
                )
            } else {
                format!(
                    "is the server up and reachable from this machine? Try `kubectl --context {} \
                     get nodes`; check the address and port in the kubeconfig and any firewall",
                    chosen.context
                )
            };
            findings.push(Finding::failed(
                "cluster.reachable",
                format!(
                    "cannot reach cluster at {server_url}: {}",
                    client::describe(&err)
                ),
                hint,
            ));
            return (findings, None);
        }
    };
    findings.push(Finding::ok(
        "cluster.reachable",
        format!("API server {server_url} answers"),
    ));

    match client::parse_version(&version.git_version, &version.major, &version.minor) {
        Some(v) if v >= (1, MIN_MINOR) => findings.push(Finding::ok(
            "cluster.version",
            format!("Kubernetes {}", version.git_version),
        )),
        Some(_) => findings.push(Finding::failed(
            "cluster.version",
            format!(
                "Kubernetes {} is older than 1.{MIN_MINOR}",
                version.git_version
            ),
            format!(
                "upgrade the cluster to Kubernetes 1.{MIN_MINOR} or newer (Flux 2.9 requires it)"
            ),
        )),
        None => findings.push(Finding::warning(
            "cluster.version",
            format!(
                "cannot tell the Kubernetes version from {:?}",
                version.git_version
            ),
            format!("make sure the cluster runs Kubernetes 1.{MIN_MINOR} or newer"),
        )),
    }

    (
        findings,
        Some(Connected {
            client: kube,
            context: chosen.context,
            server_url,
        }),
    )
}
