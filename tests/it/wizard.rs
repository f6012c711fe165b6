//! The `homelab init` wizard, driven for real through a pseudo-terminal: what the user sees,
//! the exit status, the files written, and the draft kept between runs.

use std::path::{Path, PathBuf};
use std::process::Command;

use rexpect::process::WaitStatus;
use rexpect::session::{PtySession, spawn_command};

use crate::support::{flux_install, homelab, init_example};

const ENTER: &str = "\r";
const DOWN: &str = "\x1b[B";
const UP: &str = "\x1b[A";
const SPACE: &str = " ";
const SHOW_CURSOR: &str = "\x1b[?25h";

/// A place for one test: the repository to create, and private HOME and state directories
/// (drafts must never land in the real ~/.local/state).
struct Lab {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    dir: PathBuf,
}

impl Lab {
    fn new() -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path().canonicalize().expect("canonical tempdir");
        std::fs::create_dir_all(root.join("home")).expect("home");
        Self {
            _tmp: tmp,
            dir: root.join("lab"),
            root,
        }
    }

    fn state(&self) -> PathBuf {
        self.root.join("state")
    }

    /// `homelab init` on a terminal, never pushing nor bootstrapping.
    fn wizard(&self) -> PtySession {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_homelab"));
        cmd.args(["init", "--no-push", "--no-bootstrap", "--dir"])
            .arg(&self.dir)
            .env("NO_COLOR", "1")
            .env("TERM", "xterm")
            .env("HOME", self.root.join("home"))
            .env("XDG_STATE_HOME", self.state())
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("HOMELAB_AGE_KEY_FILE")
            .env("HOMELAB_FLUX_MANIFESTS", flux_install())
            .env_remove("KUBECONFIG");
        spawn_command(cmd, Some(60_000)).expect("spawn homelab init in a pty")
    }

    /// The draft files kept for this test.
    fn drafts(&self) -> Vec<PathBuf> {
        let dir = self.state().join("homelab/drafts");
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Vec::new();
        };
        entries.map(|e| e.expect("entry").path()).collect()
    }

    fn config(&self) -> homelab::config::Config {
        let text = std::fs::read_to_string(self.dir.join("homelab.yaml")).expect("homelab.yaml");
        homelab::catalog::parse_config(&text).expect("a valid homelab.yaml")
    }
}

/// Wait for `text`, returning everything shown before it. The session reads the terminal
/// byte by byte, one char each, so a needle is spelled the same way.
fn expect(p: &mut PtySession, text: &str) -> String {
    let needle: String = text.bytes().map(char::from).collect();
    p.exp_string(&needle)
        .unwrap_or_else(|e| panic!("waiting for {text:?}: {e}"))
}

/// Wait for a prompt, then type a line.
fn answer(p: &mut PtySession, prompt: &str, line: &str) {
    expect(p, prompt);
    p.send_line(line).expect("type");
}

/// Wait for a prompt, then press keys (selects and confirms).
fn keys(p: &mut PtySession, prompt: &str, keys: &str) {
    expect(p, prompt);
    p.send(keys).expect("type");
    p.flush().expect("flush");
}

/// Wait for the end, returning the output since the last expectation and the exit code.
fn finish(p: &mut PtySession) -> (String, i32) {
    let rest = p.exp_eof().expect("the wizard ends");
    let code = match p.process().wait().expect("exit status") {
        WaitStatus::Exited(_, code) => code,
        other => panic!("homelab did not exit normally: {other:?}\n{rest}"),
    };
    (rest, code)
}

fn commit_count(dir: &Path) -> usize {
    let repo = git2::Repository::open(dir).expect("a git repository");
    let mut walk = repo.revwalk().expect("revwalk");
    walk.push_head().expect("HEAD");
    walk.count()
}

fn head(dir: &Path) -> git2::Oid {
    let repo = git2::Repository::open(dir).expect("a git repository");
    repo.head().expect("HEAD").target().expect("a commit")
}

fn clean(dir: &Path) -> bool {
    let repo = git2::Repository::open(dir).expect("a git repository");
    repo.statuses(None).expect("status").is_empty()
}

/// The first questions, up to node 1's role: node nuc1 at 192.168.1.10.
fn until_node_role(p: &mut PtySession, domain: &str) {
    answer(p, "Cluster name", "");
    answer(p, "Domain", domain);
    answer(p, "Node 1 name", "nuc1");
    answer(p, "Node 1 IP address", "192.168.1.10");
}

