//! Checks 3 to 11: small requests to the chosen chat provider, built and read by the bridge
//! (the same translation and the same fault classification as a real turn).

use crate::CATEGORIES;
use crate::Options;
use crate::Row;
use crate::Status;
use crate::Target;
use codex_litellm_bridge::BridgeOptions;
use codex_litellm_bridge::ChatAnswer;
use codex_litellm_bridge::Fault;
use codex_litellm_bridge::fetch::fetch_once;
use codex_litellm_bridge::postprocess::RecoveredCall;
use codex_litellm_bridge::postprocess::postprocess;
use codex_litellm_bridge::redact::redact_text;
use codex_litellm_bridge::redact::register_secret;
use codex_litellm_bridge::redact_url;
use codex_litellm_bridge::translate_request;
use http::HeaderMap;
use http::HeaderName;
use http::HeaderValue;
use serde_json::Value;
use serde_json::json;
use std::time::Duration;
use std::time::Instant;

const PROBE_TOOL: &str = "get_weather";

/// Runs the probes in order; after a failure that makes the rest meaningless (unreachable,
/// key refused, model not served, no completion) the remaining rows are skipped.
pub async fn probe_rows(target: &Target, options: &Options) -> Vec<Row> {
    // The bridge redacts what it shortens (error texts, the answer's text): with the
    // secrets registered, an echoed key is removed whole before any cut.
    for secret in target.secrets() {
        register_secret(&secret);
    }
    let client = options.client.clone().unwrap_or_else(|| {
        reqwest::Client::builder()
            .connect_timeout(options.timeout)
            .build()
            .unwrap_or_default()
    });
    let probe = Probe {
        client,
        target,
        headers: headers(target),
        timeout: options.timeout,
    };
    let mut rows = Vec::new();
    let stop = |rows: &mut Vec<Row>, reason: &str| {
        let next = CATEGORIES.get(2 + rows.len()).copied().unwrap_or("");
        rows.extend(
            CATEGORIES
                .iter()
                .skip_while(|c| **c != next)
                .map(|c| Row::skipped(c, reason)),
        );
    };

    // 3. Reachable.
    let models = probe.get(&probe.url("models")).await;
    let (models_status, models_body) = match models {
        Err(err) => {
            rows.push(unreachable_row(target, &err));
            stop(&mut rows, "the base URL is unreachable");
            return rows;
        }
        Ok((status, body, elapsed)) => {
            if status == 404 {
                if let Some(fixed) = probe.v1_suggestion().await {
                    rows.push(
                        Row::new(
                            "chat reach",
                            Status::Fail,
                            format!(
                                "{} answers 404 but {fixed}/models answers: the base URL lacks its API path",
                                redact_url(&target.base_url)
                            ),
                        )
                        .detail(format!("GET {}: HTTP 404", probe.shown_url("models")))
                        .fix(format!(
                            "set base_url to {} for provider {}",
                            redact_url(&fixed),
                            target.provider_id
                        )),
                    );
                    stop(&mut rows, "the base URL path is wrong");
                    return rows;
                }
                rows.push(
                    Row::new(
                        "chat reach",
                        Status::Warning,
                        format!(
                            "{} is reachable but has no /models route (HTTP 404)",
                            redact_url(&target.base_url)
                        ),
                    )
                    .fix("check the base URL ends with the API root (often /v1); the next checks tell whether chat works there"),
                );
            } else {
                let status_kind = if (500..600).contains(&status) {
                    Status::Warning
                } else {
                    Status::Ok
                };
                rows.push(
                    Row::new(
                        "chat reach",
                        status_kind,
                        format!(
                            "{} reachable: GET /models answered HTTP {status} in {} ms",
                            redact_url(&target.base_url),
                            elapsed.as_millis()
                        ),
                    )
                    .detail(target.proxy.detail()),
                );
            }
            (status, body)
        }
    };

    // 4. Key (the /models answer may already tell).
    let key_name = target
        .api_key_env
        .clone()
        .unwrap_or_else(|| format!("the key of provider {}", target.provider_id));
    let placeholder_key = target
        .api_key
        .as_deref()
        .is_some_and(crate::is_placeholder_key);
    if target.api_key.is_none()
        && let Some(env) = &target.api_key_env
    {
        rows.push(
            Row::new(
                "chat auth",
                Status::Fail,
                format!("{env} is not set: Codex refuses to send requests without it"),
            )
            .fix(format!(
                "export {env}=... (any non-empty value if the backend has no auth)"
            )),
        );
        stop(&mut rows, "no key");
        return rows;
    }
    if matches!(models_status, 401 | 403) {
        rows.push(auth_refused(
            models_status,
            &error_text(&models_body),
            &key_name,
            placeholder_key,
        ));
        stop(&mut rows, "the key was refused");
        return rows;
    }

    // 5. Model listed?
    let served = served_models(&models_body);
    let listed = served
        .as_ref()
        .map(|ids| ids.iter().any(|id| id == &target.model));
    let auth_and_model_rows = |rows: &mut Vec<Row>, answered_model: Option<&str>| {
        rows.push(match &target.api_key {
            Some(key) if crate::is_placeholder_key(key) => Row::new(
                "chat auth",
                Status::Ok,
                format!("{key_name} accepted; it looks like a placeholder (short or well known), so this report does not hide it"),
            ),
            Some(_) => Row::new("chat auth", Status::Ok, format!("{key_name} accepted")),
            None => Row::new(
                "chat auth",
                Status::Ok,
                "no key configured; the backend answered",
            ),
        });
        rows.push(match (&served, listed) {
            (Some(ids), Some(true)) => Row::new(
                "chat model",
                Status::Ok,
                format!("{} is served ({} models listed)", target.model, ids.len()),
            ),
            _ => Row::new(
                "chat model",
                Status::Ok,
                format!(
                    "{} answered{} (not in a /models list)",
                    target.model,
                    answered_model
                        .filter(|m| *m != target.model)
                        .map(|m| format!(" as {}", redact_text(m)))
                        .unwrap_or_default()
                ),
            ),
        });
    };
    if let (Some(ids), Some(false)) = (&served, listed) {
        rows.push(Row::new(
            "chat auth",
            Status::Ok,
            format!("/models answered with {key_name}"),
        ));
        rows.push(
            Row::new(
                "chat model",
                Status::Fail,
                format!(
                    "{} is not served here;{} served: {}",
                    target.model,
                    did_you_mean(&target.model, ids),
                    shortlist(ids)
                ),
            )
            .fix("choose one of the served models (-m, LITELLM_MODEL or `model` in litellm.toml), or add the model to the backend"),
        );
        stop(&mut rows, "the model is not served");
        return rows;
    }

    // 6. A tiny completion, not streamed.
    let completion = probe.chat(false, false).await;
    let answered = match &completion.result {
        Ok(answer) => answer.clone(),
        Err(fault) => {
            let description = fault.describe();
            match fault {
                Fault::HttpStatus {
                    status: 401 | 403,
                    message,
                    ..
                } => {
                    rows.push(auth_refused(
                        fault_status(fault),
                        message,
                        &key_name,
                        placeholder_key,
                    ));
                    stop(&mut rows, "the key was refused");
                }
                Fault::HttpStatus { message, .. } if mentions_model(message) => {
                    rows.push(Row::new(
                        "chat auth",
                        Status::Ok,
                        format!("{key_name} accepted"),
                    ));
                    rows.push(
                        Row::new(
                            "chat model",
                            Status::Fail,
                            format!("{} is not served: {description}", target.model),
                        )
                        .fix("choose a model the backend serves (-m, LITELLM_MODEL or `model` in litellm.toml)"),
                    );
                    stop(&mut rows, "the model is not served");
                }
                _ => {
                    auth_and_model_rows(&mut rows, None);
                    let mut row = Row::new(
                        "completion",
                        Status::Fail,
                        format!("a tiny chat completion failed: {description}"),
                    )
                    .detail(format!("POST {}", probe.shown_url("chat/completions")));
                    row = match (fault, probe.v1_suggestion().await) {
                        (Fault::HttpStatus { status: 404, .. }, Some(fixed)) => row.fix(format!(
                            "set base_url to {} for provider {}",
                            redact_url(&fixed),
                            target.provider_id
                        )),
                        _ => row.fix(fault_fix(fault)),
                    };
                    rows.push(row);
                    stop(&mut rows, "no chat completion");
                }
            }
            return rows;
        }
    };
    auth_and_model_rows(&mut rows, answered.model.as_deref());
    rows.push(Row::new(
        "completion",
        Status::Ok,
        format!(
            "answered in {} ms: {:?}",
            completion.elapsed.as_millis(),
            shorten(answered.text.trim(), 60)
        ),
    ));

    // 7. Streaming, with usage asked for.
    let streamed = probe.chat(true, false).await;
    let mut streamed_answer = None;
    rows.push(match &streamed.result {
        Ok(answer) => {
            streamed_answer = Some(answer.clone());
            let finish = answer.finish_reason.as_deref().unwrap_or("none");
            match (streamed.done_marker, answer.has_finish_reason()) {
                (true, true) => Row::new(
                    "streaming",
                    Status::Ok,
                    format!("ends properly: finish_reason {finish}, then [DONE]"),
                ),
                (false, _) => Row::new(
                    "streaming",
                    Status::Warning,
                    format!("finish_reason {finish} but no [DONE]: the bridge waits 2 s after it for the end"),
                )
                .fix("harmless if rare; a proxy that holds streams open adds 2 s to every turn"),
                (true, false) => Row::new(
                    "streaming",
                    Status::Warning,
                    "[DONE] without a finish_reason: the bridge accepts it, but cannot tell a cut-off answer",
                ),
            }
        }
        Err(fault) => Row::new(
            "streaming",
            Status::Fail,
            format!("the streamed answer failed: {}", fault.describe()),
        )
        .fix(match fault {
            Fault::IdleStall { .. } | Fault::Timeout { .. } | Fault::TotalTimeout { .. } => {
                format!(
                    "the stream never ended: check proxies that buffer text/event-stream; or set `stream = false` in [providers.{}.bridge]",
                    target.provider_id
                )
            }
            other => fault_fix(other),
        }),
    });

    // 8. Usage.
    let streamed_usage = streamed_answer.as_ref().and_then(|a| a.usage);
    rows.push(match (streamed_answer.is_some(), streamed_usage, answered.usage) {
        (_, Some(usage), _) | (false, None, Some(usage)) => Row::new(
            "usage",
            Status::Ok,
            format!(
                "reported: {} input, {} output tokens",
                usage.input_tokens, usage.output_tokens
            ),
        ),
        (true, None, Some(_)) => Row::new(
            "usage",
            Status::Warning,
            "reported only without streaming: Codex cannot tell when to compact",
        )
        .fix(format!(
            "set `stream = false` in [providers.{}.bridge] of litellm.toml, or make the backend honour stream_options.include_usage",
            target.provider_id
        )),
        (_, None, None) => Row::new(
            "usage",
            Status::Warning,
            "no token usage reported: Codex cannot tell when to compact a long session",
        )
        .fix("make the backend report usage (LiteLLM and vLLM do with stream_options.include_usage; keep include_usage = true in the bridge options)"),
    });

    // 9. Tool call.
    let tools = probe.chat(target.bridge.stream, true).await;
    rows.push(match &tools.result {
        Ok(answer) if !tools.recovered.is_empty() => Row::new(
            "tool calls",
            Status::Ok,
            format!(
                "written as text ({}); the bridge's recovery turns it into a call",
                tools.recovered[0].syntax
            ),
        )
        .detail(format!("call: {}", tool_names(answer))),
        Ok(answer) if !answer.tool_calls.is_empty() => Row::new(
            "tool calls",
            Status::Ok,
            format!("structured tool call: {}", tool_names(answer)),
        ),
        Ok(answer) => Row::new(
            "tool calls",
            Status::Warning,
            format!(
                "no tool call: the model answered in text ({:?}); Codex runs commands through tool calls",
                shorten(answer.text.trim(), 40)
            ),
        )
        .fix("use a model with tool calling, and enable it in the backend (vLLM: --enable-auto-tool-choice --tool-call-parser ...; Ollama: a tools-capable model)"),
        Err(fault) => Row::new(
            "tool calls",
            Status::Fail,
            format!("a request with a tool failed: {}", fault.describe()),
        )
        .fix("Codex sends tools with every turn: the backend must accept `tools` (check its tool-calling support)"),
    });

    // 10. Reasoning.
    let reasoning_seen = [
        Some(&answered),
        streamed_answer.as_ref(),
        tools.result.as_ref().ok(),
    ]
    .into_iter()
    .flatten()
    .any(|a| !a.reasoning.trim().is_empty() || a.reasoning_details.is_some());
    rows.push(Row::new(
        "reasoning",
        Status::Ok,
        if reasoning_seen {
            "reasoning text seen (sent back per the bridge's reasoning_return)"
        } else {
            "no reasoning seen (normal for a model without thinking)"
        },
    ));

    // 11. Context window.
    rows.push(probe.context_row(&models_body, options).await);
    rows
}

