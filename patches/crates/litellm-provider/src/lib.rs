//! codex-litellm inside upstream Codex (rust-v0.148.0 and later), through upstream's own
//! seams: a [`ChatModelProvider`] that `create_model_provider` hands out for chat providers,
//! and the [`ProviderTransport`] that core's `build_api_transport` returns, which sends a
//! chat provider's `/responses` requests through the Chat Completions bridge.
//!
//! Whether a provider is a chat provider is codex-litellm's own setting, keyed by provider
//! id; upstream's `ModelProviderInfo` has no id, so config loading reports which id a
//! resolved table belongs to ([`note_resolved_provider`]). `codex-litellm doctor` gets its
//! chat provider rows from [`doctor_rows`].

mod doctor;
mod models;
mod provider;
mod registry;
mod transport;

pub use codex_litellm_doctor::CATEGORIES as DOCTOR_CATEGORIES;
pub use codex_litellm_doctor::Row as DoctorRow;
pub use codex_litellm_doctor::Status as DoctorStatus;
pub use doctor::doctor_rows;
pub use models::PreparedModels;
pub use provider::ChatModelProvider;
pub use registry::ChatProvider;
pub use registry::chat_provider;
pub use registry::note_resolved_provider;
pub use registry::resolved_context_windows;
pub use transport::ProviderTransport;

use std::sync::Once;

/// The command line, parsed the codex-litellm way when run as `codex-litellm` (see
/// `codex_litellm_runtime::parse_cli`), after installing the chat provider into upstream's
/// `create_model_provider`. Run as `codex`, nothing is installed and this is `T::parse()`.
pub fn parse_cli<T: clap::Parser>() -> T {
    if codex_litellm_runtime::is_codex_litellm() {
        install();
    }
    codex_litellm_runtime::parse_cli::<T>()
}

/// Makes upstream's `create_model_provider` wrap chat providers in [`ChatModelProvider`].
pub fn install() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        codex_model_provider::set_model_provider_wrapper(provider::wrap_chat_provider);
    });
}
