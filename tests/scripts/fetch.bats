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
  assert_output_has "could not fetch rust-v9.9.9" "neither that tag nor the pinned commit" "CODEX_UPSTREAM_URL"
  [[ ! -e $WD ]]
}

# A mirror that merged the release commit but not its tag (how rust-v0.148.0 is found).
make_tagless_mirror() {
  git clone -q --bare --no-tags "$UPSTREAM" "$BATS_TEST_TMPDIR/tagless.git"
  git -C "$BATS_TEST_TMPDIR/tagless.git" tag -l | grep -q . && return 1
  git -C "$BATS_TEST_TMPDIR/tagless.git" branch -q release-0.1 "$V1"
}

@test "fetch: a source without the tag but with the pinned commit gives the commit, tagged locally" {
  make_tagless_mirror
  CODEX_UPSTREAM_URL=$BATS_TEST_TMPDIR/tagless.git run "$SCRIPTS/fetch-upstream.sh"
  assert_success
  assert_output_has "has no tag rust-v0.1.0" "took commit $V1 for rust-v0.1.0" \
    "codex-rs/Cargo.toml says version 0.1.0" "$V1 (pristine)"
  [[ $(git -C "$WD" rev-parse HEAD) == "$V1" ]]
  [[ $(git -C "$WD" rev-parse 'refs/tags/rust-v0.1.0^{commit}') == "$V1" ]]

  # The same into the existing checkout, for a newer release it does not have yet.
  local scratch=$BATS_TEST_TMPDIR/scratch
  git clone -q "$BATS_TEST_TMPDIR/tagless.git" "$scratch"
  sed -i 's/^version = "0.1.0"/version = "0.2.0"/' "$scratch/codex-rs/Cargo.toml"
  tgit -C "$scratch" commit -q -am "release 0.2.0"
  tgit -C "$scratch" push -q origin HEAD:refs/heads/release-0.2
  local v2
  v2=$(git -C "$scratch" rev-parse HEAD)
  write_lock rust-v0.2.0 "$v2"
  CODEX_UPSTREAM_URL=$BATS_TEST_TMPDIR/tagless.git run "$SCRIPTS/fetch-upstream.sh"
  assert_success
  assert_output_has "took commit $v2 for rust-v0.2.0" "moving"
  [[ $(git -C "$WD" rev-parse HEAD) == "$v2" ]]

  # A pinned commit that is another release is refused; the checkout stays where it was.
  write_lock rust-v0.3.0 "$V1"
  CODEX_UPSTREAM_URL=$BATS_TEST_TMPDIR/tagless.git run "$SCRIPTS/fetch-upstream.sh"
  assert_failure
  assert_output_has "is not release rust-v0.3.0" "says version \"0.1.0\", not \"0.3.0\""
  [[ $(git -C "$WD" rev-parse HEAD) == "$v2" ]]
}

@test "fetch: with the tag present, the tag is used even where the commit is fetchable too" {
  CODEX_UPSTREAM_URL=$UPSTREAM.git run "$SCRIPTS/fetch-upstream.sh"
  assert_success
  assert_output_lacks "has no tag"
  [[ $(git -C "$WD" rev-parse HEAD) == "$V1" ]]
}

@test "fetch: a tagless source whose commit is another release is refused before anything is checked out" {
  make_tagless_mirror
  write_lock rust-v0.3.0 "$V1"
  CODEX_UPSTREAM_URL=$BATS_TEST_TMPDIR/tagless.git run "$SCRIPTS/fetch-upstream.sh"
  assert_failure
  assert_output_has "is not release rust-v0.3.0" "says version \"0.1.0\", not \"0.3.0\"" "UPSTREAM_COMMIT"
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
