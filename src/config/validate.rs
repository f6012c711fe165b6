//! Loading and validating `homelab.yaml`: every rule, every error at once, with key paths.
//!
//! `homelab.yaml` is the single source of truth, so a mistake in it must be caught here,
//! before anything is rendered, committed or applied. Parsing happens in three passes so
//! that a user sees every problem in one run instead of fixing them one at a time:
//!
//! 1. YAML syntax (with line and column),
//! 2. structure: the generic YAML tree is walked against the schema derived from the model
//!    ([`crate::config::schema`]), which reports every unknown key (with a did-you-mean),
//!    wrong type, missing key and invalid enum value with its key path,
//! 3. semantics ([`validate_with`]): names, addresses, overlaps, cross-field rules; the
//!    rules that need the app catalog come from `catalog`, which sits above config, and
//!    `catalog::load_config` is the loader every command uses.
//!
//! The one-field validators in [`field`] are shared with the interactive wizard, which
//! re-asks a question when one of them returns an error.

use std::collections::BTreeMap;
use std::fmt;
use std::net::Ipv4Addr;
use std::path::Path;

use ipnet::Ipv4Net;
use serde_json::Value;

use crate::config::{
    Challenge, Choice, Config, DnsProvider, FLUX_COMPONENTS, IngressController, NodeRole,
    REQUIRED_FLUX_COMPONENTS, SUPPORTED_VERSIONS,
};
use crate::error::{Error, Result};
use crate::text::Shown;

/// One problem in `homelab.yaml`: where (a key path like `nodes[1].address`) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub path: String,
    pub message: String,
}

impl Diagnostic {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// The path used for problems that concern the whole document.
const TOP: &str = "(top level)";

/// The YAML of `homelab.yaml` as a generic tree, read as [`parse`] reads it: the document
/// the structure pass and the JSON Schema check. On a syntax error, its diagnostic.
pub fn yaml_value(text: &str) -> std::result::Result<Value, Diagnostic> {
    let mut options = serde_saphyr::Options::default();
    // YAML 1.1 spellings (`yes`, `off`) as booleans and `0755` as octal surprise people:
    // keep them strings so the schema pass can say what was expected.
    options.strict_booleans = true;
    options.leading_zero_numbers_as_strings = true;
    serde_saphyr::from_str_with_options(text, options).map_err(|e| syntax_diagnostic(&e))
}

/// Rules of `homelab.yaml` that need more than its model: the app catalog's, which sits
/// above config (`catalog::rules`). [`validate_with`] runs them after the model's own rules,
/// into the same report. `&|_, _| {}` checks the model alone.
pub type Rules<'a> = &'a dyn Fn(&Config, &mut Diagnostics);

/// Parse `homelab.yaml` text into a [`Config`] and validate it with the model's rules and
/// `rules`; on failure, every problem.
pub fn parse_with(text: &str, rules: Rules<'_>) -> std::result::Result<Config, Vec<Diagnostic>> {
    let mut value = yaml_value(text).map_err(|d| vec![d])?;

    let mut diags = Vec::new();
    match &mut value {
        Value::Object(_) => structure::check(&mut value, &mut diags),
        Value::Null => diags.push(Diagnostic::new(
            TOP,
            "the file is empty; expected the settings of a homelab (see examples/homelab.yaml)",
        )),
        other => diags.push(Diagnostic::new(
            TOP,
            format!("expected a mapping of settings, found {}", describe(other)),
        )),
    }
    if !diags.is_empty() {
        return Err(diags);
    }

    let cfg: Config =
        serde_json::from_value(value).map_err(|e| vec![Diagnostic::new(TOP, e.to_string())])?;
    let diags = validate_with(&cfg, rules);
    if diags.is_empty() {
        Ok(cfg)
    } else {
        Err(diags)
    }
}

/// Read `<dir>/homelab.yaml` (or the file itself) and parse it (see [`parse_with`]).
///
/// Every problem is reported in one usage error, one `<key path>: <message>` per line.
pub fn load_with(dir_or_file: &Path, rules: Rules<'_>) -> Result<Config> {
    // A path that does not exist is a directory unless it names a YAML file, so that a
    // wrong `--dir` reports the homelab.yaml it looked for.
    let names_yaml = dir_or_file
        .extension()
        .is_some_and(|e| e == "yaml" || e == "yml");
    let file = if dir_or_file.is_dir() || (!dir_or_file.exists() && !names_yaml) {
        dir_or_file.join(crate::config::CONFIG_FILE)
    } else {
        dir_or_file.to_path_buf()
    };
    let text = match std::fs::read_to_string(&file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::usage(format!("{} not found", file.display()))
                .with_hint("run `homelab init` to create it, or pass --dir <repository>"));
        }
        Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
            return Err(
                Error::usage(format!("{} is not UTF-8 text", file.display()))
                    .with_hint("save the file as UTF-8"),
            );
        }
        Err(e) => {
            return Err(Error::failed(format!(
                "cannot read {}: {e}",
                file.display()
            )));
        }
    };
    parse_with(&text, rules).map_err(|diags| invalid(&file, &diags))
}

