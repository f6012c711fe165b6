//! "Obvious intent": answers typed into the wizard that mean one thing only, rewritten into
//! the form `homelab.yaml` requires (`Home.Example.com` → `home.example.com`,
//! `192.168.1.1/24` → `192.168.1.0/24`, `192.168.1.240-250` → `192.168.1.240-192.168.1.250`).
//!
//! Refusing such an answer only makes the user retype what they meant; guessing anything
//! less certain would write a homelab they did not ask for. Every rewrite here is one a
//! person would make without asking back, and the wizard shows the result. A file given to
//! `--config` never goes through this module: a file is checked, not guessed.
//!
//! Each function returns the rewritten answer; when nothing applies it returns the answer
//! trimmed, so the validators see it unchanged and explain what is wrong.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

/// A name (cluster, node, StorageClass): DNS names are lowercase, so `NUC1` means `nuc1`.
pub fn name(answer: &str) -> String {
    answer.trim().to_ascii_lowercase()
}

/// A domain: lowercase, a comma typed for a dot, no trailing dot (`Home,Example.com.`).
pub fn domain(answer: &str) -> String {
    let lower = answer.trim().to_ascii_lowercase().replace(',', ".");
    match lower.strip_suffix('.') {
        Some(stripped) if !stripped.is_empty() => stripped.to_owned(),
        _ => lower,
    }
}

/// A single IPv4 address, with commas typed for dots (`192,168,1,10`).
pub fn ipv4(answer: &str) -> String {
    let trimmed = answer.trim();
    commas_for_dots(trimmed)
        .filter(|fixed| fixed.parse::<Ipv4Addr>().is_ok())
        .unwrap_or_else(|| trimmed.to_owned())
}

/// A network in CIDR notation: host bits cleared (`192.168.1.1/24` is the network
/// `192.168.1.0/24` written from one of its addresses), commas typed for dots.
pub fn cidr(answer: &str) -> String {
    let trimmed = answer.trim();
    let text = commas_for_dots(trimmed).unwrap_or_else(|| trimmed.to_owned());
    match text.parse::<Ipv4Net>() {
        Ok(net) => net.trunc().to_string(),
        Err(_) => trimmed.to_owned(),
    }
}

/// The load-balancer pool: entries separated by commas or spaces, each a range or a CIDR.
/// A range may abbreviate its end to the last octets (`192.168.1.240-250`), spaces around
/// the dash are dropped, and a CIDR's host bits cleared. An answer without any dot but with
/// commas has commas for dots (`192,168,1,240-192,168,1,250`): an address always has dots.
pub fn pool(answer: &str) -> Vec<String> {
    let trimmed = answer.trim();
    let text = if !trimmed.contains('.') && trimmed.contains(',') {
        trimmed.replace(',', ".")
    } else {
        trimmed.to_owned()
    };
    // `a - b` is one range, not three entries.
    let mut joined = text.replace(" -", "-").replace("- ", "-");
    while joined.contains(" -") || joined.contains("- ") {
        joined = joined.replace(" -", "-").replace("- ", "-");
    }
    joined
        .split([',', ' ', '\t'])
        .filter(|e| !e.is_empty())
        .map(pool_entry)
        .collect()
}

fn pool_entry(entry: &str) -> String {
    if let Some((start, end)) = entry.split_once('-')
        && let Ok(first) = start.parse::<Ipv4Addr>()
        && end.parse::<Ipv4Addr>().is_err()
        && let Some(last) = complete_address(first, end)
    {
        return format!("{first}-{last}");
    }
    if entry.contains('/')
        && let Ok(net) = entry.parse::<Ipv4Net>()
    {
        return net.trunc().to_string();
    }
    entry.to_owned()
}

/// `250` after `192.168.1.240` is `192.168.1.250`; `2.10` is `192.168.2.10`.
fn complete_address(first: Ipv4Addr, tail: &str) -> Option<Ipv4Addr> {
    let parts: Vec<&str> = tail.split('.').collect();
    if parts.is_empty() || parts.len() > 3 {
        return None;
    }
    let mut octets = first.octets();
    let offset = 4 - parts.len();
    for (i, part) in parts.iter().enumerate() {
        if part.is_empty() || part.len() > 3 || !part.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        octets[offset + i] = part.parse().ok()?;
    }
    Some(Ipv4Addr::from(octets))
}

/// The NFS server, and the export path when it was typed as `server:/path` (the notation of
/// `mount` and `/etc/fstab`). Hostnames are lowercase; an address may have commas for dots.
pub fn nfs_server(answer: &str) -> (String, Option<String>) {
    let trimmed = answer.trim();
    let (server, path) = match trimmed.split_once(":/") {
        Some((server, rest)) if !server.is_empty() => (server, Some(format!("/{rest}"))),
        _ => (trimmed, None),
    };
    (host(server), path)
}

