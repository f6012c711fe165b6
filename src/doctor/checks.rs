//! The cluster sections, each a function of the configuration and one [`Snapshot`].
//!
//! Pure except for the two checks that must leave the cluster: the NFS server's TCP port and
//! the app hosts' DNS resolution, which are asked from this machine, as a user's browser
//! and the nodes would.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Pod, Service};
use kube::ResourceExt;
use kube::api::DynamicObject;
use serde_json::Value;

use super::local::GitState;
use super::snapshot::{CERT_MANAGER_NAMESPACE, Listing, SecretKeys, Snapshot};
use super::{Finding, Section};
use crate::config::{Challenge, Config, IngressController, NodeRole};

/// The NFS port; `HOMELAB_NFS_PORT` overrides it (a debugging aid, e.g. for a server behind
/// a port forward; the tests use it too, since 2049 needs root and may be taken).
pub fn nfs_port() -> u16 {
    std::env::var("HOMELAB_NFS_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(2049)
}

/// Certificates expiring sooner than this many days are a warning…
pub const EXPIRY_WARNING_DAYS: i64 = 14;
/// …and sooner than this, a failure: cert-manager renews well before (30 days ahead for
/// Let's Encrypt's 90-day certificates), so renewal is evidently broken.
pub const EXPIRY_FAILED_DAYS: i64 = 7;

const FLUX_NAMESPACE: &str = "flux-system";
const METALLB_NAMESPACE: &str = "metallb-system";
const ENVOY_OWNER_LABEL: &str = "gateway.envoyproxy.io/owning-gateway-name";
const CONTROL_PLANE_LABEL: &str = "node-role.kubernetes.io/control-plane";
const DEFAULT_CLASS_ANNOTATION: &str = "storageclass.kubernetes.io/is-default-class";

/// Every cluster section.
pub async fn all(cfg: &Config, snap: &Snapshot, git: &GitState) -> Vec<Section> {
    let (storage, dns) = tokio::join!(storage(cfg, snap), dns(cfg));
    vec![
        nodes(cfg, snap),
        flux(cfg, snap, git),
        loadbalancing(cfg, snap),
        certificates(cfg, snap),
        storage,
        dns,
        apps(cfg, snap),
    ]
}

/// The sections that still make sense when the cluster cannot be reached.
pub async fn without_cluster(cfg: &Config) -> Vec<Section> {
    vec![dns(cfg).await]
}

fn name_of<K: kube::Resource>(obj: &K) -> String {
    let name = obj.meta().name.clone().unwrap_or_default();
    match &obj.meta().namespace {
        Some(ns) => format!("{ns}/{name}"),
        None => name,
    }
}

fn unreadable<T>(check: &str, what: &str, listing: &Listing<T>) -> Option<Finding> {
    match listing {
        Listing::Error(err) => Some(Finding::failed(
            check,
            format!("cannot list {what}: {err}"),
            "the kubeconfig's user needs read access to the whole cluster (cluster-admin, or the `view` ClusterRole plus nodes and CRDs)",
        )),
        _ => None,
    }
}

/// The `Ready` condition of a Flux or cert-manager object: (is True, reason, message).
fn ready(obj: &DynamicObject) -> Option<(bool, String, String)> {
    let conditions = obj.data.pointer("/status/conditions")?.as_array()?;
    let c = conditions
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some("Ready"))?;
    let text = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    Some((text("status") == "True", text("reason"), text("message")))
}

fn suspended(obj: &DynamicObject) -> bool {
    obj.data.pointer("/spec/suspend").and_then(Value::as_bool) == Some(true)
}

fn str_at<'a>(obj: &'a DynamicObject, pointer: &str) -> Option<&'a str> {
    obj.data.pointer(pointer).and_then(Value::as_str)
}

/// Readiness of a Flux object, as a finding; `hint` says how to dig further.
fn flux_object(check: &str, kind: &str, obj: &DynamicObject, hint: &str) -> Finding {
    let id = format!("{kind} {}", name_of(obj));
    if suspended(obj) {
        return Finding::warning(
            check,
            format!("{id} is suspended: Flux does not reconcile it"),
            format!(
                "resume it with `flux resume {} {} -n {}` once done",
                kind.to_lowercase(),
                obj.name_any(),
                obj.namespace().unwrap_or_default()
            ),
        );
    }
    match ready(obj) {
        Some((true, _, message)) => {
            let detail = str_at(obj, "/status/lastAppliedRevision")
                .or_else(|| str_at(obj, "/status/artifact/revision"))
                .map(short_revision)
                .unwrap_or(message);
            Finding::ok(check, format!("{id} ready ({detail})"))
        }
        Some((false, reason, message)) => Finding::failed(
            check,
            format!(
                "{id} not ready: {reason}: {}",
                super::connect::one_line(&message)
            ),
            hint.to_owned(),
        ),
        None => Finding::failed(
            check,
            format!("{id} has not been reconciled yet"),
            "make sure the Flux controllers run (see above); reconciliation starts within a minute",
        ),
    }
}

/// `main@sha1:0123456789abcdef…` → `main@sha1:0123456`.
fn short_revision(rev: &str) -> String {
    match rev.split_once(':') {
        Some((prefix, hash)) if hash.len() > 7 => format!("{prefix}:{}", &hash[..7]),
        _ => rev.to_owned(),
    }
}

// ---------------------------------------------------------------- nodes

