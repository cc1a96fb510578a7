// The official `openai` npm package against the server (fake agent behind it).
// Run by tests/openai_clients.rs: node openai_node.cjs BASE_URL API_KEY NODE_MODULES_DIR
// Every check throws on failure; prints "ok" at the end.
const assert = require("node:assert/strict");
const path = require("node:path");

const [baseURL, apiKey, modules] = process.argv.slice(2);
const mod = require(path.join(modules, "openai"));
const OpenAI = mod.OpenAI ?? mod.default ?? mod;

async function main() {
  const client = new OpenAI({ baseURL, apiKey, maxRetries: 0 });

  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  assert.deepEqual(ids, ["fake-coder", "fake-small"]);

  const first = await client.responses.create({ model: "fake-coder", input: "run ls" });
  assert.equal(first.output_text, "I listed the files and wrote notes.txt.");
  assert.equal(first.usage.input_tokens, 200);
  assert.equal(first.output[1].codex_activity.command, "ls -la");

  const second = await client.responses.create({
    model: "fake-coder", input: "and now?", previous_response_id: first.id,
  });
  assert.equal(second.previous_response_id, first.id);

  const types = [];
  let text = "";
  const stream = await client.responses.create({ model: "fake-coder", input: "hi", stream: true });
  for await (const event of stream) {
    types.push(event.type);
    if (event.type === "response.output_text.delta") text += event.delta;
  }
  assert.deepEqual(types.slice(0, 2), ["response.created", "response.in_progress"]);
  assert.equal(types.at(-1), "response.completed");
  assert.equal(text, "Hello from the fake agent.");

  await assert.rejects(
    client.responses.create({ model: "fake-coder", input: "x", previous_response_id: "resp_nope" }),
    (e) => e.status === 404 && e.code === "previous_response_not_found",
  );

  const chunks = [];
  const chat = await client.chat.completions.create({
    model: "fake-coder", stream: true, messages: [{ role: "user", content: "hi" }],
  });
  for await (const chunk of chat) chunks.push(chunk);
  assert.equal(chunks[0].choices[0].delta.role, "assistant");
  assert.equal(chunks.map((c) => c.choices[0]?.delta?.content ?? "").join(""), "Hello from the fake agent.");

  const done = await client.chat.completions.create({
    model: "fake-coder", messages: [{ role: "user", content: "run ls" }],
  });
  assert.equal(done.choices[0].message.content, "I listed the files and wrote notes.txt.");
  assert.equal(done.choices[0].message.tool_calls, undefined);

  const wrong = new OpenAI({ baseURL, apiKey: "wrong", maxRetries: 0 });
  await assert.rejects(wrong.models.list(), (e) => e.status === 401);
  console.log("ok");
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
