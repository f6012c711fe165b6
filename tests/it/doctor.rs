//! `homelab doctor` against a real kube-apiserver: a healthy homelab built the way the
//! rendered repository would leave it (the test plays the controllers by writing status),
//! then one failure class at a time, each checked for its finding, its hint and exit 1, and,
//! where one failure causes others, for those being reported as waiting on it.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use age::secrecy::ExposeSecret as _;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams,
};
use serde_json::{Value, json};

use crate::support::apiproxy::ApiProxy;
use crate::support::envtest::{self, ApiServer};
use crate::support::gitserver::HttpsServer;
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

/// The token the test's HTTPS git server accepts (user `git`).
const TOKEN: &str = "tok_doctor_7e1";

/// The test's homelab repository: homelab.yaml and .sops.yaml committed and pushed to a
/// bare remote, which a loopback HTTPS git server serves at `git.url`.
pub(crate) struct Repo {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    remote: PathBuf,
    server: HttpsServer,
    /// The repository's age identity (what the sops-age Secret must hold) and its recipient.
    age_key: String,
    recipient: String,
}

pub(crate) fn git(dir: &Path, args: &[&str]) -> String {
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
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn config_yaml(url: &str) -> String {
    loopback_config(url)
}

/// A fresh age identity: (secret key line, public recipient).
fn age_identity() -> (String, String) {
    let id = age::x25519::Identity::generate();
    (
        id.to_string().expose_secret().to_owned(),
        id.to_public().to_string(),
    )
}

pub(crate) fn make_repo() -> Repo {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("srv");
    let remote = root.join("remote.git");
    let dir = tmp.path().join("homelab");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::create_dir_all(&root).unwrap();
    git(&root, &["init", "--bare", "-q", remote.to_str().unwrap()]);
    let server = HttpsServer::start(&tmp.path().join("https"), &root, "git", TOKEN);
    let (age_key, recipient) = age_identity();
    git(&dir, &["init", "-q"]);
    std::fs::write(
        dir.join("homelab.yaml"),
        config_yaml(&server.url("remote.git")),
    )
    .unwrap();
    std::fs::write(
        dir.join(".sops.yaml"),
        format!("creation_rules:\n  - path_regex: apps/.*\\.sops\\.yaml$\n    encrypted_regex: ^(data|stringData)$\n    age: {recipient}\n"),
    )
    .unwrap();
    git(&dir, &["add", "-A"]);
    git(&dir, &["commit", "-q", "-m", "homelab"]);
    git(&dir, &["remote", "add", "origin", remote.to_str().unwrap()]);
    git(&dir, &["push", "-q", "origin", "main"]);
    Repo {
        _tmp: tmp,
        dir,
        remote,
        server,
        age_key,
        recipient,
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
        "CustomResourceDefinition" => ("customresourcedefinitions", false),
        "Deployment" => ("deployments", true),
        "DaemonSet" => ("daemonsets", true),
        "Service" => ("services", true),
        "Secret" => ("secrets", true),
        "Pod" => ("pods", true),
        "PersistentVolumeClaim" => ("persistentvolumeclaims", true),
        "Event" => ("events", true),
        "Ingress" => ("ingresses", true),
        "GitRepository" => ("gitrepositories", true),
        "OCIRepository" => ("ocirepositories", true),
        "HelmRepository" => ("helmrepositories", true),
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

pub(crate) fn api_for(client: &kube::Client, obj: &Value) -> (Api<DynamicObject>, String) {
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

/// Kinds whose controllers record the generation they acted on.
const OBSERVES_GENERATION: [&str; 8] = [
    "GitRepository",
    "OCIRepository",
    "Kustomization",
    "HelmRelease",
    "Deployment",
    "DaemonSet",
    "ClusterIssuer",
    "Certificate",
];

/// Create or update `obj` (server-side apply), then write its `status` if it has one, as
/// the controllers would: for the kinds whose controllers record it, with the generation
/// just applied as `observedGeneration` unless the status says otherwise.
pub(crate) async fn put(client: &kube::Client, mut obj: Value) {
    let status = obj.as_object_mut().unwrap().remove("status");
    let (api, name) = api_for(client, &obj);
    let applied = api
        .patch(
            &name,
            &PatchParams::apply("doctor-test").force(),
            &Patch::Apply(&obj),
        )
        .await
        .unwrap_or_else(|e| panic!("apply {name}: {e}"));
    if let Some(mut status) = status {
        let kind = obj["kind"].as_str().unwrap();
        if OBSERVES_GENERATION.contains(&kind) && status.get("observedGeneration").is_none() {
            status["observedGeneration"] = json!(applied.metadata.generation);
        }
        write_status(client, &obj, status).await;
    }
}

/// Merge `status` into `obj`'s status subresource, as its controller would.
pub(crate) async fn write_status(client: &kube::Client, obj: &Value, status: Value) {
    let (api, name) = api_for(client, obj);
    api.patch_status(
        &name,
        &PatchParams::default(),
        &Patch::Merge(&json!({ "status": status })),
    )
    .await
    .unwrap_or_else(|e| panic!("status of {name}: {e}"));
}

/// A JSON merge patch of `obj`'s metadata or spec (as someone editing it would).
pub(crate) async fn merge(client: &kube::Client, obj: &Value, patch: Value) {
    let (api, name) = api_for(client, obj);
    api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap_or_else(|e| panic!("patch {name}: {e}"));
}

pub(crate) async fn delete(client: &kube::Client, obj: &Value) {
    let (api, name) = api_for(client, obj);
    api.delete(&name, &DeleteParams::default())
        .await
        .unwrap_or_else(|e| panic!("delete {name}: {e}"));
}

pub(crate) fn now() -> String {
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

pub(crate) fn condition(ready: bool, reason: &str, message: &str) -> Value {
    json!([{
        "type": "Ready",
        "status": if ready { "True" } else { "False" },
        "reason": reason,
        "message": message,
        "lastTransitionTime": now(),
    }])
}

pub(crate) fn namespace(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
}

/// The labels kustomize-controller puts on what a Kustomization applied.
fn applied_by(kustomization: &str) -> Value {
    json!({"kustomize.toolkit.fluxcd.io/name": kustomization,
        "kustomize.toolkit.fluxcd.io/namespace": "flux-system"})
}

/// A namespace the Kustomization `by` applied.
fn delivered_namespace(name: &str, by: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": applied_by(by)}})
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
        "status": {"replicas": 1, "readyReplicas": 1, "updatedReplicas": 1, "availableReplicas": 1},
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
        "status": {"currentNumberScheduled": 2, "numberMisscheduled": 0, "desiredNumberScheduled": 2,
            "numberReady": 2, "updatedNumberScheduled": 2, "numberAvailable": 2},
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

/// The homelab's Kustomizations as clusters/<name>/*.yaml renders them: infra-configs after
/// infra-controllers, apps after infra-configs and decrypting with sops-age.
fn kustomizations(revision: &str) -> Vec<Value> {
    let flux = kustomization("flux-system", "./clusters/homelab", revision);
    let controllers = kustomization(
        "infra-controllers",
        "./infrastructure/controllers",
        revision,
    );
    let mut configs = kustomization("infra-configs", "./infrastructure/configs", revision);
    configs["spec"]["dependsOn"] = json!([{"name": "infra-controllers"}]);
    let mut apps = kustomization("apps", "./apps", revision);
    apps["spec"]["dependsOn"] = json!([{"name": "infra-configs"}]);
    apps["spec"]["decryption"] = json!({"provider": "sops", "secretRef": {"name": "sops-age"}});
    vec![flux, controllers, configs, apps]
}

fn helm_release(ns: &str, name: &str, ready: bool, message: &str) -> Value {
    let by = if ns == "homepage" {
        "apps"
    } else {
        "infra-controllers"
    };
    json!({
        "apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
        "metadata": {"name": name, "namespace": ns, "labels": applied_by(by)},
        "spec": {"interval": "30m", "chartRef": {"kind": "OCIRepository", "name": name}},
        "status": {"conditions": condition(ready, if ready { "InstallSucceeded" } else { "InstallFailed" }, message)},
    })
}

fn oci_repository(ns: &str, name: &str, ready: bool, message: &str) -> Value {
    json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "OCIRepository",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"interval": "12h", "url": format!("oci://registry.example.com/charts/{name}"), "ref": {"tag": "1.0.0"}},
        "status": {"conditions": condition(ready, if ready { "Succeeded" } else { "OCIArtifactPullFailed" }, message)},
    })
}

/// The Secret Flux decrypts the apps' SOPS files with, holding `key`.
fn sops_secret(key: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "sops-age", "namespace": "flux-system"},
        "stringData": {"age.agekey": format!("# created by homelab bootstrap\n{key}\n")},
    })
}

