//! Rendering the Flux repository from `homelab.yaml` and the embedded templates.
//!
//! Pure: a [`Config`] and the Flux install manifest in, a map of repository paths to file
//! contents out. Writing, merging with the user's edits and committing belong to the callers,
//! so rendering can be diffed, tested and benchmarked without touching the disk.

use std::collections::BTreeMap;

use minijinja::value::Serde;
use minijinja::{Environment, Value, context};
use serde::Serialize;

use crate::catalog::plan;
use crate::component::ComponentId;
use crate::config::{AcmeServer, Challenge, Config};
use crate::error::{Error, Result};

pub mod apps;
pub mod change;
pub mod lock;
pub mod mirror;
pub mod release;
pub mod renovate;
pub mod state;
pub mod templates;
pub mod values;
pub mod write;

/// The ACME directory of Let's Encrypt production.
pub const ACME_PRODUCTION: &str = "https://acme-v02.api.letsencrypt.org/directory";
/// The ACME directory of Let's Encrypt staging (untrusted certificates, generous limits).
pub const ACME_STAGING: &str = "https://acme-staging-v02.api.letsencrypt.org/directory";

/// The shared Gateway (envoy-gateway only) apps attach their HTTPRoutes to.
pub const GATEWAY_NAME: &str = "homelab";
/// The namespace of the shared Gateway: Envoy Gateway's own.
pub fn gateway_namespace() -> &'static str {
    ComponentId::EnvoyGateway.namespace()
}
/// The Gateway's HTTPS listener, which serves the wildcard `*.<domain>` certificate and which
/// app HTTPRoutes name as their `sectionName`.
pub const GATEWAY_SECTION: &str = "https";
/// The Secret (in [`gateway_namespace`]) holding the wildcard certificate of the Gateway.
pub const WILDCARD_SECRET: &str = "wildcard-tls";
/// Renovate's configuration, at the repository root.
pub const RENOVATE_FILE: &str = "renovate.json";
/// The IngressClass apps use with traefik.
pub const INGRESS_CLASS: &str = "traefik";

/// The rendered repository.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rendered {
    /// Repository-relative path (`/` separators) → content.
    pub files: BTreeMap<String, String>,
}

/// Render the whole repository with the templates embedded in this binary.
pub fn render(cfg: &Config, flux_install: &str) -> Result<Rendered> {
    let env = embedded_templates()?;
    render_with(&env, cfg, flux_install)
}

/// Render every file but the Flux install manifest (which only `flux.version` and
/// `flux.components` change, and which needs the Flux release): what `add-app`,
/// `remove-app` and `push`'s freshness check compare.
pub fn render_without_flux(cfg: &Config) -> Result<Rendered> {
    let env = embedded_templates()?;
    render_without_flux_with(&env, cfg)
}

/// The templates embedded in this binary; one that does not load is a defect.
fn embedded_templates() -> Result<Environment<'static>> {
    templates::environment().map_err(|e| {
        Error::defect(format!(
            "loading the embedded templates: {}",
            crate::error::chain(&e)
        ))
    })
}

fn render_without_flux_with(env: &Environment<'_>, cfg: &Config) -> Result<Rendered> {
    check_path_names(cfg)?;
    let base = base_context(cfg);
    let releases = component_releases(cfg)?;
    let mut files = BTreeMap::new();
    for entry in plan::entries(cfg) {
        let tmpl = env.get_template(entry.template).map_err(|e| {
            Error::defect(format!(
                "template {} is missing: {}",
                entry.template,
                crate::error::chain(&e)
            ))
        })?;
        let ctx = match entry.component {
            // Entry facts first, then the component's release, then the shared context:
            // `merge_maps` lets the first source that has a key win.
            Some(id) => minijinja::value::merge_maps([
                context! { resources => entry.resources, layer => entry.layer },
                releases[&id].clone(),
                base.clone(),
            ]),
            None => context! { resources => entry.resources, ..base.clone() },
        };
        let text = tmpl.render(ctx).map_err(|e| {
            Error::defect(format!(
                "rendering {} from {}: {}",
                entry.path,
                entry.template,
                crate::error::chain(&e)
            ))
        })?;
        files.insert(entry.path, text);
    }
    // Installed apps are part of the repository: a re-render keeps them in step with the
    // templates. Their encrypted Secrets are written once by `add-app`, never rendered.
    for app in &cfg.apps {
        files.extend(apps::render_app(cfg, app)?);
    }
    files.insert(crate::config::CONFIG_FILE.to_owned(), config_yaml(cfg));
    // Beside homelab.yaml, whose first line points editors at it; rendered, so it follows
    // the binary that reads the file.
    files.insert(
        crate::config::schema::SCHEMA_FILE.to_owned(),
        crate::config::schema::json_schema_text(),
    );
    files.insert(RENOVATE_FILE.to_owned(), renovate::config());
    Ok(Rendered { files })
}

