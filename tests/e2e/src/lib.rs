//! Support for the end-to-end tests in tests/: which binaries to drive (or one skip line),
//! a fresh CODEX_HOME + workspace per test, bounded runs in process groups of their own,
//! the mock backend (tests/mock-llm, in process) and the LiteLLM proxy as guards, compact
//! assertions. See docs/ARCHITECTURE.md ("Where a new end-to-end scenario goes").

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

pub mod http;
pub mod serve;

use codex_litellm_mock_llm::MockLlm;
pub use codex_litellm_mock_llm::RecordedRequest;
pub use codex_litellm_mock_llm::Scenario;
use codex_litellm_mock_llm::StartOptions;
use serde_json::Value;

/// The API key every run gets: it must appear in no file and no output.
pub const SECRET: &str = "sk-smoke-SECRET-4f1c9a7e2b6d8053";
/// Variables of the developer's shell that would point a run elsewhere.
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
    let Some(path) = std::env::var_os(var).filter(|v| !v.is_empty()) else {
        skip(&format!("{var} is not set ({what})"));
        return None;
    };
    let path = std::path::absolute(PathBuf::from(path)).unwrap();
    assert!(path.is_file(), "{var}={} is not a file", path.display());
    Some(path)
}

/// `CODEX_LITELLM_BIN`: the codex-litellm under test.
pub fn litellm_bin() -> Option<PathBuf> {
    bin("CODEX_LITELLM_BIN", "a built codex-litellm")
}

/// Says once per test binary that its tests did not run, past libtest's capture.
pub fn skip(why: &str) {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let exe = std::env::current_exe().unwrap_or_default();
        let name = exe.file_stem().unwrap_or_default().to_string_lossy();
        let name = name.split('-').next().unwrap_or_default();
        let how = "these tests pass without running (see tests/e2e/README.md)";
        say(&format!("codex-litellm-e2e: {name}: SKIPPED, {why}; {how}"));
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

pub fn env_num(var: &str, default: u64) -> u64 {
    std::env::var(var).map_or(default, |v| v.parse().unwrap())
}

// ---- a test's directories and runs --------------------------------------------------

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
        let keep = std::env::var_os("CODEX_LITELLM_E2E_KEEP").is_some();
        let mut root = tempfile::Builder::new();
        let root = root
            .prefix("codex-litellm-e2e.")
            .disable_cleanup(keep)
            .tempdir();
        let root = root.unwrap();
        let [home, ws, tmp] = ["home", "ws", "tmp"].map(|d| root.path().join(d));
        for d in [&home, &ws, &tmp] {
            std::fs::create_dir_all(d).unwrap();
        }
        let runs = std::cell::Cell::new(0);
        Dirs {
            root,
            home,
            ws,
            tmp,
            runs,
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.path().join(rel)
    }

    /// A command for `bin` in the workspace with CODEX_HOME, TMPDIR, loopback NO_PROXY and
    /// none of the shell's provider settings (upstream's `test_codex_exec().cmd()`).
    pub fn cmd(&self, bin: &Path) -> Codex<'_> {
        let mut cmd = Command::new(bin);
        for var in SCRUBBED {
            cmd.env_remove(var);
        }
        cmd.current_dir(&self.ws).env("CODEX_HOME", &self.home);
        cmd.env("TMPDIR", &self.tmp).env("RUST_BACKTRACE", "1");
        cmd.env("NO_PROXY", "127.0.0.1,localhost");
        cmd.env("no_proxy", "127.0.0.1,localhost");
        cmd.env(MARKER, self.root.path());
        let timeout = Duration::from_secs(120);
        Codex {
            dirs: self,
            cmd,
            timeout,
        }
    }

    /// Every file under the root that holds the API key (Codex's shell snapshots hold the
    /// exported environment by design, see docs/SECURITY.md).
    pub fn files_with_secret(&self) -> Vec<PathBuf> {
        let mut files = files_under(self.root.path());
        files.retain(|f| !f.components().any(|c| c.as_os_str() == "shell_snapshots"));
        let key = SECRET.as_bytes();
        let leaks =
            |f: &PathBuf| std::fs::read(f).is_ok_and(|b| b.windows(key.len()).any(|w| w == key));
        files.into_iter().filter(leaks).collect()
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

/// Files under `dir`, recursively, sorted (symlinks not followed).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            files.extend(files_under(&entry.path()));
        } else if kind.is_file() {
            files.push(entry.path());
        }
    }
    files.sort();
    files
}

