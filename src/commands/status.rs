//! `homelab status`: every Flux object of the cluster with its Ready state, revision and
//! message (what `flux get all -A` shows, without the flux CLI), as a table or JSON.
//! Exit 1 when one is not Ready.

use serde::Serialize;

use crate::cli::{OutputFormat, StatusArgs};
use crate::error::{Error, Result, Status};
use crate::kube::client;
use crate::kube::status::{self, Listed, ObjectStatus, short_revision};
use crate::ui::printer;

/// The version of the `--output json` document (docs/status.md). Bumped on incompatible
/// changes only; new fields do not bump it.
pub const JSON_VERSION: u32 = 1;

#[derive(Debug, Serialize)]
struct Summary {
    total: usize,
    ready: usize,
    not_ready: usize,
}

#[derive(Debug, Serialize)]
struct KindError {
    kind: &'static str,
    message: String,
}

/// The `--output json` document.
#[derive(Debug, Serialize)]
struct Document {
    version: u32,
    /// Every object Ready and every kind readable.
    ready: bool,
    summary: Summary,
    objects: Vec<ObjectStatus>,
    errors: Vec<KindError>,
}

pub fn run(args: &StatusArgs) -> Result<Status> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::failed(format!("cannot start the async runtime: {e}")))?;
    let listed = runtime.block_on(async {
        let conn = client::connect(&(&args.kube).into()).await?;
        Ok::<_, Error>(status::list_flux(&conn.client).await)
    })?;

    let mut objects = Vec::new();
    let mut errors = Vec::new();
    let mut installed = false;
    for (kind, listing) in listed {
        match listing {
            Listed::Objects(found) => {
                installed = true;
                objects.extend(found);
            }
            Listed::NotInstalled => {}
            Listed::Error(message) => errors.push(KindError {
                kind: kind.kind,
                message,
            }),
        }
    }
    if !installed && errors.is_empty() {
        return Err(
            Error::failed("Flux is not installed in this cluster").with_hint(
                "run `homelab bootstrap` to install Flux and connect it to the repository",
            ),
        );
    }
    if !installed {
        return Err(Error::failed(format!(
            "cannot read the Flux objects: {}",
            errors[0].message
        ))
        .with_hint(
            "check that the cluster is reachable and that the kubeconfig's user may read Flux objects; `homelab doctor` says more",
        ));
    }
    let ready = objects.iter().filter(|o| o.ready).count();
    let doc = Document {
        version: JSON_VERSION,
        ready: ready == objects.len() && errors.is_empty(),
        summary: Summary {
            total: objects.len(),
            ready,
            not_ready: objects.len() - ready,
        },
        objects,
        errors,
    };
    match args.output {
        OutputFormat::Json => {
            let text = serde_json::to_string_pretty(&doc)
                .map_err(|e| Error::failed(format!("cannot write JSON: {e}")))?;
            printer::data_line(&text);
        }
        OutputFormat::Text => printer::data(&table(&doc)),
    }
    Ok(if doc.ready {
        Status::Ok
    } else {
        Status::ChecksFailed
    })
}

/// The text report: one row per object, then a summary line.
fn table(doc: &Document) -> String {
    let header = ["KIND", "NAME", "STATUS", "REVISION", "MESSAGE"].map(str::to_owned);
    let rows: Vec<[String; 5]> = doc
        .objects
        .iter()
        .map(|o| {
            let mut state = o.state.as_str().to_owned();
            if o.suspended {
                state.push_str(",suspended");
            }
            let mut revision = o
                .revision
                .as_deref()
                .map(short_revision)
                .unwrap_or_default();
            if let Some(attempted) = &o.attempted_revision
                && !o.ready
            {
                revision = format!("{revision}→{}", short_revision(attempted));
            }
            [
                o.kind.clone(),
                format!("{}/{}", o.namespace, o.name),
                state,
                if revision.is_empty() {
                    "-".into()
                } else {
                    revision
                },
                o.message.clone(),
            ]
        })
        .collect();
    let mut widths = header.clone().map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<width$}  ", width = widths[i]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    for e in &doc.errors {
        out.push_str(&format!("cannot list {}s: {}\n", e.kind, e.message));
    }
    let s = &doc.summary;
    if doc.ready {
        out.push_str(&format!("\nall {} Flux objects ready\n", s.total));
    } else {
        out.push_str(&format!(
            "\n{} Flux objects: {} ready, {} not ready\n",
            s.total, s.ready, s.not_ready
        ));
    }
    out
}
