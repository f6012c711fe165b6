//! Load balancing: MetalLB runs and serves the configured pool, the ingress controller's
//! Service has the ingress address, no LoadBalancer Service is pending, and k3s's own
//! servicelb and Traefik are not running beside them.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::Service;
use kube::ResourceExt;
use kube::api::DynamicObject;
use serde_json::Value;

use super::{first_pod_problem, name_of, unreadable};
use crate::component::ComponentId;
use crate::config::{Config, IngressController};
use crate::doctor::causes::{Causes, Root};
use crate::doctor::snapshot::{Listing, Snapshot};
use crate::doctor::{Finding, Section, Severity};
use crate::kube::status;

const ENVOY_OWNER_LABEL: &str = "gateway.envoyproxy.io/owning-gateway-name";

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

/// The namespace of the ingress controller homelab.yaml chooses.
pub(super) fn ingress_namespace(cfg: &Config) -> &'static str {
    cfg.ingress.controller.component().namespace()
}

/// A MetalLB workload (controller Deployment or speaker DaemonSet) as a finding.
fn metallb_workload(
    what: &str,
    obj: Option<Value>,
    snap: &Snapshot,
    causes: &Causes,
    not_ready_hint: &str,
) -> Finding {
    let ns = ComponentId::Metallb.namespace();
    let Some(obj) = obj else {
        return Finding::failed_unless(
            "lb.metallb",
            format!("MetalLB {what} not found in {ns}"),
            "MetalLB is installed by the repository's infrastructure: `homelab status` shows whether its Kustomization applied and its HelmRelease is Ready",
            causes.for_namespace(ns),
        );
    };
    let st = status::evaluate_workload(&obj);
    if st.ready {
        let image = obj
            .pointer("/spec/template/spec/containers/0/image")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let detail = if st.kind == "DaemonSet" {
            st.message
        } else {
            format!("ready ({image})")
        };
        return Finding::ok("lb.metallb", format!("MetalLB {what} {detail}"));
    }
    Finding::failed_unless(
        "lb.metallb",
        format!(
            "MetalLB {what} not ready: {}{}",
            st.message,
            first_pod_problem(snap, &obj)
        ),
        not_ready_hint,
        causes.for_namespace(ns),
    )
}

