//! Robustness: mutated backend answers (SSE streams and JSON bodies) and mutated Codex
//! requests through the whole pure pipeline, under `catch_unwind`. No input may panic, and
//! every stream handed to Codex must pass the conformance rules. Deterministic (fixed
//! seeds, a tiny xorshift generator, no dependencies), tens of thousands of inputs.
//!
//! Decided behaviour for tool-call arguments (see `fetch::validate_answer`): arguments cut in
//! the middle of their JSON never reach Codex as a call (a cut answer, retried; after
//! `finish_reason = "length"` the bridge drops the call); arguments that are simply not JSON
//! do reach Codex, whose tool-argument error lets the model correct itself. The test counts
//! those and checks the first rule on every output.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use codex_litellm_bridge::BridgeOptions;
use codex_litellm_bridge::ChatAnswer;
use codex_litellm_bridge::answer::arguments_cut_short;
use codex_litellm_bridge::answer::is_complete_json;
use codex_litellm_bridge::conformance::check_sse;
use codex_litellm_bridge::conformance::sse_payloads;
use codex_litellm_bridge::fault::FailureSignal;
use codex_litellm_bridge::fetch::answer_from_body;
use codex_litellm_bridge::history::check_order;
use codex_litellm_bridge::postprocess;
use codex_litellm_bridge::simulate;
use codex_litellm_bridge::simulate::ResponseIdentity;
use codex_litellm_bridge::simulate::encode_sse;
use codex_litellm_bridge::simulate::simulate_failure;
use codex_litellm_bridge::tools::ToolMap;
use codex_litellm_bridge::translate_request;
use codex_litellm_bridge::translate_request_owned;
use serde_json::Value;
use serde_json::json;
use std::panic::AssertUnwindSafe;
use std::panic::catch_unwind;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

fn codex_request() -> Value {
    json!({
        "model": "qwen3-coder",
        "instructions": "You are Codex.",
        "input": [
            {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "rules"}]},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "list files"}]},
            {"type": "reasoning", "summary": [{"type": "summary_text", "text": "plan"}], "content": null},
            {"type": "function_call", "call_id": "c1", "name": "shell", "arguments": "{\"command\":[\"ls\"]}"},
            {"type": "function_call_output", "call_id": "c1", "output": "a.txt"},
            {"type": "custom_tool_call", "call_id": "c2", "name": "apply_patch", "input": "*** Begin Patch"},
            {"type": "custom_tool_call_output", "call_id": "c2", "output": [{"type": "input_text", "text": "ok"}]},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "done"}]}
        ],
        "tools": [
            {"type": "function", "name": "shell", "parameters": {"type": "object", "properties": {"command": {"type": "array"}}}},
            {"type": "custom", "name": "apply_patch", "description": "Edit files."},
            {"type": "namespace", "name": "mcp__docs", "tools": [{"type": "function", "name": "search"}]},
            {"type": "local_shell"}
        ],
        "tool_choice": "auto",
        "parallel_tool_calls": true,
        "reasoning": {"effort": "high"},
        "stream": true
    })
}

fn tool_map() -> ToolMap {
    translate_request(&codex_request(), &BridgeOptions::default())
        .expect("base request translates")
        .tool_map
}

fn chunk(delta: Value, finish: Value) -> Value {
    json!({"id": "chatcmpl-1", "model": "m", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
}

/// Realistic answers as lists of chunk objects.
fn base_answers() -> Vec<Vec<Value>> {
    let usage = json!({"choices": [], "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15,
        "prompt_tokens_details": {"cached_tokens": 2}, "completion_tokens_details": {"reasoning_tokens": 1}}});
    vec![
        vec![
            chunk(
                json!({"role": "assistant", "reasoning_content": "think"}),
                Value::Null,
            ),
            chunk(json!({"content": "Hello "}), Value::Null),
            chunk(json!({"content": "world"}), json!("stop")),
            usage.clone(),
        ],
        vec![
            chunk(
                json!({"tool_calls": [{"index": 0, "id": "call_a", "type": "function", "function": {"name": "shell", "arguments": ""}}]}),
                Value::Null,
            ),
            chunk(
                json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"command\":"}}]}),
                Value::Null,
            ),
            chunk(
                json!({"tool_calls": [{"index": 0, "function": {"arguments": "[\"ls\"]}"}}]}),
                Value::Null,
            ),
            chunk(
                json!({"tool_calls": [{"index": 1, "id": "call_b", "function": {"name": "apply_patch", "arguments": "{\"input\":\"x\"}"}}]}),
                Value::Null,
            ),
            chunk(
                json!({"tool_calls": [{"index": 2, "id": "call_c", "function": {"name": "local_shell", "arguments": "{\"command\":[\"pwd\"]}"}}]}),
                json!("tool_calls"),
            ),
            usage,
        ],
        vec![chunk(
            json!({"content": "<think>hm</think>I'll run it <tool_call>{\"name\": \"shell\", \"arguments\": {\"command\": [\"ls\"]}}</tool_call>"}),
            json!("stop"),
        )],
        vec![
            chunk(
                json!({"tool_calls": [{"function": {"name": "mcp__docs__search", "arguments": "{\"q\""}}]}),
                Value::Null,
            ),
            chunk(
                json!({"tool_calls": [{"function": {"arguments": ":1}"}}]}),
                Value::Null,
            ),
            chunk(
                json!({"tool_calls": [{"function": {"name": "shell", "arguments": "{}"}}]}),
                json!("length"),
            ),
        ],
    ]
}

