//! Real MCP servers from npm (scripts/mcp-servers.sh), configured in config.toml the way
//! users do, driven by a chat-backend turn: the mock calls each MCP tool by the name Codex
//! advertised in the request's `tools` (found by the tool's description, never guessed),
//! the MCP server acts, and what it returned reaches the model in the next request.
//! Upstream openai/codex#19871 (MCP dispatch broken on custom providers) is the case these
//! prove working on a chat provider.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use codex_litellm_e2e::*;
use codex_litellm_mock_llm::Response;
use codex_litellm_mock_llm::ToolCall;
use pretty_assertions::assert_eq;
use serde_json::Value;
use serde_json::json;
use std::path::PathBuf;

/// One scenario: a fresh home whose config.toml declares MCP servers, and the mock.
struct McpCase {
    bin: PathBuf,
    dirs: Dirs,
    mock: Mock,
    model: &'static str,
}

/// `config` writes config.toml's MCP servers; `answers` scripts the mock (both may use the
/// directories, e.g. the workspace's path).
fn case(
    config: impl Fn(&McpServers, &Dirs) -> String,
    answers: impl Fn(&Dirs) -> Vec<Response>,
) -> Option<McpCase> {
    case_on("mock-model", config, answers)
}

/// [`case`] on a backend serving `model`.
fn case_on(
    model: &'static str,
    config: impl Fn(&McpServers, &Dirs) -> String,
    answers: impl Fn(&Dirs) -> Vec<Response>,
) -> Option<McpCase> {
    let bin = litellm_bin()?;
    let servers = mcp_servers()?;
    let dirs = Dirs::new();
    std::fs::write(dirs.home.join("config.toml"), config(&servers, &dirs)).unwrap();
    let fallback = Response::error(400, "mock-llm (mcp): no scripted response matches");
    let scenario = Scenario::new(answers(&dirs)).with_fallback(fallback);
    let scenario = scenario.with_models([model]);
    let mock = Mock::start(scenario, 0, Some(dirs.path("requests.jsonl")));
    Some(McpCase {
        bin,
        dirs,
        mock,
        model,
    })
}

impl McpCase {
    fn exec(&self, args: &[&str]) -> Run {
        let cmd = self
            .dirs
            .cmd(&self.bin)
            .litellm(&self.mock.url(), self.model);
        let run = cmd.args(["exec", "--skip-git-repo-check"]).args(args).run();
        check(!run.timed_out, "codex finishes within the time limit");
        lacks(&run.stderr, &["panicked at"]);
        run
    }

    fn bodies(&self) -> Vec<Value> {
        let mut all = self.mock.requests();
        all.retain(|r| r.path.ends_with("/chat/completions"));
        all.into_iter().map(|r| r.body).collect()
    }
}

impl Drop for McpCase {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let leaks = self.dirs.files_with_secret();
            assert_eq!(leaks, Vec::<PathBuf>::new(), "files holding the key");
        }
    }
}

/// A TOML string (a basic string with `"` and `\` escaped).
fn toml_str(s: &str) -> String {
    Value::String(s.to_string()).to_string()
}

/// Chat APIs want function names matching ^[a-zA-Z0-9_-]{1,64}$.
fn valid_chat_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The name of the one function in `body`'s `tools` whose description contains `text`.
fn advertised(body: &Value, text: &str) -> String {
    let tools = body["tools"].as_array().expect("the request carries tools");
    let f = tools.iter().map(|t| &t["function"]);
    let mut names = f.filter(|f| f["description"].as_str().unwrap_or("").contains(text));
    let name = names
        .next()
        .unwrap_or_else(|| panic!("no tool described as {text:?}"));
    check(names.next().is_none(), "one tool has that description");
    name["name"].as_str().unwrap().to_string()
}

/// Every function name `body` advertises.
fn all_advertised(body: &Value) -> Vec<String> {
    let tools = body["tools"].as_array().map_or(&[][..], Vec::as_slice);
    let names = tools.iter().map(|t| t["function"]["name"].as_str());
    names.map(|n| n.unwrap_or_default().to_string()).collect()
}

