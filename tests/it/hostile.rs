//! Hostile values against every template, read back by the parser Flux uses.
//!
//! Validation refuses line breaks and invisible characters, but the templates must not rely
//! on it: here every string field of the configuration and every app setting holds a
//! hostile value (YAML 1.1 line breaks, quotes, `#`, `: `, `---`, template syntax,
//! backslashes, edge spaces, YAML 1.1 specials), the [`Config`] is built directly so nothing
//! is validated, every template is rendered (each infrastructure variant, every app profile
//! with each of its choices), and `kubectl kustomize` (kustomize's go-yaml, YAML 1.1) builds
//! every Flux path. It must see exactly the documents homelab meant, each value intact.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use homelab::catalog::{self, Validation};
use homelab::config::{
    AcmeServer, App, Challenge, Choice, Config, DnsProvider, IngressController, Provisioner,
};
use homelab::render::apps;
use serde_json::Value;

use crate::support::{example, flux_install};

/// One value holding every hostile construct at once, tagged so each field's copy can be
/// told apart. The U+2028 part is the known attack: it ended the line of a comment for
/// go-yaml and let the rest of the value become a ClusterRoleBinding.
fn combined(tag: &str) -> String {
    format!(
        "{tag}\u{2028}---\u{2028}apiVersion: rbac.authorization.k8s.io/v1\u{2028}kind: ClusterRoleBinding\u{2028}metadata: {{name: pwned-{tag}}}\u{2028}#\u{2029}x\u{85}y \"q' # c: d {{{{ 7*7 }}}} {{% if %}} back\\slash\\n --- \u{200B}\u{202E}\u{FEFF} "
    )
}

/// Whole values YAML 1.1 reads as something other than a string, or as structure.
const SPECIALS: &[&str] = &[
    "yes", "~", "0x1", "1e3", "no", "on", "null", "0755", "1:20", "---", "#", " lead", "trail ",
    "- item", "a: b", "\u{2028}", "@x", "*alias", "&anchor", "!tag", "%YAML", "'", "\"", "\\",
];

/// Fills every string field with values from `next`.
fn hostile_config(mut next: impl FnMut(&str) -> String, base: &Config) -> Config {
    let mut cfg = base.clone();
    // cluster.name and app names are repository paths, refused by the renderer itself;
    // flux.version and flux.components are checked against the install manifest.
    cfg.cluster.domain = next("domain");
    for (i, node) in cfg.nodes.iter_mut().enumerate() {
        node.name = next(&format!("node{i}name"));
        node.address = next(&format!("node{i}address"));
    }
    cfg.network.node_cidr = next("nodecidr");
    cfg.network.loadbalancer_pool = vec![next("pool0"), next("pool1")];
    cfg.network.ingress_address = next("ingressaddress");
    cfg.certificates.email = next("email");
    let keys: Vec<String> = cfg.certificates.dns_settings.keys().cloned().collect();
    for key in keys {
        let value = next(&format!("dns{key}"));
        cfg.certificates.dns_settings.insert(key, value);
    }
    cfg.storage.nfs_server = next("nfsserver");
    cfg.storage.nfs_path = next("nfspath");
    cfg.storage.storage_class = next("storageclass");
    cfg.git.url = next("giturl");
    cfg.git.branch = next("gitbranch");
    for app in &mut cfg.apps {
        let profile = catalog::get(&app.name).expect("catalog app");
        app.namespace = next(&format!("{}namespace", app.name));
        app.host = next(&format!("{}host", app.name));
        for q in &profile.questions {
            // Typed answers feed `| int` and `when` conditions: those keep their valid
            // values (chosen per variant); every free-text answer is hostile.
            if matches!(
                q.validation,
                Validation::Int { .. } | Validation::Bool | Validation::Enum(_)
            ) {
                continue;
            }
            let value = next(&format!("{}{}", app.name, q.key.replace(['-', '_'], "")));
            app.settings.insert(q.key.clone(), value);
        }
    }
    cfg
}

/// Every infrastructure variant the templates branch on.
fn infrastructure_variants() -> Vec<Config> {
    let mut out = Vec::new();
    for &ingress in IngressController::all() {
        for &challenge in Challenge::all() {
            for &provider in DnsProvider::all() {
                if challenge != Challenge::Dns01 && provider != DnsProvider::Cloudflare {
                    continue;
                }
                for (provisioner, acme, default_class) in [
                    (Provisioner::CsiDriverNfs, AcmeServer::Production, true),
                    (
                        Provisioner::NfsSubdirExternalProvisioner,
                        AcmeServer::Staging,
                        false,
                    ),
                ] {
                    let mut cfg = example();
                    cfg.ingress.controller = ingress;
                    cfg.certificates.challenge = challenge;
                    cfg.certificates.dns_provider = provider;
                    cfg.certificates.dns_settings = provider
                        .allowed_settings()
                        .iter()
                        .map(|k| ((*k).to_owned(), String::new()))
                        .collect();
                    cfg.certificates.acme_server = acme;
                    cfg.storage.provisioner = provisioner;
                    cfg.storage.default_class = default_class;
                    out.push(cfg);
                }
            }
        }
    }
    out
}

