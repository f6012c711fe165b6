//! Checks that need no cluster: homelab.yaml, the git repository and its remote, and
//! whether the files on disk are what homelab.yaml renders to.

use std::collections::BTreeMap;
use std::path::Path;

use git2::{BranchType, Oid, Repository, Status, StatusOptions};

use super::Finding;
use crate::config::{CONFIG_FILE, Config};

/// Load homelab.yaml, as a finding.
pub fn load_config(dir: &Path) -> (Option<Config>, Finding) {
    match parse_config(dir) {
        Ok(cfg) => (
            Some(cfg),
            Finding::ok("local.config", format!("{CONFIG_FILE} is valid")),
        ),
        Err(err) => {
            let hint = err
                .hint
                .clone()
                .unwrap_or_else(|| format!("fix {CONFIG_FILE} and run the doctor again"));
            (
                None,
                Finding::failed(
                    "local.config",
                    format!("{CONFIG_FILE}: {}", err.message.replace('\n', "; ")),
                    hint,
                ),
            )
        }
    }
}

fn parse_config(dir: &Path) -> crate::error::Result<Config> {
    crate::catalog::load_config(dir)
}

/// Whether Flux, in the cluster, can pull `git.url`: it speaks ssh and http(s) only, and a
/// path or `file://` URL exists on this machine alone. `None` without a URL (`local.remote`
/// reports that).
pub fn git_url_finding(cfg: &Config) -> Option<Finding> {
    let url = cfg.git.url.trim();
    if url.is_empty() {
        return None;
    }
    let why = match crate::config::git_url::GitUrl::parse(url) {
        Ok(parsed) => match parsed.unpullable() {
            None => {
                let flux = parsed.flux_url();
                return Some(Finding::ok("local.git-url", format!("Flux pulls {flux}")));
            }
            Some(why) => why.to_owned(),
        },
        Err(problem) => format!("it {problem}"),
    };
    Some(Finding::failed(
        "local.git-url",
        format!(
            "git.url {} cannot be pulled by Flux: {why}",
            crate::config::git_url::redact(url)
        ),
        "set git.url to an ssh:// or https:// URL of a git server the cluster can reach, then run `homelab render`, `homelab push` and `homelab bootstrap`",
    ))
}

/// The age recipients the repository's `.sops.yaml` encrypts app secrets for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum SopsRecipients {
    /// No `.sops.yaml`: no app secret has been encrypted yet.
    #[default]
    NoFile,
    Recipients(Vec<String>),
    /// The file exists but names no age recipient, or does not parse.
    Invalid(String),
}

/// Read `.sops.yaml`: every `creation_rules[].age` (a comma-separated string or a list).
pub fn sops_recipients(dir: &Path) -> SopsRecipients {
    let path = dir.join(".sops.yaml");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return SopsRecipients::NoFile;
    };
    let doc: serde_json::Value = match serde_saphyr::from_str(&text) {
        Ok(doc) => doc,
        Err(e) => return SopsRecipients::Invalid(format!(".sops.yaml is not valid YAML: {e}")),
    };
    let mut recipients = Vec::new();
    for rule in doc
        .get("creation_rules")
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
    {
        let values: Vec<&str> = match rule.get("age") {
            Some(serde_json::Value::String(s)) => s.split(',').collect(),
            Some(serde_json::Value::Array(list)) => {
                list.iter().filter_map(serde_json::Value::as_str).collect()
            }
            _ => Vec::new(),
        };
        for r in values.iter().map(|r| r.trim()).filter(|r| !r.is_empty()) {
            if !recipients.iter().any(|have| have == r) {
                recipients.push(r.to_owned());
            }
        }
    }
    if recipients.is_empty() {
        SopsRecipients::Invalid(".sops.yaml names no age recipient (creation_rules[].age)".into())
    } else {
        SopsRecipients::Recipients(recipients)
    }
}

