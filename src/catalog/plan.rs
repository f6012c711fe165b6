//! What the repository consists of for a given configuration: which components it installs
//! (see [`crate::component`] for what each one is), their Flux Kustomizations, and which
//! template renders which file.
//!
//! Kept apart from the rendering itself so the choices (traefik or envoy-gateway, which NFS
//! provisioner, which issuers) read as one table.

use serde::Serialize;

use crate::component::ComponentId;
use crate::config::{Challenge, Config, Provisioner};

/// How long a controller's Flux Kustomization may take to apply and become healthy.
const CONTROLLER_TIMEOUT: &str = "15m";

/// The templates every component's and app's folder is rendered from (see
/// `render::release`): one set for both.
pub mod template {
    pub const NAMESPACE: &str = "component/namespace.yaml";
    pub const SOURCE: &str = "partials/chart-source.yaml";
    pub const HELMRELEASE: &str = "component/helmrelease.yaml";
    pub const KUSTOMIZATION: &str = "component/kustomization.yaml";
}

/// The StorageClass provisioner name of each NFS provisioner.
pub fn storage_provisioner_name(p: Provisioner) -> &'static str {
    p.component()
        .infrastructure()
        .storage_provisioner
        .as_deref()
        .expect("every storage component names its provisioner (checked by the component tests)")
}

/// The controllers this configuration installs, in the order they are listed.
pub fn controllers(cfg: &Config) -> Vec<ComponentId> {
    vec![
        ComponentId::Metallb,
        ComponentId::CertManager,
        cfg.ingress.controller.component(),
        cfg.storage.provisioner.component(),
    ]
}

/// A Flux Kustomization of the infrastructure: one per component, so one failing component
/// holds back only what really needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Layer {
    /// The Flux Kustomization's name.
    pub name: &'static str,
    /// The folder it applies, relative to the repository root (no `./`).
    pub path: String,
    /// The Kustomizations that must be Ready first.
    pub depends_on: Vec<&'static str>,
    /// How long applying and the health checks may take.
    pub timeout: &'static str,
    /// What it holds, as the comment above it says.
    pub about: &'static str,
}

/// The Flux Kustomizations of the infrastructure, in dependency order: the controllers, then
/// their configs layers.
pub fn layers(cfg: &Config) -> Vec<Layer> {
    let controllers = controllers(cfg);
    let mut out: Vec<Layer> = controllers
        .iter()
        .map(|&id| Layer {
            name: id.kustomization(),
            path: format!("infrastructure/controllers/{}", id.name()),
            depends_on: Vec::new(),
            timeout: CONTROLLER_TIMEOUT,
            about: id.about(),
        })
        .collect();
    for &id in &controllers {
        let Some(configs) = &id.infrastructure().configs else {
            continue;
        };
        let mut depends_on = vec![id.kustomization()];
        depends_on.extend(id.configs_need().iter().map(|n| n.kustomization()));
        out.push(Layer {
            name: &configs.kustomization,
            path: format!("infrastructure/configs/{}", id.name()),
            depends_on,
            timeout: &configs.timeout,
            about: &configs.about,
        });
    }
    out
}

/// What the `apps` Kustomization waits for: only what every app needs to be applied at all
/// (the HTTPRoute CRD with envoy-gateway). A failing NFS provisioner must not keep apps that
/// need no volume from deploying; an app's volume waits for its claim to bind on its own.
pub fn apps_depend_on(cfg: &Config) -> Vec<&'static str> {
    controllers(cfg)
        .into_iter()
        .filter(|id| id.infrastructure().apps_need_it)
        .map(ComponentId::kustomization)
        .collect()
}

/// One file of the repository: its path and the template that renders it, plus the
/// component whose folder it is in (rendered with that component's release context).
#[derive(Debug, Clone)]
pub struct Entry {
    pub path: String,
    pub template: &'static str,
    pub component: Option<ComponentId>,
    /// The files a `kustomization.yaml` lists (empty for other files).
    pub resources: Vec<&'static str>,
    /// The Flux Kustomization that applies the folder, for a folder's `kustomization.yaml`.
    pub layer: Option<&'static str>,
}

