//! codex-litellm bridge: Responses API requests in, Chat Completions out, Responses SSE back.
//! (Placeholder while the foundation lands; the translation core replaces it.)

/// Name of the Chat Completions endpoint the bridge talks to, relative to a provider's base URL.
pub const CHAT_COMPLETIONS_PATH: &str = "chat/completions";
