//! The observer and its background writer thread.
//!
//! `on_exchange` builds the record (cheap: a few clones, the body only at level `full`) and
//! `try_send`s it over a bounded channel; when the channel is full the record is dropped and
//! counted. The writer thread redacts, serializes, appends one line to the session's file,
//! and keeps the folder under its size cap. The first I/O error turns telemetry off for the
//! rest of the process, with one warning and a status string anyone can ask for.

use crate::config::DebugTelemetryConfig;
use crate::config::TelemetryLevel;
use crate::config::codex_home;
use crate::record::ExchangeRecord;
use crate::redact::redact_json;
use codex_litellm_bridge::ExchangeObserver;
use codex_litellm_bridge::ExchangeReport;
use serde::Deserialize;
use std::collections::HashMap;
use std::fmt;
use std::fs;
use std::io::Read;
use std::io::Seek;
use std::io::SeekFrom;
use std::io::Write;
use std::path::Path;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::PoisonError;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::time::Duration;
use std::time::Instant;

/// Records waiting for the writer before new ones are dropped.
const CHANNEL_CAPACITY: usize = 256;

/// Writes between two measurements of the folder (other processes write there too).
const RESCAN_EVERY: u32 = 64;

/// How long `flush` waits for the writer.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(10);

/// The size cap leaves files written this recently alone: another session may be writing.
const RECENTLY_WRITTEN: Duration = Duration::from_secs(15 * 60);

enum Job {
    Record(Box<ExchangeRecord>),
    Flush(mpsc::Sender<()>),
    /// Tests: hold the writer until the sender is dropped or sends.
    #[cfg(test)]
    Hold(mpsc::Receiver<()>),
}

struct Shared {
    active: AtomicBool,
    written: AtomicU64,
    dropped: AtomicU64,
    /// How many times a problem was reported (stays at most 1).
    reported: AtomicU64,
    problem: Mutex<Option<String>>,
    files: Mutex<Vec<PathBuf>>,
}

impl Shared {
    fn report_problem(&self, message: String) {
        self.active.store(false, Ordering::SeqCst);
        let mut problem = self.problem.lock().unwrap_or_else(PoisonError::into_inner);
        if problem.is_none() {
            tracing::warn!("{message}");
            self.reported.fetch_add(1, Ordering::SeqCst);
            *problem = Some(message);
        }
    }
}

/// Writes every bridged exchange to `<dir>/<YYYYMMDDTHHMMSS>-<session_id>.jsonl`.
pub struct DebugTelemetry {
    config: DebugTelemetryConfig,
    shared: Arc<Shared>,
    sender: Option<mpsc::SyncSender<Job>>,
}

/// What telemetry is doing, for `/status`-like surfaces and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelemetryStatus {
    pub level: TelemetryLevel,
    pub dir: PathBuf,
    /// Still writing (false when off, or after a problem turned it off).
    pub active: bool,
    pub written: u64,
    /// Records dropped because the writer fell behind.
    pub dropped: u64,
    /// Why telemetry turned itself off, if it did.
    pub problem: Option<String>,
}

impl fmt::Display for TelemetryStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(problem) = &self.problem {
            return write!(f, "debug telemetry off: {problem}");
        }
        if self.level == TelemetryLevel::Off {
            return f.write_str("debug telemetry off");
        }
        write!(
            f,
            "debug telemetry ({}) in {}: {} exchanges written",
            self.level,
            self.dir.display(),
            self.written
        )?;
        if self.dropped > 0 {
            write!(f, ", {} dropped (writer too slow)", self.dropped)?;
        }
        Ok(())
    }
}

impl DebugTelemetry {
    /// Starts the writer thread (none at level `off`). Never fails: a problem starting it is
    /// reported through [`DebugTelemetry::status`] and telemetry stays off.
    pub fn new(config: DebugTelemetryConfig) -> Self {
        Self::with_options(config, CHANNEL_CAPACITY, &codex_home())
    }

    #[cfg(test)]
    fn with_capacity(config: DebugTelemetryConfig, capacity: usize) -> Self {
        Self::with_options(config, capacity, Path::new("/nonexistent-codex-home"))
    }

    fn with_options(config: DebugTelemetryConfig, capacity: usize, codex_home: &Path) -> Self {
        let shared = Arc::new(Shared {
            active: AtomicBool::new(false),
            written: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            reported: AtomicU64::new(0),
            problem: Mutex::new(None),
            files: Mutex::new(Vec::new()),
        });
        if config.level == TelemetryLevel::Off {
            return Self {
                config,
                shared,
                sender: None,
            };
        }
        if let Some(reason) = shared_folder_reason(&config.dir, codex_home) {
            shared.report_problem(format!(
                "codex-litellm debug telemetry is off: {reason}; set `dir` under [telemetry] in litellm.toml to a folder of its own (default $CODEX_HOME/log/litellm)"
            ));
            return Self {
                config,
                shared,
                sender: None,
            };
        }
        let (sender, receiver) = mpsc::sync_channel(capacity);
        let mut writer = Writer {
            dir: config.dir.clone(),
            max_total_bytes: config.max_total_bytes,
            shared: Arc::clone(&shared),
            dir_ready: false,
            paths: HashMap::new(),
            approx_total: None,
            writes_since_scan: 0,
        };
        let spawned = std::thread::Builder::new()
            .name("codex-litellm-telemetry".to_string())
            .spawn(move || writer.run(receiver));
        match spawned {
            Ok(_) => {
                shared.active.store(true, Ordering::SeqCst);
                Self {
                    config,
                    shared,
                    sender: Some(sender),
                }
            }
            Err(err) => {
                shared.report_problem(format!(
                    "codex-litellm debug telemetry is off: could not start its writer thread: {err}"
                ));
                Self {
                    config,
                    shared,
                    sender: None,
                }
            }
        }
    }

