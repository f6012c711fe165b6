//! The README journey as tests (so `cargo test`, and CI, run it): both example
//! configurations end to end, and what a user does next on a homelab that is up, each
//! against the running simulated cluster of the default configuration.
//!
//! `scenario_examples_homelab_yaml` brings up the default configuration's journey (the one
//! `scripts/e2e` runs); the `journey_*` tests share it, one at a time (each holds it while
//! it runs), and each leaves every Flux object Ready. `scenario_examples_full_yaml` runs on
//! a cluster of its own.

use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Namespace;
use kube::api::Api;
use libtest_mimic::{Failed, Trial};
use serde_json::Value;

use crate::flux;
use crate::scenario::{self, Journey, findings, note};
use crate::support::cluster::block_on;
use crate::support::gitserver::{git, run};
use crate::support::{self, netns, process};

/// How long the journey may take to come up, and a change to be applied.
const READY: Duration = Duration::from_secs(600);
/// How long a test keeps the controllers away to show a command still waits.
const HOLD: Duration = Duration::from_secs(8);

/// The apps of the full configuration's scenario: different charts, the local class
/// (nextcloud's database, uptime-kuma, pihole), a fixed LoadBalancer address (pihole), an
/// app behind the ingress that needs its proxy settings (home-assistant).
const FULL_APPS: &[&str] = &[
    "nextcloud",
    "vaultwarden",
    "uptime-kuma",
    "pihole",
    "home-assistant",
    "grafana",
];

/// The default configuration's journey, brought up by the first test that needs it.
struct Shared {
    journey: Mutex<Journey>,
    /// Why it did not come up, if it did not.
    failure: Option<String>,
}

static SHARED: Mutex<Option<Arc<Shared>>> = Mutex::new(None);

fn shared() -> Arc<Shared> {
    let mut slot = process::lock(&SHARED);
    if let Some(shared) = slot.as_ref() {
        return shared.clone();
    }
    let mut journey = Journey::start(&support::example_config())
        .unwrap_or_else(|e| panic!("cannot start the journey: {e}"));
    let apps: Vec<String> = scenario::DEFAULT_APPS
        .iter()
        .map(|a| a.to_string())
        .collect();
    let passed = journey.readme(&apps, READY);
    journey.print_report();
    let failure = (!passed).then(|| failure_of(&journey));
    let shared = Arc::new(Shared {
        journey: Mutex::new(journey),
        failure,
    });
    *slot = Some(shared.clone());
    shared
}

/// Stop the shared journey (after the last test).
pub fn shutdown() {
    let shared = process::lock(&SHARED).take();
    drop(shared);
}

/// The failed steps and the problems of a journey, with the processes' logs.
fn failure_of(journey: &Journey) -> String {
    let steps: Vec<String> = journey
        .steps
        .iter()
        .filter(|s| s.code != 0)
        .map(|s| format!("{} (exit {})", s.name, s.code))
        .collect();
    format!(
        "failed steps: {}\nproblems:\n  {}\n\n{}",
        steps.join(", "),
        journey.problems.join("\n  "),
        journey.cluster.logs(40)
    )
}

/// The tests, for libtest-mimic.
pub fn tests() -> Vec<Trial> {
    vec![
        Trial::test("scenario_examples_homelab_yaml", || {
            timed("scenario_examples_homelab_yaml", || {
                match shared().failure.clone() {
                    None => Ok(()),
                    Some(failure) => Err(failure),
                }
            })
        }),
        Trial::test("scenario_examples_full_yaml", || {
            timed("scenario_examples_full_yaml", full_example)
        }),
        on_journey("journey_second_bootstrap_changes_nothing", second_bootstrap),
        on_journey(
            "journey_status_lists_every_flux_object_with_its_revision",
            status_lists_everything,
        ),
        on_journey(
            "journey_values_mistake_fails_that_release_and_doctor_names_it",
            values_mistake,
        ),
        on_journey("journey_remove_app_then_push_prunes_it", remove_app_prunes),
        on_journey(
            "journey_add_app_wait_and_sync_return_when_ready",
            wait_and_sync,
        ),
    ]
}

fn timed(name: &str, test: impl FnOnce() -> Result<(), String>) -> Result<(), Failed> {
    let started = Instant::now();
    let result = test();
    eprintln!(
        "e2e: {name}: {:.1}s{}",
        started.elapsed().as_secs_f64(),
        if result.is_ok() { "" } else { " (failed)" }
    );
    result.map_err(Failed::from)
}

