//! Responses request body -> Chat Completions request body. Pure: no I/O.

use crate::options::BridgeOptions;
use crate::options::DeveloperRole;
use crate::options::MaxTokensField;
use crate::options::ReasoningReturn;
use crate::reasoning_carrier;
use crate::tools::ToolMap;
use crate::tools::ToolTarget;
use crate::tools::translate_tools;
use serde::Serialize;
use serde_json::Map;
use serde_json::Value;
use serde_json::json;
use std::collections::BTreeSet;
use std::collections::HashMap;
use std::collections::HashSet;
use std::collections::VecDeque;
use tracing::debug;

/// A translated request plus what the reverse direction needs.
#[derive(Debug)]
pub struct ChatRequest {
    pub body: Value,
    pub tool_map: ToolMap,
    pub summary: RequestSummary,
}

/// Counts for telemetry and logs (no content).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RequestSummary {
    pub model: String,
    /// The model Codex asked for, when a forced model replaced it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requested_model: Option<String>,
    pub input_items: usize,
    pub messages: usize,
    pub tools: usize,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dropped_tools: Vec<String>,
    /// Input item kinds the backend has no equivalent for (dropped).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dropped_items: Vec<String>,
    /// What `history::repair` changed so a backend accepts the history, by kind.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub history_repairs: crate::history::Repairs,
    /// Earlier assistant messages whose reasoning was not sent back
    /// (`litellm_bridge.reasoning_history`).
    #[serde(skip_serializing_if = "is_zero")]
    pub reasoning_not_sent_back: u64,
    pub stream: bool,
}

/// For `skip_serializing_if` (which passes a reference): a count of 0 is left out.
#[allow(clippy::trivially_copy_pass_by_ref)]
pub fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[allow(clippy::trivially_copy_pass_by_ref)]
pub fn is_zero_u32(n: &u32) -> bool {
    *n == 0
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TranslateError {
    #[error("the request body is not a JSON object")]
    NotAnObject,
    #[error("the request has no `model`; set a model in config or with --model")]
    NoModel,
    #[error("`input` must be an array of items or a string")]
    BadInput,
}

pub fn translate_request(
    body: &Value,
    options: &BridgeOptions,
) -> Result<ChatRequest, TranslateError> {
    let request = body.as_object().ok_or(TranslateError::NotAnObject)?;
    translate(request, Input::Borrowed(request.get("input")), options)
}

/// [`translate_request`] taking the body: each input item is dropped once translated, so
/// the Responses history and the chat history are never both whole in memory.
pub fn translate_request_owned(
    body: Value,
    options: &BridgeOptions,
) -> Result<ChatRequest, TranslateError> {
    let Value::Object(mut request) = body else {
        return Err(TranslateError::NotAnObject);
    };
    let input = request.remove("input");
    translate(&request, Input::Owned(input), options)
}

enum Input<'a> {
    Borrowed(Option<&'a Value>),
    Owned(Option<Value>),
}

enum Items<'a> {
    Borrowed(&'a [Value]),
    Owned(Vec<Value>),
}

impl Items<'_> {
    fn len(&self) -> usize {
        match self {
            Items::Borrowed(items) => items.len(),
            Items::Owned(items) => items.len(),
        }
    }
}

