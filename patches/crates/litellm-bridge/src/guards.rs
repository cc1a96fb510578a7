//! The bridge's side of codex-litellm-guards: the loop guard's verdict on a request, the
//! continuation guard's "was the nudge answered", and the fallback chain with its
//! process-wide circuit breaker. The decisions are the guards crate's; this is wiring.

use crate::answer::ChatAnswer;
use crate::fault::Fault;
use crate::options::BridgeOptions;
use crate::report::LoopGuardReport;
use codex_litellm_guards::continuation;
use codex_litellm_guards::fallback::CircuitBreaker;
use codex_litellm_guards::fallback::FaultInfo;
use codex_litellm_guards::fallback::SystemClock;
use codex_litellm_guards::loop_guard;
use serde_json::Value;
use std::sync::OnceLock;
use std::time::Duration;

pub(crate) enum LoopAction {
    Clear,
    Note {
        text: String,
        report: LoopGuardReport,
    },
    Stop {
        message: String,
        report: LoopGuardReport,
    },
}

fn input(body: &Value) -> &[Value] {
    body.get("input")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// What the loop guard says about the Responses body Codex sent.
pub(crate) fn loop_verdict(options: &BridgeOptions, body: &Value) -> LoopAction {
    let report = |action, call: &loop_guard::RepeatedCall| LoopGuardReport {
        action,
        call: call.name.clone(),
        count: call.count,
        failing: call.failure.is_some(),
    };
    match loop_guard::check(&options.guards.loops, input(body)) {
        loop_guard::Verdict::Clear => LoopAction::Clear,
        loop_guard::Verdict::Note { text, call } => LoopAction::Note {
            report: report("note", &call),
            text,
        },
        loop_guard::Verdict::Stop { message, call } => LoopAction::Stop {
            report: report("stop", &call),
            message,
        },
    }
}

pub(crate) fn turn_used_tools(body: &Value) -> bool {
    continuation::turn_used_tools(input(body))
}

/// Nudges were sent and the answer handed over still ends with a promise and no call.
pub(crate) fn unanswered(nudges: u32, answer: &ChatAnswer) -> bool {
    nudges > 0
        && answer.tool_calls.is_empty()
        && continuation::stated_next_action(&answer.text).is_some()
}

/// One model of a fallback chain.
#[derive(Debug, Clone)]
pub(crate) struct Candidate {
    /// `<provider>/<model>`: the circuit breaker's key and telemetry's name.
    pub key: String,
    /// `None`: the provider of the request.
    pub provider: Option<String>,
    pub model: String,
}

/// The fallback chain of `model` on `provider` (the primary excluded).
pub(crate) fn chain(options: &BridgeOptions, provider: &str, model: &str) -> Vec<Candidate> {
    options
        .fallback
        .chain(model)
        .iter()
        .map(|target| {
            let other = target.provider.clone().filter(|p| p != provider);
            Candidate {
                key: format!("{}/{}", other.as_deref().unwrap_or(provider), target.model),
                provider: other,
                model: target.model.clone(),
            }
        })
        .collect()
}

/// Process-wide: a model that failed is skipped by every bridge for the cool-down.
pub(crate) fn breaker(cooldown: Duration) -> &'static CircuitBreaker<SystemClock> {
    static BREAKER: OnceLock<CircuitBreaker<SystemClock>> = OnceLock::new();
    BREAKER.get_or_init(|| CircuitBreaker::new(cooldown, SystemClock))
}

/// The guards crate reads the bridge's serialised fault (same tag and fields).
pub(crate) fn fault_info(fault: &Fault) -> FaultInfo {
    serde_json::to_value(fault)
        .and_then(serde_json::from_value)
        .unwrap_or(FaultInfo::Other)
}