/// The first questions, up to a single control-plane node nuc1 at 192.168.1.10.
fn first_node(p: &mut PtySession, domain: &str) {
    until_node_role(p, domain);
    keys(p, "Node 1 role", ENTER);
    keys(p, "Add another node?", "n");
}

/// The questions after the certificate challenge (DNS-01) up to the git remote, at their
/// defaults, with the NFS server `nas`.
fn acme_and_storage(p: &mut PtySession) {
    answer(p, "Email for Let's Encrypt", "");
    keys(p, "Let's Encrypt server", ENTER);
    keys(p, "DNS provider", ENTER);
    keys(p, "NFS provisioner", ENTER);
    answer(p, "NFS server", "nas");
    answer(p, "NFS export path", "");
    answer(p, "StorageClass name", "");
    keys(p, "default StorageClass?", "y");
}

/// The questions after the nodes up to the Flux components, all at their defaults.
fn until_flux(p: &mut PtySession) {
    answer(p, "LAN (node) CIDR", "");
    answer(p, "Load-balancer (MetalLB) addresses", "");
    answer(p, "Ingress controller address", "");
    keys(p, "Ingress controller", ENTER);
    keys(p, "Certificates", ENTER);
    acme_and_storage(p);
    answer(p, "Git remote URL", "");
    answer(p, "Git branch", "");
}

/// The questions after the nodes, all at their defaults (DNS-01 with Cloudflare).
fn rest_by_default(p: &mut PtySession) {
    until_flux(p);
    keys(p, "Flux components", ENTER);
}

#[test]
fn obvious_intent_is_taken_shown_and_written() {
    let lab = Lab::new();
    let mut p = lab.wizard();

    answer(&mut p, "Cluster name", "");
    answer(&mut p, "Domain", "not a domain!");
    expect(&mut p, "is not a valid domain");
    p.send_line("Home.Example.com").expect("type");
    expect(&mut p, "→ home.example.com");
    expect(&mut p, "Kubernetes node names (on k3s, their hostnames)");
    answer(&mut p, "Node 1 name", "NUC1");
    expect(&mut p, "→ nuc1");
    answer(&mut p, "Node 1 IP address", "192,168,1,10");
    expect(&mut p, "→ 192.168.1.10");
    keys(&mut p, "Node 1 role", ENTER);
    keys(&mut p, "Add another node?", "y");
    // The next name continues the series.
    answer(&mut p, "Node 2 name (its Kubernetes node name) [nuc2]", "");
    answer(&mut p, "Node 2 IP address [192.168.1.11]", "");
    keys(&mut p, "Node 2 role", ENTER);
    keys(&mut p, "Add another node?", "n");
    answer(&mut p, "LAN (node) CIDR", "192.168.1.1/24");
    expect(&mut p, "→ 192.168.1.0/24");
    expect(&mut p, "outside your router's DHCP range");
    answer(
        &mut p,
        "Load-balancer (MetalLB) addresses",
        "192.168.1.240-250",
    );
    expect(&mut p, "→ 192.168.1.240-192.168.1.250");
    answer(
        &mut p,
        "Ingress controller address (inside the pool; point *.home.example.com at it in DNS)",
        "",
    );
    keys(&mut p, "Ingress controller", ENTER);
    expect(&mut p, "Certificates");
    keys(
        &mut p,
        "selfsigned - A self-signed internal CA: nothing leaves the LAN; browsers warn until you trust it",
        ENTER,
    );
    answer(&mut p, "Email for Let's Encrypt", "");
    keys(&mut p, "Let's Encrypt server", ENTER);
    expect(&mut p, "DNS provider");
    keys(
        &mut p,
        "cloudflare (credentials from CLOUDFLARE_API_TOKEN)",
        ENTER,
    );
    expect(
        &mut p,
        "reads the cloudflare credentials from CLOUDFLARE_API_TOKEN",
    );
    keys(&mut p, "NFS provisioner", ENTER);
    // Server and export typed together: the path question is answered with it.
    answer(&mut p, "NFS server", "NAS:/volume1/k8s");
    expect(&mut p, "→ server nas, export path /volume1/k8s");
    answer(&mut p, "StorageClass name", "");
    keys(&mut p, "default StorageClass?", "y");
    expect(
        &mut p,
        "a local path or file:// URL can be pushed to, but not bootstrapped from",
    );
    answer(&mut p, "Git remote URL", "");
    answer(&mut p, "Git branch", "");
    keys(&mut p, "Flux components", ENTER);
    expect(&mut p, "Summary (homelab.yaml)");
    keys(&mut p, "Write this homelab?", ENTER);
    let checklist = expect(&mut p, "`homelab doctor` checks all of this");
    let (_, code) = finish(&mut p);
    assert_eq!(code, 0, "{checklist}");
    for line in [
        "Done, and left to do:",
        "rendered and committed the repository in",
        "skipped push: git.url is empty",
        "skipped bootstrap (--no-bootstrap)",
        "point *.home.example.com at 192.168.1.240 in your DNS",
        "export CLOUDFLARE_API_TOKEN before `homelab bootstrap`",
        "disable: [traefik, servicelb]",
        "the NFS server nas must export /volume1/k8s",
        "back up the age key",
    ] {
        assert!(
            checklist.contains(line),
            "checklist lacks {line:?}:\n{checklist}"
        );
    }
    // Never the advice to push a repository that has nowhere to go.
    assert!(!checklist.contains("`homelab push` sends"), "{checklist}");

    let cfg = lab.config();
    assert_eq!(cfg.cluster.domain, "home.example.com");
    let nodes: Vec<(&str, &str)> = cfg
        .nodes
        .iter()
        .map(|n| (n.name.as_str(), n.address.as_str()))
        .collect();
    assert_eq!(nodes, [("nuc1", "192.168.1.10"), ("nuc2", "192.168.1.11")]);
    assert_eq!(cfg.network.node_cidr, "192.168.1.0/24");
    assert_eq!(
        cfg.network.loadbalancer_pool,
        ["192.168.1.240-192.168.1.250"]
    );
    assert_eq!(cfg.network.ingress_address, "192.168.1.240");
    assert_eq!(cfg.certificates.email, "admin@home.example.com");
    assert_eq!(cfg.storage.nfs_server, "nas");
    assert_eq!(cfg.storage.nfs_path, "/volume1/k8s");
    assert!(
        lab.dir
            .join("clusters/homelab/flux-system/gotk-sync.yaml")
            .is_file()
    );
    assert_eq!(commit_count(&lab.dir), 1);
    assert!(clean(&lab.dir));
    // The repository holds the answers: no draft is left behind.
    assert!(lab.drafts().is_empty(), "{:?}", lab.drafts());

    // The same answers again change nothing: same commit, clean tree.
    let before = head(&lab.dir);
    homelab()
        .args(["init", "--no-push", "--no-bootstrap", "--config"])
        .arg(lab.dir.join("homelab.yaml"))
        .dir(&lab.dir)
        .ok();
    assert_eq!(head(&lab.dir), before);
    assert!(clean(&lab.dir));
}

