//! `homelab status`, `homelab sync` and `push --wait` against a real kube-apiserver with
//! Flux's CRDs. No controller runs: the test plays them, writing status subresources step
//! by step, and checks after each step that the wait is still pending, and why.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kube::api::DynamicObject;
use serde_json::{Value, json};

use crate::doctor::{api_for, condition, git, install, merge, namespace, now, put, write_status};
use crate::support::envtest::ApiServer;
use crate::support::{self, homelab};

const SYNC_TIMEOUT: Duration = Duration::from_secs(30);

/// A homelab repository with one commit, and (optionally) a bare remote it pushes to.
struct Repo {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
}

impl Repo {
    fn new() -> Repo {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("homelab");
        let remote = tmp.path().join("remote.git");
        std::fs::create_dir_all(&dir).unwrap();
        git(
            tmp.path(),
            &["init", "--bare", "-q", remote.to_str().unwrap()],
        );
        let example = std::fs::read_to_string(support::example_config()).unwrap();
        let config = example.replace(
            "url: \"\"",
            &format!("url: {:?}", remote.display().to_string()),
        );
        assert!(
            config.contains("remote.git"),
            "example config changed shape"
        );
        std::fs::write(dir.join("homelab.yaml"), config).unwrap();
        git(&dir, &["init", "-q", "-b", "main"]);
        // Rendered and committed by homelab, so push finds the repository up to date.
        support::homelab()
            .dir(&dir)
            .env("HOMELAB_AGE_KEY_FILE", tmp.path().join("age.agekey"))
            .arg("render")
            .ok();
        Repo { _tmp: tmp, dir }
    }

    fn revision(&self) -> String {
        format!("main@sha1:{}", git(&self.dir, &["rev-parse", "HEAD"]))
    }
}

fn git_repository() -> Value {
    json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
        "metadata": {"name": "flux-system", "namespace": "flux-system"},
        "spec": {"interval": "1m0s", "url": "ssh://git@git.example.invalid/homelab.git",
            "ref": {"branch": "main"}, "secretRef": {"name": "flux-system"}},
    })
}

fn kustomization(name: &str, depends_on: &[&str]) -> Value {
    let mut k = json!({
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
        "metadata": {"name": name, "namespace": "flux-system"},
        "spec": {"interval": "10m0s", "path": format!("./{name}"), "prune": true,
            "sourceRef": {"kind": "GitRepository", "name": "flux-system"}},
    });
    if !depends_on.is_empty() {
        k["spec"]["dependsOn"] = json!(
            depends_on
                .iter()
                .map(|d| json!({"name": d}))
                .collect::<Vec<_>>()
        );
    }
    k
}

fn helm_release(ns: &str, name: &str) -> Value {
    json!({
        "apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"interval": "30m", "chartRef": {"kind": "OCIRepository", "name": name}},
    })
}

/// The Flux objects of a homelab as bootstrap and the first sync leave them, without status.
async fn homelab_objects(client: &kube::Client) {
    for ns in ["flux-system", "metallb-system"] {
        put(client, namespace(ns)).await;
    }
    put(client, git_repository()).await;
    put(client, kustomization("flux-system", &[])).await;
    put(client, kustomization("infra-controllers", &[])).await;
    put(
        client,
        kustomization("infra-configs", &["infra-controllers"]),
    )
    .await;
    put(client, kustomization("apps", &["infra-configs"])).await;
    put(client, helm_release("metallb-system", "metallb")).await;
}

async fn get(client: &kube::Client, obj: &Value) -> DynamicObject {
    let (api, name) = api_for(client, obj);
    api.get(&name)
        .await
        .unwrap_or_else(|e| panic!("get {name}: {e}"))
}

/// Write `status` as the object's controller would, with the object's current generation as
/// observed (unless `status` says otherwise).
async fn report(client: &kube::Client, obj: &Value, mut status: Value) {
    let current = get(client, obj).await;
    if status.get("observedGeneration").is_none() {
        status["observedGeneration"] = json!(current.metadata.generation);
    }
    write_status(client, obj, status).await;
}

fn ready(message: &str) -> Value {
    condition(true, "Succeeded", message)
}

