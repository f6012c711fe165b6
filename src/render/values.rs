//! A profile's HelmRelease values: the profile's `values`, the overlays whose condition
//! holds merged over them, and the `{{ … }}` expressions in string leaves evaluated one leaf
//! at a time against the context of [`context`]. Results are data, serialized later as
//! JSON-escaped YAML, so no answer or configuration value can change the shape of the YAML.
//! Infrastructure components and apps go through the same code.

use std::collections::BTreeMap;

use minijinja::value::Serde;
use minijinja::{Environment, UndefinedBehavior, context};
use serde_json::Value;

use super::{DNS01_RESOLVERS, INGRESS_CLASS, cluster_issuer_name};
use crate::catalog::{self, Profile, When, local_class, matches};
use crate::config::{App, Config};
use crate::error::{Context as _, Error, Result};

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

pub(crate) fn expression_env() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env
}

/// The context `{{ … }}` in profile values, overlay conditions and secret values sees: the
/// configuration (`cfg`) and what is derived from it, and for an app its name, namespace,
/// host and `settings` (empty for a component, so a component cannot read an answer).
pub(crate) fn context(
    cfg: &Config,
    app: Option<&App>,
    settings: &BTreeMap<String, String>,
) -> minijinja::Value {
    let base = context! {
        cfg => minijinja::Value::from(Serde(cfg)),
        settings => minijinja::Value::from(Serde(settings)),
        domain => &cfg.cluster.domain,
        storage_class => &cfg.storage.storage_class,
        local_class => local_class(cfg),
        issuer => cluster_issuer_name(cfg),
        ingress_controller => <&'static str>::from(cfg.ingress.controller),
        ingress_class => INGRESS_CLASS,
        storage_provisioner => crate::catalog::plan::storage_provisioner_name(cfg.storage.provisioner),
        dns01_resolvers => DNS01_RESOLVERS,
    };
    match app {
        Some(app) => context! {
            app => context! { name => &app.name, namespace => &app.namespace, host => &app.host },
            secret_name => catalog::secret_name(app),
            tls_secret => format!("{}-tls", app.name),
            ..base
        },
        None => base,
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

pub(crate) fn eval_str(env: &Environment<'_>, ctx: &minijinja::Value, s: &str) -> Result<Value> {
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

/// Whether an overlay applies: its answers match `settings`, or its expression is true.
fn holds(
    env: &Environment<'_>,
    ctx: &minijinja::Value,
    when: &When,
    settings: &BTreeMap<String, String>,
) -> Result<bool> {
    match when {
        When::Answers(answers) => Ok(matches(answers, settings)),
        When::Expression(expr) => {
            let value = env
                .compile_expression(expr)
                .and_then(|e| e.eval(ctx))
                .with_context(|| format!("overlays.when {expr:?}"))?;
            if value.is_undefined() {
                return Err(Error::failed(format!(
                    "overlays.when {expr:?} is undefined"
                )));
            }
            Ok(value.is_true())
        }
    }
}

/// The HelmRelease values of a profile: its values, the overlays that hold merged over them,
/// expressions evaluated in `ctx` (see [`context`]).
pub fn values(
    profile: &Profile,
    settings: &BTreeMap<String, String>,
    ctx: &minijinja::Value,
) -> Result<Value> {
    let env = expression_env();
    let mut merged = profile.values.clone();
    for overlay in &profile.overlays {
        if holds(&env, ctx, &overlay.when, settings)? {
            deep_merge(&mut merged, &overlay.values);
        }
    }
    eval_tree(&env, ctx, &merged, "")
}
