//! The server over real HTTP on loopback, with the scripted fake agent behind it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use codex_litellm_serve::SandboxMode;
use codex_litellm_serve::ServeConfig;
use codex_litellm_serve::Server;
use codex_litellm_serve::ShutdownReport;
use codex_litellm_serve::fake::FakeAgent;
use futures::StreamExt;
use pretty_assertions::assert_eq;
use serde_json::Value;
use serde_json::json;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Guards against a hang only; no test asserts a duration.
const HANG: Duration = Duration::from_secs(30);

struct Harness {
    addr: SocketAddr,
    state: Arc<codex_litellm_serve::server::AppState>,
    agent: FakeAgent,
    client: reqwest::Client,
    root: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
    server: JoinHandle<ShutdownReport>,
}

async fn start(tune: impl FnOnce(&mut ServeConfig)) -> Harness {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir(root.path().join("sub")).unwrap();
    let mut config = ServeConfig::new("127.0.0.1:0".parse().unwrap(), root.path().into());
    config.deterministic = true;
    config.keepalive = Duration::from_secs(3600);
    tune(&mut config);
    let agent = FakeAgent::new();
    let server = Server::bind(config, Arc::new(agent.clone())).await.unwrap();
    let addr = server.local_addr().unwrap();
    let state = server.state();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        server
            .run(async {
                let _ = stopped.await;
            })
            .await
            .unwrap()
    });
    Harness {
        addr,
        state,
        agent,
        client: reqwest::Client::new(),
        root,
        stop: Some(stop),
        server,
    }
}

impl Harness {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn post(&self, path: &str, body: Value) -> reqwest::RequestBuilder {
        self.client.post(self.url(path)).json(&body)
    }

    async fn json(&self, path: &str, body: Value) -> (u16, Value) {
        let r = tokio::time::timeout(HANG, self.post(path, body).send())
            .await
            .unwrap()
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap())
    }

    async fn text(&self, path: &str, body: Value) -> (u16, String) {
        let r = tokio::time::timeout(HANG, self.post(path, body).send())
            .await
            .unwrap()
            .unwrap();
        let status = r.status().as_u16();
        let text = tokio::time::timeout(HANG, r.text()).await.unwrap().unwrap();
        (status, text)
    }

    async fn shutdown(mut self) -> ShutdownReport {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(HANG, self.server)
            .await
            .unwrap()
            .unwrap()
    }
}

