"""The wire types: validation names the field path and what is allowed; responses keep what servers add."""

from __future__ import annotations

import base64

import pytest

from nbmessages.types import MAX_ID_LENGTH, Message, RequestValidationError, parse_event, validate_params


def body(**kw):
    return {"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 100, **kw}


def problem(**kw) -> RequestValidationError:
    with pytest.raises(RequestValidationError) as info:
        validate_params(body(**kw))
    assert isinstance(info.value, ValueError)
    return info.value


PNG_1PX = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="


def image(media_type="image/png", data=PNG_1PX):
    return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}


def test_valid_body_round_trips_without_unset_fields():
    params = validate_params(body(temperature=0.5))
    assert params.to_dict() == body(temperature=0.5)


@pytest.mark.parametrize(
    ("kw", "path", "words"),
    [
        ({"temprature": 0.5}, "temprature", "did you mean 'temperature'"),
        ({"temperature": 1.5}, "temperature", "less than or equal to 1"),
        ({"top_p": -0.1}, "top_p", "greater than or equal to 0"),
        ({"top_k": 0}, "top_k", "greater than or equal to 1"),
        ({"max_tokens": -1}, "max_tokens", "greater than or equal to 0"),
        ({"user": "u" * (MAX_ID_LENGTH + 1)}, "user", f"at most {MAX_ID_LENGTH} characters"),
        ({"session_id": "s" * (MAX_ID_LENGTH + 1)}, "session_id", f"at most {MAX_ID_LENGTH} characters"),
        ({"service_tier": "turbo"}, "service_tier", "'auto'"),
        ({"output_config": {"effort": "huge"}}, "output_config.effort", "'low', 'medium'"),
        ({"cache_control": {"type": "ephemeral", "ttl": "2h"}}, "cache_control.ttl", "'5m' or '1h'"),
        ({"provider": {"sort": "cheapest"}}, "provider.sort", "'price'"),
        ({"provider": {"data_collection": "maybe"}}, "provider.data_collection", "'allow' or 'deny'"),
        ({"provider": {"quantizations": ["fp9"]}}, "provider.quantizations[0]", "'int4'"),
        ({"thinking": {"type": "enabled", "budget_tokens": 500}}, "thinking.budget_tokens", "1024"),
        ({"thinking": {"type": "enabled", "budget_tokens": 2000}}, "thinking.budget_tokens", "below max_tokens"),
        ({"thinking": {"type": "enabled", "budget_tokens": 1024, "display": "full"}}, "thinking.display", "'omitted'"),
        ({"stop_sequences": ["  "]}, "stop_sequences", "whitespace"),
        ({"models": ["a", ""]}, "models", "non-empty"),
        ({"models": ["a"], "fallbacks": [{"model": "b"}]}, "fallbacks", "cannot be combined"),
        ({"messages": []}, "messages", "at least 1"),
        ({"messages": [{"role": "bot", "content": "x"}]}, "messages[0].role", "'user', 'assistant' or 'system'"),
        ({"messages": [{"role": "user", "content": ""}]}, "messages[0].content", "must not be empty"),
        ({"messages": [{"role": "user", "content": [image("image/bmp")]}]},
         "messages[0].content[0].source.media_type", "'image/jpeg', 'image/png', 'image/gif' or 'image/webp'"),
        ({"messages": [{"role": "user", "content": [image(data="not base64!")]}]},
         "messages[0].content[0].source.data", "not valid base64"),
        ({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a "}]},
         "messages[1].content", "cannot end with whitespace"),
    ],
)
def test_bad_input_names_field_and_what_is_allowed(kw, path, words):
    err = problem(**kw)
    assert err.path == path
    assert words in str(err)


def test_deep_path_in_third_message():
    messages = [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": "a"},
        {"role": "user", "content": [{"type": "text", "text": "see"}, image("image/tiff")]},
    ]
    assert problem(messages=messages).path == "messages[2].content[1].source.media_type"


TOOL = {"name": "get_weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}


def test_tool_rules():
    assert problem(tools=[{**TOOL, "name": "get weather"}]).path == "tools[0].name"
    assert "duplicate" in str(problem(tools=[TOOL, TOOL]))
    assert problem(tools=[{**TOOL, "input_schema": {"type": "array"}}]).path == "tools[0].input_schema"
    err = problem(tools=[TOOL], tool_choice={"type": "tool", "name": "get_time"})
    assert err.path == "tool_choice.name" and "'get_weather'" in str(err)
    assert problem(tool_choice={"type": "any"}).path == "tool_choice"
    assert problem(tools=[TOOL], tool_choice={"type": "sometimes"}).path == "tool_choice"
    err = problem(tools=[TOOL], tool_choice={"type": "any"}, max_tokens=4000,
                  thinking={"type": "enabled", "budget_tokens": 2000})
    assert err.path == "tool_choice.type"


def test_server_tools_pass_through():
    tools = [TOOL, {"type": "web_search_20250305", "name": "web_search", "max_uses": 3},
             {"type": "openrouter:web_search", "parameters": {"engine": "exa"}}]
    assert validate_params(body(tools=tools)).to_dict()["tools"] == tools


def test_tool_result_must_answer_previous_tool_use():
    use = {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}
    messages = [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": [use]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_9", "content": "sunny"}]},
    ]
    err = problem(messages=messages, tools=[TOOL])
    assert err.path == "messages[2].content[0].tool_use_id" and "toolu_1" in str(err)
    messages[2]["content"][0]["tool_use_id"] = "toolu_1"
    validate_params(body(messages=messages, tools=[TOOL]))
    messages[2]["content"].insert(0, {"type": "text", "text": "here"})
    assert problem(messages=messages, tools=[TOOL]).path == "messages[2].content[1]"


