#!/usr/bin/env bash
# Usage: scripts/smoke.sh [options] <path-to-codex-litellm>
#
# End-to-end smoke test of a built codex-litellm binary against the mock LLM server
# (tests/mock-llm): no gateway, no network. For each scenario it makes a throwaway
# workspace and CODEX_HOME, starts mock-llm on a free loopback port with the scenario's
# script (tests/smoke/NN-name.json, config fragment tests/smoke/NN-name.toml if present),
# runs `codex-litellm exec --skip-git-repo-check ...` with a timeout and stdin from
# /dev/null, then checks the outcome: exit status, stdout/stderr, files in the workspace,
# what the mock received, the telemetry records, and that the API key appears nowhere.
# Prints one line per scenario (PASS name / FAIL name: why), then "N passed, M failed".
# See tests/smoke/README.md for what each scenario checks and how to add one.
#
#   --only NAME[,NAME]  run only these scenarios; a NAME may be a prefix ("06" runs
#                       06a, 06b and 06c); repeatable
#   --list              print the scenario names and exit
#   --keep              keep the temporary directory (workspaces, CODEX_HOMEs, codex
#                       output, mock recordings) and print where it is
#   --timeout SECS      limit for one codex run (default 120)
#   --via-litellm       put a real LiteLLM proxy (scripts/litellm-proxy.sh, the pinned
#                       version) between codex-litellm and the mock: codex-litellm talks to
#                       the proxy, the proxy to the mock (OpenAI-compatible chat backend);
#                       the checks stay the same, so a FAIL shows where LiteLLM changes what
#                       reaches either side (see docs/TROUBLESHOOTING.md)
#   -h, --help          this text
#
# Environment:
#   MOCK_LLM        the mock-llm binary (default: <target>/debug/mock-llm, built with
#                   `cargo build -p codex-litellm-mock-llm` when missing)
#   SMOKE_SANDBOX   workspace-write (default: Codex's sandbox, --sandbox workspace-write)
#                   or bypass (--dangerously-bypass-approvals-and-sandbox, for machines
#                   where the Linux sandbox cannot run; the workspace is throwaway)
#   TMPDIR          where the temporary directory goes
#
# Exit status: 0 all passed, 1 a scenario failed, 2 usage or set-up error,
# 130/143 interrupted. Every process it started is stopped on exit, also when interrupted.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SMOKE_DIR=$CL_ROOT/tests/smoke
# The API key every codex run gets: it must never show up in any file or output.
SECRET=sk-smoke-SECRET-4f1c9a7e2b6d8053
MODEL_DEFAULT='mock-model'
# Every model a scenario uses (MODEL_DEFAULT and the catalog's): the names --via-litellm's
# proxy serves.
SMOKE_MODELS='mock-model,smoke-freeform,mock-backup'

# The scenarios, in order. Each has tests/smoke/<name>.json and a function
# scenario_<name with - replaced by _> below.
SCENARIOS=(
  01-plain-answer
  02-tool-loop
  03a-apply-patch-freeform
  04-parallel-tool-calls
  05-reasoning-round-trip
  06a-retry-429
  06b-retry-500
  06c-retry-stream-cut
  07a-error-in-stream
  07b-unauthorized
  08-tool-call-as-text
  09a-length-auto-continue
  09b-length-cut-off
  10-resume
  11a-passthrough-mode
  11b-passthrough-stream-cut
  12a-metadata-auto-compaction
  12b-metadata-missing-context-error
  13a-content-array
  13b-object-reasoning
  13c-multi-choice
  14a-continuation-nudge
  14b-loop-guard-note
  14c-fallback-503
)

smoke_usage_error() {
  printf 'error: %s (see --help)\n' "$1" >&2
  exit 2
}

# setup_error LINE...: like die (lib.sh), with exit status 2.
setup_error() {
  printf 'error: %s\n' "$1" >&2
  shift
  (($# == 0)) || printf '       %s\n' "$@" >&2
  exit 2
}

# ---- arguments --------------------------------------------------------------------

only=() keep='' list='' timeout_secs=120 codex='' via_litellm=''
while (($#)); do
  case $1 in
    --only)
      (($# >= 2)) || smoke_usage_error "--only needs a scenario name"
      IFS=, read -r -a names <<<"$2"
      only+=("${names[@]}")
      shift 2
      ;;
    --only=*) IFS=, read -r -a names <<<"${1#--only=}"; only+=("${names[@]}"); shift ;;
    --keep) keep=1; shift ;;
    --via-litellm) via_litellm=1; shift ;;
    --list) list=1; shift ;;
    --timeout)
      (($# >= 2)) || smoke_usage_error "--timeout needs a number of seconds"
      timeout_secs=$2
      shift 2
      ;;
    --timeout=*) timeout_secs=${1#--timeout=}; shift ;;
    -h | --help) usage_from_header "$0"; exit 0 ;;
    -*) smoke_usage_error "unknown option: $1" ;;
    *)
      [[ -z $codex ]] || smoke_usage_error "only one codex-litellm path, got '$codex' and '$1'"
      codex=$1
      shift
      ;;
  esac
done
[[ $timeout_secs =~ ^[1-9][0-9]*$ ]] || smoke_usage_error "--timeout must be a positive number of seconds, not '$timeout_secs'"

# select_scenarios: prints the scenarios that --only selects (all without --only).
select_scenarios() {
  local name pattern matched
  if ((${#only[@]} == 0)); then
    printf '%s\n' "${SCENARIOS[@]}"
    return 0
  fi
  for pattern in "${only[@]}"; do
    [[ -n $pattern ]] || continue
    matched=''
    for name in "${SCENARIOS[@]}"; do
      if [[ $name == "$pattern"* ]]; then
        matched=1
      fi
    done
    [[ -n $matched ]] || smoke_usage_error "no scenario named '$pattern' (scenarios: ${SCENARIOS[*]})"
  done
  for name in "${SCENARIOS[@]}"; do
    for pattern in "${only[@]}"; do
      if [[ -n $pattern && $name == "$pattern"* ]]; then
        printf '%s\n' "$name"
        break
      fi
    done
  done
}
selected=$(select_scenarios)
mapfile -t selected <<<"$selected"

if [[ -n $list ]]; then
  printf '%s\n' "${selected[@]}"
  exit 0
fi

[[ -n $codex ]] || smoke_usage_error "missing the path of the codex-litellm binary"
codex=$(abspath "$codex")
[[ -x $codex && ! -d $codex ]] || smoke_usage_error "not an executable file: $codex"
for tool in python3 timeout mkfifo; do
  command -v "$tool" >/dev/null || setup_error "$tool is needed and was not found on PATH"
done
case ${SMOKE_SANDBOX:-workspace-write} in
  workspace-write) WRITE_ARGS=(--sandbox workspace-write) ;;
  bypass) WRITE_ARGS=(--dangerously-bypass-approvals-and-sandbox) ;;
  *) smoke_usage_error "SMOKE_SANDBOX must be workspace-write or bypass, not '$SMOKE_SANDBOX'" ;;
