//! The structure pass of validation: the YAML tree walked against the schema of
//! `homelab.yaml` that [`crate::config::schema`] derives from the model.
//!
//! The JSON Schema is read once into [`Field`]s, in the order serde declares the keys (JSON
//! Schema objects are unordered, and messages list keys as the file has them). This pass
//! checks what serde would otherwise reject with one terse error: keys, types, required keys
//! and the names of enums. Value rules the schema also carries for editors (patterns,
//! formats, the Flux component names) are left to the rules pass, whose messages say how to
//! fix the value.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde_json::{Value, json};

use super::{Diagnostic, describe, did_you_mean, join};
use crate::config::Config;
use crate::config::schema::{definitions, json_schema, key_order, reference};
use crate::text::Shown;

/// The type of a value, as this pass checks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Ty {
    /// A whole number that fits in 32 bits: the model's one integer type is `u32`.
    Int,
    Bool,
    Str,
    /// One of these names: a [`crate::config::Choice`] enum.
    Enum(Vec<String>),
    StrList,
    /// A mapping of strings to strings (`dns_settings`, an app's `settings`).
    StrMap,
    Map(Vec<Field>),
    /// A list of mappings.
    List(Vec<Field>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Field {
    pub key: String,
    pub ty: Ty,
    pub required: bool,
}

/// Check a document (a mapping) against the schema: every unknown key, wrong type, missing
/// key and invalid enum value. Empty values of optional keys are removed so that the model's
/// defaults apply.
pub(super) fn check(document: &mut Value, diags: &mut Vec<Diagnostic>) {
    walk_map(document, top(), "", diags);
}

/// The top-level keys of `homelab.yaml`, read from the JSON Schema once.
pub(super) fn top() -> &'static [Field] {
    static TOP: LazyLock<Vec<Field>> = LazyLock::new(|| {
        // The schema and the key order are derived from the model at compile time in
        // effect: reading them fails for every input or for none, and the tests read them.
        let root = <Config as schemars::JsonSchema>::schema_name();
        read(&json_schema(), &key_order(), &root)
            .unwrap_or_else(|e| panic!("the schema of homelab.yaml cannot be walked: {e}"))
    });
    &TOP
}

/// The [`Field`]s of the root of `schema`, the struct `root`, with the keys of each struct
/// in the order `order` gives (by name).
pub(super) fn read(
    schema: &Value,
    order: &BTreeMap<String, Vec<String>>,
    root: &str,
) -> Result<Vec<Field>, String> {
    Reader { schema, order }.fields(root, schema)
}

struct Reader<'a> {
    schema: &'a Value,
    order: &'a BTreeMap<String, Vec<String>>,
}

impl Reader<'_> {
    /// The keys of the object schema `node`, which describes the struct `name`.
    fn fields(&self, name: &str, node: &Value) -> Result<Vec<Field>, String> {
        let properties = node
            .get("properties")
            .and_then(Value::as_object)
            .ok_or_else(|| format!("{name} has no properties"))?;
        if node.get("additionalProperties") != Some(&json!(false)) {
            return Err(format!(
                "{name} accepts unknown keys; give it #[serde(deny_unknown_fields)]"
            ));
        }
        let required: Vec<&str> = node
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let order = self
            .order
            .get(name)
            .ok_or_else(|| format!("serde does not know the struct {name}"))?;
        let mut in_order: Vec<&str> = order.iter().map(String::as_str).collect();
        let mut in_schema: Vec<&str> = properties.keys().map(String::as_str).collect();
        in_order.sort_unstable();
        in_schema.sort_unstable();
        if in_order != in_schema {
            return Err(format!(
                "serde and the schema disagree on the keys of {name}: {in_order:?} and {in_schema:?}"
            ));
        }
        order
            .iter()
            .map(|key| {
                let ty = self
                    .ty(&properties[key])
                    .map_err(|e| format!("{name}.{key}: {e}"))?;
                Ok(Field {
                    key: key.clone(),
                    ty,
                    required: required.contains(&key.as_str()),
                })
            })
            .collect()
    }

    fn ty(&self, node: &Value) -> Result<Ty, String> {
        let node = without_null(node);
        if let Some(name) = reference(&node) {
            let definition = definitions(self.schema)
                .get(name)
                .ok_or_else(|| format!("no definition {name}"))?;
            return match choice_names(definition) {
                Some(names) => Ok(Ty::Enum(names)),
                None => Ok(Ty::Map(self.fields(name, definition)?)),
            };
        }
        if let Some(names) = choice_names(&node) {
            return Ok(Ty::Enum(names));
        }
        match node.get("type").and_then(Value::as_str) {
            Some("integer") if node.get("format") == Some(&json!("uint32")) => Ok(Ty::Int),
            Some("boolean") => Ok(Ty::Bool),
            Some("string") => Ok(Ty::Str),
            Some("array") => {
                let items = without_null(node.get("items").unwrap_or(&Value::Null));
                if let Some(name) = reference(&items) {
                    let definition = definitions(self.schema)
                        .get(name)
                        .ok_or_else(|| format!("no definition {name}"))?;
                    Ok(Ty::List(self.fields(name, definition)?))
                } else if items.get("type") == Some(&json!("string")) {
                    Ok(Ty::StrList)
                } else {
                    Err(format!("a list of {items} is not supported"))
                }
            }
            Some("object")
                if node.get("properties").is_none()
                    && node.get("additionalProperties") == Some(&json!({ "type": "string" })) =>
            {
                Ok(Ty::StrMap)
            }
            _ => Err(format!("{node} is not supported")),
        }
    }
}

