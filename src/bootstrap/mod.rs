//! The bootstrap engine: what `flux bootstrap` does, in-process. Apply the rendered
//! `clusters/<name>/flux-system` (Flux's controllers and the GitRepository + Kustomization
//! that point Flux at this repository), the Secrets git must never hold, and wait until Flux
//! has pulled and applied the commit that was pushed. From then on, Flux owns the cluster.
//!
//! Everything that can be checked is checked before the first object is applied: the
//! kubeconfig, the server and its version, our permissions, and every credential. Applying
//! is server-side and idempotent, so an interrupted run is completed by running it again.
//!
//! The engine talks to no terminal: progress, notes, questions and the deploy key go through
//! the [`Ui`] its caller passes (`homelab bootstrap` and `homelab init` pass the terminal's;
//! a future node-provisioning flow can pass its own), so it stays usable as a library.

mod access;
pub mod cluster_secrets;
mod credentials;
mod manifests;

use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::ApiResource;
use serde_json::Value;

use crate::config::Config;
use crate::error::{Error, Result, Status};
use crate::kube::apply::{Applier, ApplyOptions, ApplyReport};
use crate::kube::client;
use crate::kube::wait::{self, Check, Target};
use crate::net::{DEFAULT_REQUEST_TIMEOUT, human};

use access::{describe_access, needed_access};
use credentials::gather_credentials;
use manifests::{is_sync_object, read_kustomization, str_at};

/// What a bootstrap does, decided by its caller (flags, or `init`'s answers).
#[derive(Debug, Clone)]
pub struct Options {
    /// Which cluster, and how long one request may take.
    pub kube: client::Options,
    /// How long Flux may take to become Ready at the pushed commit.
    pub timeout: Duration,
    /// Wait for Flux to be Ready (false: apply and return).
    pub wait: bool,
    /// Validate everything against the server, change nothing.
    pub dry_run: bool,
    /// Replace the git credentials Flux already has.
    pub rotate_keys: bool,
    /// Use this SSH private key as Flux's deploy key instead of generating one.
    pub deploy_key: Option<PathBuf>,
    /// Bootstrap even where k3s's bundled Traefik and ServiceLB run.
    pub force: bool,
    /// Extra known_hosts file for the git host (as `homelab push`).
    pub known_hosts: Option<PathBuf>,
    /// Trust an SSH host key seen for the first time without asking.
    pub accept_new_host_key: bool,
    /// Bound of every git network operation (the host-key scan, the deploy key check).
    pub git_timeout: Duration,
}

/// The deploy key bootstrap made, for the user to add to the git host.
pub struct DeployKey<'a> {
    /// `git.url` (shown redacted).
    pub url: &'a str,
    /// The public key, in OpenSSH format.
    pub public: &'a str,
    pub fingerprint: &'a str,
    /// Flux pushes too (image automation): the key needs write access.
    pub write: bool,
    pub key: &'a ssh_key::PrivateKey,
    pub known_hosts: &'a str,
    pub timeout: Duration,
}

// The private key stays out of debug output.
impl std::fmt::Debug for DeployKey<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeployKey")
            .field("fingerprint", &self.fingerprint)
            .field("write", &self.write)
            .finish_non_exhaustive()
    }
}