pub fn nodes(cfg: &Config, snap: &Snapshot) -> Section {
    let mut out = Vec::new();
    if let Some(f) = unreadable("nodes.list", "nodes", &snap.nodes) {
        return Section::new("nodes", "Nodes", vec![f]);
    }
    let in_cluster = snap.nodes.items();
    for (i, want) in cfg.nodes.iter().enumerate() {
        let Some(node) = in_cluster.iter().find(|n| n.name_any() == want.name) else {
            out.push(Finding::failed(
                "nodes.present",
                format!("node {} ({}) is not in the cluster", want.name, want.address),
                format!(
                    "join it to the cluster (k3s: run the installer on it with K3S_URL and K3S_TOKEN), or remove nodes[{i}] from homelab.yaml"
                ),
            ));
            continue;
        };
        let status = node.status.clone().unwrap_or_default();
        let ready = status
            .conditions
            .unwrap_or_default()
            .into_iter()
            .find(|c| c.type_ == "Ready");
        let version = status
            .node_info
            .map(|i| i.kubelet_version)
            .unwrap_or_default();
        match ready {
            Some(c) if c.status == "True" => {}
            other => {
                let why = other
                    .map(|c| {
                        format!(
                            "{}{}",
                            c.reason.unwrap_or_default(),
                            c.message.map(|m| format!(": {m}")).unwrap_or_default()
                        )
                    })
                    .unwrap_or_else(|| "no Ready condition".into());
                out.push(Finding::failed(
                    "nodes.ready",
                    format!("node {} is not Ready: {why}", want.name),
                    format!(
                        "check the node: `kubectl describe node {}`; on the machine, `systemctl status k3s` (or k3s-agent) and its journal",
                        want.name
                    ),
                ));
                continue;
            }
        }
        let internal: Vec<String> = status
            .addresses
            .unwrap_or_default()
            .into_iter()
            .filter(|a| a.type_ == "InternalIP")
            .map(|a| a.address)
            .collect();
        if !internal.contains(&want.address) {
            out.push(Finding::failed(
                "nodes.address",
                format!(
                    "node {} has InternalIP {}, homelab.yaml says {}",
                    want.name,
                    if internal.is_empty() { "none".into() } else { internal.join(", ") },
                    want.address
                ),
                format!(
                    "fix nodes[{i}].address in homelab.yaml, or pin the node's address (k3s: --node-ip {})",
                    want.address
                ),
            ));
            continue;
        }
        let is_cp = node.labels().contains_key(CONTROL_PLANE_LABEL);
        let want_cp = want.role == NodeRole::ControlPlane;
        let role = if is_cp { "control-plane" } else { "worker" };
        if is_cp != want_cp {
            out.push(Finding::warning(
                "nodes.role",
                format!(
                    "node {} is a {role} in the cluster, homelab.yaml says {}",
                    want.name,
                    if want_cp { "control-plane" } else { "worker" }
                ),
                format!("set nodes[{i}].role to {role} in homelab.yaml"),
            ));
            continue;
        }
        out.push(Finding::ok(
            "nodes.ready",
            format!(
                "node {} Ready, {}, {role} ({version})",
                want.name, want.address
            ),
        ));
    }
    for node in in_cluster {
        let name = node.name_any();
        if !cfg.nodes.iter().any(|n| n.name == name) {
            out.push(Finding::warning(
                "nodes.unlisted",
                format!("node {name} is in the cluster but not in homelab.yaml"),
                format!(
                    "add it under `nodes:` in homelab.yaml (name {name}, its address and role)"
                ),
            ));
        }
    }
    Section::new("nodes", "Nodes", out)
}

// ---------------------------------------------------------------- flux

/// The CRDs each Flux component serves.
fn flux_crds(component: &str) -> &'static [&'static str] {
    match component {
        "source-controller" => &[
            "gitrepositories.source.toolkit.fluxcd.io",
            "ocirepositories.source.toolkit.fluxcd.io",
            "helmrepositories.source.toolkit.fluxcd.io",
            "helmcharts.source.toolkit.fluxcd.io",
            "buckets.source.toolkit.fluxcd.io",
        ],
        "kustomize-controller" => &["kustomizations.kustomize.toolkit.fluxcd.io"],
        "helm-controller" => &["helmreleases.helm.toolkit.fluxcd.io"],
        "notification-controller" => &[
            "alerts.notification.toolkit.fluxcd.io",
            "providers.notification.toolkit.fluxcd.io",
            "receivers.notification.toolkit.fluxcd.io",
        ],
        "image-reflector-controller" => &[
            "imagerepositories.image.toolkit.fluxcd.io",
            "imagepolicies.image.toolkit.fluxcd.io",
        ],
        "image-automation-controller" => &["imageupdateautomations.image.toolkit.fluxcd.io"],
        "source-watcher" => &["artifactgenerators.source.extensions.fluxcd.io"],
        _ => &[],
    }
}

fn deployment_ready(d: &k8s_openapi::api::apps::v1::Deployment) -> (bool, String) {
    let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let status = d.status.clone().unwrap_or_default();
    let ready = status.ready_replicas.unwrap_or(0);
    let ok = want > 0 && ready >= want && status.updated_replicas.unwrap_or(ready) >= want;
    (ok, format!("{ready}/{want} ready"))
}

fn deployment_image(d: &k8s_openapi::api::apps::v1::Deployment) -> String {
    d.spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .and_then(|p| p.containers.first())
        .and_then(|c| c.image.clone())
        .unwrap_or_default()
}

