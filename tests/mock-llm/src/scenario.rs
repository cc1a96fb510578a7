//! Scenario format: what the mock serves, in what order, and how it misbehaves.
//!
//! The JSON shape is documented in `tests/mock-llm/README.md`; the Rust types below are the
//! single source of truth (unknown fields are rejected so a typo never silently passes).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine as _;
use serde::Deserialize;
use serde::Serialize;
use serde_json::Value;
use serde_json::json;

/// Model ids served by `GET /v1/models` when a scenario names none.
pub const DEFAULT_MODEL: &str = "mock-model";

/// Default cap on how long a stalled / kept-open connection is held (5 minutes).
pub const DEFAULT_HOLD_OPEN_MAX_MS: u64 = 300_000;

/// Default size, in characters, of each streamed text / reasoning / arguments piece.
pub const DEFAULT_DELTA_CHARS: usize = 4;

/// A whole scenario: models list, scripted responses and the fallback.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Free text, ignored (JSON has no comments).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Served by `GET /v1/models`. A string becomes a standard model object; an object is
    /// served as given.
    #[serde(default = "default_models")]
    pub models: Vec<Value>,
    /// Scripted answers to chat requests; each is consumed by at most one request.
    #[serde(default)]
    pub responses: Vec<Response>,
    /// Served when no unconsumed entry matches a chat request.
    #[serde(default = "default_fallback")]
    pub fallback: Response,
    /// Also answer `POST /v1/responses` from the same entries (the shorthand rendered as a
    /// Responses stream), for stock Codex; off by default, so a client that wrongly calls
    /// `/v1/responses` gets a 404.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub responses_api: bool,
    /// Extra endpoints (model metadata as gateways serve it: `/model/info`, `/api/show`,
    /// `/props`, or another `/v1/models`), checked before the built-in ones, never consumed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<Route>,
    /// Refuse chat requests whose body is larger than this, the way a backend refuses a
    /// prompt that exceeds its context window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_limit: Option<ContextLimit>,
}

/// An extra endpoint: `method` + exact `path` (+ body substrings) answered by `response`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    #[serde(default = "default_route_method")]
    pub method: String,
    pub path: String,
    /// Substrings that must all occur in the body (e.g. the model of a `POST /api/show`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub body_contains: Vec<String>,
    /// Headers (name case-insensitive) that must have exactly this value (e.g.
    /// `if-none-match`, to answer 304).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    pub response: Response,
}

fn default_route_method() -> String {
    "GET".to_string()
}

impl Route {
    /// `GET path` answered with `json` (status 200).
    pub fn get_json(path: impl Into<String>, json: Value) -> Self {
        Self {
            method: default_route_method(),
            path: path.into(),
            body_contains: Vec::new(),
            headers: BTreeMap::new(),
            response: Response::json(json),
        }
    }

    /// `GET path` answered with `status` and an OpenAI-style error body.
    pub fn get_status(path: impl Into<String>, status: u16) -> Self {
        Self {
            method: default_route_method(),
            path: path.into(),
            body_contains: Vec::new(),
            headers: BTreeMap::new(),
            response: Response::json(
                json!({"error": {"message": "mock-llm route", "code": status}}),
            )
            .with_status(status),
        }
    }
}

/// Chat requests with a body over `max_body_bytes` get HTTP 400 `context_length_exceeded`
/// (OpenAI's wording, which vLLM and LiteLLM also use), counted at about 4 bytes a token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContextLimit {
    pub max_body_bytes: usize,
    /// Replaces the default message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

fn default_models() -> Vec<Value> {
    vec![Value::String(DEFAULT_MODEL.to_string())]
}

fn default_fallback() -> Response {
    Response::json(json!({
        "error": {
            "message": "mock: no scripted response left",
            "type": "mock_exhausted",
            "code": "mock_exhausted",
        }
    }))
    .with_status(500)
}

impl Default for Scenario {
    fn default() -> Self {
        Self {
            comment: None,
            models: default_models(),
            responses: Vec::new(),
            fallback: default_fallback(),
            responses_api: false,
            routes: Vec::new(),
            context_limit: None,
        }
    }
}

