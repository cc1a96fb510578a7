//! What `serve` is started with, checked before anything binds.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::agent::SandboxMode;

pub const DEFAULT_PORT: u16 = 11435;

#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub addr: SocketAddr,
    /// Required for any non-loopback address.
    pub api_key: Option<String>,
    /// Every turn runs in this directory or below it.
    pub root: PathBuf,
    pub sandbox: SandboxMode,
    /// Turns running at once.
    pub max_concurrent: usize,
    /// Requests waiting for a turn slot; beyond this, 429.
    pub max_queue: usize,
    /// How long a queued request waits before it gets a 429.
    pub queue_timeout: Duration,
    /// `Retry-After` seconds on a 429.
    pub retry_after_secs: u64,
    /// Interval of `: keepalive` comments on a quiet stream.
    pub keepalive: Duration,
    /// Conversations remembered for continuation.
    pub max_threads: usize,
    /// On shutdown, how long running turns may finish before they are interrupted.
    pub shutdown_grace: Duration,
    /// Deterministic ids and timestamps (tests and snapshots only).
    pub deterministic: bool,
}

impl ServeConfig {
    pub fn new(addr: SocketAddr, root: PathBuf) -> Self {
        Self {
            addr,
            api_key: None,
            root,
            sandbox: SandboxMode::ReadOnly,
            max_concurrent: 2,
            max_queue: 8,
            queue_timeout: Duration::from_secs(60),
            retry_after_secs: 5,
            keepalive: Duration::from_secs(15),
            max_threads: 256,
            shutdown_grace: Duration::from_secs(10),
            deterministic: false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "refusing to listen on {0} without an API key: anyone who can reach it could run the agent. Set the environment variable CODEX_LITELLM_SERVE_API_KEY (clients then send it as a bearer key) or listen on 127.0.0.1"
    )]
    NonLoopbackWithoutKey(SocketAddr),
    #[error(
        "CODEX_LITELLM_SERVE_API_KEY is empty; set a non-empty key, or unset it (loopback only)"
    )]
    EmptyKey,
    #[error("--max-concurrent must be at least 1")]
    ZeroConcurrency,
    #[error("the served root {path} cannot be used: {reason}")]
    Root { path: PathBuf, reason: String },
}

impl ServeConfig {
    /// Check the configuration and make `root` canonical (symlinks resolved), so every
    /// request's cwd is compared against the real directory.
    pub fn validate(mut self) -> Result<Self, ConfigError> {
        if self.api_key.as_deref() == Some("") {
            return Err(ConfigError::EmptyKey);
        }
        if !self.addr.ip().is_loopback() && self.api_key.is_none() {
            return Err(ConfigError::NonLoopbackWithoutKey(self.addr));
        }
        if self.max_concurrent == 0 {
            return Err(ConfigError::ZeroConcurrency);
        }
        let root = std::fs::canonicalize(&self.root).map_err(|e| ConfigError::Root {
            path: self.root.clone(),
            reason: e.to_string(),
        })?;
        if !root.is_dir() {
            return Err(ConfigError::Root {
                path: self.root,
                reason: "not a directory".to_string(),
            });
        }
        self.root = root;
        Ok(self)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn non_loopback_needs_a_key_and_loopback_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let open = ServeConfig::new("0.0.0.0:0".parse().unwrap(), dir.path().into());
        let err = open.clone().validate().unwrap_err();
        assert!(
            matches!(err, ConfigError::NonLoopbackWithoutKey(_)),
            "{err}"
        );
        let mut keyed = open;
        keyed.api_key = Some("k".into());
        assert!(keyed.validate().is_ok());
        let local = ServeConfig::new("127.0.0.1:0".parse().unwrap(), dir.path().into());
        assert!(local.validate().is_ok());
        let v6 = ServeConfig::new("[::1]:0".parse().unwrap(), dir.path().into());
        assert!(v6.validate().is_ok());
    }

    #[test]
    fn empty_key_and_missing_root_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = ServeConfig::new("127.0.0.1:0".parse().unwrap(), dir.path().into());
        c.api_key = Some(String::new());
        assert!(matches!(c.validate(), Err(ConfigError::EmptyKey)));
        let c = ServeConfig::new("127.0.0.1:0".parse().unwrap(), dir.path().join("missing"));
        assert!(matches!(c.validate(), Err(ConfigError::Root { .. })));
    }
}