fn sse_body(chunks: &[Value], multi_line: bool) -> Vec<u8> {
    let mut out = String::from(": PROCESSING\n\n");
    for chunk in chunks {
        if multi_line {
            // One event split over several data: lines (legal SSE).
            let text = serde_json::to_string_pretty(chunk).unwrap();
            for line in text.lines() {
                out.push_str("data: ");
                out.push_str(line);
                out.push('\n');
            }
            out.push('\n');
        } else {
            out.push_str(&format!("data: {chunk}\n\n"));
        }
    }
    out.push_str("data: [DONE]\n\n");
    out.into_bytes()
}

fn completion_body(chunks: &[Value]) -> Value {
    // The same answer as one non-streamed body.
    let mut content = String::new();
    let mut calls = Vec::new();
    let mut finish = Value::Null;
    for chunk in chunks {
        let delta = &chunk["choices"][0]["delta"];
        if let Some(text) = delta.get("content").and_then(Value::as_str) {
            content.push_str(text);
        }
        if let Some(more) = delta.get("tool_calls").and_then(Value::as_array) {
            calls.extend(more.iter().cloned());
        }
        if let Some(reason) = chunk["choices"][0]
            .get("finish_reason")
            .filter(|r| !r.is_null())
        {
            finish = reason.clone();
        }
    }
    json!({"id": "chatcmpl-2", "choices": [{"index": 0, "finish_reason": finish,
        "message": {"role": "assistant", "content": content, "tool_calls": calls}}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2}})
}

/// Wrong-typed values for the fields the pipeline reads.
fn odd_value(rng: &mut Rng) -> Value {
    match rng.below(12) {
        0 => Value::Null,
        1 => json!(true),
        2 => json!(-1),
        3 => json!(u64::MAX),
        4 => json!(1.5e308),
        5 => json!("x"),
        6 => json!([]),
        7 => json!([[]]),
        8 => json!({}),
        9 => json!([1, "a", null, {"index": "0"}]),
        10 => {
            let mut deep = json!(0);
            for _ in 0..100 {
                deep = json!([deep]);
            }
            deep
        }
        _ => json!({"index": {"a": 1}, "function": "f"}),
    }
}

const FIELDS: &[&str] = &[
    "choices",
    "delta",
    "message",
    "tool_calls",
    "index",
    "finish_reason",
    "usage",
    "function",
    "arguments",
    "name",
    "id",
    "content",
    "reasoning_content",
    "reasoning_details",
    "error",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "refusal",
];

/// Replaces one field (anywhere in the document) by a wrong-typed value.
fn retype(value: &mut Value, rng: &mut Rng) {
    let mut slots = 0usize;
    count_fields(value, &mut slots);
    if slots == 0 {
        return;
    }
    let mut target = rng.below(slots);
    let replacement = odd_value(rng);
    replace_field(value, &mut target, &replacement);
}

fn count_fields(value: &Value, slots: &mut usize) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                if FIELDS.contains(&key.as_str()) {
                    *slots += 1;
                }
                count_fields(child, slots);
            }
        }
        Value::Array(items) => items.iter().for_each(|item| count_fields(item, slots)),
        _ => {}
    }
}

