#!/usr/bin/env bats
# scripts/real-model.sh: usage errors, and the real model server (the pinned
# llama-cpp-python serving SmolLM2-135M, installed by the script) started, used and
# stopped with every process gone, also when the command fails or the run is interrupted.

load helpers

SERVER=$REPO_ROOT/scripts/real-model.sh

setup_file() {
  # A no-op when scripts/install-test-tools.sh ran; else it builds llama.cpp (minutes).
  "$SERVER" install >&2
}

setup() {
  export TMPDIR=$BATS_TEST_TMPDIR/tmp
  mkdir -p "$TMPDIR"
}

# pid_alive PID: the process exists and is not a zombie.
pid_alive() {
  [[ -e /proc/$1 ]] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

# No process of a server started from this test's TMPDIR is left.
assert_no_server_left() {
  local left
  # The pattern comes from a file, so this grep's own command line does not match.
  left=$(grep -lzF -f <(printf '%s/\n' "$TMPDIR") /proc/[0-9]*/cmdline 2>/dev/null || true)
  [[ -z $left ]] || { echo "server processes left behind: $left" >&2; return 1; }
}

@test "real-model: usage errors" {
  run "$SERVER"
  assert_failure
  assert_output_has "missing the command"
  run "$SERVER" start
  assert_failure
  assert_output_has "start needs --dir DIR"
  run "$SERVER" start --dir "$TMPDIR/s" --port nope
  assert_failure
  assert_output_has "--port needs a port number, not 'nope'"
  run "$SERVER" start --dir "$TMPDIR/s" --chat-format 'chatml; rm -rf /'
  assert_failure
  assert_output_has "--chat-format needs a llama-cpp-python chat format name"
  run "$SERVER" start --dir "$TMPDIR/s" --n-ctx 100
  assert_failure
  assert_output_has "--n-ctx needs a context size in tokens (512 or more), not '100'"
  run "$SERVER" run --n-ctx lots -- true
  assert_failure
  assert_output_has "--n-ctx needs a context size"
  run "$SERVER" run
  assert_failure
  assert_output_has "run needs a command after --"
  run "$SERVER" env --dir "$TMPDIR/none"
  assert_failure
  assert_output_has "no server started in"
  run "$SERVER" start --dir "$TMPDIR/s" --bogus
  assert_failure
  assert_output_has "unknown argument: --bogus"
  run "$SERVER" frobnicate
  assert_failure
  assert_output_has "unknown command: frobnicate"
  run "$SERVER" --help
  assert_success
  assert_output_has "Usage: scripts/real-model.sh COMMAND" "CODEX_LITELLM_REAL_MODEL_URL"
  [[ -z $(ls -A "$TMPDIR") ]] || { ls -la "$TMPDIR" >&2; false; }
}

@test "real-model: model-path names the GGUF file the package ships" {
  run "$SERVER" model-path
  assert_success
  [[ $output == *.gguf && -s $output ]] || { echo "not a GGUF file: $output" >&2; false; }
}

@test "real-model: run serves both model names, passes the command's status, stops the server" {
  cat >"$BATS_TEST_TMPDIR/probe.sh" <<'EOF2'
#!/usr/bin/env bash
set -u
{
  printf 'url=%s\n' "$CODEX_LITELLM_REAL_MODEL_URL"
  printf 'model=%s\n' "$CODEX_LITELLM_REAL_MODEL"
  printf 'tools=%s\n' "$CODEX_LITELLM_REAL_MODEL_TOOLS"
  printf 'context=%s\n' "$CODEX_LITELLM_REAL_MODEL_CONTEXT"
  printf 'format=%s\n' "$CODEX_LITELLM_REAL_MODEL_CHAT_FORMAT"
  printf 'models=%s\n' "$(curl -s --noproxy '*' "$CODEX_LITELLM_REAL_MODEL_URL/models" |
    python3 -c 'import json, sys; print(",".join(m["id"] for m in json.load(sys.stdin)["data"]))')"
} >"$1"
exit 7
EOF2
  chmod +x "$BATS_TEST_TMPDIR/probe.sh"
  run "$SERVER" run --chat-format chatml --n-ctx 4096 -- "$BATS_TEST_TMPDIR/probe.sh" "$BATS_TEST_TMPDIR/probe.out"
  [[ $status -eq 7 ]] || { echo "status $status: $output" >&2; false; }
  cat "$BATS_TEST_TMPDIR/probe.out" >&2
  grep -q '^url=http://127.0.0.1:[0-9]*/v1$' "$BATS_TEST_TMPDIR/probe.out"
  grep -qx 'models=smollm2,smollm2-function-calling' "$BATS_TEST_TMPDIR/probe.out"
  grep -qx 'model=smollm2' "$BATS_TEST_TMPDIR/probe.out"
  grep -qx 'tools=smollm2-function-calling' "$BATS_TEST_TMPDIR/probe.out"
  grep -qx 'context=4096' "$BATS_TEST_TMPDIR/probe.out"
  grep -qx 'format=chatml' "$BATS_TEST_TMPDIR/probe.out"
  local url
  url=$(sed -n 's/^url=//p' "$BATS_TEST_TMPDIR/probe.out")
  run curl -s --noproxy '*' --max-time 2 "$url/models"
  assert_failure
  assert_no_server_left
  [[ -z $(ls -A "$TMPDIR") ]] || { ls -la "$TMPDIR" >&2; false; }
}

