//! `codex-litellm app-server` as an editor drives it (the VS Code extension, the desktop app,
//! ACP adapters): newline-delimited JSON-RPC over stdio, against tests/mock-llm. The
//! handshake, `model/list` (the backend's models, the configured one first, never OpenAI's
//! catalog), `account/read` (no OpenAI login asked for), a text turn, a tool-using turn with
//! and without an approval request, and a gateway that comes up after the app-server.
//! docs/EDITORS.md says what these cover and what they do not.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use codex_litellm_e2e::*;
use pretty_assertions::assert_eq;
use serde_json::Value;
use serde_json::json;
use std::io::BufRead as _;
use std::io::Write as _;
use std::path::Path;
use std::process::ChildStdin;
use std::sync::mpsc;
use std::time::Duration;
use std::time::Instant;

/// The models the mock serves, in its order; `/model/info` gives each a window.
const SERVED: [&str; 3] = ["mock-model", "mock-big", "mock-small"];
const TOOL_CALL: &str = "call_editor_1";

/// A LiteLLM-like backend: `/v1/models`, `/model/info`, a text answer and a tool loop.
fn backend() -> Scenario {
    let info = |id: &str, window: u64| json!({"model_name": id, "model_info": {"max_input_tokens": window}});
    let command = "echo editor-ran > ran.txt && cat ran.txt";
    let scenario = json!({
        "models": SERVED,
        "routes": [{"method": "GET", "path": "/model/info", "response": {"json": {"data": [
            info("mock-model", 16384), info("mock-big", 128000), info("mock-small", 8192)
        ]}}}],
        "responses": [
            {"match": {"body_contains": ["Say hello"]}, "text": "Hello from the mock."},
            {"match": {"body_contains": ["Say hello"]}, "text": "Hello again."},
            {"match": {"body_contains": ["Run the command"], "body_not_contains": [TOOL_CALL]},
             "tool_calls": [{"id": TOOL_CALL, "name": "exec_command", "arguments": {"cmd": command}}]},
            {"match": {"body_contains": [TOOL_CALL]}, "text": "The command ran and wrote ran.txt."}
        ],
        "fallback": {"status": 400, "json": {"error": {
            "message": "mock-llm (app-server): no scripted response matches this request",
            "type": "invalid_request_error"}}}
    });
    Scenario::from_json_str(&scenario.to_string()).unwrap()
}

/// How long one answer or notification may take (a debug build starts slowly).
const WAIT: Duration = Duration::from_secs(120);

/// A running `codex-litellm app-server` and a minimal JSON-RPC client for it. Every message
/// it sent is kept; a server request nobody waits for fails the test.
struct AppServer {
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    next_id: u64,
    seen: Vec<Value>,
    process: Spawned,
}

impl AppServer {
    /// The app-server on the built-in `litellm` provider at `url`, model `model`.
    fn start(bin: &Path, dirs: &Dirs, url: &str, model: &str) -> AppServer {
        let cmd = dirs.cmd(bin).litellm(url, model).args(["app-server"]);
        let mut process = cmd.spawn();
        let stdin = process.child.stdin.take();
        let stdout = process.child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        AppServer {
            stdin,
            lines,
            next_id: 0,
            seen: Vec::new(),
            process,
        }
    }

