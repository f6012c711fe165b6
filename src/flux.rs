//! The Flux install manifest: fetch once, cache, filter to the configured components.
//!
//! `flux bootstrap` writes `gotk-components.yaml` from the manifests of the release. We do the
//! same without the flux CLI: the release's `install.yaml` (from `--flux-manifests`, the cache,
//! or one download) is checked and then filtered to the components in `homelab.yaml`, with the
//! header `flux install --export` writes, so the repository looks exactly like a bootstrapped one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::config::FLUX_COMPONENTS;
use crate::error::{Error, Result};

/// The components every Flux install has; a manifest without them is not Flux's.
const CORE_COMPONENTS: &[&str] = &["source-controller", "kustomize-controller"];

/// The label that ties an object to one controller; objects without it are shared.
const COMPONENT_LABEL: &str = "app.kubernetes.io/component";

/// The Flux install manifest of `version`: from `override_file` if given, else from the cache
/// (`$XDG_CACHE_HOME/homelab/flux/<version>/install.yaml`), else downloaded once from the
/// release, checked, and cached.
pub fn install_manifest(version: &str, override_file: Option<&Path>) -> Result<String> {
    check_version_syntax(version)?;
    if let Some(path) = override_file {
        let text = read_manifest_file(path).map_err(|why| {
            Error::usage(format!(
                "cannot read the Flux manifests file {}: {why}",
                path.display()
            ))
            .with_hint("pass an existing install.yaml with --flux-manifests (or HOMELAB_FLUX_MANIFESTS), or unset it to download the release's")
        })?;
        check_install(&text, version).map_err(|e| {
            let hint = format!(
                "--flux-manifests must be the install.yaml of the Flux {version} release (https://github.com/fluxcd/flux2/releases/download/{version}/install.yaml), or set flux.version to match it"
            );
            Error::usage(format!("{}: {}", path.display(), e.message)).with_hint(hint)
        })?;
        return Ok(text);
    }

    load_cached(version, &cache_file(version)?, download)
}

/// The largest install manifest read or downloaded: Flux's is about 0.3 MB, so this leaves
/// room for growth while a wrong file (`/dev/zero`, a disk image) cannot exhaust memory.
pub const MAX_MANIFEST_BYTES: u64 = 64 * 1024 * 1024;

/// Read a manifest file given by the user: a regular file (not a device, pipe or
/// directory) of at most [`MAX_MANIFEST_BYTES`], as UTF-8 text.
fn read_manifest_file(path: &Path) -> std::result::Result<String, String> {
    use std::io::Read as _;
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let meta = file.metadata().map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("it is not a regular file (a directory, device or pipe)".to_owned());
    }
    let mut bytes = Vec::new();
    file.take(MAX_MANIFEST_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > MAX_MANIFEST_BYTES {
        return Err(format!(
            "it is larger than {} MiB, so it cannot be Flux's install.yaml (about 0.3 MB)",
            MAX_MANIFEST_BYTES / (1024 * 1024)
        ));
    }
    String::from_utf8(bytes).map_err(|_| "it is not UTF-8 text".to_owned())
}

/// The cached manifest at `cached`, else `fetch` it, check it and cache it.
fn load_cached(
    version: &str,
    cached: &Path,
    fetch: impl FnOnce(&str) -> Result<String>,
) -> Result<String> {
    if cached.is_file() {
        let text = std::fs::read_to_string(cached)?;
        check_install(&text, version).map_err(|e| {
            Error::failed(format!(
                "the cached Flux manifest {} is not usable: {}",
                cached.display(),
                e.message
            ))
            .with_hint(format!(
                "delete {} and run again to download it afresh",
                cached.display()
            ))
        })?;
        return Ok(text);
    }

    let text = fetch(version)?;
    check_install(&text, version).map_err(|e| {
        Error::failed(format!(
            "the downloaded Flux {version} manifest: {}",
            e.message
        ))
    })?;
    write_cache(cached, &text)?;
    Ok(text)
}

