//! codex-litellm debug telemetry: every bridged exchange becomes one redacted JSON line in a
//! per-session file, with a one-line diagnosis of how the request ended.
//!
//! - [`DebugTelemetry`] is the bridge's [`codex_litellm_bridge::ExchangeObserver`]. It builds a
//!   record on the caller's thread (cheap) and hands it to a background writer over a bounded
//!   channel; redaction, serialization, file I/O and the folder size cap all happen there.
//!   Nothing it does can fail or noticeably slow a turn.
//! - [`diagnose`] says, in one line, why an exchange ended (completed, cut off, rate limited,
//!   stalled, ...).
//! - [`redact`] removes credentials before anything is written.
//! - [`reader`] lists, shows and summarizes the files ([`run_reader`] backs both the
//!   `codex-litellm-telemetry` binary and `codex-litellm telemetry ...`, through
//!   `codex-litellm-telemetry-serve`, which adds `serve` and `watch`).

mod config;
mod diagnose;
mod format;
pub mod reader;
mod record;
/// Redaction lives in the bridge, which uses the same rules for what it shows the user.
pub use codex_litellm_bridge::redact;
mod writer;

pub use config::DEFAULT_MAX_RAW_BYTES;
pub use config::DEFAULT_MAX_TOTAL_BYTES;
pub use config::DebugTelemetryConfig;
pub use config::ENV_TELEMETRY;
pub use config::TelemetryLevel;
pub use config::codex_home;
pub use config::default_dir;
pub use diagnose::diagnose;
pub use diagnose::diagnosis_kind;
pub use diagnose::retries;
pub use reader::run_reader;
pub use reader::run_reader_named;
pub use record::AttemptRecord;
pub use record::ExchangeRecord;
pub use record::FaultRecord;
pub use record::OutcomeRecord;
pub use record::RECORD_VERSION;
pub use record::RecoveredCallRecord;
pub use record::RequestRecord;
pub use record::UsageRecord;
pub use writer::DebugTelemetry;
pub use writer::TelemetryStatus;
pub use writer::session_file_name;
