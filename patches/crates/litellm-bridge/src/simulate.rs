//! Chat answer -> the Responses events `/v1/responses` would have streamed. Pure.
//!
//! Codex requires, per item: `output_item.added` -> deltas -> `output_item.done`, one item
//! at a time (a delta with no open item panics debug builds), and a final
//! `response.completed` with an id. Reasoning comes first so Codex shows it before the
//! answer and sends it back on the next request.

use crate::answer::ChatAnswer;
use crate::answer::ToolCall;
use crate::answer::Usage;
use crate::reasoning_carrier;
use crate::tools::ToolMap;
use crate::tools::ToolTarget;
use crate::tools::stable_hash;
use bytes::Bytes;
use serde_json::Value;
use serde_json::json;

/// Codes Codex's Responses parser understands in `response.failed`.
pub mod codes {
    pub const CONTEXT_LENGTH_EXCEEDED: &str = "context_length_exceeded";
    pub const RATE_LIMIT_EXCEEDED: &str = "rate_limit_exceeded";
    pub const SERVER_IS_OVERLOADED: &str = "server_is_overloaded";
    pub const INSUFFICIENT_QUOTA: &str = "insufficient_quota";
    /// Not retried by Codex; its message is shown as is.
    pub const INVALID_PROMPT: &str = "invalid_prompt";
    /// Any code Codex does not know is retried by its turn loop.
    pub const BACKEND_ERROR: &str = "backend_error";
}

/// Identity of the simulated response.
#[derive(Debug, Clone)]
pub struct ResponseIdentity {
    pub response_id: String,
    pub model: String,
    pub created_at: i64,
}

impl ResponseIdentity {
    /// A stable id: derived from the backend's completion id, or from the answer's content.
    pub fn for_answer(answer: &ChatAnswer, requested_model: &str, created_at: i64) -> Self {
        let suffix = match &answer.id {
            Some(id) => sanitize_id(id),
            None => format!(
                "{:08x}",
                stable_hash(&format!(
                    "{}|{}|{:?}",
                    answer.text, answer.reasoning, answer.tool_calls
                ))
            ),
        };
        Self {
            response_id: format!("resp_{suffix}"),
            model: answer
                .model
                .clone()
                .unwrap_or_else(|| requested_model.to_string()),
            created_at,
        }
    }
}

