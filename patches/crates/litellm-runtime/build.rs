//! Embeds the series identity (upstream tag and commit, series version) in the binary.
//!
//! Inside codex-rs the apply step writes `series.env` next to this file. In the
//! codex-litellm repo (standalone build) the values come from `upstream.lock` and
//! `patches/VERSION`, found by walking up from this crate.

use std::collections::BTreeMap;
use std::path::Path;
use std::path::PathBuf;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let mut values = BTreeMap::new();
    let series_env = manifest_dir.join("series.env");
    println!("cargo:rerun-if-changed={}", series_env.display());
    if let Some(found) = read_key_values(&series_env) {
        values = found;
    } else if let Some(root) = manifest_dir
        .ancestors()
        .find(|dir| dir.join("upstream.lock").is_file())
    {
        let lock = root.join("upstream.lock");
        let version = root.join("patches").join("VERSION");
        println!("cargo:rerun-if-changed={}", lock.display());
        println!("cargo:rerun-if-changed={}", version.display());
        values = read_key_values(&lock).unwrap_or_default();
        if let Ok(text) = std::fs::read_to_string(&version) {
            values.insert("SERIES_VERSION".to_string(), text.trim().to_string());
        }
    }
    for key in ["UPSTREAM_TAG", "UPSTREAM_COMMIT", "SERIES_VERSION"] {
        let value = values
            .get(key)
            .cloned()
            .unwrap_or_else(|| "unknown".to_string());
        println!("cargo:rustc-env=CODEX_LITELLM_{key}={value}");
    }
}

fn read_key_values(path: &Path) -> Option<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path).ok()?;
    Some(
        text.lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .filter_map(|line| line.split_once('='))
            .map(|(key, value)| (key.trim().to_string(), value.trim().to_string()))
            .collect(),
    )
}
