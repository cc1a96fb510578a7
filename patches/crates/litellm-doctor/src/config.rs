//! Checks 1 and 2: the configuration files, and the choice of provider, base URL and model.

use crate::Loaded;
use crate::Row;
use crate::Status;
use crate::Target;
use codex_litellm_runtime::ConfigView;
use codex_litellm_runtime::selection::Choice;
use codex_litellm_runtime::selection::Context;
use codex_litellm_runtime::selection::Resolution;
use codex_litellm_runtime::selection::builtin_defaults;
use codex_litellm_runtime::selection::resolve;
use codex_litellm_runtime::settings::CONFIG_TOML;
use codex_litellm_runtime::settings::LITELLM_TOML;
use codex_litellm_runtime::settings::OLLAMA_CHAT_PROVIDER_ID;
use std::path::Path;

/// Provider ids stock `codex` knows without a `[model_providers.<id>]` table.
const STOCK_BUILT_IN_PROVIDERS: &[&str] = &[
    "openai",
    "ollama",
    "lmstudio",
    "amazon-bedrock",
    "amazon-bedrock-runtime",
];

const MIGRATE_FIX: &str = "run codex-litellm once (e.g. `codex-litellm exec --skip-git-repo-check hi`): it moves them to litellm.toml, keeping a backup of config.toml; or move them by hand as docs/CONFIGURATION.md shows";

/// Check 1: config.toml and litellm.toml parse, and config.toml holds nothing that makes
/// stock `codex` warn or refuse to start.
pub fn config_row(codex_home: &Path, view: Result<&ConfigView, &String>) -> Row {
    let config_path = codex_home.join(CONFIG_TOML);
    let litellm_path = codex_home.join(LITELLM_TOML);
    let paths = |row: Row| {
        row.detail(format!("config.toml: {}", config_path.display()))
            .detail(format!(
                "litellm.toml: {} ({})",
                litellm_path.display(),
                if litellm_path.exists() {
                    "present"
                } else {
                    "absent"
                }
            ))
    };
    let config_text = std::fs::read_to_string(&config_path).unwrap_or_default();
    if let Err(err) = toml::from_str::<toml::Table>(&config_text) {
        return paths(Row::new(
            "chat config",
            Status::Fail,
            format!("config.toml does not parse: {}", err.message().trim()),
        ))
        .fix("fix config.toml at the place named (both codex and codex-litellm read it)");
    }
    let view = match view {
        Ok(view) => view,
        Err(err) => {
            return paths(Row::new(
                "chat config",
                Status::Fail,
                format!("codex-litellm's settings do not load: {err}"),
            ))
            .fix("fix the key named in litellm.toml (docs/CONFIGURATION.md lists them)");
        }
    };
    let row_with = |status: Status, summary: String, fix: &str| {
        paths(Row::new("chat config", status, summary))
            .detail(format!(
                "chat providers: {}",
                view.settings.chat_provider_ids().join(", ")
            ))
            .fix(fix)
    };
    if view
        .pending_migration
        .iter()
        .any(|item| item.starts_with("wire_api"))
    {
        return row_with(
            Status::Fail,
            format!(
                "config.toml has {}: stock codex refuses to start with it",
                view.pending_migration.join(", ")
            ),
            MIGRATE_FIX,
        );
    }
    if !view.pending_migration.is_empty() {
        return row_with(
            Status::Warning,
            format!(
                "config.toml still holds {}: stock codex warns about it on every run",
                view.pending_migration.join(", ")
            ),
            MIGRATE_FIX,
        );
    }
    if let Some(id) = view.config.get("model_provider").and_then(|v| v.as_str()) {
        let defined = view
            .config
            .get("model_providers")
            .and_then(|p| p.as_table())
            .is_some_and(|p| p.contains_key(id));
        if id == OLLAMA_CHAT_PROVIDER_ID || (!defined && !STOCK_BUILT_IN_PROVIDERS.contains(&id)) {
            return row_with(
                Status::Fail,
                format!(
                    "config.toml sets model_provider = \"{id}\", which stock codex does not know: it refuses to start"
                ),
                &format!(
                    "choose it for codex-litellm only: remove model_provider from config.toml and set `provider = \"{id}\"` in litellm.toml (or add a [model_providers.{id}] table with name and base_url to config.toml)"
                ),
            );
        }
    }
    let mut row = row_with(
        Status::Ok,
        "config.toml and litellm.toml load; nothing in config.toml that stock codex warns about"
            .to_string(),
        "",
    );
    row.remediation = None;
    row
}