#[test]
fn rules_are_checked_where_each_answer_is_given_in_the_wizards_words() {
    let lab = Lab::new();
    let mut p = lab.wizard();
    until_node_role(&mut p, "lab.example.com");
    // A worker only: refused as soon as the list is complete.
    keys(&mut p, "Node 1 role", &format!("{DOWN}{ENTER}"));
    keys(&mut p, "Add another node?", "y");
    answer(&mut p, "Node 2 name", "");
    answer(&mut p, "Node 2 IP address", "192.168.1.10");
    let shown = expect(&mut p, "192.168.1.10 is already node 1's address");
    assert!(
        !shown.contains("nodes["),
        "a key path in the wizard:\n{shown}"
    );
    p.send_line("192.168.1.11").expect("type");
    keys(&mut p, "Node 2 role", ENTER);
    // nuc2 is the default of the role question: a worker, like nuc1.
    keys(&mut p, "Add another node?", "n");
    expect(
        &mut p,
        "None of these nodes runs the Kubernetes control plane, and one must",
    );
    keys(
        &mut p,
        "Which node runs the Kubernetes control plane?",
        ENTER,
    );
    answer(&mut p, "LAN (node) CIDR", "");
    // The pool may not take a node's address; said in words, not key paths.
    answer(
        &mut p,
        "Load-balancer (MetalLB) addresses",
        "192.168.1.5-192.168.1.15",
    );
    let shown = expect(
        &mut p,
        "Node 1's address: 192.168.1.10 is inside the load-balancer pool",
    );
    assert!(!shown.contains("network."), "{shown}");
    p.send_line("192.168.1.200-210").expect("type");
    answer(&mut p, "Ingress controller address", "");
    // envoy-gateway, then HTTP-01: a pair that cannot work, refused at the choice.
    keys(&mut p, "Ingress controller", &format!("{DOWN}{ENTER}"));
    keys(&mut p, "Certificates", &format!("{DOWN}{ENTER}"));
    expect(&mut p, "http01 cannot issue the wildcard certificate");
    keys(&mut p, "Certificates", &format!("{UP}{ENTER}"));
    acme_and_storage(&mut p);
    // A path is a valid remote to push to; the wizard says Flux cannot pull from it.
    answer(&mut p, "Git remote URL", "/srv/git/lab.git");
    expect(&mut p, "cannot be pulled by Flux");
    answer(&mut p, "Git branch", "");
    // Without helm-controller: refused, and asked again with the selection kept.
    keys(
        &mut p,
        "Flux components",
        &format!("{DOWN}{DOWN}{SPACE}{ENTER}"),
    );
    expect(&mut p, "must include helm-controller");
    keys(
        &mut p,
        "Flux components",
        &format!("{DOWN}{DOWN}{SPACE}{ENTER}"),
    );
    keys(&mut p, "Write this homelab?", ENTER);
    let (out, code) = finish(&mut p);
    assert_eq!(code, 0, "{out}");

    let cfg = lab.config();
    let roles: Vec<_> = cfg.nodes.iter().map(|n| n.role).collect();
    use homelab::config::NodeRole;
    assert_eq!(roles, [NodeRole::ControlPlane, NodeRole::Worker]);
    assert_eq!(cfg.nodes[1].address, "192.168.1.11");
    assert_eq!(
        cfg.network.loadbalancer_pool,
        ["192.168.1.200-192.168.1.210"]
    );
    assert_eq!(
        cfg.ingress.controller,
        homelab::config::IngressController::EnvoyGateway
    );
    assert_eq!(
        cfg.certificates.challenge,
        homelab::config::Challenge::Dns01
    );
    assert_eq!(
        cfg.flux.components,
        [
            "source-controller",
            "kustomize-controller",
            "helm-controller",
            "notification-controller"
        ]
    );
    assert_eq!(cfg.git.url, "/srv/git/lab.git");
}

