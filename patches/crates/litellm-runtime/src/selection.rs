//! Which provider, base URL and model a codex-litellm run uses, where each came from, and
//! the `-c` overrides that make Codex see the same thing.
//!
//! One rule, written out as a table in docs/CONFIGURATION.md: the command line (including
//! the file of a `--profile`) beats the environment, which beats litellm.toml, which beats
//! config.toml, which beats the built-in defaults. Two details: config.toml's top-level
//! `model_provider` counts only when it names a chat provider (otherwise it is the stock
//! `codex` user's choice, e.g. `openai`), and environment variables never choose the
//! provider, only the model and the built-in providers' base URLs.

use crate::settings::DEFAULT_LITELLM_BASE_URL;
use crate::settings::DEFAULT_OLLAMA_PORT;
use crate::settings::ENV_API_KEY;
use crate::settings::ENV_BASE_URL;
use crate::settings::ENV_MODEL;
use crate::settings::ENV_OSS_BASE_URL;
use crate::settings::ENV_OSS_PORT;
use crate::settings::LITELLM_PROVIDER_ID;
use crate::settings::LitellmSettings;
use crate::settings::OLLAMA_CHAT_PROVIDER_ID;
use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::fmt;

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A flag, e.g. `-c model_provider`, `-m`, `--oss`.
    CommandLine(String),
    /// A key of the `--profile` file, e.g. `work.config.toml model`.
    Profile {
        file: String,
        key: String,
    },
    Env(String),
    LitellmToml(String),
    ConfigToml(String),
    BuiltIn,
    /// Nothing chose it: Codex's own default applies.
    CodexDefault,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::CommandLine(flag) => write!(f, "command line {flag}"),
            Source::Profile { file, key } => write!(f, "{file} {key}"),
            Source::Env(name) => f.write_str(name),
            Source::LitellmToml(key) => write!(f, "litellm.toml {key}"),
            Source::ConfigToml(key) => write!(f, "config.toml {key}"),
            Source::BuiltIn => f.write_str("built-in default"),
            Source::CodexDefault => f.write_str("Codex default"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    /// `None`: decided by Codex (e.g. `--oss` without a provider, no model anywhere).
    pub value: Option<String>,
    pub source: Source,
}

impl Choice {
    fn new(value: impl Into<String>, source: Source) -> Self {
        Self {
            value: Some(value.into()),
            source,
        }
    }
}

/// Everything a run's choice is made from.
pub struct Context<'a> {
    /// `$CODEX_HOME/config.toml`, after migration (empty when missing or unparsable).
    pub config: &'a toml::Table,
    pub settings: &'a LitellmSettings,
    /// Reads `$CODEX_HOME/<name>.config.toml` for `--profile <name>`.
    pub profile: &'a dyn Fn(&str) -> Option<toml::Table>,
    pub env: &'a dyn Fn(&str) -> Option<String>,
}

/// What the user chose on the command line.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CommandLine {
    /// (flag, value): `("-c model_provider", Some("x"))`, `("--oss", None)`.
    pub provider: Option<(String, Option<String>)>,
    pub model: Option<(String, String)>,
    pub profile: Option<String>,
    /// `(id, key)` of every `-c model_providers.<id>.<key>=...`.
    pub provider_keys: BTreeSet<(String, String)>,
    pub provider_values: BTreeMap<(String, String), String>,
}

