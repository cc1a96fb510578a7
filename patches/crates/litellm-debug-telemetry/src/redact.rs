//! Credential removal. Everything the writer puts on disk goes through [`redact_json`]
//! first; raw upstream bytes go through [`redact_raw`] before that.
//!
//! Three layers, each conservative (a false positive costs a little readability, a false
//! negative leaks a key):
//! - by name: values of object keys / headers that name a credential ([`is_secret_name`]);
//! - by shape: bearer tokens, `sk-…` style keys, JWTs and other well-known key formats in
//!   any string;
//! - in URLs: user info and key-like query parameters.

use regex_lite::Regex;
use serde_json::Value;
use std::sync::LazyLock;

/// What a removed value is replaced with.
pub const REDACTED: &str = "[REDACTED]";

pub use codex_litellm_bridge::is_secret_name;

/// Names of settings and headers that hold credentials, as written in text
/// (`x-api-key`, `OPENAI_API_KEY`, `proxy-authorization`, `client_secret`, `set-cookie`).
const SECRET_WORDS: &str = r"[a-z0-9_\-]*(?:authorization|api[-_]?key|(?:access|refresh|auth|id|bearer|session|api)[-_]?token|secret|password|passwd|cookie)[a-z0-9_\-]*";

/// (pattern, replacement) pairs applied to every string, in order.
fn patterns() -> Vec<(String, &'static str)> {
    let fixed: &[(&str, &'static str)] = &[
        // user:password@ in URLs
        (
            r"(?i)\b([a-z][a-z0-9+.\-]*://)[^\s/?#@'\x22<>]+@",
            "${1}[REDACTED]@",
        ),
        // key-like query parameters (?api_key=..., &access_token=..., &sig=...)
        (
            r"(?i)([?&;][a-z0-9_.\-]*(?:key|token|secret|auth|sig|password|credential)[a-z0-9_.\-]*=)[^&\s#'\x22<>]+",
            "${1}[REDACTED]",
        ),
        // "…key…": "value" inside text that is JSON but was not parsed (cut raw bodies,
        // strings that hold JSON such as tool-call arguments)
        (
            r#"(?i)("[^"\\]{0,64}(?:key|secret|password|passwd|token|auth|cookie|credential)[^"\\]{0,64}"\s*:\s*)"(?:[^"\\]|\\.)*""#,
            r#"${1}"[REDACTED]""#,
        ),
    ];
    let mut out: Vec<(String, &'static str)> = fixed
        .iter()
        .map(|(pattern, replacement)| (pattern.to_string(), *replacement))
        .collect();
    // Settings and headers written as text: `x-api-key: …`, `OPENAI_API_KEY=…`,
    // `password='…'`, `Authorization: Bearer …` (scheme included).
    out.push((
        format!(r"(?i)\b({SECRET_WORDS})(\x22?\s*[:=]\s*)\x22[^\x22]*\x22"),
        r#"${1}${2}"[REDACTED]""#,
    ));
    out.push((
        format!(r"(?i)\b({SECRET_WORDS})(\x22?\s*[:=]\s*)'[^']*'"),
        "${1}${2}'[REDACTED]'",
    ));
    out.push((
        format!(
            r"(?i)\b({SECRET_WORDS})(\x22?\s*[:=]\s*)(?:(?:bearer|basic|token)\s+)?[^\s,;&'\x22]+"
        ),
        "${1}${2}[REDACTED]",
    ));
    let by_shape: &[(&str, &'static str)] = &[
        // Bearer <token>
        (r"(?i)\b(bearer)\s+[a-z0-9._~+/\-]{6,}=*", "${1} [REDACTED]"),
        // JWTs
        (
            r"\beyJ[A-Za-z0-9_\-]{6,}\.[A-Za-z0-9_\-]{6,}\.[A-Za-z0-9_\-]*",
            "[REDACTED]",
        ),
        // OpenAI / Anthropic / DeepSeek / LiteLLM virtual keys (sk-…, sk-proj-…, sk-ant-…)
        (r"\bsk-[A-Za-z0-9_\-]{8,}", "sk-[REDACTED]"),
        // Stripe-style, Google, GitHub, AWS, Hugging Face, Groq, xAI, Slack
        (r"\b[sr]k_(?:live|test)_[A-Za-z0-9]{8,}", "[REDACTED]"),
        (r"\bAIza[0-9A-Za-z_\-]{30,}", "[REDACTED]"),
        (r"\bgh[pousr]_[A-Za-z0-9]{20,}", "[REDACTED]"),
        (r"\bgithub_pat_[A-Za-z0-9_]{20,}", "[REDACTED]"),
        (r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b", "[REDACTED]"),
        (r"\bhf_[A-Za-z0-9]{20,}", "[REDACTED]"),
        (r"\bgsk_[A-Za-z0-9]{20,}", "[REDACTED]"),
        (r"\bxai-[A-Za-z0-9]{20,}", "[REDACTED]"),
        (r"\bxox[abposr]-[A-Za-z0-9\-]{10,}", "[REDACTED]"),
    ];
    out.extend(
        by_shape
            .iter()
            .map(|(pattern, replacement)| (pattern.to_string(), *replacement)),
    );
    out
}

static COMPILED: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    patterns()
        .iter()
        .filter_map(|(pattern, replacement)| {
            Regex::new(pattern).ok().map(|regex| (regex, *replacement))
        })
        .collect()
});

/// Removes credentials from free text (messages, error texts, URLs, raw bytes).
pub fn redact_text(text: &str) -> String {
    let mut out = text.to_string();
    for (regex, replacement) in COMPILED.iter() {
        if regex.is_match(&out) {
            out = regex.replace_all(&out, *replacement).into_owned();
        }
    }
    out
}

/// Removes credentials from a URL (user info, key-like query parameters).
pub fn redact_url(url: &str) -> String {
    redact_text(url)
}

/// Redacts a JSON value in place: values of secret-named keys, and every string.
pub fn redact_json(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                if is_secret_name(key) {
                    redact_scalars(child);
                } else {
                    redact_json(child);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_json),
        Value::String(text) => {
            let clean = redact_text(text);
            if clean != *text {
                *text = clean;
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// Under a secret-named key: strings and numbers go, arrays are emptied of them, objects are
/// searched normally (so a tool schema's `"api_key": {"type": "string"}` stays readable).
fn redact_scalars(value: &mut Value) {
    match value {
        Value::String(_) | Value::Number(_) => *value = Value::String(REDACTED.to_string()),
        Value::Array(items) => items.iter_mut().for_each(redact_scalars),
        Value::Object(_) => redact_json(value),
        Value::Null | Value::Bool(_) => {}
    }
}

/// Raw upstream bytes: one JSON document, or SSE whose `data:` lines are JSON, are redacted
/// structurally (then as text); anything else as text.
pub fn redact_raw(raw: &str) -> String {
    if let Ok(mut value) = serde_json::from_str::<Value>(raw) {
        redact_json(&mut value);
        return value.to_string();
    }
    let mut out = String::with_capacity(raw.len());
    for (i, line) in raw.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let payload = line.strip_prefix("data:").map(str::trim);
        match payload.and_then(|p| serde_json::from_str::<Value>(p).ok()) {
            Some(mut value) => {
                redact_json(&mut value);
                out.push_str("data: ");
                out.push_str(&value.to_string());
            }
            None => out.push_str(&redact_text(line)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    #[test]
    fn every_pattern_compiles() {
        for (pattern, _) in patterns() {
            assert!(Regex::new(&pattern).is_ok(), "{pattern}");
        }
        assert_eq!(COMPILED.len(), patterns().len());
    }

    #[test]
    fn secret_names() {
        for name in [
            "authorization",
            "Proxy-Authorization",
            "api-key",
            "x-api-key",
            "api_key",
            "apiKey",
            "access_token",
            "token",
            "client_secret",
            "set-cookie",
            "password",
            "x-goog-api-key",
        ] {
            assert!(is_secret_name(name), "{name}");
        }
        for name in [
            "max_tokens",
            "input_tokens",
            "total_tokens",
            "x-ratelimit-remaining-tokens",
            "content",
            "model",
            "retry-after",
            "x-request-id",
        ] {
            assert!(!is_secret_name(name), "{name}");
        }
    }

    #[test]
    fn text_patterns() {
        let cases = [
            (
                "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJl",
                "Authorization: [REDACTED]",
            ),
            (
                "use Bearer abcdef123456 please",
                "use Bearer [REDACTED] please",
            ),
            (
                "Incorrect API key provided: sk-proj-AbCdEf1234567890xyz.",
                "Incorrect API key provided: sk-[REDACTED].",
            ),
            (
                "https://bob:hunter2@gw.example.com/v1/chat/completions?api_key=abc123&api-version=2024",
                "https://[REDACTED]@gw.example.com/v1/chat/completions?api_key=[REDACTED]&api-version=2024",
            ),
            (
                r#"{"api_key": "plain-secret-value", "max_tokens": 10}"#,
                r#"{"api_key": "[REDACTED]", "max_tokens": 10}"#,
            ),
            ("LITELLM_API_KEY=lk-12345", "LITELLM_API_KEY=[REDACTED]"),
            ("x-api-key: abc", "x-api-key: [REDACTED]"),
            (
                "key AKIAIOSFODNN7EXAMPLE and ghp_abcdefghijklmnopqrstuvwxyz0123",
                "key [REDACTED] and [REDACTED]",
            ),
            (
                "nothing secret here: 4096 max tokens",
                "nothing secret here: 4096 max tokens",
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(redact_text(input), expected, "{input}");
        }
    }

    #[test]
    fn json_by_key_and_by_shape() {
        let mut value = json!({
            "model": "qwen3-coder",
            "max_tokens": 4096,
            "api_key": "sk-proj-abcdefghijklmnop",
            "metadata": {"token": 12345, "note": "Bearer abcdefghijkl"},
            "keys": ["one-secret", "two-secret"],
            "tools": [{"function": {"parameters": {"properties": {"api_key": {"type": "string"}}}}}],
            "usage": {"input_tokens": 10},
            "enabled": true,
        });
        redact_json(&mut value);
        assert_eq!(
            value,
            json!({
                "model": "qwen3-coder",
                "max_tokens": 4096,
                "api_key": "[REDACTED]",
                "metadata": {"token": "[REDACTED]", "note": "Bearer [REDACTED]"},
                "keys": ["[REDACTED]", "[REDACTED]"],
                "tools": [{"function": {"parameters": {"properties": {"api_key": {"type": "string"}}}}}],
                "usage": {"input_tokens": 10},
                "enabled": true,
            })
        );
    }

    #[test]
    fn raw_sse_and_cut_json() {
        let sse = "data: {\"choices\":[],\"api_key\":\"zzz-top-secret\"}\n\ndata: [DONE]\n";
        let clean = redact_raw(sse);
        assert!(!clean.contains("zzz-top-secret"), "{clean}");
        assert!(clean.contains("data: [DONE]"));
        let cut = "{\"error\": {\"message\": \"bad\", \"api_key\": \"zzz-top-secret\", \"x\": [1,";
        let clean = redact_raw(cut);
        assert!(!clean.contains("zzz-top-secret"), "{clean}");
    }
}
