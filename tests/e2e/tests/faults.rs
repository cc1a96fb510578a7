//! The fault matrix (docs/RELIABILITY.md): per fault kind, N bounded turns of `codex exec`
//! (one tool call each) against the mock misbehaving on purpose, for each client:
//!   litellm-direct      codex-litellm -> mock (chat)
//!   litellm-via-proxy   codex-litellm -> LiteLLM /v1/chat/completions -> mock
//!   stock-via-proxy     stock Codex (CODEX_STOCK_BIN) -> LiteLLM /v1/responses -> mock
//! (the via-proxy clients with CODEX_LITELLM_E2E_VIA_LITELLM=1). Each test prints its rows
//! of the table and fails when a must-be-zero column is not zero: hung, panicked, tool run
//! twice, half arguments, key leaked, invalid rollout. CODEX_LITELLM_E2E_TURNS (default 3).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use codex_litellm_e2e::*;
use pretty_assertions::assert_eq;
use serde_json::Value;
use serde_json::json;
use std::path::Path;

/// The bridge's answer cap in the matrix; the oversized answer is twice that.
const CAP: usize = 1 << 20;
const IDLE_SECS: u64 = 10;

/// splitmix64 seeded from the kind (and seed 11): fixed cut offsets and tokens per kind.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let z = (self.0 ^ (self.0 >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        let z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

fn error(message: &str) -> Value {
    json!({"error": {"message": message, "type": "fault_matrix", "code": null}})
}

/// `base` with the keys of `extra` added.
fn with(mut base: Value, extra: Value) -> Value {
    base.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    base
}

/// The mock's entries for turn k (the fault once, the tool call, the answer) and the token
/// the turn's command appends to calls.log.
fn turn(kind: &str, k: usize, rng: &mut Rng) -> (String, Vec<Value>) {
    let (marker, call) = (format!("FM-TURN-{k}."), format!("call_fm_{k}"));
    let token = format!("fm-{k}-{:016x}", rng.next());
    let cmd = format!("echo {token} >> calls.log");
    let first = json!({"body_contains": [marker], "body_not_contains": [call]});
    let calls = json!([{"id": call, "name": "exec_command", "arguments": {"cmd": cmd}}]);
    let mut tool = json!({"match": first, "delta_chars": 4, "tool_calls": calls});
    let done = format!("Turn {k} done.");
    let answer = json!({"match": {"body_contains": [call]}, "text": done});
    let delta = json!({"role": "assistant", "content": "par"});
    let chunk = json!({"id": "x", "object": "chat.completion.chunk", "created": 1,
        "model": "mock-model", "choices": [{"index": 0, "delta": delta}]});
    let overloaded =
        json!({"error": {"message": "upstream overloaded (fault matrix)", "code": "503"}});
    let rate_limited = error("rate limited (fault matrix)");
    let fault = match kind {
        "429-retry-after" => {
            json!({"status": 429, "json": rate_limited, "headers": {"retry-after": "1"}})
        }
        "429-no-retry-after" => json!({"status": 429, "json": rate_limited}),
        "500" | "502" | "503" => {
            let message = format!("server error {kind} (fault matrix)");
            json!({"status": kind.parse::<u16>().unwrap(), "json": error(&message)})
        }
        "reset-random" => with(tool.clone(), json!({"cut_after_bytes": rng.range(20, 900)})),
        "cut-close" => {
            let cut = json!({"cut_after_bytes": rng.range(20, 900), "framing": "close"});
            with(tool.clone(), cut)
        }
        "stall" => {
            let stall = json!({"stall_after_events": rng.range(1, 8), "hold_open_max_ms": 60_000});
            with(tool.clone(), stall)
        }
        "error-in-stream" => json!({"sse": [chunk, overloaded]}),
        "malformed-chunk" => json!({"sse": [chunk, "{not json"]}),
        // `data: {"choices":[{"index":0,"delta":{"content":"\xc3\x28"}}]}`: invalid UTF-8.
        "invalid-utf8" => json!({
            "raw_bytes_b64": "ZGF0YTogeyJjaG9pY2VzIjpbeyJpbmRleCI6MCwiZGVsdGEiOnsiY29udGVudCI6IsMoIn19XX0KCg==",
            "headers": {"content-type": "text/event-stream"}}),
        "oversized" => json!({"text": "x".repeat(2 * CAP), "delta_chars": 65536}),
        "slow-trickle" => {
            tool = with(tool, json!({"delta_chars": 2, "chunk_delay_ms": 250}));
            Value::Null
        }
        _ => Value::Null, // refused: nothing listens
    };
    let mut entries = vec![tool, answer];
    if !fault.is_null() {
        entries.insert(0, with(fault, json!({"match": first})));
    }
    (token, entries)
}

