//! `telemetry serve` (a local, read-only web dashboard over the debug telemetry folder) and
//! `telemetry watch` (one terminal line per exchange as it completes), on top of
//! `codex-litellm-debug-telemetry`'s files and reader. [`run`] backs the
//! `codex-litellm-telemetry` binary and `codex-litellm telemetry ...`: `serve` and `watch`
//! are handled here, every other command by the reader.

pub mod index;
pub mod server;
pub mod session;
pub mod watch;

use clap::CommandFactory;
use clap::Parser;
use clap::Subcommand;
use codex_litellm_debug_telemetry::default_dir;
use codex_litellm_debug_telemetry::reader::select_session;
use codex_litellm_debug_telemetry::reader::session_files;
use std::io::Write;
use std::net::IpAddr;
use std::net::Ipv4Addr;
use std::net::SocketAddr;
use std::path::PathBuf;

/// The environment variable `serve` reads its token from when `--token` is not given (a
/// command line is visible to other users in `ps`).
pub const ENV_TOKEN: &str = "CODEX_LITELLM_TELEMETRY_TOKEN";
pub const DEFAULT_PORT: u16 = 8888;

#[derive(Debug, Parser)]
#[command(disable_version_flag = true)]
struct Cli {
    /// Telemetry folder [default: $CODEX_HOME/log/litellm, CODEX_HOME defaulting to ~/.codex]
    #[arg(long, value_name = "DIR", global = true, overrides_with = "dir")]
    dir: Option<PathBuf>,

    #[command(subcommand)]
    command: Live,
}

#[derive(Debug, Subcommand)]
enum Live {
    /// A local web dashboard of every session, turn and request, updated live (read-only).
    Serve {
        /// Port to listen on (0 picks a free one).
        #[arg(long, default_value_t = DEFAULT_PORT)]
        port: u16,
        /// Address to listen on. Anything but loopback needs --token.
        #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
        bind: IpAddr,
        /// Require this token (`?token=` in the URL or `Authorization: Bearer`); also read
        /// from CODEX_LITELLM_TELEMETRY_TOKEN.
        #[arg(long, value_name = "TOKEN")]
        token: Option<String>,
    },
    /// Print each exchange as it completes (request #, model, status, times, tokens, finish
    /// reason, error).
    Watch {
        /// Only this session (id prefix, file name or `last`); default: every session.
        session: Option<String>,
    },
}

/// True when `args` (what follows `telemetry`) ask for `serve` or `watch`.
pub fn is_live_command(args: &[String]) -> bool {
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--dir" => {
                rest.next();
            }
            a if a.starts_with("--dir=") => {}
            "serve" | "watch" => return true,
            _ => return false,
        }
    }
    false
}

/// True when `args` ask for the top-level help (`-h`, `--help`, `help`).
fn is_top_level_help(args: &[String]) -> bool {
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--dir" => {
                rest.next();
            }
            a if a.starts_with("--dir=") => {}
            "-h" | "--help" => return true,
            "help" => return rest.next().is_none(),
            _ => return false,
        }
    }
    false
}

/// The reader's help with `serve` and `watch` listed among its commands.
fn help(program: &str) -> String {
    let mut command =
        codex_litellm_debug_telemetry::reader::reader_command().bin_name(program.to_string());
    for (i, sub) in Cli::command().get_subcommands().enumerate() {
        command = command.subcommand(sub.clone().display_order(100 + i));
    }
    command.render_help().to_string()
}

/// `codex-litellm telemetry ...` and `codex-litellm-telemetry ...`: `serve` and `watch`
/// here, everything else by the reader. `args` are what follows the program or `telemetry`.
pub fn run(program: &str, args: Vec<String>, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    // `help serve` is `serve --help`.
    let mut args = args;
    if let Some(i) = args.iter().position(|a| a == "help")
        && matches!(args.get(i + 1).map(String::as_str), Some("serve" | "watch"))
        && is_live_command(&args[i + 1..])
    {
        args.remove(i);
        args.push("--help".to_string());
    }
    if is_top_level_help(&args) {
        let _ = write!(out, "{}", help(program));
        return 0;
    }
    if !is_live_command(&args) {
        return codex_litellm_debug_telemetry::run_reader_named(program, args, out, err);
    }
    let cli =
        match codex_litellm_debug_telemetry::reader::parse_args::<Cli>(program, args, out, err) {
            Ok(cli) => cli,
            Err(code) => return code,
        };
    let dir = cli.dir.unwrap_or_else(default_dir);
    let result = match cli.command {
        Live::Serve { port, bind, token } => {
            let token = token
                .or_else(|| std::env::var(ENV_TOKEN).ok())
                .filter(|t| !t.is_empty());
            serve(dir, SocketAddr::new(bind, port), token, out)
        }
        Live::Watch { session } => watch_command(dir, session.as_deref(), out),
    };
    match result {
        Ok(()) => 0,
        Err((code, message)) => {
            let _ = writeln!(err, "{message}");
            code
        }
    }
}

/// Refuses a non-loopback address without a token.
pub fn check_bind(addr: &SocketAddr, token: Option<&str>) -> Result<(), String> {
    if !addr.ip().is_loopback() && token.is_none() {
        return Err(format!(
            "refusing to serve telemetry on {} without a token: anyone who can reach it would read your sessions. Pass --token <TOKEN> (or set {ENV_TOKEN}), or drop --bind to stay on 127.0.0.1",
            addr.ip()
        ));
    }
    Ok(())
}

