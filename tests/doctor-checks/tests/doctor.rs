//! The doctor against the mock LLM server, one test per failure kind plus a healthy setup
//! (`cargo test --workspace -- doctor` selects them).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use codex_litellm_doctor::Loaded;
use codex_litellm_doctor::Options;
use codex_litellm_doctor::Row;
use codex_litellm_doctor::Status;
use codex_litellm_doctor::checks_for;
use codex_litellm_doctor::exit_code;
use codex_litellm_doctor::render_human;
use codex_litellm_doctor::render_json;
use codex_litellm_mock_llm::MockLlm;
use codex_litellm_mock_llm::Response;
use codex_litellm_mock_llm::Route;
use codex_litellm_mock_llm::Scenario;
use codex_litellm_mock_llm::UsageMode;
use serde_json::json;
use std::time::Duration;

const KEY: &str = "sk-doctor-test-0123456789";

struct Setup {
    home: tempfile::TempDir,
    env: Vec<(String, String)>,
    /// What Codex loaded (`None`: the doctor's own resolution from the environment).
    loaded: Option<Loaded>,
    client: Option<reqwest::Client>,
}

impl Setup {
    fn new(base_url: &str, model: &str) -> Self {
        let home = tempfile::tempdir().unwrap();
        Self {
            home,
            env: vec![
                ("LITELLM_BASE_URL".into(), base_url.into()),
                ("LITELLM_API_KEY".into(), KEY.into()),
                ("LITELLM_MODEL".into(), model.into()),
            ],
            loaded: None,
            client: None,
        }
    }

    /// As Codex would load the built-in provider with this key and these query parameters.
    fn loaded(mut self, key: &str, query: &[(&str, &str)]) -> Self {
        let env = |name: &str| {
            self.env
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
        };
        self.loaded = Some(Loaded {
            provider_id: "litellm".into(),
            base_url: env("LITELLM_BASE_URL"),
            model: env("LITELLM_MODEL"),
            api_key: Some(key.into()),
            api_key_env: Some("LITELLM_API_KEY".into()),
            http_headers: Vec::new(),
            query_params: query
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        });
        self
    }

    fn file(self, name: &str, text: &str) -> Self {
        std::fs::write(self.home.path().join(name), text).unwrap();
        self
    }

    async fn run(&self) -> Vec<Row> {
        let env = self.env.clone();
        let lookup = move |name: &str| env.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
        let client = self
            .client
            .clone()
            .unwrap_or_else(|| reqwest::Client::builder().no_proxy().build().unwrap());
        let options = Options {
            timeout: Duration::from_secs(2),
            client: Some(client),
            context_window: None,
        };
        let args = ["codex-litellm", "doctor"].map(String::from);
        // A hang guard, not a timing assertion: every probe is bounded by the timeout.
        tokio::time::timeout(
            Duration::from_secs(60),
            checks_for(
                self.home.path(),
                &args,
                &lookup,
                self.loaded.clone(),
                &options,
            ),
        )
        .await
        .expect("the doctor must finish")
    }
}

fn healthy_scenario() -> Scenario {
    let mut scenario = Scenario::new(vec![
        Response::tool_call("call_1", "get_weather", json!({"city": "Paris"}))
            .with_reasoning("the user wants weather")
            .when_body_contains("get_weather"),
    ])
    .with_fallback(Response::text("pong"));
    scenario.models = vec![json!({"id": "mock-model", "object": "model", "max_model_len": 32768})];
    scenario
}

fn row<'a>(rows: &'a [Row], category: &str) -> &'a Row {
    rows.iter()
        .find(|r| r.category == category)
        .unwrap_or_else(|| panic!("no {category} row in {}", render_human(rows)))
}

fn statuses(rows: &[Row]) -> Vec<(String, Status)> {
    rows.iter()
        .map(|r| (r.category.clone(), r.status))
        .collect()
}

/// No secret anywhere in the output, human or JSON.
fn assert_no_secret(rows: &[Row]) {
    let human = render_human(rows);
    let json = render_json(rows).to_string();
    assert!(!human.contains(KEY) && !json.contains(KEY), "{human}");
}

