//! The harness's proofs, with hand-written Flux objects: the real controllers clone over
//! SSH with a deploy key and apply a Deployment and a claim, install MetalLB from the HTTP
//! chart mirror and cert-manager from the OCI registry, and the two charts' own admission
//! webhooks admit and deny objects. All tests share one cluster (started on first use,
//! stopped when the run ends) and keep apart by namespace.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use homelab::bootstrap::cluster_secrets as credentials;
use homelab::kube::apply::{ApplyOptions, apply_documents};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use kube::api::{Api, ApiResource, DynamicObject, ListParams, PostParams};
use libtest_mimic::{Failed, Trial};
use serde_json::{Value, json};

use crate::flux;
use crate::support::charts::ChartMirror;
use crate::support::cluster::{self, Cluster, ClusterSpec, block_on};
use crate::support::envtest::namespace_name;
use crate::support::gitserver::{self, Sshd, git, run};
use crate::support::netns;

/// The storage class whose claims the simulation binds (kwok's volume stages).
const STORAGE_CLASS: &str = "e2e-nfs";
/// How long a Flux object may take to become Ready.
const READY: Duration = Duration::from_secs(240);

/// What the proofs share: the cluster, the chart mirror, the git server.
struct Env {
    // Field order is drop order: servers before the cluster that owns the directory.
    mirror: ChartMirror,
    sshd: Sshd,
    cluster: Cluster,
}

static ENV: Mutex<Option<Arc<Env>>> = Mutex::new(None);

/// The shared environment, started by the first test that needs it.
fn env() -> Arc<Env> {
    let mut slot = ENV.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(env) = slot.as_ref() {
        return env.clone();
    }
    let started = Instant::now();
    let cluster = Cluster::start(&ClusterSpec::nodes(2).storage_class(STORAGE_CLASS));
    block_on(async {
        let client = cluster.client().await;
        crate::support::envtest::install_crds(&client, &[crate::support::flux_install()]).await;
    });
    cluster.start_flux();
    let mirror = ChartMirror::start(&cluster.dir().join("charts"), cluster.bins());
    let sshd = Sshd::start(&cluster.dir().join("sshd"), &[]);
    eprintln!(
        "e2e: cluster, chart mirror and git server up in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    let env = Arc::new(Env {
        mirror,
        sshd,
        cluster,
    });
    *slot = Some(env.clone());
    env
}

/// Stop the shared environment (after the last test).
pub fn shutdown() {
    let env = ENV.lock().unwrap_or_else(|e| e.into_inner()).take();
    drop(env);
}

/// The proofs, for libtest-mimic.
pub fn tests() -> Vec<Trial> {
    vec![
        Trial::test("network_namespace_has_only_loopback_routes", || {
            netns::isolated().map_err(Failed::from)
        }),
        Trial::test(
            "git_over_ssh_kustomization_runs_pods_and_binds_claims",
            || {
                timed(
                    "git_over_ssh_kustomization_runs_pods_and_binds_claims",
                    git_over_ssh,
                )
            },
        ),
        Trial::test("helm_repository_metallb_and_its_webhook", || {
            timed("helm_repository_metallb_and_its_webhook", metallb)
        }),
        Trial::test("oci_repository_cert_manager_and_its_webhook", || {
            timed("oci_repository_cert_manager_and_its_webhook", cert_manager)
        }),
    ]
}

/// Run a proof, print how long it took, and turn its error into a failure that carries
/// the processes' logs.
fn timed(name: &str, proof: fn(&Env) -> Result<(), String>) -> Result<(), Failed> {
    let env = env();
    let started = Instant::now();
    let result = proof(&env);
    eprintln!(
        "e2e: {name}: {:.1}s{}",
        started.elapsed().as_secs_f64(),
        if result.is_ok() { "" } else { " (failed)" }
    );
    result.map_err(|e| Failed::from(format!("{e}\n\n{}", env.cluster.logs(60))))
}

/// Server-side apply the documents of `yaml` (with the product's applier).
async fn apply(client: &kube::Client, yaml: &str) -> Result<(), String> {
    let docs = homelab::kube::apply::parse_documents(yaml).map_err(|e| e.to_string())?;
    apply_documents(client, &docs, ApplyOptions::default())
        .await
        .map(|_| ())
        .map_err(|e| e.message)
}

