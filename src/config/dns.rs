//! Everything homelab knows about each DNS-01 provider, in one table.
//!
//! A provider's settings (what `homelab.yaml` may say, how each value is checked, which
//! field of cert-manager's solver it fills) and its credentials (the environment variable
//! `bootstrap` reads, the key of the Secret it creates, the `*SecretRef` of the solver that
//! points at that key) used to be spelled out separately in validation, the issuer template,
//! bootstrap and the docs, and drifted apart: route53 without `access_key_id` got a Secret
//! key no solver referenced. Every one of those now reads [`PROVIDERS`].

use std::collections::BTreeMap;

use serde::Serialize;

use crate::config::DnsProvider;
use crate::config::validate::field;

/// One provider: its settings, its credentials and where cert-manager expects them.
#[derive(Debug)]
pub struct Provider {
    pub id: DnsProvider,
    /// The key of the provider's block in a cert-manager ACME `dns01` solver.
    pub solver: &'static str,
    /// The Secret, in the cert-manager namespace, that `homelab bootstrap` creates.
    pub secret: &'static str,
    /// The non-secret `certificates.dns_settings`, in the order the solver lists them.
    pub settings: &'static [Setting],
    /// The secret values, read from the environment by `bootstrap`, never from `homelab.yaml`.
    pub credentials: &'static [Credential],
}

/// A non-secret setting of `certificates.dns_settings`.
#[derive(Debug)]
pub struct Setting {
    pub key: &'static str,
    /// The solver field it fills.
    pub field: &'static str,
    pub required: bool,
    /// The value rule; the error names the value and how to fix it.
    pub check: fn(&str) -> Result<(), String>,
}

/// A secret value: an environment variable that becomes a key of the provider's Secret,
/// which a `*SecretRef` of the solver points at.
#[derive(Debug)]
pub struct Credential {
    pub env: &'static str,
    pub secret_key: &'static str,
    /// The solver field referencing the key.
    pub solver_ref: &'static str,
    /// The variable holds the path of a file whose content is the secret.
    pub is_file: bool,
    /// A setting that, when present, carries this value in `homelab.yaml` instead (it is not
    /// secret, like route53's access key ID); the credential is then neither read nor referenced.
    pub unless_setting: Option<&'static str>,
}

const fn setting(
    key: &'static str,
    field: &'static str,
    required: bool,
    check: fn(&str) -> Result<(), String>,
) -> Setting {
    Setting {
        key,
        field,
        required,
        check,
    }
}

const fn credential(
    env: &'static str,
    secret_key: &'static str,
    solver_ref: &'static str,
) -> Credential {
    Credential {
        env,
        secret_key,
        solver_ref,
        is_file: false,
        unless_setting: None,
    }
}

/// Every provider, in declaration order ([`Choice::all`](crate::config::Choice::all)).
pub static PROVIDERS: [Provider; 6] = [
    Provider {
        id: DnsProvider::Cloudflare,
        solver: "cloudflare",
        secret: "cloudflare-api-token",
        settings: &[setting("email", "email", false, field::email)],
        credentials: &[credential(
            "CLOUDFLARE_API_TOKEN",
            "api-token",
            "apiTokenSecretRef",
        )],
    },
    Provider {
        id: DnsProvider::Route53,
        solver: "route53",
        secret: "route53-credentials",
        settings: &[
            setting("region", "region", true, aws_region),
            setting("hosted_zone_id", "hostedZoneID", false, route53_zone),
            setting("access_key_id", "accessKeyID", false, aws_access_key_id),
            setting("role", "role", false, iam_role),
        ],
        credentials: &[
            Credential {
                unless_setting: Some("access_key_id"),
                ..credential("AWS_ACCESS_KEY_ID", "access-key-id", "accessKeyIDSecretRef")
            },
            credential(
                "AWS_SECRET_ACCESS_KEY",
                "secret-access-key",
                "secretAccessKeySecretRef",
            ),
        ],
    },
    Provider {
        id: DnsProvider::Digitalocean,
        solver: "digitalocean",
        secret: "digitalocean-token",
        settings: &[],
        credentials: &[credential(
            "DIGITALOCEAN_TOKEN",
            "access-token",
            "tokenSecretRef",
        )],
    },
    Provider {
        id: DnsProvider::Clouddns,
        solver: "cloudDNS",
        secret: "clouddns-service-account",
        settings: &[setting("project", "project", true, gcp_project)],
        credentials: &[Credential {
            is_file: true,
            ..credential(
                "GOOGLE_APPLICATION_CREDENTIALS",
                "key.json",
                "serviceAccountSecretRef",
            )
        }],
    },
    Provider {
        id: DnsProvider::Azuredns,
        solver: "azureDNS",
        secret: "azuredns-client-secret",
        settings: &[
            setting("client_id", "clientID", true, uuid),
            setting("tenant_id", "tenantID", true, uuid),
            setting("subscription_id", "subscriptionID", true, uuid),
            setting("resource_group", "resourceGroupName", true, azure_group),
            setting("hosted_zone_name", "hostedZoneName", true, field::domain),
            setting("environment", "environment", false, azure_environment),
        ],
        credentials: &[credential(
            "AZURE_CLIENT_SECRET",
            "client-secret",
            "clientSecretSecretRef",
        )],
    },
    Provider {
        id: DnsProvider::Rfc2136,
        solver: "rfc2136",
        secret: "rfc2136-tsig-secret",
        settings: &[
            setting("nameserver", "nameserver", true, dns_server),
            setting("tsig_key_name", "tsigKeyName", true, tsig_key_name),
            setting("tsig_algorithm", "tsigAlgorithm", false, tsig_algorithm),
        ],
        credentials: &[credential(
            "RFC2136_TSIG_SECRET",
            "tsig-secret",
            "tsigSecretSecretRef",
        )],
    },
];

