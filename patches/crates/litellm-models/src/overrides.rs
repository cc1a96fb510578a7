//! The per-model override table: what the user says beats what the backend says.
//!
//! ```toml
//! [models."qwen3-coder"]     # in $CODEX_HOME/litellm.toml
//! context_window = 32768
//! max_output_tokens = 8192
//! supports_tools = true
//! reasoning = false
//! parallel_tool_calls = false
//! images = false
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::Serialize;

use crate::metadata::MetadataField;
use crate::metadata::ModelMetadata;

/// One `[models."<id>"] in litellm.toml` table. Every key is optional; unknown keys are an error
/// so a typo (`context_windw`) is reported instead of silently ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelOverride {
    pub context_window: Option<u64>,
    pub max_output_tokens: Option<u64>,
    pub supports_tools: Option<bool>,
    pub reasoning: Option<bool>,
    pub parallel_tool_calls: Option<bool>,
    pub images: Option<bool>,
    /// Models that answer when this one is down (`"model"` or `"<provider>/<model>"`);
    /// beats the provider's `fallback`. Read by codex-litellm-runtime for the bridge.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback: Option<Vec<String>>,
}

/// Model id → override, as read from `[models]` in litellm.toml.
pub type ModelOverrides = BTreeMap<String, ModelOverride>;

/// Where an overridden value is said to come from (shown in `/status`-like texts).
pub const OVERRIDE_SOURCE: &str = "litellm.toml [models]";

impl ModelOverride {
    /// `model` with every value this override sets replaced (a zero window is ignored).
    pub fn apply(&self, model: &ModelMetadata) -> ModelMetadata {
        let mut out = model.clone();
        out.set_u64(
            MetadataField::ContextWindow,
            self.context_window.filter(|n| *n > 0),
            OVERRIDE_SOURCE,
        );
        out.set_u64(
            MetadataField::MaxOutputTokens,
            self.max_output_tokens.filter(|n| *n > 0),
            OVERRIDE_SOURCE,
        );
        out.set_bool(
            MetadataField::SupportsTools,
            self.supports_tools,
            OVERRIDE_SOURCE,
        );
        out.set_bool(
            MetadataField::SupportsReasoning,
            self.reasoning,
            OVERRIDE_SOURCE,
        );
        out.set_bool(
            MetadataField::SupportsParallelToolCalls,
            self.parallel_tool_calls,
            OVERRIDE_SOURCE,
        );
        out.set_bool(MetadataField::SupportsImages, self.images, OVERRIDE_SOURCE);
        out
    }
}

/// `model` with its override applied, if the table has one for its id.
pub fn with_override(model: &ModelMetadata, overrides: &ModelOverrides) -> ModelMetadata {
    match overrides.get(&model.id) {
        Some(o) => o.apply(model),
        None => model.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn metadata_override_beats_discovered_values_and_keeps_the_rest() {
        let mut discovered = ModelMetadata::new("qwen3-coder");
        discovered.set_u64(
            MetadataField::ContextWindow,
            Some(262_144),
            "GET /model/info",
        );
        discovered.set_u64(
            MetadataField::MaxOutputTokens,
            Some(65_536),
            "GET /model/info",
        );
        discovered.set_bool(MetadataField::SupportsTools, Some(false), "GET /model/info");
        let overrides: ModelOverrides = [(
            "qwen3-coder".to_string(),
            ModelOverride {
                context_window: Some(32_768),
                supports_tools: Some(true),
                ..ModelOverride::default()
            },
        )]
        .into();

        let model = with_override(&discovered, &overrides);

        assert_eq!(model.context_window, Some(32_768));
        assert_eq!(model.source(MetadataField::ContextWindow), OVERRIDE_SOURCE);
        assert_eq!(model.supports_tools, Some(true));
        assert_eq!(model.max_output_tokens, Some(65_536));
        assert_eq!(
            model.source(MetadataField::MaxOutputTokens),
            "GET /model/info"
        );
        let other = with_override(&ModelMetadata::new("other"), &overrides);
        assert_eq!(other.context_window, None);
    }

    #[test]
    fn metadata_override_table_rejects_unknown_keys() {
        let ok: Result<ModelOverride, _> =
            serde_json::from_value(serde_json::json!({"context_window": 8192, "images": true}));
        assert_eq!(ok.ok().and_then(|o| o.context_window), Some(8192));
        let typo: Result<ModelOverride, _> =
            serde_json::from_value(serde_json::json!({"context_windw": 8192}));
        assert!(typo.is_err());
    }
}
