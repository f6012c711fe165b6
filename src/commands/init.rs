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
use crate::ui::progress;

/// Where the answers come from.
fn answers(args: &InitArgs) -> Result<(Config, Option<String>)> {
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
        return Ok((cfg, args.bootstrap.kube.context.clone()));
    }
    if args.non_interactive {
        return Err(
            Error::usage("--non-interactive needs --config FILE").with_hint(
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
    crate::ui::wizard::run(&contexts)
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
    let (cfg, context) = answers(args)?;
    check_existing(&ctx.dir, &cfg)?;
    check_empty(&ctx.dir, args.allow_non_empty)?;

    let bar = progress::spinner("Loading the Flux install manifest");
    let install =
        crate::flux::install_manifest(&cfg.flux.version, args.flux.flux_manifests.as_deref())?;
    bar.set_message("Writing and committing");
    let report = {
        let ws = Workspace::create(&ctx.dir, &cfg.git.branch, "init")?;
        // The age key exists from the start, so Flux can decrypt the apps' secrets as soon
        // as there are any; where it is is said once, below.
        let key = crate::commands::render::repo_key(ws.tree(), &cfg, true)?;
        let mut change = crate::commands::render::whole_change(
            ws.tree(),
            &cfg,
            &install,
            Mode::Apply,
            key.as_ref().map(|(k, _)| k),
        )?;
        change.message = format!(
            "Initialise the homelab repository of cluster {}\n\nRendered by homelab {} from homelab.yaml.",
            cfg.cluster.name,
            env!("CARGO_PKG_VERSION")
        );
        ws.apply(&change)?
    };
    bar.finish_and_clear();
    let summary = report.summary();
    if ctx.verbose > 0 || report.has_conflicts() {
        eprint!("{summary}");
    }
    let totals = summary.lines().last().unwrap_or_default();
    eprintln!(
        "rendered the repository into {} ({totals})",
        ctx.dir.display()
    );
    if report.has_conflicts() {
        return Ok(crate::commands::render::status(&report));
    }
    if let Some(oid) = report.commit {
        crate::ui::style::note(&format!("committed {}", &oid.to_string()[..8]));
    }
    if let Some(key) = crate::secrets::find_key(&ctx.dir, &cfg.cluster.name)? {
        crate::ui::style::note(&format!(
            "age key: {} (public key {}) — back it up: it decrypts the app secrets in this repository",
            key.file.display(),
            key.recipient
        ));
    }

    let mut skipped = Vec::new();
    if cfg.git.url.is_empty() {
        skipped.push("push: git.url is empty (local repository only)".to_owned());
    } else if args.no_push {
        skipped.push("push: --no-push".to_owned());
    } else {
        crate::commands::push::push_repo(&ctx.dir, &cfg, &args.push)?;
    }

    if args.no_bootstrap {
        skipped.push("bootstrap: --no-bootstrap".to_owned());
    } else if cfg.git.url.is_empty() {
        skipped.push("bootstrap: Flux needs git.url to pull from".to_owned());
    } else {
        let mut options = args.bootstrap.clone();
        // One set of host-key and git timeout flags for both steps.
        options.remote = args.push.remote.clone();
        if options.kube.context.is_none() {
            options.kube.context = context;
        }
        match crate::commands::bootstrap::reachable(&options.kube) {
            Ok(()) => return crate::commands::bootstrap::run_with(&ctx.dir, &cfg, &options),
            Err(why) => skipped.push(format!("bootstrap: {why}")),
        }
    }
    for what in &skipped {
        eprintln!("skipped {what}");
    }
    if !skipped.is_empty() {
        eprintln!("hint: run `homelab push` and `homelab bootstrap` when ready");
    }
    Ok(Status::Ok)
}