/// The files of a controller's folder with their templates, in the order its
/// kustomization.yaml lists them: the shared set, then the profile's own files.
pub fn controller_files(id: ComponentId) -> Vec<(&'static str, &'static str)> {
    let mut files = vec![
        ("namespace.yaml", template::NAMESPACE),
        ("source.yaml", template::SOURCE),
        ("release.yaml", template::HELMRELEASE),
    ];
    files.extend(
        id.infrastructure()
            .files
            .iter()
            .map(|f| (f.file.as_str(), f.template.as_str())),
    );
    files
}

/// Every templated file of the repository for `cfg` (homelab.yaml is serialized, not templated).
pub fn entries(cfg: &Config) -> Vec<Entry> {
    let cluster = format!("clusters/{}", cfg.cluster.name);
    let file = |path: String, template: &'static str, component: Option<ComponentId>| Entry {
        path,
        template,
        component,
        resources: Vec::new(),
        layer: None,
    };
    let mut out = vec![
        file("README.md".into(), "repo/README.md", None),
        file(".gitignore".into(), "repo/gitignore", None),
    ];
    for (name, template) in [
        ("kustomization.yaml", "repo/clusters/kustomization.yaml"),
        (
            "flux-system/kustomization.yaml",
            "repo/clusters/flux-system/kustomization.yaml",
        ),
        (
            "flux-system/gotk-sync.yaml",
            "repo/clusters/flux-system/gotk-sync.yaml",
        ),
        ("infrastructure.yaml", "repo/clusters/infrastructure.yaml"),
        ("apps.yaml", "repo/clusters/apps.yaml"),
    ] {
        out.push(file(format!("{cluster}/{name}"), template, None));
    }
    let controllers = controllers(cfg);
    for &id in &controllers {
        let dir = format!("infrastructure/controllers/{}", id.name());
        let files = controller_files(id);
        for &(name, template) in &files {
            out.push(file(format!("{dir}/{name}"), template, Some(id)));
        }
        out.push(Entry {
            resources: files.iter().map(|(name, _)| *name).collect(),
            layer: Some(id.kustomization()),
            ..file(
                format!("{dir}/kustomization.yaml"),
                template::KUSTOMIZATION,
                Some(id),
            )
        });
    }
    for &id in &controllers {
        let Some(configs) = &id.infrastructure().configs else {
            continue;
        };
        let dir = format!("infrastructure/configs/{}", id.name());
        out.push(file(
            format!("{dir}/{}", configs.file),
            &configs.template,
            None,
        ));
        out.push(Entry {
            resources: vec![&configs.file],
            ..file(
                format!("{dir}/kustomization.yaml"),
                "repo/infrastructure/configs/kustomization.yaml",
                None,
            )
        });
    }
    out.push(file(
        "apps/kustomization.yaml".into(),
        "repo/apps/kustomization.yaml",
        None,
    ));
    out
}

/// Does this configuration use ACME (Let's Encrypt) issuers?
pub fn uses_acme(cfg: &Config) -> bool {
    cfg.certificates.challenge != Challenge::Selfsigned
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Choice, IngressController};

    fn example() -> Config {
        serde_saphyr::from_str(include_str!("../../examples/homelab.yaml")).expect("example parses")
    }

    #[test]
    fn every_choice_installs_one_component_per_role_and_depends_only_on_installed_layers() {
        for &ingress_choice in IngressController::all() {
            for &provisioner in Provisioner::all() {
                let mut cfg = example();
                cfg.ingress.controller = ingress_choice;
                cfg.storage.provisioner = provisioner;
                let ids = controllers(&cfg);
                assert_eq!(
                    ids,
                    [
                        ComponentId::Metallb,
                        ComponentId::CertManager,
                        ingress_choice.component(),
                        provisioner.component()
                    ]
                );
                let layers = layers(&cfg);
                let names: Vec<_> = layers.iter().map(|l| l.name).collect();
                for dep in layers
                    .iter()
                    .flat_map(|l| &l.depends_on)
                    .chain(&apps_depend_on(&cfg))
                {
                    assert!(names.contains(dep), "{dep} is not installed: {names:?}");
                }
                assert!(!storage_provisioner_name(provisioner).is_empty());
            }
        }
    }
}
