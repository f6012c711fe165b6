//! `homelab secret show APP [KEY]`: an app's generated credentials (the admin password
//! `add-app` made up), decrypted on this machine with the repository's age key.
//!
//! The values are printed on stdout only, and only when asked: with KEY exactly one value
//! (for scripts), else every key as `key: value`, with a warning on stderr when that lands
//! on a terminal. Nothing decrypted is ever written to stderr or to a file.

use std::io::Write as _;

use crate::catalog;
use crate::cli::{SecretArgs, SecretCommand, SecretShowArgs};
use crate::commands::Context;
use crate::config::{App, Config};
use crate::error::{Error, Result, Status};
use crate::git::tree::RepoTree;
use crate::secrets::sops::DecryptError;

pub fn run(ctx: &Context, args: &SecretArgs) -> Result<Status> {
    match &args.command {
        SecretCommand::Show(show_args) => show(ctx, show_args),
    }
}

fn show(ctx: &Context, args: &SecretShowArgs) -> Result<Status> {
    let cfg = crate::catalog::load_config(&ctx.dir)?;
    let tree = RepoTree::open(&ctx.dir)?;
    let app = find_app(&cfg, &tree, &args.app)?;
    let path = catalog::secret_path(app);
    let text = tree.read(&path)?.ok_or_else(|| {
        Error::failed(format!("{path} is missing")).with_hint(format!(
            "restore it from git (`git checkout -- {path}`); it is written once, when the app is added"
        ))
    })?;
    let text = String::from_utf8(text)
        .map_err(|_| Error::failed(format!("{path} is not UTF-8 text (is it a SOPS file?)")))?;
    let key = crate::secrets::require_key(&ctx.dir, &cfg.cluster.name)?;
    let doc = key
        .decrypt(&text)
        .map_err(|e| decrypt_error(&path, &key, e))?;
    let values =
        crate::secrets::secret_values(&doc).map_err(|e| Error::failed(format!("{path}: {e:#}")))?;

    let mut out = String::new();
    match &args.key {
        Some(wanted) => {
            let Some((_, value)) = values.iter().find(|(k, _)| k == wanted) else {
                let keys: Vec<&str> = values.iter().map(|(k, _)| k.as_str()).collect();
                return Err(Error::usage(format!(
                    "{} has no credential called {wanted:?}",
                    app.name
                ))
                .with_hint(format!("its keys: {}", keys.join(", "))));
            };
            out.push_str(value);
            if !args.no_newline {
                out.push('\n');
            }
        }
        None => {
            if crate::ui::printer::stdout_is_terminal() {
                crate::ui::style::note(&format!(
                    "{} the credentials of {} are shown on screen; `homelab secret show {} KEY` prints one value for scripts",
                    crate::ui::style::yellow("warning:"),
                    app.name,
                    app.name
                ));
            }
            for (k, v) in &values {
                out.push_str(&key_value_line(k, v));
            }
        }
    }
    let mut stdout = crate::ui::printer::data_writer();
    match stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => Ok(Status::Ok),
        // A reader that stops early (`| head`) is not an error worth a message.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(Status::Ok),
        Err(e) => Err(Error::failed(format!("cannot write to stdout: {e}"))),
    }
}

/// `key: value`, or for a value of several lines `key: |` and the lines indented, so every
/// line of the output still says whose it is.
fn key_value_line(key: &str, value: &str) -> String {
    if !value.contains('\n') {
        return format!("{key}: {value}\n");
    }
    let mut out = format!("{key}: |\n");
    for line in value.strip_suffix('\n').unwrap_or(value).split('\n') {
        out.push_str("  ");
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// The installed app called `name` that has an encrypted Secret, or a usage error listing
/// those that do.
fn find_app<'a>(cfg: &'a Config, tree: &RepoTree, name: &str) -> Result<&'a App> {
    let mut with_secrets = Vec::new();
    for app in &cfg.apps {
        if tree.exists(&catalog::secret_path(app))? {
            with_secrets.push(app);
        }
    }
    if let Some(app) = with_secrets.iter().find(|a| a.name == name) {
        return Ok(app);
    }
    let names: Vec<&str> = with_secrets.iter().map(|a| a.name.as_str()).collect();
    let list = if names.is_empty() {
        "no installed app has generated credentials".to_owned()
    } else {
        format!("apps with credentials: {}", names.join(", "))
    };
    let message = if cfg.apps.iter().any(|a| a.name == name) {
        format!("{name} has no generated credentials (no apps/{name}/secret.sops.yaml)")
    } else if catalog::get(name).is_some() {
        format!("{name} is not installed")
    } else {
        format!("{name:?} is not an installed app")
    };
    Err(Error::usage(message).with_hint(list))
}

fn decrypt_error(path: &str, key: &crate::secrets::AgeKey, err: DecryptError) -> Error {
    match err {
        DecryptError::WrongKey(_) => Error::failed(format!(
            "cannot decrypt {path}: {err}"
        ))
        .with_hint(format!(
            "this repository's key is {} ({}); restore the key the file was encrypted for with `homelab key import <backup>`",
            key.recipient,
            key.file.display()
        )),
        DecryptError::Tampered(_) => Error::failed(format!("cannot decrypt {path}: {err}"))
            .with_hint(format!(
                "restore it from git (`git log -p -- {path}` shows who changed it); nothing was shown"
            )),
        DecryptError::Format(_) => Error::failed(format!("cannot read {path}: {err}"))
            .with_hint("it must be the SOPS file `homelab add-app` wrote; `sops -d` may read other kinds"),
    }
}

#[cfg(test)]
mod tests {
    use super::key_value_line;

    #[test]
    fn multi_line_values_stay_attributed_to_their_key() {
        assert_eq!(key_value_line("a", "b"), "a: b\n");
        assert_eq!(key_value_line("a", "x\ny\n"), "a: |\n  x\n  y\n");
    }
}
