#!/usr/bin/env bash
# Usage: scripts/ttft-bench.sh --stock BIN [--codex-litellm BIN] [options]
#
# Time to the first visible delta (the first reasoning or agent-message event of
# `codex exec --json`) and total time of one answer, side by side in one run on the same
# mock content streamed at the same rate (tests/mock-llm on loopback):
#   stock     stock Codex -> the mock's Responses API (the floor)
#   buffered  codex-litellm, [litellm.bridge] mode = "buffered" -> the mock's chat API
#   live      codex-litellm, mode = "live" (the default)
# interleaved run by run; prints medians and their ratios to the floor's.
#
#   --stock BIN            stock codex binary
#   --codex-litellm BIN    codex-litellm binary (without it: the floor only, to test plumbing)
#   --runs N               measured runs per variant (default 5); --warmup N (default 1)
#   --delta-chars N        characters per chunk (default 4)
#   --chunk-delay-ms N     pause between chunks (default 25, about 40 tokens/s)
#   -h, --help             this text
#
# Environment: MOCK_LLM (default target/debug/mock-llm, built when missing).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
case ${1:-} in
  -h | --help) usage_from_header "$0"; exit 0 ;;
esac
exec python3 "$CL_SCRIPTS/harness/ttft_bench.py" "$@"