pub fn flux(cfg: &Config, snap: &Snapshot, git: &GitState) -> Section {
    let mut out = Vec::new();
    for (listing, what) in [(&snap.deployments, "deployments")] {
        if let Some(f) = unreadable("flux.controllers", what, listing) {
            out.push(f);
        }
    }
    let flux_deployments: Vec<_> = snap
        .deployments
        .items()
        .iter()
        .filter(|d| d.namespace().as_deref() == Some(FLUX_NAMESPACE))
        .collect();
    if flux_deployments.is_empty() && matches!(snap.git_repositories, Listing::NotInstalled) {
        out.push(Finding::failed(
            "flux.installed",
            "Flux is not installed in this cluster",
            "run `homelab bootstrap` to install Flux and connect it to the repository",
        ));
        return Section::new("flux", "Flux", out);
    }

    for component in &cfg.flux.components {
        match flux_deployments.iter().find(|d| d.name_any() == *component) {
            None => out.push(Finding::failed(
                "flux.controllers",
                format!("{component} is not deployed in {FLUX_NAMESPACE}"),
                "run `homelab bootstrap` to (re)install the Flux components listed in flux.components",
            )),
            Some(d) => {
                let (ok, counts) = deployment_ready(d);
                let image = deployment_image(d);
                if ok {
                    out.push(Finding::ok("flux.controllers", format!("{component} ready ({image})")));
                } else {
                    out.push(Finding::failed(
                        "flux.controllers",
                        format!("{component} not ready: {counts} ({image})"),
                        format!("see `kubectl -n {FLUX_NAMESPACE} describe deployment {component}` and its pods' logs"),
                    ));
                }
            }
        }
    }

    match &snap.crds {
        Listing::Items(names) => {
            let have: BTreeSet<&str> = names.iter().map(String::as_str).collect();
            let wanted: Vec<&str> = cfg
                .flux
                .components
                .iter()
                .flat_map(|c| flux_crds(c).iter().copied())
                .collect();
            let missing: Vec<&str> = wanted
                .iter()
                .copied()
                .filter(|c| !have.contains(c))
                .collect();
            if missing.is_empty() {
                out.push(Finding::ok(
                    "flux.crds",
                    format!("{} Flux CRDs present", wanted.len()),
                ));
            } else {
                out.push(Finding::failed(
                    "flux.crds",
                    format!("Flux CRDs missing: {}", missing.join(", ")),
                    "run `homelab bootstrap` to install them",
                ));
            }
        }
        other => out.extend(unreadable("flux.crds", "CustomResourceDefinitions", other)),
    }

    // The source everything else comes from.
    let source = snap.git_repositories.items().iter().find(|g| {
        g.namespace().as_deref() == Some(FLUX_NAMESPACE) && g.name_any() == "flux-system"
    });
    match source {
        None => {
            out.extend(unreadable(
                "flux.source",
                "GitRepositories",
                &snap.git_repositories,
            ));
            if !matches!(snap.git_repositories, Listing::Error(_)) {
                out.push(Finding::failed(
                    "flux.source",
                    "GitRepository flux-system/flux-system does not exist: Flux is not connected to the repository",
                    "run `homelab bootstrap`",
                ));
            }
        }
        Some(repo) => {
            out.push(flux_object(
                "flux.source",
                "GitRepository",
                repo,
                "Flux cannot fetch the repository: check git.url, the deploy key (`homelab bootstrap --rotate-keys` replaces it) and that the branch exists on the remote",
            ));
            out.push(revision_finding(cfg, repo, git));
        }
    }

    let app_releases: BTreeSet<(String, String)> = cfg
        .apps
        .iter()
        .map(|a| (a.namespace.clone(), a.name.clone()))
        .collect();
    out.extend(unreadable(
        "flux.kustomizations",
        "Kustomizations",
        &snap.kustomizations,
    ));
    for k in snap.kustomizations.items() {
        out.push(flux_object(
            "flux.kustomizations",
            "Kustomization",
            k,
            &format!(
                "see `flux get kustomizations -A` and `kubectl -n {} describe kustomization {}`; fix the manifests under its path and push",
                k.namespace().unwrap_or_default(),
                k.name_any()
            ),
        ));
    }
    out.extend(unreadable(
        "flux.helmreleases",
        "HelmReleases",
        &snap.helm_releases,
    ));
    for hr in snap.helm_releases.items() {
        // Apps' releases are reported in the Apps section.
        if app_releases.contains(&(hr.namespace().unwrap_or_default(), hr.name_any())) {
            continue;
        }
        out.push(helm_release_finding("flux.helmreleases", hr));
    }
    Section::new("flux", "Flux", out)
}

fn helm_release_finding(check: &str, hr: &DynamicObject) -> Finding {
    flux_object(
        check,
        "HelmRelease",
        hr,
        &format!(
            "see `kubectl -n {ns} describe helmrelease {name}` and the chart's pods; after fixing its values, `flux reconcile helmrelease {name} -n {ns} --force`",
            ns = hr.namespace().unwrap_or_default(),
            name = hr.name_any()
        ),
    )
}

/// Does Flux run what the remote holds?
fn revision_finding(cfg: &Config, repo: &DynamicObject, git: &GitState) -> Finding {
    let applied = str_at(repo, "/status/artifact/revision");
    let Some(applied) = applied else {
        return Finding::warning(
            "flux.revision",
            "GitRepository flux-system has no artifact yet",
            "wait a minute for the first fetch, then run the doctor again",
        );
    };
    let Some(expected) = git.expected_revision() else {
        return Finding::warning(
            "flux.revision",
            format!(
                "Flux runs {}; no local commit to compare with",
                short_revision(applied)
            ),
            "run the doctor from the homelab repository (--dir)",
        );
    };
    let hash = applied.rsplit(':').next().unwrap_or(applied);
    let where_ = if git.remote_head.is_some() {
        format!("origin/{}", cfg.git.branch)
    } else {
        "the local HEAD".to_owned()
    };
    if hash == expected.to_string() {
        Finding::ok(
            "flux.revision",
            format!("Flux runs {} = {where_}", short_revision(applied)),
        )
    } else {
        Finding::failed(
            "flux.revision",
            format!(
                "Flux runs {}, but {where_} is at {}",
                short_revision(applied),
                &expected.to_string()[..7]
            ),
            "Flux fetches every minute: force it with `flux reconcile source git flux-system`; if it stays behind, read the GitRepository's status (`kubectl -n flux-system describe gitrepository flux-system`)",
        )
    }
}

// ---------------------------------------------------------------- load balancing

fn lb_ips(svc: &Service) -> Vec<String> {
    svc.status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.as_ref())
        .map(|ing| {
            ing.iter()
                .filter_map(|i| i.ip.clone().or_else(|| i.hostname.clone()))
                .collect()
        })
        .unwrap_or_default()
}

fn is_load_balancer(svc: &Service) -> bool {
    svc.spec.as_ref().and_then(|s| s.type_.as_deref()) == Some("LoadBalancer")
}

