#!/usr/bin/env bash
# Usage: scripts/lock-drift.sh [--work-dir DIR] [--cargo-config FILE]... [--no-metadata]
#        scripts/lock-drift.sh --compare PRISTINE_LOCK PATCHED_LOCK [--allow NAME]...
#
# Checks that applying the series changed no third-party dependency: runs
# `cargo metadata` in the patched codex-rs/ (with the same toolchain and --config
# files as build.sh) so cargo records our crates in codex-rs/Cargo.lock, then
# compares the (name, version) set of that lock with upstream's pristine one
# (git show <UPSTREAM_COMMIT>:codex-rs/Cargo.lock). The only packages allowed to
# appear are our crates (names from patches/crates/*/Cargo.toml). A new package or a
# changed version of a third-party crate fails, listing the offenders.
#
#   --work-dir DIR        the checkout (default: CODEX_LITELLM_WORK_DIR or work/codex)
#   --cargo-config FILE   extra `cargo --config FILE` (repeatable; also read from
#                         CODEX_LITELLM_CARGO_CONFIG, colon-separated)
#   --no-metadata         compare codex-rs/Cargo.lock as it is, without running cargo
#   --compare OLD NEW     compare two Cargo.lock files (no work dir, no cargo)
#   --allow NAME          with --compare: a package name allowed to be added
#   -h, --help            this text
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

configs=() allow=() old='' new='' metadata=1 compare=''
while (($#)); do
  case $1 in
    --work-dir) CL_WORK_DIR=$(abspath "${2:?--work-dir needs a value}"); shift 2 ;;
    --cargo-config) configs+=("${2:?--cargo-config needs a value}"); shift 2 ;;
    --no-metadata) metadata=''; shift ;;
    --compare) compare=1; old=${2:?--compare needs two files}; new=${3:?--compare needs two files}; shift 3 ;;
    --allow) allow+=("${2:?--allow needs a value}"); shift 2 ;;
    -h | --help) usage_from_header "$0"; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done

# "name version" lines of a Cargo.lock's [[package]] entries, sorted.
lock_packages() {
  awk '
    /^\[\[package\]\]/ { if (name != "") print name, version; name = ""; version = ""; inpkg = 1; next }
    /^\[/ { if (name != "") print name, version; name = ""; inpkg = 0; next }
    inpkg && /^name = / { name = $3; gsub(/"/, "", name) }
    inpkg && /^version = / { version = $3; gsub(/"/, "", version) }
    END { if (name != "") print name, version }' "$1" | LC_ALL=C sort -u
}

# compare_locks OLD NEW ALLOWED...: prints the verdict; returns 1 on drift.
compare_locks() {
  local old=$1 new=$2 a name version offenders=() ours=() removed=()
  shift 2
  declare -A allowed=() oldver=() newnames=()
  for a in "$@"; do allowed[$a]=1; done
  while read -r name version; do oldver[$name]+="${oldver[$name]:+, }$version"; done < <(lock_packages "$old")
  while read -r name version; do newnames[$name]=1; done < <(lock_packages "$new")
  while read -r name version; do
    if [[ -n ${allowed[$name]:-} ]]; then
      ours+=("$name $version")
    elif [[ -n ${oldver[$name]:-} ]]; then
      offenders+=("changed: $name ${oldver[$name]} -> $version")
    else
      offenders+=("added:   $name $version")
    fi
  done < <(LC_ALL=C comm -13 <(lock_packages "$old") <(lock_packages "$new"))
  while read -r name version; do
    [[ -n ${newnames[$name]:-} ]] || removed+=("$name $version")
  done < <(LC_ALL=C comm -23 <(lock_packages "$old") <(lock_packages "$new"))

  if ((${#offenders[@]})); then
    {
      printf 'error: Cargo.lock drift: applying the series changed third-party dependencies:\n'
      printf '  %s\n' "${offenders[@]}"
      printf 'Only our own crates (%s) may be added to upstream'\''s Cargo.lock.\n' "${*:-none}"
      printf 'Pin the dependency to the version upstream locks (see %s),\n' "$old"
      printf 'e.g. use the { workspace = true } entry or an exact "=x.y.z" requirement, so codex-litellm\n'
      printf 'builds with the same dependency tree as stock codex.\n'
    } >&2
    return 1
  fi
  info "Cargo.lock drift check: ok (${#ours[@]} package(s) added, all ours: $(printf '%s; ' "${ours[@]}"))"
  if ((${#removed[@]})); then
    info "note: no longer in Cargo.lock: $(printf '%s; ' "${removed[@]}")"
  fi
  return 0
}

if [[ -n $compare ]]; then
  compare_locks "$old" "$new" "${allow[@]}"
  exit
fi

require_work_dir
base=$(lock_get UPSTREAM_COMMIT)
lockfile=$CL_WORK_DIR/codex-rs/Cargo.lock
if [[ -n $metadata ]]; then
  cargo_setup "${configs[@]}"
  step "cargo metadata (records our crates in codex-rs/Cargo.lock)"
  (cd "$CL_WORK_DIR/codex-rs" && cargo metadata --format-version 1 "${CL_CARGO_CONFIG_ARGS[@]}" >/dev/null) ||
    die "cargo metadata failed in $CL_WORK_DIR/codex-rs (see above)"
fi
[[ -f $lockfile ]] || die "$lockfile not found"
tmp=$(mktemp "${TMPDIR:-/tmp}/codex-litellm-lock.XXXXXX")
trap 'rm -f "$tmp"' EXIT
wgit show "$base:codex-rs/Cargo.lock" >"$tmp" || die "upstream $base has no codex-rs/Cargo.lock"
mapfile -t ours < <(crate_packages)
compare_locks "$tmp" "$lockfile" "${ours[@]}" || die "see above ($lockfile vs upstream ${base:0:8})"
