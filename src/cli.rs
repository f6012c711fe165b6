//! The command-line interface, declared once with clap's derive API.
//!
//! Shared by `main`, the completion and man-page generators, and their freshness tests, so
//! the committed `completions/` can never drift from what the binary accepts.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// From a few machines running Kubernetes to a GitOps-managed homelab.
#[derive(Debug, Parser)]
#[command(name = "homelab", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every subcommand accepts.
#[derive(Debug, Args, Clone)]
pub struct GlobalArgs {
    /// The homelab repository (where homelab.yaml lives).
    #[arg(long, global = true, value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,
    /// More output: -v for details, -vv for debugging.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Disable colors (also: the NO_COLOR environment variable).
    #[arg(long, global = true)]
    pub no_color: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create homelab.yaml (wizard or --config) and render, commit, push and bootstrap the repository.
    Init(InitArgs),
    /// Re-render the repository from homelab.yaml, keeping your own edits.
    Render(RenderArgs),
    /// Add an app from the catalog.
    AddApp(AddAppArgs),
    /// Remove an installed app.
    RemoveApp(RemoveAppArgs),
    /// List the app catalog and what is installed.
    Apps,
    /// Check the whole homelab and say how to fix what is wrong.
    Doctor(DoctorArgs),
    /// Apply the Flux bootstrap into the cluster, so Flux takes over from git.
    Bootstrap(BootstrapArgs),
    /// Commit and push the repository to git.url.
    Push(PushCommandArgs),
    /// Show every Flux object of the cluster: Ready, revision, message.
    Status(StatusArgs),
    /// Make Flux apply the pushed commit now and wait until the cluster runs it.
    Sync(SyncArgs),
    /// Show an app's generated credentials (decrypted with the repository's age key).
    Secret(SecretArgs),
    /// Show, back up or restore the repository's age key (it decrypts the app secrets).
    Key(KeyArgs),
    /// Print shell completions.
    Completions(CompletionsArgs),
    /// Print the JSON Schema of homelab.yaml, for editors and other tools.
    Schema,
}

#[derive(Debug, Args, Clone, Default)]
pub struct InitArgs {
    /// Read the answers from this homelab.yaml-shaped file instead of asking.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Do not push after committing.
    #[arg(long)]
    pub no_push: bool,
    /// Do not apply the Flux bootstrap into the cluster.
    #[arg(long)]
    pub no_bootstrap: bool,
    /// Render into a directory that already holds other files (they are never committed).
    #[arg(long)]
    pub allow_non_empty: bool,
    #[command(flatten)]
    pub flux: FluxManifestArgs,
    #[command(flatten)]
    pub push: PushArgs,
    #[command(flatten)]
    pub bootstrap: BootstrapOptions,
}

/// Where the Flux install manifest comes from.
#[derive(Debug, Args, Clone, Default)]
pub struct FluxManifestArgs {
    /// Use this Flux install.yaml instead of downloading the release's (works offline).
    #[arg(long, value_name = "FILE", env = "HOMELAB_FLUX_MANIFESTS")]
    pub flux_manifests: Option<PathBuf>,
}

#[derive(Debug, Args, Clone, Default)]
pub struct RenderArgs {
    /// Print the changes that would be made and write nothing.
    #[arg(long)]
    pub diff: bool,
    /// Overwrite your edits to generated files (after showing them).
    #[arg(long, conflicts_with = "merge")]
    pub force: bool,
    /// Leave conflict markers in files whose edits conflict with the new rendering.
    #[arg(long)]
    pub merge: bool,
    #[command(flatten)]
    pub flux: FluxManifestArgs,
}

#[derive(Debug, Args, Clone, Default)]
pub struct AddAppArgs {
    /// The app's name in the catalog (see `homelab apps`).
    pub name: String,
    /// Answer a profile question: --set key=value (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Serve the app at this host instead of <app>.<domain>.
    #[arg(long)]
    pub host: Option<String>,
    /// Install into this namespace instead of the profile's default.
    #[arg(long)]
    pub namespace: Option<String>,
    /// Don't ask: every question takes its default or --set value.
    #[arg(long = "yes", short = 'y', alias = "non-interactive")]
    pub non_interactive: bool,
    /// Do not push after committing.
    #[arg(long)]
    pub no_push: bool,
    #[command(flatten)]
    pub push: PushArgs,
    #[command(flatten)]
    pub wait: WaitArgs,
}

#[derive(Debug, Args, Clone, Default)]
pub struct RemoveAppArgs {
    /// The installed app to remove.
    pub name: String,
    /// Don't ask for confirmation.
    #[arg(long = "yes", short = 'y', alias = "non-interactive")]
    pub non_interactive: bool,
    /// Do not push after committing.
    #[arg(long)]
    pub no_push: bool,
    #[command(flatten)]
    pub push: PushArgs,
}

