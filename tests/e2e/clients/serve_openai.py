"""The official `openai` Python package against `codex-litellm serve` (tests/serve.rs).

python3 serve_openai.py BASE_URL API_KEY TAG
Makes the calls a user would, prints what it got as one JSON object; tests/serve.rs
asserts on it (and on what the mock backend received). An API error ends the script with
its status and body on stderr.
"""
import json
import sys

import openai

base_url, key, tag = sys.argv[1:4]
client = openai.OpenAI(base_url=base_url, api_key=key, max_retries=0, timeout=120)
out = {}

out["models"] = [m.id for m in client.models.list()]

first = client.responses.create(model="mock-model", input=f"{tag}-FIRST. What colour is the sky?")
out["first"] = {"status": first.status, "text": first.output_text,
                "has_usage": first.usage is not None and first.usage.total_tokens > 0}

second = client.responses.create(input=f"{tag}-SECOND. What did I ask before?",
                                 previous_response_id=first.id)
out["second"] = {"status": second.status, "text": second.output_text,
                 "continues_first": second.previous_response_id == first.id}

types, deltas = [], ""
with client.responses.stream(model="mock-model", input=f"{tag}-STREAM. Stream it.") as stream:
    for event in stream:
        types.append(event.type)
        if event.type == "response.output_text.delta":
            deltas += event.delta
    final = stream.get_final_response()
out["streamed"] = {"first_events": types[:2], "last_event": types[-1], "deltas": deltas,
                   "final": final.output_text}

chunks = list(client.chat.completions.create(
    model="mock-model", stream=True, stream_options={"include_usage": True},
    messages=[{"role": "user", "content": f"{tag}-CHAT. Chat with me."}]))
out["chat"] = {"first_role": chunks[0].choices[0].delta.role,
               "content": "".join(c.choices[0].delta.content or "" for c in chunks if c.choices),
               "finish": [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason],
               "usage_last": chunks[-1].usage is not None and not chunks[-1].choices}

tool = client.responses.create(input=f"{tag}-TOOL. Write the file.")
out["tool"] = {"status": tool.status, "text": tool.output_text,
               "item_types": sorted({item.type for item in tool.output}),
               "usage": [tool.usage.input_tokens, tool.usage.output_tokens, tool.usage.total_tokens],
               "activity": [(item.model_extra or {}).get("codex_activity")
                            for item in tool.output if item.type == "reasoning"]}

print(json.dumps(out))
