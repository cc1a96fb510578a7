//! The fault matrix: per fault kind, N bounded turns of `codex exec` (one tool call each)
//! against the mock misbehaving on purpose, for each client:
//!   litellm-direct      codex-litellm -> mock (chat)
//!   litellm-via-proxy   codex-litellm -> LiteLLM /v1/chat/completions -> mock
//!   stock-via-proxy     stock Codex (CODEX_STOCK_BIN) -> LiteLLM /v1/responses -> mock
//! (the via-proxy clients with CODEX_LITELLM_E2E_VIA_LITELLM=1). Each test prints its rows
//! of the table (completed, failed with a clear error, wrong answer, hung, panicked, tool
//! run twice, half arguments, rollout JSONL) and fails when a must-be-zero column is not
//! zero: hung, panicked, tool twice, half arguments, key leaked, invalid rollout.
//! CODEX_LITELLM_E2E_TURNS (default 3) turns per cell, seed 11. See docs/RELIABILITY.md.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use codex_litellm_e2e::*;
use pretty_assertions::assert_eq;
use serde_json::Value;
use serde_json::json;
use std::path::Path;
use std::path::PathBuf;

/// The bridge's answer cap in the matrix; the oversized answer is twice that.
const CAP_BYTES: usize = 1 << 20;
const IDLE_TIMEOUT_SECS: u64 = 10;
const SEED: u64 = 11;

/// splitmix64 from the seed and the kind: fixed cut offsets and tokens per kind.
struct Rng(u64);

impl Rng {
    fn new(kind: &str) -> Rng {
        let mut h = 0xcbf2_9ce4_8422_2325_u64 ^ SEED;
        for b in kind.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        Rng(h)
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

fn error_body(message: &str) -> Value {
    json!({"error": {"message": message, "type": "fault_matrix", "code": null}})
}

/// The mock's entries for turn k (the fault once, the tool call, the answer) and the token
/// the turn's command appends to calls.log.
fn turn(kind: &str, k: usize, rng: &mut Rng) -> (String, Vec<Value>) {
    let (marker, call) = (format!("FM-TURN-{k}."), format!("call_fm_{k}"));
    let token = format!("fm-{k}-{:016x}", rng.next());
    let first = json!({"body_contains": [marker], "body_not_contains": [call]});
    let mut tool = json!({"match": first, "delta_chars": 4, "tool_calls": [
        {"id": call, "name": "exec_command", "arguments": {"cmd": format!("echo {token} >> calls.log")}}]});
    let answer = json!({"match": {"body_contains": [call]}, "text": format!("Turn {k} done.")});
    let chunk = json!({"id": "x", "object": "chat.completion.chunk", "created": 1, "model": "mock-model",
                       "choices": [{"index": 0, "delta": {"role": "assistant", "content": "par"}}]});
    let with = |mut base: Value, extra: Value| {
        base.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        base
    };
    let fault = match kind {
        "429-retry-after" => Some(
            json!({"status": 429, "json": error_body("rate limited (fault matrix)"),
                                         "headers": {"retry-after": "1"}}),
        ),
        "429-no-retry-after" => {
            Some(json!({"status": 429, "json": error_body("rate limited (fault matrix)")}))
        }
        "500" | "502" | "503" => Some(json!({"status": kind.parse::<u16>().unwrap(),
                                            "json": error_body(&format!("server error {kind} (fault matrix)"))})),
        "reset-random" => Some(with(
            tool.clone(),
            json!({"cut_after_bytes": rng.range(20, 900)}),
        )),
        "cut-close" => Some(with(
            tool.clone(),
            json!({"cut_after_bytes": rng.range(20, 900), "framing": "close"}),
        )),
        "stall" => Some(with(
            tool.clone(),
            json!({"stall_after_events": rng.range(1, 8), "hold_open_max_ms": 60_000}),
        )),
        "error-in-stream" => Some(
            json!({"sse": [chunk, {"error": {"message": "upstream overloaded (fault matrix)", "code": "503"}}]}),
        ),
        "malformed-chunk" => Some(json!({"sse": [chunk, "{not json"]})),
        // `data: {"choices":[{"index":0,"delta":{"content":"\xc3\x28"}}]}` (invalid UTF-8)
        "invalid-utf8" => Some(json!({
            "raw_bytes_b64": "ZGF0YTogeyJjaG9pY2VzIjpbeyJpbmRleCI6MCwiZGVsdGEiOnsiY29udGVudCI6IsMoIn19XX0KCg==",
            "headers": {"content-type": "text/event-stream"}})),
        "oversized" => Some(json!({"text": "x".repeat(2 * CAP_BYTES), "delta_chars": 65536})),
        "slow-trickle" => {
            tool = with(tool, json!({"delta_chars": 2, "chunk_delay_ms": 250}));
            None
        }
        _ => None,
    };
    let entries = match fault {
        Some(f) => vec![with(f, json!({"match": first})), tool, answer],
        None => vec![tool, answer],
    };
    (token, entries)
}

#[derive(Clone, Copy, PartialEq)]
enum Client {
    LitellmDirect,
    LitellmViaProxy,
    StockViaProxy,
}

impl Client {
    fn name(self) -> &'static str {
        match self {
            Client::LitellmDirect => "litellm-direct",
            Client::LitellmViaProxy => "litellm-via-proxy",
            Client::StockViaProxy => "stock-via-proxy",
        }
    }
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
    let half_ran = log
        .lines()
        .filter(|l| l.starts_with(&format!("fm-{k}-")) && *l != token)
        .count();
    let half_refused = run
        .stderr
        .matches("failed to parse function arguments")
        .count();
    let answered = run.stdout.trim();
    let error_line = run
        .stderr
        .lines()
        .any(|l| l.trim().starts_with("ERROR:") || l.to_lowercase().contains("error"));
    let outcome = if run.timed_out {
        "hung"
    } else if run.panicked() {
        "panicked"
    } else if run.code == 0 && answered.ends_with(&format!("Turn {k} done.")) && tool_runs == 1 {
        "completed"
    } else if run.code != 0 || (answered.is_empty() && run.stderr.contains("ERROR:")) {
        if error_line {
            "failed"
        } else {
            "failed-silently"
        }
    } else {
        "wrong" // ended "well" with a lost tool call, or an empty or cut answer
    };
    let key_leaked = run.stdout.contains(key) || run.stderr.contains(key);
    Turn {
        outcome,
        tool_runs,
        half_args: half_ran + half_refused,
        key_leaked,
    }
}

/// Lines of the rollout files under `home/sessions` that are not JSON objects.
fn rollout_problems(home: &Path) -> (usize, Vec<String>) {
    let (mut files, mut problems) = (0, Vec::new());
    let mut stack = vec![home.join("sessions")];
    while let Some(dir) = stack.pop() {
        for path in std::fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
        {
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "jsonl") {
                files += 1;
                let bytes = std::fs::read(&path).unwrap_or_default();
                for (n, line) in bytes.split(|b| *b == b'\n').enumerate() {
                    let ok = line.trim_ascii().is_empty()
                        || serde_json::from_slice::<Value>(line).is_ok_and(|v| v.is_object());
                    if !ok {
                        problems.push(format!("{}:{}", path.display(), n + 1));
                    }
                }
            }
        }
    }
    (files, problems)
}

