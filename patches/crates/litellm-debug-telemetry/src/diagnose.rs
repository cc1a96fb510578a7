//! One line that says why an exchange ended, for the telemetry record and the reader.

use crate::format::limit;
use crate::format::measured;
use crate::format::one_line;
use crate::format::plural;
use codex_litellm_bridge::AttemptReport;
use codex_litellm_bridge::ExchangeReport;
use codex_litellm_bridge::Fault;
use codex_litellm_bridge::Outcome;
use codex_litellm_bridge::fault::is_context_length_error;
use serde_json::Value;

/// Longest backend error text quoted in a diagnosis.
const MAX_MESSAGE_CHARS: usize = 160;

/// Attempts that failed and were followed by a retry (continuations after
/// `finish_reason = "length"` are not retries).
pub fn retries(report: &ExchangeReport) -> u32 {
    report
        .attempts
        .iter()
        .filter(|a| a.retry_wait_ms.is_some())
        .count() as u32
}

/// Why the exchange ended, in one line, e.g. `completed (stop) in 2.1s, 1 attempt`,
/// `rate limited (HTTP 429) — gave up after 4 attempts; last Retry-After 30s`,
/// `stalled: no data for 120s after byte 5121`.
pub fn diagnose(report: &ExchangeReport) -> String {
    if let Some(stop) = report.loop_guard.as_ref().filter(|g| g.action == "stop") {
        return format!(
            "stopped by the loop guard: {} {} {} times in a row with the same result; no request was sent",
            stop.call,
            if stop.failing {
                "failed"
            } else {
                "was repeated"
            },
            stop.count
        );
    }
    let mut text = match &report.outcome {
        Outcome::Completed => completed(report),
        Outcome::Truncated => truncated(report),
        Outcome::Failed { fault, .. } => failed(report, fault),
        Outcome::Cancelled => cancelled(report),
        Outcome::Pending => "unfinished: no outcome was recorded".to_string(),
    };
    if matches!(report.outcome, Outcome::Completed | Outcome::Truncated)
        && !report.recovered_tool_calls.is_empty()
    {
        let mut syntaxes: Vec<&str> = Vec::new();
        for call in &report.recovered_tool_calls {
            if !syntaxes.contains(&call.syntax) {
                syntaxes.push(call.syntax);
            }
        }
        text.push_str(&format!(
            "; recovered {} written as text ({})",
            plural(
                report.recovered_tool_calls.len() as u64,
                "tool call",
                "tool calls"
            ),
            syntaxes.join(", ")
        ));
    }
    guard_notes(report, &mut text);
    text
}

/// What the guards of issue 19 did, after the line about how the exchange ended.
fn guard_notes(report: &ExchangeReport, text: &mut String) {
    if report.stream_fallback {
        if matches!(report.outcome, Outcome::Completed | Outcome::Truncated) {
            text.push_str(&format!(
                "; the streamed request got HTTP 200 with an empty body and the non-streamed retry answered: set `stream = false` in litellm.toml [providers.{}.bridge]",
                report.provider_table()
            ));
        } else {
            text.push_str(
                "; the streamed request got HTTP 200 with an empty body, so the bridge asked again without streaming",
            );
        }
    }
    if let Some(switch) = &report.fallback {
        let model = |key: &str| {
            key.split_once('/')
                .filter(|(provider, _)| *provider == report.provider)
                .map_or(key.to_string(), |(_, model)| model.to_string())
        };
        let answered = matches!(report.outcome, Outcome::Completed | Outcome::Truncated);
        text.push_str(&format!(
            "; {} {} instead of {}: {}",
            if answered {
                "answered by"
            } else {
                "switched to"
            },
            model(&switch.to),
            model(&switch.from),
            switch.detail
        ));
    }
    if let Some(note) = report.loop_guard.as_ref().filter(|g| g.action == "note") {
        text.push_str(&format!(
            "; loop guard note sent: {} {} {} times in a row",
            note.call,
            if note.failing {
                "failed"
            } else {
                "was repeated"
            },
            note.count
        ));
    }
    if report.nudge_unanswered {
        text.push_str(&format!(
            "; turn ended after an unanswered nudge ({} sent: the answer still promised an action without a tool call)",
            plural(u64::from(report.nudges), "nudge", "nudges")
        ));
    } else if report.nudges > 0 {
        text.push_str(&format!(
            "; {} after an answer that promised an action without a tool call",
            plural(u64::from(report.nudges), "nudge", "nudges")
        ));
    }
}

