//! Time to first delta through the bridge, over loopback: the raw chat stream (the floor),
//! buffered mode and live mode, on the same mock content streamed at the same rate. A
//! benchmark, not a test: it prints a table of medians and ratios and asserts only that
//! every run delivered the whole answer. Run it with
//! `cargo test --release -p codex-litellm-bridge-loopback-tests --test ttft_bench -- --ignored --nocapture`
//! (`TTFT_RUNS`, `TTFT_CHUNK_DELAY_MS` change the defaults 7 and 25).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use codex_litellm_bridge::Bridge;
use codex_litellm_bridge::BridgeMode;
use codex_litellm_bridge::BridgeOptions;
use codex_litellm_bridge::BridgeReply;
use codex_litellm_bridge::BridgeRequest;
use codex_litellm_bridge::conformance::sse_payloads;
use codex_litellm_mock_llm::MockLlm;
use codex_litellm_mock_llm::Response;
use codex_litellm_mock_llm::Scenario;
use futures::StreamExt;
use http::HeaderMap;
use serde_json::json;
use std::time::Duration;
use std::time::Instant;

const REASONING: &str = "I should explain it step by step. ";
const ANSWER: &str = "Streaming matters when a model writes slowly. ";

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn response(delay_ms: u64) -> Response {
    Response::text(ANSWER.repeat(12))
        .with_reasoning(REASONING.repeat(4))
        .with_delta_chars(4)
        .with_chunk_delay_ms(delay_ms)
}

/// (first delta, total) of the chat stream read directly: the first chunk carrying
/// content or reasoning.
async fn raw(mock: &MockLlm) -> (Duration, Duration) {
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let started = Instant::now();
    let mut stream = client
        .post(format!("{}/chat/completions", mock.base_url()))
        .header("content-type", "application/json")
        .body(
            json!({"model": "mock-model", "messages": [{"role": "user", "content": "hi"}], "stream": true})
                .to_string(),
        )
        .send()
        .await
        .unwrap()
        .bytes_stream();
    let mut first = None;
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        let text = String::from_utf8_lossy(&chunk);
        if first.is_none()
            && (text.contains("\"reasoning_content\":\"") || text.contains("\"content\":\"I"))
        {
            first = Some(started.elapsed());
        }
        bytes.extend_from_slice(&chunk);
    }
    assert!(String::from_utf8_lossy(&bytes).contains("[DONE]"));
    (first.unwrap(), started.elapsed())
}

async fn through_bridge(mock: &MockLlm, mode: BridgeMode) -> (Duration, Duration) {
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let options = BridgeOptions {
        mode,
        ..BridgeOptions::default()
    };
    let bridge = Bridge::new(client, options, "mock");
    let request = BridgeRequest {
        url: format!("{}/responses", mock.base_url()),
        headers: HeaderMap::new(),
        body: json!({"model": "mock-model", "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}], "stream": true}),
    };
    let started = Instant::now();
    let BridgeReply::Stream { mut body, .. } = bridge.respond(request).await else {
        panic!("expected a stream")
    };
    let mut first = None;
    let mut bytes = Vec::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.unwrap();
        if first.is_none() && String::from_utf8_lossy(&chunk).contains(".delta") {
            first = Some(started.elapsed());
        }
        bytes.extend_from_slice(&chunk);
    }
    let total = started.elapsed();
    let events = sse_payloads(&bytes).unwrap();
    let text: String = events
        .iter()
        .filter(|e| e["type"] == "response.output_text.delta")
        .filter_map(|e| e["delta"].as_str())
        .collect();
    assert_eq!(text, ANSWER.repeat(12), "{mode:?}");
    (first.unwrap(), total)
}

fn median(values: &mut [Duration]) -> Duration {
    values.sort();
    values[values.len() / 2]
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "a benchmark: run with --ignored --nocapture"]
async fn time_to_first_delta() {
    let runs = env_number("TTFT_RUNS", 7).max(1) as usize;
    let delay = env_number("TTFT_CHUNK_DELAY_MS", 25);
    let names = [
        "raw chat stream (floor)",
        "bridge, buffered",
        "bridge, live",
    ];
    let mut firsts = vec![Vec::new(); 3];
    let mut totals = vec![Vec::new(); 3];
    // One warm-up round, then the variants interleaved run by run.
    for round in 0..=runs {
        let mock = MockLlm::start(Scenario::new(vec![response(delay); 3]))
            .await
            .unwrap();
        let results = [
            raw(&mock).await,
            through_bridge(&mock, BridgeMode::Buffered).await,
            through_bridge(&mock, BridgeMode::Live).await,
        ];
        if round > 0 {
            for (i, (first, total)) in results.into_iter().enumerate() {
                firsts[i].push(first);
                totals[i].push(total);
            }
        }
    }
    let chars = REASONING.len() * 4 + ANSWER.len() * 12;
    println!(
        "\nTime to first delta over loopback: {} characters of reasoning + {} of text in 4-character chunks every {delay} ms; medians of {runs} runs (+1 warm-up), variants interleaved\n",
        REASONING.len() * 4,
        ANSWER.len() * 12
    );
    println!("| path | first delta (ms) | ratio to floor | total (ms) | ratio to floor |");
    println!("| --- | --- | --- | --- | --- |");
    let floor_first = median(&mut firsts[0]).as_secs_f64();
    let floor_total = median(&mut totals[0]).as_secs_f64();
    for i in 0..3 {
        let first = median(&mut firsts[i]).as_secs_f64();
        let total = median(&mut totals[i]).as_secs_f64();
        println!(
            "| {} | {:.1} | {:.2}x | {:.1} | {:.2}x |",
            names[i],
            first * 1000.0,
            first / floor_first,
            total * 1000.0,
            total / floor_total
        );
    }
    println!("\n({chars} characters per answer)");
}
