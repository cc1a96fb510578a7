//! A client's message list, normalised, and how it maps onto a Codex thread.
//!
//! Chat clients (and Responses clients that do not use `previous_response_id`) resend the
//! whole history each time. The server remembers, for each thread, the history as the client
//! will resend it (its user messages and our answers); a request whose history before its
//! trailing user messages matches one continues that thread with only the new user messages.
//! Anything else starts a new thread, with the unknown history given as a quoted transcript.

use std::hash::BuildHasher;
use std::hash::Hasher;

use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    User,
    Assistant,
}

impl Role {
    fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

/// The history before the trailing user message, and that message.
pub type HistoryAndLast<'a> = (&'a [(Role, String)], &'a str);

/// Messages as the thread map compares them: user and assistant text only, trimmed,
/// consecutive messages of one role joined by a blank line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Conversation {
    /// System and developer messages, joined.
    pub instructions: Option<String>,
    pub messages: Vec<(Role, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConversationError {
    #[error("{0}")]
    Invalid(String),
}

impl Conversation {
    /// Add one message; `role` as the client wrote it.
    pub fn push(&mut self, role: &str, text: String) -> Result<(), ConversationError> {
        let text = text.trim().to_string();
        let role = match role {
            "system" | "developer" => {
                if !text.is_empty() {
                    self.instructions = Some(match self.instructions.take() {
                        Some(prev) => format!("{prev}\n\n{text}"),
                        None => text,
                    });
                }
                return Ok(());
            }
            "user" => Role::User,
            "assistant" => Role::Assistant,
            // Tool results belong to tool calls this server never hands out.
            "tool" | "function" => return Ok(()),
            other => {
                return Err(ConversationError::Invalid(format!(
                    "unsupported message role `{other}`; use system, developer, user or assistant"
                )));
            }
        };
        if text.is_empty() {
            return Ok(());
        }
        match self.messages.last_mut() {
            Some((last_role, last_text)) if *last_role == role => {
                last_text.push_str("\n\n");
                last_text.push_str(&text);
            }
            _ => self.messages.push((role, text)),
        }
        Ok(())
    }

    /// Split into the history before the trailing user message and that message.
    pub fn split_last_user(&self) -> Result<HistoryAndLast<'_>, ConversationError> {
        match self.messages.split_last() {
            Some(((Role::User, text), history)) => Ok((history, text)),
            _ => Err(ConversationError::Invalid(
                "the last message must be a non-empty user message".to_string(),
            )),
        }
    }
}

/// Text of a chat `content` (string or parts) or a Responses message `content`.
pub fn content_text(content: &Value) -> Result<String, ConversationError> {
    match content {
        Value::Null => Ok(String::new()),
        Value::String(s) => Ok(s.clone()),
        Value::Array(parts) => {
            let mut out = Vec::new();
            for part in parts {
                let kind = part.get("type").and_then(Value::as_str).unwrap_or("text");
                match kind {
                    "text" | "input_text" | "output_text" => {
                        if let Some(t) = part.get("text").and_then(Value::as_str) {
                            out.push(t.to_string());
                        }
                    }
                    "refusal" => {}
                    other => {
                        return Err(ConversationError::Invalid(format!(
                            "content part type `{other}` is not supported; send text"
                        )));
                    }
                }
            }
            Ok(out.join("\n"))
        }
        _ => Err(ConversationError::Invalid(
            "message content must be a string or an array of text parts".to_string(),
        )),
    }
}

/// A key for a history, from a per-process random hasher so no client can craft a
/// history that collides with another's.
pub fn fingerprint<S: BuildHasher>(hasher: &S, messages: &[(Role, String)]) -> u64 {
    let mut h = hasher.build_hasher();
    for (role, text) in messages {
        h.write(role.as_str().as_bytes());
        h.write_u8(0);
        h.write_usize(text.len());
        h.write(text.as_bytes());
    }
    h.finish()
}

/// The input of a new thread whose earlier history this server does not know.
pub fn with_transcript(history: &[(Role, String)], new_message: &str) -> String {
    if history.is_empty() {
        return new_message.to_string();
    }
    let mut out =
        String::from("Earlier conversation (sent by the client; nothing in it was run here):\n");
    for (role, text) in history {
        out.push_str(&format!("\n[{}]\n{text}\n", role.as_str()));
    }
    out.push_str("\nNew message:\n");
    out.push_str(new_message);
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    #[test]
    fn system_becomes_instructions_and_same_roles_merge() {
        let mut c = Conversation::default();
        c.push("system", " be brief ".into()).unwrap();
        c.push("user", "a".into()).unwrap();
        c.push("user", "b ".into()).unwrap();
        c.push("assistant", "c".into()).unwrap();
        c.push("user", "d".into()).unwrap();
        assert_eq!(c.instructions.as_deref(), Some("be brief"));
        let (history, last) = c.split_last_user().unwrap();
        assert_eq!(
            history,
            &[
                (Role::User, "a\n\nb".to_string()),
                (Role::Assistant, "c".to_string())
            ]
        );
        assert_eq!(last, "d");
    }

    #[test]
    fn last_message_must_be_user() {
        let mut c = Conversation::default();
        c.push("user", "a".into()).unwrap();
        c.push("assistant", "b".into()).unwrap();
        assert!(c.split_last_user().is_err());
        assert!(c.push("wizard", "x".into()).is_err());
    }

    #[test]
    fn content_parts_are_joined_and_images_refused() {
        let parts = json!([{"type": "text", "text": "a"}, {"type": "input_text", "text": "b"}]);
        assert_eq!(content_text(&parts).unwrap(), "a\nb");
        let image = json!([{"type": "image_url", "image_url": {"url": "x"}}]);
        assert!(content_text(&image).is_err());
    }

    #[test]
    fn fingerprint_depends_on_roles_and_text() {
        let s = std::collections::hash_map::RandomState::new();
        let a = fingerprint(&s, &[(Role::User, "x".into())]);
        let b = fingerprint(&s, &[(Role::Assistant, "x".into())]);
        let c = fingerprint(&s, &[(Role::User, "x".into())]);
        assert_ne!(a, b);
        assert_eq!(a, c);
    }
}
