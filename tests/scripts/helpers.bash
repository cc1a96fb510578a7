# shellcheck shell=bash
# shellcheck disable=SC2034,SC2154 # bats sets $status/$output; the tests use the variables set here
# Shared setup for the script tests (bats). Each test gets its own upstream.lock,
# copy of the fixture series, work dir and dist dir under $BATS_TEST_TMPDIR, pointed
# at the scripts through CODEX_LITELLM_* variables: the real repo is never touched.
#
# The synthetic "upstream" is a git repo made from tests/fixtures/upstream with tags:
#   rust-v0.1.0           the pinned tag (annotated) the fixture series is made against
#   rust-v0.2.0           README, toolchain and a far-away line changed: every patch clean
#   rust-v0.2.0-merge     a context line of patch 0002 changed: 0002 needs a 3-way merge
#   rust-v0.2.0-conflict  the very line patch 0002 changes was changed: conflict

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
FIXTURES=$REPO_ROOT/tests/fixtures
SCRIPTS=$REPO_ROOT/scripts

# git with a fixed identity and dates, for the test's own commits.
tgit() {
  GIT_AUTHOR_DATE=2026-01-01T00:00:00Z GIT_COMMITTER_DATE=2026-01-01T00:00:00Z \
    git -c user.name=Tester -c user.email=tester@example.invalid \
    -c commit.gpgsign=false -c tag.gpgsign=false "$@"
}

# make_upstream DIR: the synthetic upstream repository (non-bare) plus DIR.git (bare).
make_upstream() {
  local dir=$1
  git init -q -b main "$dir"
  cp -R "$FIXTURES/upstream/." "$dir/"
  tgit -C "$dir" add -A
  tgit -C "$dir" commit -q -m "upstream 0.1.0"
  tgit -C "$dir" tag -a rust-v0.1.0 -m "rust-v0.1.0"

  printf '\nRelease 0.2.0.\n' >>"$dir/README.md"
  sed -i 's/channel = "1.90.0"/channel = "1.91.0"/' "$dir/codex-rs/rust-toolchain.toml"
  sed -i 's/^    300$/    600/' "$dir/codex-rs/core/src/lib.rs"
  tgit -C "$dir" commit -q -am "upstream 0.2.0"
  tgit -C "$dir" tag -a rust-v0.2.0 -m "rust-v0.2.0"

  tgit -C "$dir" checkout -q -b merge rust-v0.1.0
  sed -i 's|/// Greeting shown at start-up.|/// Greeting shown when the TUI starts.|' "$dir/codex-rs/core/src/lib.rs"
  tgit -C "$dir" commit -q -am "upstream 0.2.0 (moves context of patch 0002)"
  tgit -C "$dir" tag rust-v0.2.0-merge

  tgit -C "$dir" checkout -q -b conflict rust-v0.1.0
  sed -i 's|vec!\["responses"\]|vec!["responses", "realtime"]|' "$dir/codex-rs/core/src/lib.rs"
  tgit -C "$dir" commit -q -am "upstream 0.2.0 (changes the line patch 0002 changes)"
  tgit -C "$dir" tag rust-v0.2.0-conflict
  tgit -C "$dir" checkout -q main

  git clone -q --bare "$dir" "$dir.git"
}

# write_lock TAG [COMMIT]: the test's upstream.lock, pinned to TAG of the synthetic upstream.
write_lock() {
  local commit=${2:-$(git -C "$UPSTREAM" rev-parse "$1^{commit}")}
  cat >"$CODEX_LITELLM_LOCK" <<EOF
# test lock
UPSTREAM_URL=$UPSTREAM.git
UPSTREAM_TAG=$1
UPSTREAM_COMMIT=$commit
# toolchain
UPSTREAM_TOOLCHAIN=$TEST_TOOLCHAIN
EOF
}

common_setup_file() {
  export UPSTREAM=$BATS_FILE_TMPDIR/upstream
  [[ -d $UPSTREAM ]] || make_upstream "$UPSTREAM"
}