/// The table row of `provider`.
pub fn spec(provider: DnsProvider) -> &'static Provider {
    PROVIDERS
        .iter()
        .find(|p| p.id == provider)
        .expect("every DnsProvider has a row in PROVIDERS")
}

impl Provider {
    /// The settings `homelab.yaml` may give this provider.
    pub fn setting(&self, key: &str) -> Option<&'static Setting> {
        self.settings.iter().find(|s| s.key == key)
    }

    /// The credentials needed with these settings (route53's access key ID is one only when
    /// `access_key_id` is not set).
    pub fn credentials_for<'a>(
        &'static self,
        settings: &'a BTreeMap<String, String>,
    ) -> impl Iterator<Item = &'static Credential> + 'a {
        self.credentials
            .iter()
            .filter(|c| c.unless_setting.is_none_or(|s| !settings.contains_key(s)))
    }

    /// The keys of the provider's Secret with these settings.
    pub fn secret_keys(&self, settings: &BTreeMap<String, String>) -> Vec<&'static str> {
        spec(self.id)
            .credentials_for(settings)
            .map(|c| c.secret_key)
            .collect()
    }
}

/// A field of the solver with its value, for the issuer template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SolverField {
    pub name: &'static str,
    pub value: String,
}

/// A `*SecretRef` of the solver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SolverRef {
    pub field: &'static str,
    pub name: &'static str,
    pub key: &'static str,
}

/// The provider's block of a cert-manager DNS-01 solver, as the issuer template renders it:
/// `<kind>: {<fields>..., <refs>...}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Solver {
    pub kind: &'static str,
    pub fields: Vec<SolverField>,
    pub refs: Vec<SolverRef>,
}

/// The solver block for `provider` with `settings` (settings it does not know are left out;
/// validation refuses them before anything is rendered).
pub fn solver(provider: DnsProvider, settings: &BTreeMap<String, String>) -> Solver {
    let spec = spec(provider);
    Solver {
        kind: spec.solver,
        fields: spec
            .settings
            .iter()
            .filter_map(|s| {
                settings.get(s.key).map(|v| SolverField {
                    name: s.field,
                    value: v.clone(),
                })
            })
            .collect(),
        refs: spec
            .credentials_for(settings)
            .map(|c| SolverRef {
                field: c.solver_ref,
                name: spec.secret,
                key: c.secret_key,
            })
            .collect(),
    }
}

// ---------------------------------------------------------------------------------------
// Value rules, as cert-manager and the providers expect the values.

fn all(value: &str, ok: fn(char) -> bool) -> bool {
    value.chars().all(ok)
}

fn aws_region(value: &str) -> Result<(), String> {
    let parts: Vec<&str> = value.split('-').collect();
    let ok = parts.len() >= 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && all(p, |c| c.is_ascii_lowercase() || c.is_ascii_digit()))
        && parts.last().is_some_and(|p| all(p, |c| c.is_ascii_digit()));
    ok.then_some(()).ok_or_else(|| {
        format!(
            "{} is not an AWS region like us-east-1",
            crate::text::Shown(value)
        )
    })
}

fn route53_zone(value: &str) -> Result<(), String> {
    (value.len() <= 32 && all(value, |c| c.is_ascii_uppercase() || c.is_ascii_digit()))
        .then_some(())
        .ok_or_else(|| {
            format!(
                "{} is not a Route 53 hosted zone ID like Z0123456789ABCDEFGHIJ",
                crate::text::Shown(value)
            )
        })
}

fn aws_access_key_id(value: &str) -> Result<(), String> {
    ((16..=128).contains(&value.len())
        && all(value, |c| c.is_ascii_uppercase() || c.is_ascii_digit()))
    .then_some(())
    .ok_or_else(|| {
        format!("{} is not an AWS access key ID like AKIAIOSFODNN7EXAMPLE (the secret access key goes in AWS_SECRET_ACCESS_KEY, never here)", crate::text::Shown(value))
    })
}

