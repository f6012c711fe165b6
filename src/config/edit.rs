//! Editing `homelab.yaml` in place: every change homelab makes to the user's file touches
//! only the values that change, so comments, blank lines, key order and quoting survive.
//!
//! `homelab.yaml` is the user's file; rewriting it from the parsed model (as serializing
//! would) drops every comment. Instead, the current and the intended configuration are
//! compared as trees, and each difference is applied to the text at the place the YAML
//! parser says the value is: a scalar is replaced where it stands (in its quoting style when
//! the new value allows it), a key is added at the end of its mapping or deleted with its
//! comment lines, a list is edited item by item. The result is parsed again with the one
//! loader ([`super::validate::parse_with`], given every rule) and must equal the intended
//! configuration exactly; otherwise nothing is written.

use std::ops::Range;

use granit_parser::{Event, Parser, ScalarStyle, StructureStyle};

use super::validate::Rules;
use super::{App, Config};
use crate::error::{Error, Result};
use crate::text::{double_quoted, plain_scalar};

/// `text` (the current `homelab.yaml`, which parses to `current`) changed so that it parses
/// to `intended`, differing from `text` only where the values differ. Errors name what is
/// wrong: the intended configuration's problems under the model's rules and `rules` (exit 2),
/// or a layout the edit cannot handle (exit 1); either way nothing is to be written.
pub fn edited(text: &str, current: &Config, intended: &Config, rules: Rules<'_>) -> Result<String> {
    if current == intended {
        return Ok(text.to_owned());
    }
    let out = edit_text(text, current, intended).map_err(unsupported)?;
    verify(&out, intended, rules)?;
    Ok(out)
}

/// `text` (the current `homelab.yaml`, which parses to `current`) with `app` appended to
/// `apps:`.
pub fn with_app_added(text: &str, current: &Config, app: &App, rules: Rules<'_>) -> Result<String> {
    let mut intended = current.clone();
    intended.apps.push(app.clone());
    edited(text, current, &intended, rules)
}

/// `text` (the current `homelab.yaml`, which parses to `current`) without the `apps:` entry
/// named `name`.
pub fn with_app_removed(
    text: &str,
    current: &Config,
    name: &str,
    rules: Rules<'_>,
) -> Result<String> {
    if !current.apps.iter().any(|a| a.name == name) {
        return Err(unsupported(format!("apps: has no entry named {name:?}")));
    }
    let mut intended = current.clone();
    intended.apps.retain(|a| a.name != name);
    edited(text, current, &intended, rules)
}

fn unsupported(why: String) -> Error {
    Error::failed(format!("cannot edit homelab.yaml in place: {why}")).with_hint(
        "make the change in homelab.yaml by hand (see docs/configuration.md), then run `homelab render`; nothing was changed",
    )
}

/// The edited text must parse, pass every rule, and mean exactly the intended configuration.
fn verify(edited: &str, intended: &Config, rules: Rules<'_>) -> Result<()> {
    match super::validate::parse_with(edited, rules) {
        Ok(cfg) if cfg == *intended => Ok(()),
        Ok(_) => Err(unsupported(
            "the edited file does not read back as intended (anchors, aliases or merge keys?)"
                .to_owned(),
        )),
        Err(diagnostics) => {
            let lines: Vec<String> = diagnostics.iter().map(ToString::to_string).collect();
            Err(Error::usage(format!(
                "the change would make homelab.yaml invalid:\n{}",
                lines.join("\n")
            ))
            .with_hint("choose other values (see the keys above); nothing was changed"))
        }
    }
}

type Why = String;
type Res<T> = std::result::Result<T, Why>;

/// A YAML node with its byte range in the source.
#[derive(Debug)]
struct Node {
    kind: Kind,
    /// Where the node starts (a block sequence: at its first `-`; a flow collection: at its
    /// bracket; an empty scalar: where the value would be, with `end == start`).
    start: usize,
    /// Where its last character ends.
    end: usize,
    flow: bool,
    /// How a scalar is written. In a tree read from JSON (the model), plain means a number
    /// or a boolean, quoted a string.
    style: ScalarStyle,
}

