//! Making Flux apply a commit now, and knowing when it has: the engine of `homelab sync` and
//! of `push --wait` / `add-app --wait`.
//!
//! Flux polls git every interval; `reconcile.fluxcd.io/requestedAt` on an object asks its
//! controller to reconcile it at once (what `flux reconcile` does), and the controller echoes
//! the value in `status.lastHandledReconcileAt` once it has. The wait then follows the chain
//! a commit travels: the GitRepository fetches it, every Kustomization applies it, every
//! HelmRelease reconciles what they applied. Each object is judged by
//! [`crate::kube::status`]; an object that cannot get there by waiting (suspended, stalled, a
//! fetch that found another commit) ends the wait early, naming it.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use kube::Client;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::kube::client::describe;
use crate::kube::status::{
    self, FLUX_NAMESPACE, GIT_REPOSITORY, HELM_RELEASE, KUSTOMIZATION, Listed, ObjectRef,
    ObjectStatus, SYNC_NAME, State,
};

/// The annotation that asks a Flux controller to reconcile now.
pub const REQUESTED_AT: &str = "reconcile.fluxcd.io/requestedAt";

/// The GitRepository that syncs the homelab repository.
pub fn sync_source() -> ObjectRef {
    ObjectRef {
        kind: GIT_REPOSITORY.kind.to_owned(),
        namespace: FLUX_NAMESPACE.to_owned(),
        name: SYNC_NAME.to_owned(),
    }
}

/// The revision Flux reports for `commit` of `branch`: `main@sha1:<hash>`.
pub fn revision_of(branch: &str, commit: &str) -> String {
    format!("{branch}@sha1:{commit}")
}

/// The revision of the local branch `branch` in the repository at `dir`: what a push sent.
pub fn local_revision(dir: &Path, branch: &str) -> Result<String> {
    let repo = git2::Repository::open(dir).map_err(|e| {
        Error::usage(format!(
            "{} is not a git repository: {}",
            dir.display(),
            e.message()
        ))
        .with_hint("run homelab in the homelab repository (--dir DIR)")
    })?;
    let commit = repo
        .find_reference(&format!("refs/heads/{branch}"))
        .ok()
        .and_then(|r| r.target())
        .ok_or_else(|| {
            Error::failed(format!("the local branch {branch} has no commits"))
                .with_hint("commit and push first: `homelab push --wait`")
        })?;
    Ok(revision_of(branch, &commit.to_string()))
}

/// The branch the homelab's GitRepository follows, when it exists.
pub async fn source_branch(client: &Client) -> Result<Option<String>> {
    let api: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), FLUX_NAMESPACE, &GIT_REPOSITORY.resource());
    match api.get_opt(SYNC_NAME).await {
        Ok(Some(obj)) => Ok(obj
            .data
            .pointer("/spec/ref/branch")
            .and_then(Value::as_str)
            .map(str::to_owned)),
        Ok(None) => Ok(None),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(None),
        Err(e) => Err(unreadable(&e)),
    }
}

fn unreadable(err: &kube::Error) -> Error {
    Error::failed(format!("cannot read the GitRepositories: {}", describe(err))).with_hint(
        "check the cluster is reachable and the kubeconfig's user may read Flux objects (`homelab doctor` says more)",
    )
}

fn not_bootstrapped() -> Error {
    Error::failed(format!(
        "Flux does not sync this cluster: there is no GitRepository {FLUX_NAMESPACE}/{SYNC_NAME}"
    ))
    .with_hint("run `homelab bootstrap` to install Flux and connect it to the repository")
}

/// What a reconciliation request touched.
#[derive(Debug, Clone, Default)]
pub struct Requested {
    /// The value written, to recognise the controllers' answer.
    pub token: String,
    /// The objects annotated, in the order they were (the source, then the Kustomizations
    /// by their `dependsOn`).
    pub objects: Vec<ObjectRef>,
    /// Suspended Kustomizations, left alone (Flux ignores requests for them).
    pub suspended: Vec<ObjectRef>,
}

/// A fresh request value: the time, as `flux reconcile` writes it.
pub fn new_token() -> String {
    k8s_openapi::jiff::Timestamp::now().to_string()
}

async fn annotate(client: &Client, object: &ObjectRef, token: &str) -> Result<()> {
    let kind = status::FluxKind::named(&object.kind).unwrap_or(KUSTOMIZATION);
    let api: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), &object.namespace, &kind.resource());
    let patch = json!({"metadata": {"annotations": {REQUESTED_AT: token}}});
    api.patch(&object.name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map(|_| ())
        .map_err(|e| {
            Error::failed(format!(
                "cannot ask Flux to reconcile {object}: {}",
                describe(&e)
            ))
            .with_hint("the kubeconfig's user needs to patch Flux objects (cluster-admin does)")
        })
}