/// Every app of the catalog, with the `choice`-th option of each enum and bool question.
fn all_apps(choice: usize) -> Vec<App> {
    catalog::all()
        .into_iter()
        .map(|profile| {
            let mut settings = BTreeMap::new();
            for q in &profile.questions {
                let options: Vec<String> = match &q.validation {
                    Validation::Enum(o) => o.clone(),
                    Validation::Bool => vec!["true".into(), "false".into()],
                    _ => continue,
                };
                settings.insert(q.key.clone(), options[choice % options.len()].clone());
            }
            App {
                name: profile.name.clone(),
                namespace: profile.namespace.clone(),
                host: format!("{}.example.com", profile.name),
                settings,
            }
        })
        .collect()
}

/// The most options any enum or bool question has.
fn most_choices() -> usize {
    catalog::all()
        .iter()
        .flat_map(|p| p.questions.iter())
        .map(|q| match &q.validation {
            Validation::Enum(o) => o.len(),
            Validation::Bool => 2,
            _ => 1,
        })
        .max()
        .unwrap_or(1)
}

/// Render `cfg` into `dir` as `homelab render` would, with each app's Secret written in
/// plain (kustomize does not care whether it is encrypted) from hostile values.
fn write_repository(cfg: &Config, dir: &Path, secret_value: &mut dyn FnMut(&str) -> String) {
    let install = std::fs::read_to_string(flux_install()).unwrap();
    let rendered =
        homelab::render::render(cfg, &install).unwrap_or_else(|e| panic!("render failed: {e:#}"));
    let mut files = rendered.files;
    for app in &cfg.apps {
        let profile = catalog::get(&app.name).unwrap();
        let given: BTreeMap<String, String> = profile
            .secrets
            .iter()
            .map(|s| {
                (
                    s.key.clone(),
                    secret_value(&format!("{}{}", app.name, s.key)),
                )
            })
            .collect();
        if let Some(secret) = apps::plain_secret(cfg, &profile, app, &given).unwrap() {
            files.insert(catalog::secret_path(app), secret);
        }
    }
    for (path, text) in &files {
        let file = dir.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, text).unwrap();
    }
}

type Id = (String, String, String, String);

fn id(doc: &Value) -> Id {
    let s = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    (
        s(&doc["apiVersion"]),
        s(&doc["kind"]),
        s(&doc["metadata"]["namespace"]),
        s(&doc["metadata"]["name"]),
    )
}

fn parse_docs(text: &str, what: &str) -> Vec<Value> {
    serde_saphyr::from_multiple::<Value>(text)
        .unwrap_or_else(|e| panic!("{what} does not parse: {e}"))
        .into_iter()
        .filter(|d| !d.is_null())
        .collect()
}

/// The documents homelab meant a kustomization directory to hold, by its own parser:
/// the kustomization's resources, followed into subdirectories.
fn intended(dir: &Path, out: &mut Vec<Value>) {
    let kustomization = dir.join("kustomization.yaml");
    let k = &parse_docs(
        &std::fs::read_to_string(&kustomization).unwrap(),
        &kustomization.display().to_string(),
    )[0];
    for resource in k["resources"].as_array().expect("resources") {
        let path = dir.join(resource.as_str().expect("a path"));
        if path.is_dir() {
            intended(&path, out);
        } else {
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            out.extend(parse_docs(&text, &path.display().to_string()));
        }
    }
}

/// What kustomize (go-yaml) builds from a directory.
fn kustomize(dir: &Path) -> Vec<Value> {
    let out = Command::new("kubectl")
        .arg("kustomize")
        .arg(dir)
        .output()
        .expect("kubectl (with kustomize) must be on PATH for this test");
    assert!(
        out.status.success(),
        "kubectl kustomize {} failed:\n{}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    parse_docs(
        &String::from_utf8(out.stdout).expect("UTF-8"),
        "kustomize's output",
    )
}

