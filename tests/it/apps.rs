//! The app catalog end to end: every profile renders and parses for both ingress
//! controllers, `kubectl kustomize` builds a repository holding every app, Nextcloud's
//! values are right, secrets never reach git in plaintext (checked in every blob of every
//! commit) and decrypt with the real `sops`, and add / add again / remove / add back leave
//! the repository as expected.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use homelab::catalog::{self, Profile, Validation};
use homelab::config::{App, Challenge, Config, IngressController};
use homelab::render::apps;
use serde_json::Value;

use crate::support::{self, example, homelab, sops};

/// `cfg` with every app of the catalog installed as `add-app --non-interactive` would,
/// one after the other (so each LoadBalancer address is the next free one).
pub(crate) fn with_every_app(mut cfg: Config) -> Config {
    cfg.apps.clear();
    for p in catalog::all() {
        let app = app_for(&cfg, &p);
        cfg.apps.push(app);
    }
    cfg
}

/// A sample answer for a question without a default.
fn sample(v: &Validation) -> String {
    match v {
        Validation::Host => "192.168.1.241".into(),
        Validation::Int { min, .. } => min.unwrap_or(1).to_string(),
        Validation::Bool => "true".into(),
        Validation::Size => "1Gi".into(),
        Validation::Enum(o) => o[0].clone(),
        Validation::Regex(_) | Validation::Text => "sample".into(),
    }
}

/// The app as `add-app --non-interactive` would record it into `cfg`: required answers
/// sampled, LoadBalancer addresses the next free ones of the pool.
pub(crate) fn app_for(cfg: &Config, p: &Profile) -> App {
    let mut settings = BTreeMap::new();
    let mut trial = cfg.clone();
    for q in &p.questions {
        if catalog::matches(&q.when, &settings) {
            let v = if q.loadbalancer.is_some() {
                catalog::next_free_address(&trial)
                    .expect("a free pool address")
                    .to_string()
            } else if q.default.is_empty() {
                sample(&q.validation)
            } else {
                q.default.clone()
            };
            settings.insert(q.key.clone(), v);
            trial.apps.retain(|a| a.name != p.name);
            trial.apps.push(App {
                name: p.name.clone(),
                namespace: p.namespace.clone(),
                host: String::new(),
                settings: settings.clone(),
            });
        }
    }
    App {
        name: p.name.clone(),
        namespace: p.namespace.clone(),
        host: catalog::default_host(cfg, p),
        settings,
    }
}

/// The `--set` flags `add-app --non-interactive` needs for a profile (required answers only).
fn required_sets(p: &Profile) -> Vec<String> {
    let mut out = Vec::new();
    let mut settings = BTreeMap::new();
    for q in &p.questions {
        if catalog::matches(&q.when, &settings) {
            let v = if q.loadbalancer.is_some() {
                // add-app takes the next free pool address.
                continue;
            } else if q.default.is_empty() {
                let v = sample(&q.validation);
                out.push(format!("--set={}={v}", q.key));
                v
            } else {
                q.default.clone()
            };
            settings.insert(q.key.clone(), v);
        }
    }
    for s in &p.secrets {
        if catalog::matches(&s.when, &settings) && s.generate.is_none() && s.value.is_none() {
            out.push(format!("--set={}=given-{}-value", s.key, s.key));
        }
    }
    out
}

/// Exit-code assertion that keeps the run for more checks.
trait CodeIs {
    fn code_is(self, code: i32) -> Self;
}

impl CodeIs for support::Run {
    fn code_is(self, code: i32) -> Self {
        assert_eq!(
            self.code(),
            code,
            "unexpected exit code\n{}",
            self.describe()
        );
        self
    }
}

fn parse_yaml(path: &str, text: &str) -> Value {
    serde_saphyr::from_str(text).unwrap_or_else(|e| panic!("{path} is not valid YAML: {e}\n{text}"))
}

#[test]
fn catalog_has_the_promised_apps_with_pinned_versions() {
    let profiles = catalog::load_all().expect("every profile parses");
    let names: BTreeSet<&str> = profiles.iter().map(|p| p.name.as_str()).collect();
    for want in [
        "nextcloud",
        "jellyfin",
        "vaultwarden",
        "home-assistant",
        "uptime-kuma",
        "pihole",
        "grafana",
        "kube-prometheus-stack",
        "paperless-ngx",
        "adguard-home",
        "syncthing",
        "homepage",
    ] {
        assert!(names.contains(want), "{want} missing from the catalog");
    }
    let exact = regex::Regex::new(r"^[0-9]+\.[0-9]+\.[0-9]+$").expect("regex");
    for p in &profiles {
        assert!(
            exact.is_match(&p.chart.version),
            "{}: chart version {:?} is not pinned",
            p.name,
            p.chart.version
        );
        assert!(
            p.chart.repository.is_some() != p.chart.oci.is_some(),
            "{}: exactly one of chart.repository / chart.oci",
            p.name
        );
        if let Some(oci) = &p.chart.oci {
            assert!(oci.starts_with("oci://"), "{}: {oci}", p.name);
        }
        assert!(catalog::is_dns_label(&p.namespace), "{}: namespace", p.name);
        for q in &p.questions {
            if !q.default.is_empty() {
                q.validation
                    .check(&q.default)
                    .unwrap_or_else(|e| panic!("{}: default of {}: {e}", p.name, q.key));
            }
        }
    }
    assert_eq!(catalog::suggest("nextclod"), Some("nextcloud"));
    assert_eq!(catalog::suggest("jelyfin"), Some("jellyfin"));
    assert_eq!(catalog::suggest("zzzzqqq"), None);
}