    pub fn config(&self) -> &DebugTelemetryConfig {
        &self.config
    }

    pub fn is_active(&self) -> bool {
        self.shared.active.load(Ordering::SeqCst)
    }

    /// Why telemetry turned itself off, if it did (reported once, as a warning, too).
    pub fn problem(&self) -> Option<String> {
        self.shared
            .problem
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn status(&self) -> TelemetryStatus {
        TelemetryStatus {
            level: self.config.level,
            dir: self.config.dir.clone(),
            active: self.is_active(),
            written: self.shared.written.load(Ordering::SeqCst),
            dropped: self.shared.dropped.load(Ordering::SeqCst),
            problem: self.problem(),
        }
    }

    /// Session files this process has written to.
    pub fn files(&self) -> Vec<PathBuf> {
        self.shared
            .files
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Waits (up to 10 s) until every record handed over so far is on disk. For tests and
    /// process exit; returns false on timeout or when there is no writer.
    pub fn flush(&self) -> bool {
        let Some(sender) = &self.sender else {
            return false;
        };
        let deadline = Instant::now() + FLUSH_TIMEOUT;
        let (ack, done) = mpsc::channel();
        let mut job = Job::Flush(ack);
        loop {
            match sender.try_send(job) {
                Ok(()) => break,
                Err(mpsc::TrySendError::Full(back)) => {
                    if Instant::now() >= deadline {
                        return false;
                    }
                    job = back;
                    std::thread::sleep(Duration::from_millis(2));
                }
                Err(mpsc::TrySendError::Disconnected(_)) => return false,
            }
        }
        done.recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .is_ok()
    }

    fn submit(&self, job: Job) {
        let Some(sender) = &self.sender else {
            return;
        };
        match sender.try_send(job) {
            Ok(()) => {}
            Err(mpsc::TrySendError::Full(_)) => {
                let dropped = self.shared.dropped.fetch_add(1, Ordering::SeqCst);
                if dropped == 0 {
                    tracing::debug!("codex-litellm telemetry writer is behind; dropping records");
                }
            }
            Err(mpsc::TrySendError::Disconnected(_)) => {
                self.shared.active.store(false, Ordering::SeqCst);
            }
        }
    }
}

impl ExchangeObserver for DebugTelemetry {
    fn on_exchange(&self, report: &ExchangeReport) {
        if !self.is_active() {
            return;
        }
        let record =
            ExchangeRecord::from_report(report, self.config.level, self.config.max_raw_bytes);
        self.submit(Job::Record(Box::new(record)));
    }
}

/// The session file name for a session id (or for the process, without one) whose first
/// exchange started at `started_at_ms`: `20260301T101500-<session_id>.jsonl`.
pub fn session_file_name(session_id: Option<&str>, started_at_ms: u64) -> String {
    let stamp = chrono::DateTime::<chrono::Utc>::from_timestamp_millis(started_at_ms as i64)
        .map(|t| t.format("%Y%m%dT%H%M%S").to_string())
        .unwrap_or_else(|| "00000000T000000".to_string());
    format!("{stamp}-{}.jsonl", session_key(session_id))
}

fn session_key(session_id: Option<&str>) -> String {
    match session_id {
        Some(id) => {
            let clean: String = id
                .chars()
                .filter(|c| !c.is_control())
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                        c
                    } else {
                        '_'
                    }
                })
                .take(96)
                .collect();
            let clean = clean.trim_start_matches('.').to_string();
            if clean.is_empty() {
                "unknown".to_string()
            } else {
                clean
            }
        }
        None => format!("process-{}", std::process::id()),
    }
}

struct Writer {
    dir: PathBuf,
    max_total_bytes: u64,
    shared: Arc<Shared>,
    dir_ready: bool,
    /// Session key -> file this process appends to.
    paths: HashMap<String, PathBuf>,
    /// Bytes in the folder as last measured plus what was written since.
    approx_total: Option<u64>,
    writes_since_scan: u32,
}

impl Writer {
    fn run(&mut self, receiver: mpsc::Receiver<Job>) {
        while let Ok(job) = receiver.recv() {
            match job {
                Job::Record(record) => {
                    if !self.shared.active.load(Ordering::SeqCst) {
                        continue;
                    }
                    if let Err(message) = self.write(&record) {
                        self.shared.report_problem(message);
                    }
                }
                Job::Flush(ack) => {
                    let _ = ack.send(());
                }
                #[cfg(test)]
                Job::Hold(release) => {
                    let _ = release.recv();
                }
            }
        }
    }

    fn write(&mut self, record: &ExchangeRecord) -> Result<(), String> {
        self.ensure_dir()?;
        let path = self.path_for(record);
        let mut value = serde_json::to_value(record).map_err(|err| {
            format!("codex-litellm debug telemetry could not encode a record: {err}")
        })?;
        redact_json(&mut value);
        // Back through the record type so the line keeps the record's field order.
        let mut line = match ExchangeRecord::deserialize(&value) {
            Ok(clean) => serde_json::to_string(&clean).unwrap_or_else(|_| value.to_string()),
            Err(_) => value.to_string(),
        };
        line.push('\n');
        let created = fs::symlink_metadata(&path).is_err();
        let mut file = open_append(&path).map_err(|err| self.io_problem(&path, &err))?;
        check_private(
            &path,
            &file
                .metadata()
                .map_err(|err| self.io_problem(&path, &err))?,
        )?;
        // A crash or a full disk can leave a torn last line: end it, or it swallows this record.
        if !ends_with_newline(&mut file).map_err(|err| self.io_problem(&path, &err))? {
            line.insert(0, '\n');
        }
        file.write_all(line.as_bytes())
            .map_err(|err| self.io_problem(&path, &err))?;
        drop(file);
        self.shared.written.fetch_add(1, Ordering::SeqCst);
        if created {
            let mut files = self
                .shared
                .files
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if !files.contains(&path) {
                files.push(path.clone());
            }
        }
        self.writes_since_scan += 1;
        let total = match self.approx_total {
            Some(total) if self.writes_since_scan < RESCAN_EVERY => total + line.len() as u64,
            _ => {
                self.writes_since_scan = 0;
                folder_size(&self.dir)
            }
        };
        self.approx_total = Some(total);
        if self.max_total_bytes > 0 && total > self.max_total_bytes {
            self.approx_total = Some(enforce_cap(&self.dir, self.max_total_bytes, &path));
        }
        Ok(())
    }

