//! Pushing the homelab repository to its remote (`git.url`), and comparing with it.
//!
//! The remote may already hold commits made elsewhere (a web edit, another machine). Before
//! pushing, the remote branch is fetched and the local branch is brought on top of it:
//! fast-forwarded when it has nothing of its own, its own commits replayed when they apply
//! cleanly, and otherwise left exactly as it was with an explanation. Every rejection the
//! server reports is an error.
//!
//! Every exchange with the remote is bounded: connecting and each wait for the server's next
//! bytes by `--git-timeout` (libgit2's socket timeouts, which its SSH transport uses too),
//! and the whole exchange by [`GIT_EXCHANGE_FACTOR`] times that, so a server that accepts
//! the connection and then stays silent, or trickles, ends in an error naming it.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use git2::build::CheckoutBuilder;
use git2::{
    CertificateCheckStatus, FetchOptions, Oid, PushOptions as GitPushOptions, RemoteCallbacks,
    Repository,
};

use super::credentials::{Negotiator, SecretCache};
use super::hostkeys::HostKeyPolicy;
use crate::config::git_url::{FORMS, GitUrl, Problem, Transport, redact};
use crate::error::{Error, Result};
use crate::net::{Budget, DEFAULT_GIT_TIMEOUT, Elapsed, GIT_EXCHANGE_FACTOR, human};

/// The remote every push goes to.
pub const REMOTE: &str = "origin";

/// How to reach and authenticate to the remote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushOptions {
    /// `git.url`: ssh://, scp-like user@host:path, https://, git://, file:// or a path.
    pub url: String,
    /// `git.branch`.
    pub branch: String,
    /// A private key to offer (after the agent, before the default keys).
    pub ssh_key: Option<PathBuf>,
    /// An extra known_hosts file (also where accepted keys are recorded).
    pub known_hosts: Option<PathBuf>,
    /// Record unknown SSH host keys instead of refusing them.
    pub accept_new_host_key: bool,
    /// Whether prompts (passphrase, token, an unknown host key) may be shown.
    pub interactive: bool,
    /// `--git-timeout`: connecting, and each wait for the server, may take this long.
    pub timeout: Duration,
}

impl PushOptions {
    /// Options for `url` and `branch` with the defaults: no extra key or known_hosts file,
    /// unknown host keys refused, no prompts.
    pub fn new(url: &str, branch: &str) -> Self {
        Self {
            url: url.to_owned(),
            branch: branch.to_owned(),
            ssh_key: None,
            known_hosts: None,
            accept_new_host_key: false,
            interactive: false,
            timeout: DEFAULT_GIT_TIMEOUT,
        }
    }
}

/// What a push did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushOutcome {
    /// The remote branch already had exactly the local commit.
    UpToDate,
    /// The local commits were sent; the remote branch now points at `commit`.
    Pushed { commit: Oid },
    /// The remote had commits the local branch lacked: `replayed` local commits were
    /// rebased onto them, then pushed; the remote branch now points at `commit`.
    RebasedAndPushed { commit: Oid, replayed: usize },
    /// The remote was ahead and the local branch had nothing of its own: the local branch
    /// was fast-forwarded to `commit`, nothing needed pushing.
    FastForwarded { commit: Oid },
}

/// How the local branch relates to the remote one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncStatus {
    /// Same commit.
    InSync,
    /// Local has `ahead` commits the remote lacks.
    Ahead { ahead: usize },
    /// The remote has `behind` commits the local lacks.
    Behind { behind: usize },
    /// Both sides have commits of their own.
    Diverged { ahead: usize, behind: usize },
    /// The remote has no such branch yet (e.g. an empty repository).
    RemoteMissing,
    /// The local branch has no commit yet.
    LocalMissing,
}

/// The commit the repository's HEAD points at, if any.
pub fn head_commit(repo: &Repository) -> Option<Oid> {
    repo.head().ok()?.peel_to_commit().ok().map(|c| c.id())
}

/// Parse and vet `git.url` for a push: the one parser ([`GitUrl::parse`]), with errors that
/// say how to fix it. Credentials are refused (they would end up in `.git/config`).
pub fn parse_url(url: &str) -> Result<GitUrl> {
    GitUrl::parse(url).map_err(|problem| {
        let shown = crate::text::Shown(&redact(url));
        match problem {
            Problem::Empty => Error::usage("git.url is empty: there is no remote to push to").with_hint(
                "set git.url in homelab.yaml (e.g. git@github.com:you/homelab.git or ssh://git@nas.lan/srv/git/homelab.git)",
            ),
            Problem::Credential(_) => Error::usage(format!("git.url {shown} {problem}"))
                .with_hint("remove it from git.url: HTTPS takes a token from HOMELAB_GIT_TOKEN, SSH uses keys (--ssh-key, the agent or ~/.ssh)"),
            Problem::Malformed(_) => Error::usage(format!("git.url {shown} {problem}"))
                .with_hint(FORMS),
        }
    })
}

