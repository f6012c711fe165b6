//! Rules over the apps of `homelab.yaml` that need the catalog: fixed LoadBalancer
//! addresses, hosts the Envoy Gateway listener can serve, and the node-local StorageClass.
//!
//! Config validation runs them on every command, and `add-app` runs the same functions on
//! the configuration it is about to write, so an address or host that MetalLB or the
//! Gateway would silently ignore never reaches the repository.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use super::profile::{Profile, matches, shared_key};
use crate::config::validate::field;
use crate::config::{App, Config, IngressController};

/// `53/UDP` → `(53, "UDP")`.
pub fn parse_port(s: &str) -> Result<(u16, String), String> {
    let bad = || format!("{s:?} is not a port like 53/UDP");
    let (port, protocol) = s.split_once('/').ok_or_else(bad)?;
    let port: u16 = port.parse().map_err(|_| bad())?;
    if port == 0 || !["TCP", "UDP", "SCTP"].contains(&protocol) {
        return Err(bad());
    }
    Ok((port, protocol.to_owned()))
}

/// The MetalLB sharing key of an address: Services that opt into sharing get the same key
/// for the same address, so MetalLB lets exactly those share it.
pub fn sharing_key(address: &str) -> String {
    format!("homelab-{}", address.replace('.', "-"))
}

/// One fixed LoadBalancer address an installed app asks for.
struct Claim<'a> {
    app: usize,
    key: &'a str,
    /// The answer, when there is one.
    value: Option<&'a str>,
    shared: bool,
    ports: Vec<(u16, String)>,
}

impl Claim<'_> {
    fn path(&self) -> String {
        format!("apps[{}].settings.{}", self.app, self.key)
    }
}

/// Every LoadBalancer address the installed apps ask for, in file order. Apps that are
/// not in the catalog have none (validation reports them elsewhere).
fn claims<'a>(cfg: &'a Config, profiles: &'a [Option<Profile>]) -> Vec<Claim<'a>> {
    let mut out = Vec::new();
    for (i, (app, profile)) in cfg.apps.iter().zip(profiles).enumerate() {
        let Some(profile) = profile else { continue };
        let settings = super::effective_settings(profile, app);
        for q in &profile.questions {
            let Some(lb) = &q.loadbalancer else { continue };
            if !matches(&q.when, &settings) {
                continue;
            }
            out.push(Claim {
                app: i,
                key: &q.key,
                value: app.settings.get(&q.key).map(String::as_str),
                shared: app
                    .settings
                    .get(&shared_key(&q.key))
                    .is_some_and(|v| v == "true"),
                ports: lb.ports.iter().filter_map(|p| parse_port(p).ok()).collect(),
            });
        }
    }
    out
}

/// The pool as inclusive ranges; `None` when an entry does not parse (reported elsewhere).
fn pool(cfg: &Config) -> Option<Vec<(u32, u32)>> {
    cfg.network
        .loadbalancer_pool
        .iter()
        .map(|e| field::pool_range(e).ok().map(|(a, b)| (a.into(), b.into())))
        .collect()
}

fn profiles_of(cfg: &Config) -> Vec<Option<Profile>> {
    cfg.apps.iter().map(|a| super::get(&a.name)).collect()
}

/// The first pool address that is neither the ingress address, a node's address, nor
/// asked for by an app: the default answer to a LoadBalancer question.
pub fn next_free_address(cfg: &Config) -> Option<Ipv4Addr> {
    let profiles = profiles_of(cfg);
    let mut taken: Vec<u32> = claims(cfg, &profiles)
        .iter()
        .filter_map(|c| c.value?.parse::<Ipv4Addr>().ok())
        .map(u32::from)
        .collect();
    let fixed = std::iter::once(cfg.network.ingress_address.as_str())
        .chain(cfg.nodes.iter().map(|n| n.address.as_str()));
    taken.extend(
        fixed
            .filter_map(|a| a.parse::<Ipv4Addr>().ok())
            .map(u32::from),
    );
    taken.sort_unstable();
    for (start, end) in pool(cfg)? {
        // Each taken address is skipped at most once, so this ends after few steps even
        // for a huge pool.
        let mut candidate = start;
        while candidate <= end {
            if taken.binary_search(&candidate).is_err() {
                return Some(Ipv4Addr::from(candidate));
            }
            candidate = candidate.checked_add(1)?;
        }
    }
    None
}