pub fn loadbalancing(cfg: &Config, snap: &Snapshot, causes: &Causes) -> Section {
    let mut out = Vec::new();
    out.extend(unreadable("lb.metallb", "deployments", &snap.deployments));
    out.extend(unreadable("lb.metallb", "daemonsets", &snap.daemonsets));
    out.extend(unreadable("lb.services", "services", &snap.services));
    let metallb_ns = ComponentId::Metallb.namespace();

    // MetalLB: the chart names them <release>-controller / <release>-speaker, the plain
    // manifests controller / speaker.
    let controller = snap
        .deployments
        .items()
        .iter()
        .find(|d| {
            d.namespace().as_deref() == Some(metallb_ns) && d.name_any().ends_with("controller")
        })
        .and_then(|d| serde_json::to_value(d).ok());
    let speaker = snap
        .daemonsets
        .items()
        .iter()
        .find(|d| d.namespace().as_deref() == Some(metallb_ns) && d.name_any().ends_with("speaker"))
        .and_then(|d| serde_json::to_value(d).ok());
    let controller = metallb_workload(
        "controller",
        controller,
        snap,
        causes,
        "the pod's reason above says why; `homelab status` shows the metallb HelmRelease",
    );
    let speaker = metallb_workload(
        "speaker",
        speaker,
        snap,
        causes,
        "the speakers run on every node and need the namespace's pod-security label `pod-security.kubernetes.io/enforce: privileged`; the pod's reason above says why",
    );
    // Everything MetalLB does waits on MetalLB running.
    let metallb_root = [&controller, &speaker]
        .into_iter()
        .find_map(|f| match f.status {
            Severity::Waiting => f.waiting_on.clone().map(Root),
            Severity::Failed => Some(Root("MetalLB".into())),
            _ => None,
        });
    out.push(controller);
    out.push(speaker);

    // The address pool.
    let want: BTreeSet<&str> = cfg
        .network
        .loadbalancer_pool
        .iter()
        .map(String::as_str)
        .collect();
    let pool_missing_hint = "the pool is applied by the repository's infrastructure configs after MetalLB: `homelab status` shows whether that Kustomization applied";
    let mut pool_root = None;
    match &snap.ip_pools {
        Listing::NotInstalled => {
            let root = metallb_root
                .clone()
                .or_else(|| causes.for_namespace(metallb_ns));
            pool_root = Some(root.clone().unwrap_or(Root("MetalLB's CRDs".into())));
            out.push(Finding::failed_unless(
                "lb.pool",
                "MetalLB's CRDs are not installed (no IPAddressPool kind)",
                "MetalLB's chart installs them: `homelab status` shows whether the metallb HelmRelease is Ready",
                root,
            ));
        }
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
                    format!(
                        "IPAddressPool {} serves {}",
                        name_of(p),
                        cfg.network.loadbalancer_pool.join(", ")
                    ),
                )),
                (None, None) => {
                    let root = metallb_root
                        .clone()
                        .or_else(|| causes.for_delivered(metallb_ns));
                    pool_root = Some(root.clone().unwrap_or(Root("the IPAddressPool".into())));
                    out.push(Finding::failed_unless(
                        "lb.pool",
                        "no MetalLB IPAddressPool: LoadBalancer Services get no address",
                        pool_missing_hint,
                        root,
                    ));
                }
                (None, Some(p)) => {
                    pool_root = Some(Root("the IPAddressPool".into()));
                    out.push(Finding::failed_unless(
                        "lb.pool",
                        format!(
                            "IPAddressPool {} has {}, homelab.yaml network.loadbalancer_pool is {}",
                            name_of(p),
                            addresses(p).join(", "),
                            cfg.network.loadbalancer_pool.join(", ")
                        ),
                        "run `homelab render` and `homelab push --wait` so the cluster gets the configured pool",
                        causes.flux(),
                    ));
                }
            }
        }
    }
    // A Service waits for an address on MetalLB and its pool.
    let address_root = metallb_root.clone().or(pool_root);

    // The ingress controller's Service and its fixed address.
    let services = snap.services.items();
    let ingress_ns = ingress_namespace(cfg);
    // Traefik's chart names its Service after the release, which is the component's name.
    let traefik = ComponentId::Traefik.name();
    let ingress_svc: Option<&Service> = match cfg.ingress.controller {
        IngressController::Traefik => services
            .iter()
            .find(|s| s.namespace().as_deref() == Some(ingress_ns) && s.name_any() == traefik),
        IngressController::EnvoyGateway => services
            .iter()
            .find(|s| s.labels().contains_key(ENVOY_OWNER_LABEL) && is_load_balancer(s)),
    };
    let ingress_name = match cfg.ingress.controller {
        IngressController::Traefik => format!("Service {ingress_ns}/{traefik}"),
        IngressController::EnvoyGateway => "the Envoy Gateway's Service".to_owned(),
    };
    match ingress_svc {
        None => out.push(Finding::failed_unless(
            "lb.ingress",
            format!("{ingress_name} does not exist"),
            "the ingress controller is installed by the repository's infrastructure: `homelab status` shows whether its HelmRelease is Ready",
            causes.for_namespace(ingress_ns),
        )),
        Some(svc) => {
            let ips = lb_ips(svc);
            if ips.contains(&cfg.network.ingress_address) {
                out.push(Finding::ok(
                    "lb.ingress",
                    format!("{} has address {}", name_of(svc), cfg.network.ingress_address),
                ));
            } else if ips.is_empty() {
                out.push(Finding::failed_unless(
                    "lb.ingress",
                    format!("{} has no external address (want {})", name_of(svc), cfg.network.ingress_address),
                    format!(
                        "MetalLB did not assign {}: is it inside network.loadbalancer_pool and not taken by another Service (`homelab status`, then the Service's events)?",
                        cfg.network.ingress_address,
                    ),
                    address_root.clone(),
                ));
            } else {
                out.push(Finding::failed(
                    "lb.ingress",
                    format!("{} has address {}, homelab.yaml says {}", name_of(svc), ips.join(", "), cfg.network.ingress_address),
                    "run `homelab render` and `homelab push --wait`; the Service's `metallb.io/loadBalancerIPs` annotation must be network.ingress_address",
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
        out.push(Finding::failed_unless(
            "lb.pending",
            format!("LoadBalancer Service {} has no external address (pending)", name_of(svc)),
            "MetalLB assigns addresses from network.loadbalancer_pool: is the pool exhausted, or does the Service ask for an address outside it?",
            address_root.clone(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::checks::testing::{by_check, dynamic, example, flux_running};
    use crate::doctor::local::SopsRecipients;

    fn section(cfg: &Config, snap: &Snapshot) -> Section {
        loadbalancing(cfg, snap, &Causes::new(cfg, snap, &SopsRecipients::NoFile))
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
        let s = section(&example(), &snap);
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
        let mut snap = flux_running(&example());
        snap.ip_pools = Listing::Items(vec![dynamic(
            "metallb.io/v1beta1",
            "IPAddressPool",
            Some("metallb-system"),
            "pool",
            serde_json::json!({"spec": {"addresses": ["10.0.0.1-10.0.0.5"]}}),
        )]);
        let s = section(&example(), &snap);
        let f = by_check(&s, "lb.pool")[0];
        assert_eq!(f.status, Severity::Failed);
        assert!(
            f.message.contains("10.0.0.1-10.0.0.5")
                && f.message.contains("192.168.1.240-192.168.1.250"),
            "{}",
            f.message
        );
        snap.ip_pools = Listing::NotInstalled;
        let s = section(&example(), &snap);
        let f = by_check(&s, "lb.pool")[0];
        assert!(f.message.contains("CRDs are not installed"));
        // MetalLB is missing too (an empty cluster): the pool waits on it.
        assert_eq!(f.status, Severity::Waiting);
        assert_eq!(f.waiting_on.as_deref(), Some("MetalLB"));
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
        let s = section(&cfg, &snap);
        let f = by_check(&s, "lb.ingress")[0];
        assert_eq!(f.status, Severity::Ok, "{f:?}");
        assert!(by_check(&s, "lb.pending").is_empty());
    }
}
