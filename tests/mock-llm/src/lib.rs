//! A scripted Chat Completions server on loopback for codex-litellm's tests.
//!
//! It serves `POST /v1/chat/completions` (and `/chat/completions`) from a [`Scenario`],
//! misbehaving on purpose when told to (delays, cuts, stalls, sockets kept open, invalid
//! bytes), serves `GET /v1/models`, and records every request it receives so tests can
//! assert on the exact body a client sent. The scenario format is documented in this crate's
//! README.md.
//!
//! ```ignore
//! let mock = MockLlm::start(Scenario::new(vec![Response::text("hello")])).await?;
//! // point the client at mock.base_url() ...
//! let sent = mock.requests();
//! ```

mod http;
mod record;
mod render;
mod responses;
mod scenario;
mod server;

pub use record::REDACTED;
pub use record::REDACTED_HEADERS;
pub use record::RecordedRequest;
pub use record::ServedBy;
pub use record::redact_header_value;
pub use render::CREATED;
pub use scenario::ContextLimit;
pub use scenario::DEFAULT_DELTA_CHARS;
pub use scenario::DEFAULT_HOLD_OPEN_MAX_MS;
pub use scenario::DEFAULT_MODEL;
pub use scenario::Framing;
pub use scenario::Match;
pub use scenario::Response;
pub use scenario::Route;
pub use scenario::Scenario;
pub use scenario::ScenarioError;
pub use scenario::ToolCall;
pub use scenario::UsageMode;
pub use server::MockLlm;
pub use server::StartError;
pub use server::StartOptions;
pub use server::WaitTimeout;