#[test]
fn ctrl_c_in_a_selection_aborts_cleanly_and_the_next_init_resumes() {
    let lab = Lab::new();
    let mut p = lab.wizard();
    until_node_role(&mut p, "lab.example.com");
    expect(&mut p, "Node 1 role");
    p.send_control('c').expect("ctrl-c");
    let shown = expect(&mut p, "error: aborted; nothing was written");
    // The selection hid the cursor; it is visible again.
    assert!(
        shown.contains(SHOW_CURSOR),
        "cursor left hidden:\n{shown:?}"
    );
    let hint = expect(&mut p, "`homelab init` offers to resume them");
    assert!(hint.contains("your answers are saved in"), "{hint}");
    let (_, code) = finish(&mut p);
    assert_eq!(code, 2);
    assert!(!lab.dir.exists(), "init wrote into {}", lab.dir.display());
    let drafts = lab.drafts();
    assert_eq!(drafts.len(), 1, "{drafts:?}");
    assert!(hint.contains(&drafts[0].display().to_string()), "{hint}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&drafts[0])
            .expect("draft")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let draft = std::fs::read_to_string(&drafts[0]).expect("draft");
    assert!(
        draft.contains("lab.example.com") && draft.contains("nuc1"),
        "{draft}"
    );

    // The next init offers the draft and continues at the question it stopped at.
    let mut p = lab.wizard();
    expect(&mut p, "stopped after 4 answers");
    keys(&mut p, "Resume where it stopped?", "y");
    let skipped = expect(&mut p, "Node 1 role");
    assert!(
        !skipped.contains("Domain (apps") && !skipped.contains("Node 1 name"),
        "answered questions asked again:\n{skipped}"
    );
    // The first node's role still defaults to control-plane.
    expect(&mut p, "> control-plane");
    p.send(ENTER).expect("type");
    p.flush().expect("flush");
    keys(&mut p, "Add another node?", "n");
    rest_by_default(&mut p);
    keys(&mut p, "Write this homelab?", ENTER);
    let (out, code) = finish(&mut p);
    assert_eq!(code, 0, "{out}");
    let cfg = lab.config();
    assert_eq!(cfg.cluster.domain, "lab.example.com");
    assert_eq!(cfg.nodes[0].name, "nuc1");
    assert!(lab.drafts().is_empty(), "the draft outlived the write");
}

#[test]
fn ctrl_c_at_the_first_question_leaves_nothing_on_disk() {
    let lab = Lab::new();
    let mut p = lab.wizard();
    expect(&mut p, "Cluster name");
    p.send_control('c').expect("ctrl-c");
    let shown = expect(&mut p, "error: aborted; nothing was written");
    let (rest, code) = finish(&mut p);
    assert_eq!(code, 2, "{shown}{rest}");
    // Nothing answered, nothing saved, nothing to resume.
    assert!(!rest.contains("saved in"), "{rest}");
    assert!(!lab.dir.exists());
    assert!(lab.drafts().is_empty());
}

#[test]
fn a_failure_at_the_end_asks_again_only_the_offending_answer() {
    let lab = Lab::new();
    let mut p = lab.wizard();
    first_node(&mut p, "lab.example.com");
    until_flux(&mut p);
    expect(&mut p, "Flux components");
    p.send_control('c').expect("ctrl-c");
    let (_, code) = finish(&mut p);
    assert_eq!(code, 2);

    // Answers that no longer fit together (edited, or from an older homelab): the ingress
    // address outside the pool.
    let drafts = lab.drafts();
    assert_eq!(drafts.len(), 1);
    let draft = std::fs::read_to_string(&drafts[0]).expect("draft");
    let ingress = "ingress_address: \"192.168.1.240\"";
    assert!(draft.contains(ingress), "{draft}");
    std::fs::write(
        &drafts[0],
        draft.replace(ingress, "ingress_address: \"192.168.1.100\""),
    )
    .expect("edit draft");

    let mut p = lab.wizard();
    keys(&mut p, "Resume where it stopped?", "y");
    keys(&mut p, "Flux components", ENTER);
    let asked = expect(&mut p, "192.168.1.100 is not inside the load-balancer pool");
    answer(&mut p, "Ingress controller address", "");
    expect(&mut p, "192.168.1.100 is not inside the load-balancer pool");
    p.send_line("192.168.1.241").expect("type");
    let between = expect(&mut p, "Summary (homelab.yaml)");
    for other in [
        "Domain (apps",
        "Node 1 name",
        "LAN (node) CIDR",
        "NFS server",
    ] {
        assert!(
            !asked.contains(other) && !between.contains(other),
            "{other} asked again"
        );
    }
    keys(&mut p, "Write this homelab?", ENTER);
    let (out, code) = finish(&mut p);
    assert_eq!(code, 0, "{out}");
    assert_eq!(lab.config().network.ingress_address, "192.168.1.241");
}

#[test]
fn init_starts_from_an_existing_homelab_yaml() {
    let lab = Lab::new();
    init_example()
        .dir(&lab.dir)
        .env("HOME", lab.root.join("home"))
        .ok();
    assert_eq!(commit_count(&lab.dir), 1);

    // Its values are the defaults: Enter through every question changes nothing.
    let walk = |p: &mut PtySession, domain: &str| {
        expect(p, "homelab.yaml exists: its values are the defaults");
        answer(p, "Cluster name [homelab]", "");
        answer(
            p,
            "Domain (apps are served at <app>.<domain>) [example.com]",
            domain,
        );
        answer(p, "Node 1 name (its Kubernetes node name) [node-1]", "");
        answer(p, "Node 1 IP address [192.168.1.10]", "");
        keys(p, "Node 1 role", ENTER);
        keys(p, "Add another node? [Y/n]", ENTER);
        answer(p, "Node 2 name (its Kubernetes node name) [node-2]", "");
        answer(p, "Node 2 IP address [192.168.1.11]", "");
        keys(p, "Node 2 role", ENTER);
        keys(p, "Add another node? [y/N]", ENTER);
        answer(p, "LAN (node) CIDR [192.168.1.0/24]", "");
        answer(
            p,
            "Load-balancer (MetalLB) addresses, outside the DHCP range: ranges a-b or CIDRs [192.168.1.240-192.168.1.250]",
            "",
        );
        answer(p, "Ingress controller address", "");
        keys(p, "Ingress controller", ENTER);
        keys(p, "Certificates", ENTER);
        answer(
            p,
            "Email for Let's Encrypt (expiry warnings) [admin@example.com]",
            "",
        );
        keys(p, "Let's Encrypt server", ENTER);
        keys(p, "DNS provider", ENTER);
        keys(p, "NFS provisioner", ENTER);
        answer(
            p,
            "NFS server (IP or hostname; server:/export sets the path too) [192.168.1.5]",
            "",
        );
        answer(p, "NFS export path [/srv/nfs/kubernetes]", "");
        answer(p, "StorageClass name [nfs]", "");
        keys(p, "default StorageClass?", ENTER);
        answer(p, "Git remote URL", "");
        answer(p, "Git branch [main]", "");
        keys(p, "Flux components", ENTER);
    };
    let mut p = lab.wizard();
    walk(&mut p, "");
    expect(&mut p, "These are the values of the existing homelab.yaml.");
    keys(&mut p, "Write this homelab?", ENTER);
    let (out, code) = finish(&mut p);
    assert_eq!(code, 0, "{out}");
    assert_eq!(commit_count(&lab.dir), 1, "unchanged answers made a commit");
    assert!(clean(&lab.dir));

    // One changed answer: shown, confirmed, written and rendered in one more commit. The
    // file is edited in place: the user's comments stay, only the domain changes.
    let config = lab.dir.join("homelab.yaml");
    let text = std::fs::read_to_string(&config).expect("read");
    assert!(text.contains("\n  domain: example.com\n"), "{text}");
    let commented = format!(
        "{}# the NAS is in the garage\n",
        text.replace(
            "\n  domain: example.com\n",
            "\n  domain: example.com   # bought in 2019\n",
        )
        .replace("\nnodes:\n", "\n# both NUCs sit on the shelf\nnodes:\n")
    );
    std::fs::write(&config, &commented).expect("comment");
    let mut p = lab.wizard();
    walk(&mut p, "lab.example.org");
    expect(
        &mut p,
        "This changes cluster.domain in the existing homelab.yaml (edited in place: its comments and layout stay)",
    );
    keys(&mut p, "Write this homelab?", ENTER);
    let (out, code) = finish(&mut p);
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("not kept"), "{out}");
    assert_eq!(
        std::fs::read_to_string(&config).expect("read"),
        commented.replace(
            "domain: example.com   # bought in 2019",
            "domain: lab.example.org # bought in 2019",
        ),
        "only the domain changed"
    );
    assert_eq!(lab.config().cluster.domain, "lab.example.org");
    assert_eq!(commit_count(&lab.dir), 2);
    assert!(clean(&lab.dir));
}

