"""The request builder: Python values in, exactly the JSON body out."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Literal

import pytest
from pydantic import BaseModel

from nbmessages import (
    Message,
    Request,
    RequestValidationError,
    attachment,
    document,
    image,
    tool_from_function,
)

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 16
PDF = b"%PDF-1.4\n%fake\n"


def test_a_string_is_a_user_turn_and_unset_fields_are_omitted():
    req = Request(model="m", messages="Hello", max_tokens=10)
    assert req.to_body() == {"model": "m", "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 10}


def test_unknown_key_refused_unless_in_extra_body():
    with pytest.raises(RequestValidationError, match="temprature: unknown field; did you mean 'temperature'"):
        Request(model="m", messages="x", max_tokens=5, temprature=0.2)
    req = Request(model="m", messages="x", max_tokens=5, extra_body={"temprature": 0.2})
    assert req.to_body()["temprature"] == 0.2


def test_images_and_pdfs_from_path_bytes_and_url(tmp_path: Path):
    (tmp_path / "chart.png").write_bytes(PNG)
    (tmp_path / "paper.pdf").write_bytes(PDF)
    block = image(tmp_path / "chart.png")
    assert block["source"] == {"type": "base64", "media_type": "image/png", "data": base64.b64encode(PNG).decode()}
    assert attachment(PDF)["type"] == "document"
    assert attachment(str(tmp_path / "paper.pdf"))["source"]["media_type"] == "application/pdf"
    assert image("https://example.org/cat.jpg") == {"type": "image", "source": {"type": "url",
                                                                               "url": "https://example.org/cat.jpg"}}
    assert document("https://example.org/a.pdf")["type"] == "document"
    text_doc = document("The sky is blue.", title="Facts", citations=True)
    assert text_doc == {"type": "document", "source": {"type": "text", "media_type": "text/plain",
                                                       "data": "The sky is blue."},
                        "title": "Facts", "citations": {"enabled": True}}
    req = Request(model="m", max_tokens=5, messages=[{"role": "user", "content": ["Describe", tmp_path / "chart.png"]}])
    content = req.to_body()["messages"][0]["content"]
    assert content[0] == {"type": "text", "text": "Describe"} and content[1]["type"] == "image"


def test_attachment_errors_are_clear(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="no file at"):
        image(tmp_path / "missing.png")
    with pytest.raises(ValueError, match="media type"):
        attachment(b"\x00\x01 unknown bytes")


def test_function_becomes_tool_and_is_kept_for_the_tool_loop():
    def get_weather(city: str, unit: Literal["c", "f"] = "c", days: int = 1) -> str:
        """Get the weather forecast.

        Args:
            city: The city name.
            days: How many days ahead.
        """
        return "sunny"

    tool = tool_from_function(get_weather)
    assert tool["name"] == "get_weather" and tool["description"] == "Get the weather forecast."
    schema = tool["input_schema"]
    assert schema["type"] == "object" and schema["required"] == ["city"]
    assert schema["properties"]["city"] == {"type": "string", "description": "The city name."}
    assert schema["properties"]["unit"]["enum"] == ["c", "f"]
    req = Request(model="m", max_tokens=5, messages="weather?", tools=[get_weather])
    assert req.functions == {"get_weather": get_weather}
    assert req.to_body()["tools"] == [tool]


class Person(BaseModel):
    name: str
    age: int


def test_pydantic_model_becomes_json_schema_output_and_parses_back():
    req = Request(model="m", max_tokens=50, messages="who?", output_format=Person)
    fmt = req.to_body()["output_config"]["format"]
    assert fmt["type"] == "json_schema" and fmt["schema"]["additionalProperties"] is False
    message = Message.model_validate({"content": [{"type": "text", "text": '{"name": "Ada", "age": 36}'}]})
    assert req.parse(message) == Person(name="Ada", age=36)
    assert req.replace(temperature=0.1).output_type is Person


def test_messages_replay_assistant_turns():
    answer = Message.model_validate({"content": [
        {"type": "thinking", "thinking": "hm", "signature": "s1"},
        {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"a": 1}},
    ]})
    tool = {"name": "f", "input_schema": {"type": "object"}}
    req = Request(model="m", max_tokens=5, messages="go", tools=[tool])
    nxt = req.followed_by(answer, {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "done"}]})
    turns = nxt.to_body()["messages"]
    assert turns[1] == {"role": "assistant", "content": [
        {"type": "thinking", "thinking": "hm", "signature": "s1"},
        {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"a": 1}}]}
    assert turns[2]["content"][0]["tool_use_id"] == "toolu_1"


def test_validation_happens_at_construction():
    with pytest.raises(RequestValidationError) as info:
        Request(model="m", max_tokens=5, messages=[{"role": "user", "content": [
            {"type": "image", "source": {"type": "base64", "media_type": "image/bmp", "data": "aGk="}}]}])
    assert info.value.path == "messages[0].content[0].source.media_type"


def test_one_request_type_for_every_front_end():
    req = Request.of({"model": "m", "max_tokens": 5, "messages": "hi"}, temperature=0.3)
    assert isinstance(req, Request) and req.temperature == 0.3
    assert Request.of(req) is req


def test_with_prompt_is_the_request_a_full_build_gives_and_refuses_the_same():
    def tool(city: str) -> str:
        """Weather in a city."""
        return city

    options = dict(model="claude-sonnet-4-5", max_tokens=50, system="Be brief.", tools=[tool], temperature=0.2)
    template = Request(messages="x", **options)
    for text in ("What is 2 + 2?", "caf\u00e9 {braces} as written", "multi\nline"):
        filled, built = template.with_prompt(text), Request(messages=text, **options)
        assert filled.to_body() == built.to_body() and filled.functions.keys() == built.functions.keys()
    for text in ("", "   ", "caf\ud800e"):
        with pytest.raises(RequestValidationError) as filled_error:
            template.with_prompt(text)
        with pytest.raises(RequestValidationError) as built_error:
            Request(messages=text, **options)
        assert str(filled_error.value) == str(built_error.value) and "messages[0].content" in str(built_error.value)
