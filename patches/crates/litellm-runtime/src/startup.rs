//! What codex-litellm does with its command line before Codex parses it: its own
//! `--version` and `telemetry` subcommand, the `--telemetry` / `--no-telemetry` flags, and
//! the default provider and model (as `-c` overrides the user's own flags still beat).

use crate::settings::LitellmSettings;
use std::ffi::OsString;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartupAction {
    /// Hand the (rewritten) arguments to Codex.
    Continue,
    PrintVersion,
    /// `codex-litellm telemetry ...`: the telemetry reader, with its arguments.
    TelemetryReader(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartupPlan {
    pub args: Vec<OsString>,
    pub action: StartupAction,
    /// From `--telemetry[=LEVEL]` / `--no-telemetry`.
    pub telemetry_level: Option<String>,
}

pub fn plan(
    args: Vec<OsString>,
    settings: &LitellmSettings,
    env_model: Option<String>,
    as_codex_litellm: bool,
) -> Result<StartupPlan, String> {
    if !as_codex_litellm {
        return Ok(StartupPlan {
            args,
            action: StartupAction::Continue,
            telemetry_level: None,
        });
    }
    let text: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    match text.get(1).map(String::as_str) {
        Some("--version" | "-V") if text.len() == 2 => {
            return Ok(StartupPlan {
                args,
                action: StartupAction::PrintVersion,
                telemetry_level: None,
            });
        }
        Some("telemetry") => {
            return Ok(StartupPlan {
                args,
                action: StartupAction::TelemetryReader(text[2..].to_vec()),
                telemetry_level: None,
            });
        }
        _ => {}
    }

    let mut telemetry_level = None;
    let mut kept: Vec<OsString> = Vec::with_capacity(args.len() + 4);
    let mut after_double_dash = false;
    for (arg, arg_text) in args.into_iter().zip(text.iter()) {
        if !after_double_dash {
            if arg_text == "--" {
                after_double_dash = true;
            } else if arg_text == "--no-telemetry" {
                telemetry_level = Some("off".to_string());
                continue;
            } else if arg_text == "--telemetry" {
                // Bare flag: on, without whole conversations on disk (`=full` asks for those).
                telemetry_level = Some("summary".to_string());
                continue;
            } else if let Some(level) = arg_text.strip_prefix("--telemetry=") {
                if !matches!(level, "off" | "summary" | "full") {
                    return Err(format!(
                        "--telemetry={level}: the level must be off, summary or full"
                    ));
                }
                telemetry_level = Some(level.to_string());
                continue;
            }
        }
        kept.push(arg);
    }

    let user = UserChoices::scan(&text);
    let mut defaults: Vec<OsString> = Vec::new();
    if !user.provider && !user.profile {
        defaults.push("-c".into());
        defaults.push(
            format!(
                "model_provider={}",
                toml_string(&settings.default_provider())
            )
            .into(),
        );
    }
    if !user.model
        && !user.profile
        && let Some(model) = settings.default_model(env_model)
    {
        defaults.push("-c".into());
        defaults.push(format!("model={}", toml_string(&model)).into());
    }
    // Right after the program name: later `-c` flags (the user's) win over ours.
    let insert_at = kept.len().min(1);
    kept.splice(insert_at..insert_at, defaults);
    Ok(StartupPlan {
        args: kept,
        action: StartupAction::Continue,
        telemetry_level,
    })
}

/// Which defaults the user already chose on the command line.
#[derive(Debug, Default)]
struct UserChoices {
    provider: bool,
    model: bool,
    profile: bool,
}

impl UserChoices {
    fn scan(args: &[String]) -> Self {
        let mut choices = Self::default();
        let mut iter = args.iter().skip(1).peekable();
        while let Some(arg) = iter.next() {
            if arg == "--" {
                break;
            }
            let override_value = match arg.as_str() {
                "-c" | "--config" => iter.peek().map(|v| v.as_str()),
                other => other
                    .strip_prefix("--config=")
                    .or_else(|| other.strip_prefix("-c").filter(|rest| !rest.is_empty())),
            };
            if let Some(value) = override_value {
                let key = value.split('=').next().unwrap_or("").trim();
                choices.provider |= key == "model_provider";
                choices.model |= key == "model";
                choices.profile |= key == "profile";
            }
            match arg.as_str() {
                "-m" | "--model" => choices.model = true,
                "-p" | "--profile" => choices.profile = true,
                "--oss" | "--local-provider" => choices.provider = true,
                other => {
                    choices.model |= other.starts_with("--model=")
                        || (other.starts_with("-m")
                            && other.len() > 2
                            && !other.starts_with("-m-"));
                    choices.profile |= other.starts_with("--profile=");
                    choices.provider |= other.starts_with("--local-provider=");
                }
            }
        }
        choices
    }
}

/// A TOML basic string, so any model name survives `-c` parsing.
fn toml_string(value: &str) -> String {
    let mut out = String::from("\"");
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    fn strings(plan: &StartupPlan) -> Vec<String> {
        plan.args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    fn settings(model: Option<&str>) -> LitellmSettings {
        LitellmSettings {
            model: model.map(str::to_string),
            ..LitellmSettings::default()
        }
    }

    #[test]
    fn run_as_codex_changes_nothing() {
        let input = args(&["codex", "exec", "--telemetry", "hi"]);
        let planned = plan(input.clone(), &settings(Some("m")), None, false)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (planned.args, planned.action),
            (input, StartupAction::Continue)
        );
    }

    #[test]
    fn defaults_are_injected_first_so_user_flags_win() {
        let planned = plan(
            args(&["codex-litellm", "exec", "hi"]),
            &settings(Some("qwen3")),
            None,
            true,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            strings(&planned),
            [
                "codex-litellm",
                "-c",
                "model_provider=\"litellm\"",
                "-c",
                "model=\"qwen3\"",
                "exec",
                "hi"
            ]
        );
    }

    #[test]
    fn env_model_beats_config_and_odd_names_are_quoted() {
        let planned = plan(
            args(&["codex-litellm"]),
            &settings(Some("cfg")),
            Some("openrouter/qwen/qwen3:free \"x\"".into()),
            true,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            strings(&planned)[4],
            "model=\"openrouter/qwen/qwen3:free \\\"x\\\"\""
        );
    }

    #[test]
    fn user_choices_suppress_defaults() {
        let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
            (
                vec!["codex-litellm", "-m", "x", "exec", "hi"],
                vec![
                    "codex-litellm",
                    "-c",
                    "model_provider=\"litellm\"",
                    "-m",
                    "x",
                    "exec",
                    "hi",
                ],
            ),
            (
                vec!["codex-litellm", "exec", "--model=x", "hi"],
                vec![
                    "codex-litellm",
                    "-c",
                    "model_provider=\"litellm\"",
                    "exec",
                    "--model=x",
                    "hi",
                ],
            ),
            (
                vec!["codex-litellm", "-c", "model_provider=deepseek", "exec"],
                vec![
                    "codex-litellm",
                    "-c",
                    "model=\"qwen3\"",
                    "-c",
                    "model_provider=deepseek",
                    "exec",
                ],
            ),
            (
                vec!["codex-litellm", "--config=model=y"],
                vec![
                    "codex-litellm",
                    "-c",
                    "model_provider=\"litellm\"",
                    "--config=model=y",
                ],
            ),
            (
                vec!["codex-litellm", "-p", "work", "exec"],
                vec!["codex-litellm", "-p", "work", "exec"],
            ),
            (
                vec!["codex-litellm", "exec", "--oss", "hi"],
                vec![
                    "codex-litellm",
                    "-c",
                    "model=\"qwen3\"",
                    "exec",
                    "--oss",
                    "hi",
                ],
            ),
        ];
        for (input, expected) in cases {
            let planned = plan(args(&input), &settings(Some("qwen3")), None, true)
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(strings(&planned), expected, "{input:?}");
        }
    }

    #[test]
    fn telemetry_flags_are_taken_out() {
        let off = plan(
            args(&["codex-litellm", "exec", "--no-telemetry", "hi"]),
            &settings(None),
            None,
            true,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(off.telemetry_level.as_deref(), Some("off"));
        assert_eq!(
            strings(&off),
            [
                "codex-litellm",
                "-c",
                "model_provider=\"litellm\"",
                "exec",
                "hi"
            ]
        );
        let bare = plan(
            args(&[
                "codex-litellm",
                "--telemetry",
                "exec",
                "--",
                "--no-telemetry",
            ]),
            &settings(None),
            None,
            true,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        // Bare means summary: whole conversations reach the disk only when asked for by name.
        assert_eq!(bare.telemetry_level.as_deref(), Some("summary"));
        assert_eq!(
            strings(&bare).last().map(String::as_str),
            Some("--no-telemetry")
        );
        let full = plan(
            args(&["codex-litellm", "--telemetry=full", "exec", "hi"]),
            &settings(None),
            None,
            true,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(full.telemetry_level.as_deref(), Some("full"));
        let bad = plan(
            args(&["codex-litellm", "--telemetry=verbose"]),
            &settings(None),
            None,
            true,
        );
        assert_eq!(
            bad,
            Err("--telemetry=verbose: the level must be off, summary or full".to_string())
        );
    }

    #[test]
    fn version_and_reader_are_ours() {
        let version = plan(
            args(&["codex-litellm", "--version"]),
            &settings(None),
            None,
            true,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(version.action, StartupAction::PrintVersion);
        let reader = plan(
            args(&["codex-litellm", "telemetry", "show", "last"]),
            &settings(None),
            None,
            true,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            reader.action,
            StartupAction::TelemetryReader(vec!["show".into(), "last".into()])
        );
    }
}
