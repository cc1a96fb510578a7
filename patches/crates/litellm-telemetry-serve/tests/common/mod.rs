//! Fixture telemetry and a dashboard server on a free loopback port.

#![allow(dead_code)]

use codex_litellm_telemetry_serve::server;
use serde_json::Value;
use serde_json::json;
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use std::time::SystemTime;

pub const SESSION: &str = "019a7c3e-5b1f-7d20-a3c4-0e5f6a7b8c9d";
pub const EARLIER: &str = "0b1c2d3e-0000-7000-8000-000000000001";
pub const SESSION_FILE: &str = "20260301T101500-019a7c3e-5b1f-7d20-a3c4-0e5f6a7b8c9d.jsonl";
pub const EARLIER_FILE: &str = "20260228T101500-0b1c2d3e-0000-7000-8000-000000000001.jsonl";
const T0: u64 = 1_772_360_100_000; // 2026-03-01T10:15:00Z

/// RFC 3339 UTC, as the writer stamps records.
fn time(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rest) = ((secs / 86_400) as i64, secs % 86_400);
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rest / 3600,
        rest / 60 % 60,
        rest % 60,
        ms % 1000
    )
}

fn ok_attempt(n: u32, total: u64) -> Value {
    json!({"attempt": n, "status": 200, "headers": {"x-request-id": format!("req-{n}")},
        "headers_ms": 180, "first_byte_ms": 240, "total_ms": total, "bytes": 5121,
        "chunks": 40, "done_marker": true})
}

fn limited_attempt(n: u32, wait: Option<u64>) -> Value {
    let mut a = json!({"attempt": n, "status": 429, "total_ms": 44, "bytes": 87, "chunks": 0,
        "done_marker": false, "fault": {"kind": "http_status",
        "description": "the backend answered HTTP 429 Too Many Requests: Too Many Requests",
        "status": 429, "message": "Too Many Requests"}});
    if let Some(ms) = wait {
        a["retry_wait_ms"] = json!(ms);
        a["retry_wait_reason"] = json!(format!("retry-after {ms}ms"));
    }
    a
}

/// One record as the writer lays it out (level summary).
pub fn record(session: &str, at: u64, turn: &str, model: &str, rest: Value) -> Value {
    let mut r = json!({"v": 1, "time": time(at), "started_at_ms": at, "session_id": session,
        "turn_id": turn, "provider": "LiteLLM", "url": "http://localhost:4000/v1/chat/completions",
        "mode": "buffered", "model": model,
        "request": {"input_items": 7, "messages": 7, "tools": 9, "stream": true, "bytes": 48211}});
    if let (Some(r), Some(rest)) = (r.as_object_mut(), rest.as_object()) {
        for (k, v) in rest {
            r.insert(k.clone(), v.clone());
        }
    }
    r
}

pub fn session_records() -> Vec<Value> {
    vec![
        record(
            SESSION,
            T0,
            "4f2a91c0-aaaa",
            "qwen3-coder",
            json!({
            "attempts": [ok_attempt(1, 2090)], "retries": 0, "continuations": 0,
            "finish_reason": "tool_calls",
            "usage": {"input_tokens": 12100, "cached_input_tokens": 8000, "output_tokens": 311, "reasoning_output_tokens": 120, "total_tokens": 12411},
            "outcome": {"status": "completed"}, "total_ms": 2104,
            "diagnosis": "completed (tool_calls) in 2.1s, 1 attempt", "diagnosis_kind": "completed"}),
        ),
        record(
            SESSION,
            T0 + 4_000,
            "4f2a91c0-aaaa",
            "qwen3-coder",
            json!({
            "attempts": [limited_attempt(1, Some(1000)), ok_attempt(2, 3100)], "retries": 1,
            "continuations": 0, "finish_reason": "stop",
            "usage": {"input_tokens": 12600, "cached_input_tokens": 12000, "output_tokens": 95, "reasoning_output_tokens": 0, "total_tokens": 12695},
            "outcome": {"status": "completed"}, "total_ms": 4230,
            "diagnosis": "completed (stop) in 4.2s after 1 retry (rate limited 429: waited 1.0s as Retry-After said)",
            "diagnosis_kind": "completed_after_retries"}),
        ),
        record(
            SESSION,
            T0 + 61_000,
            "9c1d22e7-bbbb",
            "qwen3-coder",
            json!({
            "attempts": [ok_attempt(1, 30000)], "retries": 0, "continuations": 0,
            "finish_reason": "length", "max_output_tokens": 4096,
            "usage": {"input_tokens": 13000, "cached_input_tokens": 12000, "output_tokens": 4096, "reasoning_output_tokens": 0, "total_tokens": 17096},
            "outcome": {"status": "truncated"}, "total_ms": 30020,
            "diagnosis": "cut off by the output limit (max_tokens 4096)", "diagnosis_kind": "truncated"}),
        ),
        rate_limited_record(SESSION, T0 + 95_000, "c3e8f0a1-cccc", "glm-4.6"),
    ]
}

