//! Live mode over loopback: text and reasoning reach Codex as they arrive, tool calls only
//! from the complete answer, and a fault after something was shown neither repeats nor
//! garbles it. Every stream is checked against Codex's rules (`check_sse`).

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
use codex_litellm_bridge::options::AssistantPrefill;
use codex_litellm_bridge::options::ToolCallRecovery;
use codex_litellm_bridge_loopback_tests::Reports;
use codex_litellm_mock_llm::MockLlm;
use codex_litellm_mock_llm::Response;
use codex_litellm_mock_llm::Scenario;
use codex_litellm_mock_llm::ToolCall;
use futures::StreamExt;
use http::HeaderMap;
use pretty_assertions::assert_eq;
use serde_json::Value;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use std::time::Instant;

fn live_options() -> BridgeOptions {
    BridgeOptions {
        mode: BridgeMode::Live,
        max_attempts: 3,
        retry_base_delay_ms: 10,
        retry_max_delay_ms: 50,
        idle_timeout_secs: Some(2),
        request_timeout_secs: 10,
        ..BridgeOptions::default()
    }
}

/// What Codex got: the events, when the first text or reasoning delta arrived, and when
/// the stream ended.
struct Run {
    events: Vec<Value>,
    first_delta: Option<Duration>,
    total: Duration,
    report: ExchangeReport,
    requests: usize,
    /// The chat request bodies the backend got, in order.
    bodies: Vec<Value>,
}

