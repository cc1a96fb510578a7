//! codex-litellm bridge: lets Codex drive any Chat Completions backend.
//!
//! The contract with Codex is the public wire format, not its Rust types: [`Bridge::respond`]
//! takes the JSON body Codex would POST to `/v1/responses` and returns the Responses SSE
//! stream `/v1/responses` would have sent. Codex's own SSE parser, retries and turn loop
//! stay untouched.
//!
//! A pure core ([`translate_request`], [`ChunkAccumulator`], [`postprocess`], [`simulate`],
//! the live sink in `live.rs`) sits inside a thin I/O shell ([`fetch`]). Live mode (the
//! default) shows text and reasoning as they arrive and emits tool calls only from the
//! complete, validated answer; buffered mode reads the whole answer, validates it and
//! retries from scratch on faults before anything reaches Codex.

pub mod answer;
mod bridge;
pub mod chat_sse;
pub mod conformance;
pub mod encoded;
pub mod fault;
pub mod fetch;
mod guards;
pub mod harmony;
pub mod history;
pub mod json_shape;
pub mod lean;
mod live;
pub mod options;
pub mod postprocess;
pub mod reasoning_carrier;
pub mod redact;
pub mod report;
pub mod request;
pub mod shapes;
pub mod simulate;
pub mod think_split;
pub mod tools;

pub use answer::ChatAnswer;
pub use answer::ChunkAccumulator;
pub use answer::Usage;
pub use bridge::Bridge;
pub use bridge::BridgeReply;
pub use bridge::BridgeRequest;
pub use bridge::BridgeStreamError;
pub use bridge::SseBody;
pub use bridge::chat_completions_url;
pub use bridge::is_secret_name;
pub use fault::Fault;
pub use live::INTERRUPTED_NOTE;
pub use options::BridgeMode;
pub use options::BridgeOptions;
pub use options::DiscoveredWindows;
pub use options::FallbackConfig;
pub use options::FallbackRoute;
pub use options::ToolCallContent;
pub use postprocess::postprocess;
pub use redact::is_secret_query_name;
pub use redact::redact_url;
pub use report::AttemptReport;
pub use report::ExchangeObserver;
pub use report::ExchangeReport;
pub use report::FallbackReport;
pub use report::LoopGuardReport;
pub use report::Outcome;
pub use request::translate_request;
pub use request::translate_request_owned;
pub use simulate::simulate;

/// Name of the Chat Completions endpoint the bridge talks to, relative to a provider's base URL.
pub const CHAT_COMPLETIONS_PATH: &str = "chat/completions";
