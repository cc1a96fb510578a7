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
//! | `tool_call_without_name` | a recorded call with no name (backends refuse `""`, proxies loop on it) | named `unnamed_tool` |
//! | `tool_call_without_id` | a recorded call with no call id | a fresh id (its output, if it has no id either, still pairs with it) |
//! | `duplicate_call_id` | one id on two calls of one message | a fresh id for the second call and its output |
//! | `interrupted_answer` | a message live mode ended as interrupted (`live::INTERRUPTED_NOTE`; the retried answer follows it) | not sent (in `request.rs`) |
//!
//! The result always passes [`check_order`]: each `tool_calls` message is followed by
//! exactly its tool messages (real or stand-in) before anything else; outputs of calls
//! that are not there come after them as user text.
//!
//! Every repair is counted by kind in the request summary, so telemetry shows it.

use crate::options::ReasoningHistory;
use serde_json::Value;
use serde_json::json;
use std::collections::BTreeMap;
use std::collections::HashMap;
use std::collections::HashSet;
use std::collections::VecDeque;

pub const UNANSWERED_TOOL_CALL: &str = "unanswered_tool_call";
pub const ORPHAN_TOOL_OUTPUT: &str = "orphan_tool_output";
pub const CONSECUTIVE_ASSISTANT: &str = "consecutive_assistant";
pub const LATE_SYSTEM: &str = "late_system";
pub const DUPLICATE_CALL_ID: &str = "duplicate_call_id";
/// Counted by the request translation, which drops the message.
pub const INTERRUPTED_ANSWER: &str = "interrupted_answer";
pub const TOOL_CALL_WITHOUT_ID: &str = "tool_call_without_id";
pub const TOOL_CALL_WITHOUT_NAME: &str = "tool_call_without_name";

/// Name given to a recorded call that has none (backends refuse `""`).
pub const UNNAMED_TOOL: &str = "unnamed_tool";

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

/// Repairs `messages` in place; returns what was repaired. Linear in the number of
/// messages and calls, whatever order the outputs come in.
pub fn repair(messages: &mut Vec<Value>) -> Repairs {
    let mut repairs = Repairs::new();
    let input = std::mem::take(messages);
    let mut out: Vec<Value> = Vec::with_capacity(input.len());
    let mut started = false;
    // The calls of the last assistant message, until a message other than a tool message.
    let mut block = Block::default();
    let mut fresh_ids = 0u64;
    for message in input {
        let role = role_of(&message).to_string();
        if role != "tool" {
            block.close(&mut out, &mut repairs);
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
                if let Some(assigned) = block.take(&id) {
                    let mut message = message;
                    message["tool_call_id"] = json!(assigned);
                    out.push(message);
                } else {
                    count(&mut repairs, ORPHAN_TOOL_OUTPUT);
                    let content = text_of(message.get("content"));
                    let text = if id.is_empty() {
                        format!("Output of a tool call:\n{content}")
                    } else {
                        format!("Output of tool call {id}:\n{content}")
                    };
                    // Never between a call and its output: after the block's stand-ins.
                    block.defer(json!({"role": "user", "content": text}), &mut out);
                }
            }
            "assistant" => {
                started = true;
                let mut message = message;
                let calls = fix_calls(&mut message, &mut repairs, &mut fresh_ids);
                let previous_is_assistant = out.last().is_some_and(|m| role_of(m) == "assistant");
                if previous_is_assistant && let Some(previous) = out.last_mut() {
                    // The previous one has no calls: its block would have closed with
                    // tool messages after it.
                    count(&mut repairs, CONSECUTIVE_ASSISTANT);
                    merge_assistant(previous, message);
                } else {
                    out.push(message);
                }
                block.open(calls);
            }
            _ => {
                started = true;
                out.push(message);
            }
        }
    }
    block.close(&mut out, &mut repairs);
    *messages = out;
    repairs
}

/// The calls of one assistant message while its tool messages are read.
#[derive(Default)]
struct Block {
    /// Ids as sent, in call order.
    calls: Vec<String>,
    /// Ids as sent still waiting for their output, by the id their output carries
    /// (different only for a repaired id).
    waiting: HashMap<String, VecDeque<String>>,
    /// Outputs of other calls, as user text, for after the block.
    deferred: Vec<Value>,
}

impl Block {
    fn open(&mut self, calls: Vec<(String, String)>) {
        for (original, sent) in calls {
            self.waiting
                .entry(original)
                .or_default()
                .push_back(sent.clone());
            self.calls.push(sent);
        }
    }

    /// The sent id of the next waiting call whose output carries `id`.
    fn take(&mut self, id: &str) -> Option<String> {
        self.waiting.get_mut(id).and_then(VecDeque::pop_front)
    }

