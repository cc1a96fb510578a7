#!/usr/bin/env bash
# Usage: scripts/fault-matrix.sh --codex-litellm BIN [--stock BIN] [options]
#
# The fault matrix (tests/e2e/tests/faults.rs, one test per fault kind): 429 with and
# without Retry-After, 500/502/503, connection refused, a stream reset at a random byte
# offset (fixed seed), a cut close-delimited stream, an idle stall, an error object in a 200
# stream, a malformed chunk, invalid UTF-8, an answer over the size cap, a slow trickle.
# N bounded turns of `codex exec`, each with one tool call, against the mock server on
# loopback, for each client:
#   litellm-direct      codex-litellm -> mock (chat)
#   litellm-via-proxy   codex-litellm -> LiteLLM /v1/chat/completions -> mock
#   stock-via-proxy     stock Codex -> LiteLLM /v1/responses -> mock (chat), with --stock
# Prints a table: completed, failed with a clear error, wrong answer, hung, panicked, tool
# run twice, half arguments, rollout JSONL valid. Exit status 1 when a must-be-zero column
# (hung, panicked, tool twice, half arguments, invalid rollout) is not zero.
# The LiteLLM proxy comes from scripts/litellm-proxy.sh (installed on first use).
#
#   --codex-litellm BIN  a codex-litellm binary
#   --stock BIN          a stock codex binary of the same upstream tag
#   --direct-only        only litellm-direct (no LiteLLM proxy)
#   --kinds LIST         fault kinds, comma-separated (default: all)
#   --turns N            turns per kind and client (default 3)
#   --keep               keep the work directories (CODEX_HOMEs, outputs)
#   -h, --help           this text
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
export CODEX_LITELLM_E2E_VIA_LITELLM=1
filters=()
while (($#)); do
  case $1 in
    --codex-litellm) CODEX_LITELLM_BIN=$(abspath "${2:?--codex-litellm needs a path}"); export CODEX_LITELLM_BIN; shift 2 ;;
    --stock) CODEX_STOCK_BIN=$(abspath "${2:?--stock needs a path}"); export CODEX_STOCK_BIN; shift 2 ;;
    --direct-only) export CODEX_LITELLM_E2E_VIA_LITELLM=0; shift ;;
    --kinds) IFS=, read -r -a kinds <<<"${2:?--kinds needs a list}"; for k in "${kinds[@]}"; do filters+=("fault_${k//-/_}"); done; shift 2 ;;
    --turns) [[ ${2:-} =~ ^[1-9][0-9]?$ ]] || die "--turns must be 1..99"; export CODEX_LITELLM_E2E_TURNS=$2; shift 2 ;;
    --keep) export CODEX_LITELLM_E2E_KEEP=1; shift ;;
    -h | --help) usage_from_header "$0"; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done
[[ -n ${CODEX_LITELLM_BIN:-} ]] || die "give --codex-litellm BIN (see --help)"
cd "$CL_ROOT"
cargo test --locked -p codex-litellm-e2e --test faults -- "${filters[@]}" || exit 1
