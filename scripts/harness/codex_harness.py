"""Shared machinery of the fault matrix and the benchmarks (scripts/fault-matrix.sh,
scripts/overhead-bench.sh): the mock server, the LiteLLM proxy, the Codex clients and one
bounded `codex exec` run. Loopback only; every process started here is stopped on exit.
"""

import glob
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scripts"
# The key every client gets; it must never show up in output (the harness checks).
API_KEY = "sk-harness-SECRET-7d3f0a9c5e1b4286"
MODEL = "mock-model"

# Client kinds: who talks to whom.
#   stock-direct        stock Codex -> mock's Responses API (the floor: no translation)
#   litellm-direct      codex-litellm -> mock's chat API
#   stock-via-proxy     stock Codex -> LiteLLM /v1/responses -> mock's chat API
#   litellm-via-proxy   codex-litellm -> LiteLLM /v1/chat/completions -> mock's chat API
CLIENTS = ("stock-direct", "litellm-direct", "stock-via-proxy", "litellm-via-proxy")


def exit_on_signals():
    """SIGTERM / SIGINT / SIGHUP end the run through the normal exit path, so every
    `finally` stops what it started (mocks, the proxy, codex runs)."""
    def handler(signum, _frame):
        raise SystemExit(128 + signum)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, handler)


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def mock_binary():
    """mock-llm: $MOCK_LLM, else target/debug/mock-llm (built when missing)."""
    path = os.environ.get("MOCK_LLM")
    if not path:
        target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
        if not target.is_absolute():
            target = ROOT / target
        path = str(target / "debug" / "mock-llm")
        if not os.access(path, os.X_OK):
            log("building mock-llm (cargo build -p codex-litellm-mock-llm)")
            subprocess.run(["cargo", "build", "-q", "-p", "codex-litellm-mock-llm"], cwd=ROOT, check=True)
    if not os.access(path, os.X_OK):
        raise SystemExit(f"error: mock-llm is not an executable file: {path}")
    return path


def kill_group(proc, grace=3.0):
    """Stops a process started with start_new_session=True and everything in its group."""
    if proc is None or proc.poll() is not None and not _group_alive(proc.pid):
        return
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 2.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if proc.poll() is not None and not _group_alive(proc.pid):
                return
            time.sleep(0.05)


def _group_alive(pgid):
    try:
        os.killpg(pgid, 0)
        return True
    except (ProcessLookupError, PermissionError):
        return False


class Mock:
    """mock-llm on a fixed loopback port with one scenario; records requests."""

    def __init__(self, binary, port, scenario, workdir):
        self.binary, self.port, self.workdir = binary, port, pathlib.Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.scenario_file = self.workdir / "scenario.json"
        self.scenario_file.write_text(json.dumps(scenario))
        self.record = self.workdir / "requests.jsonl"
        self.proc = None

    def __enter__(self):
        port_file = self.workdir / "mock.port"
        port_file.unlink(missing_ok=True)
        deadline = time.monotonic() + 10
        while True:
            err = open(self.workdir / "mock.err", "w")
            self.proc = subprocess.Popen(
                [self.binary, "--scenario", str(self.scenario_file), "--port", str(self.port),
                 "--port-file", str(port_file), "--record", str(self.record), "--quiet",
                 "--exit-with-parent"],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                start_new_session=True)
            err.close()
            while not port_file.exists() and self.proc.poll() is None:
                time.sleep(0.02)
            if port_file.exists():
                return self
            # The previous mock on this port may still be closing.
            if time.monotonic() > deadline:
                raise SystemExit(f"error: mock-llm did not start: {(self.workdir / 'mock.err').read_text()}")
            time.sleep(0.1)

    def __exit__(self, *exc):
        kill_group(self.proc)

    def requests(self):
        if not self.record.exists():
            return []
        return [json.loads(line) for line in self.record.read_text().splitlines() if line.strip()]


class Proxy:
    """A LiteLLM proxy (scripts/litellm-proxy.sh start/stop) routing to backend_port."""

    def __init__(self, backend_port, workdir):
        self.backend_port, self.dir = backend_port, pathlib.Path(workdir)
        self.env = {}

    def __enter__(self):
        log(f"starting the LiteLLM proxy (backend port {self.backend_port})")
        started = time.monotonic()
        out = subprocess.run(
            [str(SCRIPTS / "litellm-proxy.sh"), "start", "--dir", str(self.dir),
             "--backend-port", str(self.backend_port)],
            stdout=subprocess.PIPE, text=True)
        if out.returncode != 0:
            raise SystemExit("error: the LiteLLM proxy did not start (see above)")
        self.env = dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)
        log(f"LiteLLM {self.env.get('LITELLM_PROXY_VERSION')} up at {self.env['LITELLM_PROXY_URL']} "
            f"in {time.monotonic() - started:.1f}s")
        return self

    def __exit__(self, *exc):
        subprocess.run([str(SCRIPTS / "litellm-proxy.sh"), "stop", "--dir", str(self.dir)])

    @property
    def url(self):
        return self.env["LITELLM_PROXY_URL"] + "/v1"

    @property
    def key(self):
        return self.env["LITELLM_PROXY_KEY"]


