//! Snapshot tests: Codex's Responses request -> the Chat Completions request the backend gets.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use codex_litellm_bridge::BridgeOptions;
use codex_litellm_bridge::options::DeveloperRole;
use codex_litellm_bridge::options::MaxTokensField;
use codex_litellm_bridge::options::ReasoningReturn;
use codex_litellm_bridge::reasoning_carrier;
use codex_litellm_bridge::translate_request;
use serde_json::Value;
use serde_json::json;

fn translate(body: Value, options: &BridgeOptions) -> String {
    match translate_request(&body, options) {
        Ok(chat) => {
            let out = json!({"body": chat.body, "summary": chat.summary});
            serde_json::to_string_pretty(&out).unwrap_or_default()
        }
        Err(err) => format!("error: {err}"),
    }
}

/// A realistic Codex request: instructions, developer + user context, two turns with tools.
fn codex_request(input: Value) -> Value {
    json!({
        "model": "deepseek-chat",
        "instructions": "You are Codex.",
        "input": input,
        "tools": [
            {"type": "function", "name": "shell", "description": "Runs a command.", "strict": false,
             "parameters": {"type": "object", "properties": {"command": {"type": "array", "items": {"type": "string"}}}, "required": ["command"]}},
            {"type": "custom", "name": "apply_patch", "description": "Edit files.",
             "format": {"type": "grammar", "syntax": "lark", "definition": "start: begin_patch hunk+ end_patch"}},
            {"type": "namespace", "name": "mcp__docs", "description": "Docs server.",
             "tools": [{"type": "function", "name": "search", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}]},
            {"type": "web_search"},
            {"type": "image_generation"}
        ],
        "tool_choice": "auto",
        "parallel_tool_calls": true,
        "reasoning": {"effort": "high", "summary": "auto"},
        "store": false,
        "stream": true,
        "include": ["reasoning.encrypted_content"],
        "prompt_cache_key": "0199-session",
        "text": {"verbosity": "low"}
    })
}

#[test]
fn messages_and_developer_role_default_to_system() {
    let body = codex_request(json!([
        {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "<permissions>sandboxed</permissions>"}]},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "<environment_context>cwd=/w</environment_context>"}]},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Say hi"}]},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Hi!"}]},
        {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "Mid-conversation update"}]},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Thanks"}]}
    ]));
    insta::assert_snapshot!(
        "messages_default",
        translate(body, &BridgeOptions::default())
    );
}

#[test]
fn developer_role_kept_or_mapped_to_user() {
    let body = codex_request(json!([
        {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "dev"}]},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}
    ]));
    let kept = BridgeOptions {
        developer_role: DeveloperRole::Developer,
        merge_system_messages: false,
        ..BridgeOptions::default()
    };
    let as_user = BridgeOptions {
        developer_role: DeveloperRole::User,
        ..BridgeOptions::default()
    };
    insta::assert_snapshot!(
        "developer_role_variants",
        format!(
            "developer kept:\n{}\n\nas user:\n{}",
            translate(body.clone(), &kept),
            translate(body, &as_user)
        )
    );
}

#[test]
fn parallel_calls_become_one_assistant_message_with_reasoning_and_all_results() {
    let body = codex_request(json!([
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "List two dirs"}]},
        {"type": "reasoning", "summary": [{"type": "summary_text", "text": "summary"}], "content": [{"type": "reasoning_text", "text": "I will run ls twice."}], "encrypted_content": null},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Listing both."}]},
        {"type": "function_call", "name": "shell", "arguments": "{\"command\":[\"ls\",\"a\"]}", "call_id": "call_a"},
        {"type": "function_call", "name": "shell", "arguments": "{\"command\":[\"ls\",\"b\"]}", "call_id": "call_b"},
        {"type": "function_call_output", "call_id": "call_b", "output": "b.txt"},
        {"type": "function_call_output", "call_id": "call_a", "output": "a.txt"},
        {"type": "reasoning", "summary": [], "content": [{"type": "reasoning_text", "text": "Both listed."}]},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "a has a.txt, b has b.txt"}]}
    ]));
    insta::assert_snapshot!("parallel_calls", translate(body, &BridgeOptions::default()));
}

