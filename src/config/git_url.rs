//! `git.url`: the one parser of the remote, and the credentials it must never hold.
//!
//! Every command reads `git.url` through [`GitUrl::parse`], so validation, `push`,
//! `bootstrap`, `doctor` and the rendered GitRepository accept the same set of remotes and
//! derive the same facts from them (the transport, the SSH host and port, the URL Flux
//! wants). The accepted forms are git's own: `ssh://[user@]host[:port]/path`, scp-like
//! `[user@]host:path`, `https://` and `http://`, `git://`, `file:///path` and a path that
//! starts with `/`, `./` or `../`.
//!
//! `git.url` is committed (in `homelab.yaml` and Flux's GitRepository) and stored in
//! `.git/config` on push, so a password or token in it would leak to everyone who can read
//! the repository. Parsing refuses every form found here, and every message that shows a
//! URL shows it through [`redact`], so not even the refusal echoes the secret.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// The forms `git.url` may take, for hints.
pub const FORMS: &str = "use ssh://git@host/owner/repo.git, git@host:owner/repo.git, https://host/owner/repo.git, file:///path or a path";

/// How a remote is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// `ssh://` or scp-like `[user@]host:path`.
    Ssh,
    Https,
    Http,
    /// `git://`: the unauthenticated git daemon.
    Git,
    /// `file://` or a path: a repository on this machine.
    File,
}

/// A parsed `git.url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitUrl {
    /// The URL as written.
    text: String,
    pub transport: Transport,
    /// Written scp-like (`git@host:owner/repo.git`).
    pub scp_like: bool,
    pub user: Option<String>,
    /// The server (an IPv6 address without its brackets); empty for [`Transport::File`].
    pub host: String,
    pub port: Option<u16>,
    /// The repository on the server (or the path of a local one), as written.
    pub path: String,
}

/// Why a `git.url` was refused. Its `Display` completes "git.url <url> …".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    Empty,
    /// A credential (`"a password"`, `"an access token"`, `"a token in the query"`).
    Credential(&'static str),
    /// Not one of the accepted forms, and why.
    Malformed(String),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Empty => f.write_str("is empty"),
            Problem::Credential(what) => write!(
                f,
                "contains {what}, which would be committed to git and stored in .git/config"
            ),
            Problem::Malformed(why) => f.write_str(why),
        }
    }
}

impl GitUrl {
    /// Parse `url`, refusing credentials and every form git (or homelab) cannot use.
    pub fn parse(url: &str) -> Result<GitUrl, Problem> {
        let bad = |why: &str| Err(Problem::Malformed(why.to_owned()));
        if url.trim().is_empty() {
            return Err(Problem::Empty);
        }
        if let Some(what) = credential(url) {
            return Err(Problem::Credential(what));
        }
        if url.chars().any(|c| c.is_whitespace() || c.is_control())
            || crate::text::first_hidden(url).is_some()
        {
            return bad("contains whitespace, control or invisible characters");
        }
        let local = |path: &str| GitUrl {
            text: url.to_owned(),
            transport: Transport::File,
            scp_like: false,
            user: None,
            host: String::new(),
            port: None,
            path: path.to_owned(),
        };
        if url.starts_with('/') || url.starts_with("./") || url.starts_with("../") {
            return Ok(local(url));
        }
        if let Some((scheme, rest)) = url.split_once("://") {
            let transport = match scheme {
                "ssh" => Transport::Ssh,
                "https" => Transport::Https,
                "http" => Transport::Http,
                "git" => Transport::Git,
                "file" if rest.starts_with('/') => return Ok(local(rest)),
                "file" => return bad("is a file:// URL without an absolute path (file:///path)"),
                _ => return bad(&format!("uses the unsupported scheme {scheme}://")),
            };
            let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
            let (user, hostport) = split_user(authority)?;
            let (host, port) = split_port(hostport)?;
            if path.is_empty() {
                return bad("names no repository path after the host");
            }
            return Ok(GitUrl {
                text: url.to_owned(),
                transport,
                scp_like: false,
                user,
                host,
                port,
                path: path.to_owned(),
            });
        }
        // git's rule: `[user@]host:path` is scp-like when a colon comes before any slash.
        // An IPv6 host is bracketed: its colons do not count.
        let colon = if url.starts_with('[') || url.contains("@[") {
            url.find("]:").map(|close| close + 1)
        } else {
            url.find(':')
        };
        if let Some(colon) = colon
            && url.find('/').is_none_or(|slash| colon < slash)
        {
            let (user, host) = split_user(&url[..colon])?;
            // The host ends at the first colon (or the bracket), so it holds no port.
            let (host, _) = split_port(host)?;
            let path = &url[colon + 1..];
            if path.is_empty() {
                return bad("names no repository path after the host");
            }
            return Ok(GitUrl {
                text: url.to_owned(),
                transport: Transport::Ssh,
                scp_like: true,
                user,
                host,
                port: None,
                path: path.to_owned(),
            });
        }
        bad("is neither a URL, nor user@host:path, nor a path starting with /, ./ or ../")
    }

