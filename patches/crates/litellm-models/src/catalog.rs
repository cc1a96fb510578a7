//! From what the backend said (plus overrides and defaults) to Codex's own model catalog:
//! the JSON of upstream's `ModelsResponse` (codex-rs/protocol/src/openai_models.rs at
//! rust-v0.148.0), for a `StaticModelsManager`. Only the backend's models are in it: a
//! gateway alias named like an OpenAI model (`gpt-5`, `o3`) gets the backend's values,
//! never upstream's bundled entry for that name.

use std::collections::HashMap;
use std::collections::HashSet;

use serde::Serialize;
use serde_json::Value;
use serde_json::json;

use crate::metadata::MetadataField;
use crate::metadata::ModelMetadata;
use crate::overrides::ModelOverrides;
use crate::overrides::with_override;

/// Window assumed when nothing says otherwise. Codex's own instructions and tool
/// definitions take about 10K tokens, so a smaller window cannot run the agent at all;
/// 32K is what current open coding models are commonly served with (vLLM / llama.cpp
/// setups that fit one GPU), small enough that auto-compaction starts before a 32K
/// backend refuses the prompt, and far below upstream's 272K fallback, which lets a
/// session run into the backend's context-length error instead of compacting.
pub const DEFAULT_CONTEXT_WINDOW: u64 = 32_768;

/// Upstream's tool-output truncation for its own models (`truncation_policy` tokens 10000
/// in models-manager/models.json); smaller windows get an eighth of the window so one
/// command's output cannot fill the context.
const MAX_TOOL_OUTPUT_TOKENS: u64 = 10_000;
const MIN_TOOL_OUTPUT_TOKENS: u64 = 1_000;

/// What the catalog needs beyond the models.
#[derive(Debug, Clone)]
pub struct CatalogOptions {
    /// Codex's base instructions (`codex_models_manager::model_info::BASE_INSTRUCTIONS`, the
    /// same text upstream's fallback metadata uses). Required by `ModelsResponse`.
    pub base_instructions: String,
    /// Window for a model nothing is known about ([`DEFAULT_CONTEXT_WINDOW`]).
    pub default_context_window: u64,
    /// Models that must be in the catalog even if the backend did not list them — the
    /// configured model — so Codex never falls back to its own metadata for them.
    pub required_models: Vec<String>,
}

impl CatalogOptions {
    pub fn new(base_instructions: impl Into<String>) -> Self {
        Self {
            base_instructions: base_instructions.into(),
            default_context_window: DEFAULT_CONTEXT_WINDOW,
            required_models: Vec::new(),
        }
    }

    pub fn with_required_model(mut self, model: impl Into<String>) -> Self {
        let model = model.into();
        if !model.is_empty() && !self.required_models.contains(&model) {
            self.required_models.push(model);
        }
        self
    }
}

/// One model with every value decided: discovered, overridden or defaulted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResolvedModel {
    /// Discovered values with overrides applied (sources included).
    pub metadata: ModelMetadata,
    pub context_window: u64,
    /// Neither the backend nor an override gave a window: [`DEFAULT_CONTEXT_WINDOW`].
    pub context_window_is_default: bool,
    /// Upstream compacts at 90% of the window; with a known output cap, earlier, so the
    /// answer still fits (see [`auto_compact_limit`]). `None` = upstream's 90%.
    pub auto_compact_token_limit: Option<u64>,
    pub max_output_tokens: Option<u64>,
    /// Unknown counts as yes (the agent needs tools; a warning is given only when the
    /// backend says no).
    pub supports_tools: bool,
    /// Unknown counts as no: no effort picker, no `reasoning_effort` sent. Reasoning the
    /// model emits is shown either way.
    pub reasoning: bool,
    /// Unknown counts as no.
    pub parallel_tool_calls: bool,
    /// Unknown counts as no (Codex then does not attach images the backend would reject).
    pub images: bool,
    /// Shown in `/model` (chat models the backend listed, and the required ones).
    pub listed: bool,
}

impl ResolvedModel {
    pub fn id(&self) -> &str {
        &self.metadata.id
    }

    /// Where the context window came from, for the doctor: the source discovery recorded
    /// (`GET /models`, LiteLLM `/model/info`, `litellm.toml [models]`, ...), or that it is
    /// codex-litellm's default because the backend reported none.
    pub fn context_window_source(&self) -> String {
        if self.context_window_is_default {
            return "codex-litellm's default: the backend reports no window; set \
                    [models.\"<model>\"] context_window in litellm.toml"
                .replace("<model>", self.id());
        }
        self.metadata
            .sources
            .get(&crate::metadata::MetadataField::ContextWindow)
            .cloned()
            .unwrap_or_else(|| "the backend's model metadata".to_string())
    }

    /// One line for the user when the window is a guess, saying how to set it. `None` when
    /// the backend or an override gave it.
    pub fn default_window_notice(&self) -> Option<String> {
        if !self.context_window_is_default {
            return None;
        }
        let id = self.id();
        Some(format!(
            "codex-litellm: the backend does not report a context window for `{id}`; assuming \
             {window} tokens. Set the real one in litellm.toml: [models.\"{id}\"] \
             context_window = N",
            window = self.context_window
        ))
    }

