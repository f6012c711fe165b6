//! `homelab bootstrap`: what `flux bootstrap` does, in-process: apply the rendered
//! `clusters/<name>/flux-system` (Flux's controllers and the GitRepository + Kustomization
//! that point Flux at this repository), the Secrets git must never hold, and wait until Flux
//! has pulled and applied the commit that was pushed. From then on, Flux owns the cluster.
//!
//! Everything that can be checked is checked before the first object is applied: the
//! kubeconfig, the server and its version, our permissions, and every credential. Applying
//! is server-side and idempotent, so an interrupted run is completed by running it again.

use std::collections::{BTreeMap, BTreeSet};
use std::io::IsTerminal;
use std::path::Path;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::ApiResource;
use serde_json::Value;
use ssh_key::HashAlg;

use crate::cli::{BootstrapArgs, BootstrapOptions};
use crate::commands::Context;
use crate::config::Config;
use crate::error::{Error, Result, Status};
use crate::git::hostkeys::HostKeyPolicy;
use crate::kube::apply::{Applier, ApplyOptions, ApplyReport, Outcome, parse_documents};
use crate::kube::client::{self, Access};
use crate::kube::credentials::{self, GIT_SECRET, GitRemote, PROVIDER_NAMESPACE, SOPS_SECRET};
use crate::kube::wait::{self, Check, Target};
use crate::net::{DEFAULT_GIT_TIMEOUT, DEFAULT_REQUEST_TIMEOUT, human};
use crate::ui::style;

/// `homelab bootstrap`.
pub fn run(ctx: &Context, args: &BootstrapArgs) -> Result<Status> {
    let cfg = crate::config::load(&ctx.dir)?;
    let options = BootstrapOptions {
        remote: args.remote.clone(),
        ..args.options.clone()
    };
    run_with(&ctx.dir, &cfg, &options)
}

/// Bootstrap with an already loaded configuration (`init` calls this after it pushed).
pub fn run_with(dir: &Path, cfg: &Config, options: &BootstrapOptions) -> Result<Status> {
    // Before any thread that may use libgit2 exists (the host-key scan).
    crate::git::set_socket_timeouts(git_timeout(options));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::failed(format!("cannot start the async runtime: {e}")))?;
    let outcome = runtime.block_on(bootstrap(dir, cfg, options));
    // Work given up on (a DNS lookup of a hung server) must not hold the exit.
    runtime.shutdown_background();
    outcome
}

fn git_timeout(options: &BootstrapOptions) -> Duration {
    options.remote.git_timeout.unwrap_or(DEFAULT_GIT_TIMEOUT)
}