fn certificate(not_after: &str) -> Value {
    json!({
        "apiVersion": "cert-manager.io/v1", "kind": "Certificate",
        "metadata": {"name": "homepage-tls", "namespace": "homepage"},
        "spec": {"secretName": "homepage-tls", "dnsNames": ["homepage.example.com"],
            "issuerRef": {"name": "letsencrypt-production", "kind": "ClusterIssuer"}},
        "status": {"conditions": condition(true, "Ready", "Certificate is up to date and has not expired"),
            "notAfter": not_after},
    })
}

fn cluster_issuer(ready: bool, reason: &str, message: &str) -> Value {
    json!({
        "apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer",
        "metadata": {"name": "letsencrypt-production"},
        "spec": {"acme": {"server": "https://acme-v02.api.letsencrypt.org/directory", "email": "admin@example.com",
            "privateKeySecretRef": {"name": "letsencrypt-production"},
            "solvers": [{"dns01": {"cloudflare": {"apiTokenSecretRef": {"name": "cloudflare-api-token", "key": "api-token"}}}}]}},
        "status": {"conditions": condition(ready, reason, message)},
    })
}

fn storage_class(name: &str, default: bool) -> Value {
    let mut sc = json!({
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": name},
        "provisioner": "nfs.csi.k8s.io",
        "parameters": {"server": "127.0.0.1", "share": "/srv/nfs/kubernetes"},
        "reclaimPolicy": "Delete",
        "mountOptions": ["nfsvers=4.1"],
    });
    if default {
        sc["metadata"]["annotations"] =
            json!({"storageclass.kubernetes.io/is-default-class": "true"});
    }
    sc
}

fn pod(ns: &str, name: &str, app: &str, container_status: Value) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": {"app": app}},
        "spec": {"containers": [{"name": app, "image": "traefik/homepage:v1.11"}]},
        "status": {"phase": "Running",
            "conditions": [{"type": "Ready", "status": if container_status["ready"] == true { "True" } else { "False" }}],
            "containerStatuses": [container_status]},
    })
}

fn running(app: &str, restarts: i32) -> Value {
    json!({"name": app, "image": "traefik/homepage:v1.11", "imageID": "", "ready": true,
        "restartCount": restarts, "state": {"running": {"startedAt": now()}}})
}

fn waiting(app: &str, reason: &str, message: &str, restarts: i32) -> Value {
    json!({"name": app, "image": "traefik/homepage:v1.11", "imageID": "", "ready": false,
        "restartCount": restarts, "state": {"waiting": {"reason": reason, "message": message}}})
}

fn ingress() -> Value {
    json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": "homepage", "namespace": "homepage"},
        "spec": {"rules": [{"host": "localhost", "http": {"paths": [{"path": "/", "pathType": "Prefix",
            "backend": {"service": {"name": "homepage", "port": {"number": 80}}}}]}}]},
    })
}

