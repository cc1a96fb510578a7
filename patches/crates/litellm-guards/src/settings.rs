//! The guards' litellm.toml keys (proposed; the runtime parses the file and deserialises
//! these types from it):
//!
//! ```toml
//! [guards]                                 # all optional; defaults shown
//! continuation_retries = 1                 # nudges per request, 0 (off) to 3
//! continuation_tool_choice_required = false  # only for a backend that honours it
//! loop_fail_note_after = 3                 # same failing call N times: note (0 = off)
//! loop_fail_stop_after = 5                 # ... and end the turn here (default N + 2; 0 = never)
//! loop_success_note_after = 5              # same successful call M times: note (0 = off)
//! fallback_cooldown_secs = 60              # a failed model is skipped this long
//! fallback_short_retry_after_secs = 10     # a 429 asking to wait at most this stays put
//!
//! [providers.vllm]
//! fallback = ["qwen3-small", "litellm/gpt-4o-mini"]  # for every model of the provider
//!
//! [models."qwen3-coder"]
//! fallback = ["qwen3-coder-small"]         # this model's list beats its provider's
//! ```
//!
//! A fallback entry is `model` (same provider) or `<provider>/<model>` where `<provider>`
//! is a chat provider id; anything else with a slash is a model name ("Qwen/Qwen3-8B").

use crate::continuation::ContinuationPolicy;
use crate::fallback::FallbackPolicy;
use crate::loop_guard::LoopPolicy;
use serde::Deserialize;
use std::time::Duration;

/// `[guards]` as written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GuardSettings {
    pub continuation_retries: Option<i64>,
    pub continuation_tool_choice_required: Option<bool>,
    pub loop_fail_note_after: Option<u32>,
    pub loop_fail_stop_after: Option<u32>,
    pub loop_success_note_after: Option<u32>,
    pub fallback_cooldown_secs: Option<u64>,
    pub fallback_short_retry_after_secs: Option<u64>,
}

/// The policies the settings give.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Guards {
    pub continuation: ContinuationPolicy,
    pub loops: LoopPolicy,
    pub fallback: FallbackPolicy,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SettingsError {
    ContinuationRetries(i64),
    StopNotAfterNote { note: u32, stop: u32 },
    EmptyFallback,
    FallbackToItself(String),
}

impl std::fmt::Display for SettingsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SettingsError::ContinuationRetries(n) => write!(
                f,
                "litellm.toml [guards] continuation_retries = {n}: use 0 (off) to 3"
            ),
            SettingsError::StopNotAfterNote { note, stop } => write!(
                f,
                "litellm.toml [guards] loop_fail_stop_after = {stop} must be larger than loop_fail_note_after = {note} (the model is told first, stopped later), or 0 to never stop"
            ),
            SettingsError::EmptyFallback => write!(
                f,
                "litellm.toml: an entry of `fallback = [...]` is empty; write a model name or \"<provider>/<model>\""
            ),
            SettingsError::FallbackToItself(model) => write!(
                f,
                "litellm.toml: `fallback` of {model} lists {model} itself; remove it"
            ),
        }
    }
}

impl std::error::Error for SettingsError {}

impl GuardSettings {
    pub fn resolve(&self) -> Result<Guards, SettingsError> {
        let defaults = Guards::default();
        let continuation = ContinuationPolicy::new(
            self.continuation_retries
                .unwrap_or(i64::from(defaults.continuation.retries())),
            self.continuation_tool_choice_required.unwrap_or(false),
        )
        .map_err(|e| SettingsError::ContinuationRetries(e.0))?;
        let note = self
            .loop_fail_note_after
            .unwrap_or(defaults.loops.fail_note_after);
        let stop = self
            .loop_fail_stop_after
            .unwrap_or_else(|| if note == 0 { 0 } else { note + 2 });
        if note > 0 && stop > 0 && stop <= note {
            return Err(SettingsError::StopNotAfterNote { note, stop });
        }
        let loops = LoopPolicy {
            fail_note_after: note,
            fail_stop_after: stop,
            success_note_after: self
                .loop_success_note_after
                .unwrap_or(defaults.loops.success_note_after),
        };
        let fallback = FallbackPolicy {
            cooldown: self
                .fallback_cooldown_secs
                .map_or(defaults.fallback.cooldown, Duration::from_secs),
            short_retry_after: self
                .fallback_short_retry_after_secs
                .map_or(defaults.fallback.short_retry_after, Duration::from_secs),
        };
        Ok(Guards {
            continuation,
            loops,
            fallback,
        })
    }
}

/// One entry of `fallback = [...]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FallbackTarget {
    /// `None`: the same provider as the model that failed.
    pub provider: Option<String>,
    pub model: String,
}

