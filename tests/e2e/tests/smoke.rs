//! The smoke scenarios: a built codex-litellm against tests/mock-llm, one test per
//! tests/smoke/NN-name.json (config fragments NN-name.toml / NN-name.litellm.toml). With
//! CODEX_LITELLM_E2E_VIA_LITELLM=1 the same tests run through a real LiteLLM proxy. Every
//! scenario also gets the common checks of [`Smoke`]'s drop.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use codex_litellm_e2e::*;
use codex_litellm_mock_llm::ServedBy;
use pretty_assertions::assert_eq;
use serde_json::Value;
use serde_json::json;
use std::path::PathBuf;

/// One scenario: its directories, its mock (alone, or behind the shared proxy), its model.
/// On drop (unless the test failed already): every chat request carried the key as a Bearer
/// token and the key is in no file. Each run: no time-out, no panic.
struct Smoke {
    bin: PathBuf,
    dirs: Dirs,
    mock: Mock,
    url: String,
    model: &'static str,
    timeout: u64,
    _serial: Option<std::sync::MutexGuard<'static, ()>>,
}

fn smoke(name: &str) -> Option<Smoke> {
    let bin = litellm_bin()?;
    let dir = repo_root().join("tests/smoke");
    let dirs = Dirs::new();
    let fragment = |ext: &str| {
        let text = read(dir.join(format!("{name}{ext}")));
        text.replace("@SMOKE_DIR@", dir.to_str().unwrap())
    };
    let config = fragment(".toml");
    std::fs::write(dirs.home.join("config.toml"), config).unwrap();
    // Full telemetry records request bodies and raw answers: the key check covers them.
    let litellm = format!(
        "[telemetry]\nlevel = \"full\"\n\n{}",
        fragment(".litellm.toml")
    );
    std::fs::write(dirs.home.join("litellm.toml"), litellm).unwrap();
    let proxy = via_litellm().then(|| shared_proxy("mock-model,smoke-freeform,mock-backup"));
    let port = proxy.as_ref().map_or(0, |(p, _)| p.backend_port);
    let scenario = Scenario::from_file(dir.join(format!("{name}.json"))).unwrap();
    let mock = Mock::start(scenario, port, Some(dirs.path("requests.jsonl")));
    let url = proxy.as_ref().map_or(mock.url(), |(p, _)| p.url.clone());
    let timeout = std::env::var("CODEX_LITELLM_E2E_TIMEOUT");
    let timeout = timeout.map_or(120, |v| v.parse().unwrap());
    let _serial = proxy.map(|(_, serial)| serial);
    let model = "mock-model";
    Some(Smoke {
        bin,
        dirs,
        mock,
        url,
        model,
        timeout,
        _serial,
    })
}

impl Smoke {
    /// `codex-litellm exec --skip-git-repo-check ARGS...` in the workspace.
    fn exec(&self, args: &[&str]) -> Run {
        let cmd = self.dirs.cmd(&self.bin).litellm(&self.url, self.model);
        let cmd = cmd.args(["exec", "--skip-git-repo-check"]).args(args);
        let run = cmd.timeout_secs(self.timeout).run();
        check(!run.timed_out, "codex finishes within the time limit");
        lacks(&run.stderr, &["panicked at"]);
        run
    }

    /// `exec` allowed to write the workspace (SMOKE_SANDBOX=bypass where bwrap cannot run).
    fn exec_write(&self, prompt: &str) -> Run {
        match std::env::var("SMOKE_SANDBOX").as_deref() {
            Ok("bypass") => self.exec(&["--dangerously-bypass-approvals-and-sandbox", prompt]),
            _ => self.exec(&["--sandbox", "workspace-write", prompt]),
        }
    }

    /// Another codex-litellm command on the scenario's CODEX_HOME.
    fn codex(&self, args: &[&str]) -> Run {
        let run = self.dirs.cmd(&self.bin).litellm(&self.url, self.model);
        run.args(args).run()
    }

    /// The chat requests the mock received.
    fn chat(&self) -> Vec<RecordedRequest> {
        let mut all = self.mock.requests();
        all.retain(|r| r.path.ends_with("/chat/completions"));
        all
    }

    fn bodies(&self) -> Vec<Value> {
        self.chat().into_iter().map(|r| r.body).collect()
    }

    /// `messages` of chat request `i`.
    fn messages(&self, i: usize) -> Vec<Value> {
        let bodies = self.bodies();
        check(i < bodies.len(), "the mock received the request");
        bodies[i]["messages"].as_array().unwrap().clone()
    }

    fn tele(&self) -> Vec<Value> {
        telemetry(&self.dirs.home)
    }

    fn ws(&self, file: &str) -> String {
        read(self.dirs.ws.join(file))
    }

    fn is_file(&self, file: &str) -> bool {
        self.dirs.ws.join(file).is_file()
    }
}