pub fn loadbalancing(cfg: &Config, snap: &Snapshot) -> Section {
    let mut out = Vec::new();
    out.extend(unreadable("lb.metallb", "deployments", &snap.deployments));
    out.extend(unreadable("lb.metallb", "daemonsets", &snap.daemonsets));
    out.extend(unreadable("lb.services", "services", &snap.services));

    // MetalLB: the chart names them <release>-controller / <release>-speaker, the plain
    // manifests controller / speaker.
    let controller = snap.deployments.items().iter().find(|d| {
        d.namespace().as_deref() == Some(METALLB_NAMESPACE) && d.name_any().ends_with("controller")
    });
    let speaker = snap.daemonsets.items().iter().find(|d| {
        d.namespace().as_deref() == Some(METALLB_NAMESPACE) && d.name_any().ends_with("speaker")
    });
    let infra_hint = "MetalLB is installed by the infra-metallb Kustomization: see `flux get kustomizations -A` and `flux get helmreleases -A`";
    match controller {
        None => out.push(Finding::failed(
            "lb.metallb",
            format!("MetalLB controller not found in {METALLB_NAMESPACE}"),
            infra_hint,
        )),
        Some(d) => {
            let (ok, counts) = deployment_ready(d);
            if ok {
                out.push(Finding::ok(
                    "lb.metallb",
                    format!("MetalLB controller ready ({})", deployment_image(d)),
                ));
            } else {
                out.push(Finding::failed(
                    "lb.metallb",
                    format!("MetalLB controller not ready: {counts}"),
                    format!(
                        "see `kubectl -n {METALLB_NAMESPACE} describe deployment {}`",
                        d.name_any()
                    ),
                ));
            }
        }
    }
    match speaker {
        None => out.push(Finding::failed(
            "lb.metallb",
            format!("MetalLB speaker not found in {METALLB_NAMESPACE}"),
            infra_hint,
        )),
        Some(ds) => {
            let st = ds.status.clone().unwrap_or_default();
            if st.desired_number_scheduled > 0 && st.number_ready >= st.desired_number_scheduled {
                out.push(Finding::ok(
                    "lb.metallb",
                    format!(
                        "MetalLB speaker ready on {}/{} nodes",
                        st.number_ready, st.desired_number_scheduled
                    ),
                ));
            } else {
                out.push(Finding::failed(
                    "lb.metallb",
                    format!("MetalLB speaker ready on {}/{} nodes", st.number_ready, st.desired_number_scheduled),
                    format!(
                        "see `kubectl -n {METALLB_NAMESPACE} get pods`; the namespace needs the pod-security label `pod-security.kubernetes.io/enforce: privileged`"
                    ),
                ));
            }
        }
    }

    // The address pool.
    let want: BTreeSet<&str> = cfg
        .network
        .loadbalancer_pool
        .iter()
        .map(String::as_str)
        .collect();
    match &snap.ip_pools {
        Listing::NotInstalled => out.push(Finding::failed(
            "lb.pool",
            "MetalLB's CRDs are not installed (no IPAddressPool kind)",
            infra_hint,
        )),
        Listing::Error(err) => out.push(Finding::failed(
            "lb.pool",
            format!("cannot list IPAddressPools: {err}"),
            "the kubeconfig's user needs read access to the whole cluster",
        )),
        Listing::Items(pools) => {
            let addresses = |p: &DynamicObject| -> Vec<String> {
                p.data
                    .pointer("/spec/addresses")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| v.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default()
            };
            let matching = pools.iter().find(|p| {
                let have = addresses(p);
                have.iter().map(String::as_str).collect::<BTreeSet<_>>() == want
            });
            match (matching, pools.first()) {
                (Some(p), _) => out.push(Finding::ok(
                    "lb.pool",
                    format!("IPAddressPool {} serves {}", name_of(p), cfg.network.loadbalancer_pool.join(", ")),
                )),
                (None, None) => out.push(Finding::failed(
                    "lb.pool",
                    "no MetalLB IPAddressPool: LoadBalancer Services get no address",
                    "the pool comes from the infra-metallb-pool Kustomization: see `flux get kustomizations -A`",
                )),
                (None, Some(p)) => out.push(Finding::failed(
                    "lb.pool",
                    format!(
                        "IPAddressPool {} has {}, homelab.yaml network.loadbalancer_pool is {}",
                        name_of(p),
                        addresses(p).join(", "),
                        cfg.network.loadbalancer_pool.join(", ")
                    ),
                    "run `homelab render` and `homelab push` so the cluster gets the configured pool",
                )),
            }
        }
    }

    // The ingress controller's Service and its fixed address.
    let services = snap.services.items();
    let ingress_svc: Option<&Service> = match cfg.ingress.controller {
        IngressController::Traefik => services
            .iter()
            .find(|s| s.namespace().as_deref() == Some("traefik") && s.name_any() == "traefik"),
        IngressController::EnvoyGateway => services
            .iter()
            .find(|s| s.labels().contains_key(ENVOY_OWNER_LABEL) && is_load_balancer(s)),
    };
    let ingress_name = match cfg.ingress.controller {
        IngressController::Traefik => "Service traefik/traefik".to_owned(),
        IngressController::EnvoyGateway => "the Envoy Gateway's Service".to_owned(),
    };
    match ingress_svc {
        None => out.push(Finding::failed(
            "lb.ingress",
            format!("{ingress_name} does not exist"),
            "the ingress controller is installed by the infra-traefik or infra-envoy-gateway Kustomization: see `flux get helmreleases -A`",
        )),
        Some(svc) => {
            let ips = lb_ips(svc);
            if ips.contains(&cfg.network.ingress_address) {
                out.push(Finding::ok(
                    "lb.ingress",
                    format!("{} has address {}", name_of(svc), cfg.network.ingress_address),
                ));
            } else if ips.is_empty() {
                out.push(Finding::failed(
                    "lb.ingress",
                    format!("{} has no external address (want {})", name_of(svc), cfg.network.ingress_address),
                    format!(
                        "MetalLB did not assign {}: see `kubectl -n {} describe service {}` (is the address inside the pool and free?)",
                        cfg.network.ingress_address,
                        svc.namespace().unwrap_or_default(),
                        svc.name_any()
                    ),
                ));
            } else {
                out.push(Finding::failed(
                    "lb.ingress",
                    format!("{} has address {}, homelab.yaml says {}", name_of(svc), ips.join(", "), cfg.network.ingress_address),
                    "run `homelab render` and `homelab push`; the Service's `metallb.io/loadBalancerIPs` annotation must be network.ingress_address",
                ));
            }
        }
    }

    // Any other LoadBalancer Service stuck without an address.
    let ingress_id = ingress_svc.map(name_of);
    for svc in services.iter().filter(|s| is_load_balancer(s)) {
        if Some(name_of(svc)) == ingress_id || !lb_ips(svc).is_empty() {
            continue;
        }
        out.push(Finding::failed(
            "lb.pending",
            format!("LoadBalancer Service {} has no external address (pending)", name_of(svc)),
            format!(
                "MetalLB assigns addresses from network.loadbalancer_pool: see `kubectl -n {} describe service {}` (pool exhausted? MetalLB running?)",
                svc.namespace().unwrap_or_default(),
                svc.name_any()
            ),
        ));
    }

    // k3s's own load balancer and ingress, which fight ours for the same addresses and ports.
    let k3s = crate::kube::k3s::detect(
        snap.nodes.items(),
        snap.daemonsets.items(),
        snap.deployments.items(),
        snap.k3s_helm_charts.items(),
    );
    if !k3s.servicelb.is_empty() {
        out.push(Finding::failed(
            "lb.k3s-servicelb",
            format!(
                "k3s's built-in servicelb runs beside MetalLB ({}): both answer for LoadBalancer Services",
                k3s.servicelb.join("; ")
            ),
            crate::kube::k3s::FIX,
        ));
    }
    if !k3s.traefik.is_empty() {
        out.push(Finding::failed(
            "lb.k3s-traefik",
            format!(
                "k3s's bundled Traefik runs in kube-system beside the homelab's ingress controller ({})",
                k3s.traefik.join("; ")
            ),
            crate::kube::k3s::FIX,
        ));
    }
    Section::new("loadbalancing", "Load balancing", out)
}

