//! Where the comments of a moved setting go, and the shape of the text around them.
//!
//! toml_edit keeps every comment in the decor of a key, a value or a table header: the
//! lines above a key or header are its prefix, the comment after a value or header on the
//! same line its suffix. A moved setting takes along the comments inside it, on its line
//! and the block of comment lines directly above it (no blank line between); comments
//! further up stay in config.toml, before whatever now follows.

use toml_edit::Decor;
use toml_edit::DocumentMut;
use toml_edit::Item;
use toml_edit::Key;
use toml_edit::RawString;
use toml_edit::Table;
use toml_edit::Value;

/// The text of a prefix or suffix ("" when unset).
pub(super) fn raw(raw: Option<&RawString>) -> &str {
    raw.and_then(RawString::as_str).unwrap_or("")
}

/// The comment lines of a decor text, trimmed, each ending in "\n".
pub(super) fn comment_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|line| line.starts_with('#'))
        .map(|line| format!("{line}\n"))
        .collect()
}

/// Splits the prefix of a moved key or header into what stays in config.toml (raw text,
/// "" when it holds no comment) and the comment lines directly above it, which move.
pub(super) fn split_prefix(prefix: &str) -> (String, Vec<String>) {
    // The last piece without a newline is the key's own indentation.
    let lines: Vec<&str> = prefix
        .split_inclusive('\n')
        .filter(|line| line.ends_with('\n'))
        .collect();
    let attached = lines
        .iter()
        .rev()
        .take_while(|line| line.trim().starts_with('#'))
        .count();
    let (stays, moves) = lines.split_at(lines.len() - attached);
    let stays = stays.concat();
    let stays = if stays.contains('#') {
        stays
    } else {
        String::new()
    };
    (
        stays,
        moves.iter().flat_map(|line| comment_lines(line)).collect(),
    )
}

/// The comments of a removed entry itself (not of its children): what stays in
/// config.toml and the lines that go above the first setting moved out of it. `whole`:
/// the entry moves as one value, which keeps the comment on its line.
pub(super) fn entry_comments(
    key: Option<&Key>,
    item: &mut Item,
    whole: bool,
) -> (String, Vec<String>) {
    match item {
        Item::Table(table) if table.is_dotted() => (detach_dotted(table), Vec::new()),
        Item::Table(table) => {
            let (stays, mut moves) = split_prefix(raw(table.decor().prefix()));
            moves.extend(comment_lines(raw(table.decor().suffix())));
            table.decor_mut().clear();
            (stays, moves)
        }
        Item::Value(value) => {
            let (stays, mut moves) =
                split_prefix(key.map_or("", |key| raw(key.leaf_decor().prefix())));
            if !whole {
                moves.extend(comment_lines(raw(value.decor().suffix())));
                if let Value::InlineTable(table) = value {
                    moves.extend(comment_lines(table.trailing().as_str().unwrap_or("")));
                }
            }
            (stays, moves)
        }
        Item::None | Item::ArrayOfTables(_) => (String::new(), Vec::new()),
    }
}

/// Dotted keys (`litellm.model = ...`) are lines of the table they stand in: from each
/// one's prefix, what is not directly above it stays there.
fn detach_dotted(table: &mut Table) -> String {
    let mut stays = String::new();
    for (mut key, item) in table.iter_mut() {
        match item {
            Item::Value(_) => {
                let (kept, moves) = split_prefix(raw(key.leaf_decor().prefix()));
                stays.push_str(&kept);
                key.leaf_decor_mut().set_prefix(moves.concat());
            }
            Item::Table(child) if child.is_dotted() => stays.push_str(&detach_dotted(child)),
            _ => {}
        }
    }
    stays
}

/// `value` as written in litellm.toml under `name`: `above` and the source key's comments
/// on the lines above it, its own trailing comment on its line.
pub(super) fn moved_value(
    name: &str,
    source_key: Option<&Key>,
    value: &Value,
    above: Vec<String>,
) -> (Key, Value) {
    let mut lines = above;
    if let Some(source) = source_key {
        lines.extend(comment_lines(raw(source.leaf_decor().prefix())));
    }
    let mut value = value.clone();
    let suffix = raw(value.decor().suffix()).to_string();
    let trailing = if suffix.contains('#') && !suffix.contains('\n') {
        suffix
    } else {
        lines.extend(comment_lines(&suffix));
        String::new()
    };
    value.decor_mut().set_prefix(" ");
    value.decor_mut().set_suffix(trailing);
    let mut key = Key::new(name);
    key.leaf_decor_mut().set_prefix(lines.concat());
    key.leaf_decor_mut().set_suffix(" ");
    (key, value)
}

/// A copy of `table` for litellm.toml: rebuilt, so it is written in litellm.toml's order
/// instead of at its old position, with every comment in it kept.
pub(super) fn moved_table(table: &Table, above: Vec<String>) -> Table {
    let mut new = Table::new();
    new.set_implicit(table.is_implicit() && table.iter().all(|(_, i)| i.is_table()));
    let mut lines = above;
    lines.extend(comment_lines(raw(table.decor().prefix())));
    prepend_comments(new.decor_mut(), &lines);
    let suffix = raw(table.decor().suffix());
    if suffix.contains('#') && !suffix.contains('\n') {
        new.decor_mut().set_suffix(suffix.to_string());
    }
    for (name, child) in table.iter() {
        let key = table.key(name);
        match child {
            Item::Value(value) => {
                let (key, value) = moved_value(name, key, value, Vec::new());
                new.insert_formatted(&key, Item::Value(value));
            }
            Item::Table(child) => {
                // A dotted key's comments are on its leaf key: the table header gets them.
                let lines = key.map_or_else(Vec::new, |key| {
                    comment_lines(raw(key.leaf_decor().prefix()))
                });
                new.insert(name, Item::Table(moved_table(child, lines)));
            }
            other => {
                new.insert(name, other.clone());
            }
        }
    }
    new
}