impl Drop for Smoke {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        let chat = self.chat();
        let auth: Vec<_> = chat.iter().map(|r| r.header("authorization")).collect();
        assert_eq!(
            auth,
            vec![Some("Bearer ***"); auth.len()],
            "the key, as Bearer"
        );
        let leaks = self.dirs.files_with_secret();
        assert_eq!(leaks, Vec::<PathBuf>::new(), "files holding the key");
    }
}

fn assistants(msgs: &[Value]) -> Vec<Value> {
    let mut msgs = msgs.to_vec();
    msgs.retain(|m| m["role"] == "assistant");
    msgs
}

/// `ptr` of each element of the array `v[key]`.
fn each_of(v: &Value, key: &str, ptr: &str) -> Value {
    each(v[key].as_array().map_or(&[], Vec::as_slice), ptr)
}

fn arguments(call: &Value) -> Value {
    let text = call["function"]["arguments"].as_str().unwrap();
    serde_json::from_str(text).unwrap()
}

/// Arrays joined into one.
fn concat(arrays: impl Iterator<Item = Value>) -> Vec<Value> {
    arrays.flat_map(|v| v.as_array().unwrap().clone()).collect()
}

fn text(v: &Value) -> String {
    v.as_str().map_or(v.to_string(), str::to_string)
}

#[test]
fn smoke_01_plain_answer() {
    let s = or_skip!(smoke("01-plain-answer"));
    let run = s.exec(&["Say hello"]);
    run.assert_success();
    assert_eq!(run.stdout.trim(), "Hello from the mock.");
    let lines: Vec<&str> = run.stderr.lines().collect();
    let used = lines.iter().position(|l| *l == "tokens used");
    let used = used.expect("a 'tokens used' line");
    assert_eq!(lines[used + 1].trim(), "55", "50 in + 5 out");
    // First the start line: provider, base URL and model, each with where it came from.
    let start = "codex-litellm: provider litellm (from built-in default) · http://127.0.0.1:";
    let end = "(LITELLM_BASE_URL) · model mock-model (LITELLM_MODEL)";
    let line = lines[0];
    check(line.starts_with(start) && line.ends_with(end), line);
    let summary = "\ncodex-litellm: mock-model · 1 request in 1 turn · 50 in · 5 out · \
                   0 retries · 0 errors";
    has(&run.stderr, &[summary]);
    let bodies = s.bodies();
    assert_eq!(bodies.len(), 1);
    // include_usage: no token counts, no compaction without it.
    let ptrs = ["/model", "/stream", "/stream_options/include_usage"];
    let sent = pick(&bodies[0], &ptrs);
    assert_eq!(sent, json!(["mock-model", true, true]));
    let msgs = s.messages(0);
    let roles = each(&msgs, "/role").to_string();
    lacks(&roles, &["developer"]);
    let prompt = json!({"role": "user", "content": "Say hello"});
    assert_eq!(msgs.last(), Some(&prompt));
    let tele = s.tele();
    assert_eq!(tele.len(), 1);
    let t = &tele[0];
    let outcome = pick(t, &["/diagnosis_kind", "/outcome/status"]);
    assert_eq!(outcome, json!(["completed", "completed"]));
    let usage = pick(t, &["/usage/input_tokens", "/usage/output_tokens"]);
    assert_eq!(usage, json!([50, 5]));
    check(
        t.get("request_body").is_some(),
        "level full records the body",
    );
    let show = s.codex(&["telemetry", "show", "last"]);
    show.assert_success();
    has(&show.stdout, &["mock-model", "completed"]);
    let summary = s.codex(&["telemetry", "summary"]);
    summary.assert_success();
    has(&summary.stdout, &["mock-model"]);
}

#[test]
fn smoke_02_tool_loop() {
    let s = or_skip!(smoke("02-tool-loop"));
    let run = s.exec_write("Run the command, then tell me what happened.");
    run.assert_success();
    assert_eq!(s.ws("ran.txt"), "smoke-ran\n", "the command ran");
    assert_eq!(run.stdout.trim(), "The command ran and wrote ran.txt.");
    let bodies = s.bodies();
    assert_eq!(bodies.len(), 2);
    let tools = each_of(&bodies[0], "tools", "/function/name");
    has(&tools.to_string(), &["\"exec_command\""]);
    let msgs = s.messages(1);
    let calls = (0..msgs.len()).filter(|&i| msgs[i]["tool_calls"].is_array());
    let calls: Vec<usize> = calls.collect();
    assert_eq!(calls.len(), 1, "assistant messages with tool calls");
    let call = &msgs[calls[0]]["tool_calls"][0];
    let sent = pick(call, &["/id", "/function/name"]);
    assert_eq!(sent, json!(["call_smoke_tool_1", "exec_command"]));
    let cmd = "echo smoke-ran > ran.txt && cat ran.txt";
    assert_eq!(arguments(call), json!({ "cmd": cmd }));
    let next = &msgs[calls[0] + 1];
    let result = pick(next, &["/role", "/tool_call_id"]);
    assert_eq!(result, json!(["tool", "call_smoke_tool_1"]));
    has(&text(&next["content"]), &["smoke-ran"]);
    let finish = each(&s.tele(), "/finish_reason");
    assert_eq!(finish, json!(["tool_calls", "stop"]));
}

