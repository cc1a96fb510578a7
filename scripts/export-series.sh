#!/usr/bin/env bash
# Usage: scripts/export-series.sh [--work-dir DIR]
#
# Regenerates patches/ from the work tree's commits on top of the pinned upstream
# commit (the developer loop: apply-series.sh, edit and commit inside codex-rs/, export):
#   - each commit becomes one patch: a commit made by apply-series.sh keeps its file
#     name (its Patch-Name trailer); a new commit becomes a new numbered patch appended
#     to patches/series, named after its subject;
#   - the patch header is the commit message (for a commit without a Description:
#     header one is made from its subject and body); Upstream-Files is corrected when
#     it no longer matches the files the diff touches;
#   - the diff leaves out codex-rs/Cargo.lock and the crate directories;
#   - codex-rs/<dir> of every crate is copied back to patches/crates/<dir> (files
#     removed there are removed here; target/ and the generated series.env are left out).
# Identical input gives byte-identical output: apply then export with no edits
# changes nothing. Refuses to run with uncommitted changes in the work tree.
#
#   --work-dir DIR   the checkout (default: CODEX_LITELLM_WORK_DIR or work/codex)
#   -h, --help       this text
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

while (($#)); do
  case $1 in
    --work-dir) CL_WORK_DIR=$(abspath "${2:?--work-dir needs a value}"); shift 2 ;;
    -h | --help) usage_from_header "$0"; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done

require_work_dir
require_no_refresh
tag=$(lock_get UPSTREAM_TAG)
base=$(lock_get UPSTREAM_COMMIT)
wgit merge-base --is-ancestor "$base" HEAD 2>/dev/null ||
  die "HEAD of $CL_WORK_DIR is not based on $tag ($base) from $(basename "$CL_LOCK")" \
    "export with the upstream.lock the work tree was made against"

