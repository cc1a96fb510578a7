#!/usr/bin/env bats
# scripts/apply-series.sh against a synthetic upstream and the fixture series.

load helpers

setup_file() { common_setup_file; }
setup() { common_setup; }

# Break patch 0002's context so that its core/src/lib.rs hunk no longer applies.
break_patch_0002() {
  sed -i 's|^ /// Greeting shown at start-up.$| /// Greeting shown at lift-off.|' "$P/0002-restore-the-chat-wire-api.patch"
  grep -q 'lift-off' "$P/0002-restore-the-chat-wire-api.patch"
}

@test "apply: crates commit, then one commit per patch with header and Patch-Name" {
  mkdir -p "$P/crates/demo-bridge/target/debug"
  echo junk >"$P/crates/demo-bridge/target/debug/junk"
  "$SCRIPTS/fetch-upstream.sh"
  run "$SCRIPTS/apply-series.sh"
  assert_success
  assert_output_has "[1/3] 0001-workspace-register-demo-crates.patch" \
    "[3/3] 0003-give-the-binary-its-codex-litellm-identity.patch" "applied: branch codex-litellm"

  [[ $(git -C "$WD" rev-parse --abbrev-ref HEAD) == codex-litellm ]]
  [[ $(git -C "$WD" rev-list --count "$V1..HEAD") == 4 ]]
  [[ -z $(git -C "$WD" status --porcelain --untracked-files=all) ]]
  # Commit 1: the crates, copied without target/.
  first=$(git -C "$WD" rev-list --reverse "$V1..HEAD" | head -n 1)
  [[ $(git -C "$WD" log -1 --format=%s "$first") == "codex-litellm: add crates" ]]
  [[ -n $(git -C "$WD" log -1 --format='%(trailers:key=Series-Fingerprint,valueonly)' "$first") ]]
  diff <(git -C "$WD" ls-tree -r --name-only "$first" codex-rs/demo-bridge) \
    <(printf '%s\n' codex-rs/demo-bridge/Cargo.toml codex-rs/demo-bridge/series.env codex-rs/demo-bridge/src/lib.rs codex-rs/demo-bridge/src/wire.rs)
  cmp "$WD/codex-rs/demo-bridge/src/lib.rs" "$P/crates/demo-bridge/src/lib.rs"
  # series.env: the series identity, for build scripts.
  grep -qx "UPSTREAM_TAG=rust-v0.1.0" "$WD/codex-rs/demo-bridge/series.env"
  grep -qx "UPSTREAM_COMMIT=$V1" "$WD/codex-rs/demo-bridge/series.env"
  grep -qx "SERIES_VERSION=3" "$WD/codex-rs/demo-bridge/series.env"
  # The patches, in order, each with its header as message and the trailer.
  diff <(git -C "$WD" log --reverse --format='%(trailers:key=Patch-Name,valueonly,separator=)' "$first..HEAD") \
    <(grep -v '^#' "$P/series")
  git -C "$WD" log -1 --format=%B HEAD | grep -qx "Why: codex-litellm installs side by side with stock codex."
  [[ $(git -C "$WD" log -1 --format=%s HEAD) == "Give the binary its codex-litellm identity" ]]
  grep -q 'codex_demo_bridge::wire_api()' "$WD/codex-rs/core/src/lib.rs"
  grep -q '"demo-bridge",' "$WD/codex-rs/Cargo.toml"
}

@test "apply: same inputs give the same commits (deterministic ids)" {
  fetch_and_apply
  first=$(git -C "$WD" rev-parse HEAD)
  "$SCRIPTS/fetch-upstream.sh" --work-dir "$BATS_TEST_TMPDIR/second" >/dev/null
  "$SCRIPTS/apply-series.sh" --work-dir "$BATS_TEST_TMPDIR/second" >/dev/null
  [[ $(git -C "$BATS_TEST_TMPDIR/second" rev-parse HEAD) == "$first" ]]
}

