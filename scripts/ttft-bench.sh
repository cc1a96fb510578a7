#!/usr/bin/env bash
# Usage: scripts/ttft-bench.sh --stock BIN --codex-litellm BIN [options]
#
# Time to the first visible delta (the first reasoning or agent-message event of
# `codex exec --json`) and total time of one answer, side by side in one run on the same
# mock content streamed at the same rate (tests/e2e/tests/benches.rs, time_to_first_delta):
#   stock     stock Codex -> the mock's Responses API (the floor)
#   buffered  codex-litellm, [providers.litellm.bridge] mode = "buffered" -> the mock's chat API
#   live      codex-litellm, mode = "live" (the default)
# interleaved run by run; prints medians and their ratios to the floor's.
#
#   --stock BIN            stock codex binary
#   --codex-litellm BIN    codex-litellm binary
#   --runs N               measured runs per variant (default 5), after one warm-up
#   --delta-chars N        characters per chunk (default 4)
#   --chunk-delay-ms N     pause between chunks (default 25, about 40 tokens/s)
#   -h, --help             this text
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
while (($#)); do
  case $1 in
    --stock) CODEX_STOCK_BIN=$(abspath "${2:?--stock needs a path}"); export CODEX_STOCK_BIN; shift 2 ;;
    --codex-litellm) CODEX_LITELLM_BIN=$(abspath "${2:?--codex-litellm needs a path}"); export CODEX_LITELLM_BIN; shift 2 ;;
    --runs) export CODEX_LITELLM_E2E_BENCH_TURNS=${2:?--runs needs a number}; shift 2 ;;
    --delta-chars) export CODEX_LITELLM_E2E_DELTA_CHARS=${2:?--delta-chars needs a number}; shift 2 ;;
    --chunk-delay-ms) export CODEX_LITELLM_E2E_CHUNK_DELAY_MS=${2:?--chunk-delay-ms needs a number}; shift 2 ;;
    -h | --help) usage_from_header "$0"; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done
[[ -n ${CODEX_STOCK_BIN:-} && -n ${CODEX_LITELLM_BIN:-} ]] || die "give --stock BIN and --codex-litellm BIN (see --help)"
cd "$CL_ROOT"
cargo test --locked -p codex-litellm-e2e --test benches -- --ignored --exact time_to_first_delta || exit 1
