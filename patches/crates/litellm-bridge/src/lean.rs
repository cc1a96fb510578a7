//! Reads upstream's encoded Responses body without copying the history's big texts.
//!
//! Upstream keeps its encoded request while the turn runs. A big text the translation only
//! moves around (a user message's text or image, a tool's output, before the current turn)
//! is parsed as a short reference to its place in those bytes instead of as a `String`;
//! [`crate::encoded::EncodedBody`] writes the referenced bytes back in when it serializes the
//! chat body, as shared slices of upstream's buffer. The current turn is parsed in full, as
//! the loop guard reads its outputs.

use bytes::Bytes;
use serde::Deserialize;
use serde_json::Map;
use serde_json::Value;
use serde_json::value::RawValue;
use std::collections::BTreeMap;

/// Texts at least this long (as JSON) are referenced rather than copied.
pub const MIN_SPLICE: usize = 64 * 1024;

/// Where referenced texts live, and how a reference is spelled.
#[derive(Debug, Clone)]
pub struct Splices {
    base: Bytes,
    /// `\u{1}codex-litellm-ref-<nonce>:`; a reference is `<marker><start>:<end>\u{1}`,
    /// the range of the JSON string's escaped text (without its quotes) in `base`.
    marker: String,
}

impl Splices {
    fn new(base: Bytes) -> Self {
        let nonce: u64 = rand::random();
        Self {
            base,
            marker: format!("\u{1}codex-litellm-ref-{nonce:016x}:"),
        }
    }

    fn reference(&self, raw: &RawValue) -> Option<Value> {
        let text = raw.get();
        let start = (text.as_ptr() as usize).checked_sub(self.base.as_ptr() as usize)?;
        let end = start + text.len();
        (text.starts_with('"') && end <= self.base.len())
            .then(|| Value::String(format!("{}{}:{}\u{1}", self.marker, start + 1, end - 1)))
    }

    /// Splits `text` into literal parts and referenced escaped bytes, in order; `None` when
    /// it holds no reference.
    pub(crate) fn segments<'a>(&self, text: &'a str) -> Option<Vec<Segment<'a>>> {
        if !text.contains(&self.marker) {
            return None;
        }
        let mut out = Vec::new();
        let mut rest = text;
        while let Some(at) = rest.find(&self.marker) {
            let after = &rest[at + self.marker.len()..];
            let parsed = after.split_once('\u{1}').and_then(|(range, tail)| {
                let (start, end) = range.split_once(':')?;
                let (start, end) = (start.parse::<usize>().ok()?, end.parse::<usize>().ok()?);
                (start <= end && end <= self.base.len())
                    .then(|| (self.base.slice(start..end), tail))
            });
            match parsed {
                Some((escaped, tail)) => {
                    if at > 0 {
                        out.push(Segment::Text(&rest[..at]));
                    }
                    out.push(Segment::Escaped(escaped));
                    rest = tail;
                }
                None => {
                    // Not one of ours after all: literal text up to past the marker.
                    let end = at + self.marker.len();
                    out.push(Segment::Text(&rest[..end]));
                    rest = &rest[end..];
                }
            }
        }
        if !rest.is_empty() {
            out.push(Segment::Text(rest));
        }
        Some(out)
    }
}

pub(crate) enum Segment<'a> {
    Text(&'a str),
    /// JSON-escaped text, written as is between the string's quotes.
    Escaped(Bytes),
}

/// Parses `bytes` like `serde_json::from_slice`, but with the big texts described above
/// as references into `bytes`.
pub fn parse(bytes: &Bytes, min_splice: usize) -> Result<(Value, Splices), serde_json::Error> {
    let splices = Splices::new(bytes.clone());
    let top: BTreeMap<String, &RawValue> = match serde_json::from_slice(bytes) {
        Ok(top) => top,
        // Not an object: nothing to reference.
        Err(_) => return serde_json::from_slice(bytes).map(|value| (value, splices)),
    };
    let mut body = Map::new();
    for (key, raw) in top {
        let value = match key.as_str() {
            "input" if raw.get().starts_with('[') => {
                let items: Vec<&RawValue> = serde_json::from_str(raw.get())?;
                Value::Array(parse_items(&items, &splices, min_splice)?)
            }
            _ => full(raw)?,
        };
        body.insert(key, value);
    }
    Ok((Value::Object(body), splices))
}

fn full(raw: &RawValue) -> Result<Value, serde_json::Error> {
    serde_json::from_str(raw.get())
}

#[derive(Deserialize)]
struct Peek<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    role: Option<std::borrow::Cow<'a, str>>,
}

/// Whether the item is a user message: the current turn starts after the last one
/// (`codex_litellm_guards::loop_guard::current_turn`).
fn is_user_message(raw: &RawValue) -> Result<bool, serde_json::Error> {
    let (kind, role) = match serde_json::from_str::<Peek>(raw.get()) {
        Ok(peek) => (
            peek.kind.map(std::borrow::Cow::into_owned),
            peek.role.map(std::borrow::Cow::into_owned),
        ),
        // Fields of another type, repeated keys, not an object: read it as a Value does.
        Err(_) => {
            let value = full(raw)?;
            let text = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_string);
            (text("type"), text("role"))
        }
    };
    Ok(role.as_deref() == Some("user") && kind.as_deref().is_none_or(|k| k == "message"))
}

