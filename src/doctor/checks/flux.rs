//! Flux: installed, its controllers and CRDs, the SOPS key Kustomizations decrypt with, the
//! repository it syncs and the commit it runs, chart sources, Kustomizations, HelmReleases.

use std::collections::BTreeSet;

use kube::ResourceExt;

use super::{first_pod_problem, flux_object, str_at, unreadable};
use crate::config::Config;
use crate::doctor::causes::Causes;
use crate::doctor::local::{GitState, SopsRecipients};
use crate::doctor::snapshot::{Listing, SecretAge, Snapshot};
use crate::doctor::{Finding, Section};
use crate::kube::status::{FLUX_NAMESPACE, ObjectStatus, SYNC_NAME, short_revision};

pub fn flux(
    cfg: &Config,
    snap: &Snapshot,
    git: &GitState,
    sops: &SopsRecipients,
    causes: &Causes,
) -> Section {
    let mut out = Vec::new();
    out.extend(unreadable(
        "flux.controllers",
        "deployments",
        &snap.deployments,
    ));
    if causes.not_installed {
        out.push(Finding::failed(
            "flux.installed",
            "Flux is not installed in this cluster",
            "run `homelab bootstrap` to install Flux and connect it to the repository",
        ));
        return Section::new("flux", "Flux", out);
    }

    for c in &causes.controllers {
        out.push(match &c.status {
            None => Finding::failed(
                "flux.controllers",
                format!("{} is not deployed in {FLUX_NAMESPACE}", c.name),
                "run `homelab bootstrap` to (re)install the Flux components listed in flux.components",
            ),
            Some(st) if st.ready => {
                Finding::ok("flux.controllers", format!("{} ready ({})", c.name, c.image))
            }
            Some(st) => {
                let deployment = snap
                    .deployments
                    .items()
                    .iter()
                    .find(|d| d.namespace().as_deref() == Some(FLUX_NAMESPACE) && d.name_any() == c.name)
                    .and_then(|d| serde_json::to_value(d).ok())
                    .unwrap_or_default();
                Finding::failed(
                    "flux.controllers",
                    format!(
                        "{} not ready: {} ({}){}",
                        c.name,
                        st.message,
                        c.image,
                        first_pod_problem(snap, &deployment)
                    ),
                    "nothing Flux delivers changes until it runs; the pod's reason above says why (an image pull needs the nodes to reach ghcr.io); `homelab bootstrap` reinstalls Flux's components",
                )
            }
        });
    }

    match &snap.crds {
        Listing::Items(_) if causes.missing_crds.is_empty() => {
            let count: usize = cfg
                .flux
                .components
                .iter()
                .map(|c| crate::doctor::causes::flux_crds(c).len())
                .sum();
            out.push(Finding::ok(
                "flux.crds",
                format!("{count} Flux CRDs present"),
            ));
        }
        Listing::Items(_) => out.push(Finding::failed(
            "flux.crds",
            format!("Flux CRDs missing: {}", causes.missing_crds.join(", ")),
            "run `homelab bootstrap` to install them",
        )),
        other => out.extend(unreadable("flux.crds", "CustomResourceDefinitions", other)),
    }

    out.extend(sops_findings(snap, sops));

    // The source everything else comes from.
    match &causes.source {
        None => {
            out.extend(unreadable(
                "flux.source",
                "GitRepositories",
                &snap.git_repositories,
            ));
            if !matches!(snap.git_repositories, Listing::Error(_)) {
                out.push(Finding::failed_unless(
                    "flux.source",
                    format!("GitRepository {FLUX_NAMESPACE}/{SYNC_NAME} does not exist: Flux is not connected to the repository"),
                    "run `homelab bootstrap`",
                    causes.for_source(),
                ));
            }
        }
        Some(repo) => {
            out.push(flux_object(
                "flux.source",
                repo,
                "the message is source-controller's own: check git.url, the deploy key (`homelab bootstrap --rotate-keys` replaces it) and that the branch exists on the remote",
                causes.for_source(),
            ));
            out.push(revision_finding(cfg, repo, git, causes));
        }
    }

    // Where charts come from: one line when all are fine, one per failing source.
    out.extend(unreadable(
        "flux.sources",
        "OCIRepositories",
        &snap.oci_repositories,
    ));
    out.extend(unreadable(
        "flux.sources",
        "HelmRepositories",
        &snap.helm_repositories,
    ));
    out.extend(unreadable("flux.sources", "HelmCharts", &snap.helm_charts));
    let mut sources_ok = 0;
    for src in &causes.chart_sources {
        if src.ready && !src.suspended {
            sources_ok += 1;
            continue;
        }
        out.push(flux_object(
            "flux.sources",
            src,
            "source-controller cannot fetch the chart: check its URL and version in the repository (infrastructure/controllers/ or apps/<app>/) and that the cluster reaches the registry",
            causes.for_chart_source(),
        ));
    }
    if sources_ok > 0 {
        out.push(Finding::ok(
            "flux.sources",
            format!("{sources_ok} chart source(s) ready"),
        ));
    }

    out.extend(unreadable(
        "flux.kustomizations",
        "Kustomizations",
        &snap.kustomizations,
    ));
    for k in &causes.kustomizations {
        let path = snap
            .kustomizations
            .items()
            .iter()
            .find(|o| o.name_any() == k.name && o.namespace().as_deref() == Some(&k.namespace))
            .and_then(|o| str_at(o, "/spec/path"))
            .unwrap_or("its path");
        out.push(flux_object(
            "flux.kustomizations",
            k,
            &format!(
                "the message is kustomize-controller's own: fix what it names under {path} in the repository, then `homelab push --wait`; `homelab status` shows every Flux object"
            ),
            causes.for_kustomization(k),
        ));
    }

    out.extend(unreadable(
        "flux.helmreleases",
        "HelmReleases",
        &snap.helm_releases,
    ));
    let app_releases: BTreeSet<(&str, &str)> = cfg
        .apps
        .iter()
        .map(|a| (a.namespace.as_str(), a.name.as_str()))
        .collect();
    for hr in &causes.releases {
        // Apps' releases are reported in the Apps section.
        if app_releases.contains(&(hr.namespace.as_str(), hr.name.as_str())) {
            continue;
        }
        out.push(release_finding(
            "flux.helmreleases",
            hr,
            causes,
            "infrastructure/controllers/",
        ));
    }
    Section::new("flux", "Flux", out)
}