impl CommandLine {
    /// Scans Codex's arguments (program name first) up to `--`.
    pub fn scan(args: &[String]) -> Self {
        let mut found = Self::default();
        let mut iter = args.iter().skip(1).peekable();
        while let Some(arg) = iter.next() {
            if arg == "--" {
                break;
            }
            let override_value = match arg.as_str() {
                "-c" | "--config" => iter.peek().map(|v| v.as_str()),
                other => other
                    .strip_prefix("--config=")
                    .or_else(|| other.strip_prefix("-c").filter(|rest| !rest.is_empty())),
            };
            if let Some(assignment) = override_value {
                let (key, value) = assignment.split_once('=').unwrap_or((assignment, ""));
                let key = key.trim();
                let value = toml_value_text(value);
                match key {
                    "model_provider" => {
                        found.provider = Some(("-c model_provider".to_string(), Some(value)))
                    }
                    "model" => found.model = Some(("-c model".to_string(), value)),
                    "profile" => found.profile = Some(value),
                    _ => {
                        if let Some(rest) = key.strip_prefix("model_providers.")
                            && let Some((id, provider_key)) = rest.split_once('.')
                        {
                            let id = id.trim_matches('"').to_string();
                            let provider_key = provider_key.to_string();
                            found
                                .provider_keys
                                .insert((id.clone(), provider_key.clone()));
                            found.provider_values.insert((id, provider_key), value);
                        }
                    }
                }
            }
            let next_value = iter.peek().map(|v| (*v).clone());
            match arg.as_str() {
                "-m" | "--model" => {
                    if let Some(value) = next_value {
                        found.model = Some((arg.clone(), value));
                    }
                }
                "-p" | "--profile" => found.profile = next_value,
                "--oss" => {
                    if found.provider.is_none() {
                        found.provider = Some(("--oss".to_string(), None));
                    }
                }
                "--local-provider" => {
                    found.provider = Some(("--local-provider".to_string(), next_value))
                }
                other => {
                    if let Some(value) = other.strip_prefix("--model=") {
                        found.model = Some(("--model".to_string(), value.to_string()));
                    } else if other.starts_with("-m")
                        && other.len() > 2
                        && !other.starts_with("-m-")
                    {
                        found.model = Some(("-m".to_string(), other[2..].to_string()));
                    } else if let Some(value) = other.strip_prefix("--profile=") {
                        found.profile = Some(value.to_string());
                    } else if let Some(value) = other
                        .strip_prefix("-p")
                        .filter(|v| !v.is_empty() && !v.starts_with('-'))
                    {
                        found.profile = Some(value.to_string());
                    } else if let Some(value) = other.strip_prefix("--local-provider=") {
                        found.provider =
                            Some(("--local-provider".to_string(), Some(value.to_string())));
                    }
                }
            }
        }
        found
    }
}

/// `"x"` -> `x`; anything that is not a TOML string stays as written.
fn toml_value_text(raw: &str) -> String {
    let raw = raw.trim();
    toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|table| table.get("v").and_then(|v| v.as_str().map(str::to_string)))
        .unwrap_or_else(|| raw.to_string())
}

/// The choice of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    pub provider: Choice,
    pub model: Choice,
    /// Base URL of the chosen provider, when it is known before Codex loads its config.
    pub base_url: Choice,
    /// The chosen provider is a chat provider (bridged).
    pub is_chat: bool,
    /// `-c` overrides for Codex, flag and value alternating (`-c`, `model_provider="x"`):
    /// inserted before the user's own arguments, so theirs still win.
    pub args: Vec<String>,
}

impl Resolution {
    /// `provider litellm (from litellm.toml provider) · http://gw:4000/v1 (LITELLM_BASE_URL)
    /// · model qwen3-coder (LITELLM_MODEL)`
    pub fn line(&self) -> String {
        let provider = self.provider.value.as_deref().unwrap_or("chosen by Codex");
        let base_url = match (&self.base_url.value, self.is_chat) {
            (Some(url), _) => format!(
                "{} ({})",
                codex_litellm_bridge::redact_url(url),
                self.base_url.source
            ),
            (None, false) => "Responses API, not bridged".to_string(),
            (None, true) => "no base URL".to_string(),
        };
        let model = match &self.model.value {
            Some(model) => format!("model {model} ({})", self.model.source),
            None => "model not set (Codex default)".to_string(),
        };
        format!(
            "provider {provider} (from {}) · {base_url} · {model}",
            self.provider.source
        )
    }
}

