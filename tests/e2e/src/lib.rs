//! Support for the end-to-end tests in tests/: which binaries to drive (or one skip line),
//! a fresh CODEX_HOME + workspace per test, bounded runs in process groups of their own,
//! the mock backend (tests/mock-llm, in process) and the LiteLLM proxy as guards.
//! See docs/ARCHITECTURE.md ("Where a new end-to-end scenario goes").

// Test support: a failed set-up step is the test's failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::BufRead as _;
use std::io::Write as _;
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::path::PathBuf;
use std::process::Command;
use std::process::Stdio;
use std::sync::Mutex;
use std::sync::MutexGuard;
use std::sync::Once;
use std::sync::OnceLock;
use std::sync::PoisonError;
use std::time::Duration;
use std::time::Instant;

use codex_litellm_mock_llm::MockLlm;
pub use codex_litellm_mock_llm::RecordedRequest;
pub use codex_litellm_mock_llm::Scenario;
use codex_litellm_mock_llm::StartOptions;
use serde_json::Value;

/// The API key every run gets: it must appear in no file and no output.
pub const SECRET: &str = "sk-smoke-SECRET-4f1c9a7e2b6d8053";
/// Env vars of the developer's shell that would point a run elsewhere.
const SCRUBBED: &[&str] = &[
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "CODEX_API_KEY",
    "CODEX_LITELLM_TELEMETRY",
    "LITELLM_BASE_URL",
    "LITELLM_API_KEY",
    "LITELLM_MODEL",
];
/// Every process a run starts inherits this, so leftovers (a tool command Codex started in
/// a session of its own) can be found and stopped.
const MARKER: &str = "CODEX_LITELLM_E2E_RUN";

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

// ---- binaries, or one skip line --------------------------------------------------

/// The binary named by `var`; `None` (after one skip line per test binary) when unset.
pub fn bin(var: &str, what: &str) -> Option<PathBuf> {
    match std::env::var_os(var).filter(|v| !v.is_empty()) {
        Some(path) => {
            let path = std::path::absolute(PathBuf::from(path)).unwrap();
            assert!(path.is_file(), "{var}={} is not a file", path.display());
            Some(path)
        }
        None => {
            skip(&format!("{var} is not set ({what})"));
            None
        }
    }
}

/// `CODEX_LITELLM_BIN`: the codex-litellm under test.
pub fn litellm_bin() -> Option<PathBuf> {
    bin(
        "CODEX_LITELLM_BIN",
        "a built codex-litellm, e.g. dist/codex-litellm",
    )
}

/// Says once per test binary that its tests did not run, past libtest's capture.
pub fn skip(why: &str) {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let exe = std::env::current_exe().unwrap_or_default();
        let name = exe.file_stem().unwrap_or_default().to_string_lossy();
        let name = name.split('-').next().unwrap_or_default();
        say(&format!(
            "codex-litellm-e2e: {name}: SKIPPED, {why}; these tests pass without running \
             (see tests/e2e/README.md)"
        ));
    });
}

/// One line on the test's real stderr (libtest captures eprintln!, not this).
pub fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// `CODEX_LITELLM_E2E_VIA_LITELLM=1`: put a real LiteLLM proxy in front of the mock.
pub fn via_litellm() -> bool {
    std::env::var("CODEX_LITELLM_E2E_VIA_LITELLM").is_ok_and(|v| v == "1")
}

// ---- a test's directories ---------------------------------------------------------

/// A fresh root with `home` (CODEX_HOME), `ws` (the workspace) and `tmp` (TMPDIR beside
/// the home: release builds refuse helper links in a CODEX_HOME under the temp folder).
pub struct Dirs {
    pub root: tempfile::TempDir,
    pub home: PathBuf,
    pub ws: PathBuf,
    pub tmp: PathBuf,
    runs: std::cell::Cell<usize>,
}

