//! Per-provider bridge options, read from `[providers.<id>.bridge]` in litellm.toml.
//!
//! Stock Codex ignores unknown sub-tables of a provider, so these options can live in a
//! `config.toml` shared with stock `codex`. Unknown keys are rejected here so a typo is a
//! clear config error in codex-litellm instead of a silently ignored setting.

use serde::Deserialize;
use serde::Serialize;
use serde_json::Map;
use serde_json::Value;
use std::time::Duration;

/// How the bridge talks to the backend and hands the answer back to Codex.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BridgeMode {
    /// Read the whole answer, validate it, retry from scratch on any fault, then replay it
    /// to Codex as a clean Responses stream. Nothing is shown until the answer is in.
    Buffered,
    /// Stream text and reasoning to Codex as they arrive (`<think>` and Harmony split on the
    /// way, text that may be a tool call written as text held back), tool calls only from
    /// the complete, validated answer. A fault is retried invisibly; a retried answer that
    /// does not continue the text already shown ends that text as an interrupted message
    /// and follows with its own whole answer (or continues the shown text, where
    /// `assistant_prefill` says the backend can).
    /// `passthrough` is the old name.
    #[default]
    #[serde(alias = "passthrough")]
    Live,
}

/// Role used for Codex's `developer` messages (many backends reject `developer`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeveloperRole {
    #[default]
    System,
    Developer,
    User,
}

/// Which assistant-message field carries reasoning back to the backend.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasoningReturn {
    /// `reasoning_content` (DeepSeek, llama.cpp, LiteLLM).
    #[default]
    ReasoningContent,
    /// `reasoning` (OpenRouter, vLLM, Ollama, gpt-oss).
    Reasoning,
    /// Both fields.
    Both,
    /// Do not send reasoning back.
    None,
}

/// When a tool call the model wrote as text becomes a real call. Text is not proof of
/// intent: a model quoting a file or web page that contains `<tool_call>{...}</tool_call>`
/// would otherwise run that call (still under Codex's approval and sandbox policy).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolCallRecovery {
    /// Never.
    Off,
    /// Only when the answer has no structured calls and the written calls are the whole
    /// answer apart from whitespace and `<think>` text (`true` means this).
    #[default]
    WholeAnswer,
    /// Also calls written after or between prose (a model that says what it is about to do
    /// first); a quoted call anywhere in the answer runs.
    Anywhere,
}

impl ToolCallRecovery {
    pub fn is_on(self) -> bool {
        self != Self::Off
    }
}

/// A boolean or a mode name.
impl<'de> Deserialize<'de> for ToolCallRecovery {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = ToolCallRecovery;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("\"whole_answer\" (or true), \"anywhere\", or \"off\" (or false)")
            }
            fn visit_bool<E: serde::de::Error>(self, on: bool) -> Result<Self::Value, E> {
                Ok(if on {
                    ToolCallRecovery::WholeAnswer
                } else {
                    ToolCallRecovery::Off
                })
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Self::Value, E> {
                match text {
                    "whole_answer" => Ok(ToolCallRecovery::WholeAnswer),
                    "anywhere" => Ok(ToolCallRecovery::Anywhere),
                    "off" => Ok(ToolCallRecovery::Off),
                    _ => Err(E::invalid_value(serde::de::Unexpected::Str(text), &self)),
                }
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// Which earlier assistant messages keep their reasoning when the history is sent back.
/// A turn runs from one user message to the next.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasoningHistory {
    /// The turn in progress (its tool loop) and every earlier turn in which the model called
    /// tools: DeepSeek's thinking mode answers HTTP 400 when the reasoning of a tool-calling
    /// turn is missing from later requests, and ignores the reasoning of turns without tool
    /// calls (https://api-docs.deepseek.com/guides/thinking_mode). Chat templates (Qwen3,
    /// gpt-oss) and Anthropic drop earlier turns' reasoning themselves.
    #[default]
    ToolTurns,
    /// Only the turn in progress (after the last user message): the fewest tokens, for
    /// backends that need reasoning only inside the tool loop (Anthropic thinking, gpt-oss).
    CurrentTurn,
    /// Every turn's reasoning.
    All,
    /// None at all.
    None,
}

/// How the backend continues a trailing (prefilled) assistant message, for live mode: when
/// a stream broke after text was shown and the retry answered differently, the bridge asks
/// for the rest of exactly the shown text where the backend honours a prefill. Elsewhere
/// (`off`) the shown text ends as a message marked interrupted and the retry's whole answer
/// follows as the message Codex keeps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssistantPrefill {
    /// `prefix` for the known hosted APIs that document it (DeepSeek's `/beta` base URL,
    /// api.mistral.ai); `off` for every other base URL.
    #[default]
    Auto,
    /// Never continue a prefill.
    Off,
    /// The last message is the assistant's text as is: llama.cpp's `llama-server`, Anthropic
    /// models through LiteLLM.
    Trailing,
    /// The last assistant message carries `"prefix": true` (DeepSeek prefix completion on
    /// its `/beta` base URL, Mistral).
    Prefix,
    /// vLLM: `continue_final_message: true` and `add_generation_prompt: false` in the body.
    ContinueFinalMessage,
}

