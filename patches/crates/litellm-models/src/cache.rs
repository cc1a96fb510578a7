//! One JSON file per provider under a directory the caller picks (e.g.
//! `$CODEX_HOME/cache/litellm-models/`). Written atomically (temp file + rename); a file
//! that does not parse, has another format version or belongs to another base URL is
//! ignored, never an error. It never holds the API key: only the base URL without
//! credentials or query string, the `/models` ETag, the time and the models.

use std::path::Path;
use std::path::PathBuf;
use std::time::Duration;
use std::time::SystemTime;
use std::time::UNIX_EPOCH;

use serde::Deserialize;
use serde::Serialize;

use crate::metadata::ModelMetadata;

/// Upstream keeps its own `/models` cache for 300 s (models-manager `DEFAULT_MODEL_CACHE_TTL`);
/// gateway model lists change about as rarely.
pub const DEFAULT_TTL: Duration = Duration::from_secs(300);

const FORMAT_VERSION: u32 = 1;

/// What one discovery found, as stored on disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheEntry {
    pub version: u32,
    pub provider: String,
    /// [`redact_base_url`] of the provider's base URL.
    pub base_url: String,
    pub fetched_at_unix_ms: u64,
    /// ETag of the last `GET /models` answer, sent back as `If-None-Match`.
    #[serde(default)]
    pub etag: Option<String>,
    pub models: Vec<ModelMetadata>,
    /// What was asked and how it went, e.g. `GET /v1/models: ok`, `GET /props: HTTP 404`.
    #[serde(default)]
    pub probes: Vec<String>,
}

impl CacheEntry {
    pub fn new(provider: &str, base_url: &str, models: Vec<ModelMetadata>) -> Self {
        Self {
            version: FORMAT_VERSION,
            provider: provider.to_string(),
            base_url: redact_base_url(base_url),
            fetched_at_unix_ms: now_unix_ms(),
            etag: None,
            models,
            probes: Vec::new(),
        }
    }

    /// How long ago it was fetched (zero if the clock went back).
    pub fn age(&self) -> Duration {
        Duration::from_millis(now_unix_ms().saturating_sub(self.fetched_at_unix_ms))
    }

    /// Served model ids, for `-m` validation.
    pub fn served_ids(&self) -> Vec<String> {
        self.models.iter().map(|m| m.id.clone()).collect()
    }
}

pub(crate) fn now_unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The base URL without user-info (`user:pass@`), query string or fragment: what may be
/// written to disk or shown.
pub fn redact_base_url(base_url: &str) -> String {
    let without_query = base_url.split(['?', '#']).next().unwrap_or("");
    match without_query.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = match rest.find('/') {
                Some(i) => rest.split_at(i),
                None => (rest, ""),
            };
            let host = authority.rsplit('@').next().unwrap_or(authority);
            format!("{scheme}://{host}{path}")
        }
        None => without_query.to_string(),
    }
}

/// The disk cache of one provider.
#[derive(Debug, Clone)]
pub struct ModelCache {
    dir: PathBuf,
    provider: String,
    base_url: String,
    ttl: Duration,
}

impl ModelCache {
    pub fn new(dir: impl Into<PathBuf>, provider: &str, base_url: &str) -> Self {
        Self {
            dir: dir.into(),
            provider: provider.to_string(),
            base_url: redact_base_url(base_url),
            ttl: DEFAULT_TTL,
        }
    }

    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    pub fn provider(&self) -> &str {
        &self.provider
    }

    /// `<dir>/<provider>-<hash of the base URL>.json`: switching a provider's base URL
    /// never reuses the other server's models.
    pub fn path(&self) -> PathBuf {
        let safe: String = self
            .provider
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        self.dir.join(format!(
            "{safe}-{:016x}.json",
            fnv1a(self.base_url.as_bytes())
        ))
    }

    /// The stored entry for this provider and base URL; `None` when missing, unreadable,
    /// corrupt, of another format version, or for another base URL.
    pub fn load(&self) -> Option<CacheEntry> {
        let path = self.path();
        let text = std::fs::read_to_string(&path).ok()?;
        match serde_json::from_str::<CacheEntry>(&text) {
            Ok(entry)
                if entry.version == FORMAT_VERSION
                    && entry.provider == self.provider
                    && entry.base_url == self.base_url =>
            {
                Some(entry)
            }
            Ok(_) => None,
            Err(err) => {
                tracing::warn!("ignoring unreadable model cache {}: {err}", path.display());
                None
            }
        }
    }