fn replace_field(value: &mut Value, target: &mut usize, replacement: &Value) -> bool {
    match value {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                if FIELDS.contains(&key.as_str()) {
                    if *target == 0 {
                        *child = replacement.clone();
                        return true;
                    }
                    *target -= 1;
                }
                if replace_field(child, target, replacement) {
                    return true;
                }
            }
            false
        }
        Value::Array(items) => items
            .iter_mut()
            .any(|item| replace_field(item, target, replacement)),
        _ => false,
    }
}

const BYTES: &[u8] = b"{}[]\":,\n\r \\0a\x00\xff\xc3\xe2";

/// One byte-level mutation.
fn mutate_bytes(body: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut out = body.to_vec();
    let at = rng.below(out.len() + 1);
    match rng.below(6) {
        0 => out.truncate(at),
        1 if at < out.len() => out[at] ^= 1 << rng.below(8),
        2 => out.insert(at, BYTES[rng.below(BYTES.len())]),
        3 if at < out.len() => {
            out.remove(at);
        }
        4 => {
            let done = b"data: [DONE]\n\n";
            let boundary = find_boundary(&out, at);
            out.splice(boundary..boundary, done.iter().copied());
        }
        _ => {
            // Invalid UTF-8 inside a string.
            out.splice(at..at, [0xe2, 0x28, 0xa1]);
        }
    }
    out
}

fn find_boundary(body: &[u8], from: usize) -> usize {
    (from..body.len())
        .find(|&i| body[i..].starts_with(b"\n\n"))
        .map(|i| i + 2)
        .unwrap_or(body.len())
}

/// How the answer (or the fault) reaches Codex: the same steps as the buffered bridge.
fn codex_stream(result: Result<ChatAnswer, codex_litellm_bridge::Fault>, map: &ToolMap) -> Vec<u8> {
    let identity =
        |answer: &ChatAnswer| ResponseIdentity::for_answer(answer, "requested", 1_700_000_000);
    match result {
        Ok(mut answer) => {
            postprocess(&mut answer, map, &BridgeOptions::default());
            if answer.finish_reason.as_deref() == Some("length") {
                // bridge::mark_truncated: cut calls are dropped, never run.
                answer
                    .tool_calls
                    .retain(|call| is_complete_json(&call.arguments));
            }
            let events = simulate(&answer, map, identity(&answer));
            encode_sse(&events).to_vec()
        }
        Err(fault) => {
            let code = match fault.failure_signal() {
                FailureSignal::Failed { code } => code,
                FailureSignal::Http { .. } => "invalid_prompt",
            };
            let events =
                simulate_failure(identity(&ChatAnswer::default()), code, &fault.describe());
            encode_sse(&events).to_vec()
        }
    }
}

#[derive(Default)]
struct Tally {
    inputs: usize,
    answers: usize,
    faults: usize,
    wrong_arguments_passed: usize,
    problems: Vec<String>,
}

impl Tally {
    fn check_body(&mut self, body: &[u8], sse: bool, piece: usize, map: &ToolMap) {
        self.inputs += 1;
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let result = answer_from_body(body, sse, piece);
            let ok = result.is_ok();
            (ok, codex_stream(result, map))
        }));
        let (ok, stream) = match outcome {
            Ok(done) => done,
            Err(_) => {
                self.problems
                    .push(format!("panic on {:?}", String::from_utf8_lossy(body)));
                return;
            }
        };
        if ok {
            self.answers += 1;
        } else {
            self.faults += 1;
        }
        if let Err(err) = check_sse(&stream) {
            self.problems.push(format!(
                "non-conforming stream ({err}) for {:?}",
                String::from_utf8_lossy(body)
            ));
            return;
        }
        for event in sse_payloads(&stream).unwrap_or_default() {
            let item = &event["item"];
            if event["type"] == "response.output_item.done" && item["type"] == "function_call" {
                let arguments = item["arguments"].as_str().unwrap_or_default();
                if arguments_cut_short(arguments) {
                    self.problems.push(format!(
                        "a call with cut arguments reached Codex: {arguments:?} from {:?}",
                        String::from_utf8_lossy(body)
                    ));
                } else if !is_complete_json(arguments) {
                    self.wrong_arguments_passed += 1;
                }
            }
        }
    }
}