    fn send(&mut self, message: Value) {
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "{message}").unwrap();
        stdin.flush().unwrap();
    }

    /// The next message; panics (saying what came last) when none comes in time.
    fn next(&mut self) -> Value {
        match self.lines.recv_timeout(WAIT) {
            Ok(line) => {
                let message: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("stdout is not JSON-RPC ({e}): {line}"));
                self.seen.push(message.clone());
                message
            }
            Err(e) => {
                let last = self.seen.iter().rev().take(3).collect::<Vec<_>>();
                panic!("no message from the app-server ({e}); the last ones: {last:#?}")
            }
        }
    }

    /// Sends a request; its `Ok(result)` or `Err(error)`. Notifications on the way are kept.
    fn call(&mut self, method: &str, params: Value) -> Result<Value, Value> {
        self.next_id += 1;
        let id = self.next_id;
        self.send(json!({"method": method, "id": id, "params": params}));
        loop {
            let message = self.next();
            if message.get("method").is_some() {
                self.refuse_unexpected(&message);
                continue;
            }
            if message["id"] == id {
                return match message.get("error") {
                    Some(error) => Err(error.clone()),
                    None => Ok(message["result"].clone()),
                };
            }
        }
    }

    /// `call` that must succeed.
    fn ok(&mut self, method: &str, params: Value) -> Value {
        self.call(method, params)
            .unwrap_or_else(|e| panic!("{method} failed: {e}"))
    }

    /// Reads until the notification or server request `method` arrives; returns it whole.
    fn wait_for(&mut self, method: &str) -> Value {
        loop {
            let message = self.next();
            if message["method"] == method {
                return message;
            }
            self.refuse_unexpected(&message);
        }
    }

    /// A server request (it has an id) that the test did not wait for: an approval asked
    /// where none should be, say.
    fn refuse_unexpected(&self, message: &Value) {
        let is_request = message.get("id").is_some() && message.get("method").is_some();
        check(
            !is_request,
            &format!("unexpected request from the app-server: {message}"),
        );
    }

    /// Answers server request `request` with `result`.
    fn answer(&mut self, request: &Value, result: Value) {
        self.send(json!({"id": request["id"], "result": result}));
    }

    /// `initialize` then `initialized`, as upstream's README says a client must.
    fn initialize(&mut self) -> Value {
        let client = json!({"name": "codex_litellm_e2e", "title": "e2e", "version": "0.0.0"});
        let answer = self.ok("initialize", json!({"clientInfo": client}));
        self.send(json!({"method": "initialized"}));
        answer
    }

    /// `thread/start` in `cwd` with `approval` (`never`, `untrusted`, ...) and the
    /// workspace-write sandbox (SMOKE_SANDBOX=bypass: full access, where bwrap cannot run).
    fn start_thread(&mut self, cwd: &Path, approval: &str, model: Option<&str>) -> String {
        let sandbox = match std::env::var("SMOKE_SANDBOX").as_deref() {
            Ok("bypass") => "danger-full-access",
            _ => "workspace-write",
        };
        let mut params = json!({"cwd": cwd, "approvalPolicy": approval, "sandbox": sandbox});
        if let Some(model) = model {
            params["model"] = json!(model);
        }
        let started = self.ok("thread/start", params);
        assert_eq!(started["modelProvider"], "litellm");
        started["thread"]["id"].as_str().unwrap().to_string()
    }

    /// `turn/start` with one text input; the turn's id.
    fn start_turn(&mut self, thread: &str, text: &str) -> String {
        let input = json!([{"type": "text", "text": text}]);
        let started = self.ok("turn/start", json!({"threadId": thread, "input": input}));
        started["turn"]["id"].as_str().unwrap().to_string()
    }

    /// The `turn` of the next `turn/completed`.
    fn completed_turn(&mut self) -> Value {
        self.wait_for("turn/completed")["params"]["turn"].clone()
    }

    /// `model/list`: the ids, in order, or the error.
    fn model_ids(&mut self, params: Value) -> Result<Vec<String>, Value> {
        let listed = self.call("model/list", params)?;
        let data = listed["data"].as_array().cloned().unwrap_or_default();
        Ok(data.iter().map(|m| text(&m["id"])).collect())
    }

    /// Params of every notification `method` seen so far.
    fn notes(&self, method: &str) -> Vec<Value> {
        let mut notes = self.seen.clone();
        notes.retain(|m| m["method"] == method && m.get("id").is_none());
        notes.into_iter().map(|m| m["params"].clone()).collect()
    }

    /// Closes stdin, as an editor does when it quits; the exit status.
    fn quit(mut self) -> Option<std::process::ExitStatus> {
        drop(self.stdin.take());
        self.process.wait_secs(20)
    }
}

fn text(v: &Value) -> String {
    v.as_str().map_or(v.to_string(), str::to_string)
}

/// The items of `turn` of `kind` (`agentMessage`, `commandExecution`, ...).
fn items(app: &AppServer, turn: &str, kind: &str) -> Vec<Value> {
    let mut done = app.notes("item/completed");
    done.retain(|n| n["turnId"] == turn && n["item"]["type"] == kind);
    done.into_iter().map(|n| n["item"].clone()).collect()
}

/// The chat requests the mock received.
fn chat(mock: &Mock) -> Vec<RecordedRequest> {
    let mut all = mock.requests();
    all.retain(|r| r.path.ends_with("/chat/completions"));
    all
}

/// Set-up shared by the scenarios: the binary, fresh directories, the mock.
fn setup() -> Option<(std::path::PathBuf, Dirs, Mock)> {
    let bin = litellm_bin()?;
    let dirs = Dirs::new();
    std::fs::write(dirs.home.join("litellm.toml"), "").unwrap();
    let mock = Mock::start(backend(), 0, None);
    Some((bin, dirs, mock))
}

