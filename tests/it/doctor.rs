//! `homelab doctor` against a real kube-apiserver: a healthy homelab built the way the
//! rendered repository would leave it (the test plays the controllers by writing status),
//! then one failure class at a time, each checked for its finding, its hint and exit 1.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams,
};
use serde_json::{Value, json};

use crate::support::envtest::{self, ApiServer};
use crate::support::gitserver::{Stall, StallServer};
use crate::support::network::{
    HANG, TOKEN_USER, assert_plugin_stopped, hanging_plugin, loopback_config, write_kubeconfig,
};
use crate::support::{fixtures_dir, homelab};

const COMPONENTS: [&str; 4] = [
    "source-controller",
    "kustomize-controller",
    "helm-controller",
    "notification-controller",
];

/// The test's homelab repository: homelab.yaml committed and pushed to a bare remote.
struct Repo {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    remote: PathBuf,
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@localhost",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn config_yaml(remote: &Path) -> String {
    loopback_config(&remote.display().to_string())
}

fn make_repo() -> Repo {
    let tmp = tempfile::tempdir().unwrap();
    let remote = tmp.path().join("remote.git");
    let dir = tmp.path().join("homelab");
    std::fs::create_dir_all(&dir).unwrap();
    git(
        tmp.path(),
        &["init", "--bare", "-q", remote.to_str().unwrap()],
    );
    git(&dir, &["init", "-q"]);
    std::fs::write(dir.join("homelab.yaml"), config_yaml(&remote)).unwrap();
    git(&dir, &["add", "-A"]);
    git(&dir, &["commit", "-q", "-m", "homelab"]);
    git(&dir, &["remote", "add", "origin", remote.to_str().unwrap()]);
    git(&dir, &["push", "-q", "origin", "main"]);
    Repo {
        _tmp: tmp,
        dir,
        remote,
    }
}

impl Repo {
    fn head(&self) -> String {
        git(&self.dir, &["rev-parse", "HEAD"])
    }

    fn commit(&self, file: &str) {
        std::fs::write(self.dir.join(file), "x\n").unwrap();
        git(&self.dir, &["add", "-A"]);
        git(&self.dir, &["commit", "-q", "-m", file]);
    }
}

// ------------------------------------------------------------------ cluster objects

fn resource(api_version: &str, kind: &str) -> (ApiResource, bool) {
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let (plural, namespaced) = match kind {
        "Namespace" => ("namespaces", false),
        "Node" => ("nodes", false),
        "StorageClass" => ("storageclasses", false),
        "ClusterIssuer" => ("clusterissuers", false),
        "Deployment" => ("deployments", true),
        "DaemonSet" => ("daemonsets", true),
        "Service" => ("services", true),
        "Secret" => ("secrets", true),
        "Pod" => ("pods", true),
        "PersistentVolumeClaim" => ("persistentvolumeclaims", true),
        "Event" => ("events", true),
        "Ingress" => ("ingresses", true),
        "GitRepository" => ("gitrepositories", true),
        "Kustomization" => ("kustomizations", true),
        "HelmRelease" => ("helmreleases", true),
        "IPAddressPool" => ("ipaddresspools", true),
        "Certificate" => ("certificates", true),
        other => panic!("no resource for {other}"),
    };
    (
        ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural),
        namespaced,
    )
}

fn api_for(client: &kube::Client, obj: &Value) -> (Api<DynamicObject>, String) {
    let (ar, namespaced) = resource(
        obj["apiVersion"].as_str().unwrap(),
        obj["kind"].as_str().unwrap(),
    );
    let name = obj["metadata"]["name"].as_str().unwrap().to_owned();
    let api = if namespaced {
        Api::namespaced_with(
            client.clone(),
            obj["metadata"]["namespace"].as_str().unwrap(),
            &ar,
        )
    } else {
        Api::all_with(client.clone(), &ar)
    };
    (api, name)
}

/// Create or update `obj` (server-side apply), then write its `status` if it has one, as
/// the controllers would.
async fn put(client: &kube::Client, mut obj: Value) {
    let status = obj.as_object_mut().unwrap().remove("status");
    let (api, name) = api_for(client, &obj);
    api.patch(
        &name,
        &PatchParams::apply("doctor-test").force(),
        &Patch::Apply(&obj),
    )
    .await
    .unwrap_or_else(|e| panic!("apply {name}: {e}"));
    if let Some(status) = status {
        api.patch_status(
            &name,
            &PatchParams::default(),
            &Patch::Merge(&json!({ "status": status })),
        )
        .await
        .unwrap_or_else(|e| panic!("status of {name}: {e}"));
    }
}

async fn delete(client: &kube::Client, obj: &Value) {
    let (api, name) = api_for(client, obj);
    api.delete(&name, &DeleteParams::default())
        .await
        .unwrap_or_else(|e| panic!("delete {name}: {e}"));
}

