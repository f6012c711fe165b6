//! The template environment: every file under `templates/` embedded in the binary, strict
//! undefined behaviour, and output no value can break out of.
//!
//! Every `{{ value }}` in a `.yaml` template is written as JSON (minijinja's JSON auto-escape),
//! and JSON scalars are valid YAML flow scalars: a string becomes a quoted, escaped literal.
//! JSON leaves some characters raw that YAML 1.1 parsers (kustomize's go-yaml, so Flux)
//! treat as line breaks (U+0085, U+2028, U+2029) or reject (other control characters), and
//! invisible format characters hide in diffs: the one output formatter of the environment
//! ([`format_value`]) writes each of them as a `\uXXXX` escape, in every context, comments
//! and `|safe` output included, so not even a value that bypassed validation can end a line.
//! Numbers and booleans stay bare. Structured values that should read as YAML go through the
//! `toyaml` filter ([`to_block_yaml`]), which follows the same rules. Other files (the
//! repository's README) get the same characters escaped, and line breaks too.

use std::collections::BTreeMap;

use include_dir::{Dir, include_dir};
use minijinja::syntax::SyntaxConfig;
use minijinja::{
    AutoEscape, Environment, Error, ErrorKind, Output, State, UndefinedBehavior, Value,
};

use crate::text::{double_quoted, escape_hidden, plain_scalar};

/// The `templates/` directory, embedded at build time.
pub static TEMPLATES: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/templates");

/// Every embedded template file, as `(path relative to templates/, source)`.
pub fn sources() -> Vec<(String, &'static str)> {
    fn walk(dir: &'static Dir<'static>, out: &mut Vec<(String, &'static str)>) {
        for file in dir.files() {
            if let Some(text) = file.contents_utf8() {
                out.push((file.path().to_string_lossy().into_owned(), text));
            }
        }
        for sub in dir.dirs() {
            walk(sub, out);
        }
    }
    let mut out = Vec::new();
    walk(&TEMPLATES, &mut out);
    out.sort();
    out
}

/// A strict environment with the given templates: undefined values are errors, output is
/// YAML-escaped. `sources` lets tests render older template sets too.
pub fn environment_with(
    sources: Vec<(String, &'static str)>,
) -> Result<Environment<'static>, minijinja::Error> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_syntax(
        SyntaxConfig::builder()
            .keep_trailing_newline(true)
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()?,
    );
    env.set_auto_escape_callback(|name| {
        if name.ends_with(".yaml") || name.ends_with(".yml") {
            AutoEscape::Json
        } else {
            AutoEscape::None
        }
    });
    env.set_formatter(format_value);
    env.add_filter("toyaml", toyaml);
    for (name, source) in sources {
        env.add_template_owned(name, source)?;
    }
    Ok(env)
}

/// Characters a template's own text may hold in spliced (`|safe`) output: the line
/// structure of the template itself.
const TEMPLATE_WHITESPACE: &[char] = &['\n', '\r', '\t'];

/// The output formatter: JSON in YAML files, plain text elsewhere, and in both every hidden
/// character (see [`crate::text::is_hidden`]) escaped.
fn format_value(out: &mut Output, state: &mut State, value: &Value) -> Result<(), Error> {
    let text = if value.is_safe() {
        // Spliced text: JSON from `tojson`/`toyaml` (where a raw character can only sit in a
        // string, so the escape stands for it) or a pre-rendered block.
        escape_hidden(value.as_str().unwrap_or_default(), TEMPLATE_WHITESPACE)
    } else {
        match state.auto_escape() {
            AutoEscape::Json => escape_hidden(&to_json(value)?, &[]),
            // Markdown and other text: a value has no business starting a line there either.
            _ => escape_hidden(&value.to_string(), &[]),
        }
    };
    out.write_str(&text).map_err(Error::from)
}

fn to_json(value: &Value) -> Result<String, Error> {
    serde_json::to_string(value).map_err(|e| {
        Error::new(
            ErrorKind::BadSerialization,
            "cannot write the value as JSON",
        )
        .with_source(e)
    })
}

/// The `toyaml(indent, comments)` filter: a value as block YAML, every line indented by
/// `indent` spaces, for a template to place under a key (`values:` then
/// `{{ v | toyaml(4) }}`). `comments` maps dot paths of keys (`speaker.frr`) to comments
/// written above them.
fn toyaml(value: &Value, indent: Option<usize>, comments: Option<Value>) -> Result<Value, Error> {
    let read_back = |v: &Value| {
        serde_json::from_str(&to_json(v)?).map_err(|e| {
            Error::new(ErrorKind::BadSerialization, "cannot read the value back").with_source(e)
        })
    };
    let json: serde_json::Value = read_back(value)?;
    let comments: BTreeMap<String, String> = match comments {
        Some(c) if !c.is_none() && !c.is_undefined() => serde_json::from_value(read_back(&c)?)
            .map_err(|e| {
                Error::new(
                    ErrorKind::InvalidOperation,
                    "comments must map paths to text",
                )
                .with_source(e)
            })?,
        _ => BTreeMap::new(),
    };
    Ok(Value::from_safe_string(to_block_yaml_commented(
        &json,
        indent.unwrap_or(0),
        &comments,
    )))
}

