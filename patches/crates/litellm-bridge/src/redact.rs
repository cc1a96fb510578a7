//! Credential removal, one set of rules for everything codex-litellm writes or shows:
//! telemetry records (everything on disk goes through [`redact_json`]; raw upstream bytes
//! through [`redact_raw`] first) and the failure messages handed to Codex and the user.
//!
//! Four layers, each conservative (a false positive costs a little readability, a false
//! negative leaks a key):
//! - by name: values of object keys / headers that name a credential ([`is_secret_name`]);
//! - by shape: bearer tokens, `sk-…` style keys, JWTs and other well-known key formats in
//!   any string;
//! - in URLs: user info and key-like query parameters;
//! - first of all, literally: the key values in use ([`register_secret`]: the provider's
//!   configured key, whatever shape it has) are replaced wherever they appear.

use regex_lite::Regex;
use serde_json::Value;
use std::sync::LazyLock;
use std::sync::PoisonError;
use std::sync::RwLock;

/// What a removed value is replaced with.
pub const REDACTED: &str = "[REDACTED]";

pub use crate::bridge::is_secret_name;

/// The one rule for query parameters, wherever a URL is shown or written: a secret name
/// ([`is_secret_name`]), or `code` (Azure Functions host keys, OAuth codes).
pub fn is_secret_query_name(name: &str) -> bool {
    is_secret_name(name) || name.eq_ignore_ascii_case("code")
}

/// `?name=value` / `&name=value` in any text; the value goes when [`is_secret_query_name`].
static QUERY_PARAM: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"([?&;])([A-Za-z0-9_.\-]+)=([^&\s#'\x22<>]+)").ok());

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
        // "…key…": "value" inside text that is JSON but was not parsed (cut raw bodies,
        // strings that hold JSON such as tool-call arguments)
        (
            r#"(?i)("[^"\\]{0,64}(?:key|secret|password|passwd|token|auth|cookie|credential)[^"\\]{0,64}"\s*:\s*)"(?:[^"\\]|\\.)*""#,
            r#"${1}"[REDACTED]""#,
        ),
        // ... and one level down: "api_key": {"value": "..."}
        (
            r#"(?i)("[^"\\]{0,64}(?:key|secret|password|passwd|token|auth|cookie|credential)[^"\\]{0,64}"\s*:\s*\{\s*"[a-z_]{1,32}"\s*:\s*)"(?:[^"\\]|\\.)*""#,
            r#"${1}"[REDACTED]""#,
        ),
    ];
    let mut out: Vec<(String, &'static str)> = fixed
        .iter()
        .map(|(pattern, replacement)| (pattern.to_string(), *replacement))
        .collect();
    // Shapes error texts echo keys in; before the by-name rules, which would only take
    // the first word of a multi-part value.
    let echoed: &[(&str, &'static str)] = &[
        // PEM private keys, whole (or to the end of a cut text)
        (
            r"(?s)-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)",
            "[REDACTED PRIVATE KEY]",
        ),
        // Authorization schemes with parameters (Digest, AWS4, NTLM ...): the rest of the line
        (
            r"(?i)\b((?:proxy-)?authorization\x22?\s*[:=]\s*\x22?)(?:digest|negotiate|ntlm|aws4-hmac-sha256|hmac|signature)\b[^\n]*",
            "${1}[REDACTED]",
        ),
        // Headers as name/value pairs: ["Authorization", "Basic ..."]
        (
            r#"(?i)("[a-z0-9_\-]*(?:authorization|api[-_]?key|token|secret|password|passwd|cookie|credential)[a-z0-9_\-]*"\s*,\s*)"(?:[^"\\]|\\.)*""#,
            r#"${1}"[REDACTED]""#,
        ),
        // Error texts that echo the key: "Incorrect API key provided: lk-...",
        // "Invalid API key: 0123...", "token: ...", "secret = ..."
        (
            r"(?i)\b((?:api[ _\-]?key|token|secret|password|passwd|credentials?)(?:\s+(?:provided|is|was|given|used|sent|value))?\s*[:=]\s*)[\x22']?[^\s\x22',;&]+[\x22']?",
            "${1}[REDACTED]",
        ),
        // Environment-style settings: OPENAI_KEY=..., DB_PASS=..., *_TOKEN=...
        (
            r"\b([A-Z][A-Z0-9_]*_(?:KEY|PASS|PASSWORD|PWD|TOKEN|SECRET)[A-Z0-9_]*)(\s*[:=]\s*)[^\s,;&]+",
            "${1}${2}[REDACTED]",
        ),
        // AWS secret access keys next to their name
        (
            r"(?i)(aws.{0,30}?secret.{0,30}?[:=]\s*[\x22']?)[A-Za-z0-9/+=]{40}",
            "${1}[REDACTED]",
        ),
    ];
    out.extend(
        echoed
            .iter()
            .map(|(pattern, replacement)| (pattern.to_string(), *replacement)),
    );
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
            r"(?i)\b({SECRET_WORDS})(\x22?\s*[:=]\s*)(?:(?:bearer|basic|token)\s+)?[^\s,;&'\x22{{\[]+"
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
        (r"\bglpat-[A-Za-z0-9_\-]{20,}", "[REDACTED]"),
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

/// Key values in use, replaced literally wherever they appear.
static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Shorter values are not replaced literally (they would blank out ordinary words); the
/// patterns still apply to them.
const MIN_LITERAL_SECRET: usize = 8;

/// Remembers a key value in use (the provider's API key, an `env_key` value, a token), so
/// that it is replaced wherever it appears, before anything is written or shown.
pub fn register_secret(value: &str) {
    let value = value.trim();
    if value.len() < MIN_LITERAL_SECRET {
        return;
    }
    let mut secrets = SECRETS.write().unwrap_or_else(PoisonError::into_inner);
    if !secrets.iter().any(|known| known == value) {
        secrets.push(value.to_string());
        // Longest first, so a key that contains another is replaced whole.
        secrets.sort_by_key(|known| std::cmp::Reverse(known.len()));
    }
}

/// Removes credentials from free text (messages, error texts, URLs, raw bytes).
pub fn redact_text(text: &str) -> String {
    let mut out = text.to_string();
    for secret in SECRETS
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
    {
        if out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), REDACTED);
        }
    }
    if let Some(query) = QUERY_PARAM.as_ref()
        && query.is_match(&out)
    {
        out = query
            .replace_all(&out, |caps: &regex_lite::Captures<'_>| {
                let (separator, name) = (&caps[1], &caps[2]);
                if is_secret_query_name(name) {
                    format!("{separator}{name}={REDACTED}")
                } else {
                    caps[0].to_string()
                }
            })
            .into_owned();
    }
    for (regex, replacement) in COMPILED.iter() {
        if regex.is_match(&out) {
            out = regex.replace_all(&out, *replacement).into_owned();
        }
    }
    out
}