/// A host to connect to: an IPv4 address (commas for dots) or a lowercase hostname.
pub fn host(answer: &str) -> String {
    let fixed = ipv4(answer);
    if fixed.parse::<Ipv4Addr>().is_ok() {
        fixed
    } else {
        fixed.to_ascii_lowercase()
    }
}

/// An email address: the domain after `@` is lowercase (the part before it may be
/// case-sensitive, so it stays as typed).
pub fn email(answer: &str) -> String {
    let trimmed = answer.trim();
    match trimmed.rsplit_once('@') {
        Some((local, domain)) => format!("{local}@{}", domain.to_ascii_lowercase()),
        None => trimmed.to_owned(),
    }
}

/// Text with its commas turned into dots, when it has any and no dot (an address or network
/// typed on a keypad with a decimal comma).
fn commas_for_dots(text: &str) -> Option<String> {
    (text.contains(',') && !text.contains('.')).then(|| text.replace(',', "."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_lowercased() {
        assert_eq!(name(" NUC1 "), "nuc1");
        assert_eq!(name("homelab"), "homelab");
        // Anything beyond case is for the validator to explain.
        assert_eq!(name("my lab"), "my lab");
    }

    #[test]
    fn domains_are_lowercased_with_dots() {
        assert_eq!(domain("Home.Example.com"), "home.example.com");
        assert_eq!(domain("home,example,com"), "home.example.com");
        assert_eq!(domain("lab.example.com."), "lab.example.com");
        assert_eq!(domain("."), ".");
        assert_eq!(domain("  lab.example.com "), "lab.example.com");
    }

    #[test]
    fn addresses_take_commas_for_dots() {
        assert_eq!(ipv4("192,168,1,10"), "192.168.1.10");
        assert_eq!(ipv4(" 192.168.1.10 "), "192.168.1.10");
        // Not an address either way: left for the validator.
        assert_eq!(ipv4("192,168,1"), "192,168,1");
        assert_eq!(ipv4("192.168,1,10"), "192.168,1,10");
        assert_eq!(ipv4("nas"), "nas");
    }

    #[test]
    fn networks_lose_their_host_bits() {
        assert_eq!(cidr("192.168.1.1/24"), "192.168.1.0/24");
        assert_eq!(cidr("10.1.2.3/8"), "10.0.0.0/8");
        assert_eq!(cidr("192,168,1,0/24"), "192.168.1.0/24");
        assert_eq!(cidr("192.168.1.0/24"), "192.168.1.0/24");
        // No prefix is not obvious (a /24? a /16?): the validator suggests one.
        assert_eq!(cidr("192.168.1.0"), "192.168.1.0");
        assert_eq!(cidr("192.168.1.0/33"), "192.168.1.0/33");
    }

    #[test]
    fn pools_complete_short_ranges() {
        assert_eq!(pool("192.168.1.240-250"), ["192.168.1.240-192.168.1.250"]);
        assert_eq!(pool("10.0.1.250-2.10"), ["10.0.1.250-10.0.2.10"]);
        assert_eq!(
            pool("192.168.1.240 - 192.168.1.250"),
            ["192.168.1.240-192.168.1.250"]
        );
        assert_eq!(
            pool("192.168.1.240-250, 192.168.1.17/28"),
            ["192.168.1.240-192.168.1.250", "192.168.1.16/28"]
        );
        assert_eq!(pool("192,168,1,240-250"), ["192.168.1.240-192.168.1.250"]);
        assert_eq!(
            pool("192.168.1.240-192.168.1.250 192.168.1.200/30"),
            ["192.168.1.240-192.168.1.250", "192.168.1.200/30"]
        );
        assert!(pool("  ").is_empty());
        // Not a range by any reading: left for the validator.
        assert_eq!(pool("192.168.1.240-x"), ["192.168.1.240-x"]);
        assert_eq!(pool("192.168.1.240-1.2.3.4.5"), ["192.168.1.240-1.2.3.4.5"]);
        assert_eq!(pool("192.168.1.240-2500"), ["192.168.1.240-2500"]);
    }

    #[test]
    fn nfs_server_and_path_typed_together_are_split() {
        assert_eq!(
            nfs_server("nas:/volume1/k8s"),
            ("nas".to_owned(), Some("/volume1/k8s".to_owned()))
        );
        assert_eq!(
            nfs_server("192.168.1.5:/srv/nfs"),
            ("192.168.1.5".to_owned(), Some("/srv/nfs".to_owned()))
        );
        assert_eq!(nfs_server("NAS.lan"), ("nas.lan".to_owned(), None));
        assert_eq!(nfs_server("192,168,1,5"), ("192.168.1.5".to_owned(), None));
        assert_eq!(nfs_server(":/srv"), (":/srv".to_owned(), None));
    }

    #[test]
    fn email_domains_are_lowercased() {
        assert_eq!(email(" Me@Example.COM "), "Me@example.com");
        assert_eq!(email("no-at-sign"), "no-at-sign");
    }
}