    /// One warning before the first turn when the backend says the model cannot call tools
    /// (and no override says it can).
    pub fn tool_support_warning(&self) -> Option<String> {
        if self.metadata.supports_tools != Some(false) {
            return None;
        }
        let id = self.id();
        let source = self.metadata.source(MetadataField::SupportsTools);
        Some(format!(
            "codex-litellm: the backend says `{id}` cannot call tools ({source}). Codex needs \
             tools to run commands and edit files; calls the model writes as text are only \
             recovered as a fallback. Pick a model with tool support, or, if the backend is \
             wrong, set [models.\"{id}\"] supports_tools = true in litellm.toml."
        ))
    }

    /// `/model` description: `16K context · tools · reasoning · images`.
    pub fn description(&self) -> String {
        let mut parts = vec![if self.context_window_is_default {
            format!(
                "context window unknown (assuming {})",
                format_tokens(self.context_window)
            )
        } else {
            format!("{} context", format_tokens(self.context_window))
        }];
        if let Some(out) = self.max_output_tokens {
            parts.push(format!("{} output", format_tokens(out)));
        }
        if self.metadata.supports_tools == Some(false) {
            parts.push("no tool calls".to_string());
        }
        if self.reasoning {
            parts.push("reasoning".to_string());
        }
        if self.images {
            parts.push("images".to_string());
        }
        parts.join(" · ")
    }
}

/// `16384` → `16K`, `131072` → `128K`, `200000` → `200K`, `1048576` → `1M`.
pub fn format_tokens(n: u64) -> String {
    const KI: u64 = 1024;
    if n >= 1_000_000 && (n.is_multiple_of(KI * KI) || n.is_multiple_of(1_000_000)) {
        let m = if n.is_multiple_of(KI * KI) {
            n / (KI * KI)
        } else {
            n / 1_000_000
        };
        return format!("{m}M");
    }
    if n >= KI && n.is_multiple_of(KI) {
        return format!("{}K", n / KI);
    }
    if n >= 1_000 {
        return format!("{}K", (n + 500) / 1_000);
    }
    n.to_string()
}

/// Where a window must leave room for the answer: the output cap, at most a quarter of the
/// window. Upstream clamps any limit to 90% of the window itself
/// (`ModelInfo::auto_compact_token_limit`), so this only ever moves compaction earlier.
pub fn auto_compact_limit(context_window: u64, max_output_tokens: Option<u64>) -> Option<u64> {
    let reserve = max_output_tokens?.min(context_window / 4);
    let limit = context_window.saturating_sub(reserve);
    (limit < context_window * 9 / 10).then_some(limit)
}

fn is_wildcard(id: &str) -> bool {
    id.contains('*')
}

/// Every model with its values decided, in catalog order: required models first, then
/// what the backend listed, then models only the override table names.
pub fn resolve_models(
    discovered: &[ModelMetadata],
    overrides: &ModelOverrides,
    options: &CatalogOptions,
) -> Vec<ResolvedModel> {
    // Sets and maps by id: linear in the number of models (a gateway may list thousands).
    let mut seen: HashSet<&str> = HashSet::new();
    let mut ids: Vec<&str> = Vec::new();
    let candidates = options
        .required_models
        .iter()
        .map(String::as_str)
        .chain(discovered.iter().map(|m| m.id.as_str()))
        .chain(overrides.keys().map(String::as_str));
    for id in candidates {
        if seen.insert(id) {
            ids.push(id);
        }
    }
    let mut by_id: HashMap<&str, &ModelMetadata> = HashMap::with_capacity(discovered.len());
    for model in discovered {
        by_id.entry(model.id.as_str()).or_insert(model);
    }
    ids.into_iter()
        .filter(|id| !is_wildcard(id))
        .map(|id| {
            let found = by_id.get(id).copied();
            let base = found.cloned().unwrap_or_else(|| ModelMetadata::new(id));
            let required = options.required_models.iter().any(|r| r == id);
            let listed = required
                || (found.is_some() && base.is_chat != Some(false))
                || overrides.contains_key(id);
            resolve_one(with_override(&base, overrides), listed, options)
        })
        .collect()
}

fn resolve_one(metadata: ModelMetadata, listed: bool, options: &CatalogOptions) -> ResolvedModel {
    let default_window = options.default_context_window.max(1);
    let context_window = metadata.context_window.unwrap_or(default_window);
    let max_output_tokens = metadata.max_output_tokens;
    ResolvedModel {
        context_window,
        context_window_is_default: metadata.context_window.is_none(),
        auto_compact_token_limit: auto_compact_limit(context_window, max_output_tokens),
        max_output_tokens,
        supports_tools: metadata.supports_tools != Some(false),
        reasoning: metadata.supports_reasoning == Some(true),
        parallel_tool_calls: metadata.supports_parallel_tool_calls == Some(true),
        images: metadata.supports_images == Some(true),
        listed,
        metadata,
    }
}

