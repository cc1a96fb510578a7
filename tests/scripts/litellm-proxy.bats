#!/usr/bin/env bats
# scripts/litellm-proxy.sh: usage errors, and a real proxy (the pinned LiteLLM, installed
# by the script) started, used and stopped with every process gone, also when the command
# fails or the run is interrupted.

load helpers

PROXY=$REPO_ROOT/scripts/litellm-proxy.sh

setup_file() {
  "$PROXY" install >&2
}

setup() {
  export TMPDIR=$BATS_TEST_TMPDIR/tmp
  mkdir -p "$TMPDIR"
}

# pid_alive PID: the process exists and is not a zombie.
pid_alive() {
  [[ -e /proc/$1 ]] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

# No process of a proxy started from this test's TMPDIR is left.
assert_no_proxy_left() {
  local left
  # The pattern comes from a file, so this grep's own command line does not match.
  left=$(grep -lzF -f <(printf '%s/\n' "$TMPDIR") /proc/[0-9]*/cmdline 2>/dev/null || true)
  [[ -z $left ]] || { echo "proxy processes left behind: $left" >&2; return 1; }
}

@test "litellm-proxy: usage errors" {
  run "$PROXY"
  assert_failure
  assert_output_has "missing the command"
  run "$PROXY" start --dir "$TMPDIR/p"
  assert_failure
  assert_output_has "start needs --backend-port PORT"
  run "$PROXY" start --dir "$TMPDIR/p" --backend-port nope
  assert_failure
  assert_output_has "--backend-port needs a port number"
  run "$PROXY" start --dir "$TMPDIR/p" --backend-port 9 --models 'a b'
  assert_failure
  assert_output_has "--models needs comma-separated model names"
  run "$PROXY" env --dir "$TMPDIR/none"
  assert_failure
  assert_output_has "no proxy started in"
  run "$PROXY" frobnicate
  assert_failure
  assert_output_has "unknown command: frobnicate"
  run "$PROXY" --help
  assert_success
  assert_output_has "Usage: scripts/litellm-proxy.sh COMMAND" "LITELLM_PROXY_URL"
}

@test "litellm-proxy: run serves the API with the master key, passes the command's status, stops the proxy" {
  cat >"$BATS_TEST_TMPDIR/probe.sh" <<'EOF2'
#!/usr/bin/env bash
set -u
{
  printf 'url=%s\n' "$LITELLM_PROXY_URL"
  printf 'version=%s\n' "$LITELLM_PROXY_VERSION"
  printf 'backend=%s\n' "$LITELLM_PROXY_BACKEND_PORT"
  printf 'no_key=%s\n' "$(curl -s --noproxy '*' -o /dev/null -w '%{http_code}' "$LITELLM_PROXY_URL/v1/models")"
  printf 'key=%s\n' "$(curl -s --noproxy '*' -o /dev/null -w '%{http_code}' -H "authorization: Bearer $LITELLM_PROXY_KEY" "$LITELLM_PROXY_URL/v1/models")"
  printf 'models=%s\n' "$(curl -s --noproxy '*' -H "authorization: Bearer $LITELLM_PROXY_KEY" "$LITELLM_PROXY_URL/v1/models" |
    python3 -c 'import json, sys; print(",".join(m["id"] for m in json.load(sys.stdin)["data"]))')"
} >"$1"
exit 7
EOF2
  chmod +x "$BATS_TEST_TMPDIR/probe.sh"
  run "$PROXY" run --models mock-model,smoke-freeform -- "$BATS_TEST_TMPDIR/probe.sh" "$BATS_TEST_TMPDIR/probe.out"
  [[ $status -eq 7 ]] || { echo "status $status: $output" >&2; false; }
  cat "$BATS_TEST_TMPDIR/probe.out" >&2
  grep -qx 'version=1.108.7' "$BATS_TEST_TMPDIR/probe.out"
  refute grep -qx 'no_key=200' "$BATS_TEST_TMPDIR/probe.out"
  grep -qx 'key=200' "$BATS_TEST_TMPDIR/probe.out"
  grep -qx 'models=mock-model,smoke-freeform' "$BATS_TEST_TMPDIR/probe.out"
  grep -q '^url=http://127.0.0.1:[0-9]*$' "$BATS_TEST_TMPDIR/probe.out"
  local url
  url=$(sed -n 's/^url=//p' "$BATS_TEST_TMPDIR/probe.out")
  run curl -s --noproxy '*' --max-time 2 "$url/health/liveliness"
  assert_failure
  assert_no_proxy_left
  [[ -z $(ls -A "$TMPDIR") ]] || { ls -la "$TMPDIR" >&2; false; }
}

@test "litellm-proxy: an interrupted run (Ctrl-C) stops the proxy" {
  # Ctrl-C signals a terminal's foreground process group: here a group of its own
  # (setsid), with SIGINT's default restored (a background job starts with it ignored).
  # shellcheck disable=SC2016 # expanded by the inner bash
  setsid python3 -c 'import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execv(sys.argv[1], sys.argv[1:])' \
    "$PROXY" run -- bash -c 'echo "$LITELLM_PROXY_URL" >"$0"; exec sleep 300' "$BATS_TEST_TMPDIR/url" \
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
  assert_no_proxy_left
  run curl -s --noproxy '*' --max-time 2 "$(cat "$BATS_TEST_TMPDIR/url")/health/liveliness"
  assert_failure
}

@test "litellm-proxy: start, env and stop across commands" {
  run "$PROXY" start --dir "$TMPDIR/p" --backend-port 9
  assert_success
  assert_output_has "LITELLM_PROXY_URL=http://127.0.0.1:" "LITELLM_PROXY_BACKEND_PORT=9"
  run "$PROXY" start --dir "$TMPDIR/p" --backend-port 9
  assert_failure
  assert_output_has "already running"
  run "$PROXY" env --dir "$TMPDIR/p"
  assert_success
  local url
  url=$(sed -n 's/^LITELLM_PROXY_URL=//p' <<<"$output")
  run "$PROXY" stop --dir "$TMPDIR/p"
  assert_success
  assert_no_proxy_left
  run curl -s --noproxy '*' --max-time 2 "$url/health/liveliness"
  assert_failure
}

@test "litellm-proxy: a proxy that is not up in time is stopped, with the log's end in the error" {
  LITELLM_START_TIMEOUT=1 run "$PROXY" start --dir "$TMPDIR/slow" --backend-port 9
  assert_failure
  assert_output_has "did not answer http://127.0.0.1:" "within 1s" "$TMPDIR/slow/proxy.log"
  [[ ! -f $TMPDIR/slow/proxy.pid ]]
  assert_no_proxy_left
}
