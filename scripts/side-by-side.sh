#!/usr/bin/env bash
# Side-by-side safety: configure codex-litellm exactly as docs/examples/ says (config.toml
# plus litellm.toml), use it, and check that each given stock `codex` sharing that CODEX_HOME
# still runs with its own default model and provider, and prints no warning about our
# settings. Also checks that a CODEX_HOME from an earlier codex-litellm (settings inside
# config.toml, which stock 0.171 warns about) is moved once and then stays quiet.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: scripts/side-by-side.sh CODEX_LITELLM STOCK_CODEX [STOCK_CODEX ...]

  CODEX_LITELLM  a built codex-litellm binary (e.g. dist/codex-litellm)
  STOCK_CODEX    stock `codex` binaries: the pinned release and the newest one, e.g.
                 .../0.148.0/.../bin/codex .../0.171.0/.../bin/codex

Uses throwaway CODEX_HOMEs holding docs/examples/config.toml and litellm.toml. Stock codex
is asked `codex doctor --json` (it loads the whole config and lists its start-up
warnings); codex-litellm runs `exec` against the mock LLM server (MOCK_LLM, or built with
cargo). Any stock start-up warning about an unrecognized or ignored setting, or naming
litellm or wire_api, is a failure, and so is a change of stock's default model/provider.
SIDE_BY_SIDE_TMPDIR: where the throwaway homes go (default work/; stock codex refuses to
run from the system temporary folder). Prints one PASS/FAIL line
per check and a closing "N passed, M failed" line; exits 1 if any check failed.
USAGE
}

