//! Fallback: when the turn's attempts on one model are spent on a fault another model can
//! fix, the next attempt goes to the next model of `fallback = [...]`; a model that
//! failed that way is skipped for a cool-down (circuit breaker, default 60 s) instead of
//! being tried first on every request.
//!
//! Switch on (the words are the bridge's `Fault` kinds, fault.rs):
//! - `http_status` 429 without a `Retry-After` or with one longer than
//!   `short_retry_after_ms` (a short one means the same model is back soon);
//! - `http_status` 503, 529, any 5xx, 520–528, or a message saying "overloaded";
//! - `error_in_stream` saying overloaded / rate limited / a 5xx code, or any error the
//!   bridge retries (not a permanent one);
//! - `connect` (connection refused, DNS, TLS) and `timeout` (no response headers);
//! - a context-length error, only when the fallback's context window is known to be
//!   larger than the primary's.
//!
//! Never on 401/403 (the key is wrong: another model behind the same key fails the same
//! way, and Codex must see the 401), 400/404/422 or other bad requests, a refusal, or a
//! fault inside an answer that had started (`stream_cut`, `idle_stall`,
//! `malformed_chunk`, ...: the bridge's own retries handle those).

use serde::Deserialize;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use std::time::Instant;

/// The part of a bridge `Fault` the policy reads. It deserialises from the bridge's
/// serialised `Fault` (`{"kind": "http_status", "status": 503, ...}`); kinds it does not
/// name are [`FaultInfo::Other`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FaultInfo {
    Connect {
        #[serde(default)]
        detail: String,
    },
    /// No response headers within the idle timeout.
    Timeout {},
    HttpStatus {
        status: u16,
        #[serde(default)]
        message: String,
        #[serde(default)]
        retry_after_ms: Option<u64>,
    },
    ErrorInStream {
        #[serde(default)]
        message: String,
        #[serde(default)]
        code: Option<String>,
    },
    /// The model refused (a `refusal` in its answer); not a bridge fault.
    Refusal {
        #[serde(default)]
        message: String,
    },
    #[serde(other)]
    Other,
}

/// Why the next model answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SwitchReason {
    /// 503, 529 or "overloaded".
    Overloaded { status: Option<u16> },
    /// 429 with no short `Retry-After`.
    RateLimited { retry_after_ms: Option<u64> },
    /// Another 5xx, or a retried error inside the answer.
    ServerError { status: Option<u16> },
    /// Connection refused, DNS, TLS, or no response headers.
    Unreachable,
    /// The request is over the primary's window and the fallback's is larger.
    ContextLength { primary: u64, fallback: u64 },
}

impl SwitchReason {
    /// Short words for the notice and telemetry.
    pub fn describe(&self) -> String {
        match self {
            SwitchReason::Overloaded { status: Some(s) } => format!("overloaded (HTTP {s})"),
            SwitchReason::Overloaded { status: None } => "overloaded".to_string(),
            SwitchReason::RateLimited {
                retry_after_ms: Some(ms),
            } => format!("rate limited for {}s (HTTP 429)", ms.div_ceil(1000)),
            SwitchReason::RateLimited {
                retry_after_ms: None,
            } => "rate limited (HTTP 429)".to_string(),
            SwitchReason::ServerError { status: Some(s) } => format!("server error (HTTP {s})"),
            SwitchReason::ServerError { status: None } => "server error".to_string(),
            SwitchReason::Unreachable => "unreachable".to_string(),
            SwitchReason::ContextLength { primary, fallback } => format!(
                "the conversation is over its {primary}-token context window ({fallback} on the fallback)"
            ),
        }
    }

    /// Machine-readable name (telemetry).
    pub fn kind(&self) -> &'static str {
        match self {
            SwitchReason::Overloaded { .. } => "overloaded",
            SwitchReason::RateLimited { .. } => "rate_limited",
            SwitchReason::ServerError { .. } => "server_error",
            SwitchReason::Unreachable => "unreachable",
            SwitchReason::ContextLength { .. } => "context_length",
        }
    }

    /// The one line the user sees (exec on stderr, the TUI through the notice path).
    pub fn notice(&self, from: &str, to: &str, cooldown: Duration) -> String {
        let retry = match self {
            // A longer window does not come back after a cool-down.
            SwitchReason::ContextLength { .. } => String::new(),
            _ => format!("; {from} is tried again after {}s", cooldown.as_secs()),
        };
        format!(
            "codex-litellm: {to} answered instead of {from} ({from}: {}){retry}",
            self.describe()
        )
    }
}

