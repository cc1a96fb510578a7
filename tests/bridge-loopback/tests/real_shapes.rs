//! Every answer in ../shared/real-shapes beside the repository (captured from real servers
//! and gateways; `CODEX_LITELLM_REAL_SHAPES` points elsewhere)
//! replayed byte for byte by the mock server over loopback, through the bridge, in each
//! bridge mode. What Codex receives must match the sample's `expect`: text, reasoning,
//! tool calls, or the backend's error. The fixture README gives the conventions.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use codex_litellm_bridge::Bridge;
use codex_litellm_bridge::BridgeMode;
use codex_litellm_bridge::BridgeOptions;
use codex_litellm_bridge::BridgeRequest;
use codex_litellm_bridge::conformance::check_sse;
use codex_litellm_bridge::conformance::sse_payloads;
use codex_litellm_mock_llm::MockLlm;
use codex_litellm_mock_llm::Response;
use codex_litellm_mock_llm::Scenario;
use http::HeaderMap;
use serde_json::Value;
use serde_json::json;
use std::path::PathBuf;
use std::time::Duration;

/// The project keeps the samples in `shared/` beside the repository (as CI has it), not in
/// the repository itself.
fn samples_dir() -> PathBuf {
    std::env::var_os("CODEX_LITELLM_REAL_SHAPES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/real-shapes")
        })
}

struct Sample {
    name: String,
    streamed: bool,
    body: Value,
    expect: Value,
}

fn samples() -> Vec<Sample> {
    let mut samples: Vec<Sample> = std::fs::read_dir(samples_dir())
        .expect("the real-shapes samples: ../shared/real-shapes beside the repository, or set CODEX_LITELLM_REAL_SHAPES")
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .map(|path| {
            let value: Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            Sample {
                name: path.file_stem().unwrap().to_string_lossy().into_owned(),
                streamed: value["streamed"].as_bool().unwrap(),
                body: value["body"].clone(),
                expect: value["expect"].clone(),
            }
        })
        .collect();
    samples.sort_by(|a, b| a.name.cmp(&b.name));
    samples
}

/// The sample's body as the mock serves it: SSE lines exactly as captured.
fn response_for(sample: &Sample) -> Response {
    if !sample.streamed {
        return Response::json(sample.body.clone());
    }
    let events = sample
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|element| {
            if let Some(comment) = element.get("_comment").and_then(Value::as_str) {
                json!({"$raw": format!(": {comment}\n\n")})
            } else if let Some(event) = element.get("_event").and_then(Value::as_str) {
                json!({"$raw": format!("event: {event}\n")})
            } else {
                element.clone()
            }
        })
        .collect();
    Response::sse(events)
}

/// What Codex made of the answer, in the sample's `expect` terms.
#[derive(Debug, PartialEq)]
struct Seen {
    text: Option<String>,
    reasoning: Option<String>,
    tool_calls: Vec<(String, Value)>,
    error: Option<String>,
}

fn non_empty(text: String) -> Option<String> {
    let trimmed = text.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_string())
}

fn seen_in(events: &[Value]) -> Seen {
    let mut text = String::new();
    let mut reasoning = String::new();
    let mut tool_calls = Vec::new();
    let mut error = None;
    for event in events {
        match event["type"].as_str().unwrap_or_default() {
            "response.output_item.done" => {
                let item = &event["item"];
                match item["type"].as_str().unwrap_or_default() {
                    "message" => text.push_str(item["content"][0]["text"].as_str().unwrap()),
                    "reasoning" => {
                        reasoning.push_str(item["summary"][0]["text"].as_str().unwrap_or(""))
                    }
                    "function_call" => {
                        let arguments = item["arguments"].as_str().unwrap();
                        tool_calls.push((
                            item["name"].as_str().unwrap().to_string(),
                            serde_json::from_str(arguments).unwrap_or(json!(arguments)),
                        ));
                    }
                    other => panic!("unexpected item {other}: {item}"),
                }
            }
            "response.failed" => {
                error = event["response"]["error"]["message"]
                    .as_str()
                    .map(str::to_string);
            }
            _ => {}
        }
    }
    Seen {
        text: non_empty(text),
        reasoning: non_empty(reasoning),
        tool_calls,
        error,
    }
}