/// The catalog table of docs/apps.md says, for every app, the chart version and namespace
/// its profile pins: one row per profile, the same values.
#[test]
fn the_catalog_table_in_the_docs_matches_the_profiles() {
    let docs = std::fs::read_to_string(support::root().join("docs/apps.md")).expect("docs");
    let header = "| App | Chart | Version | Namespace | Data |";
    let rows: BTreeMap<String, (String, String)> = docs
        .split_once(header)
        .unwrap_or_else(|| panic!("docs/apps.md has no {header:?} table"))
        .1
        .lines()
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
            (
                cells[0].to_owned(),
                (cells[2].to_owned(), cells[3].to_owned()),
            )
        })
        .collect();
    let profiles: BTreeMap<String, (String, String)> = catalog::load_all()
        .expect("every profile parses")
        .into_iter()
        .map(|p| {
            (
                p.name.clone(),
                (p.chart.version.clone(), p.namespace.clone()),
            )
        })
        .collect();
    assert_eq!(
        rows, profiles,
        "docs/apps.md (left) against profiles/ (right)"
    );
}

#[test]
fn profiles_declare_what_their_volumes_hold_and_their_values_agree() {
    use homelab::catalog::StorageNeed;
    for p in catalog::all() {
        let text = serde_json::to_string(&p.values).expect("json")
            + &serde_json::to_string(&p.overlays).expect("json");
        let nfs = text.contains("{{ storage_class }}");
        let local = text.contains("{{ local_class }}");
        let agrees = match p.needs.storage {
            StorageNeed::None => !nfs && !local,
            StorageNeed::Nfs => !local,
            StorageNeed::Local => local,
        };
        assert!(
            agrees,
            "{}: needs.storage is {:?}, but the values use storage_class: {nfs}, local_class: {local}",
            p.name, p.needs.storage
        );
        // Fixed addresses are rendered by homelab, one way only: never by the profile.
        assert!(
            !text.contains("loadBalancerIP") && !text.contains("metallb.io"),
            "{}: set fixed addresses with a `loadbalancer` question, not in the values",
            p.name
        );
    }
    // The declaration takes effect: with a node-local class, databases move there.
    let mut cfg = example();
    cfg.storage.local_class = Some("local-path".into());
    let p = catalog::get("uptime-kuma").expect("uptime-kuma");
    let app = app_for(&cfg, &p);
    cfg.apps = vec![app.clone()];
    let files = apps::render_app(&cfg, &app).expect("renders");
    let hr = parse_yaml("hr", &files["apps/uptime-kuma/helmrelease.yaml"]);
    assert_eq!(
        hr["spec"]["values"]["volume"]["storageClassName"],
        "local-path"
    );
}

#[test]
fn app_releases_retry_a_first_install_and_namespaces_with_host_access_are_privileged() {
    let mut cfg = example();
    for p in catalog::all() {
        let app = app_for(&cfg, &p);
        cfg.apps = vec![app.clone()];
        let files = apps::render_app(&cfg, &app).expect("renders");
        let hr = parse_yaml("hr", &files[&format!("apps/{}/helmrelease.yaml", p.name)]);
        let spec = &hr["spec"];
        assert_eq!(spec["timeout"], p.timeout.as_str(), "{}", p.name);
        assert_eq!(spec["install"]["strategy"]["name"], "RetryOnFailure");
        assert_eq!(spec["install"]["crds"], "CreateReplace");
        assert_eq!(spec["upgrade"]["crds"], "CreateReplace");
        assert_eq!(spec["upgrade"]["cleanupOnFail"], true);
        assert_eq!(spec["upgrade"]["strategy"]["name"], "RemediateOnFailure");
        assert_eq!(spec["upgrade"]["remediation"]["retries"], 3);
        assert_eq!(spec["upgrade"]["remediation"]["remediateLastFailure"], true);
        assert_eq!(spec["driftDetection"]["mode"], "enabled");
        let ns = parse_yaml("ns", &files[&format!("apps/{}/namespace.yaml", p.name)]);
        let enforce = &ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"];
        if p.privileged {
            assert_eq!(*enforce, "privileged", "{}", p.name);
        } else {
            assert!(enforce.is_null(), "{}: {ns}", p.name);
        }
    }
    assert!(
        catalog::get("kube-prometheus-stack")
            .expect("kps")
            .privileged
    );
    assert_eq!(catalog::get("nextcloud").expect("nextcloud").timeout, "15m");
}

#[test]
fn every_profile_renders_and_parses_for_both_ingress_controllers() {
    for controller in [IngressController::Traefik, IngressController::EnvoyGateway] {
        let mut cfg = example();
        cfg.ingress.controller = controller;
        for p in catalog::all() {
            let app = app_for(&cfg, &p);
            cfg.apps = vec![app.clone()];
            let files =
                apps::render_app(&cfg, &app).unwrap_or_else(|e| panic!("{}: {e:#}", p.name));
            let dir = format!("apps/{}/", p.name);
            assert!(
                files.keys().all(|k| k.starts_with(&dir)),
                "{:?}",
                files.keys()
            );
            let mut kinds = BTreeSet::new();
            for (path, text) in &files {
                let doc = parse_yaml(path, text);
                kinds.insert(doc["kind"].as_str().unwrap_or_default().to_owned());
            }
            let exposure = match controller {
                IngressController::Traefik => "Ingress",
                IngressController::EnvoyGateway => "HTTPRoute",
            };
            for kind in ["Namespace", "HelmRelease", "Kustomization", exposure] {
                assert!(
                    kinds.contains(kind),
                    "{} ({controller:?}) lacks a {kind}: {kinds:?}",
                    p.name
                );
            }
            let source = if p.chart.oci.is_some() {
                "OCIRepository"
            } else {
                "HelmRepository"
            };
            assert!(kinds.contains(source), "{}: {kinds:?}", p.name);

            // The kustomization lists exactly the app's files (plus the Secret written at add time).
            let kust = parse_yaml("kustomization", &files[&format!("{dir}kustomization.yaml")]);
            for r in kust["resources"].as_array().expect("resources") {
                let r = r.as_str().expect("str");
                assert!(
                    files.contains_key(&format!("{dir}{r}")) || r == "secret.sops.yaml",
                    "{}: kustomization lists missing {r}",
                    p.name
                );
            }
            let hr = parse_yaml("helmrelease", &files[&format!("{dir}helmrelease.yaml")]);
            let values = hr["spec"]["values"].to_string();
            assert!(
                !values.contains("{{"),
                "{}: unevaluated expression in {values}",
                p.name
            );
            if p.needs.storage != homelab::catalog::StorageNeed::None {
                assert!(
                    values.contains("\"nfs\""),
                    "{}: values do not use the NFS class: {values}",
                    p.name
                );
            }
            let given: BTreeMap<String, String> = p
                .secrets
                .iter()
                .map(|s| (s.key.clone(), "given".to_owned()))
                .collect();
            if let Some(secret) = apps::plain_secret(&cfg, &p, &app, &given).expect("secret") {
                let doc = parse_yaml("secret", &secret);
                assert_eq!(doc["kind"], "Secret");
                assert_eq!(doc["metadata"]["name"], format!("{}-credentials", p.name));
                assert!(catalog::has_secrets(&p, &app));
            }
        }
    }
}

