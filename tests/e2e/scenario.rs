//! Scenario mode: a user's whole journey on the simulated cluster, in the README's order.
//!
//! `e2e scenario [--config FILE] [--app NAME]... [--timeout SECS]` (what `scripts/e2e`
//! runs, and what the `scenario_*` tests run): start the cluster (one fake node per node of
//! the configuration, named as there, with its address; the configuration's storage classes
//! bound by kwok's volume stages), the chart mirror and a loopback git server; then
//! `homelab init` (the configuration with `git.url` pointed at the loopback server and
//! `charts.mirror` at the local mirror), `push`, `bootstrap`, `add-app` for each app; wait
//! until every Kustomization and HelmRelease is Ready (Kustomizations at the pushed
//! revision); `homelab doctor`; `homelab bootstrap` once more, which must change nothing;
//! and print one table of every Flux object. Exit 0 only when every step succeeded,
//! everything is Ready and doctor reports no failure other than the checks a simulation
//! cannot pass (each skipped with its reason).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use clap::Parser;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Service};
use kube::api::{Api, DynamicObject, ListParams};
use serde_json::{Value, json};

use crate::flux;
use crate::support::charts::ChartMirror;
use crate::support::cluster::{self, Cluster, ClusterSpec, NodeSpec, block_on};
use crate::support::gitserver::{self, Sshd};
use crate::support::{self, process};

/// Doctor findings a simulation cannot pass, and why they are skipped: (check, a text its
/// message must contain to be skipped, reason).
const SKIPPED_CHECKS: &[(&str, &str, &str)] = &[
    (
        "storage.nfs",
        "",
        "no NFS server is simulated (kwok's volume stages bind the claims) and the network namespace has no route to storage.nfs_server",
    ),
    (
        "dns.hosts",
        "",
        "the isolated network namespace has no DNS resolver; the app hosts cannot resolve",
    ),
    (
        "certs.issuers",
        "no Ready condition",
        "cert-manager's controller is not run (an ACME issuer registers with Let's Encrypt, unreachable here); its webhook is",
    ),
    (
        "certs.certificates",
        "",
        "cert-manager's controller is not run, so no certificate is issued",
    ),
    (
        "lb.ingress",
        "Envoy Gateway's Service does not exist",
        "Envoy Gateway's controller is not run, and it is what creates the Gateway's proxy Deployment and LoadBalancer Service (with Traefik the chart creates the Service, and MetalLB's real controller gives it the ingress address)",
    ),
];

/// The apps `scripts/e2e` adds when none is named.
pub const DEFAULT_APPS: &[&str] = &["nextcloud"];

#[derive(Debug, Parser)]
#[command(
    name = "e2e scenario",
    about = "homelab's README journey on a simulated cluster"
)]
struct Args {
    /// The homelab.yaml to start from (git.url is replaced by the loopback git server);
    /// default: the repository's examples/homelab.yaml.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Apps to add, in order (default: nextcloud).
    #[arg(long = "app")]
    apps: Vec<String>,
    /// Seconds to wait for everything to become Ready after the last step.
    #[arg(long, default_value_t = 600)]
    timeout: u64,
}

/// One step of the journey and how it went.
#[derive(Debug, Clone)]
pub struct Step {
    pub name: String,
    pub code: i32,
    pub seconds: f64,
}

/// Run the scenario; `args` are the words after `scenario`.
pub fn main(args: &[String]) -> ExitCode {
    let args = match Args::try_parse_from(
        std::iter::once("scenario".to_owned()).chain(args.iter().cloned()),
    ) {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(2);
        }
    };
    let apps = if args.apps.is_empty() {
        DEFAULT_APPS.iter().map(|a| a.to_string()).collect()
    } else {
        args.apps.clone()
    };
    let config = args.config.clone().unwrap_or_else(support::example_config);
    match run(&config, &apps, Duration::from_secs(args.timeout)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("e2e scenario: {e}");
            ExitCode::from(2)
        }
    }
}

/// The whole scenario on a cluster of its own, stopped at the end: whether it passed.
pub fn run(config: &Path, apps: &[String], timeout: Duration) -> Result<bool, String> {
    let mut journey = Journey::start(config)?;
    let ok = journey.readme(apps, timeout);
    journey.print_report();
    if !ok {
        eprintln!(
            "\n--- process logs (last lines) ---\n{}",
            journey.cluster.logs(25)
        );
    }
    Ok(ok)
}

