//! Waiting for Flux on the terminal: `homelab sync`, and the `--wait` of `push` and
//! `add-app`. Ask Flux to reconcile now and wait (progress on stderr) until the cluster runs
//! the local branch's commit, or say which object does not get there and why. The engine is
//! [`crate::kube::sync`].

use std::path::Path;

use crate::config::Config;
use crate::error::{Error, Result, Status};
use crate::kube::client;
use crate::kube::status::short_revision;
use crate::kube::sync::{self, Goal, Outcome, Round};
use crate::ui::{printer, style};

/// `--wait` after a push: how to reach the cluster, and how long to wait (as typed).
#[derive(Debug, Clone)]
pub struct Wait {
    pub kube: client::Options,
    pub timeout: String,
}

/// The end of `push` and `add-app`: with `--wait`, sync to what was just pushed; otherwise
/// the command's own status.
pub fn after_push(dir: &Path, cfg: &Config, wait: Option<Wait>, pushed: Status) -> Result<Status> {
    let Some(wait) = wait else {
        return Ok(pushed);
    };
    block_on(sync_to_local(dir, cfg, &wait.kube, &wait.timeout, true))
}

pub fn block_on(task: impl std::future::Future<Output = Result<Status>>) -> Result<Status> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::failed(format!("cannot start the async runtime: {e}")))?
        .block_on(task)
}

/// Request a reconciliation and (with `wait`) wait until Flux runs the local commit of the
/// branch it follows.
pub async fn sync_to_local(
    dir: &Path,
    cfg: &Config,
    kube: &client::Options,
    timeout_text: &str,
    wait: bool,
) -> Result<Status> {
    let timeout = crate::net::parse_duration(timeout_text).ok_or_else(|| {
        Error::usage(format!("--timeout: {timeout_text:?} is not a duration"))
            .with_hint("use e.g. 90s, 10m or 1h")
    })?;
    let conn = client::connect(kube).await?;
    let branch = sync::source_branch(&conn.client)
        .await?
        .unwrap_or_else(|| cfg.git.branch.clone());
    let revision = sync::local_revision(dir, &branch)?;
    let requested = sync::request(&conn.client).await?;
    style::note(&format!(
        "asked Flux to reconcile {} now (context {})",
        requested
            .objects
            .iter()
            .map(|o| format!("{} {}", o.kind, o.name))
            .collect::<Vec<_>>()
            .join(", "),
        conn.context
    ));
    for k in &requested.suspended {
        style::note(&format!(
            "{} {k} is suspended: Flux ignores requests for it",
            style::yellow("warning:")
        ));
    }
    if !wait {
        return Ok(Status::Ok);
    }

    let short = short_revision(&revision);
    let goal = Goal {
        revision: revision.clone(),
        token: Some(requested.token),
        nudged: Default::default(),
    };
    let started = tokio::time::Instant::now();
    let bar = printer::spinner(format!("waiting for Flux to run {short}"));
    let mut last = String::new();
    let outcome = sync::wait(&conn.client, &goal, started + timeout, |round| {
        let line = progress_line(round);
        bar.set_message(line.clone());
        // Without a terminal the spinner is hidden: log each change instead.
        if !printer::progress_enabled() && line != last {
            style::note(&line);
            last = line;
        }
    })
    .await;
    bar.finish_and_clear();
    match outcome? {
        Outcome::Done(round) => {
            style::note(&format!(
                "{} Flux runs {short}: {} Ready ({}s)",
                style::mark(style::Mark::Ok),
                sync::summary(&round),
                started.elapsed().as_secs()
            ));
            Ok(Status::Ok)
        }
        Outcome::Hopeless(round) => Err(Error::failed(format!(
            "Flux cannot get to {short}:\n  {}",
            sync::explain(&round).join("\n  ")
        ))
        .with_hint(hint(&round))),
        Outcome::TimedOut(round) => Err(Error::failed(format!(
            "Flux did not run {short} within {timeout_text} (still {}):\n  {}",
            round.phase.label(),
            sync::explain(&round).join("\n  ")
        ))
        .with_hint(hint(&round))),
    }
}

/// One line of progress: the phase, the count, and the first object still pending.
fn progress_line(round: &Round) -> String {
    let first = round
        .pending
        .first()
        .map(|p| format!("; {}: {}", p.object.id(), p.why))
        .unwrap_or_default();
    format!(
        "waiting: {} ({}/{} ready{first})",
        round.phase.label(),
        round.ready(),
        round.objects.len()
    )
}

/// What to do about the first object that did not get there.
fn hint(round: &Round) -> String {
    let Some(first) = round.hopeless().or_else(|| round.pending.first()) else {
        return "run `homelab status` to see every Flux object".to_owned();
    };
    if first.object.suspended {
        return "it was suspended on purpose (spec.suspend: true); resume it the way it was suspended, then run `homelab sync` again".to_owned();
    }
    if first.why.contains("not on the remote branch") {
        return "push the commit first: `homelab push --wait`".to_owned();
    }
    if first.why.contains("request is not handled yet") {
        return "Flux did not answer the request: `homelab doctor` checks whether its controllers run".to_owned();
    }
    if first.object.kind == "GitRepository" {
        return "Flux cannot fetch the repository: check git.url and the deploy key (`homelab bootstrap --rotate-keys` replaces it); `homelab doctor` says more".to_owned();
    }
    if first.hopeless {
        return "the message comes from the object itself: fix the cause in the repository, then `homelab push --wait`; `homelab status` shows every Flux object".to_owned();
    }
    "the messages come from the objects themselves; `homelab status` shows every Flux object and `homelab doctor` looks for the cause; run `homelab sync` again to keep waiting".to_owned()
}