#[test]
fn nextcloud_values_carry_host_tls_storage_and_external_database_by_reference() {
    let mut cfg = example();
    cfg.storage.storage_class = "nfs-fast".into();
    let p = catalog::get("nextcloud").expect("nextcloud");
    let mut app = app_for(&cfg, &p);
    app.host = "cloud.example.com".into();
    app.settings = [
        ("database", "external"),
        ("db_host", "db.lan"),
        ("db_port", "3307"),
        ("db_name", "nc"),
        ("db_user", "ncuser"),
        ("admin_user", "root"),
        ("storage_size", "100Gi"),
        ("upload_limit", "8G"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    cfg.apps = vec![app.clone()];
    let files = apps::render_app(&cfg, &app).expect("renders");
    let hr = parse_yaml("hr", &files["apps/nextcloud/helmrelease.yaml"]);
    assert_eq!(
        hr["spec"]["chart"]["spec"]["version"],
        p.chart.version.as_str()
    );
    let v = &hr["spec"]["values"];
    assert_eq!(v["nextcloud"]["host"], "cloud.example.com");
    assert_eq!(v["nextcloud"]["trustedDomains"][0], "cloud.example.com");
    assert_eq!(
        v["nextcloud"]["existingSecret"]["secretName"],
        "nextcloud-credentials"
    );
    assert!(
        v["nextcloud"]["configs"]["homelab.config.php"]
            .as_str()
            .expect("php")
            .contains("trusted_proxies")
    );
    assert!(
        v["nextcloud"]["phpConfigs"]["zz-homelab-uploads.ini"]
            .as_str()
            .expect("ini")
            .contains("upload_max_filesize = 8G")
    );
    assert_eq!(v["persistence"]["enabled"], true);
    assert_eq!(v["persistence"]["storageClass"], "nfs-fast");
    assert_eq!(v["persistence"]["size"], "100Gi");
    assert_eq!(v["cronjob"]["enabled"], true);
    assert_eq!(v["mariadb"]["enabled"], false);
    assert_eq!(v["internalDatabase"]["enabled"], false);
    let db = &v["externalDatabase"];
    assert_eq!(db["enabled"], true);
    assert_eq!(db["host"], "db.lan:3307");
    assert_eq!(db["database"], "nc");
    assert_eq!(db["existingSecret"]["enabled"], true);
    assert_eq!(db["existingSecret"]["secretName"], "nextcloud-credentials");
    assert_eq!(db["existingSecret"]["passwordKey"], "db-password");
    assert!(db.get("password").is_none(), "no password in values: {db}");

    let ing = parse_yaml("ingress", &files["apps/nextcloud/ingress.yaml"]);
    assert_eq!(
        ing["metadata"]["annotations"]["cert-manager.io/cluster-issuer"],
        "letsencrypt-production"
    );
    assert_eq!(ing["spec"]["tls"][0]["hosts"][0], "cloud.example.com");
    assert_eq!(ing["spec"]["rules"][0]["host"], "cloud.example.com");
    let backend = &ing["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"];
    assert_eq!(backend["name"], "nextcloud");
    assert_eq!(backend["port"]["number"], 8080);

    // The issuer follows the certificate settings.
    cfg.certificates.challenge = Challenge::Selfsigned;
    let files = apps::render_app(&cfg, &app).expect("renders");
    let ing = parse_yaml("ingress", &files["apps/nextcloud/ingress.yaml"]);
    assert_eq!(
        ing["metadata"]["annotations"]["cert-manager.io/cluster-issuer"],
        "homelab-ca"
    );

    // External database: the user's password is required and ends up only in the Secret.
    let given = BTreeMap::from([("db-password".to_owned(), "s3cret-db".to_owned())]);
    let secret = apps::plain_secret(&cfg, &p, &app, &given)
        .expect("secret")
        .expect("some");
    let s = parse_yaml("secret", &secret);
    assert_eq!(s["stringData"]["db-password"], "s3cret-db");
    assert_eq!(s["stringData"]["db-username"], "ncuser");
    assert_eq!(s["stringData"]["nextcloud-username"], "root");
    assert!(
        s["stringData"]["nextcloud-password"]
            .as_str()
            .expect("pw")
            .len()
            >= 32
    );
    assert!(apps::plain_secret(&cfg, &p, &app, &BTreeMap::new()).is_err());
}

/// A fresh homelab repository: the example homelab.yaml, `git init`, a first commit.
struct Repo {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    key: PathBuf,
}

impl Repo {
    fn new() -> Self {
        Self::from_config(&support::example_config())
    }

    /// A repository rendered by `homelab render` from `config`.
    fn rendered(config: &Path) -> Self {
        let repo = Self::from_config(config);
        homelab()
            .dir(&repo.dir)
            .env("HOMELAB_AGE_KEY_FILE", &repo.key)
            .arg("render")
            .ok();
        assert!(repo.clean());
        repo
    }

    fn from_config(config: &Path) -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("repo");
        std::fs::create_dir(&dir).expect("mkdir");
        std::fs::copy(config, dir.join("homelab.yaml")).expect("copy");
        let repo = git2::Repository::init(&dir).expect("git init");
        homelab::git::commit_all(&repo, "Initial").expect("commit");
        let key = tmp.path().join("keys/age.agekey");
        Self {
            _tmp: tmp,
            dir,
            key,
        }
    }

    fn add(&self, args: &[&str]) -> support::Run {
        homelab()
            .dir(&self.dir)
            .env("HOMELAB_AGE_KEY_FILE", &self.key)
            .arg("add-app")
            .args(args)
            .arg("--non-interactive")
            .run()
    }

    fn remove(&self, name: &str) -> support::Run {
        homelab()
            .dir(&self.dir)
            .env("HOMELAB_AGE_KEY_FILE", &self.key)
            .args(["remove-app", name, "--non-interactive", "--no-push"])
            .run()
    }

    fn config(&self) -> Config {
        serde_saphyr::from_str(&self.read("homelab.yaml")).expect("homelab.yaml parses")
    }

    /// Replace `from` by `to` in homelab.yaml, as a user editing it would.
    fn edit_config(&self, from: &str, to: &str) {
        let text = self.read("homelab.yaml");
        assert!(
            text.contains(from),
            "{from:?} is not in homelab.yaml:\n{text}"
        );
        std::fs::write(self.dir.join("homelab.yaml"), text.replace(from, to)).expect("write");
    }

    fn render(&self) -> support::Run {
        homelab().dir(&self.dir).arg("render").run()
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.dir.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }

    fn head(&self) -> git2::Oid {
        git2::Repository::open(&self.dir)
            .expect("open")
            .head()
            .expect("head")
            .target()
            .expect("oid")
    }

    /// Every file of the work tree (outside .git) with its content.
    fn snapshot(&self) -> BTreeMap<String, String> {
        fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
            for entry in std::fs::read_dir(dir).expect("read_dir") {
                let path = entry.expect("entry").path();
                if path.file_name().is_some_and(|n| n == ".git") {
                    continue;
                }
                if path.is_dir() {
                    walk(root, &path, out);
                } else {
                    let rel = path
                        .strip_prefix(root)
                        .expect("prefix")
                        .to_string_lossy()
                        .into_owned();
                    out.insert(rel, std::fs::read_to_string(&path).expect("read"));
                }
            }
        }
        let mut out = BTreeMap::new();
        walk(&self.dir, &self.dir, &mut out);
        out
    }

    /// Every blob of every commit reachable from HEAD, as text.
    fn all_blobs(&self) -> Vec<(String, String)> {
        let repo = git2::Repository::open(&self.dir).expect("open");
        let mut walk = repo.revwalk().expect("revwalk");
        walk.push_head().expect("head");
        let mut out = Vec::new();
        for oid in walk {
            let commit = repo.find_commit(oid.expect("oid")).expect("commit");
            out.push((
                format!("commit {}", commit.id()),
                commit.message().unwrap_or_default().to_owned(),
            ));
            let tree = commit.tree().expect("tree");
            tree.walk(git2::TreeWalkMode::PreOrder, |root, entry| {
                if let Ok(blob) = entry.to_object(&repo).and_then(|o| o.peel_to_blob()) {
                    out.push((
                        format!("{}{}", root, entry.name().unwrap_or_default()),
                        String::from_utf8_lossy(blob.content()).into_owned(),
                    ));
                }
                git2::TreeWalkResult::Ok
            })
            .expect("walk");
        }
        out
    }

    fn clean(&self) -> bool {
        let repo = git2::Repository::open(&self.dir).expect("open");
        repo.statuses(None).expect("status").is_empty()
    }
}