fn translate(
    request: &Map<String, Value>,
    input: Input<'_>,
    options: &BridgeOptions,
) -> Result<ChatRequest, TranslateError> {
    let requested_model = request
        .get("model")
        .and_then(Value::as_str)
        .filter(|m| !m.trim().is_empty());
    let model = match (&options.model, requested_model) {
        (Some(forced), _) => forced.clone(),
        (None, Some(model)) => model.to_string(),
        (None, None) => return Err(TranslateError::NoModel),
    };
    // The Responses API also takes a bare string as one user message.
    let text_message =
        |text: &str| vec![json!({"type": "message", "role": "user", "content": text})];
    let input = match input {
        Input::Borrowed(None | Some(Value::Null)) | Input::Owned(None | Some(Value::Null)) => {
            Items::Owned(Vec::new())
        }
        Input::Borrowed(Some(Value::Array(items))) => Items::Borrowed(items),
        Input::Owned(Some(Value::Array(items))) => Items::Owned(items),
        Input::Borrowed(Some(Value::String(text))) => Items::Owned(text_message(text)),
        Input::Owned(Some(Value::String(text))) => Items::Owned(text_message(&text)),
        Input::Borrowed(Some(_)) | Input::Owned(Some(_)) => {
            return Err(TranslateError::BadInput);
        }
    };
    let input_items = input.len();
    let tools = request
        .get("tools")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let translated_tools = translate_tools(tools, options.send_strict);

    let mut builder = MessageBuilder::new(options, &translated_tools.map);
    if let Some(instructions) = request.get("instructions").and_then(Value::as_str)
        && !instructions.is_empty()
    {
        builder.push_system(instructions.to_string());
    }
    match input {
        Items::Borrowed(items) => {
            for item in items {
                builder.push_item(item);
            }
        }
        Items::Owned(items) => {
            for item in items {
                builder.push_item(&item);
            }
        }
    }
    let (mut messages, dropped_items, mut history_repairs) = builder.finish();
    let reasoning_not_sent_back =
        crate::history::scope_reasoning(&mut messages, options.reasoning_history);
    for (kind, n) in crate::history::repair(&mut messages) {
        *history_repairs.entry(kind).or_default() += n;
    }
    set_tool_call_content(&mut messages, options.tool_call_content);

    let mut chat = Map::new();
    chat.insert("model".into(), json!(model));
    let message_count = messages.len();
    chat.insert("messages".into(), Value::Array(messages));
    chat.insert("stream".into(), json!(options.stream));
    if options.stream && options.include_usage {
        chat.insert("stream_options".into(), json!({"include_usage": true}));
    }
    let tool_count = translated_tools.functions.len();
    if !translated_tools.functions.is_empty() {
        chat.insert("tools".into(), Value::Array(translated_tools.functions));
        if let Some(choice) = request
            .get("tool_choice")
            .and_then(|c| translate_tool_choice(c, &translated_tools.map))
        {
            chat.insert("tool_choice".into(), choice);
        }
        if options.send_parallel_tool_calls
            && let Some(parallel) = request
                .get("parallel_tool_calls")
                .filter(|v| v.is_boolean())
        {
            chat.insert("parallel_tool_calls".into(), parallel.clone());
        }
    }
    if options.send_reasoning_effort
        && let Some(effort) = request
            .get("reasoning")
            .and_then(|r| r.get("effort"))
            .and_then(Value::as_str)
    {
        chat.insert("reasoning_effort".into(), json!(effort));
    }
    if let Some(max) = options.max_output_tokens {
        let field = match options.max_tokens_field {
            MaxTokensField::MaxTokens => "max_tokens",
            MaxTokensField::MaxCompletionTokens => "max_completion_tokens",
        };
        chat.insert(field.into(), json!(max));
    }
    if options.send_response_format
        && let Some(format) = request.get("text").and_then(|t| t.get("format"))
        && format.get("type").and_then(Value::as_str) == Some("json_schema")
    {
        let mut schema = Map::new();
        schema.insert(
            "name".into(),
            format
                .get("name")
                .cloned()
                .unwrap_or_else(|| json!("output")),
        );
        if let Some(s) = format.get("schema") {
            schema.insert("schema".into(), s.clone());
        }
        if let Some(strict) = format.get("strict") {
            schema.insert("strict".into(), strict.clone());
        }
        chat.insert(
            "response_format".into(),
            json!({"type": "json_schema", "json_schema": Value::Object(schema)}),
        );
    }
    for (key, value) in &options.extra_body {
        chat.insert(key.clone(), value.clone());
    }

    let summary = RequestSummary {
        model: model.clone(),
        requested_model: requested_model
            .filter(|requested| *requested != model)
            .map(str::to_string),
        input_items,
        messages: message_count,
        tools: tool_count,
        dropped_tools: translated_tools.dropped,
        dropped_items,
        history_repairs,
        reasoning_not_sent_back,
        stream: options.stream,
    };
    Ok(ChatRequest {
        body: Value::Object(chat),
        tool_map: translated_tools.map,
        summary,
    })
}

