//! Scale benchmark of the pure core: inputs a hostile backend or a long session can make
//! large, each measured at n and 4n in one run (linear code: about 4x; quadratic: 16x).
//! Ignored by default; run it in release:
//!
//!     cargo test --release -p codex-litellm-bridge --test scale -- --ignored --nocapture
//!
//! Results and the meaning of each row: docs/PERFORMANCE.md.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use codex_litellm_bridge::BridgeOptions;
use codex_litellm_bridge::ChunkAccumulator;
use codex_litellm_bridge::fetch::answer_from_body;
use codex_litellm_bridge::tools::translate_tools;
use codex_litellm_bridge::translate_request;
use serde_json::Value;
use serde_json::json;
use std::time::Duration;
use std::time::Instant;

/// Best of five runs (the machine may be shared).
fn time(mut run: impl FnMut()) -> Duration {
    (0..5)
        .map(|_| {
            let started = Instant::now();
            run();
            started.elapsed()
        })
        .min()
        .unwrap_or_default()
}

/// One chunk whose JSON spans `lines` lines of ~12 bytes, as one SSE event: either one
/// `data:` line per JSON line, or the same bytes on one `data:` line.
fn sse_event(lines: usize, multi_line: bool) -> Vec<u8> {
    let mut json_lines = vec![
        r#"{"choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":"stop"}],"pad":["#
            .to_string(),
    ];
    json_lines.extend((0..lines).map(|i| format!("\"{i:09}\",")));
    json_lines.push("\"end\"]}".to_string());
    let mut body = String::new();
    if multi_line {
        for line in &json_lines {
            body.push_str("data: ");
            body.push_str(line);
            body.push('\n');
        }
    } else {
        body.push_str("data: ");
        body.push_str(&json_lines.join(" "));
        body.push('\n');
    }
    body.push_str("\ndata: [DONE]\n\n");
    body.into_bytes()
}

fn parse_sse(body: &[u8]) {
    let answer = answer_from_body(body, true, 16 * 1024).expect("parses");
    assert_eq!(answer.text, "hi");
}

fn request(input: Vec<Value>, tools: Vec<Value>) -> Value {
    json!({"model": "m", "instructions": "base", "input": input, "tools": tools})
}

fn system_messages(n: usize) -> Value {
    let text = "x".repeat(1000);
    let input = (0..n)
        .map(|_| json!({"type": "message", "role": "developer", "content": text}))
        .collect();
    request(input, Vec::new())
}

fn duplicate_tools(n: usize) -> Vec<Value> {
    (0..n)
        .map(|_| json!({"type": "function", "name": "shell", "parameters": {"type": "object"}}))
        .collect()
}

fn calls_then_results(n: usize) -> Value {
    let mut input = vec![json!({"type": "message", "role": "user", "content": "go"})];
    input.extend((0..n).map(|i| {
        json!({"type": "function_call", "call_id": format!("c{i}"), "name": "shell", "arguments": "{}"})
    }));
    input.extend((0..n).map(
        |i| json!({"type": "function_call_output", "call_id": format!("c{i}"), "output": "ok"}),
    ));
    request(input, duplicate_tools(1))
}

/// Each call answered one behind: call 0, call 1, output 0, call 2, output 1, ... (a model
/// that starts the next command before reading the last one's output).
fn calls_answered_one_behind(n: usize) -> Value {
    let mut input = vec![json!({"type": "message", "role": "user", "content": "go"})];
    for i in 0..n {
        input.push(json!({"type": "function_call", "call_id": format!("c{i}"), "name": "shell", "arguments": "{}"}));
        if i > 0 {
            input.push(json!({"type": "function_call_output", "call_id": format!("c{}", i - 1), "output": "ok"}));
        }
    }
    input.push(
        json!({"type": "function_call_output", "call_id": format!("c{}", n - 1), "output": "ok"}),
    );
    request(input, duplicate_tools(1))
}

/// One call streamed with no index and no id, the name repeated on every fragment.
fn unindexed_fragments(n: usize) -> Vec<Value> {
    let mut chunks = vec![json!({"choices": [{"delta": {"tool_calls": [
        {"function": {"name": "shell", "arguments": "{\"command\": [\""}}
    ]}}]})];
    chunks.extend((0..n).map(|_| {
        json!({"choices": [{"delta": {"tool_calls": [
            {"function": {"name": "shell", "arguments": "abcdefgh}"}}
        ]}}]})
    }));
    chunks
}