#[tokio::test]
async fn doctor_healthy_setup_passes_every_check() {
    let mock = MockLlm::start(healthy_scenario()).await.unwrap();
    let rows = Setup::new(&mock.base_url(), "mock-model").run().await;
    println!("{}", render_human(&rows));
    assert!(
        rows.iter().all(|r| r.status == Status::Ok),
        "{}",
        render_human(&rows)
    );
    assert_eq!(rows.len(), codex_litellm_doctor::CATEGORIES.len());
    assert!(
        row(&rows, "chat choice")
            .summary
            .contains("provider litellm (from built-in default)")
    );
    assert!(
        row(&rows, "chat choice")
            .summary
            .contains("(LITELLM_BASE_URL) · model mock-model (LITELLM_MODEL)")
    );
    assert!(
        row(&rows, "streaming")
            .summary
            .contains("finish_reason stop, then [DONE]")
    );
    assert!(
        row(&rows, "tool calls")
            .summary
            .contains("structured tool call: get_weather")
    );
    assert!(
        row(&rows, "reasoning")
            .summary
            .starts_with("reasoning text seen")
    );
    assert_eq!(
        row(&rows, "context").summary,
        "32768 tokens (from /models max_model_len)"
    );
    assert_eq!(exit_code(&rows), 0);
    assert_no_secret(&rows);
    // The key was sent.
    assert!(
        mock.chat_requests()
            .iter()
            .all(|r| r.headers.contains_key("authorization"))
    );
}

#[tokio::test]
async fn doctor_connection_refused() {
    // A port nothing listens on: bind one, then free it.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let rows = Setup::new(&format!("http://127.0.0.1:{port}/v1"), "m")
        .run()
        .await;
    println!("{}", render_human(&rows));
    let reach = row(&rows, "chat reach");
    assert_eq!(reach.status, Status::Fail);
    assert!(
        reach.summary.contains("connection refused"),
        "{}",
        reach.summary
    );
    assert!(
        reach
            .remediation
            .as_deref()
            .unwrap_or("")
            .contains("LITELLM_BASE_URL")
    );
    assert!(
        rows.iter()
            .skip_while(|r| r.category != "chat auth")
            .all(|r| r.status == Status::Skipped),
        "{}",
        render_human(&rows)
    );
    assert_eq!(exit_code(&rows), 1);
}

#[tokio::test]
async fn doctor_key_refused_and_never_printed() {
    let scenario = Scenario::new(Vec::new()).with_fallback(Response::error(
        401,
        format!(
            "Authentication Error, Invalid proxy server token passed. Received API Key = {KEY}"
        ),
    ));
    let mock = MockLlm::start(scenario).await.unwrap();
    let rows = Setup::new(&mock.base_url(), "mock-model").run().await;
    println!("{}", render_human(&rows));
    let auth = row(&rows, "chat auth");
    assert_eq!(auth.status, Status::Fail);
    assert!(
        auth.summary.contains("HTTP 401") && auth.summary.contains("[REDACTED]"),
        "{}",
        auth.summary
    );
    assert!(
        auth.remediation
            .as_deref()
            .unwrap_or("")
            .contains("LITELLM_API_KEY")
    );
    assert_no_secret(&rows);
    assert_eq!(exit_code(&rows), 1);
}

/// The healthy backend, answering `text` to every plain request.
fn answering(text: &str) -> Scenario {
    healthy_scenario().with_fallback(Response::text(text))
}

/// `LITELLM_API_KEY=none` (common for local servers) and other placeholders are not secret
/// material: the word "none" in an answer stays, nothing is scrubbed for the key, and the
/// key row says it looks like a placeholder.
#[tokio::test]
async fn doctor_placeholder_key_is_not_scrubbed_from_ordinary_words() {
    for key in ["none", "EMPTY", "dummy", "sk-no-key-required", "sk-1234"] {
        // Fresh each time: the scripted tool call is answered once.
        let mock = MockLlm::start(answering("none of the above, EMPTY dummy"))
            .await
            .unwrap();
        let mut setup = Setup::new(&mock.base_url(), "mock-model");
        setup.env.retain(|(n, _)| n != "LITELLM_API_KEY");
        setup.env.push(("LITELLM_API_KEY".into(), key.into()));
        let rows = setup.run().await;
        let human = render_human(&rows);
        assert!(
            rows.iter().all(|r| r.status == Status::Ok),
            "{key}: {human}"
        );
        assert!(
            row(&rows, "completion")
                .summary
                .contains("none of the above, EMPTY dummy"),
            "{key}: {human}"
        );
        assert!(!human.contains("[REDACTED]"), "{key}: {human}");
        assert_eq!(
            row(&rows, "chat auth").summary,
            "LITELLM_API_KEY accepted; it looks like a placeholder (short or well known), so this report does not hide it"
        );
    }
}

