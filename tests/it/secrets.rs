//! `homelab secret show` and `homelab key show|export|import`, through the binary: app
//! credentials decrypt exactly as the real `sops` decrypts them (both ways), a wrong,
//! missing or unreadable key and a tampered file are refused without showing anything, the
//! key's backup and restore keep it private (0600 in 0700), and no secret value reaches
//! stderr or any file but the one asked for.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use crate::support::{self, homelab, sops};

/// A homelab repository rendered from the example, with its own key store (`XDG_CONFIG_HOME`)
/// and `grafana` and `jellyfin` (no Secret) added.
struct Lab {
    tmp: tempfile::TempDir,
    dir: PathBuf,
}

impl Lab {
    fn new() -> Self {
        let lab = Self::bare();
        lab.run(&["render"])
            .ok()
            .stderr_has("created the repository's age key")
            .stderr_has("back it up with `homelab key export");
        lab
    }

    /// A repository with homelab.yaml committed and nothing rendered.
    fn bare() -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("repo");
        std::fs::create_dir(&dir).expect("mkdir");
        std::fs::copy(support::example_config(), dir.join("homelab.yaml")).expect("copy");
        let repo = git2::Repository::init(&dir).expect("git init");
        homelab::git::commit_all(&repo, "Initial").expect("commit");
        Self { tmp, dir }
    }

    fn with_apps() -> Self {
        let lab = Self::new();
        let out = lab
            .run(&["add-app", "grafana", "--no-push", "--non-interactive"])
            .ok();
        assert!(
            out.stderr()
                .contains("`homelab secret show grafana` prints them"),
            "add-app points at secret show:\n{}",
            out.describe()
        );
        lab.run(&["add-app", "jellyfin", "--no-push", "--non-interactive"])
            .ok();
        lab
    }

    fn xdg(&self) -> PathBuf {
        self.tmp.path().join("xdg")
    }

    fn run(&self, args: &[&str]) -> support::Homelab {
        homelab()
            .dir(&self.dir)
            .env("XDG_CONFIG_HOME", self.xdg())
            .args(args)
    }

    /// The repository's public key, from its .sops.yaml.
    fn recipient(&self) -> String {
        let text = std::fs::read_to_string(self.dir.join(".sops.yaml")).expect(".sops.yaml");
        homelab::secrets::sops_recipients(&text)
            .into_iter()
            .next()
            .expect("a recipient")
    }

    /// The key file in the store.
    fn key_file(&self) -> PathBuf {
        self.xdg()
            .join("homelab/age")
            .join(format!("{}.agekey", self.recipient()))
    }

    fn secret_file(&self, app: &str) -> PathBuf {
        self.dir.join(format!("apps/{app}/secret.sops.yaml"))
    }

    /// The app's Secret as the real sops decrypts it.
    fn sops_values(&self, app: &str) -> serde_json::Value {
        let plain = sops::decrypt(&self.secret_file(app), &self.key_file());
        let doc: serde_json::Value = serde_saphyr::from_str(&plain).expect("yaml");
        doc["stringData"].clone()
    }

    /// Every file below the temporary directory (repository, .git, key store, exports),
    /// and every blob of the repository's history, with its content.
    fn every_file(&self) -> Vec<(PathBuf, Vec<u8>)> {
        fn walk(dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
            for entry in std::fs::read_dir(dir).expect("read_dir") {
                let path = entry.expect("entry").path();
                let meta = std::fs::symlink_metadata(&path).expect("meta");
                if meta.is_dir() {
                    walk(&path, out);
                } else if meta.is_file() {
                    out.push((path.clone(), std::fs::read(&path).expect("read")));
                }
            }
        }
        let mut out = Vec::new();
        walk(self.tmp.path(), &mut out);
        for (name, blob) in support::history_blobs(&self.dir) {
            out.push((PathBuf::from(format!("git {name}")), blob));
        }
        out
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).expect("meta").permissions().mode() & 0o777
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[test]
fn secret_show_prints_what_sops_decrypts_and_nothing_else() {
    let lab = Lab::with_apps();
    let want = lab.sops_values("grafana");
    let password = want["admin-password"]
        .as_str()
        .expect("password")
        .to_owned();
    assert_eq!(password.len(), 32);

    let all = lab.run(&["secret", "show", "grafana"]).ok();
    assert_eq!(
        all.stdout(),
        format!("admin-password: {password}\nadmin-user: admin\n")
    );
    // Not a terminal: no warning, and nothing secret on stderr.
    assert_eq!(all.stderr(), "");

    let one = lab
        .run(&["secret", "show", "grafana", "admin-password"])
        .ok();
    assert_eq!(one.stdout(), format!("{password}\n"));
    assert_eq!(one.stderr(), "");
    let bare = lab
        .run(&[
            "secret",
            "show",
            "grafana",
            "admin-password",
            "--no-newline",
        ])
        .ok();
    assert_eq!(bare.stdout(), password);

    // The password is in no file: not in the repository, its history, the key store.
    let exported = lab.tmp.path().join("backup.agekey");
    lab.run(&["key", "export"]).arg(&exported).ok();
    for (path, bytes) in lab.every_file() {
        assert!(
            !contains(&bytes, &password),
            "the password is in {}",
            path.display()
        );
    }
}

