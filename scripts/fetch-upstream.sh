#!/usr/bin/env bash
# Usage: scripts/fetch-upstream.sh [--work-dir DIR] [--tag TAG --commit SHA] [--fetch-only]
#
# Clones the pinned upstream tag (UPSTREAM_TAG in upstream.lock) into the work dir
# (default work/codex), shallow where the transport allows, or reuses an existing
# checkout (fetching the tag into it if it is missing). Refuses to go on unless the
# tag resolves to the pinned UPSTREAM_COMMIT.
#
# A source without the tag but with the pinned commit (a mirror that merged the release
# commit without its tag) is accepted: the commit is fetched, its codex-rs/Cargo.toml must
# carry the tag's version (rust-vX.Y.Z -> X.Y.Z), the tag is created locally, and the
# script says so.
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

remote_has_tag() {
  git ls-remote --exit-code --tags "$fetch_url" "refs/tags/$tag" >/dev/null 2>&1
}

# The source has no TAG: take the pinned commit instead, if the source has it and it is
# the release the tag names (its codex-rs/Cargo.toml carries the tag's version).
fetch_commit_as_tag() {
  local want=${tag#rust-v} have
  info "$url has no tag $tag; looking for the pinned commit $commit there instead"
  if ! wgit fetch -q --depth 1 "$fetch_url" "$commit" 2>/dev/null &&
    ! wgit fetch -q "$fetch_url" "$commit" 2>/dev/null; then
    die "could not fetch $tag from $url: it has neither that tag nor the pinned commit $commit" \
      "check CODEX_UPSTREAM_URL: point it at a copy of upstream that has one of them"
  fi
  have=$(wgit show "$commit:codex-rs/Cargo.toml" 2>/dev/null |
    awk '/^\[workspace.package\]/ { p = 1; next } /^\[/ { p = 0 } p && /^version[[:space:]]*=/ { gsub(/.*=[[:space:]]*"|".*/, ""); print; exit }')
  if [[ $have != "$want" ]]; then
    die "commit $commit from $url is not release $tag: its codex-rs/Cargo.toml says version \"${have:-none}\", not \"$want\"" \
      "check UPSTREAM_COMMIT in $lock_name and CODEX_UPSTREAM_URL"
  fi
  wgit update-ref "refs/tags/$tag" "$commit"
  info "took commit $commit for $tag (codex-rs/Cargo.toml says version $have); tagged it $tag locally"
}

if [[ ! -e $CL_WORK_DIR/.git ]]; then
  if [[ -e $CL_WORK_DIR ]] && [[ -n $(ls -A "$CL_WORK_DIR") ]]; then
    die "$CL_WORK_DIR exists but is not a git checkout" "remove it, or choose another --work-dir"
  fi
  step "cloning $tag from $url into $CL_WORK_DIR"
  mkdir -p "$(dirname "$CL_WORK_DIR")"
  if ! git -c advice.detachedHead=false clone -q --depth 1 --branch "$tag" "$fetch_url" "$CL_WORK_DIR" 2>/dev/null; then
    rm -rf "$CL_WORK_DIR"
    if [[ -n $commit ]] && ! remote_has_tag; then
      git init -q "$CL_WORK_DIR"
      (fetch_commit_as_tag) || { rm -rf "$CL_WORK_DIR"; exit 1; }
      wgit -c advice.detachedHead=false checkout -q --detach "$commit"
    else
      info "shallow clone failed; trying a full clone"
      git -c advice.detachedHead=false clone -q --branch "$tag" "$fetch_url" "$CL_WORK_DIR" ||
        { rm -rf "$CL_WORK_DIR"; die "could not clone $tag from $url" "check CODEX_UPSTREAM_URL and that the tag exists there"; }
    fi
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
      if [[ -n $commit ]] && ! remote_has_tag; then
        fetch_commit_as_tag || exit 1
      else
        wgit fetch -q "$fetch_url" "+refs/tags/$tag:refs/tags/$tag" ||
          die "could not fetch $tag from $url" "check CODEX_UPSTREAM_URL and that the tag exists there"
      fi
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
