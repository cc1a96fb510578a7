//! The I/O shell: one HTTP attempt against the chat endpoint, read to the end and
//! classified, plus the retry policy around attempts.

use crate::answer::ChatAnswer;
use crate::answer::ChunkAccumulator;
use crate::answer::arguments_cut_short;
use crate::chat_sse::ChatSseParser;
use crate::chat_sse::SseItem;
use crate::encoded::EncodedBody;
use crate::fault::Fault;
use crate::fault::error_code_from_value;
use crate::fault::error_text_from_body;
use crate::fault::error_text_or_json;
use crate::options::BridgeOptions;
use crate::report::AttemptReport;
use crate::report::interesting_headers;
use crate::tools::ToolMap;
use bytes::Bytes;
use futures::StreamExt;
use http::HeaderMap;
use http::HeaderValue;
use http::header;
use serde_json::Value;
use std::time::Duration;
use std::time::Instant;

/// After `finish_reason`, wait this long for the usage chunk and `[DONE]`, then accept the
/// answer anyway (some servers keep the socket open).
const AFTER_FINISH_GRACE: Duration = Duration::from_secs(2);
/// Largest error body read from a non-2xx answer.
const MAX_ERROR_BODY: usize = 64 * 1024;
/// The detail of a 2xx answer without a single byte.
pub const EMPTY_BODY: &str = "empty body";

/// A 2xx answer that ended before its first byte. llama-cpp-python answers so to a
/// streamed request it cannot stream (`tool_choice` auto with a function-calling chat
/// format, a prompt over its window); asked without streaming it gives the real answer.
pub fn is_empty_body(fault: &Fault) -> bool {
    matches!(fault, Fault::StreamCut { at_byte: 0, detail } if detail == EMPTY_BODY)
}

/// `body` asked without streaming (and so without `stream_options`).
pub fn unstreamed_body(mut body: Value) -> Value {
    if let Some(object) = body.as_object_mut() {
        object.insert("stream".into(), Value::Bool(false));
        object.remove("stream_options");
    }
    body
}

/// Where and how to send the chat request.
#[derive(Debug, Clone)]
pub struct Target {
    pub url: String,
    pub headers: HeaderMap,
}

/// What the caller sees of each chunk as it arrives (live mode streams it on).
pub trait ChunkSink: Send {
    fn on_chunk(&mut self, chunk: &Value);
    /// A new attempt starts (the first, or a retry after a fault): its chunks follow.
    fn attempt_started(&mut self) {}
    /// Whether anything reached Codex yet (then another model may not answer instead).
    fn shown_anything(&self) -> bool {
        false
    }
}

impl ChunkSink for () {
    fn on_chunk(&mut self, _chunk: &Value) {}
}

pub struct AttemptOutput {
    pub result: Result<ChatAnswer, Fault>,
    pub report: AttemptReport,
    /// What arrived before the backend sent an error inside its answer (the error ends
    /// the answer; what came before it is the model's, e.g. its reasoning).
    pub before_error: Option<ChatAnswer>,
}

/// Sends one request and reads the answer to its end.
#[allow(clippy::too_many_arguments)]
pub async fn fetch_once(
    client: &reqwest::Client,
    target: &Target,
    body: &Value,
    options: &BridgeOptions,
    capture_limit: usize,
    attempt: u32,
    turn_deadline: Instant,
    sink: &mut dyn ChunkSink,
) -> AttemptOutput {
    let body = match EncodedBody::encode(body) {
        Ok(body) => body,
        Err(err) => {
            let fault = Fault::BadRequest {
                detail: err.to_string(),
            };
            return AttemptOutput {
                result: Err(fault.clone()),
                report: AttemptReport {
                    attempt,
                    fault: Some(fault),
                    ..AttemptReport::default()
                },
                before_error: None,
            };
        }
    };
    fetch_encoded(
        client,
        target,
        &body,
        options,
        capture_limit,
        attempt,
        turn_deadline,
        sink,
    )
    .await
}