@test "real-model: an interrupted run (Ctrl-C) stops the server" {
  # Ctrl-C signals a terminal's foreground process group: here a group of its own
  # (setsid), with SIGINT's default restored (a background job starts with it ignored).
  # shellcheck disable=SC2016 # expanded by the inner bash
  setsid python3 -c 'import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execv(sys.argv[1], sys.argv[1:])' \
    "$SERVER" run -- bash -c 'echo "$CODEX_LITELLM_REAL_MODEL_URL" >"$0"; exec sleep 300' "$BATS_TEST_TMPDIR/url" \
    >"$BATS_TEST_TMPDIR/run.out" 2>&1 &
  local pid=$! waited=0
  while [[ ! -s $BATS_TEST_TMPDIR/url ]] && ((waited < 1800)); do
    sleep 0.1
    waited=$((waited + 1))
  done
  [[ -s $BATS_TEST_TMPDIR/url ]] || { cat "$BATS_TEST_TMPDIR/run.out" >&2; kill "$pid"; false; }
  kill -INT -- "-$pid"
  waited=0
  while pid_alive "$pid" && ((waited < 100)); do
    sleep 0.1
    waited=$((waited + 1))
  done
  refute pid_alive "$pid"
  assert_no_server_left
  run curl -s --noproxy '*' --max-time 2 "$(cat "$BATS_TEST_TMPDIR/url")/models"
  assert_failure
}

@test "real-model: start, env and stop across commands" {
  run "$SERVER" start --dir "$TMPDIR/s"
  assert_success
  assert_output_has "CODEX_LITELLM_REAL_MODEL_URL=http://127.0.0.1:" "CODEX_LITELLM_REAL_MODEL_CHAT_FORMAT=gguf-template" \
    "CODEX_LITELLM_REAL_MODEL_CONTEXT=8192"
  run "$SERVER" start --dir "$TMPDIR/s"
  assert_failure
  assert_output_has "already running"
  run "$SERVER" env --dir "$TMPDIR/s"
  assert_success
  local url
  url=$(sed -n 's/^CODEX_LITELLM_REAL_MODEL_URL=//p' <<<"$output")
  run "$SERVER" stop --dir "$TMPDIR/s"
  assert_success
  assert_no_server_left
  run curl -s --noproxy '*' --max-time 2 "$url/models"
  assert_failure
}

@test "real-model: a server that is not up in time is stopped, with the log's end in the error" {
  REAL_MODEL_START_TIMEOUT=0 run "$SERVER" start --dir "$TMPDIR/slow"
  assert_failure
  assert_output_has "did not answer http://127.0.0.1:" "within 0s" "$TMPDIR/slow/server.log"
  [[ ! -f $TMPDIR/slow/server.pid ]]
  assert_no_server_left
}
