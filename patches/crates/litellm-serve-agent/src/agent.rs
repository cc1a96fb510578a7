//! [`Agent`] over upstream's in-process app-server client: a served turn takes the same
//! path as `codex-litellm exec` (our provider, the bridge, telemetry, the model catalog).
//!
//! One client serves every thread. Requests go through its cloneable request handle; one
//! task (the pump) owns the client, reads its single event stream and routes each
//! notification to the turn of its thread (the HTTP server runs at most one turn per
//! thread), and answers the server requests nobody can answer here.

use std::collections::HashMap;
use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::PoisonError;
use std::sync::atomic::AtomicI64;
use std::sync::atomic::Ordering;
use std::time::Duration;
use std::time::Instant;

use codex_app_server_client::InProcessAppServerClient;
use codex_app_server_client::InProcessAppServerRequestHandle;
use codex_app_server_client::InProcessServerEvent;
use codex_app_server_client::TypedRequestError;
use codex_app_server_protocol::AskForApproval;
use codex_app_server_protocol::ClientRequest;
use codex_app_server_protocol::JSONRPCErrorError;
use codex_app_server_protocol::McpServerElicitationAction;
use codex_app_server_protocol::McpServerElicitationRequestResponse;
use codex_app_server_protocol::ModelListParams;
use codex_app_server_protocol::ModelListResponse;
use codex_app_server_protocol::PatchChangeKind;
use codex_app_server_protocol::RequestId;
use codex_app_server_protocol::ServerNotification;
use codex_app_server_protocol::ServerRequest;
use codex_app_server_protocol::ThreadHistoryMode;
use codex_app_server_protocol::ThreadItem;
use codex_app_server_protocol::ThreadStartParams;
use codex_app_server_protocol::ThreadStartResponse;
use codex_app_server_protocol::ThreadUnsubscribeParams;
use codex_app_server_protocol::ThreadUnsubscribeResponse;
use codex_app_server_protocol::TokenUsageBreakdown;
use codex_app_server_protocol::TurnInterruptParams;
use codex_app_server_protocol::TurnInterruptResponse;
use codex_app_server_protocol::TurnStartParams;
use codex_app_server_protocol::TurnStartResponse;
use codex_app_server_protocol::TurnStatus;
use codex_app_server_protocol::UserInput;
use codex_litellm_serve::Activity;
use codex_litellm_serve::Agent;
use codex_litellm_serve::AgentError;
use codex_litellm_serve::AgentEvent;
use codex_litellm_serve::ModelInfo;
use codex_litellm_serve::SandboxMode;
use codex_litellm_serve::Turn;
use codex_litellm_serve::TurnRequest;
use codex_litellm_serve::Usage;
use codex_protocol::models::MessagePhase;
use codex_utils_absolute_path::AbsolutePathBuf;
use futures::future::BoxFuture;
use tokio::sync::mpsc;
use tokio::sync::oneshot;

/// How long `/v1/models` (and the server's model check) reuses a model list.
const MODELS_TTL: Duration = Duration::from_secs(5);

/// Notifications the mapping never uses; opting out keeps them off the event queue.
pub const UNUSED_NOTIFICATIONS: &[&str] = &[
    "item/commandExecution/outputDelta",
    "item/commandExecution/terminalInteraction",
    "item/fileChange/outputDelta",
    "item/fileChange/patchUpdated",
    "item/reasoning/textDelta",
    "item/plan/delta",
    "item/mcpToolCall/progress",
    "turn/diff/updated",
    "turn/plan/updated",
    "command/exec/outputDelta",
    "fuzzyFileSearch/sessionUpdated",
    "rawResponseItem/completed",
    "rawResponse/completed",
];

/// The running turn of one thread, as the pump sees it.
struct Route {
    events: mpsc::UnboundedSender<AgentEvent>,
    /// Known once `turn/start` answered; events of another turn id are dropped after that.
    turn_id: Option<String>,
    /// Agent messages that are commentary (preambles), streamed as reasoning, not answer.
    commentary: HashSet<String>,
    /// The last failure the turn reported (an `error` notification without retry).
    failure: Option<String>,
}

#[derive(Default)]
struct Routes {
    by_thread: HashMap<String, Route>,
    /// Token totals per thread, to turn cumulative totals into per-update usage.
    totals: HashMap<String, TokenUsageBreakdown>,
}

struct Shared {
    routes: Mutex<Routes>,
}

