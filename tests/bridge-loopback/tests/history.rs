//! History a chat backend would refuse, sent through the bridge over loopback: what the
//! backend receives is repaired, and the report (what telemetry records) says so.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use codex_litellm_bridge::Bridge;
use codex_litellm_bridge::BridgeOptions;
use codex_litellm_bridge::BridgeRequest;
use codex_litellm_bridge::ExchangeReport;
use codex_litellm_bridge::ToolCallContent;
use codex_litellm_bridge::options::ReasoningHistory;
use codex_litellm_bridge_loopback_tests::Reports;
use codex_litellm_mock_llm::MockLlm;
use codex_litellm_mock_llm::Response;
use codex_litellm_mock_llm::Scenario;
use http::HeaderMap;
use pretty_assertions::assert_eq;
use serde_json::Value;
use serde_json::json;
use std::sync::Arc;

fn user(text: &str) -> Value {
    json!({"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]})
}

fn assistant(text: &str) -> Value {
    json!({"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": text}]})
}

fn reasoning(text: &str) -> Value {
    json!({"type": "reasoning", "summary": [], "content": [{"type": "reasoning_text", "text": text}]})
}

fn call(id: &str) -> Value {
    json!({"type": "function_call", "call_id": id, "name": "shell", "arguments": "{\"command\":[\"ls\"]}"})
}

fn output(id: &str, text: &str) -> Value {
    json!({"type": "function_call_output", "call_id": id, "output": text})
}

/// Sends `input` through the bridge; returns the messages the backend received and the
/// report.
async fn send(input: Vec<Value>, options: BridgeOptions) -> (Vec<Value>, ExchangeReport) {
    send_to(Scenario::new(vec![Response::text("ok")]), input, options).await
}

/// [`send`] to a backend answering as `scenario` says.
async fn send_to(
    scenario: Scenario,
    input: Vec<Value>,
    options: BridgeOptions,
) -> (Vec<Value>, ExchangeReport) {
    let mock = MockLlm::start(scenario).await.unwrap();
    let reports = Arc::new(Reports::default());
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let bridge = Bridge::new(client, options, "mock").with_observer(reports.clone());
    let body = json!({
        "model": "mock-model",
        "instructions": "You are Codex.",
        "input": input,
        "tools": [{"type": "function", "name": "shell", "parameters": {"type": "object", "properties": {"command": {"type": "array"}}}}],
        "stream": true
    });
    let reply = bridge
        .respond(BridgeRequest {
            url: format!("{}/responses", mock.base_url()),
            headers: HeaderMap::new(),
            body,
        })
        .await;
    reply.into_bytes().await.unwrap();
    let sent = mock.chat_requests();
    assert_eq!(sent.len(), 1);
    let messages = sent[0].body["messages"].as_array().unwrap().clone();
    let report = reports.0.lock().unwrap()[0].clone();
    (messages, report)
}