/// The outcome of the git checks, with the commits later checks compare against.
#[derive(Debug, Clone, Default)]
pub struct GitState {
    pub findings: Vec<Finding>,
    /// The commit of the local branch.
    pub local_head: Option<Oid>,
    /// The commit of the branch on the remote (after a fetch, else as last fetched).
    pub remote_head: Option<Oid>,
}

impl GitState {
    pub fn failed(message: String) -> Self {
        Self {
            findings: vec![Finding::failed(
                "local.git",
                message,
                "check the repository with `git status`",
            )],
            ..Self::default()
        }
    }

    /// The git checks ran out of time (a backstop: the fetch has its own bounds). The
    /// remote is reported as unanswered; the local branch is still read.
    pub fn timed_out(dir: &Path, cfg: Option<&Config>, after: std::time::Duration) -> Self {
        let url = cfg.map(|c| c.git.url.clone()).unwrap_or_default();
        let branch = cfg
            .map(|c| c.git.branch.clone())
            .unwrap_or_else(|| "main".into());
        let repo = Repository::open(dir).ok();
        let local_head = repo.as_ref().and_then(|repo| {
            repo.find_branch(&branch, BranchType::Local)
                .ok()
                .and_then(|b| b.get().target())
        });
        let mut findings: Vec<Finding> = repo.as_ref().map(clean_finding).into_iter().collect();
        findings.push(Finding::warning(
            "local.remote",
            format!(
                "cannot compare {branch} with {url}: the git remote did not answer within {}",
                crate::net::human(after)
            ),
            "check that git.url names a running git server, or allow more time with \
             --git-timeout DURATION",
        ));
        Self {
            findings,
            local_head,
            remote_head: None,
        }
    }

    /// The commit Flux should be running: the remote's, else the local one.
    pub fn expected_revision(&self) -> Option<Oid> {
        self.remote_head.or(self.local_head)
    }
}

