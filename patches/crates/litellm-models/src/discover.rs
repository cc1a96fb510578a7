//! The I/O shell: asks the backend what it serves, with short timeouts.
//!
//! `GET {base}/models` first. If that fails, discovery stops there: a backend that offers
//! nothing costs one quick failed request. Otherwise the answer's own fields say which
//! server it is, and only the endpoint that server has is asked next:
//! vLLM and OpenRouter — nothing more; llama.cpp — `GET {root}/props`; Ollama —
//! `GET {root}/api/ps` and `POST {root}/api/show` per model; anything else (LiteLLM,
//! OpenAI) — `GET {base}/model/info`, then `{root}/model/info` if that was a 404.
//! `{root}` is the base URL without a trailing `/v1`.
//!
//! The API key goes only into the `Authorization` header. Errors and probe notes name the
//! endpoint path and the HTTP status, never the URL's credentials, the key, or the body.

use std::collections::HashMap;
use std::collections::HashSet;
use std::time::Duration;

use futures::future::join_all;
use reqwest::StatusCode;
use reqwest::header::ETAG;
use reqwest::header::IF_NONE_MATCH;
use serde_json::Value;
use serde_json::json;

use crate::cache::CacheEntry;
use crate::cache::DiscoveryFailure;
use crate::cache::ModelCache;
use crate::cache::now_unix_ms;
use crate::metadata::ModelMetadata;
use crate::parse::BackendHint;
use crate::parse::ParseError;
use crate::parse::parse_litellm_model_info;
use crate::parse::parse_llamacpp_props;
use crate::parse::parse_models_list_limited;
use crate::parse::parse_ollama_ps;
use crate::parse::parse_ollama_show;

/// Per request. A local server answers in milliseconds; a gateway that needs longer for
/// its model list is not worth delaying a start for.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);

/// `/api/show` is one request per model: at most this many (wanted models first).
const MAX_OLLAMA_SHOW: usize = 16;

/// Largest answer read from any discovery endpoint. OpenRouter's full `/models` list (the
/// largest seen, a few hundred models with descriptions) is under 2 MiB; a bigger answer is
/// not read at all, so a broken or hostile gateway cannot make a start use its size in memory.
pub const MAX_ANSWER_BYTES: usize = 8 * 1024 * 1024;

/// Most models kept from one discovery (the configured model is kept beyond it). Each becomes
/// a catalog entry carrying Codex's base instructions, so the catalog grows with this.
pub const MAX_MODELS: usize = 1_000;

/// What to ask and how.
#[derive(Clone)]
pub struct DiscoveryRequest {
    pub provider: String,
    /// The provider's `base_url` (usually ending in `/v1`).
    pub base_url: String,
    pub api_key: Option<String>,
    pub timeout: Duration,
    /// Models to describe first where each needs its own request (Ollama): the configured one.
    pub wanted_models: Vec<String>,
}

impl std::fmt::Debug for DiscoveryRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiscoveryRequest")
            .field("provider", &self.provider)
            .field("base_url", &crate::cache::redact_base_url(&self.base_url))
            .field("api_key", &self.api_key.as_ref().map(|_| "***"))
            .field("timeout", &self.timeout)
            .field("wanted_models", &self.wanted_models)
            .finish()
    }
}

impl DiscoveryRequest {
    pub fn new(provider: &str, base_url: &str, api_key: Option<String>) -> Self {
        Self {
            provider: provider.to_string(),
            base_url: base_url.trim_end_matches('/').to_string(),
            api_key: api_key.filter(|k| !k.is_empty()),
            timeout: DEFAULT_TIMEOUT,
            wanted_models: Vec::new(),
        }
    }

    pub fn with_wanted_model(mut self, model: &str) -> Self {
        if !model.is_empty() && !self.wanted_models.iter().any(|m| m == model) {
            self.wanted_models.push(model.to_string());
        }
        self
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The base URL without a trailing `/v1`: where LiteLLM's `/model/info`, Ollama's
    /// `/api/*` and llama.cpp's `/props` live.
    pub fn root_url(&self) -> &str {
        self.base_url.strip_suffix("/v1").unwrap_or(&self.base_url)
    }
}

/// How one request went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeOutcome {
    Ok,
    NotModified,
    Http(u16),
    Timeout,
    Unreachable,
    NotJson,
    Malformed(String),
    /// The answer was larger than this many bytes and was not read.
    TooLarge(usize),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// `GET /v1/models`: method and path only.
    pub endpoint: String,
    pub outcome: ProbeOutcome,
}