/// How long `init`'s probe of the server's `/version` waits unless `--request-timeout` says
/// otherwise: short, because a cluster that is not there yet is common and only means the
/// bootstrap is left for later.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// Whether the cluster of `kube` answers, within a few seconds; `init` skips the bootstrap
/// (and says why) when it does not, instead of failing after it already committed and pushed.
/// The whole of it is bounded: reading the kubeconfig, its credential plugin, the probe.
pub fn reachable(kube: &crate::cli::KubeArgs) -> std::result::Result<(), String> {
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

/// The documents a kustomization directory lists under `resources` (recursively), with its
/// `patches` applied, and the other fields it uses, which bootstrap does not apply (Flux
/// applies them on its first reconciliation of the same directory).
fn read_kustomization(dir: &Path, docs: &mut Vec<Value>, ignored: &mut Vec<String>) -> Result<()> {
    let file = ["kustomization.yaml", "kustomization.yml", "Kustomization"]
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            Error::usage(format!("no kustomization.yaml in {}", dir.display()))
                .with_hint("render the repository first (`homelab render`), then run `homelab bootstrap` again")
        })?;
    let text = std::fs::read_to_string(&file)?;
    let kustomization: Value = serde_saphyr::from_str(&text).map_err(|e| {
        Error::usage(format!("{} is not valid YAML: {e}", file.display()))
            .with_hint("fix the file, or re-render it with `homelab render --force`")
    })?;
    let Some(fields) = kustomization.as_object() else {
        return Err(Error::usage(format!("{} is not a mapping", file.display()))
            .with_hint("re-render it with `homelab render --force`"));
    };
    let mut local = Vec::new();
    for entry in fields
        .get("resources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(entry) = entry.as_str() else {
            continue;
        };
        if entry.contains("://") {
            return Err(Error::usage(format!(
                "{}: remote resource {entry:?} is not supported by bootstrap",
                file.display()
            ))
            .with_hint("list local files only in the flux-system kustomization"));
        }
        let path = dir.join(entry);
        if path.is_dir() {
            read_kustomization(&path, &mut local, ignored)?;
        } else if path.is_file() {
            let text = std::fs::read_to_string(&path)?;
            let parsed = parse_documents(&text).map_err(|e| {
                Error::usage(format!("{} is not valid YAML: {e:#}", path.display()))
                    .with_hint("fix the file, or re-render it with `homelab render --force`")
            })?;
            local.extend(parsed);
        } else {
            return Err(Error::usage(format!(
                "{} lists {entry:?}, which does not exist",
                file.display()
            ))
            .with_hint("render the repository (`homelab render`) or fix the resources list"));
        }
    }
    if let Some(patches) = fields.get("patches") {
        crate::kube::patches::apply_patches(&mut local, patches, dir, &file)?;
    }
    for key in fields.keys() {
        if !matches!(
            key.as_str(),
            "apiVersion" | "kind" | "resources" | "patches"
        ) {
            ignored.push(format!("{key} (in {})", file.display()));
        }
    }
    docs.extend(local);
    Ok(())
}

fn str_at<'a>(doc: &'a Value, pointer: &str) -> Option<&'a str> {
    doc.pointer(pointer).and_then(Value::as_str)
}

/// The GitRepository and Kustomization that make Flux sync this repository.
fn is_sync_object(doc: &Value) -> bool {
    let api_version = str_at(doc, "/apiVersion").unwrap_or_default();
    let kind = str_at(doc, "/kind").unwrap_or_default();
    (api_version.starts_with("source.toolkit.fluxcd.io/") && kind == "GitRepository")
        || (api_version.starts_with("kustomize.toolkit.fluxcd.io/") && kind == "Kustomization")
}

/// A progress spinner on a terminal, plain notes otherwise.
struct Phase {
    bar: ProgressBar,
    tty: bool,
}

impl Phase {
    fn start(message: &str) -> Self {
        let tty = std::io::stderr().is_terminal();
        let bar = if tty {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{spinner} {msg} [{elapsed}]")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        } else {
            style::note(&format!("{message}..."));
            ProgressBar::hidden()
        };
        bar.set_message(message.to_owned());
        Self { bar, tty }
    }

    fn set(&self, message: String) {
        self.bar.set_message(message);
    }

    fn done(self, message: &str) {
        self.bar.finish_and_clear();
        let _ = self.tty;
        style::note(&format!("{} {message}", style::green("✓")));
    }

    fn abandon(self) {
        self.bar.finish_and_clear();
    }
}

/// A freshly made (or supplied) deploy key to show the user, and to check with.
struct NewDeployKey {
    public: String,
    fingerprint: String,
    key: ssh_key::PrivateKey,
    known_hosts: String,
}

/// The Secrets to apply, decided before anything is applied.
struct Credentials {
    docs: Vec<Value>,
    deploy_key: Option<NewDeployKey>,
    notes: Vec<String>,
}

fn interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

fn prompt_secret(prompt: &str) -> Result<String> {
    dialoguer::Password::new()
        .with_prompt(prompt)
        .interact()
        .map_err(|e| Error::failed(format!("cannot read the answer: {e}")))
}

