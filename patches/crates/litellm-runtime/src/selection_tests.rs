//! One test per row of the precedence tables in docs/CONFIGURATION.md
//! (`cargo test --workspace -- precedence` selects them).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use pretty_assertions::assert_eq;

struct Case<'a> {
    args: &'a [&'a str],
    config: &'a str,
    litellm: &'a str,
    /// (name, text of `<name>.config.toml`)
    profile: Option<(&'a str, &'a str)>,
    env: &'a [(&'a str, &'a str)],
}

impl Default for Case<'_> {
    fn default() -> Self {
        Self {
            args: &["codex-litellm", "exec", "hi"],
            config: "",
            litellm: "",
            profile: None,
            env: &[],
        }
    }
}

impl Case<'_> {
    fn try_resolve(&self) -> Result<Resolution, String> {
        let config: toml::Table = toml::from_str(self.config).unwrap();
        let settings = LitellmSettings::from_toml(self.litellm, "litellm.toml").unwrap();
        let profile_file = self.profile;
        let profile = move |name: &str| {
            profile_file
                .filter(|(n, _)| *n == name)
                .map(|(_, text)| toml::from_str::<toml::Table>(text).unwrap())
        };
        let env_pairs = self.env;
        let env = move |name: &str| {
            env_pairs
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        };
        let args: Vec<String> = self.args.iter().map(|a| (*a).to_string()).collect();
        resolve(
            &args,
            &Context {
                config: &config,
                settings: &settings,
                profile: &profile,
                env: &env,
            },
        )
    }

    fn resolve(&self) -> Resolution {
        self.try_resolve().unwrap_or_else(|e| panic!("{e}"))
    }
}

/// The `-c` values handed to Codex, without the `-c` flags.
fn overrides(resolution: &Resolution) -> Vec<String> {
    resolution
        .args
        .chunks(2)
        .map(|pair| {
            assert_eq!(pair[0], "-c");
            pair[1].clone()
        })
        .collect()
}

fn has_override(resolution: &Resolution, key: &str) -> Option<String> {
    overrides(resolution)
        .into_iter()
        .find_map(|o| o.strip_prefix(&format!("{key}=")).map(str::to_string))
}

fn provider(resolution: &Resolution) -> (Option<&str>, String) {
    (
        resolution.provider.value.as_deref(),
        resolution.provider.source.to_string(),
    )
}

fn model(resolution: &Resolution) -> (Option<&str>, String) {
    (
        resolution.model.value.as_deref(),
        resolution.model.source.to_string(),
    )
}

fn base_url(resolution: &Resolution) -> (Option<&str>, String) {
    (
        resolution.base_url.value.as_deref(),
        resolution.base_url.source.to_string(),
    )
}

const EVERY_FILE_CHOOSES: &str = "model_provider = \"deepseek\"\nmodel = \"cfg-model\"\n";
const LITELLM_CHOOSES: &str = "provider = \"vllm\"\nmodel = \"ours-model\"\n[providers.vllm]\nbase_url = \"http://gpu:8000/v1\"\n[providers.deepseek]\nbase_url = \"https://api.deepseek.com/v1\"\n";

// ---- provider ----

#[test]
fn precedence_provider_1_command_line_beats_everything() {
    for (args, expected) in [
        (
            &["codex-litellm", "-c", "model_provider=\"other\"", "exec"][..],
            (Some("other"), "command line -c model_provider".to_string()),
        ),
        (
            &["codex-litellm", "exec", "--local-provider", "ollama-chat"][..],
            (
                Some("ollama-chat"),
                "command line --local-provider".to_string(),
            ),
        ),
        (
            &["codex-litellm", "exec", "--oss"][..],
            (None, "command line --oss".to_string()),
        ),
    ] {
        let resolution = Case {
            args,
            config: EVERY_FILE_CHOOSES,
            litellm: LITELLM_CHOOSES,
            profile: Some(("work", "model_provider = \"vllm\"")),
            ..Case::default()
        }
        .resolve();
        assert_eq!(provider(&resolution), expected, "{args:?}");
        assert_eq!(has_override(&resolution, "model_provider"), None);
    }
}

