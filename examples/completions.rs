//! Writes the shell completion scripts and the man page shipped in `completions/`, from the
//! CLI definition: `cargo run --example completions`, then commit the result.
//!
//! They are generated files, not expectations: nothing rewrites them but this command. The
//! test `cli::completions_and_man_page_are_up_to_date` reads [`artifacts`] too and fails,
//! naming this command, whenever the committed files differ from what it generates.

use std::path::{Path, PathBuf};

use clap::CommandFactory;
use clap_complete::Shell;

/// Every file of `completions/` (under `root`, the project), with the content the CLI
/// definition gives it.
pub fn artifacts(root: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = root.join("completions");
    let mut files = Vec::new();
    for (shell, file) in [
        (Shell::Bash, "homelab.bash"),
        (Shell::Zsh, "_homelab"),
        (Shell::Fish, "homelab.fish"),
        (Shell::PowerShell, "_homelab.ps1"),
        (Shell::Elvish, "homelab.elv"),
    ] {
        let mut script = Vec::new();
        homelab::commands::completions::generate(shell, &mut script);
        files.push((dir.join(file), script));
    }
    let mut man = Vec::new();
    clap_mangen::Man::new(homelab::cli::Cli::command())
        .render(&mut man)
        .expect("render the man page");
    files.push((dir.join("homelab.1"), man));
    files
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (path, content) in artifacts(root) {
        if std::fs::read(&path).ok().as_deref() == Some(content.as_slice()) {
            continue;
        }
        std::fs::write(&path, &content).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        println!("wrote {}", path.display());
    }
}
