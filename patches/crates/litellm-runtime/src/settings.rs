//! codex-litellm's own settings: `$CODEX_HOME/litellm.toml`, a file stock `codex` never
//! reads. Stock `codex` warns about every key of config.toml it does not know (0.171 and
//! later) and refuses `wire_api = "chat"`, so nothing codex-litellm-only lives there any
//! more; [`crate::migrate`] moves what older releases put there.
//!
//! ```toml
//! model = "qwen3-coder"            # default model (LITELLM_MODEL wins)
//! provider = "litellm"             # default provider
//! background_model = "small-model" # upstream's background calls (default: the session's)
//! [telemetry]
//! level = "summary"
//! [providers.litellm]              # every id listed here is a chat provider
//! base_url = "http://gw:4000/v1"   # provider keys: fill in what config.toml lacks
//! [providers.litellm.bridge]       # bridge options
//! reasoning_return = "reasoning"
//! fallback = ["small-model"]      # [providers.<id>] fallback = [...] too
//! [models."qwen3-coder"]           # per-model metadata, read by codex-litellm-models
//! fallback = ["litellm/gpt-4o-mini"]  # this model's fallback list beats its provider's
//! [guards]                         # continuation, loop and fallback guards (issue 19)
//! continuation_retries = 1
//! ```

use codex_litellm_bridge::BridgeOptions;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;
use std::path::PathBuf;

pub use codex_litellm_debug_telemetry::ENV_TELEMETRY;
pub use codex_litellm_debug_telemetry::codex_home;

pub const LITELLM_TOML: &str = "litellm.toml";
pub const CONFIG_TOML: &str = "config.toml";
pub const DEFAULT_LITELLM_BASE_URL: &str = "http://localhost:4000/v1";
pub const LITELLM_PROVIDER_ID: &str = "litellm";
pub const OLLAMA_CHAT_PROVIDER_ID: &str = "ollama-chat";
pub const DEFAULT_OLLAMA_PORT: u16 = 11434;
pub const ENV_BASE_URL: &str = "LITELLM_BASE_URL";
pub const ENV_API_KEY: &str = "LITELLM_API_KEY";
pub const ENV_MODEL: &str = "LITELLM_MODEL";
pub const ENV_OSS_BASE_URL: &str = "CODEX_OSS_BASE_URL";
pub const ENV_OSS_PORT: &str = "CODEX_OSS_PORT";

/// Keys of an upstream `[model_providers.<id>]` table that `[providers.<id>]` may carry;
/// codex-litellm hands them to Codex as `-c model_providers.<id>.<key>=...`.
/// `wire_api` is deliberately absent: listing the id in litellm.toml is what makes it a
/// chat provider.
pub const PROVIDER_DEFINITION_KEYS: &[&str] = &[
    "name",
    "base_url",
    "env_key",
    "env_key_instructions",
    "experimental_bearer_token",
    "query_params",
    "http_headers",
    "env_http_headers",
    "request_max_retries",
    "stream_max_retries",
    "stream_idle_timeout_ms",
];

/// `$CODEX_HOME/litellm.toml`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LitellmSettings {
    /// Model used when codex-litellm runs without `--model` (`LITELLM_MODEL` wins).
    pub model: Option<String>,
    /// Provider used when neither the command line nor a profile chooses one.
    pub provider: Option<String>,
    /// Model for upstream's background calls (approval review, memories) on a chat
    /// provider; default: the session's model.
    pub background_model: Option<String>,
    pub telemetry: TelemetrySettings,
    /// `[providers.<id>]`: the chat providers besides the built-in ones, and the bridge
    /// options and definition keys of any chat provider (built-in ones included).
    pub providers: BTreeMap<String, ProviderSettings>,
    /// `[models."<name>"]`: per-model values that beat what the backend reports (context
    /// window, output cap, tools, reasoning, parallel tool calls, images).
    pub models: codex_litellm_models::ModelOverrides,
    /// `[guards]`, resolved (defaults when absent).
    pub guards: codex_litellm_guards::settings::Guards,
}

/// `[providers.<id>]`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProviderSettings {
    /// `[providers.<id>.bridge]`.
    pub bridge: Option<BridgeOptions>,
    /// Upstream provider keys ([`PROVIDER_DEFINITION_KEYS`]) given here.
    pub definition: toml::Table,
    /// `fallback = [...]`: models that answer for this provider's models when one is down.
    pub fallback: Option<Vec<String>>,
}

