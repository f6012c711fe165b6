//! DNS-01 credentials, for every provider and every combination of its optional settings,
//! against a real API server holding cert-manager's CRDs: the Secret that bootstrap's own
//! code builds (from the environment) is stored, the rendered ClusterIssuers are stored,
//! and every `*SecretRef` of the stored solvers must name a key of the stored Secret, and
//! every key of the Secret must be referenced: a key nobody reads is a credential cert-manager
//! never gets (route53 without `access_key_id` once fell into exactly that gap).

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;

use homelab::config::{Choice, Config, DnsProvider};
use homelab::kube::apply::{ApplyOptions, apply_documents, parse_documents};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind};
use serde_json::Value;

use crate::support::{self, envtest, example};

/// A valid value for every setting any provider takes.
fn sample(key: &str) -> &'static str {
    match key {
        "email" => "dns@example.com",
        "region" => "eu-west-1",
        "hosted_zone_id" => "Z0123456789ABCDEFGHIJ",
        "access_key_id" => "AKIAIOSFODNN7EXAMPLE",
        "role" => "arn:aws:iam::123456789012:role/dns-manager",
        "project" => "homelab-dns-1",
        "client_id" => "00000000-0000-0000-0000-000000000001",
        "tenant_id" => "00000000-0000-0000-0000-000000000002",
        "subscription_id" => "00000000-0000-0000-0000-000000000003",
        "resource_group" => "homelab-dns",
        "hosted_zone_name" => "example.com",
        "environment" => "AzurePublicCloud",
        "nameserver" => "127.0.0.1:53",
        "tsig_key_name" => "acme-update.example.com.",
        "tsig_algorithm" => "HMACSHA256",
        other => panic!("no sample value for dns_settings.{other}: add one"),
    }
}

/// Every valid `dns_settings` of `provider`: the required ones with each subset of the
/// optional ones.
fn combinations(provider: DnsProvider) -> Vec<BTreeMap<String, String>> {
    let spec = provider.spec();
    let optional: Vec<&str> = spec
        .settings
        .iter()
        .filter(|s| !s.required)
        .map(|s| s.key)
        .collect();
    (0..1u32 << optional.len())
        .map(|mask| {
            spec.settings
                .iter()
                .filter(|s| {
                    s.required
                        || optional
                            .iter()
                            .position(|k| *k == s.key)
                            .is_some_and(|i| mask & (1 << i) != 0)
                })
                .map(|s| (s.key.to_owned(), sample(s.key).to_owned()))
                .collect()
        })
        .collect()
}

/// Every `(Secret name, key)` the `*SecretRef`s anywhere below `value` point at.
fn secret_refs(value: &Value, out: &mut BTreeSet<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                if k.ends_with("SecretRef") {
                    out.insert((
                        v["name"].as_str().expect("ref name").to_owned(),
                        v["key"].as_str().expect("ref key").to_owned(),
                    ));
                } else {
                    secret_refs(v, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| secret_refs(v, out)),
        _ => {}
    }
}

/// bootstrap's code path for the DNS-01 Secret, with `env` as its environment and nobody
/// to prompt.
async fn credentials_from(
    client: &kube::Client,
    cfg: &Config,
    env: &BTreeMap<&str, OsString>,
) -> homelab::error::Result<homelab::bootstrap::cluster_secrets::DnsCredentials> {
    homelab::bootstrap::cluster_secrets::dns_credentials(
        client,
        cfg,
        &|var| env.get(var).cloned(),
        None,
    )
    .await
}