/// A URL fit to show: no user info, `name=***` for every query parameter
/// [`is_secret_query_name`] names, and no registered key anywhere (a key in the path).
pub fn redact_url(url: &str) -> String {
    let (before_query, query) = match url.split_once('?') {
        Some((before, query)) => (before, Some(query)),
        None => (url, None),
    };
    let mut out = match before_query.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.find('/').map_or((rest, ""), |i| rest.split_at(i));
            let host = authority
                .rsplit_once('@')
                .map_or(authority, |(_, host)| host);
            format!("{scheme}://{host}{path}")
        }
        None => before_query.to_string(),
    };
    if let Some(query) = query {
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((name, _)) if is_secret_query_name(name) => format!("{name}=***"),
                _ => pair.to_string(),
            })
            .collect();
        out.push('?');
        out.push_str(&pairs.join("&"));
    }
    for secret in SECRETS
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
    {
        if out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), REDACTED);
        }
    }
    out
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
        Value::Array(items) => {
            if !redact_pair(items) {
                items.iter_mut().for_each(redact_json);
            }
        }
        Value::String(text) => {
            let clean = redact_text(text);
            if clean != *text {
                *text = clean;
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// Keys of a JSON schema: under a secret-named key they describe the secret (a tool's
/// `"api_key": {"type": "string"}`) and stay readable.
const SCHEMA_KEYS: [&str; 10] = [
    "type",
    "description",
    "title",
    "format",
    "pattern",
    "properties",
    "items",
    "required",
    "minLength",
    "maxLength",
];

/// Under a secret-named key: strings and numbers go, arrays are emptied of them, objects
/// lose theirs too (`{"api_key": {"value": ...}}`) except schema keywords.
fn redact_scalars(value: &mut Value) {
    match value {
        Value::String(_) | Value::Number(_) => *value = Value::String(REDACTED.to_string()),
        Value::Array(items) => items.iter_mut().for_each(redact_scalars),
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                if SCHEMA_KEYS.contains(&key.as_str()) {
                    redact_json(child);
                } else {
                    redact_scalars(child);
                }
            }
        }
        Value::Null | Value::Bool(_) => {}
    }
}

/// `[["Authorization", "Basic ..."], ...]`: a name/value pair whose name is a secret name.
fn redact_pair(items: &mut [Value]) -> bool {
    match items {
        [Value::String(name), value] if is_secret_name(name) => {
            redact_scalars(value);
            true
        }
        _ => false,
    }
}

