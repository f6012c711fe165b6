//! The `patches` of a kustomization, applied to manifests in memory, so the controllers that
//! bootstrap starts already carry the user's tweaks to `flux-system` (extra controller
//! arguments, resources, tolerations...), as `flux bootstrap` documents them.
//!
//! Supported: JSON 6902 operations (`add`, `remove`, `replace`, `copy`, `move`, `test`) and
//! strategic-merge patches written as partial objects, with `target` selection by `group`,
//! `version`, `kind`, `name` and `namespace` (regular expressions, fully matched, as
//! kustomize does). Strategic merge is simplified: maps merge, lists of objects merge by
//! `name`, other lists are replaced, `null` deletes. Flux applies the same kustomization
//! with kustomize itself at its first reconciliation, which settles any difference.

use std::path::Path;

use serde_json::Value;

use crate::error::{Error, Result};

fn bad(file: &Path, message: impl std::fmt::Display) -> Error {
    Error::usage(format!("{}: patches: {message}", file.display())).with_hint(
        "fix the patch (JSON 6902 operations or a partial object with apiVersion, kind and metadata.name)",
    )
}

fn full_match(pattern: &str, value: &str) -> Result<bool> {
    let re = regex::Regex::new(&format!("^(?:{pattern})$"))
        .map_err(|e| Error::usage(format!("bad target pattern {pattern:?}: {e}")))?;
    Ok(re.is_match(value))
}

