//! `homelab add-app <app>`: from a one-line wish to an exposed, persistent, TLS-secured app
//! in the GitOps repository.
//!
//! Everything is decided and rendered in memory first (answers, host, namespace, files,
//! the encrypted Secret), so any mistake is reported before a single file changes. Then
//! the one writer ([`crate::render::write`]) applies it under the repository lock: the
//! app's files, `apps/kustomization.yaml` and `homelab.yaml` (edited in place, comments
//! kept) are written all-or-nothing, recorded in the state file and committed once; then
//! pushed when the repository has a remote.

use std::collections::BTreeMap;

use crate::catalog::{self, Profile, Question, Validation};
use crate::cli::AddAppArgs;
use crate::commands::Context;
use crate::config::{App, CONFIG_FILE, Config};
use crate::error::{Error, Result, Status};
use crate::render::write::Workspace;
use crate::secrets::SOPS_CONFIG;

/// Run `add-app` with the CLI's push.
pub fn run(ctx: &Context, args: &AddAppArgs) -> Result<Status> {
    run_with(ctx, args, &crate::ui::publish::default_push)
}

/// Run `add-app` with the given push.
pub fn run_with(
    ctx: &Context,
    args: &AddAppArgs,
    push: crate::ui::publish::PushFn<'_>,
) -> Result<Status> {
    crate::render::write::check_dir(&ctx.dir)?;
    let cfg = crate::catalog::load_config(&ctx.dir)?;
    let profile = find_profile(&args.name)?;
    check_not_installed(&cfg, &profile)?;
    let interactive = !args.non_interactive && crate::ui::printer::can_ask();

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
    catalog::check_host(&cfg, &host).map_err(|why| {
        Error::usage(format!("--host: {why}")).with_hint(format!(
            "e.g. --host {}.{}",
            profile.name, cfg.cluster.domain
        ))
    })?;
    check_collisions(&cfg, &profile.name, &host, &namespace)?;

    let mut app = App {
        name: profile.name.clone(),
        namespace,
        host,
        settings: BTreeMap::new(),
    };
    ask_questions(&cfg, &profile, &mut app, &mut answers, interactive)?;
    app.settings = answers;
    // The whole-configuration rules (addresses, hosts, namespaces, settings) with the app in.
    crate::catalog::check_new_app(&cfg, &app)?;
    let mut given = secrets_given;
    ask_required_secrets(&profile, &app, &mut given, interactive)?;

    // From here on, this is the only homelab command changing the repository; what was
    // read above is read again under the lock.
    let ws = Workspace::create(&ctx.dir, &cfg.git.branch, "add-app")?;
    let cfg = crate::catalog::load_config(&ctx.dir)?;
    check_not_installed(&cfg, &profile)?;
    check_collisions(&cfg, &profile.name, &app.host, &app.namespace)?;
    crate::catalog::check_new_app(&cfg, &app)?;
    let text = crate::render::change::config_text(&ws)?;
    let edited = crate::config::edit::with_app_added(&text, &cfg, &app, &catalog::rules)?;
    let mut new_cfg = cfg.clone();
    new_cfg.apps.push(app.clone());
    let mut change = crate::render::change::app_change(
        &cfg,
        &new_cfg,
        edited,
        &format!("Add app {} at {}", app.name, app.host),
    )?;

    let progress = crate::ui::printer::spinner(format!("adding {}", app.name));
    let plain = crate::render::apps::plain_secret(&new_cfg, &profile, &app, &given)?;
    let has_secret = plain.is_some();
    if let Some(plain) = plain {
        progress.set_message("encrypting the app's Secret (SOPS + age)");
        let (key, created) = crate::secrets::ensure_key(ws.dir(), &cfg.cluster.name)?;
        if created {
            progress.suspend(|| crate::ui::render::announce_key(&key));
        }
        let sealed = crate::secrets::encrypt_secret(&plain, &key.recipient)?;
        change.files.insert(catalog::secret_path(&app), sealed);
        if !ws.tree().exists(SOPS_CONFIG)? {
            change.files.insert(
                SOPS_CONFIG.to_owned(),
                crate::render::apps::sops_config(&key.recipient),
            );
        }
    }

    progress.set_message("writing and committing");
    let report = ws.apply(&change)?;
    progress.finish_and_clear();
    if ctx.verbose > 0 {
        crate::ui::printer::note_raw(&crate::ui::render::summary(&report, true));
    }
    if report.has_conflicts() {
        return Err(crate::render::change::conflict_error(
            &format!("cannot add {}", app.name),
            &report,
        ));
    }
    drop(ws);

    crate::ui::printer::data_line(&format!(
        "{}: https://{} (namespace {})",
        app.name, app.host, app.namespace
    ));
    if let Some(oid) = report.commit {
        crate::ui::style::note(&format!("committed {}", &oid.to_string()[..8]));
    }
    if has_secret {
        crate::ui::style::note(&format!(
            "its generated credentials are encrypted in {}: `homelab secret show {}` prints them",
            catalog::secret_path(&app),
            app.name
        ));
    }
    if !profile.notes.is_empty() {
        crate::ui::style::note(&profile.notes);
    }
    if profile.needs.storage == catalog::StorageNeed::Local && new_cfg.storage.local_class.is_none()
    {
        crate::ui::style::note(&format!(
            "{} keeps a database on its volume, which is on NFS: set storage.local_class in {CONFIG_FILE} to a node-local StorageClass (k3s ships local-path) before its first start",
            app.name
        ));
    }
    let pushed = crate::ui::publish::push_if_configured(
        &ctx.dir,
        &new_cfg,
        args.no_push,
        &(&args.push).into(),
        push,
    )?;
    if !args.wait.wait {
        let published = !new_cfg.git.url.is_empty() && !args.no_push;
        crate::ui::checklist::print_app(&new_cfg, &app.name, published);
    }
    crate::ui::sync::after_push(&ctx.dir, &new_cfg, args.wait.wait(), pushed)
}

