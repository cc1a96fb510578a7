//! Benchmarks (docs/PERFORMANCE.md), side by side in one run on the same mock content:
//! they print tables of ratios and assert only that each run did its work, never a time.
//! Ignored by default:
//!
//! ```sh
//! CODEX_LITELLM_BIN=dist/codex-litellm CODEX_STOCK_BIN=.../codex \
//!   cargo test -p codex-litellm-e2e --test benches -- --ignored --test-threads=1
//! ```
//!
//! Clients: stock-direct (stock Codex -> the mock's Responses API: the floor),
//! litellm-direct (codex-litellm -> the mock's chat API), and with
//! CODEX_LITELLM_E2E_VIA_LITELLM=1 stock-via-proxy and litellm-via-proxy through LiteLLM.
//! CODEX_LITELLM_E2E_BENCH_TURNS measured turns (default 10; ttft 5) after one warm-up,
//! CODEX_LITELLM_E2E_BENCH_MB (default 50) for the memory cases.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use codex_litellm_e2e::*;
use serde_json::Value;
use serde_json::json;
use std::path::PathBuf;
use std::time::Duration;
use std::time::Instant;

const MB: usize = 1 << 20;

/// A client: its binary, CODEX_HOME and provider, on [`Dirs`] of its own.
struct Client {
    name: &'static str,
    bin: PathBuf,
    dirs: Dirs,
    url: String,
    key: String,
}

impl Client {
    /// `bridge`: lines of `[providers.litellm.bridge]` (codex-litellm only).
    fn new(name: &'static str, port: u16, bridge: &str) -> Option<Client> {
        let stock = name.starts_with("stock");
        let bin = match stock {
            true => bin("CODEX_STOCK_BIN", "a stock codex binary: the floor")?,
            false => litellm_bin()?,
        };
        let (url, key) = match (name.ends_with("via-proxy"), via_litellm()) {
            (true, true) => {
                let (p, _serial) = shared_proxy("mock-model");
                (p.url.clone(), p.key.clone())
            }
            _ => (format!("http://127.0.0.1:{port}/v1"), SECRET.to_string()),
        };
        let dirs = Dirs::new();
        let (file, config) = match stock {
            true => (
                "config.toml",
                format!(
                    "model = \"mock-model\"\nmodel_provider = \"harness\"\n\n\
                 [model_providers.harness]\nname = \"harness\"\nbase_url = \"{url}\"\n\
                 wire_api = \"responses\"\nenv_key = \"HARNESS_API_KEY\"\n"
                ),
            ),
            false => (
                "litellm.toml",
                format!(
                    "[telemetry]\nlevel = \"summary\"\n\n[providers.litellm.bridge]\n{bridge}\n"
                ),
            ),
        };
        std::fs::write(dirs.home.join(file), config).unwrap();
        Some(Client {
            name,
            bin,
            dirs,
            url,
            key,
        })
    }

    fn exec(&self, args: &[&str]) -> Run {
        let cmd = self.dirs.cmd(&self.bin).litellm(&self.url, "mock-model");
        let cmd = cmd
            .env("LITELLM_API_KEY", &self.key)
            .env("HARNESS_API_KEY", &self.key);
        let exec = [
            "exec",
            "--skip-git-repo-check",
            "--dangerously-bypass-approvals-and-sandbox",
        ];
        cmd.args(exec).args(args).timeout_secs(300).run()
    }
}

/// The clients the environment allows, all on one mock port (the proxy's backend port),
/// and that port.
fn clients() -> Option<(Vec<Client>, u16)> {
    let proxy = via_litellm().then(|| shared_proxy("mock-model").0);
    let port = proxy.map_or_else(free_port, |p| p.backend_port);
    let mut names = vec!["stock-direct", "litellm-direct"];
    if proxy.is_some() {
        names.extend(["stock-via-proxy", "litellm-via-proxy"]);
    }
    let clients: Option<Vec<Client>> = names
        .into_iter()
        .map(|n| Client::new(n, port, ""))
        .collect();
    Some((clients?, port))
}

