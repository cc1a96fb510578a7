//! Who this binary is: `codex-litellm` (the patched build under its own name) or `codex`.

use std::ffi::OsStr;
use std::path::Path;

pub const BINARY_NAME: &str = "codex-litellm";
/// Set to 1 to get codex-litellm behaviour whatever the binary is called (tests, wrappers).
pub const IDENTITY_ENV: &str = "CODEX_LITELLM_IDENTITY";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesInfo {
    pub upstream_tag: &'static str,
    pub upstream_commit: &'static str,
    pub series_version: &'static str,
}

pub fn series() -> SeriesInfo {
    SeriesInfo {
        upstream_tag: env!("CODEX_LITELLM_UPSTREAM_TAG"),
        upstream_commit: env!("CODEX_LITELLM_UPSTREAM_COMMIT"),
        series_version: env!("CODEX_LITELLM_SERIES_VERSION"),
    }
}

impl SeriesInfo {
    /// `rust-v0.125.0` -> `0.125.0`.
    pub fn upstream_version(&self) -> &str {
        self.upstream_tag
            .strip_prefix("rust-v")
            .unwrap_or(self.upstream_tag)
    }

    /// `0.125.0+litellm.1`
    pub fn version(&self) -> String {
        format!(
            "{}+litellm.{}",
            self.upstream_version(),
            self.series_version
        )
    }

    /// `codex-litellm 0.125.0+litellm.1 (upstream rust-v0.125.0 637f7dd6)`
    pub fn version_line(&self) -> String {
        let short_commit: String = self.upstream_commit.chars().take(8).collect();
        format!(
            "{BINARY_NAME} {} (upstream {} {short_commit})",
            self.version(),
            self.upstream_tag
        )
    }
}

/// True when the program was started as `codex-litellm` (any directory, `.exe` or not), or
/// with `CODEX_LITELLM_IDENTITY=1`.
pub fn invoked_as_codex_litellm(argv0: Option<&OsStr>, identity_env: Option<&str>) -> bool {
    if identity_env.is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("true")) {
        return true;
    }
    argv0
        .and_then(|arg| Path::new(arg).file_stem())
        .and_then(OsStr::to_str)
        .is_some_and(|stem| stem == BINARY_NAME)
}

