//! The bridge against a real model server with nothing of ours in between: llama-cpp-python
//! 0.3.36 serving SmolLM2-135M-Instruct (8K context), started by `scripts/real-model.sh`
//! (the "real model" stage of scripts/test.sh):
//!
//! ```sh
//! scripts/real-model.sh run -- cargo test -p codex-litellm-bridge-loopback-tests \
//!     --test real_model -- --test-threads=1
//! ```
//!
//! Without `CODEX_LITELLM_REAL_MODEL_URL` every test says it is skipped and passes. The model
//! is tiny: assertions are on structure (events, finish reasons, calls, error codes), never
//! on its wording. Tests marked `#[ignore]` state what the bridge should do and does not do
//! yet (each names the fix); `-- --ignored` runs them.
//!
//! What this server does that the mock does not (llama-cpp-python 0.3.36): `/v1/models`
//! reports no context window; a streamed answer carries no usage (even with
//! `include_usage`); with `chatml-function-calling` a streamed request with
//! `tool_choice: "auto"` or `"required"` gets HTTP 200 and no bytes at all; a streamed
//! prompt over the window also gets 200 and no bytes (non-streamed: 400
//! `context_length_exceeded`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use codex_litellm_bridge::Bridge;
use codex_litellm_bridge::BridgeOptions;
use codex_litellm_bridge::BridgeReply;
use codex_litellm_bridge::BridgeRequest;
use codex_litellm_bridge::ExchangeReport;
use codex_litellm_bridge::Outcome;
use codex_litellm_bridge::conformance::check_sse;
use codex_litellm_bridge::conformance::sse_payloads;
use codex_litellm_bridge_loopback_tests::Reports;
use codex_litellm_models::CatalogOptions;
use codex_litellm_models::discover::DiscoveryRequest;
use codex_litellm_models::discover::discover;
use codex_litellm_models::overrides::ModelOverrides;
use futures::StreamExt;
use http::HeaderMap;
use serde_json::Value;
use serde_json::json;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

/// The server `scripts/real-model.sh` started, from the environment it exports.
struct Server {
    /// The base URL, ending in `/v1`.
    url: String,
    /// Served with the chat template in the GGUF file.
    model: String,
    /// Served with llama-cpp-python's `chatml-function-calling`.
    tools_model: String,
    context: u64,
}

/// `None` (and one line saying so) when no server was started for these tests.
fn server() -> Option<Server> {
    let Ok(url) = std::env::var("CODEX_LITELLM_REAL_MODEL_URL") else {
        // Once, and past the test harness's capture (which hides a passing test's output).
        static SAID: std::sync::Once = std::sync::Once::new();
        SAID.call_once(|| {
            let _ = writeln!(
                std::io::stderr(),
                "real_model: skipped, CODEX_LITELLM_REAL_MODEL_URL is not set (run through \
                 `scripts/real-model.sh run -- cargo test -p codex-litellm-bridge-loopback-tests \
                 --test real_model -- --test-threads=1`)"
            );
        });
        return None;
    };
    let var = |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"));
    Some(Server {
        url,
        model: var("CODEX_LITELLM_REAL_MODEL"),
        tools_model: var("CODEX_LITELLM_REAL_MODEL_TOOLS"),
        context: var("CODEX_LITELLM_REAL_MODEL_CONTEXT").parse().unwrap(),
    })
}

/// Short retries (the server is on loopback), a bounded answer (the model is slow on one
/// CPU thread and may ramble), an idle timeout well above a long prefill, and greedy
/// decoding so each test gets the same kind of answer (text or a call) every run.
fn options() -> BridgeOptions {
    let mut extra_body = serde_json::Map::new();
    extra_body.insert("temperature".into(), json!(0));
    BridgeOptions {
        max_output_tokens: Some(48),
        extra_body,
        retry_base_delay_ms: 10,
        retry_max_delay_ms: 50,
        idle_timeout_secs: Some(120),
        request_timeout_secs: 300,
        ..BridgeOptions::default()
    }
}

