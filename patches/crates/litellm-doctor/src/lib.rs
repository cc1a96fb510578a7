//! `codex-litellm doctor`: the checks codex-litellm adds to upstream's `codex doctor` for
//! chat providers, in the order a user would ask "why doesn't it work?":
//!
//! 1. config parses, and would still parse for stock `codex` sharing it
//! 2. which provider, base URL and model are chosen, and why
//! 3. the base URL is reachable (DNS, refused, TLS, proxy, wrong path)
//! 4. the key is accepted
//! 5. the model is served
//! 6. a tiny chat completion works
//! 7. streaming works and ends properly (finish_reason, `[DONE]`)
//! 8. token usage is reported
//! 9. a tool call comes back (structured, as text the bridge recovers, or not at all)
//! 10. reasoning fields are seen
//! 11. the context window is known, and from where
//! 12. every model of its `fallback = [...]` list, the same checks, labelled as its fallback
//!
//! Each check is one [`Row`], shaped like a row of upstream's doctor report so one hook maps
//! it (see docs/ARCHITECTURE.md). No row ever carries a secret: the key, header values and
//! every configured query value are scrubbed from every string (whole, and any run of 8
//! characters of one), server text is redacted before it is shortened, URLs lose
//! credentials and query values, and no row carries a control character.

mod config;
mod fallback;
mod probe;
mod proxy;
mod render;
mod scrub;

pub use config::choice_row;
pub use config::config_row;
pub use probe::probe_rows;
pub use proxy::ProxyRoute;
pub use proxy::ProxySetting;
pub use render::exit_code;
pub use render::render_human;
pub use render::render_json;

use codex_litellm_bridge::BridgeOptions;
use serde::Serialize;
use std::path::Path;
use std::time::Duration;

/// Row categories, in order. Upstream's human renderer shows a row only when its category is
/// in one of its groups: the hook adds one group with these keys. Each fits upstream's
/// 12-column name field.
pub const CATEGORIES: &[&str] = &[
    "chat config",
    "chat choice",
    "chat reach",
    "chat auth",
    "chat model",
    "completion",
    "streaming",
    "usage",
    "tool calls",
    "reasoning",
    "context",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    Warning,
    Fail,
    /// Not run because an earlier check failed (upstream has no such status: map to Warning).
    Skipped,
}

/// One check: one line for humans, with the fix when it is not ok.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    /// `litellm.<check>`, stable for machines.
    pub id: String,
    pub category: String,
    pub status: Status,
    pub summary: String,
    /// `label: value` lines, as upstream's details.
    pub details: Vec<String>,
    pub remediation: Option<String>,
}

impl Row {
    pub fn new(category: &str, status: Status, summary: impl Into<String>) -> Self {
        Self {
            id: format!("litellm.{}", category.replace(' ', "_")),
            category: category.to_string(),
            status,
            summary: summary.into(),
            details: Vec::new(),
            remediation: None,
        }
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.details.push(detail.into());
        self
    }

    pub fn fix(mut self, remediation: impl Into<String>) -> Self {
        self.remediation = Some(remediation.into());
        self
    }

    fn skipped(category: &str, reason: &str) -> Self {
        Self::new(category, Status::Skipped, format!("skipped: {reason}"))
    }
}

/// What the provider is, as Codex loaded it (the hook fills it from upstream's `Config`).
#[derive(Clone, Default)]
pub struct Loaded {
    pub provider_id: String,
    pub base_url: Option<String>,
    pub model: Option<String>,
    /// The key Codex would send (from the provider's `env_key`); never printed.
    pub api_key: Option<String>,
    /// The provider's `env_key`, printed by name.
    pub api_key_env: Option<String>,
    /// Extra headers (values never printed).
    pub http_headers: Vec<(String, String)>,
    pub query_params: Vec<(String, String)>,
}

/// Where a model's context window is known from (codex-litellm-models plugs in here).
pub type ContextWindowLookup = dyn Fn(&str) -> Option<(u64, String)> + Send + Sync;

pub struct Options {
    /// Bound on each probe: connect, first byte and any silence inside a stream.
    pub timeout: Duration,
    /// HTTP client for the probes; `None` builds one that honours the proxy environment.
    pub client: Option<reqwest::Client>,
    pub context_window: Option<Box<ContextWindowLookup>>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(20),
            client: None,
            context_window: None,
        }
    }
}

/// Everything the probes need about the chosen chat provider.
#[derive(Clone)]
pub struct Target {
    pub provider_id: String,
    pub base_url: String,
    pub model: String,
    pub api_key: Option<String>,
    pub api_key_env: Option<String>,
    pub http_headers: Vec<(String, String)>,
    pub query_params: Vec<(String, String)>,
    pub bridge: BridgeOptions,
    /// The proxy the environment puts between the probes and the base URL.
    pub proxy: ProxySetting,
}