/// A HelmRelease as a finding; `folder` is where its values live in the repository.
pub(super) fn release_finding(
    check: &str,
    hr: &ObjectStatus,
    causes: &Causes,
    folder: &str,
) -> Finding {
    flux_object(
        check,
        hr,
        &format!(
            "the message is helm-controller's own: fix the release's values in {folder} of the repository, then `homelab push --wait`; `homelab status` shows every Flux object"
        ),
        causes.for_release(hr),
    )
}

/// Does Flux run what the remote holds?
fn revision_finding(cfg: &Config, repo: &ObjectStatus, git: &GitState, causes: &Causes) -> Finding {
    let Some(applied) = repo.revision.as_deref() else {
        return Finding::warning(
            "flux.revision",
            format!("GitRepository {} has no artifact yet", repo.name),
            "Flux fetches within a minute of starting; `homelab sync` asks it now and waits",
        );
    };
    let Some(expected) = git.expected_revision() else {
        return Finding::warning(
            "flux.revision",
            format!(
                "Flux runs {}; no local commit to compare with",
                short_revision(applied)
            ),
            "run the doctor from the homelab repository (--dir)",
        );
    };
    let hash = applied.rsplit(':').next().unwrap_or(applied);
    let where_ = if git.remote_head.is_some() {
        format!("origin/{}", cfg.git.branch)
    } else {
        "the local HEAD".to_owned()
    };
    if hash == expected.to_string() {
        Finding::ok(
            "flux.revision",
            format!("Flux runs {} = {where_}", short_revision(applied)),
        )
    } else {
        Finding::failed_unless(
            "flux.revision",
            format!(
                "Flux runs {}, but {where_} is at {}",
                short_revision(applied),
                &expected.to_string()[..7]
            ),
            "Flux fetches every minute: `homelab sync` makes it fetch now and waits until the commit is applied",
            causes.for_revision(),
        )
    }
}

