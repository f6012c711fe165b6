//! All integration tests, in one binary (one link, shared helpers).

mod support;

mod apps;
mod architecture;
mod bootstrap;
mod charts;
mod cli;
mod deploy_key;
mod dns01;
mod doctor;
mod envtest;
mod errors;
mod fixtures;
mod git_push;
mod hostile;
mod init;
mod network;
mod next_steps;
mod render;
mod rerender;
mod schema;
mod secrets;
mod status;
mod strict;
mod validate;
mod wizard;
