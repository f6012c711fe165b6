//! Rules of the code's layout that the compiler does not enforce.

use std::fs;

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
