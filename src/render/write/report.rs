//! What an apply did to each file, and the summary the commands print.

use std::collections::BTreeMap;

use super::Mode;

/// What happened (or, in [`Mode::Diff`], would happen) to one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Newly generated.
    Created,
    /// Not edited by the user; replaced with the new rendering.
    Updated,
    /// Already identical to the new rendering.
    Unchanged,
    /// Edited (or deleted) by the user, and the rendering did not change: the edit stays.
    KeptUserEdit,
    /// Edited by the user and changed by the rendering; merged without conflict.
    Merged,
    /// Edited by the user and changed by the rendering in the same place (or the file exists
    /// but homelab never generated it, or it still holds conflict markers). Left untouched,
    /// or with conflict markers under [`Mode::Merge`].
    Conflict,
    /// No longer generated and not edited: deleted.
    Removed,
    /// No longer generated but edited by the user: kept, and from now on the user's file.
    OrphanKept,
    /// Edited by the user and replaced by the new rendering ([`Mode::Force`]).
    Overwritten,
}

impl Outcome {
    /// A short label for the summary.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Created => "created",
            Outcome::Updated => "updated",
            Outcome::Unchanged => "unchanged",
            Outcome::KeptUserEdit => "kept",
            Outcome::Merged => "merged",
            Outcome::Conflict => "conflict",
            Outcome::Removed => "removed",
            Outcome::OrphanKept => "orphaned",
            Outcome::Overwritten => "overwritten",
        }
    }

    /// Whether the file on disk holds homelab's decision, so the commit records it. Conflicts
    /// are the user's to resolve first; orphans are no longer homelab's files.
    pub fn committed(self) -> bool {
        !matches!(self, Outcome::Conflict | Outcome::OrphanKept)
    }
}

/// One file's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileReport {
    /// Repository-relative path with `/` separators.
    pub path: String,
    pub outcome: Outcome,
    /// Why, when the outcome needs explaining.
    pub detail: Option<String>,
    /// Whether the file on disk was changed (always false in [`Mode::Diff`]).
    pub written: bool,
}

/// The outcome of one apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub mode: Mode,
    /// Every file the change concerned, sorted by path.
    pub files: Vec<FileReport>,
    /// The commit made, if anything changed and nothing is left in conflict.
    pub commit: Option<git2::Oid>,
    /// Whether an interrupted earlier apply was rolled back first.
    pub recovered: bool,
    /// The unified diff of what changed (or would change): [`Mode::Diff`] and
    /// [`Mode::Force`] only; data for stdout, meant to be piped or saved.
    pub diff: String,
}

impl Report {
    /// The outcome of `path`, if the change concerned it.
    pub fn outcome(&self, path: &str) -> Option<Outcome> {
        self.files
            .iter()
            .find(|f| f.path == path)
            .map(|f| f.outcome)
    }

    /// Files with this outcome.
    pub fn with(&self, outcome: Outcome) -> impl Iterator<Item = &FileReport> {
        self.files.iter().filter(move |f| f.outcome == outcome)
    }

    /// Whether some files need the user's attention (conflicts): the command exits 1 and
    /// nothing is committed.
    pub fn has_conflicts(&self) -> bool {
        self.with(Outcome::Conflict).next().is_some()
    }

    /// Whether any file on disk was changed.
    pub fn wrote_anything(&self) -> bool {
        self.files.iter().any(|f| f.written)
    }

    /// One line per conflicting file: `path (why)`.
    pub fn conflicts(&self) -> Vec<String> {
        self.with(Outcome::Conflict)
            .map(|f| match &f.detail {
                Some(d) => format!("{} ({d})", f.path),
                None => f.path.clone(),
            })
            .collect()
    }

    /// A human summary: one line per file that did not stay as it was, then the totals.
    pub fn summary(&self) -> String {
        self.summary_with(false, |_, label| label.to_owned())
    }

    /// The summary, listing the unchanged files too when `every_file` (`-v`), each outcome's
    /// label as `paint` shows it (the terminal colours them). The totals count the same list
    /// the lines come from.
    pub fn summary_with(
        &self,
        every_file: bool,
        paint: impl Fn(Outcome, &str) -> String,
    ) -> String {
        let mut out = String::new();
        for file in self
            .files
            .iter()
            .filter(|f| every_file || f.outcome != Outcome::Unchanged)
        {
            let label = paint(file.outcome, &format!("{:<11}", file.outcome.label()));
            out.push_str(&format!("  {label} {}", file.path));
            if let Some(detail) = &file.detail {
                out.push_str(&format!(" ({detail})"));
            }
            out.push('\n');
        }
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for file in &self.files {
            *counts.entry(file.outcome.label()).or_default() += 1;
        }
        let totals: Vec<String> = counts.iter().map(|(k, n)| format!("{n} {k}")).collect();
        out.push_str(&format!(
            "{} files: {}\n",
            self.files.len(),
            totals.join(", ")
        ));
        out
    }
}
