//! `homelab apps`: the catalog, and which of its apps this homelab runs and where.

use crate::catalog;
use crate::commands::Context;
use crate::config::CONFIG_FILE;
use crate::error::{Result, Status};
use crate::ui::printer;

/// List the catalog on stdout; installed apps show their URL. Works outside a homelab
/// repository too (then nothing is installed).
pub fn run(ctx: &Context) -> Result<Status> {
    let installed = if ctx.dir.join(CONFIG_FILE).exists() {
        crate::catalog::load_config(&ctx.dir)?.apps
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
        printer::data_line(&format!(
            "{:width$}  {:8}  {}{}",
            p.name,
            p.chart.version,
            p.description,
            if status.is_empty() {
                String::new()
            } else {
                format!("  [{status}]")
            },
        ));
    }
    for app in installed.iter().filter(|a| catalog::get(&a.name).is_none()) {
        printer::data_line(&format!(
            "{:width$}  {:8}  not in this version's catalog  [installed at https://{}]",
            app.name, "-", app.host
        ));
    }
    Ok(Status::Ok)
}
