//! The process-wide codex-litellm state: settings read once, and the observers every
//! bridged request reports to (debug telemetry files, per-session model counters).

use crate::identity::IDENTITY_ENV;
use crate::identity::invoked_as_codex_litellm;
use crate::identity::series;
use crate::selection::Context;
use crate::selection::Resolution;
use crate::settings::CONFIG_TOML;
use crate::settings::ENV_TELEMETRY;
use crate::settings::LITELLM_TOML;
use crate::settings::LitellmSettings;
use crate::settings::codex_home;
use crate::startup::StartupAction;
use crate::startup::plan;
use crate::startup::subcommand;
use codex_litellm_bridge::BridgeOptions;
use codex_litellm_bridge::ExchangeObserver;
use codex_litellm_bridge::ExchangeReport;
use codex_litellm_debug_telemetry::DebugTelemetry;
use codex_litellm_debug_telemetry::DebugTelemetryConfig;
use codex_litellm_debug_telemetry::TelemetryLevel;
use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::OnceLock;

struct Runtime {
    /// Started as codex-litellm; run as `codex`, no provider is a chat provider.
    active: bool,
    settings: LitellmSettings,
    resolution: Option<Resolution>,
    telemetry: Option<Arc<DebugTelemetry>>,
    telemetry_dir: PathBuf,
    raw_capture_limit: usize,
}

static RUNTIME: OnceLock<Runtime> = OnceLock::new();

fn runtime() -> &'static Runtime {
    RUNTIME.get_or_init(|| {
        // Not started through `startup_args` (run as `codex`, or a library caller): read the
        // settings now; a broken litellm.toml must not stop stock behaviour, so it is
        // reported and ignored.
        let active = is_codex_litellm();
        let home = codex_home();
        let settings = load_view(&home)
            .map(|view| view.settings)
            .unwrap_or_else(|err| {
                tracing::warn!("{err}; using defaults");
                LitellmSettings::default()
            });
        build_runtime(home, settings, None, None, active)
    })
}

fn build_runtime(
    home: PathBuf,
    settings: LitellmSettings,
    flag_level: Option<String>,
    resolution: Option<Resolution>,
    active: bool,
) -> Runtime {
    let level_text = flag_level
        .or_else(|| {
            std::env::var(ENV_TELEMETRY)
                .ok()
                .filter(|v| !v.trim().is_empty())
        })
        .unwrap_or_else(|| settings.telemetry.level.clone());
    let level = level_text
        .trim()
        .parse::<TelemetryLevel>()
        .unwrap_or_else(|_| {
            // Settings and flags are validated at startup; only a bad environment value gets here.
            tracing::warn!(
                "{ENV_TELEMETRY}={level_text:?} is not off, summary or full; using summary"
            );
            TelemetryLevel::Summary
        });
    let telemetry_dir = settings.telemetry.resolved_dir(&home);
    let max_raw_bytes = (settings.telemetry.max_raw_kb as usize).saturating_mul(1024);
    let telemetry = (level != TelemetryLevel::Off).then(|| {
        Arc::new(DebugTelemetry::new(DebugTelemetryConfig {
            level,
            dir: telemetry_dir.clone(),
            max_total_bytes: settings.telemetry.max_total_mb.saturating_mul(1024 * 1024),
            max_raw_bytes,
        }))
    });
    let raw_capture_limit = if level == TelemetryLevel::Full {
        max_raw_bytes
    } else {
        0
    };
    Runtime {
        active,
        settings,
        resolution,
        telemetry,
        telemetry_dir,
        raw_capture_limit,
    }
}

/// config.toml and litellm.toml as codex-litellm sees them: after the migration, whether or
/// not it has been written yet (the doctor never writes).
#[derive(Debug, Clone, Default)]
pub struct ConfigView {
    pub codex_home: PathBuf,
    /// config.toml parsed (empty when missing or unparsable).
    pub config: toml::Table,
    pub settings: LitellmSettings,
    /// Settings still in config.toml that belong in litellm.toml.
    pub pending_migration: Vec<String>,
}

/// Reads `$CODEX_HOME`'s config.toml and litellm.toml without changing them.
pub fn load_view(codex_home: &std::path::Path) -> Result<ConfigView, String> {
    let config_text = std::fs::read_to_string(codex_home.join(CONFIG_TOML)).unwrap_or_default();
    let litellm_path = codex_home.join(LITELLM_TOML);
    let litellm_text = match std::fs::read_to_string(&litellm_path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(err) => return Err(format!("{}: cannot be read: {err}", litellm_path.display())),
    };
    let pending_migration = crate::migrate::legacy_settings_in(&config_text);
    let (config_text, litellm_text) = match crate::migrate::plan(&config_text, &litellm_text)? {
        Some(plan) => (plan.config_toml, plan.litellm_toml),
        None => (config_text, litellm_text),
    };
    let settings = LitellmSettings::from_toml(&litellm_text, &litellm_path.display().to_string())
        .map_err(|err| err.to_string())?;
    Ok(ConfigView {
        codex_home: codex_home.to_path_buf(),
        config: toml::from_str(&config_text).unwrap_or_default(),
        settings,
        pending_migration,
    })
}