/// Ask Flux to reconcile now: annotate the homelab's GitRepository, then every Kustomization
/// in dependency order (dependencies first), so each finds its dependencies already asked.
pub async fn request(client: &Client) -> Result<Requested> {
    let source = sync_source();
    let git: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), FLUX_NAMESPACE, &GIT_REPOSITORY.resource());
    match git.get_opt(SYNC_NAME).await {
        Ok(Some(_)) => {}
        Ok(None) => return Err(not_bootstrapped()),
        Err(kube::Error::Api(s)) if s.code == 404 => return Err(not_bootstrapped()),
        Err(e) => return Err(unreadable(&e)),
    }
    let kustomizations = match status::list_kind(client, &KUSTOMIZATION).await {
        Listed::Objects(objects) => objects,
        Listed::NotInstalled => return Err(not_bootstrapped()),
        Listed::Error(e) => {
            return Err(Error::failed(format!(
                "cannot read the Kustomizations: {e}"
            )));
        }
    };
    let token = new_token();
    let mut requested = Requested {
        token: token.clone(),
        ..Requested::default()
    };
    annotate(client, &source, &token).await?;
    requested.objects.push(source);
    for k in status::dependency_order(&kustomizations) {
        if k.suspended {
            requested.suspended.push(k.reference());
            continue;
        }
        annotate(client, &k.reference(), &token).await?;
        requested.objects.push(k.reference());
    }
    Ok(requested)
}

/// What the wait waits for.
#[derive(Debug, Clone)]
pub struct Goal {
    /// The revision the source must fetch and the Kustomizations of that source must apply.
    pub revision: String,
    /// The request that was made, if any: once the source controller has handled it, a
    /// source at another revision means the commit is not on the remote.
    pub token: Option<String>,
    /// Later requests to single Kustomizations (see [`unblocked`]), which replace `token`
    /// as the value their controller answers with.
    pub nudged: BTreeMap<ObjectRef, String>,
}

/// Which link of the chain a round got to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    Source,
    Kustomizations,
    HelmReleases,
    Done,
}

impl Phase {
    pub fn label(self) -> &'static str {
        match self {
            Phase::Source => "fetching the commit",
            Phase::Kustomizations => "applying it",
            Phase::HelmReleases => "reconciling the Helm releases",
            Phase::Done => "done",
        }
    }
}

/// An object not there yet, and why.
#[derive(Debug, Clone)]
pub struct Pending {
    pub object: ObjectStatus,
    pub why: String,
    /// Waiting cannot help (suspended, stalled, or the commit is not on the remote).
    pub hopeless: bool,
}

/// One look at the cluster.
#[derive(Debug, Clone)]
pub struct Round {
    pub phase: Phase,
    /// Every object looked at so far, with its status.
    pub objects: Vec<ObjectStatus>,
    /// Those not there yet, dependencies first.
    pub pending: Vec<Pending>,
}

impl Round {
    pub fn ready(&self) -> usize {
        self.objects.len() - self.pending.len()
    }

    pub fn hopeless(&self) -> Option<&Pending> {
        self.pending.iter().find(|p| p.hopeless)
    }
}

fn suspended_pending(object: &ObjectStatus) -> Pending {
    Pending {
        why: format!(
            "suspended: Flux does not reconcile it (its last status: {})",
            object.describe()
        ),
        object: object.clone(),
        hopeless: true,
    }
}

/// Whether the controller has handled the latest request made to the object (or there was
/// none).
fn handled(object: &ObjectStatus, goal: &Goal) -> bool {
    match goal.nudged.get(&object.reference()).or(goal.token.as_ref()) {
        Some(token) => object.last_handled.as_deref() == Some(token.as_str()),
        None => true,
    }
}

/// The reason kustomize-controller gives a Kustomization it put off because a dependency was
/// not Ready. It looks again only after a fixed delay (`--requeue-dependency`, 30 s by
/// default), not when the dependency becomes Ready.
const DEPENDENCY_NOT_READY: &str = "DependencyNotReady";