/// The assistant's call `id` in `body`'s messages: (function name, arguments).
fn sent_call(body: &Value, id: &str) -> (String, Value) {
    let msgs = body["messages"].as_array().unwrap();
    let calls = msgs
        .iter()
        .flat_map(|m| m["tool_calls"].as_array().into_iter().flatten());
    let mut calls = calls.filter(|c| c["id"] == id);
    let call = calls
        .next()
        .unwrap_or_else(|| panic!("no call {id} sent back"));
    let name = call["function"]["name"].as_str().unwrap().to_string();
    let args = call["function"]["arguments"].as_str().unwrap();
    (name, serde_json::from_str(args).unwrap())
}

/// The tool message answering call `id` in `body`, as text.
fn tool_result(body: &Value, id: &str) -> String {
    let msgs = body["messages"].as_array().unwrap();
    let msg = msgs
        .iter()
        .find(|m| m["role"] == "tool" && m["tool_call_id"] == id);
    let content = &msg.unwrap_or_else(|| panic!("no tool message for {id}"))["content"];
    content.as_str().map_or(content.to_string(), str::to_string)
}

#[test]
fn mcp_filesystem_server_writes_and_reads_through_a_chat_backend() {
    filesystem_write_and_read("mock-model");
}

/// openai/codex#19871's cause on custom providers: MCP tools deferred behind `tool_search`
/// (a hosted tool a chat backend cannot run) for models upstream's catalog marks so. On a
/// chat provider they stay direct whatever the model is called.
#[test]
fn mcp_tools_stay_callable_on_a_model_named_like_an_openai_one() {
    filesystem_write_and_read("gpt-5.4");
}

fn filesystem_write_and_read(model: &'static str) {
    let seed = "seed-7d3f: read back through the MCP server";
    let config = filesystem_config(seed, "default_tools_approval_mode = \"approve\"\n");
    let answers = |dirs: &Dirs| {
        let path = |f: &str| dirs.ws.join(f).display().to_string();
        let content = "written by server-filesystem\n";
        let write = json!({"path": path("from-mcp.txt"), "content": content});
        let read = json!({"path": path("seed.txt")});
        vec![
            Response::tool_calls(vec![ToolCall::described_as(
                "call_mcp_write",
                WRITE_FILE,
                write,
            )]),
            Response::tool_calls(vec![ToolCall::described_as(
                "call_mcp_read",
                READ_TEXT_FILE,
                read,
            )])
            .when_body_contains("call_mcp_write"),
            Response::text("The file is written and the seed is read.")
                .when_body_contains("call_mcp_read"),
        ]
    };
    let c = or_skip!(case_on(model, config, answers));
    let prompt = "Write the file, then read the seed.";
    let run = c.exec(&["--sandbox", "workspace-write", prompt]);
    run.assert_success();
    let answer = "The file is written and the seed is read.";
    assert_eq!(run.stdout.trim(), answer);

    // The MCP server acted: the file it wrote is in the workspace.
    let written = read(c.dirs.ws.join("from-mcp.txt"));
    assert_eq!(
        written, "written by server-filesystem\n",
        "server-filesystem wrote it"
    );

    let bodies = c.bodies();
    assert_eq!(bodies.len(), 3, "prompt, after the write, after the read");
    let write_name = advertised(&bodies[0], WRITE_FILE);
    let read_name = advertised(&bodies[0], READ_TEXT_FILE);
    say(&format!("mcp: advertised {write_name:?} and {read_name:?}"));
    for name in all_advertised(&bodies[0]) {
        check(
            valid_chat_name(&name),
            &format!("{name:?} is a valid chat function name"),
        );
    }
    // The calls went back in the history under the names Codex advertised.
    assert_eq!(sent_call(&bodies[1], "call_mcp_write").0, write_name);
    assert_eq!(sent_call(&bodies[2], "call_mcp_read").0, read_name);
    let wrote = tool_result(&bodies[1], "call_mcp_write");
    has(&wrote, &["Successfully wrote to", "from-mcp.txt"]);
    // A value the MCP server returned reached the model.
    let got = tool_result(&bodies[2], "call_mcp_read");
    say(&format!(
        "mcp: read_text_file returned to the model: {got:?}"
    ));
    has(&got, &[seed]);
}

