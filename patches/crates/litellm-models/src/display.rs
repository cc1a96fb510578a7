//! Text a backend names (model ids, error messages), made safe to show in a terminal.

/// `text` without control characters: a model id such as `m\x1b]52;c;…\x07` would otherwise
/// write the clipboard, move the cursor or clear the screen when printed. Escape, bell,
/// C1 controls, DEL and the bidirectional overrides that reorder what is shown are dropped;
/// tabs and line breaks become a space (one line per value).
pub fn display_safe(text: &str) -> String {
    if !text.chars().any(is_unsafe) {
        return text.to_string();
    }
    text.chars()
        .filter_map(|c| match c {
            '\t' | '\n' | '\r' => Some(' '),
            c if is_unsafe(c) => None,
            c => Some(c),
        })
        .collect()
}

fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn terminal_sequences_become_inert_text() {
        let cases = [
            // OSC 52: write the clipboard.
            (
                "qwen\u{1b}]52;c;cm0gLXJmIH4=\u{7}-coder",
                "qwen]52;c;cm0gLXJmIH4=-coder",
            ),
            // CSI: clear the screen; the 8-bit CSI too.
            ("m\u{1b}[2J\u{9b}2Jx", "m[2J2Jx"),
            // A right-to-left override that shows `abc` as `cba`.
            ("\u{202e}abc\u{202c}", "abc"),
            ("two\nlines\tand\r", "two lines and "),
            ("DEL\u{7f}NUL\u{0}", "DELNUL"),
            // Ordinary ids, including non-ASCII, are unchanged.
            ("qwen3-coder:30b-a3b-q4_K_M", "qwen3-coder:30b-a3b-q4_K_M"),
            ("模型/éclair·v2", "模型/éclair·v2"),
        ];
        for (input, expected) in cases {
            assert_eq!(display_safe(input), expected, "{input:?}");
        }
    }
}