/// Upstream 0.148 `ModelsResponse` JSON for `models`: deserialize it with
/// `serde_json::from_value::<ModelsResponse>` and hand it to `StaticModelsManager::new`.
pub fn catalog_json(
    discovered: &[ModelMetadata],
    overrides: &ModelOverrides,
    options: &CatalogOptions,
) -> Value {
    let resolved = resolve_models(discovered, overrides, options);
    catalog_json_from_resolved(&resolved, options)
}

/// [`catalog_json`] for models already resolved (e.g. to also show their notices).
pub fn catalog_json_from_resolved(resolved: &[ResolvedModel], options: &CatalogOptions) -> Value {
    let models: Vec<Value> = resolved
        .iter()
        .enumerate()
        .map(|(priority, model)| model_info_json(model, priority, options))
        .collect();
    json!({ "models": models })
}

/// One `ModelInfo`. Field names and enum spellings are upstream's serde names at
/// rust-v0.148.0; the values mirror upstream's own fallback metadata
/// (`model_info_from_slug` in models-manager/src/model_info.rs) except where the backend
/// knows better, and the tool types are the ones the bridge carries over Chat Completions.
fn model_info_json(model: &ResolvedModel, priority: usize, options: &CatalogOptions) -> Value {
    let (levels, default_level) = if model.reasoning {
        // No default effort: Codex then sends none unless the user picks one, so the
        // backend keeps its own default (some gateways turn thinking on with any effort).
        (
            json!([
                {"effort": "low", "description": "Faster answers, less reasoning"},
                {"effort": "medium", "description": "Balanced reasoning"},
                {"effort": "high", "description": "Most reasoning, slower answers"},
            ]),
            Value::Null,
        )
    } else {
        (json!([]), Value::Null)
    };
    let input_modalities = if model.images {
        json!(["text", "image"])
    } else {
        json!(["text"])
    };
    let truncation_limit =
        (model.context_window / 8).clamp(MIN_TOOL_OUTPUT_TOKENS, MAX_TOOL_OUTPUT_TOKENS);
    let mut info = json!({
        // The slug is sent back to the backend as is; what `/model` shows is made safe.
        "slug": model.id(),
        "display_name": crate::display_safe(model.id()),
        "description": model.description(),
        "supported_reasoning_levels": levels,
        // `shell_command` as in upstream's bundled models; the `unified_exec` feature still
        // switches to `exec_command`, which the bridge carries too.
        "shell_type": "shell_command",
        "visibility": if model.listed { "list" } else { "hide" },
        "supported_in_api": true,
        "priority": priority,
        "availability_nux": null,
        "upgrade": null,
        "base_instructions": options.base_instructions,
        "include_skills_usage_instructions": false,
        "include_plugin_usage_instructions": false,
        "include_apps_usage_instructions": false,
        "support_verbosity": false,
        "default_verbosity": null,
        // Freeform apply_patch: the bridge sends it as a function with one `input` string.
        "apply_patch_tool_type": "freeform",
        "web_search_tool_type": "text",
        "truncation_policy": {"mode": "tokens", "limit": truncation_limit},
        "context_window": model.context_window,
        "effective_context_window_percent": 95,
        "experimental_supported_tools": [],
        "input_modalities": input_modalities,
        // Not a field of 0.148's ModelInfo (ignored there: Codex always asks for parallel
        // calls); kept for older readers. The bridge decides from `parallel_tool_calls`.
        "supports_parallel_tool_calls": model.parallel_tool_calls,
    });
    if let Some(map) = info.as_object_mut() {
        if !default_level.is_null() {
            map.insert("default_reasoning_level".into(), default_level);
        }
        if let Some(limit) = model.auto_compact_token_limit {
            map.insert("auto_compact_token_limit".into(), json!(limit));
        }
    }
    info
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn metadata_token_formatting() {
        assert_eq!(format_tokens(16_384), "16K");
        assert_eq!(format_tokens(131_072), "128K");
        assert_eq!(format_tokens(200_000), "200K");
        assert_eq!(format_tokens(16_385), "16K");
        assert_eq!(format_tokens(1_048_576), "1M");
        assert_eq!(format_tokens(1_000_000), "1M");
        assert_eq!(format_tokens(512), "512");
    }

    #[test]
    fn metadata_auto_compact_leaves_room_for_the_output_cap() {
        // 16K window, 4K answers: compact at 12K, not at upstream's 90% (14.7K).
        assert_eq!(auto_compact_limit(16_384, Some(4_096)), Some(12_288));
        // A huge cap reserves at most a quarter of the window.
        assert_eq!(auto_compact_limit(32_768, Some(100_000)), Some(24_576));
        // A small cap: upstream's 90% is already earlier, so nothing is set.
        assert_eq!(auto_compact_limit(131_072, Some(4_096)), None);
        assert_eq!(auto_compact_limit(16_384, None), None);
    }
}
