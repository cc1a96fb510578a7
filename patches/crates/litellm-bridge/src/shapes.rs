//! The shapes a message's `content` and reasoning fields take on real backends, read into
//! plain text and reasoning. Pure.
//!
//! - `content` as a string, or as an array of parts: `{"type": "text", "text"}`, parts
//!   without `type`, bare strings, and reasoning parts inside it (Mistral's
//!   `{"type": "thinking", "thinking": [{"type": "text", "text"}]}`).
//! - `reasoning` / `reasoning_content` as a string, or as an object (`{"text"}`,
//!   `{"content"}`, `{"summary"}`) or an array of such.

use serde_json::Value;

/// Text and reasoning carried by a `content` value.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ContentText {
    pub text: String,
    pub reasoning: String,
}

/// Reads `content`: a string, or an array of text and reasoning parts. Parts that carry
/// neither (images, audio, annotations) are skipped.
pub fn content_text(content: Option<&Value>) -> ContentText {
    let mut out = ContentText::default();
    match content {
        Some(Value::String(text)) => out.text.push_str(text),
        Some(Value::Array(parts)) => {
            for part in parts {
                read_part(part, &mut out);
            }
        }
        Some(Value::Object(_)) => {
            if let Some(part) = content {
                read_part(part, &mut out);
            }
        }
        _ => {}
    }
    out
}

fn read_part(part: &Value, out: &mut ContentText) {
    let object = match part {
        Value::String(text) => {
            out.text.push_str(text);
            return;
        }
        Value::Object(object) => object,
        _ => return,
    };
    match object.get("type").and_then(Value::as_str) {
        Some("thinking" | "reasoning" | "reasoning_text" | "summary_text") => {
            let inner = object
                .get("thinking")
                .or_else(|| object.get("reasoning"))
                .or_else(|| object.get("text"))
                .or_else(|| object.get("content"))
                .or_else(|| object.get("summary"));
            if let Some(text) = inner.and_then(reasoning_text) {
                out.reasoning.push_str(&text);
            }
        }
        // Text parts, with or without a type.
        Some("text" | "output_text") | None => {
            if let Some(text) = object.get("text").and_then(Value::as_str) {
                out.text.push_str(text);
            }
        }
        Some(_) => {}
    }
}

/// Reads a reasoning field: a string, an object holding the text (`text`, `content`,
/// `thinking`, `summary`), or an array of those. `None` when it holds no text.
pub fn reasoning_text(value: &Value) -> Option<String> {
    let text = match value {
        Value::String(text) => text.clone(),
        Value::Array(items) => items.iter().filter_map(reasoning_text).collect(),
        Value::Object(object) => ["text", "content", "thinking", "summary", "reasoning"]
            .iter()
            .find_map(|key| object.get(*key).and_then(reasoning_text))?,
        _ => return None,
    };
    (!text.is_empty()).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    fn read(content: Value) -> (String, String) {
        let out = content_text(Some(&content));
        (out.text, out.reasoning)
    }

    #[test]
    fn content_shapes_table() {
        let cases = [
            ("plain string", json!("hi"), ("hi", "")),
            (
                "typed text parts",
                json!([{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]),
                ("ab", ""),
            ),
            (
                "parts without type",
                json!([{"text": "a"}, {"text": "b"}]),
                ("ab", ""),
            ),
            ("bare strings", json!(["a", "b"]), ("ab", "")),
            (
                "mistral thinking part then text",
                json!([{"type": "thinking", "thinking": [{"type": "text", "text": "plan"}], "closed": true}, {"type": "text", "text": "4"}]),
                ("4", "plan"),
            ),
            (
                "thinking as a string",
                json!([{"type": "thinking", "thinking": "plan"}]),
                ("", "plan"),
            ),
            (
                "images and unknown parts are skipped",
                json!([{"type": "image_url", "image_url": {"url": "x"}}, {"type": "text", "text": "t"}]),
                ("t", ""),
            ),
            ("null", Value::Null, ("", "")),
        ];
        for (description, content, (text, reasoning)) in cases {
            assert_eq!(
                read(content),
                (text.to_string(), reasoning.to_string()),
                "{description}"
            );
        }
    }

    #[test]
    fn reasoning_shapes_table() {
        let cases = [
            (json!("plan"), Some("plan")),
            (json!({"text": "plan"}), Some("plan")),
            (json!({"content": "plan"}), Some("plan")),
            (
                json!({"content": [{"type": "text", "text": "plan"}]}),
                Some("plan"),
            ),
            (json!([{"text": "a"}, {"text": "b"}]), Some("ab")),
            (json!(""), None),
            (json!({"signature": "sig"}), None),
            (Value::Null, None),
        ];
        for (value, expected) in cases {
            assert_eq!(reasoning_text(&value).as_deref(), expected, "{value}");
        }
    }
}
