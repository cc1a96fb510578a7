//! Measurement (not a test): peak memory of one discovery against a loopback server whose
//! `GET /v1/models` answer is SIZE_MB megabytes (no Content-Length, streamed until close).
//! `/usr/bin/time -v target/release/examples/huge_models_answer 400` → "Maximum resident".
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::BufRead;
use std::io::BufReader;
use std::io::Write;
use std::net::TcpListener;

use codex_litellm_models::DiscoveryRequest;
use codex_litellm_models::ProviderModels;

fn serve(listener: TcpListener, size: usize) {
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut line = String::new();
        while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
            line.clear();
        }
        let _ = stream.write_all(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n{\"object\":\"list\",\"data\":[",
        );
        let mut written = 0;
        let mut i = 0u64;
        let mut chunk = String::new();
        while written < size {
            chunk.clear();
            for _ in 0..1000 {
                chunk.push_str(&format!(
                    "{{\"id\":\"model-{i:010}\",\"object\":\"model\",\"owned_by\":\"vllm\",\"max_model_len\":32768}},"
                ));
                i += 1;
            }
            if stream.write_all(chunk.as_bytes()).is_err() {
                break;
            }
            written += chunk.len();
        }
        let _ = stream.write_all(b"{\"id\":\"last\",\"object\":\"model\"}]}");
    }
}

fn main() {
    let mb: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(400);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || serve(listener, mb * 1024 * 1024));

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let request = DiscoveryRequest::new("huge", &format!("http://127.0.0.1:{port}/v1"), None)
        .with_timeout(std::time::Duration::from_secs(60));
    let models = ProviderModels::new(dir.path(), request);
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let start = std::time::Instant::now();
    let entry = runtime.block_on(models.refresh(&client));
    println!(
        "{mb} MB answer: {} models kept in {:.2} s; probes: {:?}",
        entry.models.len(),
        start.elapsed().as_secs_f64(),
        entry.probes
    );
}
