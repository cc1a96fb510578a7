//! What the doctor prints is made to be pasted into bug reports: every row is scrubbed of
//! the configured secrets and of terminal control sequences before anyone sees it.
//!
//! Text a server sent is redacted before anything shortens it (`fault::shorten` does so),
//! so a key echoed across a cut is removed whole. This pass is the last line: literal
//! secrets, and any run of 8 or more characters of one (a server that echoes only part of
//! a key, or a cut this crate did not foresee).

use crate::Row;
use codex_litellm_bridge::redact::REDACTED as PLACEHOLDER;
use codex_litellm_models::display_safe;

/// The shortest run of a secret's characters that is taken for the secret.
pub(crate) const MIN_RUN: usize = 8;

/// Scrubs every text of `row`.
pub(crate) fn scrub_row(row: &mut Row, secrets: &[String]) {
    let scrub = |text: &mut String| {
        let clean = scrub_text(text, secrets);
        if clean != *text {
            *text = clean;
        }
    };
    scrub(&mut row.summary);
    row.details.iter_mut().for_each(scrub);
    if let Some(fix) = &mut row.remediation {
        scrub(fix);
    }
}

/// Control characters first (a key split by escape sequences is whole again after), then
/// each secret, then the runs of one.
pub(crate) fn scrub_text(text: &str, secrets: &[String]) -> String {
    let mut out = display_safe(text);
    for secret in secrets {
        if out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), PLACEHOLDER);
        }
    }
    for secret in secrets {
        out = replace_runs(&out, secret);
    }
    out
}

/// `text` with every run of at least [`MIN_RUN`] characters that also occurs in `secret`
/// replaced by the placeholder (longest common substrings, by dynamic programming over
/// the two strings: both are short).
fn replace_runs(text: &str, secret: &str) -> String {
    let secret: Vec<char> = secret.chars().collect();
    let chars: Vec<char> = text.chars().collect();
    if secret.len() < MIN_RUN || chars.len() < MIN_RUN {
        return text.to_string();
    }
    // run[i]: the longest run starting at chars[i] that occurs in the secret.
    let mut run = vec![0usize; chars.len()];
    let mut next = vec![0usize; secret.len() + 1];
    for i in (0..chars.len()).rev() {
        let mut row = vec![0usize; secret.len() + 1];
        for j in (0..secret.len()).rev() {
            if chars[i] == secret[j] {
                row[j] = 1 + next[j + 1];
                run[i] = run[i].max(row[j]);
            }
        }
        next = row;
    }
    if run.iter().all(|r| *r < MIN_RUN) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut hidden_until = 0;
    for (i, c) in chars.iter().enumerate() {
        if run[i] >= MIN_RUN && i + run[i] > hidden_until {
            if i >= hidden_until {
                out.push_str(PLACEHOLDER);
            }
            hidden_until = i + run[i];
        }
        if i >= hidden_until {
            out.push(*c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "Zq7rT2mW9xK4pL8vN3bH6cJ1fD5gS0aY7eU2iO4wQ9t";

    #[test]
    fn whole_secrets_and_their_runs_go() {
        let secrets = vec![KEY.to_string()];
        let cases = [
            (
                format!("key {KEY} refused"),
                "key [REDACTED] refused".to_string(),
            ),
            // The head a cut leaves, and a tail a server shows.
            (format!("key {}…", &KEY[..9]), "key [REDACTED]…".to_string()),
            (
                format!("ends in {}.", &KEY[30..]),
                "ends in [REDACTED].".to_string(),
            ),
            // Seven characters say nothing.
            (format!("key {}…", &KEY[..7]), format!("key {}…", &KEY[..7])),
            // Split by an escape sequence, then joined by the control-character pass.
            (
                format!("key {}\u{1b}{}", &KEY[..20], &KEY[20..]),
                "key [REDACTED]".to_string(),
            ),
            // Two runs, one text.
            (
                format!("{} and {}", &KEY[..10], &KEY[20..32]),
                "[REDACTED] and [REDACTED]".to_string(),
            ),
            ("nothing here".to_string(), "nothing here".to_string()),
        ];
        for (input, expected) in cases {
            assert_eq!(scrub_text(&input, &secrets), expected);
        }
    }
}
