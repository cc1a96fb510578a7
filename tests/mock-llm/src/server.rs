//! The server: accepts connections, picks the scripted response, records the request.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::MutexGuard;
use std::sync::PoisonError;
use std::time::Duration;
use std::time::Instant;
use std::time::SystemTime;
use std::time::UNIX_EPOCH;

use serde_json::Value;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::task::JoinSet;

use crate::http;
use crate::http::HttpRequest;
use crate::http::ReadError;
use crate::record::RecordedRequest;
use crate::record::ServedBy;
use crate::record::redact_header_value;
use crate::render;
use crate::render::CREATED;
use crate::render::Plan;
use crate::render::RequestInfo;
use crate::scenario::Match;
use crate::scenario::Response;
use crate::scenario::Scenario;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Scenario(#[from] crate::scenario::ScenarioError),
    #[error("cannot listen on 127.0.0.1:{port}: {source}")]
    Bind {
        port: u16,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot open record file {path}: {source}")]
    RecordFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// How to start the server (the defaults are what tests want).
#[derive(Debug, Clone, Default)]
pub struct StartOptions {
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// Append every recorded request to this file as one JSON line.
    pub record_file: Option<PathBuf>,
    /// Print one line per request to stderr.
    pub log_requests: bool,
}

struct Inner {
    consumed: Vec<bool>,
    requests: Vec<RecordedRequest>,
    record_file: Option<File>,
}

struct Shared {
    scenario: Scenario,
    started: Instant,
    log_requests: bool,
    inner: Mutex<Inner>,
    count_tx: watch::Sender<usize>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A running mock server. Dropping it stops the server and closes every open connection.
pub struct MockLlm {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept_task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for MockLlm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockLlm").field("addr", &self.addr).finish()
    }
}

impl MockLlm {
    /// Starts serving `scenario` on `127.0.0.1:<free port>`. Must be called within a tokio
    /// runtime, which then runs the server.
    pub async fn start(scenario: Scenario) -> Result<Self, StartError> {
        Self::start_with_options(scenario, StartOptions::default()).await
    }

    pub async fn start_with_options(
        scenario: Scenario,
        options: StartOptions,
    ) -> Result<Self, StartError> {
        scenario.validate()?;
        let record_file = match &options.record_file {
            None => None,
            Some(path) => Some(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|source| StartError::RecordFile {
                        path: path.clone(),
                        source,
                    })?,
            ),
        };
        let listener = TcpListener::bind(("127.0.0.1", options.port))
            .await
            .map_err(|source| StartError::Bind {
                port: options.port,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| StartError::Bind {
            port: options.port,
            source,
        })?;
        let (count_tx, _) = watch::channel(0usize);
        let shared = Arc::new(Shared {
            started: Instant::now(),
            log_requests: options.log_requests,
            inner: Mutex::new(Inner {
                consumed: vec![false; scenario.responses.len()],
                requests: Vec::new(),
                record_file,
            }),
            scenario,
            count_tx,
        });
        let accept_task = tokio::spawn(accept_loop(listener, Arc::clone(&shared)));
        Ok(Self {
            addr,
            shared,
            accept_task: Some(accept_task),
        })
    }

    /// `http://127.0.0.1:PORT/v1`: what a provider's `base_url` should be set to.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// `http://127.0.0.1:PORT` (no `/v1`).
    pub fn root_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Every request received so far, in arrival order (secret headers redacted).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }

    /// Only the chat completion requests (those answered by an entry or the fallback).
    pub fn chat_requests(&self) -> Vec<RecordedRequest> {
        self.requests()
            .into_iter()
            .filter(|r| {
                matches!(
                    r.served_by,
                    ServedBy::Entry { .. } | ServedBy::Fallback | ServedBy::ContextLimit
                )
            })
            .collect()
    }

    pub fn request_count(&self) -> usize {
        self.shared.lock().requests.len()
    }

    /// Number of scripted entries not consumed yet.
    pub fn remaining_responses(&self) -> usize {
        self.shared.lock().consumed.iter().filter(|c| !**c).count()
    }

    /// Waits until at least `n` requests were received (or `timeout` passes) and returns
    /// them all. Requests are recorded when fully read, before the response is sent.
    pub async fn wait_for_requests(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<RecordedRequest>, WaitTimeout> {
        let mut rx = self.shared.count_tx.subscribe();
        let waited = tokio::time::timeout(timeout, rx.wait_for(|count| *count >= n)).await;
        match waited {
            Ok(Ok(_)) => Ok(self.requests()),
            _ => Err(WaitTimeout {
                wanted: n,
                got: self.request_count(),
            }),
        }
    }

    /// Stops the server and waits until every connection is closed.
    pub async fn shutdown(mut self) {
        if let Some(task) = self.accept_task.take() {
            task.abort();
            let _ = task.await;
        }
    }
}

impl Drop for MockLlm {
    fn drop(&mut self) {
        if let Some(task) = self.accept_task.take() {
            task.abort();
        }
    }
}

/// [`MockLlm::wait_for_requests`] gave up.
#[derive(Debug, thiserror::Error)]
#[error("waited for {wanted} requests, got {got}")]
pub struct WaitTimeout {
    pub wanted: usize,
    pub got: usize,
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    // Connections live in this set: aborting this task drops the set, which aborts them.
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        match listener.accept().await {
            Ok((stream, _)) => {
                connections.spawn(handle_connection(stream, Arc::clone(&shared)));
            }
            Err(_) => {
                // E.g. out of file descriptors: back off briefly instead of spinning.
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

async fn handle_connection(mut stream: TcpStream, shared: Arc<Shared>) {
    let _ = stream.set_nodelay(true);
    let received = Instant::now();
    let received_unix_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let request = match http::read_request(&mut stream).await {
        Ok(request) => request,
        Err(ReadError::Closed(_)) => return,
        Err(ReadError::Bad {
            status,
            message,
            method,
            path,
        }) => {
            let request = HttpRequest {
                method: method.unwrap_or_default(),
                path: path.unwrap_or_default(),
                query: None,
                headers: Vec::new(),
                body: Vec::new(),
            };
            let (_, seq) =
                shared.record(&request, ServedBy::BadRequest, received, received_unix_ms);
            let plan = error_plan(status, &format!("mock-llm: {message}"), seq);
            let _ = http::write_response(&mut stream, &plan).await;
            return;
        }
    };

    let route = shared.scenario.routes.iter().position(|route| {
        route.method.eq_ignore_ascii_case(&request.method)
            && route.path == request.path
            && route
                .body_contains
                .iter()
                .all(|needle| String::from_utf8_lossy(&request.body).contains(needle.as_str()))
            && route
                .headers
                .iter()
                .all(|(name, value)| request.header(name) == Some(value.as_str()))
    });
    let is_post = request.method.eq_ignore_ascii_case("POST");
    let is_responses = is_post
        && shared.scenario.responses_api
        && (request.path == "/v1/responses" || request.path == "/responses");
    let is_chat = is_responses
        || is_post
            && (request.path == "/v1/chat/completions" || request.path == "/chat/completions");
    let over_context_limit = shared
        .scenario
        .context_limit
        .as_ref()
        .filter(|limit| is_chat && request.body.len() > limit.max_body_bytes);
    let models_path = request
        .path
        .strip_prefix("/v1/models")
        .or_else(|| request.path.strip_prefix("/models"));
    let is_models = request.method.eq_ignore_ascii_case("GET") && models_path.is_some();

    let plan = if let Some(index) = route {
        let (record, seq) = shared.record(
            &request,
            ServedBy::Route { index },
            received,
            received_unix_ms,
        );
        let info = RequestInfo {
            seq,
            responses_api: false,
            body_json: record.json(),
            body_len: request.body.len(),
        };
        let spec = &shared.scenario.routes[index].response;
        render::render(spec, &info)
            .unwrap_or_else(|message| error_plan(500, &format!("mock-llm: {message}"), seq))
    } else if let Some(limit) = over_context_limit {
        let (_, seq) = shared.record(&request, ServedBy::ContextLimit, received, received_unix_ms);
        let window_tokens = limit.max_body_bytes / 4;
        let asked_tokens = request.body.len() / 4;
        let message = limit.message.clone().unwrap_or_else(|| {
            format!(
                "This model's maximum context length is {window_tokens} tokens. However, your \
                 messages resulted in {asked_tokens} tokens. Please reduce the length of the \
                 messages."
            )
        });
        let mut plan = http::simple_plan(
            400,
            json!({"error": {"message": message, "type": "invalid_request_error",
                             "param": "messages", "code": "context_length_exceeded"}}),
        );
        plan.headers
            .push(("x-mock-llm-seq".to_string(), seq.to_string()));
        plan
    } else if is_chat {
        let (served_by, spec) = shared.pick(&request);
        let (record, seq) = shared.record(&request, served_by, received, received_unix_ms);
        let info = RequestInfo {
            seq,
            responses_api: is_responses,
            body_json: record.json(),
            body_len: request.body.len(),
        };
        spec.with_advertised_names(record.json())
            .and_then(|spec| render::render(&spec, &info))
            .unwrap_or_else(|message| error_plan(500, &format!("mock-llm: {message}"), seq))
    } else if is_models {
        let (_, seq) = shared.record(&request, ServedBy::Models, received, received_unix_ms);
        let models: Vec<Value> = shared.scenario.models.iter().map(model_object).collect();
        match models_path.unwrap_or_default().trim_start_matches('/') {
            "" => http::simple_plan(200, json!({"object": "list", "data": models})),
            id => match models.into_iter().find(|m| m["id"] == json!(id)) {
                Some(model) => http::simple_plan(200, model),
                None => error_plan(404, &format!("mock-llm: no model `{id}`"), seq),
            },
        }
    } else {
        let (_, seq) = shared.record(&request, ServedBy::NotFound, received, received_unix_ms);
        error_plan(
            404,
            &format!(
                "mock-llm serves POST /v1/chat/completions and GET /v1/models (and POST /v1/responses with \"responses_api\": true), not {} {}",
                request.method, request.path
            ),
            seq,
        )
    };
    let _ = http::write_response(&mut stream, &plan).await;
}

fn model_object(model: &Value) -> Value {
    match model {
        Value::String(id) => json!({
            "id": id,
            "object": "model",
            "created": CREATED,
            "owned_by": "mock-llm",
        }),
        other => other.clone(),
    }
}

fn error_plan(status: u16, message: &str, seq: usize) -> Plan {
    let mut plan = http::simple_plan(
        status,
        json!({"error": {"message": message, "type": "mock_llm_error", "code": status}}),
    );
    plan.headers
        .push(("x-mock-llm-seq".to_string(), seq.to_string()));
    plan
}

fn matches(m: &Match, request: &HttpRequest) -> bool {
    if m.path.as_ref().is_some_and(|p| *p != request.path) {
        return false;
    }
    let body = String::from_utf8_lossy(&request.body);
    if !m.body_contains.iter().all(|s| body.contains(s.as_str())) {
        return false;
    }
    if m.body_not_contains
        .iter()
        .any(|s| body.contains(s.as_str()))
    {
        return false;
    }
    m.headers
        .iter()
        .all(|(name, value)| request.header(name) == Some(value.as_str()))
}

impl Shared {
    /// Consumes the first unconsumed entry matching `request`, or falls back.
    fn pick(&self, request: &HttpRequest) -> (ServedBy, Response) {
        let mut inner = self.lock();
        for (index, spec) in self.scenario.responses.iter().enumerate() {
            let free = inner.consumed.get(index).is_some_and(|c| !*c);
            if free && spec.matcher.as_ref().is_none_or(|m| matches(m, request)) {
                if let Some(c) = inner.consumed.get_mut(index) {
                    *c = true;
                }
                return (ServedBy::Entry { index }, spec.clone());
            }
        }
        (ServedBy::Fallback, self.scenario.fallback.clone())
    }

    fn record(
        &self,
        request: &HttpRequest,
        served_by: ServedBy,
        received: Instant,
        received_unix_ms: u64,
    ) -> (RecordedRequest, usize) {
        let mut headers: BTreeMap<String, String> = BTreeMap::new();
        for (name, value) in &request.headers {
            let name = name.to_ascii_lowercase();
            let value = redact_header_value(&name, value);
            headers
                .entry(name)
                .and_modify(|v| {
                    v.push_str(", ");
                    v.push_str(&value);
                })
                .or_insert(value);
        }
        let (body, body_is_json) = match serde_json::from_slice::<Value>(&request.body) {
            Ok(v) if !request.body.is_empty() => (v, true),
            _ => (
                Value::String(String::from_utf8_lossy(&request.body).into_owned()),
                false,
            ),
        };
        let mut inner = self.lock();
        let seq = inner.requests.len();
        let record = RecordedRequest {
            seq,
            method: request.method.clone(),
            path: request.path.clone(),
            query: request.query.clone(),
            headers,
            body,
            body_is_json,
            body_len: request.body.len(),
            received_unix_ms,
            elapsed_ms: received.duration_since(self.started).as_millis() as u64,
            served_by,
        };
        if let Some(file) = inner.record_file.as_mut()
            && let Ok(line) = serde_json::to_string(&record)
        {
            let _ = writeln!(file, "{line}");
            let _ = file.flush();
        }
        if self.log_requests {
            let served = match served_by {
                ServedBy::Entry { index } => format!("responses[{index}]"),
                ServedBy::Fallback => "fallback".to_string(),
                ServedBy::Models => "models".to_string(),
                ServedBy::Route { index } => format!("routes[{index}]"),
                ServedBy::ContextLimit => "context_limit".to_string(),
                ServedBy::NotFound => "404".to_string(),
                ServedBy::BadRequest => "400".to_string(),
            };
            eprintln!(
                "mock-llm: #{seq} {} {} ({} bytes) -> {served}",
                record.method, record.path, record.body_len
            );
        }
        inner.requests.push(record.clone());
        let count = inner.requests.len();
        drop(inner);
        self.count_tx.send_replace(count);
        (record, seq)
    }
}
