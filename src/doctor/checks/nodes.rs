//! Nodes: every node of homelab.yaml is in the cluster, Ready, at its address and role.

use kube::ResourceExt;

use super::unreadable;
use crate::config::{Choice, Config, NodeRole};
use crate::doctor::snapshot::Snapshot;
use crate::doctor::{Finding, Section};

const CONTROL_PLANE_LABEL: &str = "node-role.kubernetes.io/control-plane";

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
                        "on {} itself, check k3s: `systemctl status k3s` (`k3s-agent` on workers) and `journalctl -u k3s`; a node that lost the server stays NotReady",
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
        let role = if is_cp {
            NodeRole::ControlPlane
        } else {
            NodeRole::Worker
        }
        .as_str();
        if is_cp != want_cp {
            out.push(Finding::warning(
                "nodes.role",
                format!(
                    "node {} is a {role} in the cluster, homelab.yaml says {}",
                    want.name,
                    want.role.as_str()
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