struct Probe<'a> {
    client: reqwest::Client,
    target: &'a Target,
    headers: HeaderMap,
    timeout: Duration,
}

struct ChatOutcome {
    result: Result<ChatAnswer, Fault>,
    done_marker: bool,
    recovered: Vec<RecoveredCall>,
    elapsed: Duration,
}

impl Probe<'_> {
    fn url(&self, path: &str) -> String {
        url_for(&self.target.base_url, path, &self.target.query_params)
    }

    /// [`Probe::url`] to show: `name=***` for every configured query parameter.
    fn shown_url(&self, path: &str) -> String {
        let hidden: Vec<(String, String)> = self
            .target
            .query_params
            .iter()
            .map(|(name, _)| (name.clone(), "***".to_string()))
            .collect();
        redact_url(&url_for(&self.target.base_url, path, &hidden))
    }

    async fn get(&self, url: &str) -> Result<(u16, Value, Duration), String> {
        let started = Instant::now();
        let response = self
            .client
            .get(url)
            .headers(self.headers.clone())
            .timeout(self.timeout)
            .send()
            .await
            .map_err(describe_transport)?;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok((status, body, started.elapsed()))
    }

    /// When the base URL lacks a version path and `<base>/v1` answers, that base.
    async fn v1_suggestion(&self) -> Option<String> {
        let base = self.target.base_url.trim_end_matches('/');
        let path = base
            .split("://")
            .nth(1)
            .and_then(|rest| rest.find('/').map(|i| &rest[i..]));
        if path.is_some_and(|p| p.contains("/v1")) {
            return None;
        }
        let candidate = format!("{base}/v1");
        let url = url_for(&candidate, "models", &self.target.query_params);
        match self.get(&url).await {
            Ok((status, _, _)) if (200..300).contains(&status) || matches!(status, 401 | 403) => {
                Some(candidate)
            }
            _ => None,
        }
    }

    async fn chat(&self, stream: bool, with_tool: bool) -> ChatOutcome {
        let mut options: BridgeOptions = self.target.bridge.clone();
        options.stream = stream;
        options.include_usage = true;
        let secs = self.timeout.as_secs().max(1);
        options.idle_timeout_secs = Some(secs);
        options.request_timeout_secs = secs.saturating_mul(3);
        options.connect_timeout_secs = secs;
        if options.max_output_tokens.is_none() {
            options.max_output_tokens = Some(if with_tool { 512 } else { 256 });
        }
        let mut body = json!({
            "model": self.target.model,
            "instructions": "You are a connectivity check. Answer in as few words as possible.",
            "input": [{
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": if with_tool {
                    "Call the get_weather tool for Paris. Do not answer in text."
                } else {
                    "Reply with the single word: pong"
                }}],
            }],
            "stream": true,
        });
        if with_tool {
            body["tools"] = json!([{
                "type": "function",
                "name": PROBE_TOOL,
                "description": "Current weather of a city.",
                "strict": false,
                "parameters": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}},
                    "required": ["city"],
                    "additionalProperties": false,
                },
            }]);
            body["tool_choice"] = json!("auto");
            body["parallel_tool_calls"] = json!(false);
        }
        let started = Instant::now();
        let request = match translate_request(&body, &options) {
            Ok(request) => request,
            Err(err) => {
                return ChatOutcome {
                    result: Err(Fault::BadRequest {
                        detail: err.to_string(),
                    }),
                    done_marker: false,
                    recovered: Vec::new(),
                    elapsed: started.elapsed(),
                };
            }
        };
        let target = codex_litellm_bridge::fetch::Target {
            url: self.url("chat/completions"),
            headers: self.headers.clone(),
        };
        let output = fetch_once(
            &self.client,
            &target,
            &request.body,
            &options,
            0,
            1,
            // One probe, bounded by the attempt's own timeouts.
            Instant::now() + Duration::from_secs(options.request_timeout_secs),
            &mut (),
        )
        .await;
        let mut recovered = Vec::new();
        let result = output.result.map(|mut answer| {
            recovered = postprocess(&mut answer, &request.tool_map, &options);
            answer
        });
        ChatOutcome {
            result,
            done_marker: output.report.done_marker,
            recovered,
            elapsed: started.elapsed(),
        }
    }

    async fn context_row(&self, models_body: &Value, options: &Options) -> Row {
        let model = &self.target.model;
        if let Some(lookup) = &options.context_window
            && let Some((tokens, source)) = lookup(model)
        {
            return Row::new(
                "context",
                Status::Ok,
                format!("{tokens} tokens (from {source})"),
            );
        }
        if let Some((tokens, field)) = listed_context(models_body, model) {
            return Row::new(
                "context",
                Status::Ok,
                format!("{tokens} tokens (from /models {field})"),
            );
        }
        if let Ok((200, body, _)) = self.get(&self.url("model/info")).await
            && let Some(tokens) = litellm_model_info(&body, model)
        {
            return Row::new(
                "context",
                Status::Ok,
                format!("{tokens} tokens (from LiteLLM /model/info max_input_tokens)"),
            );
        }
        Row::new(
            "context",
            Status::Warning,
            format!("context window of {model} unknown: Codex assumes 272K tokens and may compact too late"),
        )
        .fix(format!(
            "add `[models.\"{model}\"]` with `context_window = <tokens>` to litellm.toml"
        ))
    }
}

