#!/usr/bin/env bats
# scripts/fault-matrix.sh and scripts/overhead-bench.sh without a Codex build: usage
# errors, and the fault matrix end to end against a fake codex-litellm (a minimal chat
# tool loop in Python) on the real mock server: the cells it counts, the must-be-zero rule
# and its exit status, nothing left running.

load helpers

MATRIX=$REPO_ROOT/scripts/fault-matrix.sh
BENCH=$REPO_ROOT/scripts/overhead-bench.sh

setup_file() {
  local mock=${MOCK_LLM:-${CARGO_TARGET_DIR:-$REPO_ROOT/target}/debug/mock-llm}
  if [[ ! -x $mock ]] && command -v cargo >/dev/null; then
    (cd "$REPO_ROOT" && cargo build -q -p codex-litellm-mock-llm) >&2 || true
  fi
  if [[ -x $mock ]]; then export MOCK_LLM=$mock; else export MOCK_LLM=''; fi
}

setup() {
  export TMPDIR=$BATS_TEST_TMPDIR/tmp
  mkdir -p "$TMPDIR"
  FAKE=$BATS_TEST_TMPDIR/fake-codex-litellm
  # `exec ... PROMPT`: one non-streamed chat request, runs the tool call's `cmd` (twice
  # when FAKE_RUN_TWICE is set), sends the result, prints the answer. Any HTTP error ends
  # with "ERROR: ..." and exit 1, as Codex does.
  cat >"$FAKE" <<'PY'
#!/usr/bin/env python3
import json, os, subprocess, sys, urllib.request, urllib.error
if sys.argv[1:2] == ["--version"]:
    print("codex-litellm 0.0.0+fake"); sys.exit(0)
prompt = sys.argv[-1]
url = os.environ["LITELLM_BASE_URL"] + "/chat/completions"
def ask(messages):
    body = json.dumps({"model": os.environ["LITELLM_MODEL"], "messages": messages, "stream": False}).encode()
    req = urllib.request.Request(url, body, {"content-type": "application/json",
                                             "authorization": "Bearer " + os.environ["LITELLM_API_KEY"]})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.load(r)["choices"][0]["message"]
    except (urllib.error.URLError, ValueError, KeyError, OSError) as e:
        print(f"ERROR: {e}", file=sys.stderr); sys.exit(1)
messages = [{"role": "user", "content": prompt}]
message = ask(messages)
for call in message.get("tool_calls") or []:
    cmd = json.loads(call["function"]["arguments"])["cmd"]
    for _ in range(2 if os.environ.get("FAKE_RUN_TWICE") else 1):
        subprocess.run(["bash", "-c", cmd], check=False)
    messages += [message, {"role": "tool", "tool_call_id": call["id"], "content": "ok"}]
    message = ask(messages)
print(message.get("content") or "")
PY
  chmod +x "$FAKE"
}

require_mock() {
  [[ -n $MOCK_LLM ]] || skip "mock-llm is not built and cargo is not available"
}

@test "fault-matrix / overhead-bench: usage errors" {
  run "$MATRIX" --help
  assert_success
  assert_output_has "Usage: scripts/fault-matrix.sh" "--turns N" "stock-via-proxy"
  run "$MATRIX"
  assert_failure
  assert_output_has "give --codex-litellm BIN, --stock BIN or both"
  run "$MATRIX" --codex-litellm "$FAKE" --kinds 500,nope
  assert_failure
  assert_output_has "unknown fault kind 'nope'"
  run "$MATRIX" --codex-litellm "$FAKE" --clients stock-via-proxy
  assert_failure
  assert_output_has "client stock-via-proxy needs --stock"
  run "$MATRIX" --stock "$BATS_TEST_TMPDIR/missing"
  assert_failure
  assert_output_has "not an executable file"
  run "$BENCH" --help
  assert_success
  assert_output_has "Usage: scripts/overhead-bench.sh" "--memory"
  run "$BENCH" --stock "$FAKE" --turns 0
  assert_failure
  assert_output_has "--turns must be 1..200"
}

