//! All integration tests, in one binary (one link, shared helpers).

mod support;

mod apps;
mod bootstrap;
mod charts;
mod cli;
mod deploy_key;
mod dns01;
mod doctor;
mod envtest;
mod fixtures;
mod git_push;
mod hostile;
mod init;
mod network;
mod next_steps;
mod render;
mod rerender;
mod status;
mod strict;
mod validate;
mod wizard;
