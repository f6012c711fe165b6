//! A real Kubernetes API server for tests: upstream `kube-apiserver` backed by a private
//! `etcd`, with no kubelet and no controllers (the "envtest" pair).
//!
//! Why: anything that talks to a cluster (apply, server-side apply conflicts, CRD schemas,
//! RBAC pre-flight, retries) is only trustworthy when tested against the real API server.
//! There is no container runtime on the build machines, so the binaries are compiled from the
//! Go modules in `tests/envtest/` by `scripts/build-envtest`.
//!
//! Each server lives in its own directory under `${CARGO_TARGET_DIR:-target}/envtest/run/`
//! (certificates, etcd data, kubeconfigs, logs). Processes are started in their own process
//! group under a small `sh` watchdog that kills them when the test process disappears — a
//! `static` (see [`ApiServer::shared`]) is never dropped, and a panicking or killed test
//! process must not leave servers behind. Leftovers of dead test processes are also removed
//! when the next server starts.

#![allow(dead_code)]

use std::fs;
use std::io::Write as _;
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use base64::Engine as _;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, Patch, PatchParams};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

use super::process::{self, Janitor, Proc, lock};

/// Kubernetes release the binaries are built from (kept in step with tests/envtest/*/go.mod).
pub const KUBE_VERSION: &str = "v1.37.2";
/// etcd release the binaries are built from.
pub const ETCD_VERSION: &str = "v3.7.3";

/// How long a process may take to become ready before the test fails.
const READY_TIMEOUT: Duration = Duration::from_secs(120);
/// Port collisions (a free port taken between probing and binding) are retried this often.
const START_ATTEMPTS: usize = 3;

/// A running kube-apiserver + etcd pair. Stops both and removes its directory on drop.
#[derive(Debug)]
pub struct ApiServer {
    dir: PathBuf,
    url: String,
    kubeconfig: PathBuf,
    limited_kubeconfig: PathBuf,
    apiserver_args: Vec<String>,
    etcd: Mutex<Option<Proc>>,
    apiserver: Mutex<Option<Proc>>,
    janitor: Mutex<Option<Janitor>>,
}

impl ApiServer {
    /// Start a fresh, private server. Panics (with the reason and the process log) if it
    /// cannot start; never skips.
    pub fn start() -> ApiServer {
        Self::start_with(&[])
    }

    /// [`start`](Self::start) with extra kube-apiserver arguments (a later flag overrides an
    /// earlier one of the same name).
    pub fn start_with(extra_args: &[&str]) -> ApiServer {
        let bin = binaries_dir();
        let run = run_root();
        reap_stale(&run);
        let mut last_err = String::new();
        for _ in 0..START_ATTEMPTS {
            match Self::try_start(&bin, &run, extra_args) {
                Ok(server) => return server,
                Err(e) => last_err = e,
            }
        }
        panic!("envtest: the API server did not start:\n{last_err}");
    }

