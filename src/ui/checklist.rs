//! What is done and what is left after `init` (and `add-app`), computed from what actually
//! happened.
//!
//! A fixed list of "next steps" tells the user to push right after a push, or to bootstrap
//! from an empty `git.url`. Here `init` records what it did in an [`InitOutcome`] and the
//! checklist is derived from that and the configuration alone, so every combination can be
//! checked by unit tests and the advice is never wrong for the run the user just made.

use std::path::PathBuf;

use crate::config::{Challenge, Choice, Config};
use crate::ui::printer;
use crate::ui::style::{Decor, Mark};

/// What became of the push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Push {
    Done,
    /// `git.url` is empty: a local repository only.
    NoRemote,
    /// `--no-push`.
    Declined,
    Failed(String),
}

/// What became of the bootstrap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bootstrap {
    Done,
    /// `--no-bootstrap`.
    Declined,
    /// `git.url` is empty.
    NoRemote,
    /// `git.url` is set but Flux in the cluster cannot pull from it (a path, `file://`,
    /// `git://`): why.
    Unpullable(String),
    /// The commit is not on the remote: the push failed.
    NotPushed,
    /// No cluster to bootstrap into: why (no kubeconfig, the API server did not answer…).
    Unreachable(String),
    Failed(String),
}

/// Where the age key that decrypts the repository's app secrets is (not the key itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgeKeyFile {
    pub file: PathBuf,
    /// Its public key (`age1…`), as `.sops.yaml` names it.
    pub recipient: String,
}

/// What one `init` run did, filled in by `init` as it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitOutcome {
    /// The repository.
    pub dir: PathBuf,
    /// The commit `init` made, if the rendering changed anything.
    pub commit: Option<String>,
    pub push: Push,
    pub bootstrap: Bootstrap,
    pub age_key: Option<AgeKeyFile>,
}

/// One line of the checklist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// Done (✓) or left to do (•).
    pub done: bool,
    pub text: String,
}

fn done(text: String) -> Item {
    Item { done: true, text }
}

fn todo(text: String) -> Item {
    Item { done: false, text }
}

