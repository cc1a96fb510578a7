//! codex-litellm model-session telemetry: per process (= per Codex session) and per model,
//! how many requests and turns went to the backend, the tokens they used, how often the
//! bridge retried or failed, and how long Codex waited.
//!
//! [`SessionTelemetry`] is a bridge [`ExchangeObserver`]; [`global`] is the process-wide
//! instance. [`SessionTelemetry::snapshot`] copies the counters out; [`status_lines`] and
//! [`exec_summary`] turn a snapshot into text (pure, snapshot-tested) for the TUI's
//! `/status` card and the end of `codex-litellm exec`.
//!
//! [`Tally`] and [`ExchangeFacts`] do the counting; the debug-telemetry reader feeds them
//! recorded exchanges for its per-model summary, and uses [`tokens`], [`duration`] and
//! [`plural`] for its numbers.

mod format;

pub use format::STATUS_LABEL;
pub use format::duration;
pub use format::exec_summary;
pub use format::plural;
pub use format::status_entries;
pub use format::status_lines;
pub use format::tokens;

use codex_litellm_bridge::ExchangeObserver;
use codex_litellm_bridge::ExchangeReport;
use codex_litellm_bridge::Fault;
use codex_litellm_bridge::Outcome;
use codex_litellm_bridge::Usage;
use serde::Serialize;
use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::sync::Mutex;
use std::sync::PoisonError;

/// Counters for one model (or, in [`SessionSnapshot::totals`], for all of them).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ModelStats {
    /// Bridged requests (one per Codex model call, retries included in it).
    pub requests: u64,
    /// Distinct Codex turns (requests without a turn id count as one turn each).
    pub turns: u64,
    pub input_tokens: u64,
    pub cached_input_tokens: u64,
    pub output_tokens: u64,
    pub reasoning_output_tokens: u64,
    pub total_tokens: u64,
    /// Requests whose answer carried no token counts (not included above).
    pub requests_without_usage: u64,
    /// Requests whose token counts above are the bridge's estimate (the backend sent none).
    pub requests_with_estimated_usage: u64,
    /// Attempts that failed and were tried again.
    pub retries: u64,
    /// Requests that failed (Codex got `response.failed` or an HTTP error).
    pub errors: u64,
    /// Failed requests by fault kind (`connect`, `timeout`, `idle_stall`, `stream_cut`,
    /// `error_in_stream`, ...; HTTP errors as `http_<status>`).
    pub errors_by_kind: BTreeMap<String, u64>,
    /// Answers cut off by the output-token limit.
    pub truncations: u64,
    /// Requests the user interrupted.
    pub cancelled: u64,
    /// Tool calls the model wrote as text that the bridge turned into real calls.
    pub recovered_tool_calls: u64,
    /// Time spent waiting on the backend (sum of each request's total time).
    pub wait_ms: u64,
    /// Continuation guard: nudges sent after answers that promised an action.
    pub nudges: u64,
    /// Loop guard: requests that carried its note, and turns it stopped.
    pub loop_notes: u64,
    pub loop_stops: u64,
    /// Requests this model answered instead of the one asked for (fallback).
    pub fallbacks: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ModelSnapshot {
    pub model: String,
    /// Providers that served this model (usually one).
    pub providers: Vec<String>,
    #[serde(flatten)]
    pub stats: ModelStats,
}

/// A copy of the counters. Models are ordered by requests (most first), then name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SessionSnapshot {
    pub models: Vec<ModelSnapshot>,
    pub totals: ModelStats,
}

impl SessionSnapshot {
    /// Nothing was bridged.
    pub fn is_empty(&self) -> bool {
        self.totals.requests == 0
    }
}

#[derive(Debug, Default)]
struct ModelState {
    stats: ModelStats,
    turn_ids: BTreeSet<String>,
    turns_without_id: u64,
    providers: BTreeSet<String>,
}

/// Per-model counters and the turns they came in: what [`SessionTelemetry`] keeps, and what
/// a reader of recorded exchanges can fill the same way.
#[derive(Debug, Default)]
pub struct Tally {
    models: BTreeMap<String, ModelState>,
}

/// Per-model counters for this process.
#[derive(Debug, Default)]
pub struct SessionTelemetry {
    state: Mutex<Tally>,
}

static GLOBAL: SessionTelemetry = SessionTelemetry::new();

/// The process-wide instance (what `/status` and `exec` read).
pub fn global() -> &'static SessionTelemetry {
    &GLOBAL
}