fn selected(target: &Value, doc: &Value) -> Result<bool> {
    let api_version = doc["apiVersion"].as_str().unwrap_or_default();
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let fields = [
        ("group", group),
        ("version", version),
        ("kind", doc["kind"].as_str().unwrap_or_default()),
        ("name", doc["metadata"]["name"].as_str().unwrap_or_default()),
        (
            "namespace",
            doc["metadata"]["namespace"].as_str().unwrap_or_default(),
        ),
    ];
    for (key, value) in fields {
        if let Some(pattern) = target.get(key).and_then(Value::as_str)
            && !full_match(pattern, value)?
        {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Decode a JSON pointer token.
fn token(t: &str) -> String {
    t.replace("~1", "/").replace("~0", "~")
}

fn split_pointer(path: &str) -> std::result::Result<(String, String), String> {
    let (parent, last) = path
        .rsplit_once('/')
        .ok_or_else(|| format!("path {path:?} must start with /"))?;
    Ok((parent.to_owned(), token(last)))
}

fn remove_at(doc: &mut Value, path: &str) -> std::result::Result<Value, String> {
    let (parent, last) = split_pointer(path)?;
    match doc.pointer_mut(&parent) {
        Some(Value::Object(map)) => map
            .remove(&last)
            .ok_or_else(|| format!("path {path:?} does not exist")),
        Some(Value::Array(list)) => {
            let i: usize = last.parse().map_err(|_| format!("bad index in {path:?}"))?;
            if i < list.len() {
                Ok(list.remove(i))
            } else {
                Err(format!("index out of range in {path:?}"))
            }
        }
        _ => Err(format!("path {path:?} does not exist")),
    }
}

fn add_at(doc: &mut Value, path: &str, value: Value) -> std::result::Result<(), String> {
    if path.is_empty() {
        *doc = value;
        return Ok(());
    }
    let (parent, last) = split_pointer(path)?;
    match doc.pointer_mut(&parent) {
        Some(Value::Object(map)) => {
            map.insert(last, value);
            Ok(())
        }
        Some(Value::Array(list)) => {
            if last == "-" {
                list.push(value);
                return Ok(());
            }
            let i: usize = last.parse().map_err(|_| format!("bad index in {path:?}"))?;
            if i > list.len() {
                return Err(format!("index out of range in {path:?}"));
            }
            list.insert(i, value);
            Ok(())
        }
        _ => Err(format!("the parent of {path:?} does not exist")),
    }
}

fn json6902(doc: &mut Value, ops: &[Value]) -> std::result::Result<(), String> {
    for op in ops {
        let name = op["op"].as_str().unwrap_or_default();
        let path = op["path"]
            .as_str()
            .ok_or_else(|| "an operation lacks its path".to_owned())?;
        let value = || {
            op.get("value")
                .cloned()
                .ok_or_else(|| format!("{name} {path}: value missing"))
        };
        match name {
            "add" => add_at(doc, path, value()?)?,
            "remove" => {
                remove_at(doc, path)?;
            }
            "replace" => {
                remove_at(doc, path)?;
                add_at(doc, path, value()?)?;
            }
            "copy" | "move" => {
                let from = op["from"]
                    .as_str()
                    .ok_or_else(|| format!("{name} {path}: from missing"))?;
                let v = if name == "move" {
                    remove_at(doc, from)?
                } else {
                    doc.pointer(from)
                        .cloned()
                        .ok_or_else(|| format!("path {from:?} does not exist"))?
                };
                add_at(doc, path, v)?;
            }
            "test" => {
                if doc.pointer(path) != Some(&value()?) {
                    return Err(format!("test {path} failed"));
                }
            }
            other => return Err(format!("unknown operation {other:?}")),
        }
    }
    Ok(())
}

fn strategic_merge(base: &mut Value, patch: &Value) {
    match (base, patch) {
        (Value::Object(base), Value::Object(patch)) => {
            for (key, value) in patch {
                if value.is_null() {
                    base.remove(key);
                } else if let Some(existing) = base.get_mut(key) {
                    strategic_merge(existing, value);
                } else {
                    base.insert(key.clone(), value.clone());
                }
            }
        }
        (Value::Array(base), Value::Array(patch))
            if patch
                .iter()
                .all(|v| v.get("name").is_some_and(Value::is_string))
                && base
                    .iter()
                    .all(|v| v.get("name").is_some_and(Value::is_string)) =>
        {
            for item in patch {
                match base.iter_mut().find(|b| b["name"] == item["name"]) {
                    Some(existing) => strategic_merge(existing, item),
                    None => base.push(item.clone()),
                }
            }
        }
        (base, patch) => *base = patch.clone(),
    }
}

/// Apply a kustomization's `patches` list (read relative to `dir`) to `docs`.
pub fn apply_patches(docs: &mut [Value], patches: &Value, dir: &Path, file: &Path) -> Result<()> {
    let Some(entries) = patches.as_array() else {
        return Err(bad(file, "must be a list"));
    };
    for entry in entries {
        let text = match (
            entry.get("path").and_then(Value::as_str),
            entry.get("patch").and_then(Value::as_str),
        ) {
            (Some(path), None) => std::fs::read_to_string(dir.join(path))
                .map_err(|e| bad(file, format!("cannot read {path}: {e}")))?,
            (None, Some(inline)) => inline.to_owned(),
            _ => return Err(bad(file, "each entry needs exactly one of path or patch")),
        };
        let patch: Value =
            serde_saphyr::from_str(&text).map_err(|e| bad(file, format!("not valid YAML: {e}")))?;
        let target = entry.get("target").cloned();
        if let Some(t) = &target {
            for key in ["labelSelector", "annotationSelector"] {
                if t.get(key).is_some() {
                    return Err(
                        bad(file, format!("target.{key} is not supported by bootstrap"))
                            .with_hint("select the target by kind, name and namespace instead"),
                    );
                }
            }
        }
        let target = match (target, &patch) {
            (Some(t), _) => t,
            (None, Value::Object(_)) => serde_json::json!({
                "kind": regex::escape(patch["kind"].as_str().unwrap_or_default()),
                "name": regex::escape(patch["metadata"]["name"].as_str().unwrap_or_default()),
            }),
            (None, _) => return Err(bad(file, "a JSON 6902 patch needs a target")),
        };
        let mut matched = 0;
        for doc in docs.iter_mut() {
            if !selected(&target, doc)? {
                continue;
            }
            matched += 1;
            match &patch {
                Value::Array(ops) => json6902(doc, ops).map_err(|e| bad(file, e))?,
                Value::Object(_) => strategic_merge(doc, &patch),
                _ => return Err(bad(file, "a patch is a list of operations or an object")),
            }
        }
        if matched == 0 {
            return Err(bad(file, format!("no object matches the target {target}")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployments() -> Vec<Value> {
        [
            "kustomize-controller",
            "helm-controller",
            "source-controller",
        ]
        .iter()
        .map(|n| {
            json!({"apiVersion": "apps/v1", "kind": "Deployment",
                    "metadata": {"name": n, "namespace": "flux-system"},
                    "spec": {"template": {"spec": {"containers": [
                        {"name": "manager", "image": "x", "args": ["--log-level=info"]}]}}}})
        })
        .collect()
    }

    #[test]
    fn json6902_with_a_regex_target() {
        let mut docs = deployments();
        let patches = json!([{
            "patch": "- op: add\n  path: /spec/template/spec/containers/0/args/-\n  value: --concurrent=20\n",
            "target": {"kind": "Deployment", "name": "(kustomize-controller|helm-controller)"}
        }]);
        apply_patches(&mut docs, &patches, Path::new("."), Path::new("k.yaml")).expect("patch");
        let args = |i: usize| docs[i]["spec"]["template"]["spec"]["containers"][0]["args"].clone();
        assert_eq!(args(0), json!(["--log-level=info", "--concurrent=20"]));
        assert_eq!(args(1), json!(["--log-level=info", "--concurrent=20"]));
        assert_eq!(args(2), json!(["--log-level=info"]));
    }

    #[test]
    fn strategic_merge_by_container_name() {
        let mut docs = deployments();
        let patches = json!([{"patch": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: source-controller\n  namespace: flux-system\nspec:\n  template:\n    spec:\n      containers:\n        - name: manager\n          resources:\n            limits:\n              memory: 2Gi\n"}]);
        apply_patches(&mut docs, &patches, Path::new("."), Path::new("k.yaml")).expect("patch");
        let c = &docs[2]["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(c["image"], "x");
        assert_eq!(c["resources"]["limits"]["memory"], "2Gi");
        assert!(
            docs[0]["spec"]["template"]["spec"]["containers"][0]
                .get("resources")
                .is_none()
        );
    }

    #[test]
    fn errors_name_the_file_and_the_problem() {
        let mut docs = deployments();
        for (patches, needle) in [
            (
                json!([{"patch": "- op: remove\n  path: /spec/nope\n", "target": {"kind": "Deployment"}}]),
                "does not exist",
            ),
            (
                json!([{"patch": "- op: add\n  path: /a\n  value: 1\n"}]),
                "needs a target",
            ),
            (
                json!([{"patch": "- op: add\n  path: /a\n  value: 1\n", "target": {"kind": "Service"}}]),
                "no object matches",
            ),
            (
                json!([{"path": "missing.yaml"}]),
                "cannot read missing.yaml",
            ),
        ] {
            let err = apply_patches(
                &mut docs,
                &patches,
                Path::new("/nonexistent"),
                Path::new("k.yaml"),
            )
            .expect_err(needle);
            assert!(err.message.contains("k.yaml: patches:"), "{}", err.message);
            assert!(err.message.contains(needle), "{}", err.message);
        }
    }
}
