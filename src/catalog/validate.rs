//! The rules of `homelab.yaml` that need the catalog, and the loader that holds the file to
//! every rule (the model's own from `config::validate`, then these). The rules of `apps:`:
//! each entry is a catalog app whose settings are answers its profile accepts, in a
//! namespace and at a host of its own.
//!
//! `add-app` asks the profile's questions, but `homelab.yaml` can be edited by hand and every
//! command renders from it, so the same rules run on every load: a setting that would not
//! pass the question at `add-app` time never reaches a template either.

use std::collections::BTreeMap;
use std::path::Path;

use crate::catalog::{self, Profile};
use crate::config::validate::{
    self as config_rules, Diagnostic, Diagnostics, did_you_mean, field, is_secret_key, join,
};
use crate::config::{App, Config};
use crate::error::{Error, Result};
use crate::text::Shown;

/// Read `<dir>/homelab.yaml` (or the file itself) and hold it to every rule; every problem
/// in one usage error. The one loader of every command.
pub fn load_config(dir_or_file: &Path) -> Result<Config> {
    config_rules::load_with(dir_or_file, &rules)
}

/// Parse `homelab.yaml` text and hold it to every rule; on failure, every problem.
pub fn parse_config(text: &str) -> std::result::Result<Config, Vec<Diagnostic>> {
    config_rules::parse_with(text, &rules)
}

/// Every rule of `homelab.yaml` (the model's, then the catalog's); empty when valid.
pub fn validate_config(cfg: &Config) -> Vec<Diagnostic> {
    config_rules::validate_with(cfg, &rules)
}

/// The rules that need the catalog: the apps, then LoadBalancer addresses, hosts and the
/// local StorageClass ([`catalog::config_problems`]).
pub fn rules(cfg: &Config, d: &mut Diagnostics) {
    validate_apps(cfg, d);
    for (path, message) in catalog::config_problems(cfg) {
        d.push(path, message);
    }
}

fn validate_apps(cfg: &Config, d: &mut Diagnostics) {
    let reserved = crate::component::reserved_namespaces();
    let mut names: BTreeMap<&str, usize> = BTreeMap::new();
    let mut hosts: BTreeMap<&str, usize> = BTreeMap::new();
    let mut namespaces: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, app) in cfg.apps.iter().enumerate() {
        let path = format!("apps[{i}].name");
        let mut profile = None;
        if d.check(&path, field::dns_label(&app.name)) {
            if let Some(first) = names.get(app.name.as_str()) {
                d.push(
                    &path,
                    format!("{:?} is already installed as apps[{first}]", app.name),
                );
            } else {
                names.insert(&app.name, i);
            }
            profile = catalog::get(&app.name);
            if profile.is_none() {
                d.push(path, not_in_catalog(&app.name));
            }
        }

        let path = format!("apps[{i}].namespace");
        if d.check(&path, field::dns_label(&app.namespace)) {
            if let Some((_, owner)) = reserved.iter().find(|(ns, _)| *ns == app.namespace) {
                d.push(
                    &path,
                    format!(
                        "{:?} belongs to {owner}; an app gets a namespace of its own (removing the app deletes its namespace), e.g. {:?}",
                        app.namespace, app.name
                    ),
                );
            } else if let Some(first) = namespaces.get(app.namespace.as_str()) {
                d.push(
                    path,
                    format!(
                        "{:?} is already the namespace of apps[{first}]; each app gets a namespace of its own, e.g. {:?}",
                        app.namespace, app.name
                    ),
                );
            } else {
                namespaces.insert(&app.namespace, i);
            }
        }

        let path = format!("apps[{i}].host");
        // A single-label host is allowed here (LAN search domains, `localhost` in tests);
        // the cluster's domain itself needs two labels for certificates.
        if d.check(&path, field::dns_subdomain(&app.host)) {
            if let Some(first) = hosts.get(app.host.as_str()) {
                d.push(
                    path,
                    format!("{} is already served by apps[{first}]", app.host),
                );
            } else {
                hosts.insert(&app.host, i);
            }
        }

        validate_settings(i, app, profile.as_ref(), d);
    }
}

/// "not in the catalog", with a did-you-mean or the list of known apps.
fn not_in_catalog(name: &str) -> String {
    match catalog::suggest(name) {
        Some(best) => format!(
            "{} is not in the app catalog; did you mean {best}?",
            Shown(name)
        ),
        None => format!(
            "{} is not in the app catalog; known apps: {} (see `homelab apps`)",
            Shown(name),
            catalog::names().join(", ")
        ),
    }
}

