//! Snapshot tests: a backend's chat answer (as streamed chunks or one JSON body) -> the
//! Responses events Codex receives. Every stream is also checked against the rules Codex's
//! parser applies (`conformance`).

use codex_litellm_bridge::BridgeOptions;
use codex_litellm_bridge::ChatAnswer;
use codex_litellm_bridge::ChunkAccumulator;
use codex_litellm_bridge::conformance::check_sse;
use codex_litellm_bridge::options::ToolCallRecovery;
use codex_litellm_bridge::postprocess;
use codex_litellm_bridge::simulate;
use codex_litellm_bridge::simulate::ResponseIdentity;
use codex_litellm_bridge::simulate::encode_sse;
use codex_litellm_bridge::simulate::simulate_failure;
use codex_litellm_bridge::tools::ToolMap;
use codex_litellm_bridge::tools::translate_tools;
use serde_json::Value;
use serde_json::json;

fn tool_map() -> ToolMap {
    translate_tools(
        &[
            json!({"type": "function", "name": "shell", "parameters": {"type": "object", "properties": {"command": {"type": "array"}}}}),
            json!({"type": "custom", "name": "apply_patch", "description": "Edit files."}),
            json!({"type": "namespace", "name": "mcp__docs", "tools": [{"type": "function", "name": "search"}]}),
            json!({"type": "local_shell"}),
        ],
        false,
    )
    .map
}

fn chunk(delta: Value) -> Value {
    json!({"id": "chatcmpl-abc", "object": "chat.completion.chunk", "model": "qwen3", "choices": [{"index": 0, "delta": delta, "finish_reason": null}]})
}

fn finish(reason: &str) -> Value {
    json!({"id": "chatcmpl-abc", "choices": [{"index": 0, "delta": {}, "finish_reason": reason}]})
}

fn usage() -> Value {
    json!({"id": "chatcmpl-abc", "choices": [], "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120,
        "prompt_tokens_details": {"cached_tokens": 64}, "completion_tokens_details": {"reasoning_tokens": 7}}})
}

/// Runs the buffered pipeline and returns the events as pretty JSON lines, after checking
/// the encoded stream is one Codex accepts.
fn run(chunks: &[Value], options: &BridgeOptions) -> String {
    let mut accumulator = ChunkAccumulator::default();
    for c in chunks {
        accumulator.push_chunk(c);
    }
    render(accumulator.finish(), options)
}

fn render(mut answer: ChatAnswer, options: &BridgeOptions) -> String {
    let map = tool_map();
    let recovered = postprocess(&mut answer, &map, options);
    let identity = ResponseIdentity::for_answer(&answer, "requested-model", 1_700_000_000);
    let events = simulate(&answer, &map, identity);
    let bytes = encode_sse(&events);
    if let Err(violation) = check_sse(&bytes) {
        panic!("stream violates Codex's rules: {violation}");
    }
    let mut out: Vec<String> = events
        .iter()
        .map(|e| serde_json::to_string(e).unwrap_or_default())
        .collect();
    if !recovered.is_empty() {
        out.push(format!(
            "recovered: {}",
            serde_json::to_string(&recovered).unwrap_or_default()
        ));
    }
    out.join("\n")
}

#[test]
fn plain_text_with_usage() {
    let chunks = [
        chunk(json!({"role": "assistant", "content": ""})),
        chunk(json!({"content": "Hello"})),
        chunk(json!({"content": ", world."})),
        finish("stop"),
        usage(),
    ];
    insta::assert_snapshot!("plain_text", run(&chunks, &BridgeOptions::default()));
}

#[test]
fn reasoning_content_then_text() {
    let chunks = [
        chunk(json!({"role": "assistant", "reasoning_content": "The user greets; "})),
        chunk(json!({"reasoning_content": "answer briefly."})),
        chunk(json!({"content": "Hi!"})),
        finish("stop"),
    ];
    insta::assert_snapshot!(
        "reasoning_then_text",
        run(&chunks, &BridgeOptions::default())
    );
}

#[test]
fn openrouter_reasoning_details_are_carried_for_the_round_trip() {
    let chunks = [
        chunk(
            json!({"reasoning": "thinking", "reasoning_details": [{"type": "reasoning.text", "text": "thinking", "signature": "sig"}]}),
        ),
        chunk(json!({"content": "done"})),
        finish("stop"),
    ];
    insta::assert_snapshot!("reasoning_details", run(&chunks, &BridgeOptions::default()));
}

