//! `homelab bootstrap` against a real kube-apiserver + etcd (no controllers: where Flux's
//! controllers would report status, the tests write it themselves), a real sshd for the
//! host-key scan, and the real Flux install manifest.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use homelab::kube::apply::{ApplyOptions, Outcome, apply_documents, parse_documents};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams};
use serde_json::{Value, json};

use crate::support::apiproxy::ApiProxy;
use crate::support::envtest::ApiServer;
use crate::support::{self, homelab};

const HTTPS_URL: &str = "https://git.example.invalid/me/homelab.git";
const TOKEN: &str = "s3cr3t-token-value";
const CF_TOKEN: &str = "cloudflare-token-value";

/// A homelab repository with a rendered flux-system directory (the fixture install manifest
/// as gotk-components.yaml), committed, and a HOME for the run.
struct Repo {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    home: PathBuf,
}

fn gotk_sync(url: &str) -> String {
    format!(
        "---\napiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: flux-system\n  namespace: flux-system\nspec:\n  interval: 1m0s\n  ref:\n    branch: main\n  secretRef:\n    name: flux-system\n  url: {url}\n---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: flux-system\n  namespace: flux-system\nspec:\n  interval: 10m0s\n  path: ./clusters/homelab\n  prune: true\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n"
    )
}

fn repo(url: &str, challenge: &str) -> Repo {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("repo");
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).expect("home");
    let example = std::fs::read_to_string(support::example_config()).expect("example config");
    let config = example
        .replace("url: \"\"", &format!("url: {url:?}"))
        .replace("challenge: dns01", &format!("challenge: {challenge}"));
    assert!(config.contains(url), "example config changed shape");
    let flux = dir.join("clusters/homelab/flux-system");
    std::fs::create_dir_all(&flux).expect("flux dir");
    std::fs::write(dir.join("homelab.yaml"), config).expect("config");
    std::fs::copy(support::flux_install(), flux.join("gotk-components.yaml")).expect("copy");
    std::fs::write(flux.join("gotk-sync.yaml"), gotk_sync(url)).expect("sync");
    std::fs::write(
        flux.join("kustomization.yaml"),
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - gotk-components.yaml\n  - gotk-sync.yaml\n",
    )
    .expect("kustomization");
    // The repository's age key, as init creates it: .sops.yaml names it, the key file lives
    // under the private HOME (bootstrap always applies it as flux-system/sops-age).
    let identity = age::x25519::Identity::generate();
    let recipient = identity.to_public().to_string();
    std::fs::write(
        dir.join(".sops.yaml"),
        homelab::render::apps::sops_config(&recipient),
    )
    .expect(".sops.yaml");
    let keys = home.join(".config/homelab/age");
    std::fs::create_dir_all(&keys).expect("age dir");
    let key_file = keys.join(format!("{recipient}.agekey"));
    {
        use age::secrecy::ExposeSecret as _;
        std::fs::write(
            &key_file,
            format!(
                "# public key: {recipient}\n{}\n",
                identity.to_string().expose_secret()
            ),
        )
        .expect("age key");
    }
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).expect("mode");
    let git = homelab::git::open_or_init(&dir, "main").expect("git init");
    homelab::git::commit_all(&git, "homelab").expect("commit");
    Repo {
        _tmp: tmp,
        dir,
        home,
    }
}

impl Repo {
    /// `homelab bootstrap` in this repository against `kubeconfig`, with a private HOME.
    fn bootstrap(&self, kubeconfig: &Path) -> support::Homelab {
        homelab()
            .dir(&self.dir)
            .arg("bootstrap")
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .env("HOME", &self.home)
            .env("XDG_CONFIG_HOME", self.home.join(".config"))
            .env_remove("HOMELAB_AGE_KEY_FILE")
            .env_remove("CLOUDFLARE_API_TOKEN")
    }

    fn head(&self) -> String {
        let git = git2::Repository::open(&self.dir).expect("open");
        git.head()
            .expect("head")
            .peel_to_commit()
            .expect("commit")
            .id()
            .to_string()
    }

    /// The repository's age key (the file `repo` wrote), as the sops-age Secret must hold it.
    fn write_age_key(&self) -> Vec<u8> {
        let keys = self.home.join(".config/homelab/age");
        let file = std::fs::read_dir(&keys)
            .expect("age dir")
            .next()
            .expect("a key")
            .expect("entry")
            .path();
        std::fs::read(file).expect("age key")
    }
}

fn install_docs() -> Vec<Value> {
    let text = std::fs::read_to_string(support::flux_install()).expect("install.yaml");
    let mut docs = parse_documents(&text).expect("parse install.yaml");
    docs.extend(parse_documents(&gotk_sync(HTTPS_URL)).expect("parse sync"));
    docs
}

fn resource_of(doc: &Value) -> ApiResource {
    let api_version = doc["apiVersion"].as_str().expect("apiVersion");
    let kind = doc["kind"].as_str().expect("kind");
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let plural = match kind {
        "NetworkPolicy" => "networkpolicies".to_owned(),
        "GitRepository" => "gitrepositories".to_owned(),
        "ResourceQuota" => "resourcequotas".to_owned(),
        other => format!("{}s", other.to_lowercase()),
    };
    ApiResource::from_gvk_with_plural(
        &kube::core::GroupVersionKind::gvk(group, version, kind),
        &plural,
    )
}

async fn get(client: &kube::Client, doc: &Value) -> Option<DynamicObject> {
    let ar = resource_of(doc);
    let name = doc["metadata"]["name"].as_str().expect("name");
    let api: Api<DynamicObject> = match doc["metadata"]["namespace"].as_str() {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &ar),
        None => Api::all_with(client.clone(), &ar),
    };
    api.get_opt(name).await.expect("get")
}

/// name → resourceVersion of every object of the install and sync manifests.
async fn versions(client: &kube::Client) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for doc in install_docs() {
        let obj = get(client, &doc)
            .await
            .unwrap_or_else(|| panic!("missing {doc}"));
        out.insert(
            format!("{}/{}", doc["kind"], doc["metadata"]["name"]),
            obj.metadata.resource_version.expect("resourceVersion"),
        );
    }
    out
}

