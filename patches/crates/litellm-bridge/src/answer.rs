//! A Chat Completions answer, assembled from streamed chunks or from one JSON body. Pure.

use crate::json_shape::JsonShape;
use crate::shapes;
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;

/// Token counts in Responses terms.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Usage {
    pub input_tokens: u64,
    pub cached_input_tokens: u64,
    pub output_tokens: u64,
    pub reasoning_output_tokens: u64,
    pub total_tokens: u64,
}

impl Usage {
    /// An estimate for a backend that sent no usage (llama-cpp-python when streaming), so
    /// Codex can still tell when to compact: 4 bytes a token, rounded up, of the
    /// translated request's `messages` and `tools` (as JSON) for input, and of the answer's
    /// text, reasoning and tool calls (names and arguments) for output.
    pub fn estimate(request: &Value, answer: &ChatAnswer, calls: &[ToolCall]) -> Self {
        let json_bytes = |key: &str| request.get(key).map_or(0, crate::encoded::serialized_len);
        Self::estimate_from_bytes(json_bytes("messages") + json_bytes("tools"), answer, calls)
    }

    /// [`Usage::estimate`] from the serialized length of the request's `messages` and
    /// `tools` (`EncodedBody::prompt_bytes`).
    pub fn estimate_from_bytes(prompt_bytes: u64, answer: &ChatAnswer, calls: &[ToolCall]) -> Self {
        let input = prompt_bytes.div_ceil(4);
        let output_bytes = answer.text.len()
            + answer.reasoning.len()
            + calls
                .iter()
                .map(|call| call.name.len() + call.arguments.len())
                .sum::<usize>();
        let output = (output_bytes as u64).div_ceil(4);
        Self {
            input_tokens: input,
            cached_input_tokens: 0,
            output_tokens: output,
            reasoning_output_tokens: 0,
            total_tokens: input.saturating_add(output),
        }
    }

    pub fn from_chat(usage: &Value) -> Option<Self> {
        let object = usage.as_object()?;
        let number = |value: Option<&Value>| value.and_then(Value::as_u64);
        let input = number(object.get("prompt_tokens")).or(number(object.get("input_tokens")))?;
        let output = number(object.get("completion_tokens"))
            .or(number(object.get("output_tokens")))
            .unwrap_or(0);
        let cached = number(usage.pointer("/prompt_tokens_details/cached_tokens"))
            .or(number(object.get("prompt_cache_hit_tokens")))
            .or(number(object.get("cache_read_input_tokens")))
            .unwrap_or(0);
        let reasoning = number(usage.pointer("/completion_tokens_details/reasoning_tokens"))
            .or(number(object.get("reasoning_tokens")))
            .unwrap_or(0);
        // Backends can send any number: sums saturate instead of overflowing.
        let total = number(object.get("total_tokens")).unwrap_or(input.saturating_add(output));
        Some(Self {
            input_tokens: input,
            cached_input_tokens: cached,
            output_tokens: output,
            reasoning_output_tokens: reasoning,
            total_tokens: total,
        })
    }

    /// Sums two answers' usage (auto-continue makes several requests for one answer).
    pub fn plus(self, other: Self) -> Self {
        Self {
            input_tokens: self.input_tokens.saturating_add(other.input_tokens),
            cached_input_tokens: self
                .cached_input_tokens
                .saturating_add(other.cached_input_tokens),
            output_tokens: self.output_tokens.saturating_add(other.output_tokens),
            reasoning_output_tokens: self
                .reasoning_output_tokens
                .saturating_add(other.reasoning_output_tokens),
            total_tokens: self.total_tokens.saturating_add(other.total_tokens),
        }
    }
}

/// One tool call as the backend sent it, fragments joined.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ToolCall {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub name: String,
    pub arguments: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ChatAnswer {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    pub text: String,
    pub reasoning: String,
    /// Structured reasoning (OpenRouter/Anthropic `reasoning_details`), kept verbatim so it
    /// can be sent back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_details: Option<Value>,
    pub tool_calls: Vec<ToolCall>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finish_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refusal: Option<String>,
}

