//! The profile format: what one `profiles/infrastructure/<component>.yaml` or
//! `profiles/apps/<app>.yaml` may say. Infrastructure components and apps are the same thing
//! to the repository (a namespace, a chart source and a HelmRelease whose values are
//! expressions over the configuration), so they share one format and one template set;
//! what only one kind has is an optional block (`infrastructure:`, `expose:`) whose presence
//! the loaders check.
//!
//! Deserialized strictly (unknown fields are errors) so a typo in a profile fails the tests,
//! not a user. Below the modules that load profiles (`component`, `catalog`), so both read
//! the one format.

use std::collections::BTreeMap;

use include_dir::{Dir, include_dir};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};

/// The `profiles/` directory, embedded at build time.
static PROFILES: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/profiles");

/// One infrastructure component or app.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// The file name without `.yaml`: an app's catalog name (also its default release,
    /// namespace and host prefix), a component's folder and HelmRelease name.
    pub name: String,
    /// One line: `homelab apps` for an app, the comment above a component's Kustomization.
    pub description: String,
    /// The namespace it installs into (for an app, unless `--namespace` says otherwise).
    pub namespace: String,
    pub chart: Chart,
    /// The Service the Ingress / HTTPRoute sends traffic to (apps only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expose: Option<Expose>,
    /// What the app needs from the cluster.
    #[serde(default)]
    pub needs: Needs,
    /// The HelmRelease timeout (a Go duration like `10m`): long enough for the chart's own
    /// startup probes on a first boot, which pulls images and initializes data.
    #[serde(default = "default_timeout")]
    pub timeout: String,
    /// How often helm-controller reconciles the release (a Go duration).
    #[serde(default = "default_interval")]
    pub interval: String,
    /// Its pods need host networking, host PIDs or host paths (node exporters): the namespace
    /// gets the Pod Security `privileged` labels the infrastructure namespaces get.
    #[serde(default)]
    pub privileged: bool,
    /// Questions asked at add time; answers are recorded in homelab.yaml.
    #[serde(default)]
    pub questions: Vec<Question>,
    /// Keys of the app's encrypted Secret (never recorded, never in git in plaintext).
    #[serde(default)]
    pub secrets: Vec<SecretKey>,
    /// The HelmRelease values. String leaves may hold `{{ … }}` expressions (see docs/apps.md).
    #[serde(default = "empty_object")]
    pub values: Value,
    /// Values merged over `values` when their condition holds.
    #[serde(default)]
    pub overlays: Vec<Overlay>,
    /// Comments written above keys of the rendered values, by dot path (`speaker.frr`), so
    /// the repository explains itself. A path the values do not have is not written.
    #[serde(default)]
    pub comments: BTreeMap<String, String>,
    /// Shown after the app is added.
    #[serde(default)]
    pub notes: String,
    /// What makes it an infrastructure component (infrastructure profiles only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub infrastructure: Option<Infrastructure>,
}

impl Profile {
    /// How an app is reached. Every app profile has `expose:` (the catalog refuses one
    /// without it at load); a component has none.
    pub fn expose(&self) -> &Expose {
        self.expose
            .as_ref()
            .expect("every app profile says what it exposes (checked when the catalog loads)")
    }
}

/// How an infrastructure component is applied: its own Flux Kustomization, the files of its
/// folder beyond the namespace, chart source and release, and an optional configs layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Infrastructure {
    /// The Flux Kustomization that applies `infrastructure/controllers/<name>/`.
    pub kustomization: String,
    /// What that Kustomization holds, as the comment above it says, when that is more than
    /// the component (the profile's `description`).
    #[serde(default)]
    pub about: Option<String>,
    /// Further files of the folder, after the HelmRelease.
    #[serde(default)]
    pub files: Vec<File>,
    /// The StorageClass provisioner name it serves, for a storage provisioner.
    #[serde(default)]
    pub storage_provisioner: Option<String>,
    /// The objects that need its CRDs and webhooks, applied once it is Ready.
    #[serde(default)]
    pub configs: Option<Configs>,
    /// Apps cannot be applied without it (their manifests use its CRDs), so the `apps`
    /// Kustomization depends on it. Nothing else does: a failing controller must not hold
    /// back apps that do not need it.
    #[serde(default)]
    pub apps_need_it: bool,
}