/// `[telemetry]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TelemetrySettings {
    /// `off`, `summary` (default) or `full`.
    pub level: String,
    /// Where exchange files go; default `$CODEX_HOME/log/litellm`.
    pub dir: Option<PathBuf>,
    /// Size cap of the folder, oldest session files removed first.
    pub max_total_mb: u64,
    /// Raw upstream bytes kept per exchange at level `full`.
    pub max_raw_kb: u64,
}

impl Default for TelemetrySettings {
    fn default() -> Self {
        Self {
            level: "summary".to_string(),
            dir: None,
            max_total_mb: 50,
            max_raw_kb: 256,
        }
    }
}

impl TelemetrySettings {
    /// The folder exchange files go to: `dir` with `~` / `~/…` meaning the home folder and
    /// a relative path taken from `codex_home` (where litellm.toml is), as a user reading
    /// the file expects; default `$CODEX_HOME/log/litellm`.
    pub fn resolved_dir(&self, codex_home: &Path) -> PathBuf {
        let Some(dir) = &self.dir else {
            return codex_home.join("log").join("litellm");
        };
        let home = std::env::var_os(if cfg!(windows) { "USERPROFILE" } else { "HOME" })
            .filter(|home| !home.is_empty())
            .map(PathBuf::from);
        let text = dir.to_string_lossy();
        let expanded = match (text.as_ref(), &home) {
            ("~", Some(home)) => home.clone(),
            (rest, Some(home)) if rest.starts_with("~/") || rest.starts_with("~\\") => {
                home.join(&rest[2..])
            }
            _ => dir.clone(),
        };
        codex_home.join(expanded)
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SettingsError {
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

impl LitellmSettings {
    /// Reads `litellm.toml` in `codex_home`; a missing file gives defaults.
    pub fn load(codex_home: &Path) -> Result<Self, SettingsError> {
        let path = codex_home.join(LITELLM_TOML);
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::from_toml(&text, &path.display().to_string()),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(err) => Err(SettingsError::Invalid {
                path: path.display().to_string(),
                message: format!("cannot be read: {err}"),
            }),
        }
    }

    pub fn from_toml(text: &str, path: &str) -> Result<Self, SettingsError> {
        let invalid = |message: String| SettingsError::Invalid {
            path: path.to_string(),
            message,
        };
        let document: toml::Table = toml::from_str(text)
            .map_err(|err| invalid(format!("not valid TOML: {}", err.message())))?;
        Self::from_table(document).map_err(invalid)
    }

    /// Validates and converts a parsed litellm.toml; the message names the key to fix.
    pub fn from_table(mut document: toml::Table) -> Result<Self, String> {
        let mut settings = Self::default();
        if let Some(value) = document.remove("model") {
            settings.model = Some(non_empty_string(value, "model")?);
        }
        if let Some(value) = document.remove("provider") {
            settings.provider = Some(non_empty_string(value, "provider")?);
        }
        if let Some(value) = document.remove("background_model") {
            settings.background_model = Some(non_empty_string(value, "background_model")?);
        }
        if let Some(value) = document.remove("telemetry") {
            settings.telemetry = value
                .try_into()
                .map_err(|err: toml::de::Error| format!("[telemetry]: {}", err.message()))?;
            if !matches!(
                settings.telemetry.level.as_str(),
                "off" | "summary" | "full"
            ) {
                return Err(format!(
                    "telemetry.level must be \"off\", \"summary\" or \"full\", not {:?}",
                    settings.telemetry.level
                ));
            }
        }
        if let Some(value) = document.remove("providers") {
            let toml::Value::Table(providers) = value else {
                return Err("`providers` must be a table of [providers.<id>] tables".to_string());
            };
            for (id, value) in providers {
                let provider = ProviderSettings::from_value(&id, value)?;
                settings.providers.insert(id, provider);
            }
        }
        if let Some(value) = document.remove("models") {
            let toml::Value::Table(models) = value else {
                return Err("`models` must be a table of [models.\"<name>\"] tables".to_string());
            };
            settings.models = toml::Value::Table(models)
                .try_into()
                .map_err(|err: toml::de::Error| format!("[models]: {}", err.message()))?;
        }
        if let Some(value) = document.remove("guards") {
            let guards: codex_litellm_guards::settings::GuardSettings = value
                .try_into()
                .map_err(|err: toml::de::Error| format!("[guards]: {}", err.message()))?;
            settings.guards = guards.resolve().map_err(|err| err.to_string())?;
        }
        settings.check_fallbacks()?;
        if let Some(key) = document.keys().next() {
            let hint = match key.as_str() {
                "base_url" | "bridge" => format!(
                    " (the built-in provider's {key} goes in [providers.{LITELLM_PROVIDER_ID}])"
                ),
                _ => String::new(),
            };
            return Err(format!(
                "unknown key `{key}`{hint}; the keys are model, provider, background_model, [telemetry], [guards], [providers.<id>], [models.\"<name>\"]"
            ));
        }
        Ok(settings)
    }

    /// Whether `id` is a chat provider: a built-in one or one listed in `[providers]`.
    pub fn is_chat_provider(&self, id: &str) -> bool {
        is_builtin_chat_provider(id) || self.providers.contains_key(id)
    }

    /// Every chat provider id, built-in ones first.
    pub fn chat_provider_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = [LITELLM_PROVIDER_ID, OLLAMA_CHAT_PROVIDER_ID]
            .into_iter()
            .map(str::to_string)
            .collect();
        ids.extend(
            self.providers
                .keys()
                .filter(|id| !is_builtin_chat_provider(id))
                .cloned(),
        );
        ids
    }

    /// Bridge options of a chat provider; `None` when `id` is not one. They carry the
    /// `[guards]` policies and the fallback lists.
    pub fn bridge_options(&self, id: &str) -> Option<BridgeOptions> {
        let mut options = self.own_bridge_options(id)?;
        options.guards = self.guards;
        options.fallback = self.fallback_config(id);
        Some(options)
    }

    fn own_bridge_options(&self, id: &str) -> Option<BridgeOptions> {
        if !self.is_chat_provider(id) {
            return None;
        }
        Some(
            self.providers
                .get(id)
                .and_then(|provider| provider.bridge.clone())
                .unwrap_or_default(),
        )
    }

    /// Every entry of every `fallback = [...]` parses, and no model lists itself.
    fn check_fallbacks(&self) -> Result<(), String> {
        let ids = self.chat_provider_ids();
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        for (model, entry) in &self.models {
            if let Some(list) = &entry.fallback {
                codex_litellm_guards::settings::fallback_chain(model, "", Some(list), None, &ids)
                    .map_err(|err| format!("[models.\"{model}\"]: {err}"))?;
            }
        }
        for (id, provider) in &self.providers {
            if let Some(list) = &provider.fallback {
                codex_litellm_guards::settings::fallback_chain("", id, None, Some(list), &ids)
                    .map_err(|err| format!("[providers.{id}]: {err}"))?;
            }
        }
        Ok(())
    }

    /// The fallback lists the bridge of provider `id` follows, and how to reach the other
    /// providers they name. Empty when no list applies.
    fn fallback_config(&self, id: &str) -> codex_litellm_bridge::FallbackConfig {
        use codex_litellm_guards::settings::FallbackTarget;
        let ids = self.chat_provider_ids();
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        let parse = |list: &[String]| -> Vec<FallbackTarget> {
            list.iter()
                .filter_map(|entry| FallbackTarget::parse(entry, &ids).ok())
                .collect()
        };
        let mut config = codex_litellm_bridge::FallbackConfig {
            provider_chain: self
                .providers
                .get(id)
                .and_then(|p| p.fallback.as_deref())
                .map(parse)
                .unwrap_or_default(),
            ..Default::default()
        };
        for (model, entry) in &self.models {
            if let Some(list) = &entry.fallback {
                config.by_model.insert(model.clone(), parse(list));
            }
        }
        if config.provider_chain.is_empty() && config.by_model.is_empty() {
            return config;
        }
        let named: std::collections::BTreeSet<String> = config
            .provider_chain
            .iter()
            .chain(config.by_model.values().flatten())
            .filter_map(|target| target.provider.clone())
            .filter(|provider| provider != id)
            .collect();
        for provider in named {
            if let Some(route) = self.fallback_route(&provider) {
                config.routes.insert(provider, route);
            }
        }
        config.context_windows = self
            .models
            .iter()
            .filter_map(|(model, entry)| Some((model.clone(), entry.context_window?)))
            .collect();
        // And the windows the backends reported, from the model catalog's disk cache: the
        // session's provider registers its own (its models manager); this provider and the
        // others a list names are registered here in case it did not.
        let cache_dir = codex_home().join("cache").join("litellm-models");
        let own = self.fallback_route(id);
        let providers = own
            .iter()
            .map(|route| (id, route))
            .chain(config.routes.iter().map(|(p, route)| (p.as_str(), route)));
        for (provider, route) in providers {
            let key = route
                .env_key
                .as_deref()
                .and_then(|name| std::env::var(name).ok())
                .filter(|key| !key.trim().is_empty());
            let cache = codex_litellm_models::ModelCache::new(
                &cache_dir,
                provider,
                route.base_url.trim_end_matches('/'),
                key.as_deref(),
            );
            codex_litellm_models::live::register_cache(provider, &cache, false);
        }
        config.discovered_windows = codex_litellm_bridge::DiscoveredWindows::new(
            codex_litellm_models::live::discovered_context_window,
        );
        config
    }

    /// How to reach chat provider `id` for a fallback: the base URL and key variable
    /// litellm.toml (or the built-in provider's environment) gives. `None` when only
    /// config.toml defines it.
    fn fallback_route(&self, id: &str) -> Option<codex_litellm_bridge::FallbackRoute> {
        let definition = self.providers.get(id).map(|p| &p.definition);
        let text = |key: &str| {
            definition
                .and_then(|d| d.get(key))
                .and_then(toml::Value::as_str)
                .map(str::to_string)
        };
        let (base_url, env_key) = match id {
            LITELLM_PROVIDER_ID => (
                text("base_url")
                    .or_else(|| std::env::var(ENV_BASE_URL).ok().filter(|u| !u.is_empty()))
                    .unwrap_or_else(|| DEFAULT_LITELLM_BASE_URL.to_string()),
                text("env_key").or_else(|| Some(ENV_API_KEY.to_string())),
            ),
            _ => (text("base_url")?, text("env_key")),
        };
        Some(codex_litellm_bridge::FallbackRoute {
            base_url,
            env_key,
            options: Box::new(self.own_bridge_options(id)?),
        })
    }
}

pub fn is_builtin_chat_provider(id: &str) -> bool {
    id == LITELLM_PROVIDER_ID || id == OLLAMA_CHAT_PROVIDER_ID
}

impl ProviderSettings {
    fn from_value(id: &str, value: toml::Value) -> Result<Self, String> {
        let toml::Value::Table(mut table) = value else {
            return Err(format!("`providers.{id}` must be a table"));
        };
        if id.is_empty() || id.contains(['.', '"', '\'', ' ']) {
            return Err(format!(
                "provider id {id:?} cannot be used: ids are passed as `-c model_providers.<id>.<key>`, so no dots, quotes or spaces"
            ));
        }
        let mut provider = Self::default();
        if let Some(list) = table.remove("fallback") {
            let list: Vec<String> = list.try_into().map_err(|_: toml::de::Error| {
                format!("[providers.{id}]: `fallback` must be a list of model names, e.g. [\"small-model\", \"litellm/gpt-4o-mini\"]")
            })?;
            provider.fallback = Some(list);
        }
        if let Some(bridge) = table.remove("bridge") {
            let options: BridgeOptions = bridge.try_into().map_err(|err: toml::de::Error| {
                format!("[providers.{id}.bridge]: {}", err.message())
            })?;
            options
                .validate()
                .map_err(|message| format!("[providers.{id}.bridge]: {message}"))?;
            provider.bridge = Some(options);
        }
        for (key, value) in table {
            if key == "wire_api" {
                return Err(format!(
                    "[providers.{id}]: remove `wire_api`; being listed in litellm.toml is what makes `{id}` a chat provider"
                ));
            }
            if !PROVIDER_DEFINITION_KEYS.contains(&key.as_str()) {
                return Err(format!(
                    "[providers.{id}]: unknown key `{key}` (provider keys: {}, fallback; bridge options go in [providers.{id}.bridge])",
                    PROVIDER_DEFINITION_KEYS.join(", ")
                ));
            }
            provider.definition.insert(key, value);
        }
        Ok(provider)
    }
}

fn non_empty_string(value: toml::Value, key: &str) -> Result<String, String> {
    match value {
        toml::Value::String(text) if !text.trim().is_empty() => Ok(text),
        _ => Err(format!("`{key}` must be a non-empty string")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use codex_litellm_bridge::BridgeMode;
    use pretty_assertions::assert_eq;

    #[test]
    fn reads_every_section() {
        let text = r#"
model = "qwen3-coder"
provider = "vllm"

[telemetry]
level = "full"

[providers.litellm]
base_url = "http://gateway:4000/v1"
[providers.litellm.bridge]
mode = "passthrough"
auto_continue = 2

[providers.vllm]
name = "vLLM"
base_url = "http://gpu:8000/v1"
http_headers = { "x-team" = "a" }

[models."qwen3-coder"]
context_window = 262144
"#;
        let settings = LitellmSettings::from_toml(text, "litellm.toml").unwrap_or_default();
        assert_eq!(settings.model.as_deref(), Some("qwen3-coder"));
        assert_eq!(settings.provider.as_deref(), Some("vllm"));
        assert_eq!(settings.telemetry.level, "full");
        assert_eq!(
            settings.chat_provider_ids(),
            ["litellm", "ollama-chat", "vllm"]
        );
        let bridge = settings.bridge_options("litellm").unwrap_or_default();
        assert_eq!((bridge.mode, bridge.auto_continue), (BridgeMode::Live, 2));
        assert_eq!(
            settings.bridge_options("vllm"),
            Some(BridgeOptions::default())
        );
        assert_eq!(settings.bridge_options("openai"), None);
        assert_eq!(
            settings.providers["vllm"]
                .definition
                .get("base_url")
                .and_then(toml::Value::as_str),
            Some("http://gpu:8000/v1")
        );
        assert_eq!(settings.models["qwen3-coder"].context_window, Some(262144));
    }

    #[test]
    fn guards_and_fallback_lists_reach_the_bridge_options() {
        let text = r#"
[guards]
continuation_retries = 2
loop_fail_note_after = 4
fallback_cooldown_secs = 30

[providers.vllm]
base_url = "http://gpu:8000/v1"
env_key = "VLLM_KEY"
fallback = ["qwen3-small", "litellm/gpt-4o-mini"]

[models."qwen3-coder"]
context_window = 32768
fallback = ["Qwen/Qwen3-8B"]
"#;
        let settings = LitellmSettings::from_toml(text, "litellm.toml").unwrap_or_default();
        let options = settings.bridge_options("vllm").unwrap_or_default();
        assert_eq!(options.guards.continuation.retries(), 2);
        assert_eq!(
            (
                options.guards.loops.fail_note_after,
                options.guards.loops.fail_stop_after
            ),
            (4, 6)
        );
        assert_eq!(options.guards.fallback.cooldown.as_secs(), 30);
        let names = |chain: &[codex_litellm_guards::settings::FallbackTarget]| {
            chain
                .iter()
                .map(|t| format!("{:?}/{}", t.provider, t.model))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(options.fallback.chain("other-model")),
            ["None/qwen3-small", "Some(\"litellm\")/gpt-4o-mini"]
        );
        // The model's own list beats the provider's; a slash that names no provider is
        // part of the model name.
        assert_eq!(
            names(options.fallback.chain("qwen3-coder")),
            ["None/Qwen/Qwen3-8B"]
        );
        let litellm = &options.fallback.routes["litellm"];
        assert_eq!(litellm.env_key.as_deref(), Some(ENV_API_KEY));
        assert_eq!(options.fallback.context_windows["qwen3-coder"], 32768);
        // Windows litellm.toml does not give are asked of the discovered models.
        assert_ne!(
            options.fallback.discovered_windows,
            codex_litellm_bridge::DiscoveredWindows::default()
        );
        // Defaults when nothing is written: continuation 1, loop guard 3/5/5.
        let defaults = LitellmSettings::default()
            .bridge_options("litellm")
            .unwrap_or_default();
        assert_eq!(defaults.guards.continuation.retries(), 1);
        assert_eq!(
            (
                defaults.guards.loops.fail_note_after,
                defaults.guards.loops.fail_stop_after,
                defaults.guards.loops.success_note_after
            ),
            (3, 5, 5)
        );
    }

    #[test]
    fn mistakes_are_clear_errors_naming_the_file() {
        let cases = [
            ("modle = \"x\"", "unknown key `modle`"),
            ("base_url = \"x\"", "goes in [providers.litellm]"),
            (
                "[providers.x.bridge]\ndeveloper_rol = \"user\"",
                "[providers.x.bridge]: unknown field `developer_rol`",
            ),
            (
                "[providers.x.bridge]\nmode = \"streaming\"",
                "unknown variant `streaming`",
            ),
            (
                "[providers.x.bridge]\nmax_attempts = 0",
                "max_attempts = 0 is out of range: use a value from 1 to 10",
            ),
            ("[providers.x]\nwire_api = \"chat\"", "remove `wire_api`"),
            ("[providers.x]\nbase_ur = \"y\"", "unknown key `base_ur`"),
            (
                "[telemetry]\nlevel = \"verbose\"",
                "telemetry.level must be",
            ),
            ("model = \"\"", "`model` must be a non-empty string"),
            ("[providers.\"a.b\"]\nname = \"x\"", "no dots"),
            ("not [ toml", "not valid TOML"),
            (
                "[guards]\ncontinuation_retries = 5",
                "continuation_retries = 5: use 0 (off) to 3",
            ),
            (
                "[guards]\nloop_stop = 3",
                "[guards]: unknown field `loop_stop`",
            ),
            (
                "[guards]\nloop_fail_note_after = 3\nloop_fail_stop_after = 2",
                "must be larger than loop_fail_note_after",
            ),
            (
                "[models.\"m\"]\nfallback = [\"m\"]",
                "`fallback` of m lists m itself",
            ),
            (
                "[providers.x]\nfallback = \"m\"",
                "`fallback` must be a list",
            ),
            (
                "[providers.x]\nfallback = [\" \"]",
                "an entry of `fallback = [...]` is empty",
            ),
        ];
        for (text, expected) in cases {
            let err = LitellmSettings::from_toml(text, "/h/litellm.toml")
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(
                err.contains(expected) && err.starts_with("/h/litellm.toml: "),
                "{text:?} gave {err:?}"
            );
        }
    }

    #[test]
    fn the_documented_example_loads() {
        // In the codex-litellm repository only (inside codex-rs there is no docs/).
        let manifest = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let Some(example) = manifest
            .ancestors()
            .map(|dir| dir.join("docs/examples/litellm.toml"))
            .find(|path| path.is_file())
        else {
            return;
        };
        let text = std::fs::read_to_string(&example).unwrap_or_default();
        let settings = LitellmSettings::from_toml(&text, "docs/examples/litellm.toml")
            .unwrap_or_else(|err| panic!("{err}"));
        assert_eq!(settings.model.as_deref(), Some("qwen3-coder"));
        assert_eq!(
            settings.chat_provider_ids(),
            ["litellm", "ollama-chat", "deepseek", "vllm"]
        );
    }

    #[cfg(unix)]
    #[test]
    fn telemetry_dir_expands_home_and_resolves_relative_paths_from_codex_home() {
        let codex_home = Path::new("/srv/codex-home");
        let dir = |text: Option<&str>| {
            TelemetrySettings {
                dir: text.map(PathBuf::from),
                ..TelemetrySettings::default()
            }
            .resolved_dir(codex_home)
        };
        let Some(home) = std::env::var_os("HOME").map(PathBuf::from) else {
            panic!("HOME must be set for this test");
        };
        assert_eq!(dir(None), codex_home.join("log/litellm"));
        assert_eq!(dir(Some("~/logs/litellm")), home.join("logs/litellm"));
        assert_eq!(dir(Some("~")), home);
        assert_eq!(dir(Some("telemetry")), codex_home.join("telemetry"));
        assert_eq!(dir(Some("/var/tmp/t")), PathBuf::from("/var/tmp/t"));
        // `~user` is not the home folder of the current user: left as written.
        assert_eq!(dir(Some("~other/x")), codex_home.join("~other/x"));
    }

    #[test]
    fn a_missing_file_gives_defaults() {
        let dir = std::env::temp_dir().join("codex-litellm-settings-missing");
        assert_eq!(LitellmSettings::load(&dir), Ok(LitellmSettings::default()));
        assert_eq!(
            LitellmSettings::from_toml("", "c"),
            Ok(LitellmSettings::default())
        );
    }
}