#[test]
fn every_tool_kind_with_fragments_and_missing_ids() {
    let chunks = [
        chunk(json!({"content": "Working on it."})),
        chunk(
            json!({"tool_calls": [{"index": 0, "id": "call_fn", "type": "function", "function": {"name": "shell", "arguments": "{\"command\": "}}]}),
        ),
        chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": "[\"ls\"]}"}}]})),
        chunk(
            json!({"tool_calls": [{"index": 1, "id": "call_patch", "type": "function", "function": {"name": "apply_patch", "arguments": "{\"input\": \"*** Begin Patch\\n*** Add File: a.txt\\n+hi\\n*** End Patch\"}"}}]}),
        ),
        chunk(
            json!({"tool_calls": [{"index": 2, "type": "function", "function": {"name": "mcp__docs__search", "arguments": "{\"q\": \"x\"}"}}]}),
        ),
        chunk(
            json!({"tool_calls": [{"index": 3, "id": "call_ls", "type": "function", "function": {"name": "local_shell", "arguments": "{\"command\": [\"pwd\"], \"workdir\": \"/w\"}"}}]}),
        ),
        chunk(
            json!({"tool_calls": [{"index": 4, "id": "call_unknown", "type": "function", "function": {"name": "not_declared", "arguments": "{}"}}]}),
        ),
        // Gemini, vLLM and LiteLLM+Ollama say "stop" after tool calls: the calls are kept.
        finish("stop"),
        usage(),
    ];
    insta::assert_snapshot!("every_tool_kind", run(&chunks, &BridgeOptions::default()));
}

#[test]
fn freeform_tool_called_with_raw_text_arguments() {
    let chunks = [
        chunk(
            json!({"tool_calls": [{"index": 0, "id": "p", "function": {"name": "apply_patch", "arguments": "*** Begin Patch\n*** Delete File: x\n*** End Patch"}}]}),
        ),
        finish("tool_calls"),
    ];
    insta::assert_snapshot!(
        "freeform_raw_arguments",
        run(&chunks, &BridgeOptions::default())
    );
}

#[test]
fn inline_think_tags_become_reasoning() {
    let chunks = [
        chunk(json!({"content": "<think>\nLet me check the files first.\n</think>\n\n"})),
        chunk(json!({"content": "Files checked."})),
        finish("stop"),
    ];
    insta::assert_snapshot!("think_tags", run(&chunks, &BridgeOptions::default()));
}

#[test]
fn tool_call_written_as_text_is_recovered_and_can_be_turned_off() {
    let chunks = [
        chunk(
            json!({"content": "I'll list the files.\n<tool_call>\n{\"name\": \"shell\", \"arguments\": {\"command\": [\"ls\"]}}\n</tool_call>"}),
        ),
        finish("stop"),
    ];
    let anywhere = BridgeOptions {
        tool_call_recovery: ToolCallRecovery::Anywhere,
        ..BridgeOptions::default()
    };
    let off = BridgeOptions {
        tool_call_recovery: ToolCallRecovery::Off,
        ..BridgeOptions::default()
    };
    insta::assert_snapshot!(
        "recovered_call",
        format!(
            "{}\n\n--- recovery off ---\n{}",
            run(&chunks, &anywhere),
            run(&chunks, &off)
        )
    );
    // By default a call written after prose stays text (it may be a quote); a call that
    // is the whole answer runs.
    assert_eq!(run(&chunks, &BridgeOptions::default()), run(&chunks, &off));
    let whole = [
        chunk(
            json!({"content": "<tool_call>\n{\"name\": \"shell\", \"arguments\": {\"command\": [\"ls\"]}}\n</tool_call>\n"}),
        ),
        finish("stop"),
    ];
    let default_run = run(&whole, &BridgeOptions::default());
    assert!(default_run.contains("function_call"), "{default_run}");
    assert_eq!(default_run, run(&whole, &anywhere));
}

#[test]
fn non_streamed_completion_body() {
    let answer = ChatAnswer::from_completion(&json!({
        "id": "chatcmpl-json", "model": "llama",
        "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant", "content": "Checking.",
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "shell", "arguments": "{\"command\":[\"date\"]}"}}]}}],
        "usage": {"prompt_tokens": 9, "completion_tokens": 3}
    }));
    insta::assert_snapshot!("non_streamed", render(answer, &BridgeOptions::default()));
}

#[test]
fn failure_stream() {
    let identity = ResponseIdentity {
        response_id: "resp_x".into(),
        model: "m".into(),
        created_at: 1,
    };
    let events = simulate_failure(
        identity,
        "rate_limit_exceeded",
        "rate limited. Please try again in 3s.",
    );
    let bytes = encode_sse(&events);
    let summary = check_sse(&bytes).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(summary.terminal, "failed");
    insta::assert_snapshot!("failure", String::from_utf8_lossy(&bytes));
}

#[test]
fn stable_ids_for_the_same_answer() {
    let chunks = [chunk(json!({"content": "same"})), finish("stop")];
    assert_eq!(
        run(&chunks, &BridgeOptions::default()),
        run(&chunks, &BridgeOptions::default())
    );
    let no_id =
        [json!({"choices": [{"index": 0, "delta": {"content": "x"}, "finish_reason": "stop"}]})];
    assert_eq!(
        run(&no_id, &BridgeOptions::default()),
        run(&no_id, &BridgeOptions::default())
    );
}