/// [`fetch_once`] with the body already serialized (retries send the same bytes).
#[allow(clippy::too_many_arguments)]
pub async fn fetch_encoded(
    client: &reqwest::Client,
    target: &Target,
    body: &EncodedBody,
    options: &BridgeOptions,
    capture_limit: usize,
    attempt: u32,
    turn_deadline: Instant,
    sink: &mut dyn ChunkSink,
) -> AttemptOutput {
    let started = Instant::now();
    let mut report = AttemptReport {
        attempt,
        ..AttemptReport::default()
    };
    let mut capture = Capture::new(capture_limit);
    let mut accumulator = ChunkAccumulator::default();
    // The attempt ends at its own cap or at the turn's end, whichever is first.
    let deadline = started
        .checked_add(Duration::from_secs(options.request_timeout_secs))
        .map_or(turn_deadline, |own| own.min(turn_deadline));
    let result = fetch_inner(
        client,
        target,
        body,
        options,
        started,
        deadline,
        &mut report,
        &mut capture,
        &mut accumulator,
        sink,
    )
    .await;
    let before_error = matches!(result, Err(Fault::ErrorInStream { .. }))
        .then(|| accumulator.finish())
        .filter(|answer| !answer.is_empty());
    report.total_ms = elapsed_ms(started);
    if capture.limit > 0 {
        report.raw_body = Some(String::from_utf8_lossy(&capture.bytes).into_owned());
        report.raw_body_truncated = capture.truncated;
    }
    if let Err(fault) = &result {
        report.fault = Some(fault.clone());
    }
    AttemptOutput {
        result,
        report,
        before_error,
    }
}

struct Capture {
    limit: usize,
    bytes: Vec<u8>,
    truncated: bool,
}

impl Capture {
    fn new(limit: usize) -> Self {
        Self {
            limit,
            bytes: Vec::new(),
            truncated: false,
        }
    }

    fn push(&mut self, bytes: &[u8]) {
        let room = self.limit.saturating_sub(self.bytes.len());
        if bytes.len() > room {
            self.truncated = self.limit > 0;
        }
        self.bytes
            .extend_from_slice(&bytes[..bytes.len().min(room)]);
    }
}

#[allow(clippy::too_many_arguments)]
async fn fetch_inner(
    client: &reqwest::Client,
    target: &Target,
    body: &EncodedBody,
    options: &BridgeOptions,
    started: Instant,
    deadline: Instant,
    report: &mut AttemptReport,
    capture: &mut Capture,
    accumulator: &mut ChunkAccumulator,
    sink: &mut dyn ChunkSink,
) -> Result<ChatAnswer, Fault> {
    let idle = options.idle_timeout();
    let total = deadline.saturating_duration_since(started);
    let mut headers = target.headers.clone();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(
        header::ACCEPT,
        HeaderValue::from_static(if options.stream {
            "text/event-stream"
        } else {
            "application/json"
        }),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    let request = client
        .post(&target.url)
        .headers(headers)
        .body(body.to_request_body());

    let response = match tokio::time::timeout(idle.min(total), request.send()).await {
        Err(_) => {
            return Err(Fault::Timeout {
                after_ms: elapsed_ms(started),
            });
        }
        Ok(Err(err)) => return Err(classify_send_error(err, started)),
        Ok(Ok(response)) => response,
    };
    report.headers_ms = Some(elapsed_ms(started));
    let status = response.status();
    report.status = Some(status.as_u16());
    report.headers = interesting_headers(response.headers());
    let response_headers = response.headers().clone();
    let mut stream = response.bytes_stream();

    if !status.is_success() {
        let mut body = Vec::new();
        while body.len() < MAX_ERROR_BODY {
            let wait = idle.min(deadline.saturating_duration_since(Instant::now()));
            match tokio::time::timeout(wait, stream.next()).await {
                Ok(Some(Ok(bytes))) => {
                    capture.push(&bytes);
                    report.bytes += bytes.len() as u64;
                    body.extend_from_slice(&bytes);
                }
                _ => break,
            }
        }
        return Err(Fault::HttpStatus {
            status: status.as_u16(),
            message: error_text_from_body(&String::from_utf8_lossy(&body)),
            retry_after_ms: retry_after_ms(&response_headers),
        });
    }

    let content_type = response_headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let mut parser = ChatSseParser::default();
    let mut raw_json: Vec<u8> = Vec::new();
    // Decided on the first bytes when the content type does not say.
    let mut is_sse: Option<bool> = if content_type.contains("text/event-stream") {
        Some(true)
    } else if content_type.contains("json") {
        Some(false)
    } else {
        None
    };
    let mut total_bytes: u64 = 0;
    loop {
        let finished = accumulator.answer().has_finish_reason();
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            if finished {
                break;
            }
            return Err(Fault::TotalTimeout {
                after_ms: elapsed_ms(started),
            });
        }
        let wait = if finished { AFTER_FINISH_GRACE } else { idle }.min(remaining);
        let next = tokio::time::timeout(wait, stream.next()).await;
        let bytes: Bytes = match next {
            Err(_) => {
                if finished {
                    break;
                }
                if remaining <= idle {
                    return Err(Fault::TotalTimeout {
                        after_ms: elapsed_ms(started),
                    });
                }
                return Err(Fault::IdleStall {
                    after_ms: wait.as_millis() as u64,
                    at_byte: total_bytes,
                });
            }
            Ok(None) => break,
            Ok(Some(Err(err))) => {
                if finished {
                    break;
                }
                return Err(Fault::StreamCut {
                    at_byte: total_bytes,
                    detail: err.without_url().to_string(),
                });
            }
            Ok(Some(Ok(bytes))) => bytes,
        };
        if report.first_byte_ms.is_none() {
            report.first_byte_ms = Some(elapsed_ms(started));
        }
        total_bytes += bytes.len() as u64;
        report.bytes = total_bytes;
        capture.push(&bytes);
        if total_bytes > options.max_response_bytes as u64 {
            return Err(Fault::TooLarge {
                limit: options.max_response_bytes as u64,
            });
        }
        let sse = *is_sse.get_or_insert_with(|| {
            let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
            !matches!(first, Some(b'{'))
        });
        if !sse {
            raw_json.extend_from_slice(&bytes);
            continue;
        }
        let items = parser.feed(&bytes)?;
        if absorb_items(items, accumulator, report, &parser, sink)? {
            break;
        }
    }

    if is_sse == Some(false) {
        return parse_json_body(&raw_json);
    }
    if !report.done_marker {
        let items = parser.finish()?;
        absorb_items(items, accumulator, report, &parser, sink)?;
    }
    report.chunks = accumulator.chunks() as u64;
    let answer = std::mem::take(accumulator).finish();
    if !answer.has_finish_reason() && !report.done_marker {
        return Err(Fault::StreamCut {
            at_byte: total_bytes,
            detail: if total_bytes == 0 {
                EMPTY_BODY.to_string()
            } else {
                "connection closed without finish_reason or [DONE]".to_string()
            },
        });
    }
    validate_answer(answer, total_bytes)
}