fn ip_pool() -> Value {
    json!({
        "apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
        "metadata": {"name": "homelab", "namespace": "metallb-system"},
        "spec": {"addresses": ["127.0.0.1-127.0.0.9"]},
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

/// The infrastructure controllers' HelmReleases (all from OCI chart sources here).
const RELEASES: [(&str, &str); 4] = [
    ("metallb-system", "metallb"),
    ("traefik", "traefik"),
    ("cert-manager", "cert-manager"),
    ("homepage", "homepage"),
];

/// The objects of a healthy homelab, as the rendered repository and its controllers leave them.
fn healthy(revision: &str, age_key: &str) -> Vec<Value> {
    let mut objs = vec![namespace("flux-system")];
    for ns in [
        "metallb-system",
        "traefik",
        "cert-manager",
        "csi-driver-nfs",
    ] {
        objs.push(delivered_namespace(ns, "infra-controllers"));
    }
    objs.push(delivered_namespace("homepage", "apps"));
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
    objs.extend(kustomizations(revision));
    objs.push(sops_secret(age_key));
    for (ns, name) in RELEASES {
        objs.push(oci_repository(
            ns,
            name,
            true,
            "stored artifact for digest '1.0.0@sha256:0'",
        ));
        objs.push(helm_release(ns, name, true, "Helm install succeeded"));
    }
    objs.push(deployment(
        "metallb-system",
        "metallb-controller",
        "quay.io/metallb/controller:v0.16.1",
    ));
    objs.push(daemonset("metallb-system", "metallb-speaker"));
    objs.push(ip_pool());
    objs.push(lb_service("traefik", "traefik", Some("127.0.0.1")));
    objs.push(cluster_issuer(
        true,
        "ACMEAccountRegistered",
        "The ACME account was registered with the ACME server",
    ));
    objs.push(certificate(&in_days(60)));
    objs.push(json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "cloudflare-api-token", "namespace": "cert-manager"},
        "stringData": {"api-token": "not-a-real-token"},
    }));
    objs.push(storage_class("nfs", true));
    objs.push(pod(
        "homepage",
        "homepage-0",
        "homepage",
        running("homepage", 0),
    ));
    objs.push(ingress());
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

    fn with_status(&self, status: &str) -> Vec<String> {
        self.findings()
            .into_iter()
            .filter(|f| f["status"] == status)
            .map(|f| {
                format!(
                    "{}: {}",
                    f["check"].as_str().unwrap(),
                    f["message"].as_str().unwrap()
                )
            })
            .collect()
    }

    fn failed(&self) -> Vec<String> {
        self.with_status("failed")
    }

    /// The finding of `check` with `needle`, of `status`, with its hint in JSON and text.
    fn expect(&self, status: &str, check: &str, needle: &str, hint: &str) -> &Value {
        let f = self.find(check, needle);
        assert_eq!(f["status"], status, "{f}\n{}", self.text);
        assert!(
            f["hint"].as_str().unwrap_or_default().contains(hint),
            "hint of {f}\n{}",
            self.text
        );
        let mark = if status == "failed" {
            "[fail]"
        } else {
            "[warn]"
        };
        // The text report says the same, with its hint line.
        assert!(
            self.text
                .contains(&format!("{mark} {}", f["message"].as_str().unwrap())),
            "{}",
            self.text
        );
        assert!(
            self.text
                .contains(&format!("hint: {}", f["hint"].as_str().unwrap())),
            "{}",
            self.text
        );
        f
    }

    /// Exit 1 with exactly one failed finding, of `check`, containing `needle`, with a hint
    /// containing `hint`, and nothing waiting on it.
    fn expect_only_failure(&self, check: &str, needle: &str, hint: &str) {
        assert_eq!(self.code, 1, "exit code\n{}", self.text);
        let failed = self.failed();
        assert_eq!(
            failed.len(),
            1,
            "expected one failure, got {failed:#?}\n{}",
            self.text
        );
        assert_eq!(
            self.with_status("waiting"),
            Vec::<String>::new(),
            "{}",
            self.text
        );
        self.expect("failed", check, needle, hint);
    }

    /// Exit 1 with exactly one failed finding (as [`Self::expect_only_failure`]) and
    /// `waiting` findings waiting on it.
    fn expect_only_failure_with_waiting(
        &self,
        check: &str,
        needle: &str,
        hint: &str,
        waiting: usize,
    ) {
        assert_eq!(self.code, 1, "exit code\n{}", self.text);
        let failed = self.failed();
        assert_eq!(
            failed.len(),
            1,
            "expected one failure, got {failed:#?}\n{}",
            self.text
        );
        let waits = self.with_status("waiting");
        assert_eq!(waits.len(), waiting, "waiting: {waits:#?}\n{}", self.text);
        self.expect("failed", check, needle, hint);
    }

    /// Exit 0 with exactly one warning besides the rendered-files one, of `check`.
    fn expect_only_warning(&self, check: &str, needle: &str, hint: &str) {
        assert_eq!(self.code, 0, "exit code\n{}", self.text);
        let warned: Vec<String> = self
            .with_status("warning")
            .into_iter()
            .filter(|w| !w.starts_with("local.rendered"))
            .collect();
        assert_eq!(
            warned.len(),
            1,
            "expected one warning, got {warned:#?}\n{}",
            self.text
        );
        self.expect("warning", check, needle, hint);
    }

    /// The finding of `check` with `needle` waits on `root`, with no hint of its own.
    fn expect_waiting(&self, check: &str, needle: &str, root: &str) {
        let f = self.find(check, needle);
        assert_eq!(f["status"], "waiting", "{f}\n{}", self.text);
        assert_eq!(f["waiting_on"], root, "{f}\n{}", self.text);
        assert!(f.get("hint").is_none(), "{f}");
        assert!(
            self.text.contains(&format!(
                "[wait] {} (waiting on {root})",
                f["message"].as_str().unwrap()
            )),
            "{}",
            self.text
        );
    }
}

impl Doctor<'_> {
    fn run(&self) -> Outcome {
        self.run_with(self.server.kubeconfig())
    }

    /// As [`Self::run`], reaching the cluster through `kubeconfig` (a proxy, another user).
    fn run_with(&self, kubeconfig: &Path) -> Outcome {
        let base = || {
            homelab()
                .args(["doctor", "--kubeconfig"])
                .arg(kubeconfig)
                .dir(&self.repo.dir)
                .env("HOMELAB_NFS_PORT", self.nfs_port.to_string())
                .env("SSL_CERT_FILE", &self.repo.server.ca_file)
                .env("HOMELAB_GIT_TOKEN", TOKEN)
        };
        let text = base().run();
        let json = base().args(["--output", "json"]).run();
        assert_eq!(text.code(), json.code(), "text and json exit codes differ");
        let doc: Value = serde_json::from_str(&json.stdout()).unwrap_or_else(|e| {
            panic!("doctor --output json is not JSON: {e}\n{}", json.describe())
        });
        // Hints point at homelab's own commands, never at tools a homelab does not need.
        for tool in ["kubectl", "`flux ", "cmctl"] {
            assert!(
                !text.stdout().contains(tool),
                "{tool} in\n{}",
                text.stdout()
            );
        }
        // Secret values are never read into the output.
        for out in [text.stdout(), json.stdout()] {
            assert!(!out.contains("not-a-real-token"), "a secret value leaked");
            assert!(!out.contains("AGE-SECRET-KEY"), "an age key leaked");
        }
        Outcome {
            code: text.code(),
            text: text.stdout(),
            json: doc,
        }
    }
}