pub fn note(message: &str) {
    eprintln!("e2e scenario: {message}");
}

/// The configuration's fields the simulation needs.
struct Plan {
    yaml: Value,
    nodes: Vec<NodeSpec>,
    /// The classes whose claims kwok binds: `storage.storage_class` (NFS) and
    /// `storage.local_class` when set.
    storage_classes: Vec<String>,
    local_class: Option<String>,
    cluster_name: String,
    branch: String,
}

fn read_plan(path: &Path) -> Result<Plan, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("read {}: {e}", path.display()))?;
    let yaml: Value =
        serde_saphyr::from_str(&text).map_err(|e| format!("parse {}: {e}", path.display()))?;
    let nodes = yaml
        .get("nodes")
        .and_then(Value::as_array)
        .ok_or_else(|| format!("{}: no nodes", path.display()))?
        .iter()
        .map(|n| NodeSpec {
            name: n
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            control_plane: n.get("role").and_then(Value::as_str) == Some("control-plane"),
            address: n
                .get("address")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
        })
        .collect();
    let text_at = |pointer: &str| {
        yaml.pointer(pointer)
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let local_class = text_at("/storage/local_class");
    let storage_classes = [
        Some(text_at("/storage/storage_class").unwrap_or_else(|| "nfs".to_owned())),
        local_class.clone(),
    ]
    .into_iter()
    .flatten()
    .collect();
    Ok(Plan {
        nodes,
        storage_classes,
        local_class,
        cluster_name: text_at("/cluster/name").unwrap_or_else(|| "homelab".to_owned()),
        branch: text_at("/git/branch").unwrap_or_else(|| "main".to_owned()),
        yaml,
    })
}

/// Point the homelab at the local chart mirror the way a user would: the `charts.mirror`
/// keys of homelab.yaml. The Helm repository is plain HTTP (an `http://` URL); the OCI
/// registry speaks plain HTTP too, hence `insecure`.
fn set_chart_mirror(config: &mut Value, mirror: &ChartMirror) {
    config["charts"] = json!({
        "mirror": {
            "helm_repository": mirror.helm_url(),
            "oci_registry": format!("oci://{}", mirror.oci_host()),
            "insecure": true,
        }
    });
    note(&format!(
        "charts.mirror: Helm repository {}, OCI registry oci://{} (insecure)",
        mirror.helm_url(),
        mirror.oci_host()
    ));
}

/// The node-local StorageClass a k3s cluster ships (`local-path`), under the name
/// `storage.local_class` gives: the cluster provides it, homelab only names it.
fn local_storage_class(name: &str) -> Value {
    json!({
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": name},
        "provisioner": "rancher.io/local-path",
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "WaitForFirstConsumer",
    })
}

/// The environment variable of the configured DNS provider's credential, with a stand-in
/// value (it only ever goes into a Secret of the simulated cluster).
fn dns_credential(yaml: &Value, home: &Path) -> Vec<(String, String)> {
    let challenge = yaml
        .pointer("/certificates/challenge")
        .and_then(Value::as_str);
    if challenge != Some("dns01") {
        return Vec::new();
    }
    let provider = yaml
        .pointer("/certificates/dns_provider")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let (var, is_file) = match provider {
        "cloudflare" => ("CLOUDFLARE_API_TOKEN", false),
        "route53" => ("AWS_SECRET_ACCESS_KEY", false),
        "digitalocean" => ("DIGITALOCEAN_TOKEN", false),
        "clouddns" => ("GOOGLE_APPLICATION_CREDENTIALS", true),
        "azuredns" => ("AZURE_CLIENT_SECRET", false),
        "rfc2136" => ("RFC2136_TSIG_SECRET", false),
        _ => return Vec::new(),
    };
    if is_file {
        let file = home.join("dns-credentials.json");
        let _ = std::fs::write(&file, "{\"type\": \"service_account\"}\n");
        vec![(var.to_owned(), file.display().to_string())]
    } else {
        vec![(var.to_owned(), "e2e-simulated-credential".to_owned())]
    }
}

/// When each Flux object was first seen Ready at its current revision.
#[derive(Debug, Default, Clone)]
struct Seen {
    revision: String,
    ready_at: Option<SystemTime>,
}

