//! The discovery shell against tests/mock-llm: what is asked, in what order, and what is
//! cached. Request counts, not timings (timings belong in benchmarks).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use codex_litellm_mock_llm::MockLlm;
use codex_litellm_mock_llm::RecordedRequest;
use codex_litellm_mock_llm::Response;
use codex_litellm_mock_llm::Route;
use codex_litellm_mock_llm::Scenario;
use codex_litellm_mock_llm::StartOptions;
use codex_litellm_models::CacheEntry;
use codex_litellm_models::DiscoveryRequest;
use codex_litellm_models::LiveModels;
use codex_litellm_models::MAX_ANSWER_BYTES;
use codex_litellm_models::MAX_MODELS;
use codex_litellm_models::MetadataField;
use codex_litellm_models::ModelMetadata;
use codex_litellm_models::ModelsCut;
use codex_litellm_models::ProviderModels;
use codex_litellm_models::discover;
use codex_litellm_models::discover::ProbeOutcome;
use pretty_assertions::assert_eq;
use serde_json::json;

const KEY: &str = "sk-metadata-SECRET-1234";

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(Duration::from_secs(2))
        .build()
        .unwrap()
}

fn request_for(mock: &MockLlm) -> DiscoveryRequest {
    DiscoveryRequest::new("litellm", &mock.base_url(), Some(KEY.to_string()))
}