pub(crate) async fn install(client: &kube::Client) {
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

/// A healthy homelab in a fresh API server: the server, a client, the repository and the
/// port of the stand-in NFS server (a listener, named through the documented override).
async fn healthy_cluster() -> (ApiServer, kube::Client, Repo, u16) {
    let server = ApiServer::start();
    let client = server.client().await;
    install(&client).await;
    let repo = make_repo();
    let revision = format!("main@sha1:{}", repo.head());
    for obj in healthy(&revision, &repo.age_key) {
        put(&client, obj).await;
    }
    (server, client, repo, nfs_listener())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthy_homelab_then_one_failure_class_at_a_time() {
    let (server, client, repo, nfs_port) = healthy_cluster().await;
    let doctor = Doctor {
        server: &server,
        repo: &repo,
        nfs_port,
    };

    // Healthy: nothing failed, exit 0. The only tolerated warning is the rendered-files
    // comparison: the test repository holds homelab.yaml, not the rendered tree.
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
        "[ok] Secret flux-system/sops-age holds the age key .sops.yaml encrypts for",
        "[ok] 4 chart source(s) ready",
        "[ok] Kustomization flux-system/apps ready (main@sha1:",
        "[ok] MetalLB controller ready (quay.io/metallb/controller:v0.16.1)",
        "[ok] MetalLB speaker ready on 2/2 nodes",
        "[ok] IPAddressPool metallb-system/homelab serves 127.0.0.1-127.0.0.9",
        "[ok] traefik/traefik has address 127.0.0.1",
        "[ok] ClusterIssuer letsencrypt-production ready",
        "[ok] Secret cert-manager/cloudflare-api-token has api-token",
        "[ok] StorageClass nfs (nfs.csi.k8s.io), default",
        "[ok] localhost → 127.0.0.1",
        "[ok] app homepage served at https://localhost (Ingress homepage/homepage)",
        "[ok] main is in sync with",
        "[ok] Flux pulls https://127.0.0.1:",
    ] {
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
    // The rendered files are missing here: a warning, with the command that shows why.
    out.expect(
        "warning",
        "local.rendered",
        "rendered files out of date",
        "homelab render --diff",
    );
    assert!(
        out.find("certs.certificates", "homepage/homepage-tls")
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
        "infrastructure/controllers/ of the repository, then `homelab push --wait`",
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
        "Certificate homepage/homepage-tls expires in 3 days",
        "renewal is failing",
    );
    put(&client, certificate(&in_days(10))).await;
    doctor.run().expect_only_warning(
        "certs.certificates",
        "expires in 10 days",
        "DNS provider credentials",
    );
    put(&client, certificate(&in_days(60))).await;

    // A LoadBalancer Service MetalLB never served.
    let pending = lb_service("homepage", "homepage-udp", None);
    put(&client, pending.clone()).await;
    doctor.run().expect_only_failure(
        "lb.pending",
        "LoadBalancer Service homepage/homepage-udp has no external address (pending)",
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

    // Nodes: missing, NotReady, at another address, in another role, not in homelab.yaml.
    let node2 = node("node-2", "127.0.0.12", false);
    delete(&client, &node2).await;
    doctor.run().expect_only_failure(
        "nodes.present",
        "node node-2 (127.0.0.12) is not in the cluster",
        "remove nodes[1]",
    );
    put(&client, node2.clone()).await;
    let mut not_ready = node("node-1", "127.0.0.11", true);
    not_ready["status"]["conditions"][0] = json!({"type": "Ready", "status": "False", "reason": "KubeletNotReady",
        "message": "container runtime network not ready", "lastHeartbeatTime": now(), "lastTransitionTime": now()});
    put(&client, not_ready).await;
    doctor.run().expect_only_failure(
        "nodes.ready",
        "node node-1 is not Ready: KubeletNotReady: container runtime network not ready",
        "systemctl status k3s",
    );
    put(&client, node("node-1", "127.0.0.11", true)).await;
    put(&client, node("node-2", "127.0.0.99", false)).await;
    doctor.run().expect_only_failure(
        "nodes.address",
        "node node-2 has InternalIP 127.0.0.99, homelab.yaml says 127.0.0.12",
        "--node-ip 127.0.0.12",
    );
    put(&client, node("node-2", "127.0.0.12", true)).await;
    doctor.run().expect_only_warning(
        "nodes.role",
        "node node-2 is a control-plane in the cluster, homelab.yaml says worker",
        "set nodes[1].role to control-plane",
    );
    // Applied again without the label: server-side apply drops it.
    put(&client, node2.clone()).await;
    let node3 = node("node-3", "127.0.0.13", false);
    put(&client, node3.clone()).await;
    doctor.run().expect_only_warning(
        "nodes.unlisted",
        "node node-3 is in the cluster but not in homelab.yaml",
        "add it under `nodes:`",
    );
    delete(&client, &node3).await;

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
        "metadata": {"name": "data", "namespace": "homepage"},
        "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "nfs", "resources": {"requests": {"storage": "1Gi"}}},
    });
    put(&client, pvc.clone()).await;
    let event = json!({
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": "data.provisioning", "namespace": "homepage"},
        "involvedObject": {"kind": "PersistentVolumeClaim", "namespace": "homepage", "name": "data", "apiVersion": "v1"},
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
        "PVC homepage/data is Pending: ProvisioningFailed: failed to provision volume: mount.nfs: access denied by server",
        "exports /srv/nfs/kubernetes",
    );
    delete(&client, &pvc).await;
    // No controller runs to lift the pvc-protection finalizer: play it.
    merge(&client, &pvc, json!({"metadata": {"finalizers": null}})).await;
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

    // The DNS provider credentials: without their key, then missing.
    let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "cloudflare-api-token", "namespace": "cert-manager"}});
    delete(&client, &secret).await;
    put(&client, json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "cloudflare-api-token", "namespace": "cert-manager"}, "stringData": {"token": "x"}})).await;
    doctor.run().expect_only_failure(
        "certs.dns-secret",
        "Secret cert-manager/cloudflare-api-token lacks key api-token",
        "homelab bootstrap",
    );
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
    out.expect(
        "failed",
        "flux.revision",
        &format!("but origin/main is at {}", &remote_head[..7]),
        "`homelab sync` makes it fetch now",
    );
    out.expect("warning", "local.remote", "1 commit(s) behind", "git pull");

    // Flux catches up; the local repository has a commit it never pushed, and a change it
    // never committed.
    git(&repo.dir, &["pull", "-q", "--ff-only", "origin", "main"]);
    put(&client, git_repository(&format!("main@sha1:{remote_head}"))).await;
    repo.commit("local.yaml");
    let out = doctor.run();
    out.expect_only_failure(
        "local.remote",
        "main is 1 commit(s) ahead of",
        "homelab push",
    );
    std::fs::write(repo.dir.join("draft.yaml"), "y: 2\n").unwrap();
    doctor.run().expect(
        "warning",
        "local.clean",
        "1 uncommitted change(s): draft.yaml",
        "homelab push",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flux_failures_are_reported_once_with_what_waits_on_them() {
    let (server, client, repo, nfs_port) = healthy_cluster().await;
    let revision = format!("main@sha1:{}", repo.head());
    let doctor = Doctor {
        server: &server,
        repo: &repo,
        nfs_port,
    };
    assert_eq!(doctor.run().code, 0);

    // A Flux controller that does not run: the pod says why.
    let mut down = deployment(
        "flux-system",
        "helm-controller",
        "ghcr.io/fluxcd/helm-controller:v1.9.0",
    );
    down["status"] = json!({"replicas": 1, "updatedReplicas": 1, "readyReplicas": 0, "availableReplicas": 0, "unavailableReplicas": 1});
    put(&client, down).await;
    let pod_down = pod(
        "flux-system",
        "helm-controller-7d9f-abcde",
        "helm-controller",
        waiting(
            "helm-controller",
            "ImagePullBackOff",
            "Back-off pulling image \"ghcr.io/fluxcd/helm-controller:v1.9.0\"",
            0,
        ),
    );
    put(&client, pod_down.clone()).await;
    doctor.run().expect_only_failure(
        "flux.controllers",
        "helm-controller not ready: 0/1 available (ghcr.io/fluxcd/helm-controller:v1.9.0); pod helm-controller-7d9f-abcde not ready: ImagePullBackOff: Back-off pulling image",
        "`homelab bootstrap` reinstalls Flux's components",
    );
    // While it is down, a failing release is not a cause of its own.
    put(
        &client,
        helm_release("traefik", "traefik", false, "Helm upgrade failed: boom"),
    )
    .await;
    let out = doctor.run();
    assert_eq!(out.failed().len(), 1, "{}", out.text);
    out.expect_waiting(
        "flux.helmreleases",
        "HelmRelease traefik/traefik not ready",
        "helm-controller",
    );
    put(
        &client,
        helm_release("traefik", "traefik", true, "Helm install succeeded"),
    )
    .await;
    put(
        &client,
        deployment(
            "flux-system",
            "helm-controller",
            "ghcr.io/fluxcd/helm-controller:v1.9.0",
        ),
    )
    .await;
    delete(&client, &pod_down).await;
    assert_eq!(doctor.run().code, 0);

    // A Flux CRD missing.
    let crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "receivers.notification.toolkit.fluxcd.io"}});
    delete(&client, &crd).await;
    let (crds, _) = api_for(&client, &crd);
    for _ in 0..100 {
        if crds
            .get_opt("receivers.notification.toolkit.fluxcd.io")
            .await
            .unwrap()
            .is_none()
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    doctor.run().expect_only_failure(
        "flux.crds",
        "Flux CRDs missing: receivers.notification.toolkit.fluxcd.io",
        "homelab bootstrap",
    );
    install(&client).await;

    // The repository cannot be fetched: source-controller's own message.
    let mut source = git_repository(&revision);
    source["status"]["conditions"] = condition(
        false,
        "GitOperationFailed",
        "failed to checkout and determine revision: unable to clone 'ssh://git@example.com/homelab.git': ssh: handshake failed: ssh: unable to authenticate",
    );
    put(&client, source).await;
    doctor.run().expect_only_failure(
        "flux.source",
        "GitRepository flux-system/flux-system not ready: GitOperationFailed: failed to checkout",
        "`homelab bootstrap --rotate-keys` replaces it",
    );
    put(&client, git_repository(&revision)).await;

    // A Kustomization fails; the ones that depend on it wait on it.
    let [_, controllers, configs, apps] =
        <[Value; 4]>::try_from(kustomizations(&revision)).unwrap();
    let failing = |mut k: Value, reason: &str, message: &str| {
        k["status"]["conditions"] = condition(false, reason, message);
        k
    };
    put(
        &client,
        failing(
            controllers.clone(),
            "BuildFailed",
            "kustomize build failed: accumulating resources: 'metallb/release.yaml': no such file",
        ),
    )
    .await;
    put(
        &client,
        failing(
            configs.clone(),
            "DependencyNotReady",
            "dependency 'flux-system/infra-controllers' is not ready",
        ),
    )
    .await;
    put(
        &client,
        failing(
            apps.clone(),
            "DependencyNotReady",
            "dependency 'flux-system/infra-configs' is not ready",
        ),
    )
    .await;
    let out = doctor.run();
    out.expect_only_failure_with_waiting(
        "flux.kustomizations",
        "Kustomization flux-system/infra-controllers not ready: BuildFailed: kustomize build failed",
        "under ./infrastructure/controllers in the repository, then `homelab push --wait`",
        2,
    );
    out.expect_waiting(
        "flux.kustomizations",
        "Kustomization flux-system/infra-configs not ready",
        "Kustomization flux-system/infra-controllers",
    );
    out.expect_waiting(
        "flux.kustomizations",
        "Kustomization flux-system/apps not ready",
        "Kustomization flux-system/infra-controllers",
    );
    for k in [&controllers, &configs, &apps] {
        put(&client, k.clone()).await;
    }

    // The SOPS key: missing, then another repository's, then no key at all. The apps
    // Kustomization cannot decrypt and waits on it.
    let sops = sops_secret(&repo.age_key);
    delete(&client, &sops).await;
    put(
        &client,
        failing(
            apps.clone(),
            "DecryptionFailed",
            "decryption secret error: Secret \"sops-age\" not found",
        ),
    )
    .await;
    let out = doctor.run();
    out.expect_only_failure_with_waiting(
        "flux.sops",
        "Secret flux-system/sops-age does not exist: Kustomization flux-system/apps cannot decrypt its SOPS secrets",
        "run `homelab bootstrap` from this repository",
        1,
    );
    out.expect_waiting(
        "flux.kustomizations",
        "Kustomization flux-system/apps not ready: DecryptionFailed",
        "Secret flux-system/sops-age",
    );
    let (stranger, stranger_recipient) = age_identity();
    put(&client, sops_secret(&stranger)).await;
    let out = doctor.run();
    out.expect_only_failure_with_waiting(
        "flux.sops",
        &format!(
            "holds the age key of {stranger_recipient}, but .sops.yaml encrypts for {}",
            repo.recipient
        ),
        "the cluster has another key than this repository's",
        1,
    );
    delete(&client, &sops).await;
    put(&client, json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "sops-age", "namespace": "flux-system"},
        "stringData": {"identity.asc": "not an age key"}})).await;
    doctor.run().expect_only_failure_with_waiting(
        "flux.sops",
        "Secret flux-system/sops-age holds no age key (no valid age identity in a *.agekey entry; it has identity.asc)",
        "homelab bootstrap",
        1,
    );
    delete(&client, &sops).await;
    put(&client, sops_secret(&repo.age_key)).await;
    put(&client, apps.clone()).await;

    // A chart source that cannot be pulled: the release that needs it waits on it.
    put(&client, oci_repository("traefik", "traefik", false, "failed to pull artifact from 'oci://registry.example.com/charts/traefik': MANIFEST_UNKNOWN")).await;
    put(&client, helm_release("traefik", "traefik", false, "HelmChart 'traefik/traefik' is not ready: latest generation of object has not been reconciled")).await;
    let out = doctor.run();
    out.expect_only_failure_with_waiting(
        "flux.sources",
        "OCIRepository traefik/traefik not ready: OCIArtifactPullFailed: failed to pull artifact",
        "check its URL and version",
        1,
    );
    out.expect_waiting(
        "flux.helmreleases",
        "HelmRelease traefik/traefik not ready",
        "OCIRepository traefik/traefik",
    );
    put(
        &client,
        oci_repository("traefik", "traefik", true, "stored artifact"),
    )
    .await;
    put(
        &client,
        helm_release("traefik", "traefik", true, "Helm install succeeded"),
    )
    .await;

    // A status for an older spec is not Ready, whatever it says.
    let mut stale = helm_release(
        "cert-manager",
        "cert-manager",
        true,
        "Helm install succeeded",
    );
    stale["status"]["observedGeneration"] = json!(0);
    put(&client, stale).await;
    doctor.run().expect_only_failure(
        "flux.helmreleases",
        "HelmRelease cert-manager/cert-manager not ready: LatestGenerationNotObserved: generation 1 not reconciled yet (last observed: 0)",
        "`homelab push --wait`",
    );
    put(
        &client,
        helm_release(
            "cert-manager",
            "cert-manager",
            true,
            "Helm install succeeded",
        ),
    )
    .await;

    // MetalLB's release fails: its controller, the pool and the ingress address wait on it.
    put(
        &client,
        helm_release(
            "metallb-system",
            "metallb",
            false,
            "Helm install failed: context deadline exceeded",
        ),
    )
    .await;
    let controller = deployment(
        "metallb-system",
        "metallb-controller",
        "quay.io/metallb/controller:v0.16.1",
    );
    delete(&client, &controller).await;
    delete(&client, &ip_pool()).await;
    put(&client, lb_service("traefik", "traefik", None)).await;
    let (svc, _) = api_for(&client, &lb_service("traefik", "traefik", None));
    svc.patch_status(
        "traefik",
        &PatchParams::default(),
        &Patch::Merge(&json!({"status": {"loadBalancer": {"ingress": null}}})),
    )
    .await
    .unwrap();
    let out = doctor.run();
    out.expect_only_failure_with_waiting(
        "flux.helmreleases",
        "HelmRelease metallb-system/metallb not ready: InstallFailed: Helm install failed: context deadline exceeded",
        "`homelab push --wait`",
        3,
    );
    let root = "HelmRelease metallb-system/metallb";
    out.expect_waiting(
        "lb.metallb",
        "MetalLB controller not found in metallb-system",
        root,
    );
    out.expect_waiting("lb.pool", "no MetalLB IPAddressPool", root);
    out.expect_waiting(
        "lb.ingress",
        "traefik/traefik has no external address",
        root,
    );
    put(
        &client,
        helm_release("metallb-system", "metallb", true, "Helm install succeeded"),
    )
    .await;
    put(&client, controller).await;
    put(&client, ip_pool()).await;
    put(&client, lb_service("traefik", "traefik", Some("127.0.0.1"))).await;
    assert_eq!(doctor.run().code, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn infrastructure_and_app_failures_each_with_a_hint() {
    let (server, client, repo, nfs_port) = healthy_cluster().await;
    let doctor = Doctor {
        server: &server,
        repo: &repo,
        nfs_port,
    };
    assert_eq!(doctor.run().code, 0);

    // MetalLB's speakers on one node of two.
    let mut speaker = daemonset("metallb-system", "metallb-speaker");
    speaker["status"]["numberReady"] = json!(1);
    speaker["status"]["numberAvailable"] = json!(1);
    put(&client, speaker).await;
    doctor.run().expect_only_failure(
        "lb.metallb",
        "MetalLB speaker not ready: 1/2 nodes available",
        "pod-security.kubernetes.io/enforce: privileged",
    );
    put(&client, daemonset("metallb-system", "metallb-speaker")).await;

    // No address pool.
    delete(&client, &ip_pool()).await;
    doctor.run().expect_only_failure(
        "lb.pool",
        "no MetalLB IPAddressPool: LoadBalancer Services get no address",
        "`homelab status` shows whether that Kustomization applied",
    );
    put(&client, ip_pool()).await;

    // k3s's bundled Traefik.
    let k3s_traefik = deployment(
        "kube-system",
        "traefik",
        "rancher/mirrored-library-traefik:3.3.6",
    );
    put(&client, k3s_traefik.clone()).await;
    doctor.run().expect_only_failure(
        "lb.k3s-traefik",
        "k3s's bundled Traefik runs in kube-system",
        "disable: [traefik, servicelb]",
    );
    delete(&client, &k3s_traefik).await;

    // An issuer ACME refused; the certificate it issued is still valid.
    put(
        &client,
        cluster_issuer(
            false,
            "ErrRegisterACMEAccount",
            "Failed to register ACME account: 400 urn:ietf:params:acme:error:invalidContact",
        ),
    )
    .await;
    doctor.run().expect_only_failure(
        "certs.issuers",
        "ClusterIssuer letsencrypt-production not ready: ErrRegisterACMEAccount: Failed to register ACME account",
        "certificates.email",
    );
    put(
        &client,
        cluster_issuer(true, "ACMEAccountRegistered", "registered"),
    )
    .await;

    // The StorageClass is not the default; another one is.
    put(&client, storage_class("nfs", false)).await;
    doctor.run().expect_only_failure(
        "storage.class",
        "StorageClass nfs exists but is not the default class",
        "storage.default_class: false",
    );
    put(&client, storage_class("nfs", true)).await;
    let local_path = storage_class("local-path", true);
    put(&client, local_path.clone()).await;
    doctor.run().expect_only_warning(
        "storage.default",
        "other default StorageClass(es): local-path",
        "disable: [local-storage]",
    );
    delete(&client, &local_path).await;
    let nfs = storage_class("nfs", true);
    delete(&client, &nfs).await;
    doctor.run().expect_only_failure(
        "storage.class",
        "StorageClass nfs does not exist",
        "`homelab status`",
    );
    put(&client, nfs).await;

    // The app: its release fails, a pod crash-loops, a pod restarts, nothing routes it.
    put(
        &client,
        helm_release(
            "homepage",
            "homepage",
            false,
            "Helm install failed: values don't meet the specifications of the schema(s)",
        ),
    )
    .await;
    doctor.run().expect_only_failure(
        "apps.helmrelease",
        "HelmRelease homepage/homepage not ready: InstallFailed: Helm install failed: values don't meet",
        "apps/homepage/ of the repository",
    );
    put(
        &client,
        helm_release("homepage", "homepage", true, "Helm install succeeded"),
    )
    .await;
    let crashing = pod(
        "homepage",
        "homepage-1",
        "homepage",
        waiting(
            "homepage",
            "CrashLoopBackOff",
            "back-off 5m0s restarting failed container=homepage pod=homepage-1",
            7,
        ),
    );
    put(&client, crashing.clone()).await;
    doctor.run().expect_only_failure(
        "apps.pods",
        "app homepage: pod homepage-1 not ready: CrashLoopBackOff: back-off 5m0s restarting failed container=homepage pod=homepage-1 (7 restarts)",
        "apps/homepage/",
    );
    delete(&client, &crashing).await;
    let restarting = pod("homepage", "homepage-2", "homepage", running("homepage", 5));
    put(&client, restarting.clone()).await;
    doctor.run().expect_only_warning(
        "apps.pods",
        "app homepage: pod homepage-2 restarted 5 times",
        "k3s crictl logs",
    );
    delete(&client, &restarting).await;
    delete(&client, &ingress()).await;
    doctor.run().expect_only_failure(
        "apps.host",
        "app homepage: nothing routes localhost",
        "apps/homepage/",
    );
    // Its release gone too (the apps Kustomization pruned it): the route waits on it.
    delete(&client, &helm_release("homepage", "homepage", true, "")).await;
    let out = doctor.run();
    out.expect_only_failure_with_waiting(
        "apps.helmrelease",
        "app homepage: no HelmRelease in namespace homepage",
        "`homelab push --wait` pushes and waits",
        1,
    );
    out.expect_waiting(
        "apps.host",
        "app homepage: nothing routes localhost",
        "the HelmRelease of homepage",
    );
}

/// The findings the other runs only ever see ok, each made to fail or warn once: the
/// cluster's version, a source that is gone, a suspended release, a certificate not issued,
/// an ingress address elsewhere, a diverged branch, and a user who may read nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_remaining_checks_each_fail_with_a_hint() {
    let (server, client, repo, nfs_port) = healthy_cluster().await;
    let revision = format!("main@sha1:{}", repo.head());
    let doctor = Doctor {
        server: &server,
        repo: &repo,
        nfs_port,
    };
    assert_eq!(doctor.run().code, 0);

    // A server older than Flux supports: the other sections still report (all ok).
    let proxy = ApiProxy::start(server.kubeconfig());
    proxy.rules(|r| r.version = Some("v1.32.4".into()));
    doctor.run_with(proxy.kubeconfig()).expect_only_failure(
        "cluster.version",
        "Kubernetes v1.32.4 is older than 1.33",
        "upgrade the cluster to Kubernetes 1.33 or newer",
    );
    proxy.rules(|r| r.version = None);
    assert_eq!(doctor.run_with(proxy.kubeconfig()).code, 0);
    // It changes nothing in the cluster: every request it made was a read.
    let log = proxy.log();
    assert!(log.len() > 10, "{log:?}");
    let writes: Vec<_> = log.iter().filter(|s| s.method != "GET").collect();
    assert!(writes.is_empty(), "doctor wrote to the cluster: {writes:?}");
    drop(proxy);

    // The GitRepository is gone: Flux is not connected to the repository.
    let source = git_repository(&revision);
    delete(&client, &source).await;
    let out = doctor.run();
    assert_eq!(out.code, 1, "{}", out.text);
    out.expect(
        "failed",
        "flux.source",
        "GitRepository flux-system/flux-system does not exist",
        "homelab bootstrap",
    );
    put(&client, source).await;

    // A release suspended on purpose: a warning, not a failure.
    let mut suspended = helm_release("traefik", "traefik", true, "Helm install succeeded");
    suspended["spec"]["suspend"] = json!(true);
    put(&client, suspended).await;
    doctor.run().expect_only_warning(
        "flux.helmreleases",
        "HelmRelease traefik/traefik is suspended: Flux does not reconcile it",
        "spec.suspend: true",
    );
    put(
        &client,
        helm_release("traefik", "traefik", true, "Helm install succeeded"),
    )
    .await;

    // A certificate cert-manager could not issue.
    let mut pending = certificate(&in_days(60));
    pending["status"] = json!({"conditions": condition(false, "DoesNotExist",
        "Issuing certificate as Secret does not exist")});
    put(&client, pending).await;
    doctor.run().expect_only_failure(
        "certs.certificates",
        "Certificate homepage/homepage-tls not ready: DoesNotExist: Issuing certificate as Secret does not exist",
        "check the DNS provider credentials",
    );
    put(&client, certificate(&in_days(60))).await;

    // The ingress Service got another address than homelab.yaml's.
    put(&client, lb_service("traefik", "traefik", Some("127.0.0.2"))).await;
    doctor.run().expect_only_failure(
        "lb.ingress",
        "traefik/traefik has address 127.0.0.2, homelab.yaml says 127.0.0.1",
        "network.ingress_address",
    );
    put(&client, lb_service("traefik", "traefik", Some("127.0.0.1"))).await;
    assert_eq!(doctor.run().code, 0);

    // A user who may read nothing: every listing is a failed finding naming what could not
    // be listed, none is taken for "none there".
    let out = doctor.run_with(server.limited_kubeconfig());
    assert_eq!(out.code, 1, "{}", out.text);
    let access = "needs read access to the whole cluster";
    for (check, what) in [
        ("nodes.list", "cannot list nodes: "),
        ("lb.services", "cannot list services: "),
        ("certs.issuers", "cannot list ClusterIssuers: "),
        ("apps.helmrelease", "cannot list HelmReleases: "),
    ] {
        let f = out.expect("failed", check, what, access);
        assert!(f["message"].as_str().unwrap().contains("forbidden"), "{f}");
    }
    for check in ["nodes.present", "certs.certificates", "apps.host"] {
        assert!(
            out.findings()
                .iter()
                .all(|f| f["check"] != check || f["status"] != "ok"),
            "{check} ok without reading anything\n{}",
            out.text
        );
    }

    // The branch diverged from the remote: someone pushed, and a local commit was never
    // pushed.
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
    repo.commit("local.yaml");
    doctor.run().expect(
        "failed",
        "local.remote",
        "main has diverged from",
        "homelab push",
    );

    // An invalid homelab.yaml: the cluster answers, but is not judged against a homelab
    // the file does not describe.
    let config = repo.dir.join("homelab.yaml");
    let valid = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        valid.replace("domain: example.com", "domain: not a domain"),
    )
    .unwrap();
    let out = doctor.run();
    assert_eq!(out.code, 1, "{}", out.text);
    out.expect("failed", "local.config", "cluster.domain", "");
    out.expect(
        "warning",
        "cluster.skipped",
        "cluster checks skipped: homelab.yaml could not be read",
        "fix homelab.yaml first",
    );
    assert_eq!(
        out.find("cluster.version", "Kubernetes v1.")["status"],
        "ok"
    );
    let sections: Vec<&str> = out.json["sections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert!(!sections.contains(&"nodes"), "{}", out.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_without_flux_says_to_bootstrap_once() {
    let server = ApiServer::start();
    let repo = make_repo();
    let doctor = Doctor {
        server: &server,
        repo: &repo,
        nfs_port: nfs_listener(),
    };
    let out = doctor.run();
    assert_eq!(out.code, 1, "{}", out.text);
    let f = out.expect(
        "failed",
        "flux.installed",
        "Flux is not installed",
        "homelab bootstrap",
    );
    assert_eq!(f["status"], "failed");
    // The failures of their own: Flux, the nodes not joined, the DNS credentials.
    let mut failed = out.failed();
    failed.sort();
    assert_eq!(
        failed,
        [
            "certs.dns-secret: Secret cert-manager/cloudflare-api-token (cloudflare credentials) does not exist: DNS-01 challenges fail",
            "flux.installed: Flux is not installed in this cluster",
            "nodes.present: node node-1 (127.0.0.11) is not in the cluster",
            "nodes.present: node node-2 (127.0.0.12) is not in the cluster",
        ],
        "{}",
        out.text
    );
    // Everything Flux would deliver waits on it, once.
    let root = "Flux (not installed)";
    for (check, needle) in [
        ("lb.metallb", "MetalLB controller not found"),
        ("lb.metallb", "MetalLB speaker not found"),
        ("lb.pool", "MetalLB's CRDs are not installed"),
        ("lb.ingress", "Service traefik/traefik does not exist"),
        ("certs.issuers", "cert-manager is not installed"),
        ("storage.class", "StorageClass nfs does not exist"),
        (
            "apps.helmrelease",
            "app homepage: no HelmRelease in namespace homepage",
        ),
        ("apps.host", "app homepage: nothing routes localhost"),
    ] {
        out.expect_waiting(check, needle, root);
    }
    assert_eq!(out.json["summary"]["waiting"], 8, "{}", out.text);
    assert!(
        out.text.contains("4 failed, 8 waiting on those"),
        "{}",
        out.text
    );
    assert_eq!(
        out.find("cluster.version", "Kubernetes v1.")["status"],
        "ok"
    );
}

