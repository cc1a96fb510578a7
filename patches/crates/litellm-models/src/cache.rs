//! One JSON file per provider, base URL and credentials under a directory the caller picks
//! (e.g. `$CODEX_HOME/cache/litellm-models/`). Written atomically (temp file + rename); a
//! file that does not parse, has another format version or belongs to another provider,
//! base URL or key is ignored, never an error. It never holds the API key: only the base URL
//! without credentials or query string, a truncated SHA-256 of what discovery sends (the
//! same one is in the file name), the `/models` ETag, the time and the models.
//!
//! A failed discovery is never stored as a list: the entry keeps the last list read (if
//! any) and remembers the failure only as a backoff (5 s, doubling, at most the TTL) after
//! which the next lookup asks again.

use std::path::Path;
use std::path::PathBuf;
use std::time::Duration;
use std::time::SystemTime;
use std::time::UNIX_EPOCH;

use serde::Deserialize;
use serde::Serialize;
use sha2::Digest;
use sha2::Sha256;

use crate::discover::ModelsCut;
use crate::metadata::ModelMetadata;

/// Upstream keeps its own `/models` cache for 300 s (models-manager `DEFAULT_MODEL_CACHE_TTL`);
/// gateway model lists change about as rarely.
pub const DEFAULT_TTL: Duration = Duration::from_secs(300);

/// First wait after a failed discovery; doubled per failure in a row, up to the TTL.
pub const DEFAULT_MIN_BACKOFF: Duration = Duration::from_secs(5);

/// 2: credentials in the key, failures as a backoff instead of an empty list.
const FORMAT_VERSION: u32 = 2;

/// What one discovery found, as stored on disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheEntry {
    pub version: u32,
    pub provider: String,
    /// [`redact_base_url`] of the provider's base URL.
    pub base_url: String,
    /// Truncated SHA-256 of provider id, full base URL and API key (see [`ModelCache::path`]).
    #[serde(default)]
    pub cache_key: String,
    /// When `models` was read from the backend; 0: never (the entry only remembers a failure).
    pub fetched_at_unix_ms: u64,
    /// ETag of the last `GET /models` answer, sent back as `If-None-Match`.
    #[serde(default)]
    pub etag: Option<String>,
    pub models: Vec<ModelMetadata>,
    /// What was asked and how it went, e.g. `GET /v1/models: ok`, `GET /props: HTTP 404`.
    #[serde(default)]
    pub probes: Vec<String>,
    /// The backend listed more models than are kept.
    #[serde(default)]
    pub cut: Option<ModelsCut>,
    /// The last discoveries failed: when to ask again. `models` is still the last list read.
    #[serde(default)]
    pub failure: Option<DiscoveryFailure>,
}

/// Failed discoveries in a row, remembered only to space out the next attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscoveryFailure {
    pub failures: u32,
    pub failed_at_unix_ms: u64,
}

impl CacheEntry {
    pub fn new(provider: &str, base_url: &str, models: Vec<ModelMetadata>) -> Self {
        Self {
            version: FORMAT_VERSION,
            provider: provider.to_string(),
            base_url: redact_base_url(base_url),
            cache_key: String::new(),
            fetched_at_unix_ms: now_unix_ms(),
            etag: None,
            models,
            probes: Vec::new(),
            cut: None,
            failure: None,
        }
    }

    /// An entry that holds no list: discovery failed and nothing was ever read.
    pub fn without_list(provider: &str, base_url: &str) -> Self {
        Self {
            fetched_at_unix_ms: 0,
            ..Self::new(provider, base_url, Vec::new())
        }
    }

    /// Whether `models` was read from the backend (else only a failure is remembered).
    pub fn has_list(&self) -> bool {
        self.fetched_at_unix_ms > 0
    }

    /// How long ago the list was fetched (zero if the clock went back).
    pub fn age(&self) -> Duration {
        Duration::from_millis(now_unix_ms().saturating_sub(self.fetched_at_unix_ms))
    }

