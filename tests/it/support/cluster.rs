//! A simulated Kubernetes cluster for end-to-end tests, built from real components only.
//!
//! Why: the product's promise is that Flux reconciles what `homelab` renders until the
//! homelab is up. That can only be observed with the real controllers reconciling against a
//! real API server, with something standing in for the kubelets so Deployments, DaemonSets,
//! Jobs and PersistentVolumeClaims make progress. Here:
//!
//! - etcd + kube-apiserver (the envtest pair, with aggregator routing so the API server calls
//!   webhook Services through their endpoints), kube-controller-manager and kube-scheduler;
//! - kwok, out of cluster, as the kubelet of one fake Node per node name the test gives:
//!   pods are scheduled and become Running/Ready (Job pods Succeeded), node leases are kept
//!   fresh, and its volume stages provision and bind the PersistentVolumeClaims of the
//!   storage classes the test gives;
//! - the Flux controllers as local processes, started as soon as their CRDs exist;
//! - the admission webhook servers of MetalLB and cert-manager as local processes, for the
//!   pods kwok "runs" for them: the pod's IP is added to `lo`, the process gets the pod's
//!   args and environment, and the Secrets and ConfigMaps the pod mounts are kept in sync as
//!   files (the kubelet's job). cert-manager's CA injector is not run; the harness copies the
//!   webhook CA into the webhook configurations that ask for it (see [`inject_ca_bundles`]).
//!
//! Every process is supervised (restarted with back-off when it exits, as a kubelet would),
//! logs to `<name>.log` in the API server's directory, and dies with the test process. A
//! cluster only starts inside an isolated network namespace (see [`super::netns`]).

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::fs;
use std::future::Future;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhookConfiguration, ValidatingWebhookConfiguration,
};
use k8s_openapi::api::core::v1::{ConfigMap, Container, Node, Pod, Secret};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ApiResource, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use super::envtest::{ApiServer, free_port};
use super::netns;
use super::process::{self, Options, Proc, lock};

/// What the simulation runs besides kube-apiserver and etcd: `scripts/build-e2e` builds
/// them into one directory, named by `$HOMELAB_E2E_BIN`.
pub const E2E_FILES: &[&str] = &[
    "kube-controller-manager",
    "kube-scheduler",
    "kwok",
    "kwok-stages.yaml",
    "source-controller",
    "kustomize-controller",
    "helm-controller",
    "notification-controller",
    "registry",
    "metallb-controller",
    "cert-manager-webhook",
    "helm",
];

/// The Flux controllers run as local processes, as in Flux v2.9.4.
pub const FLUX_CONTROLLERS: &[&str] = &[
    "source-controller",
    "kustomize-controller",
    "helm-controller",
    "notification-controller",
];

/// The namespace Flux runs in.
pub const FLUX_NAMESPACE: &str = "flux-system";

/// How long the nodes may take to become Ready.
const NODES_READY: Duration = Duration::from_secs(60);

/// The directory of the components, checked to hold every file of [`E2E_FILES`]. Panics
/// with the instruction to build them: an e2e test never passes or skips without them.
pub fn e2e_bin_dir() -> PathBuf {
    let hint = "build them with `scripts/build-e2e` and export HOMELAB_E2E_BIN=\"$(scripts/build-e2e)\" \
                (or run `scripts/e2e`); see docs/e2e.md";
    let dir = std::env::var_os("HOMELAB_E2E_BIN")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("HOMELAB_E2E_BIN is not set: {hint}"));
    let missing: Vec<&str> = E2E_FILES
        .iter()
        .copied()
        .filter(|f| !dir.join(f).is_file())
        .collect();
    assert!(
        missing.is_empty(),
        "{} lacks {}: {hint}",
        dir.display(),
        missing.join(", ")
    );
    dir
}

/// Run a future to completion on a private runtime, on its own thread, so it works both
/// from plain code and from inside another runtime. A panic inside is re-raised here.
pub fn block_on<F>(fut: F) -> F::Output
where
    F: Future + Send,
    F::Output: Send,
{
    std::thread::scope(|s| {
        s.spawn(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a tokio runtime")
                .block_on(fut)
        })
        .join()
        .unwrap_or_else(|p| std::panic::resume_unwind(p))
    })
}

/// One fake node.
#[derive(Debug, Clone)]
pub struct NodeSpec {
    /// The Node's name (exactly; homelab.yaml's node names).
    pub name: String,
    /// Labelled `node-role.kubernetes.io/control-plane`.
    pub control_plane: bool,
    /// Its InternalIP. Pods with `hostNetwork` get it as their IP; nothing listens there.
    pub address: String,
}

/// What to simulate.
#[derive(Debug, Clone, Default)]
pub struct ClusterSpec {
    pub nodes: Vec<NodeSpec>,
    /// The storage classes whose PersistentVolumeClaims kwok's volume stages provision and
    /// bind (standing in for the NFS provisioner).
    pub storage_classes: Vec<String>,
}

impl ClusterSpec {
    /// `n` worker nodes `node-1`…, the first a control plane, addresses 10.0.1.1….
    pub fn nodes(n: usize) -> Self {
        ClusterSpec {
            nodes: (1..=n)
                .map(|i| NodeSpec {
                    name: format!("node-{i}"),
                    control_plane: i == 1,
                    address: format!("10.0.1.{i}"),
                })
                .collect(),
            storage_classes: Vec::new(),
        }
    }

