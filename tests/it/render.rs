//! The rendered Flux repository: every document parses, kustomize builds every path Flux
//! applies, hostile strings stay inside their scalars, and whole trees match the snapshots.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use homelab::config::{App, Config, IngressController, Provisioner};
use homelab::render::{Rendered, render};

use crate::support;

fn flux_install() -> String {
    std::fs::read_to_string(support::flux_install()).expect("read the Flux fixture")
}

use support::{example, full_example as full};

/// Every `.yaml` file of the tree, parsed document by document.
fn parse_all(rendered: &Rendered) -> BTreeMap<String, Vec<serde_json::Value>> {
    rendered
        .files
        .iter()
        .filter(|(path, _)| path.ends_with(".yaml"))
        .map(|(path, text)| {
            let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(text)
                .unwrap_or_else(|e| panic!("{path} does not parse: {e}\n{text}"));
            (path.clone(), docs)
        })
        .collect()
}

fn write_tree(rendered: &Rendered, dir: &Path) {
    for (path, text) in &rendered.files {
        let file = dir.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, text).unwrap();
    }
}

/// Every path a Flux Kustomization of the tree points at.
fn flux_paths(docs: &BTreeMap<String, Vec<serde_json::Value>>) -> Vec<String> {
    let mut paths: Vec<String> = docs
        .values()
        .flatten()
        .filter(|d| {
            d["kind"] == "Kustomization"
                && d["apiVersion"]
                    .as_str()
                    .is_some_and(|v| v.starts_with("kustomize.toolkit.fluxcd.io/"))
        })
        .map(|d| d["spec"]["path"].as_str().expect("spec.path").to_owned())
        .collect();
    paths.sort();
    paths.dedup();
    paths
}

