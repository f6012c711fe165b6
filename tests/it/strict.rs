//! Every object the repository renders (infrastructure and every catalog app) passes a
//! strict server-side dry run against a real API server holding the upstream CRDs: an
//! unknown field or a schema violation anywhere in our templates fails here.

use homelab::config::Config;
use serde_json::Value;

use crate::support::{self, envtest};

/// The Kubernetes objects of a rendered repository: every YAML file but kustomize's own
/// files, homelab's files and SOPS-encrypted Secrets (Flux decrypts those before applying).
fn objects(cfg: &Config) -> Vec<Value> {
    let install = std::fs::read_to_string(support::flux_install()).expect("flux install.yaml");
    let rendered = homelab::render::render(cfg, &install).expect("render");
    let mut docs = Vec::new();
    for (path, text) in &rendered.files {
        let name = path.rsplit('/').next().unwrap_or(path);
        if !path.ends_with(".yaml")
            || name == "kustomization.yaml"
            || name.ends_with(".sops.yaml")
            || path == "homelab.yaml"
            || path.starts_with('.')
        {
            continue;
        }
        let parsed =
            homelab::kube::apply::parse_documents(text).unwrap_or_else(|e| panic!("{path}: {e:#}"));
        docs.extend(parsed);
    }
    docs
}

async fn assert_strictly_valid(server: &envtest::ApiServer, cfg: &Config) {
    let client = server.client().await;
    let docs = objects(cfg);
    assert!(docs.len() > 50, "only {} objects rendered", docs.len());
    // Namespaces for real, so namespaced objects are validated rather than refused.
    let namespaces: Vec<Value> = docs
        .iter()
        .filter(|d| d["kind"] == "Namespace")
        .cloned()
        .collect();
    homelab::kube::apply::apply_documents(
        &client,
        &namespaces,
        homelab::kube::apply::ApplyOptions {
            dry_run: false,
            field_validation_strict: true,
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{}", e.message));
    let report = homelab::kube::dry_run_strict(&client, &docs)
        .await
        .unwrap_or_else(|e| panic!("{}", e.message));
    assert_eq!(report.objects.len(), docs.len());
}

pub(crate) fn with_every_app(cfg: Config) -> Config {
    crate::apps::with_every_app(cfg)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_rendered_repository_passes_a_strict_server_side_dry_run() {
    let server = envtest::ApiServer::start();
    let client = server.client().await;
    envtest::install_crds(&client, &envtest::fixture_crd_files()).await;

    // The defaults (traefik, dns01 cloudflare, csi-driver-nfs) with every app.
    // Flux pulls from a remote: the scp-like form people copy from their forge.
    let mut default = with_every_app(support::example());
    default.git.url = "git@github.com:me/homelab.git".to_owned();
    assert_strictly_valid(&server, &default).await;

    // Every non-default option (envoy-gateway, staging, route53, nfs-subdir, …) with every app.
    let full = with_every_app(support::full_example());
    assert_strictly_valid(&server, &full).await;

    // Every source moved to a chart mirror (plain-HTTP OCI registry, OCI Helm repository).
    let mut mirrored = with_every_app(support::full_example());
    mirrored.charts.mirror = Some(homelab::config::Mirror {
        helm_repository: Some("oci://127.0.0.1:5000/charts".to_owned()),
        oci_registry: Some("oci://127.0.0.1:5000/mirror".to_owned()),
        ca_file: None,
        insecure: true,
    });
    assert_strictly_valid(&server, &mirrored).await;

    // The self-signed CA and HTTP-01 issuers too.
    for challenge in [
        homelab::config::Challenge::Selfsigned,
        homelab::config::Challenge::Http01,
    ] {
        let mut cfg = support::example();
        cfg.git.url = "https://gitea.example.com/me/homelab.git".to_owned();
        cfg.certificates.challenge = challenge;
        assert_strictly_valid(&server, &cfg).await;
    }
}
