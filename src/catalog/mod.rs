//! The app catalog: profiles under `profiles/apps/`, embedded in the binary and parsed once.
//!
//! The catalog is data, so adding an app is one YAML file and no Rust: a profile names its
//! chart, the questions to ask, the Secret keys it needs and its HelmRelease values. This
//! module loads the profiles and holds the rules between them and the configuration; the
//! files under `apps/<name>/` are rendered from them by `render::apps`.

pub mod plan;
mod rules;
mod validate;

use std::collections::BTreeMap;

use std::sync::LazyLock;

use crate::config::{App, Config};
use crate::error::{Error, Result};
use crate::profile;

pub use crate::profile::{
    Chart, DEFAULT_TIMEOUT, Expose, LoadBalancer, Needs, Overlay, Profile, Question, SecretKey,
    StorageNeed, Validation, When, matches, shared_key,
};
pub use crate::text::is_dns_name;
pub use rules::{app_problems, check_host, config_problems, next_free_address, sharing_key};
pub use validate::{check_new_app, load_config, parse_config, rules, validate_config};

/// The catalog, parsed once on first use.
static CATALOG: LazyLock<Vec<Profile>> = LazyLock::new(|| {
    load_all().expect("the embedded profiles are valid (checked by the catalog tests)")
});

/// Check an app profile beyond its format: it says how it is exposed, has no
/// infrastructure block, and every LoadBalancer question gets its sharing opt-in.
fn check(mut profile: Profile) -> Result<Profile> {
    let name = profile.name.clone();
    let defect = |e: String| Error::defect(format!("profiles/{}/{name}.yaml: {e}", profile::APPS));
    if profile.expose.is_none() {
        return Err(defect(
            "an app profile says which Service it exposes (`expose:`)".into(),
        ));
    }
    if profile.infrastructure.is_some() {
        return Err(defect(
            "`infrastructure:` is for profiles/infrastructure/; an app is installed by `apps`"
                .into(),
        ));
    }
    add_sharing_questions(&mut profile).map_err(defect)?;
    Ok(profile)
}

/// Every LoadBalancer address gets its opt-in to sharing right after it, so no profile can
/// forget it and answers are validated like any other.
fn add_sharing_questions(profile: &mut Profile) -> Result<(), String> {
    let mut out = Vec::new();
    for q in std::mem::take(&mut profile.questions) {
        let Some(lb) = &q.loadbalancer else {
            out.push(q);
            continue;
        };
        if !q.default.is_empty() || q.validation != Validation::Host {
            return Err(format!(
                "question {}: a loadbalancer address has `validation: host` and no default (the next free pool address is offered)",
                q.key
            ));
        }
        for port in &lb.ports {
            rules::parse_port(port).map_err(|e| format!("question {}: {e}", q.key))?;
        }
        let shared = Question {
            key: shared_key(&q.key),
            prompt: format!(
                "Let other apps that opt in share the address of {} (different ports only)",
                q.key
            ),
            default: "false".to_owned(),
            validation: Validation::Bool,
            when: q.when.clone(),
            loadbalancer: None,
        };
        out.push(q);
        out.push(shared);
    }
    profile.questions = out;
    Ok(())
}

/// Every embedded app profile with any error, sorted by name. The catalog tests call this
/// so a broken profile fails the build's tests rather than hiding from [`all`].
pub fn load_all() -> Result<Vec<Profile>> {
    profile::load(profile::APPS)?
        .into_iter()
        .map(check)
        .collect()
}

/// Every profile of the catalog, sorted by name.
pub fn all() -> Vec<Profile> {
    CATALOG.clone()
}

/// The profile called `name`.
pub fn get(name: &str) -> Option<Profile> {
    CATALOG.iter().find(|p| p.name == name).cloned()
}

/// The catalog name closest to a mistyped `name`, if one is close enough to be a typo.
pub fn suggest(name: &str) -> Option<&'static str> {
    let names: Vec<&'static str> = CATALOG.iter().map(|p| p.name.as_str()).collect();
    let lower = name.to_ascii_lowercase();
    names
        .iter()
        .map(|n| (strsim::jaro_winkler(&lower, n), *n))
        .filter(|(score, n)| *score >= 0.8 || (lower.len() >= 3 && n.contains(lower.as_str())))
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, n)| n)
}

/// The repository path of an app's encrypted Secret. Written once by `add-app` (it holds
/// generated passwords), so re-rendering must keep it, never regenerate it.
pub fn secret_path(app: &App) -> String {
    format!("apps/{}/secret.sops.yaml", app.name)
}

/// The name of the Secret holding an app's credentials.
pub fn secret_name(app: &App) -> String {
    format!("{}-credentials", app.name)
}

/// The directory of an app in the repository.
pub fn app_dir(app_name: &str) -> String {
    format!("apps/{app_name}")
}

/// The default host of an app: `<app>.<domain>`.
pub fn default_host(cfg: &Config, profile: &Profile) -> String {
    format!("{}.{}", profile.name, cfg.cluster.domain)
}

/// Profile names, for "see the list" messages.
pub fn names() -> Vec<String> {
    CATALOG.iter().map(|p| p.name.clone()).collect()
}

/// The app's settings with defaults filled in for questions it applies to but has no answer
/// for (e.g. a question added to the profile after the app was installed).
pub fn effective_settings(profile: &Profile, app: &App) -> BTreeMap<String, String> {
    let mut out = app.settings.clone();
    for q in &profile.questions {
        if !out.contains_key(&q.key) && matches(&q.when, &out) {
            out.insert(q.key.clone(), q.default.clone());
        }
    }
    out
}

/// Whether the app has an encrypted Secret (some profiles need one only for some answers).
pub fn has_secrets(profile: &Profile, app: &App) -> bool {
    let settings = effective_settings(profile, app);
    profile.secrets.iter().any(|s| matches(&s.when, &settings))
}

/// The StorageClass of volumes that hold a database: `storage.local_class`, else NFS.
pub fn local_class(cfg: &Config) -> &str {
    cfg.storage
        .local_class
        .as_deref()
        .unwrap_or(&cfg.storage.storage_class)
}

/// A DNS-1123 label, as Kubernetes wants for namespaces: the one rule of
/// [`crate::config::validate::field::dns_label`].
pub fn is_dns_label(name: &str) -> bool {
    crate::config::validate::field::dns_label(name).is_ok()
}
