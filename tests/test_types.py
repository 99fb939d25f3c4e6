"""The wire types: validation names the field path and what is allowed; responses keep what servers add."""

from __future__ import annotations

import pytest

from nbmessages.types import MAX_ID_LENGTH, Message, RequestValidationError, parse_event, validate_params


def body(**kw):
    return {"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 100, **kw}


def problem(**kw) -> RequestValidationError:
    with pytest.raises(RequestValidationError) as info:
        validate_params(body(**kw))
    assert isinstance(info.value, ValueError)
    return info.value


def image(media_type="image/png", data="aGVsbG8="):
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
    validate_params(body(messages=[{"role": "system", "content": content}, {"role": "user", "content": "hi"}]))


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
