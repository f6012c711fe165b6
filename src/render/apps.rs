//! From a profile and an installed app to the files under `apps/<name>/`.
//!
//! Object skeletons come from `templates/apps/` and `templates/partials/` (the chart source
//! and release policy shared with the infrastructure; strict, JSON-escaped); HelmRelease values
//! come from the profile as structured data, with `{{ … }}` expressions in string leaves
//! evaluated one leaf at a time and the result serialized as JSON, so no answer can
//! change the shape of the YAML.

use std::collections::BTreeMap;

use minijinja::{Environment, UndefinedBehavior, context};
use serde_json::Value;

use super::{GATEWAY_NAME, GATEWAY_NAMESPACE, GATEWAY_SECTION, cluster_issuer_name};
use crate::catalog::{self, Profile, effective_settings, has_secrets, local_class, matches};
use crate::config::{App, Choice, Config, IngressController};
use crate::error::{Context as _, Error, Result};

/// serde_json → minijinja, without minijinja's serde feature.
fn to_mj(v: &Value) -> minijinja::Value {
    match v {
        Value::Null => minijinja::Value::from(()),
        Value::Bool(b) => minijinja::Value::from(*b),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => minijinja::Value::from(i),
            (_, Some(u), _) => minijinja::Value::from(u),
            (_, _, f) => minijinja::Value::from(f.unwrap_or_default()),
        },
        Value::String(s) => minijinja::Value::from(s.clone()),
        Value::Array(items) => items.iter().map(to_mj).collect(),
        Value::Object(map) => minijinja::Value::from_object(
            map.iter()
                .map(|(k, v)| (k.clone(), to_mj(v)))
                .collect::<BTreeMap<String, minijinja::Value>>(),
        ),
    }
}

/// minijinja → serde_json, for expressions whose type is kept.
fn from_mj(v: &minijinja::Value) -> Result<Value> {
    use minijinja::value::ValueKind;
    Ok(match v.kind() {
        ValueKind::Undefined | ValueKind::None => Value::Null,
        ValueKind::Bool => Value::Bool(v.is_true()),
        ValueKind::Number => match v.as_i64() {
            Some(i) => Value::from(i),
            None => {
                let f = f64::try_from(v.clone())?;
                serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
            }
        },
        ValueKind::String => Value::String(v.as_str().unwrap_or_default().to_owned()),
        ValueKind::Seq | ValueKind::Iterable => Value::Array(
            v.try_iter()?
                .map(|item| from_mj(&item))
                .collect::<Result<_>>()?,
        ),
        ValueKind::Map => {
            let mut out = serde_json::Map::new();
            for key in v.try_iter()? {
                out.insert(key.to_string(), from_mj(&v.get_item(&key)?)?);
            }
            Value::Object(out)
        }
        _ => Value::String(v.to_string()),
    })
}

fn expression_env() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env
}

/// The context `{{ … }}` in profile values and secret values sees.
fn value_context(cfg: &Config, app: &App, settings: &BTreeMap<String, String>) -> minijinja::Value {
    context! {
        app => context! { name => &app.name, namespace => &app.namespace, host => &app.host },
        settings => to_mj(&serde_json::to_value(settings).unwrap_or_default()),
        domain => &cfg.cluster.domain,
        storage_class => &cfg.storage.storage_class,
        local_class => local_class(cfg),
        issuer => cluster_issuer_name(cfg),
        secret_name => catalog::secret_name(app),
        tls_secret => format!("{}-tls", app.name),
        ingress_controller => cfg.ingress.controller.as_str(),
    }
}

/// Evaluate the expressions in every string leaf. A leaf that is exactly one `{{ expr }}`
/// keeps the expression's type (number, bool, list), so `"{{ settings.port | int }}"`
/// renders as a number.
fn eval_tree(
    env: &Environment<'_>,
    ctx: &minijinja::Value,
    v: &Value,
    path: &str,
) -> Result<Value> {
    Ok(match v {
        Value::Object(map) => {
            let mut out = serde_json::Map::new();
            for (k, item) in map {
                out.insert(
                    k.clone(),
                    eval_tree(env, ctx, item, &format!("{path}.{k}"))?,
                );
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| eval_tree(env, ctx, item, &format!("{path}[{i}]")))
                .collect::<Result<_>>()?,
        ),
        Value::String(s) if s.contains("{{") || s.contains("{%") => {
            eval_str(env, ctx, s).with_context(|| format!("values{path}"))?
        }
        other => other.clone(),
    })
}

