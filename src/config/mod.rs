//! `homelab.yaml`: the single source of truth of a homelab, its model, loading and validation
//! (the rules about apps need the catalog, which adds them: `catalog::load_config` is the
//! loader commands use).

pub mod dns;
pub mod edit;
pub mod git_url;
mod model;
pub mod normalize;
pub mod schema;
pub mod validate;

pub use model::*;
pub use validate::{Diagnostic, to_yaml};
