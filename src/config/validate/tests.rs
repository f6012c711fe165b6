//! Unit tests of the field validators, `suggest_pool` and the `to_yaml` round trip. The
//! whole-file rules are covered by the corpus in `tests/corpus`.

use super::*;
use crate::catalog::{
    check_new_app, load_config as load, parse_config as parse, validate_config as validate,
};
use crate::config::{AcmeServer, App, Provisioner};

fn err<T: std::fmt::Debug>(r: std::result::Result<T, String>) -> String {
    r.expect_err("expected an error")
}

#[test]
fn dns_label_accepts_and_rejects() {
    for ok in ["a", "homelab", "node-1", "1node", &"a".repeat(63)] {
        assert_eq!(field::dns_label(ok), Ok(()), "{ok}");
    }
    assert_eq!(err(field::dns_label("")), "must not be empty");
    assert_eq!(
        err(field::dns_label(&"a".repeat(64))),
        format!(
            "{:?} is 64 characters long; a DNS label has at most 63",
            "a".repeat(64)
        )
    );
    let msg = err(field::dns_label("My_Lab"));
    assert!(msg.starts_with("\"My_Lab\" is not a DNS label"), "{msg}");
    assert!(msg.ends_with("did you mean \"my-lab\"?"), "{msg}");
    for bad in ["-a", "a-", "a.b", "a b", "ä"] {
        assert!(field::dns_label(bad).is_err(), "{bad}");
    }
}

#[test]
fn dns_subdomain_accepts_and_rejects() {
    for ok in ["nfs", "nfs.example", "a-1.b-2.c"] {
        assert_eq!(field::dns_subdomain(ok), Ok(()), "{ok}");
    }
    for bad in ["", "a..b", ".a", "a.", "A.b", "a_b", &"a.".repeat(127)] {
        assert!(field::dns_subdomain(bad).is_err(), "{bad}");
    }
    assert!(err(field::dns_subdomain("Fast_NFS")).ends_with("did you mean \"fast-nfs\"?"));
}

#[test]
fn domain_accepts_and_rejects() {
    for ok in [
        "example.com",
        "home.arpa",
        "lab.home.example.org",
        "xn--bcher-kva.example",
    ] {
        assert_eq!(field::domain(ok), Ok(()), "{ok}");
    }
    assert!(err(field::domain("lan")).contains("single label"));
    assert!(err(field::domain("example.com.")).contains("trailing dot"));
    assert!(err(field::domain("192.168.1.1")).contains("is an IP address"));
    assert!(err(field::domain("a.123")).contains("numeric label"));
    assert!(err(field::domain("Example.com")).contains("did you mean \"example.com\"?"));
    assert!(field::domain("").is_err());
}

#[test]
fn email_accepts_and_rejects() {
    for ok in [
        "admin@example.com",
        "first.last+tag@mail.example.org",
        "A@Example.COM",
    ] {
        assert_eq!(field::email(ok), Ok(()), "{ok}");
    }
    assert!(err(field::email("admin")).contains("no '@'"));
    assert!(err(field::email("@example.com")).contains("before '@'"));
    assert!(err(field::email("a..b@example.com")).contains("before '@'"));
    assert!(err(field::email("a b@example.com")).contains("before '@'"));
    assert!(err(field::email("admin@localhost")).contains("after '@'"));
    assert_eq!(err(field::email("")), "must not be empty");
}

#[test]
fn ipv4_accepts_and_rejects() {
    assert_eq!(field::ipv4("192.168.1.10"), Ok(()));
    assert_eq!(field::ipv4("10.0.0.1"), Ok(()));
    assert!(err(field::ipv4("192.168.1.300")).contains("is not an IPv4 address"));
    assert!(err(field::ipv4("192.168.01.1")).contains("is not an IPv4 address"));
    assert!(err(field::ipv4("192.168.1.0/24")).contains("is a CIDR"));
    assert!(err(field::ipv4("fe80::1")).contains("IPv6"));
    assert!(field::ipv4("127.0.0.1").is_ok());
    assert!(err(field::ipv4("0.0.0.0")).contains("unspecified"));
    assert!(err(field::ipv4("224.0.0.1")).contains("multicast"));
    assert!(err(field::ipv4("255.255.255.255")).contains("broadcast"));
    assert_eq!(err(field::ipv4("")), "must not be empty");
}