fn translate_tool_choice(choice: &Value, map: &ToolMap) -> Option<Value> {
    match choice {
        Value::String(mode) => Some(json!(mode)),
        Value::Object(object) => {
            let name = object.get("name").and_then(Value::as_str)?;
            let namespace = object.get("namespace").and_then(Value::as_str);
            Some(
                json!({"type": "function", "function": {"name": map.chat_name_for_function(name, namespace)}}),
            )
        }
        _ => None,
    }
}

/// The assistant message being assembled: reasoning, text and every tool call of one model
/// turn go into ONE message, followed by all tool results (OpenAI-backed gateways answer
/// 400 otherwise).
#[derive(Default)]
struct PendingAssistant {
    reasoning: Vec<String>,
    reasoning_details: Option<Value>,
    text: Vec<String>,
    tool_calls: Vec<Value>,
}

struct ToolResult {
    call_id: String,
    content: String,
    images: Vec<Value>,
}

struct MessageBuilder<'a> {
    options: &'a BridgeOptions,
    tool_map: &'a ToolMap,
    messages: Vec<Value>,
    assistant: Option<PendingAssistant>,
    results: Vec<ToolResult>,
    /// Which pending calls have a result, counted as they arrive so that matching calls
    /// to results stays linear: calls by id, ids with a result, calls still unanswered.
    pending_call_ids: HashMap<String, usize>,
    result_ids: HashSet<String>,
    unanswered_calls: usize,
    dropped: BTreeSet<String>,
    /// Repairs made while reading the items (`history::repair` adds its own).
    repairs: crate::history::Repairs,
    seen_non_system: bool,
}

impl<'a> MessageBuilder<'a> {
    fn new(options: &'a BridgeOptions, tool_map: &'a ToolMap) -> Self {
        Self {
            options,
            tool_map,
            messages: Vec::new(),
            assistant: None,
            results: Vec::new(),
            pending_call_ids: HashMap::new(),
            result_ids: HashSet::new(),
            unanswered_calls: 0,
            dropped: BTreeSet::new(),
            repairs: crate::history::Repairs::new(),
            seen_non_system: false,
        }
    }

    fn push_system(&mut self, text: String) {
        self.flush();
        if self.options.merge_system_messages
            && !self.seen_non_system
            && let Some(last) = self.messages.last_mut()
            && last.get("role").and_then(Value::as_str) == Some("system")
            && let Some(Value::String(existing)) = last.get_mut("content")
        {
            // Appended in place: re-formatting the whole text per message is quadratic.
            existing.push_str("\n\n");
            existing.push_str(&text);
            return;
        }
        self.messages
            .push(json!({"role": "system", "content": text}));
    }

    fn push_message(&mut self, role: &str, content: Value) {
        self.flush();
        self.seen_non_system = true;
        self.messages
            .push(json!({"role": role, "content": content}));
    }

    fn push_item(&mut self, item: &Value) {
        let kind = item.get("type").and_then(Value::as_str).unwrap_or_else(|| {
            // Responses accepts `{role, content}` without a type for messages.
            if item.get("role").is_some() {
                "message"
            } else {
                ""
            }
        });
        match kind {
            "message" => self.push_message_item(item),
            "reasoning" => self.push_reasoning(item),
            "function_call" => {
                let name = item.get("name").and_then(Value::as_str).unwrap_or_default();
                let namespace = item.get("namespace").and_then(Value::as_str);
                let chat_name = self.tool_map.chat_name_for_function(name, namespace);
                let arguments = item
                    .get("arguments")
                    .and_then(Value::as_str)
                    .unwrap_or("{}");
                self.push_call(call_id_of(item), chat_name, arguments.to_string());
            }
            "custom_tool_call" => {
                let name = item.get("name").and_then(Value::as_str).unwrap_or_default();
                let chat_name = self
                    .tool_map
                    .chat_name_for(&ToolTarget::Custom {
                        name: name.to_string(),
                    })
                    .unwrap_or_else(|| name.to_string());
                let input = item
                    .get("input")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                self.push_call(
                    call_id_of(item),
                    chat_name,
                    json!({"input": input}).to_string(),
                );
            }
            "local_shell_call" => {
                let chat_name = self
                    .tool_map
                    .chat_name_for(&ToolTarget::LocalShell)
                    .unwrap_or_else(|| "local_shell".to_string());
                let action = item.get("action").cloned().unwrap_or_else(|| json!({}));
                let mut arguments = Map::new();
                for key in ["command", "timeout_ms", "env", "user"] {
                    if let Some(value) = action.get(key).filter(|v| !v.is_null()) {
                        arguments.insert(key.into(), value.clone());
                    }
                }
                if let Some(dir) = action.get("working_directory").filter(|v| !v.is_null()) {
                    arguments.insert("workdir".into(), dir.clone());
                }
                self.push_call(
                    call_id_of(item),
                    chat_name,
                    Value::Object(arguments).to_string(),
                );
            }
            "function_call_output" | "custom_tool_call_output" | "local_shell_call_output" => {
                let (content, images) = output_to_text(item.get("output"));
                let call_id = call_id_of(item);
                if self.result_ids.insert(call_id.clone()) {
                    let answered = self.pending_call_ids.get(&call_id).copied().unwrap_or(0);
                    self.unanswered_calls = self.unanswered_calls.saturating_sub(answered);
                }
                self.results.push(ToolResult {
                    call_id,
                    content,
                    images,
                });
            }
            other => {
                debug!(
                    item_type = other,
                    "dropping input item with no chat equivalent"
                );
                self.dropped.insert(if other.is_empty() {
                    "unknown".into()
                } else {
                    other.into()
                });
            }
        }
    }