fn asked(requests: &[RecordedRequest]) -> Vec<String> {
    requests
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

/// The 16K LiteLLM gateway the end-to-end check uses: `/v1/models` plus `/model/info`.
fn litellm_16k() -> Scenario {
    Scenario::default()
        .with_models(["mock-model"])
        .with_route(Route::get_json(
            "/model/info",
            json!({"data": [{"model_name": "mock-model",
                             "litellm_params": {"model": "hosted_vllm/small"},
                             "model_info": {"max_input_tokens": 16384, "max_output_tokens": 4096,
                                            "supports_function_calling": true,
                                            "supports_reasoning": null}}]}),
        ))
}

#[tokio::test]
async fn metadata_discovery_litellm_model_info_at_the_root() {
    let mock = MockLlm::start(litellm_16k()).await.unwrap();
    let found = discover(&client(), &request_for(&mock), None).await;

    assert!(!found.failed);
    assert_eq!(found.models.len(), 1);
    let model = &found.models[0];
    assert_eq!(model.id, "mock-model");
    assert_eq!(model.context_window, Some(16_384));
    assert_eq!(model.max_output_tokens, Some(4_096));
    assert_eq!(model.supports_tools, Some(true));
    assert_eq!(model.supports_reasoning, None);
    assert_eq!(
        model.source(MetadataField::ContextWindow),
        "GET /model/info model_info.max_input_tokens"
    );
    // /v1/model/info first (LiteLLM serves both), the root after its 404.
    let requests = mock.requests();
    assert_eq!(
        asked(&requests),
        ["GET /v1/models", "GET /v1/model/info", "GET /model/info"]
    );
    assert!(
        requests
            .iter()
            .all(|r| r.header("authorization") == Some("Bearer ***"))
    );
    let probes: Vec<String> = found.probes.iter().map(ToString::to_string).collect();
    assert_eq!(
        probes,
        [
            "GET /v1/models: ok",
            "GET /v1/model/info: HTTP 404",
            "GET /model/info: ok"
        ]
    );
}

#[tokio::test]
async fn metadata_discovery_backend_serving_nothing_costs_one_request() {
    let mock = MockLlm::start(Scenario::default().with_route(Route::get_status("/v1/models", 404)))
        .await
        .unwrap();
    let found = discover(&client(), &request_for(&mock), None).await;
    assert!(found.failed);
    assert!(found.models.is_empty());
    assert_eq!(asked(&mock.requests()), ["GET /v1/models"]);
    assert_eq!(found.probes[0].outcome, ProbeOutcome::Http(404));

    // Nothing listening at all: one failed connection, nothing else.
    let port = mock.port();
    mock.shutdown().await;
    let gone = DiscoveryRequest::new("litellm", &format!("http://127.0.0.1:{port}/v1"), None);
    let found = discover(&client(), &gone, None).await;
    assert!(found.failed);
    assert_eq!(found.probes.len(), 1);
    assert_eq!(found.probes[0].outcome, ProbeOutcome::Unreachable);
}

#[tokio::test]
async fn metadata_discovery_vllm_answers_everything_in_models() {
    let scenario = Scenario {
        models: vec![
            json!({"id": "qwen3-coder", "object": "model", "owned_by": "vllm",
                            "max_model_len": 16384}),
        ],
        ..Scenario::default()
    };
    let mock = MockLlm::start(scenario).await.unwrap();
    let found = discover(&client(), &request_for(&mock), None).await;
    assert_eq!(found.models[0].context_window, Some(16_384));
    assert_eq!(asked(&mock.requests()), ["GET /v1/models"]);
}

#[tokio::test]
async fn metadata_discovery_ollama_show_and_ps() {
    let mut scenario = Scenario::default()
        .with_route(Route {
            method: "POST".to_string(),
            path: "/api/show".to_string(),
            body_contains: vec!["\"qwen3-coder:30b\"".to_string()],
            headers: BTreeMap::new(),
            response: Response::json(json!({
                "parameters": "num_ctx 16384",
                "model_info": {"general.architecture": "qwen3moe", "qwen3moe.context_length": 262144},
                "capabilities": ["completion", "tools"]})),
        })
        .with_route(Route {
            method: "POST".to_string(),
            path: "/api/show".to_string(),
            body_contains: vec!["\"llama3.2:1b\"".to_string()],
            headers: BTreeMap::new(),
            response: Response::json(json!({
                "parameters": "stop \"<|eot_id|>\"",
                "capabilities": ["completion"]})),
        })
        .with_route(Route::get_json(
            "/api/ps",
            json!({"models": [{"name": "llama3.2:1b", "context_length": 4096}]}),
        ));
    scenario.models = vec![
        json!({"id": "llama3.2:1b", "object": "model", "owned_by": "library"}),
        json!({"id": "qwen3-coder:30b", "object": "model", "owned_by": "library"}),
    ];
    let mock = MockLlm::start(scenario).await.unwrap();
    let request = request_for(&mock).with_wanted_model("qwen3-coder:30b");
    let found = discover(&client(), &request, None).await;

    let ids: Vec<&str> = found.models.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(
        ids,
        ["llama3.2:1b", "qwen3-coder:30b"],
        "the /models order is kept"
    );
    let coder = &found.models[1];
    assert_eq!(
        coder.context_window,
        Some(16_384),
        "num_ctx, not the trained 262144"
    );
    assert_eq!(coder.supports_tools, Some(true));
    let small = &found.models[0];
    assert_eq!(
        small.context_window,
        Some(4_096),
        "the loaded model's live window"
    );
    assert_eq!(small.supports_tools, Some(false));
    let mut asked = asked(&mock.requests());
    asked.sort();
    assert_eq!(
        asked,
        [
            "GET /api/ps",
            "GET /v1/models",
            "POST /api/show",
            "POST /api/show"
        ]
    );
}

#[tokio::test]
async fn metadata_discovery_llamacpp_props() {
    let mut scenario = Scenario::default().with_route(Route::get_json(
        "/props",
        json!({"default_generation_settings": {"n_ctx": 16384}, "model_alias": "",
               "modalities": {"vision": true},
               "chat_template_caps": {"supports_tool_calls": true, "supports_parallel_tool_calls": false}}),
    ));
    scenario.models =
        vec![json!({"id": "qwen3-coder.gguf", "object": "model", "owned_by": "llamacpp"})];
    let mock = MockLlm::start(scenario).await.unwrap();
    let found = discover(&client(), &request_for(&mock), None).await;
    let model = &found.models[0];
    assert_eq!(model.id, "qwen3-coder.gguf");
    assert_eq!(model.context_window, Some(16_384));
    assert_eq!(
        (
            model.supports_tools,
            model.supports_parallel_tool_calls,
            model.supports_images
        ),
        (Some(true), Some(false), Some(true))
    );
    assert_eq!(asked(&mock.requests()), ["GET /v1/models", "GET /props"]);
}

#[tokio::test]
async fn metadata_discovery_cache_ttl_etag_and_secrets() {
    let etag = "\"models-v1\"";
    let mut not_modified = Route::get_status("/v1/models", 304);
    not_modified.response = Response::default().with_status(304);
    not_modified
        .headers
        .insert("if-none-match".to_string(), etag.to_string());
    let mut listed = Route::get_json(
        "/v1/models",
        json!({"object": "list", "data": [{"id": "mock-model", "object": "model",
                                            "owned_by": "vllm", "max_model_len": 16384}]}),
    );
    listed
        .response
        .headers
        .insert("etag".to_string(), etag.to_string());
    let mock = MockLlm::start(
        Scenario::default()
            .with_route(not_modified)
            .with_route(listed),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let models = ProviderModels::new(dir.path(), request_for(&mock));
    assert!(models.needs_refresh());

    let first = models.ensure_fresh(&client()).await;
    assert_eq!(first.models[0].context_window, Some(16_384));
    assert_eq!(first.etag.as_deref(), Some(etag));
    assert!(!models.needs_refresh());
    // Fresh: the next start asks nothing.
    let again = models.ensure_fresh(&client()).await;
    assert_eq!(again.models, first.models);
    assert_eq!(mock.requests().len(), 1);

    // Past the TTL: asked again with the ETag, 304, the list kept.
    let stale = ProviderModels {
        cache: models.cache.clone().with_ttl(Duration::ZERO),
        request: models.request.clone(),
    };
    assert!(stale.needs_refresh());
    let renewed = stale.ensure_fresh(&client()).await;
    assert_eq!(renewed.models, first.models);
    let last = mock.requests().pop().unwrap();
    assert_eq!(last.header("if-none-match"), Some(etag));
    assert_eq!(renewed.probes, ["GET /v1/models: not modified"]);

    // The backend goes away: the last known list is kept, the failure noted.
    mock.shutdown().await;
    let kept = stale.refresh(&client()).await;
    assert_eq!(kept.models, first.models);
    assert_eq!(kept.probes, ["GET /v1/models: unreachable"]);

    // The key is in no file and no message.
    let text = std::fs::read_to_string(models.cache.path()).unwrap();
    assert!(!text.contains(KEY));
    assert!(!format!("{:?}", models.request).contains(KEY));
}

#[tokio::test]
async fn metadata_discovery_refreshes_in_the_background() {
    let mock = MockLlm::start(litellm_16k()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let models = ProviderModels::new(
        dir.path(),
        request_for(&mock).with_timeout(Duration::from_secs(5)),
    );
    assert!(models.cached().is_none());
    assert!(models.spawn_refresh_if_stale());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while models.cached().is_none() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let cached = models
        .cached()
        .expect("the background refresh wrote the cache");
    assert_eq!(cached.models[0].context_window, Some(16_384));
    assert!(!models.spawn_refresh_if_stale(), "fresh: nothing to do");
}

/// A port nothing listens on yet (bound, then released): a gateway that comes up later.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start_on(port: u16, scenario: Scenario) -> MockLlm {
    MockLlm::start_with_options(
        scenario,
        StartOptions {
            port,
            ..StartOptions::default()
        },
    )
    .await
    .unwrap()
}

fn vllm_models(ids: impl IntoIterator<Item = String>) -> Scenario {
    Scenario {
        models: ids
            .into_iter()
            .map(|id| json!({"id": id, "object": "model", "owned_by": "vllm", "max_model_len": 8192}))
            .collect(),
        ..Scenario::default()
    }
}

#[tokio::test]
async fn metadata_discovery_cuts_a_long_list_and_says_so() {
    let mock = MockLlm::start(vllm_models((0..1_500).map(|i| format!("m-{i}"))))
        .await
        .unwrap();
    let request = request_for(&mock).with_wanted_model("m-1400");
    let found = discover(&client(), &request, None).await;
    assert!(!found.failed);
    assert_eq!(found.models.len(), MAX_MODELS + 1);
    assert_eq!(found.models[MAX_MODELS - 1].id, "m-999");
    assert_eq!(
        found.models[MAX_MODELS].id, "m-1400",
        "the configured model survives the cut"
    );
    assert_eq!(
        found.cut,
        Some(ModelsCut {
            listed: 1_500,
            kept: MAX_MODELS + 1
        })
    );

    // The cache says so, for the start-up notices and the doctor.
    let dir = tempfile::tempdir().unwrap();
    let entry = ProviderModels::new(dir.path(), request)
        .refresh(&client())
        .await;
    let notice = entry.cut_notice().unwrap();
    assert!(
        notice.contains("provider litellm lists 1500 models; only 1001 are used"),
        "{notice}"
    );
}

/// Serves `GET` with a `size`-byte JSON body, with or without `Content-Length`.
async fn serve_big_answer(size: usize, content_length: bool) -> u16 {
    use tokio::io::AsyncReadExt;
    use tokio::io::AsyncWriteExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf).await;
            let entry = br#"{"id":"model-0000000000","object":"model"},"#;
            let head = br#"{"object":"list","data":["#;
            let tail = br#"{"id":"last"}]}"#;
            let count = (size - head.len() - tail.len()) / entry.len();
            let total = head.len() + count * entry.len() + tail.len();
            let length = if content_length {
                format!("content-length: {total}\r\n")
            } else {
                String::new()
            };
            let headers = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n{length}connection: close\r\n\r\n"
            );
            let _ = stream.write_all(headers.as_bytes()).await;
            let _ = stream.write_all(head).await;
            let chunk = entry.repeat(1_000);
            let mut left = count;
            while left > 0 {
                let n = left.min(1_000);
                if stream.write_all(&chunk[..n * entry.len()]).await.is_err() {
                    break;
                }
                left -= n;
            }
            let _ = stream.write_all(tail).await;
        }
    });
    port
}

