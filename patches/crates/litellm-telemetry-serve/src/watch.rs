//! `telemetry watch`: one line per exchange as it completes, for machines without a browser.

use crate::index::Change;
use crate::index::Index;
use crate::index::RequestRow;
use crate::server::POLL;
use codex_litellm_debug_telemetry::reader::SessionFile;
use std::io::Write;
use std::path::PathBuf;

/// `10:15:04  019a7c3e  #2  qwen3-coder  HTTP 200  first byte 240ms  total 4.2s  in 12600 out 95  stop  <diagnosis>`
pub fn line(session_id: &str, row: &RequestRow) -> String {
    let clock = row
        .time
        .split_once('T')
        .map(|(_, rest)| rest.chars().take(8).collect::<String>())
        .unwrap_or_else(|| "-".to_string());
    let ms = |ms: u64| {
        if ms < 1000 {
            format!("{ms}ms")
        } else {
            format!("{:.1}s", ms as f64 / 1000.0)
        }
    };
    let mut parts = vec![
        clock,
        session_id.chars().take(8).collect(),
        format!("#{}", row.n),
        row.model.clone(),
        row.http_status
            .map_or_else(|| "no HTTP status".to_string(), |s| format!("HTTP {s}")),
    ];
    if let Some(first) = row.first_byte_ms {
        parts.push(format!("first byte {}", ms(first)));
    }
    parts.push(format!("total {}", ms(row.total_ms)));
    if let (Some(i), Some(o)) = (row.input_tokens, row.output_tokens) {
        parts.push(format!("in {i} out {o}"));
    }
    if row.retries > 0 {
        parts.push(format!(
            "{} retr{}",
            row.retries,
            if row.retries == 1 { "y" } else { "ies" }
        ));
    }
    parts.push(
        row.finish_reason
            .clone()
            .unwrap_or_else(|| row.outcome.clone()),
    );
    if row.error {
        parts.push(format!(
            "ERROR {}",
            row.fault_kind.as_deref().unwrap_or("unknown")
        ));
    }
    parts.push(row.diagnosis.clone());
    parts.join("  ")
}

/// Prints each new exchange in `dir` (only those of `session` when given) until `keep_going`
/// says stop or the output is closed.
pub fn watch(
    dir: PathBuf,
    session: Option<&SessionFile>,
    out: &mut dyn Write,
    keep_going: &mut dyn FnMut() -> bool,
) -> Result<(), String> {
    let mut index = Index::new(dir);
    index.poll()?;
    let _ = writeln!(
        out,
        "watching {} for new exchanges (Ctrl-C to stop)",
        index.dir().display()
    );
    let _ = out.flush();
    while keep_going() {
        std::thread::sleep(POLL);
        for change in index.poll()? {
            let Change::Request {
                session: name,
                request,
            } = change
            else {
                continue;
            };
            if session.is_some_and(|s| s.file_name != name) {
                continue;
            }
            let id = name
                .strip_suffix(".jsonl")
                .map(|stem| stem.get(16..).unwrap_or(stem))
                .unwrap_or(&name);
            writeln!(out, "{}", line(id, &request)).map_err(|e| format!("cannot write: {e}"))?;
            out.flush().map_err(|e| format!("cannot write: {e}"))?;
        }
    }
    Ok(())
}
