//! Bench mode: how long a user waits for Flux, measured on the simulated cluster.
//!
//! `e2e bench [--config FILE] [--runs N] [--app A --app B] [--timeout SECS]` (what
//! `scripts/bench-e2e` runs). Each run is a fresh [`Journey`] (cluster, chart mirror, git
//! forge, as the scenario starts them) on which it times:
//!
//! 1. `homelab bootstrap --yes` (after `init --no-bootstrap`, which pushed) until every
//!    Kustomization is Ready at the pushed revision and every HelmRelease is Ready;
//! 2. `homelab add-app <A> --yes` (which pushes) until A's HelmRelease is Ready, with
//!    nothing else done: Flux finds the commit on its own interval;
//! 3. `homelab add-app <B> --yes` then `homelab sync` at once, until B's HelmRelease is
//!    Ready (and when sync returned).
//!
//! The two apps use the same chart and swap roles every other run, and the order of 2 and
//! 3 alternates, so neither mode always gets the same app or the warmer cluster. One table
//! on stdout: median and min–max per figure, the machine and its load average during the
//! runs. Exit 0 when every run completed, 1 otherwise (the figures of the completed runs
//! are still printed), 2 for a usage or setup error.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;

use crate::flux;
use crate::scenario::{self, Journey, Run, note};
use crate::support::cluster::block_on;
use crate::support::{self, process};

/// Two apps of the same chart (bjw-s app-template from the OCI mirror), so that the modes
/// compare like with like.
const DEFAULT_APPS: [&str; 2] = ["syncthing", "adguard-home"];

#[derive(Debug, Parser)]
#[command(
    name = "e2e bench",
    about = "time bootstrap and add-app (with and without sync) on a simulated cluster"
)]
struct Args {
    /// The homelab.yaml to start from; default: the repository's examples/homelab.yaml.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Runs, each on a fresh cluster.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// The two apps to add per run (give --app twice); they should use the same chart.
    #[arg(long = "app")]
    apps: Vec<String>,
    /// Seconds to wait for each Ready.
    #[arg(long, default_value_t = 600)]
    timeout: u64,
}

/// The figures, in the order of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Figure {
    BootstrapReturned,
    BootstrapReady,
    AddAppReturned,
    NoSyncReady,
    SyncReturned,
    SyncReady,
}

impl Figure {
    const ALL: [Figure; 6] = [
        Figure::BootstrapReturned,
        Figure::BootstrapReady,
        Figure::AddAppReturned,
        Figure::NoSyncReady,
        Figure::SyncReturned,
        Figure::SyncReady,
    ];

    fn label(self) -> &'static str {
        match self {
            Figure::BootstrapReturned => "bootstrap: command returned",
            Figure::BootstrapReady => "bootstrap -> every Kustomization + HelmRelease Ready",
            Figure::AddAppReturned => "add-app (commit + push): command returned",
            Figure::NoSyncReady => "add-app -> app's HelmRelease Ready, no sync",
            Figure::SyncReturned => "add-app + sync: sync returned",
            Figure::SyncReady => "add-app + sync -> app's HelmRelease Ready",
        }
    }
}

type Samples = Vec<(Figure, f64)>;

/// Run the benchmark; `args` are the words after `bench`.
pub fn main(args: &[String]) -> ExitCode {
    let args =
        match Args::try_parse_from(std::iter::once("bench".to_owned()).chain(args.iter().cloned()))
        {
            Ok(a) => a,
            Err(e) => {
                let _ = e.print();
                return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
            }
        };
    let apps: [String; 2] = match args.apps.as_slice() {
        [] => DEFAULT_APPS.map(str::to_owned),
        [a, b] if a != b => [a.clone(), b.clone()],
        _ => {
            eprintln!("e2e bench: --app: give two different apps (or none for the default)");
            eprintln!("hint: e.g. --app syncthing --app adguard-home (the same chart)");
            return ExitCode::from(2);
        }
    };
    if args.runs == 0 {
        eprintln!("e2e bench: --runs must be at least 1");
        return ExitCode::from(2);
    }
    let config = args.config.clone().unwrap_or_else(support::example_config);
    let timeout = Duration::from_secs(args.timeout);
    let started_at = date();
    let started = Instant::now();
    let load = LoadSampler::start();
    let mut samples: Samples = Vec::new();
    let mut failures = Vec::new();
    for run in 0..args.runs {
        // Swap the apps' roles and the modes' order every other run.
        let (plain, synced) = if run % 2 == 0 {
            (&apps[0], &apps[1])
        } else {
            (&apps[1], &apps[0])
        };
        note(&format!("bench run {} of {}", run + 1, args.runs));
        // Where in Flux's polling interval the unsynced commit lands: spread evenly over
        // the runs (the middle of each run's share), so the median is a typical wait.
        let phase = (run as f64 + 0.5) / args.runs as f64;
        let plan = RunPlan {
            plain,
            synced,
            sync_first: run % 2 == 1,
            phase,
            timeout,
        };
        match one_run(&config, &plan) {
            Ok(figures) => samples.extend(figures),
            Err(e) => {
                eprintln!("e2e bench: run {} failed: {e}", run + 1);
                failures.push(format!("run {}: {e}", run + 1));
            }
        }
    }
    let loads = load.stop();
    print_table(&samples, &apps);
    println!(
        "machine: {} cores, {} memory; load average (1 min) during the runs {}; started {}; {:.0}s in all",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        memory(),
        spread(&loads, 2),
        started_at,
        started.elapsed().as_secs_f64()
    );
    for failure in &failures {
        println!("FAILED {failure}");
    }
    if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// What one run does.
struct RunPlan<'a> {
    /// The app added without sync, and the one added with.
    plain: &'a str,
    synced: &'a str,
    /// Whether the app with sync comes first.
    sync_first: bool,
    /// Where in the GitRepository's interval the unsynced commit lands (0..1).
    phase: f64,
    /// How long each wait may take.
    timeout: Duration,
}

