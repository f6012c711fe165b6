//! `homelab remove-app <name>`: take an installed app out of the repository cleanly — its
//! directory (encrypted Secret included), its `apps/kustomization.yaml` entry and its
//! `homelab.yaml` entry — in one commit, so Flux prunes it from the cluster.

use std::io::IsTerminal as _;

use crate::catalog;
use crate::cli::RemoveAppArgs;
use crate::commands::Context;
use crate::commands::add_app::{
    PushFn, config_to_yaml, default_push, load_config, push_if_configured, write_files,
};
use crate::config::CONFIG_FILE;
use crate::error::{Error, Result, Status};

/// Run `remove-app` with the CLI's push.
pub fn run(ctx: &Context, args: &RemoveAppArgs) -> Result<Status> {
    run_with(ctx, args, &default_push)
}

/// Run `remove-app` with the given push.
pub fn run_with(ctx: &Context, args: &RemoveAppArgs, push: PushFn<'_>) -> Result<Status> {
    let mut cfg = load_config(&ctx.dir)?;
    let Some(index) = cfg.apps.iter().position(|a| a.name == args.name) else {
        let installed: Vec<&str> = cfg.apps.iter().map(|a| a.name.as_str()).collect();
        let hint = if installed.is_empty() {
            "no apps are installed (see `homelab apps`)".to_owned()
        } else {
            format!("installed: {}", installed.join(", "))
        };
        return Err(Error::usage(format!("{:?} is not installed", args.name)).with_hint(hint));
    };
    let app = cfg.apps.remove(index);
    let interactive =
        !args.non_interactive && std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    if interactive {
        let sure = dialoguer::Confirm::with_theme(&dialoguer::theme::ColorfulTheme::default())
            .with_prompt(format!(
                "Remove {} from the repository? Flux will delete it and its volumes' claims from the cluster",
                app.name
            ))
            .default(false)
            .interact()
            .map_err(|e| Error::failed(format!("prompt failed: {e}")))?;
        if !sure {
            return Err(Error::usage("cancelled; nothing changed"));
        }
    }

    let mut files = std::collections::BTreeMap::new();
    files.insert(
        "apps/kustomization.yaml".to_owned(),
        catalog::apps_kustomization(&cfg),
    );
    files.insert(CONFIG_FILE.to_owned(), config_to_yaml(&ctx.dir, &cfg)?);

    let dir = ctx.dir.join(catalog::app_dir(&app.name));
    if dir.exists() {
        std::fs::remove_dir_all(&dir)
            .map_err(|e| Error::failed(format!("cannot remove {}: {e}", dir.display())))?;
    }
    write_files(&ctx.dir, &files)?;
    let repo = crate::git::open_or_init(&ctx.dir, &cfg.git.branch)
        .map_err(|e| Error::failed(format!("{e:#}")))?;
    crate::git::commit_all(&repo, &format!("Remove app {}", app.name))
        .map_err(|e| Error::failed(format!("{e:#}")))?;
    println!("{}: removed", app.name);
    push_if_configured(&ctx.dir, &cfg, args.no_push, &args.push, push)
}