/// The error for a `homelab.yaml`-shaped `file` with problems, whichever command read it.
pub fn invalid(file: &Path, diags: &[Diagnostic]) -> Error {
    let count = if diags.len() == 1 {
        "1 problem".to_owned()
    } else {
        format!("{} problems", diags.len())
    };
    let lines: Vec<String> = diags.iter().map(ToString::to_string).collect();
    Error::usage(format!(
        "{} is not valid ({count}):\n{}",
        file.display(),
        lines.join("\n")
    ))
    .with_hint(format!(
        "fix each key listed above in {}, then run the command again; the configuration reference documents every key",
        file.display()
    ))
}

/// Serialize a configuration as `homelab.yaml`: keys in the model's order, ending with a
/// newline. For a valid `cfg`, `parse(&to_yaml(cfg)) == Ok(cfg)`.
pub fn to_yaml(cfg: &Config) -> String {
    // The model holds only strings, numbers, booleans, lists and string maps: it always
    // serializes.
    let mut text = serde_saphyr::to_string(cfg).expect("the configuration model serializes");
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text
}

fn syntax_diagnostic(e: &serde_saphyr::Error) -> Diagnostic {
    let mut message = e.without_snippet().to_string();
    let path = match e.location() {
        Some(loc) => {
            // The library appends the location to the message; it is in the path already.
            let suffix = format!(" at line {}, column {}", loc.line(), loc.column());
            if let Some(stripped) = message.strip_suffix(&suffix) {
                message = stripped.to_owned();
            }
            format!("line {}, column {}", loc.line(), loc.column())
        }
        None => TOP.to_owned(),
    };
    if let Some(rest) = message.strip_prefix("duplicate mapping key: ") {
        let key = rest
            .split(", set DuplicateKeyPolicy")
            .next()
            .unwrap_or(rest);
        message = format!("duplicate key {key}; each key may appear once");
    } else if message.starts_with("multiple YAML documents detected") {
        message = "more than one YAML document; homelab.yaml holds exactly one".to_owned();
    } else if let Some(breach) = message.strip_prefix("budget breached: ") {
        // The parser's limits on nodes, aliases and nesting stop YAML bombs; a real
        // homelab.yaml is a few hundred nodes.
        message = format!(
            "the file is far larger or deeper than any homelab.yaml ({breach}); look for a pasted block, a long generated list or an alias (*name) repeated many times, and keep only the settings of your homelab"
        );
    }
    Diagnostic::new(path, format!("YAML syntax error: {message}"))
}

// ---------------------------------------------------------------------------------------
// Helpers of the structure pass and the rules.

/// `path.key`, with a key that is not a plain word shown quoted, escaped and bounded, so a
/// key path in a message can neither hide characters nor run on for megabytes.
pub fn join(path: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key.len() <= crate::text::SHOWN_CHARS
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c));
    let key = if plain {
        key.to_owned()
    } else {
        Shown(key).to_string()
    };
    if path.is_empty() {
        key
    } else {
        format!("{path}.{key}")
    }
}

/// What a YAML value is, in words, for "expected X, found Y".
fn describe(v: &Value) -> String {
    match v {
        Value::Null => "an empty value".to_owned(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the string {}", Shown(s)),
        Value::Array(_) => "a list".to_owned(),
        Value::Object(_) => "a mapping".to_owned(),
    }
}

/// The closest of `candidates` to `input`, if it is close enough to be a likely typo.
pub fn did_you_mean<'a>(
    input: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let input = input.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(&input, c), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

// ---------------------------------------------------------------------------------------
// Semantics.

/// An inclusive range of IPv4 addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Range {
    start: u32,
    end: u32,
}

impl Range {
    fn of_net(net: Ipv4Net) -> Self {
        Self {
            start: net.network().into(),
            end: net.broadcast().into(),
        }
    }
    fn contains(self, ip: Ipv4Addr) -> bool {
        (self.start..=self.end).contains(&u32::from(ip))
    }
    fn overlaps(self, other: Range) -> bool {
        self.start <= other.end && other.start <= self.end
    }
    fn within(self, outer: Range) -> bool {
        outer.start <= self.start && self.end <= outer.end
    }
}