fn kustomize(dir: &Path) -> Vec<serde_json::Value> {
    let out = Command::new("kubectl")
        .arg("kustomize")
        .arg(dir)
        .output()
        .expect("run kubectl (install it: it builds the kustomizations Flux would)");
    assert!(
        out.status.success(),
        "kubectl kustomize {} failed:\n{}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    serde_saphyr::from_multiple(&text).expect("kustomize output parses")
}

fn kind_names(docs: &[serde_json::Value]) -> Vec<String> {
    docs.iter()
        .map(|d| {
            format!(
                "{}/{}",
                d["kind"].as_str().unwrap_or("?"),
                d["metadata"]["name"].as_str().unwrap_or("?")
            )
        })
        .collect()
}

/// The whole tree as one reviewable text; gotk-components.yaml is cut to its header and
/// object list (its content is upstream's, tested in the flux module).
fn snapshot_text(rendered: &Rendered) -> String {
    let mut out = String::new();
    for (path, text) in &rendered.files {
        out.push_str(&format!("=== {path} ===\n"));
        if path.ends_with("gotk-components.yaml") {
            for line in text.lines().take(4) {
                out.push_str(line);
                out.push('\n');
            }
            let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(text).unwrap();
            for kn in kind_names(&docs) {
                out.push_str(&format!("# object: {kn}\n"));
            }
        } else {
            out.push_str(text);
        }
    }
    out
}

fn assert_builds(cfg: &Config) -> Rendered {
    let rendered = render(cfg, &flux_install()).expect("render");
    let docs = parse_all(&rendered);
    let dir = tempfile::tempdir().unwrap();
    write_tree(&rendered, dir.path());
    let paths = flux_paths(&docs);
    let cluster = format!("./clusters/{}", cfg.cluster.name);
    let mut expected = vec![
        cluster,
        "./apps".to_owned(),
        "./infrastructure/configs/cert-manager".to_owned(),
        "./infrastructure/configs/metallb".to_owned(),
    ];
    for chart in homelab::catalog::plan::controllers(cfg) {
        expected.push(format!("./infrastructure/controllers/{}", chart.name()));
    }
    if cfg.ingress.controller == IngressController::EnvoyGateway {
        expected.push("./infrastructure/configs/envoy-gateway".to_owned());
    }
    expected.sort();
    assert_eq!(paths, expected, "the Flux Kustomizations' paths");
    for path in &paths {
        kustomize(&dir.path().join(path));
    }
    // Every rendered manifest is applied by exactly one Flux Kustomization: none is left
    // out, none is applied twice.
    let mut applied = BTreeSet::new();
    for path in paths.iter().filter(|p| !p.starts_with("./clusters")) {
        for obj in kind_names(&kustomize(&dir.path().join(path))) {
            assert!(applied.insert(obj.clone()), "{obj} is applied twice");
        }
    }
    rendered
}

/// The objects the Flux Kustomization `name` applies, and its `spec`.
fn flux_layer(dir: &Path, cluster: &str, name: &str) -> (serde_json::Value, Vec<String>) {
    let objs = kustomize(&dir.join("clusters").join(cluster));
    let k = objs
        .iter()
        .find(|d| d["kind"] == "Kustomization" && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no Flux Kustomization {name}"))
        .clone();
    let path = k["spec"]["path"].as_str().unwrap();
    let mut applied = kind_names(&kustomize(&dir.join(path)));
    applied.sort();
    (k["spec"].clone(), applied)
}

#[test]
fn example_renders_a_tree_kustomize_builds() {
    let cfg = example();
    let rendered = assert_builds(&cfg);
    let dir = tempfile::tempdir().unwrap();
    write_tree(&rendered, dir.path());
    // The cluster path holds Flux, the sync objects and one Kustomization per component.
    let objs = kind_names(&kustomize(&dir.path().join("clusters/homelab")));
    for kn in [
        "Namespace/flux-system",
        "Deployment/source-controller",
        "GitRepository/flux-system",
        "Kustomization/flux-system",
        "Kustomization/infra-metallb",
        "Kustomization/infra-metallb-pool",
        "Kustomization/infra-cert-manager",
        "Kustomization/infra-cert-issuers",
        "Kustomization/infra-traefik",
        "Kustomization/infra-storage",
        "Kustomization/apps",
    ] {
        assert!(objs.iter().any(|o| o == kn), "{kn} missing from {objs:?}");
    }
    let d = dir.path();
    let (spec, objects) = flux_layer(d, "homelab", "infra-metallb");
    assert!(spec.get("dependsOn").is_none());
    assert_eq!(
        objects,
        [
            "HelmRelease/metallb",
            "HelmRepository/metallb",
            "Namespace/metallb-system"
        ]
    );
    let (spec, objects) = flux_layer(d, "homelab", "infra-metallb-pool");
    assert_eq!(
        spec["dependsOn"],
        serde_json::json!([{"name": "infra-metallb"}])
    );
    assert_eq!(
        objects,
        ["IPAddressPool/homelab", "L2Advertisement/homelab"]
    );
    let (_, objects) = flux_layer(d, "homelab", "infra-cert-manager");
    assert!(objects.contains(&"OCIRepository/cert-manager".to_owned()));
    let (spec, objects) = flux_layer(d, "homelab", "infra-cert-issuers");
    assert_eq!(
        spec["dependsOn"],
        serde_json::json!([{"name": "infra-cert-manager"}])
    );
    assert_eq!(
        objects,
        [
            "ClusterIssuer/letsencrypt-production",
            "ClusterIssuer/letsencrypt-staging"
        ]
    );
    let (_, objects) = flux_layer(d, "homelab", "infra-traefik");
    assert!(objects.contains(&"HelmRelease/traefik".to_owned()));
    // The StorageClass comes with its provisioner; nothing depends on the storage layer.
    let (spec, objects) = flux_layer(d, "homelab", "infra-storage");
    assert!(spec.get("dependsOn").is_none());
    assert_eq!(
        objects,
        [
            "HelmRelease/csi-driver-nfs",
            "HelmRepository/csi-driver-nfs",
            "Namespace/csi-driver-nfs",
            "StorageClass/nfs"
        ]
    );
    let (spec, _) = flux_layer(d, "homelab", "apps");
    assert!(spec.get("dependsOn").is_none(), "{spec}");
}

#[test]
fn full_config_renders_a_tree_kustomize_builds() {
    let cfg = full();
    assert_eq!(cfg.ingress.controller, IngressController::EnvoyGateway);
    assert_eq!(
        cfg.storage.provisioner,
        Provisioner::NfsSubdirExternalProvisioner
    );
    let rendered = assert_builds(&cfg);
    let docs = parse_all(&rendered);
    let gateway = &docs["infrastructure/configs/envoy-gateway/gateway.yaml"];
    let kinds: Vec<&str> = gateway
        .iter()
        .map(|d| d["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "EnvoyProxy",
            "GatewayClass",
            "Gateway",
            "HTTPRoute",
            "Certificate"
        ]
    );
    let dir = tempfile::tempdir().unwrap();
    write_tree(&rendered, dir.path());
    // The Gateway needs Envoy Gateway's CRDs and cert-manager's Certificate kind; the apps
    // need the HTTPRoute kind, and nothing else.
    let (spec, _) = flux_layer(dir.path(), "rack", "infra-gateway");
    assert_eq!(
        spec["dependsOn"],
        serde_json::json!([{"name": "infra-envoy-gateway"}, {"name": "infra-cert-manager"}])
    );
    let (spec, _) = flux_layer(dir.path(), "rack", "apps");
    assert_eq!(
        spec["dependsOn"],
        serde_json::json!([{"name": "infra-envoy-gateway"}])
    );
    let (_, objects) = flux_layer(dir.path(), "rack", "infra-storage");
    assert!(objects.contains(&"StorageClass/nfs-client".to_owned()));
    let gotk = &rendered.files["clusters/rack/flux-system/gotk-components.yaml"];
    assert!(gotk.contains("# Components: source-controller,kustomize-controller,helm-controller,notification-controller,image-reflector-controller,image-automation-controller\n"));
    let objects = kind_names(&serde_saphyr::from_multiple::<serde_json::Value>(gotk).unwrap());
    assert!(objects.contains(&"Deployment/image-automation-controller".to_owned()));
    assert!(!objects.contains(&"Deployment/source-watcher".to_owned()));
}

#[test]
fn example_snapshot() {
    let rendered = render(&example(), &flux_install()).unwrap();
    crate::support::snapshot::assert_snapshot!("example_tree", snapshot_text(&rendered));
}

#[test]
fn full_snapshot() {
    let rendered = render(&full(), &flux_install()).unwrap();
    crate::support::snapshot::assert_snapshot!("full_tree", snapshot_text(&rendered));
}

/// Rendering is a pure function of the config and the Flux manifest (it takes no
/// directory; writing is `render::write`'s, tested in rerender.rs).
#[test]
fn rendering_twice_gives_the_same_tree() {
    let cfg = full();
    let a = render(&cfg, &flux_install()).unwrap();
    let b = render(&cfg, &flux_install()).unwrap();
    assert_eq!(a, b);
}

#[test]
fn homelab_yaml_in_the_tree_reads_back_as_the_config() {
    for cfg in [example(), full()] {
        let rendered = render(&cfg, &flux_install()).unwrap();
        let back: Config = serde_saphyr::from_str(&rendered.files["homelab.yaml"]).unwrap();
        assert_eq!(back, cfg);
    }
}

/// Strings a user (or an attacker with write access to homelab.yaml) could type, each an
/// attempt to end its scalar and add keys, objects or template code.
const HOSTILE: &[&str] = &[
    "x\nkind: Secret",
    "x: y",
    "a # comment",
    "\"quoted\" and 'single'",
    "{{ cfg }}",
    "{% raw %}",
    "---\napiVersion: v1\nkind: Secret",
    "...\n---",
    "[1, 2]",
    "{a: b}",
    "&anchor *alias",
    "!!binary x",
    "\\\" \\n",
    "line\r\nbreak",
    "- item",
    "| block",
    "\t\ttabs",
];

fn hostile(i: usize) -> String {
    HOSTILE[i % HOSTILE.len()].to_owned()
}

fn hostile_config(seed: usize) -> Config {
    let mut cfg = full();
    let mut n = seed;
    let mut next = || {
        n += 1;
        hostile(n)
    };
    cfg.cluster.domain = next();
    cfg.nodes[0].name = next();
    cfg.nodes[0].address = next();
    cfg.network.loadbalancer_pool = vec![next(), next()];
    cfg.network.ingress_address = next();
    cfg.certificates.email = next();
    cfg.certificates.dns_settings = [
        ("region", next()),
        ("hosted_zone_id", next()),
        ("access_key_id", next()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    cfg.storage.nfs_server = next();
    cfg.storage.nfs_path = next();
    cfg.storage.storage_class = next();
    cfg.git.url = next();
    cfg.git.branch = next();
    cfg.apps = vec![App {
        // Names are paths (validated as DNS labels by render too); the rest is free text.
        name: "nextcloud".to_owned(),
        namespace: next(),
        host: next(),
        settings: BTreeMap::new(),
    }];
    cfg
}

/// Every mapping key anywhere in a document, with its path.
fn keys(value: &serde_json::Value, path: &str, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                let p = format!("{path}.{k}");
                out.push(p.clone());
                keys(v, &p, out);
            }
        }
        serde_json::Value::Array(items) => {
            for v in items {
                keys(v, &format!("{path}[]"), out);
            }
        }
        _ => {}
    }
}

fn structure(rendered: &Rendered) -> BTreeMap<String, (Vec<String>, Vec<String>)> {
    parse_all(rendered)
        .into_iter()
        .filter(|(path, _)| !path.ends_with("homelab.yaml"))
        .map(|(path, docs)| {
            let mut k = Vec::new();
            for d in &docs {
                keys(d, "", &mut k);
            }
            (path, (kind_names(&docs), k))
        })
        .collect()
}

#[test]
fn hostile_strings_stay_inside_their_scalars() {
    let install = flux_install();
    // Both configs have one app, so the app's files are compared too.
    let mut benign_cfg = full();
    benign_cfg.apps = vec![App {
        name: "nextcloud".to_owned(),
        namespace: "nextcloud".to_owned(),
        host: "nextcloud.example.com".to_owned(),
        settings: BTreeMap::new(),
    }];
    let benign = render(&benign_cfg, &install).unwrap();
    let mut benign_structure = structure(&benign);
    benign_structure.remove("apps/kustomization.yaml");
    for seed in 0..HOSTILE.len() {
        let cfg = hostile_config(seed);
        let rendered = render(&cfg, &install).unwrap();
        // homelab.yaml round-trips exactly.
        let back: Config = serde_saphyr::from_str(&rendered.files["homelab.yaml"]).unwrap();
        assert_eq!(back, cfg, "seed {seed}");
        let mut s = structure(&rendered);
        let apps = s.remove("apps/kustomization.yaml").unwrap();
        assert_eq!(apps.1, vec![".apiVersion", ".kind", ".resources"]);
        for (path, (objects, keys)) in &s {
            let (b_objects, b_keys) = &benign_structure[path];
            // The same objects (by kind: the storage class name is the user's) and exactly the
            // same keys everywhere.
            let kinds = |v: &Vec<String>| {
                v.iter()
                    .map(|s| s.split('/').next().unwrap().to_owned())
                    .collect::<Vec<_>>()
            };
            assert_eq!(kinds(objects), kinds(b_objects), "seed {seed}: {path}");
            assert_eq!(keys, b_keys, "seed {seed}: {path}: keys");
        }
        // And the values arrive intact where they are used.
        let docs = parse_all(&rendered);
        let sync = &docs[&format!("clusters/{}/flux-system/gotk-sync.yaml", cfg.cluster.name)];
        assert_eq!(sync[0]["spec"]["url"], cfg.git.url);
        assert_eq!(sync[0]["spec"]["ref"]["branch"], cfg.git.branch);
        let pool = &docs["infrastructure/configs/metallb/pool.yaml"][0];
        assert_eq!(
            pool["spec"]["addresses"],
            serde_json::json!(cfg.network.loadbalancer_pool)
        );
        let gateway = &docs["infrastructure/configs/envoy-gateway/gateway.yaml"];
        assert_eq!(
            gateway[2]["spec"]["listeners"][1]["hostname"],
            format!("*.{}", cfg.cluster.domain)
        );
        let issuer = &docs["infrastructure/configs/cert-manager/cluster-issuers.yaml"][0];
        assert_eq!(issuer["spec"]["acme"]["email"], cfg.certificates.email);
        assert_eq!(
            issuer["spec"]["acme"]["solvers"][0]["dns01"]["route53"]["region"],
            cfg.certificates.dns_settings["region"]
        );
        let sc = &docs["infrastructure/controllers/nfs-subdir-external-provisioner/storage-class.yaml"]
            [0];
        assert_eq!(sc["metadata"]["name"], cfg.storage.storage_class);
    }
}

/// The CRD schemas of the fixtures: (apiVersion, kind) → openAPIV3Schema.
fn crd_schemas() -> BTreeMap<(String, String), serde_json::Value> {
    let dir = support::fixtures_dir();
    let mut files = vec![dir.join("flux/install.yaml")];
    for entry in std::fs::read_dir(dir.join("crds")).unwrap() {
        files.push(entry.unwrap().path());
    }
    let mut out = BTreeMap::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(&text).unwrap();
        for crd in docs
            .iter()
            .filter(|d| d["kind"] == "CustomResourceDefinition")
        {
            let group = crd["spec"]["group"].as_str().unwrap();
            let kind = crd["spec"]["names"]["kind"].as_str().unwrap();
            for version in crd["spec"]["versions"].as_array().unwrap() {
                if version["served"] != true {
                    continue;
                }
                let api = format!("{group}/{}", version["name"].as_str().unwrap());
                out.insert(
                    (api, kind.to_owned()),
                    version["schema"]["openAPIV3Schema"].clone(),
                );
            }
        }
    }
    out
}