/// Decide every Secret: all failures here are pre-flight failures (nothing applied yet).
async fn gather_credentials(
    client: &kube::Client,
    cfg: &Config,
    remote: &GitRemote,
    opts: &BootstrapOptions,
    age_key: &crate::secrets::AgeKey,
) -> Result<Credentials> {
    let mut docs = Vec::new();
    let mut notes = Vec::new();
    let mut deploy_key = None;
    let (git_ns, git_name) = GIT_SECRET;
    let existing = credentials::existing_secret(client, git_ns, git_name).await?;

    match remote {
        GitRemote::Ssh { host, port, .. } => {
            let keep = credentials::has_keys(&existing, &["identity", "known_hosts"])
                && !opts.rotate_keys
                && opts.deploy_key.is_none();
            if keep {
                notes.push(format!("keeping the existing deploy key in Secret {git_ns}/{git_name} (--rotate-keys replaces it)"));
            } else {
                let key = credentials::deploy_key(
                    opts.deploy_key.as_deref(),
                    &format!("flux-{}", cfg.cluster.name),
                )?;
                // The same trust policy as `homelab push`: Flux gets a key the user trusts.
                let policy = HostKeyPolicy::new(
                    opts.remote.known_hosts.as_deref(),
                    opts.remote.accept_new_host_key,
                    interactive() && !opts.yes,
                );
                let (known_hosts, note) = credentials::known_hosts_for(
                    &cfg.git.url,
                    host,
                    *port,
                    &policy,
                    git_timeout(opts),
                )?;
                notes.push(note);
                let data = credentials::ssh_secret_data(&key, &known_hosts)?;
                docs.push(credentials::secret(git_ns, git_name, &data));
                deploy_key = Some(NewDeployKey {
                    public: key.public_key().to_openssh().unwrap_or_default(),
                    fingerprint: key.public_key().fingerprint(HashAlg::Sha256).to_string(),
                    key,
                    known_hosts,
                });
            }
        }
        GitRemote::Https { username } => {
            if opts.deploy_key.is_some() {
                return Err(Error::usage(
                    "--deploy-key needs an SSH git.url, but git.url is an HTTPS URL",
                )
                .with_hint("drop --deploy-key (HTTPS uses HOMELAB_GIT_TOKEN), or set git.url to an ssh:// URL"));
            }
            let keep = credentials::has_keys(&existing, &["password"]) && !opts.rotate_keys;
            if keep {
                notes.push(format!("keeping the existing git credentials in Secret {git_ns}/{git_name} (--rotate-keys replaces them)"));
            } else {
                let token = match std::env::var("HOMELAB_GIT_TOKEN") {
                    Ok(t) if !t.is_empty() => t,
                    _ if interactive() && !opts.yes => {
                        prompt_secret("Git access token for Flux (HOMELAB_GIT_TOKEN)")?
                    }
                    _ => {
                        return Err(Error::usage(
                            "HOMELAB_GIT_TOKEN is not set: Flux needs a token to pull over HTTPS",
                        )
                        .with_hint("export HOMELAB_GIT_TOKEN=<a read-only access token for the repository> and run again"));
                    }
                };
                let data = BTreeMap::from([
                    ("username".to_owned(), username.clone().into_bytes()),
                    ("password".to_owned(), token.into_bytes()),
                ]);
                docs.push(credentials::secret(git_ns, git_name, &data));
            }
        }
    }

    let (ns, name) = SOPS_SECRET;
    docs.push(credentials::secret(
        ns,
        name,
        &BTreeMap::from([("age.agekey".to_owned(), age_key.private_bytes().to_vec())]),
    ));

    let mut ask = |question: &str| prompt_secret(question);
    let prompt: credentials::Prompt<'_> = if interactive() && !opts.yes {
        Some(&mut ask)
    } else {
        None
    };
    let dns =
        credentials::dns_credentials(client, cfg, &|var| std::env::var_os(var), prompt).await?;
    notes.extend(dns.note);
    docs.extend(dns.docs);

    Ok(Credentials {
        docs,
        deploy_key,
        notes,
    })
}

