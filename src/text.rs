//! Characters nobody can see and YAML 1.1 parsers break lines on, bounded echoes, and the
//! one YAML quoting of a string (templates and edits of `homelab.yaml` alike).
//!
//! `homelab.yaml` is parsed as YAML 1.2, but the rendered repository is read by kustomize
//! (go-yaml, YAML 1.1), which also ends a line at U+0085, U+2028 and U+2029. A value holding
//! one of them, or an invisible format character (zero-width spaces, bidi controls), could
//! look harmless in an editor or a diff and still change what Flux applies. This module is
//! the one definition of that class: validation refuses it in every value, and the template
//! environment escapes it in every output, so neither relies on the other.
//!
//! It also owns the shape of a DNS name, which profiles, the catalog and validation share.

use std::fmt;

/// Whether `c` is a control character, a line or paragraph separator, an invisible format
/// character (Unicode category Cf) or a noncharacter: nothing a value may hold unescaped.
pub fn is_hidden(c: char) -> bool {
    matches!(u32::from(c),
        0x00..=0x1F | 0x7F..=0x9F // Cc, including U+0085 NEXT LINE
        | 0x2028 | 0x2029 // Zl, Zp
        // Cf (Unicode 15.1)
        | 0xAD | 0x600..=0x605 | 0x61C | 0x6DD | 0x70F | 0x890..=0x891 | 0x8E2 | 0x180E
        | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2064 | 0x2066..=0x206F | 0xFEFF
        | 0xFFF9..=0xFFFB | 0x110BD | 0x110CD | 0x13430..=0x1343F | 0x1BCA0..=0x1BCA3
        | 0x1D173..=0x1D17A | 0xE0001 | 0xE0020..=0xE007F
        | 0xFFFE | 0xFFFF
    )
}

