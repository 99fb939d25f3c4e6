"""Wire protocol of the local server: stream event order (spec §4), errors (spec §5), headers, pacing."""

from __future__ import annotations

import time

import httpx
import pytest
from local_fixtures import accumulate, body, error_of, sse_events, stream

from nbmessages.local import start
from nbmessages.local.tokens import count_text

TOOL = {"name": "lookup", "input_schema": {"type": "object", "properties": {
    "query": {"type": "string"}, "limit": {"type": "integer"}, "filters": {"type": "array", "items": {"type": "string"}}},
    "required": ["query", "limit", "filters"]}}


def test_stream_follows_the_spec_order(http):
    response = stream(http, body("Please lookup the capital of France", tools=[TOOL], thinking={"type": "adaptive"}))
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response.text)
    assert all(e["_event"] == e["type"] for e in events)
    start_event = events[0]
    assert start_event["type"] == "message_start" and events[1]["type"] == "ping"
    started = start_event["message"]
    assert started["content"] == [] and started["stop_reason"] is None and started["stop_sequence"] is None
    assert started["usage"]["output_tokens"] == 1 and started["usage"]["input_tokens"] > 0
    assert "cache_read_input_tokens" in started["usage"]
    assert [e["type"] for e in events[-2:]] == ["message_delta", "message_stop"]
    content = [e for e in events if e["type"].startswith("content_block")]
    open_index = None
    seen = []
    for event in content:  # start, deltas, stop per block; indices 0, 1, 2 ...
        if event["type"] == "content_block_start":
            assert open_index is None and event["index"] == len(seen)
            open_index = event["index"]
            seen.append(event["content_block"]["type"])
        else:
            assert event["index"] == open_index
            if event["type"] == "content_block_stop":
                open_index = None
    assert seen == ["thinking", "text", "tool_use"]
    final = events[-2]
    assert final["delta"]["stop_reason"] == "tool_use" and final["usage"]["output_tokens"] > 1
    assert final["usage"]["input_tokens"] == started["usage"]["input_tokens"]


def test_deltas_are_small_and_the_stream_equals_the_whole_message(http):
    payload = body("Please lookup the capital of France", tools=[TOOL])
    events = sse_events(stream(http, payload).text)
    texts = [e["delta"]["text"] for e in events if e.get("delta", {}).get("type") == "text_delta"]
    assert len(texts) > 3 and all(1 <= count_text(t) <= 3 for t in texts)
    parts = [e["delta"]["partial_json"] for e in events if e.get("delta", {}).get("type") == "input_json_delta"]
    assert parts[0] == "" and len(parts) >= 3
    streamed = accumulate(events)
    whole = http.post("/v1/messages", json=payload).json()
    assert streamed == whole


def test_pings_recur_in_long_streams(http):
    events = sse_events(stream(http, body("word " * 400)).text)
    pings = [i for i, e in enumerate(events) if e["type"] == "ping"]
    assert pings[0] == 1 and len(pings) > 3


def test_pace_and_ttft_headers(http):
    payload = body("timing", max_tokens=30)
    began = time.perf_counter()
    with http.stream("POST", "/v1/messages", json={**payload, "stream": True},
                     headers={"x-nbmessages-pace": "150", "x-nbmessages-ttft": "0.3"}) as response:
        first_at = None
        for line in response.iter_lines():
            if first_at is None and line.startswith("data:"):
                first_at = time.perf_counter() - began
    total = time.perf_counter() - began
    assert first_at >= 0.25
    assert total >= 0.3 + 30 / 150 * 0.8  # 30 output tokens at 150/s after the ttft
    began = time.perf_counter()
    http.post("/v1/messages", json=payload, headers={"x-nbmessages-ttft": "0.2", "x-nbmessages-pace": "0"})
    assert time.perf_counter() - began >= 0.2
    bad = http.post("/v1/messages", json=payload, headers={"x-nbmessages-pace": "fast"})
    assert bad.status_code == 400 and "x-nbmessages-pace" in error_of(bad)["message"]


def test_default_pace_is_realistic():
    with start() as slow, httpx.Client(base_url=slow.base_url) as client:
        began = time.perf_counter()
        events = sse_events(client.post("/v1/messages", json={**body("hi", max_tokens=60), "stream": True}).text)
        took = time.perf_counter() - began
    assert events[-1]["type"] == "message_stop"
    assert took > 0.3 + 0.6 * 60 / 150  # the default ttft and pace apply


@pytest.mark.parametrize(("payload", "field"), [
    ({"model": "m", "max_tokens": 5, "messages": [{"role": "bot", "content": "x"}]}, "messages[0].role"),
    ({"model": "m", "max_tokens": 5, "messages": []}, "messages"),
    ({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}], "tempurature": 1}, "tempurature"),
    ({"model": "m", "max_tokens": "many", "messages": [{"role": "user", "content": "x"}]}, "max_tokens"),
    ({"model": "m", "messages": [{"role": "user", "content": "x"}]}, "max_tokens: is required"),
    ({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}], "models": ["a"]}, "models"),
    ({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/bmp", "data": "AAAA"}}]}]},
     "messages[0].content[0].source.media_type"),
])
def test_validation_errors_name_the_field(http, payload, field):
    response = http.post("/v1/messages", json=payload)
    assert response.status_code == 400
    error = error_of(response)
    assert error["type"] == "invalid_request_error" and field in error["message"]
    assert response.json()["request_id"] == response.headers["request-id"]