/// Every semantic rule of the model, then `rules`; empty when the configuration is valid.
pub fn validate_with(cfg: &Config, rules: Rules<'_>) -> Vec<Diagnostic> {
    let hidden = hidden_characters(cfg);
    let mut d = Diagnostics::default();

    if !SUPPORTED_VERSIONS.contains(&cfg.version) {
        let supported: Vec<String> = SUPPORTED_VERSIONS.iter().map(u32::to_string).collect();
        d.push(
            "version",
            format!(
                "{} is not supported; this homelab understands version {}",
                cfg.version,
                supported.join(", ")
            ),
        );
    }

    d.check("cluster.name", field::dns_label(&cfg.cluster.name));
    d.check("cluster.domain", field::domain(&cfg.cluster.domain));

    // The network is needed by the node checks, which come first in the file: parse it
    // quietly here, report its problems in file order below.
    let node_net = field::cidr(&cfg.network.node_cidr)
        .ok()
        .filter(|n| (MIN_NODE_PREFIX..=30).contains(&n.prefix_len()));
    let pool: Vec<Option<Range>> = cfg
        .network
        .loadbalancer_pool
        .iter()
        .map(|e| {
            field::pool_range(e).ok().map(|(a, b)| Range {
                start: a.into(),
                end: b.into(),
            })
        })
        .collect();
    let in_pool = |ip: Ipv4Addr| pool.iter().flatten().any(|r| r.contains(ip));

    validate_nodes(cfg, node_net, &in_pool, &mut d);
    validate_network(cfg, node_net, &pool, &in_pool, &mut d);
    validate_certificates(cfg, &mut d);

    d.check(
        "storage.nfs_server",
        field::host_or_ipv4(&cfg.storage.nfs_server),
    );
    d.check(
        "storage.nfs_path",
        field::absolute_path(&cfg.storage.nfs_path),
    );
    d.check(
        "storage.storage_class",
        field::dns_subdomain(&cfg.storage.storage_class),
    );

    d.check("git.url", field::git_url(&cfg.git.url));
    d.check("git.branch", field::branch(&cfg.git.branch));

    validate_flux(cfg, &mut d);
    charts::validate_charts(cfg, &mut d);
    rules(cfg, &mut d);

    // A value holding a hidden character is reported for that alone: the rules of its
    // field would only say less clearly that it is wrong.
    let hidden_paths: std::collections::BTreeSet<String> =
        hidden.iter().map(|h| h.path.clone()).collect();
    let mut out = hidden;
    out.extend(
        d.0.into_iter()
            .filter(|diag| !hidden_paths.contains(&diag.path)),
    );
    out
}