    fn io_problem(&self, path: &Path, err: &std::io::Error) -> String {
        #[cfg(unix)]
        if err.raw_os_error() == Some(libc::ELOOP) {
            return format!(
                "codex-litellm debug telemetry is off for this session: {} is a symbolic link (telemetry never writes through links); remove it",
                path.display()
            );
        }
        format!(
            "codex-litellm debug telemetry is off for this session: cannot write {}: {err}",
            path.display()
        )
    }

    fn ensure_dir(&mut self) -> Result<(), String> {
        if self.dir_ready {
            return Ok(());
        }
        create_private_dir(&self.dir).map_err(|err| {
            format!(
                "codex-litellm debug telemetry is off for this session: cannot create {}: {err}",
                self.dir.display()
            )
        })?;
        // Follows a link to the folder, but the folder it lands on must be the user's own.
        let meta = fs::metadata(&self.dir).map_err(|err| {
            format!(
                "codex-litellm debug telemetry is off for this session: cannot read {}: {err}",
                self.dir.display()
            )
        })?;
        check_private(&self.dir, &meta)?;
        self.dir_ready = true;
        Ok(())
    }

    fn path_for(&mut self, record: &ExchangeRecord) -> PathBuf {
        let key = session_key(record.session_id.as_deref());
        if let Some(path) = self.paths.get(&key) {
            return path.clone();
        }
        // A resumed session appends to the file it already has.
        let suffix = format!("-{key}.jsonl");
        let existing = record
            .session_id
            .as_ref()
            .and_then(|_| fs::read_dir(&self.dir).ok())
            .and_then(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| {
                        p.file_name()
                            .and_then(|n| n.to_str())
                            .is_some_and(|n| n.ends_with(&suffix) && n.len() == 15 + suffix.len())
                    })
                    .min()
            });
        let path = existing.unwrap_or_else(|| {
            self.dir.join(session_file_name(
                record.session_id.as_deref(),
                record.started_at_ms,
            ))
        });
        self.paths.insert(key, path.clone());
        path
    }
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Opens for reading (the last byte) and appending; never through a symbolic link.
fn open_append(path: &Path) -> std::io::Result<fs::File> {
    let mut options = fs::OpenOptions::new();
    options.create(true).read(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    options.open(path)
}

fn ends_with_newline(file: &mut fs::File) -> std::io::Result<bool> {
    if file.metadata()?.len() == 0 {
        return Ok(true);
    }
    file.seek(SeekFrom::End(-1))?;
    let mut last = [0u8; 1];
    file.read_exact(&mut last)?;
    Ok(last[0] == b'\n')
}

/// Why `dir` must not be the telemetry folder: Codex's own folder or the home folder hold
/// other programs' files.
fn shared_folder_reason(dir: &Path, codex_home: &Path) -> Option<String> {
    let same = |a: &Path, b: &Path| {
        let a = fs::canonicalize(a).unwrap_or_else(|_| a.to_path_buf());
        let b = fs::canonicalize(b).unwrap_or_else(|_| b.to_path_buf());
        a == b
    };
    if same(dir, codex_home) {
        return Some(format!(
            "its folder {} is Codex's own folder ($CODEX_HOME)",
            dir.display()
        ));
    }
    if dirs::home_dir().is_some_and(|home| same(dir, &home)) {
        return Some(format!("its folder {} is the home folder", dir.display()));
    }
    None
}

/// Refuses a folder or file someone else owns or anyone may write to (a planted file, or a
/// shared folder like `/tmp` where others can swap files).
fn check_private(path: &Path, meta: &fs::Metadata) -> Result<(), String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        // SAFETY: geteuid has no preconditions and cannot fail.
        let user = unsafe { libc::geteuid() };
        if let Some(reason) = unsafe_owner_or_mode(meta.uid(), meta.mode(), user) {
            return Err(format!(
                "codex-litellm debug telemetry is off for this session: {} {reason}; use a folder of your own (chmod go-w, or set `dir` under [telemetry] in litellm.toml)",
                path.display()
            ));
        }
    }
    if !meta.is_dir() && !meta.is_file() {
        return Err(format!(
            "codex-litellm debug telemetry is off for this session: {} is not a regular file or folder; remove it",
            path.display()
        ));
    }
    Ok(())
}

#[cfg(unix)]
fn unsafe_owner_or_mode(owner: u32, mode: u32, user: u32) -> Option<String> {
    if owner != user {
        return Some(format!(
            "belongs to another user (uid {owner}, you are {user})"
        ));
    }
    if mode & 0o002 != 0 {
        return Some(format!(
            "is writable by every user (mode {:o})",
            mode & 0o7777
        ));
    }
    None
}

/// The names the writer gives its files (`session_file_name`): `YYYYMMDDTHHMMSS-<key>.jsonl`.
/// Anything else in the folder is left alone.
fn is_session_file_name(name: &str) -> bool {
    let Some(stem) = name.strip_suffix(".jsonl") else {
        return false;
    };
    let bytes = stem.as_bytes();
    if bytes.len() < 17 || bytes.len() > 16 + 96 {
        return false;
    }
    let digits = |range: std::ops::Range<usize>| bytes[range].iter().all(u8::is_ascii_digit);
    let key = &bytes[16..];
    digits(0..8)
        && bytes[8] == b'T'
        && digits(9..15)
        && bytes[15] == b'-'
        && key[0] != b'.'
        && key
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// Our files in the folder: `(path, bytes, modified)`.
fn session_files(dir: &Path) -> Vec<(PathBuf, u64, std::time::SystemTime)> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_str().is_some_and(is_session_file_name))
        .filter_map(|e| {
            let meta = e.metadata().ok()?;
            if !meta.is_file() {
                return None;
            }
            let modified = meta.modified().unwrap_or(std::time::UNIX_EPOCH);
            Some((e.path(), meta.len(), modified))
        })
        .collect()
}