    pub fn storage_class(mut self, name: &str) -> Self {
        self.storage_classes.push(name.to_owned());
        self
    }
}

/// An out-of-cluster process standing in for the container of the pods a label selector
/// finds: the real binary, with the pod's args and environment (see the module docs).
#[derive(Debug, Clone)]
pub struct PodBinary {
    /// A short name for logs.
    pub name: String,
    /// Label selector of the pods (any namespace).
    pub selector: String,
    /// The container of the pod it stands in for.
    pub container: String,
    /// The executable.
    pub binary: PathBuf,
    /// Arguments appended to the pod's; paths under the pod's mounts are mapped like the
    /// pod's own (see [`PodRoot::map`]). `{kubeconfig}` is replaced by the admin kubeconfig.
    pub extra_args: Vec<String>,
}

/// The admission webhook servers the simulation runs for real, found by their charts' labels.
pub fn webhook_servers(bins: &Path) -> Vec<PodBinary> {
    vec![
        // MetalLB's controller: its webhook server reads the controller-runtime default
        // directory under TMPDIR, while its certificate rotator waits for the files at
        // --cert-dir, which defaults to the literal /tmp path: name it so it is mapped too.
        PodBinary {
            name: "metallb-controller".into(),
            selector: "app.kubernetes.io/name=metallb,app.kubernetes.io/component=controller"
                .into(),
            container: "controller".into(),
            binary: bins.join("metallb-controller"),
            extra_args: vec!["--cert-dir=/tmp/k8s-webhook-server/serving-certs".into()],
        },
        // cert-manager's webhook reads in-cluster credentials unless given a kubeconfig.
        PodBinary {
            name: "cert-manager-webhook".into(),
            selector: "app.kubernetes.io/name=webhook,app.kubernetes.io/component=webhook".into(),
            container: "cert-manager-webhook".into(),
            binary: bins.join("cert-manager-webhook"),
            extra_args: vec!["--kubeconfig={kubeconfig}".into()],
        },
    ]
}

/// The simulated cluster. Stops everything and removes its directory on drop.
#[derive(Debug)]
pub struct Cluster {
    inner: Arc<Inner>,
    supervisor: Mutex<Option<JoinHandle<()>>>,
}

#[derive(Debug)]
struct Inner {
    api: ApiServer,
    bins: PathBuf,
    procs: Mutex<BTreeMap<String, Proc>>,
    stop: AtomicBool,
    /// Flux controllers to start once their CRDs exist (see [`Cluster::start_flux`]).
    flux_wanted: AtomicBool,
    /// Flux controllers held stopped (see [`Cluster::pause_flux_controller`]).
    paused: Mutex<BTreeSet<String>>,
    flux_ports: FluxPorts,
    /// CRD names per Flux component, from the install manifest.
    flux_crds: BTreeMap<String, Vec<String>>,
    pod_binaries: Vec<PodBinary>,
    pods: Mutex<BTreeMap<String, PodRun>>,
    /// Pod addresses added to `lo`.
    addresses: Mutex<BTreeSet<String>>,
}

#[derive(Debug, Clone, Copy)]
struct FluxPorts {
    storage: u16,
    events: u16,
    receiver: u16,
}

/// A pod served by a local process.
#[derive(Debug)]
struct PodRun {
    proc_name: String,
    ip: String,
    root: PodRoot,
    pod: Pod,
}

impl Cluster {
    /// Start the cluster: control plane, kwok with its stages, the nodes (Ready when this
    /// returns), the pod runners for the webhook servers. Flux is started separately
    /// ([`start_flux`](Self::start_flux)). Panics with the process logs if anything fails.
    pub fn start(spec: &ClusterSpec) -> Cluster {
        netns::assert_isolated();
        assert!(!spec.nodes.is_empty(), "a cluster needs at least one node");
        let bins = e2e_bin_dir();
        let api = ApiServer::start_with(&[
            // Call webhook (and aggregated API) Services at their endpoints, the kwok pod
            // IPs the harness adds to `lo`, rather than at cluster IPs nothing serves.
            "--enable-aggregator-routing=true",
        ]);
        let flux_crds = flux_crds_by_component(&super::flux_install());
        let inner = Arc::new(Inner {
            pod_binaries: webhook_servers(&bins),
            bins,
            api,
            procs: Mutex::new(BTreeMap::new()),
            stop: AtomicBool::new(false),
            flux_wanted: AtomicBool::new(false),
            paused: Mutex::new(BTreeSet::new()),
            flux_ports: FluxPorts {
                storage: free_port(),
                events: free_port(),
                receiver: free_port(),
            },
            flux_crds,
            pods: Mutex::new(BTreeMap::new()),
            addresses: Mutex::new(BTreeSet::new()),
        });
        let cluster = Cluster {
            inner: inner.clone(),
            supervisor: Mutex::new(None),
        };
        let kubeconfig = inner.api.kubeconfig().display().to_string();
        cluster.spawn(
            "kube-controller-manager",
            &[
                format!("--kubeconfig={kubeconfig}"),
                "--leader-elect=false".into(),
                "--secure-port=0".into(),
                // No token controller: no service-account signing key is handed around,
                // and the controllers act with the admin identity of the kubeconfig.
                "--controllers=*,-serviceaccount-token".into(),
                "--use-service-account-credentials=false".into(),
                format!(
                    "--root-ca-file={}",
                    inner.api.dir().join("ca.crt").display()
                ),
                "--v=1".into(),
            ],
            Vec::new(),
        );
        cluster.spawn(
            "kube-scheduler",
            &[
                format!("--kubeconfig={kubeconfig}"),
                "--leader-elect=false".into(),
                "--secure-port=0".into(),
                "--v=1".into(),
            ],
            Vec::new(),
        );
        let stages = inner.api.dir().join("kwok-stages.yaml");
        write_stages(
            &inner.bins.join("kwok-stages.yaml"),
            &stages,
            &spec.storage_classes,
        );
        cluster.spawn(
            "kwok",
            &[
                format!("--kubeconfig={kubeconfig}"),
                format!("--config={}", stages.display()),
                "--manage-all-nodes=false".into(),
                "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake".into(),
                // Without leases the node lifecycle controller marks the nodes NotReady
                // after ~40 s, and the endpoints (webhooks!) go away.
                "--node-lease-duration-seconds=40".into(),
                format!("--cidr={}", pod_cidr()),
            ],
            Vec::new(),
        );
        let nodes = spec.nodes.clone();
        let client_inner = inner.clone();
        if let Err(e) = block_on(async move {
            let client = client_inner.api.client().await;
            create_nodes(&client, &nodes).await
        }) {
            panic!("{e}\n{}", cluster.logs(40));
        }
        let loop_inner = inner.clone();
        let handle = std::thread::Builder::new()
            .name("cluster-supervisor".into())
            .spawn(move || supervise(loop_inner))
            .expect("start the cluster supervisor thread");
        *lock(&cluster.supervisor) = Some(handle);
        cluster
    }

