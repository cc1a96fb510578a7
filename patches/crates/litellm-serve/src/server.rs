//! The HTTP shell: routes, auth, limits, turn lifecycle, shutdown.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering;
use std::time::Duration;
use std::time::SystemTime;
use std::time::UNIX_EPOCH;

use axum::Router;
use axum::body::Body;
use axum::body::Bytes;
use axum::extract::Request;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::HeaderValue;
use axum::http::StatusCode;
use axum::http::header;
use axum::middleware::Next;
use axum::response::IntoResponse;
use axum::response::Response;
use axum::routing::get;
use axum::routing::post;
use futures::StreamExt;
use serde_json::Value;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::OwnedSemaphorePermit;
use tokio::sync::Semaphore;
use tokio::sync::mpsc;
use tokio::sync::oneshot;
use tokio::sync::watch;

use crate::agent::Agent;
use crate::agent::AgentError;
use crate::agent::AgentEvent;
use crate::agent::Turn;
use crate::agent::TurnRequest;
use crate::chat::ChatFrame;
use crate::chat::ChatMapper;
use crate::chat::ChatMeta;
use crate::config::ConfigError;
use crate::config::ServeConfig;
use crate::conversation::Conversation;
use crate::conversation::ConversationError;
use crate::conversation::Role;
use crate::conversation::content_text;
use crate::conversation::with_transcript;
use crate::responses::ResponseMeta;
use crate::responses::ResponsesMapper;
use crate::store::Claim;
use crate::store::Outcome;
use crate::store::StoreError;
use crate::store::ThreadStore;

/// Largest request body accepted (a long chat history fits; a stray upload does not).
const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

// ---------------------------------------------------------------------------------------
// Errors in OpenAI's shape.

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    kind: &'static str,
    code: Option<&'static str>,
    param: Option<&'static str>,
    message: String,
    retry_after: Option<u64>,
}

impl ApiError {
    fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            kind,
            code: None,
            param: None,
            message: message.into(),
            retry_after: None,
        }
    }

    fn invalid(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            message.into(),
        )
    }

    fn code(mut self, code: &'static str) -> Self {
        self.code = Some(code);
        self
    }

    fn param(mut self, param: &'static str) -> Self {
        self.param = Some(param);
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": {
            "message": self.message, "type": self.kind, "param": self.param, "code": self.code,
        }});
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        response
    }
}

