#!/usr/bin/env bats
# build.sh, scripts/check.sh and scripts/lock-drift.sh on the synthetic upstream (a tiny
# Cargo workspace with no registry dependencies, so cargo runs offline).

load helpers

setup_file() { common_setup_file; }
setup() {
  common_setup
  TRIPLE=$(RUSTUP_TOOLCHAIN=$TEST_TOOLCHAIN rustc -vV | sed -n 's/^host: //p')
}

# commit_in_work_dir MESSAGE: commits all changes in the work dir.
commit_in_work_dir() { tgit -C "$WD" commit -q -am "$1"; }

@test "build: fetch, apply, drift check, cargo build, dist; the second build is incremental" {
  run "$REPO_ROOT/build.sh" --debug --no-smoke
  assert_success
  assert_output_has "==> [1/6] toolchain" "toolchain: $TEST_TOOLCHAIN (upstream pin" \
    "==> [2/6] fetch upstream rust-v0.1.0 from $UPSTREAM.git" \
    "==> [3/6] apply the patch series (v3, 3 patch(es))" "applied: branch codex-litellm" \
    "==> [4/6] Cargo.lock drift check" \
    "Cargo.lock drift check: ok (1 package(s) added, all ours: codex-demo-bridge 0.1.0" \
    "==> [5/6] cargo build --locked --bin codex" "Compiling demo-cli" \
    "==> [6/6] package into $CODEX_LITELLM_DIST_DIR" "smoke test skipped (--no-smoke)"
  [[ -x $CODEX_LITELLM_DIST_DIR/codex-litellm ]]
  [[ $("$CODEX_LITELLM_DIST_DIR/codex-litellm" --version) == "codex-litellm 0.1.0+litellm" ]]
  [[ $(tar -tzf "$CODEX_LITELLM_DIST_DIR/codex-litellm-0.1.0-litellm.3-$TRIPLE.tar.gz") == codex-litellm ]]
  (cd "$CODEX_LITELLM_DIST_DIR" && sha256sum -c "codex-litellm-0.1.0-litellm.3-$TRIPLE.tar.gz.sha256")
  [[ -x $CARGO_TARGET_DIR/debug/codex ]]
  # Our crate is now in the work dir's Cargo.lock; that is not an edit.
  grep -q 'name = "codex-demo-bridge"' "$WD/codex-rs/Cargo.lock"
  sum=$(cat "$CODEX_LITELLM_DIST_DIR/codex-litellm-0.1.0-litellm.3-$TRIPLE.tar.gz.sha256")

  run "$REPO_ROOT/build.sh" --debug --no-smoke
  assert_success
  assert_output_has "reusing $WD" "already applied" "Finished" "binary unchanged: $CODEX_LITELLM_DIST_DIR is up to date"
  assert_output_lacks "Compiling" "cloning"
  # Same binary, same (reproducible) tarball.
  [[ $(cat "$CODEX_LITELLM_DIST_DIR/codex-litellm-0.1.0-litellm.3-$TRIPLE.tar.gz.sha256") == "$sum" ]]
}

@test "build: a release binary is packaged stripped (the target keeps its symbols); CODEX_LITELLM_STRIP= keeps them" {
  run "$REPO_ROOT/build.sh" --release --no-smoke
  assert_success
  local packaged=$CODEX_LITELLM_DIST_DIR/codex-litellm built=$CARGO_TARGET_DIR/release/codex
  [[ $("$packaged" --version) == "codex-litellm 0.1.0+litellm" ]]
  nm "$built" >/dev/null 2>&1                      # symbols in the target dir
  run nm "$packaged"
  assert_output_has "no symbols"
  (($(stat -c %s "$packaged") < $(stat -c %s "$built")))
  [[ $(tar -xOzf "$CODEX_LITELLM_DIST_DIR/codex-litellm-0.1.0-litellm.3-$TRIPLE.tar.gz" | sha256sum) == "$(sha256sum <"$packaged")" ]]

  run "$REPO_ROOT/build.sh" --release --no-smoke
  assert_success
  assert_output_has "binary unchanged: $CODEX_LITELLM_DIST_DIR is up to date"

  CODEX_LITELLM_STRIP='' run "$REPO_ROOT/build.sh" --release --no-smoke
  assert_success
  cmp "$built" "$packaged"

  CODEX_LITELLM_STRIP=false run "$REPO_ROOT/build.sh" --release --no-smoke
  assert_failure
  assert_output_has "false failed on" "set CODEX_LITELLM_STRIP= to keep the symbols"
}

