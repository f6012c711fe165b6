//! Editing `homelab.yaml` in place: adding or removing one `apps:` entry as text, so the
//! user's comments, blank lines, key order and quoting survive.
//!
//! `homelab.yaml` is the user's file; rewriting it from the parsed model (as serializing
//! would) drops every comment. Instead, the YAML parser's positions locate the `apps:`
//! sequence and the one entry to add after or to cut out, and only those bytes change.
//! The result is parsed again with the one loader ([`super::validate::parse`]) and must equal
//! the intended configuration exactly; otherwise nothing is written.

use std::ops::Range;

use granit_parser::{Event, Parser, StructureStyle};

use super::{App, Config};
use crate::error::{Error, Result};

/// `text` (the current `homelab.yaml`, which parses to `current`) with `app` appended to
/// `apps:`. Errors name what is wrong: the would-be configuration's problems (exit 2), or a
/// layout the edit cannot handle (exit 1).
pub fn with_app_added(text: &str, current: &Config, app: &App) -> Result<String> {
    let mut intended = current.clone();
    intended.apps.push(app.clone());
    let edited = add_entry(text, app).map_err(unsupported)?;
    verify(&edited, &intended)?;
    Ok(edited)
}

/// `text` (the current `homelab.yaml`, which parses to `current`) without the `apps:` entry
/// named `name`.
pub fn with_app_removed(text: &str, current: &Config, name: &str) -> Result<String> {
    let mut intended = current.clone();
    intended.apps.retain(|a| a.name != name);
    let edited = remove_entry(text, name).map_err(unsupported)?;
    verify(&edited, &intended)?;
    Ok(edited)
}

fn unsupported(why: String) -> Error {
    Error::failed(format!("cannot edit homelab.yaml in place: {why}")).with_hint(
        "edit the apps: list of homelab.yaml by hand (see `homelab apps`), then run `homelab render`",
    )
}

/// The edited text must parse, pass every rule, and mean exactly the intended configuration.
fn verify(edited: &str, intended: &Config) -> Result<()> {
    match super::validate::parse(edited) {
        Ok(cfg) if cfg == *intended => Ok(()),
        Ok(_) => Err(unsupported(
            "the edited file does not read back as intended (anchors, aliases or merge keys in apps:?)"
                .to_owned(),
        )),
        Err(diagnostics) => {
            let lines: Vec<String> = diagnostics.iter().map(ToString::to_string).collect();
            Err(Error::usage(format!(
                "the change would make homelab.yaml invalid:\n{}",
                lines.join("\n")
            ))
            .with_hint("choose other values (see the keys above); nothing was changed"))
        }
    }
}

/// A YAML node with its byte range in the source.
#[derive(Debug)]
struct Node {
    kind: Kind,
    /// Where the node starts (a flow collection: at its bracket).
    start: usize,
    /// Where its last character ends.
    end: usize,
    flow: bool,
}

