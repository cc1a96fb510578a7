//! The telemetry dashboard on the built binary: `codex-litellm telemetry serve` stays open
//! while a tool-using turn and a failing turn run in another process; what it serves (the
//! JSON the page draws, and its live event stream) must show both as they happen.
//! The page itself in a real browser: scripts/dashboard-browser-test.sh.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use codex_litellm_e2e::*;
use pretty_assertions::assert_eq;
use serde_json::Value;
use serde_json::json;
use std::io::BufRead;
use std::io::Read;
use std::io::Write;
use std::net::TcpStream;
use std::process::Child;
use std::process::Command;
use std::process::Stdio;
use std::time::Duration;

/// `telemetry serve` on a free port; killed on drop (also when the test fails).
struct Dashboard {
    child: Child,
    addr: String,
}

impl Dashboard {
    fn start(bin: &std::path::Path, dirs: &Dirs) -> Dashboard {
        let mut child = Command::new(bin)
            .args(["telemetry", "serve", "--port", "0"])
            .env("CODEX_HOME", &dirs.home)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // "telemetry dashboard for DIR: http://127.0.0.1:PORT/ (read-only; ...)", after a
        // note that the folder does not exist yet.
        let out = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut lines = out.lines().map_while(Result::ok);
        let line = lines.find(|l| l.contains("http://127.0.0.1:"));
        let line = line.expect("the dashboard prints its address");
        let at = line.find("http://").unwrap() + "http://".len();
        let addr = line[at..].split('/').next().unwrap().to_string();
        Dashboard { child, addr }
    }

    /// GET `path`; the JSON body.
    fn get(&self, path: &str) -> Value {
        let mut stream = TcpStream::connect(&self.addr).unwrap();
        let host = &self.addr;
        let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        check(head.starts_with("HTTP/1.1 200"), head);
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
    }

    /// The live event stream, opened now; read it later with [`drain`].
    fn events(&self) -> TcpStream {
        let mut stream = TcpStream::connect(&self.addr).unwrap();
        let host = &self.addr;
        let request = format!("GET /api/events HTTP/1.1\r\nHost: {host}\r\n\r\n");
        stream.write_all(request.as_bytes()).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        stream
    }
}

impl Drop for Dashboard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What arrived on the event stream until it has been quiet for a moment.
fn drain(stream: &mut TcpStream) -> String {
    let mut all = Vec::new();
    let mut buf = [0u8; 8192];
    for _ in 0..20 {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => all.extend_from_slice(&buf[..n]),
            Err(_) if !all.is_empty() => break,
            Err(_) => {}
        }
    }
    String::from_utf8_lossy(&all).into_owned()
}

fn scenario(name: &str) -> Scenario {
    let path = repo_root().join(format!("tests/smoke/{name}.json"));
    Scenario::from_file(path).unwrap()
}

#[test]
fn dashboard_shows_a_tool_turn_and_a_failing_turn_live() {
    let bin = or_skip!(litellm_bin());
    let dirs = Dirs::new();
    std::fs::write(dirs.home.join("litellm.toml"), "").unwrap();
    let dashboard = Dashboard::start(&bin, &dirs);
    let listed = dashboard.get("/api/sessions");
    assert_eq!(
        listed["sessions"],
        json!([]),
        "an empty folder lists nothing"
    );

    let mut events = dashboard.events();
    let tools = Mock::start(scenario("02-tool-loop"), 0, None);
    let prompt = "Run the command, then tell me what happened.";
    let cmd = dirs.cmd(&bin).litellm(&tools.url(), "mock-model");
    let args = ["exec", "--skip-git-repo-check"];
    let run = cmd
        .args(args)
        .args(["--sandbox", "workspace-write", prompt]);
    run.timeout_secs(120).run().assert_success();
    let pushed = drain(&mut events);
    check(
        pushed.contains("data:"),
        &format!("the new session was pushed live: {pushed:?}"),
    );

    let refused = Mock::start(scenario("07b-unauthorized"), 0, None);
    let cmd = dirs.cmd(&bin).litellm(&refused.url(), "mock-model");
    let run = cmd.args(args).args(["Say hello"]).timeout_secs(60).run();
    check(run.failed_visibly(), "the refused turn fails visibly");

    // The index looks at the folder every 250 ms and counts new files in between.
    let counted = |list: &Value| {
        let all = list["sessions"].as_array().cloned().unwrap_or_default();
        all.len() == 2 && all.iter().all(|s| s["indexed"] == true)
    };
    let mut list = dashboard.get("/api/sessions");
    for _ in 0..50 {
        if counted(&list) {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
        list = dashboard.get("/api/sessions");
    }
    let sessions = list["sessions"].clone();
    let sessions = sessions.as_array().unwrap();
    assert_eq!(sessions.len(), 2, "both sessions, newest first");
    let ptrs = ["/turns", "/requests", "/errors", "/models"];
    assert_eq!(pick(&sessions[0], &ptrs), json!([1, 1, 1, ["mock-model"]]));
    assert_eq!(pick(&sessions[1], &ptrs), json!([1, 2, 0, ["mock-model"]]));
    let reason = sessions[0]["reason"].as_str().unwrap_or_default();
    has(reason, &["authentication failed (HTTP 401"]);
    check(
        sessions[1]["reason"].is_null(),
        "the tool session did not stop",
    );

    let name = sessions[1]["name"].as_str().unwrap();
    let view = dashboard.get(&format!("/api/sessions/{name}"));
    let requests = view["turns"][0]["requests"].as_array().unwrap().clone();
    let shown = ["/http_status", "/finish_reason", "/outcome", "/error"];
    let rows: Vec<Value> = requests.iter().map(|r| pick(r, &shown)).collect();
    let want = [
        json!([200, "tool_calls", "completed", false]),
        json!([200, "stop", "completed", false]),
    ];
    assert_eq!(rows, want);

    let name = sessions[0]["name"].as_str().unwrap();
    let view = dashboard.get(&format!("/api/sessions/{name}"));
    let failed = &view["turns"][0];
    assert_eq!(failed["outcome"], "failed");
    let request = &failed["requests"][0];
    let shown = ["/http_status", "/fault_kind", "/error"];
    assert_eq!(pick(request, &shown), json!([401, "http_status", true]));
    // What the dashboard serves is what the files hold: never the key.
    let leaks = dirs.files_with_secret();
    assert_eq!(leaks, Vec::<std::path::PathBuf>::new());
    lacks(&view.to_string(), &[SECRET]);
}