fn folder_size(dir: &Path) -> u64 {
    session_files(dir).iter().map(|(_, len, _)| len).sum()
}

/// Removes the least recently written session files until the folder is within
/// `max_total_bytes`; never `current`, nor a file written in the last 15 minutes (another
/// session may be appending to it). Returns the new total.
fn enforce_cap(dir: &Path, max_total_bytes: u64, current: &Path) -> u64 {
    let mut files = session_files(dir);
    let mut total: u64 = files.iter().map(|(_, len, _)| len).sum();
    files.sort_by(|a, b| a.2.cmp(&b.2).then_with(|| a.0.cmp(&b.0)));
    let recent_since = std::time::SystemTime::now()
        .checked_sub(RECENTLY_WRITTEN)
        .unwrap_or(std::time::UNIX_EPOCH);
    for (path, len, modified) in files {
        if total <= max_total_bytes {
            break;
        }
        if path == current || modified > recent_since {
            continue;
        }
        if fs::remove_file(&path).is_ok() {
            total = total.saturating_sub(len);
            tracing::debug!(
                "codex-litellm telemetry removed {} (size cap)",
                path.display()
            );
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use codex_litellm_bridge::AttemptReport;
    use codex_litellm_bridge::Fault;
    use codex_litellm_bridge::Outcome;
    use codex_litellm_bridge::Usage;
    use codex_litellm_bridge::request::RequestSummary;
    use pretty_assertions::assert_eq;
    use serde_json::Value;
    use serde_json::json;
    use std::collections::BTreeMap;

    fn config(dir: &Path, level: TelemetryLevel) -> DebugTelemetryConfig {
        DebugTelemetryConfig {
            level,
            dir: dir.to_path_buf(),
            max_total_bytes: 50 * 1024 * 1024,
            max_raw_bytes: 256 * 1024,
        }
    }

    fn report(session: Option<&str>, started_at_ms: u64) -> ExchangeReport {
        ExchangeReport {
            started_at_ms,
            session_id: session.map(str::to_string),
            turn_id: Some("turn-1".into()),
            provider: "litellm".into(),
            url: "http://localhost:4000/v1/chat/completions".into(),
            request: RequestSummary {
                model: "qwen3-coder".into(),
                messages: 3,
                tools: 2,
                input_items: 3,
                stream: true,
                ..RequestSummary::default()
            },
            request_bytes: 1234,
            request_body: json!({"model": "qwen3-coder", "messages": [{"role": "user", "content": "hi"}]}),
            attempts: vec![AttemptReport {
                attempt: 1,
                status: Some(200),
                total_ms: 900,
                bytes: 512,
                chunks: 8,
                done_marker: true,
                ..AttemptReport::default()
            }],
            finish_reason: Some("stop".into()),
            usage: Some(Usage {
                input_tokens: 100,
                cached_input_tokens: 40,
                output_tokens: 20,
                reasoning_output_tokens: 5,
                total_tokens: 120,
            }),
            outcome: Outcome::Completed,
            total_ms: 950,
            ..ExchangeReport::default()
        }
    }

    fn lines(path: &Path) -> Vec<Value> {
        fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    const T0: u64 = 1_772_360_100_000; // 2026-03-01T10:15:00Z

    #[test]
    fn one_line_per_exchange_in_a_per_session_file() {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let dir = tmp.path().join("log").join("litellm");
        let telemetry = DebugTelemetry::new(config(&dir, TelemetryLevel::Summary));
        telemetry.on_exchange(&report(Some("sess-A"), T0));
        telemetry.on_exchange(&report(Some("sess-A"), T0 + 5_000));
        telemetry.on_exchange(&report(Some("sess-B"), T0 + 7_000));
        telemetry.on_exchange(&report(None, T0 + 9_000));
        assert!(telemetry.flush());
        let a = dir.join("20260301T101500-sess-A.jsonl");
        let b = dir.join("20260301T101507-sess-B.jsonl");
        let p = dir.join(format!(
            "20260301T101509-process-{}.jsonl",
            std::process::id()
        ));
        assert_eq!(lines(&a).len(), 2);
        assert_eq!(lines(&b).len(), 1);
        assert_eq!(lines(&p).len(), 1);
        let first = &lines(&a)[0];
        assert_eq!(first["time"], json!("2026-03-01T10:15:00.000Z"));
        assert_eq!(first["session_id"], json!("sess-A"));
        assert_eq!(first["turn_id"], json!("turn-1"));
        assert_eq!(first["model"], json!("qwen3-coder"));
        assert_eq!(first["request"]["messages"], json!(3));
        assert_eq!(first["request"]["bytes"], json!(1234));
        assert_eq!(first["usage"]["cached_input_tokens"], json!(40));
        assert_eq!(first["outcome"]["status"], json!("completed"));
        assert_eq!(
            first["diagnosis"],
            json!("completed (stop) in 0.9s, 1 attempt")
        );
        assert_eq!(first["diagnosis_kind"], json!("completed"));
        // Summary level: no body.
        assert!(first.get("request_body").is_none());
        let status = telemetry.status();
        assert_eq!(status.written, 4);
        assert!(status.active);
        assert_eq!(telemetry.files().len(), 3);
    }

    #[test]
    fn full_level_keeps_the_body_and_raw_bytes() {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let telemetry = DebugTelemetry::new(config(tmp.path(), TelemetryLevel::Full));
        let mut r = report(Some("s"), T0);
        r.attempts[0].raw_body = Some("data: {\"choices\":[]}\n\ndata: [DONE]\n".into());
        telemetry.on_exchange(&r);
        assert!(telemetry.flush());
        let line = &lines(&tmp.path().join("20260301T101500-s.jsonl"))[0];
        assert_eq!(line["request_body"]["messages"][0]["content"], json!("hi"));
        assert_eq!(
            line["attempts"][0]["raw_body"],
            json!("data: {\"choices\":[]}\n\ndata: [DONE]\n")
        );
    }

    #[test]
    fn a_resumed_session_appends_to_its_existing_file() {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let old = tmp.path().join("20260228T080000-sess-A.jsonl");
        fs::write(&old, "{}\n").unwrap_or_else(|e| panic!("{e}"));
        let telemetry = DebugTelemetry::new(config(tmp.path(), TelemetryLevel::Summary));
        telemetry.on_exchange(&report(Some("sess-A"), T0));
        assert!(telemetry.flush());
        assert_eq!(
            fs::read_to_string(&old).unwrap_or_default().lines().count(),
            2
        );
    }

    #[test]
    fn off_writes_nothing() {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let dir = tmp.path().join("t");
        let telemetry = DebugTelemetry::new(config(&dir, TelemetryLevel::Off));
        telemetry.on_exchange(&report(Some("s"), T0));
        assert!(!telemetry.flush());
        assert!(!dir.exists());
        assert!(!telemetry.is_active());
        assert_eq!(telemetry.status().to_string(), "debug telemetry off");
    }

    #[cfg(unix)]
    #[test]
    fn files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let dir = tmp.path().join("codex").join("log").join("litellm");
        let telemetry = DebugTelemetry::new(config(&dir, TelemetryLevel::Summary));
        telemetry.on_exchange(&report(Some("s"), T0));
        assert!(telemetry.flush());
        let mode = |p: &Path| {
            fs::metadata(p)
                .map(|m| m.permissions().mode() & 0o777)
                .unwrap_or(0)
        };
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("20260301T101500-s.jsonl")), 0o600);
    }

    #[test]
    fn unwritable_folder_is_reported_once_and_turns_telemetry_off() {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        // A regular file where the folder should be: unwritable even for root.
        let blocker = tmp.path().join("not-a-dir");
        fs::write(&blocker, "x").unwrap_or_else(|e| panic!("{e}"));
        let dir = blocker.join("litellm");
        let telemetry = DebugTelemetry::new(config(&dir, TelemetryLevel::Summary));
        assert!(telemetry.is_active());
        telemetry.on_exchange(&report(Some("s"), T0));
        assert!(telemetry.flush());
        // Further exchanges neither fail nor report again.
        for _ in 0..5 {
            telemetry.on_exchange(&report(Some("s"), T0));
        }
        let _ = telemetry.flush();
        assert!(!telemetry.is_active());
        assert_eq!(telemetry.shared.reported.load(Ordering::SeqCst), 1);
        let problem = telemetry.problem().unwrap_or_default();
        assert!(problem.contains("cannot create"), "{problem}");
        assert!(problem.contains("not-a-dir"), "{problem}");
        let status = telemetry.status();
        assert_eq!(status.written, 0);
        assert!(status.to_string().starts_with("debug telemetry off: "));
    }

    #[test]
    fn a_full_channel_drops_and_counts_instead_of_blocking() {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let telemetry =
            DebugTelemetry::with_capacity(config(tmp.path(), TelemetryLevel::Summary), 2);
        let (release, hold) = mpsc::channel();
        telemetry.submit(Job::Hold(hold));
        // Wait until the writer holds (the channel is empty again).
        std::thread::sleep(Duration::from_millis(50));
        let started = Instant::now();
        for i in 0..10 {
            telemetry.on_exchange(&report(Some("s"), T0 + i));
        }
        assert!(started.elapsed() < Duration::from_secs(1));
        assert_eq!(telemetry.status().dropped, 8);
        let _ = release.send(());
        assert!(telemetry.flush());
        assert_eq!(telemetry.status().written, 2);
        assert!(telemetry.status().to_string().contains("8 dropped"));
    }

    #[test]
    fn size_cap_removes_least_recently_written_files_first_never_the_current_one() {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let dir = tmp.path();
        let old = |name: &str, age_secs: u64| {
            let path = dir.join(name);
            fs::write(&path, vec![b'x'; 1000]).unwrap_or_else(|e| panic!("{e}"));
            let when = std::time::SystemTime::now() - Duration::from_secs(age_secs);
            fs::File::options()
                .write(true)
                .open(&path)
                .and_then(|f| f.set_modified(when))
                .unwrap_or_else(|e| panic!("{e}"));
            path
        };
        // Names deliberately out of age order: eviction goes by last write.
        let oldest = old("20260302T000000-a.jsonl", 3000);
        let middle = old("20260101T000000-b.jsonl", 2000);
        let newest = old("20260201T000000-c.jsonl", 1000);
        let unrelated = dir.join("notes.txt");
        fs::write(&unrelated, vec![b'y'; 5000]).unwrap_or_else(|e| panic!("{e}"));
        let mut cfg = config(dir, TelemetryLevel::Summary);
        cfg.max_total_bytes = 2500;
        let telemetry = DebugTelemetry::new(cfg);
        telemetry.on_exchange(&report(Some("now"), T0));
        assert!(telemetry.flush());
        let current = dir.join("20260301T101500-now.jsonl");
        let current_len = fs::metadata(&current).map(|m| m.len()).unwrap_or(0);
        assert!(current_len > 0 && current_len < 1000, "{current_len}");
        // 3000 + current > 2500: drop the oldest two, keep the newest and the current file.
        assert!(!oldest.exists());
        assert!(!middle.exists());
        assert!(newest.exists());
        assert!(current.exists());
        assert!(unrelated.exists(), "only session files are ever removed");

        // A current file bigger than the cap on its own is kept.
        let mut cfg = config(dir, TelemetryLevel::Summary);
        cfg.max_total_bytes = 10;
        let telemetry = DebugTelemetry::new(cfg);
        telemetry.on_exchange(&report(Some("now"), T0));
        assert!(telemetry.flush());
        assert!(current.exists());
        assert!(!newest.exists());
    }

    fn aged_file(path: &Path, bytes: usize, age_secs: u64) {
        fs::write(path, vec![b'x'; bytes]).unwrap_or_else(|e| panic!("{e}"));
        let when = std::time::SystemTime::now() - Duration::from_secs(age_secs);
        fs::File::options()
            .write(true)
            .open(path)
            .and_then(|f| f.set_modified(when))
            .unwrap_or_else(|e| panic!("{e}"));
    }

    /// The folder is user-settable: Codex's `history.jsonl` or anyone's `.jsonl` there is
    /// not ours to remove.
    #[test]
    fn size_cap_removes_only_files_the_writer_named() {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let dir = tmp.path();
        let foreign = [
            "history.jsonl",
            "session_index.jsonl",
            "rollout-2026-03-01T10-15-00-019a.jsonl",
            "2026030T101500-x.jsonl",
            "20260301T101500-.jsonl",
            "20260301T101500-.hidden.jsonl",
            "20260301T101500-a b.jsonl",
        ];
        for name in foreign {
            aged_file(&dir.join(name), 1000, 3600);
        }
        let ours = dir.join("20260101T000000-old.jsonl");
        aged_file(&ours, 1000, 3600);
        let mut cfg = config(dir, TelemetryLevel::Summary);
        cfg.max_total_bytes = 10;
        let telemetry = DebugTelemetry::new(cfg);
        telemetry.on_exchange(&report(Some("now"), T0));
        assert!(telemetry.flush());
        assert!(!ours.exists());
        for name in foreign {
            assert!(dir.join(name).exists(), "{name} was removed");
        }
        assert!(is_session_file_name(&session_file_name(
            Some("019a7c3e-1b2c"),
            T0
        )));
        assert!(is_session_file_name(&session_file_name(None, T0)));
    }

    /// Another live session appends to its own file; the cap leaves recent files alone.
    #[test]
    fn size_cap_keeps_files_written_recently() {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let dir = tmp.path();
        let live = dir.join("20260301T090000-other-session.jsonl");
        aged_file(&live, 5000, 60);
        let stale = dir.join("20260228T090000-stale.jsonl");
        aged_file(&stale, 5000, 20 * 60);
        let mut cfg = config(dir, TelemetryLevel::Summary);
        cfg.max_total_bytes = 1000;
        let telemetry = DebugTelemetry::new(cfg);
        telemetry.on_exchange(&report(Some("now"), T0));
        assert!(telemetry.flush());
        assert!(live.exists(), "a file written a minute ago was removed");
        assert!(!stale.exists());
    }

    #[test]
    fn codex_home_itself_is_refused_as_the_folder() {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let home = tmp.path().join("codex-home");
        fs::create_dir(&home).unwrap_or_else(|e| panic!("{e}"));
        let history = home.join("history.jsonl");
        fs::write(&history, "{}\n").unwrap_or_else(|e| panic!("{e}"));
        // Spelled differently (trailing `.`), still the same folder.
        let telemetry = DebugTelemetry::with_options(
            config(&home.join("."), TelemetryLevel::Summary),
            4,
            &home,
        );
        telemetry.on_exchange(&report(Some("s"), T0));
        assert!(!telemetry.flush());
        assert!(!telemetry.is_active());
        let problem = telemetry.problem().unwrap_or_default();
        assert!(
            problem.contains("Codex's own folder ($CODEX_HOME)"),
            "{problem}"
        );
        assert!(
            problem.contains("`dir` under [telemetry] in litellm.toml"),
            "{problem}"
        );
        assert_eq!(
            fs::read_dir(&home).map(Iterator::count).unwrap_or(0),
            1,
            "nothing written next to history.jsonl"
        );
        // Its `log/litellm` subfolder (the default) is fine.
        let telemetry = DebugTelemetry::with_options(
            config(&home.join("log").join("litellm"), TelemetryLevel::Summary),
            4,
            &home,
        );
        telemetry.on_exchange(&report(Some("s"), T0));
        assert!(telemetry.flush());
        assert_eq!(telemetry.status().written, 1);
    }

    /// A crash or a full disk leaves half a line; the next record starts on its own line.
    #[test]
    fn a_torn_last_line_does_not_swallow_the_next_record() {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = tmp.path().join("20260301T101500-s.jsonl");
        fs::write(&path, "{\"session_id\":\"s\",\"outc").unwrap_or_else(|e| panic!("{e}"));
        let telemetry = DebugTelemetry::new(config(tmp.path(), TelemetryLevel::Summary));
        telemetry.on_exchange(&report(Some("s"), T0));
        telemetry.on_exchange(&report(Some("s"), T0 + 1000));
        assert!(telemetry.flush());
        let text = fs::read_to_string(&path).unwrap_or_default();
        assert_eq!(text.lines().count(), 3, "{text}");
        assert_eq!(lines(&path).len(), 2, "both new records parse: {text}");
        assert!(text.ends_with('\n'));
    }

    #[cfg(unix)]
    #[test]
    fn a_folder_anyone_may_write_to_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let dir = tmp.path().join("shared");
        fs::create_dir(&dir).unwrap_or_else(|e| panic!("{e}"));
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o777))
            .unwrap_or_else(|e| panic!("{e}"));
        let telemetry = DebugTelemetry::new(config(&dir, TelemetryLevel::Summary));
        telemetry.on_exchange(&report(Some("s"), T0));
        telemetry.on_exchange(&report(Some("s"), T0));
        assert!(telemetry.flush());
        assert!(!telemetry.is_active());
        assert_eq!(telemetry.shared.reported.load(Ordering::SeqCst), 1);
        let problem = telemetry.problem().unwrap_or_default();
        assert!(
            problem.contains("writable by every user (mode 777)"),
            "{problem}"
        );
        assert_eq!(fs::read_dir(&dir).map(Iterator::count).unwrap_or(9), 0);
        // Kept as found: telemetry does not change modes it did not set.
        let mode = fs::metadata(&dir).map(|m| m.permissions().mode() & 0o777);
        assert_eq!(mode.ok(), Some(0o777));
    }

    #[cfg(unix)]
    #[test]
    fn a_session_file_anyone_may_write_to_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = tmp.path().join("20260301T101500-s.jsonl");
        fs::write(&path, "").unwrap_or_else(|e| panic!("{e}"));
        fs::set_permissions(&path, fs::Permissions::from_mode(0o666))
            .unwrap_or_else(|e| panic!("{e}"));
        let telemetry = DebugTelemetry::new(config(tmp.path(), TelemetryLevel::Summary));
        telemetry.on_exchange(&report(Some("s"), T0));
        assert!(telemetry.flush());
        assert!(!telemetry.is_active());
        assert_eq!(fs::metadata(&path).map(|m| m.len()).ok(), Some(0));
        let problem = telemetry.problem().unwrap_or_default();
        assert!(
            problem.contains("writable by every user (mode 666)"),
            "{problem}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_symlinked_session_file_is_not_followed() {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let dir = tmp.path().join("t");
        fs::create_dir(&dir).unwrap_or_else(|e| panic!("{e}"));
        let target = tmp.path().join("victim");
        fs::write(&target, "precious\n").unwrap_or_else(|e| panic!("{e}"));
        std::os::unix::fs::symlink(&target, dir.join("20260301T101500-s.jsonl"))
            .unwrap_or_else(|e| panic!("{e}"));
        let telemetry = DebugTelemetry::new(config(&dir, TelemetryLevel::Summary));
        telemetry.on_exchange(&report(Some("s"), T0));
        assert!(telemetry.flush());
        assert!(!telemetry.is_active());
        assert_eq!(
            fs::read_to_string(&target).ok().as_deref(),
            Some("precious\n")
        );
        let problem = telemetry.problem().unwrap_or_default();
        assert!(problem.contains("is a symbolic link"), "{problem}");
    }

    #[cfg(unix)]
    #[test]
    fn owner_and_mode_rules() {
        assert_eq!(unsafe_owner_or_mode(1000, 0o40700, 1000), None);
        assert_eq!(unsafe_owner_or_mode(1000, 0o100600, 1000), None);
        // Group-writable is common (user private groups) and accepted.
        assert_eq!(unsafe_owner_or_mode(1000, 0o40770, 1000), None);
        assert_eq!(
            unsafe_owner_or_mode(0, 0o40700, 1000).as_deref(),
            Some("belongs to another user (uid 0, you are 1000)")
        );
        assert_eq!(
            unsafe_owner_or_mode(1000, 0o41777, 1000).as_deref(),
            Some("is writable by every user (mode 1777)")
        );
    }

    #[test]
    fn session_names_are_safe_file_names() {
        assert_eq!(
            session_file_name(Some("019a7c3e-1b2c"), T0),
            "20260301T101500-019a7c3e-1b2c.jsonl"
        );
        assert_eq!(
            session_file_name(Some("../../etc/passwd"), T0),
            "20260301T101500-_.._etc_passwd.jsonl"
        );
        assert_eq!(
            session_file_name(Some(""), T0),
            "20260301T101500-unknown.jsonl"
        );
    }

    /// Every shape backends echo credentials in (the bridge's redaction table), carried in
    /// a fault message, the outcome message, raw bytes and the request body: never on
    /// disk, at any level.
    #[test]
    fn echoed_secret_shapes_never_reach_the_file_at_any_level() {
        let shapes: &[(&str, &str)] = &[
            (
                "Incorrect API key provided: lk-9f8e7d6c5b4a3921.",
                "lk-9f8e7d6c5b4a3921",
            ),
            (
                "Invalid API key: 0123456789abcdef0123",
                "0123456789abcdef0123",
            ),
            ("token: tkn_Zq81LmWx0pRt", "tkn_Zq81LmWx0pRt"),
            ("OPENAI_KEY=opk-77Hh22Jj", "opk-77Hh22Jj"),
            ("DB_PASS=hunter2hunter2", "hunter2hunter2"),
            (
                "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0B\n-----END PRIVATE KEY-----",
                "MIIEvQIBADANBgkqhkiG9w0B",
            ),
            (
                "Authorization: Digest username=\"b\", response=\"6629fae49393a05397450978507c4ef1\"",
                "6629fae49393a05397450978507c4ef1",
            ),
            (
                r#"[["Authorization","Basic Ym9iOnNlY3JldHB3"]]"#,
                "Ym9iOnNlY3JldHB3",
            ),
            (
                r#"{"api_key": {"value": "vk-Secret-4455"}}"#,
                "vk-Secret-4455",
            ),
            (
                "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            ),
            (
                "glpat-AbCdEfGhIjKlMnOpQrSt12",
                "glpat-AbCdEfGhIjKlMnOpQrSt12",
            ),
            ("https://h/cb?code=oauthCode9911", "oauthCode9911"),
        ];
        for level in [TelemetryLevel::Summary, TelemetryLevel::Full] {
            let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
            let telemetry = DebugTelemetry::new(config(tmp.path(), level));
            for (text, _) in shapes {
                let mut r = report(Some("shapes"), T0);
                let fault = Fault::ErrorInStream {
                    message: text.to_string(),
                    code: None,
                    at_byte: 3,
                };
                r.attempts[0].fault = Some(fault.clone());
                r.attempts[0].raw_body =
                    Some(format!("data: {{\"error\": {}}}\n\n{text}", json!(text)));
                r.request_body = json!({"messages": [{"role": "user", "content": text}]});
                r.outcome = Outcome::Failed {
                    code: "invalid_prompt".into(),
                    message: text.to_string(),
                    fault,
                };
                telemetry.on_exchange(&r);
            }
            assert!(telemetry.flush());
            let text = fs::read_to_string(tmp.path().join("20260301T101500-shapes.jsonl"))
                .unwrap_or_default();
            assert_eq!(text.lines().count(), shapes.len(), "{level}");
            for (shape, secret) in shapes {
                assert!(!text.contains(secret), "{level}: {shape} leaked: {text}");
            }
        }
    }

    /// The issue's promise: no secret reaches the file, whatever carries it.
    #[test]
    fn no_secret_reaches_the_file() {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let telemetry = DebugTelemetry::new(config(tmp.path(), TelemetryLevel::Full));
        let openai_key = "sk-proj-Xy7Qm2Lk9Pz4Rt8Wv3Ns6Bd1Hc5Jf0Ga2Ke7Mu";
        let jwt = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTQyIiwiZXhwIjoxNzAwMDAwMDAwfQ.c2lnbmF0dXJlLWJ5dGVzLWhlcmU";
        let url_key = "AbCdEf0123456789QueryKey";
        let body_key = "lk-BodyKey-9f8e7d6c5b4a";
        let password = "hunter2-Pa55word";
        let cookie = "sessionid=CookieVal-77aa";
        let mut r = report(Some("secrets"), T0);
        r.url = format!(
            "https://admin:{password}@gateway.example.com/v1/chat/completions?api_key={url_key}&api-version=2024-10-01"
        );
        r.request_body = json!({
            "model": "qwen3-coder",
            "max_tokens": 4096,
            "api_key": body_key,
            "extra_headers": {"Authorization": format!("Bearer {jwt}")},
            "metadata": {"user_api_key": openai_key},
            "messages": [
                {"role": "user", "content": format!("my key is {openai_key}, use it")},
                {"role": "assistant", "tool_calls": [{"function": {"name": "shell", "arguments": format!("{{\"cmd\": \"curl -H 'Authorization: Bearer {jwt}' https://x\", \"api_key\": \"{body_key}\"}}")}}]}
            ]
        });
        let mut headers = BTreeMap::new();
        headers.insert("authorization".to_string(), format!("Bearer {jwt}"));
        headers.insert("x-api-key".to_string(), body_key.to_string());
        headers.insert("set-cookie".to_string(), cookie.to_string());
        headers.insert(
            "x-ratelimit-remaining-tokens".to_string(),
            "9000".to_string(),
        );
        headers.insert("x-request-id".to_string(), "req-123".to_string());
        r.attempts = vec![
            AttemptReport {
                attempt: 1,
                status: Some(401),
                headers: headers.clone(),
                fault: Some(Fault::HttpStatus {
                    status: 401,
                    message: format!("Incorrect API key provided: {openai_key}"),
                    retry_after_ms: None,
                }),
                raw_body: Some(format!(
                    "{{\"error\": {{\"message\": \"Incorrect API key provided: {openai_key}\", \"api_key\": \"{body_key}\"}}}}"
                )),
                ..AttemptReport::default()
            },
            AttemptReport {
                attempt: 2,
                status: Some(200),
                headers,
                raw_body: Some(format!(
                    "data: {{\"choices\":[{{\"delta\":{{\"content\":\"token {jwt}\"}}}}], \"api_key\": \"{body_key}\"}}\n\ndata: {{\"error\": \"Authorization: Bearer {jwt}\"\n"
                )),
                raw_body_truncated: true,
                ..AttemptReport::default()
            },
        ];
        r.outcome = Outcome::Failed {
            code: "invalid_prompt".into(),
            message: format!(
                "codex-litellm (litellm): the backend answered HTTP 401: Incorrect API key provided: {openai_key}"
            ),
            fault: Fault::HttpStatus {
                status: 401,
                message: format!("Incorrect API key provided: {openai_key}"),
                retry_after_ms: None,
            },
        };
        telemetry.on_exchange(&r);
        assert!(telemetry.flush());
        let text = fs::read_to_string(tmp.path().join("20260301T101500-secrets.jsonl"))
            .unwrap_or_default();
        assert!(!text.is_empty());
        for secret in [
            openai_key,
            "Xy7Qm2Lk9Pz4",
            jwt,
            "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9",
            url_key,
            body_key,
            password,
            "CookieVal-77aa",
        ] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
        // Useful, non-secret data survives.
        let line: Value = serde_json::from_str(text.trim()).unwrap_or_default();
        assert_eq!(line["request_body"]["max_tokens"], json!(4096));
        assert_eq!(line["request_body"]["api_key"], json!("[REDACTED]"));
        assert_eq!(
            line["url"],
            json!(
                "https://[REDACTED]@gateway.example.com/v1/chat/completions?api_key=[REDACTED]&api-version=2024-10-01"
            )
        );
        assert_eq!(
            line["attempts"][0]["headers"]["authorization"],
            json!("[REDACTED]")
        );
        assert_eq!(
            line["attempts"][0]["headers"]["x-ratelimit-remaining-tokens"],
            json!("9000")
        );
        assert_eq!(
            line["attempts"][0]["headers"]["x-request-id"],
            json!("req-123")
        );
        assert_eq!(line["usage"]["input_tokens"], json!(100));
        assert_eq!(
            line["diagnosis"],
            json!(
                "authentication failed (HTTP 401, check the API key): Incorrect API key provided: [REDACTED] — gave up after 2 attempts"
            )
        );
    }
}