/// `gotk-components.yaml`: the install manifest reduced to `components`, headed like
/// `flux install --export`. Objects of other controllers (Deployments, Services,
/// ServiceAccounts, and the CRDs only they serve) are dropped; shared ones (Namespace, RBAC,
/// NetworkPolicies, ResourceQuota) are kept verbatim.
pub fn gotk_components(install: &str, version: &str, components: &[String]) -> Result<String> {
    // The version and component names go into the header comment: only known shapes pass.
    check_version_syntax(version)?;
    for c in components {
        if !FLUX_COMPONENTS.contains(&c.as_str()) {
            return Err(
                Error::usage(format!("flux.components: unknown Flux component {c:?}"))
                    .with_hint(format!("use some of: {}", FLUX_COMPONENTS.join(", "))),
            );
        }
    }
    for core in CORE_COMPONENTS {
        if !components.iter().any(|c| c == core) {
            return Err(Error::usage(format!(
                "flux.components: {core} is required (Flux cannot sync the repository without it)"
            ))
            .with_hint(format!("add {core} to flux.components")));
        }
    }

    let docs = documents(install, false)?;
    let mut out = format!(
        "---\n# This manifest was generated by flux. DO NOT EDIT.\n# Flux Version: {version}\n# Components: {}\n",
        components.join(",")
    );
    let mut first = true;
    let mut deployments = Vec::new();
    for doc in &docs {
        let keep = match doc.meta.metadata.labels.get(COMPONENT_LABEL) {
            Some(component) => components.iter().any(|c| c == component),
            None => true,
        };
        if !keep {
            continue;
        }
        if doc.meta.kind == "Deployment" {
            deployments.push(doc.meta.metadata.name.as_str());
        }
        if !first {
            out.push_str("---\n");
        }
        first = false;
        out.push_str(doc.text);
        if !doc.text.ends_with('\n') {
            out.push('\n');
        }
    }
    if let Some(missing) = components
        .iter()
        .find(|c| !deployments.contains(&c.as_str()))
    {
        return Err(Error::usage(format!(
            "flux.components: {missing} is not part of the Flux {version} install manifest"
        ))
        .with_hint("remove it from flux.components, or use a Flux version that ships it"));
    }
    Ok(out)
}

/// One YAML document of a multi-document manifest: its text and the bits we filter on.
struct Document<'a> {
    text: &'a str,
    meta: Meta,
}

#[derive(Debug, Default, Deserialize)]
struct Meta {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    metadata: Metadata,
}

#[derive(Debug, Default, Deserialize)]
struct Metadata {
    #[serde(default)]
    name: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

/// Split a manifest at its `---` lines, dropping empty and comment-only documents and the
/// leading comment lines (a release's own header) of each, and read each one's kind, name and
/// labels. With `whole`, every document is parsed in full (to check it); otherwise only its
/// `kind` and `metadata` blocks are, which is what filtering needs and far cheaper on CRDs.
fn documents(manifest: &str, whole: bool) -> Result<Vec<Document<'_>>> {
    let mut out = Vec::new();
    for (index, raw) in split_documents(manifest).into_iter().enumerate() {
        let text = strip_leading_comments(raw);
        if text.trim().is_empty() {
            continue;
        }
        let parse = |t: &str| serde_saphyr::from_str::<Meta>(t);
        let meta = if whole {
            parse(text)
        } else {
            // Fall back to the whole document if the cut-out header is not valid on its own.
            parse(&header_blocks(text)).or_else(|_| parse(text))
        }
        .map_err(|e| Error::failed(format!("document {} is not valid YAML: {e}", index + 1)))?;
        if meta.kind.is_empty() {
            return Err(Error::failed(format!(
                "document {} has no kind: not a Kubernetes manifest",
                index + 1
            )));
        }
        out.push(Document { text, meta });
    }
    Ok(out)
}

/// The top-level `kind:` and `metadata:` blocks of a block-style document.
fn header_blocks(doc: &str) -> String {
    let mut out = String::new();
    let mut keep = false;
    for line in doc.split_inclusive('\n') {
        let top_level = line
            .chars()
            .next()
            .is_some_and(|c| !c.is_whitespace() && c != '#');
        if top_level {
            keep = line.starts_with("kind:") || line.starts_with("metadata:");
        }
        if keep {
            out.push_str(line);
        }
    }
    out
}

fn split_documents(manifest: &str) -> Vec<&str> {
    let mut docs = Vec::new();
    let mut start = 0;
    let mut pos = 0;
    for line in manifest.split_inclusive('\n') {
        let bare = line.trim_end();
        // Only a `---` at column 0 separates documents; indented ones are block-scalar text.
        if bare == "---" || bare.starts_with("--- ") {
            docs.push(&manifest[start..pos]);
            start = pos + line.len();
        }
        pos += line.len();
    }
    docs.push(&manifest[start..]);
    docs
}

