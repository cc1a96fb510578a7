#!/usr/bin/env bash
# Usage: scripts/shared-home.sh [--keep] CODEX_LITELLM STOCK_CODEX
#
# codex-litellm and a stock `codex` (e.g. the newest release from the npm registry) on ONE
# CODEX_HOME, as users run them: the stock binary talks Responses to a mock provider named
# in config.toml, codex-litellm talks Chat Completions to the same mock through its built-in
# `litellm` provider (the mock serves both APIs). Checks, one PASS/FAIL line each:
#   - each binary starts and answers on the shared home;
#   - stock prints no warning about codex-litellm's settings;
#   - codex-litellm resumes the session stock made, and stock resumes the one codex-litellm
#     made (both sessions are in one list);
#   - neither rewrites config.toml into something the other refuses (each run after the
#     other's still starts).
# Needs the mock server (built with cargo when missing). Everything stays on 127.0.0.1.
#
#   --keep       keep the temporary CODEX_HOME and logs (printed at the end)
#   -h, --help   this text
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

keep=''
while (($#)); do
  case $1 in
    --keep) keep=1; shift ;;
    -h | --help) usage_from_header "$0"; exit 0 ;;
    -*) die "unknown option: $1 (see --help)" ;;
    *) break ;;
  esac
done
(($# == 2)) || die "usage: scripts/shared-home.sh [--keep] CODEX_LITELLM STOCK_CODEX"
litellm_bin=$(abspath "$1") stock_bin=$(abspath "$2")
for b in "$litellm_bin" "$stock_bin"; do
  [[ -x $b ]] || die "not an executable: $b"
done

mock=${CODEX_LITELLM_MOCK_LLM:-$CL_ROOT/target/debug/mock-llm}
if [[ ! -x $mock ]]; then
  step "building mock-llm"
  (cd "$CL_ROOT" && cargo build -q -p codex-litellm-mock-llm --bin mock-llm)
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/codex-litellm-shared-home.XXXXXX")
# Release builds of Codex refuse helper links in a CODEX_HOME under the system temp folder.
codex_tmp=$tmp/codex-tmp
mkdir -p "$codex_tmp"
mock_pid=''
cleanup() {
  [[ -z $mock_pid ]] || kill "$mock_pid" 2>/dev/null || true
  if [[ -n $keep ]]; then info "kept: $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT

home=$tmp/codex-home work=$tmp/work
mkdir -p "$home" "$work"
cat >"$tmp/scenario.json" <<'EOF'
{
  "comment": "one answer for every request, chat or Responses",
  "responses_api": true,
  "models": ["mock-model"],
  "fallback": {"text": "shared-home answer"}
}
EOF
"$mock" --scenario "$tmp/scenario.json" --port-file "$tmp/port" --record "$tmp/requests.jsonl" \
  --quiet --exit-with-parent &
mock_pid=$!
for _ in $(seq 100); do [[ -s $tmp/port ]] && break; sleep 0.1; done
[[ -s $tmp/port ]] || die "mock-llm did not start"
port=$(<"$tmp/port")

# The shared config.toml: the stock user's own provider, and a [model_providers.litellm]
# table for the gateway. codex-litellm merges that table over its built-in `litellm`
# provider; stock codex needs it to resume a session codex-litellm made (a session names
# its provider, and stock refuses "litellm" when no table defines it), and then talks the
# gateway's own /responses API.
cat >"$home/config.toml" <<EOF
model = "mock-model"
model_provider = "mock-responses"

[model_providers.mock-responses]
name = "Mock (Responses)"
base_url = "http://127.0.0.1:$port/v1"
env_key = "SHARED_HOME_KEY"

[model_providers.litellm]
name = "LiteLLM"
base_url = "http://127.0.0.1:$port/v1"
env_key = "LITELLM_API_KEY"
EOF

passed=0 failed=0
result() { # result NAME OK DETAIL
  if [[ $2 == 1 ]]; then
    printf 'PASS %s\n' "$1"; passed=$((passed + 1))
  else
    printf 'FAIL %s: %s\n' "$1" "$3"; failed=$((failed + 1))
  fi
}

# run NAME BIN ARGS...: exec in the shared home; stdout (JSON events) and stderr kept.
run() {
  local name=$1 bin=$2
  shift 2
  (cd "$work" && env -u OPENAI_API_KEY -u CODEX_API_KEY -u OPENAI_BASE_URL \
    TMPDIR="$codex_tmp" CODEX_HOME="$home" SHARED_HOME_KEY=sk-shared-home LITELLM_API_KEY=sk-shared-home \
    LITELLM_BASE_URL="http://127.0.0.1:$port/v1" LITELLM_MODEL=mock-model \
    NO_PROXY=127.0.0.1 no_proxy=127.0.0.1 \
    timeout 120 "$bin" "$@" </dev/null >"$tmp/$name.out" 2>"$tmp/$name.err") && echo 0 || echo $?
}

# thread id of an exec --json run
thread_of() { sed -n 's/.*"thread_id":"\([^"]*\)".*/\1/p' "$tmp/$1.out" | head -n 1; }
answered() { grep -q 'shared-home answer' "$tmp/$1.out"; }
config_sum() { sha256sum "$home/config.toml" | cut -d' ' -f1; }
our_setting_warnings() { grep -Ei 'unrecognized configuration|litellm.* is ignored|litellm_bridge' "$tmp/$1.err" || true; }

common=(exec --json --skip-git-repo-check)
step "stock first ($("$stock_bin" --version 2>/dev/null | head -n 1))"
rc=$(run stock1 "$stock_bin" "${common[@]}" "stock says hello")
result stock-starts-on-shared-home "$([[ $rc == 0 ]] && answered stock1 && echo 1)" "exit $rc: $(tail -n 3 "$tmp/stock1.err")"
stock_thread=$(thread_of stock1)
before=$(config_sum)

step "codex-litellm ($("$litellm_bin" --version 2>/dev/null | head -n 1))"
rc=$(run litellm1 "$litellm_bin" "${common[@]}" "codex-litellm says hello")
result codex-litellm-starts-on-shared-home "$([[ $rc == 0 ]] && answered litellm1 && echo 1)" "exit $rc: $(tail -n 3 "$tmp/litellm1.err")"
litellm_thread=$(thread_of litellm1)
grep -q '"/v1/chat/completions"\|/v1/chat/completions' "$tmp/requests.jsonl" &&
  chat_seen=1 || chat_seen=''
result codex-litellm-used-chat-completions "$chat_seen" "no /v1/chat/completions request reached the mock"

rc=$(run stock2 "$stock_bin" "${common[@]}" "stock again")
warn=$(our_setting_warnings stock2)
result stock-starts-after-codex-litellm "$([[ $rc == 0 ]] && answered stock2 && echo 1)" "exit $rc: $(tail -n 3 "$tmp/stock2.err")"
result stock-prints-no-warning-about-our-settings "$([[ -z $warn ]] && echo 1)" "$warn"
after=$(config_sum)
result config-toml-not-rewritten "$([[ $before == "$after" ]] && echo 1)" \
  "config.toml changed: $(diff <(echo) "$home/config.toml" | head -n 5)"

if [[ -n $stock_thread ]]; then
  rc=$(run litellm-resume "$litellm_bin" "${common[@]}" resume "$stock_thread" "codex-litellm continues stock's session")
  result codex-litellm-resumes-stocks-session "$([[ $rc == 0 ]] && answered litellm-resume && echo 1)" \
    "exit $rc: $(tail -n 3 "$tmp/litellm-resume.err")"
else
  result codex-litellm-resumes-stocks-session '' "stock printed no thread id"
fi
if [[ -n $litellm_thread ]]; then
  # Stock keeps a thread on the provider it was made with and will not switch it to its
  # own default on resume ("Cannot change this thread's model provider"): name it.
  rc=$(run stock-resume "$stock_bin" "${common[@]}" -c model_provider=litellm resume "$litellm_thread" \
    "stock continues codex-litellm's session")
  result stock-resumes-codex-litellms-session "$([[ $rc == 0 ]] && answered stock-resume && echo 1)" \
    "exit $rc: $(tail -n 3 "$tmp/stock-resume.err")"
else
  result stock-resumes-codex-litellms-session '' "codex-litellm printed no thread id"
fi
sessions=$(find "$home/sessions" -name 'rollout-*.jsonl' 2>/dev/null | wc -l)
result one-session-list "$([[ $sessions -ge 2 ]] && echo 1)" "$sessions rollout file(s) under sessions/"

printf '%s passed, %s failed\n' "$passed" "$failed"
((failed == 0))
