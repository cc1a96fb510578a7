//! The folder index behind `serve` and `watch`: which session files exist, a cheap row per
//! session from file metadata and the first and last lines, full counts filled in by a
//! streaming scan (never the whole file in memory), and the records appended since the last
//! look. Read-only: files are opened for reading and nothing else.

use codex_litellm_debug_telemetry::ExchangeRecord;
use codex_litellm_debug_telemetry::reader::SessionFile;
use codex_litellm_debug_telemetry::reader::session_files;
use serde::Serialize;
use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::collections::HashSet;
use std::fs::File;
use std::io::BufRead;
use std::io::BufReader;
use std::io::Read;
use std::io::Seek;
use std::io::SeekFrom;
use std::path::Path;
use std::path::PathBuf;
use std::time::SystemTime;
use std::time::UNIX_EPOCH;

/// A session written to in the last this-many seconds is shown as live.
pub const LIVE_SECS: u64 = 300;
/// The first or last line is not looked for past this many bytes (a `full` record can be
/// large; the row then waits for the scan).
const EDGE_LINE_CAP: u64 = 16 * 1024 * 1024;

/// One request as the dashboard and `watch` show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RequestRow {
    /// 1-based, as `telemetry show` numbers them (unparseable lines are not counted).
    pub n: usize,
    pub time: String,
    pub started_at_ms: u64,
    pub turn_id: Option<String>,
    pub model: String,
    pub provider: String,
    /// `completed`, `truncated`, `failed`, `cancelled`.
    pub outcome: String,
    pub http_status: Option<u16>,
    pub first_byte_ms: Option<u64>,
    pub total_ms: u64,
    pub input_tokens: Option<u64>,
    pub output_tokens: Option<u64>,
    pub attempts: usize,
    pub retries: u32,
    pub finish_reason: Option<String>,
    pub fault_kind: Option<String>,
    pub diagnosis: String,
    pub diagnosis_kind: String,
    pub error: bool,
}

impl RequestRow {
    pub fn from_record(n: usize, r: &ExchangeRecord) -> Self {
        let last = r.attempts.last();
        let fault_kind = r
            .outcome
            .fault
            .as_ref()
            .or_else(|| r.attempts.iter().rev().find_map(|a| a.fault.as_ref()))
            .map(|f| f.kind.clone());
        RequestRow {
            n,
            time: r.time.clone(),
            started_at_ms: r.started_at_ms,
            turn_id: r.turn_id.clone(),
            model: if r.model.is_empty() {
                "(unknown)".to_string()
            } else {
                r.model.clone()
            },
            provider: r.provider.clone(),
            outcome: r.outcome.status.clone(),
            http_status: r.last_status(),
            first_byte_ms: last.and_then(|a| a.first_byte_ms),
            total_ms: r.total_ms,
            input_tokens: r.usage.map(|u| u.input_tokens),
            output_tokens: r.usage.map(|u| u.output_tokens),
            attempts: r.attempts.len(),
            retries: r.retries,
            finish_reason: r.finish_reason.clone(),
            fault_kind,
            diagnosis: r.diagnosis.clone(),
            diagnosis_kind: r.diagnosis_kind.clone(),
            error: r.outcome.is_failed(),
        }
    }
}

/// Counts over a whole session file.
#[derive(Debug, Clone, Default, PartialEq)]
struct Stats {
    requests: usize,
    turns: HashSet<String>,
    input_tokens: u64,
    output_tokens: u64,
    retries: u64,
    errors: u64,
    models: BTreeSet<String>,
    skipped: usize,
}

impl Stats {
    fn add(&mut self, row: &RequestRow) {
        self.requests += 1;
        if let Some(turn) = &row.turn_id {
            if !self.turns.contains(turn) {
                self.turns.insert(turn.clone());
            }
        } else {
            // A request without a turn id is a turn of its own.
            self.turns.insert(format!("#{}", row.n));
        }
        self.input_tokens += row.input_tokens.unwrap_or(0);
        self.output_tokens += row.output_tokens.unwrap_or(0);
        self.retries += u64::from(row.retries);
        self.errors += u64::from(row.error);
        if !self.models.contains(&row.model) {
            self.models.insert(row.model.clone());
        }
    }
}

/// A session in the list.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionRow {
    /// The file name: the session's key in URLs.
    pub name: String,
    pub session_id: String,
    /// `YYYY-MM-DD HH:MM:SS` (UTC) from the file name.
    pub started: String,
    /// The first record's time.
    pub first_time: Option<String>,
    pub last_time: Option<String>,
    pub models: Vec<String>,
    pub provider: Option<String>,
    /// `live`, `ended` or `stopped`.
    pub state: String,
    /// Why the last request ended, when it did not complete.
    pub reason: Option<String>,
    pub size: u64,
    pub modified_ms: u64,
    /// True when the counts below cover the whole file.
    pub indexed: bool,
    pub requests: Option<usize>,
    pub turns: Option<usize>,
    pub input_tokens: Option<u64>,
    pub output_tokens: Option<u64>,
    pub retries: Option<u64>,
    pub errors: Option<u64>,
    pub skipped: Option<usize>,
}

