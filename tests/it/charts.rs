//! Every chart homelab pins, through the real chart: both example configurations with every
//! app (so both ingress controllers, both NFS provisioners and every infrastructure
//! controller) are rendered, and every HelmRelease is templated by the real `helm` with the
//! values homelab rendered and the chart's values schema enforced. The charts come from the
//! fixtures (`$HOMELAB_FIXTURES_DIR/charts`), found through their `index.yaml` by the chart
//! name and version the HelmRelease (or its OCIRepository) pins, so a pin the fixtures do
//! not hold fails here, unless it is one of the few [`STAND_INS`]: a released version the
//! fixtures lack, templated with a package of theirs that renders the same objects.
//!
//! What the chart really renders is then checked against what homelab relies on: every
//! Ingress / HTTPRoute backend is a Service of the chart with that port; fixed
//! LoadBalancer addresses reach their Service as MetalLB's annotation and never as
//! `spec.loadBalancerIP`; every volume claims the StorageClass its profile declares; pods
//! that need host access run in namespaces labelled privileged (and only those); each app's
//! HelmRelease waits longer than its pods' startup probes allow; Home Assistant trusts the
//! proxy and AdGuard Home keeps its UI on the exposed port.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use homelab::catalog::{self, Profile, StorageNeed};
use homelab::component::ComponentId;
use homelab::config::Config;
use serde_json::Value;

use crate::support;

/// The real `helm`: `$HOMELAB_HELM`, else `${CARGO_TARGET_DIR:-target}/tools/helm`, built
/// once by `scripts/build-helm`.
fn helm_bin() -> PathBuf {
    support::tool("helm", "HOMELAB_HELM", "build-helm")
}

/// The pinned chart packages and their index.
struct Charts {
    dir: PathBuf,
    index: Value,
}

impl Charts {
    fn load() -> Self {
        let dir = support::fixtures_dir().join("charts");
        let text = std::fs::read_to_string(dir.join("index.yaml"))
            .unwrap_or_else(|e| panic!("{}/index.yaml: {e}", dir.display()));
        let index = serde_saphyr::from_str(&text).expect("the fixtures' index.yaml parses");
        Self { dir, index }
    }

    /// The package templated for `chart` at `version`: exactly that version if the fixtures
    /// hold it, else its documented stand-in ([`STAND_INS`]).
    fn package(&self, chart: &str, version: &str) -> Option<PathBuf> {
        self.exact(chart, version).or_else(|| {
            let s = STAND_INS
                .iter()
                .find(|s| s.chart == chart && s.pinned == version)?;
            self.exact(chart, s.packaged)
        })
    }

    /// The package of `chart` at exactly `version`, if the fixtures hold it.
    fn exact(&self, chart: &str, version: &str) -> Option<PathBuf> {
        self.index["entries"][chart]
            .as_array()?
            .iter()
            .find(|e| e["version"] == version)
            .and_then(|e| e["urls"][0].as_str())
            .map(|url| self.dir.join(url))
    }