#[test]
fn mutated_answers_never_panic_and_always_conform() {
    let map = tool_map();
    let mut tally = Tally::default();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let quiet = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    for chunks in base_answers() {
        for multi_line in [false, true] {
            let body = sse_body(&chunks, multi_line);
            // Truncation at every offset (every few in the longer multi-line form), read in
            // pieces of several sizes.
            let step = if multi_line { 5 } else { 1 };
            for at in (0..=body.len()).step_by(step) {
                tally.check_body(&body[..at], true, 1 + at % 17, &map);
            }
            for _ in 0..1000 {
                let mutated = mutate_bytes(&body, &mut rng);
                let twice = mutate_bytes(&mutated, &mut rng);
                tally.check_body(&twice, true, 1 + rng.below(64), &map);
            }
        }
        // Wrong types and reordered chunks.
        for _ in 0..1000 {
            let mut mutated = chunks.clone();
            for _ in 0..1 + rng.below(3) {
                let which = rng.below(mutated.len());
                retype(&mut mutated[which], &mut rng);
            }
            if rng.below(3) == 0 {
                let a = rng.below(mutated.len());
                let b = rng.below(mutated.len());
                mutated.swap(a, b);
            }
            tally.check_body(
                &sse_body(&mutated, rng.below(4) == 0),
                true,
                1 + rng.below(64),
                &map,
            );
        }
        // The same answers as JSON bodies.
        let completion = completion_body(&chunks);
        let text = completion.to_string().into_bytes();
        for at in 0..=text.len() {
            tally.check_body(&text[..at], false, 1, &map);
        }
        for _ in 0..1000 {
            let mut mutated = completion.clone();
            retype(&mut mutated, &mut rng);
            let bytes = mutated.to_string().into_bytes();
            tally.check_body(&bytes, false, 1, &map);
            tally.check_body(&mutate_bytes(&bytes, &mut rng), false, 1, &map);
        }
    }
    // Deep nesting: over serde_json's recursion limit, in a stream and in a body.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    tally.check_body(format!("data: {deep}\n\n").as_bytes(), true, 4096, &map);
    tally.check_body(deep.as_bytes(), false, 1, &map);
    let deep_object = format!("{}1{}", "{\"a\":".repeat(50_000), "}".repeat(50_000));
    tally.check_body(
        format!("data: {deep_object}\n\n").as_bytes(),
        true,
        4096,
        &map,
    );
    std::panic::set_hook(quiet);

    assert!(
        tally.problems.is_empty(),
        "{} of {} inputs failed; first: {}",
        tally.problems.len(),
        tally.inputs,
        tally
            .problems
            .iter()
            .take(3)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    eprintln!(
        "{} inputs: {} answers, {} faults, {} calls with wrong (not cut) arguments passed on",
        tally.inputs, tally.answers, tally.faults, tally.wrong_arguments_passed
    );
    assert!(tally.inputs > 20_000, "{}", tally.inputs);
    // Both outcomes are exercised, and wrong (not cut) arguments do reach Codex.
    assert!(
        tally.answers > 1_000 && tally.faults > 1_000,
        "{} answers, {} faults",
        tally.answers,
        tally.faults
    );
    assert!(tally.wrong_arguments_passed > 0);
}

/// The bridge translates the body it owns (`translate_request_owned`, which drops each item
/// once translated): it must give exactly what `translate_request` gives.
fn owned_differs(body: &Value) -> Option<String> {
    let options = BridgeOptions::default();
    let borrowed = catch_unwind(AssertUnwindSafe(|| translate_request(body, &options))).ok()?;
    let owned = catch_unwind(AssertUnwindSafe(|| {
        translate_request_owned(body.clone(), &options)
    }));
    if let Some(difference) = lean_differs(body, borrowed.as_ref().ok()) {
        return Some(difference);
    }
    match (borrowed, owned) {
        (_, Err(_)) => Some("the owned translation panicked".to_string()),
        (Ok(a), Ok(Ok(b))) if a.body == b.body && a.summary == b.summary => None,
        (Err(a), Ok(Err(b))) if a == b => None,
        (a, Ok(b)) => Some(format!(
            "owned translation differs: {:?} against {:?}",
            a.map(|c| c.body),
            b.map(|c| c.body)
        )),
    }
}

/// What `Bridge::respond_encoded` sends: the body read with its texts as references into
/// the encoded bytes (every non-empty one eligible here, not only big ones), translated,
/// serialized with the texts written back in. It must be byte for byte what the plain
/// translation serializes to.
fn lean_differs(
    body: &Value,
    borrowed: Option<&codex_litellm_bridge::request::ChatRequest>,
) -> Option<String> {
    let encoded = bytes::Bytes::from(serde_json::to_vec(body).unwrap());
    if serde_json::from_slice::<Value>(&encoded).is_err() {
        // Deeper than the parser goes: upstream's bytes of it could not be read at all.
        return codex_litellm_bridge::lean::parse(&encoded, 3)
            .is_ok()
            .then(|| "the lean parse read what serde_json refuses".to_string());
    }
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let (lean, splices) = codex_litellm_bridge::lean::parse(&encoded, 3).unwrap();
        translate_request_owned(lean, &BridgeOptions::default()).map(|chat| {
            let sent =
                codex_litellm_bridge::encoded::EncodedBody::encode_owned(chat.body, Some(&splices))
                    .unwrap();
            (sent.to_vec(), chat.summary)
        })
    }));
    match (outcome, borrowed) {
        (Err(_), _) => Some("the lean translation panicked".to_string()),
        (Ok(Ok((sent, summary))), Some(expected)) => {
            let expected_bytes = serde_json::to_vec(&expected.body).unwrap();
            (sent != expected_bytes || summary != expected.summary).then(|| {
                format!(
                    "lean translation differs: {} against {}",
                    String::from_utf8_lossy(&sent),
                    String::from_utf8_lossy(&expected_bytes)
                )
            })
        }
        (Ok(Err(_)), None) => None,
        (Ok(_), _) => Some(
            "the lean translation succeeded where the plain one failed or the other way round"
                .to_string(),
        ),
    }
}

