//! The official `openai` packages as clients: Python (PyPI) and Node (npm). Each test skips
//! with one line when its package is not found: `CODEX_LITELLM_SERVE_PYTHON` names a
//! Python with `openai` installed (default `python3`), `CODEX_LITELLM_SERVE_NODE_MODULES` a
//! `node_modules` folder holding the npm `openai` package.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use codex_litellm_serve::ServeConfig;
use codex_litellm_serve::ServeError;
use codex_litellm_serve::Server;
use codex_litellm_serve::ShutdownReport;
use codex_litellm_serve::fake::FakeAgent;
use pretty_assertions::assert_eq;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

struct Running {
    base: String,
    agent: FakeAgent,
    stop: oneshot::Sender<()>,
    server: JoinHandle<Result<ShutdownReport, ServeError>>,
    _root: tempfile::TempDir,
}

/// The server with the fake agent behind it and the key `test-key`.
async fn serve() -> Running {
    let root = tempfile::tempdir().unwrap();
    let mut config = ServeConfig::new("127.0.0.1:0".parse().unwrap(), root.path().into());
    config.api_key = Some("test-key".into());
    let agent = FakeAgent::new();
    let server = Server::bind(config, Arc::new(agent.clone())).await.unwrap();
    let base = format!("http://{}/v1", server.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));
    Running {
        base,
        agent,
        stop,
        server,
        _root: root,
    }
}

impl Running {
    /// Run a client script; it prints "ok" when every check passed.
    async fn client(&self, program: &str, args: &[&str]) {
        let out = tokio::process::Command::new(program)
            .args(args)
            .output()
            .await
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
        assert_eq!(stdout.trim(), "ok");
    }

    async fn finish(self) {
        // The follow-up went to the first turn's thread with only its new input.
        let reqs = self.agent.requests();
        assert_eq!(reqs[1].thread_id.as_deref(), Some("thread-1"));
        assert_eq!(reqs[1].input, "and now?");
        let _ = self.stop.send(());
        self.server.await.unwrap().unwrap();
    }
}

fn script(name: &str) -> String {
    format!("{}/tests/clients/{name}", env!("CARGO_MANIFEST_DIR"))
}

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
    let running = serve().await;
    let base = running.base.clone();
    running
        .client(&python, &[&script("openai_python.py"), &base, "test-key"])
        .await;
    running.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_npm_package_against_the_server() {
    let modules = std::env::var("CODEX_LITELLM_SERVE_NODE_MODULES").unwrap_or_default();
    let has_node = std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if modules.is_empty() || !std::path::Path::new(&modules).join("openai").is_dir() || !has_node {
        eprintln!(
            "skipped: needs node and CODEX_LITELLM_SERVE_NODE_MODULES naming a node_modules with `openai`"
        );
        return;
    }
    let running = serve().await;
    let base = running.base.clone();
    running
        .client(
            "node",
            &[&script("openai_node.cjs"), &base, "test-key", &modules],
        )
        .await;
    running.finish().await;
}