type Observed = Arc<std::sync::Mutex<BTreeMap<(String, String, String), Seen>>>;

/// Record, for every Flux object, when it became Ready at its current revision.
async fn observe(client: kube::Client, observed: Observed) {
    let any = homelab::kube::wait::Check::FluxReady { revision: None };
    for (kind, ..) in flux::KINDS {
        for obj in flux::list(&client, kind).await {
            let revision = flux::revision(&obj);
            let is_ready = homelab::kube::wait::evaluate(&obj, &any).ready;
            let mut map = process::lock(&observed);
            let seen = map.entry(key_of(kind, &obj)).or_default();
            if seen.revision != revision {
                seen.revision = revision;
                seen.ready_at = None;
            }
            if is_ready && seen.ready_at.is_none() {
                seen.ready_at = Some(SystemTime::now());
            }
        }
    }
}

fn key_of(kind: &str, obj: &Value) -> (String, String, String) {
    let meta = |p: &str| {
        obj.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    (
        kind.to_owned(),
        meta("/metadata/namespace"),
        meta("/metadata/name"),
    )
}

/// What one `homelab` run did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub seconds: f64,
}

/// A user's homelab on a simulated cluster: the cluster, the chart mirror, the git forge,
/// the user's environment and repository, and what happened so far. Everything stops
/// when it is dropped.
pub struct Journey {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    observed: Observed,
    /// What the journey did so far, and the problems it found.
    pub steps: Vec<Step>,
    pub problems: Vec<String>,
    pub repo: PathBuf,
    pub remote: PathBuf,
    pub branch: String,
    /// The configuration `init` starts from (the user's, pointed at the loopback servers).
    pub config: PathBuf,
    cluster_name: String,
    env: Vec<(String, String)>,
    started: Instant,
    // Field order is drop order: the servers before the cluster that owns their directory.
    _sshd: Arc<Sshd>,
    _mirror: ChartMirror,
    pub cluster: Cluster,
}

impl Drop for Journey {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

impl Journey {
    /// Start the cluster for `config_file` and everything around it; nothing of homelab has
    /// run yet. Flux's controllers start once bootstrap applied their CRDs, and the deploy
    /// key is added on the forge as soon as bootstrap shows it (what the user does).
    pub fn start(config_file: &Path) -> Result<Journey, String> {
        let started = Instant::now();
        let mut plan = read_plan(config_file)?;
        note(&format!(
            "{}: {} node(s), storage classes {}",
            config_file.display(),
            plan.nodes.len(),
            plan.storage_classes.join(", "),
        ));
        let cluster = Cluster::start(&ClusterSpec {
            nodes: plan.nodes.clone(),
            storage_classes: plan.storage_classes.clone(),
        });
        if let Some(class) = &plan.local_class {
            let doc = local_storage_class(class);
            block_on(async {
                let client = cluster.client().await;
                homelab::kube::apply::apply_documents(
                    &client,
                    &[doc],
                    homelab::kube::apply::ApplyOptions::default(),
                )
                .await
                .map(|_| ())
                .map_err(|e| format!("create StorageClass {class}: {}", e.message))
            })?;
        }
        let work = cluster.dir().join("scenario");
        let home = work.join("home");
        std::fs::create_dir_all(home.join(".ssh")).map_err(|e| e.to_string())?;
        let mirror = ChartMirror::start(&cluster.dir().join("charts"), cluster.bins());

        // The git forge: an sshd that lets in the user's key, and later Flux's deploy key.
        let user_key = gitserver::keygen(&home.join(".ssh").join("id_ed25519"), "");
        let sshd = Sshd::start(&work.join("sshd"), &[gitserver::public_key(&user_key)]);
        std::fs::write(
            home.join(".ssh").join("known_hosts"),
            sshd.known_hosts_line(),
        )
        .map_err(|e| e.to_string())?;
        let remote = gitserver::bare_repo(&work.join("remote").join("homelab.git"), &plan.branch);

        plan.yaml["git"]["url"] = Value::String(sshd.url(&remote));
        set_chart_mirror(&mut plan.yaml, &mirror);
        let config = work.join("homelab.yaml");
        std::fs::write(
            &config,
            serde_saphyr::to_string(&plan.yaml).map_err(|e| e.to_string())?,
        )
        .map_err(|e| e.to_string())?;

        let mut env: Vec<(String, String)> = vec![
            ("HOME".into(), home.display().to_string()),
            (
                "XDG_CONFIG_HOME".into(),
                home.join(".config").display().to_string(),
            ),
            (
                "KUBECONFIG".into(),
                cluster.kubeconfig().display().to_string(),
            ),
            ("HOMELAB_SSH_KEY".into(), user_key.display().to_string()),
            (
                "HOMELAB_FLUX_MANIFESTS".into(),
                support::flux_install().display().to_string(),
            ),
            ("NO_COLOR".into(), "1".into()),
        ];
        env.extend(dns_credential(&plan.yaml, &home));

        cluster.start_flux();
        let stop = Arc::new(AtomicBool::new(false));
        let observed: Observed = Arc::default();
        let observer = cluster::every(
            cluster.kubeconfig().to_path_buf(),
            Duration::from_secs(1),
            stop.clone(),
            {
                let observed = observed.clone();
                move |client| observe(client, observed.clone())
            },
        );
        let sshd = Arc::new(sshd);
        let forge = cluster::every(
            cluster.kubeconfig().to_path_buf(),
            Duration::from_millis(500),
            stop.clone(),
            {
                let sshd = sshd.clone();
                move |client| {
                    let sshd = sshd.clone();
                    async move {
                        let (ns, name) = homelab::bootstrap::cluster_secrets::GIT_SECRET;
                        cluster::authorize_deploy_key(&client, &sshd, ns, name).await;
                    }
                }
            },
        );
        note(&format!(
            "cluster, chart mirror and git server up in {:.1}s",
            started.elapsed().as_secs_f64()
        ));
        Ok(Journey {
            stop,
            threads: vec![observer, forge],
            observed,
            steps: Vec::new(),
            problems: Vec::new(),
            repo: work.join("repo"),
            remote,
            branch: plan.branch,
            config,
            cluster_name: plan.cluster_name,
            env,
            started,
            _sshd: sshd,
            _mirror: mirror,
            cluster,
        })
    }

