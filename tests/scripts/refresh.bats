#!/usr/bin/env bats
# scripts/refresh-series.sh: carrying the fixture series onto newer synthetic tags.

load helpers

setup_file() { common_setup_file; }
setup() { common_setup; }

P1=0001-workspace-register-demo-crates.patch
P2=0002-restore-the-chat-wire-api.patch
P3=0003-give-the-binary-its-codex-litellm-identity.patch

# row NAME: the summary-table row of patch NAME in $output.
row() { grep -E "^$1 +" <<<"$output" | tail -n 1 | sed -E "s/^$1 +//"; }

@test "refresh: onto a tag where every patch applies cleanly" {
  v2=$(git -C "$UPSTREAM" rev-parse 'rust-v0.2.0^{commit}')
  run "$SCRIPTS/refresh-series.sh" --tag rust-v0.2.0 --commit "$v2"
  assert_success
  [[ $(row "$P1") == clean ]]
  [[ $(row "$P2") == clean ]]
  [[ $(row "$P3") == clean ]]
  assert_output_has "refreshed onto rust-v0.2.0"
  # upstream.lock rewritten in place: tag, commit, toolchain from rust-toolchain.toml.
  grep -qx "UPSTREAM_TAG=rust-v0.2.0" "$CODEX_LITELLM_LOCK"
  grep -qx "UPSTREAM_COMMIT=$v2" "$CODEX_LITELLM_LOCK"
  grep -qx "UPSTREAM_TOOLCHAIN=1.91.0" "$CODEX_LITELLM_LOCK"
  grep -qx "# test lock" "$CODEX_LITELLM_LOCK"
  grep -qx "UPSTREAM_URL=$UPSTREAM.git" "$CODEX_LITELLM_LOCK"
  # The series was exported against the new tag and applies there.
  git -C "$WD" merge-base --is-ancestor "$v2" HEAD
  grep -qx "UPSTREAM_COMMIT=$v2" "$WD/codex-rs/demo-bridge/series.env"
  [[ ! -e $P/crates/demo-bridge/series.env ]]
  tree=$(git -C "$WD" rev-parse 'HEAD^{tree}')
  grep -q "600" "$WD/codex-rs/core/src/lib.rs"
  run "$SCRIPTS/apply-series.sh"
  assert_success
  [[ $(git -C "$WD" rev-parse 'HEAD^{tree}') == "$tree" ]]
  cmp "$FIXTURES/series/$P1" "$P/$P1"
  cmp "$FIXTURES/series/series" "$P/series"
}

@test "refresh: a patch whose context moved is merged 3-way and re-exported" {
  fetch_and_apply
  run "$SCRIPTS/refresh-series.sh" --tag rust-v0.2.0-merge
  assert_success
  [[ $(row "$P1") == clean ]]
  [[ $(row "$P2") == "merged (needed 3-way)" ]]
  [[ $(row "$P3") == clean ]]
  grep -qx "UPSTREAM_TAG=rust-v0.2.0-merge" "$CODEX_LITELLM_LOCK"
  # The exported patch now carries the new context and applies without a merge.
  grep -qx ' /// Greeting shown when the TUI starts.' "$P/$P2"
  grep -qx '+    vec!\["responses", codex_demo_bridge::wire_api()\]' "$P/$P2"
  cmp "$FIXTURES/series/$P1" "$P/$P1"
  cmp "$FIXTURES/series/$P3" "$P/$P3"
  rm -rf "$WD"
  fetch_and_apply
  grep -q 'codex_demo_bridge::wire_api()' "$WD/codex-rs/core/src/lib.rs"
  grep -q 'when the TUI starts' "$WD/codex-rs/core/src/lib.rs"
}

