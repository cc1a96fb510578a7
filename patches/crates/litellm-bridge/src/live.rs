//! Live output: Responses events written while the chat answer arrives. Text and reasoning
//! go out as they come (`<think>` and Harmony markup split incrementally); text that may
//! turn out to be a tool call written as text is held back; tool calls go out only from the
//! complete, validated answer, so no tool runs twice or half.
//!
//! A fault mid-answer is retried invisibly: the retried answer is replayed against what the
//! user already saw and only what goes beyond it is shown. If it does not start with what was
//! shown: reasoning alone becomes a new thought (the shown one stays as it was); shown text
//! ends as a message marked interrupted and the retry's answer follows whole as the message
//! Codex keeps ([`LiveOutput::interrupt`]), or, on a backend that continues a prefilled
//! assistant message, the bridge asks for the rest of exactly that text (see
//! `Bridge::finish_live`) — never two answers glued into one message.

use crate::answer::ChatAnswer;
use crate::answer::ToolCall;
use crate::fetch::ChunkSink;
use crate::harmony::HarmonySplitter;
use crate::harmony::Piece;
use crate::options::ToolCallRecovery;
use crate::postprocess::RecoveredCall;
use crate::shapes;
use crate::simulate::EventWriter;
use crate::simulate::ResponseIdentity;
use crate::simulate::call_id_for;
use crate::simulate::encode_sse_event;
use crate::think_split::ThinkSplitter;
use crate::tools::ToolMap;
use bytes::Bytes;
use serde_json::Value;
use std::collections::BTreeMap;
use std::collections::HashSet;
use tokio::sync::mpsc::UnboundedSender;

/// Ends the text of a message whose stream broke off after it was shown and whose retry
/// did not continue it: the item is closed as `incomplete` with this note, and the retry's
/// whole answer follows as a message of its own (the one Codex keeps). Translating the
/// history drops such a message, so the model never sees two answers.
pub const INTERRUPTED_NOTE: &str = "…\n\n(interrupted: the backend's answer broke off here and was asked for again; the complete answer follows)";

/// Openers of the tool-call syntaxes [`crate::postprocess::recover_tool_calls`] reads.
const CALL_MARKERS: [&str; 4] = [
    "<tool_call>",
    "<function=",
    "[TOOL_CALLS]",
    "<|python_tag|>",
];
/// Starts of an answer that may be a call written as bare (maybe fenced) JSON.
const BARE_JSON_OPENERS: [&str; 3] = ["{", "[", "```"];

/// Which text is held back because it may turn out to be a tool call written as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldBack {
    /// No recovery (or no declared tool): everything is shown as it arrives.
    Off,
    /// Only an answer that starts like a call is held (until it ends); one that starts as
    /// prose streams at once. For recovery of calls that are the whole answer.
    Start,
    /// Also from a call marker on, anywhere in the text, to the end.
    Anywhere,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Reasoning,
    Text,
}

/// Whether the start of `text` can no longer become a written call.
fn starts_as_prose(text: &str) -> bool {
    let start = text.trim_start();
    !start.is_empty()
        && !CALL_MARKERS
            .iter()
            .chain(BARE_JSON_OPENERS.iter())
            .any(|opener| start.starts_with(opener) || opener.starts_with(start))
}

/// Length of the longest end of `text` that starts a call marker.
fn partial_marker_len(text: &str) -> usize {
    CALL_MARKERS
        .iter()
        .flat_map(|marker| {
            (1..marker.len().min(text.len() + 1)).filter(move |&n| {
                text.is_char_boundary(text.len() - n) && marker.starts_with(&text[text.len() - n..])
            })
        })
        .max()
        .unwrap_or(0)
}

/// One attempt's view of the answer (reset on a retry, kept what the user saw).
#[derive(Debug)]
struct Attempt {
    think: Option<ThinkSplitter>,
    harmony: HarmonySplitter,
    /// Everything this attempt produced for display, consecutive pieces of a kind joined.
    log: Vec<(Kind, String)>,
    /// This fetch's text (after splitting) and how much of it was released for display.
    text: String,
    released: usize,
    /// Where a call marker starts in `text` (held from there on), once seen.
    marker_at: Option<usize>,
    hold: HoldBack,
    markup_calls: Vec<ToolCall>,
    /// Reasoning read from the reasoning fields (to tell a `message` snapshot's repeat).
    field_reasoning: String,
    details: Vec<Value>,
    chunks: usize,
}