/// Repository clean? Branch in sync with its remote?
pub fn git_checks(dir: &Path, cfg: Option<&Config>, git: &super::GitOptions) -> GitState {
    let mut state = GitState::default();
    let repo = match Repository::open(dir) {
        Ok(r) => r,
        Err(_) => {
            state.findings.push(Finding::failed(
                "local.git",
                format!("{} is not a git repository", dir.display()),
                "run `homelab init` (it creates and commits the repository)",
            ));
            return state;
        }
    };
    let branch = cfg
        .map(|c| c.git.branch.clone())
        .unwrap_or_else(|| "main".into());
    state.local_head = repo
        .find_branch(&branch, BranchType::Local)
        .ok()
        .and_then(|b| b.get().target())
        .or_else(|| repo.head().ok().and_then(|h| h.target()));

    state.findings.push(clean_finding(&repo));

    let url = cfg.map(|c| c.git.url.trim().to_owned()).unwrap_or_default();
    if url.is_empty() {
        state.findings.push(Finding::warning(
            "local.remote",
            "no git remote (git.url is empty): Flux cannot pull this repository",
            "set git.url in homelab.yaml, then run `homelab push` and `homelab bootstrap`",
        ));
        return state;
    }
    let fetch_failure = fetch_branch(&repo, &url, &branch, git).err();
    // A remote that did not answer in time gets the hint naming the flag that allows more.
    let fetch_hint = match fetch_failure.as_ref().and_then(|e| e.hint.clone()) {
        Some(hint) if hint.contains("--git-timeout") => hint,
        _ => "check git.url and your credentials (HOMELAB_SSH_KEY, HOMELAB_GIT_TOKEN)".to_owned(),
    };
    let fetch_error = fetch_failure.map(|e| e.message);
    // From here on the URL is only shown, and shown without credentials.
    let url = crate::config::git_url::redact(&url);
    let tracking = format!("refs/remotes/origin/{branch}");
    state.remote_head = repo.refname_to_id(&tracking).ok();
    let stale = fetch_error
        .as_ref()
        .map(|e| {
            format!(
                " (fetch failed: {}; compared with the last fetched state)",
                one_line(e)
            )
        })
        .unwrap_or_default();

    let finding = match (state.local_head, state.remote_head) {
        (None, _) => Finding::failed(
            "local.remote",
            format!("branch {branch} has no commits"),
            "run `homelab init` or `homelab render` to commit the repository",
        ),
        (Some(_), None) if fetch_error.is_some() => Finding::warning(
            "local.remote",
            format!(
                "cannot compare {branch} with {url}: {}",
                one_line(fetch_error.as_deref().unwrap_or(""))
            ),
            format!("{fetch_hint}, then run `homelab push`"),
        ),
        (Some(_), None) => Finding::failed(
            "local.remote",
            format!("branch {branch} is not on the remote {url}"),
            "run `homelab push`",
        ),
        (Some(local), Some(remote)) if local == remote => {
            if stale.is_empty() {
                Finding::ok("local.remote", format!("{branch} is in sync with {url}"))
            } else {
                Finding::warning(
                    "local.remote",
                    format!("{branch} matches origin/{branch}{stale}"),
                    fetch_hint,
                )
            }
        }
        (Some(local), Some(remote)) => match repo.graph_ahead_behind(local, remote) {
            Ok((ahead, 0)) => Finding::failed(
                "local.remote",
                format!(
                    "{branch} is {ahead} commit(s) ahead of {url}: Flux does not see them{stale}"
                ),
                "run `homelab push`",
            ),
            Ok((0, behind)) => Finding::warning(
                "local.remote",
                format!("{branch} is {behind} commit(s) behind {url}{stale}"),
                format!(
                    "run `git pull` (or `git merge origin/{branch}`) before changing the repository"
                ),
            ),
            Ok((ahead, behind)) => Finding::failed(
                "local.remote",
                format!(
                    "{branch} has diverged from {url}: {ahead} local and {behind} remote commit(s){stale}"
                ),
                "run `homelab push` (it rebases the tool's own commits) or merge by hand with `git pull`",
            ),
            Err(err) => Finding::warning(
                "local.remote",
                format!(
                    "cannot compare {branch} with origin/{branch}: {}",
                    err.message()
                ),
                "run `git status` to inspect the repository",
            ),
        },
    };
    state.findings.push(finding);
    state
}

fn clean_finding(repo: &Repository) -> Finding {
    let mut opts = StatusOptions::new();
    opts.include_untracked(true)
        .recurse_untracked_dirs(true)
        .include_ignored(false);
    match repo.statuses(Some(&mut opts)) {
        Ok(statuses) => {
            let changed: Vec<String> = statuses
                .iter()
                .filter(|s| s.status() != Status::CURRENT && !s.status().contains(Status::IGNORED))
                .filter_map(|s| s.path().ok().map(str::to_owned))
                .collect();
            if changed.is_empty() {
                Finding::ok("local.clean", "repository has no uncommitted changes")
            } else {
                let mut shown = changed
                    .iter()
                    .take(3)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ");
                if changed.len() > 3 {
                    shown.push_str(", …");
                }
                Finding::warning(
                    "local.clean",
                    format!("{} uncommitted change(s): {shown}", changed.len()),
                    "commit and push them with `homelab push` (Flux only sees what is pushed)",
                )
            }
        }
        Err(err) => Finding::warning(
            "local.clean",
            format!("cannot read the repository status: {}", err.message()),
            "run `git status` to inspect the repository",
        ),
    }
}

/// Fetch the configured branch into `refs/remotes/origin/<branch>`, with the same
/// credentials, host-key policy and timeouts as `homelab push`, never prompting.
fn fetch_branch(
    repo: &Repository,
    url: &str,
    branch: &str,
    git: &super::GitOptions,
) -> crate::error::Result<()> {
    let opts = crate::git::PushOptions {
        ssh_key: std::env::var_os("HOMELAB_SSH_KEY").map(Into::into),
        known_hosts: git.known_hosts.clone(),
        timeout: git.timeout.unwrap_or(super::GIT_TIMEOUT),
        ..crate::git::PushOptions::new(url, branch)
    };
    crate::git::remote_status(repo, &opts).map(|_| ())
}