/// A real key of 8 characters or more is still never printed, whole or in part, and is
/// not called a placeholder.
#[tokio::test]
async fn doctor_short_real_key_is_still_scrubbed() {
    let key = "Qx7rT2mW";
    let mock = MockLlm::start(answering(&format!("your key is {key}, or {}", &key[..6])))
        .await
        .unwrap();
    let mut setup = Setup::new(&mock.base_url(), "mock-model");
    setup.env.retain(|(n, _)| n != "LITELLM_API_KEY");
    setup.env.push(("LITELLM_API_KEY".into(), key.into()));
    let rows = setup.run().await;
    let human = render_human(&rows);
    let json = render_json(&rows).to_string();
    assert!(!human.contains(key) && !json.contains(key), "{human}");
    assert!(
        row(&rows, "completion")
            .summary
            .contains("your key is [REDACTED]"),
        "{human}"
    );
    assert_eq!(row(&rows, "chat auth").summary, "LITELLM_API_KEY accepted");
}

#[tokio::test]
async fn doctor_key_not_set() {
    let mock = MockLlm::start(healthy_scenario()).await.unwrap();
    let mut setup = Setup::new(&mock.base_url(), "mock-model");
    setup.env.retain(|(n, _)| n != "LITELLM_API_KEY");
    let rows = setup.run().await;
    let auth = row(&rows, "chat auth");
    assert_eq!(auth.status, Status::Fail);
    assert!(
        auth.summary.starts_with("LITELLM_API_KEY is not set"),
        "{}",
        auth.summary
    );
}

#[tokio::test]
async fn doctor_unknown_model() {
    let mock = MockLlm::start(healthy_scenario()).await.unwrap();
    let rows = Setup::new(&mock.base_url(), "qwen-typo").run().await;
    println!("{}", render_human(&rows));
    let model = row(&rows, "chat model");
    assert_eq!(model.status, Status::Fail);
    assert_eq!(
        model.summary,
        "qwen-typo is not served here; served: mock-model"
    );
    assert_eq!(row(&rows, "completion").status, Status::Skipped);
    assert_eq!(exit_code(&rows), 1);

    let rows = Setup::new(&mock.base_url(), "mock-modl").run().await;
    assert_eq!(
        row(&rows, "chat model").summary,
        "mock-modl is not served here; did you mean `mock-model`? served: mock-model"
    );
}

#[tokio::test]
async fn doctor_model_refused_by_the_chat_endpoint_without_a_model_list() {
    let mut scenario = Scenario::new(Vec::new())
        .with_fallback(Response::error(404, "The model `qwen-typo` does not exist"));
    scenario.models = Vec::new();
    let mock = MockLlm::start(scenario).await.unwrap();
    let rows = Setup::new(&mock.base_url(), "qwen-typo").run().await;
    let model = row(&rows, "chat model");
    assert_eq!(model.status, Status::Fail, "{}", render_human(&rows));
    assert!(
        model.summary.contains("does not exist"),
        "{}",
        model.summary
    );
}

#[tokio::test]
async fn doctor_no_tool_calls() {
    let mut scenario = Scenario::new(Vec::new()).with_fallback(Response::text(
        "I cannot check the weather, but Paris is usually mild.",
    ));
    scenario.models = vec![json!("mock-model")];
    let mock = MockLlm::start(scenario).await.unwrap();
    let rows = Setup::new(&mock.base_url(), "mock-model").run().await;
    println!("{}", render_human(&rows));
    let tools = row(&rows, "tool calls");
    assert_eq!(tools.status, Status::Warning);
    assert!(
        tools.summary.starts_with("no tool call"),
        "{}",
        tools.summary
    );
    assert!(tools.remediation.is_some());
}