fn mock(entries: Vec<Value>, port: u16) -> Mock {
    let fallback = json!({"status": 400, "json": {"error": {"message": "bench: no match"}}});
    let scenario = json!({"responses": entries, "responses_api": true, "fallback": fallback});
    Mock::from_json(scenario, port)
}

/// Per-turn overhead: one `codex exec` turn = one tool call + a 1 KB answer.
#[test]
#[ignore = "benchmark: run with --ignored --test-threads=1"]
fn overhead_per_turn() {
    let (clients, port) = or_skip!(clients());
    let (turns, warmup) = (env_num("CODEX_LITELLM_E2E_BENCH_TURNS", 10) as usize, 1);
    let answer = "The command ran. ".repeat(64);
    let mut entries = Vec::new();
    for (r, c) in (0..warmup + turns).flat_map(|r| clients.iter().map(move |c| (r, c))) {
        let (marker, call) = (
            format!("BENCH-{}-{r}.", c.name),
            format!("call_bench_{}_{r}", c.name),
        );
        let calls = json!([{"id": call, "name": "exec_command", "arguments": {"cmd": "true"}}]);
        let first = json!({"body_contains": [marker], "body_not_contains": [call]});
        entries.push(json!({"match": first, "delta_chars": 16, "tool_calls": calls}));
        let then = json!({"body_contains": [call]});
        entries.push(json!({"match": then, "delta_chars": 16, "text": answer}));
    }
    let _mock = mock(entries, port);
    let mut times = vec![Vec::new(); clients.len()];
    // Round-robin, so drift in machine load spreads evenly over the clients.
    for r in 0..warmup + turns {
        for (c, t) in clients.iter().zip(&mut times) {
            let run = c.exec(&[&format!("BENCH-{}-{r}. Run the command.", c.name)]);
            run.assert_success();
            assert_eq!(
                run.stdout.trim(),
                answer.trim(),
                "{} completes its turn",
                c.name
            );
            t.extend((r >= warmup).then_some(run.secs));
        }
    }
    let floor = median(&times[0]);
    let mut table = format!(
        "Per-turn overhead: one `codex exec` turn = one tool call + a 1 KB answer (2 requests), \
         {turns} turns each (+{warmup} warm-up), clients interleaved\n\n\
         | client | median s/turn | min | max | ratio to floor |\n| --- | --- | --- | --- | --- |\n"
    );
    for (c, t) in clients.iter().zip(&times) {
        let (min, max) = (
            t.iter().copied().fold(f64::MAX, f64::min),
            t.iter().copied().fold(0.0, f64::max),
        );
        let m = median(t);
        table += &format!(
            "| {} | {m:.3} | {min:.3} | {max:.3} | {:.2}x |\n",
            c.name,
            m / floor
        );
    }
    say(&table);
}

