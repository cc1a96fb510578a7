#!/usr/bin/env bash
# Usage: scripts/fetch-upstream.sh [--work-dir DIR] [--tag TAG --commit SHA] [--fetch-only]
#
# Clones the pinned upstream tag (UPSTREAM_TAG in upstream.lock) into the work dir
# (default work/codex), shallow where the transport allows, or reuses an existing
# checkout (fetching the tag into it if it is missing). Refuses to go on unless the
# tag resolves to the pinned UPSTREAM_COMMIT.
#
# Source: CODEX_UPSTREAM_URL if set, else UPSTREAM_URL from upstream.lock. Any git URL
# or local git directory (bare or not) works.
#
#   --work-dir DIR   the checkout (default: CODEX_LITELLM_WORK_DIR or work/codex)
#   --tag TAG        fetch this tag instead of the lock's (used by refresh-series.sh)
#   --commit SHA     the commit TAG must resolve to (default: the lock's, for its tag)
#   --fetch-only     only make sure the tag is in the checkout; leave HEAD alone
#   -h, --help       this text
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tag='' commit='' fetch_only=''
while (($#)); do
  case $1 in
    --work-dir) CL_WORK_DIR=$(abspath "${2:?--work-dir needs a value}"); shift 2 ;;
    --tag) tag=${2:?--tag needs a value}; shift 2 ;;
    --commit) commit=${2:?--commit needs a value}; shift 2 ;;
    --fetch-only) fetch_only=1; shift ;;
    -h | --help) usage_from_header "$0"; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done

if [[ -z $tag ]]; then
  tag=$(lock_get UPSTREAM_TAG)
  commit=${commit:-$(lock_get UPSTREAM_COMMIT)}
fi
url=$(upstream_url)
lock_name=$(basename "$CL_LOCK")

# A local directory is turned into a file:// URL: git ignores --depth for plain paths.
fetch_url=$url
if [[ -d $url ]]; then
  fetch_url="file://$(cd "$url" && pwd)"
fi

commit_mismatch() {
  die "upstream tag $tag from $url resolves to $1," \
    "but $lock_name pins $commit." \
    "The tag was moved upstream, or CODEX_UPSTREAM_URL points at a different repository." \
    "Point CODEX_UPSTREAM_URL at a copy of upstream whose $tag is $commit," \
    "or, if the new commit is intended, re-validate the series on it with:" \
    "  scripts/refresh-series.sh --tag $tag --commit $1"
}

# Is TAG present locally, pointing at the expected commit?
tag_ok() {
  local have
  have=$(wgit rev-parse -q --verify "refs/tags/$tag^{commit}" 2>/dev/null) || return 1
  [[ -z $commit || $have == "$commit" ]]
}

if [[ ! -e $CL_WORK_DIR/.git ]]; then
  if [[ -e $CL_WORK_DIR ]] && [[ -n $(ls -A "$CL_WORK_DIR") ]]; then
    die "$CL_WORK_DIR exists but is not a git checkout" "remove it, or choose another --work-dir"
  fi
  step "cloning $tag from $url into $CL_WORK_DIR"
  mkdir -p "$(dirname "$CL_WORK_DIR")"
  if ! git -c advice.detachedHead=false clone -q --depth 1 --branch "$tag" "$fetch_url" "$CL_WORK_DIR"; then
    rm -rf "$CL_WORK_DIR"
    info "shallow clone failed; trying a full clone"
    git -c advice.detachedHead=false clone -q --branch "$tag" "$fetch_url" "$CL_WORK_DIR" ||
      { rm -rf "$CL_WORK_DIR"; die "could not clone $tag from $url" "check CODEX_UPSTREAM_URL and that the tag exists there"; }
  fi
  # Keep the tag ref itself (a --branch clone of a tag does not always write it).
  wgit rev-parse -q --verify "refs/tags/$tag" >/dev/null ||
    wgit update-ref "refs/tags/$tag" "$(wgit rev-parse HEAD)"
else
  require_work_dir
  require_no_refresh
  if ! tag_ok; then
    step "fetching $tag from $url into $CL_WORK_DIR"
    if ! wgit fetch -q --depth 1 "$fetch_url" "+refs/tags/$tag:refs/tags/$tag" 2>/dev/null; then
      wgit fetch -q "$fetch_url" "+refs/tags/$tag:refs/tags/$tag" ||
        die "could not fetch $tag from $url" "check CODEX_UPSTREAM_URL and that the tag exists there"
    fi
  else
    info "reusing $CL_WORK_DIR ($tag already present)"
  fi
fi

got=$(wgit rev-parse "refs/tags/$tag^{commit}")
if [[ -n $commit && $got != "$commit" ]]; then
  commit_mismatch "$got"
fi
commit=$got

if [[ -n $fetch_only ]]; then
  info "$tag = $commit (in $CL_WORK_DIR)"
  exit 0
fi

# The checkout must be the pinned commit or a patched tree on top of it. A checkout
# left on another base (an older pin) is moved to the pinned commit when that loses
# nothing: a clean tree whose HEAD is what apply/export last produced.
head=$(wgit rev-parse HEAD)
if ! wgit merge-base --is-ancestor "$commit" "$head"; then
  applied=$(wgit rev-parse -q --verify "$CL_APPLIED_REF" 2>/dev/null || true)
  dirty=$(dirty_files)
  if [[ -n $dirty ]]; then
    die "$CL_WORK_DIR is not based on $tag ($commit) and has uncommitted changes:" \
      "$dirty" "commit and export them (scripts/export-series.sh) with the old upstream.lock, or discard them"
  fi
  if [[ -n $applied && $applied != "$head" ]] && ! wgit merge-base --is-ancestor "$head" "$applied"; then
    die "$CL_WORK_DIR is not based on $tag ($commit) and HEAD has commits that were never exported." \
      "Export them with the upstream.lock they were made against (scripts/export-series.sh)," \
      "or remove $CL_WORK_DIR to start over."
  fi
  step "moving $CL_WORK_DIR to $tag ($commit)"
  reset_cargo_lock
  wgit -c advice.detachedHead=false checkout -q --detach "$commit"
  wgit update-ref -d "$CL_APPLIED_REF" 2>/dev/null || true
  head=$commit
fi

if [[ $head == "$commit" ]]; then
  info "upstream $tag at $commit (pristine) in $CL_WORK_DIR"
else
  info "upstream $tag at $commit in $CL_WORK_DIR (HEAD $(wgit rev-parse --short HEAD), $(wgit rev-list --count "$commit..HEAD") commits on top)"
fi
