//! `homelab add-app <app>`: from a one-line wish to an exposed, persistent, TLS-secured app
//! in the GitOps repository.
//!
//! Everything is decided and rendered in memory first (answers, host, namespace, files,
//! the encrypted Secret), so any mistake is reported before a single file changes. Then
//! the files, `apps/kustomization.yaml` and `homelab.yaml` are written, committed, and
//! pushed when the repository has a remote.

use std::collections::BTreeMap;
use std::io::IsTerminal as _;
use std::path::Path;

use crate::catalog::{self, Profile, Question, Validation};
use crate::cli::{AddAppArgs, PushArgs};
use crate::commands::Context;
use crate::config::{App, CONFIG_FILE, Config};
use crate::error::{Error, Result, Status};

/// How a command pushes after committing: `(repository dir, config, push options)`.
/// A parameter so the commands can be tested without a remote.
pub type PushFn<'a> = &'a dyn Fn(&Path, &Config, &PushArgs) -> anyhow::Result<()>;

/// The push used by the CLI: the same as `homelab push`.
pub fn default_push(dir: &Path, cfg: &Config, args: &PushArgs) -> anyhow::Result<()> {
    crate::commands::push::push_repo(dir, cfg, args)
        .map(|_| ())
        .map_err(anyhow::Error::new)
}

/// Run `add-app` with the CLI's push.
pub fn run(ctx: &Context, args: &AddAppArgs) -> Result<Status> {
    run_with(ctx, args, &default_push)
}

/// Run `add-app` with the given push.
pub fn run_with(ctx: &Context, args: &AddAppArgs, push: PushFn<'_>) -> Result<Status> {
    let mut cfg = load_config(&ctx.dir)?;
    let profile = find_profile(&args.name)?;
    if let Some(existing) = cfg.apps.iter().find(|a| a.name == profile.name) {
        return Err(Error::usage(format!(
            "{} is already installed (namespace {}, host {})",
            existing.name, existing.namespace, existing.host
        ))
        .with_hint(format!(
            "change its answers under `apps:` in {CONFIG_FILE} and run `homelab render`, or `homelab remove-app {}` first",
            existing.name
        )));
    }
    let interactive =
        !args.non_interactive && std::io::stdin().is_terminal() && std::io::stderr().is_terminal();

    let (mut answers, secrets_given) = parse_sets(&profile, &args.set)?;
    let host = match &args.host {
        Some(h) => h.trim_end_matches('.').to_ascii_lowercase(),
        None => catalog::default_host(&cfg, &profile),
    };
    if !catalog::is_dns_name(&host) {
        return Err(
            Error::usage(format!("--host: {host:?} is not a valid DNS name")).with_hint(
                "use lowercase letters, digits, hyphens and dots, e.g. --host cloud.example.com",
            ),
        );
    }
    let namespace = args
        .namespace
        .clone()
        .unwrap_or_else(|| profile.namespace.clone());
    if !catalog::is_dns_label(&namespace) {
        return Err(Error::usage(format!(
            "--namespace: {namespace:?} is not a valid namespace name"
        ))
        .with_hint(
            "use at most 63 lowercase letters, digits and hyphens, e.g. --namespace cloud",
        ));
    }
    check_collisions(&cfg, &profile.name, &host, &namespace)?;

    ask_questions(&profile, &mut answers, interactive)?;
    let app = App {
        name: profile.name.clone(),
        namespace,
        host,
        settings: answers,
    };
    let mut given = secrets_given;
    ask_required_secrets(&profile, &app, &mut given, interactive)?;

    // Render everything before touching the disk.
    cfg.apps.push(app.clone());
    let mut files = catalog::render_app(&cfg, &app).map_err(|e| Error::usage(format!("{e:#}")))?;
    files.insert(
        "apps/kustomization.yaml".into(),
        catalog::apps_kustomization(&cfg),
    );
    let config_text = config_to_yaml(&ctx.dir, &cfg)?;
    let plain = catalog::plain_secret(&cfg, &profile, &app, &given)
        .map_err(|e| Error::usage(format!("{e:#}")))?;

    let progress = crate::commands::apps::spinner(&format!("adding {}", app.name));
    if let Some(plain) = plain {
        progress.set_message("encrypting the app's Secret (SOPS + age)");
        let (key_file, recipient) = crate::secrets::ensure_age_identity(&cfg.cluster.name)
            .map_err(|e| Error::failed(format!("{e:#}")))?;
        let sealed = crate::secrets::encrypt_secret(&plain, &recipient)
            .map_err(|e| Error::failed(format!("{e:#}")))?;
        files.insert(catalog::secret_path(&app), sealed);
        files.insert(".sops.yaml".into(), catalog::sops_config(&recipient));
        progress.suspend(|| {
            crate::ui::style::note(&format!(
                "Secrets are encrypted for the age key in {} — back it up: with the repository, it is all you need to rebuild.",
                key_file.display()
            ));
        });
    }
    files.insert(CONFIG_FILE.into(), config_text);

    progress.set_message("writing and committing");
    write_files(&ctx.dir, &files)?;
    let repo = crate::git::open_or_init(&ctx.dir, &cfg.git.branch)
        .map_err(|e| Error::failed(format!("{e:#}")))?;
    crate::git::commit_all(&repo, &format!("Add app {} at {}", app.name, app.host))
        .map_err(|e| Error::failed(format!("{e:#}")))?;
    progress.finish_and_clear();

    println!(
        "{}: https://{} (namespace {})",
        app.name, app.host, app.namespace
    );
    if !profile.notes.is_empty() {
        crate::ui::style::note(&profile.notes);
    }
    let pushed = push_if_configured(&ctx.dir, &cfg, args.no_push, &args.push, push)?;
    crate::commands::sync::after_push(&ctx.dir, &cfg, &args.wait, pushed)
}