case "${1:-}" in -h|--help) usage; exit 0 ;; esac
[ $# -ge 2 ] || { usage >&2; exit 2; }

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Absolute, but symlinks kept: codex-litellm knows who it is from the name it runs under.
abs_path() { case "$1" in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
litellm_bin=$(abs_path "$1")
shift
stock_bins=()
for bin in "$@"; do stock_bins+=("$(abs_path "$bin")"); done
for bin in "$litellm_bin" "${stock_bins[@]}"; do
  [ -x "$bin" ] || { echo "error: $bin is not an executable" >&2; exit 2; }
done

mock_llm=${MOCK_LLM:-$repo/target/debug/mock-llm}
if [ ! -x "$mock_llm" ]; then
  echo "==> building the mock LLM server"
  (cd "$repo" && cargo build -q -p codex-litellm-mock-llm)
fi

# Stock refuses to put helper binaries under the system temporary folder; use our own.
tmp=$(mktemp -d "${SIDE_BY_SIDE_TMPDIR:-$repo/work}/side-by-side.XXXXXX" 2>/dev/null \
  || { mkdir -p "$repo/work" && mktemp -d "$repo/work/side-by-side.XXXXXX"; })
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
cp "$repo/docs/examples/config.toml" "$repo/docs/examples/litellm.toml" "$tmp/home/"
# run_stock NAME HOME BIN: `codex doctor --json` (from 0.148 the cheapest command that loads
# the whole config and reports its start-up warnings; it needs no network to do that). The
# config check's block goes to $tmp/NAME.config, the full report to $tmp/NAME.json.
run_stock() {
  local name=$1 home=$2 bin=$3
  (cd "$tmp/ws" && env -u LITELLM_MODEL -u LITELLM_BASE_URL CODEX_HOME="$home" \
    timeout 120 "$bin" doctor --json </dev/null >"$tmp/$name.json" 2>"$tmp/$name.err") || true
  awk '/^    "config.load": [{]/{on=1} on{print} on&&/^    [}]/{exit}' "$tmp/$name.json" >"$tmp/$name.config"
}

# field NAME KEY: a detail of the config check, e.g. `model provider`.
field() {
  grep -E "^ +\"$2\": " "$tmp/$1.config" | head -n 1 | sed -E 's/^[^:]+: "?//; s/"?,?$//' || true
}

config_status() { field "$1" status; }

# Start-up warnings of stock codex that are about our settings.
our_warnings() {
  grep -E '"startup warning' "$tmp/$1.config" | grep -iE 'unrecognized|ignored|litellm|wire_api' | head -n 3 || true
}

# check_stock_run NAME LABEL BASELINE: config loads, no warning about ours, same defaults.
check_stock_run() {
  local name=$1 label=$2 baseline=$3 warnings
  warnings=$(our_warnings "$name")
  if [ ! -s "$tmp/$name.config" ]; then
    fail "$label" "no doctor report: $(tail -n 3 "$tmp/$name.err" | tr '\n' ' ')"
  elif [ "$(config_status "$name")" = fail ]; then
    fail "$label" "stock codex cannot load the config (CODEX_HOME=... codex features list says why)"
  elif [ -n "$warnings" ]; then
    fail "$label" "stock codex warns about our settings: $(echo "$warnings" | tr '\n' ' ')"
  elif [ "$(field "$name" model)" != "$(field "$baseline" model)" ] || [ "$(field "$name" 'model provider')" != "$(field "$baseline" 'model provider')" ]; then
    fail "$label" "defaults changed: model '$(field "$name" model)' provider '$(field "$name" 'model provider')' vs '$(field "$baseline" model)' '$(field "$baseline" 'model provider')'"
  else
    pass "$label"
  fi
}

# The mock LLM server for codex-litellm.
# It serves the models the documented config names: codex-litellm refuses a model the
# backend does not list.
cat > "$tmp/mock.json" <<'JSON'
{"models": ["qwen3-coder", "deepseek-chat"],
 "responses": [
  {"match": {"body_contains": ["qwen3-coder"]}, "text": "codex-litellm via the litellm provider"},
  {"match": {"body_contains": ["deepseek-chat"]}, "text": "codex-litellm via the deepseek provider"}
],
 "fallback": {"text": "codex-litellm via the litellm provider"}}
JSON
"$mock_llm" --scenario "$tmp/mock.json" --port-file "$tmp/port" --record "$tmp/record.jsonl" --quiet --exit-with-parent >/dev/null &
mock_pid=$!
for _ in $(seq 1 100); do [ -s "$tmp/port" ] && break; sleep 0.05; done
[ -s "$tmp/port" ] || { echo "error: the mock LLM server did not start" >&2; exit 1; }
base_url="http://127.0.0.1:$(cat "$tmp/port")/v1"

# header NAME KEY: a line of codex exec's header on stderr, e.g. `provider: litellm`.
header() { grep -E "^$2: " "$tmp/$1.err" | head -n 1 || true; }

# run_litellm NAME HOME ARGS...
run_litellm() {
  local name=$1 home=$2; shift 2
  local status=0
  (cd "$tmp/ws" && env -u LITELLM_MODEL CODEX_HOME="$home" LITELLM_BASE_URL="$base_url" \
    LITELLM_API_KEY=sk-side-by-side DEEPSEEK_API_KEY=sk-side-by-side \
    timeout 120 "$litellm_bin" "$@" </dev/null >"$tmp/$name.out" 2>"$tmp/$name.err") || status=$?
  echo "$status" > "$tmp/$name.status"
}

# 1. codex-litellm with the documented CODEX_HOME.
run_litellm litellm "$tmp/home" exec --skip-git-repo-check "hello"
if [ "$(cat "$tmp/litellm.status")" = 0 ] && grep -q "via the litellm provider" "$tmp/litellm.out" \
   && [ "$(header litellm provider)" = "provider: litellm" ] && [ "$(header litellm model)" = "model: qwen3-coder" ]; then
  pass "codex-litellm-uses-litellm.toml-defaults"
else
  fail "codex-litellm-uses-litellm.toml-defaults" "exit $(cat "$tmp/litellm.status"), $(header litellm model), $(header litellm provider): $(tail -n 3 "$tmp/litellm.err" | tr '\n' ' ')"
fi

run_litellm deepseek "$tmp/home" -c model_provider=deepseek -m deepseek-chat \
  -c "model_providers.deepseek.base_url=\"$base_url\"" exec --skip-git-repo-check "hello"
if [ "$(cat "$tmp/deepseek.status")" = 0 ] && grep -q "via the deepseek provider" "$tmp/deepseek.out"; then
  pass "codex-litellm-chat-provider-listed-in-litellm.toml"
else
  fail "codex-litellm-chat-provider-listed-in-litellm.toml" "exit $(cat "$tmp/deepseek.status"): $(tail -n 3 "$tmp/deepseek.err" | tr '\n' ' ')"
fi

# 2. A CODEX_HOME of an earlier codex-litellm: its settings move out of config.toml, once.
mkdir -p "$tmp/legacy-home"
cp "$repo/patches/crates/litellm-runtime/src/testdata/legacy-config.toml" "$tmp/legacy-home/config.toml"
run_litellm migrate "$tmp/legacy-home" exec --skip-git-repo-check "hello"
run_litellm migrate-again "$tmp/legacy-home" exec --skip-git-repo-check "hello"
if [ "$(cat "$tmp/migrate.status")" = 0 ] && grep -q "moved its settings from config.toml" "$tmp/migrate.err" \
   && [ -f "$tmp/legacy-home/litellm.toml" ] && ! grep -qE '^\[litellm|litellm_bridge\]' "$tmp/legacy-home/config.toml" \
   && ! grep -q "moved its settings" "$tmp/migrate-again.err"; then
  pass "codex-litellm-moves-legacy-settings-once"
else
  fail "codex-litellm-moves-legacy-settings-once" "exit $(cat "$tmp/migrate.status"): $(grep -v '^$' "$tmp/migrate.err" | head -n 3 | tr '\n' ' ')"
fi

# 3. Each stock codex: baseline, the documented home, the migrated home, the patched binary
# under the name `codex`.
ln -s "$litellm_bin" "$tmp/codex"
first_tag=""
for stock_bin in "${stock_bins[@]}"; do
  version=$("$stock_bin" --version 2>/dev/null | awk '{print $NF}' || true)
  tag=${version:-$(basename "$(dirname "$stock_bin")")}
  first_tag=${first_tag:-$tag}
  run_stock "baseline-$tag" "$tmp/pristine-home" "$stock_bin"
  if [ -s "$tmp/baseline-$tag.config" ] && [ "$(config_status "baseline-$tag")" != fail ]; then
    pass "stock-$tag-baseline (model $(field "baseline-$tag" model), provider $(field "baseline-$tag" 'model provider'))"
  else
    fail "stock-$tag-baseline" "stock codex does not load even an empty config: $(tail -n 3 "$tmp/baseline-$tag.err" | tr '\n' ' ')"
  fi
  run_stock "configured-$tag" "$tmp/home" "$stock_bin"
  check_stock_run "configured-$tag" "stock-$tag-reads-documented-config-quietly" "baseline-$tag"
  run_stock "migrated-$tag" "$tmp/legacy-home" "$stock_bin"
  check_stock_run "migrated-$tag" "stock-$tag-quiet-after-migration" "baseline-$tag"
  # Control: the warning this design avoids is real for this release.
  mkdir -p "$tmp/legacy-control-$tag"
  cp "$repo/patches/crates/litellm-runtime/src/testdata/legacy-config.toml" "$tmp/legacy-control-$tag/config.toml"
  run_stock "legacy-$tag" "$tmp/legacy-control-$tag" "$stock_bin"
  if [ -n "$(our_warnings "legacy-$tag")" ]; then
    echo "note stock-$tag on an unmigrated legacy config.toml: $(our_warnings "legacy-$tag" | head -n 1)"
  else
    echo "note stock-$tag stays silent on an unmigrated legacy config.toml"
  fi
done
run_stock renamed "$tmp/home" "$tmp/codex"
# The patched binary is built on the first (pinned) release.
check_stock_run renamed "patched-binary-run-as-codex-is-stock" "baseline-$first_tag"

# 4. Control: stock refuses wire_api = "chat" (why it may never be written to config.toml).
mkdir -p "$tmp/chat-home"
printf '[model_providers.x]\nname = "x"\nbase_url = "http://127.0.0.1:1/v1"\nwire_api = "chat"\n' > "$tmp/chat-home/config.toml"
control_status=0
(cd "$tmp/ws" && CODEX_HOME="$tmp/chat-home" timeout 120 "${stock_bins[0]}" features list \
  </dev/null >/dev/null 2>"$tmp/control.err") || control_status=$?
if [ "$control_status" != 0 ] && grep -q "wire_api" "$tmp/control.err"; then
  pass "control-stock-refuses-wire_api-chat"
else
  fail "control-stock-refuses-wire_api-chat" "stock codex accepted wire_api = \"chat\" (exit $control_status); this check cannot prove anything"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
