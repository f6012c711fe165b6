//! Chart sources, upstream or rewritten to the chart mirror of `charts.mirror`.
//!
//! Every HelmRepository and OCIRepository the repository renders, infrastructure and apps,
//! takes its address from here, so one setting moves every chart to a mirror: air-gapped
//! homelabs and networks behind registry rate limits.

use serde::Serialize;

use crate::config::Config;
use crate::config::validate::charts::{HELM_SCHEMES, MirrorUrl, parse_mirror_url};

/// The Secret (in `flux-system`) holding the mirror's CA certificate, key `ca.crt`.
pub const CA_SECRET: &str = "chart-mirror-ca";
/// The key of the CA certificate in [`CA_SECRET`].
pub const CA_KEY: &str = "ca.crt";
/// Where source-controller reads the CA (one of its trusted certificate directories).
pub const CA_MOUNT: &str = "/etc/homelab/chart-mirror-ca";

/// The `spec` of a chart source as the source templates render it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Source {
    pub url: String,
    /// `Some("oci")` for a HelmRepository served from an OCI registry.
    #[serde(rename = "type")]
    pub kind: Option<&'static str>,
    /// Plain-HTTP OCI registry.
    pub insecure: bool,
}

fn parsed(url: Option<&str>, schemes: &[&str]) -> Option<MirrorUrl> {
    url.and_then(|u| parse_mirror_url(u, schemes).ok())
}

/// The source of a chart upstream publishes in the Helm repository `upstream`.
pub fn helm_repository(cfg: &Config, upstream: &str) -> Source {
    let mirror = cfg.charts.mirror.as_ref();
    match parsed(
        mirror.and_then(|m| m.helm_repository.as_deref()),
        HELM_SCHEMES,
    ) {
        Some(url) => {
            let oci = url.scheme == "oci";
            Source {
                url: url.join(""),
                kind: oci.then_some("oci"),
                insecure: oci && mirror.is_some_and(|m| m.insecure),
            }
        }
        None => Source {
            url: upstream.to_owned(),
            kind: None,
            insecure: false,
        },
    }
}

/// The source of a chart upstream publishes as the OCI artifact `upstream`
/// (`oci://host/path/chart`): the same path below the mirror's prefix.
pub fn oci_repository(cfg: &Config, upstream: &str) -> Source {
    let mirror = cfg.charts.mirror.as_ref();
    let rewritten = parsed(mirror.and_then(|m| m.oci_registry.as_deref()), &["oci"]).map(|m| {
        let path = upstream
            .strip_prefix("oci://")
            .and_then(|rest| rest.split_once('/'))
            .map(|(_, path)| path)
            .unwrap_or_default();
        m.join(path)
    });
    match rewritten {
        Some(url) => Source {
            url,
            kind: None,
            insecure: mirror.is_some_and(|m| m.insecure),
        },
        None => Source {
            url: upstream.to_owned(),
            kind: None,
            insecure: false,
        },
    }
}

/// The source of a profile's chart (a component's or an app's), upstream or on the mirror.
pub fn source(cfg: &Config, chart: &crate::profile::Chart) -> Source {
    match (&chart.oci, &chart.repository) {
        (Some(oci), _) => oci_repository(cfg, oci),
        (None, repository) => helm_repository(cfg, repository.as_deref().unwrap_or_default()),
    }
}

/// The mirror's addresses as `homelab.yaml` gives them (none without a mirror).
pub fn urls(cfg: &Config) -> Vec<String> {
    cfg.charts
        .mirror
        .iter()
        .flat_map(|m| [&m.helm_repository, &m.oci_registry])
        .flatten()
        .cloned()
        .collect()
}

/// Whether Flux must trust a CA of the mirror (then `bootstrap` stores it in [`CA_SECRET`]).
pub fn ca_file(cfg: &Config) -> Option<&str> {
    cfg.charts.mirror.as_ref()?.ca_file.as_deref()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Mirror;

    fn with(mirror: Mirror) -> Config {
        let text = include_str!("../../examples/homelab.yaml");
        let mut cfg: Config = serde_saphyr::from_str(text).expect("example parses");
        cfg.charts.mirror = Some(mirror);
        cfg
    }

    #[test]
    fn oci_charts_keep_their_upstream_path_below_the_prefix() {
        let cfg = with(Mirror {
            oci_registry: Some("oci://127.0.0.1:5000/mirror/".into()),
            insecure: true,
            ..Mirror::default()
        });
        let s = oci_repository(&cfg, "oci://quay.io/jetstack/charts/cert-manager");
        assert_eq!(
            s.url,
            "oci://127.0.0.1:5000/mirror/jetstack/charts/cert-manager"
        );
        assert!(s.insecure);
        // Helm repositories stay upstream: only the OCI mirror is set.
        let h = helm_repository(&cfg, "https://metallb.github.io/metallb");
        assert_eq!(h.url, "https://metallb.github.io/metallb");
        assert_eq!((h.kind, h.insecure), (None, false));
    }

    #[test]
    fn a_helm_mirror_is_an_index_or_an_oci_repository() {
        let mut mirror = Mirror {
            helm_repository: Some("http://127.0.0.1:8879".into()),
            ..Mirror::default()
        };
        let h = helm_repository(&with(mirror.clone()), "https://metallb.github.io/metallb");
        assert_eq!((h.url.as_str(), h.kind), ("http://127.0.0.1:8879", None));
        mirror.helm_repository = Some("oci://registry.lan/charts".into());
        mirror.insecure = true;
        let h = helm_repository(&with(mirror), "https://metallb.github.io/metallb");
        assert_eq!(
            (h.url.as_str(), h.kind, h.insecure),
            ("oci://registry.lan/charts", Some("oci"), true)
        );
    }
}
