//! Real git servers on loopback for push tests: bare repositories, `git daemon`, and an
//! unprivileged `sshd` instance with its own host key and authorized keys, plus `ssh-agent`.
//! Each server is a child process killed when its handle drops.

#![allow(dead_code)]

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use super::process::Proc;

/// Run a command, panicking with its output when it fails; returns stdout.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed\n--- stdout ---\n{}\n--- stderr ---\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `git` with a fixed identity and no user or system configuration.
pub fn git(dir: &Path) -> Command {
    let mut cmd = Command::new("git");
    cmd.current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Someone Else")
        .env("GIT_AUTHOR_EMAIL", "someone@example.com")
        .env("GIT_COMMITTER_NAME", "Someone Else")
        .env("GIT_COMMITTER_EMAIL", "someone@example.com")
        .stdin(Stdio::null());
    cmd
}

/// Create an empty bare repository at `path` whose HEAD is `branch`.
pub fn bare_repo(path: &Path, branch: &str) -> PathBuf {
    std::fs::create_dir_all(path).unwrap();
    run(git(path).args(["init", "--bare", "-q", "-b", branch, "."]));
    path.to_path_buf()
}

/// Clone `url` into `dest` with the git CLI (an independent implementation to check with).
pub fn clone(url: &str, dest: &Path) {
    run(git(dest.parent().unwrap())
        .args(["clone", "-q", url])
        .arg(dest));
}

/// The commit a branch points at in a (bare) repository, if any.
pub fn rev(repo: &Path, branch: &str) -> Option<String> {
    let out = git(repo)
        .args(["rev-parse", "--verify", "-q"])
        .arg(format!("refs/heads/{branch}"))
        .output()
        .unwrap();
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// A free loopback port (the listener is dropped just before the server binds it).
pub fn free_port() -> u16 {
    super::envtest::free_port()
}

/// Wait until something accepts connections on `port`, or the child exits.
pub fn wait_listening(child: &mut Child, port: u16, what: &str) {
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    // Bounded readiness poll (not a timing assertion): at most ~20 s.
    for _ in 0..400 {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("{what} exited early with {status}");
        }
        if TcpStream::connect(addr).is_ok() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("{what} did not listen on port {port}");
}

/// A child process killed on drop.
#[derive(Debug)]
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `git daemon` serving `base` read-write on loopback.
#[derive(Debug)]
pub struct GitDaemon {
    pub port: u16,
    _child: Guard,
}

impl GitDaemon {
    pub fn start(base: &Path) -> Self {
        let port = free_port();
        let mut child = git(base)
            .args([
                "daemon",
                "--reuseaddr",
                "--export-all",
                "--enable=receive-pack",
                "--listen=127.0.0.1",
            ])
            .arg(format!("--port={port}"))
            .arg(format!("--base-path={}", base.display()))
            .arg(base)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start git daemon (Debian package git-daemon-run is not needed; git has it)");
        wait_listening(&mut child, port, "git daemon");
        Self {
            port,
            _child: Guard(child),
        }
    }

    /// The git:// URL of a repository under the base path.
    pub fn url(&self, name: &str) -> String {
        format!("git://127.0.0.1:{}/{name}", self.port)
    }
}

/// Generate an ed25519 key pair at `path` (and `path.pub`), optionally with a passphrase.
pub fn keygen(path: &Path, passphrase: &str) -> PathBuf {
    run(Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-C",
            "homelab-test",
            "-N",
            passphrase,
            "-f",
        ])
        .arg(path));
    path.to_path_buf()
}

/// The public half of a key pair, as one authorized_keys / known_hosts line body.
pub fn public_key(private: &Path) -> String {
    std::fs::read_to_string(private.with_extension("pub"))
        .unwrap()
        .trim()
        .to_owned()
}

/// An `sshd` run as a test instance: its own host key, config and authorized keys.
#[derive(Debug)]
pub struct Sshd {
    pub port: u16,
    /// The login (the user running the tests).
    pub user: String,
    /// The server's public host key line (`ssh-ed25519 AAAA...`).
    pub host_key: String,
    pub authorized_keys: PathBuf,
    _proc: Proc,
}

pub const SSHD: &str = "/usr/sbin/sshd";

/// Whether sshd is installed (Debian: openssh-server).
pub fn sshd_available() -> bool {
    Path::new(SSHD).is_file()
}