@test "build: a missing toolchain fails before anything is fetched" {
  sed -i 's/^UPSTREAM_TOOLCHAIN=.*/UPSTREAM_TOOLCHAIN=0.0.1-nope/' "$CODEX_LITELLM_LOCK"
  run "$REPO_ROOT/build.sh" --debug --no-smoke
  assert_failure
  assert_output_has "Rust toolchain '0.0.1-nope' (upstream pin" "rustup toolchain install 0.0.1-nope" "RUSTUP_TOOLCHAIN="
  [[ ! -e $WD ]]
  RUSTUP_TOOLCHAIN=0.0.2-nope run "$REPO_ROOT/build.sh" --debug --no-smoke
  assert_failure
  assert_output_has "Rust toolchain '0.0.2-nope' (RUSTUP_TOOLCHAIN)"
}

@test "build: a new third-party package in Cargo.lock fails the drift check loudly" {
  fetch_and_apply
  printf 'newdep = { path = "../../vendor/newdep" }\n' >>"$WD/codex-rs/core/Cargo.toml"
  commit_in_work_dir "core: use newdep"
  run "$REPO_ROOT/build.sh" --debug --no-smoke
  assert_failure
  assert_output_has "Cargo.lock drift" "added:   newdep 0.3.0" "Pin the dependency to the version upstream locks"
  assert_output_lacks "[5/6]"
  [[ ! -e $CODEX_LITELLM_DIST_DIR/codex-litellm ]]
}

@test "lock-drift: upstream's own path crates may change version (real upstream locks 0.0.0)" {
  fetch_and_apply
  sed -i 's/^version = "0.1.0"/version = "0.125.0"/' "$WD/codex-rs/Cargo.toml" "$WD/vendor/extra/Cargo.toml"
  commit_in_work_dir "release version"
  run "$SCRIPTS/lock-drift.sh"
  assert_success
  assert_output_has "Cargo.lock drift check: ok (1 package(s) added, all ours: codex-demo-bridge 0.125.0)"
  grep -A1 'name = "demo-core"' "$WD/codex-rs/Cargo.lock" | grep -q '0.125.0'
}

@test "lock-drift --compare: third-party (name, version) set must not change" {
  lock() {
    printf 'version = 4\n'
    local name version source
    while read -r name version source; do
      printf '\n[[package]]\nname = "%s"\nversion = "%s"\n' "$name" "$version"
      [[ $source == - ]] || printf 'source = "%s"\n' "$source"
    done
  }
  reg=registry+https://github.com/rust-lang/crates.io-index
  lock >"$BATS_TEST_TMPDIR/old.lock" <<EOF2
codex-core 0.0.0 -
serde 1.0.200 $reg
gone 0.1.0 $reg
tungstenite 0.27.0 git+https://github.com/openai-oss-forks/tungstenite-rs?rev=9200079#9200079
EOF2
  # Ours added, a workspace crate re-versioned, a git dependency replaced by a local
  # path at the same version, one package no longer used: all fine.
  lock >"$BATS_TEST_TMPDIR/new.lock" <<EOF2
codex-core 0.125.0 -
codex-litellm-bridge 0.125.0 -
serde 1.0.200 $reg
tungstenite 0.27.0 -
EOF2
  run "$SCRIPTS/lock-drift.sh" --compare "$BATS_TEST_TMPDIR/old.lock" "$BATS_TEST_TMPDIR/new.lock" --allow codex-litellm-bridge
  assert_success
  assert_output_has "all ours: codex-litellm-bridge 0.125.0" \
    "1 package(s) built from a local path instead of their source, same version" "tungstenite 0.27.0" \
    "no longer in Cargo.lock: gone 0.1.0"
  # The same without the allowance: our crate is an offender.
  run "$SCRIPTS/lock-drift.sh" --compare "$BATS_TEST_TMPDIR/old.lock" "$BATS_TEST_TMPDIR/new.lock"
  assert_failure
  assert_output_has "added:   codex-litellm-bridge 0.125.0"
  # A changed third-party version, a new registry crate, a stand-in at another version.
  lock >"$BATS_TEST_TMPDIR/new.lock" <<EOF2
codex-core 0.0.0 -
serde 1.0.228 $reg
gone 0.1.0 $reg
itoa 1.0.0 $reg
tungstenite 0.28.0 -
EOF2
  run "$SCRIPTS/lock-drift.sh" --compare "$BATS_TEST_TMPDIR/old.lock" "$BATS_TEST_TMPDIR/new.lock"
  assert_failure
  assert_output_has "changed: serde 1.0.200 -> 1.0.228" "added:   itoa 1.0.0" "changed: tungstenite 0.27.0 -> 0.28.0" \
    "Pin the dependency to the version upstream locks"
  assert_output_lacks "codex-core" "gone"
}

