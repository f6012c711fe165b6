//! The in-place editor against `examples/full.yaml` (a comment on almost every line): each
//! kind of edit, values YAML would misread or that hold hidden characters, and many random
//! edits at once.

use std::collections::BTreeMap;

use super::*;
use crate::config::{Mirror, NodeRole};

fn app(name: &str, settings: &[(&str, &str)]) -> App {
    App {
        name: name.into(),
        namespace: name.into(),
        host: format!("{name}.lab.example.org"),
        settings: settings
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<BTreeMap<_, _>>(),
    }
}

fn base() -> String {
    include_str!("../../../examples/full.yaml").to_owned()
}

fn cfg(text: &str) -> Config {
    crate::catalog::parse_config(text).expect("valid")
}

fn comments(text: &str) -> Vec<&str> {
    text.lines()
        .filter_map(|l| l.find('#').map(|i| &l[i..]))
        .collect()
}

/// `text` edited to `change(config)`, checked to mean exactly that.
fn edit(text: &str, change: impl FnOnce(&mut Config)) -> String {
    let current = cfg(text);
    let mut intended = current.clone();
    change(&mut intended);
    let out = edited(text, &current, &intended, &crate::catalog::rules).expect("edited");
    assert_eq!(cfg(&out), intended, "{out}");
    out
}

