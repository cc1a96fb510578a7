//! `serve` with the scripted fake agent behind it, for trying clients without a model:
//! `cargo run -p codex-litellm-serve --example serve-fake -- [PORT] [ROOT]`.
//! Prints `listening on http://ADDR` once ready; stops on Ctrl-C. The key, if any, comes
//! from CODEX_LITELLM_SERVE_API_KEY.

use std::sync::Arc;

use codex_litellm_serve::ServeConfig;
use codex_litellm_serve::Server;
use codex_litellm_serve::fake::FakeAgent;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let port: u16 = match args.next() {
        Some(p) => p.parse().map_err(|_| format!("not a port: {p}"))?,
        None => codex_litellm_serve::DEFAULT_PORT,
    };
    let root = match args.next() {
        Some(r) => r.into(),
        None => std::env::current_dir()?,
    };
    let mut config = ServeConfig::new(([127, 0, 0, 1], port).into(), root);
    config.api_key = std::env::var("CODEX_LITELLM_SERVE_API_KEY").ok();
    let agent = FakeAgent::new();
    agent.open_gate();
    let server = Server::bind(config, Arc::new(agent)).await?;
    println!("listening on http://{}", server.local_addr()?);
    let report = server
        .run(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    println!("stopped: {report:?}");
    Ok(())
}