impl Dirs {
    pub fn new() -> Self {
        let root = match std::env::var_os("CODEX_LITELLM_E2E_KEEP") {
            Some(_) => tempfile::Builder::new()
                .prefix("codex-litellm-e2e.")
                .disable_cleanup(true)
                .tempdir(),
            None => tempfile::Builder::new()
                .prefix("codex-litellm-e2e.")
                .tempdir(),
        }
        .unwrap();
        let home = root.path().join("home");
        let ws = root.path().join("ws");
        let tmp = root.path().join("tmp");
        for d in [&home, &ws, &tmp] {
            std::fs::create_dir_all(d).unwrap();
        }
        Dirs {
            root,
            home,
            ws,
            tmp,
            runs: std::cell::Cell::new(0),
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.path().join(rel)
    }

    /// A command for `bin` in the workspace with CODEX_HOME, TMPDIR, loopback NO_PROXY and
    /// none of the shell's provider settings.
    pub fn cmd(&self, bin: &Path) -> Codex<'_> {
        let mut cmd = Command::new(bin);
        for var in SCRUBBED {
            cmd.env_remove(var);
        }
        cmd.current_dir(&self.ws)
            .env("CODEX_HOME", &self.home)
            .env("TMPDIR", &self.tmp)
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env("no_proxy", "127.0.0.1,localhost")
            .env("RUST_BACKTRACE", "1")
            .env(MARKER, self.root.path());
        Codex {
            dirs: self,
            cmd,
            timeout: Duration::from_secs(120),
            stdin: None,
        }
    }

    /// Every file under the root that holds the API key (Codex's shell snapshots hold the
    /// exported environment by design, see docs/SECURITY.md).
    pub fn files_with_secret(&self) -> Vec<PathBuf> {
        fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let path = entry.path();
                let Ok(kind) = entry.file_type() else {
                    continue;
                };
                if kind.is_dir() && entry.file_name() != "shell_snapshots" {
                    walk(&path, found);
                } else if kind.is_file()
                    && std::fs::read(&path)
                        .is_ok_and(|b| b.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()))
                {
                    found.push(path);
                }
            }
        }
        let mut found = Vec::new();
        walk(self.root.path(), &mut found);
        found
    }
}

impl Default for Dirs {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Dirs {
    fn drop(&mut self) {
        sweep(self.root.path());
        if std::env::var_os("CODEX_LITELLM_E2E_KEEP").is_some() {
            say(&format!("kept {}", self.root.path().display()));
        }
    }
}

// ---- bounded runs -----------------------------------------------------------------

/// One run being set up (upstream's `test_codex_exec().cmd()`).
pub struct Codex<'a> {
    dirs: &'a Dirs,
    cmd: Command,
    timeout: Duration,
    stdin: Option<Vec<u8>>,
}