/// The permissions applying `docs` needs: create and patch (server-side apply) per resource
/// and namespace, plus reading Secrets to keep existing credentials.
async fn needed_access(applier: &mut Applier, docs: &[Value]) -> Result<BTreeSet<Access>> {
    let crd_plurals: BTreeMap<(String, String), String> = docs
        .iter()
        .filter(|d| str_at(d, "/kind") == Some("CustomResourceDefinition"))
        .filter_map(|d| {
            Some((
                (
                    str_at(d, "/spec/group")?.to_owned(),
                    str_at(d, "/spec/names/kind")?.to_owned(),
                ),
                str_at(d, "/spec/names/plural")?.to_owned(),
            ))
        })
        .collect();
    let mut needed = BTreeSet::new();
    for doc in docs {
        let api_version = str_at(doc, "/apiVersion").unwrap_or_default();
        let kind = str_at(doc, "/kind").unwrap_or_default();
        let group = api_version
            .split_once('/')
            .map(|(g, _)| g)
            .unwrap_or_default()
            .to_owned();
        let (plural, namespaced) = match applier.resolve(api_version, kind).await? {
            Some(r) => (r.resource.plural, r.namespaced),
            None => match crd_plurals.get(&(group.clone(), kind.to_owned())) {
                Some(plural) => (plural.clone(), true),
                None => (format!("{}s", kind.to_lowercase()), true),
            },
        };
        let namespace = if namespaced {
            str_at(doc, "/metadata/namespace")
                .unwrap_or("default")
                .to_owned()
        } else {
            String::new()
        };
        for verb in ["create", "patch"] {
            needed.insert(Access {
                verb: verb.to_owned(),
                group: group.clone(),
                resource: plural.clone(),
                namespace: namespace.clone(),
            });
        }
    }
    for ns in [GIT_SECRET.0, PROVIDER_NAMESPACE] {
        needed.insert(Access {
            verb: "get".to_owned(),
            group: String::new(),
            resource: "secrets".to_owned(),
            namespace: ns.to_owned(),
        });
    }
    Ok(needed)
}

fn describe_access(a: &Access) -> String {
    let resource = if a.group.is_empty() {
        a.resource.clone()
    } else {
        format!("{}.{}", a.resource, a.group)
    };
    if a.namespace.is_empty() {
        format!("{} {resource} (cluster-wide)", a.verb)
    } else {
        format!("{} {resource} in namespace {}", a.verb, a.namespace)
    }
}

fn print_report(report: &ApplyReport, dry_run: bool) {
    for obj in &report.objects {
        if dry_run || obj.outcome != Outcome::Unchanged {
            let suffix = match &obj.unvalidated {
                Some(why) => format!(" (not validated: {why})"),
                None => String::new(),
            };
            println!("{:<10} {}{suffix}", obj.outcome.as_str(), obj.id());
        }
    }
    let retried = if report.retries > 0 {
        format!(" ({} transient errors retried)", report.retries)
    } else {
        String::new()
    };
    if dry_run {
        style::note(&format!(
            "Dry run, nothing changed: would be {}{retried}",
            report.summary()
        ));
    } else if report.is_unchanged() {
        style::note(&format!(
            "No changes: the cluster already matches ({} objects unchanged){retried}",
            report.objects.len()
        ));
    } else {
        style::note(&format!("Applied: {}{retried}", report.summary()));
    }
}

/// The revision Flux must reach: `<branch>@sha1:<HEAD>` of the local repository.
fn expected_revision(dir: &Path, branch: &str) -> Option<String> {
    let repo = git2::Repository::open(dir).ok()?;
    let commit = repo.head().ok()?.peel_to_commit().ok()?;
    Some(format!("{branch}@sha1:{}", commit.id()))
}

