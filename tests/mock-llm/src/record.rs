//! What the mock remembers about each request it received.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::Serialize;
use serde_json::Value;

/// Headers whose values are secrets: recorded as `***` (an auth scheme such as `Bearer ` is
/// kept), so a recording shows that the header was sent but never what it held.
pub const REDACTED_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "api-key",
    "x-api-key",
];

/// The placeholder a secret header value is replaced with.
pub const REDACTED: &str = "***";

/// Which part of the scenario answered a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ServedBy {
    /// `responses[index]` of the scenario.
    Entry { index: usize },
    /// The scenario's fallback (no unconsumed entry matched).
    Fallback,
    /// The built-in `GET /v1/models` handler.
    Models,
    /// `routes[index]` of the scenario.
    Route { index: usize },
    /// A chat request refused by `context_limit`.
    ContextLimit,
    /// A path the mock does not serve (404).
    NotFound,
    /// A request the mock could not parse (400).
    BadRequest,
}

/// One request as received (secrets redacted).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedRequest {
    /// 0-based arrival order.
    pub seq: usize,
    pub method: String,
    /// Path without the query string.
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// Header names lower-cased; repeated headers joined with `, `.
    pub headers: BTreeMap<String, String>,
    /// The body parsed as JSON, or (when it is not JSON) the body as (lossy UTF-8) text.
    pub body: Value,
    /// Whether `body` is the parsed JSON body (false: it is the text of a non-JSON body).
    pub body_is_json: bool,
    /// Body length in bytes.
    pub body_len: usize,
    /// Wall-clock time the request head arrived, milliseconds since the Unix epoch.
    pub received_unix_ms: u64,
    /// Milliseconds between server start and the arrival of the request head.
    pub elapsed_ms: u64,
    pub served_by: ServedBy,
}

impl RecordedRequest {
    /// Header value by (case-insensitive) name. Secret headers read `***` / `Bearer ***`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    /// The JSON body, if the body was JSON.
    pub fn json(&self) -> Option<&Value> {
        self.body_is_json.then_some(&self.body)
    }

    /// Whether the request asked for a stream (`"stream": true`).
    pub fn is_stream(&self) -> bool {
        self.json()
            .and_then(|b| b.get("stream"))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }
}

/// Auth schemes kept in front of a redacted value (anything else is redacted whole).
const AUTH_SCHEMES: &[&str] = &["bearer", "basic", "token", "digest", "apikey"];

/// Redacts a secret header value: `Bearer sk-123` -> `Bearer ***`, `sk-123` -> `***`.
pub fn redact_header_value(name: &str, value: &str) -> String {
    if !REDACTED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
        return value.to_string();
    }
    match value.trim().split_once(' ') {
        Some((scheme, _)) if AUTH_SCHEMES.contains(&scheme.to_ascii_lowercase().as_str()) => {
            format!("{scheme} {REDACTED}")
        }
        _ => REDACTED.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_keeps_scheme_only() {
        assert_eq!(
            redact_header_value("Authorization", "Bearer sk-abc"),
            "Bearer ***"
        );
        assert_eq!(redact_header_value("api-key", "sk-abc"), "***");
        assert_eq!(redact_header_value("authorization", "sk abc def"), "***");
        assert_eq!(redact_header_value("x-api-key", "Basic abc"), "Basic ***");
        assert_eq!(redact_header_value("authorization", ""), "***");
        assert_eq!(redact_header_value("content-type", "a/b"), "a/b");
    }
}
