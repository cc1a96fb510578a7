//! Every fault the bridge recognises, produced by a real HTTP server on loopback: the
//! request is retried and completes, or fails with the code Codex understands and a message
//! that says what happened, within bounded time, without panicking.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use codex_litellm_bridge::Bridge;
use codex_litellm_bridge::BridgeMode;
use codex_litellm_bridge::BridgeOptions;
use codex_litellm_bridge::BridgeReply;
use codex_litellm_bridge::BridgeRequest;
use codex_litellm_bridge::ExchangeReport;
use codex_litellm_bridge::Outcome;
use codex_litellm_bridge::conformance::check_sse;
use codex_litellm_bridge::conformance::sse_payloads;
use codex_litellm_bridge_loopback_tests::Reports;
use codex_litellm_mock_llm::Framing;
use codex_litellm_mock_llm::MockLlm;
use codex_litellm_mock_llm::Response;
use codex_litellm_mock_llm::Scenario;
use codex_litellm_mock_llm::ToolCall;
use codex_litellm_mock_llm::UsageMode;
use http::HeaderMap;
use http::HeaderValue;
use pretty_assertions::assert_eq;
use serde_json::Value;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use std::time::Instant;

/// Fast settings so every fault resolves in well under a second per attempt. Buffered:
/// these tests are about retrying from scratch; live mode's own fault rules (text already
/// shown) are tested in tests/live.rs.
fn fast_options() -> BridgeOptions {
    BridgeOptions {
        mode: BridgeMode::Buffered,
        max_attempts: 3,
        retry_base_delay_ms: 10,
        retry_max_delay_ms: 50,
        max_retry_after_secs: 2,
        idle_timeout_secs: Some(1),
        request_timeout_secs: 10,
        ..BridgeOptions::default()
    }
}

struct Harness {
    mock: MockLlm,
    bridge: Bridge,
    reports: Arc<Reports>,
}

async fn harness(responses: Vec<Response>, options: BridgeOptions) -> Harness {
    let mock = MockLlm::start(Scenario::new(responses)).await.unwrap();
    let reports = Arc::new(Reports::default());
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let bridge = Bridge::new(client, options, "mock").with_observer(reports.clone());
    Harness {
        mock,
        bridge,
        reports,
    }
}

fn codex_body() -> Value {
    json!({
        "model": "mock-model",
        "instructions": "You are Codex.",
        "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}],
        "tools": [{"type": "function", "name": "shell", "parameters": {"type": "object", "properties": {"command": {"type": "array"}}, "required": ["command"]}}],
        "tool_choice": "auto",
        "parallel_tool_calls": true,
        "stream": true
    })
}

impl Harness {
    fn request(&self) -> BridgeRequest {
        let mut headers = HeaderMap::new();
        headers.insert(
            "authorization",
            HeaderValue::from_static("Bearer sk-test-secret"),
        );
        headers.insert("session_id", HeaderValue::from_static("sess-1"));
        BridgeRequest {
            url: format!("{}/responses", self.mock.base_url()),
            headers,
            body: codex_body(),
        }
    }

    /// Runs one request; returns the Responses events (checked against Codex's rules) and
    /// the single report.
    async fn run(&self) -> (Result<Vec<Value>, (u16, String)>, ExchangeReport, Duration) {
        let started = Instant::now();
        let reply =
            tokio::time::timeout(Duration::from_secs(30), self.bridge.respond(self.request()))
                .await
                .expect("the bridge must answer within bounded time");
        let events = match reply.into_bytes().await {
            Ok(bytes) => {
                check_sse(&bytes).unwrap_or_else(|violation| panic!("invalid stream: {violation}"));
                Ok(sse_payloads(&bytes).unwrap())
            }
            Err(error) => Err(error),
        };
        let elapsed = started.elapsed();
        let reports = self.reports.0.lock().unwrap().clone();
        assert_eq!(reports.len(), 1, "exactly one report per request");
        (events, reports[0].clone(), elapsed)
    }
}

fn terminal(events: &[Value]) -> &Value {
    events.last().unwrap()
}

