//! Side-by-side safety: codex-litellm configured exactly as docs/examples/ says
//! (config.toml plus litellm.toml), and stock `codex` on that CODEX_HOME still loads it
//! with its own default model and provider and no warning about our settings; a
//! CODEX_HOME of an earlier codex-litellm (settings inside config.toml, which stock 0.171
//! warns about) is moved once and then stays quiet. Stock is asked `codex doctor --json`
//! (it loads the whole config and lists its start-up warnings, no network needed).
//! Stock binaries: CODEX_STOCK_BIN (the pinned release), CODEX_STOCK_NEW_BIN (the newest).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use codex_litellm_e2e::*;
use pretty_assertions::assert_eq;
use serde_json::Value;
use serde_json::json;
use std::path::Path;
use std::path::PathBuf;

const PINNED: &str = "CODEX_STOCK_BIN";
const NEWEST: &str = "CODEX_STOCK_NEW_BIN";

fn stock(var: &str) -> Option<PathBuf> {
    bin(var, "a stock codex binary for the side-by-side checks")
}

/// codex-litellm, a mock serving the documented models, a home with the documented files.
struct Setup {
    bin: PathBuf,
    dirs: Dirs,
    mock: Mock,
    documented: PathBuf,
}

fn setup() -> Option<Setup> {
    let bin = litellm_bin()?;
    let dirs = Dirs::new();
    let mock = Mock::from_json(
        json!({"models": ["qwen3-coder", "deepseek-chat"],
               "responses": [
                   {"match": {"body_contains": ["qwen3-coder"]}, "text": "codex-litellm via the litellm provider"},
                   {"match": {"body_contains": ["deepseek-chat"]}, "text": "codex-litellm via the deepseek provider"}],
               "fallback": {"text": "codex-litellm via the litellm provider"}}),
        0,
    );
    let documented = dirs.path("documented-home");
    std::fs::create_dir_all(&documented).unwrap();
    for file in ["config.toml", "litellm.toml"] {
        std::fs::copy(
            repo_root().join("docs/examples").join(file),
            documented.join(file),
        )
        .unwrap();
    }
    Some(Setup {
        bin,
        dirs,
        mock,
        documented,
    })
}

impl Setup {
    fn litellm(&self, home: &Path, args: &[&str]) -> Run {
        self.dirs
            .cmd(&self.bin)
            .home(home)
            .env("LITELLM_BASE_URL", self.mock.url())
            .env("LITELLM_API_KEY", "sk-side-by-side")
            .env("DEEPSEEK_API_KEY", "sk-side-by-side")
            .args(args)
            .run()
    }

    /// A CODEX_HOME holding an earlier codex-litellm's config.toml.
    fn legacy_home(&self, name: &str) -> PathBuf {
        let home = self.dirs.path(name);
        std::fs::create_dir_all(&home).unwrap();
        let legacy =
            repo_root().join("patches/crates/litellm-runtime/src/testdata/legacy-config.toml");
        std::fs::copy(legacy, home.join("config.toml")).unwrap();
        home
    }

    fn pristine_home(&self) -> PathBuf {
        let home = self.dirs.path("pristine-home");
        std::fs::create_dir_all(&home).unwrap();
        home
    }

    /// `doctor --json` of `bin` on `home`: the config check's details.
    fn doctor(&self, bin: &Path, home: &Path) -> Doctor {
        let run = self
            .dirs
            .cmd(bin)
            .home(home)
            .args(["doctor", "--json"])
            .run();
        let report: Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| {
            panic!("no doctor report ({e}): {}", tail(&run.stderr, 400));
        });
        let check = &report["checks"]["config.load"];
        let details = check["details"].as_object().cloned().unwrap_or_default();
        let ours = details
            .iter()
            .filter(|(k, _)| k.starts_with("startup warning"))
            .map(|(_, v)| v.to_string())
            .filter(|v| {
                let v = v.to_lowercase();
                ["unrecognized", "ignored", "litellm", "wire_api"]
                    .iter()
                    .any(|w| v.contains(w))
            })
            .collect();
        Doctor {
            loads: check.is_object() && check["status"] != "fail",
            model: details.get("model").cloned().unwrap_or_default(),
            provider: details.get("model provider").cloned().unwrap_or_default(),
            ours,
        }
    }
}

#[derive(Debug)]
struct Doctor {
    loads: bool,
    model: Value,
    provider: Value,
    /// Start-up warnings about our settings.
    ours: Vec<String>,
}

/// Loads the config, warns about none of ours, keeps the defaults of `baseline`.
#[track_caller]
fn assert_quiet(d: &Doctor, baseline: &Doctor) {
    assert!(
        d.loads,
        "stock codex cannot load the config (`codex features list` says why)"
    );
    assert_eq!(
        d.ours,
        Vec::<String>::new(),
        "stock codex warns about our settings"
    );
    assert_eq!(
        (&d.model, &d.provider),
        (&baseline.model, &baseline.provider),
        "stock's defaults changed"
    );
}

