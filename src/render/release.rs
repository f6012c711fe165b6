//! The one template set of infrastructure components and apps: a profile's namespace, chart
//! source, HelmRelease and folder `kustomization.yaml` (`templates/component/` and
//! `templates/partials/chart-source.yaml`). The callers (`render` for components,
//! [`super::apps`] for apps) decide the folder, the file names and what else the folder
//! holds; everything a profile says reaches the files through [`Release`].

use std::collections::BTreeMap;

use minijinja::value::Serde;
use minijinja::{Environment, context};
use serde_json::Value;

use super::mirror;
use crate::config::Config;
use crate::error::Result;
use crate::profile::Profile;

/// One profile as installed: where, with which labels and values.
#[derive(Debug)]
pub struct Release<'a> {
    pub profile: &'a Profile,
    /// The HelmRelease, chart source and folder name.
    pub name: &'a str,
    pub namespace: &'a str,
    /// Labels of the namespace beyond the Pod Security ones of a privileged profile.
    pub labels: BTreeMap<&'static str, String>,
    /// The evaluated values (see [`super::values::values`]).
    pub values: Value,
}

impl Release<'_> {
    /// What the shared templates see.
    pub fn context(&self, cfg: &Config) -> minijinja::Value {
        let p = self.profile;
        context! {
            name => self.name,
            namespace => self.namespace,
            labels => minijinja::Value::from(Serde(&self.labels)),
            privileged => p.privileged,
            oci => p.chart.oci.is_some(),
            chart => &p.chart.name,
            version => &p.chart.version,
            source => minijinja::Value::from(Serde(mirror::source(cfg, &p.chart))),
            interval => &p.interval,
            timeout => &p.timeout,
            values => minijinja::Value::from(Serde(&self.values)),
            comments => minijinja::Value::from(Serde(&p.comments)),
        }
    }
}

/// Render one of the shared templates (or a profile's own file) for `release`, with `extra`
/// (the folder's resources, the Kustomization that applies it, configuration facts).
pub fn render(
    env: &Environment<'_>,
    template: &str,
    release: &minijinja::Value,
    extra: minijinja::Value,
) -> Result<String> {
    let ctx = minijinja::value::merge_maps([extra, release.clone()]);
    Ok(env.get_template(template)?.render(ctx)?)
}