/// Runs one fault kind for every client and prints its rows; panics on a must-be-zero.
fn matrix(kind: &str) {
    let Some(litellm) = litellm_bin() else { return };
    let turns: usize = std::env::var("CODEX_LITELLM_E2E_TURNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let mut clients = vec![Client::LitellmDirect];
    let stock = std::env::var_os("CODEX_STOCK_BIN").map(PathBuf::from);
    let proxy = via_litellm().then(|| shared_proxy("mock-model"));
    if proxy.is_some() {
        clients.push(Client::LitellmViaProxy);
        if stock.is_some() {
            clients.push(Client::StockViaProxy);
        }
    }
    let port = proxy
        .as_ref()
        .map_or_else(free_port, |(p, _)| p.backend_port);
    static HEADER: std::sync::Once = std::sync::Once::new();
    HEADER.call_once(|| {
        say("| fault | client | completed | failed (clear error) | wrong answer | hung | panicked | tool twice | half arguments | rollout JSONL |");
        say(&format!("|{}", " --- |".repeat(10)));
    });
    let mut bad = Vec::new();
    for client in clients {
        let dirs = Dirs::new();
        let (base_url, key) = match (&proxy, client) {
            (Some((p, _)), Client::LitellmViaProxy | Client::StockViaProxy) => {
                (p.url.clone(), p.key.clone())
            }
            _ => (format!("http://127.0.0.1:{port}/v1"), SECRET.to_string()),
        };
        let (bin, config, file) = match client {
            Client::StockViaProxy => (
                stock.clone().unwrap(),
                format!(
                    "model = \"mock-model\"\nmodel_provider = \"harness\"\n\n[model_providers.harness]\nname = \"harness\"\n\
                     base_url = \"{base_url}\"\nwire_api = \"responses\"\nenv_key = \"HARNESS_API_KEY\"\n\
                     stream_idle_timeout_ms = {}\n",
                    IDLE_TIMEOUT_SECS * 1000
                ),
                "config.toml",
            ),
            _ => (
                litellm.clone(),
                format!(
                    "[telemetry]\nlevel = \"summary\"\n\n[providers.litellm.bridge]\n\
                     idle_timeout_secs = {IDLE_TIMEOUT_SECS}\nmax_response_bytes = {CAP_BYTES}\n"
                ),
                "litellm.toml",
            ),
        };
        std::fs::write(dirs.home.join(file), config).unwrap();
        let mut rng = Rng::new(kind);
        let (mut tokens, mut entries) = (Vec::new(), Vec::new());
        for k in 1..=turns {
            let (token, more) = turn(kind, k, &mut rng);
            tokens.push(token);
            entries.extend(more);
        }
        let scenario = json!({"comment": format!("fault matrix: {kind}"), "responses": entries, "responses_api": true,
                              "fallback": {"status": 400, "json": error_body("fault matrix: no scripted response matches")}});
        let mock = (kind != "refused").then(|| Mock::from_json(scenario, port));
        let mut results = Vec::new();
        for (k, token) in (1..=turns).zip(&tokens) {
            let run = dirs
                .cmd(&bin)
                .litellm(&base_url, "mock-model")
                .env("LITELLM_API_KEY", &key)
                .env("HARNESS_API_KEY", &key)
                .args([
                    "exec",
                    "--skip-git-repo-check",
                    "--dangerously-bypass-approvals-and-sandbox",
                ])
                .arg(format!(
                    "FM-TURN-{k}. Run the command, then say you are done."
                ))
                .timeout_secs(120)
                .run();
            results.push(judge(&run, k, token, &dirs.ws, &key));
        }
        drop(mock);
        let (files, problems) = rollout_problems(&dirs.home);
        let count = |o: &str| results.iter().filter(|t| t.outcome == o).count();
        let silent = count("failed-silently");
        let rollout = match (files, problems.len()) {
            (0, _) => "none written".to_string(),
            (_, 0) => "valid".to_string(),
            (_, n) => format!("INVALID ({n})"),
        };
        let twice = results.iter().filter(|t| t.tool_runs > 1).count();
        let half: usize = results.iter().map(|t| t.half_args).sum();
        say(&format!(
            "| {kind} | {} | {}/{turns} | {}{} | {} | {} | {} | {twice} | {half} | {rollout} |",
            client.name(),
            count("completed"),
            count("failed"),
            if silent > 0 {
                format!(" (+{silent} without a message)")
            } else {
                String::new()
            },
            count("wrong"),
            count("hung"),
            count("panicked"),
        ));
        let name = client.name();
        for (k, t) in (1..).zip(&results) {
            let why: Vec<&str> = [
                (t.outcome == "hung", "hung"),
                (t.outcome == "panicked", "panicked"),
                (t.tool_runs > 1, "tool ran twice"),
                (t.half_args > 0, "half arguments"),
                (t.key_leaked, "key leaked"),
            ]
            .into_iter()
            .filter_map(|(cond, why)| cond.then_some(why))
            .collect();
            if !why.is_empty() {
                bad.push(format!("{name} {kind} turn {k}: {}", why.join(", ")));
            }
        }
        if !problems.is_empty() {
            bad.push(format!(
                "{name} {kind}: invalid rollout lines {:?}",
                &problems[..problems.len().min(5)]
            ));
        }
    }
    assert_eq!(bad, Vec::<String>::new(), "must-be-zero cells");
}

#[test]
fn fault_429_retry_after() {
    matrix("429-retry-after");
}
#[test]
fn fault_429_no_retry_after() {
    matrix("429-no-retry-after");
}
#[test]
fn fault_500() {
    matrix("500");
}
#[test]
fn fault_502() {
    matrix("502");
}
#[test]
fn fault_503() {
    matrix("503");
}
#[test]
fn fault_refused() {
    matrix("refused");
}
#[test]
fn fault_reset_random() {
    matrix("reset-random");
}
#[test]
fn fault_cut_close() {
    matrix("cut-close");
}
#[test]
fn fault_stall() {
    matrix("stall");
}
#[test]
fn fault_error_in_stream() {
    matrix("error-in-stream");
}
#[test]
fn fault_malformed_chunk() {
    matrix("malformed-chunk");
}
#[test]
fn fault_invalid_utf8() {
    matrix("invalid-utf8");
}
#[test]
fn fault_oversized() {
    matrix("oversized");
}
#[test]
fn fault_slow_trickle() {
    matrix("slow-trickle");
}

/// The judge: a tool run twice and half arguments are counted (they fail the matrix).
#[test]
fn judge_counts_tool_twice_and_half_arguments() {
    let dirs = Dirs::new();
    std::fs::write(dirs.ws.join("calls.log"), "fm-1-abc\nfm-1-abc\nfm-1-a\n").unwrap();
    let run = Run {
        code: 0,
        stdout: "Turn 1 done.\n".into(),
        stderr: String::new(),
        lines: Vec::new(),
        secs: 1.0,
        timed_out: false,
        max_rss_kb: 0,
    };
    let t = judge(&run, 1, "fm-1-abc", &dirs.ws, SECRET);
    assert_eq!(
        (t.outcome, t.tool_runs, t.half_args, t.key_leaked),
        ("wrong", 2, 1, false)
    );
}