#[test]
fn smoke_03a_apply_patch_freeform() {
    let mut s = or_skip!(smoke("03a-apply-patch-freeform"));
    let ws = s.dirs.ws.clone();
    std::fs::write(ws.join("notes.txt"), "alpha\nbeta\ngamma\n").unwrap();
    std::fs::write(ws.join("obsolete.txt"), "to be deleted\n").unwrap();
    s.model = "smoke-freeform";
    s.exec_write("Apply the patch.").assert_success();
    let notes = "alpha\nBETA (patched, freeform)\ngamma\n";
    assert_eq!(s.ws("notes.txt"), notes);
    assert_eq!(s.ws("added.txt"), "added by the freeform patch\n");
    check(s.is_file("obsolete.txt"), "obsolete.txt, not in the patch");
    let bodies = s.bodies();
    assert_eq!(bodies.len(), 2);
    let tools = bodies[0]["tools"].as_array().unwrap();
    let tool = tools
        .iter()
        .find(|t| t["function"]["name"] == "apply_patch");
    let f = &tool.expect("apply_patch (the catalog model)")["function"];
    // One string parameter, `input`, and the grammar in the description.
    let props = &f["parameters"]["properties"];
    let names: Vec<&String> = props.as_object().unwrap().keys().collect();
    let kind = text(&props["input"]["type"]);
    assert_eq!(
        (format!("{names:?}"), kind),
        ("[\"input\"]".into(), "string".into())
    );
    has(&text(&f["description"]), &["FREEFORM", "*** Begin Patch"]);
    let msgs = s.messages(1);
    let asst = assistants(&msgs);
    let ids = concat(asst.iter().map(|m| each_of(m, "tool_calls", "/id")));
    assert_eq!(ids, [json!("call_smoke_patch_ff")]);
    let with_call = asst.iter().find(|m| m["tool_calls"].is_array());
    let input = arguments(&with_call.unwrap()["tool_calls"][0])["input"].clone();
    check(
        text(&input).starts_with("*** Begin Patch"),
        "{\"input\": patch}",
    );
    let result = msgs
        .iter()
        .find(|m| m["tool_call_id"] == "call_smoke_patch_ff");
    has(
        &text(&result.expect("a tool result")["content"]),
        &["Success"],
    );
}

#[test]
fn smoke_04_parallel_tool_calls() {
    let mut s = or_skip!(smoke("04-parallel-tool-calls"));
    s.model = "smoke-freeform";
    s.exec_write("Run both commands at once.").assert_success();
    check(
        s.is_file("a.txt") && s.is_file("b.txt"),
        "both commands ran",
    );
    let bodies = s.bodies();
    assert_eq!(bodies.len(), 2, "both results in one follow-up");
    assert_eq!(bodies[0]["parallel_tool_calls"], true);
    let tools = each_of(&bodies[0], "tools", "/function/name");
    has(&tools.to_string(), &["\"shell_command\""]);
    let msgs = s.messages(1);
    let answered = |m: &Value| m["role"] == "assistant" || m["role"] == "tool";
    let first = msgs.iter().position(answered);
    let tail = &msgs[first.unwrap()..];
    let (a, b) = ("call_smoke_par_a", "call_smoke_par_b");
    // One assistant message with both calls, then both results in call order.
    assert_eq!(each(tail, "/role"), json!(["assistant", "tool", "tool"]));
    assert_eq!(each_of(&tail[0], "tool_calls", "/id"), json!([a, b]));
    assert_eq!(each(tail, "/tool_call_id"), json!([null, a, b]));
    let stamp = |f: &str| s.ws(f).trim().parse::<f64>().unwrap();
    let a_first = stamp("a.start") < stamp("b.end");
    let b_first = stamp("b.start") < stamp("a.end");
    check(a_first && b_first, "the two commands ran at the same time");
}

