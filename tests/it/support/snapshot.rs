//! The one way tests compare output with reviewed expectations: insta snapshots
//! (`tests/it/snapshots/`, and one `.snap` per case of the validation corpus). An intended
//! change is accepted with `INSTA_UPDATE=always` or `cargo insta review`, locally.
//!
//! In CI a snapshot must only ever be compared: an update mode left in the environment
//! (`INSTA_UPDATE=always|force|unseen`, `INSTA_FORCE_PASS=1`) would make insta rewrite the
//! expectations and pass. [`assert_snapshot!`] refuses to run in that case.

/// The reason snapshots may not be asserted in an environment (`var` reads a variable), or
/// `None` when they may: insta's own CI detection (`CI` set and not `false`/`0`/empty, or
/// `TF_BUILD`), combined with a setting that writes snapshots or passes regardless.
pub fn refusal(var: impl Fn(&str) -> Option<String>) -> Option<String> {
    let ci = match var("CI").as_deref() {
        Some("false" | "0" | "") => false,
        Some(_) => true,
        None => var("TF_BUILD").is_some(),
    };
    if !ci {
        return None;
    }
    let update = var("INSTA_UPDATE").unwrap_or_default();
    let writes = matches!(update.as_str(), "always" | "1" | "force" | "unseen");
    let force_pass = var("INSTA_FORCE_PASS").as_deref() == Some("1");
    let legacy = var("INSTA_FORCE_UPDATE").as_deref() == Some("1")
        || var("INSTA_FORCE_UPDATE_SNAPSHOTS").as_deref() == Some("1");
    (writes || force_pass || legacy).then(|| {
        format!(
            "refusing to check snapshots in CI with INSTA_UPDATE={update:?}, INSTA_FORCE_PASS={:?}: \
             insta would rewrite the expectations instead of comparing them; unset these \
             variables (accept changes locally with INSTA_UPDATE=always or `cargo insta review`)",
            var("INSTA_FORCE_PASS").unwrap_or_default()
        )
    })
}

/// Panic when this process's environment is one where snapshots would be rewritten in CI.
pub fn refuse_updates_in_ci() {
    if let Some(why) = refusal(|name| std::env::var(name).ok()) {
        panic!("{why}");
    }
}

/// The expected diagnostics of a case of the invalid corpus (`tests/corpus/invalid/X.yaml`),
/// for tests that check them elsewhere (through the binary): the body of its `X.snap`.
pub fn corpus_expectation(case: &std::path::Path) -> String {
    let file = case.with_extension("snap");
    let text =
        std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("read {}: {e}", file.display()));
    // `---`, insta's metadata, `---`, then the snapshot itself.
    let mut parts = text.splitn(3, "---\n");
    match (parts.next(), parts.next(), parts.next()) {
        (Some(""), Some(_), Some(body)) => body.to_owned(),
        _ => panic!("{} is not an insta snapshot", file.display()),
    }
}

/// `insta::assert_snapshot!`, after [`refuse_updates_in_ci`].
macro_rules! assert_snapshot {
    ($($arg:tt)*) => {{
        $crate::support::snapshot::refuse_updates_in_ci();
        insta::assert_snapshot!($($arg)*);
    }};
}
pub(crate) use assert_snapshot;

#[cfg(test)]
mod tests {
    use super::refusal;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn updates_are_refused_in_ci_only() {
        for (vars, refused) in [
            (&[][..], false),
            (&[("INSTA_UPDATE", "always")][..], false),
            (&[("CI", "true")][..], false),
            (&[("CI", "true"), ("INSTA_UPDATE", "no")][..], false),
            (&[("CI", "true"), ("INSTA_UPDATE", "new")][..], false),
            (&[("CI", "false"), ("INSTA_UPDATE", "always")][..], false),
            (&[("CI", "true"), ("INSTA_UPDATE", "always")][..], true),
            (&[("CI", "1"), ("INSTA_UPDATE", "1")][..], true),
            (&[("CI", "yes"), ("INSTA_UPDATE", "force")][..], true),
            (&[("CI", "true"), ("INSTA_UPDATE", "unseen")][..], true),
            (&[("CI", "true"), ("INSTA_FORCE_PASS", "1")][..], true),
            (
                &[("TF_BUILD", "True"), ("INSTA_UPDATE", "always")][..],
                true,
            ),
            (
                &[("CI", "true"), ("INSTA_FORCE_UPDATE_SNAPSHOTS", "1")][..],
                true,
            ),
        ] {
            assert_eq!(refusal(env(vars)).is_some(), refused, "{vars:?}");
        }
    }
}
