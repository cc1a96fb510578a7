#!/usr/bin/env bats
# scripts/side-by-side.sh's own logic, without builds: fake stock `codex` binaries (which
# answer `doctor --json` like 0.148/0.171 do, warnings included, and refuse wire_api =
# "chat" in `features list`) and a fake codex-litellm. The real run, with dist/codex-litellm
# and the stock releases, is the lead's: scripts/side-by-side.sh CODEX_LITELLM STOCK...

load helpers

SIDE_BY_SIDE=$REPO_ROOT/scripts/side-by-side.sh

setup_file() {
  local mock=${MOCK_LLM:-${CARGO_TARGET_DIR:-$REPO_ROOT/target}/debug/mock-llm}
  if [[ ! -x $mock ]] && command -v cargo >/dev/null; then
    (cd "$REPO_ROOT" && cargo build -q -p codex-litellm-mock-llm) >&2 || true
  fi
  if [[ -x $mock ]]; then
    export MOCK_LLM=$mock
  else
    export MOCK_LLM=''
  fi
}

setup() {
  [[ -n $MOCK_LLM ]] || skip "mock-llm is not built"
  export SIDE_BY_SIDE_TMPDIR=$BATS_TEST_TMPDIR
  STOCK=$BATS_TEST_TMPDIR/stock/codex
  mkdir -p "$(dirname "$STOCK")"
  # A stand-in for stock codex: like 0.171, warns about tables it does not know.
  cat >"$STOCK" <<'EOF'
#!/usr/bin/env bash
config=$CODEX_HOME/config.toml
case "$*" in
  --version) echo "codex-cli 9.9.9" ;;
  "features list")
    if grep -q 'wire_api = "chat"' "$config" 2>/dev/null; then
      echo 'Error: `wire_api = "chat"` is no longer supported.' >&2; exit 1
    fi ;;
  "doctor --json")
    warning=""
    if [[ -n ${FAKE_ALWAYS_WARN:-} ]] || grep -qE '^\[litellm|litellm_bridge\]' "$config" 2>/dev/null; then
      warning='        "startup warning": "Codex is ignoring 1 unrecognized configuration settings.\n  user: `litellm` is ignored.",'
    fi
    model=${FAKE_MODEL:-<default>}
    [[ -n ${FAKE_MODEL_FROM_CONFIG:-} && -f $config ]] && model=from-config
    cat <<JSON
{
  "checks": {
    "config.load": {
      "id": "config.load",
      "status": "ok",
      "details": {
$warning
        "model": "$model",
        "model provider": "openai"
      }
    },
    "network.provider_reachability": {
      "status": "fail"
    }
  }
}
JSON
    exit 1 ;;
  *) echo "fake stock: $*" >&2; exit 3 ;;
esac
EOF
  FAKE_LITELLM=$BATS_TEST_TMPDIR/bin/codex-litellm
  mkdir -p "$(dirname "$FAKE_LITELLM")"
  # A stand-in for codex-litellm: run as `codex` it is the fake stock.
  cat >"$FAKE_LITELLM" <<EOF
#!/usr/bin/env bash
if [[ \$(basename "\$0") == codex ]]; then exec "$STOCK" "\$@"; fi
config=\$CODEX_HOME/config.toml
if grep -q '^\[litellm' "\$config" 2>/dev/null; then
  cp "$REPO_ROOT/docs/examples/config.toml" "\$config"
  : >"\$CODEX_HOME/litellm.toml"
  echo "codex-litellm: moved its settings from config.toml to litellm.toml" >&2
fi
echo "provider: \$([[ "\$*" == *model_provider=deepseek* ]] && echo deepseek || echo litellm)" >&2
echo "model: \$([[ "\$*" == *deepseek-chat* ]] && echo deepseek-chat || echo qwen3-coder)" >&2
if [[ "\$*" == *deepseek* ]]; then echo "codex-litellm via the deepseek provider"; else echo "codex-litellm via the litellm provider"; fi
EOF
  chmod +x "$STOCK" "$FAKE_LITELLM"
}

@test "side-by-side: --help and usage errors" {
  run "$SIDE_BY_SIDE" --help
  [ "$status" -eq 0 ]
  [[ $output == *"STOCK_CODEX [STOCK_CODEX ...]"* ]]
  run "$SIDE_BY_SIDE" "$FAKE_LITELLM"
  [ "$status" -eq 2 ]
  run "$SIDE_BY_SIDE" "$FAKE_LITELLM" "$BATS_TEST_TMPDIR/missing"
  [ "$status" -eq 2 ]
  [[ $output == *"is not an executable"* ]]
}

@test "side-by-side: passes when stock stays quiet and keeps its defaults, for every stock given" {
  run "$SIDE_BY_SIDE" "$FAKE_LITELLM" "$STOCK" "$STOCK"
  echo "$output"
  [ "$status" -eq 0 ]
  [[ $output == *"PASS stock-9.9.9-reads-documented-config-quietly"* ]]
  [[ $output == *"PASS stock-9.9.9-quiet-after-migration"* ]]
  [[ $output == *"PASS codex-litellm-moves-legacy-settings-once"* ]]
  [[ $output == *"note stock-9.9.9 on an unmigrated legacy config.toml"* ]]
  [[ $output == *"PASS control-stock-refuses-wire_api-chat"* ]]
  [[ $output == *" 0 failed"* ]]
  # Nothing is left behind.
  [ -z "$(find "$BATS_TEST_TMPDIR" -maxdepth 1 -name 'side-by-side.*')" ]
}

@test "side-by-side: any stock warning about our settings fails" {
  FAKE_ALWAYS_WARN=1 run "$SIDE_BY_SIDE" "$FAKE_LITELLM" "$STOCK"
  echo "$output"
  [ "$status" -eq 1 ]
  [[ $output == *"FAIL stock-9.9.9-reads-documented-config-quietly: stock codex warns about our settings"* ]]
  [[ $output == *"is ignored"* ]]
}

@test "side-by-side: stock defaults changed by our config fail" {
  FAKE_MODEL_FROM_CONFIG=1 run "$SIDE_BY_SIDE" "$FAKE_LITELLM" "$STOCK"
  echo "$output"
  [ "$status" -eq 1 ]
  [[ $output == *"FAIL stock-9.9.9-reads-documented-config-quietly: defaults changed"* ]]
}
