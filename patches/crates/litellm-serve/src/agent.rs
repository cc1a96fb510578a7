//! The one seam between the HTTP server and whatever runs Codex turns.
//!
//! The server never sees upstream types: an adapter over upstream's in-process app-server
//! client implements [`Agent`] (see docs/SERVE.md, "Status"), the tests use
//! [`crate::fake::FakeAgent`].

use std::path::PathBuf;

use futures::future::BoxFuture;
use futures::stream::BoxStream;
use serde::Serialize;

/// A model the agent can run, as `/v1/models` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelInfo {
    pub id: String,
    /// Context window in tokens, when the catalog knows it.
    pub context_window: Option<u64>,
}

/// How much the sandbox lets a turn do. Requests cannot change it: the server's
/// configuration decides (no one is there to approve anything).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SandboxMode {
    #[default]
    ReadOnly,
    WorkspaceWrite,
}

impl SandboxMode {
    pub fn as_str(self) -> &'static str {
        match self {
            SandboxMode::ReadOnly => "read-only",
            SandboxMode::WorkspaceWrite => "workspace-write",
        }
    }
}

/// Start a turn: on a new thread (`thread_id: None`) or continuing one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TurnRequest {
    pub thread_id: Option<String>,
    /// The new user input of this turn only; never earlier history of a known thread.
    pub input: String,
    /// Extra instructions for this turn (Responses `instructions`, chat system messages).
    pub instructions: Option<String>,
    pub model: Option<String>,
    /// `reasoning.effort` / `reasoning_effort`, as the client sent it.
    pub effort: Option<String>,
    /// Always inside the configured root (checked by the server).
    pub cwd: PathBuf,
    pub sandbox: SandboxMode,
    /// `store: false`: keep nothing after the turn (no session file, thread forgotten).
    pub ephemeral: bool,
}

/// Token usage of one model request; the server sums them over the turn.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Usage {
    pub input_tokens: u64,
    pub cached_input_tokens: u64,
    pub output_tokens: u64,
    pub reasoning_output_tokens: u64,
}

impl Usage {
    pub fn add(&mut self, other: Usage) {
        self.input_tokens += other.input_tokens;
        self.cached_input_tokens += other.cached_input_tokens;
        self.output_tokens += other.output_tokens;
        self.reasoning_output_tokens += other.reasoning_output_tokens;
    }

    pub fn total(&self) -> u64 {
        self.input_tokens + self.output_tokens
    }
}

/// Something the agent did on its own machine. It is reported to the client, never handed
/// to it as a tool call to execute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Activity {
    CommandRun {
        command: String,
        exit_code: Option<i32>,
    },
    FileChanged {
        path: String,
        /// `add`, `update` or `delete`.
        change: String,
    },
    /// Anything else (MCP tool call, web search, ...), as one line.
    Other { title: String },
}

impl Activity {
    /// One human line, used as reasoning-summary text.
    pub fn summary_line(&self) -> String {
        match self {
            Activity::CommandRun {
                command,
                exit_code: Some(code),
            } => format!("Ran `{command}` (exit {code})"),
            Activity::CommandRun {
                command,
                exit_code: None,
            } => format!("Ran `{command}`"),
            Activity::FileChanged { path, change } => format!("Changed {path} ({change})"),
            Activity::Other { title } => title.clone(),
        }
    }
}

/// What a running turn reports, in order. A turn ends with exactly one of
/// `Completed`, `Failed` or `Interrupted`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentEvent {
    /// Part of the model's reasoning summary.
    ReasoningDelta(String),
    /// Part of the assistant's answer text.
    TextDelta(String),
    /// A command run or file changed, after it happened.
    Activity(Activity),
    /// Usage of one model request inside the turn.
    Usage(Usage),
    Completed,
    Failed(String),
    Interrupted,
}

/// A started turn: its ids and its events.
pub struct Turn {
    pub thread_id: String,
    pub turn_id: String,
    pub events: BoxStream<'static, AgentEvent>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AgentError {
    /// The thread to continue is gone (e.g. the agent was restarted).
    #[error("thread {0} is not known to the agent; start a new conversation")]
    UnknownThread(String),
    #[error("model {0} is not available; GET /v1/models lists the models")]
    UnknownModel(String),
    /// The agent refused the request as given (a bad option); the client must change it.
    #[error("{0}")]
    InvalidRequest(String),
    #[error("the agent failed: {0}")]
    Failed(String),
}

/// The agent behind the API.
pub trait Agent: Send + Sync + 'static {
    /// The models the configured provider serves, the default first.
    fn models(&self) -> BoxFuture<'_, Result<Vec<ModelInfo>, AgentError>>;

    /// Start (or continue) a thread with one turn. Events flow until the turn ends.
    fn start_turn(&self, request: TurnRequest) -> BoxFuture<'_, Result<Turn, AgentError>>;

    /// Stop a running turn; the backend sees no further requests for it. Idempotent.
    fn interrupt(&self, thread_id: String, turn_id: String) -> BoxFuture<'_, ()>;

    /// Forget a thread (store: false, or evicted from the server's map). Idempotent.
    fn forget(&self, thread_id: String) -> BoxFuture<'_, ()>;
}