@test "build: --cargo-config files and CODEX_LITELLM_CARGO_CONFIG reach cargo" {
  printf '[env]\nCODEX_DEMO_BANNER = "from-flag"\n' >"$BATS_TEST_TMPDIR/flag.toml"
  run "$REPO_ROOT/build.sh" --debug --no-smoke --cargo-config "$BATS_TEST_TMPDIR/flag.toml"
  assert_success
  assert_output_has "cargo config files: $BATS_TEST_TMPDIR/flag.toml"
  [[ $("$CODEX_LITELLM_DIST_DIR/codex-litellm" --version) == *"banner: from-flag"* ]]
  printf '[env]\nCODEX_DEMO_BANNER = "from-env"\n' >"$BATS_TEST_TMPDIR/env.toml"
  CODEX_LITELLM_CARGO_CONFIG=$BATS_TEST_TMPDIR/env.toml run "$REPO_ROOT/build.sh" --debug --no-smoke
  assert_success
  [[ $("$CODEX_LITELLM_DIST_DIR/codex-litellm" --version) == *"banner: from-env"* ]]
  run "$REPO_ROOT/build.sh" --debug --no-smoke --cargo-config "$BATS_TEST_TMPDIR/missing.toml"
  assert_failure
  assert_output_has "cargo config file not found: $BATS_TEST_TMPDIR/missing.toml"
}

@test "build: runs the smoke script on the built binary, or says it is skipped" {
  cat >"$BATS_TEST_TMPDIR/smoke.sh" <<EOF2
#!/usr/bin/env bash
"\$1" --version >"$BATS_TEST_TMPDIR/smoke-ran"
EOF2
  chmod +x "$BATS_TEST_TMPDIR/smoke.sh"
  CODEX_LITELLM_SMOKE=$BATS_TEST_TMPDIR/smoke.sh run "$REPO_ROOT/build.sh" --debug
  assert_success
  assert_output_has "smoke test: $BATS_TEST_TMPDIR/smoke.sh $CODEX_LITELLM_DIST_DIR/codex-litellm"
  [[ $(cat "$BATS_TEST_TMPDIR/smoke-ran") == "codex-litellm 0.1.0+litellm" ]]
  CODEX_LITELLM_SMOKE=$BATS_TEST_TMPDIR/none.sh run "$REPO_ROOT/build.sh" --debug
  assert_success
  assert_output_has "smoke test skipped: $BATS_TEST_TMPDIR/none.sh does not exist yet"
}

@test "build: a patch that does not apply stops the build before cargo" {
  sed -i 's|^ /// Greeting shown at start-up.$| /// Greeting shown at lift-off.|' "$P/0002-restore-the-chat-wire-api.patch"
  run "$REPO_ROOT/build.sh" --debug --no-smoke
  assert_failure
  assert_output_has "FAILED: patch 0002-restore-the-chat-wire-api.patch" "codex-rs/core/src/lib.rs"
  assert_output_lacks "[4/6]"
  assert_pristine
}

@test "check: cargo check of our crates and of the packages the patches touch" {
  run "$SCRIPTS/check.sh"
  assert_success
  assert_output_has "cargo check --locked -p codex-demo-bridge -p demo-cli -p demo-core" \
    "check: ok (3 package(s): codex-demo-bridge demo-cli demo-core)"
  [[ $(grep -c '^toolchain: ' <<<"$output") == 1 ]]
}

@test "check: a crate no patch registers in the workspace is noted, not checked" {
  mkdir -p "$P/crates/demo-extra/src"
  printf '[package]\nname = "codex-demo-extra"\nversion = "0.1.0"\nedition = "2021"\n' >"$P/crates/demo-extra/Cargo.toml"
  : >"$P/crates/demo-extra/src/lib.rs"
  run "$SCRIPTS/check.sh"
  assert_success
  assert_output_has "note: patches/crates/demo-extra (codex-demo-extra) is copied into codex-rs/ but is not a workspace member" \
    "check: ok (3 package(s): codex-demo-bridge demo-cli demo-core)"
  [[ -f $WD/codex-rs/demo-extra/Cargo.toml ]]
}