/// Check 2: the provider, base URL and model this run uses, and where each came from. Also
/// returns what the probes need, or why they cannot run.
pub fn choice_row(
    view: &ConfigView,
    args: &[String],
    env: &dyn Fn(&str) -> Option<String>,
    loaded: Option<&Loaded>,
) -> (Row, Result<Target, String>) {
    let home = view.codex_home.clone();
    let profile = move |name: &str| {
        std::fs::read_to_string(home.join(format!("{name}.config.toml")))
            .ok()
            .and_then(|text| toml::from_str::<toml::Table>(&text).ok())
    };
    let resolution = match resolve(
        args,
        &Context {
            config: &view.config,
            settings: &view.settings,
            profile: &profile,
            env,
        },
    ) {
        Ok(resolution) => resolution,
        Err(err) => {
            return (
                Row::new("chat choice", Status::Fail, err),
                Err("no usable provider".to_string()),
            );
        }
    };
    // What Codex loaded is the truth; our resolution tells where it came from.
    let provider_id = loaded
        .map(|l| l.provider_id.clone())
        .or_else(|| resolution.provider.value.clone());
    let base_url = loaded
        .and_then(|l| l.base_url.clone())
        .or_else(|| resolution.base_url.value.clone());
    let model = loaded
        .and_then(|l| l.model.clone())
        .or_else(|| resolution.model.value.clone());
    let line = describe(
        &resolution,
        provider_id.as_deref(),
        base_url.as_deref(),
        model.as_deref(),
    );

    let Some(provider_id) = provider_id else {
        return (
            Row::new("chat choice", Status::Ok, line),
            Err("Codex chooses the provider (--oss)".to_string()),
        );
    };
    let Some(bridge) = view.settings.bridge_options(&provider_id) else {
        return (
            Row::new(
                "chat choice",
                Status::Ok,
                format!("{line}: a Responses provider, not bridged; upstream's checks cover it"),
            ),
            Err(format!("{provider_id} is not a chat provider")),
        );
    };
    let Some(model) = model else {
        return (
            Row::new(
                "chat choice",
                Status::Fail,
                format!("{line}: no model chosen"),
            )
            .fix("set LITELLM_MODEL, `model` in litellm.toml, or pass -m <model>"),
            Err("no model".to_string()),
        );
    };
    let Some(base_url) = base_url else {
        return (
            Row::new("chat choice", Status::Fail, format!("{line}: no base URL")).fix(format!(
                "set base_url in [providers.{provider_id}] of litellm.toml"
            )),
            Err("no base URL".to_string()),
        );
    };
    let api_key_env = loaded
        .and_then(|l| l.api_key_env.clone())
        .or_else(|| env_key_of(view, &provider_id, env));
    let api_key = loaded.and_then(|l| l.api_key.clone()).or_else(|| {
        api_key_env
            .as_deref()
            .and_then(env)
            .filter(|v| !v.trim().is_empty())
    });
    let mut row = Row::new("chat choice", Status::Ok, line)
        .detail(format!("provider: {provider_id}"))
        .detail(format!(
            "base URL: {}",
            codex_litellm_bridge::redact_url(&base_url)
        ))
        .detail(format!("model: {model}"))
        .detail(format!("bridge mode: {:?}", bridge.mode).to_lowercase());
    if let Some(name) = &api_key_env {
        row = row.detail(format!(
            "key env var {name}: {}",
            if api_key.is_some() {
                "present"
            } else {
                "not set"
            }
        ));
    }
    let target = Target {
        proxy: crate::ProxySetting::for_url(&base_url, env),
        provider_id,
        base_url,
        model,
        api_key,
        api_key_env,
        http_headers: loaded.map(|l| l.http_headers.clone()).unwrap_or_default(),
        query_params: loaded.map(|l| l.query_params.clone()).unwrap_or_default(),
        bridge,
    };
    (row, Ok(target))
}

/// `provider x (from ...) · url (...) · model m (...)`, with the origin of each value that is
/// the one codex-litellm chose, `Codex config` for one Codex changed afterwards.
fn describe(
    resolution: &Resolution,
    provider: Option<&str>,
    base_url: Option<&str>,
    model: Option<&str>,
) -> String {
    let origin = |choice: &Choice, value: Option<&str>| {
        if choice.value.as_deref() == value {
            choice.source.to_string()
        } else {
            "Codex config".to_string()
        }
    };
    format!(
        "provider {} (from {}) · {} · {}",
        provider.unwrap_or("chosen by Codex"),
        origin(&resolution.provider, provider),
        match base_url {
            Some(url) => format!(
                "{} ({})",
                codex_litellm_bridge::redact_url(url),
                origin(&resolution.base_url, base_url)
            ),
            None => "no base URL".to_string(),
        },
        match model {
            Some(model) => format!("model {model} ({})", origin(&resolution.model, Some(model))),
            None => "no model".to_string(),
        }
    )
}

/// The provider's `env_key`, from litellm.toml, config.toml or the built-in definition.
fn env_key_of(
    view: &ConfigView,
    provider_id: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Option<String> {
    let as_string =
        |value: Option<&toml::Value>| value.and_then(|v| v.as_str()).map(str::to_string);
    as_string(
        view.settings
            .providers
            .get(provider_id)
            .and_then(|p| p.definition.get("env_key")),
    )
    .or_else(|| {
        as_string(
            view.config
                .get("model_providers")
                .and_then(|p| p.get(provider_id))
                .and_then(|p| p.get("env_key")),
        )
    })
    .or_else(|| as_string(builtin_defaults(provider_id, env).get("env_key")))
}