impl Shared {
    fn routes(&self) -> std::sync::MutexGuard<'_, Routes> {
        self.routes.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The agent behind `codex-litellm serve`.
pub struct AppServerAgent {
    requests: InProcessAppServerRequestHandle,
    shared: Arc<Shared>,
    next_request_id: AtomicI64,
    provider_id: String,
    models_cache: tokio::sync::Mutex<Option<(Instant, Vec<ModelInfo>)>>,
    stop_pump: Mutex<Option<oneshot::Sender<()>>>,
    pump: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl AppServerAgent {
    /// Takes the started client; its events are read by a task of its own from now on.
    pub fn new(client: InProcessAppServerClient, provider_id: String) -> Arc<Self> {
        let requests = client.request_handle();
        let shared = Arc::new(Shared {
            routes: Mutex::new(Routes::default()),
        });
        let (stop_tx, stop_rx) = oneshot::channel();
        let pump = tokio::spawn(pump(client, Arc::clone(&shared), stop_rx));
        Arc::new(Self {
            requests,
            shared,
            next_request_id: AtomicI64::new(1),
            provider_id,
            models_cache: tokio::sync::Mutex::new(None),
            stop_pump: Mutex::new(Some(stop_tx)),
            pump: Mutex::new(Some(pump)),
        })
    }

    /// Shut the app-server down (it flushes the session files of finished turns), after
    /// the HTTP server stopped. Bounded by upstream's own shutdown timeout.
    pub async fn shutdown(&self) {
        let stop = self
            .stop_pump
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(stop) = stop {
            let _ = stop.send(());
        }
        let pump = self
            .pump
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(pump) = pump {
            let _ = pump.await;
        }
    }

    fn request_id(&self) -> RequestId {
        RequestId::Integer(self.next_request_id.fetch_add(1, Ordering::Relaxed))
    }

    async fn list_models(&self) -> Result<Vec<ModelInfo>, AgentError> {
        let mut cache = self.models_cache.lock().await;
        if let Some((at, models)) = cache.as_ref()
            && at.elapsed() < MODELS_TTL
        {
            return Ok(models.clone());
        }
        let response: ModelListResponse = self
            .requests
            .request_typed(ClientRequest::ModelList {
                request_id: self.request_id(),
                params: ModelListParams::default(),
            })
            .await
            .map_err(|err| AgentError::Failed(format!("listing models: {}", error_text(&err))))?;
        let windows: HashMap<String, u64> = codex_litellm_provider::resolved_context_windows()
            .unwrap_or_default()
            .into_iter()
            .map(|(model, tokens, _source)| (model, tokens))
            .collect();
        let mut listed: Vec<_> = response.data.into_iter().filter(|m| !m.hidden).collect();
        // The default model first (stable otherwise).
        listed.sort_by_key(|m| !m.is_default);
        let models: Vec<ModelInfo> = listed
            .into_iter()
            .map(|m| ModelInfo {
                context_window: windows.get(&m.model).copied(),
                id: m.model,
            })
            .collect();
        // A failure above returned early: only a real list is reused.
        *cache = Some((Instant::now(), models.clone()));
        Ok(models)
    }

    async fn start(&self, request: TurnRequest) -> Result<Turn, AgentError> {
        let effort = request
            .effort
            .as_deref()
            .map(|effort| {
                serde_json::from_value(serde_json::Value::String(effort.to_string())).map_err(
                    |_| {
                        AgentError::InvalidRequest(format!(
                            "reasoning effort `{effort}` is not one of none, minimal, low, medium, high, xhigh"
                        ))
                    },
                )
            })
            .transpose()?;
        let cwd = AbsolutePathBuf::from_absolute_path(&request.cwd).map_err(|err| {
            AgentError::InvalidRequest(format!(
                "working directory {}: {err}",
                request.cwd.display()
            ))
        })?;
        let continuing = request.thread_id.is_some();
        let thread_id = match request.thread_id.clone() {
            Some(thread_id) => thread_id,
            None => self.start_thread(&request, &cwd).await?,
        };

        // Registered before the turn starts: every event of this thread from now on is
        // this turn's (one turn per thread at a time).
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        self.shared.routes().by_thread.insert(
            thread_id.clone(),
            Route {
                events: events_tx,
                turn_id: None,
                commentary: HashSet::new(),
                failure: None,
            },
        );

        // Instructions of a continued conversation reach the model as application context.
        let additional_context = match (&request.instructions, continuing) {
            (Some(text), true) if !text.trim().is_empty() => Some(HashMap::from([(
                "codex-litellm-serve-instructions".to_string(),
                codex_app_server_protocol::AdditionalContextEntry {
                    value: text.clone(),
                    kind: codex_app_server_protocol::AdditionalContextKind::Application,
                },
            )])),
            _ => None,
        };
        let started: Result<TurnStartResponse, _> = self
            .requests
            .request_typed(ClientRequest::TurnStart {
                request_id: self.request_id(),
                params: TurnStartParams {
                    thread_id: thread_id.clone(),
                    input: vec![UserInput::Text {
                        text: request.input.clone(),
                        text_elements: Vec::new(),
                    }],
                    additional_context,
                    cwd: Some(request.cwd.clone()),
                    approval_policy: Some(AskForApproval::Never),
                    model: request.model.clone(),
                    effort,
                    ..TurnStartParams::default()
                },
            })
            .await;
        let turn_id = match started {
            Ok(response) => response.turn.id,
            Err(err) => {
                self.shared.routes().by_thread.remove(&thread_id);
                return Err(turn_start_error(&err, continuing.then_some(&thread_id)));
            }
        };
        if let Some(route) = self.shared.routes().by_thread.get_mut(&thread_id) {
            route.turn_id = Some(turn_id.clone());
        }
        Ok(Turn {
            thread_id,
            turn_id,
            events: Box::pin(tokio_stream_from(events_rx)),
        })
    }

    async fn start_thread(
        &self,
        request: &TurnRequest,
        cwd: &AbsolutePathBuf,
    ) -> Result<String, AgentError> {
        let sandbox = match request.sandbox {
            SandboxMode::ReadOnly => codex_app_server_protocol::SandboxMode::ReadOnly,
            SandboxMode::WorkspaceWrite => codex_app_server_protocol::SandboxMode::WorkspaceWrite,
        };
        let response: ThreadStartResponse = self
            .requests
            .request_typed(ClientRequest::ThreadStart {
                request_id: self.request_id(),
                params: ThreadStartParams {
                    model: request.model.clone(),
                    model_provider: Some(self.provider_id.clone()),
                    cwd: Some(path_text(&request.cwd)),
                    runtime_workspace_roots: Some(vec![cwd.clone()]),
                    approval_policy: Some(AskForApproval::Never),
                    sandbox: Some(sandbox),
                    developer_instructions: request.instructions.clone(),
                    ephemeral: Some(request.ephemeral),
                    history_mode: (!request.ephemeral).then_some(ThreadHistoryMode::Paginated),
                    ..ThreadStartParams::default()
                },
            })
            .await
            .map_err(|err| turn_start_error(&err, None))?;
        Ok(response.thread.id)
    }
}

impl Agent for AppServerAgent {
    fn models(&self) -> BoxFuture<'_, Result<Vec<ModelInfo>, AgentError>> {
        Box::pin(self.list_models())
    }

