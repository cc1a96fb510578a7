//! Telemetry level and where the files go.

use serde::Deserialize;
use serde::Serialize;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// Environment variable that overrides the configured level (`off`, `summary`, `full`).
pub const ENV_TELEMETRY: &str = "CODEX_LITELLM_TELEMETRY";

/// Default cap on the whole telemetry folder: 50 MiB.
pub const DEFAULT_MAX_TOTAL_BYTES: u64 = 50 * 1024 * 1024;

/// Default cap on raw upstream bytes kept per exchange at level `full`: 256 KiB.
pub const DEFAULT_MAX_RAW_BYTES: usize = 256 * 1024;

/// How much of each exchange is written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TelemetryLevel {
    /// Nothing is written.
    Off,
    /// Everything except the request body and raw upstream bytes.
    #[default]
    Summary,
    /// Also the translated request body and the raw upstream bytes (size-capped), redacted.
    Full,
}

impl TelemetryLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            TelemetryLevel::Off => "off",
            TelemetryLevel::Summary => "summary",
            TelemetryLevel::Full => "full",
        }
    }
}

impl fmt::Display for TelemetryLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TelemetryLevel {
    type Err = String;

    /// `off`/`summary`/`full`, case-insensitive; `0|false|no|none` mean off and
    /// `1|true|yes|on` mean summary (for environment variables).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "off" | "none" | "0" | "false" | "no" => Ok(TelemetryLevel::Off),
            "summary" | "on" | "1" | "true" | "yes" => Ok(TelemetryLevel::Summary),
            "full" => Ok(TelemetryLevel::Full),
            other => Err(format!(
                "unknown telemetry level `{other}` (expected off, summary or full)"
            )),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebugTelemetryConfig {
    pub level: TelemetryLevel,
    /// Folder of the per-session `.jsonl` files (created 0700 if missing).
    pub dir: PathBuf,
    /// Cap on the folder's session files (the names the writer gives them; other files are
    /// never counted or removed); the least recently written are removed first, never the one
    /// being written nor one written in the last 15 minutes. 0 means no cap.
    pub max_total_bytes: u64,
    /// Raw upstream bytes kept per exchange at level `full` (all attempts together).
    pub max_raw_bytes: usize,
}

impl Default for DebugTelemetryConfig {
    fn default() -> Self {
        Self {
            level: TelemetryLevel::Summary,
            dir: default_dir(),
            max_total_bytes: DEFAULT_MAX_TOTAL_BYTES,
            max_raw_bytes: DEFAULT_MAX_RAW_BYTES,
        }
    }
}

/// `$CODEX_HOME` (when set and not empty), else `~/.codex` — the folder upstream Codex uses.
pub fn codex_home() -> PathBuf {
    if let Some(home) = std::env::var_os("CODEX_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(home);
    }
    dirs::home_dir()
        .unwrap_or_else(std::env::temp_dir)
        .join(".codex")
}

/// `$CODEX_HOME/log/litellm`: next to upstream Codex's own logs in `$CODEX_HOME/log/`.
pub fn default_dir() -> PathBuf {
    codex_home().join("log").join("litellm")
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn level_parsing() {
        for (text, level) in [
            ("off", TelemetryLevel::Off),
            ("OFF", TelemetryLevel::Off),
            ("0", TelemetryLevel::Off),
            ("false", TelemetryLevel::Off),
            ("summary", TelemetryLevel::Summary),
            (" true ", TelemetryLevel::Summary),
            ("full", TelemetryLevel::Full),
        ] {
            assert_eq!(text.parse::<TelemetryLevel>(), Ok(level), "{text}");
        }
        assert_eq!(
            "verbose".parse::<TelemetryLevel>(),
            Err("unknown telemetry level `verbose` (expected off, summary or full)".to_string())
        );
        assert_eq!(
            serde_json::to_string(&TelemetryLevel::Full).ok(),
            Some("\"full\"".to_string())
        );
    }

    #[test]
    fn defaults() {
        let config = DebugTelemetryConfig::default();
        assert_eq!(config.level, TelemetryLevel::Summary);
        assert_eq!(config.max_total_bytes, 50 * 1024 * 1024);
        assert_eq!(config.max_raw_bytes, 256 * 1024);
        assert!(config.dir.ends_with("log/litellm"));
    }
}