fn artifact(revision: &str) -> Value {
    json!({"revision": revision, "path": "gitrepository/flux-system/flux-system/x.tar.gz",
        "url": "http://source-controller.flux-system.svc/x.tar.gz", "lastUpdateTime": now(),
        "digest": format!("sha256:{}", "0".repeat(64))})
}

/// The value `homelab sync` wrote, once every object has it (one value for all).
async fn requested_token(client: &kube::Client, objects: &[Value]) -> String {
    let deadline = Instant::now() + SYNC_TIMEOUT;
    loop {
        let mut tokens = Vec::new();
        for obj in objects {
            let o = get(client, obj).await;
            tokens.push(
                o.metadata
                    .annotations
                    .unwrap_or_default()
                    .get("reconcile.fluxcd.io/requestedAt")
                    .cloned(),
            );
        }
        if tokens.iter().all(Option::is_some) {
            let first = tokens[0].clone().unwrap();
            assert!(
                tokens.iter().all(|t| t.as_deref() == Some(&first)),
                "{tokens:?}"
            );
            return first;
        }
        assert!(Instant::now() < deadline, "never annotated: {tokens:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A `homelab` run in the background, its stderr collected in a file.
struct Background {
    child: Child,
    stderr: PathBuf,
    _dir: tempfile::TempDir,
}

impl Background {
    fn start(args: &[&str], dir: &Path, kubeconfig: &Path) -> Background {
        Self::start_with(args, dir, kubeconfig, &[])
    }

    fn start_with(
        args: &[&str],
        dir: &Path,
        kubeconfig: &Path,
        env: &[(&str, &Path)],
    ) -> Background {
        let tmp = tempfile::tempdir().unwrap();
        let stderr = tmp.path().join("stderr");
        let child = Command::new(env!("CARGO_BIN_EXE_homelab"))
            .args(args)
            .envs(env.iter().map(|(k, v)| (*k, *v)))
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .arg("--dir")
            .arg(dir)
            .env("NO_COLOR", "1")
            .env_remove("KUBECONFIG")
            .env("HOMELAB_FLUX_MANIFESTS", support::flux_install())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .expect("start homelab");
        Background {
            child,
            stderr,
            _dir: tmp,
        }
    }

    fn log(&self) -> String {
        let mut text = String::new();
        std::fs::File::open(&self.stderr)
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        text
    }

    /// Wait until the progress log shows `needle`, and assert the run is still waiting.
    async fn pending_with(&mut self, needle: &str) {
        let deadline = Instant::now() + SYNC_TIMEOUT;
        while !self.log().contains(needle) {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "ended ({status}) before showing {needle:?}:\n{}",
                    self.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "no {needle:?} in:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // The wait polls every second: two more rounds, still pending.
        tokio::time::sleep(Duration::from_millis(2200)).await;
        assert!(
            self.child.try_wait().unwrap().is_none(),
            "stopped waiting although {needle:?}:\n{}",
            self.log()
        );
    }

    async fn finish(mut self) -> (i32, String) {
        let deadline = Instant::now() + SYNC_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status.code().unwrap_or(-1), self.log());
            }
            assert!(Instant::now() < deadline, "still running:\n{}", self.log());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn resource_version(o: &DynamicObject) -> u64 {
    o.metadata
        .resource_version
        .as_deref()
        .unwrap()
        .parse()
        .unwrap()
}

/// The commit Flux ran before the one sync waits for.
const OLD: &str = "main@sha1:0123456789abcdef0123456789abcdef01234567";

/// A fresh API server with a homelab's Flux objects (no status yet) and a local commit to
/// sync: the GitRepository, the Kustomizations flux-system, infra-controllers, infra-configs
/// and apps (each depending on the one before), and one HelmRelease.
struct Synced {
    server: ApiServer,
    client: kube::Client,
    repo: Repo,
    revision: String,
    objects: [Value; 6],
}

impl Synced {
    async fn start() -> Synced {
        let server = ApiServer::start();
        let client = server.client().await;
        install(&client).await;
        homelab_objects(&client).await;
        let repo = Repo::new();
        let revision = repo.revision();
        let objects = [
            git_repository(),
            kustomization("flux-system", &[]),
            kustomization("infra-controllers", &[]),
            kustomization("infra-configs", &["infra-controllers"]),
            kustomization("apps", &["infra-configs"]),
            helm_release("metallb-system", "metallb"),
        ];
        Synced {
            server,
            client,
            repo,
            revision,
            objects,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_waits_link_by_link_until_flux_runs_the_local_commit() {
    let Synced {
        server,
        client,
        repo,
        revision,
        objects: [source, fluxk, controllers, configs, apps, metallb],
    } = Synced::start().await;
    let old = OLD;
    // Flux ran the old commit until now.
    report(
        &client,
        &source,
        json!({"conditions": ready("stored"), "artifact": artifact(old)}),
    )
    .await;
    for k in [&fluxk, &controllers, &configs, &apps] {
        report(
            &client,
            k,
            json!({"conditions": ready("Applied"), "lastAppliedRevision": old}),
        )
        .await;
    }
    report(
        &client,
        &metallb,
        json!({"conditions": ready("Helm install succeeded")}),
    )
    .await;

    let mut sync = Background::start(
        &["sync", "--timeout", "60s"],
        &repo.dir,
        server.kubeconfig(),
    );

    // The request: one value on the source and every Kustomization, dependencies first.
    let token = requested_token(
        &client,
        &[
            source.clone(),
            fluxk.clone(),
            controllers.clone(),
            configs.clone(),
            apps.clone(),
        ],
    )
    .await;
    let rv = |o: &DynamicObject| resource_version(o);
    let order = [
        rv(&get(&client, &source).await),
        rv(&get(&client, &controllers).await),
        rv(&get(&client, &configs).await),
        rv(&get(&client, &apps).await),
    ];
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "not in dependency order: {order:?}"
    );

    // 1. Nothing answered yet: pending on the source.
    sync.pending_with("GitRepository flux-system/flux-system: at main@sha1:0123456789abcdef0123456789abcdef01234567, waiting for").await;

    // 2. The source fetched the commit; the Kustomizations are still at the old one.
    report(
        &client,
        &source,
        json!({"conditions": ready("stored"), "artifact": artifact(&revision),
        "lastHandledReconcileAt": token}),
    )
    .await;
    sync.pending_with(&format!(
        "Kustomization flux-system/infra-controllers: applied {old}, its source is at {revision}"
    ))
    .await;

    // 3. All applied it, but apps' spec changed since (a stale observedGeneration).
    for k in [&fluxk, &controllers, &configs] {
        report(
            &client,
            k,
            json!({"conditions": ready("Applied"), "lastAppliedRevision": revision,
            "lastHandledReconcileAt": token}),
        )
        .await;
    }
    merge(&client, &apps, json!({"spec": {"interval": "11m0s"}})).await;
    let generation = get(&client, &apps).await.metadata.generation.unwrap();
    report(
        &client,
        &apps,
        json!({"conditions": ready("Applied"), "lastAppliedRevision": revision,
        "observedGeneration": generation - 1}),
    )
    .await;
    sync.pending_with(&format!("Kustomization flux-system/apps: progressing (LatestGenerationNotObserved): generation {generation} not reconciled yet")).await;

    // 4. Every Kustomization there; the HelmRelease's new spec not reconciled yet.
    report(
        &client,
        &apps,
        json!({"conditions": ready("Applied"), "lastAppliedRevision": revision}),
    )
    .await;
    merge(&client, &metallb, json!({"spec": {"interval": "31m"}})).await;
    sync.pending_with(
        "HelmRelease metallb-system/metallb: progressing (LatestGenerationNotObserved)",
    )
    .await;

    // 5. The release reconciled: done.
    report(&client, &metallb, json!({"conditions": ready("Helm upgrade succeeded"),
        "history": [{"chartVersion": "0.16.1", "chartName": "metallb", "name": "metallb", "namespace": "metallb-system", "version": 2,
            "status": "deployed", "digest": "sha256:0", "firstDeployed": now(), "lastDeployed": now(), "configDigest": "sha256:0"}]})).await;
    let (code, log) = sync.finish().await;
    assert_eq!(code, 0, "{log}");
    let short = &revision[..revision.find(':').unwrap() + 8];
    assert!(
        log.contains(&format!(
            "Flux runs {short}: 1 GitRepository, 4 Kustomizations, 1 HelmRelease Ready"
        )),
        "{log}"
    );

    // `homelab status` shows them all Ready; JSON as documented.
    let run = homelab()
        .args(["status", "--output", "json", "--kubeconfig"])
        .arg(server.kubeconfig())
        .ok();
    let doc: Value = serde_json::from_str(&run.stdout()).unwrap();
    assert_eq!(doc["version"], 1);
    assert_eq!(doc["ready"], true);
    assert_eq!(
        doc["summary"],
        json!({"total": 6, "ready": 6, "not_ready": 0})
    );
    assert_eq!(doc["errors"], json!([]));
    let first = &doc["objects"][0];
    for key in [
        "kind",
        "namespace",
        "name",
        "ready",
        "state",
        "suspended",
        "revision",
        "reason",
        "message",
    ] {
        assert!(first.get(key).is_some(), "no {key} in {first}");
    }
    assert_eq!(first["kind"], "GitRepository");
    assert_eq!(first["revision"], revision.as_str());
    assert_eq!(first["state"], "ready");
    let kinds: Vec<&str> = doc["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "GitRepository",
            "Kustomization",
            "Kustomization",
            "Kustomization",
            "Kustomization",
            "HelmRelease"
        ]
    );
    let hr = doc["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["kind"] == "HelmRelease")
        .unwrap();
    assert_eq!(hr["revision"], "0.16.1");

    // A failing release: exit 1, its row and message in the table.
    report(
        &client,
        &metallb,
        json!({"conditions": condition(false, "UpgradeFailed", "Helm upgrade failed: boom")}),
    )
    .await;
    let run = homelab()
        .args(["status", "--kubeconfig"])
        .arg(server.kubeconfig())
        .expect_code(1);
    let row = run
        .stdout()
        .lines()
        .find(|l| l.starts_with("HelmRelease"))
        .unwrap_or_else(|| panic!("{}", run.describe()))
        .to_owned();
    for cell in [
        "metallb-system/metallb",
        "failed",
        "0.16.1",
        "Helm upgrade failed: boom",
    ] {
        assert!(row.contains(cell), "{row}");
    }
    assert!(
        run.stdout()
            .contains("6 Flux objects: 5 ready, 1 not ready"),
        "{}",
        run.describe()
    );
    let run = homelab()
        .args(["status", "-o", "json", "--kubeconfig"])
        .arg(server.kubeconfig())
        .expect_code(1);
    let doc: Value = serde_json::from_str(&run.stdout()).unwrap();
    assert_eq!(doc["ready"], false);
    assert_eq!(doc["summary"]["not_ready"], 1);
}

/// The `reconcile.fluxcd.io/requestedAt` value on `obj` now.
async fn requested_at(client: &kube::Client, obj: &Value) -> Option<String> {
    get(client, obj)
        .await
        .metadata
        .annotations
        .unwrap_or_default()
        .get("reconcile.fluxcd.io/requestedAt")
        .cloned()
}

/// kustomize-controller puts off a Kustomization whose dependency is not Ready yet and looks
/// again only after a fixed delay (30 s by default). sync asks it again as soon as its
/// dependencies are current, and not before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_asks_a_kustomization_put_off_for_a_dependency_again_once_it_is_current() {
    let Synced {
        server,
        client,
        repo,
        revision,
        objects: [source, fluxk, controllers, configs, apps, metallb],
    } = Synced::start().await;
    let old = OLD;
    report(
        &client,
        &metallb,
        json!({"conditions": ready("Helm install succeeded")}),
    )
    .await;
    let mut sync = Background::start(
        &["sync", "--timeout", "60s"],
        &repo.dir,
        server.kubeconfig(),
    );
    let token = requested_token(&client, &[source.clone(), apps.clone()]).await;
    report(
        &client,
        &source,
        json!({"conditions": ready("stored"), "artifact": artifact(&revision),
        "lastHandledReconcileAt": token}),
    )
    .await;
    for k in [&fluxk, &controllers] {
        report(
            &client,
            k,
            json!({"conditions": ready("Applied"), "lastAppliedRevision": revision,
            "lastHandledReconcileAt": token}),
        )
        .await;
    }
    // infra-configs is still applying the commit; apps was put off for it.
    report(
        &client,
        &configs,
        json!({"conditions": condition(false, "Progressing", "Reconciliation in progress"),
        "lastAppliedRevision": old, "lastHandledReconcileAt": token}),
    )
    .await;
    let put_off = json!({"conditions": condition(false, "DependencyNotReady",
        "dependency 'flux-system/infra-configs' is not ready"),
        "lastAppliedRevision": old, "lastHandledReconcileAt": token});
    report(&client, &apps, put_off.clone()).await;
    sync.pending_with("Kustomization flux-system/infra-configs: ")
        .await;
    assert_eq!(
        requested_at(&client, &apps).await.as_deref(),
        Some(token.as_str()),
        "asked again while its dependency was not Ready:\n{}",
        sync.log()
    );

    // infra-configs applied the commit: apps is asked again at once.
    report(
        &client,
        &configs,
        json!({"conditions": ready("Applied"), "lastAppliedRevision": revision,
        "lastHandledReconcileAt": token}),
    )
    .await;
    let deadline = Instant::now() + SYNC_TIMEOUT;
    let again = loop {
        match requested_at(&client, &apps).await {
            Some(t) if t != token => break t,
            _ => {}
        }
        assert!(
            Instant::now() < deadline,
            "never asked again:\n{}",
            sync.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // Once, until the controller answers that request.
    tokio::time::sleep(Duration::from_millis(2200)).await;
    assert_eq!(requested_at(&client, &apps).await, Some(again.clone()));

    report(
        &client,
        &apps,
        json!({"conditions": ready("Applied"), "lastAppliedRevision": revision,
        "lastHandledReconcileAt": again}),
    )
    .await;
    let (code, log) = sync.finish().await;
    assert_eq!(code, 0, "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_stops_early_when_waiting_cannot_help_and_explains_a_timeout() {
    let server = ApiServer::start();
    let client = server.client().await;
    install(&client).await;
    let repo = Repo::new();
    let revision = repo.revision();
    let old = "main@sha1:0123456789abcdef0123456789abcdef01234567";

    // Not bootstrapped: no GitRepository.
    homelab()
        .args(["sync", "--kubeconfig"])
        .arg(server.kubeconfig())
        .dir(&repo.dir)
        .expect_code(1)
        .stderr_has("there is no GitRepository flux-system/flux-system")
        .stderr_has("hint: run `homelab bootstrap`");

    homelab_objects(&client).await;
    let source = git_repository();
    let apps = kustomization("apps", &["infra-configs"]);

    // A bad --timeout is a usage error, and nothing is asked.
    homelab()
        .args(["sync", "--timeout", "soon", "--kubeconfig"])
        .arg(server.kubeconfig())
        .dir(&repo.dir)
        .expect_code(2)
        .stderr_has("\"soon\" is not a duration");
    let annotations = get(&client, &source)
        .await
        .metadata
        .annotations
        .unwrap_or_default();
    assert!(
        !annotations.contains_key("reconcile.fluxcd.io/requestedAt"),
        "{annotations:?}"
    );

    // The source answers the request with another commit: the local one was never pushed.
    report(
        &client,
        &source,
        json!({"conditions": ready("stored"), "artifact": artifact(old)}),
    )
    .await;
    let sync = Background::start(
        &["sync", "--timeout", "60s"],
        &repo.dir,
        server.kubeconfig(),
    );
    let token = requested_token(&client, std::slice::from_ref(&source)).await;
    report(&client, &source, json!({"lastHandledReconcileAt": token})).await;
    let (code, log) = sync.finish().await;
    assert_eq!(code, 1, "{log}");
    assert!(
        log.contains(&format!(
            "fetched {old} when asked, not {revision}: the commit is not on the remote branch"
        )),
        "{log}"
    );
    assert!(
        log.contains("hint: push the commit first: `homelab push --wait`"),
        "{log}"
    );

    // A suspended Kustomization is named at once, with a hint that needs no other tool.
    report(
        &client,
        &source,
        json!({"conditions": ready("stored"), "artifact": artifact(&revision)}),
    )
    .await;
    for k in [
        kustomization("flux-system", &[]),
        kustomization("infra-controllers", &[]),
        kustomization("infra-configs", &["infra-controllers"]),
    ] {
        report(
            &client,
            &k,
            json!({"conditions": ready("Applied"), "lastAppliedRevision": revision}),
        )
        .await;
    }
    merge(&client, &apps, json!({"spec": {"suspend": true}})).await;
    report(
        &client,
        &apps,
        json!({"conditions": ready("Applied"), "lastAppliedRevision": old}),
    )
    .await;
    let started = Instant::now();
    let run = homelab()
        .args(["sync", "--timeout", "60s", "--kubeconfig"])
        .arg(server.kubeconfig())
        .dir(&repo.dir)
        .expect_code(1);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "did not stop early"
    );
    let run = run
        .stderr_has("Kustomization flux-system/apps is suspended: Flux ignores requests for it")
        .stderr_has("Kustomization flux-system/apps: suspended: Flux does not reconcile it")
        .stderr_has("hint: it was suspended on purpose");
    assert!(
        !run.stderr().contains("kubectl") && !run.stderr().contains("flux resume"),
        "{}",
        run.describe()
    );

    // A failing Kustomization: the timeout lists it with kustomize-controller's message.
    merge(&client, &apps, json!({"spec": {"suspend": false}})).await;
    report(&client, &apps, json!({"conditions": condition(false, "BuildFailed",
        "kustomize build failed: accumulating resources: 'apps/nextcloud' not found"), "lastAppliedRevision": old})).await;
    homelab()
        .args(["sync", "--timeout", "3s", "--kubeconfig"])
        .arg(server.kubeconfig())
        .dir(&repo.dir)
        .expect_code(1)
        .stderr_has("Flux did not run main@sha1:")
        .stderr_has("within 3s (still applying it)")
        .stderr_has("Kustomization flux-system/apps: failed (BuildFailed): kustomize build failed: accumulating resources: 'apps/nextcloud' not found")
        .stderr_has("hint: the messages come from the objects themselves; `homelab status` shows every Flux object");

    // --no-wait asks and returns.
    homelab()
        .args(["sync", "--no-wait", "--kubeconfig"])
        .arg(server.kubeconfig())
        .dir(&repo.dir)
        .ok()
        .stderr_has("asked Flux to reconcile GitRepository flux-system, Kustomization infra-controllers, Kustomization infra-configs, Kustomization apps, Kustomization flux-system");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_and_add_app_wait_until_flux_runs_what_they_pushed() {
    let server = ApiServer::start();
    let client = server.client().await;
    install(&client).await;
    homelab_objects(&client).await;
    let repo = Repo::new();
    let source = git_repository();
    let kustomizations = [
        kustomization("flux-system", &[]),
        kustomization("infra-controllers", &[]),
        kustomization("infra-configs", &["infra-controllers"]),
        kustomization("apps", &["infra-configs"]),
    ];
    let metallb = helm_release("metallb-system", "metallb");
    report(
        &client,
        &metallb,
        json!({"conditions": ready("Helm install succeeded")}),
    )
    .await;

    /// Play Flux for one commit: fetched, applied, and the app's release installed.
    async fn converge(
        client: &kube::Client,
        source: &Value,
        kustomizations: &[Value],
        revision: &str,
    ) {
        report(
            client,
            source,
            json!({"conditions": ready("stored"), "artifact": artifact(revision)}),
        )
        .await;
        for k in kustomizations {
            report(
                client,
                k,
                json!({"conditions": ready("Applied"), "lastAppliedRevision": revision}),
            )
            .await;
        }
    }

    // push --wait: pushes, then waits until Flux runs the pushed commit.
    std::fs::write(repo.dir.join("note.txt"), "x\n").unwrap();
    // push commits nothing: the user commits their own file.
    git(&repo.dir, &["add", "note.txt"]);
    git(&repo.dir, &["commit", "-q", "-m", "a note"]);
    let mut push = Background::start(
        &["push", "--wait", "--timeout", "60s"],
        &repo.dir,
        server.kubeconfig(),
    );
    requested_token(&client, std::slice::from_ref(&source)).await;
    push.pending_with("waiting: fetching the commit").await;
    let revision = repo.revision();
    assert!(push.log().contains("pushed main to"), "{}", push.log());
    converge(&client, &source, &kustomizations, &revision).await;
    let (code, log) = push.finish().await;
    assert_eq!(code, 0, "{log}");
    assert!(log.contains("Flux runs main@sha1:"), "{log}");

    // add-app --wait: the app's HelmRelease must be Ready too, once the apps Kustomization
    // applied it.
    let key = repo.dir.parent().unwrap().join("age.agekey");
    let mut add = Background::start_with(
        &[
            "add-app",
            "uptime-kuma",
            "--non-interactive",
            "--wait",
            "--timeout",
            "60s",
        ],
        &repo.dir,
        server.kubeconfig(),
        &[("HOMELAB_AGE_KEY_FILE", &key)],
    );
    add.pending_with("waiting: fetching the commit").await;
    let revision = repo.revision();
    let app = helm_release("uptime-kuma", "uptime-kuma");
    put(&client, namespace("uptime-kuma")).await;
    put(&client, app.clone()).await;
    converge(&client, &source, &kustomizations, &revision).await;
    add.pending_with("HelmRelease uptime-kuma/uptime-kuma: progressing (NotReconciled): waiting to be reconciled").await;
    report(
        &client,
        &app,
        json!({"conditions": ready("Helm install succeeded")}),
    )
    .await;
    let (code, log) = add.finish().await;
    assert_eq!(code, 0, "{log}");
    assert!(log.contains("2 HelmReleases Ready"), "{log}");
}

#[test]
fn status_without_flux_says_to_bootstrap() {
    let server = ApiServer::start();
    homelab()
        .args(["status", "--kubeconfig"])
        .arg(server.kubeconfig())
        .expect_code(1)
        .stderr_has("Flux is not installed in this cluster")
        .stderr_has("hint: run `homelab bootstrap`");
}

/// Bootstrap's readiness wait (`homelab::kube::wait`) judges by the same rules: still
/// pending while the Kustomization lags behind its source or reports an older generation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bootstrap_wait_is_pending_until_every_object_is_current_at_the_revision() {
    use homelab::kube::status::{GIT_REPOSITORY, KUSTOMIZATION};
    use homelab::kube::wait::{self, Check, Target};

    let server = ApiServer::start();
    let client = server.client().await;
    install(&client).await;
    homelab_objects(&client).await;
    let (source, root) = (git_repository(), kustomization("flux-system", &[]));
    let revision = "main@sha1:1111111111111111111111111111111111111111";
    let old = "main@sha1:0000000000000000000000000000000000000000";
    let target = |resource, name: &str| Target {
        resource,
        namespace: "flux-system".into(),
        name: name.into(),
        check: Check::FluxReady {
            revision: Some(revision.into()),
        },
    };
    let targets = vec![
        target(GIT_REPOSITORY.resource(), "flux-system"),
        target(KUSTOMIZATION.resource(), "flux-system"),
    ];
    report(
        &client,
        &source,
        json!({"conditions": ready("stored"), "artifact": artifact(revision)}),
    )
    .await;
    report(
        &client,
        &root,
        json!({"conditions": ready("Applied"), "lastAppliedRevision": old}),
    )
    .await;

    let waiting = {
        let (client, targets) = (client.clone(), targets.clone());
        tokio::spawn(async move {
            let deadline = tokio::time::Instant::now() + SYNC_TIMEOUT;
            wait::wait_all(&client, &targets, deadline, |_, _| {}).await
        })
    };
    // Lagging behind its source.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(
        !waiting.is_finished(),
        "stopped waiting on a lagging Kustomization"
    );
    let st = wait::state(&client, &targets[1]).await;
    assert_eq!(
        st.message,
        format!("at revision {old:?}, waiting for {revision:?}")
    );

    // At the revision, but for an older generation.
    merge(&client, &root, json!({"spec": {"interval": "11m0s"}})).await;
    report(
        &client,
        &root,
        json!({"conditions": ready("Applied"), "lastAppliedRevision": revision,
        "observedGeneration": 1}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(
        !waiting.is_finished(),
        "stopped waiting on a stale generation"
    );
    let st = wait::state(&client, &targets[1]).await;
    assert!(
        st.message.starts_with("generation 2 not reconciled yet"),
        "{}",
        st.message
    );

    // Current: done.
    report(
        &client,
        &root,
        json!({"conditions": ready("Applied"), "lastAppliedRevision": revision}),
    )
    .await;
    let left = waiting.await.unwrap();
    assert!(left.is_empty(), "{left:?}");
}