fn url_for(base: &str, path: &str, query: &[(String, String)]) -> String {
    let mut url = format!("{}/{path}", base.trim_end_matches('/'));
    if !query.is_empty() {
        url.push(if url.contains('?') { '&' } else { '?' });
        let pairs: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
        url.push_str(&pairs.join("&"));
    }
    url
}

fn headers(target: &Target) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Some(key) = &target.api_key
        && let Ok(value) = HeaderValue::from_str(&format!("Bearer {key}"))
    {
        headers.insert(http::header::AUTHORIZATION, value);
    }
    for (name, value) in &target.http_headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            headers.insert(name, value);
        }
    }
    headers
}

/// DNS, refused, TLS, proxy, timeout: the whole error chain, without the URL (it may carry
/// a key in its query).
fn describe_transport(err: reqwest::Error) -> String {
    if err.is_timeout() {
        return "timed out".to_string();
    }
    let err = err.without_url();
    let mut chain = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        chain = format!("{chain}: {cause}");
        source = cause.source();
    }
    chain
}

fn unreachable_row(target: &Target, error: &str) -> Row {
    let base_url = &target.base_url;
    let lower = error.to_ascii_lowercase();
    let host = base_url
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .map(|authority| authority.rsplit('@').next().unwrap_or(authority))
        .unwrap_or(base_url)
        .to_string();
    // Through a proxy, the connection (and the name lookup) is the proxy's.
    let proxied = |what: &str| {
        target.proxy.route().map(|proxy| {
            (
                format!("the proxy {} ({}) {what}", proxy.host, proxy.var),
                format!(
                    "start the proxy or correct {var}; or add {bare} to NO_PROXY to reach {host} directly",
                    var = proxy.var,
                    bare = host.rsplit_once(':').map_or(host.as_str(), |(h, _)| h),
                ),
            )
        })
    };
    let (what, fix) = if lower.contains("dns")
        || lower.contains("lookup")
        || lower.contains("name or service not known")
        || lower.contains("no such host")
    {
        proxied("does not resolve").unwrap_or_else(|| {
            (
                format!("the host name in {host} does not resolve"),
                "check the host name in base_url (and DNS/VPN)".to_string(),
            )
        })
    } else if lower.contains("refused") {
        proxied("refused the connection").unwrap_or_else(|| {
            (
                format!("connection refused at {host}"),
                "start the server, or fix the host and port in base_url (LITELLM_BASE_URL for the built-in provider)".to_string(),
            )
        })
    } else if lower.contains("certificate") || lower.contains("tls") || lower.contains("ssl") {
        (
            format!("TLS handshake with {host} failed"),
            "use http:// for a plain-HTTP server, or trust its certificate (SSL_CERT_FILE)"
                .to_string(),
        )
    } else if lower.contains("proxy") {
        (
            format!("the proxy refused the connection to {host}"),
            "check HTTPS_PROXY/HTTP_PROXY, or add the host to NO_PROXY".to_string(),
        )
    } else if lower.contains("timed out") {
        proxied("did not answer in time").unwrap_or_else(|| {
            (
                format!("no answer from {host} in time"),
                "check the host, port, firewall and VPN".to_string(),
            )
        })
    } else {
        (
            format!("{host} is unreachable"),
            "check base_url, the network and any proxy".to_string(),
        )
    };
    Row::new(
        "chat reach",
        Status::Fail,
        format!("{}: {what}", redact_url(base_url)),
    )
    // The error chain may name a proxy URL with its credentials.
    .detail(format!("error: {}", redact_text(error)))
    .detail(target.proxy.detail())
    .fix(fix)
}