/// `node` without the empty value an optional key allows (`anyOf: [X, null]`, `type: [T,
/// "null"]`) and without the `allOf: [X]` wrapping a reference with a description.
fn without_null(node: &Value) -> Value {
    let null_type = json!({ "type": "null" });
    let mut node = node.clone();
    loop {
        let unwrapped = match (node.get("anyOf"), node.get("allOf")) {
            (Some(Value::Array(any)), _) if any.len() == 2 && any.contains(&null_type) => {
                any.iter().find(|v| **v != null_type).cloned()
            }
            (None, Some(Value::Array(all))) if all.len() == 1 => all.first().cloned(),
            _ => None,
        };
        match unwrapped {
            Some(inner) => node = inner,
            None => break,
        }
    }
    if let Some(Value::Array(types)) = node.get("type") {
        let types: Vec<&Value> = types.iter().filter(|t| **t != json!("null")).collect();
        if let [only] = types.as_slice() {
            let only = (*only).clone();
            node["type"] = only;
        }
    }
    node
}

/// The names of an enum schema: `oneOf` constants (variants with doc comments) or `enum`.
fn choice_names(node: &Value) -> Option<Vec<String>> {
    let names: Option<Vec<String>> = match (node.get("oneOf"), node.get("enum")) {
        (Some(Value::Array(one_of)), _) => one_of
            .iter()
            .map(|v| v.get("const")?.as_str().map(str::to_owned))
            .collect(),
        (None, Some(Value::Array(names))) if node.get("type") == Some(&json!("string")) => names
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => None,
    };
    names.filter(|n| !n.is_empty())
}

/// The keys of a mapping, in order, for messages.
fn keys(fields: &[Field]) -> String {
    let keys: Vec<&str> = fields.iter().map(|f| f.key.as_str()).collect();
    keys.join(", ")
}

/// Check a mapping against `fields`: unknown keys, then each known key in schema order.
/// Empty values of optional keys are removed so that the model's defaults apply.
fn walk_map(value: &mut Value, fields: &[Field], path: &str, diags: &mut Vec<Diagnostic>) {
    let Value::Object(map) = value else {
        return;
    };
    // Sorted, so the report does not depend on the map's iteration order.
    let mut unknown: Vec<&String> = map
        .keys()
        .filter(|k| !fields.iter().any(|f| f.key == **k))
        .collect();
    unknown.sort();
    for key in unknown {
        let message = match did_you_mean(key, fields.iter().map(|f| f.key.as_str())) {
            Some(best) => format!("unknown key; did you mean {best}?"),
            None => format!("unknown key; expected one of {}", keys(fields)),
        };
        diags.push(Diagnostic::new(join(path, key), message));
    }
    for field in fields {
        let child_path = join(path, &field.key);
        match map.get_mut(&field.key) {
            None if field.required => {
                diags.push(Diagnostic::new(child_path, "required key is missing"));
            }
            None => {}
            Some(Value::Null) if field.required => {
                diags.push(Diagnostic::new(child_path, "required value is empty"));
            }
            Some(Value::Null) => {
                map.remove(&field.key);
            }
            Some(child) => walk_value(child, &field.ty, &child_path, diags),
        }
    }
}

