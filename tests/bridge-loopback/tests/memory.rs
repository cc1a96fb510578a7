//! A big history through the bridge over loopback: the chat body is serialized once, in
//! pieces, and arrives whole on every attempt; the report keeps a copy of the history only
//! at telemetry level `full` (raw capture on), which records it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use codex_litellm_bridge::Bridge;
use codex_litellm_bridge::BridgeOptions;
use codex_litellm_bridge::BridgeRequest;
use codex_litellm_bridge::ExchangeReport;
use codex_litellm_bridge::translate_request;
use codex_litellm_bridge_loopback_tests::Reports;
use codex_litellm_mock_llm::MockLlm;
use codex_litellm_mock_llm::RecordedRequest;
use codex_litellm_mock_llm::Response;
use codex_litellm_mock_llm::Scenario;
use http::HeaderMap;
use pretty_assertions::assert_eq;
use serde_json::Value;
use serde_json::json;
use std::sync::Arc;

/// The bridge's piece size (`encoded::PIECE`).
const PIECE: usize = 1 << 20;

/// A Responses body whose history spans several pieces (escapes and non-ASCII included).
fn big_history() -> Value {
    let input: Vec<Value> = (0..3)
        .map(|n| {
            let text = format!("{n}: {}", "h\"é\n".repeat(PIECE / 3));
            json!({"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]})
        })
        .collect();
    json!({
        "model": "mock-model",
        "instructions": "You are Codex.",
        "input": input,
        "tools": [{"type": "function", "name": "shell", "parameters": {"type": "object", "properties": {"command": {"type": "array"}}}}],
        "stream": true
    })
}

fn options() -> BridgeOptions {
    BridgeOptions {
        max_output_tokens: Some(4096),
        retry_base_delay_ms: 1,
        retry_max_delay_ms: 5,
        ..BridgeOptions::default()
    }
}

async fn send(
    responses: Vec<Response>,
    raw_capture: usize,
) -> (Vec<RecordedRequest>, ExchangeReport) {
    let mock = MockLlm::start(Scenario::new(responses)).await.unwrap();
    let reports = Arc::new(Reports::default());
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let bridge = Bridge::new(client, options(), "mock")
        .with_observer(reports.clone())
        .with_raw_capture(raw_capture);
    let reply = bridge
        .respond(BridgeRequest {
            url: format!("{}/responses", mock.base_url()),
            headers: HeaderMap::new(),
            body: big_history(),
        })
        .await;
    reply.into_bytes().await.unwrap();
    let report = reports.0.lock().unwrap()[0].clone();
    (mock.chat_requests(), report)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_body_of_many_pieces_arrives_whole_on_every_attempt() {
    let expected = translate_request(&big_history(), &options()).unwrap().body;
    let expected_len = serde_json::to_vec(&expected).unwrap().len();
    assert!(expected_len > 2 * PIECE, "{expected_len}");
    let (sent, report) = send(
        vec![Response::error(500, "boom"), Response::text("Read it all.")],
        0,
    )
    .await;
    assert_eq!(sent.len(), 2, "a 500 is retried");
    for request in &sent {
        assert!(request.body_is_json);
        assert_eq!(request.body, expected);
        assert_eq!(request.body_len, expected_len);
        // One body of known length, as a single buffer would be sent (not chunked).
        assert_eq!(
            request.header("content-length"),
            Some(expected_len.to_string().as_str())
        );
        assert_eq!(request.header("transfer-encoding"), None);
    }
    assert_eq!(report.request_bytes, expected_len as u64);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_report_keeps_the_history_only_at_level_full() {
    let (sent, report) = send(vec![Response::text("ok")], 0).await;
    let body = report.request_body.as_object().unwrap();
    assert_eq!(body.get("messages"), None, "no second copy of the history");
    assert_eq!(body.get("tools"), None);
    // What explains an answer stays (e.g. the output cap telemetry names).
    assert_eq!(body["max_tokens"], json!(4096));
    assert_eq!(body["model"], json!("mock-model"));
    assert_eq!(body["stream"], json!(true));

    let (_, full) = send(vec![Response::text("ok")], 1024).await;
    assert_eq!(full.request_body, sent[0].body, "level full records it all");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_encoded_body_that_is_not_json_ends_the_turn_with_a_clear_error() {
    let mock = MockLlm::start(Scenario::new(vec![Response::text("ok")]))
        .await
        .unwrap();
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let bridge = Bridge::new(client, options(), "mock");
    let reply = bridge
        .respond_encoded(
            format!("{}/responses", mock.base_url()),
            HeaderMap::new(),
            bytes::Bytes::from_static(b"{\"model\": \"mock-model\", \"input\": ["),
        )
        .await;
    let sse = String::from_utf8(reply.into_bytes().await.unwrap().to_vec()).unwrap();
    assert!(sse.contains("response.failed"), "{sse}");
    assert!(
        sse.contains("the Responses request body is not JSON"),
        "{sse}"
    );
    assert_eq!(mock.request_count(), 0, "nothing is sent");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_encoded_body_goes_as_the_same_chat_request_as_its_value() {
    let expected = translate_request(&big_history(), &options()).unwrap().body;
    let mock = MockLlm::start(Scenario::new(vec![Response::text("ok")]))
        .await
        .unwrap();
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let bridge = Bridge::new(client, options(), "mock");
    let encoded = serde_json::to_vec(&big_history()).unwrap();
    let reply = bridge
        .respond_encoded(
            format!("{}/responses", mock.base_url()),
            HeaderMap::new(),
            encoded.into(),
        )
        .await;
    reply.into_bytes().await.unwrap();
    assert_eq!(mock.chat_requests()[0].body, expected);
}