/// [`apply`] after creating the namespace `ns`.
async fn apply_in(client: &kube::Client, ns: &str, yaml: &str) -> Result<(), String> {
    apply(
        client,
        &format!("apiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}}}\n---\n{yaml}"),
    )
    .await
}

/// A GitRepository over SSH (deploy key and known_hosts in a Secret, as bootstrap makes
/// them) and a Kustomization applying a StorageClass, a Deployment and a claim: both Ready
/// at the pushed commit, the pods Running on the fake nodes, the claim Bound.
fn git_over_ssh(env: &Env) -> Result<(), String> {
    let ns = namespace_name("e2e-git");
    let work = env.cluster.dir().join("git").join(&ns);
    let bare = gitserver::bare_repo(&work.join("repo.git"), "main");
    let checkout = work.join("checkout");
    std::fs::create_dir_all(&checkout).map_err(|e| e.to_string())?;
    run(git(&checkout).args(["init", "-q", "-b", "main", "."]));
    for (file, text) in [
        (
            "kustomization.yaml",
            "resources: [storageclass.yaml, deployment.yaml, claim.yaml]\n".to_owned(),
        ),
        (
            "storageclass.yaml",
            format!(
                "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata:\n  name: {STORAGE_CLASS}\n\
                 provisioner: nfs.csi.k8s.io\nreclaimPolicy: Delete\nvolumeBindingMode: Immediate\n"
            ),
        ),
        (
            "deployment.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 2\n  \
             selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    \
             spec:\n      containers:\n      - name: web\n        image: nginx:1.27\n        volumeMounts:\n        \
             - {name: data, mountPath: /data}\n      volumes:\n      - name: data\n        \
             persistentVolumeClaim: {claimName: data}\n"
                .to_owned(),
        ),
        (
            "claim.yaml",
            format!(
                "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: data\nspec:\n  \
                 accessModes: [ReadWriteMany]\n  storageClassName: {STORAGE_CLASS}\n  \
                 resources:\n    requests: {{storage: 1Gi}}\n"
            ),
        ),
    ] {
        std::fs::write(checkout.join(file), text).map_err(|e| e.to_string())?;
    }
    run(git(&checkout).args(["add", "-A"]));
    run(git(&checkout).args(["commit", "-q", "-m", "app"]));
    run(git(&checkout).args(["push", "-q"]).arg(&bare).arg("main"));
    let commit = gitserver::rev(&bare, "main").ok_or("nothing pushed")?;
    let revision = format!("main@sha1:{commit}");
    let url = env.sshd.url(&bare);

    block_on(async {
        let client = env.cluster.client().await;
        // The deploy key and known_hosts, built by the product's own code.
        let key = credentials::deploy_key(None, "e2e").map_err(|e| e.message)?;
        let data = credentials::ssh_secret_data(&key, &env.sshd.known_hosts_line())
            .map_err(|e| e.message)?;
        let secret = credentials::secret(&ns, "git-deploy", &data);
        let namespace = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
        apply_documents(&client, &[namespace, secret], ApplyOptions::default())
            .await
            .map_err(|e| e.message)?;
        apply(
            &client,
            &format!(
                r#"
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {{name: app, namespace: {ns}}}
spec:
  interval: 1m
  url: {url}
  ref: {{branch: main}}
  secretRef: {{name: git-deploy}}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {{name: app, namespace: {ns}}}
spec:
  interval: 1m
  path: ./
  prune: true
  wait: true
  timeout: 3m
  targetNamespace: {ns}
  sourceRef: {{kind: GitRepository, name: app}}
"#
            ),
        )
        .await?;
        // Before the deploy key is added on the server, the clone must fail: the key is
        // what gets source-controller in.
        flux::until("GitRepository refused by sshd", READY, || async {
            let obj = flux::get(&client, "GitRepository", &ns, "app")
                .await
                .ok_or("no GitRepository")?;
            let (status, message) = flux::ready(&obj);
            if status == "False" && message.contains("unable to authenticate") {
                Ok(())
            } else {
                Err(format!("Ready={status}: {message}"))
            }
        })
        .await?;
        cluster::authorize_deploy_key(&client, &env.sshd, &ns, "git-deploy")
            .await
            .ok_or("the deploy key Secret has no identity.pub")?;
        flux::wait_ready(&client, "GitRepository", &ns, "app", Some(&revision), READY).await?;
        flux::wait_ready(&client, "Kustomization", &ns, "app", Some(&revision), READY).await?;

        let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
        let web = deployments.get("web").await.map_err(|e| e.to_string())?;
        let ready = web.status.and_then(|s| s.ready_replicas).unwrap_or(0);
        if ready != 2 {
            return Err(format!("Deployment web has {ready} ready replicas, want 2"));
        }
        let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
        let list = pods
            .list(&ListParams::default().labels("app=web"))
            .await
            .map_err(|e| e.to_string())?;
        for pod in &list.items {
            let phase = pod.status.as_ref().and_then(|s| s.phase.clone());
            let node = pod.spec.as_ref().and_then(|s| s.node_name.clone());
            if phase.as_deref() != Some("Running")
                || !matches!(node.as_deref(), Some("node-1" | "node-2"))
            {
                return Err(format!(
                    "pod {:?} is {phase:?} on {node:?}, want Running on a fake node",
                    pod.metadata.name
                ));
            }
        }
        let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), &ns);
        flux::until("claim data Bound", Duration::from_secs(60), || async {
            let claim = claims.get("data").await.map_err(|e| e.to_string())?;
            let phase = claim.status.and_then(|s| s.phase).unwrap_or_default();
            let volume = claim.spec.and_then(|s| s.volume_name).unwrap_or_default();
            if phase == "Bound" && !volume.is_empty() {
                Ok(())
            } else {
                Err(format!("phase {phase:?}, volume {volume:?}"))
            }
        })
        .await
    })
}