impl std::fmt::Display for Probe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let outcome = match &self.outcome {
            ProbeOutcome::Ok => "ok".to_string(),
            ProbeOutcome::NotModified => "not modified".to_string(),
            ProbeOutcome::Http(status) => format!("HTTP {status}"),
            ProbeOutcome::Timeout => "timed out".to_string(),
            ProbeOutcome::Unreachable => "unreachable".to_string(),
            ProbeOutcome::NotJson => "not JSON".to_string(),
            ProbeOutcome::Malformed(why) => why.clone(),
            ProbeOutcome::TooLarge(limit) => {
                format!("answer larger than {} MiB, not read", limit / (1024 * 1024))
            }
        };
        write!(f, "{}: {outcome}", self.endpoint)
    }
}

/// What one discovery found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Discovery {
    pub models: Vec<ModelMetadata>,
    /// ETag of the `/models` answer.
    pub etag: Option<String>,
    /// `/models` answered 304 to `If-None-Match`: the cached list still holds.
    pub not_modified: bool,
    /// `/models` could not be read: nothing is known.
    pub failed: bool,
    pub probes: Vec<Probe>,
    /// The backend listed more than [`MAX_MODELS`]; the rest were dropped.
    pub cut: Option<ModelsCut>,
}

/// A model list shortened to [`MAX_MODELS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ModelsCut {
    /// How many models the backend listed.
    pub listed: usize,
    /// How many were kept.
    pub kept: usize,
}

impl ModelsCut {
    /// One line for the start-up notices and the doctor.
    pub fn notice(&self, provider: &str) -> String {
        format!(
            "codex-litellm: provider {provider} lists {listed} models; only {kept} are used \
             (the first ones, and the configured model). `-m` still accepts any model the \
             backend serves; describe one beyond the cut with [models.\"<id>\"] in litellm.toml.",
            listed = self.listed,
            kept = self.kept
        )
    }
}

/// A client for discovery: short connect timeout, the request timeout set per request.
pub fn default_client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(timeout.min(Duration::from_secs(2)))
        .build()
        .unwrap_or_default()
}

struct Fetcher<'a> {
    client: &'a reqwest::Client,
    request: &'a DiscoveryRequest,
    probes: Vec<Probe>,
}

struct Answer {
    body: Value,
    etag: Option<String>,
}

enum Fetched {
    Body(Answer),
    NotModified,
    Failed(ProbeOutcome),
}

/// The body, unless it is larger than `limit` (said by `Content-Length` or found while
/// reading): then reading stops there and the connection is dropped.
async fn read_capped(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, ProbeOutcome> {
    let declared = response.content_length().unwrap_or(0);
    if declared > limit as u64 {
        return Err(ProbeOutcome::TooLarge(limit));
    }
    let mut body = Vec::with_capacity(usize::try_from(declared).unwrap_or(0));
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > limit {
                    return Err(ProbeOutcome::TooLarge(limit));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(err) if err.is_timeout() => return Err(ProbeOutcome::Timeout),
            Err(_) => return Err(ProbeOutcome::Unreachable),
        }
    }
}

fn path_of(url: &str) -> &str {
    url.split_once("://")
        .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
        .unwrap_or("/")
}