impl Sshd {
    /// Start sshd with state in `dir`, letting in the given public keys.
    pub fn start(dir: &Path, authorized: &[String]) -> Self {
        assert!(
            sshd_available(),
            "{SSHD} is missing: install it with `apt-get install -y openssh-server`"
        );
        std::fs::create_dir_all(dir).unwrap();
        // Debian's sshd insists on its privilege-separation directory.
        let _ = std::fs::create_dir_all("/run/sshd");
        let host_key = dir.join("ssh_host_ed25519_key");
        keygen(&host_key, "");
        let authorized_keys = dir.join("authorized_keys");
        std::fs::write(&authorized_keys, authorized.join("\n") + "\n").unwrap();
        let user = run(Command::new("id").arg("-un")).trim().to_owned();
        let port = free_port();
        let config = dir.join("sshd_config");
        std::fs::write(
            &config,
            format!(
                "ListenAddress 127.0.0.1:{port}\n\
                 HostKey {}\n\
                 AuthorizedKeysFile {}\n\
                 PidFile none\n\
                 StrictModes no\n\
                 UsePAM no\n\
                 PermitRootLogin prohibit-password\n\
                 PubkeyAuthentication yes\n\
                 PasswordAuthentication no\n\
                 KbdInteractiveAuthentication no\n\
                 UseDNS no\n\
                 LogLevel INFO\n",
                host_key.display(),
                authorized_keys.display()
            ),
        )
        .unwrap();
        // Under a watchdog: sshd must not outlive a test process that is killed.
        let mut proc = Proc::spawn(
            dir,
            "sshd",
            Path::new(SSHD),
            &[
                "-D".into(),
                "-e".into(),
                "-f".into(),
                config.display().to_string(),
            ],
        )
        .unwrap_or_else(|e| panic!("start sshd: {e}"));
        proc.wait_listening(port, std::time::Duration::from_secs(20))
            .unwrap_or_else(|e| panic!("{e}"));
        Self {
            port,
            user,
            host_key: public_key(&host_key),
            authorized_keys,
            _proc: proc,
        }
    }

    /// Let in one more public key (`ssh-ed25519 AAAA… comment`), as adding a deploy key on a
    /// git forge does. sshd reads the file on every login.
    pub fn authorize(&self, public_key: &str) {
        use std::io::Write as _;
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.authorized_keys)
            .unwrap_or_else(|e| panic!("open {}: {e}", self.authorized_keys.display()));
        writeln!(file, "{}", public_key.trim()).expect("append to authorized_keys");
    }

    /// An ssh:// URL for a path on this machine.
    pub fn url(&self, path: &Path) -> String {
        format!(
            "ssh://{}@127.0.0.1:{}{}",
            self.user,
            self.port,
            path.display()
        )
    }

    /// The known_hosts line for this server.
    pub fn known_hosts_line(&self) -> String {
        format!("[127.0.0.1]:{} {}\n", self.port, self.host_key)
    }
}

/// An `ssh-agent` on its own socket, holding the keys added to it.
#[derive(Debug)]
pub struct Agent {
    pub socket: PathBuf,
    _child: Guard,
}

impl Agent {
    pub fn start(dir: &Path) -> Self {
        let socket = dir.join("agent.sock");
        let mut child = Command::new("ssh-agent")
            .arg("-D")
            .arg("-a")
            .arg(&socket)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start ssh-agent");
        for _ in 0..400 {
            if socket.exists() {
                break;
            }
            if let Some(status) = child.try_wait().unwrap() {
                panic!("ssh-agent exited early with {status}");
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        assert!(socket.exists(), "ssh-agent did not create its socket");
        Self {
            socket,
            _child: Guard(child),
        }
    }

    /// Load an unencrypted private key into the agent.
    pub fn add(&self, key: &Path) {
        run(Command::new("ssh-add")
            .arg("-q")
            .arg(key)
            .env("SSH_AUTH_SOCK", &self.socket)
            .stdin(Stdio::null()));
    }
}

/// The smart-HTTP front end for `git http-backend`: TLS, HTTP Basic auth with one user and
/// token, chunked request bodies (libgit2 streams pushes), and the CGI exchange.
const HTTPS_SERVER_PY: &str = r#"
import base64, os, ssl, subprocess, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port, root, cert, key, user, token = sys.argv[1:7]
expected = "Basic " + base64.b64encode(f"{user}:{token}".encode()).decode()

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def handle_any(self):
        body = self.body()
        if self.headers.get("Authorization") != expected:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="homelab-test"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        path, _, query = self.path.partition("?")
        env = dict(os.environ)
        env.update({
            "GIT_PROJECT_ROOT": root, "GIT_HTTP_EXPORT_ALL": "1", "REMOTE_USER": user,
            "REQUEST_METHOD": self.command, "PATH_INFO": path, "QUERY_STRING": query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)), "REMOTE_ADDR": "127.0.0.1",
            "GATEWAY_INTERFACE": "CGI/1.1", "SERVER_PROTOCOL": "HTTP/1.1",
        })
        if self.headers.get("Content-Encoding"):
            env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
        if self.headers.get("Git-Protocol"):
            env["HTTP_GIT_PROTOCOL"] = self.headers["Git-Protocol"]
        out = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True).stdout
        head, _, payload = out.partition(b"\r\n\r\n")
        status, headers = 200, []
        for line in head.decode().split("\r\n"):
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.strip().split()[0])
            elif name:
                headers.append((name, value.strip()))
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = handle_any
    do_POST = handle_any

server = ThreadingHTTPServer(("127.0.0.1", int(port)), Handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert, key)
server.socket = context.wrap_socket(server.socket, server_side=True)
server.serve_forever()
"#;