#[derive(Debug)]
enum Kind {
    Scalar(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

impl Node {
    fn get(&self, key: &str) -> Option<(&Node, &Node)> {
        match &self.kind {
            Kind::Map(pairs) => pairs
                .iter()
                .find(|(k, _)| k.text() == Some(key))
                .map(|(k, v)| (k, v)),
            _ => None,
        }
    }

    fn text(&self) -> Option<&str> {
        match &self.kind {
            Kind::Scalar(s) => Some(s),
            _ => None,
        }
    }

    /// An empty collection (`[]`, `{}`, a block list emptied) or an empty value (`key:`).
    fn is_empty(&self) -> bool {
        match &self.kind {
            Kind::Scalar(_) => self.start == self.end,
            Kind::Seq(items) => items.is_empty(),
            Kind::Map(pairs) => pairs.is_empty(),
        }
    }

    /// No value at all (`key:` and nothing).
    fn is_missing(&self) -> bool {
        matches!(self.kind, Kind::Scalar(_)) && self.start == self.end
    }

    fn is_collection(&self) -> bool {
        !matches!(self.kind, Kind::Scalar(_))
    }
}

/// Whether two trees hold the same values, wherever they were read from.
fn same(a: &Node, b: &Node) -> bool {
    match (&a.kind, &b.kind) {
        (Kind::Scalar(x), Kind::Scalar(y)) => x == y,
        (Kind::Seq(x), Kind::Seq(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Kind::Map(x), Kind::Map(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((ka, va), (kb, vb))| same(ka, kb) && same(va, vb))
        }
        _ => false,
    }
}

type Events<'a> = std::iter::Peekable<std::vec::IntoIter<(Event<'a>, Range<usize>)>>;

/// The document's root node.
fn parse(text: &str) -> Res<Node> {
    let mut events = Vec::new();
    for item in Parser::new_from_str(text) {
        let (event, span) = item.map_err(|e| format!("it is not valid YAML ({e})"))?;
        let range = span
            .byte_range()
            .ok_or_else(|| "the parser gave no byte positions".to_owned())?;
        match event {
            Event::Scalar(..)
            | Event::SequenceStart(..)
            | Event::SequenceEnd
            | Event::MappingStart(..)
            | Event::MappingEnd
            | Event::Alias(..) => events.push((event, range)),
            _ => {}
        }
    }
    let mut events: Events<'_> = events.into_iter().peekable();
    node(&mut events)
}

/// The model as a tree, keys in the order of the file format (JSON keeps the fields'
/// order, and JSON is YAML).
fn model(cfg: &Config) -> Res<Node> {
    parse(&serde_json::to_string(cfg).map_err(|e| e.to_string())?)
}

fn node(events: &mut Events<'_>) -> Res<Node> {
    let (event, range) = events.next().ok_or("the document ended early")?;
    let collection = |kind, end, style| Node {
        kind,
        start: range.start,
        end,
        flow: style == StructureStyle::Flow,
        style: ScalarStyle::Plain,
    };
    match event {
        Event::Scalar(value, style, ..) => Ok(Node {
            kind: Kind::Scalar(value.into_owned()),
            start: range.start,
            end: range.end,
            flow: false,
            style,
        }),
        Event::SequenceStart(style, ..) => {
            let mut items = Vec::new();
            let mut end = range.end;
            loop {
                if let Some((Event::SequenceEnd, close)) = events.peek() {
                    if style == StructureStyle::Flow {
                        end = close.end;
                    }
                    events.next();
                    break;
                }
                let item = node(events)?;
                end = end.max(item.end);
                items.push(item);
            }
            Ok(collection(Kind::Seq(items), end, style))
        }
        Event::MappingStart(style, ..) => {
            let mut pairs = Vec::new();
            let mut end = range.end;
            loop {
                if let Some((Event::MappingEnd, close)) = events.peek() {
                    if style == StructureStyle::Flow {
                        end = close.end;
                    }
                    events.next();
                    break;
                }
                let key = node(events)?;
                let value = node(events)?;
                end = end.max(key.end).max(value.end);
                pairs.push((key, value));
            }
            Ok(collection(Kind::Map(pairs), end, style))
        }
        Event::Alias(..) => Err("it uses YAML aliases (*name)".to_owned()),
        _ => Err("unexpected YAML structure".to_owned()),
    }
}

/// The byte offset of the start of the line holding `pos`.
fn line_start(text: &str, pos: usize) -> usize {
    text[..pos].rfind('\n').map_or(0, |i| i + 1)
}

/// The byte offset just after the line break ending the line holding `pos` (or the end).
fn next_line(text: &str, pos: usize) -> usize {
    text[pos..].find('\n').map_or(text.len(), |i| pos + i + 1)
}

/// The column (in bytes) of `pos` on its line.
fn column(text: &str, pos: usize) -> usize {
    pos - line_start(text, pos)
}

fn pad(n: usize) -> String {
    " ".repeat(n)
}

/// Whether a string may stay plain where the user wrote it plain: it reads back as this
/// very string (not a number, boolean or null, no indicator, no comment), in block and
/// flow context alike. Addresses, paths and URLs qualify; anything doubtful is quoted.
fn plain_keeps(s: &str) -> bool {
    if plain_scalar(s) {
        return true;
    }
    const WORDS: &[&str] = &["y", "n", "yes", "no", "on", "off"];
    let safe_chars = !s.is_empty()
        && s.trim() == s
        && !s.starts_with(|c: char| "-?:,[]{}#&*!|>'\"%@`".contains(c))
        && !s
            .chars()
            .any(|c| crate::text::is_hidden(c) || ",[]{}".contains(c))
        && !s.contains(": ")
        && !s.contains(" #")
        && !s.ends_with(':')
        && !WORDS.contains(&s.to_ascii_lowercase().as_str());
    safe_chars
        && serde_saphyr::from_str::<serde_json::Value>(&format!("k: {s}\n"))
            .is_ok_and(|doc| doc["k"].as_str() == Some(s))
}

/// `value` of the model written as a scalar: numbers and booleans as they are, strings
/// plain when they read back as themselves, else through the one YAML escaping
/// ([`double_quoted`]).
fn model_scalar(value: &Node) -> String {
    let text = value.text().unwrap_or_default();
    if value.style == ScalarStyle::Plain || plain_keeps(text) {
        text.to_owned()
    } else {
        double_quoted(text)
    }
}

/// A string replacing `old` (a scalar of the file), in `old`'s quoting style when the new
/// value can be written that way.
fn replacement_scalar(old: &Node, new: &Node) -> String {
    let value = new.text().unwrap_or_default();
    if new.style == ScalarStyle::Plain {
        return value.to_owned();
    }
    match old.style {
        ScalarStyle::SingleQuoted if !value.chars().any(crate::text::is_hidden) => {
            format!("'{}'", value.replace('\'', "''"))
        }
        ScalarStyle::DoubleQuoted => double_quoted(value),
        _ => model_scalar(new),
    }
}

/// A model value on one line: a scalar, `[]`, `{}` or a flow collection.
fn inline(value: &Node) -> String {
    match &value.kind {
        Kind::Scalar(_) => model_scalar(value),
        Kind::Seq(items) => {
            let items: Vec<String> = items.iter().map(inline).collect();
            format!("[{}]", items.join(", "))
        }
        Kind::Map(pairs) => {
            let pairs: Vec<String> = pairs
                .iter()
                .map(|(k, v)| format!("{}: {}", model_scalar(k), inline(v)))
                .collect();
            format!("{{{}}}", pairs.join(", "))
        }
    }
}

/// Whether a model value is written below its key (a non-empty collection).
fn is_block(value: &Node) -> bool {
    value.is_collection() && !value.is_empty()
}

/// `key: value` as block lines at column `indent`.
fn block_pair(key: &Node, value: &Node, indent: usize) -> String {
    let key = model_scalar(key);
    if is_block(value) {
        format!("{}{key}:\n{}", pad(indent), block(value, indent + 2))
    } else {
        format!("{}{key}: {}\n", pad(indent), inline(value))
    }
}

/// A non-empty collection as block lines: a mapping's keys at column `indent`, a
/// sequence's dashes there.
fn block(value: &Node, indent: usize) -> String {
    match &value.kind {
        Kind::Map(pairs) => pairs
            .iter()
            .map(|(k, v)| block_pair(k, v, indent))
            .collect(),
        Kind::Seq(items) => items
            .iter()
            .map(|item| block_item(item, indent, indent + 2))
            .collect(),
        Kind::Scalar(_) => format!("{}{}\n", pad(indent), inline(value)),
    }
}

/// A sequence item as block lines: `-` at column `dash`, its content at column `content`.
fn block_item(item: &Node, dash: usize, content: usize) -> String {
    let content = content.max(dash + 2);
    if is_block(item) {
        let lines = block(item, content);
        format!(
            "{}-{}{}",
            pad(dash),
            pad(content - dash - 1),
            &lines[content..]
        )
    } else {
        format!("{}- {}\n", pad(dash), inline(item))
    }
}

/// Where a value sits: the key it belongs to (in a block or flow mapping), or an item of a
/// sequence.
#[derive(Clone, Copy)]
enum Parent<'t> {
    Key { key: &'t Node, flow: bool },
    Item,
}

/// The text edits that turn the current configuration into the intended one.
struct Editor<'t> {
    text: &'t str,
    /// Replacements of byte ranges, in the order they were planned (insertions at the same
    /// place stay in that order).
    edits: Vec<(usize, usize, String)>,
}

fn edit_text(text: &str, current: &Config, intended: &Config) -> Res<String> {
    let file = parse(text)?;
    let (cur, new) = (model(current)?, model(intended)?);
    let mut editor = Editor {
        text,
        edits: Vec::new(),
    };
    if !matches!(file.kind, Kind::Map(_)) {
        return Err("the file is not a mapping of keys".to_owned());
    }
    editor.map(&file, &cur, &new)?;
    editor.apply()
}

impl<'t> Editor<'t> {
    fn replace(&mut self, range: Range<usize>, with: String) {
        self.edits.push((range.start, range.end, with));
    }