#[test]
fn sequential_calls_stay_separate_turns() {
    let body = codex_request(json!([
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "go"}]},
        {"type": "function_call", "name": "shell", "arguments": "{\"command\":[\"pwd\"]}", "call_id": "c1"},
        {"type": "function_call_output", "call_id": "c1", "output": "/w"},
        {"type": "function_call", "name": "shell", "arguments": "{\"command\":[\"ls\"]}", "call_id": "c2"},
        {"type": "function_call_output", "call_id": "c2", "output": "x"}
    ]));
    insta::assert_snapshot!(
        "sequential_calls",
        translate(body, &BridgeOptions::default())
    );
}

#[test]
fn custom_namespace_and_local_shell_calls_round_trip() {
    let body = codex_request(json!([
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "edit and search"}]},
        {"type": "custom_tool_call", "status": "completed", "call_id": "p1", "name": "apply_patch", "input": "*** Begin Patch\n*** Add File: a.txt\n+hi\n*** End Patch\n"},
        {"type": "custom_tool_call_output", "call_id": "p1", "output": "Success. Updated: A a.txt"},
        {"type": "function_call", "name": "search", "namespace": "mcp__docs", "arguments": "{\"q\":\"rust\"}", "call_id": "s1"},
        {"type": "function_call_output", "call_id": "s1", "output": [{"type": "input_text", "text": "result 1"}, {"type": "input_text", "text": "result 2"}]},
        {"type": "local_shell_call", "call_id": "l1", "status": "completed", "action": {"type": "exec", "command": ["echo", "hi"], "timeout_ms": 1000, "working_directory": "/w", "env": null, "user": null}},
        {"type": "function_call_output", "call_id": "l1", "output": "hi"}
    ]));
    insta::assert_snapshot!(
        "custom_namespace_local_shell",
        translate(body, &BridgeOptions::default())
    );
}

#[test]
fn images_in_user_messages_and_tool_outputs() {
    let body = codex_request(json!([
        {"type": "message", "role": "user", "content": [
            {"type": "input_text", "text": "What is in this image?"},
            {"type": "input_image", "image_url": "data:image/png;base64,AAAA", "detail": "high"}
        ]},
        {"type": "function_call", "name": "view_image", "arguments": "{\"path\":\"x.png\"}", "call_id": "v1"},
        {"type": "function_call_output", "call_id": "v1", "output": [
            {"type": "input_text", "text": "x.png"},
            {"type": "input_image", "image_url": "data:image/png;base64,BBBB"}
        ]}
    ]));
    insta::assert_snapshot!("images", translate(body, &BridgeOptions::default()));
}

#[test]
fn unanswered_calls_and_orphan_outputs_keep_the_conversation_valid() {
    let body = codex_request(json!([
        {"type": "function_call_output", "call_id": "gone", "output": "output of a call truncated away"},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "go"}]},
        {"type": "function_call", "name": "shell", "arguments": "{}", "call_id": "never_answered"},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "interrupted; try again"}]},
        {"type": "web_search_call", "status": "completed", "action": {"type": "search", "query": "q"}},
        {"type": "ghost_snapshot", "ghost_commit": {}}
    ]));
    insta::assert_snapshot!(
        "unanswered_and_orphans",
        translate(body, &BridgeOptions::default())
    );
}

#[test]
fn reasoning_return_field_variants_and_details_carrier() {
    let details =
        json!([{"type": "reasoning.text", "text": "signed thought", "signature": "sig=="}]);
    let body = codex_request(json!([
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "go"}]},
        {"type": "reasoning", "summary": [{"type": "summary_text", "text": "Only a summary"}], "encrypted_content": reasoning_carrier::encode_details(&details)},
        {"type": "function_call", "name": "shell", "arguments": "{}", "call_id": "c1"},
        {"type": "function_call_output", "call_id": "c1", "output": "ok"}
    ]));
    let mut out = String::new();
    for choice in [
        ReasoningReturn::ReasoningContent,
        ReasoningReturn::Reasoning,
        ReasoningReturn::Both,
        ReasoningReturn::None,
    ] {
        let options = BridgeOptions {
            reasoning_return: choice,
            ..BridgeOptions::default()
        };
        let translated = translate_request(&body, &options).unwrap_or_else(|e| panic!("{e}"));
        let assistant = translated.body["messages"]
            .as_array()
            .and_then(|m| m.iter().find(|m| m["role"] == "assistant").cloned())
            .unwrap_or_default();
        out.push_str(&format!(
            "{choice:?}: {}\n",
            serde_json::to_string(&assistant).unwrap_or_default()
        ));
    }
    insta::assert_snapshot!("reasoning_return", out);
}