#[test]
fn smoke_05_reasoning_round_trip() {
    let s = or_skip!(smoke("05-reasoning-round-trip"));
    let run = s.exec_write("Think, look, answer.");
    run.assert_success();
    let r1 = "Thinking-one: I should look at the workspace first.";
    let r2 = "Thinking-two: the command worked, now answer.";
    // Only the answer on stdout, the reasoning shown on stderr.
    assert_eq!(run.stdout.trim(), "I looked at the workspace.");
    has(&run.stderr, &[r1, r2]);
    // Since rust-v0.148.0 the rollout keeps the reasoning items themselves.
    let rollout = rollout(&s.dirs.home);
    let items = rollout.iter().filter(|e| e["type"] == "response_item");
    let items = items.filter(|e| e["payload"]["type"] == "reasoning");
    let texts = concat(items.map(|e| each_of(&e["payload"], "summary", "/text")));
    assert_eq!(texts, [r1, r2]);
    assert_eq!(s.bodies().len(), 2);
    let asst = assistants(&s.messages(1));
    assert_eq!(asst.len(), 1);
    let calls = asst[0]["tool_calls"].as_array();
    check(
        calls.is_some_and(|c| !c.is_empty()),
        "the tool call sent back",
    );
    assert_eq!(asst[0]["reasoning_content"], r1, "reasoning sent back");
    check(s.is_file("looked.txt"), "the command ran");
    let tokens = &s.tele()[0]["usage"]["reasoning_output_tokens"];
    check(tokens.as_u64() > Some(0), "reasoning tokens counted");
}

/// The retry scenarios: `want` requests, two of them answered; the command ran once, the
/// answer came, telemetry and the summary show the retries.
fn retried(name: &str, want: u64) -> Option<(Smoke, Vec<Value>)> {
    let s = smoke(name)?;
    let run = s.exec_write("Append one line.");
    run.assert_success();
    assert_eq!(s.ws("side-effect.log"), "once\n", "ran exactly once");
    check(run.stdout.trim().starts_with("Appended one line"), "answer");
    assert_eq!(s.bodies().len() as u64, want);
    let tele = s.tele();
    let retries = tele.iter().map(|t| t["retries"].as_u64().unwrap_or(0));
    assert_eq!(retries.sum::<u64>(), want - 2, "retries in telemetry");
    for t in tele.iter().filter(|t| t["retries"].as_u64() > Some(0)) {
        assert_eq!(t["diagnosis_kind"], "completed_after_retries");
    }
    has(&run.stderr, &[&format!("· {} retries ·", want - 2)]);
    Some((s, tele))
}

#[test]
fn smoke_06a_retry_429() {
    let (s, tele) = or_skip!(retried("06a-retry-429", 4));
    for t in &tele {
        has(&text(&t["diagnosis"]), &["rate limited 429", "Retry-After"]);
        assert_eq!(t["attempts"][0]["retry_wait_ms"], 1000, "Retry-After: 1");
    }
    let reqs = s.chat();
    for (a, b) in [(0, 1), (2, 3)] {
        let gap = reqs[b].received_unix_ms - reqs[a].received_unix_ms;
        check(gap >= 950, "the retry waits for Retry-After: 1");
    }
}

#[test]
fn smoke_06b_retry_500() {
    let (_s, tele) = or_skip!(retried("06b-retry-500", 4));
    has(&text(&tele[0]["diagnosis"]), &["HTTP 500"]);
    let statuses = each_of(&tele[0], "attempts", "/status");
    assert_eq!(statuses, json!([500, 500, 200]));
}

#[test]
fn smoke_06c_retry_stream_cut() {
    let (_s, tele) = or_skip!(retried("06c-retry-stream-cut", 4));
    assert_eq!(tele.len(), 2);
    for t in &tele {
        has(&text(&t["diagnosis"]), &["stream cut"]);
        assert_eq!(t["attempts"][0]["fault"]["kind"], "stream_cut");
    }
}

#[test]
fn smoke_07a_error_in_stream() {
    let mut s = or_skip!(smoke("07a-error-in-stream"));
    s.timeout = 30; // a non-retryable error ends the run at once
    let run = s.exec(&["Use a tool."]);
    check(
        run.failed_visibly(),
        "an error line (the error went unnoticed)",
    );
    has(&run.stderr, &["mock-model does not support tools"]);
    assert_eq!(s.bodies().len(), 1, "a 400 in the stream is not retried");
    let tele = s.tele();
    assert_eq!(tele.len(), 1);
    let outcome = pick(&tele[0], &["/diagnosis_kind", "/outcome/status"]);
    assert_eq!(outcome, json!(["backend_error", "failed"]));
    has(&text(&tele[0]["diagnosis"]), &["does not support tools"]);
}

#[test]
fn smoke_07b_unauthorized() {
    let mut s = or_skip!(smoke("07b-unauthorized"));
    s.timeout = 30; // a 401 ends the run quickly
    let run = s.exec(&["Say hello"]);
    check(
        run.failed_visibly(),
        "an error line (the error went unnoticed)",
    );
    // The backend's message, and which key to check.
    let message = "Invalid proxy server token passed";
    has(&run.stderr, &[message, "401", "LITELLM_API_KEY"]);
    assert_eq!(s.bodies().len(), 1, "a 401 from a static key: no retry");
    let tele = s.tele();
    check(!tele.is_empty(), "telemetry records");
    for t in &tele {
        assert_eq!(t["diagnosis_kind"], "auth");
        let attempts = t["attempts"].as_array().map(Vec::len);
        assert_eq!(attempts, Some(1), "the bridge retried a 401");
    }
}

