//! Checks a Responses SSE stream against the rules Codex's parser and turn loop rely on
//! (codex-api `process_sse` / `process_responses_event`, core's turn loop): every event is
//! JSON with a `type`; `response.created` first; one item open at a time, added -> deltas
//! -> done; deltas carry the index fields Codex needs; items have the fields Codex parses;
//! exactly one terminal event, last, with what Codex reads from it.

use serde_json::Value;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamSummary {
    /// Item types in output order.
    pub items: Vec<String>,
    /// `completed`, `failed` or `incomplete`.
    pub terminal: String,
    pub events: usize,
}

/// Parses SSE bytes into the JSON payloads of their `data:` lines.
pub fn sse_payloads(bytes: &[u8]) -> Result<Vec<Value>, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("stream is not UTF-8: {e}"))?;
    let mut payloads = Vec::new();
    for block in text.split("\n\n") {
        let data: Vec<&str> = block
            .lines()
            .filter_map(|line| line.strip_prefix("data:"))
            .map(|d| d.strip_prefix(' ').unwrap_or(d))
            .collect();
        if data.is_empty() {
            continue;
        }
        let joined = data.join("\n");
        let value: Value = serde_json::from_str(&joined)
            .map_err(|e| format!("data is not JSON ({e}): {joined}"))?;
        payloads.push(value);
    }
    Ok(payloads)
}

pub fn check_sse(bytes: &[u8]) -> Result<StreamSummary, String> {
    check_events(&sse_payloads(bytes)?)
}

pub fn check_events(events: &[Value]) -> Result<StreamSummary, String> {
    let mut summary = StreamSummary {
        events: events.len(),
        ..StreamSummary::default()
    };
    let mut open: Option<(String, String)> = None;
    for (position, event) in events.iter().enumerate() {
        let kind = event
            .get("type")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("event {position} has no string `type`: {event}"))?;
        let at = |what: &str| format!("event {position} ({kind}): {what}");
        if position == 0 && kind != "response.created" {
            return Err(at("the first event must be response.created"));
        }
        if !summary.terminal.is_empty() {
            return Err(at("event after the terminal event"));
        }
        match kind {
            "response.created" => {
                if position != 0 {
                    return Err(at("response.created twice"));
                }
                event
                    .get("response")
                    .filter(|r| r.is_object())
                    .ok_or_else(|| at("missing response object"))?;
            }
            "response.output_item.added" => {
                if open.is_some() {
                    return Err(at("an item is added while another is still open"));
                }
                let item = event.get("item").ok_or_else(|| at("missing item"))?;
                let item_kind = check_item(item, false).map_err(|e| at(&e))?;
                let id = item
                    .get("id")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                open = Some((item_kind, id));
            }
            "response.output_item.done" => {
                let item = event.get("item").ok_or_else(|| at("missing item"))?;
                let item_kind = check_item(item, true).map_err(|e| at(&e))?;
                match open.take() {
                    Some((open_kind, _)) if open_kind == item_kind => summary.items.push(item_kind),
                    Some((open_kind, _)) => {
                        return Err(at(&format!(
                            "done for {item_kind} while {open_kind} is open"
                        )));
                    }
                    None => return Err(at("done without added")),
                }
            }
            "response.output_text.delta" => {
                require_open(&open, "message").map_err(|e| at(&e))?;
                require_string(event, "delta").map_err(|e| at(&e))?;
            }
            "response.reasoning_summary_part.added" => {
                require_open(&open, "reasoning").map_err(|e| at(&e))?;
                event
                    .get("summary_index")
                    .and_then(Value::as_i64)
                    .ok_or_else(|| at("missing summary_index"))?;
            }
            "response.reasoning_summary_text.delta" => {
                require_open(&open, "reasoning").map_err(|e| at(&e))?;
                require_string(event, "delta").map_err(|e| at(&e))?;
                event
                    .get("summary_index")
                    .and_then(Value::as_i64)
                    .ok_or_else(|| at("missing summary_index"))?;
            }
            "response.reasoning_text.delta" => {
                require_open(&open, "reasoning").map_err(|e| at(&e))?;
                require_string(event, "delta").map_err(|e| at(&e))?;
                event
                    .get("content_index")
                    .and_then(Value::as_i64)
                    .ok_or_else(|| at("missing content_index"))?;
            }
            "response.custom_tool_call_input.delta" => {
                require_open(&open, "custom_tool_call").map_err(|e| at(&e))?;
                require_string(event, "delta").map_err(|e| at(&e))?;
                if event.get("item_id").and_then(Value::as_str).is_none()
                    && event.get("call_id").and_then(Value::as_str).is_none()
                {
                    return Err(at("needs item_id or call_id"));
                }
            }
            "response.completed" => {
                if open.is_some() {
                    return Err(at("completed while an item is open"));
                }
                let response = event
                    .get("response")
                    .ok_or_else(|| at("missing response"))?;
                response
                    .get("id")
                    .and_then(Value::as_str)
                    .ok_or_else(|| at("response.id must be a string"))?;
                if let Some(usage) = response.get("usage").filter(|u| !u.is_null()) {
                    for field in ["input_tokens", "output_tokens", "total_tokens"] {
                        usage
                            .get(field)
                            .and_then(Value::as_u64)
                            .ok_or_else(|| at(&format!("usage.{field} must be an integer")))?;
                    }
                }
                summary.terminal = "completed".into();
            }
            "response.failed" => {
                let error = event
                    .pointer("/response/error")
                    .ok_or_else(|| at("missing response.error"))?;
                error
                    .get("message")
                    .and_then(Value::as_str)
                    .ok_or_else(|| at("error.message must be a string"))?;
                error
                    .get("code")
                    .and_then(Value::as_str)
                    .ok_or_else(|| at("error.code must be a string"))?;
                summary.terminal = "failed".into();
            }
            "response.incomplete" => summary.terminal = "incomplete".into(),
            other => return Err(at(&format!("unknown event type {other}"))),
        }
    }
    if summary.terminal.is_empty() {
        return Err("the stream ends without response.completed or response.failed".into());
    }
    Ok(summary)
}