/// The checklist for `cfg` after `outcome`: what was done, then what is left, in the order
/// to do it.
pub fn init_items(cfg: &Config, outcome: &InitOutcome) -> Vec<Item> {
    let url = crate::config::git_url::redact(&cfg.git.url);
    let mut items = Vec::new();
    items.push(done(match &outcome.commit {
        Some(commit) => format!(
            "rendered and committed the repository in {} ({})",
            outcome.dir.display(),
            &commit[..commit.len().min(8)]
        ),
        None => format!(
            "the repository in {} already matches homelab.yaml (nothing to commit)",
            outcome.dir.display()
        ),
    }));
    if outcome.push == Push::Done {
        items.push(done(format!("pushed to {url}")));
    }
    if outcome.bootstrap == Bootstrap::Done {
        items.push(done(
            "bootstrapped Flux: it now applies every commit pushed to the repository".to_owned(),
        ));
    }

    let bootstrapped = outcome.bootstrap == Bootstrap::Done;
    match &outcome.push {
        Push::Done => {}
        Push::NoRemote => items.push(todo(
            "skipped push: git.url is empty (a local repository only); set it in homelab.yaml to a remote Flux in the cluster can reach (ssh:// or https://), run `homelab render`, then `homelab push`".to_owned(),
        )),
        Push::Declined => items.push(todo(format!(
            "skipped push (--no-push): `homelab push` sends the commit to {url}"
        ))),
        Push::Failed(why) => items.push(todo(format!(
            "push failed: {why}; fix that, then `homelab push`"
        ))),
    }

    // Whatever stopped the bootstrap first, a git.url Flux cannot pull from must be fixed too.
    if !cfg.git.url.is_empty()
        && !matches!(outcome.bootstrap, Bootstrap::Unpullable(_))
        && let Err(why) = crate::bootstrap::cluster_secrets::parse_remote(&cfg.git.url)
    {
        items.push(todo(format!(
            "{}; set an ssh:// or https:// URL it can reach, `homelab render` and `homelab push`",
            why.message
        )));
    }

    if !bootstrapped {
        items.push(todo(
            "on k3s, disable its bundled Traefik and ServiceLB before bootstrapping (they take the ports and addresses of the homelab's ingress and MetalLB): `disable: [traefik, servicelb]` in /etc/rancher/k3s/config.yaml on every server, then restart k3s".to_owned(),
        ));
        for (var, what) in credentials(cfg) {
            items.push(todo(format!(
                "export {var} before `homelab bootstrap`: {what} (it goes into a Secret in the cluster, never into git)"
            )));
        }
        let step = match &outcome.bootstrap {
            Bootstrap::Done => unreachable!("handled above"),
            Bootstrap::Declined => {
                "skipped bootstrap (--no-bootstrap): `homelab bootstrap` installs Flux into the cluster".to_owned()
            }
            Bootstrap::NoRemote => {
                "skipped bootstrap: Flux needs git.url to pull from; set it and push first, then `homelab bootstrap`".to_owned()
            }
            Bootstrap::Unpullable(why) => format!(
                "skipped bootstrap: {why}; set a git.url Flux in the cluster can reach, `homelab render`, `homelab push`, then `homelab bootstrap`"
            ),
            Bootstrap::NotPushed => {
                "skipped bootstrap: the commit is not on the remote; `homelab bootstrap` after `homelab push`".to_owned()
            }
            Bootstrap::Unreachable(why) => format!(
                "skipped bootstrap: {why}; `homelab bootstrap` once the cluster answers (--kubeconfig and --context choose it)"
            ),
            Bootstrap::Failed(why) => format!(
                "bootstrap failed: {why}; fix that, then `homelab bootstrap` again (it continues where it stopped)"
            ),
        };
        items.push(todo(step));
    }

    items.push(todo(format!(
        "point *.{} at {} in your DNS (a wildcard A record, in your router or DNS server): every app is served there",
        cfg.cluster.domain, cfg.network.ingress_address
    )));
    if cfg.certificates.challenge == Challenge::Http01 {
        items.push(todo(format!(
            "HTTP-01 needs port 80 reachable from the internet: public DNS for *.{} points at your router, which forwards port 80 (and 443) to {}",
            cfg.cluster.domain, cfg.network.ingress_address
        )));
    }
    items.push(todo(format!(
        "the NFS server {} must export {} read-write to the nodes ({})",
        cfg.storage.nfs_server, cfg.storage.nfs_path, cfg.network.node_cidr
    )));
    if let Some(AgeKeyFile { file, recipient }) = &outcome.age_key {
        items.push(todo(format!(
            "back up the age key {} (public key {recipient}): {}; `homelab key export FILE` writes a copy to keep off this machine (a USB stick, a password manager), `homelab key import FILE` restores it",
            file.display(),
            crate::secrets::WHY_BACK_UP_THE_KEY
        )));
    }
    items.push(todo(
        "`homelab doctor` checks all of this; `homelab apps` lists apps and `homelab add-app NAME` adds one".to_owned(),
    ));
    items
}

/// The secret environment variables `bootstrap` reads for this configuration, and what each
/// is for.
fn credentials(cfg: &Config) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if cfg.git.url.starts_with("https://") || cfg.git.url.starts_with("http://") {
        out.push((
            "HOMELAB_GIT_TOKEN".to_owned(),
            "a read-only access token Flux pulls the repository with".to_owned(),
        ));
    }
    if cfg.certificates.challenge == Challenge::Dns01 {
        let provider = cfg.certificates.dns_provider;
        out.push((
            provider.credential_env().join(" and "),
            format!(
                "the {} credentials cert-manager proves the domain with",
                provider.as_str()
            ),
        ));
    }
    out
}

/// Render items, one per line, with their marks.
pub fn render(title: &str, items: &[Item], decor: Decor) -> String {
    let mut out = format!("\n{}\n", decor.heading(title));
    for item in items {
        let mark = decor.mark(if item.done { Mark::Ok } else { Mark::Todo });
        out.push_str(&format!("  {mark} {}\n", item.text));
    }
    out
}

/// Print the checklist of an `init` run (stderr: it is guidance, not data).
pub fn print_init(cfg: &Config, outcome: &InitOutcome) {
    printer::note_raw(&render(
        "Done, and left to do:",
        &init_items(cfg, outcome),
        Decor::stderr(),
    ));
}