fn now() -> String {
    k8s_openapi::jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn in_days(days: i64) -> String {
    k8s_openapi::jiff::Timestamp::now()
        .checked_add(k8s_openapi::jiff::SignedDuration::from_hours(days * 24 + 1))
        .unwrap()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn condition(ready: bool, reason: &str, message: &str) -> Value {
    json!([{
        "type": "Ready",
        "status": if ready { "True" } else { "False" },
        "reason": reason,
        "message": message,
        "lastTransitionTime": now(),
    }])
}

fn namespace(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
}

fn node(name: &str, ip: &str, control_plane: bool) -> Value {
    let mut labels = json!({"kubernetes.io/hostname": name});
    if control_plane {
        labels["node-role.kubernetes.io/control-plane"] = json!("true");
    }
    json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": labels},
        "status": {
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                "message": "kubelet is posting ready status", "lastHeartbeatTime": now(), "lastTransitionTime": now()}],
            "addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}],
            "nodeInfo": {"kubeletVersion": "v1.33.5+k3s1", "machineID": "", "systemUUID": "", "bootID": "",
                "kernelVersion": "", "osImage": "", "containerRuntimeVersion": "", "kubeProxyVersion": "",
                "operatingSystem": "linux", "architecture": "amd64"},
        },
    })
}

fn deployment(ns: &str, name: &str, image: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "manager", "image": image}]}},
        },
        "status": {"replicas": 1, "readyReplicas": 1, "updatedReplicas": 1, "availableReplicas": 1, "observedGeneration": 1},
    })
}

fn daemonset(ns: &str, name: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "speaker", "image": "quay.io/metallb/speaker:v0.16.1"}]}},
        },
        "status": {"currentNumberScheduled": 2, "numberMisscheduled": 0, "desiredNumberScheduled": 2, "numberReady": 2},
    })
}

fn git_repository(revision: &str) -> Value {
    json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
        "metadata": {"name": "flux-system", "namespace": "flux-system"},
        "spec": {"interval": "1m0s", "url": "ssh://git@example.com/homelab.git", "ref": {"branch": "main"},
            "secretRef": {"name": "flux-system"}},
        "status": {
            "conditions": condition(true, "Succeeded", &format!("stored artifact for revision '{revision}'")),
            "artifact": {"revision": revision, "path": "gitrepository/flux-system/flux-system/x.tar.gz",
                "url": "http://source-controller.flux-system.svc/x.tar.gz", "lastUpdateTime": now(),
                "digest": "sha256:0000000000000000000000000000000000000000000000000000000000000000"},
        },
    })
}

fn kustomization(name: &str, path: &str, revision: &str) -> Value {
    json!({
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
        "metadata": {"name": name, "namespace": "flux-system"},
        "spec": {"interval": "10m0s", "path": path, "prune": true,
            "sourceRef": {"kind": "GitRepository", "name": "flux-system"}},
        "status": {"conditions": condition(true, "ReconciliationSucceeded", &format!("Applied revision: {revision}")),
            "lastAppliedRevision": revision},
    })
}

fn helm_release(ns: &str, name: &str, ready: bool, message: &str) -> Value {
    json!({
        "apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"interval": "30m", "chartRef": {"kind": "OCIRepository", "name": name}},
        "status": {"conditions": condition(ready, if ready { "InstallSucceeded" } else { "InstallFailed" }, message)},
    })
}

fn certificate(not_after: &str) -> Value {
    json!({
        "apiVersion": "cert-manager.io/v1", "kind": "Certificate",
        "metadata": {"name": "whoami-tls", "namespace": "whoami"},
        "spec": {"secretName": "whoami-tls", "dnsNames": ["whoami.example.com"],
            "issuerRef": {"name": "letsencrypt-production", "kind": "ClusterIssuer"}},
        "status": {"conditions": condition(true, "Ready", "Certificate is up to date and has not expired"),
            "notAfter": not_after},
    })
}

fn lb_service(ns: &str, name: &str, ip: Option<&str>) -> Value {
    let mut svc = json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"type": "LoadBalancer", "selector": {"app": name},
            "ports": [{"name": "websecure", "port": 443, "targetPort": 8443, "protocol": "TCP"}]},
    });
    if let Some(ip) = ip {
        svc["status"] = json!({"loadBalancer": {"ingress": [{"ip": ip, "ipMode": "VIP"}]}});
    }
    svc
}