#[derive(Debug)]
enum Kind {
    Scalar(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

impl Node {
    fn get(&self, key: &str) -> Option<(&Node, &Node)> {
        match &self.kind {
            Kind::Map(pairs) => pairs
                .iter()
                .find(|(k, _)| matches!(&k.kind, Kind::Scalar(s) if s == key))
                .map(|(k, v)| (k, v)),
            _ => None,
        }
    }
}

type Events<'a> = std::iter::Peekable<std::vec::IntoIter<(Event<'a>, Range<usize>)>>;

/// The document's root node.
fn parse(text: &str) -> std::result::Result<Node, String> {
    let mut events = Vec::new();
    for item in Parser::new_from_str(text) {
        let (event, span) = item.map_err(|e| format!("it is not valid YAML ({e})"))?;
        let range = span
            .byte_range()
            .ok_or_else(|| "the parser gave no byte positions".to_owned())?;
        match event {
            Event::Scalar(..)
            | Event::SequenceStart(..)
            | Event::SequenceEnd
            | Event::MappingStart(..)
            | Event::MappingEnd
            | Event::Alias(..) => events.push((event, range)),
            _ => {}
        }
    }
    let mut events: Events<'_> = events.into_iter().peekable();
    node(&mut events)
}

fn node(events: &mut Events<'_>) -> std::result::Result<Node, String> {
    let (event, range) = events.next().ok_or("the document ended early")?;
    match event {
        Event::Scalar(value, ..) => Ok(Node {
            kind: Kind::Scalar(value.into_owned()),
            start: range.start,
            end: range.end,
            flow: false,
        }),
        Event::SequenceStart(style, ..) => {
            let mut items = Vec::new();
            let mut end = range.end;
            loop {
                if matches!(events.peek(), Some((Event::SequenceEnd, _))) {
                    let (_, close) = events.next().expect("peeked");
                    if style == StructureStyle::Flow {
                        end = close.end;
                    }
                    break;
                }
                let item = node(events)?;
                end = end.max(item.end);
                items.push(item);
            }
            Ok(Node {
                kind: Kind::Seq(items),
                start: range.start,
                end,
                flow: style == StructureStyle::Flow,
            })
        }
        Event::MappingStart(style, ..) => {
            let mut pairs = Vec::new();
            let mut end = range.end;
            loop {
                if matches!(events.peek(), Some((Event::MappingEnd, _))) {
                    let (_, close) = events.next().expect("peeked");
                    if style == StructureStyle::Flow {
                        end = close.end;
                    }
                    break;
                }
                let key = node(events)?;
                let value = node(events)?;
                end = end.max(key.end).max(value.end);
                pairs.push((key, value));
            }
            Ok(Node {
                kind: Kind::Map(pairs),
                start: range.start,
                end,
                flow: style == StructureStyle::Flow,
            })
        }
        Event::Alias(..) => Err("apps: uses YAML aliases".to_owned()),
        _ => Err("unexpected YAML structure".to_owned()),
    }
}

/// The byte offset of the start of the line holding `pos`.
fn line_start(text: &str, pos: usize) -> usize {
    text[..pos].rfind('\n').map_or(0, |i| i + 1)
}

/// The byte offset just after the line break ending the line holding `pos` (or the end).
fn next_line(text: &str, pos: usize) -> usize {
    text[pos..].find('\n').map_or(text.len(), |i| pos + i + 1)
}

/// The column (in bytes) of `pos` on its line.
fn column(text: &str, pos: usize) -> usize {
    pos - line_start(text, pos)
}

/// The `-` that introduces the block sequence item starting at `pos`.
fn dash_before(text: &str, pos: usize) -> std::result::Result<usize, String> {
    let before = &text[line_start(text, pos)..pos];
    let offset = before
        .rfind('-')
        .ok_or("an apps: entry is not introduced by '-' on its line")?;
    Ok(line_start(text, pos) + offset)
}

/// A scalar as YAML: plain when it cannot be read as anything but this string, else quoted.
fn scalar(value: &str) -> String {
    let reserved = [
        "true", "false", "yes", "no", "on", "off", "y", "n", "null", "~",
    ];
    let plain_word = value
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '/'));
    let size = regex::Regex::new("^[0-9]+[A-Za-z]+$").expect("constant regex");
    if (plain_word && !reserved.contains(&value.to_ascii_lowercase().as_str()))
        || size.is_match(value)
    {
        value.to_owned()
    } else {
        serde_json::to_string(value).expect("a string serializes")
    }
}

/// The entry as block YAML lines: `-` at column `dash`, keys at column `key`.
fn block_entry(app: &App, dash: usize, key: usize) -> String {
    let pad = |n: usize| " ".repeat(n);
    let mut out = format!(
        "{}-{}name: {}\n",
        pad(dash),
        pad(key.saturating_sub(dash + 1).max(1)),
        scalar(&app.name)
    );
    let key = key.max(dash + 2);
    out.push_str(&format!(
        "{}namespace: {}\n",
        pad(key),
        scalar(&app.namespace)
    ));
    out.push_str(&format!("{}host: {}\n", pad(key), scalar(&app.host)));
    if !app.settings.is_empty() {
        out.push_str(&format!("{}settings:\n", pad(key)));
        for (k, v) in &app.settings {
            out.push_str(&format!("{}{}: {}\n", pad(key + 2), scalar(k), scalar(v)));
        }
    }
    out
}

/// The entry as one flow mapping (JSON is valid flow YAML).
fn flow_entry(app: &App) -> String {
    let mut map = serde_json::Map::new();
    map.insert("name".into(), app.name.clone().into());
    map.insert("namespace".into(), app.namespace.clone().into());
    map.insert("host".into(), app.host.clone().into());
    if !app.settings.is_empty() {
        map.insert(
            "settings".into(),
            serde_json::to_value(&app.settings).expect("a string map serializes"),
        );
    }
    serde_json::Value::Object(map).to_string()
}