/// The checks every complete answer passes, streamed or not: not empty, and no tool call
/// with half its arguments (a cut answer: retried like a cut stream, never run). After
/// `finish_reason = "length"` cut calls are dropped later, with a note.
pub fn validate_answer(answer: ChatAnswer, at_byte: u64) -> Result<ChatAnswer, Fault> {
    let cut_by_length = answer.finish_reason.as_deref() == Some("length");
    if answer.is_empty() && !cut_by_length {
        return Err(Fault::EmptyAnswer);
    }
    if !cut_by_length
        && let Some(call) = answer
            .tool_calls
            .iter()
            .find(|call| arguments_cut_short(&call.arguments))
    {
        return Err(Fault::StreamCut {
            at_byte,
            detail: format!(
                "the arguments of tool call `{}` end in the middle of their JSON",
                crate::fault::shorten(&call.name, 64)
            ),
        });
    }
    Ok(answer)
}

/// A tool call that came with no arguments at all, for a declared tool that requires some:
/// what a stream cut right after the call's name looks like once a gateway closes it
/// (LiteLLM ends a cut stream with its own `finish_reason` and `[DONE]`). Backends send `{}`
/// for a call without arguments, never nothing; a `{}` that lacks required fields is the
/// model's mistake and goes to Codex, which tells the model.
pub fn required_arguments_missing(
    answer: &ChatAnswer,
    tools: &ToolMap,
    at_byte: u64,
) -> Option<Fault> {
    if answer.finish_reason.as_deref() == Some("length") {
        return None;
    }
    answer.tool_calls.iter().find_map(|call| {
        if !call.arguments.trim().is_empty() {
            return None;
        }
        let required: Vec<&str> = tools
            .parameters(&call.name)?
            .get("required")?
            .as_array()?
            .iter()
            .filter_map(Value::as_str)
            .collect();
        (!required.is_empty()).then(|| Fault::StreamCut {
            at_byte,
            detail: format!(
                "tool call `{}` came without arguments, though the tool requires `{}`",
                crate::fault::shorten(&call.name, 64),
                crate::fault::shorten(&required.join("`, `"), 120)
            ),
        })
    })
}