fn strip_leading_comments(doc: &str) -> &str {
    let mut rest = doc;
    while let Some(line) = rest.split_inclusive('\n').next() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            rest = &rest[line.len()..];
        } else {
            break;
        }
    }
    rest
}

/// Is `text` the Flux install manifest of `version`? Every document parses, the objects are
/// Flux's (`app.kubernetes.io/part-of: flux`), any version label names `version`, and the
/// core controllers are there.
fn check_install(text: &str, version: &str) -> Result<()> {
    let docs = documents(text, true)?;
    if docs.is_empty() {
        return Err(Error::failed("it holds no Kubernetes objects"));
    }
    let namespace = docs
        .iter()
        .find(|d| d.meta.kind == "Namespace")
        .ok_or_else(|| Error::failed("it has no Namespace: not a Flux install manifest"))?;
    if namespace
        .meta
        .metadata
        .labels
        .get("app.kubernetes.io/part-of")
        .map(String::as_str)
        != Some("flux")
    {
        return Err(Error::failed(
            "its Namespace is not labelled app.kubernetes.io/part-of: flux: not a Flux install manifest",
        ));
    }
    for doc in &docs {
        if let Some(found) = doc.meta.metadata.labels.get("app.kubernetes.io/version")
            && found != version
        {
            return Err(Error::failed(format!(
                "it is the manifest of Flux {found}, not {version}"
            )));
        }
    }
    for core in CORE_COMPONENTS {
        if !docs
            .iter()
            .any(|d| d.meta.kind == "Deployment" && d.meta.metadata.name == *core)
        {
            return Err(Error::failed(format!("it has no {core} Deployment")));
        }
    }
    Ok(())
}

/// Versions become URL and cache path segments, so only `vMAJOR.MINOR.PATCH[-pre]` passes.
fn check_version_syntax(version: &str) -> Result<()> {
    let ok = version.strip_prefix('v').is_some_and(|rest| {
        let core = rest.split('-').next().unwrap_or("");
        let parts: Vec<&str> = core.split('.').collect();
        parts.len() == 3
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
            && rest
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
    });
    if ok {
        Ok(())
    } else {
        Err(Error::usage(format!(
            "flux.version: {version:?} is not a Flux release version"
        ))
        .with_hint("write it like v2.9.4"))
    }
}

fn cache_file(version: &str) -> Result<PathBuf> {
    let base = crate::dirs::homelab(crate::dirs::Base::Cache).ok_or_else(|| {
        Error::failed(format!(
            "cannot find a cache directory: {}",
            crate::dirs::missing(crate::dirs::Base::Cache)
        ))
        .with_hint("set XDG_CACHE_HOME, or pass --flux-manifests FILE")
    })?;
    Ok(base.join("flux").join(version).join("install.yaml"))
}

fn download(version: &str) -> Result<String> {
    let url = format!("https://github.com/fluxcd/flux2/releases/download/{version}/install.yaml");
    let fail = |e: ureq::Error| {
        Error::failed(format!("cannot download {url}: {e}")).with_hint(
            "check the network, or download it yourself and pass it with --flux-manifests FILE",
        )
    };
    let mut response = ureq::get(&url).call().map_err(fail)?;
    response
        .body_mut()
        .with_config()
        .limit(MAX_MANIFEST_BYTES)
        .read_to_string()
        .map_err(fail)
}