    /// The URL as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The URL for Flux's GitRepository, which takes `ssh://` and `http(s)://` URLs only:
    /// the scp-like form becomes `ssh://[user@]host/path`; every other form stays as written.
    pub fn flux_url(&self) -> String {
        if !self.scp_like {
            return self.text.clone();
        }
        let user = self
            .user
            .as_deref()
            .map(|u| format!("{u}@"))
            .unwrap_or_default();
        format!(
            "ssh://{user}{}/{}",
            bracketed(&self.host),
            self.path.trim_start_matches('/')
        )
    }

    /// Why Flux in the cluster cannot pull this remote, if it cannot: it speaks SSH and
    /// HTTP(S) only, and a local repository exists on this machine alone.
    pub fn unpullable(&self) -> Option<&'static str> {
        match self.transport {
            Transport::Ssh | Transport::Https | Transport::Http => None,
            Transport::Git => Some("Flux does not speak the git:// protocol"),
            Transport::File => {
                Some("it is a path on this machine, which Flux in the cluster cannot reach")
            }
        }
    }

    /// The SSH server's host and port (22 unless given), for host-key checks.
    pub fn ssh_endpoint(&self) -> Option<(&str, u16)> {
        (self.transport == Transport::Ssh).then(|| (self.host.as_str(), self.port.unwrap_or(22)))
    }
}

/// `"[::1]"` for an IPv6 address, the host itself otherwise.
fn bracketed(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_owned()
    }
}

/// `user@host` → the user (if any) and the rest.
fn split_user(authority: &str) -> Result<(Option<String>, &str), Problem> {
    match authority.rsplit_once('@') {
        Some(("", _)) => Err(Problem::Malformed(
            "names an empty user before '@'".to_owned(),
        )),
        Some((user, host)) => Ok((Some(user.to_owned()), host)),
        None => Ok((None, authority)),
    }
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`, with the host checked.
fn split_port(hostport: &str) -> Result<(String, Option<u16>), Problem> {
    let bad = |why: String| Problem::Malformed(why);
    let (host, port) = if let Some(rest) = hostport.strip_prefix('[') {
        let (v6, after) = rest
            .split_once(']')
            .ok_or_else(|| bad("has an unclosed '[' in its host".to_owned()))?;
        if v6.parse::<Ipv6Addr>().is_err() {
            return Err(bad(format!("names [{v6}], which is not an IPv6 address")));
        }
        match after {
            "" => (v6, None),
            _ => match after.strip_prefix(':') {
                Some(port) => (v6, Some(port)),
                None => return Err(bad("has text after its IPv6 address".to_owned())),
            },
        }
    } else {
        match hostport.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (hostport, None),
        }
    };
    if host.is_empty() {
        return Err(bad("names no host".to_owned()));
    }
    if !hostport.starts_with('[') && !remote_host(host) {
        return Err(bad(format!(
            "names the host {host:?}, which is neither an IP address nor a hostname"
        )));
    }
    let port = match port {
        None => None,
        Some(p) => Some(
            p.parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| bad(format!("has the port {p:?}, which is not a port number")))?,
        ),
    };
    Ok((host.to_owned(), port))
}

/// A git server: any IPv4 address (test servers listen on loopback) or a hostname.
fn remote_host(host: &str) -> bool {
    host.parse::<Ipv4Addr>().is_ok() || super::validate::field::host_or_ipv4(host).is_ok()
}

/// `url` as Flux's GitRepository wants it (see [`GitUrl::flux_url`]); a URL that does not
/// parse (validation refuses it) is kept as written.
pub fn flux_url(url: &str) -> String {
    GitUrl::parse(url).map_or_else(|_| url.to_owned(), |u| u.flux_url())
}

/// Prefixes of access tokens of the common forges (GitHub, GitLab) that may be pasted as
/// the user name of an HTTPS URL.
const TOKEN_PREFIXES: &[&str] = &[
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "github_pat_",
    "glpat-",
    "gldt-",
    "glptt-",
    "glrt-",
];

/// Query parameters that carry credentials (matched without case, as substrings, so
/// `private_token`, `access_token`, `X-Amz-Signature` and `client_secret` are all found).
const QUERY_SECRETS: &[&str] = &[
    "token",
    "secret",
    "password",
    "passwd",
    "apikey",
    "api_key",
    "api-key",
    "signature",
    "auth",
    "key",
];

/// The parts of a URL that matter here: where the user information is and where the query
/// starts. Works on anything, parsed or not, so a malformed URL is still redacted.
struct Parts<'a> {
    /// Everything before the user information (`https://`, or empty for scp-like forms).
    scheme: &'a str,
    /// `user`, `user:password` or a token, without the `@`.
    userinfo: Option<&'a str>,
    /// From the host to the end of the path, without the query.
    rest: &'a str,
    /// The query without `?` (and the fragment with it).
    query: Option<&'a str>,
}

