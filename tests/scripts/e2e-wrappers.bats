#!/usr/bin/env bats
# The end-to-end scripts are thin wrappers around `cargo test -p codex-litellm-e2e`
# (tests/e2e): they answer --help, reject bad arguments with exit 2 or a clear error, and
# map their options onto the test target, filters and CODEX_LITELLM_E2E_* variables. A fake
# `cargo` on PATH prints what it was asked; the tests themselves live in tests/e2e.

load helpers

setup() {
  mkdir -p "$BATS_TEST_TMPDIR/bin"
  cat >"$BATS_TEST_TMPDIR/bin/cargo" <<'EOF2'
#!/usr/bin/env bash
echo "cargo $* | bin=${CODEX_LITELLM_BIN:-} stock=${CODEX_STOCK_BIN:-} new=${CODEX_STOCK_NEW_BIN:-} via=${CODEX_LITELLM_E2E_VIA_LITELLM:-} keep=${CODEX_LITELLM_E2E_KEEP:-} timeout=${CODEX_LITELLM_E2E_TIMEOUT:-} turns=${CODEX_LITELLM_E2E_TURNS:-}"
exit "${FAKE_CARGO_STATUS:-0}"
EOF2
  chmod +x "$BATS_TEST_TMPDIR/bin/cargo"
  PATH=$BATS_TEST_TMPDIR/bin:$PATH
  FAKE_BIN=$BATS_TEST_TMPDIR/codex-litellm
  printf '#!/bin/sh\n' >"$FAKE_BIN"
  chmod +x "$FAKE_BIN"
}

@test "e2e wrappers: --help answers" {
  for s in smoke side-by-side shared-home fault-matrix overhead-bench ttft-bench; do
    run "$SCRIPTS/$s.sh" --help
    [ "$status" -eq 0 ]
    [[ $output == "Usage: scripts/$s.sh"* ]]
  done
}

@test "smoke: --list names the scenario files; --only selects by prefix and maps to a filter" {
  run "$SCRIPTS/smoke.sh" --list
  [ "$status" -eq 0 ]
  files=("$REPO_ROOT"/tests/smoke/[0-9]*.json)
  [ "${#lines[@]}" -eq "${#files[@]}" ]
  run "$SCRIPTS/smoke.sh" --list --only 06,10
  [ "$output" = $'06a-retry-429\n06b-retry-500\n06c-retry-stream-cut\n10-resume' ]
  run "$SCRIPTS/smoke.sh" --only 06 --via-litellm --keep --timeout 30 "$FAKE_BIN"
  [ "$status" -eq 0 ]
  [[ $output == *"cargo test --locked -p codex-litellm-e2e --test smoke -- smoke_06 | bin=$FAKE_BIN "*"via=1 keep=1 timeout=30"* ]]
}

@test "smoke: usage errors exit 2; a failed test exits 1" {
  run "$SCRIPTS/smoke.sh"
  [ "$status" -eq 2 ]
  [[ $output == *"missing the path"* ]]
  run "$SCRIPTS/smoke.sh" --only 99 "$FAKE_BIN"
  [ "$status" -eq 2 ]
  [[ $output == *"no scenario named '99'"* ]]
  run "$SCRIPTS/smoke.sh" --timeout 0 "$FAKE_BIN"
  [ "$status" -eq 2 ]
  run "$SCRIPTS/smoke.sh" "$BATS_TEST_TMPDIR/missing"
  [ "$status" -eq 2 ]
  FAKE_CARGO_STATUS=101 run "$SCRIPTS/smoke.sh" "$FAKE_BIN"
  [ "$status" -eq 1 ]
}

@test "side-by-side, shared-home, fault-matrix: binaries and options reach the tests" {
  run "$SCRIPTS/side-by-side.sh" "$FAKE_BIN"
  [ "$status" -eq 2 ]
  run "$SCRIPTS/side-by-side.sh" "$FAKE_BIN" "$FAKE_BIN" "$FAKE_BIN"
  [[ $output == *"--test side_by_side | bin=$FAKE_BIN stock=$FAKE_BIN new=$FAKE_BIN"* ]]
  run "$SCRIPTS/shared-home.sh" "$FAKE_BIN" "$FAKE_BIN"
  [[ $output == *"--test shared_home | bin=$FAKE_BIN stock= new=$FAKE_BIN"* ]]
  run "$SCRIPTS/fault-matrix.sh" --codex-litellm "$FAKE_BIN" --kinds 500,cut-close --turns 2
  [[ $output == *"--test faults -- fault_500 fault_cut_close | bin=$FAKE_BIN "*"via=1 "*"turns=2"* ]]
  run "$SCRIPTS/fault-matrix.sh" --turns 0
  [ "$status" -ne 0 ]
  run "$SCRIPTS/overhead-bench.sh" --stock "$FAKE_BIN" --codex-litellm "$FAKE_BIN" --memory --no-proxy
  [[ $output == *"--test benches -- --ignored --exact peak_memory | "*"via=0 "* ]]
}
