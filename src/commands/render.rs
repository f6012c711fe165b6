//! `homelab render`: re-render the repository from `homelab.yaml` at any time, safely.
//!
//! The command only gathers the inputs (configuration, Flux manifest) and the rendering;
//! the safety rules (keep, merge, report, lock, commit) live in [`crate::render::write`],
//! shared with `init`, `add-app` and `remove-app`.

use std::collections::BTreeMap;

use crate::cli::RenderArgs;
use crate::config::{CONFIG_FILE, Config};
use crate::error::{Error, Result, Status};
use crate::render::tree::RepoTree;
use crate::render::write::{self, Change, Mode, Report, Workspace};
use crate::secrets::SOPS_CONFIG;
use crate::ui::style;

use super::Context;

/// The commit message of a re-render.
pub const COMMIT_MESSAGE: &str = "Re-render the repository from homelab.yaml";

/// The write mode the flags ask for (clap already rejects `--force` with `--merge`).
pub fn mode(args: &RenderArgs) -> Mode {
    if args.diff {
        Mode::Diff
    } else if args.force {
        Mode::Force
    } else if args.merge {
        Mode::Merge
    } else {
        Mode::Apply
    }
}

/// Run `homelab render`.
pub fn run(ctx: &Context, args: &RenderArgs) -> Result<Status> {
    write::check_dir(&ctx.dir)?;
    // Read once before anything is created, so a missing or invalid homelab.yaml changes
    // nothing; read again under the lock, where no other homelab command can change it.
    let cfg = crate::config::load(&ctx.dir)?;
    let install =
        crate::flux::install_manifest(&cfg.flux.version, args.flux.flux_manifests.as_deref())?;
    let mode = mode(args);
    if mode == Mode::Diff {
        let tree = RepoTree::open(&ctx.dir)?;
        let key = repo_key(&tree, &cfg, false)?;
        let change = whole_change(&tree, &cfg, &install, mode, key.as_ref().map(|(k, _)| k))?;
        let report = write::preview(&ctx.dir, &change)?;
        crate::ui::printer::note_raw(&report.summary_with(ctx.verbose > 0));
        return Ok(status(&report));
    }
    let ws = Workspace::create(&ctx.dir, &cfg.git.branch, "render")?;
    let cfg = crate::config::load(&ctx.dir)?;
    let key = repo_key(ws.tree(), &cfg, true)?;
    if let Some((key, true)) = &key {
        announce_key(key);
    }
    let change = whole_change(
        ws.tree(),
        &cfg,
        &install,
        mode,
        key.as_ref().map(|(k, _)| k),
    )?;
    let report = ws.apply(&change)?;
    crate::ui::printer::note_raw(&report.summary_with(ctx.verbose > 0));
    Ok(conclude(&report, &cfg))
}

/// The change of a whole render: the rendering of every file, with the files homelab
/// writes once and then leaves to the user taken as they are on disk (see
/// [`user_files`]). `key`: the repository's age key, for a `.sops.yaml` when the
/// repository has none yet (see [`repo_key`]).
pub fn whole_change(
    tree: &RepoTree,
    cfg: &Config,
    install: &str,
    mode: Mode,
    key: Option<&crate::secrets::AgeKey>,
) -> Result<Change> {
    let mut files = crate::render::render(cfg, install)?.files;
    let untouched = user_files(tree, cfg, &mut files)?;
    if !files.contains_key(SOPS_CONFIG)
        && let Some(key) = key
    {
        files.insert(
            SOPS_CONFIG.to_owned(),
            crate::catalog::sops_config(&key.recipient),
        );
    }
    let mut change = Change::whole(files, mode, COMMIT_MESSAGE);
    change.untouched = untouched;
    Ok(change)
}

/// The age key for a repository that has no `.sops.yaml` yet: created when `create` (a
/// repository from before keys were created at `init` gets one at its next render; `init`
/// creates it), else only found. `None` when `.sops.yaml` exists (it is kept as it is) or
/// no key exists and none may be created. Returns whether the key was just created.
pub fn repo_key(
    tree: &RepoTree,
    cfg: &Config,
    create: bool,
) -> Result<Option<(crate::secrets::AgeKey, bool)>> {
    if tree.exists(SOPS_CONFIG)? {
        return Ok(None);
    }
    if create {
        return crate::secrets::ensure_key(tree.root(), &cfg.cluster.name).map(Some);
    }
    Ok(crate::secrets::find_key(tree.root(), &cfg.cluster.name)?.map(|key| (key, false)))
}

