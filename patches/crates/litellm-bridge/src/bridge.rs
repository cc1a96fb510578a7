//! The bridge: a Responses request in, a Responses SSE stream (or an HTTP error) out.

use crate::answer::ChatAnswer;
use crate::answer::Usage;
use crate::encoded::EncodedBody;
use crate::fault::FailureSignal;
use crate::fault::Fault;
use crate::fetch::ChunkSink;
use crate::fetch::Target;
use crate::fetch::fetch_encoded;
use crate::fetch::is_empty_body;
use crate::fetch::required_arguments_missing;
use crate::fetch::retry_delay;
use crate::fetch::unstreamed_body;
use crate::lean::Splices;
use crate::live::HoldBack;
use crate::live::LiveOutput;
use crate::options::AssistantPrefill;
use crate::options::BridgeMode;
use crate::options::BridgeOptions;
use crate::options::ToolCallContent;
use crate::options::ToolCallRecovery;
use crate::postprocess::postprocess;
use crate::postprocess::truncation_note;
use crate::report::ExchangeObserver;
use crate::report::ExchangeReport;
use crate::report::Outcome;
use crate::request::ChatRequest;
use crate::request::RequestSummary;
use crate::request::translate_request_owned;
use crate::request::with_empty_tool_call_content;
use crate::simulate::ResponseIdentity;
use crate::simulate::encode_sse;
use crate::simulate::simulate;
use crate::simulate::simulate_failure;
use crate::simulate::simulate_failure_after;
use crate::tools::ToolMap;
use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use http::HeaderMap;
use http::HeaderValue;
use http::header;
use serde_json::Value;
use serde_json::json;
use std::sync::Arc;
use std::time::Instant;
use std::time::SystemTime;
use std::time::UNIX_EPOCH;
use tracing::debug;
use tracing::warn;

/// What Codex would have POSTed to `{base_url}/responses`.
#[derive(Debug, Clone)]
pub struct BridgeRequest {
    pub url: String,
    pub headers: HeaderMap,
    pub body: Value,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BridgeStreamError(pub String);

pub type SseBody = BoxStream<'static, Result<Bytes, BridgeStreamError>>;

pub enum BridgeReply {
    /// A 200 `text/event-stream` answer in the Responses format.
    Stream { headers: HeaderMap, body: SseBody },
    /// An HTTP error for Codex's own handling (only 401, so its auth refresh runs).
    HttpError {
        status: u16,
        headers: HeaderMap,
        body: String,
    },
}

impl std::fmt::Debug for BridgeReply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BridgeReply::Stream { .. } => f.write_str("BridgeReply::Stream"),
            BridgeReply::HttpError { status, body, .. } => {
                write!(f, "BridgeReply::HttpError({status}, {body})")
            }
        }
    }
}

impl BridgeReply {
    /// Collects the whole body (tests, and callers that want bytes).
    pub async fn into_bytes(self) -> Result<Bytes, (u16, String)> {
        match self {
            BridgeReply::HttpError { status, body, .. } => Err((status, body)),
            BridgeReply::Stream { mut body, .. } => {
                let mut out = Vec::new();
                while let Some(chunk) = body.next().await {
                    match chunk {
                        Ok(bytes) => out.extend_from_slice(&bytes),
                        Err(err) => return Err((0, err.0)),
                    }
                }
                Ok(Bytes::from(out))
            }
        }
    }
}

/// One provider's bridge. Cheap to clone.
#[derive(Clone)]
pub struct Bridge {
    client: reqwest::Client,
    options: Arc<BridgeOptions>,
    provider: String,
    /// The provider's id (its `[providers.<id>]` table in litellm.toml), for advice that
    /// names a setting; the display name above may differ ("LiteLLM" for `litellm`).
    provider_id: Option<String>,
    observer: Option<Arc<dyn ExchangeObserver>>,
    capture_limit: usize,
    refreshable_auth: bool,
}

impl Bridge {
    pub fn new(
        client: reqwest::Client,
        options: BridgeOptions,
        provider: impl Into<String>,
    ) -> Self {
        Self {
            client,
            options: Arc::new(options),
            provider: provider.into(),
            provider_id: None,
            observer: None,
            capture_limit: 0,
            refreshable_auth: false,
        }
    }