    /// `homelab <words> --dir <repo>` as the user, its output echoed; not recorded as a step.
    pub fn homelab(&self, words: &[&str]) -> Run {
        note(&format!(
            "$ homelab {} --dir {}",
            words.join(" "),
            self.repo.display()
        ));
        let started = Instant::now();
        let out = self.command(words).stdin(Stdio::null()).output();
        let seconds = started.elapsed().as_secs_f64();
        let run = match out {
            Ok(out) => Run {
                code: out.status.code().unwrap_or(-1),
                stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
                seconds,
            },
            Err(e) => Run {
                code: -1,
                stdout: String::new(),
                stderr: format!("cannot run homelab: {e}"),
                seconds,
            },
        };
        for line in run.stdout.lines() {
            eprintln!("  | {line}");
        }
        for line in run.stderr.lines() {
            eprintln!("  ! {line}");
        }
        note(&format!(
            "{}: exit {} after {:.1}s",
            words.first().copied().unwrap_or_default(),
            run.code,
            run.seconds
        ));
        run
    }

    /// `homelab <words> --dir <repo>` started in the background, its output going to
    /// `<name>.out` / `<name>.err` in the journey's directory.
    pub fn spawn_homelab(&self, name: &str, words: &[&str]) -> Result<Child, String> {
        note(&format!(
            "$ homelab {} --dir {} &",
            words.join(" "),
            self.repo.display()
        ));
        let dir = self.repo.parent().unwrap_or(&self.repo).to_path_buf();
        let file = |ext: &str| {
            std::fs::File::create(dir.join(format!("{name}.{ext}"))).map_err(|e| e.to_string())
        };
        self.command(words)
            .stdin(Stdio::null())
            .stdout(file("out")?)
            .stderr(file("err")?)
            .spawn()
            .map_err(|e| format!("cannot run homelab: {e}"))
    }

    /// What a background run started with [`spawn_homelab`](Self::spawn_homelab) printed.
    pub fn spawned_output(&self, name: &str) -> (String, String) {
        let dir = self.repo.parent().unwrap_or(&self.repo).to_path_buf();
        let read = |ext: &str| {
            std::fs::read_to_string(dir.join(format!("{name}.{ext}"))).unwrap_or_default()
        };
        (read("out"), read("err"))
    }

