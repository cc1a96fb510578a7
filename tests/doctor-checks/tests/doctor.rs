//! The doctor against the mock LLM server, one test per failure kind plus a healthy setup
//! (`cargo test --workspace -- doctor` selects them).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use codex_litellm_doctor::Options;
use codex_litellm_doctor::Row;
use codex_litellm_doctor::Status;
use codex_litellm_doctor::checks_for;
use codex_litellm_doctor::exit_code;
use codex_litellm_doctor::render_human;
use codex_litellm_doctor::render_json;
use codex_litellm_mock_llm::MockLlm;
use codex_litellm_mock_llm::Response;
use codex_litellm_mock_llm::Scenario;
use codex_litellm_mock_llm::UsageMode;
use serde_json::json;
use std::time::Duration;

const KEY: &str = "sk-doctor-test-0123456789";

struct Setup {
    home: tempfile::TempDir,
    env: Vec<(String, String)>,
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
        }
    }

    fn file(self, name: &str, text: &str) -> Self {
        std::fs::write(self.home.path().join(name), text).unwrap();
        self
    }

    async fn run(&self) -> Vec<Row> {
        let env = self.env.clone();
        let lookup = move |name: &str| env.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
        let options = Options {
            timeout: Duration::from_secs(2),
            client: Some(reqwest::Client::builder().no_proxy().build().unwrap()),
            context_window: None,
        };
        let args = ["codex-litellm", "doctor"].map(String::from);
        // A hang guard, not a timing assertion: every probe is bounded by the timeout.
        tokio::time::timeout(
            Duration::from_secs(60),
            checks_for(self.home.path(), &args, &lookup, None, &options),
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
        auth.summary.contains("HTTP 401") && auth.summary.contains("<redacted>"),
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