impl FallbackTarget {
    /// `entry` is `model` or `<provider>/<model>`; the prefix is a provider only when it
    /// is one of `chat_providers`, so model names with slashes stay whole.
    pub fn parse(entry: &str, chat_providers: &[&str]) -> Result<Self, SettingsError> {
        let entry = entry.trim();
        if entry.is_empty() {
            return Err(SettingsError::EmptyFallback);
        }
        if let Some((provider, model)) = entry.split_once('/')
            && chat_providers.contains(&provider)
            && !model.trim().is_empty()
        {
            return Ok(Self {
                provider: Some(provider.to_string()),
                model: model.trim().to_string(),
            });
        }
        Ok(Self {
            provider: None,
            model: entry.to_string(),
        })
    }
}

/// The fallback chain of `model` on `provider`: the model's own list, else the
/// provider's; parsed, with the model itself refused.
pub fn fallback_chain(
    model: &str,
    provider: &str,
    model_list: Option<&[String]>,
    provider_list: Option<&[String]>,
    chat_providers: &[&str],
) -> Result<Vec<FallbackTarget>, SettingsError> {
    let list = model_list.or(provider_list).unwrap_or_default();
    list.iter()
        .map(|entry| {
            let target = FallbackTarget::parse(entry, chat_providers)?;
            let same_provider = target.provider.as_deref().is_none_or(|p| p == provider);
            if same_provider && target.model == model {
                return Err(SettingsError::FallbackToItself(model.to_string()));
            }
            Ok(target)
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn defaults_match_the_documented_values() {
        let guards = GuardSettings::default().resolve().unwrap();
        assert_eq!(guards.continuation.retries(), 1);
        assert!(!guards.continuation.tool_choice_required());
        assert_eq!(
            guards.loops,
            LoopPolicy {
                fail_note_after: 3,
                fail_stop_after: 5,
                success_note_after: 5
            }
        );
        assert_eq!(guards.fallback.cooldown, Duration::from_secs(60));
    }

    #[test]
    fn stop_defaults_to_note_plus_two_and_must_come_after_the_note() {
        let four = GuardSettings {
            loop_fail_note_after: Some(4),
            ..Default::default()
        };
        assert_eq!(four.resolve().unwrap().loops.fail_stop_after, 6);
        let bad = GuardSettings {
            loop_fail_note_after: Some(3),
            loop_fail_stop_after: Some(3),
            ..Default::default()
        };
        let error = bad.resolve().unwrap_err();
        assert_eq!(error, SettingsError::StopNotAfterNote { note: 3, stop: 3 });
        assert!(error.to_string().contains("or 0 to never stop"));
        let never = GuardSettings {
            loop_fail_stop_after: Some(0),
            ..Default::default()
        };
        assert_eq!(never.resolve().unwrap().loops.fail_stop_after, 0);
    }

    #[test]
    fn continuation_retries_out_of_range_is_an_error_naming_the_key() {
        let bad = GuardSettings {
            continuation_retries: Some(5),
            ..Default::default()
        };
        let error = bad.resolve().unwrap_err();
        assert_eq!(
            error.to_string(),
            "litellm.toml [guards] continuation_retries = 5: use 0 (off) to 3"
        );
    }

    #[test]
    fn unknown_keys_are_refused() {
        let error = serde_json::from_value::<GuardSettings>(serde_json::json!({"loop_stop": 3}))
            .unwrap_err()
            .to_string();
        assert!(error.contains("unknown field `loop_stop`"), "{error}");
    }

    #[test]
    fn fallback_entries_name_a_provider_only_when_it_is_one() {
        let providers = ["litellm", "vllm"];
        assert_eq!(
            FallbackTarget::parse("litellm/gpt-4o-mini", &providers).unwrap(),
            FallbackTarget {
                provider: Some("litellm".into()),
                model: "gpt-4o-mini".into()
            }
        );
        assert_eq!(
            FallbackTarget::parse("Qwen/Qwen3-8B", &providers).unwrap(),
            FallbackTarget {
                provider: None,
                model: "Qwen/Qwen3-8B".into()
            }
        );
        assert_eq!(
            FallbackTarget::parse("  ", &providers),
            Err(SettingsError::EmptyFallback)
        );
    }

    #[test]
    fn the_model_list_beats_the_provider_list_and_may_not_name_itself() {
        let model_list = vec!["small".to_string()];
        let provider_list = vec!["litellm/big".to_string()];
        let chain = fallback_chain(
            "m",
            "vllm",
            Some(&model_list),
            Some(&provider_list),
            &["litellm", "vllm"],
        )
        .unwrap();
        assert_eq!(chain.len(), 1);
        assert_eq!(chain[0].model, "small");
        let chain = fallback_chain(
            "m",
            "vllm",
            None,
            Some(&provider_list),
            &["litellm", "vllm"],
        )
        .unwrap();
        assert_eq!(chain[0].provider.as_deref(), Some("litellm"));
        let itself = vec!["vllm/m".to_string()];
        assert_eq!(
            fallback_chain("m", "vllm", Some(&itself), None, &["vllm"]),
            Err(SettingsError::FallbackToItself("m".into()))
        );
        // The same name on another provider is another model.
        assert!(
            fallback_chain(
                "m",
                "vllm",
                Some(&["litellm/m".to_string()]),
                None,
                &["litellm", "vllm"]
            )
            .is_ok()
        );
    }
}