/// The path of the Flux install manifest in the rendering.
pub fn flux_components_path(cfg: &Config) -> String {
    format!(
        "clusters/{}/flux-system/gotk-components.yaml",
        cfg.cluster.name
    )
}

/// Render the whole repository with the templates of `env` (e.g. an older template set).
pub fn render_with(env: &Environment<'_>, cfg: &Config, flux_install: &str) -> Result<Rendered> {
    let Rendered { mut files } = render_without_flux_with(env, cfg)?;
    let gotk = crate::flux::gotk_components(flux_install, &cfg.flux.version, &cfg.flux.components)?;
    files.insert(flux_components_path(cfg), gotk);
    Ok(Rendered { files })
}

/// The ClusterIssuer every app's certificates come from.
pub fn cluster_issuer_name(cfg: &Config) -> &'static str {
    match (cfg.certificates.challenge, cfg.certificates.acme_server) {
        (Challenge::Selfsigned, _) => "homelab-ca",
        (_, AcmeServer::Production) => "letsencrypt-production",
        (_, AcmeServer::Staging) => "letsencrypt-staging",
    }
}

/// The entries of `apps/kustomization.yaml`: one folder per installed app.
pub fn apps_resources(cfg: &Config) -> Vec<String> {
    cfg.apps.iter().map(|a| a.name.clone()).collect()
}

/// Names that become repository paths must be DNS-1123 labels, so no configuration can
/// write outside the repository or collide with another file (validation says so too; this
/// keeps `render` safe on its own).
fn check_path_names(cfg: &Config) -> Result<()> {
    let mut names = vec![("cluster.name", cfg.cluster.name.as_str())];
    names.extend(cfg.apps.iter().map(|a| ("apps[].name", a.name.as_str())));
    for (field, name) in names {
        if !crate::catalog::is_dns_label(name) {
            return Err(Error::usage(format!(
                "{field}: {name:?} is not a DNS label"
            ))
            .with_hint("use at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit"));
        }
    }
    Ok(())
}

/// `homelab.yaml` as written to the repository.
pub fn config_yaml(cfg: &Config) -> String {
    let body = crate::config::to_yaml(cfg);
    format!(
        "{}\n# The homelab's configuration: edit it and run `homelab render` to update the repository.\n{body}",
        crate::config::schema::modeline()
    )
}

/// The DNS-over-HTTPS resolvers cert-manager checks DNS-01 records with (cert-manager takes
/// `https://` URLs here since v1.13): two operators, addressed by IP so no lookup is needed.
pub const DNS01_RESOLVERS: &str = "https://1.1.1.1/dns-query,https://8.8.8.8/dns-query";

/// The release context (see [`release::Release`]) of every component `cfg` installs. A
/// component profile whose values do not evaluate is a defect.
fn component_releases(cfg: &Config) -> Result<BTreeMap<ComponentId, Value>> {
    let no_settings = BTreeMap::new();
    let ctx = values::context(cfg, None, &no_settings);
    plan::controllers(cfg)
        .into_iter()
        .map(|id| {
            let profile = id.profile();
            let values = values::values(profile, &no_settings, &ctx).map_err(|e| {
                Error::defect(format!(
                    "the component profile {} does not render: {}",
                    profile.name, e.message
                ))
            })?;
            let release = release::Release {
                profile,
                name: id.name(),
                namespace: id.namespace(),
                labels: BTreeMap::new(),
                values,
            };
            Ok((id, release.context(cfg)))
        })
        .collect()
}

#[derive(Serialize)]
struct Dns {
    solver: crate::config::dns::Solver,
}

#[derive(Serialize)]
struct MirrorCa {
    secret: &'static str,
    mount: &'static str,
}