@test "apply: a failing hunk names patch, file and hunk, and leaves the tree pristine" {
  break_patch_0002
  "$SCRIPTS/fetch-upstream.sh"
  run "$SCRIPTS/apply-series.sh"
  assert_failure
  assert_output_has "FAILED: patch 0002-restore-the-chat-wire-api.patch does not apply" \
    "patch failed: codex-rs/core/src/lib.rs:7" \
    "file: codex-rs/core/src/lib.rs, failing hunk (starts at upstream line 7)" \
    "0002-restore-the-chat-wire-api.patch:20: @@ -7,7 +7,7 @@" \
    "+    vec![\"responses\", codex_demo_bridge::wire_api()]" \
    "/// Greeting shown at lift-off." \
    "The work tree is unchanged: the pristine rust-v0.1.0"
  # The report's line number points at the hunk header in the patch file.
  [[ $(sed -n 20p "$P/0002-restore-the-chat-wire-api.patch") == "@@ -7,7 +7,7 @@"* ]]
  assert_pristine
  [[ -z $(git -C "$WD" for-each-ref refs/heads/codex-litellm) ]]
}

@test "apply: a failure on top of an applied series resets to pristine, not half-patched" {
  fetch_and_apply
  break_patch_0002
  run "$SCRIPTS/apply-series.sh"
  assert_failure
  assert_output_has "0002-restore-the-chat-wire-api.patch" "reset to the pristine rust-v0.1.0"
  assert_pristine
  [[ ! -e $WD/codex-rs/demo-bridge ]]
}

@test "apply: a patch touching a file upstream lacks is reported" {
  sed -i 's|codex-rs/cli/src/main.rs|codex-rs/cli/src/missing.rs|g' "$P/0003-give-the-binary-its-codex-litellm-identity.patch"
  "$SCRIPTS/fetch-upstream.sh"
  run "$SCRIPTS/apply-series.sh"
  assert_failure
  assert_output_has "FAILED: patch 0003-give-the-binary-its-codex-litellm-identity.patch" "codex-rs/cli/src/missing.rs"
  assert_pristine
}

@test "apply: running twice is detected, not double-applied" {
  fetch_and_apply
  head=$(git -C "$WD" rev-parse HEAD)
  run "$SCRIPTS/apply-series.sh"
  assert_success
  assert_output_has "already applied"
  [[ $(git -C "$WD" rev-parse HEAD) == "$head" ]]
  [[ $(grep -c 'codex_demo_bridge::wire_api()' "$WD/codex-rs/core/src/lib.rs") == 1 ]]
}

@test "apply: a changed series is re-applied from the pristine commit" {
  fetch_and_apply
  old=$(git -C "$WD" rev-parse HEAD)
  sed -i 's/^Why: the point of the whole series.$/Why: the point of the series./' "$P/0002-restore-the-chat-wire-api.patch"
  run "$SCRIPTS/apply-series.sh"
  assert_success
  assert_output_has "series changed since it was applied" "re-applying" "resulting tree is identical"
  [[ $(git -C "$WD" rev-parse HEAD) != "$old" ]]
  [[ $(git -C "$WD" rev-list --count "$V1..HEAD") == 4 ]]
  git -C "$WD" log --format=%B | grep -qx "Why: the point of the series."
}

@test "apply: uncommitted edits block a re-apply unless --force" {
  fetch_and_apply
  echo "// my edit" >>"$WD/codex-rs/core/src/lib.rs"
  echo "new" >"$WD/codex-rs/core/src/new.rs"
  # Unchanged series: already applied, the edits are mentioned and kept.
  run "$SCRIPTS/apply-series.sh"
  assert_success
  assert_output_has "already applied" "uncommitted changes" "codex-rs/core/src/lib.rs"
  # Changed series: refused, nothing touched.
  echo "# comment" >>"$P/series"
  run "$SCRIPTS/apply-series.sh"
  assert_failure
  assert_output_has "has uncommitted changes" "codex-rs/core/src/lib.rs" "codex-rs/core/src/new.rs" \
    "scripts/export-series.sh" "--force"
  grep -q "// my edit" "$WD/codex-rs/core/src/lib.rs"
  # --force discards them.
  run "$SCRIPTS/apply-series.sh" --force
  assert_success
  refute grep -q "// my edit" "$WD/codex-rs/core/src/lib.rs"
  [[ ! -e $WD/codex-rs/core/src/new.rs ]]
  [[ -z $(git -C "$WD" status --porcelain --untracked-files=all) ]]
}

