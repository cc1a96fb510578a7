//! Benchmark (not a test): how long a `/models` answer with many vLLM LoRA adapters
//! (`parent`) takes from bytes to Codex's catalog JSON — the start path when there is no
//! cache. `cargo run --release -p codex-litellm-models --example parse_many_models [N]`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use codex_litellm_models::CatalogOptions;
use codex_litellm_models::ModelOverrides;
use codex_litellm_models::catalog_json;
use codex_litellm_models::parse::parse_models_list;

/// Milliseconds for JSON, `parse_models_list` and the catalog of `n` entries.
fn run(n: usize) -> (f64, f64, f64) {
    // 100 base models with a window, every other entry an adapter of one of them.
    let data: Vec<serde_json::Value> = (0..n)
        .map(|i| {
            if i < 100 {
                serde_json::json!({"id": format!("base-{i}"), "owned_by": "vllm", "max_model_len": 32768})
            } else {
                serde_json::json!({"id": format!("lora-{i}"), "owned_by": "vllm", "parent": format!("base-{}", i % 100)})
            }
        })
        .collect();
    let body = serde_json::to_vec(&serde_json::json!({"object": "list", "data": data})).unwrap();

    let start = Instant::now();
    let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let json_ms = start.elapsed().as_secs_f64() * 1e3;
    let start = Instant::now();
    let (models, _) = parse_models_list(&value).unwrap();
    let parse_ms = start.elapsed().as_secs_f64() * 1e3;
    assert_eq!(models[150].context_window, Some(32768));
    let start = Instant::now();
    let options = CatalogOptions::new("base instructions").with_required_model("lora-150");
    let catalog = catalog_json(&models, &ModelOverrides::default(), &options);
    let catalog_ms = start.elapsed().as_secs_f64() * 1e3;
    let in_catalog = catalog["models"].as_array().map_or(0, Vec::len);
    println!(
        "{n} entries, {} bytes: JSON {json_ms:.1} ms, parse_models_list {parse_ms:.1} ms ({} models), catalog {catalog_ms:.1} ms ({in_catalog} models)",
        body.len(),
        models.len(),
    );
    (json_ms, parse_ms, catalog_ms)
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(40_000);
    let small = run(n / 10);
    let large = run(n);
    // Linear work grows about 10x for 10x the entries; quadratic about 100x.
    println!(
        "10x the entries: parse_models_list {:.1}x, catalog {:.1}x the time",
        large.1 / small.1,
        large.2 / small.2
    );
}