// ---------------------------------------------------------------- certificates

/// Whole days from now until an RFC 3339 time; negative when past.
pub fn days_until(rfc3339: &str) -> Option<i64> {
    let t: k8s_openapi::jiff::Timestamp = rfc3339.parse().ok()?;
    let secs = t.as_second() - k8s_openapi::jiff::Timestamp::now().as_second();
    Some(secs.div_euclid(86_400))
}

pub fn certificates(cfg: &Config, snap: &Snapshot) -> Section {
    let mut out = Vec::new();
    let cm_hint = "cert-manager is installed by the infra-cert-manager Kustomization: see `flux get helmreleases -A`";
    match &snap.cluster_issuers {
        Listing::NotInstalled => out.push(Finding::failed(
            "certs.issuers",
            "cert-manager is not installed (no ClusterIssuer kind)",
            cm_hint,
        )),
        Listing::Error(err) => out.push(Finding::failed(
            "certs.issuers",
            format!("cannot list ClusterIssuers: {err}"),
            "the kubeconfig's user needs read access to the whole cluster",
        )),
        Listing::Items(issuers) if issuers.is_empty() => out.push(Finding::failed(
            "certs.issuers",
            "no ClusterIssuer: certificates cannot be issued",
            "the issuers come from the infra-cert-issuers Kustomization: see `flux get kustomizations -A`",
        )),
        Listing::Items(issuers) => {
            for issuer in issuers {
                let name = issuer.name_any();
                out.push(match ready(issuer) {
                    Some((true, _, _)) => Finding::ok("certs.issuers", format!("ClusterIssuer {name} ready")),
                    Some((false, reason, message)) => Finding::failed(
                        "certs.issuers",
                        format!("ClusterIssuer {name} not ready: {reason}: {}", super::connect::one_line(&message)),
                        format!("see `kubectl describe clusterissuer {name}`; for ACME, check certificates.email and the DNS provider credentials"),
                    ),
                    None => Finding::failed(
                        "certs.issuers",
                        format!("ClusterIssuer {name} has no Ready condition"),
                        "is cert-manager running? `kubectl -n cert-manager get pods`",
                    ),
                });
            }
        }
    }

    out.extend(unreadable(
        "certs.certificates",
        "Certificates",
        &snap.certificates,
    ));
    for cert in snap.certificates.items() {
        let id = name_of(cert);
        let hint_describe = format!(
            "see `kubectl -n {} describe certificate {}` and its CertificateRequest, Order and Challenge",
            cert.namespace().unwrap_or_default(),
            cert.name_any()
        );
        match ready(cert) {
            Some((true, _, _)) => {}
            Some((false, reason, message)) => {
                out.push(Finding::failed(
                    "certs.certificates",
                    format!(
                        "Certificate {id} not ready: {reason}: {}",
                        super::connect::one_line(&message)
                    ),
                    hint_describe,
                ));
                continue;
            }
            None => {
                out.push(Finding::failed(
                    "certs.certificates",
                    format!("Certificate {id} has not been issued yet"),
                    hint_describe,
                ));
                continue;
            }
        }
        let days = str_at(cert, "/status/notAfter").and_then(days_until);
        let renewal = format!(
            "cert-manager should have renewed it: {hint_describe}; `cmctl renew -n {} {}` forces a renewal",
            cert.namespace().unwrap_or_default(),
            cert.name_any()
        );
        out.push(match days {
            None => Finding::ok("certs.certificates", format!("Certificate {id} ready")),
            Some(d) if d < 0 => Finding::failed(
                "certs.certificates",
                format!("Certificate {id} has expired"),
                renewal,
            ),
            Some(d) if d < EXPIRY_FAILED_DAYS => Finding::failed(
                "certs.certificates",
                format!("Certificate {id} expires in {d} days"),
                renewal,
            ),
            Some(d) if d < EXPIRY_WARNING_DAYS => Finding::warning(
                "certs.certificates",
                format!("Certificate {id} expires in {d} days"),
                renewal,
            ),
            Some(d) => Finding::ok(
                "certs.certificates",
                format!("Certificate {id} ready, expires in {d} days"),
            ),
        });
    }

    if cfg.certificates.challenge == Challenge::Dns01 {
        let provider = cfg.certificates.dns_provider;
        let name = provider.secret_name();
        let keys = provider.secret_keys(&cfg.certificates.dns_settings);
        let fix = format!(
            "run `homelab bootstrap` with the {} credentials in the environment (see docs/configuration.md) to create Secret {CERT_MANAGER_NAMESPACE}/{name}",
            provider.as_str()
        );
        out.push(match &snap.dns_secret {
            SecretKeys::Keys(have) => {
                let missing: Vec<&str> = keys.iter().copied().filter(|k| !have.iter().any(|h| h == k)).collect();
                if missing.is_empty() {
                    Finding::ok("certs.dns-secret", format!("Secret {CERT_MANAGER_NAMESPACE}/{name} has {}", keys.join(", ")))
                } else {
                    Finding::failed(
                        "certs.dns-secret",
                        format!("Secret {CERT_MANAGER_NAMESPACE}/{name} lacks key {}", missing.join(", ")),
                        fix,
                    )
                }
            }
            SecretKeys::Missing => Finding::failed(
                "certs.dns-secret",
                format!("Secret {CERT_MANAGER_NAMESPACE}/{name} ({} credentials) does not exist: DNS-01 challenges fail", provider.as_str()),
                fix,
            ),
            SecretKeys::Error(err) => Finding::failed(
                "certs.dns-secret",
                format!("cannot read Secret {CERT_MANAGER_NAMESPACE}/{name}: {err}"),
                "the kubeconfig's user needs to read Secrets in cert-manager",
            ),
            SecretKeys::NotNeeded => Finding::ok("certs.dns-secret", "no DNS provider Secret needed"),
        });
    }
    Section::new("certificates", "Certificates", out)
}

