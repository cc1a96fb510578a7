//! `codex-litellm serve`: the Codex agent as an OpenAI-compatible HTTP API. The HTTP and
//! protocol mapping is codex-litellm-serve's; this crate starts upstream's in-process
//! app-server the way `exec` does and serves it through [`AppServerAgent`].

mod agent;

use std::net::IpAddr;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use codex_app_server_client::DEFAULT_IN_PROCESS_CHANNEL_CAPACITY;
use codex_app_server_client::EnvironmentManager;
use codex_app_server_client::ExecServerRuntimePaths;
use codex_app_server_client::InProcessAppServerClient;
use codex_app_server_client::InProcessClientStartArgs;
use codex_arg0::Arg0DispatchPaths;
use codex_core::config::ConfigBuilder;
use codex_core::config::ConfigOverrides;
use codex_core::config::find_codex_home;
use codex_feedback::CodexFeedback;
use codex_litellm_serve::DEFAULT_PORT;
use codex_litellm_serve::SandboxMode;
use codex_litellm_serve::ServeConfig;
use codex_litellm_serve::Server;
use codex_protocol::protocol::AskForApproval;
use codex_protocol::protocol::SessionSource;
use codex_utils_cli::CliConfigOverrides;

pub use agent::AppServerAgent;

/// Where the API key comes from (a flag would show it in `ps`).
pub const API_KEY_ENV: &str = "CODEX_LITELLM_SERVE_API_KEY";

/// `codex-litellm serve` — run the Codex agent as an OpenAI-compatible API
/// (/v1/responses, /v1/chat/completions, /v1/models). Requests need
/// `Authorization: Bearer $CODEX_LITELLM_SERVE_API_KEY` when that variable is set.
#[derive(Debug, clap::Args)]
pub struct ServeCommand {
    /// Address to listen on. Anything but loopback needs CODEX_LITELLM_SERVE_API_KEY.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,

    /// Port to listen on.
    #[arg(long, default_value_t = DEFAULT_PORT)]
    pub port: u16,

    /// Root directory: every turn runs here or in a directory below it that the request
    /// names. Defaults to the current directory.
    #[arg(long = "cwd", short = 'C', value_name = "DIR")]
    pub cwd: Option<PathBuf>,

    /// What a turn may do; nobody can approve anything, so the sandbox decides.
    #[arg(long, value_enum, default_value_t = SandboxArg::ReadOnly)]
    pub sandbox: SandboxArg,

    /// Turns running at once.
    #[arg(long, default_value_t = 2, value_name = "N")]
    pub max_concurrent: usize,

