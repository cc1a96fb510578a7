//! What is known about one model, and where each value came from.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::Serialize;

/// One value of [`ModelMetadata`], named so a source can be recorded per value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetadataField {
    ContextWindow,
    MaxOutputTokens,
    SupportsTools,
    SupportsReasoning,
    SupportsParallelToolCalls,
    SupportsImages,
    IsChat,
}

/// What a backend said about one model. `None` = the backend did not say (or said `null`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ModelMetadata {
    /// The id requests must use (`model` in a chat request).
    pub id: String,
    /// Tokens the model can hold (prompt + answer, as the backend counts them).
    pub context_window: Option<u64>,
    pub max_output_tokens: Option<u64>,
    pub supports_tools: Option<bool>,
    pub supports_reasoning: Option<bool>,
    pub supports_parallel_tool_calls: Option<bool>,
    pub supports_images: Option<bool>,
    /// `false` for embedding, image, audio... models a gateway also lists.
    pub is_chat: Option<bool>,
    /// Where each known value came from, e.g. `GET /model/info model_info.max_input_tokens`.
    pub sources: BTreeMap<MetadataField, String>,
}

impl ModelMetadata {
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            ..Self::default()
        }
    }

    /// Sets `field` to `value` with its source, when `value` is known.
    pub fn set_u64(&mut self, field: MetadataField, value: Option<u64>, source: &str) {
        let Some(value) = value else { return };
        let slot = match field {
            MetadataField::ContextWindow => &mut self.context_window,
            MetadataField::MaxOutputTokens => &mut self.max_output_tokens,
            _ => return,
        };
        *slot = Some(value);
        self.sources.insert(field, source.to_string());
    }

    /// Sets a capability flag with its source, when `value` is known.
    pub fn set_bool(&mut self, field: MetadataField, value: Option<bool>, source: &str) {
        let Some(value) = value else { return };
        let slot = match field {
            MetadataField::SupportsTools => &mut self.supports_tools,
            MetadataField::SupportsReasoning => &mut self.supports_reasoning,
            MetadataField::SupportsParallelToolCalls => &mut self.supports_parallel_tool_calls,
            MetadataField::SupportsImages => &mut self.supports_images,
            MetadataField::IsChat => &mut self.is_chat,
            _ => return,
        };
        *slot = Some(value);
        self.sources.insert(field, source.to_string());
    }

    /// Each capability flag: (field, this value, `other`'s value).
    pub(crate) fn bool_fields_beside(
        &self,
        other: &ModelMetadata,
    ) -> [(MetadataField, Option<bool>, Option<bool>); 5] {
        [
            (
                MetadataField::SupportsTools,
                self.supports_tools,
                other.supports_tools,
            ),
            (
                MetadataField::SupportsParallelToolCalls,
                self.supports_parallel_tool_calls,
                other.supports_parallel_tool_calls,
            ),
            (
                MetadataField::SupportsReasoning,
                self.supports_reasoning,
                other.supports_reasoning,
            ),
            (
                MetadataField::SupportsImages,
                self.supports_images,
                other.supports_images,
            ),
            (MetadataField::IsChat, self.is_chat, other.is_chat),
        ]
    }

    /// Fills every value this one lacks from `other` (same model, a less trusted source).
    pub fn fill_missing_from(&mut self, other: &ModelMetadata) {
        let u64_fields = [
            (
                MetadataField::ContextWindow,
                self.context_window,
                other.context_window,
            ),
            (
                MetadataField::MaxOutputTokens,
                self.max_output_tokens,
                other.max_output_tokens,
            ),
        ];
        for (field, mine, theirs) in u64_fields {
            if mine.is_none() {
                self.set_u64(field, theirs, other.source(field));
            }
        }
        let bool_fields = self.bool_fields_beside(other);
        for (field, mine, theirs) in bool_fields {
            if mine.is_none() {
                self.set_bool(field, theirs, other.source(field));
            }
        }
    }

    /// Where `field`'s value came from (empty when unknown).
    pub fn source(&self, field: MetadataField) -> &str {
        self.sources.get(&field).map_or("", String::as_str)
    }

    /// Whether the backend said anything at all about this model beyond its id.
    pub fn has_any_value(&self) -> bool {
        !self.sources.is_empty()
    }
}

/// Merges lists from several endpoints: ids keep the order they were first seen in;
/// for each model, earlier lists win value by value (pass the most trusted first).
pub fn merge_by_trust(lists: &[Vec<ModelMetadata>]) -> Vec<ModelMetadata> {
    let mut merged: Vec<ModelMetadata> = Vec::new();
    for list in lists {
        for model in list {
            match merged.iter_mut().find(|m| m.id == model.id) {
                Some(existing) => existing.fill_missing_from(model),
                None => merged.push(model.clone()),
            }
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn metadata_merge_keeps_the_more_trusted_value_and_its_source() {
        let mut info = ModelMetadata::new("m");
        info.set_u64(
            MetadataField::ContextWindow,
            Some(16_384),
            "GET /model/info",
        );
        let mut listed = ModelMetadata::new("m");
        listed.set_u64(MetadataField::ContextWindow, Some(131_072), "GET /models");
        listed.set_u64(MetadataField::MaxOutputTokens, Some(4_096), "GET /models");
        let only_listed = ModelMetadata::new("other");

        let merged = merge_by_trust(&[vec![info], vec![listed, only_listed]]);

        assert_eq!(merged.len(), 2);
        assert_eq!(merged[0].context_window, Some(16_384));
        assert_eq!(
            merged[0].source(MetadataField::ContextWindow),
            "GET /model/info"
        );
        assert_eq!(merged[0].max_output_tokens, Some(4_096));
        assert_eq!(
            merged[0].source(MetadataField::MaxOutputTokens),
            "GET /models"
        );
        assert_eq!(merged[1].id, "other");
        assert!(!merged[1].has_any_value());
    }
}