/// What changed since the last [`Index::poll`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    Session(Box<SessionRow>),
    Request {
        session: String,
        request: Box<RequestRow>,
    },
    Removed {
        session: String,
    },
}

struct Entry {
    file: SessionFile,
    size: u64,
    modified_ms: u64,
    head: Option<RequestRow>,
    tail: Option<RequestRow>,
    scanned_to: u64,
    /// The file size when the scan last reached its end (a torn last line is not waited
    /// on here: it is read once it is complete).
    checked_size: u64,
    stats: Stats,
    /// Records ending at or below this offset were there when we first looked: not
    /// announced as new.
    quiet_below: u64,
    was_live: bool,
}

pub struct Index {
    dir: PathBuf,
    entries: BTreeMap<String, Entry>,
    polled: bool,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Regular `.jsonl` session files; symbolic links are left out so nothing outside the
/// folder is ever read through one.
pub fn list_files(dir: &Path) -> Result<Vec<(SessionFile, std::fs::Metadata)>, String> {
    Ok(session_files(dir)?
        .into_iter()
        .filter_map(|f| {
            let meta = std::fs::symlink_metadata(&f.path).ok()?;
            meta.file_type().is_file().then_some((f, meta))
        })
        .collect())
}

fn modified_ms(meta: &std::fs::Metadata) -> u64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_millis() as u64)
}

fn parse_row(n: usize, line: &[u8]) -> Option<RequestRow> {
    let record: ExchangeRecord = serde_json::from_slice(line).ok()?;
    Some(RequestRow::from_record(n, &record))
}

/// The first complete line of `path`.
fn first_line(path: &Path) -> Option<Vec<u8>> {
    let file = File::open(path).ok()?;
    let mut reader = BufReader::new(file).take(EDGE_LINE_CAP);
    let mut line = Vec::new();
    reader.read_until(b'\n', &mut line).ok()?;
    line.ends_with(b"\n").then_some(line)
}

/// The last complete (newline-terminated) line of the first `size` bytes of `path`; a torn
/// line after it is ignored. Reads backwards in chunks, each byte once.
fn last_line(path: &Path, size: u64) -> Option<Vec<u8>> {
    const CHUNK: u64 = 64 * 1024;
    let mut file = File::open(path).ok()?;
    // Chunks read so far, last first; `end` is the offset of the last newline.
    let mut chunks: Vec<(u64, Vec<u8>)> = Vec::new();
    let mut end: Option<u64> = None;
    let mut pos = size;
    let mut start_of_line = None;
    while pos > 0 && size - pos <= EDGE_LINE_CAP {
        let start = pos.saturating_sub(CHUNK);
        let mut chunk = vec![0; (pos - start) as usize];
        file.seek(SeekFrom::Start(start)).ok()?;
        file.read_exact(&mut chunk).ok()?;
        for (i, byte) in chunk.iter().enumerate().rev() {
            if *byte != b'\n' {
                continue;
            }
            let offset = start + i as u64;
            if end.is_none() {
                end = Some(offset);
            } else {
                start_of_line = Some(offset + 1);
                break;
            }
        }
        chunks.push((start, chunk));
        pos = start;
        if start_of_line.is_some() {
            break;
        }
    }
    let end = end?;
    let from = match start_of_line {
        Some(from) => from,
        None if pos == 0 => 0,
        None => return None,
    };
    let mut line = Vec::with_capacity((end + 1 - from) as usize);
    for (start, chunk) in chunks.iter().rev() {
        let chunk_end = start + chunk.len() as u64;
        let lo = from.max(*start);
        let hi = (end + 1).min(chunk_end);
        if lo < hi {
            line.extend_from_slice(&chunk[(lo - start) as usize..(hi - start) as usize]);
        }
    }
    Some(line)
}

/// Complete lines of `path` between `from` and `to` (a torn last line is left for later),
/// stopping after the line that crosses `from + budget`. Calls `each` with each line and the
/// offset just past it; returns the offset reached.
pub fn read_lines(
    path: &Path,
    from: u64,
    to: u64,
    budget: u64,
    mut each: impl FnMut(&[u8], u64),
) -> std::io::Result<u64> {
    let mut file = File::open(path)?;
    file.seek(SeekFrom::Start(from))?;
    let mut reader = BufReader::with_capacity(256 * 1024, file.take(to.saturating_sub(from)));
    let mut offset = from;
    let mut line = Vec::new();
    while offset - from < budget {
        line.clear();
        let n = reader.read_until(b'\n', &mut line)?;
        if n == 0 || !line.ends_with(b"\n") {
            break;
        }
        offset += n as u64;
        each(&line, offset);
    }
    Ok(offset)
}