    /// A client with the options' connect timeout, for callers that have none.
    pub fn default_client(options: &BridgeOptions) -> reqwest::Client {
        reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(options.connect_timeout_secs))
            .build()
            .unwrap_or_default()
    }

    /// How fallback keys, `fallback = ["<provider>/<model>"]` entries and discovered windows
    /// name this bridge's provider: its id, else the name it is shown by.
    fn provider_key(&self) -> &str {
        self.provider_id.as_deref().unwrap_or(&self.provider)
    }

    /// The provider's id in litellm.toml, named in advice such as `[providers.<id>.bridge]`.
    pub fn with_provider_id(mut self, id: impl Into<String>) -> Self {
        self.provider_id = Some(id.into());
        self
    }

    pub fn with_observer(mut self, observer: Arc<dyn ExchangeObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Keep up to `limit` raw upstream bytes per attempt in the report.
    pub fn with_raw_capture(mut self, limit: usize) -> Self {
        self.capture_limit = limit;
        self
    }

    /// The provider gets its token from a command that Codex re-runs on HTTP 401: hand a
    /// 401 to Codex as such. Otherwise a 401 ends the turn with a clear, non-retried error
    /// (Codex would retry an HTTP 401 from a static key for nothing).
    pub fn with_refreshable_auth(mut self, refreshable: bool) -> Self {
        self.refreshable_auth = refreshable;
        self
    }

    /// How the turn ends when the bridge gives up on `fault`.
    fn failure_signal(&self, fault: &Fault) -> FailureSignal {
        match fault.failure_signal() {
            FailureSignal::Http { .. } if !self.refreshable_auth => FailureSignal::Failed {
                code: crate::simulate::codes::INVALID_PROMPT,
            },
            signal => signal,
        }
    }

    pub fn options(&self) -> &BridgeOptions {
        &self.options
    }

    pub async fn respond(&self, request: BridgeRequest) -> BridgeReply {
        let BridgeRequest { url, headers, body } = request;
        // The path production takes (upstream's encoded body); a Value always serializes.
        let encoded = serde_json::to_vec(&body).unwrap_or_default();
        drop(body);
        self.respond_encoded(url, headers, Bytes::from(encoded))
            .await
    }

    /// [`Bridge::respond`] for the body as upstream encoded it. The bytes are shared, not
    /// copied, and upstream keeps them while the turn runs: the bridge parses them with the
    /// history's big texts as references into them (`lean.rs`), and again only when a
    /// fallback model or a nudge needs the Responses body later.
    pub async fn respond_encoded(
        &self,
        url: String,
        headers: HeaderMap,
        encoded: Bytes,
    ) -> BridgeReply {
        register_header_secrets(&headers);
        let mut guard = ReportGuard::new(self.new_report(&url, &headers), self.observer.clone());
        let started = Instant::now();
        let (mut body, splices) = match crate::lean::parse(&encoded, crate::lean::MIN_SPLICE) {
            Ok(parsed) => parsed,
            Err(err) => {
                let fault = Fault::BadRequest {
                    detail: format!("the Responses request body is not JSON: {err}"),
                };
                let identity = ResponseIdentity::for_answer(&ChatAnswer::default(), "", now_secs());
                return self.fail(&mut guard, fault, identity, 0, started);
            }
        };
        let mut note = None;
        let identity_model = body
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        match crate::guards::loop_verdict(&self.options, &body) {
            crate::guards::LoopAction::Clear => {}
            crate::guards::LoopAction::Note { text, report } => {
                guard.report.loop_guard = Some(report);
                body = codex_litellm_guards::loop_guard::with_note(&body, &text);
                // Fallbacks and nudges translate the noted body again.
                note = Some(text);
            }
            crate::guards::LoopAction::Stop { message, report } => {
                guard.report.loop_guard = Some(report);
                return self.stop_turn(&mut guard, &message, &identity_model, started);
            }
        }
        let used_tools = crate::guards::turn_used_tools(&body);
        let chat = match translate_request_owned(body, &self.options) {
            Ok(chat) => chat,
            Err(err) => {
                return self.refuse(&mut guard, err.to_string(), &identity_model, started);
            }
        };
        guard.report.request = chat.summary.clone();
        let settings = report_body(&chat.body);
        let chat = match Chat::encode(chat, Some(&splices)) {
            Ok(chat) => chat,
            Err(err) => {
                return self.refuse(&mut guard, err.to_string(), &identity_model, started);
            }
        };
        // Telemetry level `full` records the whole body (the texts written back in).
        guard.report.request_body = match self.capture_limit {
            0 => settings,
            _ => chat.body.decode().unwrap_or(settings),
        };
        guard.report.request_bytes = chat.body.len();
        guard.report.max_output_tokens = self.options.max_output_tokens;
        let target = Route {
            key: format!("{}/{}", self.provider_key(), chat.summary.model),
            target: Target {
                url: chat_completions_url(&url),
                headers: forward_headers(&headers),
            },
            options: self.options.clone(),
            responses: encoded,
            note,
            used_tools,
        };
        let budget = TurnBudget::new(&self.options, started);
        match self.options.mode {
            BridgeMode::Buffered => {
                self.respond_buffered(guard, chat, target, started, budget)
                    .await
            }
            BridgeMode::Live => {
                self.respond_live(guard, chat, target, started, budget)
                    .await
            }
        }
    }

    async fn respond_buffered(
        &self,
        mut guard: ReportGuard,
        mut chat: Chat,
        mut target: Route,
        started: Instant,
        mut budget: TurnBudget,
    ) -> BridgeReply {
        let fetched = self
            .fetch_first(
                &mut target,
                &mut chat,
                &mut guard.report,
                &mut (),
                &mut budget,
            )
            .await;
        let mut answer = match fetched {
            Ok(answer) => answer,
            Err(GaveUp {
                fault,
                before_error,
            }) => {
                let identity = ResponseIdentity::for_answer(
                    &ChatAnswer::default(),
                    &chat.summary.model,
                    now_secs(),
                );
                let attempts = guard.report.attempts.len() as u32;
                return self.fail_after(
                    &mut guard,
                    fault,
                    identity,
                    attempts,
                    started,
                    before_error,
                );
            }
        };
        let mut continuations = 0;
        while answer.finish_reason.as_deref() == Some("length")
            && continuations < self.options.auto_continue
            && answer.tool_calls.is_empty()
        {
            let Some(body) = chat.derived(|body| continuation_body(body, &answer)) else {
                break;
            };
            match self
                .fetch_with_retries(
                    &target,
                    &body,
                    &chat.tool_map,
                    &mut guard.report,
                    &mut (),
                    &mut budget,
                )
                .await
            {
                Ok(next) => {
                    continuations += 1;
                    splice(&mut answer, next);
                }
                Err(GaveUp { fault, .. }) => {
                    warn!(
                        fault = fault.kind(),
                        "continuation failed; handing over what was received"
                    );
                    break;
                }
            }
        }
        guard.report.continuations = continuations;
        let mut recovered = postprocess(&mut answer, &chat.tool_map, &self.options);
        while answer.finish_reason.as_deref() != Some("length") {
            let Some(nudged) = self.nudge(&target, &answer, &guard.report, &budget) else {
                break;
            };
            guard.report.nudges += 1;
            match self
                .fetch_with_retries(
                    &target,
                    &nudged.body,
                    &chat.tool_map,
                    &mut guard.report,
                    &mut (),
                    &mut budget,
                )
                .await
            {
                Ok(mut next) => {
                    recovered.extend(postprocess(&mut next, &chat.tool_map, &self.options));
                    follow_up(&mut answer, next);
                }
                Err(GaveUp { fault, .. }) => {
                    warn!(
                        fault = fault.kind(),
                        "the answer to the nudge failed; handing over the answer"
                    );
                    break;
                }
            }
        }
        guard.report.nudge_unanswered = crate::guards::unanswered(guard.report.nudges, &answer);
        let truncated = answer.finish_reason.as_deref() == Some("length");
        if truncated {
            mark_truncated(&mut answer, self.options.max_output_tokens);
        }
        if answer.usage.is_none() {
            answer.usage = Some(Usage::estimate_from_bytes(
                chat.body.prompt_bytes(),
                &answer,
                &answer.tool_calls,
            ));
            guard.report.usage_estimated = true;
        }
        let identity = ResponseIdentity::for_answer(&answer, &chat.summary.model, now_secs());
        let events = simulate(&answer, &chat.tool_map, identity);
        guard.report.record_answer(&answer, &events, recovered);
        guard.report.total_ms = started.elapsed().as_millis() as u64;
        guard.finish();
        sse_reply(encode_sse(&events))
    }

    /// Returns once the first text or reasoning is ready (or the answer ended without any),
    /// so a failure before anything was shown is handed over exactly as in buffered mode
    /// (an HTTP 401 Codex can refresh the token on, or a clean `response.failed`).
    async fn respond_live(
        &self,
        guard: ReportGuard,
        mut chat: Chat,
        mut target: Route,
        started: Instant,
        mut budget: TurnBudget,
    ) -> BridgeReply {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Bytes>();
        let (http_tx, http_rx) = tokio::sync::oneshot::channel::<BridgeReply>();
        let bridge = self.clone();
        let task = tokio::spawn(async move {
            let mut guard = guard;
            let identity = ResponseIdentity {
                response_id: format!(
                    "resp_live_{:x}",
                    started.elapsed().as_nanos() ^ u128::from(now_millis())
                ),
                model: chat.summary.model.clone(),
                created_at: now_secs(),
            };
            let mut live = LiveOutput::new(
                identity,
                tx,
                chat.tool_map.clone(),
                bridge.options.think_tags,
                hold_back(&bridge.options),
            )
            .with_interrupt_on_divergence(
                bridge
                    .options
                    .assistant_prefill
                    .resolve(&target.target.url)
                    .is_none(),
            );
            let fetched = bridge
                .fetch_first(
                    &mut target,
                    &mut chat,
                    &mut guard.report,
                    &mut live,
                    &mut budget,
                )
                .await;
            let failure = match fetched {
                Ok(answer) => {
                    bridge
                        .finish_live(
                            &mut live,
                            answer,
                            &chat,
                            &target,
                            &mut guard.report,
                            &mut budget,
                        )
                        .await
                }
                Err(GaveUp { fault, .. }) => {
                    let attempts = guard.report.attempts.len() as u32;
                    let (code, message) = bridge.failure_message(&fault, attempts);
                    if let FailureSignal::Http { status } = bridge.failure_signal(&fault)
                        && !live.started()
                    {
                        let body = json!({"error": {"message": message, "type": "codex_litellm_backend_error"}})
                            .to_string();
                        guard.report.outcome = Outcome::Failed {
                            code: code.to_string(),
                            message,
                            fault,
                        };
                        guard.report.total_ms = started.elapsed().as_millis() as u64;
                        guard.finish();
                        let _ = http_tx.send(BridgeReply::HttpError {
                            status,
                            headers: HeaderMap::new(),
                            body,
                        });
                        return;
                    }
                    Some((code, message, fault))
                }
            };
            if let Some((code, message, fault)) = failure {
                live.fail(code, &message);
                guard.report.outcome = Outcome::Failed {
                    code: code.to_string(),
                    message,
                    fault,
                };
            }
            guard.report.events = live.event_counts().clone();
            guard.report.interrupted_answers = live.interrupted();
            guard.report.total_ms = started.elapsed().as_millis() as u64;
            guard.finish();
        });
        // When Codex drops the request or the body (the user interrupted), the attempts
        // stop: no more streaming, billing or retrying, and the report guard records
        // `cancelled`.
        let stop_on_drop = AbortOnDrop(task.abort_handle());
        let mut http_rx = Some(http_rx);
        let first = loop {
            match http_rx.as_mut() {
                Some(http) => tokio::select! {
                    biased;
                    reply = http => match reply {
                        Ok(reply) => return reply,
                        Err(_) => http_rx = None,
                    },
                    first = rx.recv() => break first,
                },
                None => break rx.recv().await,
            }
        };
        let first = futures::stream::iter(first.map(Ok));
        let rest = futures::stream::unfold((rx, stop_on_drop), |(mut rx, stop)| async move {
            rx.recv().await.map(|bytes| (Ok(bytes), (rx, stop)))
        });
        BridgeReply::Stream {
            headers: sse_headers(),
            body: Box::pin(first.chain(rest)),
        }
    }

    /// After the first complete answer in live mode: continuations of a cut-off answer,
    /// then the end of the stream. Returns the failure to end the stream with, if any.
    async fn finish_live(
        &self,
        live: &mut LiveOutput,
        mut answer: ChatAnswer,
        chat: &Chat,
        target: &Route,
        report: &mut ExchangeReport,
        budget: &mut TurnBudget,
    ) -> Option<(&'static str, String, Fault)> {
        let prefill = self.options.assistant_prefill.resolve(&target.target.url);
        let mut end = live.end_fetch(&answer);
        if let Some(style) = prefill.filter(|_| live.diverged()) {
            // A retry after a fault did not start with the text already shown, and this
            // backend continues a prefilled assistant message: ask for the rest of exactly
            // the shown text. It is fetched whole and checked before anything of it is
            // shown; a backend that answered afresh instead gets the fallback below.
            let shown = ChatAnswer {
                text: live.shown_text(),
                ..ChatAnswer::default()
            };
            let fetched = match chat.derived(|body| prefill_body(body, &shown.text, style)) {
                Some(body) => {
                    self.fetch_with_retries(target, &body, &chat.tool_map, report, &mut (), budget)
                        .await
                }
                None => Err(GaveUp {
                    fault: Fault::BadRequest {
                        detail: "the prefilled request could not be built".to_string(),
                    },
                    before_error: None,
                }),
            };
            match fetched {
                Ok(next) if continues(&shown.text, &next) => {
                    live.resume_after_shown();
                    end = live.end_fetch(&next);
                    let usage = answer.usage;
                    answer = shown;
                    splice(&mut answer, next);
                    answer.usage = match (usage, answer.usage) {
                        (Some(a), Some(b)) => Some(a.plus(b)),
                        (a, b) => a.or(b),
                    };
                }
                Ok(_) => {
                    warn!(
                        "the backend did not continue the prefilled text; keeping the retried answer"
                    );
                }
                Err(GaveUp { fault, .. }) => {
                    warn!(
                        fault = fault.kind(),
                        "continuation of the shown text failed; keeping the retried answer"
                    );
                }
            }
        }
        if live.diverged() {
            // No continuation: the shown text ends as an interrupted message and the
            // retried answer, already complete, is the message Codex keeps.
            live.interrupt();
        }
        let mut continuations = 0;
        while !live.diverged()
            && answer.finish_reason.as_deref() == Some("length")
            && continuations < self.options.auto_continue
            && answer.tool_calls.is_empty()
            && end.calls.is_empty()
        {
            let Some(body) = chat.derived(|body| continuation_body(body, &answer)) else {
                break;
            };
            live.begin_continuation();
            match self
                .fetch_with_retries(target, &body, &chat.tool_map, report, live, budget)
                .await
            {
                Ok(next) => {
                    continuations += 1;
                    let next_end = live.end_fetch(&next);
                    end.calls.extend(next_end.calls);
                    end.recovered.extend(next_end.recovered);
                    splice(&mut answer, next);
                }
                Err(GaveUp { fault, .. }) => {
                    warn!(
                        fault = fault.kind(),
                        "continuation failed; handing over what was received"
                    );
                    break;
                }
            }
        }
        report.continuations = continuations;
        if live.diverged() {
            let fault = report
                .attempts
                .iter()
                .rev()
                .find_map(|attempt| attempt.fault.clone())
                .unwrap_or(Fault::EmptyAnswer);
            return Some(self.shown_text_not_continued(fault));
        }
        let mut calls = std::mem::take(&mut answer.tool_calls);
        calls.extend(end.calls);
        while calls.is_empty() && answer.finish_reason.as_deref() != Some("length") {
            let Some(nudged) = self.nudge(target, &answer, report, budget) else {
                break;
            };
            report.nudges += 1;
            // The promise is on screen already; the answer to the nudge follows it as a
            // new paragraph, and its calls are ordinary calls. The nudge is not shown.
            live.begin_follow_up();
            match self
                .fetch_with_retries(target, &nudged.body, &chat.tool_map, report, live, budget)
                .await
            {
                Ok(mut next) => {
                    let next_end = live.end_fetch(&next);
                    calls.extend(std::mem::take(&mut next.tool_calls));
                    calls.extend(next_end.calls);
                    end.recovered.extend(next_end.recovered);
                    follow_up(&mut answer, next);
                }
                Err(GaveUp { fault, .. }) => {
                    warn!(
                        fault = fault.kind(),
                        "the answer to the nudge failed; handing over the answer"
                    );
                    break;
                }
            }
        }
        answer.tool_calls = calls;
        report.nudge_unanswered = crate::guards::unanswered(report.nudges, &answer);
        let mut calls = std::mem::take(&mut answer.tool_calls);
        calls.retain(|call| !call.name.trim().is_empty());
        for call in &mut calls {
            if call.arguments.trim().is_empty() {
                call.arguments = "{}".to_string();
            }
        }
        let note = (answer.finish_reason.as_deref() == Some("length")).then(|| {
            let note = truncation_note(&mut calls, self.options.max_output_tokens);
            if live.text_shown() {
                format!("\n\n{note}")
            } else {
                note
            }
        });
        if answer.usage.is_none() {
            answer.usage = Some(Usage::estimate_from_bytes(
                chat.body.prompt_bytes(),
                &answer,
                &calls,
            ));
            report.usage_estimated = true;
        }
        live.complete(&answer, &calls, note.as_deref());
        answer.tool_calls = calls;
        report.record_answer(&answer, &[], end.recovered);
        None
    }

    /// How a live turn ends when the answer broke after text was shown and neither a retry
    /// nor a continuation carried that text on: a code Codex does not retry (a retry would
    /// show a second answer after the first).
    fn shown_text_not_continued(&self, fault: Fault) -> (&'static str, String, Fault) {
        let message = crate::redact::redact_text(&format!(
            "codex-litellm ({}): {} after part of the answer was shown, and the retried answer did not continue it. What was shown is kept; ask again for the whole answer.",
            self.provider,
            fault.describe()
        ));
        (crate::simulate::codes::INVALID_PROMPT, message, fault)
    }

    /// The first answer of the turn: from the model Codex asked for or, when its attempts
    /// are spent on a fault another model can fix (or it failed so shortly before that its
    /// cool-down runs), from the next model of its `fallback = [...]`. Nothing may have
    /// reached Codex before a switch. Later fetches of the turn stay on the model switched to.
    async fn fetch_first(
        &self,
        route: &mut Route,
        chat: &mut Chat,
        report: &mut ExchangeReport,
        sink: &mut dyn ChunkSink,
        budget: &mut TurnBudget,
    ) -> Result<ChatAnswer, GaveUp> {
        let chain = crate::guards::chain(&self.options, self.provider_key(), &chat.summary.model);
        if chain.is_empty() {
            return self
                .fetch_with_retries(route, &chat.body, &chat.tool_map, report, sink, budget)
                .await;
        }
        let policy = self.options.guards.fallback;
        let breaker = crate::guards::breaker(policy.cooldown);
        let primary = route.clone();
        let primary_model = chat.summary.model.clone();
        let keys: Vec<String> = chain.iter().map(|c| c.key.clone()).collect();
        let order: Vec<String> = breaker
            .candidates(&primary.key, &keys)
            .into_iter()
            .map(str::to_string)
            .collect();
        let find = |key: &str| chain.iter().find(|c| c.key == key);
        let mut position = 0;
        if let Some(first) = order
            .first()
            .filter(|key| **key != primary.key)
            .and_then(|k| find(k))
            && self.switch_to(route, chat, &primary, first)
        {
            let detail = format!(
                "{primary_model} failed within the last {}s and is skipped until its cool-down ends",
                policy.cooldown.as_secs()
            );
            self.notify(&format!(
                "codex-litellm: {} answered instead of {primary_model} ({detail})",
                label(first)
            ));
            record_switch(report, &primary.key, route, chat, "cooling_down", detail);
        }
        loop {
            let result = self
                .fetch_with_retries(route, &chat.body, &chat.tool_map, report, sink, budget)
                .await;
            let gave_up = match result {
                Ok(answer) => {
                    breaker.record_success(&route.key);
                    return Ok(answer);
                }
                Err(gave_up) => gave_up,
            };
            position += 1;
            let Some(next) = order.get(position).and_then(|key| find(key)) else {
                return Err(gave_up);
            };
            if sink.shown_anything() {
                return Err(gave_up);
            }
            let windows = codex_litellm_guards::fallback::Windows {
                primary: self.context_window(&route.key),
                fallback: self.context_window(&next.key),
            };
            let info = crate::guards::fault_info(&gave_up.fault);
            let Some(reason) =
                codex_litellm_guards::fallback::switch_reason(&info, &policy, windows)
            else {
                return Err(gave_up);
            };
            breaker.trip(&route.key);
            let from = chat.summary.model.clone();
            if !self.switch_to(route, chat, &primary, next) {
                return Err(gave_up);
            }
            self.notify(&reason.notice(&from, &label(next), policy.cooldown));
            record_switch(
                report,
                &primary.key,
                route,
                chat,
                reason.kind(),
                reason.describe(),
            );
            // The next model gets its own attempts, inside the turn's deadline.
            budget.attempts_left = route.options.max_attempts();
        }
    }

    /// Points `route` and `chat` at `candidate`: its provider's URL, key and options (the
    /// primary's when it is the same provider), the same Responses body translated for it.
    fn switch_to(
        &self,
        route: &mut Route,
        chat: &mut Chat,
        primary: &Route,
        candidate: &crate::guards::Candidate,
    ) -> bool {
        let (target, options) = match &candidate.provider {
            None => (primary.target.clone(), (*self.options).clone()),
            Some(provider) => {
                let Some(other) = self.options.fallback.routes.get(provider) else {
                    warn!(
                        provider = provider.as_str(),
                        "fallback names a provider codex-litellm cannot reach; skipped"
                    );
                    return false;
                };
                // No credential of the first provider goes to another one (its key, and
                // any secret-named header of its `http_headers`).
                let mut headers = primary.target.headers.clone();
                let secret: Vec<header::HeaderName> = headers
                    .keys()
                    .filter(|name| is_secret_name(name.as_str()))
                    .cloned()
                    .collect();
                for name in secret {
                    headers.remove(name);
                }
                if let Some(key) = other
                    .env_key
                    .as_deref()
                    .and_then(|name| std::env::var(name).ok())
                    .filter(|key| !key.is_empty())
                {
                    crate::redact::register_secret(&key);
                    if let Ok(value) = HeaderValue::from_str(&format!("Bearer {key}")) {
                        headers.insert(header::AUTHORIZATION, value);
                    }
                }
                let url = format!("{}/chat/completions", other.base_url.trim_end_matches('/'));
                (Target { url, headers }, (*other.options).clone())
            }
        };
        let mut options = options;
        options.model = Some(candidate.model.clone());
        let Some(translated) = route.responses_body().and_then(|(body, splices)| {
            let translated = translate_request_owned(body, &options).ok()?;
            Chat::encode(translated, Some(&splices)).ok()
        }) else {
            return false;
        };
        *chat = translated;
        route.key = candidate.key.clone();
        route.target = target;
        route.options = Arc::new(options);
        true
    }

    /// The window of the model a `<provider>/<model>` key names, when known.
    fn context_window(&self, key: &str) -> Option<u64> {
        let (provider, model) = key.split_once('/')?;
        self.options.fallback.context_window(provider, model)
    }

    fn notify(&self, notice: &str) {
        tracing::info!("{notice}");
        if let Some(observer) = &self.observer {
            observer.on_notice(notice);
        }
    }

    /// The continuation guard on a complete answer: the chat request that nudges the model,
    /// when the answer promised an action without a call and the turn's budget allows one
    /// more request.
    fn nudge(
        &self,
        route: &Route,
        answer: &ChatAnswer,
        report: &ExchangeReport,
        budget: &TurnBudget,
    ) -> Option<Chat> {
        // The answer as Codex gets it (live mode's raw text may still hold `<think>`).
        let mut said = ChatAnswer {
            text: answer.text.clone(),
            ..ChatAnswer::default()
        };
        crate::postprocess::split_harmony(&mut said);
        if self.options.think_tags {
            crate::postprocess::extract_think_tags(&mut said);
        }
        let decision = self.options.guards.continuation.decide(
            route.used_tools,
            u8::try_from(report.nudges).unwrap_or(u8::MAX),
            &said.text,
            !answer.tool_calls.is_empty() || !said.tool_calls.is_empty(),
        );
        let codex_litellm_guards::continuation::Decision::Nudge(nudge) = decision else {
            return None;
        };
        if budget.attempts_left == 0 || Instant::now() >= budget.deadline {
            return None;
        }
        debug!(
            cue = nudge.intent.cue.as_str(),
            "nudging after a stated next action"
        );
        let (responses, splices) = route.responses_body()?;
        let body = codex_litellm_guards::continuation::nudged_body(
            &responses,
            &said.text,
            nudge.tool_choice_required,
        );
        drop(responses);
        translate_request_owned(body, &route.options)
            .ok()
            .and_then(|chat| Chat::encode(chat, Some(&splices)).ok())
    }

    /// The loop guard's stop: no backend call; one assistant message saying why and a
    /// normal `response.completed` (a failure would make Codex retry).
    fn stop_turn(
        &self,
        guard: &mut ReportGuard,
        message: &str,
        model: &str,
        started: Instant,
    ) -> BridgeReply {
        let answer = ChatAnswer {
            text: message.to_string(),
            finish_reason: Some("stop".to_string()),
            ..ChatAnswer::default()
        };
        let identity = ResponseIdentity::for_answer(&answer, model, now_secs());
        let events = simulate(&answer, &ToolMap::default(), identity);
        guard.report.request.model = model.to_string();
        guard.report.record_answer(&answer, &events, Vec::new());
        guard.report.total_ms = started.elapsed().as_millis() as u64;
        guard.finish();
        sse_reply(encode_sse(&events))
    }

    /// Attempts until one succeeds, a fault is not worth retrying, or tries run out. A live
    /// sink replays each retry against what Codex already got.
    async fn fetch_with_retries(
        &self,
        route: &Route,
        body: &EncodedBody,
        tools: &ToolMap,
        report: &mut ExchangeReport,
        sink: &mut dyn ChunkSink,
        budget: &mut TurnBudget,
    ) -> Result<ChatAnswer, GaveUp> {
        let mut attempt = 1;
        // The body and options the attempts send when they differ from the route's: without
        // streaming after a streamed 2xx answer without a byte, with `content: ""` after the
        // backend refused `null` on a tool-call message.
        let mut adapted: Option<(EncodedBody, BridgeOptions)> = None;
        let mut unstreamed = false;
        let auto_content = route.options.tool_call_content == ToolCallContent::Auto;
        let mut emptied = false;
        if auto_content
            && null_content_refused_by(&route.target.url, false)
            && let Some(empty) = emptied_tool_call_content(body)
        {
            adapted = Some((empty, route.options.as_ref().clone()));
            emptied = true;
        }
        // A backend that answered this model's streamed request with nothing before is
        // asked without streaming from the start (said once, when it was learned).
        let stream_key = format!("{} {}", route.target.url, route.key);
        let mut retried_unstreamed = false;
        if route.options.stream && empty_stream_seen(&stream_key, false) {
            let (base, options) = match &adapted {
                Some((body, options)) => (body, options.clone()),
                None => (body, route.options.as_ref().clone()),
            };
            if let Some(unstreamed_body) = derive(base, unstreamed_body) {
                adapted = Some((
                    unstreamed_body,
                    BridgeOptions {
                        stream: false,
                        ..options
                    },
                ));
                // Not this request's empty stream: its report says nothing about one.
                unstreamed = true;
            }
        }
        loop {
            budget.attempts_left = budget.attempts_left.saturating_sub(1);
            sink.attempt_started();
            let (body, options) = match &adapted {
                Some((body, options)) => (body, options),
                None => (body, route.options.as_ref()),
            };
            let output = fetch_encoded(
                &self.client,
                &route.target,
                body,
                options,
                self.capture_limit,
                report.attempts.len() as u32 + 1,
                budget.deadline,
                sink,
            )
            .await;
            let mut attempt_report = output.report;
            let mut result = output.result;
            if let Ok(answer) = &result
                && let Some(cut) = required_arguments_missing(answer, tools, attempt_report.bytes)
            {
                attempt_report.fault = Some(cut.clone());
                result = Err(cut);
            }
            match result {
                Ok(answer) => {
                    report.attempts.push(attempt_report);
                    // Learned only from a retry that answered: an empty stream that hid a
                    // real error (a prompt over the window) says nothing about the model.
                    if retried_unstreamed && !empty_stream_seen(&stream_key, true) {
                        self.notify(&format!(
                            "codex-litellm ({}): the streamed request got an empty answer (HTTP 200, no bytes); asked without streaming, it answered, and this model is asked without streaming from now on. Set `stream = false` in litellm.toml [providers.{}.bridge] to skip the empty attempt.",
                            self.provider,
                            report.provider_table()
                        ));
                    }
                    return Ok(answer);
                }
                Err(fault)
                    if auto_content
                        && !emptied
                        && refuses_null_content(&fault)
                        && budget.attempts_left > 0
                        && Instant::now() < budget.deadline
                        && let Some(empty) = emptied_tool_call_content(body) =>
                {
                    // The same request with `content: ""`, at once; kept for this backend.
                    debug!(attempt, "content: null refused; sending content \"\"");
                    attempt_report.retry_wait_ms = Some(0);
                    attempt_report.retry_wait_reason = Some(
                        "content: null on a tool-call message refused: sending content \"\""
                            .to_string(),
                    );
                    report.attempts.push(attempt_report);
                    if !null_content_refused_by(&route.target.url, true) {
                        self.notify(&format!(
                            "codex-litellm ({}): the backend refused an assistant tool-call message with `content: null`; sent `content: \"\"` instead, and keeps doing so for this backend. Set `tool_call_content = \"empty_string\"` in litellm.toml [providers.{}.bridge] to skip the refused request.",
                            self.provider,
                            report.provider_table()
                        ));
                    }
                    adapted = Some((empty, options.clone()));
                    emptied = true;
                    attempt += 1;
                }
                Err(fault)
                    if !unstreamed
                        && options.stream
                        && is_empty_body(&fault)
                        && budget.attempts_left > 0
                        && Instant::now() < budget.deadline =>
                {
                    // Streaming again would get nothing again: one retry without
                    // streaming gets the answer or the server's real error (e.g. a 400
                    // `context_length_exceeded`).
                    debug!(attempt, "empty streamed answer; retrying without streaming");
                    let Some(unstreamed_body) = derive(body, unstreamed_body) else {
                        report.attempts.push(attempt_report);
                        return Err(GaveUp {
                            fault,
                            before_error: output.before_error,
                        });
                    };
                    report.stream_fallback = true;
                    retried_unstreamed = true;
                    attempt_report.retry_wait_ms = Some(0);
                    attempt_report.retry_wait_reason =
                        Some("empty streamed answer: asking without streaming".to_string());
                    report.attempts.push(attempt_report);
                    adapted = Some((
                        unstreamed_body,
                        BridgeOptions {
                            stream: false,
                            ..options.clone()
                        },
                    ));
                    unstreamed = true;
                    attempt += 1;
                }
                Err(fault) => {
                    let (delay, reason) = retry_delay(&fault, attempt + 1, options);
                    // Retry only within the turn's budget: attempts left, and time for the
                    // wait before the turn's end.
                    let can_retry = fault.retryable()
                        && budget.attempts_left > 0
                        && Instant::now() + delay < budget.deadline;
                    if !can_retry {
                        report.attempts.push(attempt_report);
                        return Err(GaveUp {
                            fault,
                            before_error: output.before_error,
                        });
                    }
                    debug!(
                        fault = fault.kind(),
                        attempt,
                        delay_ms = delay.as_millis() as u64,
                        "retrying chat request"
                    );
                    attempt_report.retry_wait_ms = Some(delay.as_millis() as u64);
                    attempt_report.retry_wait_reason = Some(reason);
                    report.attempts.push(attempt_report);
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
            }
        }
    }

    fn failure_message(&self, fault: &Fault, attempts: u32) -> (&'static str, String) {
        let code = match self.failure_signal(fault) {
            FailureSignal::Failed { code } => code,
            FailureSignal::Http { .. } => crate::simulate::codes::INVALID_PROMPT,
        };
        let rate_limited = code == crate::simulate::codes::RATE_LIMIT_EXCEEDED;
        // The bridge only gives up once the turn's retry budget is spent: a code Codex
        // would retry would re-send the turn and multiply the attempts (Codex 0.148
        // retries every response.failed code but context_length_exceeded,
        // insufficient_quota, usage_not_included, invalid_prompt, bio_policy,
        // cyber_policy, misalignment_policy_violation, server_is_overloaded and slow_down).
        // invalid_prompt ends the turn and shows the message as is.
        let code = match code {
            crate::simulate::codes::BACKEND_ERROR | crate::simulate::codes::RATE_LIMIT_EXCEEDED => {
                crate::simulate::codes::INVALID_PROMPT
            }
            other => other,
        };
        let tries = if attempts == 1 {
            "1 attempt".to_string()
        } else {
            format!("{attempts} attempts")
        };
        let mut message = format!(
            "codex-litellm ({}): {} [{tries}]",
            self.provider,
            fault.describe()
        );
        if rate_limited {
            // The server's Retry-After may be an HTTP date or 1e9: what the user is told is
            // capped like what the bridge waits.
            let wait = fault
                .retry_after_ms()
                .unwrap_or(self.options.retry_max_delay_ms)
                .min(self.options.max_retry_after_secs.saturating_mul(1000))
                .max(1000);
            message.push_str(&format!(". Please try again in {}s.", wait.div_ceil(1000)));
        }
        if let Some(hint) = hint_for(fault) {
            message.push_str(". ");
            message.push_str(hint);
        }
        // Codex may log or persist this text: the same redaction as telemetry.
        (code, crate::redact::redact_text(&message))
    }

    /// A request that cannot be sent as it is (bad Responses input, or a chat body that
    /// cannot be encoded): the turn fails before any attempt.
    fn refuse(
        &self,
        guard: &mut ReportGuard,
        detail: String,
        model: &str,
        started: Instant,
    ) -> BridgeReply {
        let identity = ResponseIdentity::for_answer(&ChatAnswer::default(), model, now_secs());
        self.fail(guard, Fault::BadRequest { detail }, identity, 0, started)
    }

    fn fail(
        &self,
        guard: &mut ReportGuard,
        fault: Fault,
        identity: ResponseIdentity,
        attempts: u32,
        started: Instant,
    ) -> BridgeReply {
        self.fail_after(guard, fault, identity, attempts, started, None)
    }

    /// Ends the turn on `fault`. When the backend ended its answer with an error of its
    /// own, the reasoning and text it sent before the error are the model's and are shown
    /// first (no tool call: those only run from a complete answer).
    fn fail_after(
        &self,
        guard: &mut ReportGuard,
        fault: Fault,
        identity: ResponseIdentity,
        attempts: u32,
        started: Instant,
        before_error: Option<ChatAnswer>,
    ) -> BridgeReply {
        let (code, message) = self.failure_message(&fault, attempts.max(1));
        let reply = match self.failure_signal(&fault) {
            FailureSignal::Http { status } => BridgeReply::HttpError {
                status,
                headers: HeaderMap::new(),
                body: json!({"error": {"message": message, "type": "codex_litellm_backend_error"}})
                    .to_string(),
            },
            FailureSignal::Failed { .. } => {
                let events = match before_error {
                    Some(mut partial) => {
                        crate::postprocess::split_harmony(&mut partial);
                        if self.options.think_tags {
                            crate::postprocess::extract_think_tags(&mut partial);
                        }
                        simulate_failure_after(&partial, identity, code, &message)
                    }
                    _ => simulate_failure(identity, code, &message),
                };
                guard.report.count_events(&events);
                sse_reply(encode_sse(&events))
            }
        };
        guard.report.outcome = Outcome::Failed {
            code: code.to_string(),
            message,
            fault,
        };
        guard.report.total_ms = started.elapsed().as_millis() as u64;
        guard.finish();
        reply
    }

    fn new_report(&self, url: &str, headers: &HeaderMap) -> ExchangeReport {
        ExchangeReport {
            started_at_ms: now_millis(),
            // The conversation: `thread-id` survives a resume (rust-v0.148.0); `session-id`
            // and the older `session_id` come next.
            session_id: ["thread-id", "session-id", "session_id"]
                .into_iter()
                .find_map(|name| header_text(headers, name)),
            turn_id: header_text(headers, "x-codex-turn-metadata").and_then(|meta| {
                serde_json::from_str::<Value>(&meta)
                    .ok()?
                    .get("turn_id")?
                    .as_str()
                    .map(str::to_string)
            }),
            provider: self.provider.clone(),
            provider_id: self.provider_id.clone(),
            url: redact_url(&chat_completions_url(url)),
            mode: self.options.mode,
            ..ExchangeReport::default()
        }
    }
}

/// Which text live mode holds back: what tool-call recovery could turn into a call.
fn hold_back(options: &BridgeOptions) -> HoldBack {
    match options.tool_call_recovery {
        ToolCallRecovery::Off => HoldBack::Off,
        ToolCallRecovery::WholeAnswer => HoldBack::Start,
        ToolCallRecovery::Anywhere => HoldBack::Anywhere,
    }
}

/// A translated request as the bridge keeps it: the chat body serialized once (sent as is
/// by every attempt), never also as a `Value` (on a big history that doubled the memory).
struct Chat {
    body: EncodedBody,
    tool_map: ToolMap,
    summary: RequestSummary,
}

impl Chat {
    fn encode(request: ChatRequest, splices: Option<&Splices>) -> Result<Self, serde_json::Error> {
        Ok(Self {
            body: EncodedBody::encode_owned(request.body, splices)?,
            tool_map: request.tool_map,
            summary: request.summary,
        })
    }

    /// A request made from this one's body by `edit` (a continuation, a prefill).
    fn derived(&self, edit: impl FnOnce(Value) -> Value) -> Option<EncodedBody> {
        derive(&self.body, edit)
    }
}

/// The body with `content: ""` on assistant tool-call messages without text; `None` when
/// it has no such message (nothing to change) or cannot be rebuilt.
fn emptied_tool_call_content(body: &EncodedBody) -> Option<EncodedBody> {
    let value = body.decode().ok()?;
    let emptied = with_empty_tool_call_content(&value)?;
    EncodedBody::encode_owned(emptied, None).ok()
}

fn derive(body: &EncodedBody, edit: impl FnOnce(Value) -> Value) -> Option<EncodedBody> {
    match body
        .decode()
        .and_then(|body| EncodedBody::encode_owned(edit(body), None))
    {
        Ok(body) => Some(body),
        Err(err) => {
            warn!("codex-litellm: a follow-up request could not be built: {err}");
            None
        }
    }
}

/// What the report keeps of the chat body below telemetry level `full`: its settings
/// without `messages` and `tools` (enough to explain an answer, e.g. its `max_tokens`,
/// without a second copy of a big history).
fn report_body(body: &Value) -> Value {
    match body {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(key, _)| *key != "messages" && *key != "tools")
                .map(|(key, value)| (key.clone(), value.clone()))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Where the turn's requests go: the chat endpoint, the options, and the Responses body
/// they are translated from (with the loop guard's note, if any).
#[derive(Clone)]
struct Route {
    /// `<provider>/<model>`.
    key: String,
    target: Target,
    options: Arc<BridgeOptions>,
    /// The Responses body as encoded (upstream's bytes, shared), parsed again only when
    /// a fallback or a nudge translates it anew, with the loop guard's note if it gave one.
    responses: Bytes,
    note: Option<String>,
    /// Whether the turn so far called a tool (the continuation guard's input).
    used_tools: bool,
}

impl Route {
    fn responses_body(&self) -> Option<(Value, Splices)> {
        match crate::lean::parse(&self.responses, crate::lean::MIN_SPLICE) {
            Ok((body, splices)) => Some(match &self.note {
                Some(note) => (
                    codex_litellm_guards::loop_guard::with_note(&body, note),
                    splices,
                ),
                None => (body, splices),
            }),
            Err(err) => {
                warn!("codex-litellm: the Responses body could not be read again: {err}");
                None
            }
        }
    }
}

/// The report names the model (and provider) the request went to from now on: it is
/// counted for that model, and `fallback` says why.
fn record_switch(
    report: &mut ExchangeReport,
    primary: &str,
    route: &Route,
    chat: &Chat,
    reason: &str,
    detail: String,
) {
    report.request = chat.summary.clone();
    if let Some((provider, _)) = route.key.split_once('/') {
        report.provider = provider.to_string();
    }
    report.fallback = Some(crate::report::FallbackReport {
        from: primary.to_string(),
        to: route.key.clone(),
        reason: reason.to_string(),
        detail,
    });
}

/// How a fallback model is named to the user: its name, with its provider when it is
/// another one.
fn label(candidate: &crate::guards::Candidate) -> String {
    match &candidate.provider {
        Some(_) => candidate.key.clone(),
        None => candidate.model.clone(),
    }
}

/// The answer to a nudge after the answer that promised: a new paragraph, its calls.
fn follow_up(answer: &mut ChatAnswer, next: ChatAnswer) {
    if !next.text.trim().is_empty() && !answer.text.is_empty() {
        answer.text.push_str("\n\n");
    }
    splice(answer, next);
}

/// Why the retry loop stopped without an answer.
struct GaveUp {
    fault: Fault,
    /// What the last attempt received before the backend's error, if it sent one.
    before_error: Option<ChatAnswer>,
}

/// One budget per turn, across every attempt and continuation of one request to the
/// bridge: attempts (`max_attempts`) and time (`turn_timeout_secs`). When it is spent the
/// bridge ends the turn with a code Codex does not retry, so retries never multiply.
struct TurnBudget {
    attempts_left: u32,
    deadline: Instant,
}

impl TurnBudget {
    fn new(options: &BridgeOptions, started: Instant) -> Self {
        let turn = std::time::Duration::from_secs(options.turn_timeout_secs);
        Self {
            attempts_left: options.max_attempts(),
            // Bounded options cannot overflow; code-built ones get the attempt caps alone.
            deadline: started
                .checked_add(turn)
                .unwrap_or_else(|| started + std::time::Duration::from_secs(86_400)),
        }
    }
}

fn hint_for(fault: &Fault) -> Option<&'static str> {
    match fault {
        Fault::Connect { .. } => Some(
            "Is the gateway running? Check the provider's base_url (LITELLM_BASE_URL for the built-in litellm provider)",
        ),
        Fault::HttpStatus {
            status: 401 | 403, ..
        } => Some(
            "Check the API key (LITELLM_API_KEY for the built-in litellm provider, or the provider's env_key)",
        ),
        Fault::HttpStatus { status: 404, .. } => Some(
            "Check the model name and the provider's base_url (it should end in /v1 for most gateways)",
        ),
        Fault::IdleStall { .. } | Fault::Timeout { .. } => {
            Some("Raise litellm_bridge.idle_timeout_secs if the model is just slow")
        }
        Fault::EmptyAnswer => {
            Some("The model may not support tool calling or this prompt; try another model")
        }
        _ => None,
    }
}

/// Appends a note the user (and the model, next turn) can act on, and drops tool calls
/// whose arguments were cut in half: running them would act on garbage.
fn mark_truncated(answer: &mut ChatAnswer, max_output_tokens: Option<u64>) {
    let note = truncation_note(&mut answer.tool_calls, max_output_tokens);
    if !answer.text.is_empty() {
        answer.text.push_str("\n\n");
    }
    answer.text.push_str(&note);
}

/// The chat request that asks for the rest of a cut-off answer.
fn continuation_body(mut body: Value, answer: &ChatAnswer) -> Value {
    if let Some(messages) = body.get_mut("messages").and_then(Value::as_array_mut) {
        messages.push(json!({"role": "assistant", "content": answer.text}));
        messages.push(json!({
            "role": "user",
            "content": "Your previous answer was cut off by the output limit. Continue exactly where it stopped, without repeating anything."
        }));
    }
    body
}

/// The chat request that asks for the rest of `shown` as a prefilled assistant message,
/// the way `style` says the backend takes one.
fn prefill_body(mut body: Value, shown: &str, style: AssistantPrefill) -> Value {
    let mut prefill = json!({"role": "assistant", "content": shown});
    match style {
        AssistantPrefill::Prefix => prefill["prefix"] = json!(true),
        AssistantPrefill::ContinueFinalMessage => {
            body["continue_final_message"] = json!(true);
            body["add_generation_prompt"] = json!(false);
        }
        AssistantPrefill::Trailing | AssistantPrefill::Auto | AssistantPrefill::Off => {}
    }
    if let Some(messages) = body.get_mut("messages").and_then(Value::as_array_mut) {
        messages.push(prefill);
    }
    body
}

/// Whether `next` continues `shown` rather than answering afresh: it brings something, and
/// does not start over with the start of the shown text (what a backend that ignores the
/// prefill sends).
fn continues(shown: &str, next: &ChatAnswer) -> bool {
    let text = next.text.trim_start();
    if text.is_empty() {
        return !next.tool_calls.is_empty();
    }
    let head: String = shown.trim_start().chars().take(24).collect();
    head.is_empty() || !text.starts_with(&head)
}

fn splice(answer: &mut ChatAnswer, next: ChatAnswer) {
    answer.text.push_str(&next.text);
    if !next.reasoning.is_empty() {
        if !answer.reasoning.is_empty() {
            answer.reasoning.push_str("\n\n");
        }
        answer.reasoning.push_str(&next.reasoning);
    }
    answer.tool_calls.extend(next.tool_calls);
    answer.finish_reason = next.finish_reason;
    answer.usage = match (answer.usage, next.usage) {
        (Some(a), Some(b)) => Some(a.plus(b)),
        (a, b) => a.or(b),
    };
}

fn sse_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers
}