/// One file a profile adds, rendered from an embedded template with the component's context.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct File {
    /// The file name inside the component's folder.
    pub file: String,
    /// The template under `templates/`.
    pub template: String,
}

/// A component's configs layer: one file under `infrastructure/configs/<name>/`, applied by
/// its own Flux Kustomization once the component (and `needs`) is Ready.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Configs {
    /// The Flux Kustomization's name.
    pub kustomization: String,
    /// The file name inside `infrastructure/configs/<name>/`.
    pub file: String,
    /// The template under `templates/`.
    pub template: String,
    /// Other components (by profile name) it waits for, beyond its own.
    #[serde(default)]
    pub needs: Vec<String>,
    /// How long applying and the health checks may take.
    pub timeout: String,
    /// What the Kustomization holds, as the comment above it says.
    pub about: String,
}

/// The HelmRelease timeout of apps whose profile names none.
pub const DEFAULT_TIMEOUT: &str = "10m";

fn default_timeout() -> String {
    DEFAULT_TIMEOUT.to_owned()
}

/// The HelmRelease interval of profiles that name none.
pub const DEFAULT_INTERVAL: &str = "30m";

fn default_interval() -> String {
    DEFAULT_INTERVAL.to_owned()
}

fn empty_object() -> Value {
    Value::Object(serde_json::Map::new())
}

/// Where the chart comes from: a classic Helm repository (`repository` + `name`) or an OCI
/// artifact (`oci`, the full chart reference).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Chart {
    #[serde(default)]
    pub repository: Option<String>,
    #[serde(default)]
    pub oci: Option<String>,
    /// The chart name (for `repository`; informational for `oci`).
    pub name: String,
    /// The exact chart version, pinned.
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expose {
    /// The Service name; may use `{{ app.name }}`.
    pub service: String,
    pub port: u16,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Needs {
    /// What its volumes hold, which decides their StorageClass.
    #[serde(default)]
    pub storage: StorageNeed,
    /// A database, e.g. "mysql (bundled or external)".
    #[serde(default)]
    pub database: Option<String>,
}

/// What an app keeps on its volumes. The catalog tests check that a profile's values use
/// exactly the StorageClass expressions its declaration implies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum StorageNeed {
    /// No volume.
    #[default]
    None,
    /// Files that are fine on NFS: volumes use `{{ storage_class }}`.
    Nfs,
    /// A database (SQLite, InnoDB, a TSDB) that needs a node-local filesystem: those volumes
    /// use `{{ local_class }}`, which is `storage.local_class` when set and the NFS class
    /// otherwise. Bulk files may still use `{{ storage_class }}`.
    Local,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Question {
    /// The setting name: `--set <key>=…` and `apps[].settings.<key>`.
    pub key: String,
    pub prompt: String,
    /// Used with `--non-interactive` and offered at the prompt. Empty means "required".
    #[serde(default)]
    pub default: String,
    #[serde(default)]
    pub validation: Validation,
    /// Only asked when every listed earlier answer matches.
    #[serde(default)]
    pub when: BTreeMap<String, String>,
    /// The answer is a fixed LoadBalancer address of one of the chart's Services.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loadbalancer: Option<LoadBalancer>,
}

/// A Service of the chart that gets a fixed address from the MetalLB pool. The address is
/// rendered one way only, as MetalLB's `metallb.io/loadBalancerIPs` annotation (MetalLB
/// refuses a Service that also sets `spec.loadBalancerIP`), and checked against the pool,
/// the ingress address and the other apps' addresses. The question's default is the next
/// free pool address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadBalancer {
    /// Where the chart takes that Service's annotations: a dot path into the values,
    /// e.g. `serviceDns.annotations`.
    pub annotations: String,
    /// The Service the chart renders from them; may use `{{ app.name }}`.
    pub service: String,
    /// Its ports as `PORT/PROTOCOL` (`53/UDP`): MetalLB shares an address only between
    /// Services whose ports differ.
    pub ports: Vec<String>,
}

/// The setting that opts a LoadBalancer address into sharing: `<key>_shared`, added to
/// the profile's questions for every `loadbalancer` question.
pub fn shared_key(address_key: &str) -> String {
    format!("{address_key}_shared")
}

