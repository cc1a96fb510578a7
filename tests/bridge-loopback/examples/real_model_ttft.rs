//! Time to first text and total time on a real model server: the server's own stream
//! (the chat request the bridge would send, read directly) against the same request
//! through the bridge (live mode, as codex-litellm runs it). A benchmark: it prints a
//! table with ratios. Run it under the server:
//!
//! ```sh
//! scripts/real-model.sh run -- cargo run --release -p codex-litellm-bridge-loopback-tests \
//!     --example real_model_ttft
//! ```
//!
//! `REAL_MODEL_RUNS` (default 3) rounds after one warm-up, the two paths interleaved. Each
//! request starts with its own nonce so the server's prompt cache helps neither path.
//! Greedy decoding (`temperature: 0`) so both paths generate the same tokens.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use codex_litellm_bridge::Bridge;
use codex_litellm_bridge::BridgeOptions;
use codex_litellm_bridge::BridgeReply;
use codex_litellm_bridge::BridgeRequest;
use codex_litellm_bridge::conformance::sse_payloads;
use codex_litellm_bridge::translate_request;
use futures::StreamExt;
use http::HeaderMap;
use serde_json::Value;
use serde_json::json;
use std::time::Duration;
use std::time::Instant;

const MAX_TOKENS: u64 = 128;

fn options() -> BridgeOptions {
    let mut extra_body = serde_json::Map::new();
    extra_body.insert("temperature".into(), json!(0));
    BridgeOptions {
        max_output_tokens: Some(MAX_TOKENS),
        extra_body,
        idle_timeout_secs: Some(300),
        ..BridgeOptions::default()
    }
}

fn codex_body(model: &str, nonce: &str) -> Value {
    json!({
        "model": model,
        "instructions": format!("Request {nonce}. You are a helpful assistant."),
        "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Write a short poem about the sea."}]}],
        "tools": [{"type": "function", "name": "shell", "description": "Runs a command.",
                   "parameters": {"type": "object", "properties": {"command": {"type": "array", "items": {"type": "string"}}}, "required": ["command"]}}],
        "tool_choice": "auto",
        "stream": true
    })
}

struct Timing {
    first: Duration,
    total: Duration,
    /// Content chunks (llama-cpp-python streams one token per chunk) or text deltas.
    pieces: usize,
}

/// The chat request the bridge would send, streamed from the server directly.
async fn raw(url: &str, model: &str, nonce: &str) -> Timing {
    let chat = translate_request(&codex_body(model, nonce), &options()).unwrap();
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let started = Instant::now();
    let mut stream = client
        .post(format!("{url}/chat/completions"))
        .header("content-type", "application/json")
        .body(chat.body.to_string())
        .send()
        .await
        .unwrap()
        .bytes_stream();
    let mut first = None;
    let mut bytes = Vec::new();
    let mut pieces = 0;
    let mut done = false;
    while let Some(chunk) = stream.next().await {
        bytes.extend_from_slice(&chunk.unwrap());
        // Whole SSE events only; the rest waits for the next network chunk.
        while let Some(end) = bytes.windows(2).position(|w| w == b"\n\n") {
            let event: Vec<u8> = bytes.drain(..end + 2).collect();
            let event = String::from_utf8_lossy(&event);
            let Some(data) = event.trim().strip_prefix("data: ") else {
                continue;
            };
            done |= data == "[DONE]";
            let has_text = serde_json::from_str::<Value>(data).is_ok_and(|chunk| {
                chunk["choices"][0]["delta"]["content"]
                    .as_str()
                    .is_some_and(|c| !c.is_empty())
            });
            if has_text {
                pieces += 1;
                first.get_or_insert_with(|| started.elapsed());
            }
        }
    }
    let total = started.elapsed();
    assert!(done, "a whole stream");
    Timing {
        first: first.expect("the server streamed text"),
        total,
        pieces,
    }
}

async fn through_bridge(url: &str, model: &str, nonce: &str) -> Timing {
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let bridge = Bridge::new(client, options(), "llamacpp");
    let request = BridgeRequest {
        url: format!("{url}/responses"),
        headers: HeaderMap::new(),
        body: codex_body(model, nonce),
    };
    let started = Instant::now();
    let BridgeReply::Stream { mut body, .. } = bridge.respond(request).await else {
        panic!("expected a stream")
    };
    let mut first = None;
    let mut bytes = Vec::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.unwrap();
        if first.is_none() && String::from_utf8_lossy(&chunk).contains("output_text.delta") {
            first = Some(started.elapsed());
        }
        bytes.extend_from_slice(&chunk);
    }
    let total = started.elapsed();
    let events = sse_payloads(&bytes).unwrap();
    assert_eq!(
        events.last().unwrap()["type"],
        "response.completed",
        "{events:?}"
    );
    let pieces = events
        .iter()
        .filter(|e| e["type"] == "response.output_text.delta")
        .count();
    Timing {
        first: first.expect("the bridge streamed text"),
        total,
        pieces,
    }
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

#[tokio::main]
async fn main() {
    let url = std::env::var("CODEX_LITELLM_REAL_MODEL_URL")
        .expect("CODEX_LITELLM_REAL_MODEL_URL is not set: run under scripts/real-model.sh run --");
    let model = std::env::var("CODEX_LITELLM_REAL_MODEL").unwrap_or_else(|_| "smollm2".into());
    let runs: usize = std::env::var("REAL_MODEL_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3usize)
        .max(1);
    let mut raws = Vec::new();
    let mut bridged = Vec::new();
    for round in 0..=runs {
        let raw_timing = raw(&url, &model, &format!("r{round}")).await;
        let bridge_timing = through_bridge(&url, &model, &format!("b{round}")).await;
        if round > 0 {
            raws.push(raw_timing);
            bridged.push(bridge_timing);
        }
    }
    let tokens = raws.iter().map(|t| t.pieces).max().unwrap_or(0);
    let rate = |t: &Timing| t.pieces as f64 / (t.total - t.first).as_secs_f64().max(1e-9);
    let raw_first = median(raws.iter().map(|t| t.first).collect());
    let raw_total = median(raws.iter().map(|t| t.total).collect());
    let bridge_first = median(bridged.iter().map(|t| t.first).collect());
    let bridge_total = median(bridged.iter().map(|t| t.total).collect());
    let raw_rate = raws.iter().map(rate).sum::<f64>() / raws.len() as f64;
    println!(
        "\n{model} on {url}: up to {MAX_TOKENS} tokens, greedy; medians of {runs} runs (+1 warm-up), paths interleaved\n"
    );
    println!("| path | first text (ms) | total (ms) | tokens/s after the first |");
    println!("| --- | --- | --- | --- |");
    println!(
        "| server's own stream | {:.0} | {:.0} | {raw_rate:.1} ({tokens} tokens) |",
        raw_first.as_secs_f64() * 1000.0,
        raw_total.as_secs_f64() * 1000.0
    );
    println!(
        "| through the bridge (live) | {:.0} | {:.0} | |",
        bridge_first.as_secs_f64() * 1000.0,
        bridge_total.as_secs_f64() * 1000.0
    );
    println!(
        "\nratio bridge/raw: first text {:.3}x, total {:.3}x",
        bridge_first.as_secs_f64() / raw_first.as_secs_f64(),
        bridge_total.as_secs_f64() / raw_total.as_secs_f64()
    );
}