fn completed_text(events: &[Value]) -> String {
    events
        .iter()
        .filter(|e| e["type"] == "response.output_item.done" && e["item"]["type"] == "message")
        .map(|e| {
            e["item"]["content"][0]["text"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

fn failure(events: &[Value]) -> (String, String) {
    let last = terminal(events);
    assert_eq!(last["type"], "response.failed", "{last}");
    (
        last["response"]["error"]["code"]
            .as_str()
            .unwrap()
            .to_string(),
        last["response"]["error"]["message"]
            .as_str()
            .unwrap()
            .to_string(),
    )
}

fn fault_kinds(report: &ExchangeReport) -> Vec<String> {
    report
        .attempts
        .iter()
        .map(|a| {
            a.fault
                .as_ref()
                .map(|f| f.kind().to_string())
                .unwrap_or_else(|| "ok".into())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn translated_request_reaches_the_backend_and_the_answer_completes() {
    let h = harness(
        vec![
            Response::text("Hello there")
                .with_usage(json!({"prompt_tokens": 12, "completion_tokens": 3})),
        ],
        fast_options(),
    )
    .await;
    let (events, report, _) = h.run().await;
    let events = events.unwrap();
    assert_eq!(completed_text(&events), "Hello there");
    assert_eq!(terminal(&events)["response"]["usage"]["input_tokens"], 12);
    let received = h.mock.chat_requests();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].path, "/v1/chat/completions");
    assert_eq!(
        received[0].header("authorization"),
        Some("Bearer ***"),
        "the key is forwarded"
    );
    assert_eq!(
        received[0].body["messages"][0],
        json!({"role": "system", "content": "You are Codex."})
    );
    assert_eq!(
        received[0].body["stream_options"],
        json!({"include_usage": true})
    );
    assert_eq!(report.outcome, Outcome::Completed);
    assert_eq!(report.session_id.as_deref(), Some("sess-1"));
    assert_eq!(fault_kinds(&report), ["ok"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limit_with_retry_after_is_waited_out_then_succeeds() {
    let h = harness(
        vec![
            Response::error(429, "Too many requests").with_header("retry-after", "1"),
            Response::text("after the wait"),
        ],
        fast_options(),
    )
    .await;
    let (events, report, elapsed) = h.run().await;
    assert_eq!(completed_text(&events.unwrap()), "after the wait");
    assert!(
        elapsed >= Duration::from_millis(950),
        "Retry-After 1s was honoured ({elapsed:?})"
    );
    assert_eq!(fault_kinds(&report), ["http_status", "ok"]);
    assert_eq!(report.attempts[0].retry_wait_ms, Some(1000));
    assert_eq!(
        report.attempts[0]
            .headers
            .get("retry-after")
            .map(String::as_str),
        Some("1")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn server_errors_are_retried_with_backoff() {
    let h = harness(
        vec![
            Response::error(500, "boom"),
            Response::error(503, "overloaded"),
            Response::text("third time lucky"),
        ],
        fast_options(),
    )
    .await;
    let (events, report, _) = h.run().await;
    assert_eq!(completed_text(&events.unwrap()), "third time lucky");
    assert_eq!(fault_kinds(&report), ["http_status", "http_status", "ok"]);
    assert_eq!(h.mock.chat_requests().len(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn retries_run_out_into_a_clean_failure() {
    let h = harness(vec![Response::error(502, "bad gateway"); 3], fast_options()).await;
    let (events, report, _) = h.run().await;
    let (code, message) = failure(&events.unwrap());
    // The budget is spent: a code Codex does not retry, so its retry loop adds nothing.
    assert_eq!(code, "invalid_prompt");
    assert!(
        message.contains("HTTP 502")
            && message.contains("bad gateway")
            && message.contains("3 attempts"),
        "{message}"
    );
    assert!(matches!(report.outcome, Outcome::Failed { .. }));
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limit_exhausted_tells_codex_when_to_try_again() {
    let h = harness(
        vec![Response::error(429, "slow down").with_header("retry-after", "1"); 3],
        fast_options(),
    )
    .await;
    let (events, _, _) = h.run().await;
    let (code, message) = failure(&events.unwrap());
    assert_eq!(code, "invalid_prompt");
    assert!(message.contains("Please try again in 1s"), "{message}");
}

/// The retry-after the user is told is capped like the wait (an HTTP date far ahead or
/// `1e9` would otherwise read as days).
#[tokio::test(flavor = "multi_thread")]
async fn rate_limit_message_caps_retry_after() {
    let options = BridgeOptions {
        max_attempts: 1,
        ..fast_options()
    };
    let h = harness(
        vec![Response::error(429, "slow down").with_header("retry-after", "1e9")],
        options,
    )
    .await;
    let (events, _, _) = h.run().await;
    let (_, message) = failure(&events.unwrap());
    assert!(message.contains("Please try again in 2s"), "{message}");
}

/// One retry budget per turn (issue: 24 requests and 31 s for a backend that puts
/// {"error"} in every 200 stream). With the default attempts and delays the backend sees
/// `max_attempts` requests, the bridge answers within the backoff sum, and the failure code
/// is one Codex does not retry, so its own loop re-sends nothing.
#[tokio::test(flavor = "multi_thread")]
async fn a_backend_that_always_fails_gets_one_budget_per_turn() {
    let always_failing = Response::sse(vec![
        json!({"error": {"message": "upstream exploded", "code": "500"}}),
    ]);
    let defaults = BridgeOptions {
        idle_timeout_secs: Some(5),
        ..BridgeOptions::default()
    };
    let h = harness(vec![always_failing; 10], defaults.clone()).await;
    let (events, report, elapsed) = h.run().await;
    let (code, message) = failure(&events.unwrap());
    assert_eq!(code, "invalid_prompt", "{message}");
    assert_eq!(h.mock.chat_requests().len(), defaults.max_attempts as usize);
    assert_eq!(report.attempts.len(), 4);
    // Backoff 0.5 + 1 + 2 s, +25% jitter at most: 4.4 s.
    assert!(
        elapsed < Duration::from_millis(4_375 + 1_500),
        "{elapsed:?}"
    );

    // The time half of the budget: a turn deadline shorter than the backoff ends the turn
    // before the next wait would pass it.
    let short = BridgeOptions {
        turn_timeout_secs: 1,
        ..defaults
    };
    let always_failing = Response::sse(vec![
        json!({"error": {"message": "upstream exploded", "code": "500"}}),
    ]);
    let h = harness(vec![always_failing; 10], short).await;
    let (events, _, elapsed) = h.run().await;
    let (code, _) = failure(&events.unwrap());
    assert_eq!(code, "invalid_prompt");
    assert!(
        h.mock.chat_requests().len() <= 2,
        "{}",
        h.mock.chat_requests().len()
    );
    assert!(elapsed < Duration::from_secs(1), "{elapsed:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn client_errors_are_not_retried_and_keep_the_backend_text() {
    for (status, text, expected_code) in [
        (400, "Invalid tool schema for 'shell'", "invalid_prompt"),
        (403, "key not allowed to access model", "invalid_prompt"),
        (404, "model mock-model not found", "invalid_prompt"),
        (
            400,
            "This model's maximum context length is 8192 tokens",
            "context_length_exceeded",
        ),
    ] {
        let h = harness(
            vec![Response::error(status, text), Response::text("never")],
            fast_options(),
        )
        .await;
        let (events, report, _) = h.run().await;
        let (code, message) = failure(&events.unwrap());
        assert_eq!(code, expected_code, "{status} {text}");
        assert!(
            message.contains(text) && message.contains(&format!("HTTP {status}")),
            "{message}"
        );
        assert_eq!(
            h.mock.chat_requests().len(),
            1,
            "{status} must not be retried"
        );
        assert_eq!(fault_kinds(&report), ["http_status"]);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn unauthorized_ends_the_turn_without_retry_for_a_static_key() {
    let h = harness(
        vec![
            Response::error(401, "Invalid API key"),
            Response::text("never"),
        ],
        fast_options(),
    )
    .await;
    let (events, _, _) = h.run().await;
    let (code, message) = failure(&events.unwrap());
    assert_eq!(code, "invalid_prompt", "Codex does not retry it");
    assert!(
        message.contains("Invalid API key") && message.contains("LITELLM_API_KEY"),
        "{message}"
    );
    assert!(!message.contains("sk-test-secret"));
    assert_eq!(h.mock.chat_requests().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn unauthorized_is_an_http_error_when_codex_can_refresh_the_token() {
    let mut h = harness(vec![Response::error(401, "token expired")], fast_options()).await;
    h.bridge = h.bridge.clone().with_refreshable_auth(true);
    let (result, _, _) = h.run().await;
    let (status, body) = result.unwrap_err();
    assert_eq!(status, 401);
    assert!(body.contains("token expired"), "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn error_object_inside_a_200_stream() {
    let transient = Response::sse(vec![
        json!({"choices": [{"index": 0, "delta": {"content": "par"}}]}),
        json!({"error": {"message": "litellm.ServiceUnavailableError: upstream overloaded", "code": "503"}}),
    ]);
    let h = harness(vec![transient, Response::text("recovered")], fast_options()).await;
    let (events, report, _) = h.run().await;
    assert_eq!(
        completed_text(&events.unwrap()),
        "recovered",
        "partial text before the error is discarded"
    );
    assert_eq!(fault_kinds(&report), ["error_in_stream", "ok"]);

    let permanent = Response::sse(vec![
        json!({"error": {"message": "litellm.BadRequestError: tools not supported", "code": "400"}}),
    ]);
    let h = harness(vec![permanent, Response::text("never")], fast_options()).await;
    let (events, _, _) = h.run().await;
    let (code, message) = failure(&events.unwrap());
    assert_eq!(code, "invalid_prompt");
    assert!(message.contains("tools not supported"), "{message}");
    assert_eq!(h.mock.chat_requests().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn stream_cut_before_finish_reason_is_retried_from_scratch() {
    let cut = Response::text("This answer will be cut off in the middle")
        .with_delta_chars(5)
        .with_cut_after_bytes(300);
    let h = harness(vec![cut, Response::text("whole answer")], fast_options()).await;
    let (events, report, _) = h.run().await;
    assert_eq!(completed_text(&events.unwrap()), "whole answer");
    assert_eq!(fault_kinds(&report), ["stream_cut", "ok"]);

    // A close-delimited body that simply ends early looks like a clean end: still a cut.
    let clean_cut = Response::text("cut")
        .with_framing(Framing::Close)
        .without_finish_reason()
        .without_done();
    let h = harness(vec![clean_cut, Response::text("ok")], fast_options()).await;
    let (_, report, _) = h.run().await;
    assert_eq!(fault_kinds(&report), ["stream_cut", "ok"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_done_or_a_socket_kept_open_is_accepted_after_finish_reason() {
    let h = harness(
        vec![Response::text("no done marker").without_done()],
        fast_options(),
    )
    .await;
    let (events, report, _) = h.run().await;
    assert_eq!(completed_text(&events.unwrap()), "no done marker");
    assert!(!report.attempts[0].done_marker);

    let open = Response::text("kept open")
        .without_done()
        .with_keep_open_after_done()
        .with_hold_open_max_ms(20_000);
    let h = harness(
        vec![open],
        BridgeOptions {
            idle_timeout_secs: Some(10),
            ..fast_options()
        },
    )
    .await;
    let (events, _, elapsed) = h.run().await;
    assert_eq!(completed_text(&events.unwrap()), "kept open");
    assert!(
        elapsed < Duration::from_secs(5),
        "accepted after the short grace, not the idle timeout ({elapsed:?})"
    );

    let after_done = Response::text("done then open")
        .with_keep_open_after_done()
        .with_hold_open_max_ms(20_000);
    let h = harness(
        vec![after_done],
        BridgeOptions {
            idle_timeout_secs: Some(10),
            ..fast_options()
        },
    )
    .await;
    let (_, _, elapsed) = h.run().await;
    assert!(
        elapsed < Duration::from_secs(2),
        "[DONE] ends the read at once ({elapsed:?})"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_stall_and_slow_headers_time_out_and_retry() {
    let stall = Response::text("stalls")
        .with_delta_chars(2)
        .with_stall_after_events(2)
        .with_hold_open_max_ms(10_000);
    let h = harness(vec![stall, Response::text("fresh")], fast_options()).await;
    let (events, report, _) = h.run().await;
    assert_eq!(completed_text(&events.unwrap()), "fresh");
    assert_eq!(fault_kinds(&report), ["idle_stall", "ok"]);

    let slow = Response::text("too slow").with_delay_ms(3_000);
    let h = harness(vec![slow, Response::text("fast")], fast_options()).await;
    let (events, report, _) = h.run().await;
    assert_eq!(completed_text(&events.unwrap()), "fast");
    assert_eq!(fault_kinds(&report), ["timeout", "ok"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_json_and_invalid_utf8_are_retried() {
    let malformed = Response::sse(vec![
        json!({"choices": [{"index": 0, "delta": {"content": "a"}}]}),
        json!("{not json"),
    ]);
    let h = harness(vec![malformed, Response::text("clean")], fast_options()).await;
    let (events, report, _) = h.run().await;
    assert_eq!(completed_text(&events.unwrap()), "clean");
    assert_eq!(fault_kinds(&report), ["malformed_chunk", "ok"]);

    let mut bytes = b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"".to_vec();
    bytes.extend([0xc3, 0x28]);
    bytes.extend(b"\"}}]}\n\n");
    let invalid = Response::raw_bytes(&bytes).with_header("content-type", "text/event-stream");
    let h = harness(vec![invalid, Response::text("valid")], fast_options()).await;
    let (events, report, _) = h.run().await;
    assert_eq!(completed_text(&events.unwrap()), "valid");
    assert_eq!(fault_kinds(&report), ["invalid_utf8", "ok"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_answers_are_refused_without_retry() {
    let big = Response::text("x".repeat(4000));
    let h = harness(
        vec![big, Response::text("never")],
        BridgeOptions {
            max_response_bytes: 2048,
            ..fast_options()
        },
    )
    .await;
    let (events, report, _) = h.run().await;
    let (code, message) = failure(&events.unwrap());
    assert_eq!(code, "invalid_prompt");
    assert!(message.contains("2048-byte limit"), "{message}");
    assert_eq!(fault_kinds(&report), ["too_large"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn connection_refused_fails_with_a_hint() {
    // Bind then drop a listener: nothing listens on that port any more.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let reports = Arc::new(Reports::default());
    let bridge = Bridge::new(
        reqwest::Client::builder().no_proxy().build().unwrap(),
        fast_options(),
        "mock",
    )
    .with_observer(reports.clone());
    let request = BridgeRequest {
        url: format!("http://127.0.0.1:{port}/v1/responses"),
        headers: HeaderMap::new(),
        body: codex_body(),
    };
    let bytes = bridge.respond(request).await.into_bytes().await.unwrap();
    let events = sse_payloads(&bytes).unwrap();
    let (code, message) = failure(&events);
    assert_eq!(code, "invalid_prompt");
    assert!(
        message.contains("connection refused") && message.contains("Is the gateway running"),
        "{message}"
    );
    let report = reports.0.lock().unwrap()[0].clone();
    assert_eq!(fault_kinds(&report), ["connect", "connect", "connect"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn empty_answers_are_retried() {
    let h = harness(
        vec![Response::text(""), Response::text("something")],
        fast_options(),
    )
    .await;
    let (events, report, _) = h.run().await;
    assert_eq!(completed_text(&events.unwrap()), "something");
    assert_eq!(fault_kinds(&report), ["empty_answer", "ok"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn finish_reason_length_reported_as_cut_off_or_continued() {
    let cut = || Response::text("The first half").with_finish_reason("length");
    let h = harness(
        vec![cut()],
        BridgeOptions {
            max_output_tokens: Some(64),
            ..fast_options()
        },
    )
    .await;
    let (events, report, _) = h.run().await;
    let events = events.unwrap();
    let text = completed_text(&events);
    assert!(
        text.starts_with("The first half") && text.contains("output token limit (64 tokens)"),
        "{text}"
    );
    assert_eq!(
        terminal(&events)["type"],
        "response.completed",
        "not a context-window error"
    );
    assert_eq!(report.outcome, Outcome::Truncated);
    assert_eq!(h.mock.chat_requests()[0].body["max_tokens"], 64);

    let h = harness(
        vec![cut(), Response::text(" and the second half.")],
        BridgeOptions {
            auto_continue: 2,
            ..fast_options()
        },
    )
    .await;
    let (events, report, _) = h.run().await;
    assert_eq!(
        completed_text(&events.unwrap()),
        "The first half and the second half."
    );
    assert_eq!(
        (report.continuations, report.outcome),
        (1, Outcome::Completed)
    );
    let continuation = &h.mock.chat_requests()[1].body["messages"];
    let messages = continuation.as_array().unwrap();
    assert_eq!(
        messages[messages.len() - 2],
        json!({"role": "assistant", "content": "The first half"})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn tool_calls_with_lying_finish_reason_and_fragmented_arguments() {
    let call = Response::tool_calls(vec![
        ToolCall::new("call_1", "shell", json!({"command": ["ls", "-la"]})),
        ToolCall::new("call_2", "shell", json!({"command": ["pwd"]})),
    ])
    .with_finish_reason("stop")
    .with_delta_chars(3);
    let h = harness(vec![call], fast_options()).await;
    let (events, _, _) = h.run().await;
    let calls: Vec<(String, String)> = events
        .unwrap()
        .iter()
        .filter(|e| {
            e["type"] == "response.output_item.done" && e["item"]["type"] == "function_call"
        })
        .map(|e| {
            (
                e["item"]["call_id"].as_str().unwrap().to_string(),
                e["item"]["arguments"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        calls,
        [
            (
                "call_1".to_string(),
                r#"{"command":["ls","-la"]}"#.to_string()
            ),
            ("call_2".to_string(), r#"{"command":["pwd"]}"#.to_string())
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn non_streamed_mode_reads_one_json_body() {
    let h = harness(
        vec![Response::text("from json")],
        BridgeOptions {
            stream: false,
            ..fast_options()
        },
    )
    .await;
    let (events, _, _) = h.run().await;
    assert_eq!(completed_text(&events.unwrap()), "from json");
    assert_eq!(h.mock.chat_requests()[0].body["stream"], false);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_abandoned_request_is_reported_as_cancelled() {
    let slow = Response::text("slow").with_delay_ms(5_000);
    let h = harness(
        vec![slow],
        BridgeOptions {
            idle_timeout_secs: Some(30),
            ..fast_options()
        },
    )
    .await;
    let outcome =
        tokio::time::timeout(Duration::from_millis(200), h.bridge.respond(h.request())).await;
    assert!(outcome.is_err(), "still waiting when Codex gives up");
    let reports = h.reports.0.lock().unwrap().clone();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].outcome, Outcome::Cancelled);
}

/// Live mode: when Codex drops the request before anything was shown, or the body while
/// the answer streams (the user interrupted), the attempts stop — no more streaming,
/// billing or retrying — and the report records `cancelled`.
#[tokio::test(flavor = "multi_thread")]
async fn a_dropped_live_request_or_stream_stops_its_attempts_and_is_reported_as_cancelled() {
    let options = BridgeOptions {
        mode: BridgeMode::Live,
        idle_timeout_secs: Some(30),
        ..fast_options()
    };
    let wait_for_report = |h: &Harness| {
        let reports = h.reports.clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(3);
            while reports.0.lock().unwrap().is_empty() && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            // Long enough for the first answer and a retry, had the task kept going.
            tokio::time::sleep(Duration::from_millis(1_000)).await;
            reports.0.lock().unwrap().clone()
        }
    };
    // Dropped before the first text (Codex gives up waiting for the stream).
    let h = harness(
        vec![
            Response::error(500, "busy").with_delay_ms(600),
            Response::text("second try"),
        ],
        options.clone(),
    )
    .await;
    let waited =
        tokio::time::timeout(Duration::from_millis(100), h.bridge.respond(h.request())).await;
    assert!(waited.is_err(), "nothing to show yet");
    let reports = wait_for_report(&h).await;
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].outcome, Outcome::Cancelled);
    assert_eq!(h.mock.chat_requests().len(), 1, "retried after the drop");
    // Dropped while the answer streams.
    let slow = Response::text("a slow answer that keeps streaming for a while")
        .with_delta_chars(2)
        .with_chunk_delay_ms(100);
    let h = harness(vec![slow, Response::text("never")], options).await;
    let reply = h.bridge.respond(h.request()).await;
    assert!(matches!(reply, BridgeReply::Stream { .. }));
    drop(reply);
    let reports = wait_for_report(&h).await;
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].outcome, Outcome::Cancelled);
    assert_eq!(h.mock.chat_requests().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn no_secret_reaches_messages_or_reports() {
    let h = harness(
        vec![Response::error(400, "bad"), Response::text("never")],
        fast_options(),
    )
    .await;
    let mut request = h.request();
    request.url = format!("{}/responses?api_key=sk-query-secret", h.mock.base_url());
    let bytes = h.bridge.respond(request).await.into_bytes().await.unwrap();
    let text = String::from_utf8_lossy(&bytes);
    let report = serde_json::to_string(&h.reports.0.lock().unwrap()[0]).unwrap();
    for haystack in [text.as_ref(), report.as_str()] {
        assert!(
            !haystack.contains("sk-query-secret") && !haystack.contains("sk-test-secret"),
            "{haystack}"
        );
    }
    assert!(report.contains("api_key=***"));
}

/// What LiteLLM 1.108.7 sends when its backend's close-delimited stream is cut in the middle
/// of a tool call: the call's name, the arguments that came (maybe none), then its own
/// finish_reason "stop" and [DONE].
fn closed_by_litellm_after(arguments: &[&str]) -> Response {
    let chunk = |delta: Value, finish: Value| {
        json!({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "mock-model",
               "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
    };
    let mut events = vec![
        chunk(json!({"role": "assistant"}), Value::Null),
        chunk(
            json!({"tool_calls": [{"index": 0, "id": "call_1", "type": "function", "function": {"name": "shell", "arguments": ""}}]}),
            Value::Null,
        ),
    ];
    for part in arguments {
        events.push(chunk(
            json!({"tool_calls": [{"index": 0, "function": {"arguments": part}}]}),
            Value::Null,
        ));
    }
    events.push(chunk(json!({}), json!("stop")));
    events.push(json!("[DONE]"));
    Response::sse(events)
}

fn call_arguments(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .filter(|e| {
            e["type"] == "response.output_item.done" && e["item"]["type"] == "function_call"
        })
        .map(|e| e["item"]["arguments"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tool_call_cut_under_a_made_up_stop_is_retried() {
    // Cut inside the arguments' JSON, and cut before any argument came (the fault matrix's
    // cut-close through LiteLLM: the call reached Codex with no arguments).
    for cut in [&["{\"co"][..], &[][..], &[""][..]] {
        let whole = Response::tool_call("call_1", "shell", json!({"command": ["ls"]}));
        let h = harness(vec![closed_by_litellm_after(cut), whole], fast_options()).await;
        let (events, report, _) = h.run().await;
        assert_eq!(
            call_arguments(&events.unwrap()),
            [r#"{"command":["ls"]}"#],
            "cut after {cut:?}"
        );
        assert_eq!(
            fault_kinds(&report),
            ["stream_cut", "ok"],
            "cut after {cut:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn empty_arguments_every_time_end_the_turn_with_a_clear_error_not_a_broken_call() {
    let h = harness(
        vec![
            closed_by_litellm_after(&[]),
            closed_by_litellm_after(&[]),
            closed_by_litellm_after(&[]),
        ],
        fast_options(),
    )
    .await;
    let (events, report, _) = h.run().await;
    let events = events.unwrap();
    assert!(
        call_arguments(&events).is_empty(),
        "no call reaches Codex without its arguments"
    );
    let (_, message) = failure(&events);
    assert!(
        message.contains(
            "tool call `shell` came without arguments, though the tool requires `command`"
        ),
        "{message}"
    );
    assert_eq!(fault_kinds(&report), ["stream_cut"; 3]);
}

/// A streamed request answered HTTP 200 with no bytes at all (llama-cpp-python with
/// `chatml-function-calling` and `tool_choice: "auto"`): one retry without streaming,
/// inside the same attempt budget, gets the answer; no retry loop of empty bodies.
#[tokio::test(flavor = "multi_thread")]
async fn an_empty_streamed_200_is_retried_once_without_streaming() {
    let empty = || Response::empty(200).when_body_contains("\"stream\":true");
    let answer = Response::tool_call("call_ls", "shell", json!({"command": ["ls"]}))
        .when_body_contains("\"stream\":false");
    for mode in [BridgeMode::Buffered, BridgeMode::Live] {
        let options = BridgeOptions {
            mode,
            ..fast_options()
        };
        let h = harness(vec![empty(), empty(), empty(), answer.clone()], options).await;
        let (events, report, _) = h.run().await;
        let events = events.unwrap();
        assert_eq!(terminal(&events)["type"], "response.completed", "{mode:?}");
        assert_eq!(
            call_arguments(&events),
            [r#"{"command":["ls"]}"#],
            "{mode:?}"
        );
        assert_eq!(fault_kinds(&report), ["stream_cut", "ok"], "{mode:?}");
        assert!(report.stream_fallback, "{mode:?}");
        let notices = h.reports.1.lock().unwrap().clone();
        assert!(
            notices.len() == 1 && notices[0].contains("`stream = false`"),
            "the fix is named: {notices:?}"
        );
        let retried = &h.mock.chat_requests()[1].body;
        assert_eq!(retried["stream"], false);
        assert!(retried.get("stream_options").is_none(), "{retried}");
    }
}

/// Once a model's streamed request came back empty, the next request to it goes without
/// streaming from the start: no empty attempt per request, and the notice said once.
#[tokio::test(flavor = "multi_thread")]
async fn after_an_empty_streamed_200_the_model_is_asked_without_streaming() {
    let empty = Response::empty(200).when_body_contains("\"stream\":true");
    let answer = || {
        Response::tool_call("call_ls", "shell", json!({"command": ["ls"]}))
            .when_body_contains("\"stream\":false")
    };
    let h = harness(vec![empty, answer(), answer()], fast_options()).await;
    let (events, first, _) = h.run().await;
    assert_eq!(terminal(&events.unwrap())["type"], "response.completed");
    assert_eq!(fault_kinds(&first), ["stream_cut", "ok"]);

    let reply = tokio::time::timeout(Duration::from_secs(30), h.bridge.respond(h.request()))
        .await
        .expect("the bridge must answer within bounded time");
    let bytes = reply.into_bytes().await.unwrap();
    let events = sse_payloads(&bytes).unwrap();
    assert_eq!(terminal(&events)["type"], "response.completed");
    let reports = h.reports.0.lock().unwrap().clone();
    assert_eq!(
        fault_kinds(&reports[1]),
        ["ok"],
        "one attempt, no empty one"
    );
    assert!(
        !reports[1].stream_fallback,
        "no empty stream in this request, so its diagnosis names none"
    );
    let bodies: Vec<Value> = h
        .mock
        .chat_requests()
        .iter()
        .map(|r| r.body["stream"].clone())
        .collect();
    assert_eq!(bodies, [json!(true), json!(false), json!(false)]);
    let notices = h.reports.1.lock().unwrap().clone();
    assert_eq!(notices.len(), 1, "said once: {notices:?}");
}

/// An empty stream whose non-streamed retry got an error (a prompt over the window) teaches
/// nothing: the next request streams again.
#[tokio::test(flavor = "multi_thread")]
async fn an_empty_stream_hiding_an_error_does_not_stop_streaming() {
    let empty = Response::empty(200).when_body_contains("\"stream\":true");
    let too_long = Response::json(json!({"error": {
        "message": "Requested tokens (12288) exceed context window of 8192",
        "type": "invalid_request_error", "code": "context_length_exceeded"}}))
    .with_status(400)
    .when_body_contains("\"stream\":false");
    let text = Response::text("streamed again").when_body_contains("\"stream\":true");
    let h = harness(vec![empty, too_long, text], fast_options()).await;
    let (_events, first, _) = h.run().await;
    assert_eq!(fault_kinds(&first), ["stream_cut", "http_status"]);
    let reply = tokio::time::timeout(Duration::from_secs(30), h.bridge.respond(h.request()))
        .await
        .expect("the bridge must answer within bounded time");
    let events = sse_payloads(&reply.into_bytes().await.unwrap()).unwrap();
    assert_eq!(terminal(&events)["type"], "response.completed");
    let streamed: Vec<Value> = h
        .mock
        .chat_requests()
        .iter()
        .map(|r| r.body["stream"].clone())
        .collect();
    assert_eq!(streamed, [json!(true), json!(false), json!(true)]);
}

/// The same empty 200 for a streamed prompt over the window: the non-streamed retry gets
/// the server's 400 `context_length_exceeded`, which becomes Codex's context error.
#[tokio::test(flavor = "multi_thread")]
async fn an_empty_streamed_200_over_the_window_gives_the_context_error() {
    let empty = || Response::empty(200).when_body_contains("\"stream\":true");
    let too_long = Response::json(json!({"error": {
        "message": "Requested tokens (12288) exceed context window of 8192",
        "type": "invalid_request_error", "param": "messages", "code": "context_length_exceeded"}}))
    .with_status(400)
    .when_body_contains("\"stream\":false");
    let h = harness(vec![empty(), empty(), empty(), too_long], fast_options()).await;
    let (events, report, _) = h.run().await;
    let (code, message) = failure(&events.unwrap());
    assert_eq!(code, "context_length_exceeded", "{message}");
    assert_eq!(fault_kinds(&report), ["stream_cut", "http_status"]);
}

/// A streamed answer without usage (llama-cpp-python sends none when streaming): Codex gets
/// an estimate in `response.completed`, so it can still tell when to compact, and the
/// report says it is one. Rule: 4 bytes a token, of the translated request's messages and
/// tools for input, of the answer for output.
#[tokio::test(flavor = "multi_thread")]
async fn a_streamed_answer_without_usage_gets_an_estimate() {
    for mode in [BridgeMode::Buffered, BridgeMode::Live] {
        let options = BridgeOptions {
            mode,
            ..fast_options()
        };
        let answer = Response::text("x".repeat(400)).with_usage_mode(UsageMode::Never);
        let h = harness(vec![answer], options.clone()).await;
        let (events, report, _) = h.run().await;
        let events = events.unwrap();
        let last = terminal(&events);
        assert_eq!(last["type"], "response.completed", "{mode:?}");
        let usage = &last["response"]["usage"];
        let sent = &h.mock.chat_requests()[0].body;
        let request_bytes = sent["messages"].to_string().len() + sent["tools"].to_string().len();
        assert_eq!(
            usage["input_tokens"].as_u64(),
            Some(request_bytes.div_ceil(4) as u64),
            "{mode:?}: {usage}"
        );
        assert_eq!(
            usage["output_tokens"].as_u64(),
            Some(100),
            "{mode:?}: {usage}"
        );
        let reported = report.usage.expect("the estimate reaches the telemetry");
        assert_eq!(reported.output_tokens, 100);
        assert!(report.usage_estimated, "{mode:?}");

        // The backend's own counts are passed on as they are, not marked.
        let counted =
            Response::text("hi").with_usage(json!({"prompt_tokens": 7, "completion_tokens": 1}));
        let h = harness(vec![counted], options.clone()).await;
        let (events, report, _) = h.run().await;
        assert_eq!(
            terminal(&events.unwrap())["response"]["usage"]["input_tokens"],
            7
        );
        assert!(!report.usage_estimated, "{mode:?}");
    }
}
