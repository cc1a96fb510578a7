//! Repairs a translated chat history that backends would refuse. Pure.
//!
//! Codex's history can hold what the Responses API accepts but Chat Completions backends
//! reject with HTTP 400 (upstream openai/codex#7051: "An assistant message with
//! 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'"):
//!
//! | kind | what | repair |
//! | --- | --- | --- |
//! | `unanswered_tool_call` | a tool call without its output (interrupted turn, compacted history) | a tool message saying no result was recorded, right after the call |
//! | `orphan_tool_output` | a tool output whose call is not in the assistant message before it | kept as user text naming the call id |
//! | `consecutive_assistant` | two assistant messages in a row | merged into one |
//! | `late_system` | a system message after the conversation started | sent as a user message (many chat templates accept system only first) |
//!
//! Every repair is counted by kind in the request summary, so telemetry shows it.

use crate::options::ReasoningHistory;
use serde_json::Value;
use serde_json::json;
use std::collections::BTreeMap;
use std::collections::HashSet;

pub const UNANSWERED_TOOL_CALL: &str = "unanswered_tool_call";
pub const ORPHAN_TOOL_OUTPUT: &str = "orphan_tool_output";
pub const CONSECUTIVE_ASSISTANT: &str = "consecutive_assistant";
pub const LATE_SYSTEM: &str = "late_system";

/// Content of the tool message that stands in for a missing output.
pub const NO_RESULT: &str = "(no result was recorded for this call: the turn was interrupted or the output was dropped from the history)";

/// Repairs counted by kind.
pub type Repairs = BTreeMap<String, u64>;

/// Removes the reasoning of earlier turns that `scope` does not keep (see
/// [`ReasoningHistory`]); returns how many assistant messages lost theirs.
pub fn scope_reasoning(messages: &mut [Value], scope: ReasoningHistory) -> u64 {
    if scope == ReasoningHistory::All {
        return 0;
    }
    // Turn number of each message (a user message starts a new turn), and which turns
    // called tools.
    let mut turn = 0usize;
    let mut turns = Vec::with_capacity(messages.len());
    let mut tool_turns = HashSet::new();
    for message in messages.iter() {
        if role_of(message) == "user" {
            turn += 1;
        }
        if !call_ids(message).is_empty() {
            tool_turns.insert(turn);
        }
        turns.push(turn);
    }
    let current = turn;
    let mut stripped = 0;
    for (message, turn) in messages.iter_mut().zip(turns) {
        let keep = match scope {
            ReasoningHistory::All => true,
            ReasoningHistory::None => false,
            ReasoningHistory::CurrentTurn => turn == current,
            ReasoningHistory::ToolTurns => turn == current || tool_turns.contains(&turn),
        };
        if keep || role_of(message) != "assistant" {
            continue;
        }
        if let Some(object) = message.as_object_mut() {
            let before = object.len();
            for key in ["reasoning_content", "reasoning", "reasoning_details"] {
                object.remove(key);
            }
            if object.len() < before {
                stripped += 1;
            }
        }
    }
    stripped
}

/// Repairs `messages` in place; returns what was repaired.
pub fn repair(messages: &mut Vec<Value>) -> Repairs {
    let mut repairs = Repairs::new();
    let input = std::mem::take(messages);
    let mut out: Vec<Value> = Vec::with_capacity(input.len());
    let mut started = false;
    // Calls of the last assistant message that still wait for their output.
    let mut open_calls: Vec<String> = Vec::new();
    let mut answered: HashSet<String> = HashSet::new();
    for message in input {
        let role = role_of(&message).to_string();
        if role != "tool" {
            close_calls(&mut out, &mut open_calls, &mut answered, &mut repairs);
        }
        match role.as_str() {
            "system" if started => {
                count(&mut repairs, LATE_SYSTEM);
                let mut message = message;
                message["role"] = json!("user");
                out.push(message);
            }
            "system" => out.push(message),
            "tool" => {
                let id = message
                    .get("tool_call_id")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                if open_calls.contains(&id) && answered.insert(id.clone()) {
                    out.push(message);
                } else {
                    count(&mut repairs, ORPHAN_TOOL_OUTPUT);
                    let content = text_of(message.get("content"));
                    out.push(json!({
                        "role": "user",
                        "content": format!("Output of tool call {id}:\n{content}"),
                    }));
                }
            }
            "assistant" => {
                started = true;
                let previous_is_assistant = out.last().is_some_and(|m| role_of(m) == "assistant");
                if previous_is_assistant && let Some(previous) = out.last_mut() {
                    count(&mut repairs, CONSECUTIVE_ASSISTANT);
                    merge_assistant(previous, message);
                } else {
                    out.push(message);
                }
                open_calls = out.last().map(call_ids).unwrap_or_default();
                answered.clear();
            }
            _ => {
                started = true;
                out.push(message);
            }
        }
    }
    close_calls(&mut out, &mut open_calls, &mut answered, &mut repairs);
    *messages = out;
    repairs
}

