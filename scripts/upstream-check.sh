#!/usr/bin/env bash
# Usage: scripts/upstream-check.sh [--github-output FILE]
#
# Is there a newer stable upstream release than upstream.lock pins? Lists the tags of
# upstream (CODEX_UPSTREAM_URL, else UPSTREAM_URL in upstream.lock) without cloning,
# takes the newest stable rust-vX.Y.Z (alpha, beta, rc and other suffixed tags are
# ignored) and prints key=value lines for scripts and $GITHUB_OUTPUT:
#
#   current_tag=rust-v0.125.0        what upstream.lock pins
#   latest_tag=rust-v0.148.0         newest stable tag upstream
#   latest_commit=<sha>              the commit it points at
#   update_available=true|false      latest_tag is newer than current_tag
#
# Exit status 0 either way; 1 when upstream cannot be read or has no stable tag.
#
#   --github-output FILE   also append the lines to FILE (e.g. "$GITHUB_OUTPUT")
#   -h, --help             this text
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

gh_output=''
while (($#)); do
  case $1 in
    --github-output) gh_output=${2:?--github-output needs a value}; shift 2 ;;
    -h | --help) usage_from_header "$0"; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done

current=$(lock_get UPSTREAM_TAG)
url=$(upstream_url)
refs=$(git ls-remote --tags "$url" 'rust-v*' 2>&1) ||
  die "cannot list the tags of $url:" "$refs" "check CODEX_UPSTREAM_URL / UPSTREAM_URL in $(basename "$CL_LOCK")"

# "<sha> refs/tags/<tag>[^{}]": the peeled line (^{}) of an annotated tag is the commit.
# Stable tags only, newest by version; the commit of the newest one.
stable=$(awk '{ t = $2; sub(/^refs\/tags\//, "", t); sub(/\^\{\}$/, "", t) }
  t ~ /^rust-v[0-9]+\.[0-9]+\.[0-9]+$/ { print t }' <<<"$refs" | LC_ALL=C sort -u -V)
[[ -n $stable ]] || die "no stable rust-vX.Y.Z tag at $url"
latest=$(tail -n 1 <<<"$stable")
commit=$(awk -v t="refs/tags/$latest" '$2 == t && !c { c = $1 } $2 == t "^{}" { p = $1 } END { print p ? p : c }' <<<"$refs")

newer=false
if [[ $latest != "$current" && $(printf '%s\n%s\n' "$current" "$latest" | LC_ALL=C sort -V | tail -n 1) == "$latest" ]]; then
  newer=true
fi

result=$(printf 'current_tag=%s\nlatest_tag=%s\nlatest_commit=%s\nupdate_available=%s\n' "$current" "$latest" "$commit" "$newer")
printf '%s\n' "$result"
[[ -z $gh_output ]] || printf '%s\n' "$result" >>"$gh_output"