    pub fn is_fresh(&self, entry: &CacheEntry) -> bool {
        entry.age() < self.ttl
    }

    /// Whether a refresh is due: no usable entry, or one older than the TTL.
    pub fn needs_refresh(&self) -> bool {
        self.load().is_none_or(|entry| !self.is_fresh(&entry))
    }

    /// Writes `entry` atomically: a reader sees the old file or the new one, never half.
    pub fn store(&self, entry: &CacheEntry) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let path = self.path();
        let text = serde_json::to_string_pretty(entry).map_err(std::io::Error::other)?;
        let tmp = temp_path(&path);
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, &path).inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })
    }
}

fn temp_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(std::ffi::OsStr::to_os_string)
        .unwrap_or_default();
    name.push(format!(".tmp.{}.{}", std::process::id(), now_unix_ms()));
    path.with_file_name(name)
}

/// FNV-1a 64: stable across Rust releases (unlike `DefaultHasher`), so file names are too.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::metadata::MetadataField;
    use pretty_assertions::assert_eq;

    fn entry_with_window(cache: &ModelCache, window: u64) -> CacheEntry {
        let mut model = ModelMetadata::new("m");
        model.set_u64(MetadataField::ContextWindow, Some(window), "GET /models");
        let mut entry = CacheEntry::new(&cache.provider, &cache.base_url, vec![model]);
        entry.etag = Some("\"v1\"".to_string());
        entry
    }

    #[test]
    fn metadata_cache_round_trip_and_ttl() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ModelCache::new(dir.path(), "litellm", "http://gw:4000/v1");
        assert!(cache.needs_refresh());
        let entry = entry_with_window(&cache, 16_384);
        cache.store(&entry).unwrap();
        assert_eq!(cache.load(), Some(entry.clone()));
        assert!(!cache.needs_refresh());

        let mut old = entry;
        old.fetched_at_unix_ms -= 301_000;
        cache.store(&old).unwrap();
        assert_eq!(
            cache.load().and_then(|e| e.etag),
            Some("\"v1\"".to_string())
        );
        assert!(
            cache.needs_refresh(),
            "an entry older than the TTL must be refreshed"
        );
        assert!(!cache.with_ttl(Duration::from_secs(3600)).needs_refresh());
        // No temp file is left behind.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn metadata_cache_ignores_a_corrupt_file_and_another_base_url() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ModelCache::new(dir.path(), "litellm", "http://gw:4000/v1");
        std::fs::write(cache.path(), "{ not json").unwrap();
        assert_eq!(cache.load(), None);
        assert!(cache.needs_refresh());
        // A store over the corrupt file works.
        let entry = entry_with_window(&cache, 8_192);
        cache.store(&entry).unwrap();
        assert_eq!(cache.load(), Some(entry));

        let other = ModelCache::new(dir.path(), "litellm", "http://other:4000/v1");
        assert_ne!(other.path(), cache.path());
        assert_eq!(other.load(), None);
    }

    #[test]
    fn metadata_cache_never_stores_credentials_in_the_url() {
        assert_eq!(
            redact_base_url("https://user:sk-secret@gw.example/v1?api-key=sk-secret#x"),
            "https://gw.example/v1"
        );
        assert_eq!(
            redact_base_url("http://localhost:4000"),
            "http://localhost:4000"
        );
        let dir = tempfile::tempdir().unwrap();
        let cache = ModelCache::new(
            dir.path(),
            "litellm",
            "https://u:sk-secret@gw/v1?key=sk-secret",
        );
        cache
            .store(&CacheEntry::new(
                "litellm",
                "https://u:sk-secret@gw/v1?key=sk-secret",
                vec![],
            ))
            .unwrap();
        let text = std::fs::read_to_string(cache.path()).unwrap();
        assert!(!text.contains("sk-secret"), "{text}");
        assert!(cache.load().is_some());
    }
}
