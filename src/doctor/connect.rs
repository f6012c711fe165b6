//! Reaching the cluster for the doctor: kubeconfig, context, server, version.
//!
//! PRIVATE STAND-IN for `crate::kube::client::connect`, which is written in parallel: it
//! resolves the kubeconfig like kubectl (`--kubeconfig`, else every file of `$KUBECONFIG`
//! merged, else `~/.kube/config`) and the context (`--context`, else the current one). At
//! merge, the connection part should call the shared function; the findings stay here,
//! because the doctor reports each step (kubeconfig, context, reachability, version) as its
//! own check instead of stopping at the first error.

use std::path::PathBuf;
use std::time::Duration;

use kube::Client;
use kube::config::{KubeConfigOptions, Kubeconfig};

use super::Finding;
use crate::cli::KubeArgs;

/// The oldest Kubernetes minor version the rendered repository supports (Flux 2.9 needs it).
pub const MIN_KUBERNETES: (u32, u32) = (1, 33);

/// A client for the chosen context (the same type `bootstrap` connects with).
pub use crate::kube::client::Connected;

const HINT_KUBECONFIG: &str = "pass --kubeconfig FILE or set KUBECONFIG (k3s writes /etc/rancher/k3s/k3s.yaml on the server; copy it and replace 127.0.0.1 with the server's address)";

