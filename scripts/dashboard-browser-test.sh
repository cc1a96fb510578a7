#!/usr/bin/env bash
# Usage: scripts/dashboard-browser-test.sh [--screenshot PNG]
#
# The telemetry dashboard (`codex-litellm-telemetry serve`) in a real browser: headless
# Chromium from Debian's packages, driven by Selenium through chromium-driver.
# Installs what it needs on a fresh machine and reuses it afterwards:
#   chromium, chromium-driver   Debian packages (apt-get; needs root or sudo)
#   selenium                    PyPI, pinned, in a venv under work/dashboard-test/venv
# Builds the standalone binary (cargo, --locked; CARGO_TARGET_DIR is honoured), serves a
# fixture folder on a free loopback port and checks: the page lists the fixture sessions;
# a session written while the page is open appears without a reload and its requests
# update live; an error request shows its reason and opens to the stored record; a
# screenshot of a session view is not blank.
#
#   --screenshot PNG   also save the session-view screenshot there (docs/ uses one)
#   -h, --help         this text
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SELENIUM_VERSION=4.45.0
screenshot=
while (($#)); do
  case $1 in
    -h | --help) usage_from_header "$0"; exit 0 ;;
    --screenshot) [[ $# -ge 2 ]] || die "--screenshot needs a file name"; screenshot=$2; shift 2 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done

started=$SECONDS
if ! command -v chromium >/dev/null || [[ ! -x /usr/bin/chromedriver ]]; then
  command -v apt-get >/dev/null || die "chromium and chromium-driver are missing and there is no apt-get" "install them by hand (Debian packages chromium, chromium-driver)"
  sudo=()
  ((EUID == 0)) || sudo=(sudo)
  step "installing chromium and chromium-driver (Debian packages)"
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
fi

venv=$CL_ROOT/work/dashboard-test/venv
if [[ ! -x $venv/bin/python ]] || ! "$venv/bin/python" -c "import selenium, sys; sys.exit(selenium.__version__ != '$SELENIUM_VERSION')" 2>/dev/null; then
  step "installing selenium $SELENIUM_VERSION (PyPI) into $venv"
  python3 -m venv "$venv" || die "python3 -m venv failed" "on Debian: apt-get install python3-venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check "selenium==$SELENIUM_VERSION"
fi
info "setup took $((SECONDS - started))s"

step "building codex-litellm-telemetry"
(cd "$CL_ROOT" && cargo build -q --locked -p codex-litellm-telemetry-serve --bin codex-litellm-telemetry)
target=${CARGO_TARGET_DIR:-$CL_ROOT/target}
binary=$target/debug/codex-litellm-telemetry
[[ -x $binary ]] || die "built, but $binary is missing"

args=(--binary "$binary" --chromedriver /usr/bin/chromedriver)
[[ -z $screenshot ]] || args+=(--screenshot "$screenshot")
step "browser test"
"$venv/bin/python" "$CL_SCRIPTS/dashboard_browser_test.py" "${args[@]}"
