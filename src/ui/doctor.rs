//! Printing a doctor [`Report`]: `flux check`-style text for people, a stable JSON document for tools.

use std::fmt::Write as _;

use crate::doctor::{Report, Severity};
use crate::ui::style::Decor;
use crate::ui::style::Mark;

/// The mark of a finding's severity, from the one table of marks.
fn mark(decor: Decor, s: Severity) -> &'static str {
    decor.mark(match s {
        Severity::Ok => Mark::Ok,
        Severity::Warning => Mark::Warning,
        Severity::Failed => Mark::Failed,
        Severity::Waiting => Mark::Waiting,
    })
}

/// The text report: a heading per section, a line per check with its hint below (a waiting
/// finding names what it waits on instead), a summary.
pub fn text(report: &Report, decor: Decor) -> String {
    let mut out = String::new();
    for section in &report.sections {
        let _ = writeln!(out, "{}", decor.heading(section.title));
        for f in &section.findings {
            match &f.waiting_on {
                Some(root) => {
                    let _ = writeln!(
                        out,
                        "  {} {} (waiting on {root})",
                        mark(decor, f.status),
                        f.message
                    );
                }
                None => {
                    let _ = writeln!(out, "  {} {}", mark(decor, f.status), f.message);
                }
            }
            if let Some(hint) = &f.hint {
                let _ = writeln!(out, "      hint: {hint}");
            }
        }
    }
    let s = report.summary;
    let verdict = if s.failed > 0 || s.waiting > 0 {
        "problems found"
    } else if s.warning > 0 {
        "healthy, with warnings"
    } else {
        "all checks passed"
    };
    let waiting = if s.waiting > 0 {
        format!(", {} waiting on those", s.waiting)
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "\n{}: {} ok, {} warning(s), {} failed{waiting}",
        decor.heading(verdict),
        s.ok,
        s.warning,
        s.failed
    );
    out
}

/// The JSON document (schema in docs/doctor.md).
pub fn json(report: &Report) -> String {
    let mut s = serde_json::to_string_pretty(report).unwrap_or_else(|_| "{}".into());
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::{Finding, Section};

    fn sample() -> Report {
        Report::new(vec![Section::new(
            "local",
            "Local",
            vec![
                Finding::ok("local.config", "homelab.yaml is valid"),
                Finding::failed(
                    "local.remote",
                    "main is 1 commit(s) ahead",
                    "run `homelab push`",
                ),
                Finding::failed_unless(
                    "flux.revision",
                    "Flux runs main@sha1:0000000",
                    "not shown",
                    Some(crate::doctor::causes::Root(
                        "GitRepository flux-system/flux-system".into(),
                    )),
                ),
            ],
        )])
    }

    #[test]
    fn plain_text_has_marks_hints_and_a_summary() {
        let t = text(&sample(), Decor::Plain);
        assert!(t.contains("Local\n  [ok] homelab.yaml is valid\n  [fail] main is 1 commit(s) ahead\n      hint: run `homelab push`\n"), "{t}");
        assert!(
            t.contains("  [wait] Flux runs main@sha1:0000000 (waiting on GitRepository flux-system/flux-system)\n"),
            "{t}"
        );
        assert!(!t.contains("not shown"), "{t}");
        assert!(
            t.contains("problems found: 1 ok, 0 warning(s), 1 failed, 1 waiting on those"),
            "{t}"
        );
        assert!(!t.contains('\x1b'));
    }

    #[test]
    fn json_has_version_summary_and_findings() {
        let v: serde_json::Value = serde_json::from_str(&json(&sample())).unwrap();
        assert_eq!(v["version"], 1);
        assert_eq!(v["summary"]["failed"], 1);
        assert_eq!(v["sections"][0]["name"], "local");
        assert_eq!(v["sections"][0]["findings"][1]["status"], "failed");
        assert_eq!(
            v["sections"][0]["findings"][1]["hint"],
            "run `homelab push`"
        );
        assert!(v["sections"][0]["findings"][0].get("hint").is_none());
        let waiting = &v["sections"][0]["findings"][2];
        assert_eq!(waiting["status"], "waiting");
        assert_eq!(
            waiting["waiting_on"],
            "GitRepository flux-system/flux-system"
        );
        assert!(waiting.get("hint").is_none());
        assert_eq!(v["summary"]["waiting"], 1);
    }
}
