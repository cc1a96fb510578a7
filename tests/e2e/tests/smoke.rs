//! The smoke scenarios: a built codex-litellm against tests/mock-llm, one test per
//! tests/smoke/NN-name.json (its config fragments NN-name.toml / NN-name.litellm.toml).
//! With CODEX_LITELLM_E2E_VIA_LITELLM=1 the same tests run through a real LiteLLM proxy.
//! Every scenario also gets the common checks of [`Smoke`]'s drop.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use codex_litellm_e2e::*;
use pretty_assertions::assert_eq;
use serde_json::Value;
use serde_json::json;
use std::path::PathBuf;

/// Every model a scenario uses: the names the proxy serves.
const MODELS: &str = "mock-model,smoke-freeform";

/// One scenario: its directories, its mock (alone, or behind the shared proxy) and its runs.
/// On drop (unless the test already failed): no run hit the time limit or panicked,
/// every chat request carried the key as a Bearer token, the key is in no file.
struct Smoke {
    bin: PathBuf,
    dirs: Dirs,
    mock: Mock,
    base_url: String,
    model: &'static str,
    timeout: u64,
    _serial: Option<std::sync::MutexGuard<'static, ()>>,
}

fn smoke(name: &str) -> Option<Smoke> {
    let bin = litellm_bin()?;
    let dir = repo_root().join("tests/smoke");
    let dirs = Dirs::new();
    let fragment = |ext: &str| {
        read(dir.join(format!("{name}{ext}"))).replace("@SMOKE_DIR@", dir.to_str().unwrap())
    };
    std::fs::write(dirs.home.join("config.toml"), fragment(".toml")).unwrap();
    // Full telemetry records request bodies and raw answers: the key check covers them.
    let litellm = format!(
        "[telemetry]\nlevel = \"full\"\n\n{}",
        fragment(".litellm.toml")
    );
    std::fs::write(dirs.home.join("litellm.toml"), litellm).unwrap();
    let (port, proxy, serial) = match via_litellm() {
        true => {
            let (proxy, serial) = shared_proxy(MODELS);
            (proxy.backend_port, Some(proxy.url.clone()), Some(serial))
        }
        false => (0, None, None),
    };
    let scenario = Scenario::from_file(dir.join(format!("{name}.json"))).unwrap();
    let mock = Mock::start(scenario, port, Some(dirs.path("requests.jsonl")));
    let base_url = proxy.unwrap_or_else(|| mock.url());
    Some(Smoke {
        bin,
        dirs,
        mock,
        base_url,
        model: "mock-model",
        timeout: timeout_secs(),
        _serial: serial,
    })
}

impl Smoke {
    /// `codex-litellm exec --skip-git-repo-check ARGS...` in the workspace.
    fn exec(&self, args: &[&str]) -> Run {
        let run = self
            .dirs
            .cmd(&self.bin)
            .litellm(&self.base_url, self.model)
            .args(["exec", "--skip-git-repo-check"])
            .args(args)
            .timeout_secs(self.timeout)
            .run();
        assert!(!run.timed_out, "codex did not finish within the time limit");
        assert!(
            !run.panicked(),
            "codex panicked: {}",
            tail(&run.stderr, 800)
        );
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
        self.dirs
            .cmd(&self.bin)
            .litellm(&self.base_url, self.model)
            .args(args)
            .run()
    }

    fn chat(&self) -> Vec<RecordedRequest> {
        let all = self.mock.requests();
        all.into_iter()
            .filter(|r| r.path.ends_with("/chat/completions"))
            .collect()
    }

    fn bodies(&self) -> Vec<Value> {
        self.chat().into_iter().map(|r| r.body).collect()
    }

