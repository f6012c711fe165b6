//! What `init` and `add-app` say is done and left, through the binary: computed from what
//! actually happened, never the fixed advice to push right after a push.

use crate::support::{example_config, homelab};

#[test]
fn after_a_push_init_lists_what_is_left_and_add_app_says_when_flux_deploys() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let remote = tmp.path().join("remote.git");
    git2::Repository::init_bare(&remote).expect("bare remote");
    let url = format!("file://{}", remote.display());
    let config = tmp.path().join("homelab.yaml");
    let text = std::fs::read_to_string(example_config())
        .expect("read")
        .replace("  url: \"\"", &format!("  url: \"{url}\""));
    std::fs::write(&config, text).expect("write config");
    let key = tmp.path().join("keys/age.agekey");
    let dir = tmp.path().join("lab");

    let run = homelab()
        .args(["init", "--no-bootstrap", "--config"])
        .arg(&config)
        .dir(&dir)
        .env("HOMELAB_AGE_KEY_FILE", &key)
        .ok();
    let out = run.stderr();
    for line in [
        "Done, and left to do:",
        &format!("[ok] pushed to {url}"),
        "skipped bootstrap (--no-bootstrap)",
        // Pushing to a file:// URL works; Flux in the cluster cannot pull from it.
        "cannot be pulled by Flux: it is a path on this machine, which Flux in the cluster cannot reach; set an ssh:// or https:// URL",
        "export CLOUDFLARE_API_TOKEN before `homelab bootstrap`",
        "point *.example.com at 192.168.1.240 in your DNS",
        &format!("back up the age key {} (public key age1", key.display()),
    ] {
        assert!(out.contains(line), "init lacks {line:?}:\n{out}");
    }
    // Pushed already: no advice to push this commit.
    assert!(
        !out.contains("skipped push") && !out.contains("`homelab push` sends"),
        "{out}"
    );

    // Pushed: Flux takes it from there.
    homelab()
        .dir(&dir)
        .env("HOMELAB_AGE_KEY_FILE", &key)
        .args(["add-app", "nextcloud", "--yes"])
        .ok()
        .stderr_has("Flux deploys nextcloud when it next polls the repository")
        .stderr_has("`homelab status` shows how far it got");
    // Not pushed: the push comes first.
    homelab()
        .dir(&dir)
        .env("HOMELAB_AGE_KEY_FILE", &key)
        .args(["add-app", "grafana", "--yes", "--no-push"])
        .ok()
        .stderr_has("Flux deploys grafana after `homelab push`");
}