    fn start_turn(&self, request: TurnRequest) -> BoxFuture<'_, Result<Turn, AgentError>> {
        Box::pin(self.start(request))
    }

    fn interrupt(&self, thread_id: String, turn_id: String) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let result: Result<TurnInterruptResponse, _> = self
                .requests
                .request_typed(ClientRequest::TurnInterrupt {
                    request_id: self.request_id(),
                    params: TurnInterruptParams {
                        thread_id: thread_id.clone(),
                        turn_id,
                    },
                })
                .await;
            if let Err(err) = result {
                // Already finished, or unknown: the turn is not running either way.
                tracing::debug!(
                    "interrupting a turn of thread {thread_id}: {}",
                    error_text(&err)
                );
            }
        })
    }

    fn forget(&self, thread_id: String) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            {
                let mut routes = self.shared.routes();
                routes.totals.remove(&thread_id);
            }
            let result: Result<ThreadUnsubscribeResponse, _> = self
                .requests
                .request_typed(ClientRequest::ThreadUnsubscribe {
                    request_id: self.request_id(),
                    params: ThreadUnsubscribeParams {
                        thread_id: thread_id.clone(),
                    },
                })
                .await;
            if let Err(err) = result {
                tracing::debug!("unloading thread {thread_id}: {}", error_text(&err));
            }
        })
    }
}

fn tokio_stream_from(
    mut events: mpsc::UnboundedReceiver<AgentEvent>,
) -> impl futures::Stream<Item = AgentEvent> + Send + 'static {
    futures::stream::poll_fn(move |cx| events.poll_recv(cx))
}

