//! What this run talks to, for the line codex-litellm shows at start (exec on stderr, the
//! TUI in its session header), and how codex-litellm names itself in the TUI.

use crate::identity::BINARY_NAME;
use crate::identity::series;
use codex_litellm_models::display_safe;
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
/// the URL are redacted, control characters dropped.
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
    display_safe(&line)
}

/// The line `codex-litellm exec` starts with, with where each value came from
/// (`provider litellm (from litellm.toml provider) · http://gw:4000/v1 (LITELLM_BASE_URL) ·
/// model qwen3-coder (LITELLM_MODEL)`); `None` when run as `codex`.
pub fn session_provider_line() -> Option<String> {
    if !crate::is_codex_litellm() {
        return None;
    }
    session_provider().map(|provider| {
        start_line_of(&provider).map_or_else(|| describe(&provider), |line| line.to_string())
    })
}

fn start_line_of(provider: &SessionProvider) -> Option<crate::global::StartLine> {
    crate::start_line(
        &provider.id,
        provider.base_url.as_deref(),
        provider.model.as_deref(),
    )
}

/// The TUI session header's rows under upstream's `model:` and `directory:` rows, as
/// (dim label, value): `provider:` and `base URL:` with where each came from (the model's
/// row is upstream's), then the model's warnings (not served, assumed context window, no
/// tools) wrapped to `inner_width`. Labels are padded to `label_width` like upstream's.
/// Empty when run as `codex`.
pub fn session_header_rows(label_width: usize, inner_width: usize) -> Vec<(String, String)> {
    if !crate::is_codex_litellm() {
        return Vec::new();
    }
    let Some(provider) = session_provider() else {
        return Vec::new();
    };
    let Some(line) = start_line_of(&provider) else {
        return Vec::new();
    };
    let warnings: Vec<&str> = provider
        .unknown_model
        .iter()
        .chain(&provider.notices)
        .map(|text| text.strip_prefix("codex-litellm: ").unwrap_or(text))
        .collect();
    header_rows(&line, &warnings, label_width, inner_width)
}

fn header_rows(
    line: &crate::global::StartLine,
    warnings: &[&str],
    label_width: usize,
    inner_width: usize,
) -> Vec<(String, String)> {
    let mut provider = line.provider.clone();
    if line.not_bridged {
        provider.push_str(" · Responses API, not bridged");
    }
    let mut rows = vec![
        (format!("{:<label_width$} ", "provider:"), provider),
        (
            format!("{:<label_width$} ", "base URL:"),
            line.base_url.clone(),
        ),
    ];
    for warning in warnings {
        // The warnings name the backend's models.
        let parts = wrap_words(
            &display_safe(warning),
            inner_width.saturating_sub(2).max(20),
        );
        for (n, part) in parts.into_iter().enumerate() {
            rows.push((if n == 0 { "⚠ " } else { "  " }.to_string(), part));
        }
    }
    rows
}

/// Greedy word wrap to `width` characters; a word longer than that gets a line of its own.
fn wrap_words(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut current = String::new();
    for word in text.split_whitespace() {
        if !current.is_empty() && current.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(word);
    }
    if !current.is_empty() {
        lines.push(current);
    }
    lines
}

/// Set by `codex-litellm exec` (stderr is its transcript): the bridge's notices ("another
/// model answered instead") are printed there as they happen. Otherwise (the TUI owns the
/// terminal) they wait in [`PENDING_NOTICES`] until the TUI shows them as warnings.
static NOTICES_ON_STDERR: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Notices not shown yet. Bounded: a process that never shows them (app-server, serve)
/// keeps only the latest few; the bridge has logged every one.
static PENDING_NOTICES: Mutex<std::collections::VecDeque<String>> =
    Mutex::new(std::collections::VecDeque::new());
const MAX_PENDING_NOTICES: usize = 16;

/// One line from the bridge for the user while a request runs.
pub fn print_notice(notice: &str) {
    // The bridge has logged it already (info).
    if NOTICES_ON_STDERR.load(std::sync::atomic::Ordering::Relaxed) {
        eprintln!("{notice}");
        return;
    }
    queue_notice(&PENDING_NOTICES, notice);
}

fn queue_notice(queue: &Mutex<std::collections::VecDeque<String>>, notice: &str) {
    let mut queue = queue.lock().unwrap_or_else(PoisonError::into_inner);
    if queue.len() == MAX_PENDING_NOTICES {
        queue.pop_front();
    }
    queue.push_back(display_safe(notice));
}

/// The bridge's notices not shown yet, oldest first (the TUI shows them as warnings).
pub fn take_notices() -> Vec<String> {
    PENDING_NOTICES
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .drain(..)
        .collect()
}

/// What `codex-litellm exec` says first, on stderr. A model the backend does not serve
/// ends the run here, before the prompt is sent, naming the close matches.
pub fn print_exec_start_line() {
    let Some(line) = session_provider_line() else {
        return;
    };
    NOTICES_ON_STDERR.store(true, std::sync::atomic::Ordering::Relaxed);
    eprintln!("{BINARY_NAME}: {line}");
    let Some(provider) = session_provider() else {
        return;
    };
    // Both name the backend's models: shown without their control characters.
    if let Some(unknown) = &provider.unknown_model {
        eprintln!("{BINARY_NAME}: error: {}", display_safe(unknown));
        std::process::exit(2);
    }
    for notice in &provider.notices {
        eprintln!("{}", display_safe(notice));
    }
}