impl From<ConversationError> for ApiError {
    fn from(e: ConversationError) -> Self {
        ApiError::invalid(e.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        let message = e.to_string();
        match e {
            StoreError::UnknownResponse(_) => {
                ApiError::new(StatusCode::NOT_FOUND, "invalid_request_error", message)
                    .code("previous_response_not_found")
                    .param("previous_response_id")
            }
            StoreError::NotLatest { .. } => {
                ApiError::new(StatusCode::CONFLICT, "invalid_request_error", message)
                    .code("previous_response_not_latest")
                    .param("previous_response_id")
            }
            StoreError::Busy => {
                ApiError::new(StatusCode::CONFLICT, "invalid_request_error", message)
                    .code("conversation_busy")
            }
        }
    }
}

impl From<AgentError> for ApiError {
    fn from(e: AgentError) -> Self {
        let message = e.to_string();
        match e {
            AgentError::UnknownThread(_) => {
                ApiError::new(StatusCode::NOT_FOUND, "invalid_request_error", message)
                    .code("previous_response_not_found")
            }
            AgentError::UnknownModel(_) => {
                ApiError::new(StatusCode::NOT_FOUND, "invalid_request_error", message)
                    .code("model_not_found")
                    .param("model")
            }
            AgentError::InvalidRequest(_) => ApiError::invalid(message),
            AgentError::Failed(_) => {
                ApiError::new(StatusCode::BAD_GATEWAY, "server_error", message)
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Shared state.

/// Turns running now, so shutdown can wait for or interrupt them.
#[derive(Default)]
struct Active {
    turns: Mutex<HashMap<u64, (String, String)>>,
    next: AtomicU64,
    changed: tokio::sync::Notify,
}

impl Active {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, (String, String)>> {
        self.turns
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn insert(&self, thread: &str, turn: &str) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.lock()
            .insert(id, (thread.to_string(), turn.to_string()));
        id
    }

    fn remove(&self, id: u64) {
        self.lock().remove(&id);
        self.changed.notify_waiters();
    }

    fn len(&self) -> usize {
        self.lock().len()
    }

    fn all(&self) -> Vec<(String, String)> {
        self.lock().values().cloned().collect()
    }
}

pub struct AppState {
    agent: Arc<dyn Agent>,
    config: ServeConfig,
    store: ThreadStore,
    slots: Arc<Semaphore>,
    queued: AtomicUsize,
    active: Active,
    counter: AtomicU64,
    shutting_down: AtomicBool,
    /// Flips to true when in-flight turns must be interrupted.
    interrupt_all: watch::Sender<bool>,
}

impl AppState {
    pub fn new(config: ServeConfig, agent: Arc<dyn Agent>) -> Arc<Self> {
        let (interrupt_all, _) = watch::channel(false);
        Arc::new(Self {
            agent,
            store: ThreadStore::new(config.max_threads),
            slots: Arc::new(Semaphore::new(config.max_concurrent)),
            queued: AtomicUsize::new(0),
            active: Active::default(),
            counter: AtomicU64::new(1),
            shutting_down: AtomicBool::new(false),
            interrupt_all,
            config,
        })
    }

    fn new_id(&self, prefix: &str) -> String {
        if self.config.deterministic {
            let n = self.counter.fetch_add(1, Ordering::Relaxed);
            return format!("{prefix}{n:04}");
        }
        let bytes: [u8; 12] = rand::random();
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        format!("{prefix}{hex}")
    }

    fn now(&self) -> u64 {
        if self.config.deterministic {
            return 1_700_000_000;
        }
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }

    fn too_busy(&self) -> ApiError {
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit_error",
            format!(
                "all {} turn slots are busy and the queue is full; retry after {} s",
                self.config.max_concurrent, self.config.retry_after_secs
            ),
        )
        .code("server_busy");
        e.retry_after = Some(self.config.retry_after_secs);
        e
    }

    /// A turn slot, waiting in the bounded queue if all are busy.
    async fn acquire_slot(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        if let Ok(permit) = self.slots.clone().try_acquire_owned() {
            return Ok(permit);
        }
        if self.queued.fetch_add(1, Ordering::SeqCst) >= self.config.max_queue {
            self.queued.fetch_sub(1, Ordering::SeqCst);
            return Err(self.too_busy());
        }
        struct Dequeue<'a>(&'a AtomicUsize);
        impl Drop for Dequeue<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::SeqCst);
            }
        }
        let _queued = Dequeue(&self.queued);
        match tokio::time::timeout(
            self.config.queue_timeout,
            self.slots.clone().acquire_owned(),
        )
        .await
        {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(self.too_busy()),
        }
    }

    /// Turns running now.
    pub fn running(&self) -> usize {
        self.active.len()
    }

    /// Requests waiting for a turn slot now.
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::SeqCst)
    }

    fn resolve_cwd(&self, requested: Option<&str>) -> Result<PathBuf, ApiError> {
        resolve_cwd(&self.config.root, requested)
    }
}

/// The request's working directory: the root, or a directory inside it. Symlinks are
/// resolved first, so none leads out.
pub fn resolve_cwd(root: &Path, requested: Option<&str>) -> Result<PathBuf, ApiError> {
    let Some(requested) = requested else {
        return Ok(root.to_path_buf());
    };
    let outside = || {
        ApiError::invalid(
            "cwd must be an existing directory inside the served root (serve's --cwd); it cannot leave it",
        )
        .param("cwd")
        .code("cwd_outside_root")
    };
    let path = Path::new(requested);
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        root.join(path)
    };
    let canonical = std::fs::canonicalize(&joined).map_err(|_| outside())?;
    if !canonical.starts_with(root) || !canonical.is_dir() {
        return Err(outside());
    }
    Ok(canonical)
}

// ---------------------------------------------------------------------------------------
// Router and middleware.