#[test]
fn smoke_08_tool_call_as_text() {
    let s = or_skip!(smoke("08-tool-call-as-text"));
    let run = s.exec_write("Create the file.");
    run.assert_success();
    // The tool call written as text ran.
    assert_eq!(s.ws("recovered.txt"), "recovered\n");
    assert_eq!(run.stdout.trim(), "Created recovered.txt.");
    assert_eq!(s.bodies().len(), 2);
    let msgs = s.messages(1);
    let asst = assistants(&msgs);
    assert_eq!(asst.len(), 1);
    lacks(&text(&asst[0]["content"]), &["<tool_call>"]);
    let names = each_of(&asst[0], "tool_calls", "/function/name");
    assert_eq!(names, json!(["exec_command"]));
    let id = &asst[0]["tool_calls"][0]["id"];
    let result = msgs
        .iter()
        .find(|m| m["role"] == "tool" && m["tool_call_id"] == *id);
    check(result.is_some(), "a tool result for the recovered call");
    let t = &s.tele()[0];
    let recovered = json!([{"name": "exec_command", "syntax": "tool_call_tag"}]);
    assert_eq!(t["recovered_tool_calls"], recovered);
    has(&text(&t["diagnosis"]), &["recovered 1 tool call"]);
    has(&run.stderr, &["1 tool call recovered"]);
}

#[test]
fn smoke_09a_length_auto_continue() {
    let s = or_skip!(smoke("09a-length-auto-continue"));
    let run = s.exec(&["Write a long answer."]);
    run.assert_success();
    let cut = "The first half of a long answer, ";
    let whole = format!("{cut}and the second half that completes it.");
    assert_eq!(run.stdout.trim(), whole, "the spliced answer");
    lacks(&run.stdout, &["[codex-litellm]"]);
    assert_eq!(s.bodies().len(), 2, "answer + continuation");
    // The continuation request carries the cut answer.
    let asst = assistants(&s.messages(1));
    assert_eq!(asst.last().unwrap()["content"], cut);
    let tele = s.tele();
    assert_eq!(each(&tele, "/continuations"), json!([1]));
    assert_eq!(tele[0]["diagnosis_kind"], "completed");
}

#[test]
fn smoke_09b_length_cut_off() {
    let s = or_skip!(smoke("09b-length-cut-off"));
    let run = s.exec(&["Write a long answer."]);
    run.assert_success();
    let first_half = "The first half of a long answer, ";
    check(run.stdout.starts_with(first_half), "the answer first");
    has(
        &run.stdout,
        &["[codex-litellm]", "cut off", "finish_reason"],
    );
    // Not reported as a context-window error.
    let all = format!("{}{}", run.stdout, run.stderr).to_lowercase();
    let notice = "does not report a context window";
    let lines = all.lines().filter(|l| !l.contains(notice));
    lacks(&lines.collect::<String>(), &["context window"]);
    assert_eq!(s.bodies().len(), 1);
    let tele = s.tele();
    assert_eq!(tele.len(), 1);
    let outcome = pick(&tele[0], &["/diagnosis_kind", "/outcome/status"]);
    assert_eq!(outcome, json!(["truncated", "truncated"]));
    has(&run.stderr, &["1 cut off"]);
}

#[test]
fn smoke_10_resume() {
    let s = or_skip!(smoke("10-resume"));
    let first = s.exec_write("Remember the magic word.");
    first.assert_success();
    let answer = "First turn done: the magic word is PINEAPPLE.";
    assert_eq!(first.stdout.trim(), answer);
    let prompt = "RESUMED-TURN: what was the magic word?";
    let resumed = s.exec(&["resume", "--last", prompt]);
    resumed.assert_success();
    let again = "Resumed: you told me PINEAPPLE earlier.";
    assert_eq!(resumed.stdout.trim(), again);
    assert_eq!(s.bodies().len(), 3);
    // The resumed request carries the first turn: prompt, answer, tool call and result.
    let msgs = s.messages(2);
    let said = |role: &str, content: &str| {
        msgs.iter()
            .any(|m| m["role"] == role && m["content"] == content)
    };
    check(said("user", "Remember the magic word."), "the first prompt");
    check(said("assistant", answer), "the first answer");
    let id = "call_smoke_first_turn";
    let ids = concat(msgs.iter().map(|m| each_of(m, "tool_calls", "/id")));
    check(ids.contains(&json!(id)), "the first turn's tool call");
    let results = each(&msgs, "/tool_call_id");
    check(
        results.as_array().unwrap().contains(&json!(id)),
        "its result",
    );
    let last = json!({"role": "user", "content": prompt});
    assert_eq!(msgs.last(), Some(&last));
    let tele = s.tele();
    let sessions = each(&tele, "/session_id").as_array().unwrap().clone();
    let one = sessions.iter().all(|id| *id == sessions[0]);
    assert_eq!((tele.len(), one), (3, true), "3 records in one session");
    // The resumed session appends to its telemetry file.
    let files = std::fs::read_dir(s.dirs.home.join("log/litellm"));
    assert_eq!(files.unwrap().count(), 1);
}

