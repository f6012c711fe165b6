//! The test control plane itself: a real kube-apiserver + etcd starts, serves, enforces
//! RBAC and CRD schemas, restarts, and leaves nothing behind. `scripts/envtest` is
//! checked end to end as well.

use std::net::TcpStream;
use std::path::Path;
use std::process::Command;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{
    Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams,
};

use crate::support::envtest::{
    ApiServer, KUBE_VERSION, fixture_crd_files, install_crds, namespace_name,
};
use crate::support::root;

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(f)
}

async fn create_namespace(client: &kube::Client, name: &str) {
    let ns: Namespace = serde_json::from_value(serde_json::json!({
        "metadata": { "name": name }
    }))
    .unwrap();
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .unwrap_or_else(|e| panic!("create namespace {name}: {e}"));
}

/// Ids of the server processes (their watchdog process groups) of the server whose
/// kubeconfig lives in `dir`.
fn pids(dir: &Path) -> Vec<u32> {
    ["etcd.pid", "kube-apiserver.pid"]
        .iter()
        .map(|f| {
            std::fs::read_to_string(dir.join(f))
                .unwrap_or_else(|e| panic!("read {f}: {e}"))
                .trim()
                .parse()
                .unwrap()
        })
        .collect()
}

fn alive(pid: u32) -> bool {
    // A zombie still has a /proc entry but is not running anything.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| !s.contains(") Z "))
        .unwrap_or(false)
}

/// Processes whose command line mentions `dir` (the servers and watchdogs of one run).
fn processes_mentioning(dir: &Path) -> Vec<String> {
    let needle = dir.to_string_lossy().into_owned();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.chars().all(|c| c.is_ascii_digit()) || !alive(name.parse().unwrap()) {
            continue;
        }
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if cmdline.contains(&needle) {
                found.push(format!("{name}: {cmdline}"));
            }
        }
    }
    found
}

fn port_of(url: &str) -> u16 {
    url.rsplit(':').next().unwrap().parse().unwrap()
}

#[test]
fn private_server_serves_core_objects_survives_restart_and_cleans_up() {
    let server = ApiServer::start();
    let dir = server.kubeconfig().parent().unwrap().to_path_buf();
    let port = port_of(server.url());
    assert!(server.url().starts_with("https://127.0.0.1:"));

    block_on(async {
        let client = server.client().await;
        let version = client.apiserver_version().await.expect("GET /version");
        assert_eq!(version.git_version, KUBE_VERSION);

        let ns = namespace_name("core objects");
        create_namespace(&client, &ns).await;
        let cms: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
        let cm: ConfigMap = serde_json::from_value(serde_json::json!({
            "metadata": { "name": "settings" },
            "data": { "greeting": "hello" }
        }))
        .unwrap();
        cms.create(&PostParams::default(), &cm).await.unwrap();
        let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
        let mut secret = Secret::default();
        secret.metadata.name = Some("token".into());
        secret.data = Some([("token".to_string(), ByteString(b"s3cr3t".to_vec()))].into());
        secrets
            .create(&PostParams::default(), &secret)
            .await
            .unwrap();

        let read = cms.get("settings").await.unwrap();
        assert_eq!(read.data.unwrap()["greeting"], "hello");
        let read = secrets.get("token").await.unwrap();
        assert_eq!(read.data.unwrap()["token"].0, b"s3cr3t");
        let listed = Api::<Namespace>::all(client.clone())
            .get(&ns)
            .await
            .unwrap();
        assert_eq!(listed.metadata.name.as_deref(), Some(ns.as_str()));

        // A restarted kube-apiserver keeps its port and its etcd: the data is still there.
        let before = pids(&dir);
        server.restart_apiserver();
        assert!(!alive(before[1]), "old kube-apiserver still running");
        let client = server.client().await;
        let cms: Api<ConfigMap> = Api::namespaced(client, &ns);
        assert_eq!(
            cms.get("settings").await.unwrap().data.unwrap()["greeting"],
            "hello"
        );

        // Finer control: while stopped, requests fail; after starting again they work.
        server.stop_apiserver();
        assert!(cms.get("settings").await.is_err());
        server.start_apiserver_again();
        let client = server.client().await;
        let cms: Api<ConfigMap> = Api::namespaced(client, &ns);
        assert!(cms.get("settings").await.is_ok());
    });

    let running = pids(&dir);
    assert!(running.iter().all(|p| alive(*p)));
    drop(server);
    for pid in running {
        assert!(!alive(pid), "process {pid} survived the server's drop");
    }
    assert_eq!(processes_mentioning(&dir), Vec::<String>::new());
    assert!(!dir.exists(), "{} not removed", dir.display());
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "port {port} still served after drop"
    );
}