/// The run's choice for `view`, from these arguments and the process environment.
pub fn resolve_for(view: &ConfigView, args: &[String]) -> Result<Resolution, String> {
    let home = view.codex_home.clone();
    let profile = move |name: &str| {
        std::fs::read_to_string(home.join(format!("{name}.config.toml")))
            .ok()
            .and_then(|text| toml::from_str::<toml::Table>(&text).ok())
    };
    let env = |name: &str| std::env::var(name).ok();
    crate::selection::resolve(
        args,
        &Context {
            config: &view.config,
            settings: &view.settings,
            profile: &profile,
            env: &env,
        },
    )
}

/// The command line Codex should parse. When run as `codex-litellm`: moves legacy settings
/// out of config.toml (not for `doctor`, which only reads), handles `--version`,
/// `telemetry ...` and bad settings itself (and exits), takes out the telemetry flags and
/// adds the provider, model and chat provider definitions as `-c` overrides. Run as `codex`,
/// returns the arguments as they are.
pub fn startup_args() -> Vec<OsString> {
    let args: Vec<OsString> = std::env::args_os().collect();
    let identity = std::env::var(IDENTITY_ENV).ok();
    if !invoked_as_codex_litellm(args.first().map(OsString::as_os_str), identity.as_deref()) {
        return args;
    }
    let home = codex_home();
    let text: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    if subcommand(&text) != Some("doctor") {
        match crate::migrate::migrate_codex_home(&home) {
            Ok(Some(report)) => eprintln!("{}", report.message()),
            Ok(None) => {}
            Err(err) => exit_with(1, &format!("codex-litellm: {err}")),
        }
    }
    let view = match load_view(&home) {
        Ok(view) => view,
        Err(err) => exit_with(1, &format!("codex-litellm: {err}")),
    };
    let profile_home = home.clone();
    let profile = move |name: &str| {
        std::fs::read_to_string(profile_home.join(format!("{name}.config.toml")))
            .ok()
            .and_then(|text| toml::from_str::<toml::Table>(&text).ok())
    };
    let env = |name: &str| std::env::var(name).ok();
    let context = Context {
        config: &view.config,
        settings: &view.settings,
        profile: &profile,
        env: &env,
    };
    let planned = match plan(args, &context, true) {
        Ok(planned) => planned,
        Err(message) => exit_with(2, &format!("codex-litellm: {message}")),
    };
    let settings = view.settings;
    match planned.action {
        StartupAction::PrintVersion => {
            println!("{}", series().version_line());
            std::process::exit(0);
        }
        StartupAction::TelemetryReader(reader_args) => {
            let runtime = build_runtime(home, settings, Some("off".to_string()), None, true);
            let mut args = vec![
                "--dir".to_string(),
                runtime.telemetry_dir.display().to_string(),
            ];
            args.extend(reader_args);
            // `serve` and `watch` live above the reader; everything else goes to it.
            let code = codex_litellm_telemetry_serve::run(
                "codex-litellm telemetry",
                args,
                &mut std::io::stdout(),
                &mut std::io::stderr(),
            );
            std::process::exit(code);
        }
        StartupAction::Continue => {
            let _ = RUNTIME.set(build_runtime(
                home,
                settings,
                planned.telemetry_level,
                planned.resolution,
                true,
            ));
            planned.args
        }
    }
}

/// Whether this process is codex-litellm (started as `codex-litellm` or with
/// `CODEX_LITELLM_IDENTITY=1`); run as `codex`, everything of ours stays out of the way.
pub fn is_active() -> bool {
    is_codex_litellm()
}

/// True when this process is codex-litellm (see `identity::invoked_as_codex_litellm`).
pub fn is_codex_litellm() -> bool {
    let argv0 = std::env::args_os().next();
    let identity = std::env::var(IDENTITY_ENV).ok();
    invoked_as_codex_litellm(argv0.as_deref(), identity.as_deref())
}

/// The command line parsed into `T`: run as `codex-litellm`, through [`startup_args`] and
/// with the help naming codex-litellm; run as `codex`, exactly `T::parse()`.
pub fn parse_cli<T: clap::Parser>() -> T {
    let args = startup_args();
    if !is_codex_litellm() {
        return T::parse_from(args);
    }
    let matches = crate::identity::codex_litellm_command(T::command()).get_matches_from(args);
    T::from_arg_matches(&matches).unwrap_or_else(|err| err.exit())
}

/// litellm.toml `background_model`: the model for upstream's background calls (approval
/// review, memories) on a chat provider; `None` means the session's model.
pub fn background_model() -> Option<String> {
    runtime()
        .settings
        .background_model
        .clone()
        .filter(|model| !model.trim().is_empty())
}

/// Every chat provider id (empty when run as `codex`).
pub fn chat_provider_ids() -> Vec<String> {
    let runtime = runtime();
    if !runtime.active {
        return Vec::new();
    }
    runtime.settings.chat_provider_ids()
}