impl AssistantPrefill {
    /// The style in force for a backend at `url` (`None`: no prefill).
    pub fn resolve(self, url: &str) -> Option<AssistantPrefill> {
        match self {
            Self::Off => None,
            Self::Auto => {
                let url = url.to_ascii_lowercase();
                let host = url.split("://").nth(1).unwrap_or(&url);
                let known = host.starts_with("api.deepseek.com/beta")
                    || host.starts_with("api.mistral.ai/");
                known.then_some(Self::Prefix)
            }
            style => Some(style),
        }
    }
}

/// What `content` an assistant message carries when it has tool calls and no text. The
/// OpenAI spec allows `null` and `""`; backends differ on which they accept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolCallContent {
    /// `null`; when the backend refuses it with an error about that `content`
    /// (llama-cpp-python's server: HTTP 500, Gemini's OpenAI endpoint: 400), the request
    /// is sent again at once with `""`, and `""` is kept for that backend for the rest of
    /// the process. `null` first because LiteLLM turns `""` into a placeholder text block
    /// for Anthropic models and other Anthropic/Bedrock translators refuse it.
    #[default]
    Auto,
    /// `""` from the start (no refused request first).
    EmptyString,
    /// `null`, never adapted.
    Null,
}

/// Name of the output-token cap in the chat request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaxTokensField {
    #[default]
    MaxTokens,
    MaxCompletionTokens,
}

/// Everything that can be tuned per provider. Every field has a default that works against
/// LiteLLM, vLLM, llama.cpp and Ollama.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BridgeOptions {
    /// Set to false to keep a provider on the Responses API even though this table exists.
    pub enabled: bool,
    pub mode: BridgeMode,
    /// Ask the backend for a streamed answer (`stream: true`). Buffered mode reads it to the
    /// end either way; some proxies only behave with one or the other.
    pub stream: bool,
    /// Send `stream_options.include_usage` so token counts arrive (needed for compaction).
    pub include_usage: bool,
    pub developer_role: DeveloperRole,
    /// Merge the leading run of system messages into one (some chat templates reject more
    /// than one system message).
    pub merge_system_messages: bool,
    pub reasoning_return: ReasoningReturn,
    /// Which earlier turns' reasoning is sent back (`reasoning_return` says in which field).
    pub reasoning_history: ReasoningHistory,
    /// Send `reasoning.effort` as `reasoning_effort`.
    pub send_reasoning_effort: bool,
    /// Pass `parallel_tool_calls` through when tools are present.
    pub send_parallel_tool_calls: bool,
    /// Pass `strict` on function tools through (some backends reject the field).
    pub send_strict: bool,
    /// Translate `text.format` (json_schema) into `response_format`.
    pub send_response_format: bool,
    /// `content` of an assistant message with tool calls and no text: `auto` (default:
    /// `null`, `""` once the backend refuses `null`), `empty_string` or `null`.
    pub tool_call_content: ToolCallContent,
    /// Turn tool calls that the model wrote as text into real calls (declared tools only,
    /// arguments must parse): `whole_answer` (default, also `true`), `anywhere`, `off`/`false`.
    pub tool_call_recovery: ToolCallRecovery,
    /// Move leading `<think>...</think>` blocks out of the answer into reasoning.
    pub think_tags: bool,
    /// Force every request to this model, whatever Codex asked for.
    pub model: Option<String>,
    /// Output token cap sent with every request.
    pub max_output_tokens: Option<u64>,
    pub max_tokens_field: MaxTokensField,
    /// On `finish_reason = "length"`, ask for a continuation and splice it, at most this many
    /// times. 0 reports the answer as cut off instead.
    pub auto_continue: u32,
    /// Live mode, after a cut: continue the shown text through a prefilled assistant message
    /// (`auto`, `off`, `trailing`, `prefix`, `continue_final_message`).
    pub assistant_prefill: AssistantPrefill,
    /// Extra top-level body parameters merged into every chat request (they win over ours).
    pub extra_body: Map<String, Value>,
    /// Total tries for one request (first try included) before giving up.
    pub max_attempts: u32,
    pub retry_base_delay_ms: u64,
    pub retry_max_delay_ms: u64,
    /// A server's `Retry-After` is honoured up to this many seconds.
    pub max_retry_after_secs: u64,
    pub connect_timeout_secs: u64,
    /// Fail an attempt when no byte arrives for this long (before or during the body).
    /// Defaults to the provider's `stream_idle_timeout_ms` when Codex supplies it.
    pub idle_timeout_secs: Option<u64>,
    /// Hard cap on one attempt, from sending the request to the last byte.
    pub request_timeout_secs: u64,
    /// The end in time of one turn: every attempt, retry wait and continuation of one
    /// request to the bridge ends by then (the retry budget's time half; `max_attempts` is
    /// the other).
    pub turn_timeout_secs: u64,
    /// Largest answer accepted, in bytes.
    pub max_response_bytes: usize,
    /// litellm.toml `[guards]`, set by codex-litellm (not a `[bridge]` key).
    #[serde(skip)]
    pub guards: codex_litellm_guards::settings::Guards,
    /// litellm.toml `fallback = [...]`, set by codex-litellm (not a `[bridge]` key).
    #[serde(skip)]
    pub fallback: FallbackConfig,
}

