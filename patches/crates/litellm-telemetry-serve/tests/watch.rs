//! `telemetry watch`: one line per exchange as it completes.

mod common;

use common::*;
use pretty_assertions::assert_eq;
use std::io::Write;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering;
use std::time::Duration;

#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut v) = self.0.lock() {
            v.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Shared {
    fn text(&self) -> String {
        self.0
            .lock()
            .map(|v| String::from_utf8_lossy(&v).into_owned())
            .unwrap_or_default()
    }

    fn wait_for(&self, lines: usize) -> Vec<String> {
        for _ in 0..800 {
            let text = self.text();
            if text.lines().count() >= lines {
                return text.lines().map(str::to_string).collect();
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("expected {lines} lines, got:\n{}", self.text());
    }
}

#[test]
fn watch_prints_each_new_exchange_once_it_is_complete() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    fixture(dir.path());
    let out = Shared::default();
    let stop = Arc::new(AtomicBool::new(false));
    let thread = {
        let (dir, mut out, stop) = (dir.path().to_path_buf(), out.clone(), stop.clone());
        std::thread::spawn(move || {
            codex_litellm_telemetry_serve::watch::watch(dir, None, &mut out, &mut || {
                !stop.load(Ordering::Relaxed)
            })
        })
    };
    // The header line; records already there are not repeated.
    out.wait_for(1);

    let path = dir.path().join(SESSION_FILE);
    let line = format!(
        "{}\n",
        rate_limited_record(SESSION, 1_772_360_400_000, "d4f9a1b2-dddd", "glm-4.6")
    );
    let (head, tail) = line.split_at(line.len() / 2);
    append_raw(&path, head.as_bytes());
    // A complete record in another file, written after the torn one: once it is printed,
    // watch has looked at both.
    write_lines(&dir.path().join(EARLIER_FILE), &earlier_records());
    let lines = out.wait_for(2);
    assert!(lines[1].contains("  0b1c2d3e  #2  "), "{lines:?}");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(out.text().lines().count(), 2, "{}", out.text());
    append_raw(&path, tail.as_bytes());
    let lines = out.wait_for(3);

    let new_file = dir
        .path()
        .join("20260301T110000-11111111-2222-7333-8444-555555555555.jsonl");
    write_lines(&new_file, &session_records()[..1]);
    let lines2 = out.wait_for(4);
    stop.store(true, Ordering::Relaxed);
    let result = thread.join().unwrap_or_else(|_| panic!("watch panicked"));
    assert_eq!(result, Ok(()));
    assert_eq!(
        lines[2],
        "10:20:00  019a7c3e  #5  glm-4.6  HTTP 429  total 90.5s  3 retries  failed  ERROR http_status  rate limited (HTTP 429) — gave up after 4 attempts; last Retry-After 30s"
    );
    assert_eq!(
        lines2[3],
        "10:15:00  11111111  #1  qwen3-coder  HTTP 200  first byte 240ms  total 2.1s  in 12100 out 311  tool_calls  completed (tool_calls) in 2.1s, 1 attempt"
    );
}