/// Puts comment `lines` above a table header in litellm.toml, after a blank line, unless
/// they are already there (a move finished after an interruption).
pub(super) fn prepend_comments(decor: &mut Decor, lines: &[String]) {
    let existing = raw(decor.prefix()).to_string();
    if lines.is_empty() || existing.contains(&lines.concat()) {
        return;
    }
    let rest = existing.trim_start_matches(['\r', '\n']);
    decor.set_prefix(format!("\n{}{rest}", lines.concat()));
}

/// Puts the comments that stay in config.toml (`text`) before what follows the removed
/// entry: the next key of `table` at `index`, else the next table header after
/// `position`, else the end of the file.
pub(super) fn keep_in_config(
    document: &mut DocumentMut,
    table_path: &[&str],
    index: usize,
    position: Option<isize>,
    text: &str,
) {
    if text.is_empty() {
        return;
    }
    if let Some(table) = table_at(document, table_path)
        && let Some((mut key, Item::Value(_))) = table.iter_mut().nth(index)
    {
        let existing = raw(key.leaf_decor().prefix()).to_string();
        key.leaf_decor_mut().set_prefix(joined(text, &existing));
        return;
    }
    keep_before_next_table(document, position, text);
}

pub(super) fn table_at<'a, S: AsRef<str>>(
    document: &'a mut DocumentMut,
    path: &[S],
) -> Option<&'a mut Table> {
    let mut table = document.as_table_mut();
    for key in path {
        table = table.get_mut(key.as_ref())?.as_table_mut()?;
    }
    Some(table)
}

/// Comment `lines` at the end of `table`'s section: after its last value, or after its
/// header when it has none (toml_edit keeps no decor for the end of a table; a value's
/// or header's suffix is written as it is, up to the line break).
pub(super) fn append_to_end(table: &mut Table, lines: &[String]) {
    let text = format!("\n{}", lines.concat().trim_end_matches('\n'));
    let last_value = table
        .iter_mut()
        .filter_map(|(_, item)| item.as_value_mut())
        .last();
    let decor = match last_value {
        Some(value) => value.decor_mut(),
        None => table.decor_mut(),
    };
    let existing = raw(decor.suffix()).to_string();
    decor.set_suffix(format!("{existing}{text}"));
}

/// `text` above the first table header after `position` (None: the top-level keys), or
/// at the end of the file.
pub(super) fn keep_before_next_table(
    document: &mut DocumentMut,
    position: Option<isize>,
    text: &str,
) {
    if text.is_empty() {
        return;
    }
    let after = position.unwrap_or(isize::MIN);
    let mut best = isize::MAX;
    visit_tables(document.as_table_mut(), &mut |table: &mut Table| {
        if let Some(p) = table.position()
            && p > after
            && p < best
            && !table.is_implicit()
        {
            best = p;
        }
    });
    let mut placed = false;
    visit_tables(document.as_table_mut(), &mut |table: &mut Table| {
        if !placed && !table.is_implicit() && table.position() == Some(best) {
            let existing = raw(table.decor().prefix()).to_string();
            table.decor_mut().set_prefix(joined(text, &existing));
            placed = true;
        }
    });
    if !placed {
        let trailing = document.trailing().as_str().unwrap_or("").to_string();
        document.set_trailing(joined(text, &trailing));
    }
}

/// `text` then `existing`, with one blank line between where both bring one.
fn joined(text: &str, existing: &str) -> String {
    if !(existing.starts_with('\n') || existing.starts_with("\r\n")) {
        return format!("{text}{existing}");
    }
    let newline = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let text = text.trim_end_matches(['\r', '\n', ' ', '\t']);
    format!("{text}{newline}{existing}")
}

fn visit_tables(table: &mut Table, visit: &mut dyn FnMut(&mut Table)) {
    visit(table);
    for (_, child) in table.iter_mut() {
        if let Item::Table(child) = child {
            visit_tables(child, visit);
        }
    }
}

/// A file's byte-order mark, line endings and last newline, which toml_edit does not keep
/// (it writes "\n" after each key and drops the BOM).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct TextForm {
    bom: bool,
    crlf: bool,
    last_newline: bool,
}

impl TextForm {
    pub(super) fn of(text: &str) -> Self {
        let body = Self::body(text);
        let crlf = body.matches("\r\n").count();
        let lf = body.matches('\n').count() - crlf;
        Self {
            bom: body.len() != text.len(),
            crlf: crlf > lf,
            last_newline: body.is_empty() || body.ends_with('\n'),
        }
    }

    /// The form of a file written new next to one of form `like`: its line endings.
    pub(super) fn new_like(like: Self) -> Self {
        Self {
            bom: false,
            crlf: like.crlf,
            last_newline: true,
        }
    }

    pub(super) fn body(text: &str) -> &str {
        text.strip_prefix('\u{feff}').unwrap_or(text)
    }

    /// `text` (toml_edit's output) in this form.
    pub(super) fn apply(self, text: &str) -> String {
        let mut out = String::with_capacity(text.len() + text.len() / 16 + 3);
        if self.bom {
            out.push('\u{feff}');
        }
        let mut previous = None;
        for c in text.chars() {
            if self.crlf && c == '\n' && previous != Some('\r') {
                out.push('\r');
            }
            out.push(c);
            previous = Some(c);
        }
        if !self.last_newline {
            let trimmed = out
                .strip_suffix("\r\n")
                .or_else(|| out.strip_suffix('\n'))
                .map(str::len);
            if let Some(len) = trimmed {
                out.truncate(len);
            }
        }
        out
    }
}