/// A stable short name for grouping: `completed`, `completed_after_retries`, `truncated`,
/// `cancelled`, `pending`, `loop_guard_stop`, or for failures `rate_limited`, `auth`, `context_length`,
/// `http_error`, `backend_error`, `connect`, `timeout`, `total_timeout`, `stalled`,
/// `stream_cut`, `malformed_chunk`, `invalid_utf8`, `too_large`, `empty_answer`,
/// `bad_request`.
pub fn diagnosis_kind(report: &ExchangeReport) -> &'static str {
    if report
        .loop_guard
        .as_ref()
        .is_some_and(|guard| guard.action == "stop")
    {
        return "loop_guard_stop";
    }
    match &report.outcome {
        Outcome::Completed if retries(report) > 0 => "completed_after_retries",
        Outcome::Completed => "completed",
        Outcome::Truncated => "truncated",
        Outcome::Cancelled => "cancelled",
        Outcome::Pending => "pending",
        Outcome::Failed { fault, .. } => failure_kind(fault),
    }
}

fn failure_kind(fault: &Fault) -> &'static str {
    match fault {
        Fault::HttpStatus { status: 429, .. } => "rate_limited",
        Fault::HttpStatus {
            status: 401 | 403, ..
        } => "auth",
        Fault::HttpStatus { message, .. } if is_context_length_error(message) => "context_length",
        Fault::HttpStatus { .. } => "http_error",
        Fault::ErrorInStream { message, code, .. } => {
            if is_context_length_error(message)
                || code.as_deref().is_some_and(is_context_length_error)
            {
                "context_length"
            } else if mentions_rate_limit(message, code.as_deref()) {
                "rate_limited"
            } else {
                "backend_error"
            }
        }
        Fault::IdleStall { .. } => "stalled",
        other => other.kind(),
    }
}

fn completed(report: &ExchangeReport) -> String {
    let mut text = match &report.finish_reason {
        Some(reason) => format!("completed ({reason}) in {}", measured(report.total_ms)),
        None => format!("completed in {}", measured(report.total_ms)),
    };
    let retried: Vec<&AttemptReport> = report
        .attempts
        .iter()
        .filter(|a| a.retry_wait_ms.is_some())
        .collect();
    if retried.is_empty() {
        text.push_str(&format!(
            ", {}",
            plural(report.attempts.len().max(1) as u64, "attempt", "attempts")
        ));
    } else {
        let reasons: Vec<String> = retried.iter().map(|a| retry_text(a)).collect();
        text.push_str(&format!(
            " after {} ({})",
            plural(retried.len() as u64, "retry", "retries"),
            reasons.join("; ")
        ));
    }
    if report.continuations > 0 {
        text.push_str(&format!(
            "; {} after the output limit",
            plural(
                u64::from(report.continuations),
                "continuation",
                "continuations"
            )
        ));
    }
    text
}

fn truncated(report: &ExchangeReport) -> String {
    let cap = report.max_output_tokens.or_else(|| {
        ["max_tokens", "max_completion_tokens"]
            .iter()
            .find_map(|field| report.request_body.get(field).and_then(Value::as_u64))
    });
    let mut text = match cap {
        Some(cap) => format!("cut off by the output limit (max_tokens {cap})"),
        None => {
            let out = report
                .usage
                .map(|u| format!(" after {} output tokens", u.output_tokens))
                .unwrap_or_default();
            format!("cut off by the output limit (the backend's own cap{out}; no max_tokens sent)")
        }
    };
    if report.continuations > 0 {
        text.push_str(&format!(
            " even after {}",
            plural(
                u64::from(report.continuations),
                "continuation",
                "continuations"
            )
        ));
    }
    text
}