/// The lines of `a` and `b` that differ, as (line of a, line of b), after the longest
/// common head and tail.
fn changed_lines<'a>(a: &'a str, b: &'a str) -> (Vec<&'a str>, Vec<&'a str>) {
    let (a, b): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    let head = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let tail = a[head..]
        .iter()
        .rev()
        .zip(b[head..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    (
        a[head..a.len() - tail].to_vec(),
        b[head..b.len() - tail].to_vec(),
    )
}

#[test]
fn adding_and_removing_keeps_every_comment_and_round_trips() {
    let text = base();
    let grafana = app("grafana", &[("storage_size", "10Gi")]);
    let added = with_app_added(&text, &cfg(&text), &grafana, &crate::catalog::rules).expect("add");
    assert_eq!(comments(&added), comments(&text), "{added}");
    assert_eq!(cfg(&added).apps, vec![grafana.clone()]);
    let nextcloud = app(
        "nextcloud",
        &[("database", "bundled"), ("upload_limit", "16G")],
    );
    let two =
        with_app_added(&added, &cfg(&added), &nextcloud, &crate::catalog::rules).expect("add");
    assert_eq!(cfg(&two).apps, vec![grafana.clone(), nextcloud.clone()]);
    assert!(two.starts_with(&added[..added.find("apps:").expect("apps")]));
    let one =
        with_app_removed(&two, &cfg(&two), "grafana", &crate::catalog::rules).expect("remove");
    assert_eq!(cfg(&one).apps, vec![nextcloud]);
    let none =
        with_app_removed(&one, &cfg(&one), "nextcloud", &crate::catalog::rules).expect("remove");
    assert!(cfg(&none).apps.is_empty());
    assert_eq!(none, text, "back to the original, byte for byte");
}

#[test]
fn every_list_style_is_handled() {
    let text = base();
    let start = text.find("apps:").expect("apps");
    let head = &text[..start];
    let a = app("grafana", &[]);
    let b = app("uptime-kuma", &[("storage_size", "1Gi")]);
    for tail in [
        "apps:\n",
        "apps: ~\n",
        "apps: []\n",
        "apps: ~   # none yet\n",
        "apps:\n- name: grafana\n  namespace: grafana\n  host: grafana.lab.example.org\n",
        "apps:\n    -   name: grafana   # mine\n        namespace: grafana\n        host: grafana.lab.example.org\n# trailing\n",
        "apps: [{name: grafana, namespace: grafana, host: grafana.lab.example.org}]\n",
        "apps:\n  - {name: grafana, namespace: grafana, host: grafana.lab.example.org}\n",
        "apps:\n  - name: grafana\n    namespace: grafana\n    host: grafana.lab.example.org",
    ] {
        let text = format!("{head}{tail}");
        let current = cfg(&text);
        let (first, expected) = if current.apps.is_empty() {
            (a.clone(), vec![a.clone(), b.clone()])
        } else {
            (b.clone(), vec![a.clone(), b.clone()])
        };
        let mut edited =
            with_app_added(&text, &current, &first, &crate::catalog::rules).expect(tail);
        if current.apps.is_empty() {
            edited =
                with_app_added(&edited, &cfg(&edited), &b, &crate::catalog::rules).expect(tail);
        }
        assert_eq!(cfg(&edited).apps, expected, "{tail}\n{edited}");
        for c in comments(tail) {
            assert!(edited.contains(c), "{c} lost:\n{edited}");
        }
        let removed = with_app_removed(&edited, &cfg(&edited), "grafana", &crate::catalog::rules)
            .expect(tail);
        assert_eq!(cfg(&removed).apps, vec![b.clone()], "{removed}");
    }
    // No apps: key at all.
    let text = head.to_owned();
    let edited = with_app_added(&text, &cfg(&text), &a, &crate::catalog::rules).expect("no key");
    assert_eq!(cfg(&edited).apps, vec![a]);
}

#[test]
fn a_scalar_is_replaced_where_it_stands_and_its_comment_keeps_its_column() {
    let text = base();
    let out = edit(&text, |c| c.cluster.domain = "home.example.net".into());
    let (old, new) = changed_lines(&text, &out);
    assert_eq!(
        old,
        ["  domain: lab.example.org           # apps are served at <app>.lab.example.org"]
    );
    assert_eq!(
        new,
        ["  domain: home.example.net          # apps are served at <app>.lab.example.org"]
    );
    // A longer value pushes the comment right, one space from the value at least.
    let out = edit(&text, |c| {
        c.storage.nfs_path = "/volume1/a-much-longer-exported-directory".into()
    });
    let (_, new) = changed_lines(&text, &out);
    assert_eq!(
        new,
        [
            "  nfs_path: /volume1/a-much-longer-exported-directory # the exported directory, absolute"
        ]
    );
    // Numbers and booleans are written as such.
    let out = edit(&text, |c| c.storage.default_class = true);
    let (_, new) = changed_lines(&text, &out);
    assert_eq!(
        new,
        ["  default_class: true               # leave the cluster's default StorageClass alone"]
    );
}

#[test]
fn the_quoting_style_is_kept_when_the_value_allows_it() {
    let text = base()
        .replace("branch: production", "branch: 'production'")
        .replace("version: v2.9.4", "version: \"v2.9.4\"");
    let out = edit(&text, |c| {
        c.git.branch = "it's-main".into();
        c.flux.version = "v2.9.5".into();
        c.network.ingress_address = "10.20.3.201".into();
    });
    let (_, new) = changed_lines(&text, &out);
    assert!(new.contains(&"  branch: 'it''s-main'"), "{new:?}");
    assert!(new.contains(&"  version: \"v2.9.5\""), "{new:?}");
    assert!(
        new.contains(&"  ingress_address: 10.20.3.201      # the ingress controller's fixed address, from the pool"),
        "{new:?}"
    );
}

#[test]
fn keys_are_added_at_the_end_of_their_mapping_and_removed_with_their_comments() {
    // The example sets storage.local_class: removed, it goes with its comment...
    let example = base();
    let text = edit(&example, |c| c.storage.local_class = None);
    let (old, new) = changed_lines(&example, &text);
    assert_eq!(
        old,
        ["  local_class: local-path           # node-local class for app databases (k3s ships it)"]
    );
    assert!(new.is_empty(), "{new:?}");
    // ...and added back, it goes at the end of its mapping.
    let out = edit(&text, |c| c.storage.local_class = Some("local-path".into()));
    let (old, new) = changed_lines(&text, &out);
    assert!(old.is_empty(), "{old:?}");
    assert_eq!(new, ["  local_class: local-path"]);
    assert!(
        out.contains("  default_class: false              # leave the cluster's default StorageClass alone\n  local_class: local-path\n\ngit:"),
        "{out}"
    );
    // A whole section the file did not have goes at the end of the file.
    let out2 = edit(&out, |c| {
        c.charts.mirror = Some(Mirror {
            helm_repository: Some("https://charts.lab.example.org".into()),
            ..Mirror::default()
        })
    });
    let (old, new) = changed_lines(&out, &out2);
    assert!(old.is_empty(), "{old:?}");
    assert_eq!(
        new,
        [
            "charts:",
            "  mirror:",
            "    helm_repository: https://charts.lab.example.org"
        ]
    );
    // A key removed goes with the comment lines above it.
    let commented = out.replace(
        "  local_class: local-path",
        "  # databases stay on the nodes\n  local_class: local-path   # k3s ships it",
    );
    let back = edit(&commented, |c| c.storage.local_class = None);
    assert_eq!(back, text);
    // A key the model leaves out when it holds the default is added where it was missing.
    let no_ingress = text.replace(
        "ingress:\n  controller: envoy-gateway         # traefik (default) or envoy-gateway (Gateway API)\n\n",
        "",
    );
    let out = edit(&no_ingress, |c| {
        c.ingress.controller = crate::config::IngressController::EnvoyGateway
    });
    assert!(
        out.ends_with("ingress:\n  controller: envoy-gateway\n"),
        "{out}"
    );
}

#[test]
fn list_items_are_changed_added_and_deleted_one_by_one() {
    let text = base();
    // A changed item: only its changed value.
    let out = edit(&text, |c| c.nodes[3].address = "10.20.0.31".into());
    let (old, new) = changed_lines(&text, &out);
    assert_eq!(
        (old, new),
        (
            vec!["    address: 10.20.0.21"],
            vec!["    address: 10.20.0.31"]
        )
    );
    // A deleted item takes its own comment with it, nothing else.
    let out = edit(&text, |c| {
        c.nodes.remove(4);
    });
    let (old, new) = changed_lines(&text, &out);
    assert_eq!(
        old,
        [
            "  - name: worker-2                  # role defaults to worker",
            "    address: 10.20.0.22"
        ]
    );
    assert!(new.is_empty());
    // An added item follows the layout of the others.
    let out = edit(&text, |c| {
        c.nodes.insert(
            3,
            crate::config::Node {
                name: "cp-4".into(),
                address: "10.20.0.14".into(),
                role: NodeRole::ControlPlane,
            },
        )
    });
    let (old, new) = changed_lines(&text, &out);
    assert!(old.is_empty());
    assert_eq!(
        new,
        [
            "  - name: cp-4",
            "    address: 10.20.0.14",
            "    role: control-plane"
        ]
    );
    // Scalar items: one changed where it stands, one deleted with its comment.
    let out = edit(&text, |c| {
        c.network.loadbalancer_pool[1] = "10.20.3.240/29".into();
        c.flux.components.truncate(4);
    });
    assert_eq!(comments(&out), comments(&text));
    assert!(out.contains(
        "    - 10.20.3.200-10.20.3.219       # a range...\n    - 10.20.3.240/29                # ...and a CIDR"
    ), "{out}");
    let pool = edit(&text, |c| {
        c.network.loadbalancer_pool.remove(1);
    });
    let (old, new) = changed_lines(&text, &pool);
    assert_eq!(
        old,
        ["    - 10.20.3.224/28                # ...and a CIDR; entries never overlap"]
    );
    assert!(new.is_empty());
    assert!(
        out.contains("    - notification-controller\n\napps:"),
        "{out}"
    );
}

#[test]
fn settings_maps_are_edited_key_by_key() {
    let text = base();
    let out = edit(&text, |c| {
        let settings = &mut c.certificates.dns_settings;
        settings.insert("region".into(), "us-east-1".into());
        settings.remove("access_key_id");
    });
    let (old, new) = changed_lines(&text, &out);
    assert_eq!(
        old,
        [
            "    region: eu-central-1            # from AWS_SECRET_ACCESS_KEY by `homelab bootstrap`",
            "    hosted_zone_id: Z0123456789ABCDEFGHIJ",
            "    access_key_id: AKIAIOSFODNN7EXAMPLE",
        ]
    );
    assert_eq!(
        new,
        [
            "    region: us-east-1               # from AWS_SECRET_ACCESS_KEY by `homelab bootstrap`",
            "    hosted_zone_id: Z0123456789ABCDEFGHIJ",
        ]
    );
    // An app's settings: added below an app that had none, emptied back to none.
    let with_app = with_app_added(
        &text,
        &cfg(&text),
        &app("grafana", &[]),
        &crate::catalog::rules,
    )
    .expect("add");
    let out = edit(&with_app, |c| {
        c.apps[0]
            .settings
            .insert("storage_size".into(), "5Gi".into());
    });
    assert!(
        out.ends_with(
            "    host: grafana.lab.example.org\n    settings:\n      storage_size: 5Gi\n"
        ),
        "{out}"
    );
    let back = edit(&out, |c| c.apps[0].settings.clear());
    assert_eq!(back, with_app);
}

#[test]
fn values_that_yaml_would_misread_or_that_hide_characters_are_escaped() {
    let hostile = [
        "true",
        "No",
        "0755",
        "1e3",
        "12",
        "1.5",
        "~",
        "null",
        ".inf",
        "x: y #z",
        "a #b",
        "-a",
        "- a",
        "[x]",
        "{y}",
        "a,b",
        "*ref",
        "&anchor",
        "!tag",
        "%x",
        "@x",
        "`x",
        "'single'",
        "\"double\"",
        "back\\slash",
        " leading",
        "trailing ",
        "ends:",
        "",
        "x\nkind: Secret",
        "a\u{2028}b",
        "a\u{85}b",
        "zero\u{200B}width",
        "bidi\u{202E}txt",
        "tab\there",
        "bell\u{7}",
        "tag\u{E0041}",
        "é-accented",
        "10Gi",
        "plain",
        "10.20.0.11",
        "ssh://git@github.com/example/homelab.git",
    ];
    for style in [
        ScalarStyle::Plain,
        ScalarStyle::SingleQuoted,
        ScalarStyle::DoubleQuoted,
    ] {
        let old = Node {
            kind: Kind::Scalar("old".into()),
            start: 0,
            end: 3,
            flow: false,
            style,
        };
        for value in hostile {
            let new = Node {
                kind: Kind::Scalar(value.into()),
                start: 0,
                end: 0,
                flow: false,
                style: ScalarStyle::DoubleQuoted,
            };
            let written = replacement_scalar(&old, &new);
            let added = model_scalar(&new);
            for written in [&written, &added] {
                assert!(
                    !written.chars().any(crate::text::is_hidden),
                    "{value:?} written raw as {written:?}"
                );
            }
            for doc in [
                format!("k: {written}\n"),
                format!("k: [{written}, x]\n"),
                format!("k: {added}\n"),
            ] {
                let read: serde_json::Value = serde_saphyr::from_str(&doc).expect(&doc);
                let read = read["k"].as_array().map_or(&read["k"], |items| &items[0]);
                assert_eq!(read, value, "{value:?} written as {written:?} ({style:?})");
            }
        }
    }
    // Through a whole edit: a value homelab.yaml cannot hold is refused, with its key.
    let text = base();
    let mut intended = cfg(&text);
    intended.git.branch = "main\u{2028}x".into();
    let err = edited(&text, &cfg(&text), &intended, &crate::catalog::rules).expect_err("hidden");
    assert_eq!(err.exit_code(), 2);
    assert!(err.message.contains("git.branch"), "{}", err.message);
    // Values a YAML reader would misread are quoted and read back as written.
    let out = edit(&text, |c| {
        c.storage.local_class = Some("local-path".into());
        let settings = [
            ("admin_user", "@me"),
            ("time_zone", "-1"),
            ("storage_size", "5Gi"),
        ];
        c.apps.push(app("paperless-ngx", &settings));
    });
    for line in [
        "admin_user: \"@me\"",
        "time_zone: \"-1\"",
        "storage_size: 5Gi",
    ] {
        assert!(out.contains(line), "{line} in\n{out}");
    }
}

#[test]
fn an_invalid_result_is_refused_with_its_key() {
    let text = base();
    let mut bad = app("grafana", &[]);
    bad.host = "not a host".into();
    let err =
        with_app_added(&text, &cfg(&text), &bad, &crate::catalog::rules).expect_err("invalid");
    assert_eq!(err.exit_code(), 2);
    assert!(err.message.contains("apps[0].host"), "{}", err.message);
}

#[test]
fn a_layout_the_editor_cannot_follow_is_refused_without_writing() {
    let text = format!(
        "{}\nextra: &shared {{}}\n",
        base().replace("apps: []", "apps: []\nsame: *shared")
    );
    let current = cfg(&base());
    let mut intended = current.clone();
    intended.git.branch = "main".into();
    let err = edited(&text, &current, &intended, &crate::catalog::rules).expect_err("aliases");
    assert_eq!(err.exit_code(), 1);
    assert!(
        err.message.contains("cannot edit homelab.yaml in place"),
        "{}",
        err.message
    );
    assert!(err.hint.as_deref().is_some_and(|h| h.contains("by hand")));
}

/// A small deterministic generator (xorshift), so a failing case can be replayed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// One random valid change of a configuration derived from `examples/full.yaml`.
fn random_change(rng: &mut Rng, c: &mut Config) {
    let workers = c
        .nodes
        .iter()
        .filter(|n| n.role == NodeRole::Worker)
        .count();
    match rng.below(14) {
        0 => {
            let domain = ["home.example.net", "lab.example.org", "x.example.com"][rng.below(3)];
            c.cluster.domain = domain.into();
            for app in &mut c.apps {
                app.host = format!("{}.{domain}", app.name);
            }
        }
        1 => {
            let i = rng.below(c.nodes.len());
            let free =
                (30..60).find(|k| !c.nodes.iter().any(|n| n.address == format!("10.20.0.{k}")));
            c.nodes[i].address = format!("10.20.0.{}", free.expect("free address"));
        }
        2 => {
            let k = (1..99)
                .find(|k| !c.nodes.iter().any(|n| n.name == format!("w{k}")))
                .expect("name");
            let address = (60..99)
                .find(|a| !c.nodes.iter().any(|n| n.address == format!("10.20.0.{a}")))
                .expect("address");
            let at = rng.below(c.nodes.len() + 1);
            c.nodes.insert(
                at,
                crate::config::Node {
                    name: format!("w{k}"),
                    address: format!("10.20.0.{address}"),
                    role: NodeRole::Worker,
                },
            );
        }
        3 if workers > 0 => {
            let i = c
                .nodes
                .iter()
                .position(|n| n.role == NodeRole::Worker)
                .expect("a worker");
            c.nodes.remove(i);
        }
        4 => {
            let pool = &mut c.network.loadbalancer_pool;
            if pool.len() > 1 {
                pool.pop();
            } else {
                pool.push("10.20.3.240/29".into());
            }
        }
        5 => c.storage.default_class = !c.storage.default_class,
        6 => {
            c.storage.local_class = match c.storage.local_class {
                Some(_) => None,
                None => Some("local-path".into()),
            }
        }
        7 => {
            let components = &mut c.flux.components;
            if components.len() > 4 {
                components.remove(4 + rng.below(components.len() - 4));
            } else {
                components.push("image-reflector-controller".into());
            }
        }
        8 => {
            let settings = &mut c.certificates.dns_settings;
            if settings.remove("access_key_id").is_none() {
                settings.insert("access_key_id".into(), "AKIAI44QH8DHBEXAMPLE".into());
            }
            settings.insert(
                "region".into(),
                ["eu-west-1", "us-east-1"][rng.below(2)].into(),
            );
        }
        9 => {
            let name = ["grafana", "uptime-kuma", "nextcloud"][rng.below(3)];
            if let Some(i) = c.apps.iter().position(|a| a.name == name) {
                c.apps.remove(i);
            } else {
                let settings: &[(&str, &str)] = if rng.below(2) == 0 {
                    &[]
                } else {
                    &[("storage_size", "2Gi")]
                };
                let mut app = app(name, settings);
                app.host = format!("{name}.{}", c.cluster.domain);
                c.apps.push(app);
            }
        }
        10 if !c.apps.is_empty() => {
            let i = rng.below(c.apps.len());
            let size = format!("{}Gi", 1 + rng.below(50));
            c.apps[i].settings.insert("storage_size".into(), size);
        }
        11 => c.git.branch = ["main", "production", "it's", "#hash"][rng.below(4)].into(),
        12 => {
            c.ingress.controller = match c.ingress.controller {
                crate::config::IngressController::Traefik => {
                    crate::config::IngressController::EnvoyGateway
                }
                crate::config::IngressController::EnvoyGateway => {
                    crate::config::IngressController::Traefik
                }
            }
        }
        _ => {
            c.charts.mirror = match c.charts.mirror {
                Some(_) => None,
                None => Some(Mirror {
                    oci_registry: Some("oci://registry.lab.example.org/charts".into()),
                    ..Mirror::default()
                }),
            }
        }
    }
}

/// The comments of `text` on the lines of a list item or key the change removed: nodes by
/// name, pool entries and components by value, DNS settings by key.
fn comments_of_removed<'a>(text: &'a str, before: &Config, after: &Config) -> Vec<&'a str> {
    let lines: Vec<&str> = text.lines().collect();
    let mut lost = Vec::new();
    let mut take = |first: &str, item_lines: bool| {
        let Some(i) = lines.iter().position(|l| l.contains(first)) else {
            return;
        };
        let mut end = i + 1;
        while item_lines
            && end < lines.len()
            && lines[end].starts_with("    ")
            && !lines[end].trim_start().starts_with('-')
        {
            end += 1;
        }
        lost.extend(
            lines[i..end]
                .iter()
                .filter_map(|l| l.find('#').map(|k| &l[k..])),
        );
    };
    for node in before
        .nodes
        .iter()
        .filter(|n| !after.nodes.iter().any(|m| m.name == n.name))
    {
        take(&format!("- name: {}", node.name), true);
    }
    for entry in before
        .network
        .loadbalancer_pool
        .iter()
        .filter(|e| !after.network.loadbalancer_pool.contains(e))
    {
        take(&format!("- {entry}"), false);
    }
    for component in before
        .flux
        .components
        .iter()
        .filter(|e| !after.flux.components.contains(e))
    {
        take(&format!("- {component}"), false);
    }
    for key in before
        .certificates
        .dns_settings
        .keys()
        .filter(|k| !after.certificates.dns_settings.contains_key(*k))
    {
        take(&format!("    {key}:"), false);
    }
    // An optional key set to nothing goes with the comment on its line.
    if before.storage.local_class.is_some() && after.storage.local_class.is_none() {
        take("  local_class:", false);
    }
    lost
}