/// `fallback_cooldown_secs` and when a 429's `Retry-After` is short.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FallbackPolicy {
    pub cooldown: Duration,
    /// A 429 asking to wait at most this long stays on the same model.
    pub short_retry_after: Duration,
}

impl Default for FallbackPolicy {
    fn default() -> Self {
        Self {
            cooldown: Duration::from_secs(60),
            short_retry_after: Duration::from_secs(10),
        }
    }
}

/// Context windows, when known, of the model that failed and of the next one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Windows {
    pub primary: Option<u64>,
    pub fallback: Option<u64>,
}

/// Whether the fault the attempts on a model ended with should send the next attempt to
/// the next model, and why.
pub fn switch_reason(
    fault: &FaultInfo,
    policy: &FallbackPolicy,
    windows: Windows,
) -> Option<SwitchReason> {
    let larger_window = || match (windows.primary, windows.fallback) {
        (Some(primary), Some(fallback)) if fallback > primary => {
            Some(SwitchReason::ContextLength { primary, fallback })
        }
        _ => None,
    };
    match fault {
        FaultInfo::Connect { .. } | FaultInfo::Timeout {} => Some(SwitchReason::Unreachable),
        FaultInfo::HttpStatus {
            status,
            message,
            retry_after_ms,
        } => {
            if is_context_length(message) {
                return larger_window();
            }
            match *status {
                429 => {
                    let short = policy.short_retry_after.as_millis() as u64;
                    match retry_after_ms {
                        Some(ms) if *ms <= short => None,
                        _ => Some(SwitchReason::RateLimited {
                            retry_after_ms: *retry_after_ms,
                        }),
                    }
                }
                503 | 529 => Some(SwitchReason::Overloaded {
                    status: Some(*status),
                }),
                500..=599 if mentions_overload(message) => Some(SwitchReason::Overloaded {
                    status: Some(*status),
                }),
                500..=599 => Some(SwitchReason::ServerError {
                    status: Some(*status),
                }),
                _ => None,
            }
        }
        FaultInfo::ErrorInStream { message, code } => {
            let code = code.as_deref().unwrap_or("");
            if is_context_length(message) || is_context_length(code) {
                return larger_window();
            }
            if is_refusal(message) || is_refusal(code) || is_permanent(message, code) {
                return None;
            }
            let status = code.parse::<u16>().ok();
            if mentions_overload(message) || mentions_overload(code) {
                return Some(SwitchReason::Overloaded { status });
            }
            match status {
                Some(429) => Some(SwitchReason::RateLimited {
                    retry_after_ms: None,
                }),
                Some(503 | 529) => Some(SwitchReason::Overloaded { status }),
                Some(500..=599) => Some(SwitchReason::ServerError { status }),
                Some(_) => None,
                None if mentions_rate_limit(message) => Some(SwitchReason::RateLimited {
                    retry_after_ms: None,
                }),
                None => Some(SwitchReason::ServerError { status: None }),
            }
        }
        FaultInfo::Refusal { .. } | FaultInfo::Other => None,
    }
}

fn mentions_overload(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    lower.contains("overloaded") || lower.contains("over capacity")
}

fn mentions_rate_limit(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    lower.contains("rate limit")
        || lower.contains("ratelimit")
        || lower.contains("too many requests")
}

fn is_refusal(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    [
        "content_filter",
        "content filter",
        "content policy",
        "content_policy",
        "safety",
        "refus",
    ]
    .iter()
    .any(|w| lower.contains(w))
}

/// The bridge's permanent error words (fault.rs `error_in_stream_is_retryable`).
fn is_permanent(message: &str, code: &str) -> bool {
    let lower = message.to_ascii_lowercase();
    let code = code.to_ascii_lowercase();
    [
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
    ]
    .iter()
    .any(|w| lower.contains(w))
        || ["invalid", "auth", "not_found", "permission"]
            .iter()
            .any(|w| code.contains(w))
        || matches!(code.parse::<u16>(), Ok(400..=499) if code != "429")
}

/// The bridge's context-length words (fault.rs `is_context_length_error`).
fn is_context_length(text: &str) -> bool {
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
    .any(|w| lower.contains(w))
}

/// A clock the breaker reads; tests advance [`ManualClock`] instead of sleeping.
pub trait Clock: Send + Sync {
    fn now(&self) -> Instant;
}

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// A clock that moves only when told to.
#[derive(Debug)]
pub struct ManualClock {
    start: Instant,
    offset: Mutex<Duration>,
}