/// One run being set up.
pub struct Codex<'a> {
    dirs: &'a Dirs,
    cmd: Command,
    timeout: Duration,
}

impl Codex<'_> {
    pub fn args<I: IntoIterator<Item = S>, S: AsRef<std::ffi::OsStr>>(mut self, args: I) -> Self {
        self.cmd.args(args);
        self
    }
    pub fn env(mut self, k: &str, v: impl AsRef<std::ffi::OsStr>) -> Self {
        self.cmd.env(k, v);
        self
    }
    pub fn home(self, home: &Path) -> Self {
        self.env("CODEX_HOME", home)
    }
    pub fn timeout_secs(mut self, secs: u64) -> Self {
        self.timeout = Duration::from_secs(secs);
        self
    }
    /// The litellm provider at `base_url` with the test key and `model`.
    pub fn litellm(self, base_url: &str, model: &str) -> Self {
        let run = self.env("LITELLM_BASE_URL", base_url);
        run.env("LITELLM_API_KEY", SECRET)
            .env("LITELLM_MODEL", model)
    }

    /// Runs to the end or the time limit in a process group of its own; stdout and stderr
    /// also go to runN.out / runN.err under the root (covered by the secret scan).
    #[allow(clippy::zombie_processes)] // reaped by wait4 below (for its rusage)
    pub fn run(mut self) -> Run {
        let n = self.dirs.runs.get() + 1;
        self.dirs.runs.set(n);
        let cmd = self.cmd.process_group(0).stdin(Stdio::null());
        let cmd = die_with_parent(cmd.stdout(Stdio::piped()).stderr(Stdio::piped()));
        let started = Instant::now();
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
        let group = Group(child.id() as i32);
        let out = std::io::BufReader::new(child.stdout.take().unwrap());
        let stdout = std::thread::spawn(move || {
            let lines = out.split(b'\n').map_while(Result::ok);
            let at = |l: Vec<u8>| {
                (
                    started.elapsed().as_secs_f64(),
                    String::from_utf8_lossy(&l).into(),
                )
            };
            lines.map(at).collect::<Vec<(f64, String)>>()
        });
        let err = child.stderr.take().unwrap();
        let stderr = std::thread::spawn(move || std::io::read_to_string(err).unwrap_or_default());
        let (mut status, mut timed_out) = (0, false);
        // SAFETY: an all-zero rusage is valid; wait4 fills it in.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        let mut options = libc::WNOHANG;
        // SAFETY: wait4 on our own child's pid with valid out-pointers.
        while unsafe { libc::wait4(group.0, &mut status, options, &mut usage) } == 0 {
            if started.elapsed() > self.timeout && !timed_out {
                timed_out = true;
                group.kill(libc::SIGTERM);
                std::thread::sleep(Duration::from_secs(3));
                group.kill(libc::SIGKILL);
                options = 0;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let secs = started.elapsed().as_secs_f64();
        drop(group); // whatever the run left in its group
        sweep(self.dirs.root.path());
        let code = match libc::WIFEXITED(status) {
            true => libc::WEXITSTATUS(status),
            false => 128 + libc::WTERMSIG(status),
        };
        let lines = stdout.join().unwrap();
        let stdout: String = lines.iter().map(|(_, l)| format!("{l}\n")).collect();
        let stderr = stderr.join().unwrap();
        std::fs::write(self.dirs.path(&format!("run{n}.out")), &stdout).unwrap();
        std::fs::write(self.dirs.path(&format!("run{n}.err")), &stderr).unwrap();
        let max_rss_kb = usage.ru_maxrss;
        Run {
            code,
            stdout,
            stderr,
            lines,
            secs,
            timed_out,
            max_rss_kb,
        }
    }
}

impl Codex<'_> {
    /// Starts it and leaves it running (an app-server, a server) with stdin and stdout
    /// piped, in a process group of its own; stderr goes to runN.err under the root.
    /// Dropping the [`Spawned`] (also on panic) stops it and what it started.
    pub fn spawn(mut self) -> Spawned {
        let n = self.dirs.runs.get() + 1;
        self.dirs.runs.set(n);
        let err = std::fs::File::create(self.dirs.path(&format!("run{n}.err"))).unwrap();
        let cmd = self.cmd.process_group(0).stdin(Stdio::piped());
        let cmd = die_with_parent(cmd.stdout(Stdio::piped()).stderr(err));
        let child = cmd.spawn().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
        let group = Group(child.id() as i32);
        Spawned { child, group }
    }
}

