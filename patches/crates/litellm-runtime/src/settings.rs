//! codex-litellm's own settings: the `[litellm]` table of `$CODEX_HOME/config.toml`, plus
//! environment variables. Stock `codex` ignores an unknown top-level table, so this is the
//! place for everything only codex-litellm understands (stock `codex` refuses to start when
//! it sees `wire_api = "chat"` or an unknown `model_provider`).

use codex_litellm_bridge::BridgeOptions;
use serde::Deserialize;
use std::path::Path;
use std::path::PathBuf;

pub use codex_litellm_debug_telemetry::ENV_TELEMETRY;
pub use codex_litellm_debug_telemetry::codex_home;

pub const DEFAULT_LITELLM_BASE_URL: &str = "http://localhost:4000/v1";
pub const LITELLM_PROVIDER_ID: &str = "litellm";
pub const ENV_BASE_URL: &str = "LITELLM_BASE_URL";
pub const ENV_API_KEY: &str = "LITELLM_API_KEY";
pub const ENV_MODEL: &str = "LITELLM_MODEL";

/// `[litellm]` in config.toml.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LitellmSettings {
    /// Model used when codex-litellm runs without `--model` (`LITELLM_MODEL` wins).
    pub model: Option<String>,
    /// Provider used when codex-litellm runs without `-c model_provider=...`; defaults to the
    /// built-in `litellm` provider.
    pub provider: Option<String>,
    /// Base URL of the built-in `litellm` provider (`LITELLM_BASE_URL` wins).
    pub base_url: Option<String>,
    /// Bridge options of the built-in `litellm` provider.
    pub bridge: Option<BridgeOptions>,
    /// Model for upstream's background calls (approval review, memories) on a chat
    /// provider; default: the session's model.
    pub background_model: Option<String>,
    pub telemetry: TelemetrySettings,
    /// `[litellm.models."<id>"]`: per-model values that beat what the backend reports
    /// (context window, output cap, tools, reasoning, parallel tool calls, images).
    pub models: codex_litellm_models::ModelOverrides,
}

/// `[litellm.telemetry]`.
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

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SettingsError {
    #[error("{path}: the [litellm] table is invalid: {message}")]
    Invalid { path: String, message: String },
    #[error("{path}: [model_providers.{provider}.litellm_bridge] is invalid: {message}")]
    InvalidProviderBridge {
        path: String,
        provider: String,
        message: String,
    },
}

impl LitellmSettings {
    /// Reads `[litellm]` from `config.toml` in `codex_home`. A missing file or table gives
    /// defaults. A config.toml that does not parse is left for Codex to report.
    pub fn load(codex_home: &Path) -> Result<Self, SettingsError> {
        let path = codex_home.join("config.toml");
        let Ok(text) = std::fs::read_to_string(&path) else {
            return Ok(Self::default());
        };
        Self::from_config_toml(&text, &path.display().to_string())
    }

    pub fn from_config_toml(text: &str, path: &str) -> Result<Self, SettingsError> {
        let Ok(document) = toml::from_str::<toml::Table>(text) else {
            return Ok(Self::default());
        };
        validate_provider_bridge_tables(&document, path)?;
        let Some(table) = document.get("litellm") else {
            return Ok(Self::default());
        };
        let settings: LitellmSettings =
            table
                .clone()
                .try_into()
                .map_err(|err: toml::de::Error| SettingsError::Invalid {
                    path: path.to_string(),
                    message: err.message().to_string(),
                })?;
        if let Some(bridge) = &settings.bridge {
            bridge
                .validate()
                .map_err(|message| SettingsError::Invalid {
                    path: path.to_string(),
                    message,
                })?;
        }
        if !matches!(
            settings.telemetry.level.as_str(),
            "off" | "summary" | "full"
        ) {
            return Err(SettingsError::Invalid {
                path: path.to_string(),
                message: format!(
                    "telemetry.level must be \"off\", \"summary\" or \"full\", not {:?}",
                    settings.telemetry.level
                ),
            });
        }
        Ok(settings)
    }

    /// The model codex-litellm defaults to.
    pub fn default_model(&self, env_model: Option<String>) -> Option<String> {
        env_model
            .filter(|m| !m.trim().is_empty())
            .or_else(|| self.model.clone())
    }

    pub fn default_provider(&self) -> String {
        self.provider
            .clone()
            .unwrap_or_else(|| LITELLM_PROVIDER_ID.to_string())
    }

    pub fn litellm_base_url(&self, env_base_url: Option<String>) -> String {
        env_base_url
            .filter(|url| !url.trim().is_empty())
            .or_else(|| self.base_url.clone())
            .unwrap_or_else(|| DEFAULT_LITELLM_BASE_URL.to_string())
    }
}