/// Where the engine's progress and questions go.
pub trait Ui {
    /// A line of information.
    fn note(&self, text: &str);
    /// Something the user should know, that does not stop the bootstrap.
    fn notice(&self, text: &str);
    /// Something wrong that a flag told bootstrap to ignore.
    fn warning(&self, text: &str);
    /// The cluster bootstrap is about to change.
    fn cluster(&self, context: &str, server: &str);
    /// A long step; ended by [`Step::done`] or [`Step::abandon`].
    fn step(&self, message: &str) -> Box<dyn Step + '_>;
    /// What the apply did to each object.
    fn report(&self, report: &ApplyReport, dry_run: bool);
    /// The deploy key to add to the git host; returns once it works, or when the caller
    /// decides not to check it.
    fn deploy_key(&self, key: &DeployKey<'_>) -> Result<()>;
    /// The last line of a successful bootstrap.
    fn finished(&self, text: &str);
    /// Whether a question may be asked (a terminal, and not `--yes`).
    fn can_ask(&self) -> bool;
    /// Ask for a secret (not echoed); only called when [`Ui::can_ask`].
    fn ask_secret(&self, prompt: &str) -> Result<String>;
}

/// A long step in progress.
pub trait Step {
    fn set(&self, message: &str);
    fn done(self: Box<Self>, message: &str);
    fn abandon(self: Box<Self>);
}

/// Run [`bootstrap`] on its own runtime (for the synchronous commands).
pub fn run(dir: &Path, cfg: &Config, options: &Options, ui: &dyn Ui) -> Result<Status> {
    // Before any thread that may use libgit2 exists (the host-key scan).
    crate::git::set_socket_timeouts(options.git_timeout);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::failed(format!("cannot start the async runtime: {e}")))?;
    let outcome = runtime.block_on(bootstrap(dir, cfg, options, ui));
    // Work given up on (a DNS lookup of a hung server) must not hold the exit.
    runtime.shutdown_background();
    outcome
}

/// How long `init`'s probe of the server's `/version` waits unless `--request-timeout` says
/// otherwise: short, because a cluster that is not there yet is common and only means the
/// bootstrap is left for later.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// Whether the cluster of `kube` answers, within a few seconds; `init` skips the bootstrap
/// (and says why) when it does not, instead of failing after it already committed and pushed.
/// The whole of it is bounded: reading the kubeconfig, its credential plugin, the probe.
pub fn reachable(kube: &client::Options) -> std::result::Result<(), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    let probe = kube.request_timeout.unwrap_or(PROBE_TIMEOUT);
    // The plugin may take up to the request timeout, the probe its own; a margin for the rest.
    let limit = client::request_timeout(kube, DEFAULT_REQUEST_TIMEOUT) + probe + PROBE_TIMEOUT;
    let outcome = runtime.block_on(async {
        let attempt = async {
            let conn = client::connect(kube).await.map_err(|e| e.message)?;
            match tokio::time::timeout(probe, client::check_server(&conn)).await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(e)) => Err(e.message),
                Err(_) => Err(format!(
                    "the API server {} did not answer within {}",
                    conn.server_url,
                    human(probe)
                )),
            }
        };
        tokio::time::timeout(limit, attempt)
            .await
            .unwrap_or_else(|_| {
                Err(format!(
                    "the cluster did not answer within {}",
                    human(limit)
                ))
            })
    });
    runtime.shutdown_background();
    outcome
}

/// The revision Flux must reach: `<branch>@sha1:<HEAD>` of the local repository.
fn expected_revision(dir: &Path, branch: &str) -> Option<String> {
    let repo = git2::Repository::open(dir).ok()?;
    let commit = repo.head().ok()?.peel_to_commit().ok()?;
    Some(format!("{branch}@sha1:{}", commit.id()))
}

