//! How output looks: colours and the one table of marks, each only where the printer allows
//! them (`--no-color`, `NO_COLOR`, a terminal); plain ASCII otherwise, so logs and pipes
//! read the same everywhere.

pub use super::printer::{color, note};

fn paint(text: &str, code: &str) -> String {
    if color() {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_owned()
    }
}

pub fn red(text: &str) -> String {
    paint(text, "1;31")
}

pub fn yellow(text: &str) -> String {
    paint(text, "1;33")
}

pub fn green(text: &str) -> String {
    paint(text, "1;32")
}

pub fn bold(text: &str) -> String {
    paint(text, "1")
}

/// How a line ended: each has one mark, the same in every command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// Done, or healthy.
    Ok,
    /// Works, but deserves a look.
    Warning,
    /// Failed.
    Failed,
    /// Not decided yet: waits on something else.
    Waiting,
    /// Deliberately not done.
    Skipped,
    /// Left for the user to do.
    Todo,
}

/// How marks and headings are drawn on one stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decor {
    /// `✓ ⚠ ✗ … - •` in colour, for a terminal.
    Fancy,
    /// `[ok] [warn] [fail] [wait] [skip] [todo]`, no escape codes: for `NO_COLOR`,
    /// `--no-color`, pipes and logs.
    Plain,
}

impl Decor {
    /// The decor of stdout (data: reports, status tables).
    pub fn stdout() -> Decor {
        if super::printer::color_stdout() {
            Decor::Fancy
        } else {
            Decor::Plain
        }
    }

    /// The decor of stderr (messages, checklists).
    pub fn stderr() -> Decor {
        if color() { Decor::Fancy } else { Decor::Plain }
    }

    /// The mark, coloured on a terminal.
    pub fn mark(self, mark: Mark) -> &'static str {
        match (self, mark) {
            (Decor::Fancy, Mark::Ok) => "\x1b[32m✓\x1b[0m",
            (Decor::Fancy, Mark::Warning) => "\x1b[33m⚠\x1b[0m",
            (Decor::Fancy, Mark::Failed) => "\x1b[31m✗\x1b[0m",
            (Decor::Fancy, Mark::Waiting) => "\x1b[2m…\x1b[0m",
            (Decor::Fancy, Mark::Skipped) => "\x1b[2m-\x1b[0m",
            (Decor::Fancy, Mark::Todo) => "•",
            (Decor::Plain, Mark::Ok) => "[ok]",
            (Decor::Plain, Mark::Warning) => "[warn]",
            (Decor::Plain, Mark::Failed) => "[fail]",
            (Decor::Plain, Mark::Waiting) => "[wait]",
            (Decor::Plain, Mark::Skipped) => "[skip]",
            (Decor::Plain, Mark::Todo) => "[todo]",
        }
    }

    /// A heading, bold on a terminal.
    pub fn heading(self, title: &str) -> String {
        match self {
            Decor::Fancy => format!("\x1b[1m{title}\x1b[0m"),
            Decor::Plain => title.to_owned(),
        }
    }
}

/// `mark` as stderr draws it (for messages such as `✓ pushed to …`).
pub fn mark(mark: Mark) -> &'static str {
    Decor::stderr().mark(mark)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_marks_are_ascii_and_distinct() {
        let all = [
            Mark::Ok,
            Mark::Warning,
            Mark::Failed,
            Mark::Waiting,
            Mark::Skipped,
            Mark::Todo,
        ];
        let plain: Vec<&str> = all.iter().map(|m| Decor::Plain.mark(*m)).collect();
        assert!(plain.iter().all(|m| m.is_ascii()), "{plain:?}");
        let mut unique = plain.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), all.len());
        assert!(
            all.iter()
                .all(|m| Decor::Fancy.mark(*m) != Decor::Plain.mark(*m))
        );
    }
}