impl Attempt {
    fn new(think_tags: bool, hold: HoldBack) -> Self {
        Self {
            think: think_tags.then(ThinkSplitter::default),
            harmony: HarmonySplitter::default(),
            log: Vec::new(),
            text: String::new(),
            released: 0,
            marker_at: None,
            hold,
            markup_calls: Vec::new(),
            field_reasoning: String::new(),
            details: Vec::new(),
            chunks: 0,
        }
    }

    /// How much of `text` is certainly not a call written as text.
    fn releasable(&mut self) -> usize {
        match self.hold {
            HoldBack::Off => self.text.len(),
            HoldBack::Start if self.released > 0 || starts_as_prose(&self.text) => self.text.len(),
            HoldBack::Start => 0,
            HoldBack::Anywhere => {
                if let Some(at) = self.marker_at {
                    return at;
                }
                if self.released == 0 && !starts_as_prose(&self.text) {
                    return 0;
                }
                // Released text holds no marker start: look from there on only.
                let tail = &self.text[self.released..];
                match CALL_MARKERS.iter().filter_map(|m| tail.find(m)).min() {
                    Some(at) => {
                        self.marker_at = Some(self.released + at);
                        self.released + at
                    }
                    None => self.text.len() - partial_marker_len(tail),
                }
            }
        }
    }
}

/// Where the current attempt's output stands against what was shown: segment and byte.
type Cursor = (usize, usize);

pub struct LiveOutput {
    writer: EventWriter,
    tx: UnboundedSender<Bytes>,
    tool_map: ToolMap,
    think_tags: bool,
    /// The items shown in this response since the last new thought, in order; the last one
    /// is open.
    shown: Vec<(Kind, String)>,
    cursor: Cursor,
    /// Where the current fetch (the answer or a continuation of it) started in `shown`.
    fetch_start: Cursor,
    attempt: Attempt,
    text_shown: bool,
    /// Events go out once there is something to show (or the stream ends), so a failure
    /// before that can still be handed over as an HTTP error.
    started: bool,
    details_attached: bool,
    /// A retried answer did not continue the text the user saw: nothing more is shown
    /// (until the bridge continues the shown text or calls [`LiveOutput::interrupt`]).
    diverged: bool,
    /// On such a retry, end the shown text as interrupted and show the retry's answer
    /// from its start as new items (the backend cannot continue a prefill), instead of
    /// `diverged`.
    interrupt_on_divergence: bool,
    interrupted: u64,
    events: BTreeMap<String, u64>,
}

/// What the complete text of one fetch turned out to hold.
#[derive(Debug, Default)]
pub struct FetchEnd {
    pub calls: Vec<ToolCall>,
    pub recovered: Vec<RecoveredCall>,
}

impl LiveOutput {
    pub fn new(
        identity: ResponseIdentity,
        tx: UnboundedSender<Bytes>,
        tool_map: ToolMap,
        think_tags: bool,
        hold: HoldBack,
    ) -> Self {
        let hold = if tool_map.declared_names().next().is_none() {
            HoldBack::Off
        } else {
            hold
        };
        let mut writer = EventWriter::new(identity);
        writer.created();
        Self {
            writer,
            tx,
            tool_map,
            think_tags,
            shown: Vec::new(),
            cursor: (0, 0),
            fetch_start: (0, 0),
            attempt: Attempt::new(think_tags, hold),
            text_shown: false,
            started: false,
            details_attached: false,
            diverged: false,
            interrupt_on_divergence: false,
            interrupted: 0,
            events: BTreeMap::new(),
        }
    }

    /// See `interrupt_on_divergence`.
    pub fn with_interrupt_on_divergence(mut self, interrupt: bool) -> Self {
        self.interrupt_on_divergence = interrupt;
        self
    }

    /// Shown answers ended as interrupted.
    pub fn interrupted(&self) -> u64 {
        self.interrupted
    }

    /// Responses events sent so far, by type.
    pub fn event_counts(&self) -> &BTreeMap<String, u64> {
        &self.events
    }

    /// Whether events went out to Codex.
    pub fn started(&self) -> bool {
        self.started
    }

    /// Whether any text reached Codex.
    pub fn text_shown(&self) -> bool {
        self.text_shown
    }

    /// Whether a retried answer failed to continue the text the user saw.
    pub fn diverged(&self) -> bool {
        self.diverged
    }

    fn flush(&mut self) {
        if !self.started {
            return;
        }
        for event in self.writer.drain() {
            let kind = event
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("unknown")
                .to_string();
            *self.events.entry(kind).or_default() += 1;
            // A closed receiver means Codex went away; the fetch ends on its own.
            let _ = self.tx.send(Bytes::from(encode_sse_event(&event)));
        }
    }