#[test]
fn smoke_11a_passthrough_mode() {
    let s = or_skip!(smoke("11a-passthrough-mode"));
    let run = s.exec_write("Run the command.");
    run.assert_success();
    check(s.is_file("passthrough.txt"), "the command ran");
    let answer = "Streamed answer after the tool ran.";
    assert_eq!(run.stdout.trim(), answer);
    let thinking = "Passthrough-thinking: run the command.";
    has(&run.stderr, &[thinking]);
    assert_eq!(s.bodies().len(), 2);
    let asst = assistants(&s.messages(1));
    assert_eq!(asst[0]["reasoning_content"], thinking);
    let modes = each(&s.tele(), "/mode").as_array().unwrap().clone();
    check(!modes.is_empty(), "telemetry records");
    assert_eq!(modes, vec![json!("live"); modes.len()]);
}

#[test]
fn smoke_11b_passthrough_stream_cut() {
    let s = or_skip!(smoke("11b-passthrough-stream-cut"));
    let run = s.exec_write("Append one line.");
    run.assert_success();
    assert_eq!(s.ws("side-effect.log"), "once\n", "ran exactly once");
    let answer = "Appended one line, and this answer is long enough to be cut \
                  in the middle.";
    assert_eq!(run.stdout.trim(), answer);
    assert_eq!(s.bodies().len(), 4);
    // The bridge retried invisibly: no reconnect, no repeated text.
    lacks(&run.stderr, &["Reconnecting..."]);
    let shown = run.stdout.matches("Let me append the line now").count();
    check(shown <= 1, "the shown text is not repeated");
    // Two exchanges, each retried inside the bridge.
    let outcomes = each(&s.tele(), "/outcome/status");
    assert_eq!(outcomes, json!(["completed", "completed"]));
}

/// 12a/12b: the chat requests where the backend first refused a request for its size and
/// where Codex first asked for a compaction.
fn refusal_and_compaction(s: &Smoke, run: &Run) -> (Option<usize>, Option<usize>) {
    // No upstream fallback-metadata warning.
    lacks(&run.stderr, &["Model metadata for"]);
    let chat = s.chat();
    let limit = |r: &RecordedRequest| matches!(r.served_by, ServedBy::ContextLimit);
    let refusal = chat.iter().position(limit);
    let marker = "CONTEXT CHECKPOINT COMPACTION";
    let compaction = chat
        .iter()
        .position(|r| r.body.to_string().contains(marker));
    (refusal, compaction)
}

const NUMBERED: &str = "Run the numbered commands one after the other, then say you are finished.";

#[test]
fn smoke_12a_metadata_auto_compaction() {
    let s = or_skip!(smoke("12a-metadata-auto-compaction"));
    let run = s.exec(&[NUMBERED]);
    let (refusal, compaction) = refusal_and_compaction(&s, &run);
    let paths: Vec<String> = s.mock.requests().into_iter().map(|r| r.path).collect();
    has(&format!("{paths:?}"), &["\"/v1/models\"", "/model/info\""]);
    run.assert_success();
    let answer = "Finished after compaction."; // served after the summary
    assert_eq!(run.stdout.trim(), answer);
    let compaction = compaction.expect("Codex compacted");
    check(
        refusal.is_none_or(|r| r > compaction),
        "compacted before a refusal",
    );
    // The session's context window is the backend's 16K.
    let rollout = rollout(&s.dirs.home);
    let counts = rollout
        .iter()
        .filter(|r| r["payload"]["type"] == "token_count");
    let infos = counts.map(|r| r["payload"]["info"].clone());
    let infos: Vec<Value> = infos.filter(Value::is_object).collect();
    let windows = each(&infos, "/model_context_window");
    let windows = windows.as_array().unwrap();
    let within = |w: &Value| w.as_u64().is_some_and(|w| w <= 16384);
    check(
        !windows.is_empty() && windows.iter().all(within),
        "16K window",
    );
}

#[test]
fn smoke_12b_metadata_missing_context_error() {
    let s = or_skip!(smoke("12b-metadata-missing-context-error"));
    let run = s.exec(&[NUMBERED]);
    let (refusal, compaction) = refusal_and_compaction(&s, &run);
    check(
        run.failed_visibly(),
        "an ERROR: the run hits the context limit",
    );
    let refusal = refusal.expect("a refusal (the history outgrew 64 KB)");
    // Without metadata Codex does not compact before the refusal.
    check(
        compaction.is_none_or(|c| c > refusal),
        "no early compaction",
    );
    has(&run.stderr.to_lowercase(), &["context"]);
    let notice = run.stderr.matches("does not report a context window");
    assert_eq!(notice.count(), 1, "the default-window notice, once");
}