#[test]
fn unknown_apps_and_keys_are_usage_errors_that_list_what_exists() {
    let lab = Lab::with_apps();
    lab.run(&["secret", "show", "nextcloud"])
        .expect_code(2)
        .stderr_has("nextcloud is not installed")
        .stderr_has("hint: apps with credentials: grafana");
    lab.run(&["secret", "show", "nope"])
        .expect_code(2)
        .stderr_has("\"nope\" is not an installed app")
        .stderr_has("apps with credentials: grafana");
    lab.run(&["secret", "show", "jellyfin"])
        .expect_code(2)
        .stderr_has("jellyfin has no generated credentials")
        .stderr_has("apps with credentials: grafana");
    let run = lab
        .run(&["secret", "show", "grafana", "admin-pasword"])
        .expect_code(2)
        .stderr_has("grafana has no credential called \"admin-pasword\"")
        .stderr_has("hint: its keys: admin-password, admin-user");
    assert_eq!(run.stdout(), "");
    // A repository without apps says so.
    Lab::new()
        .run(&["secret", "show", "grafana"])
        .expect_code(2)
        .stderr_has("no installed app has generated credentials");
}

/// A Kubernetes Secret as users write them: `data` in base64, numbers, booleans, a null
/// timestamp, comments, keys out of alphabetical order.
const USER_SECRET: &str = "\
apiVersion: v1
kind: Secret
metadata:
  name: grafana-credentials
  namespace: grafana
  creationTimestamp: null
  labels:
    tier: \"1\"
  annotations:
    note: yes
type: Opaque
# the admin
stringData:
  zz-last: first in the file
  admin-user: root
  admin-password: \"p@ss: w0rd # not a comment\"
  multi: |
    line one
    line two
  unicode: \"grüße ✓\"
data:
  token: aGVsbG8gd29ybGQ=
";

#[test]
fn a_file_the_real_sops_encrypted_decrypts_with_homelab() {
    let lab = Lab::with_apps();
    let plain = lab.tmp.path().join("plain/secret.yaml");
    std::fs::create_dir_all(plain.parent().expect("dir")).expect("mkdir");
    std::fs::write(&plain, USER_SECRET).expect("write");
    let want = "zz-last: first in the file\nadmin-user: root\nadmin-password: p@ss: w0rd # not a comment\nmulti: |\n  line one\n  line two\nunicode: grüße ✓\ntoken: hello world\n";

    // As homelab writes them (only data/stringData encrypted), and with sops's defaults
    // (every value encrypted, metadata and numbers included).
    for extra in [&["--encrypted-regex", "^(data|stringData)$"][..], &[][..]] {
        let sealed = sops::encrypt(&plain, &lab.recipient(), extra);
        assert!(!sealed.contains("w0rd"), "{sealed}");
        std::fs::write(lab.secret_file("grafana"), &sealed).expect("write");
        let run = lab.run(&["secret", "show", "grafana"]).ok();
        assert_eq!(run.stdout(), want, "sops {extra:?}");
        lab.run(&["secret", "show", "grafana", "multi"])
            .ok()
            .stdout_has("line one\nline two\n");
        lab.run(&["secret", "show", "grafana", "token", "-n"])
            .ok()
            .stdout_has("hello world");
    }

    // And homelab's own files still decrypt with `sops -d`, values and order intact.
    let sealed = homelab::secrets::encrypt_secret(USER_SECRET, &lab.recipient()).expect("seal");
    let ours = lab.tmp.path().join("plain/ours.sops.yaml");
    std::fs::write(&ours, sealed).expect("write");
    let back = sops::decrypt(&ours, &lab.key_file());
    // Compared as sops reads YAML (`yes` is text), mappings in order.
    let back = homelab::secrets::sops::parse(&back).expect("yaml");
    assert_eq!(
        back,
        homelab::secrets::sops::parse(USER_SECRET).expect("yaml")
    );
}