/// Common end checks: the key as a Bearer token on every request, in no file.
fn no_leaks(mock: &Mock, dirs: &Dirs) {
    let requests = mock.requests();
    let auth = requests.iter().map(|r| r.header("authorization"));
    let auth: Vec<_> = auth.flatten().collect();
    check(!auth.is_empty(), "the mock was asked something");
    assert_eq!(auth, vec!["Bearer ***"; auth.len()], "the key, as Bearer");
    assert_eq!(dirs.files_with_secret(), Vec::<std::path::PathBuf>::new());
}

#[test]
fn handshake_model_list_and_account_on_a_chat_provider() {
    let (bin, dirs, mock) = or_skip!(setup());
    // The configured model is the backend's last: the list must still start with it.
    let mut app = AppServer::start(&bin, &dirs, &mock.url(), "mock-small");
    let before = app.call("model/list", json!({}));
    let refused = before.expect_err("a request before initialize is refused");
    has(&refused.to_string(), &["Not initialized"]);

    let hello = app.initialize();
    assert_eq!(hello["codexHome"], json!(dirs.home));
    has(&text(&hello["userAgent"]), &["codex_litellm_e2e"]);

    let listed = app.ok("model/list", json!({}));
    let data = listed["data"].as_array().unwrap();
    let ids: Vec<_> = data.iter().map(|m| text(&m["id"])).collect();
    assert_eq!(ids, ["mock-small", "mock-model", "mock-big"]);
    let defaults: Vec<_> = data.iter().map(|m| m["isDefault"].clone()).collect();
    assert_eq!(
        defaults,
        [true, false, false],
        "the configured model is the default"
    );
    // The windows from /model/info reach the picker's descriptions.
    let described: Vec<_> = data.iter().map(|m| text(&m["description"])).collect();
    assert_eq!(described, ["8K context", "16K context", "125K context"]);
    // Hidden entries included, still only the backend's models (upstream #44024's picker
    // asks with includeHidden): none of OpenAI's catalog.
    let all = app.model_ids(json!({"includeHidden": true})).unwrap();
    assert_eq!(all, ["mock-small", "mock-model", "mock-big"]);

    let account = app.ok("account/read", json!({"refreshToken": false}));
    assert_eq!(
        account,
        json!({"account": null, "requiresOpenaiAuth": false})
    );

    let asked: Vec<_> = mock.requests().iter().map(|r| r.path.clone()).collect();
    check(
        asked.iter().any(|p| p == "/v1/models"),
        &format!("the backend was asked for its models: {asked:?}"),
    );
    check(
        chat(&mock).is_empty(),
        "listing asks no model for an answer",
    );
    let status = app.quit();
    check(
        status.is_some_and(|s| s.success()),
        &format!("the app-server exits 0 when its stdin closes: {status:?}"),
    );
    no_leaks(&mock, &dirs);
}

#[test]
fn a_text_turn_streams_and_completes() {
    let (bin, dirs, mock) = or_skip!(setup());
    let mut app = AppServer::start(&bin, &dirs, &mock.url(), "mock-model");
    app.initialize();
    let thread = app.start_thread(&dirs.ws, "never", None);
    let turn = app.start_turn(&thread, "Say hello");
    let done = app.completed_turn();
    assert_eq!(
        pick(&done, &["/id", "/status", "/error"]),
        json!([turn, "completed", null])
    );
    let mut deltas = app.notes("item/agentMessage/delta");
    deltas.retain(|d| d["turnId"] == turn);
    check(deltas.len() > 1, "the answer arrives in pieces");
    let streamed: String = deltas.iter().map(|d| text(&d["delta"])).collect();
    assert_eq!(streamed, "Hello from the mock.");
    let messages = items(&app, &turn, "agentMessage");
    assert_eq!(each(&messages, "/text"), json!(["Hello from the mock."]));
    let sent = chat(&mock);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].body["model"], "mock-model");
    app.quit();
    no_leaks(&mock, &dirs);
}