/// The objects of a healthy homelab, as the rendered repository and its controllers leave them.
fn healthy(revision: &str) -> Vec<Value> {
    let mut objs = vec![];
    for ns in [
        "flux-system",
        "metallb-system",
        "traefik",
        "cert-manager",
        "whoami",
    ] {
        objs.push(namespace(ns));
    }
    objs.push(node("node-1", "127.0.0.11", true));
    objs.push(node("node-2", "127.0.0.12", false));
    for c in COMPONENTS {
        objs.push(deployment(
            "flux-system",
            c,
            &format!("ghcr.io/fluxcd/{c}:v1.9.0"),
        ));
    }
    objs.push(git_repository(revision));
    objs.push(kustomization("flux-system", "./clusters/homelab", revision));
    objs.push(kustomization(
        "infra-controllers",
        "./infrastructure/controllers",
        revision,
    ));
    objs.push(kustomization(
        "infra-configs",
        "./infrastructure/configs",
        revision,
    ));
    objs.push(kustomization("apps", "./apps", revision));
    objs.push(helm_release(
        "metallb-system",
        "metallb",
        true,
        "Helm install succeeded",
    ));
    objs.push(helm_release(
        "traefik",
        "traefik",
        true,
        "Helm install succeeded",
    ));
    objs.push(helm_release(
        "cert-manager",
        "cert-manager",
        true,
        "Helm install succeeded",
    ));
    objs.push(helm_release(
        "whoami",
        "whoami",
        true,
        "Helm install succeeded",
    ));
    objs.push(deployment(
        "metallb-system",
        "metallb-controller",
        "quay.io/metallb/controller:v0.16.1",
    ));
    objs.push(daemonset("metallb-system", "metallb-speaker"));
    objs.push(json!({
        "apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
        "metadata": {"name": "homelab", "namespace": "metallb-system"},
        "spec": {"addresses": ["127.0.0.1-127.0.0.9"]},
    }));
    objs.push(lb_service("traefik", "traefik", Some("127.0.0.1")));
    objs.push(json!({
        "apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer",
        "metadata": {"name": "letsencrypt-production"},
        "spec": {"acme": {"server": "https://acme-v02.api.letsencrypt.org/directory", "email": "admin@example.com",
            "privateKeySecretRef": {"name": "letsencrypt-production"},
            "solvers": [{"dns01": {"cloudflare": {"apiTokenSecretRef": {"name": "cloudflare-api-token", "key": "api-token"}}}}]}},
        "status": {"conditions": condition(true, "ACMEAccountRegistered", "The ACME account was registered with the ACME server")},
    }));
    objs.push(certificate(&in_days(60)));
    objs.push(json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "cloudflare-api-token", "namespace": "cert-manager"},
        "stringData": {"api-token": "not-a-real-token"},
    }));
    objs.push(json!({
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": "nfs", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
        "provisioner": "nfs.csi.k8s.io",
        "parameters": {"server": "127.0.0.1", "share": "/srv/nfs/kubernetes"},
        "reclaimPolicy": "Delete",
        "mountOptions": ["nfsvers=4.1"],
    }));
    objs.push(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "whoami-0", "namespace": "whoami", "labels": {"app": "whoami"}},
        "spec": {"containers": [{"name": "whoami", "image": "traefik/whoami:v1.11"}]},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [{"name": "whoami", "image": "traefik/whoami:v1.11", "imageID": "", "ready": true,
                "restartCount": 0, "state": {"running": {"startedAt": now()}}}]},
    }));
    objs.push(json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": "whoami", "namespace": "whoami"},
        "spec": {"rules": [{"host": "localhost", "http": {"paths": [{"path": "/", "pathType": "Prefix",
            "backend": {"service": {"name": "whoami", "port": {"number": 80}}}}]}}]},
    }));
    objs
}

// ------------------------------------------------------------------ running the doctor

/// A stand-in NFS server: a TCP listener that accepts (and drops) every connection, so its
/// accept queue never fills however many runs probe it. Returns its port.
fn nfs_listener() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            drop(conn);
        }
    });
    port
}

struct Doctor<'a> {
    server: &'a ApiServer,
    repo: &'a Repo,
    nfs_port: u16,
}

/// A run's outcome: the exit code, stdout, and the JSON document of the same state.
struct Outcome {
    code: i32,
    text: String,
    json: Value,
}

impl Outcome {
    fn findings(&self) -> Vec<&Value> {
        self.json["sections"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| s["findings"].as_array().unwrap())
            .collect()
    }

    /// The one finding of `check` whose message contains `needle`.
    fn find(&self, check: &str, needle: &str) -> &Value {
        self.findings()
            .into_iter()
            .find(|f| f["check"] == check && f["message"].as_str().unwrap().contains(needle))
            .unwrap_or_else(|| panic!("no {check} finding with {needle:?}\n{}", self.text))
    }

    fn failed(&self) -> Vec<String> {
        self.findings()
            .into_iter()
            .filter(|f| f["status"] == "failed")
            .map(|f| format!("{}: {}", f["check"], f["message"]))
            .collect()
    }