fn sse_reply(bytes: Bytes) -> BridgeReply {
    BridgeReply::Stream {
        headers: sse_headers(),
        body: Box::pin(futures::stream::once(async move { Ok(bytes) })),
    }
}

/// The credentials Codex sends (its configured key, whatever its shape) are replaced
/// literally wherever a backend echoes them.
fn register_header_secrets(headers: &HeaderMap) {
    for (name, value) in headers {
        if !is_secret_name(name.as_str()) {
            continue;
        }
        let Ok(value) = value.to_str() else {
            continue;
        };
        crate::redact::register_secret(value);
        if let Some((_scheme, credential)) = value.split_once(' ') {
            crate::redact::register_secret(credential);
        }
    }
}

/// `{base}/responses?q` -> `{base}/chat/completions?q`.
pub fn chat_completions_url(responses_url: &str) -> String {
    let (path, query) = match responses_url.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (responses_url, None),
    };
    let path = path.trim_end_matches('/');
    let base = path.strip_suffix("/responses").unwrap_or(path);
    match query {
        Some(query) => format!("{base}/chat/completions?{query}"),
        None => format!("{base}/chat/completions"),
    }
}

/// Codex's headers minus the ones that describe its own body.
fn forward_headers(headers: &HeaderMap) -> HeaderMap {
    let mut out = headers.clone();
    for name in [
        header::CONTENT_LENGTH,
        header::CONTENT_TYPE,
        header::CONTENT_ENCODING,
        header::ACCEPT,
        header::HOST,
        header::TRANSFER_ENCODING,
        header::CONNECTION,
    ] {
        out.remove(name);
    }
    out.remove("openai-beta");
    out
}