/// The kubeconfig files to read, in kubectl's order, and how they were chosen.
fn kubeconfig_paths(args: &KubeArgs) -> (Vec<PathBuf>, &'static str) {
    if let Some(path) = &args.kubeconfig {
        return (vec![path.clone()], "--kubeconfig");
    }
    if let Some(value) = std::env::var_os("KUBECONFIG") {
        let paths: Vec<PathBuf> = std::env::split_paths(&value)
            .filter(|p| !p.as_os_str().is_empty())
            .collect();
        if !paths.is_empty() {
            return (paths, "KUBECONFIG");
        }
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    (vec![home.join(".kube").join("config")], "default")
}

/// Check cluster access step by step. Returns the findings of the "Cluster access" section
/// and a client when the server answered with a supported version.
pub async fn check(args: &KubeArgs) -> (Vec<Finding>, Option<Connected>) {
    let mut findings = Vec::new();
    let (paths, source) = kubeconfig_paths(args);
    let shown = paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(":");

    let mut merged = Kubeconfig::default();
    for path in &paths {
        if !path.is_file() {
            // KUBECONFIG may list files that do not exist; kubectl skips them too.
            if source == "KUBECONFIG" && paths.len() > 1 {
                continue;
            }
            findings.push(Finding::failed(
                "cluster.kubeconfig",
                format!("cannot reach cluster: no kubeconfig at {}", path.display()),
                HINT_KUBECONFIG,
            ));
            return (findings, None);
        }
        let next = match Kubeconfig::read_from(path) {
            Ok(k) => k,
            Err(err) => {
                findings.push(Finding::failed(
                    "cluster.kubeconfig",
                    format!(
                        "cannot reach cluster: {} is not a valid kubeconfig: {err}",
                        path.display()
                    ),
                    "fix or regenerate the kubeconfig file",
                ));
                return (findings, None);
            }
        };
        merged = match merged.merge(next) {
            Ok(m) => m,
            Err(err) => {
                findings.push(Finding::failed(
                    "cluster.kubeconfig",
                    format!("cannot reach cluster: cannot merge {shown}: {err}"),
                    HINT_KUBECONFIG,
                ));
                return (findings, None);
            }
        };
    }
    findings.push(Finding::ok(
        "cluster.kubeconfig",
        format!("kubeconfig {shown}"),
    ));

    let context = match args
        .context
        .clone()
        .or_else(|| merged.current_context.clone())
    {
        Some(c) => c,
        None => {
            findings.push(Finding::failed(
                "cluster.context",
                "cannot reach cluster: the kubeconfig has no current context",
                "pass --context NAME (see `kubectl config get-contexts`)",
            ));
            return (findings, None);
        }
    };
    if !merged.contexts.iter().any(|c| c.name == context) {
        let known: Vec<&str> = merged.contexts.iter().map(|c| c.name.as_str()).collect();
        findings.push(Finding::failed(
            "cluster.context",
            format!("cannot reach cluster: context {context:?} is not in the kubeconfig"),
            format!("pass --context with one of: {}", known.join(", ")),
        ));
        return (findings, None);
    }
    let options = KubeConfigOptions {
        context: Some(context.clone()),
        ..KubeConfigOptions::default()
    };
    let mut config = match kube::Config::from_custom_kubeconfig(merged, &options).await {
        Ok(c) => c,
        Err(err) => {
            findings.push(Finding::failed(
                "cluster.context",
                format!("cannot reach cluster: context {context:?} is unusable: {err}"),
                "check the context's cluster and user entries in the kubeconfig",
            ));
            return (findings, None);
        }
    };
    let server_url = config.cluster_url.to_string();
    findings.push(Finding::ok(
        "cluster.context",
        format!("context {context} ({server_url})"),
    ));

    // A doctor must answer quickly even when the server is down or a firewall drops packets.
    config.connect_timeout = Some(Duration::from_secs(3));
    config.read_timeout = Some(Duration::from_secs(10));
    let client = match Client::try_from(config) {
        Ok(c) => c,
        Err(err) => {
            findings.push(Finding::failed(
                "cluster.reachable",
                format!("cannot reach cluster: cannot build a client for {server_url}: {err}"),
                "check the certificate data in the kubeconfig",
            ));
            return (findings, None);
        }
    };
    let version =
        match client.apiserver_version().await {
            Ok(v) => v,
            Err(err) => {
                findings.push(Finding::failed(
                "cluster.reachable",
                format!("cannot reach cluster at {server_url}: {}", one_line(&err.to_string())),
                "is the server up and reachable from this machine? Try `kubectl --context "
                    .to_owned()
                    + &context
                    + " get nodes`; check the address and port in the kubeconfig and any firewall",
            ));
                return (findings, None);
            }
        };
    findings.push(Finding::ok(
        "cluster.reachable",
        format!("API server {server_url} answers"),
    ));

    match parse_version(&version.major, &version.minor) {
        Some(v) if v >= MIN_KUBERNETES => findings.push(Finding::ok(
            "cluster.version",
            format!("Kubernetes {}", version.git_version),
        )),
        Some(_) => findings.push(Finding::failed(
            "cluster.version",
            format!(
                "Kubernetes {} is older than {}.{}",
                version.git_version, MIN_KUBERNETES.0, MIN_KUBERNETES.1
            ),
            format!(
                "upgrade the cluster to Kubernetes {}.{} or newer (Flux 2.9 requires it)",
                MIN_KUBERNETES.0, MIN_KUBERNETES.1
            ),
        )),
        None => findings.push(Finding::warning(
            "cluster.version",
            format!(
                "cannot tell the Kubernetes version from {:?}",
                version.git_version
            ),
            format!(
                "make sure the cluster runs Kubernetes {}.{} or newer",
                MIN_KUBERNETES.0, MIN_KUBERNETES.1
            ),
        )),
    }

    (
        findings,
        Some(Connected {
            client,
            context,
            server_url,
        }),
    )
}

/// "1", "33+" → (1, 33). Distributions append `+` to the minor version.
pub fn parse_version(major: &str, minor: &str) -> Option<(u32, u32)> {
    let digits = |s: &str| -> Option<u32> {
        let d: String = s.chars().take_while(char::is_ascii_digit).collect();
        d.parse().ok()
    };
    Some((digits(major)?, digits(minor)?))
}

/// Errors from hyper chains can span lines; findings are one line.
pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_with_plus_suffix_parse() {
        assert_eq!(parse_version("1", "33+"), Some((1, 33)));
        assert_eq!(parse_version("1", "37"), Some((1, 37)));
        assert_eq!(parse_version("", "37"), None);
        assert!(parse_version("1", "32").unwrap() < MIN_KUBERNETES);
    }
}