#[test]
fn a_tool_turn_runs_its_command_without_asking_when_approval_is_never() {
    let (bin, dirs, mock) = or_skip!(setup());
    let mut app = AppServer::start(&bin, &dirs, &mock.url(), "mock-model");
    app.initialize();
    let thread = app.start_thread(&dirs.ws, "never", None);
    // An approval request here fails the test (AppServer::refuse_unexpected).
    let turn = app.start_turn(&thread, "Run the command, then tell me what happened.");
    let done = app.completed_turn();
    assert_eq!(
        pick(&done, &["/status", "/error"]),
        json!(["completed", null])
    );
    assert_eq!(read(dirs.ws.join("ran.txt")), "editor-ran\n");
    let commands = items(&app, &turn, "commandExecution");
    let rows: Vec<Value> = commands
        .iter()
        .map(|c| pick(c, &["/status", "/exitCode"]))
        .collect();
    assert_eq!(rows, [json!(["completed", 0])]);
    // The last line: the login shell (`bash -lc`) may print a profile's warning first.
    let output = text(&commands[0]["aggregatedOutput"]);
    assert_eq!(output.lines().last(), Some("editor-ran"), "{output:?}");
    let messages = items(&app, &turn, "agentMessage");
    assert_eq!(
        each(&messages, "/text"),
        json!(["The command ran and wrote ran.txt."])
    );
    let sent = chat(&mock);
    assert_eq!(sent.len(), 2, "the call, then its result");
    has(&sent[1].body.to_string(), &["editor-ran"]);
    app.quit();
    no_leaks(&mock, &dirs);
}

/// A tool turn under `untrusted`: the approval request must reach the client before the
/// command runs; the turn then goes on with the client's `decision`.
fn approval_turn(decision: &str) -> Option<(Dirs, Mock, AppServer, String, Value)> {
    let (bin, dirs, mock) = setup()?;
    let mut app = AppServer::start(&bin, &dirs, &mock.url(), "mock-model");
    app.initialize();
    let thread = app.start_thread(&dirs.ws, "untrusted", None);
    let turn = app.start_turn(&thread, "Run the command, then tell me what happened.");
    let ask = app.wait_for("item/commandExecution/requestApproval");
    let params = &ask["params"];
    assert_eq!(
        pick(params, &["/threadId", "/turnId", "/itemId"]),
        json!([thread, turn, TOOL_CALL])
    );
    has(&text(&params["command"]), &["echo editor-ran > ran.txt"]);
    assert_eq!(params["cwd"], json!(dirs.ws));
    check(
        !dirs.ws.join("ran.txt").exists(),
        "nothing ran before the answer",
    );
    app.answer(&ask, json!({"decision": decision}));
    let done = app.completed_turn();
    assert_eq!(
        pick(&done, &["/status", "/error"]),
        json!(["completed", null])
    );
    let resolved = app.notes("serverRequest/resolved");
    assert_eq!(each(&resolved, "/requestId"), json!([ask["id"]]));
    Some((dirs, mock, app, turn, done))
}

#[test]
fn a_tool_turn_waits_for_the_approval_and_runs_once_accepted() {
    let (dirs, mock, app, turn, _) = or_skip!(approval_turn("accept"));
    assert_eq!(read(dirs.ws.join("ran.txt")), "editor-ran\n");
    let commands = items(&app, &turn, "commandExecution");
    assert_eq!(each(&commands, "/status"), json!(["completed"]));
    let messages = items(&app, &turn, "agentMessage");
    assert_eq!(
        each(&messages, "/text"),
        json!(["The command ran and wrote ran.txt."])
    );
    assert_eq!(chat(&mock).len(), 2);
    app.quit();
    no_leaks(&mock, &dirs);
}

#[test]
fn a_declined_command_does_not_run() {
    let (dirs, mock, app, turn, _) = or_skip!(approval_turn("decline"));
    check(
        !dirs.ws.join("ran.txt").exists(),
        "the declined command did not run",
    );
    let commands = items(&app, &turn, "commandExecution");
    assert_eq!(each(&commands, "/status"), json!(["declined"]));
    let sent = chat(&mock);
    assert_eq!(sent.len(), 2, "the model is told, and answers");
    lacks(&sent[1].body.to_string(), &["editor-ran\\n"]);
    app.quit();
    no_leaks(&mock, &dirs);
}