    /// Exit 1 with exactly one failed finding, of `check`, containing `needle`, with a hint
    /// containing `hint`.
    fn expect_only_failure(&self, check: &str, needle: &str, hint: &str) {
        assert_eq!(self.code, 1, "exit code\n{}", self.text);
        let failed = self.failed();
        assert_eq!(
            failed.len(),
            1,
            "expected one failure, got {failed:#?}\n{}",
            self.text
        );
        let f = self.find(check, needle);
        assert_eq!(f["status"], "failed", "{}", self.text);
        assert!(
            f["hint"].as_str().unwrap().contains(hint),
            "hint of {f}\n{}",
            self.text
        );
        // The text report says the same, with its hint line.
        assert!(
            self.text
                .contains(&format!("[fail] {}", f["message"].as_str().unwrap())),
            "{}",
            self.text
        );
        assert!(
            self.text
                .contains(&format!("hint: {}", f["hint"].as_str().unwrap())),
            "{}",
            self.text
        );
    }
}

impl Doctor<'_> {
    fn run(&self) -> Outcome {
        let base = || {
            homelab()
                .args(["doctor", "--kubeconfig"])
                .arg(self.server.kubeconfig())
                .dir(&self.repo.dir)
                .env("HOMELAB_NFS_PORT", self.nfs_port.to_string())
        };
        let text = base().run();
        let json = base().args(["--output", "json"]).run();
        assert_eq!(text.code(), json.code(), "text and json exit codes differ");
        let doc: Value = serde_json::from_str(&json.stdout()).unwrap_or_else(|e| {
            panic!("doctor --output json is not JSON: {e}\n{}", json.describe())
        });
        Outcome {
            code: text.code(),
            text: text.stdout(),
            json: doc,
        }
    }
}

