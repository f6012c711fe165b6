//! `homelab apps`: the catalog, and which of its apps this homelab runs and where.

use crate::catalog;
use crate::commands::Context;
use crate::config::CONFIG_FILE;
use crate::error::{Result, Status};

/// List the catalog on stdout; installed apps show their URL. Works outside a homelab
/// repository too (then nothing is installed).
pub fn run(ctx: &Context) -> Result<Status> {
    let installed = if ctx.dir.join(CONFIG_FILE).exists() {
        crate::commands::add_app::load_config(&ctx.dir)?.apps
    } else {
        Vec::new()
    };
    let profiles = catalog::all();
    let width = profiles.iter().map(|p| p.name.len()).max().unwrap_or(0);
    for p in &profiles {
        let status = match installed.iter().find(|a| a.name == p.name) {
            Some(app) => crate::ui::style::green(&format!("installed at https://{}", app.host)),
            None => String::new(),
        };
        println!(
            "{:width$}  {:8}  {}{}",
            p.name,
            p.chart.version,
            p.description,
            if status.is_empty() {
                String::new()
            } else {
                format!("  [{status}]")
            },
        );
    }
    for app in installed.iter().filter(|a| catalog::get(&a.name).is_none()) {
        println!(
            "{:width$}  {:8}  not in this version's catalog  [installed at https://{}]",
            app.name, "-", app.host
        );
    }
    Ok(Status::Ok)
}

/// A spinner on stderr for the slow steps; hidden when stderr is not a terminal.
pub fn spinner(message: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new_spinner();
    if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    bar.set_message(message.to_owned());
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}
