//! Everything that can go wrong with one attempt, whether it is worth retrying, and how it
//! is told to Codex (`response.failed` code) and to the user (message).

use crate::simulate::codes;
use serde::Serialize;
use serde_json::Value;

/// One failed attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// Connection refused, DNS failure, TLS failure, reset before any response.
    Connect {
        detail: String,
    },
    /// No response headers within the idle timeout.
    Timeout {
        after_ms: u64,
    },
    /// The whole attempt took longer than `request_timeout_secs`.
    TotalTimeout {
        after_ms: u64,
    },
    /// The body stopped: no byte for `after_ms`.
    IdleStall {
        after_ms: u64,
        at_byte: u64,
    },
    /// A non-2xx answer. `message` is the backend's own error text.
    HttpStatus {
        status: u16,
        message: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        retry_after_ms: Option<u64>,
    },
    /// `{"error": ...}` inside a 200 answer.
    ErrorInStream {
        message: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        code: Option<String>,
        at_byte: u64,
    },
    /// The body ended (or the connection dropped) before a `finish_reason`.
    StreamCut {
        at_byte: u64,
        detail: String,
    },
    MalformedChunk {
        at_byte: u64,
        detail: String,
    },
    InvalidUtf8 {
        at_byte: u64,
    },
    TooLarge {
        limit: u64,
    },
    /// A finished answer with no text, no reasoning and no tool call.
    EmptyAnswer,
    /// The Codex request could not be translated (not retried).
    BadRequest {
        detail: String,
    },
}

/// How Codex should end the turn when the bridge gives up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureSignal {
    /// Answer Codex with this HTTP status (so its auth handling runs).
    Http { status: u16 },
    /// A `response.failed` event with this code.
    Failed { code: &'static str },
}

impl Fault {
    pub fn retryable(&self) -> bool {
        match self {
            Fault::Connect { .. }
            | Fault::Timeout { .. }
            | Fault::TotalTimeout { .. }
            | Fault::IdleStall { .. }
            | Fault::StreamCut { .. }
            | Fault::MalformedChunk { .. }
            | Fault::InvalidUtf8 { .. }
            | Fault::EmptyAnswer => true,
            Fault::HttpStatus {
                status, message, ..
            } => is_retryable_status(*status) && !is_context_length_error(message),
            Fault::ErrorInStream { message, code, .. } => {
                error_in_stream_is_retryable(message, code.as_deref())
            }
            Fault::TooLarge { .. } | Fault::BadRequest { .. } => false,
        }
    }

    pub fn retry_after_ms(&self) -> Option<u64> {
        match self {
            Fault::HttpStatus { retry_after_ms, .. } => *retry_after_ms,
            _ => None,
        }
    }