fn auth_refused(status: u16, message: &str, key_name: &str, placeholder: bool) -> Row {
    Row::new(
        "chat auth",
        Status::Fail,
        format!(
            "the key was refused (HTTP {status}){}",
            if message.is_empty() {
                String::new()
            } else {
                format!(": {}", shorten(message, 160))
            }
        ),
    )
    .fix(if placeholder {
        format!("{key_name} looks like a placeholder, and this backend checks keys: set it to a key the backend accepts")
    } else {
        format!("check {key_name}: it must be a key this backend accepts")
    })
}

fn fault_status(fault: &Fault) -> u16 {
    match fault {
        Fault::HttpStatus { status, .. } => *status,
        _ => 0,
    }
}

fn fault_fix(fault: &Fault) -> String {
    match fault {
        Fault::Connect { .. } => "check that the server is up and base_url is right".to_string(),
        Fault::HttpStatus { status: 404, .. } => {
            "check base_url: it must be the API root, so that <base_url>/chat/completions exists".to_string()
        }
        Fault::HttpStatus { status: 400 | 422, .. } => {
            "the backend rejected the request: read its message above (bridge options such as developer_role or max_tokens_field may fix it)".to_string()
        }
        Fault::EmptyAnswer => "the model answered nothing: try another model".to_string(),
        _ => "see the error above; `codex-litellm telemetry show last` has every exchange of a real session".to_string(),
    }
}