#[test]
fn mutated_requests_never_panic() {
    let base = codex_request();
    let text = base.to_string().into_bytes();
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let quiet = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let mut problems = Vec::new();
    let mut inputs = 0;
    let mut translate = |body: &Value| {
        inputs += 1;
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            translate_request(body, &BridgeOptions::default()).map(|chat| {
                serde_json::to_vec(&chat.body).map(|b| b.len()).unwrap();
                order_of(&chat.body)
            })
        }));
        match outcome {
            Err(_) => problems.push(format!("panic on {body}")),
            Ok(Ok(Err(violation))) => problems.push(format!("{violation} in {body}")),
            Ok(_) => {}
        }
        if let Some(difference) = owned_differs(body) {
            problems.push(format!("{difference} for {body}"));
        }
    };
    for _ in 0..2500 {
        let mut mutated = base.clone();
        for _ in 0..1 + rng.below(3) {
            retype_request(&mut mutated, &mut rng);
        }
        translate(&mutated);
        // Byte mutations that still parse.
        if let Ok(value) = serde_json::from_slice::<Value>(&mutate_bytes(&text, &mut rng)) {
            translate(&value);
        }
    }
    std::panic::set_hook(quiet);
    assert!(
        problems.is_empty(),
        "{} panics or wrong orders; first: {}",
        problems.len(),
        problems[0]
    );
    assert!(inputs > 2500);
}

const REQUEST_FIELDS: &[&str] = &[
    "model",
    "instructions",
    "input",
    "type",
    "role",
    "content",
    "text",
    "summary",
    "call_id",
    "name",
    "arguments",
    "output",
    "tools",
    "parameters",
    "tool_choice",
    "parallel_tool_calls",
    "reasoning",
    "effort",
    "namespace",
    "input",
    "action",
    "text",
    "format",
];

fn retype_request(value: &mut Value, rng: &mut Rng) {
    let mut paths = Vec::new();
    collect_paths(value, String::new(), &mut paths);
    if paths.is_empty() {
        return;
    }
    let path = paths[rng.below(paths.len())].clone();
    if let Some(slot) = value.pointer_mut(&path) {
        *slot = odd_value(rng);
    }
}

fn collect_paths(value: &Value, prefix: String, paths: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let path = format!("{prefix}/{key}");
                if REQUEST_FIELDS.contains(&key.as_str()) {
                    paths.push(path.clone());
                }
                collect_paths(child, path, paths);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                let path = format!("{prefix}/{i}");
                paths.push(path.clone());
                collect_paths(child, path, paths);
            }
        }
        _ => {}
    }
}

