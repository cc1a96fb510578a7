//! `exec -m <unknown>`: fail before the prompt is sent, naming what the backend serves.

/// Served ids closest to `unknown`, best first (at most 5): case-insensitive equality,
/// then ids containing it (or contained in it, e.g. `qwen3-coder` for
/// `ollama/qwen3-coder:30b`), then small edit distances.
pub fn close_matches(unknown: &str, served: &[String]) -> Vec<String> {
    let wanted = unknown.to_lowercase();
    let wanted_tail = tail(&wanted);
    let mut scored: Vec<(usize, usize, &String)> = served
        .iter()
        .filter(|id| !id.contains('*'))
        .filter_map(|id| {
            let candidate = id.to_lowercase();
            let candidate_tail = tail(&candidate);
            let score = if candidate == wanted {
                0
            } else if candidate_tail == wanted_tail {
                1
            } else if candidate.contains(wanted_tail) || wanted.contains(candidate_tail) {
                2 + candidate.len().abs_diff(wanted.len()).min(40)
            } else {
                let distance = edit_distance(candidate_tail, wanted_tail);
                let allowed = (wanted_tail.chars().count() / 3).max(2);
                if distance <= allowed {
                    50 + distance
                } else {
                    // A typo of a longer id's start: `qwen3-codr` for `qwen3-coder-16k`.
                    let to_prefix = distance_to_a_prefix(wanted_tail, candidate_tail);
                    if wanted_tail.chars().count() < 4 || to_prefix > allowed {
                        return None;
                    }
                    60 + to_prefix
                }
            };
            Some((score, edit_distance(&candidate, &wanted), id))
        })
        .collect();
    scored.sort();
    scored
        .into_iter()
        .take(5)
        .map(|(_, _, id)| id.clone())
        .collect()
}

/// `provider/model` → `model`: gateways prefix ids with a route.
fn tail(id: &str) -> &str {
    id.rsplit('/').next().unwrap_or(id)
}

/// The smallest edit distance between `a` and any prefix of `b`.
fn distance_to_a_prefix(a: &str, b: &str) -> usize {
    let row = distances_to_prefixes(a, b);
    row.into_iter().min().unwrap_or(0)
}

fn edit_distance(a: &str, b: &str) -> usize {
    distances_to_prefixes(a, b).pop().unwrap_or(0)
}

/// Levenshtein's last row: element j is the edit distance between `a` and `b`'s first j
/// characters (so the last element is the distance between `a` and `b`).
fn distances_to_prefixes(a: &str, b: &str) -> Vec<usize> {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous
}

/// Whether the backend serves `model`: listed exactly, or matched by a gateway wildcard
/// route (LiteLLM `model_name: "openai/*"` or `"*"`).
pub fn is_served(model: &str, served: &[String]) -> bool {
    served
        .iter()
        .any(|id| id == model || wildcard_matches(id, model))
}

fn wildcard_matches(pattern: &str, model: &str) -> bool {
    let Some((prefix, suffix)) = pattern.split_once('*') else {
        return false;
    };
    model.len() >= prefix.len() + suffix.len()
        && model.starts_with(prefix)
        && model.ends_with(suffix)
}

/// The requested model is not among what the backend lists.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.message())]
pub struct UnknownModel {
    pub model: String,
    pub provider: String,
    pub close_matches: Vec<String>,
    /// A few of the served ids, for when nothing is close.
    pub some_served: Vec<String>,
    pub served_count: usize,
}

