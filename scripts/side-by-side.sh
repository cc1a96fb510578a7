#!/usr/bin/env bash
# Usage: scripts/side-by-side.sh CODEX_LITELLM STOCK_CODEX [STOCK_CODEX_NEWEST]
#
# Side-by-side safety (tests/e2e/tests/side_by_side.rs): codex-litellm configured exactly as
# docs/examples/ says (config.toml plus litellm.toml), and each stock `codex` sharing that
# CODEX_HOME still loads it with its own default model and provider and prints no warning
# about our settings; a CODEX_HOME of an earlier codex-litellm is moved once, then quiet.
#
#   CODEX_LITELLM       a built codex-litellm binary (e.g. dist/codex-litellm)
#   STOCK_CODEX         the pinned stock release, e.g. .../0.148.0/.../bin/codex
#   STOCK_CODEX_NEWEST  the newest stock release (its three checks skip without it)
#
# Runs CODEX_LITELLM_BIN=.. CODEX_STOCK_BIN=.. CODEX_STOCK_NEW_BIN=..
# cargo test -p codex-litellm-e2e --test side_by_side: one line per check, exit 1 if one failed.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
case ${1:-} in -h | --help) usage_from_header "$0"; exit 0 ;; esac
(($# == 2 || $# == 3)) || { usage_from_header "$0" >&2; exit 2; }
for bin in "$@"; do [[ -x $bin ]] || { echo "error: $bin is not an executable" >&2; exit 2; }; done
CODEX_LITELLM_BIN=$(abspath "$1") CODEX_STOCK_BIN=$(abspath "$2") CODEX_STOCK_NEW_BIN=${3:+$(abspath "$3")}
export CODEX_LITELLM_BIN CODEX_STOCK_BIN CODEX_STOCK_NEW_BIN
cd "$CL_ROOT"
cargo test --locked -p codex-litellm-e2e --test side_by_side || exit 1