fn add_entry(text: &str, app: &App) -> std::result::Result<String, String> {
    let root = parse(text)?;
    let Some((key, value)) = root.get("apps") else {
        // No apps: yet: append the key with the entry.
        let mut out = text.to_owned();
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str("apps:\n");
        out.push_str(&block_entry(app, 2, 4));
        return Ok(out);
    };
    let indent = column(text, key.start) + 2;
    match &value.kind {
        // `apps:` with no value, `~` or `null`; or `apps: []`: the entry goes below the key's
        // line (after any comment on it), the empty value goes.
        Kind::Scalar(_) | Kind::Seq(_) if value_is_empty(value) => {
            let insert_at = next_line(text, value.end.max(key.end));
            let mut out = String::new();
            out.push_str(&text[..value.start]);
            // Blank the value rather than cut it, so a comment after it keeps its column.
            out.push_str(&" ".repeat(value.end - value.start));
            out.push_str(&text[value.end..insert_at]);
            if !out.ends_with('\n') {
                out.push('\n');
            }
            out.push_str(&block_entry(app, indent, indent + 2));
            out.push_str(&text[insert_at..]);
            // `apps:` now ends its line right after the colon (or the comment).
            Ok(tidy_key_line(&out, key.start))
        }
        Kind::Seq(items) if value.flow => {
            let last = items.last().expect("not empty").end;
            Ok(format!(
                "{}, {}{}",
                &text[..last],
                flow_entry(app),
                &text[last..]
            ))
        }
        Kind::Seq(items) => {
            let first = &items[0];
            let dash = column(text, dash_before(text, first.start)?);
            let last = items.last().expect("not empty");
            let insert_at = next_line(text, last.end);
            let entry = if first.flow {
                format!("{}- {}\n", " ".repeat(dash), flow_entry(app))
            } else {
                block_entry(app, dash, column(text, first.start))
            };
            let mut out = text[..insert_at].to_owned();
            if !out.ends_with('\n') {
                out.push('\n');
            }
            out.push_str(&entry);
            out.push_str(&text[insert_at..]);
            Ok(out)
        }
        _ => Err("apps: is not a list".to_owned()),
    }
}

fn value_is_empty(value: &Node) -> bool {
    match &value.kind {
        Kind::Scalar(s) => s.is_empty() || s == "~" || s == "null",
        Kind::Seq(items) => items.is_empty(),
        Kind::Map(_) => false,
    }
}

/// Remove trailing spaces left on the line of the key at `key_start`.
fn tidy_key_line(text: &str, key_start: usize) -> String {
    let end = next_line(text, key_start);
    let line = &text[key_start..end];
    let trimmed = line.trim_end_matches(['\n']).trim_end_matches([' ', '\t']);
    format!(
        "{}{}{}{}",
        &text[..key_start],
        trimmed,
        if line.ends_with('\n') { "\n" } else { "" },
        &text[end..]
    )
}