/// Issue 23's defect: an editor started before its gateway. The first list may be
/// the configured model alone (or an error); once the gateway is up, the running app-server
/// lists the backend's models after the discovery backoff (5 s), with no restart, and a
/// turn on a model only the backend named works.
#[test]
fn model_list_recovers_when_the_gateway_comes_up_after_the_app_server() {
    let bin = or_skip!(litellm_bin());
    let dirs = Dirs::new();
    std::fs::write(dirs.home.join("litellm.toml"), "").unwrap();
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/v1");
    let mut app = AppServer::start(&bin, &dirs, &url, "mock-model");
    app.initialize();
    let down = app.model_ids(json!({}));
    check(
        down.as_ref().map_or(true, |ids| ids == &["mock-model"]),
        &format!("while the gateway is down: the configured model or an error, got {down:?}"),
    );
    // A failed discovery leaves no list on disk (only when to ask again).
    for file in files_under(&dirs.home.join("cache")) {
        let entry: Value = serde_json::from_str(&read(&file)).unwrap();
        assert_eq!(
            entry["models"],
            json!([]),
            "{} holds a list",
            file.display()
        );
    }

    // An editor opens a thread at once, before the gateway is up.
    let early = app.start_thread(&dirs.ws, "never", None);

    let mock = Mock::start(backend(), port, None);
    let up = Instant::now();
    let mut listed = app.model_ids(json!({}));
    let mut asked = 1;
    while listed.as_deref() != Ok(&SERVED.map(String::from)[..]) && up.elapsed() < WAIT {
        std::thread::sleep(Duration::from_millis(500));
        listed = app.model_ids(json!({}));
        asked += 1;
    }
    assert_eq!(
        listed,
        Ok(SERVED.map(String::from).to_vec()),
        "after the gateway came up"
    );
    let discoveries = mock
        .requests()
        .iter()
        .filter(|r| r.path == "/v1/models")
        .count();
    say(&format!(
        "app_server: the backend's models listed {:.1} s after the gateway came up \
         (model/list asked {asked} times; the backend's /v1/models {discoveries} times)",
        up.elapsed().as_secs_f64(),
    ));

    // The thread opened while the gateway was down works now, and so does a new one on
    // a model only the backend named.
    app.start_turn(&early, "Say hello");
    assert_eq!(app.completed_turn()["status"], "completed");
    let thread = app.start_thread(&dirs.ws, "never", Some("mock-big"));
    app.start_turn(&thread, "Say hello");
    assert_eq!(app.completed_turn()["status"], "completed");
    let bodies: Vec<Value> = chat(&mock).into_iter().map(|r| r.body).collect();
    assert_eq!(each(&bodies, "/model"), json!(["mock-model", "mock-big"]));
    app.quit();
    no_leaks(&mock, &dirs);
}

/// Upstream's own app-server client, the Python SDK (`sdk/python` of the upstream tree,
/// `CodexConfig(codex_bin=...)`), on codex-litellm: models, account, a tool turn under its
/// default approval mode. `CODEX_PYTHON_SDK` = that `sdk/python/src` (pydantic ≥ 2.12
/// importable by python3); without it this test says so in one line and passes.
#[test]
fn upstream_python_sdk_runs_a_tool_turn() {
    let (bin, dirs, mock) = or_skip!(setup());
    let Some(sdk) = std::env::var_os("CODEX_PYTHON_SDK").filter(|v| !v.is_empty()) else {
        say(
            "app_server: the Python SDK test SKIPPED, CODEX_PYTHON_SDK (upstream sdk/python/src) is not set",
        );
        return;
    };
    let script = r#"
import json, sys
from openai_codex import Codex, CodexConfig, Sandbox
bin, ws = sys.argv[1], sys.argv[2]
with Codex(CodexConfig(codex_bin=bin, cwd=ws)) as codex:
    out = {"models": [m.id for m in codex.models().data],
           "account": codex.account().model_dump(by_alias=True, mode="json")}
    thread = codex.thread_start(cwd=ws, sandbox=Sandbox.workspace_write)
    out["answer"] = thread.run("Run the command, then tell me what happened.").final_response
print(json.dumps(out))
"#;
    let python = dirs
        .cmd(Path::new("python3"))
        .litellm(&mock.url(), "mock-model");
    let run = python.env("PYTHONPATH", sdk).args(["-c", script]);
    let run = run.args([bin.as_os_str(), dirs.ws.as_os_str()]);
    let run = run.timeout_secs(180).run();
    run.assert_success();
    let out: Value = serde_json::from_str(run.stdout.trim()).unwrap();
    let want = json!({
        "models": SERVED,
        "account": {"account": null, "requiresOpenaiAuth": false},
        "answer": "The command ran and wrote ran.txt."
    });
    assert_eq!(out, want);
    assert_eq!(read(dirs.ws.join("ran.txt")), "editor-ran\n");
    no_leaks(&mock, &dirs);
}
