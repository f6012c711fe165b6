//! The permissions bootstrap needs, computed from the documents it will apply, so a
//! kubeconfig that may not install Flux is refused before anything is applied.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::manifests::str_at;
use crate::bootstrap::cluster_secrets::GIT_SECRET;
use crate::component::ComponentId;
use crate::error::Result;
use crate::kube::apply::Applier;
use crate::kube::client::Access;

/// The permissions applying `docs` needs: create and patch (server-side apply) per resource
/// and namespace, plus reading Secrets to keep existing credentials.
pub async fn needed_access(applier: &mut Applier, docs: &[Value]) -> Result<BTreeSet<Access>> {
    let crd_plurals: BTreeMap<(String, String), String> = docs
        .iter()
        .filter(|d| str_at(d, "/kind") == Some("CustomResourceDefinition"))
        .filter_map(|d| {
            Some((
                (
                    str_at(d, "/spec/group")?.to_owned(),
                    str_at(d, "/spec/names/kind")?.to_owned(),
                ),
                str_at(d, "/spec/names/plural")?.to_owned(),
            ))
        })
        .collect();
    let mut needed = BTreeSet::new();
    for doc in docs {
        let api_version = str_at(doc, "/apiVersion").unwrap_or_default();
        let kind = str_at(doc, "/kind").unwrap_or_default();
        let group = api_version
            .split_once('/')
            .map(|(g, _)| g)
            .unwrap_or_default()
            .to_owned();
        let (plural, namespaced) = match applier.resolve(api_version, kind).await? {
            Some(r) => (r.resource.plural, r.namespaced),
            None => match crd_plurals.get(&(group.clone(), kind.to_owned())) {
                Some(plural) => (plural.clone(), true),
                None => (format!("{}s", kind.to_lowercase()), true),
            },
        };
        let namespace = if namespaced {
            str_at(doc, "/metadata/namespace")
                .unwrap_or("default")
                .to_owned()
        } else {
            String::new()
        };
        for verb in ["create", "patch"] {
            needed.insert(Access {
                verb: verb.to_owned(),
                group: group.clone(),
                resource: plural.clone(),
                namespace: namespace.clone(),
            });
        }
    }
    for ns in [GIT_SECRET.0, ComponentId::CertManager.namespace()] {
        needed.insert(Access {
            verb: "get".to_owned(),
            group: String::new(),
            resource: "secrets".to_owned(),
            namespace: ns.to_owned(),
        });
    }
    Ok(needed)
}

pub fn describe_access(a: &Access) -> String {
    let resource = if a.group.is_empty() {
        a.resource.clone()
    } else {
        format!("{}.{}", a.resource, a.group)
    };
    if a.namespace.is_empty() {
        format!("{} {resource} (cluster-wide)", a.verb)
    } else {
        format!("{} {resource} in namespace {}", a.verb, a.namespace)
    }
}