/// Removes credentials from a URL: the one rule for query secrets, shared with text
/// redaction ([`crate::redact::redact_url`]), so `?code=` is hidden here too.
pub fn redact_url(url: &str) -> String {
    crate::redact::redact_url(url)
}

/// Whether a header name, JSON key or query parameter names a credential: anything
/// containing `key`, `secret`, `auth`, `cookie`, `password`, `credential`, `signature` or
/// `token` (but not `tokens`, which counts tokens: `max_tokens`, `x-ratelimit-remaining-tokens`),
/// and `sig` (signed-URL signatures). The one rule for the bridge and for telemetry.
pub fn is_secret_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    let named = [
        "key",
        "secret",
        "auth",
        "cookie",
        "password",
        "passwd",
        "credential",
        "signature",
    ]
    .iter()
    .any(|needle| lower.contains(needle));
    named
        || lower == "sig"
        || lower
            .replace("tokens", "")
            .replace("tokenizer", "")
            .contains("token")
}

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn now_secs() -> i64 {
    (now_millis() / 1000) as i64
}

/// Aborts the pass-through task when the body Codex reads is dropped.
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Sends the report exactly once: when the bridge finishes, or, if Codex drops the request
/// first (the user interrupted), as `cancelled`.
struct ReportGuard {
    report: ExchangeReport,
    observer: Option<Arc<dyn ExchangeObserver>>,
    sent: bool,
    started: Instant,
}