async fn secret_data(client: &kube::Client, ns: &str, name: &str) -> BTreeMap<String, Vec<u8>> {
    let api: Api<Secret> = Api::namespaced(client.clone(), ns);
    let secret = api
        .get_opt(name)
        .await
        .expect("get secret")
        .unwrap_or_else(|| panic!("Secret {ns}/{name} missing"));
    assert_eq!(secret.type_.as_deref(), Some("Opaque"));
    secret
        .data
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.0))
        .collect()
}

async fn namespace_exists(client: &kube::Client, name: &str) -> bool {
    let api: Api<Namespace> = Api::all(client.clone());
    api.get_opt(name).await.expect("get namespace").is_some()
}

async fn crd_exists(client: &kube::Client, name: &str) -> bool {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    api.get_opt(name).await.expect("get crd").is_some()
}

/// A kubeconfig like `from`, pointing at a port where nothing listens.
fn unreachable_kubeconfig(from: &Path, url: &str, dir: &Path) -> PathBuf {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let text = std::fs::read_to_string(from).expect("kubeconfig");
    assert!(text.contains(url));
    let path = dir.join("unreachable.kubeconfig");
    std::fs::write(
        &path,
        text.replace(url, &format!("https://127.0.0.1:{port}")),
    )
    .expect("write");
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fresh_bootstrap_applies_everything_and_a_rerun_changes_nothing() {
    let server = ApiServer::start();
    let client = server.client().await;
    let repo = repo(HTTPS_URL, "dns01");
    let age = repo.write_age_key();
    // A user patch in flux-system/kustomization.yaml counts from the first apply; other
    // kustomize fields are left to Flux, with a note.
    std::fs::write(
        repo.dir.join("clusters/homelab/flux-system/kustomization.yaml"),
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - gotk-components.yaml\n  - gotk-sync.yaml\npatches:\n  - patch: |\n      - op: add\n        path: /spec/template/spec/containers/0/args/-\n        value: --concurrent=20\n    target:\n      kind: Deployment\n      name: (kustomize|helm)-controller\nimages:\n  - name: ghcr.io/fluxcd/source-controller\n    newTag: v0.0.0-not-applied\n",
    )
    .expect("kustomization");

    let run = repo
        .bootstrap(server.kubeconfig())
        .args(["--yes", "--no-wait"])
        .env("HOMELAB_GIT_TOKEN", TOKEN)
        .env("CLOUDFLARE_API_TOKEN", CF_TOKEN)
        .ok()
        .stderr_has("Cluster: context envtest at ")
        .stderr_has(server.url())
        .stdout_has("created    Namespace/flux-system")
        .stdout_has("created    CustomResourceDefinition/gitrepositories.source.toolkit.fluxcd.io")
        .stdout_has("created    GitRepository/flux-system/flux-system")
        .stdout_has("created    Secret/flux-system/flux-system")
        .stderr_has("note: bootstrap applies `resources` and `patches` only; images (in ");
    // The totals count the very objects listed above them.
    let listed = |run: &support::Run, outcome: &str| {
        run.stdout()
            .lines()
            .filter(|l| l.split_whitespace().next() == Some(outcome))
            .count()
    };
    let created = listed(&run, "created");
    let run = run
        .stderr_has(&format!(
            "Applied: {created} created, 0 configured, 0 unchanged"
        ))
        .stderr_has(&format!(
            "Flux components and credentials: {} objects",
            created - 2
        ));
    // Secrets never reach the output.
    for secret in [TOKEN, CF_TOKEN, "AGE-SECRET-KEY"] {
        assert!(!run.stdout().contains(secret) && !run.stderr().contains(secret));
    }

    // Every object exists and was applied by our field manager.
    for doc in install_docs() {
        let obj = get(&client, &doc)
            .await
            .unwrap_or_else(|| panic!("not applied: {}", doc["metadata"]["name"]));
        let managers: Vec<_> = obj
            .metadata
            .managed_fields
            .unwrap_or_default()
            .into_iter()
            .filter(|m| m.operation.as_deref() == Some("Apply"))
            .filter_map(|m| m.manager)
            .collect();
        assert!(
            managers.iter().any(|m| m == "homelab"),
            "{} {}: managers {managers:?}",
            doc["kind"],
            doc["metadata"]["name"]
        );
    }
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "flux-system");
    for (name, patched) in [
        ("kustomize-controller", true),
        ("helm-controller", true),
        ("source-controller", false),
    ] {
        let d = deployments.get(name).await.expect("deployment");
        let args = d.spec.expect("spec").template.spec.expect("pod").containers[0]
            .args
            .clone()
            .unwrap_or_default();
        assert_eq!(
            args.iter().any(|a| a == "--concurrent=20"),
            patched,
            "{name}: {args:?}"
        );
    }
    let source = deployments
        .get("source-controller")
        .await
        .expect("deployment");
    let image = source
        .spec
        .expect("spec")
        .template
        .spec
        .expect("pod")
        .containers[0]
        .image
        .clone()
        .unwrap_or_default();
    assert!(
        image.starts_with("ghcr.io/fluxcd/source-controller:v") && !image.contains("not-applied"),
        "{image}"
    );
    let git = secret_data(&client, "flux-system", "flux-system").await;
    assert_eq!(git.keys().collect::<Vec<_>>(), ["password", "username"]);
    assert_eq!(git["username"], b"git");
    assert_eq!(git["password"], TOKEN.as_bytes());
    let sops = secret_data(&client, "flux-system", "sops-age").await;
    assert_eq!(sops.keys().collect::<Vec<_>>(), ["age.agekey"]);
    assert_eq!(sops["age.agekey"], age);
    let cf = secret_data(&client, "cert-manager", "cloudflare-api-token").await;
    assert_eq!(cf.keys().collect::<Vec<_>>(), ["api-token"]);
    assert_eq!(cf["api-token"], CF_TOKEN.as_bytes());

    // A rerun (credentials no longer in the environment: the cluster's are kept) changes nothing.
    let before = versions(&client).await;
    let secrets_before = (
        secret_data(&client, "flux-system", "flux-system").await,
        secret_data(&client, "cert-manager", "cloudflare-api-token").await,
    );
    let rerun = repo
        .bootstrap(server.kubeconfig())
        .args(["--yes", "--no-wait"])
        .ok()
        .stderr_has("No changes: the cluster already matches")
        .stderr_has("keeping the existing git credentials");
    assert_eq!(
        rerun.stdout().trim(),
        "",
        "a rerun reports no changed objects"
    );
    assert_eq!(versions(&client).await, before, "resourceVersions changed");
    // `-v` lists every object, and the total is theirs.
    let verbose = repo
        .bootstrap(server.kubeconfig())
        .args(["--yes", "--no-wait", "-v"])
        .ok();
    // (The credentials kept from the first run are not applied again.)
    let unchanged = listed(&verbose, "unchanged");
    assert_eq!(
        verbose.stdout().lines().count(),
        unchanged,
        "{}",
        verbose.stdout()
    );
    assert!(
        unchanged > 40 && unchanged < created,
        "{}",
        verbose.stdout()
    );
    verbose.stderr_has(&format!(
        "No changes: the cluster already matches ({unchanged} objects unchanged)"
    ));
    assert_eq!(
        (
            secret_data(&client, "flux-system", "flux-system").await,
            secret_data(&client, "cert-manager", "cloudflare-api-token").await,
        ),
        secrets_before
    );

    // A dry run says so per object, and changes nothing either.
    repo.bootstrap(server.kubeconfig())
        .args(["--yes", "--dry-run"])
        .ok()
        .stdout_has("unchanged  Deployment/flux-system/source-controller")
        .stdout_has("unchanged  Kustomization/flux-system/flux-system")
        .stderr_has("Dry run, nothing changed");
    assert_eq!(versions(&client).await, before);

    // An edited manifest is "configured", and only that object changes.
    let sync = repo.dir.join("clusters/homelab/flux-system/gotk-sync.yaml");
    let text = std::fs::read_to_string(&sync).expect("sync");
    std::fs::write(&sync, text.replace("interval: 1m0s", "interval: 2m0s")).expect("edit");
    repo.bootstrap(server.kubeconfig())
        .args(["--yes", "--no-wait"])
        .ok()
        .stdout_has("configured GitRepository/flux-system/flux-system")
        .stderr_has("Applied: 0 created, 1 configured");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preflight_failures_and_dry_runs_apply_nothing() {
    let server = ApiServer::start();
    let client = server.client().await;
    let repo = repo(HTTPS_URL, "dns01");

    // Unreachable server.
    let unreachable = unreachable_kubeconfig(server.kubeconfig(), server.url(), &repo.home);
    repo.bootstrap(&unreachable)
        .args(["--yes", "--no-wait"])
        .env("HOMELAB_GIT_TOKEN", TOKEN)
        .env("CLOUDFLARE_API_TOKEN", CF_TOKEN)
        .expect_code(1)
        .stderr_has("cannot reach the Kubernetes API server")
        .stderr_has("hint:");

    // Missing DNS provider credentials.
    repo.bootstrap(server.kubeconfig())
        .args(["--yes", "--no-wait"])
        .env("HOMELAB_GIT_TOKEN", TOKEN)
        .expect_code(2)
        .stderr_has("CLOUDFLARE_API_TOKEN is not set")
        .stderr_has("hint: export CLOUDFLARE_API_TOKEN=");

    // Missing git token for an HTTPS remote.
    repo.bootstrap(server.kubeconfig())
        .args(["--yes", "--no-wait"])
        .env("CLOUDFLARE_API_TOKEN", CF_TOKEN)
        .expect_code(2)
        .stderr_has("HOMELAB_GIT_TOKEN is not set");

    // An identity without rights.
    repo.bootstrap(server.limited_kubeconfig())
        .args(["--yes", "--no-wait"])
        .env("HOMELAB_GIT_TOKEN", TOKEN)
        .env("CLOUDFLARE_API_TOKEN", CF_TOKEN)
        .expect_code(1)
        .stderr_has("may not install Flux; it cannot create")
        .stderr_has("customresourcedefinitions.apiextensions.k8s.io (cluster-wide)")
        .stderr_has("hint: bootstrap needs cluster-admin");

    // Bad arguments.
    repo.bootstrap(server.kubeconfig())
        .args(["--yes", "--timeout", "soon"])
        .expect_code(2)
        .stderr_has("\"soon\" is not a duration");
    repo.bootstrap(server.kubeconfig())
        .args(["--yes", "--context", "nope"])
        .env("HOMELAB_GIT_TOKEN", TOKEN)
        .env("CLOUDFLARE_API_TOKEN", CF_TOKEN)
        .expect_code(2)
        .stderr_has("--context: no context named \"nope\"");
    let local = self::repo("", "http01");
    local
        .bootstrap(server.kubeconfig())
        .arg("--yes")
        .expect_code(2)
        .stderr_has("git.url is empty")
        .stderr_has("hint:");

    // A file listed in flux-system's resources that does not exist.
    let kustomization = repo
        .dir
        .join("clusters/homelab/flux-system/kustomization.yaml");
    let listed = std::fs::read_to_string(&kustomization).expect("kustomization");
    std::fs::write(
        &kustomization,
        listed.replace(
            "  - gotk-sync.yaml\n",
            "  - gotk-sync.yaml\n  - extra.yaml\n",
        ),
    )
    .expect("kustomization");
    repo.bootstrap(server.kubeconfig())
        .args(["--yes", "--no-wait"])
        .env("HOMELAB_GIT_TOKEN", TOKEN)
        .env("CLOUDFLARE_API_TOKEN", CF_TOKEN)
        .expect_code(2)
        .stderr_has("kustomization.yaml lists \"extra.yaml\", which does not exist")
        .stderr_has("hint: render the repository");
    std::fs::write(&kustomization, listed).expect("kustomization");

    // A server-side dry run of everything on the fresh server: reported, not stored.
    repo.bootstrap(server.kubeconfig())
        .args(["--yes", "--dry-run"])
        .env("HOMELAB_GIT_TOKEN", TOKEN)
        .env("CLOUDFLARE_API_TOKEN", CF_TOKEN)
        .ok()
        .stdout_has("created    Namespace/flux-system")
        .stdout_has("created    Deployment/flux-system/kustomize-controller")
        .stdout_has(
            "created    GitRepository/flux-system/flux-system (not validated: its CRD does not exist yet)",
        )
        .stderr_has("Dry run, nothing changed");

    assert!(!namespace_exists(&client, "flux-system").await);
    assert!(!namespace_exists(&client, "cert-manager").await);
    assert!(!crd_exists(&client, "gitrepositories.source.toolkit.fluxcd.io").await);
}

/// A throwaway sshd on a loopback port, only to be scanned for its host key.
struct Sshd {
    child: Child,
    port: u16,
    host_key: ssh_key::PublicKey,
    _dir: tempfile::TempDir,
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_sshd() -> Sshd {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = ssh_key::PrivateKey::random(&mut rand::rngs::OsRng, ssh_key::Algorithm::Ed25519)
        .expect("host key");
    let key_file = dir.path().join("host_ed25519");
    key.write_openssh_file(&key_file, ssh_key::LineEnding::LF)
        .expect("write host key");
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).expect("mode");
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let config = dir.path().join("sshd_config");
    std::fs::write(
        &config,
        format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nPidFile {}\nUsePAM no\nStrictModes no\nAuthorizedKeysFile {}\nPasswordAuthentication no\n",
            key_file.display(),
            dir.path().join("sshd.pid").display(),
            dir.path().join("authorized_keys").display()
        ),
    )
    .expect("sshd_config");
    // sshd refuses to start without its privilege separation directory.
    let _ = std::fs::create_dir_all("/run/sshd");
    let child = Command::new("/usr/sbin/sshd")
        .args(["-D", "-e", "-f"])
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start /usr/sbin/sshd (Debian package openssh-server)");
    let mut sshd = Sshd {
        child,
        port,
        host_key: key.public_key().clone(),
        _dir: dir,
    };
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return sshd;
        }
        if let Ok(Some(status)) = sshd.child.try_wait() {
            panic!("sshd exited: {status}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("sshd did not listen on port {port}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssh_remotes_get_a_deploy_key_and_the_hosts_real_key() {
    let server = ApiServer::start();
    let client = server.client().await;
    let sshd = start_sshd();
    let url = format!("ssh://git@127.0.0.1:{}/me/homelab.git", sshd.port);
    let repo = repo(&url, "http01");
    let pattern = format!("[127.0.0.1]:{}", sshd.port);
    let host_line = format!("{pattern} {}\n", sshd.host_key.to_openssh().expect("pub"));
    let ssh_dir = repo.home.join(".ssh");
    std::fs::create_dir_all(&ssh_dir).expect(".ssh");

    // A known_hosts entry with another key: refused loudly, nothing applied.
    let impostor = ssh_key::PrivateKey::random(&mut rand::rngs::OsRng, ssh_key::Algorithm::Ed25519)
        .expect("key");
    std::fs::write(
        ssh_dir.join("known_hosts"),
        format!(
            "{pattern} {}\n",
            impostor.public_key().to_openssh().expect("pub")
        ),
    )
    .expect("known_hosts");
    repo.bootstrap(server.kubeconfig())
        .args(["--yes", "--no-wait"])
        .expect_code(1)
        .stderr_has("has CHANGED");
    assert!(!namespace_exists(&client, "flux-system").await);

    // The right key in known_hosts: confirmed, and written for Flux.
    std::fs::write(ssh_dir.join("known_hosts"), &host_line).expect("known_hosts");
    let run = repo
        .bootstrap(server.kubeconfig())
        .args(["--yes", "--no-wait"])
        .ok()
        .stderr_has("matches your known_hosts")
        .stderr_has("as a deploy key of")
        .stdout_has("ssh-ed25519 ");
    let data = secret_data(&client, "flux-system", "flux-system").await;
    assert_eq!(
        data.keys().collect::<Vec<_>>(),
        ["identity", "identity.pub", "known_hosts"]
    );
    assert_eq!(String::from_utf8_lossy(&data["known_hosts"]), host_line);
    let public = String::from_utf8(data["identity.pub"].clone()).expect("utf8");
    assert!(run.stdout().contains(public.trim()), "printed key differs");
    let private = ssh_key::PrivateKey::from_openssh(&data["identity"]).expect("identity parses");
    assert_eq!(
        private.public_key().to_openssh().expect("pub"),
        public.trim()
    );
    assert!(!run.stdout().contains("PRIVATE KEY") && !run.stderr().contains("PRIVATE KEY"));

    // A rerun keeps the key (the user already registered it).
    repo.bootstrap(server.kubeconfig())
        .args(["--yes", "--no-wait"])
        .ok()
        .stderr_has("keeping the existing deploy key")
        .stderr_has("No changes");
    assert_eq!(
        secret_data(&client, "flux-system", "flux-system").await,
        data
    );

    // --rotate-keys makes a new one; without a known_hosts entry the scanned key is used
    // once the user accepts it (as `homelab push` would), and recorded.
    std::fs::remove_file(ssh_dir.join("known_hosts")).expect("rm");
    repo.bootstrap(server.kubeconfig())
        .args([
            "--yes",
            "--no-wait",
            "--rotate-keys",
            "--accept-new-host-key",
        ])
        .ok()
        .stderr_has("added the SSH host key")
        .stdout_has("configured Secret/flux-system/flux-system");
    let rotated = secret_data(&client, "flux-system", "flux-system").await;
    assert_ne!(rotated["identity"], data["identity"]);
    assert_eq!(String::from_utf8_lossy(&rotated["known_hosts"]), host_line);

    // --deploy-key uses the given key.
    let mine = ssh_key::PrivateKey::random(&mut rand::rngs::OsRng, ssh_key::Algorithm::Ed25519)
        .expect("key");
    let key_file = repo.home.join("deploy_key");
    mine.write_openssh_file(&key_file, ssh_key::LineEnding::LF)
        .expect("write key");
    repo.bootstrap(server.kubeconfig())
        .args(["--yes", "--no-wait", "--deploy-key"])
        .arg(&key_file)
        .ok();
    let given = secret_data(&client, "flux-system", "flux-system").await;
    assert_eq!(
        String::from_utf8_lossy(&given["identity.pub"]).trim(),
        mine.public_key().to_openssh().expect("pub")
    );
    // The private half Flux signs with is the given key, not merely a key with its name.
    let identity = ssh_key::PrivateKey::from_openssh(&given["identity"]).expect("identity parses");
    assert!(!identity.is_encrypted());
    assert!(
        identity.key_data() == mine.key_data(),
        "the Secret's identity is not the --deploy-key"
    );
}

fn condition(type_: &str, status: &str, message: &str) -> Value {
    json!({"type": type_, "status": status, "reason": if status == "True" { "Succeeded" } else { "Failed" },
        "message": message, "lastTransitionTime": "2026-01-01T00:00:00Z"})
}

/// Play the Deployment controller: every flux-system Deployment rolled out, for its current
/// generation or (`current` false) for the one before. The latter first changes each
/// Deployment's pod template (an annotation bootstrap does not manage, so reruns keep it):
/// the first generation's predecessor, 0, cannot be stored (`observedGeneration` omits 0).
async fn report_controllers(client: &kube::Client, current: bool) {
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "flux-system");
    let params = PatchParams::default();
    for d in deployments.list(&Default::default()).await.expect("list") {
        let name = d.metadata.name.clone().expect("name");
        let d = if current {
            d
        } else {
            let bump = json!({"spec": {"template": {"metadata": {"annotations": {
                "test.homelab/generation": format!("{}", d.metadata.generation.unwrap_or(0) + 1)}}}}});
            deployments
                .patch(&name, &params, &Patch::Merge(&bump))
                .await
                .expect("change the pod template")
        };
        let generation = d.metadata.generation.expect("generation");
        let observed = if current { generation } else { generation - 1 };
        let status = json!({"status": {
            "observedGeneration": observed, "replicas": 1, "readyReplicas": 1,
            "availableReplicas": 1, "updatedReplicas": 1,
            "conditions": [condition("Available", "True", "Deployment has minimum availability.")]}});
        deployments
            .patch_status(&name, &params, &Patch::Merge(&status))
            .await
            .expect("patch deployment status");
    }
}

/// Play a Flux controller: the flux-system object of `kind` Ready at `revision` (the
/// GitRepository's artifact, the Kustomization's last applied revision).
async fn report_flux(client: &kube::Client, kind: &str, revision: &str) {
    let (api_version, extra) = match kind {
        "GitRepository" => (
            "source.toolkit.fluxcd.io/v1",
            json!({"artifact": {"revision": revision, "path": "gitrepository/flux-system/flux-system/x.tar.gz",
                "url": "http://source-controller.flux-system.svc/x.tar.gz",
                "digest": format!("sha256:{}", "0".repeat(64)), "lastUpdateTime": "2026-01-01T00:00:00Z"}}),
        ),
        _ => (
            "kustomize.toolkit.fluxcd.io/v1",
            json!({"lastAppliedRevision": revision}),
        ),
    };
    let ar = resource_of(&json!({"apiVersion": api_version, "kind": kind}));
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), "flux-system", &ar);
    let obj = api.get("flux-system").await.expect("flux object");
    let mut status = json!({"observedGeneration": obj.metadata.generation,
        "conditions": [condition("Ready", "True", &format!("Applied revision: {revision}"))]});
    status
        .as_object_mut()
        .expect("map")
        .extend(extra.as_object().expect("map").clone());
    api.patch_status(
        "flux-system",
        &PatchParams::default(),
        &Patch::Merge(&json!({"status": status})),
    )
    .await
    .expect("patch flux status");
}

