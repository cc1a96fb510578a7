//! Every model of the chosen model's `fallback = [...]` gets the checks the primary gets,
//! each row labelled `fallback <entry> (of <model>)`: a fallback that is not served, or not
//! reachable, fails here instead of in the middle of an outage.

use crate::Options;
use crate::Row;
use crate::Status;
use crate::Target;
use crate::probe_rows;

/// The rows of every fallback of `primary`'s model, and the secrets they bring (another
/// provider's key).
pub(crate) async fn fallback_rows(
    primary: &Target,
    env: &dyn Fn(&str) -> Option<String>,
    options: &Options,
) -> (Vec<Row>, Vec<String>) {
    let fallback = &primary.bridge.fallback;
    let list_at = if fallback.by_model.contains_key(&primary.model) {
        format!("[models.\"{}\"]", primary.model)
    } else {
        format!("[providers.{}]", primary.provider_id)
    };
    let mut rows = Vec::new();
    let mut secrets = Vec::new();
    for (n, entry) in fallback.chain(&primary.model).iter().enumerate() {
        let other = entry
            .provider
            .clone()
            .filter(|provider| *provider != primary.provider_id);
        let written = match &entry.provider {
            Some(provider) => format!("{provider}/{}", entry.model),
            None => entry.model.clone(),
        };
        let label = format!("fallback {written} (of {})", primary.model);
        let relabel = |mut row: Row| {
            row.id = format!(
                "litellm.fallback_{}.{}",
                n + 1,
                row.category.replace(' ', "_")
            );
            row.summary = format!("{label}: {}", row.summary);
            row
        };
        let target = match &other {
            None => Target {
                model: entry.model.clone(),
                ..primary.clone()
            },
            Some(provider) => {
                let Some(route) = fallback.routes.get(provider) else {
                    rows.push(relabel(
                        Row::new(
                            "chat model",
                            Status::Warning,
                            format!("not checked: provider {provider} has no base_url in litellm.toml, so codex-litellm cannot reach it as a fallback (the entry is skipped)"),
                        )
                        .fix(format!(
                            "give [providers.{provider}] a base_url (and env_key) in litellm.toml, or remove \"{written}\" from `fallback` of {list_at}"
                        )),
                    ));
                    continue;
                };
                let api_key_env = route.env_key.clone();
                Target {
                    provider_id: provider.clone(),
                    base_url: route.base_url.clone(),
                    model: entry.model.clone(),
                    api_key: api_key_env
                        .as_deref()
                        .and_then(env)
                        .filter(|key| !key.trim().is_empty()),
                    api_key_env,
                    http_headers: Vec::new(),
                    query_params: Vec::new(),
                    bridge: (*route.options).clone(),
                    proxy: crate::ProxySetting::for_url(&route.base_url, env),
                }
            }
        };
        // The catalog's windows are the primary provider's: not asked for another one.
        let other_options = Options {
            timeout: options.timeout,
            client: options.client.clone(),
            context_window: None,
        };
        let probe_options = if other.is_some() {
            &other_options
        } else {
            options
        };
        for row in probe_rows(&target, probe_options).await {
            // Same provider: its reach and key rows repeat the primary's.
            if other.is_none()
                && row.status == Status::Ok
                && matches!(row.category.as_str(), "chat reach" | "chat auth")
            {
                continue;
            }
            let mut row = relabel(row);
            if row.category == "chat model" && row.status == Status::Fail {
                row.remediation = Some(format!(
                    "fix the fallback list: \"{written}\" in `fallback` of {list_at} in litellm.toml names a model {} does not serve; write one it serves, or remove it",
                    target.provider_id
                ));
            }
            rows.push(row);
        }
        secrets.extend(target.secrets());
    }
    (rows, secrets)
}
