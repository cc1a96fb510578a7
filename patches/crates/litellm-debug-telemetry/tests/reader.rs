//! The reader against a telemetry folder written by the writer itself (plus a corrupt line
//! and an unrelated file), through `run_reader` exactly as `codex-litellm telemetry` calls it.

use codex_litellm_bridge::AttemptReport;
use codex_litellm_bridge::ExchangeObserver;
use codex_litellm_bridge::ExchangeReport;
use codex_litellm_bridge::Fault;
use codex_litellm_bridge::Outcome;
use codex_litellm_bridge::Usage;
use codex_litellm_bridge::postprocess::RecoveredCall;
use codex_litellm_bridge::request::RequestSummary;
use codex_litellm_debug_telemetry::DebugTelemetry;
use codex_litellm_debug_telemetry::DebugTelemetryConfig;
use codex_litellm_debug_telemetry::TelemetryLevel;
use codex_litellm_debug_telemetry::run_reader;
use pretty_assertions::assert_eq;
use serde_json::Value;
use serde_json::json;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

const SESSION: &str = "019a7c3e-5b1f-7d20-a3c4-0e5f6a7b8c9d";
const EARLIER: &str = "0b1c2d3e-0000-7000-8000-000000000001";
const T0: u64 = 1_772_360_100_000; // 2026-03-01T10:15:00Z

fn usage(input: u64, cached: u64, output: u64, reasoning: u64) -> Option<Usage> {
    Some(Usage {
        input_tokens: input,
        cached_input_tokens: cached,
        output_tokens: output,
        reasoning_output_tokens: reasoning,
        total_tokens: input + output,
    })
}

fn ok_attempt(n: u32, total_ms: u64) -> AttemptReport {
    let mut headers = BTreeMap::new();
    headers.insert("x-request-id".to_string(), format!("req-{n}"));
    AttemptReport {
        attempt: n,
        status: Some(200),
        headers,
        headers_ms: Some(180),
        first_byte_ms: Some(240),
        total_ms,
        bytes: 5121,
        chunks: 40,
        done_marker: true,
        ..AttemptReport::default()
    }
}

fn failed_attempt(
    n: u32,
    status: Option<u16>,
    fault: Fault,
    wait: Option<(u64, &str)>,
) -> AttemptReport {
    AttemptReport {
        attempt: n,
        status,
        total_ms: 120,
        fault: Some(fault),
        retry_wait_ms: wait.map(|(ms, _)| ms),
        retry_wait_reason: wait.map(|(_, reason)| reason.to_string()),
        ..AttemptReport::default()
    }
}

fn base(session: &str, at: u64, turn: &str, model: &str) -> ExchangeReport {
    ExchangeReport {
        started_at_ms: at,
        session_id: Some(session.to_string()),
        turn_id: Some(turn.to_string()),
        provider: "litellm".into(),
        url: "http://localhost:4000/v1/chat/completions".into(),
        request: RequestSummary {
            model: model.into(),
            input_items: 7,
            messages: 7,
            tools: 9,
            stream: true,
            ..RequestSummary::default()
        },
        request_bytes: 48_211,
        ..ExchangeReport::default()
    }
}

fn rate_limited() -> Fault {
    Fault::HttpStatus {
        status: 429,
        message: "Too Many Requests".into(),
        retry_after_ms: Some(30_000),
    }
}