    fn versions(&self, chart: &str) -> Vec<String> {
        self.index["entries"][chart]
            .as_array()
            .map(|entries| {
                entries
                    .iter()
                    .filter_map(|e| e["version"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// A pinned version the fixtures do not hold, templated with a package they do hold because
/// the two were compared with homelab's values and found to render the same objects.
struct StandIn {
    chart: &'static str,
    /// The version homelab pins: a release in upstream's index.
    pinned: &'static str,
    /// The fixtures' package templated in its place.
    packaged: &'static str,
    /// What differs between the two for homelab's values (docs/apps.md says the same).
    differs: &'static str,
}

/// The fixtures' jellyfin package is upstream's `master` after 3.2.0, whose Chart.yaml already
/// says 3.3.0, a version upstream has not released (no tag, not in its `gh-pages` index), so
/// homelab pins the released 3.2.0. `helm template` of 3.2.0 (packaged from upstream's tag
/// `jellyfin-3.2.0`) and of the fixture, with the values the profile renders, gives the same
/// objects but for the lines below.
const STAND_INS: &[StandIn] = &[StandIn {
    chart: "jellyfin",
    pinned: "3.2.0",
    packaged: "3.3.0",
    differs: "the chart version labels, the default image tag (10.11.8 in 3.2.0) and the \
              Service port's name (`http` in 3.2.0); the ports, volumes and claims are the same",
}];

/// The version of `chart` whose package the fixtures hold for the pin `version`: the pin
/// itself, or its stand-in's.
pub(crate) fn fixture_version<'a>(chart: &str, version: &'a str) -> &'a str {
    STAND_INS
        .iter()
        .find(|s| s.chart == chart && s.pinned == version)
        .map_or(version, |s| s.packaged)
}

/// Every pinned chart as (who pins it, chart name, version). An OCI chart's name is the
/// last segment of its reference, which is how the fixtures' README maps them.
fn pins() -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for id in ComponentId::ALL {
        let p = id.profile();
        let name = match &p.chart.oci {
            Some(oci) => oci_name(oci),
            None => p.chart.name.clone(),
        };
        out.push((
            format!("infrastructure controller {}", p.name),
            name,
            p.chart.version.clone(),
        ));
    }
    for p in catalog::all() {
        let name = match &p.chart.oci {
            Some(oci) => oci_name(oci),
            None => p.chart.name.clone(),
        };
        out.push((format!("profile {}", p.name), name, p.chart.version.clone()));
    }
    out
}

fn oci_name(url: &str) -> String {
    url.rsplit('/').next().unwrap_or(url).to_owned()
}

#[test]
fn every_pinned_chart_version_is_in_the_fixtures_index_or_has_a_stand_in() {
    let charts = Charts::load();
    let mut missing = Vec::new();
    for (who, chart, version) in pins() {
        match charts.package(&chart, &version) {
            Some(file) if file.is_file() => {}
            Some(file) => missing.push(format!(
                "{who}: {chart} {version} is indexed but {} is missing",
                file.display()
            )),
            None => missing.push(format!(
                "{who}: {chart} {version} is not in the fixtures' index (it has {:?})",
                charts.versions(&chart)
            )),
        }
    }
    assert!(
        missing.is_empty(),
        "pinned chart versions that cannot be verified:\n{}",
        missing.join("\n")
    );
}

/// A stand-in is for a pin the fixtures lack and stands in with a package they hold; once the
/// fixtures hold the pinned release, the stand-in goes and the release itself is templated.
#[test]
fn every_stand_in_is_still_needed_and_its_package_exists() {
    let charts = Charts::load();
    let pins = pins();
    for s in STAND_INS {
        assert!(
            pins.iter().any(|(_, c, v)| c == s.chart && v == s.pinned),
            "stand-in for {} {}: nothing pins that version any more",
            s.chart,
            s.pinned
        );
        assert!(
            charts.exact(s.chart, s.pinned).is_none(),
            "the fixtures now hold {} {}: remove its stand-in ({})",
            s.chart,
            s.pinned,
            s.differs
        );
        assert!(
            charts
                .exact(s.chart, s.packaged)
                .is_some_and(|p| p.is_file()),
            "the stand-in package {} {} is not in the fixtures",
            s.chart,
            s.packaged
        );
    }
}

/// Every document of every rendered `.yaml` file, with the file it came from.
fn documents(cfg: &Config) -> Vec<(String, Value)> {
    let flux = std::fs::read_to_string(support::flux_install()).expect("Flux fixture");
    let rendered = homelab::render::render(cfg, &flux).expect("the repository renders");
    let mut out = Vec::new();
    for (path, text) in &rendered.files {
        if !path.ends_with(".yaml") || path.ends_with("gotk-components.yaml") {
            continue;
        }
        let docs: Vec<Value> = serde_saphyr::from_multiple(text)
            .unwrap_or_else(|e| panic!("{path} does not parse: {e}"));
        out.extend(
            docs.into_iter()
                .filter(|d| d.is_object())
                .map(|d| (path.clone(), d)),
        );
    }
    out
}

fn find<'a>(docs: &'a [(String, Value)], kind: &str, ns: &str, name: &str) -> Option<&'a Value> {
    docs.iter().map(|(_, d)| d).find(|d| {
        d["kind"] == kind
            && d["metadata"]["name"] == name
            && (kind == "Namespace" || d["metadata"]["namespace"] == ns)
    })
}

/// The chart package a HelmRelease installs.
fn chart_of(charts: &Charts, docs: &[(String, Value)], hr: &Value) -> PathBuf {
    let ns = hr["metadata"]["namespace"].as_str().expect("namespace");
    let (chart, version) = if let Some(spec) = hr["spec"]["chart"]["spec"].as_object() {
        (
            spec["chart"].as_str().expect("chart").to_owned(),
            spec["version"].as_str().expect("version").to_owned(),
        )
    } else {
        let reference = &hr["spec"]["chartRef"];
        assert_eq!(reference["kind"], "OCIRepository", "{hr}");
        let name = reference["name"].as_str().expect("chartRef.name");
        let repo = find(docs, "OCIRepository", ns, name)
            .unwrap_or_else(|| panic!("OCIRepository {ns}/{name} is not rendered"));
        (
            oci_name(repo["spec"]["url"].as_str().expect("url")),
            repo["spec"]["ref"]["tag"].as_str().expect("tag").to_owned(),
        )
    };
    charts
        .package(&chart, &version)
        .unwrap_or_else(|| panic!("{chart} {version} is not in the fixtures' index"))
}

/// `helm template` with the release's values and the chart's schema enforced; the error
/// is helm's own message.
fn template(helm: &Path, chart: &Path, hr: &Value, work: &Path) -> Result<Vec<Value>, String> {
    let name = hr["spec"]["releaseName"]
        .as_str()
        .or(hr["metadata"]["name"].as_str())
        .expect("release name");
    let ns = hr["metadata"]["namespace"].as_str().expect("namespace");
    let values = work.join(format!("{ns}-{name}.values.json"));
    let spec_values = hr["spec"].get("values").cloned().unwrap_or(Value::Null);
    std::fs::write(&values, serde_json::to_string(&spec_values).expect("json")).expect("write");
    let out = Command::new(helm)
        .args(["template", name])
        .arg(chart)
        .args(["--namespace", ns, "--kube-version", "1.34.0", "--values"])
        .arg(&values)
        .env("HELM_CACHE_HOME", work.join("cache"))
        .env("HELM_CONFIG_HOME", work.join("config"))
        .env("HELM_DATA_HOME", work.join("data"))
        .output()
        .expect("run helm");
    if !out.status.success() {
        return Err(format!(
            "helm template {ns}/{name} ({}) failed:\n{}",
            chart.display(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let docs: Vec<Value> = serde_saphyr::from_multiple(&text)
        .map_err(|e| format!("helm output of {ns}/{name} does not parse: {e}"))?;
    Ok(docs.into_iter().filter(Value::is_object).collect())
}

/// Every pod spec of the chart's workloads, with the workload's name.
fn pod_specs(objects: &[Value]) -> Vec<(String, &Value)> {
    let mut out = Vec::new();
    for o in objects {
        let name = format!(
            "{} {}",
            o["kind"].as_str().unwrap_or_default(),
            o["metadata"]["name"].as_str().unwrap_or_default()
        );
        let spec = match o["kind"].as_str() {
            Some("Deployment" | "StatefulSet" | "DaemonSet" | "Job" | "ReplicaSet") => {
                &o["spec"]["template"]["spec"]
            }
            Some("CronJob") => &o["spec"]["jobTemplate"]["spec"]["template"]["spec"],
            Some("Pod") => &o["spec"],
            _ => continue,
        };
        out.push((name, spec));
    }
    out
}

/// Why a pod needs the Pod Security `privileged` level, if it does.
fn host_access(spec: &Value) -> Option<String> {
    for key in ["hostNetwork", "hostPID", "hostIPC"] {
        if spec[key] == true {
            return Some(key.to_owned());
        }
    }
    if let Some(v) = spec["volumes"]
        .as_array()
        .and_then(|vs| vs.iter().find(|v| v.get("hostPath").is_some()))
    {
        return Some(format!("hostPath volume {}", v["name"]));
    }
    for key in ["containers", "initContainers"] {
        for c in spec[key].as_array().into_iter().flatten() {
            if c["securityContext"]["privileged"] == true {
                return Some(format!("privileged container {}", c["name"]));
            }
        }
    }
    None
}

/// The longest time any container's startup probe lets a pod take to start, in seconds
/// (Kubernetes' defaults: no initial delay, every 10 s, 3 failures).
fn startup_budget(spec: &Value) -> u64 {
    let mut longest = 0;
    for key in ["containers", "initContainers"] {
        for c in spec[key].as_array().into_iter().flatten() {
            let probe = &c["startupProbe"];
            if probe.is_object() {
                let delay = probe["initialDelaySeconds"].as_u64().unwrap_or(0);
                let period = probe["periodSeconds"].as_u64().unwrap_or(10);
                let failures = probe["failureThreshold"].as_u64().unwrap_or(3);
                longest = longest.max(delay + period * failures);
            }
        }
    }
    longest
}

/// A Flux duration like `15m`, `1h30m` or `90s`, in seconds.
fn seconds(duration: &str) -> u64 {
    let mut total = 0;
    let mut number = String::new();
    for c in duration.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let n: u64 = number.parse().expect("a number before each unit");
        number.clear();
        total += n * match c {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            other => panic!("unit {other} in {duration}"),
        };
    }
    assert!(number.is_empty(), "{duration} ends without a unit");
    total
}

/// Every StorageClass name the objects ask for, and the volume claims that name none
/// (those would land on whatever the cluster's default class is).
fn storage_classes(objects: &[Value]) -> (BTreeSet<String>, Vec<String>) {
    fn walk(v: &Value, out: &mut BTreeSet<String>) {
        match v {
            Value::Object(map) => {
                for (k, item) in map {
                    if k == "storageClassName"
                        && let Some(s) = item.as_str()
                    {
                        out.insert(s.to_owned());
                    }
                    walk(item, out);
                }
            }
            Value::Array(items) => items.iter().for_each(|i| walk(i, out)),
            _ => {}
        }
    }
    let mut classes = BTreeSet::new();
    let mut unnamed = Vec::new();
    for o in objects {
        walk(o, &mut classes);
        let mut claims: Vec<&Value> = Vec::new();
        if o["kind"] == "PersistentVolumeClaim" {
            claims.push(&o["spec"]);
        }
        for t in o["spec"]["volumeClaimTemplates"]
            .as_array()
            .into_iter()
            .flatten()
        {
            claims.push(&t["spec"]);
        }
        for c in claims {
            if c["storageClassName"].as_str().is_none_or(str::is_empty) {
                unnamed.push(format!(
                    "{} {}",
                    o["kind"].as_str().unwrap_or_default(),
                    o["metadata"]["name"].as_str().unwrap_or_default()
                ));
            }
        }
    }
    (classes, unnamed)
}

/// The Services of a chart's output by name.
fn services(objects: &[Value]) -> BTreeMap<String, &Value> {
    objects
        .iter()
        .filter(|o| o["kind"] == "Service")
        .map(|o| {
            (
                o["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                o,
            )
        })
        .collect()
}

/// `53/UDP`-style ports of a Service.
fn ports(service: &Value) -> BTreeSet<String> {
    service["spec"]["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| format!("{}/{}", p["port"], p["protocol"].as_str().unwrap_or("TCP")))
        .collect()
}

/// The Service and port an app's Ingress or HTTPRoute sends traffic to.
fn backend(docs: &[(String, Value)], app: &str) -> (String, u64) {
    let dir = format!("apps/{app}/");
    let route = docs
        .iter()
        .find(|(path, d)| {
            path.starts_with(&dir) && (d["kind"] == "Ingress" || d["kind"] == "HTTPRoute")
        })
        .map(|(_, d)| d)
        .unwrap_or_else(|| panic!("{app} has no Ingress or HTTPRoute"));
    if route["kind"] == "Ingress" {
        let b = &route["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"];
        (
            b["name"].as_str().expect("name").to_owned(),
            b["port"]["number"].as_u64().expect("port"),
        )
    } else {
        let b = &route["spec"]["rules"][0]["backendRefs"][0];
        (
            b["name"].as_str().expect("name").to_owned(),
            b["port"].as_u64().expect("port"),
        )
    }
}

/// What one app's chart output must show beyond the generic checks.
fn check_app(
    cfg: &Config,
    profile: &Profile,
    objects: &[Value],
    docs: &[(String, Value)],
    failures: &mut Vec<String>,
) {
    let app = cfg
        .apps
        .iter()
        .find(|a| a.name == profile.name)
        .expect("installed");
    let label = format!("{} ({})", app.name, cfg.cluster.name);
    let services = services(objects);

    // The Ingress / HTTPRoute backend is a real Service and port of the chart.
    let (service, port) = backend(docs, &app.name);
    match services.get(&service) {
        None => failures.push(format!(
            "{label}: backend Service {service} is not rendered by the chart (it renders {:?})",
            services.keys().collect::<Vec<_>>()
        )),
        Some(s) if !ports(s).iter().any(|p| p.starts_with(&format!("{port}/"))) => {
            failures.push(format!(
                "{label}: Service {service} has no port {port} (it has {:?})",
                ports(s)
            ))
        }
        Some(_) => {}
    }

    // Fixed addresses: the declared Service, as a LoadBalancer with MetalLB's annotation.
    for q in profile
        .questions
        .iter()
        .filter(|q| q.loadbalancer.is_some())
    {
        let lb = q.loadbalancer.as_ref().expect("filtered");
        let name = lb.service.replace("{{ app.name }}", &app.name);
        let Some(s) = services.get(&name) else {
            failures.push(format!(
                "{label}: the Service {name} of {} is not rendered by the chart",
                q.key
            ));
            continue;
        };
        let annotation = &s["metadata"]["annotations"]["metallb.io/loadBalancerIPs"];
        if s["spec"]["type"] != "LoadBalancer" || *annotation != app.settings[&q.key].as_str() {
            failures.push(format!(
                "{label}: Service {name} should be a LoadBalancer annotated with {}: {s}",
                app.settings[&q.key]
            ));
        }
        let want: BTreeSet<String> = lb.ports.iter().cloned().collect();
        if ports(s) != want {
            failures.push(format!(
                "{label}: Service {name} has ports {:?}, the profile declares {want:?}",
                ports(s)
            ));
        }
    }

    // Every volume on the class its profile declares: `storage.local_class` is set in one
    // of the two configurations, so a volume on the wrong class shows up there.
    let values_text = serde_json::to_string(&profile.values).expect("json")
        + &serde_json::to_string(&profile.overlays).expect("json");
    let mut want = BTreeSet::new();
    if values_text.contains("{{ storage_class }}") {
        want.insert(cfg.storage.storage_class.clone());
    }
    if values_text.contains("{{ local_class }}") {
        want.insert(homelab::catalog::local_class(cfg).to_owned());
    }
    let (classes, unnamed) = storage_classes(objects);
    if classes != want {
        failures.push(format!(
            "{label}: the chart's volumes use StorageClasses {classes:?}, expected {want:?}"
        ));
    }
    if !unnamed.is_empty() {
        failures.push(format!(
            "{label}: volume claims without a StorageClass: {unnamed:?}"
        ));
    }
    if profile.needs.storage == StorageNeed::None && !classes.is_empty() {
        failures.push(format!(
            "{label}: needs.storage is none, but the chart claims {classes:?}"
        ));
    }

    match profile.name.as_str() {
        "home-assistant" => check_home_assistant(&label, objects, failures),
        "adguard-home" => check_adguard(&label, profile, objects, failures),
        _ => {}
    }
}

/// Home Assistant answers 400 to proxied requests unless `http:` trusts the proxy.
fn check_home_assistant(label: &str, objects: &[Value], failures: &mut Vec<String>) {
    let config = objects
        .iter()
        .find(|o| o["kind"] == "ConfigMap" && o["metadata"]["name"] == "hass-configuration")
        .and_then(|o| o["data"]["configuration.yaml"].as_str());
    let Some(config) = config else {
        failures.push(format!("{label}: no hass-configuration ConfigMap"));
        return;
    };
    let http: Vec<&str> = config
        .lines()
        .skip_while(|l| *l != "http:")
        .skip(1)
        .take_while(|l| l.starts_with(' '))
        .map(str::trim)
        .collect();
    for want in [
        "use_x_forwarded_for: true",
        "trusted_proxies:",
        "- 10.0.0.0/8",
        "- 172.16.0.0/12",
        "- 192.168.0.0/16",
    ] {
        if !http.contains(&want) {
            failures.push(format!(
                "{label}: configuration.yaml's http: block lacks {want:?}:\n{config}"
            ));
        }
    }
}

/// AdGuard Home's UI must stay on the exposed port after its setup wizard.
fn check_adguard(label: &str, profile: &Profile, objects: &[Value], failures: &mut Vec<String>) {
    let port = profile.expose().port.to_string();
    let container = objects
        .iter()
        .filter(|o| o["kind"] == "Deployment")
        .flat_map(|o| {
            o["spec"]["template"]["spec"]["containers"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .find(|c| {
            c["image"]
                .as_str()
                .is_some_and(|i| i.contains("adguardhome"))
        });
    let Some(c) = container else {
        failures.push(format!("{label}: no AdGuard Home container"));
        return;
    };
    let args: Vec<&str> = c["args"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let web_addr = args.windows(2).find(|w| w[0] == "--web-addr").map(|w| w[1]);
    if web_addr != Some(&format!("0.0.0.0:{port}")) {
        failures.push(format!(
            "{label}: the UI is not pinned to port {port} (args {args:?})"
        ));
    }
    for want in [
        "-c",
        "/opt/adguardhome/conf/AdGuardHome.yaml",
        "-w",
        "/opt/adguardhome/work",
    ] {
        if !args.contains(&want) {
            failures.push(format!(
                "{label}: args {args:?} drop the image's own {want}"
            ));
        }
    }
    let wizard = c["env"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["name"] == "ADGUARD_HOME_DEFAULT_WEB_PORT")
        .and_then(|e| e["value"].as_str());
    if wizard != Some(port.as_str()) {
        failures.push(format!(
            "{label}: the setup wizard does not offer port {port} ({:?})",
            c["env"]
        ));
    }
}

/// Template every HelmRelease of `cfg` and check what the charts render.
fn check_repository(helm: &Path, charts: &Charts, cfg: &Config, failures: &mut Vec<String>) {
    let diagnostics = homelab::catalog::validate_config(cfg);
    assert!(
        diagnostics.is_empty(),
        "{} is not valid: {diagnostics:?}",
        cfg.cluster.name
    );
    let docs = documents(cfg);
    let work = tempfile::tempdir().expect("tempdir");
    let releases: Vec<&Value> = docs
        .iter()
        .map(|(_, d)| d)
        .filter(|d| d["kind"] == "HelmRelease")
        .collect();
    assert_eq!(
        releases.len(),
        homelab::catalog::plan::controllers(cfg).len() + cfg.apps.len(),
        "one HelmRelease per controller and app"
    );
    for hr in releases {
        let ns = hr["metadata"]["namespace"].as_str().expect("namespace");
        let name = hr["metadata"]["name"].as_str().expect("name");
        let label = format!("{name} ({})", cfg.cluster.name);
        let objects = match template(helm, &chart_of(charts, &docs, hr), hr, work.path()) {
            Ok(objects) if !objects.is_empty() => objects,
            Ok(_) => {
                failures.push(format!("{label}: the chart renders nothing"));
                continue;
            }
            Err(e) => {
                failures.push(format!("{label}: {e}"));
                continue;
            }
        };

        // MetalLB refuses a Service with both the annotation and spec.loadBalancerIP, and
        // gives an unannotated LoadBalancer Service a random pool address.
        for (svc_name, s) in services(&objects) {
            if s["spec"].get("loadBalancerIP").is_some() {
                failures.push(format!(
                    "{label}: Service {svc_name} sets spec.loadBalancerIP"
                ));
            }
            if s["spec"]["type"] == "LoadBalancer"
                && s["metadata"]["annotations"]["metallb.io/loadBalancerIPs"].is_null()
            {
                failures.push(format!(
                    "{label}: LoadBalancer Service {svc_name} has no fixed address"
                ));
            }
        }

        // Pods with host access need a privileged namespace; others must not get one.
        let namespace = find(&docs, "Namespace", "", ns)
            .unwrap_or_else(|| panic!("{label}: namespace {ns} is not rendered"));
        let privileged =
            namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged";
        let needs: Vec<String> = pod_specs(&objects)
            .into_iter()
            .filter_map(|(w, spec)| host_access(spec).map(|why| format!("{w}: {why}")))
            .collect();
        let profile = catalog::get(name);
        // An app's namespace is privileged exactly when its pods need it; an infrastructure
        // namespace at least then.
        if (!needs.is_empty() && !privileged)
            || (profile.is_some() && needs.is_empty() && privileged)
        {
            failures.push(format!(
                "{label}: namespace {ns} privileged={privileged}, host access needed by {needs:?}"
            ));
        }

        let Some(profile) = profile else {
            continue;
        };
        // The release waits longer than its pods may take to start.
        let timeout = seconds(hr["spec"]["timeout"].as_str().expect("spec.timeout"));
        let budget = pod_specs(&objects)
            .into_iter()
            .map(|(_, spec)| startup_budget(spec))
            .max()
            .unwrap_or(0);
        if timeout <= budget {
            failures.push(format!(
                "{label}: timeout {timeout}s, but a startup probe allows {budget}s"
            ));
        }
        check_app(cfg, &profile, &objects, &docs, failures);
    }
}

#[test]
fn every_helm_release_templates_with_its_real_chart_and_serves_what_homelab_routes_to() {
    let helm = helm_bin();
    let charts = Charts::load();
    let mut failures = Vec::new();

    // traefik, csi-driver-nfs, every volume on NFS.
    let default = crate::apps::with_every_app(support::example());
    // envoy-gateway, nfs-subdir-external-provisioner, databases on a node-local class.
    let mut full = support::full_example();
    full.storage.local_class = Some("local-path".to_owned());
    let full = crate::apps::with_every_app(full);
    for cfg in [&default, &full] {
        check_repository(&helm, &charts, cfg, &mut failures);
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}
