//! The loop guard: a model that repeats one tool call with the same arguments and gets
//! the same failure burns tokens until the user notices. The bridge sees it in the
//! history of each request: the calls of the current turn (items after the last user
//! message) and their outputs.
//!
//! - The last calls are the same call (name + arguments, JSON key order and whitespace
//!   ignored) with the same failing result `fail_note_after` times in a row (default 3):
//!   the next request carries a note ([`Verdict::Note`]) telling the model so.
//! - It repeats anyway up to `fail_stop_after` (default `fail_note_after + 2`): the turn
//!   ends with a message naming the call and the count ([`Verdict::Stop`]).
//! - The same successful call `success_note_after` times in a row (default 5, e.g.
//!   re-reading one file): the note, never a stop.
//!
//! A failing result, from the shapes Codex sends back (codex-rs at rust-v0.148.0):
//! `Exit code: N` first line of a shell output (core/src/tools/mod.rs
//! `format_exec_output_for_model`), `Process exited with code N` of unified exec
//! (core/src/tools/context.rs), a JSON output whose `exit_code` / `metadata.exit_code` is
//! non-zero or whose `success` is `false` / `isError` is `true`, and the error texts tool
//! handlers return to the model: `apply_patch verification failed`, `Invalid patch`,
//! `patch rejected`, `failed to parse function arguments`, `unsupported call`,
//! `execution error:`, `exec command rejected` (by the user: repeating it is a loop too).

use serde_json::Map;
use serde_json::Value;
use serde_json::json;

/// How many repeats note and stop (`[guards] loop_fail_note_after`,
/// `loop_fail_stop_after`, `loop_success_note_after`; 0 turns that rule off).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoopPolicy {
    pub fail_note_after: u32,
    pub fail_stop_after: u32,
    pub success_note_after: u32,
}

impl Default for LoopPolicy {
    fn default() -> Self {
        Self {
            fail_note_after: 3,
            fail_stop_after: 5,
            success_note_after: 5,
        }
    }
}

/// The repeated call the verdict is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepeatedCall {
    pub name: String,
    /// Normalised arguments (sorted keys, no whitespace), shortened for messages.
    pub arguments: String,
    /// Times in a row, the last call included.
    pub count: u32,
    /// `Some` for a failing streak: the first line of the failure, shortened.
    pub failure: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Clear,
    /// Send the request with [`with_note`]`(body, &text)`.
    Note {
        text: String,
        call: RepeatedCall,
    },
    /// Do not call the backend: end the turn with `message` as the assistant's answer.
    Stop {
        message: String,
        call: RepeatedCall,
    },
}

/// Items of the current turn: everything after the last user message.
pub fn current_turn(input: &[Value]) -> &[Value] {
    let start = input
        .iter()
        .rposition(|item| {
            item.get("role").and_then(Value::as_str) == Some("user")
                && item
                    .get("type")
                    .and_then(Value::as_str)
                    .is_none_or(|t| t == "message")
        })
        .map_or(0, |i| i + 1);
    &input[start..]
}

/// Looks at the calls that end the current turn's history.
pub fn check(policy: &LoopPolicy, input: &[Value]) -> Verdict {
    let calls = answered_calls(current_turn(input));
    let Some(last) = calls.last() else {
        return Verdict::Clear;
    };
    let count = calls
        .iter()
        .rev()
        .take_while(|call| call.key == last.key && call.outcome == last.outcome)
        .count() as u32;
    let repeated = RepeatedCall {
        name: last.name.clone(),
        arguments: shorten(&last.arguments, 200),
        count,
        failure: match &last.outcome {
            Outcome::Failed(text) => Some(first_line(text)),
            Outcome::Succeeded => None,
        },
    };
    let call_text = describe_call(&repeated);
    match &repeated.failure {
        Some(failure) => {
            if policy.fail_stop_after > 0 && count >= policy.fail_stop_after {
                Verdict::Stop {
                    message: format!(
                        "Stopped by the loop guard: {call_text} failed {count} times in a row with the same result ({failure}). Tell the model what to do differently and send your next message; `[guards] loop_fail_stop_after` in litellm.toml sets this limit."
                    ),
                    call: repeated,
                }
            } else if policy.fail_note_after > 0 && count >= policy.fail_note_after {
                Verdict::Note {
                    text: format!(
                        "Note from codex-litellm: {call_text} has failed {count} times in a row with the same result ({failure}). Repeating it will fail again. Change your approach: read the error, try a different command or arguments, or tell the user what is blocking you."
                    ),
                    call: repeated,
                }
            } else {
                Verdict::Clear
            }
        }
        None => {
            if policy.success_note_after > 0 && count >= policy.success_note_after {
                Verdict::Note {
                    text: format!(
                        "Note from codex-litellm: you have made {call_text} {count} times in a row with the same arguments; its result is already in the conversation above. Use it and move on to the next step instead of repeating the call."
                    ),
                    call: repeated,
                }
            } else {
                Verdict::Clear
            }
        }
    }
}

