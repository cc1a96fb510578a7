//! The chat provider's model catalog: what the backend says about its models (through
//! codex-litellm-models: discovery, disk cache, overrides), as upstream's `ModelsResponse`.
//! Prepared when config loading resolves the provider, so `exec -m <unknown>` can stop
//! before the first prompt is sent; served by [`LiveModelsManager`], which rebuilds
//! upstream's `StaticModelsManager` whenever the provider's list changes (a refreshed
//! cache file, a retried discovery after the gateway came up).

use codex_http_client::HttpClientFactory;
use codex_litellm_models::CatalogOptions;
use codex_litellm_models::DiscoveryRequest;
use codex_litellm_models::LiveModels;
use codex_litellm_models::ModelMetadata;
use codex_litellm_models::ProviderModels;
use codex_litellm_models::ResolvedModel;
use codex_litellm_models::catalog_json_from_resolved;
use codex_litellm_models::resolve_models;
use codex_login::AuthManager;
use codex_model_provider_info::ModelProviderInfo;
use codex_models_manager::manager::ModelsManager;
use codex_models_manager::manager::ModelsManagerFuture;
use codex_models_manager::manager::RefreshStrategy;
use codex_models_manager::manager::SharedModelsManager;
use codex_models_manager::manager::StaticModelsManager;
use codex_protocol::config_types::CollaborationModeMask;
use codex_protocol::openai_models::ModelInfo;
use codex_protocol::openai_models::ModelsResponse;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::PoisonError;
use tokio::sync::TryLockError;

/// What the provider and the start-up line need from one preparation.
#[derive(Debug, Clone)]
pub struct PreparedModels {
    /// The catalog at start (the doctor and the start line read it).
    pub catalog: Arc<ModelsResponse>,
    /// Notices about the selected model, said once (default window, no tool support), and
    /// that the backend's list was cut.
    pub notices: Vec<String>,
    /// The backend lists models and the selected one is not among them.
    pub unknown_model: Option<String>,
    /// Each model's context window and where it came from (the doctor says so).
    pub context_windows: Vec<(String, u64, String)>,
    /// The provider's list for the rest of the process (shared by every models manager).
    pub live: Arc<LiveModels>,
    provider_id: String,
    model: Option<String>,
}

impl PreparedModels {
    /// The models manager for this provider: upstream's `StaticModelsManager`, rebuilt
    /// when the list changes. Use instead of `StaticModelsManager::new(.., catalog)`.
    pub fn models_manager(&self, auth_manager: Option<Arc<AuthManager>>) -> SharedModelsManager {
        Arc::new(LiveModelsManager {
            live: Arc::clone(&self.live),
            provider_id: self.provider_id.clone(),
            model: self.model.clone(),
            built: Mutex::new((
                0,
                Arc::new(StaticModelsManager::new(
                    auth_manager.clone(),
                    (*self.catalog).clone(),
                )),
            )),
            auth_manager,
        })
    }
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
        // A stale list still answers now; the running process picks up the refresh.
        Some(entry) if entry.has_list() => {
            if !models.spawn_refresh_if_stale() && models.needs_refresh() {
                refresh_now(&models)
                    .filter(|e| e.has_list())
                    .unwrap_or(entry)
            } else {
                entry
            }
        }
        // Discovery failed a moment ago: no list, and not asked again before its backoff.
        Some(entry) if !models.needs_refresh() => entry,
        // First run against this backend (or a failure's backoff is over): one short look.
        _ => refresh_now(&models)?,
    };

    let (catalog, resolved) = build_catalog(id, model, &entry.models)?;
    let mut notices = Vec::new();
    if let Some(selected) = model.and_then(|m| resolved.iter().find(|r| r.id() == m)) {
        notices.extend(selected.default_window_notice());
        notices.extend(selected.tool_support_warning());
    }
    notices.extend(entry.cut_notice());
    let unknown_model =
        model.and_then(|m| entry.validate_model(m).err().map(|err| err.to_string()));
    let client = codex_litellm_models::default_client(models.request.timeout);
    let context_windows = resolved
        .iter()
        .map(|r| {
            (
                r.id().to_string(),
                r.context_window,
                r.context_window_source(),
            )
        })
        .collect();
    Some(PreparedModels {
        catalog: Arc::new(catalog),
        notices,
        unknown_model,
        context_windows,
        live: Arc::new(LiveModels::new(models, client, Some(entry))),
        provider_id: id.to_string(),
        model: model.map(str::to_string),
    })
}