    /// Content text through the splitters; text goes through the hold-back.
    fn content(&mut self, text: &str, at_end: bool) {
        let pieces = match &mut self.attempt.think {
            Some(think) => {
                let mut pieces = think.push(text);
                if at_end {
                    pieces.extend(think.finish());
                }
                pieces
            }
            None => vec![Piece::Text(text.to_string())],
        };
        let mut out = Vec::new();
        for piece in pieces {
            match piece {
                Piece::Text(text) => out.extend(self.attempt.harmony.push(&text)),
                other => out.push(other),
            }
        }
        if at_end {
            out.extend(self.attempt.harmony.finish());
        }
        for piece in out {
            match piece {
                Piece::Reasoning(text) => self.produce(Kind::Reasoning, &text),
                Piece::Text(text) => {
                    self.attempt.text.push_str(&text);
                    let upto = self.attempt.releasable();
                    if upto > self.attempt.released {
                        let released = self.attempt.text[self.attempt.released..upto].to_string();
                        self.attempt.released = upto;
                        self.produce(Kind::Text, &released);
                    }
                }
                Piece::ToolCall { name, arguments } => self.attempt.markup_calls.push(ToolCall {
                    index: None,
                    id: None,
                    name,
                    arguments,
                }),
            }
        }
    }

    /// Output of the current attempt, for display.
    fn produce(&mut self, kind: Kind, delta: &str) {
        if delta.is_empty() {
            return;
        }
        match self.attempt.log.last_mut() {
            Some((last, text)) if *last == kind => text.push_str(delta),
            _ => self.attempt.log.push((kind, delta.to_string())),
        }
        self.replay(kind, delta);
    }

    /// Shows what goes beyond what the user saw; checks the rest matches it.
    fn replay(&mut self, kind: Kind, mut delta: &str) {
        while !delta.is_empty() && !self.diverged {
            let (index, offset) = self.cursor;
            let Some((shown_kind, shown_text)) = self.shown.get(index) else {
                self.show_new(kind, delta);
                return;
            };
            let is_last = index + 1 == self.shown.len();
            if offset == shown_text.len() && (!is_last || *shown_kind != kind) {
                if *shown_kind == kind {
                    // The answer goes on where the one shown had moved on.
                    return self.diverge();
                }
                self.cursor = (index + 1, 0);
                continue;
            }
            if *shown_kind != kind {
                return self.diverge();
            }
            let rest = &shown_text.as_bytes()[offset..];
            if rest.is_empty() {
                self.show_more(delta);
                return;
            }
            let common = rest.len().min(delta.len());
            if rest[..common] != delta.as_bytes()[..common] {
                return self.diverge();
            }
            self.cursor.1 += common;
            delta = &delta[common..];
        }
    }

    fn show_new(&mut self, kind: Kind, delta: &str) {
        self.started = true;
        self.close_open();
        match kind {
            Kind::Reasoning => {
                self.writer.begin_reasoning();
                self.writer.reasoning_delta(delta);
            }
            Kind::Text => {
                self.writer.begin_message();
                self.writer.text_delta(delta);
                self.text_shown = true;
            }
        }
        self.shown.push((kind, delta.to_string()));
        self.cursor = (self.shown.len() - 1, delta.len());
    }

    fn show_more(&mut self, delta: &str) {
        let Some((kind, text)) = self.shown.last_mut() else {
            return;
        };
        match kind {
            Kind::Reasoning => self.writer.reasoning_delta(delta),
            Kind::Text => self.writer.text_delta(delta),
        }
        text.push_str(delta);
        self.cursor.1 = text.len();
    }

    /// The current attempt does not continue what was shown.
    fn diverge(&mut self) {
        if self.text_shown {
            if self.interrupt_on_divergence {
                self.interrupt();
            } else {
                self.diverged = true;
            }
            return;
        }
        // Only reasoning was shown: it stays as it was; this attempt's output is a new
        // thought after it.
        self.close_open();
        self.shown.clear();
        self.cursor = (0, 0);
        self.fetch_start = (0, 0);
        for (kind, text) in std::mem::take(&mut self.attempt.log) {
            self.show_new(kind, &text);
            self.attempt.log.push((kind, text));
        }
    }