impl Fetcher<'_> {
    async fn fetch(
        &self,
        method: reqwest::Method,
        url: &str,
        body: Option<Value>,
        etag: Option<&str>,
    ) -> (Probe, Fetched) {
        let endpoint = format!("{method} {}", path_of(url));
        let mut builder = self
            .client
            .request(method, url)
            .timeout(self.request.timeout)
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(key) = &self.request.api_key {
            builder = builder.bearer_auth(key);
        }
        if let Some(etag) = etag {
            builder = builder.header(IF_NONE_MATCH, etag);
        }
        if let Some(body) = body {
            builder = builder.json(&body);
        }
        let fetched = match builder.send().await {
            Err(err) if err.is_timeout() => Fetched::Failed(ProbeOutcome::Timeout),
            Err(_) => Fetched::Failed(ProbeOutcome::Unreachable),
            Ok(response) if response.status() == StatusCode::NOT_MODIFIED => Fetched::NotModified,
            Ok(response) if !response.status().is_success() => {
                Fetched::Failed(ProbeOutcome::Http(response.status().as_u16()))
            }
            Ok(response) => {
                let etag = response
                    .headers()
                    .get(ETAG)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                match read_capped(response, MAX_ANSWER_BYTES).await {
                    Err(outcome) => Fetched::Failed(outcome),
                    Ok(bytes) => match serde_json::from_slice::<Value>(&bytes) {
                        Ok(body) => Fetched::Body(Answer { body, etag }),
                        Err(_) => Fetched::Failed(ProbeOutcome::NotJson),
                    },
                }
            }
        };
        let outcome = match &fetched {
            Fetched::Body(_) => ProbeOutcome::Ok,
            Fetched::NotModified => ProbeOutcome::NotModified,
            Fetched::Failed(outcome) => outcome.clone(),
        };
        (Probe { endpoint, outcome }, fetched)
    }

    async fn get(&mut self, url: &str) -> Option<Value> {
        let (probe, fetched) = self.fetch(reqwest::Method::GET, url, None, None).await;
        self.probes.push(probe);
        match fetched {
            Fetched::Body(answer) => Some(answer.body),
            _ => None,
        }
    }

    fn note_parse_error(&mut self, err: &ParseError) {
        if let Some(last) = self.probes.last_mut() {
            last.outcome = ProbeOutcome::Malformed(err.to_string());
        }
    }
}

/// Asks the backend what it serves. Never fails: what could not be learned is simply not
/// in the result (see [`Discovery::probes`]).
pub async fn discover(
    client: &reqwest::Client,
    request: &DiscoveryRequest,
    if_none_match: Option<&str>,
) -> Discovery {
    let mut fetcher = Fetcher {
        client,
        request,
        probes: Vec::new(),
    };
    let models_url = format!("{}/models", request.base_url);
    let (probe, mut fetched) = fetcher
        .fetch(reqwest::Method::GET, &models_url, None, if_none_match)
        .await;
    fetcher.probes.push(probe);
    // A server that no longer accepts the stored ETag (412, 400, ...) would otherwise fail
    // every refresh and keep a stale list forever: ask once more without it.
    if if_none_match.is_some() && matches!(fetched, Fetched::Failed(ProbeOutcome::Http(_))) {
        let (probe, again) = fetcher
            .fetch(reqwest::Method::GET, &models_url, None, None)
            .await;
        fetcher.probes.push(probe);
        fetched = again;
    }
    let answer = match fetched {
        Fetched::Body(answer) => answer,
        Fetched::NotModified => {
            return Discovery {
                not_modified: true,
                etag: if_none_match.map(str::to_string),
                probes: fetcher.probes,
                ..Discovery::default()
            };
        }
        Fetched::Failed(_) => {
            return Discovery {
                failed: true,
                probes: fetcher.probes,
                ..Discovery::default()
            };
        }
    };
    let list = match parse_models_list_limited(&answer.body, MAX_MODELS, &request.wanted_models) {
        Ok(list) => list,
        Err(err) => {
            fetcher.note_parse_error(&err);
            return Discovery {
                failed: true,
                probes: fetcher.probes,
                ..Discovery::default()
            };
        }
    };
    drop(answer.body);
    let (listed, mut hint) = (list.models, list.hint);
    let cut = (list.listed > listed.len()).then_some(ModelsCut {
        listed: list.listed,
        kept: listed.len(),
    });
    if hint == BackendHint::Other && request.root_url().ends_with(":11434") {
        hint = BackendHint::Ollama;
    }
    let trusted = match hint {
        BackendHint::Vllm | BackendHint::OpenRouter => Vec::new(),
        BackendHint::LlamaCpp => llamacpp_props(&mut fetcher, &listed).await,
        BackendHint::Ollama => ollama_details(&mut fetcher, &listed).await,
        BackendHint::Other => litellm_model_info(&mut fetcher).await,
    };
    let mut models = merge_listed_with_trusted(listed, trusted);
    // Models only `/model/info` names come last; they count towards the cap too.
    let cut = match cut_list(&mut models, &request.wanted_models, MAX_MODELS) {
        Some(later) => Some(ModelsCut {
            listed: cut.map_or(later.listed, |c| c.listed - c.kept + later.listed),
            kept: later.kept,
        }),
        None => cut,
    };
    Discovery {
        models,
        etag: answer.etag,
        not_modified: false,
        failed: false,
        probes: fetcher.probes,
        cut,
    }
}