def write_home(home, client, base_url, bridge=None, stock_provider=None):
    """CODEX_HOME/config.toml for a client. `bridge`: extra [litellm.bridge] keys
    (codex-litellm); `stock_provider`: extra keys of the stock provider table."""
    home = pathlib.Path(home)
    home.mkdir(parents=True, exist_ok=True)
    lines = []
    if client.startswith("stock"):
        lines += [f'model = "{MODEL}"', 'model_provider = "harness"', "",
                  "[model_providers.harness]", 'name = "harness"', f'base_url = "{base_url}"',
                  'wire_api = "responses"', 'env_key = "HARNESS_API_KEY"']
        lines += [f"{k} = {json.dumps(v)}" for k, v in (stock_provider or {}).items()]
    else:
        lines += ["[litellm.bridge]"]
        lines += [f"{k} = {json.dumps(v)}" for k, v in (bridge or {}).items()]
        lines += ["", "[litellm.telemetry]", 'level = "summary"']
    (home / "config.toml").write_text("\n".join(lines) + "\n")
    return home


def client_env(client, base_url, key):
    env = {k: v for k, v in os.environ.items()
           if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "CODEX_API_KEY", "CODEX_LITELLM_TELEMETRY")}
    env.update(NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost", RUST_BACKTRACE="1")
    if client.startswith("stock"):
        env["HARNESS_API_KEY"] = key
    else:
        env.update(LITELLM_BASE_URL=base_url, LITELLM_API_KEY=key, LITELLM_MODEL=MODEL)
    return env


def run_exec(binary, home, workspace, env, prompt, timeout, stdin_data=None, extra_args=()):
    """One `codex exec [extra_args...] PROMPT` in its own process group, bounded by `timeout` seconds.
    Returns dict(rc, out, err, secs, timed_out, max_rss_kb)."""
    workspace = pathlib.Path(workspace)
    workspace.mkdir(parents=True, exist_ok=True)
    # A release build of Codex refuses to put its helper links in a CODEX_HOME under the
    # system temp folder: give it a temp folder of its own beside the home.
    codex_tmp = pathlib.Path(home).parent / "codex-tmp"
    codex_tmp.mkdir(parents=True, exist_ok=True)
    env = dict(env, CODEX_HOME=str(home), TMPDIR=str(codex_tmp))
    args = [binary, "exec", *extra_args, "--skip-git-repo-check", "--dangerously-bypass-approvals-and-sandbox"]
    args.append("-" if stdin_data is not None else prompt)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.TemporaryFile() as stdin:
        if stdin_data is not None:
            stdin.write(stdin_data)
            stdin.seek(0)
        started = time.monotonic()
        proc = subprocess.Popen(args, cwd=workspace, env=env, stdin=stdin, stdout=out, stderr=err,
                                start_new_session=True)
        timed_out, rusage, status = False, None, None
        while True:
            pid, status, rusage = os.wait4(proc.pid, os.WNOHANG)
            if pid == proc.pid:
                break
            if time.monotonic() - started > timeout:
                timed_out = True
                kill_group(proc)
                try:
                    _, status, rusage = os.wait4(proc.pid, 0)
                except ChildProcessError:
                    pass
                break
            time.sleep(0.01)
        secs = time.monotonic() - started
        proc.returncode = os.waitstatus_to_exitcode(status) if status is not None else -9
        kill_group(proc)  # whatever the run left behind in its group
        out.seek(0)
        err.seek(0)
        return {
            "rc": proc.returncode,
            "out": out.read().decode("utf-8", "replace"),
            "err": err.read().decode("utf-8", "replace"),
            "secs": secs,
            "timed_out": timed_out,
            "max_rss_kb": rusage.ru_maxrss if rusage else None,
        }


def rollout_problems(home):
    """Lines of the session rollout files under home/sessions that are not JSON objects."""
    problems, files = [], 0
    for path in sorted(glob.glob(str(pathlib.Path(home) / "sessions" / "**" / "*.jsonl"), recursive=True)):
        files += 1
        with open(path, "rb") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    if not isinstance(json.loads(line), dict):
                        raise ValueError("not an object")
                except ValueError as e:
                    problems.append(f"{os.path.basename(path)}:{n}: {e}")
    return files, problems


def median(values):
    values = sorted(values)
    if not values:
        return float("nan")
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2
