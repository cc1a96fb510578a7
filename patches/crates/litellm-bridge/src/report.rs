//! What happened during one bridged request, for telemetry. The bridge fills it in; the
//! telemetry crates redact, store and aggregate it.

use crate::answer::ChatAnswer;
use crate::answer::Usage;
use crate::fault::Fault;
use crate::options::BridgeMode;
use crate::postprocess::RecoveredCall;
use crate::request::RequestSummary;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// Receives one report per bridged request (also when Codex abandons the request).
pub trait ExchangeObserver: Send + Sync {
    fn on_exchange(&self, report: &ExchangeReport);
    /// A line for the user while the request runs (another model answers instead);
    /// codex-litellm prints it on stderr in exec and keeps it for `/status`.
    fn on_notice(&self, _notice: &str) {}
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ExchangeReport {
    /// Unix time in milliseconds when Codex handed the request over.
    pub started_at_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub turn_id: Option<String>,
    pub provider: String,
    /// The provider's id in litellm.toml, when the caller knows it (see [`Self::provider_table`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider_id: Option<String>,
    /// The chat endpoint, with any credentials in it removed.
    pub url: String,
    pub mode: BridgeMode,
    pub request: RequestSummary,
    /// Size of the translated body, in bytes.
    pub request_bytes: u64,
    /// The translated chat request body (telemetry decides whether to keep it).
    #[serde(skip_serializing_if = "Value::is_null")]
    pub request_body: Value,
    pub attempts: Vec<AttemptReport>,
    /// Continuation requests made after `finish_reason = "length"`.
    pub continuations: u32,
    /// Live mode: shown text ended as an interrupted message because the retried answer
    /// did not continue it (the retry's whole answer followed).
    #[serde(skip_serializing_if = "crate::request::is_zero")]
    pub interrupted_answers: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finish_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// The backend sent no usage; `usage` is the bridge's estimate ([`Usage::estimate`]).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub usage_estimated: bool,
    /// The output-token cap that was in force, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u64>,
    /// Responses events handed to Codex, by type.
    pub events: BTreeMap<String, u64>,
    pub recovered_tool_calls: Vec<RecoveredCall>,
    /// Continuation guard: nudges sent after an answer that promised an action but made
    /// no tool call.
    #[serde(skip_serializing_if = "crate::request::is_zero_u32")]
    pub nudges: u32,
    /// The turn was handed over still ending with a promise after the nudges.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub nudge_unanswered: bool,
    /// Loop guard: the note added to this request, or the stop that answered it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loop_guard: Option<LoopGuardReport>,
    /// Another model answered instead of the one Codex asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback: Option<FallbackReport>,
    /// A streamed attempt got a 2xx answer with no bytes, and the bridge asked once more
    /// without streaming (`stream = false` for this provider avoids the wasted attempt).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub stream_fallback: bool,
    pub outcome: Outcome,
    pub total_ms: u64,
}

/// What the loop guard did to one request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoopGuardReport {
    /// `note` (a note to the model was added) or `stop` (the turn was ended).
    pub action: &'static str,
    /// The repeated call's name.
    pub call: String,
    /// Times in a row.
    pub count: u32,
    /// Whether the repeated call failed each time (else it succeeded each time).
    pub failing: bool,
}

/// A switch to the next model of `fallback = [...]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FallbackReport {
    /// `<provider>/<model>` asked for, and the one that answered.
    pub from: String,
    pub to: String,
    /// `overloaded`, `rate_limited`, `server_error`, `unreachable`, `context_length`, or
    /// `cooling_down` (the first model failed shortly before and was not tried).
    pub reason: String,
    /// The reason in words, as the notice says it.
    pub detail: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct AttemptReport {
    pub attempt: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Response headers that explain behaviour (rate limits, retry-after, request ids).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Time until the response headers arrived.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub headers_ms: Option<u64>,
    /// Time until the first body byte.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_byte_ms: Option<u64>,
    pub total_ms: u64,
    pub bytes: u64,
    pub chunks: u64,
    /// Whether the stream ended with `[DONE]`.
    pub done_marker: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault: Option<Fault>,
    /// Wait before the next attempt, and why that long.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_wait_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_wait_reason: Option<String>,
    /// Raw upstream bytes, when capture is on (size-capped, lossy UTF-8).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw_body: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub raw_body_truncated: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    /// Not finished (the report is still being filled in).
    #[default]
    Pending,
    Completed,
    /// The answer hit the output-token cap and was handed over cut off.
    Truncated,
    /// The bridge gave up; Codex got `response.failed` with `code` (or an HTTP status).
    Failed {
        code: String,
        message: String,
        fault: Fault,
    },
    /// Codex dropped the request (the user interrupted the turn).
    Cancelled,
}

impl ExchangeReport {
    /// The provider's table name for advice (`[providers.<this>.bridge]`): its id when
    /// known, else `<id>` rather than a display name that is no table.
    pub fn provider_table(&self) -> &str {
        self.provider_id.as_deref().unwrap_or("<id>")
    }

    /// Fills in how a successful exchange ended.
    pub fn record_answer(
        &mut self,
        answer: &ChatAnswer,
        events: &[Value],
        recovered: Vec<RecoveredCall>,
    ) {
        self.count_events(events);
        self.finish_reason = answer.finish_reason.clone();
        self.usage = answer.usage;
        self.recovered_tool_calls = recovered;
        self.outcome = if answer.finish_reason.as_deref() == Some("length") {
            Outcome::Truncated
        } else {
            Outcome::Completed
        };
    }

    pub fn count_events(&mut self, events: &[Value]) {
        for event in events {
            let kind = event
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("unknown");
            *self.events.entry(kind.to_string()).or_default() += 1;
        }
    }
}

/// Response headers worth keeping: rate limits, retry hints and request ids.
pub fn interesting_headers(headers: &http::HeaderMap) -> BTreeMap<String, String> {
    headers
        .iter()
        .filter(|(name, _)| {
            let name = name.as_str();
            name == "retry-after"
                || name == "retry-after-ms"
                || name.starts_with("x-ratelimit")
                || name.contains("request-id")
                || name == "x-litellm-model-id"
                || name == "x-litellm-model-api-base"
                || name == "x-litellm-response-cost"
                || name == "x-litellm-attempted-retries"
                || name == "content-type"
        })
        .filter_map(|(name, value)| {
            value
                .to_str()
                .ok()
                .map(|v| (name.as_str().to_string(), v.to_string()))
        })
        .collect()
}