    fn push_message_item(&mut self, item: &Value) {
        let role = item.get("role").and_then(Value::as_str).unwrap_or("user");
        let (text, images) = content_parts(item.get("content"));
        match role {
            "assistant" if text.ends_with(crate::live::INTERRUPTED_NOTE) => {
                // Live mode ended this answer as interrupted and kept the retried one after
                // it: sending both would show the model two answers glued together.
                *self
                    .repairs
                    .entry(crate::history::INTERRUPTED_ANSWER.to_string())
                    .or_default() += 1;
            }
            "assistant" => {
                self.flush_results_if_any();
                let assistant = self.assistant.get_or_insert_with(PendingAssistant::default);
                if !assistant.tool_calls.is_empty() {
                    // Text after tool calls starts the next model turn.
                    self.flush();
                }
                self.seen_non_system = true;
                self.assistant
                    .get_or_insert_with(PendingAssistant::default)
                    .text
                    .push(text);
            }
            "system" | "developer" => {
                let role = if role == "developer" {
                    match self.options.developer_role {
                        DeveloperRole::System => "system",
                        DeveloperRole::Developer => "developer",
                        DeveloperRole::User => "user",
                    }
                } else {
                    "system"
                };
                if role == "system" && images.is_empty() {
                    self.push_system(text);
                } else {
                    let content = message_content(text, images);
                    self.push_message(role, content);
                }
            }
            _ => {
                let content = message_content(text, images);
                self.push_message("user", content);
            }
        }
    }

    fn push_reasoning(&mut self, item: &Value) {
        self.flush_results_if_any();
        if self
            .assistant
            .as_ref()
            .is_some_and(|a| !a.tool_calls.is_empty() || !a.text.is_empty())
        {
            self.flush();
        }
        let text = reasoning_text(item);
        let details = item
            .get("encrypted_content")
            .and_then(Value::as_str)
            .and_then(reasoning_carrier::decode_details);
        let assistant = self.assistant.get_or_insert_with(PendingAssistant::default);
        if !text.is_empty() {
            assistant.reasoning.push(text);
        }
        if details.is_some() {
            assistant.reasoning_details = details;
        }
    }

    fn push_call(&mut self, call_id: String, name: String, arguments: String) {
        if !self.results.is_empty() && self.unanswered_calls == 0 {
            // A new model turn after the previous turn's results.
            self.flush();
        }
        *self.pending_call_ids.entry(call_id.clone()).or_default() += 1;
        if !self.result_ids.contains(&call_id) {
            self.unanswered_calls += 1;
        }
        self.seen_non_system = true;
        self.assistant
            .get_or_insert_with(PendingAssistant::default)
            .tool_calls
            .push(json!({
                "id": call_id,
                "type": "function",
                "function": {"name": name, "arguments": arguments}
            }));
    }

    fn flush_results_if_any(&mut self) {
        if !self.results.is_empty() {
            self.flush();
        }
    }

