//! A scripted [`Agent`] for tests and the `serve-fake` example: no model, no upstream.
//!
//! Input containing "fail" starts an answer and fails; "run" gives a tool-using turn (reasoning, a command run, a file
//! changed, then the answer); input containing "slow" waits for [`FakeAgent::open_gate`]
//! (or an interrupt) before answering; anything else is a short text answer.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::Mutex;

use futures::FutureExt;
use futures::StreamExt;
use futures::future::BoxFuture;
use tokio::sync::mpsc;
use tokio::sync::watch;

use crate::agent::Activity;
use crate::agent::Agent;
use crate::agent::AgentError;
use crate::agent::AgentEvent;
use crate::agent::ModelInfo;
use crate::agent::Turn;
use crate::agent::TurnRequest;
use crate::agent::Usage;

#[derive(Default)]
struct Log {
    next_id: u64,
    threads: HashSet<String>,
    requests: Vec<TurnRequest>,
    interrupts: Vec<(String, String)>,
    forgotten: Vec<String>,
    commands_run: usize,
    model_requests: usize,
}

/// Everything the fake did, for assertions.
#[derive(Clone)]
pub struct FakeAgent {
    log: Arc<Mutex<Log>>,
    gate: watch::Sender<bool>,
    interrupted: watch::Sender<Vec<String>>,
    models: Vec<ModelInfo>,
}

impl Default for FakeAgent {
    fn default() -> Self {
        Self::new()
    }
}

impl FakeAgent {
    pub fn new() -> Self {
        Self {
            log: Arc::new(Mutex::new(Log::default())),
            gate: watch::channel(false).0,
            interrupted: watch::channel(Vec::new()).0,
            models: vec![
                ModelInfo {
                    id: "fake-coder".to_string(),
                    context_window: Some(131_072),
                },
                ModelInfo {
                    id: "fake-small".to_string(),
                    context_window: None,
                },
            ],
        }
    }

    fn log(&self) -> std::sync::MutexGuard<'_, Log> {
        self.log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Let every "slow" turn (running or future) answer.
    pub fn open_gate(&self) {
        self.gate.send_replace(true);
    }

    pub fn requests(&self) -> Vec<TurnRequest> {
        self.log().requests.clone()
    }

    pub fn interrupts(&self) -> Vec<(String, String)> {
        self.log().interrupts.clone()
    }

    pub fn forgotten(&self) -> Vec<String> {
        self.log().forgotten.clone()
    }

    pub fn commands_run(&self) -> usize {
        self.log().commands_run
    }

    pub fn model_requests(&self) -> usize {
        self.log().model_requests
    }

    /// Resolves once `n` interrupts have been received.
    pub async fn wait_for_interrupts(&self, n: usize) {
        let mut rx = self.interrupted.subscribe();
        let _ = rx.wait_for(|v| v.len() >= n).await;
    }

    fn script(input: &str) -> (bool, Vec<AgentEvent>) {
        let usage = Usage {
            input_tokens: 100,
            cached_input_tokens: 40,
            output_tokens: 10,
            reasoning_output_tokens: 3,
        };
        if input.contains("fail") {
            let events = vec![
                AgentEvent::TextDelta("Partial".to_string()),
                AgentEvent::Usage(usage),
                AgentEvent::Failed("the backend answered 500 three times".to_string()),
            ];
            return (false, events);
        }
        if input.contains("run") {
            let events = vec![
                AgentEvent::ReasoningDelta("Looking at the ".to_string()),
                AgentEvent::ReasoningDelta("files.".to_string()),
                AgentEvent::Usage(usage),
                AgentEvent::Activity(Activity::CommandRun {
                    command: "ls -la".to_string(),
                    exit_code: Some(0),
                }),
                AgentEvent::Activity(Activity::FileChanged {
                    path: "notes.txt".to_string(),
                    change: "add".to_string(),
                }),
                AgentEvent::Usage(usage),
                AgentEvent::TextDelta("I listed the files".to_string()),
                AgentEvent::TextDelta(" and wrote notes.txt.".to_string()),
                AgentEvent::Completed,
            ];
            return (false, events);
        }
        let events = vec![
            AgentEvent::TextDelta("Hello".to_string()),
            AgentEvent::TextDelta(" from the fake agent.".to_string()),
            AgentEvent::Usage(usage),
            AgentEvent::Completed,
        ];
        (input.contains("slow"), events)
    }
}

impl Agent for FakeAgent {
    fn models(&self) -> BoxFuture<'_, Result<Vec<ModelInfo>, AgentError>> {
        let models = self.models.clone();
        async move { Ok(models) }.boxed()
    }

    fn start_turn(&self, request: TurnRequest) -> BoxFuture<'_, Result<Turn, AgentError>> {
        async move {
            let (thread_id, turn_id) = {
                let mut log = self.log();
                log.requests.push(request.clone());
                log.next_id += 1;
                let n = log.next_id;
                let thread = match &request.thread_id {
                    Some(t) if !log.threads.contains(t) => {
                        return Err(AgentError::UnknownThread(t.clone()));
                    }
                    Some(t) => t.clone(),
                    None => format!("thread-{n}"),
                };
                log.threads.insert(thread.clone());
                (thread, format!("turn-{n}"))
            };
            let (wait, events) = Self::script(&request.input);
            let (tx, rx) = mpsc::channel(16);
            let log = self.log.clone();
            let mut gate = self.gate.subscribe();
            let mut interrupted = self.interrupted.subscribe();
            let me = turn_id.clone();
            tokio::spawn(async move {
                let is_me = |v: &Vec<String>| v.contains(&me);
                if wait {
                    let cut = tokio::select! {
                        biased;
                        _ = interrupted.wait_for(is_me) => true,
                        _ = gate.wait_for(|open| *open) => false,
                    };
                    if cut {
                        let _ = tx.send(AgentEvent::Interrupted).await;
                        return;
                    }
                }
                for event in events {
                    let cut = is_me(&interrupted.borrow());
                    if cut {
                        let _ = tx.send(AgentEvent::Interrupted).await;
                        return;
                    }
                    {
                        let mut log = log
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner);
                        match &event {
                            AgentEvent::Usage(_) => log.model_requests += 1,
                            AgentEvent::Activity(Activity::CommandRun { .. }) => {
                                log.commands_run += 1;
                            }
                            _ => {}
                        }
                    }
                    if tx.send(event).await.is_err() {
                        return;
                    }
                }
            });
            let events =
                futures::stream::unfold(
                    rx,
                    |mut rx| async move { rx.recv().await.map(|e| (e, rx)) },
                )
                .boxed();
            Ok(Turn {
                thread_id,
                turn_id,
                events,
            })
        }
        .boxed()
    }

    fn interrupt(&self, thread_id: String, turn_id: String) -> BoxFuture<'_, ()> {
        async move {
            self.log().interrupts.push((thread_id, turn_id.clone()));
            self.interrupted.send_modify(|v| v.push(turn_id));
        }
        .boxed()
    }

    fn forget(&self, thread_id: String) -> BoxFuture<'_, ()> {
        async move {
            let mut log = self.log();
            log.threads.remove(&thread_id);
            log.forgotten.push(thread_id);
        }
        .boxed()
    }
}