pub fn router(state: Arc<AppState>) -> Router {
    let api = Router::new()
        .route("/v1/models", get(models))
        .route("/v1/responses", post(responses))
        .route("/v1/chat/completions", post(chat_completions))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), guard));
    Router::new()
        .route("/healthz", get(healthz))
        .merge(api)
        .fallback(not_found)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// True when `Host` names this machine: without a key, a web page that rebinds its own
/// name to 127.0.0.1 must not reach the agent.
fn host_is_loopback(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').map_or(host, |(name, _)| name)
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Compares digests, so neither the key's bytes nor its length show in the timing.
fn key_matches(given: &str, key: &str) -> bool {
    use sha2::Digest;
    let given = sha2::Sha256::digest(given.as_bytes());
    let key = sha2::Sha256::digest(key.as_bytes());
    constant_time_eq::constant_time_eq(given.as_slice(), key.as_slice())
}

async fn guard(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    match &state.config.api_key {
        Some(key) => {
            let given = request
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .unwrap_or("");
            if !key_matches(given, key) {
                return ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "invalid_request_error",
                    "missing or wrong API key; send Authorization: Bearer <the key serve was started with>",
                )
                .code("invalid_api_key")
                .into_response();
            }
        }
        None => {
            if !host_is_loopback(request.headers()) {
                return ApiError::new(
                    StatusCode::FORBIDDEN,
                    "invalid_request_error",
                    "this server has no API key, so it only answers requests addressed to localhost",
                )
                .into_response();
            }
        }
    }
    if state.shutting_down.load(Ordering::SeqCst) && request.method() == axum::http::Method::POST {
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "server_error",
            "the server is shutting down",
        )
        .into_response();
    }
    next.run(request).await
}

async fn healthz() -> impl IntoResponse {
    axum::Json(json!({"status": "ok"}))
}

async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "invalid_request_error",
        "unknown endpoint; this server serves GET /v1/models, POST /v1/responses, POST /v1/chat/completions and GET /healthz",
    )
}

async fn models(State(state): State<Arc<AppState>>) -> Result<impl IntoResponse, ApiError> {
    let models = state.agent.models().await?;
    let data: Vec<Value> = models
        .into_iter()
        .map(|m| {
            let mut v =
                json!({"id": m.id, "object": "model", "created": 0, "owned_by": "codex-litellm"});
            if let Some(cw) = m.context_window {
                v["context_window"] = json!(cw);
            }
            v
        })
        .collect();
    Ok(axum::Json(json!({"object": "list", "data": data})))
}

fn parse_json(
    headers: &HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Value, ApiError> {
    let body = body.map_err(|rejection| {
        let status = rejection.status();
        let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
            format!(
                "the body is larger than {} MiB",
                MAX_BODY_BYTES / (1024 * 1024)
            )
        } else {
            format!("the body could not be read: {}", rejection.body_text())
        };
        ApiError::new(status, "invalid_request_error", message)
    })?;
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("application/json"));
    if !is_json {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_request_error",
            "send the body as JSON with Content-Type: application/json",
        ));
    }
    let value: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::invalid(format!("the body is not valid JSON: {e}")))?;
    if !value.is_object() {
        return Err(ApiError::invalid("the body must be a JSON object"));
    }
    Ok(value)
}

fn opt_str<'a>(body: &'a Value, key: &'static str) -> Result<Option<&'a str>, ApiError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ApiError::invalid(format!("`{key}` must be a string")).param(key)),
    }
}

fn opt_bool(body: &Value, key: &'static str) -> Result<Option<bool>, ApiError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(ApiError::invalid(format!("`{key}` must be true or false")).param(key)),
    }
}

/// Codex's reasoning efforts; anything else is refused before a turn starts.
const EFFORTS: &[&str] = &["none", "minimal", "low", "medium", "high", "xhigh"];

fn check_effort(effort: Option<&str>, param: &'static str) -> Result<Option<String>, ApiError> {
    match effort {
        None => Ok(None),
        Some(e) if EFFORTS.contains(&e) => Ok(Some(e.to_string())),
        Some(e) => Err(ApiError::invalid(format!(
            "reasoning effort `{e}` is not one of {}",
            EFFORTS.join(", ")
        ))
        .param(param)),
    }
}