    /// The admin kubeconfig.
    pub fn kubeconfig(&self) -> &Path {
        self.inner.api.kubeconfig()
    }

    /// An admin client.
    pub async fn client(&self) -> kube::Client {
        self.inner.api.client().await
    }

    /// The directory of the components.
    pub fn bins(&self) -> &Path {
        &self.inner.bins
    }

    /// The cluster's private directory (logs, state); removed on drop.
    pub fn dir(&self) -> &Path {
        self.inner.api.dir()
    }

    /// Start the Flux controllers, each as soon as its CRDs (and the source CRDs it
    /// watches) are Established: right away when they are installed, or once
    /// `homelab bootstrap` applied them. Returns at once.
    pub fn start_flux(&self) {
        self.inner.flux_wanted.store(true, Ordering::SeqCst);
    }

    /// Stop a Flux controller and keep it stopped until [`resume_flux_controller`]: the
    /// cluster then behaves as one whose controller has not caught up yet.
    ///
    /// [`resume_flux_controller`]: Self::resume_flux_controller
    pub fn pause_flux_controller(&self, name: &str) {
        assert!(
            FLUX_CONTROLLERS.contains(&name),
            "not a Flux controller: {name}"
        );
        lock(&self.inner.paused).insert(name.to_owned());
        self.inner.stop_proc(name);
    }

    /// Let a paused Flux controller run again (started within a second).
    pub fn resume_flux_controller(&self, name: &str) {
        lock(&self.inner.paused).remove(name);
    }

    /// Whether a process of this name runs (has been started).
    pub fn running(&self, name: &str) -> bool {
        lock(&self.inner.procs).contains_key(name)
    }

    /// Names of the processes started so far.
    pub fn processes(&self) -> Vec<String> {
        lock(&self.inner.procs).keys().cloned().collect()
    }

    /// The last `lines` log lines of every process, each under a heading: what a failure
    /// message needs.
    pub fn logs(&self, lines: usize) -> String {
        let mut out = String::new();
        for name in ["etcd", "kube-apiserver"] {
            let path = self.dir().join(format!("{name}.log"));
            out.push_str(&format!(
                "===== {name} ({}) =====\n{}\n",
                path.display(),
                process::tail(&path, lines)
            ));
        }
        for (name, proc) in lock(&self.inner.procs).iter() {
            out.push_str(&format!(
                "===== {name} ({}) =====\n{}\n",
                proc.log().display(),
                proc.log_tail(lines)
            ));
        }
        out
    }

    /// The last `lines` log lines of one process.
    pub fn log_of(&self, name: &str, lines: usize) -> String {
        process::tail(&self.dir().join(format!("{name}.log")), lines)
    }

    fn spawn(&self, name: &str, args: &[String], env: Vec<(String, OsString)>) {
        let bin = self.inner.bins.join(name);
        self.inner.spawn(name, &bin, args, env);
    }
}

impl Inner {
    fn spawn(&self, name: &str, bin: &Path, args: &[String], env: Vec<(String, OsString)>) {
        let options = Options {
            env,
            restart: true,
            cwd: Some(self.api.dir().to_path_buf()),
        };
        let proc = Proc::spawn_with(self.api.dir(), name, bin, args, &options)
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        if let Some(old) = lock(&self.procs).insert(name.to_owned(), proc) {
            old.stop();
        }
    }

    fn stop_proc(&self, name: &str) {
        let proc = lock(&self.procs).remove(name);
        if let Some(proc) = proc {
            proc.stop();
        }
    }

