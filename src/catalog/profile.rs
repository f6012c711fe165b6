//! The profile format: what one `profiles/<app>.yaml` may say. Deserialized strictly
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
    /// What the app needs from the cluster (documentation for `homelab apps`).
    #[serde(default)]
    pub needs: Needs,
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
    /// Persistent volumes on the cluster's NFS storage class.
    #[serde(default)]
    pub storage: bool,
    /// A database, e.g. "mysql (bundled or external)".
    #[serde(default)]
    pub database: Option<String>,
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

/// A DNS-1123 label, as Kubernetes wants for namespaces.
pub fn is_dns_label(name: &str) -> bool {
    is_dns_name(name) && !name.contains('.')
}
