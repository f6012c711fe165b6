//! The real `sops` binary, built by `scripts/build-sops` (never downloaded by a test).

use std::path::{Path, PathBuf};
use std::process::Command;

/// `$HOMELAB_SOPS`, else `${CARGO_TARGET_DIR:-target}/tools/sops`; panics with how to build it.
pub fn sops_bin() -> PathBuf {
    super::tool("sops", "HOMELAB_SOPS", "build-sops")
}

/// Decrypt `file` with the age identity in `key_file`; returns the plaintext YAML.
pub fn decrypt(file: &Path, key_file: &Path) -> String {
    let out = try_decrypt(file, key_file);
    assert!(
        out.status.success(),
        "sops -d {} failed:\n{}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// Encrypt the plain YAML file `plain` for `recipient` with the real `sops`, as a user
/// would; `extra` adds flags (e.g. `--encrypted-regex`). Runs where no `.sops.yaml` applies.
pub fn encrypt(plain: &Path, recipient: &str, extra: &[&str]) -> String {
    let out = Command::new(sops_bin())
        .arg("--disable-version-check")
        .arg("--encrypt")
        .args(["--age", recipient])
        .args(extra)
        .arg(plain)
        .current_dir(plain.parent().expect("a directory"))
        .env_remove("SOPS_AGE_KEY")
        .env_remove("SOPS_AGE_KEY_FILE")
        .env_remove("SOPS_AGE_RECIPIENTS")
        .output()
        .expect("run sops");
    assert!(
        out.status.success(),
        "sops -e {} failed:\n{}",
        plain.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// `sops -d` of `file` with `key_file`, without asserting success (for refusals).
pub fn try_decrypt(file: &Path, key_file: &Path) -> std::process::Output {
    Command::new(sops_bin())
        .args(["--disable-version-check", "--decrypt"])
        .arg(file)
        .env("SOPS_AGE_KEY_FILE", key_file)
        .env_remove("SOPS_AGE_KEY")
        .output()
        .expect("run sops")
}