#[test]
fn request_parameters_and_provider_overrides() {
    let mut body = codex_request(
        json!([{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "json please"}]}]),
    );
    body["tool_choice"] = json!({"type": "function", "name": "search", "namespace": "mcp__docs"});
    body["text"] = json!({"verbosity": "low", "format": {"type": "json_schema", "name": "answer", "strict": true,
        "schema": {"type": "object", "properties": {"ok": {"type": "boolean"}}}}});
    let mut extra = serde_json::Map::new();
    extra.insert("temperature".into(), json!(0.2));
    extra.insert("top_k".into(), json!(20));
    let options = BridgeOptions {
        model: Some("openrouter/qwen/qwen3-coder".into()),
        max_output_tokens: Some(4096),
        max_tokens_field: MaxTokensField::MaxCompletionTokens,
        send_strict: true,
        extra_body: extra,
        ..BridgeOptions::default()
    };
    insta::assert_snapshot!("parameters_and_overrides", translate(body, &options));
}

#[test]
fn optional_parameters_can_be_turned_off() {
    let body = codex_request(
        json!([{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}]),
    );
    let options = BridgeOptions {
        stream: false,
        send_reasoning_effort: false,
        send_parallel_tool_calls: false,
        ..BridgeOptions::default()
    };
    let chat = translate_request(&body, &options).unwrap_or_else(|e| panic!("{e}"));
    let keys: Vec<&String> = chat
        .body
        .as_object()
        .map(|o| o.keys().collect())
        .unwrap_or_default();
    insta::assert_snapshot!(
        "parameters_off",
        format!("{keys:?}\nstream={}", chat.body["stream"])
    );
}

#[test]
fn bad_requests_are_clear_errors() {
    let options = BridgeOptions::default();
    insta::assert_snapshot!(
        "bad_requests",
        [
            translate(json!("not an object"), &options),
            translate(json!({"input": []}), &options),
            translate(json!({"model": "m", "input": 42}), &options),
        ]
        .join("\n")
    );
}

#[test]
fn string_input_is_one_user_message() {
    let chat = translate_request(
        &json!({"model": "m", "input": "hello"}),
        &BridgeOptions::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        chat.body["messages"],
        json!([{"role": "user", "content": "hello"}])
    );
}

/// A recorded call with no name or no call id (a mangled or hand-edited history) never
/// reaches the backend as a function named "" or an id of "": it gets valid ones, and the
/// repairs are counted for telemetry.
#[test]
fn calls_without_name_or_call_id_are_sent_with_valid_ones() {
    let body = codex_request(json!([
        {"type": "message", "role": "user", "content": "go"},
        {"type": "function_call", "call_id": "c1", "arguments": "{}"},
        {"type": "function_call", "name": "shell", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "done"}
    ]));
    let chat = translate_request(&body, &BridgeOptions::default()).unwrap();
    let messages = chat.body["messages"].as_array().unwrap();
    assert_eq!(codex_litellm_bridge::history::check_order(messages), Ok(()));
    let calls = messages
        .iter()
        .filter_map(|m| m.get("tool_calls").and_then(Value::as_array))
        .flatten()
        .collect::<Vec<_>>();
    assert_eq!(calls.len(), 2);
    for call in &calls {
        assert!(!call["id"].as_str().unwrap().is_empty(), "{call}");
        assert!(
            !call["function"]["name"].as_str().unwrap().is_empty(),
            "{call}"
        );
    }
    let repairs = &chat.summary.history_repairs;
    assert_eq!(
        repairs.get("tool_call_without_name"),
        Some(&1),
        "{repairs:?}"
    );
    assert_eq!(repairs.get("tool_call_without_id"), Some(&1), "{repairs:?}");
}

