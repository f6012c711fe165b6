//! All integration tests, in one binary (one link, shared helpers).

mod support;

mod apps;
mod cli;
mod doctor;
mod envtest;
mod git_push;
mod rerender;
mod validate;
mod render;
