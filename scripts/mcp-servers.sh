#!/usr/bin/env bash
# Usage: scripts/mcp-servers.sh [install | paths]
#
# Real MCP servers from the npm registry for the end-to-end MCP scenarios
# (tests/e2e/tests/mcp.rs): @modelcontextprotocol/server-filesystem and
# @modelcontextprotocol/server-everything at the versions pinned, with every dependency, by
# tests/e2e/mcp-servers/package.json and package-lock.json. Installed with `npm ci` under
# work/mcp-servers/ (gitignored) and reused while it matches the lock file.
#
#   install   install if missing or stale (idempotent), then print the paths
#   paths     print the entry points without installing; exit 1 when not installed
#   -h, --help  this text
#
# Prints, one a line, what a config.toml's `[mcp_servers.<name>] command = "node"` needs:
#   MCP_FILESYSTEM=<dir>/node_modules/@modelcontextprotocol/server-filesystem/dist/index.js
#   MCP_EVERYTHING=<dir>/node_modules/@modelcontextprotocol/server-everything/dist/index.js
# Environment: CODEX_LITELLM_MCP_DIR (default work/mcp-servers).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

pinned=$CL_ROOT/tests/e2e/mcp-servers
dir=$(abspath "${CODEX_LITELLM_MCP_DIR:-$CL_ROOT/work/mcp-servers}")
modules=$dir/node_modules/@modelcontextprotocol

installed() {
  [[ -f $modules/server-filesystem/dist/index.js && -f $modules/server-everything/dist/index.js ]] &&
    cmp -s "$pinned/package-lock.json" "$dir/package-lock.json"
}

paths() {
  info "MCP_FILESYSTEM=$modules/server-filesystem/dist/index.js"
  info "MCP_EVERYTHING=$modules/server-everything/dist/index.js"
}

case ${1:-install} in
  -h | --help) usage_from_header "$0"; exit 0 ;;
  paths)
    installed || die "the MCP servers are not installed in $dir" "run: scripts/mcp-servers.sh install"
    paths
    ;;
  install)
    if ! installed; then
      command -v npm >/dev/null || die "cannot install the MCP servers: npm not found (install Node.js and npm)"
      step "installing the MCP servers (npm ci, tests/e2e/mcp-servers/package-lock.json) into $dir" >&2
      mkdir -p "$dir"
      cp "$pinned/package.json" "$pinned/package-lock.json" "$dir/"
      npm ci --silent --no-audit --no-fund --prefix "$dir" >&2
      installed || die "npm ci finished but the MCP servers are not in $dir"
    fi
    paths
    ;;
  *) die "unknown command: $1 (see --help)" ;;
esac