impl UnknownModel {
    fn message(&self) -> String {
        let mut text = format!(
            "model `{}` is not served by provider `{}`",
            self.model, self.provider
        );
        if !self.close_matches.is_empty() {
            text.push_str(&format!(
                "; did you mean {}",
                self.close_matches
                    .iter()
                    .map(|m| format!("`{m}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        } else if !self.some_served.is_empty() {
            let more = self.served_count.saturating_sub(self.some_served.len());
            text.push_str(&format!(
                "; it serves {}{}",
                self.some_served
                    .iter()
                    .map(|m| format!("`{m}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            ));
        }
        let end = if self.close_matches.is_empty() {
            "."
        } else {
            "?"
        };
        text.push_str(end);
        text.push_str(" Choose one with -m, or set `model` in litellm.toml.");
        text
    }
}

/// Checks `model` against the served list. An empty list means discovery failed or the
/// backend does not list models: nothing is known, so nothing is refused.
pub fn validate_model(model: &str, provider: &str, served: &[String]) -> Result<(), UnknownModel> {
    if served.is_empty() || is_served(model, served) {
        return Ok(());
    }
    let plain: Vec<String> = served
        .iter()
        .filter(|id| !id.contains('*'))
        .cloned()
        .collect();
    Err(UnknownModel {
        model: model.to_string(),
        provider: provider.to_string(),
        close_matches: close_matches(model, served),
        some_served: plain.iter().take(8).cloned().collect(),
        served_count: plain.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn served(ids: &[&str]) -> Vec<String> {
        ids.iter().map(|s| (*s).to_string()).collect()
    }

    #[test]
    fn metadata_close_matches_finds_typos_prefixes_and_routes() {
        let list = served(&[
            "qwen3-coder",
            "qwen3-coder:30b",
            "ollama/qwen3-coder",
            "deepseek-chat",
            "gpt-5",
            "openai/*",
        ]);
        let typo = close_matches("qwen3-codr", &list);
        assert_eq!(typo.first().map(String::as_str), Some("qwen3-coder"));
        assert!(typo.contains(&"ollama/qwen3-coder".to_string()));
        assert_eq!(
            close_matches("Deepseek-Chat", &list),
            served(&["deepseek-chat"])
        );
        assert_eq!(close_matches("gpt5", &list), served(&["gpt-5"]));
        assert!(close_matches("llama-3.1-70b", &list).is_empty());
        // A typo of the start of a longer id (the served names carry a size or a window).
        let sized = served(&["qwen3-coder-16k", "deepseek-r1-128k", "tiny-no-tools"]);
        assert_eq!(
            close_matches("qwen3-codr", &sized),
            served(&["qwen3-coder-16k"])
        );
        assert_eq!(
            close_matches("deepsek-r1", &sized),
            served(&["deepseek-r1-128k"])
        );
        assert!(close_matches("qwen2.5-72b", &sized).is_empty());
        assert!(
            close_matches("tny", &sized).is_empty(),
            "too short to guess from"
        );
    }

    #[test]
    fn distance_to_a_prefix_is_the_best_prefix() {
        assert_eq!(distance_to_a_prefix("qwen3-codr", "qwen3-coder-16k"), 1);
        assert_eq!(distance_to_a_prefix("abc", "abcdef"), 0);
        assert_eq!(distance_to_a_prefix("xyz", "abc"), 3);
        assert_eq!(distance_to_a_prefix("abc", ""), 3);
    }

    #[test]
    fn metadata_validate_model_fails_fast_with_close_matches() {
        let list = served(&["qwen3-coder", "deepseek-chat", "openai/*"]);
        assert_eq!(validate_model("qwen3-coder", "litellm", &list), Ok(()));
        assert_eq!(validate_model("openai/gpt-5", "litellm", &list), Ok(()));
        assert_eq!(validate_model("anything", "litellm", &[]), Ok(()));
        let Err(err) = validate_model("qwen3-codr", "litellm", &list) else {
            panic!("an unknown model must be refused");
        };
        assert_eq!(
            err.to_string(),
            "model `qwen3-codr` is not served by provider `litellm`; did you mean \
             `qwen3-coder`? Choose one with -m, or set `model` in litellm.toml."
        );
        let Err(err) = validate_model("zzz", "litellm", &list) else {
            panic!("an unknown model must be refused");
        };
        assert!(
            err.to_string()
                .contains("it serves `qwen3-coder`, `deepseek-chat`.")
        );
    }
}
