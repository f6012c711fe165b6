//! `homelab doctor`'s checks: findings with a severity, a message and a hint.
//!
//! `flux check` says whether Flux runs; the doctor says whether the homelab works, from the
//! machine (homelab.yaml, the git repository) to the apps, and for each problem what to do
//! next. The cluster is read once, with one list call per kind issued concurrently
//! ([`snapshot`]); every section is then a pure function of the configuration and that
//! snapshot ([`checks`]), which keeps the checks fast, unit-testable and free of ordering
//! effects. A cluster that cannot be reached still gets the local checks.
//!
//! Every wait has a deadline (the git fetch, each step of reaching the cluster, each read),
//! and each section has one more as a backstop, so the report is printed in bounded time
//! even when every remote hangs; a check that ran out of time says so.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use crate::config::Config;

pub mod causes;
pub mod checks;
pub mod connect;
pub mod local;
pub mod snapshot;

/// The version of the JSON document `--output json` prints. Bumped on any incompatible
/// change (a renamed or removed field); new fields and new checks do not bump it.
pub const JSON_VERSION: u32 = 1;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Ok,
    Warning,
    /// Not ok, but only because of a failure reported elsewhere (`waiting_on` names it):
    /// fixing that one fixes this, so it gets no hint of its own.
    Waiting,
    Failed,
}

/// One check's outcome: what was looked at, what was found, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// A stable identifier of the check, e.g. `nodes.ready` (see docs/doctor.md).
    pub check: String,
    pub status: Severity,
    /// One line saying what was found.
    pub message: String,
    /// What to do next; present when the status is warning or failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// For a waiting finding: the failed object or check it waits on, as its message names
    /// it (e.g. `Kustomization flux-system/infra-controllers`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiting_on: Option<String>,
}

impl Finding {
    pub fn ok(check: &str, message: impl Into<String>) -> Self {
        Self {
            check: check.to_owned(),
            status: Severity::Ok,
            message: message.into(),
            hint: None,
            waiting_on: None,
        }
    }

    pub fn warning(check: &str, message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self {
            check: check.to_owned(),
            status: Severity::Warning,
            message: message.into(),
            hint: Some(hint.into()),
            waiting_on: None,
        }
    }

    pub fn failed(check: &str, message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self {
            check: check.to_owned(),
            status: Severity::Failed,
            message: message.into(),
            hint: Some(hint.into()),
            waiting_on: None,
        }
    }

    /// A failure when `root` is `None`, otherwise a finding waiting on that root cause.
    pub fn failed_unless(
        check: &str,
        message: impl Into<String>,
        hint: impl Into<String>,
        root: Option<causes::Root>,
    ) -> Self {
        match root {
            None => Self::failed(check, message, hint),
            Some(root) => Self {
                check: check.to_owned(),
                status: Severity::Waiting,
                message: message.into(),
                hint: None,
                waiting_on: Some(root.0),
            },
        }
    }
}

/// A group of findings, printed under one heading.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Section {
    /// Stable identifier: local, cluster, nodes, flux, loadbalancing, certificates, storage,
    /// dns, apps.
    pub name: &'static str,
    /// Heading for people.
    pub title: &'static str,
    pub findings: Vec<Finding>,
}

impl Section {
    pub fn new(name: &'static str, title: &'static str, findings: Vec<Finding>) -> Self {
        Self {
            name,
            title,
            findings,
        }
    }
}

/// Counts per severity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub ok: usize,
    pub warning: usize,
    pub failed: usize,
    /// Findings waiting on a failed one.
    pub waiting: usize,
}

/// Everything the doctor found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub version: u32,
    pub summary: Summary,
    pub sections: Vec<Section>,
}

impl Report {
    pub fn new(sections: Vec<Section>) -> Self {
        let mut summary = Summary::default();
        for f in sections.iter().flat_map(|s| &s.findings) {
            match f.status {
                Severity::Ok => summary.ok += 1,
                Severity::Warning => summary.warning += 1,
                Severity::Failed => summary.failed += 1,
                Severity::Waiting => summary.waiting += 1,
            }
        }
        Self {
            version: JSON_VERSION,
            summary,
            sections,
        }
    }

    /// Whether any check failed (exit 1).
    pub fn has_failures(&self) -> bool {
        self.summary.failed > 0 || self.summary.waiting > 0
    }

    /// Every finding, for lookups in tests and tools.
    pub fn findings(&self) -> impl Iterator<Item = &Finding> {
        self.sections.iter().flat_map(|s| &s.findings)
    }
}

/// What `homelab render` would write, keyed by repo-relative path. Produced by the caller so
/// the doctor does not depend on how the repository is rendered (nor on the Flux manifest
/// download that rendering may need).
pub type RenderFn<'a> =
    dyn Fn(&Config) -> crate::error::Result<BTreeMap<String, String>> + Send + Sync + 'a;

/// The inputs of a doctor run.
pub struct Options<'a> {
    /// The repository directory (where homelab.yaml lives).
    pub dir: PathBuf,
    pub kube: crate::kube::client::Options,
    /// How the git remote is reached for the comparison with it.
    pub git: GitOptions,
    /// Renders the repository from the configuration, for the "rendered files up to date"
    /// check; `None` skips that check with a warning.
    pub render: Option<&'a RenderFn<'a>>,
}

/// How the doctor reaches the git remote (it never prompts and never records a host key).
#[derive(Debug, Clone, Default)]
pub struct GitOptions {
    /// An extra known_hosts file (`--known-hosts`).
    pub known_hosts: Option<PathBuf>,
    /// `--git-timeout`, else [`GIT_TIMEOUT`].
    pub timeout: Option<Duration>,
}

