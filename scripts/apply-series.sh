#!/usr/bin/env bash
# Usage: scripts/apply-series.sh [--work-dir DIR] [--force]
#
# Applies the patch series to the upstream checkout (run scripts/fetch-upstream.sh
# first), as commits on the branch `codex-litellm` on top of the pinned commit:
#   1. "codex-litellm: add crates": patches/crates/* copied into codex-rs/, each with
#      a generated series.env (UPSTREAM_TAG, UPSTREAM_COMMIT, SERIES_VERSION) for build
#      scripts, and a Series-Fingerprint trailer (hash of VERSION, series, patches and
#      crates);
#   2. one commit per patch in patches/series order, the patch header as message
#      plus a trailer `Patch-Name: <file>`.
# The commits are built in a private index; the work tree only moves once every
# patch applied. If a patch does not apply, the report names the patch, the file and
# the failing hunk, and the work tree is left at the pristine upstream commit.
#
# Re-running is safe: if the tree already carries this exact series it says
# "already applied" and exits 0; if the series changed, it re-applies from the
# pristine commit, refusing when that would throw away uncommitted or unexported
# work (unless --force).
#
#   --work-dir DIR   the checkout (default: CODEX_LITELLM_WORK_DIR or work/codex)
#   --force          discard uncommitted changes and unexported commits in the checkout
#   -h, --help       this text
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

force=''
while (($#)); do
  case $1 in
    --work-dir) CL_WORK_DIR=$(abspath "${2:?--work-dir needs a value}"); shift 2 ;;
    --force) force=1; shift ;;
    -h | --help) usage_from_header "$0"; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done

require_work_dir
require_no_refresh
tag=$(lock_get UPSTREAM_TAG)
base=$(lock_get UPSTREAM_COMMIT)
wgit cat-file -e "$base^{commit}" 2>/dev/null ||
  die "$CL_WORK_DIR does not have the pinned commit $base ($tag)" "run scripts/fetch-upstream.sh first"
mapfile -t patches < <(series_list)
fingerprint=$(series_fingerprint)
head=$(wgit rev-parse HEAD)
short=${base:0:8}

wgit merge-base --is-ancestor "$base" "$head" ||
  die "$CL_WORK_DIR is not based on $tag ($short)" "run scripts/fetch-upstream.sh first"

# ---- where are we? -----------------------------------------------------------------
dirty=$(dirty_files)
applied_ref=$(wgit rev-parse -q --verify "$CL_APPLIED_REF" 2>/dev/null || true)
crates_commit=
[[ $head == "$base" ]] || crates_commit=$(find_crates_commit "$base")
have_fp=
[[ -z $crates_commit ]] || have_fp=$(commit_trailer "$crates_commit" Series-Fingerprint)

refuse() {
  [[ -n $force ]] && { warn "$1; discarding (--force)"; return 0; }
  die "$@"
}

if [[ -n $have_fp && $have_fp == "$fingerprint" ]]; then
  info "already applied: $CL_WORK_DIR carries this series (fingerprint ${fingerprint:0:12}) on $tag ($short)"
  if [[ -n $applied_ref && $applied_ref != "$head" ]] && ! wgit merge-base --is-ancestor "$head" "$applied_ref"; then
    info "note: $(wgit rev-list --count "$applied_ref..HEAD") local commit(s) on top, not exported yet (scripts/export-series.sh)"
  fi
  if [[ -n $dirty ]]; then
    info "note: uncommitted changes in the work tree:"
    printf '%s\n' "$dirty"
  fi
  exit 0
fi

if [[ -n $dirty ]]; then
  refuse "$CL_WORK_DIR has uncommitted changes (a developer's unexported edits, or a half-applied patch):" \
    "$dirty" \
    "Commit and export them first (git commit, then scripts/export-series.sh; see docs/PATCHES.md)," \
    "or pass --force to discard them."
fi
if [[ $head != "$base" ]]; then
  if [[ -z $crates_commit ]]; then
    refuse "$CL_WORK_DIR has $(wgit rev-list --count "$base..HEAD") commit(s) on top of $tag that apply-series.sh did not make." \
      "Export them or move them away, or pass --force to reset the checkout to $tag."
  elif [[ -z $applied_ref ]] || { [[ $applied_ref != "$head" ]] && ! wgit merge-base --is-ancestor "$head" "$applied_ref"; }; then
    refuse "$CL_WORK_DIR has commits on top of the applied series that were never exported:" \
      "$(wgit log --format='  %h %s' "${applied_ref:-$crates_commit}..HEAD")" \
      "Run scripts/export-series.sh first (it writes them into patches/), or pass --force to drop them."
  fi
  info "series changed since it was applied (fingerprint ${have_fp:0:12} -> ${fingerprint:0:12}); re-applying from $tag"
