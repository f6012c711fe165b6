//! Certificates: cert-manager's issuers are Ready, every Certificate is issued and not about
//! to expire, and the DNS provider's credentials exist for DNS-01.

use kube::ResourceExt;

use super::{name_of, str_at, unreadable};
use crate::component::ComponentId;
use crate::config::{Challenge, Choice, Config};
use crate::doctor::causes::{Causes, Root};
use crate::doctor::snapshot::{Listing, SecretKeys, Snapshot};
use crate::doctor::{Finding, Section};
use crate::kube::status::{self, State};

/// Certificates expiring sooner than this many days are a warning…
pub const EXPIRY_WARNING_DAYS: i64 = 14;
/// …and sooner than this, a failure: cert-manager renews well before (30 days ahead for
/// Let's Encrypt's 90-day certificates), so renewal is evidently broken.
pub const EXPIRY_FAILED_DAYS: i64 = 7;

/// Whole days from now until an RFC 3339 time; negative when past.
pub fn days_until(rfc3339: &str) -> Option<i64> {
    let t: k8s_openapi::jiff::Timestamp = rfc3339.parse().ok()?;
    let secs = t.as_second() - k8s_openapi::jiff::Timestamp::now().as_second();
    Some(secs.div_euclid(86_400))
}

pub fn certificates(cfg: &Config, snap: &Snapshot, causes: &Causes) -> Section {
    let mut out = Vec::new();
    let cm_hint = "cert-manager is installed by the repository's infrastructure: `homelab status` shows whether its HelmRelease is Ready";
    let cm_root = causes.for_namespace(ComponentId::CertManager.namespace());
    // Certificates wait on a failing issuer (or on what the issuers wait on).
    let mut issuer_root: Option<Root> = None;
    match &snap.cluster_issuers {
        Listing::NotInstalled => {
            issuer_root = Some(
                cm_root
                    .clone()
                    .unwrap_or(Root(ComponentId::CertManager.name().into())),
            );
            out.push(Finding::failed_unless(
                "certs.issuers",
                "cert-manager is not installed (no ClusterIssuer kind)",
                cm_hint,
                cm_root.clone(),
            ));
        }
        Listing::Error(err) => out.push(Finding::failed(
            "certs.issuers",
            format!("cannot list ClusterIssuers: {err}"),
            "the kubeconfig's user needs read access to the whole cluster",
        )),
        Listing::Items(issuers) if issuers.is_empty() => {
            let root = causes.for_delivered(ComponentId::CertManager.namespace());
            issuer_root = Some(root.clone().unwrap_or(Root("the ClusterIssuers".into())));
            out.push(Finding::failed_unless(
                "certs.issuers",
                "no ClusterIssuer: certificates cannot be issued",
                "the issuers are applied by the repository's infrastructure configs: `homelab status` shows whether that Kustomization applied",
                root,
            ));
        }
        Listing::Items(issuers) => {
            for issuer in issuers {
                let name = issuer.name_any();
                let st = status::evaluate_conditions(
                    "ClusterIssuer",
                    &serde_json::to_value(issuer).unwrap_or_default(),
                );
                if st.ready {
                    out.push(Finding::ok(
                        "certs.issuers",
                        format!("ClusterIssuer {name} ready"),
                    ));
                    continue;
                }
                if issuer_root.is_none() {
                    issuer_root = Some(
                        cm_root
                            .clone()
                            .unwrap_or(Root(format!("ClusterIssuer {name}"))),
                    );
                }
                out.push(if st.state == State::Progressing && st.reason == "NotReconciled" {
                    Finding::failed_unless(
                        "certs.issuers",
                        format!("ClusterIssuer {name} has no Ready condition"),
                        "is cert-manager running? `homelab status` shows its HelmRelease",
                        cm_root.clone(),
                    )
                } else {
                    Finding::failed_unless(
                        "certs.issuers",
                        format!("ClusterIssuer {name} not ready: {}: {}", st.reason, st.message),
                        "the message is cert-manager's own; for ACME, check certificates.email in homelab.yaml and, for DNS-01, the provider credentials (`homelab bootstrap` sets them)",
                        cm_root.clone(),
                    )
                });
            }
        }
    }

    out.extend(unreadable(
        "certs.certificates",
        "Certificates",
        &snap.certificates,
    ));
    let issue_hint = match cfg.certificates.challenge {
        Challenge::Dns01 => {
            "cert-manager's message above names the failing step; for DNS-01, check the DNS provider credentials (`homelab bootstrap` sets them)"
        }
        Challenge::Http01 => {
            "cert-manager's message above names the failing step; for HTTP-01, port 80 of the ingress address must be reachable from the internet"
        }
        Challenge::Selfsigned => "cert-manager's message above names the failing step",
    };
    for cert in snap.certificates.items() {
        let id = name_of(cert);
        let st = status::evaluate_conditions(
            "Certificate",
            &serde_json::to_value(cert).unwrap_or_default(),
        );
        if !st.ready {
            let root = issuer_root
                .clone()
                .or_else(|| causes.for_namespace(&cert.namespace().unwrap_or_default()));
            out.push(
                if st.state == State::Progressing && st.reason == "NotReconciled" {
                    Finding::failed_unless(
                        "certs.certificates",
                        format!("Certificate {id} has not been issued yet"),
                        issue_hint,
                        root,
                    )
                } else {
                    Finding::failed_unless(
                        "certs.certificates",
                        format!("Certificate {id} not ready: {}: {}", st.reason, st.message),
                        issue_hint,
                        root,
                    )
                },
            );
            continue;
        }
        let days = str_at(cert, "/status/notAfter").and_then(days_until);
        let renewal = format!(
            "cert-manager renews certificates 30 days before they expire, so renewal is failing: {}",
            issue_hint.replace("cert-manager's message above names the failing step; ", "")
        );
        out.push(match days {
            None => Finding::ok("certs.certificates", format!("Certificate {id} ready")),
            Some(d) if d < 0 => Finding::failed(
                "certs.certificates",
                format!("Certificate {id} has expired"),
                renewal,
            ),
            Some(d) if d < EXPIRY_FAILED_DAYS => Finding::failed(
                "certs.certificates",
                format!("Certificate {id} expires in {d} days"),
                renewal,
            ),
            Some(d) if d < EXPIRY_WARNING_DAYS => Finding::warning(
                "certs.certificates",
                format!("Certificate {id} expires in {d} days"),
                renewal,
            ),
            Some(d) => Finding::ok(
                "certs.certificates",
                format!("Certificate {id} ready, expires in {d} days"),
            ),
        });
    }

    if cfg.certificates.challenge == Challenge::Dns01 {
        let cm_ns = ComponentId::CertManager.namespace();
        let provider = cfg.certificates.dns_provider;
        let name = provider.secret_name();
        let keys = provider.secret_keys(&cfg.certificates.dns_settings);
        let fix = format!(
            "run `homelab bootstrap` with the {} credentials in the environment (see docs/configuration.md) to create Secret {cm_ns}/{name}",
            provider.as_str()
        );
        out.push(match &snap.dns_secret {
            SecretKeys::Keys(have) => {
                let missing: Vec<&str> = keys
                    .iter()
                    .copied()
                    .filter(|k| !have.iter().any(|h| h == k))
                    .collect();
                if missing.is_empty() {
                    Finding::ok(
                        "certs.dns-secret",
                        format!("Secret {cm_ns}/{name} has {}", keys.join(", ")),
                    )
                } else {
                    Finding::failed(
                        "certs.dns-secret",
                        format!("Secret {cm_ns}/{name} lacks key {}", missing.join(", ")),
                        fix,
                    )
                }
            }
            SecretKeys::Missing => Finding::failed(
                "certs.dns-secret",
                format!(
                    "Secret {cm_ns}/{name} ({} credentials) does not exist: DNS-01 challenges fail",
                    provider.as_str()
                ),
                fix,
            ),
            SecretKeys::Error(err) => Finding::failed(
                "certs.dns-secret",
                format!("cannot read Secret {cm_ns}/{name}: {err}"),
                "the kubeconfig's user needs to read Secrets in cert-manager",
            ),
            SecretKeys::NotNeeded => {
                Finding::ok("certs.dns-secret", "no DNS provider Secret needed")
            }
        });
    }
    Section::new("certificates", "Certificates", out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Severity;
    use crate::doctor::checks::testing::{by_check, dynamic, example, flux_running};
    use crate::doctor::local::SopsRecipients;

    #[test]
    fn certificate_expiry_thresholds() {
        let cert = |days: i64| {
            let t = k8s_openapi::jiff::Timestamp::now()
                .checked_add(k8s_openapi::jiff::SignedDuration::from_hours(days * 24 + 1))
                .unwrap();
            dynamic(
                "cert-manager.io/v1",
                "Certificate",
                Some("a"),
                &format!("c{days}"),
                serde_json::json!({"status": {
                "conditions": [{"type": "Ready", "status": "True"}], "notAfter": t.to_string()}}),
            )
        };
        let mut snap = flux_running(&example());
        snap.certificates = Listing::Items(vec![cert(60), cert(10), cert(3), cert(-2)]);
        let mut cfg = example();
        cfg.certificates.challenge = Challenge::Selfsigned;
        let s = certificates(
            &cfg,
            &snap,
            &Causes::new(&cfg, &snap, &SopsRecipients::NoFile),
        );
        let st: Vec<Severity> = by_check(&s, "certs.certificates")
            .iter()
            .map(|f| f.status)
            .collect();
        assert_eq!(
            st,
            [
                Severity::Ok,
                Severity::Warning,
                Severity::Failed,
                Severity::Failed
            ]
        );
        // No ClusterIssuer at all is a failure too.
        assert_eq!(by_check(&s, "certs.issuers")[0].status, Severity::Failed);
    }

    #[test]
    fn days_until_counts_whole_days() {
        let in_3_days = k8s_openapi::jiff::Timestamp::now()
            .checked_add(k8s_openapi::jiff::SignedDuration::from_hours(3 * 24 + 1))
            .unwrap();
        assert_eq!(days_until(&in_3_days.to_string()), Some(3));
        assert_eq!(
            days_until("2000-01-01T00:00:00Z").map(|d| d < 0),
            Some(true)
        );
        assert_eq!(days_until("not a time"), None);
    }
}
