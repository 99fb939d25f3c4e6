"""Fidelity: the official ``anthropic`` SDK, as an independent client, parses everything the server sends."""

from __future__ import annotations

import anthropic
import jsonschema
import pytest
from anthropic.types import Message, MessageTokensCount
from pydantic import BaseModel

WEATHER = {"name": "get_weather", "description": "Current weather",
           "input_schema": {"type": "object", "properties": {"city": {"type": "string"},
                                                             "unit": {"type": "string", "enum": ["celsius", "kelvin"]}},
                            "required": ["city", "unit"]}}


@pytest.fixture(scope="module")
def client(server):
    return anthropic.Anthropic(api_key="test", base_url=server.base_url, max_retries=0)


def ask(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def test_create(client):
    message = client.messages.create(model="claude-sonnet-4-6", max_tokens=300, messages=ask("Hello {x}"))
    assert isinstance(message, Message) and message.model == "claude-sonnet-4-6"
    assert "Hello {x}" in message.content[0].text and message.usage.input_tokens > 0
    Message.model_validate(message.model_dump())  # round trip through the SDK's own type


def test_stream_and_final_message(client):
    with client.messages.stream(model="claude-opus-4-8", max_tokens=300, messages=ask("Stream please")) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert "".join(pieces) == final.content[0].text and final.stop_reason == "end_turn"
    whole = client.messages.create(model="claude-opus-4-8", max_tokens=300, messages=ask("Stream please"))
    assert final.model_dump() == whole.model_dump()


def test_raw_stream_events_parse(client):
    events = list(client.messages.create(model="m", max_tokens=200, messages=ask("raw"), stream=True))
    assert [e.type for e in events][:2] == ["message_start", "content_block_start"]  # the SDK drops pings
    assert events[-1].type == "message_stop"


def test_count_tokens(client):
    counted = client.messages.count_tokens(model="m", messages=ask("one two three"))
    assert isinstance(counted, MessageTokensCount) and counted.input_tokens == 9


def test_tool_round_trip(client):
    messages = ask("Use get_weather for Paris in celsius")
    with client.messages.stream(model="m", max_tokens=500, tools=[WEATHER], messages=messages) as stream:
        first = stream.get_final_message()
    call = first.content[-1]
    assert first.stop_reason == "tool_use" and call.type == "tool_use"
    assert call.input == {"city": "Paris", "unit": "celsius"}
    messages += [{"role": "assistant", "content": first.content},
                 {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "21 degrees"}]}]
    answer = client.messages.create(model="m", max_tokens=500, tools=[WEATHER], messages=messages)
    assert answer.stop_reason == "end_turn" and "21 degrees" in answer.content[0].text


def test_thinking(client):
    with client.messages.stream(model="m", max_tokens=2000, thinking={"type": "adaptive"},
                                messages=ask("Think first")) as stream:
        final = stream.get_final_message()
    assert [b.type for b in final.content] == ["thinking", "text"]
    assert final.content[0].signature and final.usage.output_tokens_details.thinking_tokens > 0


def test_json_output(client):
    class Person(BaseModel):
        name: str
        age: int
        tags: list[str]

    parsed = client.messages.parse(model="m", max_tokens=500, output_format=Person,
                                   messages=ask('Extract: name "Grace Hopper", age 85'))
    assert parsed.parsed_output == Person(name="Grace Hopper", age=85, tags=parsed.parsed_output.tags)
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"],
              "additionalProperties": False}
    raw = client.messages.create(model="m", max_tokens=100, messages=ask("json"),
                                 output_config={"format": {"type": "json_schema", "schema": schema}})
    jsonschema.validate(__import__("json").loads(raw.content[0].text), schema)


def test_citations(client):
    document = {"type": "document", "source": {"type": "text", "media_type": "text/plain",
                                               "data": "Water boils at 100 C. Ice melts at 0 C."},
                "title": "Physics", "citations": {"enabled": True}}
    content = [document, {"type": "text", "text": "When does ice melt?"}]
    with client.messages.stream(model="m", max_tokens=500, messages=[{"role": "user", "content": content}]) as stream:
        final = stream.get_final_message()
    citation = final.content[1].citations[0]
    assert citation.type == "char_location" and citation.cited_text == "Ice melts at 0 C."


def test_errors_map_to_sdk_exceptions(client, server):
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(model="m", max_tokens=10, messages=[{"role": "robot", "content": "x"}])
    assert "messages[0].role" in caught.value.message and caught.value.request_id.startswith("req_")
    with pytest.raises(anthropic.BadRequestError, match="temperature"):  # the SDK sends 2026-10-21
        client.messages.create(model="m", max_tokens=10, messages=ask("x"), extra_body={"temperature": 0.5})
    with pytest.raises(anthropic.RateLimitError):
        client.messages.create(model="m", max_tokens=10, messages=ask("x"),
                               extra_headers={"x-nbmessages-fault": "rate_limit"})
    with pytest.raises(anthropic.APIStatusError) as mid_stream:
        with client.messages.stream(model="m", max_tokens=200, messages=ask("x " * 30),
                                    extra_headers={"x-nbmessages-fault": "error_event"}) as stream:
            stream.get_final_message()
    assert "Overloaded" in str(mid_stream.value)


def test_openrouter_base_url(server):
    client = anthropic.Anthropic(api_key="test", base_url=server.openrouter_base_url, max_retries=0)
    message = client.messages.create(model="anthropic/claude-sonnet-4.6", max_tokens=100, messages=ask("hi"))
    assert message.provider == "Anthropic" and message.usage.cost > 0
