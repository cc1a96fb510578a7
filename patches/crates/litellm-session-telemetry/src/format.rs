//! Text for the TUI's `/status` card and the end of `codex-litellm exec`. Pure functions of a
//! snapshot.

use crate::ModelStats;
use crate::SessionSnapshot;

/// Label of the `/status` row.
pub const STATUS_LABEL: &str = "LiteLLM";

/// One entry per model, without a label:
/// `qwen3-coder: 12 requests · 48.2K in (31.0K cached) · 3.1K out · 2 retries · 0 errors · 41.3s waiting`.
/// Empty when nothing was bridged.
pub fn status_entries(snapshot: &SessionSnapshot) -> Vec<String> {
    snapshot
        .models
        .iter()
        .map(|m| format!("{}: {}", m.model, stats_line(&m.stats, false)))
        .collect()
}

/// The `/status` lines: the first carries the `LiteLLM` label, the others are aligned under
/// it. Empty when nothing was bridged.
pub fn status_lines(snapshot: &SessionSnapshot) -> Vec<String> {
    let indent = " ".repeat(STATUS_LABEL.len() + 2);
    status_entries(snapshot)
        .into_iter()
        .enumerate()
        .map(|(i, entry)| {
            if i == 0 {
                format!("{STATUS_LABEL}  {entry}")
            } else {
                format!("{indent}{entry}")
            }
        })
        .collect()
}

/// A few lines for stderr at the end of `codex-litellm exec`; `None` when nothing was
/// bridged.
pub fn exec_summary(snapshot: &SessionSnapshot) -> Option<String> {
    if snapshot.is_empty() {
        return None;
    }
    let mut lines = Vec::new();
    match snapshot.models.as_slice() {
        [one] => lines.push(format!(
            "codex-litellm: {} · {}",
            one.model,
            stats_line(&one.stats, true)
        )),
        many => {
            lines.push(format!(
                "codex-litellm: {} models · {}",
                many.len(),
                stats_line(&snapshot.totals, true)
            ));
            for m in many {
                lines.push(format!("  {}: {}", m.model, stats_line(&m.stats, false)));
            }
        }
    }
    Some(lines.join("\n"))
}

fn stats_line(stats: &ModelStats, with_turns: bool) -> String {
    let mut parts = Vec::new();
    let mut requests = plural(stats.requests, "request", "requests");
    if with_turns {
        requests.push_str(&format!(" in {}", plural(stats.turns, "turn", "turns")));
    }
    parts.push(requests);
    if stats.requests_without_usage == stats.requests {
        parts.push("no token counts".to_string());
    } else {
        // Counts that are (partly) the bridge's estimate are marked as such.
        let about = if stats.requests_with_estimated_usage > 0 {
            "~"
        } else {
            ""
        };
        let mut input = format!("{about}{} in", tokens(stats.input_tokens));
        if stats.cached_input_tokens > 0 {
            input.push_str(&format!(" ({} cached)", tokens(stats.cached_input_tokens)));
        }
        parts.push(input);
        let mut output = format!("{about}{} out", tokens(stats.output_tokens));
        if stats.reasoning_output_tokens > 0 {
            output.push_str(&format!(
                " ({} reasoning)",
                tokens(stats.reasoning_output_tokens)
            ));
        }
        if stats.requests_with_estimated_usage > 0 {
            output.push_str(" (estimated)");
        }
        parts.push(output);
    }
    parts.push(plural(stats.retries, "retry", "retries"));
    let mut errors = plural(stats.errors, "error", "errors");
    if stats.errors > 0 {
        let kinds: Vec<String> = stats
            .errors_by_kind
            .iter()
            .map(|(kind, count)| {
                if *count > 1 {
                    format!("{} ×{count}", kind_label(kind))
                } else {
                    kind_label(kind)
                }
            })
            .collect();
        errors.push_str(&format!(" ({})", kinds.join(", ")));
    }
    parts.push(errors);
    if stats.truncations > 0 {
        parts.push(format!("{} cut off", stats.truncations));
    }
    if stats.recovered_tool_calls > 0 {
        parts.push(format!(
            "{} recovered",
            plural(stats.recovered_tool_calls, "tool call", "tool calls")
        ));
    }
    if stats.cancelled > 0 {
        parts.push(format!("{} cancelled", stats.cancelled));
    }
    if stats.fallbacks > 0 {
        parts.push(format!(
            "{} as fallback",
            plural(stats.fallbacks, "answer", "answers")
        ));
    }
    if stats.nudges > 0 {
        parts.push(plural(stats.nudges, "nudge", "nudges"));
    }
    if stats.loop_notes + stats.loop_stops > 0 {
        parts.push(format!(
            "loop guard: {}, {}",
            plural(stats.loop_notes, "note", "notes"),
            plural(stats.loop_stops, "stop", "stops")
        ));
    }
    parts.push(format!("{} waiting", duration(stats.wait_ms)));
    parts.join(" · ")
}