/// Where a model's requests go when its attempts are spent on a fault another model can
/// fix (`fallback = [...]` of `[models."<m>"]`, else of the provider).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FallbackConfig {
    /// `[models."<m>"] fallback`, by model name.
    pub by_model:
        std::collections::BTreeMap<String, Vec<codex_litellm_guards::settings::FallbackTarget>>,
    /// `[providers.<id>] fallback`: for every model of this provider without its own list.
    pub provider_chain: Vec<codex_litellm_guards::settings::FallbackTarget>,
    /// How to reach the other chat providers entries name (`<provider>/<model>`).
    pub routes: std::collections::BTreeMap<String, FallbackRoute>,
    /// Known context windows by model name (a context-length error switches only to a
    /// larger window): litellm.toml's, which win over the discovered ones.
    pub context_windows: std::collections::BTreeMap<String, u64>,
    /// The windows the backends reported (the model catalog's discovery), for models
    /// litellm.toml gives none.
    pub discovered_windows: DiscoveredWindows,
}

/// Where the bridge asks for a window the backend reported: `(provider, model)` to tokens.
/// codex-litellm plugs in the model catalog's disk cache (`codex_litellm_models::live`).
type WindowLookup = dyn Fn(&str, &str) -> Option<u64> + Send + Sync;

#[derive(Clone, Default)]
pub struct DiscoveredWindows(Option<std::sync::Arc<WindowLookup>>);

impl DiscoveredWindows {
    pub fn new(lookup: impl Fn(&str, &str) -> Option<u64> + Send + Sync + 'static) -> Self {
        Self(Some(std::sync::Arc::new(lookup)))
    }

    /// The window of `model` on `provider`, when its backend reported one.
    pub fn get(&self, provider: &str, model: &str) -> Option<u64> {
        self.0.as_ref().and_then(|lookup| lookup(provider, model))
    }
}

impl std::fmt::Debug for DiscoveredWindows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "DiscoveredWindows(lookup)"
        } else {
            "DiscoveredWindows(none)"
        })
    }
}