/// The chat request's message order (see `history::check_order`).
fn order_of(chat: &Value) -> Result<(), String> {
    let messages = chat["messages"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    check_order(messages)
}

/// A history of several turns: parallel calls answered out of order, every call kind,
/// text between turns.
fn long_history() -> Vec<Value> {
    serde_json::from_value(json!([
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "list files"}]},
        {"type": "reasoning", "summary": [{"type": "summary_text", "text": "plan"}], "content": null},
        {"type": "function_call", "call_id": "c1", "name": "shell", "arguments": "{\"command\":[\"ls\"]}"},
        {"type": "function_call", "call_id": "c2", "name": "shell", "arguments": "{\"command\":[\"pwd\"]}"},
        {"type": "function_call_output", "call_id": "c2", "output": "/w"},
        {"type": "function_call_output", "call_id": "c1", "output": "a.txt"},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "two files"}]},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "edit"}]},
        {"type": "custom_tool_call", "call_id": "c3", "name": "apply_patch", "input": "*** Begin Patch"},
        {"type": "custom_tool_call_output", "call_id": "c3", "output": "ok"},
        {"type": "local_shell_call", "call_id": "c4", "status": "completed", "action": {"type": "exec", "command": ["true"]}},
        {"type": "local_shell_call_output", "call_id": "c4", "output": ""},
        {"type": "function_call", "call_id": "c5", "name": "search", "namespace": "mcp__docs", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c5", "output": [{"type": "input_text", "text": "found"}, {"type": "input_image", "image_url": "data:image/png;base64,AA=="}]},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "edited"}]}
    ]))
    .unwrap()
}

/// One structural change to a history: what interrupted turns, compaction, resumed or
/// hand-edited sessions and buggy clients leave behind.
fn mutate_history(items: &mut Vec<Value>, rng: &mut Rng) {
    let ids = ["c1", "c2", "c3", "c4", "c5", "c9", ""];
    let len = items.len();
    let at = rng.below(len.max(1));
    match rng.below(11) {
        0 if len > 0 => {
            items.remove(at);
        }
        1 if len > 0 => {
            let copy = items[at].clone();
            items.insert(rng.below(len + 1), copy);
        }
        2 if len > 0 => {
            let other = rng.below(len);
            items.swap(at, other);
        }
        3 if len > 0 => {
            let moved = items.remove(at);
            items.insert(rng.below(len), moved);
        }
        4 if len > 0 => {
            if items[at].get("call_id").is_some() {
                items[at]["call_id"] = json!(ids[rng.below(ids.len())]);
            }
        }
        5 if len > 0 => {
            if let Some(item) = items[at].as_object_mut() {
                item.remove("call_id");
            }
        }
        6 if len > 0 => {
            if items[at].get("name").is_some() {
                if rng.below(2) == 0 {
                    items[at]["name"] = json!("");
                } else if let Some(item) = items[at].as_object_mut() {
                    item.remove("name");
                }
            }
        }
        7 => items.insert(
            rng.below(len + 1),
            json!({"type": "function_call_output", "call_id": ids[rng.below(ids.len())], "output": "stray"}),
        ),
        8 => items.insert(
            rng.below(len + 1),
            json!({"type": "message", "role": "user", "content": "interjection"}),
        ),
        9 => items.insert(
            rng.below(len + 1),
            json!({"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "aside"}]}),
        ),
        _ => items.insert(
            rng.below(len + 1),
            json!({"type": "function_call", "call_id": ids[rng.below(ids.len())], "name": "shell", "arguments": "{}"}),
        ),
    }
}

/// Mutated histories always translate to an order strict backends accept (upstream
/// #7051): each `tool_calls` message followed by exactly its tool messages, real or
/// stand-in, before anything else; no call named "" or with an empty id.
#[test]
fn mutated_histories_keep_each_call_next_to_its_result() {
    let base = codex_request();
    let history = long_history();
    let mut rng = Rng(0x5851_f42d_4c95_7f2d);
    let mut inputs = 0;
    let mut repaired = 0;
    let mut problems = Vec::new();
    for _ in 0..18_000 {
        let mut items = history.clone();
        for _ in 0..1 + rng.below(4) {
            mutate_history(&mut items, &mut rng);
        }
        let mut body = base.clone();
        body["input"] = Value::Array(items);
        inputs += 1;
        let chat = translate_request(&body, &BridgeOptions::default()).unwrap();
        if inputs % 10 == 0
            && let Some(difference) = owned_differs(&body)
        {
            problems.push(format!("{difference}: {}", body["input"]));
        }
        if !chat.summary.history_repairs.is_empty() {
            repaired += 1;
        }
        if let Err(violation) = order_of(&chat.body) {
            problems.push(format!("{violation}: {}", body["input"]));
        }
    }
    assert!(
        problems.is_empty(),
        "{} of {inputs} mutated histories translated to an order backends refuse; first: {}",
        problems.len(),
        problems[0]
    );
    eprintln!("{inputs} mutated histories, {repaired} repaired");
    // The mutations do reach the repairs.
    assert!(repaired > inputs / 2, "{repaired} of {inputs}");
}