impl Codex<'_> {
    pub fn args<I: IntoIterator<Item = S>, S: AsRef<std::ffi::OsStr>>(mut self, args: I) -> Self {
        self.cmd.args(args);
        self
    }
    pub fn arg(mut self, arg: impl AsRef<std::ffi::OsStr>) -> Self {
        self.cmd.arg(arg);
        self
    }
    pub fn env(mut self, k: &str, v: impl AsRef<std::ffi::OsStr>) -> Self {
        self.cmd.env(k, v);
        self
    }
    pub fn env_remove(mut self, k: &str) -> Self {
        self.cmd.env_remove(k);
        self
    }
    pub fn home(mut self, home: &Path) -> Self {
        self.cmd.env("CODEX_HOME", home);
        self
    }
    pub fn timeout_secs(mut self, secs: u64) -> Self {
        self.timeout = Duration::from_secs(secs);
        self
    }
    pub fn stdin(mut self, bytes: Vec<u8>) -> Self {
        self.stdin = Some(bytes);
        self
    }
    /// The litellm provider at `base_url` with the test key and `model`.
    pub fn litellm(self, base_url: &str, model: &str) -> Self {
        self.env("LITELLM_BASE_URL", base_url)
            .env("LITELLM_API_KEY", SECRET)
            .env("LITELLM_MODEL", model)
    }

    /// Runs to the end or the time limit in a process group of its own; stdout and stderr
    /// also go to runN.out / runN.err under the root (covered by the secret scan).
    #[allow(clippy::zombie_processes)] // reaped by wait4 below (for its rusage)
    pub fn run(mut self) -> Run {
        let n = self.dirs.runs.get() + 1;
        self.dirs.runs.set(n);
        self.cmd
            .process_group(0)
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let started = Instant::now();
        let mut child = self
            .cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {:?}: {e}", self.cmd));
        let group = Group(child.id() as i32);
        if let (Some(bytes), Some(mut pipe)) = (self.stdin.take(), child.stdin.take()) {
            std::thread::spawn(move || pipe.write_all(&bytes));
        }
        let out = child.stdout.take().unwrap();
        let stdout = std::thread::spawn(move || {
            let mut lines = Vec::new();
            for line in std::io::BufReader::new(out)
                .split(b'\n')
                .map_while(Result::ok)
            {
                lines.push((
                    started.elapsed().as_secs_f64(),
                    String::from_utf8_lossy(&line).into_owned(),
                ));
            }
            lines
        });
        let mut err = child.stderr.take().unwrap();
        let stderr = std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = std::io::Read::read_to_end(&mut err, &mut buf);
            String::from_utf8_lossy(&buf).into_owned()
        });
        let (mut status, mut timed_out) = (0, false);
        // SAFETY: an all-zero rusage is valid; wait4 fills it in.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        loop {
            // SAFETY: plain FFI call on our own child's pid with valid out-pointers.
            let pid = unsafe { libc::wait4(group.0, &mut status, libc::WNOHANG, &mut usage) };
            if pid == group.0 || pid < 0 {
                break;
            }
            if started.elapsed() > self.timeout {
                timed_out = true;
                group.kill(libc::SIGTERM);
                std::thread::sleep(Duration::from_secs(3));
                group.kill(libc::SIGKILL);
                // SAFETY: as above, blocking this time.
                unsafe { libc::wait4(group.0, &mut status, 0, &mut usage) };
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let secs = started.elapsed().as_secs_f64();
        drop(group); // whatever the run left in its group
        sweep(self.dirs.root.path());
        let code = if libc::WIFEXITED(status) {
            libc::WEXITSTATUS(status)
        } else {
            128 + libc::WTERMSIG(status)
        };
        let lines = stdout.join().unwrap();
        let stdout: String = lines.iter().map(|(_, l)| format!("{l}\n")).collect();
        let stderr = stderr.join().unwrap();
        std::fs::write(self.dirs.path(&format!("run{n}.out")), &stdout).unwrap();
        std::fs::write(self.dirs.path(&format!("run{n}.err")), &stderr).unwrap();
        Run {
            code,
            stdout,
            stderr,
            lines,
            secs,
            timed_out,
            max_rss_kb: usage.ru_maxrss,
        }
    }
}

/// A process group; dropping it (also on panic) kills what is left of it.
struct Group(i32);

impl Group {
    fn kill(&self, signal: i32) {
        // SAFETY: plain FFI call; a group that is gone gives ESRCH.
        unsafe { libc::kill(-self.0, signal) };
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.kill(libc::SIGKILL);
    }
}

/// Kills every process that carries this root's marker (there should be none).
fn sweep(root: &Path) {
    let wanted = format!("{MARKER}={}", root.display());
    let me = std::process::id().to_string();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let pid = entry.file_name().to_string_lossy().into_owned();
        if pid == me || !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let environ = std::fs::read(entry.path().join("environ")).unwrap_or_default();
        if environ.split(|b| *b == 0).any(|v| v == wanted.as_bytes()) {
            // SAFETY: plain FFI call.
            unsafe { libc::kill(pid.parse().unwrap_or(0), libc::SIGKILL) };
        }
    }
}

/// What one run did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    /// stdout lines with the seconds since start at which each arrived.
    pub lines: Vec<(f64, String)>,
    pub secs: f64,
    pub timed_out: bool,
    pub max_rss_kb: i64,
}