async fn check_model(state: &AppState, model: Option<&str>) -> Result<String, ApiError> {
    let models = state.agent.models().await?;
    match model {
        Some(m) if models.is_empty() || models.iter().any(|x| x.id == m) => Ok(m.to_string()),
        Some(m) => Err(AgentError::UnknownModel(m.to_string()).into()),
        None => Ok(models.first().map(|m| m.id.clone()).unwrap_or_default()),
    }
}

// ---------------------------------------------------------------------------------------
// One turn: claim a thread, start it, drive it to the client.

/// A parsed request, whatever the endpoint.
struct Prepared {
    conversation: Conversation,
    previous_response_id: Option<String>,
    model: String,
    effort: Option<String>,
    cwd: PathBuf,
    store: bool,
    stream: bool,
}

/// The input of the turn and the thread it goes to.
struct Routed {
    claim: Option<Claim>,
    input: String,
    /// The history as the client will resend it once this turn's answer is appended.
    history: Vec<(Role, String)>,
}

fn route(state: &AppState, p: &Prepared) -> Result<Routed, ApiError> {
    if let Some(prev) = &p.previous_response_id {
        let claim = state.store.claim_response(prev)?;
        let input: Vec<&str> = p
            .conversation
            .messages
            .iter()
            .map(|(role, text)| match role {
                Role::User => Ok(text.as_str()),
                Role::Assistant => Err(ApiError::invalid(
                    "with previous_response_id, `input` holds only the new user input",
                )
                .param("input")),
            })
            .collect::<Result<_, _>>()
            .inspect_err(|_| state.store.release(claim.clone()))?;
        if input.is_empty() {
            state.store.release(claim);
            return Err(ApiError::invalid("`input` has no user text").param("input"));
        }
        return Ok(Routed {
            claim: Some(claim),
            input: input.join("\n\n"),
            history: Vec::new(),
        });
    }
    let (history, last) = p.conversation.split_last_user()?;
    let mut full = history.to_vec();
    full.push((Role::User, last.to_string()));
    if history.is_empty() {
        return Ok(Routed {
            claim: None,
            input: last.to_string(),
            history: full,
        });
    }
    let key = state.store.key(history);
    match state.store.claim_history(key)? {
        Some(claim) => Ok(Routed {
            claim: Some(claim),
            input: last.to_string(),
            history: full,
        }),
        None => Ok(Routed {
            claim: None,
            input: with_transcript(history, last),
            history: full,
        }),
    }
}

/// Holds the slot and the thread while a turn runs. Dropped before the turn ended (the
/// client went away), it interrupts the turn and frees the slot once the agent has stopped.
struct TurnGuard {
    state: Arc<AppState>,
    thread_id: String,
    turn_id: String,
    permit: Option<OwnedSemaphorePermit>,
    active_id: u64,
    /// Remembered if the turn is cut off (store: true): the id the client saw.
    response_id: Option<String>,
    forget: bool,
    ended: bool,
}

impl TurnGuard {
    fn end(mut self, outcome: Outcome) {
        self.ended = true;
        let forget = self.state.store.finish(&self.thread_id, outcome);
        forget_all(&self.state, forget);
        self.state.active.remove(self.active_id);
        drop(self.permit.take());
    }
}

fn forget_all(state: &Arc<AppState>, threads: Vec<String>) {
    if threads.is_empty() {
        return;
    }
    let agent = state.agent.clone();
    if let Ok(handle) = tokio::runtime::Handle::try_current() {
        handle.spawn(async move {
            for t in threads {
                agent.forget(t).await;
            }
        });
    }
}