/// Replace, in `files`, the renderings of the files homelab writes once and then keeps as
/// they are: `homelab.yaml` (the user's input, comments and all, never rewritten from its
/// parsed form), `.sops.yaml` and the apps' encrypted Secrets (written by `init` and
/// `add-app`). Present on disk, they are recorded as they are; absent, `homelab.yaml` keeps
/// its rendering (`init` writes it) and the others are not part of the rendering. Returns the paths the render must not touch at all: a `homelab.yaml`
/// that is a link (homelab reads it, but never writes or commits through links).
pub fn user_files(
    tree: &RepoTree,
    cfg: &Config,
    files: &mut BTreeMap<String, String>,
) -> Result<std::collections::BTreeSet<String>> {
    let mut untouched = std::collections::BTreeSet::new();
    match tree.read(CONFIG_FILE) {
        Ok(Some(bytes)) => {
            files.insert(
                CONFIG_FILE.to_owned(),
                String::from_utf8_lossy(&bytes).into_owned(),
            );
        }
        Ok(None) => {}
        Err(_) if tree.root().join(CONFIG_FILE).is_symlink() => {
            files.remove(CONFIG_FILE);
            untouched.insert(CONFIG_FILE.to_owned());
        }
        Err(err) => return Err(err),
    }
    let mut once = vec![SOPS_CONFIG.to_owned()];
    once.extend(cfg.apps.iter().map(crate::catalog::secret_path));
    for path in once {
        if let Some(bytes) = tree.read(&path)? {
            files.insert(path, String::from_utf8_lossy(&bytes).into_owned());
        }
    }
    Ok(untouched)
}

/// Say where a new age key is and that it must be backed up.
pub fn announce_key(key: &crate::secrets::AgeKey) {
    style::note(&format!(
        "created the repository's age key {} (public key {}): back it up with `homelab key export <file outside this repository>`; {}",
        key.file.display(),
        key.recipient,
        crate::secrets::WHY_BACK_UP_THE_KEY
    ));
}

/// Report the outcome of a render on stderr: the commit made (or why none was), and what
/// to run next. Exit 1 when conflicts remain.
pub fn conclude(report: &Report, cfg: &Config) -> Status {
    if report.has_conflicts() {
        return status(report);
    }
    match report.commit {
        Some(oid) => {
            style::note(&format!(
                "committed {} ({COMMIT_MESSAGE})",
                &oid.to_string()[..8]
            ));
            style::note(&next_step(cfg));
        }
        None => style::note("nothing to commit: the repository already matches homelab.yaml"),
    }
    Status::Ok
}

/// What to run after a commit: push it (or say what push needs).
pub fn next_step(cfg: &Config) -> String {
    if cfg.git.url.trim().is_empty() {
        format!(
            "{} set git.url in {CONFIG_FILE}, then run `homelab push` to publish it",
            style::bold("next:")
        )
    } else {
        format!(
            "{} run `homelab push` to publish it to {}",
            style::bold("next:"),
            cfg.git.url
        )
    }
}

/// Exit 1 when conflicts remain (in any mode: under `--merge` the markers must be resolved).
pub fn status(report: &Report) -> Status {
    if report.has_conflicts() {
        let hint = match report.mode {
            Mode::Merge => {
                "resolve the conflict markers in the files above, then run `homelab render` again: it commits once no conflict remains"
            }
            Mode::Diff => {
                "run `homelab render --merge` to write conflict markers, or `--force` to take the new rendering"
            }
            _ => {
                "run `homelab render --diff` to see them, then `--merge` to resolve by hand or `--force` to take the new rendering"
            }
        };
        if report.mode != Mode::Diff {
            style::note(
                "nothing was committed: the files without conflict are written, and the commit waits until no conflict remains",
            );
        }
        style::note(&format!("{} {hint}", style::bold("hint:")));
        Status::ChecksFailed
    } else {
        Status::Ok
    }
}

/// The error for an all-or-nothing change (`add-app`, `remove-app`) that would conflict.
pub fn conflict_error(what: &str, report: &Report) -> Error {
    Error::failed(format!(
        "{what}: nothing was changed, because these files would conflict:\n  {}",
        report.conflicts().join("\n  ")
    ))
    .with_hint(
        "bring them back in line with `homelab render --diff` / `--merge` (or move your changes aside), then run the command again",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_select_the_mode() {
        let mut args = RenderArgs::default();
        assert_eq!(mode(&args), Mode::Apply);
        args.merge = true;
        assert_eq!(mode(&args), Mode::Merge);
        args.force = true;
        assert_eq!(mode(&args), Mode::Force);
        args.diff = true;
        assert_eq!(mode(&args), Mode::Diff);
    }
}