impl Target {
    /// Strings that must never appear in output: the key, every header value and every
    /// configured query value (which of them is a credential is not ours to guess:
    /// `?code=` is an Azure Functions host key).
    pub fn secrets(&self) -> Vec<String> {
        let mut secrets: Vec<String> = self
            .api_key
            .iter()
            .filter(|key| !is_placeholder_key(key))
            .cloned()
            .collect();
        secrets.extend(self.http_headers.iter().map(|(_, v)| v.clone()));
        secrets.extend(self.query_params.iter().map(|(_, v)| v.clone()));
        secrets.retain(|s| s.len() >= 4);
        // Longest first, so a secret that contains another is replaced whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        secrets
    }
}

/// Values people put in a key variable of a server without auth (llama.cpp's and LM
/// Studio's docs say `sk-no-key-required`, vLLM's `token-abc123`).
const PLACEHOLDER_KEYS: &[&str] = &[
    "sk-no-key-required",
    "no-key-required",
    "not-needed",
    "not-required",
    "placeholder",
    "anything",
    "changeme",
    "sk-dummy",
    "dummy-key",
    "fake-key",
    "token-abc123",
    "lm-studio",
    "ollama",
    "none",
    "empty",
    "dummy",
    "nokey",
    "no-key",
];

/// Keys that are not secret material: shorter than 8 characters (too short to be a real
/// key, and scrubbing one would blank out ordinary words such as "none"), or a well-known
/// placeholder. The report leaves them in place and the key row says so.
pub fn is_placeholder_key(key: &str) -> bool {
    let key = key.trim();
    key.chars().count() < scrub::MIN_RUN
        || PLACEHOLDER_KEYS
            .iter()
            .any(|known| key.eq_ignore_ascii_case(known))
}

/// All rows for a codex-litellm run: `loaded` is what Codex loaded (`None` when its config
/// failed to load: the config row then says why and the probes are skipped). Run as
/// `codex`, returns nothing (the doctor stays upstream's).
pub async fn chat_checks(loaded: Option<Loaded>, options: &Options) -> Vec<Row> {
    if !codex_litellm_runtime::is_active() {
        return Vec::new();
    }
    let home = codex_litellm_runtime::settings::codex_home();
    let args: Vec<String> = std::env::args().collect();
    let env = |name: &str| std::env::var(name).ok();
    checks_for(&home, &args, &env, loaded, options).await
}

/// [`chat_checks`] with its inputs given (tests, and callers outside Codex).
pub async fn checks_for(
    codex_home: &Path,
    args: &[String],
    env: &dyn Fn(&str) -> Option<String>,
    loaded: Option<Loaded>,
    options: &Options,
) -> Vec<Row> {
    let view = codex_litellm_runtime::load_view(codex_home);
    let config = config_row(codex_home, view.as_ref());
    let mut rows = vec![config];
    let Ok(view) = view else {
        rows.extend(skip_from("chat choice", "the configuration does not load"));
        return rows;
    };
    let (choice, target) = choice_row(&view, args, env, loaded.as_ref());
    rows.push(choice);
    let secrets = match target {
        Ok(target) => {
            rows.extend(probe_rows(&target, options).await);
            let (fallback_rows, mut secrets) = fallback::fallback_rows(&target, env, options).await;
            rows.extend(fallback_rows);
            secrets.extend(target.secrets());
            // Longest first, so a secret that contains another is replaced whole.
            secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
            secrets.dedup();
            secrets
        }
        Err(reason) => {
            rows.extend(skip_from("chat reach", &reason));
            Vec::new()
        }
    };
    for row in &mut rows {
        scrub::scrub_row(row, &secrets);
    }
    rows
}

/// Skipped rows for every category from `first` on.
fn skip_from(first: &str, reason: &str) -> Vec<Row> {
    CATEGORIES
        .iter()
        .skip_while(|c| **c != first)
        .map(|c| Row::skipped(c, reason))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(key: &str) -> Target {
        Target {
            provider_id: "litellm".into(),
            base_url: "http://127.0.0.1:4000/v1".into(),
            model: "m".into(),
            api_key: Some(key.into()),
            api_key_env: Some("LITELLM_API_KEY".into()),
            http_headers: Vec::new(),
            query_params: Vec::new(),
            bridge: BridgeOptions::default(),
            proxy: ProxySetting::for_url("http://127.0.0.1:4000/v1", &|_| None),
        }
    }

    #[test]
    fn placeholder_keys_are_not_secrets_and_real_ones_are() {
        for key in [
            "none",
            "EMPTY",
            "Dummy",
            "sk-1234",
            " sk-no-key-required ",
            "token-abc123",
        ] {
            assert!(is_placeholder_key(key), "{key}");
            assert!(target(key).secrets().is_empty(), "{key}");
        }
        for key in ["Qx7rT2mW", "sk-proj-Zq7rT2mW9xK4pL8vN3bH6cJ1fD5gS0aY"] {
            assert!(!is_placeholder_key(key), "{key}");
            assert_eq!(target(key).secrets(), [key.to_string()]);
        }
    }
}