impl Drop for TurnGuard {
    fn drop(&mut self) {
        if self.ended {
            return;
        }
        let outcome = Outcome {
            response_id: self.response_id.take(),
            history_key: None,
            forget: self.forget,
        };
        let state = self.state.clone();
        let thread = self.thread_id.clone();
        let thread_for_interrupt = thread.clone();
        let turn = self.turn_id.clone();
        let permit = self.permit.take();
        let active_id = self.active_id;
        tracing::info!(thread = %thread, turn = %turn, "client went away; interrupting its turn");
        // The thread, the slot and the shutdown count are released only once the agent has
        // stopped, so no second turn can start on the thread while this one winds down.
        let release = move |state: &Arc<AppState>| {
            let forget = state.store.finish(&thread, outcome);
            forget_all(state, forget);
            state.active.remove(active_id);
            drop(permit);
        };
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn(async move {
                    state.agent.interrupt(thread_for_interrupt, turn).await;
                    release(&state);
                });
            }
            Err(_) => release(&state),
        }
    }
}

/// What the turn's output goes to.
enum Sink {
    Stream(mpsc::Sender<Bytes>),
    Final(Option<oneshot::Sender<Result<Value, ApiError>>>),
}

impl Sink {
    async fn closed(&mut self) {
        match self {
            Sink::Stream(tx) => tx.closed().await,
            Sink::Final(Some(tx)) => tx.closed().await,
            Sink::Final(None) => std::future::pending().await,
        }
    }

    /// False when the client is gone.
    async fn send(&mut self, frames: Vec<String>) -> bool {
        if let Sink::Stream(tx) = self {
            for frame in frames {
                if tx.send(Bytes::from(frame)).await.is_err() {
                    return false;
                }
            }
        }
        true
    }
}

/// Either endpoint's mapping, as the driver needs it.
enum Mapper {
    Responses(Box<ResponsesMapper>),
    Chat(Box<ChatMapper>),
}

impl Mapper {
    fn start(&mut self) -> Vec<String> {
        match self {
            Mapper::Responses(m) => m
                .start()
                .iter()
                .map(crate::responses::StreamEvent::to_sse)
                .collect(),
            Mapper::Chat(m) => m.start().iter().map(ChatFrame::to_sse).collect(),
        }
    }

    fn on_event(&mut self, event: AgentEvent) -> Vec<String> {
        match self {
            Mapper::Responses(m) => m
                .on_event(event)
                .iter()
                .map(crate::responses::StreamEvent::to_sse)
                .collect(),
            Mapper::Chat(m) => m.on_event(event).iter().map(ChatFrame::to_sse).collect(),
        }
    }

    fn finished(&self) -> bool {
        match self {
            Mapper::Responses(m) => m.is_finished(),
            Mapper::Chat(m) => m.is_finished(),
        }
    }

    fn completed(&self) -> bool {
        match self {
            Mapper::Responses(m) => m.status() == "completed",
            Mapper::Chat(m) => m.completed(),
        }
    }

    fn answer(&self) -> String {
        match self {
            Mapper::Responses(m) => m.output_text(),
            Mapper::Chat(m) => m.content().trim().to_string(),
        }
    }

    /// The non-streamed answer. A failed turn is an HTTP error, so a client that only
    /// looks at the status cannot take a partial answer for a whole one; an interrupted
    /// Responses turn is a `status: "incomplete"` response, as OpenAI reports a cut answer.
    fn final_result(&self) -> Result<Value, ApiError> {
        let failed = |message: &str| {
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                "server_error",
                format!("the agent's turn failed: {message}"),
            )
        };
        match self {
            Mapper::Responses(m) if m.status() == "failed" => {
                let response = m.response();
                let message = response["error"]["message"]
                    .as_str()
                    .unwrap_or("unknown error");
                Err(failed(message))
            }
            Mapper::Responses(m) => Ok(m.response()),
            Mapper::Chat(m) => match m.error() {
                Some(message) => Err(failed(message)),
                None => Ok(m.completion()),
            },
        }
    }
}

