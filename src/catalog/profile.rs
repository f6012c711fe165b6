//! The profile format: what one `profiles/apps/<app>.yaml` may say. Deserialized strictly
//! (unknown fields are errors) so a typo in a profile fails the catalog tests, not a user.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One app of the catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// The catalog name; also the default release, namespace and host prefix.
    pub name: String,
    /// One line for `homelab apps`.
    pub description: String,
    /// The namespace it installs into unless `--namespace` says otherwise.
    pub namespace: String,
    pub chart: Chart,
    /// The Service the Ingress / HTTPRoute sends traffic to.
    pub expose: Expose,
    /// What the app needs from the cluster.
    #[serde(default)]
    pub needs: Needs,
    /// The HelmRelease timeout (a Go duration like `10m`): long enough for the chart's own
    /// startup probes on a first boot, which pulls images and initializes data.
    #[serde(default = "default_timeout")]
    pub timeout: String,
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
    /// Values merged over `values` when answers match.
    #[serde(default)]
    pub overlays: Vec<Overlay>,
    /// Shown after the app is added.
    #[serde(default)]
    pub notes: String,
}

/// The HelmRelease timeout of apps whose profile names none.
pub const DEFAULT_TIMEOUT: &str = "10m";

fn default_timeout() -> String {
    DEFAULT_TIMEOUT.to_owned()
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
    pub when: BTreeMap<String, String>,
    pub values: Value,
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
                if answer.parse::<std::net::IpAddr>().is_ok() || is_dns_name(answer) {
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

/// A DNS name: dot-separated labels of letters, digits and inner hyphens, 253 chars at most.
pub fn is_dns_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// A DNS-1123 label, as Kubernetes wants for namespaces: the one rule of
/// [`crate::config::validate::field::dns_label`].
pub fn is_dns_label(name: &str) -> bool {
    crate::config::validate::field::dns_label(name).is_ok()
}