async fn install(client: &kube::Client) {
    let fx = fixtures_dir();
    envtest::install_crds(
        client,
        &[
            fx.join("flux/install.yaml"),
            fx.join("crds/cert-manager.yaml"),
            fx.join("crds/metallb.yaml"),
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthy_homelab_then_one_failure_class_at_a_time() {
    let server = ApiServer::start();
    let client = server.client().await;
    install(&client).await;
    let repo = make_repo();
    let revision = format!("main@sha1:{}", repo.head());
    for obj in healthy(&revision) {
        put(&client, obj).await;
    }
    // The NFS server: a listener on a free port, named through the documented override.
    let doctor = Doctor {
        server: &server,
        repo: &repo,
        nfs_port: nfs_listener(),
    };

    // Healthy: nothing failed, exit 0. The only tolerated warning is the rendered-files
    // comparison, which needs the renderer.
    let out = doctor.run();
    assert_eq!(out.code, 0, "healthy homelab\n{}", out.text);
    assert_eq!(out.json["version"], 1);
    let not_ok: Vec<_> = out
        .findings()
        .into_iter()
        .filter(|f| f["status"] != "ok" && f["check"] != "local.rendered")
        .collect();
    assert!(not_ok.is_empty(), "{not_ok:#?}\n{}", out.text);
    for needle in [
        "[ok] node node-1 Ready, 127.0.0.11, control-plane",
        "[ok] source-controller ready (ghcr.io/fluxcd/source-controller:v1.9.0)",
        "[ok] IPAddressPool metallb-system/homelab serves 127.0.0.1-127.0.0.9",
        "[ok] traefik/traefik has address 127.0.0.1",
        "[ok] ClusterIssuer letsencrypt-production ready",
        "[ok] Secret cert-manager/cloudflare-api-token has api-token",
        "[ok] StorageClass nfs (nfs.csi.k8s.io), default",
        "[ok] localhost → 127.0.0.1",
        "[ok] app whoami served at https://localhost (Ingress whoami/whoami)",
        "[ok] main is in sync with",
        "all checks passed",
    ] {
        if needle == "all checks passed" {
            continue; // the rendered-files warning makes it "healthy, with warnings"
        }
        assert!(
            out.text.contains(needle),
            "missing {needle:?}\n{}",
            out.text
        );
    }
    assert!(
        out.text.contains("healthy, with warnings") && out.text.contains(" 0 failed"),
        "{}",
        out.text
    );
    assert!(
        !out.text.contains("not-a-real-token"),
        "a secret value leaked"
    );
    assert!(
        out.find("certs.certificates", "whoami/whoami-tls")
            .to_string()
            .contains("expires in 60 days")
    );

    // A HelmRelease that failed, with the controller's own message.
    put(
        &client,
        helm_release(
            "traefik",
            "traefik",
            false,
            "Helm install failed: timed out waiting for the condition",
        ),
    )
    .await;
    doctor.run().expect_only_failure(
        "flux.helmreleases",
        "HelmRelease traefik/traefik not ready: InstallFailed: Helm install failed: timed out waiting for the condition",
        "describe helmrelease traefik",
    );
    put(
        &client,
        helm_release("traefik", "traefik", true, "Helm install succeeded"),
    )
    .await;

    // A certificate about to expire: cert-manager failed to renew it.
    put(&client, certificate(&in_days(3))).await;
    doctor.run().expect_only_failure(
        "certs.certificates",
        "Certificate whoami/whoami-tls expires in 3 days",
        "cmctl renew",
    );
    put(&client, certificate(&in_days(10))).await;
    let out = doctor.run();
    assert_eq!(out.code, 0, "{}", out.text);
    assert_eq!(
        out.find("certs.certificates", "expires in 10 days")["status"],
        "warning"
    );
    put(&client, certificate(&in_days(60))).await;

    // A LoadBalancer Service MetalLB never served.
    let pending = lb_service("whoami", "whoami-udp", None);
    put(&client, pending.clone()).await;
    doctor.run().expect_only_failure(
        "lb.pending",
        "LoadBalancer Service whoami/whoami-udp has no external address (pending)",
        "network.loadbalancer_pool",
    );
    delete(&client, &pending).await;

    // The ingress Service lost its address.
    put(&client, lb_service("traefik", "traefik", None)).await;
    let (svc, _) = api_for(&client, &lb_service("traefik", "traefik", None));
    svc.patch_status(
        "traefik",
        &PatchParams::default(),
        &Patch::Merge(&json!({"status": {"loadBalancer": {"ingress": null}}})),
    )
    .await
    .unwrap();
    doctor.run().expect_only_failure(
        "lb.ingress",
        "traefik/traefik has no external address (want 127.0.0.1)",
        "MetalLB did not assign 127.0.0.1",
    );
    put(&client, lb_service("traefik", "traefik", Some("127.0.0.1"))).await;

    // A node of homelab.yaml that is not in the cluster.
    let node2 = node("node-2", "127.0.0.12", false);
    delete(&client, &node2).await;
    doctor.run().expect_only_failure(
        "nodes.present",
        "node node-2 (127.0.0.12) is not in the cluster",
        "remove nodes[1]",
    );
    put(&client, node2).await;

    // k3s's servicelb beside MetalLB.
    let svclb = daemonset("kube-system", "svclb-traefik-1a2b3c4d");
    put(&client, svclb.clone()).await;
    doctor.run().expect_only_failure(
        "lb.k3s-servicelb",
        "svclb-traefik-1a2b3c4d",
        "--disable servicelb --disable traefik",
    );
    delete(&client, &svclb).await;

    // A PVC stuck Pending, with the provisioner's event.
    let pvc = json!({
        "apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data", "namespace": "whoami"},
        "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "nfs", "resources": {"requests": {"storage": "1Gi"}}},
    });
    put(&client, pvc.clone()).await;
    let event = json!({
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": "data.provisioning", "namespace": "whoami"},
        "involvedObject": {"kind": "PersistentVolumeClaim", "namespace": "whoami", "name": "data", "apiVersion": "v1"},
        "reason": "ProvisioningFailed",
        "message": "failed to provision volume: mount.nfs: access denied by server",
        "type": "Warning",
        "lastTimestamp": now(),
        "firstTimestamp": now(),
        "count": 1,
        "source": {"component": "nfs.csi.k8s.io"},
    });
    put(&client, event.clone()).await;
    doctor.run().expect_only_failure(
        "storage.pvcs",
        "PVC whoami/data is Pending: ProvisioningFailed: failed to provision volume: mount.nfs: access denied by server",
        "exports /srv/nfs/kubernetes",
    );
    delete(&client, &pvc).await;
    // No controller runs to lift the pvc-protection finalizer: play it.
    let (pvcs, _) = api_for(&client, &pvc);
    pvcs.patch(
        "data",
        &PatchParams::default(),
        &Patch::Merge(&json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
    delete(&client, &event).await;

    // The NFS server down.
    let down = Doctor {
        server: &server,
        repo: &repo,
        nfs_port: {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        },
    };
    down.run()
        .expect_only_failure("storage.nfs", "NFS server 127.0.0.1:", "TCP");

    // The DNS provider credentials missing.
    let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "cloudflare-api-token", "namespace": "cert-manager"}});
    delete(&client, &secret).await;
    doctor.run().expect_only_failure(
        "certs.dns-secret",
        "cloudflare-api-token (cloudflare credentials) does not exist",
        "homelab bootstrap",
    );

    // The remote moved on (someone pushed), Flux still runs the old commit.
    put(&client, json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "cloudflare-api-token", "namespace": "cert-manager"}, "stringData": {"api-token": "x"}})).await;
    let other = tempfile::tempdir().unwrap();
    git(
        other.path(),
        &["clone", "-q", repo.remote.to_str().unwrap(), "c"],
    );
    let clone = other.path().join("c");
    std::fs::write(clone.join("extra.yaml"), "x: 1\n").unwrap();
    git(&clone, &["add", "-A"]);
    git(&clone, &["commit", "-q", "-m", "remote change"]);
    git(&clone, &["push", "-q", "origin", "main"]);
    let remote_head = git(&clone, &["rev-parse", "HEAD"]);
    let out = doctor.run();
    // Two findings: Flux lags the remote, and the local branch is behind it (a warning).
    assert_eq!(out.code, 1, "{}", out.text);
    assert_eq!(out.failed().len(), 1, "{:#?}", out.failed());
    let f = out.find(
        "flux.revision",
        &format!("but origin/main is at {}", &remote_head[..7]),
    );
    assert!(
        f["hint"]
            .as_str()
            .unwrap()
            .contains("flux reconcile source git flux-system"),
        "{f}"
    );
    assert_eq!(
        out.find("local.remote", "1 commit(s) behind")["status"],
        "warning"
    );

    // Flux catches up; the local repository has a commit it never pushed.
    git(&repo.dir, &["pull", "-q", "--ff-only", "origin", "main"]);
    put(&client, git_repository(&format!("main@sha1:{remote_head}"))).await;
    repo.commit("local.yaml");
    let out = doctor.run();
    out.expect_only_failure(
        "local.remote",
        "main is 1 commit(s) ahead of",
        "homelab push",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_without_flux_says_to_bootstrap() {
    let server = ApiServer::start();
    let repo = make_repo();
    let doctor = Doctor {
        server: &server,
        repo: &repo,
        nfs_port: nfs_listener(),
    };
    let out = doctor.run();
    assert_eq!(out.code, 1, "{}", out.text);
    let f = out.find("flux.installed", "Flux is not installed");
    assert_eq!(f["status"], "failed");
    assert!(
        f["hint"].as_str().unwrap().contains("homelab bootstrap"),
        "{f}"
    );
    // The rest still reports, e.g. the missing nodes.
    assert_eq!(out.find("nodes.present", "node node-1")["status"], "failed");
    assert_eq!(
        out.find("cluster.version", "Kubernetes v1.")["status"],
        "ok"
    );
}

#[test]
fn an_unreachable_cluster_still_runs_the_local_checks() {
    let repo = make_repo();
    // A port nothing listens on.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let kubeconfig = repo.dir.parent().unwrap().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:{port}\n    insecure-skip-tls-verify: true\nusers:\n- name: u\n  user:\n    token: t\ncontexts:\n- name: home\n  context:\n    cluster: c\n    user: u\ncurrent-context: home\n"
        ),
    )
    .unwrap();
    let run = homelab()
        .args(["doctor", "--output", "json", "--kubeconfig"])
        .arg(&kubeconfig)
        .dir(&repo.dir)
        .expect_code(1);
    let doc: Value = serde_json::from_str(&run.stdout()).unwrap();
    let sections: Vec<&str> = doc["sections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(sections, ["local", "cluster", "dns"], "{}", run.stdout());
    let local = &doc["sections"][0]["findings"];
    assert_eq!(local[0]["check"], "local.config");
    assert_eq!(local[0]["status"], "ok");
    let cluster = doc["sections"][1]["findings"].as_array().unwrap();
    let last = cluster.last().unwrap();
    assert_eq!(last["check"], "cluster.reachable");
    assert_eq!(last["status"], "failed");
    assert!(
        last["message"]
            .as_str()
            .unwrap()
            .starts_with("cannot reach cluster at https://127.0.0.1:"),
        "{last}"
    );
    assert!(
        last["hint"]
            .as_str()
            .unwrap()
            .contains("kubectl --context home get nodes"),
        "{last}"
    );
    assert_eq!(doc["summary"]["failed"], 1, "{}", run.stdout());

    // An unknown context is named, with the ones that exist.
    homelab()
        .args(["doctor", "--context", "nope", "--kubeconfig"])
        .arg(&kubeconfig)
        .dir(&repo.dir)
        .expect_code(1)
        .stdout_has(
            "[fail] cannot reach cluster: --context: no context named \"nope\" in the kubeconfig",
        )
        .stdout_has("hint: pass --context with one of: home");
}