/// Conditions an entry puts on the request it answers. All listed conditions must hold.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Match {
    /// Exact request path, without the query string (e.g. `/v1/chat/completions`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Substrings that must all occur in the raw request body.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub body_contains: Vec<String>,
    /// Substrings that must not occur in the raw request body.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub body_not_contains: Vec<String>,
    /// Headers (name case-insensitive) that must be present with exactly this value. This is
    /// how a test checks a secret header's value, since recordings redact it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
}

/// One tool call of the `tool_calls` shorthand.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolCall {
    /// Call id; `call_mock_<n>` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Function name (may be left out with `tool_described_as`).
    #[serde(default)]
    pub name: String,
    /// Call the tool the request advertised whose description contains this text, by the
    /// name the client gave it (for tools whose name the client makes up, such as MCP
    /// tools, so a script need not guess). Overrides `name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_described_as: Option<String>,
    /// Arguments: a string is sent as is; any other JSON value is sent serialized.
    #[serde(default = "empty_object")]
    pub arguments: Value,
}

fn empty_object() -> Value {
    json!({})
}

impl ToolCall {
    pub fn new(
        id: impl Into<String>,
        name: impl Into<String>,
        arguments: impl Into<Value>,
    ) -> Self {
        Self {
            id: Some(id.into()),
            name: name.into(),
            tool_described_as: None,
            arguments: arguments.into(),
        }
    }

    /// A call of the advertised tool whose description contains `description`.
    pub fn described_as(
        id: impl Into<String>,
        description: impl Into<String>,
        arguments: impl Into<Value>,
    ) -> Self {
        Self {
            tool_described_as: Some(description.into()),
            ..Self::new(id, "", arguments)
        }
    }

    /// The arguments as the string that goes on the wire.
    pub fn arguments_string(&self) -> String {
        match &self.arguments {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    }
}

/// When the shorthand emits a usage object.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UsageMode {
    /// Like OpenAI: streamed only if the request set `stream_options.include_usage`;
    /// always present in a non-streamed completion.
    #[default]
    Requested,
    /// Always (final `choices: []` chunk when streaming).
    Always,
    /// Never.
    Never,
    /// On every chunk, plus the final `choices: []` chunk (some servers do this).
    EveryChunk,
}

impl UsageMode {
    // serde's `skip_serializing_if` passes a reference.
    #[allow(clippy::trivially_copy_pass_by_ref)]
    fn is_default(&self) -> bool {
        *self == UsageMode::Requested
    }
}

/// How the response body is delimited on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Framing {
    /// `Transfer-Encoding: chunked`, one HTTP chunk per event (default for event streams).
    Chunked,
    /// `Content-Length` (default for single bodies). A cut then reads as a short body.
    Length,
    /// Neither: the body ends when the connection closes, so a cut looks like a clean end.
    Close,
}

/// One scripted response (also the fallback).
///
/// Body kinds are mutually exclusive: `sse`, `json`, `body`, `raw_bytes_b64`, or the
/// shorthand (`text` / `reasoning_content` / `tool_calls`). With none of them the body is
/// empty.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Response {
    /// Free text, ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Conditions on the request; without it the entry matches any chat request.
    #[serde(default, rename = "match", skip_serializing_if = "Option::is_none")]
    pub matcher: Option<Match>,
    /// Wait this long before sending the status line.
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub delay_ms: u64,
    /// HTTP status (default 200).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Extra response headers; they replace defaults of the same name (case-insensitive).
    /// Setting `content-length` or `transfer-encoding` here disables the mock's own framing.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,

    // ---- explicit body kinds ----
    /// SSE events: JSON value -> `data: <json>`; `"[DONE]"`; `":comment"`; any other string
    /// -> `data: <string>`; `{"$raw": "..."}` -> those exact characters, nothing added.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sse: Option<Vec<Value>>,
    /// A JSON body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json: Option<Value>,
    /// A raw text body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Raw body bytes, base64 (standard alphabet, padded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_bytes_b64: Option<String>,

    // ---- shorthand ----
    /// Assistant text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Reasoning, streamed as `reasoning_content` deltas before the text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_content: Option<String>,
    /// Tool calls, streamed after the text with their arguments in fragments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCall>>,
    /// `finish_reason`; default `tool_calls` when there are tool calls, else `stop`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_reason: Option<String>,
    /// Send no finish chunk at all (stream) / `finish_reason: null` (non-stream).
    #[serde(default, skip_serializing_if = "is_false")]
    pub omit_finish_reason: bool,
    /// Send no `data: [DONE]` at the end of a shorthand stream.
    #[serde(default, skip_serializing_if = "is_false")]
    pub omit_done: bool,
    /// Usage object; when absent one is computed (about 4 bytes per token).
    /// `total_tokens` is filled in when missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Value>,
    /// When usage is sent.
    #[serde(default, skip_serializing_if = "UsageMode::is_default")]
    pub usage_mode: UsageMode,
    /// Characters per text / reasoning / arguments delta (default 4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delta_chars: Option<usize>,
    /// Interleave the fragments of several tool calls round-robin instead of one call after
    /// the other.
    #[serde(default, skip_serializing_if = "is_false")]
    pub interleave_tool_calls: bool,
    /// Override the request's `"stream"` flag for the shorthand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    /// `model` in the generated chunks; default: the request's `model`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,

    // ---- transport misbehaviour ----
    /// Pause between events (between SSE events; nothing for single bodies).
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub chunk_delay_ms: u64,
    /// Close the connection after this many body bytes (payload bytes, not framing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cut_after_bytes: Option<usize>,
    /// After this many events, send nothing more but keep the socket open until the client
    /// goes away or `hold_open_max_ms` passes. A single body counts as one event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stall_after_events: Option<usize>,
    /// Send everything but never end the body (no final chunk) and keep the socket open.
    #[serde(default, skip_serializing_if = "is_false")]
    pub keep_open_after_done: bool,
    /// Cap for stalls / kept-open sockets (default 300000 ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_open_max_ms: Option<u64>,
    /// Body delimitation; default `chunked` for event streams, `length` otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub framing: Option<Framing>,
}

