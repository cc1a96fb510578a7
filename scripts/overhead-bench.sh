#!/usr/bin/env bash
# Usage: scripts/overhead-bench.sh --stock BIN --codex-litellm BIN [options]
#
# Per-turn overhead, side by side in one run on the same mock content (tests/mock-llm on
# loopback; tests/e2e/tests/benches.rs, overhead_per_turn): one `codex exec` turn = one tool
# call and a 1 KB answer, for each client
#   stock-direct        stock Codex -> the mock's Responses API (the floor)
#   litellm-direct      codex-litellm -> the mock's chat API
#   stock-via-proxy     stock Codex -> LiteLLM /v1/responses -> the mock's chat API
#   litellm-via-proxy   codex-litellm -> LiteLLM /v1/chat/completions -> the mock
# interleaved turn by turn; prints the median, min and max seconds per turn and the
# ratio of each median to the floor's.
# With --memory instead (peak_memory): the peak RSS of one turn with a 50 MB answer and of
# one with a 50 MB history (prompt), and for codex-litellm the 50 MB answer against a 25 MB
# max_response_bytes cap (must fail with a clear error).
#
#   --stock BIN          stock codex binary
#   --codex-litellm BIN  codex-litellm binary
#   --no-proxy           only the direct clients (no LiteLLM proxy)
#   --turns N            measured turns per client (default 10), after one warm-up
#   --memory             the memory cases instead; --memory-mb N sets the size (default 50)
#   -h, --help           this text
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
export CODEX_LITELLM_E2E_VIA_LITELLM=1
bench=overhead_per_turn
while (($#)); do
  case $1 in
    --stock) CODEX_STOCK_BIN=$(abspath "${2:?--stock needs a path}"); export CODEX_STOCK_BIN; shift 2 ;;
    --codex-litellm) CODEX_LITELLM_BIN=$(abspath "${2:?--codex-litellm needs a path}"); export CODEX_LITELLM_BIN; shift 2 ;;
    --no-proxy) export CODEX_LITELLM_E2E_VIA_LITELLM=0; shift ;;
    --turns) export CODEX_LITELLM_E2E_BENCH_TURNS=${2:?--turns needs a number}; shift 2 ;;
    --memory) bench=peak_memory; shift ;;
    --memory-mb) export CODEX_LITELLM_E2E_BENCH_MB=${2:?--memory-mb needs a number}; shift 2 ;;
    -h | --help) usage_from_header "$0"; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done
[[ -n ${CODEX_STOCK_BIN:-} && -n ${CODEX_LITELLM_BIN:-} ]] || die "give --stock BIN and --codex-litellm BIN (see --help)"
cd "$CL_ROOT"
cargo test --locked -p codex-litellm-e2e --test benches -- --ignored --exact "$bench" || exit 1
