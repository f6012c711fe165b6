//! Credentials in `git.url`: finding them, and never showing them.
//!
//! `git.url` is committed (in `homelab.yaml` and Flux's GitRepository) and stored in
//! `.git/config` on push, so a password or token in it would leak to everyone who can read
//! the repository. Validation refuses every form found here, and every message that shows a
//! URL shows it through [`redact`], so not even the refusal echoes the secret.

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
