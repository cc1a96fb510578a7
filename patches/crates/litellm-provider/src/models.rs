//! The chat provider's model catalog: what the backend says about its models (through
//! codex-litellm-models: discovery, disk cache, overrides), as upstream's `ModelsResponse`,
//! served by upstream's own `StaticModelsManager`. Prepared when config loading resolves
//! the provider, so `exec -m <unknown>` can stop before the first prompt is sent.

use codex_litellm_models::CatalogOptions;
use codex_litellm_models::DiscoveryRequest;
use codex_litellm_models::ProviderModels;
use codex_litellm_models::catalog_json_from_resolved;
use codex_litellm_models::resolve_models;
use codex_litellm_models::validate_model;
use codex_model_provider_info::ModelProviderInfo;
use codex_protocol::openai_models::ModelsResponse;
use std::sync::Arc;

/// What the provider and the start-up line need from one preparation.
#[derive(Debug, Clone)]
pub struct PreparedModels {
    pub catalog: Arc<ModelsResponse>,
    /// Notices about the selected model, said once (default window, no tool support).
    pub notices: Vec<String>,
    /// The backend lists models and the selected one is not among them.
    pub unknown_model: Option<String>,
}

/// Discovery for `id`; `None` when the catalog cannot be made (then upstream's own
/// behaviour stays, and the reason is logged).
pub fn prepare(id: &str, info: &ModelProviderInfo, model: Option<&str>) -> Option<PreparedModels> {
    let base_url = info.base_url.clone()?;
    let api_key = info
        .env_key
        .as_deref()
        .and_then(|name| std::env::var(name).ok())
        .or_else(|| info.experimental_bearer_token.clone())
        .filter(|key| !key.trim().is_empty());
    let mut request = DiscoveryRequest::new(id, &base_url, api_key);
    if let Some(model) = model {
        request = request.with_wanted_model(model);
    }
    let cache_dir = codex_litellm_runtime::settings::codex_home()
        .join("cache")
        .join("litellm-models");
    let models = ProviderModels::new(cache_dir, request);
    let entry = match models.cached() {
        // A stale cache still answers now; the next session gets the refreshed one.
        Some(entry) => {
            if !models.spawn_refresh_if_stale() && models.needs_refresh() {
                refresh_now(&models);
            }
            entry
        }
        // First run against this backend: one short, bounded look.
        None => refresh_now(&models)?,
    };

    let overrides = codex_litellm_runtime::model_overrides();
    let mut options = CatalogOptions::new(codex_models_manager::model_info::BASE_INSTRUCTIONS);
    if let Some(model) = model {
        options = options.with_required_model(model);
    }
    let resolved = resolve_models(&entry.models, &overrides, &options);
    let catalog = match serde_json::from_value::<ModelsResponse>(catalog_json_from_resolved(
        &resolved, &options,
    )) {
        Ok(catalog) => catalog,
        Err(err) => {
            tracing::warn!("codex-litellm: model catalog for provider {id} not usable: {err}");
            return None;
        }
    };
    let mut notices = Vec::new();
    if let Some(selected) = model.and_then(|m| resolved.iter().find(|r| r.id() == m)) {
        notices.extend(selected.default_window_notice());
        notices.extend(selected.tool_support_warning());
    }
    let unknown_model = model.and_then(|m| {
        validate_model(m, id, &entry.served_ids())
            .err()
            .map(|err| err.to_string())
    });
    Some(PreparedModels {
        catalog: Arc::new(catalog),
        notices,
        unknown_model,
    })
}

/// Refreshes on a thread of its own (callers may be inside or outside a tokio runtime),
/// bounded by the discovery timeouts.
fn refresh_now(models: &ProviderModels) -> Option<codex_litellm_models::CacheEntry> {
    let models = models.clone();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .ok()?;
        let client = codex_litellm_models::default_client(models.request.timeout);
        Some(runtime.block_on(models.refresh(&client)))
    })
    .join()
    .ok()
    .flatten()
}