/// Each call answered one behind (call 1, call 2, output 1, call 3, output 2, ...): every
/// call is followed by its own output.
#[test]
fn calls_answered_one_behind_keep_their_outputs() {
    let n = 50;
    let mut input = vec![json!({"type": "message", "role": "user", "content": "go"})];
    for i in 0..n {
        input.push(json!({"type": "function_call", "call_id": format!("c{i}"), "name": "shell", "arguments": "{}"}));
        if i > 0 {
            input.push(json!({"type": "function_call_output", "call_id": format!("c{}", i - 1), "output": format!("out {}", i - 1)}));
        }
    }
    input.push(json!({"type": "function_call_output", "call_id": format!("c{}", n - 1), "output": format!("out {}", n - 1)}));
    let chat = translate_request(
        &codex_request(Value::Array(input)),
        &BridgeOptions::default(),
    )
    .unwrap();
    let messages = chat.body["messages"].as_array().unwrap();
    assert_eq!(codex_litellm_bridge::history::check_order(messages), Ok(()));
    for message in messages.iter().filter(|m| m["role"] == "tool") {
        let id = message["tool_call_id"].as_str().unwrap();
        assert_eq!(message["content"], format!("out {}", &id[1..]));
    }
    assert!(
        chat.summary.history_repairs.is_empty(),
        "{:?}",
        chat.summary.history_repairs
    );
}

/// A message live mode ended as interrupted (its stream broke, the retry answered anew) is
/// not sent back: the model sees the one answer Codex kept, not two glued together.
#[test]
fn an_interrupted_answer_is_not_sent_back() {
    let interrupted = format!(
        "This answer will be cut off in the midd{}",
        codex_litellm_bridge::INTERRUPTED_NOTE
    );
    let body = codex_request(json!([
        {"type": "message", "role": "user", "content": "question"},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": interrupted}]},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "The answer is 42."}]},
        {"type": "message", "role": "user", "content": "thanks"}
    ]));
    let chat = translate_request(&body, &BridgeOptions::default()).unwrap();
    let assistant: Vec<&Value> = chat.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "assistant")
        .collect();
    assert_eq!(assistant.len(), 1, "{assistant:?}");
    assert_eq!(assistant[0]["content"], "The answer is 42.");
    assert_eq!(
        chat.summary.history_repairs.get("interrupted_answer"),
        Some(&1)
    );
}

/// Calls of tools this request does not declare come back in the history: a model writing
/// an MCP tool its own way (`filesystem.write_file`), a name over 64 characters, a tool
/// whose server is gone. Strict backends refuse the whole request over one name outside
/// ^[a-zA-Z0-9_-]{1,64}$, so each gets a valid name, never a declared tool's.
#[test]
fn undeclared_calls_in_the_history_get_valid_chat_names() {
    let long = "x".repeat(80);
    let body = codex_request(json!([
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "go"}]},
        {"type": "function_call", "name": "filesystem.write_file", "arguments": "{}", "call_id": "d1"},
        {"type": "function_call_output", "call_id": "d1", "output": "unsupported call: filesystem.write_file"},
        {"type": "function_call", "name": long, "arguments": "{}", "call_id": "d2"},
        {"type": "function_call_output", "call_id": "d2", "output": "unsupported call"},
        {"type": "function_call", "name": "read file", "namespace": "mcp__my server", "arguments": "{}", "call_id": "d3"},
        {"type": "function_call_output", "call_id": "d3", "output": "unsupported call"},
        {"type": "function_call", "name": "apply.patch", "arguments": "{}", "call_id": "d4"},
        {"type": "function_call_output", "call_id": "d4", "output": "unsupported call"},
        {"type": "function_call", "name": "search", "namespace": "mcp__docs", "arguments": "{}", "call_id": "d5"},
        {"type": "function_call_output", "call_id": "d5", "output": "found"}
    ]));
    let chat = translate_request(&body, &BridgeOptions::default()).unwrap();
    let messages = chat.body["messages"].as_array().unwrap();
    let calls = messages
        .iter()
        .flat_map(|m| m["tool_calls"].as_array().into_iter().flatten());
    let sent: Vec<(String, String)> = calls
        .map(|c| {
            (
                c["id"].to_string(),
                c["function"]["name"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let valid = |n: &str| {
        (1..=64).contains(&n.len())
            && n.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    };
    assert_eq!(sent.len(), 5, "{sent:?}");
    for (id, name) in &sent {
        assert!(valid(name), "call {id} is sent as {name:?}");
    }
    let name = |id: &str| {
        &sent
            .iter()
            .find(|(i, _)| i == &format!("\"{id}\""))
            .unwrap()
            .1
    };
    assert_eq!(name("d1"), "filesystem_write_file");
    assert_eq!(name("d3"), "mcp__my_server__read_file");
    // `apply_patch` is a declared tool: the made-up call must not pass for it.
    assert!(name("d4").starts_with("apply_patch_"), "{}", name("d4"));
    assert_eq!(
        name("d5"),
        "mcp__docs__search",
        "a declared tool keeps its name"
    );
}