    /// Start a Flux controller as its developers run it: KUBECONFIG, RUNTIME_NAMESPACE,
    /// every address on 127.0.0.1, no leader election, all namespaces watched.
    fn start_flux_controller(&self, name: &str) {
        let state = self.api.dir().join(name);
        let tmp = state.join("tmp");
        fs::create_dir_all(&tmp).unwrap_or_else(|e| panic!("create {}: {e}", tmp.display()));
        let ports = self.flux_ports;
        let mut args = vec![
            format!("--metrics-addr=127.0.0.1:{}", free_port()),
            format!("--health-addr=127.0.0.1:{}", free_port()),
            "--watch-all-namespaces=true".to_owned(),
            "--log-level=info".to_owned(),
        ];
        match name {
            "source-controller" => {
                let storage = state.join("storage");
                fs::create_dir_all(&storage).expect("create the artifact storage");
                args.push(format!("--storage-path={}", storage.display()));
                args.push(format!("--storage-addr=127.0.0.1:{}", ports.storage));
                args.push(format!("--storage-adv-addr=127.0.0.1:{}", ports.storage));
                args.push(format!("--events-addr=http://127.0.0.1:{}", ports.events));
            }
            "notification-controller" => {
                args.push(format!("--events-addr=127.0.0.1:{}", ports.events));
                args.push(format!("--receiverAddr=127.0.0.1:{}", ports.receiver));
            }
            _ => args.push(format!("--events-addr=http://127.0.0.1:{}", ports.events)),
        }
        let env = vec![
            ("KUBECONFIG".to_owned(), self.api.kubeconfig().into()),
            ("RUNTIME_NAMESPACE".to_owned(), FLUX_NAMESPACE.into()),
            ("TMPDIR".to_owned(), tmp.into()),
        ];
        self.spawn(name, &self.bins.join(name), &args, env);
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.inner.stop.store(true, Ordering::SeqCst);
        if let Some(handle) = lock(&self.supervisor).take() {
            let _ = handle.join();
        }
        let procs: Vec<Proc> = std::mem::take(&mut *lock(&self.inner.procs))
            .into_values()
            .collect();
        for proc in procs {
            proc.stop();
        }
        for ip in std::mem::take(&mut *lock(&self.inner.addresses)) {
            netns::remove_local_address(&ip);
        }
        // The ApiServer (etcd, kube-apiserver, the directory) goes with the last Arc.
    }
}

/// The pod addresses of the next cluster: `10.244.<n>.0/24` for the n-th cluster of this
/// process, so the pod IPs the harness adds to `lo` for webhook servers never collide when
/// clusters run side by side in the one network namespace.
fn pod_cidr() -> String {
    static CLUSTERS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = CLUSTERS.fetch_add(1, Ordering::SeqCst);
    format!("10.244.{}.0/24", n % 256)
}

/// The CRD names of each Flux component, from the install manifest's labels.
fn flux_crds_by_component(install: &Path) -> BTreeMap<String, Vec<String>> {
    let text =
        fs::read_to_string(install).unwrap_or_else(|e| panic!("read {}: {e}", install.display()));
    let docs: Vec<Value> = serde_saphyr::from_multiple(&text)
        .unwrap_or_else(|e| panic!("parse {}: {e}", install.display()));
    let mut by: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for doc in docs {
        if doc.get("kind").and_then(Value::as_str) != Some("CustomResourceDefinition") {
            continue;
        }
        let component = doc
            .pointer("/metadata/labels/app.kubernetes.io~1component")
            .and_then(Value::as_str);
        let name = doc.pointer("/metadata/name").and_then(Value::as_str);
        if let (Some(component), Some(name)) = (component, name) {
            by.entry(component.to_owned())
                .or_default()
                .push(name.to_owned());
        }
    }
    by
}

/// kwok's Stage documents, with the volume stages pointed at `classes` instead of
/// `kwok-volume`. Panics when the volume stages no longer select by that class (an upgrade
/// changed them), rather than silently leaving every claim Pending.
fn write_stages(source: &Path, dest: &Path, classes: &[String]) {
    let text =
        fs::read_to_string(source).unwrap_or_else(|e| panic!("read {}: {e}", source.display()));
    let selector = "self.spec.storageClassName == 'kwok-volume'";
    let mut out = Vec::new();
    let mut replaced = 0;
    for doc in text.split("\n---") {
        let is_stage = doc
            .lines()
            .any(|l| l.trim_end() == "kind: Stage" || l.trim_end() == "kind: \"Stage\"");
        if !is_stage {
            continue;
        }
        let mut doc = doc.trim_start_matches("---").to_owned();
        if doc.contains(selector) {
            replaced += 1;
            let list: Vec<String> = classes.iter().map(|c| format!("'{c}'")).collect();
            let expr = if list.is_empty() {
                // No class given: select nothing (kwok-volume is not a class of ours).
                selector.to_owned()
            } else {
                format!("self.spec.storageClassName in [{}]", list.join(", "))
            };
            doc = doc.replace(selector, &expr);
        }
        out.push(doc.trim().to_owned());
    }
    assert!(
        replaced >= 4,
        "{}: expected kwok's volume stages (pvc-provision, pv-bind, …) selecting {selector:?}, found {replaced}",
        source.display()
    );
    fs::write(dest, out.join("\n---\n") + "\n")
        .unwrap_or_else(|e| panic!("write {}: {e}", dest.display()));
}