    /// Short machine-readable name (telemetry, logs).
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::Connect { .. } => "connect",
            Fault::Timeout { .. } => "timeout",
            Fault::TotalTimeout { .. } => "total_timeout",
            Fault::IdleStall { .. } => "idle_stall",
            Fault::HttpStatus { .. } => "http_status",
            Fault::ErrorInStream { .. } => "error_in_stream",
            Fault::StreamCut { .. } => "stream_cut",
            Fault::MalformedChunk { .. } => "malformed_chunk",
            Fault::InvalidUtf8 { .. } => "invalid_utf8",
            Fault::TooLarge { .. } => "too_large",
            Fault::EmptyAnswer => "empty_answer",
            Fault::BadRequest { .. } => "bad_request",
        }
    }

    /// One line saying what happened, for the user and the telemetry diagnosis.
    pub fn describe(&self) -> String {
        match self {
            Fault::Connect { detail } => format!("could not connect to the backend ({detail})"),
            Fault::Timeout { after_ms } => {
                format!("the backend did not answer within {}", seconds(*after_ms))
            }
            Fault::TotalTimeout { after_ms } => format!(
                "the answer took longer than {} and was abandoned",
                seconds(*after_ms)
            ),
            Fault::IdleStall { after_ms, at_byte } => format!(
                "the answer stalled: no data for {} after byte {at_byte}",
                seconds(*after_ms)
            ),
            Fault::HttpStatus {
                status, message, ..
            } => {
                let reason = http::StatusCode::from_u16(*status)
                    .ok()
                    .and_then(|s| s.canonical_reason())
                    .unwrap_or("");
                if message.is_empty() {
                    format!("the backend answered HTTP {status} {reason}")
                } else {
                    format!("the backend answered HTTP {status} {reason}: {message}")
                }
            }
            Fault::ErrorInStream { message, code, .. } => match code {
                Some(code) => {
                    format!("the backend sent an error in its answer ({code}): {message}")
                }
                None => format!("the backend sent an error in its answer: {message}"),
            },
            Fault::StreamCut { at_byte, detail } => {
                format!("the answer was cut off at byte {at_byte} before it finished ({detail})")
            }
            Fault::MalformedChunk { at_byte, detail } => {
                format!("the backend sent malformed data at byte {at_byte} ({detail})")
            }
            Fault::InvalidUtf8 { at_byte } => {
                format!("the backend sent invalid UTF-8 at byte {at_byte}")
            }
            Fault::TooLarge { limit } => format!(
                "the answer exceeded the {limit}-byte limit (litellm_bridge.max_response_bytes)"
            ),
            Fault::EmptyAnswer => {
                "the backend finished with an empty answer (no text, no tool call)".to_string()
            }
            Fault::BadRequest { detail } => {
                format!("codex-litellm could not translate the request: {detail}")
            }
        }
    }

    /// What to hand Codex once the bridge stops retrying this fault.
    pub fn failure_signal(&self) -> FailureSignal {
        match self {
            Fault::HttpStatus { status: 401, .. } => FailureSignal::Http { status: 401 },
            Fault::HttpStatus {
                status, message, ..
            } => {
                if is_context_length_error(message) {
                    FailureSignal::Failed {
                        code: codes::CONTEXT_LENGTH_EXCEEDED,
                    }
                } else if *status == 429 {
                    FailureSignal::Failed {
                        code: codes::RATE_LIMIT_EXCEEDED,
                    }
                } else if is_retryable_status(*status) {
                    FailureSignal::Failed {
                        code: codes::BACKEND_ERROR,
                    }
                } else {
                    FailureSignal::Failed {
                        code: codes::INVALID_PROMPT,
                    }
                }
            }
            Fault::ErrorInStream { message, code, .. } => {
                if is_context_length_error(message)
                    || code.as_deref().is_some_and(is_context_length_error)
                {
                    FailureSignal::Failed {
                        code: codes::CONTEXT_LENGTH_EXCEEDED,
                    }
                } else if mentions_rate_limit(message, code.as_deref()) {
                    FailureSignal::Failed {
                        code: codes::RATE_LIMIT_EXCEEDED,
                    }
                } else if self.retryable() {
                    FailureSignal::Failed {
                        code: codes::BACKEND_ERROR,
                    }
                } else {
                    FailureSignal::Failed {
                        code: codes::INVALID_PROMPT,
                    }
                }
            }
            Fault::TooLarge { .. } | Fault::BadRequest { .. } => FailureSignal::Failed {
                code: codes::INVALID_PROMPT,
            },
            _ => FailureSignal::Failed {
                code: codes::BACKEND_ERROR,
            },
        }
    }
}

fn seconds(ms: u64) -> String {
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{:.1}s", ms as f64 / 1000.0)
    }
}

pub fn is_retryable_status(status: u16) -> bool {
    matches!(
        status,
        408 | 409 | 425 | 429 | 500 | 502 | 503 | 504 | 520..=529
    )
}

/// Backends word "prompt too long" in many ways; all of them mean the context window.
pub fn is_context_length_error(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    [
        "context_length_exceeded",
        "context length",
        "context_window",
        "context window",
        "contextwindowexceeded",
        "maximum context",
        "prompt is too long",
        "input is too long",
        "too many tokens",
        "reduce the length of the messages",
        "exceeds the model's maximum",
        "exceed_context_size",
    ]
    .iter()
    .any(|needle| lower.contains(needle))
}

fn mentions_rate_limit(message: &str, code: Option<&str>) -> bool {
    let lower = message.to_ascii_lowercase();
    code.is_some_and(|c| c == "429" || c.contains("rate_limit"))
        || lower.contains("rate limit")
        || lower.contains("ratelimit")
        || lower.contains("too many requests")
}

