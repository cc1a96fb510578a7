#!/usr/bin/env bash
# Side-by-side safety: configure codex-litellm exactly as docs/examples/config.toml says,
# use it, and check that a stock `codex` of the same tag, sharing that CODEX_HOME, still
# runs with its own default model and provider.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: scripts/side-by-side.sh CODEX_LITELLM STOCK_CODEX

  CODEX_LITELLM  a built codex-litellm binary (e.g. dist/codex-litellm)
  STOCK_CODEX    a stock `codex` binary built from the same upstream tag

Uses a throwaway CODEX_HOME holding docs/examples/config.toml. Stock codex runs offline
from a Responses SSE fixture (CODEX_RS_SSE_FIXTURE); codex-litellm runs against the mock
LLM server (MOCK_LLM, or built with cargo). Prints one PASS/FAIL line per check and a
closing "N passed, M failed" line; exits 1 if any check failed.
USAGE
}

case "${1:-}" in -h|--help) usage; exit 0 ;; esac
[ $# -eq 2 ] || { usage >&2; exit 2; }

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Absolute, but symlinks kept: codex-litellm knows who it is from the name it runs under.
abs_path() { case "$1" in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
litellm_bin=$(abs_path "$1")
stock_bin=$(abs_path "$2")
for bin in "$litellm_bin" "$stock_bin"; do
  [ -x "$bin" ] || { echo "error: $bin is not an executable" >&2; exit 2; }
done

mock_llm=${MOCK_LLM:-$repo/target/debug/mock-llm}
if [ ! -x "$mock_llm" ]; then
  echo "==> building the mock LLM server"
  (cd "$repo" && cargo build -q -p codex-litellm-mock-llm)
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/codex-litellm-side-by-side.XXXXXX")
mock_pid=""
cleanup() {
  if [ -n "$mock_pid" ]; then kill "$mock_pid" 2>/dev/null || true; wait "$mock_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "PASS $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1: $2"; }

mkdir -p "$tmp/ws" "$tmp/home" "$tmp/pristine-home"
cp "$repo/docs/examples/config.toml" "$tmp/home/config.toml"
cat > "$tmp/fixture.sse" <<'SSE'
event: response.created
data: {"type":"response.created","response":{"id":"resp_side_by_side"}}

event: response.output_item.done
data: {"type":"response.output_item.done","item":{"type":"message","role":"assistant","content":[{"type":"output_text","text":"stock codex is fine"}]}}

event: response.completed
data: {"type":"response.completed","response":{"id":"resp_side_by_side","usage":{"input_tokens":10,"output_tokens":4,"total_tokens":14}}}

SSE

# Runs stock codex exec offline; output in $tmp/$1.out / .err, status in $tmp/$1.status.
run_stock() {
  local name=$1 home=$2 bin=${3:-$stock_bin}
  local status=0
  (cd "$tmp/ws" && env -u LITELLM_MODEL -u LITELLM_BASE_URL CODEX_HOME="$home" \
    CODEX_RS_SSE_FIXTURE="$tmp/fixture.sse" OPENAI_API_KEY=sk-side-by-side \
    timeout 120 "$bin" exec --skip-git-repo-check "hello" </dev/null \
    >"$tmp/$name.out" 2>"$tmp/$name.err") || status=$?
  echo "$status" > "$tmp/$name.status"
}

header() { grep -E "^$2: " "$tmp/$1.err" | head -n 1 || true; }

check_stock_run() {
  local name=$1 label=$2
  if [ "$(cat "$tmp/$name.status")" != 0 ]; then
    fail "$label" "exit $(cat "$tmp/$name.status"): $(grep -iE 'error' "$tmp/$name.err" | head -n 3 | tr '\n' ' ')"
  elif ! grep -q "stock codex is fine" "$tmp/$name.out"; then
    fail "$label" "the answer is missing from stdout"
  elif [ "$(header "$name" model)" != "$(header baseline model)" ] || [ "$(header "$name" provider)" != "$(header baseline provider)" ]; then
    fail "$label" "defaults changed: '$(header "$name" model)' '$(header "$name" provider)' vs '$(header baseline model)' '$(header baseline provider)'"
  else
    pass "$label"
  fi
}

# 1. Stock codex with an empty CODEX_HOME: the reference for its defaults.
run_stock baseline "$tmp/pristine-home"
if [ "$(cat "$tmp/baseline.status")" = 0 ] && grep -q "stock codex is fine" "$tmp/baseline.out"; then
  pass "stock-baseline ($(header baseline model), $(header baseline provider))"
else
  fail stock-baseline "stock codex does not run even without our config: $(tail -n 3 "$tmp/baseline.err" | tr '\n' ' ')"
fi

# 2. Stock codex with the documented codex-litellm configuration.
run_stock configured "$tmp/home"
check_stock_run configured "stock-reads-documented-config"

# 3. codex-litellm with the same CODEX_HOME, against the mock.
cat > "$tmp/mock.json" <<'JSON'
{"responses": [
  {"match": {"body_contains": ["qwen3-coder"]}, "text": "codex-litellm via the litellm provider"},
  {"match": {"body_contains": ["deepseek-chat"]}, "text": "codex-litellm via the deepseek profile"}
]}
JSON
"$mock_llm" --scenario "$tmp/mock.json" --port-file "$tmp/port" --record "$tmp/record.jsonl" --quiet --exit-with-parent >/dev/null &
mock_pid=$!
for _ in $(seq 1 100); do [ -s "$tmp/port" ] && break; sleep 0.05; done
[ -s "$tmp/port" ] || { echo "error: the mock LLM server did not start" >&2; exit 1; }
base_url="http://127.0.0.1:$(cat "$tmp/port")/v1"

run_litellm() {
  local name=$1; shift
  local status=0
  (cd "$tmp/ws" && env -u LITELLM_MODEL CODEX_HOME="$tmp/home" LITELLM_BASE_URL="$base_url" \
    LITELLM_API_KEY=sk-side-by-side DEEPSEEK_API_KEY=sk-side-by-side \
    timeout 120 "$litellm_bin" "$@" </dev/null >"$tmp/$name.out" 2>"$tmp/$name.err") || status=$?
  echo "$status" > "$tmp/$name.status"
}

run_litellm litellm exec --skip-git-repo-check "hello"
if [ "$(cat "$tmp/litellm.status")" = 0 ] && grep -q "via the litellm provider" "$tmp/litellm.out" \
   && [ "$(header litellm provider)" = "provider: litellm" ] && [ "$(header litellm model)" = "model: qwen3-coder" ]; then
  pass "codex-litellm-uses-[litellm]-defaults"
else
  fail "codex-litellm-uses-[litellm]-defaults" "exit $(cat "$tmp/litellm.status"), $(header litellm model), $(header litellm provider): $(tail -n 3 "$tmp/litellm.err" | tr '\n' ' ')"
fi

run_litellm profile -p deepseek -c "model_providers.deepseek.base_url=\"$base_url\"" exec --skip-git-repo-check "hello"
if [ "$(cat "$tmp/profile.status")" = 0 ] && grep -q "via the deepseek profile" "$tmp/profile.out"; then
  pass "codex-litellm-profile-with-litellm_bridge-table"
else
  fail "codex-litellm-profile-with-litellm_bridge-table" "exit $(cat "$tmp/profile.status"): $(tail -n 3 "$tmp/profile.err" | tr '\n' ' ')"
fi

# 4. Stock codex again, now that codex-litellm wrote sessions, history and telemetry there.
run_stock after "$tmp/home"
check_stock_run after "stock-after-codex-litellm-ran"

# 5. The patched binary under the name `codex` behaves like upstream.
ln -s "$litellm_bin" "$tmp/codex"
run_stock renamed "$tmp/home" "$tmp/codex"
check_stock_run renamed "patched-binary-run-as-codex-is-stock"

# 6. Control: the failure this design avoids is real (stock refuses wire_api = "chat").
mkdir -p "$tmp/chat-home"
printf '[model_providers.x]\nname = "x"\nbase_url = "http://127.0.0.1:1/v1"\nwire_api = "chat"\n' > "$tmp/chat-home/config.toml"
run_stock control "$tmp/chat-home"
if [ "$(cat "$tmp/control.status")" != 0 ] && grep -q "wire_api" "$tmp/control.err"; then
  pass "control-stock-refuses-wire_api-chat"
else
  fail "control-stock-refuses-wire_api-chat" "stock codex accepted wire_api = \"chat\" (exit $(cat "$tmp/control.status")); this check cannot prove anything"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
