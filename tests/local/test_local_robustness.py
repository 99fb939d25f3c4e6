"""Robustness: many concurrent streams, clients that leave mid-stream, random and oversized bodies."""

from __future__ import annotations

import asyncio
import json
import random
import time

import httpx
from local_fixtures import body, sse_events

from nbmessages.local import start


def test_200_concurrent_streams(server):
    async def one(client: httpx.AsyncClient, i: int) -> str:
        response = await client.post("/v1/messages", json={**body(f"concurrent {i} " * 20), "stream": True})
        assert response.status_code == 200
        return response.text

    async def all_of_them() -> list[str]:
        limits = httpx.Limits(max_connections=250, max_keepalive_connections=250)
        async with httpx.AsyncClient(base_url=server.base_url, limits=limits, timeout=30) as client:
            return await asyncio.gather(*(one(client, i) for i in range(200)))

    texts = asyncio.run(all_of_them())
    assert all(sse_events(t)[-1]["type"] == "message_stop" for t in texts)
    assert len({sse_events(t)[0]["message"]["id"] for t in texts}) == 200
    assert server.active_streams == 0


def test_client_leaving_mid_stream_leaves_no_stream_running(server):
    slow = {"x-nbmessages-pace": "20", "x-nbmessages-ttft": "0"}
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        for _ in range(3):
            with client.stream("POST", "/v1/messages", json={**body("long " * 200), "stream": True},
                               headers=slow) as response:
                lines = response.iter_lines()
                assert any(line.startswith("event: content_block_delta") for line in lines)
                assert server.active_streams >= 1
            # leaving the block closes the connection mid-stream
    deadline = time.monotonic() + 3
    while server.active_streams and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.active_streams == 0


def _random_json(rng: random.Random, depth: int = 0):
    kind = rng.randrange(8 if depth < 4 else 5)
    if kind == 0:
        return rng.choice([None, True, False])
    if kind == 1:
        return rng.randint(-10**6, 10**6)
    if kind == 2:
        return rng.random() * 1e6
    if kind in (3, 4):
        return "".join(chr(rng.randrange(32, 0x2FF)) for _ in range(rng.randrange(12)))
    if kind == 5:
        return [_random_json(rng, depth + 1) for _ in range(rng.randrange(4))]
    keys = ["model", "messages", "max_tokens", "role", "content", "type", "text", "tools", "stream", "system",
            "thinking", "tool_choice", "source", "cache_control", "name", "input_schema", "x"]
    return {rng.choice(keys): _random_json(rng, depth + 1) for _ in range(rng.randrange(5))}


def _mutated(rng: random.Random) -> dict:
    payload = body("fuzz", tools=[{"name": "t", "input_schema": {"type": "object"}}])
    target = payload
    for _ in range(rng.randrange(1, 3)):
        key = rng.choice([*target.keys()]) if isinstance(target, dict) and target else None
        if key is None:
            break
        if rng.random() < 0.5 and isinstance(target[key], (dict, list)) and target[key]:
            inner = target[key]
            target = inner if isinstance(inner, dict) else inner[0] if isinstance(inner[0], dict) else target
            continue
        target[key] = _random_json(rng)
    return payload


def test_random_and_oversized_bodies_get_json_errors():
    rng = random.Random(1234)
    with start(pace=0, ttft=0, max_body_size=64 * 1024) as fuzzed, \
            httpx.Client(base_url=fuzzed.base_url, timeout=10) as client:
        statuses = []
        for i in range(300):
            if i % 3 == 0:
                content = bytes(rng.randrange(256) for _ in range(rng.randrange(200)))
            elif i % 3 == 1:
                content = json.dumps(_random_json(rng)).encode()
            else:
                content = json.dumps(_mutated(rng)).encode()
            if i % 50 == 0:
                content = b'{"model": "m", "pad": "' + b"x" * (70 * 1024) + b'"}'
            response = client.post(rng.choice(["/v1/messages", "/api/v1/messages", "/v1/messages/count_tokens"]),
                                   content=content, headers={"content-type": "application/json"})
            statuses.append(response.status_code)
            if response.status_code != 200:
                data = response.json()
                assert 400 <= response.status_code < 500, (content[:200], response.text)
                assert data["type"] == "error" and data["error"]["type"] and data["error"]["message"]
        assert statuses.count(413) == 6 and statuses.count(400) > 200
        assert client.post("/v1/messages", json=body("still fine")).status_code == 200
        assert fuzzed.running
