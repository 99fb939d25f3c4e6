"""The offline model over HTTP: answers that follow the request, tools, thinking, JSON, citations, limits, usage."""

from __future__ import annotations

import base64
import json

import jsonschema
import pytest
from local_fixtures import accumulate, body, sse_events, stream

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 2040).decode()
PDF = base64.b64encode(
    b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Kids [3 0 R] >>"
    b" endobj\n3 0 obj << /Type /Page >> endobj\n4 0 obj << >> stream\nBT (Revenue grew by 12 percent in 2025.)"
    b" Tj ET\nendstream endobj\n%%EOF"
).decode()
WEATHER = {"name": "get_weather", "description": "Weather for a city",
           "input_schema": {"type": "object", "properties": {"city": {"type": "string"},
                                                             "unit": {"type": "string", "enum": ["c", "f"]}},
                            "required": ["city"]}}
CLOCK = {"name": "get_time", "input_schema": {"type": "object", "properties": {"zone": {"type": "string"}}}}


def create(http, payload, path="/v1/messages", **kw):
    response = http.post(path, json=payload, **kw)
    assert response.status_code == 200, response.text
    return response.json()


def test_plain_answer_quotes_the_message_and_summarises_the_request(http):
    question = 'Parse {"a": [1, 2]} and this:\n```python\nprint("x")\n```\nthanks'
    payload = body(question, model="any-model/whatever", system="Be terse.", temperature=0.2,
                   stop_sequences=["NEVER-SEEN"])
    payload["messages"][0]["content"] = [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
        {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": PDF},
         "title": "Report"},
        {"type": "text", "text": question},
    ]
    message = create(http, payload)
    text = message["content"][0]["text"]
    assert message["model"] == "any-model/whatever"
    # quoted as a blockquote (prose wraps at words); a ``` inside stays inside the quote
    assert "\n".join(f"> {line}" if line.strip() else ">" for line in question.splitlines()) in text
    for expected in ("any-model/whatever", "Be terse.", "temperature=0.2", "max_tokens=1024", "image/png",
                     "2.0 KB", "application/pdf", '"Report"', "stop sequences: 1"):
        assert expected in text, expected
    assert message["stop_reason"] == "end_turn" and message["content"][0]["citations"] is None


def test_same_request_same_bytes_and_ids_from_the_body(http):
    first = http.post("/v1/messages", json=body("determinism"))
    second = http.post("/v1/messages", json=body("determinism"))
    assert first.content == second.content
    assert first.headers["request-id"] != second.headers["request-id"]
    other = http.post("/v1/messages", json=body("something else"))
    assert first.json()["id"].startswith("msg_01") and other.json()["id"] != first.json()["id"]
    streamed = [stream(http, body("determinism")).content for _ in range(2)]
    assert streamed[0] == streamed[1]


@pytest.mark.parametrize(("prompt", "choice", "expected"), [
    ("What's the weather in Paris?", None, ["get_weather"]),
    ("Use get_time and get_weather for Paris", None, ["get_time", "get_weather"]),
    ("Use get_time and get_weather for Paris", {"type": "auto", "disable_parallel_tool_use": True}, ["get_time"]),
    ("Anything", {"type": "any"}, ["get_weather"]),
    ("Use get_weather", {"type": "tool", "name": "get_time"}, ["get_time"]),
    ("Use get_weather", {"type": "none"}, []),
])
def test_tool_choice(http, prompt, choice, expected):
    payload = body(prompt, tools=[WEATHER, CLOCK], **({"tool_choice": choice} if choice else {}))
    message = create(http, payload)
    calls = [b for b in message["content"] if b["type"] == "tool_use"]
    assert sorted(c["name"] for c in calls) == sorted(expected)
    assert message["stop_reason"] == ("tool_use" if expected else "end_turn")
    assert len({c["id"] for c in calls}) == len(calls) and all(c["id"].startswith("toolu_01") for c in calls)


def test_tool_arguments_satisfy_the_schema_and_prefer_the_prompt(http):
    schema = {
        "type": "object",
        "properties": {
            "city": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            "days": {"type": "integer", "minimum": 1, "maximum": 14}, "when": {"type": "string", "format": "date"},
            "code": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{2}$"},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2, "uniqueItems": True},
            "options": {"type": "object", "properties": {"detail": {"type": "boolean"},
                                                         "ratio": {"type": "number", "exclusiveMinimum": 0,
                                                                   "maximum": 1}},
                        "required": ["ratio"], "additionalProperties": False},
            "mode": {"type": "string", "default": "fast"}, "place": {"$ref": "#/$defs/place"},
            "maybe": {"anyOf": [{"type": "null"}, {"type": "integer", "multipleOf": 5, "minimum": 7}]},
        },
        "required": ["city", "unit", "days", "code", "tags", "options", "place"],
        "$defs": {"place": {"type": "object", "properties": {"lat": {"type": "number"}}, "required": ["lat"]}},
    }
    tool = {"name": "forecast", "input_schema": schema}
    message = create(http, body("forecast for Lyon in fahrenheit for 5 days", tools=[tool]))
    arguments = message["content"][-1]["input"]
    jsonschema.validate(arguments, schema)
    assert arguments["city"] == "Lyon" and arguments["unit"] == "fahrenheit" and arguments["days"] == 5
    assert arguments["mode"] == "fast"