/// A revision Flux could be at that is not the pushed one.
const OLD_REVISION: &str = "main@sha1:0123456789abcdef0123456789abcdef01234567";

/// Assert a waiting `homelab bootstrap` is still waiting in the phase `label`: it got there
/// (within a generous bound), then stayed for a few polls of the wait (every second).
async fn still_waiting(run: &mut support::Running, label: &str) {
    let waiting = format!("Waiting: {label}...");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !run.stderr_so_far().contains(&waiting) {
        assert!(run.is_running(), "it ended:\n{}", run.stderr_so_far());
        assert!(
            tokio::time::Instant::now() < deadline,
            "never waited for {label}:\n{}",
            run.stderr_so_far()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let stderr = run.stderr_so_far();
    assert!(
        run.is_running(),
        "it stopped waiting for {label}:\n{stderr}"
    );
    assert!(!stderr.contains(&format!("[ok] {label}")), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waits_until_flux_runs_the_pushed_commit_and_explains_a_timeout() {
    let server = ApiServer::start();
    let client = server.client().await;
    let repo = repo(HTTPS_URL, "http01");
    let revision = format!("main@sha1:{}", repo.head());

    // Apply first, then play the controllers while a waiting bootstrap runs.
    repo.bootstrap(server.kubeconfig())
        .args(["--yes", "--no-wait"])
        .env("HOMELAB_GIT_TOKEN", TOKEN)
        .ok();
    let mut waiting = repo
        .bootstrap(server.kubeconfig())
        .args(["--yes", "--timeout", "5m"])
        .spawn();

    // No controller has reported: it waits for the Deployments.
    let controllers = "Flux controllers available";
    still_waiting(&mut waiting, controllers).await;
    // Rolled out, but for an older generation of the Deployments: still waiting.
    report_controllers(&client, false).await;
    still_waiting(&mut waiting, controllers).await;

    // The controllers run and the GitRepository has fetched the pushed commit, but the
    // Kustomization last applied an older one: it waits for the Kustomization.
    report_controllers(&client, true).await;
    report_flux(&client, "GitRepository", &revision).await;
    report_flux(&client, "Kustomization", OLD_REVISION).await;
    let applied = format!("Kustomization applied {revision}");
    still_waiting(&mut waiting, &applied).await;
    let stderr = waiting.stderr_so_far();
    assert!(stderr.contains(&format!("[ok] {controllers}")), "{stderr}");
    assert!(
        stderr.contains(&format!("[ok] GitRepository fetched {revision}")),
        "{stderr}"
    );

    // The Kustomization catches up: done.
    report_flux(&client, "Kustomization", &revision).await;
    let run = tokio::task::spawn_blocking(move || waiting.finish(Duration::from_secs(60)))
        .await
        .expect("join");
    assert_eq!(run.code(), 0, "{}", run.describe());
    run.stderr_has(&format!("[ok] {applied}"))
        .stderr_has(&format!("Flux is running {revision}"));

    // A Kustomization lagging behind a current GitRepository: the timeout names it.
    report_flux(&client, "Kustomization", OLD_REVISION).await;
    repo.bootstrap(server.kubeconfig())
        .args(["--yes", "--timeout", "3s"])
        .expect_code(1)
        .stderr_has(&format!("Flux was not ready within 3s ({applied})"))
        .stderr_has(&format!(
            "Kustomization/flux-system/flux-system: at revision \"{OLD_REVISION}\", waiting for \"{revision}\""
        ));

    // A Kustomization that fails: the timeout shows its own message.
    let ar = resource_of(
        &json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization"}),
    );
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), "flux-system", &ar);
    api.patch_status(
        "flux-system",
        &PatchParams::default(),
        &Patch::Merge(&json!({"status": {"conditions": [condition(
            "Ready", "False", "kustomize build failed: accumulating resources: boom")]}})),
    )
    .await
    .expect("patch");
    repo.bootstrap(server.kubeconfig())
        .args(["--yes", "--timeout", "3s"])
        .expect_code(1)
        .stderr_has("Flux was not ready within 3s")
        .stderr_has("Kustomization/flux-system/flux-system: kustomize build failed: accumulating resources: boom")
        .stderr_has("hint:");

    // A GitRepository at an older revision is not what was pushed.
    report_flux(&client, "GitRepository", OLD_REVISION).await;
    report_flux(&client, "Kustomization", OLD_REVISION).await;
    repo.bootstrap(server.kubeconfig())
        .args(["--yes", "--timeout", "2s"])
        .expect_code(1)
        .stderr_has(&format!("GitRepository fetched {revision}"))
        .stderr_has(&format!("waiting for \"{revision}\""));
}

/// How many objects of the install and sync manifests exist, of how many. A kind whose
/// CRD is not served yet has none.
async fn applied_count(client: &kube::Client) -> (usize, usize) {
    let docs = install_docs();
    let mut present = 0;
    for doc in &docs {
        let ar = resource_of(doc);
        let name = doc["metadata"]["name"].as_str().expect("name");
        let api: Api<DynamicObject> = match doc["metadata"]["namespace"].as_str() {
            Some(ns) => Api::namespaced_with(client.clone(), ns, &ar),
            None => Api::all_with(client.clone(), &ar),
        };
        if matches!(api.get_opt(name).await, Ok(Some(_))) {
            present += 1;
        }
    }
    (present, docs.len())
}

/// The count in bootstrap's "(N transient errors retried)".
fn retried(run: &support::Run) -> usize {
    let stderr = run.stderr();
    let (before, _) = stderr
        .split_once(" transient errors retried)")
        .unwrap_or_else(|| panic!("no retries reported\n{}", run.describe()));
    before
        .rsplit('(')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count\n{}", run.describe()))
}

/// 429 and 5xx answers from the API server are retried by `homelab bootstrap`, and every
/// object ends up applied. A loopback proxy in front of the real server answers a few
/// applies with those codes instead of forwarding them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overloaded_and_failing_api_answers_are_retried() {
    let server = ApiServer::start();
    let client = server.client().await;
    let proxy = ApiProxy::start(server.kubeconfig());
    let repo = repo(HTTPS_URL, "http01");
    // Spread over the phases: the Namespace, the CRDs, the rest.
    let faults = [
        (1, 429),
        (4, 500),
        (9, 502),
        (16, 503),
        (25, 504),
        (26, 429),
    ];
    proxy.rules(|r| r.patch_faults = faults.into_iter().collect());
    let run = repo
        .bootstrap(proxy.kubeconfig())
        .args(["--yes", "--no-wait"])
        .env("HOMELAB_GIT_TOKEN", TOKEN)
        .ok()
        .stderr_has(&format!("at {}", proxy.url()));
    // 429, 503 and 504 are retried inside the Kubernetes client (kube's default policy),
    // which homelab's count does not see; 500 and 502 by homelab's own retry, counted.
    assert!(retried(&run) >= 2, "{}", run.describe());

    let log = proxy.log();
    let injected: Vec<_> = log.iter().filter(|s| s.injected).collect();
    assert_eq!(
        injected.iter().map(|s| s.status).collect::<Vec<_>>(),
        faults.iter().map(|(_, c)| Some(*c)).collect::<Vec<_>>()
    );
    // Each refused apply was sent again, and then accepted.
    for fault in &injected {
        assert!(
            log.iter().any(|s| s.method == "PATCH"
                && s.path == fault.path
                && !s.injected
                && s.status.is_some_and(|c| c < 300)),
            "{} was never applied after {:?}",
            fault.path,
            fault.status
        );
    }
    let (present, all) = applied_count(&client).await;
    assert_eq!(present, all);
}

/// The API server is killed while `homelab bootstrap` is half way through its apply, stays
/// down for a few seconds and comes back on the same port and etcd: the run rides it out
/// and completes. A loopback proxy in front of the server holds one apply until the server
/// is down, so "half way" is certain rather than a race; requests that meet the dead server
/// lose their connection without an answer, as they would without the proxy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_server_down_in_the_middle_of_the_apply_is_ridden_out() {
    let server = std::sync::Arc::new(ApiServer::start());
    let client = server.client().await;
    let proxy = ApiProxy::start(server.kubeconfig());
    let repo = repo(HTTPS_URL, "http01");
    proxy.rules(|r| r.hold_patch = Some(12));
    let mut run = repo
        .bootstrap(proxy.kubeconfig())
        .args(["--yes", "--no-wait"])
        .env("HOMELAB_GIT_TOKEN", TOKEN)
        .spawn();
    if tokio::time::timeout(Duration::from_secs(120), proxy.held())
        .await
        .is_err()
    {
        panic!("the apply never got that far:\n{}", run.stderr_so_far());
    }
    let (present, all) = applied_count(&client).await;
    assert!(0 < present && present < all, "{present} of {all} applied");

    let s = server.clone();
    tokio::task::spawn_blocking(move || s.stop_apiserver())
        .await
        .expect("stop");
    proxy.release();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(run.is_running(), "{}", run.stderr_so_far());
    let s = server.clone();
    tokio::task::spawn_blocking(move || s.start_apiserver_again())
        .await
        .expect("start again");

    let run = tokio::task::spawn_blocking(move || run.finish(Duration::from_secs(240)))
        .await
        .expect("join");
    assert_eq!(run.code(), 0, "{}", run.describe());
    assert!(retried(&run) > 0);
    // Requests did meet the dead server, and applies succeeded after it came back.
    let log = proxy.log();
    let first_drop = log
        .iter()
        .position(|s| s.status.is_none())
        .expect("no request met the stopped server");
    assert!(
        log[first_drop..]
            .iter()
            .any(|s| s.method == "PATCH" && s.status.is_some_and(|c| c < 300)),
        "nothing was applied after the outage"
    );
    let client = server.client().await;
    let (present, all) = applied_count(&client).await;
    assert_eq!(present, all);
}

