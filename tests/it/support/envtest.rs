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
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
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
}

impl ApiServer {
    /// Start a fresh, private server. Panics (with the reason and the process log) if it
    /// cannot start; never skips.
    pub fn start() -> ApiServer {
        let bin = binaries_dir();
        let run = run_root();
        reap_stale(&run);
        let mut last_err = String::new();
        for _ in 0..START_ATTEMPTS {
            match Self::try_start(&bin, &run) {
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

    fn try_start(bin: &Path, run: &Path) -> Result<ApiServer, String> {
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
        let apiserver_args: Vec<String> = vec![
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

        let mut etcd = Proc::spawn(&dir, "etcd", &bin.join("etcd"), &etcd_args)?;
        if let Err(e) = wait_port(&mut etcd, etcd_port) {
            etcd.stop();
            return Err(e);
        }
        let mut apiserver = match Proc::spawn(
            &dir,
            "kube-apiserver",
            &bin.join("kube-apiserver"),
            &apiserver_args,
        ) {
            Ok(p) => p,
            Err(e) => {
                etcd.stop();
                return Err(e);
            }
        };
        if let Err(e) = wait_ready(&mut apiserver, &kubeconfig) {
            apiserver.stop();
            etcd.stop();
            return Err(e);
        }
        Ok(ApiServer {
            dir,
            url,
            kubeconfig,
            limited_kubeconfig,
            apiserver_args,
            etcd: Mutex::new(Some(etcd)),
            apiserver: Mutex::new(Some(apiserver)),
        })
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
    }
}

/// A lock that stays usable after a test panicked while holding it.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
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
            for pidfile in ["etcd.pid", "kube-apiserver.pid"] {
                if let Ok(pid) = fs::read_to_string(entry.path().join(pidfile))
                    && let Ok(pid) = pid.trim().parse::<u32>()
                    && owned_by(pid, &entry.path())
                {
                    signal_group(pid, "KILL");
                }
            }
            let _ = fs::remove_dir_all(entry.path());
        }
    });
}

/// Whether `pid` still is a watchdog of the server in `dir` (guards against pid reuse).
fn owned_by(pid: u32, dir: &Path) -> bool {
    fs::read(format!("/proc/{pid}/cmdline"))
        .map(|c| String::from_utf8_lossy(&c).contains(&*dir.to_string_lossy()))
        .unwrap_or(false)
}

/// Send a signal to a whole process group (watchdog + server) with the `kill` utility
/// (no `unsafe` libc calls in this crate).
fn signal_group(pgid: u32, signal: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg("--")
        .arg(format!("-{pgid}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// A free loopback port. The kernel hands out ephemeral ports round-robin, so a port
/// released here is unlikely to be reused before the server binds it; a collision makes
/// the start fail and [`ApiServer::start`] retries.
fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind a loopback port")
}

/// The watchdog: runs the server in the background and polls the test process; when the
/// test process is gone (or the watchdog is told to stop) the server is killed. SIGKILL,
/// not a graceful stop: the data is thrown away anyway, and a graceful kube-apiserver
/// shutdown takes seconds. `$1` = test pid, the rest = the server command line.
const WATCHDOG: &str = r#"
owner=$1; shift
"$@" &
child=$!
stop() { kill -KILL "$child" 2>/dev/null; wait "$child"; exit 0; }
trap stop TERM INT HUP
while kill -0 "$owner" 2>/dev/null && kill -0 "$child" 2>/dev/null; do sleep 0.5; done
kill -0 "$owner" 2>/dev/null || stop
wait "$child"
"#;

/// One server process under its watchdog, in its own process group.
#[derive(Debug)]
struct Proc {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Proc {
    fn spawn(dir: &Path, name: &str, bin: &Path, args: &[String]) -> Result<Proc, String> {
        let log = dir.join(format!("{name}.log"));
        let out = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .map_err(|e| format!("open {}: {e}", log.display()))?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        let child = Command::new("sh")
            .arg("-c")
            .arg(WATCHDOG)
            .arg(format!("envtest-watchdog {}", dir.display()))
            .arg(std::process::id().to_string())
            .arg(bin)
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
            .map_err(|e| format!("start {}: {e}", bin.display()))?;
        let _ = fs::write(dir.join(format!("{name}.pid")), child.id().to_string());
        Ok(Proc {
            name: name.into(),
            child,
            log,
        })
    }

    /// Fails with the log tail if the process has already exited.
    fn check_alive(&mut self) -> Result<(), String> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(format!(
                "{} exited ({status}); last log lines:\n{}",
                self.name,
                self.log_tail()
            )),
            Err(e) => Err(format!("{}: {e}", self.name)),
        }
    }

    fn log_tail(&self) -> String {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// Kill the whole group (watchdog and server) and reap the watchdog. Like a crash:
    /// etcd keeps its data consistent, and restart tests want exactly that.
    fn stop(mut self) {
        signal_group(self.child.id(), "KILL");
        let _ = self.child.wait();
        // The server was a child of the watchdog; wait until it is really gone so its port
        // is free for a restart.
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline && group_alive(self.child.id()) {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Whether any process of group `pgid` still runs (finished zombies excluded).
fn group_alive(pgid: u32) -> bool {
    let Ok(entries) = fs::read_dir("/proc") else {
        return false;
    };
    entries.flatten().any(|e| {
        fs::read_to_string(e.path().join("stat")).is_ok_and(|stat| {
            // Fields after the command name: state ppid pgrp ...
            let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
            let mut f = rest.split_whitespace();
            let state = f.next();
            let pgrp = f.nth(1);
            // A zombie leader may still have threads tearing down (holding its sockets).
            let running = state != Some("Z")
                || fs::read_dir(e.path().join("task")).is_ok_and(|t| t.count() > 1);
            running && pgrp == Some(pgid.to_string().as_str())
        })
    })
}

/// Wait until something accepts connections on the loopback `port`.
fn wait_port(proc: &mut Proc, port: u16) -> Result<(), String> {
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        proc.check_alive()?;
        if std::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "{} not listening on {port} after {READY_TIMEOUT:?}\n{}",
                proc.name,
                proc.log_tail()
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
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
                proc.log_tail()
            ));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

async fn client_for(kubeconfig: &Path) -> kube::Client {
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