@test "refresh: a conflict stops with the files named, then --continue finishes" {
  fetch_and_apply
  run "$SCRIPTS/refresh-series.sh" --tag rust-v0.2.0-conflict
  [[ $status -eq 2 ]]
  [[ $(row "$P1") == clean ]]
  [[ $(row "$P2") == "CONFLICT: codex-rs/core/src/lib.rs" ]]
  [[ $(row "$P3") == "not attempted" ]]
  assert_output_has "CONFLICT: $P2 does not apply to rust-v0.2.0-conflict" \
    "git -C $WD add <files>" "commit -F" "scripts/refresh-series.sh --continue"
  # Left for the developer: conflict markers, and nothing else moved.
  grep -q '^<<<<<<<' "$WD/codex-rs/core/src/lib.rs"
  grep -qx "UPSTREAM_TAG=rust-v0.1.0" "$CODEX_LITELLM_LOCK"
  diff -r "$FIXTURES/series" "$P"
  # The other scripts refuse to run in the middle of it.
  run "$SCRIPTS/apply-series.sh"
  assert_failure
  assert_output_has "refresh (scripts/refresh-series.sh) is in progress" "--continue" "--abort"
  run "$SCRIPTS/refresh-series.sh" --continue
  assert_failure
  assert_output_has "still unresolved: codex-rs/core/src/lib.rs"

  # Resolve: keep upstream's new entry and add ours.
  msg=$(git -C "$WD" rev-parse --absolute-git-dir)/codex-litellm-refresh/msg
  git -C "$WD" show HEAD:codex-rs/core/src/lib.rs |
    sed 's|vec!\["responses", "realtime"\]|vec!["responses", "realtime", codex_demo_bridge::wire_api()]|' \
      >"$WD/codex-rs/core/src/lib.rs"
  git -C "$WD" add codex-rs/core/src/lib.rs
  tgit -C "$WD" commit -q -F "$msg"
  run "$SCRIPTS/refresh-series.sh" --continue
  assert_success
  [[ $(row "$P2") == "CONFLICT, resolved by hand" ]]
  [[ $(row "$P3") == clean ]]
  grep -qx "UPSTREAM_TAG=rust-v0.2.0-conflict" "$CODEX_LITELLM_LOCK"
  grep -qx '+    vec!\["responses", "realtime", codex_demo_bridge::wire_api()\]' "$P/$P2"
  grep -qx -- '-    vec!\["responses", "realtime"\]' "$P/$P2"
  diff <(sed -n '1,/^---$/p' "$FIXTURES/series/$P2") <(sed -n '1,/^---$/p' "$P/$P2")
  run "$SCRIPTS/apply-series.sh"
  assert_success
}

@test "refresh: --abort goes back to where it started" {
  fetch_and_apply
  head=$(git -C "$WD" rev-parse HEAD)
  run "$SCRIPTS/refresh-series.sh" --tag rust-v0.2.0-conflict
  [[ $status -eq 2 ]]
  run "$SCRIPTS/refresh-series.sh" --abort
  assert_success
  [[ $(git -C "$WD" rev-parse HEAD) == "$head" ]]
  [[ -z $(git -C "$WD" status --porcelain --untracked-files=all) ]]
  grep -qx "UPSTREAM_TAG=rust-v0.1.0" "$CODEX_LITELLM_LOCK"
  run "$SCRIPTS/apply-series.sh"
  assert_output_has "already applied"
}

@test "refresh: --skip drops the conflicting patch and carries on" {
  fetch_and_apply
  run "$SCRIPTS/refresh-series.sh" --tag rust-v0.2.0-conflict
  [[ $status -eq 2 ]]
  run "$SCRIPTS/refresh-series.sh" --skip
  assert_success
  [[ $(row "$P2") == "dropped (--skip)" ]]
  [[ $(row "$P3") == clean ]]
  assert_output_has "removed   $P2"
  diff <(grep -v '^#' "$P/series") <(printf '%s\n' "$P1" "$P3")
}

@test "refresh: refuses to start over uncommitted work" {
  fetch_and_apply
  echo "// wip" >>"$WD/codex-rs/core/src/lib.rs"
  run "$SCRIPTS/refresh-series.sh" --tag rust-v0.2.0
  assert_failure
  assert_output_has "uncommitted changes" "codex-rs/core/src/lib.rs" "export"
  grep -qx "UPSTREAM_TAG=rust-v0.1.0" "$CODEX_LITELLM_LOCK"
  grep -q "// wip" "$WD/codex-rs/core/src/lib.rs"
}

@test "refresh: a --commit that does not match the tag is refused" {
  run "$SCRIPTS/refresh-series.sh" --tag rust-v0.2.0 --commit "$V1"
  assert_failure
  assert_output_has "rust-v0.2.0 from $UPSTREAM.git resolves to" "pins $V1"
  grep -qx "UPSTREAM_TAG=rust-v0.1.0" "$CODEX_LITELLM_LOCK"
}