/// A Kubernetes release older than Flux needs is refused before anything is applied. The
/// test server is one release only, so a loopback proxy in front of it rewrites its
/// `/version` answer: 1.32 is refused, 1.33 is enough.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_older_than_1_33_is_refused() {
    let server = ApiServer::start();
    let client = server.client().await;
    let proxy = ApiProxy::start(server.kubeconfig());
    let repo = repo(HTTPS_URL, "http01");
    proxy.rules(|r| r.version = Some("v1.32.4".into()));
    repo.bootstrap(proxy.kubeconfig())
        .args(["--yes", "--no-wait"])
        .env("HOMELAB_GIT_TOKEN", TOKEN)
        .expect_code(1)
        .stderr_has("the cluster runs Kubernetes v1.32.4, Flux needs 1.33 or newer")
        .stderr_has("hint: upgrade the cluster");
    assert!(proxy.log().iter().all(|s| s.method != "PATCH"));
    assert!(!namespace_exists(&client, "flux-system").await);

    proxy.rules(|r| r.version = Some("v1.33.0".into()));
    repo.bootstrap(proxy.kubeconfig())
        .args(["--yes", "--dry-run"])
        .env("HOMELAB_GIT_TOKEN", TOKEN)
        .ok()
        .stderr_has("Kubernetes v1.33.0")
        .stderr_has("Dry run, nothing changed");
}

