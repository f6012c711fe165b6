//! Publishing the repository: the checks before a push (no conflict markers in the last
//! commit, rendered files not stale against `homelab.yaml`) and the push itself, shared by
//! `push`, `init`, `add-app` and `remove-app`. Every homelab command commits its own work, so
//! publishing commits nothing: uncommitted changes are listed and stay local.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::{CONFIG_FILE, Config};
use crate::error::{Error, Result, Status};
use crate::git::{self, PushOptions, PushOutcome};
use crate::net::DEFAULT_GIT_TIMEOUT;
use crate::render::state::{STATE_FILE, State};
use crate::render::write::{Workspace, has_conflict_markers};
use crate::ui::{printer, style};

/// How to push, as the command line says it (`homelab.yaml` names the remote and branch).
#[derive(Debug, Clone, Default)]
pub struct Publish {
    /// A private key to offer (after the agent, before the default keys).
    pub ssh_key: Option<PathBuf>,
    /// Push even when the rendered files are out of date with homelab.yaml.
    pub allow_stale: bool,
    /// An extra known_hosts file (also where accepted keys are recorded).
    pub known_hosts: Option<PathBuf>,
    /// Record unknown SSH host keys without asking.
    pub accept_new_host_key: bool,
    /// `--git-timeout` (default: [`DEFAULT_GIT_TIMEOUT`]).
    pub git_timeout: Option<Duration>,
}

impl Publish {
    /// The push engine's options for `url` and `branch`; prompts where someone can answer.
    fn options(&self, url: &str, branch: &str) -> PushOptions {
        PushOptions {
            ssh_key: self.ssh_key.clone(),
            known_hosts: self.known_hosts.clone(),
            accept_new_host_key: self.accept_new_host_key,
            interactive: printer::can_ask(),
            timeout: self.git_timeout.unwrap_or(DEFAULT_GIT_TIMEOUT),
            ..PushOptions::new(url, branch)
        }
    }
}

/// How a command pushes after committing: `(repository dir, config, push options)`.
/// A parameter so the commands can be tested without a remote.
pub type PushFn<'a> = &'a dyn Fn(&Path, &Config, &Publish) -> Result<()>;

/// The push used by the CLI: the same as `homelab push`.
pub fn default_push(dir: &Path, cfg: &Config, args: &Publish) -> Result<()> {
    push_repo(dir, cfg, args).map(|_| ())
}

/// Check the repository in `dir` and push its branch to `config.git.url`, reporting the
/// outcome on stderr. Shared by `push`, `init` and `add-app`; takes the repository lock.
pub fn push_repo(dir: &Path, config: &Config, args: &Publish) -> Result<PushOutcome> {
    let branch = config.git.branch.trim();
    if config.git.url.trim().is_empty() {
        return Err(Error::usage(format!(
            "git.url is empty in {}: there is no remote to push to",
            dir.join(CONFIG_FILE).display()
        ))
        .with_hint(
            "set git.url (e.g. git@github.com:you/homelab.git, ssh://git@nas.lan/srv/git/homelab.git \
             or https://gitea.lan/you/homelab.git) and run `homelab push` again",
        ));
    }
    if !git2::Reference::is_valid_name(&format!("refs/heads/{branch}")) {
        return Err(
            Error::usage(format!("git.branch {branch:?} is not a valid branch name"))
                .with_hint("use a name like main or homelab (no spaces, `..`, `~`, `^` or `:`)"),
        );
    }
    // Vet the URL (and --ssh-key) before anything else, so bad input changes nothing.
    git::parse_url(&config.git.url)?;
    if let Some(key) = &args.ssh_key
        && !key.is_file()
    {
        return Err(
            Error::usage(format!("--ssh-key {}: no such file", key.display()))
                .with_hint("give the path of an SSH private key (HOMELAB_SSH_KEY works too)"),
        );
    }

    let ws = Workspace::create(dir, branch, "push")?;
    ws.recover()?;
    refuse_conflict_markers(ws.repo())?;
    if args.allow_stale {
        let stale = stale_files(&ws, config)?;
        if !stale.is_empty() {
            style::note(&format!(
                "note: pushing although {} rendered file(s) are out of date with {CONFIG_FILE} (--allow-stale)",
                stale.len()
            ));
        }
    } else {
        refuse_stale(&ws, config)?;
    }
    warn_uncommitted(ws.repo());

    let opts = args.options(&config.git.url, branch);
    let outcome = git::push(ws.repo(), &opts)?;
    let url = &crate::config::git_url::redact(&config.git.url);
    match outcome {
        PushOutcome::UpToDate => {
            style::note(&format!("{url} ({branch}) is already up to date"));
        }
        PushOutcome::Pushed { commit } => {
            style::note(&format!(
                "{} {branch} to {url} at {}",
                style::green("pushed"),
                short(commit)
            ));
        }
        PushOutcome::RebasedAndPushed { commit, replayed } => {
            style::note(&format!(
                "the remote had new commits: replayed {replayed} local commit(s) on top of them"
            ));
            style::note(&format!(
                "{} {branch} to {url} at {}",
                style::green("pushed"),
                short(commit)
            ));
        }
        PushOutcome::FastForwarded { commit } => {
            style::note(&format!(
                "the remote had new commits and nothing local was unpushed: {branch} fast-forwarded to {}",
                short(commit)
            ));
        }
    }
    Ok(outcome)
}

