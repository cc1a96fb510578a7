//! The process-wide codex-litellm state: settings read once, and the observers every
//! bridged request reports to (debug telemetry files, per-session model counters).

use crate::identity::IDENTITY_ENV;
use crate::identity::invoked_as_codex_litellm;
use crate::identity::series;
use crate::settings::ENV_API_KEY;
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
    Runtime {
        settings,
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
            let _ = RUNTIME.set(build_runtime(home, settings, planned.telemetry_level));
            planned.args
        }
    }
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

/// What the built-in `litellm` provider is made of.
#[derive(Debug, Clone, PartialEq)]
pub struct LitellmProvider {
    pub name: String,
    pub base_url: String,
    pub env_key: String,
    pub env_key_instructions: String,
    /// The bridge already retries each request; Codex's own stream retries on top of that
    /// would multiply the attempts.
    pub stream_max_retries: u64,
    pub bridge: BridgeOptions,
}

pub fn litellm_provider() -> LitellmProvider {
    let settings = &runtime().settings;
    LitellmProvider {
        name: "LiteLLM".to_string(),
        base_url: settings.litellm_base_url(std::env::var(ENV_BASE_URL).ok()),
        env_key: ENV_API_KEY.to_string(),
        env_key_instructions: format!(
            "Set {ENV_API_KEY} to your LiteLLM key (any non-empty value if the gateway has no auth), \
and {ENV_BASE_URL} to the gateway URL (default {}).",
            crate::settings::DEFAULT_LITELLM_BASE_URL
        ),
        stream_max_retries: 1,
        bridge: settings.bridge.clone().unwrap_or_default(),
    }
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