/// Grows the last session's history to about `total` bytes: copies of its first user
/// message holding 1 MB of text each (Codex refuses a single input over 1 MiB), as if
/// earlier turns had sent them.
fn pad_rollout(client: &Client, total: usize) {
    let files = files_under(&client.dirs.home.join("sessions"));
    let path = files.last().expect("a session rollout to grow");
    let mut lines: Vec<String> = read(path).lines().map(str::to_string).collect();
    let user = |l: &String| {
        let r: Value = serde_json::from_str(l).unwrap();
        r["type"] == "response_item" && r["payload"]["role"] == "user"
    };
    let i = lines
        .iter()
        .position(user)
        .expect("a user message in the rollout");
    let record: Value = serde_json::from_str(&lines[i]).unwrap();
    let copies = (0..(total / MB).max(1)).map(|n| {
        let mut filler = record.clone();
        let text = format!("{n}:{}", "h".repeat(MB - 16));
        filler["payload"]["content"] = json!([{"type": "input_text", "text": text}]);
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
    let size = env_num("CODEX_LITELLM_E2E_BENCH_MB", 50) as usize * MB;
    let (names, port) = or_skip!(clients());
    let mut table = "Peak memory of one turn (peak RSS of the codex process, wait4 ru_maxrss)\n\n\
                     | client | case | peak RSS MB | seconds | result |\n| --- | --- | --- | --- | --- |\n"
        .to_string();
    let mut cases = Vec::new();
    for c in &names {
        cases.push((c.name, "answer", None));
        if !c.name.starts_with("stock") {
            cases.push((c.name, "answer", Some(size / 2))); // a clear error
        }
        cases.push((c.name, "history", None));
    }
    {
        for (name, what, cap) in cases {
            let bridge = cap
                .map(|c| format!("max_response_bytes = {c}"))
                .unwrap_or_default();
            let c = Client::new(name, port, &bridge).unwrap();
            let entries = match what {
                "answer" => vec![json!({"delta_chars": MB, "text": "y".repeat(size)})],
                _ => vec![
                    json!({"match": {"body_not_contains": ["RESUMED."]}, "text": "First turn."}),
                    json!({"match": {"body_contains": ["RESUMED."]}, "text": "Read it all."}),
                ],
            };
            let mock = mock(entries, port);
            let (run, sent) = if what == "history" {
                c.exec(&["Say it."]).assert_success();
                pad_rollout(&c, size);
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
            let error = run
                .stderr
                .lines()
                .rfind(|l| l.to_lowercase().contains("error"));
            let result = match (run.timed_out, run.panicked(), run.code, what) {
                (true, ..) => "HUNG".to_string(),
                (_, true, ..) => "PANICKED".to_string(),
                (.., 0, "answer") => {
                    format!("completed ({} MB answer)", run.stdout.trim().len() / MB)
                }
                (.., 0, _) => format!(
                    "completed (largest request {:.0} MB)",
                    sent as f64 / MB as f64
                ),
                _ => format!(
                    "failed: {}",
                    error.map_or(format!("exit {}, no message", run.code), |l| {
                        l.trim().chars().take(200).collect()
                    })
                ),
            };
            let cap = cap
                .map(|c| format!(", cap {} MB", c / MB))
                .unwrap_or_default();
            let rss = run.max_rss_kb as f64 / 1024.0;
            table += &format!(
                "| {name} | {} MB {what}{cap} | {rss:.0} | {:.1} | {result} |\n",
                size / MB,
                run.secs
            );
        }
    }
    say(&table);
}

/// Time to the first visible delta (the first reasoning or agent-message event of
/// `codex exec --json`) and total time of one answer streamed at the same rate.
#[test]
#[ignore = "benchmark: run with --ignored --test-threads=1"]
fn time_to_first_delta() {
    let (runs, warmup) = (env_num("CODEX_LITELLM_E2E_BENCH_TURNS", 5) as usize, 1);
    let chars = env_num("CODEX_LITELLM_E2E_DELTA_CHARS", 4) as usize;
    let delay = env_num("CODEX_LITELLM_E2E_CHUNK_DELAY_MS", 25) as usize;
    let port = free_port();
    let variants = ["stock", "buffered", "live"];
    let client = |v: &&str| match *v {
        "stock" => Client::new("stock-direct", port, ""),
        mode => Client::new("litellm-direct", port, &format!("mode = \"{mode}\"")),
    };
    let clients: Option<Vec<Client>> = variants.iter().map(client).collect();
    let clients = or_skip!(clients);
    let reasoning = "I should explain it step by step. ".repeat(4);
    let answer = "Streaming matters when a model writes slowly. ".repeat(12);
    let mut entries = Vec::new();
    for (r, v) in (0..warmup + runs).flat_map(|r| variants.map(move |v| (r, v))) {
        let matcher = json!({"body_contains": [format!("TTFT-{v}-{r}.")]});
        entries.push(
            json!({"match": matcher, "reasoning_content": reasoning, "text": answer,
            "delta_chars": chars, "chunk_delay_ms": delay}),
        );
    }
    let _mock = mock(entries, port);
    let (mut firsts, mut totals) = (vec![Vec::new(); 3], vec![Vec::new(); 3]);
    for r in 0..warmup + runs {
        for (i, (v, c)) in variants.iter().zip(&clients).enumerate() {
            let run = c.exec(&["--json", &format!("TTFT-{v}-{r}. Explain.")]);
            run.assert_success();
            let parse = |(t, l): &(f64, String)| Some((*t, serde_json::from_str(l).ok()?));
            let events: Vec<(f64, Value)> = run.lines.iter().filter_map(parse).collect();
            let kinds = [json!("reasoning"), json!("agent_message")];
            let visible = |e: &&(f64, Value)| kinds.contains(&e.1["item"]["type"]);
            let first = events.iter().find(visible).expect("a visible event").0;
            let done = events.iter().rfind(|(_, e)| {
                e["type"] == "item.completed" && e["item"]["type"] == "agent_message"
            });
            let message = done.and_then(|(_, e)| e["item"]["text"].as_str());
            let message = message.map(str::trim);
            assert_eq!(message, Some(answer.trim()), "{v}: the scripted answer");
            if r >= warmup {
                firsts[i].push(first);
                totals[i].push(run.secs);
            }
        }
    }
    let stream_secs = ((reasoning.len() + answer.len()) / chars * delay) as f64 / 1000.0;
    let mut table = format!(
        "Time to first visible delta and total, one `codex exec --json` answer: {} characters of \
         reasoning + {} of text in {chars}-character chunks every {delay} ms (about {stream_secs:.1} s \
         of streaming); medians of {runs} runs (+{warmup} warm-up), variants interleaved\n\n\
         | variant | first visible (s) | ratio to floor | total (s) | ratio to floor |\n\
         | --- | --- | --- | --- | --- |\n",
        reasoning.len(),
        answer.len()
    );
    let (floor_first, floor_total) = (median(&firsts[0]), median(&totals[0]));
    for (i, v) in variants.iter().enumerate() {
        let (f, t) = (median(&firsts[i]), median(&totals[i]));
        let label = match *v {
            "stock" => "stock Codex, Responses API (floor)".to_string(),
            mode => format!("codex-litellm, {mode}"),
        };
        let (rf, rt) = (f / floor_first, t / floor_total);
        table += &format!("| {label} | {f:.3} | {rf:.2}x | {t:.3} | {rt:.2}x |\n");
    }
    say(&table);
}

/// Nearest-rank percentile `p` (0-100) of some seconds.
fn percentile(values: &[f64], p: f64) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n => v[((p / 100.0 * n as f64).ceil() as usize).clamp(1, n) - 1],
    }
}

fn unix_ms() -> u64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    now.unwrap().as_millis() as u64
}