/// Why `ip` cannot be a fixed LoadBalancer address in `cfg`, ignoring other apps.
fn outside_pool(cfg: &Config, ip: Ipv4Addr) -> Option<String> {
    let ranges = pool(cfg)?;
    if ip.to_string() == cfg.network.ingress_address {
        return Some(format!(
            "{ip} is network.ingress_address, the ingress controller's address; MetalLB gives it to the ingress controller only"
        ));
    }
    if !ranges
        .iter()
        .any(|(a, b)| (*a..=*b).contains(&u32::from(ip)))
    {
        return Some(format!(
            "{ip} is not inside network.loadbalancer_pool ({}); MetalLB only assigns addresses from the pool",
            cfg.network.loadbalancer_pool.join(", ")
        ));
    }
    None
}

/// How to fix an address problem: the next free address, if there is one.
fn suggestion(cfg: &Config, key: &str) -> String {
    match next_free_address(cfg) {
        Some(ip) => format!("; for example {key}: {ip} (the next free pool address)"),
        None => "; the pool has no free address left: add a range to network.loadbalancer_pool"
            .to_owned(),
    }
}

fn address_problems(cfg: &Config, out: &mut Vec<(String, String)>) {
    let profiles = profiles_of(cfg);
    let claims = claims(cfg, &profiles);
    let mut seen: BTreeMap<Ipv4Addr, Vec<&Claim<'_>>> = BTreeMap::new();
    for claim in &claims {
        let value = claim.value.unwrap_or_default();
        if value.is_empty() {
            out.push((
                claim.path(),
                format!(
                    "required: the fixed LoadBalancer address of {}{}",
                    cfg.apps[claim.app].name,
                    suggestion(cfg, claim.key)
                ),
            ));
            continue;
        }
        let ip = match field::ipv4(value) {
            Ok(()) => value.parse::<Ipv4Addr>().expect("checked"),
            Err(why) => {
                out.push((claim.path(), format!("{why}{}", suggestion(cfg, claim.key))));
                continue;
            }
        };
        if let Some(why) = outside_pool(cfg, ip) {
            out.push((claim.path(), format!("{why}{}", suggestion(cfg, claim.key))));
            continue;
        }
        let earlier = seen.entry(ip).or_default();
        for other in earlier.iter() {
            if let Some(why) = conflict(claim, other) {
                out.push((
                    claim.path(),
                    format!("{ip} is already the address of {}: {why}", other.path()),
                ));
            }
        }
        earlier.push(claim);
    }
}

/// Why two Services cannot share one address, if they cannot: MetalLB shares an address
/// only between Services that both carry the same `metallb.io/allow-shared-ip` key and
/// whose ports differ.
fn conflict(a: &Claim<'_>, b: &Claim<'_>) -> Option<String> {
    if !(a.shared && b.shared) {
        let unshared: Vec<String> = [a, b]
            .iter()
            .filter(|c| !c.shared)
            .map(|c| format!("{}: \"true\"", shared_key_path(c)))
            .collect();
        return Some(format!(
            "two Services share an address only when both opt in; set {} or choose another address",
            unshared.join(" and ")
        ));
    }
    let clash: Vec<String> = a
        .ports
        .iter()
        .filter(|p| b.ports.contains(p))
        .map(|(port, proto)| format!("{port}/{proto}"))
        .collect();
    (!clash.is_empty()).then(|| {
        format!(
            "both use {}, and MetalLB only shares an address between Services whose ports differ; choose another address",
            clash.join(", ")
        )
    })
}

fn shared_key_path(c: &Claim<'_>) -> String {
    format!("apps[{}].settings.{}", c.app, shared_key(c.key))
}

/// Whether the Gateway can serve `host`. Envoy Gateway serves every app through one HTTPS
/// listener for `*.<domain>` with one wildcard certificate, which covers exactly one label
/// below the domain; traefik gets a certificate per host, so any host works there.
pub fn check_host(cfg: &Config, host: &str) -> Result<(), String> {
    if cfg.ingress.controller != IngressController::EnvoyGateway {
        return Ok(());
    }
    let domain = &cfg.cluster.domain;
    let fix = |label: &str| {
        format!(
            "use a host of the form <name>.{domain}, like {label}.{domain}, or ingress.controller: traefik, which gets a certificate per host"
        )
    };
    match host
        .strip_suffix(domain.as_str())
        .and_then(|rest| rest.strip_suffix('.'))
    {
        Some(label) if !label.is_empty() && !label.contains('.') => Ok(()),
        Some(labels) if !labels.is_empty() => Err(format!(
            "{host} is more than one label below {domain}: the envoy-gateway listener and its wildcard certificate *.{domain} cover one label only; {}",
            fix(labels.rsplit('.').next().unwrap_or(labels))
        )),
        _ => Err(format!(
            "{host} is outside {domain}: the envoy-gateway listener and its wildcard certificate only serve *.{domain}; {}",
            fix(host.split('.').next().unwrap_or(host))
        )),
    }
}