esac

if ! version=$("$codex" --version 2>&1); then
  setup_error "$codex --version failed:" "$version"
fi

mock=${MOCK_LLM:-}
if [[ -z $mock ]]; then
  mock=${CARGO_TARGET_DIR:-$CL_ROOT/target}/debug/mock-llm
  mock=$(abspath "$mock")
  if [[ ! -x $mock ]]; then
    command -v cargo >/dev/null || setup_error "mock-llm not found at $mock and cargo is not on PATH" \
      "build it with: cargo build -p codex-litellm-mock-llm (or set MOCK_LLM)"
    printf 'smoke: building mock-llm (cargo build -p codex-litellm-mock-llm)\n' >&2
    (cd "$CL_ROOT" && cargo build -q -p codex-litellm-mock-llm) >&2 ||
      setup_error "cargo build -p codex-litellm-mock-llm failed"
  fi
fi
[[ -x $mock ]] || setup_error "mock-llm is not an executable file: $mock"

# ---- processes and clean-up -------------------------------------------------------

ROOT=$(mktemp -d "${TMPDIR:-/tmp}/codex-litellm-smoke.XXXXXX")
# A release build of Codex refuses to put its helper links (the sandbox, apply_patch) in a
# CODEX_HOME under the system temp folder; codex runs get a temp folder of their own.
CODEX_TMPDIR=$ROOT/tmp
mkdir -p "$CODEX_TMPDIR"
# Every process the run starts carries this in its environment, so the clean-up can find
# anything that outlived its parent (a daemonised tool command, say) and stop it.
MARKER="CODEX_LITELLM_SMOKE_RUN=$ROOT"
mock_pid='' mock_fd='' codex_pid='' mock_port=0 proxy_dir=''