fn eval_str(env: &Environment<'_>, ctx: &minijinja::Value, s: &str) -> Result<Value> {
    let trimmed = s.trim();
    if let Some(inner) = trimmed
        .strip_prefix("{{")
        .and_then(|r| r.strip_suffix("}}"))
        .filter(|inner| !inner.contains("{{") && !inner.contains("}}"))
    {
        let expr = env.compile_expression(inner.trim())?;
        let value = expr.eval(ctx)?;
        if value.is_undefined() {
            return Err(Error::failed(format!("{inner} is undefined")));
        }
        return from_mj(&value);
    }
    Ok(Value::String(env.render_str(s, ctx)?))
}

/// Merge `over` into `base`: mappings merge key by key, anything else replaces.
fn deep_merge(base: &mut Value, over: &Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(k) {
                    Some(existing) => deep_merge(existing, v),
                    None => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (b, o) => *b = o.clone(),
    }
}

/// The HelmRelease values of an app: the profile's values, matching overlays merged over
/// them, expressions evaluated.
pub fn values(cfg: &Config, profile: &Profile, app: &App) -> Result<Value> {
    let settings = effective_settings(profile, app);
    let mut merged = profile.values.clone();
    for overlay in &profile.overlays {
        if matches(&overlay.when, &settings) {
            deep_merge(&mut merged, &overlay.values);
        }
    }
    let env = expression_env();
    let ctx = value_context(cfg, app, &settings);
    let mut values = eval_tree(&env, &ctx, &merged, "")?;
    add_loadbalancer_annotations(profile, &settings, &mut values)?;
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
    let env = expression_env();
    let vctx = value_context(cfg, app, &settings);
    let service = match eval_str(&env, &vctx, &profile.expose.service)? {
        Value::String(s) => s,
        other => other.to_string(),
    };
    let values = values(cfg, profile, app)?;
    let base = context! {
        name => &app.name,
        namespace => &app.namespace,
        host => &app.host,
        chart => to_mj(&serde_json::to_value(&profile.chart)?),
        version => &profile.chart.version,
        oci => profile.chart.oci.is_some(),
        source => to_mj(&serde_json::to_value(super::mirror::app_source(cfg, &profile.chart))?),
        issuer => cluster_issuer_name(cfg),
        tls_secret => format!("{}-tls", app.name),
        service => service,
        port => profile.expose.port,
        timeout => &profile.timeout,
        privileged => profile.privileged,
        gateway => context! { name => GATEWAY_NAME, namespace => GATEWAY_NAMESPACE, section => GATEWAY_SECTION },
        values => to_mj(&values),
    };
    let mut files = BTreeMap::new();
    let mut resources = vec!["namespace.yaml".to_owned()];
    files.insert(
        format!("{dir}/namespace.yaml"),
        render_template("apps/namespace.yaml", base.clone())?,
    );
    let source = if profile.chart.oci.is_some() {
        "ocirepository.yaml"
    } else {
        "helmrepository.yaml"
    };
    files.insert(
        format!("{dir}/{source}"),
        render_template("partials/chart-source.yaml", base.clone())?,
    );
    resources.push(source.to_owned());
    if has_secrets(profile, app) {
        resources.push("secret.sops.yaml".to_owned());
    }
    files.insert(
        format!("{dir}/helmrelease.yaml"),
        render_template("apps/helmrelease.yaml", base.clone())?,
    );
    resources.push("helmrelease.yaml".to_owned());
    let exposure = match cfg.ingress.controller {
        IngressController::Traefik => "ingress.yaml",
        IngressController::EnvoyGateway => "httproute.yaml",
    };
    files.insert(
        format!("{dir}/{exposure}"),
        render_template(&format!("apps/{exposure}"), base)?,
    );
    resources.push(exposure.to_owned());
    files.insert(
        format!("{dir}/kustomization.yaml"),
        render_template(
            "apps/kustomization.yaml",
            context! { resources => resources },
        )?,
    );
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
    let ctx = value_context(cfg, app, &settings);
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
            data => to_mj(&data),
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
