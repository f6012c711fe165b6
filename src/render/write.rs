//! Writing a rendering into the repository without clobbering the user's edits.
//!
//! Re-rendering templates over a repository the user has edited is the classic way homelab
//! repos rot: people stop re-rendering. Every command that writes generated files (`init`,
//! `render`, `add-app`) goes through [`apply`], which:
//!
//! 1. rolls back any apply that was interrupted before it committed ([`recover`]);
//! 2. plans every file first, comparing the disk with what the tool generated last
//!    ([`State`]) and the new rendering: untouched files are replaced, the user's edits are
//!    kept, edits on both sides are merged three-way (base: the previous rendering);
//! 3. writes nothing in [`Mode::Diff`]; otherwise writes a journal, stages every new content
//!    in a temporary file beside its target, renames them in one burst, writes the state file
//!    and commits once.
//!
//! The journal (in the git directory, never committed) lists every path about to change with
//! its previous content, so a crash at any point before the commit is undone
//! on the next run: the tree, the index and the recorded renderings come back exactly as
//! they were, uncommitted user edits included.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};

use super::state::{FileState, RENDERED_REF, STATE_FILE, State};
use crate::error::{Error, Result};

/// How [`apply`] treats files the user edited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Keep edits, merge cleanly mergeable ones, report conflicts and leave those files alone.
    Apply,
    /// Print what would change as a unified diff; write nothing.
    Diff,
    /// Replace edited files with the new rendering, after printing what is lost.
    Force,
    /// Like `Apply`, but write conflicts into the files with standard conflict markers.
    Merge,
}

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
    /// but homelab never generated it). Left untouched, or with conflict markers under
    /// [`Mode::Merge`].
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

/// The outcome of one [`apply`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub mode: Mode,
    /// Every generated or previously generated file, sorted by path.
    pub files: Vec<FileReport>,
    /// The commit made, if anything changed.
    pub commit: Option<git2::Oid>,
    /// Whether an interrupted earlier apply was rolled back first.
    pub recovered: bool,
}

impl Report {
    /// The outcome of `path`, if it is a generated file.
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

    /// Whether some files need the user's attention (conflicts): the command exits 1.
    pub fn has_conflicts(&self) -> bool {
        self.with(Outcome::Conflict).next().is_some()
    }

    /// Whether any file on disk was changed.
    pub fn wrote_anything(&self) -> bool {
        self.files.iter().any(|f| f.written)
    }

