//! The bridge's loopback cases a second time, with a real LiteLLM proxy between the bridge
//! and the mock backend: bridge → LiteLLM (`/v1/chat/completions`) → mock-llm.
//!
//! LiteLLM re-serialises every chunk, recomputes usage and rewrites errors, so these tests
//! assert on what matters to Codex (the text, the calls with their whole arguments, the
//! outcome, no panic, bounded time), not on bytes.
//!
//! Ignored by default: they need a proxy, which `scripts/litellm-proxy.sh` provides (the
//! `litellm` stage of scripts/test.sh runs them):
//!
//! ```sh
//! scripts/litellm-proxy.sh run -- cargo test -p codex-litellm-bridge-loopback-tests \
//!     --test via_litellm -- --ignored --test-threads=1
//! ```
//!
//! The proxy routes every model to one fixed backend port (`LITELLM_PROXY_BACKEND_PORT`),
//! so each test binds its mock there in turn: hence `--test-threads=1`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use codex_litellm_bridge::Bridge;
use codex_litellm_bridge::BridgeOptions;
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
use codex_litellm_mock_llm::StartOptions;
use codex_litellm_mock_llm::ToolCall;
use http::HeaderMap;
use http::HeaderValue;
use serde_json::Value;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use std::time::Instant;

struct Proxy {
    url: String,
    key: String,
    backend_port: u16,
}

fn proxy() -> Proxy {
    let var = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| {
            panic!(
                "{name} is not set: these tests need a LiteLLM proxy; run them through \
                 `scripts/litellm-proxy.sh run -- cargo test ... -- --ignored --test-threads=1`"
            )
        })
    };
    Proxy {
        url: var("LITELLM_PROXY_URL"),
        key: var("LITELLM_PROXY_KEY"),
        backend_port: var("LITELLM_PROXY_BACKEND_PORT").parse().unwrap(),
    }
}

fn options() -> BridgeOptions {
    BridgeOptions {
        max_attempts: 3,
        retry_base_delay_ms: 10,
        retry_max_delay_ms: 50,
        max_retry_after_secs: 2,
        idle_timeout_secs: Some(5),
        request_timeout_secs: 30,
        ..BridgeOptions::default()
    }
}

struct Harness {
    proxy: Proxy,
    mock: MockLlm,
    bridge: Bridge,
    reports: Arc<Reports>,
}

/// One bridge exchange as Codex sees it.
struct Exchange {
    events: Vec<Value>,
    report: ExchangeReport,
    elapsed: Duration,
}

impl Exchange {
    fn terminal(&self) -> &Value {
        self.events.last().unwrap()
    }

    fn items(&self, kind: &str) -> Vec<&Value> {
        self.events
            .iter()
            .filter(|e| e["type"] == "response.output_item.done" && e["item"]["type"] == kind)
            .map(|e| &e["item"])
            .collect()
    }

    fn text(&self) -> String {
        self.items("message")
            .iter()
            .map(|item| item["content"][0]["text"].as_str().unwrap_or_default())
            .collect()
    }

    /// (call_id, name, arguments) of every function call, in order.
    fn calls(&self) -> Vec<(String, String, Value)> {
        self.items("function_call")
            .iter()
            .map(|item| {
                let arguments = item["arguments"].as_str().unwrap();
                (
                    item["call_id"].as_str().unwrap().to_string(),
                    item["name"].as_str().unwrap().to_string(),
                    serde_json::from_str(arguments)
                        .unwrap_or_else(|e| panic!("half-received arguments {arguments:?}: {e}")),
                )
            })
            .collect()
    }

    fn completed(&self) -> bool {
        self.terminal()["type"] == "response.completed"
    }

    /// (code, message) of a failed exchange.
    fn failure(&self) -> (String, String) {
        let last = self.terminal();
        assert_eq!(last["type"], "response.failed", "{last}");
        let error = &last["response"]["error"];
        (
            error["code"].as_str().unwrap().to_string(),
            error["message"].as_str().unwrap().to_string(),
        )
    }

    fn fault_kinds(&self) -> Vec<String> {
        self.report
            .attempts
            .iter()
            .map(|a| a.fault.as_ref().map_or("ok", |f| f.kind()).to_string())
            .collect()
    }
}