#[test]
fn a_tampered_file_is_refused_and_nothing_is_shown() {
    let lab = Lab::with_apps();
    let password = lab.sops_values("grafana")["admin-password"]
        .as_str()
        .expect("password")
        .to_owned();
    let file = lab.secret_file("grafana");
    let sealed = std::fs::read_to_string(&file).expect("read");

    // A readable field changed: the MAC no longer matches (sops agrees).
    let renamed = sealed.replace("namespace: grafana", "namespace: other");
    assert_ne!(renamed, sealed);
    std::fs::write(&file, &renamed).expect("write");
    assert!(!sops::try_decrypt(&file, &lab.key_file()).status.success());
    let run = lab
        .run(&["secret", "show", "grafana", "admin-password"])
        .expect_code(1)
        .stderr_has("MAC mismatch");
    assert_eq!(run.stdout(), "");
    assert!(!run.stderr().contains(&password));

    // Two encrypted values swapped: each is bound to its key path.
    let doc: serde_json::Value = serde_saphyr::from_str(&sealed).expect("yaml");
    let user = doc["stringData"]["admin-user"].as_str().expect("user");
    let pass = doc["stringData"]["admin-password"].as_str().expect("pass");
    let swapped = sealed
        .replace(user, "@@USER@@")
        .replace(pass, user)
        .replace("@@USER@@", pass);
    std::fs::write(&file, &swapped).expect("write");
    let run = lab.run(&["secret", "show", "grafana"]).expect_code(1);
    assert_eq!(run.stdout(), "");
    assert!(!run.stderr().contains(&password), "{}", run.describe());

    // The MAC itself replaced by another file's: refused.
    let other = Lab::with_apps();
    let other_doc: serde_json::Value = serde_saphyr::from_str(
        &std::fs::read_to_string(other.secret_file("grafana")).expect("read"),
    )
    .expect("yaml");
    let mac = doc["sops"]["mac"].as_str().expect("mac");
    let foreign = sealed.replace(mac, other_doc["sops"]["mac"].as_str().expect("mac"));
    std::fs::write(&file, foreign).expect("write");
    lab.run(&["secret", "show", "grafana"])
        .expect_code(1)
        .stderr_has("MAC does not authenticate");
}

