//! codex-litellm's process-level glue, kept out of upstream files: who the binary is, its
//! own settings (`$CODEX_HOME/litellm.toml`, and the move of older ones out of config.toml),
//! which provider and model a run uses and why, what it does with its command line, and the
//! telemetry every bridged request reports to.

mod global;
pub mod identity;
pub mod migrate;
pub mod selection;
pub mod session;
pub mod settings;
pub mod startup;

pub use global::background_model;
pub use global::is_codex_litellm;
pub use global::parse_cli;
pub use session::hides_openai_account_rows;
pub use session::note_session_provider;
pub use session::print_exec_start_line;
pub use session::product_title;
pub use session::session_header_rows;
pub use session::session_provider_line;
pub use session::take_notices;
pub use session::welcome_title;

pub use global::ConfigView;
pub use global::chat_bridge_options;
pub use global::chat_provider_ids;
pub use global::is_active;
pub use global::load_view;
pub use global::model_overrides;
pub use global::resolve_for;
pub use global::start_line;

pub use global::exchange_observer;
pub use global::print_exec_summary;
pub use global::raw_capture_limit;
pub use global::startup_args;
pub use global::status_lines;