async fn live_run(responses: Vec<Response>, options: BridgeOptions) -> Run {
    let mock = MockLlm::start(Scenario::new(responses)).await.unwrap();
    let reports = Arc::new(Reports::default());
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let bridge = Bridge::new(client, options, "mock").with_observer(reports.clone());
    let request = BridgeRequest {
        url: format!("{}/responses", mock.base_url()),
        headers: HeaderMap::new(),
        body: json!({
            "model": "mock-model",
            "instructions": "You are Codex.",
            "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}],
            "tools": [{"type": "function", "name": "shell", "parameters": {"type": "object", "properties": {"command": {"type": "array"}}}}],
            "stream": true
        }),
    };
    let started = Instant::now();
    let BridgeReply::Stream { mut body, .. } = bridge.respond(request).await else {
        panic!("expected a stream")
    };
    let mut bytes = Vec::new();
    let mut first_delta = None;
    while let Some(chunk) = tokio::time::timeout(Duration::from_secs(30), body.next())
        .await
        .expect("the stream ends within bounded time")
    {
        let chunk = chunk.unwrap();
        let text = String::from_utf8_lossy(&chunk);
        if first_delta.is_none()
            && (text.contains("response.output_text.delta")
                || text.contains("response.reasoning_summary_text.delta"))
        {
            first_delta = Some(started.elapsed());
        }
        bytes.extend_from_slice(&chunk);
    }
    let total = started.elapsed();
    check_sse(&bytes).unwrap_or_else(|violation| panic!("invalid stream: {violation}"));
    // The report is sent when the bridge's task ends, just after the last event.
    let mut report = None;
    for _ in 0..100 {
        if let Some(first) = reports.0.lock().unwrap().first() {
            report = Some(first.clone());
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Run {
        events: sse_payloads(&bytes).unwrap(),
        first_delta,
        total,
        report: report.expect("one report"),
        requests: mock.chat_requests().len(),
        bodies: mock.chat_requests().into_iter().map(|r| r.body).collect(),
    }
}

impl Run {
    /// Every text delta Codex showed, in order.
    fn shown_text(&self) -> String {
        self.deltas("response.output_text.delta")
    }

    fn shown_reasoning(&self) -> String {
        self.deltas("response.reasoning_summary_text.delta")
    }

    fn deltas(&self, kind: &str) -> String {
        self.events
            .iter()
            .filter(|e| e["type"] == kind)
            .map(|e| e["delta"].as_str().unwrap().to_string())
            .collect()
    }

    fn done_items(&self, kind: &str) -> Vec<Value> {
        self.events
            .iter()
            .filter(|e| e["type"] == "response.output_item.done" && e["item"]["type"] == kind)
            .map(|e| e["item"].clone())
            .collect()
    }

    /// The message text Codex records (and sends back next turn).
    fn recorded_text(&self) -> String {
        self.done_items("message")
            .iter()
            .map(|item| item["content"][0]["text"].as_str().unwrap().to_string())
            .collect()
    }

    fn calls(&self) -> Vec<(String, String)> {
        self.done_items("function_call")
            .iter()
            .map(|item| {
                (
                    item["name"].as_str().unwrap().to_string(),
                    item["arguments"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    fn terminal(&self) -> &Value {
        self.events.last().unwrap()
    }
}

const ANSWER: &str = "Here is a long answer that streams in small pieces, one after the other.";

#[tokio::test(flavor = "multi_thread")]
async fn text_and_reasoning_arrive_before_the_answer_ends() {
    let slow = Response::text(ANSWER)
        .with_reasoning("thinking first")
        .with_delta_chars(8)
        .with_chunk_delay_ms(40);
    let run = live_run(vec![slow], live_options()).await;
    let first = run.first_delta.unwrap();
    assert!(
        first < run.total / 3,
        "first delta at {first:?} of {:?}",
        run.total
    );
    assert_eq!(run.shown_text(), ANSWER);
    assert_eq!(run.recorded_text(), ANSWER);
    assert_eq!(run.shown_reasoning(), "thinking first");
    assert_eq!(run.terminal()["type"], "response.completed");
}

#[tokio::test(flavor = "multi_thread")]
async fn think_tags_are_split_as_they_arrive() {
    let tagged = Response::text(format!("<think>plan the answer</think>\n\n{ANSWER}"))
        .with_delta_chars(3)
        .with_chunk_delay_ms(20);
    let run = live_run(vec![tagged], live_options()).await;
    assert_eq!(run.shown_reasoning(), "plan the answer");
    assert_eq!(run.shown_text(), ANSWER);
    assert_eq!(run.recorded_text(), ANSWER);
    assert!(run.first_delta.unwrap() < run.total / 3);
}

/// A call written as text is never shown as text, in any recovery mode that would run it;
/// it runs once, from the complete answer.
#[tokio::test(flavor = "multi_thread")]
async fn a_call_written_as_text_is_never_shown_as_text() {
    let written =
        "<tool_call>{\"name\": \"shell\", \"arguments\": {\"command\": [\"ls\"]}}</tool_call>";
    for mode in [ToolCallRecovery::WholeAnswer, ToolCallRecovery::Anywhere] {
        let options = BridgeOptions {
            tool_call_recovery: mode,
            ..live_options()
        };
        let answer = Response::text(format!("\n{written}")).with_delta_chars(3);
        let run = live_run(vec![answer], options).await;
        assert_eq!(run.shown_text(), "", "{mode:?}");
        assert_eq!(run.recorded_text(), "", "{mode:?}");
        assert_eq!(
            run.calls(),
            [("shell".to_string(), "{\"command\":[\"ls\"]}".to_string())],
            "{mode:?}"
        );
    }
    // Anywhere: the prose before the call streams, the call does not.
    let options = BridgeOptions {
        tool_call_recovery: ToolCallRecovery::Anywhere,
        ..live_options()
    };
    let answer = Response::text(format!("Let me look. {written}")).with_delta_chars(3);
    let run = live_run(vec![answer], options).await;
    assert_eq!(run.shown_text(), "Let me look. ");
    assert_eq!(run.recorded_text(), "Let me look. ");
    assert_eq!(run.calls().len(), 1);
    // Whole-answer mode: prose first means the written call is text (and streams as such).
    let answer = Response::text(format!("Let me look. {written}")).with_delta_chars(3);
    let run = live_run(vec![answer], live_options()).await;
    assert_eq!(run.shown_text(), format!("Let me look. {written}"));
    assert!(run.calls().is_empty());
}

/// Structured calls go out after the text, from the validated answer, exactly once, even
/// when the stream was cut in the middle of the call and retried.
#[tokio::test(flavor = "multi_thread")]
async fn a_fault_after_shown_text_is_retried_and_only_the_rest_is_shown() {
    let call = || ToolCall::new("call_1", "shell", json!({"command": ["echo", "once"]}));
    let cut = Response::tool_calls(vec![call()])
        .with_text(ANSWER)
        .with_delta_chars(4)
        .with_cut_after_bytes(1200);
    let whole = Response::tool_calls(vec![call()])
        .with_text(ANSWER)
        .with_delta_chars(4);
    let run = live_run(vec![cut, whole], live_options()).await;
    assert_eq!(run.requests, 2, "retried once");
    assert_eq!(run.shown_text(), ANSWER, "nothing shown twice");
    assert_eq!(run.recorded_text(), ANSWER);
    assert_eq!(run.done_items("message").len(), 1);
    assert_eq!(run.calls().len(), 1, "the call runs once");
    assert_eq!(run.terminal()["type"], "response.completed");
    assert_eq!(run.report.outcome, Outcome::Completed);
    assert_eq!(run.report.attempts.len(), 2);
}

/// On a backend known to continue a prefilled assistant message (here vLLM's
/// `continue_final_message`), a retried answer that does not continue the text already
/// shown is not shown: the bridge asks for the rest of exactly the shown text, checks it
/// continues it, and only that continuation follows. No tool call of the discarded answer
/// runs.
#[tokio::test(flavor = "multi_thread")]
async fn with_a_prefill_backend_a_diverging_retry_is_replaced_by_a_continuation() {
    let options = BridgeOptions {
        assistant_prefill: AssistantPrefill::ContinueFinalMessage,
        ..live_options()
    };
    let cut = Response::text(ANSWER)
        .with_delta_chars(4)
        .with_cut_after_bytes(1200);
    let other = Response::tool_calls(vec![ToolCall::new(
        "call_2",
        "shell",
        json!({"command": ["rm"]}),
    )])
    .with_text("A different answer altogether, which must not be shown.");
    let rest = Response::text(" THE REST.").when_body_contains("continue_final_message");
    let run = live_run(vec![cut, other, rest], options).await;
    assert_eq!(run.requests, 3);
    let shown = run.shown_text();
    let (head, tail) = shown.split_at(shown.len() - " THE REST.".len());
    assert!(!head.is_empty() && ANSWER.starts_with(head), "{shown:?}");
    assert_eq!(tail, " THE REST.");
    assert_eq!(run.recorded_text(), shown);
    assert_eq!(run.done_items("message").len(), 1);
    assert!(run.calls().is_empty());
    assert_eq!(run.terminal()["type"], "response.completed");
    // The continuation request: the shown text as the last, assistant message.
    let body = &run.bodies[2];
    assert_eq!(body["continue_final_message"], true);
    assert_eq!(body["add_generation_prompt"], false);
    let last = body["messages"].as_array().unwrap().last().unwrap();
    assert_eq!(last, &json!({"role": "assistant", "content": head}));
}

/// A backend said to take a prefill that answers afresh instead (it starts over with the
/// shown text's start), or a continuation request that fails: the shown text ends as an
/// interrupted message and the retried answer is the one Codex keeps.
#[tokio::test(flavor = "multi_thread")]
async fn a_prefill_that_is_not_continued_falls_back_to_the_retried_answer() {
    let options = BridgeOptions {
        assistant_prefill: AssistantPrefill::Trailing,
        max_attempts: 2,
        ..live_options()
    };
    let cut = || {
        Response::text(ANSWER)
            .with_delta_chars(4)
            .with_cut_after_bytes(1200)
    };
    let other = || Response::text("A different answer altogether.");
    let afresh = Response::text(ANSWER);
    // Answered afresh, and (no third response: the mock answers 500) not answered at all.
    for responses in [vec![cut(), other(), afresh], vec![cut(), other()]] {
        let run = live_run(responses, options.clone()).await;
        assert_eq!(run.requests, 3);
        let messages = run.done_items("message");
        assert_eq!(messages.len(), 2, "{messages:?}");
        assert_eq!(messages[0]["status"], "incomplete");
        let interrupted = messages[0]["content"][0]["text"].as_str().unwrap();
        let head = interrupted
            .strip_suffix(codex_litellm_bridge::INTERRUPTED_NOTE)
            .unwrap();
        assert!(!head.is_empty() && ANSWER.starts_with(head), "{head:?}");
        assert_eq!(
            messages[1]["content"][0]["text"],
            "A different answer altogether."
        );
        assert_eq!(run.terminal()["type"], "response.completed");
        assert_eq!(run.report.interrupted_answers, 1);
    }
}

/// A retry that is only a tool call (a backend that broke after a few words, then answered
/// with the call) contradicts nothing shown: the shown words stay, the call runs once.
#[tokio::test(flavor = "multi_thread")]
async fn a_retry_that_is_only_tool_calls_keeps_the_shown_text_and_runs_the_call() {
    let broken = Response::sse(vec![
        json!({"id": "x", "object": "chat.completion.chunk", "created": 1, "model": "m",
               "choices": [{"index": 0, "delta": {"role": "assistant", "content": "par"}}]}),
        json!({"error": {"message": "upstream overloaded", "code": "503"}}),
    ]);
    let call = Response::tool_calls(vec![ToolCall::new(
        "call_1",
        "shell",
        json!({"command": ["echo", "once"]}),
    )]);
    let run = live_run(vec![broken, call], live_options()).await;
    assert_eq!(run.requests, 2, "retried once, no continuation request");
    assert_eq!(run.shown_text(), "par", "nothing shown twice or replaced");
    assert_eq!(run.calls().len(), 1, "the call runs once");
    assert_eq!(run.terminal()["type"], "response.completed");
    assert_eq!(run.report.outcome, Outcome::Completed);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refreshable_401_before_anything_was_shown_is_an_http_error() {
    let mock = MockLlm::start(Scenario::new(vec![Response::error(401, "expired token")]))
        .await
        .unwrap();
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let bridge = Bridge::new(client, live_options(), "mock").with_refreshable_auth(true);
    let reply = bridge
        .respond(BridgeRequest {
            url: format!("{}/responses", mock.base_url()),
            headers: HeaderMap::new(),
            body: json!({"model": "mock-model", "input": [], "stream": true}),
        })
        .await;
    assert!(
        matches!(reply, BridgeReply::HttpError { status: 401, .. }),
        "{reply:?}"
    );
}

/// Only reasoning was shown when the stream broke, and the retry thinks differently: the
/// shown thought stays as it was, the new one follows as a thought of its own, and the
/// answer completes.
#[tokio::test(flavor = "multi_thread")]
async fn a_retry_after_shown_reasoning_alone_thinks_anew() {
    let cut = Response::text(ANSWER)
        .with_reasoning("First line of thought, long enough to be cut in the middle.")
        .with_delta_chars(4)
        .with_cut_after_bytes(900);
    let other = Response::text(ANSWER).with_reasoning("Second thought.");
    let run = live_run(vec![cut, other], live_options()).await;
    let thoughts: Vec<String> = run
        .done_items("reasoning")
        .iter()
        .map(|item| item["summary"][0]["text"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(thoughts.len(), 2, "{thoughts:?}");
    assert!(
        "First line of thought, long enough to be cut in the middle.".starts_with(&thoughts[0])
    );
    assert_eq!(thoughts[1], "Second thought.");
    assert_eq!(
        run.shown_reasoning(),
        format!("{}{}", thoughts[0], thoughts[1])
    );
    assert_eq!(run.shown_text(), ANSWER);
    assert_eq!(run.terminal()["type"], "response.completed");
}

/// The retry budget ends while text is shown: the text stays, the turn fails cleanly.
#[tokio::test(flavor = "multi_thread")]
async fn retries_running_out_after_shown_text_keep_it_and_fail() {
    let cut = || {
        Response::text(ANSWER)
            .with_delta_chars(4)
            .with_cut_after_bytes(1200)
    };
    let run = live_run(vec![cut(), cut(), cut()], live_options()).await;
    assert_eq!(run.requests, 3);
    let shown = run.shown_text();
    assert!(!shown.is_empty() && ANSWER.starts_with(&shown), "{shown:?}");
    assert_eq!(run.recorded_text(), shown);
    assert_eq!(run.terminal()["type"], "response.failed");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cut_off_answer_is_continued_live() {
    let options = BridgeOptions {
        auto_continue: 1,
        ..live_options()
    };
    let first = Response::text("The first half, ").with_finish_reason("length");
    let rest = Response::text("and the rest.").when_body_contains("Continue exactly");
    let run = live_run(vec![first, rest], options).await;
    assert_eq!(run.shown_text(), "The first half, and the rest.");
    assert_eq!(run.recorded_text(), "The first half, and the rest.");
    assert_eq!(run.report.continuations, 1);
    assert_eq!(run.terminal()["type"], "response.completed");
}

const CUT_ANSWER: &str =
    "This answer will be cut off in the middle of a word by a broken connection.";
const RETRY_ANSWER: &str = "Recovered after cut stream. The answer is 42.";

/// A backend that cuts the first answer mid-text and answers afresh on the retry (most chat
/// backends cannot continue a trailing assistant message): the shown part ends as its own
/// message item marked as interrupted, and the message Codex keeps (the last one, which
/// `exec` prints) is the retry's whole answer. No continuation request is sent.
#[tokio::test(flavor = "multi_thread")]
async fn a_cut_mid_text_ends_the_shown_part_as_interrupted_and_keeps_the_retrys_whole_answer() {
    let cut = Response::text(CUT_ANSWER)
        .with_delta_chars(4)
        .with_cut_after_bytes(1200);
    let retry = Response::text(RETRY_ANSWER).with_delta_chars(4);
    let glued = Response::text("GLUED CONTINUATION").when_body_contains("Continue");
    let run = live_run(vec![cut, retry, glued], live_options()).await;
    assert_eq!(run.requests, 2, "no continuation request");
    assert!(
        run.bodies
            .iter()
            .all(|b| !b.to_string().contains("Continue")),
        "{:?}",
        run.bodies
    );
    let messages = run.done_items("message");
    assert_eq!(messages.len(), 2, "{messages:?}");
    let kept = messages[1]["content"][0]["text"].as_str().unwrap();
    assert_eq!(
        kept, RETRY_ANSWER,
        "the message Codex keeps is the retry's whole answer"
    );
    assert_eq!(messages[1]["status"], "completed");
    let interrupted = messages[0]["content"][0]["text"].as_str().unwrap();
    assert_eq!(messages[0]["status"], "incomplete");
    let (head, note) = interrupted
        .split_once(codex_litellm_bridge::INTERRUPTED_NOTE)
        .map(|(head, rest)| (head, rest.is_empty()))
        .unwrap_or((interrupted, false));
    assert!(note, "marked as interrupted at its end: {interrupted:?}");
    assert!(!head.is_empty() && CUT_ANSWER.starts_with(head), "{head:?}");
    // The screen showed exactly the two items, nothing glued.
    assert_eq!(run.shown_text(), format!("{interrupted}{RETRY_ANSWER}"));
    assert_eq!(run.terminal()["type"], "response.completed");
    assert_eq!(run.report.outcome, Outcome::Completed);
    assert_eq!(run.report.interrupted_answers, 1);
}

/// Buffered mode on the same backend: one clean answer, the retry's.
#[tokio::test(flavor = "multi_thread")]
async fn a_cut_mid_text_in_buffered_mode_gives_only_the_retrys_answer() {
    let options = BridgeOptions {
        mode: BridgeMode::Buffered,
        ..live_options()
    };
    let cut = Response::text(CUT_ANSWER)
        .with_delta_chars(4)
        .with_cut_after_bytes(1200);
    let retry = Response::text(RETRY_ANSWER).with_delta_chars(4);
    let run = live_run(vec![cut, retry], options).await;
    assert_eq!(run.requests, 2);
    assert_eq!(run.recorded_text(), RETRY_ANSWER);
    assert_eq!(run.shown_text(), RETRY_ANSWER);
    assert_eq!(run.terminal()["type"], "response.completed");
}

/// The retried answer Codex keeps after an interruption is a complete answer: its tool
/// call runs, once.
#[tokio::test(flavor = "multi_thread")]
async fn the_kept_retry_after_an_interruption_runs_its_call_once() {
    let cut = Response::text(CUT_ANSWER)
        .with_delta_chars(4)
        .with_cut_after_bytes(1200);
    let retry = Response::tool_calls(vec![ToolCall::new(
        "call_1",
        "shell",
        json!({"command": ["echo", "once"]}),
    )])
    .with_text(RETRY_ANSWER);
    let run = live_run(vec![cut, retry], live_options()).await;
    assert_eq!(run.requests, 2);
    let messages = run.done_items("message");
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[1]["content"][0]["text"], RETRY_ANSWER);
    assert_eq!(run.calls().len(), 1);
    assert_eq!(run.terminal()["type"], "response.completed");
}

/// The retry thinks the same and answers differently: the thought shown once stays as it
/// was (not repeated), the shown text is interrupted, the retry's answer follows.
#[tokio::test(flavor = "multi_thread")]
async fn an_interruption_does_not_repeat_the_thought_already_shown() {
    let cut = Response::text(CUT_ANSWER)
        .with_reasoning("Same thought.")
        .with_delta_chars(4)
        .with_cut_after_bytes(1500);
    let retry = Response::text(RETRY_ANSWER).with_reasoning("Same thought.");
    let run = live_run(vec![cut, retry], live_options()).await;
    assert_eq!(run.requests, 2);
    assert_eq!(run.shown_reasoning(), "Same thought.");
    assert_eq!(run.done_items("reasoning").len(), 1);
    let messages = run.done_items("message");
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert_eq!(messages[0]["status"], "incomplete");
    assert_eq!(messages[1]["content"][0]["text"], RETRY_ANSWER);
}
