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

/// codex-litellm, a mock serving the documented models, a home with the documented files.
struct Setup {
    bin: PathBuf,
    dirs: Dirs,
    mock: Mock,
}

fn setup() -> Option<Setup> {
    let bin = litellm_bin()?;
    let dirs = Dirs::new();
    let answer = |model: &str, provider: &str| {
        let text = format!("codex-litellm via the {provider} provider");
        let model = format!("\"model\":\"{model}\""); // both names occur in each body
        json!({"match": {"body_contains": [model]}, "text": text})
    };
    let deepseek = answer("deepseek-chat", "deepseek");
    let responses = [deepseek, answer("qwen3-coder", "litellm")];
    let mock = Mock::from_json(
        json!({"models": ["qwen3-coder", "deepseek-chat"], "responses": responses,
               "fallback": {"text": "codex-litellm via the litellm provider"}}),
        0,
    );
    for file in ["config.toml", "litellm.toml"] {
        let example = repo_root().join("docs/examples").join(file);
        std::fs::copy(example, dirs.home.join(file)).unwrap();
    }
    Some(Setup { bin, dirs, mock })
}

impl Setup {
    fn litellm(&self, home: &Path, args: &[&str]) -> Run {
        let cmd = self.dirs.cmd(&self.bin).home(home);
        let cmd = cmd.env("LITELLM_BASE_URL", self.mock.url());
        let cmd = cmd.env("LITELLM_API_KEY", "sk-side-by-side");
        cmd.env("DEEPSEEK_API_KEY", "sk-side-by-side")
            .args(args)
            .run()
    }

    /// A home under the root: empty, or holding `config` as config.toml.
    fn home(&self, name: &str, config: Option<&Path>) -> PathBuf {
        let home = self.dirs.path(name);
        std::fs::create_dir_all(&home).unwrap();
        config.map(|c| std::fs::copy(c, home.join("config.toml")).unwrap());
        home
    }

    /// A CODEX_HOME holding an earlier codex-litellm's config.toml.
    fn legacy_home(&self, name: &str) -> PathBuf {
        let crates = repo_root().join("patches/crates");
        let legacy = crates.join("litellm-runtime/src/testdata/legacy-config.toml");
        self.home(name, Some(&legacy))
    }

    /// `doctor --json` of `bin` on `home`: the config check.
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
        let check = report["checks"]["config.load"].clone();
        let details = check["details"].as_object().cloned().unwrap_or_default();
        let warnings = details
            .iter()
            .filter(|(k, _)| k.starts_with("startup warning"));
        let ours = |w: &String| {
            let w = w.to_lowercase();
            ["unrecognized", "ignored", "litellm", "wire_api"]
                .iter()
                .any(|o| w.contains(o))
        };
        let ours = warnings.map(|(_, v)| v.to_string()).filter(ours).collect();
        let loads = check.is_object() && check["status"] != "fail";
        let defaults = pick(&check, &["/details/model", "/details/model provider"]);
        Doctor {
            loads,
            defaults,
            ours,
        }
    }
}

#[derive(Debug)]
struct Doctor {
    loads: bool,
    /// Model and provider.
    defaults: Value,
    /// Start-up warnings about our settings.
    ours: Vec<String>,
}

/// Loads the config, warns about none of ours, keeps the defaults of `baseline`.
#[track_caller]
fn assert_quiet(d: &Doctor, baseline: &Doctor) {
    check(
        d.loads,
        "stock loads the config (`codex features list` says why not)",
    );
    assert_eq!(
        d.ours,
        Vec::<String>::new(),
        "stock's warnings about our settings"
    );
    assert_eq!(
        d.defaults, baseline.defaults,
        "stock's default model and provider"
    );
}

const HELLO: [&str; 3] = ["exec", "--skip-git-repo-check", "hello"];

#[test]
fn codex_litellm_uses_litellm_toml_defaults() {
    let s = or_skip!(setup());
    let run = s.litellm(&s.dirs.home, &HELLO);
    run.assert_success();
    has(&run.stdout, &["via the litellm provider"]);
    let lines: Vec<&str> = run.stderr.lines().collect();
    check(
        lines.contains(&"provider: litellm"),
        "header: provider: litellm",
    );
    check(
        lines.contains(&"model: qwen3-coder"),
        "header: model: qwen3-coder",
    );
}