#[test]
fn smoke_13a_content_array() {
    let s = or_skip!(smoke("13a-content-array"));
    let run = s.exec(&["Say hello"]);
    run.assert_success();
    // The text parts joined; the thinking part shown as reasoning only.
    assert_eq!(run.stdout.trim(), "Hello from content parts.");
    has(&run.stderr, &["Parts-thinking: the user wants a greeting."]);
    lacks(&run.stdout, &["Parts-thinking"]);
    assert_eq!(s.bodies().len(), 1);
    let outcomes = each(&s.tele(), "/outcome/status");
    assert_eq!(outcomes, json!(["completed"]));
}

#[test]
fn smoke_13b_object_reasoning() {
    let s = or_skip!(smoke("13b-object-reasoning"));
    let run = s.exec_write("Think, look, answer.");
    run.assert_success();
    let r = "Object-reasoning: list the workspace first.";
    assert_eq!(run.stdout.trim(), "Listed with object reasoning.");
    has(&run.stderr, &[r]);
    check(s.is_file("object.txt"), "the command ran");
    assert_eq!(s.bodies().len(), 2);
    let asst = assistants(&s.messages(1));
    assert_eq!(each(&asst, "/reasoning_content"), json!([r]));
}

#[test]
fn smoke_13c_multi_choice() {
    let s = or_skip!(smoke("13c-multi-choice"));
    let run = s.exec_write("Run it.");
    run.assert_success();
    assert_eq!(run.stdout.trim(), "Ran it once.");
    assert_eq!(s.ws("choices.txt"), "once\n", "the call runs exactly once");
    assert_eq!(s.bodies().len(), 2);
    let asst = assistants(&s.messages(1));
    assert_eq!(each(&asst, "/content"), json!(["Running it now."]));
    let ids = each_of(&asst[0], "tool_calls", "/id");
    assert_eq!(ids, json!(["call_smoke_choice"]));
}

/// Each tests/smoke/*.json has its test above (a script nobody runs proves nothing).
#[test]
fn every_smoke_script_has_a_test() {
    let source = include_str!("smoke.rs");
    let dir = std::fs::read_dir(repo_root().join("tests/smoke")).unwrap();
    for name in dir.map(|e| e.unwrap().file_name().into_string().unwrap()) {
        let Some(stem) = name.strip_suffix(".json") else {
            continue;
        };
        let test = format!("fn smoke_{}()", stem.replace('-', "_"));
        check(stem == "catalog" || source.contains(&test), &name);
    }
}