fn error_in_stream_is_retryable(message: &str, code: Option<&str>) -> bool {
    if is_context_length_error(message) || code.is_some_and(is_context_length_error) {
        return false;
    }
    if let Some(status) = code.and_then(|c| c.parse::<u16>().ok()) {
        return is_retryable_status(status);
    }
    let lower = message.to_ascii_lowercase();
    let permanent = [
        "invalid_request",
        "invalid request",
        "badrequest",
        "bad request",
        "authentication",
        "unauthorized",
        "permission",
        "not found",
        "notfound",
        "does not exist",
        "not supported",
        "unsupported",
    ];
    let is_permanent = permanent.iter().any(|needle| lower.contains(needle))
        || code.is_some_and(|c| {
            let c = c.to_ascii_lowercase();
            c.contains("invalid")
                || c.contains("auth")
                || c.contains("not_found")
                || c.contains("permission")
        });
    !is_permanent
}

/// The human part of an error body: `{"error": {"message"}}`, `{"error": "..."}`,
/// `{"detail": ...}`, `{"message": ...}`, else the text itself (shortened).
pub fn error_text_from_body(body: &str) -> String {
    if let Ok(value) = serde_json::from_str::<Value>(body)
        && let Some(text) = error_text_from_value(&value)
    {
        return text;
    }
    shorten(body.trim(), 600)
}

/// The human part of an error object, else the object itself as JSON; shortened either way
/// (a gateway's `{"error": {...}}` without a message can be as large as the body cap).
pub fn error_text_or_json(value: &Value) -> String {
    error_text_from_value(value).unwrap_or_else(|| shorten(&value.to_string(), 600))
}

pub fn error_text_from_value(value: &Value) -> Option<String> {
    let error = value.get("error").unwrap_or(value);
    let text = match error {
        Value::String(text) => Some(text.clone()),
        Value::Object(object) => object
            .get("message")
            .or_else(|| object.get("detail"))
            .or_else(|| object.get("msg"))
            .map(|m| match m {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            }),
        _ => None,
    };
    text.or_else(|| {
        value.get("detail").map(|d| {
            d.as_str()
                .map(str::to_string)
                .unwrap_or_else(|| d.to_string())
        })
    })
    .map(|t| shorten(t.trim(), 600))
}