/// What every template sees: the configuration and the values derived from it.
fn base_context(cfg: &Config) -> Value {
    let dns = Dns {
        solver: crate::config::dns::solver(
            cfg.certificates.dns_provider,
            &cfg.certificates.dns_settings,
        ),
    };
    let mirror_ca = mirror::ca_file(cfg).map(|_| MirrorCa {
        secret: mirror::CA_SECRET,
        mount: mirror::CA_MOUNT,
    });
    context! {
        cfg => Value::from(Serde(cfg)),
        cluster_path => format!("./clusters/{}", cfg.cluster.name),
        flux_url => crate::config::git_url::flux_url(&cfg.git.url),
        issuer => cluster_issuer_name(cfg),
        acme => plan::uses_acme(cfg),
        acme_servers => context! { production => ACME_PRODUCTION, staging => ACME_STAGING },
        dns => Value::from(Serde(&dns)),
        gateway => context! {
            name => GATEWAY_NAME,
            namespace => gateway_namespace(),
            secret => WILDCARD_SECRET,
        },
        ingress_class => INGRESS_CLASS,
        controllers => Value::from(Serde(
            plan::controllers(cfg).into_iter().map(ComponentId::profile).collect::<Vec<_>>(),
        )),
        layers => Value::from(Serde(plan::layers(cfg))),
        apps_depend_on => plan::apps_depend_on(cfg),
        dns01_resolvers => DNS01_RESOLVERS,
        mirror_ca => Value::from(Serde(mirror_ca)),
        chart_mirrors => mirror::urls(cfg),
        apps => apps_resources(cfg),
        storage_provisioner => plan::storage_provisioner_name(cfg.storage.provisioner),
        // Every component by id (`charts.cert_manager.namespace`), installed or not.
        charts => Value::from(Serde(
            ComponentId::ALL
                .map(|id| (id, id.profile()))
                .into_iter()
                .collect::<BTreeMap<_, _>>(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::config::{
        AcmeServer, App, Challenge, Choice, DnsProvider, IngressController, Provisioner,
    };

    fn flux_install() -> String {
        std::fs::read_to_string(crate::test_fixtures::flux_install())
            .expect("read the Flux fixture")
    }

    fn example() -> Config {
        let text = include_str!("../../examples/homelab.yaml");
        serde_saphyr::from_str(text).expect("example parses")
    }

    fn settings(p: DnsProvider) -> BTreeMap<String, String> {
        p.allowed_settings()
            .iter()
            .map(|k| ((*k).to_owned(), format!("value-of-{k}")))
            .collect()
    }

    /// The example varied along every option the templates branch on.
    fn variants() -> Vec<Config> {
        let mut out = Vec::new();
        for &ingress in IngressController::all() {
            for &challenge in Challenge::all() {
                for &provider in DnsProvider::all() {
                    if challenge != Challenge::Dns01 && provider != DnsProvider::Cloudflare {
                        continue;
                    }
                    for (provisioner, acme, default_class) in [
                        (Provisioner::CsiDriverNfs, AcmeServer::Production, true),
                        (
                            Provisioner::NfsSubdirExternalProvisioner,
                            AcmeServer::Staging,
                            false,
                        ),
                    ] {
                        let mut cfg = example();
                        cfg.ingress.controller = ingress;
                        cfg.certificates.challenge = challenge;
                        cfg.certificates.dns_provider = provider;
                        cfg.certificates.dns_settings = settings(provider);
                        cfg.certificates.acme_server = acme;
                        cfg.storage.provisioner = provisioner;
                        cfg.storage.default_class = default_class;
                        out.push(cfg);
                    }
                }
            }
        }
        let mut with_apps = example();
        with_apps.apps = vec![App {
            name: "nextcloud".into(),
            namespace: "nextcloud".into(),
            host: "cloud.example.com".into(),
            settings: BTreeMap::new(),
        }];
        with_apps.git.url = "ssh://git@example.com/homelab.git".into();
        out.push(with_apps);
        out
    }

    fn docs(text: &str) -> Vec<serde_json::Value> {
        serde_saphyr::from_multiple(text).unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    /// Components and apps are one model: the same templates write both, so a component's
    /// release differs from an app's only in what its profile says.
    #[test]
    fn components_and_apps_render_through_the_same_release_templates() {
        let cfg = variants().pop().expect("the variant with an app");
        let env = templates::environment().unwrap();
        let rendered = render_with(&env, &cfg, &flux_install()).unwrap();
        let one = |path: &str| {
            let text = rendered
                .files
                .get(path)
                .unwrap_or_else(|| panic!("{path} missing"));
            docs(text).remove(0)
        };
        let keys = |v: &serde_json::Value| -> BTreeSet<String> {
            v.as_object().unwrap().keys().cloned().collect()
        };
        let component = one("infrastructure/controllers/metallb/release.yaml");
        let app = one("apps/nextcloud/helmrelease.yaml");
        assert_eq!(keys(&component), keys(&app));
        assert_eq!(keys(&component["spec"]), keys(&app["spec"]));
        for policy in ["install", "upgrade", "driftDetection"] {
            assert_eq!(component["spec"][policy], app["spec"][policy], "{policy}");
        }
        for (component, app) in [
            (
                "infrastructure/controllers/metallb/namespace.yaml",
                "apps/nextcloud/namespace.yaml",
            ),
            (
                "infrastructure/controllers/metallb/source.yaml",
                "apps/nextcloud/helmrepository.yaml",
            ),
        ] {
            let (component, app) = (one(component), one(app));
            assert_eq!(component["kind"], app["kind"]);
            assert_eq!(keys(&component["metadata"]), keys(&app["metadata"]));
        }
    }

    #[test]
    fn every_embedded_template_is_rendered_by_some_configuration() {
        let install = flux_install();
        let env = templates::environment().unwrap();
        let mut used = BTreeSet::new();
        for cfg in variants() {
            for entry in plan::entries(&cfg) {
                used.insert(entry.template.to_owned());
            }
            let rendered = render_with(&env, &cfg, &install).unwrap();
            for (path, text) in &rendered.files {
                if path.ends_with(".yaml") {
                    let parsed = docs(text);
                    assert!(!parsed.is_empty(), "{path} is empty");
                    for d in &parsed {
                        assert!(d.is_object(), "{path}: {d}");
                    }
                }
            }
        }
        // Partials (`_name`) are rendered through their includers; `partials/` are shared
        // with the apps; `component/` is the one release template set of both.
        let all: BTreeSet<String> = templates::sources()
            .into_iter()
            .map(|(name, _)| name)
            .filter(|n| {
                (n.starts_with("repo/") || n.starts_with("component/"))
                    && !n.rsplit('/').next().unwrap().starts_with('_')
            })
            .collect();
        used.retain(|n| !n.starts_with("partials/"));
        assert_eq!(all, used);
    }

    #[test]
    fn each_dns_provider_gets_its_solver_and_secret_reference() {
        let install = flux_install();
        for &provider in DnsProvider::all() {
            let mut cfg = example();
            cfg.certificates.dns_provider = provider;
            cfg.certificates.dns_settings = settings(provider);
            let rendered = render(&cfg, &install).unwrap();
            let issuers =
                docs(&rendered.files["infrastructure/configs/cert-manager/cluster-issuers.yaml"]);
            let names: Vec<_> = issuers
                .iter()
                .map(|d| d["metadata"]["name"].clone())
                .collect();
            assert_eq!(names, ["letsencrypt-staging", "letsencrypt-production"]);
            let solver = &issuers[1]["spec"]["acme"]["solvers"][0];
            assert_eq!(
                solver["selector"]["dnsZones"],
                serde_json::json!(["example.com"])
            );
            let key = provider.spec().solver;
            let body = solver["dns01"][key]
                .as_object()
                .unwrap_or_else(|| panic!("{key}: {solver}"));
            let refs: Vec<_> = body
                .iter()
                .filter(|(k, _)| k.ends_with("SecretRef"))
                .map(|(_, v)| (v["name"].as_str().unwrap(), v["key"].as_str().unwrap()))
                .collect();
            let keys = provider.secret_keys(&cfg.certificates.dns_settings);
            let expected: Vec<_> = keys.iter().map(|k| (provider.secret_name(), *k)).collect();
            assert_eq!(refs, expected, "{key}");
            // Every setting the provider accepts lands in the solver, none is lost.
            let values: BTreeSet<&str> = body.values().filter_map(|v| v.as_str()).collect();
            for k in provider.allowed_settings() {
                assert!(
                    values.contains(format!("value-of-{k}").as_str()),
                    "{key}: {k} missing"
                );
            }
        }
    }

    #[test]
    fn http01_solves_through_the_ingress_or_the_gateway() {
        let install = flux_install();
        let mut cfg = example();
        cfg.certificates.challenge = Challenge::Http01;
        let r = render(&cfg, &install).unwrap();
        let issuer = &docs(&r.files["infrastructure/configs/cert-manager/cluster-issuers.yaml"])[1];
        assert_eq!(
            issuer["spec"]["acme"]["solvers"][0]["http01"]["ingress"]["ingressClassName"],
            "traefik"
        );
        cfg.ingress.controller = IngressController::EnvoyGateway;
        let r = render(&cfg, &install).unwrap();
        let issuer = &docs(&r.files["infrastructure/configs/cert-manager/cluster-issuers.yaml"])[1];
        let parent =
            &issuer["spec"]["acme"]["solvers"][0]["http01"]["gatewayHTTPRoute"]["parentRefs"][0];
        assert_eq!(parent["name"], GATEWAY_NAME);
        assert_eq!(parent["namespace"], gateway_namespace());
        // No wildcard certificate can come from HTTP-01.
        let gateway = docs(&r.files["infrastructure/configs/envoy-gateway/gateway.yaml"]);
        assert!(gateway.iter().all(|d| d["kind"] != "Certificate"));
        // App HTTPRoutes name the listener by GATEWAY_SECTION: it must be the HTTPS one.
        let listeners = gateway
            .iter()
            .find(|d| d["kind"] == "Gateway")
            .map(|d| d["spec"]["listeners"].clone())
            .unwrap();
        let https = listeners
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["protocol"] == "HTTPS")
            .unwrap();
        assert_eq!(https["name"], GATEWAY_SECTION);
    }

    #[test]
    fn selfsigned_builds_a_ca_chain() {
        let mut cfg = example();
        cfg.certificates.challenge = Challenge::Selfsigned;
        assert_eq!(cluster_issuer_name(&cfg), "homelab-ca");
        let r = render(&cfg, &flux_install()).unwrap();
        let chain = docs(&r.files["infrastructure/configs/cert-manager/cluster-issuers.yaml"]);
        let kinds: Vec<_> = chain
            .iter()
            .map(|d| {
                format!(
                    "{}/{}",
                    d["kind"].as_str().unwrap(),
                    d["metadata"]["name"].as_str().unwrap()
                )
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "ClusterIssuer/homelab-selfsigned",
                "Certificate/homelab-ca",
                "ClusterIssuer/homelab-ca"
            ]
        );
        assert_eq!(chain[1]["spec"]["isCA"], true);
        assert_eq!(
            chain[2]["spec"]["ca"]["secretName"],
            chain[1]["spec"]["secretName"]
        );
    }

    #[test]
    fn issuer_name_follows_the_acme_server() {
        let mut cfg = example();
        assert_eq!(cluster_issuer_name(&cfg), "letsencrypt-production");
        cfg.certificates.acme_server = AcmeServer::Staging;
        assert_eq!(cluster_issuer_name(&cfg), "letsencrypt-staging");
        cfg.certificates.challenge = Challenge::Http01;
        assert_eq!(cluster_issuer_name(&cfg), "letsencrypt-staging");
    }

    #[test]
    fn storage_class_follows_the_configuration() {
        let install = flux_install();
        let mut cfg = example();
        let r = render(&cfg, &install).unwrap();
        let sc = &docs(&r.files["infrastructure/controllers/csi-driver-nfs/storage-class.yaml"])[0];
        assert_eq!(sc["metadata"]["name"], "nfs");
        assert_eq!(
            sc["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"],
            "true"
        );
        assert_eq!(sc["provisioner"], "nfs.csi.k8s.io");
        assert_eq!(sc["parameters"]["server"], "192.168.1.5");
        assert_eq!(sc["parameters"]["share"], "/srv/nfs/kubernetes");
        assert_eq!(sc["mountOptions"], serde_json::json!(["nfsvers=4.1"]));
        cfg.storage.default_class = false;
        cfg.storage.provisioner = Provisioner::NfsSubdirExternalProvisioner;
        let r = render(&cfg, &install).unwrap();
        let sc = &docs(
            &r.files["infrastructure/controllers/nfs-subdir-external-provisioner/storage-class.yaml"],
        )[0];
        assert_eq!(
            sc["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"],
            "false"
        );
        let release = &docs(
            &r.files["infrastructure/controllers/nfs-subdir-external-provisioner/release.yaml"],
        )[0];
        assert_eq!(
            release["spec"]["values"]["storageClass"]["provisionerName"],
            sc["provisioner"]
        );
    }

    #[test]
    fn traefik_is_pinned_to_the_ingress_address_and_redirects_to_https() {
        let r = render(&example(), &flux_install()).unwrap();
        let release = &docs(&r.files["infrastructure/controllers/traefik/release.yaml"])[0];
        let values = &release["spec"]["values"];
        assert_eq!(
            values["service"]["annotations"]["metallb.io/loadBalancerIPs"],
            "192.168.1.240"
        );
        assert_eq!(values["ingressClass"]["isDefaultClass"], true);
        assert_eq!(
            values["ports"]["web"]["http"]["redirections"]["entryPoint"]["to"],
            "websecure"
        );
        let source = &docs(&r.files["infrastructure/controllers/traefik/source.yaml"])[0];
        assert_eq!(source["kind"], "OCIRepository");
        assert_eq!(
            source["spec"]["ref"]["tag"],
            ComponentId::Traefik.profile().chart.version
        );
        assert_eq!(release["spec"]["chartRef"]["name"], "traefik");
    }

    #[test]
    fn apps_are_listed_in_the_apps_kustomization() {
        let mut cfg = example();
        assert!(apps_resources(&cfg).is_empty());
        cfg.apps = ["nextcloud", "jellyfin"]
            .iter()
            .map(|n| App {
                name: (*n).into(),
                namespace: (*n).into(),
                host: format!("{n}.example.com"),
                settings: BTreeMap::new(),
            })
            .collect();
        assert_eq!(apps_resources(&cfg), ["nextcloud", "jellyfin"]);
        let r = render(&cfg, &flux_install()).unwrap();
        let k = &docs(&r.files["apps/kustomization.yaml"])[0];
        assert_eq!(k["resources"], serde_json::json!(["nextcloud", "jellyfin"]));
    }

    #[test]
    fn names_that_would_escape_the_repository_are_refused() {
        let install = flux_install();
        let mut cfg = example();
        cfg.cluster.name = "../../etc".into();
        let err = render(&cfg, &install).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.message.contains("cluster.name"), "{}", err.message);
        let mut cfg = example();
        cfg.apps = vec![App {
            name: "a/b".into(),
            namespace: "x".into(),
            host: "x".into(),
            settings: BTreeMap::new(),
        }];
        assert!(render(&cfg, &install).is_err());
    }

    #[test]
    fn the_cluster_path_has_every_flux_file() {
        let r = render(&example(), &flux_install()).unwrap();
        for f in [
            "kustomization.yaml",
            "flux-system/gotk-components.yaml",
            "flux-system/gotk-sync.yaml",
            "flux-system/kustomization.yaml",
            "infrastructure.yaml",
            "apps.yaml",
        ] {
            assert!(
                r.files.contains_key(&format!("clusters/homelab/{f}")),
                "{f}"
            );
        }
        let sync = docs(&r.files["clusters/homelab/flux-system/gotk-sync.yaml"]);
        assert_eq!(sync[0]["spec"]["interval"], "1m0s");
        assert_eq!(sync[0]["spec"]["secretRef"]["name"], "flux-system");
        assert_eq!(sync[1]["spec"]["interval"], "10m0s");
        assert_eq!(sync[1]["spec"]["path"], "./clusters/homelab");
        let infra = docs(&r.files["clusters/homelab/infrastructure.yaml"]);
        let names: Vec<&str> = infra
            .iter()
            .map(|d| d["metadata"]["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "infra-metallb",
                "infra-cert-manager",
                "infra-traefik",
                "infra-storage",
                "infra-metallb-pool",
                "infra-cert-issuers"
            ]
        );
        assert!(infra.iter().all(|k| k["spec"]["wait"] == true));
        // Nothing waits for the storage layer: a broken NFS server holds back only volumes.
        assert!(infra.iter().all(|k| {
            k["spec"]["dependsOn"]
                .as_array()
                .is_none_or(|deps| deps.iter().all(|d| d["name"] != "infra-storage"))
        }));
        assert_eq!(infra[4]["spec"]["dependsOn"][0]["name"], "infra-metallb");
        assert_eq!(
            infra[5]["spec"]["dependsOn"][0]["name"],
            "infra-cert-manager"
        );
        let apps = &docs(&r.files["clusters/homelab/apps.yaml"])[0];
        assert!(apps["spec"].get("dependsOn").is_none());
        assert_eq!(apps["spec"]["decryption"]["secretRef"]["name"], "sops-age");
        // A failing app must not hold back the commit that fixes it (no health check).
        assert!(apps["spec"].get("wait").is_none());
    }
}
