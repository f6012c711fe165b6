//! What the repository consists of for a given configuration: which components it installs
//! (see [`crate::component`] for what each one is), their Flux Kustomizations, and which
//! template renders which file.
//!
//! Kept apart from the rendering itself so the choices (traefik or envoy-gateway, which NFS
//! provisioner, which issuers) read as one table.

use serde::Serialize;

use crate::component::{Component, ComponentId};
use crate::config::{Challenge, Config, Provisioner};

/// How long a controller's Flux Kustomization may take to apply and become healthy.
const CONTROLLER_TIMEOUT: &str = "15m";

/// The StorageClass provisioner name of each NFS provisioner.
pub fn storage_provisioner_name(p: Provisioner) -> &'static str {
    p.component()
        .component()
        .storage_provisioner
        .expect("every storage component names its provisioner (checked by the component tests)")
}

/// The controllers this configuration installs, in the order they are listed.
pub fn controllers(cfg: &Config) -> Vec<&'static Component> {
    [
        ComponentId::Metallb,
        ComponentId::CertManager,
        cfg.ingress.controller.component(),
        cfg.storage.provisioner.component(),
    ]
    .map(ComponentId::component)
    .to_vec()
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
        .map(|c| Layer {
            name: c.layer,
            path: format!("infrastructure/controllers/{}", c.name),
            depends_on: Vec::new(),
            timeout: CONTROLLER_TIMEOUT,
            about: c.about,
        })
        .collect();
    for c in &controllers {
        let Some(configs) = &c.configs else { continue };
        let mut depends_on = vec![c.layer];
        depends_on.extend(configs.needs.iter().map(|n| n.component().layer));
        out.push(Layer {
            name: configs.layer,
            path: format!("infrastructure/configs/{}", c.name),
            depends_on,
            timeout: configs.timeout,
            about: configs.about,
        });
    }
    out
}

/// What the `apps` Kustomization waits for: only what every app needs to be applied at all
/// (the HTTPRoute CRD with envoy-gateway). A failing NFS provisioner must not keep apps that
/// need no volume from deploying; an app's volume waits for its claim to bind on its own.
pub fn apps_depend_on(cfg: &Config) -> Vec<&'static str> {
    controllers(cfg)
        .iter()
        .filter(|c| c.apps_need_it)
        .map(|c| c.layer)
        .collect()
}

/// One file of the repository: its path and the template that renders it, plus the controller
/// it belongs to (for the per-controller templates).
#[derive(Debug, Clone)]
pub struct Entry {
    pub path: String,
    pub template: &'static str,
    pub component: Option<&'static Component>,
    /// The files a `kustomization.yaml` lists (empty for other files).
    pub resources: Vec<&'static str>,
}

/// The files of a controller's folder with their templates, in the order its
/// kustomization.yaml lists them.
pub fn controller_files(c: &Component) -> Vec<(&'static str, &'static str)> {
    let mut files = vec![
        (
            "namespace.yaml",
            "repo/infrastructure/controllers/namespace.yaml",
        ),
        ("source.yaml", "partials/chart-source.yaml"),
        ("release.yaml", c.release_template),
    ];
    files.extend_from_slice(c.extra_files);
    files
}

/// Every templated file of the repository for `cfg` (homelab.yaml is serialized, not templated).
pub fn entries(cfg: &Config) -> Vec<Entry> {
    let cluster = format!("clusters/{}", cfg.cluster.name);
    let file =
        |path: String, template: &'static str, component: Option<&'static Component>| Entry {
            path,
            template,
            component,
            resources: Vec::new(),
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
    for &c in &controllers {
        let dir = format!("infrastructure/controllers/{}", c.name);
        let files = controller_files(c);
        for &(name, template) in &files {
            out.push(file(format!("{dir}/{name}"), template, Some(c)));
        }
        out.push(Entry {
            resources: files.iter().map(|(name, _)| *name).collect(),
            ..file(
                format!("{dir}/kustomization.yaml"),
                "repo/infrastructure/controllers/kustomization.yaml",
                Some(c),
            )
        });
    }
    for c in &controllers {
        let Some(configs) = &c.configs else { continue };
        let dir = format!("infrastructure/configs/{}", c.name);
        out.push(file(
            format!("{dir}/{}", configs.file),
            configs.template,
            None,
        ));
        out.push(Entry {
            resources: vec![configs.file],
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
                let ids: Vec<_> = controllers(&cfg).iter().map(|c| c.id).collect();
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