/// `body` with `note` appended to `input` as a user message.
pub fn with_note(body: &Value, note: &str) -> Value {
    let mut body = body.clone();
    if let Some(object) = body.as_object_mut() {
        let mut input = match object.remove("input") {
            Some(Value::Array(items)) => items,
            Some(Value::String(text)) => {
                vec![json!({"type": "message", "role": "user", "content": text})]
            }
            _ => Vec::new(),
        };
        input.push(json!({
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": note}],
        }));
        object.insert("input".into(), Value::Array(input));
    }
    body
}

#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// The normalised failure text (timings removed), so "the same failure" compares.
    Failed(String),
    Succeeded,
}

#[derive(Debug)]
struct Call {
    key: String,
    name: String,
    arguments: String,
    outcome: Outcome,
}

/// Calls in order with their outputs; a call without an output yet ends the list (it
/// was not answered, so nothing after it can be "in a row" with it).
fn answered_calls(turn: &[Value]) -> Vec<Call> {
    let mut outputs: std::collections::HashMap<&str, &Value> = std::collections::HashMap::new();
    for item in turn {
        if matches!(
            item.get("type").and_then(Value::as_str),
            Some("function_call_output" | "custom_tool_call_output")
        ) && let Some(id) = item.get("call_id").and_then(Value::as_str)
        {
            outputs.insert(id, item.get("output").unwrap_or(&Value::Null));
        }
    }
    let mut calls = Vec::new();
    for item in turn {
        let Some((name, arguments)) = call_of(item) else {
            continue;
        };
        let id = item
            .get("call_id")
            .or_else(|| item.get("id"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        let Some(output) = outputs.get(id) else {
            calls.clear();
            continue;
        };
        let text = output_text(output);
        let outcome = if is_failure(output, &text) {
            Outcome::Failed(normalise_output(&text))
        } else {
            Outcome::Succeeded
        };
        calls.push(Call {
            key: format!("{name}\u{0}{arguments}"),
            name,
            arguments,
            outcome,
        });
    }
    calls
}

/// Name and normalised arguments of a call item.
fn call_of(item: &Value) -> Option<(String, String)> {
    let kind = item.get("type").and_then(Value::as_str)?;
    let name = item.get("name").and_then(Value::as_str).unwrap_or_default();
    let qualified = match item.get("namespace").and_then(Value::as_str) {
        Some(namespace) if !namespace.is_empty() => format!("{namespace}.{name}"),
        _ => name.to_string(),
    };
    match kind {
        "function_call" => Some((
            qualified,
            normalise_arguments(item.get("arguments").and_then(Value::as_str).unwrap_or("")),
        )),
        "custom_tool_call" => Some((
            qualified,
            item.get("input")
                .and_then(Value::as_str)
                .unwrap_or("")
                .trim()
                .to_string(),
        )),
        "local_shell_call" => Some((
            "local_shell".to_string(),
            canonical(item.get("action").unwrap_or(&Value::Null)),
        )),
        _ => None,
    }
}

/// JSON arguments with sorted keys and no whitespace; other text trimmed.
pub fn normalise_arguments(arguments: &str) -> String {
    match serde_json::from_str::<Value>(arguments) {
        Ok(value) => canonical(&value),
        Err(_) => arguments.trim().to_string(),
    }
}

fn canonical(value: &Value) -> String {
    fn sorted(value: &Value) -> Value {
        match value {
            Value::Object(object) => {
                let mut keys: Vec<&String> = object.keys().collect();
                keys.sort();
                let mut out = Map::new();
                for key in keys {
                    out.insert(key.clone(), sorted(&object[key]));
                }
                Value::Object(out)
            }
            Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    // Keys are inserted in sorted order, so the text is sorted whether or not
    // serde_json keeps insertion order in this build.
    sorted(value).to_string()
}

/// The text of an output: a string, content items' texts, or the JSON itself.
fn output_text(output: &Value) -> String {
    match output {
        Value::String(text) => text.clone(),
        Value::Array(items) => items
            .iter()
            .filter_map(|item| item.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

const FAILURE_PREFIXES: &[&str] = &[
    "apply_patch verification failed",
    "invalid patch",
    "patch rejected",
    "failed to parse function arguments",
    "failed to parse apply_patch",
    "apply_patch handler received invalid patch input",
    "unsupported call",
    "execution error:",
    "exec command rejected",
];

fn is_failure(output: &Value, text: &str) -> bool {
    let trimmed = text.trim_start();
    if let Some(code) = trimmed
        .lines()
        .next()
        .and_then(|line| line.strip_prefix("Exit code:"))
        .and_then(|code| code.trim().parse::<i64>().ok())
    {
        return code != 0;
    }
    // Unified exec: a header of `Key: value` lines before `Output:`.
    for line in trimmed
        .lines()
        .take_while(|line| *line != "Output:")
        .take(8)
    {
        if let Some(code) = line
            .strip_prefix("Process exited with code ")
            .and_then(|code| code.trim().parse::<i64>().ok())
        {
            return code != 0;
        }
    }
    let lower = trimmed.to_ascii_lowercase();
    if FAILURE_PREFIXES.iter().any(|p| lower.starts_with(p)) {
        return true;
    }
    let parsed;
    let json = match output {
        Value::String(text) => match serde_json::from_str::<Value>(text) {
            Ok(value) => {
                parsed = value;
                &parsed
            }
            Err(_) => return false,
        },
        other => other,
    };
    json_says_failed(json)
}

fn json_says_failed(value: &Value) -> bool {
    let Some(object) = value.as_object() else {
        return false;
    };
    let nonzero = |v: Option<&Value>| v.and_then(Value::as_i64).is_some_and(|c| c != 0);
    nonzero(object.get("exit_code"))
        || nonzero(object.get("metadata").and_then(|m| m.get("exit_code")))
        || object.get("success").and_then(Value::as_bool) == Some(false)
        || object.get("isError").and_then(Value::as_bool) == Some(true)
        || object.get("is_error").and_then(Value::as_bool) == Some(true)
}

/// Output without what changes between identical runs: timing lines and decimal numbers
/// ("finished in 0.52s"), chunk ids, surrounding whitespace.
fn normalise_output(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let line = line.trim_end();
        if [
            "Wall time:",
            "Chunk ID:",
            "Duration:",
            "Original token count:",
        ]
        .iter()
        .any(|p| line.starts_with(p))
        {
            continue;
        }
        out.push_str(&mask_decimals(line));
        out.push('\n');
    }
    out.trim().to_string()
}

fn mask_decimals(line: &str) -> String {
    let chars: Vec<char> = line.chars().collect();
    let mut out = String::with_capacity(line.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_digit() {
            let start = i;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            if i + 1 < chars.len() && chars[i] == '.' && chars[i + 1].is_ascii_digit() {
                i += 1;
                while i < chars.len() && chars[i].is_ascii_digit() {
                    i += 1;
                }
                out.push('#');
            } else {
                out.extend(&chars[start..i]);
            }
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// One line saying how the call failed: the exit line and the output's first line for a
/// shell output, else the first line.
fn first_line(text: &str) -> String {
    let mut lines = text.lines().map(str::trim).filter(|line| !line.is_empty());
    let first = lines.next().unwrap_or("no output");
    let exit = first.starts_with("Exit code:")
        || text
            .lines()
            .any(|l| l.starts_with("Process exited with code "));
    if exit {
        let code = text
            .lines()
            .find(|l| l.starts_with("Exit code:") || l.starts_with("Process exited with code "))
            .unwrap_or(first);
        let body = text
            .lines()
            .skip_while(|l| *l != "Output:")
            .skip(1)
            .map(str::trim)
            .find(|l| !l.is_empty());
        return match body {
            Some(body) => shorten(&format!("{code}: {body}"), 160),
            None => shorten(code, 160),
        };
    }
    shorten(first, 160)
}

fn describe_call(call: &RepeatedCall) -> String {
    if call.arguments.is_empty() || call.arguments == "{}" {
        format!("the call `{}`", call.name)
    } else {
        format!("the call `{}` with {}", call.name, call.arguments)
    }
}

fn shorten(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_string();
    }
    let head: String = text.chars().take(max_chars).collect();
    format!("{head}…")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn user(text: &str) -> Value {
        json!({"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]})
    }

    fn call(id: &str, name: &str, arguments: &str) -> Value {
        json!({"type": "function_call", "name": name, "arguments": arguments, "call_id": id})
    }

    fn output(id: &str, text: &str) -> Value {
        json!({"type": "function_call_output", "call_id": id, "output": text})
    }

    /// Codex's shell output for `cargo test` failing, timing varying per run.
    fn failing_shell(run: usize) -> String {
        format!(
            "Exit code: 101\nWall time: {}.{run} seconds\nOutput:\nerror[E0425]: cannot find value `x`\nerror: could not compile `demo` in 0.{run}3s",
            run % 3
        )
    }

    /// A turn with `n` identical failing `cargo test` calls (arguments written with
    /// varying key order and spacing).
    fn failing_turn(n: usize) -> Vec<Value> {
        let mut input = vec![user("fix the build")];
        for i in 0..n {
            let id = format!("c{i}");
            let arguments = if i % 2 == 0 {
                r#"{"command":["cargo","test"],"workdir":"/w"}"#
            } else {
                r#"{ "workdir": "/w",  "command": ["cargo", "test"] }"#
            };
            input.push(call(&id, "shell", arguments));
            input.push(output(&id, &failing_shell(i)));
        }
        input
    }

    fn reading_turn(n: usize) -> Vec<Value> {
        let mut input = vec![user("what does main do")];
        for i in 0..n {
            let id = format!("r{i}");
            input.push(call(&id, "shell", r#"{"command":["cat","src/main.rs"]}"#));
            input.push(output(
                &id,
                &format!("Exit code: 0\nWall time: 0.{i} seconds\nOutput:\nfn main() {{}}"),
            ));
        }
        input
    }

    #[test]
    fn two_failures_are_clear_three_note_four_note_five_stop() {
        let policy = LoopPolicy::default();
        assert_eq!(check(&policy, &failing_turn(2)), Verdict::Clear);
        for n in [3, 4] {
            match check(&policy, &failing_turn(n)) {
                Verdict::Note { text, call } => {
                    assert_eq!(call.count, n as u32);
                    assert_eq!(call.name, "shell");
                    assert!(
                        text.contains(&format!("failed {n} times in a row")),
                        "{text}"
                    );
                    assert!(text.contains("`shell`"), "{text}");
                    assert!(text.contains("Exit code: 101"), "{text}");
                }
                other => panic!("{n} failures: expected a note, got {other:?}"),
            }
        }
        match check(&policy, &failing_turn(5)) {
            Verdict::Stop { message, call } => {
                assert_eq!(call.count, 5);
                assert!(
                    message.starts_with("Stopped by the loop guard"),
                    "{message}"
                );
                assert!(message.contains("failed 5 times in a row"), "{message}");
                assert!(
                    message.contains(r#"{"command":["cargo","test"],"workdir":"/w"}"#),
                    "{message}"
                );
            }
            other => panic!("expected a stop, got {other:?}"),
        }
    }

    #[test]
    fn successful_repeats_note_at_five_and_never_stop() {
        let policy = LoopPolicy::default();
        assert_eq!(check(&policy, &reading_turn(4)), Verdict::Clear);
        for n in [5, 6, 12] {
            match check(&policy, &reading_turn(n)) {
                Verdict::Note { text, call } => {
                    assert_eq!(call.count, n as u32);
                    assert_eq!(call.failure, None);
                    assert!(text.contains(&format!("{n} times in a row")), "{text}");
                }
                other => panic!("{n} reads: expected a note, got {other:?}"),
            }
        }
    }

    #[test]
    fn a_different_call_or_a_different_failure_breaks_the_streak() {
        let policy = LoopPolicy::default();
        let mut input = failing_turn(2);
        input.push(call("x", "shell", r#"{"command":["cargo","build"]}"#));
        input.push(output("x", &failing_shell(9)));
        input.extend(failing_turn(2).into_iter().skip(1));
        assert_eq!(check(&policy, &input), Verdict::Clear);

        let mut input = failing_turn(2);
        input.push(call(
            "y",
            "shell",
            r#"{"command":["cargo","test"],"workdir":"/w"}"#,
        ));
        input.push(output(
            "y",
            "Exit code: 101\nWall time: 1 seconds\nOutput:\nerror[E0308]: mismatched types",
        ));
        assert_eq!(check(&policy, &input), Verdict::Clear);
    }

    #[test]
    fn only_the_current_turn_counts() {
        let mut input = failing_turn(4);
        input.push(user("try something else"));
        input.extend(failing_turn(1).into_iter().skip(1));
        assert_eq!(check(&LoopPolicy::default(), &input), Verdict::Clear);
    }

    #[test]
    fn a_rule_set_to_zero_is_off() {
        let off = LoopPolicy {
            fail_note_after: 0,
            fail_stop_after: 0,
            success_note_after: 0,
        };
        assert_eq!(check(&off, &failing_turn(9)), Verdict::Clear);
        assert_eq!(check(&off, &reading_turn(9)), Verdict::Clear);
    }

    #[test]
    fn failing_results_from_codex_output_shapes() {
        let fails = |output: Value| is_failure(&output, &output_text(&output));
        assert!(fails(json!(
            "Exit code: 1\nWall time: 0.2 seconds\nOutput:\nboom"
        )));
        assert!(!fails(json!(
            "Exit code: 0\nWall time: 0.2 seconds\nOutput:\nok"
        )));
        assert!(fails(json!(
            "Chunk ID: 3\nWall time: 0.1000 seconds\nProcess exited with code 2\nOutput:\nno such file"
        )));
        assert!(!fails(json!(
            "Chunk ID: 3\nWall time: 0.1000 seconds\nProcess exited with code 0\nOutput:\nok"
        )));
        // A running session has no exit code yet: not a failure.
        assert!(!fails(json!(
            "Wall time: 10.0 seconds\nProcess running with session ID 7\nOutput:\n"
        )));
        assert!(fails(json!(
            "apply_patch verification failed: Failed to find expected lines in src/a.rs"
        )));
        assert!(fails(json!(
            "Invalid patch: The last line of the patch must be '*** End Patch'"
        )));
        assert!(fails(json!(
            "failed to parse function arguments: missing field `command`"
        )));
        assert!(fails(json!(
            "execution error: Io(Os { code: 2, kind: NotFound })"
        )));
        assert!(fails(json!("exec command rejected by user")));
        assert!(fails(json!(
            r#"{"output":"boom","metadata":{"exit_code":1,"duration_seconds":0.5}}"#
        )));
        assert!(fails(json!({"success": false, "error": "not found"})));
        assert!(fails(
            json!([{"type": "input_text", "text": "Exit code: 127\nOutput:\nsh: foo: not found"}])
        ));
        // A file that merely mentions an exit code is read successfully.
        assert!(!fails(json!(
            "Exit code: 0\nOutput:\nExit code: 1 means failure"
        )));
        assert!(!fails(json!(
            "Success. Updated the following files:\nM src/a.rs"
        )));
    }

    #[test]
    fn arguments_are_compared_without_key_order_or_whitespace() {
        assert_eq!(
            normalise_arguments(r#"{ "b": 1, "a": {"d": [1, 2], "c": null} }"#),
            r#"{"a":{"c":null,"d":[1,2]},"b":1}"#
        );
        assert_eq!(normalise_arguments("  not json "), "not json");
    }

    #[test]
    fn custom_tool_calls_count_too() {
        let mut input = vec![user("patch it")];
        for i in 0..3 {
            let id = format!("p{i}");
            input.push(json!({"type": "custom_tool_call", "name": "apply_patch", "input": "*** Begin Patch\n*** Update File: a.rs\n@@\n-x\n+y\n*** End Patch\n", "call_id": id}));
            input.push(json!({"type": "custom_tool_call_output", "call_id": id, "output": "apply_patch verification failed: Failed to find expected lines in a.rs:\nx"}));
        }
        match check(&LoopPolicy::default(), &input) {
            Verdict::Note { call, .. } => {
                assert_eq!(call.name, "apply_patch");
                assert_eq!(call.count, 3);
            }
            other => panic!("expected a note, got {other:?}"),
        }
    }

    #[test]
    fn with_note_appends_one_user_message() {
        let body = json!({"model": "m", "input": [user("hi")]});
        let noted = with_note(&body, "stop repeating");
        let input = noted["input"].as_array().unwrap();
        assert_eq!(input.len(), 2);
        assert_eq!(input[1]["role"], "user");
        assert_eq!(input[1]["content"][0]["text"], "stop repeating");
        assert_eq!(noted["model"], "m");
    }
}
