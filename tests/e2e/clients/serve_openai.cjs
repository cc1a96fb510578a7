// The official `openai` npm package against `codex-litellm serve` (tests/serve.rs).
// node serve_openai.cjs BASE_URL API_KEY TAG NODE_MODULES_DIR
// Makes the calls a user would, prints what it got as one JSON object (the same shape as
// serve_openai.py); an API error ends the script with its status and body on stderr.
const path = require("node:path");

const [baseURL, apiKey, tag, modules] = process.argv.slice(2);
const mod = require(path.join(modules, "openai"));
const OpenAI = mod.OpenAI ?? mod.default ?? mod;

async function main() {
  const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 120_000 });
  const out = {};

  out.models = [];
  for await (const m of client.models.list()) out.models.push(m.id);

  const first = await client.responses.create({ model: "mock-model", input: `${tag}-FIRST. What colour is the sky?` });
  out.first = { status: first.status, text: first.output_text, has_usage: (first.usage?.total_tokens ?? 0) > 0 };

  const second = await client.responses.create({
    input: `${tag}-SECOND. What did I ask before?`, previous_response_id: first.id,
  });
  out.second = { status: second.status, text: second.output_text, continues_first: second.previous_response_id === first.id };

  const types = [];
  let deltas = "";
  let final = null;
  const stream = await client.responses.create({ model: "mock-model", input: `${tag}-STREAM. Stream it.`, stream: true });
  for await (const event of stream) {
    types.push(event.type);
    if (event.type === "response.output_text.delta") deltas += event.delta;
    if (event.type === "response.completed") final = event.response;
  }
  const finalText = (final?.output ?? []).filter((i) => i.type === "message")
    .flatMap((i) => i.content).filter((c) => c.type === "output_text").map((c) => c.text).join("");
  out.streamed = { first_events: types.slice(0, 2), last_event: types.at(-1), deltas, final: finalText };

  const chunks = [];
  const chat = await client.chat.completions.create({
    model: "mock-model", stream: true, stream_options: { include_usage: true },
    messages: [{ role: "user", content: `${tag}-CHAT. Chat with me.` }],
  });
  for await (const chunk of chat) chunks.push(chunk);
  const last = chunks.at(-1);
  out.chat = {
    first_role: chunks[0].choices[0].delta.role,
    content: chunks.map((c) => c.choices[0]?.delta?.content ?? "").join(""),
    finish: chunks.map((c) => c.choices[0]?.finish_reason).filter((f) => f),
    usage_last: last.usage != null && last.choices.length === 0,
  };

  const tool = await client.responses.create({ input: `${tag}-TOOL. Write the file.` });
  out.tool = {
    status: tool.status, text: tool.output_text,
    item_types: [...new Set(tool.output.map((i) => i.type))].sort(),
    usage: [tool.usage?.input_tokens, tool.usage?.output_tokens, tool.usage?.total_tokens],
    activity: tool.output.filter((i) => i.type === "reasoning").map((i) => i.codex_activity ?? null),
  };

  console.log(JSON.stringify(out));
}

main().catch((e) => {
  console.error(e?.status ?? "", e?.error ?? "", e);
  process.exit(1);
});