/// The `code` (or `type`) of an error object, as text.
pub fn error_code_from_value(value: &Value) -> Option<String> {
    let error = value.get("error").unwrap_or(value);
    let code = error.get("code").or_else(|| error.get("type"))?;
    match code {
        Value::String(text) if !text.is_empty() => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// `text` cut to `max_chars`, credentials removed first: a key cut in half is no longer
/// recognisable (literally or by shape), so redaction after the cut would leave its head.
pub fn shorten(text: &str, max_chars: usize) -> String {
    let text = crate::redact::redact_text(text);
    if text.chars().count() <= max_chars {
        return text;
    }
    let head: String = text.chars().take(max_chars).collect();
    format!("{head}…")
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn http(status: u16, message: &str) -> Fault {
        Fault::HttpStatus {
            status,
            message: message.to_string(),
            retry_after_ms: None,
        }
    }

    #[test]
    fn retry_and_signal_table() {
        let cases: Vec<(Fault, bool, FailureSignal)> = vec![
            (
                http(429, "slow down"),
                true,
                FailureSignal::Failed {
                    code: codes::RATE_LIMIT_EXCEEDED,
                },
            ),
            (
                http(500, "boom"),
                true,
                FailureSignal::Failed {
                    code: codes::BACKEND_ERROR,
                },
            ),
            (
                http(503, "overloaded"),
                true,
                FailureSignal::Failed {
                    code: codes::BACKEND_ERROR,
                },
            ),
            (
                http(400, "bad tool schema"),
                false,
                FailureSignal::Failed {
                    code: codes::INVALID_PROMPT,
                },
            ),
            (
                http(400, "This model's maximum context length is 8192 tokens"),
                false,
                FailureSignal::Failed {
                    code: codes::CONTEXT_LENGTH_EXCEEDED,
                },
            ),
            (
                http(401, "invalid key"),
                false,
                FailureSignal::Http { status: 401 },
            ),
            (
                http(403, "key not allowed"),
                false,
                FailureSignal::Failed {
                    code: codes::INVALID_PROMPT,
                },
            ),
            (
                http(404, "no such model"),
                false,
                FailureSignal::Failed {
                    code: codes::INVALID_PROMPT,
                },
            ),
            (
                Fault::ErrorInStream {
                    message: "litellm.RateLimitError: too many requests".into(),
                    code: Some("429".into()),
                    at_byte: 10,
                },
                true,
                FailureSignal::Failed {
                    code: codes::RATE_LIMIT_EXCEEDED,
                },
            ),
            (
                Fault::ErrorInStream {
                    message: "litellm.BadRequestError: invalid tool".into(),
                    code: Some("400".into()),
                    at_byte: 10,
                },
                false,
                FailureSignal::Failed {
                    code: codes::INVALID_PROMPT,
                },
            ),
            (
                Fault::ErrorInStream {
                    message: "ContextWindowExceededError: prompt is too long".into(),
                    code: None,
                    at_byte: 10,
                },
                false,
                FailureSignal::Failed {
                    code: codes::CONTEXT_LENGTH_EXCEEDED,
                },
            ),
            (
                Fault::ErrorInStream {
                    message: "upstream connection reset".into(),
                    code: None,
                    at_byte: 10,
                },
                true,
                FailureSignal::Failed {
                    code: codes::BACKEND_ERROR,
                },
            ),
            (
                Fault::Connect {
                    detail: "connection refused".into(),
                },
                true,
                FailureSignal::Failed {
                    code: codes::BACKEND_ERROR,
                },
            ),
            (
                Fault::StreamCut {
                    at_byte: 5,
                    detail: "eof".into(),
                },
                true,
                FailureSignal::Failed {
                    code: codes::BACKEND_ERROR,
                },
            ),
            (
                Fault::TooLarge { limit: 10 },
                false,
                FailureSignal::Failed {
                    code: codes::INVALID_PROMPT,
                },
            ),
        ];
        for (fault, retryable, signal) in cases {
            assert_eq!(fault.retryable(), retryable, "{fault:?}");
            assert_eq!(fault.failure_signal(), signal, "{fault:?}");
        }
    }

    /// Issue 22 (1): an echoed key across the 600-character cut is removed whole, in every
    /// body shape, wherever it sits.
    #[test]
    fn error_texts_are_redacted_before_they_are_shortened() {
        let key = "Kx9vB2nM7qL4wR8tY3pZ6hJ1dF5gA0cS2eU7iO9kQ4m";
        crate::redact::register_secret(key);
        // A cut leaks 8 characters or more at echo positions 557..=592: a step of 7 finds it.
        for at in (550..610).step_by(7) {
            let filler: String = "the gateway rejected it. "
                .chars()
                .cycle()
                .take(at)
                .collect();
            let text = format!("{filler}Authorization: Bearer {key} (id 7)");
            let json = serde_json::json!({"error": {"message": text}});
            for shown in [
                error_text_from_body(&text),
                error_text_from_body(&json.to_string()),
                error_text_or_json(&json),
                error_text_or_json(&serde_json::json!({"error": {"note": text}})),
            ] {
                let leaked = key
                    .as_bytes()
                    .windows(8)
                    .any(|run| shown.contains(std::str::from_utf8(run).unwrap_or_default()));
                assert!(!leaked, "8 characters of the key at echo position {at}");
            }
        }
    }

    #[test]
    fn error_text_extraction() {
        assert_eq!(
            error_text_from_body(r#"{"error": {"message": "bad key", "type": "auth"}}"#),
            "bad key"
        );
        assert_eq!(error_text_from_body(r#"{"error": "plain"}"#), "plain");
        assert_eq!(
            error_text_from_body(r#"{"detail": "Not Found"}"#),
            "Not Found"
        );
        assert_eq!(
            error_text_from_body("<html>502 Bad Gateway</html>"),
            "<html>502 Bad Gateway</html>"
        );
    }
}