/// The Kustomizations put off for a dependency that is now Ready at the goal, whose
/// controller has handled every request so far: asking again now saves the rest of the
/// controller's fixed delay (with the default, the 30 s a sync otherwise waits per level of
/// `dependsOn`). `objects` is a round's list (the source first).
pub fn unblocked<'a>(objects: &'a [ObjectStatus], goal: &Goal) -> Vec<&'a ObjectStatus> {
    let source = sync_source();
    let by_ref: BTreeMap<ObjectRef, &ObjectStatus> = objects
        .iter()
        .filter(|o| o.kind == KUSTOMIZATION.kind)
        .map(|o| (o.reference(), o))
        .collect();
    let current = |dep: &ObjectRef| {
        by_ref.get(dep).is_some_and(|d| {
            // kustomize-controller wants a dependency of the same source at its revision.
            d.ready
                && (d.source.as_ref() != Some(&source)
                    || d.revision.as_deref() == Some(goal.revision.as_str()))
        })
    };
    by_ref
        .values()
        .copied()
        .filter(|k| {
            !k.suspended
                && !k.ready
                && k.reason == DEPENDENCY_NOT_READY
                && !k.depends_on.is_empty()
                && handled(k, goal)
                && k.depends_on.iter().all(current)
        })
        .collect()
}

fn judge_source(obj: &ObjectStatus, goal: &Goal) -> Option<Pending> {
    let pending = |why: String, hopeless: bool| {
        Some(Pending {
            object: obj.clone(),
            why,
            hopeless,
        })
    };
    if obj.suspended {
        return Some(suspended_pending(obj));
    }
    if !obj.ready {
        let stalled = obj.state == State::Stalled && handled(obj, goal);
        return pending(obj.describe(), stalled);
    }
    if obj.revision.as_deref() == Some(goal.revision.as_str()) {
        return None;
    }
    let have = obj.revision.as_deref().unwrap_or("nothing");
    if goal.token.is_some() && handled(obj, goal) {
        return pending(
            format!(
                "fetched {have} when asked, not {}: the commit is not on the remote branch",
                goal.revision
            ),
            true,
        );
    }
    let waiting = if goal.token.is_some() {
        " (the request is not handled yet: is source-controller running?)"
    } else {
        ""
    };
    pending(
        format!("at {have}, waiting for {}{waiting}", goal.revision),
        false,
    )
}

fn judge_kustomization(
    k: &ObjectStatus,
    goal: &Goal,
    source: &ObjectRef,
    source_revision: Option<&str>,
) -> Option<Pending> {
    if k.suspended {
        return Some(suspended_pending(k));
    }
    if !k.ready {
        let stalled = k.state == State::Stalled && handled(k, goal);
        return Some(Pending {
            object: k.clone(),
            why: k.describe(),
            hopeless: stalled,
        });
    }
    if k.source.as_ref() != Some(source) || k.revision.as_deref() == Some(goal.revision.as_str()) {
        return None;
    }
    // Ready, but at an older commit than its source holds: it has not applied it yet.
    Some(Pending {
        object: k.clone(),
        why: format!(
            "applied {}, its source is at {}: not applied yet",
            k.revision.as_deref().unwrap_or("nothing"),
            source_revision.unwrap_or("nothing")
        ),
        hopeless: false,
    })
}

fn judge_release(hr: &ObjectStatus) -> Option<Pending> {
    if hr.suspended {
        return Some(suspended_pending(hr));
    }
    if hr.ready {
        return None;
    }
    Some(Pending {
        object: hr.clone(),
        why: hr.describe(),
        // helm-controller stalls after its retries are spent; the next change resets it.
        hopeless: hr.state == State::Stalled,
    })
}

fn listed(what: &str, listed: Listed) -> Result<Vec<ObjectStatus>> {
    match listed {
        Listed::Objects(objects) => Ok(objects),
        Listed::NotInstalled => Ok(Vec::new()),
        Listed::Error(e) => Err(Error::failed(format!("cannot read the {what}: {e}"))),
    }
}