fn mentions_model(message: &str) -> bool {
    let lower = message.to_ascii_lowercase();
    lower.contains("model")
        && (lower.contains("not found")
            || lower.contains("does not exist")
            || lower.contains("not exist")
            || lower.contains("unknown")
            || lower.contains("invalid model")
            || lower.contains("no such"))
}

fn error_text(body: &Value) -> String {
    codex_litellm_bridge::fault::error_text_from_value(body).unwrap_or_else(|| match body {
        Value::String(text) => shorten(text, 160),
        _ => String::new(),
    })
}

fn served_models(body: &Value) -> Option<Vec<String>> {
    let data = body
        .get("data")
        .or_else(|| body.get("models"))?
        .as_array()?;
    let ids: Vec<String> = data
        .iter()
        .filter_map(|m| {
            m.get("id")
                .or_else(|| m.get("name"))
                .and_then(Value::as_str)
        })
        .map(str::to_string)
        .collect();
    // An empty list says nothing (some servers list nothing but serve what they are asked).
    (!ids.is_empty()).then_some(ids)
}

/// A context window in the /models entry of `model` (vLLM, OpenRouter, LM Studio, ...).
fn listed_context(body: &Value, model: &str) -> Option<(u64, String)> {
    let data = body.get("data")?.as_array()?;
    let entry = data
        .iter()
        .find(|m| m.get("id").and_then(Value::as_str) == Some(model))?;
    for field in [
        "max_model_len",
        "context_window",
        "context_length",
        "max_context_length",
        "top_provider.context_length",
    ] {
        let pointer = format!("/{}", field.replace('.', "/"));
        if let Some(tokens) = entry.pointer(&pointer).and_then(Value::as_u64) {
            return Some((tokens, field.to_string()));
        }
    }
    None
}