/// The URL as stored in `.git/config`: relative paths are made absolute against the work
/// tree, so the remote works whatever directory git is later run from.
fn effective_url(repo: &Repository, url: &str) -> String {
    let is_path = GitUrl::parse(url).is_ok_and(|u| u.transport == Transport::File)
        && !url.starts_with("file://");
    if is_path && Path::new(url).is_relative() {
        let base = repo.workdir().unwrap_or_else(|| repo.path());
        let joined = base.join(url);
        return joined
            .canonicalize()
            .unwrap_or(joined)
            .to_string_lossy()
            .into_owned();
    }
    url.to_owned()
}

/// Create `origin` with `url`, or point the existing one at it.
fn ensure_remote<'r>(repo: &'r Repository, url: &str) -> Result<git2::Remote<'r>> {
    match repo.find_remote(REMOTE) {
        Ok(remote) if remote.url().ok() == Some(url) => Ok(remote),
        Ok(_) => {
            repo.remote_set_url(REMOTE, url).map_err(git_err)?;
            repo.find_remote(REMOTE).map_err(git_err)
        }
        Err(_) => repo.remote(REMOTE, url).map_err(git_err),
    }
}

/// Everything the callbacks of one exchange share, and what they found out.
struct Session<'a> {
    opts: &'a PushOptions,
    parsed: GitUrl,
    policy: HostKeyPolicy,
    /// The exchange's overall deadline, paused while a prompt waits for the user.
    budget: Arc<Budget>,
    /// Passphrases and tokens asked for, shared by the exchanges of one push.
    secrets: Arc<std::sync::Mutex<SecretCache>>,
    /// The host-key refusal, if any: libgit2 only reports "callback failed".
    host_key_error: RefCell<Option<Error>>,
    /// The credential attempts of the last connection.
    tried: RefCell<Vec<String>>,
    auth_exhausted: RefCell<bool>,
    rejected: RefCell<Vec<(String, String)>>,
}

/// Vet what can be vetted without the network: the URL and the `--ssh-key` file.
fn validate(opts: &PushOptions) -> Result<GitUrl> {
    let parsed = parse_url(&opts.url)?;
    if let Some(key) = &opts.ssh_key
        && !key.is_file()
    {
        return Err(
            Error::usage(format!("--ssh-key {}: no such file", key.display()))
                .with_hint("give the path of an SSH private key (HOMELAB_SSH_KEY works too)"),
        );
    }
    Ok(parsed)
}

impl<'a> Session<'a> {
    fn new(
        opts: &'a PushOptions,
        budget: Arc<Budget>,
        secrets: Arc<std::sync::Mutex<SecretCache>>,
    ) -> Result<Self> {
        let parsed = validate(opts)?;
        Ok(Self {
            opts,
            parsed,
            policy: HostKeyPolicy::new(
                opts.known_hosts.as_deref(),
                opts.accept_new_host_key,
                opts.interactive,
            ),
            budget,
            secrets,
            host_key_error: RefCell::new(None),
            tried: RefCell::new(Vec::new()),
            auth_exhausted: RefCell::new(false),
            rejected: RefCell::new(Vec::new()),
        })
    }