    /// The shown text will not be continued: its message ends here, marked interrupted
    /// (the screen must not pass it off as the answer), and the current attempt's own
    /// output — the retried answer, from its start — is shown as new items after it.
    /// Thoughts already shown are not repeated. The last message is the one Codex keeps.
    pub fn interrupt(&mut self) {
        self.diverged = false;
        self.started = true;
        let open_text =
            self.writer.is_item_open() && matches!(self.shown.last(), Some((Kind::Text, _)));
        match self.shown.last_mut() {
            Some((Kind::Text, text)) if open_text => {
                text.push_str(INTERRUPTED_NOTE);
                let text = text.clone();
                self.writer.text_delta(INTERRUPTED_NOTE);
                self.writer.end_message_incomplete(&text);
            }
            _ => self.close_open(),
        }
        self.interrupted += 1;
        let thoughts: HashSet<String> = self
            .shown
            .drain(..)
            .filter(|(kind, _)| *kind == Kind::Reasoning)
            .map(|(_, text)| text)
            .collect();
        self.cursor = (0, 0);
        self.fetch_start = (0, 0);
        self.text_shown = false;
        let log = std::mem::take(&mut self.attempt.log);
        let new = log
            .iter()
            .skip_while(|(kind, text)| *kind == Kind::Reasoning && thoughts.contains(text));
        for (kind, text) in new {
            self.show_new(*kind, text);
        }
        self.attempt.log = log;
        self.flush();
    }

    fn close_open(&mut self) {
        if !self.writer.is_item_open() {
            return;
        }
        match self.shown.last() {
            Some((Kind::Reasoning, text)) => {
                let details = (!self.attempt.details.is_empty())
                    .then(|| Value::Array(self.attempt.details.clone()));
                self.details_attached |= details.is_some();
                let text = text.clone();
                self.writer.end_reasoning(&text, details.as_ref());
            }
            Some((Kind::Text, text)) => {
                let text = text.clone();
                self.writer.end_message(&text);
            }
            None => {}
        }
    }

    /// The text shown so far (what a continuation request carries as the answer so far).
    pub fn shown_text(&self) -> String {
        self.shown
            .iter()
            .filter(|(kind, _)| *kind == Kind::Text)
            .map(|(_, text)| text.as_str())
            .collect()
    }

    /// After a retried answer diverged: the next fetch continues what was shown.
    pub fn resume_after_shown(&mut self) {
        self.diverged = false;
        self.cursor = match self.shown.last() {
            Some((_, text)) => (self.shown.len() - 1, text.len()),
            None => (0, 0),
        };
        self.begin_continuation();
    }

    /// The answer to a nudge is fetched next: it is a new paragraph of the same message
    /// (the nudge itself is never shown), and its tool calls are ordinary calls.
    pub fn begin_follow_up(&mut self) {
        if self.text_shown {
            self.produce(Kind::Text, "\n\n");
        }
        self.begin_continuation();
    }

    /// A continuation of the answer is fetched next: its output goes after what was shown.
    pub fn begin_continuation(&mut self) {
        self.fetch_start = self.cursor;
        // A continuation is text after text: never a call of its own.
        self.attempt = Attempt::new(self.think_tags, HoldBack::Off);
    }

    /// The fetch delivered a complete, validated answer: what was held back is settled
    /// (written calls recovered per the hold-back, the rest shown as text).
    pub fn end_fetch(&mut self, answer: &ChatAnswer) -> FetchEnd {
        if self.attempt.chunks == 0 {
            // A non-streamed body: the whole answer now, through the same path.
            if !answer.reasoning.is_empty() {
                self.produce(Kind::Reasoning, &answer.reasoning);
            }
            if answer.reasoning_details.is_some() && self.attempt.details.is_empty() {
                self.attempt.details = answer
                    .reasoning_details
                    .as_ref()
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
            }
            let text = answer.text.clone();
            self.content(&text, false);
        }
        self.content("", true);
        let mut end = FetchEnd {
            calls: std::mem::take(&mut self.attempt.markup_calls),
            recovered: Vec::new(),
        };
        end.recovered = end
            .calls
            .iter()
            .map(|call| RecoveredCall {
                name: call.name.clone(),
                syntax: "harmony_commentary",
            })
            .collect();
        let mut held = self.attempt.text[self.attempt.released..].to_string();
        self.attempt.released = self.attempt.text.len();
        if self.attempt.hold != HoldBack::Off
            && answer.tool_calls.is_empty()
            && end.calls.is_empty()
            && !held.trim().is_empty()
        {
            let mut part = ChatAnswer {
                text: held.clone(),
                ..ChatAnswer::default()
            };
            let mode = match self.attempt.hold {
                HoldBack::Start => ToolCallRecovery::WholeAnswer,
                _ => ToolCallRecovery::Anywhere,
            };
            let recovered =
                crate::postprocess::recover_written_calls(&mut part, &self.tool_map, mode);
            if !recovered.is_empty() {
                end.recovered.extend(recovered);
                end.calls.extend(part.tool_calls);
                held = part.text;
            }
        }
        self.produce(Kind::Text, &held);
        if !self.text_shown
            && let Some(refusal) = answer.refusal.as_deref().filter(|_| answer.text.is_empty())
        {
            self.produce(Kind::Text, refusal);
        }
        // The answer must reach at least as far as what was shown. A retry that is only tool
        // calls (no text of its own) contradicts nothing shown: the shown text stays as the
        // message and the calls go on, as they would have after a fault before any text.
        let at_end = self.shown.is_empty()
            || self.cursor
                == (
                    self.shown.len() - 1,
                    self.shown[self.shown.len() - 1].1.len(),
                );
        let calls_only = answer.text.trim().is_empty() && !answer.tool_calls.is_empty();
        if !at_end && !calls_only {
            self.diverge();
        }
        self.flush();
        end
    }