fn check_not_installed(cfg: &Config, profile: &Profile) -> Result<()> {
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
    Ok(())
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

/// The configuration as it would be with `app` installed.
fn with_app(cfg: &Config, app: &App) -> Config {
    let mut trial = cfg.clone();
    trial.apps.retain(|a| a.name != app.name);
    trial.apps.push(app.clone());
    trial
}

/// What the whole-configuration rules (fixed LoadBalancer addresses, hosts) say about
/// `app`'s settings, as `(key path inside the app, message)`.
fn rule_problems(cfg: &Config, app: &App) -> Vec<(String, String)> {
    let trial = with_app(cfg, app);
    let problems = catalog::config_problems(&trial);
    catalog::app_problems(&problems, &trial, app)
        .map(|(path, message)| (path.to_owned(), message.to_owned()))
        .collect()
}

/// The problem of the answer to `key` under those rules, if any.
fn answer_problem(cfg: &Config, app: &App, key: &str) -> Option<String> {
    let path = format!("settings.{key}");
    rule_problems(cfg, app)
        .into_iter()
        .find(|(p, _)| *p == path)
        .map(|(_, message)| message)
}

/// The default answer of a question: for a LoadBalancer address the next free pool address
/// (counting the addresses this app has already been given), else the profile's default.
fn default_answer(
    cfg: &Config,
    app: &App,
    answers: &BTreeMap<String, String>,
    q: &Question,
) -> String {
    if q.loadbalancer.is_none() {
        return q.default.clone();
    }
    let mut trial = app.clone();
    trial.settings = answers.clone();
    catalog::next_free_address(&with_app(cfg, &trial))
        .map(|ip| ip.to_string())
        .unwrap_or_default()
}

/// Answer every question that applies, in order: `--set`, else a prompt on a terminal, else
/// the default. A question without a default must be answered.
fn ask_questions(
    cfg: &Config,
    profile: &Profile,
    app: &mut App,
    answers: &mut BTreeMap<String, String>,
    interactive: bool,
) -> Result<()> {
    let given = std::mem::take(answers);
    for q in &profile.questions {
        if !catalog::matches(&q.when, answers) {
            continue;
        }
        let default = default_answer(cfg, app, answers, q);
        let value = match given.get(&q.key) {
            Some(v) => v.clone(),
            None if interactive => {
                app.settings = answers.clone();
                prompt(q, &default, &|value: &str| {
                    let mut trial = app.clone();
                    trial.settings.insert(q.key.clone(), value.to_owned());
                    match answer_problem(cfg, &trial, &q.key) {
                        Some(problem) => Err(problem),
                        None => Ok(()),
                    }
                })?
            }
            None if default.is_empty() => {
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
            None => default,
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

/// Ask one question; `default` is offered, `rules` checks the answer against the rest of
/// the configuration (e.g. a LoadBalancer address against the pool and the other apps).
fn prompt(
    q: &Question,
    default: &str,
    rules: &dyn Fn(&str) -> std::result::Result<(), String>,
) -> Result<String> {
    let theme = dialoguer::theme::ColorfulTheme::default();
    let io = |e: dialoguer::Error| Error::failed(format!("prompt failed: {e}"));
    Ok(match &q.validation {
        Validation::Enum(options) => {
            let default = options.iter().position(|o| o == default).unwrap_or(0);
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
            .default(default == "true")
            .interact()
            .map_err(io)?
            .to_string(),
        v => {
            let v = v.clone();
            let mut input = dialoguer::Input::<String>::with_theme(&theme)
                .with_prompt(&q.prompt)
                .validate_with(move |s: &String| v.check(s).and_then(|()| rules(s)));
            if !default.is_empty() {
                input = input.default(default.to_owned());
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