    /// Callbacks for one connection: credentials, host keys, and optionally push reporting.
    fn callbacks<'s>(&'s self, negotiator: &'s RefCell<Negotiator<'s>>) -> RemoteCallbacks<'s> {
        let mut cb = RemoteCallbacks::new();
        cb.credentials(move |url, user, allowed| {
            let mut n = negotiator.borrow_mut();
            let result = n.next(url, user, allowed);
            *self.tried.borrow_mut() = n.tried.clone();
            *self.auth_exhausted.borrow_mut() = n.exhausted;
            result
        });
        cb.certificate_check(move |cert, host| {
            let Some(hostkey) = cert.as_hostkey() else {
                // TLS: keep libgit2's own verification against the system CAs.
                return Ok(CertificateCheckStatus::CertificatePassthrough);
            };
            let port = self.parsed.port;
            let Some(raw) = hostkey.hostkey() else {
                let err = Error::failed(format!(
                    "the SSH server {host} did not show its host key; cannot verify it"
                ));
                *self.host_key_error.borrow_mut() = Some(err);
                return Err(git2::Error::from_str("host key unavailable"));
            };
            match self.policy.check(host, port, raw, Some(&self.budget)) {
                Ok(_) => Ok(CertificateCheckStatus::CertificateOk),
                Err(err) => {
                    *self.host_key_error.borrow_mut() = Some(err);
                    Err(git2::Error::from_str("host key verification failed"))
                }
            }
        });
        cb
    }

    fn negotiator(&self) -> RefCell<Negotiator<'_>> {
        RefCell::new(Negotiator::new(
            self.opts.ssh_key.clone(),
            self.opts.interactive,
            &self.secrets,
            &self.budget,
        ))
    }

    /// Turn a libgit2 failure into the most specific error we know of.
    fn explain(&self, what: &str, err: git2::Error) -> Error {
        if let Some(e) = self.host_key_error.borrow_mut().take() {
            return e;
        }
        let tried = self.tried.borrow();
        let auth_failed = *self.auth_exhausted.borrow()
            || err.code() == git2::ErrorCode::Auth
            || err.class() == git2::ErrorClass::Ssh && err.message().contains("auth");
        if auth_failed {
            let methods = if tried.is_empty() {
                "no method was available".to_owned()
            } else {
                format!("tried {}", tried.join(", then "))
            };
            let hint = match self.parsed.transport {
                Transport::Https | Transport::Http => format!(
                    "set {} to an access token with write access to the repository",
                    super::credentials::ENV_GIT_TOKEN
                ),
                _ => "give a key the server accepts with --ssh-key (or HOMELAB_SSH_KEY), load one \
                      into ssh-agent, or add your public key to the server (as a deploy key with \
                      write access)"
                    .to_owned(),
            };
            return Error::failed(format!(
                "cannot {what} {}: authentication failed ({methods})",
                redact(&self.opts.url)
            ))
            .with_hint(hint);
        }
        if is_timeout(&err) {
            return Error::failed(format!(
                "cannot {what} {}: the server did not answer within {} ({})",
                redact(&self.opts.url),
                human(self.opts.timeout),
                err.message()
            ))
            .with_hint(TIMEOUT_HINT);
        }
        Error::failed(format!("cannot {what} {}: {}", redact(&self.opts.url), err.message())).with_hint(
            "check git.url in homelab.yaml, that the server is reachable, and that the repository exists",
        )
    }

    /// Fetch the remote branch; its commit, or `None` when the remote has no such branch.
    fn fetch(&self, remote: &mut git2::Remote<'_>) -> Result<Option<Oid>> {
        let branch = &self.opts.branch;
        let negotiator = self.negotiator();
        let mut fo = FetchOptions::new();
        fo.remote_callbacks(self.callbacks(&negotiator));
        let refspec = format!("+refs/heads/{branch}:refs/remotes/{REMOTE}/{branch}");
        remote
            .fetch(&[refspec.as_str()], Some(&mut fo), None)
            .map_err(|e| self.explain("fetch from", e))?;
        // The advertised refs stay readable after fetch disconnects; they are the truth
        // about the remote (a stale tracking ref may linger after a branch was deleted).
        let wanted = format!("refs/heads/{branch}");
        let list = remote.list().map_err(git_err)?;
        Ok(list.iter().find(|h| h.name() == wanted).map(|h| h.oid()))
    }

    fn push(&self, remote: &mut git2::Remote<'_>) -> Result<()> {
        let branch = &self.opts.branch;
        // What the server's hooks print ("remote: ..." in git) explains a refusal; the ref
        // status alone only says "pre-receive hook declined".
        let said = RefCell::new(Vec::new());
        let negotiator = self.negotiator();
        let mut cb = self.callbacks(&negotiator);
        cb.push_update_reference(|refname, status| {
            if let Some(status) = status {
                self.rejected
                    .borrow_mut()
                    .push((refname.to_owned(), status.to_owned()));
            }
            Ok(())
        });
        cb.sideband_progress(|text| {
            said.borrow_mut().extend_from_slice(text);
            true
        });
        let bar = Some(crate::feedback::bar(0, "pushing")).filter(|bar| !bar.is_hidden());
        if let Some(bar) = bar.clone() {
            cb.push_transfer_progress(move |current, total, bytes| {
                bar.set_length(total as u64);
                bar.set_position(current as u64);
                bar.set_message(format!("pushing {} KiB", bytes / 1024));
            });
        }
        let mut po = GitPushOptions::new();
        po.remote_callbacks(cb);
        let refspec = format!("refs/heads/{branch}:refs/heads/{branch}");
        let result = remote.push(&[refspec.as_str()], Some(&mut po));
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        result.map_err(|e| self.explain("push to", e))?;
        let rejected = self.rejected.borrow();
        if let Some((refname, why)) = rejected.first() {
            return Err(Error::failed(format!(
                "the remote {} refused to update {refname}: {why}{}",
                redact(&self.opts.url),
                server_said(&said.borrow())
            ))
            .with_hint(
                "the branch may be protected or changed meanwhile; allow pushes to it on the server, \
                 or run `homelab push` again to pick up the remote's new commits",
            ));
        }
        Ok(())
    }
}