    /// Closes the stream after a complete answer: the cut-off note, the open item, the tool
    /// calls (structured ones and those found in the text), usage. `truncated` carries the
    /// note for an answer cut by the output limit.
    pub fn complete(&mut self, answer: &ChatAnswer, calls: &[ToolCall], truncated: Option<&str>) {
        self.started = true;
        if let Some(note) = truncated {
            self.produce(Kind::Text, note);
        }
        self.close_open();
        if let Some(details) = answer
            .reasoning_details
            .as_ref()
            .filter(|_| !self.details_attached)
        {
            self.writer.begin_reasoning();
            self.writer.end_reasoning("", Some(details));
        }
        let response_id = self.writer.identity().response_id.clone();
        for (position, call) in calls.iter().enumerate() {
            let call_id = call_id_for(call, position, &response_id);
            self.writer.tool_call(call, &call_id, &self.tool_map);
        }
        self.writer.completed(answer.usage);
        self.flush();
    }

    /// Ends the stream with `response.failed`. What the last attempt held back is shown
    /// as text (it runs nothing), as buffered mode shows the text before an error.
    pub fn fail(&mut self, code: &str, message: &str) {
        self.started = true;
        if !self.diverged {
            self.content("", true);
            let held = self.attempt.text[self.attempt.released..].to_string();
            self.attempt.released = self.attempt.text.len();
            self.produce(Kind::Text, &held);
        }
        self.close_open();
        self.writer.failed(code, message);
        self.flush();
    }
}

impl ChunkSink for LiveOutput {
    fn shown_anything(&self) -> bool {
        self.started
    }

    fn attempt_started(&mut self) {
        self.attempt = Attempt::new(self.think_tags, self.attempt.hold);
        self.cursor = self.fetch_start;
    }