    /// Insert `lines` at the start of the line after the one holding `pos`.
    fn insert_lines_after(&mut self, pos: usize, lines: String) {
        let at = next_line(self.text, pos);
        let lines = if at == self.text.len() && !self.text.ends_with('\n') {
            format!("\n{lines}")
        } else {
            lines
        };
        self.replace(at..at, lines);
    }

    fn apply(mut self) -> Res<String> {
        // An insertion before a deletion at the same place: both end up in the same spot.
        self.edits.sort_by_key(|(start, end, _)| (*start, *end));
        let mut out = String::with_capacity(self.text.len() + 256);
        let mut pos = 0;
        for (start, end, with) in &self.edits {
            if *start < pos {
                return Err("two changes overlap in the file's layout".to_owned());
            }
            out.push_str(&self.text[pos..*start]);
            out.push_str(with);
            pos = *end;
        }
        out.push_str(&self.text[pos..]);
        Ok(out)
    }

    /// The start of the first of the full-line comments right above the line holding
    /// `pos` that are indented at least as deep as `pos`: they belong to what is there.
    fn with_comments_above(&self, pos: usize) -> usize {
        let indent = column(self.text, pos);
        let mut start = line_start(self.text, pos);
        while start > 0 {
            let above = line_start(self.text, start - 1);
            let line = &self.text[above..start - 1];
            let trimmed = line.trim_start_matches(' ');
            if !trimmed.starts_with('#') || line.len() - trimmed.len() < indent {
                break;
            }
            start = above;
        }
        start
    }