impl ChatAnswer {
    /// The backend said how the answer ended (any non-empty finish_reason).
    pub fn has_finish_reason(&self) -> bool {
        self.finish_reason.as_deref().is_some_and(|r| !r.is_empty())
    }

    pub fn is_empty(&self) -> bool {
        self.text.trim().is_empty()
            && self.reasoning.trim().is_empty()
            && self.tool_calls.is_empty()
            && self.refusal.is_none()
    }

    /// Parses a non-streamed completion body (`choices[].message`; several choices are
    /// parts of one answer, see [`ChunkAccumulator`]).
    pub fn from_completion(body: &Value) -> Self {
        let mut accumulator = ChunkAccumulator::default();
        accumulator.absorb_metadata(body);
        for (key, choice) in choices(body) {
            let target = accumulator.for_choice(key);
            if let Some(message) = choice.get("message") {
                target.absorb_message_part(message);
                if let Some(calls) = message.get("tool_calls").and_then(Value::as_array) {
                    for (position, call) in calls.iter().enumerate() {
                        // A non-object entry is no call; never index into it.
                        let Some(call) = call.as_object() else {
                            continue;
                        };
                        let mut fragment = call.clone();
                        fragment
                            .entry("index")
                            .or_insert_with(|| Value::from(position as u64));
                        target.absorb_tool_fragment(&Value::Object(fragment));
                    }
                }
            }
            target.absorb_finish(choice);
        }
        accumulator.finish()
    }
}

/// The choices of a chunk or body with their key: `index`, else the position.
fn choices(value: &Value) -> impl Iterator<Item = (u64, &Value)> {
    value
        .get("choices")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(position, choice)| {
            let key = choice
                .get("index")
                .and_then(Value::as_u64)
                .unwrap_or(position as u64);
            (key, choice)
        })
}

/// Appends `new` to `accumulated` unless it repeats it: a `message` snapshot inside a
/// stream chunk may carry everything so far, or only what is new.
fn merge_snapshot(accumulated: &mut String, new: &str) {
    if new.is_empty() || accumulated.ends_with(new) {
        return;
    }
    match new.strip_prefix(accumulated.as_str()) {
        Some(rest) if !accumulated.is_empty() => accumulated.push_str(rest),
        _ => accumulated.push_str(new),
    }
}

/// Folds streamed `chat.completion.chunk` objects into a [`ChatAnswer`].
///
/// Several `choices` are read as parts of ONE answer: the bridge never asks for `n > 1`, and
/// gateways that put the text and each tool call in choices of their own (GitHub Copilot's
/// Claude models, some proxies) mean one answer. The first choice seen is the answer; the
/// others add their text, reasoning and tool calls after it. A text or a tool call that
/// repeats one already taken is an alternative, not a second call, and is dropped: no tool
/// runs twice.
#[derive(Debug, Default)]
pub struct ChunkAccumulator {
    answer: ChatAnswer,
    chunks: usize,
    /// The key of the choice `answer` holds (the first one seen).
    main_choice: Option<u64>,
    others: std::collections::BTreeMap<u64, ChunkAccumulator>,
    /// Per tool call (same positions): whether its arguments are complete JSON yet, kept
    /// up to date fragment by fragment instead of re-parsing the growing text.
    argument_shapes: Vec<JsonShape>,
    /// Last call with a given `index`, first call with a given `id` (lookups stay O(1)
    /// however many calls an answer has).
    last_by_index: HashMap<u64, usize>,
    first_by_id: HashMap<String, usize>,
}

impl ChunkAccumulator {
    pub fn chunks(&self) -> usize {
        self.chunks
    }

    pub fn answer(&self) -> &ChatAnswer {
        &self.answer
    }

    pub fn push_chunk(&mut self, chunk: &Value) {
        self.chunks += 1;
        self.absorb_metadata(chunk);
        for (key, choice) in choices(chunk) {
            let target = self.for_choice(key);
            let delta = choice.get("delta");
            if let Some(delta) = delta {
                target.absorb_message_part(delta);
                if let Some(calls) = delta.get("tool_calls").and_then(Value::as_array) {
                    for call in calls {
                        target.absorb_tool_fragment(call);
                    }
                }
            }
            // A whole `message` inside a stream chunk (alone, or next to the delta carrying
            // what the delta lacks, e.g. the reasoning).
            if let Some(message) = choice.get("message") {
                if delta.is_none() {
                    target.absorb_message_part(message);
                } else {
                    target.absorb_message_snapshot(message);
                }
                if target.answer.tool_calls.is_empty()
                    && let Some(calls) = message.get("tool_calls").and_then(Value::as_array)
                {
                    for call in calls {
                        target.absorb_tool_fragment(call);
                    }
                }
            }
            target.absorb_finish(choice);
        }
    }