/// Whether a YAML 1.1 parser (go-yaml, PyYAML) ends a line at `c`.
pub fn is_yaml11_line_break(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// `U+2028 LINE SEPARATOR`: the code point and, for the characters people meet, the name.
pub fn char_name(c: char) -> String {
    let name = match u32::from(c) {
        0x00 => "NULL",
        0x09 => "CHARACTER TABULATION (tab)",
        0x0A => "LINE FEED (newline)",
        0x0B => "LINE TABULATION",
        0x0C => "FORM FEED",
        0x0D => "CARRIAGE RETURN",
        0x1B => "ESCAPE",
        0x7F => "DELETE",
        0x85 => "NEXT LINE",
        0xA0 => "NO-BREAK SPACE",
        0xAD => "SOFT HYPHEN",
        0x61C => "ARABIC LETTER MARK",
        0x180E => "MONGOLIAN VOWEL SEPARATOR",
        0x200B => "ZERO WIDTH SPACE",
        0x200C => "ZERO WIDTH NON-JOINER",
        0x200D => "ZERO WIDTH JOINER",
        0x200E => "LEFT-TO-RIGHT MARK",
        0x200F => "RIGHT-TO-LEFT MARK",
        0x2028 => "LINE SEPARATOR",
        0x2029 => "PARAGRAPH SEPARATOR",
        0x202A => "LEFT-TO-RIGHT EMBEDDING",
        0x202B => "RIGHT-TO-LEFT EMBEDDING",
        0x202C => "POP DIRECTIONAL FORMATTING",
        0x202D => "LEFT-TO-RIGHT OVERRIDE",
        0x202E => "RIGHT-TO-LEFT OVERRIDE",
        0x2060 => "WORD JOINER",
        0x2061 => "FUNCTION APPLICATION",
        0x2062 => "INVISIBLE TIMES",
        0x2063 => "INVISIBLE SEPARATOR",
        0x2064 => "INVISIBLE PLUS",
        0x2066 => "LEFT-TO-RIGHT ISOLATE",
        0x2067 => "RIGHT-TO-LEFT ISOLATE",
        0x2068 => "FIRST STRONG ISOLATE",
        0x2069 => "POP DIRECTIONAL ISOLATE",
        0xFEFF => "ZERO WIDTH NO-BREAK SPACE (byte order mark)",
        0xFFF9 => "INTERLINEAR ANNOTATION ANCHOR",
        0xFFFA => "INTERLINEAR ANNOTATION SEPARATOR",
        0xFFFB => "INTERLINEAR ANNOTATION TERMINATOR",
        0xFFFE | 0xFFFF => "(a noncharacter)",
        0x00..=0x1F | 0x80..=0x9F => "(a control character)",
        _ if is_hidden(c) => "(an invisible format character)",
        _ => "",
    };
    let code = format!("U+{:04X}", u32::from(c));
    if name.is_empty() {
        code
    } else {
        format!("{code} {name}")
    }
}

/// The first hidden character of `s` (see [`is_hidden`]) and its position, counted in
/// characters from 1 so a user can find it.
pub fn first_hidden(s: &str) -> Option<(usize, char)> {
    s.chars()
        .enumerate()
        .find(|(_, c)| is_hidden(*c))
        .map(|(i, c)| (i + 1, c))
}

/// Why `s` may not be a value of `homelab.yaml`, if it holds a hidden character.
pub fn check_visible(s: &str) -> Result<(), String> {
    let Some((position, c)) = first_hidden(s) else {
        return Ok(());
    };
    let what = if is_yaml11_line_break(c) {
        "a line break, which no value may hold (kustomize and Flux end a line there)"
    } else if c == '\t' || c.is_control() {
        "a control character, which no value may hold"
    } else {
        "an invisible character: it does not show in editors or diffs, so no value may hold it"
    };
    Err(format!(
        "{} contains {} at character {position}, {what}; retype the value without it (a copy and paste often brings it along)",
        Shown(s),
        char_name(c),
    ))
}

/// Replace every hidden character of `text` with a `\uXXXX` escape (`\UXXXXXXXX` beyond
/// the Basic Multilingual Plane), except the `keep` characters. Inside a YAML
/// double-quoted scalar (which JSON strings are) the escape stands for the character
/// itself; elsewhere it is visible text that cannot end a line.
pub fn escape_hidden(text: &str, keep: &[char]) -> String {
    if !text.chars().any(|c| is_hidden(c) && !keep.contains(&c)) {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if is_hidden(c) && !keep.contains(&c) {
            let code = u32::from(c);
            if code > 0xFFFF {
                out.push_str(&format!("\\U{code:08X}"));
            } else {
                out.push_str(&format!("\\u{code:04X}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// How many characters of a value a message shows.
pub const SHOWN_CHARS: usize = 80;

/// A value as a message shows it: quoted and escaped like `{:?}`, and cut after
/// [`SHOWN_CHARS`] characters with its size, so a 50 MB value is not echoed back.
#[derive(Debug, Clone, Copy)]
pub struct Shown<'a>(pub &'a str);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.char_indices().nth(SHOWN_CHARS) {
            None => write!(f, "{:?}", self.0),
            Some((cut, _)) => write!(f, "{:?}… ({} bytes)", &self.0[..cut], self.0.len()),
        }
    }
}

/// Like [`Shown`] but without quotes for values that are plain words (addresses, CIDRs),
/// still escaped and bounded.
#[derive(Debug, Clone, Copy)]
pub struct Bare<'a>(pub &'a str);

impl fmt::Display for Bare<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plain = self.0.len() <= SHOWN_CHARS
            && self
                .0
                .chars()
                .all(|c| c.is_ascii_graphic() && c != '"' && c != '\\');
        if plain {
            f.write_str(self.0)
        } else {
            write!(f, "{}", Shown(self.0))
        }
    }
}

/// The first `max` of `items` joined with `sep`, then how many were left out
/// (`a, b and 3 more`): long lists in messages stay readable.
pub fn shortlist<S: AsRef<str>>(items: &[S], max: usize, sep: &str) -> String {
    let shown: Vec<&str> = items.iter().take(max).map(AsRef::as_ref).collect();
    let mut out = shown.join(sep);
    if items.len() > shown.len() {
        out.push_str(&format!(" and {} more", items.len() - shown.len()));
    }
    out
}

/// `s` as a YAML double-quoted scalar with every hidden character escaped: whatever `s`
/// holds, the text is one line and shows everything it stands for. The one YAML escaping,
/// for templates and for edits of `homelab.yaml` alike.
pub fn double_quoted(s: &str) -> String {
    // A JSON string is a YAML double-quoted scalar; the hidden characters JSON leaves raw
    // are escaped as YAML reads them.
    escape_hidden(&serde_json::to_string(s).expect("a string serializes"), &[])
}

/// Whether `s` can be written without quotes and still read back as the same string by
/// YAML 1.1 and 1.2 parsers alike: a letter first (numbers, `.inf`, `~` and indicators
/// start otherwise), then only letters, digits and `-_./` (no `: `, `#`, quotes, braces,
/// spaces or escapes), and not one of YAML 1.1's boolean or null words.
pub fn plain_scalar(s: &str) -> bool {
    const WORDS: &[&str] = &["y", "n", "yes", "no", "on", "off", "true", "false", "null"];
    s.starts_with(|c: char| c.is_ascii_alphabetic())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
        && !WORDS.contains(&s.to_ascii_lowercase().as_str())
}

/// A DNS name: dot-separated labels of letters, digits and inner hyphens, 253 chars at most.
pub fn is_dns_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortlists_say_how_many_were_left_out() {
        assert_eq!(shortlist(&["a", "b"], 5, ", "), "a, b");
        assert_eq!(shortlist(&["a", "b", "c"], 2, ", "), "a, b and 1 more");
    }

    #[test]
    fn line_breaks_and_invisible_characters_are_hidden() {
        for c in [
            '\u{85}',
            '\u{2028}',
            '\u{2029}',
            '\u{200B}',
            '\u{202E}',
            '\u{2066}',
            '\u{FEFF}',
            '\u{AD}',
            '\u{E0041}',
            '\n',
            '\t',
            '\u{7F}',
        ] {
            assert!(is_hidden(c), "{}", char_name(c));
        }
        for c in ['a', ' ', 'é', '€', '\u{A0}', '日', '😀'] {
            assert!(!is_hidden(c), "{}", char_name(c));
        }
    }

    #[test]
    fn names_say_the_code_point_and_the_name() {
        assert_eq!(char_name('\u{2028}'), "U+2028 LINE SEPARATOR");
        assert_eq!(char_name('\u{85}'), "U+0085 NEXT LINE");
        assert_eq!(
            char_name('\u{E0041}'),
            "U+E0041 (an invisible format character)"
        );
    }

    #[test]
    fn the_refusal_names_the_character_and_its_position() {
        let err = check_visible("/srv\u{2028}x").unwrap_err();
        assert!(
            err.contains("U+2028 LINE SEPARATOR at character 5"),
            "{err}"
        );
        assert!(err.contains("retype"), "{err}");
        assert!(check_visible("/srv/nfs é").is_ok());
    }

    #[test]
    fn escapes_keep_what_is_asked_and_use_long_form_beyond_the_bmp() {
        assert_eq!(
            escape_hidden("a\u{2028}b\n\u{E0041}", &['\n']),
            "a\\u2028b\n\\U000E0041"
        );
        assert_eq!(escape_hidden("plain", &[]), "plain");
    }

    #[test]
    fn long_values_are_cut_with_their_size() {
        let long = "x".repeat(1000);
        let shown = Shown(&long).to_string();
        assert!(shown.len() < 100, "{shown}");
        assert!(shown.ends_with("… (1000 bytes)"), "{shown}");
        assert_eq!(Shown("a\u{2028}").to_string(), "\"a\\u{2028}\"");
        assert_eq!(Bare("10.0.0.0/8").to_string(), "10.0.0.0/8");
        assert_eq!(Bare("a b").to_string(), "\"a b\"");
    }

    #[test]
    fn plain_scalars_are_only_words_no_parser_reads_differently() {
        for ok in ["nextcloud", "a.b/c-d_e", "Europe/Berlin", "v1"] {
            assert!(plain_scalar(ok), "{ok}");
        }
        for bad in [
            "", "yes", "No", "ON", "y", "null", "1e3", "0x1", "~", ".inf", "a b", "a: b", "a#b",
            "-a", "20Gi",
        ] {
            assert!(!plain_scalar(bad), "{bad}");
        }
    }
}
