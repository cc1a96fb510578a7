//! What a chat backend says about its models — context window, output cap, tool calls,
//! reasoning, parallel tool calls, image input — turned into Codex's own model catalog.
//!
//! Layers, pure first:
//! - [`parse`]: one parser per answer shape (LiteLLM `/model/info` and `/v1/models`, vLLM,
//!   Ollama `/api/show` and `/api/ps`, llama.cpp `/props`, OpenRouter, plain OpenAI);
//! - [`overrides`]: `[models."<id>"] in litellm.toml` beats what the backend says;
//! - [`catalog`]: values decided (with conservative defaults), upstream `ModelsResponse`
//!   JSON, the notices and the no-tools warning;
//! - [`matches`]: `-m <unknown>` fails fast with close matches;
//! - [`cache`]: one file per provider, base URL and key; TTL, ETag, failure backoff, atomic
//!   writes;
//! - [`discover`]: the HTTP shell, short timeouts, capped answers, one failed request when
//!   there is nothing;
//! - [`live`]: a running process's list, which follows the cache file and retries failures;
//! - [`display`]: a backend's names made safe to print ([`display_safe`]).

pub mod cache;
pub mod catalog;
pub mod discover;
pub mod display;
pub mod live;
pub mod matches;
pub mod metadata;
pub mod overrides;
pub mod parse;

pub use cache::CacheEntry;
pub use cache::DiscoveryFailure;
pub use cache::ModelCache;
pub use catalog::CatalogOptions;
pub use catalog::DEFAULT_CONTEXT_WINDOW;
pub use catalog::ResolvedModel;
pub use catalog::catalog_json;
pub use catalog::catalog_json_from_resolved;
pub use catalog::resolve_models;
pub use discover::Discovery;
pub use discover::DiscoveryRequest;
pub use discover::MAX_ANSWER_BYTES;
pub use discover::MAX_MODELS;
pub use discover::ModelsCut;
pub use discover::ProviderModels;
pub use discover::default_client;
pub use discover::discover;
pub use display::display_safe;
pub use live::LiveModels;
pub use live::Snapshot;
pub use matches::UnknownModel;
pub use matches::close_matches;
pub use matches::validate_model;
pub use metadata::MetadataField;
pub use metadata::ModelMetadata;
pub use overrides::ModelOverride;
pub use overrides::ModelOverrides;