// ------------------------------------------------------------------ remotes that hang

/// A kubeconfig in `dir` for `server`, with `user`.
fn kubeconfig_for(dir: &Path, server: &str, user: &str) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let name = format!("kubeconfig-{}", N.fetch_add(1, Ordering::Relaxed));
    write_kubeconfig(&dir.join(name), server, user)
}

/// `doctor --output json` with 2 s timeouts, which must end well within [`HANG`]; returns
/// the report and the exit code.
fn bounded_doctor(repo: &Repo, kubeconfig: &Path) -> (Value, i32) {
    let start = std::time::Instant::now();
    let run = homelab()
        .args(["doctor", "--output", "json", "--git-timeout", "2s"])
        .args(["--request-timeout", "2s", "--kubeconfig"])
        .arg(kubeconfig)
        .dir(&repo.dir)
        .run();
    let took = start.elapsed();
    assert!(took < HANG, "doctor took {took:?}\n{}", run.describe());
    let doc: Value = serde_json::from_str(&run.stdout())
        .unwrap_or_else(|e| panic!("not JSON: {e}\n{}", run.describe()));
    (doc, run.code())
}

/// The first finding of `check` has `status` and mentions each needle (message or hint).
fn assert_finding(doc: &Value, check: &str, status: &str, needles: &[&str]) {
    let f = doc["sections"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["findings"].as_array().unwrap())
        .find(|f| f["check"] == check)
        .unwrap_or_else(|| panic!("no {check} finding in {doc:#}"));
    assert_eq!(f["status"], status, "{f:#}");
    let text = format!("{} {}", f["message"], f["hint"]);
    for needle in needles {
        assert!(text.contains(needle), "{check} lacks {needle:?}: {f:#}");
    }
}