    /// The accumulator of one choice: this one for the first choice seen, a nested one for
    /// each other choice (merged in [`ChunkAccumulator::finish`]).
    fn for_choice(&mut self, key: u64) -> &mut ChunkAccumulator {
        let main = *self.main_choice.get_or_insert(key);
        if main == key {
            self
        } else {
            self.others.entry(key).or_default()
        }
    }

    /// Text and reasoning of a `message` next to a `delta`, without repeating what the
    /// deltas already brought.
    fn absorb_message_snapshot(&mut self, message: &Value) {
        let content = shapes::content_text(message.get("content"));
        merge_snapshot(&mut self.answer.text, &content.text);
        merge_snapshot(&mut self.answer.reasoning, &content.reasoning);
        let reasoning = message
            .get("reasoning_content")
            .and_then(shapes::reasoning_text)
            .or_else(|| message.get("reasoning").and_then(shapes::reasoning_text));
        if let Some(reasoning) = reasoning {
            merge_snapshot(&mut self.answer.reasoning, &reasoning);
        }
    }

    fn absorb_metadata(&mut self, value: &Value) {
        if self.answer.id.is_none()
            && let Some(id) = value
                .get("id")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
        {
            self.answer.id = Some(id.to_string());
        }
        if self.answer.model.is_none()
            && let Some(model) = value
                .get("model")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
        {
            self.answer.model = Some(model.to_string());
        }
        // Usage comes in a final chunk with `choices: []`, or on every chunk (cumulative):
        // the last one wins.
        if let Some(usage) = value.get("usage").and_then(Usage::from_chat) {
            self.answer.usage = Some(usage);
        }
    }

    fn absorb_message_part(&mut self, part: &Value) {
        let content = shapes::content_text(part.get("content"));
        self.answer.text.push_str(&content.text);
        // Some gateways send the same text as both `reasoning_content` and `reasoning`.
        let reasoning = part
            .get("reasoning_content")
            .and_then(shapes::reasoning_text)
            .or_else(|| part.get("reasoning").and_then(shapes::reasoning_text));
        let mut got_reasoning_text = false;
        if let Some(reasoning) = reasoning {
            self.answer.reasoning.push_str(&reasoning);
            got_reasoning_text = true;
        }
        if !content.reasoning.is_empty() {
            self.answer.reasoning.push_str(&content.reasoning);
            got_reasoning_text = true;
        }
        if let Some(details) = part.get("reasoning_details").and_then(Value::as_array) {
            for detail in details {
                if !got_reasoning_text
                    && let Some(text) = detail
                        .get("text")
                        .or_else(|| detail.get("summary"))
                        .and_then(Value::as_str)
                {
                    self.answer.reasoning.push_str(text);
                }
                match self
                    .answer
                    .reasoning_details
                    .as_mut()
                    .and_then(Value::as_array_mut)
                {
                    Some(all) => all.push(detail.clone()),
                    None => {
                        self.answer.reasoning_details = Some(Value::Array(vec![detail.clone()]))
                    }
                }
            }
        }
        if let Some(refusal) = part
            .get("refusal")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
        {
            self.answer
                .refusal
                .get_or_insert_with(String::new)
                .push_str(refusal);
        }
    }