/// Look once: the source, then (once it has the commit) the Kustomizations, then (once they
/// all applied it) the HelmReleases. A later link is read only after the earlier ones are
/// done, so a HelmRelease is judged on the spec the new commit gave it.
pub async fn look(client: &Client, goal: &Goal) -> Result<Round> {
    let source = sync_source();
    let git = listed(
        "GitRepositories",
        status::list_kind(client, &GIT_REPOSITORY).await,
    )?;
    let Some(repo) = git.iter().find(|g| g.reference() == source) else {
        return Err(not_bootstrapped());
    };
    let mut round = Round {
        phase: Phase::Source,
        objects: vec![repo.clone()],
        pending: judge_source(repo, goal).into_iter().collect(),
    };
    if !round.pending.is_empty() {
        return Ok(round);
    }

    round.phase = Phase::Kustomizations;
    let kustomizations = listed(
        "Kustomizations",
        status::list_kind(client, &KUSTOMIZATION).await,
    )?;
    for k in status::dependency_order(&kustomizations) {
        round.objects.push(k.clone());
        round.pending.extend(judge_kustomization(
            k,
            goal,
            &source,
            repo.revision.as_deref(),
        ));
    }
    if !round.pending.is_empty() {
        return Ok(round);
    }

    round.phase = Phase::HelmReleases;
    let releases = listed(
        "HelmReleases",
        status::list_kind(client, &HELM_RELEASE).await,
    )?;
    for hr in &releases {
        round.objects.push(hr.clone());
        round.pending.extend(judge_release(hr));
    }
    if round.pending.is_empty() {
        round.phase = Phase::Done;
    }
    Ok(round)
}

/// How a wait ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Every object is Ready at the goal.
    Done(Round),
    /// An object cannot get there by waiting.
    Hopeless(Round),
    /// The deadline passed; the last round says what was still pending.
    TimedOut(Round),
}

/// Look every second until everything is there, something cannot get there, or the
/// deadline passes; `progress` sees every round. A failed read is retried until the
/// deadline (an API server restarting is not a reason to give up).
pub async fn wait(
    client: &Client,
    goal: &Goal,
    deadline: tokio::time::Instant,
    mut progress: impl FnMut(&Round),
) -> Result<Outcome> {
    let mut goal = goal.clone();
    loop {
        match look(client, &goal).await {
            Ok(round) => {
                progress(&round);
                if round.phase == Phase::Done {
                    return Ok(Outcome::Done(round));
                }
                if round.phase == Phase::Kustomizations {
                    for k in unblocked(&round.objects, &goal) {
                        // Only saves time: if the request fails, the controller's own
                        // retry still comes.
                        let token = new_token();
                        if annotate(client, &k.reference(), &token).await.is_ok() {
                            goal.nudged.insert(k.reference(), token);
                        }
                    }
                }
                if round.hopeless().is_some() {
                    return Ok(Outcome::Hopeless(round));
                }
                if tokio::time::Instant::now() >= deadline {
                    return Ok(Outcome::TimedOut(round));
                }
            }
            Err(e) if tokio::time::Instant::now() >= deadline => return Err(e),
            Err(_) => {}
        }
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        tokio::time::sleep(left.min(Duration::from_secs(1))).await;
    }
}

/// The lines that explain a round that did not finish: each pending object and why, the
/// ones waiting cannot fix first.
pub fn explain(round: &Round) -> Vec<String> {
    let mut pending: Vec<&Pending> = round.pending.iter().collect();
    pending.sort_by_key(|p| !p.hopeless);
    pending
        .iter()
        .map(|p| format!("{}: {}", p.object.id(), p.why))
        .collect()
}