/// The server's own messages during a push, as git shows them (`remote: ...` lines), for
/// an error: progress lines that redraw themselves (`\r`) keep their last state only.
fn server_said(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let lines: Vec<String> = text
        .split('\n')
        .filter_map(|line| line.rsplit('\r').find(|part| !part.trim().is_empty()))
        .map(|line| format!("\n  remote: {}", line.trim_end()))
        .collect();
    // A chatty hook must not bury the error.
    let skip = lines.len().saturating_sub(20);
    lines[skip..].concat()
}

fn git_err(err: git2::Error) -> Error {
    Error::failed(err.message().to_owned())
}

const TIMEOUT_HINT: &str = "check that git.url names a running git server and that nothing (a \
     firewall, a proxy) swallows the connection; on a slow link allow more time with \
     --git-timeout DURATION";

/// Whether libgit2 gave up waiting: its socket timeout, libssh2's, or (over TLS) OpenSSL
/// reporting the would-block state the timed-out read left behind.
fn is_timeout(err: &git2::Error) -> bool {
    let message = err.message().to_ascii_lowercase();
    err.code() == git2::ErrorCode::Timeout
        || message.contains("timed out")
        || message.contains("ssl") && message.contains("resource temporarily unavailable")
}

/// Which remote an exchange talks to.
#[derive(Debug, Clone)]
enum Target {
    /// `origin`, as configured (push).
    Origin,
    /// A URL, without touching `.git/config` (doctor's comparison).
    Anonymous(String),
}

/// Run one network exchange (`op`) with the remote on a thread of its own, with its own
/// handle on the repository, and wait for it at most [`GIT_EXCHANGE_FACTOR`] times the
/// timeout (not counting prompts). Only the exchange runs there: refs, index and work tree
/// are changed afterwards on the caller's thread, so giving up never leaves them half-done.
fn exchange<T: Send + 'static>(
    repo: &Repository,
    opts: &PushOptions,
    secrets: &Arc<std::sync::Mutex<SecretCache>>,
    (what, target): (&'static str, Target),
    op: fn(&Session<'_>, &mut git2::Remote<'_>) -> Result<T>,
) -> Result<T> {
    validate(opts)?;
    super::set_socket_timeouts(opts.timeout);
    let git_dir = repo.path().to_path_buf();
    let owned = opts.clone();
    let budget = Budget::new(opts.timeout.saturating_mul(GIT_EXCHANGE_FACTOR));
    let shared = budget.clone();
    let secrets = secrets.clone();
    let outcome = budget.run(move || -> Result<T> {
        let repo = Repository::open(&git_dir).map_err(git_err)?;
        let session = Session::new(&owned, shared, secrets)?;
        let mut remote = match &target {
            Target::Origin => repo.find_remote(REMOTE),
            Target::Anonymous(url) => repo.remote_anonymous(url),
        }
        .map_err(git_err)?;
        op(&session, &mut remote)
    });
    outcome.unwrap_or_else(|Elapsed(limit)| {
        Err(Error::failed(format!(
            "cannot {what} {}: the exchange with the server did not finish within {} (it \
             answers too slowly, or not at all)",
            opts.url,
            human(limit)
        ))
        .with_hint(TIMEOUT_HINT))
    })
}

/// The local branch's commit.
fn local_branch(repo: &Repository, branch: &str) -> Option<Oid> {
    repo.find_reference(&format!("refs/heads/{branch}"))
        .ok()?
        .target()
}