/// The answer in a whole body, read as `fetch_once` reads it (SSE fed in `piece`-byte
/// reads, or one JSON document), without I/O: for tests and benchmarks of the pure path.
pub fn answer_from_body(body: &[u8], sse: bool, piece: usize) -> Result<ChatAnswer, Fault> {
    if !sse {
        return parse_json_body(body);
    }
    let mut parser = ChatSseParser::default();
    let mut accumulator = ChunkAccumulator::default();
    let mut report = AttemptReport::default();
    for bytes in body.chunks(piece.max(1)) {
        let items = parser.feed(bytes)?;
        if absorb_items(items, &mut accumulator, &mut report, &parser, &mut ())? {
            break;
        }
    }
    if !report.done_marker {
        let items = parser.finish()?;
        absorb_items(items, &mut accumulator, &mut report, &parser, &mut ())?;
    }
    let answer = accumulator.finish();
    if !answer.has_finish_reason() && !report.done_marker {
        return Err(Fault::StreamCut {
            at_byte: body.len() as u64,
            detail: "connection closed without finish_reason or [DONE]".to_string(),
        });
    }
    validate_answer(answer, body.len() as u64)
}

/// Returns true at `[DONE]`.
fn absorb_items(
    items: Vec<SseItem>,
    accumulator: &mut ChunkAccumulator,
    report: &mut AttemptReport,
    parser: &ChatSseParser,
    sink: &mut dyn ChunkSink,
) -> Result<bool, Fault> {
    for item in items {
        match item {
            SseItem::Done => {
                report.done_marker = true;
                return Ok(true);
            }
            SseItem::Json(chunk) => {
                if chunk.get("error").is_some_and(|e| !e.is_null()) {
                    return Err(Fault::ErrorInStream {
                        message: error_text_or_json(&chunk),
                        code: error_code_from_value(&chunk),
                        at_byte: parser.bytes_seen(),
                    });
                }
                accumulator.push_chunk(&chunk);
                sink.on_chunk(&chunk);
            }
        }
    }
    Ok(false)
}

fn parse_json_body(raw: &[u8]) -> Result<ChatAnswer, Fault> {
    let text = std::str::from_utf8(raw).map_err(|err| Fault::InvalidUtf8 {
        at_byte: err.valid_up_to() as u64,
    })?;
    let value: Value = serde_json::from_str(text).map_err(|err| {
        if err.is_eof() {
            Fault::StreamCut {
                at_byte: raw.len() as u64,
                detail: "JSON body ended early".to_string(),
            }
        } else {
            Fault::MalformedChunk {
                at_byte: 0,
                detail: err.to_string(),
            }
        }
    })?;
    if value.get("error").is_some_and(|e| !e.is_null()) {
        return Err(Fault::ErrorInStream {
            message: error_text_or_json(&value),
            code: error_code_from_value(&value),
            at_byte: 0,
        });
    }
    validate_answer(ChatAnswer::from_completion(&value), raw.len() as u64)
}

fn classify_send_error(err: reqwest::Error, started: Instant) -> Fault {
    if err.is_timeout() {
        return Fault::Timeout {
            after_ms: elapsed_ms(started),
        };
    }
    // The URL may carry credentials (query keys): never put it in messages.
    let err = err.without_url();
    let mut detail = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        detail = format!("{detail}: {cause}");
        source = cause.source();
    }
    let lower = detail.to_ascii_lowercase();
    let detail = if lower.contains("connection refused") {
        "connection refused".to_string()
    } else if lower.contains("dns")
        || lower.contains("failed to lookup")
        || lower.contains("name or service not known")
    {
        format!("name lookup failed: {detail}")
    } else {
        detail
    };
    Fault::Connect { detail }
}

/// `retry-after-ms`, `retry-after` in seconds, or `retry-after` as an HTTP date. LiteLLM
/// drops the backend's `retry-after` from a 429 and passes it on as
/// `llm_provider-retry-after`: read that when the standard header is missing.
pub fn retry_after_ms(headers: &HeaderMap) -> Option<u64> {
    ["", "llm_provider-"]
        .into_iter()
        .find_map(|prefix| prefixed_retry_after_ms(headers, prefix))
}