/// Create an object, riding out the moments where its webhook is not serving yet (the
/// process starting, the CA not injected yet); any other answer is returned.
async fn create_through_webhook(
    client: &kube::Client,
    resource: &ApiResource,
    ns: &str,
    object: Value,
) -> Result<(), String> {
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, resource);
    let object: DynamicObject = serde_json::from_value(object).map_err(|e| e.to_string())?;
    flux::until(
        &format!("create {} through its webhook", resource.kind),
        Duration::from_secs(120),
        || async {
            match api.create(&PostParams::default(), &object).await {
                Ok(_) => Ok(Ok(())),
                Err(e) => {
                    let message = e.to_string();
                    // The API server could not reach or trust the webhook: not an answer.
                    if message.contains("failed calling webhook") {
                        Err(message)
                    } else {
                        Ok(Err(message))
                    }
                }
            }
        },
    )
    .await?
}

/// MetalLB from the HTTP Helm repository: HelmRepository, HelmChart and HelmRelease Ready
/// (controller Deployment and speaker DaemonSet ready through kwok); then MetalLB's own
/// webhook admits an address pool and denies an overlapping one.
fn metallb(env: &Env) -> Result<(), String> {
    let ns = namespace_name("e2e-metallb");
    let url = env.mirror.helm_url();
    block_on(async {
        let client = env.cluster.client().await;
        apply_in(
            &client,
            &ns,
            &format!(
                r#"
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata: {{name: mirror, namespace: {ns}}}
spec:
  interval: 10m
  url: {url}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {{name: metallb, namespace: {ns}}}
spec:
  interval: 10m
  releaseName: metallb
  targetNamespace: metallb-system
  install: {{createNamespace: true, crds: CreateReplace}}
  timeout: 3m
  chart:
    spec:
      chart: metallb
      version: 0.16.1
      sourceRef: {{kind: HelmRepository, name: mirror}}
"#
            ),
        )
        .await?;
        flux::wait_ready(&client, "HelmRepository", &ns, "mirror", None, READY).await?;
        flux::wait_ready(&client, "HelmRelease", &ns, "metallb", None, READY).await?;
        let chart = flux::get(&client, "HelmChart", &ns, &format!("{ns}-metallb"))
            .await
            .ok_or("no HelmChart for the release")?;
        if flux::ready(&chart).0 != "True" {
            return Err(format!("HelmChart not Ready: {}", flux::ready(&chart).1));
        }

        let pools = ApiResource {
            group: "metallb.io".into(),
            version: "v1beta1".into(),
            api_version: "metallb.io/v1beta1".into(),
            kind: "IPAddressPool".into(),
            plural: "ipaddresspools".into(),
        };
        let pool = |name: &str, cidr: &str| {
            json!({
                "apiVersion": "metallb.io/v1beta1",
                "kind": "IPAddressPool",
                "metadata": {"name": name, "namespace": "metallb-system"},
                "spec": {"addresses": [cidr]},
            })
        };
        create_through_webhook(
            &client,
            &pools,
            "metallb-system",
            pool("first", "10.200.0.0/24"),
        )
        .await
        .map_err(|e| format!("a valid IPAddressPool was not admitted: {e}"))?;
        match create_through_webhook(
            &client,
            &pools,
            "metallb-system",
            pool("overlapping", "10.200.0.128/25"),
        )
        .await
        {
            Ok(()) => Err("an overlapping IPAddressPool was admitted".to_owned()),
            Err(e) if e.contains("denied the request") && e.contains("overlaps") => {
                eprintln!("e2e: MetalLB's webhook: {e}");
                Ok(())
            }
            Err(e) => Err(format!(
                "the overlapping pool was refused, but not by MetalLB's webhook: {e}"
            )),
        }
    })
}