    fn command(&self, words: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_homelab"));
        cmd.args(words)
            .arg("--dir")
            .arg(&self.repo)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env_remove("HOMELAB_GIT_TOKEN")
            .env_remove("HOMELAB_AGE_KEY_FILE");
        cmd
    }

    /// [`homelab`](Self::homelab), recorded as a step; true when it exited 0.
    pub fn step(&mut self, name: &str, words: &[&str]) -> bool {
        let run = self.homelab(words);
        self.steps.push(Step {
            name: name.to_owned(),
            code: run.code,
            seconds: run.seconds,
        });
        run.code == 0
    }

    /// The README's journey, then the checks: init, push, bootstrap, add-app for each app,
    /// everything Ready, doctor, a second bootstrap that changes nothing. Whether all held.
    pub fn readme(&mut self, apps: &[String], timeout: Duration) -> bool {
        note(&format!("apps: {}", apps.join(", ")));
        let config = self.config.display().to_string();
        // A failed step stops the journey: what follows would only fail for its sake.
        let mut ok = self.step("init", &["init", "--config", &config, "--yes"])
            && self.step("push", &["push"])
            && self.step("bootstrap", &["bootstrap", "--yes"]);
        for app in apps {
            ok = ok && self.step(&format!("add-app {app}"), &["add-app", app, "--yes"]);
        }
        if !ok {
            return false;
        }
        self.wait_all_ready(timeout);
        let workloads = block_on(claims_and_addresses(&self.cluster));
        self.problems.extend(workloads);
        let failures = self.doctor();
        self.problems.extend(failures);
        let unchanged = self.bootstrap_again();
        self.problems.extend(unchanged);
        self.passed()
    }

    /// Whether every step succeeded and no problem was found.
    pub fn passed(&self) -> bool {
        self.steps.iter().all(|s| s.code == 0) && self.problems.is_empty()
    }

    /// `<branch>@sha1:<commit>` of what was pushed to the forge.
    pub fn pushed(&self) -> Option<String> {
        gitserver::rev(&self.remote, &self.branch).map(|c| format!("{}@sha1:{c}", self.branch))
    }

    /// Wait until every Kustomization is Ready at the pushed revision and every HelmRelease
    /// is Ready; recorded as a step.
    pub fn wait_all_ready(&mut self, timeout: Duration) -> bool {
        let pushed = self.pushed();
        note(&format!(
            "waiting up to {}s for every Kustomization and HelmRelease to be Ready (pushed: {})",
            timeout.as_secs(),
            pushed.as_deref().unwrap_or("nothing")
        ));
        let started = Instant::now();
        let ready = block_on(wait_all_ready(&self.cluster, pushed.as_deref(), timeout));
        self.steps.push(Step {
            name: "wait for Ready".into(),
            code: if ready { 0 } else { 1 },
            seconds: started.elapsed().as_secs_f64(),
        });
        ready
    }

    /// `homelab doctor --output json`, recorded as a step: its failed findings other than
    /// the checks a simulation cannot pass (those are noted as skipped, with the reason).
    pub fn doctor(&mut self) -> Vec<String> {
        let (step, _, failures) = self.doctor_report();
        self.steps.push(step);
        failures
    }

    /// `homelab doctor --output json`: the step, the report, and the counted failures.
    pub fn doctor_report(&self) -> (Step, Value, Vec<String>) {
        let run = self.homelab(&["doctor", "--output", "json"]);
        let step = |failures: &[String]| Step {
            name: "doctor".into(),
            code: if failures.is_empty() { 0 } else { 1 },
            seconds: run.seconds,
        };
        let report: Value = match serde_json::from_str(&run.stdout) {
            Ok(v) => v,
            Err(e) => {
                let failures = vec![format!(
                    "doctor printed no JSON report ({e}); stderr:\n{}",
                    run.stderr
                )];
                return (step(&failures), Value::Null, failures);
            }
        };
        let mut failures = Vec::new();
        for finding in findings(&report) {
            let field = |k: &str| finding.get(k).and_then(Value::as_str).unwrap_or_default();
            let (check, status, message, hint) = (
                field("check"),
                field("status"),
                field("message"),
                field("hint"),
            );
            if status != "failed" {
                continue;
            }
            if let Some((.., why)) = SKIPPED_CHECKS
                .iter()
                .find(|(c, text, _)| *c == check && message.contains(text))
            {
                note(&format!("doctor: skipping {check} ({message}): {why}"));
                continue;
            }
            failures.push(if hint.is_empty() {
                format!("{check}: {message}")
            } else {
                format!("{check}: {message} (hint: {hint})")
            });
        }
        note(&format!(
            "doctor: exit {}, {} failure(s) counted",
            run.code,
            failures.len()
        ));
        (step(&failures), report, failures)
    }