// ---------------------------------------------------------------- storage

pub async fn storage(cfg: &Config, snap: &Snapshot) -> Section {
    let mut out = Vec::new();
    let want = &cfg.storage.storage_class;
    out.extend(unreadable(
        "storage.class",
        "StorageClasses",
        &snap.storage_classes,
    ));
    let classes = snap.storage_classes.items();
    let is_default = |sc: &k8s_openapi::api::storage::v1::StorageClass| {
        sc.annotations()
            .get(DEFAULT_CLASS_ANNOTATION)
            .map(String::as_str)
            == Some("true")
    };
    match classes.iter().find(|c| c.name_any() == *want) {
        None if matches!(snap.storage_classes, Listing::Items(_)) => out.push(Finding::failed(
            "storage.class",
            format!("StorageClass {want} does not exist"),
            "it is created with the NFS provisioner by the infra Kustomizations: see `flux get helmreleases -A`",
        )),
        None => {}
        Some(sc) if cfg.storage.default_class && !is_default(sc) => out.push(Finding::failed(
            "storage.class",
            format!("StorageClass {want} exists but is not the default class"),
            "PVCs without a class stay Pending: run `homelab render` and `homelab push`, or set storage.default_class: false",
        )),
        Some(sc) => out.push(Finding::ok(
            "storage.class",
            format!(
                "StorageClass {want} ({}){}",
                sc.provisioner,
                if is_default(sc) { ", default" } else { "" }
            ),
        )),
    }
    if cfg.storage.default_class {
        let others: Vec<String> = classes
            .iter()
            .filter(|c| c.name_any() != *want && is_default(c))
            .map(|c| c.name_any())
            .collect();
        if !others.is_empty() {
            out.push(Finding::warning(
                "storage.default",
                format!("other default StorageClass(es): {} — which one a PVC gets is unpredictable", others.join(", ")),
                "remove the default annotation from them (k3s: `disable: [local-storage]` in /etc/rancher/k3s/config.yaml)",
            ));
        }
    }

    out.extend(unreadable(
        "storage.pvcs",
        "PersistentVolumeClaims",
        &snap.pvcs,
    ));
    out.extend(unreadable("storage.pvcs", "PVC events", &snap.pvc_events));
    for pvc in snap.pvcs.items() {
        let phase = pvc
            .status
            .as_ref()
            .and_then(|s| s.phase.as_deref())
            .unwrap_or("Pending");
        if phase != "Pending" {
            continue;
        }
        let (ns, name) = (pvc.namespace().unwrap_or_default(), pvc.name_any());
        let event = snap
            .pvc_events
            .items()
            .iter()
            .filter(|e| {
                e.involved_object.name.as_deref() == Some(name.as_str())
                    && e.involved_object.namespace.as_deref() == Some(ns.as_str())
            })
            .max_by_key(|e| {
                e.last_timestamp
                    .as_ref()
                    .map(|t| t.0)
                    .or_else(|| e.event_time.as_ref().map(|t| t.0))
                    .or_else(|| e.metadata.creation_timestamp.as_ref().map(|t| t.0))
            });
        let why = event
            .map(|e| {
                format!(
                    ": {}: {}",
                    e.reason.clone().unwrap_or_default(),
                    super::connect::one_line(&e.message.clone().unwrap_or_default())
                )
            })
            .unwrap_or_default();
        out.push(Finding::failed(
            "storage.pvcs",
            format!("PVC {ns}/{name} is Pending{why}"),
            format!("see `kubectl -n {ns} describe pvc {name}`; check the NFS provisioner's pods and that {} exports {}", cfg.storage.nfs_server, cfg.storage.nfs_path),
        ));
    }

    out.push(nfs_reachable(cfg).await);
    Section::new("storage", "Storage", out)
}

async fn nfs_reachable(cfg: &Config) -> Finding {
    let port = nfs_port();
    let server = cfg.storage.nfs_server.clone();
    let target = format!("{server}:{port}");
    let attempt = tokio::time::timeout(
        Duration::from_secs(2),
        tokio::net::TcpStream::connect((server.as_str(), port)),
    )
    .await;
    let hint = format!(
        "is the NFS server up and exporting {}? Check its firewall allows TCP {port} from the nodes (`showmount -e {server}`)",
        cfg.storage.nfs_path
    );
    match attempt {
        Ok(Ok(_)) => Finding::ok("storage.nfs", format!("NFS server {target} reachable")),
        Ok(Err(err)) => Finding::failed(
            "storage.nfs",
            format!("NFS server {target} unreachable: {err}"),
            hint,
        ),
        Err(_) => Finding::failed(
            "storage.nfs",
            format!("NFS server {target} did not answer within 2s"),
            hint,
        ),
    }
}

// ---------------------------------------------------------------- dns