def test_max_tokens_optional_on_openrouter_and_sampling_by_version(http):
    payload = {"model": "m", "messages": [{"role": "user", "content": "x"}], "temperature": 0.3}
    assert http.post("/api/v1/messages", json=payload).status_code == 200
    full = {**payload, "max_tokens": 10}
    assert http.post("/v1/messages", json=full).status_code == 200  # 2023-06-01 by default
    old = http.post("/v1/messages", json=full, headers={"anthropic-version": "2023-06-01"})
    assert old.status_code == 200
    new = http.post("/v1/messages", json=full, headers={"anthropic-version": "2026-10-21"})
    assert new.status_code == 400 and "temperature" in error_of(new)["message"]
    assert http.post("/api/v1/messages", json=full, headers={"anthropic-version": "2026-10-21"}).status_code == 200
    odd = http.post("/v1/messages", json=full, headers={"anthropic-version": "2024-01-01"})
    assert odd.status_code == 400 and "anthropic-version" in error_of(odd)["message"]
    citing = body("x")
    citing["messages"][0]["content"] = [{"type": "text", "text": "x", "citations": [{"type": "char_location"}]}]
    refused = http.post("/v1/messages", json=citing, headers={"anthropic-version": "2026-10-21"})
    assert "messages[0].content[0].citations" in error_of(refused)["message"]


@pytest.mark.parametrize(("content", "words"), [
    (b"{not json", "not valid JSON"), (b"[1, 2]", "JSON object"), (b'"text"', "JSON object"), (b"", "empty"),
    (b'{"a": NaN}', "not valid JSON"), (b"\xff\xfe", "not valid JSON"),
])
def test_bodies_that_are_not_json_objects(http, content, words):
    response = http.post("/v1/messages", content=content, headers={"content-type": "application/json"})
    assert response.status_code == 400 and words in error_of(response)["message"]


def test_unknown_routes_and_methods(http):
    missing = http.post("/v1/complete", json={})
    assert missing.status_code == 404 and error_of(missing)["type"] == "not_found_error"
    wrong = http.get("/v1/messages")
    assert wrong.status_code == 405 and error_of(wrong)["type"] == "invalid_request_error"
    assert "POST" in wrong.headers["allow"]
    assert http.delete("/api/v1/models").status_code == 405
    for response in (missing, wrong):
        assert response.headers["request-id"].startswith("req_")


def test_request_ids_on_every_response(http):
    for path in ("/v1/models", "/api/v1/models"):
        response = http.get(path)
        assert response.status_code == 200 and response.headers["request-id"].startswith("req_")
        assert response.json()["data"]
    assert http.get("/api/v1/models").headers["x-generation-id"].startswith("gen-")
    assert "x-generation-id" not in http.get("/v1/models").headers
    assert stream(http, body("x")).headers["request-id"].startswith("req_")
    bad = http.post("/api/v1/messages", content=b"nope")
    assert bad.headers["x-generation-id"].startswith("gen-") and bad.json()["request_id"].startswith("gen-")


def test_count_tokens_endpoint(http):
    payload = {"model": "m", "messages": [{"role": "user", "content": "one two three"}]}
    for path in ("/v1/messages/count_tokens", "/api/v1/messages/count_tokens"):
        assert http.post(path, json=payload).json() == {"input_tokens": 3 + 3 + 3}
    refused = http.post("/v1/messages/count_tokens", json={**payload, "max_tokens": 5})
    assert refused.status_code == 400 and "max_tokens" in error_of(refused)["message"]


def test_auth_with_a_key():
    with start(pace=0, ttft=0, key="sk-local") as secured, httpx.Client(base_url=secured.base_url) as client:
        payload = body("x")
        denied = client.post("/v1/messages", json=payload)
        assert denied.status_code == 401 and error_of(denied)["type"] == "authentication_error"
        wrong = client.post("/v1/messages", json=payload, headers={"x-api-key": "nope"})
        assert wrong.status_code == 401
        assert client.post("/v1/messages", json=payload, headers={"x-api-key": "sk-local"}).status_code == 200
        bearer = {"authorization": "Bearer sk-local"}
        assert client.post("/api/v1/messages", json=payload, headers=bearer).status_code == 200
        assert client.get("/v1/models").status_code == 401


def test_body_size_limit():
    with start(pace=0, ttft=0, max_body_size=2000) as small, httpx.Client(base_url=small.base_url) as client:
        big = client.post("/v1/messages", json=body("x" * 5000))
        assert big.status_code == 413 and error_of(big)["type"] == "request_too_large"
        assert client.post("/v1/messages", json=body("small")).status_code == 200


def test_default_limit_is_32_mb(http):
    payload = body("x" * (32 * 1024 * 1024 + 10))
    response = http.post("/v1/messages", json=payload)
    assert response.status_code == 413 and error_of(response)["type"] == "request_too_large"
