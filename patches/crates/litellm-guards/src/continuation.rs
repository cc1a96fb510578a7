//! The continuation guard: a final answer (no tool call) in a turn that already used tools
//! whose last sentence states a next action ("I'll now run the tests") is a promise the
//! turn will never keep — upstream openai/codex#45096, #27352, #36679, #36596, #37278. The
//! bridge asks the model once more with [`NUDGE`] before handing the answer to Codex.
//!
//! The detector favours precision: a nudge on a real final answer costs a request and
//! can make the model do work nobody asked for, a missed promise costs the user one
//! "go on". It looks only at the answer's last sentence and fires only on a first-person
//! future with an action verb ("I'll fix", "Let me run", "Next, I will update") or an
//! action in progress at the start of a clause ("Running the tests now"), and never on a
//! question, a hand-off to the user ("Let me know…", "If you want, I'll…", "Once you
//! confirm, I'll…"), a promise about later turns ("Next time I'll…"), or past tense.
//! English only; the table in tests/ measures it (docs/BACKENDS.md has the figures).

use serde_json::Value;
use serde_json::json;

/// What the answer promised: its last sentence and the words that made it a promise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intent {
    /// The sentence that states the next action, as written (trimmed).
    pub sentence: String,
    /// The cue that matched, lower case (e.g. `"i'll run"`, `"running … now"`).
    pub cue: String,
}

/// The instruction sent after an answer that promised an action but made no call. It
/// asks for the call or an explicit end; it never names a command (we do not write
/// commands for the model, docs/SECURITY.md).
pub const NUDGE: &str = "Your last message says what you will do next, but it made no tool call, so nothing was run and the turn would end here. If there is more to do, make the tool call you described now. If the task is finished or you need the user, say so in one short final message without promising further actions.";

/// Most nudges per request the settings accept.
pub const MAX_RETRIES: u8 = 3;

/// Whether and how the bridge nudges (`[guards] continuation_retries`,
/// `continuation_tool_choice_required`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContinuationPolicy {
    retries: u8,
    tool_choice_required: bool,
}

impl Default for ContinuationPolicy {
    fn default() -> Self {
        Self {
            retries: 1,
            tool_choice_required: false,
        }
    }
}

/// A setting out of range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetriesOutOfRange(pub i64);

impl std::fmt::Display for RetriesOutOfRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "continuation_retries = {} is out of range: use 0 (off) to {MAX_RETRIES}",
            self.0
        )
    }
}

impl std::error::Error for RetriesOutOfRange {}

impl ContinuationPolicy {
    /// `retries`: nudges per request, 0 (off) to 3. `tool_choice_required`: send the
    /// nudge with `tool_choice: "required"`; set it only for a backend known to honour
    /// it (others answer 400 or ignore it), and note it forbids the "say it is done"
    /// way out, so the model must call something.
    pub fn new(retries: i64, tool_choice_required: bool) -> Result<Self, RetriesOutOfRange> {
        let retries = u8::try_from(retries)
            .ok()
            .filter(|r| *r <= MAX_RETRIES)
            .ok_or(RetriesOutOfRange(retries))?;
        Ok(Self {
            retries,
            tool_choice_required,
        })
    }

    pub fn retries(&self) -> u8 {
        self.retries
    }

    pub fn tool_choice_required(&self) -> bool {
        self.tool_choice_required
    }

