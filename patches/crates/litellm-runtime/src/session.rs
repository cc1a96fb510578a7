//! What this run talks to, for the line codex-litellm shows at start (exec on stderr, the
//! TUI in its session header), and how codex-litellm names itself in the TUI.

use crate::identity::BINARY_NAME;
use crate::identity::series;
use std::sync::Mutex;
use std::sync::PoisonError;

/// The provider Codex resolved for this run, as config loading reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionProvider {
    pub id: String,
    pub base_url: Option<String>,
    pub model: Option<String>,
    /// Whether codex-litellm bridges it (a chat provider) or Codex talks Responses to it.
    pub bridged: bool,
    /// Said once about the selected model (assumed context window, no tool support).
    pub notices: Vec<String>,
    /// The backend lists its models and the selected one is not among them (the message
    /// names close matches).
    pub unknown_model: Option<String>,
}

static SESSION_PROVIDER: Mutex<Option<SessionProvider>> = Mutex::new(None);

/// Called when config loading resolves the provider (the last resolution wins).
pub fn note_session_provider(provider: SessionProvider) {
    *SESSION_PROVIDER
        .lock()
        .unwrap_or_else(PoisonError::into_inner) = Some(provider);
}

pub fn session_provider() -> Option<SessionProvider> {
    SESSION_PROVIDER
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
}

/// `provider litellm (chat, bridged) · http://gw:4000/v1 · model qwen3-coder`; secrets in
/// the URL are redacted.
pub fn describe(provider: &SessionProvider) -> String {
    let kind = if provider.bridged {
        "chat, bridged"
    } else {
        "Responses API, not bridged"
    };
    let mut line = format!("provider {} ({kind})", provider.id);
    if let Some(url) = &provider.base_url {
        line.push_str(" · ");
        line.push_str(&codex_litellm_bridge::redact_url(url));
    }
    match &provider.model {
        Some(model) => {
            line.push_str(" · model ");
            line.push_str(model);
        }
        None => line.push_str(" · model not set"),
    }
    line
}

/// The TUI session header's provider row, with where each value came from
/// (`provider litellm (from litellm.toml provider) · http://gw:4000/v1 (LITELLM_BASE_URL) ·
/// model qwen3-coder (LITELLM_MODEL)`); `None` when run as `codex`.
pub fn session_provider_line() -> Option<String> {
    if !crate::is_codex_litellm() {
        return None;
    }
    session_provider().map(|provider| {
        crate::start_line(
            &provider.id,
            provider.base_url.as_deref(),
            provider.model.as_deref(),
        )
        .unwrap_or_else(|| describe(&provider))
    })
}

/// The TUI session header's rows: the provider line, then warnings and notices about the
/// model; empty when run as `codex`.
pub fn session_header_lines() -> Vec<String> {
    let Some(line) = session_provider_line() else {
        return Vec::new();
    };
    let mut lines = vec![line];
    if let Some(provider) = session_provider() {
        lines.extend(provider.unknown_model.iter().map(|m| format!("⚠ {m}")));
        lines.extend(provider.notices.iter().map(|n| format!("⚠ {n}")));
    }
    lines
}

/// What `codex-litellm exec` says first, on stderr. A model the backend does not serve
/// ends the run here, before the prompt is sent, naming the close matches.
pub fn print_exec_start_line() {
    let Some(line) = session_provider_line() else {
        return;
    };
    eprintln!("{BINARY_NAME}: {line}");
    let Some(provider) = session_provider() else {
        return;
    };
    if let Some(unknown) = &provider.unknown_model {
        eprintln!("{BINARY_NAME}: error: {unknown}");
        std::process::exit(2);
    }
    for notice in &provider.notices {
        eprintln!("{notice}");
    }
}

/// The product name and version shown in the TUI: upstream's when run as `codex`.
pub fn product_title(upstream_name: &str, upstream_version: &str) -> (String, String) {
    if crate::is_codex_litellm() {
        let series = series();
        (
            BINARY_NAME.to_string(),
            format!("v{}, upstream {}", series.version(), series.upstream_tag),
        )
    } else {
        (upstream_name.to_string(), format!("v{upstream_version}"))
    }
}

/// Whether the `/status` card leaves out OpenAI account rows (rate-limit "Limits"): for
/// codex-litellm on a provider without OpenAI auth (upstream already hides the ChatGPT
/// usage link there).
pub fn hides_openai_account_rows(shows_chatgpt_usage_link: bool) -> bool {
    !shows_chatgpt_usage_link && crate::is_codex_litellm()
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn the_start_line_names_provider_url_and_model_without_secrets() {
        let provider = SessionProvider {
            id: "litellm".to_string(),
            base_url: Some("http://user:hunter2@gw:4000/v1?api_key=sk-secret".to_string()),
            model: Some("qwen3-coder".to_string()),
            bridged: true,
            notices: Vec::new(),
            unknown_model: None,
        };
        let line = describe(&provider);
        assert!(
            line.starts_with("provider litellm (chat, bridged) · http://"),
            "{line}"
        );
        assert!(line.ends_with(" · model qwen3-coder"), "{line}");
        assert!(
            !line.contains("hunter2") && !line.contains("sk-secret"),
            "{line}"
        );

        let responses = SessionProvider {
            id: "openai".to_string(),
            base_url: None,
            model: None,
            bridged: false,
            notices: Vec::new(),
            unknown_model: None,
        };
        assert_eq!(
            describe(&responses),
            "provider openai (Responses API, not bridged) · model not set"
        );
    }

    #[test]
    fn run_as_codex_the_title_is_upstreams() {
        // The test binary is not called codex-litellm (and the identity variable is unset).
        if crate::is_codex_litellm() {
            return;
        }
        assert_eq!(
            product_title("OpenAI Codex", "0.148.0"),
            ("OpenAI Codex".to_string(), "v0.148.0".to_string())
        );
        assert!(!hides_openai_account_rows(false));
        assert_eq!(session_provider_line(), None);
    }
}
