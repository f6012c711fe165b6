//! From a profile and an installed app to the files under `apps/<name>/`.
//!
//! The namespace, chart source, HelmRelease and `kustomization.yaml` come from the template
//! set infrastructure components use ([`super::release`]), the values from
//! [`super::values`]; what only apps have (the ownership labels of their namespace, the
//! Ingress or HTTPRoute, the encrypted Secret, fixed LoadBalancer addresses) is here.

use std::collections::BTreeMap;

use minijinja::context;
use serde_json::Value;

use super::release::{self, Release};
use super::values::{self as profile_values, eval_str, expression_env};
use super::{GATEWAY_NAME, GATEWAY_SECTION, cluster_issuer_name, gateway_namespace};
use crate::catalog::plan::template;
use crate::catalog::{self, Profile, effective_settings, has_secrets, matches};
use crate::config::{App, Config, IngressController};
use crate::error::{Context as _, Error, Result};

/// The label every app's namespace carries, with the app's name: how `remove-app`, doctor
/// and status tell an app's namespace from others.
pub const APP_LABEL: &str = "homelab.dev/app";

/// The HelmRelease values of an app: the profile's values, matching overlays merged over
/// them, expressions evaluated, fixed LoadBalancer addresses annotated.
pub fn values(cfg: &Config, profile: &Profile, app: &App) -> Result<Value> {
    let settings = effective_settings(profile, app);
    let ctx = profile_values::context(cfg, Some(app), &settings);
    values_in(profile, &settings, &ctx)
}

/// [`values`] with the app's answers and expression context already at hand.
fn values_in(
    profile: &Profile,
    settings: &BTreeMap<String, String>,
    ctx: &minijinja::Value,
) -> Result<Value> {
    let mut values = profile_values::values(profile, settings, ctx)?;
    add_loadbalancer_annotations(profile, settings, &mut values)?;
    Ok(values)
}

/// Annotate each Service that has a fixed address the one way MetalLB accepts, and the
/// sharing key when the app opted into sharing (see [`catalog::sharing_key`]).
fn add_loadbalancer_annotations(
    profile: &Profile,
    settings: &BTreeMap<String, String>,
    values: &mut Value,
) -> Result<()> {
    for q in &profile.questions {
        let Some(lb) = &q.loadbalancer else { continue };
        let Some(address) = settings.get(&q.key).filter(|a| !a.is_empty()) else {
            continue;
        };
        if !matches(&q.when, settings) {
            continue;
        }
        let mut node = &mut *values;
        for part in lb.annotations.split('.') {
            let Value::Object(map) = node else {
                return Err(Error::failed(format!(
                    "loadbalancer.annotations {:?} of {}: {part} is not a mapping",
                    lb.annotations, q.key
                )));
            };
            node = map
                .entry(part.to_owned())
                .or_insert_with(|| Value::Object(serde_json::Map::new()));
        }
        let Value::Object(annotations) = node else {
            return Err(Error::failed(format!(
                "loadbalancer.annotations {:?} of {} is not a mapping",
                lb.annotations, q.key
            )));
        };
        annotations.insert(
            "metallb.io/loadBalancerIPs".to_owned(),
            Value::String(address.clone()),
        );
        if settings
            .get(&catalog::shared_key(&q.key))
            .is_some_and(|v| v == "true")
        {
            annotations.insert(
                "metallb.io/allow-shared-ip".to_owned(),
                Value::String(catalog::sharing_key(address)),
            );
        }
    }
    Ok(())
}

fn render_template(name: &str, ctx: minijinja::Value) -> Result<String> {
    let env = super::templates::environment()?;
    Ok(env.get_template(name)?.render(ctx)?)
}