/// Keeps the first `max` models, plus any wanted (configured) model listed beyond them.
fn cut_list(models: &mut Vec<ModelMetadata>, wanted: &[String], max: usize) -> Option<ModelsCut> {
    if models.len() <= max {
        return None;
    }
    let listed = models.len();
    let beyond: Vec<ModelMetadata> = models
        .drain(max..)
        .filter(|m| wanted.contains(&m.id))
        .collect();
    models.extend(beyond);
    Some(ModelsCut {
        listed,
        kept: models.len(),
    })
}

/// `/models` order; each listed model's values from the trusted source first. Models only
/// the trusted source names (e.g. LiteLLM wildcard routes) come last.
fn merge_listed_with_trusted(
    listed: Vec<ModelMetadata>,
    trusted: Vec<ModelMetadata>,
) -> Vec<ModelMetadata> {
    let mut by_id: HashMap<String, usize> = HashMap::with_capacity(trusted.len());
    for (i, model) in trusted.iter().enumerate() {
        by_id.entry(model.id.clone()).or_insert(i);
    }
    let mut seen: HashSet<String> = HashSet::with_capacity(listed.len());
    let mut merged: Vec<ModelMetadata> = listed
        .into_iter()
        .map(|model| {
            seen.insert(model.id.clone());
            match by_id.get(&model.id) {
                Some(&i) => {
                    let mut better = trusted[i].clone();
                    better.fill_missing_from(&model);
                    better
                }
                None => model,
            }
        })
        .collect();
    for model in trusted {
        if seen.insert(model.id.clone()) {
            merged.push(model);
        }
    }
    merged
}

async fn litellm_model_info(fetcher: &mut Fetcher<'_>) -> Vec<ModelMetadata> {
    let base = fetcher.request.base_url.clone();
    let root = fetcher.request.root_url().to_string();
    let mut body = fetcher.get(&format!("{base}/model/info")).await;
    let was_404 = fetcher
        .probes
        .last()
        .is_some_and(|p| p.outcome == ProbeOutcome::Http(404));
    if body.is_none() && was_404 && root != base {
        body = fetcher.get(&format!("{root}/model/info")).await;
    }
    let Some(body) = body else {
        return Vec::new();
    };
    parse_litellm_model_info(&body).unwrap_or_else(|err| {
        fetcher.note_parse_error(&err);
        Vec::new()
    })
}

async fn llamacpp_props(fetcher: &mut Fetcher<'_>, listed: &[ModelMetadata]) -> Vec<ModelMetadata> {
    let root = fetcher.request.root_url().to_string();
    let Some(body) = fetcher.get(&format!("{root}/props")).await else {
        return Vec::new();
    };
    let props = match parse_llamacpp_props(&body) {
        Ok(props) => props,
        Err(err) => {
            fetcher.note_parse_error(&err);
            return Vec::new();
        }
    };
    // One server, one model: the props belong to the listed model (by alias, or the only one).
    let target = listed
        .iter()
        .find(|m| !props.id.is_empty() && m.id == props.id)
        .or_else(|| (listed.len() == 1).then(|| &listed[0]));
    match target {
        Some(model) => vec![ModelMetadata {
            id: model.id.clone(),
            ..props
        }],
        None => Vec::new(),
    }
}

async fn ollama_details(fetcher: &mut Fetcher<'_>, listed: &[ModelMetadata]) -> Vec<ModelMetadata> {
    let root = fetcher.request.root_url().to_string();
    let mut ids: Vec<&str> = fetcher
        .request
        .wanted_models
        .iter()
        .map(String::as_str)
        .filter(|w| listed.iter().any(|m| m.id == *w))
        .collect();
    for model in listed {
        if ids.len() >= MAX_OLLAMA_SHOW {
            break;
        }
        if !ids.contains(&model.id.as_str()) {
            ids.push(&model.id);
        }
    }
    ids.truncate(MAX_OLLAMA_SHOW);
    let show_url = format!("{root}/api/show");
    let shows = join_all(ids.iter().map(|id| {
        fetcher.fetch(
            reqwest::Method::POST,
            &show_url,
            Some(json!({"model": id})),
            None,
        )
    }))
    .await;
    let mut details = Vec::new();
    for (id, (probe, fetched)) in ids.iter().zip(shows) {
        fetcher.probes.push(probe);
        if let Fetched::Body(answer) = fetched {
            match parse_ollama_show(id, &answer.body) {
                Ok(model) => details.push(model),
                Err(err) => fetcher.note_parse_error(&err),
            }
        }
    }
    // A loaded model's live window fills in where the Modelfile sets no num_ctx.
    if let Some(body) = fetcher.get(&format!("{root}/api/ps")).await {
        match parse_ollama_ps(&body) {
            Ok(running) => {
                for live in running {
                    match details.iter_mut().find(|d| d.id == live.id) {
                        Some(known) => known.fill_missing_from(&live),
                        None => details.push(live),
                    }
                }
            }
            Err(err) => fetcher.note_parse_error(&err),
        }
    }
    details
}