#[test]
fn add_refuse_remove_and_add_back_nextcloud() {
    let repo = Repo::new();
    let before = repo.snapshot();

    repo.add(&["nextcloud", "--no-push"])
        .code_is(0)
        .stdout_has("nextcloud: https://nextcloud.example.com");
    let cfg = repo.config();
    assert_eq!(cfg.apps.len(), 1);
    let app = &cfg.apps[0];
    assert_eq!(
        (app.name.as_str(), app.namespace.as_str(), app.host.as_str()),
        ("nextcloud", "nextcloud", "nextcloud.example.com")
    );
    assert_eq!(app.settings["database"], "bundled");
    assert!(
        app.settings.keys().all(|k| !k.contains("password")),
        "{:?}",
        app.settings
    );
    let kust = parse_yaml("apps", &repo.read("apps/kustomization.yaml"));
    assert_eq!(kust["resources"], serde_json::json!(["nextcloud"]));
    for f in [
        "namespace.yaml",
        "helmrepository.yaml",
        "helmrelease.yaml",
        "ingress.yaml",
        "kustomization.yaml",
        "secret.sops.yaml",
    ] {
        assert!(
            repo.dir.join("apps/nextcloud").join(f).is_file(),
            "{f} missing"
        );
    }
    assert!(repo.read(".sops.yaml").contains("age1"));
    assert!(repo.clean(), "everything is committed");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&repo.key)
            .expect("key file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "age key mode {mode:o}");
    }
    let added = repo.snapshot();
    let head = repo.head();

    // Adding it again is refused and changes nothing.
    let fingerprint = crate::support::fingerprint(&repo.dir);
    repo.add(&["nextcloud", "--no-push"])
        .code_is(2)
        .stderr_has("nextcloud is already installed")
        .stderr_has("hint:");
    assert_eq!(crate::support::fingerprint(&repo.dir), fingerprint);
    assert_eq!(repo.snapshot(), added);
    assert_eq!(repo.head(), head);

    // Collisions and unknown names: exit 2, nothing changed.
    repo.add(&["jellyfin", "--host", "nextcloud.example.com", "--no-push"])
        .code_is(2)
        .stderr_has("--host: nextcloud.example.com is already the host of nextcloud");
    repo.add(&["jellyfin", "--namespace", "nextcloud", "--no-push"])
        .code_is(2)
        .stderr_has("--namespace: nextcloud is already the namespace of nextcloud");
    repo.add(&["nextclod"])
        .code_is(2)
        .stderr_has("did you mean nextcloud?");
    repo.add(&["vaultwarden", "--set", "storage_size=lots"])
        .code_is(2)
        .stderr_has("--set storage_size")
        .stderr_has("hint:");
    repo.add(&["vaultwarden", "--set", "colour=blue"])
        .code_is(2)
        .stderr_has("has no setting called \"colour\"");
    repo.add(&["jellyfin", "--namespace", "Bad_NS", "--no-push"])
        .code_is(2)
        .stderr_has("--namespace: \"Bad_NS\" is not a valid namespace name")
        .stderr_has("hint: use at most 63 lowercase letters");
    repo.add(&["pihole", "--set", "dns_address=192.168.1.240"])
        .code_is(2)
        .stderr_has("--set dns_address: 192.168.1.240 is network.ingress_address");
    assert_eq!(repo.snapshot(), added);
    assert_eq!(repo.head(), head);

    // Remove: back to the start, apart from an empty apps list and .sops.yaml, in one commit.
    repo.remove("nextcloud").code_is(0);
    let git = git2::Repository::open(&repo.dir).expect("open");
    let removal = git.find_commit(repo.head()).expect("commit");
    assert_eq!(
        removal.parent_ids().collect::<Vec<_>>(),
        [head],
        "one commit"
    );
    assert!(!repo.dir.join("apps/nextcloud").exists());
    assert!(repo.config().apps.is_empty());
    let kust = parse_yaml("apps", &repo.read("apps/kustomization.yaml"));
    assert_eq!(kust["resources"], serde_json::json!([]));
    assert!(repo.clean());
    let removed = repo.snapshot();
    for (k, v) in &before {
        if k != "homelab.yaml" {
            assert_eq!(removed.get(k), Some(v), "{k}");
        }
    }
    assert_eq!(repo.config().apps, example().apps);
    let removed = crate::support::fingerprint(&repo.dir);
    repo.remove("nextcloud")
        .code_is(2)
        .stderr_has("\"nextcloud\" is not installed");
    assert_eq!(crate::support::fingerprint(&repo.dir), removed);

    // Add back: the same files (new passwords in the encrypted Secret).
    repo.add(&["nextcloud", "--no-push"]).code_is(0);
    let back = repo.snapshot();
    assert_eq!(
        back.keys().collect::<Vec<_>>(),
        added.keys().collect::<Vec<_>>()
    );
    for (k, v) in &added {
        // The Secret has new passwords, and the state file records its new hash.
        if !k.ends_with("secret.sops.yaml") && k != ".homelab/state.yaml" {
            assert_eq!(&back[k], v, "{k} differs after add, remove, add");
        }
    }
    assert!(repo.clean());
}