#[test]
fn precedence_provider_2_profile_file_beats_litellm_toml_and_config_toml() {
    let resolution = Case {
        args: &["codex-litellm", "-p", "work", "exec"],
        config: EVERY_FILE_CHOOSES,
        litellm: LITELLM_CHOOSES,
        profile: Some(("work", "model_provider = \"deepseek\"")),
        ..Case::default()
    }
    .resolve();
    assert_eq!(
        provider(&resolution),
        (
            Some("deepseek"),
            "work.config.toml model_provider".to_string()
        )
    );
    // Codex reads the profile itself; a `-c` would override it.
    assert_eq!(has_override(&resolution, "model_provider"), None);
}

#[test]
fn precedence_provider_3_litellm_toml_beats_config_toml() {
    let resolution = Case {
        config: EVERY_FILE_CHOOSES,
        litellm: LITELLM_CHOOSES,
        ..Case::default()
    }
    .resolve();
    assert_eq!(
        provider(&resolution),
        (Some("vllm"), "litellm.toml provider".to_string())
    );
    assert_eq!(
        has_override(&resolution, "model_provider").as_deref(),
        Some("\"vllm\"")
    );
}

#[test]
fn precedence_provider_4_config_toml_model_provider_naming_a_chat_provider_is_honoured() {
    // The first trap of issue 12: this used to be overridden by `-c model_provider=litellm`.
    let resolution = Case {
        config: EVERY_FILE_CHOOSES,
        litellm: "[providers.deepseek]\nbase_url = \"https://api.deepseek.com/v1\"\n",
        ..Case::default()
    }
    .resolve();
    assert_eq!(
        provider(&resolution),
        (Some("deepseek"), "config.toml model_provider".to_string())
    );
    assert!(resolution.is_chat);
    assert_eq!(has_override(&resolution, "model_provider"), None);
    assert_eq!(
        base_url(&resolution),
        (
            Some("https://api.deepseek.com/v1"),
            "litellm.toml [providers.deepseek] base_url".to_string()
        )
    );
}

#[test]
fn precedence_provider_5_config_toml_model_provider_naming_a_responses_provider_is_stock_codexs() {
    let resolution = Case {
        config: "model_provider = \"openai\"\n",
        ..Case::default()
    }
    .resolve();
    assert_eq!(
        provider(&resolution),
        (Some("litellm"), "built-in default".to_string())
    );
    assert_eq!(
        has_override(&resolution, "model_provider").as_deref(),
        Some("\"litellm\"")
    );
}

#[test]
fn precedence_provider_6_default_is_litellm_and_the_environment_never_chooses() {
    let resolution = Case {
        env: &[
            ("LITELLM_BASE_URL", "http://gw:4000/v1"),
            ("CODEX_OSS_BASE_URL", "http://box:11434/v1"),
        ],
        ..Case::default()
    }
    .resolve();
    assert_eq!(
        provider(&resolution),
        (Some("litellm"), "built-in default".to_string())
    );
    assert!(resolution.is_chat);
}

// ---- model ----

#[test]
fn precedence_model_1_command_line_beats_everything() {
    for args in [
        &["codex-litellm", "-m", "cli-model", "-p", "work", "exec"][..],
        &["codex-litellm", "-p", "work", "exec", "--model=cli-model"][..],
        &[
            "codex-litellm",
            "-p",
            "work",
            "-c",
            "model=\"cli-model\"",
            "exec",
        ][..],
    ] {
        let resolution = Case {
            args,
            config: EVERY_FILE_CHOOSES,
            litellm: LITELLM_CHOOSES,
            profile: Some(("work", "model = \"profile-model\"")),
            env: &[("LITELLM_MODEL", "env-model")],
        }
        .resolve();
        assert_eq!(model(&resolution).0, Some("cli-model"), "{args:?}");
        assert!(model(&resolution).1.starts_with("command line"), "{args:?}");
        assert_eq!(has_override(&resolution, "model"), None, "{args:?}");
    }
}

#[test]
fn precedence_model_2_profile_file_beats_the_environment() {
    let resolution = Case {
        args: &["codex-litellm", "--profile=work", "exec"],
        litellm: LITELLM_CHOOSES,
        profile: Some(("work", "model = \"profile-model\"")),
        env: &[("LITELLM_MODEL", "env-model")],
        ..Case::default()
    }
    .resolve();
    assert_eq!(
        model(&resolution),
        (Some("profile-model"), "work.config.toml model".to_string())
    );
    assert_eq!(has_override(&resolution, "model"), None);
}