dirty=$(dirty_files)
if [[ -n $dirty ]]; then
  mapfile -t commits < <(wgit log --format='%h %s' --grep='^Series-Fingerprint:' --invert-grep "$base..HEAD")
  if ((${#commits[@]})); then
    example=${commits[0]%% *}
    die "$CL_WORK_DIR has uncommitted changes; export only takes committed work:" "$dirty" \
      "Commit them into the patch they belong to; the patch commits are:" \
      "${commits[@]/#/  }" \
      "e.g.  git -C $CL_WORK_DIR commit -a --fixup=$example" \
      "      GIT_SEQUENCE_EDITOR=: git -C $CL_WORK_DIR rebase -i --autosquash $tag" \
      "or make them a new patch: git -C $CL_WORK_DIR commit -a -m 'Subject'; then export again (docs/PATCHES.md)."
  fi
  die "$CL_WORK_DIR has uncommitted changes; export only takes committed work:" "$dirty" \
    "Commit them (git -C $CL_WORK_DIR commit -a -m 'Subject'), then export again (docs/PATCHES.md)."
fi
if [[ -n $(wgit rev-list --merges "$base..HEAD") ]]; then
  die "the history on top of $tag has merge commits; rebase it onto $tag into a linear series first"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/codex-litellm-export.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# Crate dirs: the ones in patches/crates plus any the crates commit added.
crates_commit=$(find_crates_commit "$base")
{
  crate_dirs
  if [[ -n $crates_commit ]]; then
    wgit diff-tree -r --no-commit-id --name-only "$crates_commit^" "$crates_commit" -- codex-rs |
      sed -n 's|^codex-rs/\([^/]*\)/.*|\1|p'
  fi
} | LC_ALL=C sort -u >"$tmp/crate-list"
mapfile -t crates <"$tmp/crate-list"
pathspec=(. ':(exclude)codex-rs/Cargo.lock')
for d in "${crates[@]}"; do pathspec+=(":(exclude)codex-rs/$d"); done

mapfile -t old_names < <(series_list)
next=0
for n in "${old_names[@]}" "$CL_PATCHES"/*.patch; do
  n=${n##*/}
  if [[ $n =~ ^([0-9]+)- ]] && ((10#${BASH_REMATCH[1]} > next)); then next=$((10#${BASH_REMATCH[1]})); fi
done

# slug TEXT: lower-case words joined by '-', cut at a word boundary (<= 48 chars).
slug() {
  tr '[:upper:]' '[:lower:]' <<<"$1" | tr -cs 'a-z0-9' '\n' | awk '
    NF { w = (s == "" ? $0 : s "-" $0); if (length(w) > 48) { if (s == "") s = substr(w, 1, 48); exit }; s = w }
    END { print substr(s, 1, 48) }'
}

# header_from_commit SHA OUT: writes the patch header for SHA to OUT and prints the
# Patch-Name trailer value (empty for a commit apply-series.sh did not make).
# The header is the message minus that trailer paragraph and minus the subject line
# when a "Description:" paragraph follows it (the shape apply-series.sh writes);
# a message without a Description: field gets one made from its subject and body.
header_from_commit() {
  local msg rest last name='' content after
  msg=$(wgit cat-file commit "$1" | sed '1,/^$/d'; printf x)
  msg=${msg%x}
  content=$msg
  rest=${msg%$'\n\n'*}
  if [[ $rest != "$msg" ]]; then
    last=${msg:${#rest}+2}
    name=$(sed -n 's/^Patch-Name:[[:space:]]*//p' <<<"$last" | head -n 1)
    [[ -z $name ]] || content="$rest"$'\n'
  fi
  after=${content#*$'\n\n'}
  if [[ $content == Description:* ]]; then
    printf '%s\n' "${content%$'\n'}" >"$2"
  elif [[ $after != "$content" && $after == Description:* ]]; then
    printf '%s' "$after" >"$2"
  else
    {
      printf 'Description: %s\n' "${content%%$'\n'*}"
      awk 'NR == 1 { next } { line[++n] = $0 }
        END {
          s = 1; while (s <= n && line[s] == "") s++
          e = n; while (e >= s && line[e] == "") e--
          for (i = s; i <= e; i++) print (line[i] == "" ? " ." : " " line[i])
        }' <<<"$content"
      printf 'Upstream-Files:\nForwarded: not-needed\n'
    } >"$2"
  fi
  printf '%s\n' "$name"
}

# fix_upstream_files HEADER NAME FILES...: makes the Upstream-Files field list FILES,
# leaving the header byte-for-byte alone when it already names exactly those files.
fix_upstream_files() {
  local header=$1 name=$2 declared want
  shift 2
  declared=$(awk '
    /^Upstream-Files:/ { on = 1; sub(/^Upstream-Files:/, ""); print; next }
    on && /^[ \t]/ { print; next }
    { on = 0 }' "$header" | tr ', \t' '\n' | grep -v '^$' | LC_ALL=C sort -u || true)
  want=$(printf '%s\n' "$@" | LC_ALL=C sort -u)
  [[ $declared == "$want" ]] && return 0
  local value
  value=$(printf '%s\n' "$@" | LC_ALL=C sort -u | paste -sd, - | sed 's/,/, /g')
  awk -v value="$value" '
    /^Upstream-Files:/ { if (!done) print "Upstream-Files: " value; done = 1; on = 1; next }
    on && /^[ \t]/ { next }
    { on = 0 }
    /^Forwarded:/ && !done { print "Upstream-Files: " value; done = 1 }
    { print }
    END { if (!done) print "Upstream-Files: " value }' "$header" >"$header.new"
  mv "$header.new" "$header"
  info "  note: Upstream-Files of $name corrected to: $value"
}

names=()
declare -A seen=()
step "exporting $(wgit rev-list --count "$base..HEAD") commit(s) on top of $tag (${base:0:8})"
mkdir -p "$tmp/out"
while IFS= read -r sha; do
  if [[ -n $(commit_trailer "$sha" Series-Fingerprint) ]]; then
    continue
  fi
  subject=$(wgit log -1 --format=%s "$sha")
  wgit diff-tree -p --binary --no-renames --no-color --no-ext-diff --no-textconv \
    --abbrev="$CL_DIFF_ABBREV" -U3 --no-commit-id "$sha^" "$sha" -- "${pathspec[@]}" >"$tmp/diff"
  if [[ ! -s $tmp/diff ]]; then
    info "  $(wgit rev-parse --short "$sha") $subject: no change outside the crates/Cargo.lock (nothing to export as a patch)"
    continue
  fi
  name=$(header_from_commit "$sha" "$tmp/header")
  if [[ -z $name || -n ${seen[$name]:-} ]]; then
    next=$((next + 1))
    s=$(slug "$(sed -n '1s/^Description:[[:space:]]*//p' "$tmp/header")")
    name=$(printf '%04d-%s.patch' "$next" "${s:-patch}")
    [[ -n $(sed -n '/^Why:/p' "$tmp/header") ]] ||
      info "  note: new patch $name has no Why: line; add one to its header (commit message or patch file)"
  fi
  seen[$name]=1
  mapfile -t files < <(wgit diff-tree -r --no-renames --name-only --no-commit-id "$sha^" "$sha" -- "${pathspec[@]}")
  fix_upstream_files "$tmp/header" "$name" "${files[@]}"
  { cat "$tmp/header"; printf -- '---\n'; cat "$tmp/diff"; } >"$tmp/out/$name"
  names+=("$name")
done < <(wgit rev-list --reverse "$base..HEAD")

# Write the patches (only those that changed), drop the ones no commit carries.
for name in "${names[@]}"; do
  if [[ ! -f $CL_PATCHES/$name ]]; then
    cp "$tmp/out/$name" "$CL_PATCHES/$name"; info "  new       $name"
  elif ! cmp -s "$tmp/out/$name" "$CL_PATCHES/$name"; then
    cp "$tmp/out/$name" "$CL_PATCHES/$name"; info "  updated   $name"
  else
    info "  unchanged $name"
  fi
done
for name in "${old_names[@]}"; do
  if [[ -z ${seen[$name]:-} && -f $CL_PATCHES/$name ]]; then
    rm -f "$CL_PATCHES/$name"; info "  removed   $name (no commit carries it any more)"
  fi
done

# The series file: untouched when the list is the same; otherwise its leading comment
# block followed by the new list.
if [[ "${names[*]}" != "${old_names[*]}" ]]; then
  {
    [[ -f $CL_PATCHES/series ]] && awk '/^[[:space:]]*(#|$)/ { print; next } { exit }' "$CL_PATCHES/series"
    ((${#names[@]} == 0)) || printf '%s\n' "${names[@]}"
  } >"$tmp/series"
  cp "$tmp/series" "$CL_PATCHES/series"
  info "  updated   series"
fi

# Crates: copy codex-rs/<dir> (as committed at HEAD) back to patches/crates/<dir>.
# sync_dir SRC DST: make DST's files equal SRC's, leaving DST/target alone. The
# generated series.env is not copied back.
sync_dir() {
  local src=$1 dst=$2 f changed=0
  mkdir -p "$dst"
  rm -f "$src/series.env"
  while IFS= read -r f; do
    if ! cmp -s "$src/$f" "$dst/$f" || [[ -x $src/$f && ! -x $dst/$f ]] || [[ ! -x $src/$f && -x $dst/$f ]]; then
      mkdir -p "$(dirname "$dst/$f")"
      cp -p "$src/$f" "$dst/$f"
      changed=1
    fi
  done < <(cd "$src" && find . -type f | sed 's|^\./||' | LC_ALL=C sort)
  while IFS= read -r f; do
    if [[ ! -f $src/$f ]]; then rm -f "$dst/$f"; changed=1; fi
  done < <(cd "$dst" && find . -type f ! -path './target/*' ! -path './series.env' | sed 's|^\./||' | LC_ALL=C sort)
  find "$dst" -mindepth 1 -type d -empty ! -path "$dst/target*" -delete
  return $((1 - changed))
}
for d in "${crates[@]}"; do
  if [[ -z $(wgit ls-tree HEAD "codex-rs/$d") ]]; then
    rm -rf "${CL_PATCHES:?}/crates/$d"
    info "  removed   crates/$d (no longer in codex-rs/)"
    continue
  fi
  mkdir -p "$tmp/crates"
  wgit archive HEAD "codex-rs/$d" | tar -x -C "$tmp/crates"
  if sync_dir "$tmp/crates/codex-rs/$d" "$CL_PATCHES/crates/$d"; then
    info "  updated   crates/$d"
  else
    info "  unchanged crates/$d"
  fi
done

wgit update-ref "$CL_APPLIED_REF" HEAD
info "exported ${#names[@]} patch(es) to $CL_PATCHES (series fingerprint now ${CL_PATCHES:+$(series_fingerprint | cut -c1-12)})"