/// Once Flux applied the same manifests (as kustomize-controller does: its own field
/// manager, its labels, conflicts forced), applying them again changes nothing: every
/// object is reported unchanged and no resourceVersion moves. Fields whose stored form
/// differs from the manifest's (the quota's `pods: "1000"` stored as `1k`, the
/// Deployments' `fieldRef` with its defaulted `apiVersion`) used to be taken back from
/// kustomize-controller by the rerun, which wrote them and reported them "configured".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rerun_after_flux_applied_the_same_manifests_changes_nothing() {
    let server = ApiServer::start();
    let client = server.client().await;
    let mut docs = install_docs();
    docs.push(
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "cert-manager"}}),
    );
    let first = apply_documents(&client, &docs, ApplyOptions::default())
        .await
        .expect("first apply");
    assert!(first.objects.iter().all(|o| o.outcome == Outcome::Created));

    let flux = PatchParams::apply("kustomize-controller").force();
    for doc in &docs {
        let mut doc = doc.clone();
        doc["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/name"] = json!("flux-system");
        doc["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/namespace"] = json!("flux-system");
        let name = doc["metadata"]["name"].as_str().expect("name").to_owned();
        let api: Api<DynamicObject> = match doc["metadata"]["namespace"].as_str() {
            Some(ns) => Api::namespaced_with(client.clone(), ns, &resource_of(&doc)),
            None => Api::all_with(client.clone(), &resource_of(&doc)),
        };
        api.patch(&name, &flux, &Patch::Apply(&doc))
            .await
            .unwrap_or_else(|e| panic!("apply {name} as kustomize-controller: {e}"));
    }

    let mut before = versions(&client).await;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let version = |ns: Namespace| ns.metadata.resource_version.expect("resourceVersion");
    before.insert(
        "cert-manager".into(),
        version(namespaces.get("cert-manager").await.expect("namespace")),
    );
    let rerun = apply_documents(&client, &docs, ApplyOptions::default())
        .await
        .expect("rerun");
    let changed: Vec<String> = rerun
        .objects
        .iter()
        .filter(|o| o.outcome != Outcome::Unchanged)
        .map(|o| format!("{} {}", o.outcome.as_str(), o.id()))
        .collect();
    assert!(changed.is_empty(), "a rerun changed {changed:?}");
    let mut after = versions(&client).await;
    after.insert(
        "cert-manager".into(),
        version(namespaces.get("cert-manager").await.expect("namespace")),
    );
    assert_eq!(after, before, "resourceVersions changed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_strict_validates_against_the_servers_schemas() {
    let server = ApiServer::shared();
    let client = server.client().await;
    let ns = crate::support::envtest::namespace_name("strict");
    let good = vec![
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": ns},
            "data": {"a": "b"}}),
    ];
    let report = homelab::kube::dry_run_strict(&client, &good)
        .await
        .unwrap_or_else(|e| panic!("{}", e.message));
    assert_eq!(report.objects.len(), 2);
    assert!(report.objects.iter().all(|o| o.outcome == Outcome::Created));
    assert!(
        !namespace_exists(&client, &ns).await,
        "a dry run stored something"
    );

    let mut bad = good.clone();
    bad[1]["spec"] = json!({"replicas": 1});
    let err = homelab::kube::dry_run_strict(&client, &bad)
        .await
        .expect_err("an unknown field must be rejected");
    assert!(err.message.contains("ConfigMap/"), "{}", err.message);
    assert!(
        err.message.contains("unknown field")
            || err.message.contains("field not declared in schema"),
        "{}",
        err.message
    );
    assert!(err.message.contains(".spec"), "{}", err.message);

    // The Flux install manifest itself validates strictly.
    let text = std::fs::read_to_string(support::flux_install()).expect("install.yaml");
    let docs = parse_documents(&text).expect("parse");
    homelab::kube::dry_run_strict(&client, &docs)
        .await
        .unwrap_or_else(|e| panic!("{}", e.message));
}