fi

# Moves the checkout to COMMIT on the codex-litellm branch (or detached at the base).
move_tree() {
  if [[ -n $force ]]; then
    wgit reset -q --hard
    wgit clean -q -fd
  else
    reset_cargo_lock
  fi
  if [[ $1 == "$base" ]]; then
    wgit -c advice.detachedHead=false checkout -q --detach "$base"
    wgit update-ref -d "$CL_APPLIED_REF" 2>/dev/null || true
  else
    wgit checkout -q -B "$CL_BRANCH" "$1"
    wgit update-ref "$CL_APPLIED_REF" "$1"
  fi
}

# ---- failure report -------------------------------------------------------------------
# report_failure PATCH_FILE DIFF_FILE GIT_OUTPUT
report_failure() {
  local patch=$1 name offset file line hunk
  name=$(basename "$patch")
  offset=$(patch_diff_offset "$patch")
  {
    printf '\nFAILED: patch %s does not apply to %s (%s).\n' "$name" "$tag" "$short"
    printf 'git apply said:\n'
    grep -E '^(error|fatal|warning):' <<<"$3" | sed 's/^/  /' || printf '%s\n' "$3" | sed 's/^/  /'
    while IFS=$'\t' read -r file line; do
      printf '\nfile: %s, failing hunk (starts at upstream line %s):\n' "$file" "$line"
      hunk=$(awk -v file="$file" -v line="$line" -v off="$offset" '
        /^diff --git / { infile = ($3 == "a/" file); printing = 0; next }
        infile && /^@@ / {
          split($2, old, ","); start = substr(old[1], 2)
          if (start == line && !done) { printing = 1; n = 0; done = 1
            printf "  %s:%d: %s\n", "PATCH", NR + off - 1, $0; next }
          printing = 0
        }
        printing && n < 8 { printf "  %s\n", $0; n++ }
      ' "$2")
      printf '%s\n' "${hunk//PATCH/$name}"
    done < <(sed -n 's/^error: patch failed: \(.*\):\([0-9]*\)$/\1\t\2/p' <<<"$3")
    printf '\nThe upstream code around that hunk changed, or an earlier patch changed it.\n'
    printf 'Fix the patch (edit it, or re-create it in the work tree: see docs/PATCHES.md),\n'
    printf 'or refresh the series against upstream with scripts/refresh-series.sh.\n'
  } >&2
}

# ---- apply, in a private index ---------------------------------------------------------------
tmp=$(mktemp -d "${TMPDIR:-/tmp}/codex-litellm-apply.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

step "applying ${#patches[@]} patch(es) + $(crate_dirs | wc -l) crate(s) onto $tag ($short)"
commit=$(make_crates_commit "$base" "$tag" "$fingerprint")
info "  crates: $(crate_dirs | tr '\n' ' ')"
export GIT_INDEX_FILE=$tmp/index
wgit read-tree "$commit"
i=0
for p in "${patches[@]}"; do
  i=$((i + 1))
  file=$CL_PATCHES/$p
  [[ -f $file ]] || die "patches/series lists $p but $file does not exist"
  patch_diff "$file" >"$tmp/diff"
  if ! out=$(wgit apply --cached -v --whitespace=nowarn "$tmp/diff" 2>&1); then
    unset GIT_INDEX_FILE
    report_failure "$file" "$tmp/diff" "$out"
    if [[ $head != "$base" || -n $dirty ]]; then
      move_tree "$base"
      printf '\nThe work tree was reset to the pristine %s (%s); nothing of the series is applied.\n' "$tag" "$short" >&2
    else
      printf '\nThe work tree is unchanged: the pristine %s (%s).\n' "$tag" "$short" >&2
    fi
    exit 1
  fi
  patch_commit_message "$file" >"$tmp/msg"
  tree=$(wgit write-tree)
  commit=$(commit_env "$base"; wgit "${CL_GIT_ID[@]}" commit-tree "$tree" -p "$commit" -F "$tmp/msg")
  info "  [$i/${#patches[@]}] $p"
done
unset GIT_INDEX_FILE

old_tree=$(wgit rev-parse "HEAD^{tree}")
move_tree "$commit"
info "applied: branch $CL_BRANCH at $(wgit rev-parse --short HEAD) = $tag ($short) + crates + ${#patches[@]} patch(es), series v$(series_version), fingerprint ${fingerprint:0:12}"
if [[ $head != "$base" && $old_tree == "$(wgit rev-parse "HEAD^{tree}")" ]]; then
  info "(the resulting tree is identical to the previous one: no file changed)"
fi