/// kustomize turns U+0085 NEXT LINE into a space even when it arrives escaped inside a
/// quoted string (go-yaml folds it as a line break): the value changes but no structure
/// does, and validation refuses the character for that reason. Everything else must arrive
/// exactly.
fn as_kustomize_keeps(v: &Value) -> Value {
    match v {
        Value::String(s) => Value::String(s.replace('\u{85}', " ")),
        Value::Array(a) => Value::Array(a.iter().map(as_kustomize_keeps).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| (k.replace('\u{85}', " "), as_kustomize_keeps(x)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(m) => {
            for (k, x) in m {
                out.push(k.clone());
                strings(x, out);
            }
        }
        _ => {}
    }
}

/// Every directory a Flux Kustomization of the repository builds: the cluster path and the
/// `spec.path` of each Kustomization in it, as homelab's own parser reads them.
fn flux_paths(cfg: &Config, dir: &Path) -> Vec<String> {
    let cluster = format!("clusters/{}", cfg.cluster.name);
    let mut paths = vec![cluster.clone()];
    let mut files: Vec<_> = std::fs::read_dir(dir.join(&cluster))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for doc in parse_docs(&text, &file.display().to_string()) {
            if doc["kind"] == "Kustomization"
                && doc["apiVersion"]
                    .as_str()
                    .unwrap_or_default()
                    .starts_with("kustomize.toolkit.fluxcd.io/")
            {
                let path = doc["spec"]["path"].as_str().unwrap_or_default();
                let path = path.trim_start_matches("./").to_owned();
                if path != cluster && !paths.contains(&path) {
                    paths.push(path);
                }
            }
        }
    }
    assert!(paths.len() > 2, "no Flux Kustomizations found in {cluster}");
    paths
}

/// Build every Flux path of the repository in `dir` with kustomize and compare with what
/// homelab meant; `seen` skips paths whose files were already checked.
fn check_repository(cfg: &Config, dir: &Path, seen: &mut BTreeSet<String>) -> Vec<String> {
    let mut leaves = Vec::new();
    for path in flux_paths(cfg, dir) {
        let full = dir.join(&path);
        let mut meant = Vec::new();
        intended(&full, &mut meant);
        let key = format!("{path}:{}", serde_json::to_string(&meant).unwrap());
        strings(&Value::Array(meant.clone()), &mut leaves);
        if !seen.insert(key) {
            continue;
        }
        let built = kustomize(&full);
        let meant: Vec<Value> = meant.iter().map(as_kustomize_keeps).collect();
        let meant_ids: BTreeSet<Id> = meant.iter().map(id).collect();
        let built_ids: BTreeSet<Id> = built.iter().map(id).collect();
        assert_eq!(
            built_ids, meant_ids,
            "{path}: kustomize sees other documents than homelab rendered"
        );
        assert_eq!(meant.len(), built.len(), "{path}: a document is duplicated");
        let by_id: BTreeMap<Id, &Value> = built.iter().map(|d| (id(d), d)).collect();
        for doc in &meant {
            assert_eq!(
                by_id[&id(doc)],
                doc,
                "{path}: kustomize reads {:?} differently from homelab",
                id(doc)
            );
        }
    }
    // The README is for people: no value may start a line or hide in it.
    let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
    assert!(
        !readme
            .chars()
            .any(|c| homelab::text::is_hidden(c) && c != '\n'),
        "README.md holds a hidden character"
    );
    leaves
}

#[test]
fn kustomize_reads_every_template_as_homelab_meant_with_hostile_values() {
    let mut seen = BTreeSet::new();
    let mut cases: Vec<(String, Config)> = Vec::new();
    for (n, variant) in infrastructure_variants().into_iter().enumerate() {
        cases.push((format!("variant {n}"), variant));
    }
    for choice in 0..most_choices() {
        let mut cfg = example();
        cfg.apps = all_apps(choice);
        cases.push((format!("apps, choice {choice}"), cfg));
    }
    for (label, base) in &cases {
        // Every field holds the combined hostile value, tagged with its name.
        let mut fields: BTreeMap<String, String> = BTreeMap::new();
        let cfg = hostile_config(
            |tag| {
                let v = combined(tag);
                fields.insert(tag.to_owned(), v.clone());
                v
            },
            base,
        );
        let dir = tempfile::tempdir().unwrap();
        write_repository(&cfg, dir.path(), &mut |tag| combined(tag));
        let leaves = check_repository(&cfg, dir.path(), &mut seen);
        // The values that reach a manifest arrive whole (homelab's parse equals
        // kustomize's, checked above): the attack's own path among them.
        let mut must = vec!["nfspath", "giturl", "gitbranch", "storageclass"];
        if cfg.certificates.challenge != Challenge::Selfsigned {
            must.push("email");
        }
        for must in must {
            let value = &fields[must];
            assert!(
                leaves.iter().any(|l| l.contains(value.as_str())),
                "{label}: {must} does not arrive intact in any manifest"
            );
        }
        if !cfg.apps.is_empty() {
            for app in &cfg.apps {
                let value = &fields[&format!("{}host", app.name)];
                assert!(
                    leaves.iter().any(|l| l == value),
                    "{label}: the host of {} does not arrive intact",
                    app.name
                );
            }
        }
    }

    // Whole-value specials, one per field, on the base configuration and with every app.
    for (label, base) in [&cases[0], cases.last().unwrap()] {
        let mut i = 0;
        let cfg = hostile_config(
            |tag| {
                i += 1;
                let special = SPECIALS[i % SPECIALS.len()];
                // Two apps may not share a namespace (kustomize refuses the duplicate
                // Namespace object, as it should).
                if tag.ends_with("namespace") {
                    format!("{special}{i}")
                } else {
                    special.to_owned()
                }
            },
            base,
        );
        let dir = tempfile::tempdir().unwrap();
        let mut j = 0;
        write_repository(&cfg, dir.path(), &mut |_| {
            j += 1;
            SPECIALS[j % SPECIALS.len()].to_owned()
        });
        let _ = label;
        check_repository(&cfg, dir.path(), &mut seen);
    }
}
