//! The fixtures mechanism: `scripts/fixtures` and its list, `tests/fixtures.lock`. The list
//! names every chart homelab pins, at the source homelab renders, and matches the fixtures in
//! use; a given fixtures directory is checked for every listed file; and the download path,
//! run against a loopback stand-in for upstream (a file server for the HTTPS URLs and Helm
//! repositories, distribution's registry for the OCI charts), fills a verified cache, refuses
//! tampered files without leaving anything half-written, accepts upstream's packaging of the
//! same content (other tar headers; nextcloud with its Collabora subchart), downloads nothing
//! the second time, and gives a directory that real render and chart tests pass with.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use homelab::component::ComponentId;

use crate::support;

/// One entry of the list, as `scripts/fixtures list` prints it.
#[derive(Debug)]
struct Entry {
    path: String,
    kind: String,
    separator: String,
    source: Vec<String>,
}

fn helm_bin() -> PathBuf {
    support::tool("helm", "HOMELAB_HELM", "build-helm")
}

/// `script` with none of the caller's fixture settings, and downloads forbidden unless a test
/// allows them against its stand-in.
fn fixtures_cmd(script: &Path) -> Command {
    let mut cmd = Command::new(script);
    for var in [
        "HOMELAB_FIXTURES_DIR",
        "HOMELAB_FIXTURES_MIRROR",
        "HOMELAB_FIXTURES_OCI_MIRROR",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("HOMELAB_FIXTURES_OFFLINE", "1")
        .env("HOMELAB_HELM", helm_bin())
        .stdin(Stdio::null());
    cmd
}

fn script() -> PathBuf {
    support::root().join("scripts/fixtures")
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "scripts/fixtures failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn list() -> Vec<Entry> {
    let out = fixtures_cmd(&script())
        .arg("list")
        .output()
        .expect("run scripts/fixtures");
    ok(&out)
        .lines()
        .map(|line| {
            let mut fields = line.split('\t').map(str::to_owned);
            Entry {
                path: fields.next().expect("path"),
                kind: fields.next().expect("kind"),
                separator: fields.next().expect("separator"),
                source: fields.collect(),
            }
        })
        .collect()
}

#[test]
fn the_list_holds_every_pinned_chart_at_the_source_homelab_renders() {
    let entries = list();
    let mut missing = Vec::new();
    let mut want = |who: String, kind: &str, source: Vec<String>| {
        if !entries.iter().any(|e| e.kind == kind && e.source == source) {
            missing.push(format!("{who}: {kind} {}", source.join(" ")));
        }
    };
    let components = ComponentId::ALL.iter().map(|id| {
        (
            format!("infrastructure controller {}", id.name()),
            id.profile().clone(),
        )
    });
    let apps = homelab::catalog::all()
        .into_iter()
        .map(|p| (format!("profile {}", p.name), p));
    for (who, p) in components.chain(apps) {
        let chart = &p.chart;
        match (&chart.oci, &chart.repository) {
            (Some(oci), _) => want(who, "oci", vec![oci.clone(), chart.version.clone()]),
            (None, Some(repo)) => want(
                who,
                "helm",
                vec![
                    repo.clone(),
                    chart.name.clone(),
                    // A stand-in's package is what the fixtures, and so the list, hold.
                    crate::charts::fixture_version(&chart.name, &chart.version).to_owned(),
                ],
            ),
            (None, None) => panic!("{who} names no chart source"),
        }
    }
    assert!(
        missing.is_empty(),
        "tests/fixtures.lock lacks these pinned charts (add each with the source homelab renders):\n{}",
        missing.join("\n")
    );
}

#[test]
fn the_fixtures_in_use_match_the_list() {
    let dir = support::fixtures_dir();
    ok(&fixtures_cmd(&script())
        .arg("verify")
        .arg(&dir)
        .output()
        .expect("run scripts/fixtures verify"));
}

#[test]
fn a_given_fixtures_directory_must_hold_every_listed_file() {
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(tmp.path().join("flux")).unwrap();
    std::fs::copy(
        support::flux_install(),
        tmp.path().join("flux/install.yaml"),
    )
    .unwrap();
    let out = fixtures_cmd(&script())
        .env("HOMELAB_FIXTURES_DIR", tmp.path())
        .output()
        .expect("run scripts/fixtures");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        out.stdout.is_empty(),
        "an incomplete directory is not printed"
    );
    for lacking in [
        "crds/metallb.yaml",
        "charts/nextcloud-9.2.4.tgz",
        "charts/index.yaml",
    ] {
        assert!(stderr.contains(lacking), "{lacking} not named:\n{stderr}");
    }
    assert!(
        stderr.contains("hint: point HOMELAB_FIXTURES_DIR"),
        "{stderr}"
    );

    let dir = support::fixtures_dir();
    let printed = ok(&fixtures_cmd(&script())
        .env("HOMELAB_FIXTURES_DIR", &dir)
        .output()
        .expect("run scripts/fixtures"));
    assert_eq!(
        PathBuf::from(printed.trim()),
        dir.canonicalize().unwrap(),
        "a complete directory is printed as it is"
    );
}