/// One turn's outcome and its tool runs. A call that reached Codex with half its arguments
/// either ran (a line that is not the whole token) or was refused by Codex's argument
/// parser; both count as half arguments.
struct Turn {
    outcome: &'static str,
    tool_runs: usize,
    half_args: usize,
    key_leaked: bool,
}

fn judge(run: &Run, k: usize, token: &str, ws: &Path, key: &str) -> Turn {
    let log = read(ws.join("calls.log"));
    let tool_runs = log.lines().filter(|l| *l == token).count();
    let prefix = format!("fm-{k}-");
    let half_ran = log
        .lines()
        .filter(|l| l.starts_with(&prefix) && *l != token)
        .count();
    let half_refused = run
        .stderr
        .matches("failed to parse function arguments")
        .count();
    let answered = run.stdout.trim();
    let said_error = run.stderr.to_lowercase().contains("error");
    let done = answered.ends_with(&format!("Turn {k} done."));
    let outcome = if run.timed_out {
        "hung"
    } else if run.panicked() {
        "panicked"
    } else if run.code == 0 && done && tool_runs == 1 {
        "completed"
    } else if run.code != 0 || (answered.is_empty() && run.stderr.contains("ERROR:")) {
        if said_error {
            "failed"
        } else {
            "failed-silently"
        }
    } else {
        "wrong" // ended "well" with a lost tool call, or an empty or cut answer
    };
    let key_leaked = run.stdout.contains(key) || run.stderr.contains(key);
    let half_args = half_ran + half_refused;
    Turn {
        outcome,
        tool_runs,
        half_args,
        key_leaked,
    }
}