fn parts(url: &str) -> Parts<'_> {
    let (scheme, after) = match url.find("://") {
        Some(i) => url.split_at(i + 3),
        None => ("", url),
    };
    let (main, query) = match after.split_once('?') {
        Some((m, q)) => (m, Some(q)),
        None => (after, None),
    };
    // The user information ends at the last '@' before the path (a password may hold '@'
    // only percent-encoded, but people paste them raw too).
    let authority_end = if scheme.is_empty() {
        main.len()
    } else {
        main.find('/').unwrap_or(main.len())
    };
    match main[..authority_end].rfind('@') {
        Some(at) => Parts {
            scheme,
            userinfo: Some(&main[..at]),
            rest: &main[at + 1..],
            query,
        },
        None => Parts {
            scheme,
            userinfo: None,
            rest: main,
            query,
        },
    }
}

fn hex(b: Option<&u8>) -> Option<u8> {
    (*b? as char).to_digit(16).map(|d| d as u8)
}

/// Decode `%XX` escapes (invalid ones stay as they are).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let (Some(hi), Some(lo)) = (hex(bytes.get(i + 1)), hex(bytes.get(i + 2)))
        {
            out.push(hi * 16 + lo);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What credential the user information holds, if any.
fn userinfo_credential(userinfo: &str) -> Option<&'static str> {
    let decoded = percent_decode(userinfo);
    let (user, password) = match decoded.split_once(':') {
        Some((u, p)) => (u, Some(p)),
        None => (decoded.as_str(), None),
    };
    if password.is_some_and(|p| !p.is_empty()) {
        return Some("a password");
    }
    let token = |s: &str| {
        TOKEN_PREFIXES.iter().any(|p| s.starts_with(p))
            || (s.len() == 40 && s.chars().all(|c| c.is_ascii_hexdigit()))
    };
    if token(user) {
        return Some("an access token");
    }
    None
}

/// Whether a query parameter's name says it carries a credential.
fn secret_parameter(name: &str) -> bool {
    let name = percent_decode(name).to_ascii_lowercase();
    QUERY_SECRETS.iter().any(|s| name.contains(s))
}

/// What credential `url` holds (`"a password"`, `"an access token"`, `"a token in the
/// query"`), if any.
pub fn credential(url: &str) -> Option<&'static str> {
    let parts = parts(url);
    if let Some(found) = parts.userinfo.and_then(userinfo_credential) {
        return Some(found);
    }
    let query = parts.query?;
    query
        .split(['&', ';', '#'])
        .filter_map(|pair| pair.split_once('='))
        .any(|(name, value)| !value.is_empty() && secret_parameter(name))
        .then_some("a token in the query")
}

