//! Turns a scripted [`Response`] into the exact bytes to send, for one request.

use serde_json::Map;
use serde_json::Value;
use serde_json::json;

use crate::scenario::BodyKind;
use crate::scenario::Framing;
use crate::scenario::Response;
use crate::scenario::UsageMode;

/// `created` timestamp in generated chunks (fixed, so output is deterministic).
pub const CREATED: u64 = 1_700_000_000;

/// What the request asked for, as far as rendering cares.
pub(crate) struct RequestInfo<'a> {
    pub seq: usize,
    /// `POST /v1/responses`: the shorthand is rendered as a Responses stream.
    pub responses_api: bool,
    pub body_json: Option<&'a Value>,
    pub body_len: usize,
}

impl RequestInfo<'_> {
    fn wants_stream(&self) -> bool {
        self.body_json
            .and_then(|b| b.get("stream"))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    fn wants_usage(&self) -> bool {
        self.body_json
            .and_then(|b| b.get("stream_options"))
            .and_then(|o| o.get("include_usage"))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    fn model(&self) -> Option<&str> {
        self.body_json
            .and_then(|b| b.get("model"))
            .and_then(Value::as_str)
    }
}

/// Everything the connection handler needs to answer.
#[derive(Debug)]
pub(crate) struct Plan {
    pub status: u16,
    /// Headers in sending order, without framing headers.
    pub headers: Vec<(String, String)>,
    /// Body pieces: one per SSE event, or a single piece for a plain body.
    pub units: Vec<Vec<u8>>,
    /// `None` when the scenario set its own `content-length` / `transfer-encoding`.
    pub framing: Option<Framing>,
    pub delay_ms: u64,
    pub chunk_delay_ms: u64,
    pub cut_after_bytes: Option<usize>,
    pub stall_after_events: Option<usize>,
    pub keep_open_after_done: bool,
    pub hold_open_max_ms: u64,
}

pub(crate) fn render(spec: &Response, req: &RequestInfo<'_>) -> Result<Plan, String> {
    let kind = spec.body_kind()?;
    let (content_type, units, event_based): (Option<&str>, Vec<Vec<u8>>, bool) = match kind {
        BodyKind::Empty => (None, Vec::new(), false),
        BodyKind::Sse => {
            let events = spec.sse.as_deref().unwrap_or_default();
            (
                Some("text/event-stream"),
                events.iter().map(sse_element).collect(),
                true,
            )
        }
        BodyKind::Json => {
            let value = spec.json.clone().unwrap_or(Value::Null);
            (
                Some("application/json"),
                vec![value.to_string().into_bytes()],
                false,
            )
        }
        BodyKind::Text => (
            Some("text/plain; charset=utf-8"),
            vec![spec.body.clone().unwrap_or_default().into_bytes()],
            false,
        ),
        BodyKind::RawBytes => (
            Some("application/octet-stream"),
            vec![spec.decoded_raw_bytes()?.unwrap_or_default()],
            false,
        ),
        BodyKind::Shorthand if req.responses_api => (
            Some("text/event-stream"),
            crate::responses::shorthand_responses_stream(spec, req, &usage(spec, req)),
            true,
        ),
        BodyKind::Shorthand => {
            let stream = spec.stream.unwrap_or_else(|| req.wants_stream());
            if stream {
                (Some("text/event-stream"), shorthand_stream(spec, req), true)
            } else {
                let body = shorthand_completion(spec, req);
                (
                    Some("application/json"),
                    vec![body.to_string().into_bytes()],
                    false,
                )
            }
        }
    };

    let mut headers: Vec<(String, String)> = Vec::new();
    if let Some(ct) = content_type {
        headers.push(("content-type".to_string(), ct.to_string()));
    }
    if event_based {
        headers.push(("cache-control".to_string(), "no-cache".to_string()));
    }
    headers.push(("x-mock-llm-seq".to_string(), req.seq.to_string()));
    let mut user_framing = false;
    for (name, value) in &spec.headers {
        let lower = name.to_ascii_lowercase();
        if lower == "content-length" || lower == "transfer-encoding" {
            user_framing = true;
        }
        headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        headers.push((name.clone(), value.clone()));
    }
    let framing = if user_framing {
        None
    } else {
        Some(spec.framing.unwrap_or(if event_based {
            Framing::Chunked
        } else {
            Framing::Length
        }))
    };

    Ok(Plan {
        status: spec.status.unwrap_or(200),
        headers,
        units,
        framing,
        delay_ms: spec.delay_ms,
        chunk_delay_ms: if event_based { spec.chunk_delay_ms } else { 0 },
        cut_after_bytes: spec.cut_after_bytes,
        stall_after_events: spec.stall_after_events,
        keep_open_after_done: spec.keep_open_after_done,
        hold_open_max_ms: spec.hold_open_max_ms(),
    })
}

/// One element of an explicit `sse` list -> its bytes on the wire.
pub(crate) fn sse_element(event: &Value) -> Vec<u8> {
    match event {
        Value::String(s) if s == "[DONE]" => b"data: [DONE]\n\n".to_vec(),
        Value::String(s) if s.starts_with(':') => format!("{s}\n\n").into_bytes(),
        Value::String(s) => format!("data: {s}\n\n").into_bytes(),
        Value::Object(map) if map.len() == 1 && map.get("$raw").is_some_and(Value::is_string) => {
            map.get("$raw")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .as_bytes()
                .to_vec()
        }
        other => format!("data: {other}\n\n").into_bytes(),
    }
}

/// Splits on character boundaries into pieces of at most `n` characters.
pub(crate) fn split_chars(s: &str, n: usize) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    chars.chunks(n.max(1)).map(|c| c.iter().collect()).collect()
}