/// Every file under `apps/<name>/` except the encrypted Secret (written once by `add-app`,
/// see [`catalog::secret_path`]), keyed by repository-relative path. An app outside the
/// catalog is a configuration error (validation names it first); a profile that does not
/// render an app validation accepted is a defect of the profile.
pub fn render_app(cfg: &Config, app: &App) -> Result<BTreeMap<String, String>> {
    let profile = catalog::get(&app.name).ok_or_else(|| {
        Error::usage(format!(
            "apps: {:?} is not in the app catalog (known: {})",
            app.name,
            catalog::names().join(", ")
        ))
        .with_hint("remove it from apps: in homelab.yaml, or see `homelab apps`")
    })?;
    render_profile(cfg, &profile, app)
}

/// [`render_app`] with `profile`: its failures are the profile's defects.
fn render_profile(cfg: &Config, profile: &Profile, app: &App) -> Result<BTreeMap<String, String>> {
    profile_files(cfg, profile, app).map_err(|e| profile_defect(profile, e))
}

/// A profile's own failure, as every command reports it.
fn profile_defect(profile: &Profile, err: Error) -> Error {
    Error::defect(format!(
        "the app profile {} does not render: {}",
        profile.name, err.message
    ))
}

fn profile_files(cfg: &Config, profile: &Profile, app: &App) -> Result<BTreeMap<String, String>> {
    let dir = catalog::app_dir(&app.name);
    let settings = effective_settings(profile, app);
    let ctx = profile_values::context(cfg, Some(app), &settings);
    let expose = profile.expose();
    let service = match eval_str(&expression_env(), &ctx, &expose.service)? {
        Value::String(s) => s,
        other => other.to_string(),
    };
    let release = Release {
        profile,
        name: &app.name,
        namespace: &app.namespace,
        labels: BTreeMap::from([
            ("app.kubernetes.io/managed-by", "homelab".to_owned()),
            (APP_LABEL, app.name.clone()),
        ]),
        values: values_in(profile, &settings, &ctx)?,
    }
    .context(cfg);
    let env = super::templates::environment()?;
    let exposure_ctx = context! {
        host => &app.host,
        issuer => cluster_issuer_name(cfg),
        tls_secret => format!("{}-tls", app.name),
        service => service,
        port => expose.port,
        gateway => context! { name => GATEWAY_NAME, namespace => gateway_namespace(), section => GATEWAY_SECTION },
    };
    let source = if profile.chart.oci.is_some() {
        "ocirepository.yaml"
    } else {
        "helmrepository.yaml"
    };
    let exposure = match cfg.ingress.controller {
        IngressController::Traefik => "ingress.yaml",
        IngressController::EnvoyGateway => "httproute.yaml",
    };
    let mut resources = vec!["namespace.yaml", source];
    if has_secrets(profile, app) {
        resources.push("secret.sops.yaml");
    }
    resources.extend(["helmrelease.yaml", exposure]);
    let exposure_template = format!("apps/{exposure}");
    let mut files = BTreeMap::new();
    for (file, template, extra) in [
        ("namespace.yaml", template::NAMESPACE, context! {}),
        (source, template::SOURCE, context! {}),
        ("helmrelease.yaml", template::HELMRELEASE, context! {}),
        (exposure, exposure_template.as_str(), exposure_ctx),
        (
            "kustomization.yaml",
            template::KUSTOMIZATION,
            context! { resources => &resources, layer => () },
        ),
    ] {
        files.insert(
            format!("{dir}/{file}"),
            release::render(&env, template, &release, extra)?,
        );
    }
    Ok(files)
}

/// `apps/kustomization.yaml`: one entry per installed app, in homelab.yaml's order.
pub fn apps_kustomization(cfg: &Config) -> String {
    render_template(
        "repo/apps/kustomization.yaml",
        context! { apps => super::apps_resources(cfg) },
    )
    .expect("the apps kustomization template renders")
}