// serde's `skip_serializing_if` passes a reference.
#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_zero_u64(v: &u64) -> bool {
    *v == 0
}

#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_false(v: &bool) -> bool {
    !*v
}

/// Which body a response has, after validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyKind {
    Empty,
    Sse,
    Json,
    Text,
    RawBytes,
    Shorthand,
}

impl Response {
    // ---- constructors ----

    /// Shorthand: a streamed (or, for `"stream": false` requests, single JSON) text answer.
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            text: Some(text.into()),
            ..Self::default()
        }
    }

    /// Shorthand: one tool call.
    pub fn tool_call(
        id: impl Into<String>,
        name: impl Into<String>,
        arguments: impl Into<Value>,
    ) -> Self {
        Self::tool_calls(vec![ToolCall::new(id, name, arguments)])
    }

    /// Shorthand: several tool calls.
    pub fn tool_calls(calls: Vec<ToolCall>) -> Self {
        Self {
            tool_calls: Some(calls),
            ..Self::default()
        }
    }

    /// Explicit SSE events (see [`Response::sse`] field docs for the element rules).
    pub fn sse(events: Vec<Value>) -> Self {
        Self {
            sse: Some(events),
            ..Self::default()
        }
    }

    /// A JSON body (status 200 unless changed with [`Response::with_status`]).
    pub fn json(value: Value) -> Self {
        Self {
            json: Some(value),
            ..Self::default()
        }
    }

    /// A raw text body.
    pub fn body(text: impl Into<String>) -> Self {
        Self {
            body: Some(text.into()),
            ..Self::default()
        }
    }

    /// Raw body bytes (e.g. invalid UTF-8).
    pub fn raw_bytes(bytes: &[u8]) -> Self {
        Self {
            raw_bytes_b64: Some(base64::engine::general_purpose::STANDARD.encode(bytes)),
            ..Self::default()
        }
    }

    /// An empty body with this status.
    pub fn empty(status: u16) -> Self {
        Self {
            status: Some(status),
            ..Self::default()
        }
    }

    /// `{"error": {"message": ..., "type": ..., "code": ...}}` with this status, the shape
    /// OpenAI-compatible servers answer errors with.
    pub fn error(status: u16, message: impl Into<String>) -> Self {
        let message: String = message.into();
        Self::json(json!({"error": {"message": message, "type": "mock_error", "code": status}}))
            .with_status(status)
    }

    // ---- builders ----

    pub fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.insert(name.into(), value.into());
        self
    }

    pub fn with_match(mut self, matcher: Match) -> Self {
        self.matcher = Some(matcher);
        self
    }

    /// Adds a `body_contains` condition.
    pub fn when_body_contains(mut self, needle: impl Into<String>) -> Self {
        self.matcher
            .get_or_insert_with(Match::default)
            .body_contains
            .push(needle.into());
        self
    }

    /// Adds a `path` condition.
    pub fn when_path(mut self, path: impl Into<String>) -> Self {
        self.matcher.get_or_insert_with(Match::default).path = Some(path.into());
        self
    }

    pub fn with_text(mut self, text: impl Into<String>) -> Self {
        self.text = Some(text.into());
        self
    }

    pub fn with_reasoning(mut self, reasoning: impl Into<String>) -> Self {
        self.reasoning_content = Some(reasoning.into());
        self
    }

    pub fn with_finish_reason(mut self, finish_reason: impl Into<String>) -> Self {
        self.finish_reason = Some(finish_reason.into());
        self
    }

    pub fn without_finish_reason(mut self) -> Self {
        self.omit_finish_reason = true;
        self
    }

    pub fn without_done(mut self) -> Self {
        self.omit_done = true;
        self
    }

    pub fn with_usage(mut self, usage: Value) -> Self {
        self.usage = Some(usage);
        self
    }

    pub fn with_usage_mode(mut self, mode: UsageMode) -> Self {
        self.usage_mode = mode;
        self
    }

    pub fn with_delta_chars(mut self, chars: usize) -> Self {
        self.delta_chars = Some(chars);
        self
    }

    pub fn with_delay_ms(mut self, ms: u64) -> Self {
        self.delay_ms = ms;
        self
    }

    pub fn with_chunk_delay_ms(mut self, ms: u64) -> Self {
        self.chunk_delay_ms = ms;
        self
    }

    pub fn with_cut_after_bytes(mut self, bytes: usize) -> Self {
        self.cut_after_bytes = Some(bytes);
        self
    }

    pub fn with_stall_after_events(mut self, events: usize) -> Self {
        self.stall_after_events = Some(events);
        self
    }

    pub fn with_keep_open_after_done(mut self) -> Self {
        self.keep_open_after_done = true;
        self
    }

    pub fn with_hold_open_max_ms(mut self, ms: u64) -> Self {
        self.hold_open_max_ms = Some(ms);
        self
    }

    pub fn with_framing(mut self, framing: Framing) -> Self {
        self.framing = Some(framing);
        self
    }

    // ---- internals ----

    pub(crate) fn body_kind(&self) -> Result<BodyKind, String> {
        let shorthand =
            self.text.is_some() || self.reasoning_content.is_some() || self.tool_calls.is_some();
        let kinds: Vec<(&str, BodyKind)> = [
            (self.sse.is_some(), "sse", BodyKind::Sse),
            (self.json.is_some(), "json", BodyKind::Json),
            (self.body.is_some(), "body", BodyKind::Text),
            (
                self.raw_bytes_b64.is_some(),
                "raw_bytes_b64",
                BodyKind::RawBytes,
            ),
            (
                shorthand,
                "shorthand (text/reasoning_content/tool_calls)",
                BodyKind::Shorthand,
            ),
        ]
        .into_iter()
        .filter(|(set, _, _)| *set)
        .map(|(_, name, kind)| (name, kind))
        .collect();
        match kinds.as_slice() {
            [] => Ok(BodyKind::Empty),
            [(_, kind)] => Ok(*kind),
            many => Err(format!(
                "more than one body kind: {} (use exactly one)",
                many.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
            )),
        }
    }

    pub(crate) fn decoded_raw_bytes(&self) -> Result<Option<Vec<u8>>, String> {
        match &self.raw_bytes_b64 {
            None => Ok(None),
            Some(b64) => base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .map(Some)
                .map_err(|e| format!("raw_bytes_b64 is not valid base64: {e}")),
        }
    }

    pub(crate) fn delta_chars(&self) -> usize {
        self.delta_chars.unwrap_or(DEFAULT_DELTA_CHARS).max(1)
    }

    pub(crate) fn hold_open_max_ms(&self) -> u64 {
        self.hold_open_max_ms.unwrap_or(DEFAULT_HOLD_OPEN_MAX_MS)
    }

    /// This entry with each `tool_described_as` call named after the one function the
    /// request's `tools` describe so (chat `{"function": {name, description}}` or flat
    /// Responses `{name, description}`); `Err` says what no tool or several tools matched.
    pub(crate) fn with_advertised_names(
        &self,
        request: Option<&Value>,
    ) -> Result<Cow<'_, Self>, String> {
        let calls = self.tool_calls.iter().flatten();
        if calls.clone().all(|c| c.tool_described_as.is_none()) {
            return Ok(Cow::Borrowed(self));
        }
        let mut spec = self.clone();
        for call in spec.tool_calls.iter_mut().flatten() {
            let Some(wanted) = &call.tool_described_as else {
                continue;
            };
            let tools = request
                .and_then(|r| r.get("tools"))
                .and_then(Value::as_array);
            let advertised: Vec<(&str, &str)> = tools
                .into_iter()
                .flatten()
                .filter_map(|tool| {
                    let f = tool.get("function").unwrap_or(tool);
                    let name = f.get("name").and_then(Value::as_str)?;
                    Some((name, f.get("description").and_then(Value::as_str)?))
                })
                .collect();
            let mut found: Vec<&str> = advertised
                .iter()
                .filter(|(_, description)| description.contains(wanted.as_str()))
                .map(|(name, _)| *name)
                .collect();
            found.dedup();
            match found.as_slice() {
                [name] => call.name = (*name).to_string(),
                [] => {
                    let names: Vec<&str> = advertised.iter().map(|(n, _)| *n).collect();
                    return Err(format!(
                        "no tool in the request's `tools` has a description containing \
                         {wanted:?} (advertised: {})",
                        names.join(", ")
                    ));
                }
                many => {
                    return Err(format!(
                        "{} tools have a description containing {wanted:?} ({}): make \
                         `tool_described_as` more specific",
                        many.len(),
                        many.join(", ")
                    ));
                }
            }
        }
        Ok(Cow::Owned(spec))
    }

    /// Returns `(field, message)` for the first problem found.
    fn validate(&self) -> Result<(), (String, String)> {
        let kind = self.body_kind().map_err(|m| (String::new(), m))?;
        self.decoded_raw_bytes()
            .map_err(|m| ("raw_bytes_b64".to_string(), m))?;
        if let Some(status) = self.status
            && !(100..=999).contains(&status)
        {
            return Err((
                "status".to_string(),
                format!("status {status} is not a 3-digit HTTP status"),
            ));
        }
        if self.delta_chars == Some(0) {
            return Err(("delta_chars".to_string(), "must be at least 1".to_string()));
        }
        if let Some(m) = &self.matcher
            && let Some(path) = &m.path
            && !path.starts_with('/')
        {
            return Err((
                "match.path".to_string(),
                format!("`{path}` must start with '/'"),
            ));
        }
        if let Some(events) = &self.sse {
            for (i, event) in events.iter().enumerate() {
                if let Value::Object(map) = event
                    && let Some(raw) = map.get("$raw")
                    && (map.len() != 1 || !raw.is_string())
                {
                    return Err((
                        format!("sse[{i}]"),
                        "a `$raw` element must be exactly {\"$raw\": \"<string>\"}".to_string(),
                    ));
                }
            }
        }
        for (name, value) in &self.headers {
            let bad = |s: &str| s.contains('\r') || s.contains('\n');
            if name.is_empty() || bad(name) || name.contains(':') || bad(value) {
                return Err((
                    format!("headers.{name}"),
                    "header names and values must be single-line (no CR/LF; no ':' in names)"
                        .to_string(),
                ));
            }
        }
        for (i, call) in self.tool_calls.iter().flatten().enumerate() {
            let field = || format!("tool_calls[{i}]");
            match &call.tool_described_as {
                Some(text) if text.is_empty() => {
                    return Err((
                        format!("{}.tool_described_as", field()),
                        "must not be empty".to_string(),
                    ));
                }
                Some(_) if !call.name.is_empty() => {
                    return Err((
                        field(),
                        "give `name` or `tool_described_as`, not both".to_string(),
                    ));
                }
                _ => {}
            }
        }
        let shorthand_only = [
            (self.finish_reason.is_some(), "finish_reason"),
            (self.omit_finish_reason, "omit_finish_reason"),
            (self.omit_done, "omit_done"),
            (self.usage.is_some(), "usage"),
            (!self.usage_mode.is_default(), "usage_mode"),
            (self.delta_chars.is_some(), "delta_chars"),
            (self.interleave_tool_calls, "interleave_tool_calls"),
            (self.stream.is_some(), "stream"),
            (self.model.is_some(), "model"),
        ];
        if kind != BodyKind::Shorthand
            && let Some((_, field)) = shorthand_only.iter().find(|(set, _)| *set)
        {
            return Err((
                (*field).to_string(),
                "only applies to the shorthand (text / reasoning_content / tool_calls)".to_string(),
            ));
        }
        Ok(())
    }
}

