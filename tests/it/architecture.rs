//! Rules of the code's layout that the compiler does not enforce.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

use crate::support::root;

/// A flow two commands share lives in a library or `ui` module, never in a command.
#[test]
fn commands_do_not_call_other_commands() {
    let dir = root().join("src/commands");
    let mut found = Vec::new();
    for entry in fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if name == "mod" {
            continue;
        }
        let text = fs::read_to_string(&path).unwrap();
        for (n, line) in text.lines().enumerate() {
            for prefix in ["crate::commands::", "super::"] {
                let Some(rest) = line.split(prefix).nth(1) else {
                    continue;
                };
                let other: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                    .collect();
                // `Context` and the dispatcher are commands/mod.rs's, shared by design.
                if !other.is_empty() && other != name && rest[other.len()..].starts_with("::") {
                    found.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "commands calling commands:\n{}",
        found.join("\n")
    );
}

/// The top-level modules of `src/`, bottom-up: a module may use only modules of the layers
/// below its own (docs/ARCHITECTURE.md lists the same layers and says why).
const LAYERS: &[&[&str]] = &[
    &["error", "text", "dirs", "feedback"],
    &["net", "profile"],
    &["component"],
    &["config", "kube"],
    &["git", "flux", "catalog"],
    &["secrets"],
    &["render"],
    &["bootstrap", "doctor"],
    &["ui"],
    &["cli"],
    &["commands"],
];

/// One use of a module by another: where, and the line.
struct Use {
    at: String,
    line: String,
}

/// Which top-level module of `src/` uses which, with the first place each edge is seen:
/// every `crate::<module>` path outside test code (files named `tests.rs`, and a file's
/// `#[cfg(test)] mod tests { … }` to its end), a path to an exported macro counting as a use of
/// the module that defines it. `scripts/module-graph` prints the same graph.
fn module_graph() -> BTreeMap<(String, String), Use> {
    let src = root().join("src");
    let mut files = Vec::new();
    let mut dirs = vec![src.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    let module_of = |path: &Path| -> String {
        let first = path
            .strip_prefix(&src)
            .unwrap()
            .components()
            .next()
            .unwrap();
        let name = first.as_os_str().to_string_lossy().into_owned();
        name.strip_suffix(".rs").unwrap_or(&name).to_owned()
    };
    let is_module =
        |name: &str| src.join(name).is_dir() || src.join(format!("{name}.rs")).is_file();
    let production = |path: &Path| -> Option<String> {
        if path.file_name().is_some_and(|n| n == "tests.rs") {
            return None;
        }
        let text = fs::read_to_string(path).unwrap();
        let end = text.find("#[cfg(test)]\nmod tests {").unwrap_or(text.len());
        Some(text[..end].to_owned())
    };
    // `#[macro_export]` puts a macro at the crate root, whichever module defines it.
    let mut macros = BTreeMap::new();
    for path in &files {
        let Some(text) = production(path) else {
            continue;
        };
        for part in text.split("#[macro_export]").skip(1) {
            if let Some(name) = part.trim_start().strip_prefix("macro_rules! ") {
                let name: String = name
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                macros.insert(name, module_of(path));
            }
        }
    }
    let mut graph = BTreeMap::new();
    for path in &files {
        let module = module_of(path);
        if module == "lib" || module == "main" {
            continue;
        }
        let Some(text) = production(path) else {
            continue;
        };
        for (n, line) in text.lines().enumerate() {
            for rest in line.split("crate::").skip(1) {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                    .collect();
                let used = match macros.get(&name) {
                    Some(owner) => owner.clone(),
                    None if is_module(&name) => name,
                    None => continue,
                };
                if used != module {
                    graph.entry((module.clone(), used)).or_insert_with(|| Use {
                        at: format!("{}:{}", path.strip_prefix(root()).unwrap().display(), n + 1),
                        line: line.trim().to_owned(),
                    });
                }
            }
        }
    }
    graph
}

/// The sets of modules that depend on each other (strongly connected components of more
/// than one module), by Tarjan's algorithm.
fn cycles(edges: &BTreeSet<(String, String)>) -> Vec<BTreeSet<String>> {
    struct Search<'a> {
        edges: &'a BTreeSet<(String, String)>,
        index: BTreeMap<String, usize>,
        low: BTreeMap<String, usize>,
        stack: Vec<String>,
        found: Vec<BTreeSet<String>>,
    }
    impl Search<'_> {
        fn visit(&mut self, v: &str) {
            let i = self.index.len();
            self.index.insert(v.to_owned(), i);
            self.low.insert(v.to_owned(), i);
            self.stack.push(v.to_owned());
            let next: Vec<String> = self
                .edges
                .iter()
                .filter(|(from, _)| from == v)
                .map(|(_, to)| to.clone())
                .collect();
            for w in next {
                if !self.index.contains_key(&w) {
                    self.visit(&w);
                    let low = self.low[v].min(self.low[&w]);
                    self.low.insert(v.to_owned(), low);
                } else if self.stack.contains(&w) {
                    let low = self.low[v].min(self.index[&w]);
                    self.low.insert(v.to_owned(), low);
                }
            }
            if self.low[v] == self.index[v] {
                let mut component = BTreeSet::new();
                while let Some(w) = self.stack.pop() {
                    component.insert(w.clone());
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 {
                    self.found.push(component);
                }
            }
        }
    }
    let mut search = Search {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        found: Vec::new(),
    };
    let nodes: BTreeSet<&String> = edges.iter().flat_map(|(a, b)| [a, b]).collect();
    for v in nodes {
        if !search.index.contains_key(v) {
            search.visit(v);
        }
    }
    search.found
}

/// No two modules depend on each other, however indirectly: each set that does is named
/// with the edges that close it and where each is.
#[test]
fn modules_form_no_cycle() {
    let graph = module_graph();
    let edges: BTreeSet<(String, String)> = graph.keys().cloned().collect();
    let mut report = Vec::new();
    for cycle in cycles(&edges) {
        report.push(format!(
            "cycle: {}",
            cycle.iter().cloned().collect::<Vec<_>>().join(" ")
        ));
        for ((from, to), used) in &graph {
            if cycle.contains(from) && cycle.contains(to) {
                report.push(format!("  {from} -> {to}  ({}: {})", used.at, used.line));
            }
        }
    }
    assert!(report.is_empty(), "{}", report.join("\n"));
}

/// Every use goes down the layers of [`LAYERS`]; a new top-level module gets a layer.
#[test]
fn modules_use_only_lower_layers() {
    let layer_of = |module: &str| LAYERS.iter().position(|layer| layer.contains(&module));
    let mut wrong = Vec::new();
    for ((from, to), used) in module_graph() {
        match (layer_of(&from), layer_of(&to)) {
            (Some(a), Some(b)) if b < a => {}
            (None, _) => wrong.push(format!(
                "{from} has no layer: add it to LAYERS (here and in docs/ARCHITECTURE.md)"
            )),
            (_, None) => wrong.push(format!(
                "{to} has no layer: add it to LAYERS (here and in docs/ARCHITECTURE.md)"
            )),
            _ => wrong.push(format!(
                "{from} -> {to} goes up or sideways ({}: {})",
                used.at, used.line
            )),
        }
    }
    wrong.dedup();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// The checks above read real files: they must see the edges that exist, or they prove nothing.
#[test]
fn the_module_graph_sees_uses_and_skips_test_code() {
    let graph = module_graph();
    for edge in [("commands", "ui"), ("render", "git"), ("ui", "config")] {
        assert!(
            graph.contains_key(&(edge.0.to_owned(), edge.1.to_owned())),
            "{edge:?} missing"
        );
    }
    // config's unit tests load through catalog; that is test code, not a dependency.
    assert!(!graph.contains_key(&("config".to_owned(), "catalog".to_owned())));
    let made_up: BTreeSet<(String, String)> = [("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")]
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect();
    let found = cycles(&made_up);
    assert_eq!(found.len(), 1);
    assert_eq!(
        found[0],
        ["a", "b", "c"].iter().map(|s| (*s).to_owned()).collect()
    );
}
