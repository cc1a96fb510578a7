//! gpt-oss Harmony markup written into `content` (llama.cpp or vLLM serving gpt-oss without
//! the Harmony parser): `<|channel|>analysis<|message|>…<|end|><|start|>assistant<|channel|>
//! final<|message|>…`. The `analysis` channel is reasoning, `final` (and `commentary`
//! without a recipient, a preamble) is text, and a message addressed `to=functions.NAME`
//! is a tool call whose body is the arguments. Pure and incremental: content can be fed
//! delta by delta, and only what can no longer turn out to be markup is handed out.

/// What a piece of content turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Reasoning(String),
    Text(String),
    ToolCall { name: String, arguments: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Channel {
    Reasoning,
    Text,
    /// A tool call to this tool; its arguments are collected until the message ends.
    Call(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Body(Channel),
    /// Between `<|start|>`/`<|channel|>` and `<|message|>`: role, channel, recipient.
    Header(String),
}

/// Longest Harmony token (`<|constrain|>`): a `<|` further back than this is no token.
const MAX_TOKEN_LEN: usize = 13;

#[derive(Debug)]
pub struct HarmonySplitter {
    buffer: String,
    state: State,
    arguments: String,
}

impl Default for HarmonySplitter {
    fn default() -> Self {
        Self {
            buffer: String::new(),
            state: State::Body(Channel::Text),
            arguments: String::new(),
        }
    }
}

/// Whether a text carries Harmony markup worth splitting.
pub fn has_markup(text: &str) -> bool {
    text.contains("<|channel|>") || text.contains("<|message|>") || text.contains("<|start|>")
}

/// Splits a whole text.
pub fn split(text: &str) -> Vec<Piece> {
    let mut splitter = HarmonySplitter::default();
    let mut pieces = splitter.push(text);
    pieces.extend(splitter.finish());
    merge_neighbours(pieces)
}

impl HarmonySplitter {
    /// Feeds content; returns the pieces that are certain now.
    pub fn push(&mut self, delta: &str) -> Vec<Piece> {
        self.buffer.push_str(delta);
        let mut out = Vec::new();
        self.drain(&mut out, false);
        out
    }

    /// End of content: whatever is held back is handed out as it stands.
    pub fn finish(&mut self) -> Vec<Piece> {
        let mut out = Vec::new();
        self.drain(&mut out, true);
        match std::mem::replace(&mut self.state, State::Body(Channel::Text)) {
            State::Body(channel) => {
                let rest = std::mem::take(&mut self.buffer);
                self.emit(&channel, &rest, &mut out);
                self.end_message(&channel, &mut out);
            }
            // A header that never reached `<|message|>` carries nothing to show.
            State::Header(_) => self.buffer.clear(),
        }
        out
    }

    fn drain(&mut self, out: &mut Vec<Piece>, at_end: bool) {
        loop {
            let Some(start) = self.buffer.find("<|") else {
                // Hold a trailing `<`: it may begin a token.
                let keep = if !at_end && self.buffer.ends_with('<') {
                    1
                } else {
                    0
                };
                let cut = self.buffer.len() - keep;
                let head: String = self.buffer.drain(..cut).collect();
                if let State::Body(channel) = self.state.clone() {
                    self.emit(&channel, &head, out);
                } else if let State::Header(header) = &mut self.state {
                    header.push_str(&head);
                }
                return;
            };
            let head: String = self.buffer.drain(..start).collect();
            match self.state.clone() {
                State::Body(channel) => self.emit(&channel, &head, out),
                State::Header(mut header) => {
                    header.push_str(&head);
                    self.state = State::Header(header);
                }
            }
            let Some(end) = self.buffer[2..].find("|>").map(|i| i + 4) else {
                if at_end || self.buffer.len() > MAX_TOKEN_LEN {
                    self.literal(2, out);
                    continue;
                }
                return;
            };
            if end > MAX_TOKEN_LEN {
                self.literal(2, out);
                continue;
            }
            let token: String = self.buffer.drain(..end).collect();
            self.token(&token, out);
        }
    }

    /// `<|` that is not a token: plain content.
    fn literal(&mut self, len: usize, out: &mut Vec<Piece>) {
        let text: String = self.buffer.drain(..len).collect();
        match self.state.clone() {
            State::Body(channel) => self.emit(&channel, &text, out),
            State::Header(mut header) => {
                header.push_str(&text);
                self.state = State::Header(header);
            }
        }
    }

    fn token(&mut self, token: &str, out: &mut Vec<Piece>) {
        match (self.state.clone(), token) {
            (State::Body(channel), "<|end|>" | "<|return|>" | "<|call|>") => {
                self.end_message(&channel, out);
                self.state = State::Body(Channel::Text);
            }
            (State::Body(channel), "<|start|>") => {
                self.end_message(&channel, out);
                self.state = State::Header(String::new());
            }
            (State::Body(channel), "<|channel|>") => {
                self.end_message(&channel, out);
                self.state = State::Header(" channel=".to_string());
            }
            (State::Body(_), "<|message|>" | "<|constrain|>") => {}
            (State::Body(channel), other) => self.emit(&channel, other, out),
            (State::Header(header), "<|message|>") => {
                self.state = State::Body(channel_of(&header));
            }
            (State::Header(mut header), "<|channel|>") => {
                header.push_str(" channel=");
                self.state = State::Header(header);
            }
            (State::Header(mut header), _) => {
                header.push(' ');
                self.state = State::Header(header);
            }
        }
    }

    fn emit(&mut self, channel: &Channel, text: &str, out: &mut Vec<Piece>) {
        if text.is_empty() {
            return;
        }
        match channel {
            Channel::Reasoning => out.push(Piece::Reasoning(text.to_string())),
            Channel::Text => out.push(Piece::Text(text.to_string())),
            Channel::Call(_) => self.arguments.push_str(text),
        }
    }

    fn end_message(&mut self, channel: &Channel, out: &mut Vec<Piece>) {
        if let Channel::Call(name) = channel {
            let arguments = std::mem::take(&mut self.arguments);
            out.push(Piece::ToolCall {
                name: name.clone(),
                arguments: arguments.trim().to_string(),
            });
        }
    }
}

/// Reads a header such as `assistant channel=commentary to=functions.shell  json`.
fn channel_of(header: &str) -> Channel {
    let mut channel = "";
    let mut recipient = None;
    for word in header.split_whitespace() {
        if let Some(name) = word.strip_prefix("channel=") {
            channel = name;
        } else if let Some(to) = word.strip_prefix("to=") {
            recipient = Some(to);
        }
    }
    // `channel=commentary` may come as `channel=` + `commentary` when the recipient
    // follows the channel name directly.
    if channel.is_empty()
        && let Some(after) = header.split("channel=").nth(1)
    {
        channel = after.split_whitespace().next().unwrap_or("");
    }
    match recipient {
        Some(to) if to != "user" && to != "all" => Channel::Call(
            to.strip_prefix("functions.")
                .unwrap_or(to)
                .trim_end_matches(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
                .to_string(),
        ),
        _ if channel == "analysis" => Channel::Reasoning,
        _ => Channel::Text,
    }
}

fn merge_neighbours(pieces: Vec<Piece>) -> Vec<Piece> {
    let mut out: Vec<Piece> = Vec::new();
    for piece in pieces {
        match (out.last_mut(), piece) {
            (Some(Piece::Reasoning(a)), Piece::Reasoning(b)) => a.push_str(&b),
            (Some(Piece::Text(a)), Piece::Text(b)) => a.push_str(&b),
            (_, piece) => out.push(piece),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    const ANSWER: &str = "<|channel|>analysis<|message|>User says \"test\".<|start|>assistant<|channel|>final<|message|>Got it!";

    #[test]
    fn analysis_is_reasoning_and_final_is_text() {
        assert_eq!(
            split(ANSWER),
            vec![
                Piece::Reasoning("User says \"test\".".into()),
                Piece::Text("Got it!".into())
            ]
        );
    }

    #[test]
    fn commentary_to_a_function_is_a_tool_call() {
        let text = "<|channel|>analysis<|message|>Need ls.<|end|><|start|>assistant<|channel|>commentary to=functions.shell <|constrain|>json<|message|>{\"command\":[\"ls\"]}<|call|>";
        assert_eq!(
            split(text),
            vec![
                Piece::Reasoning("Need ls.".into()),
                Piece::ToolCall {
                    name: "shell".into(),
                    arguments: "{\"command\":[\"ls\"]}".into()
                }
            ]
        );
        // Recipient in the role part of the header.
        let text =
            "<|start|>assistant to=functions.shell<|channel|>commentary json<|message|>{}<|call|>";
        assert_eq!(
            split(text),
            vec![Piece::ToolCall {
                name: "shell".into(),
                arguments: "{}".into()
            }]
        );
    }

    #[test]
    fn any_split_of_the_stream_gives_the_same_pieces() {
        let text = "<|channel|>analysis<|message|>a<b <|x|> c<|end|><|start|>assistant<|channel|>commentary to=functions.f<|message|>{\"k\":1}<|call|><|start|>assistant<|channel|>final<|message|>done <| not markup";
        let whole = split(text);
        assert_eq!(
            whole,
            vec![
                Piece::Reasoning("a<b <|x|> c".into()),
                Piece::ToolCall {
                    name: "f".into(),
                    arguments: "{\"k\":1}".into()
                },
                Piece::Text("done <| not markup".into())
            ]
        );
        let chars: Vec<char> = text.chars().collect();
        for size in 1..8 {
            let mut splitter = HarmonySplitter::default();
            let mut pieces = Vec::new();
            for chunk in chars.chunks(size) {
                pieces.extend(splitter.push(&chunk.iter().collect::<String>()));
            }
            pieces.extend(splitter.finish());
            assert_eq!(merge_neighbours(pieces), whole, "chunks of {size}");
        }
    }

    #[test]
    fn markup_is_never_handed_out_as_text() {
        let mut splitter = HarmonySplitter::default();
        let mut shown = String::new();
        for delta in ["<|chan", "nel|>ana", "lysis<|mess", "age|>x<", "|end|>"] {
            for piece in splitter.push(delta) {
                if let Piece::Text(text) = piece {
                    shown.push_str(&text);
                }
            }
        }
        assert_eq!(shown, "");
    }

    #[test]
    fn plain_text_passes_through() {
        assert_eq!(split("just text"), vec![Piece::Text("just text".into())]);
        assert!(!has_markup("just text"));
        assert!(has_markup(ANSWER));
    }
}
