//! `codex-litellm serve` on the built binary, against tests/mock-llm: the official `openai`
//! Python and npm packages as clients, keepalives during a slow backend, the key, the bind
//! and the cwd rules, 8 clients on 2 slots, a client that hangs up, SIGTERM (docs/SERVE.md,
//! issue 23). Every scenario ends with SIGTERM -> exit 0 and no key in any file.
//! The tests take turns (one server at a time): the load and disconnect cases need the
//! machine's two cores to themselves more than they need to overlap.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use codex_litellm_e2e::http;
use codex_litellm_e2e::serve::Serve;
use codex_litellm_e2e::serve::openai_node_modules;
use codex_litellm_e2e::serve::openai_python;
use codex_litellm_e2e::*;
use pretty_assertions::assert_eq;
use serde_json::Value;
use serde_json::json;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::MutexGuard;
use std::sync::PoisonError;
use std::time::Duration;
use std::time::Instant;

/// The key clients send to serve (not the backend's [`SECRET`]): also in no file.
const KEY: &str = "sk-serve-e2e-KEY-7d31c0a95e";
/// SIGTERM to exit: serve's 10 s grace for running turns + 5 s to interrupt, with room.
const STOP_LIMIT: Duration = Duration::from_secs(30);

static SERIAL: Mutex<()> = Mutex::new(());

/// One scenario: its directories, the mock, serve in front of it.
struct Case {
    dirs: Dirs,
    mock: Mock,
    serve: Serve,
    _serial: MutexGuard<'static, ()>,
}

/// Serve (with [`KEY`] and `args`) in front of a mock answering `entries`; anything
/// unscripted is a 400 naming itself, so a client sees it as a failed turn.
fn case(entries: Vec<Value>, args: &[&str]) -> Option<Case> {
    let bin = litellm_bin()?;
    let _serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    let dirs = Dirs::new();
    std::fs::write(dirs.home.join("litellm.toml"), "").unwrap();
    let fallback = json!({"status": 400, "json": {"error": {
        "message": "mock-llm (serve e2e): no scripted response matches this request",
        "type": "invalid_request_error"}}});
    let scenario = json!({"responses": entries, "fallback": fallback});
    let scenario = Scenario::from_json_str(&scenario.to_string()).unwrap();
    let mock = Mock::start(scenario, 0, Some(dirs.path("requests.jsonl")));
    let serve = Serve::start(&dirs, &bin, &mock.url(), Some(KEY), args);
    Some(Case {
        dirs,
        mock,
        serve,
        _serial,
    })
}

impl Case {
    /// The chat requests the mock received.
    fn chat(&self) -> Vec<RecordedRequest> {
        let mut all = self.mock.requests();
        all.retain(|r| r.path.ends_with("/chat/completions"));
        all
    }

    /// Chat requests whose body holds `text`.
    fn chat_with(&self, text: &str) -> Vec<RecordedRequest> {
        let mut all = self.chat();
        all.retain(|r| r.body.to_string().contains(text));
        all
    }

    fn ws(&self, file: &str) -> String {
        read(self.dirs.ws.join(file))
    }
}

impl Drop for Case {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        let code = self.serve.stop(STOP_LIMIT);
        let stderr = self.serve.stderr();
        assert_eq!(
            code,
            Some(0),
            "SIGTERM: exit 0 within {STOP_LIMIT:?}; stderr:\n{stderr}"
        );
        lacks(&stderr, &["panicked at"]);
        let leaks = self.dirs.files_with_secret();
        assert_eq!(
            leaks,
            Vec::<PathBuf>::new(),
            "files holding the backend key"
        );
        let mut files = files_under(self.dirs.root.path());
        files.retain(|f| read(f).contains(KEY));
        assert_eq!(files, Vec::<PathBuf>::new(), "files holding serve's key");
    }
}

/// The text of a Responses object's message items.
fn output_text(response: &Value) -> String {
    let items = response["output"].as_array().cloned().unwrap_or_default();
    let parts = items.iter().filter(|i| i["type"] == "message");
    let parts = parts.flat_map(|i| i["content"].as_array().cloned().unwrap_or_default());
    parts
        .filter_map(|c| c["text"].as_str().map(str::to_string))
        .collect()
}