pub async fn dns(cfg: &Config) -> Section {
    let want: Option<IpAddr> = cfg.network.ingress_address.parse().ok();
    // Each lookup runs on its own task so they overlap; results keep the config's order.
    let handles: Vec<_> = cfg
        .apps
        .iter()
        .map(|app| {
            let host = app.host.clone();
            tokio::spawn(async move {
                let res = tokio::time::timeout(
                    Duration::from_secs(3),
                    tokio::net::lookup_host((host.clone(), 443)),
                )
                .await;
                (host, res)
            })
        })
        .collect();
    let mut results = Vec::with_capacity(handles.len());
    for h in handles {
        if let Ok(r) = h.await {
            results.push(r);
        }
    }
    let mut out = Vec::new();
    let hint = |host: &str| {
        format!(
            "add a DNS record {host} → {} (a wildcard *.{} in your local DNS, or the router); a warning if you use split DNS elsewhere",
            cfg.network.ingress_address, cfg.cluster.domain
        )
    };
    for (host, res) in results {
        match res {
            Ok(Ok(addrs)) => {
                let ips: BTreeSet<IpAddr> = addrs.map(|a| a.ip()).collect();
                if want.is_some_and(|w| ips.contains(&w)) {
                    out.push(Finding::ok(
                        "dns.hosts",
                        format!("{host} → {}", cfg.network.ingress_address),
                    ));
                } else {
                    let shown: Vec<String> = ips.iter().map(IpAddr::to_string).collect();
                    out.push(Finding::warning(
                        "dns.hosts",
                        format!(
                            "{host} resolves to {}, not the ingress address {}",
                            shown.join(", "),
                            cfg.network.ingress_address
                        ),
                        hint(&host),
                    ));
                }
            }
            Ok(Err(err)) => out.push(Finding::warning(
                "dns.hosts",
                format!("{host} does not resolve: {err}"),
                hint(&host),
            )),
            Err(_) => out.push(Finding::warning(
                "dns.hosts",
                format!("{host}: no DNS answer within 3s"),
                hint(&host),
            )),
        }
    }
    if out.is_empty() {
        out.push(Finding::ok("dns.hosts", "no app hosts to resolve"));
    }
    Section::new("dns", "DNS", out)
}

// ---------------------------------------------------------------- apps

fn pod_problem(pod: &Pod) -> Option<(bool, String)> {
    let status = pod.status.as_ref()?;
    let phase = status.phase.as_deref().unwrap_or("Unknown");
    if phase == "Succeeded" {
        return None;
    }
    let containers = status.container_statuses.clone().unwrap_or_default();
    let restarts: i32 = containers.iter().map(|c| c.restart_count).sum();
    let not_ready = containers.iter().find(|c| !c.ready);
    if phase != "Running" || not_ready.is_some() || containers.is_empty() {
        let reason = not_ready
            .and_then(|c| c.state.as_ref())
            .and_then(|s| {
                s.waiting
                    .as_ref()
                    .and_then(|w| w.reason.clone())
                    .or_else(|| s.terminated.as_ref().and_then(|t| t.reason.clone()))
            })
            .unwrap_or_else(|| phase.to_owned());
        return Some((
            true,
            format!(
                "pod {} not ready: {reason} ({restarts} restarts)",
                pod.name_any()
            ),
        ));
    }
    if restarts > 3 {
        return Some((
            false,
            format!("pod {} restarted {restarts} times", pod.name_any()),
        ));
    }
    None
}

