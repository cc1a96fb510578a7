//! What codex-litellm does with its command line before Codex parses it: its own
//! `--version` and `telemetry` subcommand, the `--telemetry` / `--no-telemetry` flags, and
//! the provider and model codex-litellm chooses (as `-c` overrides the user's own flags
//! still beat; see [`crate::selection`]).

use crate::selection::Context;
use crate::selection::Resolution;
use crate::selection::resolve;
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
    /// The provider and model this run uses (with `Continue` as codex-litellm).
    pub resolution: Option<Resolution>,
}

pub fn plan(
    args: Vec<OsString>,
    context: &Context<'_>,
    as_codex_litellm: bool,
) -> Result<StartupPlan, String> {
    if !as_codex_litellm {
        return Ok(StartupPlan {
            args,
            action: StartupAction::Continue,
            telemetry_level: None,
            resolution: None,
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
                resolution: None,
            });
        }
        Some("telemetry") => {
            return Ok(StartupPlan {
                args,
                action: StartupAction::TelemetryReader(text[2..].to_vec()),
                telemetry_level: None,
                resolution: None,
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

    let resolution = resolve(&text, context)?;
    // Right after the program name: later `-c` flags (the user's) win over ours.
    let insert_at = kept.len().min(1);
    kept.splice(
        insert_at..insert_at,
        resolution.args.iter().map(OsString::from),
    );
    Ok(StartupPlan {
        args: kept,
        action: StartupAction::Continue,
        telemetry_level,
        resolution: Some(resolution),
    })
}

/// Flags of Codex's command line that take a value as the next argument.
const FLAGS_WITH_VALUE: &[&str] = &[
    "-c",
    "--config",
    "-m",
    "--model",
    "-p",
    "--profile",
    "-i",
    "--image",
    "-s",
    "--sandbox",
    "-a",
    "--ask-for-approval",
    "-C",
    "--cd",
    "--add-dir",
    "--local-provider",
    "--enable",
    "--disable",
    "--remote",
    "--remote-auth-token-env",
];

/// The subcommand (first positional argument), e.g. `exec` or `doctor`.
pub fn subcommand(args: &[String]) -> Option<&str> {
    let mut iter = args.iter().skip(1);
    while let Some(arg) = iter.next() {
        if arg == "--" {
            return None;
        }
        if FLAGS_WITH_VALUE.contains(&arg.as_str()) {
            iter.next();
            continue;
        }
        if !arg.starts_with('-') {
            return Some(arg);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::LitellmSettings;
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

    /// Plans with litellm.toml `model = MODEL` (if any), `LITELLM_MODEL` = `env_model`.
    fn plan_with(
        input: &[&str],
        model: Option<&str>,
        env_model: Option<&str>,
        as_codex_litellm: bool,
    ) -> Result<StartupPlan, String> {
        let settings = LitellmSettings {
            model: model.map(str::to_string),
            ..LitellmSettings::default()
        };
        let config = toml::Table::new();
        let env = move |name: &str| {
            (name == "LITELLM_MODEL")
                .then(|| env_model.map(str::to_string))
                .flatten()
        };
        plan(
            args(input),
            &Context {
                config: &config,
                settings: &settings,
                profile: &|_| None,
                env: &env,
            },
            as_codex_litellm,
        )
    }

    /// The arguments without the built-in providers' definitions.
    fn choices(plan: &StartupPlan) -> Vec<String> {
        let all = strings(plan);
        let mut out = Vec::new();
        let mut i = 0;
        while i < all.len() {
            if all[i] == "-c"
                && all
                    .get(i + 1)
                    .is_some_and(|v| v.starts_with("model_providers."))
            {
                i += 2;
                continue;
            }
            out.push(all[i].clone());
            i += 1;
        }
        out
    }

    #[test]
    fn run_as_codex_changes_nothing() {
        let input = args(&["codex", "exec", "--telemetry", "hi"]);
        let planned = plan_with(
            &["codex", "exec", "--telemetry", "hi"],
            Some("m"),
            None,
            false,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (planned.args, planned.action),
            (input, StartupAction::Continue)
        );
    }

    #[test]
    fn choices_are_injected_first_so_user_flags_win() {
        let planned = plan_with(&["codex-litellm", "exec", "hi"], Some("qwen3"), None, true)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            choices(&planned),
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
        let all = strings(&planned);
        let exec_at = all.iter().position(|a| a == "exec").unwrap_or(0);
        assert!(
            all[..exec_at].contains(
                &"model_providers.litellm.base_url=\"http://localhost:4000/v1\"".to_string()
            ),
            "{all:?}"
        );
        assert_eq!(
            planned.resolution.map(|r| r.line()).unwrap_or_default(),
            "provider litellm (from built-in default) · http://localhost:4000/v1 (built-in default) · model qwen3 (litellm.toml model)"
        );
    }

    #[test]
    fn env_model_beats_config_and_odd_names_are_quoted() {
        let planned = plan_with(
            &["codex-litellm"],
            Some("cfg"),
            Some("openrouter/qwen/qwen3:free \"x\""),
            true,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            choices(&planned)[4],
            "model='openrouter/qwen/qwen3:free \"x\"'"
        );
    }

    #[test]
    fn user_choices_suppress_ours() {
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
            let planned =
                plan_with(&input, Some("qwen3"), None, true).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(choices(&planned), expected, "{input:?}");
        }
    }

    #[test]
    fn telemetry_flags_are_taken_out() {
        let off = plan_with(
            &["codex-litellm", "exec", "--no-telemetry", "hi"],
            None,
            None,
            true,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(off.telemetry_level.as_deref(), Some("off"));
        assert_eq!(
            choices(&off),
            [
                "codex-litellm",
                "-c",
                "model_provider=\"litellm\"",
                "exec",
                "hi"
            ]
        );
        let bare = plan_with(
            &[
                "codex-litellm",
                "--telemetry",
                "exec",
                "--",
                "--no-telemetry",
            ],
            None,
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
        let full = plan_with(
            &["codex-litellm", "--telemetry=full", "exec", "hi"],
            None,
            None,
            true,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(full.telemetry_level.as_deref(), Some("full"));
        let bad = plan_with(&["codex-litellm", "--telemetry=verbose"], None, None, true);
        assert_eq!(
            bad.err(),
            Some("--telemetry=verbose: the level must be off, summary or full".to_string())
        );
    }

    #[test]
    fn version_and_reader_are_ours() {
        let version = plan_with(&["codex-litellm", "--version"], None, None, true)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(version.action, StartupAction::PrintVersion);
        let reader = plan_with(
            &["codex-litellm", "telemetry", "show", "last"],
            None,
            None,
            true,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            reader.action,
            StartupAction::TelemetryReader(vec!["show".into(), "last".into()])
        );
    }

    #[test]
    fn subcommand_skips_flags_and_their_values() {
        let cases = [
            (
                vec!["codex-litellm", "-c", "x=1", "-m", "doctor", "exec"],
                Some("exec"),
            ),
            (vec!["codex-litellm", "--json", "doctor"], Some("doctor")),
            (vec!["codex-litellm", "-p", "w"], None),
            (vec!["codex-litellm", "--", "doctor"], None),
        ];
        for (input, expected) in cases {
            let input: Vec<String> = input.into_iter().map(String::from).collect();
            assert_eq!(subcommand(&input), expected, "{input:?}");
        }
    }
}