/// Write through a temporary file and rename, so a crash never leaves a truncated cache.
fn write_cache(path: &Path, text: &str) -> Result<()> {
    let dir = path.parent().expect("cache file has a parent");
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".install.yaml.{}", std::process::id()));
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> String {
        std::fs::read_to_string(crate::test_fixtures::flux_install())
            .expect("read the Flux fixture")
    }

    fn names(components: &[&str]) -> Vec<String> {
        components.iter().map(|c| (*c).to_owned()).collect()
    }

    fn objects(manifest: &str) -> Vec<(String, String)> {
        documents(manifest, true)
            .expect("parses")
            .into_iter()
            .map(|d| (d.meta.kind, d.meta.metadata.name))
            .collect()
    }

    #[test]
    fn default_components_drop_image_controllers_and_source_watcher() {
        let install = fixture();
        let out = gotk_components(&install, "v2.9.4", &names(&FLUX_COMPONENTS[..4])).unwrap();
        assert!(out.starts_with(
            "---\n# This manifest was generated by flux. DO NOT EDIT.\n# Flux Version: v2.9.4\n# Components: source-controller,kustomize-controller,helm-controller,notification-controller\napiVersion: v1\nkind: Namespace\n"
        ));
        let objs = objects(&out);
        let has = |kind: &str, name: &str| objs.iter().any(|(k, n)| k == kind && n == name);
        for c in &FLUX_COMPONENTS[..4] {
            assert!(has("Deployment", c), "{c} Deployment kept");
            assert!(has("ServiceAccount", c), "{c} ServiceAccount kept");
        }
        for c in &FLUX_COMPONENTS[4..] {
            assert!(!has("Deployment", c), "{c} Deployment dropped");
            assert!(!has("ServiceAccount", c), "{c} ServiceAccount dropped");
        }
        assert!(!has("Service", "source-watcher"));
        assert!(!has(
            "CustomResourceDefinition",
            "imagepolicies.image.toolkit.fluxcd.io"
        ));
        assert!(!has(
            "CustomResourceDefinition",
            "artifactgenerators.source.extensions.fluxcd.io"
        ));
        // Shared objects stay.
        for (kind, name) in [
            ("Namespace", "flux-system"),
            ("ResourceQuota", "critical-pods"),
            ("ClusterRole", "crd-controller"),
            ("ClusterRoleBinding", "cluster-reconciler"),
            ("NetworkPolicy", "allow-egress"),
            ("NetworkPolicy", "allow-webhooks"),
            ("Service", "webhook-receiver"),
            (
                "CustomResourceDefinition",
                "ocirepositories.source.toolkit.fluxcd.io",
            ),
            (
                "CustomResourceDefinition",
                "helmreleases.helm.toolkit.fluxcd.io",
            ),
        ] {
            assert!(has(kind, name), "{kind}/{name} kept");
        }
        // The whole output is valid multi-document YAML.
        let all: Vec<serde_json::Value> = serde_saphyr::from_multiple(&out).unwrap();
        assert_eq!(all.len(), objs.len());
    }

    #[test]
    fn every_component_keeps_the_whole_manifest() {
        let install = fixture();
        let all = names(FLUX_COMPONENTS);
        let out = gotk_components(&install, "v2.9.4", &all).unwrap();
        assert_eq!(objects(&out), objects(&install));
        assert!(out.contains("# Components: source-controller,kustomize-controller,helm-controller,notification-controller,image-reflector-controller,image-automation-controller,source-watcher\n"));
    }

    #[test]
    fn filtering_is_stable_when_run_on_its_own_output() {
        let install = fixture();
        let comps = names(&FLUX_COMPONENTS[..5]);
        let once = gotk_components(&install, "v2.9.4", &comps).unwrap();
        let twice = gotk_components(&once, "v2.9.4", &comps).unwrap();
        assert_eq!(once, twice);
    }

    #[test]
    fn unknown_or_missing_core_components_are_usage_errors() {
        let install = fixture();
        let err = gotk_components(
            &install,
            "v2.9.4",
            &names(&[
                "source-controller",
                "kustomize-controller",
                "helmcontroller",
            ]),
        )
        .unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.message.contains("flux.components") && err.message.contains("helmcontroller"));
        assert!(err.hint.unwrap().contains("helm-controller"));
        let err = gotk_components(&install, "v2.9.4", &names(&["source-controller"])).unwrap_err();
        assert!(err.message.contains("kustomize-controller is required"));
    }

    #[test]
    fn a_component_absent_from_the_manifest_is_reported() {
        let install = fixture();
        let without_watcher =
            gotk_components(&install, "v2.9.4", &names(&FLUX_COMPONENTS[..6])).unwrap();
        let err = gotk_components(&without_watcher, "v2.9.4", &names(FLUX_COMPONENTS)).unwrap_err();
        assert!(
            err.message.contains("source-watcher is not part of"),
            "{}",
            err.message
        );
    }

    #[test]
    fn the_fixture_passes_the_check_and_others_do_not() {
        let install = fixture();
        check_install(&install, "v2.9.4").unwrap();
        let relabelled = install.replacen(
            "app.kubernetes.io/part-of: flux\n",
            "app.kubernetes.io/part-of: flux\n    app.kubernetes.io/version: v2.8.0\n",
            1,
        );
        let err = check_install(&relabelled, "v2.9.4").unwrap_err();
        assert!(err.message.contains("v2.8.0"), "{}", err.message);
        assert!(
            check_install(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n",
                "v2.9.4"
            )
            .is_err()
        );
        assert!(check_install("a: [unclosed\n", "v2.9.4").is_err());
    }

    #[test]
    fn override_files_are_read_with_a_bound_and_must_be_regular() {
        // Devices and directories are refused before a byte is read.
        for path in ["/dev/zero", "/"] {
            let err = install_manifest("v2.9.4", Some(Path::new(path))).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{path}");
            assert!(
                err.message.contains("not a regular file"),
                "{}",
                err.message
            );
        }
        // A (sparse) file one byte over the bound is refused without reading it all.
        let dir = tempfile::tempdir().unwrap();
        let huge = dir.path().join("huge.yaml");
        std::fs::File::create(&huge)
            .unwrap()
            .set_len(MAX_MANIFEST_BYTES + 1)
            .unwrap();
        let err = install_manifest("v2.9.4", Some(&huge)).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(
            err.message.contains("larger than 64 MiB"),
            "{}",
            err.message
        );
    }

    #[test]
    fn override_file_is_read_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("install.yaml");
        std::fs::write(&good, fixture()).unwrap();
        assert_eq!(install_manifest("v2.9.4", Some(&good)).unwrap(), fixture());

        let bad = dir.path().join("bad.yaml");
        std::fs::write(&bad, "kind: ConfigMap\nmetadata: {name: x}\n").unwrap();
        let err = install_manifest("v2.9.4", Some(&bad)).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.hint.is_some());

        let err = install_manifest("v2.9.4", Some(&dir.path().join("missing.yaml"))).unwrap_err();
        assert!(err.message.contains("missing.yaml"));
        let err = install_manifest("../../etc", Some(&good)).unwrap_err();
        assert!(err.message.contains("flux.version"));
        let err = gotk_components(
            &fixture(),
            "v2.9.4\napiVersion: v1",
            &names(&FLUX_COMPONENTS[..4]),
        )
        .unwrap_err();
        assert!(err.message.contains("flux.version"));
    }

    #[test]
    fn the_manifest_is_fetched_once_then_read_from_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let cached = dir.path().join("homelab/flux/v2.9.4/install.yaml");
        let mut fetches = 0;
        let text = load_cached("v2.9.4", &cached, |_| {
            fetches += 1;
            Ok(fixture())
        })
        .unwrap();
        assert_eq!(fetches, 1);
        assert_eq!(std::fs::read_to_string(&cached).unwrap(), text);
        let again = load_cached("v2.9.4", &cached, |_| panic!("must not fetch again")).unwrap();
        assert_eq!(again, text);

        // A fetched manifest that fails the check is not cached.
        let other = dir.path().join("other/install.yaml");
        let err = load_cached("v2.9.4", &other, |_| Ok("kind: ConfigMap\n".into())).unwrap_err();
        assert!(err.message.contains("downloaded"), "{}", err.message);
        assert!(!other.exists());

        // A damaged cache says how to recover.
        std::fs::write(&cached, "garbage: [").unwrap();
        let err = load_cached("v2.9.4", &cached, |_| panic!("no fetch")).unwrap_err();
        assert!(err.hint.unwrap().contains("delete"));
    }

    #[test]
    fn reading_only_the_header_blocks_gives_the_same_metadata() {
        let install = fixture();
        let fast = documents(&install, false).unwrap();
        let whole = documents(&install, true).unwrap();
        assert_eq!(fast.len(), whole.len());
        for (a, b) in fast.iter().zip(&whole) {
            assert_eq!(a.meta.kind, b.meta.kind);
            assert_eq!(a.meta.metadata.name, b.meta.metadata.name);
            assert_eq!(a.meta.metadata.labels, b.meta.metadata.labels);
        }
        // Key order does not matter, and flow-style metadata still parses.
        let doc = "metadata:\n  name: x\n  labels: {a: b}\nspec:\n  kind: Wrong\nkind: Thing\n";
        let meta = &documents(doc, false).unwrap()[0].meta;
        assert_eq!(
            (meta.kind.as_str(), meta.metadata.name.as_str()),
            ("Thing", "x")
        );
        assert_eq!(meta.metadata.labels["a"], "b");
    }

    #[test]
    fn header_comments_of_a_release_manifest_are_not_duplicated() {
        let install = format!(
            "---\n# This manifest was generated by flux. DO NOT EDIT.\n# Flux Version: v2.9.4\n# Components: x\n{}",
            fixture()
        );
        let out = gotk_components(&install, "v2.9.4", &names(&FLUX_COMPONENTS[..4])).unwrap();
        assert_eq!(out.matches("DO NOT EDIT").count(), 1);
    }
}