/// Every string of the configuration, keys included, that holds a character YAML 1.1
/// parsers break lines at or that nobody can see (see [`crate::text::is_hidden`]). Run on
/// the model, so it covers every key there is, whoever built the configuration.
fn hidden_characters(cfg: &Config) -> Vec<Diagnostic> {
    fn walk(value: &Value, path: &str, out: &mut Vec<Diagnostic>) {
        match value {
            Value::String(s) => {
                if let Err(message) = crate::text::check_visible(s) {
                    out.push(Diagnostic::new(path, message));
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    walk(item, &format!("{path}[{i}]"), out);
                }
            }
            Value::Object(map) => {
                for (key, item) in map {
                    let child = join(path, key);
                    if let Err(message) = crate::text::check_visible(key) {
                        out.push(Diagnostic::new(&child, format!("the key {message}")));
                    }
                    walk(item, &child, out);
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }
    let mut out = Vec::new();
    // The model holds only strings, numbers, booleans, lists and string maps.
    let value = serde_json::to_value(cfg).unwrap_or(Value::Null);
    walk(&value, "", &mut out);
    out
}

/// The problems found so far, in the order the rules ran.
#[derive(Debug, Default)]
pub struct Diagnostics(Vec<Diagnostic>);

impl Diagnostics {
    pub fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(Diagnostic::new(path, message));
    }
    /// Record a field validator's error, if any; true when the field is valid.
    pub fn check<T>(
        &mut self,
        path: impl Into<String>,
        result: std::result::Result<T, String>,
    ) -> bool {
        match result {
            Ok(_) => true,
            Err(message) => {
                self.push(path, message);
                false
            }
        }
    }
}

fn validate_nodes(
    cfg: &Config,
    node_net: Option<Ipv4Net>,
    in_pool: &dyn Fn(Ipv4Addr) -> bool,
    d: &mut Diagnostics,
) {
    if cfg.nodes.is_empty() {
        d.push("nodes", "at least one node is required");
    } else if !cfg.nodes.iter().any(|n| n.role == NodeRole::ControlPlane) {
        d.push(
            "nodes",
            "no node has role control-plane; set `role: control-plane` on at least one node",
        );
    }
    let mut names: BTreeMap<&str, usize> = BTreeMap::new();
    let mut addresses: BTreeMap<Ipv4Addr, usize> = BTreeMap::new();
    for (i, node) in cfg.nodes.iter().enumerate() {
        let name_path = format!("nodes[{i}].name");
        if d.check(&name_path, field::dns_subdomain(&node.name)) {
            if let Some(first) = names.get(node.name.as_str()) {
                d.push(
                    name_path,
                    format!("{:?} is already used by nodes[{first}]", node.name),
                );
            } else {
                names.insert(&node.name, i);
            }
        }
        let addr_path = format!("nodes[{i}].address");
        if !d.check(&addr_path, field::ipv4(&node.address)) {
            continue;
        }
        let ip = parse_ip(&node.address);
        if let Some(net) = node_net
            && let Some(problem) = outside_or_reserved(ip, net)
        {
            d.push(&addr_path, problem);
        }
        if in_pool(ip) {
            d.push(
                &addr_path,
                format!("{ip} is inside network.loadbalancer_pool"),
            );
        }
        if let Some(first) = addresses.get(&ip) {
            d.push(addr_path, format!("{ip} is already used by nodes[{first}]"));
        } else {
            addresses.insert(ip, i);
        }
    }
}

/// Why `ip` cannot be a host address on `net`, if it cannot.
fn outside_or_reserved(ip: Ipv4Addr, net: Ipv4Net) -> Option<String> {
    if !net.contains(&ip) {
        Some(format!("{ip} is outside network.node_cidr {net}"))
    } else if ip == net.network() {
        Some(format!(
            "{ip} is the network address of network.node_cidr {net}, not a host address"
        ))
    } else if ip == net.broadcast() {
        Some(format!(
            "{ip} is the broadcast address of network.node_cidr {net}, not a host address"
        ))
    } else {
        None
    }
}

/// An address `field::ipv4` has accepted.
fn parse_ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap_or(Ipv4Addr::UNSPECIFIED)
}

/// The widest node network accepted: a /8 is already a whole private range; anything wider
/// (up to `0.0.0.0/0`) would make every address "on the LAN" and every check meaningless.
const MIN_NODE_PREFIX: u8 = 8;

fn validate_network(
    cfg: &Config,
    node_net: Option<Ipv4Net>,
    pool: &[Option<Range>],
    in_pool: &dyn Fn(Ipv4Addr) -> bool,
    d: &mut Diagnostics,
) {
    let net = &cfg.network;
    if let Ok(parsed) = field::cidr(&net.node_cidr) {
        if parsed.prefix_len() < MIN_NODE_PREFIX {
            d.push(
                "network.node_cidr",
                format!(
                    "{parsed} spans {} addresses, far more than a network of machines; use the prefix of your LAN (often /24, like 192.168.1.0/24), /{MIN_NODE_PREFIX} at the widest",
                    1u64 << (32 - parsed.prefix_len())
                ),
            );
        } else if parsed.prefix_len() > 30 {
            d.push(
                "network.node_cidr",
                format!(
                    "{parsed} has no room for nodes and load-balancer addresses; use a prefix of /30 or shorter, like {}",
                    Ipv4Net::new(parsed.network(), 24)
                        .map(|n| n.trunc().to_string())
                        .unwrap_or_default()
                ),
            );
        }
    } else {
        d.check("network.node_cidr", field::cidr(&net.node_cidr));
    }

    if net.loadbalancer_pool.is_empty() {
        d.push(
            "network.loadbalancer_pool",
            "must list at least one address range (like 192.168.1.240-192.168.1.250) or CIDR",
        );
    }
    let overlaps = overlapping(pool);
    for (i, entry) in net.loadbalancer_pool.iter().enumerate() {
        let path = format!("network.loadbalancer_pool[{i}]");
        let Some(range) = pool[i] else {
            d.check(&path, field::pool_entry(entry));
            continue;
        };
        if let Some(node_net) = node_net {
            let outer = Range::of_net(node_net);
            if !range.within(outer) {
                d.push(
                    &path,
                    format!(
                        "{entry} is not inside network.node_cidr {node_net}; MetalLB (layer 2) can only announce addresses of the nodes' network"
                    ),
                );
            } else if range.contains(node_net.network()) {
                d.push(
                    &path,
                    format!(
                        "{entry} includes {}, the network address of network.node_cidr",
                        node_net.network()
                    ),
                );
            } else if range.contains(node_net.broadcast()) {
                d.push(
                    &path,
                    format!(
                        "{entry} includes {}, the broadcast address of network.node_cidr",
                        node_net.broadcast()
                    ),
                );
            }
        }
        for &j in overlaps.get(&i).into_iter().flatten() {
            d.push(
                &path,
                format!(
                    "{entry} overlaps network.loadbalancer_pool[{j}] {}",
                    net.loadbalancer_pool[j]
                ),
            );
        }
    }

    let path = "network.ingress_address";
    if d.check(path, field::ipv4(&net.ingress_address)) {
        let ip = parse_ip(&net.ingress_address);
        if let Some(node_net) = node_net
            && let Some(problem) = outside_or_reserved(ip, node_net)
        {
            d.push(path, problem);
        }
        if !pool.is_empty() && pool.iter().all(Option::is_some) && !in_pool(ip) {
            d.push(
                path,
                format!(
                    "{ip} is not inside network.loadbalancer_pool; MetalLB only assigns addresses from the pool"
                ),
            );
        }
    }
}

/// Overlapping pool entries, as `later index → earlier indexes`: sorted by start and swept
/// once, so a pool of 100,000 entries is checked in well under a second. Each overlap is
/// found through the entry reaching furthest so far, which is enough to point at it.
fn overlapping(pool: &[Option<Range>]) -> BTreeMap<usize, Vec<usize>> {
    let mut sorted: Vec<(Range, usize)> = pool
        .iter()
        .enumerate()
        .filter_map(|(i, r)| r.map(|r| (r, i)))
        .collect();
    sorted.sort_by_key(|(r, i)| (r.start, *i));
    let mut out: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    let mut reach: Option<(Range, usize)> = None;
    for (range, i) in sorted {
        if let Some((far, j)) = reach
            && far.overlaps(range)
        {
            out.entry(i.max(j)).or_default().push(i.min(j));
        }
        if reach.is_none_or(|(far, _)| range.end > far.end) {
            reach = Some((range, i));
        }
    }
    for earlier in out.values_mut() {
        earlier.sort_unstable();
    }
    out
}

/// Whether a `dns_settings` or app-settings key names a secret.
pub fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    [
        "token",
        "secret",
        "password",
        "passwd",
        "apikey",
        "api_key",
        "private",
        "credential",
    ]
    .iter()
    .any(|w| key.contains(w))
        || key == "key"
        || key.ends_with("_key")
        || key.ends_with("-key")
}