/// The product name and version shown in the TUI: upstream's when run as `codex`.
pub fn product_title(upstream_name: &str, upstream_version: &str) -> (String, String) {
    if crate::is_codex_litellm() {
        // `v0.148.0+litellm.3` names the upstream release and the series and fits the
        // header's 56 columns; `--version` adds the upstream tag and commit.
        (BINARY_NAME.to_string(), format!("v{}", series().version()))
    } else {
        (upstream_name.to_string(), format!("v{upstream_version}"))
    }
}

/// The first-run welcome line's product name and tagline ("Welcome to <name><tagline>"):
/// upstream's when run as `codex`.
pub fn welcome_title(upstream_name: &str, upstream_tagline: &str) -> (String, String) {
    if crate::is_codex_litellm() {
        (
            BINARY_NAME.to_string(),
            ", the Codex coding agent on your own Chat Completions backend".to_string(),
        )
    } else {
        (upstream_name.to_string(), upstream_tagline.to_string())
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
    fn the_header_rows_fit_the_session_header_and_keep_their_sources() {
        let line = crate::global::StartLine {
            provider: "litellm (from LITELLM_BASE_URL)".to_string(),
            base_url: "http://127.0.0.1:4000/v1 (LITELLM_BASE_URL)".to_string(),
            model: "model qwen3-coder (LITELLM_MODEL)".to_string(),
            not_bridged: false,
        };
        let notice = "the backend does not report a context window for `qwen3-coder`; assuming \
                      128000 tokens. Set the real one in litellm.toml: [models.\"qwen3-coder\"] \
                      context_window = N";
        // Upstream's header: 56 columns inside, labels padded to "directory:" (10).
        let rows = header_rows(&line, &[notice], 10, 56);
        assert_eq!(
            rows[..2],
            [
                (
                    "provider:  ".to_string(),
                    "litellm (from LITELLM_BASE_URL)".to_string()
                ),
                (
                    "base URL:  ".to_string(),
                    "http://127.0.0.1:4000/v1 (LITELLM_BASE_URL)".to_string()
                ),
            ]
        );
        for (label, value) in &rows {
            let row = format!("{label}{value}");
            assert!(
                row.chars().count() <= 56,
                "{row:?} is cut off in the header"
            );
        }
        let warning: Vec<&str> = rows[2..].iter().map(|(_, v)| v.as_str()).collect();
        assert_eq!(warning.join(" "), notice, "the whole notice, wrapped");
        assert_eq!(rows[2].0, "⚠ ");
        assert!(rows[3..].iter().all(|(label, _)| label == "  "));
        assert_eq!(
            line.to_string(),
            "provider litellm (from LITELLM_BASE_URL) · http://127.0.0.1:4000/v1 (LITELLM_BASE_URL) · model qwen3-coder (LITELLM_MODEL)"
        );
        let responses = crate::global::StartLine {
            not_bridged: true,
            ..line
        };
        assert_eq!(
            header_rows(&responses, &[], 12, 56)[0],
            (
                "provider:    ".to_string(),
                "litellm (from LITELLM_BASE_URL) · Responses API, not bridged".to_string()
            )
        );
    }

    /// Issue 22 (low): model ids from the backend reach the terminal without their
    /// escape sequences (OSC 52 writes the clipboard).
    #[test]
    fn the_start_line_and_header_show_no_control_characters() {
        let osc52 = "\u{1b}]52;c;cm0gLXJmIH4=\u{7}";
        let provider = SessionProvider {
            id: "litellm".to_string(),
            base_url: Some("http://gw:4000/v1".to_string()),
            model: Some(format!("qwen{osc52}")),
            bridged: true,
            notices: Vec::new(),
            unknown_model: None,
        };
        assert_eq!(
            describe(&provider),
            "provider litellm (chat, bridged) · http://gw:4000/v1 · model qwen]52;c;cm0gLXJmIH4="
        );
        let line = crate::global::StartLine {
            provider: "litellm (from built-in default)".to_string(),
            base_url: "http://gw:4000/v1 (LITELLM_BASE_URL)".to_string(),
            model: "model qwen (LITELLM_MODEL)".to_string(),
            not_bridged: false,
        };
        let notice = format!("`qwen` is not served; did you mean `qwen{osc52}-coder`?");
        let rows = header_rows(&line, &[notice.as_str()], 10, 56);
        let shown: Vec<&str> = rows[2..].iter().map(|(_, v)| v.as_str()).collect();
        assert_eq!(
            shown.join(" "),
            "`qwen` is not served; did you mean `qwen]52;c;cm0gLXJmIH4=-coder`?"
        );
    }

    #[test]
    fn notices_wait_for_the_tui_bounded_and_without_control_characters() {
        let queue = Mutex::new(std::collections::VecDeque::new());
        for n in 0..(MAX_PENDING_NOTICES + 3) {
            queue_notice(&queue, &format!("notice {n}\u{1b}[2J"));
        }
        let kept: Vec<String> = queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
            .collect();
        assert_eq!(kept.len(), MAX_PENDING_NOTICES);
        assert_eq!(kept.first().map(String::as_str), Some("notice 3[2J"));
        assert!(kept.iter().all(|n| !n.contains('\u{1b}')));
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
        assert_eq!(
            welcome_title("Codex", ", OpenAI's command-line coding agent"),
            (
                "Codex".to_string(),
                ", OpenAI's command-line coding agent".to_string()
            )
        );
        assert!(!hides_openai_account_rows(false));
        assert_eq!(session_provider_line(), None);
        assert!(session_header_rows(10, 56).is_empty());
    }
}