/// cert-manager from the OCI registry (`insecure: true`): OCIRepository and HelmRelease
/// Ready; then cert-manager's own webhook admits an Issuer and a Certificate, and denies a
/// Certificate its validation rejects.
fn cert_manager(env: &Env) -> Result<(), String> {
    let ns = namespace_name("e2e-cert-manager");
    let host = env.mirror.oci_host();
    block_on(async {
        let client = env.cluster.client().await;
        apply_in(
            &client,
            &ns,
            &format!(
                r#"
apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata: {{name: cert-manager, namespace: {ns}}}
spec:
  interval: 10m
  url: oci://{host}/jetstack/charts/cert-manager
  ref: {{tag: v1.21.1}}
  insecure: true
  layerSelector:
    mediaType: application/vnd.cncf.helm.chart.content.v1.tar+gzip
    operation: copy
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {{name: cert-manager, namespace: {ns}}}
spec:
  interval: 10m
  releaseName: cert-manager
  targetNamespace: cert-manager
  install: {{createNamespace: true}}
  timeout: 3m
  chartRef: {{kind: OCIRepository, name: cert-manager}}
  values:
    crds: {{enabled: true}}
"#
            ),
        )
        .await?;
        flux::wait_ready(&client, "OCIRepository", &ns, "cert-manager", None, READY).await?;
        flux::wait_ready(&client, "HelmRelease", &ns, "cert-manager", None, READY).await?;

        let resource = |kind: &str, plural: &str| ApiResource {
            group: "cert-manager.io".into(),
            version: "v1".into(),
            api_version: "cert-manager.io/v1".into(),
            kind: kind.into(),
            plural: plural.into(),
        };
        let issuers = resource("Issuer", "issuers");
        let certificates = resource("Certificate", "certificates");
        create_through_webhook(
            &client,
            &issuers,
            &ns,
            json!({
                "apiVersion": "cert-manager.io/v1", "kind": "Issuer",
                "metadata": {"name": "self-signed", "namespace": ns},
                "spec": {"selfSigned": {}},
            }),
        )
        .await
        .map_err(|e| format!("a valid Issuer was not admitted: {e}"))?;
        let certificate = |name: &str, duration: &str| {
            json!({
                "apiVersion": "cert-manager.io/v1", "kind": "Certificate",
                "metadata": {"name": name, "namespace": ns},
                "spec": {
                    "secretName": name,
                    "dnsNames": ["app.example.com"],
                    "duration": duration,
                    "issuerRef": {"name": "self-signed", "kind": "Issuer"},
                },
            })
        };
        create_through_webhook(&client, &certificates, &ns, certificate("valid", "2160h"))
            .await
            .map_err(|e| format!("a valid Certificate was not admitted: {e}"))?;
        // Below cert-manager's minimum duration (1h): only its webhook checks that.
        match create_through_webhook(&client, &certificates, &ns, certificate("short", "10m")).await
        {
            Ok(()) => Err("a Certificate with a 10m duration was admitted".to_owned()),
            Err(e) if e.contains("denied the request") && e.contains("duration") => {
                eprintln!("e2e: cert-manager's webhook: {e}");
                Ok(())
            }
            Err(e) => Err(format!(
                "the short Certificate was refused, but not by cert-manager's webhook: {e}"
            )),
        }
    })
}