#[derive(Debug, Clone, Copy, Default, ValueEnum, PartialEq, Eq)]
pub enum OutputFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Args, Clone, Default)]
pub struct DoctorArgs {
    /// Output format.
    #[arg(long, short, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
    #[command(flatten)]
    pub kube: KubeArgs,
    /// An extra known_hosts file to verify the git server's SSH host key against.
    #[arg(long, value_name = "FILE")]
    pub known_hosts: Option<PathBuf>,
    /// The longest connecting to the git remote, or waiting for its next bytes, may take
    /// (default: 10s).
    #[arg(long, value_name = "DURATION", value_parser = crate::net::parse_timeout)]
    pub git_timeout: Option<std::time::Duration>,
}

/// How to reach the cluster, like kubectl.
#[derive(Debug, Args, Clone, Default)]
pub struct KubeArgs {
    /// Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use (default: the current context).
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
    /// The longest one request to the API server, or the kubeconfig's credential plugin,
    /// may take (default: 30s; 10s for doctor).
    #[arg(long, value_name = "DURATION", value_parser = crate::net::parse_timeout)]
    pub request_timeout: Option<std::time::Duration>,
}

impl From<&KubeArgs> for crate::kube::client::Options {
    fn from(args: &KubeArgs) -> Self {
        Self {
            kubeconfig: args.kubeconfig.clone(),
            context: args.context.clone(),
            request_timeout: args.request_timeout,
        }
    }
}

#[derive(Debug, Args, Clone, Default)]
pub struct BootstrapArgs {
    #[command(flatten)]
    pub options: BootstrapOptions,
    #[command(flatten)]
    pub remote: RemoteArgs,
}

/// Options of the bootstrap step, shared by `bootstrap` and `init`.
#[derive(Debug, Args, Clone, Default)]
pub struct BootstrapOptions {
    #[command(flatten)]
    pub kube: KubeArgs,
    /// How long to wait for Flux to become ready (e.g. 10m, 90s).
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = crate::net::duration_arg)]
    pub timeout: String,
    /// Apply and return without waiting for readiness.
    #[arg(long)]
    pub no_wait: bool,
    /// Server-side dry run: print what would change, change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Replace the existing Flux git credentials (deploy key) with new ones.
    #[arg(long)]
    pub rotate_keys: bool,
    /// Use this SSH private key as Flux's deploy key instead of generating one.
    #[arg(long, value_name = "FILE")]
    pub deploy_key: Option<PathBuf>,
    /// Don't ask: init needs --config; bootstrap checks the deploy key once instead of asking.
    #[arg(long, short, alias = "non-interactive")]
    pub yes: bool,
    /// Bootstrap even though k3s's bundled Traefik or ServiceLB is enabled.
    #[arg(long)]
    pub force: bool,
    /// How to reach the git server (host keys, timeouts): `bootstrap` takes them as its own
    /// flags, `init` from its push flags, so each is given once.
    #[arg(skip)]
    pub remote: RemoteArgs,
}

impl BootstrapOptions {
    /// The bootstrap engine's options from these flags.
    pub fn engine(&self) -> crate::error::Result<crate::bootstrap::Options> {
        let timeout = crate::net::parse_duration(&self.timeout).ok_or_else(|| {
            crate::error::Error::usage(format!("--timeout: {:?} is not a duration", self.timeout))
                .with_hint("use e.g. 90s, 10m or 1h")
        })?;
        Ok(crate::bootstrap::Options {
            kube: (&self.kube).into(),
            timeout,
            wait: !self.no_wait,
            dry_run: self.dry_run,
            rotate_keys: self.rotate_keys,
            deploy_key: self.deploy_key.clone(),
            force: self.force,
            known_hosts: self.remote.known_hosts.clone(),
            accept_new_host_key: self.remote.accept_new_host_key,
            git_timeout: self
                .remote
                .git_timeout
                .unwrap_or(crate::net::DEFAULT_GIT_TIMEOUT),
        })
    }
}

/// How to authenticate to the git remote.
#[derive(Debug, Args, Clone, Default)]
pub struct PushArgs {
    /// SSH private key to push with (also: HOMELAB_SSH_KEY).
    #[arg(long, value_name = "FILE", env = "HOMELAB_SSH_KEY")]
    pub ssh_key: Option<PathBuf>,
    /// Push even when the rendered files are out of date with homelab.yaml.
    #[arg(long)]
    pub allow_stale: bool,
    #[command(flatten)]
    pub remote: RemoteArgs,
}

impl From<&PushArgs> for crate::ui::publish::Publish {
    fn from(args: &PushArgs) -> Self {
        Self {
            ssh_key: args.ssh_key.clone(),
            allow_stale: args.allow_stale,
            known_hosts: args.remote.known_hosts.clone(),
            accept_new_host_key: args.remote.accept_new_host_key,
            git_timeout: args.remote.git_timeout,
        }
    }
}

