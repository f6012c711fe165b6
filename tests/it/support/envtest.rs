//! Placeholder for the real kube-apiserver + etcd harness, which lives in its own change and
//! replaces this file when merged. Same API; every entry point panics, so no test that needs a
//! real server can ever pass without one.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

const MISSING: &str = "the envtest harness (tests/it/support/envtest.rs) is not in this tree: \
    merge it and run scripts/build-envtest";

#[derive(Debug)]
pub struct ApiServer;

impl ApiServer {
    pub fn start() -> ApiServer {
        panic!("{MISSING}")
    }
    pub fn shared() -> &'static ApiServer {
        panic!("{MISSING}")
    }
    pub fn kubeconfig(&self) -> &Path {
        panic!("{MISSING}")
    }
    pub fn limited_kubeconfig(&self) -> &Path {
        panic!("{MISSING}")
    }
    pub fn url(&self) -> &str {
        panic!("{MISSING}")
    }
    pub async fn client(&self) -> kube::Client {
        panic!("{MISSING}")
    }
    pub fn restart_apiserver(&self) {
        panic!("{MISSING}")
    }
    pub fn stop_apiserver(&self) {
        panic!("{MISSING}")
    }
    pub fn start_apiserver_again(&self) {
        panic!("{MISSING}")
    }
}

pub async fn install_crds(_client: &kube::Client, _files: &[PathBuf]) {
    panic!("{MISSING}")
}

pub fn fixture_crd_files() -> Vec<PathBuf> {
    panic!("{MISSING}")
}

pub fn namespace_name(_prefix: &str) -> String {
    panic!("{MISSING}")
}
