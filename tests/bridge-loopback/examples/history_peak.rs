//! Where the bytes go on a big history: peak RSS of one request carrying a ~50 MB history
//! (1 MB user messages, like the `peak_memory` bench's padded rollout), sent three ways
//! against the mock server, each in a fresh child process:
//!
//! - `stock`: upstream's encoded request bytes sent as they are (what stock Codex does);
//! - `once`: those bytes parsed into a `serde_json::Value` and serialized once (the least a
//!   bridge that works on a `Value` can do);
//! - `bridge-value`: those bytes parsed into a `Value` and handed to `Bridge::respond`
//!   (what codex-litellm's transport did up to 0.148.0+litellm.2);
//! - `bridge`: those bytes handed to `Bridge::respond_encoded` (what the transport does
//!   now); both in live mode with default options, the reply read to its end.
//!
//! Each child first builds upstream's bytes (kept for the whole run, as upstream keeps its
//! request) and reads its RSS; what it adds on top (VmHWM minus that) is printed in MB and
//! as a multiple of the request's size, side by side in one table:
//!
//! ```sh
//! cargo run --release -p codex-litellm-bridge-loopback-tests --example history_peak
//! ```
//!
//! `HISTORY_PEAK_MB` sets the size (default 50).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use codex_litellm_bridge::Bridge;
use codex_litellm_bridge::BridgeOptions;
use codex_litellm_bridge::BridgeRequest;
use codex_litellm_mock_llm::MockLlm;
use codex_litellm_mock_llm::Response;
use codex_litellm_mock_llm::Scenario;
use http::HeaderMap;
use serde_json::json;
use std::io::Write;

const MB: usize = 1 << 20;
const CASES: [&str; 4] = ["stock", "once", "bridge-value", "bridge"];

fn size_mb() -> usize {
    std::env::var("HISTORY_PEAK_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50)
}

/// A field of /proc/self/status in kB.
fn status_kb(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// The Responses body upstream encodes, written item by item so that no whole `Value`
/// of it ever exists in this process (its pages would be reused and hide what is added).
fn upstream_bytes(messages: usize) -> Bytes {
    let mut out = Vec::with_capacity(messages * (MB + 200) + 4096);
    out.extend_from_slice(
        br#"{"model":"mock-model","instructions":"You are Codex.","tools":[{"type":"function","name":"shell","parameters":{"type":"object","properties":{"command":{"type":"array"}}}}],"tool_choice":"auto","stream":true,"input":["#,
    );
    for n in 0..messages {
        if n > 0 {
            out.push(b',');
        }
        let text = format!("{n}:{}", "h".repeat(MB - 16));
        let item = json!({"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]});
        serde_json::to_writer(&mut out, &item).unwrap();
    }
    out.extend_from_slice(br#",{"type":"message","role":"user","content":[{"type":"input_text","text":"RESUMED. Read it all."}]}]}"#);
    Bytes::from(out)
}

async fn child(case: &str, base_url: &str) {
    let upstream = upstream_bytes(size_mb());
    let before_kb = status_kb("VmRSS:");
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    match case {
        "stock" => {
            let answer = client
                .post(format!("{base_url}/chat/completions"))
                .header("content-type", "application/json")
                .body(upstream.clone())
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            assert!(!answer.is_empty());
        }
        "once" => {
            let value: serde_json::Value = serde_json::from_slice(&upstream).unwrap();
            let body = serde_json::to_vec(&value).unwrap();
            let answer = client
                .post(format!("{base_url}/chat/completions"))
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            assert!(!answer.is_empty());
        }
        "bridge-value" => {
            let value: serde_json::Value = serde_json::from_slice(&upstream).unwrap();
            let bridge = Bridge::new(client, BridgeOptions::default(), "mock");
            let reply = bridge
                .respond(BridgeRequest {
                    url: format!("{base_url}/responses"),
                    headers: HeaderMap::new(),
                    body: value,
                })
                .await;
            let sse = reply.into_bytes().await.unwrap();
            let sse = String::from_utf8_lossy(&sse);
            assert!(sse.contains("response.completed"), "{sse}");
        }
        _ => {
            let bridge = Bridge::new(client, BridgeOptions::default(), "mock");
            let reply = bridge
                .respond_encoded(
                    format!("{base_url}/responses"),
                    HeaderMap::new(),
                    upstream.clone(),
                )
                .await;
            let sse = reply.into_bytes().await.unwrap();
            let sse = String::from_utf8_lossy(&sse);
            assert!(sse.contains("response.completed"), "{sse}");
        }
    }
    let peak_kb = status_kb("VmHWM:");
    println!(
        "{case} {} {before_kb} {peak_kb}",
        upstream.len() as u64 / 1024
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut args = std::env::args().skip(1);
    if let (Some(case), Some(url)) = (args.next(), args.next()) {
        runtime.block_on(child(&case, &url));
        return;
    }
    let mock = runtime
        .block_on(MockLlm::start(Scenario::new(vec![
            Response::text(
                "Read it all."
            );
            CASES.len()
        ])))
        .unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut table = String::from(
        "| case | request MB | RSS before MB | peak RSS MB | added MB | added / request | peak / stock peak |\n| --- | --- | --- | --- | --- | --- | --- |\n",
    );
    let mut stock_peak = None;
    for case in CASES {
        let output = std::process::Command::new(&exe)
            .arg(case)
            .arg(mock.base_url())
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{case}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let line = String::from_utf8(output.stdout).unwrap();
        let fields: Vec<f64> = line
            .split_whitespace()
            .skip(1)
            .map(|f| f.parse().unwrap())
            .collect();
        let [request_kb, before_kb, peak_kb] = fields[..] else {
            panic!("unexpected child output: {line}");
        };
        let added = peak_kb - before_kb;
        let stock = *stock_peak.get_or_insert(peak_kb);
        table += &format!(
            "| {case} | {:.0} | {:.0} | {:.0} | {:.0} | {:.2}x | {:.2}x |\n",
            request_kb / 1024.0,
            before_kb / 1024.0,
            peak_kb / 1024.0,
            added / 1024.0,
            added / request_kb,
            peak_kb / stock,
        );
    }
    let mut stdout = std::io::stdout();
    stdout.write_all(table.as_bytes()).unwrap();
    drop(mock);
}
