"""The official `openai` Python package against the server (fake agent behind it).

Run by tests/openai_clients.rs: python3 openai_python.py BASE_URL API_KEY
Every check raises on failure; prints "ok" at the end.
"""
import sys

import openai

base_url, key = sys.argv[1], sys.argv[2]
client = openai.OpenAI(base_url=base_url, api_key=key, max_retries=0)

# Models: the agent's catalog.
ids = [m.id for m in client.models.list()]
assert ids == ["fake-coder", "fake-small"], ids

# Responses, not streamed: the final object, usage summed over the turn's two model requests.
first = client.responses.create(model="fake-coder", input="run ls", instructions="be brief")
assert first.status == "completed", first
assert first.output_text == "I listed the files and wrote notes.txt.", first.output_text
assert first.usage.input_tokens == 200 and first.usage.output_tokens == 20, first.usage
kinds = [item.type for item in first.output]
assert kinds == ["reasoning", "reasoning", "reasoning", "message"], kinds
# What the agent did is a reasoning summary, never a function call to execute.
assert first.output[1].summary[0].text == "Ran `ls -la` (exit 0)", first.output[1]

# A follow-up on the same thread.
second = client.responses.create(input="and now?", previous_response_id=first.id)
assert second.previous_response_id == first.id

# Responses, streamed: OpenAI's event order, text deltas add up to the answer.
types, text = [], ""
with client.responses.stream(model="fake-coder", input="hi") as stream:
    for event in stream:
        types.append(event.type)
        if event.type == "response.output_text.delta":
            text += event.delta
    final = stream.get_final_response()
assert types[:2] == ["response.created", "response.in_progress"], types
assert types[-1] == "response.completed", types
assert text == "Hello from the fake agent." == final.output_text, (text, final.output_text)

# An unknown previous_response_id is a clean 404.
try:
    client.responses.create(input="x", previous_response_id="resp_nope")
    raise AssertionError("no error for an unknown previous_response_id")
except openai.NotFoundError as e:
    assert e.code == "previous_response_not_found", e

# Chat completions, streamed: role first, then content, then the end.
chunks = list(client.chat.completions.create(
    model="fake-coder", stream=True, stream_options={"include_usage": True},
    messages=[{"role": "user", "content": "hi"}]))
assert chunks[0].choices[0].delta.role == "assistant", chunks[0]
content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
assert content == "Hello from the fake agent.", content
assert chunks[-1].usage.total_tokens == 110, chunks[-1]

# Chat completions, not streamed; the agent's work in the documented extension fields.
done = client.chat.completions.create(model="fake-small", messages=[{"role": "user", "content": "run ls"}])
message = done.choices[0].message
assert message.content == "I listed the files and wrote notes.txt.", message
assert not message.tool_calls, message.tool_calls
extra = message.model_extra or {}
assert extra["codex_activity"][0]["command"] == "ls -la", extra
assert "Ran `ls -la`" in extra["reasoning_content"], extra

# A wrong key is refused.
try:
    openai.OpenAI(base_url=base_url, api_key="wrong", max_retries=0).models.list()
    raise AssertionError("a wrong key was accepted")
except openai.AuthenticationError:
    pass

print("ok")