/// One run on a fresh cluster: the figures it measured.
fn one_run(config: &Path, plan: &RunPlan) -> Result<Samples, String> {
    let journey = Journey::start(config)?;
    let result = measure(&journey, plan);
    if result.is_err() {
        eprintln!(
            "\n--- process logs (last lines) ---\n{}",
            journey.cluster.logs(25)
        );
    }
    result
}

fn measure(journey: &Journey, plan: &RunPlan) -> Result<Samples, String> {
    let RunPlan {
        plain,
        synced,
        sync_first,
        phase,
        timeout,
    } = *plan;
    let mut out = Vec::new();
    let config = journey.config.display().to_string();
    succeeded(
        "init",
        journey.homelab(&["init", "--config", &config, "--yes", "--no-bootstrap"]),
    )?;

    let started = Instant::now();
    let run = succeeded("bootstrap", journey.homelab(&["bootstrap", "--yes"]))?;
    out.push((Figure::BootstrapReturned, run.seconds));
    let pushed = journey.pushed();
    if !block_on(scenario::wait_all_ready(
        &journey.cluster,
        pushed.as_deref(),
        timeout,
    )) {
        return Err(format!(
            "not everything Ready {}s after bootstrap",
            timeout.as_secs()
        ));
    }
    let ready = started.elapsed().as_secs_f64();
    out.push((Figure::BootstrapReady, ready));
    let (kustomizations, releases) = block_on(async {
        let client = journey.cluster.client().await;
        (
            flux::list(&client, "Kustomization").await.len(),
            flux::list(&client, "HelmRelease").await.len(),
        )
    });
    note(&format!(
        "bootstrap -> all Ready: {ready:.1}s ({kustomizations} Kustomizations, {releases} HelmReleases)"
    ));

    let modes = if sync_first {
        [(synced, true), (plain, false)]
    } else {
        [(plain, false), (synced, true)]
    };
    for (app, sync) in modes {
        if !sync {
            block_on(poll_phase(journey, phase, timeout))?;
        }
        let started = Instant::now();
        let run = succeeded("add-app", journey.homelab(&["add-app", app, "--yes"]))?;
        out.push((Figure::AddAppReturned, run.seconds));
        // sync runs beside the wait for the release, so that both moments are seen.
        let sync_run = if sync {
            let mut child = journey.spawn_homelab("bench-sync", &["sync"])?;
            Some(std::thread::spawn(move || {
                let status = child.wait();
                (status, started.elapsed().as_secs_f64())
            }))
        } else {
            None
        };
        let ready = block_on(async {
            let client = journey.cluster.client().await;
            flux::wait_ready(&client, "HelmRelease", app, app, None, timeout).await
        })
        .map(|_| started.elapsed().as_secs_f64());
        if let Some(thread) = sync_run {
            let (status, returned) = thread.join().map_err(|_| "sync: the waiter panicked")?;
            let (_, err) = journey.spawned_output("bench-sync");
            match status {
                Ok(s) if s.success() => out.push((Figure::SyncReturned, returned)),
                Ok(s) => return Err(format!("sync: {s}:\n{err}")),
                Err(e) => return Err(format!("sync: {e}")),
            }
        }
        let ready = ready?;
        let figure = if sync {
            Figure::SyncReady
        } else {
            Figure::NoSyncReady
        };
        out.push((figure, ready));
        note(&format!("{}: {ready:.1}s", figure.label()));
    }
    Ok(out)
}