#[tokio::test]
async fn doctor_tool_call_written_as_text_is_recovered() {
    let scenario = Scenario::new(vec![
        Response::text("<tool_call>{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}</tool_call>")
            .when_body_contains("get_weather"),
    ])
    .with_fallback(Response::text("pong"));
    let mock = MockLlm::start(scenario).await.unwrap();
    let rows = Setup::new(&mock.base_url(), "mock-model").run().await;
    let tools = row(&rows, "tool calls");
    assert_eq!(tools.status, Status::Ok, "{}", render_human(&rows));
    assert!(
        tools.summary.starts_with("written as text"),
        "{}",
        tools.summary
    );
}

#[tokio::test]
async fn doctor_no_usage() {
    let scenario = Scenario::new(Vec::new())
        .with_fallback(Response::text("pong").with_usage_mode(UsageMode::Never));
    let mock = MockLlm::start(scenario).await.unwrap();
    let rows = Setup::new(&mock.base_url(), "mock-model").run().await;
    println!("{}", render_human(&rows));
    let usage = row(&rows, "usage");
    assert_eq!(usage.status, Status::Warning);
    assert!(
        usage.summary.starts_with("no token usage reported"),
        "{}",
        usage.summary
    );
}

#[tokio::test]
async fn doctor_stream_that_never_ends() {
    let scenario = Scenario::new(vec![
        Response::text("pong pong pong")
            .with_stall_after_events(2)
            .with_hold_open_max_ms(30_000)
            .when_body_contains("\"stream\":true"),
    ])
    .with_fallback(Response::text("pong"));
    let mock = MockLlm::start(scenario).await.unwrap();
    let rows = Setup::new(&mock.base_url(), "mock-model").run().await;
    println!("{}", render_human(&rows));
    assert_eq!(row(&rows, "completion").status, Status::Ok);
    let streaming = row(&rows, "streaming");
    assert_eq!(streaming.status, Status::Fail);
    assert!(
        streaming.summary.contains("stalled"),
        "{}",
        streaming.summary
    );
    assert!(
        streaming
            .remediation
            .as_deref()
            .unwrap_or("")
            .contains("never ended")
    );
    assert_eq!(exit_code(&rows), 1);
}

#[tokio::test]
async fn doctor_base_url_missing_v1() {
    let mut scenario = Scenario::new(Vec::new()).with_fallback(Response::error(404, "Not Found"));
    scenario.responses = vec![Response::text("pong").when_path("/v1/chat/completions")];
    let mock = MockLlm::start(scenario).await.unwrap();
    let rows = Setup::new(&mock.root_url(), "mock-model").run().await;
    println!("{}", render_human(&rows));
    let completion = row(&rows, "completion");
    assert_eq!(completion.status, Status::Fail);
    assert_eq!(
        completion.remediation.as_deref(),
        Some(
            format!(
                "set base_url to {}/v1 for provider litellm",
                mock.root_url()
            )
            .as_str()
        )
    );
}

#[tokio::test]
async fn doctor_config_that_stock_codex_would_warn_about_or_refuse() {
    let mock = MockLlm::start(healthy_scenario()).await.unwrap();
    let legacy = Setup::new(&mock.base_url(), "mock-model")
        .file("config.toml", "[litellm]\nmodel = \"mock-model\"\n")
        .run()
        .await;
    let config = row(&legacy, "chat config");
    assert_eq!(config.status, Status::Warning);
    assert!(config.summary.contains("[litellm]") && config.summary.contains("warns"));
    // The doctor only reads: config.toml is unchanged.
    let refused = Setup::new(&mock.base_url(), "mock-model").file(
        "config.toml",
        "[model_providers.x]\nname = \"x\"\nbase_url = \"http://h/v1\"\nwire_api = \"chat\"\n",
    );
    let rows = refused.run().await;
    assert_eq!(row(&rows, "chat config").status, Status::Fail);
    assert!(
        std::fs::read_to_string(refused.home.path().join("config.toml"))
            .unwrap()
            .contains("wire_api"),
        "the doctor must not migrate"
    );
    let unknown_to_stock = Setup::new(&mock.base_url(), "mock-model")
        .file("config.toml", "model_provider = \"vllm\"\n")
        .file(
            "litellm.toml",
            "[providers.vllm]\nbase_url = \"http://gpu:8000/v1\"\n",
        )
        .run()
        .await;
    let config = row(&unknown_to_stock, "chat config");
    assert_eq!(config.status, Status::Fail);
    assert!(
        config
            .remediation
            .as_deref()
            .unwrap_or("")
            .contains("provider = \"vllm\""),
        "{config:?}"
    );
}