@test "fault-matrix: counts completed, failed, wrong answers and the absent rollout per kind" {
  require_mock
  run "$MATRIX" --codex-litellm "$FAKE" --clients litellm-direct --kinds 500,slow-trickle,oversized --turns 2
  [[ $status -eq 0 ]] || { echo "$output" >&2; false; }
  # The fake has no retries: a 500 fails the turn, with the error line it printed.
  assert_output_has "| 500 | litellm-direct | 0/2 | 2 | 0 | 0 | 0 | 0 | 0 | none written |" \
    "| slow-trickle | litellm-direct | 2/2 | 0 | 0 | 0 | 0 | 0 | 0 | none written |" \
    "| oversized | litellm-direct | 0/2 | 0 | 2 | 0 | 0 | 0 | 0 | none written |" \
    "3 fault kinds x 1 clients x 2 turns"
  assert_output_lacks "MUST-BE-ZERO"
  [[ -z $(ls -A "$TMPDIR") ]] || { ls -la "$TMPDIR" >&2; false; }
}

@test "fault-matrix: a tool run twice breaks the must-be-zero rule: exit 1, the cell named" {
  require_mock
  FAKE_RUN_TWICE=1 run "$MATRIX" --codex-litellm "$FAKE" --clients litellm-direct --kinds slow-trickle --turns 1 \
    --json "$BATS_TEST_TMPDIR/out.json"
  [[ $status -eq 1 ]] || { echo "status $status: $output" >&2; false; }
  assert_output_has "| slow-trickle | litellm-direct | 0/1 | 0 | 1 | 0 | 0 | 1 | 0 |" \
    "MUST-BE-ZERO: litellm-direct slow-trickle turn 1: tool ran twice"
  python3 -c 'import json, sys; t = json.load(open(sys.argv[1]))[0]["turns"][0]; assert t["tool_runs"] == 2, t' \
    "$BATS_TEST_TMPDIR/out.json"
}

# A fake stock Codex for scripts/ttft-bench.sh: `exec --json ... PROMPT` streams the mock's
# Responses API (base_url from $CODEX_HOME/config.toml) and prints exec-style JSON events
# as the items end.
write_fake_stock() {
  cat >"$BATS_TEST_TMPDIR/fake-stock" <<'PY'
#!/usr/bin/env python3
import json, os, re, sys, urllib.request
config = open(os.path.join(os.environ["CODEX_HOME"], "config.toml")).read()
base_url = re.search(r'base_url = "([^"]+)"', config).group(1)
body = json.dumps({"model": "mock-model", "stream": True,
                   "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": sys.argv[-1]}]}]}).encode()
req = urllib.request.Request(base_url + "/responses", body, {"content-type": "application/json"})
print(json.dumps({"type": "turn.started"}), flush=True)
with urllib.request.urlopen(req, timeout=30) as r:
    for line in r:
        if not line.startswith(b"data: "):
            continue
        event = json.loads(line[6:])
        if event.get("type") == "response.output_item.done":
            item = event["item"]
            if item["type"] == "message":
                item = {"type": "agent_message", "text": item["content"][0]["text"]}
            print(json.dumps({"type": "item.completed", "item": item}), flush=True)
print(json.dumps({"type": "turn.completed"}), flush=True)
PY
  chmod +x "$BATS_TEST_TMPDIR/fake-stock"
}

@test "ttft-bench: usage errors, and the floor measured against a fake stock Codex" {
  local ttft=$REPO_ROOT/scripts/ttft-bench.sh
  run "$ttft" --help
  assert_success
  assert_output_has "Usage: scripts/ttft-bench.sh" "--chunk-delay-ms"
  run "$ttft" --stock "$BATS_TEST_TMPDIR/missing"
  assert_failure
  assert_output_has "not an executable file"
  run "$ttft" --stock "$FAKE" --runs 0
  assert_failure
  assert_output_has "--runs must be 1..100"
  require_mock
  write_fake_stock
  run "$ttft" --stock "$BATS_TEST_TMPDIR/fake-stock" --runs 2 --warmup 0 --chunk-delay-ms 5
  [[ $status -eq 0 ]] || { echo "$output" >&2; false; }
  assert_output_has "| variant | first visible (s) | ratio to floor | total (s) | ratio to floor |" \
    "| stock Codex, Responses API (floor) |" "1.00x" "medians of 2 runs"
  [[ -z $(ls -A "$TMPDIR") ]] || { ls -la "$TMPDIR" >&2; false; }
}