#[test]
fn cidr_requires_canonical_form() {
    assert_eq!(
        field::cidr("192.168.1.0/24").map(|n| n.to_string()),
        Ok("192.168.1.0/24".to_owned())
    );
    assert_eq!(
        err(field::cidr("192.168.1.1/24")),
        "192.168.1.1/24 has host bits set; did you mean 192.168.1.0/24?"
    );
    assert_eq!(
        err(field::cidr("192.168.1.0")),
        "192.168.1.0 has no prefix length; did you mean 192.168.1.0/24?"
    );
    assert!(err(field::cidr("192.168.1.0/33")).contains("is not an IPv4 CIDR"));
    assert!(err(field::cidr("fd00::/64")).contains("IPv6"));
    assert_eq!(err(field::cidr("")), "must not be empty");
}

#[test]
fn pool_entries() {
    let ip = |s: &str| s.parse::<std::net::Ipv4Addr>().unwrap();
    assert_eq!(
        field::pool_range("192.168.1.240-192.168.1.250"),
        Ok((ip("192.168.1.240"), ip("192.168.1.250")))
    );
    assert_eq!(
        field::pool_range("192.168.1.7-192.168.1.7"),
        Ok((ip("192.168.1.7"), ip("192.168.1.7")))
    );
    assert_eq!(
        field::pool_range("192.168.1.224/28"),
        Ok((ip("192.168.1.224"), ip("192.168.1.239")))
    );
    assert_eq!(field::pool_entry("10.0.0.5/32"), Ok(()));
    assert_eq!(
        err(field::pool_entry("192.168.1.250-192.168.1.240")),
        "192.168.1.250-192.168.1.240 starts after it ends; did you mean 192.168.1.240-192.168.1.250?"
    );
    assert!(err(field::pool_entry("192.168.1.225/28")).contains("host bits set"));
    assert!(err(field::pool_entry("192.168.1.5")).contains("single address"));
    assert!(err(field::pool_entry("192.168.1.5 - 192.168.1.9")).contains("contains spaces"));
    assert!(err(field::pool_entry("192.168.1.5-192.168.1")).contains("is not an address range"));
    assert!(err(field::pool_entry("pool")).contains("is not an address range"));
    assert!(err(field::pool_entry("")).contains("must not be empty"));
}