#[tokio::test]
async fn doctor_skips_probes_for_a_responses_provider() {
    let rows = Setup::new("http://127.0.0.1:9/v1", "gpt-5.5")
        .file("litellm.toml", "provider = \"openai\"\n")
        .run()
        .await;
    assert_eq!(
        statuses(&rows)[..3],
        [
            ("chat config".to_string(), Status::Ok),
            ("chat choice".to_string(), Status::Ok),
            ("chat reach".to_string(), Status::Skipped),
        ]
    );
    assert_eq!(exit_code(&rows), 0);
}

/// A 43-character key of no known shape: only its literal value identifies it.
const PLAIN_KEY: &str = "Zq7rT2mW9xK4pL8vN3bH6cJ1fD5gS0aY7eU2iO4wQ9t";
/// An Azure Functions host key, sent as `?code=`.
const HOST_KEY: &str = "AzFnHostKey_Qm3Xr8Tz1Lw6Pv2Ks9Dn4Hb7Jc0Gf";

/// The longest run of `secret`'s characters found in `text` (0 when none).
fn longest_run(text: &str, secret: &str) -> usize {
    let chars: Vec<char> = secret.chars().collect();
    (1..=chars.len())
        .rev()
        .find(|len| {
            chars
                .windows(*len)
                .any(|w| text.contains(&w.iter().collect::<String>()))
        })
        .unwrap_or(0)
}

/// Both outputs, for the secret checks.
fn outputs(rows: &[Row]) -> String {
    format!("{}\n{}", render_human(rows), render_json(rows))
}

/// How a backend may echo a credential in an error body.
#[derive(Debug, Clone, Copy)]
enum Echo {
    Key,
    BearerHeader,
    RequestLine,
}

impl Echo {
    fn text(self) -> String {
        match self {
            Echo::Key => PLAIN_KEY.to_string(),
            Echo::BearerHeader => format!("Authorization: Bearer {PLAIN_KEY}"),
            Echo::RequestLine => format!("POST /v1/chat/completions?code={HOST_KEY}"),
        }
    }
}

/// An error body with `echo` starting at character `at` of the text a backend shows.
fn echoing(status: u16, echo: Echo, at: usize, json: bool) -> Response {
    let filler: String = "the gateway rejected this request. "
        .chars()
        .cycle()
        .take(at)
        .collect();
    let text = format!("{filler}{} (request id 7f3a)", echo.text());
    let response = if json {
        Response::json(json!({"error": {"message": text, "type": "auth_error"}}))
    } else {
        Response::body(text)
    };
    response.with_status(status)
}

/// One doctor run against a backend whose error answer echoes `echo` at character `at`:
/// the longest runs of the key and of the query secret in the output.
async fn echo_run(client: reqwest::Client, status: u16, echo: Echo, at: usize) -> [usize; 2] {
    // Both body kinds across the sweep (they are shortened on different paths): JSON at
    // even positions, text at odd ones.
    let response = echoing(status, echo, at, at.is_multiple_of(2));
    let mut scenario = Scenario::new(Vec::new());
    if status == 401 {
        scenario.routes = vec![Route {
            response,
            ..Route::get_status("/v1/models", 401)
        }];
    } else {
        scenario.models = vec![json!("mock-model")];
        scenario.fallback = response;
    }
    let mock = MockLlm::start(scenario).await.unwrap();
    let mut setup =
        Setup::new(&mock.base_url(), "mock-model").loaded(PLAIN_KEY, &[("code", HOST_KEY)]);
    setup.client = Some(client);
    let out = outputs(&setup.run().await);
    [longest_run(&out, PLAIN_KEY), longest_run(&out, HOST_KEY)]
}