/// Bridge options of provider `provider_id` if it is a chat provider (`litellm`,
/// `ollama-chat`, or listed in litellm.toml's `[providers]`); `None` for a Responses
/// provider, and for every provider when run as `codex`.
pub fn chat_bridge_options(provider_id: &str) -> Option<BridgeOptions> {
    let runtime = runtime();
    if !runtime.active {
        return None;
    }
    runtime.settings.bridge_options(provider_id)
}

/// litellm.toml's `[models]` table, raw (codex-litellm-models parses it).
pub fn model_overrides() -> codex_litellm_models::ModelOverrides {
    runtime().settings.models.clone()
}

/// What a run talks to and where each value came from, as shown at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartLine {
    /// `litellm (from litellm.toml provider)`
    pub provider: String,
    /// `http://gw:4000/v1 (LITELLM_BASE_URL)` (secrets redacted), or `default base URL`
    pub base_url: String,
    /// `model qwen3-coder (LITELLM_MODEL)`, or `model not set`
    pub model: String,
    /// Codex talks Responses to this provider itself (not a chat provider).
    pub not_bridged: bool,
}

impl std::fmt::Display for StartLine {
    /// `provider litellm (from litellm.toml provider) · http://gw:4000/v1 (LITELLM_BASE_URL)
    /// · model qwen3-coder (LITELLM_MODEL)`
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "provider {} · {} · {}",
            self.provider, self.base_url, self.model
        )?;
        if self.not_bridged {
            f.write_str(" · Responses API, not bridged")?;
        }
        Ok(())
    }
}

/// The start-up line's parts. Pass what Codex finally loaded; where a value is what
/// codex-litellm chose, its origin is told, otherwise it is `Codex config`. `None` when
/// run as `codex`.
pub fn start_line(
    provider_id: &str,
    base_url: Option<&str>,
    model: Option<&str>,
) -> Option<StartLine> {
    let runtime = runtime();
    if !runtime.active {
        return None;
    }
    let ours = runtime.resolution.as_ref();
    let source_of = |choice: Option<&crate::selection::Choice>, value: Option<&str>| match choice {
        Some(choice) if value.is_some() && choice.value.as_deref() == value => {
            choice.source.to_string()
        }
        _ => "Codex config".to_string(),
    };
    // Shown in the terminal: a model id may come from the backend (its escape sequences
    // would be run, not shown).
    let safe = codex_litellm_models::display_safe;
    let base_url = match base_url {
        Some(url) => format!(
            "{} ({})",
            safe(&codex_litellm_bridge::redact_url(url)),
            source_of(ours.map(|r| &r.base_url), Some(url))
        ),
        None => "default base URL".to_string(),
    };
    let model = match model {
        Some(model) => format!(
            "model {} ({})",
            safe(model),
            source_of(ours.map(|r| &r.model), Some(model))
        ),
        None => "model not set".to_string(),
    };
    Some(StartLine {
        provider: format!(
            "{} (from {})",
            safe(provider_id),
            source_of(ours.map(|r| &r.provider), Some(provider_id))
        ),
        base_url,
        model,
        not_bridged: !runtime.settings.is_chat_provider(provider_id),
    })
}

fn exit_with(code: i32, message: &str) -> ! {
    eprintln!("{message}");
    std::process::exit(code)
}

/// Forwards each report to the debug telemetry files and the session counters.
struct RuntimeObserver;

impl ExchangeObserver for RuntimeObserver {
    fn on_exchange(&self, report: &ExchangeReport) {
        codex_litellm_model_session_telemetry::global().on_exchange(report);
        if let Some(telemetry) = &runtime().telemetry {
            telemetry.on_exchange(report);
        }
    }

    fn on_notice(&self, notice: &str) {
        crate::session::print_notice(notice);
    }
}

pub fn exchange_observer() -> Arc<dyn ExchangeObserver> {
    Arc::new(RuntimeObserver)
}

/// Raw upstream bytes to keep per attempt (telemetry level `full`), else 0.
pub fn raw_capture_limit() -> usize {
    runtime().raw_capture_limit
}

/// Values for the `LiteLLM` rows of the TUI's `/status` card, one per model (empty when
/// nothing was bridged).
pub fn status_lines() -> Vec<String> {
    let snapshot = codex_litellm_model_session_telemetry::global().snapshot();
    codex_litellm_model_session_telemetry::status_entries(&snapshot)
}

/// The end-of-run summary of `codex-litellm exec`, on stderr (stdout stays the answer).
pub fn print_exec_summary() {
    let snapshot = codex_litellm_model_session_telemetry::global().snapshot();
    if let Some(summary) = codex_litellm_model_session_telemetry::exec_summary(&snapshot) {
        eprintln!("{summary}");
        if let Some(telemetry) = &runtime().telemetry {
            telemetry.flush();
            eprintln!(
                "exchanges recorded in {} (codex-litellm telemetry show last)",
                runtime().telemetry_dir.display()
            );
        }
    }
}