/// Every `[model_providers.<id>.litellm_bridge]` table is read as strictly as
/// `[litellm.bridge]` (unknown keys, out-of-range values), so a bad value stops codex-litellm
/// with a message naming the provider and the key instead of being ignored.
fn validate_provider_bridge_tables(
    document: &toml::Table,
    path: &str,
) -> Result<(), SettingsError> {
    let Some(providers) = document
        .get("model_providers")
        .and_then(toml::Value::as_table)
    else {
        return Ok(());
    };
    for (id, provider) in providers {
        let Some(table) = provider.get("litellm_bridge") else {
            continue;
        };
        let invalid = |message: String| SettingsError::InvalidProviderBridge {
            path: path.to_string(),
            provider: id.clone(),
            message,
        };
        let options: BridgeOptions = table
            .clone()
            .try_into()
            .map_err(|err: toml::de::Error| invalid(err.message().to_string()))?;
        options.validate().map_err(invalid)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use codex_litellm_bridge::BridgeMode;
    use pretty_assertions::assert_eq;

    #[test]
    fn reads_the_litellm_table_and_ignores_the_rest() {
        let text = r#"
model = "gpt-5.1-codex"          # stock codex's model: not ours

[litellm]
model = "qwen3-coder"
base_url = "http://gateway:4000/v1"

[litellm.bridge]
mode = "passthrough"
auto_continue = 2

[litellm.telemetry]
level = "full"

[model_providers.other]
name = "x"
"#;
        let settings = LitellmSettings::from_config_toml(text, "config.toml").unwrap_or_default();
        assert_eq!(settings.model.as_deref(), Some("qwen3-coder"));
        assert_eq!(settings.default_provider(), "litellm");
        assert_eq!(settings.litellm_base_url(None), "http://gateway:4000/v1");
        assert_eq!(
            settings.litellm_base_url(Some("http://env/v1".into())),
            "http://env/v1"
        );
        assert_eq!(
            settings.default_model(Some("env-model".into())).as_deref(),
            Some("env-model")
        );
        let bridge = settings.bridge.unwrap_or_default();
        assert_eq!(
            (bridge.mode, bridge.auto_continue),
            (BridgeMode::Passthrough, 2)
        );
        assert_eq!(settings.telemetry.level, "full");
    }

    #[test]
    fn provider_bridge_tables_are_validated_with_bounds() {
        for (table, wanted) in [
            ("request_timeout_secs = 0", "use a value from 1 to 86400"),
            (
                "request_timeout_secs = 1000000000000",
                "request_timeout_secs = 1000000000000 is out of range",
            ),
            ("max_response_bytes = 0", "from 1024 to 1073741824"),
            ("extra_body = { messages = [] }", "must not set `messages`"),
            ("max_atempts = 3", "unknown field"),
        ] {
            let text = format!("[model_providers.vllm.litellm_bridge]\n{table}\n");
            let err = LitellmSettings::from_config_toml(&text, "config.toml")
                .map(|_| ())
                .map_err(|err| err.to_string());
            assert!(
                err.as_ref()
                    .is_err_and(|e| e.contains("[model_providers.vllm.litellm_bridge]")
                        && e.contains(wanted)),
                "{table}: {err:?}"
            );
        }
        let fine = "[model_providers.vllm.litellm_bridge]\nrequest_timeout_secs = 600\n";
        assert!(LitellmSettings::from_config_toml(fine, "config.toml").is_ok());
    }

    #[test]
    fn typos_are_clear_errors() {
        let cases = [
            ("[litellm]\nmodle = \"x\"", "unknown field `modle`"),
            (
                "[litellm.bridge]\ndeveloper_rol = \"user\"",
                "unknown field `developer_rol`",
            ),
            (
                "[litellm.bridge]\nmode = \"streaming\"",
                "unknown variant `streaming`",
            ),
            (
                "[litellm.bridge]\nmax_attempts = 0",
                "litellm_bridge.max_attempts = 0 is out of range: use a value from 1 to 10",
            ),
            (
                "[litellm.telemetry]\nlevel = \"verbose\"",
                "telemetry.level must be",
            ),
            (
                "[litellm.models.\"qwen3-coder\"]\ncontext_windw = 32768",
                "unknown field `context_windw`",
            ),
        ];
        for (text, expected) in cases {
            let err = LitellmSettings::from_config_toml(text, "/h/config.toml")
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(
                err.contains(expected) && err.contains("/h/config.toml"),
                "{text:?} gave {err:?}"
            );
        }
    }

    #[test]
    fn metadata_overrides_are_read_from_litellm_models() {
        let text = "[litellm.models.\"qwen3-coder\"]\ncontext_window = 32768\nsupports_tools = true\n";
        let settings = LitellmSettings::from_config_toml(text, "c").unwrap_or_default();
        let coder = settings.models.get("qwen3-coder").cloned().unwrap_or_default();
        assert_eq!(
            (coder.context_window, coder.supports_tools, coder.reasoning),
            (Some(32_768), Some(true), None)
        );
    }

    #[test]
    fn missing_or_broken_files_give_defaults() {
        assert_eq!(
            LitellmSettings::from_config_toml("", "c"),
            Ok(LitellmSettings::default())
        );
        assert_eq!(
            LitellmSettings::from_config_toml("not [ toml", "c"),
            Ok(LitellmSettings::default())
        );
        let dir = std::env::temp_dir().join("codex-litellm-settings-missing");
        assert_eq!(LitellmSettings::load(&dir), Ok(LitellmSettings::default()));
    }
}