fn expected(sample: &Sample) -> Seen {
    let text_of = |key: &str| {
        sample.expect[key]
            .as_str()
            .and_then(|s| non_empty(s.to_string()))
    };
    Seen {
        text: text_of("text"),
        reasoning: text_of("reasoning"),
        tool_calls: sample.expect["tool_calls"]
            .as_array()
            .unwrap()
            .iter()
            .map(|call| {
                (
                    call["name"].as_str().unwrap().to_string(),
                    call["arguments"].clone(),
                )
            })
            .collect(),
        error: text_of("error"),
    }
}

/// Codex's request, declaring the tools the sample calls (as a real session would).
fn codex_body(sample: &Sample) -> Value {
    let names: Vec<String> = expected(sample)
        .tool_calls
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    body_with_tools(&names)
}

fn body_with_tools<S: AsRef<str>>(names: &[S]) -> Value {
    let tools: Vec<Value> = names
        .iter()
        .map(|name| json!({"type": "function", "name": name.as_ref(), "parameters": {"type": "object", "properties": {}}}))
        .collect();
    json!({
        "model": "mock-model",
        "instructions": "You are Codex.",
        "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}],
        "tools": tools,
        "tool_choice": "auto",
        "parallel_tool_calls": true,
        "stream": true
    })
}

/// Replays one sample; returns why it does not match, if it does not.
async fn replay(sample: &Sample, mode: BridgeMode) -> Result<(), String> {
    let want = expected(sample);
    let events = bridge_events(response_for(sample), codex_body(sample), mode).await?;
    let mut seen = seen_in(&events);
    // The backend's error is reported inside the bridge's own message.
    if let (Some(got), Some(wanted)) = (&seen.error, &want.error)
        && got.contains(wanted.as_str())
    {
        seen.error = Some(wanted.clone());
    }
    // An answer cut off while thinking may carry the cut-off notice instead of no text.
    if sample.name.starts_with("23-")
        && want.text.is_none()
        && seen
            .text
            .as_deref()
            .is_some_and(|text| text.starts_with("[codex-litellm] The answer was cut off"))
    {
        seen.text = None;
    }
    if seen == want {
        Ok(())
    } else {
        Err(format!("got {seen:#?}\nwanted {want:#?}"))
    }
}

/// One request through the bridge against a mock serving `response`; the Responses events
/// Codex receives (checked against Codex's rules).
async fn bridge_events(
    response: Response,
    body: Value,
    mode: BridgeMode,
) -> Result<Vec<Value>, String> {
    let mock = MockLlm::start(Scenario::new(vec![response])).await.unwrap();
    let options = BridgeOptions {
        mode,
        // One answer per sample: an error inside the stream must be reported, not retried
        // against a mock that has nothing more to say.
        max_attempts: 1,
        idle_timeout_secs: Some(5),
        request_timeout_secs: 20,
        ..BridgeOptions::default()
    };
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let bridge = Bridge::new(client, options, "mock");
    let request = BridgeRequest {
        url: format!("{}/responses", mock.base_url()),
        headers: HeaderMap::new(),
        body,
    };
    let reply = tokio::time::timeout(Duration::from_secs(30), bridge.respond(request))
        .await
        .map_err(|_| "no answer within 30 s".to_string())?;
    let bytes = reply
        .into_bytes()
        .await
        .map_err(|(status, body)| format!("HTTP {status}: {body}"))?;
    check_sse(&bytes).map_err(|violation| format!("invalid Responses stream: {violation}"))?;
    Ok(sse_payloads(&bytes).unwrap())
}

