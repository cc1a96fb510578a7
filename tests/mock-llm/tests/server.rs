//! The library server, driven by a real HTTP client (reqwest) and by raw sockets.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use codex_litellm_mock_llm::Framing;
use codex_litellm_mock_llm::Match;
use codex_litellm_mock_llm::MockLlm;
use codex_litellm_mock_llm::Response;
use codex_litellm_mock_llm::Scenario;
use codex_litellm_mock_llm::ServedBy;
use codex_litellm_mock_llm::StartOptions;
use codex_litellm_mock_llm::ToolCall;
use pretty_assertions::assert_eq;
use serde_json::Value;
use serde_json::json;
use tokio::io::AsyncReadExt;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

const SHORT: Duration = Duration::from_millis(300);
const LONG: Duration = Duration::from_secs(10);

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

async fn post(mock: &MockLlm, body: &Value) -> reqwest::Response {
    client()
        .post(format!("{}/chat/completions", mock.base_url()))
        .json(body)
        .send()
        .await
        .unwrap()
}

/// `data:` payloads of an SSE body, JSON-parsed (`[DONE]` kept as the string).
fn sse_data(text: &str) -> Vec<Value> {
    text.split("\n\n")
        .filter_map(|event| event.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).unwrap_or_else(|_| Value::String(d.to_string())))
        .collect()
}

fn delta(chunk: &Value) -> &Value {
    &chunk["choices"][0]["delta"]
}

/// Sends raw bytes, reads until EOF (or `SHORT` of silence), returns everything read and
/// whether EOF was seen.
async fn raw_exchange(mock: &MockLlm, request: &[u8]) -> (Vec<u8>, bool) {
    let mut stream = TcpStream::connect(mock.addr()).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(SHORT, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (out, true),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Err(_) => return (out, false),
        }
    }
}

fn split_head(response: &[u8]) -> (String, Vec<u8>) {
    let i = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("response head");
    (
        String::from_utf8(response[..i].to_vec()).unwrap(),
        response[i + 4..].to_vec(),
    )
}