impl Codex<'_> {
    /// Starts it and leaves it running (a server) with no stdin, its stdout and stderr in
    /// `name.out` / `name.err` under the root (covered by the secret scan); stopped like
    /// [`Codex::spawn`]'s.
    pub fn spawn_logged(mut self, name: &str) -> Spawned {
        let file = |ext: &str| std::fs::File::create(self.dirs.path(&format!("{name}.{ext}")));
        let (out, err) = (file("out").unwrap(), file("err").unwrap());
        let cmd = self.cmd.process_group(0).stdin(Stdio::null());
        let cmd = die_with_parent(cmd.stdout(out).stderr(err));
        let child = cmd.spawn().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
        let group = Group(child.id() as i32);
        Spawned { child, group }
    }
}

/// A test binary killed by a signal drops nothing: what it started then dies with it.
fn die_with_parent(cmd: &mut Command) -> &mut Command {
    #[cfg(target_os = "linux")]
    // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(
            || match libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) {
                0 => Ok(()),
                _ => Err(std::io::Error::last_os_error()),
            },
        );
    }
    cmd
}

/// A long-running process from [`Codex::spawn`].
pub struct Spawned {
    pub child: std::process::Child,
    group: Group,
}

impl Spawned {
    /// Waits (at most `secs`) for it to exit by itself, e.g. after its stdin was closed;
    /// `None` if it is still running.
    pub fn wait_secs(&mut self, secs: u64) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            match self.child.try_wait().unwrap() {
                Some(status) => return Some(status),
                None if Instant::now() > deadline => return None,
                None => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    }
}

impl Spawned {
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }
    /// Its exit code (128 + signal when killed), once it has exited.
    pub fn exited(&mut self) -> Option<i32> {
        use std::os::unix::process::ExitStatusExt as _;
        let status = self.wait_secs(0)?;
        status.code().or(status.signal().map(|s| 128 + s))
    }
    /// Waits at most `limit` for it to exit: its exit code, or `None` if it still runs.
    pub fn wait(&mut self, limit: Duration) -> Option<i32> {
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Some(code) = self.exited() {
                return Some(code);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.exited()
    }
    /// Sends `signal` to the process itself (not its group), unless it has exited (its
    /// pid may be another process's by now).
    pub fn signal(&mut self, signal: i32) {
        if self.exited().is_none() {
            // SAFETY: plain FFI call on our own child, not yet reaped.
            unsafe { libc::kill(self.pid(), signal) };
        }
    }
    /// CPU seconds it has used (user + system, its own threads), from /proc.
    pub fn cpu_secs(&self) -> f64 {
        let stat = read(format!("/proc/{}/stat", self.pid()));
        // Fields after the command name, which is in parentheses and may hold spaces.
        let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok());
        // utime and stime are fields 14 and 15 of stat (11 and 12 after the name).
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
        (ticks(11).unwrap_or(0.0) + ticks(12).unwrap_or(0.0)) / hz
    }
    /// (current RSS, peak RSS) in KiB, from /proc.
    pub fn rss_kb(&self) -> (u64, u64) {
        let status = read(format!("/proc/{}/status", self.pid()));
        let field = |name: &str| {
            let line = status.lines().find(|l| l.starts_with(name));
            let value = line.and_then(|l| l.split_whitespace().nth(1));
            value.and_then(|v| v.parse().ok()).unwrap_or(0)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if self.wait_secs(0).is_none() {
            self.group.kill(libc::SIGTERM);
            if self.wait_secs(3).is_none() {
                self.group.kill(libc::SIGKILL);
                let _ = self.child.wait();
            }
        }
        // Then `group`'s drop: whatever else is left in it.
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
        stop(-self.0);
    }
}