/// Runs one fault kind for every client and prints its rows; panics on a must-be-zero.
fn matrix(kind: &str) {
    let litellm = or_skip!(litellm_bin());
    let turns = env_num("CODEX_LITELLM_E2E_TURNS", 3) as usize;
    let stock = std::env::var_os("CODEX_STOCK_BIN");
    let proxy = via_litellm().then(|| shared_proxy("mock-model"));
    let mut clients = vec!["litellm-direct"];
    if proxy.is_some() {
        clients.push("litellm-via-proxy");
        clients.extend(stock.is_some().then_some("stock-via-proxy"));
    }
    let port = proxy
        .as_ref()
        .map_or_else(free_port, |(p, _)| p.backend_port);
    static HEADER: std::sync::Once = std::sync::Once::new();
    HEADER.call_once(|| {
        say(
            "| fault | client | completed | failed (clear error) | wrong answer | hung | \
             panicked | tool twice | half arguments | rollout JSONL |",
        );
        say(&format!("|{}", " --- |".repeat(10)));
    });
    let mut bad = Vec::new();
    for client in clients {
        let dirs = Dirs::new();
        let (url, key) = match (&proxy, client.ends_with("via-proxy")) {
            (Some((p, _)), true) => (p.url.clone(), p.key.clone()),
            _ => (format!("http://127.0.0.1:{port}/v1"), SECRET.to_string()),
        };
        let idle_ms = IDLE_SECS * 1000;
        let (bin, file, config) = match client {
            "stock-via-proxy" => (
                stock.clone().unwrap().into(),
                "config.toml",
                format!(
                    "model = \"mock-model\"\nmodel_provider = \"harness\"\n\n\
                 [model_providers.harness]\nname = \"harness\"\nbase_url = \"{url}\"\n\
                 wire_api = \"responses\"\nenv_key = \"HARNESS_API_KEY\"\n\
                 stream_idle_timeout_ms = {idle_ms}\n"
                ),
            ),
            _ => (
                litellm.clone(),
                "litellm.toml",
                format!(
                    "[telemetry]\nlevel = \"summary\"\n\n[providers.litellm.bridge]\n\
                 idle_timeout_secs = {IDLE_SECS}\nmax_response_bytes = {CAP}\n"
                ),
            ),
        };
        std::fs::write(dirs.home.join(file), config).unwrap();
        // The same seeded offsets and tokens for every client of a kind.
        let seed = kind.bytes().fold(11_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
        let mut rng = Rng(seed);
        let (tokens, entries): (Vec<String>, Vec<Vec<Value>>) =
            (1..=turns).map(|k| turn(kind, k, &mut rng)).unzip();
        let fallback =
            json!({"status": 400, "json": error("fault matrix: no scripted response matches")});
        let scenario = json!({"comment": format!("fault matrix: {kind}"), "responses_api": true,
            "responses": entries.concat(), "fallback": fallback});
        let mock = (kind != "refused").then(|| Mock::from_json(scenario, port));
        let mut results = Vec::new();
        for (k, token) in (1..).zip(&tokens) {
            let prompt = format!("FM-TURN-{k}. Run the command, then say you are done.");
            let cmd = dirs.cmd(&bin).litellm(&url, "mock-model");
            let cmd = cmd
                .env("LITELLM_API_KEY", &key)
                .env("HARNESS_API_KEY", &key);
            let args = [
                "exec",
                "--skip-git-repo-check",
                "--dangerously-bypass-approvals-and-sandbox",
            ];
            let run = cmd.args(args).args([prompt]).run();
            results.push(judge(&run, k, token, &dirs.ws, &key));
        }
        drop(mock);
        let sessions = dirs.home.join("sessions");
        let files = files_under(&sessions).len();
        let invalid: Vec<String> = (jsonl_under(&sessions).into_iter())
            .filter_map(|r| match r {
                Ok(v) if v.is_object() => None,
                Ok(v) => Some(format!("not an object: {v}")),
                Err(e) => Some(e),
            })
            .collect();
        let count = |o: &str| results.iter().filter(|t| t.outcome == o).count();
        let silent = count("failed-silently");
        let silent = if silent > 0 {
            format!(" (+{silent} without a message)")
        } else {
            String::new()
        };
        let rollout = match (files, invalid.len()) {
            (0, _) => "none written".to_string(),
            (_, 0) => "valid".to_string(),
            (_, n) => format!("INVALID ({n})"),
        };
        let twice = results.iter().filter(|t| t.tool_runs > 1).count();
        let half: usize = results.iter().map(|t| t.half_args).sum();
        let (completed, failed, wrong) = (count("completed"), count("failed"), count("wrong"));
        let (hung, panicked) = (count("hung"), count("panicked"));
        say(&format!(
            "| {kind} | {client} | {completed}/{turns} | {failed}{silent} | {wrong} | {hung} | \
             {panicked} | {twice} | {half} | {rollout} |"
        ));
        for (k, t) in (1..).zip(&results) {
            let why = [
                (t.outcome == "hung", "hung"),
                (t.outcome == "panicked", "panicked"),
                (t.tool_runs > 1, "tool ran twice"),
                (t.half_args > 0, "half arguments"),
                (t.key_leaked, "key leaked"),
            ];
            let why: Vec<&str> = why.iter().filter(|(c, _)| *c).map(|(_, w)| *w).collect();
            if !why.is_empty() {
                bad.push(format!("{client} {kind} turn {k}: {}", why.join(", ")));
            }
        }
        if !invalid.is_empty() {
            bad.push(format!(
                "{client} {kind}: invalid rollout lines {invalid:?}"
            ));
        }
    }
    assert_eq!(bad, Vec::<String>::new(), "must-be-zero cells");
}

/// One test per fault kind.
macro_rules! faults {
    ($($name:ident: $kind:literal,)*) => {
        $(#[test]
        fn $name() {
            matrix($kind);
        })*
    };
}

faults! {
    fault_429_retry_after: "429-retry-after",
    fault_429_no_retry_after: "429-no-retry-after",
    fault_500: "500",
    fault_502: "502",
    fault_503: "503",
    fault_refused: "refused",
    fault_reset_random: "reset-random",
    fault_cut_close: "cut-close",
    fault_stall: "stall",
    fault_error_in_stream: "error-in-stream",
    fault_malformed_chunk: "malformed-chunk",
    fault_invalid_utf8: "invalid-utf8",
    fault_oversized: "oversized",
    fault_slow_trickle: "slow-trickle",
}

/// The judge: a tool run twice and half arguments are counted (they fail the matrix).
#[test]
fn judge_counts_tool_twice_and_half_arguments() {
    let dirs = Dirs::new();
    std::fs::write(dirs.ws.join("calls.log"), "fm-1-abc\nfm-1-abc\nfm-1-a\n").unwrap();
    let (stdout, stderr, lines) = ("Turn 1 done.\n".into(), String::new(), Vec::new());
    let (code, secs, timed_out, max_rss_kb) = (0, 1.0, false, 0);
    let run = Run {
        code,
        stdout,
        stderr,
        lines,
        secs,
        timed_out,
        max_rss_kb,
    };
    let t = judge(&run, 1, "fm-1-abc", &dirs.ws, SECRET);
    let got = (t.outcome, t.tool_runs, t.half_args, t.key_leaked);
    assert_eq!(got, ("wrong", 2, 1, false));
}