/// `value` as block YAML (mappings and sequences as blocks, one entry a line) with every
/// line indented by `indent` spaces and no trailing newline. Strings are written plain only
/// when every YAML 1.1 and 1.2 parser reads them back as that same string (see
/// [`plain_scalar`]); otherwise as JSON strings with hidden characters escaped. Empty
/// collections and scalars at the top are written on one line (`{}`), which YAML reads as
/// the value of the key above.
pub fn to_block_yaml(value: &serde_json::Value, indent: usize) -> String {
    to_block_yaml_commented(value, indent, &BTreeMap::new())
}

/// [`to_block_yaml`] with `comments` (dot path of a key → text) written above their keys,
/// one `# ` line per line of text, hidden characters escaped.
pub fn to_block_yaml_commented(
    value: &serde_json::Value,
    indent: usize,
    comments: &BTreeMap<String, String>,
) -> String {
    let mut out = String::new();
    block(value, indent, "", comments, &mut out);
    out
}

fn block(
    value: &serde_json::Value,
    indent: usize,
    path: &str,
    comments: &BTreeMap<String, String>,
    out: &mut String,
) {
    use serde_json::Value as J;
    let pad = " ".repeat(indent);
    match value {
        J::Object(map) if !map.is_empty() => {
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push('\n');
                }
                let path = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                if let Some(comment) = comments.get(&path) {
                    for line in comment.lines() {
                        out.push_str(&pad);
                        out.push_str(format!("# {}", escape_hidden(line, &[])).trim_end());
                        out.push('\n');
                    }
                }
                out.push_str(&pad);
                out.push_str(&scalar_string(key));
                out.push(':');
                if is_nested(item) {
                    out.push('\n');
                    block(item, indent + 2, &path, comments, out);
                } else {
                    out.push(' ');
                    out.push_str(&scalar(item));
                }
            }
        }
        J::Array(items) if !items.is_empty() => {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push('\n');
                }
                if is_nested(item) {
                    // The item's first line takes the dash in place of its indentation.
                    let mut nested = String::new();
                    block(
                        item,
                        indent + 2,
                        &format!("{path}[{i}]"),
                        comments,
                        &mut nested,
                    );
                    // A comment on the item's first key goes above the dash.
                    let mut rest = nested.as_str();
                    while rest[indent + 2..].starts_with('#') {
                        let (line, tail) =
                            rest.split_at(rest.find('\n').map_or(rest.len(), |n| n + 1));
                        out.push_str(&pad);
                        out.push_str(&line[indent + 2..]);
                        rest = tail;
                    }
                    out.push_str(&pad);
                    out.push_str("- ");
                    out.push_str(&rest[indent + 2..]);
                } else {
                    out.push_str(&pad);
                    out.push_str("- ");
                    out.push_str(&scalar(item));
                }
            }
        }
        other => {
            out.push_str(&pad);
            out.push_str(&scalar(other));
        }
    }
}

fn is_nested(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::Object(m) => !m.is_empty(),
        serde_json::Value::Array(a) => !a.is_empty(),
        _ => false,
    }
}

/// A scalar (or an empty collection) on one line.
fn scalar(value: &serde_json::Value) -> String {
    use serde_json::Value as J;
    match value {
        J::String(s) => scalar_string(s),
        J::Object(_) => "{}".to_owned(),
        J::Array(_) => "[]".to_owned(),
        other => other.to_string(),
    }
}

fn scalar_string(s: &str) -> String {
    if plain_scalar(s) {
        s.to_owned()
    } else {
        double_quoted(s)
    }
}