/// `homelab render` after `add-app` adopts what add-app wrote: nothing to do at first, and a
/// config change later re-renders the app's files but never the encrypted Secret.
#[test]
fn render_after_add_app_changes_nothing_then_keeps_the_encrypted_secret() {
    let repo = Repo::rendered(&support::example_config());
    repo.add(&["nextcloud", "--no-push"]).code_is(0);
    let render = || {
        homelab()
            .dir(&repo.dir)
            .env("HOMELAB_AGE_KEY_FILE", &repo.key)
            .arg("render")
            .run()
            .code_is(0)
    };
    let added = crate::support::fingerprint(&repo.dir);
    render().stderr_has("nothing to commit");
    assert_eq!(crate::support::fingerprint(&repo.dir), added);

    let secret = repo.read("apps/nextcloud/secret.sops.yaml");
    repo.edit_config("domain: example.com", "domain: example.org");
    repo.edit_config("host: nextcloud.example.com", "host: nextcloud.example.org");
    render().stderr_has("committed");
    assert!(repo.clean());
    assert_ne!(repo.head(), added.head.expect("head"));
    assert!(
        repo.read("apps/nextcloud/ingress.yaml")
            .contains("nextcloud.example.org")
    );
    assert_eq!(repo.read("apps/nextcloud/secret.sops.yaml"), secret);
}

#[test]
fn no_plaintext_secret_in_the_repository_or_its_history_and_sops_decrypts_it() {
    let repo = Repo::new();
    let given_admin = "Given-Admin-Pass-7f3a9c";
    let given_db = "Given-Db-Pass-91bd2e";
    let nextcloud = repo
        .add(&[
            "nextcloud",
            "--no-push",
            "--host=files.example.com",
            "--set=database=external",
            "--set=db_host=10.0.0.5",
            &format!("--set=nextcloud-password={given_admin}"),
            &format!("--set=db-password={given_db}"),
        ])
        .code_is(0);
    let vaultwarden = repo.add(&["vaultwarden", "--no-push"]).code_is(0);

    // The real sops decrypts what we wrote, with the key file add-app created.
    let plain = sops::decrypt(&repo.dir.join("apps/nextcloud/secret.sops.yaml"), &repo.key);
    let doc = parse_yaml("decrypted", &plain);
    assert_eq!(doc["kind"], "Secret");
    assert_eq!(doc["metadata"]["namespace"], "nextcloud");
    assert_eq!(doc["stringData"]["nextcloud-password"], given_admin);
    assert_eq!(doc["stringData"]["db-password"], given_db);
    assert_eq!(doc["stringData"]["db-username"], "nextcloud");
    let vw = parse_yaml(
        "vw",
        &sops::decrypt(
            &repo.dir.join("apps/vaultwarden/secret.sops.yaml"),
            &repo.key,
        ),
    );
    let token = vw["stringData"]["admin-token"]
        .as_str()
        .expect("token")
        .to_owned();
    assert_eq!(token.len(), 48);

    let hr = parse_yaml("hr", &repo.read("apps/nextcloud/helmrelease.yaml"));
    assert_eq!(
        hr["spec"]["values"]["externalDatabase"]["host"],
        "10.0.0.5:3306"
    );

    let secrets = [given_admin, given_db, token.as_str()];
    let blobs = repo.all_blobs();
    assert!(blobs.len() > 10, "walked the history: {}", blobs.len());
    for (path, text) in &blobs {
        for s in secrets {
            assert!(!text.contains(s), "plaintext secret found in {path}");
        }
    }
    // Nor on the output of the commands that received or generated them.
    let out = repo.remove("vaultwarden");
    for run in [&nextcloud, &vaultwarden, &out] {
        for s in secrets {
            assert!(
                !run.stdout().contains(s) && !run.stderr().contains(s),
                "a secret in the output: {}",
                run.describe()
            );
        }
    }
}