fn local_class_problems(cfg: &Config, out: &mut Vec<(String, String)>) {
    let Some(class) = &cfg.storage.local_class else {
        return;
    };
    let path = "storage.local_class".to_owned();
    if let Err(why) = field::dns_subdomain(class) {
        out.push((path, why));
    } else if *class == cfg.storage.storage_class {
        out.push((
            path,
            format!(
                "{class:?} is storage.storage_class, the NFS class; name a node-local class the cluster has (k3s ships local-path), or remove the key to keep every volume on NFS"
            ),
        ));
    }
}

/// Every problem of these rules in `cfg`, as `(key path, message)`.
pub fn config_problems(cfg: &Config) -> Vec<(String, String)> {
    let mut out = Vec::new();
    local_class_problems(cfg, &mut out);
    for (i, app) in cfg.apps.iter().enumerate() {
        if let Err(why) = check_host(cfg, &app.host) {
            out.push((format!("apps[{i}].host"), why));
        }
    }
    address_problems(cfg, &mut out);
    out
}

/// The problems [`config_problems`] finds in one app's settings, for `add-app` to report
/// as problems of its flags.
pub fn app_problems<'a>(
    problems: &'a [(String, String)],
    cfg: &Config,
    app: &App,
) -> impl Iterator<Item = (&'a str, &'a str)> {
    let index = cfg.apps.iter().position(|a| a.name == app.name);
    let prefix = index.map(|i| format!("apps[{i}]."));
    problems.iter().filter_map(move |(path, message)| {
        let rest = path.strip_prefix(prefix.as_deref()?)?;
        Some((rest, message.as_str()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example() -> Config {
        serde_saphyr::from_str(include_str!("../../examples/homelab.yaml")).expect("example")
    }

    fn full() -> Config {
        serde_saphyr::from_str(include_str!("../../examples/full.yaml")).expect("full")
    }

    fn app(name: &str, settings: &[(&str, &str)]) -> App {
        let profile = super::super::get(name).expect("in the catalog");
        App {
            name: name.to_owned(),
            namespace: profile.namespace.clone(),
            host: format!("{name}.example.com"),
            settings: settings
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    fn problems(cfg: &Config) -> Vec<String> {
        config_problems(cfg)
            .into_iter()
            .map(|(path, message)| format!("{path}: {message}"))
            .collect()
    }

    #[test]
    fn the_default_address_is_the_next_free_one_of_the_pool() {
        let mut cfg = example();
        // 192.168.1.240 is the ingress address.
        assert_eq!(
            next_free_address(&cfg),
            Some("192.168.1.241".parse().unwrap())
        );
        cfg.apps
            .push(app("pihole", &[("dns_address", "192.168.1.241")]));
        assert_eq!(
            next_free_address(&cfg),
            Some("192.168.1.242".parse().unwrap())
        );
        cfg.apps
            .push(app("syncthing", &[("sync_address", "192.168.1.243")]));
        assert_eq!(
            next_free_address(&cfg),
            Some("192.168.1.242".parse().unwrap())
        );
        assert!(problems(&cfg).is_empty(), "{:?}", problems(&cfg));

        // The second pool entry is used once the first is full.
        let mut cfg = full();
        cfg.network.loadbalancer_pool = vec![
            "10.20.3.200-10.20.3.201".to_owned(),
            "10.20.3.224/28".to_owned(),
        ];
        cfg.apps
            .push(app("pihole", &[("dns_address", "10.20.3.201")]));
        assert_eq!(
            next_free_address(&cfg),
            Some("10.20.3.224".parse().unwrap())
        );
        cfg.network.loadbalancer_pool.truncate(1);
        assert_eq!(next_free_address(&cfg), None);
    }

    #[test]
    fn addresses_must_be_free_pool_addresses() {
        let mut cfg = example();
        cfg.apps
            .push(app("pihole", &[("dns_address", "192.168.1.240")]));
        let p = problems(&cfg);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            p[0].starts_with(
                "apps[0].settings.dns_address: 192.168.1.240 is network.ingress_address"
            ),
            "{p:?}"
        );
        assert!(
            p[0].contains("for example dns_address: 192.168.1.241"),
            "{p:?}"
        );

        cfg.apps[0]
            .settings
            .insert("dns_address".into(), "10.9.9.9".into());
        let p = problems(&cfg);
        assert!(
            p[0].contains("is not inside network.loadbalancer_pool (192.168.1.240-192.168.1.250)"),
            "{p:?}"
        );

        cfg.apps[0]
            .settings
            .insert("dns_address".into(), "dns.lan".into());
        assert!(
            problems(&cfg)[0].contains("is not an IPv4 address"),
            "{:?}",
            problems(&cfg)
        );

        cfg.apps[0].settings.remove("dns_address");
        let p = problems(&cfg);
        assert!(
            p[0].starts_with("apps[0].settings.dns_address: required"),
            "{p:?}"
        );
    }

    #[test]
    fn two_apps_share_an_address_only_when_both_opt_in_and_ports_differ() {
        let mut cfg = example();
        cfg.apps
            .push(app("pihole", &[("dns_address", "192.168.1.245")]));
        cfg.apps
            .push(app("syncthing", &[("sync_address", "192.168.1.245")]));
        let p = problems(&cfg);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].starts_with("apps[1].settings.sync_address: 192.168.1.245 is already the address of apps[0].settings.dns_address"), "{p:?}");
        assert!(p[0].contains("apps[1].settings.sync_address_shared: \"true\" and apps[0].settings.dns_address_shared: \"true\""), "{p:?}");

        // One side opting in is not enough.
        cfg.apps[0]
            .settings
            .insert("dns_address_shared".into(), "true".into());
        let p = problems(&cfg);
        assert!(
            p[0].contains("set apps[1].settings.sync_address_shared: \"true\" or"),
            "{p:?}"
        );

        // Both: DNS on 53 and sync on 22000 can share.
        cfg.apps[1]
            .settings
            .insert("sync_address_shared".into(), "true".into());
        assert!(problems(&cfg).is_empty(), "{:?}", problems(&cfg));

        // Two DNS servers on one address cannot, even when both opt in.
        cfg.apps.push(app(
            "adguard-home",
            &[
                ("dns_address", "192.168.1.245"),
                ("dns_address_shared", "true"),
            ],
        ));
        let p = problems(&cfg);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].starts_with("apps[2].settings.dns_address: 192.168.1.245 is already the address of apps[0].settings.dns_address: both use 53/TCP, 53/UDP"), "{p:?}");
    }

    #[test]
    fn envoy_gateway_serves_one_label_below_the_domain_only() {
        let cfg = full();
        assert_eq!(check_host(&cfg, "cloud.lab.example.org"), Ok(()));
        let deep = check_host(&cfg, "a.b.lab.example.org").unwrap_err();
        assert!(
            deep.contains("more than one label below lab.example.org"),
            "{deep}"
        );
        assert!(deep.contains("like b.lab.example.org"), "{deep}");
        let outside = check_host(&cfg, "start.other.org").unwrap_err();
        assert!(outside.contains("is outside lab.example.org"), "{outside}");
        assert!(outside.contains("ingress.controller: traefik"), "{outside}");
        assert!(check_host(&cfg, "lab.example.org").is_err());
        assert!(check_host(&cfg, "xlab.example.org").is_err());

        let mut cfg = cfg;
        cfg.apps.push(App {
            name: "homepage".into(),
            namespace: "homepage".into(),
            host: "home.other.org".into(),
            settings: BTreeMap::new(),
        });
        let p = problems(&cfg);
        assert!(
            p[0].starts_with("apps[0].host: home.other.org is outside"),
            "{p:?}"
        );

        // traefik gets a certificate per host.
        let mut traefik = example();
        traefik.apps = cfg.apps.clone();
        assert!(problems(&traefik).is_empty(), "{:?}", problems(&traefik));
    }

    #[test]
    fn the_local_class_is_a_class_name_other_than_the_nfs_one() {
        let mut cfg = example();
        cfg.storage.local_class = Some("local-path".into());
        assert!(problems(&cfg).is_empty());
        cfg.storage.local_class = Some("nfs".into());
        assert!(
            problems(&cfg)[0].starts_with("storage.local_class: \"nfs\" is storage.storage_class")
        );
        cfg.storage.local_class = Some("Local Path".into());
        assert!(problems(&cfg)[0].starts_with("storage.local_class: "));
    }

    #[test]
    fn ports_parse() {
        assert_eq!(parse_port("53/UDP"), Ok((53, "UDP".to_owned())));
        for bad in ["53", "0/TCP", "53/udp", "70000/TCP", "x/TCP"] {
            assert!(parse_port(bad).is_err(), "{bad}");
        }
    }
}