/// Each setting is an answer to a question of the profile that applies, and passes that
/// question's check; a question that applies and has no default needs an answer.
fn validate_settings(i: usize, app: &App, profile: Option<&Profile>, d: &mut Diagnostics) {
    let base = format!("apps[{i}].settings");
    for key in app.settings.keys() {
        if is_secret_key(key) {
            d.push(
                join(&base, key),
                "looks like a secret, and secrets never go in homelab.yaml (it is committed to git); `homelab add-app` stores secrets encrypted beside the app",
            );
        }
    }
    let Some(profile) = profile else {
        return;
    };
    let effective = catalog::effective_settings(profile, app);
    for (key, value) in &app.settings {
        if is_secret_key(key) {
            continue;
        }
        let path = join(&base, key);
        let Some(question) = profile.questions.iter().find(|q| q.key == *key) else {
            let message = if profile.secrets.iter().any(|s| s.key == *key) {
                format!(
                    "is a key of {}'s encrypted Secret, which never goes in homelab.yaml; remove it (`homelab add-app --set {key}=…` stores it encrypted)",
                    profile.name
                )
            } else {
                let keys: Vec<&str> = profile.questions.iter().map(|q| q.key.as_str()).collect();
                match did_you_mean(key, keys.iter().copied()) {
                    Some(best) => {
                        format!(
                            "{} has no setting {}; did you mean {best}?",
                            profile.name,
                            Shown(key)
                        )
                    }
                    None if keys.is_empty() => {
                        format!("{} takes no settings; remove it", profile.name)
                    }
                    None => format!(
                        "{} has no setting {}; its settings are {}",
                        profile.name,
                        Shown(key),
                        keys.join(", ")
                    ),
                }
            };
            d.push(path, message);
            continue;
        };
        if !catalog::matches(&question.when, &effective) {
            d.push(
                path,
                format!(
                    "only applies when {}; remove it, or set {}",
                    conditions(&question.when, ", "),
                    conditions(&question.when, " and ")
                ),
            );
            continue;
        }
        if let Err(why) = question.validation.check(value) {
            d.push(
                path,
                format!("{why}; {key} must be {}", question.validation.describe()),
            );
        }
    }
    for question in &profile.questions {
        let applies = catalog::matches(&question.when, &effective);
        // A missing fixed LoadBalancer address is reported by the address rules
        // (`catalog::config_problems`), which also name the next free address.
        let address = question.loadbalancer.is_some();
        if applies
            && !address
            && question.default.is_empty()
            && !app.settings.contains_key(&question.key)
        {
            d.push(
                join(&base, &question.key),
                format!(
                    "required by {}{}: {} ({})",
                    profile.name,
                    if question.when.is_empty() {
                        String::new()
                    } else {
                        format!(" when {}", conditions(&question.when, ", "))
                    },
                    question.prompt,
                    question.validation.describe()
                ),
            );
        }
    }
}

fn conditions(when: &BTreeMap<String, String>, sep: &str) -> String {
    when.iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect::<Vec<_>>()
        .join(sep)
}

/// Check an app about to be added to `cfg` (by `add-app`) against every rule `homelab.yaml`
/// is held to: the would-be configuration is validated as a whole, and the problems of the
/// new entry are reported under the command-line arguments that set them (`--namespace`,
/// `--host`, `--set key`).
pub fn check_new_app(cfg: &Config, app: &App) -> Result<()> {
    let mut would_be = cfg.clone();
    would_be.apps.retain(|a| a.name != app.name);
    would_be.apps.push(app.clone());
    let index = would_be.apps.len() - 1;
    let prefix = format!("apps[{index}].");
    let problems: Vec<Diagnostic> = validate_config(&would_be)
        .into_iter()
        .filter_map(|diag| {
            let rest = diag.path.strip_prefix(&prefix)?;
            let arg = match rest {
                "name" => app.name.clone(),
                "namespace" => "--namespace".to_owned(),
                "host" => "--host".to_owned(),
                other => match other.strip_prefix("settings.") {
                    Some(key) => format!("--set {key}"),
                    None => other.to_owned(),
                },
            };
            Some(Diagnostic::new(arg, diag.message))
        })
        .collect();
    match problems.as_slice() {
        [] => Ok(()),
        [one] => Err(Error::usage(one.to_string()).with_hint(
            "change the argument named above; `homelab apps` lists each app's settings",
        )),
        many => Err(Error::usage(format!(
            "{} cannot be added ({} problems):\n{}",
            app.name,
            many.len(),
            many.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        ))
        .with_hint("change the arguments named above; `homelab apps` lists each app's settings")),
    }
}
