#!/usr/bin/env bats
# scripts/smoke.sh's own logic, without a codex-litellm build: options, the scenario
# files, the mock scripts (each must be accepted by mock-llm), and the harness against a
# fake codex-litellm: FAIL reasons, the secret check, the time limit, clean-up of every
# process and of the temporary directory, also when interrupted.

load helpers

SMOKE=$REPO_ROOT/scripts/smoke.sh
SMOKE_DIR=$REPO_ROOT/tests/smoke

setup_file() {
  local mock=${MOCK_LLM:-${CARGO_TARGET_DIR:-$REPO_ROOT/target}/debug/mock-llm}
  if [[ ! -x $mock ]] && command -v cargo >/dev/null; then
    (cd "$REPO_ROOT" && cargo build -q -p codex-litellm-mock-llm) >&2 || true
  fi
  if [[ -x $mock ]]; then
    export MOCK_LLM=$mock
  else
    export MOCK_LLM=''
  fi
}

setup() {
  export TMPDIR=$BATS_TEST_TMPDIR/tmp
  mkdir -p "$TMPDIR"
  FAKE=$BATS_TEST_TMPDIR/fake-codex-litellm
  # A stand-in for codex-litellm: FAKE_MODE picks what `exec` does.
  cat >"$FAKE" <<'EOF'
#!/usr/bin/env bash
if [[ ${1:-} == --version ]]; then echo "codex-litellm 0.0.0+fake"; exit 0; fi
case ${FAKE_MODE:-} in
  hello) echo "Hello from the mock."; exit 0 ;;
  leak) printf 'key=%s\n' "$LITELLM_API_KEY" >"$CODEX_HOME/leak.txt"; echo "Hello from the mock."; exit 0 ;;
  ask)
    # One real chat request to LITELLM_BASE_URL with the key; prints the answer's text.
    printf '%s\n' "$LITELLM_BASE_URL" >"$CODEX_HOME/base_url"
    curl -s --noproxy '*' -H "authorization: Bearer $LITELLM_API_KEY" -H 'content-type: application/json' \
      -d '{"model": "mock-model", "messages": [{"role": "user", "content": "Say hello"}]}' \
      "$LITELLM_BASE_URL/chat/completions" |
      python3 -c 'import json, sys; print(json.load(sys.stdin)["choices"][0]["message"]["content"])'
    exit 0
    ;;
  hang)
    setsid sleep 300 </dev/null >/dev/null 2>&1 &   # a "daemon" that leaves the group
    : >"$CODEX_HOME/started"
    exec sleep 300
    ;;
  *) echo "unknown FAKE_MODE" >&2; exit 3 ;;
esac
EOF
  chmod +x "$FAKE"
}

require_mock() {
  [[ -n $MOCK_LLM ]] || skip "mock-llm is not built and cargo is not available"
}

# No process of any smoke run under this test's TMPDIR is left, and no temp dir.
assert_all_cleaned_up() {
  local left
  left=$(grep -lzF "CODEX_LITELLM_SMOKE_RUN=$TMPDIR/" /proc/[0-9]*/environ 2>/dev/null || true)
  [[ -z $left ]] || { echo "processes left behind: $left" >&2; return 1; }
  [[ -z $(ls -A "$TMPDIR") ]] || { ls -la "$TMPDIR" >&2; echo "temp dir left behind" >&2; return 1; }
}

scenario_files() {
  (cd "$SMOKE_DIR" && ls [0-9]*.json) | sed 's/\.json$//' | LC_ALL=C sort
}

@test "smoke: --help" {
  run "$SMOKE" --help
  assert_success
  assert_output_has "Usage: scripts/smoke.sh [options] <path-to-codex-litellm>" "--only NAME" "--keep" "--timeout SECS" "--via-litellm" "MOCK_LLM" "SMOKE_SANDBOX"
}

@test "smoke: --list names exactly the scenario files, each with a function" {
  run "$SMOKE" --list
  assert_success
  [[ $output == "$(scenario_files)" ]] || { diff <(echo "$output") <(scenario_files) >&2; false; }
  local name
  for name in $output; do
    grep -q "^scenario_${name//-/_}() {" "$SMOKE" || { echo "no function for $name" >&2; false; }
  done
  [[ $(wc -l <<<"$output") -ge 16 ]]
}