fn string_at<'a>(table: &'a toml::Table, path: &[&str]) -> Option<&'a str> {
    let (last, parents) = path.split_last()?;
    let mut current = table;
    for key in parents {
        current = current.get(*key)?.as_table()?;
    }
    current
        .get(*last)?
        .as_str()
        .filter(|s| !s.trim().is_empty())
}

fn provider_table<'a>(table: &'a toml::Table, id: &str) -> Option<&'a toml::Table> {
    table
        .get("model_providers")?
        .as_table()?
        .get(id)?
        .as_table()
}

/// Decides the run's provider and model and the `-c` overrides. `Err`: a chat provider that
/// is chosen but cannot work (no base URL anywhere), with what to write.
pub fn resolve(args: &[String], context: &Context<'_>) -> Result<Resolution, String> {
    let command_line = CommandLine::scan(args);
    let settings = context.settings;
    let profile = command_line.profile.as_ref().map(|name| {
        (
            format!("{name}.config.toml"),
            (context.profile)(name).unwrap_or_default(),
        )
    });
    let env = |name: &str| (context.env)(name).filter(|v| !v.trim().is_empty());

    let mut args_out: Vec<String> = Vec::new();
    let mut push = |key: String, value: &toml::Value| {
        args_out.push("-c".to_string());
        args_out.push(format!("{key}={value}"));
    };

    // Provider.
    let provider = if let Some((flag, value)) = &command_line.provider {
        Choice {
            value: value.clone(),
            source: Source::CommandLine(flag.clone()),
        }
    } else if let Some((file, table)) = &profile
        && let Some(id) = string_at(table, &["model_provider"])
    {
        Choice::new(
            id,
            Source::Profile {
                file: file.clone(),
                key: "model_provider".to_string(),
            },
        )
    } else if let Some(id) = &settings.provider {
        Choice::new(id, Source::LitellmToml("provider".to_string()))
    } else if let Some(id) = string_at(context.config, &["model_provider"])
        && settings.is_chat_provider(id)
    {
        Choice::new(id, Source::ConfigToml("model_provider".to_string()))
    } else {
        Choice::new(LITELLM_PROVIDER_ID, Source::BuiltIn)
    };
    // Only what Codex would not pick by itself goes on its command line: a profile's
    // provider sits below `-c` in Codex's layers, so it must not be overridden.
    if matches!(provider.source, Source::LitellmToml(_) | Source::BuiltIn)
        && let Some(id) = &provider.value
    {
        push(
            "model_provider".to_string(),
            &toml::Value::String(id.clone()),
        );
    }

    // Model.
    let model = if let Some((flag, value)) = &command_line.model {
        Choice::new(value, Source::CommandLine(flag.clone()))
    } else if let Some((file, table)) = &profile
        && let Some(model) = string_at(table, &["model"])
    {
        Choice::new(
            model,
            Source::Profile {
                file: file.clone(),
                key: "model".to_string(),
            },
        )
    } else if let Some(model) = env(ENV_MODEL) {
        Choice::new(model, Source::Env(ENV_MODEL.to_string()))
    } else if let Some(model) = &settings.model {
        Choice::new(model, Source::LitellmToml("model".to_string()))
    } else if let Some(model) = string_at(context.config, &["model"]) {
        Choice::new(model, Source::ConfigToml("model".to_string()))
    } else {
        Choice {
            value: None,
            source: Source::CodexDefault,
        }
    };
    if matches!(model.source, Source::Env(_) | Source::LitellmToml(_))
        && let Some(value) = &model.value
    {
        push("model".to_string(), &toml::Value::String(value.clone()));
    }

    // Chat provider definitions: litellm.toml's keys, then the built-in defaults for what
    // neither config.toml, the profile nor the command line define.
    let mut base_urls: BTreeMap<String, Choice> = BTreeMap::new();
    let mut undefined: Vec<String> = Vec::new();
    for id in settings.chat_provider_ids() {
        let in_file = |key: &str| -> Option<Source> {
            if command_line
                .provider_keys
                .contains(&(id.clone(), key.to_string()))
            {
                return Some(Source::CommandLine(format!(
                    "-c model_providers.{id}.{key}"
                )));
            }
            if let Some((file, table)) = &profile
                && provider_table(table, &id).is_some_and(|t| t.contains_key(key))
            {
                return Some(Source::Profile {
                    file: file.clone(),
                    key: format!("[model_providers.{id}] {key}"),
                });
            }
            provider_table(context.config, &id)
                .is_some_and(|t| t.contains_key(key))
                .then(|| Source::ConfigToml(format!("[model_providers.{id}] {key}")))
        };
        let ours = settings
            .providers
            .get(&id)
            .map(|p| p.definition.clone())
            .unwrap_or_default();
        let mut defaults = builtin_defaults(&id, &env);
        // The environment beats the files for the built-in providers' base URLs.
        let env_base_url = builtin_env_base_url(&id, &env);
        let mut base_url: Option<Choice> = None;
        if let Some((url, name)) = &env_base_url
            && in_file("base_url").is_none_or(|s| !matches!(s, Source::CommandLine(_)))
        {
            push(
                format!("model_providers.{id}.base_url"),
                &toml::Value::String(url.clone()),
            );
            defaults.remove("base_url");
            base_url = Some(Choice::new(url, Source::Env(name.clone())));
        }
        for (key, value) in &ours {
            if key == "base_url" && base_url.is_some() {
                continue;
            }
            if !matches!(in_file(key), Some(Source::CommandLine(_))) {
                push(format!("model_providers.{id}.{key}"), value);
            }
            defaults.remove(key);
        }
        for (key, value) in &defaults {
            if in_file(key).is_none() {
                push(format!("model_providers.{id}.{key}"), value);
            }
        }
        // Where the base URL Codex will use comes from.
        let base_url = base_url.or_else(|| match in_file("base_url") {
            Some(Source::CommandLine(flag)) => command_line
                .provider_values
                .get(&(id.clone(), "base_url".to_string()))
                .map(|url| Choice::new(url, Source::CommandLine(flag))),
            _ => None,
        });
        let base_url = base_url
            .or_else(|| {
                ours.get("base_url")
                    .and_then(toml::Value::as_str)
                    .map(|url| {
                        Choice::new(
                            url,
                            Source::LitellmToml(format!("[providers.{id}] base_url")),
                        )
                    })
            })
            .or_else(|| {
                profile.as_ref().and_then(|(file, table)| {
                    string_at(table, &["model_providers", &id, "base_url"]).map(|url| {
                        Choice::new(
                            url,
                            Source::Profile {
                                file: file.clone(),
                                key: format!("[model_providers.{id}] base_url"),
                            },
                        )
                    })
                })
            })
            .or_else(|| {
                string_at(context.config, &["model_providers", &id, "base_url"]).map(|url| {
                    Choice::new(
                        url,
                        Source::ConfigToml(format!("[model_providers.{id}] base_url")),
                    )
                })
            })
            .or_else(|| {
                builtin_defaults(&id, &env)
                    .get("base_url")
                    .and_then(toml::Value::as_str)
                    .map(|url| Choice::new(url, Source::BuiltIn))
            });
        match base_url {
            Some(choice) => {
                base_urls.insert(id.clone(), choice);
            }
            None => undefined.push(id.clone()),
        }
    }
    // A custom chat provider with no definition anywhere: Codex needs a non-empty name.
    let defined_ids: Vec<String> = base_urls.keys().cloned().collect();
    for id in defined_ids {
        let has_name = settings
            .providers
            .get(&id)
            .is_some_and(|p| p.definition.contains_key("name"))
            || provider_table(context.config, &id).is_some_and(|t| t.contains_key("name"))
            || profile.as_ref().is_some_and(|(_, t)| {
                provider_table(t, &id).is_some_and(|t| t.contains_key("name"))
            })
            || command_line
                .provider_keys
                .contains(&(id.clone(), "name".to_string()))
            || builtin_defaults(&id, &env).contains_key("name");
        if !has_name {
            push(
                format!("model_providers.{id}.name"),
                &toml::Value::String(id.clone()),
            );
        }
    }

    let is_chat = provider
        .value
        .as_deref()
        .is_some_and(|id| settings.is_chat_provider(id));
    if is_chat
        && let Some(id) = provider.value.as_deref()
        && undefined.iter().any(|u| u == id)
    {
        return Err(format!(
            "provider `{id}` (from {}) is listed in litellm.toml but has no base_url anywhere: add `base_url = \"http://host:port/v1\"` to [providers.{id}] in litellm.toml",
            provider.source
        ));
    }
    let base_url = provider
        .value
        .as_deref()
        .and_then(|id| {
            base_urls.get(id).cloned().or_else(|| {
                // A Responses provider: report its configured URL, if any.
                string_at(context.config, &["model_providers", id, "base_url"]).map(|url| {
                    Choice::new(
                        url,
                        Source::ConfigToml(format!("[model_providers.{id}] base_url")),
                    )
                })
            })
        })
        .unwrap_or(Choice {
            value: None,
            source: Source::CodexDefault,
        });
    Ok(Resolution {
        provider,
        model,
        base_url,
        is_chat,
        args: args_out,
    })
}

