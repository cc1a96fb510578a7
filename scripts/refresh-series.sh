#!/usr/bin/env bash
# Usage: scripts/refresh-series.sh --tag TAG [--commit SHA] [--work-dir DIR] [--force]
#        scripts/refresh-series.sh --continue | --skip | --abort [--work-dir DIR]
#
# Carries the series onto another upstream tag with 3-way merges. Fetches TAG into
# the work dir, puts the crates on top of it, then takes each patch in order:
#   clean                    git apply --check passes, applied as is
#   merged (needed 3-way)    the context moved; git apply -3 merged it
#   CONFLICT                 3-way left conflicts: the run stops there, leaving the
#                            conflicted files in the work tree for you to resolve
# When every patch is in, it rewrites upstream.lock (tag, commit, and the toolchain
# from codex-rs/rust-toolchain.toml) and runs scripts/export-series.sh, so patches/
# matches the new tag. A summary table says what happened to each patch.
#
# After a CONFLICT: fix the files it names, `git add` them, commit with the message
# the run prepared (git commit -F ...), then run --continue. --skip drops the patch
# instead; --abort goes back to where the refresh started.
#
#   --tag TAG        the upstream tag to move to
#   --commit SHA     the commit TAG must resolve to (recommended: pins what you reviewed)
#   --work-dir DIR   the checkout (default: CODEX_LITELLM_WORK_DIR or work/codex)
#   --force          discard uncommitted changes / unexported commits in the checkout
#   -h, --help       this text
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tag='' commit='' force='' mode=start
while (($#)); do
  case $1 in
    --tag) tag=${2:?--tag needs a value}; shift 2 ;;
    --commit) commit=${2:?--commit needs a value}; shift 2 ;;
    --work-dir) CL_WORK_DIR=$(abspath "${2:?--work-dir needs a value}"); shift 2 ;;
    --force) force=1; shift ;;
    --continue) mode='continue'; shift ;;
    --skip) mode='skip'; shift ;;
    --abort) mode=abort; shift ;;
    -h | --help) usage_from_header "$0"; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done

mapfile -t patches < <(series_list)

