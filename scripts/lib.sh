# shellcheck shell=bash
# shellcheck disable=SC2034 # variables here are used by the scripts that source this file
# Shared helpers for the codex-litellm scripts. Source it, don't run it.
#
# Every script reads upstream data from upstream.lock and the series from patches/.
# Overrides (used by the script tests, handy for experiments):
#   CODEX_LITELLM_LOCK         upstream.lock to read/write   (default <repo>/upstream.lock)
#   CODEX_LITELLM_PATCHES_DIR  the patches/ directory         (default <repo>/patches)
#   CODEX_LITELLM_WORK_DIR     the upstream checkout          (default <repo>/work/codex)
#   CODEX_UPSTREAM_URL         where to fetch upstream from   (default UPSTREAM_URL in the lock)

CL_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CL_SCRIPTS="$CL_ROOT/scripts"
CL_LOCK=${CODEX_LITELLM_LOCK:-$CL_ROOT/upstream.lock}
CL_PATCHES=${CODEX_LITELLM_PATCHES_DIR:-$CL_ROOT/patches}
CL_WORK_DIR=${CODEX_LITELLM_WORK_DIR:-$CL_ROOT/work/codex}
# The branch apply-series.sh builds in the work dir, and the ref that remembers the
# last commit apply/export produced (so unexported developer commits can be told apart).
CL_BRANCH=codex-litellm
CL_APPLIED_REF=refs/codex-litellm/applied
CL_CRATES_SUBJECT="codex-litellm: add crates"
# Fixed identity for the commits the scripts make: no global git identity needed.
CL_GIT_ID=(-c user.name=codex-litellm -c user.email=codex-litellm@localhost -c commit.gpgsign=false)
# Abbreviation used in exported diffs; fixed so the output does not depend on how many
# objects the checkout happens to have (a shallow clone abbreviates shorter).
CL_DIFF_ABBREV=9
# Version of what apply-series.sh produces from the same inputs; part of the series
# fingerprint, so a checkout made by an older apply step is re-applied. Bump it when
# the crates commit or the patch commits change shape (2: series.env in each crate).
CL_APPLY_FORMAT=2