/// What k3s leaves in a cluster with its defaults: a server node whose arguments disable
/// nothing, the Traefik it deploys, and ServiceLB's DaemonSet for Traefik's Service.
fn k3s_objects(node_args: &str) -> Vec<Value> {
    let pod = |name: &str| {
        json!({
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": name, "image": format!("rancher/{name}:v1")}]}},
        })
    };
    vec![
        json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "k3s-server-1",
            "annotations": {"k3s.io/node-args": node_args},
            "labels": {"node.kubernetes.io/instance-type": "k3s"}}}),
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "traefik", "namespace": "kube-system"}, "spec": pod("traefik")}),
        json!({"apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": "svclb-traefik-4f1c2b9a", "namespace": "kube-system"},
            "spec": pod("svclb-traefik")}),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn k3s_with_its_bundled_traefik_and_servicelb_is_refused_unless_forced() {
    let server = ApiServer::start();
    let client = server.client().await;
    let repo = repo(HTTPS_URL, "selfsigned");
    let opts = ApplyOptions {
        dry_run: false,
        field_validation_strict: true,
    };

    // A fresh k3s server that disables nothing: refused from its arguments alone.
    apply_documents(&client, &k3s_objects(r#"["server"]"#)[..1], opts)
        .await
        .unwrap_or_else(|e| panic!("{}", e.message));
    repo.bootstrap(server.kubeconfig())
        .args(["--yes", "--no-wait"])
        .env("HOMELAB_GIT_TOKEN", TOKEN)
        .expect_code(1)
        .stderr_has("k3s server k3s-server-1 runs without `--disable traefik`")
        .stderr_has("hint: disable k3s's bundled components: add `disable: [traefik, servicelb]` to /etc/rancher/k3s/config.yaml")
        .stderr_has("nothing was applied");
    assert!(!namespace_exists(&client, "flux-system").await);

    // Traefik and ServiceLB running: both named, with their objects.
    apply_documents(&client, &k3s_objects(r#"["server"]"#), opts)
        .await
        .unwrap_or_else(|e| panic!("{}", e.message));
    repo.bootstrap(server.kubeconfig())
        .args(["--yes", "--no-wait"])
        .env("HOMELAB_GIT_TOKEN", TOKEN)
        .expect_code(1)
        .stderr_has("Deployment kube-system/traefik exists")
        .stderr_has("its DaemonSets run: svclb-traefik-4f1c2b9a");
    assert!(!namespace_exists(&client, "flux-system").await);

    // --force goes ahead, and says what it ignored.
    repo.bootstrap(server.kubeconfig())
        .args(["--yes", "--no-wait", "--force"])
        .env("HOMELAB_GIT_TOKEN", TOKEN)
        .ok()
        .stderr_has("warning: k3s's bundled Traefik");
    assert!(namespace_exists(&client, "flux-system").await);

    // Disabled in k3s's configuration (k3s then removes them): no refusal, no warning.
    let disabled = k3s_objects(r#"["server","--disable","traefik","--disable","servicelb"]"#);
    apply_documents(&client, &disabled[..1], opts)
        .await
        .unwrap_or_else(|e| panic!("{}", e.message));
    let dp = kube::Api::<Deployment>::namespaced(client.clone(), "kube-system");
    dp.delete("traefik", &Default::default())
        .await
        .expect("delete");
    let ds = kube::Api::<k8s_openapi::api::apps::v1::DaemonSet>::namespaced(
        client.clone(),
        "kube-system",
    );
    ds.delete("svclb-traefik-4f1c2b9a", &Default::default())
        .await
        .expect("delete");
    let run = repo
        .bootstrap(server.kubeconfig())
        .args(["--yes", "--no-wait"])
        .env("HOMELAB_GIT_TOKEN", TOKEN)
        .ok();
    assert!(!run.stderr().contains("k3s"), "{}", run.describe());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chart_mirror_ca_is_stored_and_trusted_by_source_controller() {
    let server = ApiServer::start();
    let client = server.client().await;
    let repo = repo(HTTPS_URL, "selfsigned");
    // homelab.yaml with a mirror behind a private CA, and flux-system as rendered for it.
    let mut cfg = homelab::catalog::load_config(&repo.dir).expect("config");
    cfg.charts.mirror = Some(homelab::config::Mirror {
        oci_registry: Some("oci://registry.lan:5000/mirror".into()),
        ca_file: Some("certs/mirror-ca.pem".into()),
        ..Default::default()
    });
    std::fs::write(
        repo.dir.join("homelab.yaml"),
        homelab::config::to_yaml(&cfg),
    )
    .expect("write");
    let install = std::fs::read_to_string(support::flux_install()).expect("install");
    let rendered = homelab::render::render(&cfg, &install).expect("render");
    let kustomization = "clusters/homelab/flux-system/kustomization.yaml";
    std::fs::write(repo.dir.join(kustomization), &rendered.files[kustomization]).expect("write");

    // No CA file: refused before anything is applied.
    repo.bootstrap(server.kubeconfig())
        .args(["--yes", "--no-wait"])
        .env("HOMELAB_GIT_TOKEN", TOKEN)
        .expect_code(2)
        .stderr_has("charts.mirror.ca_file: cannot read")
        .stderr_has("hint:");
    assert!(!namespace_exists(&client, "flux-system").await);

    let key = rcgen::KeyPair::generate().expect("key");
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let pem = params.self_signed(&key).expect("self-sign").pem();
    std::fs::create_dir_all(repo.dir.join("certs")).expect("mkdir");
    std::fs::write(repo.dir.join("certs/mirror-ca.pem"), &pem).expect("write");
    repo.bootstrap(server.kubeconfig())
        .args(["--yes", "--no-wait"])
        .env("HOMELAB_GIT_TOKEN", TOKEN)
        .ok();
    let data = secret_data(&client, "flux-system", "chart-mirror-ca").await;
    assert_eq!(data["ca.crt"], pem.as_bytes());
    // The controller that fetches charts mounts it among its trusted certificates.
    let api: Api<Deployment> = Api::namespaced(client.clone(), "flux-system");
    let sc = api
        .get("source-controller")
        .await
        .expect("source-controller");
    let pod = sc.spec.unwrap().template.spec.unwrap();
    assert!(pod.volumes.unwrap().iter().any(|v| {
        v.secret
            .as_ref()
            .is_some_and(|s| s.secret_name.as_deref() == Some("chart-mirror-ca"))
    }));
    let env = pod.containers[0].env.clone().unwrap();
    assert!(env.iter().any(|e| e.name == "SSL_CERT_DIR"
        && e.value.as_deref() == Some("/etc/ssl/certs:/etc/homelab/chart-mirror-ca")));
}
