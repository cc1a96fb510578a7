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
# changed version of a third-party crate fails, listing the offenders. Upstream's own
# path crates may change version, and a path package standing in for a third-party
# one at the same version ([patch] in a --cargo-config file) is allowed and noted.
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

# "name version kind" lines of a Cargo.lock's [[package]] entries, sorted; kind is
# "src" for a package with a source (registry or git: third-party) and "local" for a
# path package (upstream's own workspace crates, ours, or a local override).
lock_packages() {
  awk '
    function flush() { if (name != "") print name, version, (source ? "src" : "local"); name = "" }
    /^\[\[package\]\]/ { flush(); inpkg = 1; source = 0; version = ""; next }
    /^\[/ { flush(); inpkg = 0; next }
    inpkg && /^name = / { name = $3; gsub(/"/, "", name) }
    inpkg && /^version = / { version = $3; gsub(/"/, "", version) }
    inpkg && /^source = / { source = 1 }
    END { flush() }' "$1" | LC_ALL=C sort -u
}

# compare_locks OLD NEW ALLOWED...: prints the verdict; returns 1 on drift.
# - our crates (ALLOWED) may appear;
# - third-party packages must keep exactly upstream's (name, version) set;
# - upstream's own path packages may change version (upstream's committed lock lists
#   its workspace crates at 0.0.0 while their Cargo.toml says the release version);
# - a path package standing in for a third-party one at the same version (a [patch]
#   in a --cargo-config file) is allowed and noted.
compare_locks() {
  local old=$1 new=$2 a name version kind offenders=() ours=() overridden=() removed=()
  shift 2
  declare -A allowed=() third=() thirdver=() local_names=() present=()
  for a in "$@"; do allowed[$a]=1; done
  while read -r name version kind; do
    if [[ $kind == src ]]; then
      third["$name $version"]=1
      thirdver[$name]+="${thirdver[$name]:+, }$version"
    else
      local_names[$name]=1
    fi
  done < <(lock_packages "$old")
  while read -r name version kind; do
    present["$name $version"]=1
    if [[ -n ${allowed[$name]:-} ]]; then
      ours+=("$name $version")
    elif [[ -n ${third["$name $version"]:-} ]]; then
      [[ $kind == src ]] || overridden+=("$name $version")
    elif [[ $kind == local && -n ${local_names[$name]:-} ]]; then
      :
    elif [[ -n ${thirdver[$name]:-} ]]; then
      offenders+=("changed: $name ${thirdver[$name]} -> $version")
    else
      offenders+=("added:   $name $version")
    fi
  done < <(lock_packages "$new")
  for a in "${!third[@]}"; do
    [[ -n ${present[$a]:-} ]] || removed+=("$a")
  done

  if ((${#offenders[@]})); then
    {
      printf 'error: Cargo.lock drift: applying the series changed third-party dependencies:\n'
      printf '  %s\n' "${offenders[@]}"
      printf 'Only our own crates (%s) may be added to upstream'\''s Cargo.lock.\n' "${*:-none}"
      printf 'Pin the dependency to the version upstream locks (in upstream'\''s codex-rs/Cargo.lock),\n'
      printf 'e.g. use the { workspace = true } entry or an exact "=x.y.z" requirement, so codex-litellm\n'
      printf 'builds with the same dependency tree as stock codex.\n'
    } >&2
    return 1
  fi
  local list
  list=$(printf '%s\n' "${ours[@]}" | grep . | paste -sd, - | sed 's/,/, /g' || true)
  info "Cargo.lock drift check: ok (${#ours[@]} package(s) added, all ours${list:+: $list})"
  if ((${#overridden[@]})); then
    info "note: ${#overridden[@]} package(s) built from a local path instead of their source, same version (a [patch] in a --cargo-config file?): $(printf '%s\n' "${overridden[@]}" | paste -sd, - | sed 's/,/, /g')"
  fi
  if ((${#removed[@]})); then
    info "note: no longer in Cargo.lock: $(printf '%s\n' "${removed[@]}" | LC_ALL=C sort | paste -sd, - | sed 's/,/, /g')"
  fi
  return 0
}

if [[ -n $compare ]]; then
  # Copies: the inputs may be pipes (<(...)), which can be read only once.
  tmpd=$(mktemp -d "${TMPDIR:-/tmp}/codex-litellm-lock.XXXXXX")
  trap 'rm -rf "$tmpd"' EXIT
  cat "$old" >"$tmpd/old.lock"
  cat "$new" >"$tmpd/new.lock"
  compare_locks "$tmpd/old.lock" "$tmpd/new.lock" "${allow[@]}"
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
# A crate that is copied in but not registered as a workspace member is never built.
while IFS= read -r d; do
  p=$(package_name "$CL_PATCHES/crates/$d/Cargo.toml")
  if ! grep -qx "name = \"$p\"" "$lockfile"; then
    info "note: patches/crates/$d ($p) is copied into codex-rs/ but is not a workspace member" \
      "(register it in codex-rs/Cargo.toml, patch 0001): nothing builds it"
  fi
done < <(crate_dirs)