/// A test on the shared journey, holding it while it runs; its failure carries the logs.
fn on_journey(name: &'static str, test: fn(&mut Journey) -> Result<(), String>) -> Trial {
    Trial::test(name, move || {
        let shared = shared();
        if let Some(failure) = &shared.failure {
            return Err(Failed::from(format!(
                "the default configuration's journey did not come up:\n{failure}"
            )));
        }
        let mut journey = process::lock(&shared.journey);
        timed(name, || {
            test(&mut journey).map_err(|e| format!("{e}\n\n{}", journey.cluster.logs(40)))
        })
    })
}

/// examples/full.yaml with several apps: the scenario in a child process (`e2e scenario`,
/// what `scripts/e2e --config examples/full.yaml` runs), in a network namespace of its own;
/// both storage classes (NFS and `storage.local_class`) have claims, and all are Bound.
fn full_example() -> Result<(), String> {
    let config = support::root().join("examples/full.yaml");
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("scenario")
        .arg("--config")
        .arg(&config)
        .args(FULL_APPS.iter().flat_map(|app| ["--app", app]))
        .args(["--timeout", &READY.as_secs().to_string()])
        // Not inherited: the child enters a network namespace of its own.
        .env_remove(netns::MARKER)
        .stdin(std::process::Stdio::null());
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run the scenario: {e}"))?;
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    eprint!("{stderr}");
    print!("{stdout}");
    if !out.status.success() {
        return Err(format!(
            "the full example's scenario failed ({}); its report:\n{stdout}",
            out.status
        ));
    }
    for class in ["nfs-client", "local-path"] {
        let line = stderr
            .lines()
            .find(|l| l.contains(&format!("claims of class \"{class}\": ")))
            .ok_or_else(|| format!("no claims of class {class}"))?;
        if line.contains(": 0 of") {
            return Err(format!("no claim of class {class} Bound: {line}"));
        }
    }
    Ok(())
}

/// A second `homelab bootstrap` changes nothing: its report says so and lists no object,
/// and no object it applies was written (resourceVersions compared).
fn second_bootstrap(journey: &mut Journey) -> Result<(), String> {
    let problems = journey.bootstrap_again();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

/// Every Flux object of the cluster (and the kinds homelab status lists), as raw JSON.
fn flux_objects(journey: &Journey) -> Vec<(String, Value)> {
    block_on(async {
        let client = journey.cluster.client().await;
        let mut all = Vec::new();
        for (kind, ..) in flux::KINDS {
            for obj in flux::list(&client, kind).await {
                all.push((kind.to_string(), obj));
            }
        }
        all
    })
}

fn meta<'a>(obj: &'a Value, field: &str) -> &'a str {
    obj.pointer(&format!("/metadata/{field}"))
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// `homelab status` and `--output json` list every Flux object of the cluster with its
/// revision (read here from the objects themselves), all ready.
fn status_lists_everything(journey: &mut Journey) -> Result<(), String> {
    wait_ready(journey)?;
    let objects = flux_objects(journey);
    let json = journey.homelab(&["status", "--output", "json"]);
    if json.code != 0 {
        return Err(format!("status --output json: exit {}", json.code));
    }
    let report: Value = serde_json::from_str(&json.stdout)
        .map_err(|e| format!("status printed no JSON ({e}): {}", json.stdout))?;
    if report["ready"] != Value::Bool(true) {
        return Err(format!("status says not ready: {report}"));
    }
    let listed = report["objects"].as_array().cloned().unwrap_or_default();
    if listed.len() != objects.len() {
        return Err(format!(
            "status lists {} objects, the cluster has {}",
            listed.len(),
            objects.len()
        ));
    }
    let text = journey.homelab(&["status"]);
    if text.code != 0 {
        return Err(format!("status: exit {}", text.code));
    }
    for (kind, obj) in &objects {
        let (ns, name) = (meta(obj, "namespace"), meta(obj, "name"));
        let revision = flux::revision(obj);
        let entry = listed
            .iter()
            .find(|o| o["kind"] == *kind && o["namespace"] == ns && o["name"] == name)
            .ok_or_else(|| format!("status --output json lacks {kind} {ns}/{name}"))?;
        let listed_revision = entry["revision"].as_str().unwrap_or_default();
        if listed_revision != revision || entry["ready"] != Value::Bool(true) {
            return Err(format!(
                "{kind} {ns}/{name}: status lists {entry}, the object's revision is {revision:?}"
            ));
        }
        let short = homelab::kube::status::short_revision(&revision);
        let id = format!("{ns}/{name}");
        let row = text
            .stdout
            .lines()
            .find(|l| {
                let words: Vec<&str> = l.split_whitespace().collect();
                words.first() == Some(&kind.as_str()) && words.get(1) == Some(&id.as_str())
            })
            .ok_or_else(|| format!("status lacks a row for {kind} {id}:\n{}", text.stdout))?;
        let words: Vec<&str> = row.split_whitespace().collect();
        if words.get(2) != Some(&"ready")
            || (!revision.is_empty() && words.get(3) != Some(&short.as_str()))
        {
            return Err(format!("{kind} {id}: row {row:?}, want ready at {short:?}"));
        }
    }
    note(&format!("status listed all {} Flux objects", objects.len()));
    Ok(())
}