/// Compare the local branch with the remote's (fetching it first). For `doctor`.
pub fn remote_status(repo: &Repository, opts: &PushOptions) -> Result<SyncStatus> {
    let url = effective_url(repo, &opts.url);
    // An anonymous remote: a health check must not rewrite the user's .git/config.
    let secrets = Arc::default();
    let remote_oid = exchange(
        repo,
        opts,
        &secrets,
        ("fetch from", Target::Anonymous(url)),
        |session, remote| session.fetch(remote),
    )?;
    let Some(local) = local_branch(repo, &opts.branch) else {
        return Ok(SyncStatus::LocalMissing);
    };
    let Some(theirs) = remote_oid else {
        return Ok(SyncStatus::RemoteMissing);
    };
    let (ahead, behind) = repo.graph_ahead_behind(local, theirs).map_err(git_err)?;
    Ok(match (ahead, behind) {
        (0, 0) => SyncStatus::InSync,
        (a, 0) => SyncStatus::Ahead { ahead: a },
        (0, b) => SyncStatus::Behind { behind: b },
        (a, b) => SyncStatus::Diverged {
            ahead: a,
            behind: b,
        },
    })
}

/// Bring the remote branch up to date with the local one (see the module docs).
pub fn push(repo: &Repository, opts: &PushOptions) -> Result<PushOutcome> {
    validate(opts)?;
    let branch = &opts.branch;
    let Some(local) = local_branch(repo, branch) else {
        return Err(Error::failed(format!(
            "the local branch {branch} has no commits: nothing to push"
        ))
        .with_hint(format!(
            "commit first (homelab render, then homelab push), or set git.branch to the branch you use (currently {branch:?})"
        )));
    };
    let url = effective_url(repo, &opts.url);
    ensure_remote(repo, &url)?;
    // Asked once, used by both the fetch and the push.
    let secrets = Arc::default();
    let theirs = exchange(
        repo,
        opts,
        &secrets,
        ("fetch from", Target::Origin),
        |session, remote| session.fetch(remote),
    )?;

    let mut outcome_rebased = None;
    let to_push = match theirs {
        None => local,
        Some(theirs) if theirs == local => return Ok(PushOutcome::UpToDate),
        Some(theirs) if repo.graph_descendant_of(local, theirs).map_err(git_err)? => local,
        Some(theirs) if repo.graph_descendant_of(theirs, local).map_err(git_err)? => {
            move_branch(repo, branch, local, theirs)?;
            set_upstream(repo, branch);
            return Ok(PushOutcome::FastForwarded { commit: theirs });
        }
        Some(theirs) => {
            let (new_head, replayed) = rebase_onto(repo, branch, local, theirs)?;
            move_branch(repo, branch, local, new_head)?;
            outcome_rebased = Some(replayed);
            new_head
        }
    };
    exchange(
        repo,
        opts,
        &secrets,
        ("push to", Target::Origin),
        |session, remote| session.push(remote),
    )?;
    set_upstream(repo, branch);
    Ok(match outcome_rebased {
        Some(replayed) => PushOutcome::RebasedAndPushed {
            commit: to_push,
            replayed,
        },
        None => PushOutcome::Pushed { commit: to_push },
    })
}

/// Record origin/<branch> as the upstream, so plain `git pull`/`git status` work later.
fn set_upstream(repo: &Repository, branch: &str) {
    if let Ok(mut b) = repo.find_branch(branch, git2::BranchType::Local) {
        let _ = b.set_upstream(Some(&format!("{REMOTE}/{branch}")));
    }
}