/// The API server at `server` is reported as not answering within the 2 s deadline.
fn assert_deadline_reported(doc: &Value, server: &str) {
    assert_finding(
        doc,
        "cluster.reachable",
        "failed",
        &[server, "no complete answer within 2s", "--request-timeout"],
    );
}

/// The git remote and the API server both accept connections and never answer: the
/// report still comes, in bounded time, and says what did not answer.
#[test]
fn the_report_comes_in_bounded_time_when_every_remote_hangs() {
    let repo = make_repo();
    let tmp = tempfile::tempdir().unwrap();
    let silent = StallServer::start(tmp.path(), Stall::Silent, false);
    let git_url = format!("https://127.0.0.1:{}/homelab.git", silent.port);
    let config = config_yaml(Path::new(&git_url));
    std::fs::write(repo.dir.join("homelab.yaml"), config).unwrap();
    let server = format!("https://127.0.0.1:{}", silent.port);
    let kubeconfig = kubeconfig_for(tmp.path(), &server, TOKEN_USER);
    let (doc, code) = bounded_doctor(&repo, &kubeconfig);
    assert_eq!(code, 1, "{doc:#}");
    let needles = [
        git_url.as_str(),
        "did not answer within 2s",
        "--git-timeout",
    ];
    assert_finding(&doc, "local.remote", "warning", &needles);
    assert_deadline_reported(&doc, &server);
}

/// An API server that answers one byte at a time never trips a per-read timeout; the
/// deadline on the whole request does, over http and https.
#[test]
fn a_trickling_api_server_is_reported_not_waited_for() {
    let repo = make_repo();
    let tmp = tempfile::tempdir().unwrap();
    for tls in [false, true] {
        let json = Stall::Trickle {
            content_type: "application/json",
            prefix: "",
        };
        let trickle = StallServer::start(tmp.path(), json, tls);
        let scheme = if tls { "https" } else { "http" };
        let server = format!("{scheme}://127.0.0.1:{}", trickle.port);
        let kubeconfig = kubeconfig_for(tmp.path(), &server, TOKEN_USER);
        let (doc, code) = bounded_doctor(&repo, &kubeconfig);
        assert_eq!(code, 1, "{doc:#}");
        assert_deadline_reported(&doc, &server);
    }
}

/// A kubeconfig credential plugin that never returns (a login waiting for a browser) is
/// stopped after --request-timeout and reported as the credentials step, naming it.
#[test]
fn a_credential_plugin_that_never_returns_is_stopped() {
    let repo = make_repo();
    let tmp = tempfile::tempdir().unwrap();
    let pid_file = tmp.path().join("plugin.pid");
    // Nothing listens there; the plugin is what hangs.
    let kubeconfig = kubeconfig_for(
        tmp.path(),
        "https://127.0.0.1:1",
        &hanging_plugin(&pid_file),
    );
    let (doc, code) = bounded_doctor(&repo, &kubeconfig);
    assert_eq!(code, 1, "{doc:#}");
    assert_finding(&doc, "cluster.context", "ok", &["context home"]);
    let needles = [
        "credential plugin `sh`",
        "did not finish within 2s",
        "--request-timeout",
    ];
    assert_finding(&doc, "cluster.credentials", "failed", &needles);
    assert_plugin_stopped(&pid_file);
}