impl Run {
    /// Exit 0, or a readable panic with the end of stderr.
    #[track_caller]
    pub fn assert_success(&self) {
        assert!(
            self.code == 0,
            "exit status {}, wanted 0; stderr ends:\n{}",
            self.code,
            tail(&self.stderr, 1200)
        );
    }
    /// The run ended with an error someone can see.
    pub fn failed_visibly(&self) -> bool {
        self.code != 0 || self.stderr.contains("ERROR")
    }
    pub fn panicked(&self) -> bool {
        self.stderr.contains("panicked at")
    }
}

pub fn tail(text: &str, n: usize) -> &str {
    let mut start = text.len().saturating_sub(n);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

// ---- files Codex writes -----------------------------------------------------------

/// JSON values of every line of the .jsonl files under `dir` (recursively, by path).
pub fn jsonl_under(dir: &Path) -> Vec<Value> {
    let mut files = Vec::new();
    fn walk(dir: &Path, files: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, files);
            } else if path.extension().is_some_and(|e| e == "jsonl") {
                files.push(path);
            }
        }
    }
    walk(dir, &mut files);
    files.sort();
    let mut out = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{}: line {} is not JSON ({e})", file.display(), n + 1));
            out.push(value);
        }
    }
    out
}

/// Telemetry records (`$CODEX_HOME/log/litellm/*.jsonl`), oldest first.
pub fn telemetry(home: &Path) -> Vec<Value> {
    let mut records = jsonl_under(&home.join("log/litellm"));
    records.sort_by_key(|r| r["started_at_ms"].as_u64().unwrap_or(0));
    records
}

/// Records of the session rollout files (`$CODEX_HOME/sessions`).
pub fn rollout(home: &Path) -> Vec<Value> {
    jsonl_under(&home.join("sessions"))
}

pub fn read(path: impl AsRef<Path>) -> String {
    std::fs::read_to_string(path.as_ref()).unwrap_or_default()
}

// ---- the mock backend ---------------------------------------------------------------

/// tests/mock-llm in this process, on its own runtime; dropping it closes the port.
pub struct Mock {
    server: Option<MockLlm>,
    rt: Option<tokio::runtime::Runtime>,
}

impl Mock {
    /// Serves `scenario` on `port` (0: a free one), recording to `record` if given. Retries
    /// a port the previous mock is still closing.
    pub fn start(scenario: Scenario, port: u16, record: Option<PathBuf>) -> Mock {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let server = loop {
            let options = StartOptions {
                port,
                record_file: record.clone(),
                log_requests: false,
            };
            match rt.block_on(MockLlm::start_with_options(scenario.clone(), options)) {
                Ok(server) => break server,
                Err(e) if Instant::now() > deadline => panic!("mock-llm did not start: {e}"),
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        };
        Mock {
            server: Some(server),
            rt: Some(rt),
        }
    }

    pub fn from_json(json: Value, port: u16) -> Mock {
        Mock::start(
            Scenario::from_json_str(&json.to_string()).unwrap(),
            port,
            None,
        )
    }

    fn server(&self) -> &MockLlm {
        self.server.as_ref().unwrap()
    }
    /// `http://127.0.0.1:PORT/v1`.
    pub fn url(&self) -> String {
        self.server().base_url()
    }
    pub fn port(&self) -> u16 {
        self.server().port()
    }
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.server().requests()
    }
    /// The chat requests, in arrival order.
    pub fn chat(&self) -> Vec<RecordedRequest> {
        self.server().chat_requests()
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        drop(self.server.take());
        if let Some(rt) = self.rt.take() {
            rt.shutdown_timeout(Duration::from_secs(2));
        }
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

// ---- the LiteLLM proxy -------------------------------------------------------------

/// A real LiteLLM proxy (scripts/litellm-proxy.sh, the pinned version) routing every
/// model to 127.0.0.1:`backend_port`; stopped on drop.
pub struct Proxy {
    /// `http://127.0.0.1:PORT/v1`.
    pub url: String,
    pub key: String,
    pub backend_port: u16,
    pub version: String,
    dir: tempfile::TempDir,
}

impl Proxy {
    /// Master key and backend key are [`SECRET`], so the key checks mean what they mean
    /// directly.
    pub fn start(models: &str) -> Proxy {
        let dir = tempfile::Builder::new()
            .prefix("codex-litellm-e2e-proxy.")
            .tempdir()
            .unwrap();
        let backend_port = free_port();
        say(&format!(
            "starting the LiteLLM proxy (backend port {backend_port})"
        ));
        let out = Command::new(repo_root().join("scripts/litellm-proxy.sh"))
            .args(["start", "--dir"])
            .arg(dir.path())
            .args([
                "--backend-port",
                &backend_port.to_string(),
                "--models",
                models,
            ])
            .env("LITELLM_PROXY_MASTER_KEY", SECRET)
            .env("LITELLM_PROXY_BACKEND_KEY", SECRET)
            .stderr(Stdio::inherit())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let var = |k: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("{k}=")))
                .map(str::to_string)
                .unwrap_or_else(|| panic!("the LiteLLM proxy did not start (no {k}): {text}"))
        };
        let proxy = Proxy {
            url: format!("{}/v1", var("LITELLM_PROXY_URL")),
            key: var("LITELLM_PROXY_KEY"),
            version: var("LITELLM_PROXY_VERSION"),
            backend_port,
            dir,
        };
        say(&format!(
            "via LiteLLM {} at {} -> mock on port {backend_port}",
            proxy.version, proxy.url
        ));
        proxy
    }

    fn stop(&self) {
        let _ = Command::new(repo_root().join("scripts/litellm-proxy.sh"))
            .args(["stop", "--dir"])
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .status();
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop();
    }
}