    /// `homelab bootstrap --yes` once more, recorded as a step: it must report no change,
    /// and no object it applies may have been written by it (resourceVersions compared; an
    /// object a controller wrote meanwhile is told apart by its field managers). The
    /// problems found.
    pub fn bootstrap_again(&mut self) -> Vec<String> {
        let mut problems = Vec::new();
        let before = match block_on(bootstrap_objects(self)) {
            Ok(v) => v,
            Err(e) => return vec![format!("second bootstrap: {e}")],
        };
        let run = self.homelab(&["bootstrap", "--yes"]);
        let after = match block_on(bootstrap_objects(self)) {
            Ok(v) => v,
            Err(e) => return vec![format!("second bootstrap: {e}")],
        };
        if run.code != 0 {
            problems.push(format!("second bootstrap: exit {}", run.code));
        }
        if !run
            .stderr
            .contains("No changes: the cluster already matches")
        {
            problems.push("second bootstrap: it did not report \"No changes\"".to_owned());
        }
        for line in run.stdout.lines().filter(|l| !l.trim().is_empty()) {
            problems.push(format!("second bootstrap reported: {}", line.trim()));
        }
        for (id, (version, ours)) in &before {
            match after.get(id) {
                None => problems.push(format!("second bootstrap: {id} is gone")),
                Some((v, o)) if v != version && o != ours => problems.push(format!(
                    "second bootstrap wrote {id} (resourceVersion {version} → {v})"
                )),
                Some((v, _)) if v != version => note(&format!(
                    "{id}: resourceVersion {version} → {v}, not by homelab (a controller)"
                )),
                Some(_) => {}
            }
        }
        note(&format!(
            "second bootstrap: {} objects compared, {} problem(s)",
            before.len(),
            problems.len()
        ));
        self.steps.push(Step {
            name: "bootstrap again".into(),
            code: if problems.is_empty() { 0 } else { 1 },
            seconds: run.seconds,
        });
        problems
    }

    /// The directory of the rendered flux-system kustomization.
    pub fn flux_system_dir(&self) -> PathBuf {
        self.repo
            .join("clusters")
            .join(&self.cluster_name)
            .join("flux-system")
    }

