#!/usr/bin/env bash
# Usage: scripts/upstream-follow.sh [--report FILE] [--github-output FILE] [--work-dir DIR]
#
# One step of following upstream (the scheduled workflow's core, also handy by hand):
# asks scripts/upstream-check.sh for a newer stable tag and, if there is one, carries the
# series onto it with scripts/refresh-series.sh. Prints key=value lines:
#
#   status=up-to-date | refreshed | conflict | failed
#   tag=rust-vX.Y.Z  commit=<sha>  (the newer tag; absent when up to date)
#   patch=NNNN-name.patch          (conflict: the patch that stopped applying)
#
# refreshed: upstream.lock and patches/ now match the new tag (commit them; build and
#            test first).
# conflict:  the refresh is aborted, so the work dir, upstream.lock and patches/ are as
#            before; the report names the patch, its files and the hunks that no longer
#            apply, with the commands to resolve it by hand.
# The report (Markdown, for a pull request or an issue) goes to FILE.
# Exit status 0 for up-to-date, refreshed and conflict; 1 for anything else.
#
#   --report FILE          write the Markdown report here (default: stdout after the keys)
#   --github-output FILE   also append the key=value lines to FILE (e.g. "$GITHUB_OUTPUT")
#   --work-dir DIR         the upstream checkout (default: CODEX_LITELLM_WORK_DIR or work/codex)
#   -h, --help             this text
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

report='' gh_output=''
while (($#)); do
  case $1 in
    --report) report=$(abspath "${2:?--report needs a value}"); shift 2 ;;
    --github-output) gh_output=${2:?--github-output needs a value}; shift 2 ;;
    --work-dir) CL_WORK_DIR=$(abspath "${2:?--work-dir needs a value}"); shift 2 ;;
    -h | --help) usage_from_header "$0"; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done
export CODEX_LITELLM_WORK_DIR=$CL_WORK_DIR
tmp=$(mktemp -d "${TMPDIR:-/tmp}/codex-litellm-follow.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

keys=()
emit() {
  keys+=("$1=$2")
}
finish() {
  printf '%s\n' "${keys[@]}"
  [[ -z $gh_output ]] || printf '%s\n' "${keys[@]}" >>"$gh_output"
  if [[ -n $report ]]; then cat "$tmp/report" >"$report"; else printf '\n'; cat "$tmp/report"; fi
  exit "$1"
}
: >"$tmp/report"

"$CL_SCRIPTS/upstream-check.sh" >"$tmp/check" 2>"$tmp/check.err" || {
  emit status failed
  { printf 'upstream-check.sh failed:\n\n```\n'; cat "$tmp/check.err"; printf '```\n'; } >"$tmp/report"
  finish 1
}
get() { sed -n "s/^$1=//p" "$tmp/check"; }
old=$(get current_tag) tag=$(get latest_tag) commit=$(get latest_commit)
if [[ $(get update_available) != true ]]; then
  emit status up-to-date
  printf 'upstream.lock pins %s, the newest stable upstream tag.\n' "$old" >"$tmp/report"
  finish 0
fi
emit tag "$tag"
emit commit "$commit"

rc=0
"$CL_SCRIPTS/refresh-series.sh" --tag "$tag" --commit "$commit" >"$tmp/refresh" 2>&1 || rc=$?
# The per-patch table refresh prints: from its header line to the next blank line.
table=$(awk '/^patch +result$/ { on = 1 } on && /^$/ { if (seen) exit } on { print; seen = 1 }' "$tmp/refresh")

if ((rc == 0)); then
  emit status refreshed
  # shellcheck disable=SC2016 # backquotes are Markdown
  {
    printf 'Moves the series from %s to **%s** (`%s`), made by `scripts/upstream-follow.sh`.\n\n' "$old" "$tag" "$commit"
    printf '```\n%s\n```\n\n' "$table"
    printf 'Patches marked "merged (needed 3-way)" were placed by a 3-way merge: review their diff.\n'
  } >"$tmp/report"
  finish 0
fi

if ((rc != 2)); then
  emit status failed
  { printf 'scripts/refresh-series.sh --tag %s failed (exit %s):\n\n```\n' "$tag" "$rc"; tail -n 60 "$tmp/refresh"; printf '```\n'; } >"$tmp/report"
  finish 1
fi

# A conflict: name the patch, its files and the hunks that do not apply to the tree the
# refresh stopped on (each hunk tried alone, in a private index), then abort.
patch=$(sed -n 's/^CONFLICT: \([^ ]*\) does not apply to .*/\1/p' "$tmp/refresh" | head -n 1)
conflict_files=$(awk -v p="$patch" '$1 == p { sub(/^[^ ]+ +CONFLICT: /, ""); print; exit }' <<<"$table")
emit status conflict
emit patch "$patch"
file=$CL_PATCHES/$patch
offset=$(($(patch_diff_offset "$file") - 1))
mkdir -p "$tmp/hunks"
patch_diff "$file" | awk -v dir="$tmp/hunks" -v off="$offset" '
  BEGIN { n = 0 }
  /^diff --git / { hdr = $0 "\n"; inhdr = 1; f = $0; sub(/^diff --git a\//, "", f); sub(/ b\/.*$/, "", f); next }
  inhdr && !/^@@/ { hdr = hdr $0 "\n"; next }
  /^@@/ { inhdr = 0; n++; out = dir "/" n ".patch"; printf "%s", hdr > out
          print n "\t" f "\t" (NR + off) "\t" $0 > (dir "/index") }
  n && !inhdr { print > out }'
failing=()
if [[ -f $tmp/hunks/index ]]; then
  export GIT_INDEX_FILE=$tmp/index
  wgit read-tree HEAD
  while IFS=$'\t' read -r n f line header; do
    [[ " $conflict_files " == *" $f "* ]] || continue
    if ! wgit apply --cached --check --whitespace=nowarn "$tmp/hunks/$n.patch" 2>/dev/null; then
      failing+=("- \`$f\` — $patch:$line \`$header\`")
    fi
  done <"$tmp/hunks/index"
  unset GIT_INDEX_FILE
fi
"$CL_SCRIPTS/refresh-series.sh" --abort >/dev/null 2>&1 || warn "could not abort the refresh in $CL_WORK_DIR"
said=$(sed -n '/^git apply -3 said:$/,/^Conflicting file/p' "$tmp/refresh" | sed '1d;$d')
# shellcheck disable=SC2016 # backquotes are Markdown
{
  printf 'Upstream tagged **%s** (`%s`). Carrying the series onto it from %s stopped at **%s**:\n' "$tag" "$commit" "$old" "$patch"
  printf 'a 3-way merge left conflicts in %s.\n\n' "$conflict_files"
  if ((${#failing[@]})); then
    printf 'Hunks of %s that no longer apply to %s (patch file line, hunk header):\n\n' "$patch" "$tag"
    printf '%s\n' "${failing[@]}"
  else
    printf 'Each hunk applies alone; together they conflict (see the files above).\n'
  fi
  printf '\nResult per patch:\n\n```\n%s\n```\n\n' "$table"
  printf 'git apply -3 said:\n\n```\n%s\n```\n\n' "$said"
  printf 'To resolve (see docs/UPSTREAM-TRACKING.md):\n\n```sh\n'
  printf 'scripts/refresh-series.sh --tag %s --commit %s\n' "$tag" "$commit"
  printf '# fix the conflict markers in work/codex, git add, commit -F <the printed message file>\n'
  printf 'scripts/refresh-series.sh --continue\n./build.sh && scripts/test.sh\n```\n'
} >"$tmp/report"
finish 0
