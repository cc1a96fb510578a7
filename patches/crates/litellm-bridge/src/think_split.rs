//! `<think>…</think>` at the start of streamed content, split as it arrives. Pure and
//! incremental: only what can no longer turn out to be part of a tag is handed out.

use crate::harmony::Piece;

const OPEN: &str = "<think>";
const CLOSE: &str = "</think>";

#[derive(Debug, Default, PartialEq, Eq)]
enum State {
    /// Nothing but whitespace (or the start of `<think>`) seen yet.
    #[default]
    Start,
    Thinking,
    /// Just after `</think>`: the blank lines before the answer are dropped.
    AfterThink,
    Text,
}

#[derive(Debug, Default)]
pub struct ThinkSplitter {
    buffer: String,
    state: State,
}

impl ThinkSplitter {
    pub fn push(&mut self, delta: &str) -> Vec<Piece> {
        self.buffer.push_str(delta);
        let mut out = Vec::new();
        loop {
            match self.state {
                State::Start => {
                    let trimmed = self.buffer.trim_start();
                    if let Some(rest) = trimmed.strip_prefix(OPEN) {
                        self.buffer = rest.to_string();
                        self.state = State::Thinking;
                    } else if OPEN.starts_with(trimmed) {
                        return out; // maybe the tag, still arriving
                    } else {
                        self.state = State::Text;
                    }
                }
                State::Thinking => {
                    if let Some(end) = self.buffer.find(CLOSE) {
                        let thought: String = self.buffer.drain(..end).collect();
                        self.buffer.drain(..CLOSE.len());
                        push(&mut out, Piece::Reasoning(thought));
                        self.state = State::AfterThink;
                        continue;
                    }
                    let keep = partial_suffix(&self.buffer, CLOSE);
                    let cut = self.buffer.len() - keep;
                    let thought: String = self.buffer.drain(..cut).collect();
                    push(&mut out, Piece::Reasoning(thought));
                    return out;
                }
                State::AfterThink => {
                    self.buffer = self.buffer.trim_start().to_string();
                    if self.buffer.is_empty() {
                        return out;
                    }
                    self.state = State::Text;
                }
                State::Text => {
                    let text = std::mem::take(&mut self.buffer);
                    push(&mut out, Piece::Text(text));
                    return out;
                }
            }
        }
    }

    /// End of content: what is held back goes out as it stands (an unclosed block is
    /// reasoning: the answer was cut off while thinking).
    pub fn finish(&mut self) -> Vec<Piece> {
        let rest = std::mem::take(&mut self.buffer);
        let mut out = Vec::new();
        match self.state {
            State::Thinking => push(&mut out, Piece::Reasoning(rest)),
            State::Start | State::AfterThink | State::Text => push(&mut out, Piece::Text(rest)),
        }
        out
    }
}

fn push(out: &mut Vec<Piece>, piece: Piece) {
    match &piece {
        Piece::Reasoning(text) | Piece::Text(text) if text.is_empty() => {}
        _ => out.push(piece),
    }
}

/// Length of the longest end of `text` that is a start of `tag`.
fn partial_suffix(text: &str, tag: &str) -> usize {
    (1..tag.len().min(text.len() + 1))
        .rev()
        .find(|&n| {
            text.is_char_boundary(text.len() - n) && tag.starts_with(&text[text.len() - n..])
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn split_in(text: &str, size: usize) -> (String, String) {
        let chars: Vec<char> = text.chars().collect();
        let mut splitter = ThinkSplitter::default();
        let mut pieces = Vec::new();
        for chunk in chars.chunks(size) {
            pieces.extend(splitter.push(&chunk.iter().collect::<String>()));
        }
        pieces.extend(splitter.finish());
        let (mut reasoning, mut answer) = (String::new(), String::new());
        for piece in pieces {
            match piece {
                Piece::Reasoning(t) => reasoning.push_str(&t),
                Piece::Text(t) => answer.push_str(&t),
                Piece::ToolCall { .. } => {}
            }
        }
        (reasoning, answer)
    }

    #[test]
    fn any_split_gives_the_same_reasoning_and_text() {
        for size in 1..10 {
            assert_eq!(
                split_in("\n<think>\nplan </thin it</think>\n\nThe answer.", size),
                ("\nplan </thin it".to_string(), "The answer.".to_string()),
                "size {size}"
            );
            assert_eq!(
                split_in("No tags, but <think> later.", size),
                (String::new(), "No tags, but <think> later.".to_string())
            );
            assert_eq!(
                split_in("<think>cut off while thin", size),
                ("cut off while thin".to_string(), String::new())
            );
        }
    }
}