impl Index {
    pub fn new(dir: PathBuf) -> Self {
        Index {
            dir,
            entries: BTreeMap::new(),
            polled: false,
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The sessions, newest first.
    pub fn rows(&self) -> Vec<SessionRow> {
        let now = now_ms();
        let mut rows: Vec<SessionRow> = self.entries.values().map(|e| e.row(now)).collect();
        rows.sort_by(|a, b| {
            (b.started.as_str(), b.modified_ms, &b.name).cmp(&(
                a.started.as_str(),
                a.modified_ms,
                &a.name,
            ))
        });
        rows
    }

    /// Looks at the folder again: new, grown and removed files, sessions that stopped being
    /// live. Grown files are read from where the last look stopped.
    pub fn poll(&mut self) -> Result<Vec<Change>, String> {
        // No folder yet (the dashboard opened before the first session): an empty list, and
        // whatever appears later is new, so its records are pushed live.
        if !self.dir.exists() {
            self.polled = true;
            return Ok(Vec::new());
        }
        let files = list_files(&self.dir)?;
        let now = now_ms();
        let first = !self.polled;
        self.polled = true;
        let mut changes = Vec::new();
        let seen: HashSet<String> = files.iter().map(|(f, _)| f.file_name.clone()).collect();
        let gone: Vec<String> = self
            .entries
            .keys()
            .filter(|k| !seen.contains(*k))
            .cloned()
            .collect();
        for name in gone {
            self.entries.remove(&name);
            changes.push(Change::Removed { session: name });
        }
        for (file, meta) in files {
            let size = meta.len();
            let modified = modified_ms(&meta);
            let name = file.file_name.clone();
            let entry = match self.entries.get_mut(&name) {
                Some(entry) => {
                    if entry.size == size && entry.modified_ms == modified {
                        let live = entry.is_live(now);
                        if live != entry.was_live {
                            entry.was_live = live;
                            changes.push(Change::Session(Box::new(entry.row(now))));
                        }
                        continue;
                    }
                    if size < entry.scanned_to {
                        // Rewritten from the start (not something the writer does).
                        entry.scanned_to = 0;
                        entry.checked_size = 0;
                        entry.stats = Stats::default();
                        entry.quiet_below = 0;
                    }
                    entry
                }
                None => self.entries.entry(name.clone()).or_insert(Entry {
                    file,
                    size: 0,
                    modified_ms: 0,
                    head: None,
                    tail: None,
                    scanned_to: 0,
                    checked_size: 0,
                    stats: Stats::default(),
                    quiet_below: if first { size } else { 0 },
                    was_live: false,
                }),
            };
            entry.size = size;
            entry.modified_ms = modified;
            if entry.head.is_none() {
                entry.head = first_line(&entry.file.path).and_then(|l| parse_row(1, &l));
            }
            entry.tail = last_line(&entry.file.path, size).and_then(|l| parse_row(0, &l));
            if !first {
                // A session being written: read what was added (all of it for a new file).
                entry.scan(u64::MAX, &mut changes);
            }
            entry.was_live = entry.is_live(now);
            changes.push(Change::Session(Box::new(entry.row(now))));
        }
        Ok(changes)
    }

    /// Counts some more of the not yet counted files, newest first, reading at most about
    /// `budget` bytes. Returns false when everything is counted.
    pub fn scan_some(&mut self, budget: u64) -> (bool, Vec<Change>) {
        let now = now_ms();
        let mut changes = Vec::new();
        let mut names: Vec<(&str, &str)> = self
            .entries
            .iter()
            .filter(|(_, e)| e.checked_size < e.size)
            .map(|(k, e)| (e.file.started.as_str(), k.as_str()))
            .collect();
        names.sort();
        let Some((_, name)) = names.last() else {
            return (false, changes);
        };
        let name = name.to_string();
        if let Some(entry) = self.entries.get_mut(&name) {
            entry.scan(budget, &mut changes);
            if entry.checked_size >= entry.size {
                changes.push(Change::Session(Box::new(entry.row(now))));
            }
        }
        (true, changes)
    }
}

impl Entry {
    fn is_live(&self, now: u64) -> bool {
        now.saturating_sub(self.modified_ms) < LIVE_SECS * 1000
    }

    /// Reads complete lines from `scanned_to` on, up to about `budget` bytes.
    fn scan(&mut self, budget: u64, changes: &mut Vec<Change>) {
        let quiet_below = self.quiet_below;
        let name = self.file.file_name.clone();
        let stats = &mut self.stats;
        let result = read_lines(
            &self.file.path,
            self.scanned_to,
            self.size,
            budget,
            |line, end| {
                if line.iter().all(u8::is_ascii_whitespace) {
                    return;
                }
                match parse_row(stats.requests + 1, line) {
                    Some(row) => {
                        stats.add(&row);
                        if end > quiet_below {
                            changes.push(Change::Request {
                                session: name.clone(),
                                request: Box::new(row),
                            });
                        }
                    }
                    None => stats.skipped += 1,
                }
            },
        );
        match result {
            Ok(reached) => {
                // Stopped short of the budget: at the end, or at a torn line still being
                // written (read once it is complete).
                if reached - self.scanned_to < budget {
                    self.checked_size = self.size;
                }
                self.scanned_to = reached;
            }
            // The file went away between listing and reading: the next poll drops it.
            Err(_) => {
                self.scanned_to = self.size;
                self.checked_size = self.size;
            }
        }
    }

    fn row(&self, now: u64) -> SessionRow {
        let indexed = self.checked_size >= self.size;
        let mut models: BTreeSet<String> = BTreeSet::new();
        if indexed {
            models.extend(self.stats.models.iter().cloned());
        } else {
            models.extend(self.head.iter().map(|r| r.model.clone()));
            models.extend(self.tail.iter().map(|r| r.model.clone()));
        }
        let last = self.tail.as_ref();
        let stopped = last.filter(|r| r.outcome != "completed");
        let state = if self.is_live(now) {
            "live"
        } else if stopped.is_some() {
            "stopped"
        } else {
            "ended"
        };
        let count = |v| indexed.then_some(v);
        SessionRow {
            name: self.file.file_name.clone(),
            session_id: self.file.session_id.clone(),
            started: self.file.started.clone(),
            first_time: self.head.as_ref().map(|r| r.time.clone()),
            last_time: last.map(|r| r.time.clone()),
            models: models.into_iter().collect(),
            provider: self
                .head
                .as_ref()
                .or(last)
                .map(|r| r.provider.clone())
                .filter(|p| !p.is_empty()),
            state: state.to_string(),
            reason: stopped.map(|r| r.diagnosis.clone()),
            size: self.size,
            modified_ms: self.modified_ms,
            indexed,
            requests: count(self.stats.requests as u64).map(|v| v as usize),
            turns: count(self.stats.turns.len() as u64).map(|v| v as usize),
            input_tokens: count(self.stats.input_tokens),
            output_tokens: count(self.stats.output_tokens),
            retries: count(self.stats.retries),
            errors: count(self.stats.errors),
            skipped: count(self.stats.skipped as u64).map(|v| v as usize),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn write(bytes: &[u8]) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("s.jsonl");
        std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("{e}"));
        (dir, path)
    }

    #[test]
    fn the_last_complete_line_is_found_across_chunks_and_a_torn_tail_is_ignored() {
        let long = format!("{{\"x\":\"{}\"}}\n", "a".repeat(200_000));
        let cases: Vec<(Vec<u8>, Option<Vec<u8>>)> = vec![
            (b"one\ntwo\n".to_vec(), Some(b"two\n".to_vec())),
            (b"one\ntwo\nthr".to_vec(), Some(b"two\n".to_vec())),
            (b"only\n".to_vec(), Some(b"only\n".to_vec())),
            (b"torn".to_vec(), None),
            (Vec::new(), None),
            (
                format!("first\n{long}torn").into_bytes(),
                Some(long.clone().into_bytes()),
            ),
            (
                format!("{long}{long}").into_bytes(),
                Some(long.into_bytes()),
            ),
        ];
        for (bytes, expected) in cases {
            let (_dir, path) = write(&bytes);
            let size = bytes.len() as u64;
            assert_eq!(last_line(&path, size), expected, "{} bytes", bytes.len());
        }
    }

    #[test]
    fn lines_are_read_only_when_complete_and_within_the_budget() {
        let (_dir, path) = write(b"a\nbb\nccc\ntorn");
        let mut seen = Vec::new();
        let reached = read_lines(&path, 0, 13, u64::MAX, |line, end| {
            seen.push((String::from_utf8_lossy(line).into_owned(), end));
        })
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(reached, 9);
        assert_eq!(
            seen,
            vec![
                ("a\n".to_string(), 2),
                ("bb\n".to_string(), 5),
                ("ccc\n".to_string(), 9)
            ]
        );
        // A budget stops after the line that crosses it.
        let reached = read_lines(&path, 0, 13, 3, |_, _| {}).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(reached, 5);
    }
}