struct Row {
    name: &'static str,
    n: usize,
    /// At n, 4n and 16n.
    times: Vec<Duration>,
}

#[test]
#[ignore = "benchmark: run in release with --ignored --nocapture"]
fn scale_benchmark() {
    let options = BridgeOptions::default();

    // SSE: the many-lines event against the same bytes in one line.
    let lines = 40_000;
    let many = sse_event(lines, true);
    let one = sse_event(lines, false);
    let many_time = time(|| parse_sse(&many));
    let one_time = time(|| parse_sse(&one));
    let sse_ratio = many_time.as_secs_f64() / one_time.as_secs_f64();
    println!("## SSE parsing");
    println!(
        "one event over {lines} data: lines ({} KB): {:.1} ms; same bytes on one line: {:.1} ms; ratio {sse_ratio:.2}x (target <= 2x)",
        many.len() / 1024,
        many_time.as_secs_f64() * 1e3,
        one_time.as_secs_f64() * 1e3,
    );

    let mut rows = Vec::new();
    // Inputs are built before the clock starts; only the bridge's work is timed.
    let mut measure =
        |name: &'static str, n: usize, build: &dyn Fn(usize) -> Value, run: &dyn Fn(&Value)| {
            let times: Vec<Duration> = [n, 4 * n, 16 * n]
                .iter()
                .map(|&size| {
                    let input = build(size);
                    time(|| run(&input))
                })
                .collect();
            rows.push(Row { name, n, times });
        };
    measure(
        "SSE event over n data: lines",
        40_000,
        &|n| Value::String(String::from_utf8(sse_event(n, true)).unwrap()),
        &|body| parse_sse(body.as_str().unwrap().as_bytes()),
    );
    measure(
        "leading system messages merged (n x 1 KB)",
        4_800,
        &system_messages,
        &|body| {
            translate_request(body, &options).expect("translates");
        },
    );
    measure(
        "duplicate tool names",
        4_000,
        &|n| Value::Array(duplicate_tools(n)),
        &|tools| {
            let tools = tools.as_array().unwrap();
            assert_eq!(translate_tools(tools, false).functions.len(), tools.len());
        },
    );
    measure(
        "n calls then n results (one turn)",
        2_000,
        &calls_then_results,
        &|body| {
            translate_request(body, &options).expect("translates");
        },
    );
    measure(
        "n calls, each answered one behind",
        1_000,
        &calls_answered_one_behind,
        &|body| {
            translate_request(body, &options).expect("translates");
        },
    );
    measure(
        "unindexed argument fragments (one call)",
        20_000,
        &|n| Value::Array(unindexed_fragments(n)),
        &|chunks| {
            let mut accumulator = ChunkAccumulator::default();
            for chunk in chunks.as_array().unwrap() {
                accumulator.push_chunk(chunk);
            }
            assert_eq!(accumulator.finish().tool_calls.len(), 1);
        },
    );

    println!();
    println!(
        "## Pure core scale (time at n, 4n and 16n; linear code grows about 4x per step, quadratic 16x)"
    );
    println!("| input | n | time(n) | time(4n) | time(16n) | 4n/n | 16n/4n |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    let mut worst = 0.0f64;
    for row in &rows {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let ratio = |a: Duration, b: Duration| b.as_secs_f64() / a.as_secs_f64().max(1e-9);
        let first = ratio(row.times[0], row.times[1]);
        let second = ratio(row.times[1], row.times[2]);
        // The larger step is past the CPU caches: it is the one that shows the growth.
        worst = worst.max(second);
        println!(
            "| {} | {} | {:.1} ms | {:.1} ms | {:.1} ms | {first:.1}x | {second:.1}x |",
            row.name,
            row.n,
            ms(row.times[0]),
            ms(row.times[1]),
            ms(row.times[2]),
        );
    }
    assert!(sse_ratio <= 3.0, "SSE many-lines ratio {sse_ratio:.2}x");
    // Linear code grows about 4x; quadratic 16x. The margin absorbs a shared machine.
    assert!(worst < 12.0, "a path grew {worst:.1}x for 4x input");
}
