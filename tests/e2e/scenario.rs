//! Scenario mode: a user's whole journey on the simulated cluster, in the README's order.
//!
//! `e2e scenario [--config FILE] [--app NAME]... [--timeout SECS]` (what `scripts/e2e`
//! runs): start the cluster (one fake node per node of the configuration, named as there,
//! with its address; the configuration's storage class bound by kwok's volume stages), the
//! chart mirror and a loopback git server; then `homelab init` (the configuration with
//! `git.url` pointed at the loopback server), `push`, `bootstrap`, `add-app` for each app;
//! wait until every Kustomization and HelmRelease is Ready (Kustomizations at the pushed
//! revision); `homelab doctor`; and print one table of every Flux object. Exit 0 only when
//! every step succeeded, everything is Ready and doctor reports no failure other than the
//! checks a simulation cannot pass (each skipped with its reason).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use clap::Parser;
use serde_json::Value;

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
];

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
#[derive(Debug)]
struct Step {
    name: String,
    code: i32,
    seconds: f64,
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
        vec!["nextcloud".to_owned()]
    } else {
        args.apps.clone()
    };
    let config = args.config.clone().unwrap_or_else(support::example_config);
    match run(&config, args.timeout, &apps) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("e2e scenario: {e}");
            ExitCode::from(2)
        }
    }
}

fn note(message: &str) {
    eprintln!("e2e scenario: {message}");
}

/// The configuration's fields the simulation needs.
struct Plan {
    yaml: Value,
    nodes: Vec<NodeSpec>,
    storage_class: String,
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
    let storage_class = yaml
        .pointer("/storage/storage_class")
        .and_then(Value::as_str)
        .unwrap_or("nfs")
        .to_owned();
    let branch = yaml
        .pointer("/git/branch")
        .and_then(Value::as_str)
        .unwrap_or("main")
        .to_owned();
    Ok(Plan {
        yaml,
        nodes,
        storage_class,
        branch,
    })
}

/// THE ONE PLACE where the scenario points the homelab at the local chart mirror.
///
/// homelab.yaml has no chart mirror setting yet, so today this changes nothing and the
/// rendered HelmRepository and OCIRepository sources point at the charts' upstream hosts,
/// which the isolated network cannot reach. When the setting exists, set it here from
/// `mirror.helm_url()` and `mirror.oci_host()` (plain HTTP: insecure).
fn set_chart_mirror(_config: &mut Value, mirror: &ChartMirror) {
    note(&format!(
        "chart mirror at {} (Helm) and {} (OCI) is NOT configured: homelab.yaml has no chart mirror setting yet",
        mirror.helm_url(),
        mirror.oci_host()
    ));
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

fn run(config_file: &Path, timeout: u64, apps: &[String]) -> Result<bool, String> {
    let started = Instant::now();
    let mut plan = read_plan(config_file)?;
    note(&format!(
        "{}: {} node(s), storage class {}, apps {}",
        config_file.display(),
        plan.nodes.len(),
        plan.storage_class,
        apps.join(", ")
    ));
    let cluster = Cluster::start(&ClusterSpec {
        nodes: plan.nodes.clone(),
        storage_classes: vec![plan.storage_class.clone()],
    });
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
    let url = sshd.url(&remote);

    plan.yaml["git"]["url"] = Value::String(url.clone());
    set_chart_mirror(&mut plan.yaml, &mirror);
    let config = work.join("homelab.yaml");
    std::fs::write(
        &config,
        serde_json::to_string_pretty(&plan.yaml).map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    let repo = work.join("repo");

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

    // Flux's controllers start once bootstrap applied their CRDs; the user adds the deploy
    // key on the forge as soon as bootstrap shows it.
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
                    let (ns, name) = homelab::kube::credentials::GIT_SECRET;
                    cluster::authorize_deploy_key(&client, &sshd, ns, name).await;
                }
            }
        },
    );

    let mut steps = Vec::new();
    let config_arg = config.display().to_string();
    let mut journey: Vec<(String, Vec<String>)> = vec![
        (
            "init".into(),
            vec![
                "init".into(),
                "--config".into(),
                config_arg,
                "--non-interactive".into(),
                "--yes".into(),
            ],
        ),
        ("push".into(), vec!["push".into()]),
        ("bootstrap".into(), vec!["bootstrap".into(), "--yes".into()]),
    ];
    for app in apps {
        journey.push((
            format!("add-app {app}"),
            vec!["add-app".into(), app.clone(), "--non-interactive".into()],
        ));
    }
    for (name, words) in &journey {
        steps.push(homelab_step(name, words, &repo, &env));
    }

    // Wait until everything is Ready, the Kustomizations at the pushed revision.
    let pushed = gitserver::rev(&remote, &plan.branch).map(|c| format!("{}@sha1:{c}", plan.branch));
    note(&format!(
        "waiting up to {}s for every Kustomization and HelmRelease to be Ready (pushed: {})",
        timeout,
        pushed.as_deref().unwrap_or("nothing")
    ));
    let wait_started = Instant::now();
    let all_ready = block_on(wait_all_ready(
        &cluster,
        pushed.as_deref(),
        Duration::from_secs(timeout),
    ));
    steps.push(Step {
        name: "wait for Ready".into(),
        code: if all_ready { 0 } else { 1 },
        seconds: wait_started.elapsed().as_secs_f64(),
    });

    let (doctor_step, doctor_failures) = doctor(&repo, &env);
    steps.push(doctor_step);

    stop.store(true, Ordering::SeqCst);
    let _ = observer.join();
    let _ = forge.join();

    let table = block_on(flux_table(&cluster, &observed));
    println!("{table}");
    println!("steps:");
    for step in &steps {
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
    if !doctor_failures.is_empty() {
        println!("doctor failures:");
        for failure in &doctor_failures {
            println!("  {failure}");
        }
    }
    let ok = steps.iter().all(|s| s.code == 0) && doctor_failures.is_empty();
    println!(
        "scenario {} in {:.0}s",
        if ok { "PASSED" } else { "FAILED" },
        started.elapsed().as_secs_f64()
    );
    if !ok {
        eprintln!("\n--- process logs (last lines) ---\n{}", cluster.logs(25));
    }
    drop(sshd);
    drop(mirror);
    drop(cluster);
    Ok(ok)
}

