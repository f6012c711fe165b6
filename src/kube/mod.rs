//! Talking to the cluster: kubeconfig, server-side apply, what objects say about themselves
//! (status), asking Flux to reconcile and waiting for readiness.

pub mod apply;
pub mod client;
pub mod k3s;
pub mod patches;
pub mod status;
pub mod sync;
pub mod wait;

pub use apply::{
    Applier, ApplyOptions, ApplyReport, apply_documents, dry_run_strict, parse_documents,
};
pub use client::{Connected, connect, contexts};
