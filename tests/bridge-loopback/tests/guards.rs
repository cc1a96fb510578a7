//! The guards of issue 19 over loopback: the continuation guard (a promise without a call is
//! nudged once, a real final answer is not), the loop guard (the same failing call gets a
//! note, then a stop), and fallback to another model (503 on the primary, its cool-down;
//! never on 401). Each scenario fails with its rule switched off (`GuardSettings` 0 / no
//! `fallback` list).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use codex_litellm_bridge::Bridge;
use codex_litellm_bridge::BridgeMode;
use codex_litellm_bridge::BridgeOptions;
use codex_litellm_bridge::BridgeRequest;
use codex_litellm_bridge::DiscoveredWindows;
use codex_litellm_bridge::ExchangeReport;
use codex_litellm_bridge::Outcome;
use codex_litellm_bridge::conformance::check_sse;
use codex_litellm_bridge::conformance::sse_payloads;
use codex_litellm_bridge_loopback_tests::Reports;
use codex_litellm_guards::continuation::NUDGE;
use codex_litellm_guards::settings::FallbackTarget;
use codex_litellm_mock_llm::Match;
use codex_litellm_mock_llm::MockLlm;
use codex_litellm_mock_llm::Response;
use codex_litellm_mock_llm::Scenario;
use codex_litellm_mock_llm::ToolCall;
use http::HeaderMap;
use http::HeaderValue;
use pretty_assertions::assert_eq;
use serde_json::Value;
use serde_json::json;
use std::sync::Arc;

fn options(mode: BridgeMode) -> BridgeOptions {
    BridgeOptions {
        mode,
        max_attempts: 2,
        retry_base_delay_ms: 10,
        retry_max_delay_ms: 20,
        max_retry_after_secs: 1,
        idle_timeout_secs: Some(2),
        request_timeout_secs: 10,
        ..BridgeOptions::default()
    }
}

struct Run {
    events: Vec<Value>,
    report: ExchangeReport,
}

struct Harness {
    mock: MockLlm,
    bridge: Bridge,
    reports: Arc<Reports>,
}

async fn harness(scenario: Scenario, options: BridgeOptions) -> Harness {
    let mock = MockLlm::start(scenario).await.unwrap();
    let reports = Arc::new(Reports::default());
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let bridge = Bridge::new(client, options, "mock").with_observer(reports.clone());
    Harness {
        mock,
        bridge,
        reports,
    }
}

/// A bridge named like the binary names it: the provider's display name, and its id.
async fn harness_named(
    scenario: Scenario,
    options: BridgeOptions,
    name: &str,
    id: &str,
) -> Harness {
    let mock = MockLlm::start(scenario).await.unwrap();
    let reports = Arc::new(Reports::default());
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let bridge = Bridge::new(client, options, name)
        .with_provider_id(id)
        .with_observer(reports.clone());
    Harness {
        mock,
        bridge,
        reports,
    }
}

impl Harness {
    async fn send(&self, model: &str, input: Vec<Value>) -> Run {
        let mut headers = HeaderMap::new();
        headers.insert(
            "authorization",
            HeaderValue::from_static("Bearer sk-test-secret"),
        );
        // A secret header of the provider's own `http_headers`.
        headers.insert(
            "x-api-key",
            HeaderValue::from_static("sk-test-header-secret"),
        );
        let body = json!({
            "model": model,
            "instructions": "You are Codex.",
            "input": input,
            "tools": [{"type": "function", "name": "shell", "parameters": {"type": "object", "properties": {"command": {"type": "array"}}, "required": ["command"]}}],
            "tool_choice": "auto",
            "stream": true
        });
        let reply = tokio::time::timeout(
            std::time::Duration::from_secs(30),
            self.bridge.respond(BridgeRequest {
                url: format!("{}/responses", self.mock.base_url()),
                headers,
                body,
            }),
        )
        .await
        .expect("the bridge answers within bounded time");
        let bytes = reply.into_bytes().await.unwrap();
        check_sse(&bytes).unwrap_or_else(|violation| panic!("invalid stream: {violation}"));
        let events = sse_payloads(&bytes).unwrap();
        let report = self.reports.0.lock().unwrap().last().cloned().unwrap();
        Run { events, report }
    }