/// The counter key of a fault.
pub fn fault_key(fault: &Fault) -> String {
    match fault {
        Fault::HttpStatus { status, .. } => format!("http_{status}"),
        other => other.kind().to_string(),
    }
}

impl SessionTelemetry {
    pub const fn new() -> Self {
        Self {
            state: Mutex::new(Tally::new()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, Tally> {
        // A panic elsewhere while holding the lock leaves counters that are still usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts one exchange.
    pub fn record(&self, report: &ExchangeReport) {
        self.state().add(
            &report.request.model,
            &report.provider,
            report.turn_id.as_deref(),
            &ExchangeFacts::from_report(report),
        );
    }

    pub fn snapshot(&self) -> SessionSnapshot {
        self.state().snapshot()
    }

    /// Forgets everything counted so far.
    pub fn reset(&self) {
        self.state().models.clear();
    }
}

/// What the counters take from one exchange: built from a live [`ExchangeReport`]
/// ([`ExchangeFacts::from_report`]) or from an exchange recorded on disk.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExchangeFacts {
    /// `None` when the answer carried no token counts.
    pub usage: Option<Usage>,
    /// `usage` is the bridge's estimate (the backend sent none).
    pub usage_estimated: bool,
    /// Attempts that failed and were tried again.
    pub retries: u64,
    pub ending: Ending,
    pub recovered_tool_calls: u64,
    /// The request's total time.
    pub total_ms: u64,
    pub nudges: u64,
    pub loop_notes: u64,
    pub loop_stops: u64,
    /// 1 when another model answered instead of the one asked for.
    pub fallbacks: u64,
}

/// How an exchange ended, as far as the counters go.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Ending {
    /// Completed (or still pending): counted as a request only.
    #[default]
    Completed,
    Truncated,
    Cancelled,
    /// Failed, with the fault's counter key (see [`fault_key`]).
    Failed(String),
}

impl ExchangeFacts {
    pub fn from_report(report: &ExchangeReport) -> Self {
        Self {
            usage: report.usage,
            usage_estimated: report.usage_estimated,
            retries: report
                .attempts
                .iter()
                .filter(|a| a.retry_wait_ms.is_some())
                .count() as u64,
            ending: match &report.outcome {
                Outcome::Failed { fault, .. } => Ending::Failed(fault_key(fault)),
                Outcome::Truncated => Ending::Truncated,
                Outcome::Cancelled => Ending::Cancelled,
                Outcome::Completed | Outcome::Pending => Ending::Completed,
            },
            recovered_tool_calls: report.recovered_tool_calls.len() as u64,
            total_ms: report.total_ms,
            nudges: u64::from(report.nudges),
            loop_notes: u64::from(
                report
                    .loop_guard
                    .as_ref()
                    .is_some_and(|g| g.action == "note"),
            ),
            loop_stops: u64::from(
                report
                    .loop_guard
                    .as_ref()
                    .is_some_and(|g| g.action == "stop"),
            ),
            fallbacks: u64::from(report.fallback.is_some()),
        }
    }
}

impl ModelStats {
    /// Counts one exchange (all but [`ModelStats::turns`], which needs the turn ids).
    pub fn add(&mut self, facts: &ExchangeFacts) {
        self.requests = self.requests.saturating_add(1);
        match facts.usage {
            Some(usage) => {
                self.input_tokens = self.input_tokens.saturating_add(usage.input_tokens);
                self.cached_input_tokens = self
                    .cached_input_tokens
                    .saturating_add(usage.cached_input_tokens);
                self.output_tokens = self.output_tokens.saturating_add(usage.output_tokens);
                self.reasoning_output_tokens = self
                    .reasoning_output_tokens
                    .saturating_add(usage.reasoning_output_tokens);
                self.total_tokens = self.total_tokens.saturating_add(usage.total_tokens);
                if facts.usage_estimated {
                    self.requests_with_estimated_usage =
                        self.requests_with_estimated_usage.saturating_add(1);
                }
            }
            None => self.requests_without_usage = self.requests_without_usage.saturating_add(1),
        }
        self.retries = self.retries.saturating_add(facts.retries);
        match &facts.ending {
            Ending::Failed(kind) => {
                self.errors = self.errors.saturating_add(1);
                let count_so_far = self.errors_by_kind.entry(kind.clone()).or_default();
                *count_so_far = count_so_far.saturating_add(1);
            }
            Ending::Truncated => self.truncations = self.truncations.saturating_add(1),
            Ending::Cancelled => self.cancelled = self.cancelled.saturating_add(1),
            Ending::Completed => {}
        }
        self.recovered_tool_calls = self
            .recovered_tool_calls
            .saturating_add(facts.recovered_tool_calls);
        self.wait_ms = self.wait_ms.saturating_add(facts.total_ms);
        self.nudges = self.nudges.saturating_add(facts.nudges);
        self.loop_notes = self.loop_notes.saturating_add(facts.loop_notes);
        self.loop_stops = self.loop_stops.saturating_add(facts.loop_stops);
        self.fallbacks = self.fallbacks.saturating_add(facts.fallbacks);
    }

    /// Adds another set of counters (all but [`ModelStats::turns`]).
    fn merge(&mut self, other: &ModelStats) {
        self.requests = self.requests.saturating_add(other.requests);
        self.input_tokens = self.input_tokens.saturating_add(other.input_tokens);
        self.cached_input_tokens = self
            .cached_input_tokens
            .saturating_add(other.cached_input_tokens);
        self.output_tokens = self.output_tokens.saturating_add(other.output_tokens);
        self.reasoning_output_tokens = self
            .reasoning_output_tokens
            .saturating_add(other.reasoning_output_tokens);
        self.total_tokens = self.total_tokens.saturating_add(other.total_tokens);
        self.requests_without_usage = self
            .requests_without_usage
            .saturating_add(other.requests_without_usage);
        self.requests_with_estimated_usage = self
            .requests_with_estimated_usage
            .saturating_add(other.requests_with_estimated_usage);
        self.retries = self.retries.saturating_add(other.retries);
        self.errors = self.errors.saturating_add(other.errors);
        for (kind, count) in &other.errors_by_kind {
            let count_so_far = self.errors_by_kind.entry(kind.clone()).or_default();
            *count_so_far = count_so_far.saturating_add(*count);
        }
        self.truncations = self.truncations.saturating_add(other.truncations);
        self.cancelled = self.cancelled.saturating_add(other.cancelled);
        self.recovered_tool_calls = self
            .recovered_tool_calls
            .saturating_add(other.recovered_tool_calls);
        self.wait_ms = self.wait_ms.saturating_add(other.wait_ms);
        self.nudges = self.nudges.saturating_add(other.nudges);
        self.loop_notes = self.loop_notes.saturating_add(other.loop_notes);
        self.loop_stops = self.loop_stops.saturating_add(other.loop_stops);
        self.fallbacks = self.fallbacks.saturating_add(other.fallbacks);
    }
}

impl Tally {
    pub const fn new() -> Self {
        Self {
            models: BTreeMap::new(),
        }
    }

    /// Counts one exchange of `model` (`(unknown)` when empty), served by `provider` (none
    /// when empty), in the turn `turn_id` (`None`: a turn of its own).
    pub fn add(
        &mut self,
        model: &str,
        provider: &str,
        turn_id: Option<&str>,
        facts: &ExchangeFacts,
    ) {
        let model = if model.is_empty() { "(unknown)" } else { model };
        let entry = self.models.entry(model.to_string()).or_default();
        if !provider.is_empty() {
            entry.providers.insert(provider.to_string());
        }
        match turn_id {
            Some(turn) => {
                entry.turn_ids.insert(turn.to_string());
            }
            None => entry.turns_without_id += 1,
        }
        entry.stats.add(facts);
        entry.stats.turns = entry.turn_ids.len() as u64 + entry.turns_without_id;
    }

    pub fn snapshot(&self) -> SessionSnapshot {
        let mut models: Vec<ModelSnapshot> = self
            .models
            .iter()
            .map(|(model, entry)| ModelSnapshot {
                model: model.clone(),
                providers: entry.providers.iter().cloned().collect(),
                stats: entry.stats.clone(),
            })
            .collect();
        models.sort_by(|a, b| {
            b.stats
                .requests
                .cmp(&a.stats.requests)
                .then_with(|| a.model.cmp(&b.model))
        });
        let mut totals = ModelStats::default();
        let mut turn_ids: BTreeSet<&String> = BTreeSet::new();
        let mut turns_without_id = 0;
        for entry in self.models.values() {
            totals.merge(&entry.stats);
            turn_ids.extend(entry.turn_ids.iter());
            turns_without_id += entry.turns_without_id;
        }
        totals.turns = turn_ids.len() as u64 + turns_without_id;
        SessionSnapshot { models, totals }
    }
}

impl ExchangeObserver for SessionTelemetry {
    fn on_exchange(&self, report: &ExchangeReport) {
        self.record(report);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use codex_litellm_bridge::AttemptReport;
    use codex_litellm_bridge::Usage;
    use codex_litellm_bridge::postprocess::RecoveredCall;
    use codex_litellm_bridge::request::RequestSummary;
    use pretty_assertions::assert_eq;
    use std::sync::Arc;

    pub(crate) fn exchange(
        model: &str,
        turn: Option<&str>,
        usage: Option<(u64, u64, u64, u64)>,
        outcome: Outcome,
        retries: usize,
        total_ms: u64,
    ) -> ExchangeReport {
        let mut attempts: Vec<AttemptReport> = (0..retries)
            .map(|i| AttemptReport {
                attempt: i as u32 + 1,
                status: Some(429),
                retry_wait_ms: Some(1000),
                retry_wait_reason: Some("retry-after 1000ms".into()),
                ..AttemptReport::default()
            })
            .collect();
        attempts.push(AttemptReport {
            attempt: retries as u32 + 1,
            status: Some(200),
            ..AttemptReport::default()
        });
        ExchangeReport {
            provider: "litellm".into(),
            turn_id: turn.map(str::to_string),
            request: RequestSummary {
                model: model.into(),
                ..RequestSummary::default()
            },
            usage: usage.map(|(input, cached, output, reasoning)| Usage {
                input_tokens: input,
                cached_input_tokens: cached,
                output_tokens: output,
                reasoning_output_tokens: reasoning,
                total_tokens: input.saturating_add(output),
            }),
            attempts,
            outcome,
            total_ms,
            ..ExchangeReport::default()
        }
    }

    fn failed(fault: Fault) -> Outcome {
        Outcome::Failed {
            code: "backend_error".into(),
            message: String::new(),
            fault,
        }
    }

    /// Backend token counts near u64::MAX saturate instead of overflowing.
    #[test]
    fn token_sums_saturate() {
        let mut stats = ModelStats::default();
        let huge = exchange(
            "m",
            None,
            Some((u64::MAX, u64::MAX, u64::MAX, u64::MAX)),
            Outcome::Completed,
            0,
            u64::MAX,
        );
        for _ in 0..3 {
            stats.add(&ExchangeFacts::from_report(&huge));
        }
        let mut merged = stats.clone();
        merged.merge(&stats);
        for stats in [&stats, &merged] {
            assert_eq!(stats.input_tokens, u64::MAX);
            assert_eq!(stats.output_tokens, u64::MAX);
            assert_eq!(stats.total_tokens, u64::MAX);
            assert_eq!(stats.wait_ms, u64::MAX);
        }
    }

    #[test]
    fn aggregates_per_model_and_in_total() {
        let telemetry = SessionTelemetry::new();
        telemetry.on_exchange(&exchange(
            "qwen3-coder",
            Some("t1"),
            Some((1000, 400, 100, 20)),
            Outcome::Completed,
            0,
            1200,
        ));
        telemetry.on_exchange(&exchange(
            "qwen3-coder",
            Some("t1"),
            Some((1500, 1000, 50, 0)),
            Outcome::Completed,
            2,
            3400,
        ));
        telemetry.on_exchange(&exchange(
            "qwen3-coder",
            Some("t2"),
            None,
            failed(Fault::HttpStatus {
                status: 429,
                message: String::new(),
                retry_after_ms: None,
            }),
            3,
            9000,
        ));
        let mut recovered = exchange(
            "glm-4.6",
            None,
            Some((200, 0, 4096, 0)),
            Outcome::Truncated,
            0,
            800,
        );
        recovered.recovered_tool_calls = vec![RecoveredCall {
            name: "shell".into(),
            syntax: "tool_call_tag",
        }];
        recovered.provider = "zai".into();
        telemetry.on_exchange(&recovered);
        telemetry.on_exchange(&exchange(
            "glm-4.6",
            None,
            None,
            failed(Fault::StreamCut {
                at_byte: 10,
                detail: String::new(),
            }),
            0,
            100,
        ));
        telemetry.on_exchange(&exchange(
            "glm-4.6",
            Some("t2"),
            None,
            Outcome::Cancelled,
            0,
            50,
        ));

        let snapshot = telemetry.snapshot();
        assert_eq!(snapshot.models.len(), 2);
        let qwen = &snapshot.models[1];
        let glm = &snapshot.models[0];
        assert_eq!(glm.model, "glm-4.6"); // 3 requests each: by name
        assert_eq!(qwen.model, "qwen3-coder");
        assert_eq!(
            qwen.stats,
            ModelStats {
                requests: 3,
                turns: 2,
                input_tokens: 2500,
                cached_input_tokens: 1400,
                output_tokens: 150,
                reasoning_output_tokens: 20,
                total_tokens: 2650,
                requests_without_usage: 1,
                requests_with_estimated_usage: 0,
                retries: 5,
                errors: 1,
                errors_by_kind: BTreeMap::from([("http_429".to_string(), 1)]),
                truncations: 0,
                cancelled: 0,
                recovered_tool_calls: 0,
                wait_ms: 13_600,
                nudges: 0,
                loop_notes: 0,
                loop_stops: 0,
                fallbacks: 0,
            }
        );
        assert_eq!(
            glm.providers,
            vec!["litellm".to_string(), "zai".to_string()]
        );
        assert_eq!(glm.stats.turns, 3);
        assert_eq!(glm.stats.truncations, 1);
        assert_eq!(glm.stats.cancelled, 1);
        assert_eq!(glm.stats.recovered_tool_calls, 1);
        assert_eq!(
            glm.stats.errors_by_kind,
            BTreeMap::from([("stream_cut".to_string(), 1)])
        );
        let totals = &snapshot.totals;
        assert_eq!(totals.requests, 6);
        // t1, t2 (shared by both models) and two without an id.
        assert_eq!(totals.turns, 4);
        assert_eq!(totals.input_tokens, 2700);
        assert_eq!(totals.output_tokens, 4246);
        assert_eq!(totals.retries, 5);
        assert_eq!(totals.errors, 2);
        assert_eq!(
            totals.errors_by_kind,
            BTreeMap::from([("http_429".to_string(), 1), ("stream_cut".to_string(), 1)])
        );
        assert_eq!(totals.wait_ms, 14_550);

        telemetry.reset();
        assert!(telemetry.snapshot().is_empty());
    }

    /// `/status` after a fallback: both models with their usage, and the guard counts.
    #[test]
    fn fallback_answers_and_guard_counts_show_per_model() {
        let telemetry = SessionTelemetry::new();
        telemetry.record(&exchange(
            "qwen3-coder",
            None,
            Some((100, 0, 10, 0)),
            Outcome::Completed,
            0,
            1000,
        ));
        let mut served = exchange(
            "qwen3-small",
            None,
            Some((200, 0, 20, 0)),
            Outcome::Completed,
            0,
            1000,
        );
        served.fallback = Some(codex_litellm_bridge::FallbackReport {
            from: "litellm/qwen3-coder".into(),
            to: "litellm/qwen3-small".into(),
            reason: "overloaded".into(),
            detail: "overloaded (HTTP 503)".into(),
        });
        served.nudges = 1;
        served.loop_guard = Some(codex_litellm_bridge::LoopGuardReport {
            action: "note",
            call: "shell".into(),
            count: 3,
            failing: true,
        });
        telemetry.record(&served);
        let lines = status_entries(&telemetry.snapshot());
        assert_eq!(
            lines,
            [
                "qwen3-coder: 1 request · 100 in · 10 out · 0 retries · 0 errors · 1.0s waiting",
                "qwen3-small: 1 request · 200 in · 20 out · 0 retries · 0 errors · 1 answer as fallback · 1 nudge · loop guard: 1 note, 0 stops · 1.0s waiting",
            ]
        );
    }

    #[test]
    fn models_are_ordered_by_use() {
        let telemetry = SessionTelemetry::new();
        telemetry.record(&exchange("a", None, None, Outcome::Completed, 0, 1));
        for _ in 0..2 {
            telemetry.record(&exchange("b", None, None, Outcome::Completed, 0, 1));
        }
        telemetry.record(&exchange("", None, None, Outcome::Completed, 0, 1));
        let names: Vec<String> = telemetry
            .snapshot()
            .models
            .into_iter()
            .map(|m| m.model)
            .collect();
        assert_eq!(names, vec!["b", "(unknown)", "a"]);
    }

    #[test]
    fn a_poisoned_lock_does_not_panic() {
        let telemetry = Arc::new(SessionTelemetry::new());
        telemetry.record(&exchange("m", None, None, Outcome::Completed, 0, 1));
        let clone = Arc::clone(&telemetry);
        let _ = std::thread::spawn(move || {
            let _guard = clone.state.lock();
            panic!("poison the lock");
        })
        .join();
        assert!(telemetry.state.is_poisoned());
        telemetry.record(&exchange("m", None, None, Outcome::Completed, 0, 1));
        assert_eq!(telemetry.snapshot().totals.requests, 2);
    }

    #[test]
    fn global_is_one_instance() {
        assert!(std::ptr::eq(global(), global()));
        let snapshot = global().snapshot();
        let json = serde_json::to_value(&snapshot).unwrap_or_default();
        assert!(json.get("totals").is_some());
    }
}