fn cancelled(report: &ExchangeReport) -> String {
    let mut text = format!("cancelled by the user after {}", measured(report.total_ms));
    if let Some(last) = report.attempts.last() {
        if let (Some(_), Some(fault)) = (last.retry_wait_ms, &last.fault) {
            text.push_str(&format!(
                " (while waiting to retry after {})",
                short_fault(fault)
            ));
        } else if report.attempts.len() > 1 {
            text.push_str(&format!(" (during attempt {})", report.attempts.len()));
        }
    }
    text
}

fn failed(report: &ExchangeReport, fault: &Fault) -> String {
    let attempts = report.attempts.len();
    let gave_up = if attempts > 1 {
        format!(" — gave up after {attempts} attempts")
    } else {
        String::new()
    };
    match fault {
        Fault::HttpStatus {
            status: 429,
            retry_after_ms,
            message,
        } => {
            let mut text = format!("rate limited (HTTP 429){gave_up}");
            match retry_after_ms {
                Some(ms) if attempts > 1 => {
                    text.push_str(&format!("; last Retry-After {}", limit(*ms)))
                }
                Some(ms) => text.push_str(&format!("; Retry-After {}", limit(*ms))),
                None if !message.is_empty() => {
                    text.push_str(&format!(": {}", one_line(message, MAX_MESSAGE_CHARS)))
                }
                None => {}
            }
            text
        }
        Fault::HttpStatus {
            status, message, ..
        } => {
            let head = if matches!(status, 401 | 403) {
                "authentication failed"
            } else if is_context_length_error(message) {
                "context window exceeded"
            } else {
                "backend error"
            };
            let hint = if matches!(status, 401 | 403) {
                ", check the API key"
            } else {
                ""
            };
            let mut text = format!("{head} (HTTP {status}{hint})");
            if !message.is_empty() {
                text.push_str(&format!(": {}", one_line(message, MAX_MESSAGE_CHARS)));
            }
            text.push_str(&gave_up);
            text
        }
        Fault::ErrorInStream { message, code, .. } => {
            let kind = failure_kind(fault);
            let head = match kind {
                "rate_limited" => "rate limited",
                "context_length" => "context window exceeded",
                _ => "backend error",
            };
            let code = code
                .as_deref()
                .map(|c| format!(" (code {c})"))
                .unwrap_or_default();
            format!(
                "{head}: {}{code}{gave_up}",
                one_line(message, MAX_MESSAGE_CHARS)
            )
        }
        Fault::Connect { detail } => format!("{}{gave_up}", connect_text(detail)),
        Fault::Timeout { after_ms } => format!(
            "timed out after {} waiting for the backend{gave_up}",
            limit(*after_ms)
        ),
        Fault::TotalTimeout { after_ms } => format!(
            "timed out: the answer took longer than {} (request_timeout_secs){gave_up}",
            limit(*after_ms)
        ),
        Fault::IdleStall { after_ms, at_byte } => format!(
            "stalled: no data for {} after byte {at_byte}{gave_up}",
            limit(*after_ms)
        ),
        Fault::StreamCut { at_byte, detail } => {
            let detail = if detail.is_empty() {
                String::new()
            } else {
                format!(" ({})", one_line(detail, MAX_MESSAGE_CHARS))
            };
            format!("stream cut at byte {at_byte} before finish_reason{detail}{gave_up}")
        }
        Fault::MalformedChunk { at_byte, detail } => {
            let detail = if detail.is_empty() {
                String::new()
            } else {
                format!(" ({})", one_line(detail, MAX_MESSAGE_CHARS))
            };
            format!("malformed chunk at byte {at_byte}{detail}{gave_up}")
        }
        Fault::InvalidUtf8 { at_byte } => format!("invalid UTF-8 at byte {at_byte}{gave_up}"),
        Fault::TooLarge { limit } => {
            format!("answer larger than {limit} bytes (max_response_bytes){gave_up}")
        }
        Fault::EmptyAnswer => format!("empty answer (no text, no tool call){gave_up}"),
        Fault::BadRequest { detail } => format!(
            "request could not be translated: {}",
            one_line(detail, MAX_MESSAGE_CHARS)
        ),
    }
}