/// Every field of `value` must be declared by `schema` (as a strict server-side apply would
/// require), unless the schema preserves unknown fields there.
fn check_fields(
    value: &serde_json::Value,
    schema: &serde_json::Value,
    path: &str,
    errors: &mut Vec<String>,
) {
    if schema["x-kubernetes-preserve-unknown-fields"] == true {
        return;
    }
    match value {
        serde_json::Value::Object(map) => {
            let props = schema["properties"].as_object();
            let additional = &schema["additionalProperties"];
            for (k, v) in map {
                if path.is_empty() && (k == "apiVersion" || k == "kind" || k == "metadata") {
                    continue;
                }
                let p = format!("{path}.{k}");
                if let Some(sub) = props.and_then(|m| m.get(k)) {
                    check_fields(v, sub, &p, errors);
                } else if additional.is_object() {
                    check_fields(v, additional, &p, errors);
                } else {
                    errors.push(p);
                }
            }
        }
        serde_json::Value::Array(items) => {
            for v in items {
                check_fields(v, &schema["items"], &format!("{path}[]"), errors);
            }
        }
        _ => {}
    }
}

#[test]
fn every_custom_object_uses_only_fields_its_crd_declares() {
    let schemas = crd_schemas();
    let install = flux_install();
    let mut variants = vec![example(), full()];
    for (challenge, provider) in [
        (
            homelab::config::Challenge::Http01,
            homelab::config::DnsProvider::Cloudflare,
        ),
        (
            homelab::config::Challenge::Selfsigned,
            homelab::config::DnsProvider::Cloudflare,
        ),
        (
            homelab::config::Challenge::Dns01,
            homelab::config::DnsProvider::Digitalocean,
        ),
        (
            homelab::config::Challenge::Dns01,
            homelab::config::DnsProvider::Clouddns,
        ),
        (
            homelab::config::Challenge::Dns01,
            homelab::config::DnsProvider::Azuredns,
        ),
        (
            homelab::config::Challenge::Dns01,
            homelab::config::DnsProvider::Rfc2136,
        ),
    ] {
        for base in [example(), full()] {
            let mut cfg = base;
            cfg.certificates.challenge = challenge;
            cfg.certificates.dns_provider = provider;
            cfg.certificates.dns_settings = provider
                .allowed_settings()
                .iter()
                .map(|k| ((*k).to_owned(), "x".to_owned()))
                .collect();
            variants.push(cfg);
        }
    }
    // The checker itself finds an undeclared field.
    let bogus = serde_json::json!({"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
        "spec": {"interval": "1h", "chartRef": {"kind": "OCIRepository", "name": "x", "tag": "1"}}});
    let mut errors = Vec::new();
    check_fields(
        &bogus,
        &schemas[&(
            "helm.toolkit.fluxcd.io/v2".to_owned(),
            "HelmRelease".to_owned(),
        )],
        "",
        &mut errors,
    );
    assert_eq!(errors, [".spec.chartRef.tag"]);

    let mut checked = std::collections::BTreeSet::new();
    for cfg in variants {
        let rendered = render(&cfg, &install).unwrap();
        for (path, docs) in parse_all(&rendered) {
            if path.ends_with("gotk-components.yaml") || path.ends_with("homelab.yaml") {
                continue;
            }
            for doc in docs {
                let api = doc["apiVersion"].as_str().unwrap_or_default().to_owned();
                let kind = doc["kind"].as_str().unwrap_or_default().to_owned();
                let builtin = !api.contains('.')
                    || api.starts_with("storage.k8s.io/")
                    || api.starts_with("kustomize.config.k8s.io/");
                if builtin {
                    continue;
                }
                let schema = schemas
                    .get(&(api.clone(), kind.clone()))
                    .unwrap_or_else(|| panic!("{path}: no served CRD for {api} {kind}"));
                let mut errors = Vec::new();
                check_fields(&doc, schema, "", &mut errors);
                assert!(
                    errors.is_empty(),
                    "{path}: {kind} has undeclared fields {errors:?}"
                );
                checked.insert(kind);
            }
        }
    }
    for kind in [
        "GitRepository",
        "Kustomization",
        "HelmRelease",
        "HelmRepository",
        "OCIRepository",
        "ClusterIssuer",
        "Certificate",
        "IPAddressPool",
        "L2Advertisement",
        "EnvoyProxy",
        "GatewayClass",
        "Gateway",
        "HTTPRoute",
    ] {
        assert!(checked.contains(kind), "{kind} never checked");
    }
}

