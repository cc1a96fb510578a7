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
    // The comment directly above `[litellm]` went with it.
    assert!(
        plan.litellm_toml
            .starts_with("# codex-litellm\nmodel = \"qwen3-coder\"\n"),
        "{}",
        plan.litellm_toml
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
    // Commented-out options stay under the setting they followed.
    assert!(
        plan.litellm_toml
            .contains("model = \"qwen3-coder\"\n# provider = \"litellm\"\n\n[providers.litellm]\n"),
        "{}",
        plan.litellm_toml
    );
    assert!(
        plan.litellm_toml
            .contains("[providers.litellm.bridge]\n# developer_role = \"system\""),
        "{}",
        plan.litellm_toml
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
    // litellm.toml written, config.toml not (an interrupted move, or one started over
    // because stock codex wrote config.toml meanwhile): the same values and comments are
    // already there, and none is doubled.
    for (what, legacy, _) in COMMENTED {
        let first = plan(legacy, "").unwrap().unwrap();
        let again = plan(legacy, &first.litellm_toml).unwrap().unwrap();
        assert_eq!(again.config_toml, first.config_toml, "{what}");
        assert_eq!(again.litellm_toml, first.litellm_toml, "{what}");
    }
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

    let Some(Outcome::Moved(report)) = migrate_codex_home(home.path()).unwrap() else {
        panic!("not moved");
    };
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

/// Every comment of a TOML text, trimmed: toml_edit keeps them in the decor of keys,
/// values and tables, so a walk over all decor finds each one.
fn comments_of(text: &str) -> Vec<String> {
    fn raw(found: &mut Vec<String>, raw: Option<&toml_edit::RawString>) {
        for line in raw.and_then(|r| r.as_str()).unwrap_or("").lines() {
            let line = line.trim();
            if line.starts_with('#') {
                found.push(line.to_string());
            }
        }
    }
    fn decor(found: &mut Vec<String>, decor: &toml_edit::Decor) {
        raw(found, decor.prefix());
        raw(found, decor.suffix());
    }
    fn key(found: &mut Vec<String>, key: Option<&toml_edit::Key>) {
        if let Some(key) = key {
            decor(found, key.leaf_decor());
            decor(found, key.dotted_decor());
        }
    }
    fn value(found: &mut Vec<String>, node: &toml_edit::Value) {
        decor(found, node.decor());
        match node {
            toml_edit::Value::Array(array) => {
                array.iter().for_each(|v| value(found, v));
                raw(found, Some(array.trailing()));
            }
            toml_edit::Value::InlineTable(table) => {
                for (k, v) in table.iter() {
                    key(found, table.key(k));
                    value(found, v);
                }
                raw(found, Some(table.trailing()));
            }
            _ => {}
        }
    }
    fn table(found: &mut Vec<String>, node: &Table) {
        decor(found, node.decor());
        for (k, item) in node.iter() {
            key(found, node.key(k));
            match item {
                Item::Value(v) => value(found, v),
                Item::Table(t) => table(found, t),
                Item::ArrayOfTables(array) => array.iter().for_each(|t| table(found, t)),
                Item::None => {}
            }
        }
    }
    let document: DocumentMut = text.parse().unwrap();
    let mut found = Vec::new();
    table(&mut found, document.as_table());
    raw(&mut found, Some(document.trailing()));
    found.sort();
    found
}

/// (what, config.toml, the comments that must move to litellm.toml with their setting)
const COMMENTED: &[(&str, &str, &[&str])] = &[
    (
        "dotted keys",
        "# my settings\n\nmodel = \"gpt-5.5\"\n# the gateway's model\nlitellm.model = \"qwen3-coder\"  # fast enough\nlitellm.bridge.developer_role = \"user\" # old vLLM\napproval_policy = \"never\"\n",
        &["# the gateway's model", "# fast enough", "# old vLLM"],
    ),
    (
        "inline [litellm]",
        "model = \"gpt-5.5\"\n# codex-litellm's defaults\nlitellm = { model = \"qwen3-coder\", base_url = \"http://gw:4000/v1\" } # set by hand\nsandbox_mode = \"workspace-write\"\n",
        &["# codex-litellm's defaults", "# set by hand"],
    ),
    (
        "comments in and after the [litellm] header",
        "model = \"gpt-5.5\"\n\n[litellm] # codex-litellm only\n# the default model\nmodel = \"qwen3-coder\"  # LITELLM_MODEL wins\n# provider = \"litellm\"\nbase_url = \"http://gw:4000/v1\"\n\n[litellm.bridge] # for the gateway\n# why\ndeveloper_role = \"user\"\n\n[profiles.x]\nmodel = \"y\"\n",
        &[
            "# codex-litellm only",
            "# the default model",
            "# LITELLM_MODEL wins",
            "# provider = \"litellm\"",
            "# for the gateway",
            "# why",
        ],
    ),
    (
        "comments around wire_api = \"chat\"",
        "[model_providers.vllm]\nname = \"vLLM\"\n# vLLM speaks only Chat Completions\nwire_api = \"chat\"  # needs codex-litellm\nbase_url = \"http://gpu:8000/v1\"\n\n[model_providers.litellm]\nname = \"LiteLLM\"\nwire_api = \"chat\" # built in: nothing to move to\n# the end\n",
        &[
            "# vLLM speaks only Chat Completions",
            "# needs codex-litellm",
        ],
    ),
    (
        "wire_api, then an inline litellm_bridge, in one provider",
        "[model_providers.v]\nname = \"v\"\nwire_api = \"chat\"\nenv_key = \"V_KEY\"\n# about v's models\n\nlitellm_bridge = { developer_role = \"user\" }\nmodels = [\"a\"]\n",
        &[],
    ),
    (
        "inline litellm_bridge",
        "[model_providers.deepseek]\nname = \"DeepSeek\"\n# DeepSeek returns reasoning here\nlitellm_bridge = { reasoning_return = \"reasoning_content\" } # since V3\nenv_key = \"DEEPSEEK_API_KEY\"\n",
        &["# DeepSeek returns reasoning here", "# since V3"],
    ),
    (
        "a litellm_bridge table",
        "[model_providers.x]\nname = \"x\"\n\n[model_providers.x.litellm_bridge] # for x\n# why\nreasoning_return = \"reasoning_content\" # the field\n",
        &["# for x", "# why", "# the field"],
    ),
    (
        "the example of earlier releases",
        include_str!("testdata/legacy-config.toml"),
        &[
            "# Default model and provider when you run `codex-litellm` without -m / -c model_provider=.",
            "# provider = \"litellm\"",
            "# off | summary | full",
        ],
    ),
    ("LEGACY", LEGACY, &[]),
];

#[test]
fn every_comment_ends_up_in_one_of_the_two_files_moved_ones_with_their_setting() {
    let mut lost = Vec::new();
    for (what, config, moved) in COMMENTED {
        let plan = plan(config, "").unwrap().unwrap();
        assert_eq!(
            legacy_settings_in(&plan.config_toml),
            Vec::<String>::new(),
            "{what}"
        );
        LitellmSettings::from_toml(&plan.litellm_toml, "litellm.toml").unwrap();
        let mut after = comments_of(&plan.config_toml);
        after.extend(comments_of(&plan.litellm_toml));
        for comment in comments_of(config) {
            match after.iter().position(|c| *c == comment) {
                Some(position) => {
                    after.remove(position);
                }
                None => lost.push(format!("{what}: `{comment}` is in neither file")),
            }
        }
        let in_litellm = comments_of(&plan.litellm_toml);
        for comment in *moved {
            if !in_litellm.iter().any(|c| c == comment) {
                lost.push(format!("{what}: `{comment}` is not in litellm.toml"));
            }
        }
    }
    assert_eq!(lost, Vec::<String>::new());
}

#[test]
fn a_moved_comment_stays_next_to_its_setting() {
    let plan = plan(COMMENTED[0].1, "").unwrap().unwrap();
    assert_eq!(
        plan.config_toml,
        "# my settings\n\nmodel = \"gpt-5.5\"\napproval_policy = \"never\"\n"
    );
    assert!(
        plan.litellm_toml
            .contains("# the gateway's model\nmodel = \"qwen3-coder\"  # fast enough\n"),
        "{}",
        plan.litellm_toml
    );
    assert!(
        plan.litellm_toml
            .contains("developer_role = \"user\" # old vLLM\n"),
        "{}",
        plan.litellm_toml
    );
}

#[test]
fn comments_that_stay_keep_their_place() {
    // The block after a blank line stays with what follows, not with what moved.
    let (_, config, _) = COMMENTED
        .iter()
        .find(|(what, _, _)| what.starts_with("wire_api, then"))
        .unwrap();
    let plan = plan(config, "").unwrap().unwrap();
    assert_eq!(
        plan.config_toml,
        "[model_providers.v]\nname = \"v\"\nenv_key = \"V_KEY\"\n# about v's models\n\nmodels = [\"a\"]\n"
    );
}

#[test]
fn crlf_a_bom_and_a_missing_last_newline_are_kept() {
    let config = "\u{feff}# mine\r\nmodel = \"gpt-5.5\"\r\n\r\n[litellm]\r\nmodel = \"q\"\r\n\r\n[profiles.x]\r\nmodel = \"y\"";
    let plan1 = plan(config, "").unwrap().unwrap();
    assert_eq!(
        plan1.config_toml,
        "\u{feff}# mine\r\nmodel = \"gpt-5.5\"\r\n\r\n[profiles.x]\r\nmodel = \"y\""
    );
    // A new litellm.toml takes config.toml's line endings, an existing one keeps its own.
    assert_eq!(plan1.litellm_toml, "model = \"q\"\r\n");
    let plan2 = plan(
        "[litellm]\nmodel = \"q\"\n",
        "# mine\r\nprovider = \"litellm\"\r\n",
    )
    .unwrap()
    .unwrap();
    assert_eq!(
        plan2.litellm_toml,
        "# mine\r\nprovider = \"litellm\"\r\nmodel = \"q\"\r\n"
    );
}

fn backups(home: &Path) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = std::fs::read_dir(home)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.to_string_lossy().contains(".before-litellm-toml"))
        .map(|path| {
            (
                path.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(&path).unwrap(),
            )
        })
        .collect();
    found.sort();
    found
}

