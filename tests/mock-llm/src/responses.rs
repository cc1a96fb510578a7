//! The shorthand as a Responses API stream (`POST /v1/responses`), for benchmarks that
//! need stock Codex on the same scripted content (the "floor": no translation at all).
//! Minimal: the events Codex reads, one reasoning item, one message, function calls.

use serde_json::Value;
use serde_json::json;

use crate::render::RequestInfo;
use crate::render::split_chars;
use crate::scenario::Response;

fn event(kind: &str, mut data: Value) -> Vec<u8> {
    data["type"] = json!(kind);
    format!("event: {kind}\ndata: {data}\n\n").into_bytes()
}

/// Responses `usage` from the chat usage the shorthand would send.
fn responses_usage(chat: &Value) -> Value {
    let input = chat["prompt_tokens"].as_u64().unwrap_or(0);
    let output = chat["completion_tokens"].as_u64().unwrap_or(0);
    json!({
        "input_tokens": input,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": output,
        "output_tokens_details": {
            "reasoning_tokens": chat["completion_tokens_details"]["reasoning_tokens"].as_u64().unwrap_or(0)
        },
        "total_tokens": input + output,
    })
}

/// The shorthand (`text`, `reasoning_content`, `tool_calls`) as Responses SSE events.
pub(crate) fn shorthand_responses_stream(
    spec: &Response,
    req: &RequestInfo<'_>,
    chat_usage: &Value,
) -> Vec<Vec<u8>> {
    let id = format!("resp_mock_{}", req.seq);
    let n = spec.delta_chars();
    let mut events = vec![event(
        "response.created",
        json!({"response": {"id": id, "object": "response", "status": "in_progress"}}),
    )];
    // (item, its delta events); the output index is the position in this list.
    let mut items: Vec<(Value, Vec<Vec<u8>>)> = Vec::new();
    if let Some(reasoning) = &spec.reasoning_content {
        let item_id = format!("rs_mock_{}", req.seq);
        let deltas = split_chars(reasoning, n)
            .into_iter()
            .map(|piece| {
                event(
                    "response.reasoning_summary_text.delta",
                    json!({"item_id": item_id, "output_index": items.len(), "summary_index": 0, "delta": piece}),
                )
            })
            .collect();
        let item = json!({"type": "reasoning", "id": item_id,
            "summary": [{"type": "summary_text", "text": reasoning}]});
        items.push((item, deltas));
    }
    if let Some(text) = &spec.text {
        let item_id = format!("msg_mock_{}", req.seq);
        let deltas = split_chars(text, n)
            .into_iter()
            .map(|piece| {
                event(
                    "response.output_text.delta",
                    json!({"item_id": item_id, "output_index": items.len(), "content_index": 0, "delta": piece}),
                )
            })
            .collect();
        let item = json!({"type": "message", "id": item_id, "role": "assistant", "status": "completed",
            "content": [{"type": "output_text", "text": text, "annotations": []}]});
        items.push((item, deltas));
    }
    for (i, call) in spec.tool_calls.iter().flatten().enumerate() {
        let call_id = call.id.clone().unwrap_or_else(|| format!("call_mock_{i}"));
        let item = json!({"type": "function_call", "id": format!("fc_mock_{}_{i}", req.seq),
            "call_id": call_id, "name": call.name, "arguments": call.arguments_string(), "status": "completed"});
        items.push((item, Vec::new()));
    }
    for (index, (item, deltas)) in items.into_iter().enumerate() {
        events.push(event(
            "response.output_item.added",
            json!({"output_index": index, "item": item}),
        ));
        events.extend(deltas);
        events.push(event(
            "response.output_item.done",
            json!({"output_index": index, "item": item}),
        ));
    }
    events.push(event(
        "response.completed",
        json!({"response": {"id": id, "object": "response", "status": "completed",
            "usage": responses_usage(chat_usage)}}),
    ));
    events
}