fn validate_certificates(cfg: &Config, d: &mut Diagnostics) {
    let certs = &cfg.certificates;
    d.check("certificates.email", field::email(&certs.email));
    // Envoy Gateway serves every app through one HTTPS listener with a wildcard
    // certificate, and HTTP-01 cannot issue wildcards: the pair would render a homelab
    // without working HTTPS.
    if certs.challenge == Challenge::Http01
        && cfg.ingress.controller == IngressController::EnvoyGateway
    {
        d.push(
            "certificates.challenge",
            "http01 cannot issue the wildcard certificate the envoy-gateway Gateway serves; use dns01 or selfsigned, or ingress.controller: traefik".to_owned(),
        );
    }
    let provider = certs.dns_provider;
    let dns01 = certs.challenge == Challenge::Dns01;
    for (key, value) in &certs.dns_settings {
        let path = join("certificates.dns_settings", key);
        if is_secret_key(key) {
            let fix = if dns01 {
                format!(
                    "remove it and export {} when running `homelab bootstrap`",
                    provider.credential_env().join(" and ")
                )
            } else {
                "remove it: DNS credentials are only used with challenge dns01".to_owned()
            };
            d.push(
                path,
                format!(
                    "looks like a secret, and secrets never go in homelab.yaml (it is committed to git); {fix}"
                ),
            );
            continue;
        }
        if !dns01 {
            continue;
        }
        if !provider.allowed_settings().contains(&key.as_str()) {
            let allowed = provider.allowed_settings();
            let message = match did_you_mean(key, allowed.iter().copied()) {
                Some(best) => format!("not a {} setting; did you mean {best}?", provider.as_str()),
                None if allowed.is_empty() => {
                    format!(
                        "not a {} setting; {} takes no settings",
                        provider.as_str(),
                        provider.as_str()
                    )
                }
                None => format!(
                    "not a {} setting; it accepts {}",
                    provider.as_str(),
                    allowed.join(", ")
                ),
            };
            d.push(path, message);
            continue;
        }
        d.check(path, dns_setting(provider, key, value));
    }
    if dns01 {
        for key in provider.required_settings() {
            if !certs.dns_settings.contains_key(key) {
                d.push(
                    format!("certificates.dns_settings.{key}"),
                    format!(
                        "required by dns_provider {} with challenge dns01; add it",
                        provider.as_str()
                    ),
                );
            }
        }
    }
}

/// A setting's value, checked by the rule of its provider's table row.
fn dns_setting(provider: DnsProvider, key: &str, value: &str) -> std::result::Result<(), String> {
    if value.is_empty() {
        return Err("must not be empty".to_owned());
    }
    match provider.spec().setting(key) {
        Some(setting) => (setting.check)(value),
        None => Ok(()),
    }
}

fn validate_flux(cfg: &Config, d: &mut Diagnostics) {
    d.check("flux.version", field::flux_version(&cfg.flux.version));
    let components = &cfg.flux.components;
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, c) in components.iter().enumerate() {
        let path = format!("flux.components[{i}]");
        if !FLUX_COMPONENTS.contains(&c.as_str()) {
            let message = match did_you_mean(c, FLUX_COMPONENTS.iter().copied()) {
                Some(best) => format!("{} is not a Flux component; did you mean {best}?", Shown(c)),
                None => format!(
                    "{} is not a Flux component; known: {}",
                    Shown(c),
                    FLUX_COMPONENTS.join(", ")
                ),
            };
            d.push(path, message);
        } else if let Some(first) = seen.get(c.as_str()) {
            d.push(
                path,
                format!("{c:?} is already listed at flux.components[{first}]"),
            );
        } else {
            seen.insert(c, i);
        }
    }
    for required in REQUIRED_FLUX_COMPONENTS {
        if !components.iter().any(|c| c == required) {
            let why = if *required == "helm-controller" {
                "every infrastructure controller is installed by a HelmRelease"
            } else {
                "Flux cannot sync the repository without it"
            };
            d.push("flux.components", format!("must include {required}: {why}"));
        }
    }
}