#[test]
fn sops_round_trip_with_the_real_sops() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let key_file = tmp.path().join("age.agekey");
    let identity = age::x25519::Identity::generate();
    let recipient = identity.to_public().to_string();
    {
        use age::secrecy::ExposeSecret as _;
        std::fs::write(
            &key_file,
            format!("{}\n", identity.to_string().expose_secret()),
        )
        .expect("key");
    }

    let plain = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: demo\n  namespace: apps\n  labels:\n    tier: \"1\"\ntype: Opaque\ndata:\n  token: aGVsbG8gd29ybGQ=\nstringData:\n  password: \"p@ss: w0rd # not a comment\"\n  multi: |\n    line one\n    line two\n  unicode: \"grüße ✓\"\n  empty: \"\"\n";
    let sealed = homelab::secrets::encrypt_secret(plain, &recipient).expect("encrypts");
    for word in ["aGVsbG8gd29ybGQ=", "p@ss", "line one", "grüße"] {
        assert!(!sealed.contains(word), "{word} in {sealed}");
    }
    let file = tmp.path().join("secret.sops.yaml");
    std::fs::write(&file, &sealed).expect("write");
    let decrypted = sops::decrypt(&file, &key_file);
    let want: Value = serde_saphyr::from_str(plain).expect("plain");
    let got: Value = serde_saphyr::from_str(&decrypted).expect("decrypted");
    assert_eq!(got, want);

    // Tampering is detected by sops (the MAC covers the readable fields too).
    let tampered = sealed.replace("name: demo", "name: evil");
    assert_ne!(tampered, sealed);
    std::fs::write(&file, tampered).expect("write");
    let out = Command::new(sops::sops_bin())
        .args(["--disable-version-check", "--decrypt"])
        .arg(&file)
        .env("SOPS_AGE_KEY_FILE", &key_file)
        .output()
        .expect("sops");
    assert!(!out.status.success(), "sops accepted a tampered file");
}

#[test]
fn kubectl_kustomize_builds_a_repository_with_every_app() {
    for controller in ["traefik", "envoy-gateway"] {
        let repo = Repo::new();
        repo.edit_config("controller: traefik", &format!("controller: {controller}"));
        let profiles = catalog::all();
        for p in &profiles {
            let mut args = vec![p.name.clone(), "--no-push".into()];
            args.extend(required_sets(p));
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            repo.add(&args).code_is(0);
        }
        let cfg = repo.config();
        assert_eq!(cfg.apps.len(), profiles.len());
        let out = Command::new("kubectl")
            .args(["kustomize", "apps"])
            .current_dir(&repo.dir)
            .output()
            .expect("kubectl is installed (needed by this test)");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "kubectl kustomize apps failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let exposure = if controller == "traefik" {
            "kind: Ingress"
        } else {
            "kind: HTTPRoute"
        };
        let releases = stdout.matches("kind: HelmRelease").count();
        assert_eq!(releases, profiles.len(), "one HelmRelease per app");
        assert_eq!(
            stdout.matches(exposure).count(),
            profiles.len(),
            "one {exposure} per app"
        );
        assert!(
            stdout.contains("ENC[AES256_GCM,data:"),
            "encrypted Secrets are part of the build"
        );
        assert!(repo.clean());
    }
}

#[test]
fn apps_lists_the_catalog_and_what_is_installed() {
    let repo = Repo::new();
    let out = homelab().dir(&repo.dir).arg("apps").ok();
    for p in catalog::all() {
        assert!(out.stdout().contains(&p.name), "{} not listed", p.name);
    }
    assert!(!out.stdout().contains("installed at"));
    repo.add(&["uptime-kuma", "--no-push", "--host", "status.example.com"])
        .code_is(0);
    homelab()
        .dir(&repo.dir)
        .arg("apps")
        .ok()
        .stdout_has("installed at https://status.example.com");
}

// --- add-app and remove-app through the one writer ------------------------------------------

impl Repo {
    fn tmp(&self) -> &Path {
        self._tmp.path()
    }

    fn commits(&self) -> usize {
        let repo = git2::Repository::open(&self.dir).expect("open");
        let mut walk = repo.revwalk().expect("revwalk");
        walk.push_head().expect("head");
        walk.count()
    }

    fn write(&self, rel: &str, text: &str) {
        let path = self.dir.join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }

    fn commit_all(&self, message: &str) {
        let repo = git2::Repository::open(&self.dir).expect("open");
        homelab::git::commit_all(&repo, message).expect("commit");
    }
}

#[test]
fn remove_app_never_deletes_outside_the_repository_nor_the_repository() {
    let repo = Repo::rendered(&support::example_config());
    repo.add(&["grafana", "--no-push"]).code_is(0);
    let victim = repo.tmp().join("victim");
    std::fs::create_dir(&victim).expect("mkdir");
    std::fs::write(victim.join("precious"), "precious data").expect("write");
    let commits = repo.commits();
    for name in ["../../victim", ".."] {
        let text = repo.read("homelab.yaml");
        repo.write(
            "homelab.yaml",
            &format!(
                "{text}  - name: \"{name}\"\n    namespace: victim\n    host: victim.example.com\n"
            ),
        );
        repo.remove(name)
            .code_is(2)
            .stderr_has("is not valid")
            .stderr_has("apps[1].name");
        repo.write("homelab.yaml", &text);
        assert!(victim.join("precious").is_file(), "{name}: deleted outside");
        assert!(repo.dir.join(".git").is_dir() && repo.dir.join("apps/grafana").is_dir());
        assert_eq!(repo.commits(), commits, "{name}");
    }
}