fn iam_role(value: &str) -> Result<(), String> {
    (value.starts_with("arn:aws") && value.contains(":role/"))
        .then_some(())
        .ok_or_else(|| {
            format!(
                "{value:?} is not an IAM role ARN like arn:aws:iam::123456789012:role/dns-manager"
            )
        })
}

fn gcp_project(value: &str) -> Result<(), String> {
    let ok = (6..=30).contains(&value.len())
        && value.starts_with(|c: char| c.is_ascii_lowercase())
        && !value.ends_with('-')
        && all(value, |c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'
        });
    ok.then_some(()).ok_or_else(|| {
        format!("{} is not a Google Cloud project ID (6-30 lowercase letters, digits and '-', starting with a letter)", crate::text::Shown(value))
    })
}

fn uuid(value: &str) -> Result<(), String> {
    let groups: Vec<&str> = value.split('-').collect();
    let ok = groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && all(g, |c| c.is_ascii_hexdigit()));
    ok.then_some(()).ok_or_else(|| {
        format!(
            "{} is not a UUID like 00000000-0000-0000-0000-000000000000",
            crate::text::Shown(value)
        )
    })
}

fn azure_group(value: &str) -> Result<(), String> {
    let ok = value.len() <= 90
        && !value.ends_with('.')
        && all(value, |c| c.is_alphanumeric() || "-_.()".contains(c));
    ok.then_some(()).ok_or_else(|| {
        format!("{} is not an Azure resource group name (letters, digits, '-', '_', '.', '(' and ')', at most 90)", crate::text::Shown(value))
    })
}

fn one_of(value: &str, allowed: &[&str]) -> Result<(), String> {
    allowed.contains(&value).then_some(()).ok_or_else(|| {
        format!(
            "{} is not one of {}",
            crate::text::Shown(value),
            allowed.join(", ")
        )
    })
}

fn azure_environment(value: &str) -> Result<(), String> {
    one_of(
        value,
        &[
            "AzurePublicCloud",
            "AzureChinaCloud",
            "AzureGermanCloud",
            "AzureUSGovernmentCloud",
        ],
    )
}

fn dns_server(value: &str) -> Result<(), String> {
    let (host, port) = match value.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (value, None),
    };
    let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok_and(|p| p > 0));
    (port_ok && field::host_or_ipv4(host).is_ok())
        .then_some(())
        .ok_or_else(|| {
            format!(
                "{} is not a DNS server like 192.168.1.2 or ns1.example.com:53",
                crate::text::Shown(value)
            )
        })
}

fn tsig_key_name(value: &str) -> Result<(), String> {
    let name = value
        .strip_suffix('.')
        .unwrap_or(value)
        .to_ascii_lowercase();
    field::dns_subdomain(&name).map_err(|_| {
        format!(
            "{} is not a TSIG key name like acme-update.example.com.",
            crate::text::Shown(value)
        )
    })
}

fn tsig_algorithm(value: &str) -> Result<(), String> {
    one_of(value, &["HMACMD5", "HMACSHA1", "HMACSHA256", "HMACSHA512"])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Choice;

    #[test]
    fn the_table_has_one_row_per_provider_in_order() {
        let ids: Vec<DnsProvider> = PROVIDERS.iter().map(|p| p.id).collect();
        assert_eq!(ids, DnsProvider::all());
        for p in &PROVIDERS {
            assert!(!p.credentials.is_empty(), "{:?}", p.id);
            for c in p.credentials {
                assert!(c.solver_ref.ends_with("SecretRef"), "{}", c.solver_ref);
                if let Some(s) = c.unless_setting {
                    assert!(p.setting(s).is_some_and(|s| !s.required), "{s}");
                }
            }
        }
    }

    #[test]
    fn route53_references_the_access_key_id_only_when_it_is_not_in_the_settings() {
        let mut settings = BTreeMap::from([("region".to_owned(), "eu-west-1".to_owned())]);
        let s = solver(DnsProvider::Route53, &settings);
        let refs: Vec<(&str, &str)> = s.refs.iter().map(|r| (r.field, r.key)).collect();
        assert_eq!(
            refs,
            [
                ("accessKeyIDSecretRef", "access-key-id"),
                ("secretAccessKeySecretRef", "secret-access-key")
            ]
        );
        settings.insert("access_key_id".into(), "AKIAIOSFODNN7EXAMPLE".into());
        let s = solver(DnsProvider::Route53, &settings);
        let refs: Vec<&str> = s.refs.iter().map(|r| r.field).collect();
        assert_eq!(refs, ["secretAccessKeySecretRef"]);
        assert!(
            s.fields
                .iter()
                .any(|f| f.name == "accessKeyID" && f.value == "AKIAIOSFODNN7EXAMPLE")
        );
        assert_eq!(
            spec(DnsProvider::Route53).secret_keys(&settings),
            ["secret-access-key"]
        );
    }
}