/// server-everything configured as `[mcp_servers.<name>]` with `name`, and echo + get-sum
/// called in one answer: (the case, the requests' bodies).
fn everything_under(name: &str) -> Option<(McpCase, Run, Vec<Value>)> {
    let config = |servers: &McpServers, _: &Dirs| {
        let node = servers.everything.display().to_string();
        format!(
            "[mcp_servers.{}]\ncommand = \"node\"\nargs = [{}, \"stdio\"]\nrequired = true\n\
             default_tools_approval_mode = \"approve\"\n",
            toml_str(name),
            toml_str(&node)
        )
    };
    let answers = |_: &Dirs| {
        let echo = json!({"message": "round-trip-5c1e"});
        let sum = json!({"a": 2, "b": 40});
        vec![
            Response::tool_calls(vec![
                ToolCall::described_as("call_mcp_echo", "Echoes back the input string", echo),
                ToolCall::described_as("call_mcp_sum", "Returns the sum of two numbers", sum),
            ]),
            Response::text("Echoed and added.").when_body_contains("call_mcp_sum"),
        ]
    };
    let c = case(config, answers)?;
    let run = c.exec(&["--sandbox", "workspace-write", "Echo, then add."]);
    let bodies = c.bodies();
    Some((c, run, bodies))
}

#[test]
fn mcp_tools_of_a_server_with_a_long_name_round_trip_under_valid_chat_names() {
    // `mcp__<server>__echo` alone is 86 characters; chat APIs take 64.
    let server = "everything_reference_server_configured_under_a_very_long_name";
    let (_c, run, bodies) = or_skip!(everything_under(server));
    run.assert_success();
    assert_eq!(run.stdout.trim(), "Echoed and added.");
    assert_eq!(bodies.len(), 2);
    let echo = advertised(&bodies[0], "Echoes back the input string");
    let sum = advertised(&bodies[0], "Returns the sum of two numbers");
    say(&format!(
        "mcp: server {server:?}: advertised {echo:?} and {sum:?}"
    ));
    for name in all_advertised(&bodies[0]) {
        check(
            valid_chat_name(&name),
            &format!("{name:?} is a valid chat function name"),
        );
    }
    check(echo != sum, "two tools, two names");
    // Both calls reached server-everything, and what it returned reached the model.
    assert_eq!(sent_call(&bodies[1], "call_mcp_echo").0, echo);
    assert_eq!(sent_call(&bodies[1], "call_mcp_sum").0, sum);
    has(
        &tool_result(&bodies[1], "call_mcp_echo"),
        &["Echo: round-trip-5c1e"],
    );
    has(&tool_result(&bodies[1], "call_mcp_sum"), &["42"]);
    let shown = format!("mcp: {server}/echo (completed)");
    has(&run.stderr, &[&shown]);
}

/// `[mcp_servers.filesystem]` serving the workspace, with `extra` lines in its table, and
/// seed.txt holding `seed`. `required = true`: exec waits for the server before the first
/// request (without it a slow start leaves the first request without the server's tools).
fn filesystem_config(
    seed: &'static str,
    extra: &'static str,
) -> impl Fn(&McpServers, &Dirs) -> String {
    move |servers: &McpServers, dirs: &Dirs| {
        std::fs::write(dirs.ws.join("seed.txt"), format!("{seed}\n")).unwrap();
        let node = servers.filesystem.display().to_string();
        let ws = dirs.ws.display().to_string();
        format!(
            "[mcp_servers.filesystem]\ncommand = \"node\"\nargs = [{}, {}]\n\
             required = true\n{extra}",
            toml_str(&node),
            toml_str(&ws)
        )
    }
}

