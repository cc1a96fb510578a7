#!/usr/bin/env bats
# scripts/export-series.sh: apply -> edit -> export round trips.

load helpers

setup_file() { common_setup_file; }
setup() {
  common_setup
  fetch_and_apply
}

P1=0001-workspace-register-demo-crates.patch
P2=0002-restore-the-chat-wire-api.patch
P3=0003-give-the-binary-its-codex-litellm-identity.patch

@test "export: apply then export with no edits is byte-identical" {
  run "$SCRIPTS/export-series.sh"
  assert_success
  assert_output_has "unchanged $P1" "unchanged $P2" "unchanged $P3" "unchanged crates/demo-bridge"
  assert_output_lacks "updated" "new " "removed"
  diff -r "$FIXTURES/series" "$P"
  # And the tree still counts as applied.
  run "$SCRIPTS/apply-series.sh"
  assert_output_has "already applied"
}

@test "export: a fixup of one patch's commit lands in that patch only" {
  sed -i 's/format!("hello {user}, this is {}", product_name())/format!("hi {user}, this is {}", product_name())/' \
    "$WD/codex-rs/core/src/lib.rs"
  tgit -C "$WD" commit -q -a --fixup="$(patch_commit "$P2")"
  GIT_SEQUENCE_EDITOR=: tgit -C "$WD" rebase -q -i --autosquash rust-v0.1.0
  run "$SCRIPTS/export-series.sh"
  assert_success
  assert_output_has "unchanged $P1" "updated   $P2" "unchanged $P3"
  grep -qx '+    format!("hi {user}, this is {}", product_name())' "$P/$P2"
  grep -qx -- '-    format!("hello {user}, this is {}", product_name())' "$P/$P2"
  cmp "$FIXTURES/series/$P1" "$P/$P1"
  cmp "$FIXTURES/series/$P3" "$P/$P3"
  cmp "$FIXTURES/series/series" "$P/series"
  # The header is kept as it was.
  diff <(sed -n '1,/^---$/p' "$FIXTURES/series/$P2") <(sed -n '1,/^---$/p' "$P/$P2")
  # Re-applying the exported series gives the same tree.
  tree=$(git -C "$WD" rev-parse 'HEAD^{tree}')
  run "$SCRIPTS/apply-series.sh"
  assert_success
  assert_output_has "re-applying" "resulting tree is identical"
  [[ $(git -C "$WD" rev-parse 'HEAD^{tree}') == "$tree" ]]
}

@test "export: a new commit becomes a new numbered patch appended to the series" {
  sed -i 's/"gpt-5"/"litellm-default"/' "$WD/codex-rs/core/src/lib.rs"
  tgit -C "$WD" commit -q -a -m "Use a LiteLLM default model" -m "Gateways name their models themselves."
  run "$SCRIPTS/export-series.sh"
  assert_success
  assert_output_has "new       0004-use-a-litellm-default-model.patch" "updated   series" "has no Why: line"
  [[ $(tail -n 1 "$P/series") == 0004-use-a-litellm-default-model.patch ]]
  [[ $(grep -c '^#' "$P/series") == 2 ]]
  diff <(sed -n '1,/^---$/p' "$P/0004-use-a-litellm-default-model.patch") - <<'EOF'
Description: Use a LiteLLM default model
 Gateways name their models themselves.
Upstream-Files: codex-rs/core/src/lib.rs
Forwarded: not-needed
---
EOF
  grep -qx '+    "litellm-default"' "$P/0004-use-a-litellm-default-model.patch"
  # The new patch survives its own round trip.
  "$SCRIPTS/apply-series.sh" >/dev/null
  [[ $(git -C "$WD" log -1 --format='%(trailers:key=Patch-Name,valueonly,separator=)') == 0004-use-a-litellm-default-model.patch ]]
  cp -R "$P" "$BATS_TEST_TMPDIR/before"
  run "$SCRIPTS/export-series.sh"
  assert_success
  diff -r "$BATS_TEST_TMPDIR/before" "$P"
}