/// Answers every call of the last assistant message that has no output yet.
fn close_calls(
    out: &mut Vec<Value>,
    open_calls: &mut Vec<String>,
    answered: &mut HashSet<String>,
    repairs: &mut Repairs,
) {
    for id in open_calls.drain(..) {
        if !answered.contains(&id) {
            count(repairs, UNANSWERED_TOOL_CALL);
            out.push(json!({"role": "tool", "tool_call_id": id, "content": NO_RESULT}));
        }
    }
    answered.clear();
}

fn count(repairs: &mut Repairs, kind: &str) {
    *repairs.entry(kind.to_string()).or_default() += 1;
}

fn role_of(message: &Value) -> &str {
    message.get("role").and_then(Value::as_str).unwrap_or("")
}

fn call_ids(message: &Value) -> Vec<String> {
    message
        .get("tool_calls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|call| call.get("id").and_then(Value::as_str).map(str::to_string))
        .collect()
}

fn text_of(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|part| part.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// Folds `next` into `into`: texts and reasoning joined, tool calls appended.
fn merge_assistant(into: &mut Value, next: Value) {
    let Value::Object(next) = next else {
        return;
    };
    let Some(into) = into.as_object_mut() else {
        return;
    };
    for key in ["content", "reasoning_content", "reasoning"] {
        let joined = [text_of(into.get(key)), text_of(next.get(key))]
            .into_iter()
            .filter(|text| !text.is_empty())
            .collect::<Vec<_>>()
            .join("\n\n");
        if !joined.is_empty() {
            into.insert(key.to_string(), json!(joined));
        }
    }
    if let Some(Value::Array(calls)) = next.get("tool_calls") {
        let all = into
            .entry("tool_calls")
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Some(all) = all.as_array_mut() {
            all.extend(calls.iter().cloned());
        }
    }
    if let Some(Value::Array(details)) = next.get("reasoning_details") {
        let all = into
            .entry("reasoning_details")
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Some(all) = all.as_array_mut() {
            all.extend(details.iter().cloned());
        }
    }
    let has_calls = into
        .get("tool_calls")
        .and_then(Value::as_array)
        .is_some_and(|calls| !calls.is_empty());
    if has_calls && text_of(into.get("content")).is_empty() {
        into.insert("content".into(), Value::Null);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn call(id: &str) -> Value {
        json!({"id": id, "type": "function", "function": {"name": "shell", "arguments": "{}"}})
    }

    fn repaired(mut messages: Vec<Value>) -> (Vec<Value>, Vec<(String, u64)>) {
        let repairs = repair(&mut messages);
        (messages, repairs.into_iter().collect())
    }

    #[test]
    fn a_valid_history_is_left_alone() {
        let messages = vec![
            json!({"role": "system", "content": "s"}),
            json!({"role": "user", "content": "u"}),
            json!({"role": "assistant", "content": null, "tool_calls": [call("a"), call("b")]}),
            json!({"role": "tool", "tool_call_id": "b", "content": "B"}),
            json!({"role": "tool", "tool_call_id": "a", "content": "A"}),
            json!({"role": "assistant", "content": "done"}),
        ];
        assert_eq!(repaired(messages.clone()), (messages, vec![]));
    }

    #[test]
    fn a_call_without_output_gets_a_stand_in_result() {
        let (messages, repairs) = repaired(vec![
            json!({"role": "user", "content": "u"}),
            json!({"role": "assistant", "content": null, "tool_calls": [call("a"), call("b")]}),
            json!({"role": "tool", "tool_call_id": "a", "content": "A"}),
            json!({"role": "user", "content": "next"}),
        ]);
        assert_eq!(
            messages[2..],
            [
                json!({"role": "tool", "tool_call_id": "a", "content": "A"}),
                json!({"role": "tool", "tool_call_id": "b", "content": NO_RESULT}),
                json!({"role": "user", "content": "next"}),
            ]
        );
        assert_eq!(repairs, [(UNANSWERED_TOOL_CALL.to_string(), 1)]);
        // At the very end of the history too (an interrupted turn).
        let (messages, _) = repaired(vec![
            json!({"role": "user", "content": "u"}),
            json!({"role": "assistant", "content": null, "tool_calls": [call("a")]}),
        ]);
        assert_eq!(messages.len(), 3);
        assert_eq!(messages[2]["tool_call_id"], "a");
    }

    #[test]
    fn an_output_without_its_call_becomes_user_text() {
        let (messages, repairs) = repaired(vec![
            json!({"role": "user", "content": "u"}),
            json!({"role": "tool", "tool_call_id": "gone", "content": "old output"}),
            json!({"role": "assistant", "content": null, "tool_calls": [call("a")]}),
            json!({"role": "tool", "tool_call_id": "a", "content": "A"}),
            json!({"role": "tool", "tool_call_id": "a", "content": "A again"}),
        ]);
        assert_eq!(
            messages[1],
            json!({"role": "user", "content": "Output of tool call gone:\nold output"})
        );
        assert_eq!(
            messages[4],
            json!({"role": "user", "content": "Output of tool call a:\nA again"})
        );
        assert_eq!(repairs, [(ORPHAN_TOOL_OUTPUT.to_string(), 2)]);
    }

    #[test]
    fn two_assistant_messages_in_a_row_are_merged() {
        let (messages, repairs) = repaired(vec![
            json!({"role": "user", "content": "u"}),
            json!({"role": "assistant", "content": "first", "reasoning_content": "r1"}),
            json!({"role": "assistant", "content": "second", "tool_calls": [call("a")]}),
            json!({"role": "tool", "tool_call_id": "a", "content": "A"}),
        ]);
        assert_eq!(
            messages,
            vec![
                json!({"role": "user", "content": "u"}),
                json!({"role": "assistant", "content": "first\n\nsecond", "reasoning_content": "r1", "tool_calls": [call("a")]}),
                json!({"role": "tool", "tool_call_id": "a", "content": "A"}),
            ]
        );
        assert_eq!(repairs, [(CONSECUTIVE_ASSISTANT.to_string(), 1)]);
    }

    #[test]
    fn reasoning_is_sent_back_for_the_turns_the_scope_keeps() {
        let history = vec![
            json!({"role": "user", "content": "turn 1: chat"}),
            json!({"role": "assistant", "content": "hi", "reasoning_content": "r1"}),
            json!({"role": "user", "content": "turn 2: tools"}),
            json!({"role": "assistant", "content": null, "reasoning_content": "r2", "tool_calls": [call("a")]}),
            json!({"role": "tool", "tool_call_id": "a", "content": "A"}),
            json!({"role": "assistant", "content": "done", "reasoning_content": "r2b"}),
            json!({"role": "user", "content": "turn 3: in progress"}),
            json!({"role": "assistant", "content": null, "reasoning_content": "r3", "reasoning_details": [{"type": "reasoning.text", "text": "r3"}], "tool_calls": [call("b")]}),
            json!({"role": "tool", "tool_call_id": "b", "content": "B"}),
        ];
        let kept = |scope| {
            let mut messages = history.clone();
            let stripped = scope_reasoning(&mut messages, scope);
            let kept: Vec<&str> = messages
                .iter()
                .filter_map(|m| m.get("reasoning_content").and_then(Value::as_str))
                .map(|s| match s {
                    "r1" => "r1",
                    "r2" => "r2",
                    "r2b" => "r2b",
                    _ => "r3",
                })
                .collect();
            (kept, stripped)
        };
        assert_eq!(
            kept(ReasoningHistory::ToolTurns),
            (vec!["r2", "r2b", "r3"], 1)
        );
        assert_eq!(kept(ReasoningHistory::CurrentTurn), (vec!["r3"], 3));
        assert_eq!(
            kept(ReasoningHistory::All),
            (vec!["r1", "r2", "r2b", "r3"], 0)
        );
        assert_eq!(kept(ReasoningHistory::None), (Vec::<&str>::new(), 4));
        let mut none = history.clone();
        scope_reasoning(&mut none, ReasoningHistory::None);
        assert!(none[7].get("reasoning_details").is_none());
    }

    #[test]
    fn a_system_message_after_the_start_is_sent_as_user() {
        let (messages, repairs) = repaired(vec![
            json!({"role": "system", "content": "first"}),
            json!({"role": "system", "content": "still the start"}),
            json!({"role": "user", "content": "u"}),
            json!({"role": "system", "content": "later"}),
        ]);
        assert_eq!(messages[1]["role"], "system");
        assert_eq!(messages[3], json!({"role": "user", "content": "later"}));
        assert_eq!(repairs, [(LATE_SYSTEM.to_string(), 1)]);
    }
}
