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
use crate::render::write::{Mode, Workspace};
use crate::ui::checklist::{AgeKeyFile, Bootstrap, InitOutcome, Push};
use crate::ui::printer;
use crate::ui::wizard::Answers;

/// Where the answers come from.
fn answers(dir: &Path, args: &InitArgs) -> Result<Answers> {
    if let Some(file) = &args.config {
        let text = std::fs::read_to_string(file).map_err(|e| {
            Error::usage(format!("--config {}: {e}", file.display())).with_hint(
                "pass the path of a homelab.yaml-shaped file, e.g. examples/homelab.yaml",
            )
        })?;
        let cfg = crate::catalog::parse_config(&text)
            .map_err(|diagnostics| crate::config::validate::invalid(file, &diagnostics))?;
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
        crate::kube::client::contexts(&(&args.bootstrap.kube).into()).unwrap_or_default()
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
    match crate::catalog::parse_config(&text) {
        Ok(existing) if existing == *cfg => Ok(()),
        _ => Err(Error::usage(format!(
            "{} already holds a different homelab",
            path.display()
        ))
        .with_hint("edit homelab.yaml and run `homelab render`, or init into an empty --dir")),
    }
}

/// The existing `homelab.yaml` with the wizard's changes, edited in place so the user's
/// comments and layout stay.
fn edited_config(dir: &Path, cfg: &Config) -> Result<String> {
    let path = dir.join(CONFIG_FILE);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| Error::failed(format!("cannot read {}: {e}", path.display())))?;
    let current = crate::catalog::parse_config(&text).map_err(|_| {
        Error::failed(format!("{} changed while the wizard ran", path.display()))
            .with_hint("run `homelab init` again: the answers are saved")
    })?;
    crate::config::edit::edited(&text, &current, cfg, &crate::catalog::rules)
}

/// Refuse to mix a new homelab with other files by mistake: a directory that holds more
/// than a git directory (and the homelab.yaml of this same homelab) needs
/// `--allow-non-empty`. Even then only the rendered files are committed.
fn check_empty(dir: &Path, allow: bool) -> Result<()> {
    if allow || dir.join(CONFIG_FILE).is_file() {
        // homelab.yaml here is this same homelab (check_existing said so): a re-run.
        return Ok(());
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    let mut names: Vec<String> = entries
        .filter_map(std::result::Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != ".git")
        .collect();
    if names.is_empty() {
        return Ok(());
    }
    names.sort();
    Err(Error::usage(format!(
        "{} is not empty (it holds {}): init creates a new repository",
        dir.display(),
        crate::text::shortlist(&names, 5, ", ")
    ))
    .with_hint(
        "init into a new or empty directory (--dir DIR), or pass --allow-non-empty to render here anyway (homelab commits only the files it renders, never yours)",
    ))
}

pub fn run(ctx: &Context, args: &InitArgs) -> Result<Status> {
    crate::render::write::check_dir(&ctx.dir)?;
    let answers = answers(&ctx.dir, args)?;
    let cfg = &answers.config;
    // The wizard showed what changes and the user confirmed replacing homelab.yaml.
    if !answers.replaces_existing {
        check_existing(&ctx.dir, cfg)?;
    }
    check_empty(&ctx.dir, args.allow_non_empty)?;
    let edited = if answers.replaces_existing {
        Some(edited_config(&ctx.dir, cfg)?)
    } else {
        None
    };

    let bar = printer::spinner("Loading the Flux install manifest");
    let install =
        crate::flux::install_manifest(&cfg.flux.version, args.flux.flux_manifests.as_deref())?;
    bar.set_message("Writing and committing");
    let report = {
        let ws = Workspace::create(&ctx.dir, &cfg.git.branch, "init")?;
        // The age key exists from the start, so Flux can decrypt the apps' secrets as soon
        // as there are any; where it is is said once, in the checklist.
        let key = crate::render::change::repo_key(ws.tree(), cfg, true)?;
        let mut change = crate::render::change::whole_change(
            ws.tree(),
            cfg,
            &install,
            Mode::Apply,
            key.as_ref().map(|(k, _)| k),
        )?;
        change.message = format!(
            "Initialise the homelab repository of cluster {}\n\nRendered by homelab {} from homelab.yaml.",
            cfg.cluster.name,
            env!("CARGO_PKG_VERSION")
        );
        if let Some(text) = edited {
            // The wizard showed the changes to homelab.yaml and the user confirmed them.
            change.files.insert(CONFIG_FILE.to_owned(), text);
            change.replace.insert(CONFIG_FILE.to_owned());
        }
        ws.apply(&change)?
    };
    bar.finish_and_clear();
    let summary = crate::ui::render::summary(&report, ctx.verbose > 0);
    if ctx.verbose > 0 || report.has_conflicts() {
        printer::note_raw(&summary);
    }
    let totals = summary.lines().last().unwrap_or_default();
    printer::note(&format!(
        "rendered the repository into {} ({totals})",
        ctx.dir.display()
    ));
    if report.has_conflicts() {
        // Nothing committed: the draft keeps the answers until the repository holds them.
        return Ok(crate::ui::render::status(&report));
    }
    answers.written();

    let mut failure = None;
    let push = if cfg.git.url.is_empty() {
        Push::NoRemote
    } else if args.no_push {
        Push::Declined
    } else {
        match crate::ui::publish::push_repo(&ctx.dir, cfg, &(&args.push).into()) {
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
        match crate::bootstrap::reachable(&(&options.kube).into()) {
            Err(why) => Bootstrap::Unreachable(why),
            Ok(()) => match crate::bootstrap::cluster_secrets::parse_remote(&cfg.git.url) {
                Err(why) => Bootstrap::Unpullable(why.message),
                Ok(_) => match options.engine().and_then(|engine| {
                    let ui = crate::ui::bootstrap::Terminal::new(options.yes);
                    crate::bootstrap::run(&ctx.dir, cfg, &engine, &ui)
                }) {
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

    let age_key = crate::secrets::find_key(&ctx.dir, &cfg.cluster.name)?.map(|key| AgeKeyFile {
        file: key.file,
        recipient: key.recipient,
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