    /// The position of the `:` after a block mapping key.
    fn colon(&self, key: &Node) -> Res<usize> {
        self.text[key.end..]
            .find(':')
            .map(|i| key.end + i)
            .ok_or_else(|| format!("the key {:?} has no ':'", key.text().unwrap_or_default()))
    }

    /// The `-` that introduces the block sequence item starting at `pos`.
    fn dash(&self, pos: usize) -> Res<usize> {
        let start = line_start(self.text, pos);
        self.text[start..pos]
            .rfind('-')
            .map(|i| start + i)
            .ok_or_else(|| "a list item is not introduced by '-' on its line".to_owned())
    }

    /// Replace the scalar `old` with `with`, keeping the column of a comment after it
    /// when there is room.
    fn replace_scalar(&mut self, old: &Node, with: String) {
        let rest = &self.text[old.end..next_line(self.text, old.end)];
        let spaces = rest.len() - rest.trim_start_matches(' ').len();
        if spaces > 0 && rest[spaces..].starts_with('#') {
            let old_width = self.text[old.start..old.end].chars().count();
            let new_width = with.chars().count();
            let keep = (spaces + old_width).saturating_sub(new_width).max(1);
            let with = format!("{with}{}", pad(keep));
            self.replace(old.start..old.end + spaces, with);
        } else {
            self.replace(old.start..old.end, with);
        }
    }