@test "smoke: config fragments belong to a scenario and keep stock codex working" {
  local toml
  for toml in "$SMOKE_DIR"/*.toml; do
    local base=${toml%.toml}
    base=${base%.litellm}
    [[ -f $base.json ]] || { echo "$toml has no mock script" >&2; false; }
    refute grep -q 'wire_api' "$toml"
    # codex-litellm's settings never go into the config.toml that stock codex shares.
    if [[ $toml != *.litellm.toml ]]; then refute grep -q '^\[litellm' "$toml"; fi
  done
  python3 -c 'import json,sys; [json.load(open(f)) for f in sys.argv[1:]]' "$SMOKE_DIR"/*.json
}

@test "smoke: mock-llm accepts every scenario script" {
  require_mock
  local json pid waited
  for json in "$SMOKE_DIR"/[0-9]*.json; do
    rm -f "$BATS_TEST_TMPDIR/port"
    "$MOCK_LLM" --scenario "$json" --port-file "$BATS_TEST_TMPDIR/port" --quiet \
      >/dev/null 2>"$BATS_TEST_TMPDIR/mock.err" &
    pid=$! waited=0
    while [[ ! -s $BATS_TEST_TMPDIR/port ]] && kill -0 "$pid" 2>/dev/null && ((waited < 100)); do
      sleep 0.05
      waited=$((waited + 1))
    done
    if [[ ! -s $BATS_TEST_TMPDIR/port ]]; then
      wait "$pid" || true
      echo "mock-llm rejected $json: $(cat "$BATS_TEST_TMPDIR/mock.err")" >&2
      false
    fi
    kill "$pid"
    wait "$pid" || true
  done
}

@test "smoke: --only selects by name or prefix, rejects unknown names" {
  run "$SMOKE" --only 06 --list
  assert_success
  [[ $output == $'06a-retry-429\n06b-retry-500\n06c-retry-stream-cut' ]]
  run "$SMOKE" --only 10-resume,01 --only=09b --list
  assert_success
  [[ $output == $'01-plain-answer\n09b-length-cut-off\n10-resume' ]]
  run "$SMOKE" --only nope --list
  [[ $status -eq 2 ]]
  assert_output_has "no scenario named 'nope'"
}

@test "smoke: usage errors exit 2" {
  run "$SMOKE"
  [[ $status -eq 2 ]]
  assert_output_has "missing the path of the codex-litellm binary"
  run "$SMOKE" "$BATS_TEST_TMPDIR/nothing-here"
  [[ $status -eq 2 ]]
  assert_output_has "not an executable file"
  run "$SMOKE" --timeout 0 "$FAKE"
  [[ $status -eq 2 ]]
  assert_output_has "--timeout must be a positive number"
  run "$SMOKE" --frobnicate "$FAKE"
  [[ $status -eq 2 ]]
  assert_output_has "unknown option: --frobnicate"
  run env SMOKE_SANDBOX=none "$SMOKE" "$FAKE"
  [[ $status -eq 2 ]]
  printf '#!/bin/sh\necho "no such option" >&2\nexit 1\n' >"$BATS_TEST_TMPDIR/broken"
  chmod +x "$BATS_TEST_TMPDIR/broken"
  run "$SMOKE" "$BATS_TEST_TMPDIR/broken"
  [[ $status -eq 2 ]]
  assert_output_has "--version failed:" "no such option"
}

@test "smoke: a failing scenario gives one FAIL line with the reason, exit 1, nothing left behind" {
  require_mock
  FAKE_MODE=hello run "$SMOKE" --only 01 "$FAKE"
  [[ $status -eq 1 ]]
  assert_output_has "smoke: codex-litellm 0.0.0+fake · 1 scenario(s)" \
    "FAIL 01-plain-answer: no 'tokens used' line on stderr" "0 passed, 1 failed"
  [[ $(grep -c '^\(PASS\|FAIL\) ' <<<"$output") -eq 1 ]]
  assert_all_cleaned_up
}

@test "smoke: the API key written to a file is caught" {
  require_mock
  FAKE_MODE=leak run "$SMOKE" --only 01 "$FAKE"
  [[ $status -eq 1 ]]
  assert_output_has "FAIL 01-plain-answer: the API key appears in home/leak.txt"
  assert_all_cleaned_up
}

@test "smoke: a hanging codex hits the time limit; its daemon is stopped too" {
  require_mock
  FAKE_MODE=hang run "$SMOKE" --timeout 2 --only 02,07a "$FAKE"
  [[ $status -eq 1 ]]
  assert_output_has "FAIL 02-tool-loop: codex run 1 did not finish within the time limit" \
    "FAIL 07a-error-in-stream: codex run 1 did not finish within the time limit" "0 passed, 2 failed"
  assert_all_cleaned_up
}

@test "smoke: --keep keeps the run's files and says where" {
  require_mock
  FAKE_MODE=hello run "$SMOKE" --keep --only 01 "$FAKE"
  [[ $status -eq 1 ]]
  local kept
  kept=$(sed -n 's/^smoke: kept //p' <<<"$output")
  [[ -n $kept && -d $kept/01-plain-answer/home && -f $kept/01-plain-answer/run1.out ]]
  [[ $(cat "$kept/01-plain-answer/run1.out") == "Hello from the mock." ]]
  grep -q '^level = "full"' "$kept/01-plain-answer/home/litellm.toml"
  refute grep -q 'litellm' "$kept/01-plain-answer/home/config.toml"
  rm -rf "$kept"
}

@test "smoke: SIGTERM while codex runs stops everything and removes the temp dir" {
  require_mock
  FAKE_MODE=hang "$SMOKE" --only 01 "$FAKE" >"$BATS_TEST_TMPDIR/out" 2>&1 &
  local pid=$! waited=0 status=0
  while ! compgen -G "$TMPDIR/codex-litellm-smoke.*/01-plain-answer/home/started" >/dev/null; do
    ((waited < 200)) || { cat "$BATS_TEST_TMPDIR/out" >&2; false; }
    sleep 0.05
    waited=$((waited + 1))
  done
  kill -TERM "$pid"
  wait "$pid" || status=$?
  [[ $status -eq 143 ]] || { echo "status $status" >&2; cat "$BATS_TEST_TMPDIR/out" >&2; false; }
  assert_all_cleaned_up
}