/// SIGTERM first, so a shell can run its exit traps (pyenv's rehash lock, say); SIGKILL
/// what is still there a second later. A negative `pid` is a process group.
fn stop(pid: i32) {
    // SAFETY: plain FFI calls; a process that is gone gives ESRCH.
    let alive = || unsafe { libc::kill(pid, 0) } == 0;
    unsafe { libc::kill(pid, libc::SIGTERM) };
    for _ in 0..20 {
        if !alive() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // SAFETY: as above.
    unsafe { libc::kill(pid, libc::SIGKILL) };
}

/// Kills every process that carries this root's marker (there should be none).
fn sweep(root: &Path) {
    let wanted = format!("{MARKER}={}", root.display());
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let environ = std::fs::read(entry.path().join("environ")).unwrap_or_default();
        if pid != std::process::id() as i32
            && environ.split(|b| *b == 0).any(|v| v == wanted.as_bytes())
        {
            stop(pid);
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
        let end = tail(&self.stderr, 1200);
        assert!(
            self.code == 0,
            "exit status {}; stderr ends:\n{end}",
            self.code
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

// ---- compact assertions ------------------------------------------------------------

/// `let s = or_skip!(setup());`: the test ends (passing) when set-up said "skip".
#[macro_export]
macro_rules! or_skip {
    ($e:expr) => {
        match $e {
            Some(v) => v,
            None => return,
        }
    };
}

/// Asserts `ok`, saying what was expected.
#[track_caller]
pub fn check(ok: bool, what: &str) {
    assert!(ok, "{what}");
}

/// Asserts that `text` holds every one of `needles`.
#[track_caller]
pub fn has(text: &str, needles: &[&str]) {
    for n in needles {
        assert!(
            text.contains(n),
            "{n:?} is missing from:\n{}",
            tail(text, 800)
        );
    }
}

/// Asserts that `text` holds none of `needles`.
#[track_caller]
pub fn lacks(text: &str, needles: &[&str]) {
    for n in needles {
        assert!(
            !text.contains(n),
            "{n:?} should not be in:\n{}",
            tail(text, 800)
        );
    }
}

/// The values at JSON pointers `ptrs` of `v`, as one array (null where absent).
pub fn pick(v: &Value, ptrs: &[&str]) -> Value {
    let at = |p: &&str| v.pointer(p).cloned().unwrap_or(Value::Null);
    Value::Array(ptrs.iter().map(at).collect())
}

/// The value at JSON pointer `ptr` of each record, as one array.
pub fn each(records: &[Value], ptr: &str) -> Value {
    let at = |r: &Value| r.pointer(ptr).cloned().unwrap_or(Value::Null);
    Value::Array(records.iter().map(at).collect())
}

// ---- files Codex writes -----------------------------------------------------------

/// Every line of the .jsonl files under `dir` (by path), parsed; `Err` names a bad line.
pub fn jsonl_under(dir: &Path) -> Vec<Result<Value, String>> {
    let mut files = files_under(dir);
    files.retain(|f| f.extension().is_some_and(|e| e == "jsonl"));
    let mut out = Vec::new();
    for file in files {
        let bytes = std::fs::read(&file).unwrap();
        let lines = bytes.split(|b| *b == b'\n').enumerate();
        for (n, line) in lines.filter(|(_, l)| !l.trim_ascii().is_empty()) {
            let bad = |e| format!("{}:{}: {e}", file.display(), n + 1);
            out.push(serde_json::from_slice(line).map_err(bad));
        }
    }
    out
}

/// Telemetry records (`$CODEX_HOME/log/litellm/*.jsonl`, every line JSON), oldest first.
pub fn telemetry(home: &Path) -> Vec<Value> {
    let records = jsonl_under(&home.join("log/litellm")).into_iter();
    let mut records: Vec<Value> = records.map(Result::unwrap).collect();
    records.sort_by_key(|r| r["started_at_ms"].as_u64().unwrap_or(0));
    records
}

/// Records of the session rollout files (`$CODEX_HOME/sessions`).
pub fn rollout(home: &Path) -> Vec<Value> {
    let records = jsonl_under(&home.join("sessions")).into_iter();
    records.map(Result::unwrap).collect()
}

pub fn read(path: impl AsRef<Path>) -> String {
    std::fs::read_to_string(path.as_ref()).unwrap_or_default()
}

// ---- the mock backend and the LiteLLM proxy -----------------------------------------

/// tests/mock-llm in this process, on its own runtime; dropping it closes the port.
pub struct Mock {
    server: Option<MockLlm>,
    rt: Option<tokio::runtime::Runtime>,
}

impl Mock {
    /// Serves `scenario` on `port` (0: a free one), recording to `record` if given. Retries
    /// a port the previous mock is still closing.
    pub fn start(scenario: Scenario, port: u16, record_file: Option<PathBuf>) -> Mock {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build();
        let rt = rt.unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let server = loop {
            let record_file = record_file.clone();
            let options = StartOptions {
                port,
                record_file,
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
        let scenario = Scenario::from_json_str(&json.to_string()).unwrap();
        Mock::start(scenario, port, None)
    }

    /// `http://127.0.0.1:PORT/v1`.
    pub fn url(&self) -> String {
        self.server.as_ref().unwrap().base_url()
    }
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.server.as_ref().unwrap().requests()
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
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// A real LiteLLM proxy (scripts/litellm-proxy.sh, the pinned version) routing every
/// model to 127.0.0.1:`backend_port`, its master key and backend key [`SECRET`] (so the
/// key checks mean what they mean directly); stopped on drop.
pub struct Proxy {
    /// `http://127.0.0.1:PORT/v1`.
    pub url: String,
    pub key: String,
    pub backend_port: u16,
    dir: tempfile::TempDir,
}

impl Proxy {
    pub fn start(models: &str) -> Proxy {
        let dir = tempfile::Builder::new()
            .prefix("codex-litellm-e2e-proxy.")
            .tempdir();
        let dir = dir.unwrap();
        let backend_port = free_port();
        let port = backend_port.to_string();
        let mut cmd = Command::new(repo_root().join("scripts/litellm-proxy.sh"));
        cmd.args([
            "start",
            "--backend-port",
            &port,
            "--models",
            models,
            "--dir",
        ]);
        cmd.arg(dir.path()).stderr(Stdio::inherit());
        cmd.env("LITELLM_PROXY_MASTER_KEY", SECRET);
        let out = cmd
            .env("LITELLM_PROXY_BACKEND_KEY", SECRET)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let var = |k: &str| {
            let value = text.lines().find_map(|l| l.strip_prefix(&format!("{k}=")));
            value
                .unwrap_or_else(|| panic!("the LiteLLM proxy did not start: {text}"))
                .to_string()
        };
        let (url, key) = (
            format!("{}/v1", var("LITELLM_PROXY_URL")),
            var("LITELLM_PROXY_KEY"),
        );
        let version = var("LITELLM_PROXY_VERSION");
        say(&format!(
            "via LiteLLM {version} at {url} -> mock on port {backend_port}"
        ));
        Proxy {
            url,
            key,
            backend_port,
            dir,
        }
    }

    fn stop(&self) {
        let mut cmd = Command::new(repo_root().join("scripts/litellm-proxy.sh"));
        let _ = cmd.args(["stop", "--dir"]).arg(self.dir.path()).output();
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
                let _ = std::fs::remove_dir_all(proxy.dir.path()); // no drop for a static
            }
        }
        // SAFETY: registers a plain extern "C" fn; libtest leaves through exit().
        unsafe { libc::atexit(stop_at_exit) };
        Proxy::start(models)
    });
    (proxy, guard)
}

// ---- real MCP servers --------------------------------------------------------------

/// Entry points of the real MCP servers from npm (run as `node <path> ...`).
#[derive(Debug, Clone)]
pub struct McpServers {
    /// `@modelcontextprotocol/server-filesystem`: args are the directories it may touch.
    pub filesystem: PathBuf,
    /// `@modelcontextprotocol/server-everything`: arg `stdio`.
    pub everything: PathBuf,
}

/// The MCP servers pinned by tests/e2e/mcp-servers, installed once per test binary by
/// `scripts/mcp-servers.sh install` (npm ci under work/mcp-servers, reused when present);
/// `None` after one skip line when `node` or `npm` is missing.
pub fn mcp_servers() -> Option<McpServers> {
    static SERVERS: OnceLock<Option<McpServers>> = OnceLock::new();
    let found = SERVERS.get_or_init(|| {
        let on_path = |tool: &str| {
            let probe = Command::new(tool).arg("--version").output();
            probe.is_ok_and(|o| o.status.success())
        };
        if !on_path("node") || !on_path("npm") {
            return None;
        }
        let script = repo_root().join("scripts/mcp-servers.sh");
        let out = Command::new(&script).arg("install").output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "{} install failed:\n{err}",
            script.display()
        );
        let path = |key: &str| {
            let line = text
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{key}=")));
            PathBuf::from(line.unwrap_or_else(|| panic!("no {key}= in:\n{text}")))
        };
        Some(McpServers {
            filesystem: path("MCP_FILESYSTEM"),
            everything: path("MCP_EVERYTHING"),
        })
    });
    if found.is_none() {
        skip("node or npm is not on PATH (the real MCP servers come from npm)");
    }
    found.clone()
}

/// Median of some seconds (benches).
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else {
        (v[(n - 1) / 2] + v[n / 2]) / 2.0
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
        let script = "setsid sleep 300 >/dev/null 2>&1 & echo $! > daemon.pid; sleep 300";
        let run = sh(&dirs, script).timeout_secs(1).run();
        assert!(run.timed_out);
        std::thread::sleep(Duration::from_millis(200));
        let pid = read(dirs.ws.join("daemon.pid")).trim().to_string();
        let state = read(format!("/proc/{pid}/stat"));
        let gone = state.is_empty() || state.contains(") Z ");
        assert!(gone, "daemon {pid} still runs: {state}");
    }

    #[test]
    fn the_secret_scan_finds_the_key_in_any_file() {
        let dirs = Dirs::new();
        assert_eq!(dirs.files_with_secret(), Vec::<PathBuf>::new());
        let leak = sh(&dirs, "echo \"$LITELLM_API_KEY\" > leak.txt");
        leak.litellm("http://x", "m").run().assert_success();
        assert_eq!(dirs.files_with_secret(), vec![dirs.ws.join("leak.txt")]);
    }

    #[test]
    fn every_smoke_script_parses() {
        let mut files = files_under(&repo_root().join("tests/smoke"));
        files.retain(|f| f.extension().is_some_and(|e| e == "json"));
        for file in files.iter().filter(|f| !f.ends_with("catalog.json")) {
            Scenario::from_file(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        }
    }
}
