//! Output of the rows on their own (upstream's doctor renders them itself through the hook).

use crate::Row;
use crate::Status;

/// One line per row, `✓`/`⚠`/`✗`/`-`, the fix under a failing one.
pub fn render_human(rows: &[Row]) -> String {
    let mut out = String::new();
    for row in rows {
        let mark = match row.status {
            Status::Ok => "✓",
            Status::Warning => "⚠",
            Status::Fail => "✗",
            Status::Skipped => "-",
        };
        out.push_str(&format!("  {mark} {:<12} {}\n", row.category, row.summary));
        if matches!(row.status, Status::Warning | Status::Fail)
            && let Some(fix) = &row.remediation
        {
            out.push_str(&format!("      → {fix}\n"));
        }
    }
    out
}

/// `{"overallStatus": ..., "checks": [...]}`.
pub fn render_json(rows: &[Row]) -> serde_json::Value {
    let overall = rows
        .iter()
        .map(|r| r.status)
        .filter(|s| *s != Status::Skipped)
        .max()
        .unwrap_or(Status::Ok);
    serde_json::json!({
        "overallStatus": overall,
        "checks": rows,
    })
}

/// 1 when a check failed, else 0.
pub fn exit_code(rows: &[Row]) -> i32 {
    i32::from(rows.iter().any(|r| r.status == Status::Fail))
}