    /// Apply the differences between `cur` and `new` (model mappings) to the mapping
    /// `file` of the text.
    fn map(&mut self, file: &'t Node, cur: &Node, new: &Node) -> Res<()> {
        let (Kind::Map(pairs), Kind::Map(new_pairs)) = (&file.kind, &new.kind) else {
            return Err("a mapping of the file is not a mapping of the model".to_owned());
        };
        let mut removed = Vec::new();
        for (key, value) in pairs {
            let name = key.text().ok_or("a key is not a scalar")?;
            let before = cur.get(name).map(|(_, v)| v);
            match (before, new.get(name).map(|(_, v)| v)) {
                // A key the model does not write and never did (a default spelled out).
                (None, None) => {}
                (Some(_), None) => removed.push((key, value)),
                (Some(before), Some(after)) if same(before, after) => {}
                (before, Some(after)) => {
                    let parent = Parent::Key {
                        key,
                        flow: file.flow,
                    };
                    self.value(parent, value, before, after)?;
                }
            }
        }
        let added: Vec<&(Node, Node)> = new_pairs
            .iter()
            .filter(|(k, v)| {
                let name = k.text().unwrap_or_default();
                file.get(name).is_none() && !cur.get(name).is_some_and(|(_, c)| same(c, v))
            })
            .collect();
        if removed.is_empty() && added.is_empty() {
            return Ok(());
        }
        if file.flow {
            return self.flow_map(file, new, &removed, &added);
        }
        for (key, value) in &removed {
            let start = self.with_comments_above(key.start);
            self.replace(start..next_line(self.text, value.end), String::new());
        }
        if !added.is_empty() {
            let (first, _) = pairs.first().ok_or("a mapping is empty")?;
            let (_, last) = pairs.last().ok_or("a mapping is empty")?;
            let indent = column(self.text, first.start);
            let lines: String = added
                .iter()
                .map(|(k, v)| block_pair(k, v, indent))
                .collect();
            self.insert_lines_after(last.end, lines);
        }
        Ok(())
    }

    /// Keys added to or removed from a flow mapping `{a: 1, b: 2}`.
    fn flow_map(
        &mut self,
        file: &Node,
        new: &Node,
        removed: &[(&Node, &Node)],
        added: &[&(Node, Node)],
    ) -> Res<()> {
        let Kind::Map(pairs) = &file.kind else {
            unreachable!("a mapping")
        };
        match (removed, added) {
            ([], added) => {
                let (_, last) = pairs.last().ok_or("a mapping is empty")?;
                let with: String = added
                    .iter()
                    .map(|(k, v)| format!(", {}: {}", model_scalar(k), inline(v)))
                    .collect();
                self.replace(last.end..last.end, with);
            }
            ([(key, value)], []) => {
                let index = pairs
                    .iter()
                    .position(|(k, _)| k.start == key.start)
                    .expect("a pair of this mapping");
                let range = if index + 1 < pairs.len() {
                    key.start..pairs[index + 1].0.start
                } else if index > 0 {
                    pairs[index - 1].1.end..value.end
                } else {
                    key.start..value.end
                };
                self.replace(range, String::new());
            }
            _ => self.replace(file.start..file.end, inline(new)),
        }
        Ok(())
    }