fn connect_text(detail: &str) -> String {
    let lower = detail.to_ascii_lowercase();
    if lower.contains("refused") {
        "connection refused (is the gateway running?)".to_string()
    } else if ["dns", "resolve", "lookup", "name or service not known"]
        .iter()
        .any(|n| lower.contains(n))
    {
        format!(
            "could not resolve the backend host ({})",
            one_line(detail, MAX_MESSAGE_CHARS)
        )
    } else if ["certificate", "tls", "ssl"]
        .iter()
        .any(|n| lower.contains(n))
    {
        format!("TLS failure ({})", one_line(detail, MAX_MESSAGE_CHARS))
    } else {
        format!(
            "could not connect to the backend ({})",
            one_line(detail, MAX_MESSAGE_CHARS)
        )
    }
}

/// What one retried attempt ran into, and how long the bridge waited.
fn retry_text(attempt: &AttemptReport) -> String {
    let what = match &attempt.fault {
        Some(fault) => short_fault(fault),
        None => format!("attempt {}", attempt.attempt),
    };
    let wait = measured(attempt.retry_wait_ms.unwrap_or(0));
    let reason = attempt.retry_wait_reason.as_deref().unwrap_or("");
    if reason.starts_with("empty streamed answer") {
        return format!("{what}: asked again without streaming");
    }
    let how = if reason.starts_with("retry-after") && reason.contains("capped") {
        " (Retry-After asked for longer; capped)"
    } else if reason.starts_with("retry-after") {
        " as Retry-After said"
    } else {
        " (backoff)"
    };
    format!("{what}: waited {wait}{how}")
}

fn short_fault(fault: &Fault) -> String {
    match fault {
        Fault::HttpStatus { status: 429, .. } => "rate limited 429".to_string(),
        Fault::HttpStatus { status, .. } => format!("HTTP {status}"),
        Fault::Connect { detail } if detail.to_ascii_lowercase().contains("refused") => {
            "connection refused".to_string()
        }
        Fault::Connect { .. } => "could not connect".to_string(),
        Fault::Timeout { after_ms } => format!("no answer within {}", limit(*after_ms)),
        Fault::TotalTimeout { after_ms } => format!("took longer than {}", limit(*after_ms)),
        Fault::IdleStall { at_byte, .. } => format!("stalled at byte {at_byte}"),
        fault if codex_litellm_bridge::fetch::is_empty_body(fault) => "empty body".to_string(),
        Fault::StreamCut { at_byte, .. } => format!("stream cut at byte {at_byte}"),
        Fault::MalformedChunk { at_byte, .. } => format!("malformed chunk at byte {at_byte}"),
        Fault::InvalidUtf8 { at_byte } => format!("invalid UTF-8 at byte {at_byte}"),
        Fault::ErrorInStream { message, .. } => {
            format!("error in the stream: {}", one_line(message, 60))
        }
        Fault::EmptyAnswer => "empty answer".to_string(),
        Fault::TooLarge { .. } | Fault::BadRequest { .. } => fault.kind().replace('_', " "),
    }
}

fn mentions_rate_limit(message: &str, code: Option<&str>) -> bool {
    let lower = message.to_ascii_lowercase();
    code.is_some_and(|c| c == "429" || c.contains("rate_limit"))
        || lower.contains("rate limit")
        || lower.contains("ratelimit")
        || lower.contains("too many requests")
}