@test "export: a commit written as subject + DEP-3 header keeps that header" {
  sed -i 's/^    300$/    900/' "$WD/codex-rs/core/src/lib.rs"
  tgit -C "$WD" commit -q -a -F - <<'EOF'
Longer timeout

Description: Raise the timeout for slow gateways
Why: LiteLLM in front of local models answers slowly.
Upstream-Files: codex-rs/core/src/lib.rs
Forwarded: no
EOF
  run "$SCRIPTS/export-series.sh"
  assert_success
  assert_output_has "new       0004-raise-the-timeout-for-slow-gateways.patch"
  diff <(sed -n '1,/^---$/p' "$P/0004-raise-the-timeout-for-slow-gateways.patch") - <<'EOF'
Description: Raise the timeout for slow gateways
Why: LiteLLM in front of local models answers slowly.
Upstream-Files: codex-rs/core/src/lib.rs
Forwarded: no
---
EOF
}

@test "export: crate edits are copied back to patches/crates, not exported as a patch" {
  mkdir -p "$P/crates/demo-bridge/target"
  echo keep >"$P/crates/demo-bridge/target/keep"
  cd "$WD/codex-rs/demo-bridge"
  git rm -q src/wire.rs
  sed -i 's/^mod wire;$/mod chat;/; s/wire::CHAT/chat::NAME/' src/lib.rs
  printf 'pub const NAME: &str = "chat";\n' >src/chat.rs
  git add src
  echo "# cargo" >>"$WD/codex-rs/Cargo.lock"
  git add "$WD/codex-rs/Cargo.lock"
  tgit commit -q -m "bridge: rename module"
  cd - >/dev/null
  run "$SCRIPTS/export-series.sh"
  assert_success
  assert_output_has "no change outside the crates/Cargo.lock" "updated   crates/demo-bridge"
  assert_output_lacks "0004-"
  [[ ! -e $P/crates/demo-bridge/src/wire.rs ]]
  cmp "$WD/codex-rs/demo-bridge/src/chat.rs" "$P/crates/demo-bridge/src/chat.rs"
  grep -q 'chat::NAME' "$P/crates/demo-bridge/src/lib.rs"
  [[ -f $P/crates/demo-bridge/target/keep ]]
  cmp "$FIXTURES/series/series" "$P/series"
  refute grep -rq 'Cargo.lock' "$P"/*.patch
}

@test "export: Upstream-Files is corrected when a patch touches other files" {
  echo "codex-litellm was here" >>"$WD/README.md"
  tgit -C "$WD" commit -q -a --fixup="$(patch_commit "$P3")"
  GIT_SEQUENCE_EDITOR=: tgit -C "$WD" rebase -q -i --autosquash rust-v0.1.0
  run "$SCRIPTS/export-series.sh"
  assert_success
  assert_output_has "Upstream-Files of $P3 corrected"
  grep -qx 'Upstream-Files: README.md, codex-rs/cli/Cargo.toml, codex-rs/cli/src/main.rs' "$P/$P3"
  grep -qx 'Why: codex-litellm installs side by side with stock codex.' "$P/$P3"
}

@test "export: a dropped commit removes its patch from the series" {
  c3=$(patch_commit "$P3")
  tgit -C "$WD" rebase -q --onto "$c3^" "$c3"
  run "$SCRIPTS/export-series.sh"
  assert_success
  assert_output_has "removed   $P3" "updated   series"
  [[ ! -e $P/$P3 ]]
  diff <(grep -v '^#' "$P/series") <(printf '%s\n' "$P1" "$P2")
  [[ $(grep -c '^#' "$P/series") == 2 ]]
}

@test "export: uncommitted changes are refused with how to commit them" {
  echo "// wip" >>"$WD/codex-rs/core/src/lib.rs"
  run "$SCRIPTS/export-series.sh"
  assert_failure
  assert_output_has "uncommitted changes" "codex-rs/core/src/lib.rs" "commit -a --fixup=" "rebase -i --autosquash rust-v0.1.0"
  diff -r "$FIXTURES/series" "$P"
}