async fn replay_all(mode: BridgeMode) {
    let samples = samples();
    assert_eq!(samples.len(), 47, "the fixture set has 47 samples");
    let mut failures = Vec::new();
    for sample in &samples {
        if let Err(why) = replay(sample, mode).await {
            failures.push(format!("{}: {why}", sample.name));
        }
    }
    let names: Vec<&str> = failures
        .iter()
        .map(|f| f.split(':').next().unwrap_or_default())
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} samples do not come out right in {mode:?} mode: {names:?}\n\n{}",
        failures.len(),
        samples.len(),
        failures.join("\n\n")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_real_answer_shape_comes_out_right_live() {
    replay_all(BridgeMode::Live).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_real_answer_shape_comes_out_right_buffered() {
    replay_all(BridgeMode::Buffered).await;
}

fn chunk(choices: Value) -> Value {
    json!({"id": "chatcmpl-x", "object": "chat.completion.chunk", "model": "m", "choices": choices})
}

fn completion(choices: Value) -> Value {
    json!({"id": "chatcmpl-x", "object": "chat.completion", "model": "m", "choices": choices,
           "usage": {"prompt_tokens": 5, "completion_tokens": 5}})
}

fn call(name: &str, arguments: Value) -> (String, Value) {
    (name.to_string(), arguments)
}

/// Shapes documented by backends or seen in issue trackers that the captured set lacks,
/// each through the bridge over loopback (see docs/BACKENDS.md).
fn synthetic_shapes() -> Vec<(&'static str, Response, Seen)> {
    vec![
        (
            "reasoning_as_object_streamed",
            Response::sse(vec![
                chunk(json!([{"index": 0, "delta": {"role": "assistant", "reasoning": {"text": "think "}}}])),
                chunk(json!([{"index": 0, "delta": {"reasoning": {"content": "more"}}}])),
                chunk(json!([{"index": 0, "delta": {"content": "answer"}, "finish_reason": "stop"}])),
                json!("[DONE]"),
            ]),
            Seen { text: Some("answer".into()), reasoning: Some("think more".into()), tool_calls: vec![], error: None },
        ),
        (
            "reasoning_as_object_non_streamed",
            Response::json(completion(json!([{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "ok", "reasoning_content": {"text": "plan"}}}]))),
            Seen { text: Some("ok".into()), reasoning: Some("plan".into()), tool_calls: vec![], error: None },
        ),
        (
            "reasoning_in_a_message_inside_a_stream_chunk",
            Response::sse(vec![
                chunk(json!([{"index": 0, "delta": {"role": "assistant", "content": "Hel"}, "message": {"reasoning_content": "why"}}])),
                chunk(json!([{"index": 0, "delta": {"content": "lo"}}])),
                chunk(json!([{"index": 0, "delta": {}, "message": {"role": "assistant", "content": "Hello", "reasoning_content": "why"}, "finish_reason": "stop"}])),
                json!("[DONE]"),
            ]),
            Seen { text: Some("Hello".into()), reasoning: Some("why".into()), tool_calls: vec![], error: None },
        ),
        (
            "content_parts_without_type_non_streamed",
            Response::json(completion(json!([{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": [{"text": "a "}, {"text": "b"}]}}]))),
            Seen { text: Some("a b".into()), reasoning: None, tool_calls: vec![], error: None },
        ),
        (
            "content_parts_streamed",
            Response::sse(vec![
                chunk(json!([{"index": 0, "delta": {"role": "assistant", "content": [{"type": "text", "text": "a "}]}}])),
                chunk(json!([{"index": 0, "delta": {"content": [{"type": "text", "text": "b"}]}, "finish_reason": "stop"}])),
                json!("[DONE]"),
            ]),
            Seen { text: Some("a b".into()), reasoning: None, tool_calls: vec![], error: None },
        ),
        (
            "text_and_tool_call_in_separate_choices_non_streamed",
            Response::json(completion(json!([
                {"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant", "content": "Let me look."}},
                {"index": 1, "finish_reason": "tool_calls", "message": {"role": "assistant", "content": null, "tool_calls": [{"id": "call_a", "type": "function", "function": {"name": "shell", "arguments": "{\"command\":[\"ls\"]}"}}]}}
            ]))),
            Seen { text: Some("Let me look.".into()), reasoning: None, tool_calls: vec![call("shell", json!({"command": ["ls"]}))], error: None },
        ),
        (
            "one_tool_call_per_choice_streamed",
            Response::sse(vec![
                chunk(json!([{"index": 0, "delta": {"role": "assistant", "tool_calls": [{"index": 0, "id": "call_a", "type": "function", "function": {"name": "shell", "arguments": "{\"command\":"}}]}}])),
                chunk(json!([{"index": 1, "delta": {"role": "assistant", "tool_calls": [{"index": 0, "id": "call_b", "type": "function", "function": {"name": "read", "arguments": "{\"path\":"}}]}}])),
                chunk(json!([{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "[\"ls\"]}"}}]}, "finish_reason": "tool_calls"}])),
                chunk(json!([{"index": 1, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "\"a\"}"}}]}, "finish_reason": "tool_calls"}])),
                json!("[DONE]"),
            ]),
            Seen { text: None, reasoning: None, tool_calls: vec![call("shell", json!({"command": ["ls"]})), call("read", json!({"path": "a"}))], error: None },
        ),
        (
            "alternatives_repeating_a_tool_call_run_it_once",
            Response::json(completion(json!([
                {"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant", "content": null, "tool_calls": [{"id": "call_a", "type": "function", "function": {"name": "shell", "arguments": "{\"command\":[\"ls\"]}"}}]}},
                {"index": 1, "finish_reason": "tool_calls", "message": {"role": "assistant", "content": null, "tool_calls": [{"id": "call_b", "type": "function", "function": {"name": "shell", "arguments": "{\"command\": [\"ls\"]}"}}]}}
            ]))),
            Seen { text: None, reasoning: None, tool_calls: vec![call("shell", json!({"command": ["ls"]}))], error: None },
        ),
        (
            "harmony_commentary_tool_call_streamed",
            Response::sse(
                ["<|channel|>analysis<|mess", "age|>Need ls.<|end|><|start|>assistant<|channel|>commentary to=functions.shell <|constrain|>json<|message|>{\"command\":", "[\"ls\"]}<|call|>"]
                    .iter()
                    .map(|piece| chunk(json!([{"index": 0, "delta": {"content": piece}}])))
                    .chain([chunk(json!([{"index": 0, "delta": {}, "finish_reason": "stop"}])), json!("[DONE]")])
                    .collect(),
            ),
            Seen { text: None, reasoning: Some("Need ls.".into()), tool_calls: vec![call("shell", json!({"command": ["ls"]}))], error: None },
        ),
    ]
}