#[cfg(test)]
mod tests {
    use super::*;
    use codex_litellm_bridge::Usage;
    use codex_litellm_bridge::postprocess::RecoveredCall;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    fn attempt(n: u32, status: Option<u16>, fault: Option<Fault>) -> AttemptReport {
        AttemptReport {
            attempt: n,
            status,
            fault,
            ..AttemptReport::default()
        }
    }

    fn retried(mut a: AttemptReport, wait_ms: u64, reason: &str) -> AttemptReport {
        a.retry_wait_ms = Some(wait_ms);
        a.retry_wait_reason = Some(reason.to_string());
        a
    }

    fn report(outcome: Outcome, attempts: Vec<AttemptReport>, total_ms: u64) -> ExchangeReport {
        ExchangeReport {
            outcome,
            attempts,
            total_ms,
            ..ExchangeReport::default()
        }
    }

    /// The lines of issue 19's guards: the stop, the fallback, the unanswered nudge.
    #[test]
    fn guard_lines() {
        let mut stop = report(Outcome::Completed, Vec::new(), 1);
        stop.loop_guard = Some(codex_litellm_bridge::LoopGuardReport {
            action: "stop",
            call: "shell".into(),
            count: 5,
            failing: true,
        });
        assert_eq!(
            diagnose(&stop),
            "stopped by the loop guard: shell failed 5 times in a row with the same result; no request was sent"
        );
        assert_eq!(diagnosis_kind(&stop), "loop_guard_stop");

        let mut served = report(Outcome::Completed, vec![attempt(1, Some(200), None)], 1200);
        served.provider = "vllm".into();
        served.fallback = Some(codex_litellm_bridge::FallbackReport {
            from: "vllm/qwen3-coder".into(),
            to: "litellm/gpt-4o-mini".into(),
            reason: "overloaded".into(),
            detail: "overloaded (HTTP 503)".into(),
        });
        served.nudges = 1;
        served.nudge_unanswered = true;
        let text = diagnose(&served);
        assert!(
            text.contains(
                "answered by litellm/gpt-4o-mini instead of qwen3-coder: overloaded (HTTP 503)"
            ),
            "{text}"
        );
        assert!(
            text.contains("turn ended after an unanswered nudge"),
            "{text}"
        );
        // The fallback failed too: it did not answer.
        let mut failed = failed_after(
            Fault::HttpStatus {
                status: 503,
                message: "down".into(),
                retry_after_ms: None,
            },
            2,
        );
        failed.fallback = served.fallback;
        let text = diagnose(&failed);
        assert!(
            text.contains("; switched to litellm/gpt-4o-mini instead of vllm/qwen3-coder"),
            "{text}"
        );
    }

    /// A streamed empty 200 answered by the non-streamed retry: the diagnosis names the
    /// setting that skips the empty attempt.
    #[test]
    fn empty_streamed_answer_then_unstreamed_retry() {
        let empty = Fault::StreamCut {
            at_byte: 0,
            detail: "empty body".into(),
        };
        let mut r = report(
            Outcome::Completed,
            vec![
                retried(
                    attempt(1, Some(200), Some(empty)),
                    0,
                    "empty streamed answer: asking without streaming",
                ),
                attempt(2, Some(200), None),
            ],
            2100,
        );
        // The table is named by the provider's id, never its display name.
        r.provider = "llama.cpp (local)".into();
        r.provider_id = Some("llamacpp".into());
        r.finish_reason = Some("tool_calls".into());
        r.stream_fallback = true;
        assert_eq!(
            diagnose(&r),
            "completed (tool_calls) in 2.1s after 1 retry (empty body: asked again without streaming); \
             the streamed request got HTTP 200 with an empty body and the non-streamed retry answered: \
             set `stream = false` in litellm.toml [providers.llamacpp.bridge]"
        );
        r.provider_id = None;
        assert!(
            diagnose(&r).ends_with("[providers.<id>.bridge]"),
            "{}",
            diagnose(&r)
        );
    }