#[test]
fn limited_identity_is_authenticated_but_has_no_rights() {
    let server = ApiServer::shared();
    let limited_kubeconfig = server.limited_kubeconfig().to_path_buf();
    block_on(async {
        let kc = kube::config::Kubeconfig::read_from(&limited_kubeconfig).unwrap();
        let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
            .await
            .unwrap();
        let limited = kube::Client::try_from(config).unwrap();
        let err = Api::<Namespace>::all(limited)
            .list(&Default::default())
            .await
            .expect_err("limited may not list namespaces");
        match err {
            kube::Error::Api(status) => {
                assert_eq!(status.code, 403, "{status:?}");
                // Authenticated as "limited", not anonymous: RBAC is what says no.
                assert!(status.message.contains("\"limited\""), "{}", status.message);
            }
            other => panic!("expected 403 Forbidden, got {other}"),
        }
        let admin = server.client().await;
        Api::<Namespace>::all(admin)
            .list(&Default::default())
            .await
            .expect("admin may list namespaces");
    });
}

#[test]
fn fixture_crds_establish_and_their_schemas_are_enforced() {
    let server = ApiServer::shared();
    block_on(async {
        let client = server.client().await;
        let files = fixture_crd_files();
        assert!(files.len() >= 6, "{files:?}");
        install_crds(&client, &files).await;
        // Idempotent: a second install changes nothing and still succeeds.
        install_crds(&client, &files).await;

        let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
        for name in [
            "gitrepositories.source.toolkit.fluxcd.io",
            "kustomizations.kustomize.toolkit.fluxcd.io",
            "helmreleases.helm.toolkit.fluxcd.io",
            "certificates.cert-manager.io",
            "ipaddresspools.metallb.io",
            "ingressroutes.traefik.io",
            "gateways.gateway.networking.k8s.io",
            "envoyproxies.gateway.envoyproxy.io",
        ] {
            crds.get(name)
                .await
                .unwrap_or_else(|e| panic!("CRD {name} missing: {e}"));
        }

        let ns = namespace_name("crd schema");
        create_namespace(&client, &ns).await;
        let gvk = GroupVersionKind::gvk("source.toolkit.fluxcd.io", "v1", "GitRepository");
        let ar = ApiResource::from_gvk(&gvk);
        let repos: Api<DynamicObject> = Api::namespaced_with(client.clone(), &ns, &ar);
        let strict = PatchParams::apply("homelab-envtest").validation_strict();
        let repo = |extra: serde_json::Value| {
            let mut spec = serde_json::json!({
                "interval": "1m",
                "url": "https://example.org/homelab.git",
                "ref": { "branch": "main" }
            });
            spec.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            serde_json::json!({
                "apiVersion": "source.toolkit.fluxcd.io/v1",
                "kind": "GitRepository",
                "metadata": { "name": "flux-system" },
                "spec": spec
            })
        };

        let created = repos
            .patch(
                "flux-system",
                &strict,
                &Patch::Apply(repo(serde_json::json!({}))),
            )
            .await
            .expect("a valid GitRepository is accepted");
        assert_eq!(created.data["spec"]["ref"]["branch"], "main");

        // Server-side apply refuses to build a patch with a field the schema lacks...
        let err = repos
            .patch(
                "flux-system",
                &strict,
                &Patch::Apply(repo(serde_json::json!({ "brnach": "typo" }))),
            )
            .await
            .expect_err("server-side apply rejects an unknown field");
        assert!(err.to_string().contains("brnach"), "{err}");
        // ...and strict field validation rejects it in any other write as well.
        let merge_strict = PatchParams::default().validation_strict();
        let err = repos
            .patch(
                "flux-system",
                &merge_strict,
                &Patch::Merge(serde_json::json!({ "spec": { "brnach": "typo" } })),
            )
            .await
            .expect_err("an unknown field is rejected under strict validation");
        match err {
            kube::Error::Api(status) => {
                assert!(matches!(status.code, 400 | 422), "{status:?}");
                assert!(
                    status.message.contains(r#"unknown field "spec.brnach""#),
                    "{status:?}"
                );
            }
            other => panic!("expected an API error, got {other}"),
        }
        // Without strict validation the same patch is accepted, the field silently
        // dropped: so it is the strictness that rejected it above.
        let accepted = repos
            .patch(
                "flux-system",
                &PatchParams::default(),
                &Patch::Merge(serde_json::json!({ "spec": { "brnach": "typo" } })),
            )
            .await
            .expect("non-strict patch is accepted");
        assert!(accepted.data["spec"].get("brnach").is_none());

        // The schema's types are enforced too, not just field names.
        let err = repos
            .patch(
                "flux-system",
                &strict,
                &Patch::Apply(repo(serde_json::json!({ "suspend": "yes please" }))),
            )
            .await
            .expect_err("a wrongly typed field is rejected");
        assert!(err.to_string().contains("expected boolean"), "{err}");
    });
}

/// `scripts/envtest -- CMD`, with the runner `cargo test` built beside this binary (the
/// script would build it with cargo, which is busy running the tests).
fn envtest_script(cmd: &[&str]) -> std::process::Output {
    let exe = std::env::current_exe().expect("the test binary's path");
    let runner = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps")
        .join("examples/envtest");
    assert!(
        runner.is_file(),
        "{} is missing: `cargo test` builds the examples",
        runner.display()
    );
    Command::new(root().join("scripts/envtest"))
        .arg("--")
        .args(cmd)
        .env_remove("KUBECONFIG")
        .env("HOMELAB_ENVTEST_RUNNER", runner)
        .output()
        .expect("run scripts/envtest")
}

#[test]
fn envtest_script_runs_the_command_against_a_fresh_server_and_returns_its_code() {
    assert!(
        Command::new("kubectl")
            .arg("version")
            .arg("--client")
            .output()
            .is_ok_and(|o| o.status.success()),
        "kubectl is needed on PATH for this test"
    );
    let out = envtest_script(&["kubectl", "get", "ns", "default", "-o", "name"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("namespace/default"), "{text}");

    let out = envtest_script(&["false"]);
    assert_eq!(out.status.code(), Some(1));

    // The command sees the server (KUBECONFIG) and its code passes through; afterwards the
    // server's processes and files are gone.
    let out = envtest_script(&[
        "sh",
        "-c",
        r#"kubectl version -o json | grep -q '"gitVersion": "v1.37' || exit 90
           test -s "$ENVTEST_LIMITED_KUBECONFIG" || exit 91
           dirname "$KUBECONFIG"; pgrep -f -- "$(dirname "$KUBECONFIG")"; exit 7"#,
    ]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(7),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut lines = text.lines();
    let dir = lines.next().expect("run directory");
    assert!(!Path::new(dir).exists(), "{dir} left behind");
    assert_eq!(processes_mentioning(Path::new(dir)), Vec::<String>::new());
    let pids: Vec<u32> = lines.map(|l| l.trim().parse().unwrap()).collect();
    assert!(pids.len() >= 2, "kube-apiserver and etcd: {text}");
    for pid in pids {
        assert!(!alive(pid), "process {pid} outlived scripts/envtest");
    }
}