impl Default for ManualClock {
    fn default() -> Self {
        Self {
            start: Instant::now(),
            offset: Mutex::new(Duration::ZERO),
        }
    }
}

impl ManualClock {
    pub fn advance(&self, by: Duration) {
        if let Ok(mut offset) = self.offset.lock() {
            *offset += by;
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        let offset = self.offset.lock().map(|o| *o).unwrap_or_default();
        self.start + offset
    }
}

/// Per-model circuit breaker: a model that failed with a [`SwitchReason`] is skipped
/// until its cool-down ends; then it is tried first again.
pub struct CircuitBreaker<C: Clock> {
    cooldown: Duration,
    open_until: Mutex<HashMap<String, Instant>>,
    clock: C,
}

impl<C: Clock> CircuitBreaker<C> {
    pub fn new(cooldown: Duration, clock: C) -> Self {
        Self {
            cooldown,
            open_until: Mutex::new(HashMap::new()),
            clock,
        }
    }

    pub fn clock(&self) -> &C {
        &self.clock
    }

    /// `model` failed in a way another model can fix: skip it for the cool-down.
    pub fn trip(&self, model: &str) {
        let until = self.clock.now() + self.cooldown;
        if let Ok(mut open) = self.open_until.lock() {
            open.insert(model.to_string(), until);
        }
    }

    /// `model` answered: it is first choice again.
    pub fn record_success(&self, model: &str) {
        if let Ok(mut open) = self.open_until.lock() {
            open.remove(model);
        }
    }

    /// Whether `model` is being skipped now.
    pub fn is_open(&self, model: &str) -> bool {
        let now = self.clock.now();
        self.open_until
            .lock()
            .ok()
            .and_then(|open| open.get(model).copied())
            .is_some_and(|until| now < until)
    }

    /// The models to try, in order: the primary then the fallbacks, without those whose
    /// breaker is open. When every breaker is open, the primary alone (a probe beats
    /// refusing the turn).
    pub fn candidates<'a>(&self, primary: &'a str, fallbacks: &'a [String]) -> Vec<&'a str> {
        let all = std::iter::once(primary).chain(fallbacks.iter().map(String::as_str));
        let mut seen = std::collections::HashSet::new();
        let open: Vec<&str> = all
            .filter(|model| seen.insert(*model))
            .filter(|model| !self.is_open(model))
            .collect();
        if open.is_empty() { vec![primary] } else { open }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    fn http(status: u16, message: &str, retry_after_ms: Option<u64>) -> FaultInfo {
        FaultInfo::HttpStatus {
            status,
            message: message.to_string(),
            retry_after_ms,
        }
    }

    fn stream(message: &str, code: Option<&str>) -> FaultInfo {
        FaultInfo::ErrorInStream {
            message: message.to_string(),
            code: code.map(str::to_string),
        }
    }

    fn reason(fault: &FaultInfo) -> Option<&'static str> {
        switch_reason(fault, &FallbackPolicy::default(), Windows::default()).map(|r| r.kind())
    }

    #[test]
    fn switches_on_faults_another_model_can_fix() {
        let cases = [
            (http(429, "slow down", None), Some("rate_limited")),
            (http(429, "slow down", Some(120_000)), Some("rate_limited")),
            (http(429, "slow down", Some(2_000)), None),
            (http(503, "", None), Some("overloaded")),
            (http(529, "", None), Some("overloaded")),
            (
                http(500, "Anthropic is overloaded", None),
                Some("overloaded"),
            ),
            (http(500, "boom", None), Some("server_error")),
            (http(502, "bad gateway", None), Some("server_error")),
            (
                FaultInfo::Connect {
                    detail: "connection refused".into(),
                },
                Some("unreachable"),
            ),
            (FaultInfo::Timeout {}, Some("unreachable")),
            (
                stream("overloaded_error: Overloaded", None),
                Some("overloaded"),
            ),
            (
                stream("too many requests", Some("429")),
                Some("rate_limited"),
            ),
            (
                stream("upstream connection reset", None),
                Some("server_error"),
            ),
            (stream("internal error", Some("500")), Some("server_error")),
        ];
        for (fault, expected) in cases {
            assert_eq!(reason(&fault), expected, "{fault:?}");
        }
    }