/// Wait until everything is Ready at what was pushed.
fn wait_ready(journey: &Journey) -> Result<(), String> {
    let pushed = journey.pushed();
    if block_on(scenario::wait_all_ready(
        &journey.cluster,
        pushed.as_deref(),
        READY,
    )) {
        Ok(())
    } else {
        Err(format!(
            "not everything Ready at {pushed:?} within {READY:?}"
        ))
    }
}

/// The HelmRelease of an app (namespace and name are the app's), as JSON.
fn release(journey: &Journey, app: &str) -> Option<Value> {
    block_on(async {
        let client = journey.cluster.client().await;
        flux::get(&client, "HelmRelease", app, app).await
    })
}

/// A user's mistake in the values of one app (a key of the image the chart's values schema
/// refuses, written into the rendered HelmRelease and pushed) makes exactly that
/// HelmRelease fail, with helm-controller's message; `homelab doctor` names it with that
/// message and a hint. Fixing the value brings it up (Flux retries a failed install).
fn values_mistake(journey: &mut Journey) -> Result<(), String> {
    let app = "syncthing";
    let added = journey.homelab(&["add-app", app, "--yes", "--no-push"]);
    if added.code != 0 {
        return Err(format!("add-app {app}: exit {}", added.code));
    }
    let file = journey.repo.join("apps").join(app).join("helmrelease.yaml");
    let original = std::fs::read_to_string(&file).map_err(|e| e.to_string())?;
    // The image block of the app's container: a pull policy the chart's schema refuses.
    let tag_line = original
        .lines()
        .find(|l| l.trim_start().starts_with("tag:"))
        .ok_or_else(|| format!("no image tag in {}:\n{original}", file.display()))?;
    let indent = &tag_line[..tag_line.len() - tag_line.trim_start().len()];
    let broken = original.replacen(
        tag_line,
        &format!("{tag_line}\n{indent}pullPolicy: Sometimes"),
        1,
    );
    std::fs::write(&file, &broken).map_err(|e| e.to_string())?;
    run(git(&journey.repo).args(["commit", "-q", "-am", "syncthing: pull policy"]));
    let named = mistake_is_named(journey, app);

    // The fix, pushed, brings the release up (also after a failed check: the journeys
    // after this one need every release Ready).
    std::fs::write(&file, &original).map_err(|e| e.to_string())?;
    run(git(&journey.repo).args(["commit", "-q", "-am", "syncthing: fix the pull policy"]));
    let fixed = journey.homelab(&["push", "--wait"]);
    named?;
    if fixed.code != 0 {
        return Err(format!("push --wait of the fix: exit {}", fixed.code));
    }
    let obj = release(journey, app).ok_or("the HelmRelease is gone")?;
    if flux::ready(&obj).0 != "True" {
        return Err(format!("after the fix: {}", flux::ready(&obj).1));
    }
    Ok(())
}

