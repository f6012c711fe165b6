//! k3s's bundled Traefik and ServiceLB, which fight the homelab's ingress controller and
//! MetalLB for the same ports and addresses. `doctor` reports them; `bootstrap` refuses to
//! start (unless `--force`) while they are enabled. One detection serves both.
//!
//! Evidence, from the strongest: a k3s server's `k3s.io/node-args` annotation (its command
//! line with `/etc/rancher/k3s/config.yaml` folded in) that does not disable a component;
//! the HelmChart `kube-system/traefik` or Deployment `kube-system/traefik` k3s deploys;
//! ServiceLB's `svclb-*` DaemonSets in `kube-system`.

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use k8s_openapi::api::core::v1::Node;
use kube::ResourceExt as _;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams};

/// The annotation k3s puts on its nodes: the server's or agent's arguments, as JSON.
pub const NODE_ARGS: &str = "k3s.io/node-args";

/// What to change, said the same way by `doctor` and `bootstrap`.
pub const FIX: &str = "disable k3s's bundled components: add `disable: [traefik, servicelb]` to /etc/rancher/k3s/config.yaml on every server (or start k3s with `--disable servicelb --disable traefik`) and restart k3s";

/// The bundled components found, each with the evidence (empty when absent).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bundled {
    pub traefik: Vec<String>,
    pub servicelb: Vec<String>,
}

impl Bundled {
    pub fn is_empty(&self) -> bool {
        self.traefik.is_empty() && self.servicelb.is_empty()
    }
}

/// The components a k3s server's arguments leave enabled, or `None` for a node that is not
/// a k3s server (agents, other distributions).
pub fn enabled_by_args(args_json: &str) -> Option<(bool, bool)> {
    let args: Vec<String> = serde_json::from_str(args_json).ok()?;
    if args.first().map(String::as_str) != Some("server") {
        return None;
    }
    let mut disabled: Vec<String> = Vec::new();
    let mut no_ccm = false;
    let mut iter = args.iter().skip(1).peekable();
    while let Some(arg) = iter.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) => (f, Some(v.to_owned())),
            None => (arg.as_str(), None),
        };
        match flag {
            // `--no-deploy` is the name older k3s releases used.
            "--disable" | "--no-deploy" => {
                let value = inline.or_else(|| iter.next().cloned()).unwrap_or_default();
                disabled.extend(value.split(',').map(|v| v.trim().to_owned()));
            }
            // ServiceLB runs inside k3s's cloud controller.
            "--disable-cloud-controller" => {
                no_ccm = inline.is_none_or(|v| v != "false");
            }
            _ => {}
        }
    }
    let off = |name: &str| disabled.iter().any(|d| d == name);
    Some((!off("traefik"), !off("servicelb") && !no_ccm))
}

/// Look at what was read from the cluster.
pub fn detect(
    nodes: &[Node],
    daemonsets: &[DaemonSet],
    deployments: &[Deployment],
    helm_charts: &[DynamicObject],
) -> Bundled {
    let mut found = Bundled::default();
    for node in nodes {
        let Some(args) = node.annotations().get(NODE_ARGS) else {
            continue;
        };
        if let Some((traefik, servicelb)) = enabled_by_args(args) {
            let why = format!(
                "k3s server {} runs without `--disable {{}}`",
                node.name_any()
            );
            if traefik {
                found.traefik.push(why.replace("{}", "traefik"));
            }
            if servicelb {
                found.servicelb.push(why.replace("{}", "servicelb"));
            }
        }
    }
    let in_kube_system = |ns: Option<String>| ns.as_deref() == Some("kube-system");
    if helm_charts
        .iter()
        .any(|c| in_kube_system(c.namespace()) && c.name_any() == "traefik")
    {
        found
            .traefik
            .push("HelmChart kube-system/traefik exists".to_owned());
    }
    if deployments
        .iter()
        .any(|d| in_kube_system(d.namespace()) && d.name_any() == "traefik")
    {
        found
            .traefik
            .push("Deployment kube-system/traefik exists".to_owned());
    }
    let svclb: Vec<String> = daemonsets
        .iter()
        .filter(|d| in_kube_system(d.namespace()) && d.name_any().starts_with("svclb-"))
        .map(|d| d.name_any())
        .collect();
    if !svclb.is_empty() {
        found
            .servicelb
            .push(format!("its DaemonSets run: {}", svclb.join(", ")));
    }
    found
}

/// k3s's HelmChart kind (its own Helm controller).
pub fn helm_chart_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("helm.cattle.io", "v1", "HelmChart"),
        "helmcharts",
    )
}

/// Read the evidence from the cluster. What cannot be read (a missing HelmChart kind on
/// other distributions, a forbidden list) counts as absent.
pub async fn read(client: &kube::Client) -> Bundled {
    let params = ListParams::default();
    let nodes: Api<Node> = Api::all(client.clone());
    let daemonsets: Api<DaemonSet> = Api::namespaced(client.clone(), "kube-system");
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "kube-system");
    let charts: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), "kube-system", &helm_chart_resource());
    let (n, ds, dp, hc) = tokio::join!(
        nodes.list(&params),
        daemonsets.list(&params),
        deployments.list(&params),
        charts.list(&params),
    );
    detect(
        &n.map(|l| l.items).unwrap_or_default(),
        &ds.map(|l| l.items).unwrap_or_default(),
        &dp.map(|l| l.items).unwrap_or_default(),
        &hc.map(|l| l.items).unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_arguments_tell_what_k3s_deploys() {
        assert_eq!(enabled_by_args(r#"["server"]"#), Some((true, true)));
        assert_eq!(
            enabled_by_args(r#"["server","--disable","traefik","--disable","servicelb"]"#),
            Some((false, false))
        );
        assert_eq!(
            enabled_by_args(r#"["server","--disable=traefik,servicelb","--node-ip","10.0.0.1"]"#),
            Some((false, false))
        );
        assert_eq!(
            enabled_by_args(r#"["server","--disable","traefik"]"#),
            Some((false, true))
        );
        assert_eq!(
            enabled_by_args(r#"["server","--disable","traefik","--disable-cloud-controller"]"#),
            Some((false, false))
        );
        assert_eq!(enabled_by_args(r#"["agent","--node-ip","10.0.0.2"]"#), None);
        assert_eq!(enabled_by_args("not json"), None);
    }
}
