//! Reads the telemetry folder back: list sessions, show one session as a table, show one
//! exchange in full, summarize per model. Backs the `codex-litellm-telemetry` binary and
//! `codex-litellm telemetry ...` (both built by `codex-litellm-telemetry-serve`).

use crate::config::default_dir;
use crate::format::measured;
use crate::format::table;
use crate::format::tokens;
use crate::record::ExchangeRecord;
use crate::record::RECORD_VERSION;
use clap::CommandFactory;
use clap::Parser;
use clap::Subcommand;
use codex_litellm_model_session_telemetry::ModelStats;
use codex_litellm_model_session_telemetry::Tally;
use serde_json::Value;
use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::path::PathBuf;

/// Read codex-litellm's debug telemetry: one JSON line per bridged request, one file per
/// session.
#[derive(Debug, Parser)]
#[command(disable_version_flag = true)]
struct Cli {
    /// Telemetry folder [default: $CODEX_HOME/log/litellm, CODEX_HOME defaulting to ~/.codex]
    #[arg(long, value_name = "DIR", global = true, overrides_with = "dir")]
    dir: Option<PathBuf>,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List recorded sessions (the default).
    List,
    /// Show one session's exchanges as a table.
    Show {
        /// Session: id prefix, file name, or `last`.
        #[arg(default_value = "last")]
        session: String,
    },
    /// Show one exchange in full (pretty JSON).
    Exchange {
        /// Session: id prefix, file name, or `last`.
        session: String,
        /// Exchange number as shown by `show` (1 is the first), or `last`.
        n: String,
    },
    /// Per model: requests, turns, tokens, retries, failures grouped by diagnosis.
    Summary {
        /// Session: id prefix, file name, or `last` [default: last].
        #[arg(conflicts_with = "all")]
        session: Option<String>,
        /// Summarize every session in the folder.
        #[arg(long)]
        all: bool,
    },
}

/// A session file in the folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionFile {
    pub path: PathBuf,
    pub file_name: String,
    /// From the file name (`process-<pid>` for exchanges without a session id).
    pub session_id: String,
    /// `YYYY-MM-DD HH:MM:SS` (UTC) from the file name, empty when the name has no stamp.
    pub started: String,
}

/// A session file's records, in file order. Lines that do not parse are counted.
#[derive(Debug, Clone)]
pub struct LoadedSession {
    pub file: SessionFile,
    pub records: Vec<(Value, ExchangeRecord)>,
    pub skipped: usize,
}

/// The reader's command line, for a program that adds its own commands to the help.
pub fn reader_command() -> clap::Command {
    Cli::command()
}

/// `codex-litellm telemetry ...`: `args` are what follows `telemetry`.
pub fn run_reader(args: Vec<String>, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    run_reader_named("codex-litellm telemetry", args, out, err)
}

/// Parses `args` as `program`'s command line: `Err` with the exit status once clap's text
/// (help, version or the error) is written, 0 on stdout or 2 on stderr.
pub fn parse_args<C: clap::Parser>(
    program: &str,
    args: Vec<String>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<C, i32> {
    let command = C::command().bin_name(program.to_string());
    let argv = std::iter::once(program.to_string()).chain(args);
    command
        .try_get_matches_from(argv)
        .and_then(|matches| C::from_arg_matches(&matches))
        .map_err(|error| {
            let text = error.render().to_string();
            if error.use_stderr() {
                let _ = write!(err, "{text}");
                2
            } else {
                let _ = write!(out, "{text}");
                0
            }
        })
}

/// Like [`run_reader`], with the program name shown in help and usage.
pub fn run_reader_named(
    program: &str,
    args: Vec<String>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    let cli = match parse_args::<Cli>(program, args, out, err) {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    let dir = cli.dir.unwrap_or_else(default_dir);
    let result = match cli.command.unwrap_or(Command::List) {
        Command::List => list(&dir, out, err),
        Command::Show { session } => show(&dir, &session, out, err),
        Command::Exchange { session, n } => exchange(&dir, &session, &n, out, err),
        Command::Summary { session, all } => summary(
            &dir,
            if all {
                None
            } else {
                Some(session.as_deref().unwrap_or("last"))
            },
            out,
            err,
        ),
    };
    match result {
        Ok(()) => 0,
        Err(message) => {
            let _ = writeln!(err, "{message}");
            1
        }
    }
}

fn emit(out: &mut dyn Write, lines: &[String]) -> Result<(), String> {
    for line in lines {
        writeln!(out, "{line}").map_err(|e| format!("cannot write output: {e}"))?;
    }
    Ok(())
}

fn note_skipped(err: &mut dyn Write, sessions: &[LoadedSession]) {
    for session in sessions.iter().filter(|s| s.skipped > 0) {
        let _ = writeln!(
            err,
            "note: skipped {} unreadable line{} in {}",
            session.skipped,
            if session.skipped == 1 { "" } else { "s" },
            session.file.file_name
        );
    }
}

/// The session files in `dir`, oldest first.
pub fn session_files(dir: &Path) -> Result<Vec<SessionFile>, String> {
    if !dir.is_dir() {
        return Err(format!(
            "no telemetry folder at {} (nothing recorded yet, telemetry is off, or it is written elsewhere: try --dir)",
            dir.display()
        ));
    }
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut files: Vec<SessionFile> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "jsonl"))
        .filter_map(|path| {
            let file_name = path.file_name()?.to_str()?.to_string();
            let stem = file_name.strip_suffix(".jsonl")?.to_string();
            let (session_id, started) = split_stem(&stem);
            Some(SessionFile {
                path,
                file_name,
                session_id,
                started,
            })
        })
        .collect();
    files.sort_by(|a, b| a.file_name.cmp(&b.file_name));
    Ok(files)
}