#[test]
fn smoke_11c_live_cut_new_answer() {
    let s = or_skip!(smoke("11c-live-cut-new-answer"));
    let run = s.exec(&["Say the answer."]);
    run.assert_success();
    // One coherent answer: the retry's, never glued to the cut one.
    assert_eq!(
        run.stdout.trim(),
        "Recovered after cut stream. The answer is 42."
    );
    let bodies = s.bodies();
    assert_eq!(
        bodies.len(),
        2,
        "the cut answer and its retry, no continuation request"
    );
    for body in &bodies {
        lacks(&body.to_string(), &["Your previous answer was cut off"]);
    }
    let tele = s.tele();
    let interrupted: u64 = tele
        .iter()
        .map(|t| t["interrupted_answers"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(interrupted, 1, "telemetry counts the interrupted answer");
}

#[test]
fn smoke_14a_continuation_nudge() {
    let s = or_skip!(smoke("14a-continuation-nudge"));
    let run = s.exec_write("Create step1.txt and step2.txt.");
    run.assert_success();
    check(
        s.is_file("step2.txt"),
        "the promised call ran after the nudge",
    );
    assert_eq!(run.stdout.trim(), "Both files exist now.");
    let bodies = s.bodies();
    assert_eq!(bodies.len(), 4, "call, promise, nudge, end");
    let nudge = "made no tool call";
    let last = s.messages(2).last().cloned().unwrap();
    assert_eq!(last["role"], "user", "the 3rd request ends with the nudge");
    has(&text(&last["content"]), &[nudge]);
    lacks(&format!("{}{}", run.stdout, run.stderr), &[nudge]);
    lacks(&bodies[3].to_string(), &[nudge]);
    let tele = s.tele();
    let nudges: u64 = tele.iter().map(|t| t["nudges"].as_u64().unwrap_or(0)).sum();
    assert_eq!(nudges, 1, "telemetry counts the nudge");
    check(
        !tele.iter().any(|t| t["nudge_unanswered"] == true),
        "the nudge was answered",
    );
    let diagnoses = each(&tele, "/diagnosis").to_string();
    has(&diagnoses, &["1 nudge after an answer that promised"]);
    has(&run.stderr, &["1 nudge"]);
}

#[test]
fn smoke_14b_loop_guard_note() {
    let s = or_skip!(smoke("14b-loop-guard-note"));
    let run = s.exec_write("Show me missing-file.txt.");
    run.assert_success();
    check(
        s.is_file("changed.txt"),
        "the model changed approach after the note",
    );
    let answer = "The file is missing, so I wrote changed.txt instead.";
    assert_eq!(run.stdout.trim(), answer);
    let bodies = s.bodies();
    let noted: Vec<bool> = bodies
        .iter()
        .map(|b| b.to_string().contains("has failed 3 times in a row"))
        .collect();
    assert_eq!(
        noted,
        [false, false, false, true, false],
        "only the 4th carries the note"
    );
    let last = s.messages(3).last().cloned().unwrap();
    assert_eq!(last["role"], "user");
    has(&text(&last["content"]), &["Change your approach"]);
    lacks(&run.stdout, &["has failed 3 times"]);
    let tele = s.tele();
    let guards: Vec<&Value> = tele
        .iter()
        .map(|t| &t["loop_guard"])
        .filter(|g| !g.is_null())
        .collect();
    assert_eq!(guards.len(), 1);
    let guard = pick(guards[0], &["/action", "/count", "/failing"]);
    assert_eq!(guard, json!(["note", 3, true]));
    let diagnoses = each(&tele, "/diagnosis").to_string();
    has(
        &diagnoses,
        &["loop guard note sent: exec_command failed 3 times"],
    );
    has(&run.stderr, &["loop guard: 1 note, 0 stops"]);
}

#[test]
fn smoke_14c_fallback_503() {
    let s = or_skip!(smoke("14c-fallback-503"));
    let run = s.exec_write("Write backup.txt.");
    run.assert_success();
    assert_eq!(run.stdout.trim(), "Served by the backup model.");
    check(s.is_file("backup.txt"), "the fallback's call ran");
    // The primary is not asked again during its cool-down.
    let models = each(&s.bodies(), "/model");
    let want = ["mock-model"; 4].iter().chain(&["mock-backup"; 2]).copied();
    assert_eq!(models, json!(want.collect::<Vec<_>>()));
    let notice = "codex-litellm: mock-backup answered instead of mock-model (mock-model: \
                  overloaded (HTTP 503)); mock-model is tried again after 60s";
    has(&run.stderr, &[notice]);
    let tele = s.tele();
    assert_eq!(
        each(&tele, "/fallback/reason"),
        json!(["overloaded", "cooling_down"])
    );
    assert_eq!(each(&tele, "/model"), json!(["mock-backup", "mock-backup"]));
    let diagnosis = text(&tele[0]["diagnosis"]);
    has(
        &diagnosis,
        &["answered by mock-backup instead of mock-model: overloaded (HTTP 503)"],
    );
    has(&run.stderr, &["2 answers as fallback"]);
}

#[test]
fn smoke_14d_fallback_context_window() {
    let s = or_skip!(smoke("14d-fallback-context-window"));
    let run = s.exec(&["Say hello"]);
    run.assert_success();
    assert_eq!(run.stdout.trim(), "Answered by the bigger model.");
    let models = each(&s.bodies(), "/model");
    assert_eq!(models, json!(["mock-model", "mock-big"]));
    // Both windows come from /model/info: litellm.toml names none.
    let notice = "codex-litellm: mock-big answered instead of mock-model (mock-model: the \
                  conversation is over its 16384-token context window (128000 on the fallback))";
    has(&run.stderr, &[notice]);
    let tele = s.tele();
    assert_eq!(each(&tele, "/fallback/reason"), json!(["context_length"]));
}

/// 15a/15b: the chat requests that asked for a compaction, and those the backend refused
/// for their size.
fn compactions_and_refusals(s: &Smoke) -> (usize, usize) {
    let chat = s.chat();
    let marker = "CONTEXT CHECKPOINT COMPACTION";
    let compactions = chat.iter().filter(|r| r.body.to_string().contains(marker));
    let refused = chat
        .iter()
        .filter(|r| matches!(r.served_by, ServedBy::ContextLimit));
    (compactions.count(), refused.count())
}

#[test]
fn smoke_15a_small_window_long_output() {
    let s = or_skip!(smoke("15a-small-window-long-output"));
    let run = s.exec_write("Print a long output.");
    run.assert_success();
    assert_eq!(run.stdout.trim(), "Done after the summary.");
    // One compaction, before the backend had to refuse anything.
    assert_eq!(compactions_and_refusals(&s), (1, 0));
    assert_eq!(s.bodies().len(), 3, "the call, the compaction, the answer");
}

#[test]
fn smoke_15b_small_window_summary_too_long() {
    let s = or_skip!(smoke("15b-small-window-summary-too-long"));
    let run = s.exec_write("Print a long output.");
    check(run.failed_visibly(), "the run ends with an error");
    has(
        &run.stderr,
        &["ran out of room in the model's context window"],
    );
    // Still over the limit after compacting: a clear stop, not a compaction loop.
    assert_eq!(compactions_and_refusals(&s), (1, 1));
    assert_eq!(
        s.bodies().len(),
        3,
        "the call, the compaction, the refused request"
    );
}
