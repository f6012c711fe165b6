//! Errors read as causes: a request that fails says what happened ("Connection refused", no
//! answer in time, a TLS failure), through the binary, not the wrapper types around it
//! (`ServiceError: client error (Connect)`). Every server here is on loopback.

use std::io::{Read as _, Write as _};
use std::net::TcpListener;

use crate::support::network::{TOKEN_USER, write_kubeconfig};
use crate::support::{Run, homelab};

/// `homelab status` against `server`, which fails with exit 1.
fn status_against(server: &str) -> Run {
    let tmp = tempfile::tempdir().unwrap();
    let kubeconfig = write_kubeconfig(&tmp.path().join("kubeconfig"), server, TOKEN_USER);
    homelab()
        .dir(tmp.path())
        .args(["status", "--request-timeout", "1s", "--kubeconfig"])
        .arg(&kubeconfig)
        .expect_code(1)
}

/// The error line names `cause` and none of the client library's wrappers.
fn assert_reads_as(run: &Run, cause: &str) {
    let err = run.stderr();
    assert!(err.contains(cause), "no {cause:?} in:\n{err}");
    for wrapper in [
        "ServiceError",
        "client error",
        "HyperError",
        "Error {",
        "Custom {",
    ] {
        assert!(!err.contains(wrapper), "{wrapper:?} in:\n{err}");
    }
}

#[test]
fn a_refused_connection_says_connection_refused() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let run = status_against(&format!("https://127.0.0.1:{port}"));
    assert_reads_as(&run, "Connection refused");
}

#[test]
fn a_silent_server_says_no_answer_in_time() {
    // Connections complete (the backlog accepts them) but nothing ever answers.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let run = status_against(&format!("https://127.0.0.1:{port}"));
    assert_reads_as(&run, "no complete answer within 1s");
    drop(listener);
}

#[test]
fn plain_http_on_an_https_url_says_the_tls_handshake_failed() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten().take(8) {
            let mut stream = stream;
            let mut buf = [0u8; 512];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        }
    });
    let run = status_against(&format!("https://127.0.0.1:{port}"));
    assert_reads_as(&run, "TLS handshake failed: ");
}