    /// One server per test process, started on first use and shared by every test (use
    /// [`namespace_name`] to keep tests apart). Its processes die with the test process.
    pub fn shared() -> &'static ApiServer {
        static SHARED: OnceLock<ApiServer> = OnceLock::new();
        SHARED.get_or_init(ApiServer::start)
    }

    /// Admin kubeconfig (client certificate in `system:masters`), context `envtest`.
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// Kubeconfig of user `limited`: authenticated, but granted nothing by RBAC.
    pub fn limited_kubeconfig(&self) -> &Path {
        &self.limited_kubeconfig
    }

    /// The server's private directory (certificates, logs); processes that belong with the
    /// server may keep their files here, they are removed with it.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `https://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A client with the admin identity.
    pub async fn client(&self) -> kube::Client {
        client_for(&self.kubeconfig).await
    }

    /// Kill kube-apiserver and start it again on the same port and etcd; returns once ready.
    pub fn restart_apiserver(&self) {
        self.stop_apiserver();
        self.start_apiserver_again();
    }

    /// Kill kube-apiserver (etcd keeps running); requests fail until
    /// [`start_apiserver_again`](Self::start_apiserver_again).
    pub fn stop_apiserver(&self) {
        let proc = lock(&self.apiserver).take();
        if let Some(proc) = proc {
            proc.stop();
        }
    }

    /// Start kube-apiserver again with the same arguments (port, certificates, etcd) if it
    /// is stopped; returns once ready.
    pub fn start_apiserver_again(&self) {
        let mut slot = lock(&self.apiserver);
        if slot.is_some() {
            return;
        }
        // A killed server's socket is released only once all its threads are gone, which
        // can be a moment after the process itself shows as exited.
        let port: u16 = self
            .url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("port in url");
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_err() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let bin = binaries_dir();
        let mut proc = Proc::spawn(
            &self.dir,
            "kube-apiserver",
            &bin.join("kube-apiserver"),
            &self.apiserver_args,
        )
        .unwrap_or_else(|e| panic!("envtest: {e}"));
        if let Err(e) = wait_ready(&mut proc, &self.kubeconfig) {
            proc.stop();
            panic!("envtest: kube-apiserver did not come back: {e}");
        }
        *slot = Some(proc);
    }

    fn try_start(bin: &Path, run: &Path, extra_args: &[&str]) -> Result<ApiServer, String> {
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let dir = run.join(format!(
            "{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("etcd"))
            .map_err(|e| format!("create {}: {e}", dir.display()))?;
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).map_err(|e| e.to_string())?;

        let etcd_port = free_port();
        let peer_port = free_port();
        let api_port = free_port();
        let pki = Pki::generate(&dir);
        let url = format!("https://127.0.0.1:{api_port}");
        let kubeconfig = dir.join("admin.kubeconfig");
        let limited_kubeconfig = dir.join("limited.kubeconfig");
        write_kubeconfig(&kubeconfig, &url, &pki.ca_pem, "admin", &pki.admin);
        write_kubeconfig(
            &limited_kubeconfig,
            &url,
            &pki.ca_pem,
            "limited",
            &pki.limited,
        );

        let etcd_url = format!("http://127.0.0.1:{etcd_port}");
        let peer_url = format!("http://127.0.0.1:{peer_port}");
        let etcd_args: Vec<String> = vec![
            format!("--data-dir={}", dir.join("etcd").display()),
            format!("--listen-client-urls={etcd_url}"),
            format!("--advertise-client-urls={etcd_url}"),
            format!("--listen-peer-urls={peer_url}"),
            format!("--initial-advertise-peer-urls={peer_url}"),
            format!("--initial-cluster=default={peer_url}"),
            // Test data is disposable: skip fsync, it dominates write latency on shared disks.
            "--unsafe-no-fsync=true".into(),
            "--log-level=warn".into(),
        ];
        let p = |name: &str| dir.join(name).display().to_string();
        let mut apiserver_args: Vec<String> = vec![
            format!("--etcd-servers={etcd_url}"),
            "--bind-address=127.0.0.1".into(),
            "--advertise-address=127.0.0.1".into(),
            format!("--secure-port={api_port}"),
            format!("--cert-dir={}", p("pki")),
            format!("--tls-cert-file={}", p("serving.crt")),
            format!("--tls-private-key-file={}", p("serving.key")),
            format!("--client-ca-file={}", p("ca.crt")),
            "--authorization-mode=RBAC".into(),
            format!("--service-account-key-file={}", p("sa.pub")),
            format!("--service-account-signing-key-file={}", p("sa.key")),
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local".into(),
            "--service-cluster-ip-range=10.96.0.0/24".into(),
            "--allow-privileged=true".into(),
            // The `kubernetes` Service endpoints would point at this loopback address, which
            // the reconciler refuses; nothing here needs them.
            "--endpoint-reconciler-type=none".into(),
            // Admission that waits for objects only controllers create (default service
            // accounts) would reject every Pod: no controllers run here.
            "--disable-admission-plugins=ServiceAccount".into(),
            "--v=1".into(),
        ];
        apiserver_args.extend(extra_args.iter().map(|a| a.to_string()));

        // Removes the directory (and what runs from it) should this process die uncleanly.
        let janitor = process::janitor(&dir)?;
        // Built first, so a failed start cleans up through `Drop`.
        let server = ApiServer {
            dir,
            url,
            kubeconfig,
            limited_kubeconfig,
            apiserver_args,
            etcd: Mutex::new(None),
            apiserver: Mutex::new(None),
            janitor: Mutex::new(Some(janitor)),
        };
        let mut etcd = Proc::spawn(&server.dir, "etcd", &bin.join("etcd"), &etcd_args)?;
        let listening = etcd.wait_listening(etcd_port, READY_TIMEOUT);
        *lock(&server.etcd) = Some(etcd);
        listening?;
        let mut apiserver = Proc::spawn(
            &server.dir,
            "kube-apiserver",
            &bin.join("kube-apiserver"),
            &server.apiserver_args,
        )?;
        let ready = wait_ready(&mut apiserver, &server.kubeconfig);
        *lock(&server.apiserver) = Some(apiserver);
        ready?;
        Ok(server)
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        if let Some(p) = lock(&self.apiserver).take() {
            p.stop();
        }
        if let Some(p) = lock(&self.etcd).take() {
            p.stop();
        }
        let _ = fs::remove_dir_all(&self.dir);
        if let Some(j) = lock(&self.janitor).take() {
            j.dismiss();
        }
    }
}