/// Seconds from `start_ms` to when the mock received the first request holding `marker`.
fn backend_asked(mock: &Mock, marker: &str, start_ms: u64) -> f64 {
    let requests = mock.requests();
    let first = requests
        .iter()
        .find(|r| r.body.to_string().contains(marker));
    let at = first
        .map(|r| r.received_unix_ms)
        .expect("the backend was asked");
    at.saturating_sub(start_ms) as f64 / 1000.0
}

/// `codex-litellm serve` against `codex-litellm exec` on the same mock answers, one run:
/// time to the first text (a streamed answer with reasoning), the wall of a tool-using
/// turn, the server's RSS idle, and latency and RSS with 8 concurrent clients.
#[test]
#[ignore = "benchmark: run with --ignored --test-threads=1"]
fn serve_against_exec() {
    use codex_litellm_e2e::http;
    use codex_litellm_e2e::serve::Serve;
    let bin = or_skip!(litellm_bin());
    let (runs, warmup) = (env_num("CODEX_LITELLM_E2E_BENCH_TURNS", 5) as usize, 1);
    let (clients, rounds) = (8, env_num("CODEX_LITELLM_E2E_BENCH_ROUNDS", 3) as usize);
    let key = "sk-serve-bench";
    let reasoning = "I should explain it step by step. ".repeat(4);
    let answer = "Streaming matters when a model writes slowly. ".repeat(12);
    let short = "The command ran. ".repeat(64);
    let tool_turn = |marker: &str| {
        let call = format!("call_{marker}");
        let calls = json!([{"id": call, "name": "exec_command", "arguments": {"cmd": "true"}}]);
        [
            json!({"match": {"body_contains": [marker], "body_not_contains": [&call]},
                   "delta_chars": 16, "tool_calls": calls}),
            json!({"match": {"body_contains": [&call]}, "delta_chars": 16, "text": short}),
        ]
    };
    let mut entries = Vec::new();
    for r in 0..warmup + runs {
        for path in ["exec", "serve"] {
            entries.push(
                json!({"match": {"body_contains": [format!("TTFT-{path}-{r}.")]},
                "reasoning_content": reasoning, "text": answer, "delta_chars": 4,
                "chunk_delay_ms": 25}),
            );
            entries.extend(tool_turn(&format!("TURN-{path}-{r}.")));
        }
    }
    let slot_configs = [8usize, 2];
    for slots in slot_configs {
        for (client, round) in (0..clients).flat_map(|c| (0..rounds).map(move |r| (c, r))) {
            entries.extend(tool_turn(&format!("LOAD-{slots}-{client}-{round}.")));
        }
    }
    let port = free_port();
    let mock = mock(entries, port);
    let url = format!("http://127.0.0.1:{port}/v1");
    let summary = "[telemetry]\nlevel = \"summary\"\n";
    let exec_dirs = Dirs::new();
    std::fs::write(exec_dirs.home.join("litellm.toml"), summary).unwrap();
    let serve_dirs = Dirs::new();
    std::fs::write(serve_dirs.home.join("litellm.toml"), summary).unwrap();
    let started = Instant::now();
    let mut serve = Serve::start(&serve_dirs, &bin, &url, Some(key), &[]);
    let ready = started.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_secs(2));
    let idle_cold = serve.proc.rss_kb().0;
    let exec = |args: &[&str]| {
        let cmd = exec_dirs.cmd(&bin).litellm(&url, "mock-model");
        let cmd = cmd.args(["exec", "--skip-git-repo-check", "--sandbox", "read-only"]);
        cmd.args(args).timeout_secs(300).run()
    };
    // Per path: [backend asked, first text, reasoning item done, total] and turn walls.
    let (mut exec_t, mut serve_t) = (vec![Vec::new(); 4], vec![Vec::new(); 4]);
    let (mut exec_turn, mut serve_turn) = (Vec::new(), Vec::new());
    let mut serve_cpu = Vec::new();
    for r in 0..warmup + runs {
        let keep = r >= warmup;
        // exec: the first visible item on --json's stdout (exec prints items when they end).
        let (marker, start_ms) = (format!("TTFT-exec-{r}."), unix_ms());
        let run = exec(&["--json", &format!("{marker} Explain.")]);
        run.assert_success();
        let parse = |(t, l): &(f64, String)| Some((*t, serde_json::from_str(l).ok()?));
        let events: Vec<(f64, Value)> = run.lines.iter().filter_map(parse).collect();
        let kinds = [json!("reasoning"), json!("agent_message")];
        let first = events.iter().find(|e| kinds.contains(&e.1["item"]["type"]));
        let first = first.expect("a visible event").0;
        let message = events
            .iter()
            .rfind(|(_, e)| e["type"] == "item.completed" && e["item"]["type"] == "agent_message");
        let message = message.and_then(|(_, e)| e["item"]["text"].as_str());
        assert_eq!(
            message.map(str::trim),
            Some(answer.trim()),
            "exec: the answer"
        );
        if keep {
            let asked = backend_asked(&mock, &marker, start_ms);
            for (i, v) in [asked, first, first, run.secs].into_iter().enumerate() {
                exec_t[i].push(v);
            }
        }
        // serve: SSE events as they arrive.
        let (marker, start_ms) = (format!("TTFT-serve-{r}."), unix_ms());
        let body = json!({"input": format!("{marker} Explain."), "stream": true});
        let mut open = serve.open("/v1/responses", &body);
        let (mut first, mut reasoned, mut total, mut text) = (None, None, None, String::new());
        while let Some((at, event)) = open.event().unwrap() {
            let Some(data) = http::data(&event) else {
                continue;
            };
            let kind = data["type"].as_str().unwrap_or_default();
            if kind.ends_with("_text.delta") {
                first.get_or_insert(at);
            }
            if kind == "response.output_text.delta" {
                text += data["delta"].as_str().unwrap_or_default();
            }
            if kind == "response.output_item.done" && data["item"]["type"] == "reasoning" {
                reasoned.get_or_insert(at);
            }
            if kind == "response.completed" {
                total = Some(at);
            }
        }
        assert_eq!(text.trim(), answer.trim(), "serve: the answer");
        if keep {
            let asked = backend_asked(&mock, &marker, start_ms);
            let row = [asked, first.unwrap(), reasoned.unwrap(), total.unwrap()];
            for (i, v) in row.into_iter().enumerate() {
                serve_t[i].push(v);
            }
        }
        // One tool-using turn each, not streamed for serve.
        let run = exec(&[&format!("TURN-exec-{r}. Run the command.")]);
        run.assert_success();
        assert_eq!(run.stdout.trim(), short.trim(), "exec: the turn's answer");
        let (t, cpu) = (Instant::now(), serve.proc.cpu_secs());
        let body = json!({"input": format!("TURN-serve-{r}. Run the command.")});
        let done = serve.post("/v1/responses", &body);
        let wall = t.elapsed().as_secs_f64();
        serve_cpu.extend(keep.then(|| serve.proc.cpu_secs() - cpu));
        assert_eq!(done.status, 200, "serve: {}", done.body);
        if keep {
            exec_turn.push(run.secs);
            serve_turn.push(wall);
        }
    }
    let idle_warm = serve.proc.rss_kb().0;
    assert_eq!(
        serve.stop(Duration::from_secs(30)),
        Some(0),
        "{}",
        serve.stderr()
    );
    drop(serve);

    // 8 clients at once, each `rounds` tool-using turns in a row.
    let mut load_rows = String::new();
    for slots in slot_configs {
        let dirs = Dirs::new();
        std::fs::write(dirs.home.join("litellm.toml"), summary).unwrap();
        let slots_arg = slots.to_string();
        let args = ["--max-concurrent", &slots_arg, "--max-queue", "8"];
        let mut serve = Serve::start(&dirs, &bin, &url, Some(key), &args);
        let idle = serve.proc.rss_kb().0;
        let running = std::sync::atomic::AtomicBool::new(true);
        let (t, cpu) = (Instant::now(), serve.proc.cpu_secs());
        let (latencies, peak) = std::thread::scope(|s| {
            let sampler = s.spawn(|| {
                let mut peak = 0;
                while running.load(std::sync::atomic::Ordering::SeqCst) {
                    peak = peak.max(serve.proc.rss_kb().0);
                    std::thread::sleep(Duration::from_millis(50));
                }
                peak
            });
            // Collected first, so all clients run at once before any is joined.
            #[allow(clippy::needless_collect)]
            let threads: Vec<_> = (0..clients)
                .map(|client| {
                    let addr = &serve.addr;
                    s.spawn(move || {
                        let mut times = Vec::new();
                        for round in 0..rounds {
                            let input = format!("LOAD-{slots}-{client}-{round}. Run the command.");
                            let body = json!({"input": input});
                            let t = Instant::now();
                            let a =
                                http::call(addr, "POST", "/v1/responses", Some(key), Some(&body));
                            let a = a.unwrap();
                            assert_eq!(a.status, 200, "client {client}: {}", a.body);
                            times.push(t.elapsed().as_secs_f64());
                        }
                        times
                    })
                })
                .collect();
            let latencies: Vec<f64> = threads
                .into_iter()
                .flat_map(|t| t.join().unwrap())
                .collect();
            running.store(false, std::sync::atomic::Ordering::SeqCst);
            (latencies, sampler.join().unwrap())
        });
        let wall = t.elapsed().as_secs_f64();
        let cpu = (serve.proc.cpu_secs() - cpu) / latencies.len() as f64;
        let after = serve.proc.rss_kb().0;
        assert_eq!(
            serve.stop(Duration::from_secs(30)),
            Some(0),
            "{}",
            serve.stderr()
        );
        load_rows += &format!(
            "| {clients} clients × {rounds} turns, --max-concurrent {slots} | {:.3} | {:.3} | {:.3} | {wall:.1} | {cpu:.2} | {:.0} | {:.0} | {:.0} |\n",
            percentile(&latencies, 50.0),
            percentile(&latencies, 95.0),
            percentile(&latencies, 100.0),
            idle as f64 / 1024.0,
            peak as f64 / 1024.0,
            after as f64 / 1024.0,
        );
    }

    let m = |v: &Vec<f64>| median(v);
    let mut table = format!(
        "serve against exec, same mock answers, medians of {runs} runs (+{warmup} warm-up), \
         interleaved. Streamed answer: {} characters of reasoning + {} of text in 4-character \
         chunks every 25 ms. exec's times include its process start; serve's start at the \
         request (the server was up: ready {ready:.2} s after spawn).\n\n\
         | measure | exec (s) | serve (s) | serve / exec |\n| --- | --- | --- | --- |\n",
        reasoning.len(),
        answer.len()
    );
    let names = [
        "backend asked (first chat request received)",
        "first text (serve: first SSE text delta; exec: first item printed)",
        "reasoning item complete (serve: its output_item.done; exec: first item printed)",
        "streamed answer total",
    ];
    for (i, name) in names.iter().enumerate() {
        let (e, s) = (m(&exec_t[i]), m(&serve_t[i]));
        table += &format!("| {name} | {e:.3} | {s:.3} | {:.2}x |\n", s / e);
    }
    // The same moments counted from when the backend was asked: without exec's process
    // start and serve's thread set-up, what each path adds to the stream itself.
    let after_asked = |t: &Vec<Vec<f64>>, i: usize| {
        let d: Vec<f64> = t[i].iter().zip(&t[0]).map(|(a, b)| a - b).collect();
        median(&d)
    };
    for (i, name) in names.iter().enumerate().skip(1) {
        let (e, s) = (after_asked(&exec_t, i), after_asked(&serve_t, i));
        let name = name.split(" (").next().unwrap_or(name);
        table += &format!(
            "| {name}, after the backend was asked | {e:.3} | {s:.3} | {:.2}x |\n",
            s / e
        );
    }
    let (e, s) = (m(&exec_turn), m(&serve_turn));
    table += &format!(
        "| tool-using turn wall (tool call + 1 KB answer; serve not streamed) | {e:.3} | {s:.3} | {:.2}x |\n",
        s / e
    );
    table += &format!(
        "\nserve's CPU for one tool-using turn alone: {:.2} s (median). \
         serve's RSS idle (VmRSS): {:.0} MB after start, {:.0} MB after the {} turns above. \
         Under load: {clients} clients at once, each {rounds} tool-using turns in a row (not \
         streamed); latency per request, RSS sampled every 50 ms.\n\n\
         | load | p50 s | p95 s | max s | wall s | serve CPU s/turn | RSS idle MB | RSS peak MB | RSS after MB |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n{load_rows}",
        median(&serve_cpu),
        idle_cold as f64 / 1024.0,
        idle_warm as f64 / 1024.0,
        2 * (warmup + runs),
    );
    say(&table);
}