#[test]
fn codex_litellm_chat_provider_listed_in_litellm_toml() {
    let s = or_skip!(setup());
    let url = format!("model_providers.deepseek.base_url=\"{}\"", s.mock.url());
    let deepseek = [
        "-c",
        "model_provider=deepseek",
        "-m",
        "deepseek-chat",
        "-c",
        &url,
    ];
    let run = s.litellm(&s.dirs.home, &[&deepseek[..], &HELLO].concat());
    run.assert_success();
    has(&run.stdout, &["via the deepseek provider"]);
}

#[test]
fn codex_litellm_moves_legacy_settings_once() {
    let s = or_skip!(setup());
    let home = s.legacy_home("legacy-home");
    let first = s.litellm(&home, &HELLO);
    first.assert_success();
    has(&first.stderr, &["moved its settings from config.toml"]);
    check(home.join("litellm.toml").is_file(), "litellm.toml written");
    let config = read(home.join("config.toml"));
    let ours = |l: &&str| l.starts_with("[litellm") || l.contains("litellm_bridge]");
    assert_eq!(config.lines().filter(ours).count(), 0, "{config}");
    let again = s.litellm(&home, &HELLO);
    lacks(&again.stderr, &["moved its settings"]);
}

fn stock_baseline(var: &str) {
    let s = or_skip!(setup());
    let stock = or_skip!(bin(var, "a stock codex binary"));
    let d = s.doctor(&stock, &s.home("pristine", None));
    check(d.loads, "stock loads even an empty config");
    say(&format!(
        "{var}: baseline model and provider {}",
        d.defaults
    ));
}

fn stock_reads_documented_config_quietly(var: &str) {
    let s = or_skip!(setup());
    let stock = or_skip!(bin(var, "a stock codex binary"));
    let baseline = s.doctor(&stock, &s.home("pristine", None));
    assert_quiet(&s.doctor(&stock, &s.dirs.home), &baseline);
}

fn stock_quiet_after_migration(var: &str) {
    let s = or_skip!(setup());
    let stock = or_skip!(bin(var, "a stock codex binary"));
    let baseline = s.doctor(&stock, &s.home("pristine", None));
    let home = s.legacy_home("legacy-home");
    s.litellm(&home, &HELLO).assert_success();
    assert_quiet(&s.doctor(&stock, &home), &baseline);
    // Not a check: whether the warning this design avoids is real for this release.
    let control = s.doctor(&stock, &s.legacy_home("legacy-control"));
    let warning = control.ours.first();
    say(&format!(
        "note {var} on an unmigrated legacy config.toml: {warning:?}"
    ));
}

/// Each check for each stock release.
macro_rules! per_release {
    ($($name:ident: $check:ident($var:ident),)*) => {
        $(#[test]
        fn $name() {
            $check($var);
        })*
    };
}

per_release! {
    stock_pinned_baseline: stock_baseline(PINNED),
    stock_pinned_reads_documented_config_quietly: stock_reads_documented_config_quietly(PINNED),
    stock_pinned_quiet_after_migration: stock_quiet_after_migration(PINNED),
    stock_newest_baseline: stock_baseline(NEWEST),
    stock_newest_reads_documented_config_quietly: stock_reads_documented_config_quietly(NEWEST),
    stock_newest_quiet_after_migration: stock_quiet_after_migration(NEWEST),
}

/// codex-litellm installed as `codex` behaves as the stock release it is built on.
#[test]
fn patched_binary_run_as_codex_is_stock() {
    let s = or_skip!(setup());
    let stock = or_skip!(bin(PINNED, "a stock codex binary"));
    let renamed = s.dirs.path("codex");
    std::os::unix::fs::symlink(&s.bin, &renamed).unwrap();
    let baseline = s.doctor(&stock, &s.home("pristine", None));
    assert_quiet(&s.doctor(&renamed, &s.dirs.home), &baseline);
}

/// Control: stock refuses `wire_api = "chat"`, why we may never write it to config.toml.
#[test]
fn control_stock_refuses_wire_api_chat() {
    let s = or_skip!(setup());
    let stock = or_skip!(bin(PINNED, "a stock codex binary"));
    let config = s.dirs.path("chat.toml");
    let table = "[model_providers.x]\nname = \"x\"\nbase_url = \"http://127.0.0.1:1/v1\"\n";
    std::fs::write(&config, format!("{table}wire_api = \"chat\"\n")).unwrap();
    let home = s.home("chat-home", Some(&config));
    let run = s
        .dirs
        .cmd(&stock)
        .home(&home)
        .args(["features", "list"])
        .run();
    // Otherwise this check cannot prove anything.
    check(run.code != 0, "stock refuses wire_api = \"chat\"");
    has(&run.stderr, &["wire_api"]);
}
