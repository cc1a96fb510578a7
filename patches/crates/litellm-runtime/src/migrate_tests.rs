//! The move's result (`plan`) and its writing (`migrate_codex_home`), with starts of
//! codex-litellm and stock codex interleaved at the `Step`s.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;
use pretty_assertions::assert_eq;

const LEGACY: &str = r#"# my stock settings
model = "gpt-5.5"   # keep this comment

# codex-litellm
[litellm]
model = "qwen3-coder"
base_url = "http://gw:4000/v1"

[litellm.bridge]
developer_role = "user"

[litellm.telemetry]
level = "full"

[model_providers.deepseek]
name = "DeepSeek"   # the name
base_url = "https://api.deepseek.com/v1"

[model_providers.deepseek.litellm_bridge]
reasoning_return = "reasoning_content"

[model_providers.vllm]
name = "vLLM"
base_url = "http://gpu:8000/v1"
wire_api = "chat"

[profiles.x]
model = "y"
"#;

#[test]
fn moves_every_legacy_setting_and_keeps_the_rest_byte_for_byte() {
    let plan = plan(LEGACY, "").unwrap().unwrap();
    assert_eq!(
        plan.config_toml,
        r#"# my stock settings
model = "gpt-5.5"   # keep this comment

# codex-litellm

[model_providers.deepseek]
name = "DeepSeek"   # the name
base_url = "https://api.deepseek.com/v1"

[model_providers.vllm]
name = "vLLM"
base_url = "http://gpu:8000/v1"

[profiles.x]
model = "y"
"#
    );
    let settings = LitellmSettings::from_toml(&plan.litellm_toml, "litellm.toml").unwrap();
    assert_eq!(settings.model.as_deref(), Some("qwen3-coder"));
    assert_eq!(settings.telemetry.level, "full");
    assert_eq!(
        settings.providers["litellm"].definition.get("base_url"),
        Some(&toml::Value::String("http://gw:4000/v1".into()))
    );
    assert_eq!(
        settings
            .bridge_options("litellm")
            .map(|b| format!("{:?}", b.developer_role)),
        Some("User".to_string())
    );
    assert_eq!(
        settings
            .bridge_options("deepseek")
            .map(|b| format!("{:?}", b.reasoning_return)),
        Some("ReasoningContent".to_string())
    );
    assert!(settings.is_chat_provider("vllm"));
    assert_eq!(plan.moved.len(), 3, "{:?}", plan.moved);
    assert!(plan.moved[0].starts_with("[litellm] -> litellm.toml (model, providers.litellm.base_url, providers.litellm.bridge, telemetry)"), "{:?}", plan.moved);
}

#[test]
fn the_example_config_of_earlier_releases_migrates_keeping_its_comments() {
    let legacy = include_str!("testdata/legacy-config.toml");
    let plan = plan(legacy, "").unwrap().unwrap();
    assert!(
        plan.config_toml
            .starts_with("# $CODEX_HOME/config.toml (~/.codex/config.toml), shared by"),
        "the file's header comment must stay: {}",
        plan.config_toml
    );
    assert!(
        plan.config_toml
            .contains("[model_providers.deepseek]\nname = \"DeepSeek\"")
    );
    assert!(
        plan.litellm_toml
            .contains("# Bridge options of the built-in `litellm` provider")
    );
    let settings = LitellmSettings::from_toml(&plan.litellm_toml, "litellm.toml").unwrap();
    assert_eq!(settings.model.as_deref(), Some("qwen3-coder"));
    assert!(settings.is_chat_provider("deepseek"));
    assert_eq!(legacy_settings_in(&plan.config_toml), Vec::<String>::new());
}