fn serve(
    dir: PathBuf,
    addr: SocketAddr,
    token: Option<String>,
    out: &mut dyn Write,
) -> Result<(), (i32, String)> {
    check_bind(&addr, token.as_deref()).map_err(|m| (2, m))?;
    if dir.exists() && !dir.is_dir() {
        return Err((
            1,
            format!(
                "{} is not a folder: pass the telemetry folder with --dir",
                dir.display()
            ),
        ));
    }
    if !dir.exists() {
        // Opened before the first session: wait for it rather than make the user restart.
        let _ = writeln!(
            out,
            "no telemetry folder at {} yet: sessions appear on the page as they are recorded (if telemetry is off or written elsewhere, see --dir)",
            dir.display()
        );
    }
    let has_token = token.is_some();
    let shared = server::Shared::new(dir.clone(), token);
    let (bound_tx, bound_rx) = std::sync::mpsc::channel();
    // Its own thread and runtime: `codex-litellm telemetry serve` is reached from inside
    // Codex's async main, where a second runtime cannot be started on the same thread.
    let thread = std::thread::Builder::new()
        .name("telemetry-serve".to_string())
        .spawn(move || -> std::io::Result<()> {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            runtime.block_on(server::serve(shared, addr, move |bound| {
                let _ = bound_tx.send(bound);
            }))
        })
        .map_err(|e| (1, format!("cannot start the server: {e}")))?;
    if let Ok(bound) = bound_rx.recv() {
        let host = match bound.ip() {
            IpAddr::V6(ip) => format!("[{ip}]"),
            IpAddr::V4(ip) => ip.to_string(),
        };
        let _ = writeln!(
            out,
            "telemetry dashboard for {}: http://{host}:{}/{} (read-only; Ctrl-C to stop)",
            dir.display(),
            bound.port(),
            if has_token { "?token=<your token>" } else { "" }
        );
        let _ = out.flush();
    }
    match thread.join() {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err((1, format!("cannot serve on {addr}: {e}"))),
        Err(_) => Err((1, "the server stopped unexpectedly".to_string())),
    }
}

fn watch_command(
    dir: PathBuf,
    session: Option<&str>,
    out: &mut dyn Write,
) -> Result<(), (i32, String)> {
    let files = session_files(&dir).map_err(|m| (1, m))?;
    let chosen = match session {
        Some(selector) => Some(
            select_session(&files, selector)
                .map_err(|m| (1, m))?
                .clone(),
        ),
        None => None,
    };
    watch::watch(dir, chosen.as_ref(), out, &mut || true).map_err(|m| (1, m))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn args(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn serve_and_watch_are_told_from_reader_commands() {
        // `codex-litellm telemetry` puts the configured folder first; the user's may follow.
        let cases = [
            ("--dir /x serve", true),
            ("--dir /x --dir=/y watch last", true),
            ("serve --port 0", true),
            ("--dir /x show serve", false),
            ("--dir serve list", false),
            ("--dir /x", false),
            ("summary --all", false),
        ];
        for (text, live) in cases {
            assert_eq!(is_live_command(&args(text)), live, "{text}");
        }
    }

    #[test]
    fn the_help_lists_serve_and_watch_with_the_reader_commands() {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        assert_eq!(
            run(
                "codex-litellm telemetry",
                args("--dir /x --help"),
                &mut out,
                &mut err
            ),
            0
        );
        let text = String::from_utf8_lossy(&out);
        for command in ["list", "show", "exchange", "summary", "serve", "watch"] {
            assert!(
                text.lines().any(|l| l.trim_start().starts_with(command)),
                "{command} missing from:\n{text}"
            );
        }
        assert!(text.contains("Usage: codex-litellm telemetry"), "{text}");
        let (mut out, mut err) = (Vec::new(), Vec::new());
        assert_eq!(
            run(
                "codex-litellm telemetry",
                args("help watch"),
                &mut out,
                &mut err
            ),
            0
        );
        let text = String::from_utf8_lossy(&out);
        assert!(
            text.contains("Usage: codex-litellm telemetry watch"),
            "{text}"
        );
    }

    #[test]
    fn only_loopback_names_count_as_loopback() {
        for (host, loopback) in [
            ("localhost:8888", true),
            ("LOCALHOST", true),
            ("127.0.0.1:1", true),
            ("127.9.9.9", true),
            ("[::1]:8888", true),
            ("localhost.evil.example", false),
            ("127.0.0.1.nip.io:8888", false),
            ("192.168.1.2:8888", false),
            ("[::ffff:10.0.0.1]:80", false),
            ("", false),
        ] {
            assert_eq!(server::is_loopback_host(host), loopback, "{host}");
        }
    }

    #[test]
    fn a_non_loopback_address_needs_a_token() {
        let any: SocketAddr = SocketAddr::from(([0, 0, 0, 0], 8888));
        let local: SocketAddr = SocketAddr::from(([127, 0, 0, 1], 8888));
        assert!(check_bind(&any, None).is_err());
        assert_eq!(check_bind(&any, Some("t")), Ok(()));
        assert_eq!(check_bind(&local, None), Ok(()));
    }
}