fn fixture(dir: &Path) {
    let telemetry = DebugTelemetry::new(DebugTelemetryConfig {
        level: TelemetryLevel::Summary,
        dir: dir.to_path_buf(),
        max_total_bytes: 50 * 1024 * 1024,
        max_raw_bytes: 1024,
    });
    // An earlier session: the gateway was down.
    let mut down = base(EARLIER, T0 - 86_400_000, "77aa0000-turn", "qwen3-coder");
    down.attempts = (1..=4)
        .map(|n| {
            failed_attempt(
                n,
                None,
                Fault::Connect {
                    detail: "tcp connect error: Connection refused (os error 111)".into(),
                },
                (n < 4).then_some((500, "backoff after connect")),
            )
        })
        .collect();
    down.outcome = Outcome::Failed {
        code: "backend_error".into(),
        message: "codex-litellm (litellm): could not connect".into(),
        fault: Fault::Connect {
            detail: "tcp connect error: Connection refused (os error 111)".into(),
        },
    };
    down.total_ms = 1_650;
    telemetry.on_exchange(&down);

    // The session under study.
    let mut e1 = base(SESSION, T0, "4f2a91c0-aaaa", "qwen3-coder");
    e1.attempts = vec![ok_attempt(1, 2_090)];
    e1.finish_reason = Some("tool_calls".into());
    e1.usage = usage(12_100, 8_000, 311, 120);
    e1.events = BTreeMap::from([
        ("response.created".to_string(), 1),
        ("response.output_item.done".to_string(), 2),
        ("response.completed".to_string(), 1),
    ]);
    e1.outcome = Outcome::Completed;
    e1.total_ms = 2_104;
    telemetry.on_exchange(&e1);

    let mut e2 = base(SESSION, T0 + 4_000, "4f2a91c0-aaaa", "qwen3-coder");
    e2.attempts = vec![
        failed_attempt(
            1,
            Some(429),
            Fault::HttpStatus {
                status: 429,
                message: "Too Many Requests".into(),
                retry_after_ms: Some(1_000),
            },
            Some((1_000, "retry-after 1000ms")),
        ),
        ok_attempt(2, 3_100),
    ];
    e2.finish_reason = Some("stop".into());
    e2.usage = usage(12_600, 12_000, 95, 0);
    e2.outcome = Outcome::Completed;
    e2.total_ms = 4_230;
    telemetry.on_exchange(&e2);

    let mut e3 = base(SESSION, T0 + 61_000, "9c1d22e7-bbbb", "qwen3-coder");
    e3.attempts = vec![ok_attempt(1, 30_000)];
    e3.finish_reason = Some("length".into());
    e3.usage = usage(13_000, 12_000, 4_096, 0);
    e3.max_output_tokens = Some(4_096);
    e3.outcome = Outcome::Truncated;
    e3.total_ms = 30_020;
    telemetry.on_exchange(&e3);

    let mut e4 = base(SESSION, T0 + 95_000, "9c1d22e7-bbbb", "qwen3-coder");
    e4.attempts = (1..=4)
        .map(|n| {
            failed_attempt(
                n,
                Some(429),
                rate_limited(),
                (n < 4).then_some((30_000, "retry-after 30000ms")),
            )
        })
        .collect();
    e4.outcome = Outcome::Failed {
        code: "rate_limit_exceeded".into(),
        message: "codex-litellm (litellm): rate limited".into(),
        fault: rate_limited(),
    };
    e4.total_ms = 90_480;
    telemetry.on_exchange(&e4);

    let mut e5 = base(SESSION, T0 + 200_000, "c3e8f0a1-cccc", "glm-4.6");
    e5.attempts = vec![failed_attempt(
        1,
        Some(200),
        Fault::StreamCut {
            at_byte: 5_121,
            detail: "connection closed".into(),
        },
        None,
    )];
    e5.outcome = Outcome::Failed {
        code: "backend_error".into(),
        message: "codex-litellm (litellm): cut".into(),
        fault: Fault::StreamCut {
            at_byte: 5_121,
            detail: "connection closed".into(),
        },
    };
    e5.total_ms = 7_700;
    telemetry.on_exchange(&e5);

    let mut e6 = base(SESSION, T0 + 230_000, "c3e8f0a1-cccc", "glm-4.6");
    e6.attempts = vec![ok_attempt(1, 1_800)];
    e6.finish_reason = Some("stop".into());
    e6.usage = usage(9_400, 0, 210, 0);
    e6.recovered_tool_calls = vec![RecoveredCall {
        name: "shell".into(),
        syntax: "tool_call_tag",
    }];
    e6.outcome = Outcome::Completed;
    e6.total_ms = 1_812;
    telemetry.on_exchange(&e6);

    let mut e7 = base(SESSION, T0 + 240_000, "d4f9a1b2-dddd", "glm-4.6");
    e7.attempts = vec![ok_attempt(1, 3_150)];
    e7.outcome = Outcome::Cancelled;
    e7.total_ms = 3_200;
    telemetry.on_exchange(&e7);

    assert!(telemetry.flush());
    // A line cut in half (e.g. the disk filled up) and a file that is not ours.
    let path = dir.join(format!("20260301T101500-{SESSION}.jsonl"));
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .unwrap_or_else(|e| panic!("{e}"));
    file.write_all(b"{\"v\":1,\"time\":\"2026-03-01T10:20")
        .unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.join("README.txt"), "not telemetry").unwrap_or_else(|e| panic!("{e}"));
}

fn run(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let mut full = vec!["--dir".to_string(), dir.display().to_string()];
    full.extend(args.iter().map(ToString::to_string));
    let mut out = Vec::new();
    let mut err = Vec::new();
    let code = run_reader(full, &mut out, &mut err);
    (
        code,
        String::from_utf8_lossy(&out).into_owned(),
        String::from_utf8_lossy(&err).into_owned(),
    )
}

fn folder() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    fixture(tmp.path());
    tmp
}

#[test]
fn list_sessions() {
    let tmp = folder();
    let (code, out, err) = run(tmp.path(), &["list"]);
    assert_eq!(code, 0);
    insta::assert_snapshot!("list", out);
    assert_eq!(
        err,
        format!("note: skipped 1 unreadable line in 20260301T101500-{SESSION}.jsonl\n")
    );
    // `list` is the default command.
    assert_eq!(run(tmp.path(), &[]).1, out);
}

