//! codex-litellm's process-level glue, kept out of upstream files: who the binary is, its
//! own settings (`[litellm]` in config.toml), what it does with its command line, and the
//! telemetry every bridged request reports to.

pub mod identity;
pub mod settings;
pub mod startup;