/// Apply every CustomResourceDefinition found in `files` (other kinds are ignored) with
/// server-side apply, then wait until each is Established.
pub async fn install_crds(client: &kube::Client, files: &[PathBuf]) {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let params = PatchParams::apply("homelab-envtest").force();
    let mut names = Vec::new();
    for file in files {
        let text = fs::read_to_string(file)
            .unwrap_or_else(|e| panic!("read CRD file {}: {e}", file.display()));
        let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(&text)
            .unwrap_or_else(|e| panic!("parse YAML {}: {e}", file.display()));
        for doc in docs {
            if doc.get("kind").and_then(|k| k.as_str()) != Some("CustomResourceDefinition") {
                continue;
            }
            let crd: CustomResourceDefinition = serde_json::from_value(doc)
                .unwrap_or_else(|e| panic!("CRD in {} does not parse: {e}", file.display()));
            let name = crd.metadata.name.clone().expect("CRD without a name");
            api.patch(&name, &params, &Patch::Apply(&crd))
                .await
                .unwrap_or_else(|e| panic!("apply CRD {name} from {}: {e}", file.display()));
            names.push(name);
        }
    }
    let deadline = Instant::now() + READY_TIMEOUT;
    for name in names {
        loop {
            let crd = api
                .get(&name)
                .await
                .unwrap_or_else(|e| panic!("get CRD {name}: {e}"));
            let established = crd
                .status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|cs| {
                    cs.iter()
                        .any(|c| c.type_ == "Established" && c.status == "True")
                });
            if established {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "CRD {name} not Established after {READY_TIMEOUT:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// The upstream CRD fixtures: `flux/install.yaml` and every `crds/*.yaml`, sorted.
pub fn fixture_crd_files() -> Vec<PathBuf> {
    let dir = super::fixtures_dir();
    let mut crds: Vec<PathBuf> = fs::read_dir(dir.join("crds"))
        .unwrap_or_else(|e| panic!("list {}: {e}", dir.join("crds").display()))
        .map(|e| e.expect("read fixture dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    crds.sort();
    let mut files = vec![dir.join("flux/install.yaml")];
    files.extend(crds);
    files
}

/// A namespace name unique within this test process (and very likely across processes),
/// so tests can share one server: `<prefix>-<pid>-<n>`, a valid DNS label.
pub fn namespace_name(prefix: &str) -> String {
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let clean: String = prefix
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let clean = clean.trim_matches('-');
    let clean = if clean.is_empty() { "test" } else { clean };
    let suffix = format!(
        "-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    );
    let keep = 63 - suffix.len();
    let head: String = clean.chars().take(keep).collect();
    format!("{}{suffix}", head.trim_end_matches('-'))
}

/// Where the binaries are: `$KUBEBUILDER_ASSETS`, else the `scripts/build-envtest` output.
/// Panics with instructions when they are missing: a test needing a cluster must never pass
/// silently without one.
pub fn binaries_dir() -> PathBuf {
    let has_both = |d: &Path| d.join("kube-apiserver").is_file() && d.join("etcd").is_file();
    if let Some(dir) = std::env::var_os("KUBEBUILDER_ASSETS").map(PathBuf::from)
        && has_both(&dir)
    {
        return dir;
    }
    let dir = envtest_root().join(format!("kube-{KUBE_VERSION}-etcd-{ETCD_VERSION}"));
    assert!(
        has_both(&dir),
        "envtest binaries (kube-apiserver, etcd) not found in {} nor $KUBEBUILDER_ASSETS: \
         run `scripts/build-envtest` first (needs Go >= 1.26; see docs/envtest.md)",
        dir.display()
    );
    dir
}

/// `${CARGO_TARGET_DIR:-target}/envtest`, absolute.
fn envtest_root() -> PathBuf {
    super::target_dir().join("envtest")
}

fn run_root() -> PathBuf {
    let run = envtest_root().join("run");
    fs::create_dir_all(&run).unwrap_or_else(|e| panic!("create {}: {e}", run.display()));
    run
}

/// Remove the servers of test processes that no longer exist. The watchdog normally ends
/// them already; this catches what it could not (e.g. the machine was suspended).
fn reap_stale(run: &Path) {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let Ok(entries) = fs::read_dir(run) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(owner) = name.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
                continue;
            };
            if owner == std::process::id() || Path::new(&format!("/proc/{owner}")).exists() {
                continue;
            }
            process::kill_recorded(&entry.path());
            let _ = fs::remove_dir_all(entry.path());
        }
    });
}

/// A free loopback port. The kernel hands out ephemeral ports round-robin, so a port
/// released here is unlikely to be reused before the server binds it; a collision makes
/// the start fail and [`ApiServer::start`] retries.
///
/// Inside the e2e network namespace the ephemeral range belongs to outgoing connections
/// only (see [`super::netns::LISTEN_PORTS`]): a port is handed out from the range below it,
/// each once, so a supervised server restarted on its port never finds it taken.
pub fn free_port() -> u16 {
    if super::netns::inside() {
        return super::netns::listen_port();
    }
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind a loopback port")
}

/// Wait until `/readyz` answers `ok` to the admin identity. Runs on its own thread with its
/// own runtime, so it works both from plain and from `#[tokio::test]` tests.
fn wait_ready(proc: &mut Proc, kubeconfig: &Path) -> Result<(), String> {
    let deadline = Instant::now() + READY_TIMEOUT;
    let kubeconfig = kubeconfig.to_path_buf();
    let probe = move || -> Result<String, String> {
        let path = kubeconfig.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            rt.block_on(async move {
                let client = client_for(&path).await;
                let req = http::Request::get("/readyz")
                    .body(Vec::new())
                    .map_err(|e| e.to_string())?;
                client.request_text(req).await.map_err(|e| e.to_string())
            })
        })
        .join()
        .unwrap_or_else(|_| Err("readiness probe panicked".into()))
    };
    let mut last;
    loop {
        proc.check_alive()?;
        match probe() {
            Ok(body) if body.trim() == "ok" => return Ok(()),
            Ok(body) => last = body,
            Err(e) => last = e,
        }
        if Instant::now() > deadline {
            return Err(format!(
                "{} not ready after {READY_TIMEOUT:?}: {last}\n{}",
                proc.name,
                proc.log_tail(30)
            ));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

pub async fn client_for(kubeconfig: &Path) -> kube::Client {
    let kc = kube::config::Kubeconfig::read_from(kubeconfig)
        .unwrap_or_else(|e| panic!("read {}: {e}", kubeconfig.display()));
    let options = kube::config::KubeConfigOptions {
        context: Some("envtest".into()),
        ..Default::default()
    };
    let config = kube::Config::from_custom_kubeconfig(kc, &options)
        .await
        .unwrap_or_else(|e| panic!("load {}: {e}", kubeconfig.display()));
    kube::Client::try_from(config).expect("build a kube client")
}

/// A certificate and its private key, PEM.
#[derive(Debug)]
struct Identity {
    cert_pem: String,
    key_pem: String,
}

/// Throwaway PKI for one server: a CA, the serving certificate (127.0.0.1, localhost), two
/// client identities and the service-account signing key.
#[derive(Debug)]
struct Pki {
    ca_pem: String,
    admin: Identity,
    limited: Identity,
}

impl Pki {
    fn generate(dir: &Path) -> Pki {
        let ca_key = KeyPair::generate().expect("CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "homelab-envtest-ca");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca_params.self_signed(&ca_key).expect("self-sign CA");
        let ca_pem = ca_cert.pem();
        let issuer = Issuer::new(ca_params, ca_key);

        let leaf = |sans: Vec<String>, cn: &str, orgs: &[&str], eku: ExtendedKeyUsagePurpose| {
            let key = KeyPair::generate().expect("leaf key");
            let mut params = CertificateParams::new(sans).expect("leaf params");
            params.distinguished_name.push(DnType::CommonName, cn);
            for org in orgs {
                params
                    .distinguished_name
                    .push(DnType::OrganizationName, *org);
            }
            params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
            params.extended_key_usages = vec![eku];
            let cert = params.signed_by(&key, &issuer).expect("sign leaf");
            Identity {
                cert_pem: cert.pem(),
                key_pem: key.serialize_pem(),
            }
        };
        let serving = leaf(
            vec!["127.0.0.1".into(), "localhost".into()],
            "kube-apiserver",
            &[],
            ExtendedKeyUsagePurpose::ServerAuth,
        );
        let admin = leaf(
            Vec::new(),
            "admin",
            &["system:masters"],
            ExtendedKeyUsagePurpose::ClientAuth,
        );
        let limited = leaf(
            Vec::new(),
            "limited",
            &[],
            ExtendedKeyUsagePurpose::ClientAuth,
        );
        let sa_key = KeyPair::generate().expect("service-account key");

        write_private(&dir.join("ca.crt"), &ca_pem);
        write_private(&dir.join("serving.crt"), &serving.cert_pem);
        write_private(&dir.join("serving.key"), &serving.key_pem);
        write_private(&dir.join("sa.key"), &sa_key.serialize_pem());
        write_private(&dir.join("sa.pub"), &sa_key.public_key_pem());
        Pki {
            ca_pem,
            admin,
            limited,
        }
    }
}

/// Write a file readable by its owner only (keys, kubeconfigs with embedded keys).
fn write_private(path: &Path, contents: &str) {
    let mut f = fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    f.write_all(contents.as_bytes())
        .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

fn write_kubeconfig(path: &Path, url: &str, ca_pem: &str, user: &str, id: &Identity) {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let text = format!(
        "apiVersion: v1
kind: Config
clusters:
- name: envtest
  cluster:
    server: {url}
    certificate-authority-data: {ca}
users:
- name: {user}
  user:
    client-certificate-data: {cert}
    client-key-data: {key}
contexts:
- name: envtest
  context:
    cluster: envtest
    user: {user}
current-context: envtest
",
        ca = b64(ca_pem),
        cert = b64(&id.cert_pem),
        key = b64(&id.key_pem),
    );
    write_private(path, &text);
}
