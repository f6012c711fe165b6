//! The changes the commands hand to the one writer ([`super::write`]): a whole re-render
//! (`render`, `init`) and the addition or removal of an app (`add-app`, `remove-app`), with
//! the files homelab writes once and then leaves to the user taken as they are on disk.

use std::collections::{BTreeMap, BTreeSet};

use crate::config::{CONFIG_FILE, Config};
use crate::error::{Error, Result};
use crate::git::tree::RepoTree;
use crate::render::write::{Change, Mode, Report, Workspace};
use crate::secrets::SOPS_CONFIG;

/// The commit message of a re-render.
pub const COMMIT_MESSAGE: &str = "Re-render the repository from homelab.yaml";

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
            super::apps::sops_config(&key.recipient),
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
) -> Result<BTreeSet<String>> {
    let mut untouched = BTreeSet::new();
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

/// The user's `homelab.yaml`, read (never through a link) under the lock.
pub fn config_text(ws: &Workspace) -> Result<String> {
    let bytes = ws.tree().read(CONFIG_FILE)?.ok_or_else(|| {
        Error::usage(format!("{CONFIG_FILE} vanished"))
            .with_hint("restore it (`git checkout HEAD -- homelab.yaml`) and run the command again")
    })?;
    String::from_utf8(bytes).map_err(|_| {
        Error::usage(format!("{CONFIG_FILE} is not UTF-8 text")).with_hint("save the file as UTF-8")
    })
}

/// The change of adding or removing an app: exactly the files whose rendering differs
/// between the configuration before (`old`) and after (`new`), and `homelab.yaml` edited in
/// place (`config_text`). Other files keep their state, whatever it is (a pending edit of
/// homelab.yaml is `homelab render`'s business).
pub fn app_change(
    old: &Config,
    new: &Config,
    config_text: String,
    message: &str,
) -> Result<Change> {
    let before = crate::render::render_without_flux(old)?.files;
    let after = crate::render::render_without_flux(new)?.files;
    let mut scope: BTreeSet<String> = BTreeSet::new();
    for path in before.keys().chain(after.keys()) {
        if path != CONFIG_FILE && before.get(path) != after.get(path) {
            scope.insert(path.clone());
        }
    }
    let mut files: BTreeMap<String, String> = after
        .into_iter()
        .filter(|(path, _)| scope.contains(path))
        .collect();
    files.insert(CONFIG_FILE.to_owned(), config_text);
    let previous = before
        .into_iter()
        .filter(|(path, _)| scope.contains(path))
        .collect();
    let mut change = Change::whole(files, Mode::Apply, message);
    change.scope = Some(scope);
    change.previous = previous;
    change.replace.insert(CONFIG_FILE.to_owned());
    change.all_or_nothing = true;
    Ok(change)
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
