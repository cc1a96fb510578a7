//! `codex-litellm doctor`'s chat provider rows, from the provider table Codex loaded, with
//! the context window from the backend's own catalog (see `models`).

use codex_litellm_doctor::Loaded;
use codex_litellm_doctor::Options;
use codex_litellm_doctor::Row;
use codex_model_provider_info::ModelProviderInfo;

/// The rows for provider `id` as Codex loaded it; `loaded` is `None` when its config did
/// not load. Run as `codex`, nothing.
pub async fn doctor_rows(loaded: Option<(&str, &ModelProviderInfo, Option<&str>)>) -> Vec<Row> {
    let loaded = loaded.map(|(id, info, model)| Loaded {
        provider_id: id.to_string(),
        base_url: info.base_url.clone(),
        model: model.map(str::to_string),
        api_key: info.api_key().ok().flatten(),
        api_key_env: info.env_key.clone(),
        http_headers: info
            .http_headers
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect(),
        query_params: info
            .query_params
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect(),
    });
    let context_window = loaded.as_ref().and_then(|_| {
        let windows = crate::registry::resolved_context_windows()?;
        let lookup: Box<codex_litellm_doctor::ContextWindowLookup> = Box::new(move |model| {
            windows
                .iter()
                .find(|(id, _, _)| id == model)
                .map(|(_, tokens, source)| (*tokens, source.clone()))
        });
        Some(lookup)
    });
    let options = Options {
        context_window,
        ..Options::default()
    };
    codex_litellm_doctor::chat_checks(loaded, &options).await
}