/// `20260301T101500-<id>` -> (`<id>`, `2026-03-01 10:15:00`).
fn split_stem(stem: &str) -> (String, String) {
    let bytes = stem.as_bytes();
    let stamped = bytes.len() > 16
        && bytes[8] == b'T'
        && bytes[15] == b'-'
        && bytes[..8].iter().all(u8::is_ascii_digit)
        && bytes[9..15].iter().all(u8::is_ascii_digit);
    if !stamped {
        return (stem.to_string(), String::new());
    }
    let s = stem;
    (
        s[16..].to_string(),
        format!(
            "{}-{}-{} {}:{}:{}",
            &s[0..4],
            &s[4..6],
            &s[6..8],
            &s[9..11],
            &s[11..13],
            &s[13..15]
        ),
    )
}

pub fn load_session(file: &SessionFile) -> Result<LoadedSession, String> {
    let text = std::fs::read_to_string(&file.path)
        .map_err(|e| format!("cannot read {}: {e}", file.path.display()))?;
    let mut records = Vec::new();
    let mut skipped = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let parsed = serde_json::from_str::<Value>(line).ok().and_then(|value| {
            let record = serde_json::from_value::<ExchangeRecord>(value.clone()).ok()?;
            Some((value, record))
        });
        match parsed {
            Some(pair) => records.push(pair),
            None => skipped += 1,
        }
    }
    Ok(LoadedSession {
        file: file.clone(),
        records,
        skipped,
    })
}