    fn failed_after(fault: Fault, attempts: u32) -> ExchangeReport {
        let mut list: Vec<AttemptReport> = (1..attempts)
            .map(|n| retried(attempt(n, None, Some(fault.clone())), 500, "backoff"))
            .collect();
        list.push(attempt(attempts, None, Some(fault.clone())));
        report(
            Outcome::Failed {
                code: "backend_error".into(),
                message: fault.describe(),
                fault,
            },
            list,
            1000,
        )
    }

    fn http(status: u16, message: &str, retry_after_ms: Option<u64>) -> Fault {
        Fault::HttpStatus {
            status,
            message: message.to_string(),
            retry_after_ms,
        }
    }

    #[test]
    fn completed_in_one_attempt() {
        let mut r = report(Outcome::Completed, vec![attempt(1, Some(200), None)], 2_100);
        r.finish_reason = Some("stop".into());
        assert_eq!(diagnose(&r), "completed (stop) in 2.1s, 1 attempt");
        assert_eq!(diagnosis_kind(&r), "completed");
    }

    #[test]
    fn completed_after_retries_says_why_and_how_long() {
        let mut r = report(
            Outcome::Completed,
            vec![
                retried(
                    attempt(1, Some(429), Some(http(429, "slow down", Some(1000)))),
                    1000,
                    "retry-after 1000ms",
                ),
                retried(
                    attempt(
                        2,
                        Some(200),
                        Some(Fault::StreamCut {
                            at_byte: 5121,
                            detail: "eof".into(),
                        }),
                    ),
                    480,
                    "backoff after stream_cut",
                ),
                attempt(3, Some(200), None),
            ],
            5_300,
        );
        r.finish_reason = Some("tool_calls".into());
        assert_eq!(
            diagnose(&r),
            "completed (tool_calls) in 5.3s after 2 retries (rate limited 429: waited 1.0s as Retry-After said; stream cut at byte 5121: waited 0.5s (backoff))"
        );
        assert_eq!(diagnosis_kind(&r), "completed_after_retries");
        let capped = report(
            Outcome::Completed,
            vec![
                retried(
                    attempt(1, Some(429), Some(http(429, "", Some(120_000)))),
                    60_000,
                    "retry-after 120s capped to 60s",
                ),
                attempt(2, Some(200), None),
            ],
            61_000,
        );
        assert_eq!(
            diagnose(&capped),
            "completed in 1m 01s after 1 retry (rate limited 429: waited 1m 00s (Retry-After asked for longer; capped))"
        );
    }

    #[test]
    fn completed_with_continuations_and_recovered_calls() {
        let mut r = report(
            Outcome::Completed,
            vec![attempt(1, Some(200), None), attempt(2, Some(200), None)],
            3_000,
        );
        r.finish_reason = Some("stop".into());
        r.continuations = 1;
        r.recovered_tool_calls = vec![RecoveredCall {
            name: "shell".into(),
            syntax: "tool_call_tag",
        }];
        assert_eq!(
            diagnose(&r),
            "completed (stop) in 3.0s, 2 attempts; 1 continuation after the output limit; recovered 1 tool call written as text (tool_call_tag)"
        );
    }

    #[test]
    fn truncated_names_the_limit() {
        let mut r = report(Outcome::Truncated, vec![attempt(1, Some(200), None)], 900);
        r.max_output_tokens = Some(4096);
        assert_eq!(
            diagnose(&r),
            "cut off by the output limit (max_tokens 4096)"
        );
        assert_eq!(diagnosis_kind(&r), "truncated");
        r.max_output_tokens = None;
        r.request_body = json!({"max_completion_tokens": 2048});
        assert_eq!(
            diagnose(&r),
            "cut off by the output limit (max_tokens 2048)"
        );
        r.request_body = Value::Null;
        r.usage = Some(Usage {
            output_tokens: 8192,
            ..Usage::default()
        });
        assert_eq!(
            diagnose(&r),
            "cut off by the output limit (the backend's own cap after 8192 output tokens; no max_tokens sent)"
        );
        r.recovered_tool_calls = vec![
            RecoveredCall {
                name: "a".into(),
                syntax: "tool_call_tag",
            },
            RecoveredCall {
                name: "b".into(),
                syntax: "function_tag",
            },
        ];
        r.continuations = 2;
        assert_eq!(
            diagnose(&r),
            "cut off by the output limit (the backend's own cap after 8192 output tokens; no max_tokens sent) even after 2 continuations; recovered 2 tool calls written as text (tool_call_tag, function_tag)"
        );
    }