/// Upstream's catalog for `discovered` (plus overrides and the configured model).
fn build_catalog(
    id: &str,
    model: Option<&str>,
    discovered: &[ModelMetadata],
) -> Option<(ModelsResponse, Vec<ResolvedModel>)> {
    let overrides = codex_litellm_runtime::model_overrides();
    let mut options = CatalogOptions::new(codex_models_manager::model_info::BASE_INSTRUCTIONS);
    if let Some(model) = model {
        options = options.with_required_model(model);
    }
    let resolved = resolve_models(discovered, &overrides, &options);
    match serde_json::from_value::<ModelsResponse>(catalog_json_from_resolved(&resolved, &options))
    {
        Ok(catalog) => Some((catalog, resolved)),
        Err(err) => {
            tracing::warn!("codex-litellm: model catalog for provider {id} not usable: {err}");
            None
        }
    }
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

/// Upstream's `StaticModelsManager` over the provider's current list. Listing models (the
/// app-server's `model/list`, the TUI's `/model`) refreshes first when one is due (past the
/// TTL, or a failed discovery's backoff is over); a turn's lookup never waits, it only
/// starts that refresh. Everything else is the static manager's own behaviour.
#[derive(Debug)]
pub struct LiveModelsManager {
    live: Arc<LiveModels>,
    provider_id: String,
    model: Option<String>,
    auth_manager: Option<Arc<AuthManager>>,
    /// The list generation the static manager was built from.
    built: Mutex<(u64, Arc<StaticModelsManager>)>,
}

impl LiveModelsManager {
    /// The static manager for the current list, rebuilt if the list changed.
    fn current(&self) -> Arc<StaticModelsManager> {
        let snapshot = self.live.current();
        let mut built = self.built.lock().unwrap_or_else(PoisonError::into_inner);
        if built.0 != snapshot.generation
            && let Some((catalog, _)) =
                build_catalog(&self.provider_id, self.model.as_deref(), snapshot.models())
        {
            *built = (
                snapshot.generation,
                Arc::new(StaticModelsManager::new(self.auth_manager.clone(), catalog)),
            );
        }
        Arc::clone(&built.1)
    }

    async fn refreshed(&self, refresh_strategy: RefreshStrategy) -> Arc<StaticModelsManager> {
        if refresh_strategy != RefreshStrategy::Offline {
            self.live.lookup().await;
        }
        self.current()
    }
}

impl ModelsManager for LiveModelsManager {
    fn raw_model_catalog(
        &self,
        refresh_strategy: RefreshStrategy,
        http_client_factory: HttpClientFactory,
    ) -> ModelsManagerFuture<'_, ModelsResponse> {
        Box::pin(async move {
            let manager = self.refreshed(refresh_strategy).await;
            manager
                .raw_model_catalog(refresh_strategy, http_client_factory)
                .await
        })
    }

    fn get_remote_models(&self) -> ModelsManagerFuture<'_, Vec<ModelInfo>> {
        Box::pin(async move {
            self.live.spawn_refresh_if_due();
            let manager = self.current();
            manager.get_remote_models().await
        })
    }

    fn try_get_remote_models(&self) -> Result<Vec<ModelInfo>, TryLockError> {
        self.current().try_get_remote_models()
    }

    fn auth_manager(&self) -> Option<&AuthManager> {
        self.auth_manager.as_deref()
    }

    fn list_collaboration_modes(&self) -> Vec<CollaborationModeMask> {
        self.current().list_collaboration_modes()
    }

    fn get_default_model<'a>(
        &'a self,
        model: &'a Option<String>,
        allow_provider_model_fallback: bool,
        refresh_strategy: RefreshStrategy,
        http_client_factory: HttpClientFactory,
    ) -> ModelsManagerFuture<'a, String> {
        Box::pin(async move {
            let manager = self.refreshed(refresh_strategy).await;
            manager
                .get_default_model(
                    model,
                    allow_provider_model_fallback,
                    refresh_strategy,
                    http_client_factory,
                )
                .await
        })
    }

    fn refresh_if_new_etag(
        &self,
        _etag: String,
        _http_client_factory: HttpClientFactory,
    ) -> ModelsManagerFuture<'_, ()> {
        // Upstream's models ETag header comes from OpenAI's backend only.
        Box::pin(async {})
    }
}
