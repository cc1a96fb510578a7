//! Tool declarations: Responses tool specs -> Chat Completions functions, and the map that
//! turns the backend's function calls back into the item kinds Codex expects.

use serde_json::Value;
use serde_json::json;
use std::collections::BTreeMap;
use std::collections::HashMap;
use tracing::debug;

/// Chat Completions function names must match `^[a-zA-Z0-9_-]{1,64}$` on most backends.
const MAX_FUNCTION_NAME_LEN: usize = 64;
/// Separator between a namespace and a tool name in a flattened function name.
pub const NAMESPACE_SEPARATOR: &str = "__";

/// What a chat function name stands for on the Codex side.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ToolTarget {
    /// A plain function tool, possibly inside a `namespace` tool.
    Function {
        name: String,
        namespace: Option<String>,
    },
    /// A freeform (`custom`) tool: the function has one string parameter, `input`.
    Custom { name: String },
    /// The `local_shell` tool: arguments are a `LocalShellExecAction`.
    LocalShell,
}

/// Both directions of the tool-name mapping for one request.
#[derive(Debug, Clone, Default)]
pub struct ToolMap {
    by_chat_name: BTreeMap<String, ToolTarget>,
    /// Parameter schemas by chat name, used to validate recovered calls.
    parameters: BTreeMap<String, Value>,
    /// The reverse direction: the smallest chat name of each target (lookups per history
    /// item stay O(1)).
    by_target: HashMap<ToolTarget, String>,
    /// Next hash salt to try per preferred name, so many duplicates stay linear.
    next_salt: HashMap<String, u32>,
}

impl ToolMap {
    pub fn target(&self, chat_name: &str) -> Option<&ToolTarget> {
        self.by_chat_name.get(chat_name)
    }

    pub fn is_declared(&self, chat_name: &str) -> bool {
        self.by_chat_name.contains_key(chat_name)
    }

    pub fn declared_names(&self) -> impl Iterator<Item = &str> {
        self.by_chat_name.keys().map(String::as_str)
    }

    pub fn parameters(&self, chat_name: &str) -> Option<&Value> {
        self.parameters.get(chat_name)
    }

    /// Chat name for a Codex function call found in the conversation history. A call of a
    /// tool this request does not declare (a name the model made up, a server now gone)
    /// still gets a valid name, never a declared tool's: strict backends refuse the whole
    /// request over one invalid name in the history.
    pub fn chat_name_for_function(&self, name: &str, namespace: Option<&str>) -> String {
        let wanted = ToolTarget::Function {
            name: name.to_string(),
            namespace: namespace.map(str::to_string),
        };
        if let Some(chat_name) = self.chat_name_for(&wanted) {
            return chat_name;
        }
        let flat = flattened_name(namespace, name);
        // No name at all is the history repair's (`tool_call_without_name`, counted there).
        if flat.is_empty() || is_valid_function_name(&flat) {
            return flat;
        }
        unique_valid_name(&flat, &mut 0, |n| self.is_declared(n))
    }

    pub fn chat_name_for(&self, target: &ToolTarget) -> Option<String> {
        self.by_target.get(target).cloned()
    }

    fn insert(&mut self, preferred: String, target: ToolTarget, parameters: Value) -> String {
        let salt = self.next_salt.entry(preferred.clone()).or_default();
        let chat_name = unique_valid_name(&preferred, salt, |name| {
            self.by_chat_name.contains_key(name)
        });
        match self.by_target.get_mut(&target) {
            Some(existing) if *existing <= chat_name => {}
            Some(existing) => *existing = chat_name.clone(),
            None => {
                self.by_target.insert(target.clone(), chat_name.clone());
            }
        }
        self.by_chat_name.insert(chat_name.clone(), target);
        self.parameters.insert(chat_name.clone(), parameters);
        chat_name
    }
}