/// The plugin's answer is used: its token is what the client sends (to a refused port
/// here, so the next step fails, but the credentials step is ok), and never printed.
#[test]
fn a_credential_plugin_that_answers_is_used() {
    let repo = make_repo();
    let tmp = tempfile::tempdir().unwrap();
    let user = "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: sh\n      args: [\"-c\", \"echo '{\\\"kind\\\":\\\"ExecCredential\\\",\\\"status\\\":{\\\"token\\\":\\\"plugin-token\\\"}}'\"]\n";
    let kubeconfig = kubeconfig_for(tmp.path(), "https://127.0.0.1:1", user);
    let (doc, _) = bounded_doctor(&repo, &kubeconfig);
    let needles = ["credential plugin `sh` returned a token"];
    assert_finding(&doc, "cluster.credentials", "ok", &needles);
    assert!(!doc.to_string().contains("plugin-token"), "{doc:#}");
    assert_finding(&doc, "cluster.reachable", "failed", &["127.0.0.1:1"]);
}

/// KUBECONFIG entries that do not exist are skipped, as kubectl does; when none exists it
/// is a failure naming them.
#[test]
fn kubeconfig_entries_that_do_not_exist_are_skipped() {
    let repo = make_repo();
    let tmp = tempfile::tempdir().unwrap();
    let real = kubeconfig_for(tmp.path(), "https://127.0.0.1:1", TOKEN_USER);
    let missing = tmp.path().join("missing-kubeconfig");
    let doctor = |kubeconfig: &std::ffi::OsStr| {
        let run = homelab()
            .args(["doctor", "--output", "json", "--request-timeout", "2s"])
            .env("KUBECONFIG", kubeconfig)
            .dir(&repo.dir)
            .run();
        serde_json::from_str::<Value>(&run.stdout()).unwrap()
    };
    let doc = doctor(&std::env::join_paths([&missing, &real]).unwrap());
    let (real, missing) = (real.display().to_string(), missing.display().to_string());
    let needles = [real.as_str(), "skipped, not found", missing.as_str()];
    assert_finding(&doc, "cluster.kubeconfig", "ok", &needles);
    assert_finding(&doc, "cluster.context", "ok", &["context home"]);

    let doc = doctor(std::ffi::OsStr::new(&missing));
    let needles = ["none of the KUBECONFIG files exist", missing.as_str()];
    assert_finding(&doc, "cluster.kubeconfig", "failed", &needles);
}

#[test]
fn a_directory_without_homelab_yaml_fails_with_a_hint() {
    let tmp = tempfile::tempdir().unwrap();
    homelab()
        .args(["doctor", "--kubeconfig"])
        .arg(tmp.path().join("missing-kubeconfig"))
        .dir(tmp.path())
        .expect_code(1)
        .stdout_has("homelab.yaml not found")
        .stdout_has("hint: run `homelab init`")
        .stdout_has("[fail] cannot reach cluster: no kubeconfig at");
}

/// Not a test: the timing figure of docs/doctor.md. A healthy homelab plus twelve more apps'
/// objects (HelmRelease, pods, Service, Ingress each), then ten timed runs of the binary.
/// Run with `scripts/bench-doctor` (or `cargo test --test it doctor::bench -- --ignored --nocapture`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run explicitly"]
async fn bench_whole_run() {
    let server = ApiServer::start();
    let client = server.client().await;
    install(&client).await;
    let repo = make_repo();
    let revision = format!("main@sha1:{}", repo.head());
    for obj in healthy(&revision) {
        put(&client, obj).await;
    }
    for i in 0..12 {
        let ns = format!("app-{i}");
        put(&client, namespace(&ns)).await;
        put(
            &client,
            helm_release(&ns, &ns, true, "Helm install succeeded"),
        )
        .await;
        put(
            &client,
            kustomization(&format!("app-{i}"), "./apps", &revision),
        )
        .await;
        for p in 0..3 {
            let mut pod = healthy(&revision)
                .into_iter()
                .find(|o| o["kind"] == "Pod")
                .unwrap();
            pod["metadata"]["namespace"] = json!(ns);
            pod["metadata"]["name"] = json!(format!("{ns}-{p}"));
            put(&client, pod).await;
        }
        put(&client, lb_service(&ns, &ns, Some("127.0.0.2"))).await;
    }
    let doctor = Doctor {
        server: &server,
        repo: &repo,
        nfs_port: nfs_listener(),
    };
    assert_eq!(doctor.run().code, 0);
    let mut times = Vec::new();
    for _ in 0..10 {
        let start = std::time::Instant::now();
        let run = homelab()
            .args(["doctor", "--kubeconfig"])
            .arg(server.kubeconfig())
            .dir(&repo.dir)
            .env("HOMELAB_NFS_PORT", doctor.nfs_port.to_string())
            .run();
        times.push(start.elapsed());
        assert_eq!(run.code(), 0, "{}", run.describe());
    }
    times.sort();
    println!(
        "homelab doctor, whole run ({} findings' worth of objects): min {:?}, median {:?}, max {:?} over {} runs",
        doctor.run().findings().len(),
        times[0],
        times[times.len() / 2],
        times[times.len() - 1],
        times.len()
    );
}