/// Discovery plus the disk cache of one provider: what a models manager and start-up use.
#[derive(Debug, Clone)]
pub struct ProviderModels {
    pub cache: ModelCache,
    pub request: DiscoveryRequest,
}

impl ProviderModels {
    /// `cache_dir`: e.g. `$CODEX_HOME/cache/litellm-models`.
    pub fn new(cache_dir: impl Into<std::path::PathBuf>, request: DiscoveryRequest) -> Self {
        let cache = ModelCache::new(
            cache_dir,
            &request.provider,
            &request.base_url,
            request.api_key.as_deref(),
        );
        Self { cache, request }
    }

    /// The stored entry, fresh or not (sync; for a models manager's constructor). It may
    /// hold no list ([`CacheEntry::has_list`]) when discovery has only failed so far.
    pub fn cached(&self) -> Option<CacheEntry> {
        self.cache.load()
    }

    pub fn needs_refresh(&self) -> bool {
        self.cache.needs_refresh()
    }

    /// Asks the backend again (with the cached ETag) and stores the result. A failure is
    /// never stored as a list: the last list read (if any) is kept with its own time, and
    /// the failure is remembered only as a backoff (5 s, doubling, at most the TTL), so
    /// an unreachable backend is neither asked on every start nor forgotten for a TTL.
    pub async fn refresh(&self, client: &reqwest::Client) -> CacheEntry {
        let previous = self.cache.load();
        let etag = previous
            .as_ref()
            .filter(|p| p.has_list())
            .and_then(|p| p.etag.clone());
        let discovery = discover(client, &self.request, etag.as_deref()).await;
        // A 304 nobody asked for (no list, so no ETag sent) says nothing: a failure too.
        let failed = discovery.failed || (discovery.not_modified && etag.is_none());
        let mut entry = match (previous, failed, discovery.not_modified) {
            (previous, true, _) => {
                let failures = previous
                    .as_ref()
                    .and_then(|p| p.failure)
                    .map_or(0, |f| f.failures);
                let mut entry = previous.unwrap_or_else(|| {
                    CacheEntry::without_list(&self.request.provider, &self.request.base_url)
                });
                entry.failure = Some(DiscoveryFailure {
                    failures: failures.saturating_add(1),
                    failed_at_unix_ms: now_unix_ms(),
                });
                entry
            }
            (Some(previous), false, true) => CacheEntry {
                fetched_at_unix_ms: now_unix_ms(),
                failure: None,
                ..previous
            },
            (_, false, _) => {
                let mut entry = CacheEntry::new(
                    &self.request.provider,
                    &self.request.base_url,
                    discovery.models,
                );
                entry.etag = discovery.etag;
                entry.cut = discovery.cut;
                entry
            }
        };
        entry.probes = discovery.probes.iter().map(ToString::to_string).collect();
        if let Err(err) = self.cache.store(&entry) {
            tracing::warn!(
                "cannot write the model cache {}: {err}",
                self.cache.path().display()
            );
        }
        entry
    }

    /// The cached entry unless a refresh is due (a stale list, or a past failure whose
    /// backoff is over), else a refresh (for start-up, before `-m` is validated).
    pub async fn ensure_fresh(&self, client: &reqwest::Client) -> CacheEntry {
        match self.cache.load() {
            Some(entry) if !self.cache.refresh_due_at(Some(&entry), now_unix_ms()) => entry,
            _ => self.refresh(client).await,
        }
    }

    /// Refreshes in the background on the current tokio runtime when a refresh is due.
    /// Returns whether a refresh was started (false: not due, or no runtime).
    pub fn spawn_refresh_if_stale(&self) -> bool {
        if !self.needs_refresh() {
            return false;
        }
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return false;
        };
        let this = self.clone();
        handle.spawn(async move {
            let client = default_client(this.request.timeout);
            this.refresh(&client).await;
        });
        true
    }
}