/// `bootstrap` for `init` and `homelab bootstrap`: pre-flight, apply, wait.
pub async fn bootstrap(dir: &Path, cfg: &Config, opts: &BootstrapOptions) -> Result<Status> {
    // 1. Everything local, before touching the cluster.
    let timeout = wait::parse_duration(&opts.timeout).ok_or_else(|| {
        Error::usage(format!("--timeout: {:?} is not a duration", opts.timeout))
            .with_hint("use e.g. 90s, 10m or 1h")
    })?;
    let remote = credentials::parse_remote(&cfg.git.url)?;
    let flux_dir = dir
        .join("clusters")
        .join(&cfg.cluster.name)
        .join("flux-system");
    let mut docs = Vec::new();
    let mut ignored = Vec::new();
    read_kustomization(&flux_dir, &mut docs, &mut ignored)?;
    for field in &ignored {
        style::note(&format!(
            "{} bootstrap applies `resources` and `patches` only; {field} is applied by Flux on its first reconciliation",
            style::yellow("note:")
        ));
    }
    // Flux trusts the chart mirror's CA from its first start (the rendered flux-system
    // kustomization mounts this Secret into source-controller).
    let mirror_ca = credentials::mirror_ca_secret(dir, cfg)?;
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
    style::note(&format!(
        "Cluster: context {} at {}",
        style::bold(&conn.context),
        conn.server_url
    ));
    let version = client::check_server(&conn).await?;
    style::note(&format!("Kubernetes {version}"));
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
        style::note(&format!("{} {what} (--force)", style::yellow("warning:")));
    }

    // 3. Credentials: all decided before anything is applied.
    let creds = gather_credentials(&conn.client, cfg, &remote, opts, &age_key).await?;
    for note in &creds.notes {
        style::note(note);
    }

    // 4. Flux's components and the Secrets.
    let phase = Phase::start("Applying Flux components and credentials");
    let mut first: Vec<Value> = components;
    first.extend(creds.docs.iter().cloned());
    first.extend(mirror_ca);
    let mut report = match applier.apply(&first).await {
        Ok(r) => r,
        Err(e) => {
            phase.abandon();
            return Err(e);
        }
    };
    phase.done(&format!("Flux components: {}", report.summary()));

    if let Some(key) = &creds.deploy_key
        && !opts.dry_run
    {
        let write = cfg
            .flux
            .components
            .iter()
            .any(|c| c == "image-automation-controller");
        println!("{}", key.public);
        style::note(&format!(
            "Add the public key above ({}) as a deploy key of {}{}.",
            key.fingerprint,
            crate::config::git_url::redact(&cfg.git.url),
            if write {
                " with write access (image automation pushes commits)"
            } else {
                " (read-only is enough)"
            }
        ));
        crate::ui::deploy_key::confirm(
            &cfg.git.url,
            &key.key,
            &key.known_hosts,
            interactive() && !opts.yes,
            git_timeout(opts),
        )?;
    }

    // 5. The sync objects: from here on Flux pulls this repository.
    let synced = applier.apply(&sync).await?;
    report.extend(synced);
    print_report(&report, opts.dry_run);
    if opts.dry_run || opts.no_wait {
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
        style::note(&format!(
            "{} {} has no commit: waiting for Flux to be Ready at any revision",
            style::yellow("note:"),
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

    let deadline = tokio::time::Instant::now() + timeout;
    for (index, (label, targets)) in phases.iter().enumerate() {
        let phase = Phase::start(&format!("Waiting: {label}"));
        let waiting = wait::wait_all(&conn.client, targets, deadline, |ready, total| {
            phase.set(format!("Waiting: {label} ({ready}/{total})"));
        })
        .await;
        if waiting.is_empty() {
            phase.done(label);
            continue;
        }
        phase.abandon();
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
            opts.timeout,
            lines.join("\n")
        ))
        .with_hint("the messages above come from the objects themselves; fix the cause (often the deploy key or git.url), then run `homelab bootstrap` again (or `homelab doctor`)"));
    }
    style::note(&format!(
        "{} Flux is running {} from {}",
        style::green("Done:"),
        revision.as_deref().unwrap_or("the repository"),
        crate::config::git_url::redact(&cfg.git.url)
    ));
    Ok(Status::Ok)
}