/// A static file server on loopback standing in for upstream's HTTPS hosts: `GET /H/P`
/// answers the file `<root>/H/P`, the layout `HOMELAB_FIXTURES_MIRROR` asks for. It records
/// every path requested and stops listening when dropped.
struct FileServer {
    port: u16,
    requests: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl FileServer {
    fn start(root: &Path) -> FileServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (root, log, stopped) = (root.to_path_buf(), requests.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(conn) = conn {
                    let (root, log) = (root.clone(), log.clone());
                    std::thread::spawn(move || answer(conn, &root, &log));
                }
            }
        });
        FileServer {
            port,
            requests,
            stop,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for FileServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag and closes the listener.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn answer(mut conn: TcpStream, root: &Path, log: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(conn.try_clone().expect("clone the connection"));
    let mut request = String::new();
    if reader.read_line(&mut request).is_err() {
        return;
    }
    let mut header = String::new();
    while matches!(reader.read_line(&mut header), Ok(n) if n > 2) {
        header.clear();
    }
    let path = request.split_whitespace().nth(1).unwrap_or("/").to_owned();
    log.lock().unwrap().push(path.clone());
    let body = (!path.contains(".."))
        .then(|| std::fs::read(root.join(path.trim_start_matches('/'))).ok())
        .flatten();
    let head = match &body {
        Some(b) => format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            b.len()
        ),
        None => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".into(),
    };
    let _ = conn.write_all(head.as_bytes());
    if let Some(b) = body {
        let _ = conn.write_all(&b);
    }
}

/// distribution's registry on loopback (plain HTTP), standing in for the OCI hosts.
struct Registry {
    port: u16,
    child: Child,
}