    fn on_chunk(&mut self, chunk: &Value) {
        self.attempt.chunks += 1;
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
        // A whole `message` next to the delta: its reasoning, unless already seen.
        if choice.get("delta").is_some()
            && let Some(snapshot) = message.and_then(|m| {
                m.get("reasoning_content")
                    .and_then(shapes::reasoning_text)
                    .or_else(|| m.get("reasoning").and_then(shapes::reasoning_text))
            })
            && !self.attempt.field_reasoning.contains(&snapshot)
        {
            let seen = &self.attempt.field_reasoning;
            let new = snapshot
                .strip_prefix(seen.as_str())
                .filter(|_| !seen.is_empty())
                .unwrap_or(&snapshot)
                .to_string();
            self.attempt.field_reasoning.push_str(&new);
            self.produce(Kind::Reasoning, &new);
        }
        let reasoning = delta
            .get("reasoning_content")
            .and_then(shapes::reasoning_text)
            .or_else(|| delta.get("reasoning").and_then(shapes::reasoning_text));
        let content = shapes::content_text(delta.get("content"));
        let details: Vec<Value> = delta
            .get("reasoning_details")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let details_text: String = details
            .iter()
            .filter_map(|d| d.get("text").or_else(|| d.get("summary")))
            .filter_map(Value::as_str)
            .collect();
        self.attempt.details.extend(details);
        match reasoning {
            Some(reasoning) => {
                self.attempt.field_reasoning.push_str(&reasoning);
                self.produce(Kind::Reasoning, &reasoning);
            }
            None if !details_text.is_empty() => {
                self.attempt.field_reasoning.push_str(&details_text);
                self.produce(Kind::Reasoning, &details_text);
            }
            None => {}
        }
        if !content.reasoning.is_empty() {
            self.produce(Kind::Reasoning, &content.reasoning);
        }
        if !content.text.is_empty() {
            self.content(&content.text, false);
        }
        self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::translate_tools;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    fn tool_map() -> ToolMap {
        translate_tools(
            &[json!({"type": "function", "name": "shell", "parameters": {"type": "object"}})],
            false,
        )
        .map
    }

    /// Feeds `content` in `size`-character deltas; returns (text deltas shown, reasoning
    /// deltas shown, tool calls found, whether text went out before the end).
    fn feed(content: &str, size: usize, hold: HoldBack) -> (String, String, usize, bool) {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let identity = ResponseIdentity {
            response_id: "resp_t".into(),
            model: "m".into(),
            created_at: 0,
        };
        let mut live = LiveOutput::new(identity, tx, tool_map(), true, hold);
        live.attempt_started();
        let chars: Vec<char> = content.chars().collect();
        for piece in chars.chunks(size) {
            let delta: String = piece.iter().collect();
            live.on_chunk(&json!({"choices": [{"index": 0, "delta": {"content": delta}}]}));
        }
        let mut early = String::new();
        while let Ok(bytes) = rx.try_recv() {
            early.push_str(&String::from_utf8_lossy(&bytes));
        }
        let answer = ChatAnswer {
            text: content.to_string(),
            finish_reason: Some("stop".into()),
            ..ChatAnswer::default()
        };
        let end = live.end_fetch(&answer);
        live.complete(&answer, &end.calls, None);
        let mut all = early.clone();
        while let Ok(bytes) = rx.try_recv() {
            all.push_str(&String::from_utf8_lossy(&bytes));
        }
        let events = crate::conformance::sse_payloads(all.as_bytes()).unwrap_or_default();
        assert!(
            crate::conformance::check_events(&events).is_ok(),
            "{content:?} in {size}"
        );
        let deltas = |kind: &str| -> String {
            events
                .iter()
                .filter(|e| e["type"] == kind)
                .filter_map(|e| e["delta"].as_str())
                .collect()
        };
        (
            deltas("response.output_text.delta"),
            deltas("response.reasoning_summary_text.delta"),
            end.calls.len(),
            early.contains("output_text.delta"),
        )
    }

    #[test]
    fn any_chunking_shows_the_same_and_never_a_written_call() {
        let call =
            "<tool_call>{\"name\": \"shell\", \"arguments\": {\"command\": [\"ls\"]}}</tool_call>";
        for size in 1..9 {
            // Thinking, then a call that is the whole answer: reasoning shown, no text.
            let (text, reasoning, calls, _) = feed(
                &format!("<think>look first</think>\n{call}"),
                size,
                HoldBack::Start,
            );
            assert_eq!(
                (text.as_str(), reasoning.as_str(), calls),
                ("", "look first", 1),
                "{size}"
            );
            // Prose streams before the end; a call after prose stays text in Start mode...
            let prose = format!("Sure. {call}");
            let (text, _, calls, early) = feed(&prose, size, HoldBack::Start);
            assert_eq!((text.as_str(), calls, early), (prose.as_str(), 0, true));
            // ...and is held back and run in Anywhere mode.
            let (text, _, calls, early) = feed(&prose, size, HoldBack::Anywhere);
            assert_eq!((text.as_str(), calls, early), ("Sure. ", 1, true), "{size}");
            // A marker-like start that is not a call is shown whole at the end.
            let (text, _, calls, _) = feed("<tool_cal is not a tag", size, HoldBack::Anywhere);
            assert_eq!((text.as_str(), calls), ("<tool_cal is not a tag", 0));
        }
    }

    #[test]
    fn hold_back_decisions() {
        assert!(starts_as_prose("  Hello"));
        for start in [
            "",
            "  ",
            "<tool",
            "{\"name\"",
            "[TOOL_CALLS]",
            "```json",
            "<|python",
        ] {
            assert!(!starts_as_prose(start), "{start:?}");
        }
        assert_eq!(partial_marker_len("text <tool_c"), "<tool_c".len());
        assert_eq!(partial_marker_len("text [TOOL"), "[TOOL".len());
        assert_eq!(partial_marker_len("text <b>"), 0);
    }
}
