//! Rules of `charts.mirror`: the addresses Flux fetches every chart from instead of upstream.

use super::{Diagnostics, field};
use crate::config::{Config, Mirror};

/// The parts of a mirror URL the renderer joins chart paths to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirrorUrl {
    /// `http`, `https` or `oci`.
    pub scheme: String,
    /// `host[:port]`.
    pub authority: String,
    /// The path below the host, without leading or trailing `/` (may be empty).
    pub path: String,
}

impl MirrorUrl {
    /// The URL with `suffix` (a path without leading `/`) appended.
    pub fn join(&self, suffix: &str) -> String {
        let parts: Vec<&str> = [self.path.as_str(), suffix]
            .into_iter()
            .filter(|p| !p.is_empty())
            .collect();
        if parts.is_empty() {
            format!("{}://{}", self.scheme, self.authority)
        } else {
            format!("{}://{}/{}", self.scheme, self.authority, parts.join("/"))
        }
    }
}

/// Parse a mirror URL whose scheme is one of `schemes`; the error says what is wrong.
pub fn parse_mirror_url(s: &str, schemes: &[&str]) -> Result<MirrorUrl, String> {
    let example = match schemes {
        ["oci"] => "oci://registry.lan:5000/charts",
        _ => "https://charts.lan/homelab or oci://registry.lan:5000/charts",
    };
    if s.is_empty() {
        return Err(format!("must not be empty; expected a URL like {example}"));
    }
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("{s:?} contains spaces or control characters"));
    }
    let (scheme, rest) = s.split_once("://").unwrap_or(("", s));
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    // Never repeat a URL with credentials: they must not reach logs either.
    if authority.contains('@') {
        return Err(
            "contains credentials, which would end up in git; give the mirror anonymous read access"
                .to_owned(),
        );
    }
    if scheme.is_empty() {
        return Err(format!(
            "{s:?} has no scheme; expected a URL like {example}"
        ));
    }
    if !schemes.contains(&scheme) {
        let allowed: Vec<String> = schemes.iter().map(|s| format!("{s}://")).collect();
        let allowed = match allowed.split_last() {
            Some((last, [])) => last.clone(),
            Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
            None => String::new(),
        };
        return Err(format!(
            "{s:?} uses {scheme}://; expected {allowed} (like {example})"
        ));
    }
    let host = match authority.rsplit_once(':') {
        Some((h, p)) if p.parse::<u16>().is_ok_and(|p| p > 0) => h,
        Some(_) => return Err(format!("{s:?} has a bad port; expected host:port")),
        None => authority,
    };
    if field::host_or_ipv4(host).is_err() {
        return Err(format!(
            "{s:?} has no valid host; expected a URL like {example}"
        ));
    }
    if path.contains(['?', '#', '@']) {
        return Err(format!(
            "{s:?} has a query, fragment, tag or digest; give the repository's address only"
        ));
    }
    let path = path.trim_matches('/');
    if path.split('/').any(|p| p == "." || p == "..") || path.contains("//") {
        return Err(format!("{s:?} has an empty, '.' or '..' path part"));
    }
    Ok(MirrorUrl {
        scheme: scheme.to_owned(),
        authority: authority.to_owned(),
        path: path.to_owned(),
    })
}

/// The Helm-repository mirror: `http(s)://` index or `oci://` repository of charts.
pub const HELM_SCHEMES: &[&str] = &["https", "http", "oci"];

pub(super) fn validate_charts(cfg: &Config, d: &mut Diagnostics) {
    let Some(mirror) = &cfg.charts.mirror else {
        return;
    };
    let Mirror {
        helm_repository,
        oci_registry,
        ca_file,
        insecure,
    } = mirror;
    if helm_repository.is_none() && oci_registry.is_none() {
        d.push(
            "charts.mirror",
            "names no mirror; set helm_repository, oci_registry or both (or remove charts.mirror)",
        );
    }
    let helm = helm_repository.as_deref().map(|url| {
        let parsed = parse_mirror_url(url, HELM_SCHEMES);
        d.check("charts.mirror.helm_repository", parsed.clone());
        parsed.ok()
    });
    let oci = oci_registry.as_deref().map(|url| {
        let parsed = parse_mirror_url(url, &["oci"]);
        d.check("charts.mirror.oci_registry", parsed.clone());
        parsed.ok()
    });
    let uses_oci = [&helm, &oci].into_iter().any(|u| {
        u.as_ref()
            .is_some_and(|u| u.as_ref().is_none_or(|u| u.scheme == "oci"))
    });
    if *insecure && !uses_oci {
        d.push(
            "charts.mirror.insecure",
            "applies to an oci:// registry only; a Helm repository served over plain HTTP is written with http://",
        );
    }
    if let Some(file) = ca_file {
        if file.trim().is_empty() || file.chars().any(char::is_control) {
            d.push(
                "charts.mirror.ca_file",
                "must be the path of a PEM file with the mirror's CA certificate",
            );
        } else if *insecure {
            d.push(
                "charts.mirror.ca_file",
                "a plain-HTTP registry (insecure: true) has no certificate to check; drop ca_file or insecure",
            );
        }
    }
}