print_table() {
  local state=$1 i p s
  printf '\n%-56s %s\n' "patch" "result"
  for ((i = 0; i < ${#patches[@]}; i++)); do
    p=${patches[i]}
    s=$(awk -F'\t' -v p="$p" '$1 == p { s = $2 } END { print s }' "$state/status")
    printf '%-56s %s\n' "$p" "${s:-not attempted}"
  done
  printf '\n'
}

record() { printf '%s\t%s\n' "$2" "$3" >>"$1/status"; }

# run_from STATE INDEX: applies patches INDEX.. on the current HEAD.
run_from() {
  local state=$1 i=$2 p file out files newtag newcommit tc table
  newtag=$(<"$state/tag") newcommit=$(<"$state/commit")
  for ((; i < ${#patches[@]}; i++)); do
    p=${patches[i]}
    file=$CL_PATCHES/$p
    [[ -f $file ]] || die "patches/series lists $p but $file does not exist"
    patch_diff "$file" >"$state/diff"
    patch_commit_message "$file" >"$state/msg"
    if wgit apply --check --index --whitespace=nowarn "$state/diff" 2>/dev/null; then
      wgit apply --index --whitespace=nowarn "$state/diff"
      record "$state" "$p" clean
    elif out=$(wgit apply -3 --whitespace=nowarn "$state/diff" 2>&1); then
      record "$state" "$p" "merged (needed 3-way)"
    else
      files=$(wgit diff --name-only --diff-filter=U | paste -sd' ' -)
      if [[ -z $files ]]; then
        files=$(sed -n 's/^error: patch failed: \(.*\):[0-9]*$/\1/p' <<<"$out" | LC_ALL=C sort -u | paste -sd' ' -)
      fi
      [[ -n $files ]] || files=$(patch_files "$file" | paste -sd' ' -)
      record "$state" "$p" "CONFLICT: $files"
      printf '%s\n' "$i" >"$state/current"
      print_table "$state"
      {
        printf 'CONFLICT: %s does not apply to %s, even with a 3-way merge.\n' "$p" "$newtag"
        printf 'git apply -3 said:\n'
        printf '  %s\n' "${out//$'\n'/$'\n'  }"
        printf '\nConflicting file(s), left in %s:\n' "$CL_WORK_DIR"
        for f in $files; do printf '  %s\n' "$f"; done
        printf '\nTo resolve:\n'
        printf '  1. edit the files (conflict markers <<<<<<< ======= >>>>>>>; where a hunk could not be\n'
        printf '     placed at all, apply it by hand from %s)\n' "$file"
        printf '  2. git -C %s add <files>\n' "$CL_WORK_DIR"
        printf '  3. git -C %s commit -F %s\n' "$CL_WORK_DIR" "$state/msg"
        printf '  4. scripts/refresh-series.sh --continue    (applies the remaining patches, then\n'
        printf '     updates upstream.lock and runs scripts/export-series.sh)\n'
        printf 'Or: scripts/refresh-series.sh --skip (drop this patch), --abort (give up the refresh).\n'
      } >&2
      exit 2
    fi
    (commit_env "$newcommit"; wgit "${CL_GIT_ID[@]}" commit -q --no-verify --allow-empty --cleanup=verbatim -F "$state/msg")
    info "  $p: $(awk -F'\t' -v p="$p" '$1 == p { s = $2 } END { print s }' "$state/status")"
  done

  tc=$(wgit show "$newcommit:codex-rs/rust-toolchain.toml" 2>/dev/null |
    sed -n 's/^[[:space:]]*channel[[:space:]]*=[[:space:]]*"\([^"]*\)".*/\1/p' | head -n 1)
  if [[ -z $tc ]]; then
    tc=$(lock_get UPSTREAM_TOOLCHAIN)
    warn "no channel in codex-rs/rust-toolchain.toml at $newtag; keeping UPSTREAM_TOOLCHAIN=$tc"
  fi
  step "updating $(basename "$CL_LOCK"): $newtag $newcommit (toolchain $tc)"
  lock_set UPSTREAM_TAG "$newtag"
  lock_set UPSTREAM_COMMIT "$newcommit"
  lock_set UPSTREAM_TOOLCHAIN "$tc"
  table=$(print_table "$state")
  rm -rf "$state"
  wgit update-ref "$CL_APPLIED_REF" HEAD
  "$CL_SCRIPTS/export-series.sh" --work-dir "$CL_WORK_DIR"
  step "refreshed onto $newtag ($newcommit)"
  printf '%s\n\n' "$table"
}

case $mode in
  start)
    [[ -n $tag ]] || die "--tag is required (see --help)"
    "$CL_SCRIPTS/fetch-upstream.sh" --work-dir "$CL_WORK_DIR"
    state=$(refresh_state_dir)
    base=$(lock_get UPSTREAM_COMMIT)
    applied=$(wgit rev-parse -q --verify "$CL_APPLIED_REF" 2>/dev/null || true)
    dirty=$(dirty_files)
    if [[ -n $dirty && -z $force ]]; then
      die "$CL_WORK_DIR has uncommitted changes:" "$dirty" \
        "refresh works from patches/: commit and export them first (scripts/export-series.sh), or pass --force"
    fi
    head=$(wgit rev-parse HEAD)
    if [[ -z $force && $head != "$base" ]] &&
      { [[ -z $applied ]] || { [[ $head != "$applied" ]] && ! wgit merge-base --is-ancestor "$head" "$applied"; }; }; then
      die "$CL_WORK_DIR has commits that were never exported; refresh works from patches/." \
        "Run scripts/export-series.sh first, or pass --force to drop them."
    fi
    fetch_args=(--work-dir "$CL_WORK_DIR" --tag "$tag" --fetch-only)
    [[ -z $commit ]] || fetch_args+=(--commit "$commit")
    "$CL_SCRIPTS/fetch-upstream.sh" "${fetch_args[@]}"
    newcommit=$(wgit rev-parse "refs/tags/$tag^{commit}")
    [[ $newcommit != "$base" ]] || die "upstream.lock already pins $tag ($newcommit): nothing to refresh"
    mkdir -p "$state"
    : >"$state/status"
    printf '%s\n' "$tag" >"$state/tag"
    printf '%s\n' "$newcommit" >"$state/commit"
    printf '%s\n' "$(wgit rev-parse HEAD)" >"$state/orig-head"
    step "refreshing ${#patches[@]} patch(es) from $(lock_get UPSTREAM_TAG) onto $tag (${newcommit:0:8})"
    crates=$(make_crates_commit "$newcommit" "$tag" "$(series_fingerprint)")
    if [[ -n $force ]]; then wgit reset -q --hard; wgit clean -q -fd; else reset_cargo_lock; fi
    wgit checkout -q -B "$CL_BRANCH" "$crates"
    info "  crates: $(crate_dirs | tr '\n' ' ')"
    run_from "$state" 0
    ;;
  continue | skip)
    require_work_dir
    state=$(refresh_state_dir)
    [[ -d $state ]] || die "no refresh in progress in $CL_WORK_DIR"
    i=$(<"$state/current")
    p=${patches[i]}
    unmerged=$(wgit diff --name-only --diff-filter=U)
    if [[ $mode == skip ]]; then
      wgit reset -q --hard
      sed -i "\$s/.*/$p\tdropped (--skip)/" "$state/status"
      info "dropped $p from the refreshed series"
    else
      [[ -z $unmerged ]] || die "still unresolved: $unmerged" "resolve, git add, then commit with: git -C $CL_WORK_DIR commit -F $state/msg"
      if [[ -n $(dirty_files) ]]; then
        die "the resolution of $p is not committed yet:" "$(dirty_files)" \
          "commit it with: git -C $CL_WORK_DIR add <files> && git -C $CL_WORK_DIR commit -F $state/msg"
      fi
      [[ $(commit_trailer HEAD Patch-Name) == "$p" ]] ||
        die "HEAD is not the resolved $p (its commit needs the trailer Patch-Name: $p)" \
          "commit the resolution with: git -C $CL_WORK_DIR commit -F $state/msg"
      sed -i "\$s/\t.*/\tCONFLICT, resolved by hand/" "$state/status"
    fi
    run_from "$state" $((i + 1))
    ;;
  abort)
    require_work_dir
    state=$(refresh_state_dir)
    [[ -d $state ]] || die "no refresh in progress in $CL_WORK_DIR"
    orig=$(<"$state/orig-head")
    wgit reset -q --hard
    wgit clean -q -fd
    if [[ $orig == "$(lock_get UPSTREAM_COMMIT)" ]]; then
      wgit -c advice.detachedHead=false checkout -q --detach "$orig"
    else
      wgit checkout -q -B "$CL_BRANCH" "$orig"
    fi
    rm -rf "$state"
    info "refresh aborted; $CL_WORK_DIR is back at $(wgit rev-parse --short HEAD)"
    ;;
esac
