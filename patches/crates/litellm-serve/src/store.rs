//! Which Codex thread a request continues: response ids and chat histories -> thread ids.
//!
//! A thread runs one turn at a time (`busy`). Only the latest response of a thread can be
//! continued: a Codex thread cannot be rewound, so continuing an older one would carry the
//! later turns along. The map is bounded; the least recently used thread is forgotten first.

use std::collections::HashMap;
use std::collections::HashSet;
use std::collections::VecDeque;
use std::collections::hash_map::RandomState;
use std::sync::Mutex;

use crate::conversation::Role;
use crate::conversation::fingerprint;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("previous response '{0}' not found (unknown, expired, or stored with store: false)")]
    UnknownResponse(String),
    #[error(
        "previous response '{given}' is not the latest of its conversation; continue from '{latest}' (a Codex thread cannot be rewound)"
    )]
    NotLatest { given: String, latest: String },
    #[error("a turn is already running in this conversation; wait for it to finish")]
    Busy,
}

#[derive(Default)]
struct Inner {
    by_response: HashMap<String, String>,
    latest_response: HashMap<String, String>,
    by_history: HashMap<u64, String>,
    busy: HashSet<String>,
    /// Least recently used first.
    order: VecDeque<String>,
}

impl Inner {
    fn touch(&mut self, thread: &str) {
        self.order.retain(|t| t != thread);
        self.order.push_back(thread.to_string());
    }

    fn remove_thread(&mut self, thread: &str) {
        self.by_response.retain(|_, t| t != thread);
        self.by_history.retain(|_, t| t != thread);
        self.latest_response.remove(thread);
        self.order.retain(|t| t != thread);
    }
}

/// A thread claimed for one turn. Give it back with [`ThreadStore::release`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub thread_id: String,
    /// The history key consumed by this claim, put back if the turn never started.
    history_key: Option<u64>,
}

/// What to remember when a turn ends.
#[derive(Debug, Default)]
pub struct Outcome {
    pub response_id: Option<String>,
    pub history_key: Option<u64>,
    /// Forget the whole thread (store: false).
    pub forget: bool,
}

pub struct ThreadStore {
    inner: Mutex<Inner>,
    hasher: RandomState,
    max_threads: usize,
}

impl ThreadStore {
    pub fn new(max_threads: usize) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            hasher: RandomState::new(),
            max_threads: max_threads.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves maps that are still consistent.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn key(&self, messages: &[(Role, String)]) -> u64 {
        fingerprint(&self.hasher, messages)
    }

    pub fn claim_response(&self, response_id: &str) -> Result<Claim, StoreError> {
        let mut inner = self.lock();
        let thread = inner
            .by_response
            .get(response_id)
            .cloned()
            .ok_or_else(|| StoreError::UnknownResponse(response_id.to_string()))?;
        if let Some(latest) = inner.latest_response.get(&thread)
            && latest != response_id
        {
            return Err(StoreError::NotLatest {
                given: response_id.to_string(),
                latest: latest.clone(),
            });
        }
        if !inner.busy.insert(thread.clone()) {
            return Err(StoreError::Busy);
        }
        Ok(Claim {
            thread_id: thread,
            history_key: None,
        })
    }

    /// The thread whose remembered history is exactly `key`, consumed: an edited or
    /// regenerated history cannot land on a thread that has moved on.
    pub fn claim_history(&self, key: u64) -> Result<Option<Claim>, StoreError> {
        let mut inner = self.lock();
        let Some(thread) = inner.by_history.get(&key).cloned() else {
            return Ok(None);
        };
        if !inner.busy.insert(thread.clone()) {
            return Err(StoreError::Busy);
        }
        inner.by_history.remove(&key);
        Ok(Some(Claim {
            thread_id: thread,
            history_key: Some(key),
        }))
    }

    /// A new thread the agent just started.
    pub fn claim_new(&self, thread_id: &str) -> Claim {
        self.lock().busy.insert(thread_id.to_string());
        Claim {
            thread_id: thread_id.to_string(),
            history_key: None,
        }
    }