fn sanitize_id(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Writes Responses events in order and numbers them.
#[derive(Debug)]
pub struct EventWriter {
    identity: ResponseIdentity,
    events: Vec<Value>,
    next_output_index: u64,
    open_item: Option<(String, u64)>,
}

impl EventWriter {
    pub fn new(identity: ResponseIdentity) -> Self {
        Self {
            identity,
            events: Vec::new(),
            next_output_index: 0,
            open_item: None,
        }
    }

    pub fn identity(&self) -> &ResponseIdentity {
        &self.identity
    }

    fn push(&mut self, mut event: Value) {
        event["sequence_number"] = json!(self.events.len());
        self.events.push(event);
    }

    /// Takes the events written so far (for live streaming).
    pub fn drain(&mut self) -> Vec<Value> {
        std::mem::take(&mut self.events)
    }

    fn response_object(&self, status: &str) -> Value {
        json!({
            "id": self.identity.response_id,
            "object": "response",
            "created_at": self.identity.created_at,
            "status": status,
            "model": self.identity.model,
        })
    }

    pub fn created(&mut self) {
        let response = self.response_object("in_progress");
        self.push(json!({"type": "response.created", "response": response}));
    }

    fn item_id(&self, prefix: &str) -> String {
        let base = self.identity.response_id.trim_start_matches("resp_");
        format!("{prefix}_{base}_{}", self.next_output_index)
    }

    fn open(&mut self, item: Value) -> (String, u64) {
        let id = item
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let output_index = self.next_output_index;
        self.next_output_index += 1;
        self.push(json!({"type": "response.output_item.added", "output_index": output_index, "item": item}));
        self.open_item = Some((id.clone(), output_index));
        (id, output_index)
    }

    fn close(&mut self, item: Value) {
        if let Some((_, output_index)) = self.open_item.take() {
            self.push(json!({"type": "response.output_item.done", "output_index": output_index, "item": item}));
        }
    }

    pub fn is_item_open(&self) -> bool {
        self.open_item.is_some()
    }

    pub fn begin_reasoning(&mut self) -> String {
        let id = self.item_id("rs");
        let (id, output_index) = self.open(json!({"type": "reasoning", "id": id, "summary": []}));
        self.push(json!({
            "type": "response.reasoning_summary_part.added",
            "item_id": id, "output_index": output_index, "summary_index": 0,
            "part": {"type": "summary_text", "text": ""}
        }));
        id
    }

    pub fn reasoning_delta(&mut self, delta: &str) {
        if let Some((id, output_index)) = self.open_item.clone() {
            self.push(json!({
                "type": "response.reasoning_summary_text.delta",
                "item_id": id, "output_index": output_index, "summary_index": 0, "delta": delta
            }));
        }
    }

    pub fn end_reasoning(&mut self, text: &str, details: Option<&Value>) {
        let id = self
            .open_item
            .as_ref()
            .map(|(id, _)| id.clone())
            .unwrap_or_default();
        let item = json!({
            "type": "reasoning",
            "id": id,
            "summary": [{"type": "summary_text", "text": text}],
            "content": [{"type": "reasoning_text", "text": text}],
            "encrypted_content": details.map(reasoning_carrier::encode_details),
        });
        self.close(item);
    }

    pub fn begin_message(&mut self) -> String {
        let id = self.item_id("msg");
        let (id, _) = self.open(json!({
            "type": "message", "id": id, "role": "assistant", "status": "in_progress", "content": []
        }));
        id
    }

    pub fn text_delta(&mut self, delta: &str) {
        if let Some((id, output_index)) = self.open_item.clone() {
            self.push(json!({
                "type": "response.output_text.delta",
                "item_id": id, "output_index": output_index, "content_index": 0, "delta": delta
            }));
        }
    }

    pub fn end_message(&mut self, text: &str) {
        self.end_message_as(text, "completed");
    }

    /// Closes the open message as `incomplete`: its answer broke off (live mode).
    pub fn end_message_incomplete(&mut self, text: &str) {
        self.end_message_as(text, "incomplete");
    }

    fn end_message_as(&mut self, text: &str, status: &str) {
        let id = self
            .open_item
            .as_ref()
            .map(|(id, _)| id.clone())
            .unwrap_or_default();
        self.close(json!({
            "type": "message", "id": id, "role": "assistant", "status": status,
            "content": [{"type": "output_text", "text": text, "annotations": []}]
        }));
    }

    /// One complete tool call, as the item kind Codex declared the tool with.
    pub fn tool_call(&mut self, call: &ToolCall, call_id: &str, tool_map: &ToolMap) {
        match tool_map.target(&call.name) {
            Some(ToolTarget::Custom { name }) => {
                let input = custom_tool_input(&call.arguments);
                let id = self.item_id("ctc");
                let added = json!({"type": "custom_tool_call", "id": id, "status": "in_progress", "call_id": call_id, "name": name, "input": ""});
                let (id, output_index) = self.open(added);
                self.push(json!({
                    "type": "response.custom_tool_call_input.delta",
                    "item_id": id, "output_index": output_index, "call_id": call_id, "delta": input
                }));
                self.close(json!({"type": "custom_tool_call", "id": id, "status": "completed", "call_id": call_id, "name": name, "input": input}));
            }
            Some(ToolTarget::LocalShell) => {
                let id = self.item_id("lsc");
                let action = local_shell_action(&call.arguments);
                let item = json!({"type": "local_shell_call", "id": id, "call_id": call_id, "status": "completed", "action": action});
                let mut added = item.clone();
                added["status"] = json!("in_progress");
                self.open(added);
                self.close(item);
            }
            target => {
                let (name, namespace) = match target {
                    Some(ToolTarget::Function { name, namespace }) => {
                        (name.clone(), namespace.clone())
                    }
                    // Not declared: pass it on; Codex answers with an "unsupported call" result
                    // the model can recover from.
                    _ => (call.name.clone(), None),
                };
                let id = self.item_id("fc");
                let mut item = json!({"type": "function_call", "id": id, "status": "completed", "call_id": call_id, "name": name, "arguments": call.arguments});
                if let Some(namespace) = namespace {
                    item["namespace"] = json!(namespace);
                }
                let mut added = item.clone();
                added["status"] = json!("in_progress");
                added["arguments"] = json!("");
                self.open(added);
                self.close(item);
            }
        }
    }

    pub fn completed(&mut self, usage: Option<Usage>) {
        let mut response = self.response_object("completed");
        if let Some(usage) = usage {
            response["usage"] = json!({
                "input_tokens": usage.input_tokens,
                "input_tokens_details": {"cached_tokens": usage.cached_input_tokens},
                "output_tokens": usage.output_tokens,
                "output_tokens_details": {"reasoning_tokens": usage.reasoning_output_tokens},
                "total_tokens": usage.total_tokens,
            });
        }
        self.push(json!({"type": "response.completed", "response": response}));
    }

    pub fn failed(&mut self, code: &str, message: &str) {
        let mut response = self.response_object("failed");
        response["error"] = json!({"code": code, "message": message});
        self.push(json!({"type": "response.failed", "response": response}));
    }

    pub fn finish(self) -> Vec<Value> {
        self.events
    }
}

/// A freeform tool's input: the `input` string of the arguments, or the raw arguments
/// when the model sent the text itself instead of a JSON object.
fn custom_tool_input(arguments: &str) -> String {
    match serde_json::from_str::<Value>(arguments) {
        Ok(Value::Object(object)) => {
            if let Some(input) = object.get("input").and_then(Value::as_str) {
                return input.to_string();
            }
            if object.len() == 1
                && let Some(Value::String(only)) = object.values().next()
            {
                return only.clone();
            }
            arguments.to_string()
        }
        Ok(Value::String(text)) => text,
        _ => arguments.to_string(),
    }
}

fn local_shell_action(arguments: &str) -> Value {
    let parsed: Value = serde_json::from_str(arguments).unwrap_or_else(|_| json!({}));
    let command = match parsed.get("command") {
        Some(Value::Array(parts)) => Value::Array(parts.clone()),
        Some(Value::String(line)) => json!(["bash", "-lc", line]),
        _ => json!([]),
    };
    json!({
        "type": "exec",
        "command": command,
        "timeout_ms": parsed.get("timeout_ms").cloned().unwrap_or(Value::Null),
        "working_directory": parsed.get("workdir").or_else(|| parsed.get("working_directory")).cloned().unwrap_or(Value::Null),
        "env": parsed.get("env").cloned().unwrap_or(Value::Null),
        "user": Value::Null,
    })
}

/// Call ids the backend did not give are made up, stable for the same answer.
pub fn call_id_for(call: &ToolCall, position: usize, response_id: &str) -> String {
    match &call.id {
        Some(id) => id.clone(),
        None => format!(
            "call_{:08x}{position}",
            stable_hash(&format!("{response_id}|{}|{}", call.name, call.arguments))
        ),
    }
}

/// The whole event sequence for a complete, post-processed answer.
pub fn simulate(answer: &ChatAnswer, tool_map: &ToolMap, identity: ResponseIdentity) -> Vec<Value> {
    let mut writer = EventWriter::new(identity);
    writer.created();
    write_reasoning_and_text(&mut writer, answer);
    let response_id = writer.identity().response_id.clone();
    for (position, call) in answer.tool_calls.iter().enumerate() {
        let call_id = call_id_for(call, position, &response_id);
        writer.tool_call(call, &call_id, tool_map);
    }
    writer.completed(answer.usage);
    writer.finish()
}

/// The reasoning and text the backend sent before the error that ended its answer, then
/// the failure (no tool call: an answer that ended in an error runs nothing).
pub fn simulate_failure_after(
    answer: &ChatAnswer,
    identity: ResponseIdentity,
    code: &str,
    message: &str,
) -> Vec<Value> {
    let mut writer = EventWriter::new(identity);
    writer.created();
    write_reasoning_and_text(&mut writer, answer);
    writer.failed(code, message);
    writer.finish()
}

fn write_reasoning_and_text(writer: &mut EventWriter, answer: &ChatAnswer) {
    if !answer.reasoning.trim().is_empty() || answer.reasoning_details.is_some() {
        writer.begin_reasoning();
        if !answer.reasoning.is_empty() {
            writer.reasoning_delta(&answer.reasoning);
        }
        writer.end_reasoning(&answer.reasoning, answer.reasoning_details.as_ref());
    }
    let text = match (&answer.refusal, answer.text.is_empty()) {
        (Some(refusal), true) => refusal.clone(),
        _ => answer.text.clone(),
    };
    if !text.is_empty() {
        writer.begin_message();
        writer.text_delta(&text);
        writer.end_message(&text);
    }
}

/// The events of a response that failed before producing anything.
pub fn simulate_failure(identity: ResponseIdentity, code: &str, message: &str) -> Vec<Value> {
    let mut writer = EventWriter::new(identity);
    writer.created();
    writer.failed(code, message);
    writer.finish()
}

/// SSE framing as `/v1/responses` sends it.
pub fn encode_sse(events: &[Value]) -> Bytes {
    let mut out = String::new();
    for event in events {
        out.push_str(&encode_sse_event(event));
    }
    Bytes::from(out)
}

pub fn encode_sse_event(event: &Value) -> String {
    let kind = event
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("message");
    format!("event: {kind}\ndata: {event}\n\n")
}