/// The base URL the environment gives a built-in chat provider, and the variable's name.
fn builtin_env_base_url(
    id: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Option<(String, String)> {
    match id {
        LITELLM_PROVIDER_ID => env(ENV_BASE_URL).map(|url| (url, ENV_BASE_URL.to_string())),
        OLLAMA_CHAT_PROVIDER_ID => env(ENV_OSS_BASE_URL)
            .map(|url| (url, ENV_OSS_BASE_URL.to_string()))
            .or_else(|| {
                env(ENV_OSS_PORT)
                    .and_then(|port| port.trim().parse::<u16>().ok())
                    .map(|port| {
                        (
                            format!("http://localhost:{port}/v1"),
                            ENV_OSS_PORT.to_string(),
                        )
                    })
            }),
        _ => None,
    }
}

/// What a built-in chat provider is made of, before any user setting.
pub fn builtin_defaults(
    id: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> BTreeMap<String, toml::Value> {
    let text = |s: &str| toml::Value::String(s.to_string());
    let mut values = BTreeMap::new();
    match id {
        LITELLM_PROVIDER_ID => {
            values.insert("name".to_string(), text("LiteLLM"));
            values.insert("base_url".to_string(), text(DEFAULT_LITELLM_BASE_URL));
            values.insert("env_key".to_string(), text(ENV_API_KEY));
            values.insert(
                "env_key_instructions".to_string(),
                text(&format!(
                    "Set {ENV_API_KEY} to your LiteLLM key (any non-empty value if the gateway has no auth), and {ENV_BASE_URL} to the gateway URL (default {DEFAULT_LITELLM_BASE_URL})."
                )),
            );
            // The bridge retries each request itself; Codex's stream retries on top would
            // multiply the attempts.
            values.insert("stream_max_retries".to_string(), toml::Value::Integer(1));
        }
        OLLAMA_CHAT_PROVIDER_ID => {
            values.insert("name".to_string(), text("Ollama (chat)"));
            let url = builtin_env_base_url(id, env)
                .map(|(url, _)| url)
                .unwrap_or_else(|| format!("http://localhost:{DEFAULT_OLLAMA_PORT}/v1"));
            values.insert("base_url".to_string(), text(&url));
            values.insert("stream_max_retries".to_string(), toml::Value::Integer(1));
        }
        _ => {}
    }
    values
}

#[cfg(test)]
#[path = "selection_tests.rs"]
mod tests;
