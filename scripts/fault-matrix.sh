#!/usr/bin/env bash
# Usage: scripts/fault-matrix.sh [--codex-litellm BIN] [--stock BIN] [options]
#
# The fault matrix: for each fault kind (429 with and without Retry-After, 500/502/503,
# connection refused, a stream reset at a random byte offset (fixed seed), a cut
# close-delimited stream, an idle stall, an error object in a 200 stream, a malformed
# chunk, invalid UTF-8, an answer over the size cap, a slow trickle), N bounded turns of
# `codex exec`, each with one tool call, against the mock server (tests/mock-llm) on
# loopback, for each client:
#   litellm-direct      codex-litellm -> mock (chat)
#   litellm-via-proxy   codex-litellm -> LiteLLM /v1/chat/completions -> mock
#   stock-via-proxy     stock Codex -> LiteLLM /v1/responses -> mock (chat)
# Prints a table: completed, failed with a clear error, wrong answer, hung, panicked, tool
# run twice, half arguments, rollout JSONL valid. Exit status 1 when a must-be-zero column
# (hung, panicked, tool twice, half arguments, invalid rollout) is not zero.
# The LiteLLM proxy comes from scripts/litellm-proxy.sh (installed on first use).
#
#   --codex-litellm BIN  a codex-litellm binary
#   --stock BIN          a stock codex binary of the same upstream tag
#   --clients LIST       which clients (default: both litellm-* with --codex-litellm,
#                        stock-via-proxy with --stock)
#   --kinds LIST         fault kinds (default: all)
#   --turns N            turns per kind and client (default 3)
#   --turn-timeout SECS  a turn that takes longer counts as hung (default 120)
#   --seed N             seed of the random cut offsets (default 11)
#   --json FILE          every turn's outcome as JSON
#   --keep               keep the work directory (CODEX_HOMEs, outputs, mock recordings)
#   -h, --help           this text
#
# Environment: MOCK_LLM (default target/debug/mock-llm, built when missing).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
case ${1:-} in
  -h | --help) usage_from_header "$0"; exit 0 ;;
esac
exec python3 "$CL_SCRIPTS/harness/fault_matrix.py" "$@"