async fn drive(
    state: Arc<AppState>,
    mut events: futures::stream::BoxStream<'static, AgentEvent>,
    guard: TurnGuard,
    mut mapper: Mapper,
    mut sink: Sink,
    history: Vec<(Role, String)>,
) {
    let streaming = matches!(sink, Sink::Stream(_));
    // A zero interval would make tokio panic; a few milliseconds is already too chatty.
    let mut keepalive =
        tokio::time::interval(state.config.keepalive.max(Duration::from_millis(10)));
    keepalive.tick().await;
    let mut interrupt_all = state.interrupt_all.subscribe();
    let mut interrupt_sent = false;
    if *interrupt_all.borrow_and_update() {
        // Shutdown began while this turn was starting.
        interrupt_sent = true;
        state
            .agent
            .interrupt(guard.thread_id.clone(), guard.turn_id.clone())
            .await;
    }
    if !sink.send(mapper.start()).await {
        return;
    }
    loop {
        let frames = tokio::select! {
            biased;
            _ = sink.closed() => return,
            changed = interrupt_all.changed(), if !interrupt_sent => {
                if changed.is_err() {
                    interrupt_sent = true;
                } else if *interrupt_all.borrow() {
                    interrupt_sent = true;
                    state.agent.interrupt(guard.thread_id.clone(), guard.turn_id.clone()).await;
                }
                continue;
            }
            event = events.next() => match event {
                Some(event) => mapper.on_event(event),
                None => mapper.on_event(AgentEvent::Failed(
                    "the agent ended the turn without saying how; see the server log".to_string(),
                )),
            },
            _ = keepalive.tick(), if streaming => vec![": keepalive\n\n".to_string()],
        };
        if !sink.send(frames).await {
            return;
        }
        if mapper.finished() {
            break;
        }
    }
    // Only a history the client will resend is remembered (not a previous_response_id turn).
    let history_key = (!guard.forget && mapper.completed() && !history.is_empty()).then(|| {
        let mut full = history;
        full.push((Role::Assistant, mapper.answer()));
        state.store.key(&full)
    });
    let outcome = Outcome {
        response_id: if guard.forget {
            None
        } else {
            guard.response_id.clone()
        },
        history_key,
        forget: guard.forget,
    };
    guard.end(outcome);
    if let Sink::Final(tx) = &mut sink
        && let Some(tx) = tx.take()
    {
        let _ = tx.send(mapper.final_result());
    }
}

/// Start the turn and hand back the HTTP response (a stream, or the final JSON).
async fn run_turn(
    state: Arc<AppState>,
    prepared: Prepared,
    make_mapper: impl FnOnce(&AppState) -> (Mapper, Option<String>),
) -> Result<Response, ApiError> {
    let permit = state.acquire_slot().await?;
    if state.shutting_down.load(Ordering::SeqCst) {
        // Queued before shutdown began: do not start a turn that would be cut off.
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "server_error",
            "the server is shutting down",
        ));
    }
    let routed = route(&state, &prepared)?;
    let request = TurnRequest {
        thread_id: routed.claim.as_ref().map(|c| c.thread_id.clone()),
        input: routed.input.clone(),
        instructions: prepared.conversation.instructions.clone(),
        model: (!prepared.model.is_empty()).then(|| prepared.model.clone()),
        effort: prepared.effort.clone(),
        cwd: prepared.cwd.clone(),
        sandbox: state.config.sandbox,
        ephemeral: !prepared.store,
    };
    let Turn {
        thread_id,
        turn_id,
        events,
    } = match state.agent.start_turn(request).await {
        Ok(turn) => turn,
        Err(e) => {
            if let Some(claim) = routed.claim {
                state.store.release(claim);
            }
            return Err(e.into());
        }
    };
    if routed.claim.is_none() {
        state.store.claim_new(&thread_id);
    }
    let (mapper, response_id) = make_mapper(&state);
    let active_id = state.active.insert(&thread_id, &turn_id);
    let guard = TurnGuard {
        state: state.clone(),
        thread_id,
        turn_id,
        permit: Some(permit),
        active_id,
        response_id,
        forget: !prepared.store,
        ended: false,
    };
    if prepared.stream {
        let (tx, rx) = mpsc::channel::<Bytes>(64);
        tokio::spawn(drive(
            state.clone(),
            events,
            guard,
            mapper,
            Sink::Stream(tx),
            routed.history,
        ));
        let body =
            Body::from_stream(tokio_stream_from(rx).map(Ok::<Bytes, std::convert::Infallible>));
        let mut response = Response::new(body);
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        return Ok(response);
    }
    let (tx, rx) = oneshot::channel();
    // The driver runs in its own task and sees the receiver dropped if the client leaves.
    tokio::spawn(drive(
        state.clone(),
        events,
        guard,
        mapper,
        Sink::Final(Some(tx)),
        routed.history,
    ));
    match rx.await {
        Ok(Ok(value)) => Ok(axum::Json(value).into_response()),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "the turn ended without a result; see the server log",
        )),
    }
}

