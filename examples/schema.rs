//! Writes `docs/homelab.schema.json`, the committed copy of the JSON Schema of
//! `homelab.yaml` (what `homelab schema` prints), from the model: `cargo run --example
//! schema`, then commit the result.
//!
//! A generated file, not an expectation: nothing rewrites it but this command. The test
//! `schema::the_committed_schema_is_up_to_date` reads [`artifact`] too and fails, naming this
//! command, whenever the committed file differs from what the model derives.

use std::path::{Path, PathBuf};

/// The committed copy (under `root`, the project) and the content the model gives it.
pub fn artifact(root: &Path) -> (PathBuf, String) {
    (
        root.join("docs/homelab.schema.json"),
        homelab::config::schema::json_schema_text(),
    )
}

fn main() {
    let (path, content) = artifact(Path::new(env!("CARGO_MANIFEST_DIR")));
    if std::fs::read_to_string(&path).ok().as_deref() != Some(content.as_str()) {
        std::fs::write(&path, &content).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        println!("wrote {}", path.display());
    }
}
