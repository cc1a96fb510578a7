#!/usr/bin/env bats
# scripts/upstream-check.sh and scripts/upstream-follow.sh against synthetic upstreams.
# Tags are added to a per-test copy of the synthetic upstream (helpers.bash), so the
# shared one stays as every other test expects it.

load helpers

setup_file() { common_setup_file; }
setup() {
  common_setup
  export CODEX_UPSTREAM_URL=$BATS_TEST_TMPDIR/up.git
  git clone -q --bare "$UPSTREAM.git" "$CODEX_UPSTREAM_URL"
}

# tag_upstream NAME COMMIT: an annotated tag in the test's upstream copy.
tag_upstream() { tgit -C "$CODEX_UPSTREAM_URL" tag -a "$1" -m "$1" "$2^{commit}"; }

# key NAME: the value of NAME=... in $output.
key() { sed -n "s/^$1=//p" <<<"$output"; }

@test "upstream-check: a newer stable tag is reported, with the commit it points at" {
  run "$SCRIPTS/upstream-check.sh"
  assert_success
  [[ $(key current_tag) == rust-v0.1.0 ]]
  [[ $(key latest_tag) == rust-v0.2.0 ]]
  [[ $(key latest_commit) == "$(git -C "$UPSTREAM" rev-parse 'rust-v0.2.0^{commit}')" ]]
  [[ $(key update_available) == true ]]
  # Exactly the four keys, nothing else on stdout ($GITHUB_OUTPUT format).
  [[ $(wc -l <<<"$output") -eq 4 ]]
}

@test "upstream-check: pre-release tags (alpha, beta, rc) are not newer" {
  write_lock rust-v0.2.0
  tag_upstream rust-v0.3.0-alpha.1 rust-v0.2.0-merge
  tag_upstream rust-v0.3.0-beta.2 rust-v0.2.0-merge
  tag_upstream rust-v0.3.0-rc.1 rust-v0.2.0-conflict
  tgit -C "$CODEX_UPSTREAM_URL" tag rust-v0.4.0-alpha.3 'rust-v0.2.0^{commit}'
  run "$SCRIPTS/upstream-check.sh"
  assert_success
  [[ $(key latest_tag) == rust-v0.2.0 ]]
  [[ $(key update_available) == false ]]
}

@test "upstream-check: up to date, and --github-output appends the same lines" {
  write_lock rust-v0.2.0
  : >"$BATS_TEST_TMPDIR/gh-output"
  echo "earlier=1" >>"$BATS_TEST_TMPDIR/gh-output"
  run "$SCRIPTS/upstream-check.sh" --github-output "$BATS_TEST_TMPDIR/gh-output"
  assert_success
  [[ $(key update_available) == false ]]
  [[ $(key current_tag) == rust-v0.2.0 ]]
  diff <(printf 'earlier=1\n%s\n' "$output") "$BATS_TEST_TMPDIR/gh-output"
}

@test "upstream-check: versions compare as numbers (0.10.0 is newer than 0.9.0), lightweight tags too" {
  tgit -C "$CODEX_UPSTREAM_URL" tag rust-v0.9.0 'rust-v0.2.0^{commit}'
  tgit -C "$CODEX_UPSTREAM_URL" tag rust-v0.10.0 'rust-v0.2.0-merge^{commit}'
  run "$SCRIPTS/upstream-check.sh"
  assert_success
  [[ $(key latest_tag) == rust-v0.10.0 ]]
  [[ $(key latest_commit) == "$(git -C "$UPSTREAM" rev-parse 'rust-v0.2.0-merge^{commit}')" ]]
  # A lock newer than anything upstream is not "behind".
  write_lock rust-v0.10.0
  sed -i 's/^UPSTREAM_TAG=.*/UPSTREAM_TAG=rust-v0.11.0/' "$CODEX_LITELLM_LOCK"
  run "$SCRIPTS/upstream-check.sh"
  [[ $(key update_available) == false ]]
}

@test "upstream-check: an unreachable upstream fails, naming it" {
  export CODEX_UPSTREAM_URL=$BATS_TEST_TMPDIR/nowhere
  run "$SCRIPTS/upstream-check.sh"
  assert_failure
  assert_output_has "cannot list the tags of $BATS_TEST_TMPDIR/nowhere" "CODEX_UPSTREAM_URL"
}

@test "upstream-follow: up to date does nothing" {
  write_lock rust-v0.2.0
  run "$SCRIPTS/upstream-follow.sh"
  assert_success
  [[ $(key status) == up-to-date ]]
  [[ ! -e $WD ]]
}

@test "upstream-follow: a newer tag where the series applies is refreshed onto it" {
  run "$SCRIPTS/upstream-follow.sh" --report "$BATS_TEST_TMPDIR/report.md" --github-output "$BATS_TEST_TMPDIR/gh"
  assert_success
  [[ $(key status) == refreshed ]]
  [[ $(key tag) == rust-v0.2.0 ]]
  grep -qx "status=refreshed" "$BATS_TEST_TMPDIR/gh"
  grep -qx "UPSTREAM_TAG=rust-v0.2.0" "$CODEX_LITELLM_LOCK"
  grep -q 'to \*\*rust-v0.2.0\*\*' "$BATS_TEST_TMPDIR/report.md"
  grep -qE '^0002-restore-the-chat-wire-api.patch +clean$' "$BATS_TEST_TMPDIR/report.md"
}

@test "upstream-follow: a conflicting patch is named with its hunk; the refresh is undone" {
  tag_upstream rust-v0.3.0 rust-v0.2.0-conflict
  run "$SCRIPTS/upstream-follow.sh" --report "$BATS_TEST_TMPDIR/issue.md"
  assert_success
  [[ $(key status) == conflict ]]
  [[ $(key tag) == rust-v0.3.0 ]]
  [[ $(key patch) == 0002-restore-the-chat-wire-api.patch ]]
  report=$(cat "$BATS_TEST_TMPDIR/issue.md")
  # The hunk that no longer applies: its file, its line in the patch file and its header;
  # not the patch's other hunk (Cargo.toml), which still applies.
  output=$report assert_output_has "stopped at **0002-restore-the-chat-wire-api.patch**" \
    "conflicts in codex-rs/core/src/lib.rs" \
    "- \`codex-rs/core/src/lib.rs\` — 0002-restore-the-chat-wire-api.patch:20 \`@@ -7,7 +7,7 @@ pub fn product_name()" \
    "0003-give-the-binary-its-codex-litellm-identity.patch" "not attempted" \
    "scripts/refresh-series.sh --tag rust-v0.3.0 --commit"
  output=$report assert_output_lacks "patch:11" "Each hunk applies alone"
  # Nothing changed: lock, series, and no refresh left in progress.
  grep -qx "UPSTREAM_TAG=rust-v0.1.0" "$CODEX_LITELLM_LOCK"
  diff -r "$FIXTURES/series" "$P"
  run "$SCRIPTS/apply-series.sh"
  assert_success
}