/// Refuse to push a last commit whose files hold conflict markers, naming them.
fn refuse_conflict_markers(repo: &git2::Repository) -> Result<()> {
    let Ok(head) = repo.head().and_then(|h| h.peel_to_tree()) else {
        return Ok(());
    };
    let mut marked = Vec::new();
    head.walk(git2::TreeWalkMode::PreOrder, |root, entry| {
        if let Ok(blob) = entry.to_object(repo).and_then(|o| o.peel_to_blob())
            && !blob.is_binary()
            && has_conflict_markers(&String::from_utf8_lossy(blob.content()))
        {
            marked.push(format!("{root}{}", entry.name().unwrap_or_default()));
        }
        git2::TreeWalkResult::Ok
    })
    .map_err(|e| Error::failed(format!("git: {}", e.message())))?;
    if marked.is_empty() {
        return Ok(());
    }
    Err(Error::failed(format!(
        "refusing to push: the last commit has unresolved conflict markers in:\n  {}",
        marked.join("\n  ")
    ))
    .with_hint(
        "resolve the markers (<<<<<<<, =======, >>>>>>>) in those files, run `homelab render` to commit, then push again",
    ))
}

/// The rendered files that do not match what `homelab.yaml` renders today: edited config
/// not rendered yet, conflicts left by a render, files homelab would add or remove. The
/// Flux install manifest is left out (it needs the Flux release; `render` checks it).
pub fn stale_files(ws: &Workspace, cfg: &Config) -> Result<Vec<String>> {
    let state = match ws.tree().read(STATE_FILE)? {
        Some(bytes) => State::parse(&String::from_utf8_lossy(&bytes))?,
        None => State::default(),
    };
    let mut files = crate::render::render_without_flux(cfg)?.files;
    let untouched = crate::render::change::user_files(ws.tree(), cfg, &mut files)?;
    let flux = crate::render::flux_components_path(cfg);
    let mut stale = Vec::new();
    for (path, text) in &files {
        let fresh = crate::render::state::sha256_hex(text.as_bytes());
        if state.files.get(path).is_none_or(|r| r.sha256 != fresh) {
            stale.push(path.clone());
        }
    }
    for path in state.files.keys() {
        if !files.contains_key(path) && *path != flux && !untouched.contains(path) {
            stale.push(path.clone());
        }
    }
    stale.sort();
    Ok(stale)
}

fn refuse_stale(ws: &Workspace, cfg: &Config) -> Result<()> {
    let stale = stale_files(ws, cfg)?;
    if stale.is_empty() {
        return Ok(());
    }
    Err(Error::failed(format!(
        "refusing to push: the repository is out of date with {CONFIG_FILE} (or a render left conflicts); these files differ from what it renders:\n  {}",
        crate::text::shortlist(&stale, 10, "\n  ")
    ))
    .with_hint(
        "run `homelab render` (it commits the update), then `homelab push`; or push the last commit as it is with `homelab push --allow-stale`",
    ))
}

/// Say which changes stay local: push sends commits, never the work tree.
fn warn_uncommitted(repo: &git2::Repository) {
    let mut opts = git2::StatusOptions::new();
    opts.include_untracked(false);
    let Ok(statuses) = repo.statuses(Some(&mut opts)) else {
        return;
    };
    let paths: Vec<String> = statuses
        .iter()
        .filter(|s| s.status() != git2::Status::CURRENT && s.status() != git2::Status::IGNORED)
        .filter_map(|s| s.path().ok().map(str::to_owned))
        .collect();
    if paths.is_empty() {
        return;
    }
    style::note(&format!(
        "note: uncommitted changes are not pushed: {} (commit them with git first if they should be)",
        crate::text::shortlist(&paths, 5, ", ")
    ));
}

fn short(oid: git2::Oid) -> String {
    oid.to_string()[..8].to_owned()
}

/// Push when git.url is set and `--no-push` was not given.
pub fn push_if_configured(
    dir: &Path,
    cfg: &Config,
    no_push: bool,
    args: &Publish,
    push: PushFn<'_>,
) -> Result<Status> {
    if cfg.git.url.is_empty() || no_push {
        return Ok(Status::Ok);
    }
    push(dir, cfg, args).map_err(|err| {
        if err.hint.is_some() {
            err
        } else {
            err.with_hint("the change is committed locally; run `homelab push` to retry")
        }
    })?;
    Ok(Status::Ok)
}