    #[test]
    fn cancelled_and_pending() {
        let r = report(Outcome::Cancelled, vec![attempt(1, Some(200), None)], 3_200);
        assert_eq!(diagnose(&r), "cancelled by the user after 3.2s");
        assert_eq!(diagnosis_kind(&r), "cancelled");
        let waiting = report(
            Outcome::Cancelled,
            vec![retried(
                attempt(1, Some(429), Some(http(429, "", Some(30_000)))),
                30_000,
                "retry-after 30000ms",
            )],
            4_000,
        );
        assert_eq!(
            diagnose(&waiting),
            "cancelled by the user after 4.0s (while waiting to retry after rate limited 429)"
        );
        let pending = report(Outcome::Pending, vec![], 0);
        assert_eq!(diagnose(&pending), "unfinished: no outcome was recorded");
        assert_eq!(diagnosis_kind(&pending), "pending");
    }

    /// Every fault kind the bridge recognises, as the final fault of a failed exchange.
    #[test]
    fn every_fault_kind() {
        let cases: Vec<(Fault, u32, &str, &str)> = vec![
            (
                http(429, "Too Many Requests", Some(30_000)),
                4,
                "rate limited (HTTP 429) — gave up after 4 attempts; last Retry-After 30s",
                "rate_limited",
            ),
            (
                http(429, "slow down", None),
                1,
                "rate limited (HTTP 429): slow down",
                "rate_limited",
            ),
            (
                http(401, "invalid api key", None),
                1,
                "authentication failed (HTTP 401, check the API key): invalid api key",
                "auth",
            ),
            (
                http(
                    400,
                    "This model's maximum context length is 8192 tokens",
                    None,
                ),
                1,
                "context window exceeded (HTTP 400): This model's maximum context length is 8192 tokens",
                "context_length",
            ),
            (
                http(500, "upstream\nexploded", None),
                4,
                "backend error (HTTP 500): upstream exploded — gave up after 4 attempts",
                "http_error",
            ),
            (
                Fault::ErrorInStream {
                    message: "litellm.APIError: model overloaded".into(),
                    code: Some("503".into()),
                    at_byte: 77,
                },
                2,
                "backend error: litellm.APIError: model overloaded (code 503) — gave up after 2 attempts",
                "backend_error",
            ),
            (
                Fault::ErrorInStream {
                    message: "litellm.RateLimitError: too many requests".into(),
                    code: Some("429".into()),
                    at_byte: 10,
                },
                1,
                "rate limited: litellm.RateLimitError: too many requests (code 429)",
                "rate_limited",
            ),
            (
                Fault::Connect {
                    detail: "tcp connect error: Connection refused (os error 111)".into(),
                },
                4,
                "connection refused (is the gateway running?) — gave up after 4 attempts",
                "connect",
            ),
            (
                Fault::Connect {
                    detail: "dns error: failed to lookup address information".into(),
                },
                1,
                "could not resolve the backend host (dns error: failed to lookup address information)",
                "connect",
            ),
            (
                Fault::Connect {
                    detail: "invalid peer certificate: UnknownIssuer".into(),
                },
                1,
                "TLS failure (invalid peer certificate: UnknownIssuer)",
                "connect",
            ),
            (
                Fault::Connect {
                    detail: "connection reset".into(),
                },
                1,
                "could not connect to the backend (connection reset)",
                "connect",
            ),
            (
                Fault::Timeout { after_ms: 300_000 },
                1,
                "timed out after 300s waiting for the backend",
                "timeout",
            ),
            (
                Fault::TotalTimeout {
                    after_ms: 1_800_000,
                },
                1,
                "timed out: the answer took longer than 1800s (request_timeout_secs)",
                "total_timeout",
            ),
            (
                Fault::IdleStall {
                    after_ms: 120_000,
                    at_byte: 5121,
                },
                1,
                "stalled: no data for 120s after byte 5121",
                "stalled",
            ),
            (
                Fault::StreamCut {
                    at_byte: 5121,
                    detail: String::new(),
                },
                1,
                "stream cut at byte 5121 before finish_reason",
                "stream_cut",
            ),
            (
                Fault::StreamCut {
                    at_byte: 5121,
                    detail: "connection closed".into(),
                },
                3,
                "stream cut at byte 5121 before finish_reason (connection closed) — gave up after 3 attempts",
                "stream_cut",
            ),
            (
                Fault::MalformedChunk {
                    at_byte: 64,
                    detail: "expected value at line 1 column 1".into(),
                },
                1,
                "malformed chunk at byte 64 (expected value at line 1 column 1)",
                "malformed_chunk",
            ),
            (
                Fault::InvalidUtf8 { at_byte: 9 },
                1,
                "invalid UTF-8 at byte 9",
                "invalid_utf8",
            ),
            (
                Fault::TooLarge { limit: 1024 },
                1,
                "answer larger than 1024 bytes (max_response_bytes)",
                "too_large",
            ),
            (
                Fault::EmptyAnswer,
                2,
                "empty answer (no text, no tool call) — gave up after 2 attempts",
                "empty_answer",
            ),
            (
                Fault::BadRequest {
                    detail: "the request has no `model`".into(),
                },
                0,
                "request could not be translated: the request has no `model`",
                "bad_request",
            ),
        ];
        for (fault, attempts, expected, kind) in cases {
            let r = if attempts == 0 {
                report(
                    Outcome::Failed {
                        code: "invalid_prompt".into(),
                        message: String::new(),
                        fault: fault.clone(),
                    },
                    vec![],
                    1,
                )
            } else {
                failed_after(fault.clone(), attempts)
            };
            assert_eq!(diagnose(&r), expected, "{fault:?}");
            assert_eq!(diagnosis_kind(&r), kind, "{fault:?}");
        }
    }