/// A kubeconfig for a port nothing listens on.
fn unreachable_kubeconfig(dir: &Path) -> PathBuf {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let kubeconfig = dir.join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:{port}\n    insecure-skip-tls-verify: true\nusers:\n- name: u\n  user:\n    token: t\ncontexts:\n- name: home\n  context:\n    cluster: c\n    user: u\ncurrent-context: home\n"
        ),
    )
    .unwrap();
    kubeconfig
}

#[test]
fn an_unreachable_cluster_still_runs_the_local_checks() {
    let repo = make_repo();
    let kubeconfig = unreachable_kubeconfig(repo.dir.parent().unwrap());
    let nfs = nfs_listener();
    let run = homelab()
        .args(["doctor", "--output", "json", "--kubeconfig"])
        .arg(&kubeconfig)
        .dir(&repo.dir)
        .env("HOMELAB_NFS_PORT", nfs.to_string())
        .env("SSL_CERT_FILE", &repo.server.ca_file)
        .env("HOMELAB_GIT_TOKEN", TOKEN)
        .expect_code(1);
    let doc: Value = serde_json::from_str(&run.stdout()).unwrap();
    let sections: Vec<&str> = doc["sections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        sections,
        ["local", "cluster", "storage", "dns"],
        "{}",
        run.stdout()
    );
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
    // The NFS server is asked from this machine, cluster or not.
    let nfs_finding = &doc["sections"][2]["findings"][0];
    assert_eq!(nfs_finding["check"], "storage.nfs");
    assert_eq!(nfs_finding["status"], "ok", "{nfs_finding}");
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

/// The local checks' failures, each with its hint, without a cluster.
#[test]
fn local_failures_need_no_cluster() {
    let tmp = tempfile::tempdir().unwrap();
    let kubeconfig = unreachable_kubeconfig(tmp.path());
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let doctor = |dir: &Path| {
        let run = homelab()
            .args(["doctor", "--output", "json", "--kubeconfig"])
            .arg(&kubeconfig)
            .dir(dir)
            .env("HOMELAB_NFS_PORT", closed.to_string())
            .expect_code(1);
        let doc: Value = serde_json::from_str(&run.stdout()).unwrap();
        let findings: Vec<Value> = doc["sections"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| s["findings"].as_array().unwrap().clone())
            .collect();
        move |check: &str| -> Value {
            findings
                .iter()
                .find(|f| f["check"] == check)
                .cloned()
                .unwrap_or_else(|| panic!("no {check} in {}", run.stdout()))
        }
    };
    let hint = |f: &Value| f["hint"].as_str().unwrap_or_default().to_owned();

    // git.url a path: push works, Flux in the cluster cannot pull it; and the NFS server
    // (a closed loopback port here) is probed without a cluster.
    let repo = tmp.path().join("path-url");
    std::fs::create_dir_all(&repo).unwrap();
    std::fs::write(
        repo.join("homelab.yaml"),
        config_yaml("/srv/git/homelab.git"),
    )
    .unwrap();
    git(&repo, &["init", "-q"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "x"]);
    let find = doctor(&repo);
    let f = find("local.git-url");
    assert_eq!(f["status"], "failed", "{f}");
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .contains("it is a path on this machine"),
        "{f}"
    );
    assert!(hint(&f).contains("ssh:// or https://"), "{f}");
    let f = find("storage.nfs");
    assert_eq!(f["status"], "failed", "{f}");
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .contains(&format!("NFS server 127.0.0.1:{closed} unreachable")),
        "{f}"
    );
    assert!(hint(&f).contains("exporting /srv/nfs/kubernetes"), "{f}");

    // git:// is not a protocol Flux speaks.
    std::fs::write(
        repo.join("homelab.yaml"),
        config_yaml("git://127.0.0.1/homelab.git"),
    )
    .unwrap();
    git(&repo, &["commit", "-q", "-am", "git url"]);
    let f = doctor(&repo)("local.git-url");
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .contains("Flux does not speak the git:// protocol"),
        "{f}"
    );

    // No git.url at all: nothing for Flux to pull, a warning with where to set it.
    std::fs::write(repo.join("homelab.yaml"), config_yaml("\"\"")).unwrap();
    git(&repo, &["commit", "-q", "-am", "no url"]);
    let f = doctor(&repo)("local.remote");
    assert_eq!(f["status"], "warning", "{f}");
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .contains("no git remote (git.url is empty)"),
        "{f}"
    );
    assert!(hint(&f).contains("git.url"), "{f}");

    // Not a git repository.
    let plain = tmp.path().join("plain");
    std::fs::create_dir_all(&plain).unwrap();
    std::fs::write(plain.join("homelab.yaml"), config_yaml("\"\"")).unwrap();
    let f = doctor(&plain)("local.git");
    assert_eq!(f["status"], "failed", "{f}");
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .contains("is not a git repository"),
        "{f}"
    );
    assert!(hint(&f).contains("homelab init"), "{f}");

    // An invalid homelab.yaml: a failed finding naming the field, exit 1 (not 2).
    std::fs::write(
        plain.join("homelab.yaml"),
        config_yaml("\"\"").replace("domain: example.com", "domain: not a domain"),
    )
    .unwrap();
    let f = doctor(&plain)("local.config");
    assert_eq!(f["status"], "failed", "{f}");
    assert!(
        f["message"].as_str().unwrap().contains("cluster.domain"),
        "{f}"
    );
    assert!(!hint(&f).is_empty(), "{f}");
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
    let config = config_yaml(&git_url);
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
    for obj in healthy(&revision, &repo.age_key) {
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
            let mut pod = healthy(&revision, &repo.age_key)
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
            .env("SSL_CERT_FILE", &repo.server.ca_file)
            .env("HOMELAB_GIT_TOKEN", TOKEN)
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