fn tokio_stream_from(mut rx: mpsc::Receiver<Bytes>) -> impl futures::Stream<Item = Bytes> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

// ---------------------------------------------------------------------------------------
// Endpoints.

async fn responses(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, ApiError> {
    let body = parse_json(&headers, body)?;
    let mut conversation = Conversation::default();
    match body.get("input") {
        Some(Value::String(s)) => conversation.push("user", s.clone())?,
        Some(Value::Array(items)) => {
            for item in items {
                let kind = item
                    .get("type")
                    .and_then(Value::as_str)
                    .unwrap_or("message");
                match kind {
                    "message" => {
                        let role = match item.get("role") {
                            None => "user",
                            Some(Value::String(role)) => role.as_str(),
                            Some(_) => {
                                return Err(ApiError::invalid("a message `role` must be a string")
                                    .param("input"));
                            }
                        };
                        let text = content_text(item.get("content").unwrap_or(&Value::Null))?;
                        conversation.push(role, text)?;
                    }
                    // Our own earlier output, resent by a stateless client.
                    "reasoning" => {}
                    other => {
                        return Err(ApiError::invalid(format!(
                            "input item type `{other}` is not supported: this server runs its own tools, so send messages only"
                        ))
                        .param("input"));
                    }
                }
            }
        }
        _ => {
            return Err(
                ApiError::invalid("`input` must be a string or an array of message items")
                    .param("input"),
            );
        }
    }
    if let Some(extra) = opt_str(&body, "instructions")? {
        let extra = extra.trim();
        if !extra.is_empty() {
            conversation.instructions = Some(match conversation.instructions.take() {
                Some(prev) => format!("{extra}\n\n{prev}"),
                None => extra.to_string(),
            });
        }
    }
    let effort = match body.get("reasoning") {
        None | Some(Value::Null) => None,
        Some(r) => check_effort(opt_str(r, "effort")?, "reasoning.effort")?,
    };
    let cwd = state.resolve_cwd(opt_str(&body, "cwd")?)?;
    let model = check_model(&state, opt_str(&body, "model")?).await?;
    let prepared = Prepared {
        conversation,
        previous_response_id: opt_str(&body, "previous_response_id")?.map(str::to_string),
        model,
        effort,
        cwd,
        store: opt_bool(&body, "store")?.unwrap_or(true),
        stream: opt_bool(&body, "stream")?.unwrap_or(false),
    };
    let meta_base = (
        prepared.model.clone(),
        prepared.conversation.instructions.clone(),
        prepared.previous_response_id.clone(),
        prepared.effort.clone(),
        prepared.store,
    );
    run_turn(state, prepared, move |state| {
        let (model, instructions, previous_response_id, effort, store) = meta_base;
        let id = state.new_id("resp_");
        let meta = ResponseMeta {
            id: id.clone(),
            created_at: state.now(),
            model,
            instructions,
            previous_response_id,
            effort,
            store,
        };
        (
            Mapper::Responses(Box::new(ResponsesMapper::new(meta))),
            Some(id),
        )
    })
    .await
}

async fn chat_completions(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, ApiError> {
    let body = parse_json(&headers, body)?;
    let Some(messages) = body.get("messages").and_then(Value::as_array) else {
        return Err(ApiError::invalid("`messages` must be an array").param("messages"));
    };
    let mut conversation = Conversation::default();
    for message in messages {
        let role = message
            .get("role")
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::invalid("every message needs a `role`").param("messages"))?;
        let text = content_text(message.get("content").unwrap_or(&Value::Null))?;
        conversation.push(role, text)?;
    }
    let include_usage = body
        .get("stream_options")
        .and_then(|o| o.get("include_usage"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let cwd = state.resolve_cwd(opt_str(&body, "cwd")?)?;
    let model = check_model(&state, opt_str(&body, "model")?).await?;
    let prepared = Prepared {
        conversation,
        previous_response_id: None,
        effort: check_effort(opt_str(&body, "reasoning_effort")?, "reasoning_effort")?,
        cwd,
        store: true,
        stream: opt_bool(&body, "stream")?.unwrap_or(false),
        model: model.clone(),
    };
    run_turn(state, prepared, move |state| {
        let meta = ChatMeta {
            id: state.new_id("chatcmpl-"),
            created: state.now(),
            model,
            include_usage,
        };
        (Mapper::Chat(Box::new(ChatMapper::new(meta))), None)
    })
    .await
}

// ---------------------------------------------------------------------------------------
// Serving and shutdown.

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(
        "cannot listen on {addr}: {source} (another server on that port? choose one with --port)"
    )]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("the server failed: {0}")]
    Io(#[from] std::io::Error),
}

/// How shutdown went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Turns running when shutdown began.
    pub in_flight: usize,
    /// Of those, turns interrupted because they outlived the grace period.
    pub interrupted: usize,
}