    /// What to do with a complete, validated answer. `nudges_sent`: nudges already sent
    /// while answering this request.
    pub fn decide(
        &self,
        turn_used_tools: bool,
        nudges_sent: u8,
        answer_text: &str,
        answer_has_tool_calls: bool,
    ) -> Decision {
        if answer_has_tool_calls || !turn_used_tools || nudges_sent >= self.retries {
            return Decision::HandOver;
        }
        match stated_next_action(answer_text) {
            Some(intent) => Decision::Nudge(Nudge {
                intent,
                text: NUDGE,
                tool_choice_required: self.tool_choice_required,
            }),
            None => Decision::HandOver,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Give the answer to Codex as it is.
    HandOver,
    /// Ask again with [`nudged_body`] before handing anything over.
    Nudge(Nudge),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nudge {
    pub intent: Intent,
    pub text: &'static str,
    pub tool_choice_required: bool,
}

/// Whether the current turn (items after the last user message) already called a tool:
/// the guard only acts in turns that used tools, where a promise is a broken loop and not
/// a plan offered for approval.
pub fn turn_used_tools(input: &[Value]) -> bool {
    crate::loop_guard::current_turn(input).iter().any(|item| {
        matches!(
            item.get("type").and_then(Value::as_str),
            Some("function_call" | "custom_tool_call" | "local_shell_call" | "tool_search_call")
        )
    })
}

/// The Responses body to send after a promise: the same request with the answer so far
/// as an assistant message and [`NUDGE`] as a user message appended to `input`, and
/// `tool_choice: "required"` when asked for (only if the request offers tools).
pub fn nudged_body(body: &Value, answer_text: &str, tool_choice_required: bool) -> Value {
    let mut body = body.clone();
    let Some(object) = body.as_object_mut() else {
        return body;
    };
    let mut input = match object.remove("input") {
        Some(Value::Array(items)) => items,
        Some(Value::String(text)) => {
            vec![json!({"type": "message", "role": "user", "content": text})]
        }
        _ => Vec::new(),
    };
    input.push(json!({
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": answer_text}],
    }));
    input.push(json!({
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": NUDGE}],
    }));
    object.insert("input".into(), Value::Array(input));
    let has_tools = object
        .get("tools")
        .and_then(Value::as_array)
        .is_some_and(|tools| !tools.is_empty());
    if tool_choice_required && has_tools {
        object.insert("tool_choice".into(), json!("required"));
    }
    body
}

/// Whether `text` (a final answer) ends with a stated next action. See the module docs.
pub fn stated_next_action(text: &str) -> Option<Intent> {
    let sentences = last_paragraph(text)?;
    let sentence = sentences.last()?.clone();
    let trimmed = sentence.trim_end();
    // A question anywhere in the closing paragraph hands the turn to the user ("What
    // would you like? Meanwhile I'll move step 7 to blocked.").
    if sentences.iter().any(|s| s.trim_end().ends_with('?')) {
        return None;
    }
    let lower = normalise(trimmed);
    if HANDOFF.iter().any(|cue| lower.contains(cue)) {
        return None;
    }
    // "Summary: I fixed X" — what precedes a colon introduces what follows it; a colon at
    // the very end ("Next, I will update the config:") announces something never sent.
    let body = match lower.trim_end().strip_suffix(':') {
        Some(before) => before.to_string(),
        None => match lower.rfind(": ") {
            Some(at) => lower[at + 2..].to_string(),
            None => lower.clone(),
        },
    };
    let cue = clauses(&body).find_map(clause_intent)?;
    Some(Intent {
        sentence: sentence.trim().to_string(),
        cue,
    })
}

/// Phrases that hand the turn to the user or put the action in another turn.
const HANDOFF: &[&str] = &[
    "let me know",
    "if you",
    "would you like",
    "do you want",
    "want me to",
    "should i ",
    "shall i ",
    "feel free",
    "up to you",
    "your call",
    "you can ",
    "you may ",
    "you'll need",
    "you will need",
    "you need to",
    "you'll want",
    "once you",
    "when you",
    "after you",
    "until you",
    "tell me",
    "say \"",
    "say go",
    "say yes",
    "type \"",
    "reply ",
    "your confirmation",
    "your approval",
    "your go-ahead",
    "please confirm",
    "you confirm",
    "waiting for",
    "waiting on",
    "awaiting your",
    "i'll wait",
    "i will wait",
    "in the future",
    "in future",
    "next time",
    "going forward",
    "from now on",
    "if needed",
    "if necessary",
    "when needed",
    "happy to",
    "i'll leave",
    "i will leave",
    "i'll stop",
    "i will stop",
    "i'll be here",
    "i'll be around",
    "make sure",
    "i can ",
    "i could ",
    "i would ",
    "i'd ",
];

/// Base forms that name something done with a tool (reading, running, editing), not with
/// words (explain, summarise) — a promise to explain needs no call.
const ACTION_VERBS: &[&str] = &[
    "add",
    "address",
    "adjust",
    "analyse",
    "analyze",
    "append",
    "apply",
    "build",
    "bump",
    "call",
    "change",
    "chase",
    "check",
    "clean",
    "clone",
    "commit",
    "compare",
    "compile",
    "complete",
    "configure",
    "confirm",
    "continue",
    "convert",
    "copy",
    "correct",
    "create",
    "debug",
    "delete",
    "deploy",
    "dig",
    "do",
    "double-check",
    "download",
    "draft",
    "edit",
    "examine",
    "execute",
    "explore",
    "extract",
    "fetch",
    "find",
    "finish",
    "fix",
    "format",
    "gather",
    "generate",
    "get",
    "grep",
    "handle",
    "have",
    "implement",
    "initialize",
    "insert",
    "inspect",
    "install",
    "investigate",
    "invoke",
    "launch",
    "lint",
    "list",
    "load",
    "look",
    "make",
    "merge",
    "migrate",
    "modify",
    "move",
    "open",
    "patch",
    "pin",
    "prepare",
    "print",
    "proceed",
    "produce",
    "pull",
    "push",
    "query",
    "re-run",
    "read",
    "rebuild",
    "refactor",
    "regenerate",
    "remove",
    "rename",
    "replace",
    "reproduce",
    "rerun",
    "re-read",
    "research",
    "resolve",
    "restart",
    "restore",
    "retry",
    "revert",
    "review",
    "rewrite",
    "run",
    "save",
    "scaffold",
    "scan",
    "search",
    "set",
    "spawn",
    "start",
    "switch",
    "take",
    "test",
    "trace",
    "try",
    "tweak",
    "update",
    "upgrade",
    "use",
    "validate",
    "verify",
    "view",
    "wire",
    "write",
];

/// Actions in progress that promise the call that never came ("Running the tests now").
const ACTION_GERUNDS: &[&str] = &[
    "adding",
    "applying",
    "building",
    "checking",
    "continuing",
    "creating",
    "debugging",
    "digging",
    "diving",
    "downloading",
    "editing",
    "executing",
    "fanning",
    "fetching",
    "fixing",
    "gathering",
    "hunting",
    "implementing",
    "inspecting",
    "installing",
    "investigating",
    "kicking",
    "launching",
    "looking",
    "moving",
    "opening",
    "patching",
    "proceeding",
    "re-running",
    "reading",
    "regenerating",
    "rerunning",
    "restarting",
    "running",
    "searching",
    "starting",
    "switching",
    "testing",
    "trying",
    "updating",
    "verifying",
    "working",
    "writing",
];

/// Gerunds that promise continuation by themselves; the others need "now" or "next"
/// ("Running the tests requires Docker" states a fact).
const SELF_EVIDENT_GERUNDS: &[&str] = &["continuing", "proceeding"];

/// First-person future cues; the next word (after [`ADVERBS`]) must be an action verb.
const FUTURE_CUES: &[&str] = &[
    "i'll ",
    "i will ",
    "i'm going to ",
    "i am going to ",
    "i'm about to ",
    "i am about to ",
    "let me ",
    "let's ",
    "we'll ",
    "we will ",
    "i need to ",
    "i still need to ",
    "next step is to ",
    "next step: ",
];

const ADVERBS: &[&str] = &[
    "now",
    "first",
    "then",
    "next",
    "also",
    "quickly",
    "just",
    "immediately",
    "directly",
    "still",
    "actually",
    "finally",
    "additionally",
    "again",
    "briefly",
    "carefully",
    "go",
    "ahead",
    "and",
    "manually",
    "properly",
    "simply",
    "instead",
];

/// Words before an action that make it a statement about something else, not an
/// announcement ("Running the tests would need Docker", "Adding a cache now could help").
const MODALS: &[&str] = &[
    " would ",
    " could ",
    " might ",
    " should ",
    " can ",
    " may ",
    " requires ",
    " needs ",
    " is ",
    " was ",
    " isn't ",
    " wasn't ",
    " fails ",
    " failed ",
    " works ",
    " worked ",
];

/// Leading words that may precede an action in progress.
const LEADS: &[&str] = &[
    "next up is",
    "next up",
    "now",
    "next",
    "ok",
    "okay",
    "alright",
    "great",
    "understood",
    "good",
    "then",
    "first",
    "and",
    "so",
    "still in progress",
    "got it",
    "perfect",
    "right",
];

fn clause_intent(clause: &str) -> Option<String> {
    let clause = clause.trim();
    if clause.is_empty() {
        return None;
    }
    // A conditional promise waits for something not yet known.
    let conditional = |before: &str| {
        let before = format!(" {before}");
        [" if ", " unless ", " once ", " whether "]
            .iter()
            .any(|c| before.contains(c))
    };
    for cue in FUTURE_CUES {
        let mut from = 0;
        while let Some(at) = clause[from..].find(cue).map(|i| i + from) {
            from = at + cue.len();
            let boundary = at == 0 || !clause.as_bytes()[at - 1].is_ascii_alphanumeric();
            if !boundary || conditional(&clause[..at]) {
                continue;
            }
            if let Some(verb) = first_content_word(&clause[at + cue.len()..], ADVERBS)
                && ACTION_VERBS.contains(&verb.as_str())
            {
                return Some(format!("{cue}{verb}"));
            }
        }
    }
    // "I'm continuing", "I am running", "we're fixing".
    for cue in ["i'm ", "i am ", "we're ", "we are "] {
        if let Some(at) = clause.find(cue)
            && (at == 0 || !clause.as_bytes()[at - 1].is_ascii_alphanumeric())
            && !conditional(&clause[..at])
            && let Some(word) = first_content_word(&clause[at + cue.len()..], &["now", "still"])
            && ACTION_GERUNDS.contains(&word.as_str())
            && !in_progress_is_a_fact(&word, &clause[at + cue.len()..])
        {
            return Some(format!("{cue}{word}"));
        }
    }
    // "Running the tests now", "Moving on to the scan next", "Continuing without pausing".
    let rest = strip_leads(clause);
    let word = first_word(rest)?;
    if !ACTION_GERUNDS.contains(&word.as_str()) || describes_a_state(&word, rest) {
        return None;
    }
    let padded = format!(" {} ", rest.trim_end_matches(['.', '!', '…', ':', ' ']));
    if MODALS.iter().any(|m| padded.contains(m)) {
        return None;
    }
    // The time words may be in the lead ("Now digging into the routes").
    let whole =
        format!(" {} ", clause.trim_end_matches(['.', '!', '…', ':', ' '])).replace(',', " ");
    let timed = [" now ", " next ", " right away ", " next up "]
        .iter()
        .any(|w| whole.contains(w));
    let evident = SELF_EVIDENT_GERUNDS.contains(&word.as_str())
        || (word == "moving" && rest.starts_with("moving on"))
        || (word == "working" && rest.starts_with("working on"));
    (timed || evident).then(|| format!("{word} … now"))
}

/// "Looking good now", "Working as intended now", "Building cleanly now" describe how
/// things are, not what comes next.
fn describes_a_state(word: &str, rest: &str) -> bool {
    let after = rest.trim_start().strip_prefix(word).unwrap_or(rest);
    let next = first_word(after).unwrap_or_default();
    const STATE_WORDS: &[&str] = &[
        "good",
        "fine",
        "great",
        "well",
        "smoothly",
        "cleanly",
        "correctly",
        "properly",
        "as",
        "ok",
        "okay",
        "green",
        "normally",
        "fast",
        "slowly",
        "out",
    ];
    STATE_WORDS.contains(&next.as_str())
        || (word == "working" && next != "on")
        || (word == "looking" && !matches!(next.as_str(), "at" | "into" | "for" | "through"))
}

/// "I'm working on Linux" / "I'm running out of ideas" are facts, not announcements.
fn in_progress_is_a_fact(word: &str, rest: &str) -> bool {
    let rest = rest.trim_start();
    let after = rest.strip_prefix(word).unwrap_or(rest).trim_start();
    (word == "running" && after.starts_with("out of"))
        || (word == "working" && !after.starts_with("on "))
}

fn strip_leads(clause: &str) -> &str {
    let mut rest = clause.trim_start();
    loop {
        let before = rest;
        for lead in LEADS {
            if let Some(after) = rest.strip_prefix(lead)
                && after.starts_with([' ', ',', '—', '-', '!', '.'])
            {
                rest = after.trim_start_matches([' ', ',', '—', '-', '!', '.']);
            }
        }
        if rest == before {
            return rest;
        }
    }
}

fn first_word(text: &str) -> Option<String> {
    let word: String = text
        .trim_start()
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '-' || *c == '\'')
        .collect();
    (!word.is_empty()).then_some(word)
}

fn first_content_word(text: &str, skip: &[&str]) -> Option<String> {
    let mut rest = text;
    loop {
        let word = first_word(rest)?;
        if !skip.contains(&word.as_str()) {
            return Some(word);
        }
        let start = rest.find(word.as_str()).unwrap_or(0) + word.len();
        rest = rest[start..].trim_start_matches([' ', ',']);
    }
}

/// Lower case, one kind of apostrophe and quote, no markdown emphasis or code ticks.
fn normalise(text: &str) -> String {
    text.to_lowercase()
        .replace(['\u{2019}', '\u{2018}'], "'")
        .replace(['\u{201c}', '\u{201d}'], "\"")
        .replace("**", "")
        .replace('`', "")
}

/// Clauses of a sentence: split at `;`, dashes used as breaks and ", then".
fn clauses(sentence: &str) -> impl Iterator<Item = &str> {
    sentence
        .split([';', '—', '–'])
        .flat_map(|part| part.split(" - "))
        .flat_map(|part| part.split(", then "))
}

/// The sentences of the answer's last paragraph (or last list item), those with words.
/// `None` when the answer ends in a code block or has no words.
fn last_paragraph(text: &str) -> Option<Vec<String>> {
    let text = text.trim();
    if text.ends_with("```") {
        return None;
    }
    let mut paragraph: Vec<&str> = Vec::new();
    for line in text.lines().rev() {
        let line = line.trim();
        if line.is_empty() {
            if paragraph.is_empty() {
                continue;
            }
            break;
        }
        let item = strip_list_marker(line);
        if item.len() != line.len() {
            // A list item is its own paragraph.
            if paragraph.is_empty() {
                paragraph.push(item);
            }
            break;
        }
        paragraph.push(line);
    }
    paragraph.reverse();
    let joined = paragraph.join(" ");
    let sentences: Vec<String> = split_sentences(&joined)
        .into_iter()
        .filter(|s| s.chars().any(char::is_alphabetic))
        .map(str::to_string)
        .collect();
    (!sentences.is_empty()).then_some(sentences)
}

fn strip_list_marker(line: &str) -> &str {
    for marker in ["- ", "* ", "• ", "> "] {
        if let Some(rest) = line.strip_prefix(marker) {
            return rest.trim_start();
        }
    }
    let digits = line.chars().take_while(char::is_ascii_digit).count();
    if digits > 0
        && let Some(rest) = line[digits..]
            .strip_prefix(". ")
            .or_else(|| line[digits..].strip_prefix(") "))
    {
        return rest.trim_start();
    }
    line
}

/// Split at `.`, `!`, `?`, `…` followed by a space and a word that does not start in
/// lower case (so "e.g. foo", "parser.rs" and "inlined ... and launch" stay whole).
fn split_sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    for (i, (at, c)) in chars.iter().enumerate() {
        if !matches!(c, '.' | '!' | '?' | '…') {
            continue;
        }
        let Some((_, next)) = chars.get(i + 1) else {
            continue;
        };
        if !next.is_whitespace() {
            continue;
        }
        let following = chars[i + 1..]
            .iter()
            .map(|(_, c)| *c)
            .find(|c| !c.is_whitespace());
        if following.is_some_and(char::is_lowercase) {
            continue;
        }
        let end = at + c.len_utf8();
        out.push(&text[start..end]);
        start = end;
    }
    out.push(&text[start..]);
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn fires(text: &str) -> bool {
        stated_next_action(text).is_some()
    }

    #[test]
    fn promises_in_the_last_sentence_fire() {
        for text in [
            "I'll now run the tests.",
            "Let me fix the import.",
            "Next, I will update the config:",
            "The parser is wrong. Let me look at `parse_args` next.",
            "Found it; opening the test module next.",
            "Running the full suite now.",
            "Understood. Continuing without pausing.",
            "I'm proceeding with the migration.",
            "Now let me read the notebooks…",
        ] {
            assert!(fires(text), "{text}");
        }
    }

    #[test]
    fn ends_of_turn_do_not_fire() {
        for text in [
            "Done.",
            "I updated the config and the tests pass.",
            "Want me to also update the README?",
            "Let me know if you want me to run the full suite.",
            "If you'd like, I'll add a regression test.",
            "Once you confirm, I'll apply the migration.",
            "I'll leave the naming decision to you.",
            "Next time I'll run the linter before committing.",
            "Running the tests requires Docker, which is not installed here.",
            "The server is running now.",
            "Summary: the parser now rejects empty input and all 42 tests pass.",
            "Run this:\n```\nnpm test\n```",
            "I won't touch the generated files.",
        ] {
            assert!(!fires(text), "{text}");
        }
    }

    #[test]
    fn only_the_last_sentence_counts() {
        assert!(!fires(
            "I'll fix the import first. Done: the import is fixed and the tests pass."
        ));
        assert!(fires("The import was wrong. I'll fix it now."));
        // The last list item is its own paragraph.
        assert!(!fires("Plan:\n- I'll run the tests\n- Report the results"));
    }

    #[test]
    fn the_intent_names_the_sentence_and_cue() {
        let intent = stated_next_action("Found the bug. I'll now run the tests.");
        assert_eq!(
            intent,
            Some(Intent {
                sentence: "I'll now run the tests.".into(),
                cue: "i'll run".into(),
            })
        );
    }

    #[test]
    fn policy_nudges_only_tool_turns_without_calls_within_retries() {
        let policy = ContinuationPolicy::default();
        let promise = "Let me fix the import.";
        assert!(matches!(
            policy.decide(true, 0, promise, false),
            Decision::Nudge(_)
        ));
        // No tools used in this turn yet: the model may be proposing a plan.
        assert_eq!(policy.decide(false, 0, promise, false), Decision::HandOver);
        // The answer has a call: nothing was promised in vain.
        assert_eq!(policy.decide(true, 0, promise, true), Decision::HandOver);
        // The one retry is spent.
        assert_eq!(policy.decide(true, 1, promise, false), Decision::HandOver);
        // A real end of turn.
        assert_eq!(policy.decide(true, 0, "Done.", false), Decision::HandOver);
        let off = ContinuationPolicy::new(0, false).unwrap();
        assert_eq!(off.decide(true, 0, promise, false), Decision::HandOver);
        let three = ContinuationPolicy::new(3, true).unwrap();
        match three.decide(true, 2, promise, false) {
            Decision::Nudge(nudge) => assert!(nudge.tool_choice_required),
            other => panic!("expected a nudge, got {other:?}"),
        }
    }

    #[test]
    fn retries_outside_zero_to_three_are_refused_with_the_range() {
        assert_eq!(ContinuationPolicy::default().retries(), 1);
        assert!(!ContinuationPolicy::default().tool_choice_required());
        assert_eq!(ContinuationPolicy::new(4, false), Err(RetriesOutOfRange(4)));
        assert_eq!(
            ContinuationPolicy::new(-1, false),
            Err(RetriesOutOfRange(-1))
        );
        assert_eq!(
            RetriesOutOfRange(7).to_string(),
            "continuation_retries = 7 is out of range: use 0 (off) to 3"
        );
    }

    #[test]
    fn turn_used_tools_looks_after_the_last_user_message() {
        let call =
            json!({"type": "function_call", "name": "shell", "arguments": "{}", "call_id": "c1"});
        let user = json!({"type": "message", "role": "user", "content": "go"});
        assert!(turn_used_tools(&[user.clone(), call.clone()]));
        assert!(!turn_used_tools(&[call, user]));
    }

    #[test]
    fn nudged_body_appends_answer_and_nudge_and_forces_a_call_only_when_asked() {
        let body = json!({"model": "m", "input": [{"type": "message", "role": "user", "content": "hi"}], "tools": [{"type": "function", "name": "shell"}], "tool_choice": "auto"});
        let nudged = nudged_body(&body, "Let me fix it.", false);
        let input = nudged["input"].as_array().unwrap();
        assert_eq!(input.len(), 3);
        assert_eq!(input[1]["role"], "assistant");
        assert_eq!(input[1]["content"][0]["text"], "Let me fix it.");
        assert_eq!(input[2]["role"], "user");
        assert_eq!(input[2]["content"][0]["text"], NUDGE);
        assert_eq!(nudged["tool_choice"], "auto");
        assert_eq!(
            nudged_body(&body, "Let me fix it.", true)["tool_choice"],
            "required"
        );
        // Without tools there is nothing to require.
        let no_tools = json!({"model": "m", "input": []});
        assert!(
            nudged_body(&no_tools, "x", true)
                .get("tool_choice")
                .is_none()
        );
    }

    #[test]
    fn the_nudge_never_names_a_command() {
        // It asks for the call the model described; it does not write one.
        assert!(!NUDGE.contains('`'));
        assert!(NUDGE.contains("make the tool call you described"));
        assert!(NUDGE.contains("say so in one short final message"));
    }
}
