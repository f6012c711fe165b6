//! All integration tests, in one binary (one link, shared helpers).

mod support;

mod apps;
mod cli;