/// Without sync, the wait depends on where in the GitRepository's polling interval the
/// commit lands, which the steps before would otherwise fix to the same point in every run.
/// Start a fresh interval (a reconcile request on the GitRepository, which holds no new
/// commit yet; the controller polls again one interval after handling it), then wait
/// `phase` (0..1) of the interval.
async fn poll_phase(journey: &Journey, phase: f64, timeout: Duration) -> Result<(), String> {
    use homelab::kube::sync::{REQUESTED_AT, new_token};
    let client = journey.cluster.client().await;
    let api: kube::Api<kube::api::DynamicObject> = kube::Api::namespaced_with(
        client.clone(),
        "flux-system",
        &flux::resource("GitRepository"),
    );
    let token = new_token();
    let patch = serde_json::json!({"metadata": {"annotations": {REQUESTED_AT: token}}});
    api.patch(
        "flux-system",
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(&patch),
    )
    .await
    .map_err(|e| format!("ask the GitRepository to reconcile: {e}"))?;
    let source = flux::until("the GitRepository handles the request", timeout, || async {
        let obj = flux::get(&client, "GitRepository", "flux-system", "flux-system")
            .await
            .ok_or("no GitRepository")?;
        let handled = obj.pointer("/status/lastHandledReconcileAt");
        (handled.and_then(serde_json::Value::as_str) == Some(token.as_str()))
            .then_some(obj)
            .ok_or_else(|| "not yet".to_owned())
    })
    .await?;
    let interval = source
        .pointer("/spec/interval")
        .and_then(serde_json::Value::as_str)
        .and_then(homelab::net::parse_duration)
        .unwrap_or(Duration::from_secs(60));
    let wait = interval.mul_f64(phase);
    note(&format!(
        "the commit lands {:.0}s into the GitRepository's {}s interval",
        wait.as_secs_f64(),
        interval.as_secs()
    ));
    tokio::time::sleep(wait).await;
    Ok(())
}

fn succeeded(what: &str, run: Run) -> Result<Run, String> {
    if run.code == 0 {
        Ok(run)
    } else {
        Err(format!("{what}: exit {}:\n{}", run.code, run.stderr))
    }
}

/// The result table on stdout: per figure, median and min–max over the runs.
fn print_table(samples: &Samples, apps: &[String; 2]) {
    println!(
        "e2e bench: apps {} and {} (same chart), roles swapped every other run",
        apps[0], apps[1]
    );
    println!(
        "{:<54} {:>8} {:>15} {:>5}",
        "figure (seconds)", "median", "min-max", "runs"
    );
    let of = |figure: Figure| -> Vec<f64> {
        samples
            .iter()
            .filter(|(f, _)| *f == figure)
            .map(|(_, s)| *s)
            .collect()
    };
    for figure in Figure::ALL {
        let values = of(figure);
        println!(
            "{:<54} {:>8} {:>15} {:>5}",
            figure.label(),
            median(&values).map_or("-".to_owned(), |m| format!("{m:.1}")),
            spread(&values, 1),
            values.len()
        );
    }
    if let (Some(plain), Some(synced)) = (
        median(&of(Figure::NoSyncReady)),
        median(&of(Figure::SyncReady)),
    ) {
        println!(
            "{:<54} {:>8.1}",
            "what sync saves (median no sync - median with sync)",
            plain - synced
        );
    }
}

fn median(values: &[f64]) -> Option<f64> {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2]),
        _ => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
    }
}

/// `min-max` of `values` with `digits` decimals, `-` when there are none.
fn spread(values: &[f64], digits: usize) -> String {
    let min = values.iter().copied().reduce(f64::min);
    let max = values.iter().copied().reduce(f64::max);
    match (min, max) {
        (Some(lo), Some(hi)) => format!("{lo:.digits$}-{hi:.digits$}"),
        _ => "-".to_owned(),
    }
}

/// Now, as `date -u` words it (for the report).
fn date() -> String {
    std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

/// The machine's memory (MemTotal of /proc/meminfo), in GiB.
fn memory() -> String {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
            let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(format!("{:.0} GiB", kib / 1024.0 / 1024.0))
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The 1-minute load average, read every 10 s while the runs go on: the machine may be
/// shared, and the figures only mean something beside it.
struct LoadSampler {
    stop: Arc<AtomicBool>,
    samples: Arc<Mutex<Vec<f64>>>,
    thread: std::thread::JoinHandle<()>,
}

impl LoadSampler {
    fn start() -> LoadSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let samples = Arc::new(Mutex::new(Vec::new()));
        let thread = std::thread::spawn({
            let (stop, samples) = (stop.clone(), samples.clone());
            move || {
                let mut tick = 0u32;
                while !stop.load(Ordering::SeqCst) {
                    if tick.is_multiple_of(100)
                        && let Some(load) = std::fs::read_to_string("/proc/loadavg")
                            .ok()
                            .and_then(|t| t.split_whitespace().next()?.parse().ok())
                    {
                        process::lock(&samples).push(load);
                    }
                    tick = tick.wrapping_add(1);
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        });
        LoadSampler {
            stop,
            samples,
            thread,
        }
    }

    fn stop(self) -> Vec<f64> {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.thread.join();
        process::lock(&self.samples).clone()
    }
}