async fn synthetic_all(mode: BridgeMode) {
    let mut failures = Vec::new();
    for (name, response, want) in synthetic_shapes() {
        let tools: Vec<String> = want.tool_calls.iter().map(|(n, _)| n.clone()).collect();
        match bridge_events(response, body_with_tools(&tools), mode).await {
            Ok(events) => {
                let seen = seen_in(&events);
                if seen != want {
                    failures.push(format!("{name}: got {seen:#?}\nwanted {want:#?}"));
                }
            }
            Err(why) => failures.push(format!("{name}: {why}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} shapes wrong in {mode:?} mode:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn documented_answer_shapes_come_out_right_live() {
    synthetic_all(BridgeMode::Live).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn documented_answer_shapes_come_out_right_buffered() {
    synthetic_all(BridgeMode::Buffered).await;
}

/// The smoke scenarios for answer shapes (tests/smoke/13*), first answer through the bridge:
/// what `scripts/smoke.sh` checks end to end against a built binary, here without one.
#[tokio::test(flavor = "multi_thread")]
async fn smoke_shape_scenarios_come_out_right_through_the_bridge() {
    let smoke = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../smoke");
    let cases = [
        (
            "13a-content-array.json",
            Seen {
                text: Some("Hello from content parts.".into()),
                reasoning: Some("Parts-thinking: the user wants a greeting.".into()),
                tool_calls: vec![],
                error: None,
            },
        ),
        (
            "13b-object-reasoning.json",
            Seen {
                text: None,
                reasoning: Some("Object-reasoning: list the workspace first.".into()),
                tool_calls: vec![call(
                    "exec_command",
                    json!({"cmd": "echo object > object.txt"}),
                )],
                error: None,
            },
        ),
        (
            "13c-multi-choice.json",
            Seen {
                text: Some("Running it now.".into()),
                reasoning: None,
                tool_calls: vec![call(
                    "exec_command",
                    json!({"cmd": "echo once >> choices.txt"}),
                )],
                error: None,
            },
        ),
    ];
    for (file, want) in cases {
        let scenario = Scenario::from_file(smoke.join(file)).unwrap();
        let first = scenario.responses[0].clone();
        let events = bridge_events(
            first,
            body_with_tools(&["exec_command"]),
            BridgeMode::Buffered,
        )
        .await
        .unwrap();
        assert_eq!(seen_in(&events), want, "{file}");
    }
}