/// Pre-flight, apply, wait.
pub async fn bootstrap(dir: &Path, cfg: &Config, opts: &Options, ui: &dyn Ui) -> Result<Status> {
    // 1. Everything local, before touching the cluster.
    let remote = cluster_secrets::parse_remote(&cfg.git.url)?;
    let flux_dir = dir
        .join("clusters")
        .join(&cfg.cluster.name)
        .join("flux-system");
    let mut docs = Vec::new();
    let mut ignored = Vec::new();
    read_kustomization(&flux_dir, &mut docs, &mut ignored)?;
    for field in &ignored {
        ui.notice(&format!(
            "bootstrap applies `resources` and `patches` only; {field} is applied by Flux on its first reconciliation"
        ));
    }
    // Flux trusts the chart mirror's CA from its first start (the rendered flux-system
    // kustomization mounts this Secret into source-controller).
    let mirror_ca = cluster_secrets::mirror_ca_secret(dir, cfg)?;
    let (sync, components): (Vec<Value>, Vec<Value>) = docs.into_iter().partition(is_sync_object);
    if !sync
        .iter()
        .any(|d| str_at(d, "/kind") == Some("GitRepository"))
    {
        return Err(Error::usage(format!(
            "{} has no GitRepository (gotk-sync.yaml)",
            flux_dir.display()
        ))
        .with_hint("render the repository (`homelab render`) so flux-system has gotk-sync.yaml"));
    }

    for repo in sync
        .iter()
        .filter(|d| str_at(d, "/kind") == Some("GitRepository"))
    {
        let url = str_at(repo, "/spec/url").unwrap_or_default();
        if !["ssh://", "https://", "http://"]
            .iter()
            .any(|scheme| url.starts_with(scheme))
        {
            return Err(Error::usage(format!(
                "the GitRepository in {} has url {url:?}, which Flux cannot use",
                flux_dir.display()
            ))
            .with_hint("Flux needs ssh://user@host/path or https:// URLs (not user@host:path): fix git.url and run `homelab render`"));
        }
    }

    // The SOPS key Flux decrypts the apps' secrets with: always applied, so the apps
    // Kustomization can build from the first reconciliation.
    let age_key = crate::secrets::require_key(dir, &cfg.cluster.name)?;

    // 2. The cluster: reachable, recent enough, and we may do what we need.
    let conn = client::connect(&opts.kube).await?;
    ui.cluster(&conn.context, &conn.server_url);
    let version = client::check_server(&conn).await?;
    ui.note(&format!("Kubernetes {version}"));
    let mut applier = Applier::new(
        conn.client.clone(),
        ApplyOptions {
            dry_run: opts.dry_run,
            field_validation_strict: false,
        },
    );
    let all: Vec<Value> = components.iter().chain(sync.iter()).cloned().collect();
    let needed = needed_access(&mut applier, &all).await?;
    let denied = client::denied(&conn, &needed).await?;
    if !denied.is_empty() {
        let list: Vec<String> = denied.iter().take(8).map(describe_access).collect();
        let more = denied.len().saturating_sub(8);
        return Err(Error::failed(format!(
            "the identity of context {} may not install Flux; it cannot {}{}",
            conn.context,
            list.join(", "),
            if more > 0 {
                format!(" (and {more} more)")
            } else {
                String::new()
            }
        ))
        .with_hint("bootstrap needs cluster-admin rights: use an admin kubeconfig or context (--kubeconfig, --context); nothing was applied"));
    }

    // k3s's bundled Traefik and ServiceLB take the ports and addresses the homelab's ingress
    // controller and MetalLB need: the homelab would come up half working.
    let k3s = crate::kube::k3s::read(&conn.client).await;
    if !k3s.is_empty() {
        let mut found: Vec<String> = Vec::new();
        if !k3s.traefik.is_empty() {
            found.push(format!("Traefik ({})", k3s.traefik.join("; ")));
        }
        if !k3s.servicelb.is_empty() {
            found.push(format!("ServiceLB ({})", k3s.servicelb.join("; ")));
        }
        let what = format!(
            "k3s's bundled {} would fight the homelab's ingress controller and MetalLB",
            found.join(" and ")
        );
        if !opts.force {
            return Err(Error::failed(what).with_hint(format!(
                "{}; then run `homelab bootstrap` again (--force bootstraps anyway); nothing was applied",
                crate::kube::k3s::FIX
            )));
        }
        ui.warning(&format!("{what} (--force)"));
    }

    // 3. Credentials: all decided before anything is applied.
    let creds = gather_credentials(&conn.client, cfg, &remote, opts, &age_key, ui).await?;
    for note in &creds.notes {
        ui.note(note);
    }

    // 4. Flux's components and the Secrets.
    let step = ui.step("Applying Flux components and credentials");
    let mut first: Vec<Value> = components;
    first.extend(creds.docs.iter().cloned());
    first.extend(mirror_ca);
    let mut report = match applier.apply(&first).await {
        Ok(r) => r,
        Err(e) => {
            step.abandon();
            return Err(e);
        }
    };
    // A count only: the outcome totals come once, over every object, after the sync objects.
    step.done(&format!(
        "Flux components and credentials: {} objects",
        report.objects.len()
    ));

    if let Some(key) = &creds.deploy_key
        && !opts.dry_run
    {
        let write = cfg
            .flux
            .components
            .iter()
            .any(|c| c == "image-automation-controller");
        ui.deploy_key(&DeployKey {
            url: &cfg.git.url,
            public: &key.public,
            fingerprint: &key.fingerprint,
            write,
            key: &key.key,
            known_hosts: &key.known_hosts,
            timeout: opts.git_timeout,
        })?;
    }

    // 5. The sync objects: from here on Flux pulls this repository.
    let synced = applier.apply(&sync).await?;
    report.extend(synced);
    ui.report(&report, opts.dry_run);
    if opts.dry_run || !opts.wait {
        return Ok(Status::Ok);
    }

    // 6. Wait until Flux runs the commit we pushed.
    let branch = sync
        .iter()
        .find(|d| str_at(d, "/kind") == Some("GitRepository"))
        .and_then(|d| str_at(d, "/spec/ref/branch"))
        .unwrap_or(&cfg.git.branch)
        .to_owned();
    let revision = expected_revision(dir, &branch);
    if revision.is_none() {
        ui.notice(&format!(
            "{} has no commit: waiting for Flux to be Ready at any revision",
            dir.display()
        ));
    }
    let deployment = ApiResource::erase::<Deployment>(&());
    let mut phases: Vec<(String, Vec<Target>)> = Vec::new();
    let controllers: Vec<Target> = first
        .iter()
        .filter(|d| str_at(d, "/kind") == Some("Deployment"))
        .map(|d| Target {
            resource: deployment.clone(),
            namespace: str_at(d, "/metadata/namespace")
                .unwrap_or("default")
                .to_owned(),
            name: str_at(d, "/metadata/name").unwrap_or_default().to_owned(),
            check: Check::DeploymentAvailable,
        })
        .collect();
    phases.push(("Flux controllers available".to_owned(), controllers));
    for kind in ["GitRepository", "Kustomization"] {
        let mut targets = Vec::new();
        for doc in sync.iter().filter(|d| str_at(d, "/kind") == Some(kind)) {
            let api_version = str_at(doc, "/apiVersion").unwrap_or_default();
            let Some(resolved) = applier.resolve(api_version, kind).await? else {
                continue;
            };
            targets.push(Target {
                resource: resolved.resource,
                namespace: str_at(doc, "/metadata/namespace")
                    .unwrap_or("flux-system")
                    .to_owned(),
                name: str_at(doc, "/metadata/name").unwrap_or_default().to_owned(),
                check: Check::FluxReady {
                    revision: revision.clone(),
                },
            });
        }
        let label = match (kind, &revision) {
            ("GitRepository", Some(r)) => format!("GitRepository fetched {r}"),
            ("GitRepository", None) => "GitRepository ready".to_owned(),
            (_, Some(r)) => format!("Kustomization applied {r}"),
            (_, None) => "Kustomization ready".to_owned(),
        };
        phases.push((label, targets));
    }

    let deadline = tokio::time::Instant::now() + opts.timeout;
    for (index, (label, targets)) in phases.iter().enumerate() {
        let step = ui.step(&format!("Waiting: {label}"));
        let waiting = wait::wait_all(&conn.client, targets, deadline, |ready, total| {
            step.set(&format!("Waiting: {label} ({ready}/{total})"));
        })
        .await;
        if waiting.is_empty() {
            step.done(label);
            continue;
        }
        step.abandon();
        let mut lines: Vec<String> = waiting
            .iter()
            .map(|(t, st)| format!("  {}: {}", t.id(), st.message))
            .collect();
        for (_, later) in &phases[index + 1..] {
            for target in later {
                let st = wait::state(&conn.client, target).await;
                if !st.ready {
                    lines.push(format!("  {}: {}", target.id(), st.message));
                }
            }
        }
        return Err(Error::failed(format!(
            "Flux was not ready within {} ({label}):\n{}",
            human(opts.timeout),
            lines.join("\n")
        ))
        .with_hint("the messages above come from the objects themselves; fix the cause (often the deploy key or git.url), then run `homelab bootstrap` again (or `homelab doctor`)"));
    }
    ui.finished(&format!(
        "Flux is running {} from {}",
        revision.as_deref().unwrap_or("the repository"),
        crate::config::git_url::redact(&cfg.git.url)
    ));
    Ok(Status::Ok)
}