/// Issue 22 (1, 2): whatever a 401 (from /models) or a 400 (from the chat endpoint) echoes,
/// wherever the echo sits relative to the places text is shortened, no 8-character run of
/// the key or of a query secret reaches the human output or the JSON.
#[tokio::test]
async fn doctor_never_prints_part_of_a_secret_whatever_the_server_echoes() {
    // The doctor's future is not Send (its environment lookup): runs overlap on this thread.
    let local = tokio::task::LocalSet::new();
    local.run_until(sweep_echo_positions()).await;
}

async fn sweep_echo_positions() {
    // One client for every run (building one loads the TLS roots each time).
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let mut figures: Vec<String> = Vec::new();
    let mut failures: Vec<String> = Vec::new();
    for status in [401u16, 400] {
        for echo in [Echo::Key, Echo::BearerHeader, Echo::RequestLine] {
            // (longest run, echo position) of the key and of the query secret.
            let mut longest = [(0, 0), (0, 0)];
            // A cut through the 43-character key leaks 8 characters or more at 35 echo
            // positions in a row: a step of 7 finds every such cut (and keeps the test short).
            let positions: Vec<usize> = (0..=700).step_by(7).collect();
            for chunk in positions.chunks(16) {
                let mut runs = tokio::task::JoinSet::new();
                for &at in chunk {
                    let client = client.clone();
                    runs.spawn_local(async move { (at, echo_run(client, status, echo, at).await) });
                }
                while let Some(joined) = runs.join_next().await {
                    let (at, found) = joined.unwrap();
                    for (n, run) in found.into_iter().enumerate() {
                        if run > longest[n].0 {
                            longest[n] = (run, at);
                        }
                    }
                }
            }
            let case = format!(
                "HTTP {status} {echo:?}: longest run of the key {} of {} chars (echo at {}), of the query secret {} of {} (echo at {})",
                longest[0].0,
                PLAIN_KEY.len(),
                longest[0].1,
                longest[1].0,
                HOST_KEY.len(),
                longest[1].1,
            );
            if longest[0].0 >= 8 || longest[1].0 >= 8 {
                failures.push(case.clone());
            }
            figures.push(case);
        }
    }
    // The figures only (never the secrets).
    println!("{}", figures.join("\n"));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Issue 22 (2): `?code=` (Azure Functions host keys) is a secret, and so is every other
/// configured query value.
#[tokio::test]
async fn doctor_never_prints_a_configured_query_value() {
    let scenario = Scenario::new(Vec::new()).with_fallback(Response::error(400, "bad request"));
    let mock = MockLlm::start(scenario).await.unwrap();
    let rows = Setup::new(&mock.base_url(), "mock-model")
        .loaded(
            PLAIN_KEY,
            &[("code", HOST_KEY), ("tenant", "contoso-tenant-7781")],
        )
        .run()
        .await;
    let completion = row(&rows, "completion");
    assert_eq!(completion.status, Status::Fail, "{}", render_human(&rows));
    let out = outputs(&rows);
    assert!(longest_run(&out, HOST_KEY) < 8, "the host key is shown");
    assert!(
        !out.contains("contoso-tenant-7781"),
        "a query value is shown"
    );
    // The request is still named, with the parameter names.
    assert!(
        completion
            .details
            .iter()
            .any(|d| d.starts_with("POST ") && d.contains("?code=***&tenant=***")),
        "{:?}",
        completion.details
    );
    // The server got the real values.
    assert_eq!(
        mock.chat_requests()[0].query.as_deref(),
        Some(format!("code={HOST_KEY}&tenant=contoso-tenant-7781").as_str())
    );
}

/// Issue 22 (low): what a backend names (model ids, error texts) reaches the terminal
/// without control characters: an OSC 52 clipboard write stays text.
#[tokio::test]
async fn doctor_strips_control_characters_from_backend_text() {
    let osc52 = "\u{1b}]52;c;cm0gLXJmIH4=\u{7}";
    let mut scenario = Scenario::new(Vec::new())
        .with_fallback(Response::error(400, format!("no{osc52} thanks\u{9b}2J")));
    scenario.models = vec![json!(format!("mock-model{osc52}")), json!("mock-model")];
    let mock = MockLlm::start(scenario).await.unwrap();
    for model in ["mock-modl", "mock-model"] {
        let rows = Setup::new(&mock.base_url(), model).run().await;
        for row in &rows {
            for text in std::iter::once(&row.summary)
                .chain(&row.details)
                .chain(&row.remediation)
            {
                assert!(
                    !text.chars().any(char::is_control),
                    "{}: {text:?}",
                    row.category
                );
            }
        }
        let out = outputs(&rows);
        assert!(!out.contains("\\u001b") && !out.contains('\u{1b}'), "{out}");
    }
    let rows = Setup::new(&mock.base_url(), "mock-modl").run().await;
    assert!(
        row(&rows, "chat model")
            .summary
            .contains("served: mock-model]52;c;cm0gLXJmIH4=, mock-model"),
        "{}",
        render_human(&rows)
    );
}

/// Issue 22 (low): with a proxy in the way, a refused connection is the proxy's.
#[tokio::test]
async fn doctor_names_a_refused_proxy() {
    let mock = MockLlm::start(healthy_scenario()).await.unwrap();
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let proxy = format!("http://127.0.0.1:{port}");
    let mut setup = Setup::new(&mock.base_url(), "mock-model");
    setup.env.push(("HTTP_PROXY".into(), proxy.clone()));
    setup.client = Some(
        reqwest::Client::builder()
            .proxy(reqwest::Proxy::http(&proxy).unwrap())
            .build()
            .unwrap(),
    );
    let rows = setup.run().await;
    let reach = row(&rows, "chat reach");
    assert_eq!(reach.status, Status::Fail, "{}", render_human(&rows));
    assert!(
        reach.summary.contains(&format!(
            "the proxy 127.0.0.1:{port} (HTTP_PROXY) refused the connection"
        )),
        "{}",
        reach.summary
    );
    let fix = reach.remediation.as_deref().unwrap_or("");
    assert!(
        fix.contains("HTTP_PROXY") && fix.contains("NO_PROXY"),
        "{fix}"
    );
    assert!(mock.chat_requests().is_empty());

    // The host in NO_PROXY: the doctor does not blame the proxy.
    let mut direct = Setup::new(&mock.base_url(), "mock-model");
    direct.env.push(("HTTP_PROXY".into(), proxy.clone()));
    direct
        .env
        .push(("NO_PROXY".into(), "localhost,127.0.0.1".into()));
    let rows = direct.run().await;
    assert_eq!(row(&rows, "chat reach").status, Status::Ok);
}

/// A backend serving `models`, answering every request with a tool (the doctor's tool
/// probe) with a call, several times: one doctor run probes each model once.
fn serving(models: &[&str], text: &str) -> Scenario {
    let call = || {
        Response::tool_call("call_1", "get_weather", json!({"city": "Paris"}))
            .when_body_contains("get_weather")
    };
    let mut scenario =
        Scenario::new((0..4).map(|_| call()).collect()).with_fallback(Response::text(text));
    scenario.models = models
        .iter()
        .map(|id| json!({"id": id, "object": "model", "max_model_len": 32768}))
        .collect();
    scenario
}

/// The rows of one fallback entry, by its label.
fn fallback_of<'a>(rows: &'a [Row], entry: &str) -> Vec<&'a Row> {
    let label = format!("fallback {entry} (of mock-model): ");
    rows.iter()
        .filter(|r| r.summary.starts_with(&label))
        .collect()
}