/// Create the fake nodes (annotated for kwok, labelled like kubelets label them) and wait
/// until kwok reports them Ready.
async fn create_nodes(client: &kube::Client, nodes: &[NodeSpec]) -> Result<(), String> {
    let api: Api<Node> = Api::all(client.clone());
    for node in nodes {
        let mut labels = json!({
            "kubernetes.io/hostname": node.name,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            "type": "kwok",
        });
        if node.control_plane {
            labels["node-role.kubernetes.io/control-plane"] = json!("");
        }
        let object: Node = serde_json::from_value(json!({
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": node.name,
                "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
                "labels": labels,
            },
        }))
        .map_err(|e| e.to_string())?;
        api.create(&PostParams::default(), &object)
            .await
            .map_err(|e| format!("create node {}: {e}", node.name))?;
        // The resources of a typical homelab machine. Without them kwok's stage gives CPU,
        // memory and pods but no ephemeral storage, and pods that request some (charts'
        // resource presets do) would never be scheduled.
        let resources = json!({
            "cpu": "8",
            "memory": "32Gi",
            "ephemeral-storage": "200Gi",
            "pods": "110",
        });
        let status = json!({"status": {
            "addresses": [
                {"type": "InternalIP", "address": node.address},
                {"type": "Hostname", "address": node.name},
            ],
            "capacity": resources,
            "allocatable": resources,
        }});
        api.patch_status(&node.name, &PatchParams::default(), &Patch::Merge(&status))
            .await
            .map_err(|e| format!("set the address of node {}: {e}", node.name))?;
    }
    let deadline = Instant::now() + NODES_READY;
    loop {
        let mut waiting = Vec::new();
        for node in nodes {
            let ready = api
                .get(&node.name)
                .await
                .ok()
                .and_then(|n| n.status)
                .and_then(|s| s.conditions)
                .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
            if !ready {
                waiting.push(node.name.clone());
            }
        }
        if waiting.is_empty() {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "nodes not Ready after {NODES_READY:?} (is kwok running?): {}",
                waiting.join(", ")
            ));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The cluster's background duties, once a second until the cluster is dropped: start Flux
/// controllers whose CRDs exist, run the pods of the webhook servers, keep their mounted
/// Secrets and ConfigMaps in sync, and inject cert-manager's webhook CA.
fn supervise(inner: Arc<Inner>) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        let client = inner.api.client().await;
        while !inner.stop.load(Ordering::SeqCst) {
            if inner.flux_wanted.load(Ordering::SeqCst) {
                start_ready_flux_controllers(&inner, &client).await;
            }
            run_pods(&inner, &client).await;
            inject_ca_bundles(&client).await;
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
}

async fn established(client: &kube::Client, names: &[String]) -> bool {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    for name in names {
        let ok = api
            .get_opt(name)
            .await
            .ok()
            .flatten()
            .and_then(|c| c.status)
            .and_then(|s| s.conditions)
            .is_some_and(|cs| {
                cs.iter()
                    .any(|c| c.type_ == "Established" && c.status == "True")
            });
        if !ok {
            return false;
        }
    }
    true
}

async fn start_ready_flux_controllers(inner: &Inner, client: &kube::Client) {
    let sources = inner
        .flux_crds
        .get("source-controller")
        .cloned()
        .unwrap_or_default();
    for name in FLUX_CONTROLLERS {
        if lock(&inner.procs).contains_key(*name) || lock(&inner.paused).contains(*name) {
            continue;
        }
        let mut needed = inner.flux_crds.get(*name).cloned().unwrap_or_default();
        // Every controller but notification-controller watches the sources too.
        if *name != "notification-controller" {
            needed.extend(sources.iter().cloned());
        }
        if !needed.is_empty() && established(client, &needed).await {
            inner.start_flux_controller(name);
        }
    }
}

/// Where a pod's files live on this machine: mounts under `/tmp` go below the process's own
/// TMPDIR (code that uses the temp directory finds them), others below `fs/`.
#[derive(Debug, Clone)]
pub struct PodRoot {
    pub dir: PathBuf,
}

impl PodRoot {
    pub fn tmp(&self) -> PathBuf {
        self.dir.join("tmp")
    }

    /// The local path standing in for the pod's absolute path `path`.
    pub fn map(&self, path: &str) -> PathBuf {
        match path.strip_prefix("/tmp/") {
            Some(rest) => self.tmp().join(rest),
            None if path == "/tmp" => self.tmp(),
            None => self.dir.join("fs").join(path.trim_start_matches('/')),
        }
    }

    /// Replace every mount path (longest first) inside `text` by its local path.
    fn rewrite(&self, text: &str, mounts: &[String]) -> String {
        let mut sorted: Vec<&String> = mounts.iter().collect();
        sorted.sort_by_key(|m| std::cmp::Reverse(m.len()));
        let mut out = text.to_owned();
        for mount in sorted {
            if out.contains(mount.as_str()) {
                out = out.replace(mount.as_str(), &self.map(mount).display().to_string());
            }
        }
        out
    }
}

fn pod_key(pod: &Pod) -> String {
    format!(
        "{}/{}/{}",
        pod.metadata.namespace.as_deref().unwrap_or_default(),
        pod.metadata.name.as_deref().unwrap_or_default(),
        pod.metadata.uid.as_deref().unwrap_or_default()
    )
}