/// Waits up to `limit` for `done`; whether it happened.
fn wait_for(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    while started.elapsed() < limit {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    done()
}

// ---- the official clients -----------------------------------------------------------

/// What the mock answers a client script tagged `tag` (clients/serve_openai.*): a plain
/// answer, a follow-up that is only answered when it carries the first turn, a streamed
/// answer, a chat answer, and a tool turn that writes a file in the workspace.
fn client_script(tag: &str) -> Vec<Value> {
    let call = format!("call_{tag}_tool");
    let cmd = format!("echo served-$((40+2)) > {tag}-served.txt && cat {tag}-served.txt");
    let tool = json!([{"id": call, "name": "exec_command", "arguments": {"cmd": cmd}}]);
    vec![
        json!({"match": {"body_contains": [format!("{tag}-FIRST")], "body_not_contains": [format!("{tag}-SECOND")]},
               "text": format!("{tag}: the sky is teal today.")}),
        // Only when the backend request holds the first turn, question and answer.
        json!({"match": {"body_contains": [format!("{tag}-SECOND"), format!("{tag}-FIRST"),
                                           format!("{tag}: the sky is teal today.")]},
               "text": format!("{tag}: you asked about the sky.")}),
        json!({"match": {"body_contains": [format!("{tag}-STREAM")]},
               "text": format!("{tag}: streaming from the mock, piece by piece.")}),
        json!({"match": {"body_contains": [format!("{tag}-CHAT")]},
               "text": format!("{tag}: chat from the mock.")}),
        json!({"match": {"body_contains": [format!("{tag}-TOOL")], "body_not_contains": [&call]},
               "tool_calls": tool, "usage": {"prompt_tokens": 1000, "completion_tokens": 7}}),
        // The command's output (not its text, which says $((40+2))) came back.
        json!({"match": {"body_contains": [&call, "served-42"]},
               "text": format!("{tag}: I ran it; {tag}-served.txt says served-42."),
               "usage": {"prompt_tokens": 2000, "completion_tokens": 9}}),
    ]
}

/// Runs a client script against the case's server; what it printed, as JSON.
fn run_client(c: &Case, program: &std::path::Path, args: &[&str]) -> Value {
    let run = c.dirs.cmd(program).args(args).timeout_secs(600).run();
    check(!run.timed_out, "the client finishes");
    let why = format!(
        "client failed ({}):\n{}\nserve's stderr:\n{}",
        run.code,
        tail(&run.stderr, 3000),
        c.serve.stderr()
    );
    assert!(run.code == 0, "{why}");
    serde_json::from_str(run.stdout.trim()).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

/// The checks both clients share: what they got, what the backend saw, the workspace.
fn check_client(c: &Case, tag: &str, mut got: Value) {
    let activity = got["tool"]["activity"].take();
    let expected = json!({
        "models": ["mock-model"],
        "first": {"status": "completed", "text": format!("{tag}: the sky is teal today."), "has_usage": true},
        "second": {"status": "completed", "text": format!("{tag}: you asked about the sky."), "continues_first": true},
        "streamed": {"first_events": ["response.created", "response.in_progress"],
                     "last_event": "response.completed",
                     "deltas": format!("{tag}: streaming from the mock, piece by piece."),
                     "final": format!("{tag}: streaming from the mock, piece by piece.")},
        "chat": {"first_role": "assistant", "content": format!("{tag}: chat from the mock."),
                 "finish": ["stop"], "usage_last": true},
        "tool": {"status": "completed", "text": format!("{tag}: I ran it; {tag}-served.txt says served-42."),
                 "item_types": ["message", "reasoning"], "activity": null,
                 // Summed over the turn's two backend requests.
                 "usage": [3000, 16, 3016]},
    });
    assert_eq!(got, expected);
    // The agent's command, reported as activity (never as a tool call for the client).
    let runs: Vec<&Value> = activity.as_array().unwrap().iter().collect();
    let ran = runs.iter().find(|a| a["type"] == "command_run");
    let ran = ran.unwrap_or_else(|| panic!("a command_run activity in {activity}"));
    has(&ran["command"].to_string(), &[&format!("{tag}-served.txt")]);
    assert_eq!(ran["exit_code"], json!(0), "{ran}");
    // Its effect, in the workspace (serve --sandbox workspace-write).
    assert_eq!(c.ws(&format!("{tag}-served.txt")), "served-42\n");
    // The follow-up's backend request carried the first turn; the first did not need it.
    let second = c.chat_with(&format!("{tag}-SECOND"));
    assert_eq!(second.len(), 1, "one backend request for the follow-up");
    has(
        &second[0].body.to_string(),
        &[
            &format!("{tag}-FIRST"),
            &format!("{tag}: the sky is teal today."),
        ],
    );
    // Every backend request was a scripted one (no fallback, no repeat).
    let served: Vec<String> = c
        .chat()
        .iter()
        .map(|r| format!("{:?}", r.served_by))
        .collect();
    let entries: Vec<String> = (0..6).map(|i| format!("Entry {{ index: {i} }}")).collect();
    let mut sorted = served.clone();
    sorted.sort();
    assert_eq!(sorted, entries, "backend requests: {served:?}");
}

#[test]
fn openai_python_package_against_serve() {
    or_skip!(litellm_bin());
    let Some(python) = openai_python() else {
        return;
    };
    let c = or_skip!(case(client_script("PY"), &["--sandbox", "workspace-write"]));
    let script = repo_root().join("tests/e2e/clients/serve_openai.py");
    let base = c.serve.base_url();
    let got = run_client(&c, &python, &[script.to_str().unwrap(), &base, KEY, "PY"]);
    check_client(&c, "PY", got);
}

#[test]
fn openai_npm_package_against_serve() {
    or_skip!(litellm_bin());
    let Some(modules) = openai_node_modules() else {
        return;
    };
    let c = or_skip!(case(
        client_script("NODE"),
        &["--sandbox", "workspace-write"]
    ));
    let script = repo_root().join("tests/e2e/clients/serve_openai.cjs");
    let (base, modules) = (c.serve.base_url(), modules.to_str().unwrap().to_string());
    let args = [script.to_str().unwrap(), &base, KEY, "NODE", &modules];
    let got = run_client(&c, std::path::Path::new("node"), &args);
    check_client(&c, "NODE", got);
}

// ---- streams ------------------------------------------------------------------------

#[test]
fn curl_sees_keepalives_while_the_backend_is_slow() {
    // serve sends `: keepalive` after 15 quiet seconds; the backend answers after 18.
    let slow = json!({"match": {"body_contains": ["SLOW-1"]}, "delay_ms": 18000,
                      "text": "Slow, but here."});
    let c = or_skip!(case(vec![slow], &[]));
    let body = json!({"model": "mock-model", "input": "SLOW-1. Take your time.", "stream": true});
    let url = format!("{}/responses", c.serve.base_url());
    let auth = format!("Authorization: Bearer {KEY}");
    let curl = c.dirs.cmd(std::path::Path::new("curl")).args([
        "-N",
        "-sS",
        "--max-time",
        "120",
        &url,
        "-H",
        &auth,
        "-H",
        "Content-Type: application/json",
        "-d",
        &body.to_string(),
    ]);
    let run = curl.timeout_secs(150).run();
    run.assert_success();
    let out = &run.stdout;
    let keepalive = out.find(": keepalive\n\n");
    let text = out.find("response.output_text.delta");
    check(
        keepalive.is_some() && text.is_some() && keepalive < text,
        &format!("a keepalive comment before the first text:\n{out}"),
    );
    has(out, &["Slow, but here.", "response.completed"]);
}

// ---- security -----------------------------------------------------------------------

#[test]
fn a_wrong_or_missing_key_is_a_401_and_the_backend_gets_nothing() {
    let answer = json!({"match": {"body_contains": ["KEYED"]}, "text": "Keyed answer."});
    let c = or_skip!(case(vec![answer], &[]));
    let addr = &c.serve.addr;
    let body = json!({"model": "mock-model", "input": "KEYED. Hello."});
    let chat =
        json!({"model": "mock-model", "messages": [{"role": "user", "content": "KEYED. Hello."}]});
    let mut statuses = Vec::new();
    for key in [Some("sk-wrong"), None, Some(&KEY[..KEY.len() - 1])] {
        let models = http::call(addr, "GET", "/v1/models", key, None).unwrap();
        let responses = http::call(addr, "POST", "/v1/responses", key, Some(&body)).unwrap();
        let completions = http::call(addr, "POST", "/v1/chat/completions", key, Some(&chat));
        let completions = completions.unwrap();
        for a in [&models, &responses, &completions] {
            statuses.push((a.status, a.json()["error"]["code"].clone()));
        }
    }
    let refused = (401, json!("invalid_api_key"));
    assert_eq!(statuses, vec![refused; 9]);
    assert_eq!(c.chat().len(), 0, "no backend request for a refused client");
    // The right key works, with one backend request.
    let ok = c.serve.post("/v1/responses", &body);
    assert_eq!(
        (ok.status, output_text(&ok.json())),
        (200, "Keyed answer.".into())
    );
    assert_eq!(c.chat().len(), 1);
}

#[test]
fn a_public_host_without_a_key_is_refused_at_start() {
    let bin = or_skip!(litellm_bin());
    let dirs = Dirs::new();
    let port = free_port();
    let (port_s, ws) = (port.to_string(), dirs.ws.to_str().unwrap().to_string());
    let args = [
        "serve", "--host", "0.0.0.0", "--port", &port_s, "--cwd", &ws,
    ];
    for key in [None, Some("")] {
        let mut cmd = dirs
            .cmd(&bin)
            .litellm("http://127.0.0.1:9/v1", "mock-model");
        if let Some(key) = key {
            cmd = cmd.env("CODEX_LITELLM_SERVE_API_KEY", key);
        }
        let run = cmd.args(args).timeout_secs(60).run();
        check(
            !run.timed_out,
            &format!("key {key:?}: refused at once, not served"),
        );
        // docs/SERVE.md: a refused start exits 2.
        assert_eq!(
            run.code, 2,
            "key {key:?}: the exit code; stderr:\n{}",
            run.stderr
        );
        lacks(&run.stderr, &["panicked at"]);
        let said = run.stderr.to_lowercase();
        check(
            said.contains("key") && (said.contains("refus") || said.contains("empty")),
            &format!("key {key:?}: a message about the key:\n{}", run.stderr),
        );
        // What it says to do must exist: the key comes from the environment only.
        let said = run.stderr.lines().next().unwrap_or_default();
        check(
            !said.contains("--api-key"),
            &format!("it names an --api-key flag serve does not have: {said}"),
        );
    }
    // Nothing is left listening.
    let listening = std::net::TcpStream::connect(("127.0.0.1", port));
    check(listening.is_err(), "nothing listens on the port");
}

#[test]
fn a_cwd_outside_the_root_is_a_400_and_one_inside_is_used() {
    let call = json!([{"id": "call_where", "name": "exec_command", "arguments": {"cmd": "pwd > where.txt"}}]);
    let entries = vec![
        json!({"match": {"body_contains": ["WHERE"], "body_not_contains": ["call_where"]}, "tool_calls": call}),
        json!({"match": {"body_contains": ["call_where"]}, "text": "Wrote where.txt."}),
    ];
    let c = or_skip!(case(entries, &["--sandbox", "workspace-write"]));
    let outside = c.dirs.path("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::create_dir_all(c.dirs.ws.join("sub")).unwrap();
    std::os::unix::fs::symlink(&outside, c.dirs.ws.join("escape")).unwrap();
    let outside_abs = outside.to_str().unwrap().to_string();
    let mut got = Vec::new();
    for cwd in [
        "/",
        "..",
        "../outside",
        &outside_abs,
        "escape",
        "sub/../../outside",
        "missing",
    ] {
        let input = "WHERE. Write where you are.";
        let responses = json!({"input": input, "cwd": cwd});
        let chat = json!({"messages": [{"role": "user", "content": input}], "cwd": cwd});
        for (path, body) in [("/v1/responses", responses), ("/v1/chat/completions", chat)] {
            let a = c.serve.post(path, &body);
            got.push((cwd.to_string(), a.status, a.json()["error"]["code"].clone()));
        }
    }
    let expected: Vec<_> = got
        .iter()
        .map(|(cwd, ..)| (cwd.clone(), 400, json!("cwd_outside_root")))
        .collect();
    assert_eq!(got, expected);
    assert_eq!(c.chat().len(), 0, "nothing ran for a refused cwd");
    // A directory inside the root is where the turn runs.
    let ok = c.serve.post(
        "/v1/responses",
        &json!({"input": "WHERE. Write it.", "cwd": "sub"}),
    );
    assert_eq!(ok.status, 200, "{}", ok.body);
    let sub = std::fs::canonicalize(c.dirs.ws.join("sub")).unwrap();
    assert_eq!(c.ws("sub/where.txt").trim(), sub.to_str().unwrap());
}

// ---- conversations ------------------------------------------------------------------

#[test]
fn a_chat_follow_up_continues_its_thread_without_rerunning_tools() {
    let call = json!([{"id": "call_count", "name": "exec_command",
                       "arguments": {"cmd": "echo ran >> count.txt"}}]);
    let entries = vec![
        json!({"match": {"body_contains": ["COUNT-1"], "body_not_contains": ["call_count"]}, "tool_calls": call}),
        json!({"match": {"body_contains": ["call_count"], "body_not_contains": ["COUNT-2"]},
               "text": "Counted once."}),
        json!({"match": {"body_contains": ["COUNT-2"]}, "text": "Still once."}),
    ];
    let c = or_skip!(case(entries, &["--sandbox", "workspace-write"]));
    let first = [json!({"role": "user", "content": "COUNT-1. Count."})];
    let a = c
        .serve
        .post("/v1/chat/completions", &json!({"messages": first}));
    let answer = a.json()["choices"][0]["message"]["content"].clone();
    assert_eq!(
        (a.status, answer),
        (200, json!("Counted once.")),
        "{}",
        a.body
    );
    // The client resends the whole history, as chat clients do.
    let history = json!([first[0], {"role": "assistant", "content": "Counted once."},
                         {"role": "user", "content": "COUNT-2. And now?"}]);
    let b = c
        .serve
        .post("/v1/chat/completions", &json!({"messages": history}));
    let answer = b.json()["choices"][0]["message"]["content"].clone();
    assert_eq!(
        (b.status, answer),
        (200, json!("Still once.")),
        "{}",
        b.body
    );
    assert_eq!(c.ws("count.txt"), "ran\n", "the command ran once");
    // The follow-up went to the same Codex thread (its tool call in the history), not to a
    // new one with the history quoted as a transcript.
    let follow = c.chat_with("COUNT-2");
    assert_eq!(follow.len(), 1);
    let body = follow[0].body.to_string();
    has(&body, &["call_count", "COUNT-1"]);
    lacks(&body, &["Earlier conversation"]);
}

#[test]
fn store_false_keeps_nothing_and_unknown_ids_and_models_are_404() {
    let entries = vec![json!({"match": {"body_contains": ["EPHEMERAL"]}, "text": "Gone soon."})];
    let c = or_skip!(case(entries, &[]));
    let a = c.serve.post(
        "/v1/responses",
        &json!({"input": "EPHEMERAL. Hi.", "store": false}),
    );
    assert_eq!(
        (a.status, output_text(&a.json())),
        (200, "Gone soon.".into()),
        "{}",
        a.body
    );
    let id = a.json()["id"].as_str().unwrap().to_string();
    let mut got = Vec::new();
    for body in [
        json!({"input": "Again.", "previous_response_id": id}),
        json!({"input": "Again.", "previous_response_id": "resp_unknown"}),
        json!({"input": "Hi.", "model": "no-such-model"}),
    ] {
        let a = c.serve.post("/v1/responses", &body);
        got.push((a.status, a.json()["error"]["code"].clone()));
    }
    let expected = vec![
        (404, json!("previous_response_not_found")),
        (404, json!("previous_response_not_found")),
        (404, json!("model_not_found")),
    ];
    assert_eq!(got, expected);
    assert_eq!(
        c.chat().len(),
        1,
        "only the first request reached the backend"
    );
    let files = files_under(&c.dirs.home.join("sessions"));
    let kept: Vec<_> = files
        .iter()
        .filter(|f| read(f).contains("EPHEMERAL"))
        .collect();
    assert_eq!(
        kept,
        Vec::<&PathBuf>::new(),
        "session files of a store: false turn"
    );
}

// ---- load and teardown --------------------------------------------------------------

#[test]
fn eight_clients_on_two_slots_complete_or_get_a_clean_429() {
    let n = 8;
    let mut entries: Vec<Value> = (0..n)
        .map(|i| {
            json!({"match": {"body_contains": [format!("LOAD-{i}.")]}, "delay_ms": 3000,
                        "text": format!("Answer {i}.")})
        })
        .collect();
    entries.push(json!({"match": {"body_contains": ["AFTER-LOAD"]}, "text": "After."}));
    let c = or_skip!(case(
        entries,
        &["--max-concurrent", "2", "--max-queue", "3"]
    ));
    let barrier = std::sync::Barrier::new(n);
    let results: Vec<(usize, http::Answer, String)> = std::thread::scope(|s| {
        let threads: Vec<_> = (0..n)
            .map(|i| {
                let (addr, barrier) = (&c.serve.addr, &barrier);
                s.spawn(move || {
                    let stream = i % 2 == 1;
                    let body = json!({"input": format!("LOAD-{i}. Go."), "stream": stream});
                    barrier.wait();
                    let open = http::open(addr, "POST", "/v1/responses", Some(KEY), Some(&body));
                    let mut open = open.unwrap_or_else(|e| panic!("client {i}: {e}"));
                    if !stream || open.status != 200 {
                        let a = open.finish().unwrap_or_else(|e| panic!("client {i}: {e}"));
                        let text = output_text(&a.json());
                        return (i, a, text);
                    }
                    // Streamed: the text of the final response.completed.
                    let mut last = Value::Null;
                    while let Some((_, e)) =
                        open.event().unwrap_or_else(|e| panic!("client {i}: {e}"))
                    {
                        last = http::data(&e).unwrap_or(last);
                    }
                    let text = match last["type"] == "response.completed" {
                        true => output_text(&last["response"]),
                        false => format!("stream ended with {last}"),
                    };
                    let a = http::Answer {
                        status: open.status,
                        headers: open.headers.clone(),
                        body: String::new(),
                    };
                    (i, a, text)
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    });
    let (mut done, mut busy) = (Vec::new(), Vec::new());
    for (i, a, text) in &results {
        match a.status {
            200 => {
                assert_eq!(text, &format!("Answer {i}."), "client {i}");
                done.push(*i);
            }
            429 => {
                let error = a.json()["error"].clone();
                assert_eq!(error["code"], "server_busy", "client {i}: {}", a.body);
                check(
                    a.header("retry-after").is_some(),
                    &format!("client {i}: Retry-After"),
                );
                busy.push(*i);
            }
            s => panic!(
                "client {i}: status {s}: {}\nserve's stderr:\n{}",
                a.body,
                c.serve.stderr()
            ),
        }
    }
    say(&format!(
        "8 clients, 2 slots, queue 3: completed {done:?}, 429 {busy:?}"
    ));
    check(done.len() >= 2, "at least the two slots' turns completed");
    // A 429 ran nothing; each completed request made one backend request.
    for i in &busy {
        assert_eq!(
            c.chat_with(&format!("LOAD-{i}.")).len(),
            0,
            "client {i} got 429"
        );
    }
    for i in &done {
        assert_eq!(
            c.chat_with(&format!("LOAD-{i}.")).len(),
            1,
            "client {i} completed"
        );
    }
    // Slots and queue are free again.
    let after = json!({"input": "AFTER-LOAD. Again."});
    let after = c.serve.post("/v1/responses", &after);
    let got = (after.status, output_text(&after.json()));
    assert_eq!(got, (200, "After.".into()), "{}", after.body);
    // After SIGTERM, every session file parses, and every completed turn is in one.
    let mut c = c;
    assert_eq!(c.serve.stop(STOP_LIMIT), Some(0), "{}", c.serve.stderr());
    let sessions = c.dirs.home.join("sessions");
    let bad: Vec<String> = jsonl_under(&sessions)
        .into_iter()
        .filter_map(Result::err)
        .collect();
    assert_eq!(bad, Vec::<String>::new(), "session lines that do not parse");
    let files = files_under(&sessions);
    for i in &done {
        let holding = files
            .iter()
            .filter(|f| read(f).contains(&format!("LOAD-{i}. Go.")))
            .count();
        assert_eq!(holding, 1, "the session file of client {i}'s turn");
    }
}

/// A slow answer (text streamed over about 8 s) that ends in a tool call; `client` asks
/// for it and hangs up. Then: the next request is served on the one slot, the backend is
/// asked nothing more for the hung-up turn, and its tool call is not run.
fn hang_up_case(client: impl FnOnce(&Case)) {
    let call = json!([{"id": "call_hangup", "name": "exec_command",
                       "arguments": {"cmd": "touch ran-after-hangup.txt"}}]);
    let slow = "Working on it, one small piece at a time, ".repeat(4);
    let entries = vec![
        json!({"match": {"body_contains": ["HANGUP"], "body_not_contains": ["call_hangup"]},
               "text": slow, "tool_calls": call, "delta_chars": 4, "chunk_delay_ms": 200}),
        json!({"match": {"body_contains": ["call_hangup"]}, "text": "Should never be asked."}),
        json!({"match": {"body_contains": ["NEXT"]}, "text": "Next one served."}),
    ];
    // One slot: the next request runs only once the hung-up turn has let go of it.
    let args = ["--sandbox", "workspace-write", "--max-concurrent", "1"];
    let c = or_skip!(case(entries, &args));
    client(&c);
    let next = json!({"input": "NEXT. Anyone there?"});
    let next = c.serve.post("/v1/responses", &next);
    let got = (next.status, output_text(&next.json()));
    assert_eq!(got, (200, "Next one served.".into()), "{}", next.body);
    // Past the end of the slow answer (about 8 s of streaming) the agent asked nothing more
    // for the hung-up turn, and did not run its tool call.
    let asked = wait_for(Duration::from_secs(15), || {
        !c.chat_with("call_hangup").is_empty()
    });
    check(!asked, "no backend request after the client hung up");
    let turns = c.chat_with("HANGUP").len();
    assert_eq!(turns, 1, "one backend request for the hung-up turn");
    let ran = c.dirs.ws.join("ran-after-hangup.txt").exists();
    check(!ran, "its tool call was not run");
}

#[test]
fn a_client_that_hangs_up_mid_stream_interrupts_its_turn() {
    hang_up_case(|c| {
        let body = json!({"input": "HANGUP. Do the slow thing.", "stream": true});
        let mut open = c.serve.open("/v1/responses", &body);
        assert_eq!(open.status, 200);
        let mut seen = Vec::new();
        // Hang up at the first text.
        loop {
            let Some((_, event)) = open.event().unwrap() else {
                panic!("the stream ended before any text: {seen:?}");
            };
            let data = http::data(&event).unwrap_or_default();
            seen.push(data["type"].clone());
            if data["type"] == "response.output_text.delta" {
                break;
            }
        }
        open.hang_up();
    });
}

#[test]
fn a_client_that_hangs_up_on_a_chat_answer_interrupts_its_turn() {
    hang_up_case(|c| {
        let messages = json!([{"role": "user", "content": "HANGUP. Do the slow thing."}]);
        let body = json!({"messages": messages, "stream": false});
        let sent = c.serve.send("/v1/chat/completions", &body);
        // Not streamed: nothing comes back before the end; hang up once the backend answers.
        let asked = wait_for(Duration::from_secs(60), || {
            !c.chat_with("HANGUP").is_empty()
        });
        check(asked, "the turn reached the backend");
        std::thread::sleep(Duration::from_secs(1)); // into the slow answer
        let _ = sent.shutdown(std::net::Shutdown::Both);
    });
}

#[test]
fn sigterm_with_a_turn_in_flight_exits_0_in_bounded_time() {
    let stuck =
        json!({"match": {"body_contains": ["INFLIGHT"]}, "delay_ms": 120000, "text": "Too late."});
    let mut c = or_skip!(case(vec![stuck], &[]));
    let body = json!({"input": "INFLIGHT. Take forever.", "stream": true});
    let mut open = c.serve.open("/v1/responses", &body);
    assert_eq!(open.status, 200);
    let asked = wait_for(Duration::from_secs(60), || {
        !c.chat_with("INFLIGHT").is_empty()
    });
    check(asked, "the turn reached the backend");
    let started = Instant::now();
    let code = c.serve.stop(STOP_LIMIT);
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(
        code,
        Some(0),
        "exit 0 within {STOP_LIMIT:?}; stderr:\n{}",
        c.serve.stderr()
    );
    say(&format!(
        "SIGTERM with a turn in flight: exited 0 after {secs:.1} s"
    ));
    // The client's stream ends, saying the response is incomplete.
    let mut last = Value::Null;
    while let Ok(Some((_, event))) = open.event() {
        last = http::data(&event).unwrap_or(last);
    }
    assert_eq!(
        last["type"], "response.incomplete",
        "the last event: {last}"
    );
}