fn repairs(report: &ExchangeReport) -> Vec<(String, u64)> {
    report
        .request
        .history_repairs
        .iter()
        .map(|(kind, n)| (kind.clone(), *n))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_interrupted_tool_call_is_answered_so_the_backend_accepts_the_history() {
    // Upstream openai/codex#7051: "An assistant message with 'tool_calls' must be followed
    // by tool messages responding to each 'tool_call_id'".
    let (messages, report) = send(
        vec![user("run ls"), call("call_1"), user("never mind, say hi")],
        BridgeOptions::default(),
    )
    .await;
    assert_eq!(messages[2]["tool_calls"][0]["id"], "call_1");
    assert_eq!(messages[3]["role"], "tool");
    assert_eq!(messages[3]["tool_call_id"], "call_1");
    assert_eq!(messages[4]["content"], "never mind, say hi");
    assert_eq!(repairs(&report), [("unanswered_tool_call".into(), 1)]);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_output_whose_call_was_compacted_away_is_kept_as_user_text() {
    let (messages, report) = send(
        vec![output("call_gone", "file.txt"), user("and now?")],
        BridgeOptions::default(),
    )
    .await;
    assert_eq!(
        messages[1],
        json!({"role": "user", "content": "Output of tool call call_gone:\nfile.txt"})
    );
    assert!(messages.iter().all(|m| m["role"] != "tool"));
    assert_eq!(repairs(&report), [("orphan_tool_output".into(), 1)]);
}

#[tokio::test(flavor = "multi_thread")]
async fn two_model_turns_without_a_user_message_between_become_one_assistant_message() {
    let (messages, report) = send(
        vec![
            user("hi"),
            assistant("first"),
            reasoning("again"),
            assistant("second"),
        ],
        BridgeOptions::default(),
    )
    .await;
    let roles: Vec<&str> = messages
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["system", "user", "assistant"]);
    assert_eq!(messages[2]["content"], "first\n\nsecond");
    assert_eq!(messages[2]["reasoning_content"], "again");
    assert_eq!(repairs(&report), [("consecutive_assistant".into(), 1)]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_system_message_after_the_conversation_started_is_sent_as_user() {
    let (messages, report) = send(
        vec![
            user("hi"),
            assistant("hello"),
            json!({"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "approval policy changed"}]}),
            user("go on"),
        ],
        BridgeOptions::default(),
    )
    .await;
    assert_eq!(
        messages[3],
        json!({"role": "user", "content": "approval policy changed"})
    );
    assert_eq!(messages.iter().filter(|m| m["role"] == "system").count(), 1);
    assert_eq!(repairs(&report), [("late_system".into(), 1)]);
}

#[tokio::test(flavor = "multi_thread")]
async fn reasoning_of_earlier_turns_is_sent_back_as_the_scope_says() {
    let history = vec![
        user("turn 1"),
        reasoning("chat thoughts"),
        assistant("hi"),
        user("turn 2"),
        reasoning("tool thoughts"),
        call("call_1"),
        output("call_1", "a.txt"),
        assistant("done"),
        user("turn 3"),
        reasoning("current thoughts"),
        call("call_2"),
        output("call_2", "b.txt"),
    ];
    let sent_back = |messages: &[Value]| -> Vec<String> {
        messages
            .iter()
            .filter_map(|m| m["reasoning_content"].as_str().map(str::to_string))
            .collect()
    };
    let (default, report) = send(history.clone(), BridgeOptions::default()).await;
    assert_eq!(sent_back(&default), ["tool thoughts", "current thoughts"]);
    assert_eq!(report.request.reasoning_not_sent_back, 1);
    for (scope, expected) in [
        (ReasoningHistory::CurrentTurn, vec!["current thoughts"]),
        (
            ReasoningHistory::All,
            vec!["chat thoughts", "tool thoughts", "current thoughts"],
        ),
        (ReasoningHistory::None, vec![]),
    ] {
        let options = BridgeOptions {
            reasoning_history: scope,
            ..BridgeOptions::default()
        };
        let (messages, _) = send(history.clone(), options).await;
        assert_eq!(sent_back(&messages), expected, "{scope:?}");
    }
}

/// A backend that refuses `content: null` on an assistant tool-call message, as
/// llama-cpp-python 0.3.36's server does (HTTP 500, a pydantic validation error), and
/// takes `content: ""`.
fn refusing_null_content() -> Scenario {
    Scenario {
        fallback: Response::text("ok"),
        ..Scenario::new(vec![
            Response::error(
                500,
                "1 validation error: ('body', 'messages', 2, 'ChatCompletionRequestAssistantMessage', 'content'), 'msg': 'Input should be a valid string', 'input': None",
            )
            .when_body_contains("\"content\":null"),
        ])
    }
}

fn round_trip() -> Vec<Value> {
    vec![user("run ls"), call("call_1"), output("call_1", "a.txt")]
}

/// `tool_call_content = "auto"` (default): `null` first (what LiteLLM needs for Anthropic);
/// refused, the same request goes again at once with `""`, the user is told once, and the
/// next request to that backend carries `""` from the start.
#[tokio::test(flavor = "multi_thread")]
async fn a_backend_refusing_null_tool_call_content_gets_empty_content() {
    let mock = MockLlm::start(refusing_null_content()).await.unwrap();
    let reports = Arc::new(Reports::default());
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let bridge = Bridge::new(client, BridgeOptions::default(), "llamacpp")
        .with_provider_id("llamacpp")
        .with_observer(reports.clone());
    let send = |text: &str| {
        let mut input = round_trip();
        input.push(user(text));
        bridge.respond(BridgeRequest {
            url: format!("{}/responses", mock.base_url()),
            headers: HeaderMap::new(),
            body: json!({"model": "m", "input": input, "stream": true}),
        })
    };
    let bytes = send("first").await.into_bytes().await.unwrap();
    assert!(String::from_utf8_lossy(&bytes).contains("response.completed"));
    let contents: Vec<Value> = mock
        .chat_requests()
        .iter()
        .map(|r| r.body["messages"][1]["content"].clone())
        .collect();
    assert_eq!(contents, [Value::Null, json!("")]);
    let report = reports.0.lock().unwrap()[0].clone();
    let statuses: Vec<Option<u16>> = report.attempts.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [Some(500), Some(200)]);
    assert_eq!(
        report.attempts[0].retry_wait_ms,
        Some(0),
        "sent again at once"
    );
    assert_eq!(
        reports.1.lock().unwrap().clone(),
        [
            "codex-litellm (llamacpp): the backend refused an assistant tool-call message with `content: null`; sent `content: \"\"` instead, and keeps doing so for this backend. Set `tool_call_content = \"empty_string\"` in litellm.toml [providers.llamacpp.bridge] to skip the refused request."
        ]
    );
    // The next request goes with "" at once, and nothing more is said.
    send("second").await.into_bytes().await.unwrap();
    let requests = mock.chat_requests();
    assert_eq!(requests.len(), 3);
    assert_eq!(requests[2].body["messages"][1]["content"], "");
    assert_eq!(reports.1.lock().unwrap().len(), 1);
}

/// `tool_call_content = "empty_string"`: `""` from the first request; `"null"`: `null`,
/// also on a message merged from two model turns.
#[tokio::test(flavor = "multi_thread")]
async fn tool_call_content_empty_string_and_null_are_sent_as_set() {
    let (messages, report) = send_to(
        refusing_null_content(),
        round_trip(),
        BridgeOptions {
            tool_call_content: ToolCallContent::EmptyString,
            ..BridgeOptions::default()
        },
    )
    .await;
    assert_eq!(
        messages[2],
        json!({"role": "assistant", "content": "", "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "shell", "arguments": "{\"command\":[\"ls\"]}"}}
        ]})
    );
    assert_eq!(report.attempts.len(), 1);
    let null = BridgeOptions {
        tool_call_content: ToolCallContent::Null,
        ..BridgeOptions::default()
    };
    let (messages, _) = send(round_trip(), null.clone()).await;
    assert_eq!(messages[2]["content"], Value::Null);
    assert!(messages[2]["tool_calls"].is_array());
    // An empty text turn, then a call: merged into one message, still the configured form.
    let merged_turns = || {
        vec![
            user("run ls"),
            assistant(""),
            reasoning("then"),
            call("call_1"),
            output("call_1", "a.txt"),
        ]
    };
    let (messages, _) = send(merged_turns(), null).await;
    let merged = messages.iter().find(|m| m["role"] == "assistant").unwrap();
    assert_eq!(merged["content"], Value::Null, "{messages:?}");
    let (messages, _) = send(
        merged_turns(),
        BridgeOptions {
            tool_call_content: ToolCallContent::EmptyString,
            ..BridgeOptions::default()
        },
    )
    .await;
    let merged = messages.iter().find(|m| m["role"] == "assistant").unwrap();
    assert_eq!(merged["content"], "", "{messages:?}");
}
