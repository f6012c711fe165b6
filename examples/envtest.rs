//! The program behind `scripts/envtest -- CMD [ARGS...]`: CMD against a fresh, private
//! kube-apiserver + etcd started by the integration tests' own harness
//! (`tests/it/support/envtest.rs`), so the script and the tests share one implementation.
//!
//! CMD runs with `KUBECONFIG` (an admin identity, group `system:masters`) and
//! `ENVTEST_LIMITED_KUBECONFIG` (user `limited`, granted nothing by RBAC) set, and its exit
//! code is passed on. The server and its files are removed when CMD ends, also after
//! Ctrl-C (which CMD receives; this program waits for it). Killed outright, the harness's
//! watchdogs stop the server within a second and the next run removes what is left.

#[path = "../tests/it/support/mod.rs"]
mod support;

use std::ffi::OsString;
use std::process::{Command, ExitCode};

fn usage() -> ExitCode {
    eprintln!("usage: scripts/envtest -- CMD [ARGS...]");
    eprintln!("hint: put the command after --, e.g. scripts/envtest -- kubectl get ns");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    if args.next().as_deref() != Some(std::ffi::OsStr::new("--")) {
        return usage();
    }
    let cmd: Vec<OsString> = args.collect();
    let Some((program, rest)) = cmd.split_first() else {
        return usage();
    };
    // Ctrl-C goes to the whole foreground group: CMD gets it and ends; this program must
    // live on to stop the server, so it takes the signal instead of dying of it.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime for the signal handler");
    let _interrupt = runtime.block_on(async {
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
    });
    let server = support::envtest::ApiServer::start();
    let status = Command::new(program)
        .args(rest)
        .env("KUBECONFIG", server.kubeconfig())
        .env("ENVTEST_LIMITED_KUBECONFIG", server.limited_kubeconfig())
        .status();
    drop(server);
    match status {
        Ok(status) => match status.code() {
            Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
            // Ended by a signal: the shell convention, 128 + its number.
            None => {
                use std::os::unix::process::ExitStatusExt as _;
                ExitCode::from(
                    128 + status
                        .signal()
                        .and_then(|s| u8::try_from(s).ok())
                        .unwrap_or(0),
                )
            }
        },
        Err(e) => {
            eprintln!("envtest: cannot run {}: {e}", program.to_string_lossy());
            ExitCode::from(127)
        }
    }
}
