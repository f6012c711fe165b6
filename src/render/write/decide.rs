//! Deciding every file's outcome, without writing anything: the three-way rules.

use std::collections::{BTreeMap, BTreeSet};

use super::report::{FileReport, Outcome};
use super::{Change, Mode};
use crate::error::Result;
use crate::git::tree::RepoTree;
use crate::render::state::{FileState, State};

/// One planned change on disk.
#[derive(Debug)]
pub(super) struct Op {
    pub path: String,
    /// New content; `None` removes the file.
    pub content: Option<Vec<u8>>,
}

/// (path, from, to, note) to print as a unified diff.
pub(super) type Diff = (String, String, String, Option<&'static str>);

#[derive(Debug)]
pub(super) struct Plan {
    pub reports: Vec<FileReport>,
    pub ops: Vec<Op>,
    pub state: State,
    /// The new renderings recorded in `state`, to store as blobs.
    pub renderings: BTreeMap<String, String>,
    pub diffs: Vec<Diff>,
}

/// Decide every file's outcome for `change`, given the recorded state `old`.
pub(super) fn plan(
    tree: Option<&RepoTree>,
    repo: Option<&git2::Repository>,
    old: &State,
    change: &Change,
) -> Result<Plan> {
    let mode = change.mode;
    let mut plan = Plan {
        reports: Vec::new(),
        ops: Vec::new(),
        state: State::default(),
        renderings: BTreeMap::new(),
        diffs: Vec::new(),
    };
    let in_scope = |path: &str| {
        !change.untouched.contains(path)
            && (change.files.contains_key(path)
                || change.scope.as_ref().is_none_or(|s| s.contains(path)))
    };
    // Records outside the change's scope stay as they are.
    for (path, record) in &old.files {
        if !in_scope(path) {
            plan.state.files.insert(path.clone(), record.clone());
        }
    }
    let mut reports = Vec::new();
    let previous = |path: &str| change.previous.get(path).filter(|_| in_scope(path));
    let paths: BTreeSet<&String> = old
        .files
        .keys()
        .chain(change.files.keys())
        .chain(change.previous.keys())
        .filter(|p| in_scope(p))
        .collect();
    for path in paths {
        let disk = match tree {
            Some(tree) => tree.read(path)?,
            None => None,
        };
        // A file the state does not know yet but an earlier homelab generated (it is on
        // disk): its previous rendering stands in for the record, and is the merge base.
        let adopted = match (old.files.get(path), &disk) {
            (None, Some(_)) => previous(path).map(|text| (FileState::of(text), text.as_str())),
            _ => None,
        };
        let record = old.files.get(path).or(adopted.as_ref().map(|(r, _)| r));
        let adopted_base = adopted.as_ref().map(|(_, text)| *text);
        if record.is_none() && !change.files.contains_key(path) {
            // Known only as a previous rendering, and not on disk: nothing to do.
            continue;
        }
        let rendered = change.files.get(path);
        let mut report = |outcome: Outcome, detail: Option<&str>| {
            reports.push(FileReport {
                path: path.clone(),
                outcome,
                detail: detail.map(str::to_owned),
                written: false,
            });
        };
        let disk_text = disk
            .as_ref()
            .map(|d| String::from_utf8_lossy(d).into_owned());

        let Some(rendered) = rendered else {
            // No longer generated.
            let record = record.expect("a recorded path");
            match &disk {
                None => report(Outcome::Removed, Some("already deleted")),
                Some(d) if record.matches(d) => {
                    report(Outcome::Removed, None);
                    if mode == Mode::Diff {
                        plan.diffs.push((
                            path.clone(),
                            disk_text.unwrap_or_default(),
                            String::new(),
                            Some("deleted"),
                        ));
                    }
                    plan.ops.push(Op {
                        path: path.clone(),
                        content: None,
                    });
                }
                Some(_) if mode == Mode::Force => {
                    report(
                        Outcome::Removed,
                        Some("no longer generated; your edits are lost"),
                    );
                    plan.diffs.push((
                        path.clone(),
                        disk_text.unwrap_or_default(),
                        String::new(),
                        Some("deleted, losing your edits"),
                    ));
                    plan.ops.push(Op {
                        path: path.clone(),
                        content: None,
                    });
                }
                Some(_) => report(
                    Outcome::OrphanKept,
                    Some("no longer generated; kept because you edited it, now yours to delete"),
                ),
            }
            continue;
        };

        let fresh = FileState::of(rendered);
        if disk.as_deref() == Some(rendered.as_bytes()) {
            report(Outcome::Unchanged, None);
            plan.record(path, fresh, rendered);
            continue;
        }
        let write_rendered = |plan: &mut Plan| {
            plan.ops.push(Op {
                path: path.clone(),
                content: Some(rendered.as_bytes().to_vec()),
            });
            plan.record(path, fresh.clone(), rendered);
        };
        if change.replace.contains(path) {
            // The command edited the user's own file (homelab.yaml) under the lock: its new
            // text is written as it is.
            report(Outcome::Updated, None);
            plan.diff(mode, path, disk_text.unwrap_or_default(), rendered, None);
            write_rendered(&mut plan);
            continue;
        }
        if mode != Mode::Force && disk_text.as_deref().is_some_and(has_conflict_markers) {
            report(
                Outcome::Conflict,
                Some("it still has conflict markers: resolve them first"),
            );
            if let Some(r) = record {
                plan.record_kept(path, r);
            }
            continue;
        }
        let changed_template = record.is_none_or(|r| r.sha256 != fresh.sha256);

        match (record, &disk) {
            (None, None) => {
                report(Outcome::Created, None);
                plan.diff(mode, path, String::new(), rendered, Some("new file"));
                write_rendered(&mut plan);
            }
            (Some(r), Some(d)) if r.matches(d) => {
                report(Outcome::Updated, None);
                plan.diff(mode, path, disk_text.unwrap_or_default(), rendered, None);
                write_rendered(&mut plan);
            }
            (Some(r), _) if !changed_template => {
                let why = if disk.is_none() {
                    "you deleted it; the rendering did not change"
                } else {
                    "your edit; the rendering did not change"
                };
                report(Outcome::KeptUserEdit, Some(why));
                plan.record_kept(path, r);
            }
            _ if mode == Mode::Force => {
                let from = disk_text.unwrap_or_default();
                report(Outcome::Overwritten, Some("your edits are lost"));
                plan.diffs.push((
                    path.clone(),
                    from,
                    rendered.clone(),
                    Some("overwritten, losing your edits"),
                ));
                write_rendered(&mut plan);
            }
            (record, disk) => {
                // Edited on both sides: merge three-way, base = what the tool generated last.
                let base = match record {
                    None => Some(String::new()),
                    Some(r) => match adopted_base {
                        Some(text) => Some(text.to_owned()),
                        None => repo.and_then(|repo| base_text(repo, &r.blob)),
                    },
                };
                let ours = disk_text.clone().unwrap_or_default();
                let utf8 = disk.as_ref().is_none_or(|d| std::str::from_utf8(d).is_ok());
                let (merged, detail) = match (&base, record, disk) {
                    (_, Some(_), None) => (
                        Err(rendered.clone()),
                        "you deleted it; the rendering changed it",
                    ),
                    _ if !utf8 => (Err(rendered.clone()), "your file is not UTF-8 text"),
                    (None, _, _) => (
                        Err(conflict_markers("", &ours, rendered)),
                        "the previous rendering is missing from git; cannot merge",
                    ),
                    (Some(_), None, _) => (
                        Err(conflict_markers("", &ours, rendered)),
                        "the file exists but homelab did not generate it",
                    ),
                    (Some(base), Some(_), _) => (
                        merge(base, &ours, rendered),
                        "your edit and the new rendering change the same lines",
                    ),
                };
                match merged {
                    Ok(merged) => {
                        report(Outcome::Merged, None);
                        if merged.as_bytes() != disk.as_deref().unwrap_or_default() {
                            plan.diff(mode, path, ours, &merged, Some("merged"));
                            plan.ops.push(Op {
                                path: path.clone(),
                                content: Some(merged.into_bytes()),
                            });
                        }
                        plan.record(path, fresh, rendered);
                    }
                    Err(conflicted) if mode == Mode::Merge => {
                        report(Outcome::Conflict, Some(detail));
                        plan.ops.push(Op {
                            path: path.clone(),
                            content: Some(conflicted.into_bytes()),
                        });
                        // The new rendering becomes the base: once the user resolves the
                        // markers, the next render keeps the resolution.
                        plan.record(path, fresh, rendered);
                    }
                    Err(conflicted) => {
                        report(Outcome::Conflict, Some(detail));
                        plan.diff(
                            mode,
                            path,
                            ours,
                            &conflicted,
                            Some("conflict (with --merge)"),
                        );
                        if let Some(r) = record {
                            plan.record_kept(path, r);
                        }
                    }
                }
            }
        }
    }
    plan.reports = reports;
    Ok(plan)
}

impl Plan {
    fn record(&mut self, path: &str, state: FileState, rendered: &str) {
        self.state.files.insert(path.to_owned(), state);
        self.renderings.insert(path.to_owned(), rendered.to_owned());
    }

    fn record_kept(&mut self, path: &str, state: &FileState) {
        self.state.files.insert(path.to_owned(), state.clone());
    }

    /// Note a diff to print, in [`Mode::Diff`] only.
    fn diff(&mut self, mode: Mode, path: &str, from: String, to: &str, note: Option<&'static str>) {
        if mode == Mode::Diff {
            self.diffs
                .push((path.to_owned(), from, to.to_owned(), note));
        }
    }
}

/// Whether `text` holds the markers of an unresolved merge: a `<<<<<<< ` line followed by a
/// `=======` line and a `>>>>>>> ` line.
pub fn has_conflict_markers(text: &str) -> bool {
    let mut stage = 0;
    for line in text.lines() {
        stage = match stage {
            0 if line.starts_with("<<<<<<< ") || line == "<<<<<<<" => 1,
            1 if line == "=======" => 2,
            2 if line.starts_with(">>>>>>> ") || line == ">>>>>>>" => return true,
            s => s,
        };
    }
    false
}

/// The text of the rendering recorded as `blob`, if the object database still has it.
fn base_text(repo: &git2::Repository, blob: &str) -> Option<String> {
    let oid = git2::Oid::from_str(blob).ok()?;
    let blob = repo.find_blob(oid).ok()?;
    String::from_utf8(blob.content().to_vec()).ok()
}

/// Three-way merge with git's conflict style (`<<<<<<<`, `=======`, `>>>>>>>`).
pub(super) fn merge(base: &str, ours: &str, theirs: &str) -> std::result::Result<String, String> {
    let mut opts = diffy::MergeOptions::new();
    opts.set_conflict_style(diffy::ConflictStyle::Merge);
    opts.merge(base, ours, theirs)
}

/// The conflict-marked file when there is no usable base.
fn conflict_markers(base: &str, ours: &str, theirs: &str) -> String {
    match merge(base, ours, theirs) {
        Ok(text) | Err(text) => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_uses_git_style_markers() {
        let base = "a: 1\nb: 2\n";
        let err = merge(base, "a: 9\nb: 2\n", "a: 5\nb: 2\n").expect_err("conflict");
        assert!(err.contains("<<<<<<<") && err.contains("=======") && err.contains(">>>>>>>"));
        assert!(!err.contains("|||||||"));
        assert!(has_conflict_markers(&err));
        // Like git, changes to adjacent lines conflict; separated ones merge.
        assert!(merge(base, "a: 9\nb: 2\n", "a: 1\nb: 3\n").is_err());
        let base = "a: 1\nx: 0\nb: 2\n";
        assert_eq!(
            merge(base, "a: 9\nx: 0\nb: 2\n", "a: 1\nx: 0\nb: 3\n").expect("clean"),
            "a: 9\nx: 0\nb: 3\n"
        );
    }

    #[test]
    fn markers_need_all_three_lines() {
        assert!(!has_conflict_markers("Title\n=======\n"));
        assert!(!has_conflict_markers("<<<<<<< ours\nonly\n"));
        assert!(has_conflict_markers(
            "<<<<<<< ours\na\n=======\nb\n>>>>>>> theirs\n"
        ));
    }
}