async fn harness(responses: Vec<Response>) -> Harness {
    let proxy = proxy();
    let scenario = Scenario::new(responses).with_fallback(Response::error(
        400,
        "mock-llm (via LiteLLM): no scripted response matches this request",
    ));
    // The previous test's mock may still be closing on the same port: retry briefly.
    let started = Instant::now();
    let mock = loop {
        let options = StartOptions {
            port: proxy.backend_port,
            ..StartOptions::default()
        };
        match MockLlm::start_with_options(scenario.clone(), options).await {
            Ok(mock) => break mock,
            Err(error) if started.elapsed() < Duration::from_secs(5) => {
                eprintln!("retrying the mock's bind: {error}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(error) => panic!("the mock cannot listen on the proxy's backend port: {error}"),
        }
    };
    let reports = Arc::new(Reports::default());
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let bridge = Bridge::new(client, options(), "litellm").with_observer(reports.clone());
    Harness {
        proxy,
        mock,
        bridge,
        reports,
    }
}

fn user(text: &str) -> Value {
    json!({"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]})
}

fn codex_body(input: Vec<Value>) -> Value {
    json!({
        "model": "mock-model",
        "instructions": "You are Codex.",
        "input": input,
        "tools": [{"type": "function", "name": "shell", "parameters": {"type": "object", "properties": {"command": {"type": "array", "items": {"type": "string"}}}, "required": ["command"]}}],
        "tool_choice": "auto",
        "parallel_tool_calls": true,
        "stream": true
    })
}

impl Harness {
    /// Stops the mock so the next harness can listen on the backend port.
    async fn finish(self) {
        self.mock.shutdown().await;
    }

    async fn run(&self, input: Vec<Value>) -> Exchange {
        let mut headers = HeaderMap::new();
        headers.insert(
            "authorization",
            HeaderValue::from_str(&format!("Bearer {}", self.proxy.key)).unwrap(),
        );
        let request = BridgeRequest {
            url: format!("{}/v1/responses", self.proxy.url),
            headers,
            body: codex_body(input),
        };
        let before = self.reports.0.lock().unwrap().len();
        let started = Instant::now();
        let reply = tokio::time::timeout(Duration::from_secs(60), self.bridge.respond(request))
            .await
            .expect("the bridge must answer within bounded time");
        let bytes = reply
            .into_bytes()
            .await
            .unwrap_or_else(|(status, body)| panic!("HTTP error {status} reached Codex: {body}"));
        check_sse(&bytes).unwrap_or_else(|violation| panic!("invalid stream: {violation}"));
        let reports = self.reports.0.lock().unwrap().clone();
        assert_eq!(reports.len(), before + 1, "exactly one report per request");
        Exchange {
            events: sse_payloads(&bytes).unwrap(),
            report: reports[before].clone(),
            elapsed: started.elapsed(),
        }
    }

    fn backend_bodies(&self) -> Vec<Value> {
        self.mock
            .chat_requests()
            .into_iter()
            .map(|r| r.body)
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a LiteLLM proxy: run through scripts/litellm-proxy.sh (see the file's doc)"]
async fn text_answer_arrives_whole_with_usage() {
    let h = harness(vec![
        Response::text("Hello there, this is a longer answer in several chunks.")
            .with_delta_chars(3)
            .with_usage(json!({"prompt_tokens": 12, "completion_tokens": 9})),
    ])
    .await;
    let x = h.run(vec![user("hi")]).await;
    assert_eq!(
        x.text(),
        "Hello there, this is a longer answer in several chunks."
    );
    assert!(x.completed());
    assert_eq!(x.report.outcome, Outcome::Completed);
    let usage = &x.terminal()["response"]["usage"];
    assert_eq!(
        (
            usage["input_tokens"].as_u64(),
            usage["output_tokens"].as_u64()
        ),
        (Some(12), Some(9)),
        "the backend's usage reaches Codex through LiteLLM: {usage}"
    );
    let bodies = h.backend_bodies();
    assert_eq!(bodies.len(), 1);
    assert_eq!(bodies[0]["messages"][0]["content"], "You are Codex.");
    assert_eq!(bodies[0]["messages"][1]["content"], "hi");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a LiteLLM proxy: run through scripts/litellm-proxy.sh (see the file's doc)"]
async fn tool_loop_round_trips_the_call_and_its_result() {
    let h = harness(vec![
        Response::tool_call(
            "call_via_1",
            "shell",
            json!({"command": ["echo", "a long argument split into many small pieces"]}),
        )
        .with_delta_chars(3),
        Response::text("The command printed it.").when_body_contains("call_via_1"),
    ])
    .await;
    let first = h.run(vec![user("run it")]).await;
    let calls = first.calls();
    assert_eq!(
        calls,
        [(
            "call_via_1".to_string(),
            "shell".to_string(),
            json!({"command": ["echo", "a long argument split into many small pieces"]})
        )]
    );
    let (call_id, name, arguments) = &calls[0];
    let second = h
        .run(vec![
            user("run it"),
            json!({"type": "function_call", "call_id": call_id, "name": name, "arguments": arguments.to_string()}),
            json!({"type": "function_call_output", "call_id": call_id, "output": "a long argument split into many small pieces"}),
        ])
        .await;
    assert_eq!(second.text(), "The command printed it.");
    let bodies = h.backend_bodies();
    assert_eq!(bodies.len(), 2);
    let messages = bodies[1]["messages"].as_array().unwrap();
    let assistant = messages
        .iter()
        .find(|m| m["role"] == "assistant")
        .expect("the call goes back to the backend");
    assert_eq!(assistant["tool_calls"][0]["id"], "call_via_1");
    let tool = messages.iter().find(|m| m["role"] == "tool").unwrap();
    assert_eq!(tool["tool_call_id"], "call_via_1");
    assert!(
        tool["content"]
            .to_string()
            .contains("a long argument split")
    );
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a LiteLLM proxy: run through scripts/litellm-proxy.sh (see the file's doc)"]
async fn parallel_calls_keep_their_order_and_whole_arguments() {
    let mut calls = Response::tool_calls(vec![
        ToolCall::new("call_a", "shell", json!({"command": ["ls", "-la", "/tmp"]})),
        ToolCall::new("call_b", "shell", json!({"command": ["pwd"]})),
        ToolCall::new("call_c", "shell", json!({"command": ["echo", "third"]})),
    ])
    .with_delta_chars(2);
    calls.interleave_tool_calls = true;
    let h = harness(vec![calls]).await;
    let x = h.run(vec![user("three at once")]).await;
    assert_eq!(
        x.calls(),
        [
            (
                "call_a".to_string(),
                "shell".to_string(),
                json!({"command": ["ls", "-la", "/tmp"]})
            ),
            (
                "call_b".to_string(),
                "shell".to_string(),
                json!({"command": ["pwd"]})
            ),
            (
                "call_c".to_string(),
                "shell".to_string(),
                json!({"command": ["echo", "third"]})
            ),
        ]
    );
    assert_eq!(h.backend_bodies()[0]["parallel_tool_calls"], true);
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a LiteLLM proxy: run through scripts/litellm-proxy.sh (see the file's doc)"]
async fn reasoning_reaches_codex_and_goes_back_to_the_backend() {
    let h = harness(vec![
        Response::tool_call("call_r", "shell", json!({"command": ["ls"]}))
            .with_reasoning("First list the files, then answer."),
        Response::text("Listed.")
            .with_reasoning("Now answer.")
            .when_body_contains("call_r"),
    ])
    .await;
    let first = h.run(vec![user("think")]).await;
    let reasoning = first.items("reasoning");
    assert_eq!(reasoning.len(), 1, "{:?}", first.events);
    assert!(
        reasoning[0].to_string().contains("First list the files"),
        "{}",
        reasoning[0]
    );
    assert_eq!(first.calls().len(), 1);
    // Codex sends the reasoning item back with the call on the next request.
    let mut input = vec![user("think")];
    input.extend(
        first
            .items("reasoning")
            .into_iter()
            .chain(first.items("function_call"))
            .cloned(),
    );
    input.push(json!({"type": "function_call_output", "call_id": "call_r", "output": "a.txt"}));
    let second = h.run(input).await;
    assert_eq!(second.text(), "Listed.");
    let bodies = h.backend_bodies();
    let assistant = bodies[1]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["role"] == "assistant")
        .cloned()
        .unwrap();
    assert_eq!(
        assistant["reasoning_content"], "First list the files, then answer.",
        "the reasoning reaches the backend again through LiteLLM: {assistant}"
    );
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a LiteLLM proxy: run through scripts/litellm-proxy.sh (see the file's doc)"]
async fn rate_limit_is_retried_then_completes() {
    let h = harness(vec![
        Response::error(429, "Too many requests").with_header("retry-after", "1"),
        Response::text("after the wait"),
    ])
    .await;
    let x = h.run(vec![user("hi")]).await;
    assert_eq!(x.text(), "after the wait");
    assert_eq!(x.fault_kinds(), ["http_status", "ok"]);
    assert_eq!(x.report.attempts[0].status, Some(429));
    assert!(
        x.elapsed >= Duration::from_millis(950),
        "the backend's Retry-After (passed on as llm_provider-retry-after) was honoured: {:?}",
        x.elapsed
    );
    assert_eq!(x.report.attempts[0].retry_wait_ms, Some(1000));
    assert_eq!(h.backend_bodies().len(), 2, "LiteLLM itself did not retry");
    h.finish().await;

    // Retries run out: a clean failure that keeps the backend's text and says when to try
    // again (from llm_provider-retry-after), with a code Codex does not retry on top.
    let h = harness(vec![
        Response::error(429, "slow down")
            .with_header("retry-after", "1");
        3
    ])
    .await;
    let x = h.run(vec![user("hi")]).await;
    let (code, message) = x.failure();
    // A spent retry budget ends the turn with a code Codex does not retry again
    // (invalid_prompt); the message still says it was rate limited and when to try again.
    assert_eq!(code, "invalid_prompt", "{message}");
    assert!(message.contains("slow down"), "{message}");
    assert!(message.contains("HTTP 429"), "{message}");
    assert!(message.contains("Please try again in"), "{message}");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a LiteLLM proxy: run through scripts/litellm-proxy.sh (see the file's doc)"]
async fn cut_chunked_stream_is_retried_from_scratch() {
    let cut = Response::text("This answer will be cut off in the middle of its text")
        .with_delta_chars(5)
        .with_cut_after_bytes(300);
    let h = harness(vec![cut, Response::text("whole answer")]).await;
    let x = h.run(vec![user("hi")]).await;
    // The message Codex keeps is the retry's whole answer; text shown before the cut (if
    // LiteLLM passed any on) ends as a message marked interrupted before it.
    let messages = x.items("message");
    let (kept, shown) = messages.split_last().unwrap();
    assert_eq!(kept["content"][0]["text"], "whole answer", "{:?}", x.report);
    assert!(
        shown.iter().all(|m| m["status"] == "incomplete"),
        "{shown:?}"
    );
    assert_eq!(h.mock.chat_requests().len(), 2, "no continuation request");
    assert_eq!(x.report.attempts.len(), 2, "{:?}", x.fault_kinds());
    assert_eq!(x.report.outcome, Outcome::Completed);
}

/// Issue 21's case through LiteLLM: the first answer is cut mid-text after part of it was
/// shown, the retry answers differently. The shown part ends as a message marked
/// interrupted, the message Codex keeps is the retry's whole answer, and no continuation
/// request is sent.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a LiteLLM proxy: run through scripts/litellm-proxy.sh (see the file's doc)"]
async fn cut_mid_text_then_a_different_answer_keeps_only_the_retry() {
    let cut = Response::text(
        "This answer will be cut off in the middle of a word by a broken connection.",
    )
    .with_delta_chars(4)
    .with_cut_after_bytes(1200);
    let retry = "Recovered after cut stream. The answer is 42.";
    let h = harness(vec![cut, Response::text(retry)]).await;
    let x = h.run(vec![user("hi")]).await;
    let messages = x.items("message");
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert_eq!(messages[0]["status"], "incomplete");
    assert!(
        messages[0]["content"][0]["text"]
            .as_str()
            .unwrap()
            .ends_with(codex_litellm_bridge::INTERRUPTED_NOTE)
    );
    assert_eq!(messages[1]["content"][0]["text"], retry);
    assert_eq!(h.mock.chat_requests().len(), 2, "no continuation request");
    assert_eq!(x.report.outcome, Outcome::Completed);
}

/// A close-delimited body that ends early has no `finish_reason` and no `[DONE]`: the
/// bridge treats that as a cut when it talks to the backend directly (faults.rs). LiteLLM
/// 1.108.7 ends such a stream with a synthesised `finish_reason: "stop"` and `[DONE]`, so
/// the bridge cannot tell a cut from an answer (docs/TROUBLESHOOTING.md). This test pins
/// that behaviour: when it fails, LiteLLM changed and the documentation needs updating.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a LiteLLM proxy: run through scripts/litellm-proxy.sh (see the file's doc)"]
async fn cut_close_delimited_stream_looks_finished_through_litellm() {
    let clean_cut = Response::text("cut here, the rest never arrives")
        .with_delta_chars(4)
        .with_framing(Framing::Close)
        .without_finish_reason()
        .without_done();
    let h = harness(vec![clean_cut, Response::text("the retry")]).await;
    let x = h.run(vec![user("hi")]).await;
    assert!(x.completed());
    assert_eq!(
        (x.text().as_str(), x.fault_kinds()),
        ("cut here, the rest never arrives", vec!["ok".to_string()]),
        "LiteLLM's behaviour changed: update docs/TROUBLESHOOTING.md"
    );
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a LiteLLM proxy: run through scripts/litellm-proxy.sh (see the file's doc)"]
async fn error_object_in_a_200_stream() {
    let transient = Response::sse(vec![
        json!({"id": "x", "object": "chat.completion.chunk", "created": 1, "model": "mock-model", "choices": [{"index": 0, "delta": {"content": "par"}}]}),
        json!({"error": {"message": "upstream overloaded", "code": "503"}}),
    ]);
    // The retry starts with the text already shown ("par"): live mode (the default) shows
    // only the rest, buffered mode the retry whole; either way the answer appears once.
    let h = harness(vec![transient, Response::text("partly recovered")]).await;
    let x = h.run(vec![user("hi")]).await;
    assert_eq!(
        x.text(),
        "partly recovered",
        "the retried answer, whole and once: {:?}",
        x.fault_kinds()
    );
    assert_eq!(x.report.attempts.len(), 2);
    h.finish().await;

    let permanent = Response::sse(vec![
        json!({"error": {"message": "tools not supported by this model", "code": "400"}}),
    ]);
    let h = harness(vec![permanent.clone(), permanent.clone(), permanent]).await;
    let x = h.run(vec![user("hi")]).await;
    let (_, message) = x.failure();
    assert!(
        message.contains("tools not supported by this model"),
        "the backend's text reaches Codex: {message}"
    );
    assert!(x.elapsed < Duration::from_secs(30));
}

/// The same cut right after the call's name: LiteLLM closes the call with no arguments at
/// all (the fault matrix's cut-close through LiteLLM). It must be retried, not run empty.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a LiteLLM proxy: run through scripts/litellm-proxy.sh (see the file's doc)"]
async fn tool_call_cut_before_its_arguments_is_retried_not_run_empty() {
    let chunk = |delta: Value| {
        json!({"id": "chatcmpl-cut", "object": "chat.completion.chunk", "created": 1, "model": "mock-model",
               "choices": [{"index": 0, "delta": delta, "finish_reason": null}]})
    };
    let cut = Response::sse(vec![
        chunk(json!({"role": "assistant", "content": null})),
        chunk(json!({"tool_calls": [{"index": 0, "id": "call_cut", "type": "function", "function": {"name": "shell", "arguments": ""}}]})),
    ])
    .with_framing(Framing::Close);
    let whole = Response::tool_call("call_cut", "shell", json!({"command": ["echo", "hi"]}));
    let h = harness(vec![cut, whole]).await;
    let x = h.run(vec![user("run it")]).await;
    assert_eq!(
        x.calls(),
        [(
            "call_cut".to_string(),
            "shell".to_string(),
            json!({"command": ["echo", "hi"]})
        )],
        "{:?}",
        x.fault_kinds()
    );
    assert_eq!(x.fault_kinds(), ["stream_cut", "ok"]);
}

/// A tool call cut in a close-delimited stream: LiteLLM closes it with `finish_reason:
/// "stop"` and the arguments as far as they came (`{"co`). The call must not reach Codex
/// with half its arguments: the bridge retries and hands over the whole call.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a LiteLLM proxy: run through scripts/litellm-proxy.sh (see the file's doc)"]
async fn cut_tool_call_never_reaches_codex_with_half_its_arguments() {
    let call = || {
        Response::tool_call(
            "call_cut",
            "shell",
            json!({"command": ["echo", "hello world and more"]}),
        )
        .with_delta_chars(4)
    };
    let h = harness(vec![
        call()
            .with_cut_after_bytes(700)
            .with_framing(Framing::Close),
        call(),
    ])
    .await;
    let x = h.run(vec![user("run it")]).await;
    assert_eq!(
        x.calls(),
        [(
            "call_cut".to_string(),
            "shell".to_string(),
            json!({"command": ["echo", "hello world and more"]})
        )],
        "{:?}",
        x.fault_kinds()
    );
}
