//! The process-wide codex-litellm state: settings read once, and the observers every
//! bridged request reports to (debug telemetry files, per-session model counters).

use crate::chat_providers::ENV_OSS_BASE_URL;
use crate::chat_providers::builtin_provider_args;
use crate::identity::IDENTITY_ENV;
use crate::identity::invoked_as_codex_litellm;
use crate::identity::series;
use crate::settings::ENV_BASE_URL;
use crate::settings::ENV_MODEL;
use crate::settings::ENV_TELEMETRY;
use crate::settings::LitellmSettings;
use crate::settings::codex_home;
use crate::startup::StartupAction;
use crate::startup::plan;
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
    settings: LitellmSettings,
    /// `$CODEX_HOME/config.toml` as a table (empty when missing or unparsable: Codex
    /// reports a broken config itself).
    config_toml: toml::Table,
    telemetry: Option<Arc<DebugTelemetry>>,
    telemetry_dir: PathBuf,
    raw_capture_limit: usize,
}

static RUNTIME: OnceLock<Runtime> = OnceLock::new();

fn runtime() -> &'static Runtime {
    RUNTIME.get_or_init(|| {
        // Not started through `startup_args` (e.g. run as `codex`): read settings now; a
        // broken [litellm] table must not stop stock behaviour, so it is reported and ignored.
        let home = codex_home();
        let settings = LitellmSettings::load(&home).unwrap_or_else(|err| {
            tracing::warn!("{err}; using defaults");
            LitellmSettings::default()
        });
        build_runtime(home, settings, None)
    })
}

fn build_runtime(home: PathBuf, settings: LitellmSettings, flag_level: Option<String>) -> Runtime {
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
    let telemetry_dir = settings
        .telemetry
        .dir
        .clone()
        .unwrap_or_else(|| home.join("log").join("litellm"));
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
    let config_toml = std::fs::read_to_string(home.join("config.toml"))
        .ok()
        .and_then(|text| toml::from_str(&text).ok())
        .unwrap_or_default();
    Runtime {
        settings,
        config_toml,
        telemetry,
        telemetry_dir,
        raw_capture_limit,
    }
}

/// The command line Codex should parse. When run as `codex-litellm`, handles `--version`,
/// `telemetry ...` and bad `[litellm]` settings itself (and exits), takes out the telemetry
/// flags and adds the default provider and model. Run as `codex`, returns the arguments as
/// they are.
pub fn startup_args() -> Vec<OsString> {
    let args: Vec<OsString> = std::env::args_os().collect();
    let identity = std::env::var(IDENTITY_ENV).ok();
    if !invoked_as_codex_litellm(args.first().map(OsString::as_os_str), identity.as_deref()) {
        return args;
    }
    let home = codex_home();
    let settings = match LitellmSettings::load(&home) {
        Ok(settings) => settings,
        Err(err) => exit_with(1, &format!("codex-litellm: {err}")),
    };
    let env_model = std::env::var(ENV_MODEL).ok();
    let planned = match plan(args, &settings, env_model, true) {
        Ok(planned) => planned,
        Err(message) => exit_with(2, &format!("codex-litellm: {message}")),
    };
    match planned.action {
        StartupAction::PrintVersion => {
            println!("{}", series().version_line());
            std::process::exit(0);
        }
        StartupAction::TelemetryReader(reader_args) => {
            let runtime = build_runtime(home, settings, Some("off".to_string()));
            let mut args = vec![
                "--dir".to_string(),
                runtime.telemetry_dir.display().to_string(),
            ];
            args.extend(reader_args);
            let code = codex_litellm_debug_telemetry::run_reader(
                args,
                &mut std::io::stdout(),
                &mut std::io::stderr(),
            );
            std::process::exit(code);
        }
        StartupAction::Continue => {
            let runtime =
                RUNTIME.get_or_init(|| build_runtime(home, settings, planned.telemetry_level));
            let mut args = planned.args;
            // After the program name: the user's own `-c` flags, later, still win.
            let builtin = builtin_provider_args(
                &runtime.settings,
                &runtime.config_toml,
                std::env::var(ENV_BASE_URL).ok(),
                std::env::var(ENV_OSS_BASE_URL).ok(),
            );
            let at = args.len().min(1);
            args.splice(at..at, builtin);
            args
        }
    }
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

/// The bridge options for provider `id` when codex-litellm bridges it, else `None`.
pub fn chat_bridge_options(id: &str) -> Option<BridgeOptions> {
    let runtime = runtime();
    crate::chat_providers::chat_bridge_options(&runtime.settings, &runtime.config_toml, id)
}

/// `[litellm] background_model`: the model for upstream's background calls (approval
/// review, memories) on a chat provider; `None` means the session's model.
pub fn background_model() -> Option<String> {
    runtime()
        .settings
        .background_model
        .clone()
        .filter(|model| !model.trim().is_empty())
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