/// Why a scenario could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("{origin}: cannot read scenario: {source}")]
    Io {
        origin: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{origin}: invalid scenario at `{path}`: {message}")]
    Invalid {
        origin: String,
        /// JSON path of the offending value, e.g. `responses[2].status`.
        path: String,
        message: String,
    },
}

impl Scenario {
    /// A scenario serving these responses in order (default models and fallback).
    pub fn new(responses: Vec<Response>) -> Self {
        Self {
            responses,
            ..Self::default()
        }
    }

    pub fn with_models<S: Into<String>>(mut self, models: impl IntoIterator<Item = S>) -> Self {
        self.models = models
            .into_iter()
            .map(|m| Value::String(m.into()))
            .collect();
        self
    }

    pub fn with_fallback(mut self, fallback: Response) -> Self {
        self.fallback = fallback;
        self
    }

    /// Serves `POST /v1/responses` too (see [`Scenario::responses_api`]).
    pub fn with_responses_api(mut self) -> Self {
        self.responses_api = true;
        self
    }

    pub fn with_route(mut self, route: Route) -> Self {
        self.routes.push(route);
        self
    }

    pub fn with_context_limit(mut self, max_body_bytes: usize) -> Self {
        self.context_limit = Some(ContextLimit {
            max_body_bytes,
            message: None,
        });
        self
    }