def test_blocks_in_the_wrong_role():
    messages = [{"role": "assistant", "content": [image()]}]
    assert problem(messages=[{"role": "user", "content": "x"}, *messages]).path == "messages[1].content[0].type"


def test_too_many_cache_breakpoints():
    block = {"type": "text", "text": "x", "cache_control": {"type": "ephemeral"}}
    assert "at most 4" in str(problem(messages=[{"role": "user", "content": [block] * 5}]))


def test_unknown_request_block_types_pass_through():
    content = [{"type": "tool_addition", "tool": {"type": "tool_reference", "name": "x"}}]
    validate_params(body(model="claude-opus-4-8",
                         messages=[{"role": "system", "content": content}, {"role": "user", "content": "hi"}]))


def test_several_problems_are_all_listed():
    err = problem(temperature=3, top_k=0)
    assert {p for p, _ in err.problems} == {"temperature", "top_k"}


def test_response_keeps_unknown_fields_and_blocks():
    data = {
        "id": "msg_1", "type": "message", "role": "assistant", "model": "m", "stop_reason": "end_turn",
        "content": [{"type": "text", "text": "hi", "citations": None, "new_field": 1},
                    {"type": "hologram", "payload": [1, 2]}],
        "usage": {"input_tokens": 3, "output_tokens": 4, "cost": 0.5, "future_counter": 7},
        "provider": "Anthropic", "container": {"id": "c1", "expires_at": "2026-01-01T00:00:00Z"},
        "brand_new": True,
    }
    message = Message.model_validate(data)
    assert message.text == "hi" and message.provider == "Anthropic" and message.usage.cost == 0.5
    dumped = message.to_dict()
    assert dumped["content"][1] == {"type": "hologram", "payload": [1, 2]}
    assert dumped["content"][0]["new_field"] == 1 and dumped["brand_new"] is True
    assert dumped["usage"]["future_counter"] == 7
    assert message.to_param()["content"][0] == {"type": "text", "text": "hi", "new_field": 1}