    /// Emits the pending assistant message and then its tool results, in call order, with a
    /// placeholder for any call that has no recorded result (backends reject unanswered calls).
    fn flush(&mut self) {
        let assistant = self.assistant.take();
        let results = std::mem::take(&mut self.results);
        self.pending_call_ids.clear();
        self.result_ids.clear();
        self.unanswered_calls = 0;
        let Some(assistant) = assistant else {
            // Results without a call in this block (history was truncated): left as tool
            // messages for `history::repair`, which keeps them as user text.
            for result in results {
                self.messages.push(
                    json!({"role": "tool", "tool_call_id": result.call_id, "content": result.content}),
                );
                self.push_images(result.images);
            }
            return;
        };
        let mut message = Map::new();
        message.insert("role".into(), json!("assistant"));
        let text: String = assistant.text.join("\n\n");
        message.insert(
            "content".into(),
            if text.is_empty() && !assistant.tool_calls.is_empty() {
                Value::Null
            } else {
                json!(text)
            },
        );
        let reasoning = assistant.reasoning.join("\n\n");
        if !reasoning.is_empty() {
            match self.options.reasoning_return {
                ReasoningReturn::ReasoningContent => {
                    message.insert("reasoning_content".into(), json!(reasoning));
                }
                ReasoningReturn::Reasoning => {
                    message.insert("reasoning".into(), json!(reasoning));
                }
                ReasoningReturn::Both => {
                    message.insert("reasoning_content".into(), json!(reasoning));
                    message.insert("reasoning".into(), json!(reasoning));
                }
                ReasoningReturn::None => {}
            }
        }
        if let Some(details) = assistant.reasoning_details
            && self.options.reasoning_return != ReasoningReturn::None
        {
            message.insert("reasoning_details".into(), details);
        }
        let call_ids: Vec<String> = assistant
            .tool_calls
            .iter()
            .filter_map(|call| call.get("id").and_then(Value::as_str).map(str::to_string))
            .collect();
        if !assistant.tool_calls.is_empty() {
            message.insert("tool_calls".into(), Value::Array(assistant.tool_calls));
        }
        let only_reasoning = text.is_empty() && call_ids.is_empty();
        if !only_reasoning {
            self.messages.push(Value::Object(message));
        }
        let mut images = Vec::new();
        // Results by call id, in arrival order, taken as their calls come up (linear). A
        // call without a result, or a result without a call, is left for `history::repair`
        // to answer or to keep as user text.
        let mut by_call_id: HashMap<String, VecDeque<usize>> = HashMap::new();
        for (position, result) in results.iter().enumerate() {
            by_call_id
                .entry(result.call_id.clone())
                .or_default()
                .push_back(position);
        }
        let mut results: Vec<Option<ToolResult>> = results.into_iter().map(Some).collect();
        for id in &call_ids {
            let taken = by_call_id
                .get_mut(id)
                .and_then(VecDeque::pop_front)
                .and_then(|position| results[position].take());
            if let Some(result) = taken {
                images.extend(result.images);
                self.messages
                    .push(json!({"role": "tool", "tool_call_id": id, "content": result.content}));
            }
        }
        for result in results.into_iter().flatten() {
            images.extend(result.images);
            self.messages.push(
                json!({"role": "tool", "tool_call_id": result.call_id, "content": result.content}),
            );
        }
        self.push_images(images);
        if only_reasoning && !reasoning.is_empty() {
            // Reasoning with nothing after it (e.g. an interrupted turn): it has no message
            // to ride on, so it is dropped.
            debug!("dropping reasoning that no assistant message follows");
        }
    }

    /// Tool messages can only carry text on most backends; images a tool returned (e.g.
    /// view_image) follow as one user message.
    fn push_images(&mut self, images: Vec<Value>) {
        if images.is_empty() {
            return;
        }
        let mut parts =
            vec![json!({"type": "text", "text": "Images returned by the tool calls above:"})];
        parts.extend(images);
        self.messages
            .push(json!({"role": "user", "content": parts}));
    }

    fn finish(mut self) -> (Vec<Value>, Vec<String>, crate::history::Repairs) {
        self.flush();
        (
            self.messages,
            self.dropped.into_iter().collect(),
            self.repairs,
        )
    }
}

