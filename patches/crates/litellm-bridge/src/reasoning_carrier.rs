//! Carries structured reasoning (`reasoning_details`, with provider signatures) through
//! Codex in a reasoning item's `encrypted_content`, which Codex stores and sends back
//! verbatim. Plain reasoning text rides in the item's `reasoning_text` content instead.

use serde_json::Value;

const PREFIX: &str = "codex-litellm.reasoning_details.v1:";

pub fn encode_details(details: &Value) -> String {
    format!("{PREFIX}{details}")
}

/// `None` for anything we did not write (e.g. real OpenAI encrypted reasoning).
pub fn decode_details(encrypted_content: &str) -> Option<Value> {
    let json = encrypted_content.strip_prefix(PREFIX)?;
    serde_json::from_str(json).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trip_and_foreign_content() {
        let details = json!([{"type": "reasoning.text", "text": "x", "signature": "sig"}]);
        assert_eq!(decode_details(&encode_details(&details)), Some(details));
        assert_eq!(decode_details("gAAAAB-opaque-openai-blob"), None);
    }
}