#[test]
fn random_edits_keep_every_comment_not_on_a_removed_item() {
    let text = base();
    let original = cfg(&text);
    for seed in 1..=300u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let mut intended = original.clone();
        for _ in 0..1 + rng.below(5) {
            random_change(&mut rng, &mut intended);
        }
        let out = match edited(&text, &original, &intended, &crate::catalog::rules) {
            Ok(out) => out,
            Err(e) => panic!("seed {seed}: {}\n{intended:#?}", e.message),
        };
        assert_eq!(cfg(&out), intended, "seed {seed}");
        let mut kept = comments(&out);
        let mut expected = comments(&text);
        for lost in comments_of_removed(&text, &original, &intended) {
            let i = expected
                .iter()
                .position(|c| *c == lost)
                .expect("a comment of the file");
            expected.remove(i);
        }
        kept.retain(|c| expected.contains(c));
        assert_eq!(kept, expected, "seed {seed}:\n{out}");
        // The header is never touched, and editing back restores the meaning.
        assert!(out.starts_with(&text[..text.find("version:").expect("version")]));
        let back = edited(&out, &intended, &original, &crate::catalog::rules).unwrap_or_else(|e| {
            let raw = edit_text(&out, &intended, &original).unwrap_or_default();
            panic!("seed {seed}: back: {}\n{out}\n----\n{raw}", e.message)
        });
        assert_eq!(cfg(&back), original, "seed {seed}");
    }
}
