//! `homelab doctor`: run every check, print the findings, exit 1 when one failed.

use crate::cli::{DoctorArgs, OutputFormat};
use crate::doctor::{GitOptions, Options, run as run_checks};
use crate::error::{Error, Result, Status};
use crate::ui::doctor as output;
use crate::ui::printer;
use crate::ui::style::Decor;

use super::Context;

pub fn run(ctx: &Context, args: &DoctorArgs) -> Result<Status> {
    // Before any thread that may use libgit2 exists.
    crate::git::set_socket_timeouts(args.git_timeout.unwrap_or(crate::doctor::GIT_TIMEOUT));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::failed(format!("cannot start the async runtime: {e}")))?;

    // Progress on stderr, on a terminal only: stdout carries the report.
    let spinner = printer::spinner("checking the homelab…");

    // homelab.yaml is the input of the rendering, kept as the user wrote it (comments and
    // all), so it is not compared.
    let render = |cfg: &crate::config::Config| -> crate::error::Result<std::collections::BTreeMap<String, String>> {
        let manifests = std::env::var_os("HOMELAB_FLUX_MANIFESTS").map(std::path::PathBuf::from);
        let install = crate::flux::install_manifest(&cfg.flux.version, manifests.as_deref())?;
        let mut files = crate::render::render(cfg, &install)?.files;
        files.remove(crate::config::CONFIG_FILE);
        Ok(files)
    };
    let opts = Options {
        dir: ctx.dir.clone(),
        kube: (&args.kube).into(),
        git: GitOptions {
            known_hosts: args.known_hosts.clone(),
            timeout: args.git_timeout,
        },
        render: Some(&render),
    };
    let report = runtime.block_on(run_checks(&opts));
    spinner.finish_and_clear();
    // A check given up on may still be blocked in the system (a DNS lookup, a socket); the
    // report is done, so do not wait for it.
    runtime.shutdown_background();

    match args.output {
        OutputFormat::Json => printer::data(&output::json(&report)),
        OutputFormat::Text => printer::data(&output::text(&report, Decor::stdout())),
    }
    Ok(if report.has_failures() {
        Status::ChecksFailed
    } else {
        Status::Ok
    })
}
