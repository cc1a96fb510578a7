#!/usr/bin/env bash
# Usage: scripts/overhead-bench.sh [--stock BIN] [--codex-litellm BIN] [options]
#
# Per-turn overhead, side by side in one run on the same mock content (tests/mock-llm on
# loopback): one `codex exec` turn = one tool call and a 1 KB answer, for each client
#   stock-direct        stock Codex -> the mock's Responses API (the floor)
#   litellm-direct      codex-litellm -> the mock's chat API
#   stock-via-proxy     stock Codex -> LiteLLM /v1/responses -> the mock's chat API
#   litellm-via-proxy   codex-litellm -> LiteLLM /v1/chat/completions -> the mock
# interleaved turn by turn; prints the median, min and max seconds per turn and the
# ratio of each median to the floor's.
# With --memory instead: the peak RSS of one turn with a 50 MB answer and of one with a
# 50 MB history (prompt), and for codex-litellm the 50 MB answer against a 25 MB
# max_response_bytes cap (must fail with a clear error).
# The LiteLLM proxy comes from scripts/litellm-proxy.sh (installed on first use).
#
#   --stock BIN          stock codex binary
#   --codex-litellm BIN  codex-litellm binary
#   --clients LIST       a subset of the clients above (default: all the binaries allow)
#   --turns N            measured turns per client (default 10); --warmup N (default 1)
#   --memory             the memory cases instead; --memory-mb N sets the size (default 50)
#   -h, --help           this text
#
# Environment: MOCK_LLM (default target/debug/mock-llm, built when missing).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
case ${1:-} in
  -h | --help) usage_from_header "$0"; exit 0 ;;
esac
exec python3 "$CL_SCRIPTS/harness/overhead_bench.py" "$@"