/// The environment with the templates embedded in this binary.
pub fn environment() -> Result<Environment<'static>, minijinja::Error> {
    environment_with(sources())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_quoted_so_they_cannot_inject_yaml() {
        let mut env = environment_with(Vec::new()).expect("env");
        env.add_template("t.yaml", "name: {{ name }}\nport: {{ port }}\n")
            .expect("add");
        let hostile = "x\nkind: Secret\n# \"'";
        let out = env
            .get_template("t.yaml")
            .expect("get")
            .render(minijinja::context! { name => hostile, port => 443 })
            .expect("render");
        let doc: serde_json::Value = serde_saphyr::from_str(&out).expect("parses");
        assert_eq!(doc["name"], hostile);
        assert_eq!(doc["port"], 443);
        assert!(doc.get("kind").is_none());
    }

    #[test]
    fn undefined_values_are_errors() {
        let mut env = environment_with(Vec::new()).expect("env");
        env.add_template("t.yaml", "a: {{ missing }}\n")
            .expect("add");
        assert!(
            env.get_template("t.yaml")
                .expect("get")
                .render(minijinja::context! {})
                .is_err()
        );
    }

    /// Every character class YAML 1.1 ends a line at or cannot show, next to the characters
    /// that matter to YAML structure.
    const HOSTILE: &str = "a\u{2028}b: c\u{2029}d\u{85}e\n# f\u{200B}g\u{202E}h\u{FEFF}i\u{7F}j\u{E0041}k \"'{{ x }}\\ --- ";

    fn hidden_left(text: &str) -> Vec<char> {
        text.chars()
            .filter(|c| crate::text::is_hidden(*c) && !TEMPLATE_WHITESPACE.contains(c))
            .collect()
    }

    #[test]
    fn hidden_characters_are_escaped_in_values_comments_and_text_files() {
        let mut env = environment_with(Vec::new()).expect("env");
        env.add_template(
            "t.yaml",
            "# share {{ a ~ \":\" ~ b }}.\nname: {{ b }}\nlist: {{ l }}\n",
        )
        .expect("add");
        env.add_template("t.md", "# {{ b }}\n").expect("add");
        let ctx = minijinja::context! { a => "nas", b => HOSTILE, l => vec![HOSTILE] };
        let out = env.get_template("t.yaml").unwrap().render(&ctx).unwrap();
        assert_eq!(hidden_left(&out), Vec::<char>::new(), "{out}");
        assert_eq!(out.lines().count(), 3, "{out}");
        let doc: serde_json::Value = serde_saphyr::from_str(&out).expect("parses");
        assert_eq!(doc["name"], HOSTILE);
        assert_eq!(doc["list"][0], HOSTILE);
        let md = env.get_template("t.md").unwrap().render(&ctx).unwrap();
        assert_eq!(hidden_left(&md), Vec::<char>::new(), "{md}");
        assert_eq!(md.lines().count(), 1, "{md}");
    }

    #[test]
    fn safe_output_is_escaped_too() {
        let mut env = environment_with(Vec::new()).expect("env");
        env.add_template("t.yaml", "v: {{ v | tojson }}\nw: {{ v | safe }}\n")
            .expect("add");
        let out = env
            .get_template("t.yaml")
            .unwrap()
            .render(minijinja::context! { v => "x\u{2028}y" })
            .unwrap();
        assert_eq!(out, "v: \"x\\u2028y\"\nw: x\\u2028y\n");
    }

    #[test]
    fn toyaml_writes_readable_blocks_that_read_back_exactly() {
        let value = serde_json::json!({
            "plain": "nextcloud.example.com",
            "number": 8080,
            "flag": true,
            "none": null,
            "empty": {},
            "nothing": [],
            "list": ["a", {"k": "v", "n": [1, 2]}, ["x", "y"]],
            "ini": "upload_max_filesize = 16G\npost_max_size = 16G",
            "yaml11": ["yes", "No", "on", "~", "0x1", "1e3", "0755", "1:20", ".inf", "null", "y", "=", "<<"],
            "spaces": [" lead", "trail ", ""],
            "hostile": HOSTILE,
            HOSTILE: "as a key",
        });
        let text = to_block_yaml(&value, 4);
        assert!(
            text.contains("    plain: nextcloud.example.com\n"),
            "{text}"
        );
        assert!(text.contains("    number: 8080\n"), "{text}");
        // `n` is a YAML 1.1 boolean, so even as a key it is quoted.
        assert!(
            text.contains("    list:\n      - a\n      - k: v\n        \"n\":\n          - 1\n"),
            "{text}"
        );
        assert_eq!(hidden_left(&text), Vec::<char>::new(), "{text}");
        let doc = format!("values:\n{text}\n");
        let back: serde_json::Value = serde_saphyr::from_str(&doc).expect("parses");
        assert_eq!(back["values"], value, "{doc}");
        // A top-level empty mapping is still the value of the key above it.
        let empty = format!("values:\n{}\n", to_block_yaml(&serde_json::json!({}), 4));
        let back: serde_json::Value = serde_saphyr::from_str(&empty).unwrap();
        assert_eq!(back["values"], serde_json::json!({}));
    }

    #[test]
    fn toyaml_writes_comments_above_their_keys_and_they_read_back_as_comments() {
        let env = environment().unwrap();
        let comments = serde_json::json!({
            "speaker.frr": "No BGP.\nSo no FRR.",
            "args[0].name": "first \u{2028}item",
            "missing": "never written",
        });
        let out = env
            .render_str(
                "values:\n{{ v | toyaml(2, comments) }}\n",
                minijinja::context! {
                    v => Value::from(minijinja::value::Serde(
                        serde_json::json!({"speaker": {"frr": {"enabled": false}}, "args": [{"name": "a"}]}),
                    )),
                    comments => Value::from(minijinja::value::Serde(comments)),
                },
            )
            .unwrap();
        assert_eq!(
            out,
            "values:\n  args:\n    # first \\u2028item\n    - name: a\n  speaker:\n    \
             # No BGP.\n    # So no FRR.\n    frr:\n      enabled: false\n"
        );
        let back: serde_json::Value = serde_saphyr::from_str(&out).unwrap();
        assert_eq!(back["values"]["speaker"]["frr"]["enabled"], false);
    }
}