#[tokio::test]
async fn metadata_discovery_does_not_read_an_answer_over_the_cap() {
    for content_length in [true, false] {
        let port = serve_big_answer(MAX_ANSWER_BYTES + 1_000, content_length).await;
        let request = DiscoveryRequest::new("big", &format!("http://127.0.0.1:{port}/v1"), None)
            .with_timeout(Duration::from_secs(30));
        let found = discover(&client(), &request, None).await;
        assert!(found.failed, "content-length {content_length}");
        assert!(found.models.is_empty());
        assert_eq!(
            found.probes[0].to_string(),
            "GET /v1/models: answer larger than 8 MiB, not read"
        );
    }
    // Just under the cap is read.
    let port = serve_big_answer(MAX_ANSWER_BYTES - 1_000, false).await;
    let request = DiscoveryRequest::new("big", &format!("http://127.0.0.1:{port}/v1"), None)
        .with_timeout(Duration::from_secs(30));
    let found = discover(&client(), &request, None).await;
    assert!(!found.failed, "{:?}", found.probes);
}

#[tokio::test]
async fn metadata_cache_is_per_key_and_per_provider_id() {
    let mock = MockLlm::start(litellm_16k()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let admin = ProviderModels::new(
        dir.path(),
        DiscoveryRequest::new("my.gw", &mock.base_url(), Some("sk-admin-SECRET".into())),
    );
    admin.refresh(&client()).await;
    assert!(admin.cached().is_some());
    for other in [
        DiscoveryRequest::new("my.gw", &mock.base_url(), Some("sk-restricted".into())),
        DiscoveryRequest::new("my_gw", &mock.base_url(), Some("sk-admin-SECRET".into())),
    ] {
        let other = ProviderModels::new(dir.path(), other);
        assert_ne!(other.cache.path(), admin.cache.path());
        assert!(
            other.cached().is_none(),
            "{:?} was served another key's or provider's list",
            other.request
        );
    }
}

#[tokio::test]
async fn metadata_discovery_refetches_when_the_etag_is_refused() {
    let mut refused = Route::get_status("/v1/models", 412);
    refused
        .headers
        .insert("if-none-match".to_string(), "\"gone\"".to_string());
    let mut scenario = vllm_models(["new-model".to_string()]);
    scenario.routes.push(refused);
    let mock = MockLlm::start(scenario).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let models = ProviderModels::new(dir.path(), request_for(&mock));
    let mut stale = CacheEntry::new(
        "litellm",
        &mock.base_url(),
        vec![ModelMetadata::new("old-model")],
    );
    stale.etag = Some("\"gone\"".to_string());
    stale.fetched_at_unix_ms -= 3_600_000;
    models.cache.store(&stale).unwrap();
    assert_eq!(models.cached().unwrap().served_ids(), ["old-model"]);

    let entry = models.ensure_fresh(&client()).await;
    assert_eq!(entry.served_ids(), ["new-model"]);
    assert_eq!(
        entry.probes,
        ["GET /v1/models: HTTP 412", "GET /v1/models: ok"]
    );
    let requests = mock.requests();
    assert_eq!(requests[0].header("if-none-match"), Some("\"gone\""));
    assert_eq!(requests[1].header("if-none-match"), None);
}

#[tokio::test]
async fn metadata_discovery_failure_is_a_backoff_not_a_list() {
    let port = free_port();
    let request = DiscoveryRequest::new("litellm", &format!("http://127.0.0.1:{port}/v1"), None);
    let dir = tempfile::tempdir().unwrap();
    let models = ProviderModels::new(dir.path(), request);

    // The gateway is down at start: a failure, remembered as a backoff, never as a list.
    let failed = models.ensure_fresh(&client()).await;
    assert!(!failed.has_list());
    assert!(failed.models.is_empty());
    assert_eq!(failed.failure.map(|f| f.failures), Some(1));
    assert!(
        !models.needs_refresh(),
        "not asked again within the backoff"
    );
    let again = models.refresh(&client()).await;
    assert_eq!(
        again.failure.map(|f| f.failures),
        Some(2),
        "the backoff doubles"
    );

    // The gateway comes up; once the backoff is over the next look reads the list.
    let _mock = start_on(port, vllm_models(["a".to_string(), "b".to_string()])).await;
    let now_due = ProviderModels {
        cache: models.cache.clone().with_min_backoff(Duration::ZERO),
        request: models.request.clone(),
    };
    assert!(now_due.needs_refresh());
    let listed = now_due.ensure_fresh(&client()).await;
    assert_eq!(listed.served_ids(), ["a", "b"]);
    assert_eq!(listed.failure, None);
}

#[tokio::test]
async fn metadata_live_models_follow_the_gateway_and_the_cache_file() {
    let port = free_port();
    let request = DiscoveryRequest::new("litellm", &format!("http://127.0.0.1:{port}/v1"), None);
    let dir = tempfile::tempdir().unwrap();
    let mut models = ProviderModels::new(dir.path(), request);
    models.cache = models.cache.clone().with_min_backoff(Duration::ZERO);
    let live = Arc::new(LiveModels::new(models.clone(), client(), None));

    // Started while the gateway is down: no list, nothing cached as one.
    let first = live.lookup().await;
    assert!(first.models().is_empty());
    assert!(!first.entry.as_ref().unwrap().has_list());

    // The gateway comes up: the next lookup after the backoff lists its models.
    let mock = start_on(port, vllm_models(["a".to_string(), "b".to_string()])).await;
    let second = live.lookup().await;
    let ids: Vec<&str> = second.models().iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, ["a", "b"]);
    assert!(second.generation > first.generation);
    assert_eq!(mock.requests().len(), 1);

    // Fresh now: lookups ask nothing and the generation stays.
    let third = live.lookup().await;
    assert_eq!(third.generation, second.generation);
    assert_eq!(mock.requests().len(), 1);

    // Another process (or a turn's background refresh) rewrites the file: picked up.
    let other = ProviderModels::new(dir.path(), models.request.clone());
    other
        .cache
        .store(&CacheEntry::new(
            "litellm",
            &models.request.base_url,
            vec![ModelMetadata::new("c")],
        ))
        .unwrap();
    let fourth = live.current();
    let ids: Vec<&str> = fourth.models().iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, ["c"]);
    assert!(fourth.generation > third.generation);

    // The gateway goes down: the list stays, the failure only spaces the next attempts.
    mock.shutdown().await;
    let stale = ProviderModels {
        cache: models.cache.clone().with_ttl(Duration::ZERO),
        request: models.request.clone(),
    };
    let kept = stale.refresh(&client()).await;
    assert_eq!(kept.served_ids(), ["c"]);
    let fifth = live.current();
    assert_eq!(fifth.generation, fourth.generation);
    assert_eq!(fifth.models().len(), 1);
}
