#!/usr/bin/env bats
# scripts/fetch-upstream.sh against a synthetic upstream.

load helpers

setup_file() { common_setup_file; }
setup() { common_setup; }

@test "every script answers --help" {
  for s in fetch-upstream apply-series export-series refresh-series check lock-drift test install-test-tools; do
    run "$SCRIPTS/$s.sh" --help
    assert_success
    assert_output_has "Usage: scripts/$s.sh"
  done
  run "$REPO_ROOT/build.sh" --help
  assert_success
  assert_output_has "Usage: ./build.sh" "--cargo-config" "--no-smoke"
}

@test "fetch: shallow clone of the pinned tag from a local bare repository" {
  run "$SCRIPTS/fetch-upstream.sh"
  assert_success
  assert_output_has "cloning rust-v0.1.0" "$V1 (pristine)"
  [[ $(git -C "$WD" rev-parse HEAD) == "$V1" ]]
  [[ $(git -C "$WD" rev-parse --is-shallow-repository) == true ]]
  [[ $(git -C "$WD" rev-parse 'refs/tags/rust-v0.1.0^{commit}') == "$V1" ]]
  [[ -f $WD/codex-rs/core/src/lib.rs ]]
}

@test "fetch: file:// URL and a non-bare directory via CODEX_UPSTREAM_URL" {
  CODEX_UPSTREAM_URL="file://$UPSTREAM.git" run "$SCRIPTS/fetch-upstream.sh"
  assert_success
  [[ $(git -C "$WD" rev-parse HEAD) == "$V1" ]]

  CODEX_UPSTREAM_URL="$UPSTREAM" run "$SCRIPTS/fetch-upstream.sh" --work-dir "$BATS_TEST_TMPDIR/other"
  assert_success
  [[ $(git -C "$BATS_TEST_TMPDIR/other" rev-parse HEAD) == "$V1" ]]
  [[ $(git -C "$BATS_TEST_TMPDIR/other" rev-parse --is-shallow-repository) == true ]]
}

@test "fetch: reuses an existing checkout instead of cloning again" {
  "$SCRIPTS/fetch-upstream.sh"
  touch "$WD/.git/marker"
  run "$SCRIPTS/fetch-upstream.sh"
  assert_success
  assert_output_has "reusing $WD"
  assert_output_lacks "cloning"
  [[ -f $WD/.git/marker ]]
}

@test "fetch: a new pin is fetched into the existing checkout and checked out" {
  "$SCRIPTS/fetch-upstream.sh"
  write_lock rust-v0.2.0
  run "$SCRIPTS/fetch-upstream.sh"
  assert_success
  assert_output_has "fetching rust-v0.2.0" "moving $WD to rust-v0.2.0"
  [[ $(git -C "$WD" rev-parse HEAD) == $(git -C "$UPSTREAM" rev-parse 'rust-v0.2.0^{commit}') ]]
}

@test "fetch: a tag that resolves to another commit than the lock's is refused" {
  write_lock rust-v0.1.0 0123456789abcdef0123456789abcdef01234567
  run "$SCRIPTS/fetch-upstream.sh"
  assert_failure
  assert_output_has "rust-v0.1.0 from $UPSTREAM.git resolves to $V1" \
    "pins 0123456789abcdef0123456789abcdef01234567" \
    "CODEX_UPSTREAM_URL" "scripts/refresh-series.sh --tag rust-v0.1.0 --commit $V1"
  # ... and also when the checkout already exists.
  write_lock rust-v0.1.0
  "$SCRIPTS/fetch-upstream.sh"
  write_lock rust-v0.1.0 0123456789abcdef0123456789abcdef01234567
  run "$SCRIPTS/fetch-upstream.sh"
  assert_failure
  assert_output_has "resolves to $V1"
}

@test "fetch: a missing tag or a bad URL says what to check" {
  write_lock rust-v9.9.9 0123456789abcdef0123456789abcdef01234567
  run "$SCRIPTS/fetch-upstream.sh"
  assert_failure
  assert_output_has "could not clone rust-v9.9.9" "CODEX_UPSTREAM_URL"
  [[ ! -e $WD ]]
}

@test "fetch: a work dir that is not a git checkout is refused" {
  mkdir -p "$WD"
  echo hi >"$WD/file"
  run "$SCRIPTS/fetch-upstream.sh"
  assert_failure
  assert_output_has "exists but is not a git checkout"
}

@test "fetch: a checkout on an old pin with unexported commits is not moved" {
  fetch_and_apply
  echo "// local" >>"$WD/codex-rs/core/src/lib.rs"
  tgit -C "$WD" commit -q -am "local edit"
  write_lock rust-v0.2.0
  run "$SCRIPTS/fetch-upstream.sh"
  assert_failure
  assert_output_has "never exported"
  [[ $(git -C "$WD" log -1 --format=%s) == "local edit" ]]
}