fn one_line(text: &str) -> String {
    crate::kube::status::one_line(text)
}

/// Compare what `homelab render` would write with the files on disk. Edited files are a
/// warning, not a failure: `homelab render` keeps deliberate edits.
pub fn check_rendered(dir: &Path, rendered: &BTreeMap<String, String>) -> Finding {
    let mut missing = Vec::new();
    let mut differ = Vec::new();
    for (path, content) in rendered {
        match std::fs::read_to_string(dir.join(path)) {
            Ok(on_disk) if on_disk == *content => {}
            Ok(_) => differ.push(path.as_str()),
            Err(_) => missing.push(path.as_str()),
        }
    }
    if missing.is_empty() && differ.is_empty() {
        return Finding::ok(
            "local.rendered",
            format!("{} rendered files match homelab.yaml", rendered.len()),
        );
    }
    let list = |v: &[&str]| {
        let mut s = v.iter().take(3).copied().collect::<Vec<_>>().join(", ");
        if v.len() > 3 {
            s.push_str(", …");
        }
        s
    };
    let mut parts = Vec::new();
    if !missing.is_empty() {
        parts.push(format!("{} missing ({})", missing.len(), list(&missing)));
    }
    if !differ.is_empty() {
        parts.push(format!("{} differ ({})", differ.len(), list(&differ)));
    }
    Finding::warning(
        "local.rendered",
        format!(
            "rendered files out of date with homelab.yaml: {}",
            parts.join(", ")
        ),
        "run `homelab render --diff` to review, then `homelab render` and `homelab push`",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Severity;

    #[test]
    fn rendered_files_are_compared_with_the_disk() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("apps")).unwrap();
        std::fs::write(
            dir.path().join("apps/kustomization.yaml"),
            "resources: []\n",
        )
        .unwrap();
        let mut files = BTreeMap::new();
        files.insert(
            "apps/kustomization.yaml".to_owned(),
            "resources: []\n".to_owned(),
        );
        assert_eq!(check_rendered(dir.path(), &files).status, Severity::Ok);

        files.insert("README.md".to_owned(), "x".to_owned());
        files.insert(
            "apps/kustomization.yaml".to_owned(),
            "resources: [a]\n".to_owned(),
        );
        let f = check_rendered(dir.path(), &files);
        assert_eq!(f.status, Severity::Warning);
        assert!(f.message.contains("1 missing (README.md)"), "{}", f.message);
        assert!(
            f.message.contains("1 differ (apps/kustomization.yaml)"),
            "{}",
            f.message
        );
    }

    #[test]
    fn sops_recipients_are_read_from_every_rule() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(sops_recipients(dir.path()), SopsRecipients::NoFile);
        std::fs::write(
            dir.path().join(".sops.yaml"),
            "creation_rules:\n  - path_regex: a\n    age: age1aaa, age1bbb\n  - age: [age1ccc, age1aaa]\n",
        )
        .unwrap();
        assert_eq!(
            sops_recipients(dir.path()),
            SopsRecipients::Recipients(vec!["age1aaa".into(), "age1bbb".into(), "age1ccc".into()])
        );
        std::fs::write(dir.path().join(".sops.yaml"), "creation_rules: []\n").unwrap();
        assert!(matches!(
            sops_recipients(dir.path()),
            SopsRecipients::Invalid(_)
        ));
    }

    #[test]
    fn a_directory_without_config_is_a_failed_finding_with_a_hint() {
        let dir = tempfile::tempdir().unwrap();
        let (cfg, f) = load_config(dir.path());
        assert!(cfg.is_none());
        assert_eq!(f.status, Severity::Failed);
        assert!(f.hint.unwrap().contains("homelab init"));
    }
}