/// How a new app reaches the cluster, after `add-app` committed it (and pushed it, or not).
pub fn app_items(cfg: &Config, app: &str, pushed: bool) -> Vec<Item> {
    if pushed {
        vec![
            todo(format!(
                "Flux deploys {app} when it next polls the repository (every minute), then installs it in a few minutes"
            )),
            todo(
                "`homelab sync` asks Flux to deploy now, `homelab status` shows how far it got (`homelab add-app --wait` waits for it)".to_owned(),
            ),
        ]
    } else if cfg.git.url.is_empty() {
        vec![todo(format!(
            "Flux deploys {app} from a remote only: set git.url in homelab.yaml, then `homelab push` and `homelab bootstrap`"
        ))]
    } else {
        vec![todo(format!(
            "Flux deploys {app} after `homelab push`; then `homelab status` shows how far it got"
        ))]
    }
}

/// Print what happens next with a new app.
pub fn print_app(cfg: &Config, app: &str, pushed: bool) {
    printer::note_raw(&render(
        "Next:",
        &app_items(cfg, app, pushed),
        Decor::stderr(),
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> Config {
        crate::catalog::parse_config(include_str!("../../examples/homelab.yaml")).expect("example")
    }

    fn outcome(push: Push, bootstrap: Bootstrap) -> InitOutcome {
        InitOutcome {
            dir: PathBuf::from("/home/me/lab"),
            commit: Some("0123456789abcdef".to_owned()),
            push,
            bootstrap,
            age_key: Some(AgeKeyFile {
                file: PathBuf::from("/home/me/.config/homelab/age/age1xyz.agekey"),
                recipient: "age1xyz".to_owned(),
            }),
        }
    }

    fn text(items: &[Item]) -> String {
        items
            .iter()
            .map(|i| format!("{} {}\n", if i.done { "done" } else { "todo" }, i.text))
            .collect()
    }

    #[test]
    fn a_local_repository_is_told_to_set_git_url_not_to_push() {
        let cfg = cfg();
        assert!(cfg.git.url.is_empty());
        let items = text(&init_items(
            &cfg,
            &outcome(Push::NoRemote, Bootstrap::NoRemote),
        ));
        assert!(
            items.contains("done rendered and committed the repository in /home/me/lab (01234567)")
        );
        assert!(items.contains("todo skipped push: git.url is empty"));
        assert!(items.contains("skipped bootstrap: Flux needs git.url"));
        // Never "run `homelab push`" or a bare `homelab bootstrap` with nothing to push to.
        assert!(!items.contains("`homelab push` sends"));
        assert!(!items.contains("pushed to"));
    }

    #[test]
    fn after_a_push_the_user_is_not_told_to_push() {
        let mut cfg = cfg();
        cfg.git.url = "ssh://git@git.example.com/me/lab.git".to_owned();
        let items = text(&init_items(
            &cfg,
            &outcome(
                Push::Done,
                Bootstrap::Unreachable("no kubeconfig".to_owned()),
            ),
        ));
        assert!(items.contains("done pushed to ssh://git@git.example.com/me/lab.git"));
        assert!(!items.contains("homelab push"), "{items}");
        assert!(items.contains("skipped bootstrap: no kubeconfig;"));
        assert!(items.contains("disable: [traefik, servicelb]"));
        assert!(items.contains("export CLOUDFLARE_API_TOKEN before `homelab bootstrap`"));
    }

    #[test]
    fn a_bootstrapped_cluster_gets_no_bootstrap_steps() {
        let mut cfg = cfg();
        cfg.git.url = "https://git.example.com/me/lab.git".to_owned();
        let items = text(&init_items(&cfg, &outcome(Push::Done, Bootstrap::Done)));
        assert!(items.contains("done bootstrapped Flux"));
        assert!(!items.contains("homelab bootstrap"), "{items}");
        assert!(!items.contains("k3s"));
        assert!(!items.contains("export CLOUDFLARE") && !items.contains("export HOMELAB"));
        // What is left either way: DNS, storage, the key.
        assert!(items.contains("todo point *.example.com at 192.168.1.240"));
        assert!(items.contains("todo the NFS server 192.168.1.5 must export /srv/nfs/kubernetes"));
        assert!(items.contains(
            "todo back up the age key /home/me/.config/homelab/age/age1xyz.agekey (public key age1xyz): without it the app secrets in git cannot be decrypted"
        ));
        assert!(items.contains("`homelab key export FILE` writes a copy"));
    }

    #[test]
    fn the_credentials_follow_the_remote_and_the_challenge() {
        let mut cfg = cfg();
        cfg.git.url = "https://git.example.com/me/lab.git".to_owned();
        cfg.certificates.challenge = Challenge::Http01;
        let items = text(&init_items(
            &cfg,
            &outcome(Push::Declined, Bootstrap::Declined),
        ));
        assert!(items.contains("export HOMELAB_GIT_TOKEN before `homelab bootstrap`"));
        assert!(!items.contains("CLOUDFLARE"));
        assert!(items.contains("HTTP-01 needs port 80 reachable from the internet"));
        assert!(items.contains("skipped push (--no-push)"));
        assert!(!items.contains("cannot be pulled by Flux"));
    }

    #[test]
    fn a_local_path_remote_cannot_be_bootstrapped() {
        let mut cfg = cfg();
        cfg.git.url = "/srv/git/lab.git".to_owned();
        let why = crate::bootstrap::cluster_secrets::parse_remote("/srv/git/lab.git")
            .expect_err("a path")
            .message;
        let items = text(&init_items(
            &cfg,
            &outcome(Push::Done, Bootstrap::Unpullable(why.to_owned())),
        ));
        assert!(items.contains(&format!("skipped bootstrap: {why}; set a git.url")));
        assert_eq!(items.matches("path on this machine").count(), 1, "{items}");
        // Another reason stopped the bootstrap first: the URL still needs fixing.
        for other in [
            Bootstrap::Declined,
            Bootstrap::Unreachable("no kubeconfig".to_owned()),
        ] {
            let items = text(&init_items(&cfg, &outcome(Push::Done, other)));
            assert!(
                items.contains(&format!("{why}; set an ssh:// or https:// URL")),
                "{items}"
            );
        }
    }

    #[test]
    fn failures_are_reported_with_their_cause() {
        let mut cfg = cfg();
        cfg.git.url = "ssh://git@git.example.com/me/lab.git".to_owned();
        let mut o = outcome(
            Push::Failed("connection refused".to_owned()),
            Bootstrap::NotPushed,
        );
        o.age_key = None;
        o.commit = None;
        let items = text(&init_items(&cfg, &o));
        assert!(items.contains("push failed: connection refused;"));
        assert!(items.contains("already matches homelab.yaml"));
        assert!(!items.contains("age key"));
        let o = outcome(Push::Done, Bootstrap::Failed("timed out".to_owned()));
        assert!(text(&init_items(&cfg, &o)).contains("bootstrap failed: timed out;"));
        let o = outcome(Push::Done, Bootstrap::Declined);
        assert!(text(&init_items(&cfg, &o)).contains("skipped bootstrap (--no-bootstrap)"));
    }

    #[test]
    fn an_app_is_deployed_after_the_push() {
        let mut cfg = cfg();
        assert!(text(&app_items(&cfg, "nextcloud", false)).contains("set git.url"));
        cfg.git.url = "ssh://git@git.example.com/me/lab.git".to_owned();
        let not_pushed = text(&app_items(&cfg, "nextcloud", false));
        assert!(not_pushed.contains("after `homelab push`"));
        let pushed = text(&app_items(&cfg, "nextcloud", true));
        assert!(pushed.contains("when it next polls"));
        assert!(pushed.contains("homelab status"));
        assert!(pushed.contains("--wait"));
    }

    #[test]
    fn rendering_marks_done_and_todo() {
        let items = [done("a".to_owned()), todo("b".to_owned())];
        assert_eq!(
            render("Title", &items, Decor::Plain),
            "\nTitle\n  [ok] a\n  [todo] b\n"
        );
        let fancy = render("Title", &items, Decor::Fancy);
        assert!(fancy.contains("✓\x1b[0m a\n  • b\n"), "{fancy:?}");
    }
}