    pub fn push(mut self, response: Response) -> Self {
        self.responses.push(response);
        self
    }

    pub fn from_json_str(json: &str) -> Result<Self, ScenarioError> {
        Self::parse(json, "<scenario>")
    }

    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, ScenarioError> {
        let path = path.as_ref();
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Io {
            origin: origin.clone(),
            source,
        })?;
        Self::parse(&text, &origin)
    }

    fn parse(json: &str, origin: &str) -> Result<Self, ScenarioError> {
        let mut de = serde_json::Deserializer::from_str(json);
        let scenario: Scenario = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            ScenarioError::Invalid {
                origin: origin.to_string(),
                path,
                message: e.into_inner().to_string(),
            }
        })?;
        de.end().map_err(|e| ScenarioError::Invalid {
            origin: origin.to_string(),
            path: ".".to_string(),
            message: e.to_string(),
        })?;
        scenario.validate_as(origin)?;
        Ok(scenario)
    }

    /// Checks the rules serde cannot express (one body kind, valid base64, ...).
    pub fn validate(&self) -> Result<(), ScenarioError> {
        self.validate_as("<scenario>")
    }

    fn validate_as(&self, origin: &str) -> Result<(), ScenarioError> {
        let invalid = |prefix: String, (field, message): (String, String)| {
            let path = if field.is_empty() {
                prefix
            } else {
                format!("{prefix}.{field}")
            };
            ScenarioError::Invalid {
                origin: origin.to_string(),
                path,
                message,
            }
        };
        for (i, model) in self.models.iter().enumerate() {
            let ok = match model {
                Value::String(_) => true,
                Value::Object(map) => map.get("id").is_some_and(Value::is_string),
                _ => false,
            };
            if !ok {
                return Err(invalid(
                    format!("models[{i}]"),
                    (
                        String::new(),
                        "a model is a string id or an object with a string `id`".to_string(),
                    ),
                ));
            }
        }
        for (i, response) in self.responses.iter().enumerate() {
            response
                .validate()
                .map_err(|e| invalid(format!("responses[{i}]"), e))?;
        }
        self.fallback
            .validate()
            .map_err(|e| invalid("fallback".to_string(), e))?;
        for (i, route) in self.routes.iter().enumerate() {
            if !route.path.starts_with('/') {
                return Err(invalid(
                    format!("routes[{i}].path"),
                    (
                        String::new(),
                        format!("`{}` must start with '/'", route.path),
                    ),
                ));
            }
            route
                .response
                .validate()
                .map_err(|e| invalid(format!("routes[{i}].response"), e))?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn minimal_scenario_gets_defaults() {
        let s = Scenario::from_json_str("{}").unwrap();
        assert_eq!(s.models, vec![json!("mock-model")]);
        assert!(s.responses.is_empty());
        assert_eq!(s.fallback.status, Some(500));
        assert_eq!(
            s.fallback.json.as_ref().unwrap()["error"]["message"],
            json!("mock: no scripted response left")
        );
    }

    #[test]
    fn brief_example_parses() {
        let s = Scenario::from_json_str(
            r#"{
              "models": ["mock-model"],
              "responses": [
                {"match": {"body_contains": ["call_1"], "path": "/v1/chat/completions"},
                 "delay_ms": 0, "status": 200, "headers": {"retry-after": "1"},
                 "sse": [{"choices": []}, ":keepalive comment", "[DONE]"],
                 "chunk_delay_ms": 0, "cut_after_bytes": null, "stall_after_events": null,
                 "keep_open_after_done": false},
                {"text": "hello", "finish_reason": "stop",
                 "usage": {"prompt_tokens": 10, "completion_tokens": 2}},
                {"tool_calls": [{"id": "call_1", "name": "shell", "arguments": "{\"command\":[\"ls\"]}"}],
                 "reasoning_content": "thinking", "text": "running ls"}
              ],
              "fallback": {"status": 500, "json": {"error": {"message": "mock: no scripted response left"}}}
            }"#,
        )
        .unwrap();
        assert_eq!(s.responses.len(), 3);
        assert_eq!(s.responses[0].body_kind().unwrap(), BodyKind::Sse);
        assert_eq!(s.responses[2].body_kind().unwrap(), BodyKind::Shorthand);
    }

    #[test]
    fn type_error_names_json_path() {
        let err = Scenario::from_json_str(r#"{"responses": [{"text": "a"}, {"status": "x"}]}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("`responses[1].status`"), "{err}");
        assert!(err.starts_with("<scenario>: invalid scenario"), "{err}");
    }

    #[test]
    fn unknown_field_is_rejected_with_path() {
        let err = Scenario::from_json_str(r#"{"responses": [{"txt": "a"}]}"#)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`responses[0]`") || err.contains("`responses[0].txt`"),
            "{err}"
        );
        assert!(err.contains("unknown field `txt`"), "{err}");
    }

    #[test]
    fn two_body_kinds_are_rejected() {
        let err = Scenario::from_json_str(r#"{"responses": [{"text": "a", "json": {}}]}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("`responses[0]`"), "{err}");
        assert!(err.contains("more than one body kind"), "{err}");
    }

    #[test]
    fn bad_base64_and_misplaced_shorthand_options_are_rejected() {
        let err = Scenario::from_json_str(r#"{"fallback": {"raw_bytes_b64": "!!"}}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("`fallback.raw_bytes_b64`"), "{err}");
        let err =
            Scenario::from_json_str(r#"{"responses": [{"json": {}, "finish_reason": "stop"}]}"#)
                .unwrap_err()
                .to_string();
        assert!(err.contains("`responses[0].finish_reason`"), "{err}");
    }

    #[test]
    fn a_call_needs_a_name_or_a_description_not_both() {
        let err = Scenario::from_json_str(
            r#"{"responses": [{"tool_calls": [{"name": "f", "tool_described_as": "g"}]}]}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("`responses[0].tool_calls[0]`"), "{err}");
        assert!(err.contains("not both"), "{err}");
        let ok = r#"{"responses": [{"tool_calls": [{"tool_described_as": "Echoes"}]}]}"#;
        let s = Scenario::from_json_str(ok).unwrap();
        let calls = s.responses[0].tool_calls.as_ref().unwrap();
        let want = ToolCall {
            id: None,
            name: String::new(),
            tool_described_as: Some("Echoes".to_string()),
            arguments: json!({}),
        };
        assert_eq!(calls[0], want);
    }

    #[test]
    fn rust_constructors_round_trip_through_json() {
        let s = Scenario::new(vec![
            Response::text("hi").when_body_contains("call_1"),
            Response::tool_call("call_1", "shell", json!({"command": ["ls"]})).with_reasoning("r"),
            Response::raw_bytes(&[0xff, 0x00]).with_status(502),
        ])
        .with_models(["a", "b"]);
        let text = serde_json::to_string(&s).unwrap();
        assert_eq!(Scenario::from_json_str(&text).unwrap(), s);
    }
}