/// Replay the commits in `theirs..local` onto `theirs`, in memory. Nothing is written to
/// refs or the work tree here; a conflict leaves the repository as it was.
fn rebase_onto(repo: &Repository, branch: &str, local: Oid, theirs: Oid) -> Result<(Oid, usize)> {
    let diverged = |why: String| {
        Error::failed(format!(
            "the remote branch {branch} and the local one have both changed, and {why}; nothing was changed"
        ))
        .with_hint(format!(
            "merge by hand: `git pull --rebase {REMOTE} {branch}`, resolve the conflicts, then run `homelab push` again"
        ))
    };
    let mut walk = repo.revwalk().map_err(git_err)?;
    walk.push(local).map_err(git_err)?;
    walk.hide(theirs).map_err(git_err)?;
    walk.set_sorting(git2::Sort::TOPOLOGICAL | git2::Sort::REVERSE)
        .map_err(git_err)?;
    let ours: Vec<Oid> = walk
        .collect::<std::result::Result<_, _>>()
        .map_err(git_err)?;

    let mut onto = repo.find_commit(theirs).map_err(git_err)?;
    for oid in &ours {
        let commit = repo.find_commit(*oid).map_err(git_err)?;
        if commit.parent_count() > 1 {
            return Err(diverged(format!(
                "the local commit {} is a merge, which is not replayed automatically",
                short(*oid)
            )));
        }
        // A cherry-pick as a three-way merge. A root commit (a repository created locally
        // while the forge added its own first commit, e.g. a README) is replayed against
        // the empty tree, so unrelated histories join when their files do not collide.
        let base = match commit.parents().next() {
            Some(parent) => parent.tree().map_err(git_err)?,
            None => {
                let empty = repo
                    .treebuilder(None)
                    .and_then(|b| b.write())
                    .map_err(git_err)?;
                repo.find_tree(empty).map_err(git_err)?
            }
        };
        let mut index = repo
            .merge_trees(
                &base,
                &onto.tree().map_err(git_err)?,
                &commit.tree().map_err(git_err)?,
                None,
            )
            .map_err(git_err)?;
        if index.has_conflicts() {
            let files: Vec<String> = index
                .conflicts()
                .map_err(git_err)?
                .flatten()
                .filter_map(|c| c.our.or(c.their).or(c.ancestor))
                .map(|e| String::from_utf8_lossy(&e.path).into_owned())
                .collect();
            return Err(diverged(format!(
                "the local commit {} ({}) conflicts with the remote's changes in {}",
                short(*oid),
                commit.summary().ok().flatten().unwrap_or_default(),
                files.join(", ")
            )));
        }
        let tree_id = index.write_tree_to(repo).map_err(git_err)?;
        if tree_id == onto.tree_id() {
            // Already upstream (the same change was made remotely): drop it, as git does.
            continue;
        }
        let tree = repo.find_tree(tree_id).map_err(git_err)?;
        let committer = super::signature(repo)?;
        let new = repo
            .commit(
                None,
                &commit.author(),
                &committer,
                commit.message().unwrap_or_default(),
                &tree,
                &[&onto],
            )
            .map_err(git_err)?;
        onto = repo.find_commit(new).map_err(git_err)?;
    }
    Ok((onto.id(), ours.len()))
}

/// Point `branch` (from `old`) at `new`, updating the work tree and index when it is the
/// checked-out branch. The checkout is "safe": local edits are never overwritten, and if
/// one is in the way the branch is not moved.
fn move_branch(repo: &Repository, branch: &str, old: Oid, new: Oid) -> Result<()> {
    let refname = format!("refs/heads/{branch}");
    let checked_out = repo
        .head()
        .ok()
        .and_then(|h| h.name().ok().map(str::to_owned))
        .is_some_and(|n| n == refname);
    if checked_out && !repo.is_bare() {
        let target = repo.find_commit(new).map_err(git_err)?;
        let mut co = CheckoutBuilder::new();
        co.safe();
        repo.checkout_tree(target.as_object(), Some(&mut co))
            .map_err(|e| {
                Error::failed(format!(
                    "cannot update the work tree to the remote's commits: {}",
                    e.message()
                ))
                .with_hint("commit or discard your local edits, then run `homelab push` again")
            })?;
    }
    repo.reference_matching(
        &refname,
        new,
        true,
        old,
        &format!("homelab push: update {branch} to {REMOTE}/{branch}"),
    )
    .map_err(git_err)?;
    Ok(())
}

fn short(oid: Oid) -> String {
    oid.to_string()[..8].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_messages_keep_their_last_state_and_their_tail() {
        assert_eq!(server_said(b""), "");
        assert_eq!(
            server_said(b"Checking 10%\rChecking 100%\r\nmain is protected\n"),
            "\n  remote: Checking 100%\n  remote: main is protected"
        );
        let chatty: Vec<u8> = (0..30)
            .flat_map(|i| format!("line {i}\n").into_bytes())
            .collect();
        let said = server_said(&chatty);
        assert_eq!(said.matches("remote:").count(), 20);
        assert!(said.ends_with("remote: line 29") && !said.contains("line 9\n"));
    }

    #[test]
    fn bad_urls_are_usage_errors_with_hints() {
        for bad in [
            "",
            "https://me:ghp_secret@github.com/me/x.git",
            "ssh://git@host:notaport/x",
            "ftp://host/x",
            "ssh:///x",
        ] {
            let err = parse_url(bad).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{bad}");
            assert!(err.hint.is_some(), "{bad}");
            assert!(!err.message.contains("ghp_secret"), "{}", err.message);
        }
    }
}
