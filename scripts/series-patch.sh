#!/usr/bin/env bash
# Usage: scripts/series-patch.sh [--work-dir DIR] [--output FILE]
#
# The whole series as one patch, for people who apply it to upstream themselves (the
# release attaches it): the diff from the pinned upstream commit to the applied series
# in the work dir (run scripts/fetch-upstream.sh and scripts/apply-series.sh first),
# our crates included. Apply it at the root of upstream's UPSTREAM_TAG with
# `git apply codex-litellm-<version>.patch`; the first cargo run then adds our crates to
# codex-rs/Cargo.lock (so build once without --locked, or run `cargo metadata` first).
#
#   --work-dir DIR   the upstream checkout (default: CODEX_LITELLM_WORK_DIR or work/codex)
#   --output FILE    write here instead of stdout
#   -h, --help       this text
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

output=''
while (($#)); do
  case $1 in
    --work-dir) CL_WORK_DIR=$(abspath "${2:?--work-dir needs a value}"); shift 2 ;;
    --output) output=$(abspath "${2:?--output needs a value}"); shift 2 ;;
    -h | --help) usage_from_header "$0"; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done
require_work_dir
require_no_refresh
base=$(lock_get UPSTREAM_COMMIT)
tag=$(lock_get UPSTREAM_TAG)
applied=$(wgit rev-parse -q --verify "$CL_APPLIED_REF" 2>/dev/null || true)
[[ -n $applied && $(wgit rev-parse HEAD) == "$applied" ]] ||
  die "$CL_WORK_DIR does not hold the applied series" "run scripts/fetch-upstream.sh && scripts/apply-series.sh first"
[[ -z $(dirty_files) ]] || die "$CL_WORK_DIR has uncommitted changes:" "$(dirty_files)" "export or discard them first"

emit() {
  printf 'codex-litellm %s: the whole patch series as one patch.\n\n' "$(release_version)"
  printf 'Applies to upstream Codex %s (%s):\n' "$tag" "$base"
  printf '  git clone --branch %s %s codex && cd codex && git apply <this file>\n' "$tag" "$(lock_get UPSTREAM_URL)"
  printf 'Patches, in order:\n'
  series_list | sed 's/^/  /'
  printf '\n'
  wgit diff --binary --full-index --abbrev="$CL_DIFF_ABBREV" "$base" HEAD
}
if [[ -n $output ]]; then emit >"$output.tmp" && mv -f "$output.tmp" "$output"; else emit; fi
