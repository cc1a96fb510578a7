//! One session for the dashboard: its turns with their requests, per-model totals, text
//! search over what is stored, and one request as stored. Sessions are found by name in the
//! folder listing, never by joining a path from the request.

use crate::index::RequestRow;
use crate::index::list_files;
use crate::index::read_lines;
use codex_litellm_debug_telemetry::ExchangeRecord;
use codex_litellm_debug_telemetry::reader::SessionFile;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::collections::VecDeque;
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Turn {
    pub turn_id: Option<String>,
    pub time: String,
    pub requests: Vec<RequestRow>,
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// Why the turn ended: its last request's diagnosis.
    pub diagnosis: String,
    pub outcome: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ModelTotals {
    pub model: String,
    pub requests: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub retries: u64,
    pub errors: u64,
    pub total_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionView {
    pub name: String,
    pub session_id: String,
    pub started: String,
    pub turns: Vec<Turn>,
    pub models: Vec<ModelTotals>,
    pub requests: usize,
    /// The earliest requests left out so a huge session stays small (`limit`); the totals
    /// above still count them.
    pub omitted: usize,
    /// Lines that did not parse (a torn line at the end is not counted: it is waited for).
    pub skipped: usize,
    /// With a search: the requests whose stored text contains it.
    pub matches: Option<Vec<usize>>,
}

/// Why a session or request could not be shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LookupError {
    NotFound(String),
    Unreadable(String),
}

impl LookupError {
    pub fn message(&self) -> &str {
        match self {
            LookupError::NotFound(m) | LookupError::Unreadable(m) => m,
        }
    }
}

/// The session file named `name` in `dir` (exactly a listed file name).
pub fn find(dir: &Path, name: &str) -> Result<SessionFile, LookupError> {
    let files = list_files(dir).map_err(LookupError::Unreadable)?;
    files
        .into_iter()
        .map(|(f, _)| f)
        .find(|f| f.file_name == name)
        .ok_or_else(|| LookupError::NotFound(format!("no session file named {name:?}")))
}

/// Each parsed record of `file` in order, with its 1-based number and its line.
fn each_record(
    file: &SessionFile,
    mut each: impl FnMut(usize, &ExchangeRecord, &[u8]),
) -> Result<usize, LookupError> {
    let size = std::fs::metadata(&file.path)
        .map_err(|e| LookupError::Unreadable(format!("cannot read {}: {e}", file.file_name)))?
        .len();
    let mut n = 0;
    let mut skipped = 0;
    read_lines(&file.path, 0, size, u64::MAX, |line, _| {
        if line.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        match serde_json::from_slice::<ExchangeRecord>(line) {
            Ok(record) => {
                n += 1;
                each(n, &record, line);
            }
            Err(_) => skipped += 1,
        }
    })
    .map_err(|e| LookupError::Unreadable(format!("cannot read {}: {e}", file.file_name)))?;
    Ok(skipped)
}

/// Case-insensitive search of the stored line (ASCII case folding; the text is JSON).
fn contains(line: &[u8], needle_lower: &[u8]) -> bool {
    needle_lower.is_empty()
        || line
            .windows(needle_lower.len())
            .any(|w| w.eq_ignore_ascii_case(needle_lower))
}

/// How many requests a session view holds at most by default (the latest ones).
pub const DEFAULT_LIMIT: usize = 2000;

pub fn view(
    dir: &Path,
    name: &str,
    search: Option<&str>,
    limit: usize,
) -> Result<SessionView, LookupError> {
    let file = find(dir, name)?;
    let needle = search
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.to_ascii_lowercase().into_bytes());
    let mut models: BTreeMap<String, ModelTotals> = BTreeMap::new();
    let mut matches = needle.as_ref().map(|_| Vec::new());
    let mut count = 0;
    // Only the latest `limit` rows are kept, so memory stays bounded on any file.
    let mut rows: VecDeque<RequestRow> = VecDeque::new();
    let skipped = each_record(&file, |n, record, line| {
        count = n;
        let row = RequestRow::from_record(n, record);
        if let (Some(needle), Some(matches)) = (&needle, matches.as_mut())
            && contains(line, needle)
        {
            matches.push(n);
        }
        let totals = models.entry(row.model.clone()).or_default();
        totals.model = row.model.clone();
        totals.requests += 1;
        totals.input_tokens += row.input_tokens.unwrap_or(0);
        totals.output_tokens += row.output_tokens.unwrap_or(0);
        totals.retries += u64::from(row.retries);
        totals.errors += u64::from(row.error);
        totals.total_ms += row.total_ms;
        rows.push_back(row);
        if rows.len() > limit.max(1) {
            rows.pop_front();
        }
    })?;
    let omitted = count - rows.len();
    if let Some(matches) = matches.as_mut() {
        matches.retain(|n| *n > omitted);
    }
    let mut turns: Vec<Turn> = Vec::new();
    for row in rows {
        // Requests of one turn are consecutive; a request without a turn id is its own turn.
        let same_turn = row.turn_id.is_some()
            && turns
                .last()
                .is_some_and(|t| t.turn_id.as_ref() == row.turn_id.as_ref());
        if !same_turn {
            turns.push(Turn {
                turn_id: row.turn_id.clone(),
                time: row.time.clone(),
                requests: Vec::new(),
                input_tokens: 0,
                output_tokens: 0,
                diagnosis: String::new(),
                outcome: String::new(),
            });
        }
        if let Some(turn) = turns.last_mut() {
            turn.input_tokens += row.input_tokens.unwrap_or(0);
            turn.output_tokens += row.output_tokens.unwrap_or(0);
            turn.diagnosis = row.diagnosis.clone();
            turn.outcome = row.outcome.clone();
            turn.requests.push(row);
        }
    }
    Ok(SessionView {
        name: file.file_name,
        session_id: file.session_id,
        started: file.started,
        turns,
        models: models.into_values().collect(),
        requests: count,
        omitted,
        skipped,
        matches,
    })
}

/// Request `n` (1-based) of session `name` exactly as stored.
pub fn request(dir: &Path, name: &str, n: usize) -> Result<Value, LookupError> {
    let file = find(dir, name)?;
    let mut found = None;
    each_record(&file, |i, _, line| {
        if i == n && found.is_none() {
            found = serde_json::from_slice::<Value>(line).ok();
        }
    })?;
    found.ok_or_else(|| LookupError::NotFound(format!("{} has no request {n}", file.file_name)))
}
