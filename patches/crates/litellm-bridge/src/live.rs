//! Pass-through mode: Responses events written while the chat stream arrives.

use crate::answer::ChatAnswer;
use crate::answer::ToolCall;
use crate::bridge::LiveAware;
use crate::fetch::ChunkSink;
use crate::harmony::HarmonySplitter;
use crate::harmony::Piece;
use crate::shapes;
use crate::simulate::EventWriter;
use crate::simulate::ResponseIdentity;
use crate::simulate::call_id_for;
use crate::simulate::encode_sse_event;
use crate::think_split::ThinkSplitter;
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
    /// `<think>` blocks and Harmony markup split as the content arrives.
    think: Option<ThinkSplitter>,
    harmony: HarmonySplitter,
    /// Tool calls written as Harmony markup, run only from the complete answer.
    markup_calls: Vec<ToolCall>,
}

impl LiveSink {
    pub fn new(
        identity: ResponseIdentity,
        tx: UnboundedSender<Bytes>,
        tool_map: ToolMap,
        think_tags: bool,
    ) -> Self {
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
            think: think_tags.then(ThinkSplitter::default),
            harmony: HarmonySplitter::default(),
            markup_calls: Vec::new(),
        };
        sink.flush();
        sink
    }

    /// Content text through the splitters: reasoning and text go out, tool calls wait.
    fn content(&mut self, text: &str, at_end: bool) {
        let mut pieces = match &mut self.think {
            Some(think) if at_end => {
                let mut pieces = think.push(text);
                pieces.extend(think.finish());
                pieces
            }
            Some(think) => think.push(text),
            None => vec![Piece::Text(text.to_string())],
        };
        let mut out = Vec::new();
        for piece in pieces.drain(..) {
            match piece {
                Piece::Text(text) => out.extend(self.harmony.push(&text)),
                other => out.push(other),
            }
        }
        if at_end {
            out.extend(self.harmony.finish());
        }
        for piece in out {
            match piece {
                Piece::Reasoning(text) => self.reasoning_delta(&text),
                Piece::Text(text) => self.text_delta(&text),
                Piece::ToolCall { name, arguments } => self.markup_calls.push(ToolCall {
                    index: None,
                    id: None,
                    name,
                    arguments,
                }),
            }
        }
    }

    /// Tool calls the content wrote as markup (to add to the complete answer).
    pub fn take_markup_calls(&mut self) -> Vec<ToolCall> {
        self.content("", true);
        std::mem::take(&mut self.markup_calls)
    }

    /// Nothing was streamed (a non-streamed body): the whole post-processed answer's
    /// reasoning and text go out now.
    pub fn show_whole(&mut self, answer: &ChatAnswer) {
        if !answer.reasoning.trim().is_empty() {
            self.reasoning_delta(&answer.reasoning);
        }
        if !answer.text.is_empty() {
            self.text_delta(&answer.text);
        }
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
        let Some(choice) = chunk
            .get("choices")
            .and_then(Value::as_array)
            .and_then(|choices| choices.first())
        else {
            return;
        };
        let message = choice.get("message");
        let Some(delta) = choice.get("delta").or(message) else {
            return;
        };
        // A whole `message` next to the delta: its reasoning, unless already shown.
        if choice.get("delta").is_some()
            && let Some(snapshot) = message.and_then(|m| {
                m.get("reasoning_content")
                    .and_then(shapes::reasoning_text)
                    .or_else(|| m.get("reasoning").and_then(shapes::reasoning_text))
            })
            && !self.reasoning.ends_with(&snapshot)
        {
            let new = snapshot
                .strip_prefix(self.reasoning.as_str())
                .filter(|_| !self.reasoning.is_empty())
                .unwrap_or(&snapshot)
                .to_string();
            if !(self.open != OpenItem::Reasoning && self.reasoning.contains(&snapshot)) {
                self.reasoning_delta(&new);
            }
        }
        let reasoning = delta
            .get("reasoning_content")
            .and_then(shapes::reasoning_text)
            .or_else(|| delta.get("reasoning").and_then(shapes::reasoning_text));
        let content = shapes::content_text(delta.get("content"));
        let details_text: String = delta
            .get("reasoning_details")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|d| d.get("text").or_else(|| d.get("summary")))
            .filter_map(Value::as_str)
            .collect();
        match reasoning {
            Some(reasoning) => self.reasoning_delta(&reasoning),
            None if !details_text.is_empty() => self.reasoning_delta(&details_text),
            None => {}
        }
        if !content.reasoning.is_empty() {
            self.reasoning_delta(&content.reasoning);
        }
        if !content.text.is_empty() {
            self.content(&content.text, false);
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
        self.think = self.think.as_ref().map(|_| ThinkSplitter::default());
        self.harmony = HarmonySplitter::default();
        self.markup_calls.clear();
    }
}