def test_after_a_tool_result_it_answers_with_the_result(http):
    first = create(http, body("Weather in Paris?", tools=[WEATHER]))
    call = first["content"][-1]
    follow = body("Weather in Paris?", tools=[WEATHER])
    follow["messages"] += [{"role": "assistant", "content": first["content"]},
                           {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call["id"],
                                                         "content": '{"temp": "18°C"}'}]}]
    message = create(http, follow)
    assert message["stop_reason"] == "end_turn"
    assert "`get_weather` returned" in message["content"][0]["text"]
    assert '{"temp": "18°C"}' in message["content"][0]["text"]


@pytest.mark.parametrize("thinking", [{"type": "enabled", "budget_tokens": 1024}, {"type": "adaptive"}])
def test_thinking_streams_a_signed_block_first(http, thinking):
    events = sse_events(stream(http, body("Think about 17 x 23", max_tokens=4000, thinking=thinking)).text)
    message = accumulate(events)
    block = message["content"][0]
    assert block["type"] == "thinking" and block["thinking"] and block["signature"]
    assert message["content"][1]["type"] == "text"
    deltas = [e for e in events if e["type"] in ("content_block_delta", "content_block_stop") and e["index"] == 0]
    assert deltas[-2]["delta"]["type"] == "signature_delta" and deltas[-1]["type"] == "content_block_stop"
    assert message["usage"]["output_tokens_details"]["thinking_tokens"] > 0


def test_thinking_display_omitted_gives_empty_text_with_signature(http):
    message = create(http, body("hi", thinking={"type": "adaptive", "display": "omitted"}))
    assert message["content"][0] == {"type": "thinking", "thinking": "", "signature": message["content"][0]["signature"]}
    assert message["content"][0]["signature"]


def test_json_output_is_valid_against_the_schema(http):
    schema = {"type": "object", "properties": {
        "name": {"type": "string"}, "age": {"type": "integer", "minimum": 0},
        "emails": {"type": "array", "items": {"type": "string", "format": "email"}},
        "role": {"enum": ["admin", "user"]}}, "required": ["name", "age", "emails", "role"],
        "additionalProperties": False}
    payload = body('Extract: name "Ada Lovelace", age 36, she is an admin',
                   output_config={"format": {"type": "json_schema", "schema": schema}})
    for message in (create(http, payload), accumulate(sse_events(stream(http, payload).text))):
        value = json.loads(message["content"][0]["text"])
        jsonschema.validate(value, schema)
        assert value["name"] == "Ada Lovelace" and value["age"] == 36 and value["role"] == "admin"


def _docs() -> list[dict]:
    enabled = {"enabled": True}
    return [
        {"type": "document", "source": {"type": "text", "media_type": "text/plain",
                                        "data": "The grass is green. The sky is blue today."},
         "title": "Colours", "citations": enabled},
        {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": PDF},
         "title": "Annual report", "citations": enabled},
        {"type": "document", "source": {"type": "content", "content": [{"type": "text", "text": "First block."},
                                                                       {"type": "text", "text": "Sky facts."}]},
         "citations": enabled},
    ]


def test_citations_in_both_shapes(http):
    payload = body("x")
    payload["messages"][0]["content"] = [*_docs(), {"type": "text", "text": "What colour is the sky?"}]
    whole = create(http, payload)
    events = sse_events(stream(http, payload).text)
    assert any(e.get("delta", {}).get("type") == "citations_delta" for e in events)
    streamed = accumulate(events)
    for message in (whole, streamed):
        citations = [c for b in message["content"] if b["type"] == "text" for c in (b.get("citations") or [])]
        kinds = {c["type"]: c for c in citations}
        assert set(kinds) == {"char_location", "page_location", "content_block_location"}
        char = kinds["char_location"]
        source = payload["messages"][0]["content"][0]["source"]["data"]
        assert char["cited_text"] == "The sky is blue today." == source[char["start_char_index"]:char["end_char_index"]]
        assert kinds["page_location"]["cited_text"] == "Revenue grew by 12 percent in 2025."
        assert kinds["page_location"]["document_index"] == 1 and kinds["page_location"]["start_page_number"] == 1
        assert kinds["content_block_location"]["start_block_index"] == 1
    assert whole["content"] == streamed["content"]