    /// A human summary: one line per file that did not stay as it was, then the totals.
    pub fn summary(&self) -> String {
        use crate::ui::style;
        let mut out = String::new();
        for file in self
            .files
            .iter()
            .filter(|f| f.outcome != Outcome::Unchanged)
        {
            let label = format!("{:<11}", file.outcome.label());
            let label = match file.outcome {
                Outcome::Conflict | Outcome::Overwritten => style::red(&label),
                Outcome::KeptUserEdit | Outcome::OrphanKept | Outcome::Merged => {
                    style::yellow(&label)
                }
                _ => style::green(&label),
            };
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

/// The environment variable naming a failpoint. Test-only: `render-after-N-writes` aborts
/// the process right after the N-th rename or removal of an apply, to prove crash safety.
pub const FAILPOINT_ENV: &str = "HOMELAB_FAILPOINT";

/// The journal of an apply in progress, in the git directory.
const JOURNAL: &str = "homelab-apply.journal";
/// A copy of the git index taken before an apply, restored on rollback.
const INDEX_BACKUP: &str = "homelab-apply.index";
/// Suffix of the temporary files staged beside their targets.
const TMP_SUFFIX: &str = ".homelab-tmp";

#[derive(Debug, Serialize, Deserialize)]
struct Journal {
    /// HEAD when the apply started; a different HEAD on recovery means the commit landed.
    head: Option<String>,
    /// The rendered-files reference when the apply started.
    rendered_ref: Option<String>,
    /// Whether the git index existed (and was copied to the backup).
    index_existed: bool,
    /// Every path the apply may change, with the blob of its previous content.
    entries: Vec<JournalEntry>,
}

#[derive(Debug, Serialize, Deserialize)]
struct JournalEntry {
    path: String,
    /// The previous content, base64; `None`: the file did not exist. Kept in the journal
    /// itself (fsynced) rather than as a git object, which libgit2 does not fsync.
    before: Option<String>,
}

/// One planned change on disk.
#[derive(Debug)]
struct Op {
    path: String,
    /// New content; `None` removes the file.
    content: Option<Vec<u8>>,
}

/// Write `new` (repository-relative path → content) into the repository at `repo_dir`
/// according to `mode`, then commit everything once with `commit_message`.
///
/// Conflicts are not errors: they are in the [`Report`] (see [`Report::has_conflicts`]),
/// and the command maps them to exit 1. Errors are reserved for what stops the apply
/// (unreadable files, invalid paths, a corrupt state file, git failures); nothing is changed then.
pub fn apply(
    repo_dir: &Path,
    new: &BTreeMap<String, String>,
    mode: Mode,
    commit_message: &str,
) -> Result<Report> {
    for path in new.keys() {
        check_path(path).map_err(|why| {
            Error::failed(format!(
                "the rendering contains an invalid path {path:?}: {why}"
            ))
        })?;
    }
    if mode != Mode::Diff {
        fs::create_dir_all(repo_dir)
            .map_err(|err| Error::failed(format!("cannot create {}: {err}", repo_dir.display())))?;
    }
    let repo = if mode == Mode::Diff {
        git2::Repository::open(repo_dir).ok()
    } else {
        Some(crate::git::open_or_init(repo_dir, "main")?)
    };
    let recovered = match &repo {
        Some(repo) if mode != Mode::Diff => recover_repo(repo, repo_dir)?,
        Some(repo) if journal_path(repo).exists() => {
            return Err(Error::failed("an earlier render was interrupted")
                .with_hint("run `homelab render` (without --diff) to roll it back first"));
        }
        _ => false,
    };

    let old_state = State::load(repo_dir)?;
    for path in old_state.files.keys() {
        check_path(path).map_err(|why| {
            Error::usage(format!("{STATE_FILE}: invalid path {path:?}: {why}")).with_hint(format!(
                "restore it from git: `git checkout HEAD -- {STATE_FILE}`"
            ))
        })?;
    }
    let plan = plan(repo_dir, repo.as_ref(), &old_state, new, mode)?;

    let mut report = Report {
        mode,
        files: plan.reports,
        commit: None,
        recovered,
    };
    if mode == Mode::Diff {
        print_diffs(&plan.diffs);
        return Ok(report);
    }
    if mode == Mode::Force && !plan.diffs.is_empty() {
        print_diffs(&plan.diffs);
    }

    let mut ops = plan.ops;
    let state_text = plan.state.to_text()?;
    let state_on_disk = fs::read(repo_dir.join(STATE_FILE)).ok();
    if state_on_disk.as_deref() != Some(state_text.as_bytes()) {
        ops.push(Op {
            path: STATE_FILE.to_owned(),
            content: Some(state_text.into_bytes()),
        });
    }
    if ops.is_empty() {
        return Ok(report);
    }
    let repo = repo.expect("a repository outside diff mode");
    report.commit = execute(
        &repo,
        repo_dir,
        &ops,
        &plan.state,
        &plan.renderings,
        commit_message,
    )?;
    let written: BTreeSet<&str> = ops.iter().map(|op| op.path.as_str()).collect();
    for file in &mut report.files {
        file.written = written.contains(file.path.as_str());
    }
    Ok(report)
}

/// Why `path` cannot be a generated file, if it cannot.
fn check_path(path: &str) -> std::result::Result<(), &'static str> {
    if path.is_empty() {
        return Err("it is empty");
    }
    if path.starts_with('/') || path.contains('\\') || path.contains('\0') {
        return Err("it must be relative, with '/' separators");
    }
    if path
        .split('/')
        .any(|part| part.is_empty() || part == "." || part == "..")
    {
        return Err("it has an empty, '.' or '..' component");
    }
    let first = path.split('/').next().unwrap_or_default();
    if first == ".git" || first == ".homelab" {
        return Err("it is inside .git or .homelab, which homelab manages itself");
    }
    if path.ends_with(TMP_SUFFIX) {
        return Err("it ends like homelab's temporary files");
    }
    Ok(())
}

struct Plan {
    reports: Vec<FileReport>,
    ops: Vec<Op>,
    state: State,
    /// The new renderings recorded in `state`, to store as blobs.
    renderings: BTreeMap<String, String>,
    /// (path, from, to, note) to print as unified diffs.
    diffs: Vec<(String, String, String, Option<&'static str>)>,
}

/// Decide every file's outcome without writing anything.
fn plan(
    repo_dir: &Path,
    repo: Option<&git2::Repository>,
    old: &State,
    new: &BTreeMap<String, String>,
    mode: Mode,
) -> Result<Plan> {
    let mut plan = Plan {
        reports: Vec::new(),
        ops: Vec::new(),
        state: State::default(),
        renderings: BTreeMap::new(),
        diffs: Vec::new(),
    };
    let mut reports = Vec::new();
    let paths: BTreeSet<&String> = old.files.keys().chain(new.keys()).collect();
    for path in paths {
        let disk = read_disk(repo_dir, path)?;
        let record = old.files.get(path);
        let rendered = new.get(path);
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
            let record = record.expect("a path from the old state");
            match &disk {
                None => report(Outcome::Removed, Some("already deleted")),
                Some(d) if record.matches(d) => {
                    report(Outcome::Removed, None);
                    plan.diffs_push_removal(path, disk_text.unwrap_or_default(), mode);
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
        let changed_template = record.is_none_or(|r| r.sha256 != fresh.sha256);

        match (record, &disk) {
            (None, None) => {
                report(Outcome::Created, None);
                plan.diffs_push_creation(path, rendered, mode);
                write_rendered(&mut plan);
            }
            (Some(r), Some(d)) if r.matches(d) => {
                report(Outcome::Updated, None);
                if mode == Mode::Diff {
                    plan.diffs.push((
                        path.clone(),
                        disk_text.unwrap_or_default(),
                        rendered.clone(),
                        None,
                    ));
                }
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
                    Some(r) => repo.and_then(|repo| base_text(repo, &r.blob)),
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
                            if mode == Mode::Diff {
                                plan.diffs.push((
                                    path.clone(),
                                    ours,
                                    merged.clone(),
                                    Some("merged"),
                                ));
                            }
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
                        if mode == Mode::Diff {
                            plan.diffs.push((
                                path.clone(),
                                ours,
                                conflicted,
                                Some("conflict (with --merge)"),
                            ));
                        }
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

    fn diffs_push_creation(&mut self, path: &str, rendered: &str, mode: Mode) {
        if mode == Mode::Diff {
            self.diffs.push((
                path.to_owned(),
                String::new(),
                rendered.to_owned(),
                Some("new file"),
            ));
        }
    }

    fn diffs_push_removal(&mut self, path: &str, old: String, mode: Mode) {
        if mode == Mode::Diff {
            self.diffs
                .push((path.to_owned(), old, String::new(), Some("deleted")));
        }
    }
}

/// The file at `path` under `repo_dir`: its bytes, or `None` when absent.
fn read_disk(repo_dir: &Path, path: &str) -> Result<Option<Vec<u8>>> {
    let full = repo_dir.join(path);
    match fs::symlink_metadata(&full) {
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) if err.kind() == std::io::ErrorKind::NotADirectory => {
            return Err(
                Error::failed(format!("cannot write {path}: a parent of it is a file"))
                    .with_hint("move that file out of the way, then render again"),
            );
        }
        Err(err) => return Err(Error::failed(format!("cannot read {path}: {err}"))),
        Ok(meta) if !meta.is_file() => {
            return Err(Error::failed(format!(
                "cannot write {path}: it is a directory or a link, not a file"
            ))
            .with_hint("move it out of the way, then render again"));
        }
        Ok(_) => {}
    }
    fs::read(&full)
        .map(Some)
        .map_err(|err| Error::failed(format!("cannot read {path}: {err}")))
}

/// The text of the rendering recorded as `blob`, if the object database still has it.
fn base_text(repo: &git2::Repository, blob: &str) -> Option<String> {
    let oid = git2::Oid::from_str(blob).ok()?;
    let blob = repo.find_blob(oid).ok()?;
    String::from_utf8(blob.content().to_vec()).ok()
}

/// Three-way merge with git's conflict style (`<<<<<<<`, `=======`, `>>>>>>>`).
fn merge(base: &str, ours: &str, theirs: &str) -> std::result::Result<String, String> {
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

fn print_diffs(diffs: &[(String, String, String, Option<&'static str>)]) {
    // Plain text: the diff is data (stdout), meant to be piped or saved.
    let formatter = diffy::PatchFormatter::new();
    let mut stdout = std::io::stdout().lock();
    for (path, from, to, note) in diffs {
        let mut opts = diffy::DiffOptions::new();
        opts.set_original_filename(format!("a/{path}"))
            .set_modified_filename(format!("b/{path}"));
        let patch = opts.create_patch(from, to);
        if let Some(note) = note {
            let _ = writeln!(stdout, "# {path}: {note}");
        }
        let _ = write!(stdout, "{}", formatter.fmt_patch(&patch));
    }
}

fn journal_path(repo: &git2::Repository) -> PathBuf {
    repo.path().join(JOURNAL)
}

fn tmp_path(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    target.with_file_name(format!(".{name}{TMP_SUFFIX}"))
}

fn io_err(what: &str, path: &Path, err: std::io::Error) -> Error {
    Error::failed(format!("cannot {what} {}: {err}", path.display()))
}

/// Write `bytes` to `path` durably: a temporary file beside it, fsync, rename, fsync the
/// directory. Readers see the old or the new content, never a mix.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = stage(path, bytes)?;
    fs::rename(&tmp, path).map_err(|err| io_err("write", path, err))?;
    sync_dir(path.parent().unwrap_or(Path::new(".")));
    Ok(())
}

/// Write `bytes` to the temporary file of `path`, fsynced, keeping `path`'s permissions.
fn stage(path: &Path, bytes: &[u8]) -> Result<PathBuf> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(|err| io_err("create", dir, err))?;
    }
    let tmp = tmp_path(path);
    let mut file = fs::File::create(&tmp).map_err(|err| io_err("create", &tmp, err))?;
    file.write_all(bytes)
        .and_then(|()| {
            if let Ok(meta) = fs::metadata(path) {
                file.set_permissions(meta.permissions())?;
            }
            file.sync_all()
        })
        .map_err(|err| io_err("write", &tmp, err))?;
    Ok(tmp)
}

/// Make renames in `dir` durable. Best effort: not every filesystem supports it.
fn sync_dir(dir: &Path) {
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// The N of `HOMELAB_FAILPOINT=render-after-N-writes`, if set. Only debug and test builds
/// have it: a released binary ignores the variable, so nothing outside the test suite can
/// make it abort half-way.
#[cfg(debug_assertions)]
fn failpoint() -> Option<usize> {
    parse_failpoint(&std::env::var(FAILPOINT_ENV).ok()?)
}

#[cfg(not(debug_assertions))]
fn failpoint() -> Option<usize> {
    None
}

#[cfg_attr(not(debug_assertions), allow(dead_code))]
fn parse_failpoint(value: &str) -> Option<usize> {
    value
        .strip_prefix("render-after-")?
        .strip_suffix("-writes")?
        .parse()
        .ok()
}

/// Carry out the planned changes crash-safely and commit; returns the commit, if any.
fn execute(
    repo: &git2::Repository,
    repo_dir: &Path,
    ops: &[Op],
    state: &State,
    renderings: &BTreeMap<String, String>,
    message: &str,
) -> Result<Option<git2::Oid>> {
    let git = |err: git2::Error| Error::failed(format!("git: {}", err.message()));

    // 1. The journal: previous contents, the index copied, HEAD and ref noted.
    let mut entries = Vec::with_capacity(ops.len());
    for op in ops {
        let before = match fs::read(repo_dir.join(&op.path)) {
            Ok(bytes) => Some(BASE64.encode(bytes)),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
            Err(err) => return Err(io_err("read", &repo_dir.join(&op.path), err)),
        };
        entries.push(JournalEntry {
            path: op.path.clone(),
            before,
        });
    }
    let index_file = repo.path().join("index");
    let index_existed = index_file.exists();
    if index_existed {
        let backup = repo.path().join(INDEX_BACKUP);
        let bytes = fs::read(&index_file).map_err(|err| io_err("read", &index_file, err))?;
        write_atomic(&backup, &bytes)?;
    }
    let journal = Journal {
        head: head_id(repo),
        rendered_ref: repo
            .refname_to_id(RENDERED_REF)
            .ok()
            .map(|id| id.to_string()),
        index_existed,
        entries,
    };
    let journal_text = serde_json::to_vec_pretty(&journal)
        .map_err(|err| Error::failed(format!("cannot write the journal: {err}")))?;
    write_atomic(&journal_path(repo), &journal_text)?;

    // 2. Stage every new content beside its target. The bar only shows on a terminal.
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(ops.len() as u64),
        indicatif::ProgressDrawTarget::stderr(),
    )
    .with_message("writing files");
    if let Ok(style) = indicatif::ProgressStyle::with_template("{msg} {pos}/{len}") {
        bar.set_style(style);
    }
    let mut staged = Vec::with_capacity(ops.len());
    for op in ops {
        bar.inc(1);
        let target = repo_dir.join(&op.path);
        let tmp = match &op.content {
            Some(bytes) => Some(stage(&target, bytes)?),
            None => None,
        };
        staged.push((target, tmp));
    }

    // 3. Rename (or remove) in one burst.
    let fail_after = failpoint();
    let mut dirs = BTreeSet::new();
    for (n, (target, tmp)) in staged.iter().enumerate() {
        if fail_after == Some(n) {
            std::process::abort();
        }
        match tmp {
            Some(tmp) => fs::rename(tmp, target).map_err(|err| io_err("write", target, err))?,
            None => fs::remove_file(target).map_err(|err| io_err("remove", target, err))?,
        }
        if let Some(dir) = target.parent() {
            dirs.insert(dir.to_path_buf());
        }
    }
    if fail_after == Some(staged.len()) {
        std::process::abort();
    }
    for dir in &dirs {
        sync_dir(dir);
    }
    for op in ops.iter().filter(|op| op.content.is_none()) {
        remove_empty_parents(repo_dir, &repo_dir.join(&op.path));
    }

    // 4. Keep the recorded renderings reachable (they are the next merge bases).
    update_rendered_ref(repo, state, renderings).map_err(git)?;

    // 5. One commit; then the journal goes.
    bar.set_message("committing");
    let commit = crate::git::commit_all(repo, message)?;
    bar.finish_and_clear();
    finish(repo);
    Ok(commit)
}

fn head_id(repo: &git2::Repository) -> Option<String> {
    repo.head()
        .ok()
        .and_then(|h| h.target())
        .map(|id| id.to_string())
}

/// Remove the directories a deletion left empty, up to (not including) the repository root.
fn remove_empty_parents(root: &Path, file: &Path) {
    let mut dir = file.parent();
    while let Some(d) = dir {
        if d == root || !d.starts_with(root) || fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
}

/// Point [`RENDERED_REF`] at a commit whose tree holds every recorded rendering.
fn update_rendered_ref(
    repo: &git2::Repository,
    state: &State,
    renderings: &BTreeMap<String, String>,
) -> std::result::Result<(), git2::Error> {
    let empty = repo.treebuilder(None)?.write()?;
    let empty = repo.find_tree(empty)?;
    let mut update = git2::build::TreeUpdateBuilder::new();
    for (path, file) in &state.files {
        let oid = match renderings.get(path) {
            Some(text) => repo.blob(text.as_bytes())?,
            None => match git2::Oid::from_str(&file.blob) {
                // A kept file's base from an earlier render; skip it if git lost it.
                Ok(oid) if repo.find_blob(oid).is_ok() => oid,
                _ => continue,
            },
        };
        update.upsert(path.as_str(), oid, git2::FileMode::Blob);
    }
    let tree = update.create_updated(repo, &empty)?;
    let tree = repo.find_tree(tree)?;
    let sig = git2::Signature::now("homelab", "homelab@localhost")?;
    let commit = repo.commit(None, &sig, &sig, "homelab renderings", &tree, &[])?;
    repo.reference(RENDERED_REF, commit, true, "homelab render")?;
    Ok(())
}

/// Drop the journal and the index copy of a finished apply.
fn finish(repo: &git2::Repository) {
    let _ = fs::remove_file(journal_path(repo));
    let _ = fs::remove_file(repo.path().join(INDEX_BACKUP));
    sync_dir(repo.path());
}

/// Roll back an apply that was interrupted before its commit, if there is one. Returns
/// whether anything was rolled back. `apply` calls this first; safe to call at any time.
pub fn recover(repo_dir: &Path) -> Result<bool> {
    match git2::Repository::open(repo_dir) {
        Ok(repo) => recover_repo(&repo, repo_dir),
        Err(_) => Ok(false),
    }
}

fn recover_repo(repo: &git2::Repository, repo_dir: &Path) -> Result<bool> {
    let path = journal_path(repo);
    let text = match fs::read(&path) {
        Ok(text) => text,
        Err(_) => {
            // An index copy without a journal: the crash came before the journal existed.
            let _ = fs::remove_file(repo.path().join(INDEX_BACKUP));
            return Ok(false);
        }
    };
    let journal: Journal = serde_json::from_slice(&text).map_err(|err| {
        Error::failed(format!(
            "the journal of an interrupted render is unreadable: {err}"
        ))
        .with_hint(format!(
            "check `git status`, restore what you need with `git checkout`, then delete {}",
            path.display()
        ))
    })?;
    for entry in &journal.entries {
        let _ = fs::remove_file(tmp_path(&repo_dir.join(&entry.path)));
    }
    if head_id(repo) != journal.head {
        // The commit landed; only the clean-up was interrupted.
        finish(repo);
        return Ok(false);
    }
    let git = |err: git2::Error| Error::failed(format!("git: {}", err.message()));
    for entry in &journal.entries {
        let target = repo_dir.join(&entry.path);
        match &entry.before {
            Some(before) => {
                let bytes = BASE64.decode(before).map_err(|err| {
                    Error::failed(format!(
                        "the journal of an interrupted render is damaged ({}): {err}",
                        entry.path
                    ))
                })?;
                write_atomic(&target, &bytes)?;
            }
            None => match fs::remove_file(&target) {
                Ok(()) => remove_empty_parents(repo_dir, &target),
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                Err(err) => return Err(io_err("remove", &target, err)),
            },
        }
    }
    let index_file = repo.path().join("index");
    let backup = repo.path().join(INDEX_BACKUP);
    if journal.index_existed {
        if backup.exists() {
            fs::rename(&backup, &index_file).map_err(|err| io_err("restore", &index_file, err))?;
        }
    } else {
        let _ = fs::remove_file(&index_file);
    }
    match &journal.rendered_ref {
        Some(id) => {
            let oid = git2::Oid::from_str(id).map_err(git)?;
            repo.reference(RENDERED_REF, oid, true, "homelab render rollback")
                .map_err(git)?;
        }
        None => {
            if let Ok(mut r) = repo.find_reference(RENDERED_REF) {
                r.delete().map_err(git)?;
            }
        }
    }
    finish(repo);
    crate::ui::style::note(
        "rolled back an interrupted render: the repository is as it was before it",
    );
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_must_stay_inside_the_repository() {
        assert!(check_path("clusters/home/apps.yaml").is_ok());
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../b",
            "a//b",
            "./a",
            ".git/config",
            ".homelab/state.yaml",
            "a\\b",
            "a/.b.yaml.homelab-tmp",
        ] {
            assert!(check_path(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn failpoint_parses_only_its_own_form() {
        // The env var itself is exercised end to end by the crash tests.
        let parse = parse_failpoint;
        assert_eq!(parse("render-after-3-writes"), Some(3));
        assert_eq!(parse("render-after-x-writes"), None);
        assert_eq!(parse("other"), None);
    }

    #[test]
    fn merge_uses_git_style_markers() {
        let base = "a: 1\nb: 2\n";
        let err = merge(base, "a: 9\nb: 2\n", "a: 5\nb: 2\n").expect_err("conflict");
        assert!(err.contains("<<<<<<<") && err.contains("=======") && err.contains(">>>>>>>"));
        assert!(!err.contains("|||||||"));
        // Like git, changes to adjacent lines conflict; separated ones merge.
        assert!(merge(base, "a: 9\nb: 2\n", "a: 1\nb: 3\n").is_err());
        let base = "a: 1\nx: 0\nb: 2\n";
        assert_eq!(
            merge(base, "a: 9\nx: 0\nb: 2\n", "a: 1\nx: 0\nb: 3\n").expect("clean"),
            "a: 9\nx: 0\nb: 3\n"
        );
    }
}