/// A free range for MetalLB near the top of `node_cidr` that no node address falls in,
/// e.g. `192.168.1.240-192.168.1.250` for `192.168.1.0/24`; `None` when the network is too
/// small or full. The top few addresses are left alone: routers often sit there.
pub fn suggest_pool<S: AsRef<str>>(node_cidr: &str, node_addresses: &[S]) -> Option<String> {
    let net: Ipv4Net = node_cidr.trim().parse().ok()?;
    let net = net.trunc();
    if net.prefix_len() > 28 {
        return None;
    }
    let first_host = u32::from(net.network()) + 1;
    let last_host = u32::from(net.broadcast()) - 1;
    let hosts = last_host - first_host + 1;
    let size = (hosts / 8).clamp(1, 11);
    let nodes: Vec<u32> = node_addresses
        .iter()
        .filter_map(|a| a.as_ref().trim().parse::<Ipv4Addr>().ok())
        .map(u32::from)
        .collect();
    let mut end = last_host.checked_sub(4)?;
    loop {
        let start = end.checked_sub(size - 1)?;
        if start < first_host {
            return None;
        }
        match nodes.iter().filter(|n| (start..=end).contains(n)).min() {
            Some(lowest) => end = lowest.checked_sub(1)?,
            None => {
                return Some(format!("{}-{}", Ipv4Addr::from(start), Ipv4Addr::from(end)));
            }
        }
    }
}

/// One-field validators. Each returns the problem as a sentence that names the value and
/// how to fix it; callers add the key path.
pub mod field {
    use std::net::Ipv4Addr;

    use crate::text::{Bare, Shown};

    use ipnet::Ipv4Net;

    /// Turn arbitrary text into the DNS label it was probably meant to be.
    fn sanitize(s: &str) -> String {
        let mapped: String = s
            .to_ascii_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        let mut out = String::new();
        for c in mapped.chars() {
            if !(c == '-' && out.ends_with('-')) {
                out.push(c);
            }
        }
        out.trim_matches('-').to_owned()
    }

    fn label_ok(s: &str) -> bool {
        !s.is_empty()
            && s.len() <= 63
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !s.starts_with('-')
            && !s.ends_with('-')
    }

    /// A DNS-1123 label: 1-63 lowercase letters, digits and '-', alphanumeric at both ends.
    pub fn dns_label(s: &str) -> Result<(), String> {
        let q = Shown(s);
        if s.is_empty() {
            return Err("must not be empty".to_owned());
        }
        if s.len() > 63 {
            return Err(format!(
                "{q} is {} characters long; a DNS label has at most 63",
                s.len()
            ));
        }
        if label_ok(s) {
            return Ok(());
        }
        let mut message = format!(
            "{q} is not a DNS label: use lowercase letters, digits and '-', starting and ending with a letter or digit"
        );
        let fixed = sanitize(s);
        if label_ok(&fixed) {
            message.push_str(&format!("; did you mean {}?", Shown(&fixed)));
        }
        Err(message)
    }

    /// A DNS-1123 subdomain: lowercase labels joined by '.', at most 253 characters.
    pub fn dns_subdomain(s: &str) -> Result<(), String> {
        let q = Shown(s);
        if s.is_empty() {
            return Err("must not be empty".to_owned());
        }
        if s.len() > 253 {
            return Err(format!(
                "{q} is {} characters long; a DNS name has at most 253",
                s.len()
            ));
        }
        if s.split('.').all(label_ok) {
            return Ok(());
        }
        let mut message = format!(
            "{q} is not a DNS-1123 name: use lowercase letters, digits, '-' and '.', each part starting and ending with a letter or digit"
        );
        let fixed: Vec<String> = s.split('.').map(sanitize).collect();
        let fixed = fixed.join(".");
        if fixed.split('.').all(label_ok) {
            message.push_str(&format!("; did you mean {}?", Shown(&fixed)));
        }
        Err(message)
    }

    /// A DNS domain for apps: a DNS-1123 subdomain of at least two labels, not an address.
    pub fn domain(s: &str) -> Result<(), String> {
        let q = Shown(s);
        let bare = Bare(s);
        if s.ends_with('.') && s.len() > 1 {
            return Err(format!(
                "{q} ends with '.'; write it without the trailing dot: {}",
                Shown(&s[..s.len() - 1])
            ));
        }
        if s.parse::<Ipv4Addr>().is_ok() {
            return Err(format!(
                "{q} is an IP address; expected a domain name like home.example.com"
            ));
        }
        dns_subdomain(s)
            .map_err(|e| e.replace("is not a DNS-1123 name", "is not a valid domain"))?;
        if !s.contains('.') {
            return Err(format!(
                "{q} has a single label; use a domain with at least two, like {bare}.home.arpa or example.com"
            ));
        }
        let tld = s.rsplit('.').next().unwrap_or_default();
        if tld.chars().all(|c| c.is_ascii_digit()) {
            return Err(format!(
                "{q} ends in a numeric label; a domain's last label has letters"
            ));
        }
        Ok(())
    }

