//! `homelab remove-app <name>`: take an installed app out of the repository cleanly — its
//! files (encrypted Secret included), its `apps/kustomization.yaml` entry and its
//! `homelab.yaml` entry — in one commit, so Flux prunes it from the cluster.
//!
//! It goes through the one writer like every change: files the user edited are kept (and
//! said so), never deleted; nothing outside the files homelab generated for the app is
//! touched; a failure leaves the repository as it was.

use crate::cli::RemoveAppArgs;
use crate::commands::Context;
use crate::config::{CONFIG_FILE, Config};
use crate::error::{Error, Result, Status};
use crate::render::change::{app_change, config_text};
use crate::render::write::{Outcome, Workspace};
use crate::ui::publish::{PushFn, default_push, push_if_configured};

/// Run `remove-app` with the CLI's push.
pub fn run(ctx: &Context, args: &RemoveAppArgs) -> Result<Status> {
    run_with(ctx, args, &default_push)
}

fn installed<'a>(cfg: &'a Config, name: &str) -> Result<&'a crate::config::App> {
    cfg.apps.iter().find(|a| a.name == name).ok_or_else(|| {
        let installed: Vec<&str> = cfg.apps.iter().map(|a| a.name.as_str()).collect();
        let hint = if installed.is_empty() {
            "no apps are installed (see `homelab apps`)".to_owned()
        } else {
            format!("installed: {}", installed.join(", "))
        };
        Error::usage(format!("{name:?} is not installed")).with_hint(hint)
    })
}

/// Run `remove-app` with the given push.
pub fn run_with(ctx: &Context, args: &RemoveAppArgs, push: PushFn<'_>) -> Result<Status> {
    crate::render::write::check_dir(&ctx.dir)?;
    let cfg = crate::catalog::load_config(&ctx.dir)?;
    let app = installed(&cfg, &args.name)?.clone();
    let interactive = !args.non_interactive && crate::ui::printer::can_ask();
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

    let ws = Workspace::create(&ctx.dir, &cfg.git.branch, "remove-app")?;
    let cfg = crate::catalog::load_config(&ctx.dir)?;
    let app = installed(&cfg, &args.name)?.clone();
    let text = config_text(&ws)?;
    let edited =
        crate::config::edit::with_app_removed(&text, &cfg, &app.name, &crate::catalog::rules)?;
    let mut new_cfg = cfg.clone();
    new_cfg.apps.retain(|a| a.name != app.name);
    let mut change = app_change(&cfg, &new_cfg, edited, &format!("Remove app {}", app.name))?;
    // The encrypted Secret was written by add-app; an older homelab did not record it.
    let secret = crate::catalog::secret_path(&app);
    if let Some(bytes) = ws.tree().read(&secret)? {
        change
            .previous
            .insert(secret.clone(), String::from_utf8_lossy(&bytes).into_owned());
    }
    if let Some(scope) = &mut change.scope {
        scope.insert(secret);
    }
    let report = ws.apply(&change)?;
    if report.has_conflicts() {
        return Err(crate::render::change::conflict_error(
            &format!("cannot remove {}", app.name),
            &report,
        ));
    }
    drop(ws);

    crate::ui::printer::data_line(&format!("{}: removed", app.name));
    for kept in report.with(Outcome::OrphanKept) {
        crate::ui::style::note(&format!(
            "kept {}: you edited it, so it is yours now (Flux no longer applies it; delete it yourself when you no longer need it)",
            kept.path
        ));
    }
    if let Some(oid) = report.commit {
        crate::ui::style::note(&format!(
            "committed {} (Remove app {}; {CONFIG_FILE} edited in place)",
            &oid.to_string()[..8],
            app.name
        ));
    }
    if new_cfg.git.url.is_empty() || args.no_push {
        crate::ui::style::note(&crate::ui::render::next_step(&new_cfg));
    }
    push_if_configured(&ctx.dir, &new_cfg, args.no_push, &(&args.push).into(), push)
}
