//! One provider's list as a running process sees it (an app-server for an editor, a TUI):
//! every lookup picks up a cache file another process or a background refresh rewrote, and
//! a lookup after a failed discovery's backoff (or past the TTL) asks the backend again.
//! Without this, a process started while its gateway was down kept a one-model list until
//! restarted.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::PoisonError;
use std::time::SystemTime;

use crate::cache::CacheEntry;
use crate::cache::ModelCache;
use crate::cache::now_unix_ms;
use crate::discover::ProviderModels;
use std::collections::HashMap;
use std::sync::LazyLock;

/// The disk cache of each provider this process looks at, by provider id: a part of the
/// process with no handle on its `LiveModels` (the bridge deciding a context-length
/// fallback) reads what discovery found there. Holds no key (a cache keeps only a hash).
static CACHES: LazyLock<Mutex<HashMap<String, ModelCache>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// Makes `provider`'s discovered models readable by [`discovered_context_window`]; the
/// provider's own models manager (a [`LiveModels`]) registers itself, and wins.
pub fn register_cache(provider: &str, cache: &ModelCache, replace: bool) {
    let mut caches = CACHES.lock().unwrap_or_else(PoisonError::into_inner);
    if replace || !caches.contains_key(provider) {
        caches.insert(provider.to_string(), cache.clone());
    }
}

/// The context window `provider`'s backend reported for `model` (its `/model/info`,
/// `/v1/models` metadata, ...), from the disk cache; `None` when it reported none (the
/// catalog's default window is not a reported one) or nothing was discovered.
pub fn discovered_context_window(provider: &str, model: &str) -> Option<u64> {
    let cache = CACHES
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(provider)
        .cloned()?;
    cache
        .load()?
        .models
        .iter()
        .find(|m| m.id == model)
        .and_then(|m| m.context_window)
}

/// The entry a lookup saw and a number that changes whenever its models do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub entry: Option<CacheEntry>,
    /// Starts at 0; a holder of something built from the models rebuilds it when this moves.
    pub generation: u64,
}

impl Snapshot {
    pub fn models(&self) -> &[crate::metadata::ModelMetadata] {
        self.entry.as_ref().map_or(&[], |e| e.models.as_slice())
    }
}

#[derive(Debug)]
struct State {
    snapshot: Snapshot,
    stamp: Option<(SystemTime, u64)>,
}

/// Shared by everything in one process that needs the provider's models.
#[derive(Debug)]
pub struct LiveModels {
    models: ProviderModels,
    client: reqwest::Client,
    state: Mutex<State>,
    /// One refresh at a time; callers that waited for it use its result.
    refreshing: tokio::sync::Mutex<()>,
}

impl LiveModels {
    /// `initial`: the entry the process started with (what its first catalog was built from).
    pub fn new(
        models: ProviderModels,
        client: reqwest::Client,
        initial: Option<CacheEntry>,
    ) -> Self {
        let stamp = models.cache.stamp();
        register_cache(&models.request.provider, &models.cache, true);
        Self {
            models,
            client,
            state: Mutex::new(State {
                snapshot: Snapshot {
                    entry: initial,
                    generation: 0,
                },
                stamp,
            }),
            refreshing: tokio::sync::Mutex::new(()),
        }
    }

    pub fn provider_models(&self) -> &ProviderModels {
        &self.models
    }

    /// What the process should use now; rereads the cache file when it changed on disk
    /// (one `stat` otherwise). Never asks the backend.
    pub fn current(&self) -> Snapshot {
        let stamp = self.models.cache.stamp();
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if stamp.is_some() && stamp != state.stamp {
            state.stamp = stamp;
            if let Some(entry) = self.models.cache.load() {
                Self::adopt(&mut state, entry);
            }
        }
        state.snapshot.clone()
    }

    /// Keeps what a newer entry says; moves the generation only when the models changed.
    /// An entry without a list never replaces one with a list (a failure is not a list).
    fn adopt(state: &mut State, entry: CacheEntry) {
        if !entry.has_list()
            && let Some(old) = state.snapshot.entry.as_mut().filter(|e| e.has_list())
        {
            // Keep the list; take the failure's backoff.
            old.failure = entry.failure;
            return;
        }
        let old = state.snapshot.entry.as_ref();
        if old.map(|e| (&e.models, e.cut)) != Some((&entry.models, entry.cut)) {
            state.snapshot.generation += 1;
        }
        state.snapshot.entry = Some(entry);
    }

    /// Whether asking the backend is due: the list is past its TTL, or the backoff after a
    /// failure is over, or nothing was ever stored.
    pub fn refresh_due(&self) -> bool {
        let snapshot = self.current();
        self.models
            .cache
            .refresh_due_at(snapshot.entry.as_ref(), now_unix_ms())
    }

    /// [`LiveModels::current`], after one refresh when one is due (bounded by the discovery
    /// timeouts). Concurrent callers wait for the same refresh instead of starting theirs.
    pub async fn lookup(&self) -> Snapshot {
        if !self.refresh_due() {
            return self.current();
        }
        let _guard = self.refreshing.lock().await;
        // Someone else may have refreshed (in this process or another) while we waited.
        if !self.refresh_due() {
            return self.current();
        }
        let entry = self.models.refresh(&self.client).await;
        let stamp = self.models.cache.stamp();
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.stamp = stamp;
        Self::adopt(&mut state, entry);
        state.snapshot.clone()
    }

    /// For callers that must not wait (a turn looking up its model's metadata): starts the
    /// due refresh on the current tokio runtime. Returns whether one was started.
    pub fn spawn_refresh_if_due(self: &Arc<Self>) -> bool {
        if !self.refresh_due() || self.refreshing.try_lock().is_err() {
            return false;
        }
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return false;
        };
        let this = Arc::clone(self);
        handle.spawn(async move {
            this.lookup().await;
        });
        true
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::metadata::MetadataField;
    use crate::metadata::ModelMetadata;

    #[test]
    fn a_registered_cache_answers_the_windows_its_backend_reported() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ModelCache::new(dir.path(), "windows-test", "http://gw:4000/v1", Some("k"));
        let mut big = ModelMetadata::new("big");
        big.set_u64(
            MetadataField::ContextWindow,
            Some(131_072),
            "GET /model/info model_info.max_input_tokens",
        );
        let silent = ModelMetadata::new("silent");
        cache
            .store(&CacheEntry::new(
                "windows-test",
                "http://gw:4000/v1",
                vec![big, silent],
            ))
            .unwrap();
        assert_eq!(discovered_context_window("windows-test", "big"), None);
        register_cache("windows-test", &cache, false);
        assert_eq!(
            discovered_context_window("windows-test", "big"),
            Some(131_072)
        );
        // Reported no window: unknown, not the catalog's default.
        assert_eq!(discovered_context_window("windows-test", "silent"), None);
        assert_eq!(discovered_context_window("windows-test", "absent"), None);
        assert_eq!(discovered_context_window("other-provider", "big"), None);
    }
}