    fn defer(&mut self, message: Value, out: &mut Vec<Value>) {
        if self.calls.is_empty() {
            out.push(message);
        } else {
            self.deferred.push(message);
        }
    }

    /// A stand-in output for every call still waiting, then the deferred outputs.
    fn close(&mut self, out: &mut Vec<Value>, repairs: &mut Repairs) {
        if self.calls.is_empty() {
            return;
        }
        let unanswered: HashSet<String> = self.waiting.drain().flat_map(|(_, ids)| ids).collect();
        for id in self.calls.drain(..) {
            if unanswered.contains(&id) {
                count(repairs, UNANSWERED_TOOL_CALL);
                out.push(json!({"role": "tool", "tool_call_id": id, "content": NO_RESULT}));
            }
        }
        out.append(&mut self.deferred);
    }
}

/// Gives every call of an assistant message a name and an id of its own (backends refuse
/// `""` and ids twice in one message); returns (id its output carries, id sent) per call.
fn fix_calls(message: &mut Value, repairs: &mut Repairs, fresh: &mut u64) -> Vec<(String, String)> {
    let Some(calls) = message.get_mut("tool_calls").and_then(Value::as_array_mut) else {
        return Vec::new();
    };
    let mut used: HashSet<String> = calls
        .iter()
        .filter_map(|call| call.get("id").and_then(Value::as_str).map(str::to_string))
        .collect();
    let mut seen = HashSet::with_capacity(calls.len());
    let mut ids = Vec::with_capacity(calls.len());
    for call in calls.iter_mut() {
        if !call.is_object() {
            *call = json!({"type": "function", "function": {}});
        }
        let original = call
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let sent = if original.is_empty() {
            count(repairs, TOOL_CALL_WITHOUT_ID);
            unused_id("call_repaired", &mut used, fresh)
        } else if !seen.insert(original.clone()) {
            count(repairs, DUPLICATE_CALL_ID);
            unused_id(&original, &mut used, fresh)
        } else {
            original.clone()
        };
        call["id"] = json!(sent);
        let named = call
            .pointer("/function/name")
            .and_then(Value::as_str)
            .is_some_and(|name| !name.trim().is_empty());
        if !named {
            count(repairs, TOOL_CALL_WITHOUT_NAME);
            if !call.get("function").is_some_and(Value::is_object) {
                call["function"] = json!({"arguments": "{}"});
            }
            call["function"]["name"] = json!(UNNAMED_TOOL);
        }
        ids.push((original, sent));
    }
    ids
}

fn unused_id(base: &str, used: &mut HashSet<String>, fresh: &mut u64) -> String {
    loop {
        *fresh += 1;
        let id = format!("{base}_{fresh}");
        if used.insert(id.clone()) {
            return id;
        }
    }
}