#[test]
fn add_app_never_writes_through_links() {
    let repo = Repo::rendered(&support::example_config());
    let outside = repo.tmp().join("target.conf");
    std::fs::write(&outside, "original").expect("write");
    std::fs::create_dir_all(repo.dir.join("apps/nextcloud")).expect("mkdir");
    std::os::unix::fs::symlink(&outside, repo.dir.join("apps/nextcloud/helmrelease.yaml"))
        .expect("link");
    let head = repo.head();
    repo.add(&["nextcloud", "--no-push"])
        .code_is(1)
        .stderr_has("apps/nextcloud/helmrelease.yaml is a symbolic link");
    assert_eq!(std::fs::read_to_string(&outside).expect("read"), "original");
    assert_eq!(repo.head(), head);
    assert!(!repo.read("homelab.yaml").contains("nextcloud"));

    // A linked .sops.yaml is refused the same way.
    std::fs::remove_file(repo.dir.join("apps/nextcloud/helmrelease.yaml")).expect("rm");
    std::fs::remove_file(repo.dir.join(".sops.yaml")).expect("rm");
    std::os::unix::fs::symlink(&outside, repo.dir.join(".sops.yaml")).expect("link");
    repo.add(&["nextcloud", "--no-push"])
        .code_is(1)
        .stderr_has(".sops.yaml is a symbolic link");
    assert_eq!(std::fs::read_to_string(&outside).expect("read"), "original");
    assert_eq!(repo.head(), head);
}

#[test]
fn add_app_refuses_an_invalid_homelab_yaml_and_writes_no_key() {
    let repo = Repo::new();
    let config_home = repo.tmp().join("config");
    let text = repo
        .read("homelab.yaml")
        .replace("name: homelab", "name: ../../../../escape")
        .replace("admin@example.com", "not-an-email");
    repo.write("homelab.yaml", &text);
    let head = repo.head();
    homelab()
        .dir(&repo.dir)
        .env("XDG_CONFIG_HOME", &config_home)
        .args(["add-app", "nextcloud", "--non-interactive", "--no-push"])
        .expect_code(2)
        .stderr_has("cluster.name")
        .stderr_has("certificates.email");
    assert_eq!(repo.head(), head);
    assert!(!config_home.exists(), "no key was written");
    assert!(!repo.tmp().join("escape").exists());
}

#[test]
fn add_and_remove_edit_homelab_yaml_in_place_keeping_comments() {
    let full = support::full_example_config();
    let repo = Repo::rendered(&full);
    let original = repo.read("homelab.yaml");
    let comments = |t: &str| t.lines().filter(|l| l.contains('#')).count();
    repo.add(&["grafana", "--no-push", "--set", "storage_size=5Gi"])
        .code_is(0);
    let added = repo.read("homelab.yaml");
    assert_eq!(comments(&added), comments(&original), "{added}");
    assert!(added.starts_with(&original[..original.find("apps:").expect("apps")]));
    assert!(repo.clean());
    repo.remove("grafana").code_is(0);
    assert_eq!(repo.read("homelab.yaml"), original, "byte for byte");
    assert!(repo.clean());
}

#[test]
fn add_app_fails_without_changing_anything() {
    let repo = Repo::rendered(&support::example_config());
    repo.write("apps/nextcloud", "a file in the way\n");
    repo.commit_all("a file named like the app");
    let before = repo.snapshot();
    let head = repo.head();
    repo.add(&["nextcloud", "--no-push"])
        .code_is(1)
        .stderr_has("apps/nextcloud is a file, not a directory");
    assert_eq!(repo.snapshot(), before);
    assert_eq!(repo.head(), head);
    assert!(repo.clean());
    // Nothing dangling for render to protect afterwards.
    homelab()
        .dir(&repo.dir)
        .env("HOMELAB_AGE_KEY_FILE", &repo.key)
        .arg("render")
        .ok()
        .stderr_has("nothing to commit");
}

#[test]
fn add_app_is_rolled_back_after_a_failure_or_a_crash_at_any_write() {
    let repo = Repo::rendered(&support::example_config());
    let before = repo.snapshot();
    let head = repo.head();
    let add = |failpoint: &str| {
        homelab()
            .dir(&repo.dir)
            .env("HOMELAB_AGE_KEY_FILE", &repo.key)
            .env("HOMELAB_FAILPOINT", failpoint)
            .args(["add-app", "nextcloud", "--non-interactive", "--no-push"])
            .run()
    };
    let mut n = 0;
    loop {
        let failed = add(&format!("render-fail-after-{n}-writes"));
        if failed.code() == 0 {
            break;
        }
        assert_eq!(failed.code(), 1, "{}", failed.describe());
        assert_eq!(repo.snapshot(), before, "failure at {n}");
        assert_eq!(repo.head(), head);

        let crashed = add(&format!("render-after-{n}-writes"));
        assert!(crashed.code() != 0, "{}", crashed.describe());
        assert_eq!(repo.head(), head, "no commit at {n}");
        // The next command rolls the crash back first.
        assert!(homelab::render::write::recover(&repo.dir).expect("recover"));
        assert_eq!(repo.snapshot(), before, "crash at {n}");
        n += 1;
        assert!(n < 20, "the failpoint never let add-app through");
    }
    assert!(n > 5, "add-app wrote only {n} files");
    assert!(repo.clean());
    assert!(repo.read("homelab.yaml").contains("nextcloud"));
}