    /// An email address (for the ACME account): `local@domain`.
    pub fn email(s: &str) -> Result<(), String> {
        let q = Shown(s);
        let invalid = |why: &str| Err(format!("{q} is not a valid email address: {why}"));
        if s.is_empty() {
            return Err("must not be empty".to_owned());
        }
        let Some((local, domain_part)) = s.rsplit_once('@') else {
            return invalid("it has no '@'");
        };
        if local.is_empty() || local.len() > 64 {
            return invalid("the part before '@' must have 1 to 64 characters");
        }
        let local_ok = local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c))
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..");
        if !local_ok {
            return invalid("the part before '@' has characters an address cannot have");
        }
        if domain(&domain_part.to_ascii_lowercase()).is_err() {
            return invalid("the part after '@' is not a domain like example.com");
        }
        Ok(())
    }

    /// A single IPv4 host address (not unspecified, multicast or broadcast). Loopback is
    /// allowed: it is how a one-machine lab (and the test suite) reaches its own services.
    pub fn ipv4(s: &str) -> Result<(), String> {
        let q = Shown(s);
        let bare = Bare(s);
        let ip: Ipv4Addr = match s.parse() {
            Ok(ip) => ip,
            Err(_) if s.contains('/') => {
                return Err(format!(
                    "{q} is a CIDR; expected a single address like 192.168.1.10"
                ));
            }
            Err(_) if s.parse::<std::net::Ipv6Addr>().is_ok() => {
                return Err(format!("{bare} is an IPv6 address; use an IPv4 address"));
            }
            Err(_) if s.is_empty() => return Err("must not be empty".to_owned()),
            Err(_) => {
                return Err(format!("{q} is not an IPv4 address like 192.168.1.10"));
            }
        };
        let kind = if ip.is_unspecified() {
            "the unspecified address"
        } else if ip.is_multicast() {
            "a multicast address"
        } else if ip.is_broadcast() {
            "the broadcast address"
        } else {
            return Ok(());
        };
        Err(format!(
            "{ip} is {kind}; use the machine's address on the local network"
        ))
    }

    /// An IPv4 CIDR in canonical form (no host bits set), like `192.168.1.0/24`.
    pub fn cidr(s: &str) -> Result<Ipv4Net, String> {
        let q = Shown(s);
        let bare = Bare(s);
        if s.is_empty() {
            return Err("must not be empty".to_owned());
        }
        match s.parse::<Ipv4Net>() {
            Ok(net) if net == net.trunc() => Ok(net),
            Ok(net) => Err(format!(
                "{bare} has host bits set; did you mean {}?",
                net.trunc()
            )),
            Err(_) => {
                if let Ok(ip) = s.parse::<Ipv4Addr>() {
                    let guess = Ipv4Net::new(ip, 24).map(|n| n.trunc()).ok();
                    let guess = guess.map(|g| g.to_string()).unwrap_or_default();
                    return Err(format!(
                        "{bare} has no prefix length; did you mean {guess}?"
                    ));
                }
                if s.contains(':') {
                    return Err(format!(
                        "{bare} is IPv6; use an IPv4 CIDR like 192.168.1.0/24"
                    ));
                }
                Err(format!("{q} is not an IPv4 CIDR like 192.168.1.0/24"))
            }
        }
    }

    /// A MetalLB pool entry: a range `a-b` with `a <= b`, or a canonical CIDR.
    pub fn pool_entry(s: &str) -> Result<(), String> {
        pool_range(s).map(|_| ())
    }

    /// The first and last address of a pool entry (see [`pool_entry`]).
    pub fn pool_range(s: &str) -> Result<(Ipv4Addr, Ipv4Addr), String> {
        let q = Shown(s);
        let bare = Bare(s);
        let example =
            "an address range like 192.168.1.240-192.168.1.250 or a CIDR like 192.168.1.240/28";
        if s.is_empty() {
            return Err(format!("must not be empty; expected {example}"));
        }
        if s.contains(char::is_whitespace) {
            return Err(format!(
                "{q} contains spaces; write {}",
                s.split_whitespace().collect::<String>()
            ));
        }
        if let Some((a, b)) = s.split_once('-') {
            let (Ok(start), Ok(end)) = (a.parse::<Ipv4Addr>(), b.parse::<Ipv4Addr>()) else {
                return Err(format!("{q} is not {example}"));
            };
            if start > end {
                return Err(format!(
                    "{bare} starts after it ends; did you mean {end}-{start}?"
                ));
            }
            return Ok((start, end));
        }
        if let Ok(ip) = s.parse::<Ipv4Addr>() {
            return Err(format!(
                "{bare} is a single address; write it as {ip}/32 or {ip}-{ip}"
            ));
        }
        if !s.contains('/') {
            return Err(format!("{q} is not {example}"));
        }
        let net = cidr(s)?;
        Ok((net.network(), net.broadcast()))
    }

    /// An absolute, normalized path (an NFS export).
    pub fn absolute_path(s: &str) -> Result<(), String> {
        let q = Shown(s);
        if s.is_empty() {
            return Err("must not be empty".to_owned());
        }
        if !s.starts_with('/') {
            return Err(format!(
                "{q} is not an absolute path; did you mean {}?",
                Shown(&format!("/{s}"))
            ));
        }
        crate::text::check_visible(s)?;
        if s.len() > 1
            && s.trim_end_matches('/')
                .split('/')
                .skip(1)
                .any(|c| c.is_empty() || c == "." || c == "..")
        {
            return Err(format!(
                "{q} is not a normalized path: no empty, '.' or '..' parts"
            ));
        }
        Ok(())
    }

    /// A host to connect to: an IPv4 address or a hostname (case-insensitive).
    pub fn host_or_ipv4(s: &str) -> Result<(), String> {
        let q = Shown(s);
        if s.is_empty() {
            return Err("must not be empty".to_owned());
        }
        if s.parse::<Ipv4Addr>().is_ok() {
            return ipv4(s);
        }
        let lower = s.to_ascii_lowercase();
        let labels_ok = lower.split('.').all(label_ok);
        let numeric = lower
            .split('.')
            .all(|l| l.chars().all(|c| c.is_ascii_digit()));
        if lower.len() <= 253 && labels_ok && !numeric {
            Ok(())
        } else {
            Err(format!(
                "{q} is neither an IPv4 address nor a hostname like nas.lan"
            ))
        }
    }

    /// A git remote URL (the forms [`crate::config::git_url::GitUrl`] accepts), or empty for
    /// a local-only repository. Never with a password.
    pub fn git_url(s: &str) -> Result<(), String> {
        use crate::config::git_url::{FORMS, GitUrl, Problem, redact};
        if s.is_empty() {
            return Ok(());
        }
        // Credentials before anything else, and without echoing the URL: a refused URL's
        // message must not show the secret either.
        let problem = match GitUrl::parse(s) {
            Ok(_) => return Ok(()),
            Err(problem) => problem,
        };
        if let Problem::Credential(_) = problem {
            return Err(format!(
                "{} {problem}; remove it and export HOMELAB_GIT_TOKEN instead (also revoke the token if this file was shared)",
                Shown(&redact(s))
            ));
        }
        crate::text::check_visible(&redact(s))?;
        Err(format!("{} is not a git remote: {FORMS}", Shown(s)))
    }

    /// A branch name git accepts (`git check-ref-format --branch`).
    pub fn branch(s: &str) -> Result<(), String> {
        let q = Shown(s);
        if s.is_empty() {
            return Err("must not be empty".to_owned());
        }
        crate::text::check_visible(s)?;
        // `@` alone is valid as a ref but is git's shorthand for HEAD, so never a branch.
        if s != "@"
            && !s.starts_with('-')
            && git2::Reference::is_valid_name(&format!("refs/heads/{s}"))
        {
            Ok(())
        } else {
            Err(format!(
                "{q} is not a valid branch name (no spaces, '..', '~', '^', ':', '?', '*', '[', '\\', '@{{', and no '/' or '.' at either end); for example main"
            ))
        }
    }

    /// A Flux release: `vX.Y.Z` (optionally with a pre-release suffix), v2.6.0 or later.
    pub fn flux_version(s: &str) -> Result<(), String> {
        let q = Shown(s);
        let bare = Bare(s);
        let bad = || {
            let suggestion = if !s.starts_with('v') && parse_semver(&format!("v{s}")).is_some() {
                format!("; did you mean v{bare}?")
            } else {
                String::new()
            };
            Err(format!(
                "{q} is not a Flux release like {}{suggestion}",
                crate::config::DEFAULT_FLUX_VERSION
            ))
        };
        let Some(version) = parse_semver(s) else {
            return bad();
        };
        let (major, minor, patch) = crate::config::MIN_FLUX_VERSION;
        if version < (major, minor, patch) {
            return Err(format!(
                "{bare} is too old; the rendered repository needs Flux v{major}.{minor}.{patch} or later"
            ));
        }
        if version.0 != 2 {
            return Err(format!("{bare} is not a Flux v2 release"));
        }
        Ok(())
    }

    fn parse_semver(s: &str) -> Option<(u64, u64, u64)> {
        let rest = s.strip_prefix('v')?;
        let (core, pre) = match rest.split_once('-') {
            Some((c, p)) => (c, Some(p)),
            None => (rest, None),
        };
        if pre.is_some_and(|p| {
            p.is_empty() || !p.chars().all(|c| c.is_ascii_alphanumeric() || c == '.')
        }) {
            return None;
        }
        let parts: Vec<&str> = core.split('.').collect();
        if parts.len() != 3 {
            return None;
        }
        let num = |p: &str| {
            if p.is_empty()
                || !p.chars().all(|c| c.is_ascii_digit())
                || (p.len() > 1 && p.starts_with('0'))
            {
                None
            } else {
                p.parse::<u64>().ok()
            }
        };
        Some((num(parts[0])?, num(parts[1])?, num(parts[2])?))
    }
}

mod structure;

pub mod charts;
#[cfg(test)]
mod tests;
