//! Agent events -> OpenAI Responses API objects and stream events (pure).
//!
//! Event order follows OpenAI's: `response.created`, `response.in_progress`, then per output
//! item `output_item.added` -> part added -> deltas -> text done -> part done ->
//! `output_item.done`, one item open at a time, and last `response.completed` (or
//! `response.failed` / `response.incomplete`) carrying the whole response with `usage`.
//!
//! What the agent did (commands run, files changed) becomes a `reasoning` item whose summary
//! says it in one line, with the structured form in the extension field `codex_activity`.
//! Clients never see a `function_call` item, so none of them will try to execute anything.

use serde_json::Value;
use serde_json::json;

use crate::agent::Activity;
use crate::agent::AgentEvent;
use crate::agent::Usage;

/// One SSE event: its `event:` name and `data:` JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamEvent {
    pub name: &'static str,
    pub data: Value,
}

impl StreamEvent {
    pub fn to_sse(&self) -> String {
        format!("event: {}\ndata: {}\n\n", self.name, self.data)
    }
}

/// Fields of the response object fixed at the start.
#[derive(Debug, Clone)]
pub struct ResponseMeta {
    pub id: String,
    pub created_at: u64,
    pub model: String,
    pub instructions: Option<String>,
    pub previous_response_id: Option<String>,
    pub effort: Option<String>,
    pub store: bool,
}

enum Open {
    Message { id: String, text: String },
    Reasoning { id: String, text: String },
}

/// Builds the stream and the final object from agent events.
pub struct ResponsesMapper {
    meta: ResponseMeta,
    seq: u64,
    output: Vec<Value>,
    open: Option<Open>,
    usage: Usage,
    status: &'static str,
    error: Option<Value>,
    finished: bool,
}

impl ResponsesMapper {
    pub fn new(meta: ResponseMeta) -> Self {
        Self {
            meta,
            seq: 0,
            output: Vec::new(),
            open: None,
            usage: Usage::default(),
            status: "in_progress",
            error: None,
            finished: false,
        }
    }

    pub fn is_finished(&self) -> bool {
        self.finished
    }