#[test]
fn remove_app_keeps_what_the_user_edited_or_added() {
    let repo = Repo::rendered(&support::example_config());
    repo.add(&["nextcloud", "--no-push"]).code_is(0);
    let release = "apps/nextcloud/helmrelease.yaml";
    let edited = format!("{}# tuned by me\n", repo.read(release));
    repo.write(release, &edited);
    repo.write("apps/nextcloud/NOTES.md", "my notes\n");
    repo.remove("nextcloud")
        .code_is(0)
        .stderr_has("kept apps/nextcloud/helmrelease.yaml: you edited it");
    assert_eq!(repo.read(release), edited);
    assert_eq!(repo.read("apps/nextcloud/NOTES.md"), "my notes\n");
    for gone in [
        "namespace.yaml",
        "ingress.yaml",
        "secret.sops.yaml",
        "kustomization.yaml",
    ] {
        assert!(
            !repo.dir.join("apps/nextcloud").join(gone).exists(),
            "{gone}"
        );
    }
    let kust = parse_yaml("apps", &repo.read("apps/kustomization.yaml"));
    assert_eq!(kust["resources"], serde_json::json!([]));
}

#[test]
fn loadbalancer_addresses_default_to_the_next_free_one_and_are_checked_on_every_command() {
    let repo = Repo::new();
    repo.add(&["pihole", "--no-push"]).code_is(0).stderr_has(
        "pihole keeps a database on its volume, which is on NFS: set storage.local_class",
    );
    assert_eq!(
        repo.config().apps[0].settings["dns_address"],
        "192.168.1.241"
    );
    assert_eq!(
        repo.config().apps[0].settings["dns_address_shared"],
        "false"
    );
    let hr = parse_yaml("hr", &repo.read("apps/pihole/helmrelease.yaml"));
    let dns = &hr["spec"]["values"]["serviceDns"];
    assert_eq!(
        dns["annotations"]["metallb.io/loadBalancerIPs"],
        "192.168.1.241"
    );
    assert!(
        dns["annotations"]
            .get("metallb.io/allow-shared-ip")
            .is_none()
    );
    // One way only: MetalLB refuses a Service that also sets spec.loadBalancerIP.
    assert!(
        !hr["spec"]["values"]
            .to_string()
            .contains("loadBalancerIP\""),
        "{hr}"
    );
    let added = repo.snapshot();

    // Taken, the ingress controller's, outside the pool: refused, nothing changes.
    for (set, why) in [
        (
            "dns_address=192.168.1.241",
            "--set dns_address: 192.168.1.241 is already the address of apps[0].settings.dns_address",
        ),
        ("dns_address=192.168.1.240", "is network.ingress_address"),
        (
            "dns_address=10.9.9.9",
            "is not inside network.loadbalancer_pool",
        ),
    ] {
        repo.add(&["adguard-home", "--no-push", "--set", set])
            .code_is(2)
            .stderr_has(why)
            .stderr_has("hint:");
    }
    // Sharing needs both sides to opt in.
    repo.add(&[
        "syncthing",
        "--no-push",
        "--set=sync_address=192.168.1.241",
        "--set=sync_address_shared=true",
    ])
    .code_is(2)
    .stderr_has("apps[0].settings.dns_address_shared: \"true\"");
    assert_eq!(repo.snapshot(), added);

    // The next app gets the next free address.
    repo.add(&["adguard-home", "--no-push"]).code_is(0);
    assert_eq!(
        repo.config().apps[1].settings["dns_address"],
        "192.168.1.242"
    );

    // Every command checks homelab.yaml itself: give adguard-home pihole's address.
    repo.edit_config("192.168.1.242", "192.168.1.241");
    repo.render()
        .code_is(2)
        .stderr_has("apps[1].settings.dns_address: 192.168.1.241 is already the address of apps[0].settings.dns_address");
}

#[test]
fn envoy_gateway_refuses_hosts_its_wildcard_listener_cannot_serve() {
    let repo = Repo::new();
    repo.edit_config("controller: traefik", "controller: envoy-gateway");
    let before = repo.snapshot();
    repo.add(&["homepage", "--no-push", "--host", "start.other.org"])
        .code_is(2)
        .stderr_has("--host: start.other.org is outside example.com")
        .stderr_has("hint: e.g. --host homepage.example.com");
    repo.add(&["homepage", "--no-push", "--host", "a.b.example.com"])
        .code_is(2)
        .stderr_has("more than one label below example.com");
    assert_eq!(repo.snapshot(), before);
    repo.add(&["homepage", "--no-push", "--host", "start.example.com"])
        .code_is(0);

    // And in homelab.yaml, on every command.
    repo.edit_config("host: start.example.com", "host: start.other.org");
    repo.render()
        .code_is(2)
        .stderr_has("apps[0].host: start.other.org is outside example.com");
}

/// An app whose settings its profile cannot render with is a configuration error, and the
/// same one whichever command meets it: `render` and `add-app` (of another app) exit 2
/// with the same message naming the key, and change nothing; `add-app` given the same
/// value by `--set` exits 2 too, naming the flag.
#[test]
fn an_app_setting_its_profile_refuses_fails_alike_from_render_and_add_app() {
    let repo = Repo::new();
    repo.edit_config(
        "apps: []",
        "apps:\n  - name: grafana\n    namespace: grafana\n    host: grafana.example.com\n    settings:\n      storage_size: lots\n",
    );
    repo.commit_all("grafana with a size its profile refuses");
    let before = repo.snapshot();
    let head = repo.head();
    let error_lines = |run: &support::Run| -> Vec<String> {
        run.stderr()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_owned)
            .collect()
    };
    let render = homelab()
        .dir(&repo.dir)
        .env("HOMELAB_AGE_KEY_FILE", &repo.key)
        .arg("render")
        .expect_code(2)
        .stderr_has("apps[0].settings.storage_size");
    let add = repo.add(&["jellyfin", "--no-push"]).code_is(2);
    assert_eq!(error_lines(&add), error_lines(&render));
    assert_eq!(repo.snapshot(), before);
    assert_eq!(repo.head(), head);

    repo.edit_config("      storage_size: lots\n", "      storage_size: 5Gi\n");
    repo.commit_all("a size it takes");
    repo.add(&["uptime-kuma", "--no-push", "--set", "storage_size=lots"])
        .code_is(2)
        .stderr_has("storage_size");
}