fn cluster_issuers() -> ApiResource {
    ApiResource::from_gvk(&GroupVersionKind::gvk(
        "cert-manager.io",
        "v1",
        "ClusterIssuer",
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_solver_references_exactly_the_keys_of_the_secret_bootstrap_creates() {
    let server = envtest::ApiServer::start();
    let client = server.client().await;
    envtest::install_crds(
        &client,
        &[support::fixtures_dir().join("crds/cert-manager.yaml")],
    )
    .await;
    let strict = ApplyOptions {
        dry_run: false,
        field_validation_strict: true,
    };
    let install = std::fs::read_to_string(support::flux_install()).expect("flux install");
    let tmp = tempfile::tempdir().expect("tempdir");
    let key_file = tmp.path().join("service-account.json");
    std::fs::write(&key_file, br#"{"type": "service_account"}"#).expect("key file");
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "cert-manager");
    let issuers: Api<DynamicObject> = Api::all_with(client.clone(), &cluster_issuers());

    let mut checked = 0;
    for &provider in DnsProvider::all() {
        for settings in combinations(provider) {
            let what = format!("{} {:?}", provider.as_str(), settings.keys());
            let mut cfg = example();
            cfg.certificates.dns_provider = provider;
            cfg.certificates.dns_settings = settings;
            assert_eq!(homelab::catalog::validate_config(&cfg), [], "{what}");

            // bootstrap's code path, with the provider's variables in its environment.
            let spec = provider.spec();
            let env: BTreeMap<&str, OsString> = spec
                .credentials
                .iter()
                .map(|c| {
                    let value = if c.is_file {
                        key_file.clone().into_os_string()
                    } else {
                        OsString::from(format!("value-of-{}", c.env))
                    };
                    (c.env, value)
                })
                .collect();
            let creds = credentials_from(&client, &cfg, &env)
                .await
                .unwrap_or_else(|e| panic!("{what}: {}", e.message));
            apply_documents(&client, &creds.docs, strict)
                .await
                .unwrap_or_else(|e| panic!("{what}: {}", e.message));
            let stored = secrets.get(spec.secret).await.expect("the Secret exists");
            let data = stored.data.unwrap_or_default();
            for c in spec.credentials_for(&cfg.certificates.dns_settings) {
                let expected = if c.is_file {
                    std::fs::read(&key_file).unwrap()
                } else {
                    format!("value-of-{}", c.env).into_bytes()
                };
                assert_eq!(data[c.secret_key].0, expected, "{what}: {}", c.secret_key);
            }
            let keys: BTreeSet<(String, String)> = data
                .keys()
                .map(|k| (spec.secret.to_owned(), k.clone()))
                .collect();

            // The rendered issuers, as the server stores them.
            let rendered = homelab::render::render(&cfg, &install).expect("render");
            let docs = parse_documents(
                &rendered.files["infrastructure/configs/cert-manager/cluster-issuers.yaml"],
            )
            .expect("issuers parse");
            apply_documents(&client, &docs, strict)
                .await
                .unwrap_or_else(|e| panic!("{what}: {}", e.message));
            for doc in &docs {
                let name = doc["metadata"]["name"].as_str().unwrap();
                let issuer = issuers.get(name).await.expect("issuer stored");
                let solvers = &issuer.data["spec"]["acme"]["solvers"];
                let mut refs = BTreeSet::new();
                secret_refs(solvers, &mut refs);
                assert_eq!(
                    refs, keys,
                    "{what}: {name}: solver references vs Secret keys"
                );
                assert_eq!(
                    solvers[0]["selector"]["dnsZones"],
                    serde_json::json!([cfg.cluster.domain]),
                    "{what}"
                );
            }
            // The next combination starts without a Secret, as a fresh cluster does.
            secrets
                .delete(spec.secret, &DeleteParams::default())
                .await
                .expect("delete");
            checked += 1;
        }
    }
    // cloudflare 2, route53 8, digitalocean 1, clouddns 1, azuredns 2, rfc2136 2.
    assert_eq!(checked, 16);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_or_partial_credentials_are_refused_and_an_existing_secret_is_kept() {
    let server = envtest::ApiServer::shared();
    let client = server.client().await;
    let mut cfg = example();
    cfg.certificates.dns_provider = DnsProvider::Route53;
    cfg.certificates.dns_settings = BTreeMap::from([("region".into(), "eu-west-1".into())]);
    // Only the secret key: the solver would reference an access key ID that is not there.
    let only_secret = BTreeMap::from([("AWS_SECRET_ACCESS_KEY", OsString::from("s"))]);
    let err = credentials_from(&client, &cfg, &only_secret)
        .await
        .unwrap_err();
    assert_eq!(err.exit_code(), 2);
    assert!(
        err.message.contains("AWS_ACCESS_KEY_ID is not set"),
        "{}",
        err.message
    );
    let hint = err.hint.unwrap();
    assert!(
        hint.contains("AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=..."),
        "{hint}"
    );
    // Nothing set and no Secret: both variables are named.
    let err = credentials_from(&client, &cfg, &BTreeMap::new())
        .await
        .unwrap_err();
    assert!(
        err.message
            .contains("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set"),
        "{}",
        err.message
    );
    // With access_key_id in homelab.yaml the secret key alone is enough.
    let mut with_id = cfg.clone();
    with_id
        .certificates
        .dns_settings
        .insert("access_key_id".into(), "AKIAIOSFODNN7EXAMPLE".into());
    let creds = credentials_from(&client, &with_id, &only_secret)
        .await
        .expect("secret key only");
    assert_eq!(creds.docs.len(), 2);
}
