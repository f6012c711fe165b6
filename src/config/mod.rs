//! `homelab.yaml`: the single source of truth of a homelab, its model, loading and validation.

pub mod dns;
pub mod edit;
pub mod git_url;
mod model;
pub mod normalize;
pub mod validate;

pub use model::*;
pub use validate::{Diagnostic, load, parse, to_yaml};