@test "smoke: --via-litellm puts a real LiteLLM proxy between codex-litellm and the mock, then stops it" {
  require_mock
  "$REPO_ROOT/scripts/litellm-proxy.sh" install >&2
  FAKE_MODE=ask run "$SMOKE" --via-litellm --keep --only 01 "$FAKE"
  [[ $status -eq 1 ]] || { echo "status $status: $output" >&2; false; }
  # The fake got the mock's answer (served only for the smoke key, which the proxy
  # forwarded) and only then failed on the first check a real codex-litellm would pass.
  assert_output_has "smoke: via LiteLLM 1.108.7 at http://127.0.0.1:" \
    "FAIL 01-plain-answer: no 'tokens used' line on stderr" "0 passed, 1 failed"
  local kept proxy_url
  kept=$(sed -n 's/^smoke: kept //p' <<<"$output")
  proxy_url=$(sed -n 's|^smoke: via LiteLLM [^ ]* at \([^ ]*\) -> .*|\1|p' <<<"$output")
  [[ $(cat "$kept/01-plain-answer/run1.out") == "Hello from the mock." ]]
  [[ $(cat "$kept/01-plain-answer/home/base_url") == "$proxy_url/v1" ]]
  # The mock saw LiteLLM's request, not the fake's curl.
  refute grep -q '"user-agent": *"curl' "$kept/01-plain-answer/requests.jsonl"
  grep -q '"authorization": *"Bearer \*\*\*"' "$kept/01-plain-answer/requests.jsonl"
  rm -rf "$kept"
  run curl -s --noproxy '*' --max-time 2 "$proxy_url/health/liveliness"
  assert_failure
  assert_all_cleaned_up
}