/// Picks a session by `last`, file name (with or without `.jsonl`), path, or session id
/// prefix.
pub fn select_session<'a>(
    files: &'a [SessionFile],
    selector: &str,
) -> Result<&'a SessionFile, String> {
    let selector = selector.trim();
    if files.is_empty() {
        return Err("no sessions recorded yet".to_string());
    }
    if selector == "last" {
        return files
            .iter()
            .max_by(|a, b| {
                let modified =
                    |f: &SessionFile| std::fs::metadata(&f.path).and_then(|m| m.modified()).ok();
                (a.started.as_str(), modified(a)).cmp(&(b.started.as_str(), modified(b)))
            })
            .ok_or_else(|| "no sessions recorded yet".to_string());
    }
    let name = Path::new(selector)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(selector);
    if let Some(file) = files
        .iter()
        .find(|f| f.file_name == name || f.file_name.strip_suffix(".jsonl") == Some(name))
    {
        return Ok(file);
    }
    let matches: Vec<&SessionFile> = files
        .iter()
        .filter(|f| f.session_id.starts_with(selector) || f.file_name.starts_with(selector))
        .collect();
    match matches.as_slice() {
        [] => Err(format!(
            "no session matches `{selector}` (use an id prefix, a file name or `last`; `list` shows them)"
        )),
        [one] => Ok(one),
        many => Err(format!(
            "`{selector}` matches {} sessions: {}",
            many.len(),
            many.iter()
                .map(|f| f.file_name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

fn list(dir: &Path, out: &mut dyn Write, err: &mut dyn Write) -> Result<(), String> {
    let files = session_files(dir)?;
    if files.is_empty() {
        return emit(out, &[format!("no sessions recorded in {}", dir.display())]);
    }
    let mut rows = vec![vec![
        "FILE".to_string(),
        "STARTED (UTC)".to_string(),
        "EXCHANGES".to_string(),
        "FAILED".to_string(),
        "MODELS".to_string(),
    ]];
    let mut loaded = Vec::new();
    for file in &files {
        let session = load_session(file)?;
        let failed = session
            .records
            .iter()
            .filter(|(_, r)| r.outcome.is_failed())
            .count();
        let models: BTreeSet<&str> = session.records.iter().map(|(_, r)| model_name(r)).collect();
        rows.push(vec![
            file.file_name.clone(),
            if file.started.is_empty() {
                "-".to_string()
            } else {
                file.started.clone()
            },
            session.records.len().to_string(),
            failed.to_string(),
            models.into_iter().collect::<Vec<_>>().join(", "),
        ]);
        // Only the skipped count is needed later: holding every record of every file made
        // a 1 GB folder cost ~10 GB of memory.
        loaded.push(LoadedSession {
            records: Vec::new(),
            ..session
        });
    }
    emit(out, &table(&rows))?;
    note_skipped(err, &loaded);
    Ok(())
}

fn model_name(record: &ExchangeRecord) -> &str {
    if record.model.is_empty() {
        "(unknown)"
    } else {
        &record.model
    }
}

fn show(
    dir: &Path,
    selector: &str,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), String> {
    let files = session_files(dir)?;
    let file = select_session(&files, selector)?;
    let session = load_session(file)?;
    let mut lines = vec![format!(
        "session {} · {} · {} exchange{}",
        file.session_id,
        file.file_name,
        session.records.len(),
        if session.records.len() == 1 { "" } else { "s" }
    )];
    let mut rows = vec![
        [
            "#",
            "TIME",
            "TURN",
            "MODEL",
            "OUTCOME",
            "HTTP",
            "TRIES",
            "IN",
            "OUT",
            "MS",
            "DIAGNOSIS",
        ]
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>(),
    ];
    for (i, (_, r)) in session.records.iter().enumerate() {
        rows.push(vec![
            (i + 1).to_string(),
            clock(&r.time),
            r.turn_id
                .as_deref()
                .map(|t| t.chars().take(8).collect())
                .unwrap_or_else(|| "-".to_string()),
            model_name(r).to_string(),
            r.outcome.status.clone(),
            r.last_status()
                .map(|s| s.to_string())
                .unwrap_or_else(|| "-".to_string()),
            r.attempts.len().to_string(),
            r.usage
                .map(|u| tokens(u.input_tokens))
                .unwrap_or_else(|| "-".to_string()),
            r.usage
                .map(|u| tokens(u.output_tokens))
                .unwrap_or_else(|| "-".to_string()),
            r.total_ms.to_string(),
            r.diagnosis.clone(),
        ]);
    }
    lines.extend(table(&rows));
    emit(out, &lines)?;
    note_skipped(err, std::slice::from_ref(&session));
    Ok(())
}

/// `2026-03-01T10:15:00.123Z` -> `10:15:00`.
fn clock(time: &str) -> String {
    time.split_once('T')
        .map(|(_, rest)| rest.chars().take(8).collect())
        .unwrap_or_else(|| "-".to_string())
}

fn exchange(
    dir: &Path,
    selector: &str,
    n: &str,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), String> {
    let files = session_files(dir)?;
    let file = select_session(&files, selector)?;
    let session = load_session(file)?;
    let count = session.records.len();
    let index = if n == "last" {
        count
    } else {
        n.parse::<usize>()
            .map_err(|_| format!("`{n}` is not an exchange number (1..{count} or `last`)"))?
    };
    let Some((raw, record)) = index.checked_sub(1).and_then(|i| session.records.get(i)) else {
        return Err(format!(
            "{} has {count} exchange{}; there is no exchange {n}",
            file.file_name,
            if count == 1 { "" } else { "s" }
        ));
    };
    // Our own records print in field order; a newer writer's record as it was written.
    let text = if record.v > RECORD_VERSION {
        serde_json::to_string_pretty(raw)
    } else {
        serde_json::to_string_pretty(record)
    }
    .map_err(|e| format!("cannot format exchange {n}: {e}"))?;
    emit(out, &[text])?;
    note_skipped(err, std::slice::from_ref(&session));
    Ok(())
}

fn summary_row(name: &str, stats: &ModelStats) -> Vec<String> {
    vec![
        name.to_string(),
        stats.requests.to_string(),
        stats.turns.to_string(),
        tokens(stats.input_tokens),
        tokens(stats.cached_input_tokens),
        tokens(stats.output_tokens),
        tokens(stats.reasoning_output_tokens),
        stats.retries.to_string(),
        stats.truncations.to_string(),
        stats.errors.to_string(),
        stats.cancelled.to_string(),
        measured(stats.wait_ms),
    ]
}

fn summary(
    dir: &Path,
    selector: Option<&str>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), String> {
    let files = session_files(dir)?;
    let chosen: Vec<&SessionFile> = match selector {
        Some(selector) => vec![select_session(&files, selector)?],
        None => {
            if files.is_empty() {
                return Err(format!("no sessions recorded in {}", dir.display()));
            }
            files.iter().collect()
        }
    };
    let sessions = chosen
        .into_iter()
        .map(load_session)
        .collect::<Result<Vec<_>, _>>()?;
    let exchanges: usize = sessions.iter().map(|s| s.records.len()).sum();
    let mut lines = vec![match sessions.as_slice() {
        [one] => format!(
            "session {} · {} · {} exchange{}",
            one.file.session_id,
            one.file.file_name,
            exchanges,
            if exchanges == 1 { "" } else { "s" }
        ),
        many => format!(
            "{} sessions · {} exchange{}",
            many.len(),
            exchanges,
            if exchanges == 1 { "" } else { "s" }
        ),
    }];
    let mut tally = Tally::new();
    // diagnosis kind -> (count, models, latest diagnosis)
    let mut failures: BTreeMap<String, (u64, BTreeSet<String>, String)> = BTreeMap::new();
    for session in &sessions {
        for (_, r) in &session.records {
            let model = model_name(r).to_string();
            // Turn ids are per session; an exchange without one is a turn of its own.
            let turn = r
                .turn_id
                .as_ref()
                .map(|turn| format!("{}/{turn}", session.file.file_name));
            tally.add(&model, &r.provider, turn.as_deref(), &r.facts());
            if r.outcome.is_failed() {
                let kind = if r.diagnosis_kind.is_empty() {
                    "unknown".to_string()
                } else {
                    r.diagnosis_kind.clone()
                };
                let entry = failures.entry(kind).or_default();
                entry.0 += 1;
                entry.1.insert(model);
                entry.2 = r.diagnosis.clone();
            }
        }
    }
    let mut rows = vec![
        [
            "MODEL",
            "REQUESTS",
            "TURNS",
            "IN",
            "CACHED",
            "OUT",
            "REASONING",
            "RETRIES",
            "CUT OFF",
            "FAILED",
            "CANCELLED",
            "WAITING",
        ]
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>(),
    ];
    let mut snapshot = tally.snapshot();
    snapshot.models.sort_by(|a, b| a.model.cmp(&b.model));
    for m in &snapshot.models {
        rows.push(summary_row(&m.model, &m.stats));
    }
    if snapshot.models.len() > 1 {
        rows.push(summary_row("total", &snapshot.totals));
    }
    lines.extend(table(&rows));
    lines.push(String::new());
    if failures.is_empty() {
        lines.push("no failures".to_string());
    } else {
        lines.push("failures by diagnosis:".to_string());
        let rows: Vec<Vec<String>> = failures
            .iter()
            .map(|(kind, (count, models, last))| {
                vec![
                    format!("  {kind}"),
                    count.to_string(),
                    models.iter().cloned().collect::<Vec<_>>().join(", "),
                    format!("last: {last}"),
                ]
            })
            .collect();
        lines.extend(table(&rows));
    }
    emit(out, &lines)?;
    note_skipped(err, &sessions);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn file_name_parts() {
        assert_eq!(
            split_stem("20260301T101500-019a-bc"),
            ("019a-bc".to_string(), "2026-03-01 10:15:00".to_string())
        );
        assert_eq!(split_stem("notes"), ("notes".to_string(), String::new()));
        assert_eq!(clock("2026-03-01T10:15:00.123Z"), "10:15:00");
    }
}