/// Issue 19: every model of the `fallback` list gets the primary's checks, labelled as its
/// fallback; one the backend does not serve is a failed row saying how to fix the list.
#[tokio::test]
async fn doctor_checks_every_fallback_like_the_primary() {
    let mock = MockLlm::start(serving(&["mock-model", "backup-model"], "pong"))
        .await
        .unwrap();
    let rows = Setup::new(&mock.base_url(), "mock-model")
        .file(
            "litellm.toml",
            "[models.\"mock-model\"]\nfallback = [\"backup-model\", \"typo-model\"]\n",
        )
        .run()
        .await;
    println!("{}", render_human(&rows));
    // The primary's rows first, as without a list.
    assert!(
        rows[..codex_litellm_doctor::CATEGORIES.len()]
            .iter()
            .all(|r| r.status == Status::Ok && !r.summary.starts_with("fallback"))
    );

    let backup = fallback_of(&rows, "backup-model");
    let categories: Vec<&str> = backup.iter().map(|r| r.category.as_str()).collect();
    // Same provider: its reach and key rows would repeat the primary's.
    assert_eq!(
        categories,
        [
            "chat model",
            "completion",
            "streaming",
            "usage",
            "tool calls",
            "reasoning",
            "context"
        ]
    );
    assert!(
        backup.iter().all(|r| r.status == Status::Ok),
        "{}",
        render_human(&rows)
    );
    assert_eq!(
        backup[0].summary,
        "fallback backup-model (of mock-model): backup-model is served (2 models listed)"
    );
    assert_eq!(backup[0].id, "litellm.fallback_1.chat_model");
    assert!(
        backup[4]
            .summary
            .ends_with("structured tool call: get_weather({\"city\":\"Paris\"})"),
        "{}",
        backup[4].summary
    );
    assert!(
        mock.chat_requests()
            .iter()
            .any(|r| r.body["model"] == "backup-model"),
        "the fallback itself was asked"
    );

    let typo = fallback_of(&rows, "typo-model");
    assert_eq!(typo[0].category, "chat model");
    assert_eq!(typo[0].status, Status::Fail);
    assert!(
        typo[0].summary.contains("typo-model is not served here"),
        "{}",
        typo[0].summary
    );
    assert_eq!(
        typo[0].remediation.as_deref(),
        Some(
            "fix the fallback list: \"typo-model\" in `fallback` of [models.\"mock-model\"] in litellm.toml names a model litellm does not serve; write one it serves, or remove it"
        )
    );
    assert!(typo[1..].iter().all(|r| r.status == Status::Skipped));
    assert_eq!(exit_code(&rows), 1);
    assert_no_secret(&rows);
}