    /// The table of every Flux object, the steps, the problems and the verdict, on stdout.
    pub fn print_report(&self) {
        let table = block_on(flux_table(&self.cluster, &self.observed));
        println!("{table}");
        println!("steps:");
        for step in &self.steps {
            println!(
                "  {:<24} {:>6.1}s  {}",
                step.name,
                step.seconds,
                if step.code == 0 {
                    "ok".to_owned()
                } else {
                    format!("FAILED (exit {})", step.code)
                }
            );
        }
        if !self.problems.is_empty() {
            println!("problems:");
            for problem in &self.problems {
                println!("  {problem}");
            }
        }
        println!(
            "scenario {} in {:.0}s",
            if self.passed() { "PASSED" } else { "FAILED" },
            self.started.elapsed().as_secs_f64()
        );
    }
}

/// The PersistentVolumeClaims per storage class: (bound, all).
pub async fn claims_by_class(cluster: &Cluster) -> BTreeMap<String, (usize, usize)> {
    let client = cluster.client().await;
    let api: Api<PersistentVolumeClaim> = Api::all(client);
    let mut out: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for claim in api
        .list(&ListParams::default())
        .await
        .map(|l| l.items)
        .unwrap_or_default()
    {
        let class = claim
            .spec
            .and_then(|s| s.storage_class_name)
            .unwrap_or_default();
        let bound = claim.status.and_then(|s| s.phase).as_deref() == Some("Bound");
        let entry = out.entry(class).or_default();
        entry.0 += usize::from(bound);
        entry.1 += 1;
    }
    out
}

/// What the workloads need beyond Ready releases: every claim Bound (kwok's volume stages,
/// for every class the configuration uses), and every LoadBalancer Service that asks
/// MetalLB for a fixed address (`metallb.io/loadBalancerIPs`) given exactly that address
/// by MetalLB's real controller. The problems found.
async fn claims_and_addresses(cluster: &Cluster) -> Vec<String> {
    let mut problems = Vec::new();
    for (class, (bound, all)) in claims_by_class(cluster).await {
        note(&format!(
            "claims of class {class:?}: {bound} of {all} Bound"
        ));
        if bound != all {
            problems.push(format!(
                "{} claim(s) of class {class:?} not Bound",
                all - bound
            ));
        }
    }
    let client = cluster.client().await;
    let services: Api<Service> = Api::all(client);
    for svc in services
        .list(&ListParams::default())
        .await
        .map(|l| l.items)
        .unwrap_or_default()
    {
        let wanted = svc
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get("metallb.io/loadBalancerIPs"))
            .cloned();
        let Some(wanted) = wanted else { continue };
        let got: Vec<String> = svc
            .status
            .and_then(|s| s.load_balancer)
            .and_then(|lb| lb.ingress)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|i| i.ip)
            .collect();
        let id = format!(
            "Service {}/{}",
            svc.metadata.namespace.unwrap_or_default(),
            svc.metadata.name.unwrap_or_default()
        );
        if got.join(",") == wanted {
            note(&format!("{id}: MetalLB assigned {wanted}"));
        } else {
            problems.push(format!("{id} asked for {wanted}, has {got:?}"));
        }
    }
    problems
}

/// Every finding of a doctor JSON report.
pub fn findings(report: &Value) -> impl Iterator<Item = &Value> {
    report
        .get("sections")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .flat_map(|section| {
            section
                .get("findings")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
        })
}

/// `Kind/namespace/name` → (resourceVersion, the times of homelab's field-manager entries)
/// of every object bootstrap applies: the rendered flux-system files and the Secrets in
/// the namespaces bootstrap writes Secrets to.
async fn bootstrap_objects(
    journey: &Journey,
) -> Result<BTreeMap<String, (String, Vec<String>)>, String> {
    let client = journey.cluster.client().await;
    let mut docs = Vec::new();
    let dir = journey.flux_system_dir();
    for entry in std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))? {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.file_name().is_some_and(|n| n == "kustomization.yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
        docs.extend(
            homelab::kube::apply::parse_documents(&text)
                .map_err(|e| format!("{}: {e}", path.display()))?,
        );
    }
    let mut applier = homelab::kube::apply::Applier::new(
        client.clone(),
        homelab::kube::apply::ApplyOptions::default(),
    );
    let mut objects = Vec::new();
    for doc in &docs {
        let text = |p: &str| doc.pointer(p).and_then(Value::as_str).unwrap_or_default();
        let resolved = applier
            .resolve(text("/apiVersion"), text("/kind"))
            .await
            .map_err(|e| e.message)?
            .ok_or_else(|| format!("the cluster does not serve {}", text("/kind")))?;
        let api: Api<DynamicObject> = if resolved.namespaced {
            Api::namespaced_with(
                client.clone(),
                text("/metadata/namespace"),
                &resolved.resource,
            )
        } else {
            Api::all_with(client.clone(), &resolved.resource)
        };
        if let Some(obj) = api
            .get_opt(text("/metadata/name"))
            .await
            .map_err(|e| e.to_string())?
        {
            objects.push((text("/kind").to_owned(), obj));
        }
    }
    for ns in [
        "flux-system",
        homelab::component::ComponentId::CertManager.namespace(),
    ] {
        let secrets: Api<DynamicObject> = Api::namespaced_with(
            client.clone(),
            ns,
            &kube::api::ApiResource::erase::<k8s_openapi::api::core::v1::Secret>(&()),
        );
        for obj in secrets
            .list(&ListParams::default())
            .await
            .map_err(|e| e.to_string())?
        {
            objects.push(("Secret".to_owned(), obj));
        }
    }
    Ok(objects
        .into_iter()
        .map(|(kind, obj)| {
            let id = format!(
                "{kind}/{}{}",
                obj.metadata
                    .namespace
                    .as_deref()
                    .map(|n| format!("{n}/"))
                    .unwrap_or_default(),
                obj.metadata.name.clone().unwrap_or_default()
            );
            let ours = obj
                .metadata
                .managed_fields
                .unwrap_or_default()
                .into_iter()
                .filter(|m| m.manager.as_deref() == Some(homelab::kube::apply::FIELD_MANAGER))
                .map(|m| format!("{:?}", m.time))
                .collect();
            (
                id,
                (obj.metadata.resource_version.unwrap_or_default(), ours),
            )
        })
        .collect())
}