fn parse_items(
    items: &[&RawValue],
    splices: &Splices,
    min_splice: usize,
) -> Result<Vec<Value>, serde_json::Error> {
    let mut current_turn = 0;
    for (index, raw) in items.iter().enumerate() {
        if is_user_message(raw)? {
            current_turn = index + 1;
        }
    }
    items
        .iter()
        .enumerate()
        .map(|(index, raw)| {
            if index < current_turn && raw.get().len() >= min_splice {
                parse_item(raw, splices, min_splice)
            } else {
                full(raw)
            }
        })
        .collect()
}

/// One item of the history before the current turn.
fn parse_item(
    raw: &RawValue,
    splices: &Splices,
    min_splice: usize,
) -> Result<Value, serde_json::Error> {
    let Ok(fields) = serde_json::from_str::<BTreeMap<String, &RawValue>>(raw.get()) else {
        return full(raw);
    };
    let text = |key: &str| -> Result<Option<String>, serde_json::Error> {
        Ok(match fields.get(key) {
            Some(raw) => full(raw)?.as_str().map(str::to_string),
            None => None,
        })
    };
    let (kind, role) = (text("type")?, text("role")?);
    let message = kind
        .as_deref()
        .unwrap_or(if role.is_some() { "message" } else { "" });
    let big = |raw: &RawValue| raw.get().len() >= min_splice && raw.get().starts_with('"');
    let mut item = Map::new();
    for (key, raw) in &fields {
        let value = match (message, key.as_str()) {
            // Assistant text is read (an interrupted answer is recognised by its end).
            ("message", "content") if role.as_deref() != Some("assistant") => {
                if big(raw) {
                    splices.reference(raw).map_or_else(|| full(raw), Ok)?
                } else if raw.get().starts_with('[') {
                    let parts: Vec<&RawValue> = serde_json::from_str(raw.get())?;
                    let parts = parts
                        .iter()
                        .map(|part| parse_part(part, splices, min_splice))
                        .collect::<Result<Vec<_>, _>>()?;
                    Value::Array(parts)
                } else {
                    full(raw)?
                }
            }
            (
                "function_call_output" | "custom_tool_call_output" | "local_shell_call_output",
                "output",
            ) if big(raw) => splices.reference(raw).map_or_else(|| full(raw), Ok)?,
            _ => full(raw)?,
        };
        item.insert(key.clone(), value);
    }
    Ok(Value::Object(item))
}

/// A content part: its `text` (or an image's `image_url`) may be referenced.
fn parse_part(
    raw: &RawValue,
    splices: &Splices,
    min_splice: usize,
) -> Result<Value, serde_json::Error> {
    if raw.get().len() < min_splice {
        return full(raw);
    }
    let Ok(fields) = serde_json::from_str::<BTreeMap<String, &RawValue>>(raw.get()) else {
        return full(raw);
    };
    let mut part = Map::new();
    for (key, raw) in fields {
        let value = if matches!(key.as_str(), "text" | "image_url")
            && raw.get().len() >= min_splice
            && raw.get().starts_with('"')
        {
            splices.reference(raw).map_or_else(|| full(raw), Ok)?
        } else {
            full(raw)?
        };
        part.insert(key, value);
    }
    Ok(Value::Object(part))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::encoded::EncodedBody;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    fn reference(splices: &Splices, value: &Value) -> bool {
        value
            .as_str()
            .is_some_and(|text| text.starts_with(&splices.marker))
    }

    #[test]
    fn only_movable_texts_before_the_current_turn_are_referenced() {
        let big = "line \"one\"\n".repeat(10);
        let body = json!({
            "model": "m",
            "instructions": big,
            "input": [
                {"type": "message", "role": "user", "content": [{"type": "input_text", "text": big}, {"type": "input_image", "image_url": big}]},
                {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": big}]},
                {"type": "function_call", "call_id": "a", "name": "shell", "arguments": big},
                {"type": "function_call_output", "call_id": "a", "output": big},
                {"type": "message", "role": "user", "content": big},
                {"type": "function_call_output", "call_id": "b", "output": big},
            ]
        });
        let bytes = Bytes::from(serde_json::to_vec(&body).unwrap());
        let (lean, splices) = parse(&bytes, 64).unwrap();
        let input = &lean["input"];
        assert!(reference(&splices, &input[0]["content"][0]["text"]));
        assert!(reference(&splices, &input[0]["content"][1]["image_url"]));
        assert!(reference(&splices, &input[3]["output"]));
        assert!(reference(&splices, &input[4]["content"]));
        // Read by the translation or the loop guard: parsed as they are.
        assert_eq!(input[1], body["input"][1], "assistant text");
        assert_eq!(input[2], body["input"][2], "call arguments");
        assert_eq!(input[5], body["input"][5], "the current turn");
        assert_eq!(lean["instructions"], body["instructions"]);
        // Written back, the texts are the original ones.
        let mut messages = Map::new();
        messages.insert("messages".into(), lean["input"].clone());
        let encoded = EncodedBody::encode_owned(Value::Object(messages), Some(&splices)).unwrap();
        assert_eq!(encoded.decode().unwrap()["messages"], body["input"]);
    }

    #[test]
    fn text_that_looks_like_a_reference_stays_text() {
        let bytes = Bytes::from_static(b"{}");
        let (_, splices) = parse(&bytes, 64).unwrap();
        let other = Splices::new(bytes);
        for text in [
            format!("{}0:1\u{1}", other.marker),
            format!("a{}9:99999\u{1}b", splices.marker),
            splices.marker.clone(),
        ] {
            let mut messages = Map::new();
            messages.insert("messages".into(), json!([{"content": text}]));
            let encoded =
                EncodedBody::encode_owned(Value::Object(messages), Some(&splices)).unwrap();
            assert_eq!(
                encoded.decode().unwrap()["messages"][0]["content"],
                json!(text)
            );
        }
    }
}
