//! Rendering the Flux repository from `homelab.yaml` and the embedded templates.

pub mod state;
pub mod templates;
pub mod write;