    #[test]
    fn retries_count_only_retried_attempts() {
        let r = report(
            Outcome::Completed,
            vec![
                retried(attempt(1, None, Some(Fault::EmptyAnswer)), 10, "backoff"),
                attempt(2, Some(200), None),
                attempt(3, Some(200), None),
            ],
            1,
        );
        assert_eq!(retries(&r), 1);
    }

    #[test]
    fn every_fault_has_a_short_retry_text() {
        let faults = vec![
            (http(503, "", None), "HTTP 503"),
            (
                Fault::Connect {
                    detail: "Connection refused".into(),
                },
                "connection refused",
            ),
            (
                Fault::Connect {
                    detail: "reset".into(),
                },
                "could not connect",
            ),
            (Fault::Timeout { after_ms: 1_000 }, "no answer within 1s"),
            (
                Fault::TotalTimeout { after_ms: 2_000 },
                "took longer than 2s",
            ),
            (
                Fault::IdleStall {
                    after_ms: 1,
                    at_byte: 3,
                },
                "stalled at byte 3",
            ),
            (
                Fault::MalformedChunk {
                    at_byte: 4,
                    detail: String::new(),
                },
                "malformed chunk at byte 4",
            ),
            (Fault::InvalidUtf8 { at_byte: 5 }, "invalid UTF-8 at byte 5"),
            (
                Fault::ErrorInStream {
                    message: "overloaded".into(),
                    code: None,
                    at_byte: 1,
                },
                "error in the stream: overloaded",
            ),
            (Fault::EmptyAnswer, "empty answer"),
            (Fault::TooLarge { limit: 1 }, "too large"),
        ];
        for (fault, expected) in faults {
            assert_eq!(short_fault(&fault), expected);
        }
    }
}