def test_events_of_unknown_types_are_kept():
    event = parse_event({"type": "telemetry", "x": 1})
    assert event.type == "telemetry" and event.to_dict() == {"type": "telemetry", "x": 1}
    delta = parse_event({"type": "content_block_delta", "index": 0, "delta": {"type": "sparkle_delta", "s": 1}})
    assert delta.delta.type == "sparkle_delta"


# -- refused before sending, the field named, the allowed values said (issue 10 §5)

JPEG_1PX = base64.b64encode(b"\xff\xd8\xff\xe0" + b"\0" * 16).decode()
PDF_BYTES = base64.b64encode(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n").decode()
TEXT_AS_PDF = base64.b64encode(b"just some plain text, not a PDF at all").decode()


def user(*blocks):
    return [{"role": "user", "content": list(blocks)}]


def use(tool_id="toolu_1"):
    return {"type": "tool_use", "id": tool_id, "name": "f", "input": {}}


def result(tool_id="toolu_1"):
    return {"type": "tool_result", "tool_use_id": tool_id, "content": "ok"}


F_TOOL = {"name": "f", "input_schema": {"type": "object"}}

REFUSED = {
    "block type typo": ({"messages": user({"type": "txt", "text": "hi"})}, "messages[0].content[0].type",
                        "did you mean 'text'"),
    "unknown field on a block": ({"messages": user({"type": "text", "text": "hi", "colour": "red"})},
                                 "messages[0].content[0].colour", "allowed: type, cache_control, text"),
    "unknown field in a tool result's block": (
        {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": [use()]},
                      {"role": "user", "content": [{**result(), "content": [{"type": "text", "text": "a",
                                                                             "bogus": 1}]}]}]},
        "messages[2].content[0].content[0].bogus", "unknown field"),
    "assistant block type near miss": ({"messages": [{"role": "user", "content": "q"},
                                                     {"role": "assistant", "content": [{"type": "thinkng"}]}]},
                                       "messages[1].content[0].type", "did you mean 'thinking'"),
    "system turn on a model without them": ({"messages": [{"role": "system", "content": "be brief"},
                                                          {"role": "user", "content": "hi"}]},
                                            "messages[0].role", "top-level system"),
    "temperature with top_p on a 4.5 model": ({"temperature": 0.5, "top_p": 0.9}, "top_p", "only one"),
    "empty text block": ({"messages": user({"type": "text", "text": ""})}, "messages[0].content[0].text", "empty"),
    "whitespace text block": ({"messages": user({"type": "text", "text": " \n\t"})},
                              "messages[0].content[0].text", "whitespace"),
    "whitespace string content": ({"messages": [{"role": "user", "content": "   "}]}, "messages[0].content",
                                  "whitespace"),
    "whitespace system block": ({"system": [{"type": "text", "text": " "}]}, "system[0].text", "whitespace"),
    "PNG bytes labelled JPEG": ({"messages": user(image("image/jpeg"))}, "messages[0].content[0].source",
                                "image/png bytes"),
    "JPEG bytes labelled PNG": ({"messages": user(image("image/png", JPEG_1PX))}, "messages[0].content[0].source",
                                "image/jpeg bytes"),
    "a PDF that is plain text": ({"messages": user({"type": "document", "source": {
        "type": "base64", "media_type": "application/pdf", "data": TEXT_AS_PDF}})},
        "messages[0].content[0].source", "not application/pdf"),
    "unanswered tool_use": ({"tools": [F_TOOL], "messages": [
        {"role": "user", "content": "q"}, {"role": "assistant", "content": [use("toolu_1"), use("toolu_2")]},
        {"role": "user", "content": [result("toolu_1"), {"type": "text", "text": "and?"}]}]},
        "messages[2].content", "toolu_2"),
    "unanswered tool_use, string reply": ({"tools": [F_TOOL], "messages": [
        {"role": "user", "content": "q"}, {"role": "assistant", "content": [use()]},
        {"role": "user", "content": "never mind"}]}, "messages[2].content", "no tool_result"),
    "duplicate tool_use ids": ({"tools": [F_TOOL], "messages": [
        {"role": "user", "content": "q"}, {"role": "assistant", "content": [use(), use()]},
        {"role": "user", "content": [result()]}]}, "messages[1].content[1].id", "duplicate"),
    "two results for one use": ({"tools": [F_TOOL], "messages": [
        {"role": "user", "content": "q"}, {"role": "assistant", "content": [use()]},
        {"role": "user", "content": [result(), result()]}]}, "messages[2].content[1].tool_use_id", "second"),
    "tool schema that is not JSON Schema": ({"tools": [{"name": "f", "input_schema": {
        "type": "object", "properties": {"x": {"type": "strng"}}}}]},
        "tools[0].input_schema.properties.x.type", "not a valid JSON Schema"),
    "tool schema with a bad keyword value": ({"tools": [{"name": "f", "input_schema": {
        "type": "object", "required": "x"}}]}, "tools[0].input_schema.required", "not a valid JSON Schema"),
    "output schema that is not JSON Schema": ({"output_config": {"format": {"type": "json_schema", "schema": {
        "type": "object", "minProperties": -1}}}}, "output_config.format.schema.minProperties", "JSON Schema"),
    "bad cache_control ttl inside a text block": (
        {"messages": user({"type": "text", "text": "hi", "cache_control": {"type": "ephemeral", "ttl": "2h"}})},
        "messages[0].content[0].cache_control.ttl", "'5m' or '1h'"),
    "bad source type": ({"messages": user({"type": "image", "source": {"type": "zip"}})},
                        "messages[0].content[0].source", "'base64', 'url', 'file'"),
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_refused_before_sending_with_the_right_path(name):
    fields, path, said = REFUSED[name]
    err = problem(**fields)
    assert path in [p for p, _ in err.problems], err.problems
    assert said in dict(err.problems)[path], err.problems


ACCEPTED = {
    "new server block types replayed in an assistant turn": {"messages": [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": [{"type": "mcp_tool_use", "id": "m1", "name": "x", "input": {}, "new": 1},
                                          {"type": "text", "text": "done", "caller": {"type": "direct"}}]},
        {"role": "user", "content": "more"}]},
    "system turns on Opus 4.8": {"model": "claude-opus-4-8", "messages": [
        {"role": "user", "content": "hi"}, {"role": "system", "content": "now be brief"},
        {"role": "user", "content": "go"}]},
    "temperature with top_p on older and unknown models": {"model": "claude-3-5-sonnet-20241022", "temperature": 0.5,
                                                           "top_p": 0.9},
    "temperature with top_p on a non-Claude model": {"model": "openai/gpt-5", "temperature": 0.5, "top_p": 0.9},
    "matching media types": {"messages": user(image("image/png"), image("image/jpeg", JPEG_1PX), {
        "type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": PDF_BYTES}},
        {"type": "text", "text": "what are these?"})},
    "a final assistant tool_use (no next turn yet)": {"tools": [F_TOOL], "messages": [
        {"role": "user", "content": "q"}, {"role": "assistant", "content": [use()]}]},
    "a valid nested tool schema": {"tools": [{"name": "f", "input_schema": {
        "type": "object", "properties": {"x": {"type": "array", "items": {"$ref": "#/$defs/d"}}},
        "$defs": {"d": {"type": "string", "enum": ["a"]}}, "required": ["x"]}}]},
}


@pytest.mark.parametrize("name", list(ACCEPTED))
def test_still_accepted(name):
    validate_params(body(**ACCEPTED[name]))


def test_model_capabilities_are_one_table():
    from nbmessages.types.model_capabilities import capabilities

    assert not capabilities("claude-sonnet-4-5").temperature_with_top_p
    assert not capabilities("anthropic/claude-haiku-4.5").temperature_with_top_p
    assert capabilities("claude-sonnet-4-20250514").temperature_with_top_p
    assert capabilities("claude-opus-4-8").system_messages and not capabilities("claude-opus-4-7").system_messages
    assert capabilities("llama-3-70b").system_messages