    pub fn status(&self) -> &'static str {
        self.status
    }

    /// The answer text of all message items, joined as the chat mapping joins it.
    pub fn output_text(&self) -> String {
        let mut parts = Vec::new();
        for item in &self.output {
            if item["type"] == "message"
                && let Some(text) = item["content"][0]["text"].as_str()
            {
                parts.push(text.trim().to_string());
            }
        }
        parts.join("\n\n")
    }

    fn event(&mut self, name: &'static str, mut data: Value) -> StreamEvent {
        data["type"] = json!(name);
        data["sequence_number"] = json!(self.seq);
        self.seq += 1;
        StreamEvent { name, data }
    }

    /// The response object as it stands.
    pub fn response(&self) -> Value {
        let usage = if self.finished {
            json!({
                "input_tokens": self.usage.input_tokens,
                "input_tokens_details": {"cached_tokens": self.usage.cached_input_tokens},
                "output_tokens": self.usage.output_tokens,
                "output_tokens_details": {"reasoning_tokens": self.usage.reasoning_output_tokens},
                "total_tokens": self.usage.total(),
            })
        } else {
            Value::Null
        };
        let incomplete = if self.status == "incomplete" {
            json!({"reason": "interrupted"})
        } else {
            Value::Null
        };
        json!({
            "id": self.meta.id,
            "object": "response",
            "created_at": self.meta.created_at,
            "status": self.status,
            "error": self.error.clone().unwrap_or(Value::Null),
            "incomplete_details": incomplete,
            "instructions": self.meta.instructions,
            "model": self.meta.model,
            "output": self.output,
            "parallel_tool_calls": false,
            "previous_response_id": self.meta.previous_response_id,
            "reasoning": {"effort": self.meta.effort, "summary": null},
            "store": self.meta.store,
            "text": {"format": {"type": "text"}},
            "tool_choice": "auto",
            "tools": [],
            "usage": usage,
            "metadata": {},
        })
    }

    pub fn start(&mut self) -> Vec<StreamEvent> {
        let response = self.response();
        vec![
            self.event("response.created", json!({"response": response})),
            self.event("response.in_progress", json!({"response": response})),
        ]
    }

    fn item_id(&self, prefix: &str) -> String {
        let base = self.meta.id.strip_prefix("resp_").unwrap_or(&self.meta.id);
        format!("{prefix}_{base}_{}", self.output.len())
    }

    fn close(&mut self, out: &mut Vec<StreamEvent>) {
        self.close_as(out, "completed");
    }

    /// Close the open item; a message cut short by a failure is `incomplete`.
    fn close_as(&mut self, out: &mut Vec<StreamEvent>, message_status: &str) {
        let index = self.output.len();
        match self.open.take() {
            None => {}
            Some(Open::Message { id, text }) => {
                let part = json!({"type": "output_text", "text": text, "annotations": []});
                let item = json!({
                    "id": id, "type": "message", "status": message_status, "role": "assistant",
                    "content": [part],
                });
                out.push(self.event(
                    "response.output_text.done",
                    json!({"item_id": id, "output_index": index, "content_index": 0, "text": text, "logprobs": []}),
                ));
                out.push(self.event(
                    "response.content_part.done",
                    json!({"item_id": id, "output_index": index, "content_index": 0, "part": part}),
                ));
                out.push(self.event(
                    "response.output_item.done",
                    json!({"output_index": index, "item": item}),
                ));
                self.output.push(item);
            }
            Some(Open::Reasoning { id, text }) => {
                let item = json!({
                    "id": id, "type": "reasoning",
                    "summary": [{"type": "summary_text", "text": text}],
                });
                self.close_reasoning(out, &id, &text, item);
            }
        }
    }

    fn close_reasoning(&mut self, out: &mut Vec<StreamEvent>, id: &str, text: &str, item: Value) {
        let index = self.output.len();
        out.push(self.event(
            "response.reasoning_summary_text.done",
            json!({"item_id": id, "output_index": index, "summary_index": 0, "text": text}),
        ));
        out.push(self.event(
            "response.reasoning_summary_part.done",
            json!({"item_id": id, "output_index": index, "summary_index": 0,
                   "part": {"type": "summary_text", "text": text}}),
        ));
        out.push(self.event(
            "response.output_item.done",
            json!({"output_index": index, "item": item}),
        ));
        self.output.push(item);
    }

    fn open_reasoning(&mut self, out: &mut Vec<StreamEvent>, id: &str, extra: Option<&Value>) {
        let index = self.output.len();
        let mut item = json!({"id": id, "type": "reasoning", "summary": []});
        if let Some(extra) = extra {
            item["codex_activity"] = extra.clone();
        }
        out.push(self.event(
            "response.output_item.added",
            json!({"output_index": index, "item": item}),
        ));
        out.push(self.event(
            "response.reasoning_summary_part.added",
            json!({"item_id": id, "output_index": index, "summary_index": 0,
                   "part": {"type": "summary_text", "text": ""}}),
        ));
    }

    fn activity(&mut self, out: &mut Vec<StreamEvent>, activity: &Activity) {
        self.close(out);
        let id = self.item_id("rs");
        let index = self.output.len();
        let line = activity.summary_line();
        let extra = serde_json::to_value(activity).unwrap_or(Value::Null);
        self.open_reasoning(out, &id, Some(&extra));
        out.push(self.event(
            "response.reasoning_summary_text.delta",
            json!({"item_id": id, "output_index": index, "summary_index": 0, "delta": line}),
        ));
        let item = json!({
            "id": id, "type": "reasoning",
            "summary": [{"type": "summary_text", "text": line}],
            "codex_activity": extra,
        });
        self.close_reasoning(out, &id, &line, item);
    }

    fn finish(&mut self, out: &mut Vec<StreamEvent>, status: &'static str, name: &'static str) {
        let item_status = if status == "completed" {
            "completed"
        } else {
            "incomplete"
        };
        self.close_as(out, item_status);
        self.status = status;
        self.finished = true;
        let response = self.response();
        out.push(self.event(name, json!({"response": response})));
    }

    /// Map one agent event; nothing after the turn has ended.
    pub fn on_event(&mut self, event: AgentEvent) -> Vec<StreamEvent> {
        let mut out = Vec::new();
        if self.finished {
            return out;
        }
        match event {
            AgentEvent::ReasoningDelta(delta) => {
                if !matches!(self.open, Some(Open::Reasoning { .. })) {
                    self.close(&mut out);
                    let id = self.item_id("rs");
                    self.open_reasoning(&mut out, &id, None);
                    self.open = Some(Open::Reasoning {
                        id,
                        text: String::new(),
                    });
                }
                let index = self.output.len();
                if let Some(Open::Reasoning { id, text }) = &mut self.open {
                    text.push_str(&delta);
                    let id = id.clone();
                    out.push(self.event(
                        "response.reasoning_summary_text.delta",
                        json!({"item_id": id, "output_index": index, "summary_index": 0, "delta": delta}),
                    ));
                }
            }
            AgentEvent::TextDelta(delta) => {
                if !matches!(self.open, Some(Open::Message { .. })) {
                    self.close(&mut out);
                    let id = self.item_id("msg");
                    let index = self.output.len();
                    out.push(self.event(
                        "response.output_item.added",
                        json!({"output_index": index, "item": {
                            "id": id, "type": "message", "status": "in_progress",
                            "role": "assistant", "content": []}}),
                    ));
                    out.push(self.event(
                        "response.content_part.added",
                        json!({"item_id": id, "output_index": index, "content_index": 0,
                               "part": {"type": "output_text", "text": "", "annotations": []}}),
                    ));
                    self.open = Some(Open::Message {
                        id,
                        text: String::new(),
                    });
                }
                let index = self.output.len();
                if let Some(Open::Message { id, text }) = &mut self.open {
                    text.push_str(&delta);
                    let id = id.clone();
                    out.push(self.event(
                        "response.output_text.delta",
                        json!({"item_id": id, "output_index": index, "content_index": 0,
                               "delta": delta, "logprobs": []}),
                    ));
                }
            }
            AgentEvent::Activity(activity) => self.activity(&mut out, &activity),
            AgentEvent::Usage(usage) => self.usage.add(usage),
            AgentEvent::Completed => self.finish(&mut out, "completed", "response.completed"),
            AgentEvent::Failed(message) => {
                self.error = Some(json!({"code": "server_error", "message": message}));
                self.finish(&mut out, "failed", "response.failed");
            }
            AgentEvent::Interrupted => {
                self.finish(&mut out, "incomplete", "response.incomplete");
            }
        }
        out
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn mapper() -> ResponsesMapper {
        ResponsesMapper::new(ResponseMeta {
            id: "resp_1".into(),
            created_at: 1,
            model: "m".into(),
            instructions: None,
            previous_response_id: None,
            effort: None,
            store: true,
        })
    }

    fn run(events: Vec<AgentEvent>) -> (Vec<StreamEvent>, ResponsesMapper) {
        let mut m = mapper();
        let mut out = m.start();
        for e in events {
            out.extend(m.on_event(e));
        }
        (out, m)
    }

    /// OpenAI's ordering rules: sequence numbers 0.., one item open at a time, every
    /// event of an item between its added and done, the terminal event last.
    fn assert_conforms(events: &[StreamEvent]) {
        let mut open: Option<String> = None;
        for (i, e) in events.iter().enumerate() {
            assert_eq!(e.data["sequence_number"], i as u64, "{}", e.name);
            assert_eq!(e.data["type"], e.name);
            match e.name {
                "response.output_item.added" => {
                    assert!(open.is_none(), "two items open at {i}");
                    open = Some(e.data["item"]["id"].as_str().unwrap().to_string());
                }
                "response.output_item.done" => {
                    assert_eq!(open.take().as_deref(), e.data["item"]["id"].as_str());
                }
                "response.created" | "response.in_progress" => assert!(i < 2),
                "response.completed" | "response.failed" | "response.incomplete" => {
                    assert!(open.is_none());
                    assert_eq!(i, events.len() - 1, "terminal event not last");
                }
                _ => assert_eq!(open.as_deref(), e.data["item_id"].as_str(), "{}", e.name),
            }
        }
    }

    #[test]
    fn text_after_activity_is_a_second_message_item() {
        let (events, m) = run(vec![
            AgentEvent::TextDelta("Let me look.".into()),
            AgentEvent::Activity(Activity::CommandRun {
                command: "ls".into(),
                exit_code: None,
            }),
            AgentEvent::TextDelta("Done.".into()),
            AgentEvent::Completed,
        ]);
        assert_conforms(&events);
        let response = m.response();
        let kinds: Vec<&str> = response["output"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["type"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, vec!["message", "reasoning", "message"]);
        assert_eq!(m.output_text(), "Let me look.\n\nDone.");
        assert_eq!(response["output"][1]["summary"][0]["text"], "Ran `ls`");
    }

    #[test]
    fn every_ending_conforms_and_nothing_follows_it() {
        for end in [
            AgentEvent::Completed,
            AgentEvent::Failed("x".into()),
            AgentEvent::Interrupted,
        ] {
            let (mut events, mut m) = run(vec![
                AgentEvent::ReasoningDelta("a".into()),
                AgentEvent::TextDelta("b".into()),
                AgentEvent::ReasoningDelta("c".into()),
                end,
            ]);
            assert!(m.on_event(AgentEvent::TextDelta("late".into())).is_empty());
            events.extend(m.on_event(AgentEvent::Completed));
            assert_conforms(&events);
        }
    }

    #[test]
    fn interrupted_is_incomplete_with_a_reason() {
        let (_, m) = run(vec![
            AgentEvent::TextDelta("a".into()),
            AgentEvent::Interrupted,
        ]);
        let r = m.response();
        assert_eq!(r["status"], "incomplete");
        assert_eq!(r["incomplete_details"]["reason"], "interrupted");
        assert_eq!(r["output"][0]["status"], "incomplete");
    }
}