/// Start a process for each new Running pod the pod binaries select, stop those whose pod
/// went away, and sync every served pod's volumes.
async fn run_pods(inner: &Inner, client: &kube::Client) {
    let pods: Api<Pod> = Api::all(client.clone());
    let mut seen = BTreeSet::new();
    for binary in &inner.pod_binaries {
        let Ok(list) = pods
            .list(&ListParams::default().labels(&binary.selector))
            .await
        else {
            continue;
        };
        for pod in list.items {
            let running = pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
            let ip = pod.status.as_ref().and_then(|s| s.pod_ip.clone());
            let (true, Some(ip), None) = (running, ip, pod.metadata.deletion_timestamp.as_ref())
            else {
                continue;
            };
            let key = pod_key(&pod);
            seen.insert(key.clone());
            if lock(&inner.pods).contains_key(&key) {
                continue;
            }
            match start_pod(inner, client, binary, &pod, &ip).await {
                Ok(run) => {
                    lock(&inner.pods).insert(key, run);
                }
                Err(e) => eprintln!("e2e: cannot run pod {key} yet: {e}"),
            }
        }
    }
    let gone: Vec<String> = lock(&inner.pods)
        .keys()
        .filter(|k| !seen.contains(*k))
        .cloned()
        .collect();
    for key in gone {
        let run = lock(&inner.pods).remove(&key);
        if let Some(run) = run {
            inner.stop_proc(&run.proc_name);
            let still_used = lock(&inner.pods).values().any(|r| r.ip == run.ip);
            if !still_used {
                netns::remove_local_address(&run.ip);
                lock(&inner.addresses).remove(&run.ip);
            }
        }
    }
    let served: Vec<(Pod, PodRoot)> = lock(&inner.pods)
        .values()
        .map(|r| (r.pod.clone(), r.root.clone()))
        .collect();
    for (pod, root) in served {
        sync_volumes(client, &pod, &root).await;
    }
}

async fn start_pod(
    inner: &Inner,
    client: &kube::Client,
    binary: &PodBinary,
    pod: &Pod,
    ip: &str,
) -> Result<PodRun, String> {
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    let name = pod.metadata.name.clone().unwrap_or_default();
    let spec = pod.spec.as_ref().ok_or("the pod has no spec")?;
    let container = spec
        .containers
        .iter()
        .find(|c| c.name == binary.container)
        .ok_or_else(|| format!("the pod has no container {:?}", binary.container))?;
    let root = PodRoot {
        dir: inner
            .api
            .dir()
            .join("pods")
            .join(format!("{namespace}_{name}")),
    };
    fs::create_dir_all(root.tmp()).map_err(|e| e.to_string())?;
    sync_volumes(client, pod, &root).await;
    let mounts: Vec<String> = container
        .volume_mounts
        .iter()
        .flatten()
        .map(|m| m.mount_path.clone())
        .collect();
    let env = container_env(client, pod, container).await?;
    let expand = |text: &str| root.rewrite(&expand_vars(text, &env), &mounts);
    let mut args: Vec<String> = container
        .command
        .iter()
        .flatten()
        .skip(1)
        .chain(container.args.iter().flatten())
        .map(|a| expand(a))
        .collect();
    let kubeconfig = inner.api.kubeconfig().display().to_string();
    args.extend(
        binary
            .extra_args
            .iter()
            .map(|a| expand(&a.replace("{kubeconfig}", &kubeconfig))),
    );
    let mut env: Vec<(String, OsString)> = env
        .into_iter()
        .map(|(k, v)| (k, OsString::from(root.rewrite(&v, &mounts))))
        .collect();
    env.push(("KUBECONFIG".into(), inner.api.kubeconfig().into()));
    env.push(("TMPDIR".into(), root.tmp().into()));
    env.push(("HOSTNAME".into(), name.clone().into()));
    netns::add_local_address(ip)?;
    lock(&inner.addresses).insert(ip.to_owned());
    let proc_name = format!("{}-{namespace}-{name}", binary.name);
    if spec.automount_service_account_token == Some(false) {
        inner.spawn(&proc_name, &binary.binary, &args, env);
    } else {
        // The service-account volume every pod gets (its namespace and the cluster CA; no
        // token: the process authenticates with KUBECONFIG), at its real path in a private
        // mount namespace, since programs read it there without asking.
        let account = root.dir.join("serviceaccount");
        fs::create_dir_all(&account).map_err(|e| e.to_string())?;
        fs::write(account.join("namespace"), &namespace).map_err(|e| e.to_string())?;
        fs::copy(inner.api.dir().join("ca.crt"), account.join("ca.crt"))
            .map_err(|e| e.to_string())?;
        let mut wrapped = vec![
            "-m".to_owned(),
            "--propagation".to_owned(),
            "private".to_owned(),
            "sh".to_owned(),
            "-c".to_owned(),
            SERVICE_ACCOUNT_MOUNT.to_owned(),
            "pod-mounts".to_owned(),
            account.display().to_string(),
            binary.binary.display().to_string(),
        ];
        wrapped.extend(args);
        inner.spawn(&proc_name, Path::new("unshare"), &wrapped, env);
    }
    Ok(PodRun {
        proc_name,
        ip: ip.to_owned(),
        root,
        pod: pod.clone(),
    })
}