fn raw_post(path: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[tokio::test]
async fn text_shorthand_streams_realistic_chunks() {
    let mock = MockLlm::start(Scenario::new(vec![
        Response::text("hello world")
            .with_usage(json!({"prompt_tokens": 10, "completion_tokens": 2})),
    ]))
    .await
    .unwrap();
    let resp = post(
        &mock,
        &json!({"model": "m1", "stream": true, "stream_options": {"include_usage": true}, "messages": []}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    assert_eq!(resp.headers()["transfer-encoding"], "chunked");
    let events = sse_data(&resp.text().await.unwrap());

    let n = events.len();
    assert_eq!(events[n - 1], json!("[DONE]"));
    let usage = &events[n - 2];
    assert_eq!(usage["choices"], json!([]));
    assert_eq!(
        usage["usage"],
        json!({"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12})
    );
    let finish = &events[n - 3];
    assert_eq!(finish["choices"][0]["finish_reason"], json!("stop"));
    assert_eq!(delta(finish), &json!({}));
    assert_eq!(
        delta(&events[0]),
        &json!({"role": "assistant", "content": ""})
    );
    for e in &events[..n - 1] {
        assert_eq!(e["object"], json!("chat.completion.chunk"));
        assert_eq!(e["model"], json!("m1"));
        assert_eq!(e["id"], json!("chatcmpl-mock-0"));
    }
    let pieces: Vec<&str> = events[1..n - 3]
        .iter()
        .map(|e| delta(e)["content"].as_str().unwrap())
        .collect();
    assert_eq!(pieces, vec!["hell", "o wo", "rld"]);
}

#[tokio::test]
async fn usage_chunk_only_when_requested_by_default() {
    let mock = MockLlm::start(Scenario::new(vec![
        Response::text("hi"),
        Response::text("hi"),
    ]))
    .await
    .unwrap();
    let text = post(&mock, &json!({"stream": true}))
        .await
        .text()
        .await
        .unwrap();
    let events = sse_data(&text);
    assert!(events.iter().all(|e| e.get("usage").is_none()), "{text}");
    // Computed usage when the request asks for it.
    let text = post(
        &mock,
        &json!({"stream": true, "stream_options": {"include_usage": true}}),
    )
    .await
    .text()
    .await
    .unwrap();
    let events = sse_data(&text);
    let usage = &events[events.len() - 2]["usage"];
    assert!(usage["prompt_tokens"].as_u64().unwrap() >= 1);
    assert_eq!(
        usage["total_tokens"].as_u64().unwrap(),
        usage["prompt_tokens"].as_u64().unwrap() + usage["completion_tokens"].as_u64().unwrap()
    );
}

#[tokio::test]
async fn tool_calls_are_fragmented_deterministically() {
    let spec = Response::tool_calls(vec![
        ToolCall::new("call_1", "shell", r#"{"command":["ls","-la"]}"#),
        ToolCall::new("call_2", "read_file", json!({"path": "a.txt"})),
    ])
    .with_reasoning("think")
    .with_text("ok");
    let mock = MockLlm::start(Scenario::new(vec![spec.clone(), spec]))
        .await
        .unwrap();
    let body = json!({"model": "m", "stream": true});
    let first = post(&mock, &body).await.text().await.unwrap();
    let second = post(&mock, &body).await.text().await.unwrap();
    // Same script, same request -> same bytes (apart from the per-request id).
    assert_eq!(
        first.replace("chatcmpl-mock-0", "ID"),
        second.replace("chatcmpl-mock-1", "ID")
    );

    let events = sse_data(&first);
    let reasoning: String = events
        .iter()
        .filter_map(|e| delta(e)["reasoning_content"].as_str())
        .collect();
    assert_eq!(reasoning, "think");
    let first_reasoning = events
        .iter()
        .position(|e| delta(e).get("reasoning_content").is_some());
    let first_content = events
        .iter()
        .position(|e| delta(e)["content"] == json!("ok"));
    let first_tool = events
        .iter()
        .position(|e| delta(e).get("tool_calls").is_some());
    assert!(first_reasoning < first_content && first_content < first_tool);

    let fragments: Vec<&Value> = events
        .iter()
        .filter_map(|e| delta(e).get("tool_calls"))
        .map(|t| {
            assert_eq!(t.as_array().unwrap().len(), 1);
            &t[0]
        })
        .collect();
    let mut args = [String::new(), String::new()];
    let mut seen_first = [false, false];
    for f in &fragments {
        let i = f["index"].as_u64().unwrap() as usize;
        if !seen_first[i] {
            seen_first[i] = true;
            assert_eq!(f["type"], json!("function"));
            assert_eq!(f["id"], json!(["call_1", "call_2"][i]));
            assert_eq!(f["function"]["name"], json!(["shell", "read_file"][i]));
            assert_eq!(f["function"]["arguments"], json!(""));
        } else {
            let keys: Vec<&String> = f.as_object().unwrap().keys().collect();
            assert_eq!(keys, vec!["function", "index"]);
            let fkeys: Vec<&String> = f["function"].as_object().unwrap().keys().collect();
            assert_eq!(fkeys, vec!["arguments"]);
        }
        args[i].push_str(f["function"]["arguments"].as_str().unwrap());
    }
    assert_eq!(args[0], r#"{"command":["ls","-la"]}"#);
    assert_eq!(args[1], r#"{"path":"a.txt"}"#);
    // Call 0's fragments all come before call 1's (not interleaved by default).
    let indices: Vec<u64> = fragments
        .iter()
        .map(|f| f["index"].as_u64().unwrap())
        .collect();
    let mut sorted = indices.clone();
    sorted.sort_unstable();
    assert_eq!(indices, sorted);
    assert!(
        fragments.len() > 4,
        "arguments split into several fragments"
    );
    let finish = events
        .iter()
        .find_map(|e| e["choices"][0]["finish_reason"].as_str());
    assert_eq!(finish, Some("tool_calls"));
}

#[tokio::test]
async fn shorthand_answers_non_stream_requests_with_one_completion() {
    let mock = MockLlm::start(Scenario::new(vec![
        Response::tool_call("call_9", "shell", json!({"command": ["pwd"]}))
            .with_text("running")
            .with_reasoning("why"),
    ]))
    .await
    .unwrap();
    let resp = post(&mock, &json!({"model": "m2", "stream": false})).await;
    assert_eq!(resp.headers()["content-type"], "application/json");
    assert!(resp.headers().get("content-length").is_some());
    let body: Value = resp.json().await.unwrap();
    let usage = body["usage"].clone();
    assert_eq!(
        body,
        json!({
            "id": "chatcmpl-mock-0",
            "object": "chat.completion",
            "created": codex_litellm_mock_llm::CREATED,
            "model": "m2",
            "choices": [{
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "running",
                    "reasoning_content": "why",
                    "tool_calls": [{
                        "id": "call_9",
                        "type": "function",
                        "function": {"name": "shell", "arguments": "{\"command\":[\"pwd\"]}"},
                    }],
                },
                "finish_reason": "tool_calls",
            }],
            "usage": usage,
        })
    );
    assert!(
        usage["completion_tokens_details"]["reasoning_tokens"]
            .as_u64()
            .unwrap()
            >= 1
    );
}

#[tokio::test]
async fn status_headers_and_error_bodies() {
    let mock = MockLlm::start(Scenario::new(vec![
        Response::error(429, "slow down").with_header("retry-after", "1"),
        Response::body("<html>bad gateway</html>")
            .with_status(502)
            .with_header("Content-Type", "text/html"),
        Response::empty(503),
    ]))
    .await
    .unwrap();
    let resp = post(&mock, &json!({})).await;
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "1");
    assert_eq!(resp.headers()["connection"], "close");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["message"], json!("slow down"));

    let resp = post(&mock, &json!({})).await;
    assert_eq!(resp.status(), 502);
    assert_eq!(resp.headers()["content-type"], "text/html");
    assert_eq!(resp.text().await.unwrap(), "<html>bad gateway</html>");

    let resp = post(&mock, &json!({})).await;
    assert_eq!(resp.status(), 503);
    assert_eq!(resp.text().await.unwrap(), "");
}

#[tokio::test]
async fn explicit_sse_elements_are_sent_verbatim() {
    let mock = MockLlm::start(Scenario::new(vec![
        Response::sse(vec![
            json!({"choices": [{"index": 0, "delta": {"content": "a"}}]}),
            json!(": PROCESSING"),
            json!("{not json"),
            json!({"$raw": "event: x\r\ndata: {\"par"}),
            json!({"$raw": "tial\": 1}\r\n\r\n"}),
            json!({"error": {"message": "boom"}}),
            json!("[DONE]"),
        ])
        .with_chunk_delay_ms(1),
    ]))
    .await
    .unwrap();
    let (response, eof) = raw_exchange(&mock, &raw_post("/v1/chat/completions", "{}")).await;
    assert!(eof);
    let (head, body) = split_head(&response);
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(head.contains("transfer-encoding: chunked"), "{head}");
    let payload = dechunk(&body).expect("well-formed chunked body");
    // JSON values are serialized by serde_json (key order as its build orders them).
    let chunk = json!({"choices": [{"index": 0, "delta": {"content": "a"}}]});
    assert_eq!(
        String::from_utf8(payload).unwrap(),
        format!(
            "data: {chunk}\n\n{}",
            concat!(
                ": PROCESSING\n\n",
                "data: {not json\n\n",
                "event: x\r\ndata: {\"par",
                "tial\": 1}\r\n\r\n",
                "data: {\"error\":{\"message\":\"boom\"}}\n\n",
                "data: [DONE]\n\n",
            )
        )
    );
}

/// Decodes a complete chunked body; None when it is truncated or malformed.
fn dechunk(mut body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let i = body.windows(2).position(|w| w == b"\r\n")?;
        let size = usize::from_str_radix(std::str::from_utf8(&body[..i]).ok()?, 16).ok()?;
        body = &body[i + 2..];
        if size == 0 {
            return (body == b"\r\n").then_some(out);
        }
        if body.len() < size + 2 || &body[size..size + 2] != b"\r\n" {
            return None;
        }
        out.extend_from_slice(&body[..size]);
        body = &body[size + 2..];
    }
}

#[tokio::test]
async fn invalid_utf8_bytes_are_sent_as_is() {
    let bytes = [
        b'd', b'a', b't', b'a', b':', b' ', 0xff, 0xfe, 0xc3, b'\n', b'\n',
    ];
    let mock = MockLlm::start(Scenario::new(vec![
        Response::raw_bytes(&bytes).with_header("content-type", "text/event-stream"),
    ]))
    .await
    .unwrap();
    let resp = post(&mock, &json!({"stream": true})).await;
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    assert_eq!(resp.bytes().await.unwrap().as_ref(), &bytes[..]);
}

#[tokio::test]
async fn cut_after_bytes_closes_the_connection_mid_body() {
    let mock = MockLlm::start(Scenario::new(vec![
        Response::text("a fairly long answer that will be cut").with_cut_after_bytes(50),
        Response::text("a fairly long answer that will be cut")
            .with_cut_after_bytes(50)
            .with_framing(Framing::Close),
        Response::json(json!({"k": "0123456789"})).with_cut_after_bytes(5),
    ]))
    .await
    .unwrap();
    let body = r#"{"stream": true}"#;

    // Chunked: exactly 50 payload bytes, then EOF without the final chunk.
    let (response, eof) = raw_exchange(&mock, &raw_post("/v1/chat/completions", body)).await;
    assert!(eof, "connection closed");
    let (_, raw_body) = split_head(&response);
    assert!(dechunk(&raw_body).is_none(), "body must not end cleanly");
    let first_line_end = raw_body.windows(2).position(|w| w == b"\r\n").unwrap();
    let payload = &raw_body[first_line_end + 2..];
    assert_eq!(payload.len(), 50);
    assert!(payload.starts_with(b"data: {"));

    // Close-delimited: the cut looks like a normal end to the client.
    let resp = post(&mock, &json!({"stream": true})).await;
    assert!(resp.headers().get("content-length").is_none());
    assert!(resp.headers().get("transfer-encoding").is_none());
    assert_eq!(resp.bytes().await.unwrap().len(), 50);

    // Content-Length: a real client reports the short body as an error.
    let resp = post(&mock, &json!({})).await;
    assert_eq!(resp.headers()["content-length"], "18");
    assert!(resp.bytes().await.is_err());
}

#[tokio::test]
async fn cut_is_reported_as_an_error_by_a_streaming_client() {
    let mock = MockLlm::start(Scenario::new(vec![
        Response::text("hello there").with_cut_after_bytes(30),
    ]))
    .await
    .unwrap();
    let mut resp = post(&mock, &json!({"stream": true})).await;
    let mut got = Vec::new();
    let err = loop {
        match resp.chunk().await {
            Ok(Some(c)) => got.extend_from_slice(&c),
            Ok(None) => panic!("stream ended cleanly after {} bytes", got.len()),
            Err(e) => break e,
        }
    };
    assert_eq!(got.len(), 30, "{err}");
}

#[tokio::test]
async fn stall_after_events_keeps_the_socket_open() {
    let mock = MockLlm::start(Scenario::new(vec![
        Response::text("abcdefghijkl").with_stall_after_events(2),
    ]))
    .await
    .unwrap();
    let mut resp = post(&mock, &json!({"stream": true})).await;
    let mut got = Vec::new();
    while sse_data(&String::from_utf8_lossy(&got)).len() < 2 {
        let chunk = tokio::time::timeout(LONG, resp.chunk())
            .await
            .unwrap()
            .unwrap();
        got.extend_from_slice(&chunk.expect("more data before the stall"));
    }
    let events = sse_data(&String::from_utf8_lossy(&got));
    assert_eq!(events.len(), 2);
    assert_eq!(delta(&events[1])["content"], json!("abcd"));
    // Nothing more arrives, and the stream does not end either.
    assert!(tokio::time::timeout(SHORT, resp.chunk()).await.is_err());
}

#[tokio::test]
async fn stall_ends_when_the_hold_cap_passes() {
    let mock = MockLlm::start(Scenario::new(vec![
        Response::text("abc")
            .with_stall_after_events(1)
            .with_hold_open_max_ms(50),
    ]))
    .await
    .unwrap();
    let resp = post(&mock, &json!({"stream": true})).await;
    // The server gives up after the cap and closes without ending the chunked body.
    assert!(
        tokio::time::timeout(LONG, resp.bytes())
            .await
            .unwrap()
            .is_err()
    );
}

#[tokio::test]
async fn keep_open_after_done_sends_done_but_never_ends() {
    let mock = MockLlm::start(Scenario::new(vec![
        Response::text("hi").with_keep_open_after_done(),
    ]))
    .await
    .unwrap();
    let (response, eof) = raw_exchange(
        &mock,
        &raw_post("/v1/chat/completions", r#"{"stream":true}"#),
    )
    .await;
    assert!(!eof, "socket must stay open");
    let text = String::from_utf8_lossy(&response).to_string();
    assert!(text.contains("data: [DONE]\n\n"), "{text}");
    assert!(!text.ends_with("0\r\n\r\n"), "no final chunk: {text}");
}

#[tokio::test]
async fn delay_ms_delays_the_status_line() {
    let mock = MockLlm::start(Scenario::new(vec![
        Response::text("late").with_delay_ms(2_000),
        Response::text("on time").with_delay_ms(20),
    ]))
    .await
    .unwrap();
    let slow = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let err = slow
        .post(format!("{}/chat/completions", mock.base_url()))
        .json(&json!({}))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    let started = std::time::Instant::now();
    let body: Value = post(&mock, &json!({})).await.json().await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(20));
    assert_eq!(body["choices"][0]["message"]["content"], json!("on time"));
}

#[tokio::test]
async fn entries_match_in_order_then_fallback() {
    let mock = MockLlm::start(Scenario::new(vec![
        Response::text("after tool").when_body_contains("call_1"),
        Response::text("first"),
        Response::text("second"),
        Response::text("needs header").with_match(Match {
            headers: [("x-tenant".to_string(), "blue".to_string())].into(),
            ..Match::default()
        }),
        Response::text("v1 only").when_path("/v1/chat/completions"),
    ]))
    .await
    .unwrap();
    let content = |v: Value| v["choices"][0]["message"]["content"].clone();
    let c = client();
    let send = |path: &'static str, body: Value| {
        let c = c.clone();
        let url = format!("{}{path}", mock.root_url());
        async move { c.post(url).json(&body).send().await.unwrap() }
    };
    let r = send("/v1/chat/completions", json!({"messages": ["hi"]})).await;
    assert_eq!(content(r.json().await.unwrap()), json!("first"));
    let r = send("/chat/completions", json!({"messages": ["call_1 output"]})).await;
    assert_eq!(content(r.json().await.unwrap()), json!("after tool"));
    let r = send("/chat/completions", json!({})).await;
    assert_eq!(content(r.json().await.unwrap()), json!("second"));
    // Entry 3 needs a header, entry 4 needs the /v1 path: nothing left for this one.
    let r = send("/chat/completions", json!({})).await;
    assert_eq!(r.status(), 500);
    let err: Value = r.json().await.unwrap();
    assert_eq!(
        err["error"]["message"],
        json!("mock: no scripted response left")
    );
    let r = send("/v1/chat/completions", json!({})).await;
    assert_eq!(content(r.json().await.unwrap()), json!("v1 only"));
    let r = c
        .post(format!("{}/chat/completions", mock.base_url()))
        .header("X-Tenant", "blue")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(content(r.json().await.unwrap()), json!("needs header"));
    assert_eq!(mock.remaining_responses(), 0);

    let served: Vec<ServedBy> = mock.requests().iter().map(|r| r.served_by).collect();
    assert_eq!(
        served,
        vec![
            ServedBy::Entry { index: 1 },
            ServedBy::Entry { index: 0 },
            ServedBy::Entry { index: 2 },
            ServedBy::Fallback,
            ServedBy::Entry { index: 4 },
            ServedBy::Entry { index: 3 },
        ]
    );
}

#[tokio::test]
async fn requests_are_recorded_with_secrets_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let record_file = dir.path().join("requests.jsonl");
    let mock = MockLlm::start_with_options(
        Scenario::new(vec![Response::text("a"), Response::text("b")]),
        StartOptions {
            record_file: Some(record_file.clone()),
            ..StartOptions::default()
        },
    )
    .await
    .unwrap();
    let sent = json!({
        "model": "m",
        "stream": false,
        "messages": [{"role": "user", "content": "héllo"}],
        "tools": [{"type": "function", "function": {"name": "shell", "parameters": {}}}],
    });
    client()
        .post(format!(
            "{}/chat/completions?api-version=1",
            mock.base_url()
        ))
        .bearer_auth("sk-very-secret")
        .header("api-key", "azure-secret")
        .header("x-custom", "kept")
        .json(&sent)
        .send()
        .await
        .unwrap();
    client()
        .post(format!("{}/chat/completions", mock.base_url()))
        .body("not json at all")
        .send()
        .await
        .unwrap();

    let requests = mock.wait_for_requests(2, LONG).await.unwrap();
    assert_eq!(mock.request_count(), 2);
    let r = &requests[0];
    assert_eq!(r.seq, 0);
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/v1/chat/completions");
    assert_eq!(r.query.as_deref(), Some("api-version=1"));
    assert_eq!(r.json(), Some(&sent), "exact body as sent");
    assert!(!r.is_stream());
    assert_eq!(r.header("Authorization"), Some("Bearer ***"));
    assert_eq!(r.header("api-key"), Some("***"));
    assert_eq!(r.header("x-custom"), Some("kept"));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.served_by, ServedBy::Entry { index: 0 });
    assert!(r.received_unix_ms > 0);

    let r = &requests[1];
    assert!(!r.body_is_json);
    assert_eq!(r.body, json!("not json at all"));
    assert_eq!(r.json(), None);
    assert_eq!(r.header("authorization"), None);

    drop(mock);
    let lines = std::fs::read_to_string(&record_file).unwrap();
    assert!(!lines.contains("very-secret") && !lines.contains("azure-secret"));
    let parsed: Vec<codex_litellm_mock_llm::RecordedRequest> = lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(parsed, requests);
}

#[tokio::test]
async fn models_endpoint_lists_scenario_models() {
    let mut scenario = Scenario::default().with_models(["alpha", "beta"]);
    scenario
        .models
        .push(json!({"id": "custom", "object": "model", "context_window": 8192}));
    let mock = MockLlm::start(scenario).await.unwrap();
    let list: Value = client()
        .get(format!("{}/models", mock.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["object"], json!("list"));
    let ids: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["alpha", "beta", "custom"]);
    assert_eq!(list["data"][0]["object"], json!("model"));
    assert_eq!(list["data"][2]["context_window"], json!(8192));

    let one: Value = client()
        .get(format!("{}/models/beta", mock.root_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(one["id"], json!("beta"));
    let missing = client()
        .get(format!("{}/models/nope", mock.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert!(
        mock.requests()
            .iter()
            .all(|r| r.served_by == ServedBy::Models)
    );
    // Models requests consume nothing.
    assert_eq!(mock.chat_requests().len(), 0);
}

#[tokio::test]
async fn unknown_paths_are_404_and_recorded() {
    let mock = MockLlm::start(Scenario::new(vec![Response::text("a")]))
        .await
        .unwrap();
    let resp = client()
        .post(format!("{}/responses", mock.base_url()))
        .json(&json!({"input": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let r = &mock.requests()[0];
    assert_eq!(r.served_by, ServedBy::NotFound);
    assert_eq!(r.path, "/v1/responses");
    assert_eq!(mock.remaining_responses(), 1);
}

#[tokio::test]
async fn chunked_request_bodies_and_expect_continue() {
    let mock = MockLlm::start(Scenario::new(vec![Response::text("ok")]))
        .await
        .unwrap();
    let request = b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nexpect: 100-continue\r\n\
transfer-encoding: chunked\r\n\r\n6\r\n{\"a\": \r\n3\r\n42}\r\n0\r\n\r\n";
    let (response, eof) = raw_exchange(&mock, request).await;
    assert!(eof);
    let text = String::from_utf8_lossy(&response);
    assert!(
        text.starts_with("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"),
        "{text}"
    );
    assert_eq!(mock.requests()[0].json(), Some(&json!({"a": 42})));
}

#[tokio::test]
async fn malformed_requests_get_400() {
    let mock = MockLlm::start(Scenario::default()).await.unwrap();
    let (response, _) = raw_exchange(&mock, b"GARBAGE\r\n\r\n").await;
    assert!(String::from_utf8_lossy(&response).starts_with("HTTP/1.1 400 Bad Request\r\n"));
    assert_eq!(mock.requests()[0].served_by, ServedBy::BadRequest);
}

#[tokio::test]
async fn shutdown_and_drop_stop_the_server() {
    let mock = MockLlm::start(Scenario::new(vec![
        Response::text("x").with_stall_after_events(0),
    ]))
    .await
    .unwrap();
    let addr = mock.addr();
    // A stalled connection must not keep the server alive.
    let mut stalled = TcpStream::connect(addr).await.unwrap();
    stalled
        .write_all(&raw_post("/v1/chat/completions", "{}"))
        .await
        .unwrap();
    mock.wait_for_requests(1, LONG).await.unwrap();
    mock.shutdown().await;
    assert!(TcpStream::connect(addr).await.is_err(), "listener closed");
    let mut rest = Vec::new();
    let read = tokio::time::timeout(LONG, stalled.read_to_end(&mut rest)).await;
    assert!(read.is_ok(), "stalled connection closed on shutdown");

    let mock = MockLlm::start(Scenario::default()).await.unwrap();
    let addr = mock.addr();
    drop(mock);
    let mut closed = false;
    for _ in 0..100 {
        if TcpStream::connect(addr).await.is_err() {
            closed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(closed, "listener closed after drop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_on_a_multi_thread_runtime() {
    let mock = MockLlm::start(Scenario::new(vec![Response::text("ok")]))
        .await
        .unwrap();
    let text = post(&mock, &json!({"stream": true}))
        .await
        .text()
        .await
        .unwrap();
    assert!(text.ends_with("data: [DONE]\n\n"));
}

#[tokio::test]
async fn responses_endpoint_streams_the_shorthand_as_responses_events() {
    let mock = MockLlm::start(
        Scenario::new(vec![
            Response::tool_call("call_r1", "shell", json!({"command": ["ls"]}))
                .with_reasoning("look first"),
            Response::text("Done.")
                .when_body_contains("call_r1")
                .with_usage(json!({"prompt_tokens": 7, "completion_tokens": 2})),
            Response::error(429, "slow down"),
        ])
        .with_responses_api(),
    )
    .await
    .unwrap();
    let url = format!("{}/responses", mock.base_url());
    let body = json!({"model": "m", "input": [], "stream": true});
    let first = client().post(&url).json(&body).send().await.unwrap();
    assert_eq!(first.status(), 200);
    let text = first.text().await.unwrap();
    assert!(
        text.starts_with("event: response.created\ndata: "),
        "{text}"
    );
    let events: Vec<Value> = text
        .split("\n\n")
        .filter_map(|e| e.lines().find_map(|l| l.strip_prefix("data: ")))
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(kinds.first(), Some(&"response.created"));
    assert_eq!(kinds.last(), Some(&"response.completed"));
    let done: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "response.output_item.done")
        .map(|e| &e["item"])
        .collect();
    assert_eq!(done.len(), 2);
    assert_eq!(done[0]["summary"][0]["text"], "look first");
    assert_eq!(
        (&done[1]["call_id"], &done[1]["arguments"]),
        (&json!("call_r1"), &json!(r#"{"command":["ls"]}"#))
    );

    let follow_up = json!({"model": "m", "stream": true,
        "input": [{"type": "function_call_output", "call_id": "call_r1", "output": "a.txt"}]});
    let text = client()
        .post(&url)
        .json(&follow_up)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let deltas: String = text
        .split("\n\n")
        .filter(|e| e.starts_with("event: response.output_text.delta\n"))
        .map(|e| {
            let data: Value =
                serde_json::from_str(e.lines().nth(1).unwrap().strip_prefix("data: ").unwrap())
                    .unwrap();
            data["delta"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(deltas, "Done.");
    assert!(text.contains(r#""usage":{"input_tokens":7"#), "{text}");

    // Non-shorthand entries (errors) are sent as scripted on either endpoint.
    let error = client().post(&url).json(&body).send().await.unwrap();
    assert_eq!(error.status(), 429);
    assert_eq!(mock.chat_requests().len(), 3);
}

#[tokio::test]
async fn routes_serve_metadata_endpoints_before_the_built_in_ones() {
    let scenario = Scenario::from_json_str(
        r#"{
          "models": ["small"],
          "routes": [
            {"path": "/model/info", "response": {"json": {"data": [
              {"model_name": "small", "model_info": {"max_input_tokens": 16384}}]}}},
            {"method": "POST", "path": "/api/show", "body_contains": ["\"small\""],
             "response": {"json": {"parameters": "num_ctx 16384"}}},
            {"path": "/v1/models", "response": {"status": 404, "json": {"error": "gone"}}}
          ]
        }"#,
    )
    .unwrap();
    let mock = MockLlm::start(scenario).await.unwrap();
    let info: Value = client()
        .get(format!("{}/model/info", mock.root_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["data"][0]["model_info"]["max_input_tokens"], 16384);
    let show = client()
        .post(format!("{}/api/show", mock.root_url()))
        .json(&json!({"model": "small"}))
        .send()
        .await
        .unwrap();
    assert_eq!(show.status(), 200);
    let other = client()
        .post(format!("{}/api/show", mock.root_url()))
        .json(&json!({"model": "other"}))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 404, "body_contains must hold");
    let models = client()
        .get(format!("{}/models", mock.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        models.status(),
        404,
        "a route replaces the built-in /v1/models"
    );
    let served: Vec<ServedBy> = mock.requests().iter().map(|r| r.served_by).collect();
    assert_eq!(
        served,
        [
            ServedBy::Route { index: 0 },
            ServedBy::Route { index: 1 },
            ServedBy::NotFound,
            ServedBy::Route { index: 2 },
        ]
    );
    assert!(
        Scenario::from_json_str(r#"{"routes": [{"path": "model/info", "response": {}}]}"#).is_err()
    );
}

#[tokio::test]
async fn context_limit_refuses_oversized_chat_requests_without_consuming_entries() {
    let mock =
        MockLlm::start(Scenario::new(vec![Response::text("fits")]).with_context_limit(2_000))
            .await
            .unwrap();
    let big = json!({"model": "m", "messages": [{"role": "user", "content": "x".repeat(4_000)}]});
    let refused = post(&mock, &big).await;
    assert_eq!(refused.status(), 400);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "context_length_exceeded");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("maximum context length is 500 tokens"),
        "{message}"
    );
    let small =
        json!({"model": "m", "stream": false, "messages": [{"role": "user", "content": "hi"}]});
    let answered: Value = post(&mock, &small).await.json().await.unwrap();
    assert_eq!(answered["choices"][0]["message"]["content"], "fits");
    assert_eq!(mock.chat_requests().len(), 2);
    assert_eq!(mock.requests()[0].served_by, ServedBy::ContextLimit);
}

#[tokio::test]
async fn a_call_by_description_gets_the_advertised_name() {
    let write = ToolCall::described_as("call_w", "Create a new file", json!({"path": "a"}));
    let mock = MockLlm::start(Scenario::new(vec![
        Response::tool_calls(vec![write.clone()]),
        Response::tool_calls(vec![write.clone()]),
        Response::tool_calls(vec![write]),
    ]))
    .await
    .unwrap();
    let tool = |name: &str, description: &str| json!({"type": "function", "function": {"name": name, "description": description}});
    let tools = json!([
        tool("shell", "Runs a command."),
        tool(
            "mcp__fs____write_file",
            "Create a new file or overwrite one."
        ),
    ]);
    let body = json!({"model": "m", "stream": false, "messages": [], "tools": tools});
    let answer: Value = post(&mock, &body).await.json().await.unwrap();
    let call = &answer["choices"][0]["message"]["tool_calls"][0];
    let sent = (&call["id"], &call["function"]["name"]);
    assert_eq!(sent, (&json!("call_w"), &json!("mcp__fs____write_file")));

    // No such tool, or two of them: a 500 saying so, never a guess.
    let body = json!({"model": "m", "stream": false, "messages": [], "tools": [tools[0]]});
    let resp = post(&mock, &body).await;
    assert_eq!(resp.status(), 500);
    let text = resp.text().await.unwrap();
    assert!(
        text.contains("no tool in the request's `tools`") && text.contains("shell"),
        "{text}"
    );
    let twice = json!([tools[1], tool("other", "Create a new file, too.")]);
    let body = json!({"model": "m", "stream": false, "messages": [], "tools": twice});
    let resp = post(&mock, &body).await;
    assert_eq!(resp.status(), 500);
    let text = resp.text().await.unwrap();
    assert!(
        text.contains("2 tools") && text.contains("more specific"),
        "{text}"
    );
}
