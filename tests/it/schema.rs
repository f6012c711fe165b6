//! The JSON Schema of `homelab.yaml`: `homelab schema`, its committed copy, and the schema
//! file and modeline every rendered repository carries for editors.

use crate::support::{homelab, init_example, root};

/// What `cargo run --example schema` writes: the committed copy, for people and tools
/// outside a homelab repository.
#[path = "../../examples/schema.rs"]
#[allow(dead_code)]
mod published;

/// The committed copy is what the model derives. Only the generator writes it; this test
/// never does.
#[test]
fn the_committed_schema_is_up_to_date() {
    let (path, expected) = published::artifact(&root());
    assert!(
        std::fs::read_to_string(&path).ok().as_deref() == Some(expected.as_str()),
        "{} is out of date; run `cargo run --example schema` and commit the result",
        path.display()
    );
}

#[test]
fn schema_prints_the_json_schema_of_homelab_yaml() {
    let run = homelab().arg("schema").ok();
    let printed = run.stdout();
    assert_eq!(printed, homelab::config::schema::json_schema_text());
    let schema: serde_json::Value = serde_json::from_str(&printed).expect("JSON");
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
    assert_eq!(schema["additionalProperties"], false);
    assert!(run.stderr().is_empty(), "{}", run.describe());
}

/// `init` writes the schema beside homelab.yaml and points the file's first line at it, so
/// a YAML language server finds it; what it finds checks the file `init` wrote.
#[test]
fn init_points_homelab_yaml_at_the_schema_beside_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("lab");
    init_example().dir(&dir).ok();
    let config = std::fs::read_to_string(dir.join("homelab.yaml")).expect("homelab.yaml");
    let first = config.lines().next().unwrap_or_default();
    let target = first
        .strip_prefix("# yaml-language-server: $schema=")
        .unwrap_or_else(|| panic!("no modeline: {first}"));
    // Relative to homelab.yaml, as YAML language servers resolve it.
    let schema_text = std::fs::read_to_string(dir.join(target)).expect("the schema file");
    assert_eq!(schema_text, homelab::config::schema::json_schema_text());

    let schema: serde_json::Value = serde_json::from_str(&schema_text).expect("JSON");
    let validator = jsonschema::draft7::new(&schema).expect("a draft-07 schema");
    let document = homelab::config::validate::yaml_value(&config).expect("YAML");
    assert!(validator.is_valid(&document));
    // And it is the schema that catches a typo while typing.
    let typo = homelab::config::validate::yaml_value(&config.replace("nfs_path:", "nfs_pth:"))
        .expect("YAML");
    let errors: Vec<String> = validator
        .iter_errors(&typo)
        .map(|e| e.instance_path().to_string())
        .collect();
    assert!(errors.contains(&"/storage".to_owned()), "{errors:?}");

    // add-app and remove-app edit the file in place: the modeline stays its first line.
    let first_line = || {
        let text = std::fs::read_to_string(dir.join("homelab.yaml")).expect("homelab.yaml");
        text.lines().next().unwrap_or_default().to_owned()
    };
    homelab()
        .args(["add-app", "grafana", "--non-interactive", "--no-push"])
        .args(["--set", "storage_size=5Gi"])
        .dir(&dir)
        .ok();
    assert_eq!(first_line(), first);
    homelab()
        .args(["remove-app", "grafana", "--non-interactive", "--no-push"])
        .dir(&dir)
        .ok();
    assert_eq!(first_line(), first);
}