pub fn apps(cfg: &Config, snap: &Snapshot) -> Section {
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
        let releases: Vec<&DynamicObject> = snap
            .helm_releases
            .items()
            .iter()
            .filter(|hr| hr.namespace().as_deref() == Some(app.namespace.as_str()))
            .collect();
        let release = releases
            .iter()
            .find(|hr| hr.name_any() == app.name)
            .or_else(|| releases.first());
        match release {
            Some(hr) => out.push(helm_release_finding("apps.helmrelease", hr)),
            None if matches!(snap.helm_releases, Listing::Error(_)) => {}
            None => out.push(Finding::failed(
                "apps.helmrelease",
                format!("app {}: no HelmRelease in namespace {}", app.name, app.namespace),
                "the apps Kustomization deploys it: see `flux get kustomizations apps`; is apps/<name> listed in apps/kustomization.yaml and pushed?",
            )),
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
                Some((true, msg)) => out.push(Finding::failed(
                    "apps.pods",
                    format!("app {}: {msg}", app.name),
                    format!(
                        "see `kubectl -n {} describe pod {}` and `kubectl -n {} logs {}`",
                        app.namespace,
                        pod.name_any(),
                        app.namespace,
                        pod.name_any()
                    ),
                )),
                Some((false, msg)) => out.push(Finding::warning(
                    "apps.pods",
                    format!("app {}: {msg}", app.name),
                    format!(
                        "see `kubectl -n {} logs {} --previous` for why it restarts",
                        app.namespace,
                        pod.name_any()
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
            None => out.push(Finding::failed(
                "apps.host",
                format!("app {}: nothing routes {}", app.name, app.host),
                match cfg.ingress.controller {
                    IngressController::Traefik => "no Ingress has this host: check the app's Ingress in apps/<name>/ and its HelmRelease values",
                    IngressController::EnvoyGateway => "no HTTPRoute has this hostname: check the app's HTTPRoute in apps/<name>/",
                }
                .to_owned(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Severity;

    fn example() -> Config {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/homelab.yaml"
        ))
        .unwrap();
        serde_saphyr::from_str(&text).unwrap()
    }

    fn dynamic(
        api_version: &str,
        kind: &str,
        ns: Option<&str>,
        name: &str,
        rest: Value,
    ) -> DynamicObject {
        let mut v = serde_json::json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": name}});
        if let Some(ns) = ns {
            v["metadata"]["namespace"] = serde_json::json!(ns);
        }
        for (k, val) in rest.as_object().unwrap() {
            v[k] = val.clone();
        }
        serde_json::from_value(v).unwrap()
    }

    fn by_check<'a>(s: &'a Section, check: &str) -> Vec<&'a Finding> {
        s.findings.iter().filter(|f| f.check == check).collect()
    }

    #[test]
    fn k3s_servicelb_and_bundled_traefik_are_explained() {
        let mut snap = Snapshot::empty();
        let ds: k8s_openapi::api::apps::v1::DaemonSet = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "svclb-traefik-abc", "namespace": "kube-system"}}))
        .unwrap();
        snap.daemonsets = Listing::Items(vec![ds]);
        snap.k3s_helm_charts = Listing::Items(vec![dynamic(
            "helm.cattle.io/v1",
            "HelmChart",
            Some("kube-system"),
            "traefik",
            serde_json::json!({}),
        )]);
        let s = loadbalancing(&example(), &snap);
        let lb = by_check(&s, "lb.k3s-servicelb");
        assert_eq!(lb.len(), 1);
        assert_eq!(lb[0].status, Severity::Failed);
        assert!(
            lb[0]
                .hint
                .as_deref()
                .unwrap()
                .contains("--disable servicelb --disable traefik")
        );
        assert_eq!(by_check(&s, "lb.k3s-traefik")[0].status, Severity::Failed);
    }

    #[test]
    fn a_pool_with_other_addresses_is_named_with_both_sides() {
        let mut snap = Snapshot::empty();
        snap.ip_pools = Listing::Items(vec![dynamic(
            "metallb.io/v1beta1",
            "IPAddressPool",
            Some("metallb-system"),
            "pool",
            serde_json::json!({"spec": {"addresses": ["10.0.0.1-10.0.0.5"]}}),
        )]);
        let s = loadbalancing(&example(), &snap);
        let f = by_check(&s, "lb.pool")[0];
        assert_eq!(f.status, Severity::Failed);
        assert!(
            f.message.contains("10.0.0.1-10.0.0.5")
                && f.message.contains("192.168.1.240-192.168.1.250"),
            "{}",
            f.message
        );
        snap.ip_pools = Listing::NotInstalled;
        let s = loadbalancing(&example(), &snap);
        assert!(
            by_check(&s, "lb.pool")[0]
                .message
                .contains("CRDs are not installed")
        );
    }

    #[test]
    fn certificate_expiry_thresholds() {
        let cert = |days: i64| {
            let t = k8s_openapi::jiff::Timestamp::now()
                .checked_add(k8s_openapi::jiff::SignedDuration::from_hours(days * 24 + 1))
                .unwrap();
            dynamic(
                "cert-manager.io/v1",
                "Certificate",
                Some("a"),
                &format!("c{days}"),
                serde_json::json!({"status": {
                "conditions": [{"type": "Ready", "status": "True"}], "notAfter": t.to_string()}}),
            )
        };
        let mut snap = Snapshot::empty();
        snap.certificates = Listing::Items(vec![cert(60), cert(10), cert(3), cert(-2)]);
        let mut cfg = example();
        cfg.certificates.challenge = Challenge::Selfsigned;
        let s = certificates(&cfg, &snap);
        let st: Vec<Severity> = by_check(&s, "certs.certificates")
            .iter()
            .map(|f| f.status)
            .collect();
        assert_eq!(
            st,
            [
                Severity::Ok,
                Severity::Warning,
                Severity::Failed,
                Severity::Failed
            ]
        );
        // No ClusterIssuer at all is a failure too.
        assert_eq!(by_check(&s, "certs.issuers")[0].status, Severity::Failed);
    }

    #[test]
    fn the_envoy_gateway_service_is_found_by_its_owner_label() {
        let mut cfg = example();
        cfg.ingress.controller = IngressController::EnvoyGateway;
        let svc: Service = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "envoy-homelab-abc", "namespace": "envoy-gateway-system",
                "labels": {"gateway.envoyproxy.io/owning-gateway-name": "homelab"}},
            "spec": {"type": "LoadBalancer"},
            "status": {"loadBalancer": {"ingress": [{"ip": "192.168.1.240"}]}}}))
        .unwrap();
        let mut snap = Snapshot::empty();
        snap.services = Listing::Items(vec![svc]);
        let s = loadbalancing(&cfg, &snap);
        let f = by_check(&s, "lb.ingress")[0];
        assert_eq!(f.status, Severity::Ok, "{f:?}");
        assert!(by_check(&s, "lb.pending").is_empty());
    }

    #[test]
    fn suspended_flux_objects_are_flagged() {
        let mut snap = Snapshot::empty();
        snap.kustomizations = Listing::Items(vec![dynamic(
            "kustomize.toolkit.fluxcd.io/v1",
            "Kustomization",
            Some("flux-system"),
            "apps",
            serde_json::json!({"spec": {"suspend": true}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}}),
        )]);
        let s = flux(&example(), &snap, &GitState::default());
        let f = by_check(&s, "flux.kustomizations")[0];
        assert_eq!(f.status, Severity::Warning);
        assert!(
            f.hint
                .as_deref()
                .unwrap()
                .contains("flux resume kustomization apps -n flux-system"),
            "{f:?}"
        );
    }

    #[test]
    fn no_flux_says_bootstrap() {
        let mut snap = Snapshot::empty();
        snap.git_repositories = Listing::NotInstalled;
        let s = flux(&example(), &snap, &GitState::default());
        assert_eq!(s.findings.len(), 1);
        assert!(
            s.findings[0]
                .hint
                .as_deref()
                .unwrap()
                .contains("homelab bootstrap")
        );
    }

    #[test]
    fn days_until_counts_whole_days() {
        let in_3_days = k8s_openapi::jiff::Timestamp::now()
            .checked_add(k8s_openapi::jiff::SignedDuration::from_hours(3 * 24 + 1))
            .unwrap();
        assert_eq!(days_until(&in_3_days.to_string()), Some(3));
        assert_eq!(
            days_until("2000-01-01T00:00:00Z").map(|d| d < 0),
            Some(true)
        );
        assert_eq!(days_until("not a time"), None);
    }

    #[test]
    fn revisions_are_shortened() {
        assert_eq!(
            short_revision("main@sha1:0123456789abcdef"),
            "main@sha1:0123456"
        );
        assert_eq!(short_revision("v1.2.3"), "v1.2.3");
    }
}
