//! `homelab init`: from answers (the wizard or `--config FILE`) to a committed Flux
//! repository, pushed and bootstrapped when possible.
//!
//! Everything that can fail for a user mistake (bad config, missing Flux manifest, a
//! different homelab already in the directory) is checked before the first byte is
//! written, so a failed `init` leaves nothing behind.

use std::io::IsTerminal;
use std::path::Path;

use crate::cli::InitArgs;
use crate::commands::Context;
use crate::config::{CONFIG_FILE, Config};
use crate::error::{Error, Result, Status};
use crate::ui::checklist::{AgeKey, Bootstrap, InitOutcome, Push};
use crate::ui::progress;
use crate::ui::wizard::Answers;

/// Where the answers come from.
fn answers(dir: &Path, args: &InitArgs) -> Result<Answers> {
    if let Some(file) = &args.config {
        let text = std::fs::read_to_string(file).map_err(|e| {
            Error::usage(format!("--config {}: {e}", file.display())).with_hint(
                "pass the path of a homelab.yaml-shaped file, e.g. examples/homelab.yaml",
            )
        })?;
        let cfg = crate::config::validate::parse(&text).map_err(|diagnostics| {
            let lines: Vec<String> = diagnostics.iter().map(ToString::to_string).collect();
            Error::usage(lines.join("\n")).with_hint(format!(
                "fix {} and run `homelab init` again",
                file.display()
            ))
        })?;
        return Ok(Answers::from_file(cfg, args.bootstrap.kube.context.clone()));
    }
    if args.bootstrap.yes {
        return Err(
            Error::usage("--yes (don't ask) needs --config FILE").with_hint(
                "pass --config with a homelab.yaml-shaped file (see examples/homelab.yaml)",
            ),
        );
    }
    if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        return Err(Error::usage("no terminal to run the wizard on")
            .with_hint("pass --config FILE (see examples/homelab.yaml) to run without prompts"));
    }
    let contexts = if args.no_bootstrap {
        Vec::new()
    } else {
        crate::kube::client::contexts(&args.bootstrap.kube).unwrap_or_default()
    };
    crate::ui::wizard::run(dir, &contexts)
}

/// Refuse to overwrite a different homelab: `init` twice with the same answers is a no-op,
/// changing an existing homelab is `homelab render`'s job.
fn check_existing(dir: &Path, cfg: &Config) -> Result<()> {
    let path = dir.join(CONFIG_FILE);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(());
    };
    match crate::config::validate::parse(&text) {
        Ok(existing) if existing == *cfg => Ok(()),
        _ => Err(Error::usage(format!(
            "{} already holds a different homelab",
            path.display()
        ))
        .with_hint("edit homelab.yaml and run `homelab render`, or init into an empty --dir")),
    }
}

pub fn run(ctx: &Context, args: &InitArgs) -> Result<Status> {
    let answers = answers(&ctx.dir, args)?;
    let cfg = &answers.config;
    // The wizard showed what changes and the user confirmed replacing homelab.yaml.
    if !answers.replaces_existing {
        check_existing(&ctx.dir, cfg)?;
    }

    let bar = progress::spinner("Loading the Flux install manifest");
    let install =
        crate::flux::install_manifest(&cfg.flux.version, args.flux.flux_manifests.as_deref())?;
    bar.set_message("Rendering the repository");
    let rendered =
        crate::render::render(cfg, &install).map_err(|e| Error::failed(format!("{e:#}")))?;
    bar.set_message("Writing and committing");
    std::fs::create_dir_all(&ctx.dir)
        .map_err(|e| Error::failed(format!("cannot create {}: {e}", ctx.dir.display())))?;
    crate::git::open_or_init(&ctx.dir, &cfg.git.branch)?;
    let report = crate::render::write::apply(
        &ctx.dir,
        &rendered.files,
        crate::render::write::Mode::Apply,
        &format!(
            "Initialise the homelab repository of cluster {}\n\nRendered by homelab {} from homelab.yaml.",
            cfg.cluster.name,
            env!("CARGO_PKG_VERSION")
        ),
    )?;
    bar.finish_and_clear();
    answers.written();
    let summary = report.summary();
    if ctx.verbose > 0 {
        eprint!("{summary}");
    }
    let totals = summary.lines().last().unwrap_or_default();
    eprintln!(
        "rendered the repository into {} ({totals})",
        ctx.dir.display()
    );

    let mut failure = None;
    let push = if cfg.git.url.is_empty() {
        Push::NoRemote
    } else if args.no_push {
        Push::Declined
    } else {
        match crate::commands::push::push_repo(&ctx.dir, cfg, &args.push) {
            Ok(_) => Push::Done,
            Err(e) => {
                let why = e.message.clone();
                failure = Some(e);
                Push::Failed(why)
            }
        }
    };

    let bootstrap = if args.no_bootstrap {
        Bootstrap::Declined
    } else if cfg.git.url.is_empty() {
        Bootstrap::NoRemote
    } else if matches!(push, Push::Failed(_)) {
        Bootstrap::NotPushed
    } else {
        let mut options = args.bootstrap.clone();
        // One set of host-key and git timeout flags for both steps.
        options.remote = args.push.remote.clone();
        if options.kube.context.is_none() {
            options.kube.context = answers.context.clone();
        }
        match crate::commands::bootstrap::reachable(&options.kube) {
            Err(why) => Bootstrap::Unreachable(why),
            Ok(()) => match crate::kube::credentials::parse_remote(&cfg.git.url) {
                Err(why) => Bootstrap::Unpullable(why.message),
                Ok(_) => match crate::commands::bootstrap::run_with(&ctx.dir, cfg, &options) {
                    Ok(_) => Bootstrap::Done,
                    Err(e) => {
                        let why = e.message.clone();
                        failure = Some(e);
                        Bootstrap::Failed(why)
                    }
                },
            },
        }
    };

    let age_key = crate::secrets::identity_path(&cfg.cluster.name)
        .ok()
        .map(|file| AgeKey {
            exists: file.is_file(),
            file,
        });
    crate::ui::checklist::print_init(
        cfg,
        &InitOutcome {
            dir: ctx.dir.clone(),
            commit: report.commit.map(|c| c.to_string()),
            push,
            bootstrap,
            age_key,
        },
    );
    match failure {
        Some(err) => Err(err),
        None => Ok(Status::Ok),
    }
}