fn walk_value(value: &mut Value, ty: &Ty, path: &str, diags: &mut Vec<Diagnostic>) {
    let mut expected = |what: &str, value: &Value| {
        let mut message = format!("expected {what}, found {}", describe(value));
        if matches!(value, Value::Number(_) | Value::Bool(_)) && what == "a string" {
            message.push_str("; put the value in quotes");
        }
        diags.push(Diagnostic::new(path, message));
    };
    match ty {
        Ty::Int => {
            let ok = value.as_u64().is_some_and(|n| u32::try_from(n).is_ok());
            if !ok {
                expected("a whole number", value);
            }
        }
        Ty::Bool => {
            if !value.is_boolean() {
                expected("true or false", value);
            }
        }
        Ty::Str => {
            if !value.is_string() {
                expected("a string", value);
            }
        }
        Ty::Enum(names) => match value.as_str() {
            Some(s) if names.iter().any(|n| n == s) => {}
            Some(s) => {
                let mut message = format!("{} is not one of {}", Shown(s), names.join(", "));
                if let Some(best) = did_you_mean(s, names.iter().map(String::as_str)) {
                    message.push_str(&format!("; did you mean {best}?"));
                }
                diags.push(Diagnostic::new(path, message));
            }
            None => expected(&format!("one of {}", names.join(", ")), value),
        },
        Ty::StrList => match value {
            Value::Array(items) => {
                for (i, item) in items.iter_mut().enumerate() {
                    walk_value(item, &Ty::Str, &format!("{path}[{i}]"), diags);
                }
            }
            other => expected("a list", other),
        },
        Ty::StrMap => match value {
            Value::Object(map) => {
                let mut keys: Vec<String> = map.keys().cloned().collect();
                keys.sort();
                for key in keys {
                    if let Some(item) = map.get_mut(&key) {
                        walk_value(item, &Ty::Str, &join(path, &key), diags);
                    }
                }
            }
            other => expected("a mapping", other),
        },
        Ty::Map(fields) => {
            if value.is_object() {
                walk_map(value, fields, path, diags);
            } else {
                expected("a mapping", value);
            }
        }
        Ty::List(fields) => match value {
            Value::Array(items) => {
                for (i, item) in items.iter_mut().enumerate() {
                    let item_path = format!("{path}[{i}]");
                    if item.is_object() {
                        walk_map(item, fields, &item_path, diags);
                    } else {
                        diags.push(Diagnostic::new(
                            item_path,
                            format!(
                                "expected a mapping with keys {}, found {}",
                                keys(fields),
                                describe(item)
                            ),
                        ));
                    }
                }
            }
            other => expected("a list", other),
        },
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use schemars::JsonSchema;
    use serde::Deserialize;

    use super::*;
    use crate::config::schema::{json_schema_of, key_order_of};
    use crate::config::{
        AcmeServer, Challenge, Choice, DnsProvider, IngressController, NodeRole, Provisioner,
    };

    fn read_of<T: JsonSchema + for<'de> Deserialize<'de>>() -> Result<Vec<Field>, String> {
        read(
            &json_schema_of::<T>(),
            &key_order_of::<T>()?,
            &T::schema_name(),
        )
    }

    /// The field at a dotted path (list items are entered like mappings).
    fn field<'a>(fields: &'a [Field], path: &str) -> &'a Field {
        let (head, rest) = match path.split_once('.') {
            Some((head, rest)) => (head, Some(rest)),
            None => (path, None),
        };
        let found = fields.iter().find(|f| f.key == head);
        let found = found.unwrap_or_else(|| panic!("no key {head}"));
        match (rest, &found.ty) {
            (None, _) => found,
            (Some(rest), Ty::Map(inner) | Ty::List(inner)) => field(inner, rest),
            (Some(_), other) => panic!("{head} is {other:?}, not a mapping"),
        }
    }

    fn names<T: Choice>() -> Ty {
        Ty::Enum(T::names().iter().map(|n| (*n).to_owned()).collect())
    }

    /// The keys in the order of the file (not the schema's alphabetical one), each with its
    /// type and optionality, and every enum with the names strum gives its type.
    #[test]
    fn the_model_reads_as_its_keys_types_and_names() {
        let top = top();
        let keys: Vec<&str> = top.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(
            keys,
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
                "charts",
                "apps"
            ]
        );
        assert_eq!(field(top, "version").ty, Ty::Int);
        assert!(field(top, "version").required);
        assert!(!field(top, "ingress").required);
        assert!(field(top, "nodes.address").required);
        assert_eq!(field(top, "storage.default_class").ty, Ty::Bool);
        assert_eq!(field(top, "storage.local_class").ty, Ty::Str);
        assert!(!field(top, "storage.local_class").required);
        assert_eq!(field(top, "network.loadbalancer_pool").ty, Ty::StrList);
        assert_eq!(field(top, "flux.components").ty, Ty::StrList);
        assert_eq!(field(top, "certificates.dns_settings").ty, Ty::StrMap);
        assert_eq!(field(top, "charts.mirror.insecure").ty, Ty::Bool);
        assert!(matches!(field(top, "apps").ty, Ty::List(_)));

        assert_eq!(field(top, "nodes.role").ty, names::<NodeRole>());
        assert_eq!(
            field(top, "ingress.controller").ty,
            names::<IngressController>()
        );
        assert_eq!(
            field(top, "certificates.acme_server").ty,
            names::<AcmeServer>()
        );
        assert_eq!(
            field(top, "certificates.challenge").ty,
            names::<Challenge>()
        );
        assert_eq!(
            field(top, "certificates.dns_provider").ty,
            names::<DnsProvider>()
        );
        assert_eq!(field(top, "storage.provisioner").ty, names::<Provisioner>());
    }

    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        /// Documented, to get the `allOf` wrapping of a reference.
        #[serde(default)]
        inner: Option<Inner>,
        list: Vec<Inner>,
        #[serde(default)]
        map: BTreeMap<String, String>,
        undocumented: Plain,
    }

    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        z: bool,
        a: u32,
    }

    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(rename_all = "lowercase")]
    enum Plain {
        One,
        Two,
    }

    #[test]
    fn nested_optional_listed_and_enum_types_read() {
        let fields = read_of::<Outer>().unwrap();
        let inner = vec![
            Field {
                key: "z".into(),
                ty: Ty::Bool,
                required: true,
            },
            Field {
                key: "a".into(),
                ty: Ty::Int,
                required: true,
            },
        ];
        assert_eq!(field(&fields, "inner").ty, Ty::Map(inner.clone()));
        assert!(!field(&fields, "inner").required);
        assert_eq!(field(&fields, "list").ty, Ty::List(inner));
        assert_eq!(field(&fields, "map").ty, Ty::StrMap);
        assert_eq!(
            field(&fields, "undocumented").ty,
            Ty::Enum(vec!["one".into(), "two".into()])
        );
    }

    #[derive(Debug, Deserialize, JsonSchema)]
    #[allow(dead_code)]
    struct Lenient {
        name: String,
    }

    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Fractional {
        ratio: f64,
    }

    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Hidden {
        name: String,
        #[schemars(skip)]
        #[serde(default)]
        note: String,
    }

    /// A model the structure pass could not check faithfully is refused, loudly, rather than
    /// walked differently from what serde reads.
    #[test]
    fn what_the_pass_cannot_check_is_refused() {
        let lenient = read_of::<Lenient>().unwrap_err();
        assert!(lenient.contains("accepts unknown keys"), "{lenient}");
        let fractional = read_of::<Fractional>().unwrap_err();
        assert!(fractional.contains("Fractional.ratio"), "{fractional}");
        assert!(fractional.contains("is not supported"), "{fractional}");
        let hidden = read_of::<Hidden>().unwrap_err();
        assert!(
            hidden.contains("disagree on the keys of Hidden"),
            "{hidden}"
        );
    }
}