/// The result of translating the `tools` array.
#[derive(Debug, Default)]
pub struct TranslatedTools {
    pub functions: Vec<Value>,
    pub map: ToolMap,
    /// Tools the backend cannot run (hosted tools), by type.
    pub dropped: Vec<String>,
}

pub fn translate_tools(tools: &[Value], send_strict: bool) -> TranslatedTools {
    let mut out = TranslatedTools::default();
    for tool in tools {
        translate_tool(tool, None, send_strict, &mut out);
    }
    out
}

fn translate_tool(
    tool: &Value,
    namespace: Option<&str>,
    send_strict: bool,
    out: &mut TranslatedTools,
) {
    let kind = tool.get("type").and_then(Value::as_str).unwrap_or("");
    match kind {
        "function" => {
            let Some(name) = tool.get("name").and_then(Value::as_str) else {
                debug!("dropping function tool without a name");
                out.dropped.push("function(unnamed)".to_string());
                return;
            };
            let parameters = tool
                .get("parameters")
                .cloned()
                .unwrap_or_else(|| json!({"type": "object", "properties": {}}));
            let chat_name = out.map.insert(
                flattened_name(namespace, name),
                ToolTarget::Function {
                    name: name.to_string(),
                    namespace: namespace.map(str::to_string),
                },
                parameters.clone(),
            );
            let mut function = json!({"name": chat_name, "parameters": parameters});
            if let Some(description) = tool.get("description").and_then(Value::as_str) {
                function["description"] = json!(description);
            }
            if send_strict && let Some(strict) = tool.get("strict") {
                function["strict"] = strict.clone();
            }
            out.functions
                .push(json!({"type": "function", "function": function}));
        }
        "custom" => {
            let Some(name) = tool.get("name").and_then(Value::as_str) else {
                out.dropped.push("custom(unnamed)".to_string());
                return;
            };
            let parameters = custom_tool_parameters();
            let chat_name = out.map.insert(
                flattened_name(namespace, name),
                ToolTarget::Custom {
                    name: name.to_string(),
                },
                parameters.clone(),
            );
            out.functions.push(json!({
                "type": "function",
                "function": {
                    "name": chat_name,
                    "description": custom_tool_description(tool),
                    "parameters": parameters,
                }
            }));
        }
        "namespace" => {
            let Some(ns) = tool.get("name").and_then(Value::as_str) else {
                out.dropped.push("namespace(unnamed)".to_string());
                return;
            };
            for inner in tool
                .get("tools")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                translate_tool(inner, Some(ns), send_strict, out);
            }
        }
        "local_shell" => {
            let parameters = local_shell_parameters();
            let chat_name = out.map.insert(
                "local_shell".to_string(),
                ToolTarget::LocalShell,
                parameters.clone(),
            );
            out.functions.push(json!({
                "type": "function",
                "function": {
                    "name": chat_name,
                    "description": "Runs a shell command and returns its output.",
                    "parameters": parameters,
                }
            }));
        }
        other => {
            // web_search, image_generation, tool_search, file_search, ...: hosted by OpenAI,
            // nothing on a Chat Completions backend can run them.
            debug!(
                tool_type = other,
                "dropping hosted tool the backend cannot run"
            );
            out.dropped.push(if other.is_empty() {
                "unknown".to_string()
            } else {
                other.to_string()
            });
        }
    }
}

fn custom_tool_parameters() -> Value {
    json!({
        "type": "object",
        "properties": {
            "input": {
                "type": "string",
                "description": "The raw input for this tool, exactly in the format its description gives."
            }
        },
        "required": ["input"],
        "additionalProperties": false
    })
}

fn custom_tool_description(tool: &Value) -> String {
    let mut description = tool
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if let Some(format) = tool.get("format") {
        let syntax = format
            .get("syntax")
            .and_then(Value::as_str)
            .unwrap_or("text");
        if let Some(definition) = format.get("definition").and_then(Value::as_str) {
            description.push_str(&format!(
                "\n\nPut the whole input in the `input` string. It must follow this {syntax} grammar:\n{definition}"
            ));
        }
    }
    description
}