/// LiteLLM's `/model/info`: `data[] {model_name, model_info {max_input_tokens}}`.
fn litellm_model_info(body: &Value, model: &str) -> Option<u64> {
    body.get("data")?
        .as_array()?
        .iter()
        .find(|m| m.get("model_name").and_then(Value::as_str) == Some(model))?
        .pointer("/model_info/max_input_tokens")
        .and_then(Value::as_u64)
}

fn tool_names(answer: &ChatAnswer) -> String {
    answer
        .tool_calls
        .iter()
        .map(|c| format!("{}({})", shorten(&c.name, 64), shorten(&c.arguments, 60)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// ` did you mean `qwen3-coder-16k`?` for a typo of a served id, else nothing.
fn did_you_mean(model: &str, served: &[String]) -> String {
    let matches = codex_litellm_models::close_matches(model, served);
    if matches.is_empty() {
        return String::new();
    }
    let names: Vec<String> = matches
        .iter()
        .take(3)
        .map(|m| format!("`{}`", redact_text(m)))
        .collect();
    format!(" did you mean {}?", names.join(", "))
}

fn shortlist(ids: &[String]) -> String {
    let mut text = redact_text(&ids.iter().take(10).cloned().collect::<Vec<_>>().join(", "));
    if ids.len() > 10 {
        text.push_str(&format!(", ... ({} in all)", ids.len()));
    }
    if text.is_empty() {
        text = "none".to_string();
    }
    text
}

/// Redacted, then cut (the bridge's `shorten`): a secret is removed before any cut.
fn shorten(text: &str, max_chars: usize) -> String {
    codex_litellm_bridge::fault::shorten(text, max_chars)
}