    /// Requests waiting for a turn slot; beyond this they get 429 with Retry-After.
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub max_queue: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SandboxArg {
    ReadOnly,
    WorkspaceWrite,
}

impl From<SandboxArg> for SandboxMode {
    fn from(value: SandboxArg) -> Self {
        match value {
            SandboxArg::ReadOnly => SandboxMode::ReadOnly,
            SandboxArg::WorkspaceWrite => SandboxMode::WorkspaceWrite,
        }
    }
}

impl ServeCommand {
    /// The HTTP server's settings, checked before the agent starts (a refused bind costs
    /// nothing then).
    fn serve_config(&self) -> anyhow::Result<ServeConfig> {
        let root = match &self.cwd {
            Some(dir) => dir.clone(),
            None => std::env::current_dir().context("reading the current directory")?,
        };
        let mut config = ServeConfig::new(SocketAddr::new(self.host, self.port), root);
        config.api_key = std::env::var(API_KEY_ENV).ok();
        config.sandbox = self.sandbox.into();
        config.max_concurrent = self.max_concurrent;
        config.max_queue = self.max_queue;
        Ok(config.validate()?)
    }
}

/// Run `codex-litellm serve` until SIGTERM or Ctrl-C; in-flight turns may finish within
/// the grace period, then are interrupted; the app-server then flushes its session files.
pub async fn run_main(
    command: ServeCommand,
    root_config_overrides: CliConfigOverrides,
    arg0_paths: Arg0DispatchPaths,
) -> anyhow::Result<()> {
    if !codex_litellm_runtime::is_codex_litellm() {
        anyhow::bail!("`serve` is a codex-litellm command; run it as `codex-litellm serve`");
    }
    let serve_config = match command.serve_config() {
        Ok(config) => config,
        Err(err) => {
            // A refused start is the user's to fix: the reason, no backtrace.
            eprintln!("codex-litellm serve: {err:#}");
            std::process::exit(2);
        }
    };
    let cli_overrides = root_config_overrides
        .parse_overrides()
        .map_err(|err| anyhow::anyhow!("codex-litellm serve: bad -c override: {err}"))?;
    let codex_home = find_codex_home().context("finding the Codex home")?;
    let sandbox_mode = match serve_config.sandbox {
        SandboxMode::ReadOnly => codex_protocol::config_types::SandboxMode::ReadOnly,
        SandboxMode::WorkspaceWrite => codex_protocol::config_types::SandboxMode::WorkspaceWrite,
    };
    let overrides = ConfigOverrides {
        approval_policy: Some(AskForApproval::Never),
        sandbox_mode: Some(sandbox_mode),
        cwd: Some(serve_config.root.clone()),
        codex_self_exe: arg0_paths.codex_self_exe.clone(),
        codex_linux_sandbox_exe: arg0_paths.codex_linux_sandbox_exe.clone(),
        main_execve_wrapper_exe: arg0_paths.main_execve_wrapper_exe.clone(),
        ..ConfigOverrides::default()
    };
    let config = ConfigBuilder::default()
        .codex_home(codex_home.to_path_buf())
        .cli_overrides(cli_overrides.clone())
        .harness_overrides(overrides)
        .build()
        .await
        .context("loading the Codex configuration")?;
    let provider_id = config.model_provider_id.clone();

    let local_runtime_paths = ExecServerRuntimePaths::from_optional_paths(
        arg0_paths.codex_self_exe.clone(),
        arg0_paths.codex_linux_sandbox_exe.clone(),
    )?;
    let state_db = codex_core::init_state_db(&config).await;
    let environment_manager = EnvironmentManager::from_codex_home(
        config.codex_home.clone(),
        Some(local_runtime_paths),
        config.http_client_factory(),
    )
    .await?;
    let client = InProcessAppServerClient::start(InProcessClientStartArgs {
        arg0_paths,
        config: Arc::new(config),
        cli_overrides,
        loader_overrides: Default::default(),
        strict_config: false,
        cloud_config_bundle: Default::default(),
        feedback: CodexFeedback::new(),
        log_db: None,
        state_db,
        environment_manager: Arc::new(environment_manager),
        config_warnings: Vec::new(),
        session_source: SessionSource::Exec,
        enable_codex_api_key_env: true,
        client_name: "codex_litellm_serve".to_string(),
        client_version: env!("CARGO_PKG_VERSION").to_string(),
        experimental_api: true,
        mcp_server_openai_form_elicitation: false,
        opt_out_notification_methods: agent::UNUSED_NOTIFICATIONS
            .iter()
            .map(|method| (*method).to_string())
            .collect(),
        channel_capacity: DEFAULT_IN_PROCESS_CHANNEL_CAPACITY,
    })
    .await
    .context("starting the Codex agent")?;
    let agent = AppServerAgent::new(client, provider_id.clone());

    let server = match Server::bind(serve_config.clone(), agent.clone()).await {
        Ok(server) => server,
        Err(err) => {
            eprintln!("codex-litellm serve: {err}");
            agent.shutdown().await;
            std::process::exit(2);
        }
    };
    let addr = server.local_addr()?;
    eprintln!(
        "codex-litellm serve: listening on http://{addr}/v1 · provider {provider_id} · sandbox {} · root {} · {} · at most {} turn(s) at once",
        serve_config.sandbox.as_str(),
        serve_config.root.display(),
        if serve_config.api_key.is_some() {
            "bearer key required"
        } else {
            "no key (loopback only)"
        },
        serve_config.max_concurrent,
    );
    let report = server
        .run(shutdown_signal())
        .await
        .map_err(|err| anyhow::anyhow!("codex-litellm serve: {err}"))?;
    agent.shutdown().await;
    eprintln!(
        "codex-litellm serve: stopped ({} turn(s) in flight at shutdown, {} interrupted)",
        report.in_flight, report.interrupted
    );
    Ok(())
}

/// SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::SignalKind;
        use tokio::signal::unix::signal;
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
