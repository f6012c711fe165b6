//! The validators' diagnostics in the wizard's words.
//!
//! Diagnostics name key paths (`nodes[1].address`, `network.loadbalancer_pool`) because a
//! file is fixed by finding the key. Someone answering questions never saw those paths:
//! they answered "Node 2 IP address". The same rules apply; only the naming changes here.

use std::sync::LazyLock;

use regex::Regex;

use crate::config::Diagnostic;

/// What the wizard calls the field at `path` (lowercase, for use inside a sentence).
pub fn label(path: &str) -> String {
    if let Some(caps) = NODE.captures(path)
        && caps.get(0).is_some_and(|m| m.as_str() == path)
    {
        let n = node_number(&caps[1]);
        return match caps.get(3).map(|m| m.as_str()) {
            Some("name") => format!("node {n}'s name"),
            Some("address") => format!("node {n}'s address"),
            Some("role") => format!("node {n}'s role"),
            _ => format!("node {n}"),
        };
    }
    if let Some(rest) = path.strip_prefix("network.loadbalancer_pool[")
        && let Some(index) = rest.strip_suffix(']')
    {
        return format!("load-balancer range {}", node_number(index));
    }
    if let Some(key) = path.strip_prefix("certificates.dns_settings.") {
        return format!("the DNS provider's {key}");
    }
    if path.starts_with("flux.components") {
        return "the Flux components".to_owned();
    }
    let known = match path {
        "nodes" => "the nodes",
        "cluster.name" => "the cluster name",
        "cluster.domain" => "the domain",
        "network.node_cidr" => "the LAN (node CIDR)",
        "network.loadbalancer_pool" => "the load-balancer pool",
        "network.ingress_address" => "the ingress address",
        "ingress.controller" => "the ingress controller",
        "certificates.email" => "the Let's Encrypt email",
        "certificates.challenge" => "the certificate challenge",
        "certificates.acme_server" => "the Let's Encrypt server",
        "certificates.dns_provider" => "the DNS provider",
        "certificates.dns_settings" => "the DNS provider's settings",
        "storage.provisioner" => "the NFS provisioner",
        "storage.nfs_server" => "the NFS server",
        "storage.nfs_path" => "the NFS export path",
        "storage.storage_class" => "the StorageClass name",
        "git.url" => "the git remote URL",
        "git.branch" => "the git branch",
        "flux.version" => "the Flux version",
        _ => return path.to_owned(),
    };
    known.to_owned()
}

/// `nodes[3]` is "node 4": people count from one.
fn node_number(index: &str) -> usize {
    index.parse::<usize>().map_or(0, |i| i + 1)
}

static NODE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"nodes\[(\d+)\](\.(name|address|role))?").expect("valid regex"));

/// Key paths as they appear inside messages.
static PATHS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"nodes\[\d+\](\.(name|address|role))?|network\.loadbalancer_pool(\[\d+\])?|network\.(node_cidr|ingress_address)|ingress\.controller|certificates\.(email|challenge|acme_server|dns_provider|dns_settings)|storage\.(nfs_server|nfs_path|storage_class)|git\.(url|branch)|cluster\.(name|domain)|flux\.(version|components)(\[\d+\])?",
    )
    .expect("valid regex")
});

/// "X is already used by nodes[0]" on a node's own field: whose it already is.
static ALREADY_NODE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(.*) is already used by nodes\[(\d+)\]$").expect("valid regex"));

/// The message of `diag` in the wizard's words. When `diag` concerns the question being
/// answered (`asking`), the message stands alone; otherwise it starts with the field it is
/// about ("Node 1's address: …").
pub fn explain(diag: &Diagnostic, asking: &str) -> String {
    let message = match ALREADY_NODE.captures(&diag.message) {
        Some(caps) if diag.path.ends_with(".address") || diag.path.ends_with(".name") => {
            let field = if diag.path.ends_with(".address") {
                "address"
            } else {
                "name"
            };
            format!(
                "{} is already node {}'s {field}",
                &caps[1],
                node_number(&caps[2])
            )
        }
        _ => PATHS
            .replace_all(&diag.message, |caps: &regex::Captures<'_>| label(&caps[0]))
            .into_owned(),
    };
    if diag.path == asking {
        message
    } else {
        format!("{}: {message}", capitalized(&label(&diag.path)))
    }
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diag(path: &str, message: &str) -> Diagnostic {
        Diagnostic {
            path: path.to_owned(),
            message: message.to_owned(),
        }
    }

    #[test]
    fn fields_are_named_as_the_questions_name_them() {
        assert_eq!(label("nodes[1].address"), "node 2's address");
        assert_eq!(label("nodes[0].name"), "node 1's name");
        assert_eq!(label("nodes[0]"), "node 1");
        assert_eq!(
            label("network.loadbalancer_pool[0]"),
            "load-balancer range 1"
        );
        assert_eq!(
            label("certificates.dns_settings.region"),
            "the DNS provider's region"
        );
        assert_eq!(label("flux.components[2]"), "the Flux components");
        assert_eq!(label("(top level)"), "(top level)");
    }

    #[test]
    fn a_duplicate_says_whose_it_already_is() {
        let d = diag(
            "nodes[1].address",
            "192.168.1.10 is already used by nodes[0]",
        );
        assert_eq!(
            explain(&d, "nodes[1].address"),
            "192.168.1.10 is already node 1's address"
        );
        let d = diag("nodes[2].name", "\"nuc1\" is already used by nodes[0]");
        assert_eq!(
            explain(&d, "network.node_cidr"),
            "Node 3's name: \"nuc1\" is already node 1's name"
        );
    }

    #[test]
    fn key_paths_inside_messages_become_words() {
        let d = diag(
            "nodes[0].address",
            "192.168.1.240 is inside network.loadbalancer_pool",
        );
        assert_eq!(
            explain(&d, "network.loadbalancer_pool"),
            "Node 1's address: 192.168.1.240 is inside the load-balancer pool"
        );
        let d = diag(
            "network.loadbalancer_pool[1]",
            "10.0.0.1/32 overlaps network.loadbalancer_pool[0] 10.0.0.0/30",
        );
        assert_eq!(
            explain(&d, "network.loadbalancer_pool"),
            "Load-balancer range 2: 10.0.0.1/32 overlaps load-balancer range 1 10.0.0.0/30"
        );
        let d = diag(
            "network.ingress_address",
            "10.0.0.9 is outside network.node_cidr 192.168.1.0/24",
        );
        let text = explain(&d, "network.ingress_address");
        assert_eq!(
            text,
            "10.0.0.9 is outside the LAN (node CIDR) 192.168.1.0/24"
        );
        assert!(!text.contains("network."));
    }
}