fn require_open(open: &Option<(String, String)>, kind: &str) -> Result<(), String> {
    match open {
        Some((open_kind, _)) if open_kind == kind => Ok(()),
        Some((open_kind, _)) => Err(format!("delta for {kind} while {open_kind} is open")),
        None => Err(format!("delta for {kind} with no open item")),
    }
}

fn require_string(value: &Value, field: &str) -> Result<(), String> {
    value
        .get(field)
        .and_then(Value::as_str)
        .map(|_| ())
        .ok_or_else(|| format!("`{field}` must be a string"))
}

/// The fields Codex's `ResponseItem` deserializer requires, per item type.
fn check_item(item: &Value, done: bool) -> Result<String, String> {
    let kind = item
        .get("type")
        .and_then(Value::as_str)
        .ok_or("item without type")?;
    let string = |field: &str| {
        item.get(field)
            .and_then(Value::as_str)
            .map(|_| ())
            .ok_or(format!("{kind}.{field} must be a string"))
    };
    match kind {
        "message" => {
            string("role")?;
            let content = item
                .get("content")
                .and_then(Value::as_array)
                .ok_or("message.content must be an array")?;
            for part in content {
                let part_type = part
                    .get("type")
                    .and_then(Value::as_str)
                    .ok_or("content part without type")?;
                if !matches!(part_type, "output_text" | "input_text")
                    || part.get("text").and_then(Value::as_str).is_none()
                {
                    return Err(format!("bad message content part {part}"));
                }
            }
            if done && content.is_empty() {
                return Err("a done message has no content".into());
            }
        }
        "reasoning" => {
            item.get("summary")
                .and_then(Value::as_array)
                .ok_or("reasoning.summary must be an array")?;
            if let Some(content) = item.get("content").filter(|c| !c.is_null()) {
                let parts = content
                    .as_array()
                    .ok_or("reasoning.content must be an array")?;
                for part in parts {
                    if !matches!(
                        part.get("type").and_then(Value::as_str),
                        Some("reasoning_text" | "text")
                    ) {
                        return Err(format!("bad reasoning content part {part}"));
                    }
                }
            }
        }
        "function_call" => {
            string("name")?;
            string("arguments")?;
            string("call_id")?;
            if done {
                let arguments = item
                    .get("arguments")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                // Codex parses the arguments itself and answers the model with its own error
                // when they are not JSON (core `parse_arguments`: "failed to parse function
                // arguments"), so plain wrong arguments are allowed. Arguments cut in the
                // middle never are: a tool must not run with half of them.
                if crate::answer::arguments_cut_short(arguments) {
                    return Err(format!(
                        "function_call.arguments end in the middle of their JSON: {arguments}"
                    ));
                }
            }
        }
        "custom_tool_call" => {
            string("call_id")?;
            string("name")?;
            string("input")?;
        }
        "local_shell_call" => {
            string("status")?;
            let action = item
                .get("action")
                .ok_or("local_shell_call.action missing")?;
            if action.get("type").and_then(Value::as_str) != Some("exec")
                || !action.get("command").is_some_and(Value::is_array)
            {
                return Err("local_shell_call.action must be {type: exec, command: [...]}".into());
            }
        }
        other => return Err(format!("unexpected item type {other}")),
    }
    Ok(kind.to_string())
}