static SHARED_PROXY: OnceLock<Proxy> = OnceLock::new();
static SERIAL: Mutex<()> = Mutex::new(());

/// One proxy for the whole test binary, stopped at exit. It routes to one fixed port
/// where each test's mock listens in turn: the guard serialises those tests.
pub fn shared_proxy(models: &str) -> (&'static Proxy, MutexGuard<'static, ()>) {
    let guard = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    let proxy = SHARED_PROXY.get_or_init(|| {
        extern "C" fn stop_at_exit() {
            if let Some(proxy) = SHARED_PROXY.get() {
                proxy.stop();
            }
        }
        // SAFETY: registers a plain extern "C" fn; libtest leaves through exit().
        unsafe { libc::atexit(stop_at_exit) };
        Proxy::start(models)
    });
    (proxy, guard)
}

/// Median of some seconds (benches).
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn sh<'a>(dirs: &'a Dirs, script: &str) -> Codex<'a> {
        dirs.cmd(Path::new("/bin/sh")).args(["-c", script])
    }

    #[test]
    fn a_run_over_its_time_limit_is_stopped_with_what_it_started() {
        let dirs = Dirs::new();
        // A "daemon" in a session of its own, as a tool command started by Codex may be.
        let run = sh(
            &dirs,
            "setsid sleep 300 >/dev/null 2>&1 & echo $! > daemon.pid; sleep 300",
        )
        .timeout_secs(1)
        .run();
        assert!(run.timed_out);
        std::thread::sleep(Duration::from_millis(200));
        let pid = read(dirs.ws.join("daemon.pid")).trim().to_string();
        let state = read(format!("/proc/{pid}/stat"));
        assert!(
            state.is_empty() || state.contains(") Z "),
            "daemon {pid} still runs: {state}"
        );
    }

    #[test]
    fn the_secret_scan_finds_the_key_in_any_file() {
        let dirs = Dirs::new();
        assert_eq!(dirs.files_with_secret(), Vec::<PathBuf>::new());
        let run = sh(&dirs, "echo \"$LITELLM_API_KEY\" > leak.txt")
            .litellm("http://x", "m")
            .run();
        run.assert_success();
        assert_eq!(dirs.files_with_secret(), vec![dirs.ws.join("leak.txt")]);
    }

    #[test]
    fn every_smoke_script_parses() {
        for entry in std::fs::read_dir(repo_root().join("tests/smoke"))
            .unwrap()
            .flatten()
        {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "json") && !path.ends_with("catalog.json") {
                Scenario::from_file(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            }
        }
    }
}