#[test]
fn a_wrong_or_missing_key_is_refused_with_where_the_key_belongs() {
    let lab = Lab::with_apps();
    let key_file = lab.key_file();

    // HOMELAB_AGE_KEY_FILE holding another key: refused before decrypting.
    let other = lab.tmp.path().join("other.agekey");
    let id = age::x25519::Identity::generate();
    {
        use age::secrecy::ExposeSecret as _;
        std::fs::write(&other, format!("{}\n", id.to_string().expose_secret())).expect("key");
    }
    std::fs::set_permissions(&other, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    lab.run(&["secret", "show", "grafana"])
        .env("HOMELAB_AGE_KEY_FILE", &other)
        .expect_code(2)
        .stderr_has("but this repository's .sops.yaml encrypts for");

    // A file encrypted (by sops) for another key than the repository's.
    let plain = lab.tmp.path().join("plain/secret.yaml");
    std::fs::create_dir_all(plain.parent().expect("dir")).expect("mkdir");
    std::fs::write(&plain, USER_SECRET).expect("write");
    let original = std::fs::read(lab.secret_file("grafana")).expect("read");
    let foreign = sops::encrypt(&plain, &id.to_public().to_string(), &[]);
    std::fs::write(lab.secret_file("grafana"), foreign).expect("write");
    let run = lab
        .run(&["secret", "show", "grafana"])
        .expect_code(1)
        .stderr_has(&format!("it is encrypted for {}", id.to_public()))
        .stderr_has(&lab.recipient());
    assert_eq!(run.stdout(), "");
    std::fs::write(lab.secret_file("grafana"), original).expect("restore");

    // A key file others can read: refused with the fix.
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    lab.run(&["secret", "show", "grafana"])
        .expect_code(2)
        .stderr_has("can be read by other users")
        .stderr_has("chmod 600");
    lab.run(&["key"]).expect_code(2).stderr_has("chmod 600");
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).expect("chmod");

    // The key file gone: where it belongs and how to restore it.
    let backup = lab.tmp.path().join("backup.agekey");
    std::fs::rename(&key_file, &backup).expect("move the key away");
    let run = lab
        .run(&["secret", "show", "grafana"])
        .expect_code(1)
        .stderr_has(&format!("is missing: expected {}", key_file.display()))
        .stderr_has("homelab key import");
    assert_eq!(run.stdout(), "");
    let show = lab.run(&["key", "show"]).expect_code(1);
    assert_eq!(
        show.stdout(),
        format!(
            "recipient: {}\nfile: {}\npresent: no\n",
            lab.recipient(),
            key_file.display()
        )
    );
    assert!(
        show.stderr().contains("homelab key import"),
        "{}",
        show.describe()
    );
}

#[test]
fn a_repository_without_a_key_yet_says_so() {
    let lab = Lab::bare();
    lab.run(&["key"])
        .expect_code(1)
        .stderr_has("this repository has no age key yet")
        .stderr_has("homelab render");
    lab.run(&["key", "export"])
        .arg(lab.tmp.path().join("k"))
        .expect_code(1)
        .stderr_has("no age key yet");
    assert!(!lab.tmp.path().join("k").exists());
}

#[test]
fn key_show_names_the_public_key_and_the_file() {
    let lab = Lab::new();
    let run = lab.run(&["key"]).ok();
    let expected = format!(
        "recipient: {}\nfile: {}\npresent: yes\n",
        lab.recipient(),
        lab.key_file().display()
    );
    assert_eq!(run.stdout(), expected);
    assert!(
        run.stderr().contains("homelab key export"),
        "{}",
        run.describe()
    );
    assert_eq!(lab.run(&["key", "show"]).ok().stdout(), expected);
    let private = std::fs::read_to_string(lab.key_file()).expect("key");
    let secret_line = private
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .expect("identity");
    assert!(!run.stdout().contains(secret_line) && !run.stderr().contains(secret_line));
}

