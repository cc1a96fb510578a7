//! The `mock-llm` binary, as shell smoke scenarios use it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::BufRead as _;
use std::io::BufReader;
use std::io::Read as _;
use std::io::Write as _;
use std::net::TcpStream;
use std::path::Path;
use std::process::Child;
use std::process::Command;
use std::process::ExitStatus;
use std::process::Stdio;
use std::time::Duration;
use std::time::Instant;

use pretty_assertions::assert_eq;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_mock-llm");

fn write_scenario(dir: &Path, json: &str) -> std::path::PathBuf {
    let path = dir.join("scenario.json");
    std::fs::write(&path, json).unwrap();
    path
}

fn wait_exit(child: &mut Child, within: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

/// One blocking HTTP exchange; returns the raw response.
fn http(port: u16, request: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

fn chat(port: u16, body: &str) -> String {
    http(
        port,
        &format!(
            "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer sk-secret\r\n\
content-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        ),
    )
}

#[test]
fn serves_records_and_exits_on_stdin_eof() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = write_scenario(
        dir.path(),
        r#"{"models": ["m"], "responses": [{"text": "hi there"}]}"#,
    );
    let port_file = dir.path().join("port");
    let record = dir.path().join("rec.jsonl");
    let mut child = Command::new(BIN)
        .arg("--scenario")
        .arg(&scenario)
        .arg("--port-file")
        .arg(&port_file)
        .arg("--record")
        .arg(&record)
        .arg("--exit-on-stdin-eof")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let port: u16 = std::fs::read_to_string(&port_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(line, format!("listening on http://127.0.0.1:{port}/v1\n"));
    // No temp file left next to the port file.
    let entries: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(entries.len(), 3, "scenario, port, record");

    let response = chat(port, r#"{"model":"m","stream":true}"#);
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(response.contains("data: [DONE]"), "{response}");
    let response = chat(port, r#"{"model":"m"}"#);
    assert!(response.starts_with("HTTP/1.1 500 "), "{response}");

    drop(child.stdin.take());
    let status = wait_exit(&mut child, Duration::from_secs(10)).expect("exits on stdin EOF");
    assert!(status.success(), "{status}");
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(stderr.contains("-> responses[0]"), "{stderr}");
    assert!(stderr.contains("-> fallback"), "{stderr}");

    let recorded: Vec<Value> = std::fs::read_to_string(&record)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(recorded.len(), 2);
    assert_eq!(
        recorded[0]["body"],
        serde_json::json!({"model": "m", "stream": true})
    );
    assert_eq!(recorded[0]["headers"]["authorization"], "Bearer ***");
    assert_eq!(
        recorded[0]["served_by"],
        serde_json::json!({"kind": "entry", "index": 0})
    );
    assert_eq!(
        recorded[1]["served_by"],
        serde_json::json!({"kind": "fallback"})
    );
}

#[test]
fn stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = write_scenario(dir.path(), "{}");
    let port_file = dir.path().join("port");
    let mut child = Command::new(BIN)
        .arg("--scenario")
        .arg(&scenario)
        .arg("--port-file")
        .arg(&port_file)
        .arg("--quiet")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("listening on http://127.0.0.1:"), "{line}");
    let port: u16 = std::fs::read_to_string(&port_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let models = http(port, "GET /v1/models HTTP/1.1\r\nhost: x\r\n\r\n");
    assert!(models.contains(r#""id":"mock-model""#), "{models}");
    // stdin is /dev/null but --exit-on-stdin-eof was not given: still running.
    assert!(wait_exit(&mut child, Duration::from_millis(200)).is_none());

    let killed = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(killed.success());
    let status = wait_exit(&mut child, Duration::from_secs(10)).expect("exits on SIGTERM");
    assert!(status.success(), "{status}");
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(stderr, "", "--quiet");
}

#[test]
fn invalid_scenario_exits_2_naming_file_and_path() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = write_scenario(
        dir.path(),
        r#"{"responses": [{"text": "ok"}, {"status": 200, "delay_ms": "soon"}]}"#,
    );
    let out = Command::new(BIN)
        .arg("--scenario")
        .arg(&scenario)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&scenario.display().to_string()), "{stderr}");
    assert!(stderr.contains("`responses[1].delay_ms`"), "{stderr}");
    assert!(out.stdout.is_empty());

    let out = Command::new(BIN)
        .arg("--scenario")
        .arg(dir.path().join("missing.json"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.json"));
}

#[cfg(unix)]
#[test]
fn exits_with_parent() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = write_scenario(dir.path(), "{}");
    let port_file = dir.path().join("port");
    // A shell starts the mock in the background and then dies; the mock must follow.
    let script = format!(
        "'{BIN}' --scenario '{}' --port-file '{}' --quiet --exit-with-parent >/dev/null & echo $!; \
         while [ ! -s '{}' ]; do sleep 0.01; done",
        scenario.display(),
        port_file.display(),
        port_file.display(),
    );
    let out = Command::new("sh").arg("-c").arg(&script).output().unwrap();
    assert!(out.status.success());
    let pid = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let deadline = Instant::now() + Duration::from_secs(10);
    let alive = || {
        Command::new("kill")
            .arg("-0")
            .arg(&pid)
            .status()
            .unwrap()
            .success()
    };
    while alive() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        !alive(),
        "mock-llm {pid} still running after its parent exited"
    );
}
