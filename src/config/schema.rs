//! The schema of `homelab.yaml`, derived from the serde model and written nowhere by hand.
//!
//! schemars derives the JSON Schema of [`Config`] from the attributes serde reads (types,
//! required keys, enum names, defaults, `deny_unknown_fields`) and from the doc comments
//! (descriptions). `homelab schema` prints it, `homelab render` writes it beside
//! `homelab.yaml` for editors, and the structure pass of validation walks it: what an editor
//! flags, what validation reports and what serde reads come from the same definitions.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::config::Config;

/// The schema file written beside `homelab.yaml`; the modeline at the top of the file points
/// YAML language servers at it.
pub const SCHEMA_FILE: &str = "homelab.schema.json";

/// The first line of `homelab.yaml`: editors with a YAML language server (VS Code's YAML
/// extension, Helix, Neovim, Zed…) then complete and check the file as it is typed. The path
/// is relative to `homelab.yaml`, so it works offline and in every clone.
pub fn modeline() -> String {
    format!("# yaml-language-server: $schema={SCHEMA_FILE}")
}

/// Where schemars puts the definitions of draft-07 schemas.
const DEFINITIONS: &str = "definitions";

/// The JSON Schema of `homelab.yaml`, in draft-07: the newest draft YAML language servers
/// fully support.
pub fn json_schema() -> Value {
    let mut schema = json_schema_of::<Config>();
    if let Value::Object(root) = &mut schema {
        root.insert("title".into(), json!("homelab.yaml"));
    }
    schema
}

/// The JSON Schema of a part of the model (`Config`, or a type in a test).
pub(crate) fn json_schema_of<T: schemars::JsonSchema>() -> Value {
    let generator = schemars::generate::SchemaSettings::draft07().into_generator();
    let mut schema = generator.into_root_schema_for::<T>().to_value();
    finish(&mut schema);
    schema
}

/// [`json_schema`] as the text `homelab schema` prints and the file holds.
pub fn json_schema_text() -> String {
    // A map of strings, numbers and lists: it always serializes.
    let mut text = serde_json::to_string_pretty(&json_schema()).expect("JSON serializes");
    text.push('\n');
    text
}

/// The keys of every struct of the model in declaration order, by serde's container name:
/// JSON Schema objects are unordered, and messages list keys in the order of the file.
/// Traced from serde's own `Deserialize`, so it is the order serde knows.
pub fn key_order() -> BTreeMap<String, Vec<String>> {
    // Tracing fails only on serde features the model does not use (untagged or flattened
    // types, custom deserializers); every test that validates a file runs it.
    key_order_of::<Config>().expect("the model's Deserialize can be traced")
}

/// [`key_order`] of a part of the model.
pub(crate) fn key_order_of<T>() -> Result<BTreeMap<String, Vec<String>>, String>
where
    T: for<'de> serde::Deserialize<'de>,
{
    use serde_reflection::{ContainerFormat, Tracer, TracerConfig};
    let mut tracer = Tracer::new(TracerConfig::default());
    tracer
        .trace_simple_type::<T>()
        .map_err(|e| format!("serde's view of the model cannot be traced: {e}"))?;
    // Not `registry()`: that insists on every variant of every nested enum being traced,
    // and only the structs' keys are wanted here.
    let registry = tracer.registry_unchecked();
    Ok(registry
        .into_iter()
        .filter_map(|(name, format)| match format {
            ContainerFormat::Struct(fields) => {
                Some((name, fields.into_iter().map(|f| f.name).collect()))
            }
            _ => None,
        })
        .collect())
}

/// Tidy what schemars derives for the editors that read it: descriptions as one paragraph
/// (doc comments wrap at 100 columns), and an empty value allowed for every optional key, as
/// validation allows it (`git:` takes the defaults).
fn finish(schema: &mut Value) {
    let Value::Object(map) = schema else {
        return;
    };
    if let Some(Value::String(text)) = map.get_mut("description") {
        *text = unwrap_lines(text);
    }
    if let Some(Value::Object(properties)) = map.get("properties").cloned() {
        let required: Vec<Value> = map
            .get("required")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut properties = properties;
        for (key, property) in &mut properties {
            if !required.contains(&Value::String(key.clone())) {
                allow_null(property);
            }
        }
        map.insert("properties".into(), Value::Object(properties));
    }
    for value in map.values_mut() {
        match value {
            Value::Object(_) => finish(value),
            Value::Array(items) => items.iter_mut().for_each(finish),
            _ => {}
        }
    }
}

/// Doc-comment lines joined into paragraphs.
fn unwrap_lines(text: &str) -> String {
    let paragraphs: Vec<String> = text
        .split("\n\n")
        .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    paragraphs.join("\n\n")
}

/// Let `property` also be null, unless it already may be.
fn allow_null(property: &mut Value) {
    let Value::Object(map) = property else {
        return;
    };
    let null_type = json!({ "type": "null" });
    if let Some(Value::Array(any)) = map.get("anyOf")
        && any.contains(&null_type)
    {
        return;
    }
    match map.get_mut("type") {
        Some(Value::Array(types)) => {
            if !types.contains(&json!("null")) {
                types.push(json!("null"));
            }
        }
        Some(single @ Value::String(_)) => *single = json!([single.clone(), "null"]),
        // A reference (`$ref`, or `allOf: [$ref]` beside a description): one more choice.
        _ => {
            let target = match (map.remove("$ref"), map.remove("allOf")) {
                (Some(reference), _) => json!({ "$ref": reference }),
                (None, Some(Value::Array(mut all))) if all.len() == 1 => all.remove(0),
                (None, Some(all)) => json!({ "allOf": all }),
                (None, None) => return,
            };
            map.insert("anyOf".into(), Value::Array(vec![target, null_type]));
        }
    }
}

/// The definitions of `schema`, by name.
pub(crate) fn definitions(schema: &Value) -> &Map<String, Value> {
    static EMPTY: std::sync::LazyLock<Map<String, Value>> = std::sync::LazyLock::new(Map::new);
    schema
        .get(DEFINITIONS)
        .and_then(Value::as_object)
        .unwrap_or(&EMPTY)
}

/// The definition name a `$ref` of `schema` points at.
pub(crate) fn reference(node: &Value) -> Option<&str> {
    node.get("$ref")?
        .as_str()?
        .strip_prefix("#/")?
        .strip_prefix(DEFINITIONS)?
        .strip_prefix('/')
}