#[test]
fn a_second_run_finds_nothing_and_an_interrupted_one_finishes() {
    let first = plan(LEGACY, "").unwrap().unwrap();
    assert_eq!(plan(&first.config_toml, &first.litellm_toml), Ok(None));
    // litellm.toml written, config.toml not: the same values are already there.
    let again = plan(LEGACY, &first.litellm_toml).unwrap().unwrap();
    assert_eq!(again.config_toml, first.config_toml);
    assert_eq!(
        LitellmSettings::from_toml(&again.litellm_toml, "l"),
        LitellmSettings::from_toml(&first.litellm_toml, "l")
    );
}

#[test]
fn existing_litellm_toml_is_kept_and_extended() {
    let existing =
        "# mine\nprovider = \"vllm\"\n\n[providers.vllm]\nbase_url = \"http://gpu:8000/v1\"\n";
    let plan = plan("[litellm]\nmodel = \"m\"\n", existing)
        .unwrap()
        .unwrap();
    assert_eq!(
        plan.litellm_toml,
        "# mine\nprovider = \"vllm\"\nmodel = \"m\"\n\n[providers.vllm]\nbase_url = \"http://gpu:8000/v1\"\n"
    );
    assert_eq!(plan.config_toml, "");
}

#[test]
fn what_cannot_be_moved_safely_is_a_clear_error() {
    let conflict = plan("[litellm]\nmodel = \"a\"\n", "model = \"b\"\n").unwrap_err();
    assert!(
        conflict.contains("[litellm] model")
            && conflict.contains("different values")
            && conflict.contains("nothing was moved"),
        "{conflict}"
    );
    let typo = plan("[litellm]\nmodle = \"a\"\n", "").unwrap_err();
    assert!(
        typo.contains("`modle`") && typo.contains("Fix or remove it"),
        "{typo}"
    );
    let bad_bridge = plan(
        "[model_providers.x]\nname = \"x\"\n[model_providers.x.litellm_bridge]\nmode = \"fast\"\n",
        "",
    )
    .unwrap_err();
    assert!(
        bad_bridge.contains("[providers.x.bridge]") && bad_bridge.contains("unknown variant"),
        "{bad_bridge}"
    );
    let broken = plan("[litellm]\nmodel = \"a\"\n", "not [ toml").unwrap_err();
    assert!(
        broken.contains("litellm.toml is not valid TOML"),
        "{broken}"
    );
}

#[test]
fn nothing_to_move_or_unparsable_config_is_left_alone() {
    assert_eq!(plan("model = \"gpt-5.5\"\n", ""), Ok(None));
    assert_eq!(plan("[litellm\n", ""), Ok(None));
    assert_eq!(
        plan(
            "[model_providers.x]\nname = \"x\"\nwire_api = \"responses\"\n",
            ""
        ),
        Ok(None)
    );
}

#[test]
fn migrates_a_codex_home_with_a_backup_through_a_symlink() {
    let home = tempfile::tempdir().unwrap();
    let real = home.path().join("dotfiles-config.toml");
    std::fs::write(&real, LEGACY).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(&real, home.path().join("config.toml")).unwrap();
    #[cfg(not(unix))]
    std::fs::copy(&real, home.path().join("config.toml")).unwrap();

    let report = migrate_codex_home(home.path()).unwrap().unwrap();
    assert_eq!(std::fs::read_to_string(&report.backup).unwrap(), LEGACY);
    let config = std::fs::read_to_string(home.path().join("config.toml")).unwrap();
    assert!(
        legacy_settings_in(&config).is_empty() && !config.contains("wire_api"),
        "{config}"
    );
    #[cfg(unix)]
    assert!(
        std::fs::symlink_metadata(home.path().join("config.toml"))
            .unwrap()
            .file_type()
            .is_symlink(),
        "the symlink must survive"
    );
    let settings = LitellmSettings::load(home.path()).unwrap();
    assert_eq!(settings.model.as_deref(), Some("qwen3-coder"));
    let message = report.message();
    assert!(
        message
            .contains("[model_providers.deepseek.litellm_bridge] -> [providers.deepseek.bridge]")
            && message.contains("before-litellm-toml"),
        "{message}"
    );
    assert_eq!(migrate_codex_home(home.path()), Ok(None));
}