    fn absorb_finish(&mut self, choice: &Value) {
        if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str)
            && !reason.is_empty()
        {
            self.answer.finish_reason = Some(reason.to_string());
        }
    }

    /// Joins one tool-call fragment: by `index`, else by `id`, else onto the last call.
    pub fn absorb_tool_fragment(&mut self, fragment: &Value) {
        let index = fragment.get("index").and_then(Value::as_u64);
        let id = fragment
            .get("id")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        let function = fragment.get("function");
        let name = function
            .and_then(|f| f.get("name"))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        let arguments = match function.and_then(|f| f.get("arguments")) {
            Some(Value::String(text)) => text.clone(),
            Some(Value::Null) | None => String::new(),
            // Some servers send parsed arguments.
            Some(other) => other.to_string(),
        };
        let calls = &mut self.answer.tool_calls;

        let position = match (index, &id) {
            (Some(index), _) => self.last_by_index.get(&index).copied().filter(|&position| {
                // A different id at a used index is a second call (servers that reuse
                // index 0 for every call).
                match (&calls[position].id, &id) {
                    (Some(existing), Some(new)) => existing == new,
                    _ => true,
                }
            }),
            (None, Some(id)) => self.first_by_id.get(id).copied(),
            (None, None) => {
                let last = calls.len().checked_sub(1);
                last.filter(|&position| {
                    let call = &calls[position];
                    // A named fragment after a finished call starts a new call.
                    !(name.is_some()
                        && !call.name.is_empty()
                        && self.argument_shapes[position].is_complete(&call.arguments))
                })
            }
        };
        let position = match position {
            Some(position) => position,
            None => {
                calls.push(ToolCall {
                    index,
                    ..ToolCall::default()
                });
                self.argument_shapes.push(JsonShape::default());
                let position = calls.len() - 1;
                if let Some(index) = index {
                    self.last_by_index.insert(index, position);
                }
                position
            }
        };
        let call = &mut calls[position];
        if call.id.is_none()
            && let Some(id) = id
        {
            let first = self.first_by_id.entry(id.clone()).or_insert(position);
            *first = (*first).min(position);
            call.id = Some(id);
        }
        if let Some(name) = name {
            if call.name.is_empty() {
                call.name = name;
            } else if call.name != name && !name.starts_with(&call.name) {
                // A few servers repeat the full name on every fragment; others stream it in
                // pieces.
                call.name.push_str(&name);
            } else if name.len() > call.name.len() {
                call.name = name;
            }
        }
        call.arguments.push_str(&arguments);
        self.argument_shapes[position].push(&arguments);
    }

    pub fn finish(self) -> ChatAnswer {
        let mut answer = self.answer;
        for (_, other) in self.others {
            merge_choice(&mut answer, other.finish());
        }
        answer
    }
}

/// Adds another choice's part of the answer (see [`ChunkAccumulator`]).
fn merge_choice(answer: &mut ChatAnswer, other: ChatAnswer) {
    for (into, add) in [
        (&mut answer.text, &other.text),
        (&mut answer.reasoning, &other.reasoning),
    ] {
        if !add.is_empty() && !into.contains(add.as_str()) {
            if !into.is_empty() {
                into.push_str("\n\n");
            }
            into.push_str(add);
        }
    }
    for call in other.tool_calls {
        let repeated = answer.tool_calls.iter().any(|taken| {
            (call.id.is_some() && taken.id == call.id)
                || (taken.name == call.name && same_arguments(&taken.arguments, &call.arguments))
        });
        if !repeated {
            answer.tool_calls.push(ToolCall {
                index: None,
                ..call
            });
        }
    }
    let calls_finish = other.finish_reason.as_deref() == Some("tool_calls");
    if !answer.has_finish_reason() || calls_finish {
        answer.finish_reason = other.finish_reason.or(answer.finish_reason.take());
    }
    answer.usage = answer.usage.or(other.usage);
    answer.refusal = answer.refusal.take().or(other.refusal);
}

fn same_arguments(a: &str, b: &str) -> bool {
    match (
        serde_json::from_str::<Value>(a),
        serde_json::from_str::<Value>(b),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => a.trim() == b.trim(),
    }
}

/// Tool-call arguments that stop in the middle of a JSON document (`{"cmd": "l`): the
/// answer was cut, whatever `finish_reason` says. Arguments that are simply not JSON (`x`)
/// are the model's mistake and go to Codex, whose tool-argument error lets it correct itself.
pub fn arguments_cut_short(text: &str) -> bool {
    let trimmed = text.trim();
    !trimmed.is_empty() && serde_json::from_str::<Value>(trimmed).is_err_and(|err| err.is_eof())
}