/// Wait for a condition the server reaches on its own; panics instead of hanging.
async fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let waited = tokio::time::timeout(HANG, async {
        while !cond() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    assert!(waited.is_ok(), "never happened: {what}");
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap()
}

// ---------------------------------------------------------------------------------------
// Endpoints.

#[tokio::test]
async fn healthz_and_models() {
    let h = start(|_| {}).await;
    let health: Value = h
        .client
        .get(h.url("/healthz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health, json!({"status": "ok"}));
    let models: Value = h
        .client
        .get(h.url("/v1/models"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    insta::assert_snapshot!("models", pretty(&models));
    let (status, body) = h.text("/v1/nope", json!({})).await;
    assert_eq!(status, 404, "{body}");
}

#[tokio::test]
async fn responses_non_streamed_tool_turn_sums_usage() {
    let h = start(|_| {}).await;
    let (status, body) = h
        .json(
            "/v1/responses",
            json!({"model": "fake-coder", "input": "run ls please", "instructions": "be brief",
                   "reasoning": {"effort": "high"}}),
        )
        .await;
    assert_eq!(status, 200);
    // Two model requests of 100 in / 10 out each.
    assert_eq!(body["usage"]["input_tokens"], 200);
    assert_eq!(body["usage"]["total_tokens"], 220);
    insta::assert_snapshot!("responses_tool_turn", pretty(&body));
    let req = &h.agent.requests()[0];
    assert_eq!(req.thread_id, None);
    assert_eq!(req.input, "run ls please");
    assert_eq!(req.instructions.as_deref(), Some("be brief"));
    assert_eq!(req.effort.as_deref(), Some("high"));
    assert_eq!(req.model.as_deref(), Some("fake-coder"));
    assert_eq!(req.sandbox, SandboxMode::ReadOnly);
    assert_eq!(req.cwd, std::fs::canonicalize(h.root.path()).unwrap());
}

#[tokio::test]
async fn responses_streamed_in_openai_event_order() {
    let h = start(|_| {}).await;
    let (status, sse) = h
        .text("/v1/responses", json!({"input": "run it", "stream": true}))
        .await;
    assert_eq!(status, 200);
    insta::assert_snapshot!("responses_tool_turn_stream", sse);
    let (_, sse) = h
        .text("/v1/responses", json!({"input": "hi", "stream": true}))
        .await;
    insta::assert_snapshot!("responses_text_stream", sse);
}

#[tokio::test]
async fn responses_previous_response_id_continues_the_thread() {
    let h = start(|_| {}).await;
    let (_, first) = h.json("/v1/responses", json!({"input": "run ls"})).await;
    let id = first["id"].as_str().unwrap();
    let (status, second) = h
        .json(
            "/v1/responses",
            json!({"input": [{"role": "user", "content": [{"type": "input_text", "text": "and now?"}]}],
                   "previous_response_id": id}),
        )
        .await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(second["previous_response_id"], id);
    let reqs = h.agent.requests();
    assert_eq!(reqs[1].thread_id.as_deref(), Some("thread-1"));
    assert_eq!(reqs[1].input, "and now?");
    // A previous_response_id turn leaves no resendable history behind: a chat request whose
    // history is only that answer is a stranger's and starts a new thread.
    let answer = second["output"][0]["content"][0]["text"].clone();
    let (status, _) = h
        .json(
            "/v1/chat/completions",
            json!({"messages": [{"role": "assistant", "content": answer}, {"role": "user", "content": "x"}]}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(h.agent.requests()[2].thread_id, None);
    // The first response is no longer the latest: continuing it would drag turn 2 along.
    let (status, err) = h
        .json(
            "/v1/responses",
            json!({"input": "x", "previous_response_id": id}),
        )
        .await;
    assert_eq!(status, 409);
    assert_eq!(err["error"]["code"], "previous_response_not_latest");
}

#[tokio::test]
async fn responses_unknown_previous_id_is_404_and_runs_nothing() {
    let h = start(|_| {}).await;
    let (status, body) = h
        .json(
            "/v1/responses",
            json!({"input": "hi", "previous_response_id": "resp_nope"}),
        )
        .await;
    assert_eq!(status, 404);
    insta::assert_snapshot!("responses_unknown_previous", pretty(&body));
    assert!(h.agent.requests().is_empty());
}

#[tokio::test]
async fn responses_store_false_keeps_nothing() {
    let h = start(|_| {}).await;
    let (_, first) = h
        .json("/v1/responses", json!({"input": "hi", "store": false}))
        .await;
    assert_eq!(first["store"], false);
    assert!(h.agent.requests()[0].ephemeral);
    // Forgotten in the agent too, after the response.
    wait_until("thread forgotten", || !h.agent.forgotten().is_empty()).await;
    assert_eq!(h.agent.forgotten(), vec!["thread-1".to_string()]);
    let (status, _) = h
        .json(
            "/v1/responses",
            json!({"input": "again", "previous_response_id": first["id"]}),
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn bad_requests_get_openai_errors() {
    let h = start(|_| {}).await;
    let (status, body) = h.json("/v1/responses", json!({"input": 3})).await;
    assert_eq!(
        (status, body["error"]["param"].clone()),
        (400, json!("input"))
    );
    let (status, body) = h
        .json("/v1/responses", json!({"input": "x", "model": "gpt-nope"}))
        .await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (404, json!("model_not_found"))
    );
    let (status, body) = h
        .json(
            "/v1/chat/completions",
            json!({"messages": [{"role": "user", "content": "a"}], "reasoning_effort": "max"}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["param"].clone()),
        (400, json!("reasoning_effort"))
    );
    let (status, _) = h
        .json(
            "/v1/responses",
            json!({"input": [{"type": "function_call_output", "call_id": "c", "output": "x"}]}),
        )
        .await;
    assert_eq!(status, 400);
    let r = h
        .client
        .post(h.url("/v1/chat/completions"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 415);
    let (status, _) = h
        .json(
            "/v1/chat/completions",
            json!({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}),
        )
        .await;
    assert_eq!(status, 400);
    assert!(h.agent.requests().is_empty());
}

#[tokio::test]
async fn odd_bodies_get_a_clean_openai_error_and_run_nothing() {
    let h = start(|_| {}).await;
    let odd = [
        ("/v1/responses", json!({})),
        ("/v1/responses", json!({"input": {"role": "user"}})),
        ("/v1/responses", json!({"input": []})),
        (
            "/v1/responses",
            json!({"input": [{"role": 3, "content": "x"}]}),
        ),
        (
            "/v1/responses",
            json!({"input": [{"role": "user", "content": 5}]}),
        ),
        ("/v1/responses", json!({"input": [[["deep"]]]})),
        ("/v1/responses", json!({"input": "x", "stream": "yes"})),
        ("/v1/responses", json!({"input": "x", "store": 0})),
        ("/v1/responses", json!({"input": "x", "model": 7})),
        (
            "/v1/responses",
            json!({"input": "x", "reasoning": {"effort": 1}}),
        ),
        (
            "/v1/responses",
            json!({"input": "x", "previous_response_id": []}),
        ),
        ("/v1/responses", json!({"input": "x", "cwd": "\u{0}"})),
        ("/v1/responses", json!({"input": "   "})),
        ("/v1/chat/completions", json!({})),
        ("/v1/chat/completions", json!({"messages": "hi"})),
        ("/v1/chat/completions", json!({"messages": []})),
        ("/v1/chat/completions", json!({"messages": [{}]})),
        (
            "/v1/chat/completions",
            json!({"messages": [{"role": "user", "content": [{"type": "image_url"}]}]}),
        ),
        (
            "/v1/chat/completions",
            json!({"messages": [{"role": "wizard", "content": "x"}]}),
        ),
        (
            "/v1/chat/completions",
            json!({"messages": [{"role": "user", "content": ""}]}),
        ),
        ("/v1/chat/completions", json!([1, 2])),
    ];
    for (path, body) in odd {
        let (status, answer) = h.text(path, body.clone()).await;
        assert!(
            (400..500).contains(&status),
            "{path} {body}: {status} {answer}"
        );
        let answer: Value = serde_json::from_str(&answer).unwrap();
        assert!(
            answer["error"]["message"].is_string(),
            "{path} {body}: {answer}"
        );
    }
    let r = h
        .client
        .post(h.url("/v1/responses"))
        .header("content-type", "application/json")
        .body("{\"input\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let huge = "x".repeat(9 * 1024 * 1024);
    let r = h
        .post("/v1/responses", json!({"input": huge}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 413);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["message"], "the body is larger than 8 MiB");
    assert!(h.agent.requests().is_empty());
}

#[tokio::test]
async fn chat_streamed_role_first_and_done() {
    let h = start(|_| {}).await;
    let (status, sse) = h
        .text(
            "/v1/chat/completions",
            json!({"model": "fake-coder", "stream": true, "stream_options": {"include_usage": true},
                   "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "run ls"}]}),
        )
        .await;
    assert_eq!(status, 200);
    insta::assert_snapshot!("chat_tool_turn_stream", sse);
    assert_eq!(
        h.agent.requests()[0].instructions.as_deref(),
        Some("be brief")
    );
}

#[tokio::test]
async fn a_failed_turn_is_an_error_not_a_partial_answer() {
    let h = start(|_| {}).await;
    let (status, sse) = h
        .text("/v1/responses", json!({"input": "fail", "stream": true}))
        .await;
    assert_eq!(status, 200);
    insta::assert_snapshot!("responses_failed_stream", sse);
    let (status, sse) = h
        .text(
            "/v1/chat/completions",
            json!({"stream": true, "messages": [{"role": "user", "content": "fail"}]}),
        )
        .await;
    assert_eq!(status, 200);
    insta::assert_snapshot!("chat_failed_stream", sse);
    for (path, body) in [
        ("/v1/responses", json!({"input": "fail"})),
        (
            "/v1/chat/completions",
            json!({"messages": [{"role": "user", "content": "fail"}]}),
        ),
    ] {
        let (status, body) = h.json(path, body).await;
        assert_eq!(status, 502, "{path}: {body}");
        assert_eq!(
            body["error"]["message"],
            "the agent's turn failed: the backend answered 500 three times"
        );
    }
}

#[tokio::test]
async fn chat_non_streamed() {
    let h = start(|_| {}).await;
    let (status, body) = h
        .json(
            "/v1/chat/completions",
            json!({"messages": [{"role": "user", "content": "run ls"}], "reasoning_effort": "low"}),
        )
        .await;
    assert_eq!(status, 200);
    insta::assert_snapshot!("chat_tool_turn", pretty(&body));
    assert_eq!(h.agent.requests()[0].effort.as_deref(), Some("low"));
}

#[tokio::test]
async fn chat_follow_up_continues_the_thread_without_replaying_tool_work() {
    let h = start(|_| {}).await;
    let mut messages = vec![json!({"role": "user", "content": "run ls"})];
    let (_, first) = h
        .json("/v1/chat/completions", json!({"messages": messages}))
        .await;
    assert_eq!(h.agent.commands_run(), 1);
    // The client resends the history with our answer, as chat clients do.
    messages.push(first["choices"][0]["message"].clone());
    messages.push(json!({"role": "user", "content": [{"type": "text", "text": "thanks"}]}));
    let (status, _) = h
        .json("/v1/chat/completions", json!({"messages": messages}))
        .await;
    assert_eq!(status, 200);
    let reqs = h.agent.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[1].thread_id.as_deref(), Some("thread-1"));
    assert_eq!(reqs[1].input, "thanks");
    assert_eq!(
        h.agent.commands_run(),
        1,
        "the first turn's command ran again"
    );

    // An edited history (not what this server answered) starts a new thread, and the
    // history it cannot match goes along as a quoted transcript, never as instructions.
    let edited = json!([
        {"role": "user", "content": "run ls"},
        {"role": "assistant", "content": "something else"},
        {"role": "user", "content": "hi"},
    ]);
    let (status, _) = h
        .json("/v1/chat/completions", json!({"messages": edited}))
        .await;
    assert_eq!(status, 200);
    let reqs = h.agent.requests();
    assert_eq!(reqs[2].thread_id, None);
    insta::assert_snapshot!("chat_unknown_history_input", reqs[2].input);
}

// ---------------------------------------------------------------------------------------
// Security.

#[tokio::test]
async fn wrong_or_missing_key_is_401_and_runs_nothing() {
    let h = start(|c| c.api_key = Some("sekrit-key".into())).await;
    for auth in [
        None,
        Some("Bearer wrong"),
        Some("Bearer sekrit-ke"),
        Some("sekrit-key"),
    ] {
        let mut req = h.post("/v1/responses", json!({"input": "hi"}));
        if let Some(auth) = auth {
            req = req.header("authorization", auth);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status().as_u16(), 401, "{auth:?}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid_api_key");
        assert!(
            !body.to_string().contains("sekrit"),
            "the key leaked: {body}"
        );
    }
    let r = h.client.get(h.url("/v1/models")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert!(h.agent.requests().is_empty());
    let r = h
        .post("/v1/responses", json!({"input": "hi"}))
        .bearer_auth("sekrit-key")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(h.agent.requests().len(), 1);
}

#[tokio::test]
async fn without_a_key_only_requests_to_localhost_are_answered() {
    let h = start(|_| {}).await;
    let r = h
        .post("/v1/responses", json!({"input": "hi"}))
        .header("host", "evil.example:11435")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    assert!(h.agent.requests().is_empty());
    let r = h
        .post("/v1/responses", json!({"input": "hi"}))
        .header("host", "localhost:11435")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
}

#[tokio::test]
async fn non_loopback_bind_without_key_is_refused_at_start() {
    let root = tempfile::tempdir().unwrap();
    let config = ServeConfig::new("0.0.0.0:0".parse().unwrap(), root.path().into());
    let err = Server::bind(config, Arc::new(FakeAgent::new()))
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains("without an API key"), "{err}");
}

#[tokio::test]
async fn cwd_outside_the_root_is_400_and_runs_nothing() {
    let h = start(|_| {}).await;
    let outside = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(outside.path(), h.root.path().join("escape")).unwrap();
    let tries = [
        "/".to_string(),
        "..".to_string(),
        "sub/../..".to_string(),
        "escape".to_string(),
        "missing".to_string(),
        outside.path().display().to_string(),
    ];
    for cwd in tries {
        let (status, body) = h
            .json("/v1/responses", json!({"input": "hi", "cwd": cwd}))
            .await;
        assert_eq!(status, 400, "{cwd}: {body}");
        assert_eq!(body["error"]["code"], "cwd_outside_root");
        let (status, _) = h
            .json(
                "/v1/chat/completions",
                json!({"messages": [{"role": "user", "content": "hi"}], "cwd": cwd}),
            )
            .await;
        assert_eq!(status, 400, "{cwd}");
    }
    assert!(h.agent.requests().is_empty());
    let (status, _) = h
        .json("/v1/responses", json!({"input": "hi", "cwd": "sub"}))
        .await;
    assert_eq!(status, 200);
    let want = std::fs::canonicalize(h.root.path().join("sub")).unwrap();
    assert_eq!(h.agent.requests()[0].cwd, want);
}

// ---------------------------------------------------------------------------------------
// Load and teardown.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_clients_two_slots_each_completes_or_gets_a_clean_429() {
    let h = Arc::new(
        start(|c| {
            c.max_concurrent = 2;
            c.max_queue = 2;
        })
        .await,
    );
    let mut tasks = Vec::new();
    for i in 0..8 {
        let h = h.clone();
        let stream = i % 2 == 0;
        tasks.push(tokio::spawn(async move {
            let r = tokio::time::timeout(
                HANG,
                h.post("/v1/responses", json!({"input": "slow", "stream": stream}))
                    .send(),
            )
            .await
            .unwrap()
            .unwrap();
            let status = r.status().as_u16();
            let retry_after = r
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_string());
            let body = tokio::time::timeout(HANG, r.text()).await.unwrap().unwrap();
            (status, retry_after, stream, body)
        }));
    }
    // Gated turns cannot finish, so exactly 2 run, 2 wait and 4 are turned away; once the
    // turned-away ones are back, let the rest answer.
    let mut rejected = 0;
    let mut results = Vec::new();
    let mut pending = tasks;
    while rejected < 4 {
        let (done, _, rest) = futures::future::select_all(pending).await;
        let done = done.unwrap();
        assert_eq!(done.0, 429, "{done:?}");
        assert_eq!(done.1.as_deref(), Some("5"));
        assert!(done.3.contains("server_busy"));
        rejected += 1;
        results.push(done);
        pending = rest;
    }
    h.agent.open_gate();
    for task in pending {
        let (status, _, stream, body) = task.await.unwrap();
        assert_eq!(status, 200);
        if stream {
            assert!(body.contains("event: response.completed"), "{body}");
        } else {
            assert!(body.contains("\"status\":\"completed\""), "{body}");
        }
    }
    assert_eq!(h.agent.requests().len(), 4);
}

#[tokio::test]
async fn client_disconnect_mid_stream_interrupts_and_frees_the_slot() {
    let h = start(|c| {
        c.max_concurrent = 1;
        c.max_queue = 0;
    })
    .await;
    let r = h
        .post("/v1/responses", json!({"input": "slow", "stream": true}))
        .send()
        .await
        .unwrap();
    let mut body = r.bytes_stream();
    let first = tokio::time::timeout(HANG, body.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(String::from_utf8_lossy(&first).contains("response.created"));
    drop(body);
    tokio::time::timeout(HANG, h.agent.wait_for_interrupts(1))
        .await
        .unwrap();
    assert_eq!(
        h.agent.interrupts(),
        vec![("thread-1".to_string(), "turn-1".to_string())]
    );
    // The slot is free again: with one slot and no queue, this would be a 429 otherwise.
    let mut served = false;
    for _ in 0..200 {
        let (status, _) = h.json("/v1/responses", json!({"input": "hi"})).await;
        if status == 200 {
            served = true;
            break;
        }
        assert_eq!(status, 429);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(served, "the slot was never freed");
    // One model request: the follow-up's. The interrupted turn made none.
    assert_eq!(h.agent.model_requests(), 1);
}

#[tokio::test]
async fn a_client_that_leaves_the_queue_frees_its_place() {
    let h = start(|c| {
        c.max_concurrent = 1;
        c.max_queue = 1;
    })
    .await;
    let running = h
        .post("/v1/responses", json!({"input": "slow", "stream": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(h.state.running(), 1);
    let queued = tokio::spawn(h.post("/v1/responses", json!({"input": "slow"})).send());
    wait_until("second request queued", || h.state.queued() == 1).await;
    queued.abort();
    wait_until("aborted request left the queue", || h.state.queued() == 0).await;
    // The place is free: this one queues (it is not a 429) and is served once the gate opens.
    let next = tokio::spawn(h.post("/v1/responses", json!({"input": "slow"})).send());
    wait_until("third request queued", || h.state.queued() == 1).await;
    h.agent.open_gate();
    let next = tokio::time::timeout(HANG, next)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(next.status().as_u16(), 200);
    assert_eq!(h.agent.requests().len(), 2);
    drop(running);
}

#[tokio::test]
async fn client_disconnect_non_streamed_interrupts() {
    let h = start(|_| {}).await;
    let request = h.post(
        "/v1/chat/completions",
        json!({"messages": [{"role": "user", "content": "slow"}]}),
    );
    let pending = tokio::spawn(request.send());
    wait_until("turn started", || !h.agent.requests().is_empty()).await;
    pending.abort();
    tokio::time::timeout(HANG, h.agent.wait_for_interrupts(1))
        .await
        .unwrap();
    assert_eq!(h.agent.interrupts()[0].1, "turn-1");
}

#[tokio::test]
async fn quiet_streams_get_keepalive_comments() {
    let h = start(|c| c.keepalive = Duration::from_millis(20)).await;
    let r = h
        .post(
            "/v1/chat/completions",
            json!({"stream": true, "messages": [{"role": "user", "content": "slow"}]}),
        )
        .send()
        .await
        .unwrap();
    let mut body = r.bytes_stream();
    let mut seen = String::new();
    while !seen.contains(": keepalive\n\n") {
        let chunk = tokio::time::timeout(HANG, body.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    h.agent.open_gate();
    while let Some(chunk) = tokio::time::timeout(HANG, body.next()).await.unwrap() {
        seen.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
    }
    assert!(seen.ends_with("data: [DONE]\n\n"), "{seen}");
}

#[tokio::test]
async fn shutdown_interrupts_turns_that_outlive_the_grace_period() {
    let h = start(|c| c.shutdown_grace = Duration::ZERO).await;
    let r = h
        .post("/v1/responses", json!({"input": "slow", "stream": true}))
        .send()
        .await
        .unwrap();
    let mut body = r.bytes_stream();
    let first = tokio::time::timeout(HANG, body.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(String::from_utf8_lossy(&first).contains("response.created"));
    let reader = tokio::spawn(async move {
        let mut rest = String::new();
        while let Some(Ok(chunk)) = body.next().await {
            rest.push_str(&String::from_utf8_lossy(&chunk));
        }
        rest
    });
    let agent = h.agent.clone();
    let report = h.shutdown().await;
    assert_eq!(
        report,
        ShutdownReport {
            in_flight: 1,
            interrupted: 1
        }
    );
    assert!(!agent.interrupts().is_empty());
    let rest = tokio::time::timeout(HANG, reader).await.unwrap().unwrap();
    assert!(rest.contains("event: response.incomplete"), "{rest}");
}

#[tokio::test]
async fn shutdown_lets_short_turns_finish() {
    let h = start(|c| c.shutdown_grace = Duration::from_secs(20)).await;
    let (status, _) = h.json("/v1/responses", json!({"input": "hi"})).await;
    assert_eq!(status, 200);
    let agent = h.agent.clone();
    let report = h.shutdown().await;
    assert_eq!(
        report,
        ShutdownReport {
            in_flight: 0,
            interrupted: 0
        }
    );
    assert!(agent.interrupts().is_empty());
}