fn local_shell_parameters() -> Value {
    json!({
        "type": "object",
        "properties": {
            "command": {"type": "array", "items": {"type": "string"}, "description": "The command and its arguments."},
            "workdir": {"type": "string", "description": "Working directory."},
            "timeout_ms": {"type": "integer", "description": "Timeout in milliseconds."}
        },
        "required": ["command"]
    })
}

pub fn flattened_name(namespace: Option<&str>, name: &str) -> String {
    match namespace {
        Some(ns) => format!("{ns}{NAMESPACE_SEPARATOR}{name}"),
        None => name.to_string(),
    }
}

fn is_valid_function_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_FUNCTION_NAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Makes `preferred` a valid, unused chat function name. Invalid characters become `_`;
/// a name that is too long or taken keeps its start and gets a short stable hash suffix.
/// `salt` is where the suffix search starts and is left past the name found.
fn unique_valid_name(preferred: &str, salt: &mut u32, taken: impl Fn(&str) -> bool) -> String {
    if is_valid_function_name(preferred) && !taken(preferred) {
        return preferred.to_string();
    }
    let cleaned: String = preferred
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let cleaned = if cleaned.is_empty() {
        "tool".to_string()
    } else {
        cleaned
    };
    if is_valid_function_name(&cleaned) && !taken(&cleaned) {
        return cleaned;
    }
    loop {
        let hash = stable_hash(&format!("{preferred}#{salt}"));
        let suffix = format!("_{hash:08x}");
        let keep = MAX_FUNCTION_NAME_LEN - suffix.len();
        let head: String = cleaned.chars().take(keep).collect();
        let candidate = format!("{head}{suffix}");
        *salt = salt.wrapping_add(1);
        if !taken(&candidate) {
            return candidate;
        }
    }
}

/// FNV-1a, 32 bit: stable across runs and platforms (std's hasher is not).
pub fn stable_hash(text: &str) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in text.bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn long_or_invalid_names_become_valid_and_stay_reversible() {
        let tools = vec![json!({
            "type": "namespace",
            "name": "mcp.server-with.a.very.long.name.that.goes.on.and.on",
            "tools": [
                {"type": "function", "name": "read file", "parameters": {"type": "object"}},
                {"type": "function", "name": "list", "parameters": {"type": "object"}}
            ]
        })];
        let translated = translate_tools(&tools, false);
        let names: Vec<String> = translated
            .map
            .declared_names()
            .map(str::to_string)
            .collect();
        assert_eq!(names.len(), 2);
        for name in &names {
            assert!(
                is_valid_function_name(name),
                "{name} is not a valid function name"
            );
        }
        let read_target = ToolTarget::Function {
            name: "read file".to_string(),
            namespace: Some("mcp.server-with.a.very.long.name.that.goes.on.and.on".to_string()),
        };
        let chat_name = translated
            .map
            .chat_name_for(&read_target)
            .unwrap_or_default();
        assert_eq!(translated.map.target(&chat_name), Some(&read_target));
    }

    #[test]
    fn colliding_names_get_distinct_chat_names() {
        let tools = vec![
            json!({"type": "function", "name": "a__b"}),
            json!({"type": "namespace", "name": "a", "tools": [{"type": "function", "name": "b"}]}),
        ];
        let translated = translate_tools(&tools, false);
        let names: Vec<&str> = translated.map.declared_names().collect();
        assert_eq!(names.len(), 2);
        assert_ne!(names[0], names[1]);
    }

    #[test]
    fn hosted_tools_are_dropped_and_listed() {
        let tools = vec![
            json!({"type": "web_search"}),
            json!({"type": "image_generation"}),
            json!({"type": "function", "name": "shell"}),
        ];
        let translated = translate_tools(&tools, false);
        assert_eq!(translated.dropped, vec!["web_search", "image_generation"]);
        assert_eq!(translated.functions.len(), 1);
    }
}