#[test]
fn export_writes_a_private_copy_outside_the_repository_only() {
    let lab = Lab::new();
    let key = std::fs::read(lab.key_file()).expect("key");
    let secret_line = String::from_utf8_lossy(&key)
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .expect("identity")
        .to_owned();
    let dest = lab.tmp.path().join("backup.agekey");

    let run = lab.run(&["key", "export"]).arg(&dest).ok();
    assert_eq!(run.stdout(), "");
    assert!(!run.stderr().contains(&secret_line));
    assert!(run.stderr().contains("mode 600"), "{}", run.describe());
    assert_eq!(std::fs::read(&dest).expect("backup"), key);
    assert_eq!(mode(&dest), 0o600);

    // Never over an existing file without --force; with it, replaced whole and private.
    std::fs::write(&dest, "old\n").expect("write");
    std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    lab.run(&["key", "export"])
        .arg(&dest)
        .expect_code(2)
        .stderr_has("already exists")
        .stderr_has("--force");
    assert_eq!(std::fs::read(&dest).expect("kept"), b"old\n");
    lab.run(&["key", "export", "--force"]).arg(&dest).ok();
    assert_eq!(std::fs::read(&dest).expect("backup"), key);
    assert_eq!(mode(&dest), 0o600);

    // Inside the repository (directly, relative, or through a link to it): refused.
    let link = lab.tmp.path().join("link");
    std::os::unix::fs::symlink(&lab.dir, &link).expect("symlink");
    for inside in [
        lab.dir.join("age.agekey"),
        lab.dir.join("apps/new-dir/key"),
        link.join("age.agekey"),
    ] {
        lab.run(&["key", "export"])
            .arg(&inside)
            .expect_code(2)
            .stderr_has("inside the repository");
        assert!(!inside.exists(), "{}", inside.display());
    }
    lab.run(&["key", "export", "in-repo.agekey"])
        .current_dir(&lab.dir)
        .expect_code(2)
        .stderr_has("inside the repository");
    assert!(!lab.dir.join("in-repo.agekey").exists());
    // Nor onto the key file itself.
    lab.run(&["key", "export", "--force"])
        .arg(lab.key_file())
        .expect_code(2)
        .stderr_has("the key file itself");

    // `-` into a pipe (stdout is not a terminal here): the key file, exactly.
    let piped = lab.run(&["key", "export", "-"]).ok();
    assert_eq!(piped.output.stdout, key);
    assert!(!piped.stderr().contains(&secret_line));

    // The private key is in the key file and the backup asked for, nowhere else.
    let holders: Vec<PathBuf> = lab
        .every_file()
        .into_iter()
        .filter(|(_, bytes)| contains(bytes, &secret_line))
        .map(|(path, _)| path)
        .collect();
    assert_eq!(holders.len(), 2, "{holders:?}");
    for path in [lab.key_file(), dest] {
        assert!(
            holders
                .iter()
                .any(|h| h.ends_with(path.file_name().expect("name"))),
            "{} not among {holders:?}",
            path.display()
        );
    }
}

#[test]
fn import_restores_the_key_privately_and_idempotently() {
    let lab = Lab::with_apps();
    let key_file = lab.key_file();
    let backup = lab.tmp.path().join("backup.agekey");
    lab.run(&["key", "export"]).arg(&backup).ok();
    let password = lab
        .run(&["secret", "show", "grafana", "admin-password"])
        .ok()
        .stdout();

    // A new machine: no key store at all.
    std::fs::remove_dir_all(lab.xdg()).expect("rm key store");
    lab.run(&["secret", "show", "grafana"])
        .expect_code(1)
        .stderr_has("is missing: expected")
        .stderr_has("homelab key import");
    let run = lab.run(&["key", "import"]).arg(&backup).ok();
    assert!(
        run.stderr()
            .contains(&format!("imported the age key for {}", lab.recipient())),
        "{}",
        run.describe()
    );
    assert_eq!(run.stdout(), "");
    assert_eq!(mode(&key_file), 0o600);
    assert_eq!(mode(key_file.parent().expect("dir")), 0o700);
    assert_eq!(
        lab.run(&["secret", "show", "grafana", "admin-password"])
            .ok()
            .stdout(),
        password
    );
    // sops reads the restored key too.
    assert_eq!(
        lab.sops_values("grafana")["admin-password"].as_str(),
        Some(password.trim_end())
    );

    // Again: nothing to do, nothing changed.
    let before = std::fs::read(&key_file).expect("key");
    lab.run(&["key", "import"])
        .arg(&backup)
        .ok()
        .stderr_has("already in");
    assert_eq!(std::fs::read(&key_file).expect("key"), before);

    // From standard input, with other lines around it (a password manager's note).
    std::fs::remove_file(&key_file).expect("rm");
    let identity = String::from_utf8(before)
        .expect("utf-8")
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .expect("identity")
        .to_owned();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_homelab"))
        .arg("--dir")
        .arg(&lab.dir)
        .args(["key", "import", "-"])
        .env("XDG_CONFIG_HOME", lab.xdg())
        .env_remove("HOMELAB_AGE_KEY_FILE")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    {
        use std::io::Write as _;
        let mut stdin = child.stdin.take().expect("stdin");
        writeln!(stdin, "homelab age key\n  {identity}  \nstored 2026").expect("write");
    }
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!String::from_utf8_lossy(&out.stderr).contains(&identity));
    assert_eq!(mode(&key_file), 0o600);
    lab.run(&["secret", "show", "grafana"]).ok();
}

