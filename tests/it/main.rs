//! All integration tests, in one binary (one link, shared helpers).

mod support;

mod cli;
mod render;
