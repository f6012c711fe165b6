//! Apps: per app of homelab.yaml, its HelmRelease is Ready, its pods run, and an Ingress
//! or HTTPRoute routes its host.

use std::collections::BTreeMap;

use kube::ResourceExt;
use serde_json::Value;

use super::flux::release_finding;
use super::{name_of, pod_problem, unreadable};
use crate::config::{Config, IngressController};
use crate::doctor::causes::{Causes, Root};
use crate::doctor::snapshot::{Listing, Snapshot};
use crate::doctor::{Finding, Section, Severity};

pub fn apps(cfg: &Config, snap: &Snapshot, causes: &Causes) -> Section {
    let mut out = Vec::new();
    if cfg.apps.is_empty() {
        out.push(Finding::ok(
            "apps.none",
            "no apps installed (add one with `homelab add-app`)",
        ));
        return Section::new("apps", "Apps", out);
    }
    out.extend(unreadable(
        "apps.helmrelease",
        "HelmReleases",
        &snap.helm_releases,
    ));
    out.extend(unreadable("apps.pods", "pods", &snap.pods));
    let routes = host_routes(snap);
    for app in &cfg.apps {
        let folder = format!("apps/{}/", app.name);
        let releases: Vec<_> = causes
            .releases
            .iter()
            .filter(|hr| hr.namespace == app.namespace)
            .collect();
        let release = releases
            .iter()
            .find(|hr| hr.name == app.name)
            .or_else(|| releases.first());
        // What the app's route waits on when its release is not there.
        let mut app_root: Option<Root> = None;
        match release {
            Some(hr) => {
                let f = release_finding("apps.helmrelease", hr, causes, &folder);
                app_root = match f.status {
                    Severity::Failed => Some(Root(hr.id())),
                    Severity::Waiting => f.waiting_on.clone().map(Root),
                    _ => None,
                };
                out.push(f);
            }
            None if matches!(snap.helm_releases, Listing::Error(_)) => {}
            None => {
                let root = causes.for_namespace(&app.namespace);
                app_root = Some(
                    root.clone()
                        .unwrap_or(Root(format!("the HelmRelease of {}", app.name))),
                );
                out.push(Finding::failed_unless(
                    "apps.helmrelease",
                    format!("app {}: no HelmRelease in namespace {}", app.name, app.namespace),
                    format!(
                        "the apps Kustomization applies it: is {folder} listed in apps/kustomization.yaml and pushed? `homelab push --wait` pushes and waits until it runs; `homelab status` shows the Kustomizations"
                    ),
                    root,
                ));
            }
        }
        let mut pods_ok = 0usize;
        for pod in snap
            .pods
            .items()
            .iter()
            .filter(|p| p.namespace().as_deref() == Some(app.namespace.as_str()))
        {
            match pod_problem(pod) {
                None => pods_ok += 1,
                Some((true, msg)) => out.push(Finding::failed_unless(
                    "apps.pods",
                    format!("app {}: {msg}", app.name),
                    format!(
                        "the pod's own reason is above: fix the app's settings in homelab.yaml or its values in {folder}, then `homelab push --wait`"
                    ),
                    causes.flux(),
                )),
                Some((false, msg)) => out.push(Finding::warning(
                    "apps.pods",
                    format!("app {}: {msg}", app.name),
                    format!(
                        "its logs say why it restarts: on the node that runs it, `k3s crictl ps -a --name {}` and `k3s crictl logs <container>`",
                        app.name
                    ),
                )),
            }
        }
        if pods_ok > 0 {
            out.push(Finding::ok(
                "apps.pods",
                format!("app {}: {pods_ok} pod(s) ready", app.name),
            ));
        }
        match routes.get(app.host.as_str()) {
            Some(by) => out.push(Finding::ok("apps.host", format!("app {} served at https://{} ({by})", app.name, app.host))),
            None => out.push(Finding::failed_unless(
                "apps.host",
                format!("app {}: nothing routes {}", app.name, app.host),
                match cfg.ingress.controller {
                    IngressController::Traefik => format!("no Ingress has this host: check the app's Ingress in {folder} and its HelmRelease values"),
                    IngressController::EnvoyGateway => format!("no HTTPRoute has this hostname: check the app's HTTPRoute in {folder}"),
                },
                app_root.or_else(|| causes.for_namespace(&app.namespace)),
            )),
        }
    }
    Section::new("apps", "Apps", out)
}

/// host → the Ingress or HTTPRoute that routes it.
fn host_routes(snap: &Snapshot) -> BTreeMap<String, String> {
    let mut routes = BTreeMap::new();
    for ing in snap.ingresses.items() {
        for rule in ing
            .spec
            .as_ref()
            .and_then(|s| s.rules.as_ref())
            .into_iter()
            .flatten()
        {
            if let Some(host) = &rule.host {
                routes
                    .entry(host.clone())
                    .or_insert_with(|| format!("Ingress {}", name_of(ing)));
            }
        }
    }
    for route in snap.http_routes.items() {
        let hosts = route
            .data
            .pointer("/spec/hostnames")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for host in hosts.iter().filter_map(Value::as_str) {
            routes
                .entry(host.to_owned())
                .or_insert_with(|| format!("HTTPRoute {}", name_of(route)));
        }
    }
    routes
}
