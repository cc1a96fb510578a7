//! The dashboard's JSON endpoints over fixture telemetry, through a real server on a free
//! loopback port.

mod common;

use common::*;
use pretty_assertions::assert_eq;
use serde_json::Value;
use serde_json::json;
use std::time::Duration;

fn session<'a>(list: &'a Value, name: &str) -> &'a Value {
    list["sessions"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["name"] == json!(name)))
        .unwrap_or_else(|| panic!("{name} not listed: {list}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_are_listed_newest_first_with_counts_and_state() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    fixture(dir.path());
    let dash = Dashboard::start(dir.path().to_path_buf(), None).await;
    let list = dash.indexed_sessions().await;
    let names: Vec<&str> = list["sessions"]
        .as_array()
        .map(|s| s.iter().filter_map(|s| s["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(names, vec![SESSION_FILE, EARLIER_FILE]);

    let s = session(&list, SESSION_FILE);
    assert_eq!(
        (
            &s["session_id"],
            &s["started"],
            &s["models"],
            &s["provider"],
            &s["turns"],
            &s["requests"],
        ),
        (
            &json!(SESSION),
            &json!("2026-03-01 10:15:00"),
            &json!(["glm-4.6", "qwen3-coder"]),
            &json!("LiteLLM"),
            &json!(3),
            &json!(4),
        )
    );
    assert_eq!(
        (
            &s["input_tokens"],
            &s["output_tokens"],
            &s["retries"],
            &s["errors"],
            &s["state"],
        ),
        (
            &json!(12100 + 12600 + 13000),
            &json!(311 + 95 + 4096),
            &json!(4),
            &json!(1),
            &json!("live"),
        )
    );
    let earlier = session(&list, EARLIER_FILE);
    assert_eq!(earlier["state"], json!("stopped"));
    assert_eq!(
        earlier["reason"],
        json!("connection refused (is the gateway running?) — gave up after 4 attempts")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_shows_turns_requests_and_why_each_turn_ended() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    fixture(dir.path());
    let dash = Dashboard::start(dir.path().to_path_buf(), None).await;
    let view = dash.json(&format!("/api/sessions/{SESSION_FILE}")).await;
    let turns = view["turns"].as_array().cloned().unwrap_or_default();
    let shape: Vec<(usize, String)> = turns
        .iter()
        .map(|t| {
            (
                t["requests"].as_array().map_or(0, Vec::len),
                t["diagnosis"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(
        shape,
        vec![
            (
                2,
                "completed (stop) in 4.2s after 1 retry (rate limited 429: waited 1.0s as Retry-After said)".to_string()
            ),
            (1, "cut off by the output limit (max_tokens 4096)".to_string()),
            (
                1,
                "rate limited (HTTP 429) — gave up after 4 attempts; last Retry-After 30s".to_string()
            ),
        ]
    );
    let failed = &turns[2]["requests"][0];
    assert_eq!(
        failed,
        &json!({
            "n": 4, "time": "2026-03-01T10:16:35.000Z", "started_at_ms": 1_772_360_195_000u64,
            "turn_id": "c3e8f0a1-cccc", "model": "glm-4.6", "provider": "LiteLLM",
            "outcome": "failed", "http_status": 429, "first_byte_ms": null, "total_ms": 90480,
            "input_tokens": null, "output_tokens": null, "attempts": 4, "retries": 3,
            "finish_reason": null, "fault_kind": "http_status",
            "diagnosis": "rate limited (HTTP 429) — gave up after 4 attempts; last Retry-After 30s",
            "diagnosis_kind": "rate_limited", "error": true
        })
    );
    let first = &turns[0]["requests"][0];
    assert_eq!(
        (
            &first["first_byte_ms"],
            &first["total_ms"],
            &first["finish_reason"]
        ),
        (&json!(240), &json!(2104), &json!("tool_calls"))
    );
    assert_eq!(
        view["models"],
        json!([
            {"model": "glm-4.6", "requests": 1, "input_tokens": 0, "output_tokens": 0, "retries": 3, "errors": 1, "total_ms": 90480},
            {"model": "qwen3-coder", "requests": 3, "input_tokens": 37700, "output_tokens": 4502, "retries": 1, "errors": 0, "total_ms": 36354}
        ])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_opens_to_exactly_what_was_stored() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    fixture(dir.path());
    let dash = Dashboard::start(dir.path().to_path_buf(), None).await;
    let stored = dash
        .json(&format!("/api/sessions/{SESSION_FILE}/requests/2"))
        .await;
    assert_eq!(stored, session_records()[1]);
    let (status, body) = dash
        .get(&format!("/api/sessions/{SESSION_FILE}/requests/9"))
        .await;
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("has no request 9"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_looks_in_the_stored_text() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    fixture(dir.path());
    let dash = Dashboard::start(dir.path().to_path_buf(), None).await;
    // Only in the stored attempts (headers, fault messages), not in the summary rows.
    let view = dash
        .json(&format!("/api/sessions/{SESSION_FILE}?q=TOO%20many"))
        .await;
    assert_eq!(view["matches"], json!([2, 4]));
    let view = dash
        .json(&format!("/api/sessions/{SESSION_FILE}?q=req-2"))
        .await;
    assert_eq!(view["matches"], json!([2]));
    let view = dash.json(&format!("/api/sessions/{SESSION_FILE}")).await;
    assert_eq!(view["matches"], Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_outside_the_folder_can_be_read() {
    let root = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let dir = root.path().join("telemetry");
    std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("{e}"));
    fixture(&dir);
    // A valid-looking session file next to the folder, and a link to it inside.
    let outside = root.path().join("20260301T000000-outside.jsonl");
    let mut secret = session_records()[0].clone();
    secret["model"] = json!("OUTSIDE-SECRET");
    write_lines(&outside, &[secret]);
    #[cfg(unix)]
    std::os::unix::fs::symlink(&outside, dir.join("20260301T000001-link.jsonl"))
        .unwrap_or_else(|e| panic!("{e}"));
    let dash = Dashboard::start(dir.clone(), None).await;

    let list = dash.indexed_sessions().await;
    assert!(!list.to_string().contains("OUTSIDE-SECRET"), "{list}");
    for path in [
        "/api/sessions/..%2F20260301T000000-outside.jsonl",
        "/api/sessions/..%2F..%2F..%2Fetc%2Fpasswd",
        "/api/sessions/%2Fetc%2Fpasswd",
        "/api/sessions/..",
        "/api/sessions/20260301T000001-link.jsonl",
        "/api/sessions/20260301T000001-link.jsonl/requests/1",
        "/api/sessions/..%2F20260301T000000-outside.jsonl/requests/1",
        "/api/sessions/notes.txt",
        "/../20260301T000000-outside.jsonl",
        "/..%2F20260301T000000-outside.jsonl",
        "/etc/passwd",
        "/app.js/..%2F..%2FCargo.toml",
    ] {
        let (status, body) = dash.get(path).await;
        assert_eq!(status, 404, "{path}: {body}");
        assert!(!body.contains("OUTSIDE-SECRET"), "{path}: {body}");
        assert!(!body.contains("root:"), "{path}: {body}");
    }
}

/// Every file's name, size, time and bytes.
fn snapshot(dir: &std::path::Path) -> Vec<(String, u64, std::time::SystemTime, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{e}"))
        .filter_map(Result::ok)
        .map(|e| {
            let meta = e.metadata().unwrap_or_else(|e| panic!("{e}"));
            (
                e.file_name().to_string_lossy().into_owned(),
                meta.len(),
                meta.modified().unwrap_or_else(|e| panic!("{e}")),
                std::fs::read(e.path()).unwrap_or_default(),
            )
        })
        .collect();
    files.sort();
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serving_never_changes_the_folder() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    fixture(dir.path());
    let before = snapshot(dir.path());
    let dash = Dashboard::start(dir.path().to_path_buf(), None).await;
    dash.indexed_sessions().await;
    for path in [
        "/".to_string(),
        format!("/api/sessions/{SESSION_FILE}?q=x"),
        format!("/api/sessions/{SESSION_FILE}/requests/1"),
        format!("/api/sessions/{EARLIER_FILE}"),
    ] {
        assert_eq!(dash.get(&path).await.0, 200, "{path}");
    }
    drop(dash);
    assert_eq!(snapshot(dir.path()), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_guards_the_data_but_not_the_page() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    fixture(dir.path());
    let dash = Dashboard::start(dir.path().to_path_buf(), Some("s3cret-token-value")).await;
    assert_eq!(dash.get("/api/sessions").await.0, 401);
    assert_eq!(dash.get("/api/sessions?token=s3cret").await.0, 401);
    assert_eq!(
        dash.get("/api/sessions?token=s3cret-token-valuE").await.0,
        401
    );
    assert_eq!(dash.get("/api/events").await.0, 401);
    assert_eq!(
        dash.get(&format!("/api/sessions/{SESSION_FILE}")).await.0,
        401
    );
    assert_eq!(
        dash.get("/api/sessions?token=s3cret-token-value").await.0,
        200
    );
    let client = reqwest::Client::new();
    let response = client
        .get(dash.url("/api/sessions"))
        .header("Authorization", "Bearer s3cret-token-value")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(response.status().as_u16(), 200);
    // The page and its script carry no data; they read the token from the URL.
    assert_eq!(dash.get("/").await.0, 200);
    assert_eq!(dash.get("/app.js").await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_token_only_loopback_host_names_are_answered() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    fixture(dir.path());
    let dash = Dashboard::start(dir.path().to_path_buf(), None).await;
    let client = reqwest::Client::new();
    for (host, expected) in [
        ("evil.example:8888", 403),
        ("127.0.0.1.evil.example", 403),
        ("localhost:8888", 200),
        ("[::1]:8888", 200),
    ] {
        let response = client
            .get(dash.url("/api/sessions"))
            .header("Host", host)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(response.status().as_u16(), expected, "Host: {host}");
    }
}

#[test]
fn a_non_loopback_bind_without_a_token_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = codex_litellm_telemetry_serve::run(
        "codex-litellm telemetry",
        [
            "--dir",
            &dir.path().display().to_string(),
            "serve",
            "--bind",
            "0.0.0.0",
            "--port",
            "0",
        ]
        .map(str::to_string)
        .to_vec(),
        &mut out,
        &mut err,
    );
    let err = String::from_utf8_lossy(&err);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("refusing to serve telemetry on 0.0.0.0 without a token"),
        "{err}"
    );
    assert!(out.is_empty());
}

/// Reads server-sent events until `until` accepts one (or gives up after a long while).
async fn next_events(
    response: &mut reqwest::Response,
    buffer: &mut String,
    mut until: impl FnMut(&Value) -> bool,
) -> Vec<Value> {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        while let Some(end) = buffer.find("\n\n") {
            let event: String = buffer.drain(..end + 2).collect();
            for line in event.lines() {
                if let Some(data) = line.strip_prefix("data: ")
                    && let Ok(value) = serde_json::from_str::<Value>(data)
                {
                    let done = until(&value);
                    seen.push(value);
                    if done {
                        return seen;
                    }
                }
            }
        }
        let chunk = tokio::time::timeout_at(deadline, response.chunk())
            .await
            .unwrap_or_else(|_| panic!("no matching event; saw {seen:?}"))
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("event stream ended; saw {seen:?}"));
        buffer.push_str(&String::from_utf8_lossy(&chunk));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_records_are_pushed_and_a_torn_line_is_waited_for() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    fixture(dir.path());
    let dash = Dashboard::start(dir.path().to_path_buf(), None).await;
    dash.indexed_sessions().await;
    let mut events = reqwest::get(dash.url("/api/events"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        events
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("text/event-stream")
    );
    let mut buffer = String::new();

    // Half a record: the writer is mid-line.
    let path = dir.path().join(SESSION_FILE);
    let fifth = rate_limited_record(SESSION, 1_772_360_400_000, "d4f9a1b2-dddd", "glm-4.6");
    let line = format!("{fifth}\n");
    let (head, tail) = line.split_at(line.len() / 2);
    append_raw(&path, head.as_bytes());
    let seen = next_events(&mut events, &mut buffer, |e| {
        e["kind"] == json!("session") && e["name"] == json!(SESSION_FILE)
    })
    .await;
    assert!(
        seen.iter().all(|e| e["kind"] != json!("request")),
        "{seen:?}"
    );
    let view = dash.json(&format!("/api/sessions/{SESSION_FILE}")).await;
    assert_eq!(
        (&view["requests"], &view["skipped"]),
        (&json!(4), &json!(0))
    );

    append_raw(&path, tail.as_bytes());
    let seen = next_events(&mut events, &mut buffer, |e| e["kind"] == json!("request")).await;
    let request = &seen[seen.len() - 1];
    assert_eq!(
        (
            &request["session"],
            &request["request"]["n"],
            &request["request"]["http_status"],
            &request["request"]["diagnosis_kind"],
        ),
        (
            &json!(SESSION_FILE),
            &json!(5),
            &json!(429),
            &json!("rate_limited")
        )
    );

    // A session started while the page is open: it appears, with its request.
    let new_file = "20260301T110000-11111111-2222-7333-8444-555555555555.jsonl";
    let mut first = session_records()[0].clone();
    first["session_id"] = json!("11111111-2222-7333-8444-555555555555");
    write_lines(&dir.path().join(new_file), &[first]);
    let seen = next_events(&mut events, &mut buffer, |e| {
        e["kind"] == json!("session") && e["name"] == json!(new_file)
    })
    .await;
    assert!(
        seen.iter()
            .any(|e| e["kind"] == json!("request") && e["session"] == json!(new_file)),
        "{seen:?}"
    );
    let list = dash.json("/api/sessions").await;
    assert_eq!(list["sessions"][0]["name"], json!(new_file));
    assert_eq!(list["sessions"][0]["requests"], json!(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_session_shows_its_latest_requests_and_counts_them_all() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    fixture(dir.path());
    let dash = Dashboard::start(dir.path().to_path_buf(), None).await;
    let view = dash
        .json(&format!(
            "/api/sessions/{SESSION_FILE}?limit=2&q=too%20many"
        ))
        .await;
    let shown: Vec<u64> = view["turns"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|t| t["requests"].as_array().cloned().unwrap_or_default())
        .filter_map(|r| r["n"].as_u64())
        .collect();
    assert_eq!(shown, vec![3, 4]);
    assert_eq!(
        (&view["requests"], &view["omitted"], &view["matches"]),
        (&json!(4), &json!(2), &json!([4]))
    );
    let requests: u64 = view["models"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["requests"].as_u64())
        .sum();
    assert_eq!(requests, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_the_writer_writes_shows_live_with_its_diagnosis() {
    use codex_litellm_bridge::AttemptReport;
    use codex_litellm_bridge::ExchangeObserver;
    use codex_litellm_bridge::ExchangeReport;
    use codex_litellm_bridge::Fault;
    use codex_litellm_bridge::Outcome;
    use codex_litellm_bridge::request::RequestSummary;
    use codex_litellm_debug_telemetry::DebugTelemetry;
    use codex_litellm_debug_telemetry::DebugTelemetryConfig;
    use codex_litellm_debug_telemetry::TelemetryLevel;

    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let folder = dir.path().join("litellm");
    std::fs::create_dir(&folder).unwrap_or_else(|e| panic!("{e}"));
    let dash = Dashboard::start(folder.clone(), None).await;
    dash.indexed_sessions().await;
    let mut events = reqwest::get(dash.url("/api/events"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut buffer = String::new();

    let telemetry = DebugTelemetry::new(DebugTelemetryConfig {
        level: TelemetryLevel::Summary,
        dir: folder,
        max_total_bytes: 50 * 1024 * 1024,
        max_raw_bytes: 1024,
    });
    let fault = Fault::IdleStall {
        after_ms: 120_000,
        at_byte: 5_121,
    };
    let report = ExchangeReport {
        started_at_ms: 1_772_360_100_000,
        session_id: Some(SESSION.to_string()),
        turn_id: Some("4f2a91c0-aaaa".to_string()),
        provider: "litellm".into(),
        url: "http://localhost:4000/v1/chat/completions".into(),
        request: RequestSummary {
            model: "qwen3-coder".into(),
            stream: true,
            ..RequestSummary::default()
        },
        attempts: vec![AttemptReport {
            attempt: 1,
            status: Some(200),
            first_byte_ms: Some(300),
            total_ms: 125_000,
            bytes: 5_121,
            fault: Some(fault.clone()),
            ..AttemptReport::default()
        }],
        outcome: Outcome::Failed {
            code: "stream_stalled".into(),
            message: "stalled".into(),
            fault,
        },
        total_ms: 125_010,
        ..ExchangeReport::default()
    };
    telemetry.on_exchange(&report);
    assert!(telemetry.flush());

    let seen = next_events(&mut events, &mut buffer, |e| e["kind"] == json!("request")).await;
    let request = &seen[seen.len() - 1]["request"];
    assert_eq!(
        (
            &request["n"],
            &request["model"],
            &request["http_status"],
            &request["first_byte_ms"],
            &request["fault_kind"],
            &request["diagnosis_kind"],
            &request["error"],
        ),
        (
            &json!(1),
            &json!("qwen3-coder"),
            &json!(200),
            &json!(300),
            &json!("idle_stall"),
            &json!("stalled"),
            &json!(true),
        )
    );
    assert!(
        request["diagnosis"]
            .as_str()
            .is_some_and(|d| d.starts_with("stalled: no data for 120s")),
        "{request}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_folder_created_after_the_start_is_picked_up_live() {
    let parent = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let dir = parent.path().join("log/litellm");
    let dash = Dashboard::start(dir.clone(), None).await;
    let list = dash.json("/api/sessions").await;
    assert_eq!(
        (&list["sessions"], &list["error"]),
        (&json!([]), &json!(null))
    );
    let mut events = reqwest::get(dash.url("/api/events"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut buffer = String::new();
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    write_lines(&dir.join(SESSION_FILE), &session_records()[..1]);
    let seen = next_events(&mut events, &mut buffer, |e| e["kind"] == json!("request")).await;
    assert_eq!(seen[seen.len() - 1]["session"], json!(SESSION_FILE));
    let list = dash.json("/api/sessions").await;
    assert_eq!(list["sessions"][0]["requests"], json!(1));
}
