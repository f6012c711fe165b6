//! `homelab key [show|export|import]`: which age key the repository uses, and backing it up
//! and restoring it. That one file outside the repository decrypts every app secret: losing
//! it loses the generated passwords, so it must be easy to copy somewhere safe and back.
//!
//! The private key never goes to stderr; it goes to stdout only for `export -` into a pipe.

use std::io::{Read as _, Write as _};
use std::path::Path;

use crate::cli::{KeyArgs, KeyCommand, KeyExportArgs, KeyImportArgs};
use crate::commands::Context;
use crate::error::{Error, Result, Status};
use crate::secrets::{self, Imported, KeyLocation, KeySource};
use crate::ui::{printer, style};

pub fn run(ctx: &Context, args: &KeyArgs) -> Result<Status> {
    match &args.command {
        None | Some(KeyCommand::Show) => show(ctx),
        Some(KeyCommand::Export(export_args)) => export(ctx, export_args),
        Some(KeyCommand::Import(import_args)) => import(ctx, import_args),
    }
}

/// The key's public half and file on stdout; exit 1 when the file is missing.
fn show(ctx: &Context) -> Result<Status> {
    let cfg = crate::catalog::load_config(&ctx.dir)?;
    let Some(location) = secrets::key_location(&ctx.dir, &cfg.cluster.name)? else {
        return Err(secrets::require_key(&ctx.dir, &cfg.cluster.name)
            .expect_err("no key location means no key"));
    };
    printer::data_line(&format!("recipient: {}", location.recipient));
    printer::data_line(&format!("file: {}", location.file.display()));
    printer::data_line(&format!(
        "present: {}",
        if location.present { "yes" } else { "no" }
    ));
    match location.source {
        KeySource::Env => style::note(&format!(
            "the file comes from {}",
            secrets::AGE_KEY_FILE_ENV
        )),
        KeySource::Legacy => style::note(
            "the file is where an older homelab kept the cluster's key; it is still used",
        ),
        KeySource::Store => {}
    }
    if !location.present {
        style::note(&format!(
            "{} the key file is missing: homelab cannot encrypt new app secrets nor bootstrap the cluster",
            style::red("error:")
        ));
        style::note(&format!(
            "{} restore your backup with `homelab key import <backup file>`",
            style::bold("hint:")
        ));
        return Ok(Status::ChecksFailed);
    }
    style::note(&format!(
        "back it up with `homelab key export <file outside this repository>`: {}",
        secrets::WHY_BACK_UP_THE_KEY
    ));
    Ok(Status::Ok)
}

fn export(ctx: &Context, args: &KeyExportArgs) -> Result<Status> {
    let cfg = crate::catalog::load_config(&ctx.dir)?;
    let key = secrets::require_key(&ctx.dir, &cfg.cluster.name)?;
    if args.file == Path::new("-") {
        // A pipe (gpg, a password manager) is the one use of stdout; on a terminal the key
        // would only end up in the scrollback.
        if printer::stdout_is_terminal() {
            return Err(Error::usage(
                "refusing to print the private age key on a terminal",
            )
            .with_hint(
                "give a file name, or pipe it: `homelab key export - | gpg --symmetric > homelab-age.agekey.gpg`",
            ));
        }
        let mut stdout = printer::data_writer();
        stdout
            .write_all(key.private_bytes())
            .and_then(|()| stdout.flush())
            .map_err(|e| Error::failed(format!("cannot write the key to stdout: {e}")))?;
        style::note(&format!(
            "wrote the age key for {} to standard output",
            key.recipient
        ));
        return Ok(Status::Ok);
    }
    secrets::export_key(&key, &ctx.dir, &args.file, args.force)?;
    style::note(&format!(
        "exported the age key for {} to {} (mode 600): keep it off this machine (a password manager, an encrypted USB stick); `homelab key import {}` restores it",
        key.recipient,
        args.file.display(),
        args.file.display()
    ));
    Ok(Status::Ok)
}

fn import(ctx: &Context, args: &KeyImportArgs) -> Result<Status> {
    // The same checks as every command, though only .sops.yaml is needed here.
    crate::catalog::load_config(&ctx.dir)?;
    let (text, source) = read_backup(&args.file)?;
    let outcome = secrets::import_key(&ctx.dir, &text, &source)?;
    match outcome {
        Imported::Written(KeyLocation {
            recipient, file, ..
        }) => style::note(&format!(
            "imported the age key for {recipient} into {} (mode 600)",
            file.display()
        )),
        Imported::AlreadyThere(KeyLocation {
            recipient, file, ..
        }) => style::note(&format!(
            "the age key for {recipient} is already in {}: nothing to do",
            file.display()
        )),
    }
    Ok(Status::Ok)
}

/// The backup's text and how to name it in messages; bounded, so a wrong path (a disk
/// image) is refused instead of read.
fn read_backup(file: &Path) -> Result<(String, String)> {
    let too_big = |name: &str| {
        Error::usage(format!(
            "{name} is larger than {} KiB: not an age key file",
            secrets::MAX_KEY_FILE / 1024
        ))
        .with_hint("give the file `homelab key export` wrote")
    };
    let mut bytes = Vec::new();
    let name = if file == Path::new("-") {
        std::io::stdin()
            .lock()
            .take(secrets::MAX_KEY_FILE + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| Error::failed(format!("cannot read standard input: {e}")))?;
        "standard input".to_owned()
    } else {
        let name = file.display().to_string();
        let meta = std::fs::metadata(file).map_err(|e| {
            Error::usage(format!("cannot read {name}: {e}"))
                .with_hint("give the path of your backup of the key")
        })?;
        if !meta.is_file() {
            return Err(Error::usage(format!("{name} is not a file"))
                .with_hint("give the path of your backup of the key"));
        }
        std::fs::File::open(file)
            .and_then(|f| f.take(secrets::MAX_KEY_FILE + 1).read_to_end(&mut bytes))
            .map_err(|e| Error::failed(format!("cannot read {name}: {e}")))?;
        name
    };
    if bytes.len() as u64 > secrets::MAX_KEY_FILE {
        return Err(too_big(&name));
    }
    Ok((String::from_utf8_lossy(&bytes).into_owned(), name))
}