fn prefixed_retry_after_ms(headers: &HeaderMap, prefix: &str) -> Option<u64> {
    let get = |name: &str| {
        headers
            .get(format!("{prefix}{name}").as_str())
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(ms) = get("retry-after-ms")
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|v| v.is_finite() && *v >= 0.0)
    {
        return Some(ms as u64);
    }
    let value = get("retry-after")?;
    if let Ok(seconds) = value.parse::<f64>() {
        return (seconds.is_finite() && seconds >= 0.0).then_some((seconds * 1000.0) as u64);
    }
    let when = httpdate::parse_http_date(value).ok()?;
    let wait = when
        .duration_since(std::time::SystemTime::now())
        .unwrap_or_default();
    Some(wait.as_millis() as u64)
}

/// How long to wait before attempt `next_attempt` (2, 3, ...): the server's `Retry-After`
/// (capped) when it gave one, else exponential backoff with +-25% jitter.
pub fn retry_delay(
    fault: &Fault,
    next_attempt: u32,
    options: &BridgeOptions,
) -> (Duration, String) {
    let cap = Duration::from_secs(options.max_retry_after_secs);
    if let Some(ms) = fault.retry_after_ms() {
        let asked = Duration::from_millis(ms);
        if asked > cap {
            return (
                cap,
                format!("retry-after {}s capped to {}s", ms / 1000, cap.as_secs()),
            );
        }
        return (asked, format!("retry-after {ms}ms"));
    }
    let exponent = next_attempt.saturating_sub(2).min(16);
    let base = options.retry_base_delay_ms.saturating_mul(1u64 << exponent);
    let base = base.min(options.retry_max_delay_ms);
    let jitter = 0.75 + rand::random::<f64>() * 0.5;
    let delay = Duration::from_millis((base as f64 * jitter) as u64);
    (delay, format!("backoff after {}", fault.kind()))
}

