#!/usr/bin/env bash
# Usage: ./build.sh [--release | --debug] [--cargo-config FILE]... [--work-dir DIR] [--no-smoke]
#
# Builds codex-litellm from the pinned upstream Codex plus the patch series:
#   fetch upstream (upstream.lock) -> apply patches/ -> Cargo.lock drift check
#   -> cargo build --locked --bin codex -> dist/codex-litellm,
#      dist/codex-litellm-<version>-<target>.tar.gz and its .sha256 -> smoke test.
# <version> is <upstream X.Y.Z>-litellm.<patches/VERSION> (the npm package's version).
# The work dir and the cargo target dir are reused, so a second build is incremental.
#
#   --release             optimised build (the default)
#   --debug               debug build (much faster to compile)
#   --cargo-config FILE   extra `cargo --config FILE`, e.g. [patch] tables pointing
#                         dependencies at local stand-ins (repeatable)
#   --work-dir DIR        the upstream checkout (default: work/codex)
#   --no-smoke            skip the smoke test (scripts/smoke.sh) after building
#   -h, --help            this text
#
# Environment:
#   CODEX_UPSTREAM_URL          git URL or local directory to fetch upstream from
#                               (default: UPSTREAM_URL in upstream.lock)
#   RUSTUP_TOOLCHAIN            toolchain to build with (default: upstream's pin)
#   CARGO_TARGET_DIR            cargo target dir (default: work/target)
#   CODEX_LITELLM_CARGO_CONFIG  colon-separated extra cargo --config files
#   CODEX_LITELLM_WORK_DIR      same as --work-dir
#   CODEX_LITELLM_DIST_DIR      output directory (default: dist)
#   CODEX_LITELLM_SMOKE         smoke script to run (default: scripts/smoke.sh)
#   CARGO_BUILD_TARGET          build for this target triple (default: the host's)
#   CARGO_PROFILE_RELEASE_LTO, CARGO_PROFILE_RELEASE_CODEGEN_UNITS
#                               cargo's own overrides of upstream's release profile
#                               (rust-v0.148.0: thin LTO, 4 codegen units)
#   CODEX_LITELLM_STRIP         the strip command for a release binary (default: strip;
#                               empty keeps its symbols, as upstream's profile leaves them)
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/scripts/lib.sh"

profile=release smoke=1 configs=()
while (($#)); do
  case $1 in
    --release) profile=release; shift ;;
    --debug) profile=debug; shift ;;
    --cargo-config) configs+=("${2:?--cargo-config needs a value}"); shift 2 ;;
    --work-dir) CL_WORK_DIR=$(abspath "${2:?--work-dir needs a value}"); shift 2 ;;
    --no-smoke) smoke=''; shift ;;
    -h | --help) usage_from_header "$0"; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done
dist=$(abspath "${CODEX_LITELLM_DIST_DIR:-$CL_ROOT/dist}")
smoke_script=${CODEX_LITELLM_SMOKE:-$CL_SCRIPTS/smoke.sh}
wd=(--work-dir "$CL_WORK_DIR")
cfg=()
for c in "${configs[@]}"; do cfg+=(--cargo-config "$c"); done
start=$SECONDS

step "[1/6] toolchain"
cargo_setup "${configs[@]}"
triple=${CARGO_BUILD_TARGET:-$(rustc -vV | sed -n 's/^host: //p')}

step "[2/6] fetch upstream $(lock_get UPSTREAM_TAG) from $(upstream_url)"
"$CL_SCRIPTS/fetch-upstream.sh" "${wd[@]}"

step "[3/6] apply the patch series (v$(series_version), $(series_list | wc -l) patch(es))"
"$CL_SCRIPTS/apply-series.sh" "${wd[@]}"

step "[4/6] Cargo.lock drift check"
"$CL_SCRIPTS/lock-drift.sh" "${wd[@]}" "${cfg[@]}"

cargo_args=(build --locked --bin codex "${CL_CARGO_CONFIG_ARGS[@]}")
[[ $profile == release ]] && cargo_args+=(--release)
step "[5/6] cargo ${cargo_args[*]} (in $CL_WORK_DIR/codex-rs)"
(cd "$CL_WORK_DIR/codex-rs" && cargo "${cargo_args[@]}")

out_dir=$CARGO_TARGET_DIR
[[ -n ${CARGO_BUILD_TARGET:-} ]] && out_dir+=/$CARGO_BUILD_TARGET
exe=''
[[ $triple == *-windows-* ]] && exe=.exe
bin=$out_dir/$profile/codex$exe
[[ -x $bin ]] || die "cargo finished but $bin does not exist"

step "[6/6] package into $dist"
mkdir -p "$dist"
name=codex-litellm$exe
tarball=codex-litellm-$(release_version)-$triple.tar.gz
cp -f "$bin" "$dist/$name.tmp"
# Upstream's release profile keeps symbols for its packaging to archive; users get the
# binary without them (a third of the size). A Windows binary keeps its symbols in a .pdb.
strip_cmd=${CODEX_LITELLM_STRIP-strip}
if [[ $profile == release && -n $strip_cmd && -z $exe ]]; then
  $strip_cmd "$dist/$name.tmp" || die "$strip_cmd failed on $dist/$name.tmp (set CODEX_LITELLM_STRIP= to keep the symbols)"
fi
if cmp -s "$dist/$name.tmp" "$dist/$name" && [[ -f $dist/$tarball && -f $dist/$tarball.sha256 ]] &&
  (cd "$dist" && sha256sum --status -c "$tarball.sha256"); then
  rm -f "$dist/$name.tmp"
  info "  binary unchanged: $dist is up to date"
else
  mv -f "$dist/$name.tmp" "$dist/$name"
  # Reproducible: fixed owner, order and mtime (the upstream commit's time), gzip -n.
  epoch=$(git -C "$CL_WORK_DIR" log -1 --format=%ct "$(lock_get UPSTREAM_COMMIT)")
  tar -C "$dist" --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$epoch" -cf - "$name" |
    gzip -n >"$dist/$tarball.tmp"
  mv -f "$dist/$tarball.tmp" "$dist/$tarball"
  (cd "$dist" && sha256sum "$tarball" >"$tarball.sha256")
fi
info "  $dist/$name"
info "  $dist/$tarball"
info "  $dist/$tarball.sha256: $(cut -c1-16 "$dist/$tarball.sha256")..."

if [[ -z $smoke ]]; then
  info "smoke test skipped (--no-smoke)"
elif [[ -f $smoke_script ]]; then
  step "smoke test: $smoke_script $dist/$name"
  if [[ -x $smoke_script ]]; then "$smoke_script" "$dist/$name"; else bash "$smoke_script" "$dist/$name"; fi
else
  info "smoke test skipped: $smoke_script does not exist yet"
fi
step "done in $((SECONDS - start))s: $dist/$name ($profile, $triple)"
