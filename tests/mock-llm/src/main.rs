//! `mock-llm`: the mock Chat Completions server as a process, for shell smoke scenarios.

use std::io::Read as _;
use std::io::Write as _;
use std::path::Path;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use codex_litellm_mock_llm::MockLlm;
use codex_litellm_mock_llm::Scenario;
use codex_litellm_mock_llm::StartError;
use codex_litellm_mock_llm::StartOptions;

/// Scripted Chat Completions server on 127.0.0.1 (see tests/mock-llm/README.md).
#[derive(Debug, Parser)]
#[command(name = "mock-llm", version)]
struct Cli {
    /// Scenario file (JSON).
    #[arg(long, value_name = "FILE")]
    scenario: PathBuf,
    /// Port on 127.0.0.1; 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Write the chosen port here (atomically: temp file, then rename).
    #[arg(long, value_name = "FILE")]
    port_file: Option<PathBuf>,
    /// Append each received request to this file as one JSON line (secrets redacted).
    #[arg(long, value_name = "FILE")]
    record: Option<PathBuf>,
    /// Do not log requests to stderr.
    #[arg(long)]
    quiet: bool,
    /// Exit when standard input reaches end-of-file (hold a pipe to it open while needed).
    #[arg(long)]
    exit_on_stdin_eof: bool,
    /// Exit when the parent process dies (checked every 200 ms; Unix only).
    #[arg(long)]
    exit_with_parent: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let scenario = match Scenario::from_file(&cli.scenario) {
        Ok(scenario) => scenario,
        Err(e) => {
            eprintln!("mock-llm: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("mock-llm: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(run(cli, scenario))
}

async fn run(cli: Cli, scenario: Scenario) -> ExitCode {
    let options = StartOptions {
        port: cli.port,
        record_file: cli.record.clone(),
        log_requests: !cli.quiet,
    };
    let server = match MockLlm::start_with_options(scenario, options).await {
        Ok(server) => server,
        Err(e) => {
            eprintln!("mock-llm: {e}");
            return ExitCode::from(match e {
                StartError::Scenario(_) => 2,
                _ => 1,
            });
        }
    };
    if let Some(path) = &cli.port_file
        && let Err(e) = write_atomically(path, &format!("{}\n", server.port()))
    {
        eprintln!("mock-llm: cannot write port file {}: {e}", path.display());
        return ExitCode::from(1);
    }
    {
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "listening on {}", server.base_url());
        let _ = stdout.flush();
    }

    let (stop_tx, mut stop_rx) = tokio::sync::mpsc::unbounded_channel::<&'static str>();
    if cli.exit_on_stdin_eof {
        let tx = stop_tx.clone();
        std::thread::spawn(move || {
            let mut stdin = std::io::stdin().lock();
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdin.read(&mut buf) {
                if n == 0 {
                    break;
                }
            }
            let _ = tx.send("stdin closed");
        });
    }
    if cli.exit_with_parent {
        watch_parent(stop_tx.clone());
    }

    let reason = wait_for_stop(&mut stop_rx).await;
    if !cli.quiet {
        eprintln!("mock-llm: stopping ({reason})");
    }
    server.shutdown().await;
    ExitCode::SUCCESS
}

#[cfg(unix)]
async fn wait_for_stop(
    stop_rx: &mut tokio::sync::mpsc::UnboundedReceiver<&'static str>,
) -> &'static str {
    use tokio::signal::unix::SignalKind;
    use tokio::signal::unix::signal;
    let mut term = signal(SignalKind::terminate()).ok();
    let mut int = signal(SignalKind::interrupt()).ok();
    let mut hup = signal(SignalKind::hangup()).ok();
    async fn recv(s: &mut Option<tokio::signal::unix::Signal>) {
        match s {
            Some(s) => {
                s.recv().await;
            }
            None => std::future::pending::<()>().await,
        }
    }
    tokio::select! {
        _ = recv(&mut term) => "SIGTERM",
        _ = recv(&mut int) => "SIGINT",
        _ = recv(&mut hup) => "SIGHUP",
        reason = stop_rx.recv() => reason.unwrap_or("stop channel closed"),
    }
}

#[cfg(not(unix))]
async fn wait_for_stop(
    stop_rx: &mut tokio::sync::mpsc::UnboundedReceiver<&'static str>,
) -> &'static str {
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "Ctrl-C",
        reason = stop_rx.recv() => reason.unwrap_or("stop channel closed"),
    }
}

#[cfg(unix)]
fn watch_parent(tx: tokio::sync::mpsc::UnboundedSender<&'static str>) {
    let parent = std::os::unix::process::parent_id();
    std::thread::spawn(move || {
        loop {
            std::thread::sleep(std::time::Duration::from_millis(200));
            if std::os::unix::process::parent_id() != parent {
                let _ = tx.send("parent process exited");
                break;
            }
        }
    });
}

#[cfg(not(unix))]
fn watch_parent(_tx: tokio::sync::mpsc::UnboundedSender<&'static str>) {
    eprintln!("mock-llm: --exit-with-parent is only supported on Unix; ignoring it");
}

fn write_atomically(path: &Path, contents: &str) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp.{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, contents)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}
