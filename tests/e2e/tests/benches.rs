//! Benchmarks, side by side in one run on the same mock content; they print tables of
//! ratios and assert only that each run did its work (never a time). Ignored by default:
//!
//! ```sh
//! CODEX_LITELLM_BIN=dist/codex-litellm CODEX_STOCK_BIN=.../codex \
//!   cargo test -p codex-litellm-e2e --test benches -- --ignored --test-threads=1
//! ```
//!
//! Clients: stock-direct (stock Codex -> the mock's Responses API: the floor),
//! litellm-direct (codex-litellm -> the mock's chat API), and with
//! CODEX_LITELLM_E2E_VIA_LITELLM=1 stock-via-proxy and litellm-via-proxy through LiteLLM.
//! CODEX_LITELLM_E2E_BENCH_TURNS (default 10; ttft: 5 runs) measured turns after one
//! warm-up, CODEX_LITELLM_E2E_BENCH_MB (default 50) for the memory cases.
//! See docs/PERFORMANCE.md.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use codex_litellm_e2e::*;
use serde_json::Value;
use serde_json::json;
use std::path::Path;
use std::path::PathBuf;

const MB: usize = 1 << 20;

fn env_num(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A client: its binary, CODEX_HOME and environment, on one [`Dirs`] of its own.
struct Client {
    name: &'static str,
    bin: PathBuf,
    dirs: Dirs,
    base_url: String,
    key: String,
}

impl Client {
    /// `bridge`: extra `[providers.litellm.bridge]` lines (codex-litellm only).
    fn new(name: &'static str, port: u16, proxy: Option<&Proxy>, bridge: &str) -> Option<Client> {
        let stock = name.starts_with("stock");
        let bin = if stock {
            bin("CODEX_STOCK_BIN", "a stock codex binary: the floor")?
        } else {
            litellm_bin()?
        };
        let (base_url, key) = match (name.ends_with("via-proxy"), proxy) {
            (true, Some(p)) => (p.url.clone(), p.key.clone()),
            _ => (format!("http://127.0.0.1:{port}/v1"), SECRET.to_string()),
        };
        let dirs = Dirs::new();
        let (file, config) = if stock {
            let c = format!(
                "model = \"mock-model\"\nmodel_provider = \"harness\"\n\n[model_providers.harness]\nname = \"harness\"\n\
                 base_url = \"{base_url}\"\nwire_api = \"responses\"\nenv_key = \"HARNESS_API_KEY\"\n"
            );
            ("config.toml", c)
        } else {
            (
                "litellm.toml",
                format!(
                    "[telemetry]\nlevel = \"summary\"\n\n[providers.litellm.bridge]\n{bridge}\n"
                ),
            )
        };
        std::fs::write(dirs.home.join(file), config).unwrap();
        Some(Client {
            name,
            bin,
            dirs,
            base_url,
            key,
        })
    }

    fn exec(&self, args: &[&str]) -> Run {
        self.dirs
            .cmd(&self.bin)
            .litellm(&self.base_url, "mock-model")
            .env("LITELLM_API_KEY", &self.key)
            .env("HARNESS_API_KEY", &self.key)
            .args([
                "exec",
                "--skip-git-repo-check",
                "--dangerously-bypass-approvals-and-sandbox",
            ])
            .args(args)
            .timeout_secs(300)
            .run()
    }
}

/// The clients the environment allows, all on one mock port (the proxy's backend port).
fn clients(bridge: &str) -> Option<(Vec<Client>, u16, Option<SharedProxy>)> {
    let proxy = via_litellm().then(|| shared_proxy("mock-model"));
    let port = proxy
        .as_ref()
        .map_or_else(free_port, |(p, _)| p.backend_port);
    let mut names = vec!["stock-direct", "litellm-direct"];
    if proxy.is_some() {
        names.extend(["stock-via-proxy", "litellm-via-proxy"]);
    }
    let p = proxy.as_ref().map(|(p, _)| *p);
    let clients: Option<Vec<Client>> = names
        .into_iter()
        .map(|n| Client::new(n, port, p, bridge))
        .collect();
    Some((clients?, port, proxy))
}

type SharedProxy = (&'static Proxy, std::sync::MutexGuard<'static, ()>);

fn fallback() -> Value {
    json!({"status": 400, "json": {"error": {"message": "bench: no scripted response matches"}}})
}

/// Per-turn overhead: one `codex exec` turn = one tool call + a 1 KB answer.
#[test]
#[ignore = "benchmark: run with --ignored --test-threads=1"]
fn overhead_per_turn() {
    let Some((clients, port, _proxy)) = clients("") else {
        return;
    };
    let (turns, warmup) = (env_num("CODEX_LITELLM_E2E_BENCH_TURNS", 10), 1);
    let answer = "The command ran. ".repeat(64);
    let mut entries = Vec::new();
    for r in 0..warmup + turns {
        for c in &clients {
            let (marker, call) = (
                format!("BENCH-{}-{r}.", c.name),
                format!("call_bench_{}_{r}", c.name),
            );
            entries.push(json!({"match": {"body_contains": [marker], "body_not_contains": [call]}, "delta_chars": 16,
                                "tool_calls": [{"id": call, "name": "exec_command", "arguments": {"cmd": "true"}}]}));
            entries.push(
                json!({"match": {"body_contains": [call]}, "delta_chars": 16, "text": answer}),
            );
        }
    }
    let _mock = Mock::from_json(
        json!({"responses": entries, "responses_api": true, "fallback": fallback()}),
        port,
    );
    let mut times = vec![Vec::new(); clients.len()];
    // Round-robin, so drift in machine load spreads evenly over the clients.
    for r in 0..warmup + turns {
        for (c, t) in clients.iter().zip(&mut times) {
            let run = c.exec(&[&format!("BENCH-{}-{r}. Run the command.", c.name)]);
            run.assert_success();
            assert_eq!(
                run.stdout.trim(),
                answer.trim(),
                "{} did not complete a benchmark turn",
                c.name
            );
            if r >= warmup {
                t.push(run.secs);
            }
        }
    }
    let floor = median(&times[0]);
    let mut table = format!(
        "Per-turn overhead: one `codex exec` turn = one tool call + a 1 KB answer (2 requests), {turns} turns each \
         (+{warmup} warm-up), clients interleaved\n\n| client | median s/turn | min | max | ratio to floor |\n| --- | --- | --- | --- | --- |\n"
    );
    for (c, t) in clients.iter().zip(&times) {
        let (min, max) = (
            t.iter().copied().fold(f64::INFINITY, f64::min),
            t.iter().copied().fold(0.0, f64::max),
        );
        table += &format!(
            "| {} | {:.3} | {min:.3} | {max:.3} | {:.2}x |\n",
            c.name,
            median(t),
            median(t) / floor
        );
    }
    say(&table);
}

/// Grows the last session's history to about `total` bytes: copies of its first user
/// message holding 1 MB of text each (Codex refuses a single input over 1 MiB), as if
/// earlier turns had sent them.
fn pad_rollout(home: &Path, total: usize) {
    let mut files: Vec<PathBuf> = Vec::new();
    let mut stack = vec![home.join("sessions")];
    while let Some(dir) = stack.pop() {
        for p in std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
        {
            if p.is_dir() {
                stack.push(p)
            } else if p.extension().is_some_and(|e| e == "jsonl") {
                files.push(p)
            }
        }
    }
    files.sort();
    let path = files.last().expect("a session rollout to grow");
    let mut lines: Vec<String> = read(path).lines().map(str::to_string).collect();
    let i = lines
        .iter()
        .position(|l| {
            let r: Value = serde_json::from_str(l).unwrap_or_default();
            r["type"] == "response_item" && r["payload"]["role"] == "user"
        })
        .expect("a user message in the rollout");
    let record: Value = serde_json::from_str(&lines[i]).unwrap();
    let copies = (0..(total / MB).max(1)).map(|n| {
        let mut filler = record.clone();
        filler["payload"]["content"] =
            json!([{"type": "input_text", "text": format!("{n}:{}", "h".repeat(MB - 16))}]);
        filler.to_string()
    });
    lines.splice(i + 1..i + 1, copies);
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

/// Peak RSS of one turn with a big answer, of one resumed over a big history, and for
/// codex-litellm the big answer against a cap of half its size (a clear error).
#[test]
#[ignore = "benchmark: run with --ignored --test-threads=1"]
fn peak_memory() {
    let size = env_num("CODEX_LITELLM_E2E_BENCH_MB", 50) * MB;
    let Some((names, port, _proxy)) = clients("") else {
        return;
    };
    let mut cases: Vec<(&'static str, &str, Option<usize>)> = Vec::new();
    for c in &names {
        cases.push((c.name, "answer", None));
        if !c.name.starts_with("stock") {
            cases.push((c.name, "answer", Some(size / 2)));
        }
        cases.push((c.name, "history", None));
    }
    let proxy = _proxy.as_ref().map(|(p, _)| *p);
    let mut table = "Peak memory of one turn (peak RSS of the codex process, wait4 ru_maxrss)\n\n\
                     | client | case | peak RSS MB | seconds | result |\n| --- | --- | --- | --- | --- |\n"
        .to_string();
    for (name, what, cap) in cases {
        let bridge = cap
            .map(|c| format!("max_response_bytes = {c}"))
            .unwrap_or_default();
        let c = Client::new(name, port, proxy, &bridge).unwrap();
        let entries = match what {
            "answer" => json!([{"delta_chars": MB, "text": "y".repeat(size)}]),
            _ => json!([{"match": {"body_not_contains": ["RESUMED."]}, "text": "First turn."},
                        {"match": {"body_contains": ["RESUMED."]}, "text": "Read it all."}]),
        };
        let mock = Mock::from_json(
            json!({"responses": entries, "responses_api": true, "fallback": fallback()}),
            port,
        );
        let (run, sent) = if what == "history" {
            c.exec(&["Say it."]).assert_success();
            pad_rollout(&c.dirs.home, size);
            let run = c.exec(&["resume", "--last", "RESUMED. Read it all."]);
            (
                run,
                mock.requests()
                    .iter()
                    .map(|r| r.body_len)
                    .max()
                    .unwrap_or(0),
            )
        } else {
            (c.exec(&["Say it."]), 0)
        };
        drop(mock);
        let result = if run.timed_out {
            "HUNG".to_string()
        } else if run.panicked() {
            "PANICKED".to_string()
        } else if run.code == 0 && what == "answer" {
            format!("completed ({} MB answer)", run.stdout.trim().len() / MB)
        } else if run.code == 0 {
            format!(
                "completed (largest request {:.0} MB)",
                sent as f64 / MB as f64
            )
        } else {
            let line = run
                .stderr
                .lines()
                .rfind(|l| l.to_lowercase().contains("error"));
            format!(
                "failed: {}",
                line.map_or(format!("exit {}, no message", run.code), |l| l
                    .trim()
                    .chars()
                    .take(200)
                    .collect())
            )
        };
        let label = format!(
            "{} MB {what}{}",
            size / MB,
            cap.map(|c| format!(", cap {} MB", c / MB))
                .unwrap_or_default()
        );
        table += &format!(
            "| {name} | {label} | {:.0} | {:.1} | {result} |\n",
            run.max_rss_kb as f64 / 1024.0,
            run.secs
        );
    }
    say(&table);
}

/// Time to the first visible delta (the first reasoning or agent-message event of
/// `codex exec --json`) and total time of one answer streamed at the same rate.
#[test]
#[ignore = "benchmark: run with --ignored --test-threads=1"]
fn time_to_first_delta() {
    let (runs, warmup, delta_chars, delay_ms) = (
        env_num("CODEX_LITELLM_E2E_BENCH_TURNS", 5),
        1,
        env_num("CODEX_LITELLM_E2E_DELTA_CHARS", 4),
        env_num("CODEX_LITELLM_E2E_CHUNK_DELAY_MS", 25),
    );
    let port = free_port();
    let variants = [
        ("stock", "stock-direct", ""),
        ("buffered", "litellm-direct", "mode = \"buffered\""),
        ("live", "litellm-direct", "mode = \"live\""),
    ];
    let mut clients = Vec::new();
    for (v, name, bridge) in variants {
        let Some(c) = Client::new(name, port, None, bridge) else {
            return;
        };
        clients.push((v, c));
    }
    let (reasoning, answer) = (
        "I should explain it step by step. ".repeat(4),
        "Streaming matters when a model writes slowly. ".repeat(12),
    );
    let entries: Vec<Value> = (0..warmup + runs)
        .flat_map(|r| variants.map(|(v, _, _)| (r, v)))
        .map(|(r, v)| json!({"match": {"body_contains": [format!("TTFT-{v}-{r}.")]}, "reasoning_content": reasoning,
                             "text": answer, "delta_chars": delta_chars, "chunk_delay_ms": delay_ms}))
        .collect();
    let _mock = Mock::from_json(
        json!({"responses": entries, "responses_api": true, "fallback": fallback()}),
        port,
    );
    let (mut firsts, mut totals) = (vec![Vec::new(); 3], vec![Vec::new(); 3]);
    for r in 0..warmup + runs {
        for (i, (v, c)) in clients.iter().enumerate() {
            let run = c.exec(&["--json", &format!("TTFT-{v}-{r}. Explain.")]);
            run.assert_success();
            let events: Vec<(f64, Value)> = run
                .lines
                .iter()
                .filter_map(|(t, l)| serde_json::from_str(l).ok().map(|e| (*t, e)))
                .collect();
            let visible = |e: &Value| {
                e["item"]["type"] == "reasoning" || e["item"]["type"] == "agent_message"
            };
            let first = events
                .iter()
                .find(|(_, e)| visible(e))
                .map(|(t, _)| *t)
                .expect("a visible event");
            let message = events.iter().rev().find(|(_, e)| {
                e["type"] == "item.completed" && e["item"]["type"] == "agent_message"
            });
            assert_eq!(
                message
                    .and_then(|(_, e)| e["item"]["text"].as_str())
                    .map(str::trim),
                Some(answer.trim()),
                "{v}"
            );
            if r >= warmup {
                firsts[i].push(first);
                totals[i].push(run.secs);
            }
        }
    }
    let chars = reasoning.len() + answer.len();
    let mut table = format!(
        "Time to first visible delta and total, one `codex exec --json` answer: {} characters of reasoning + {} of text \
         in {delta_chars}-character chunks every {delay_ms} ms (about {:.1} s of streaming); medians of {runs} runs \
         (+{warmup} warm-up), variants interleaved\n\n| variant | first visible (s) | ratio to floor | total (s) | ratio to floor |\n\
         | --- | --- | --- | --- | --- |\n",
        reasoning.len(),
        answer.len(),
        (chars / delta_chars * delay_ms) as f64 / 1000.0
    );
    let (floor_first, floor_total) = (median(&firsts[0]), median(&totals[0]));
    for (i, label) in [
        "stock Codex, Responses API (floor)",
        "codex-litellm, buffered",
        "codex-litellm, live",
    ]
    .iter()
    .enumerate()
    {
        let (f, t) = (median(&firsts[i]), median(&totals[i]));
        table += &format!(
            "| {label} | {f:.3} | {:.2}x | {t:.3} | {:.2}x |\n",
            f / floor_first,
            t / floor_total
        );
    }
    say(&table);
}