impl Registry {
    fn start(dir: &Path) -> Registry {
        let bin = std::env::var_os("HOMELAB_E2E_BIN")
            .map(|d| PathBuf::from(d).join("registry"))
            .filter(|b| b.is_file())
            .unwrap_or_else(|| {
                panic!(
                    "distribution's `registry` is needed to stand in for the OCI chart hosts: build it with \
                     `scripts/build-e2e` and export HOMELAB_E2E_BIN=\"$(scripts/build-e2e)\""
                )
            });
        std::fs::create_dir_all(dir).unwrap();
        let port = support::gitserver::free_port();
        let config = dir.join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
                dir.join("data").display()
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.join("registry.log")).unwrap();
        let mut child = Command::new(&bin)
            .arg("serve")
            .arg(&config)
            .env("OTEL_TRACES_EXPORTER", "none")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", bin.display()));
        support::gitserver::wait_listening(&mut child, port, "registry");
        Registry { port, child }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// helm with private configuration, cache and data under `home`.
fn helm(home: &Path, args: &[&str]) {
    let out = Command::new(helm_bin())
        .args(args)
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_DATA_HOME", home.join("data"))
        .stdin(Stdio::null())
        .output()
        .expect("run helm");
    assert!(
        out.status.success(),
        "helm {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Where the file server keeps upstream's `https://H/P`.
fn served(www: &Path, url: &str) -> PathBuf {
    let rest = url.strip_prefix("https://").expect("an https:// URL");
    www.join(rest.trim_end_matches('/'))
}

/// `text` as the `n` parts a concatenation with `separator` lines puts back together.
fn split(text: &str, n: usize, separator: &str) -> Vec<String> {
    let starts: Vec<usize> = std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .filter(|&i| i < text.len())
        .collect();
    let parts: Vec<String> = if separator.is_empty() {
        // Any cut works: the parts are joined as they are.
        let cuts: Vec<usize> = (0..n).map(|k| starts[k * starts.len() / n]).collect();
        cuts.iter()
            .zip(cuts.iter().skip(1).chain([&text.len()]))
            .map(|(&a, &b)| text[a..b].to_owned())
            .collect()
    } else {
        // Each part follows one separator line: cut at the first n of them.
        let line = format!("{separator}\n");
        let cuts: Vec<usize> = starts
            .into_iter()
            .filter(|&i| text[i..].starts_with(&line))
            .take(n)
            .collect();
        assert_eq!(
            cuts.first(),
            Some(&0),
            "the reference starts with {separator}"
        );
        cuts.iter()
            .zip(cuts.iter().skip(1).chain([&text.len()]))
            .map(|(&a, &b)| text[a + line.len()..b].to_owned())
            .collect()
    };
    assert_eq!(parts.len(), n);
    let joined: String = parts
        .iter()
        .map(|p| {
            if separator.is_empty() {
                p.clone()
            } else {
                format!("{separator}\n{p}")
            }
        })
        .collect();
    assert_eq!(
        joined, text,
        "the parts do not join back into the reference"
    );
    parts
}

/// Upstream, as far as the list reaches it, served from the reference fixtures: every URL
/// file on the file server (concatenations split into their parts), every Helm repository
/// as a directory with an index, every OCI chart pushed to the registry at upstream's path.
fn publish(entries: &[Entry], reference: &Path, www: &Path, registry: &Registry, home: &Path) {
    let mut repositories = BTreeSet::new();
    for e in entries {
        let file = reference.join(&e.path);
        match e.kind.as_str() {
            "get" => write(&served(www, &e.source[0]), &std::fs::read(&file).unwrap()),
            "concat" => {
                let text = std::fs::read_to_string(&file).unwrap();
                for (url, part) in e
                    .source
                    .iter()
                    .zip(split(&text, e.source.len(), &e.separator))
                {
                    write(&served(www, url), part.as_bytes());
                }
            }
            "helm" => {
                let dir = served(www, &e.source[0]);
                write(
                    &dir.join(file.file_name().unwrap()),
                    &std::fs::read(&file).unwrap(),
                );
                repositories.insert(dir);
            }
            "oci" => {
                let reference = e.source[0].strip_prefix("oci://").unwrap();
                let parent = reference.rsplit_once('/').unwrap().0;
                let target = format!("oci://127.0.0.1:{}/{parent}", registry.port);
                helm(
                    home,
                    &["push", file.to_str().unwrap(), &target, "--plain-http"],
                );
            }
            other => panic!("{}: unknown kind {other}", e.path),
        }
    }
    for dir in repositories {
        helm(home, &["repo", "index", dir.to_str().unwrap()]);
    }
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// Repackage a chart: unpack, let `edit` change the tree, pack with other tar headers.
fn repack(package: &Path, into: &Path, work: &Path, edit: impl FnOnce(&Path)) {
    let dir = work.join("repack");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let status = Command::new("tar")
        .arg("-xzf")
        .arg(package)
        .arg("-C")
        .arg(&dir)
        .status()
        .unwrap();
    assert!(status.success());
    edit(&dir);
    // Helm wants the chart's own folder at the top of the archive, not `./`.
    let top: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    let status = Command::new("tar")
        .args([
            "--mtime=2001-02-03 04:05:06",
            "--owner=1234",
            "--group=1234",
            "-czf",
        ])
        .arg(into)
        .arg("-C")
        .arg(&dir)
        .args(top)
        .status()
        .unwrap();
    assert!(status.success());
}

/// Every file under `dir`, relative, sorted.
fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

/// The one cache directory under `<target>/fixtures/`.
fn cache_of(target: &Path) -> PathBuf {
    let dirs: Vec<PathBuf> = std::fs::read_dir(target.join("fixtures"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(dirs.len(), 1, "one cache directory: {dirs:?}");
    dirs[0].clone()
}

#[test]
fn the_download_path_fills_a_verified_cache_from_a_loopback_stand_in_for_upstream() {
    let reference = support::fixtures_dir();
    let entries = list();
    let tmp = tempfile::tempdir().expect("tempdir");
    let home = tmp.path().join("helm-home");

    // A checkout without ../shared/fixtures next to it: the script and its list only.
    let checkout = tmp.path().join("checkout");
    std::fs::create_dir_all(checkout.join("scripts")).unwrap();
    std::fs::create_dir_all(checkout.join("tests")).unwrap();
    std::fs::copy(script(), checkout.join("scripts/fixtures")).unwrap();
    std::fs::copy(
        support::root().join("tests/fixtures.lock"),
        checkout.join("tests/fixtures.lock"),
    )
    .unwrap();
    let target = tmp.path().join("target");

    let www = tmp.path().join("www");
    let http = FileServer::start(&www);
    let registry = Registry::start(&tmp.path().join("registry"));
    publish(&entries, &reference, &www, &registry, &home);

    let download = |http: &str, oci: &str| {
        fixtures_cmd(&checkout.join("scripts/fixtures"))
            .env_remove("HOMELAB_FIXTURES_OFFLINE")
            .env("CARGO_TARGET_DIR", &target)
            .env("HOMELAB_FIXTURES_MIRROR", http)
            .env("HOMELAB_FIXTURES_OCI_MIRROR", oci)
            // Anything that got past the mirror fails on loopback instead of leaving the machine.
            .env("https_proxy", "http://127.0.0.1:9")
            .env("HTTPS_PROXY", "http://127.0.0.1:9")
            .env("http_proxy", "http://127.0.0.1:9")
            .env("HTTP_PROXY", "http://127.0.0.1:9")
            .env("no_proxy", "127.0.0.1")
            .env("NO_PROXY", "127.0.0.1")
            .output()
            .expect("run scripts/fixtures")
    };
    let refused = |out: &Output, path: &str, why: &str| {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{path} must be refused:\n{stderr}"
        );
        assert!(out.stdout.is_empty(), "nothing printed on refusal");
        assert!(
            stderr.contains(&format!("error: {path} ")) && stderr.contains(why),
            "the refusal names {path} and {why}:\n{stderr}"
        );
        assert!(stderr.contains("refused, nothing was written"), "{stderr}");
        // Only verified, complete listed files: no staging directory, no partial file.
        let cache = cache_of(&target);
        let present = files_under(&cache);
        let listed: BTreeSet<&str> = entries.iter().map(|e| e.path.as_str()).collect();
        for f in &present {
            assert!(
                listed.contains(f.as_str()),
                "{f} left in the cache after a refusal"
            );
        }
        assert!(
            !present.iter().any(|f| f == path),
            "the refused {path} is in the cache"
        );
        present
    };

    // Nextcloud as upstream packages it: with the Collabora subchart the reference copy
    // lacks, listed in its Chart.yaml (both left out of its content digest).
    let nextcloud = entries
        .iter()
        .find(|e| e.path == "charts/nextcloud-9.2.4.tgz")
        .unwrap();
    let served_nextcloud = served(&www, &nextcloud.source[0]).join("nextcloud-9.2.4.tgz");
    repack(
        &reference.join(&nextcloud.path),
        &served_nextcloud,
        tmp.path(),
        |dir| {
            let collabora = tmp.path().join("collabora/collabora-online");
            write(
                &collabora.join("Chart.yaml"),
                b"apiVersion: v2\nname: collabora-online\nversion: 1.1.60\n",
            );
            let status = Command::new("tar")
                .arg("-czf")
                .arg(dir.join("nextcloud/charts/collabora-online-1.1.60.tgz"))
                .arg("-C")
                .arg(collabora.parent().unwrap())
                .arg("collabora-online")
                .status()
                .unwrap();
            assert!(status.success());
            let chart = dir.join("nextcloud/Chart.yaml");
            let text = std::fs::read_to_string(&chart).unwrap();
            std::fs::write(&chart, text + "# collabora-online is listed upstream\n").unwrap();
        },
    );
    helm(
        &home,
        &[
            "repo",
            "index",
            served_nextcloud.parent().unwrap().to_str().unwrap(),
        ],
    );

    // Flux's install.yaml is checked by its objects: one renamed Deployment is refused…
    let flux_url = &entries[0].source[0];
    assert_eq!(entries[0].path, "flux/install.yaml");
    let install = std::fs::read_to_string(reference.join("flux/install.yaml")).unwrap();
    assert!(install.contains("\n  name: source-controller\n"));
    write(
        &served(&www, flux_url),
        install
            .replacen(
                "\n  name: source-controller\n",
                "\n  name: source-controller-2\n",
                1,
            )
            .as_bytes(),
    );
    let out = download(&http.url(), &registry.url());
    assert!(refused(&out, "flux/install.yaml", "objects digest").is_empty());

    // …while other image tags (what the real release differs in) are accepted. A tampered
    // part of a concatenated CRD bundle is refused by its sha256.
    let release = install.replace(
        "ghcr.io/fluxcd/source-controller:v1.9.1",
        "ghcr.io/fluxcd/source-controller:v1.9.4",
    );
    assert_ne!(release, install);
    write(&served(&www, flux_url), release.as_bytes());
    let metallb_crds = entries
        .iter()
        .find(|e| e.path == "crds/metallb.yaml")
        .unwrap();
    let part = served(&www, &metallb_crds.source[2]);
    let original_part = std::fs::read(&part).unwrap();
    let mut tampered = original_part.clone();
    tampered.extend_from_slice(b"# one more line\n");
    write(&part, &tampered);
    let out = download(&http.url(), &registry.url());
    let present = refused(&out, "crds/metallb.yaml", "sha256");
    assert!(
        present.contains(&"flux/install.yaml".to_owned()),
        "{present:?}"
    );
    assert!(
        present.contains(&"crds/cert-manager.yaml".to_owned()),
        "{present:?}"
    );
    let cache = cache_of(&target);
    assert_eq!(
        std::fs::read_to_string(cache.join("flux/install.yaml")).unwrap(),
        release,
        "the cache holds what was downloaded"
    );

    // A chart is checked by its content: a changed values.yaml is refused…
    write(&part, &original_part);
    let metallb = entries
        .iter()
        .find(|e| e.path == "charts/metallb-0.16.1.tgz")
        .unwrap();
    let served_chart = served(&www, &metallb.source[0]).join("metallb-0.16.1.tgz");
    repack(
        &reference.join(&metallb.path),
        &served_chart,
        tmp.path(),
        |dir| {
            let values = dir.join("metallb/values.yaml");
            let text = std::fs::read_to_string(&values).unwrap();
            std::fs::write(&values, text + "# one more line\n").unwrap();
        },
    );
    helm(
        &home,
        &[
            "repo",
            "index",
            served_chart.parent().unwrap().to_str().unwrap(),
        ],
    );
    let out = download(&http.url(), &registry.url());
    refused(&out, "charts/metallb-0.16.1.tgz", "content digest");

    // …and the same content in other bytes (upstream's own packaging) is accepted.
    repack(
        &reference.join(&metallb.path),
        &served_chart,
        tmp.path(),
        |_| {},
    );
    helm(
        &home,
        &[
            "repo",
            "index",
            served_chart.parent().unwrap().to_str().unwrap(),
        ],
    );
    let before = http.requests().len();
    let out = download(&http.url(), &registry.url());
    let printed = PathBuf::from(ok(&out).trim());
    assert_eq!(printed, cache);
    let key = cache.file_name().unwrap().to_str().unwrap();
    assert!(
        key.len() == 16 && key.chars().all(|c| c.is_ascii_hexdigit()),
        "the cache is keyed by the list: {key}"
    );
    let mut expected: Vec<String> = entries.iter().map(|e| e.path.clone()).collect();
    expected.push("charts/index.yaml".into());
    expected.sort();
    assert_eq!(files_under(&cache), expected, "exactly the listed files");
    assert_ne!(
        std::fs::read(cache.join(&metallb.path)).unwrap(),
        std::fs::read(reference.join(&metallb.path)).unwrap(),
        "the repackaged chart was taken"
    );
    let listing = Command::new("tar")
        .arg("-tzf")
        .arg(cache.join(&nextcloud.path))
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&listing.stdout)
            .contains("nextcloud/charts/collabora-online-1.1.60.tgz"),
        "upstream's nextcloud, with Collabora, was taken"
    );
    let resumed = &http.requests()[before..];
    assert!(
        !resumed
            .iter()
            .any(|p| p.contains("fluxcd") || p.contains("cert-manager/cert-manager")),
        "files already in the cache were fetched again: {resumed:?}"
    );
    let index = std::fs::read_to_string(cache.join("charts/index.yaml")).unwrap();
    for e in entries.iter().filter(|e| e.path.starts_with("charts/")) {
        let file = e.path.strip_prefix("charts/").unwrap();
        assert!(
            index.contains(&format!("- {file}\n")),
            "index.yaml lists {file}"
        );
    }
    ok(&fixtures_cmd(&checkout.join("scripts/fixtures"))
        .arg("verify")
        .arg(&cache)
        .output()
        .unwrap());

    // A second run downloads nothing: with both stand-ins gone (and the URLs pointing at a
    // closed port) it still succeeds.
    drop(http);
    drop(registry);
    let out = download("http://127.0.0.1:9", "http://127.0.0.1:9");
    assert_eq!(PathBuf::from(ok(&out).trim()), cache);

    // The downloaded directory serves real tests: render + kustomize, CRD field checks, and
    // every HelmRelease templated with its chart from the cache.
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "render::example_renders_a_tree_kustomize_builds",
            "render::every_custom_object_uses_only_fields_its_crd_declares",
            "charts::every_pinned_chart_version_is_in_the_fixtures_index_or_has_a_stand_in",
            "charts::every_helm_release_templates_with_its_real_chart_and_serves_what_homelab_routes_to",
        ])
        .env("HOMELAB_FIXTURES_DIR", &cache)
        .env("HOMELAB_HELM", helm_bin())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("4 passed"),
        "the real tests failed with HOMELAB_FIXTURES_DIR={}:\n{stdout}{}",
        cache.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}
