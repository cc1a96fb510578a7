//! Pass-through mode: Responses events written while the chat stream arrives.

use crate::answer::ChatAnswer;
use crate::bridge::LiveAware;
use crate::fetch::ChunkSink;
use crate::simulate::EventWriter;
use crate::simulate::ResponseIdentity;
use crate::simulate::call_id_for;
use crate::simulate::encode_sse_event;
use crate::tools::ToolMap;
use bytes::Bytes;
use serde_json::Value;
use tokio::sync::mpsc::UnboundedSender;

#[derive(Debug, PartialEq, Eq)]
enum OpenItem {
    None,
    Reasoning,
    Message,
}

pub struct LiveSink {
    writer: EventWriter,
    tx: UnboundedSender<Bytes>,
    tool_map: ToolMap,
    open: OpenItem,
    reasoning: String,
    text: String,
    /// True once a delta (not just `response.created`) went out: no retry after that.
    content_sent: bool,
}

impl LiveSink {
    pub fn new(identity: ResponseIdentity, tx: UnboundedSender<Bytes>, tool_map: ToolMap) -> Self {
        let mut writer = EventWriter::new(identity);
        writer.created();
        let mut sink = Self {
            writer,
            tx,
            tool_map,
            open: OpenItem::None,
            reasoning: String::new(),
            text: String::new(),
            content_sent: false,
        };
        sink.flush();
        sink
    }

    fn flush(&mut self) -> Vec<Value> {
        let events = self.writer.drain();
        for event in &events {
            // A closed receiver means Codex went away; the fetch ends on its own.
            let _ = self.tx.send(Bytes::from(encode_sse_event(event)));
        }
        events
    }

    fn close_open(&mut self) {
        match self.open {
            OpenItem::Reasoning => self.writer.end_reasoning(&self.reasoning, None),
            OpenItem::Message => self.writer.end_message(&self.text),
            OpenItem::None => {}
        }
        self.open = OpenItem::None;
    }

    fn reasoning_delta(&mut self, delta: &str) {
        if self.open != OpenItem::Reasoning {
            self.close_open();
            self.reasoning.clear();
            self.writer.begin_reasoning();
            self.open = OpenItem::Reasoning;
        }
        self.reasoning.push_str(delta);
        self.writer.reasoning_delta(delta);
        self.content_sent = true;
    }

    fn text_delta(&mut self, delta: &str) {
        if self.open != OpenItem::Message {
            self.close_open();
            self.writer.begin_message();
            self.open = OpenItem::Message;
        }
        self.text.push_str(delta);
        self.writer.text_delta(delta);
        self.content_sent = true;
    }

    /// Closes the stream after a complete answer: open item, tool calls, usage.
    pub fn complete(
        &mut self,
        answer: &ChatAnswer,
        truncated_limit: Option<Option<u64>>,
    ) -> Vec<Value> {
        if let Some(limit) = truncated_limit {
            let limit = limit.map(|n| format!(" ({n} tokens)")).unwrap_or_default();
            self.text_delta(&format!(
                "\n\n[codex-litellm] The answer was cut off by the model's output token limit{limit} (finish_reason = \"length\").{}",
                crate::bridge::TRUNCATION_ADVICE
            ));
        }
        self.close_open();
        let response_id = self.writer.identity().response_id.clone();
        for (position, call) in answer.tool_calls.iter().enumerate() {
            if truncated_limit.is_some() && !crate::answer::is_complete_json(&call.arguments) {
                continue;
            }
            let call_id = call_id_for(call, position, &response_id);
            self.writer.tool_call(call, &call_id, &self.tool_map);
        }
        self.writer.completed(answer.usage);
        self.flush()
    }

    pub fn fail(&mut self, code: &str, message: &str) -> Vec<Value> {
        self.close_open();
        self.writer.failed(code, message);
        self.flush()
    }
}

impl ChunkSink for LiveSink {
    fn on_chunk(&mut self, chunk: &Value) {
        let Some(delta) = chunk
            .get("choices")
            .and_then(Value::as_array)
            .and_then(|choices| choices.first())
            .and_then(|choice| choice.get("delta"))
        else {
            return;
        };
        let reasoning = delta
            .get("reasoning_content")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .or_else(|| delta.get("reasoning").and_then(Value::as_str))
            .filter(|s| !s.is_empty());
        if let Some(reasoning) = reasoning {
            self.reasoning_delta(reasoning);
        }
        if let Some(text) = delta
            .get("content")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
        {
            self.text_delta(text);
        }
        self.flush();
    }
}

impl LiveAware for LiveSink {
    fn as_chunk_sink(&mut self) -> &mut dyn ChunkSink {
        self
    }

    fn content_sent(&self) -> bool {
        self.content_sent
    }

    fn reset(&mut self) {
        // Nothing but `response.created` went out: the next attempt starts clean.
        self.open = OpenItem::None;
        self.reasoning.clear();
        self.text.clear();
    }
}
