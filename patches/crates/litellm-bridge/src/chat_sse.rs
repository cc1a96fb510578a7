//! Incremental parser for a Chat Completions SSE body. Tolerates what real servers send:
//! CRLF, comment keep-alives (`: PROCESSING`), `event:` lines, `data:` without a space,
//! and `data:` lines with no blank line between them.

use crate::fault::Fault;
use crate::json_shape::JsonShape;
use crate::json_shape::Parsed;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub enum SseItem {
    /// A parsed `data:` JSON payload.
    Json(Value),
    /// `data: [DONE]`.
    Done,
}

#[derive(Debug, Default)]
pub struct ChatSseParser {
    line: Vec<u8>,
    /// The current event's `data:` lines, joined with `\n`.
    data: String,
    /// Whether the current event has a `data:` line (it may be empty).
    has_data: bool,
    /// Completeness of `data`, kept up to date line by line (linear, not re-parsed).
    shape: JsonShape,
    event_name: Option<String>,
    /// Bytes consumed so far (for fault positions).
    offset: u64,
    /// Offset where the current event's data started.
    data_start: u64,
}

impl ChatSseParser {
    pub fn bytes_seen(&self) -> u64 {
        self.offset
    }

    /// Feeds bytes; returns the complete items found in them.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<Vec<SseItem>, Fault> {
        let mut items = Vec::new();
        let mut rest = bytes;
        while let Some(end) = rest.iter().position(|&b| b == b'\n') {
            self.line.extend_from_slice(&rest[..end]);
            rest = &rest[end + 1..];
            self.offset += end as u64 + 1;
            let mut line = std::mem::take(&mut self.line);
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            let line_start = self.offset - line.len() as u64 - 1;
            let text = String::from_utf8(line).map_err(|err| Fault::InvalidUtf8 {
                at_byte: line_start + err.utf8_error().valid_up_to() as u64,
            })?;
            self.line_complete(&text, line_start, &mut items)?;
        }
        self.line.extend_from_slice(rest);
        self.offset += rest.len() as u64;
        Ok(items)
    }

    /// End of body: dispatches a final event that had no trailing blank line. A final
    /// event whose JSON stops short (the connection closed in the middle of it) is a
    /// stream cut, not malformed data.
    pub fn finish(&mut self) -> Result<Vec<SseItem>, Fault> {
        let mut items = Vec::new();
        if !self.line.is_empty() {
            let line = std::mem::take(&mut self.line);
            let line_start = self.offset - line.len() as u64;
            let text = String::from_utf8(line).map_err(|err| Fault::InvalidUtf8 {
                at_byte: line_start + err.utf8_error().valid_up_to() as u64,
            })?;
            self.line_complete(&text, line_start, &mut items)?;
        }
        if self.has_data && self.pending_is_cut_short() {
            self.clear_data();
            return Err(Fault::StreamCut {
                at_byte: self.offset,
                detail: "connection closed in the middle of an event".to_string(),
            });
        }
        self.dispatch(&mut items)?;
        Ok(items)
    }

    fn line_complete(
        &mut self,
        line: &str,
        line_start: u64,
        items: &mut Vec<SseItem>,
    ) -> Result<(), Fault> {
        if line.is_empty() {
            return self.dispatch(items);
        }
        if line.starts_with(':') {
            return Ok(());
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "data" => {
                // Servers that omit the blank line: a new data line after a complete JSON
                // payload starts a new event.
                if self.has_data && self.shape.is_complete(&self.data) {
                    self.dispatch(items)?;
                }
                if self.has_data {
                    self.data.push('\n');
                    self.shape.push("\n");
                } else {
                    self.data_start = line_start;
                    self.has_data = true;
                }
                self.data.push_str(value);
                self.shape.push(value);
            }
            "event" => self.event_name = Some(value.to_string()),
            _ => {}
        }
        Ok(())
    }

    /// The pending data is the start of a JSON document that never ended (checked once,
    /// at the end of the body).
    fn pending_is_cut_short(&self) -> bool {
        let trimmed = self.data.trim();
        trimmed.starts_with(['{', '['])
            && serde_json::from_str::<Value>(trimmed).is_err_and(|err| err.is_eof())
    }

    fn clear_data(&mut self) -> (String, Option<Parsed>) {
        let parsed = self.shape.take_parsed();
        self.has_data = false;
        self.shape = JsonShape::default();
        (std::mem::take(&mut self.data), parsed)
    }

    fn dispatch(&mut self, items: &mut Vec<SseItem>) -> Result<(), Fault> {
        let event_name = self.event_name.take();
        if !self.has_data {
            return Ok(());
        }
        let (payload, parsed) = self.clear_data();
        let payload = payload.trim();
        if payload.is_empty() {
            return Ok(());
        }
        let parsed = match parsed {
            Some(Parsed::Json(value)) => Ok(value),
            Some(Parsed::Done) => {
                items.push(SseItem::Done);
                return Ok(());
            }
            Some(Parsed::Invalid) | None => {
                if payload == "[DONE]" {
                    items.push(SseItem::Done);
                    return Ok(());
                }
                serde_json::from_str::<Value>(payload)
            }
        };
        match parsed {
            Ok(mut value) => {
                if event_name.as_deref() == Some("error") && value.get("error").is_none() {
                    value = serde_json::json!({"error": value});
                }
                items.push(SseItem::Json(value));
                Ok(())
            }
            Err(err) => Err(Fault::MalformedChunk {
                at_byte: self.data_start,
                detail: format!("{err}: {}", crate::fault::shorten(payload, 120)),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    fn parse_all(input: &[u8], split: usize) -> Result<Vec<SseItem>, Fault> {
        let mut parser = ChatSseParser::default();
        let mut items = Vec::new();
        for piece in input.chunks(split.max(1)) {
            items.extend(parser.feed(piece)?);
        }
        items.extend(parser.finish()?);
        Ok(items)
    }

    #[test]
    fn tolerates_real_world_framing_at_any_split() {
        let input = b": PROCESSING\r\n\r\ndata:{\"a\":1}\r\n\r\nevent: message\ndata: {\"b\":\ndata: 2}\n\ndata: {\"c\":3}\ndata: {\"d\":4}\ndata: [DONE]";
        for split in 1..input.len() {
            let items = parse_all(input, split);
            assert_eq!(
                items,
                Ok(vec![
                    SseItem::Json(json!({"a": 1})),
                    SseItem::Json(json!({"b": 2})),
                    SseItem::Json(json!({"c": 3})),
                    SseItem::Json(json!({"d": 4})),
                    SseItem::Done,
                ]),
                "split {split}"
            );
        }
    }

    #[test]
    fn faults_carry_byte_positions() {
        assert_eq!(
            parse_all(b"data: {\"a\":1}\n\ndata: {nope}\n\n", 4),
            Err(Fault::MalformedChunk {
                at_byte: 15,
                detail: "key must be a string at line 1 column 2: {nope}".into()
            })
        );
        let mut bytes = b"data: {\"a\":\"".to_vec();
        bytes.extend([0xff, 0xfe]);
        bytes.extend(b"\"}\n\n");
        assert_eq!(
            parse_all(&bytes, 3),
            Err(Fault::InvalidUtf8 { at_byte: 12 })
        );
    }

    #[test]
    fn an_event_cut_short_at_the_end_of_the_body_is_a_stream_cut() {
        let body = b"data: {\"a\":1}\n\ndata: {\"choices\":[{\"delta\":{\"content\":\"hel";
        for split in 1..body.len() {
            assert_eq!(
                parse_all(body, split),
                Err(Fault::StreamCut {
                    at_byte: body.len() as u64,
                    detail: "connection closed in the middle of an event".into()
                }),
                "split {split}"
            );
        }
        // Cut right after the complete JSON but before the blank line: nothing is lost.
        assert_eq!(
            parse_all(b"data: {\"a\":1}\n\ndata: {\"b\":2}", 3),
            Ok(vec![
                SseItem::Json(json!({"a": 1})),
                SseItem::Json(json!({"b": 2}))
            ])
        );
        // Data that is not cut JSON but plain junk stays malformed.
        assert_eq!(
            parse_all(b"data: {\"a\":1}\n\ndata: nope", 3),
            Err(Fault::MalformedChunk {
                at_byte: 15,
                detail: "expected ident at line 1 column 2: nope".into()
            })
        );
    }

    /// An event split over 40,000 data: lines (one JSON value) parses to that value; the
    /// quadratic parser took 6.2 s (release) on this input inside one feed() call.
    #[test]
    fn a_large_multi_line_event_parses_in_one_pass() {
        let items: Vec<String> = (0..40_000).map(|i| format!("{i},")).collect();
        let mut body = String::from("data: {\"pad\": [\n");
        for item in &items {
            body.push_str("data: ");
            body.push_str(item);
            body.push('\n');
        }
        body.push_str("data: 0]}\n\ndata: [DONE]\n\n");
        let parsed = parse_all(body.as_bytes(), 64 * 1024);
        let Ok(parsed) = parsed else {
            panic!("{parsed:?}");
        };
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[1], SseItem::Done);
        let SseItem::Json(value) = &parsed[0] else {
            panic!("{parsed:?}");
        };
        assert_eq!(value["pad"].as_array().map(Vec::len), Some(40_001));
    }

    #[test]
    fn error_event_is_wrapped_as_error_object() {
        assert_eq!(
            parse_all(b"event: error\ndata: {\"message\":\"boom\"}\n\n", 100),
            Ok(vec![SseItem::Json(json!({"error": {"message": "boom"}}))])
        );
    }
}