/// Counts per kind of the objects a round looked at, e.g. `4 Kustomizations, 2 HelmReleases`.
pub fn summary(round: &Round) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for o in &round.objects {
        *counts.entry(o.kind.as_str()).or_default() += 1;
    }
    let order = ["GitRepository", "Kustomization", "HelmRelease"];
    order
        .iter()
        .filter_map(|k| {
            counts
                .get(k)
                .map(|n| format!("{n} {k}{}", if *n == 1 { "" } else { "s" }))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(kind: &str, name: &str, state: State, revision: Option<&str>) -> ObjectStatus {
        ObjectStatus {
            kind: kind.into(),
            namespace: "flux-system".into(),
            name: name.into(),
            ready: state == State::Ready,
            state,
            suspended: false,
            revision: revision.map(str::to_owned),
            attempted_revision: None,
            reason: String::new(),
            message: "msg".into(),
            depends_on: vec![],
            source: Some(sync_source()),
            applied_by: None,
            last_handled: None,
        }
    }

    fn goal(token: Option<&str>) -> Goal {
        Goal {
            revision: "main@sha1:new".into(),
            token: token.map(str::to_owned),
            nudged: BTreeMap::new(),
        }
    }

    /// `apps` put off by kustomize-controller, waiting on `infra` (at `infra_revision`).
    fn put_off(
        infra_ready: bool,
        infra_revision: &str,
        handled: Option<&str>,
    ) -> Vec<ObjectStatus> {
        let infra_state = if infra_ready {
            State::Ready
        } else {
            State::Progressing
        };
        let infra = obj("Kustomization", "infra", infra_state, Some(infra_revision));
        let mut apps = obj(
            "Kustomization",
            "apps",
            State::Failed,
            Some("main@sha1:old"),
        );
        apps.reason = DEPENDENCY_NOT_READY.into();
        apps.depends_on = vec![infra.reference()];
        apps.last_handled = handled.map(str::to_owned);
        vec![
            obj(
                "GitRepository",
                "flux-system",
                State::Ready,
                Some("main@sha1:new"),
            ),
            infra,
            apps,
        ]
    }

    fn names(objects: Vec<&ObjectStatus>) -> Vec<&str> {
        objects.iter().map(|o| o.name.as_str()).collect()
    }

    #[test]
    fn a_kustomization_put_off_for_a_dependency_now_current_is_asked_again() {
        let goal = goal(Some("t1"));
        let objects = put_off(true, "main@sha1:new", Some("t1"));
        assert_eq!(names(unblocked(&objects, &goal)), ["apps"]);

        // Not while the dependency is not Ready, or Ready at an older commit.
        assert!(unblocked(&put_off(false, "main@sha1:new", Some("t1")), &goal).is_empty());
        assert!(unblocked(&put_off(true, "main@sha1:old", Some("t1")), &goal).is_empty());
        // Not while the controller has not answered the request yet.
        assert!(unblocked(&put_off(true, "main@sha1:new", None), &goal).is_empty());
        // Not for another reason of not being Ready.
        let mut failing = put_off(true, "main@sha1:new", Some("t1"));
        failing[2].reason = "BuildFailed".into();
        assert!(unblocked(&failing, &goal).is_empty());

        // Asked again: the new request is the one its controller must answer.
        let mut asked = goal.clone();
        asked.nudged.insert(objects[2].reference(), "t2".into());
        assert!(unblocked(&objects, &asked).is_empty());
        let mut answered = objects.clone();
        answered[2].last_handled = Some("t2".into());
        assert_eq!(names(unblocked(&answered, &asked)), ["apps"]);
    }

    #[test]
    fn a_source_that_fetched_another_commit_after_the_request_is_hopeless() {
        let mut repo = obj(
            "GitRepository",
            "flux-system",
            State::Ready,
            Some("main@sha1:old"),
        );
        let p = judge_source(&repo, &goal(Some("t1"))).unwrap();
        assert!(!p.hopeless, "{}", p.why);
        assert!(p.why.contains("request is not handled yet"), "{}", p.why);
        repo.last_handled = Some("t1".into());
        let p = judge_source(&repo, &goal(Some("t1"))).unwrap();
        assert!(p.hopeless);
        assert!(p.why.contains("not on the remote branch"), "{}", p.why);
        repo.revision = Some("main@sha1:new".into());
        assert!(judge_source(&repo, &goal(Some("t1"))).is_none());
    }

    #[test]
    fn a_ready_kustomization_behind_its_source_is_pending() {
        let source = sync_source();
        let k = obj("Kustomization", "apps", State::Ready, Some("main@sha1:old"));
        let p = judge_kustomization(&k, &goal(None), &source, Some("main@sha1:new")).unwrap();
        assert!(!p.hopeless);
        assert!(
            p.why
                .contains("applied main@sha1:old, its source is at main@sha1:new"),
            "{}",
            p.why
        );
        let at = obj("Kustomization", "apps", State::Ready, Some("main@sha1:new"));
        assert!(judge_kustomization(&at, &goal(None), &source, Some("main@sha1:new")).is_none());
        // Another source's Kustomization only needs to be Ready.
        let mut other = k.clone();
        other.source = None;
        assert!(judge_kustomization(&other, &goal(None), &source, None).is_none());
    }

    #[test]
    fn stalled_is_hopeless_once_the_request_is_handled_and_suspended_always() {
        let source = sync_source();
        let mut k = obj("Kustomization", "apps", State::Stalled, None);
        assert!(
            !judge_kustomization(&k, &goal(Some("t")), &source, None)
                .unwrap()
                .hopeless
        );
        k.last_handled = Some("t".into());
        assert!(
            judge_kustomization(&k, &goal(Some("t")), &source, None)
                .unwrap()
                .hopeless
        );
        let mut hr = obj("HelmRelease", "x", State::Ready, Some("1.0.0"));
        assert!(judge_release(&hr).is_none());
        hr.suspended = true;
        let p = judge_release(&hr).unwrap();
        assert!(p.hopeless && p.why.starts_with("suspended"), "{}", p.why);
    }

    #[test]
    fn revisions_name_the_branch_and_commit() {
        assert_eq!(revision_of("main", "abc"), "main@sha1:abc");
    }
}