pub fn is_complete_json(text: &str) -> bool {
    !text.trim().is_empty() && serde_json::from_str::<Value>(text).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    fn accumulate(fragments: &[Value]) -> Vec<ToolCall> {
        let mut accumulator = ChunkAccumulator::default();
        for fragment in fragments {
            accumulator.push_chunk(
                &json!({"choices": [{"index": 0, "delta": {"tool_calls": [fragment]}}]}),
            );
        }
        accumulator.finish().tool_calls
    }

    fn call(index: Option<u64>, id: &str, name: &str, arguments: &str) -> ToolCall {
        ToolCall {
            index,
            id: Some(id.to_string()),
            name: name.to_string(),
            arguments: arguments.to_string(),
        }
    }

    /// Table of fragment sequences seen from real backends and the calls they must give.
    #[test]
    fn fragment_accumulation_table() {
        let cases: Vec<(&str, Vec<Value>, Vec<ToolCall>)> = vec![
            (
                "openai style: first fragment carries id and name, later only arguments",
                vec![
                    json!({"index": 0, "id": "call_a", "type": "function", "function": {"name": "shell", "arguments": ""}}),
                    json!({"index": 0, "function": {"arguments": "{\"cmd\":"}}),
                    json!({"index": 0, "function": {"arguments": "\"ls\"}"}}),
                ],
                vec![call(Some(0), "call_a", "shell", "{\"cmd\":\"ls\"}")],
            ),
            (
                "later fragments send name: \"\"",
                vec![
                    json!({"index": 0, "id": "call_a", "function": {"name": "shell", "arguments": "{"}}),
                    json!({"index": 0, "id": "", "function": {"name": "", "arguments": "}"}}),
                ],
                vec![call(Some(0), "call_a", "shell", "{}")],
            ),
            (
                "two calls interleaved by index",
                vec![
                    json!({"index": 0, "id": "a", "function": {"name": "f", "arguments": "{\"x\":"}}),
                    json!({"index": 1, "id": "b", "function": {"name": "g", "arguments": "{\"y\":"}}),
                    json!({"index": 0, "function": {"arguments": "1}"}}),
                    json!({"index": 1, "function": {"arguments": "2}"}}),
                ],
                vec![
                    call(Some(0), "a", "f", "{\"x\":1}"),
                    call(Some(1), "b", "g", "{\"y\":2}"),
                ],
            ),
            (
                "no index, complete calls with ids (Gemini OpenAI-compat)",
                vec![
                    json!({"id": "a", "function": {"name": "f", "arguments": "{}"}}),
                    json!({"id": "b", "function": {"name": "g", "arguments": "{\"k\":1}"}}),
                ],
                vec![
                    ToolCall {
                        index: None,
                        ..call(None, "a", "f", "{}")
                    },
                    ToolCall {
                        index: None,
                        ..call(None, "b", "g", "{\"k\":1}")
                    },
                ],
            ),
            (
                "no index and no id: fragments go to the last call; a named fragment after a complete call starts a new one",
                vec![
                    json!({"function": {"name": "f", "arguments": "{\"a\""}}),
                    json!({"function": {"arguments": ":1}"}}),
                    json!({"function": {"name": "g", "arguments": "{}"}}),
                ],
                vec![
                    ToolCall {
                        index: None,
                        id: None,
                        name: "f".into(),
                        arguments: "{\"a\":1}".into(),
                    },
                    ToolCall {
                        index: None,
                        id: None,
                        name: "g".into(),
                        arguments: "{}".into(),
                    },
                ],
            ),
            (
                "index 0 reused for a second call with a new id",
                vec![
                    json!({"index": 0, "id": "a", "function": {"name": "f", "arguments": "{}"}}),
                    json!({"index": 0, "id": "b", "function": {"name": "g", "arguments": "{}"}}),
                ],
                vec![call(Some(0), "a", "f", "{}"), call(Some(0), "b", "g", "{}")],
            ),
            (
                "arguments sent as an object",
                vec![
                    json!({"index": 0, "id": "a", "function": {"name": "f", "arguments": {"k": "v"}}}),
                ],
                vec![call(Some(0), "a", "f", "{\"k\":\"v\"}")],
            ),
            (
                "full name repeated on every fragment",
                vec![
                    json!({"index": 0, "id": "a", "function": {"name": "shell", "arguments": "{"}}),
                    json!({"index": 0, "function": {"name": "shell", "arguments": "}"}}),
                ],
                vec![call(Some(0), "a", "shell", "{}")],
            ),
        ];
        for (description, fragments, expected) in cases {
            assert_eq!(accumulate(&fragments), expected, "{description}");
        }
    }

    /// Splitting the arguments of any call at any point must give the same call.
    #[test]
    fn any_split_of_arguments_accumulates_to_the_same_call() {
        let arguments = r#"{"command":["bash","-lc","echo héllo > out.txt"],"workdir":"/tmp"}"#;
        let chars: Vec<char> = arguments.chars().collect();
        for split_a in 0..chars.len() {
            for split_b in split_a..chars.len() {
                let part = |from: usize, to: usize| chars[from..to].iter().collect::<String>();
                let fragments = vec![
                    json!({"index": 0, "id": "call_1", "function": {"name": "shell", "arguments": part(0, split_a)}}),
                    json!({"index": 0, "function": {"arguments": part(split_a, split_b)}}),
                    json!({"index": 0, "function": {"arguments": part(split_b, chars.len())}}),
                ];
                assert_eq!(
                    accumulate(&fragments),
                    vec![call(Some(0), "call_1", "shell", arguments)]
                );
            }
        }
    }

    #[test]
    fn usage_final_chunk_and_reasoning_fields() {
        let mut accumulator = ChunkAccumulator::default();
        accumulator.push_chunk(&json!({"id": "chatcmpl-1", "model": "m", "choices": [{"index": 0, "delta": {"role": "assistant", "reasoning_content": "think", "reasoning": "think"}}]}));
        accumulator.push_chunk(&json!({"choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": "stop"}]}));
        accumulator.push_chunk(&json!({"choices": [], "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15, "prompt_tokens_details": {"cached_tokens": 4}, "completion_tokens_details": {"reasoning_tokens": 3}}}));
        let answer = accumulator.finish();
        assert_eq!(answer.reasoning, "think");
        assert_eq!(answer.text, "hi");
        assert_eq!(answer.finish_reason.as_deref(), Some("stop"));
        assert_eq!(
            answer.usage,
            Some(Usage {
                input_tokens: 10,
                cached_input_tokens: 4,
                output_tokens: 5,
                reasoning_output_tokens: 3,
                total_tokens: 15
            })
        );
    }

    /// A backend must never panic the process: non-object tool-call entries are no calls.
    #[test]
    fn completion_body_with_non_object_tool_calls_does_not_panic() {
        for calls in [
            json!([[]]),
            json!([1, "x", null, true]),
            json!([[{"index": 0}]]),
        ] {
            let answer = ChatAnswer::from_completion(
                &json!({"choices": [{"message": {"tool_calls": calls}}]}),
            );
            assert_eq!(answer.tool_calls, Vec::<ToolCall>::new(), "{calls}");
        }
    }

    #[test]
    fn huge_token_counts_saturate() {
        let usage = Usage::from_chat(&json!({"prompt_tokens": u64::MAX, "completion_tokens": 3}))
            .unwrap_or_default();
        assert_eq!(usage.total_tokens, u64::MAX);
        let sum = usage.plus(usage);
        assert_eq!(sum.input_tokens, u64::MAX);
        assert_eq!(sum.output_tokens, 6);
        assert_eq!(sum.total_tokens, u64::MAX);
    }

    #[test]
    fn completion_body_with_tool_calls_and_reasoning() {
        let answer = ChatAnswer::from_completion(&json!({
            "id": "chatcmpl-2",
            "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
                "role": "assistant", "content": null, "reasoning": "plan",
                "tool_calls": [
                    {"id": "a", "type": "function", "function": {"name": "f", "arguments": "{}"}},
                    {"id": "b", "type": "function", "function": {"name": "g", "arguments": "{}"}}
                ]}}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 2}
        }));
        assert_eq!(answer.reasoning, "plan");
        assert_eq!(answer.tool_calls.len(), 2);
        assert_eq!(answer.usage.map(|u| u.total_tokens), Some(5));
    }
}
