//! Agent events -> Chat Completions chunks and the final object (pure).
//!
//! The answer is ordinary `content`. Reasoning and what the agent did go in
//! `reasoning_content` (the field vLLM, DeepSeek and LiteLLM use, which many chat clients
//! show as "thinking"), and what the agent did also, structured, in the extension field
//! `codex_activity`. No `tool_calls` are ever sent: there is nothing for the client to run.

use serde_json::Value;
use serde_json::json;

use crate::agent::AgentEvent;
use crate::agent::Usage;

#[derive(Debug, Clone)]
pub struct ChatMeta {
    pub id: String,
    pub created: u64,
    pub model: String,
    /// `stream_options.include_usage`.
    pub include_usage: bool,
}

/// What one event becomes on the wire: a chunk (`data: {json}`) or the end marker.
#[derive(Debug, Clone, PartialEq)]
pub enum ChatFrame {
    Chunk(Value),
    Done,
}

impl ChatFrame {
    pub fn to_sse(&self) -> String {
        match self {
            ChatFrame::Chunk(v) => format!("data: {v}\n\n"),
            ChatFrame::Done => "data: [DONE]\n\n".to_string(),
        }
    }
}

pub struct ChatMapper {
    meta: ChatMeta,
    content: String,
    reasoning: String,
    activities: Vec<Value>,
    /// An activity happened since the last text: the next text starts a new paragraph.
    pending_break: bool,
    usage: Usage,
    finish_reason: Option<&'static str>,
    error: Option<String>,
}

impl ChatMapper {
    pub fn new(meta: ChatMeta) -> Self {
        Self {
            meta,
            content: String::new(),
            reasoning: String::new(),
            activities: Vec::new(),
            pending_break: false,
            usage: Usage::default(),
            finish_reason: None,
            error: None,
        }
    }

    pub fn content(&self) -> &str {
        &self.content
    }

    pub fn is_finished(&self) -> bool {
        self.finish_reason.is_some() || self.error.is_some()
    }

    pub fn completed(&self) -> bool {
        self.finish_reason == Some("stop")
    }

    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    fn chunk(&self, delta: Value, finish_reason: Option<&str>) -> ChatFrame {
        ChatFrame::Chunk(json!({
            "id": self.meta.id,
            "object": "chat.completion.chunk",
            "created": self.meta.created,
            "model": self.meta.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
        }))
    }

    fn usage_json(&self) -> Value {
        json!({
            "prompt_tokens": self.usage.input_tokens,
            "completion_tokens": self.usage.output_tokens,
            "total_tokens": self.usage.total(),
            "prompt_tokens_details": {"cached_tokens": self.usage.cached_input_tokens},
            "completion_tokens_details": {"reasoning_tokens": self.usage.reasoning_output_tokens},
        })
    }

    /// The role-first chunk.
    pub fn start(&self) -> Vec<ChatFrame> {
        vec![self.chunk(json!({"role": "assistant", "content": ""}), None)]
    }

    pub fn on_event(&mut self, event: AgentEvent) -> Vec<ChatFrame> {
        if self.is_finished() {
            return Vec::new();
        }
        match event {
            AgentEvent::ReasoningDelta(delta) => {
                self.reasoning.push_str(&delta);
                vec![self.chunk(json!({"reasoning_content": delta}), None)]
            }
            AgentEvent::TextDelta(mut delta) => {
                if self.pending_break && !self.content.is_empty() {
                    delta.insert_str(0, "\n\n");
                }
                self.pending_break = false;
                self.content.push_str(&delta);
                vec![self.chunk(json!({"content": delta}), None)]
            }
            AgentEvent::Activity(activity) => {
                self.pending_break = true;
                let line = format!("{}\n", activity.summary_line());
                if !self.reasoning.is_empty() && !self.reasoning.ends_with('\n') {
                    self.reasoning.push('\n');
                }
                self.reasoning.push_str(&line);
                let structured = serde_json::to_value(&activity).unwrap_or(Value::Null);
                self.activities.push(structured.clone());
                vec![self.chunk(
                    json!({"reasoning_content": line, "codex_activity": structured}),
                    None,
                )]
            }
            AgentEvent::Usage(usage) => {
                self.usage.add(usage);
                Vec::new()
            }
            AgentEvent::Completed => {
                self.finish_reason = Some("stop");
                let mut out = vec![self.chunk(json!({}), Some("stop"))];
                if self.meta.include_usage {
                    out.push(ChatFrame::Chunk(json!({
                        "id": self.meta.id,
                        "object": "chat.completion.chunk",
                        "created": self.meta.created,
                        "model": self.meta.model,
                        "choices": [],
                        "usage": self.usage_json(),
                    })));
                }
                out.push(ChatFrame::Done);
                out
            }
            AgentEvent::Failed(message) => self.fail(message),
            AgentEvent::Interrupted => self.fail("the turn was interrupted".to_string()),
        }
    }

    fn fail(&mut self, message: String) -> Vec<ChatFrame> {
        let frame = ChatFrame::Chunk(
            json!({"error": {"message": message, "type": "server_error", "param": null, "code": null}}),
        );
        self.error = Some(message);
        vec![frame, ChatFrame::Done]
    }

    /// The non-streamed `chat.completion` object.
    pub fn completion(&self) -> Value {
        let mut message = json!({"role": "assistant", "content": self.content});
        if !self.reasoning.is_empty() {
            message["reasoning_content"] = json!(self.reasoning);
        }
        if !self.activities.is_empty() {
            message["codex_activity"] = json!(self.activities);
        }
        json!({
            "id": self.meta.id,
            "object": "chat.completion",
            "created": self.meta.created,
            "model": self.meta.model,
            "choices": [{"index": 0, "message": message, "finish_reason": self.finish_reason.unwrap_or("stop")}],
            "usage": self.usage_json(),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::agent::Activity;
    use pretty_assertions::assert_eq;

    #[test]
    fn text_after_activity_starts_a_paragraph_and_no_tool_calls_appear() {
        let mut m = ChatMapper::new(ChatMeta {
            id: "c".into(),
            created: 1,
            model: "m".into(),
            include_usage: false,
        });
        let mut frames = m.start();
        for e in [
            AgentEvent::TextDelta("Let me look.".into()),
            AgentEvent::Activity(Activity::FileChanged {
                path: "a.rs".into(),
                change: "update".into(),
            }),
            AgentEvent::TextDelta("Done.".into()),
            AgentEvent::Completed,
        ] {
            frames.extend(m.on_event(e));
        }
        assert_eq!(m.content(), "Let me look.\n\nDone.");
        assert_eq!(frames.last(), Some(&ChatFrame::Done));
        let wire: String = frames.iter().map(ChatFrame::to_sse).collect();
        assert!(!wire.contains("tool_calls"), "{wire}");
        let done = m.completion();
        assert_eq!(
            done["choices"][0]["message"]["reasoning_content"],
            "Changed a.rs (update)\n"
        );
        assert_eq!(
            done["choices"][0]["message"]["codex_activity"][0]["type"],
            "file_changed"
        );
    }
}