/// How an answer is checked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Validation {
    /// Any text.
    #[default]
    Text,
    /// An integer, optionally bounded.
    Int {
        #[serde(default)]
        min: Option<i64>,
        #[serde(default)]
        max: Option<i64>,
    },
    /// `true` or `false`.
    Bool,
    /// A DNS name or IP address.
    Host,
    /// A Kubernetes quantity such as `20Gi`.
    Size,
    /// One of these values.
    Enum(Vec<String>),
    /// A regular expression the whole answer must match.
    Regex(String),
}

/// One key of the app's Secret `<app>-credentials`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretKey {
    pub key: String,
    /// What it is, for prompts and docs.
    #[serde(default)]
    pub description: String,
    /// Generate a random password of this length unless `--set <key>=…` gives one.
    #[serde(default)]
    pub generate: Option<usize>,
    /// A fixed value (may use `{{ … }}`), e.g. a username some charts want in the Secret.
    #[serde(default)]
    pub value: Option<String>,
    /// Only present when every listed answer matches.
    #[serde(default)]
    pub when: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Overlay {
    pub when: When,
    pub values: Value,
}

/// When an overlay applies: every listed answer matches (`{ database: bundled }`, an app's
/// settings), or an expression over the render context is true
/// (`"cfg.certificates.challenge == 'dns01'"`, for what the configuration decides).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum When {
    Answers(BTreeMap<String, String>),
    Expression(String),
}

/// Whether every `key: value` of `when` holds in `answers`.
pub fn matches(when: &BTreeMap<String, String>, answers: &BTreeMap<String, String>) -> bool {
    when.iter()
        .all(|(k, v)| answers.get(k).is_some_and(|a| a == v))
}