    #[test]
    fn never_switches_on_auth_bad_request_or_refusal() {
        let cases = [
            http(401, "invalid key", None),
            http(403, "key not allowed for this model", None),
            http(400, "bad tool schema", None),
            http(404, "no such model", None),
            http(422, "unprocessable", None),
            stream("litellm.BadRequestError: invalid tool", Some("400")),
            stream("AuthenticationError: bad key", None),
            stream("content_filter: the response was filtered", None),
            FaultInfo::Refusal {
                message: "I can't help with that".into(),
            },
            FaultInfo::Other,
        ];
        for fault in cases {
            assert_eq!(reason(&fault), None, "{fault:?}");
        }
    }

    #[test]
    fn context_length_switches_only_to_a_larger_known_window() {
        let fault = http(
            400,
            "This model's maximum context length is 8192 tokens",
            None,
        );
        let policy = FallbackPolicy::default();
        let at = |primary, fallback| switch_reason(&fault, &policy, Windows { primary, fallback });
        assert_eq!(
            at(Some(8192), Some(131_072)),
            Some(SwitchReason::ContextLength {
                primary: 8192,
                fallback: 131_072
            })
        );
        assert_eq!(at(Some(8192), Some(8192)), None);
        assert_eq!(at(Some(8192), None), None);
        assert_eq!(at(None, Some(131_072)), None);
        let in_stream = stream("ContextWindowExceededError: prompt is too long", None);
        assert_eq!(
            switch_reason(
                &in_stream,
                &policy,
                Windows {
                    primary: Some(1),
                    fallback: Some(2)
                }
            )
            .map(|r| r.kind()),
            Some("context_length")
        );
    }

    #[test]
    fn the_bridge_fault_json_deserialises() {
        let fault: FaultInfo = serde_json::from_value(json!({
            "kind": "http_status", "status": 503, "message": "overloaded", "retry_after_ms": 500
        }))
        .unwrap();
        assert_eq!(fault, http(503, "overloaded", Some(500)));
        let stall: FaultInfo =
            serde_json::from_value(json!({"kind": "idle_stall", "after_ms": 1, "at_byte": 2}))
                .unwrap();
        assert_eq!(stall, FaultInfo::Other);
        let connect: FaultInfo =
            serde_json::from_value(json!({"kind": "connect", "detail": "refused"})).unwrap();
        assert_eq!(reason(&connect), Some("unreachable"));
        let timeout: FaultInfo =
            serde_json::from_value(json!({"kind": "timeout", "after_ms": 30000})).unwrap();
        assert_eq!(timeout, FaultInfo::Timeout {});
    }

    #[test]
    fn breaker_skips_a_tripped_model_for_the_cooldown_only() {
        let breaker = CircuitBreaker::new(Duration::from_secs(60), ManualClock::default());
        let fallbacks = vec!["model-b".to_string(), "model-c".to_string()];
        assert_eq!(
            breaker.candidates("model-a", &fallbacks),
            vec!["model-a", "model-b", "model-c"]
        );
        breaker.trip("model-a");
        assert_eq!(
            breaker.candidates("model-a", &fallbacks),
            vec!["model-b", "model-c"]
        );
        breaker.clock().advance(Duration::from_secs(59));
        assert!(breaker.is_open("model-a"));
        breaker.clock().advance(Duration::from_secs(1));
        assert!(!breaker.is_open("model-a"));
        assert_eq!(
            breaker.candidates("model-a", &fallbacks)[0],
            "model-a",
            "the primary is tried first again after the cool-down"
        );
    }

    #[test]
    fn breaker_probes_the_primary_when_every_model_is_down_and_forgets_on_success() {
        let breaker = CircuitBreaker::new(Duration::from_secs(60), ManualClock::default());
        let fallbacks = vec!["model-b".to_string()];
        breaker.trip("model-a");
        breaker.trip("model-b");
        assert_eq!(breaker.candidates("model-a", &fallbacks), vec!["model-a"]);
        breaker.record_success("model-b");
        assert_eq!(breaker.candidates("model-a", &fallbacks), vec!["model-b"]);
    }

    #[test]
    fn the_notice_names_both_models_the_reason_and_the_cooldown() {
        let reason = SwitchReason::Overloaded { status: Some(503) };
        assert_eq!(
            reason.notice("qwen3-coder", "qwen3-small", Duration::from_secs(60)),
            "codex-litellm: qwen3-small answered instead of qwen3-coder (qwen3-coder: overloaded (HTTP 503)); qwen3-coder is tried again after 60s"
        );
        let context = SwitchReason::ContextLength {
            primary: 8192,
            fallback: 131_072,
        };
        assert_eq!(
            context.notice("small", "big", Duration::from_secs(60)),
            "codex-litellm: big answered instead of small (small: the conversation is over its 8192-token context window (131072 on the fallback))"
        );
    }
}