    /// Change the value `file` (under `parent`) from `cur` (None: the model did not write
    /// it) to `new`.
    fn value(
        &mut self,
        parent: Parent<'t>,
        file: &'t Node,
        cur: Option<&Node>,
        new: &Node,
    ) -> Res<()> {
        match (&file.kind, cur.map(|c| &c.kind), &new.kind) {
            (Kind::Map(_), Some(Kind::Map(_)), Kind::Map(_))
                if !file.is_empty() && !new.is_empty() =>
            {
                self.map(file, cur.expect("matched"), new)
            }
            (Kind::Seq(_), Some(Kind::Seq(_)), Kind::Seq(_))
                if !file.is_empty() && !new.is_empty() =>
            {
                self.seq(file, cur.expect("matched"), new)
            }
            (Kind::Scalar(_), _, Kind::Scalar(_))
                if !file.is_empty()
                    && matches!(
                        file.style,
                        ScalarStyle::Plain | ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted
                    ) =>
            {
                let with = replacement_scalar(file, new);
                self.replace_scalar(file, with);
                Ok(())
            }
            _ => self.set(parent, file, new),
        }
    }

    /// Write `new` in place of `file` as a whole.
    fn set(&mut self, parent: Parent<'t>, file: &Node, new: &Node) -> Res<()> {
        let key = match parent {
            Parent::Key { key, flow: false } => key,
            Parent::Key { flow: true, .. } | Parent::Item => {
                // In a flow collection or as a list item, any value fits on its line.
                if file.is_missing() {
                    self.replace(file.start..file.end, format!(" {}", inline(new)));
                } else {
                    self.replace(file.start..file.end, inline(new));
                }
                return Ok(());
            }
        };
        let colon = self.colon(key)?;
        let key_line_end = next_line(self.text, colon);
        // What follows the colon on the key's line: nothing, or a comment.
        let tail = &self.text[colon + 1..key_line_end];
        let comment = tail.trim_start_matches(' ').starts_with('#');
        let block_file = file.is_collection() && !file.flow && !file.is_empty();
        if !is_block(new) {
            let value = inline(new);
            if block_file {
                // `key:` and its lines below become `key: value`, a comment on the key's
                // line staying (three columns left, where the value takes them).
                let tail = if comment {
                    let spaces = tail.len() - tail.trim_start_matches(' ').len();
                    let keep = spaces.saturating_sub(value.len() + 1).max(1);
                    format!("{}{}", pad(keep), tail.trim_start_matches(' '))
                } else {
                    "\n".to_owned()
                };
                let end = next_line(self.text, file.end);
                self.replace(colon + 1..end, format!(" {value}{tail}"));
            } else if file.is_missing() {
                self.replace(colon + 1..colon + 1, format!(" {value}"));
            } else if matches!(file.style, ScalarStyle::Literal | ScalarStyle::Folded) {
                // A block scalar (`|`, `>`): its indicator and lines give way to one line.
                let end = if self.text[..file.end].ends_with('\n') {
                    file.end
                } else {
                    next_line(self.text, file.end)
                };
                self.replace(colon + 1..end, format!(" {value}\n"));
            } else {
                self.replace_scalar(file, value);
            }
            return Ok(());
        }
        let indent = column(self.text, key.start) + 2;
        if block_file {
            // A block value of another kind: the lines below the key are rewritten.
            let end = next_line(self.text, file.end);
            self.replace(key_line_end..end, block(new, indent));
            return Ok(());
        }
        // An inline value (`[]`, `~`, nothing) gives way to lines below the key; a comment on
        // the key's line keeps its column.
        if !file.is_missing() {
            let rest = &self.text[file.end..next_line(self.text, file.end)];
            if rest.trim_start_matches(' ').starts_with('#')
                && !self.text[file.start..file.end].contains('\n')
            {
                self.replace(file.start..file.end, pad(file.end - file.start));
            } else {
                let end = file.end + (rest.len() - rest.trim_start_matches(' ').len());
                let end = if rest.trim().is_empty() {
                    file.end
                } else {
                    end
                };
                self.replace(colon + 1..end, String::new());
            }
        }
        self.insert_lines_after(file.end.max(colon), block(new, indent));
        Ok(())
    }

