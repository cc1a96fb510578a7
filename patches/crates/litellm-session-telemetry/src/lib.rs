//! codex-litellm model-session telemetry: per process (= per Codex session) and per model,
//! how many requests and turns went to the backend, the tokens they used, how often the
//! bridge retried or failed, and how long Codex waited.
//!
//! [`SessionTelemetry`] is a bridge [`ExchangeObserver`]; [`global`] is the process-wide
//! instance. [`SessionTelemetry::snapshot`] copies the counters out; [`status_lines`] and
//! [`exec_summary`] turn a snapshot into text (pure, snapshot-tested) for the TUI's
//! `/status` card and the end of `codex-litellm exec`.

mod format;

pub use format::STATUS_LABEL;
pub use format::exec_summary;
pub use format::status_entries;
pub use format::status_lines;

use codex_litellm_bridge::ExchangeObserver;
use codex_litellm_bridge::ExchangeReport;
use codex_litellm_bridge::Fault;
use codex_litellm_bridge::Outcome;
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

#[derive(Debug, Default)]
struct State {
    models: BTreeMap<String, ModelState>,
}

/// Per-model counters for this process.
#[derive(Debug, Default)]
pub struct SessionTelemetry {
    state: Mutex<State>,
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
            state: Mutex::new(State {
                models: BTreeMap::new(),
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic elsewhere while holding the lock leaves counters that are still usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts one exchange.
    pub fn record(&self, report: &ExchangeReport) {
        let model = if report.request.model.is_empty() {
            "(unknown)".to_string()
        } else {
            report.request.model.clone()
        };
        let mut state = self.state();
        let entry = state.models.entry(model).or_default();
        if !report.provider.is_empty() {
            entry.providers.insert(report.provider.clone());
        }
        match &report.turn_id {
            Some(turn) => {
                entry.turn_ids.insert(turn.clone());
            }
            None => entry.turns_without_id += 1,
        }
        let stats = &mut entry.stats;
        stats.requests += 1;
        stats.turns = entry.turn_ids.len() as u64 + entry.turns_without_id;
        match report.usage {
            Some(usage) => {
                stats.input_tokens += usage.input_tokens;
                stats.cached_input_tokens += usage.cached_input_tokens;
                stats.output_tokens += usage.output_tokens;
                stats.reasoning_output_tokens += usage.reasoning_output_tokens;
                stats.total_tokens += usage.total_tokens;
            }
            None => stats.requests_without_usage += 1,
        }
        stats.retries += report
            .attempts
            .iter()
            .filter(|a| a.retry_wait_ms.is_some())
            .count() as u64;
        match &report.outcome {
            Outcome::Failed { fault, .. } => {
                stats.errors += 1;
                *stats.errors_by_kind.entry(fault_key(fault)).or_default() += 1;
            }
            Outcome::Truncated => stats.truncations += 1,
            Outcome::Cancelled => stats.cancelled += 1,
            Outcome::Completed | Outcome::Pending => {}
        }
        stats.recovered_tool_calls += report.recovered_tool_calls.len() as u64;
        stats.wait_ms += report.total_ms;
    }

    pub fn snapshot(&self) -> SessionSnapshot {
        let state = self.state();
        let mut models: Vec<ModelSnapshot> = state
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
        for entry in state.models.values() {
            add(&mut totals, &entry.stats);
            turn_ids.extend(entry.turn_ids.iter());
            turns_without_id += entry.turns_without_id;
        }
        totals.turns = turn_ids.len() as u64 + turns_without_id;
        SessionSnapshot { models, totals }
    }

    /// Forgets everything counted so far.
    pub fn reset(&self) {
        self.state().models.clear();
    }
}

fn add(total: &mut ModelStats, stats: &ModelStats) {
    total.requests += stats.requests;
    total.input_tokens += stats.input_tokens;
    total.cached_input_tokens += stats.cached_input_tokens;
    total.output_tokens += stats.output_tokens;
    total.reasoning_output_tokens += stats.reasoning_output_tokens;
    total.total_tokens += stats.total_tokens;
    total.requests_without_usage += stats.requests_without_usage;
    total.retries += stats.retries;
    total.errors += stats.errors;
    for (kind, count) in &stats.errors_by_kind {
        *total.errors_by_kind.entry(kind.clone()).or_default() += count;
    }
    total.truncations += stats.truncations;
    total.cancelled += stats.cancelled;
    total.recovered_tool_calls += stats.recovered_tool_calls;
    total.wait_ms += stats.wait_ms;
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
                total_tokens: input + output,
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
                retries: 5,
                errors: 1,
                errors_by_kind: BTreeMap::from([("http_429".to_string(), 1)]),
                truncations: 0,
                cancelled: 0,
                recovered_tool_calls: 0,
                wait_ms: 13_600,
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