/// The order every chat backend accepts, checked on a finished message list: each
/// assistant message with `tool_calls` is followed by exactly one tool message per call
/// (ids non-empty, distinct within the message) before anything else, no tool message
/// stands anywhere else, and every call has a non-empty name. Returns the first violation.
pub fn check_order(messages: &[Value]) -> Result<(), String> {
    let mut index = 0;
    while index < messages.len() {
        let message = &messages[index];
        match role_of(message) {
            "tool" => {
                return Err(format!(
                    "message {index}: a tool message not right after its call"
                ));
            }
            "assistant" => {
                let calls = message
                    .get("tool_calls")
                    .and_then(Value::as_array)
                    .map(Vec::as_slice)
                    .unwrap_or_default();
                let mut waiting = HashSet::with_capacity(calls.len());
                for call in calls {
                    let id = call.get("id").and_then(Value::as_str).unwrap_or_default();
                    let name = call
                        .pointer("/function/name")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    if id.is_empty() || name.trim().is_empty() {
                        return Err(format!(
                            "message {index}: a tool call with id {id:?} and name {name:?}"
                        ));
                    }
                    if !waiting.insert(id) {
                        return Err(format!(
                            "message {index}: call id {id:?} twice in one message"
                        ));
                    }
                }
                for _ in 0..calls.len() {
                    index += 1;
                    let next = messages.get(index);
                    let id = next
                        .filter(|m| role_of(m) == "tool")
                        .and_then(|m| m.get("tool_call_id"))
                        .and_then(Value::as_str);
                    match id {
                        Some(id) if waiting.remove(id) => {}
                        _ => {
                            let found = next
                                .map(|m| {
                                    format!("role {:?} {:?}", role_of(m), m.get("tool_call_id"))
                                })
                                .unwrap_or_else(|| "the end".to_string());
                            return Err(format!(
                                "message {index}: expected the tool message of one of {waiting:?}, found {found}"
                            ));
                        }
                    }
                }
            }
            _ => {}
        }
        index += 1;
    }
    Ok(())
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

    /// Upstream #7051's class: nothing may stand between a `tool_calls` message and its
    /// tool messages, stand-ins included; outputs of other calls come after them.
    #[test]
    fn an_orphan_output_after_an_unanswered_call_comes_after_the_stand_in() {
        let (messages, repairs) = repaired(vec![
            json!({"role": "user", "content": "u"}),
            json!({"role": "assistant", "content": null, "tool_calls": [call("a")]}),
            json!({"role": "tool", "tool_call_id": "b", "content": "B"}),
            json!({"role": "user", "content": "next"}),
        ]);
        assert_eq!(check_order(&messages), Ok(()));
        assert_eq!(
            messages[1..],
            [
                json!({"role": "assistant", "content": null, "tool_calls": [call("a")]}),
                json!({"role": "tool", "tool_call_id": "a", "content": NO_RESULT}),
                json!({"role": "user", "content": "Output of tool call b:\nB"}),
                json!({"role": "user", "content": "next"}),
            ]
        );
        assert_eq!(
            repairs,
            [
                (ORPHAN_TOOL_OUTPUT.to_string(), 1),
                (UNANSWERED_TOOL_CALL.to_string(), 1)
            ]
        );
    }

    /// A call id twice in one message: each call gets its own id and its own output.
    #[test]
    fn a_call_id_twice_in_one_message_is_made_distinct() {
        let (messages, repairs) = repaired(vec![
            json!({"role": "user", "content": "u"}),
            json!({"role": "assistant", "content": null, "tool_calls": [call("a"), call("a")]}),
            json!({"role": "tool", "tool_call_id": "a", "content": "A1"}),
            json!({"role": "tool", "tool_call_id": "a", "content": "A2"}),
        ]);
        assert_eq!(check_order(&messages), Ok(()));
        let ids: Vec<&str> = messages[1]["tool_calls"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| c["id"].as_str().unwrap_or_default())
            .collect();
        assert_eq!(ids.len(), 2);
        assert_eq!(ids[0], "a");
        assert_ne!(ids[1], "a");
        assert_eq!(messages[2]["tool_call_id"], ids[0]);
        assert_eq!(messages[2]["content"], "A1");
        assert_eq!(messages[3]["tool_call_id"], ids[1]);
        assert_eq!(messages[3]["content"], "A2");
        assert_eq!(repairs, [(DUPLICATE_CALL_ID.to_string(), 1)]);
    }

    /// Backends refuse an empty function name (and proxies loop on it): a call without a
    /// name or id gets valid ones, counted.
    #[test]
    fn a_call_without_name_or_id_gets_valid_ones() {
        let (messages, repairs) = repaired(vec![
            json!({"role": "user", "content": "u"}),
            json!({"role": "assistant", "content": null, "tool_calls": [
                {"id": "a", "type": "function", "function": {"name": "", "arguments": "{}"}},
                {"id": "", "type": "function", "function": {"name": "shell", "arguments": "{}"}},
                {"type": "function", "function": {"arguments": "{}"}},
            ]}),
            json!({"role": "tool", "tool_call_id": "a", "content": "A"}),
        ]);
        assert_eq!(check_order(&messages), Ok(()));
        let calls = messages[1]["tool_calls"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(calls.len(), 3);
        assert_eq!(calls[0]["function"]["name"], UNNAMED_TOOL);
        assert_eq!(calls[0]["id"], "a");
        assert_eq!(calls[1]["function"]["name"], "shell");
        assert_eq!(calls[2]["function"]["name"], UNNAMED_TOOL);
        assert_eq!(messages[2]["content"], "A");
        assert_eq!(
            repairs,
            [
                (TOOL_CALL_WITHOUT_ID.to_string(), 2),
                (TOOL_CALL_WITHOUT_NAME.to_string(), 2),
                (UNANSWERED_TOOL_CALL.to_string(), 2),
            ]
        );
    }

    #[test]
    fn the_order_check_names_what_is_wrong() {
        let ok = vec![
            json!({"role": "user", "content": "u"}),
            json!({"role": "assistant", "content": null, "tool_calls": [call("a"), call("b")]}),
            json!({"role": "tool", "tool_call_id": "b", "content": "B"}),
            json!({"role": "tool", "tool_call_id": "a", "content": "A"}),
        ];
        assert_eq!(check_order(&ok), Ok(()));
        let mut between = ok.clone();
        between.insert(2, json!({"role": "user", "content": "x"}));
        assert!(check_order(&between).is_err_and(|e| e.contains("role \"user\"")));
        let mut stray = ok.clone();
        stray.push(json!({"role": "tool", "tool_call_id": "a", "content": "A"}));
        assert!(check_order(&stray).is_err_and(|e| e.contains("not right after")));
        let mut short = ok;
        short.pop();
        assert!(check_order(&short).is_err_and(|e| e.contains("the end")));
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