struct Harness {
    server: Server,
    bridge: Bridge,
    reports: Arc<Reports>,
}

fn harness(server: Server, options: BridgeOptions) -> Harness {
    let reports = Arc::new(Reports::default());
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    // Raw capture is telemetry level `full`: the report then keeps the whole chat body,
    // which these tests inspect.
    let bridge = Bridge::new(client, options, "llamacpp")
        .with_observer(reports.clone())
        .with_raw_capture(64 * 1024);
    Harness {
        server,
        bridge,
        reports,
    }
}

/// One bridge exchange as Codex sees it.
struct Exchange {
    events: Vec<Value>,
    report: ExchangeReport,
}

impl Exchange {
    fn terminal(&self) -> &Value {
        self.events.last().unwrap()
    }

    fn items(&self, kind: &str) -> Vec<&Value> {
        self.events
            .iter()
            .filter(|e| e["type"] == "response.output_item.done" && e["item"]["type"] == kind)
            .map(|e| &e["item"])
            .collect()
    }

    fn text(&self) -> String {
        self.items("message")
            .iter()
            .map(|item| item["content"][0]["text"].as_str().unwrap_or_default())
            .collect()
    }

    /// (call_id, name, arguments) of every function call, in order.
    fn calls(&self) -> Vec<(String, String, Value)> {
        self.items("function_call")
            .iter()
            .map(|item| {
                let arguments = item["arguments"].as_str().unwrap();
                (
                    item["call_id"].as_str().unwrap().to_string(),
                    item["name"].as_str().unwrap().to_string(),
                    serde_json::from_str(arguments).unwrap_or_else(|e| {
                        panic!("arguments that do not parse {arguments:?}: {e}")
                    }),
                )
            })
            .collect()
    }

    /// (code, message) of a failed exchange.
    fn failure(&self) -> (String, String) {
        let last = self.terminal();
        assert_eq!(last["type"], "response.failed", "{last}");
        let error = &last["response"]["error"];
        (
            error["code"].as_str().unwrap().to_string(),
            error["message"].as_str().unwrap().to_string(),
        )
    }

    fn fault_kinds(&self) -> Vec<String> {
        self.report
            .attempts
            .iter()
            .map(|a| a.fault.as_ref().map_or("ok", |f| f.kind()).to_string())
            .collect()
    }

    /// The answer ended for a reason the server gave, and the outcome says which.
    fn assert_real_finish(&self) {
        let finish = self.report.finish_reason.as_deref();
        match finish {
            Some("stop") | Some("tool_calls") => {
                assert_eq!(self.report.outcome, Outcome::Completed)
            }
            Some("length") => assert_eq!(self.report.outcome, Outcome::Truncated),
            other => panic!(
                "no finish reason from the server ({other:?}): {:?}, attempts {:?}",
                self.report.outcome,
                self.fault_kinds()
            ),
        }
        assert_eq!(self.terminal()["type"], "response.completed");
    }
}