fn tokens_for(bytes: usize) -> u64 {
    (bytes as u64).div_ceil(4).max(1)
}

fn finish_reason(spec: &Response) -> Option<String> {
    if spec.omit_finish_reason {
        return None;
    }
    Some(spec.finish_reason.clone().unwrap_or_else(|| {
        if spec.tool_calls.as_ref().is_some_and(|c| !c.is_empty()) {
            "tool_calls".to_string()
        } else {
            "stop".to_string()
        }
    }))
}

fn call_id(spec_id: Option<&String>, i: usize) -> String {
    spec_id.cloned().unwrap_or_else(|| format!("call_mock_{i}"))
}

fn usage(spec: &Response, req: &RequestInfo<'_>) -> Value {
    match &spec.usage {
        Some(Value::Object(map)) => {
            let mut map = map.clone();
            if !map.contains_key("total_tokens")
                && let (Some(p), Some(c)) = (
                    map.get("prompt_tokens").and_then(Value::as_u64),
                    map.get("completion_tokens").and_then(Value::as_u64),
                )
            {
                map.insert("total_tokens".to_string(), json!(p + c));
            }
            Value::Object(map)
        }
        Some(other) => other.clone(),
        None => {
            let reasoning = spec.reasoning_content.as_deref().map_or(0, str::len);
            let out = spec.text.as_deref().map_or(0, str::len)
                + reasoning
                + spec
                    .tool_calls
                    .iter()
                    .flatten()
                    .map(|c| c.name.len() + c.arguments_string().len())
                    .sum::<usize>();
            let prompt = tokens_for(req.body_len);
            let completion = tokens_for(out);
            let mut usage = json!({
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
            });
            if reasoning > 0 {
                usage["completion_tokens_details"] =
                    json!({"reasoning_tokens": tokens_for(reasoning)});
            }
            usage
        }
    }
}

struct ChunkCtx {
    id: String,
    model: String,
    every_chunk_usage: Option<Value>,
}

impl ChunkCtx {
    fn new(spec: &Response, req: &RequestInfo<'_>) -> Self {
        Self {
            id: format!("chatcmpl-mock-{}", req.seq),
            model: spec
                .model
                .clone()
                .or_else(|| req.model().map(str::to_string))
                .unwrap_or_else(|| crate::scenario::DEFAULT_MODEL.to_string()),
            every_chunk_usage: None,
        }
    }

    fn chunk(&self, choices: Value) -> Value {
        let mut chunk = json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": self.model,
            "choices": choices,
        });
        if let Some(usage) = &self.every_chunk_usage {
            chunk["usage"] = usage.clone();
        }
        chunk
    }

    fn delta(&self, delta: Value) -> Value {
        self.chunk(json!([{"index": 0, "delta": delta, "finish_reason": null}]))
    }
}