impl ReportGuard {
    fn new(report: ExchangeReport, observer: Option<Arc<dyn ExchangeObserver>>) -> Self {
        Self {
            report,
            observer,
            sent: false,
            started: Instant::now(),
        }
    }

    fn finish(&mut self) {
        if self.sent {
            return;
        }
        self.sent = true;
        if let Some(observer) = &self.observer {
            observer.on_exchange(&self.report);
        }
    }
}

impl Drop for ReportGuard {
    fn drop(&mut self) {
        if !self.sent {
            self.report.outcome = Outcome::Cancelled;
            self.report.total_ms = self.started.elapsed().as_millis() as u64;
            self.finish();
        }
    }
}

/// The backend refused a request because an assistant message's `content` was `null`:
/// llama-cpp-python's server (HTTP 500, pydantic: "...AssistantMessage', 'content'), 'msg':
/// 'Input should be a valid string', 'input': None"), Gemini's OpenAI endpoint (400,
/// "Expected string or list of content parts, got: null"). Asked only when the request
/// had such a `null`; a wrong guess costs one request with `""`.
fn refuses_null_content(fault: &Fault) -> bool {
    let Fault::HttpStatus {
        status: 400 | 422 | 500,
        message,
        ..
    } = fault
    else {
        return false;
    };
    let message = message.to_ascii_lowercase();
    message.contains("content")
        && ["null", "none", "valid string", "string or list"]
            .iter()
            .any(|word| message.contains(word))
}