fn elapsed_ms(started: Instant) -> u64 {
    started.elapsed().as_millis() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn completion(arguments: &str, finish_reason: &str) -> Vec<u8> {
        serde_json::json!({"choices": [{"finish_reason": finish_reason, "message": {"tool_calls": [
            {"id": "c1", "function": {"name": "shell", "arguments": arguments}}
        ]}}]})
        .to_string()
        .into_bytes()
    }

    fn chunks(arguments: &str, finish_reason: &str) -> Vec<u8> {
        let call = serde_json::json!({"choices": [{"delta": {"tool_calls": [
            {"index": 0, "id": "c1", "function": {"name": "shell", "arguments": arguments}}
        ]}}]});
        let end = serde_json::json!({"choices": [{"delta": {}, "finish_reason": finish_reason}]});
        format!("data: {call}\n\ndata: {end}\n\ndata: [DONE]\n\n").into_bytes()
    }

    /// Arguments cut in the middle are a cut answer (retried, never run); arguments that
    /// are simply not JSON go to Codex, which tells the model; after `length` the bridge
    /// drops cut calls itself.
    #[test]
    fn cut_tool_arguments_are_a_cut_answer_wrong_ones_go_through() {
        for sse in [false, true] {
            let body = |arguments: &str, finish: &str| {
                if sse {
                    chunks(arguments, finish)
                } else {
                    completion(arguments, finish)
                }
            };
            let cut = answer_from_body(&body("{", "x"), sse, 7);
            assert!(
                matches!(&cut, Err(Fault::StreamCut { detail, .. }) if detail.contains("`shell`")),
                "sse {sse}: {cut:?}"
            );
            assert!(matches!(
                answer_from_body(&body("{\"cmd\": \"l", "tool_calls"), sse, 7),
                Err(Fault::StreamCut { .. })
            ));
            let wrong = answer_from_body(&body("x", "tool_calls"), sse, 7);
            assert_eq!(
                wrong.map(|a| a.tool_calls[0].arguments.clone()),
                Ok("x".to_string()),
                "sse {sse}"
            );
            let length = answer_from_body(&body("{", "length"), sse, 7);
            assert!(length.is_ok(), "sse {sse}: {length:?}");
        }
    }

    /// Through a gateway, a stream cut right after a tool call's name arrives "finished"
    /// with empty arguments: a cut when the tool requires arguments; `{}` (the model's own
    /// mistake) and tools without required arguments go through.
    #[test]
    fn empty_arguments_for_a_tool_that_requires_some_are_a_cut() {
        let tools = crate::tools::translate_tools(
            &[
                serde_json::json!({"type": "function", "name": "shell", "parameters": {"type": "object", "properties": {"command": {"type": "array"}}, "required": ["command"]}}),
                serde_json::json!({"type": "function", "name": "list_things", "parameters": {"type": "object", "properties": {}}}),
            ],
            false,
        )
        .map;
        let answer = |name: &str, arguments: &str, finish: &str| ChatAnswer {
            tool_calls: vec![crate::answer::ToolCall {
                index: Some(0),
                id: Some("c1".into()),
                name: name.into(),
                arguments: arguments.into(),
            }],
            finish_reason: Some(finish.into()),
            ..ChatAnswer::default()
        };
        for empty in ["", "  "] {
            let cut = required_arguments_missing(&answer("shell", empty, "stop"), &tools, 650);
            assert!(
                matches!(&cut, Some(Fault::StreamCut { at_byte: 650, detail }) if detail.contains("`shell` came without arguments") && detail.contains("requires `command`")),
                "{cut:?}"
            );
        }
        assert_eq!(
            required_arguments_missing(&answer("shell", "{}", "stop"), &tools, 1),
            None
        );
        assert_eq!(
            required_arguments_missing(&answer("list_things", "", "stop"), &tools, 1),
            None
        );
        assert_eq!(
            required_arguments_missing(&answer("undeclared", "", "stop"), &tools, 1),
            None
        );
        assert_eq!(
            required_arguments_missing(&answer("shell", "", "length"), &tools, 1),
            None
        );
    }

    /// An error object without a message is shown as JSON, shortened like every other
    /// error text, not the whole chunk.
    #[test]
    fn an_error_without_a_message_is_shortened() {
        let blob = "x".repeat(100_000);
        let error = serde_json::json!({"error": {"code": 500, "trace": blob}});
        for sse in [false, true] {
            let body = if sse {
                format!("data: {error}\n\n").into_bytes()
            } else {
                error.to_string().into_bytes()
            };
            match answer_from_body(&body, sse, 7) {
                Err(Fault::ErrorInStream { message, code, .. }) => {
                    assert!(
                        message.chars().count() <= 601,
                        "sse {sse}: {}",
                        message.len()
                    );
                    assert!(
                        message.starts_with("{\"error\":{"),
                        "sse {sse}: {message:.40}"
                    );
                    assert_eq!(code.as_deref(), Some("500"));
                }
                other => panic!("sse {sse}: {other:?}"),
            }
        }
    }

    #[test]
    fn retry_after_forms() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", HeaderValue::from_static("3"));
        assert_eq!(retry_after_ms(&headers), Some(3000));
        headers.insert("retry-after-ms", HeaderValue::from_static("250"));
        assert_eq!(retry_after_ms(&headers), Some(250));
        let mut dated = HeaderMap::new();
        let later = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(30));
        dated.insert(
            "retry-after",
            HeaderValue::from_str(&later).unwrap_or(HeaderValue::from_static("0")),
        );
        let ms = retry_after_ms(&dated).unwrap_or(0);
        assert!((28_000..=30_000).contains(&ms), "{ms}");
        let mut junk = HeaderMap::new();
        junk.insert("retry-after", HeaderValue::from_static("soon"));
        assert_eq!(retry_after_ms(&junk), None);
        let mut via_litellm = HeaderMap::new();
        via_litellm.insert("llm_provider-retry-after", HeaderValue::from_static("7"));
        assert_eq!(retry_after_ms(&via_litellm), Some(7000));
        via_litellm.insert("retry-after", HeaderValue::from_static("2"));
        assert_eq!(
            retry_after_ms(&via_litellm),
            Some(2000),
            "the standard header wins"
        );
    }

    #[test]
    fn retry_delay_caps_retry_after_and_backs_off_exponentially() {
        let options = BridgeOptions {
            max_retry_after_secs: 5,
            retry_base_delay_ms: 100,
            retry_max_delay_ms: 1000,
            ..BridgeOptions::default()
        };
        let limited = Fault::HttpStatus {
            status: 429,
            message: String::new(),
            retry_after_ms: Some(60_000),
        };
        assert_eq!(retry_delay(&limited, 2, &options).0, Duration::from_secs(5));
        let cut = Fault::StreamCut {
            at_byte: 1,
            detail: String::new(),
        };
        for (attempt, base) in [
            (2u32, 100u64),
            (3, 200),
            (4, 400),
            (5, 800),
            (6, 1000),
            (30, 1000),
        ] {
            let (delay, _) = retry_delay(&cut, attempt, &options);
            let ms = delay.as_millis() as u64;
            assert!(
                ms >= base * 3 / 4 && ms <= base * 5 / 4,
                "attempt {attempt}: {ms}ms vs base {base}"
            );
        }
    }
}