#[test]
fn codex_litellm_uses_litellm_toml_defaults() {
    let Some(s) = setup() else { return };
    let run = s.litellm(&s.documented, &["exec", "--skip-git-repo-check", "hello"]);
    run.assert_success();
    assert!(
        run.stdout.contains("via the litellm provider"),
        "{}",
        run.stdout
    );
    let header = |key: &str| {
        run.stderr
            .lines()
            .find(|l| l.starts_with(&format!("{key}: ")))
            .unwrap_or_default()
    };
    assert_eq!(
        (header("provider"), header("model")),
        ("provider: litellm", "model: qwen3-coder")
    );
}

#[test]
fn codex_litellm_chat_provider_listed_in_litellm_toml() {
    let Some(s) = setup() else { return };
    let base_url = format!("model_providers.deepseek.base_url=\"{}\"", s.mock.url());
    let args = [
        "-c",
        "model_provider=deepseek",
        "-m",
        "deepseek-chat",
        "-c",
        &base_url,
    ];
    let run = s.litellm(
        &s.documented,
        &[&args[..], &["exec", "--skip-git-repo-check", "hello"]].concat(),
    );
    run.assert_success();
    assert!(
        run.stdout.contains("via the deepseek provider"),
        "{}",
        run.stdout
    );
}

#[test]
fn codex_litellm_moves_legacy_settings_once() {
    let Some(s) = setup() else { return };
    let home = s.legacy_home("legacy-home");
    let first = s.litellm(&home, &["exec", "--skip-git-repo-check", "hello"]);
    first.assert_success();
    assert!(
        first.stderr.contains("moved its settings from config.toml"),
        "{}",
        tail(&first.stderr, 400)
    );
    assert!(home.join("litellm.toml").is_file());
    let config = read(home.join("config.toml"));
    assert!(
        !config
            .lines()
            .any(|l| l.starts_with("[litellm") || l.contains("litellm_bridge]")),
        "{config}"
    );
    let again = s.litellm(&home, &["exec", "--skip-git-repo-check", "hello"]);
    assert!(!again.stderr.contains("moved its settings"), "moved twice");
}

fn stock_baseline(var: &str) {
    let Some(s) = setup() else { return };
    let Some(stock) = stock(var) else { return };
    let d = s.doctor(&stock, &s.pristine_home());
    assert!(d.loads, "stock codex does not load even an empty config");
    say(&format!(
        "{var}: baseline model {}, provider {}",
        d.model, d.provider
    ));
}

fn stock_reads_documented_config_quietly(var: &str) {
    let Some(s) = setup() else { return };
    let Some(stock) = stock(var) else { return };
    let baseline = s.doctor(&stock, &s.pristine_home());
    assert_quiet(&s.doctor(&stock, &s.documented), &baseline);
}

fn stock_quiet_after_migration(var: &str) {
    let Some(s) = setup() else { return };
    let Some(stock) = stock(var) else { return };
    let baseline = s.doctor(&stock, &s.pristine_home());
    let home = s.legacy_home("legacy-home");
    s.litellm(&home, &["exec", "--skip-git-repo-check", "hello"])
        .assert_success();
    assert_quiet(&s.doctor(&stock, &home), &baseline);
    // Not a check: whether the warning this design avoids is real for this release.
    let control = s.doctor(&stock, &s.legacy_home("legacy-control"));
    say(&format!(
        "note {var} on an unmigrated legacy config.toml: {:?}",
        control.ours.first()
    ));
}

#[test]
fn stock_pinned_baseline() {
    stock_baseline(PINNED);
}
#[test]
fn stock_pinned_reads_documented_config_quietly() {
    stock_reads_documented_config_quietly(PINNED);
}
#[test]
fn stock_pinned_quiet_after_migration() {
    stock_quiet_after_migration(PINNED);
}
#[test]
fn stock_newest_baseline() {
    stock_baseline(NEWEST);
}
#[test]
fn stock_newest_reads_documented_config_quietly() {
    stock_reads_documented_config_quietly(NEWEST);
}
#[test]
fn stock_newest_quiet_after_migration() {
    stock_quiet_after_migration(NEWEST);
}

/// codex-litellm installed under the name `codex` behaves as the stock release it is
/// built on.
#[test]
fn patched_binary_run_as_codex_is_stock() {
    let Some(s) = setup() else { return };
    let Some(stock) = stock(PINNED) else { return };
    let renamed = s.dirs.path("codex");
    std::os::unix::fs::symlink(&s.bin, &renamed).unwrap();
    let baseline = s.doctor(&stock, &s.pristine_home());
    assert_quiet(&s.doctor(&renamed, &s.documented), &baseline);
}

/// Control: stock refuses `wire_api = "chat"`, why we may never write it to config.toml.
#[test]
fn control_stock_refuses_wire_api_chat() {
    let Some(s) = setup() else { return };
    let Some(stock) = stock(PINNED) else { return };
    let home = s.dirs.path("chat-home");
    std::fs::create_dir_all(&home).unwrap();
    let config = "[model_providers.x]\nname = \"x\"\nbase_url = \"http://127.0.0.1:1/v1\"\nwire_api = \"chat\"\n";
    std::fs::write(home.join("config.toml"), config).unwrap();
    let run = s
        .dirs
        .cmd(&stock)
        .home(&home)
        .args(["features", "list"])
        .run();
    assert!(
        run.code != 0 && run.stderr.contains("wire_api"),
        "stock codex accepted wire_api = \"chat\" (exit {}): this check cannot prove anything",
        run.code
    );
}