    /// The turn never started: undo the claim.
    pub fn release(&self, claim: Claim) {
        let mut inner = self.lock();
        inner.busy.remove(&claim.thread_id);
        if let Some(key) = claim.history_key {
            inner.by_history.insert(key, claim.thread_id);
        }
    }

    /// The turn ended. Returns threads to forget in the agent (this one with
    /// `forget`, and any evicted to stay under the bound).
    pub fn finish(&self, thread_id: &str, outcome: Outcome) -> Vec<String> {
        let mut inner = self.lock();
        inner.busy.remove(thread_id);
        if outcome.forget {
            inner.remove_thread(thread_id);
            return vec![thread_id.to_string()];
        }
        if let Some(id) = outcome.response_id {
            inner.by_response.insert(id.clone(), thread_id.to_string());
            inner.latest_response.insert(thread_id.to_string(), id);
        }
        if let Some(key) = outcome.history_key {
            inner.by_history.insert(key, thread_id.to_string());
        }
        inner.touch(thread_id);
        let mut evicted = Vec::new();
        while inner.order.len() > self.max_threads {
            let Some(oldest) = inner.order.front().cloned() else {
                break;
            };
            if inner.busy.contains(&oldest) {
                // Never evict a running thread; it is touched again when it ends.
                inner.order.rotate_left(1);
                if inner.order.iter().all(|t| inner.busy.contains(t)) {
                    break;
                }
                continue;
            }
            inner.remove_thread(&oldest);
            evicted.push(oldest);
        }
        evicted
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn done(store: &ThreadStore, thread: &str, resp: &str) -> Vec<String> {
        store.finish(
            thread,
            Outcome {
                response_id: Some(resp.into()),
                ..Outcome::default()
            },
        )
    }

    #[test]
    fn only_the_latest_response_continues_and_one_turn_at_a_time() {
        let store = ThreadStore::new(8);
        let c = store.claim_new("t1");
        done(&store, &c.thread_id, "r1");
        let c = store.claim_response("r1").unwrap();
        assert_eq!(store.claim_response("r1"), Err(StoreError::Busy));
        done(&store, &c.thread_id, "r2");
        assert_eq!(
            store.claim_response("r1"),
            Err(StoreError::NotLatest {
                given: "r1".into(),
                latest: "r2".into()
            })
        );
        assert_eq!(
            store.claim_response("nope"),
            Err(StoreError::UnknownResponse("nope".into()))
        );
    }

    #[test]
    fn a_history_key_is_consumed_and_restored_on_release() {
        let store = ThreadStore::new(8);
        let c = store.claim_new("t1");
        store.finish(
            &c.thread_id,
            Outcome {
                history_key: Some(7),
                ..Outcome::default()
            },
        );
        let claim = store.claim_history(7).unwrap().unwrap();
        assert_eq!(store.claim_history(7), Ok(None));
        store.release(claim);
        assert_eq!(store.claim_history(7).unwrap().unwrap().thread_id, "t1");
    }

    #[test]
    fn forget_and_eviction_name_the_threads_to_drop() {
        let store = ThreadStore::new(2);
        for (t, r) in [("t1", "r1"), ("t2", "r2")] {
            store.claim_new(t);
            assert!(done(&store, t, r).is_empty());
        }
        store.claim_new("t3");
        assert_eq!(done(&store, "t3", "r3"), vec!["t1".to_string()]);
        assert!(matches!(
            store.claim_response("r1"),
            Err(StoreError::UnknownResponse(_))
        ));
        store.claim_new("t4");
        let forgotten = store.finish(
            "t4",
            Outcome {
                response_id: Some("r4".into()),
                forget: true,
                ..Outcome::default()
            },
        );
        assert_eq!(forgotten, vec!["t4".to_string()]);
        assert!(store.claim_response("r4").is_err());
    }
}
