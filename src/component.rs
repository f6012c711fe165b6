//! The infrastructure components: the controllers the repository installs beside Flux
//! (MetalLB, cert-manager, an ingress controller, an NFS provisioner), addressed by
//! [`ComponentId`] and described by `profiles/infrastructure/<name>.yaml` in the format apps
//! use ([`crate::profile`]).
//!
//! Each profile owns every fact about its component (namespace, pinned chart, values, Flux
//! Kustomization, extra files, the StorageClass provisioner it serves, its configs layer), so
//! rendering, doctor, bootstrap and validation read them from here instead of repeating
//! names. Every id has exactly one profile and every profile an id, which loading checks:
//! code addresses components by id, never by a string. Which components a configuration
//! installs is decided by `catalog::plan`.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::profile::{self, Infrastructure, Profile};

/// The namespace Flux runs in, and where every Flux object of the repository lives.
pub const FLUX_NAMESPACE: &str = "flux-system";

/// An infrastructure component; its name (`cert-manager`) is its profile's file name.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    strum::IntoStaticStr,
    strum::EnumString,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "kebab-case")]
pub enum ComponentId {
    Metallb,
    CertManager,
    Traefik,
    EnvoyGateway,
    CsiDriverNfs,
    #[strum(serialize = "nfs-subdir-external-provisioner")]
    NfsSubdir,
}

impl ComponentId {
    /// Every component, in the order the repository lists controllers.
    pub const ALL: [ComponentId; 6] = [
        ComponentId::Metallb,
        ComponentId::CertManager,
        ComponentId::Traefik,
        ComponentId::EnvoyGateway,
        ComponentId::CsiDriverNfs,
        ComponentId::NfsSubdir,
    ];

    /// The folder, HelmRelease and chart source name, and the profile's file name.
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// The component with this name.
    pub fn from_name(name: &str) -> Option<ComponentId> {
        name.parse().ok()
    }

    /// Its profile: everything known about it.
    pub fn profile(self) -> &'static Profile {
        &COMPONENTS[&self]
    }

    /// What makes it infrastructure: its Kustomization, files and configs layer.
    pub fn infrastructure(self) -> &'static Infrastructure {
        self.profile()
            .infrastructure
            .as_ref()
            .expect("every component profile has an infrastructure block (checked at load)")
    }

    /// The namespace the component runs in (where its Secrets live too).
    pub fn namespace(self) -> &'static str {
        &self.profile().namespace
    }

    /// The Flux Kustomization that installs it.
    pub fn kustomization(self) -> &'static str {
        &self.infrastructure().kustomization
    }

    /// What that Kustomization holds, as the comment above it says.
    pub fn about(self) -> &'static str {
        self.infrastructure()
            .about
            .as_deref()
            .unwrap_or(&self.profile().description)
    }

    /// The components its configs layer waits for, beyond itself.
    pub fn configs_need(self) -> Vec<ComponentId> {
        self.infrastructure()
            .configs
            .iter()
            .flat_map(|c| &c.needs)
            .map(|name| {
                ComponentId::from_name(name)
                    .expect("configs.needs names components (checked at load)")
            })
            .collect()
    }
}

/// The component profiles, parsed and checked once on first use.
static COMPONENTS: LazyLock<BTreeMap<ComponentId, Profile>> = LazyLock::new(|| {
    load_all().expect("the embedded component profiles are valid (checked by the component tests)")
});

/// Every profile of `profiles/infrastructure/` by id. A file without an id, an id without a
/// file, or a profile with an app's fields (or without its `infrastructure:` block) is a
/// defect naming the file.
pub fn load_all() -> Result<BTreeMap<ComponentId, Profile>> {
    let mut out = BTreeMap::new();
    for p in profile::load(profile::INFRASTRUCTURE)? {
        let defect = |e: &str| {
            Error::defect(format!(
                "profiles/{}/{}.yaml: {e}",
                profile::INFRASTRUCTURE,
                p.name
            ))
        };
        let id = ComponentId::from_name(&p.name)
            .ok_or_else(|| defect("no ComponentId has this name: add one"))?;
        let Some(infra) = &p.infrastructure else {
            return Err(defect(
                "an infrastructure profile needs an `infrastructure:` block",
            ));
        };
        if p.expose.is_some() || !p.questions.is_empty() || !p.secrets.is_empty() {
            return Err(defect(
                "expose, questions and secrets are for apps; a component reads homelab.yaml",
            ));
        }
        for need in infra.configs.iter().flat_map(|c| &c.needs) {
            if ComponentId::from_name(need).is_none_or(|n| n == id) {
                return Err(defect(&format!(
                    "configs.needs: {need:?} is not another component"
                )));
            }
        }
        out.insert(id, p);
    }
    if let Some(missing) = ComponentId::ALL.iter().find(|id| !out.contains_key(id)) {
        return Err(Error::defect(format!(
            "profiles/{}/{}.yaml is missing",
            profile::INFRASTRUCTURE,
            missing.name()
        )));
    }
    Ok(out)
}

/// Namespaces no app may install into, each with who owns it: Kubernetes' own, Flux's, and
/// every component's (all of them, not only today's choice, since `ingress.controller` or
/// `storage.provisioner` can change later). An app's namespace is created by the `apps`
/// Kustomization, which prunes: sharing one of these would let removing the app delete the
/// controller's namespace.
pub fn reserved_namespaces() -> Vec<(&'static str, &'static str)> {
    let mut out = vec![
        (FLUX_NAMESPACE, "Flux"),
        ("kube-system", "Kubernetes"),
        ("kube-public", "Kubernetes"),
        ("kube-node-lease", "Kubernetes"),
        ("default", "Kubernetes"),
    ];
    out.extend(
        ComponentId::ALL
            .iter()
            .map(|id| (id.namespace(), id.name())),
    );
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn every_component_has_one_profile_and_names_are_unique() {
        let all = load_all().expect("component profiles load");
        assert_eq!(all.len(), ComponentId::ALL.len());
        let mut kustomizations = BTreeSet::new();
        let mut namespaces = BTreeSet::new();
        for id in ComponentId::ALL {
            let p = id.profile();
            assert_eq!(p.name, id.name());
            assert!(namespaces.insert(&p.namespace), "{} twice", p.namespace);
            if let Some(configs) = &id.infrastructure().configs {
                assert!(
                    kustomizations.insert(configs.kustomization.as_str()),
                    "{} twice",
                    configs.kustomization
                );
            }
        }
        // Only the storage provisioners share a Flux Kustomization; they exclude each other.
        let storage = ComponentId::ALL
            .iter()
            .filter(|id| id.kustomization() == ComponentId::CsiDriverNfs.kustomization())
            .collect::<Vec<_>>();
        assert_eq!(
            storage,
            [&ComponentId::CsiDriverNfs, &ComponentId::NfsSubdir]
        );
        for id in ComponentId::ALL {
            assert_eq!(
                id.infrastructure().storage_provisioner.is_some(),
                storage.contains(&&id),
                "{id:?}"
            );
            if !storage.contains(&&id) {
                assert!(kustomizations.insert(id.kustomization()), "{id:?}");
            }
        }
    }
}