/// Upstream's `codex` command, named and described as codex-litellm for `--help` and
/// `--version`.
pub fn codex_litellm_command(command: clap::Command) -> clap::Command {
    let series = series();
    // clap keeps versions as `&'static str`; this runs once per process.
    let version: &'static str = Box::leak(series.version().into_boxed_str());
    let about = format!(
        "codex-litellm: the Codex CLI (upstream {}) for Chat Completions backends \
(LiteLLM, vLLM, llama.cpp, Ollama, ...)",
        series.upstream_tag
    );
    // `serve` is codex-litellm's own subcommand, hidden when the binary runs as `codex`.
    let command = if command.find_subcommand("serve").is_some() {
        command.mut_subcommand("serve", |serve| serve.hide(false))
    } else {
        command
    };
    command
        .name(BINARY_NAME)
        .bin_name(BINARY_NAME)
        .version(version)
        .about(about.clone())
        // Upstream's doc comment gives a long form too, which `--help` prefers.
        .long_about(format!(
            "{about}\n\nIf no subcommand is specified, options are forwarded to the interactive CLI."
        ))
        .override_usage(format!(
            "{BINARY_NAME} [OPTIONS] [PROMPT]\n       {BINARY_NAME} [OPTIONS] <COMMAND> [ARGS]"
        ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn serve_is_listed_only_in_codex_litellms_help() {
        let upstream = clap::Command::new("codex")
            .subcommand(clap::Command::new("exec"))
            .subcommand(clap::Command::new("serve").hide(true));
        let hidden = |command: &clap::Command| {
            command
                .find_subcommand("serve")
                .map(clap::Command::is_hide_set)
        };
        assert_eq!(hidden(&upstream), Some(true));
        assert_eq!(hidden(&codex_litellm_command(upstream)), Some(false));
        // A command without `serve` is left as it is.
        let plain = codex_litellm_command(clap::Command::new("codex"));
        assert_eq!(hidden(&plain), None);
    }

    #[test]
    fn version_line_names_series_and_upstream() {
        let info = SeriesInfo {
            upstream_tag: "rust-v0.125.0",
            upstream_commit: "637f7dd6d737f3961e6bf32fbb3861c4953269c5",
            series_version: "3",
        };
        assert_eq!(
            info.version_line(),
            "codex-litellm 0.125.0+litellm.3 (upstream rust-v0.125.0 637f7dd6)"
        );
    }

    #[test]
    fn embedded_series_matches_the_repository() {
        // Built standalone, build.rs reads upstream.lock and patches/VERSION.
        let info = series();
        assert!(info.upstream_tag.starts_with("rust-v"), "{info:?}");
        assert_eq!(info.upstream_commit.len(), 40, "{info:?}");
        assert!(info.series_version.parse::<u32>().is_ok(), "{info:?}");
    }

    #[test]
    fn identity_from_argv0_or_env() {
        let yes = [
            "codex-litellm",
            "/usr/local/bin/codex-litellm",
            "./codex-litellm.exe",
        ];
        for argv0 in yes {
            assert!(
                invoked_as_codex_litellm(Some(OsStr::new(argv0)), None),
                "{argv0}"
            );
        }
        for argv0 in ["codex", "/usr/bin/codex", "codex-litellm-old", "litellm"] {
            assert!(
                !invoked_as_codex_litellm(Some(OsStr::new(argv0)), None),
                "{argv0}"
            );
        }
        assert!(invoked_as_codex_litellm(
            Some(OsStr::new("codex")),
            Some("1")
        ));
        assert!(!invoked_as_codex_litellm(
            Some(OsStr::new("codex")),
            Some("0")
        ));
    }

    /// Codex CLI
    ///
    /// Upstream's long description.
    #[derive(Debug, clap::Parser)]
    #[command(bin_name = "codex", override_usage = "codex [OPTIONS] [PROMPT]")]
    struct UpstreamLikeCli {
        #[arg(long)]
        model: Option<String>,
        #[command(subcommand)]
        command: Option<UpstreamLikeCommand>,
    }

    #[derive(Debug, clap::Subcommand)]
    enum UpstreamLikeCommand {
        /// Run non-interactively.
        Exec,
    }

    #[test]
    fn help_and_version_name_codex_litellm_and_the_upstream_tag() {
        use clap::CommandFactory;
        let mut command = codex_litellm_command(UpstreamLikeCli::command());
        let help = command.render_long_help().to_string();
        assert!(help.contains("codex-litellm [OPTIONS] [PROMPT]"), "{help}");
        assert!(!help.contains("codex [OPTIONS]"), "{help}");
        assert!(help.starts_with("codex-litellm: the Codex CLI"), "{help}");
        assert!(help.contains(series().upstream_tag), "{help}");
        let version = command.render_version();
        assert!(version.contains("+litellm."), "{version}");
        // As when parsing: building names the subcommands after the renamed binary.
        command.build();
        let mut exec = command
            .find_subcommand_mut("exec")
            .cloned()
            .unwrap_or_else(|| clap::Command::new("missing"));
        let exec_help = exec.render_help().to_string();
        assert!(exec_help.contains("codex-litellm exec"), "{exec_help}");
        // The parsed values are unchanged by the renaming.
        let matches = command
            .try_get_matches_from(["codex-litellm", "--model", "m", "exec"])
            .map_err(|e| e.to_string());
        let parsed = matches.and_then(|m| {
            <UpstreamLikeCli as clap::FromArgMatches>::from_arg_matches(&m)
                .map_err(|e| e.to_string())
        });
        assert!(
            matches!(&parsed, Ok(cli) if cli.model.as_deref() == Some("m") && cli.command.is_some()),
            "{parsed:?}"
        );
    }
}