fn remove_entry(text: &str, name: &str) -> std::result::Result<String, String> {
    let root = parse(text)?;
    let (key, value) = root.get("apps").ok_or("there is no apps: list")?;
    let Kind::Seq(items) = &value.kind else {
        return Err("apps: is not a list".to_owned());
    };
    let index = items
        .iter()
        .position(|item| matches!(item.get("name"), Some((_, v)) if matches!(&v.kind, Kind::Scalar(s) if s == name)))
        .ok_or_else(|| format!("apps: has no entry named {name:?}"))?;
    let item = &items[index];
    if value.flow {
        let (start, end) = if index + 1 < items.len() {
            (item.start, items[index + 1].start)
        } else if index > 0 {
            (items[index - 1].end, item.end)
        } else {
            (item.start, item.end)
        };
        return Ok(format!("{}{}", &text[..start], &text[end..]));
    }
    let start = line_start(text, dash_before(text, item.start)?);
    let end = next_line(text, item.end);
    if items.len() > 1 {
        return Ok(format!("{}{}", &text[..start], &text[end..]));
    }
    // The last entry: the list becomes `apps: []`, keeping a comment on the key's line in
    // its column.
    let colon = key.end + text[key.end..].find(':').ok_or("apps has no ':'")?;
    let mut after = &text[colon + 1..start];
    if let Some(rest) = after.strip_prefix("   ")
        && rest.trim_start_matches(' ').starts_with('#')
    {
        after = rest;
    }
    Ok(format!("{} []{}{}", &text[..=colon], after, &text[end..]))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

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
        include_str!("../../examples/full.yaml").to_owned()
    }

    fn cfg(text: &str) -> Config {
        super::super::validate::parse(text).expect("valid")
    }

    fn comments(text: &str) -> Vec<&str> {
        text.lines()
            .filter_map(|l| l.find('#').map(|i| &l[i..]))
            .collect()
    }

    #[test]
    fn adding_and_removing_keeps_every_comment_and_round_trips() {
        let text = base();
        let grafana = app("grafana", &[("storage_size", "10Gi")]);
        let added = with_app_added(&text, &cfg(&text), &grafana).expect("add");
        assert_eq!(comments(&added), comments(&text), "{added}");
        assert_eq!(cfg(&added).apps, vec![grafana.clone()]);
        let nextcloud = app(
            "nextcloud",
            &[("database", "bundled"), ("upload_limit", "16G")],
        );
        let two = with_app_added(&added, &cfg(&added), &nextcloud).expect("add");
        assert_eq!(cfg(&two).apps, vec![grafana.clone(), nextcloud.clone()]);
        assert!(two.starts_with(&added[..added.find("apps:").expect("apps")]));
        let one = with_app_removed(&two, &cfg(&two), "grafana").expect("remove");
        assert_eq!(cfg(&one).apps, vec![nextcloud]);
        let none = with_app_removed(&one, &cfg(&one), "nextcloud").expect("remove");
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
            "apps:\n- name: grafana\n  namespace: grafana\n  host: grafana.lab.example.org\n",
            "apps:\n    -   name: grafana   # mine\n        namespace: grafana\n        host: grafana.lab.example.org\n# trailing\n",
            "apps: [{name: grafana, namespace: grafana, host: grafana.lab.example.org}]\n",
            "apps:\n  - {name: grafana, namespace: grafana, host: grafana.lab.example.org}\n",
        ] {
            let text = format!("{head}{tail}");
            let current = cfg(&text);
            let (first, expected) = if current.apps.is_empty() {
                (a.clone(), vec![a.clone(), b.clone()])
            } else {
                (b.clone(), vec![a.clone(), b.clone()])
            };
            let mut edited = with_app_added(&text, &current, &first).expect(tail);
            if current.apps.is_empty() {
                edited = with_app_added(&edited, &cfg(&edited), &b).expect(tail);
            }
            assert_eq!(cfg(&edited).apps, expected, "{tail}\n{edited}");
            for c in comments(tail) {
                assert!(edited.contains(c), "{c} lost:\n{edited}");
            }
            let removed = with_app_removed(&edited, &cfg(&edited), "grafana").expect(tail);
            assert_eq!(cfg(&removed).apps, vec![b.clone()], "{removed}");
        }
        // No apps: key at all.
        let text = head.to_owned();
        let edited = with_app_added(&text, &cfg(&text), &a).expect("no key");
        assert_eq!(cfg(&edited).apps, vec![a]);
    }

    #[test]
    fn values_that_yaml_would_misread_are_quoted() {
        for value in [
            "true", "No", "0755", "1e3", "12", "x: y #z", "-a", "10Gi", "plain", "",
        ] {
            let doc: serde_json::Value =
                serde_saphyr::from_str(&format!("k: {}\n", scalar(value))).expect(value);
            assert_eq!(doc["k"], value, "{value:?} written as {}", scalar(value));
        }
        assert_eq!(scalar("10Gi"), "10Gi");
        assert_eq!(scalar("grafana.lab.example.org"), "grafana.lab.example.org");
    }

    #[test]
    fn an_invalid_result_is_refused_with_its_key() {
        let text = base();
        let mut bad = app("grafana", &[]);
        bad.host = "not a host".into();
        let err = with_app_added(&text, &cfg(&text), &bad).expect_err("invalid");
        assert_eq!(err.exit_code(), 2);
        assert!(err.message.contains("apps[0].host"), "{}", err.message);
    }
}
