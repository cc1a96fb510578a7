//! The chat provider as upstream sees it: upstream's own provider for auth and request
//! setup, with what a Chat Completions backend is and is not (no OpenAI account, no
//! hosted tools, no remote compaction, background calls on the backend's own models).

use crate::registry::ChatProvider;
use codex_api::ApiError;
use codex_api::Provider;
use codex_api::SharedAuthProvider;
use codex_login::AuthManager;
use codex_login::CodexAuth;
use codex_model_provider::ModelProvider;
use codex_model_provider::ModelProviderFuture;
use codex_model_provider::ProviderAccountResult;
use codex_model_provider::ProviderAccountState;
use codex_model_provider::ProviderAuthScope;
use codex_model_provider::ProviderCapabilities;
use codex_model_provider::RemoteCompactionSupport;
use codex_model_provider::ResolvedProviderAuth;
use codex_model_provider::SharedModelProvider;
use codex_model_provider_info::ModelProviderInfo;
use codex_models_manager::cache::ModelsCache;
use codex_models_manager::manager::SharedModelsManager;
use codex_protocol::error::CodexErr;
use codex_protocol::openai_models::ModelsResponse;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::PoisonError;

/// Installed into `create_model_provider`: chat providers are wrapped, others pass.
pub(crate) fn wrap_chat_provider(inner: SharedModelProvider) -> SharedModelProvider {
    match crate::registry::chat_provider(inner.info()) {
        Some(chat) => Arc::new(ChatModelProvider::new(inner, chat)),
        None => inner,
    }
}

#[derive(Debug)]
pub struct ChatModelProvider {
    inner: SharedModelProvider,
    chat: ChatProvider,
    background_model: Option<&'static str>,
}

impl ChatModelProvider {
    pub fn new(inner: SharedModelProvider, chat: ChatProvider) -> Self {
        let background_model = codex_litellm_runtime::background_model()
            .or_else(|| chat.model.clone())
            .map(|model| static_model_name(&model));
        if background_model.is_none() {
            tracing::warn!(
                "codex-litellm: no model known for background calls (approval review, memories) \
on provider {}; set background_model in litellm.toml",
                chat.id
            );
        }
        Self {
            inner,
            chat,
            background_model,
        }
    }

    pub fn chat_provider(&self) -> &ChatProvider {
        &self.chat
    }

    /// The backend's own catalog, unless the user configured `model_catalog_json` (which,
    /// as upstream does, is authoritative).
    fn backend_catalog(
        &self,
        config_model_catalog: &Option<ModelsResponse>,
    ) -> Option<SharedModelsManager> {
        if config_model_catalog.is_some() {
            return None;
        }
        let models = self.chat.models.as_ref()?;
        Some(models.models_manager(self.inner.auth_manager()))
    }

    /// Upstream's names (`codex-auto-review`, `gpt-5.6-luna`, ...) do not exist on a chat
    /// backend: background calls use the session's model, or `[litellm] background_model`.
    fn background(&self, upstream_default: &'static str) -> &'static str {
        self.background_model.unwrap_or(upstream_default)
    }
}

/// The trait wants `&'static str`; each distinct model name is leaked once.
fn static_model_name(model: &str) -> &'static str {
    static NAMES: Mutex<BTreeMap<String, &'static str>> = Mutex::new(BTreeMap::new());
    let mut names = NAMES.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(name) = names.get(model) {
        return name;
    }
    let name: &'static str = Box::leak(model.to_string().into_boxed_str());
    names.insert(model.to_string(), name);
    name
}

impl ModelProvider for ChatModelProvider {
    fn info(&self) -> &ModelProviderInfo {
        self.inner.info()
    }

    fn capabilities(&self) -> ProviderCapabilities {
        // Hosted tools and remote compaction are OpenAI services a chat backend lacks; the
        // bridge drops hosted tools, so offering them would only mislead the model.
        ProviderCapabilities {
            namespace_tools: true,
            image_generation: false,
            web_search: false,
            external_web_access: false,
            remote_compaction: RemoteCompactionSupport::Unsupported,
        }
    }

    fn approval_review_preferred_model(&self) -> &'static str {
        self.background(self.inner.approval_review_preferred_model())
    }

    fn memory_extraction_preferred_model(&self) -> &'static str {
        self.background(self.inner.memory_extraction_preferred_model())
    }

    fn memory_consolidation_preferred_model(&self) -> &'static str {
        self.background(self.inner.memory_consolidation_preferred_model())
    }

    fn supports_attestation(&self) -> bool {
        false
    }

    fn auth_manager(&self) -> Option<Arc<AuthManager>> {
        self.inner.auth_manager()
    }

    fn auth(&self) -> ModelProviderFuture<'_, Option<CodexAuth>> {
        self.inner.auth()
    }

    fn account_state(&self) -> ProviderAccountResult {
        // A chat backend has no OpenAI account: no ChatGPT plan, limits or usage links.
        Ok(ProviderAccountState {
            account: None,
            requires_openai_auth: false,
        })
    }

    fn map_api_error(&self, error: ApiError) -> CodexErr {
        self.inner.map_api_error(error)
    }

    fn api_provider(&self) -> ModelProviderFuture<'_, codex_protocol::error::Result<Provider>> {
        self.inner.api_provider()
    }

    fn runtime_base_url(
        &self,
    ) -> ModelProviderFuture<'_, codex_protocol::error::Result<Option<String>>> {
        self.inner.runtime_base_url()
    }

    fn api_auth(
        &self,
    ) -> ModelProviderFuture<'_, codex_protocol::error::Result<SharedAuthProvider>> {
        self.inner.api_auth()
    }

    fn api_auth_for_scope(
        &self,
        scope: ProviderAuthScope,
    ) -> ModelProviderFuture<'_, codex_protocol::error::Result<ResolvedProviderAuth>> {
        self.inner.api_auth_for_scope(scope)
    }

    fn models_manager(
        &self,
        codex_home: PathBuf,
        config_model_catalog: Option<ModelsResponse>,
    ) -> SharedModelsManager {
        match self.backend_catalog(&config_model_catalog) {
            Some(manager) => manager,
            None => self.inner.models_manager(codex_home, config_model_catalog),
        }
    }

    fn models_manager_without_cache(
        &self,
        config_model_catalog: Option<ModelsResponse>,
    ) -> SharedModelsManager {
        match self.backend_catalog(&config_model_catalog) {
            Some(manager) => manager,
            None => self
                .inner
                .models_manager_without_cache(config_model_catalog),
        }
    }

    fn models_manager_with_cache(
        &self,
        config_model_catalog: Option<ModelsResponse>,
        cache: Arc<dyn ModelsCache>,
    ) -> SharedModelsManager {
        match self.backend_catalog(&config_model_catalog) {
            Some(manager) => manager,
            None => self
                .inner
                .models_manager_with_cache(config_model_catalog, cache),
        }
    }
}