/// Inside a private mount namespace: a fresh tmpfs over /run (so nothing of the machine's
/// changes), the service-account directory `$1` bound at the path pods read it from, then
/// the command. `/var/run` is a symlink to `/run`.
const SERVICE_ACCOUNT_MOUNT: &str = r#"
account=$1; shift
dest=/run/secrets/kubernetes.io/serviceaccount
mount -t tmpfs tmpfs /run && mkdir -p "$dest" && mount --bind "$account" "$dest" || exit 1
exec "$@"
"#;

/// `$(VAR)` references expanded as the kubelet does (unknown ones are left as they are).
fn expand_vars(text: &str, env: &[(String, String)]) -> String {
    let mut out = text.to_owned();
    for (key, value) in env {
        out = out.replace(&format!("$({key})"), value);
    }
    out
}

/// The container's environment as the kubelet builds it: `envFrom`, then `env` with
/// values, field references, Secret and ConfigMap keys, and `$(VAR)` expansion.
async fn container_env(
    client: &kube::Client,
    pod: &Pod,
    container: &Container,
) -> Result<Vec<(String, String)>, String> {
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &namespace);
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), &namespace);
    let mut env: Vec<(String, String)> = Vec::new();
    let set = |env: &mut Vec<(String, String)>, key: String, value: String| {
        env.retain(|(k, _)| *k != key);
        env.push((key, value));
    };
    for from in container.env_from.iter().flatten() {
        let prefix = from.prefix.clone().unwrap_or_default();
        if let Some(r) = &from.secret_ref
            && let Ok(Some(s)) = secrets.get_opt(&r.name).await
        {
            for (k, v) in s.data.unwrap_or_default() {
                let value = String::from_utf8_lossy(&v.0).into_owned();
                set(&mut env, format!("{prefix}{k}"), value);
            }
        }
        if let Some(r) = &from.config_map_ref
            && let Ok(Some(c)) = config_maps.get_opt(&r.name).await
        {
            for (k, v) in c.data.unwrap_or_default() {
                set(&mut env, format!("{prefix}{k}"), v);
            }
        }
    }
    let pod_json = serde_json::to_value(pod).map_err(|e| e.to_string())?;
    for var in container.env.iter().flatten() {
        let value = if let Some(value) = &var.value {
            expand_vars(value, &env)
        } else if let Some(from) = &var.value_from {
            if let Some(field) = &from.field_ref {
                field_value(&pod_json, &field.field_path).ok_or_else(|| {
                    format!("env {}: unknown field {}", var.name, field.field_path)
                })?
            } else if let Some(key) = &from.secret_key_ref {
                match secrets.get_opt(&key.name).await {
                    Ok(Some(s)) => s
                        .data
                        .unwrap_or_default()
                        .get(&key.key)
                        .map(|v| String::from_utf8_lossy(&v.0).into_owned())
                        .unwrap_or_default(),
                    _ if key.optional == Some(true) => String::new(),
                    _ => return Err(format!("env {}: Secret {} not found", var.name, key.name)),
                }
            } else if let Some(key) = &from.config_map_key_ref {
                match config_maps.get_opt(&key.name).await {
                    Ok(Some(c)) => c
                        .data
                        .unwrap_or_default()
                        .get(&key.key)
                        .cloned()
                        .unwrap_or_default(),
                    _ if key.optional == Some(true) => String::new(),
                    _ => {
                        return Err(format!(
                            "env {}: ConfigMap {} not found",
                            var.name, key.name
                        ));
                    }
                }
            } else {
                // resourceFieldRef: limits are meaningless for a local process.
                String::new()
            }
        } else {
            String::new()
        };
        set(&mut env, var.name.clone(), value);
    }
    Ok(env)
}

/// A downward-API field of the pod: `metadata.name`, `status.podIP`,
/// `metadata.labels['x']`, ….
fn field_value(pod: &Value, path: &str) -> Option<String> {
    if let Some((map, rest)) = path.split_once("['") {
        let key = rest.strip_suffix("']")?;
        let pointer = format!("/{}", map.replace('.', "/"));
        return Some(
            pod.pointer(&pointer)?
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
        );
    }
    let pointer = match path {
        "metadata.name" => "/metadata/name",
        "metadata.namespace" => "/metadata/namespace",
        "metadata.uid" => "/metadata/uid",
        "spec.nodeName" => "/spec/nodeName",
        "spec.serviceAccountName" => "/spec/serviceAccountName",
        "status.podIP" => "/status/podIP",
        "status.hostIP" => "/status/hostIP",
        _ => return None,
    };
    Some(
        pod.pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
    )
}