#[test]
fn show_a_session_as_a_table() {
    let tmp = folder();
    let (code, out, err) = run(tmp.path(), &["show", "last"]);
    assert_eq!(code, 0, "{err}");
    insta::assert_snapshot!("show", out);
    assert!(err.contains("skipped 1 unreadable line"));
    // Same session by id prefix, by file name, and by default.
    for selector in [
        "019a",
        "20260301T101500-019a7c3e-5b1f-7d20-a3c4-0e5f6a7b8c9d.jsonl",
        "20260301T101500-019a7c3e-5b1f-7d20-a3c4-0e5f6a7b8c9d",
    ] {
        assert_eq!(run(tmp.path(), &["show", selector]).1, out, "{selector}");
    }
    assert_eq!(run(tmp.path(), &["show"]).1, out);
}

#[test]
fn show_one_exchange_in_full() {
    let tmp = folder();
    let (code, out, _) = run(tmp.path(), &["exchange", "019a", "2"]);
    assert_eq!(code, 0);
    let value: Value = serde_json::from_str(&out).unwrap_or_default();
    assert_eq!(value["turn_id"], json!("4f2a91c0-aaaa"));
    assert_eq!(value["retries"], json!(1));
    assert_eq!(value["attempts"][0]["status"], json!(429));
    assert_eq!(
        value["attempts"][0]["retry_wait_reason"],
        json!("retry-after 1000ms")
    );
    assert_eq!(value["attempts"][0]["fault"]["kind"], json!("http_status"));
    assert_eq!(
        value["attempts"][1]["headers"]["x-request-id"],
        json!("req-2")
    );
    assert_eq!(
        value["diagnosis"],
        json!(
            "completed (stop) in 4.2s after 1 retry (rate limited 429: waited 1.0s as Retry-After said)"
        )
    );
    // Pretty, in field order.
    assert!(out.starts_with("{\n  \"v\": 1,\n  \"time\": \"2026-03-01T10:15:04.000Z\","));
    let (code, last, _) = run(tmp.path(), &["exchange", "last", "last"]);
    assert_eq!(code, 0);
    assert!(last.contains("\"diagnosis\": \"cancelled by the user after 3.2s\""));
}

#[test]
fn summarize_per_model() {
    let tmp = folder();
    let (code, out, _) = run(tmp.path(), &["summary"]);
    assert_eq!(code, 0);
    insta::assert_snapshot!("summary", out);
    let (code, all, _) = run(tmp.path(), &["summary", "--all"]);
    assert_eq!(code, 0);
    insta::assert_snapshot!("summary_all", all);
}

#[test]
fn clear_errors() {
    let tmp = folder();
    let missing = tmp.path().join("nope");
    let (code, out, err) = run(&missing, &["list"]);
    assert_eq!((code, out.as_str()), (1, ""));
    assert!(err.starts_with("no telemetry folder at "), "{err}");
    assert!(err.contains("nope"), "{err}");

    let (code, _, err) = run(tmp.path(), &["show", "ffff"]);
    assert_eq!(code, 1);
    assert_eq!(
        err,
        "no session matches `ffff` (use an id prefix, a file name or `last`; `list` shows them)\n"
    );

    let (code, _, err) = run(tmp.path(), &["show", "0"]);
    assert_eq!(code, 1);
    assert!(err.starts_with("`0` matches 2 sessions: "), "{err}");

    let (code, _, err) = run(tmp.path(), &["exchange", "019a", "9"]);
    assert_eq!(code, 1);
    assert_eq!(
        err,
        format!("20260301T101500-{SESSION}.jsonl has 7 exchanges; there is no exchange 9\n")
    );
    let (code, _, err) = run(tmp.path(), &["exchange", "019a", "x"]);
    assert_eq!(code, 1);
    assert_eq!(err, "`x` is not an exchange number (1..7 or `last`)\n");

    let (code, _, err) = run(tmp.path(), &["frobnicate"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("unrecognized subcommand 'frobnicate'"),
        "{err}"
    );

    let (code, out, _) = run(tmp.path(), &["--help"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("Usage: codex-litellm telemetry [OPTIONS] [COMMAND]"),
        "{out}"
    );

    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap_or_else(|e| panic!("{e}"));
    let (code, out, _) = run(&empty, &["list"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("no sessions recorded in "));
    let (code, _, err) = run(&empty, &["show"]);
    assert_eq!(code, 1);
    assert_eq!(err, "no sessions recorded yet\n");
}

#[test]
fn a_later_dir_option_wins() {
    let tmp = folder();
    let mut out = Vec::new();
    let mut err = Vec::new();
    let args = vec![
        "--dir".to_string(),
        "/definitely/not/here".to_string(),
        "show".to_string(),
        "--dir".to_string(),
        tmp.path().display().to_string(),
    ];
    assert_eq!(
        run_reader(args, &mut out, &mut err),
        0,
        "{}",
        String::from_utf8_lossy(&err)
    );
}
