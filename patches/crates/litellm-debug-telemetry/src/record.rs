//! The on-disk record: one JSON line per exchange. Our own types (serde both ways) so the
//! reader does not depend on the bridge's report types staying deserializable.

use crate::config::TelemetryLevel;
use crate::diagnose::diagnose;
use crate::diagnose::diagnosis_kind;
use crate::redact::redact_raw;
use codex_litellm_bridge::ExchangeReport;
use codex_litellm_bridge::Fault;
use codex_litellm_bridge::Outcome;
use codex_litellm_bridge::Usage;
use codex_litellm_model_session_telemetry::Ending;
use codex_litellm_model_session_telemetry::ExchangeFacts;
use serde::Deserialize;
use serde::Serialize;
use serde_json::Map;
use serde_json::Value;
use std::collections::BTreeMap;

/// Bumped when a field changes meaning; readers skip nothing on a newer version, unknown
/// fields are ignored.
pub const RECORD_VERSION: u32 = 1;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ExchangeRecord {
    pub v: u32,
    /// When Codex handed the request over, RFC 3339 UTC.
    pub time: String,
    pub started_at_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub turn_id: Option<String>,
    pub provider: String,
    pub url: String,
    pub mode: String,
    /// The model the chat request named.
    pub model: String,
    /// What Codex asked for, when a forced model replaced it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requested_model: Option<String>,
    pub request: RequestRecord,
    /// The translated chat request (level `full` only; redacted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_body: Option<Value>,
    pub attempts: Vec<AttemptRecord>,
    /// Attempts that failed and were retried.
    pub retries: u32,
    pub continuations: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finish_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<UsageRecord>,
    /// The backend sent no usage: `usage` is the bridge's estimate (4 bytes a token).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub usage_estimated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u64>,
    /// Responses events handed to Codex, by type.
    pub events: BTreeMap<String, u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub recovered_tool_calls: Vec<RecoveredCallRecord>,
    /// Live mode: shown text ended as a message marked interrupted, because the retried
    /// answer did not continue it.
    #[serde(skip_serializing_if = "codex_litellm_bridge::request::is_zero")]
    pub interrupted_answers: u64,
    /// Continuation guard: nudges sent after an answer that promised an action.
    #[serde(skip_serializing_if = "is_zero_u32")]
    pub nudges: u32,
    /// The answer handed over still promised an action after the nudges.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub nudge_unanswered: bool,
    /// Loop guard: `{action: note|stop, call, count, failing}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loop_guard: Option<LoopGuardRecord>,
    /// Another model answered: `{from, to, reason, detail}` (`<provider>/<model>`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback: Option<FallbackRecord>,
    /// A streamed attempt got HTTP 200 with no bytes and was asked again without streaming.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub stream_fallback: bool,
    pub outcome: OutcomeRecord,
    pub total_ms: u64,
    /// One line: why the exchange ended.
    pub diagnosis: String,
    /// Stable short name of the diagnosis (`completed`, `rate_limited`, `stalled`, ...).
    pub diagnosis_kind: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LoopGuardRecord {
    pub action: String,
    pub call: String,
    pub count: u32,
    pub failing: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FallbackRecord {
    pub from: String,
    pub to: String,
    pub reason: String,
    pub detail: String,
}

#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_zero_u32(n: &u32) -> bool {
    *n == 0
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RequestRecord {
    pub input_items: u64,
    pub messages: u64,
    pub tools: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dropped_tools: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dropped_items: Vec<String>,
    /// History the backend would have refused, repaired before sending, by kind
    /// (`unanswered_tool_call`, `orphan_tool_output`, `consecutive_assistant`, `late_system`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub history_repairs: BTreeMap<String, u64>,
    /// Earlier assistant messages whose reasoning was left out of the request
    /// (`reasoning_history`), so a model that lost its chain of thought can be told apart.
    #[serde(skip_serializing_if = "codex_litellm_bridge::request::is_zero")]
    pub reasoning_not_sent_back: u64,
    pub stream: bool,
    /// Size of the translated body.
    pub bytes: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AttemptRecord {
    pub attempt: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub headers_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_byte_ms: Option<u64>,
    pub total_ms: u64,
    pub bytes: u64,
    pub chunks: u64,
    pub done_marker: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault: Option<FaultRecord>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_wait_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_wait_reason: Option<String>,
    /// Raw upstream bytes (level `full`; redacted, capped per exchange).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw_body: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub raw_body_truncated: bool,
}

/// A bridge [`Fault`]: its kind, its one-line description, and its fields.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FaultRecord {
    pub kind: String,
    pub description: String,
    #[serde(flatten)]
    pub detail: Map<String, Value>,
}

impl FaultRecord {
    pub fn from_fault(fault: &Fault) -> Self {
        let mut detail = match serde_json::to_value(fault) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        };
        detail.remove("kind");
        detail.remove("description");
        Self {
            kind: fault.kind().to_string(),
            description: fault.describe(),
            detail,
        }
    }

    /// The counter key the session telemetry gives the fault (`http_<status>` for HTTP
    /// errors, else the kind).
    pub fn key(&self) -> String {
        match self.detail.get("status").and_then(Value::as_u64) {
            Some(status) if self.kind == "http_status" => format!("http_{status}"),
            _ => self.kind.clone(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OutcomeRecord {
    /// `completed`, `truncated`, `failed`, `cancelled` or `pending`.
    pub status: String,
    /// The `response.failed` code handed to Codex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The message Codex showed the user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault: Option<FaultRecord>,
}

impl OutcomeRecord {
    pub fn from_outcome(outcome: &Outcome) -> Self {
        let status = |s: &str| Self {
            status: s.to_string(),
            ..Self::default()
        };
        match outcome {
            Outcome::Pending => status("pending"),
            Outcome::Completed => status("completed"),
            Outcome::Truncated => status("truncated"),
            Outcome::Cancelled => status("cancelled"),
            Outcome::Failed {
                code,
                message,
                fault,
            } => Self {
                status: "failed".to_string(),
                code: Some(code.clone()),
                message: Some(message.clone()),
                fault: Some(FaultRecord::from_fault(fault)),
            },
        }
    }

    pub fn is_failed(&self) -> bool {
        self.status == "failed"
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct UsageRecord {
    pub input_tokens: u64,
    pub cached_input_tokens: u64,
    pub output_tokens: u64,
    pub reasoning_output_tokens: u64,
    pub total_tokens: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RecoveredCallRecord {
    pub name: String,
    pub syntax: String,
}

/// RFC 3339 UTC with milliseconds.
pub(crate) fn rfc3339(ms: u64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms as i64)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

impl ExchangeRecord {
    /// The record for `report`. At level `summary` the request body and raw bytes are left
    /// out; at `full` raw bytes are kept up to `max_raw_bytes` over all attempts, redacted
    /// (the whole record is redacted again by the writer).
    pub fn from_report(
        report: &ExchangeReport,
        level: TelemetryLevel,
        max_raw_bytes: usize,
    ) -> Self {
        let full = level == TelemetryLevel::Full;
        let mut raw_budget = max_raw_bytes;
        let attempts = report
            .attempts
            .iter()
            .map(|a| {
                let (raw_body, raw_body_truncated) = match (&a.raw_body, full) {
                    (Some(raw), true) => {
                        let (kept, cut) = cap(raw, raw_budget);
                        raw_budget = raw_budget.saturating_sub(kept.len());
                        (Some(redact_raw(kept)), cut || a.raw_body_truncated)
                    }
                    _ => (None, false),
                };
                AttemptRecord {
                    attempt: a.attempt,
                    status: a.status,
                    headers: a.headers.clone(),
                    headers_ms: a.headers_ms,
                    first_byte_ms: a.first_byte_ms,
                    total_ms: a.total_ms,
                    bytes: a.bytes,
                    chunks: a.chunks,
                    done_marker: a.done_marker,
                    fault: a.fault.as_ref().map(FaultRecord::from_fault),
                    retry_wait_ms: a.retry_wait_ms,
                    retry_wait_reason: a.retry_wait_reason.clone(),
                    raw_body,
                    raw_body_truncated,
                }
            })
            .collect();
        let summary = &report.request;
        let requested_model = summary
            .requested_model
            .clone()
            .filter(|requested| *requested != summary.model);
        let mode = match serde_json::to_value(report.mode) {
            Ok(Value::String(mode)) => mode,
            _ => String::new(),
        };
        Self {
            v: RECORD_VERSION,
            time: rfc3339(report.started_at_ms),
            started_at_ms: report.started_at_ms,
            session_id: report.session_id.clone(),
            turn_id: report.turn_id.clone(),
            provider: report.provider.clone(),
            url: report.url.clone(),
            mode,
            model: summary.model.clone(),
            requested_model,
            request: RequestRecord {
                input_items: summary.input_items as u64,
                messages: summary.messages as u64,
                tools: summary.tools as u64,
                dropped_tools: summary.dropped_tools.clone(),
                dropped_items: summary.dropped_items.clone(),
                history_repairs: summary.history_repairs.clone(),
                reasoning_not_sent_back: summary.reasoning_not_sent_back,
                stream: summary.stream,
                bytes: report.request_bytes,
            },
            request_body: (full && !report.request_body.is_null())
                .then(|| report.request_body.clone()),
            attempts,
            retries: crate::diagnose::retries(report),
            continuations: report.continuations,
            finish_reason: report.finish_reason.clone(),
            usage: report.usage.map(|u| UsageRecord {
                input_tokens: u.input_tokens,
                cached_input_tokens: u.cached_input_tokens,
                output_tokens: u.output_tokens,
                reasoning_output_tokens: u.reasoning_output_tokens,
                total_tokens: u.total_tokens,
            }),
            usage_estimated: report.usage_estimated,
            max_output_tokens: report.max_output_tokens,
            events: report.events.clone(),
            recovered_tool_calls: report
                .recovered_tool_calls
                .iter()
                .map(|c| RecoveredCallRecord {
                    name: c.name.clone(),
                    syntax: c.syntax.to_string(),
                })
                .collect(),
            interrupted_answers: report.interrupted_answers,
            nudges: report.nudges,
            nudge_unanswered: report.nudge_unanswered,
            loop_guard: report.loop_guard.as_ref().map(|g| LoopGuardRecord {
                action: g.action.to_string(),
                call: g.call.clone(),
                count: g.count,
                failing: g.failing,
            }),
            fallback: report.fallback.as_ref().map(|f| FallbackRecord {
                from: f.from.clone(),
                to: f.to.clone(),
                reason: f.reason.clone(),
                detail: f.detail.clone(),
            }),
            stream_fallback: report.stream_fallback,
            outcome: OutcomeRecord::from_outcome(&report.outcome),
            total_ms: report.total_ms,
            diagnosis: diagnose(report),
            diagnosis_kind: diagnosis_kind(report).to_string(),
        }
    }

    /// What the per-model counters take from this exchange.
    pub fn facts(&self) -> ExchangeFacts {
        let ending = match self.outcome.status.as_str() {
            "truncated" => Ending::Truncated,
            "cancelled" => Ending::Cancelled,
            "failed" => Ending::Failed(
                self.outcome
                    .fault
                    .as_ref()
                    .map_or_else(|| "unknown".to_string(), FaultRecord::key),
            ),
            _ => Ending::Completed,
        };
        ExchangeFacts {
            usage: self.usage.map(|u| Usage {
                input_tokens: u.input_tokens,
                cached_input_tokens: u.cached_input_tokens,
                output_tokens: u.output_tokens,
                reasoning_output_tokens: u.reasoning_output_tokens,
                total_tokens: u.total_tokens,
            }),
            usage_estimated: self.usage_estimated,
            retries: u64::from(self.retries),
            ending,
            recovered_tool_calls: self.recovered_tool_calls.len() as u64,
            total_ms: self.total_ms,
            nudges: u64::from(self.nudges),
            loop_notes: u64::from(self.loop_guard.as_ref().is_some_and(|g| g.action == "note")),
            loop_stops: u64::from(self.loop_guard.as_ref().is_some_and(|g| g.action == "stop")),
            fallbacks: u64::from(self.fallback.is_some()),
        }
    }

    /// The HTTP status of the last attempt, if any.
    pub fn last_status(&self) -> Option<u16> {
        self.attempts.last().and_then(|a| a.status)
    }
}

/// At most `limit` bytes of `text`, cut on a character boundary.
fn cap(text: &str, limit: usize) -> (&str, bool) {
    if text.len() <= limit {
        return (text, false);
    }
    let mut end = limit;
    while end > 0 && !text.is_char_boundary(end) {
        end -= 1;
    }
    (&text[..end], true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use codex_litellm_bridge::AttemptReport;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    fn report_with_raw() -> ExchangeReport {
        let attempt = |n: u32, raw: &str| AttemptReport {
            attempt: n,
            status: Some(200),
            raw_body: Some(raw.to_string()),
            ..AttemptReport::default()
        };
        ExchangeReport {
            started_at_ms: 1_772_360_100_123,
            request_body: json!({"model": "m", "messages": []}),
            attempts: vec![attempt(1, "aaaaaaaaaa"), attempt(2, "ééééé")],
            outcome: Outcome::Completed,
            ..ExchangeReport::default()
        }
    }

    #[test]
    fn summary_leaves_body_and_raw_bytes_out() {
        let record = ExchangeRecord::from_report(&report_with_raw(), TelemetryLevel::Summary, 1024);
        assert_eq!(record.request_body, None);
        assert!(record.attempts.iter().all(|a| a.raw_body.is_none()));
        assert_eq!(record.time, "2026-03-01T10:15:00.123Z");
    }

    #[test]
    fn full_keeps_raw_bytes_within_the_per_exchange_cap() {
        let record = ExchangeRecord::from_report(&report_with_raw(), TelemetryLevel::Full, 13);
        assert_eq!(
            record.request_body,
            Some(json!({"model": "m", "messages": []}))
        );
        assert_eq!(record.attempts[0].raw_body.as_deref(), Some("aaaaaaaaaa"));
        assert!(!record.attempts[0].raw_body_truncated);
        // 3 bytes left: one two-byte character fits, the cut is on a char boundary.
        assert_eq!(record.attempts[1].raw_body.as_deref(), Some("é"));
        assert!(record.attempts[1].raw_body_truncated);
    }

    #[test]
    fn the_request_record_says_how_much_reasoning_was_not_sent_back() {
        let mut report = report_with_raw();
        report.request.reasoning_not_sent_back = 3;
        let record = ExchangeRecord::from_report(&report, TelemetryLevel::Summary, 0);
        assert_eq!(record.request.reasoning_not_sent_back, 3);
        let line = serde_json::to_value(&record).unwrap_or_default();
        assert_eq!(line["request"]["reasoning_not_sent_back"], json!(3));
        report.request.reasoning_not_sent_back = 0;
        let record = ExchangeRecord::from_report(&report, TelemetryLevel::Summary, 0);
        let line = serde_json::to_value(&record).unwrap_or_default();
        assert!(
            line["request"].get("reasoning_not_sent_back").is_none(),
            "{line}"
        );
    }

    #[test]
    fn round_trips_through_json() {
        let mut report = report_with_raw();
        report.outcome = Outcome::Failed {
            code: "rate_limit_exceeded".into(),
            message: "slow down".into(),
            fault: Fault::HttpStatus {
                status: 429,
                message: "slow down".into(),
                retry_after_ms: Some(30_000),
            },
        };
        let record = ExchangeRecord::from_report(&report, TelemetryLevel::Full, 1024);
        let text = serde_json::to_string(&record).unwrap_or_default();
        let back: ExchangeRecord = serde_json::from_str(&text).unwrap_or_default();
        assert_eq!(back, record);
        let fault = back.outcome.fault.unwrap_or_default();
        assert_eq!(fault.kind, "http_status");
        assert_eq!(fault.detail.get("retry_after_ms"), Some(&json!(30_000)));
    }
}