/// Push when git.url is set and `--no-push` was not given.
pub fn push_if_configured(
    dir: &Path,
    cfg: &Config,
    no_push: bool,
    args: &PushArgs,
    push: PushFn<'_>,
) -> Result<Status> {
    if cfg.git.url.is_empty() || no_push {
        return Ok(Status::Ok);
    }
    push(dir, cfg, args).map_err(|e| {
        let err = Error::from(e);
        if err.hint.is_some() {
            err
        } else {
            err.with_hint("the change is committed locally; run `homelab push` to retry")
        }
    })?;
    Ok(Status::Ok)
}

/// Read and parse `homelab.yaml`.
// Uses the model directly; config::validate's checks take over when they land.
pub fn load_config(dir: &Path) -> Result<Config> {
    let path = dir.join(CONFIG_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        Error::usage(format!("cannot read {}: {e}", path.display())).with_hint(
            "run this in your homelab repository (or pass --dir), or create it with `homelab init`",
        )
    })?;
    serde_saphyr::from_str(&text).map_err(|e| {
        Error::usage(format!("{}: {e}", path.display()))
            .with_hint("fix homelab.yaml (see examples/homelab.yaml)")
    })
}

/// Serialize the configuration back to YAML, keeping the comment block at the top of the
/// existing file (the rest is regenerated from the model).
pub fn config_to_yaml(dir: &Path, cfg: &Config) -> Result<String> {
    let body = serde_saphyr::to_string(cfg)
        .map_err(|e| Error::failed(format!("cannot write homelab.yaml: {e}")))?;
    let old = std::fs::read_to_string(dir.join(CONFIG_FILE)).unwrap_or_default();
    let header: String = old
        .lines()
        .take_while(|l| l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    Ok(format!("{header}{body}"))
}

/// The profile for a name given on the command line, or a did-you-mean error.
pub fn find_profile(name: &str) -> Result<Profile> {
    catalog::get(name).ok_or_else(|| {
        let known = catalog::names().join(", ");
        let mut err = Error::usage(format!("{name:?} is not in the app catalog"));
        err = match catalog::suggest(name) {
            Some(s) => err.with_hint(format!("did you mean {s}? Available: {known}")),
            None => err.with_hint(format!("available: {known} (see `homelab apps`)")),
        };
        err
    })
}

/// Split `--set key=value` into question answers and Secret values; unknown keys and
/// invalid answers are errors naming the key.
fn parse_sets(
    profile: &Profile,
    sets: &[String],
) -> Result<(BTreeMap<String, String>, BTreeMap<String, String>)> {
    let mut answers = BTreeMap::new();
    let mut secrets = BTreeMap::new();
    for set in sets {
        let Some((key, value)) = set.split_once('=') else {
            return Err(Error::usage(format!("--set {set:?}: expected KEY=VALUE"))
                .with_hint("e.g. --set storage_size=100Gi"));
        };
        let key = key.trim();
        if let Some(q) = profile.questions.iter().find(|q| q.key == key) {
            q.validation.check(value).map_err(|why| {
                Error::usage(format!("--set {key}: {why}"))
                    .with_hint(format!("{key} must be {}", q.validation.describe()))
            })?;
            answers.insert(key.to_owned(), value.to_owned());
        } else if profile.secrets.iter().any(|s| s.key == key) {
            if value.is_empty() {
                return Err(Error::usage(format!("--set {key}: the value is empty"))
                    .with_hint(format!("give a value, or leave {key} out to generate one")));
            }
            secrets.insert(key.to_owned(), value.to_owned());
        } else {
            let mut keys: Vec<&str> = profile.questions.iter().map(|q| q.key.as_str()).collect();
            keys.extend(profile.secrets.iter().map(|s| s.key.as_str()));
            keys.dedup();
            return Err(Error::usage(format!(
                "--set {key}: {} has no setting called {key:?}",
                profile.name
            ))
            .with_hint(format!("settings of {}: {}", profile.name, keys.join(", "))));
        }
    }
    Ok((answers, secrets))
}

fn check_collisions(cfg: &Config, name: &str, host: &str, namespace: &str) -> Result<()> {
    for other in cfg.apps.iter().filter(|a| a.name != name) {
        if other.host == host {
            return Err(Error::usage(format!(
                "--host: {host} is already the host of {}",
                other.name
            ))
            .with_hint(format!(
                "choose another, e.g. --host {name}.{}",
                cfg.cluster.domain
            )));
        }
        if other.namespace == namespace {
            return Err(Error::usage(format!(
                "--namespace: {namespace} is already the namespace of {}",
                other.name
            ))
            .with_hint(format!("choose another, e.g. --namespace {name}")));
        }
    }
    Ok(())
}

/// Answer every question that applies, in order: `--set`, else a prompt on a terminal, else
/// the default. A question without a default must be answered.
fn ask_questions(
    profile: &Profile,
    answers: &mut BTreeMap<String, String>,
    interactive: bool,
) -> Result<()> {
    let given = std::mem::take(answers);
    for q in &profile.questions {
        if !catalog::matches(&q.when, answers) {
            continue;
        }
        let value = match given.get(&q.key) {
            Some(v) => v.clone(),
            None if interactive => prompt(q)?,
            None if q.default.is_empty() => {
                return Err(Error::usage(format!(
                    "{} needs an answer for {:?} ({})",
                    profile.name, q.key, q.prompt
                ))
                .with_hint(format!(
                    "pass --set {}=… ({})",
                    q.key,
                    q.validation.describe()
                )));
            }
            None => q.default.clone(),
        };
        answers.insert(q.key.clone(), value);
    }
    // Answers to questions that do not apply (e.g. db_host with the bundled database) are
    // mistakes worth reporting, not silently dropped.
    if let Some(extra) = given.keys().find(|k| !answers.contains_key(*k)) {
        let q = profile
            .questions
            .iter()
            .find(|q| &q.key == extra)
            .expect("validated");
        let cond: Vec<String> = q.when.iter().map(|(k, v)| format!("{k}={v}")).collect();
        return Err(Error::usage(format!(
            "--set {extra}: only applies when {}",
            cond.join(", ")
        ))
        .with_hint(format!(
            "add --set {} or drop --set {extra}",
            cond.join(" --set ")
        )));
    }
    Ok(())
}

fn prompt(q: &Question) -> Result<String> {
    let theme = dialoguer::theme::ColorfulTheme::default();
    let io = |e: dialoguer::Error| Error::failed(format!("prompt failed: {e}"));
    Ok(match &q.validation {
        Validation::Enum(options) => {
            let default = options.iter().position(|o| *o == q.default).unwrap_or(0);
            let i = dialoguer::Select::with_theme(&theme)
                .with_prompt(&q.prompt)
                .items(options)
                .default(default)
                .interact()
                .map_err(io)?;
            options[i].clone()
        }
        Validation::Bool => dialoguer::Confirm::with_theme(&theme)
            .with_prompt(&q.prompt)
            .default(q.default == "true")
            .interact()
            .map_err(io)?
            .to_string(),
        v => {
            let v = v.clone();
            let mut input = dialoguer::Input::<String>::with_theme(&theme)
                .with_prompt(&q.prompt)
                .validate_with(move |s: &String| v.check(s));
            if !q.default.is_empty() {
                input = input.default(q.default.clone());
            }
            input.interact_text().map_err(io)?
        }
    })
}

/// Secret keys that have no generator and no fixed value must come from the user:
/// `--set`, or a hidden prompt on a terminal.
fn ask_required_secrets(
    profile: &Profile,
    app: &App,
    given: &mut BTreeMap<String, String>,
    interactive: bool,
) -> Result<()> {
    let settings = catalog::effective_settings(profile, app);
    for key in &profile.secrets {
        if !catalog::matches(&key.when, &settings)
            || key.generate.is_some()
            || key.value.is_some()
            || given.contains_key(&key.key)
        {
            continue;
        }
        if !interactive {
            return Err(Error::usage(format!(
                "{} needs {} (Secret key {:?})",
                profile.name, key.description, key.key
            ))
            .with_hint(format!(
                "pass --set {}=… (it is encrypted, never stored in plaintext)",
                key.key
            )));
        }
        let value = dialoguer::Password::with_theme(&dialoguer::theme::ColorfulTheme::default())
            .with_prompt(format!("{} ({})", key.description, key.key))
            .interact()
            .map_err(|e| Error::failed(format!("prompt failed: {e}")))?;
        given.insert(key.key.clone(), value);
    }
    Ok(())
}

/// Write `files` (repository-relative paths) under `dir`, creating directories.
pub fn write_files(dir: &Path, files: &BTreeMap<String, String>) -> Result<()> {
    for (rel, text) in files {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| Error::failed(format!("cannot create {}: {e}", parent.display())))?;
        }
        if std::fs::read_to_string(&path).is_ok_and(|old| old == *text) {
            continue;
        }
        std::fs::write(&path, text)
            .map_err(|e| Error::failed(format!("cannot write {}: {e}", path.display())))?;
    }
    Ok(())
}