/// The plain (unencrypted) Secret of an app: `given` values (from `--set`) win, then the
/// profile's fixed values, then generated passwords. Never write this to disk: encrypt it
/// with [`crate::secrets::encrypt_secret`]. `None` when the app needs no Secret.
pub fn plain_secret(
    cfg: &Config,
    profile: &Profile,
    app: &App,
    given: &BTreeMap<String, String>,
) -> Result<Option<String>> {
    let settings = effective_settings(profile, app);
    let env = expression_env();
    let ctx = profile_values::context(cfg, Some(app), &settings);
    let mut data = BTreeMap::new();
    for key in profile
        .secrets
        .iter()
        .filter(|s| matches(&s.when, &settings))
    {
        let value = if let Some(v) = given.get(&key.key) {
            v.clone()
        } else if let Some(template) = &key.value {
            match eval_str(&env, &ctx, template)
                .with_context(|| format!("secrets.{}", key.key))
                .map_err(|e| profile_defect(profile, e))?
            {
                Value::String(s) => s,
                other => other.to_string(),
            }
        } else if let Some(len) = key.generate {
            crate::secrets::generate_password(len)
        } else {
            return Err(Error::usage(format!(
                "the Secret key {:?} ({}) has no value: pass --set {}=…",
                key.key, key.description, key.key
            )));
        };
        data.insert(key.key.clone(), value);
    }
    if data.is_empty() {
        return Ok(None);
    }
    let data = serde_json::to_value(&data)?;
    render_template(
        "apps/secret.yaml",
        context! {
            secret_name => catalog::secret_name(app),
            namespace => &app.namespace,
            data => minijinja::Value::from(minijinja::value::Serde(&data)),
        },
    )
    .map(Some)
    .map_err(|e| profile_defect(profile, e))
}

/// `.sops.yaml` at the repository root, so `sops` edits app secrets with the right key.
pub fn sops_config(recipient: &str) -> String {
    render_template(
        "apps/sops.yaml",
        context! { recipient => recipient, encrypted_regex => crate::secrets::ENCRYPTED_REGEX },
    )
    .expect("the .sops.yaml template renders")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Kind;

    fn example() -> (Config, Profile, App) {
        let cfg: Config =
            serde_saphyr::from_str(include_str!("../../examples/homelab.yaml")).expect("example");
        let profile = catalog::get("grafana").expect("grafana");
        let app = App {
            name: profile.name.clone(),
            namespace: profile.namespace.clone(),
            host: "grafana.example.com".to_owned(),
            settings: BTreeMap::new(),
        };
        (cfg, profile, app)
    }

    /// A profile that does not render a validated app is homelab's defect: exit 1 with the
    /// hint saying so, from `render` and `add-app` alike (both render through here).
    #[test]
    fn a_broken_profile_is_a_defect_not_a_config_error() {
        let (cfg, mut profile, app) = example();
        assert!(render_profile(&cfg, &profile, &app).is_ok());
        profile.values = serde_json::json!({ "x": "{{ settings.no_such_setting }}" });
        let err = render_profile(&cfg, &profile, &app).expect_err("undefined");
        assert_eq!(err.kind, Kind::Failed);
        assert!(
            err.message
                .starts_with("the app profile grafana does not render: values.x: "),
            "{}",
            err.message
        );
        assert!(
            err.hint
                .as_deref()
                .is_some_and(|h| h.contains("defect of homelab"))
        );
    }

    /// The Secret: a value the user must give is a usage error (it names the flag); a value
    /// template that does not evaluate is the same defect as in the values.
    #[test]
    fn secret_values_fail_by_whose_move_it_is() {
        let (cfg, mut profile, app) = example();
        let given = BTreeMap::new();
        profile.secrets.truncate(1);
        profile.secrets[0].when.clear();
        profile.secrets[0].generate = None;
        profile.secrets[0].value = None;
        let err = plain_secret(&cfg, &profile, &app, &given).expect_err("no value");
        assert_eq!(err.kind, Kind::Usage);
        assert!(err.message.contains("pass --set"), "{}", err.message);
        profile.secrets[0].value = Some("{{ nope }}".to_owned());
        let err = plain_secret(&cfg, &profile, &app, &given).expect_err("undefined");
        assert_eq!(err.kind, Kind::Failed);
        assert!(
            err.message
                .starts_with("the app profile grafana does not render: secrets."),
            "{}",
            err.message
        );
    }
}