@test "apply: a half-applied patch on the pristine tree is refused" {
  "$SCRIPTS/fetch-upstream.sh"
  sed '1,/^---$/d' "$P/0001-workspace-register-demo-crates.patch" | git -C "$WD" apply
  run "$SCRIPTS/apply-series.sh"
  assert_failure
  assert_output_has "uncommitted changes" "half-applied" "codex-rs/Cargo.toml"
  [[ $(git -C "$WD" rev-parse HEAD) == "$V1" ]]
}

@test "apply: codex-rs/Cargo.lock rewritten by cargo is not a developer edit" {
  fetch_and_apply
  echo "# cargo was here" >>"$WD/codex-rs/Cargo.lock"
  echo "# comment" >>"$P/series"
  run "$SCRIPTS/apply-series.sh"
  assert_success
  assert_output_has "re-applying"
  [[ -z $(git -C "$WD" status --porcelain) ]]
}

@test "apply: unexported commits block a re-apply of a changed series" {
  fetch_and_apply
  echo "// committed edit" >>"$WD/codex-rs/core/src/lib.rs"
  tgit -C "$WD" commit -q -am "my edit"
  run "$SCRIPTS/apply-series.sh"
  assert_success
  assert_output_has "already applied" "1 local commit(s) on top, not exported yet"
  echo "# comment" >>"$P/series"
  run "$SCRIPTS/apply-series.sh"
  assert_failure
  assert_output_has "never exported" "my edit" "scripts/export-series.sh"
  [[ $(git -C "$WD" log -1 --format=%s) == "my edit" ]]
}

@test "apply: commits made by hand on the pristine tree are refused" {
  "$SCRIPTS/fetch-upstream.sh"
  echo "// by hand" >>"$WD/codex-rs/core/src/lib.rs"
  tgit -C "$WD" commit -q -am "by hand"
  run "$SCRIPTS/apply-series.sh"
  assert_failure
  assert_output_has "1 commit(s) on top of rust-v0.1.0 that apply-series.sh did not make"
}

@test "apply: without a checkout it says to fetch first" {
  run "$SCRIPTS/apply-series.sh"
  assert_failure
  assert_output_has "no upstream checkout at $WD" "scripts/fetch-upstream.sh"
}

@test "apply: a series naming a missing patch file is refused" {
  "$SCRIPTS/fetch-upstream.sh"
  echo "0009-missing.patch" >>"$P/series"
  run "$SCRIPTS/apply-series.sh"
  assert_failure
  assert_output_has "0009-missing.patch"
  assert_pristine
}

@test "series-patch: one patch that turns the pristine tag into the applied series" {
  fetch_and_apply
  run "$SCRIPTS/series-patch.sh" --output "$BATS_TEST_TMPDIR/series.patch"
  assert_success
  head -n 8 "$BATS_TEST_TMPDIR/series.patch" | grep -q "Applies to upstream Codex rust-v0.1.0 ($V1)"
  grep -q "^  0002-restore-the-chat-wire-api.patch$" "$BATS_TEST_TMPDIR/series.patch"
  git clone -q --branch rust-v0.1.0 "$UPSTREAM.git" "$BATS_TEST_TMPDIR/fresh" 2>/dev/null
  git -C "$BATS_TEST_TMPDIR/fresh" apply --index "$BATS_TEST_TMPDIR/series.patch"
  [[ $(git -C "$BATS_TEST_TMPDIR/fresh" write-tree) == $(git -C "$WD" rev-parse 'HEAD^{tree}') ]]
}

@test "series-patch: refuses a work dir that is not the applied series" {
  "$SCRIPTS/fetch-upstream.sh" >/dev/null
  run "$SCRIPTS/series-patch.sh"
  assert_failure
  assert_output_has "does not hold the applied series" "scripts/apply-series.sh"
}