#[test]
fn an_answer_can_be_changed_before_writing() {
    let lab = Lab::new();
    let mut p = lab.wizard();
    first_node(&mut p, "lab.example.com");
    rest_by_default(&mut p);
    // "change an answer", then the second entry: the domain.
    keys(&mut p, "Write this homelab?", &format!("{DOWN}{ENTER}"));
    keys(&mut p, "Which answer?", &format!("{DOWN}{ENTER}"));
    answer(
        &mut p,
        "Domain (apps are served at <app>.<domain>) [lab.example.com]",
        "home.example.org",
    );
    expect(&mut p, "domain: home.example.org");
    keys(&mut p, "Write this homelab?", ENTER);
    let (out, code) = finish(&mut p);
    assert_eq!(code, 0, "{out}");
    assert_eq!(lab.config().cluster.domain, "home.example.org");
}

#[test]
fn without_a_terminal_or_config_init_refuses() {
    let tmp = tempfile::tempdir().expect("tempdir");
    homelab()
        .args(["init", "--no-push", "--no-bootstrap"])
        .dir(tmp.path())
        .expect_code(2)
        .stderr_has("--config");
    for dont_ask in ["--yes", "-y", "--non-interactive"] {
        homelab()
            .args(["init", dont_ask])
            .dir(tmp.path())
            .expect_code(2)
            .stderr_has("--yes (don't ask) needs --config FILE");
    }
    assert_eq!(std::fs::read_dir(tmp.path()).expect("read").count(), 0);
}

/// `--yes` is the one spelling of "don't ask"; `--non-interactive` still works, unlisted.
#[test]
fn yes_is_the_one_spelling_of_dont_ask() {
    for command in ["init", "add-app", "remove-app", "bootstrap"] {
        let help = homelab().args([command, "--help"]).ok().stdout();
        assert!(help.contains("-y, --yes"), "{command} --help:\n{help}");
        assert!(
            !help.contains("non-interactive"),
            "{command} --help:\n{help}"
        );
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    for args in [
        ["add-app", "nextcloud", "--non-interactive"],
        ["remove-app", "nextcloud", "--non-interactive"],
        ["add-app", "nextcloud", "--yes"],
        ["remove-app", "nextcloud", "-y"],
    ] {
        // Parsed (no homelab.yaml here is the error), not refused as an unknown flag.
        homelab()
            .args(args)
            .dir(tmp.path())
            .expect_code(2)
            .stderr_has("homelab.yaml not found");
    }
}