#[test]
fn import_refuses_what_is_not_this_repositorys_key() {
    let lab = Lab::new();
    let key_file = lab.key_file();
    std::fs::remove_file(&key_file).expect("rm");

    let other = lab.tmp.path().join("other.agekey");
    let id = age::x25519::Identity::generate();
    {
        use age::secrecy::ExposeSecret as _;
        std::fs::write(&other, format!("{}\n", id.to_string().expose_secret())).expect("key");
    }
    lab.run(&["key", "import"])
        .arg(&other)
        .expect_code(2)
        .stderr_has(&format!("holds the age key for {}", id.to_public()))
        .stderr_has(&format!("expects {}", lab.recipient()));

    let junk = lab.tmp.path().join("notes.txt");
    std::fs::write(&junk, "AGE-SECRET-KEY-1NOTAKEY\nhello\n").expect("write");
    lab.run(&["key", "import"])
        .arg(&junk)
        .expect_code(2)
        .stderr_has("holds no age identity");
    lab.run(&["key", "import"])
        .arg(lab.tmp.path().join("missing"))
        .expect_code(2)
        .stderr_has("cannot read");
    lab.run(&["key", "import"])
        .arg(lab.tmp.path())
        .expect_code(2)
        .stderr_has("is not a file");
    assert!(!key_file.exists());
    assert!(
        std::fs::read_dir(key_file.parent().expect("dir"))
            .expect("dir")
            .next()
            .is_none(),
        "nothing was written into the key store"
    );
}

#[test]
fn on_a_terminal_secrets_come_with_a_warning_and_the_key_is_never_printed() {
    let lab = Lab::with_apps();
    let password = lab
        .run(&["secret", "show", "grafana", "admin-password"])
        .ok()
        .stdout();
    let spawn = |args: &[&str]| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_homelab"));
        cmd.arg("--dir")
            .arg(&lab.dir)
            .args(args)
            .env("XDG_CONFIG_HOME", lab.xdg())
            .env("NO_COLOR", "1")
            .env_remove("HOMELAB_AGE_KEY_FILE");
        rexpect::session::spawn_command(cmd, Some(60_000)).expect("spawn in a pty")
    };
    let mut session = spawn(&["secret", "show", "grafana"]);
    let screen = session.exp_eof().expect("eof");
    assert!(
        screen.contains("warning: the credentials of grafana are shown on screen"),
        "{screen}"
    );
    assert!(
        screen.contains(&format!("admin-password: {}", password.trim_end())),
        "{screen}"
    );

    let mut session = spawn(&["key", "export", "-"]);
    let screen = session.exp_eof().expect("eof");
    assert!(
        screen.contains("refusing to print the private age key on a terminal"),
        "{screen}"
    );
    assert!(!screen.contains("AGE-SECRET-KEY-"), "{screen}");
}

/// What add-app tells the user to run to read the credentials works as written, and prints
/// what the real `sops` decrypts (the note used to say `sops -d …`, which fails without
/// `SOPS_AGE_KEY_FILE`).
#[test]
fn the_commands_add_app_suggests_print_the_credentials() {
    let lab = Lab::new();
    let added = lab
        .run(&["add-app", "nextcloud", "--no-push", "--non-interactive"])
        .ok();
    let stderr = added.stderr();
    assert!(!stderr.contains("sops -d"), "{}", added.describe());
    let commands: Vec<Vec<&str>> = stderr
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|quoted| quoted.starts_with("homelab secret show "))
        .map(|quoted| quoted.split_whitespace().skip(1).collect())
        .collect();
    assert!(
        commands.contains(&vec!["secret", "show", "nextcloud", "nextcloud-password"]),
        "{commands:?}\n{}",
        added.describe()
    );
    let want = lab.sops_values("nextcloud");
    for args in commands {
        let run = lab.run(&args).ok();
        match args.get(3) {
            Some(key) => assert_eq!(
                run.stdout().trim_end(),
                want[*key].as_str().expect("a string value"),
                "{args:?}"
            ),
            None => assert!(
                run.stdout().contains(&format!(
                    "nextcloud-password: {}\n",
                    want["nextcloud-password"].as_str().expect("password")
                )),
                "{}",
                run.describe()
            ),
        }
    }
}