#[test]
fn precedence_model_3_litellm_model_beats_the_files() {
    let resolution = Case {
        config: EVERY_FILE_CHOOSES,
        litellm: LITELLM_CHOOSES,
        env: &[("LITELLM_MODEL", "env-model")],
        ..Case::default()
    }
    .resolve();
    assert_eq!(
        model(&resolution),
        (Some("env-model"), "LITELLM_MODEL".to_string())
    );
    assert_eq!(
        has_override(&resolution, "model").as_deref(),
        Some("\"env-model\"")
    );
}

#[test]
fn precedence_model_4_litellm_toml_beats_config_toml() {
    let resolution = Case {
        config: EVERY_FILE_CHOOSES,
        litellm: LITELLM_CHOOSES,
        ..Case::default()
    }
    .resolve();
    assert_eq!(
        model(&resolution),
        (Some("ours-model"), "litellm.toml model".to_string())
    );
    assert_eq!(
        has_override(&resolution, "model").as_deref(),
        Some("\"ours-model\"")
    );
}

#[test]
fn precedence_model_5_config_toml_model_then_codex_default() {
    let from_config = Case {
        config: "model = \"cfg-model\"\n",
        ..Case::default()
    }
    .resolve();
    assert_eq!(
        model(&from_config),
        (Some("cfg-model"), "config.toml model".to_string())
    );
    assert_eq!(has_override(&from_config, "model"), None);
    let nothing = Case::default().resolve();
    assert_eq!(model(&nothing), (None, "Codex default".to_string()));
    assert!(
        nothing.line().contains("model not set"),
        "{}",
        nothing.line()
    );
}

// ---- base URL of a chat provider ----

#[test]
fn precedence_base_url_1_command_line_beats_the_environment() {
    let resolution = Case {
        args: &[
            "codex-litellm",
            "-c",
            "model_providers.litellm.base_url=\"http://cli:1/v1\"",
            "exec",
        ],
        env: &[("LITELLM_BASE_URL", "http://env:2/v1")],
        ..Case::default()
    }
    .resolve();
    assert_eq!(
        base_url(&resolution),
        (
            Some("http://cli:1/v1"),
            "command line -c model_providers.litellm.base_url".to_string()
        )
    );
    assert_eq!(
        has_override(&resolution, "model_providers.litellm.base_url"),
        None
    );
}

#[test]
fn precedence_base_url_2_environment_beats_the_files() {
    let resolution = Case {
        config: "[model_providers.litellm]\nname = \"gw\"\nbase_url = \"http://config:3/v1\"\n",
        litellm: "[providers.litellm]\nbase_url = \"http://ours:4/v1\"\n",
        env: &[("LITELLM_BASE_URL", "http://env:2/v1")],
        ..Case::default()
    }
    .resolve();
    assert_eq!(
        base_url(&resolution),
        (Some("http://env:2/v1"), "LITELLM_BASE_URL".to_string())
    );
    assert_eq!(
        has_override(&resolution, "model_providers.litellm.base_url").as_deref(),
        Some("\"http://env:2/v1\"")
    );
    let ollama = Case {
        args: &["codex-litellm", "-c", "model_provider=ollama-chat"],
        env: &[("CODEX_OSS_PORT", "11500")],
        ..Case::default()
    }
    .resolve();
    assert_eq!(
        base_url(&ollama),
        (
            Some("http://localhost:11500/v1"),
            "CODEX_OSS_PORT".to_string()
        )
    );
}

#[test]
fn precedence_base_url_3_litellm_toml_beats_config_toml() {
    let resolution = Case {
        config: "[model_providers.litellm]\nname = \"gw\"\nbase_url = \"http://config:3/v1\"\n",
        litellm: "[providers.litellm]\nbase_url = \"http://ours:4/v1\"\n",
        ..Case::default()
    }
    .resolve();
    assert_eq!(
        base_url(&resolution),
        (
            Some("http://ours:4/v1"),
            "litellm.toml [providers.litellm] base_url".to_string()
        )
    );
    assert_eq!(
        has_override(&resolution, "model_providers.litellm.base_url").as_deref(),
        Some("\"http://ours:4/v1\"")
    );
}

