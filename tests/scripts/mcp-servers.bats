#!/usr/bin/env bats
# scripts/mcp-servers.sh: the real MCP servers of tests/e2e/tests/mcp.rs, installed with
# npm ci from the pinned lock file, reused while it matches, and spoken to over stdio.

load helpers

SCRIPT=$REPO_ROOT/scripts/mcp-servers.sh

setup() {
  export CODEX_LITELLM_MCP_DIR=$BATS_TEST_TMPDIR/mcp
}

@test "mcp-servers: usage errors and 'paths' before an install" {
  run "$SCRIPT" nope
  assert_failure
  assert_output_has "unknown command: nope"
  run "$SCRIPT" paths
  assert_failure
  assert_output_has "not installed in $BATS_TEST_TMPDIR/mcp" "run: scripts/mcp-servers.sh install"
}

@test "mcp-servers: install, reuse, and the filesystem server answers tools/list" {
  command -v npm >/dev/null || skip "npm is not installed"
  # The copy scripts/install-test-tools.sh made, so this test does not reach the registry.
  if [[ -d $REPO_ROOT/work/mcp-servers/node_modules ]]; then
    cp -R "$REPO_ROOT/work/mcp-servers" "$CODEX_LITELLM_MCP_DIR"
  fi
  run "$SCRIPT" install
  assert_success
  fs=$(sed -n 's/^MCP_FILESYSTEM=//p' <<<"$output")
  [[ -f $fs ]]
  run "$SCRIPT" install
  assert_success
  [[ $output != *"installing"* ]] || { echo "installed again: $output" >&2; false; }
  mkdir -p "$BATS_TEST_TMPDIR/ws"
  requests='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"bats","version":"1"}}}
{"jsonrpc":"2.0","method":"notifications/initialized"}
{"jsonrpc":"2.0","id":2,"method":"tools/list"}'
  run timeout 20 bash -c "{ printf '%s\n' \"\$0\"; sleep 2; } | node '$fs' '$BATS_TEST_TMPDIR/ws'" "$requests"
  assert_output_has '"name":"write_file"' '"name":"read_text_file"'
}