fn user(text: &str) -> Value {
    json!({"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]})
}

/// One tool, with a schema small enough for a 135M model under a grammar.
fn shell_tool() -> Value {
    json!({"type": "function", "name": "shell", "description": "Runs a command.",
           "parameters": {"type": "object",
                          "properties": {"command": {"type": "array", "items": {"type": "string"}, "maxItems": 3}},
                          "required": ["command"]}})
}

/// What Codex POSTs to `/responses` (short instructions: the full Codex prompt does not fit
/// an 8K window).
fn codex_body(model: &str, input: Vec<Value>, tool_choice: Value) -> Value {
    json!({
        "model": model,
        "instructions": "You are a helpful assistant. Answer briefly.",
        "input": input,
        "tools": [shell_tool()],
        "tool_choice": tool_choice,
        "parallel_tool_calls": false,
        "stream": true
    })
}

impl Harness {
    fn request(&self, body: Value) -> BridgeRequest {
        BridgeRequest {
            url: format!("{}/responses", self.server.url),
            headers: HeaderMap::new(),
            body,
        }
    }

    async fn run(&self, body: Value) -> Exchange {
        let before = self.reports.0.lock().unwrap().len();
        let reply = tokio::time::timeout(
            Duration::from_secs(600),
            self.bridge.respond(self.request(body)),
        )
        .await
        .expect("the bridge must answer within bounded time");
        let bytes = tokio::time::timeout(Duration::from_secs(600), reply.into_bytes())
            .await
            .expect("the answer must end within bounded time")
            .unwrap_or_else(|(status, body)| panic!("HTTP error {status} reached Codex: {body}"));
        check_sse(&bytes).unwrap_or_else(|violation| panic!("invalid stream: {violation}"));
        let reports = self.reports.0.lock().unwrap().clone();
        assert_eq!(reports.len(), before + 1, "exactly one report per request");
        Exchange {
            events: sse_payloads(&bytes).unwrap(),
            report: reports[before].clone(),
        }
    }
}

/// A prompt well over the window: about 1.5 tokens per the context's worth of words.
fn over_the_window(context: u64) -> String {
    "apple banana cherry ".repeat(usize::try_from(context).unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn streamed_text_arrives_with_a_real_finish_reason() {
    let Some(server) = server() else { return };
    let h = harness(server, options());
    let body = codex_body(&h.server.model, vec![user("Say hello.")], json!("auto"));
    let x = h.run(body).await;
    x.assert_real_finish();
    assert_eq!(x.fault_kinds(), ["ok"], "{:?}", x.report);
    assert!(
        x.report.attempts[0].done_marker,
        "the stream ends with [DONE]"
    );
    assert!(
        !x.text().trim().is_empty() || !x.calls().is_empty(),
        "an answer came: {:?}",
        x.events
    );
    // Live mode streamed the text as it came, in more than one delta.
    let deltas = x
        .events
        .iter()
        .filter(|e| e["type"] == "response.output_text.delta")
        .count();
    assert!(
        deltas > 1 || x.text().chars().count() <= 1,
        "{deltas} deltas"
    );
}

/// The server sends no usage on a streamed answer (even with `include_usage`): the bridge
/// hands Codex an estimate, marked as one in the report, so Codex can still compact.
#[tokio::test(flavor = "multi_thread")]
async fn streamed_answer_without_usage_gets_an_estimate() {
    let Some(server) = server() else { return };
    let h = harness(server, options());
    let body = codex_body(&h.server.model, vec![user("Say hello.")], json!("auto"));
    let x = h.run(body).await;
    x.assert_real_finish();
    let usage = &x.terminal()["response"]["usage"];
    let input = usage["input_tokens"].as_u64().unwrap_or(0);
    assert!(input > 0, "an input token count reaches Codex: {usage}");
    assert!(usage["output_tokens"].as_u64().is_some(), "{usage}");
    assert!(x.report.usage.is_some(), "and the telemetry");
    assert!(x.report.usage_estimated, "marked as an estimate");
    assert_eq!(
        x.report.request_body["stream_options"]["include_usage"], true,
        "usage was asked for"
    );
}

/// Asked without streaming (`stream = false`), the same server does report usage, and the
/// bridge passes it on.
#[tokio::test(flavor = "multi_thread")]
async fn non_streamed_answer_carries_the_servers_usage() {
    let Some(server) = server() else { return };
    let h = harness(
        server,
        BridgeOptions {
            stream: false,
            ..options()
        },
    );
    let body = codex_body(&h.server.model, vec![user("Say hello.")], json!("auto"));
    let x = h.run(body).await;
    x.assert_real_finish();
    assert_eq!(x.report.request_body["stream"], false);
    let usage = &x.terminal()["response"]["usage"];
    assert!(
        usage["input_tokens"].as_u64().is_some_and(|n| n > 0),
        "{usage}"
    );
    assert!(usage["output_tokens"].as_u64().is_some(), "{usage}");
}

/// A tool call the server produces: chatml-function-calling answers a `tool_choice` that
/// names a function with that function's call (arguments under its schema's grammar),
/// streamed; the bridge hands Codex the whole call.
#[tokio::test(flavor = "multi_thread")]
async fn forced_tool_call_arrives_whole() {
    let Some(server) = server() else { return };
    let h = harness(
        server,
        BridgeOptions {
            max_output_tokens: Some(200),
            ..options()
        },
    );
    let tools_model = h.server.tools_model.clone();
    let x = h
        .run(codex_body(
            &tools_model,
            vec![user("List the files in the current directory.")],
            json!({"type": "function", "name": "shell"}),
        ))
        .await;
    assert_eq!(
        x.report.request_body["tool_choice"],
        json!({"type": "function", "function": {"name": "shell"}})
    );
    x.assert_real_finish();
    assert_eq!(x.fault_kinds(), ["ok"]);
    let calls = x.calls();
    assert_eq!(calls.len(), 1, "one call: {:?}", x.events);
    let (call_id, name, arguments) = &calls[0];
    assert_eq!(name, "shell");
    assert!(!call_id.is_empty());
    assert!(
        arguments["command"].is_array(),
        "arguments under the schema: {arguments}"
    );
}

/// What Codex sends after it ran the call: the call and its output.
fn round_trip_input() -> Vec<Value> {
    let arguments = json!({"command": ["ls"]}).to_string();
    vec![
        user("List the files in the current directory."),
        json!({"type": "function_call", "call_id": "call_ls", "name": "shell", "arguments": arguments}),
        json!({"type": "function_call_output", "call_id": "call_ls", "output": "Cargo.toml\nREADME.md\nsrc"}),
    ]
}

fn assert_round_trip_order(x: &Exchange) {
    let messages = x.report.request_body["messages"].as_array().unwrap();
    let roles: Vec<&str> = messages
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["system", "user", "assistant", "tool"]);
    assert_eq!(messages[2]["tool_calls"][0]["id"], "call_ls");
    assert_eq!(messages[3]["tool_call_id"], "call_ls");
}

/// The round trip: Codex ran the call and sends it back with its output; the server
/// answers. llama-cpp-python 0.3.36 refuses an assistant message whose `content` is null
/// (HTTP 500, a pydantic validation error) and one without `content` (HTTP 500 from the
/// chat template); it takes `content: ""`. With `tool_call_content = "auto"` (default) the
/// bridge sends `null` first and, refused, the same request at once with `""`; a notice
/// names the setting that skips the refused request.
#[tokio::test(flavor = "multi_thread")]
async fn tool_result_round_trip_completes() {
    let Some(server) = server() else { return };
    let h = harness(server, options());
    let model = h.server.model.clone();
    let x = h
        .run(codex_body(&model, round_trip_input(), json!("auto")))
        .await;
    x.assert_real_finish();
    assert_eq!(x.fault_kinds(), ["http_status", "ok"]);
    assert_eq!(x.report.attempts[0].status, Some(500));
    assert_eq!(
        x.report.attempts[0].retry_wait_ms,
        Some(0),
        "sent again at once"
    );
    assert_round_trip_order(&x);
    let notices = h.reports.1.lock().unwrap().clone();
    assert!(
        notices
            .iter()
            .any(|n| n.contains("refused an assistant tool-call message with `content: null`")),
        "{notices:?}"
    );
}

/// `tool_call_content = "empty_string"`: the first request is taken.
#[tokio::test(flavor = "multi_thread")]
async fn tool_result_round_trip_with_empty_string_content_takes_one_request() {
    let Some(server) = server() else { return };
    let h = harness(
        server,
        BridgeOptions {
            tool_call_content: codex_litellm_bridge::ToolCallContent::EmptyString,
            ..options()
        },
    );
    let model = h.server.model.clone();
    let x = h
        .run(codex_body(&model, round_trip_input(), json!("auto")))
        .await;
    x.assert_real_finish();
    assert_eq!(x.fault_kinds(), ["ok"]);
    assert_round_trip_order(&x);
    assert_eq!(x.report.request_body["messages"][2]["content"], "");
}

/// Codex always asks with `tool_choice: "auto"` and streams. With chatml-function-calling
/// this server answers HTTP 200 with no bytes at all ("Automatic streaming tool choice is
/// not supported" in its log). The bridge asks once more without streaming, inside the same
/// attempt budget: the model's call arrives, and a notice names the fix (`stream = false`
/// for this provider), so no retry loop ends in "empty body".
#[tokio::test(flavor = "multi_thread")]
async fn streamed_auto_tool_choice_on_function_calling_format_is_diagnosed() {
    let Some(server) = server() else { return };
    let h = harness(
        server,
        BridgeOptions {
            max_output_tokens: Some(200),
            ..options()
        },
    );
    let tools_model = h.server.tools_model.clone();
    let x = h
        .run(codex_body(
            &tools_model,
            vec![user("Run ls.")],
            json!("auto"),
        ))
        .await;
    assert!(x.report.stream_fallback, "{:?}", x.fault_kinds());
    assert_eq!(x.report.attempts[0].status, Some(200));
    assert_eq!(x.report.attempts[0].bytes, 0);
    // The server drops the connection after an empty answer now and then: the
    // non-streamed retry may need one more connection.
    let kinds = x.fault_kinds();
    assert_eq!(kinds.first().map(String::as_str), Some("stream_cut"));
    assert_eq!(kinds.last().map(String::as_str), Some("ok"), "{kinds:?}");
    x.assert_real_finish();
    assert_eq!(
        x.calls().len(),
        1,
        "the model chose the tool: {:?}",
        x.events
    );
    let notices = h.reports.1.lock().unwrap().clone();
    assert!(
        notices.iter().any(|n| n.contains("`stream = false`")),
        "the fix is named: {notices:?}"
    );
}

/// The same request without streaming works on this server: the model's own choice of
/// the tool arrives as a call.
#[tokio::test(flavor = "multi_thread")]
async fn auto_tool_choice_on_function_calling_format_answers_without_streaming() {
    let Some(server) = server() else { return };
    let h = harness(
        server,
        BridgeOptions {
            stream: false,
            max_output_tokens: Some(200),
            ..options()
        },
    );
    let tools_model = h.server.tools_model.clone();
    let x = h
        .run(codex_body(
            &tools_model,
            vec![user("Run ls.")],
            json!("auto"),
        ))
        .await;
    x.assert_real_finish();
    assert_eq!(x.fault_kinds(), ["ok"]);
    let calls = x.calls();
    assert_eq!(calls.len(), 1, "the model chose the tool: {:?}", x.events);
    assert_eq!(calls[0].1, "shell");
}

/// What discovery learns from this server: its two model names, and no context window
/// (llama-cpp-python's `/v1/models` has none), so the catalog assumes the default and says
/// how to set the real one.
#[tokio::test(flavor = "multi_thread")]
async fn model_discovery_lists_the_models_without_a_context_window() {
    let Some(server) = server() else { return };
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let request = DiscoveryRequest::new("llamacpp", &server.url, None);
    let found = discover(&client, &request, None).await;
    assert!(!found.failed, "{:?}", found.probes);
    let ids: Vec<&str> = found.models.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, [server.model.as_str(), server.tools_model.as_str()]);
    assert!(
        found.models.iter().all(|m| m.context_window.is_none()),
        "{:?}",
        found.models
    );
    assert_eq!(found.probes[0].to_string(), "GET /v1/models: ok");
    let resolved = codex_litellm_models::resolve_models(
        &found.models,
        &ModelOverrides::default(),
        &CatalogOptions::new("base instructions").with_required_model(&server.model),
    );
    let model = resolved.iter().find(|m| m.id() == server.model).unwrap();
    assert!(model.context_window_is_default);
    assert_ne!(
        model.context_window, server.context,
        "the real window is not learned"
    );
    let notice = model.default_window_notice().unwrap();
    assert!(
        notice.contains(&format!("[models.\"{}\"] context_window", server.model)),
        "{notice}"
    );
}

/// A prompt over the window, asked without streaming: the server's 400
/// `context_length_exceeded` becomes Codex's context error on the first attempt.
#[tokio::test(flavor = "multi_thread")]
async fn prompt_over_the_window_gives_the_context_error_without_streaming() {
    let Some(server) = server() else { return };
    let h = harness(
        server,
        BridgeOptions {
            stream: false,
            ..options()
        },
    );
    let body = codex_body(
        &h.server.model,
        vec![user(&over_the_window(h.server.context))],
        json!("auto"),
    );
    let x = h.run(body).await;
    let (code, message) = x.failure();
    assert_eq!(code, "context_length_exceeded", "{message}");
    assert_eq!(x.fault_kinds(), ["http_status"], "not retried");
    assert_eq!(x.report.attempts[0].status, Some(400));
}

/// The same prompt streamed: the server answers 200 and no bytes; the bridge's one
/// non-streamed retry gets the 400, so Codex gets the same context error, not a retry loop
/// that ends in "cut off at byte 0".
#[tokio::test(flavor = "multi_thread")]
async fn prompt_over_the_window_gives_the_context_error_when_streamed() {
    let Some(server) = server() else { return };
    let h = harness(server, options());
    let body = codex_body(
        &h.server.model,
        vec![user(&over_the_window(h.server.context))],
        json!("auto"),
    );
    let x = h.run(body).await;
    let (code, message) = x.failure();
    assert_eq!(code, "context_length_exceeded", "{message}");
    assert!(x.report.stream_fallback);
    // One empty streamed answer, then the non-streamed 400; the server drops the
    // connection after an empty answer now and then, so a `connect` may come between.
    let kinds = x.fault_kinds();
    assert_eq!(kinds.first().map(String::as_str), Some("stream_cut"));
    assert_eq!(kinds.last().map(String::as_str), Some("http_status"));
    assert!(
        kinds[1..kinds.len() - 1].iter().all(|k| k == "connect"),
        "{kinds:?}"
    );
}

/// The client (Codex) drops the answer after its first bytes, as on Ctrl-C; the exchange
/// is reported cancelled, and the next request on the same bridge and server completes.
#[tokio::test(flavor = "multi_thread")]
async fn client_cut_then_reconnect() {
    let Some(server) = server() else { return };
    let h = harness(
        server,
        BridgeOptions {
            max_output_tokens: Some(400),
            ..options()
        },
    );
    let body = codex_body(
        &h.server.model,
        vec![user("Write a long story about a robot.")],
        json!("auto"),
    );
    let BridgeReply::Stream {
        body: mut stream, ..
    } = h.bridge.respond(h.request(body)).await
    else {
        panic!("expected a stream")
    };
    // Read until the first text delta, then hang up.
    let mut seen = Vec::new();
    while let Some(chunk) = tokio::time::timeout(Duration::from_secs(300), stream.next())
        .await
        .expect("the first text arrives in bounded time")
    {
        seen.extend_from_slice(&chunk.unwrap());
        if String::from_utf8_lossy(&seen).contains("response.output_text.delta") {
            break;
        }
    }
    assert!(
        String::from_utf8_lossy(&seen).contains("response.output_text.delta"),
        "text started before the cut"
    );
    drop(stream);
    // The report is written when the bridge notices the drop.
    let mut waited = 0;
    while h.reports.0.lock().unwrap().is_empty() && waited < 100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += 1;
    }
    let cut = h.reports.0.lock().unwrap()[0].clone();
    assert_eq!(cut.outcome, Outcome::Cancelled, "{cut:?}");

    let again = h
        .run(codex_body(
            &h.server.model,
            vec![user("Say hello.")],
            json!("auto"),
        ))
        .await;
    again.assert_real_finish();
    assert_eq!(again.fault_kinds(), ["ok"]);
}