#[test]
fn two_starts_at_once_keep_the_original_in_a_backup() {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join("config.toml"), LEGACY).unwrap();
    let mut second = None;
    let first = migrate_with(home.path(), &mut |step| {
        // The second start runs entirely while the first has named its backup.
        if step == Step::BackupNamed && second.is_none() {
            second = Some(migrate_codex_home(home.path()).map(|o| o.map(|o| o.message())));
        }
    });
    assert!(matches!(first, Ok(Some(Outcome::Moved(_)))), "{first:?}");
    // The second found the lock taken: it changed nothing and said nothing.
    assert_eq!(second, Some(Ok(None)));
    let backups = backups(home.path());
    assert!(
        backups.iter().any(|(_, text)| text == LEGACY),
        "the original config.toml survives in no backup: {backups:#?}"
    );
    let config = std::fs::read_to_string(home.path().join("config.toml")).unwrap();
    assert!(legacy_settings_in(&config).is_empty(), "{config}");
}

#[test]
fn a_trust_entry_stock_codex_writes_meanwhile_is_kept() {
    let home = tempfile::tempdir().unwrap();
    let config_path = home.path().join("config.toml");
    std::fs::write(&config_path, LEGACY).unwrap();
    let trust = "\n[projects.\"/home/me/repo\"]\ntrust_level = \"trusted\"\n";
    let mut written = false;
    let result = migrate_with(home.path(), &mut |step| {
        // Stock codex, started at the same time, records a trusted folder.
        if step == Step::ConfigReplace && !written {
            let text = std::fs::read_to_string(&config_path).unwrap();
            std::fs::write(&config_path, format!("{text}{trust}")).unwrap();
            written = true;
        }
    });
    assert!(result.is_ok(), "{result:?}");
    let config = std::fs::read_to_string(&config_path).unwrap();
    assert!(
        config.contains("[projects.\"/home/me/repo\"]\ntrust_level = \"trusted\""),
        "the trust entry was lost: {config}"
    );
    assert!(legacy_settings_in(&config).is_empty(), "{config}");
    let settings = LitellmSettings::load(home.path()).unwrap();
    assert_eq!(settings.model.as_deref(), Some("qwen3-coder"));
}

