//! DNS: every app host resolves, from this machine, to the ingress address.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::Duration;

use crate::config::Config;
use crate::doctor::{Finding, Section};

pub async fn dns(cfg: &Config) -> Section {
    let want: Option<IpAddr> = cfg.network.ingress_address.parse().ok();
    // Each lookup runs on its own task so they overlap; results keep the config's order.
    let handles: Vec<_> = cfg
        .apps
        .iter()
        .map(|app| {
            let host = app.host.clone();
            tokio::spawn(async move {
                let res = tokio::time::timeout(
                    Duration::from_secs(3),
                    tokio::net::lookup_host((host.clone(), 443)),
                )
                .await;
                (host, res)
            })
        })
        .collect();
    let mut results = Vec::with_capacity(handles.len());
    for h in handles {
        if let Ok(r) = h.await {
            results.push(r);
        }
    }
    let mut out = Vec::new();
    let hint = |host: &str| {
        format!(
            "add a DNS record {host} → {} (a wildcard *.{} in your local DNS, or the router); a warning if you use split DNS elsewhere",
            cfg.network.ingress_address, cfg.cluster.domain
        )
    };
    for (host, res) in results {
        match res {
            Ok(Ok(addrs)) => {
                let ips: BTreeSet<IpAddr> = addrs.map(|a| a.ip()).collect();
                if want.is_some_and(|w| ips.contains(&w)) {
                    out.push(Finding::ok(
                        "dns.hosts",
                        format!("{host} → {}", cfg.network.ingress_address),
                    ));
                } else {
                    let shown: Vec<String> = ips.iter().map(IpAddr::to_string).collect();
                    out.push(Finding::warning(
                        "dns.hosts",
                        format!(
                            "{host} resolves to {}, not the ingress address {}",
                            shown.join(", "),
                            cfg.network.ingress_address
                        ),
                        hint(&host),
                    ));
                }
            }
            Ok(Err(err)) => out.push(Finding::warning(
                "dns.hosts",
                format!("{host} does not resolve: {err}"),
                hint(&host),
            )),
            Err(_) => out.push(Finding::warning(
                "dns.hosts",
                format!("{host}: no DNS answer within 3s"),
                hint(&host),
            )),
        }
    }
    if out.is_empty() {
        out.push(Finding::ok("dns.hosts", "no app hosts to resolve"));
    }
    Section::new("dns", "DNS", out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::App;
    use crate::doctor::Severity;
    use crate::doctor::checks::testing::{by_check, example};

    /// Only `/etc/hosts` names are looked up: the test machine's resolver is not on loopback.
    #[tokio::test]
    async fn a_host_resolving_elsewhere_is_a_warning_with_the_record_to_create() {
        let mut cfg = example();
        cfg.network.ingress_address = "127.0.0.2".into();
        cfg.apps = vec![App {
            name: "whoami".into(),
            namespace: "whoami".into(),
            host: "localhost".into(),
            settings: Default::default(),
        }];
        let s = dns(&cfg).await;
        let f = by_check(&s, "dns.hosts")[0];
        assert_eq!(f.status, Severity::Warning, "{f:?}");
        assert!(
            f.message.starts_with("localhost resolves to 127.0.0.1")
                && f.message.ends_with("not the ingress address 127.0.0.2"),
            "{f:?}"
        );
        assert!(
            f.hint
                .as_deref()
                .unwrap()
                .contains("add a DNS record localhost → 127.0.0.2"),
            "{f:?}"
        );
        cfg.network.ingress_address = "127.0.0.1".into();
        assert_eq!(
            by_check(&dns(&cfg).await, "dns.hosts")[0].status,
            Severity::Ok
        );
    }
}