common_setup() {
  # A toolchain that exists here, for the lock (the fixture's rust-toolchain.toml pins
  # one that need not be installed; the scripts always set RUSTUP_TOOLCHAIN).
  TEST_TOOLCHAIN=${RUSTUP_TOOLCHAIN:-$(cd / && rustup show active-toolchain 2>/dev/null | awk '{print $1; exit}')}
  TEST_TOOLCHAIN=${TEST_TOOLCHAIN:-stable}
  unset CODEX_UPSTREAM_URL RUSTUP_TOOLCHAIN CODEX_LITELLM_CARGO_CONFIG GIT_DIR GIT_WORK_TREE GIT_INDEX_FILE
  # No global or system git config: the scripts must not need a git identity.
  export GIT_CONFIG_GLOBAL=$BATS_TEST_TMPDIR/no-gitconfig GIT_CONFIG_NOSYSTEM=1
  : >"$GIT_CONFIG_GLOBAL"
  export CODEX_LITELLM_LOCK=$BATS_TEST_TMPDIR/upstream.lock
  export CODEX_LITELLM_PATCHES_DIR=$BATS_TEST_TMPDIR/patches
  export CODEX_LITELLM_WORK_DIR=$BATS_TEST_TMPDIR/work/codex
  export CODEX_LITELLM_DIST_DIR=$BATS_TEST_TMPDIR/dist
  export CARGO_TARGET_DIR=$BATS_FILE_TMPDIR/target
  export CARGO_NET_OFFLINE=true
  cp -R "$FIXTURES/series" "$CODEX_LITELLM_PATCHES_DIR"
  write_lock rust-v0.1.0
  WD=$CODEX_LITELLM_WORK_DIR
  P=$CODEX_LITELLM_PATCHES_DIR
  V1=$(git -C "$UPSTREAM" rev-parse 'rust-v0.1.0^{commit}')
}

fetch_and_apply() {
  "$SCRIPTS/fetch-upstream.sh" >/dev/null
  "$SCRIPTS/apply-series.sh" >/dev/null
}

# Sha of the commit carrying Patch-Name: NAME in the work dir.
patch_commit() {
  git -C "$WD" log --format='%H %(trailers:key=Patch-Name,valueonly,separator=)' |
    awk -v n="$1" '$2 == n { print $1; exit }'
}

assert_success() {
  if [[ $status -ne 0 ]]; then
    printf 'expected success, got status %s; output:\n%s\n' "$status" "$output" >&2
    return 1
  fi
}

assert_failure() {
  if [[ $status -eq 0 ]]; then
    printf 'expected failure, got success; output:\n%s\n' "$output" >&2
    return 1
  fi
}

# assert_output_has TEXT...: every TEXT occurs in $output (fixed strings).
assert_output_has() {
  local t
  for t in "$@"; do
    if [[ $output != *"$t"* ]]; then
      printf 'output lacks: %s\n--- output ---\n%s\n' "$t" "$output" >&2
      return 1
    fi
  done
}

assert_output_lacks() {
  local t
  for t in "$@"; do
    if [[ $output == *"$t"* ]]; then
      printf 'output unexpectedly has: %s\n--- output ---\n%s\n' "$t" "$output" >&2
      return 1
    fi
  done
}

# The work tree is exactly the pristine upstream commit: HEAD there, nothing changed.
assert_pristine() {
  local head
  head=$(git -C "$WD" rev-parse HEAD)
  [[ $head == "$V1" ]] || { echo "HEAD is $head, not the pristine $V1" >&2; return 1; }
  [[ -z $(git -C "$WD" status --porcelain --untracked-files=all) ]] ||
    { git -C "$WD" status --short >&2; echo "work tree is not clean" >&2; return 1; }
}

# refute CMD...: CMD must fail (a bare `! cmd` does not fail a bats test).
refute() {
  if "$@"; then
    printf 'expected to fail, but succeeded: %s\n' "$*" >&2
    return 1
  fi
}