    /// Served model ids, for `-m` validation (empty when no list was ever read).
    pub fn served_ids(&self) -> Vec<String> {
        self.models.iter().map(|m| m.id.clone()).collect()
    }

    /// `-m` validation against this list. A list that was cut is not all the backend
    /// serves, so it accepts any model rather than reject one beyond the cut.
    pub fn validate_model(&self, model: &str) -> Result<(), crate::matches::UnknownModel> {
        if self.cut.is_some() {
            return Ok(());
        }
        crate::matches::validate_model(model, &self.provider, &self.served_ids())
    }

    /// The line to show when the list was shortened (start-up notices, the doctor).
    pub fn cut_notice(&self) -> Option<String> {
        self.cut.map(|cut| cut.notice(&self.provider))
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

/// The disk cache of one provider, base URL and key.
#[derive(Debug, Clone)]
pub struct ModelCache {
    dir: PathBuf,
    provider: String,
    base_url: String,
    /// Hex of the SHA-256 prefix; never the credential itself.
    key: String,
    /// The v1 file name (`<provider>-<hash of the base URL>.json`), removed on store.
    legacy_name: String,
    ttl: Duration,
    min_backoff: Duration,
}

impl ModelCache {
    /// `api_key`: what discovery sends as `Authorization: Bearer`. Two keys never share a
    /// file (a restricted key may see fewer models than an admin key).
    pub fn new(
        dir: impl Into<PathBuf>,
        provider: &str,
        base_url: &str,
        api_key: Option<&str>,
    ) -> Self {
        let redacted = redact_base_url(base_url);
        let legacy_safe: String = provider
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        Self {
            dir: dir.into(),
            provider: provider.to_string(),
            legacy_name: format!("{legacy_safe}-{:016x}.json", fnv1a(redacted.as_bytes())),
            base_url: redacted,
            key: cache_key(provider, base_url, api_key.unwrap_or("")),
            ttl: DEFAULT_TTL,
            min_backoff: DEFAULT_MIN_BACKOFF,
        }
    }

    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// First wait after a failure (doubling per failure, at most the TTL).
    pub fn with_min_backoff(mut self, min_backoff: Duration) -> Self {
        self.min_backoff = min_backoff;
        self
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    pub fn provider(&self) -> &str {
        &self.provider
    }

    /// `<dir>/<provider, escaped>-<key>.json`. The provider id keeps `a-z`, `0-9` and `-`;
    /// every other byte becomes `_xx` (hex), so distinct ids (`my.gw`, `my_gw`, `My`) never
    /// share a name, even on a case-insensitive file system. `<key>` is 128 bits of SHA-256
    /// over provider id, base URL (with its user-info and query) and API key.
    pub fn path(&self) -> PathBuf {
        let mut stem = String::new();
        for byte in self.provider.bytes() {
            if stem.len() >= 64 {
                // Long ids: the key (which covers the whole id) keeps the names apart.
                break;
            }
            if byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-' {
                stem.push(char::from(byte));
            } else {
                stem.push_str(&format!("_{byte:02x}"));
            }
        }
        self.dir.join(format!("{stem}-{}.json", self.key))
    }

    /// The stored entry for this provider, base URL and key; `None` when missing,
    /// unreadable, corrupt, of another format version, or for another provider or key.
    pub fn load(&self) -> Option<CacheEntry> {
        let path = self.path();
        let text = std::fs::read_to_string(&path).ok()?;
        match serde_json::from_str::<CacheEntry>(&text) {
            Ok(entry)
                if entry.version == FORMAT_VERSION
                    && entry.provider == self.provider
                    && entry.base_url == self.base_url
                    && entry.cache_key == self.key =>
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

    /// A list read within the TTL, with no failure since.
    pub fn is_fresh(&self, entry: &CacheEntry) -> bool {
        entry.has_list() && entry.failure.is_none() && entry.age() < self.ttl
    }

    /// How long after a failure to ask again: 5 s, 10 s, 20 s, ... at most the TTL.
    pub fn backoff(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(16);
        self.min_backoff
            .saturating_mul(1 << doublings)
            .min(self.ttl.max(self.min_backoff))
    }

    /// Whether asking the backend is due at `now_ms`: no entry, a list older than the TTL,
    /// or the backoff after the last failure has passed.
    pub fn refresh_due_at(&self, entry: Option<&CacheEntry>, now_ms: u64) -> bool {
        let Some(entry) = entry else {
            return true;
        };
        let elapsed = |since: u64| Duration::from_millis(now_ms.saturating_sub(since));
        match entry.failure {
            Some(failure) => elapsed(failure.failed_at_unix_ms) >= self.backoff(failure.failures),
            None => !entry.has_list() || elapsed(entry.fetched_at_unix_ms) >= self.ttl,
        }
    }

    /// Whether a refresh is due now (see [`ModelCache::refresh_due_at`]).
    pub fn needs_refresh(&self) -> bool {
        self.refresh_due_at(self.load().as_ref(), now_unix_ms())
    }

    /// Modification time and length of the file: changes when any process rewrites it.
    pub fn stamp(&self) -> Option<(SystemTime, u64)> {
        let meta = std::fs::metadata(self.path()).ok()?;
        Some((meta.modified().ok()?, meta.len()))
    }

    /// Writes `entry` (stamped with this cache's key) atomically: a reader sees the old
    /// file or the new one, never half.
    pub fn store(&self, entry: &CacheEntry) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let path = self.path();
        let mut entry = entry.clone();
        entry.cache_key.clone_from(&self.key);
        let text = serde_json::to_string_pretty(&entry).map_err(std::io::Error::other)?;
        let tmp = temp_path(&path);
        std::fs::write(&tmp, text)?;
        // A v1 file was shared by every key of this provider: drop it.
        let legacy = self.dir.join(&self.legacy_name);
        if legacy != path {
            let _ = std::fs::remove_file(legacy);
        }
        std::fs::rename(&tmp, &path).inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })
    }
}

/// 32 hex digits of SHA-256 over the length-prefixed parts (no two inputs share bytes).
fn cache_key(provider: &str, base_url: &str, api_key: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"codex-litellm model cache v2");
    for part in [provider, base_url.trim_end_matches('/'), api_key] {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    hasher.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn temp_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(std::ffi::OsStr::to_os_string)
        .unwrap_or_default();
    // Two refreshes of one process may store at once: a counter keeps their files apart.
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    name.push(format!(".tmp.{}.{n}", std::process::id()));
    path.with_file_name(name)
}

/// FNV-1a 64 (v1 file names only, to remove them).
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
        entry.cache_key.clone_from(&cache.key);
        entry
    }

    #[test]
    fn metadata_cache_round_trip_and_ttl() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ModelCache::new(dir.path(), "litellm", "http://gw:4000/v1", Some("sk-a"));
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
        let cache = ModelCache::new(dir.path(), "litellm", "http://gw:4000/v1", Some("sk-a"));
        std::fs::write(cache.path(), "{ not json").unwrap();
        assert_eq!(cache.load(), None);
        assert!(cache.needs_refresh());
        // A store over the corrupt file works.
        let entry = entry_with_window(&cache, 8_192);
        cache.store(&entry).unwrap();
        assert_eq!(cache.load(), Some(entry));

        let other = ModelCache::new(dir.path(), "litellm", "http://other:4000/v1", Some("sk-a"));
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
            Some("sk-secret"),
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

    #[test]
    fn metadata_cache_file_per_provider_id_url_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let url = "http://gw:4000/v1";
        let caches = [
            ModelCache::new(dir.path(), "my.gw", url, Some("sk-admin-0123456789")),
            ModelCache::new(dir.path(), "my_gw", url, Some("sk-admin-0123456789")),
            ModelCache::new(dir.path(), "My.gw", url, Some("sk-admin-0123456789")),
            ModelCache::new(dir.path(), "my.gw", url, Some("sk-restricted-9876")),
            ModelCache::new(dir.path(), "my.gw", url, None),
            ModelCache::new(dir.path(), "my.gw", "http://u:pw@gw:4000/v1", None),
        ];
        let mut paths: Vec<PathBuf> = caches.iter().map(ModelCache::path).collect();
        // Case-insensitive file systems: distinct even when lowercased.
        let mut lowered: Vec<String> = paths
            .iter()
            .map(|p| p.to_string_lossy().to_lowercase())
            .collect();
        paths.sort();
        paths.dedup();
        lowered.sort();
        lowered.dedup();
        assert_eq!((paths.len(), lowered.len()), (caches.len(), caches.len()));
        assert!(
            caches[0].path().to_string_lossy().contains("my_2egw-"),
            "{:?}",
            caches[0].path()
        );

        // The admin key's list is not the restricted key's.
        let admin = &caches[0];
        admin
            .store(&CacheEntry::new(
                "my.gw",
                url,
                vec![ModelMetadata::new("admin-only")],
            ))
            .unwrap();
        assert_eq!(admin.load().unwrap().served_ids(), ["admin-only"]);
        for other in &caches[1..] {
            assert_eq!(other.load(), None, "{:?}", other.path());
        }
        // Neither the file name nor the file holds a credential.
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            for secret in ["sk-admin", "0123456789", "pw@"] {
                assert!(!path.to_string_lossy().contains(secret), "{path:?}");
                assert!(!text.contains(secret), "{text}");
            }
        }
    }

    #[test]
    fn metadata_cache_failure_backoff_doubles_up_to_the_ttl() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ModelCache::new(dir.path(), "litellm", "http://gw:4000/v1", None);
        let seconds: Vec<u64> = (1..=8).map(|n| cache.backoff(n).as_secs()).collect();
        assert_eq!(seconds, [5, 10, 20, 40, 80, 160, 300, 300]);

        let t0 = 1_000_000_000_u64;
        let mut failed = CacheEntry::without_list("litellm", "http://gw:4000/v1");
        failed.failure = Some(DiscoveryFailure {
            failures: 2,
            failed_at_unix_ms: t0,
        });
        assert!(!failed.has_list());
        assert!(!cache.refresh_due_at(Some(&failed), t0 + 9_999));
        assert!(cache.refresh_due_at(Some(&failed), t0 + 10_000));

        // A list read 10 s ago with a failure since: asked again after the backoff, not
        // after the TTL, and never fresh.
        let mut listed = CacheEntry::new("litellm", "http://gw:4000/v1", vec![]);
        listed.fetched_at_unix_ms = t0;
        assert!(!cache.refresh_due_at(Some(&listed), t0 + 299_999));
        assert!(cache.refresh_due_at(Some(&listed), t0 + 300_000));
        listed.failure = Some(DiscoveryFailure {
            failures: 1,
            failed_at_unix_ms: t0 + 10_000,
        });
        assert!(!cache.refresh_due_at(Some(&listed), t0 + 14_999));
        assert!(cache.refresh_due_at(Some(&listed), t0 + 15_000));
        assert!(!cache.is_fresh(&listed));
    }

    #[test]
    fn metadata_cache_a_cut_list_does_not_reject_a_model() {
        let mut entry = CacheEntry::new("gw", "http://gw/v1", vec![ModelMetadata::new("m-0")]);
        assert!(entry.validate_model("m-0").is_ok());
        assert!(entry.validate_model("m-5000").is_err());
        entry.cut = Some(ModelsCut {
            listed: 5_000,
            kept: 1,
        });
        assert!(entry.validate_model("m-5000").is_ok());
        assert!(
            entry
                .cut_notice()
                .unwrap()
                .contains("lists 5000 models; only 1 are used")
        );
    }
}