    /// Apply the differences between the sequences `cur` and `new` to the sequence `file`,
    /// item by item: unchanged items stay, a changed item is edited, others are added or
    /// deleted with their comments.
    fn seq(&mut self, file: &'t Node, cur: &Node, new: &Node) -> Res<()> {
        let (Kind::Seq(items), Kind::Seq(before), Kind::Seq(after)) =
            (&file.kind, &cur.kind, &new.kind)
        else {
            unreachable!("sequences")
        };
        if items.len() != before.len() {
            return Err("a list of the file does not match the configuration".to_owned());
        }
        let steps = align(before, after);
        if file.flow {
            return self.flow_seq(file, cur, new, &steps);
        }
        let dash = column(self.text, self.dash(items[0].start)?);
        let content = column(self.text, items[0].start);
        let parent = Parent::Item;
        // Insertions go after the last item of the file kept so far, or before the first.
        let mut anchor: Option<usize> = None;
        for step in steps {
            match step {
                Step::Keep(i, _) => anchor = Some(i),
                Step::Change(i, j) => {
                    self.value(parent, &items[i], Some(&before[i]), &after[j])?;
                    anchor = Some(i);
                }
                Step::Delete(i) => {
                    let start = self.with_comments_above(self.dash(items[i].start)?);
                    self.replace(start..next_line(self.text, items[i].end), String::new());
                }
                Step::Insert(j) => {
                    let lines = block_item(&after[j], dash, content);
                    match anchor {
                        Some(i) => self.insert_lines_after(items[i].end, lines),
                        None => {
                            let at = self.with_comments_above(self.dash(items[0].start)?);
                            self.replace(at..at, lines);
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// A flow sequence `[a, b]`: appended items go after the last, one deleted item goes
    /// with its comma, anything else rewrites the list on its line.
    fn flow_seq(&mut self, file: &'t Node, cur: &Node, new: &Node, steps: &[Step]) -> Res<()> {
        let Kind::Seq(items) = &file.kind else {
            unreachable!("a sequence")
        };
        let deleted: Vec<usize> = steps
            .iter()
            .filter_map(|s| match s {
                Step::Delete(i) => Some(*i),
                _ => None,
            })
            .collect();
        let first_insert = steps.iter().position(|s| matches!(s, Step::Insert(_)));
        let appends_only = deleted.is_empty()
            && first_insert
                .is_none_or(|at| steps[at..].iter().all(|s| matches!(s, Step::Insert(_))));
        let Kind::Seq(after) = &new.kind else {
            unreachable!("a sequence")
        };
        if appends_only {
            for step in steps {
                if let Step::Change(i, j) = *step {
                    let before = match &cur.kind {
                        Kind::Seq(before) => before.get(i),
                        _ => None,
                    };
                    self.value(Parent::Item, &items[i], before, &after[j])?;
                }
            }
            let last = items.last().expect("not empty").end;
            let with: String = steps
                .iter()
                .filter_map(|s| match s {
                    Step::Insert(j) => Some(format!(", {}", inline(&after[*j]))),
                    _ => None,
                })
                .collect();
            self.replace(last..last, with);
        } else if let ([index], None) = (deleted.as_slice(), first_insert)
            && steps.iter().all(|s| !matches!(s, Step::Change(..)))
        {
            let index = *index;
            let range = if index + 1 < items.len() {
                items[index].start..items[index + 1].start
            } else if index > 0 {
                items[index - 1].end..items[index].end
            } else {
                items[index].start..items[index].end
            };
            self.replace(range, String::new());
        } else {
            self.replace(file.start..file.end, inline(new));
        }
        Ok(())
    }
}

/// One step from the current items of a list to the intended ones.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Step {
    /// Current item `i` stays as intended item `j`.
    Keep(usize, usize),
    /// Current item `i` becomes intended item `j` (edited where it stands).
    Change(usize, usize),
    Delete(usize),
    Insert(usize),
}

/// The steps from `before` to `after`: the longest run of unchanged items is kept; between
/// kept items, deleted and inserted items pair up as changes.
fn align(before: &[Node], after: &[Node]) -> Vec<Step> {
    let (n, m) = (before.len(), after.len());
    // lcs[i][j]: the longest common run of before[i..] and after[j..].
    let mut lcs = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if same(&before[i], &after[j]) {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut steps = Vec::new();
    let (mut i, mut j) = (0, 0);
    let (mut gap_deleted, mut gap_inserted) = (Vec::new(), Vec::new());
    while i < n || j < m {
        if i < n && j < m && same(&before[i], &after[j]) {
            pair_up(
                (before, after),
                &mut steps,
                &mut gap_deleted,
                &mut gap_inserted,
            );
            steps.push(Step::Keep(i, j));
            i += 1;
            j += 1;
        } else if j < m && (i == n || lcs[i][j + 1] >= lcs[i + 1][j]) {
            gap_inserted.push(j);
            j += 1;
        } else {
            gap_deleted.push(i);
            i += 1;
        }
    }
    pair_up(
        (before, after),
        &mut steps,
        &mut gap_deleted,
        &mut gap_inserted,
    );
    steps
}

/// The steps for a gap between kept items: deleted and inserted items pair up as changes,
/// those of the same name (an edited node or app) when that keeps their order, else in
/// order; the rest are deleted or inserted. Changes and insertions come in the intended
/// order, so each insertion lands after the item before it.
fn pair_up(
    (before, after): (&[Node], &[Node]),
    steps: &mut Vec<Step>,
    deleted: &mut Vec<usize>,
    inserted: &mut Vec<usize>,
) {
    let name = |item: &Node| {
        item.get("name")
            .and_then(|(_, v)| v.text().map(str::to_owned))
    };
    let positional = |deleted: &[usize], inserted: &[usize]| -> Vec<(usize, usize)> {
        deleted
            .iter()
            .copied()
            .zip(inserted.iter().copied())
            .collect()
    };
    let mut pairs: Vec<(usize, usize)> = Vec::new();
    let (mut rest_deleted, mut rest_inserted) = (deleted.clone(), inserted.clone());
    rest_deleted.retain(|&i| {
        let found = name(&before[i]).and_then(|n| {
            rest_inserted
                .iter()
                .position(|&j| name(&after[j]).as_deref() == Some(n.as_str()))
        });
        found.is_none_or(|k| {
            pairs.push((i, rest_inserted.remove(k)));
            false
        })
    });
    pairs.extend(positional(&rest_deleted, &rest_inserted));
    pairs.sort_unstable_by_key(|&(_, j)| j);
    if !pairs.windows(2).all(|w| w[0].0 < w[1].0) {
        // Pairs by name would cross: items are not moved, so pair in order instead.
        pairs = positional(deleted, inserted);
    }
    steps.extend(
        deleted
            .iter()
            .filter(|i| !pairs.iter().any(|(p, _)| p == *i))
            .map(|&i| Step::Delete(i)),
    );
    let mut ordered: Vec<Step> = pairs.iter().map(|&(i, j)| Step::Change(i, j)).collect();
    ordered.extend(
        inserted
            .iter()
            .filter(|j| !pairs.iter().any(|(_, p)| p == *j))
            .map(|&j| Step::Insert(j)),
    );
    ordered.sort_by_key(|step| match step {
        Step::Change(_, j) | Step::Insert(j) => *j,
        Step::Keep(..) | Step::Delete(_) => 0,
    });
    steps.extend(ordered);
    deleted.clear();
    inserted.clear();
}

#[cfg(test)]
mod tests;