/// A fault key as a reader would say it.
fn kind_label(kind: &str) -> String {
    if let Some(status) = kind.strip_prefix("http_")
        && status.chars().all(|c| c.is_ascii_digit())
    {
        return format!("HTTP {status}");
    }
    match kind {
        "connect" => "connection".to_string(),
        "idle_stall" => "stalled".to_string(),
        "error_in_stream" => "error in stream".to_string(),
        "invalid_utf8" => "invalid UTF-8".to_string(),
        other => other.replace('_', " "),
    }
}

/// `1 retry`, `2 retries`.
pub fn plural(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// Token counts: `812`, `48.2K`, `1.3M`.
pub fn tokens(n: u64) -> String {
    if n < 1000 {
        n.to_string()
    } else if n < 999_950 {
        format!("{:.1}K", n as f64 / 1000.0)
    } else {
        format!("{:.1}M", n as f64 / 1_000_000.0)
    }
}

/// A measured duration: one decimal below a minute (`2.1s`, `41.3s`), then `12m 03s`,
/// `1h 05m`.
pub fn duration(ms: u64) -> String {
    if ms < 60_000 {
        return format!("{:.1}s", ms as f64 / 1000.0);
    }
    let secs = ms / 1000;
    if secs >= 3600 {
        format!("{}h {:02}m", secs / 3600, (secs % 3600) / 60)
    } else {
        format!("{}m {:02}s", secs / 60, secs % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SessionTelemetry;
    use crate::tests::exchange;
    use codex_litellm_bridge::Fault;
    use codex_litellm_bridge::Outcome;
    use codex_litellm_bridge::postprocess::RecoveredCall;
    use pretty_assertions::assert_eq;

    fn one_model() -> SessionSnapshot {
        let telemetry = SessionTelemetry::new();
        // 12 requests, 48.2K in (31.0K cached), 3.1K out, 2 retries, 41.3s.
        for i in 0..12u64 {
            let retries = if i == 3 { 2 } else { 0 };
            let input = if i == 0 { 4_200 } else { 4_000 };
            let cached = if i == 0 { 9_000 } else { 2_000 };
            let output = if i == 0 { 900 } else { 200 };
            telemetry.record(&exchange(
                "qwen3-coder",
                Some(&format!("t{}", i / 3)),
                Some((input, cached, output, 0)),
                Outcome::Completed,
                retries,
                if i == 0 { 2_800 } else { 3_500 },
            ));
        }
        telemetry.snapshot()
    }

    fn two_models() -> SessionSnapshot {
        let telemetry = SessionTelemetry::new();
        telemetry.record(&exchange(
            "qwen3-coder",
            Some("t1"),
            Some((12_300, 8_000, 1_100, 300)),
            Outcome::Completed,
            1,
            9_800,
        ));
        for status in [429, 429] {
            telemetry.record(&exchange(
                "qwen3-coder",
                Some("t2"),
                None,
                Outcome::Failed {
                    code: "rate_limit_exceeded".into(),
                    message: String::new(),
                    fault: Fault::HttpStatus {
                        status,
                        message: String::new(),
                        retry_after_ms: Some(30_000),
                    },
                },
                3,
                95_000,
            ));
        }
        let mut truncated = exchange(
            "glm-4.6",
            Some("t3"),
            Some((2_000, 0, 4_096, 0)),
            Outcome::Truncated,
            0,
            20_000,
        );
        truncated.recovered_tool_calls = vec![RecoveredCall {
            name: "shell".into(),
            syntax: "tool_call_tag",
        }];
        telemetry.record(&truncated);
        telemetry.record(&exchange(
            "glm-4.6",
            Some("t4"),
            None,
            Outcome::Failed {
                code: "backend_error".into(),
                message: String::new(),
                fault: Fault::IdleStall {
                    after_ms: 120_000,
                    at_byte: 5121,
                },
            },
            0,
            120_500,
        ));
        telemetry.record(&exchange(
            "glm-4.6",
            Some("t5"),
            None,
            Outcome::Cancelled,
            0,
            3_200,
        ));
        telemetry.snapshot()
    }

    #[test]
    fn status_for_one_model_matches_the_card_format() {
        assert_eq!(
            status_lines(&one_model()),
            vec![
                "LiteLLM  qwen3-coder: 12 requests · 48.2K in (31.0K cached) · 3.1K out · 2 retries · 0 errors · 41.3s waiting"
            ]
        );
    }

    /// Counts the bridge estimated (the backend sent none) say so, in `/status` and the
    /// exec summary alike.
    #[test]
    fn estimated_counts_are_marked() {
        let telemetry = SessionTelemetry::new();
        let mut report = exchange(
            "smollm2",
            Some("t1"),
            Some((3_700, 0, 12, 0)),
            Outcome::Completed,
            0,
            8_300,
        );
        report.usage_estimated = true;
        telemetry.record(&report);
        let snapshot = telemetry.snapshot();
        assert_eq!(
            status_lines(&snapshot),
            vec![
                "LiteLLM  smollm2: 1 request · ~3.7K in · ~12 out (estimated) · 0 retries · 0 errors · 8.3s waiting"
            ]
        );
        let summary = exec_summary(&snapshot).unwrap_or_default();
        assert!(summary.contains("~12 out (estimated)"), "{summary}");
    }

    #[test]
    fn nothing_bridged_means_nothing_shown() {
        let empty = SessionSnapshot::default();
        assert!(status_lines(&empty).is_empty());
        assert!(status_entries(&empty).is_empty());
        assert_eq!(exec_summary(&empty), None);
    }

    #[test]
    fn status_snapshots() {
        insta::assert_snapshot!("status_two_models", status_lines(&two_models()).join("\n"));
        insta::assert_snapshot!(
            "status_entries_two_models",
            status_entries(&two_models()).join("\n")
        );
    }

    #[test]
    fn exec_summary_snapshots() {
        insta::assert_snapshot!(
            "exec_one_model",
            exec_summary(&one_model()).unwrap_or_default()
        );
        insta::assert_snapshot!(
            "exec_two_models",
            exec_summary(&two_models()).unwrap_or_default()
        );
    }

    #[test]
    fn number_formats() {
        assert_eq!(tokens(0), "0");
        assert_eq!(tokens(999), "999");
        assert_eq!(tokens(48_200), "48.2K");
        assert_eq!(tokens(1_300_000), "1.3M");
        assert_eq!(duration(41_300), "41.3s");
        assert_eq!(duration(125_000), "2m 05s");
        assert_eq!(duration(3_900_000), "1h 05m");
        assert_eq!(duration(2_100), "2.1s");
        assert_eq!(duration(723_000), "12m 03s");
        assert_eq!(duration(61_000), "1m 01s");
        assert_eq!(tokens(999_960), "1.0M");
        assert_eq!(plural(1, "retry", "retries"), "1 retry");
        assert_eq!(plural(2, "retry", "retries"), "2 retries");
        assert_eq!(kind_label("http_429"), "HTTP 429");
        assert_eq!(kind_label("idle_stall"), "stalled");
        assert_eq!(kind_label("stream_cut"), "stream cut");
    }
}
