//! What the tests of bounded network waits share: kubeconfigs pointing at loopback servers,
//! a credential plugin that never returns, and a check that a process is gone.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

/// Far above any timeout these tests set: a run that takes this long was hanging.
pub const HANG: Duration = Duration::from_secs(60);

/// A kubeconfig user authenticating with a static token.
pub const TOKEN_USER: &str = "    token: t\n";

/// Write a kubeconfig at `path` with one context, `home`, for `server` (TLS not verified),
/// whose user is `user` (YAML, indented under `user:`).
pub fn write_kubeconfig(path: &Path, server: &str, user: &str) -> PathBuf {
    std::fs::write(
        path,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {server}\n    insecure-skip-tls-verify: true\nusers:\n- name: u\n  user:\n{user}contexts:\n- name: home\n  context:\n    cluster: c\n    user: u\ncurrent-context: home\n"
        ),
    )
    .unwrap();
    path.to_path_buf()
}

/// A kubeconfig user whose credential plugin writes its pid to `pid_file` and then hangs
/// (as a login waiting for a browser would).
pub fn hanging_plugin(pid_file: &Path) -> String {
    format!(
        "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: sh\n      args: [\"-c\", \"echo $$ > {}; exec sleep 600\"]\n      interactiveMode: Never\n",
        pid_file.display()
    )
}

/// Assert the plugin started by [`hanging_plugin`] is gone (a zombie waiting to be reaped
/// counts as gone). The SIGKILL homelab sends on its way out takes effect asynchronously:
/// on a loaded machine the kernel may need a moment, far less than the plugin's own hour.
pub fn assert_plugin_stopped(pid_file: &Path) {
    let pid = std::fs::read_to_string(pid_file).unwrap();
    let pid = pid.trim();
    let runs = || {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
            stat.rsplit(')')
                .next()
                .is_some_and(|rest| !rest.trim_start().starts_with('Z'))
        })
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while runs() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(!runs(), "the credential plugin (pid {pid}) still runs");
}

/// A homelab.yaml whose every address is on loopback (nodes, pool, ingress, NFS), with
/// `git_url` as the remote, one app (`homepage` at `localhost`) and DNS-01 through Cloudflare.
pub fn loopback_config(git_url: &str) -> String {
    format!(
        r#"version: 1
cluster:
  name: homelab
  domain: example.com
nodes:
  - name: node-1
    address: 127.0.0.11
    role: control-plane
  - name: node-2
    address: 127.0.0.12
    role: worker
network:
  node_cidr: 127.0.0.0/8
  loadbalancer_pool:
    - 127.0.0.1-127.0.0.9
  ingress_address: 127.0.0.1
ingress:
  controller: traefik
certificates:
  email: admin@example.com
  challenge: dns01
  dns_provider: cloudflare
storage:
  nfs_server: 127.0.0.1
  nfs_path: /srv/nfs/kubernetes
  storage_class: nfs
git:
  url: {git_url}
  branch: main
apps:
  - name: homepage
    namespace: homepage
    host: localhost
"#
    )
}