fn with_mirror(cfg: Config, mirror: homelab::config::Mirror) -> Config {
    let mut cfg = crate::strict::with_every_app(cfg);
    cfg.charts.mirror = Some(mirror);
    assert_eq!(homelab::catalog::validate_config(&cfg), []);
    cfg
}

/// Every chart source of a tree: (kind, url, spec).
fn sources(rendered: &Rendered) -> Vec<(String, String, serde_json::Value)> {
    parse_all(rendered)
        .into_values()
        .flatten()
        .filter(|d| d["kind"] == "HelmRepository" || d["kind"] == "OCIRepository")
        .map(|d| {
            (
                d["kind"].as_str().unwrap().to_owned(),
                d["spec"]["url"].as_str().unwrap().to_owned(),
                d["spec"].clone(),
            )
        })
        .collect()
}

#[test]
fn a_chart_mirror_moves_every_source_infrastructure_and_apps() {
    let install = flux_install();
    for base in [example(), full()] {
        let upstream_sources =
            sources(&render(&crate::strict::with_every_app(base.clone()), &install).unwrap());
        assert!(upstream_sources.len() >= 16, "{upstream_sources:?}");

        let cfg = with_mirror(
            base.clone(),
            homelab::config::Mirror {
                helm_repository: Some("http://127.0.0.1:8879/charts/".into()),
                oci_registry: Some("oci://127.0.0.1:5000/mirror".into()),
                ca_file: None,
                insecure: true,
            },
        );
        let mirrored = sources(&render(&cfg, &install).unwrap());
        assert_eq!(mirrored.len(), upstream_sources.len());
        for ((kind, url, spec), (_, up, _)) in mirrored.iter().zip(&upstream_sources) {
            match kind.as_str() {
                "HelmRepository" => {
                    assert_eq!(url, "http://127.0.0.1:8879/charts");
                    assert!(spec.get("type").is_none() && spec.get("insecure").is_none());
                }
                _ => {
                    // The upstream path, below the prefix.
                    let path = up
                        .strip_prefix("oci://")
                        .unwrap()
                        .split_once('/')
                        .unwrap()
                        .1;
                    assert_eq!(url, &format!("oci://127.0.0.1:5000/mirror/{path}"));
                    assert_eq!(spec["insecure"], true);
                }
            }
        }

        // A Helm mirror that is itself an OCI registry: HelmRepositories of type oci.
        let cfg = with_mirror(
            base,
            homelab::config::Mirror {
                helm_repository: Some("oci://registry.lan/charts".into()),
                ..Default::default()
            },
        );
        for (kind, url, spec) in sources(&render(&cfg, &install).unwrap()) {
            if kind == "HelmRepository" {
                assert_eq!(url, "oci://registry.lan/charts");
                assert_eq!(spec["type"], "oci");
            } else {
                assert!(!url.contains("registry.lan"), "{url}");
            }
        }
    }
}