/// config.toml as Nix's home-manager makes it: a symlink to a read-only file in a
/// read-only folder.
#[cfg(unix)]
#[test]
fn an_unwritable_config_toml_is_a_warning_with_what_to_do_and_no_new_backup_per_start() {
    use std::os::unix::fs::PermissionsExt;
    let home = tempfile::tempdir().unwrap();
    let store = home.path().join("store");
    std::fs::create_dir(&store).unwrap();
    let target = store.join("hm-config.toml");
    std::fs::write(&target, LEGACY).unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o444)).unwrap();
    std::fs::set_permissions(&store, std::fs::Permissions::from_mode(0o555)).unwrap();
    std::os::unix::fs::symlink(&target, home.path().join("config.toml")).unwrap();

    let mut outcomes = Vec::new();
    for _ in 0..3 {
        outcomes.push(migrate_codex_home(home.path()).map(|o| o.map(|o| o.message())));
    }
    let unchanged = std::fs::read_to_string(&target).unwrap();
    let listing: Vec<String> = std::fs::read_dir(home.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    std::fs::set_permissions(&store, std::fs::Permissions::from_mode(0o755)).unwrap();

    for outcome in &outcomes {
        let message = outcome
            .as_ref()
            .map_err(String::clone)
            .and_then(|m| m.clone().ok_or_else(|| "no message".to_string()));
        let message = message.unwrap_or_else(|err| panic!("a start failed: {err}"));
        assert!(
            message.contains("cannot be written")
                && message.contains("litellm.toml")
                && message.contains("[litellm]")
                && message.contains("Codex refuses to load"),
            "{message}"
        );
    }
    assert_eq!(unchanged, LEGACY, "a read-only config.toml was replaced");
    assert_eq!(backups(home.path()), Vec::new(), "{listing:?}");
    // Nothing half-moved either: litellm.toml alone would later conflict with config.toml.
    assert!(!home.path().join("litellm.toml").exists(), "{listing:?}");
    // This run still gets the settings (load_view moves them in memory).
    let view = crate::load_view(home.path()).unwrap();
    assert_eq!(view.settings.model.as_deref(), Some("qwen3-coder"));
}