    fn notices(&self) -> Vec<String> {
        self.reports.1.lock().unwrap().clone()
    }
}

fn user(text: &str) -> Value {
    json!({"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]})
}

fn call(id: &str, command: &str) -> Value {
    json!({"type": "function_call", "call_id": id, "name": "shell", "arguments": json!({"command": [command]}).to_string()})
}

fn output(id: &str, text: &str) -> Value {
    json!({"type": "function_call_output", "call_id": id, "output": text})
}

/// A turn that already used a tool: the user's task, one call and its output.
fn turn_with_tools() -> Vec<Value> {
    vec![
        user("Fix the failing import and make sure the tests pass."),
        call("call_1", "cat src/lib.rs"),
        output("call_1", "Exit code: 0\nOutput:\nuse crate::missing;"),
    ]
}

fn completed_text(events: &[Value]) -> String {
    events
        .iter()
        .filter(|e| e["type"] == "response.output_item.done" && e["item"]["type"] == "message")
        .flat_map(|e| e["item"]["content"].as_array().cloned().unwrap_or_default())
        .filter_map(|part| part["text"].as_str().map(str::to_string))
        .collect::<Vec<_>>()
        .join("")
}

fn function_calls(events: &[Value]) -> Vec<Value> {
    events
        .iter()
        .filter(|e| {
            e["type"] == "response.output_item.done" && e["item"]["type"] == "function_call"
        })
        .map(|e| e["item"].clone())
        .collect()
}

fn last_message(request: &Value) -> Value {
    request["messages"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone()
}

const PROMISE: &str = "I found the problem: the import points at a module that does not exist. Now I'll run the tests to confirm the fix.";

fn promise_then_call() -> Scenario {
    Scenario::new(vec![
        Response::text(PROMISE),
        Response::tool_calls(vec![ToolCall::new(
            "call_tests",
            "shell",
            json!({"command": ["cargo", "test"]}),
        )])
        .with_match(Match {
            body_contains: vec!["made no tool call".to_string()],
            ..Match::default()
        }),
    ])
}

async fn promise_is_answered_by_a_call_after_one_nudge(mode: BridgeMode) {
    let h = harness(promise_then_call(), options(mode)).await;
    let run = h.send("mock-model", turn_with_tools()).await;
    let sent = h.mock.chat_requests();
    assert_eq!(sent.len(), 2, "the promise is nudged once");
    // The second request: the promise as the assistant's, then the nudge.
    let messages = sent[1].body["messages"].as_array().unwrap();
    let n = messages.len();
    assert_eq!(messages[n - 2]["role"], "assistant");
    assert_eq!(messages[n - 2]["content"], PROMISE);
    assert_eq!(messages[n - 1]["role"], "user");
    assert_eq!(messages[n - 1]["content"], NUDGE);
    // Codex gets the call as an ordinary call; the nudge is never model output.
    let calls = function_calls(&run.events);
    assert_eq!(calls.len(), 1, "{:#?}", run.events);
    assert_eq!(calls[0]["name"], "shell");
    let text = completed_text(&run.events);
    assert!(text.starts_with(PROMISE), "{text}");
    assert!(
        !serde_json::to_string(&run.events)
            .unwrap()
            .contains("made no tool call")
    );
    assert_eq!(run.report.nudges, 1);
    assert!(!run.report.nudge_unanswered);
    assert_eq!(run.report.outcome, Outcome::Completed);
}

#[tokio::test]
async fn buffered_a_promise_is_answered_by_a_call_after_one_nudge() {
    promise_is_answered_by_a_call_after_one_nudge(BridgeMode::Buffered).await;
}

/// Live mode: the promise is on screen before the nudge is sent; the call follows.
#[tokio::test]
async fn live_a_promise_is_answered_by_a_call_after_one_nudge() {
    promise_is_answered_by_a_call_after_one_nudge(BridgeMode::Live).await;
}

/// Live mode reads the raw text: a `<think>` block before the promise is not part of what
/// the model is reminded it said.
#[tokio::test]
async fn live_a_promise_after_a_think_block_is_nudged_without_the_block() {
    let scenario = Scenario::new(vec![
        Response::text(format!("<think>the import is wrong</think>{PROMISE}")),
        Response::text("All tests pass now."),
    ]);
    let h = harness(scenario, options(BridgeMode::Live)).await;
    let run = h.send("mock-model", turn_with_tools()).await;
    let sent = h.mock.chat_requests();
    assert_eq!(sent.len(), 2, "the promise is nudged");
    let messages = sent[1].body["messages"].as_array().unwrap();
    assert_eq!(messages[messages.len() - 2]["content"], PROMISE);
    assert_eq!(run.report.nudges, 1);
    assert!(!run.report.nudge_unanswered, "a final answer followed");
}

#[tokio::test]
async fn a_real_final_answer_is_not_nudged() {
    let done = "Fixed the import in src/lib.rs; all 12 tests pass now.";
    let scenario = Scenario::new(vec![Response::text(done), Response::text("extra")]);
    for mode in [BridgeMode::Buffered, BridgeMode::Live] {
        let h = harness(scenario.clone(), options(mode)).await;
        let run = h.send("mock-model", turn_with_tools()).await;
        assert_eq!(
            h.mock.chat_requests().len(),
            1,
            "{mode:?}: exactly one request"
        );
        assert_eq!(completed_text(&run.events), done);
        assert_eq!(run.report.nudges, 0);
    }
}

#[tokio::test]
async fn a_promise_still_unanswered_after_the_nudge_is_handed_over_and_recorded() {
    let scenario = Scenario::new(vec![
        Response::text(PROMISE),
        Response::text("Next, I will run the tests."),
    ]);
    let h = harness(scenario, options(BridgeMode::Buffered)).await;
    let run = h.send("mock-model", turn_with_tools()).await;
    assert_eq!(h.mock.chat_requests().len(), 2, "one nudge, not more");
    assert_eq!(run.report.nudges, 1);
    assert!(run.report.nudge_unanswered);
    assert!(function_calls(&run.events).is_empty());
}

/// `n` identical failing calls of `make` in the current turn.
fn failing_history(n: usize) -> Vec<Value> {
    let mut input = vec![user("Build the project.")];
    for i in 0..n {
        let id = format!("call_make_{i}");
        input.push(call(&id, "make"));
        input.push(output(
            &id,
            "Exit code: 2\nWall time: 0.1 seconds\nOutput:\nmake: *** No rule to make target 'all'.  Stop.",
        ));
    }
    input
}

#[tokio::test]
async fn the_same_failing_call_gets_a_note_on_the_fourth_request_and_a_stop_on_the_fifth_failure() {
    // The model repeats `make` whatever it is told.
    let scenario = Scenario {
        fallback: Response::tool_calls(vec![ToolCall::new(
            "call_make",
            "shell",
            json!({"command": ["make"]}),
        )]),
        ..Scenario::default()
    };
    let h = harness(scenario, options(BridgeMode::Buffered)).await;
    for failures in 0..5 {
        let run = h.send("mock-model", failing_history(failures)).await;
        let sent = h.mock.chat_requests();
        assert_eq!(sent.len(), failures + 1);
        let last = last_message(&sent[failures].body);
        let noted = last["role"] == "user"
            && last["content"].as_str().is_some_and(|t| {
                t.contains("has failed 3 times in a row")
                    || t.contains("has failed 4 times in a row")
            });
        assert_eq!(noted, failures >= 3, "request {}: {last}", failures + 1);
        assert_eq!(run.report.loop_guard.is_some(), failures >= 3);
        assert_eq!(function_calls(&run.events).len(), 1);
    }
    // The fifth identical failure: no backend call, the turn ends with the message.
    let run = h.send("mock-model", failing_history(5)).await;
    assert_eq!(h.mock.chat_requests().len(), 5, "no request after the stop");
    let text = completed_text(&run.events);
    assert!(text.starts_with("Stopped by the loop guard:"), "{text}");
    assert!(text.contains("shell"), "{text}");
    assert!(text.contains("5 times"), "{text}");
    assert!(function_calls(&run.events).is_empty());
    assert_eq!(run.events.last().unwrap()["type"], "response.completed");
    let guard = run.report.loop_guard.unwrap();
    assert_eq!(
        (guard.action, guard.count, guard.failing),
        ("stop", 5, true)
    );
    assert_eq!(run.report.outcome, Outcome::Completed);
}

fn with_fallback(primary: &str, backup: &str) -> BridgeOptions {
    let mut options = options(BridgeMode::Buffered);
    options.fallback.by_model.insert(
        primary.to_string(),
        vec![FallbackTarget {
            provider: None,
            model: backup.to_string(),
        }],
    );
    options
}

fn model_is(model: &str) -> Match {
    Match {
        body_contains: vec![format!("\"model\":\"{model}\"")],
        ..Match::default()
    }
}

fn models_asked(mock: &MockLlm) -> Vec<String> {
    mock.chat_requests()
        .iter()
        .map(|r| r.body["model"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn buffered_a_primary_answering_503_is_served_by_the_fallback_and_skipped_during_its_cool_down()
 {
    primary_answering_503_is_served_by_the_fallback(
        BridgeMode::Buffered,
        "primary-503",
        "backup-503",
    )
    .await;
}

/// Live mode: nothing was shown before the switch, so the fallback's answer is the stream.
#[tokio::test]
async fn live_a_primary_answering_503_is_served_by_the_fallback_and_skipped_during_its_cool_down() {
    primary_answering_503_is_served_by_the_fallback(
        BridgeMode::Live,
        "primary-live",
        "backup-live",
    )
    .await;
}

// Model names of their own per test: the circuit breaker is process-wide.
async fn primary_answering_503_is_served_by_the_fallback(
    mode: BridgeMode,
    primary: &str,
    backup: &str,
) {
    let scenario = Scenario {
        fallback: Response::json(json!({"error": {"message": "Service Unavailable"}}))
            .with_status(503),
        ..Scenario::new(vec![
            Response::text("Served by the backup.").with_match(model_is(backup)),
            Response::text("Served by the backup again.").with_match(model_is(backup)),
        ])
    };
    let mut options = with_fallback(primary, backup);
    options.mode = mode;
    let h = harness(scenario, options).await;
    let run = h.send(primary, vec![user("hi")]).await;
    assert_eq!(models_asked(&h.mock), [primary, primary, backup]);
    assert_eq!(completed_text(&run.events), "Served by the backup.");
    let switch = run.report.fallback.clone().unwrap();
    assert_eq!(
        (
            switch.from.as_str(),
            switch.to.as_str(),
            switch.reason.as_str()
        ),
        (
            format!("mock/{primary}").as_str(),
            format!("mock/{backup}").as_str(),
            "overloaded"
        )
    );
    assert_eq!(
        run.report.request.model, backup,
        "counted for the model that answered"
    );
    assert_eq!(
        h.notices(),
        [format!(
            "codex-litellm: {backup} answered instead of {primary} ({primary}: overloaded (HTTP 503)); {primary} is tried again after 60s"
        )]
    );
    // The next request goes straight to the backup: the primary cools down.
    let run = h.send(primary, vec![user("again")]).await;
    assert_eq!(models_asked(&h.mock), [primary, primary, backup, backup]);
    assert_eq!(completed_text(&run.events), "Served by the backup again.");
    assert_eq!(run.report.fallback.unwrap().reason, "cooling_down");
}

/// `<provider>/<model>`: the other provider's URL and options, and never the first
/// provider's key (it has its own `env_key`, here none).
#[tokio::test]
async fn a_fallback_on_another_provider_gets_its_url_and_not_the_first_providers_key() {
    let (primary, backup) = ("primary-cross", "backup-cross");
    let other = MockLlm::start(Scenario::new(vec![
        Response::text("Served by the other provider.").with_match(model_is(backup)),
    ]))
    .await
    .unwrap();
    let scenario = Scenario {
        fallback: Response::json(json!({"error": {"message": "Bad Gateway"}})).with_status(502),
        ..Scenario::default()
    };
    let mut options = options(BridgeMode::Buffered);
    options.fallback.by_model.insert(
        primary.to_string(),
        vec![FallbackTarget {
            provider: Some("other".to_string()),
            model: backup.to_string(),
        }],
    );
    options.fallback.routes.insert(
        "other".to_string(),
        codex_litellm_bridge::FallbackRoute {
            base_url: other.base_url(),
            env_key: None,
            options: Box::new(options.clone()),
        },
    );
    let h = harness(scenario, options).await;
    let run = h.send(primary, vec![user("hi")]).await;
    assert_eq!(models_asked(&h.mock), [primary, primary]);
    assert!(
        h.mock.chat_requests()[0].headers.contains_key("x-api-key"),
        "the first provider gets its own headers"
    );
    assert_eq!(models_asked(&other), [backup]);
    assert_eq!(completed_text(&run.events), "Served by the other provider.");
    let sent = &other.chat_requests()[0];
    assert!(
        !sent.headers.contains_key("authorization") && !sent.headers.contains_key("x-api-key"),
        "the first provider's key went to another provider: {:?}",
        sent.headers.keys().collect::<Vec<_>>()
    );
    let switch = run.report.fallback.unwrap();
    assert_eq!(
        (switch.to.as_str(), switch.reason.as_str()),
        ("other/backup-cross", "server_error")
    );
    assert_eq!(run.report.provider, "other");
    assert_eq!(
        h.notices(),
        [
            "codex-litellm: other/backup-cross answered instead of primary-cross (primary-cross: server error (HTTP 502)); primary-cross is tried again after 60s"
        ]
    );
}

/// A context-length error switches to a fallback with a larger window when the windows are
/// known only from what the backend reported (the model catalog's discovery), not from
/// litellm.toml; a fallback whose reported window is not larger gets no switch.
#[tokio::test]
async fn a_context_length_error_switches_to_a_larger_discovered_window() {
    let too_long = Response::json(json!({"error": {
        "message": "This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens.",
        "code": "context_length_exceeded"}}))
    .with_status(400);
    let reported = |provider: &str, model: &str| match (provider, model) {
        ("mock", "small-ctx" | "small-ctx-2" | "small-ctx-3") => Some(8192),
        ("mock", "big-ctx") => Some(131_072),
        ("mock", "same-ctx") => Some(8192),
        _ => None,
    };
    // Primaries of their own: the circuit breaker is process-wide. The third case is the
    // binary's: the bridge named by the provider's display name, discovery keyed by its id.
    for (primary, backup, switches, display_name) in [
        ("small-ctx", "big-ctx", true, None),
        ("small-ctx-2", "same-ctx", false, None),
        ("small-ctx-3", "big-ctx", true, Some("Mock Gateway")),
    ] {
        let scenario = Scenario {
            fallback: too_long.clone(),
            ..Scenario::new(vec![
                Response::text("Served by the larger window.").with_match(model_is(backup)),
            ])
        };
        let mut options = with_fallback(primary, backup);
        options.fallback.discovered_windows = DiscoveredWindows::new(reported);
        let h = match display_name {
            None => harness(scenario, options).await,
            Some(name) => harness_named(scenario, options, name, "mock").await,
        };
        let run = h.send(primary, vec![user("hi")]).await;
        if switches {
            assert_eq!(models_asked(&h.mock), [primary, backup]);
            assert_eq!(completed_text(&run.events), "Served by the larger window.");
            assert_eq!(run.report.fallback.unwrap().reason, "context_length");
            assert_eq!(
                h.notices(),
                [format!(
                    "codex-litellm: {backup} answered instead of {primary} ({primary}: the conversation is over its 8192-token context window (131072 on the fallback))"
                )],
                "{display_name:?}"
            );
        } else {
            assert_eq!(models_asked(&h.mock), [primary]);
            assert!(run.report.fallback.is_none());
            let last = run.events.last().unwrap();
            assert_eq!(
                last["response"]["error"]["code"], "context_length_exceeded",
                "{last}"
            );
        }
    }
}

#[tokio::test]
async fn a_401_never_falls_back() {
    let (primary, backup) = ("primary-401", "backup-401");
    let scenario = Scenario {
        fallback: Response::json(
            json!({"error": {"message": "Authentication Error, invalid key"}}),
        )
        .with_status(401),
        ..Scenario::new(vec![
            Response::text("Served by the backup.").with_match(model_is(backup)),
        ])
    };
    let h = harness(scenario, with_fallback(primary, backup)).await;
    let run = h.send(primary, vec![user("hi")]).await;
    assert_eq!(models_asked(&h.mock), [primary]);
    assert!(run.report.fallback.is_none());
    assert!(h.notices().is_empty());
    assert!(matches!(run.report.outcome, Outcome::Failed { .. }));
}
