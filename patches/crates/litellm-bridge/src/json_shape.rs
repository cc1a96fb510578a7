//! Tells, in time linear in the text, whether a JSON document that arrives in pieces is
//! complete yet. Re-parsing the whole text after every piece is quadratic: an event split
//! over many `data:` lines, or tool-call arguments streamed in many fragments, would cost
//! seconds of CPU inside one read. Pure.
//!
//! The scan only follows brackets, strings and escapes; the text is parsed for real once,
//! when its top-level value has ended. Once a value has ended, any further non-blank text
//! makes the document invalid for good (JSON allows nothing after the value).

use serde_json::Value;

#[derive(Debug, Default)]
pub struct JsonShape {
    /// Bytes scanned so far.
    len: usize,
    /// First non-blank byte: `{`/`[` container, `"` string, anything else a bare token.
    first: Option<u8>,
    /// Where the top-level value starts.
    start: usize,
    depth: usize,
    in_string: bool,
    escaped: bool,
    ended: bool,
    /// Non-blank text after the value ended.
    trailing: bool,
    parsed: Option<Parsed>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    Json(Value),
    /// The SSE end marker `[DONE]`, which scans like an array but is not JSON.
    Done,
    Invalid,
}

impl JsonShape {
    /// Scans the next piece of the text (the caller keeps the text itself).
    pub fn push(&mut self, piece: &str) {
        let base = self.len;
        self.len += piece.len();
        if self.trailing {
            return;
        }
        for (offset, byte) in piece.bytes().enumerate() {
            if self.ended {
                if !byte.is_ascii_whitespace() {
                    self.trailing = true;
                    return;
                }
                continue;
            }
            let Some(first) = self.first else {
                if byte.is_ascii_whitespace() {
                    continue;
                }
                self.first = Some(byte);
                self.start = base + offset;
                match byte {
                    b'{' | b'[' => self.depth = 1,
                    b'"' => self.in_string = true,
                    _ => {}
                }
                continue;
            };
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                } else if byte == b'\\' {
                    self.escaped = true;
                } else if byte == b'"' {
                    self.in_string = false;
                    if first == b'"' {
                        self.ended = true;
                    }
                }
                continue;
            }
            match first {
                b'{' | b'[' => match byte {
                    b'"' => self.in_string = true,
                    b'{' | b'[' => self.depth += 1,
                    b'}' | b']' => {
                        self.depth = self.depth.saturating_sub(1);
                        if self.depth == 0 {
                            self.ended = true;
                        }
                    }
                    _ => {}
                },
                // A bare token (number, true, null, ...) ends at the first blank.
                _ => {
                    if byte.is_ascii_whitespace() {
                        self.ended = true;
                    }
                }
            }
        }
    }

    /// Whether `text` (everything pushed so far) is one complete JSON value or `[DONE]`.
    /// Parses at most once per ended value, plus the current bare token if one is open.
    pub fn is_complete(&mut self, text: &str) -> bool {
        !matches!(self.parse(text), Parsed::Invalid)
    }

    /// The parsed document when [`JsonShape::is_complete`]; `Invalid` otherwise.
    pub fn parse(&mut self, text: &str) -> Parsed {
        if self.trailing || self.first.is_none() {
            return Parsed::Invalid;
        }
        if !self.ended {
            // A bare token still open at the end of the text: it can be complete as is
            // (`5`). Containers and strings that have not ended cannot.
            if matches!(self.first, Some(b'{' | b'[' | b'"')) {
                return Parsed::Invalid;
            }
            return parse_text(text.get(self.start..).unwrap_or_default());
        }
        if let Some(parsed) = &self.parsed {
            return parsed.clone();
        }
        let parsed = parse_text(text.get(self.start..).unwrap_or_default());
        self.parsed = Some(parsed.clone());
        parsed
    }

    /// Takes the cached parse (for the one caller that dispatches the value).
    pub fn take_parsed(&mut self) -> Option<Parsed> {
        if self.trailing {
            return None;
        }
        self.parsed.take()
    }
}

fn parse_text(text: &str) -> Parsed {
    let trimmed = text.trim();
    if trimmed == "[DONE]" {
        return Parsed::Done;
    }
    match serde_json::from_str::<Value>(trimmed) {
        Ok(value) => Parsed::Json(value),
        Err(_) => Parsed::Invalid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn complete_after_each_split(text: &str) -> Vec<bool> {
        (0..=text.len())
            .filter(|&split| text.is_char_boundary(split))
            .map(|split| {
                let mut shape = JsonShape::default();
                shape.push(&text[..split]);
                shape.push(&text[split..]);
                shape.is_complete(text)
            })
            .collect()
    }

    /// Agrees with a full parse on every text of a table, whatever the split.
    #[test]
    fn agrees_with_a_full_parse() {
        for text in [
            "",
            "  ",
            "{}",
            " {\"a\": [1, {\"b\": \"}]\\\"\"}]} ",
            "{\"a\":1}{",
            "{\"a\":1} x",
            "{\"a\":",
            "{]",
            "[DONE]",
            " [DONE] ",
            "[DONE",
            "5",
            "5 6",
            "true",
            "tru",
            "\"str\"",
            "\"str",
            "\"a\\\"b\"",
            "nope",
            "{\"é\": \"ü\"}",
        ] {
            let full =
                text.trim() == "[DONE]" || serde_json::from_str::<Value>(text.trim()).is_ok();
            for (split, got) in complete_after_each_split(text).into_iter().enumerate() {
                assert_eq!(got, full, "{text:?} split {split}");
            }
        }
    }

    #[test]
    fn a_value_followed_by_more_text_stays_incomplete() {
        let mut shape = JsonShape::default();
        let mut text = String::new();
        for piece in ["{\"a\":", "1}", "\n", "{\"b\":2}"] {
            text.push_str(piece);
            shape.push(piece);
        }
        assert!(!shape.is_complete(&text));
    }
}