/// `<provider>/<model>`: checked against that provider with its own base URL and key (never
/// printed either); a provider codex-litellm cannot reach as a fallback is said so plainly.
#[tokio::test]
async fn doctor_checks_a_fallback_on_another_provider_with_its_own_key() {
    const OTHER_KEY: &str = "sk-b4ck-Zq7rT2mW9xK4pL8vN3";
    let primary = MockLlm::start(serving(&["mock-model"], "pong"))
        .await
        .unwrap();
    let other = MockLlm::start(serving(&["other-model"], &format!("pong {OTHER_KEY}")))
        .await
        .unwrap();
    let mut setup = Setup::new(&primary.base_url(), "mock-model").file(
        "litellm.toml",
        &format!(
            r#"[providers.backup]
base_url = "{}"
env_key = "BACKUP_KEY"

[providers.cfgonly.bridge]
mode = "buffered"

[providers.litellm]
fallback = ["backup/other-model", "cfgonly/some-model"]
"#,
            other.base_url()
        ),
    );
    setup.env.push(("BACKUP_KEY".into(), OTHER_KEY.into()));
    let rows = setup.run().await;
    println!("{}", render_human(&rows));

    let backup = fallback_of(&rows, "backup/other-model");
    let categories: Vec<&str> = backup.iter().map(|r| r.category.as_str()).collect();
    assert_eq!(categories, &codex_litellm_doctor::CATEGORIES[2..]);
    assert!(
        backup.iter().all(|r| r.status == Status::Ok),
        "{}",
        render_human(&rows)
    );
    assert_eq!(
        backup[1].summary,
        "fallback backup/other-model (of mock-model): BACKUP_KEY accepted"
    );
    assert!(
        backup[3].summary.contains("[REDACTED]"),
        "the other provider's key is scrubbed: {}",
        backup[3].summary
    );
    assert!(
        !other.chat_requests().is_empty(),
        "the other provider was asked"
    );
    assert!(
        primary
            .chat_requests()
            .iter()
            .all(|r| r.body["model"] == "mock-model")
    );

    let unreachable = fallback_of(&rows, "cfgonly/some-model");
    assert_eq!(unreachable.len(), 1);
    assert_eq!(unreachable[0].status, Status::Warning);
    assert!(
        unreachable[0]
            .summary
            .contains("not checked: provider cfgonly has no base_url in litellm.toml"),
        "{}",
        unreachable[0].summary
    );
    let human = render_human(&rows);
    let json = render_json(&rows).to_string();
    assert!(
        !human.contains(OTHER_KEY) && !json.contains(OTHER_KEY),
        "{human}"
    );
    assert_no_secret(&rows);
}