#[test]
fn precedence_base_url_4_a_config_toml_table_for_a_built_in_id_is_merged_over_the_defaults() {
    // The second trap of issue 12: this table used to be silently ignored.
    let resolution = Case {
        config: "[model_providers.litellm]\nbase_url = \"http://gw.corp:4000/v1\"\nhttp_headers = { \"x-team\" = \"a\" }\n",
        ..Case::default()
    }
    .resolve();
    assert_eq!(
        base_url(&resolution),
        (
            Some("http://gw.corp:4000/v1"),
            "config.toml [model_providers.litellm] base_url".to_string()
        )
    );
    // Codex reads the user's keys itself; only the missing ones are added.
    assert_eq!(
        has_override(&resolution, "model_providers.litellm.base_url"),
        None
    );
    assert_eq!(
        has_override(&resolution, "model_providers.litellm.name").as_deref(),
        Some("\"LiteLLM\"")
    );
    assert_eq!(
        has_override(&resolution, "model_providers.litellm.env_key").as_deref(),
        Some("\"LITELLM_API_KEY\"")
    );
}

#[test]
fn precedence_base_url_5_built_in_defaults() {
    let resolution = Case::default().resolve();
    assert_eq!(
        base_url(&resolution),
        (
            Some("http://localhost:4000/v1"),
            "built-in default".to_string()
        )
    );
    assert_eq!(
        has_override(&resolution, "model_providers.ollama-chat.base_url").as_deref(),
        Some("\"http://localhost:11434/v1\"")
    );
}

// ---- chat providers defined only in litellm.toml ----

#[test]
fn a_provider_defined_only_in_litellm_toml_reaches_codex_through_overrides() {
    let resolution = Case {
        litellm: "provider = \"vllm\"\n[providers.vllm]\nbase_url = \"http://gpu:8000/v1\"\nenv_key = \"VLLM_KEY\"\n[providers.vllm.bridge]\nreasoning_return = \"reasoning\"\n",
        ..Case::default()
    }
    .resolve();
    let all = overrides(&resolution);
    for expected in [
        "model_provider=\"vllm\"",
        "model_providers.vllm.base_url=\"http://gpu:8000/v1\"",
        "model_providers.vllm.env_key=\"VLLM_KEY\"",
        "model_providers.vllm.name=\"vllm\"",
    ] {
        assert!(
            all.iter().any(|o| o == expected),
            "{expected} not in {all:?}"
        );
    }
    assert!(!all.iter().any(|o| o.contains("bridge")), "{all:?}");
}

#[test]
fn a_chosen_chat_provider_without_a_base_url_is_a_clear_error() {
    let err = Case {
        litellm: "provider = \"vllm\"\n[providers.vllm.bridge]\nstream = false\n",
        ..Case::default()
    }
    .try_resolve()
    .unwrap_err();
    assert!(
        err.contains("`vllm`") && err.contains("add `base_url"),
        "{err}"
    );
    // Not chosen: no error, and nothing half-defined is handed to Codex.
    let resolution = Case {
        litellm: "[providers.vllm.bridge]\nstream = false\n",
        ..Case::default()
    }
    .resolve();
    assert!(
        !overrides(&resolution).iter().any(|o| o.contains("vllm")),
        "{:?}",
        resolution.args
    );
}

#[test]
fn the_start_line_says_what_and_where_from_without_secrets() {
    let resolution = Case {
        litellm: "provider = \"litellm\"\n",
        env: &[
            (
                "LITELLM_BASE_URL",
                "http://user:pw@gw:4000/v1?api_key=sk-secret",
            ),
            ("LITELLM_MODEL", "qwen3-coder"),
        ],
        ..Case::default()
    }
    .resolve();
    assert_eq!(
        resolution.line(),
        "provider litellm (from litellm.toml provider) · http://gw:4000/v1?api_key=*** (LITELLM_BASE_URL) · model qwen3-coder (LITELLM_MODEL)"
    );
}

#[test]
fn command_line_scan_reads_values_in_every_spelling() {
    let scan = CommandLine::scan(
        &[
            "codex-litellm",
            "--config=model_provider=\"a\"",
            "-cmodel=b",
            "-pwork",
            "-c",
            "model_providers.x.base_url=\"u\"",
            "--",
            "-m",
            "late",
        ]
        .map(String::from),
    );
    assert_eq!(
        scan.provider,
        Some(("-c model_provider".to_string(), Some("a".to_string())))
    );
    assert_eq!(scan.model, Some(("-c model".to_string(), "b".to_string())));
    assert_eq!(scan.profile.as_deref(), Some("work"));
    assert!(
        scan.provider_keys
            .contains(&("x".to_string(), "base_url".to_string()))
    );
}
