//! `codex-litellm serve` on the mock backend ([`Serve`]), and the official `openai`
//! clients it is tested with, installed at pinned versions into a cache under work/.

use std::path::Path;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;
use std::time::Instant;

use serde_json::Value;

use crate::Dirs;
use crate::Spawned;
use crate::free_port;
use crate::http;
use crate::repo_root;
use crate::say;

/// PyPI `openai`, the version the tests run.
pub const OPENAI_PYTHON_VERSION: &str = "3.51.0";
/// npm `openai`, the version the tests run.
pub const OPENAI_NPM_VERSION: &str = "7.55.0";

/// A running `codex-litellm serve` on a free loopback port, serving the test's workspace;
/// killed on drop (after [`Serve::stop`], already gone).
pub struct Serve {
    pub proc: Spawned,
    /// Its stderr (serve.err under the test's root).
    err: PathBuf,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    pub key: Option<String>,
}

impl Serve {
    /// `codex-litellm serve --host 127.0.0.1 --port P --cwd WS ARGS...` on the litellm
    /// provider at `backend` (model mock-model), the key (if any) in
    /// CODEX_LITELLM_SERVE_API_KEY. Returns once `/healthz` answers.
    pub fn start(
        dirs: &Dirs,
        bin: &Path,
        backend: &str,
        key: Option<&str>,
        args: &[&str],
    ) -> Serve {
        let port = free_port().to_string();
        let ws = dirs.ws.to_str().unwrap();
        let base = ["serve", "--host", "127.0.0.1", "--port", &port, "--cwd", ws];
        let mut cmd = dirs.cmd(bin).litellm(backend, "mock-model");
        if let Some(key) = key {
            cmd = cmd.env("CODEX_LITELLM_SERVE_API_KEY", key);
        }
        let mut proc = cmd.args(base).args(args).spawn_logged("serve");
        let (addr, err) = (format!("127.0.0.1:{port}"), dirs.path("serve.err"));
        let started = Instant::now();
        loop {
            if let Some(code) = proc.exited() {
                panic!(
                    "serve exited with {code} before it answered /healthz; stderr:\n{}",
                    crate::read(&err)
                );
            }
            let health = http::call(&addr, "GET", "/healthz", None, None);
            if health.is_ok_and(|a| a.status == 200) {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "serve did not answer /healthz within 60 s; stderr:\n{}",
                crate::read(&err)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Serve {
            proc,
            err,
            addr,
            key: key.map(str::to_string),
        }
    }

    /// `http://127.0.0.1:PORT/v1`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// POST `path` with `body` and the server's key, to the end of the answer.
    pub fn post(&self, path: &str, body: &Value) -> http::Answer {
        let answer = http::call(&self.addr, "POST", path, self.key.as_deref(), Some(body));
        answer.unwrap_or_else(|e| panic!("POST {path}: {e}; serve's stderr:\n{}", self.stderr()))
    }

    /// POST `path` with `body`, the answer left open to read as it comes.
    pub fn open(&self, path: &str, body: &Value) -> http::Open {
        let open = http::open(&self.addr, "POST", path, self.key.as_deref(), Some(body));
        open.unwrap_or_else(|e| panic!("POST {path}: {e}; serve's stderr:\n{}", self.stderr()))
    }

    /// POST `path` with `body`; returns once it is sent, reading nothing.
    pub fn send(&self, path: &str, body: &Value) -> std::net::TcpStream {
        let sent = http::send(&self.addr, "POST", path, self.key.as_deref(), Some(body));
        sent.unwrap_or_else(|e| panic!("POST {path}: {e}; serve's stderr:\n{}", self.stderr()))
    }

    pub fn stderr(&self) -> String {
        crate::tail(&crate::read(&self.err), 3000).to_string()
    }

    /// SIGTERM; its exit status, or `None` if it still ran after `limit`.
    pub fn stop(&mut self, limit: Duration) -> Option<i32> {
        self.proc.signal(libc::SIGTERM);
        self.proc.wait(limit)
    }
}

/// Where the pinned clients are installed: `CODEX_LITELLM_E2E_CLIENTS`, default
/// `work/serve-clients` at the repository root.
fn clients_dir() -> PathBuf {
    std::env::var_os("CODEX_LITELLM_E2E_CLIENTS")
        .filter(|v| !v.is_empty())
        .map_or_else(
            || {
                std::fs::canonicalize(repo_root())
                    .unwrap()
                    .join("work/serve-clients")
            },
            PathBuf::from,
        )
}

/// Runs `install` once per machine for `dir` (a file lock keeps two test binaries from
/// installing at once); `dir/.installed` marks a complete install, reused from then on.
fn installed(dir: &Path, what: &str, install: impl FnOnce(&Path) -> Result<(), String>) -> bool {
    let marker = dir.join(".installed");
    if marker.is_file() {
        return true;
    }
    std::fs::create_dir_all(dir).unwrap();
    let lock = std::fs::File::create(dir.with_extension("lock")).unwrap();
    use std::os::fd::AsRawFd as _;
    // SAFETY: flock on a file we hold open; released when it closes.
    unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) };
    if marker.is_file() {
        return true;
    }
    say(&format!("installing {what} into {}", dir.display()));
    match install(dir) {
        Ok(()) => {
            std::fs::write(&marker, what).unwrap();
            true
        }
        Err(e) => {
            say(&format!("could not install {what}: {e}"));
            false
        }
    }
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    match out.status.success() {
        true => Ok(()),
        false => Err(format!(
            "{cmd:?}: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )),
    }
}

/// A Python with PyPI `openai` at [`OPENAI_PYTHON_VERSION`] (a venv under the cache),
/// or `None` after one skip line when it cannot be installed.
pub fn openai_python() -> Option<PathBuf> {
    static PYTHON: OnceLock<Option<PathBuf>> = OnceLock::new();
    let python = PYTHON.get_or_init(|| {
        let dir = clients_dir().join(format!("python-openai-{OPENAI_PYTHON_VERSION}"));
        let what = format!("PyPI openai=={OPENAI_PYTHON_VERSION}");
        let ok = installed(&dir, &what, |dir| {
            run(Command::new("python3").args(["-m", "venv"]).arg(dir))?;
            run(Command::new(dir.join("bin/python")).args([
                "-m",
                "pip",
                "install",
                "-q",
                "--disable-pip-version-check",
                &format!("openai=={OPENAI_PYTHON_VERSION}"),
            ]))
        });
        ok.then(|| dir.join("bin/python"))
    });
    if python.is_none() {
        crate::skip(&format!(
            "PyPI openai=={OPENAI_PYTHON_VERSION} could not be installed (python3 -m venv + pip)"
        ));
    }
    python.clone()
}

/// A `node_modules` holding npm `openai` at [`OPENAI_NPM_VERSION`], or `None` after one
/// skip line when node or the package is not there.
pub fn openai_node_modules() -> Option<PathBuf> {
    static MODULES: OnceLock<Option<PathBuf>> = OnceLock::new();
    let modules = MODULES.get_or_init(|| {
        let has_node = Command::new("node").arg("--version").output();
        if !has_node.is_ok_and(|o| o.status.success()) {
            return None;
        }
        let dir = clients_dir().join(format!("npm-openai-{OPENAI_NPM_VERSION}"));
        let what = format!("npm openai@{OPENAI_NPM_VERSION}");
        let ok = installed(&dir, &what, |dir| {
            let spec = format!("openai@{OPENAI_NPM_VERSION}");
            let args = ["install", "--silent", "--no-audit", "--no-fund", "--prefix"];
            run(Command::new("npm").args(args).arg(dir).arg(spec))
        });
        ok.then(|| dir.join("node_modules"))
    });
    if modules.is_none() {
        crate::skip(&format!(
            "node and npm openai@{OPENAI_NPM_VERSION} are needed (npm install failed or no node)"
        ));
    }
    modules.clone()
}
