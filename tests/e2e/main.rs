//! End-to-end tests: the real Flux controllers reconcile against a simulated cluster (real
//! control plane, kwok standing in for kubelets), inside a private network namespace. See
//! docs/e2e.md.
//!
//! `cargo test --test e2e [FILTER]` runs the proofs (libtest-mimic: the usual filters and
//! flags work). `…/e2e scenario [--config FILE] [--app NAME]…` runs a user's journey with
//! `homelab` itself (what `scripts/e2e` does).

#[path = "../it/support/mod.rs"]
mod support;

mod flux;
mod proofs;
mod scenario;

use std::process::ExitCode;

fn main() -> ExitCode {
    // Before any thread exists: re-execute inside a fresh network namespace.
    support::netns::enter();
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some("scenario") {
        return scenario::main(&argv[2..]);
    }
    let args = libtest_mimic::Arguments::from_args();
    let conclusion = libtest_mimic::run(&args, proofs::tests());
    proofs::shutdown();
    conclusion.exit_code()
}