/// The shorthand as a list of SSE events.
fn shorthand_stream(spec: &Response, req: &RequestInfo<'_>) -> Vec<Vec<u8>> {
    let mut ctx = ChunkCtx::new(spec, req);
    let usage = usage(spec, req);
    if spec.usage_mode == UsageMode::EveryChunk {
        ctx.every_chunk_usage = Some(usage.clone());
    }
    let n = spec.delta_chars();
    let mut chunks: Vec<Value> = Vec::new();

    let content = if spec.text.is_some() {
        json!("")
    } else {
        Value::Null
    };
    chunks.push(ctx.delta(json!({"role": "assistant", "content": content})));
    if let Some(reasoning) = &spec.reasoning_content {
        for piece in split_chars(reasoning, n) {
            chunks.push(ctx.delta(json!({"reasoning_content": piece})));
        }
    }
    if let Some(text) = &spec.text {
        for piece in split_chars(text, n) {
            chunks.push(ctx.delta(json!({"content": piece})));
        }
    }
    if let Some(calls) = &spec.tool_calls {
        let per_call: Vec<Vec<Value>> = calls
            .iter()
            .enumerate()
            .map(|(i, call)| {
                let mut fragments = vec![json!({
                    "index": i,
                    "id": call_id(call.id.as_ref(), i),
                    "type": "function",
                    "function": {"name": call.name, "arguments": ""},
                })];
                for piece in split_chars(&call.arguments_string(), n) {
                    fragments.push(json!({"index": i, "function": {"arguments": piece}}));
                }
                fragments
            })
            .collect();
        let ordered: Vec<Value> = if spec.interleave_tool_calls {
            let longest = per_call.iter().map(Vec::len).max().unwrap_or(0);
            (0..longest)
                .flat_map(|k| per_call.iter().filter_map(move |f| f.get(k).cloned()))
                .collect()
        } else {
            per_call.into_iter().flatten().collect()
        };
        for fragment in ordered {
            chunks.push(ctx.delta(json!({"tool_calls": [fragment]})));
        }
    }
    if let Some(reason) = finish_reason(spec) {
        chunks.push(ctx.chunk(json!([{"index": 0, "delta": {}, "finish_reason": reason}])));
    }
    let send_usage = match spec.usage_mode {
        UsageMode::Requested => req.wants_usage(),
        UsageMode::Always | UsageMode::EveryChunk => true,
        UsageMode::Never => false,
    };
    if send_usage {
        let mut last = ctx.chunk(json!([]));
        last["usage"] = usage;
        chunks.push(last);
    }
    let mut events: Vec<Vec<u8>> = chunks
        .iter()
        .map(|c| format!("data: {c}\n\n").into_bytes())
        .collect();
    if !spec.omit_done {
        events.push(b"data: [DONE]\n\n".to_vec());
    }
    events
}

/// The shorthand as one non-streamed `chat.completion` object.
fn shorthand_completion(spec: &Response, req: &RequestInfo<'_>) -> Value {
    let ctx = ChunkCtx::new(spec, req);
    let mut message = Map::new();
    message.insert("role".to_string(), json!("assistant"));
    message.insert(
        "content".to_string(),
        spec.text.clone().map_or(Value::Null, Value::String),
    );
    if let Some(reasoning) = &spec.reasoning_content {
        message.insert("reasoning_content".to_string(), json!(reasoning));
    }
    if let Some(calls) = &spec.tool_calls {
        let calls: Vec<Value> = calls
            .iter()
            .enumerate()
            .map(|(i, call)| {
                json!({
                    "id": call_id(call.id.as_ref(), i),
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments_string()},
                })
            })
            .collect();
        message.insert("tool_calls".to_string(), Value::Array(calls));
    }
    let mut body = json!({
        "id": ctx.id,
        "object": "chat.completion",
        "created": CREATED,
        "model": ctx.model,
        "choices": [{
            "index": 0,
            "message": Value::Object(message),
            "finish_reason": finish_reason(spec),
        }],
    });
    if spec.usage_mode != UsageMode::Never {
        body["usage"] = usage(spec, req);
    }
    body
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::scenario::ToolCall;
    use pretty_assertions::assert_eq;

    fn events(plan: &Plan) -> Vec<Value> {
        plan.units
            .iter()
            .map(|u| {
                let s = std::str::from_utf8(u).unwrap();
                let data = s.strip_prefix("data: ").unwrap().trim_end();
                if data == "[DONE]" {
                    json!("[DONE]")
                } else {
                    serde_json::from_str(data).unwrap()
                }
            })
            .collect()
    }

    #[test]
    fn split_is_on_char_boundaries() {
        assert_eq!(split_chars("héllo wörld", 4), vec!["héll", "o wö", "rld"]);
        assert_eq!(split_chars("", 4), Vec::<String>::new());
    }

    #[test]
    fn interleaved_tool_calls_alternate_indices() {
        let spec = Response::tool_calls(vec![
            ToolCall::new("a", "f", "12345678"),
            ToolCall::new("b", "g", "1234"),
        ]);
        let spec = Response {
            interleave_tool_calls: true,
            ..spec
        };
        let body = json!({"stream": true});
        let plan = render(
            &spec,
            &RequestInfo {
                seq: 0,
                responses_api: false,
                body_json: Some(&body),
                body_len: 10,
            },
        )
        .unwrap();
        let indices: Vec<u64> = events(&plan)
            .iter()
            .filter_map(|e| e["choices"][0]["delta"]["tool_calls"][0]["index"].as_u64())
            .collect();
        assert_eq!(indices, vec![0, 1, 0, 1, 0]);
    }

    #[test]
    fn every_chunk_usage_mode_puts_usage_everywhere() {
        let spec = Response::text("hi")
            .with_usage(json!({"prompt_tokens": 3, "completion_tokens": 1}))
            .with_usage_mode(UsageMode::EveryChunk);
        let body = json!({"stream": true});
        let plan = render(
            &spec,
            &RequestInfo {
                seq: 0,
                responses_api: false,
                body_json: Some(&body),
                body_len: 10,
            },
        )
        .unwrap();
        let evs = events(&plan);
        for e in &evs[..evs.len() - 1] {
            assert_eq!(e["usage"]["total_tokens"], json!(4));
        }
    }
}