/// `url` as it may be shown: user information that holds a credential becomes `***`
/// (`https://***@host/…`) and so does the value of every credential query parameter.
/// A URL without credentials is returned as it is.
pub fn redact(url: &str) -> String {
    let parts = parts(url);
    let mut out = String::from(parts.scheme);
    if let Some(userinfo) = parts.userinfo {
        if userinfo_credential(userinfo).is_some() {
            out.push_str("***");
        } else {
            out.push_str(userinfo);
        }
        out.push('@');
    }
    out.push_str(parts.rest);
    if let Some(query) = parts.query {
        out.push('?');
        let mut first = true;
        for pair in query.split('&') {
            if !first {
                out.push('&');
            }
            first = false;
            match pair.split_once('=') {
                Some((name, _)) if secret_parameter(name) => {
                    out.push_str(name);
                    out.push_str("=***");
                }
                _ => out.push_str(pair),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every form, accepted or not, and what each reader derives from it: the transport,
    /// user, host and port (push and the host-key check), the URL Flux's GitRepository gets
    /// (render), and whether Flux can pull it (bootstrap, doctor).
    #[test]
    fn one_table_of_git_urls() {
        use Transport::*;
        // url, transport, user, host, port, flux url ("=" as written), Flux can pull
        type Row = (
            &'static str,
            Transport,
            Option<&'static str>,
            &'static str,
            Option<u16>,
            &'static str,
            bool,
        );
        let accepted: &[Row] = &[
            (
                "ssh://git@github.com/me/homelab.git",
                Ssh,
                Some("git"),
                "github.com",
                None,
                "=",
                true,
            ),
            (
                "ssh://forgejo@nas.lan:2222/srv/homelab.git",
                Ssh,
                Some("forgejo"),
                "nas.lan",
                Some(2222),
                "=",
                true,
            ),
            (
                "ssh://127.0.0.1:2222/x.git",
                Ssh,
                None,
                "127.0.0.1",
                Some(2222),
                "=",
                true,
            ),
            ("ssh://[::1]:22/x", Ssh, None, "::1", Some(22), "=", true),
            ("ssh://Git.LAN/x", Ssh, None, "Git.LAN", None, "=", true),
            (
                "git@github.com:me/homelab.git",
                Ssh,
                Some("git"),
                "github.com",
                None,
                "ssh://git@github.com/me/homelab.git",
                true,
            ),
            (
                "nas.lan:/srv/git/homelab.git",
                Ssh,
                None,
                "nas.lan",
                None,
                "ssh://nas.lan/srv/git/homelab.git",
                true,
            ),
            (
                "git@[::1]:x.git",
                Ssh,
                Some("git"),
                "::1",
                None,
                "ssh://git@[::1]/x.git",
                true,
            ),
            // As git reads it: the host ends at the first colon, the rest is the path.
            (
                "git@host:22:x",
                Ssh,
                Some("git"),
                "host",
                None,
                "ssh://git@host/22:x",
                true,
            ),
            (
                "https://github.com/me/homelab.git",
                Https,
                None,
                "github.com",
                None,
                "=",
                true,
            ),
            (
                "https://oauth2@gitea.lan/me/homelab.git",
                Https,
                Some("oauth2"),
                "gitea.lan",
                None,
                "=",
                true,
            ),
            (
                "http://127.0.0.1:3000/me/homelab.git",
                Http,
                None,
                "127.0.0.1",
                Some(3000),
                "=",
                true,
            ),
            (
                "https://h/x.git?ref=main",
                Https,
                None,
                "h",
                None,
                "=",
                true,
            ),
            (
                "git://git.lan/homelab.git",
                Git,
                None,
                "git.lan",
                None,
                "=",
                false,
            ),
            (
                "git://127.0.0.1:9418/homelab.git",
                Git,
                None,
                "127.0.0.1",
                Some(9418),
                "=",
                false,
            ),
            (
                "file:///srv/git/homelab.git",
                File,
                None,
                "",
                None,
                "=",
                false,
            ),
            ("/srv/git/homelab.git", File, None, "", None, "=", false),
            ("./homelab.git", File, None, "", None, "=", false),
            ("../remote.git", File, None, "", None, "=", false),
        ];
        for &(url, transport, user, host, port, flux, pullable) in accepted {
            let parsed = GitUrl::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"));
            assert_eq!(parsed.transport, transport, "{url}");
            assert_eq!(parsed.user.as_deref(), user, "{url}");
            assert_eq!(parsed.host, host, "{url}");
            assert_eq!(parsed.port, port, "{url}");
            let flux = if flux == "=" { url } else { flux };
            assert_eq!(parsed.flux_url(), flux, "{url}");
            assert_eq!(flux_url(url), flux, "{url}");
            assert_eq!(parsed.unpullable().is_none(), pullable, "{url}");
            assert_eq!(parsed.as_str(), url);
        }
        let refused: &[(&str, &str)] = &[
            ("", "is empty"),
            ("   ", "is empty"),
            ("https://me:hunter2@github.com/x.git", "contains a password"),
            (
                "https://ghp_hunter2@github.com/x.git",
                "contains an access token",
            ),
            ("user:hunter2@git.example.com:x.git", "contains a password"),
            (
                "https://h/x.git?private_token=hunter2",
                "contains a token in the query",
            ),
            ("github.com/me/homelab", "is neither a URL"),
            ("relative/path", "is neither a URL"),
            ("homelab.git", "is neither a URL"),
            ("git@github.com", "is neither a URL"),
            ("ftp://host/repo", "unsupported scheme ftp://"),
            ("SSH://host/repo", "unsupported scheme SSH://"),
            ("git+ssh://host/repo", "unsupported scheme git+ssh://"),
            ("file://relative/path", "without an absolute path"),
            ("https://github.com", "names no repository path"),
            ("https://github.com/", "names no repository path"),
            ("git@github.com:", "names no repository path"),
            ("ssh:///x", "names no host"),
            (":x.git", "names no host"),
            ("ssh://@host/x", "empty user"),
            ("https://host:port/repo", "not a port number"),
            ("ssh://git@host:/x", "not a port number"),
            ("ssh://host:0/x", "not a port number"),
            ("ssh://host:70000/x", "not a port number"),
            ("ssh://[nas]/x", "not an IPv6 address"),
            ("ssh://[::1/x", "unclosed"),
            ("ssh://nas_1/x", "neither an IP address nor a hostname"),
            ("https://git hub.com/r", "whitespace"),
            ("ssh://host/x\u{200B}", "invisible"),
        ];
        for &(url, why) in refused {
            let problem = GitUrl::parse(url).expect_err(url).to_string();
            assert!(problem.contains(why), "{url}: {problem}");
            assert!(!problem.contains("hunter2"), "{url}: {problem}");
            // Not parsed, so rendered as written (validation refuses it before that).
            assert_eq!(flux_url(url), url);
        }
    }

    #[test]
    fn every_credential_form_is_found() {
        for url in [
            "https://user:S3CRET@git.example.com/x.git",
            "https://ghs_S3CRETTOKEN@github.com/x.git",
            "https://ghu_S3CRETTOKEN@github.com/x.git",
            "https://ghr_S3CRETTOKEN@github.com/x.git",
            "https://gho_S3CRETTOKEN@github.com/x.git",
            "https://ghp_S3CRETTOKEN@github.com/x.git",
            "https://github_pat_S3CRET@github.com/x.git",
            "https://oauth2:glpat-S3CRET@gitlab.com/x.git",
            "https://glpat-S3CRET@gitlab.com/x.git",
            "https://0123456789abcdef0123456789abcdef01234567@github.com/x.git",
            "https://user%3AS3CRETPW@git.example.com/x.git",
            "https://user%3aS3CRETPW@git.example.com/x.git",
            "https://git.example.com/x.git?private_token=S3CRETTOKEN",
            "https://git.example.com/x.git?a=b&access_token=S3CRETTOKEN",
            "https://git.example.com/x.git?token=S3CRETTOKEN",
            "ssh://git:S3CRET@git.example.com/x.git",
            "git://u:S3CRET@git.example.com/x.git",
            "user:S3CRETPW@git.example.com:x.git",
            "http://u:p@ss@git.example.com/x.git",
        ] {
            assert!(credential(url).is_some(), "{url}");
            let shown = redact(url);
            for secret in ["S3CRET", "0123456789abcdef", "p@ss"] {
                assert!(!shown.contains(secret), "{url} shown as {shown}");
            }
        }
    }

    #[test]
    fn plain_urls_are_kept_as_they_are() {
        for url in [
            "ssh://git@github.com/you/homelab.git",
            "git@github.com:you/homelab.git",
            "https://github.com/you/homelab.git",
            "https://git.example.com/x.git?ref=main",
            "file:///srv/git/homelab.git",
            "../homelab.git",
            "",
        ] {
            assert_eq!(credential(url), None, "{url}");
            assert_eq!(redact(url), url);
        }
    }

    #[test]
    fn redaction_keeps_the_host_and_path() {
        assert_eq!(
            redact("https://user:pw@git.example.com/x.git"),
            "https://***@git.example.com/x.git"
        );
        assert_eq!(
            redact("user:pw@git.example.com:x.git"),
            "***@git.example.com:x.git"
        );
        assert_eq!(
            redact("https://h/x.git?a=1&private_token=abc"),
            "https://h/x.git?a=1&private_token=***"
        );
    }
}