fn path_text(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

fn error_text(err: &TypedRequestError) -> String {
    match err {
        TypedRequestError::Server { source, .. } => source.message.clone(),
        other => other.to_string(),
    }
}

/// A refused `thread/start` or `turn/start`, as the HTTP layer needs it.
fn turn_start_error(err: &TypedRequestError, continued_thread: Option<&String>) -> AgentError {
    let TypedRequestError::Server { source, .. } = err else {
        return AgentError::Failed(err.to_string());
    };
    let message = source.message.clone();
    let lower = message.to_lowercase();
    if let Some(thread_id) = continued_thread
        && lower.contains("thread")
        && (lower.contains("not found")
            || lower.contains("unknown")
            || lower.contains("not loaded"))
    {
        return AgentError::UnknownThread(thread_id.clone());
    }
    AgentError::InvalidRequest(message)
}

/// Reads the app-server's events until told to stop or the app-server ends, then shuts it
/// down. Every turn still routed when it ends is failed, never left waiting.
async fn pump(
    mut client: InProcessAppServerClient,
    shared: Arc<Shared>,
    mut stop: oneshot::Receiver<()>,
) {
    let ended = loop {
        let event = tokio::select! {
            _ = &mut stop => break "the server is shutting down",
            event = client.next_event() => event,
        };
        match event {
            None => break "the agent stopped",
            Some(InProcessServerEvent::ServerNotification(notification)) => {
                route_notification(&shared, *notification);
            }
            Some(InProcessServerEvent::ServerRequest(request)) => {
                answer_server_request(&client, *request).await;
            }
            Some(InProcessServerEvent::Lagged { skipped }) => {
                // The running turns may have lost their end: fail them rather than hang.
                tracing::warn!("codex-litellm serve: {skipped} agent events were dropped");
                fail_all(
                    &shared,
                    "events of this turn were dropped (the server fell behind); retry",
                );
            }
        }
    };
    fail_all(&shared, ended);
    if let Err(err) = client.shutdown().await {
        tracing::warn!("codex-litellm serve: shutting the agent down: {err}");
    }
}

fn fail_all(shared: &Shared, message: &str) {
    let mut routes = shared.routes();
    for (_, route) in routes.by_thread.drain() {
        let _ = route.events.send(AgentEvent::Failed(message.to_string()));
    }
}

/// Nobody can approve anything here: the sandbox decides. Elicitations are cancelled and
/// every other request refused, so a turn never waits for an answer.
async fn answer_server_request(client: &InProcessAppServerClient, request: ServerRequest) {
    let request_id = request.id().clone();
    let outcome = match request {
        ServerRequest::McpServerElicitationRequest { .. } => {
            let cancel = McpServerElicitationRequestResponse {
                action: McpServerElicitationAction::Cancel,
                content: None,
                meta: None,
            };
            match serde_json::to_value(cancel) {
                Ok(value) => client.resolve_server_request(request_id, value).await,
                Err(err) => Err(std::io::Error::other(err)),
            }
        }
        other => {
            let method = serde_json::to_value(&other)
                .ok()
                .and_then(|value| value.get("method")?.as_str().map(str::to_owned))
                .unwrap_or_else(|| "a request".to_string());
            client
                .reject_server_request(
                    request_id,
                    JSONRPCErrorError {
                        code: -32000,
                        data: None,
                        message: format!(
                            "codex-litellm serve cannot ask anyone for approval ({method}); the sandbox decides what a turn may do"
                        ),
                    },
                )
                .await
        }
    };
    if let Err(err) = outcome {
        tracing::warn!("codex-litellm serve: answering an agent request: {err}");
    }
}

fn route_notification(shared: &Shared, notification: ServerNotification) {
    let mut routes = shared.routes();
    let Routes { by_thread, totals } = &mut *routes;
    let (thread_id, turn_id) = match notification_ids(&notification) {
        Some(ids) => ids,
        None => return,
    };
    let Some(route) = by_thread.get_mut(thread_id) else {
        // Not a served turn's (or it ended): still keep the thread's token total current.
        if let ServerNotification::ThreadTokenUsageUpdated(update) = &notification {
            totals.insert(update.thread_id.clone(), update.token_usage.total.clone());
        }
        return;
    };
    if let (Some(expected), Some(actual)) = (route.turn_id.as_deref(), turn_id)
        && expected != actual
    {
        return;
    }
    let thread_id = thread_id.to_string();
    let mut finished = false;
    match notification {
        ServerNotification::AgentMessageDelta(delta) => {
            let event = if route.commentary.contains(&delta.item_id) {
                AgentEvent::ReasoningDelta(delta.delta)
            } else {
                AgentEvent::TextDelta(delta.delta)
            };
            let _ = route.events.send(event);
        }
        ServerNotification::ReasoningSummaryTextDelta(delta) => {
            let _ = route.events.send(AgentEvent::ReasoningDelta(delta.delta));
        }
        ServerNotification::ItemStarted(started) => {
            if let ThreadItem::AgentMessage {
                id,
                phase: Some(MessagePhase::Commentary),
                ..
            } = &started.item
            {
                route.commentary.insert(id.clone());
            }
        }
        ServerNotification::ItemCompleted(completed) => {
            for activity in activities(&completed.item) {
                let _ = route.events.send(AgentEvent::Activity(activity));
            }
        }
        ServerNotification::ThreadTokenUsageUpdated(update) => {
            let total = update.token_usage.total;
            let before = totals.insert(thread_id.clone(), total.clone());
            let usage = usage_since(before.as_ref(), &total);
            if usage != Usage::default() {
                let _ = route.events.send(AgentEvent::Usage(usage));
            }
        }
        ServerNotification::Error(error) if !error.will_retry => {
            route.failure = Some(error.error.message);
        }
        ServerNotification::TurnCompleted(completed) => {
            let event = match completed.turn.status {
                TurnStatus::Completed => AgentEvent::Completed,
                TurnStatus::Interrupted => AgentEvent::Interrupted,
                TurnStatus::Failed | TurnStatus::InProgress => AgentEvent::Failed(
                    completed
                        .turn
                        .error
                        .map(|error| error.message)
                        .or_else(|| route.failure.take())
                        .unwrap_or_else(|| "the turn failed".to_string()),
                ),
            };
            let _ = route.events.send(event);
            finished = true;
        }
        _ => {}
    }
    if finished {
        by_thread.remove(&thread_id);
    }
}

/// The thread and turn a notification belongs to, for the ones the mapping uses.
fn notification_ids(notification: &ServerNotification) -> Option<(&str, Option<&str>)> {
    Some(match notification {
        ServerNotification::AgentMessageDelta(n) => (&n.thread_id, Some(n.turn_id.as_str())),
        ServerNotification::ReasoningSummaryTextDelta(n) => {
            (&n.thread_id, Some(n.turn_id.as_str()))
        }
        ServerNotification::ItemStarted(n) => (&n.thread_id, Some(n.turn_id.as_str())),
        ServerNotification::ItemCompleted(n) => (&n.thread_id, Some(n.turn_id.as_str())),
        ServerNotification::ThreadTokenUsageUpdated(n) => (&n.thread_id, Some(n.turn_id.as_str())),
        ServerNotification::Error(n) => (&n.thread_id, Some(n.turn_id.as_str())),
        ServerNotification::TurnCompleted(n) => (&n.thread_id, Some(n.turn.id.as_str())),
        _ => return None,
    })
}

/// Usage added since the thread's previous total; a repeated or missed update can then
/// neither double nor lose tokens.
fn usage_since(before: Option<&TokenUsageBreakdown>, now: &TokenUsageBreakdown) -> Usage {
    let delta =
        |now: i64, before: Option<i64>| u64::try_from(now - before.unwrap_or(0)).unwrap_or(0);
    Usage {
        input_tokens: delta(now.input_tokens, before.map(|b| b.input_tokens)),
        cached_input_tokens: delta(
            now.cached_input_tokens,
            before.map(|b| b.cached_input_tokens),
        ),
        output_tokens: delta(now.output_tokens, before.map(|b| b.output_tokens)),
        reasoning_output_tokens: delta(
            now.reasoning_output_tokens,
            before.map(|b| b.reasoning_output_tokens),
        ),
    }
}

/// What a finished item did on this machine, for the client to read (never to execute).
fn activities(item: &ThreadItem) -> Vec<Activity> {
    match item {
        ThreadItem::CommandExecution {
            command, exit_code, ..
        } => vec![Activity::CommandRun {
            command: command.clone(),
            exit_code: *exit_code,
        }],
        ThreadItem::FileChange { changes, .. } => changes
            .iter()
            .map(|change| Activity::FileChanged {
                path: change.path.clone(),
                change: match change.kind {
                    PatchChangeKind::Add => "add",
                    PatchChangeKind::Delete => "delete",
                    PatchChangeKind::Update { .. } => "update",
                }
                .to_string(),
            })
            .collect(),
        ThreadItem::McpToolCall { server, tool, .. } => vec![Activity::Other {
            title: format!("Called {server}/{tool}"),
        }],
        ThreadItem::DynamicToolCall { tool, .. } => vec![Activity::Other {
            title: format!("Called {tool}"),
        }],
        ThreadItem::WebSearch(_) => vec![Activity::Other {
            title: "Searched the web".to_string(),
        }],
        _ => Vec::new(),
    }
}