/// Chat URLs whose backend refused `content: null` in this process (`tool_call_content =
/// "auto"` sends them `""` from then on). With `learn`, records `url`; returns whether it
/// was already known.
fn null_content_refused_by(url: &str, learn: bool) -> bool {
    static REFUSED: Learned = Learned::new();
    REFUSED.check(url, learn)
}

/// `<chat URL> <provider>/<model>` pairs whose streamed request got HTTP 200 and no byte in
/// this process (they are asked without streaming from then on). With `learn`, records
/// `key`; returns whether it was already known.
fn empty_stream_seen(key: &str, learn: bool) -> bool {
    static SEEN: Learned = Learned::new();
    SEEN.check(key, learn)
}

/// What the bridge learned about a backend for the rest of the process.
struct Learned(std::sync::Mutex<Option<std::collections::HashSet<String>>>);

impl Learned {
    const fn new() -> Self {
        Self(std::sync::Mutex::new(None))
    }

    /// With `learn`, records `key`; returns whether it was already known.
    fn check(&self, key: &str, learn: bool) -> bool {
        let mut known = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let known = known.get_or_insert_with(Default::default);
        if learn {
            !known.insert(key.to_string())
        } else {
            known.contains(key)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn bridge() -> Bridge {
        Bridge::new(reqwest::Client::new(), BridgeOptions::default(), "test")
    }

    /// The message Codex shows (and may persist) never carries a credential the backend
    /// echoed, in any known shape, nor the key Codex sent, whatever its shape.
    #[test]
    fn user_messages_are_redacted() {
        let bridge = bridge();
        for (text, secret) in crate::redact::tests::ECHOED_SHAPES {
            for fault in [
                Fault::HttpStatus {
                    status: 401,
                    message: text.to_string(),
                    retry_after_ms: None,
                },
                Fault::ErrorInStream {
                    message: text.to_string(),
                    code: None,
                    at_byte: 1,
                },
            ] {
                let (_, message) = bridge.failure_message(&fault, 1);
                assert!(!message.contains(secret), "{message}");
            }
        }
        let key = "gw-unshaped-key-value-8812";
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {key}"))
                .unwrap_or(HeaderValue::from_static("x")),
        );
        register_header_secrets(&headers);
        let echoed = Fault::HttpStatus {
            status: 403,
            message: format!("key {key} is not allowed for this model"),
            retry_after_ms: None,
        };
        let (_, message) = bridge.failure_message(&echoed, 1);
        assert!(!message.contains(key), "{message}");
        assert!(
            message.contains("is not allowed for this model"),
            "{message}"
        );
    }

    /// The prefill request for each style, and what counts as continuing the shown text.
    #[test]
    fn prefill_requests_and_the_continuation_check() {
        let original = json!({"model": "m", "messages": [{"role": "user", "content": "q"}]});
        let last = |style| prefill_body(original.clone(), "The ans", style)["messages"][1].clone();
        assert_eq!(
            last(AssistantPrefill::Trailing),
            json!({"role": "assistant", "content": "The ans"})
        );
        assert_eq!(
            last(AssistantPrefill::Prefix),
            json!({"role": "assistant", "content": "The ans", "prefix": true})
        );
        let vllm = prefill_body(
            original.clone(),
            "The ans",
            AssistantPrefill::ContinueFinalMessage,
        );
        assert_eq!(
            (
                &vllm["continue_final_message"],
                &vllm["add_generation_prompt"]
            ),
            (&json!(true), &json!(false))
        );
        let answer = |text: &str| ChatAnswer {
            text: text.to_string(),
            ..ChatAnswer::default()
        };
        let shown = "This answer will be cut off in the midd";
        assert!(continues(shown, &answer("le of a word.")));
        assert!(!continues(
            shown,
            &answer("This answer will be cut off in the middle.")
        ));
        assert!(!continues(shown, &answer("  ")));
    }

    #[test]
    fn urls() {
        assert_eq!(
            chat_completions_url("http://h:4000/v1/responses"),
            "http://h:4000/v1/chat/completions"
        );
        assert_eq!(
            chat_completions_url("http://h/v1/responses?api-version=1"),
            "http://h/v1/chat/completions?api-version=1"
        );
        assert_eq!(
            redact_url("https://user:pw@h/v1/chat/completions?api_key=sk-123&api-version=2"),
            "https://h/v1/chat/completions?api_key=***&api-version=2"
        );
        assert_eq!(
            redact_url("https://h/v1/chat/completions?sig=abc&max_tokens=5&access_token=t"),
            "https://h/v1/chat/completions?sig=***&max_tokens=5&access_token=***"
        );
        assert_eq!(
            redact_url("https://h/api/chat/completions?code=AzFnHostKey_abc"),
            "https://h/api/chat/completions?code=***"
        );
    }

    #[test]
    fn a_refused_null_content_is_told_from_other_errors() {
        let http = |status, message: &str| Fault::HttpStatus {
            status,
            message: message.to_string(),
            retry_after_ms: None,
        };
        for refused in [
            http(
                500,
                "7 validation errors: {'type': 'string_type', 'loc': ('body', 'messages', 1, 'ChatCompletionRequestAssistantMessage', 'content'), 'msg': 'Input should be a valid string', 'input': None}",
            ),
            http(400, "Expected string or list of content parts, got: null"),
        ] {
            assert!(refuses_null_content(&refused), "{refused:?}");
        }
        for other in [
            http(500, "Internal Server Error"),
            http(400, "This model's maximum context length is 8192 tokens"),
            http(401, "content null"),
            http(503, "content must not be null"),
        ] {
            assert!(!refuses_null_content(&other), "{other:?}");
        }
    }
}