/// Whether every Kustomization (at `pushed`, when known) and every HelmRelease became Ready
/// within `timeout`. There must be at least one Kustomization.
pub async fn wait_all_ready(cluster: &Cluster, pushed: Option<&str>, timeout: Duration) -> bool {
    let client = cluster.client().await;
    let deadline = Instant::now() + timeout;
    loop {
        let kustomizations = flux::list(&client, "Kustomization").await;
        let releases = flux::list(&client, "HelmRelease").await;
        let at_revision = homelab::kube::wait::Check::FluxReady {
            revision: pushed.map(str::to_owned),
        };
        let any = homelab::kube::wait::Check::FluxReady { revision: None };
        let k_ready = kustomizations
            .iter()
            .all(|k| homelab::kube::wait::evaluate(k, &at_revision).ready);
        let r_ready = releases
            .iter()
            .all(|r| homelab::kube::wait::evaluate(r, &any).ready);
        if !kustomizations.is_empty() && k_ready && r_ready {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        // Often enough for the benchmark's figures (scripts/bench-e2e) to be exact to a second.
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// One table of every Flux object: kind, namespace/name, Ready, revision, seconds from its
/// creation to Ready at that revision, and the Ready message of those not Ready.
async fn flux_table(cluster: &Cluster, observed: &Observed) -> String {
    let client = cluster.client().await;
    let mut rows = vec![[
        "KIND".to_owned(),
        "NAME".to_owned(),
        "READY".to_owned(),
        "REVISION".to_owned(),
        "SECONDS".to_owned(),
    ]];
    let mut messages = Vec::new();
    for (kind, ..) in flux::KINDS {
        for obj in flux::list(&client, kind).await {
            let key = key_of(kind, &obj);
            let (status, message) = flux::ready(&obj);
            let created = obj
                .pointer("/metadata/creationTimestamp")
                .and_then(Value::as_str)
                .and_then(parse_rfc3339);
            let seen = process::lock(observed).get(&key).cloned();
            let seconds = match (created, seen.and_then(|s| s.ready_at)) {
                (Some(c), Some(r)) => r
                    .duration_since(c)
                    .map(|d| format!("{}", d.as_secs()))
                    .unwrap_or_else(|_| "0".into()),
                _ => "-".into(),
            };
            let id = format!("{}/{}", key.1, key.2);
            if status != "True" {
                messages.push(format!("{kind} {id}: {message}"));
            }
            rows.push([kind.to_string(), id, status, flux::revision(&obj), seconds]);
        }
    }
    let widths: Vec<usize> = (0..5)
        .map(|i| rows.iter().map(|r| r[i].len()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in &rows {
        let line: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(i, cell)| format!("{cell:<w$}", w = widths[i]))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    if !messages.is_empty() {
        out.push_str("\nnot Ready:\n");
        for m in messages {
            out.push_str(&format!("  {m}\n"));
        }
    }
    out
}

/// `2026-11-30T22:34:16Z` → a time (Kubernetes timestamps are UTC, whole seconds).
fn parse_rfc3339(text: &str) -> Option<SystemTime> {
    let (date, time) = text.trim_end_matches('Z').split_once('T')?;
    let mut d = date.split('-').map(|p| p.parse::<i64>());
    let (y, m, day) = (d.next()?.ok()?, d.next()?.ok()?, d.next()?.ok()?);
    let mut t = time
        .split(':')
        .map(|p| p.split('.').next().unwrap_or("0").parse::<i64>());
    let (h, min, s) = (t.next()?.ok()?, t.next()?.ok()?, t.next()?.ok()?);
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + min * 60 + s;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).ok()?))
}
