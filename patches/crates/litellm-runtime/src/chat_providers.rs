//! Which providers codex-litellm bridges, and the built-in ones it brings.
//!
//! At rust-v0.148.0 upstream has no chat wire API, so a chat provider is marked by
//! codex-litellm's own settings, never by a key stock `codex` reads. The built-in ids
//! (`litellm`, `ollama-chat`) are not upstream built-ins: codex-litellm hands their tables to
//! Codex as `-c model_providers.<id>.<key>=...`, and only for keys the user's own
//! `[model_providers.<id>]` table in config.toml does not set, so a user table is merged
//! over the built-in defaults instead of being ignored.

use crate::settings::DEFAULT_LITELLM_BASE_URL;
use crate::settings::ENV_API_KEY;
use crate::settings::ENV_BASE_URL;
use crate::settings::LITELLM_PROVIDER_ID;
use crate::settings::LitellmSettings;
use codex_litellm_bridge::BridgeOptions;
use std::ffi::OsString;

pub const OLLAMA_CHAT_PROVIDER_ID: &str = "ollama-chat";
pub const ENV_OSS_BASE_URL: &str = "CODEX_OSS_BASE_URL";
const DEFAULT_OLLAMA_CHAT_BASE_URL: &str = "http://localhost:11434/v1";

/// The bridge options for provider `id` when codex-litellm bridges it.
pub fn chat_bridge_options(
    settings: &LitellmSettings,
    config_toml: &toml::Table,
    id: &str,
) -> Option<BridgeOptions> {
    match id {
        LITELLM_PROVIDER_ID => Some(settings.bridge.clone().unwrap_or_default()),
        OLLAMA_CHAT_PROVIDER_ID => Some(BridgeOptions::default()),
        other => legacy_bridge_table(config_toml, other),
    }
}

/// `[model_providers.<id>.litellm_bridge]` in config.toml (the 0.125-era place).
fn legacy_bridge_table(config_toml: &toml::Table, id: &str) -> Option<BridgeOptions> {
    let table = config_toml
        .get("model_providers")?
        .get(id)?
        .get("litellm_bridge")?
        .clone();
    table.try_into::<BridgeOptions>().ok()
}

/// `-c model_providers.<id>.<key>=<value>` for each built-in chat provider key that the
/// user's config.toml table for that id does not set.
pub fn builtin_provider_args(
    settings: &LitellmSettings,
    config_toml: &toml::Table,
    env_base_url: Option<String>,
    env_oss_base_url: Option<String>,
) -> Vec<OsString> {
    let litellm = [
        ("name", toml_value("LiteLLM")),
        (
            "base_url",
            toml_value(&settings.litellm_base_url(env_base_url)),
        ),
        ("env_key", toml_value(ENV_API_KEY)),
        (
            "env_key_instructions",
            toml_value(&format!(
                "Set {ENV_API_KEY} to your LiteLLM key (any non-empty value if the gateway has \
no auth), and {ENV_BASE_URL} to the gateway URL (default {DEFAULT_LITELLM_BASE_URL})."
            )),
        ),
        // The bridge already retries each request; Codex's own stream retries on top of
        // that would multiply the attempts.
        ("stream_max_retries", "1".to_string()),
    ];
    let ollama = [
        ("name", toml_value("Ollama (chat)")),
        (
            "base_url",
            toml_value(
                &env_oss_base_url
                    .filter(|url| !url.trim().is_empty())
                    .unwrap_or_else(|| DEFAULT_OLLAMA_CHAT_BASE_URL.to_string()),
            ),
        ),
        ("stream_max_retries", "1".to_string()),
    ];
    let mut args = Vec::new();
    for (id, keys) in [
        (LITELLM_PROVIDER_ID, &litellm[..]),
        (OLLAMA_CHAT_PROVIDER_ID, &ollama[..]),
    ] {
        let user_table = config_toml
            .get("model_providers")
            .and_then(|providers| providers.get(id))
            .and_then(toml::Value::as_table);
        for (key, value) in keys {
            if user_table.is_some_and(|table| table.contains_key(*key)) {
                continue;
            }
            args.push(OsString::from("-c"));
            args.push(OsString::from(format!(
                "model_providers.{id}.{key}={value}"
            )));
        }
    }
    args
}

fn toml_value(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn strings(args: Vec<OsString>) -> Vec<String> {
        args.into_iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    fn table(text: &str) -> toml::Table {
        toml::from_str(text).unwrap_or_default()
    }

    #[test]
    fn precedence_builtin_litellm_table_defaults_fill_only_missing_keys() {
        let settings = LitellmSettings::default();
        let none = strings(builtin_provider_args(&settings, &table(""), None, None));
        assert!(none.contains(
            &"model_providers.litellm.base_url=\"http://localhost:4000/v1\"".to_string()
        ));
        assert!(none.contains(&"model_providers.litellm.env_key=\"LITELLM_API_KEY\"".to_string()));

        // A user's own [model_providers.litellm] table is merged over the defaults.
        let user = table("[model_providers.litellm]\nbase_url = \"http://gw:4000/v1\"\n");
        let merged = strings(builtin_provider_args(
            &settings,
            &user,
            Some("http://env/v1".into()),
            None,
        ));
        assert!(
            !merged
                .iter()
                .any(|a| a.starts_with("model_providers.litellm.base_url")),
            "{merged:?}"
        );
        assert!(
            merged.contains(&"model_providers.litellm.env_key=\"LITELLM_API_KEY\"".to_string())
        );
    }

    #[test]
    fn precedence_builtin_base_urls_from_environment() {
        let settings = LitellmSettings::default();
        let args = strings(builtin_provider_args(
            &settings,
            &table(""),
            Some("http://env:4000/v1".into()),
            Some("http://oss:11434/v1".into()),
        ));
        assert!(
            args.contains(&"model_providers.litellm.base_url=\"http://env:4000/v1\"".to_string())
        );
        assert!(
            args.contains(
                &"model_providers.ollama-chat.base_url=\"http://oss:11434/v1\"".to_string()
            )
        );
    }

    #[test]
    fn chat_providers_are_the_builtins_and_legacy_bridge_tables() {
        let settings = LitellmSettings::default();
        let config = table(
            "[model_providers.deepseek]\nbase_url = \"https://api.deepseek.com/v1\"\n\
             [model_providers.deepseek.litellm_bridge]\nauto_continue = 2\n\
             [model_providers.openai-proxy]\nbase_url = \"http://proxy/v1\"\n",
        );
        assert!(chat_bridge_options(&settings, &config, "litellm").is_some());
        assert!(chat_bridge_options(&settings, &config, "ollama-chat").is_some());
        assert_eq!(
            chat_bridge_options(&settings, &config, "deepseek").map(|o| o.auto_continue),
            Some(2)
        );
        assert_eq!(
            chat_bridge_options(&settings, &config, "openai-proxy"),
            None
        );
        assert_eq!(chat_bridge_options(&settings, &config, "openai"), None);
    }
}
