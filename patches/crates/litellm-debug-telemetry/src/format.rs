//! Small text helpers shared by the diagnosis and the reader. Token counts, measured
//! durations and plurals are the session telemetry's, so both crates print numbers alike.

/// A measured duration (`41.3s`, `2m 05s`), as opposed to a configured [`limit`].
pub(crate) use codex_litellm_model_session_telemetry::duration as measured;
pub(crate) use codex_litellm_model_session_telemetry::plural;
pub(crate) use codex_litellm_model_session_telemetry::tokens;

/// A configured limit: whole seconds when exact (`300s`), else one decimal.
pub(crate) fn limit(ms: u64) -> String {
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{:.1}s", ms as f64 / 1000.0)
    }
}

/// First `max_chars` characters of `text` on one line, with `…` when cut.
pub(crate) fn one_line(text: &str, max_chars: usize) -> String {
    let flat: String = text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .collect();
    if flat.chars().count() <= max_chars {
        return flat;
    }
    let head: String = flat.chars().take(max_chars).collect();
    format!("{head}…")
}

/// Renders rows as left-aligned columns separated by two spaces; the last column is not
/// padded (it holds free text).
pub(crate) fn table(rows: &[Vec<String>]) -> Vec<String> {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0usize; columns];
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    rows.iter()
        .map(|row| {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate() {
                if i > 0 {
                    line.push_str("  ");
                }
                line.push_str(cell);
                if i + 1 < row.len() {
                    let pad = widths[i].saturating_sub(cell.chars().count());
                    line.push_str(&" ".repeat(pad));
                }
            }
            line.trim_end().to_string()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    // tokens / measured / plural come from the session-telemetry crate and are tested there.
    fn numbers() {
        assert_eq!(limit(300_000), "300s");
        assert_eq!(limit(1_500), "1.5s");
        assert_eq!(one_line("a\n  b\tc", 10), "a b c");
        assert_eq!(one_line("abcdef", 3), "abc…");
    }

    #[test]
    fn table_layout() {
        let rows = vec![
            vec!["A".to_string(), "BB".to_string(), "free".to_string()],
            vec!["ccc".to_string(), "d".to_string(), "x".to_string()],
        ];
        assert_eq!(table(&rows), vec!["A    BB  free", "ccc  d   x"]);
    }
}
