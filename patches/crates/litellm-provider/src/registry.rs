//! Which resolved provider tables are chat providers, and with which bridge options.

use codex_litellm_bridge::BridgeOptions;
use codex_model_provider_info::ModelProviderInfo;
use std::sync::Mutex;
use std::sync::PoisonError;

/// A provider codex-litellm bridges.
#[derive(Debug, Clone)]
pub struct ChatProvider {
    pub id: String,
    pub options: BridgeOptions,
    /// The model the configuration that named this provider resolved to, if any.
    pub model: Option<String>,
    /// The backend's models as upstream's catalog (`None`: upstream's behaviour stays).
    pub models: Option<crate::models::PreparedModels>,
}

struct Entry {
    info: ModelProviderInfo,
    provider: ChatProvider,
}

static RESOLVED: Mutex<Vec<Entry>> = Mutex::new(Vec::new());

/// Called by config loading with the provider id it resolved, its table and the model.
/// Only chat providers (per codex-litellm's settings) are remembered.
pub fn note_resolved_provider(id: &str, info: &ModelProviderInfo, model: Option<&str>) {
    // Run as `codex`, the binary is upstream: nothing is bridged.
    if !codex_litellm_runtime::is_codex_litellm() {
        return;
    }
    let options = codex_litellm_runtime::chat_bridge_options(id);
    let models = options
        .as_ref()
        .and_then(|_| crate::models::prepare(id, info, model));
    codex_litellm_runtime::note_session_provider(codex_litellm_runtime::session::SessionProvider {
        id: id.to_string(),
        base_url: info.base_url.clone(),
        model: model.map(str::to_string),
        bridged: options.is_some(),
        notices: models
            .as_ref()
            .map(|m| m.notices.clone())
            .unwrap_or_default(),
        unknown_model: models.as_ref().and_then(|m| m.unknown_model.clone()),
    });
    let Some(mut options) = options else {
        return;
    };
    if options.idle_timeout_secs.is_none() {
        options.idle_timeout_secs = info
            .stream_idle_timeout_ms
            .map(|ms| ms.div_ceil(1000).max(1));
    }
    let provider = ChatProvider {
        id: id.to_string(),
        options,
        model: model.map(str::to_string),
        models,
    };
    let mut resolved = RESOLVED.lock().unwrap_or_else(PoisonError::into_inner);
    match resolved.iter_mut().find(|entry| entry.info == *info) {
        Some(entry) => entry.provider = provider,
        None => resolved.push(Entry {
            info: info.clone(),
            provider,
        }),
    }
}

/// The chat provider `info` was resolved as, or `None` for a Responses provider.
pub fn chat_provider(info: &ModelProviderInfo) -> Option<ChatProvider> {
    RESOLVED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .find(|entry| entry.info == *info)
        .map(|entry| entry.provider.clone())
}

/// The context windows (model, tokens, where it came from) of the most recently resolved
/// chat provider's catalog, if one was made.
pub fn resolved_context_windows() -> Option<Vec<(String, u64, String)>> {
    RESOLVED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .rev()
        .find_map(|entry| {
            entry
                .provider
                .models
                .as_ref()
                .map(|m| m.context_windows.clone())
        })
}