impl Validation {
    /// Check one answer; the error says what is expected.
    pub fn check(&self, answer: &str) -> Result<(), String> {
        // Answers are echoed bounded and escaped, and never hold a hidden character (a line
        // break in a PHP size would become a new php.ini directive).
        crate::text::check_visible(answer)?;
        let shown = crate::text::Shown(answer);
        match self {
            Validation::Text => Ok(()),
            Validation::Int { min, max } => {
                let n: i64 = answer
                    .parse()
                    .map_err(|_| format!("{shown} is not a whole number"))?;
                if min.is_some_and(|m| n < m) || max.is_some_and(|m| n > m) {
                    return Err(format!(
                        "{n} is out of range ({}..={})",
                        min.map_or("".into(), |m| m.to_string()),
                        max.map_or("".into(), |m| m.to_string())
                    ));
                }
                Ok(())
            }
            Validation::Bool => match answer {
                "true" | "false" => Ok(()),
                _ => Err(format!("{shown} is not true or false")),
            },
            Validation::Host => {
                if answer.parse::<std::net::IpAddr>().is_ok() || crate::text::is_dns_name(answer) {
                    Ok(())
                } else {
                    Err(format!("{shown} is not a host name or IP address"))
                }
            }
            Validation::Size => {
                let re = regex::Regex::new(r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$")
                    .expect("constant regex");
                if re.is_match(answer) {
                    Ok(())
                } else {
                    Err(format!("{shown} is not a size such as 20Gi"))
                }
            }
            Validation::Enum(options) => {
                if options.iter().any(|o| o == answer) {
                    Ok(())
                } else {
                    Err(format!("{shown} is not one of: {}", options.join(", ")))
                }
            }
            Validation::Regex(pattern) => {
                let re = regex::Regex::new(&format!("^(?:{pattern})$"))
                    .map_err(|e| format!("the profile's pattern is invalid: {e}"))?;
                if re.is_match(answer) {
                    Ok(())
                } else {
                    Err(format!("{shown} does not match {pattern}"))
                }
            }
        }
    }

    /// A short description of what is accepted, for hints.
    pub fn describe(&self) -> String {
        match self {
            Validation::Text => "any text".into(),
            Validation::Int { .. } => "a whole number".into(),
            Validation::Bool => "true or false".into(),
            Validation::Host => "a host name or IP address".into(),
            Validation::Size => "a size such as 20Gi".into(),
            Validation::Enum(o) => format!("one of {}", o.join(", ")),
            Validation::Regex(p) => format!("text matching {p}"),
        }
    }
}

/// The folder of `profiles/` that holds the infrastructure components.
pub const INFRASTRUCTURE: &str = "infrastructure";
/// The folder of `profiles/` that holds the app catalog.
pub const APPS: &str = "apps";

/// Every embedded profile of one folder of `profiles/`, sorted by name; a file that does not
/// parse, or whose `name` is not its file name, is a defect naming the file.
pub fn load(folder: &str) -> Result<Vec<Profile>> {
    let mut out = Vec::new();
    let files = PROFILES
        .get_dir(folder)
        .into_iter()
        .flat_map(|dir| dir.files())
        .filter(|f| f.path().extension().is_some_and(|e| e == "yaml"));
    for file in files {
        let path = file.path().to_string_lossy().into_owned();
        let text = file
            .contents_utf8()
            .ok_or_else(|| Error::defect(format!("profiles/{path}: not UTF-8")))?;
        let stem = file
            .path()
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy();
        let profile = parse(&path, &stem, text)?;
        out.push(profile);
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// One profile file, checked beyond its format: its name is its file's stem and its
/// comments name keys it has.
fn parse(path: &str, stem: &str, text: &str) -> Result<Profile> {
    let defect = |e: String| Error::defect(format!("profiles/{path}: {e}"));
    let profile: Profile = serde_saphyr::from_str(text).map_err(|e| defect(e.to_string()))?;
    if profile.name != stem {
        return Err(defect(format!(
            "name {:?} must match the file name",
            profile.name
        )));
    }
    if let Some(path) = profile.comments.keys().find(|path| {
        !has_path(&profile.values, path)
            && !profile.overlays.iter().any(|o| has_path(&o.values, path))
    }) {
        return Err(defect(format!(
            "comments: {path:?} is no key of the values or an overlay's values"
        )));
    }
    Ok(profile)
}

/// Whether `values` has the key at a comment's dot path (`speaker.frr`, `args[0].name`).
/// Keys may hold dots themselves (`metallb.io/loadBalancerIPs`), so each key that
/// prefixes the path is tried.
fn has_path(values: &Value, path: &str) -> bool {
    match values {
        Value::Object(map) => map.iter().any(|(key, item)| {
            let Some(rest) = path.strip_prefix(key.as_str()) else {
                return false;
            };
            rest.is_empty()
                || rest
                    .strip_prefix('.')
                    .is_some_and(|rest| has_path(item, rest))
                || (rest.starts_with('[') && has_path(item, rest))
        }),
        Value::Array(items) => path
            .strip_prefix('[')
            .and_then(|rest| rest.split_once(']'))
            .and_then(|(index, rest)| Some((items.get(index.parse::<usize>().ok()?)?, rest)))
            .is_some_and(|(item, rest)| {
                rest.is_empty() || has_path(item, rest.strip_prefix('.').unwrap_or(rest))
            }),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comment_paths_name_keys_including_dotted_ones_and_list_items() {
        let values = serde_json::json!({
            "speaker": { "frr": { "enabled": false } },
            "service": { "annotations": { "metallb.io/loadBalancerIPs": "10.0.0.1" } },
            "args": [ { "name": "a" } ],
        });
        for path in [
            "speaker",
            "speaker.frr.enabled",
            "service.annotations.metallb.io/loadBalancerIPs",
            "args[0].name",
        ] {
            assert!(has_path(&values, path), "{path}");
        }
        for path in [
            "speaker.fr",
            "speaker.frr.enabled.x",
            "args[1]",
            "args.name",
            "nope",
        ] {
            assert!(!has_path(&values, path), "{path}");
        }
    }

    #[test]
    fn a_comment_on_a_key_the_values_lack_is_refused() {
        let text = "name: x\ndescription: X\nnamespace: x\n\
                    chart: { oci: oci://example.org/x, name: x, version: 1.0.0 }\n\
                    values: { a: { b: 1 } }\n";
        parse("apps/x.yaml", "x", text).unwrap();
        let typo = format!("{text}comments: {{ a.c: why }}\n");
        let err = parse("apps/x.yaml", "x", &typo).unwrap_err().to_string();
        assert!(
            err.contains("profiles/apps/x.yaml") && err.contains("\"a.c\""),
            "{err}"
        );
        let renamed = parse("apps/x.yaml", "y", text).unwrap_err().to_string();
        assert!(renamed.contains("must match the file name"), "{renamed}");
    }

    #[test]
    fn every_profile_loads_and_its_comments_name_keys_it_has() {
        assert!(!load(INFRASTRUCTURE).unwrap().is_empty());
        assert!(!load(APPS).unwrap().is_empty());
    }
}