#[test]
fn absolute_paths() {
    for ok in ["/", "/srv/nfs", "/srv/nfs/", "/volume1/k8s data"] {
        assert_eq!(field::absolute_path(ok), Ok(()), "{ok}");
    }
    assert_eq!(
        err(field::absolute_path("srv/nfs")),
        "\"srv/nfs\" is not an absolute path; did you mean \"/srv/nfs\"?"
    );
    for bad in ["/srv/../etc", "/srv/./nfs", "/srv//nfs", "/srv\nnfs", ""] {
        assert!(field::absolute_path(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn hosts_and_addresses() {
    for ok in [
        "192.168.1.5",
        "nas",
        "nas.lan",
        "NAS.local",
        "truenas-1.home.arpa",
    ] {
        assert_eq!(field::host_or_ipv4(ok), Ok(()), "{ok}");
    }
    for bad in ["192.168.1.300", "nas_1", "", "-nas", "0.0.0.0", "a..b"] {
        assert!(field::host_or_ipv4(bad).is_err(), "{bad}");
    }
}

#[test]
fn git_urls() {
    for ok in [
        "",
        "ssh://git@github.com/me/homelab.git",
        "ssh://git@gitea.lan:2222/me/homelab.git",
        "git@github.com:me/homelab.git",
        "https://github.com/me/homelab.git",
        "http://127.0.0.1:3000/me/homelab.git",
        "git://git.lan/homelab.git",
        "file:///srv/git/homelab.git",
        "/srv/git/homelab.git",
        "https://me@github.com/me/homelab.git",
        "nas.lan:/srv/git/homelab.git",
        "ssh://[::1]:2222/homelab.git",
        "./homelab.git",
    ] {
        assert_eq!(field::git_url(ok), Ok(()), "{ok}");
    }
    for bad in [
        "github.com/me/homelab",
        "ftp://host/repo",
        "https://github.com",
        "file://relative/path",
        "git@github.com",
        "https://host:port/repo",
        "https://git hub.com/r",
        "relative/path",
        "ssh://host:0/x",
        "git+ssh://host/x",
    ] {
        assert!(field::git_url(bad).is_err(), "{bad}");
    }
    for secret in [
        "https://me:hunter2@github.com/me/homelab.git",
        "https://ghp_hunter2@github.com/me/homelab.git",
        "https://ghs_hunter2@github.com/x.git",
        "https://ghu_hunter2@github.com/x.git",
        "https://0123456789abcdef0123456789abcdef01234567@github.com/x.git",
        "https://user%3Ahunter2@git.example.com/x.git",
        "https://git.example.com/x.git?private_token=hunter2",
        "user:hunter2@git.example.com:x.git",
        "ssh://git:hunter2@git.example.com/x.git",
    ] {
        let message = err(field::git_url(secret));
        assert!(message.contains("HOMELAB_GIT_TOKEN"), "{secret}: {message}");
        assert!(message.contains("***"), "{secret}: {message}");
        for part in ["hunter2", "0123456789abcdef"] {
            assert!(!message.contains(part), "{secret} is echoed: {message}");
        }
    }
}

#[test]
fn hidden_characters_are_refused_with_their_name_and_key_path() {
    let mut cfg = example();
    cfg.storage.nfs_path = "/srv/nfs\u{2028}---\u{2028}kind: ClusterRoleBinding".into();
    cfg.cluster.domain = "exam\u{200B}ple.com".into();
    cfg.certificates.email = "admin@example.com\u{85}".into();
    cfg.git.branch = "ma\u{202E}in".into();
    let diags = validate(&cfg);
    let lines: Vec<String> = diags.iter().map(ToString::to_string).collect();
    for (path, name) in [
        ("storage.nfs_path", "U+2028 LINE SEPARATOR"),
        ("cluster.domain", "U+200B ZERO WIDTH SPACE"),
        ("certificates.email", "U+0085 NEXT LINE"),
        ("git.branch", "U+202E RIGHT-TO-LEFT OVERRIDE"),
    ] {
        let found: Vec<&String> = lines
            .iter()
            .filter(|l| l.starts_with(&format!("{path}: ")))
            .collect();
        assert_eq!(found.len(), 1, "{path}: {lines:#?}");
        assert!(found[0].contains(name), "{}", found[0]);
        assert!(found[0].contains("retype"), "{}", found[0]);
        // The message itself shows the character escaped, never raw.
        assert!(
            !found[0].chars().any(crate::text::is_hidden),
            "{}",
            found[0]
        );
    }
    assert_eq!(lines.len(), 4, "{lines:#?}");
    // Field validators the wizard uses say the same.
    assert!(err(field::absolute_path("/a\u{2029}b")).contains("U+2029 PARAGRAPH SEPARATOR"));
}

#[test]
fn app_settings_keys_and_values_are_checked_for_hidden_characters() {
    let mut cfg = example();
    cfg.apps = vec![App {
        name: "nextcloud".into(),
        namespace: "nextcloud".into(),
        host: "cloud.example.com".into(),
        settings: [("upload_limit\u{2060}".to_owned(), "16G".to_owned())].into(),
    }];
    let lines: Vec<String> = validate(&cfg).iter().map(ToString::to_string).collect();
    assert!(
        lines.iter().any(
            |l| l.starts_with("apps[0].settings.\"upload_limit\\u{2060}\": the key")
                && l.contains("U+2060 WORD JOINER")
        ),
        "{lines:#?}"
    );
}

#[test]
fn long_values_are_not_echoed_in_full() {
    let mut cfg = example();
    cfg.cluster.domain = format!("{}.com", "a".repeat(50_000));
    let lines: Vec<String> = validate(&cfg).iter().map(ToString::to_string).collect();
    assert!(!lines.is_empty());
    for line in &lines {
        assert!(line.len() < 400, "{}", &line[..400.min(line.len())]);
    }
    assert!(lines[0].contains("(50004 bytes)"), "{}", lines[0]);
}

#[test]
fn a_huge_pool_is_checked_in_linear_time() {
    let mut cfg = example();
    cfg.network.node_cidr = "10.0.0.0/8".into();
    cfg.nodes[0].address = "10.255.255.1".into();
    cfg.nodes.truncate(1);
    cfg.network.ingress_address = "10.0.0.1".into();
    // 100,000 disjoint /32 entries, and one overlap at the end.
    let mut pool: Vec<String> = (0..100_000u32)
        .map(|i| format!("{}/32", std::net::Ipv4Addr::from(0x0A00_0001 + i)))
        .collect();
    pool.push("10.0.0.5-10.0.0.6".into());
    cfg.network.loadbalancer_pool = pool;
    let started = std::time::Instant::now();
    let lines: Vec<String> = validate(&cfg).iter().map(ToString::to_string).collect();
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(
        lines,
        [
            "network.loadbalancer_pool[100000]: 10.0.0.5-10.0.0.6 overlaps network.loadbalancer_pool[4] 10.0.0.5/32",
            "network.loadbalancer_pool[100000]: 10.0.0.5-10.0.0.6 overlaps network.loadbalancer_pool[5] 10.0.0.6/32",
        ],
    );
}

#[test]
fn add_app_arguments_reach_the_same_rules() {
    let cfg = example();
    let app = |namespace: &str, host: &str, settings: &[(&str, &str)]| App {
        name: "grafana".into(),
        namespace: namespace.into(),
        host: host.into(),
        settings: settings
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    };
    assert!(check_new_app(&cfg, &app("grafana", "grafana.example.com", &[])).is_ok());
    for reserved in [
        "flux-system",
        "kube-system",
        "default",
        "cert-manager",
        "metallb-system",
    ] {
        let e = check_new_app(&cfg, &app(reserved, "grafana.example.com", &[])).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.message.starts_with("--namespace: "), "{}", e.message);
    }
    let e = check_new_app(
        &cfg,
        &app(
            "grafana",
            "grafana.example.com",
            &[("storage_size", "1\nx")],
        ),
    )
    .unwrap_err();
    assert!(
        e.message.starts_with("--set storage_size: "),
        "{}",
        e.message
    );
    let mut with_other = cfg.clone();
    with_other.apps.push(App {
        name: "jellyfin".into(),
        namespace: "media".into(),
        host: "media.example.com".into(),
        settings: Default::default(),
    });
    let e = check_new_app(&with_other, &app("media", "media.example.com", &[])).unwrap_err();
    assert!(e.message.contains("--namespace: "), "{}", e.message);
    assert!(e.message.contains("--host: "), "{}", e.message);
}

#[test]
fn branches() {
    for ok in ["main", "feature/x", "release-1.0"] {
        assert_eq!(field::branch(ok), Ok(()), "{ok}");
    }
    for bad in [
        "", "a..b", "a b", "-x", "x.lock", "x/", "/x", "a@{b", "a~1", "a:b", "@",
    ] {
        assert!(field::branch(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn flux_versions() {
    for ok in ["v2.9.4", "v2.6.0", "v2.10.0-rc.1"] {
        assert_eq!(field::flux_version(ok), Ok(()), "{ok}");
    }
    assert!(err(field::flux_version("2.9.4")).ends_with("did you mean v2.9.4?"));
    assert!(err(field::flux_version("v2.5.1")).contains("too old"));
    assert!(err(field::flux_version("v3.0.0")).contains("not a Flux v2 release"));
    for bad in ["latest", "v2.9", "v2.09.1", "v2.9.4-", ""] {
        assert!(field::flux_version(bad).is_err(), "{bad}");
    }
}

#[test]
fn suggest_pool_picks_the_top_of_the_network() {
    let none: [&str; 0] = [];
    assert_eq!(
        suggest_pool("192.168.1.0/24", &none).as_deref(),
        Some("192.168.1.240-192.168.1.250")
    );
    assert_eq!(
        suggest_pool("10.0.0.0/16", &["10.0.0.10"]).as_deref(),
        Some("10.0.255.240-10.0.255.250")
    );
    // A node inside the usual range pushes the suggestion below it.
    assert_eq!(
        suggest_pool("192.168.1.0/24", &["192.168.1.10", "192.168.1.245"]).as_deref(),
        Some("192.168.1.234-192.168.1.244")
    );
    // Smaller networks get a smaller pool.
    assert_eq!(
        suggest_pool("192.168.1.0/26", &[String::from("192.168.1.1")]).as_deref(),
        Some("192.168.1.52-192.168.1.58")
    );
    assert_eq!(suggest_pool("192.168.1.0/29", &none), None);
    assert_eq!(suggest_pool("not a cidr", &none), None);
    // A network full of nodes has no room.
    let full: Vec<String> = (1..255).map(|i| format!("192.168.1.{i}")).collect();
    assert_eq!(suggest_pool("192.168.1.0/24", &full), None);
    // The suggestion is always a valid pool entry that the validator accepts.
    let s = suggest_pool("172.16.4.0/22", &["172.16.7.245"]).unwrap();
    assert_eq!(field::pool_entry(&s), Ok(()));
}

fn example() -> Config {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/homelab.yaml"),
    )
    .unwrap();
    parse(&text).expect("the example is valid")
}

#[test]
fn to_yaml_round_trips() {
    let mut cfg = example();
    // Strings that YAML would read as other types, or that need quoting, must survive.
    cfg.apps.push(App {
        name: "grafana".into(),
        namespace: "monitoring".into(),
        host: "grafana.example.com".into(),
        settings: [
            ("replicas", "2"),
            ("enabled", "true"),
            ("legacy", "yes"),
            ("nothing", "null"),
            ("empty", ""),
            ("colon", "a: b"),
            ("hash", "#not a comment"),
            ("octal", "0755"),
            ("multi", "line one\nline two"),
            ("quote", "it's \"quoted\""),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect(),
    });
    cfg.certificates.dns_provider = DnsProvider::Route53;
    cfg.certificates.dns_settings = [("region".to_owned(), "eu-west-1".to_owned())].into();
    cfg.git.url = "git@github.com:me/homelab.git".into();
    cfg.network
        .loadbalancer_pool
        .push("192.168.1.224/28".into());
    let text = to_yaml(&cfg);
    assert!(text.ends_with('\n'));
    // Every string reads back as the same string, even by a reader that takes `yes` for a
    // boolean (the settings are not grafana's, so the file as a whole is not valid).
    let back: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
    assert_eq!(back, serde_json::to_value(&cfg).unwrap(), "{text}");
    let diags = parse(&text).unwrap_err();
    assert!(
        diags
            .iter()
            .all(|d| d.path.starts_with("apps[0].settings.")),
        "{diags:?}"
    );
    // Stable: serializing the parsed result again gives the same text.
    cfg.apps[0].settings.clear();
    let text = to_yaml(&cfg);
    assert_eq!(parse(&text), Ok(cfg.clone()), "{text}");
    assert_eq!(to_yaml(&parse(&text).unwrap()), text);
    // Keys appear in the model's order.
    let order: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with([' ', '-']))
        .map(|l| l.split(':').next().unwrap())
        .collect();
    assert_eq!(
        order,
        [
            "version",
            "cluster",
            "nodes",
            "network",
            "ingress",
            "certificates",
            "storage",
            "git",
            "flux",
            "apps"
        ]
    );
}

#[test]
fn defaults_fill_optional_sections() {
    let text = "version: 1
cluster: {name: lab, domain: example.com}
nodes: [{name: n1, address: 10.0.0.2, role: control-plane}]
network: {node_cidr: 10.0.0.0/24, loadbalancer_pool: [10.0.0.200-10.0.0.210], ingress_address: 10.0.0.200}
certificates: {email: me@example.com}
storage: {nfs_server: nas.lan, nfs_path: /export}
git:
flux:
apps:
";
    let cfg = parse(text).expect("valid");
    assert_eq!(cfg.git, crate::config::Git::default());
    assert_eq!(cfg.flux, crate::config::Flux::default());
    assert_eq!(cfg.storage.storage_class, "nfs");
    assert!(cfg.storage.default_class);
    assert_eq!(cfg.nodes[0].role, NodeRole::ControlPlane);
    assert!(cfg.apps.is_empty());
}

/// strum's names (validation, the schema, the wizard, messages) are serde's, for every
/// value of every enum of the model, and every value says what it means.
#[test]
fn every_enum_name_is_the_name_serde_reads_and_writes() {
    fn check<T>()
    where
        T: Choice + std::fmt::Debug + serde::de::DeserializeOwned + serde::Serialize,
    {
        assert_eq!(T::names().len(), T::all().len());
        for (&v, &name) in T::all().iter().zip(T::names()) {
            assert_eq!(v.as_str(), name);
            assert_eq!(serde_json::to_value(v).unwrap(), Value::String(name.into()));
            let back: T = serde_json::from_value(Value::String(name.into()))
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(back, v);
            assert!(!v.description().is_empty(), "{name} has no doc comment");
        }
    }
    check::<NodeRole>();
    check::<IngressController>();
    check::<AcmeServer>();
    check::<Challenge>();
    check::<DnsProvider>();
    check::<Provisioner>();
}

#[test]
fn load_reports_missing_file_and_all_problems() {
    let dir = tempfile::tempdir().unwrap();
    let e = load(dir.path()).unwrap_err();
    assert_eq!(e.exit_code(), 2);
    assert!(
        e.message.ends_with("homelab.yaml not found"),
        "{}",
        e.message
    );
    assert!(e.hint.as_deref().unwrap().contains("run `homelab init`"));

    let e = load(&dir.path().join("no-such-dir")).unwrap_err();
    assert!(
        e.message.ends_with("no-such-dir/homelab.yaml not found"),
        "{}",
        e.message
    );
    let e = load(&dir.path().join("other.yaml")).unwrap_err();
    assert!(e.message.ends_with("other.yaml not found"), "{}", e.message);

    let file = dir.path().join("homelab.yaml");
    std::fs::write(&file, "version: 2\ncluster: {name: Lab, domain: x}\n").unwrap();
    let e = load(dir.path()).unwrap_err();
    assert_eq!(e.exit_code(), 2);
    let lines: Vec<String> = e.message.lines().map(str::to_owned).collect();
    // Structure problems come first; semantic ones (version, name, domain) appear once the
    // structure is right.
    assert_eq!(
        lines,
        [
            format!("{} is not valid (4 problems):", file.display()),
            "nodes: required key is missing".to_owned(),
            "network: required key is missing".to_owned(),
            "certificates: required key is missing".to_owned(),
            "storage: required key is missing".to_owned(),
        ]
    );
    assert!(e.hint.is_some());

    std::fs::write(
        &file,
        std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/homelab.yaml"),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(load(&file).unwrap(), example());
    assert_eq!(load(dir.path()).unwrap(), example());
}

#[test]
fn no_accepted_dns_setting_looks_like_a_secret() {
    for &provider in DnsProvider::all() {
        for key in provider.allowed_settings() {
            assert!(!is_secret_key(key), "{}: {key}", provider.as_str());
        }
        for key in provider.required_settings() {
            assert!(provider.allowed_settings().contains(&key), "{key}");
        }
        assert!(!provider.credential_env().is_empty());
    }
    for secret in [
        "api_token",
        "apiKey",
        "client_secret",
        "password",
        "tsig_key",
        "key",
    ] {
        assert!(is_secret_key(secret), "{secret}");
    }
}

fn corpus(kind: &str) -> Vec<std::path::PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(kind);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

/// A key path of a diagnostic (`nodes[1].address`) as a JSON pointer (`/nodes/1/address`);
/// None for a key shown quoted.
fn pointer(path: &str) -> Option<String> {
    if path == TOP {
        return Some(String::new());
    }
    if path.contains('"') {
        return None;
    }
    Some(path.split('.').fold(String::new(), |mut out, part| {
        let (key, indexes) = part.split_once('[').unwrap_or((part, ""));
        out.push('/');
        out.push_str(key);
        for index in indexes.split('[') {
            if let Some(i) = index.strip_suffix(']') {
                out.push('/');
                out.push_str(i);
            }
        }
        out
    }))
}

/// The published JSON Schema, checked by a real validator, accepts every valid file and
/// flags every structure problem at its place: editors and homelab agree on structure.
#[test]
fn the_json_schema_accepts_the_valid_corpus_and_flags_every_structure_problem() {
    let schema = crate::config::schema::json_schema();
    let validator = jsonschema::draft7::new(&schema).expect("the schema is a valid draft-07");
    let mut valid = corpus("valid");
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    valid.extend([examples.join("homelab.yaml"), examples.join("full.yaml")]);
    for path in &valid {
        let value = yaml_value(&std::fs::read_to_string(path).unwrap()).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
    }

    let mut structural = Vec::new();
    for path in corpus("invalid") {
        let Ok(value) = yaml_value(&std::fs::read_to_string(&path).unwrap()) else {
            continue; // a syntax error: no document to check
        };
        let mut diags = Vec::new();
        match value.clone() {
            mut document @ Value::Object(_) => structure::check(&mut document, &mut diags),
            _ => diags.push(Diagnostic::new(TOP, "not a mapping")),
        }
        if diags.is_empty() {
            continue; // a rule's problem, which the schema may or may not describe
        }
        let flagged: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| e.instance_path().to_string())
            .collect();
        assert!(!flagged.is_empty(), "{}: accepted", path.display());
        for diag in &diags {
            let Some(at) = pointer(&diag.path) else {
                continue;
            };
            // An unknown or missing key is the mapping's error; a wrong value its own.
            let parent = at.rsplit_once('/').map_or("", |(p, _)| p).to_owned();
            assert!(
                flagged.contains(&at) || flagged.contains(&parent),
                "{}: the JSON Schema does not flag {diag} (it flags {flagged:?})",
                path.display()
            );
        }
        structural.push(path);
    }
    // The corpus has a case for every kind of structure problem.
    assert!(structural.len() >= 10, "{structural:?}");
}