#[test]
fn a_mirror_ca_is_trusted_by_source_controller() {
    let mut cfg = example();
    cfg.charts.mirror = Some(homelab::config::Mirror {
        oci_registry: Some("oci://registry.lan:5000".into()),
        ca_file: Some("mirror-ca.pem".into()),
        ..Default::default()
    });
    let rendered = render(&cfg, &flux_install()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    write_tree(&rendered, dir.path());
    let objs = kustomize(&dir.path().join("clusters/homelab/flux-system"));
    let sc = objs
        .iter()
        .find(|d| d["kind"] == "Deployment" && d["metadata"]["name"] == "source-controller")
        .unwrap();
    let pod = &sc["spec"]["template"]["spec"];
    let volume = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "chart-mirror-ca")
        .expect("the CA volume");
    assert_eq!(volume["secret"]["secretName"], "chart-mirror-ca");
    let manager = &pod["containers"][0];
    let env: Vec<(&str, &str)> = manager["env"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| Some((e["name"].as_str()?, e["value"].as_str()?)))
        .collect();
    assert!(env.contains(&(
        "SSL_CERT_DIR",
        "/etc/ssl/certs:/etc/homelab/chart-mirror-ca"
    )));
    // The upstream mounts are still there.
    let mut mounts: Vec<&str> = manager["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["mountPath"].as_str().unwrap())
        .collect();
    mounts.sort();
    assert_eq!(mounts, ["/data", "/etc/homelab/chart-mirror-ca", "/tmp"]);
    // Without a CA the kustomization is upstream's.
    let plain = render(&example(), &flux_install()).unwrap();
    assert!(!plain.files["clusters/homelab/flux-system/kustomization.yaml"].contains("patches"));
}

/// A Renovate file pattern (`/regex/`, JavaScript syntax) as a Rust regex.
fn js_pattern(p: &str) -> regex::Regex {
    let inner = p
        .strip_prefix('/')
        .and_then(|p| p.strip_suffix('/'))
        .unwrap_or_else(|| panic!("{p} is not a /regex/ pattern"));
    regex::Regex::new(inner).unwrap()
}

/// A minimatch glob of `matchFileNames` (`**` any path, `*` one segment) as a regex.
fn glob(p: &str) -> regex::Regex {
    let re = regex::escape(p)
        .replace(r"\*\*", ".*")
        .replace(r"\*", "[^/]*");
    regex::Regex::new(&format!("^{re}$")).unwrap()
}

/// The pins Renovate's Flux manager extracts from a tree, as its documentation describes
/// it: HelmRelease `chart.spec.version` with the HelmRepository it names, and
/// OCIRepository `ref.tag`, in the files its patterns match.
fn flux_manager_pins(
    rendered: &Rendered,
    renovate: &serde_json::Value,
) -> (BTreeSet<(String, String)>, BTreeSet<String>) {
    // Renovate adds the configured patterns to its default one.
    let mut patterns = vec![js_pattern(r"/(?:^|/)gotk-components\.ya?ml$/")];
    for p in renovate["flux"]["managerFilePatterns"].as_array().unwrap() {
        patterns.push(js_pattern(p.as_str().unwrap()));
    }
    let disabled: Vec<regex::Regex> = renovate["packageRules"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["enabled"] == false && r["matchManagers"] == serde_json::json!(["flux"]))
        .flat_map(|r| r["matchFileNames"].as_array().unwrap().clone())
        .map(|g| glob(g.as_str().unwrap()))
        .collect();
    let docs = parse_all(rendered);
    let files: BTreeSet<String> = docs
        .keys()
        .filter(|f| patterns.iter().any(|p| p.is_match(f)))
        .filter(|f| !disabled.iter().any(|g| g.is_match(f)))
        .cloned()
        .collect();
    let objects: Vec<&serde_json::Value> = files.iter().flat_map(|f| &docs[f]).collect();
    let mut pins = BTreeSet::new();
    for d in &objects {
        let ns = d["metadata"]["namespace"].as_str();
        if d["kind"] == "OCIRepository" {
            pins.insert((
                d["spec"]["url"].as_str().unwrap().to_owned(),
                d["spec"]["ref"]["tag"].as_str().unwrap().to_owned(),
            ));
        }
        if d["kind"] == "HelmRelease"
            && let Some(version) = d["spec"]["chart"]["spec"]["version"].as_str()
        {
            let source = &d["spec"]["chart"]["spec"]["sourceRef"];
            let repo = objects
                .iter()
                .find(|r| {
                    r["kind"] == "HelmRepository"
                        && r["metadata"]["name"] == source["name"]
                        && r["metadata"]["namespace"].as_str() == ns
                })
                .unwrap_or_else(|| panic!("Renovate finds no HelmRepository for {d}"));
            let chart = d["spec"]["chart"]["spec"]["chart"].as_str().unwrap();
            pins.insert((
                format!("{} {chart}", repo["spec"]["url"].as_str().unwrap()),
                version.to_owned(),
            ));
        }
    }
    (pins, files)
}

#[test]
fn renovate_finds_every_pinned_version_and_nothing_else() {
    let install = flux_install();
    for cfg in [
        example(),
        full(),
        crate::strict::with_every_app(example()),
        crate::strict::with_every_app(full()),
    ] {
        let rendered = render(&cfg, &install).unwrap();
        let renovate: serde_json::Value =
            serde_json::from_str(&rendered.files["renovate.json"]).expect("renovate.json parses");
        assert_eq!(
            renovate["$schema"],
            "https://docs.renovatebot.com/renovate-schema.json"
        );

        // What homelab pins: the controllers of this configuration and every app's chart.
        let mut expected = BTreeSet::new();
        let components = homelab::catalog::plan::controllers(&cfg)
            .into_iter()
            .map(|id| id.profile().chart.clone());
        let apps = cfg
            .apps
            .iter()
            .map(|app| homelab::catalog::get(&app.name).unwrap().chart);
        for chart in components.chain(apps) {
            expected.insert(match (&chart.oci, &chart.repository) {
                (Some(oci), _) => (oci.clone(), chart.version.clone()),
                (None, Some(repo)) => (format!("{repo} {}", chart.name), chart.version.clone()),
                _ => unreachable!(),
            });
        }
        let (pins, files) = flux_manager_pins(&rendered, &renovate);
        assert_eq!(pins, expected, "{}", cfg.cluster.name);
        assert!(
            files
                .iter()
                .all(|f| f.starts_with("infrastructure/") || f.starts_with("apps/")),
            "{files:?}"
        );

        // Flux itself: exactly one match, flux.version in homelab.yaml.
        let custom = &renovate["customManagers"][0];
        assert_eq!(custom["depNameTemplate"], "fluxcd/flux2");
        assert_eq!(custom["datasourceTemplate"], "github-releases");
        let file_patterns: Vec<regex::Regex> = custom["managerFilePatterns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| js_pattern(p.as_str().unwrap()))
            .collect();
        let matched: Vec<&String> = rendered
            .files
            .keys()
            .filter(|f| file_patterns.iter().any(|p| p.is_match(f)))
            .collect();
        assert_eq!(matched, ["homelab.yaml"]);
        let re = regex::Regex::new(custom["matchStrings"][0].as_str().unwrap()).unwrap();
        let found: Vec<&str> = re
            .captures_iter(&rendered.files["homelab.yaml"])
            .map(|c| c.name("currentValue").unwrap().as_str())
            .collect();
        assert_eq!(found, [cfg.flux.version.as_str()]);
    }
    // The pattern survives the ways people write the key by hand.
    let re = regex::Regex::new(homelab::render::renovate::FLUX_VERSION_MATCH).unwrap();
    for text in [
        "flux:\n  version: v2.9.4\n",
        "flux:\n  components: [a]\n  version: \"v2.10.0-rc.1\" # pinned\n",
        "git:\n  version: v1.0.0\nflux:\n  version: 'v2.9.4'\n",
    ] {
        let found: Vec<&str> = re
            .captures_iter(text)
            .map(|c| c.name("currentValue").unwrap().as_str())
            .collect();
        assert_eq!(found.len(), 1, "{text}");
        assert!(found[0].starts_with("v2."), "{text}: {found:?}");
    }
}

/// The helm CLI `scripts/build-helm` builds ($HOMELAB_HELM overrides).
fn helm() -> std::path::PathBuf {
    if let Some(bin) = std::env::var_os("HOMELAB_HELM") {
        return bin.into();
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| support::root().join("target"));
    let bin = target.join("tools/helm");
    assert!(
        bin.is_file(),
        "{} not found: run scripts/build-helm (or set HOMELAB_HELM)",
        bin.display()
    );
    bin
}

/// `helm template` of a pinned fixture chart with the values of a rendered HelmRelease.
fn helm_template(release: &serde_json::Value, package: &str) -> Vec<serde_json::Value> {
    let dir = tempfile::tempdir().unwrap();
    let values = dir.path().join("values.yaml");
    std::fs::write(
        &values,
        serde_json::to_string(&release["spec"]["values"]).unwrap(),
    )
    .unwrap();
    let out = Command::new(helm())
        .args(["template", "x"])
        .arg(support::fixtures_dir().join("charts").join(package))
        .args([
            "--namespace",
            release["metadata"]["namespace"].as_str().unwrap(),
        ])
        .args(["--kube-version", "1.34.0", "-f"])
        .arg(&values)
        .env("HELM_CACHE_HOME", dir.path().join("cache"))
        .env("HELM_CONFIG_HOME", dir.path().join("config"))
        .env("HELM_DATA_HOME", dir.path().join("data"))
        .output()
        .expect("run helm");
    assert!(
        out.status.success(),
        "helm template {package}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_saphyr::from_multiple(&String::from_utf8(out.stdout).unwrap()).unwrap()
}

#[test]
fn cert_manager_checks_dns01_over_https_and_needs_no_gateway_api() {
    let install = flux_install();
    for cfg in [example(), full()] {
        let rendered = render(&cfg, &install).unwrap();
        let release =
            &parse_all(&rendered)["infrastructure/controllers/cert-manager/release.yaml"][0];
        assert!(
            release["spec"]["values"].get("config").is_none(),
            "{release}"
        );
        let objects = helm_template(release, "cert-manager-v1.21.1.tgz");
        let controller = objects
            .iter()
            .find(|d| d["kind"] == "Deployment" && d["metadata"]["name"] == "x-cert-manager")
            .expect("the controller Deployment");
        let args: Vec<&str> = controller["spec"]["template"]["spec"]["containers"][0]["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        let resolvers = args
            .iter()
            .find_map(|a| a.strip_prefix("--dns01-recursive-nameservers="))
            .expect("DNS-01 resolvers");
        // cert-manager v1.21.1 accepts `host:port` or an https URL with a host per entry.
        for entry in resolvers.split(',') {
            let rest = entry
                .strip_prefix("https://")
                .unwrap_or_else(|| panic!("{entry}"));
            let (host, path) = rest.split_once('/').unwrap();
            assert!(
                host.parse::<std::net::Ipv4Addr>().is_ok() && path == "dns-query",
                "{entry}"
            );
        }
        assert!(args.contains(&"--dns01-recursive-nameservers-only=true"));
        // No controller configuration: nothing enables the Gateway API support.
        assert!(!objects.iter().any(|d| {
            serde_json::to_string(d)
                .unwrap()
                .contains("enableGatewayAPI")
        }),);
    }
}
