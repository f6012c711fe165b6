//! The template environment: every file under `templates/` embedded in the binary, strict
//! undefined behaviour, and YAML-safe output.
//!
//! Every `{{ value }}` in a `.yaml` template is written as JSON (minijinja's JSON auto-escape),
//! and JSON scalars are valid YAML flow scalars: a string becomes a quoted, escaped literal,
//! so no input can break out of its scalar and inject YAML. Numbers and booleans stay bare. A template that must splice text (e.g. a
//! pre-rendered block) marks it `|safe` explicitly.

use include_dir::{Dir, include_dir};
use minijinja::syntax::SyntaxConfig;
use minijinja::{AutoEscape, Environment, UndefinedBehavior};

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
    for (name, source) in sources {
        env.add_template_owned(name, source)?;
    }
    Ok(env)
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
}
