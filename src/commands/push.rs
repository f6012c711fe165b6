//! `homelab push`: commit whatever changed in the repository, then push it to `git.url`.
//!
//! The commit and push themselves live in `crate::git`, shared with `init` and `add-app`;
//! this command only reads the remote from homelab.yaml and reports the outcome.

use std::path::Path;

use crate::cli::{PushArgs, PushCommandArgs};
use crate::commands::Context;
use crate::config::{CONFIG_FILE, Config};
use crate::error::{Error, Result, Status};
use crate::git::{self, PushOptions, PushOutcome};
use crate::ui::style;

/// The message of the commit that gathers pending changes before a push.
pub const COMMIT_MESSAGE: &str = "Update homelab repository\n\nCommitted by `homelab push`.";

pub fn run(ctx: &Context, args: &PushCommandArgs) -> Result<Status> {
    let config = crate::config::load(&ctx.dir)?;
    push_repo(&ctx.dir, &config, &args.push)?;
    crate::commands::sync::after_push(&ctx.dir, &config, &args.wait, Status::Ok)
}

/// Commit pending changes in `dir` and push them to `config.git.url`, reporting the outcome
/// on stderr. Shared by `push`, `init` and `add-app`.
pub fn push_repo(dir: &Path, config: &Config, args: &PushArgs) -> Result<PushOutcome> {
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
    // Vet the URL (and --ssh-key) before committing anything, so bad input changes nothing.
    git::parse_url(&config.git.url)?;
    if let Some(key) = &args.ssh_key
        && !key.is_file()
    {
        return Err(
            Error::usage(format!("--ssh-key {}: no such file", key.display()))
                .with_hint("give the path of an SSH private key (HOMELAB_SSH_KEY works too)"),
        );
    }

    let repo = git::open_or_init(dir, branch)?;
    if let Some(oid) = git::commit_all(&repo, COMMIT_MESSAGE)? {
        style::note(&format!("committed pending changes as {}", short(oid)));
    }
    let opts = PushOptions::from_args(&config.git.url, branch, args);
    let outcome = git::push(&repo, &opts)?;
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

fn short(oid: git2::Oid) -> String {
    oid.to_string()[..8].to_owned()
}