    /// `messages` of chat request `i`.
    fn messages(&self, i: usize) -> Vec<Value> {
        let bodies = self.bodies();
        assert!(
            i < bodies.len(),
            "the mock received {} chat requests, wanted #{}",
            bodies.len(),
            i + 1
        );
        bodies[i]["messages"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    fn tele(&self) -> Vec<Value> {
        telemetry(&self.dirs.home)
    }

    fn ws(&self, file: &str) -> String {
        read(self.dirs.ws.join(file))
    }
}

impl Drop for Smoke {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        for r in self.chat() {
            assert_eq!(
                r.header("authorization"),
                Some("Bearer ***"),
                "request {}: the key as a Bearer token",
                r.seq
            );
        }
        assert_eq!(
            self.dirs.files_with_secret(),
            Vec::<PathBuf>::new(),
            "files holding the API key"
        );
    }
}

fn timeout_secs() -> u64 {
    std::env::var("CODEX_LITELLM_E2E_TIMEOUT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(120)
}

fn assistants(msgs: &[Value]) -> Vec<Value> {
    msgs.iter()
        .filter(|m| m["role"] == "assistant")
        .cloned()
        .collect()
}

fn call_ids(msg: &Value) -> Vec<&str> {
    let calls = msg["tool_calls"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    calls
        .iter()
        .map(|c| c["id"].as_str().unwrap_or_default())
        .collect()
}

fn arguments(call: &Value) -> Value {
    serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap()
}

fn tool_names(body: &Value) -> Vec<&str> {
    let tools = body["tools"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    tools
        .iter()
        .filter_map(|t| t["function"]["name"].as_str())
        .collect()
}

/// `key` of each record.
fn each<'a>(records: &'a [Value], key: &str) -> Vec<&'a Value> {
    records.iter().map(|r| &r[key]).collect()
}

#[test]
fn smoke_01_plain_answer() {
    let Some(s) = smoke("01-plain-answer") else {
        return;
    };
    let run = s.exec(&["Say hello"]);
    run.assert_success();
    assert_eq!(run.stdout.trim(), "Hello from the mock.");
    let lines: Vec<&str> = run.stderr.lines().collect();
    let used = lines
        .iter()
        .position(|l| *l == "tokens used")
        .expect("a 'tokens used' line");
    assert_eq!(lines[used + 1].trim(), "55", "tokens used: 50 in + 5 out");
    // The start line comes first: provider, base URL and model, each with where it came from.
    assert!(
        lines[0].starts_with(
            "codex-litellm: provider litellm (from built-in default) · http://127.0.0.1:"
        ) && lines[0].ends_with("(LITELLM_BASE_URL) · model mock-model (LITELLM_MODEL)"),
        "first stderr line: {:?}",
        lines[0]
    );
    let summary = lines
        .iter()
        .find(|l| l.starts_with("codex-litellm: mock-model "))
        .expect("a summary line");
    assert!(
        summary.starts_with(
            "codex-litellm: mock-model · 1 request in 1 turn · 50 in · 5 out · 0 retries · 0 errors"
        ),
        "{summary}"
    );
    let bodies = s.bodies();
    assert_eq!(bodies.len(), 1);
    let b = &bodies[0];
    assert_eq!(
        (
            &b["model"],
            &b["stream"],
            &b["stream_options"]["include_usage"]
        ),
        (&json!("mock-model"), &json!(true), &json!(true)),
        "model, stream and include_usage (no token counts, no compaction without it)"
    );
    let msgs = s.messages(0);
    assert!(
        msgs.iter().all(|m| m["role"] != "developer"),
        "a developer message went to the backend"
    );
    assert_eq!(
        msgs.last(),
        Some(&json!({"role": "user", "content": "Say hello"}))
    );
    let tele = s.tele();
    assert_eq!(tele.len(), 1);
    let t = &tele[0];
    assert_eq!(
        (&t["diagnosis_kind"], &t["outcome"]["status"]),
        (&json!("completed"), &json!("completed"))
    );
    assert_eq!(
        (&t["usage"]["input_tokens"], &t["usage"]["output_tokens"]),
        (&json!(50), &json!(5))
    );
    assert!(
        t.get("request_body").is_some(),
        "telemetry level full records the request body"
    );
    let show = s.codex(&["telemetry", "show", "last"]);
    show.assert_success();
    assert!(
        show.stdout.contains("mock-model") && show.stdout.contains("completed"),
        "{}",
        show.stdout
    );
    let summary = s.codex(&["telemetry", "summary"]);
    summary.assert_success();
    assert!(summary.stdout.contains("mock-model"), "{}", summary.stdout);
}

#[test]
fn smoke_02_tool_loop() {
    let Some(s) = smoke("02-tool-loop") else {
        return;
    };
    let run = s.exec_write("Run the command, then tell me what happened.");
    run.assert_success();
    assert_eq!(s.ws("ran.txt"), "smoke-ran\n", "the command ran");
    assert_eq!(run.stdout.trim(), "The command ran and wrote ran.txt.");
    let bodies = s.bodies();
    assert_eq!(bodies.len(), 2);
    assert!(
        tool_names(&bodies[0]).contains(&"exec_command"),
        "tools sent: {:?}",
        tool_names(&bodies[0])
    );
    let msgs = s.messages(1);
    let with_calls: Vec<usize> = (0..msgs.len())
        .filter(|&i| msgs[i]["tool_calls"].is_array())
        .collect();
    assert_eq!(
        with_calls.len(),
        1,
        "assistant messages with tool_calls in the follow-up"
    );
    let call = &msgs[with_calls[0]]["tool_calls"][0];
    assert_eq!(
        (&call["id"], &call["function"]["name"]),
        (&json!("call_smoke_tool_1"), &json!("exec_command"))
    );
    assert_eq!(
        arguments(call),
        json!({"cmd": "echo smoke-ran > ran.txt && cat ran.txt"})
    );
    let next = &msgs[with_calls[0] + 1];
    assert_eq!(
        (&next["role"], &next["tool_call_id"]),
        (&json!("tool"), &json!("call_smoke_tool_1"))
    );
    assert!(
        next["content"].to_string().contains("smoke-ran"),
        "tool result: {next}"
    );
    assert_eq!(
        each(&s.tele(), "finish_reason"),
        [&json!("tool_calls"), &json!("stop")]
    );
}

/// Seeds the workspace the apply_patch scenario edits.
fn seed_notes(s: &Smoke) {
    std::fs::write(s.dirs.ws.join("notes.txt"), "alpha\nbeta\ngamma\n").unwrap();
    std::fs::write(s.dirs.ws.join("obsolete.txt"), "to be deleted\n").unwrap();
}

#[test]
fn smoke_03a_apply_patch_freeform() {
    let Some(mut s) = smoke("03a-apply-patch-freeform") else {
        return;
    };
    seed_notes(&s);
    s.model = "smoke-freeform";
    s.exec_write("Apply the patch.").assert_success();
    assert_eq!(
        s.ws("notes.txt"),
        "alpha\nBETA (patched, freeform)\ngamma\n"
    );
    assert_eq!(s.ws("added.txt"), "added by the freeform patch\n");
    assert!(
        s.dirs.ws.join("obsolete.txt").is_file(),
        "obsolete.txt is not part of the patch"
    );
    let bodies = s.bodies();
    assert_eq!(bodies.len(), 2);
    let tools = bodies[0]["tools"].as_array().cloned().unwrap_or_default();
    let tool = tools
        .iter()
        .find(|t| t["function"]["name"] == "apply_patch")
        .expect("an apply_patch tool (the catalog model)");
    let f = &tool["function"];
    assert_eq!(
        f["parameters"]["properties"],
        json!({"input": f["parameters"]["properties"]["input"]})
    );
    assert_eq!(f["parameters"]["properties"]["input"]["type"], "string");
    let description = f["description"].as_str().unwrap_or_default();
    assert!(
        description.contains("FREEFORM") && description.contains("*** Begin Patch"),
        "the grammar in the description"
    );
    let msgs = s.messages(1);
    let asst = assistants(&msgs);
    assert_eq!(
        asst.iter().flat_map(call_ids).collect::<Vec<_>>(),
        ["call_smoke_patch_ff"]
    );
    let input =
        arguments(&asst.iter().find(|m| m["tool_calls"].is_array()).unwrap()["tool_calls"][0]);
    assert!(
        input["input"]
            .as_str()
            .unwrap_or_default()
            .starts_with("*** Begin Patch"),
        "sent back as {{\"input\": ...}}"
    );
    let result = msgs
        .iter()
        .find(|m| m["role"] == "tool" && m["tool_call_id"] == "call_smoke_patch_ff");
    assert!(
        result.is_some_and(|r| r["content"].to_string().contains("Success")),
        "tool result: {result:?}"
    );
}

#[test]
fn smoke_04_parallel_tool_calls() {
    let Some(mut s) = smoke("04-parallel-tool-calls") else {
        return;
    };
    s.model = "smoke-freeform";
    s.exec_write("Run both commands at once.").assert_success();
    assert!(
        s.dirs.ws.join("a.txt").is_file() && s.dirs.ws.join("b.txt").is_file(),
        "both commands ran"
    );
    let bodies = s.bodies();
    assert_eq!(bodies.len(), 2, "both results in one follow-up");
    assert_eq!(bodies[0]["parallel_tool_calls"], true);
    assert!(
        tool_names(&bodies[0]).contains(&"shell_command"),
        "tools sent: {:?}",
        tool_names(&bodies[0])
    );
    let msgs = s.messages(1);
    let first = msgs
        .iter()
        .position(|m| m["role"] == "assistant" || m["role"] == "tool")
        .unwrap();
    let tail = &msgs[first..];
    assert_eq!(
        tail.len(),
        3,
        "one assistant message, two tool results: {tail:?}"
    );
    assert_eq!(
        (&tail[0]["role"], call_ids(&tail[0])),
        (
            &json!("assistant"),
            vec!["call_smoke_par_a", "call_smoke_par_b"]
        )
    );
    let results: Vec<_> = tail[1..]
        .iter()
        .map(|m| (&m["role"], &m["tool_call_id"]))
        .collect();
    assert_eq!(
        results,
        [
            (&json!("tool"), &json!("call_smoke_par_a")),
            (&json!("tool"), &json!("call_smoke_par_b"))
        ]
    );
    let stamp = |f: &str| s.ws(f).trim().parse::<f64>().unwrap();
    assert!(
        stamp("a.start") < stamp("b.end") && stamp("b.start") < stamp("a.end"),
        "the two commands ran one after the other, not at the same time"
    );
}

#[test]
fn smoke_05_reasoning_round_trip() {
    let Some(s) = smoke("05-reasoning-round-trip") else {
        return;
    };
    let run = s.exec_write("Think, look, answer.");
    run.assert_success();
    let (r1, r2) = (
        "Thinking-one: I should look at the workspace first.",
        "Thinking-two: the command worked, now answer.",
    );
    assert_eq!(
        run.stdout.trim(),
        "I looked at the workspace.",
        "reasoning is not part of the answer"
    );
    assert!(
        run.stderr.contains(r1) && run.stderr.contains(r2),
        "the reasoning is shown"
    );
    // Since rust-v0.148.0 the rollout keeps the reasoning items themselves.
    let shown: Vec<Value> = rollout(&s.dirs.home)
        .iter()
        .filter(|e| e["type"] == "response_item" && e["payload"]["type"] == "reasoning")
        .flat_map(|e| {
            e["payload"]["summary"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .map(|s| s["text"].clone())
        .collect();
    assert_eq!(shown, [r1, r2]);
    assert_eq!(s.bodies().len(), 2);
    let asst = assistants(&s.messages(1));
    assert_eq!(asst.len(), 1);
    assert!(asst[0]["tool_calls"].is_array());
    assert_eq!(asst[0]["reasoning_content"], r1, "reasoning sent back");
    assert!(s.dirs.ws.join("looked.txt").is_file(), "the command ran");
    assert!(
        s.tele()[0]["usage"]["reasoning_output_tokens"].as_u64() > Some(0),
        "reasoning tokens counted"
    );
}

/// The retry scenarios: the mock got `want` requests, two of them answered; the command
/// ran once, the answer came, telemetry and the summary show the retries.
fn retried(name: &str, want: usize) -> Option<(Smoke, Vec<Value>)> {
    let s = smoke(name)?;
    let run = s.exec_write("Append one line.");
    run.assert_success();
    assert_eq!(
        s.ws("side-effect.log"),
        "once\n",
        "the command ran exactly once"
    );
    assert!(
        run.stdout.trim().starts_with("Appended one line"),
        "stdout: {}",
        run.stdout
    );
    assert_eq!(s.bodies().len(), want);
    let tele = s.tele();
    let retries: u64 = tele
        .iter()
        .map(|t| t["retries"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(retries, want as u64 - 2, "retries in telemetry");
    for t in tele.iter().filter(|t| t["retries"].as_u64() > Some(0)) {
        assert_eq!(
            t["diagnosis_kind"], "completed_after_retries",
            "{}",
            t["diagnosis"]
        );
    }
    assert!(
        run.stderr.contains(&format!("· {} retries ·", want - 2)),
        "the summary shows the retries"
    );
    Some((s, tele))
}

#[test]
fn smoke_06a_retry_429() {
    let Some((s, tele)) = retried("06a-retry-429", 4) else {
        return;
    };
    for t in &tele {
        let d = t["diagnosis"].as_str().unwrap_or_default();
        assert!(
            d.contains("rate limited 429") && d.contains("Retry-After"),
            "{d}"
        );
        assert_eq!(
            t["attempts"][0]["retry_wait_ms"], 1000,
            "Retry-After said 1 s"
        );
    }
    let reqs = s.chat();
    for (a, b) in [(0, 1), (2, 3)] {
        let gap = reqs[b].received_unix_ms - reqs[a].received_unix_ms;
        assert!(
            gap >= 950,
            "request {} came {gap} ms after the 429, before Retry-After: 1 allowed it",
            b + 1
        );
    }
}

#[test]
fn smoke_06b_retry_500() {
    let Some((_s, tele)) = retried("06b-retry-500", 4) else {
        return;
    };
    assert!(
        tele[0]["diagnosis"]
            .as_str()
            .unwrap_or_default()
            .contains("HTTP 500"),
        "{}",
        tele[0]["diagnosis"]
    );
    assert_eq!(
        each(tele[0]["attempts"].as_array().unwrap(), "status"),
        [&json!(500), &json!(500), &json!(200)]
    );
}

#[test]
fn smoke_06c_retry_stream_cut() {
    let Some((_s, tele)) = retried("06c-retry-stream-cut", 4) else {
        return;
    };
    assert_eq!(tele.len(), 2);
    for t in &tele {
        assert!(
            t["diagnosis"]
                .as_str()
                .unwrap_or_default()
                .contains("stream cut"),
            "{}",
            t["diagnosis"]
        );
        assert_eq!(t["attempts"][0]["fault"]["kind"], "stream_cut");
    }
}

#[test]
fn smoke_07a_error_in_stream() {
    let Some(mut s) = smoke("07a-error-in-stream") else {
        return;
    };
    s.timeout = 30; // a non-retryable error ends the run at once
    let run = s.exec(&["Use a tool."]);
    assert!(
        run.failed_visibly(),
        "exit status {} and no error line: an error went unnoticed",
        run.code
    );
    assert!(
        run.stderr.contains("mock-model does not support tools"),
        "the backend's message: {}",
        tail(&run.stderr, 400)
    );
    assert_eq!(s.bodies().len(), 1, "a 400 in the stream is not retried");
    let tele = s.tele();
    assert_eq!(tele.len(), 1);
    assert_eq!(tele[0]["diagnosis_kind"], "backend_error");
    assert!(
        tele[0]["diagnosis"]
            .as_str()
            .unwrap_or_default()
            .contains("does not support tools")
    );
    assert_eq!(tele[0]["outcome"]["status"], "failed");
}

#[test]
fn smoke_07b_unauthorized() {
    let Some(mut s) = smoke("07b-unauthorized") else {
        return;
    };
    s.timeout = 30; // a 401 ends the run quickly
    let run = s.exec(&["Say hello"]);
    assert!(
        run.failed_visibly(),
        "exit status {} and no error line: an error went unnoticed",
        run.code
    );
    let err = &run.stderr;
    assert!(
        err.contains("Invalid proxy server token passed") && err.contains("401"),
        "{}",
        tail(err, 400)
    );
    assert!(
        err.contains("LITELLM_API_KEY"),
        "the error says which key to check"
    );
    assert_eq!(
        s.bodies().len(),
        1,
        "a 401 from a static key is not retried"
    );
    let tele = s.tele();
    assert!(
        !tele.is_empty() && tele.iter().all(|t| t["diagnosis_kind"] == "auth"),
        "{:?}",
        each(&tele, "diagnosis")
    );
    assert!(
        tele.iter()
            .all(|t| t["attempts"].as_array().map(Vec::len) == Some(1)),
        "the bridge retried a 401"
    );
}

#[test]
fn smoke_08_tool_call_as_text() {
    let Some(s) = smoke("08-tool-call-as-text") else {
        return;
    };
    let run = s.exec_write("Create the file.");
    run.assert_success();
    assert_eq!(
        s.ws("recovered.txt"),
        "recovered\n",
        "the tool call written as text ran"
    );
    assert_eq!(run.stdout.trim(), "Created recovered.txt.");
    assert_eq!(s.bodies().len(), 2);
    let msgs = s.messages(1);
    let asst = assistants(&msgs);
    assert_eq!(asst.len(), 1);
    assert!(
        !asst[0]["content"].to_string().contains("<tool_call>"),
        "the tag is still in the text sent back"
    );
    let calls = asst[0]["tool_calls"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        each(&calls, "function")
            .iter()
            .map(|f| &f["name"])
            .collect::<Vec<_>>(),
        [&json!("exec_command")]
    );
    assert!(
        msgs.iter()
            .any(|m| m["role"] == "tool" && m["tool_call_id"] == calls[0]["id"]),
        "a tool result for the recovered call"
    );
    let tele = s.tele();
    assert_eq!(
        tele[0]["recovered_tool_calls"],
        json!([{"name": "exec_command", "syntax": "tool_call_tag"}])
    );
    assert!(
        tele[0]["diagnosis"]
            .as_str()
            .unwrap_or_default()
            .contains("recovered 1 tool call")
    );
    assert!(
        run.stderr.contains("1 tool call recovered"),
        "the summary counts the recovered call"
    );
}

#[test]
fn smoke_09a_length_auto_continue() {
    let Some(s) = smoke("09a-length-auto-continue") else {
        return;
    };
    let run = s.exec(&["Write a long answer."]);
    run.assert_success();
    assert_eq!(
        run.stdout.trim(),
        "The first half of a long answer, and the second half that completes it."
    );
    assert!(
        !run.stdout.contains("[codex-litellm]"),
        "reported as cut off although it was continued"
    );
    assert_eq!(s.bodies().len(), 2, "answer + continuation");
    let asst = assistants(&s.messages(1));
    assert_eq!(
        asst.last().map(|m| &m["content"]),
        Some(&json!("The first half of a long answer, "))
    );
    let tele = s.tele();
    assert_eq!(each(&tele, "continuations"), [&json!(1)]);
    assert_eq!(tele[0]["diagnosis_kind"], "completed");
}

#[test]
fn smoke_09b_length_cut_off() {
    let Some(s) = smoke("09b-length-cut-off") else {
        return;
    };
    let run = s.exec(&["Write a long answer."]);
    run.assert_success();
    let out = &run.stdout;
    assert!(
        out.starts_with("The first half of a long answer, "),
        "{out}"
    );
    assert!(
        out.contains("[codex-litellm]") && out.contains("cut off") && out.contains("finish_reason"),
        "reported as cut off: {out}"
    );
    let all = format!("{out}{}", run.stderr).to_lowercase();
    let wrong: Vec<&str> = all
        .lines()
        .filter(|l| l.contains("context window") && !l.contains("does not report a context window"))
        .collect();
    assert_eq!(
        wrong,
        Vec::<&str>::new(),
        "reported as a context-window error"
    );
    assert_eq!(s.bodies().len(), 1);
    let tele = s.tele();
    assert_eq!(tele.len(), 1);
    assert_eq!(
        (&tele[0]["diagnosis_kind"], &tele[0]["outcome"]["status"]),
        (&json!("truncated"), &json!("truncated"))
    );
    assert!(
        run.stderr.contains("1 cut off"),
        "the summary counts the cut-off answer"
    );
}

#[test]
fn smoke_10_resume() {
    let Some(s) = smoke("10-resume") else { return };
    let first = s.exec_write("Remember the magic word.");
    first.assert_success();
    assert_eq!(
        first.stdout.trim(),
        "First turn done: the magic word is PINEAPPLE."
    );
    let resumed = s.exec(&["resume", "--last", "RESUMED-TURN: what was the magic word?"]);
    resumed.assert_success();
    assert_eq!(
        resumed.stdout.trim(),
        "Resumed: you told me PINEAPPLE earlier."
    );
    assert_eq!(s.bodies().len(), 3);
    let msgs = s.messages(2);
    let has = |role: &str, content: &str| {
        msgs.iter()
            .any(|m| m["role"] == role && m["content"] == content)
    };
    assert!(
        has("user", "Remember the magic word."),
        "the resumed request carries the first prompt"
    );
    assert!(
        has("assistant", "First turn done: the magic word is PINEAPPLE."),
        "... and the first answer"
    );
    assert!(
        msgs.iter()
            .any(|m| call_ids(m).contains(&"call_smoke_first_turn")),
        "... and its tool call"
    );
    assert!(
        msgs.iter()
            .any(|m| m["role"] == "tool" && m["tool_call_id"] == "call_smoke_first_turn"),
        "... and its result"
    );
    assert_eq!(
        msgs.last(),
        Some(&json!({"role": "user", "content": "RESUMED-TURN: what was the magic word?"}))
    );
    let tele = s.tele();
    let sessions: std::collections::BTreeSet<String> =
        tele.iter().map(|t| t["session_id"].to_string()).collect();
    assert_eq!(
        (tele.len(), sessions.len()),
        (3, 1),
        "3 telemetry records in one session"
    );
    let files = std::fs::read_dir(s.dirs.home.join("log/litellm"))
        .unwrap()
        .count();
    assert_eq!(
        files, 1,
        "the resumed session appends to its telemetry file"
    );
}

#[test]
fn smoke_11a_passthrough_mode() {
    let Some(s) = smoke("11a-passthrough-mode") else {
        return;
    };
    let run = s.exec_write("Run the command.");
    run.assert_success();
    assert!(
        s.dirs.ws.join("passthrough.txt").is_file(),
        "the command ran"
    );
    assert_eq!(run.stdout.trim(), "Streamed answer after the tool ran.");
    assert!(
        run.stderr
            .contains("Passthrough-thinking: run the command."),
        "the reasoning is shown"
    );
    assert_eq!(s.bodies().len(), 2);
    let asst = assistants(&s.messages(1));
    assert_eq!(
        asst[0]["reasoning_content"],
        "Passthrough-thinking: run the command."
    );
    let tele = s.tele();
    assert!(
        !tele.is_empty() && tele.iter().all(|t| t["mode"] == "live"),
        "{:?}",
        each(&tele, "mode")
    );
}

#[test]
fn smoke_11b_passthrough_stream_cut() {
    let Some(s) = smoke("11b-passthrough-stream-cut") else {
        return;
    };
    let run = s.exec_write("Append one line.");
    run.assert_success();
    assert_eq!(
        s.ws("side-effect.log"),
        "once\n",
        "the command ran exactly once"
    );
    assert_eq!(
        run.stdout.trim(),
        "Appended one line, and this answer is long enough to be cut in the middle."
    );
    assert_eq!(s.bodies().len(), 4);
    assert!(
        !run.stderr.contains("Reconnecting..."),
        "Codex reconnected: the bridge should have retried invisibly"
    );
    assert!(
        run.stdout.matches("Let me append the line now").count() <= 1,
        "the shown text was repeated"
    );
    let tele = s.tele();
    let outcomes: Vec<&Value> = tele.iter().map(|t| &t["outcome"]["status"]).collect();
    assert_eq!(
        outcomes,
        [&json!("completed"), &json!("completed")],
        "two exchanges, each retried inside the bridge"
    );
}

/// 12a/12b: the chat requests where the backend first refused a request for its size and
/// where Codex first asked for a compaction.
fn refusal_and_compaction(s: &Smoke, run: &Run) -> (Option<usize>, Option<usize>) {
    assert!(
        !run.stderr.contains("Model metadata for"),
        "upstream's fallback-metadata warning: {}",
        tail(&run.stderr, 300)
    );
    let chat = s.chat();
    let refusal = chat
        .iter()
        .position(|r| matches!(r.served_by, codex_litellm_mock_llm::ServedBy::ContextLimit));
    let compaction = chat
        .iter()
        .position(|r| r.body.to_string().contains("CONTEXT CHECKPOINT COMPACTION"));
    (refusal, compaction)
}

#[test]
fn smoke_12a_metadata_auto_compaction() {
    let Some(s) = smoke("12a-metadata-auto-compaction") else {
        return;
    };
    let run =
        s.exec(&["Run the numbered commands one after the other, then say you are finished."]);
    let (refusal, compaction) = refusal_and_compaction(&s, &run);
    let paths: Vec<String> = s.mock.requests().into_iter().map(|r| r.path).collect();
    assert!(
        paths.iter().any(|p| p == "/v1/models"),
        "GET /v1/models was asked: {paths:?}"
    );
    assert!(
        paths.iter().any(|p| p.ends_with("/model/info")),
        "GET /model/info was asked: {paths:?}"
    );
    run.assert_success();
    assert_eq!(
        run.stdout.trim(),
        "Finished after compaction.",
        "the answer served after the summary"
    );
    let compaction = compaction.expect("Codex compacted");
    assert!(
        refusal.is_none_or(|r| r > compaction),
        "the backend refused #{refusal:?} before Codex compacted (#{compaction})"
    );
    let windows: Vec<Value> = rollout(&s.dirs.home)
        .iter()
        .filter(|r| r["payload"]["type"] == "token_count" && r["payload"]["info"].is_object())
        .map(|r| r["payload"]["info"]["model_context_window"].clone())
        .collect();
    assert!(
        !windows.is_empty()
            && windows
                .iter()
                .all(|w| w.as_u64().is_some_and(|w| w <= 16384)),
        "the session's context window is {windows:?}, wanted the backend's 16K"
    );
}

#[test]
fn smoke_12b_metadata_missing_context_error() {
    let Some(s) = smoke("12b-metadata-missing-context-error") else {
        return;
    };
    let run =
        s.exec(&["Run the numbered commands one after the other, then say you are finished."]);
    let (refusal, compaction) = refusal_and_compaction(&s, &run);
    assert!(
        run.failed_visibly(),
        "exit status {} and no ERROR line: the run was meant to hit the context limit",
        run.code
    );
    let refusal = refusal.expect("the backend refused a request (the conversation outgrew 64 KB)");
    assert!(
        compaction.is_none_or(|c| c > refusal),
        "Codex compacted (#{compaction:?}) before the refusal (#{refusal}) without metadata"
    );
    assert!(
        run.stderr.to_lowercase().contains("context"),
        "the context-length error is reported"
    );
    assert_eq!(
        run.stderr
            .matches("does not report a context window")
            .count(),
        1,
        "the default-window notice, once"
    );
}

#[test]
fn smoke_13a_content_array() {
    let Some(s) = smoke("13a-content-array") else {
        return;
    };
    let run = s.exec(&["Say hello"]);
    run.assert_success();
    assert_eq!(
        run.stdout.trim(),
        "Hello from content parts.",
        "the text parts joined"
    );
    assert!(
        run.stderr
            .contains("Parts-thinking: the user wants a greeting."),
        "the thinking part shown as reasoning"
    );
    assert!(
        !run.stdout.contains("Parts-thinking"),
        "the thinking part leaked into the answer"
    );
    assert_eq!(s.bodies().len(), 1);
    assert_eq!(
        s.tele()
            .iter()
            .map(|t| &t["outcome"]["status"])
            .collect::<Vec<_>>(),
        [&json!("completed")]
    );
}

#[test]
fn smoke_13b_object_reasoning() {
    let Some(s) = smoke("13b-object-reasoning") else {
        return;
    };
    let run = s.exec_write("Think, look, answer.");
    run.assert_success();
    let r = "Object-reasoning: list the workspace first.";
    assert_eq!(run.stdout.trim(), "Listed with object reasoning.");
    assert!(run.stderr.contains(r), "the object reasoning is shown");
    assert!(s.dirs.ws.join("object.txt").is_file(), "the command ran");
    assert_eq!(s.bodies().len(), 2);
    assert_eq!(
        assistants(&s.messages(1))
            .iter()
            .map(|m| &m["reasoning_content"])
            .collect::<Vec<_>>(),
        [&json!(r)]
    );
}

#[test]
fn smoke_13c_multi_choice() {
    let Some(s) = smoke("13c-multi-choice") else {
        return;
    };
    let run = s.exec_write("Run it.");
    run.assert_success();
    assert_eq!(run.stdout.trim(), "Ran it once.");
    assert_eq!(s.ws("choices.txt"), "once\n", "the call runs exactly once");
    assert_eq!(s.bodies().len(), 2);
    let asst = assistants(&s.messages(1));
    assert_eq!(asst.len(), 1);
    assert_eq!(asst[0]["content"], "Running it now.");
    assert_eq!(call_ids(&asst[0]), ["call_smoke_choice"]);
}

/// Each tests/smoke/*.json has its test above (a script nobody runs proves nothing).
#[test]
fn every_smoke_script_has_a_test() {
    let source = include_str!("smoke.rs");
    for entry in std::fs::read_dir(repo_root().join("tests/smoke"))
        .unwrap()
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(stem) = name.strip_suffix(".json").filter(|s| *s != "catalog") {
            let test = format!("fn smoke_{}()", stem.replace('-', "_"));
            assert!(
                source.contains(&test),
                "tests/smoke/{name} has no `{test}` in tests/e2e/tests/smoke.rs"
            );
        }
    }
}
