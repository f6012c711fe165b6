//! All integration tests, in one binary (one link, shared helpers).

mod support;

mod apps;
mod bootstrap;
mod cli;
mod doctor;
mod envtest;
mod git_push;
mod init;
mod network;
mod render;
mod rerender;
mod strict;
mod validate;
mod wizard;
