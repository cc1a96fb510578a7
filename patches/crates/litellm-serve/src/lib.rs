//! `codex-litellm serve`: the Codex agent as an OpenAI-compatible HTTP API.
//!
//! This crate holds everything that does not need upstream: the HTTP server (axum), the
//! mapping of agent events onto OpenAI's Responses and Chat Completions wire formats, the
//! map from client conversations to Codex threads, auth, limits and shutdown. The agent
//! itself is behind the [`Agent`] trait; see docs/SERVE.md.

pub mod agent;
pub mod chat;
pub mod config;
pub mod conversation;
pub mod fake;
pub mod responses;
pub mod server;
pub mod store;

pub use agent::Activity;
pub use agent::Agent;
pub use agent::AgentError;
pub use agent::AgentEvent;
pub use agent::ModelInfo;
pub use agent::SandboxMode;
pub use agent::Turn;
pub use agent::TurnRequest;
pub use agent::Usage;
pub use config::ConfigError;
pub use config::DEFAULT_PORT;
pub use config::ServeConfig;
pub use server::ServeError;
pub use server::Server;
pub use server::ShutdownReport;
