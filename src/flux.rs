//! The Flux install manifest: fetch once, cache, filter to the configured components.