pub fn rate_limited_record(session: &str, at: u64, turn: &str, model: &str) -> Value {
    record(
        session,
        at,
        turn,
        model,
        json!({
        "attempts": [limited_attempt(1, Some(30000)), limited_attempt(2, Some(30000)), limited_attempt(3, Some(30000)), limited_attempt(4, None)],
        "retries": 3, "continuations": 0,
        "outcome": {"status": "failed", "code": "rate_limit_exceeded", "message": "codex-litellm (litellm): rate limited",
            "fault": {"kind": "http_status", "description": "the backend answered HTTP 429 Too Many Requests: Too Many Requests", "status": 429, "message": "Too Many Requests"}},
        "total_ms": 90480,
        "diagnosis": "rate limited (HTTP 429) — gave up after 4 attempts; last Retry-After 30s",
        "diagnosis_kind": "rate_limited"}),
    )
}

pub fn earlier_records() -> Vec<Value> {
    let fault = json!({"kind": "connect", "description": "connection refused (is the gateway running?)", "detail": "tcp connect error: Connection refused (os error 111)"});
    vec![record(
        EARLIER,
        T0 - 86_400_000 + 60_000,
        "77aa0000-turn",
        "qwen3-coder",
        json!({
        "attempts": (1..=4).map(|n| json!({"attempt": n, "total_ms": 120, "bytes": 0, "chunks": 0, "done_marker": false, "fault": fault})).collect::<Vec<_>>(),
        "retries": 3, "continuations": 0,
        "outcome": {"status": "failed", "code": "backend_error", "message": "codex-litellm (litellm): could not connect", "fault": fault},
        "total_ms": 1650,
        "diagnosis": "connection refused (is the gateway running?) — gave up after 4 attempts",
        "diagnosis_kind": "connect"}),
    )]
}

pub fn write_lines(path: &Path, records: &[Value]) {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap_or_else(|e| panic!("{e}"));
    for r in records {
        writeln!(file, "{r}").unwrap_or_else(|e| panic!("{e}"));
    }
}

pub fn append_raw(path: &Path, bytes: &[u8]) {
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .unwrap_or_else(|e| panic!("{e}"));
    file.write_all(bytes).unwrap_or_else(|e| panic!("{e}"));
}

/// Two sessions: an earlier one (ended an hour ago on a connect failure) and the one under
/// study (live: written just now), plus a file that is not telemetry.
pub fn fixture(dir: &Path) {
    let earlier = dir.join(EARLIER_FILE);
    write_lines(&earlier, &earlier_records());
    let hour_ago = SystemTime::now() - Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(&earlier)
        .and_then(|f| f.set_modified(hour_ago))
        .unwrap_or_else(|e| panic!("{e}"));
    write_lines(&dir.join(SESSION_FILE), &session_records());
    std::fs::write(dir.join("notes.txt"), "not telemetry\n").unwrap_or_else(|e| panic!("{e}"));
}

pub struct Dashboard {
    pub addr: SocketAddr,
    pub shared: Arc<server::Shared>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Dashboard {
    pub async fn start(dir: PathBuf, token: Option<&str>) -> Self {
        let shared = server::Shared::new(dir, token.map(str::to_string));
        let (tx, rx) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(server::serve(
            shared.clone(),
            SocketAddr::from(([127, 0, 0, 1], 0)),
            move |addr| {
                let _ = tx.send(addr);
            },
        ));
        let addr = rx
            .await
            .unwrap_or_else(|e| panic!("server did not start: {e}"));
        Dashboard { addr, shared, task }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub async fn get(&self, path: &str) -> (u16, String) {
        let response = reqwest::get(self.url(path))
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let status = response.status().as_u16();
        (status, response.text().await.unwrap_or_default())
    }

    pub async fn json(&self, path: &str) -> Value {
        let (status, body) = self.get(path).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
    }

    /// The session list once every file is counted.
    pub async fn indexed_sessions(&self) -> Value {
        for _ in 0..400 {
            let list = self.json("/api/sessions").await;
            if list["indexed"] == json!(true)
                && list["sessions"]
                    .as_array()
                    .is_some_and(|s| s.iter().all(|s| s["indexed"] == json!(true)))
            {
                return list;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("the folder was never fully indexed");
    }
}

impl Drop for Dashboard {
    fn drop(&mut self) {
        self.shared.stop();
        self.task.abort();
    }
}