/// Raw upstream bytes: one JSON document, or SSE whose `data:` lines are JSON, are redacted
/// structurally (then as text); anything else as text.
pub fn redact_raw(raw: &str) -> String {
    // Private keys span lines: removed from the whole text before it is split.
    let whole_text_done;
    let raw = if raw.contains("PRIVATE KEY-----") {
        whole_text_done = redact_text(raw);
        whole_text_done.as_str()
    } else {
        raw
    };
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
pub(crate) mod tests {
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
                "Incorrect API key provided: [REDACTED]",
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

    /// Every shape a backend is known to echo a credential in, with the secret part. Used by
    /// the telemetry tests (every level) and the user-message test too.
    pub const ECHOED_SHAPES: &[(&str, &str)] = &[
        (
            "Incorrect API key provided: lk-9f8e7d6c5b4a3921. You can find your key",
            "lk-9f8e7d6c5b4a3921",
        ),
        (
            "Invalid API key: 0123456789abcdef0123",
            "0123456789abcdef0123",
        ),
        ("token: tkn_Zq81LmWx0pRt", "tkn_Zq81LmWx0pRt"),
        ("env has OPENAI_KEY=opk-77Hh22Jj", "opk-77Hh22Jj"),
        ("MY_SERVICE_KEY=abc123def456", "abc123def456"),
        ("DB_PASS=hunter2hunter2", "hunter2hunter2"),
        (
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7bq9Q\n-----END RSA PRIVATE KEY-----",
            "MIIEowIBAAKCAQEA7bq9Q",
        ),
        (
            "cut: -----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0B",
            "MIIEvQIBADANBgkqhkiG9w0B",
        ),
        (
            "Authorization: Digest username=\"bob\", realm=\"x\", response=\"6629fae49393a05397450978507c4ef1\"",
            "6629fae49393a05397450978507c4ef1",
        ),
        (
            r#"headers: [["Authorization","Basic Ym9iOnNlY3JldHB3"]]"#,
            "Ym9iOnNlY3JldHB3",
        ),
        (
            r#"{"api_key": {"value": "vk-Secret-4455"}}"#,
            "vk-Secret-4455",
        ),
        (
            "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        ),
        (
            "gitlab says glpat-AbCdEfGhIjKlMnOpQrSt12",
            "glpat-AbCdEfGhIjKlMnOpQrSt12",
        ),
        (
            "redirect to https://h/cb?code=oauthCode9911&state=x",
            "oauthCode9911",
        ),
        ("Bearer eyJabc.def", "eyJabc.def"),
    ];

    #[test]
    fn echoed_shapes_are_redacted() {
        for (text, secret) in ECHOED_SHAPES {
            let clean = redact_text(text);
            assert!(!clean.contains(secret), "{text:?} -> {clean:?}");
            let mut value =
                serde_json::from_str::<Value>(text).unwrap_or_else(|_| json!({"message": text}));
            redact_json(&mut value);
            assert!(!value.to_string().contains(secret), "{text:?} -> {value}");
            assert!(!redact_raw(text).contains(secret), "{text:?} raw");
        }
        // Readable text stays readable.
        for text in [
            "max tokens: 4096",
            "the model used 120 tokens",
            "commit 3ba0f711642a888aec92a611a3f3b2211157ff89",
            "code review: looks good",
        ] {
            assert_eq!(redact_text(text), text);
        }
    }

    /// Issue 22 (2): one rule for query secrets, in text and in URLs shown.
    #[test]
    fn query_secrets_follow_one_rule_in_text_and_in_urls() {
        for name in [
            "code",
            "CODE",
            "api_key",
            "sig",
            "X-Amz-Signature",
            "access_token",
        ] {
            assert!(is_secret_query_name(name), "{name}");
        }
        for name in ["max_tokens", "api-version", "state", "codec"] {
            assert!(!is_secret_query_name(name), "{name}");
        }
        let url = "https://bob:pw@fn.azurewebsites.net/api/v1/chat/completions?code=AzFnHostKey_x81&api-version=2024-06-01&max_tokens=5";
        assert_eq!(
            redact_url(url),
            "https://fn.azurewebsites.net/api/v1/chat/completions?code=***&api-version=2024-06-01&max_tokens=5"
        );
        assert_eq!(
            redact_text(&format!("POST {url} failed")),
            "POST https://[REDACTED]@fn.azurewebsites.net/api/v1/chat/completions?code=[REDACTED]&api-version=2024-06-01&max_tokens=5 failed"
        );
    }

    #[test]
    fn registered_values_are_replaced_literally_whatever_their_shape() {
        let key = "plainKEYvalue-no-known-shape-31337";
        assert!(redact_text(&format!("echo {key} back")).contains(key));
        register_secret(key);
        register_secret("short");
        assert_eq!(
            redact_text(&format!("echo {key} back")),
            "echo [REDACTED] back"
        );
        assert_eq!(redact_text("a short word"), "a short word");
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
