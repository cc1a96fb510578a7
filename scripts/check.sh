#!/usr/bin/env bash
# Usage: scripts/check.sh [--work-dir DIR] [--cargo-config FILE]...
#
# Fast validation of the series: fetch + apply (as build.sh does), the Cargo.lock
# drift check, then `cargo check --locked` of just the affected packages: our crates
# plus every upstream crate a patch touches (the package owning each changed file).
# Uses the same toolchain, target dir and --config files as build.sh.
#
#   --work-dir DIR        the checkout (default: CODEX_LITELLM_WORK_DIR or work/codex)
#   --cargo-config FILE   extra `cargo --config FILE` (repeatable; also read from
#                         CODEX_LITELLM_CARGO_CONFIG, colon-separated)
#   -h, --help            this text
# Environment: CODEX_UPSTREAM_URL, RUSTUP_TOOLCHAIN, CARGO_TARGET_DIR (see README.md).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

configs=()
while (($#)); do
  case $1 in
    --work-dir) CL_WORK_DIR=$(abspath "${2:?--work-dir needs a value}"); shift 2 ;;
    --cargo-config) configs+=("${2:?--cargo-config needs a value}"); shift 2 ;;
    -h | --help) usage_from_header "$0"; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done
wd=(--work-dir "$CL_WORK_DIR")
cfg=()
for c in "${configs[@]}"; do cfg+=(--cargo-config "$c"); done

step "toolchain"
cargo_setup "${configs[@]}"
step "fetch upstream"
"$CL_SCRIPTS/fetch-upstream.sh" "${wd[@]}"
step "apply the series"
"$CL_SCRIPTS/apply-series.sh" "${wd[@]}"
step "Cargo.lock drift check"
"$CL_SCRIPTS/lock-drift.sh" "${wd[@]}" "${cfg[@]}"

# The package owning FILE (path from the repo root): the nearest Cargo.toml with a
# [package] section, walking up from the file's directory inside codex-rs/.
owning_package() {
  local dir
  dir=$(dirname "$1")
  while [[ $dir == codex-rs || $dir == codex-rs/* ]]; do
    if [[ -f $CL_WORK_DIR/$dir/Cargo.toml ]]; then
      package_name "$CL_WORK_DIR/$dir/Cargo.toml"
      return 0
    fi
    dir=$(dirname "$dir")
  done
}

declare -A pkgs=()
# Our crates that are workspace members (lock-drift.sh notes the others).
while IFS= read -r p; do
  [[ -n $p ]] && grep -qx "name = \"$p\"" "$CL_WORK_DIR/codex-rs/Cargo.lock" && pkgs[$p]=1
done < <(crate_packages)
while IFS= read -r patch; do
  while IFS= read -r f; do
    p=$(owning_package "$f")
    [[ -n $p ]] && pkgs[$p]=1
  done < <(patch_files "$CL_PATCHES/$patch")
done < <(series_list)
mapfile -t names < <(printf '%s\n' "${!pkgs[@]}" | LC_ALL=C sort)
((${#names[@]})) || die "no package to check (no crates and no patched package)"

args=()
for p in "${names[@]}"; do args+=(-p "$p"); done
step "cargo check --locked ${args[*]}"
(cd "$CL_WORK_DIR/codex-rs" && cargo check --locked "${CL_CARGO_CONFIG_ARGS[@]}" "${args[@]}")
info "check: ok (${#names[@]} package(s): ${names[*]})"