/// Run one `homelab` command in the repository, echoing its output, and time it.
fn homelab_step(name: &str, words: &[String], repo: &Path, env: &[(String, String)]) -> Step {
    note(&format!(
        "$ homelab {} --dir {}",
        words.join(" "),
        repo.display()
    ));
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_homelab"))
        .args(words)
        .arg("--dir")
        .arg(repo)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env_remove("HOMELAB_GIT_TOKEN")
        .stdin(Stdio::null())
        .output();
    let seconds = started.elapsed().as_secs_f64();
    let code = match out {
        Ok(out) => {
            for line in String::from_utf8_lossy(&out.stdout).lines() {
                eprintln!("  | {line}");
            }
            for line in String::from_utf8_lossy(&out.stderr).lines() {
                eprintln!("  ! {line}");
            }
            out.status.code().unwrap_or(-1)
        }
        Err(e) => {
            eprintln!("  ! cannot run homelab: {e}");
            -1
        }
    };
    note(&format!("{name}: exit {code} after {seconds:.1}s"));
    Step {
        name: name.to_owned(),
        code,
        seconds,
    }
}

/// `homelab doctor --output json`: the step, and its failed findings other than the
/// checks a simulation cannot pass (those are listed as skipped, with the reason).
fn doctor(repo: &Path, env: &[(String, String)]) -> (Step, Vec<String>) {
    let started = Instant::now();
    note(&format!(
        "$ homelab doctor --output json --dir {}",
        repo.display()
    ));
    let out = Command::new(env!("CARGO_BIN_EXE_homelab"))
        .args(["doctor", "--output", "json", "--dir"])
        .arg(repo)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::null())
        .output();
    let seconds = started.elapsed().as_secs_f64();
    let out = match out {
        Ok(out) => out,
        Err(e) => {
            return (
                Step {
                    name: "doctor".into(),
                    code: -1,
                    seconds,
                },
                vec![format!("cannot run homelab doctor: {e}")],
            );
        }
    };
    let code = out.status.code().unwrap_or(-1);
    let report: Value = match serde_json::from_slice(&out.stdout) {
        Ok(v) => v,
        Err(e) => {
            return (
                Step {
                    name: "doctor".into(),
                    code,
                    seconds,
                },
                vec![format!(
                    "doctor printed no JSON report ({e}); stderr:\n{}",
                    String::from_utf8_lossy(&out.stderr)
                )],
            );
        }
    };
    let mut failures = Vec::new();
    for section in report
        .get("sections")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        for finding in section
            .get("findings")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let check = finding
                .get("check")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let status = finding
                .get("status")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let message = finding
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or_default();
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
            let hint = finding
                .get("hint")
                .and_then(Value::as_str)
                .unwrap_or_default();
            failures.push(if hint.is_empty() {
                format!("{check}: {message}")
            } else {
                format!("{check}: {message} (hint: {hint})")
            });
        }
    }
    note(&format!(
        "doctor: exit {code}, {} failure(s) counted",
        failures.len()
    ));
    (
        Step {
            name: "doctor".into(),
            code: if failures.is_empty() { 0 } else { 1 },
            seconds,
        },
        failures,
    )
}

/// Whether every Kustomization (at `pushed`, when known) and every HelmRelease became Ready
/// within `timeout`. There must be at least one Kustomization.
async fn wait_all_ready(cluster: &Cluster, pushed: Option<&str>, timeout: Duration) -> bool {
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
        tokio::time::sleep(Duration::from_secs(2)).await;
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