# kill_tree PID: stops the process group PID leads (timeout(1) makes one) and PID.
kill_tree() {
  local pid=$1 waited=0
  kill -TERM -- "-$pid" 2>/dev/null || true
  kill -TERM "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null && ((waited < 30)); do
    sleep 0.1
    waited=$((waited + 1))
  done
  kill -KILL -- "-$pid" 2>/dev/null || true
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# sweep_marked: stops processes that carry this run's marker (there should be none).
sweep_marked() {
  local environ pid found=()
  [[ -d /proc/$$ ]] || return 0
  while IFS= read -r environ; do
    pid=${environ#/proc/}
    pid=${pid%/environ}
    [[ $pid != "$$" ]] && found+=("$pid")
  done < <(grep -lzxF "$MARKER" /proc/[0-9]*/environ 2>/dev/null || true)
  if ((${#found[@]})); then
    kill -KILL "${found[@]}" 2>/dev/null || true
  fi
  return 0
}

stop_mock() {
  if [[ -n $mock_fd ]]; then
    exec {mock_fd}>&-   # the mock exits when its stdin (this fifo) reaches EOF
    mock_fd=''
  fi
  if [[ -n $mock_pid ]]; then
    local waited=0
    while kill -0 "$mock_pid" 2>/dev/null && ((waited < 30)); do
      sleep 0.1
      waited=$((waited + 1))
    done
    kill_tree "$mock_pid"
    mock_pid=''
  fi
}

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [[ -n $codex_pid ]]; then
    kill_tree "$codex_pid"
    codex_pid=''
  fi
  stop_mock
  if [[ -n $proxy_dir ]]; then
    "$CL_SCRIPTS/litellm-proxy.sh" stop --dir "$proxy_dir" || true
  fi
  sweep_marked
  if [[ -n $keep ]]; then
    printf 'smoke: kept %s\n' "$ROOT"
  else
    rm -rf "$ROOT"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'printf "\nsmoke: interrupted\n" >&2; exit 130' INT
trap 'exit 143' TERM

# ---- scenario machinery -----------------------------------------------------------
# A scenario function prepares the workspace, calls run_codex one or more times and
# writes its checks (Python, see check_prelude) with `checks <<'PY' ... PY`. Helpers
# never return non-zero: the first problem goes to $fail_reason and later steps skip.

scn='' scn_dir='' scn_ws='' scn_home='' run_n=0 fail_reason=''

fail() {
  [[ -n $fail_reason ]] || fail_reason=$1
  return 0
}

# write_config: $CODEX_HOME/config.toml = the scenario's NN.toml (Codex's own settings) and
# $CODEX_HOME/litellm.toml = its NN.litellm.toml (codex-litellm's), @SMOKE_DIR@ replaced in
# both, plus full telemetry (so the secret check also covers request bodies and raw answers).
write_config() {
  local fragment text
  for fragment in "$SMOKE_DIR/$scn.toml" "$SMOKE_DIR/$scn.litellm.toml"; do
    text=''
    if [[ -f $fragment ]]; then
      text=$(<"$fragment")
      text=${text//@SMOKE_DIR@/$SMOKE_DIR}
    fi
    case $fragment in
      *.litellm.toml) printf '[telemetry]\nlevel = "full"\n\n%s\n' "$text" >"$scn_home/litellm.toml" ;;
      *) printf '%s\n' "$text" >"$scn_home/config.toml" ;;
    esac
  done
}

start_mock() {
  local scenario=$SMOKE_DIR/$scn.json waited=0
  [[ -f $scenario ]] || { fail "missing mock script $scenario"; return 0; }
  mkfifo "$scn_dir/mock.in"
  env "$MARKER" "$mock" --scenario "$scenario" --port "$mock_port" --port-file "$scn_dir/mock.port" \
    --record "$scn_dir/requests.jsonl" --quiet --exit-on-stdin-eof --exit-with-parent \
    <"$scn_dir/mock.in" >"$scn_dir/mock.out" 2>"$scn_dir/mock.err" &
  mock_pid=$!
  exec {mock_fd}>"$scn_dir/mock.in"
  while [[ ! -s $scn_dir/mock.port ]]; do
    if ! kill -0 "$mock_pid" 2>/dev/null || ((waited >= 200)); then
      fail "mock-llm did not start: $(tr '\n' ' ' <"$scn_dir/mock.err")"
      return 0
    fi
    sleep 0.05
    waited=$((waited + 1))
  done
  base_url="http://127.0.0.1:$(<"$scn_dir/mock.port")/v1"
  [[ -z $proxy_dir ]] || base_url=$proxy_url/v1
}

# run_codex ARGS...: runs `codex-litellm exec --skip-git-repo-check ARGS...` in the
# workspace; run N leaves runN.out, runN.err, runN.rc and runN.secs in the scenario dir.
# The model is $model (LITELLM_MODEL).
run_codex() {
  [[ -z $fail_reason ]] || return 0
  run_n=$((run_n + 1))
  local prefix=$scn_dir/run$run_n rc=0 start end
  start=$(date +%s%N)
  # timeout(1) runs codex in a process group of its own: kill_tree stops all of it.
  (
    cd "$scn_ws"
    exec env -u CODEX_LITELLM_TELEMETRY -u OPENAI_API_KEY -u OPENAI_BASE_URL -u CODEX_API_KEY \
      "$MARKER" TMPDIR="$CODEX_TMPDIR" CODEX_HOME="$scn_home" LITELLM_BASE_URL="$base_url" LITELLM_API_KEY="$SECRET" \
      LITELLM_MODEL="$model" NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost \
      RUST_BACKTRACE=1 \
      timeout -k 5 "$timeout_secs" "$codex" exec --skip-git-repo-check "$@"
  ) </dev/null >"$prefix.out" 2>"$prefix.err" {mock_fd}>&- &
  codex_pid=$!
  wait "$codex_pid" || rc=$?
  codex_pid=''
  end=$(date +%s%N)
  printf '%s\n' "$rc" >"$prefix.rc"
  printf '%s\n' "$(((end - start) / 1000000))" >"$prefix.ms"
}

checks() { cat >"$scn_dir/checks.py"; }

# Python run before a scenario's checks. Gives the checks:
#   runs[i]          {"rc", "out", "err", "secs"} of codex run i (0-based); rc/out/err/secs
#                    are those of the last run
#   reqs, bodies     the chat requests the mock received (recordings / their JSON bodies)
#   messages(i)      bodies[i]["messages"]
#   tele             telemetry records ($CODEX_HOME/log/litellm/*.jsonl), oldest first
#   ws, home         pathlib.Path of the workspace and CODEX_HOME; read(path) -> text
#   rollout()        records of the session rollout files under $CODEX_HOME/sessions
#   codex(*args)     runs codex-litellm with the scenario's CODEX_HOME: (rc, out, err)
#   check(cond, msg) / fail(msg)   the first failing check is the scenario's FAIL reason
# Before the scenario's checks, common ones run: no timeout, no panic, the key was sent
# to the mock and appears in no file and no output, telemetry lines parse.
check_prelude() {
  cat <<'PY'
import glob, json, os, pathlib, subprocess, sys

class Fail(Exception):
    pass

def check(cond, msg):
    if not cond:
        raise Fail(msg)

def fail(msg):
    raise Fail(msg)

D = pathlib.Path(os.environ["SMOKE_SCN_DIR"])
ws = D / "ws"
home = D / "home"
SECRET = os.environ["SMOKE_SECRET"]

def read(path):
    return pathlib.Path(path).read_text(encoding="utf-8", errors="replace")

def jsonl(path):
    out = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                try:
                    out.append(json.loads(line))
                except ValueError as e:
                    fail(f"{path}: line {n} is not JSON ({e})")
    return out

runs = []
n = 1
while (D / f"run{n}.rc").exists():
    runs.append({
        "rc": int(read(D / f"run{n}.rc").strip()),
        "out": read(D / f"run{n}.out"),
        "err": read(D / f"run{n}.err"),
        "secs": int(read(D / f"run{n}.ms").strip()) / 1000.0,
    })
    n += 1
rc, out, err, secs = (runs[-1]["rc"], runs[-1]["out"], runs[-1]["err"], runs[-1]["secs"]) if runs else (None, "", "", 0)

recorded = jsonl(D / "requests.jsonl") if (D / "requests.jsonl").exists() else []
reqs = [r for r in recorded if r.get("path", "").endswith("/chat/completions")]
bodies = [r.get("body") if isinstance(r.get("body"), dict) else {} for r in reqs]

def messages(i):
    check(i < len(bodies), f"the mock received {len(bodies)} chat request(s), wanted request #{i + 1}")
    return bodies[i].get("messages", [])

tele = sorted(
    (rec for f in sorted(glob.glob(str(home / "log/litellm/*.jsonl"))) for rec in jsonl(f)),
    key=lambda r: r.get("started_at_ms", 0),
)

def rollout():
    return [rec for f in sorted(glob.glob(str(home / "sessions/**/*.jsonl"), recursive=True)) for rec in jsonl(f)]

def codex(*args):
    env = dict(os.environ, CODEX_HOME=str(home), TMPDIR=os.environ["CODEX_TMPDIR"])
    p = subprocess.run([os.environ["SMOKE_CODEX"], *args], env=env, capture_output=True,
                       text=True, timeout=60, stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout, p.stderr

def short(text, n=160):
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 3] + "..."

def common_checks():
    for i, r in enumerate(runs, 1):
        check(r["rc"] not in (124, 137), f"codex run {i} did not finish within the time limit (killed after {r['secs']:.0f}s)")
        check("panicked at" not in r["err"], f"codex run {i} panicked: {short(r['err'][r['err'].find('panicked at'):])}")
    for r in reqs:
        auth = {k.lower(): v for k, v in r.get("headers", {}).items()}.get("authorization")
        check(auth == "Bearer ***", f"request {r.get('seq')} to the mock had authorization {auth!r}, wanted the API key as a Bearer token")
    secret = SECRET.encode()
    for path in sorted(D.rglob("*")):
        # Upstream Codex snapshots the shell's exported variables there for the session
        # (stock does the same with OPENAI_API_KEY); see docs/SECURITY.md.
        if "shell_snapshots" in path.parts:
            continue
        if path.is_file() and not path.is_symlink():
            try:
                data = path.read_bytes()
            except OSError:
                continue
            check(secret not in data, f"the API key appears in {path.relative_to(D)}")

try:
    code = read(sys.argv[1])
    common_checks()
    exec(compile(code, f"checks of {os.environ['SMOKE_SCENARIO']}", "exec"))
except Fail as e:
    print(short(e, 400))
    sys.exit(1)
except Exception as e:
    import traceback
    tb = traceback.extract_tb(e.__traceback__)
    where = f" (line {tb[-1].lineno})" if tb else ""
    print(short(f"check error{where}: {type(e).__name__}: {e}", 400))
    sys.exit(1)
PY
}

run_checks() {
  [[ -z $fail_reason ]] || return 0
  [[ -f $scn_dir/checks.py ]] || { fail "the scenario wrote no checks"; return 0; }
  local reason
  if ! reason=$(SMOKE_SCN_DIR=$scn_dir CODEX_TMPDIR=$CODEX_TMPDIR SMOKE_SECRET=$SECRET SMOKE_CODEX=$codex SMOKE_SCENARIO=$scn \
    LITELLM_API_KEY=$SECRET python3 "$ROOT/prelude.py" "$scn_dir/checks.py" 2>&1); then
    fail "${reason:-the checks failed}"
  fi
  return 0
}

run_scenario() {
  scn=$1 scn_dir=$ROOT/$1 run_n=0 fail_reason='' model=$MODEL_DEFAULT base_url=''
  scn_ws=$scn_dir/ws scn_home=$scn_dir/home
  mkdir -p "$scn_ws" "$scn_home"
  write_config
  start_mock
  local fn=scenario_${scn//-/_}
  if [[ -z $fail_reason ]]; then
    "$fn"
  fi
  stop_mock
  run_checks
  sweep_marked
  if [[ -z $fail_reason ]]; then
    printf 'PASS %s\n' "$scn"
    passed=$((passed + 1))
  else
    printf 'FAIL %s: %s\n' "$scn" "$fail_reason"
    failed=$((failed + 1))
  fi
}

# ---- the scenarios ----------------------------------------------------------------

scenario_01_plain_answer() {
  run_codex "Say hello"
  checks <<'PY'
check(rc == 0, f"exit status {rc}, wanted 0: {short(err[-300:])}")
check(out.strip() == "Hello from the mock.", f"stdout is {short(out)!r}, wanted the answer")
lines = err.splitlines()
check("tokens used" in lines, "no 'tokens used' line on stderr")
check(lines[lines.index("tokens used") + 1].strip() == "55", f"tokens used says {lines[lines.index('tokens used') + 1]!r}, wanted 55 (50 in + 5 out)")
start = [l for l in lines if l.startswith("codex-litellm: provider ")]
check(start and start[0].startswith("codex-litellm: provider litellm (from built-in default) · http://127.0.0.1:")
      and start[0].endswith("(LITELLM_BASE_URL) · model mock-model (LITELLM_MODEL)"),
      f"start line is {start!r}, wanted provider, base URL and model with where each came from")
check(lines and lines[0] == (start or [""])[0], f"the start line is not the first line on stderr: {lines[:1]!r}")
summary = [l for l in lines if l.startswith("codex-litellm: mock-model ")]
check(summary, "no 'codex-litellm: ...' summary line on stderr")
check(summary[0].startswith("codex-litellm: mock-model · 1 request in 1 turn · 50 in · 5 out · 0 retries · 0 errors"),
      f"summary line is {summary[0]!r}")
check(len(bodies) == 1, f"the mock received {len(bodies)} requests, wanted 1")
b = bodies[0]
check(b.get("model") == "mock-model" and b.get("stream") is True, f"request model/stream: {b.get('model')!r}/{b.get('stream')!r}")
check((b.get("stream_options") or {}).get("include_usage") is True, "stream_options.include_usage not set (no token counts, no compaction)")
roles = [m.get("role") for m in b.get("messages", [])]
check("developer" not in roles, f"a developer message went to the backend: roles {roles}")
check(b["messages"][-1] == {"role": "user", "content": "Say hello"}, f"last message is {short(b['messages'][-1])}")
check(len(tele) == 1, f"{len(tele)} telemetry records, wanted 1")
t = tele[0]
check(t.get("diagnosis_kind") == "completed" and t.get("outcome", {}).get("status") == "completed", f"telemetry diagnosis: {t.get('diagnosis')!r}")
check(t.get("usage", {}).get("input_tokens") == 50 and t["usage"].get("output_tokens") == 5, f"telemetry usage: {t.get('usage')}")
check("request_body" in t, "telemetry level full did not record the request body")
code, tout, terr = codex("telemetry", "show", "last")
check(code == 0 and "mock-model" in tout and "completed" in tout, f"telemetry show last: exit {code}: {short(tout + terr)}")
code, tout, terr = codex("telemetry", "summary")
check(code == 0 and "mock-model" in tout, f"telemetry summary: exit {code}: {short(tout + terr)}")
PY
}

scenario_02_tool_loop() {
  run_codex "${WRITE_ARGS[@]}" "Run the command, then tell me what happened."
  checks <<'PY'
check(rc == 0, f"exit status {rc}, wanted 0: {short(err[-300:])}")
check((ws / "ran.txt").is_file(), "the command did not run: ran.txt is missing")
check(read(ws / "ran.txt") == "smoke-ran\n", f"ran.txt holds {read(ws / 'ran.txt')!r}")
check(out.strip() == "The command ran and wrote ran.txt.", f"stdout is {short(out)!r}")
check(len(bodies) == 2, f"the mock received {len(bodies)} requests, wanted 2")
tools = [t.get("function", {}).get("name") for t in bodies[0].get("tools", [])]
check("exec_command" in tools, f"exec_command is not among the tools sent: {tools}")
msgs = messages(1)
idx = [i for i, m in enumerate(msgs) if m.get("role") == "assistant" and m.get("tool_calls")]
check(len(idx) == 1, f"{len(idx)} assistant messages with tool_calls in the follow-up, wanted 1")
call = msgs[idx[0]]["tool_calls"][0]
check(call.get("id") == "call_smoke_tool_1" and call.get("function", {}).get("name") == "exec_command", f"tool call sent back: {short(call)}")
check(json.loads(call["function"]["arguments"]) == {"cmd": "echo smoke-ran > ran.txt && cat ran.txt"}, f"arguments sent back: {call['function']['arguments']!r}")
nxt = msgs[idx[0] + 1] if idx[0] + 1 < len(msgs) else {}
check(nxt.get("role") == "tool" and nxt.get("tool_call_id") == "call_smoke_tool_1", f"message after the tool call is {short(nxt)}")
check("smoke-ran" in str(nxt.get("content")), f"the tool result does not carry the command output: {short(nxt.get('content'))}")
check([t.get("finish_reason") for t in tele] == ["tool_calls", "stop"], f"telemetry finish reasons: {[t.get('finish_reason') for t in tele]}")
PY
}

# Seeds the workspace the two apply_patch scenarios edit.
seed_notes() {
  printf 'alpha\nbeta\ngamma\n' >"$scn_ws/notes.txt"
  printf 'to be deleted\n' >"$scn_ws/obsolete.txt"
}

scenario_03a_apply_patch_freeform() {
  seed_notes
  model=smoke-freeform
  run_codex "${WRITE_ARGS[@]}" "Apply the patch."
  checks <<'PY'
check(rc == 0, f"exit status {rc}, wanted 0: {short(err[-300:])}")
check(read(ws / "notes.txt") == "alpha\nBETA (patched, freeform)\ngamma\n", f"notes.txt is {read(ws / 'notes.txt')!r}")
check((ws / "added.txt").is_file() and read(ws / "added.txt") == "added by the freeform patch\n", "added.txt was not created as the patch says")
check((ws / "obsolete.txt").is_file(), "obsolete.txt is gone, the patch did not delete it")
check(len(bodies) == 2, f"the mock received {len(bodies)} requests, wanted 2")
tool = [t for t in bodies[0].get("tools", []) if t.get("function", {}).get("name") == "apply_patch"]
check(tool, "no apply_patch tool in the request (is the catalog model used?)")
fn = tool[0]["function"]
props = fn.get("parameters", {}).get("properties", {})
check(list(props) == ["input"] and props["input"].get("type") == "string", f"freeform apply_patch parameters: {fn.get('parameters')}")
check("FREEFORM" in fn.get("description", "") and "*** Begin Patch" in fn.get("description", ""), "freeform apply_patch description lacks its grammar")
msgs = messages(1)
calls = [c for m in msgs if m.get("role") == "assistant" for c in (m.get("tool_calls") or [])]
check([c.get("id") for c in calls] == ["call_smoke_patch_ff"], f"tool calls sent back: {short(calls)}")
check(json.loads(calls[0]["function"]["arguments"]).get("input", "").startswith("*** Begin Patch"), "the patch did not go back as {\"input\": ...}")
result = [m for m in msgs if m.get("role") == "tool" and m.get("tool_call_id") == "call_smoke_patch_ff"]
check(result and "Success" in str(result[0].get("content")), f"tool result: {short(result)}")
PY
}

scenario_04_parallel_tool_calls() {
  model=smoke-freeform
  run_codex "${WRITE_ARGS[@]}" "Run both commands at once."
  checks <<'PY'
check(rc == 0, f"exit status {rc}, wanted 0: {short(err[-300:])}")
for name in ("a", "b"):
    check((ws / f"{name}.txt").is_file(), f"command {name} did not run: {name}.txt is missing")
check(len(bodies) == 2, f"the mock received {len(bodies)} requests, wanted 2 (both results in one follow-up)")
check(bodies[0].get("parallel_tool_calls") is True, f"parallel_tool_calls is {bodies[0].get('parallel_tool_calls')!r} in the request")
tools = [t.get("function", {}).get("name") for t in bodies[0].get("tools", [])]
check("shell_command" in tools, f"shell_command is not among the tools sent: {tools}")
msgs = messages(1)
first = next(i for i, m in enumerate(msgs) if m.get("role") == "assistant" or m.get("role") == "tool")
tail = msgs[first:]
check(len(tail) == 3, f"after the prompt the follow-up has {len(tail)} messages, wanted 3 (one assistant message, two tool results): {[m.get('role') for m in tail]}")
ids = [c.get("id") for c in tail[0].get("tool_calls") or []]
check(tail[0].get("role") == "assistant" and ids == ["call_smoke_par_a", "call_smoke_par_b"], f"assistant message carries tool calls {ids}")
check([(m.get("role"), m.get("tool_call_id")) for m in tail[1:]] == [("tool", "call_smoke_par_a"), ("tool", "call_smoke_par_b")],
      f"tool results: {[(m.get('role'), m.get('tool_call_id')) for m in tail[1:]]}")
stamp = {f: float(read(ws / f)) for f in ("a.start", "a.end", "b.start", "b.end")}
check(stamp["a.start"] < stamp["b.end"] and stamp["b.start"] < stamp["a.end"], "the two commands ran one after the other, not at the same time")
PY
}

scenario_05_reasoning_round_trip() {
  run_codex "${WRITE_ARGS[@]}" "Think, look, answer."
  checks <<'PY'
check(rc == 0, f"exit status {rc}, wanted 0: {short(err[-300:])}")
r1, r2 = "Thinking-one: I should look at the workspace first.", "Thinking-two: the command worked, now answer."
check(out.strip() == "I looked at the workspace.", f"stdout is {short(out)!r} (reasoning must not be part of the answer)")
check(r1 in err and r2 in err, "the reasoning is not shown in exec's output")
# Since rust-v0.148.0 the rollout keeps the reasoning items themselves (no agent_reasoning events).
shown = [s.get("text") for e in rollout() if e.get("type") == "response_item" and e.get("payload", {}).get("type") == "reasoning"
         for s in e["payload"].get("summary", [])]
check(shown == [r1, r2], f"Codex's reasoning items: {shown}")
check(len(bodies) == 2, f"the mock received {len(bodies)} requests, wanted 2")
msgs = messages(1)
asst = [m for m in msgs if m.get("role") == "assistant"]
check(len(asst) == 1 and asst[0].get("tool_calls"), f"assistant messages in the follow-up: {short(asst)}")
check(asst[0].get("reasoning_content") == r1, f"reasoning_content sent back: {asst[0].get('reasoning_content')!r}")
check((ws / "looked.txt").is_file(), "the command did not run")
check(tele and tele[0].get("usage", {}).get("reasoning_output_tokens", 0) > 0, f"telemetry usage: {tele[0].get('usage') if tele else None}")
PY
}

scenario_13a_content_array() {
  run_codex "Say hello"
  checks <<'PY'
check(rc == 0, f"exit status {rc}, wanted 0: {short(err[-300:])}")
check(out.strip() == "Hello from content parts.", f"stdout is {short(out)!r}, wanted the text parts joined")
check("Parts-thinking: the user wants a greeting." in err, "the thinking part is not shown as reasoning")
check("Parts-thinking" not in out, "the thinking part leaked into the answer")
check(len(bodies) == 1, f"the mock received {len(bodies)} requests, wanted 1")
check(len(tele) == 1 and tele[0].get("outcome", {}).get("status") == "completed", f"telemetry: {short(tele)}")
PY
}

scenario_13b_object_reasoning() {
  run_codex "${WRITE_ARGS[@]}" "Think, look, answer."
  checks <<'PY'
check(rc == 0, f"exit status {rc}, wanted 0: {short(err[-300:])}")
r = "Object-reasoning: list the workspace first."
check(out.strip() == "Listed with object reasoning.", f"stdout is {short(out)!r}")
check(r in err, "the object reasoning is not shown")
check((ws / "object.txt").is_file(), "the command did not run")
check(len(bodies) == 2, f"the mock received {len(bodies)} requests, wanted 2")
asst = [m for m in messages(1) if m.get("role") == "assistant"]
check(len(asst) == 1 and asst[0].get("reasoning_content") == r, f"reasoning sent back: {short(asst)}")
PY
}

scenario_13c_multi_choice() {
  run_codex "${WRITE_ARGS[@]}" "Run it."
  checks <<'PY'
check(rc == 0, f"exit status {rc}, wanted 0: {short(err[-300:])}")
check(out.strip() == "Ran it once.", f"stdout is {short(out)!r}")
ran = read(ws / "choices.txt") if (ws / "choices.txt").is_file() else None
check(ran == "once\n", f"choices.txt is {ran!r}: the call must run exactly once")
check(len(bodies) == 2, f"the mock received {len(bodies)} requests, wanted 2")
asst = [m for m in messages(1) if m.get("role") == "assistant"]
check(len(asst) == 1 and asst[0].get("content") == "Running it now.", f"assistant message sent back: {short(asst)}")
calls = asst[0].get("tool_calls") or [] if asst else []
check([c.get("id") for c in calls] == ["call_smoke_choice"], f"tool calls sent back: {short(calls)}")
PY
}

# Issue 19's guards on the built binary.
scenario_14a_continuation_nudge() {
  run_codex "${WRITE_ARGS[@]}" "Create step1.txt and step2.txt."
  checks <<'PY'
check(rc == 0, f"exit status {rc}, wanted 0: {short(err[-300:])}")
check((ws / "step2.txt").is_file(), "the promised call did not run: step2.txt is missing (no nudge?)")
check(out.strip() == "Both files exist now.", f"stdout is {short(out)!r}")
check(len(bodies) == 4, f"the mock received {len(bodies)} requests, wanted 4 (call, promise, nudge, end)")
last = messages(2)[-1] if len(bodies) > 2 else {}
check(last.get("role") == "user" and "made no tool call" in str(last.get("content")), f"the 3rd request does not end with the nudge: {short(last)}")
check("made no tool call" not in out + err, "the nudge was shown as if it were model output")
check(all("made no tool call" not in json.dumps(b) for b in bodies[3:]), "the nudge stayed in Codex's history")
check(sum(t.get("nudges", 0) for t in tele) == 1, f"telemetry nudges: {[t.get('nudges') for t in tele]}")
check(not any(t.get("nudge_unanswered") for t in tele), "a nudge was recorded as unanswered")
check(any("1 nudge after an answer that promised" in t.get("diagnosis", "") for t in tele), f"diagnoses: {[t.get('diagnosis') for t in tele]}")
check("1 nudge" in err, "the exec summary does not count the nudge")
PY
}

scenario_14b_loop_guard_note() {
  run_codex "${WRITE_ARGS[@]}" "Show me missing-file.txt."
  checks <<'PY'
check(rc == 0, f"exit status {rc}, wanted 0: {short(err[-300:])}")
check((ws / "changed.txt").is_file(), "the model did not change approach: changed.txt is missing")
check(out.strip() == "The file is missing, so I wrote changed.txt instead.", f"stdout is {short(out)!r}")
check(len(bodies) == 5, f"the mock received {len(bodies)} requests, wanted 5")
noted = ["has failed 3 times in a row" in json.dumps(b) for b in bodies]
check(noted == [False, False, False, True, False], f"requests carrying the loop guard's note: {noted}")
last = messages(3)[-1] if len(bodies) > 3 else {}
check(last.get("role") == "user" and "Change your approach" in str(last.get("content")), f"the 4th request does not end with the note: {short(last)}")
check("has failed 3 times" not in out, "the note reached the answer")
guards = [t.get("loop_guard") for t in tele if t.get("loop_guard")]
check(len(guards) == 1 and guards[0].get("action") == "note" and guards[0].get("count") == 3 and guards[0].get("failing"), f"telemetry loop_guard: {guards}")
check(any("loop guard note sent: exec_command failed 3 times" in t.get("diagnosis", "") for t in tele), f"diagnoses: {[t.get('diagnosis') for t in tele]}")
check("loop guard: 1 note, 0 stops" in err, "the exec summary does not count the note")
PY
}

scenario_14c_fallback_503() {
  run_codex "${WRITE_ARGS[@]}" "Write backup.txt."
  checks <<'PY'
check(rc == 0, f"exit status {rc}, wanted 0: {short(err[-300:])}")
check(out.strip() == "Served by the backup model.", f"stdout is {short(out)!r}")
check((ws / "backup.txt").is_file(), "the fallback's call did not run: backup.txt is missing")
models = [b.get("model") for b in bodies]
check(models == ["mock-model"] * 4 + ["mock-backup"] * 2, f"models asked, in order: {models} (the primary must not be asked again during its cool-down)")
notice = "codex-litellm: mock-backup answered instead of mock-model (mock-model: overloaded (HTTP 503)); mock-model is tried again after 60s"
check(notice in err, f"stderr lacks the notice line: {short(err[-400:])}")
switches = [t.get("fallback") for t in tele]
check([s and s.get("reason") for s in switches] == ["overloaded", "cooling_down"], f"telemetry fallback: {switches}")
check(all(t.get("model") == "mock-backup" for t in tele), f"telemetry models: {[t.get('model') for t in tele]}")
check("answered by mock-backup instead of mock-model: overloaded (HTTP 503)" in tele[0].get("diagnosis", ""), f"diagnosis: {tele[0].get('diagnosis')!r}")
check("2 answers as fallback" in err, "the exec summary does not count the fallback answers")
PY
}

# retry_checks N: the checks the three retry scenarios share (the mock got N requests,
# two of them successful): the side effect ran once, the answer came, and the telemetry
# shows the retries. The scenario appends its own checks to checks.py.
retry_checks() {
  printf 'want_requests = %d\n' "$1" >"$scn_dir/checks.py"
  cat >>"$scn_dir/checks.py" <<'PY'
check(rc == 0, f"exit status {rc}, wanted 0: {short(err[-300:])}")
check((ws / "side-effect.log").is_file(), "the command did not run: side-effect.log is missing")
lines = read(ws / "side-effect.log").splitlines()
check(lines == ["once"], f"the command ran {len(lines)} times, wanted exactly once")
check(out.strip().startswith("Appended one line"), f"stdout is {short(out)!r}")
check(len(bodies) == want_requests, f"the mock received {len(bodies)} requests, wanted {want_requests}")
retries = sum(t.get("retries", 0) for t in tele)
check(retries == want_requests - 2, f"telemetry counts {retries} retries, wanted {want_requests - 2}")
retried = [t for t in tele if t.get("retries")]
check(all(t.get("diagnosis_kind") == "completed_after_retries" for t in retried), f"diagnoses: {[t.get('diagnosis') for t in tele]}")
check(f"· {want_requests - 2} retries ·" in err, "the exec summary does not show the retries")
PY
}

scenario_06a_retry_429() {
  run_codex "${WRITE_ARGS[@]}" "Append one line."
  retry_checks 4
  cat >>"$scn_dir/checks.py" <<'PY'
for t in tele:
    check("rate limited 429" in t.get("diagnosis", "") and "Retry-After" in t.get("diagnosis", ""), f"diagnosis: {t.get('diagnosis')!r}")
    check(t["attempts"][0].get("retry_wait_ms") == 1000, f"waited {t['attempts'][0].get('retry_wait_ms')} ms, Retry-After said 1000")
for a, b in ((0, 1), (2, 3)):
    gap = reqs[b]["received_unix_ms"] - reqs[a]["received_unix_ms"]
    check(gap >= 950, f"request {b + 1} came {gap} ms after the 429, before Retry-After: 1 allowed it")
PY
}

scenario_06b_retry_500() {
  run_codex "${WRITE_ARGS[@]}" "Append one line."
  retry_checks 4
  cat >>"$scn_dir/checks.py" <<'PY'
check("HTTP 500" in tele[0].get("diagnosis", ""), f"diagnosis: {tele[0].get('diagnosis')!r}")
check([a.get("status") for a in tele[0]["attempts"]] == [500, 500, 200], f"attempts: {[a.get('status') for a in tele[0]['attempts']]}")
PY
}

scenario_06c_retry_stream_cut() {
  run_codex "${WRITE_ARGS[@]}" "Append one line."
  retry_checks 4
  cat >>"$scn_dir/checks.py" <<'PY'
check(len(tele) == 2, f"{len(tele)} telemetry records, wanted 2")
for t in tele:
    check("stream cut" in t.get("diagnosis", ""), f"diagnosis: {t.get('diagnosis')!r}, wanted a stream cut")
    check(t["attempts"][0].get("fault", {}).get("kind") == "stream_cut", f"fault of the cut attempt: {t['attempts'][0].get('fault')}")
PY
}

scenario_07a_error_in_stream() {
  run_codex "Use a tool."
  checks <<'PY'
check(rc != 0 or "ERROR" in err, f"exit status {rc} and no error line: an error went unnoticed")
check(secs < 30, f"took {secs:.0f}s: a non-retryable error must end the run at once")
check("mock-model does not support tools" in err, f"stderr lacks the backend's message: {short(err[-400:])}")
check(len(bodies) == 1, f"the mock received {len(bodies)} requests, wanted 1 (a 400 in the stream is not retried)")
check(len(tele) == 1, f"{len(tele)} telemetry records, wanted 1")
t = tele[0]
check(t.get("diagnosis_kind") == "backend_error" and "does not support tools" in t.get("diagnosis", ""), f"diagnosis: {t.get('diagnosis')!r}")
check(t.get("outcome", {}).get("status") == "failed", f"outcome: {t.get('outcome')}")
PY
}

scenario_07b_unauthorized() {
  run_codex "Say hello"
  checks <<'PY'
check(rc != 0 or "ERROR" in err, f"exit status {rc} and no error line: an error went unnoticed")
check(secs < 30, f"took {secs:.0f}s: a 401 must end the run quickly")
check("Invalid proxy server token passed" in err and "401" in err, f"stderr lacks the backend's message: {short(err[-400:])}")
check("LITELLM_API_KEY" in err, "the error does not say which key to check")
check(len(bodies) == 1, f"the mock received {len(bodies)} requests; a 401 from a static key must not be retried")
check(tele and all(t.get("diagnosis_kind") == "auth" for t in tele), f"diagnoses: {[t.get('diagnosis') for t in tele]}")
check(all(len(t.get("attempts", [])) == 1 for t in tele), "the bridge retried a 401")
PY
}

scenario_08_tool_call_as_text() {
  run_codex "${WRITE_ARGS[@]}" "Create the file."
  checks <<'PY'
check(rc == 0, f"exit status {rc}, wanted 0: {short(err[-300:])}")
check((ws / "recovered.txt").is_file() and read(ws / "recovered.txt") == "recovered\n", "the tool call written as text was not executed: recovered.txt is missing")
check(out.strip() == "Created recovered.txt.", f"stdout is {short(out)!r}")
check(len(bodies) == 2, f"the mock received {len(bodies)} requests, wanted 2")
msgs = messages(1)
asst = [m for m in msgs if m.get("role") == "assistant"]
check(len(asst) == 1, f"{len(asst)} assistant messages in the follow-up, wanted 1")
check("<tool_call>" not in str(asst[0].get("content")), f"the tag is still in the text sent back: {short(asst[0].get('content'))}")
calls = asst[0].get("tool_calls") or []
check(len(calls) == 1 and calls[0]["function"]["name"] == "exec_command", f"tool calls sent back: {short(calls)}")
check(any(m.get("role") == "tool" and m.get("tool_call_id") == calls[0].get("id") for m in msgs), "no tool result for the recovered call")
check(tele and tele[0].get("recovered_tool_calls") == [{"name": "exec_command", "syntax": "tool_call_tag"}], f"telemetry recovered_tool_calls: {tele[0].get('recovered_tool_calls') if tele else None}")
check("recovered 1 tool call" in tele[0].get("diagnosis", ""), f"diagnosis: {tele[0].get('diagnosis')!r}")
check("1 tool call recovered" in err, "the exec summary does not count the recovered call")
PY
}

scenario_09a_length_auto_continue() {
  run_codex "Write a long answer."
  checks <<'PY'
check(rc == 0, f"exit status {rc}, wanted 0: {short(err[-300:])}")
check(out.strip() == "The first half of a long answer, and the second half that completes it.", f"stdout is {short(out)!r}, wanted the spliced answer")
check("[codex-litellm]" not in out, "the answer was reported as cut off although it was continued")
check(len(bodies) == 2, f"the mock received {len(bodies)} requests, wanted 2 (answer + continuation)")
asst = [m for m in messages(1) if m.get("role") == "assistant"]
check(asst and asst[-1].get("content") == "The first half of a long answer, ", f"the continuation request does not carry the cut answer: {short(asst)}")
check(len(tele) == 1 and tele[0].get("continuations") == 1, f"telemetry continuations: {[t.get('continuations') for t in tele]}")
check(tele[0].get("diagnosis_kind") == "completed", f"diagnosis: {tele[0].get('diagnosis')!r}")
PY
}

scenario_09b_length_cut_off() {
  run_codex "Write a long answer."
  checks <<'PY'
check(rc == 0, f"exit status {rc}, wanted 0: {short(err[-300:])}")
check(out.startswith("The first half of a long answer, "), f"stdout is {short(out)!r}")
check("[codex-litellm]" in out and "cut off" in out and "finish_reason" in out, f"the answer is not reported as cut off: {short(out)!r}")
wrong = [l for l in (out + err).lower().splitlines() if "context window" in l and "does not report a context window" not in l]
check(not wrong, f"reported as a context-window error: {wrong}")
check(len(bodies) == 1, f"the mock received {len(bodies)} requests, wanted 1")
check(len(tele) == 1 and tele[0].get("diagnosis_kind") == "truncated" and tele[0].get("outcome", {}).get("status") == "truncated",
      f"telemetry: {[t.get('diagnosis') for t in tele]}")
check("1 cut off" in err, "the exec summary does not count the cut-off answer")
PY
}

scenario_10_resume() {
  run_codex "${WRITE_ARGS[@]}" "Remember the magic word."
  run_codex resume --last "RESUMED-TURN: what was the magic word?"
  checks <<'PY'
check(len(runs) == 2, f"{len(runs)} codex runs")
check(runs[0]["rc"] == 0, f"first run: exit status {runs[0]['rc']}: {short(runs[0]['err'][-300:])}")
check(runs[0]["out"].strip() == "First turn done: the magic word is PINEAPPLE.", f"first run stdout: {short(runs[0]['out'])!r}")
check(runs[1]["rc"] == 0, f"resumed run: exit status {runs[1]['rc']}: {short(runs[1]['err'][-300:])}")
check(runs[1]["out"].strip() == "Resumed: you told me PINEAPPLE earlier.", f"resumed run stdout: {short(runs[1]['out'])!r}")
check(len(bodies) == 3, f"the mock received {len(bodies)} requests, wanted 3")
msgs = messages(2)
contents = [(m.get("role"), m.get("content")) for m in msgs]
check(("user", "Remember the magic word.") in contents, "the resumed request lacks the first prompt")
check(("assistant", "First turn done: the magic word is PINEAPPLE.") in contents, "the resumed request lacks the first answer")
check(any(c.get("id") == "call_smoke_first_turn" for m in msgs for c in (m.get("tool_calls") or [])), "the resumed request lacks the first turn's tool call")
check(any(m.get("role") == "tool" and m.get("tool_call_id") == "call_smoke_first_turn" for m in msgs), "the resumed request lacks the first turn's tool result")
check(msgs[-1] == {"role": "user", "content": "RESUMED-TURN: what was the magic word?"}, f"last message: {short(msgs[-1])}")
check(len({t.get("session_id") for t in tele}) == 1 and len(tele) == 3, f"telemetry: {len(tele)} records in sessions {sorted({str(t.get('session_id')) for t in tele})}, wanted 3 in one")
files = glob.glob(str(home / "log/litellm/*.jsonl"))
check(len(files) == 1, f"{len(files)} telemetry files, wanted 1 (the resumed session appends to its file)")
PY
}

scenario_11a_passthrough_mode() {
  run_codex "${WRITE_ARGS[@]}" "Run the command."
  checks <<'PY'
check(rc == 0, f"exit status {rc}, wanted 0: {short(err[-300:])}")
check((ws / "passthrough.txt").is_file(), "the command did not run")
check(out.strip() == "Streamed answer after the tool ran.", f"stdout is {short(out)!r}")
check("Passthrough-thinking: run the command." in err, "the reasoning is not shown")
check(len(bodies) == 2, f"the mock received {len(bodies)} requests, wanted 2")
asst = [m for m in messages(1) if m.get("role") == "assistant"]
check(asst and asst[0].get("reasoning_content") == "Passthrough-thinking: run the command.", f"reasoning sent back: {short(asst)}")
check(tele and all(t.get("mode") == "live" for t in tele), f"telemetry modes: {[t.get('mode') for t in tele]}")
PY
}

scenario_11b_passthrough_stream_cut() {
  run_codex "${WRITE_ARGS[@]}" "Append one line."
  checks <<'PY'
check(rc == 0, f"exit status {rc}, wanted 0: {short(err[-300:])}")
lines = read(ws / "side-effect.log").splitlines() if (ws / "side-effect.log").is_file() else []
check(lines == ["once"], f"the command ran {len(lines)} times, wanted exactly once")
check(out.strip() == "Appended one line, and this answer is long enough to be cut in the middle.", f"stdout is {short(out)!r}")
check(len(bodies) == 4, f"the mock received {len(bodies)} requests, wanted 4")
check("Reconnecting..." not in err, "Codex reconnected: the bridge should have retried invisibly")
check(out.count("Let me append the line now") <= 1, "the shown text was repeated")
outcomes = [t.get("outcome", {}).get("status") for t in tele]
check(outcomes == ["completed", "completed"], f"telemetry outcomes: {outcomes}, wanted two completed exchanges (each retried once inside the bridge)")
PY
}

# Checks shared by 12a/12b: where the backend first refused a request for its size and
# where Codex first asked for a compaction (chat request indexes, None when never).
metadata_checks_prelude() {
  cat <<'PY'
refusals = [i for i, r in enumerate(reqs) if (r.get("served_by") or {}).get("kind") == "context_limit"]
compactions = [i for i, b in enumerate(bodies) if "CONTEXT CHECKPOINT COMPACTION" in json.dumps(b)]
first_refusal = refusals[0] if refusals else None
first_compaction = compactions[0] if compactions else None
check("Model metadata for" not in err, "upstream fallback-metadata warning shown: " + short(err[-300:]))
PY
}

scenario_12a_metadata_auto_compaction() {
  run_codex "Run the numbered commands one after the other, then say you are finished."
  {
    metadata_checks_prelude
    cat <<'PY'
paths = [r.get("path") for r in recorded]
check("/v1/models" in paths, f"GET /v1/models was not asked: {paths[:6]}")
check(any(p.endswith("/model/info") for p in paths), f"GET /model/info was not asked: {paths[:6]}")
check(rc == 0, f"exit status {rc}, wanted 0: {short(err[-300:])}")
check(out.strip() == "Finished after compaction.", f"stdout is {short(out)!r}, wanted the answer served after the summary")
check(first_compaction is not None, f"Codex never compacted ({len(bodies)} requests, refusals at {refusals})")
check(first_refusal is None or first_refusal > first_compaction,
      f"the backend refused request #{first_refusal} before Codex compacted (first compaction #{first_compaction})")
windows = {((rec.get("payload") or {}).get("info") or {}).get("model_context_window")
           for rec in rollout() if (rec.get("payload") or {}).get("type") == "token_count"
           and (rec.get("payload") or {}).get("info")}
check(windows and all(w is not None and w <= 16384 for w in windows),
      f"the session's context window is {windows}, wanted the backend's 16K (95% = 15564)")
PY
  } | checks
}

scenario_12b_metadata_missing_context_error() {
  run_codex "Run the numbered commands one after the other, then say you are finished."
  {
    metadata_checks_prelude
    cat <<'PY'
check(rc != 0 or "ERROR" in err, f"exit status {rc} and no ERROR line: the run was meant to hit the context limit")
check(first_refusal is not None, f"the backend never refused a request ({len(bodies)} requests): the conversation did not outgrow 64 KB")
check(first_compaction is None or first_compaction > first_refusal,
      f"Codex compacted (#{first_compaction}) before the refusal (#{first_refusal}) without metadata")
check("context" in err.lower(), f"the context-length error is not reported: {short(err[-300:])}")
check(err.count("does not report a context window") == 1,
      f"the default-window notice was said {err.count('does not report a context window')} times, wanted once")
PY
  } | checks
}

# ---- main -------------------------------------------------------------------------

for name in "${selected[@]}"; do
  declare -F "scenario_${name//-/_}" >/dev/null || setup_error "scenario $name has no function scenario_${name//-/_}"
done
check_prelude >"$ROOT/prelude.py"
if [[ -n $via_litellm ]]; then
  # One proxy for the whole run, routing every model to one fixed port where each
  # scenario's mock listens in turn. Its master key and the key it sends the mock are the
  # smoke key, so the checks (key sent, key never written) mean what they mean directly.
  # The proxy's config and log live outside the scenario directories.
  mock_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  proxy_dir=$ROOT/litellm
  printf 'smoke: starting the LiteLLM proxy (scripts/litellm-proxy.sh)\n' >&2
  if ! proxy_env=$(LITELLM_PROXY_MASTER_KEY=$SECRET LITELLM_PROXY_BACKEND_KEY=$SECRET \
    "$CL_SCRIPTS/litellm-proxy.sh" start --dir "$proxy_dir" --backend-port "$mock_port" \
    --models "$SMOKE_MODELS"); then
    setup_error "the LiteLLM proxy did not start (see above)"
  fi
  proxy_url=$(sed -n 's/^LITELLM_PROXY_URL=//p' <<<"$proxy_env")
  proxy_version=$(sed -n 's/^LITELLM_PROXY_VERSION=//p' <<<"$proxy_env")
  printf 'smoke: via LiteLLM %s at %s -> mock on port %s\n' "$proxy_version" "$proxy_url" "$mock_port"
fi
printf 'smoke: %s · %d scenario(s) · mock %s\n' "$version" "${#selected[@]}" "$mock"
passed=0 failed=0
for name in "${selected[@]}"; do
  run_scenario "$name"
done
printf '%d passed, %d failed\n' "$passed" "$failed"
((failed == 0)) || exit 1
