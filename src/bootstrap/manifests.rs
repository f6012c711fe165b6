//! What bootstrap applies: the documents of the rendered `clusters/<name>/flux-system`
//! kustomization, read the way kustomize would for the subset Flux's own bootstrap uses
//! (`resources` and `patches`), so the first apply equals what Flux later reconciles.

use std::path::Path;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::kube::apply::parse_documents;

/// The documents a kustomization directory lists under `resources` (recursively), with its
/// `patches` applied, and the other fields it uses, which bootstrap does not apply (Flux
/// applies them on its first reconciliation of the same directory).
pub fn read_kustomization(
    dir: &Path,
    docs: &mut Vec<Value>,
    ignored: &mut Vec<String>,
) -> Result<()> {
    let file = ["kustomization.yaml", "kustomization.yml", "Kustomization"]
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            Error::usage(format!("no kustomization.yaml in {}", dir.display()))
                .with_hint("render the repository first (`homelab render`), then run `homelab bootstrap` again")
        })?;
    let text = std::fs::read_to_string(&file)?;
    let kustomization: Value = serde_saphyr::from_str(&text).map_err(|e| {
        Error::usage(format!("{} is not valid YAML: {e}", file.display()))
            .with_hint("fix the file, or re-render it with `homelab render --force`")
    })?;
    let Some(fields) = kustomization.as_object() else {
        return Err(Error::usage(format!("{} is not a mapping", file.display()))
            .with_hint("re-render it with `homelab render --force`"));
    };
    let mut local = Vec::new();
    for entry in fields
        .get("resources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(entry) = entry.as_str() else {
            continue;
        };
        if entry.contains("://") {
            return Err(Error::usage(format!(
                "{}: remote resource {entry:?} is not supported by bootstrap",
                file.display()
            ))
            .with_hint("list local files only in the flux-system kustomization"));
        }
        let path = dir.join(entry);
        if path.is_dir() {
            read_kustomization(&path, &mut local, ignored)?;
        } else if path.is_file() {
            let text = std::fs::read_to_string(&path)?;
            let parsed = parse_documents(&text).map_err(|e| {
                Error::usage(format!("{} is not valid YAML: {e:#}", path.display()))
                    .with_hint("fix the file, or re-render it with `homelab render --force`")
            })?;
            local.extend(parsed);
        } else {
            return Err(Error::usage(format!(
                "{} lists {entry:?}, which does not exist",
                file.display()
            ))
            .with_hint("render the repository (`homelab render`) or fix the resources list"));
        }
    }
    if let Some(patches) = fields.get("patches") {
        crate::kube::patches::apply_patches(&mut local, patches, dir, &file)?;
    }
    for key in fields.keys() {
        if !matches!(
            key.as_str(),
            "apiVersion" | "kind" | "resources" | "patches"
        ) {
            ignored.push(format!("{key} (in {})", file.display()));
        }
    }
    docs.extend(local);
    Ok(())
}

pub fn str_at<'a>(doc: &'a Value, pointer: &str) -> Option<&'a str> {
    doc.pointer(pointer).and_then(Value::as_str)
}

/// The GitRepository and Kustomization that make Flux sync this repository.
pub fn is_sync_object(doc: &Value) -> bool {
    let api_version = str_at(doc, "/apiVersion").unwrap_or_default();
    let kind = str_at(doc, "/kind").unwrap_or_default();
    (api_version.starts_with("source.toolkit.fluxcd.io/") && kind == "GitRepository")
        || (api_version.starts_with("kustomize.toolkit.fluxcd.io/") && kind == "Kustomization")
}
