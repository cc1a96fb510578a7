//! Every answer in tests/fixtures/real-shapes (captured from real servers and gateways)
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

fn samples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/real-shapes")
}

struct Sample {
    name: String,
    streamed: bool,
    body: Value,
    expect: Value,
}

fn samples() -> Vec<Sample> {
    let mut samples: Vec<Sample> = std::fs::read_dir(samples_dir())
        .expect("tests/fixtures/real-shapes exists")
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
    let tools: Vec<Value> = expected(sample)
        .tool_calls
        .iter()
        .map(|(name, _)| json!({"type": "function", "name": name, "parameters": {"type": "object", "properties": {}}}))
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
    let mock = MockLlm::start(Scenario::new(vec![response_for(sample)]))
        .await
        .unwrap();
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
        body: codex_body(sample),
    };
    let reply = tokio::time::timeout(Duration::from_secs(30), bridge.respond(request))
        .await
        .map_err(|_| "no answer within 30 s".to_string())?;
    let bytes = reply
        .into_bytes()
        .await
        .map_err(|(status, body)| format!("HTTP {status}: {body}"))?;
    check_sse(&bytes).map_err(|violation| format!("invalid Responses stream: {violation}"))?;
    let events = sse_payloads(&bytes).unwrap();
    let mut seen = seen_in(&events);
    let want = expected(sample);
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
async fn every_real_answer_shape_comes_out_right_buffered() {
    replay_all(BridgeMode::Buffered).await;
}
