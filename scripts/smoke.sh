#!/usr/bin/env bash
# Usage: scripts/smoke.sh [options] <path-to-codex-litellm>
#
# End-to-end smoke test of a built codex-litellm binary against the mock LLM server
# (tests/mock-llm): no gateway, no network. Runs the smoke scenarios of the test crate
# (tests/e2e/tests/smoke.rs, one test per tests/smoke/NN-name.json):
#   CODEX_LITELLM_BIN=<path> cargo test -p codex-litellm-e2e --test smoke
# Prints one line per scenario (test smoke_NN_name ... ok / FAILED, the reason below),
# then cargo's "test result" line. See tests/smoke/README.md.
#
#   --only NAME[,NAME]  run only these scenarios; a NAME may be a prefix ("06" runs
#                       06a, 06b and 06c); repeatable
#   --list              print the scenario names and exit
#   --keep              keep each scenario's directory (workspace, CODEX_HOME, codex
#                       output, mock recordings) and print where it is
#   --timeout SECS      limit for one codex run (default 120)
#   --via-litellm       put a real LiteLLM proxy (scripts/litellm-proxy.sh, the pinned
#                       version) between codex-litellm and the mock; the checks stay the
#                       same, so a FAIL shows where LiteLLM changes what reaches either side
#                       (see docs/TROUBLESHOOTING.md)
#   -h, --help          this text
#
# Environment: SMOKE_SANDBOX workspace-write (default) or bypass (for machines where the
# Linux sandbox cannot run); CARGO_TARGET_DIR.
# Exit status: 0 all passed, 1 a scenario failed, 2 usage error.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage_error() { printf 'error: %s (see --help)\n' "$1" >&2; exit 2; }
scenarios=("$CL_ROOT"/tests/smoke/[0-9]*.json)
scenarios=("${scenarios[@]##*/}") scenarios=("${scenarios[@]%.json}")
only=() list='' codex=''
while (($#)); do
  case $1 in
    --only) (($# >= 2)) || usage_error "--only needs a scenario name"; IFS=, read -r -a n <<<"$2"; only+=("${n[@]}"); shift 2 ;;
    --only=*) IFS=, read -r -a n <<<"${1#--only=}"; only+=("${n[@]}"); shift ;;
    --list) list=1; shift ;;
    --keep) export CODEX_LITELLM_E2E_KEEP=1; shift ;;
    --via-litellm) export CODEX_LITELLM_E2E_VIA_LITELLM=1; shift ;;
    --timeout) (($# >= 2)) || usage_error "--timeout needs a number of seconds"; export CODEX_LITELLM_E2E_TIMEOUT=$2; shift 2 ;;
    --timeout=*) export CODEX_LITELLM_E2E_TIMEOUT=${1#--timeout=}; shift ;;
    -h | --help) usage_from_header "$0"; exit 0 ;;
    -*) usage_error "unknown option: $1" ;;
    *) [[ -z $codex ]] || usage_error "only one codex-litellm path, got '$codex' and '$1'"; codex=$1; shift ;;
  esac
done
[[ ${CODEX_LITELLM_E2E_TIMEOUT:-1} =~ ^[1-9][0-9]*$ ]] || usage_error "--timeout must be a positive number of seconds"
filters=()
for pattern in "${only[@]}"; do
  printf '%s\n' "${scenarios[@]}" | grep -q "^$pattern" || usage_error "no scenario named '$pattern' (scenarios: ${scenarios[*]})"
  filters+=("smoke_${pattern//-/_}")
done
if [[ -n $list ]]; then
  for s in "${scenarios[@]}"; do
    selected=$((${#only[@]} == 0))
    for p in "${only[@]}"; do [[ $s == "$p"* ]] && selected=1; done
    ((selected)) && echo "$s"
  done
  exit 0
fi
[[ -n $codex ]] || usage_error "missing the path of the codex-litellm binary"
[[ -x $codex && ! -d $codex ]] || usage_error "not an executable file: $codex"
export CODEX_LITELLM_BIN
CODEX_LITELLM_BIN=$(abspath "$codex")
cd "$CL_ROOT"
cargo test --locked -p codex-litellm-e2e --test smoke -- "${filters[@]}" || exit 1