/// The item's call id; empty when it has none (`history::repair` gives such a call an id
/// and pairs it with an output that has none either).
fn call_id_of(item: &Value) -> String {
    item.get("call_id")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())
        .or_else(|| item.get("id").and_then(Value::as_str))
        .unwrap_or_default()
        .to_string()
}

/// The chat `body` with `content: ""` on every assistant tool-call message without text
/// (`None` when it has none with `null`): what `tool_call_content = "auto"` sends after the
/// backend refused `null`.
pub fn with_empty_tool_call_content(body: &Value) -> Option<Value> {
    let mut body = body.clone();
    let messages = body.get_mut("messages")?.as_array_mut()?;
    let before = messages.clone();
    set_tool_call_content(messages, crate::options::ToolCallContent::EmptyString);
    (*messages != before).then_some(body)
}

/// Every assistant message with tool calls and no text gets the `content` the backend
/// accepts (`tool_call_content`), whichever step built or merged it.
fn set_tool_call_content(messages: &mut [Value], form: crate::options::ToolCallContent) {
    let empty = match form {
        crate::options::ToolCallContent::EmptyString => json!(""),
        crate::options::ToolCallContent::Null | crate::options::ToolCallContent::Auto => {
            Value::Null
        }
    };
    for message in messages {
        let Some(message) = message.as_object_mut() else {
            continue;
        };
        let has_calls = message
            .get("tool_calls")
            .and_then(Value::as_array)
            .is_some_and(|calls| !calls.is_empty());
        let no_text = match message.get("content") {
            None | Some(Value::Null) => true,
            Some(Value::String(text)) => text.is_empty(),
            Some(_) => false,
        };
        if has_calls && no_text && message.get("role").and_then(Value::as_str) == Some("assistant")
        {
            message.insert("content".into(), empty.clone());
        }
    }
}

/// Text and image parts of a Responses `content` (string or array of parts).
fn content_parts(content: Option<&Value>) -> (String, Vec<Value>) {
    match content {
        Some(Value::String(text)) => (text.clone(), Vec::new()),
        Some(Value::Array(parts)) => {
            let mut texts = Vec::new();
            let mut images = Vec::new();
            for part in parts {
                match part.get("type").and_then(Value::as_str) {
                    Some(
                        "input_text" | "output_text" | "text" | "summary_text" | "reasoning_text",
                    ) => {
                        if let Some(text) = part.get("text").and_then(Value::as_str) {
                            texts.push(text.to_string());
                        }
                    }
                    Some("input_image") => {
                        if let Some(url) = part.get("image_url").and_then(Value::as_str) {
                            let mut image_url = json!({"url": url});
                            if let Some(detail) = part.get("detail").and_then(Value::as_str) {
                                image_url["detail"] = json!(detail);
                            }
                            images.push(json!({"type": "image_url", "image_url": image_url}));
                        }
                    }
                    _ => {}
                }
            }
            (texts.join("\n"), images)
        }
        _ => (String::new(), Vec::new()),
    }
}

fn message_content(text: String, images: Vec<Value>) -> Value {
    if images.is_empty() {
        return json!(text);
    }
    let mut parts = Vec::new();
    if !text.is_empty() {
        parts.push(json!({"type": "text", "text": text}));
    }
    parts.extend(images);
    Value::Array(parts)
}

/// A tool output is a string or a list of content items.
fn output_to_text(output: Option<&Value>) -> (String, Vec<Value>) {
    match output {
        Some(Value::String(text)) => (text.clone(), Vec::new()),
        Some(Value::Array(_)) => content_parts(output),
        Some(Value::Object(object)) => {
            // Older payloads: {"content": "...", "success": bool}.
            if let Some(content) = object.get("content") {
                output_to_text(Some(content))
            } else {
                (Value::Object(object.clone()).to_string(), Vec::new())
            }
        }
        Some(other) if !other.is_null() => (other.to_string(), Vec::new()),
        _ => (String::new(), Vec::new()),
    }
}

fn reasoning_text(item: &Value) -> String {
    let from_content: Vec<String> = item
        .get("content")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|part| part.get("text").and_then(Value::as_str).map(str::to_string))
        .collect();
    if !from_content.is_empty() {
        return from_content.join("");
    }
    item.get("summary")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|part| part.get("text").and_then(Value::as_str).map(str::to_string))
        .collect::<Vec<_>>()
        .join("\n\n")
}
