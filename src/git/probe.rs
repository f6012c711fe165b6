//! Does the git server accept a deploy key? A fetch handshake over SSH with exactly that key
//! and exactly the host key Flux will trust, from this machine.
//!
//! `bootstrap` cannot see whether the user registered the deploy key it printed; asking
//! "have you added it?" and believing the answer lets a typo (a read key on the wrong
//! repository, a key pasted without its last characters) surface later as a GitRepository
//! that never becomes Ready. Asking the server settles it before Flux is pointed at git.
//! The key never leaves memory.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use git2::{CertificateCheckStatus, Cred, CredentialType, Direction, RemoteCallbacks};
use ssh_key::known_hosts::KnownHosts;
use ssh_key::{LineEnding, PrivateKey, PublicKey};

/// Connect to `url` for a fetch with `key`, trusting only the host keys listed in
/// `known_hosts` (Flux's known_hosts content), and list the server's refs. `Err` says why
/// the server did not let the key in, in a sentence.
pub fn fetch_with_key(
    url: &str,
    key: &PrivateKey,
    known_hosts: &str,
    timeout: Duration,
) -> Result<(), String> {
    let private = key
        .to_openssh(LineEnding::LF)
        .map_err(|e| format!("cannot encode the key: {e}"))?
        .to_string();
    let trusted: Vec<PublicKey> = KnownHosts::new(known_hosts)
        .filter_map(std::result::Result::ok)
        .map(|entry| entry.public_key().clone())
        .collect();
    let url = url.to_owned();
    let (tx, rx) = std::sync::mpsc::channel();
    // libgit2 has no overall deadline for an SSH handshake: the thread is abandoned when
    // the server does not answer in time.
    std::thread::spawn(move || {
        let _ = tx.send(fetch(&url, &private, &trusted));
    });
    rx.recv_timeout(timeout).unwrap_or_else(|_| {
        Err(format!(
            "the server did not answer within {}s",
            timeout.as_secs()
        ))
    })
}

fn fetch(url: &str, private: &str, trusted: &[PublicKey]) -> Result<(), String> {
    // libgit2 asks for credentials again after a refusal: a second ask means the key was
    // refused.
    let refused = Rc::new(Cell::new(false));
    let host_key_ok = Rc::new(Cell::new(None::<bool>));
    let mut callbacks = RemoteCallbacks::new();
    let refused_in = refused.clone();
    let mut offered = false;
    callbacks.credentials(move |_url, user, allowed| {
        let user = user.filter(|u| !u.is_empty()).unwrap_or("git");
        if allowed.contains(CredentialType::USERNAME) {
            return Cred::username(user);
        }
        if offered {
            refused_in.set(true);
            return Err(git2::Error::from_str("the deploy key was refused"));
        }
        if !allowed.contains(CredentialType::SSH_MEMORY) {
            return Err(git2::Error::from_str("the server takes no SSH key"));
        }
        offered = true;
        Cred::ssh_key_from_memory(user, None, private, None)
    });
    let host_key_in = host_key_ok.clone();
    let trusted = trusted.to_vec();
    callbacks.certificate_check(move |cert, _host| {
        let presented = cert
            .as_hostkey()
            .and_then(|k| k.hostkey())
            .and_then(|raw| PublicKey::from_bytes(raw).ok());
        let ok = presented.is_some_and(|p| trusted.iter().any(|t| t.key_data() == p.key_data()));
        host_key_in.set(Some(ok));
        if ok {
            Ok(CertificateCheckStatus::CertificateOk)
        } else {
            Err(git2::Error::from_str("unexpected host key"))
        }
    });
    let mut remote = git2::Remote::create_detached(url).map_err(|e| e.message().to_owned())?;
    let connected = remote.connect_auth(Direction::Fetch, Some(callbacks), None);
    let result = match connected {
        Ok(mut connection) => connection
            .remote()
            .list()
            .map(|_| ())
            .map_err(|e| e.message().to_owned()),
        Err(e) => Err(e.message().to_owned()),
    };
    result.map_err(|why| {
        if host_key_ok.get() == Some(false) {
            "the server's host key is not the one Flux will trust".to_owned()
        } else if refused.get() {
            "the server refused the key".to_owned()
        } else {
            why
        }
    })
}