/// Equal when both are the same lookup (or neither has one).
impl PartialEq for DiscoveredWindows {
    fn eq(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            (None, None) => true,
            (Some(a), Some(b)) => std::sync::Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl FallbackConfig {
    /// The context window of `model` on `provider`: litellm.toml's, else what its backend
    /// reported; `None` when neither is known (a context-length error then never switches).
    pub fn context_window(&self, provider: &str, model: &str) -> Option<u64> {
        self.context_windows
            .get(model)
            .copied()
            .or_else(|| self.discovered_windows.get(provider, model))
    }

    /// The chain of `model`: its own list, else the provider's.
    pub fn chain(&self, model: &str) -> &[codex_litellm_guards::settings::FallbackTarget] {
        self.by_model
            .get(model)
            .map_or(self.provider_chain.as_slice(), Vec::as_slice)
    }
}

/// Another chat provider a fallback entry names: its base URL (ending in `/v1`), the
/// environment variable holding its key (never the key itself: options are logged), and
/// its bridge options.
#[derive(Debug, Clone, PartialEq)]
pub struct FallbackRoute {
    pub base_url: String,
    pub env_key: Option<String>,
    pub options: Box<BridgeOptions>,
}

impl Default for BridgeOptions {
    fn default() -> Self {
        Self {
            enabled: true,
            mode: BridgeMode::Live,
            stream: true,
            include_usage: true,
            developer_role: DeveloperRole::System,
            merge_system_messages: true,
            reasoning_return: ReasoningReturn::ReasoningContent,
            reasoning_history: ReasoningHistory::ToolTurns,
            send_reasoning_effort: true,
            send_parallel_tool_calls: true,
            send_strict: false,
            send_response_format: true,
            tool_call_content: ToolCallContent::Auto,
            tool_call_recovery: ToolCallRecovery::WholeAnswer,
            think_tags: true,
            model: None,
            max_output_tokens: None,
            max_tokens_field: MaxTokensField::MaxTokens,
            auto_continue: 0,
            assistant_prefill: AssistantPrefill::Auto,
            extra_body: Map::new(),
            max_attempts: 4,
            retry_base_delay_ms: 500,
            retry_max_delay_ms: 8_000,
            max_retry_after_secs: 60,
            connect_timeout_secs: 15,
            idle_timeout_secs: None,
            request_timeout_secs: 1_800,
            turn_timeout_secs: 1_800,
            max_response_bytes: 64 * 1024 * 1024,
            guards: codex_litellm_guards::settings::Guards::default(),
            fallback: FallbackConfig::default(),
        }
    }
}

/// Used when neither the options nor the provider give an idle timeout.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(300);

impl BridgeOptions {
    pub fn idle_timeout(&self) -> Duration {
        self.idle_timeout_secs
            .map(Duration::from_secs)
            .unwrap_or(DEFAULT_IDLE_TIMEOUT)
    }

    pub fn max_attempts(&self) -> u32 {
        self.max_attempts.max(1)
    }

    /// Checks every bound: returns a message that says which key is wrong and what is
    /// allowed. codex-litellm runs it on every `litellm_bridge` table when it reads
    /// config.toml (`codex_litellm_runtime::LitellmSettings::load`).
    pub fn validate(&self) -> Result<(), String> {
        let numbers: [(&str, Option<u64>, u64, u64); 11] = [
            ("turn_timeout_secs", Some(self.turn_timeout_secs), 1, 86_400),
            ("max_attempts", Some(u64::from(self.max_attempts)), 1, 10),
            ("auto_continue", Some(u64::from(self.auto_continue)), 0, 10),
            (
                "retry_base_delay_ms",
                Some(self.retry_base_delay_ms),
                0,
                60_000,
            ),
            (
                "retry_max_delay_ms",
                Some(self.retry_max_delay_ms),
                0,
                300_000,
            ),
            (
                "max_retry_after_secs",
                Some(self.max_retry_after_secs),
                0,
                600,
            ),
            (
                "connect_timeout_secs",
                Some(self.connect_timeout_secs),
                1,
                300,
            ),
            ("idle_timeout_secs", self.idle_timeout_secs, 1, 3_600),
            (
                "request_timeout_secs",
                Some(self.request_timeout_secs),
                1,
                86_400,
            ),
            (
                "max_response_bytes",
                Some(self.max_response_bytes as u64),
                1_024,
                1_073_741_824,
            ),
            ("max_output_tokens", self.max_output_tokens, 1, 10_000_000),
        ];
        for (key, value, min, max) in numbers {
            if let Some(value) = value
                && !(min..=max).contains(&value)
            {
                return Err(format!(
                    "{key} = {value} is out of range: use a value from {min} to {max}"
                ));
            }
        }
        if let Some(model) = &self.model {
            bounded::check_model(model).map_err(|why| format!("model {why}"))?;
        }
        bounded::check_extra_body(&self.extra_body).map_err(|why| format!("extra_body {why}"))?;
        Ok(())
    }
}

/// Checks of values that are not plain numbers.
mod bounded {
    use serde_json::Map;
    use serde_json::Value;

    pub fn check_model(model: &str) -> Result<(), String> {
        if model.trim().is_empty() {
            return Err("must not be empty (remove it to keep Codex's model)".to_string());
        }
        Ok(())
    }

    /// Parameters the bridge owns: setting them would replace the conversation or break
    /// how the answer is read.
    const RESERVED: [&str; 2] = ["messages", "stream"];

    pub fn check_extra_body(extra: &Map<String, Value>) -> Result<(), String> {
        match RESERVED.iter().find(|key| extra.contains_key(**key)) {
            Some(key) => Err(format!(
                "must not set `{key}` (the bridge owns it; use the bridge options instead)"
            )),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Every bounded key refuses values outside its range, naming the key and what is
    /// allowed.
    #[test]
    fn out_of_range_values_are_refused_with_the_allowed_range() {
        let cases = [
            ("request_timeout_secs", json!(u64::MAX), "from 1 to 86400"),
            ("request_timeout_secs", json!(0), "from 1 to 86400"),
            ("turn_timeout_secs", json!(0), "from 1 to 86400"),
            ("max_response_bytes", json!(0), "from 1024 to 1073741824"),
            ("max_attempts", json!(0), "from 1 to 10"),
            ("max_attempts", json!(1000), "from 1 to 10"),
            ("idle_timeout_secs", json!(0), "from 1 to 3600"),
            ("connect_timeout_secs", json!(0), "from 1 to 300"),
            ("max_retry_after_secs", json!(86_400), "from 0 to 600"),
            ("retry_max_delay_ms", json!(u64::MAX), "from 0 to 300000"),
            ("auto_continue", json!(100), "from 0 to 10"),
            ("max_output_tokens", json!(0), "from 1 to 10000000"),
            ("model", json!(" "), "must not be empty"),
            (
                "extra_body",
                json!({"messages": []}),
                "must not set `messages`",
            ),
            (
                "extra_body",
                json!({"stream": false}),
                "must not set `stream`",
            ),
        ];
        for (key, value, allowed) in cases {
            let options = serde_json::from_value::<BridgeOptions>(json!({key: value}))
                .map_err(|err| err.to_string())
                .and_then(|options| options.validate());
            assert!(
                options
                    .as_ref()
                    .is_err_and(|e| e.contains(allowed) && e.contains(key)),
                "{key} = {value}: {options:?}"
            );
        }
        let mut options = BridgeOptions {
            request_timeout_secs: u64::MAX,
            ..BridgeOptions::default()
        };
        assert_eq!(
            options.validate(),
            Err(format!(
                "request_timeout_secs = {} is out of range: use a value from 1 to 86400",
                u64::MAX
            ))
        );
        options.request_timeout_secs = 600;
        assert_eq!(options.validate(), Ok(()));
        assert_eq!(BridgeOptions::default().validate(), Ok(()));
        let read: Result<BridgeOptions, _> =
            serde_json::from_value(json!({"request_timeout_secs": 86_400, "max_attempts": 10}));
        assert!(read.is_ok(), "{read:?}");
    }

    #[test]
    fn assistant_prefill_is_off_unless_the_backend_is_known() {
        let auto = AssistantPrefill::Auto;
        assert_eq!(
            auto.resolve("http://127.0.0.1:4000/v1/chat/completions"),
            None
        );
        assert_eq!(
            auto.resolve("https://api.deepseek.com/chat/completions"),
            None
        );
        assert_eq!(
            auto.resolve("https://api.deepseek.com/beta/chat/completions"),
            Some(AssistantPrefill::Prefix)
        );
        assert_eq!(
            auto.resolve("https://api.mistral.ai/v1/chat/completions"),
            Some(AssistantPrefill::Prefix)
        );
        assert_eq!(
            AssistantPrefill::Off.resolve("https://api.mistral.ai/v1/x"),
            None
        );
        assert_eq!(
            AssistantPrefill::ContinueFinalMessage.resolve("http://vllm:8000/v1/x"),
            Some(AssistantPrefill::ContinueFinalMessage)
        );
        let read = serde_json::from_value::<BridgeOptions>(
            json!({"assistant_prefill": "continue_final_message"}),
        )
        .map(|o| o.assistant_prefill)
        .map_err(|e| e.to_string());
        assert_eq!(read, Ok(AssistantPrefill::ContinueFinalMessage));
    }

    #[test]
    fn tool_call_recovery_reads_booleans_and_modes() {
        for (value, mode) in [
            (json!(true), ToolCallRecovery::WholeAnswer),
            (json!(false), ToolCallRecovery::Off),
            (json!("whole_answer"), ToolCallRecovery::WholeAnswer),
            (json!("anywhere"), ToolCallRecovery::Anywhere),
            (json!("off"), ToolCallRecovery::Off),
        ] {
            let read =
                serde_json::from_value::<BridgeOptions>(json!({"tool_call_recovery": value}))
                    .map(|o| o.tool_call_recovery)
                    .map_err(|e| e.to_string());
            assert_eq!(read, Ok(mode), "{value}");
        }
        assert_eq!(
            BridgeOptions::default().tool_call_recovery,
            ToolCallRecovery::WholeAnswer
        );
        let bad = serde_json::from_value::<BridgeOptions>(json!({"tool_call_recovery": "always"}))
            .map_err(|e| e.to_string());
        assert!(
            bad.as_ref().is_err_and(|e| e.contains("\"anywhere\"")),
            "{bad:?}"
        );
    }
}
