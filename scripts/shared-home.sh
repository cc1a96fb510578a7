#!/usr/bin/env bash
# Usage: scripts/shared-home.sh [--keep] CODEX_LITELLM STOCK_CODEX
#
# codex-litellm and a stock `codex` (e.g. the newest release from the npm registry) on ONE
# CODEX_HOME, as users run them (tests/e2e/tests/shared_home.rs): each starts and answers,
# stock prints no warning about codex-litellm's settings, each resumes the other's session
# (both in one list), neither rewrites config.toml. One line per check, exit 1 if one failed.
# Runs CODEX_LITELLM_BIN=.. CODEX_STOCK_NEW_BIN=.. cargo test -p codex-litellm-e2e --test shared_home.
#
#   --keep       keep the temporary CODEX_HOME and logs (printed at the end)
#   -h, --help   this text
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
while (($#)); do
  case $1 in
    --keep) export CODEX_LITELLM_E2E_KEEP=1; shift ;;
    -h | --help) usage_from_header "$0"; exit 0 ;;
    -*) die "unknown option: $1 (see --help)" ;;
    *) break ;;
  esac
done
(($# == 2)) || die "usage: scripts/shared-home.sh [--keep] CODEX_LITELLM STOCK_CODEX"
for b in "$@"; do [[ -x $b ]] || die "not an executable: $b"; done
CODEX_LITELLM_BIN=$(abspath "$1") CODEX_STOCK_NEW_BIN=$(abspath "$2")
export CODEX_LITELLM_BIN CODEX_STOCK_NEW_BIN
cd "$CL_ROOT"
cargo test --locked -p codex-litellm-e2e --test shared_home || exit 1