pub struct Server {
    state: Arc<AppState>,
    listener: TcpListener,
}

impl Server {
    /// Check the configuration and bind. Nothing listens if the configuration is unsafe.
    pub async fn bind(config: ServeConfig, agent: Arc<dyn Agent>) -> Result<Self, ServeError> {
        let config = config.validate()?;
        let addr = config.addr;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| ServeError::Bind { addr, source })?;
        Ok(Self {
            state: AppState::new(config, agent),
            listener,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    pub fn state(&self) -> Arc<AppState> {
        self.state.clone()
    }

    /// Serve until `shutdown` resolves; then stop accepting, let running turns finish for
    /// the grace period, interrupt the rest, and return once they have ended (bounded).
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<ShutdownReport, ServeError> {
        let state = self.state.clone();
        let (started_tx, started_rx) = oneshot::channel::<()>();
        let signal = {
            let state = state.clone();
            async move {
                shutdown.await;
                // From here axum accepts no new connections; open ones get 503 for new turns.
                state.shutting_down.store(true, Ordering::SeqCst);
                let _ = started_tx.send(());
            }
        };
        let app = router(state.clone());
        let server = axum::serve(self.listener, app).with_graceful_shutdown(signal);
        let mut server = std::pin::pin!(server.into_future());
        tokio::select! {
            result = &mut server => {
                result?;
                return Ok(ShutdownReport { in_flight: 0, interrupted: 0 });
            }
            _ = started_rx => {}
        }
        let mut wind = std::pin::pin!(wind_down(&state));
        let report = tokio::select! {
            result = &mut server => {
                result?;
                wind.await
            }
            report = &mut wind => {
                // Connections left open by clients (idle keep-alive) must not hold the exit.
                let _ = tokio::time::timeout(Duration::from_secs(2), &mut server).await;
                report
            }
        };
        Ok(report)
    }
}

/// Stop taking turns, wait up to the grace period, then interrupt what still runs and wait
/// (bounded) for those turns to end.
pub async fn wind_down(state: &Arc<AppState>) -> ShutdownReport {
    state.shutting_down.store(true, Ordering::SeqCst);
    let in_flight = state.active.len();
    let wait_idle = |limit: Duration| async move {
        let _ = tokio::time::timeout(limit, async {
            loop {
                let notified = state.active.changed.notified();
                if state.active.len() == 0 {
                    break;
                }
                notified.await;
            }
        })
        .await;
    };
    wait_idle(state.config.shutdown_grace).await;
    let remaining = state.active.all();
    let interrupted = remaining.len();
    if interrupted > 0 {
        tracing::info!(
            interrupted,
            "shutdown: interrupting turns that outlived the grace period"
        );
        let _ = state.interrupt_all.send(true);
        for (thread, turn) in remaining {
            state.agent.interrupt(thread, turn).await;
        }
        wait_idle(Duration::from_secs(5)).await;
    }
    ShutdownReport {
        in_flight,
        interrupted,
    }
}