/// How to reach the git server and whether to trust its SSH host key; the same flags for
/// `push` and for `bootstrap` (which reads the host key Flux will check).
#[derive(Debug, Args, Clone, Default)]
pub struct RemoteArgs {
    /// An extra known_hosts file to verify the SSH host key against.
    #[arg(long, value_name = "FILE")]
    pub known_hosts: Option<PathBuf>,
    /// Trust and record an SSH host key seen for the first time (without asking).
    #[arg(long)]
    pub accept_new_host_key: bool,
    /// The longest connecting to the git remote, or waiting for its next bytes, may take
    /// (default: 30s; a whole fetch or push may take ten times as long).
    #[arg(long, value_name = "DURATION", value_parser = crate::net::parse_timeout)]
    pub git_timeout: Option<std::time::Duration>,
}

/// `homelab push`: how to authenticate, and whether to wait for Flux afterwards.
#[derive(Debug, Args, Clone, Default)]
pub struct PushCommandArgs {
    #[command(flatten)]
    pub push: PushArgs,
    #[command(flatten)]
    pub wait: WaitArgs,
}

/// Waiting, after a push, until Flux runs the pushed commit (what `homelab sync` does).
#[derive(Debug, Args, Clone, Default)]
pub struct WaitArgs {
    /// After pushing, make Flux apply the commit now and wait until every Kustomization and
    /// HelmRelease is Ready at it.
    #[arg(long)]
    pub wait: bool,
    /// How long --wait waits (e.g. 10m, 90s).
    #[arg(
        long = "timeout",
        value_name = "DURATION",
        default_value = "10m",
        requires = "wait",
        value_parser = crate::net::duration_arg
    )]
    pub timeout: String,
    #[command(flatten)]
    pub kube: KubeArgs,
}

impl WaitArgs {
    /// What `--wait` asks for, if it was given.
    pub fn wait(&self) -> Option<crate::ui::sync::Wait> {
        self.wait.then(|| crate::ui::sync::Wait {
            kube: (&self.kube).into(),
            timeout: self.timeout.clone(),
        })
    }
}

#[derive(Debug, Args, Clone, Default)]
pub struct StatusArgs {
    /// Output format.
    #[arg(long, short, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
    #[command(flatten)]
    pub kube: KubeArgs,
}

#[derive(Debug, Args, Clone, Default)]
pub struct SyncArgs {
    /// How long to wait for Flux to run the commit (e.g. 10m, 90s).
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = crate::net::duration_arg)]
    pub timeout: String,
    /// Ask Flux to reconcile and return without waiting.
    #[arg(long)]
    pub no_wait: bool,
    #[command(flatten)]
    pub kube: KubeArgs,
}

#[derive(Debug, Args, Clone)]
pub struct SecretArgs {
    #[command(subcommand)]
    pub command: SecretCommand,
}

#[derive(Debug, Subcommand, Clone)]
pub enum SecretCommand {
    /// Print an app's generated credentials: `key: value` lines, or one value with KEY.
    Show(SecretShowArgs),
}

#[derive(Debug, Args, Clone)]
pub struct SecretShowArgs {
    /// The installed app (see `homelab apps`).
    pub app: String,
    /// Print only this key's value (e.g. admin-password), for scripts.
    pub key: Option<String>,
    /// With KEY: print the value without a trailing newline.
    #[arg(long, short = 'n', requires = "key")]
    pub no_newline: bool,
}

#[derive(Debug, Args, Clone)]
pub struct KeyArgs {
    /// What to do with the key (default: show).
    #[command(subcommand)]
    pub command: Option<KeyCommand>,
}

#[derive(Debug, Subcommand, Clone)]
pub enum KeyCommand {
    /// Say which age key the repository uses: its public key, its file, and whether it is there.
    Show,
    /// Copy the age key to FILE (mode 600) for a backup; `-` writes it to a pipe.
    Export(KeyExportArgs),
    /// Restore a backed-up age key (FILE, or `-` for standard input) where homelab finds it.
    Import(KeyImportArgs),
}

#[derive(Debug, Args, Clone)]
pub struct KeyExportArgs {
    /// Where to write the key, outside the repository; `-` for standard output when it is
    /// not a terminal (e.g. piped into gpg or a password manager).
    pub file: PathBuf,
    /// Replace FILE if it exists.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args, Clone)]
pub struct KeyImportArgs {
    /// The backup: a file holding the age identity (AGE-SECRET-KEY-1…), or `-` for standard input.
    pub file: PathBuf,
}

#[derive(Debug, Args, Clone)]
pub struct CompletionsArgs {
    /// The shell to print completions for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}
