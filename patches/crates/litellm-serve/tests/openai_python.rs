//! The official `openai` Python package as the client. Skips (one line) when no Python
//! with `openai` is found; `CODEX_LITELLM_SERVE_PYTHON` names the interpreter.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use codex_litellm_serve::ServeConfig;
use codex_litellm_serve::Server;
use codex_litellm_serve::fake::FakeAgent;
use pretty_assertions::assert_eq;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_python_package_against_the_server() {
    let python = std::env::var("CODEX_LITELLM_SERVE_PYTHON").unwrap_or("python3".into());
    let has_openai = std::process::Command::new(&python)
        .args(["-c", "import openai"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_openai {
        eprintln!("skipped: no `openai` package for {python} (set CODEX_LITELLM_SERVE_PYTHON)");
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let mut config = ServeConfig::new("127.0.0.1:0".parse().unwrap(), root.path().into());
    config.api_key = Some("test-key".into());
    let agent = FakeAgent::new();
    let server = Server::bind(config, Arc::new(agent.clone())).await.unwrap();
    let base = format!("http://{}/v1", server.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/clients/openai_python.py"
    );
    let out = tokio::process::Command::new(&python)
        .args([script, &base, "test-key"])
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert_eq!(stdout.trim(), "ok");
    // The follow-up went to the first turn's thread with only its new input.
    let reqs = agent.requests();
    assert_eq!(reqs[1].thread_id.as_deref(), Some("thread-1"));
    assert_eq!(reqs[1].input, "and now?");
    let _ = stop.send(());
    running.await.unwrap().unwrap();
}
