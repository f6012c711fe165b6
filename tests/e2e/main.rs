//! End-to-end tests: the real Flux controllers reconcile against a simulated cluster (real
//! control plane, kwok standing in for kubelets), inside a private network namespace. See
//! docs/e2e.md.
//!
//! `cargo test --test e2e [FILTER]` runs the proofs (libtest-mimic: the usual filters and
//! flags work). `…/e2e scenario [--config FILE] [--app NAME]…` runs a user's journey with
//! `homelab` itself (what `scripts/e2e` does); `…/e2e bench` times bootstrap and add-app
//! on it (what `scripts/bench-e2e` does).

#[path = "../it/support/mod.rs"]
mod support;

mod bench;
mod flux;
mod journeys;
mod proofs;
mod scenario;

use std::process::ExitCode;

fn main() -> ExitCode {
    // Before any thread exists: re-execute inside a fresh network namespace.
    support::netns::enter();
    exit_on_interrupt();
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some("scenario") {
        return scenario::main(&argv[2..]);
    }
    if argv.get(1).map(String::as_str) == Some("bench") {
        return bench::main(&argv[2..]);
    }
    let args = libtest_mimic::Arguments::from_args();
    // Two rounds, never two in-process clusters with webhooks at once: a webhook server
    // listens on every address of the namespace (none takes a listen address), so a second
    // cluster's webhook could not bind its port and the first one's would answer the
    // second API server with the wrong certificate. The full example's scenario runs in a
    // child process, in a namespace of its own, beside the journeys.
    let proven = libtest_mimic::run(&args, proofs::tests());
    proofs::shutdown();
    let journeys = libtest_mimic::run(&args, journeys::tests());
    journeys::shutdown();
    if proven.has_failed() || journeys.has_failed() {
        ExitCode::from(101)
    } else {
        ExitCode::SUCCESS
    }
}

/// Ctrl-C or SIGTERM ends the run at once with 130, even where the signal was inherited as
/// ignored (a background job): the watchdogs then stop every process within a second and
/// the janitors remove the run directories.
fn exit_on_interrupt() {
    std::thread::spawn(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        runtime.block_on(async {
            use tokio::signal::unix::{SignalKind, signal};
            let mut interrupt = signal(SignalKind::interrupt()).expect("handle SIGINT");
            let mut terminate = signal(SignalKind::terminate()).expect("handle SIGTERM");
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
        });
        eprintln!("e2e: interrupted: every process of the run stops with this one");
        std::process::exit(130);
    });
}