/// `git http-backend` behind a local TLS server with a self-signed certificate.
#[derive(Debug)]
pub struct HttpsServer {
    pub port: u16,
    /// The certificate to trust (give it to the client as SSL_CERT_FILE).
    pub ca_file: PathBuf,
    _child: Guard,
}

impl HttpsServer {
    /// Serve the repositories under `root`, accepting `user` with password `token`.
    pub fn start(dir: &Path, root: &Path, user: &str, token: &str) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        let certified =
            rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()])
                .unwrap();
        let ca_file = dir.join("cert.pem");
        let key_file = dir.join("key.pem");
        std::fs::write(&ca_file, certified.cert.pem()).unwrap();
        std::fs::write(&key_file, certified.signing_key.serialize_pem()).unwrap();
        let script = dir.join("https_git_server.py");
        std::fs::write(&script, HTTPS_SERVER_PY).unwrap();
        let port = free_port();
        let mut child = Command::new("python3")
            .arg(&script)
            .arg(port.to_string())
            .arg(root)
            .arg(&ca_file)
            .arg(&key_file)
            .args([user, token])
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start python3 for the HTTPS git server");
        wait_listening(&mut child, port, "the HTTPS git server");
        Self {
            port,
            ca_file,
            _child: Guard(child),
        }
    }

    /// The https:// URL of a repository under the root.
    pub fn url(&self, name: &str) -> String {
        format!("https://127.0.0.1:{}/{name}", self.port)
    }
}

/// A server that accepts connections and then stalls: `silent` never sends a byte (no TLS
/// handshake, no SSH banner, no HTTP answer); `trickle` answers an HTTP request with a 200
/// announcing a body it never finishes, sent one byte every `interval` (after TLS when a
/// certificate is given). What a hung or hostile server looks like to a client without deadlines.
const STALL_SERVER_PY: &str = r#"
import socket, ssl, sys, threading, time

port, mode, interval, content_type, prefix, cert, key = sys.argv[1:8]
interval = float(interval)
context = None
if cert:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)

def serve(conn):
    try:
        if mode == "silent":
            while True:
                time.sleep(3600)
        if context:
            conn = context.wrap_socket(conn, server_side=True)
        head = b""
        while b"\r\n\r\n" not in head:
            data = conn.recv(4096)
            if not data:
                return
            head += data
        # A length far beyond what is ever sent: the client waits for the rest.
        conn.sendall(("HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: 100000000\r\n\r\n" % content_type).encode())
        conn.sendall(prefix.encode())
        while True:
            conn.sendall(b" ")
            time.sleep(interval)
    except Exception:
        pass
    finally:
        try:
            conn.close()
        except Exception:
            pass

listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", int(port)))
listener.listen(64)
while True:
    conn, _ = listener.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
"#;

/// How a [`StallServer`] stalls.
#[derive(Debug, Clone, Copy)]
pub enum Stall {
    /// Accept and never send anything.
    Silent,
    /// Answer HTTP with this content type, send `prefix`, then a space every 200 ms forever.
    Trickle {
        content_type: &'static str,
        prefix: &'static str,
    },
}

/// A loopback server that accepts connections and stalls (see [`Stall`]).
#[derive(Debug)]
pub struct StallServer {
    pub port: u16,
    /// With TLS: the self-signed certificate to trust (SSL_CERT_FILE).
    pub ca_file: Option<PathBuf>,
    _child: Guard,
}

impl StallServer {
    /// Start one; `tls` wraps trickling answers in TLS with a fresh self-signed certificate
    /// for 127.0.0.1 (a silent server never gets as far as a handshake).
    pub fn start(dir: &Path, stall: Stall, tls: bool) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        let script = dir.join("stall_server.py");
        std::fs::write(&script, STALL_SERVER_PY).unwrap();
        let (ca_file, key_file) = if tls {
            let certified =
                rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()])
                    .unwrap();
            let ca_file = dir.join(format!("stall-cert-{}.pem", free_port()));
            let key_file = ca_file.with_extension("key");
            std::fs::write(&ca_file, certified.cert.pem()).unwrap();
            std::fs::write(&key_file, certified.signing_key.serialize_pem()).unwrap();
            (Some(ca_file), Some(key_file))
        } else {
            (None, None)
        };
        let (mode, content_type, prefix) = match stall {
            Stall::Silent => ("silent", "", ""),
            Stall::Trickle {
                content_type,
                prefix,
            } => ("trickle", content_type, prefix),
        };
        let path_arg = |p: &Option<PathBuf>| {
            p.as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        };
        let port = free_port();
        let mut child = Command::new("python3")
            .arg(&script)
            .arg(port.to_string())
            .args([mode, "0.2", content_type, prefix])
            .arg(path_arg(&ca_file))
            .arg(path_arg(&key_file))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start python3 for the stalling server");
        wait_listening(&mut child, port, "the stalling server");
        Self {
            port,
            ca_file,
            _child: Guard(child),
        }
    }
}
