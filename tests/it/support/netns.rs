//! The simulated cluster's network isolation: a private network namespace with only `lo`.
//!
//! Why: once charts install admission webhooks, the API server dials Service and pod IPs
//! (10.0.0.0/24 and the like), and the product's own checks dial node and NFS addresses. In
//! the machine's namespace those connections could leave the machine. In a fresh network
//! namespace there is no route but loopback: addresses the harness adds to `lo` are local
//! and every other connection fails at once. The test binary re-executes itself inside such
//! a namespace before it starts any thread ([`enter`]), and a cluster refuses to start
//! unless [`assert_isolated`] holds.

#![allow(dead_code)]

use std::os::unix::process::CommandExt as _;
use std::process::{Command, Stdio};

/// Set in the environment of the re-executed binary (inside the namespace).
pub const MARKER: &str = "HOMELAB_E2E_NETNS";

/// Run the rest of this process inside a fresh network namespace with `lo` up: unless
/// already inside one, replace this process with `unshare -n` (as root) or `unshare -rn`
/// (otherwise: a user namespace maps this user to root, which a network namespace needs)
/// running this same executable with the same arguments. Call it first thing in `main`,
/// before any thread exists. Never returns an error: it exits with a message instead.
pub fn enter() {
    if std::env::var_os(MARKER).is_none() {
        let exe = std::env::current_exe().unwrap_or_else(|e| fail(&format!("current_exe: {e}")));
        let mut cmd = Command::new("unshare");
        cmd.arg(if is_root() { "-n" } else { "-rn" })
            .arg("--")
            .arg(exe)
            .args(std::env::args_os().skip(1))
            .env(MARKER, "1");
        let err = cmd.exec();
        fail(&format!(
            "cannot enter a network namespace with `unshare`: {err}\n\
             hint: install util-linux; as a non-root user, unprivileged user namespaces must be enabled \
             (sysctl kernel.unprivileged_userns_clone=1)"
        ));
    }
    let status = Command::new("ip")
        .args(["link", "set", "lo", "up"])
        .stdin(Stdio::null())
        .status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => fail(&format!("`ip link set lo up` failed ({s})")),
        Err(e) => fail(&format!(
            "cannot run `ip link set lo up`: {e}\nhint: install iproute2"
        )),
    }
    if let Err(routes) = isolated() {
        fail(&format!(
            "the network namespace has non-loopback routes, refusing to run:\n{routes}"
        ));
    }
    // Outgoing connections take their source ports from the ephemeral range; keep it clear
    // of the ports servers listen on (a source port taken by a connection made a restarted
    // controller fail to bind its port forever). The setting belongs to this namespace.
    let range = format!("{} 60999", LISTEN_PORTS.end);
    if let Err(e) = std::fs::write("/proc/sys/net/ipv4/ip_local_port_range", &range) {
        fail(&format!(
            "cannot set the ephemeral port range to {range}: {e}"
        ));
    }
}

/// The ports servers of the simulation listen on, handed out by [`listen_port`]; the
/// ephemeral range of the namespace starts above them.
pub const LISTEN_PORTS: std::ops::Range<u16> = 20000..40000;

/// A loopback port from [`LISTEN_PORTS`] that is free now and never handed out before in
/// this process.
pub fn listen_port() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(LISTEN_PORTS.start);
    loop {
        let port = NEXT.fetch_add(1, Ordering::SeqCst);
        assert!(
            LISTEN_PORTS.contains(&port),
            "no listening port left in {LISTEN_PORTS:?}"
        );
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// Whether this process runs inside the namespace [`enter`] made.
pub fn inside() -> bool {
    std::env::var_os(MARKER).is_some()
}

/// Panic unless every route (IPv4 and IPv6) of this network namespace goes through `lo`.
pub fn assert_isolated() {
    if let Err(routes) = isolated() {
        panic!(
            "refusing to start a simulated cluster: this network namespace has routes off the \
             machine, so Service and pod addresses could reach a real network:\n{routes}\n\
             hint: run the cluster from the e2e test binary, which enters a private network \
             namespace first (see docs/e2e.md)"
        );
    }
}

/// `Ok` when every route uses `lo`; otherwise the offending routes, one per line.
pub fn isolated() -> Result<(), String> {
    let mut bad = Vec::new();
    // /proc/net/route: header line, then `Iface Destination Gateway ...`.
    if let Ok(text) = std::fs::read_to_string("/proc/net/route") {
        for line in text.lines().skip(1) {
            let iface = line.split_whitespace().next().unwrap_or_default();
            if !iface.is_empty() && iface != "lo" {
                bad.push(format!("IPv4 route via {iface}: {}", line.trim()));
            }
        }
    }
    // /proc/net/ipv6_route: no header; the device is the last field.
    if let Ok(text) = std::fs::read_to_string("/proc/net/ipv6_route") {
        for line in text.lines() {
            let iface = line.split_whitespace().last().unwrap_or_default();
            if !iface.is_empty() && iface != "lo" {
                bad.push(format!("IPv6 route via {iface}: {}", line.trim()));
            }
        }
    }
    if bad.is_empty() {
        Ok(())
    } else {
        Err(bad.join("\n"))
    }
}

/// Add `ip/32` to `lo` (an address a pod of the simulation has), once.
pub fn add_local_address(ip: &str) -> Result<(), String> {
    assert_isolated();
    let out = Command::new("ip")
        .args(["addr", "replace", &format!("{ip}/32"), "dev", "lo"])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("run ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip addr replace {ip}/32 dev lo: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Remove `ip/32` from `lo` (ignores an address that is not there).
pub fn remove_local_address(ip: &str) {
    let _ = Command::new("ip")
        .args(["addr", "del", &format!("{ip}/32"), "dev", "lo"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

fn fail(message: &str) -> ! {
    eprintln!("e2e: {message}");
    std::process::exit(2);
}
