//! homelab: render, push, bootstrap and check a GitOps-managed (Flux) homelab.
//!
//! Data flows one way: `config` (homelab.yaml) → `render` (templates, catalog) → files on
//! disk → `git` (commit, push) and `kube` (apply, wait) → `doctor` (findings).
//! `commands` wires these together per subcommand; `ui` is the only module that talks to
//! the terminal.

// Output goes through `ui::printer` only (it owns streams, colour and verbosity).
#![deny(clippy::print_stdout, clippy::print_stderr, clippy::dbg_macro)]

pub mod bootstrap;
pub mod catalog;
pub mod cli;
pub mod commands;
pub mod component;
pub mod config;
pub mod dirs;
pub mod doctor;
pub mod error;
pub mod feedback;
pub mod flux;
pub mod git;
pub mod kube;
pub mod net;
pub mod profile;
pub mod render;
pub mod secrets;
pub mod text;
pub mod ui;

#[cfg(test)]
mod test_fixtures;