/// Write the pod's Secret and ConfigMap volumes as files under their mount paths (mapped),
/// as the kubelet does, and create empty directories for other volumes. Only changed files
/// are written, each atomically (temp file + rename), Secrets with mode 0600.
async fn sync_volumes(client: &kube::Client, pod: &Pod, root: &PodRoot) {
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &namespace);
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), &namespace);
    let Some(spec) = &pod.spec else {
        return;
    };
    let volumes: BTreeMap<String, &k8s_openapi::api::core::v1::Volume> = spec
        .volumes
        .iter()
        .flatten()
        .map(|v| (v.name.clone(), v))
        .collect();
    for container in &spec.containers {
        for mount in container.volume_mounts.iter().flatten() {
            let Some(volume) = volumes.get(&mount.name) else {
                continue;
            };
            let dir = root.map(&mount.mount_path);
            let _ = fs::create_dir_all(&dir);
            let mut files: BTreeMap<String, (Vec<u8>, u32)> = BTreeMap::new();
            if let Some(s) = &volume.secret {
                let name = s.secret_name.clone().unwrap_or_default();
                if let Ok(Some(secret)) = secrets.get_opt(&name).await {
                    for (k, v) in secret.data.unwrap_or_default() {
                        files.insert(k, (v.0, 0o600));
                    }
                }
                remap_items(&mut files, s.items.as_deref());
            } else if let Some(c) = &volume.config_map {
                if let Ok(Some(cm)) = config_maps.get_opt(&c.name).await {
                    for (k, v) in cm.data.unwrap_or_default() {
                        files.insert(k, (v.into_bytes(), 0o644));
                    }
                }
                remap_items(&mut files, c.items.as_deref());
            }
            for (file, (bytes, mode)) in files {
                let path = dir.join(&file);
                if fs::read(&path).ok().as_deref() == Some(bytes.as_slice()) {
                    continue;
                }
                if let Some(parent) = path.parent() {
                    let _ = fs::create_dir_all(parent);
                }
                let tmp = path.with_extension("e2e-tmp");
                if fs::write(&tmp, &bytes).is_ok() {
                    let _ = fs::set_permissions(&tmp, fs::Permissions::from_mode(mode));
                    let _ = fs::rename(&tmp, &path);
                }
            }
        }
    }
}

/// Apply a volume's `items` (key → path) to the files, as the kubelet does.
fn remap_items(
    files: &mut BTreeMap<String, (Vec<u8>, u32)>,
    items: Option<&[k8s_openapi::api::core::v1::KeyToPath]>,
) {
    let Some(items) = items else {
        return;
    };
    let mut mapped = BTreeMap::new();
    for item in items {
        if let Some(content) = files.get(&item.key) {
            mapped.insert(item.path.clone(), content.clone());
        }
    }
    *files = mapped;
}

/// The part of cert-manager's CA injector the simulation needs: a webhook configuration
/// annotated `cert-manager.io/inject-ca-from-secret: <ns>/<name>` gets that Secret's
/// `ca.crt` as the `caBundle` of each of its webhooks. (The injector itself is not run.)
pub async fn inject_ca_bundles(client: &kube::Client) {
    use base64::Engine as _;
    const ANNOTATION: &str = "cert-manager.io/inject-ca-from-secret";
    for resource in [
        ApiResource::erase::<ValidatingWebhookConfiguration>(&()),
        ApiResource::erase::<MutatingWebhookConfiguration>(&()),
    ] {
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
        let Ok(list) = api.list(&ListParams::default()).await else {
            continue;
        };
        for mut object in list.items {
            let Some(from) = object
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(ANNOTATION))
                .cloned()
            else {
                continue;
            };
            let Some((namespace, secret_name)) = from.split_once('/') else {
                continue;
            };
            let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
            let Some(ca) = secrets
                .get_opt(secret_name)
                .await
                .ok()
                .flatten()
                .and_then(|s| s.data)
                .and_then(|d| d.get("ca.crt").cloned())
            else {
                continue;
            };
            let encoded = json!(base64::engine::general_purpose::STANDARD.encode(&ca.0));
            let mut changed = false;
            for webhook in object
                .data
                .get_mut("webhooks")
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                if webhook.pointer("/clientConfig/caBundle") != Some(&encoded)
                    && let Some(config) = webhook
                        .get_mut("clientConfig")
                        .and_then(Value::as_object_mut)
                {
                    config.insert("caBundle".into(), encoded.clone());
                    changed = true;
                }
            }
            if changed {
                let name = object.metadata.name.clone().unwrap_or_default();
                if let Err(e) = api.replace(&name, &PostParams::default(), &object).await {
                    eprintln!("e2e: cannot inject the CA bundle into {name}: {e}");
                }
            }
        }
    }
}

/// Run `tick` with an admin client of `kubeconfig` every `period` on a thread of its own,
/// until `stop` is set: the background duties of tests (watching objects, playing a user).
pub fn every<F, Fut>(
    kubeconfig: PathBuf,
    period: Duration,
    stop: Arc<AtomicBool>,
    mut tick: F,
) -> JoinHandle<()>
where
    F: FnMut(kube::Client) -> Fut + Send + 'static,
    Fut: Future<Output = ()>,
{
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime")
            .block_on(async {
                let client = super::envtest::client_for(&kubeconfig).await;
                while !stop.load(Ordering::SeqCst) {
                    tick(client.clone()).await;
                    tokio::time::sleep(period).await;
                }
            });
    })
}

/// What a user does on their git forge after `homelab bootstrap`: add the public deploy key
/// of Secret `<namespace>/<name>` (its `identity.pub`) to the server's authorized keys.
/// Returns the key once it is authorized (again or already), `None` while the Secret has
/// no key yet.
pub async fn authorize_deploy_key(
    client: &kube::Client,
    sshd: &super::gitserver::Sshd,
    namespace: &str,
    name: &str,
) -> Option<String> {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let secret = secrets.get_opt(name).await.ok().flatten()?;
    let public = secret.data?.get("identity.pub")?.0.clone();
    let public = String::from_utf8_lossy(&public).trim().to_owned();
    let known = fs::read_to_string(&sshd.authorized_keys).unwrap_or_default();
    if !known.lines().any(|l| l.trim() == public) {
        sshd.authorize(&public);
    }
    Some(public)
}
