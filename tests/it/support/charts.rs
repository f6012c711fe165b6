//! A local chart mirror for the simulated cluster: the pinned chart packages of the
//! fixtures served as a plain-HTTP Helm repository, and pushed with `helm push` to a real
//! OCI registry (distribution v3) at the upstream repository paths, so a source only has to
//! change its host. Both listen on 127.0.0.1 only and nothing is downloaded.

#![allow(dead_code)]

use std::ffi::OsString;
use std::fs;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::envtest::free_port;
use super::process::{Options, Proc};

/// The charts homelab pulls from OCI registries: package name prefix → upstream path (the
/// host is left out), as `fixtures/charts/README.md` lists them.
pub const OCI_CHARTS: &[(&str, &str)] = &[
    ("cert-manager", "jetstack/charts"),
    ("traefik", "traefik/helm"),
    ("gateway-helm", "envoyproxy"),
    ("app-template", "bjw-s-labs/helm"),
];

/// The chart directory of the fixtures.
pub fn fixture_charts() -> PathBuf {
    super::fixtures_dir().join("charts")
}

/// The running mirror. Its processes stop on drop (and with the test process).
#[derive(Debug)]
pub struct ChartMirror {
    helm_port: u16,
    oci_port: u16,
    http: Option<Proc>,
    registry: Option<Proc>,
    /// The OCI references pushed, `oci://127.0.0.1:PORT/<path>/<chart>:<version>`.
    pub pushed: Vec<String>,
}

impl ChartMirror {
    /// Serve the fixture charts from `dir` (a private working directory): an HTTP Helm
    /// repository over a copy indexed with `helm repo index`, and an OCI registry holding the
    /// [`OCI_CHARTS`] pushed with `helm push --plain-http`. `bins` holds `registry` and `helm`.
    pub fn start(dir: &Path, bins: &Path) -> ChartMirror {
        fs::create_dir_all(dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        let helm = bins.join("helm");
        let repo = dir.join("helm-repository");
        fs::create_dir_all(&repo).expect("create the Helm repository directory");
        let source = fixture_charts();
        let mut packages: Vec<PathBuf> = fs::read_dir(&source)
            .unwrap_or_else(|e| panic!("list {}: {e}", source.display()))
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "tgz"))
            .collect();
        packages.sort();
        assert!(
            !packages.is_empty(),
            "no chart packages in {}",
            source.display()
        );
        for package in &packages {
            let name = package.file_name().expect("file name");
            fs::copy(package, repo.join(name))
                .unwrap_or_else(|e| panic!("copy {}: {e}", package.display()));
        }
        let helm_home = dir.join("helm-home");
        run_helm(
            &helm,
            &helm_home,
            &["repo", "index", &repo.display().to_string()],
        );

        let helm_port = free_port();
        let http = Proc::spawn_with(
            dir,
            "chart-http",
            Path::new("python3"),
            &[
                "-m".into(),
                "http.server".into(),
                helm_port.to_string(),
                "--bind".into(),
                "127.0.0.1".into(),
                "--directory".into(),
                repo.display().to_string(),
            ],
            &Options {
                restart: true,
                ..Options::default()
            },
        )
        .unwrap_or_else(|e| panic!("start the Helm repository server: {e}"));

        let oci_port = free_port();
        let config = dir.join("registry.yml");
        fs::write(
            &config,
            format!(
                "version: 0.1\n\
                 log:\n  level: warn\n\
                 storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
                 http:\n  addr: 127.0.0.1:{oci_port}\n",
                dir.join("registry-data").display()
            ),
        )
        .expect("write the registry configuration");
        let registry = Proc::spawn_with(
            dir,
            "registry",
            &bins.join("registry"),
            &["serve".into(), config.display().to_string()],
            &Options {
                restart: true,
                ..Options::default()
            },
        )
        .unwrap_or_else(|e| panic!("start the OCI registry: {e}"));
        let mut mirror = ChartMirror {
            helm_port,
            oci_port,
            http: Some(http),
            registry: Some(registry),
            pushed: Vec::new(),
        };
        mirror.wait_listening(dir);

        for (prefix, path) in OCI_CHARTS {
            for package in packages.iter().filter(|p| chart_of(p) == Some(prefix)) {
                let target = format!("oci://127.0.0.1:{oci_port}/{path}");
                run_helm(
                    &helm,
                    &helm_home,
                    &[
                        "push",
                        &package.display().to_string(),
                        &target,
                        "--plain-http",
                    ],
                );
                let version = package
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .and_then(|s| s.strip_prefix(&format!("{prefix}-")))
                    .unwrap_or_default();
                mirror.pushed.push(format!("{target}/{prefix}:{version}"));
            }
        }
        mirror
    }

    /// `http://127.0.0.1:PORT`: the Helm repository (`index.yaml` at its root).
    pub fn helm_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.helm_port)
    }

    /// `127.0.0.1:PORT`: the OCI registry's host (plain HTTP; Flux needs `insecure: true`).
    pub fn oci_host(&self) -> String {
        format!("127.0.0.1:{}", self.oci_port)
    }

    fn wait_listening(&mut self, dir: &Path) {
        let deadline = Instant::now() + Duration::from_secs(30);
        for (port, what) in [(self.helm_port, "chart-http"), (self.oci_port, "registry")] {
            while TcpStream::connect(("127.0.0.1", port)).is_err() {
                assert!(
                    Instant::now() < deadline,
                    "{what} does not listen on 127.0.0.1:{port}:\n{}",
                    super::process::tail(&dir.join(format!("{what}.log")), 30)
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

impl Drop for ChartMirror {
    fn drop(&mut self) {
        for proc in [self.http.take(), self.registry.take()]
            .into_iter()
            .flatten()
        {
            proc.stop();
        }
    }
}

/// The chart name of a package file `<chart>-<version>.tgz` (versions start with a digit
/// or `v` and a digit).
fn chart_of(package: &Path) -> Option<&str> {
    let stem = package.file_stem()?.to_str()?;
    let bytes = stem.as_bytes();
    (1..stem.len())
        .filter(|&i| bytes[i - 1] == b'-')
        .find(|&i| {
            let rest = &stem[i..];
            rest.starts_with(|c: char| c.is_ascii_digit())
                || (rest.starts_with('v') && rest[1..].starts_with(|c: char| c.is_ascii_digit()))
        })
        .map(|i| &stem[..i - 1])
}

/// Run helm with private configuration, cache and data directories under `home`.
fn run_helm(helm: &Path, home: &Path, args: &[&str]) {
    let env: Vec<(&str, OsString)> = vec![
        ("HELM_CONFIG_HOME", home.join("config").into()),
        ("HELM_CACHE_HOME", home.join("cache").into()),
        ("HELM_DATA_HOME", home.join("data").into()),
    ];
    let out = Command::new(helm)
        .args(args)
        .envs(env)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", helm.display()));
    assert!(
        out.status.success(),
        "helm {} failed:\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