/// The broken values of `app` are committed: push them, and check that exactly that
/// release fails and doctor names it.
fn mistake_is_named(journey: &mut Journey, app: &str) -> Result<(), String> {
    let pushed = journey.homelab(&["push"]);
    if pushed.code != 0 {
        return Err(format!(
            "push of the edited HelmRelease: exit {}",
            pushed.code
        ));
    }
    let sync = journey.homelab(&["sync", "--no-wait"]);
    if sync.code != 0 {
        return Err(format!("sync --no-wait: exit {}", sync.code));
    }

    // The release fails with helm-controller's own message; nothing else does.
    let message = block_on(async {
        let client = journey.cluster.client().await;
        flux::until("the syncthing HelmRelease fails", READY, || async {
            let obj = flux::get(&client, "HelmRelease", app, app)
                .await
                .ok_or("no HelmRelease yet")?;
            let (status, message) = flux::ready(&obj);
            if status == "False" && message.contains("pullPolicy") {
                Ok(message)
            } else {
                Err(format!("Ready={status}: {message}"))
            }
        })
        .await
    })?;
    note(&format!("helm-controller: {message}"));
    // Nothing else fails. The `apps` Kustomization waits for its releases' health, so it
    // is not Ready while one of them fails (a consequence, not a second failure); the
    // others settle once the reconciliations `sync` asked for are done.
    let consequence = |kind: &str, obj: &Value| {
        (kind == "HelmRelease" && meta(obj, "name") == app)
            || (kind == "Kustomization" && meta(obj, "name") == "apps")
    };
    let deadline = Instant::now() + READY;
    loop {
        let failing: Vec<String> = flux_objects(journey)
            .into_iter()
            .filter(|(kind, obj)| !consequence(kind, obj) && flux::ready(obj).0 != "True")
            .map(|(kind, obj)| format!("{kind} {}: {}", meta(&obj, "name"), flux::ready(&obj).1))
            .collect();
        if failing.is_empty() {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!("other Flux objects not Ready: {failing:?}"));
        }
        std::thread::sleep(Duration::from_secs(2));
    }

    let (_, report, failures) = journey.doctor_report();
    let finding = findings(&report)
        .find(|f| {
            f["status"] == "failed"
                && f["message"]
                    .as_str()
                    .is_some_and(|m| m.contains(&format!("HelmRelease {app}/{app}")))
        })
        .ok_or_else(|| format!("doctor names no failed HelmRelease {app}: {failures:?}"))?;
    let said = finding["message"].as_str().unwrap_or_default();
    let hint = finding["hint"].as_str().unwrap_or_default();
    // The controller's message, as doctor shows it (on one line).
    let core = message.lines().next().unwrap_or_default();
    if !said.contains(core.get(..core.len().min(80)).unwrap_or(core)) {
        return Err(format!(
            "doctor's finding does not carry helm-controller's message {core:?}: {said:?}"
        ));
    }
    if hint.is_empty() {
        return Err(format!("doctor's finding has no hint: {finding}"));
    }
    let counted: Vec<&String> = failures
        .iter()
        .filter(|f| {
            !f.contains(&format!("{app}/{app}"))
                && !f.contains(&format!("app {app}"))
                && !f.contains("Kustomization flux-system/apps ")
        })
        .collect();
    if !counted.is_empty() {
        return Err(format!("doctor failed other checks too: {counted:?}"));
    }
    note(&format!("doctor: {said} (hint: {hint})"));
    Ok(())
}

/// `remove-app` then `push` prunes the app: its HelmRelease and its namespace are gone
/// from the cluster.
fn remove_app_prunes(journey: &mut Journey) -> Result<(), String> {
    let app = "vaultwarden";
    let added = journey.homelab(&["add-app", app, "--yes", "--wait"]);
    if added.code != 0 || release(journey, app).is_none() {
        return Err(format!("add-app {app} --wait: exit {}", added.code));
    }
    let removed = journey.homelab(&["remove-app", app, "--yes", "--no-push"]);
    if removed.code != 0 {
        return Err(format!("remove-app {app}: exit {}", removed.code));
    }
    let pushed = journey.homelab(&["push", "--wait"]);
    if pushed.code != 0 {
        return Err(format!("push --wait: exit {}", pushed.code));
    }
    block_on(async {
        let client = journey.cluster.client().await;
        let namespaces: Api<Namespace> = Api::all(client.clone());
        flux::until("the app pruned", Duration::from_secs(180), || async {
            let release = flux::get(&client, "HelmRelease", app, app).await;
            let namespace = namespaces.get_opt(app).await.map_err(|e| e.to_string())?;
            match (release, namespace) {
                (None, None) => Ok(()),
                (r, n) => Err(format!(
                    "HelmRelease there: {}, namespace there: {}",
                    r.is_some(),
                    n.is_some()
                )),
            }
        })
        .await
    })
}