def test_max_tokens_cuts_the_answer(http):
    message = create(http, body("Tell me a long story", max_tokens=7))
    assert message["stop_reason"] == "max_tokens" and message["usage"]["output_tokens"] == 7
    assert len(message["content"][0]["text"]) < 60
    assert create(http, body("prewarm", max_tokens=0))["content"] == []


def test_stop_sequence_stops_before_it(http):
    message = create(http, body("alpha beta STOPHERE gamma", stop_sequences=["STOPHERE", "gamma"]))
    assert message["stop_reason"] == "stop_sequence" and message["stop_sequence"] == "STOPHERE"
    assert message["content"][0]["text"].endswith("alpha beta ")
    streamed = accumulate(sse_events(stream(http, body("alpha beta STOPHERE gamma",
                                                       stop_sequences=["STOPHERE"])).text))
    assert streamed["stop_sequence"] == "STOPHERE" and streamed["content"] == message["content"]


def test_usage_matches_count_tokens_and_output_text(http):
    from nbmessages.local.tokens import count_text

    payload = body("How many tokens, exactly?", system="You count.", tools=[WEATHER], tool_choice={"type": "none"})
    counted = http.post("/v1/messages/count_tokens", json={k: v for k, v in payload.items() if k != "max_tokens"})
    message = create(http, payload)
    assert counted.json() == {"input_tokens": message["usage"]["input_tokens"]}
    assert message["usage"]["output_tokens"] == count_text(message["content"][0]["text"])
    assert message["usage"]["service_tier"] == "standard"


def test_prompt_cache_write_then_read(http):
    system = [{"type": "text", "text": "A long and stable system prompt. " * 40, "cache_control": {"type": "ephemeral"}}]
    first = create(http, body("cache me", system=system, model="cache-test-1"))["usage"]
    second = create(http, body("cache me again", system=system, model="cache-test-1"))["usage"]
    assert first["cache_creation_input_tokens"] > 0 and first["cache_read_input_tokens"] == 0
    assert first["cache_creation"]["ephemeral_5m_input_tokens"] == first["cache_creation_input_tokens"]
    assert second["cache_read_input_tokens"] == first["cache_creation_input_tokens"]
    assert second["cache_creation_input_tokens"] == 0
    counted = http.post("/v1/messages/count_tokens", json={"model": "cache-test-1", "system": system,
                                                           "messages": body("cache me again")["messages"]})
    assert counted.json()["input_tokens"] == second["input_tokens"] + second["cache_read_input_tokens"]


def test_automatic_caching_with_1h_ttl(http):
    conversation = body("first turn " * 30, model="cache-test-2", cache_control={"type": "ephemeral", "ttl": "1h"})
    first = create(http, conversation)
    assert first["usage"]["cache_creation"]["ephemeral_1h_input_tokens"] == first["usage"]["cache_creation_input_tokens"] > 0
    conversation["messages"] += [{"role": "assistant", "content": "ok"}, {"role": "user", "content": "second"}]
    second = create(http, conversation)["usage"]
    assert second["cache_read_input_tokens"] == first["usage"]["cache_creation_input_tokens"]
    assert second["cache_creation_input_tokens"] > 0 and second["input_tokens"] == 0


def test_openrouter_path_adds_provider_and_cost(http):
    payload = body("hi", model="anthropic/claude-sonnet-4.6")
    del payload["max_tokens"]  # optional on OpenRouter
    response = http.post("/api/v1/messages", json=payload)
    message = response.json()
    assert response.headers["x-generation-id"].startswith("gen-")
    assert message["provider"] == "Anthropic" and message["usage"]["is_byok"] is False
    assert message["usage"]["cost"] > 0
    unknown = http.post("/api/v1/messages", json=body("hi", model="someone/unknown-model")).json()
    assert unknown["provider"] == "nbmessages-local" and "cost" not in unknown["usage"]
    started = sse_events(stream(http, payload, path="/api/v1/messages").text)[0]
    assert started["message"]["provider"] == "Anthropic"
    assert "provider" not in http.post("/v1/messages", json=body("hi")).json()


def test_openrouter_cost_counts_cache_reads_as_input(http):
    from genai_prices import Usage, calc_price

    system = [{"type": "text", "text": "Cached system prompt words. " * 50, "cache_control": {"type": "ephemeral"}}]
    payload = body("hi", model="anthropic/claude-sonnet-4.6", system=system)
    http.post("/api/v1/messages", json=payload)
    usage = http.post("/api/v1/messages", json=payload).json()["usage"]
    assert usage["cache_read_input_tokens"] > 0
    total = usage["input_tokens"] + usage["cache_read_input_tokens"] + usage["cache_creation_input_tokens"]
    price = calc_price(Usage(input_tokens=total, output_tokens=usage["output_tokens"],
                             cache_read_tokens=usage["cache_read_input_tokens"], cache_write_tokens=0),
                       model_ref="anthropic/claude-sonnet-4.6", provider_id="openrouter")
    assert usage["cost"] == pytest.approx(float(price.total_price))
