//! codex-litellm and a stock `codex` (CODEX_STOCK_NEW_BIN, else CODEX_STOCK_BIN) on ONE
//! CODEX_HOME, as users run them: stock talks Responses to a mock provider named in
//! config.toml, codex-litellm talks Chat Completions to the same mock through its built-in
//! `litellm` provider. The runs happen once, in this order (each after the other's):
//! stock, codex-litellm, stock again, each resuming the other's session; every test
//! checks one thing about them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use codex_litellm_e2e::*;
use serde_json::Value;
use serde_json::json;
use std::path::PathBuf;
use std::sync::OnceLock;

struct Runs {
    stock1: Run,
    litellm1: Run,
    stock2: Run,
    litellm_resume: Option<Run>,
    stock_resume: Option<Run>,
    chat_seen: bool,
    config_before: String,
    config_after: String,
    sessions: usize,
}

fn runs() -> Option<&'static Runs> {
    static RUNS: OnceLock<Option<Runs>> = OnceLock::new();
    RUNS.get_or_init(|| {
        let litellm = litellm_bin()?;
        let var = match std::env::var_os("CODEX_STOCK_NEW_BIN") {
            Some(_) => "CODEX_STOCK_NEW_BIN",
            None => "CODEX_STOCK_BIN",
        };
        let stock = bin(var, "a stock codex binary")?;
        Some(run_all(&litellm, &stock))
    })
    .as_ref()
}

fn run_all(litellm: &PathBuf, stock: &PathBuf) -> Runs {
    let dirs = Dirs::new();
    let mock = Mock::from_json(
        json!({"comment": "one answer for every request, chat or Responses", "responses_api": true,
               "models": ["mock-model"], "fallback": {"text": "shared-home answer"}}),
        0,
    );
    // The stock user's own provider, and a [model_providers.litellm] table: codex-litellm
    // merges it over its built-in provider; stock needs it to resume a session made with
    // "litellm" (and then talks the gateway's own /responses API).
    let url = mock.url();
    let config = format!(
        "model = \"mock-model\"\nmodel_provider = \"mock-responses\"\n\n\
         [model_providers.mock-responses]\nname = \"Mock (Responses)\"\nbase_url = \"{url}\"\nenv_key = \"SHARED_HOME_KEY\"\n\n\
         [model_providers.litellm]\nname = \"LiteLLM\"\nbase_url = \"{url}\"\nenv_key = \"LITELLM_API_KEY\"\n"
    );
    let config_path = dirs.home.join("config.toml");
    std::fs::write(&config_path, config).unwrap();
    let run = |bin: &PathBuf, args: &[&str]| {
        dirs.cmd(bin)
            .env("SHARED_HOME_KEY", "sk-shared-home")
            .env("LITELLM_API_KEY", "sk-shared-home")
            .env("LITELLM_BASE_URL", &url)
            .env("LITELLM_MODEL", "mock-model")
            .args(["exec", "--json", "--skip-git-repo-check"])
            .args(args)
            .run()
    };
    let stock1 = run(stock, &["stock says hello"]);
    let config_before = read(&config_path);
    let litellm1 = run(litellm, &["codex-litellm says hello"]);
    let chat_seen = mock
        .requests()
        .iter()
        .any(|r| r.path == "/v1/chat/completions");
    let stock2 = run(stock, &["stock again"]);
    let config_after = read(&config_path);
    let litellm_resume = thread_of(&stock1).map(|t| {
        run(
            litellm,
            &["resume", &t, "codex-litellm continues stock's session"],
        )
    });
    // Stock keeps a thread on the provider it was made with ("Cannot change this thread's
    // model provider"): name it.
    let stock_resume = thread_of(&litellm1).map(|t| {
        run(
            stock,
            &[
                "-c",
                "model_provider=litellm",
                "resume",
                &t,
                "stock continues codex-litellm's session",
            ],
        )
    });
    let files = files_under(&dirs.home.join("sessions")).into_iter();
    let sessions = files
        .filter(|f| f.to_string_lossy().contains("/rollout-"))
        .count();
    Runs {
        stock1,
        litellm1,
        stock2,
        litellm_resume,
        stock_resume,
        chat_seen,
        config_before,
        config_after,
        sessions,
    }
}

fn thread_of(run: &Run) -> Option<String> {
    let events = run
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok());
    events
        .into_iter()
        .find_map(|e| Some(e["thread_id"].as_str()?.to_string()))
}

#[track_caller]
fn assert_answered(run: Option<&Run>, what: &str) {
    let run = run.unwrap_or_else(|| panic!("{what}: the other binary printed no thread id"));
    run.assert_success();
    assert!(
        run.stdout.contains("shared-home answer"),
        "{what}: no answer in {}",
        tail(&run.stdout, 400)
    );
}

#[test]
fn stock_starts_on_shared_home() {
    let Some(r) = runs() else { return };
    assert_answered(Some(&r.stock1), "stock");
}

#[test]
fn codex_litellm_starts_on_shared_home() {
    let Some(r) = runs() else { return };
    assert_answered(Some(&r.litellm1), "codex-litellm");
}

#[test]
fn codex_litellm_used_chat_completions() {
    let Some(r) = runs() else { return };
    assert!(
        r.chat_seen,
        "no /v1/chat/completions request reached the mock"
    );
}

#[test]
fn stock_starts_after_codex_litellm() {
    let Some(r) = runs() else { return };
    assert_answered(Some(&r.stock2), "stock after codex-litellm");
}

#[test]
fn stock_prints_no_warning_about_our_settings() {
    let Some(r) = runs() else { return };
    let ours: Vec<&str> = r
        .stock2
        .stderr
        .lines()
        .filter(|l| {
            let l = l.to_lowercase();
            l.contains("unrecognized configuration")
                || l.contains("litellm_bridge")
                || l.find("litellm")
                    .is_some_and(|i| l[i..].contains(" is ignored"))
        })
        .collect();
    assert_eq!(ours, Vec::<&str>::new());
}

#[test]
fn config_toml_not_rewritten() {
    let Some(r) = runs() else { return };
    pretty_assertions::assert_eq!(r.config_before, r.config_after);
}

#[test]
fn codex_litellm_resumes_stocks_session() {
    let Some(r) = runs() else { return };
    assert_answered(
        r.litellm_resume.as_ref(),
        "codex-litellm resuming stock's session",
    );
}

#[test]
fn stock_resumes_codex_litellms_session() {
    let Some(r) = runs() else { return };
    assert_answered(
        r.stock_resume.as_ref(),
        "stock resuming codex-litellm's session",
    );
}

#[test]
fn one_session_list() {
    let Some(r) = runs() else { return };
    assert!(
        r.sessions >= 2,
        "{} rollout file(s) under sessions/, wanted both binaries' sessions",
        r.sessions
    );
}