/// Whether a background command is still running; its exit code once it ended.
fn still_running(child: &mut Child) -> Result<bool, String> {
    Ok(child.try_wait().map_err(|e| e.to_string())?.is_none())
}

/// Wait for a background command to end; its exit code.
fn finish(child: &mut Child, timeout: Duration) -> Result<i32, String> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            return Ok(status.code().unwrap_or(-1));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            return Err(format!("still running after {timeout:?}"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `add-app --wait` and `homelab sync` return once the app is Ready, and not before: with
/// the controller that would make it Ready held back, each is still waiting; once it runs,
/// each returns 0 and the app is Ready at that moment.
fn wait_and_sync(journey: &mut Journey) -> Result<(), String> {
    // add-app --wait, with helm-controller held back.
    let app = "homepage";
    journey.cluster.pause_flux_controller("helm-controller");
    let mut child = journey.spawn_homelab(
        "add-app-wait",
        &["add-app", app, "--yes", "--wait", "--timeout", "8m"],
    )?;
    let outcome = (|| {
        // Past the push: Flux applied the app's HelmRelease, which nothing installs yet.
        block_on(async {
            let client = journey.cluster.client().await;
            flux::until("the app's HelmRelease applied", READY, || async {
                flux::get(&client, "HelmRelease", app, app)
                    .await
                    .map(|_| ())
                    .ok_or_else(|| "not yet".to_owned())
            })
            .await
        })?;
        std::thread::sleep(HOLD);
        if !still_running(&mut child)? {
            return Err(format!(
                "add-app --wait returned while helm-controller was stopped: {:?}",
                journey.spawned_output("add-app-wait")
            ));
        }
        let obj = release(journey, app).ok_or("no HelmRelease")?;
        if flux::ready(&obj).0 == "True" {
            return Err("the HelmRelease is Ready without helm-controller".to_owned());
        }
        Ok(())
    })();
    journey.cluster.resume_flux_controller("helm-controller");
    outcome?;
    let code = finish(&mut child, READY)?;
    let obj = release(journey, app).ok_or("no HelmRelease")?;
    let (out, err) = journey.spawned_output("add-app-wait");
    if code != 0 || flux::ready(&obj).0 != "True" {
        return Err(format!(
            "add-app --wait: exit {code}, HelmRelease {:?}\n{out}{err}",
            flux::ready(&obj)
        ));
    }
    note("add-app --wait waited for helm-controller and returned with the app Ready");

    // sync, with kustomize-controller held back: a change pushed without --wait.
    let app = "uptime-kuma";
    journey
        .cluster
        .pause_flux_controller("kustomize-controller");
    let added = journey.homelab(&["add-app", app, "--yes"]);
    let pushed = journey.pushed().ok_or("nothing pushed")?;
    let mut child = if added.code == 0 {
        Some(journey.spawn_homelab("sync", &["sync", "--timeout", "8m"])?)
    } else {
        None
    };
    let outcome = (|| {
        let child = child
            .as_mut()
            .ok_or(format!("add-app {app}: exit {}", added.code))?;
        std::thread::sleep(HOLD);
        if !still_running(child)? {
            return Err(format!(
                "sync returned while kustomize-controller was stopped: {:?}",
                journey.spawned_output("sync")
            ));
        }
        if release(journey, app).is_some() {
            return Err("the app was applied without kustomize-controller".to_owned());
        }
        Ok(())
    })();
    journey
        .cluster
        .resume_flux_controller("kustomize-controller");
    outcome?;
    let code = finish(child.as_mut().ok_or("no sync")?, READY)?;
    let (out, err) = journey.spawned_output("sync");
    let obj = release(journey, app).ok_or(format!("no HelmRelease after sync\n{out}{err}"))?;
    let apps = block_on(async {
        let client = journey.cluster.client().await;
        flux::get(&client, "Kustomization", "flux-system", "apps").await
    })
    .ok_or("no apps Kustomization")?;
    if code != 0 || flux::ready(&obj).0 != "True" || flux::revision(&apps) != pushed {
        return Err(format!(
            "sync: exit {code}, HelmRelease {:?}, apps at {:?} (pushed {pushed})\n{out}{err}",
            flux::ready(&obj),
            flux::revision(&apps)
        ));
    }
    note("sync waited for kustomize-controller and returned with the app Ready");
    Ok(())
}