#[cfg(unix)]
#[test]
fn litellm_toml_and_the_backup_are_private_and_no_temporary_file_is_left() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    let home = tempfile::tempdir().unwrap();
    let config_path = home.path().join("config.toml");
    std::fs::write(&config_path, LEGACY).unwrap();
    std::fs::set_permissions(&config_path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let report = migrate_codex_home(home.path()).unwrap();
    assert!(report.is_some());
    assert_eq!(mode(&home.path().join("litellm.toml")), 0o600);
    assert_eq!(mode(&config_path), 0o600);
    let backups = backups(home.path());
    assert_eq!(backups.len(), 1);
    assert_eq!(mode(&home.path().join(&backups[0].0)), 0o600);
    let left: Vec<String> = std::fs::read_dir(home.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains("tmp"))
        .collect();
    assert_eq!(left, Vec::<String>::new());

    // An existing litellm.toml keeps the mode its owner gave it.
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join("config.toml"), LEGACY).unwrap();
    std::fs::write(home.path().join("litellm.toml"), "").unwrap();
    std::fs::set_permissions(
        home.path().join("litellm.toml"),
        std::fs::Permissions::from_mode(0o640),
    )
    .unwrap();
    migrate_codex_home(home.path()).unwrap();
    assert_eq!(mode(&home.path().join("litellm.toml")), 0o640);
}

#[test]
fn a_lock_file_left_by_a_crashed_start_does_not_stop_the_next() {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join("config.toml"), LEGACY).unwrap();
    std::fs::write(home.path().join(write::LOCK_FILE), "").unwrap();
    let outcome = migrate_codex_home(home.path()).unwrap();
    assert!(matches!(outcome, Some(Outcome::Moved(_))), "{outcome:?}");
    // Nothing to move: no lock file is needed either.
    let empty = tempfile::tempdir().unwrap();
    std::fs::write(empty.path().join("config.toml"), "model = \"m\"\n").unwrap();
    assert_eq!(migrate_codex_home(empty.path()), Ok(None));
    assert!(!empty.path().join(write::LOCK_FILE).exists());
}