/// Every Secret a Kustomization decrypts SOPS files with: it exists, holds an age key, and
/// that key is one `.sops.yaml` encrypts for. Without it Flux cannot build those
/// Kustomizations, and every app with a secret stays undeployed.
fn sops_findings(snap: &Snapshot, sops: &SopsRecipients) -> Vec<Finding> {
    // Keys are filed by the recipient .sops.yaml names (see secrets::find_key).
    let recipient = match sops {
        SopsRecipients::Recipients(want) => want.first().cloned(),
        _ => None,
    }
    .unwrap_or_else(|| "<age1…>".to_owned());
    let key_file = crate::secrets::keys_dir()
        .map(|d| d.join(format!("{recipient}.agekey")).display().to_string())
        .unwrap_or_else(|_| "the age key file".to_owned());
    let apply_key = format!(
        "run `homelab bootstrap` from this repository: it puts the age key {key_file} into the cluster (keep that file backed up: it decrypts the app secrets)"
    );
    let mut out = Vec::new();
    for secret in &snap.sops_secrets {
        let id = format!("Secret {}/{}", secret.namespace, secret.name);
        let users = format!("Kustomization {}", secret.used_by.join(", "));
        out.push(match &secret.state {
            SecretAge::Missing => Finding::failed(
                "flux.sops",
                format!("{id} does not exist: {users} cannot decrypt its SOPS secrets"),
                apply_key.clone(),
            ),
            SecretAge::Error(err) => Finding::failed(
                "flux.sops",
                format!("cannot read {id}: {err}"),
                "the kubeconfig's user needs to read Secrets in flux-system",
            ),
            SecretAge::Keys { recipients, entries } if recipients.is_empty() => Finding::failed(
                "flux.sops",
                format!(
                    "{id} holds no age key ({}): {users} cannot decrypt its SOPS secrets",
                    if entries.is_empty() {
                        "it is empty".to_owned()
                    } else {
                        format!("no valid age identity in a *.agekey entry; it has {}", entries.join(", "))
                    }
                ),
                apply_key.clone(),
            ),
            SecretAge::Keys { recipients, .. } => match sops {
                SopsRecipients::Recipients(want) if !recipients.iter().any(|r| want.contains(r)) => {
                    Finding::failed(
                        "flux.sops",
                        format!(
                            "{id} holds the age key of {}, but .sops.yaml encrypts for {}: {users} cannot decrypt its SOPS secrets",
                            recipients.join(", "),
                            want.join(", ")
                        ),
                        format!("the cluster has another key than this repository's: {apply_key}"),
                    )
                }
                SopsRecipients::Recipients(_) => Finding::ok(
                    "flux.sops",
                    format!("{id} holds the age key .sops.yaml encrypts for ({})", recipients.join(", ")),
                ),
                SopsRecipients::NoFile => Finding::ok(
                    "flux.sops",
                    format!("{id} holds an age key ({}); no .sops.yaml to compare with yet", recipients.join(", ")),
                ),
                SopsRecipients::Invalid(why) => Finding::warning(
                    "flux.sops",
                    format!("{id} holds an age key ({}), but {why}", recipients.join(", ")),
                    "restore .sops.yaml from git (`git checkout -- .sops.yaml`) or re-add an app with a secret",
                ),
            },
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::doctor::Severity;
    use crate::doctor::checks::testing::{by_check, dynamic, example};
    use crate::doctor::snapshot::SopsSecret;

    fn section(snap: &Snapshot, sops: &SopsRecipients) -> Section {
        let cfg = example();
        flux(
            &cfg,
            snap,
            &GitState::default(),
            sops,
            &Causes::new(&cfg, snap, sops),
        )
    }

    #[test]
    fn suspended_flux_objects_are_flagged_without_naming_other_tools() {
        let mut snap = Snapshot::empty();
        snap.kustomizations = Listing::Items(vec![dynamic(
            "kustomize.toolkit.fluxcd.io/v1",
            "Kustomization",
            Some("flux-system"),
            "apps",
            json!({"spec": {"suspend": true}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}}),
        )]);
        let s = section(&snap, &SopsRecipients::NoFile);
        let f = by_check(&s, "flux.kustomizations")[0];
        assert_eq!(f.status, Severity::Warning);
        assert!(f.hint.as_deref().unwrap().contains("spec.suspend"), "{f:?}");
    }

    #[test]
    fn no_flux_says_bootstrap() {
        let mut snap = Snapshot::empty();
        snap.git_repositories = Listing::NotInstalled;
        let s = section(&snap, &SopsRecipients::NoFile);
        assert_eq!(s.findings.len(), 1);
        assert!(
            s.findings[0]
                .hint
                .as_deref()
                .unwrap()
                .contains("homelab bootstrap")
        );
    }

    #[test]
    fn the_sops_secret_must_hold_a_key_of_sops_yaml() {
        let mut snap = Snapshot::empty();
        let secret = |state| SopsSecret {
            namespace: "flux-system".into(),
            name: "sops-age".into(),
            used_by: vec!["flux-system/apps".into()],
            state,
        };
        let keys = |r: &[&str]| SecretAge::Keys {
            entries: vec!["age.agekey".into()],
            recipients: r.iter().map(|s| (*s).to_owned()).collect(),
        };
        let want = SopsRecipients::Recipients(vec!["age1mine".into()]);
        let cases = [
            (
                secret(SecretAge::Missing),
                Severity::Failed,
                "does not exist",
            ),
            (secret(keys(&[])), Severity::Failed, "holds no age key"),
            (
                secret(keys(&["age1other"])),
                Severity::Failed,
                "but .sops.yaml encrypts for age1mine",
            ),
            (
                secret(keys(&["age1mine"])),
                Severity::Ok,
                "holds the age key .sops.yaml encrypts for",
            ),
        ];
        for (s, severity, needle) in cases {
            snap.sops_secrets = vec![s];
            let section = section(&snap, &want);
            let f = by_check(&section, "flux.sops")[0];
            assert_eq!(f.status, severity, "{f:?}");
            assert!(f.message.contains(needle), "{f:?}");
            if severity == Severity::Failed {
                assert!(
                    f.hint.as_deref().unwrap().contains("homelab bootstrap"),
                    "{f:?}"
                );
            }
        }
    }
}