const WRITE_FILE: &str = "Create a new file or completely overwrite";
const READ_TEXT_FILE: &str = "Read the complete contents of a file from the file system as text";

/// A non-interactive exec runs with approval policy `never`: an MCP tool that may write
/// (server-filesystem's write_file) needs `default_tools_approval_mode = "approve"` (or a
/// per-tool `approval_mode`); without it the call is refused and the model is told why,
/// while a read-only tool still runs.
#[test]
fn mcp_write_without_an_approval_setting_is_refused_in_exec_and_the_model_told() {
    let config = filesystem_config("seed-a1", "");
    let answers = |dirs: &Dirs| {
        let path = |f: &str| dirs.ws.join(f).display().to_string();
        let write = json!({"path": path("from-mcp.txt"), "content": "x"});
        let read = json!({"path": path("seed.txt")});
        vec![
            Response::tool_calls(vec![
                ToolCall::described_as("call_mcp_write", WRITE_FILE, write),
                ToolCall::described_as("call_mcp_read", READ_TEXT_FILE, read),
            ]),
            Response::text("Refused and read.").when_body_contains("call_mcp_write"),
        ]
    };
    let c = or_skip!(case(config, answers));
    let run = c.exec(&["--sandbox", "workspace-write", "Write, then read."]);
    run.assert_success();
    check(
        !c.dirs.ws.join("from-mcp.txt").exists(),
        "the refused write did not happen",
    );
    let bodies = c.bodies();
    assert_eq!(bodies.len(), 2);
    let refused = "MCP tool call requires approval, but approval policy is never";
    has(&tool_result(&bodies[1], "call_mcp_write"), &[refused]);
    has(&tool_result(&bodies[1], "call_mcp_read"), &["seed-a1"]);
    has(
        &run.stderr,
        &["mcp: filesystem/write_file (failed)", refused],
    );
}

/// A model that writes an MCP tool its own way (`filesystem.write_file`, not the name
/// advertised) gets Codex's "unsupported call"; that call goes back in the next request's
/// history under a valid chat name (strict backends refuse the whole request over one
/// invalid name), and the model's second try under the advertised name reaches the server.
#[test]
fn mcp_call_under_a_made_up_dotted_name_is_refused_and_the_history_stays_valid() {
    let config = filesystem_config("seed-b2", "default_tools_approval_mode = \"approve\"\n");
    let answers = |dirs: &Dirs| {
        let path = dirs.ws.join("from-mcp.txt").display().to_string();
        let write = json!({"path": path, "content": "second try\n"});
        let made_up = ToolCall::new("call_mcp_dotted", "filesystem.write_file", write.clone());
        let advertised = ToolCall::described_as("call_mcp_write", WRITE_FILE, write);
        vec![
            Response::tool_calls(vec![made_up]),
            Response::tool_calls(vec![advertised]).when_body_contains("call_mcp_dotted"),
            Response::text("Written on the second try.").when_body_contains("call_mcp_write"),
        ]
    };
    let c = or_skip!(case(config, answers));
    let run = c.exec(&["--sandbox", "workspace-write", "Write the file."]);
    run.assert_success();
    assert_eq!(read(c.dirs.ws.join("from-mcp.txt")), "second try\n");
    let bodies = c.bodies();
    assert_eq!(bodies.len(), 3);
    has(
        &tool_result(&bodies[1], "call_mcp_dotted"),
        &["unsupported call"],
    );
    for body in &bodies[1..] {
        let (name, _) = sent_call(body, "call_mcp_dotted");
        say(&format!("mcp: the made-up call went back as {name:?}"));
        check(
            valid_chat_name(&name),
            &format!("{name:?} is a valid chat function name"),
        );
    }
    let write_name = advertised(&bodies[0], WRITE_FILE);
    assert_eq!(sent_call(&bodies[2], "call_mcp_write").0, write_name);
}