/// How long connecting to the git remote, and each wait for it, may take unless
/// `--git-timeout` says otherwise. The whole comparison gets [`SECTION_FACTOR`] times that.
pub const GIT_TIMEOUT: Duration = Duration::from_secs(10);

/// A section's backstop: this many times its per-step timeout. Steps are bounded on their
/// own; this only catches a wait that escaped them.
pub const SECTION_FACTOR: u32 = 3;

impl std::fmt::Debug for Options<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("dir", &self.dir)
            .field("kube", &self.kube)
            .field("git", &self.git)
            .field("render", &self.render.is_some())
            .finish()
    }
}

/// Run every check and return the report. Never fails: a problem is a finding.
pub async fn run(opts: &Options<'_>) -> Report {
    let dir = opts.dir.as_path();
    let (config, config_finding) = local::load_config(dir);

    // Local git work (libgit2 fetch) blocks; run it beside the cluster checks.
    let git_timeout = opts.git.timeout.unwrap_or(GIT_TIMEOUT);
    let local_task = {
        let dir = dir.to_path_buf();
        let cfg = config.clone();
        let git = opts.git.clone();
        tokio::task::spawn_blocking(move || local::git_checks(&dir, cfg.as_ref(), &git))
    };
    let git_deadline = git_timeout.saturating_mul(SECTION_FACTOR);
    let local_task = tokio::time::timeout(git_deadline, local_task);

    let mut local_findings = vec![config_finding];
    if let Some(cfg) = &config {
        local_findings.extend(local::git_url_finding(cfg));
    }
    let sops = local::sops_recipients(dir);
    let cluster = cluster_sections(config.as_ref(), opts);

    let (git, cluster) = tokio::join!(local_task, cluster);
    let git = match git {
        Ok(Ok(state)) => state,
        Ok(Err(e)) => local::GitState::failed(format!("git checks crashed: {e}")),
        Err(_) => local::GitState::timed_out(dir, config.as_ref(), git_deadline),
    };
    local_findings.extend(git.findings.iter().cloned());
    if let Some(cfg) = &config {
        local_findings.push(rendered_finding(dir, cfg, opts.render));
    }

    let mut sections = vec![Section::new("local", "Local", local_findings)];
    let (access, snap) = cluster;
    let reachable = snap.is_some();
    sections.push(access);
    if let (Some(cfg), Some(snap)) = (&config, snap) {
        sections.extend(checks::all(cfg, &snap, &git, &sops).await);
    } else if let (Some(cfg), false) = (&config, reachable) {
        sections.extend(checks::without_cluster(cfg).await);
    }
    Report::new(sections)
}

/// The cluster-access section, and the snapshot when the cluster could be read.
async fn cluster_sections(
    cfg: Option<&Config>,
    opts: &Options<'_>,
) -> (Section, Option<snapshot::Snapshot>) {
    let timeout = crate::kube::client::request_timeout(&opts.kube, connect::REQUEST_TIMEOUT);
    // Connecting is a few steps, each bounded by the request timeout (the credential plugin
    // included); the backstop covers them all.
    let backstop = timeout.saturating_mul(SECTION_FACTOR + 1);
    let (mut findings, connected) =
        match tokio::time::timeout(backstop, connect::check(&opts.kube)).await {
            Ok(checked) => checked,
            Err(_) => (
                vec![Finding::failed(
                    "cluster.reachable",
                    format!(
                        "cannot reach cluster: no answer within {}",
                        crate::net::human(backstop)
                    ),
                    "check the kubeconfig's server and credential plugin, or allow more time \
                     with --request-timeout DURATION",
                )],
                None,
            ),
        };
    let Some(connected) = connected else {
        return (Section::new("cluster", "Cluster access", findings), None);
    };
    let snap = match cfg {
        Some(cfg) => {
            // The reads run concurrently, each bounded by the request timeout.
            match tokio::time::timeout(backstop, snapshot::Snapshot::take(&connected.client, cfg))
                .await
            {
                Ok(snap) => Some(snap),
                Err(_) => {
                    findings.push(Finding::failed(
                        "cluster.reachable",
                        format!(
                            "the API server {} did not answer every read within {}",
                            connected.server_url,
                            crate::net::human(backstop)
                        ),
                        "the server is overloaded or a read hangs; run the doctor again, or \
                         allow more time with --request-timeout DURATION",
                    ));
                    None
                }
            }
        }
        None => {
            findings.push(Finding::warning(
                "cluster.skipped",
                "cluster checks skipped: homelab.yaml could not be read",
                "fix homelab.yaml first (see the Local section)",
            ));
            None
        }
    };
    (Section::new("cluster", "Cluster access", findings), snap)
}

fn rendered_finding(dir: &Path, cfg: &Config, render: Option<&RenderFn<'_>>) -> Finding {
    let Some(render) = render else {
        return Finding::warning(
            "local.rendered",
            "rendered files not compared with homelab.yaml (renderer unavailable)",
            "run `homelab render --diff` to see what a re-render would change",
        );
    };
    match render(cfg) {
        Ok(files) => local::check_rendered(dir, &files),
        Err(err) => Finding::warning(
            "local.rendered",
            format!("rendered files not compared with homelab.yaml: {err:#}"),
            "run `homelab render --diff` (with --flux-manifests FILE when offline)",
        ),
    }
}