# die LINE...: prints "error: " + the first line, the others indented below it; exits 1.
die() {
  printf 'error: %s\n' "$1" >&2
  shift
  (($# == 0)) || printf '%s\n' "$@" | sed 's/^/       /' >&2
  exit 1
}
warn() { printf 'warning: %s\n' "$*" >&2; }
info() { printf '%s\n' "$*"; }
step() { printf '==> %s\n' "$*"; }

# Prints the comment block at the top of the calling script (after the shebang) as
# its --help text.
usage_from_header() {
  sed -n '2,/^[^#]/{/^#/!q;s/^# \{0,1\}//;p}' "$1"
}

# Resolves a path to an absolute one (the file or directory need not exist).
abspath() {
  case $1 in
    /*) printf '%s\n' "$1" ;;
    *) printf '%s/%s\n' "$PWD" "$1" ;;
  esac
}

# Overrides given as relative paths are taken relative to where the script was started.
CL_LOCK=$(abspath "$CL_LOCK")
CL_PATCHES=$(abspath "$CL_PATCHES")
CL_WORK_DIR=$(abspath "$CL_WORK_DIR")

# ---- upstream.lock --------------------------------------------------------------

# lock_get KEY: the value of KEY=value in the lock (surrounding quotes stripped).
lock_get() {
  [[ -f $CL_LOCK ]] || die "lock file not found: $CL_LOCK"
  local value
  value=$(awk -v key="$1" '
    /^[[:space:]]*#/ { next }
    index($0, key "=") == 1 { v = substr($0, length(key) + 2) }
    END { print v }' "$CL_LOCK")
  value=${value%$'\r'}
  value=${value#\"}; value=${value%\"}
  [[ -n $value ]] || die "$CL_LOCK has no $1= line"
  printf '%s\n' "$value"
}

# lock_set KEY VALUE: rewrites KEY's line in place (appends it if missing), keeping
# comments and the other lines as they are.
lock_set() {
  local tmp
  tmp=$(mktemp "$CL_LOCK.XXXXXX")
  awk -v key="$1" -v val="$2" '
    !/^[[:space:]]*#/ && index($0, key "=") == 1 { print key "=" val; done = 1; next }
    { print }
    END { if (!done) print key "=" val }' "$CL_LOCK" >"$tmp"
  cat "$tmp" >"$CL_LOCK"
  rm -f "$tmp"
}

upstream_url() { printf '%s\n' "${CODEX_UPSTREAM_URL:-$(lock_get UPSTREAM_URL)}"; }

# ---- the series -----------------------------------------------------------------

# Patch file names from patches/series, in order (comments and blank lines dropped).
series_list() {
  local file=$CL_PATCHES/series
  [[ -f $file ]] || die "series file not found: $file"
  sed -e 's/#.*//' -e 's/[[:space:]]*$//' -e 's/^[[:space:]]*//' "$file" | grep -v '^$' || true
}

# Directory names under patches/crates that hold a crate (a Cargo.toml).
crate_dirs() {
  local d
  [[ -d $CL_PATCHES/crates ]] || return 0
  for d in "$CL_PATCHES"/crates/*/; do
    [[ -f $d/Cargo.toml ]] && basename "$d"
  done
  return 0
}

# package_name MANIFEST: [package] name of a Cargo.toml (empty for a virtual manifest).
package_name() {
  awk '
    /^[[:space:]]*\[/ { section = $0; gsub(/[[:space:]]/, "", section); next }
    section == "[package]" && /^[[:space:]]*name[[:space:]]*=/ {
      sub(/^[^=]*=[[:space:]]*/, ""); gsub(/["'\''[:space:]]/, ""); print; exit
    }' "$1"
}

# Package names of our crates (patches/crates/*/Cargo.toml).
crate_packages() {
  local d
  while IFS= read -r d; do
    package_name "$CL_PATCHES/crates/$d/Cargo.toml"
  done < <(crate_dirs)
}

# Files of one crate dir, relative to it, sorted, without build output and without
# series.env (generated by the apply step, see make_crates_commit).
crate_files() {
  (cd "$CL_PATCHES/crates/$1" && find . -type f ! -path './target/*' ! -path './series.env' | sed 's|^\./||' | LC_ALL=C sort)
}

# series_env TAG COMMIT: the series.env apply puts into every crate dir in codex-rs/, for
# build scripts that embed the series identity (e.g. litellm-runtime's build.rs).
series_env() {
  printf '# Generated by scripts/apply-series.sh: the codex-litellm series identity.\n'
  printf 'UPSTREAM_TAG=%s\nUPSTREAM_COMMIT=%s\nSERIES_VERSION=%s\n' "$1" "$2" "$(series_version)"
}

# Fingerprint of everything that determines the patched tree: the apply format, VERSION,
# the series file, each listed patch and every crate file (with its executable bit).
series_fingerprint() {
  local p d f
  {
    printf 'apply-format %s\n' "$CL_APPLY_FORMAT"
    for f in VERSION series; do
      [[ -f $CL_PATCHES/$f ]] && printf '%s %s\n' "$f" "$(sha256sum <"$CL_PATCHES/$f" | cut -c1-64)"
    done
    while IFS= read -r p; do
      [[ -f $CL_PATCHES/$p ]] || die "patches/series lists $p but $CL_PATCHES/$p does not exist"
      printf 'patch %s %s\n' "$p" "$(sha256sum <"$CL_PATCHES/$p" | cut -c1-64)"
    done < <(series_list)
    while IFS= read -r d; do
      while IFS= read -r f; do
        local x=-
        [[ -x $CL_PATCHES/crates/$d/$f ]] && x=x
        printf 'crate %s/%s %s %s\n' "$d" "$f" "$x" "$(sha256sum <"$CL_PATCHES/crates/$d/$f" | cut -c1-64)"
      done < <(crate_files "$d")
    done < <(crate_dirs)
  } | sha256sum | cut -c1-64
}

# patch_header FILE: the header lines (everything before the line `---`).
patch_header() {
  awk '$0 == "---" { found = 1; exit } { print } END { exit found ? 0 : 1 }' "$1" ||
    die "$1 has no '---' line separating its header from the diff"
}

# patch_diff FILE: the diff (everything after the first line `---`).
patch_diff() {
  awk 'found { print; next } $0 == "---" { found = 1 }' "$1"
}

# Line number (in the patch file) of the first diff line, i.e. header length + 2.
patch_diff_offset() {
  awk '$0 == "---" { print NR + 1; exit }' "$1"
}

# Files a patch changes (b/ side, or a/ side for deletions), from its diff --git lines.
patch_files() {
  patch_diff "$1" | sed -n 's|^diff --git a/\(.*\) b/.*$|\1|p' | LC_ALL=C sort -u
}

# ---- the work dir (upstream checkout) -------------------------------------------

wgit() { git -C "$CL_WORK_DIR" "$@"; }

require_work_dir() {
  [[ -d $CL_WORK_DIR/.git || -f $CL_WORK_DIR/.git ]] ||
    die "no upstream checkout at $CL_WORK_DIR" "run scripts/fetch-upstream.sh first (or point --work-dir / CODEX_LITELLM_WORK_DIR at one)"
}

# The state directory of an unfinished refresh-series.sh run.
refresh_state_dir() { printf '%s/codex-litellm-refresh\n' "$(wgit rev-parse --absolute-git-dir)"; }

require_no_refresh() {
  if [[ -d $(refresh_state_dir) ]]; then
    die "a refresh (scripts/refresh-series.sh) is in progress in $CL_WORK_DIR" \
      "finish it with scripts/refresh-series.sh --continue, or drop it with --abort"
  fi
}

# Uncommitted changes in the work dir (porcelain lines), not counting codex-rs/Cargo.lock,
# which cargo rewrites when it adds our crates (not a developer edit).
dirty_files() {
  wgit status --porcelain=v1 --untracked-files=all | grep -v '^.. codex-rs/Cargo\.lock$' || true
}

# Restores codex-rs/Cargo.lock to HEAD's version (cargo regenerates our entries).
reset_cargo_lock() {
  if wgit cat-file -e HEAD:codex-rs/Cargo.lock 2>/dev/null; then
    wgit checkout -q HEAD -- codex-rs/Cargo.lock
  fi
}

# A value of a trailer in a commit message (empty if absent).
commit_trailer() {
  wgit log -1 --format="%(trailers:key=$2,valueonly,separator=%x2C)" "$1"
}

# The crates commit (carrying Series-Fingerprint) between BASE and HEAD, or nothing.
find_crates_commit() {
  local base=$1 sha fp
  while IFS=$'\t' read -r sha fp; do
    [[ -n $fp ]] && { printf '%s\n' "$sha"; return 0; }
  done < <(wgit log --reverse --format='%H%x09%(trailers:key=Series-Fingerprint,valueonly,separator=%x2C)' "$base..HEAD")
  return 0
}

# Runs git commit-tree-like commits with a fixed identity and a date taken from the
# base commit, so the same inputs always give the same commit ids.
commit_env() {
  local when
  when=$(wgit log -1 --format=%cI "$1")
  export GIT_AUTHOR_DATE=$when GIT_COMMITTER_DATE=$when
  export GIT_AUTHOR_NAME=codex-litellm GIT_AUTHOR_EMAIL=codex-litellm@localhost
  export GIT_COMMITTER_NAME=codex-litellm GIT_COMMITTER_EMAIL=codex-litellm@localhost
}

# make_crates_commit BASE TAG FINGERPRINT: commit BASE + patches/crates/* copied into
# codex-rs/ (each with a generated series.env), built in a private index (the work tree
# is not touched). Prints the sha. Run it in a subshell (it exports the commit identity
# and dates).
make_crates_commit() {
  local base=$1 tag=$2 fp=$3 dirs d f mode tree msg env_blob
  mapfile -t dirs < <(crate_dirs)
  for d in "${dirs[@]}"; do
    if [[ -n $(wgit ls-tree "$base" "codex-rs/$d") ]]; then
      die "patches/crates/$d collides with codex-rs/$d, which upstream already has; rename the crate directory"
    fi
  done
  export GIT_INDEX_FILE
  GIT_INDEX_FILE=$(mktemp "${TMPDIR:-/tmp}/codex-litellm-index.XXXXXX")
  rm -f "$GIT_INDEX_FILE"
  wgit read-tree "$base"
  env_blob=$(series_env "$tag" "$base" | wgit hash-object -w --stdin)
  for d in "${dirs[@]}"; do
    printf '100644 %s\tcodex-rs/%s/series.env\n' "$env_blob" "$d"
    while IFS= read -r f; do
      mode=100644
      [[ -x $CL_PATCHES/crates/$d/$f ]] && mode=100755
      printf '%s %s\tcodex-rs/%s/%s\n' "$mode" \
        "$(wgit hash-object -w --no-filters -- "$CL_PATCHES/crates/$d/$f")" "$d" "$f"
    done < <(crate_files "$d")
  done | wgit update-index --index-info
  tree=$(wgit write-tree)
  rm -f "$GIT_INDEX_FILE"
  unset GIT_INDEX_FILE
  msg="$CL_CRATES_SUBJECT"$'\n\n'"Copies patches/crates/* into codex-rs/."$'\n\n'
  msg+="Crates: ${dirs[*]:-(none)}"$'\n'"Series-Version: $(series_version)"$'\n'"Series-Fingerprint: $fp"
  commit_env "$base"
  wgit "${CL_GIT_ID[@]}" commit-tree "$tree" -p "$base" -m "$msg"
}

series_version() {
  if [[ -f $CL_PATCHES/VERSION ]]; then tr -d '[:space:]' <"$CL_PATCHES/VERSION"; else printf 0; fi
}

# The release version: <upstream X.Y.Z>-litellm.<series VERSION>, e.g. 0.148.0-litellm.3. It
# names the release archives, the git tag (v<version>) and the npm package version (npm
# drops build metadata, so the binary's "+litellm.N" is written "-litellm.N" here).
release_version() {
  local tag
  tag=$(lock_get UPSTREAM_TAG)
  printf '%s-litellm.%s\n' "${tag#rust-v}" "$(series_version)"
}

# patch_subject FILE: the first line of the Description field (or the file name).
patch_subject() {
  local s
  s=$(patch_header "$1" | sed -n 's/^Description:[[:space:]]*//p' | head -n 1)
  printf '%s\n' "${s:-$(basename "$1" .patch)}"
}

# The commit message apply gives a patch's commit: a subject line (the Description's
# first line), a blank line, the header verbatim, a blank line and the trailer
# `Patch-Name: <file>`. export-series.sh turns it back into the header.
patch_commit_message() {
  printf '%s\n\n' "$(patch_subject "$1")"
  patch_header "$1"
  printf '\nPatch-Name: %s\n' "$(basename "$1")"
}

# ---- cargo ----------------------------------------------------------------------

# cargo_setup CONFIG_FILE...: resolves the toolchain (RUSTUP_TOOLCHAIN, else the lock's
# UPSTREAM_TOOLCHAIN) and fails early if it is not installed; exports RUSTUP_TOOLCHAIN
# and CARGO_TARGET_DIR; fills CL_CARGO_CONFIG_ARGS with --config FILE pairs (from the
# arguments and from CODEX_LITELLM_CARGO_CONFIG, colon-separated).
CL_CARGO_CONFIG_ARGS=()
cargo_setup() {
  local tc source f files=()
  if [[ -n ${RUSTUP_TOOLCHAIN:-} ]]; then
    tc=$RUSTUP_TOOLCHAIN source="RUSTUP_TOOLCHAIN"
  else
    tc=$(lock_get UPSTREAM_TOOLCHAIN) source="upstream pin in $(basename "$CL_LOCK")"
  fi
  if ! command -v cargo >/dev/null; then
    die "cargo not found on PATH; install Rust with rustup"
  fi
  if command -v rustup >/dev/null; then
    if ! RUSTUP_AUTO_INSTALL=0 rustup run "$tc" rustc --version >/dev/null 2>&1; then
      die "Rust toolchain '$tc' ($source) is not installed." \
        "Install it with: rustup toolchain install $tc" \
        "or build with another installed toolchain: RUSTUP_TOOLCHAIN=<name> (see: rustup toolchain list)"
    fi
  fi
  export RUSTUP_TOOLCHAIN=$tc
  # Absolute: cargo runs inside codex-rs/, build.sh reads the binary from here.
  CARGO_TARGET_DIR=$(abspath "${CARGO_TARGET_DIR:-$CL_ROOT/work/target}")
  export CARGO_TARGET_DIR
  if [[ -n ${CODEX_LITELLM_CARGO_CONFIG:-} ]]; then
    IFS=: read -r -a files <<<"$CODEX_LITELLM_CARGO_CONFIG"
  fi
  files+=("$@")
  CL_CARGO_CONFIG_ARGS=()
  for f in "${files[@]}"; do
    [[ -n $f ]] || continue
    [[ -f $f ]] || die "cargo config file not found: $f"
    CL_CARGO_CONFIG_ARGS+=(--config "$(abspath "$f")")
  done
  # Said once per run (build.sh and check.sh call scripts that call this again).
  if [[ -z ${CODEX_LITELLM_CARGO_SETUP_SHOWN:-} ]]; then
    export CODEX_LITELLM_CARGO_SETUP_SHOWN=1
    info "toolchain: $tc ($source): $(rustc --version 2>/dev/null || echo '?')"
    info "target dir: $CARGO_TARGET_DIR"
    if ((${#CL_CARGO_CONFIG_ARGS[@]})); then
      info "cargo config files: $(printf '%s\n' "${files[@]}" | grep . | paste -sd' ' -)"
    fi
  fi
}

# http_ok PYTHON URL: URL answers 200 without any proxy (python, so curl is not needed).
http_ok() {
  "$1" - "$2" <<'PY' 2>/dev/null
import sys, urllib.request
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
sys.exit(0 if opener.open(sys.argv[1], timeout=2).status == 200 else 1)
PY
}

# stop_group PIDFILE: stops the process group whose leader's pid PIDFILE holds (a server
# started with setsid): TERM, up to 5 s, then KILL; removes PIDFILE.
stop_group() {
  local pidfile=$1 pid waited=0
  [[ -f $pidfile ]] || return 0
  pid=$(cat "$pidfile")
  if [[ -n $pid ]]; then
    kill -TERM -- "-$pid" 2>/dev/null || true
    while kill -0 -- "-$pid" 2>/dev/null && ((waited < 50)); do
      sleep 0.1
      waited=$((waited + 1))
    done
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
}
