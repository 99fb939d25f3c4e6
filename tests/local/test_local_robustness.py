"""Robustness: many concurrent streams, clients that leave mid-stream, random and oversized bodies."""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
import time

import httpx
import pytest
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


# -- no 500 for any body; faults that keep their word; quiet disconnects; memory given back (issue 10 §8)


def _nested(levels: int, leaf: str) -> str:
    """JSON text of a schema ``levels`` objects deep (written out: json.dumps itself cannot go that deep)."""
    return '{"type": "object", "properties": {"a": ' * (levels // 2) + leaf + "}}" * (levels // 2)


def _with(field: str, text: str) -> bytes:
    return _raw(json.dumps(body("hi"))[:-1] + f', "{field}": {text}}}')


def _raw(text: str) -> bytes:
    return text.encode("utf-8")


NASTY = {
    "tool schema 900 levels deep": _with("tools", '[{"name": "f", "input_schema": '
                                         + _nested(900, '{"type": "string"}') + "}]"),
    "messages nested 5000 lists deep": _raw('{"model": "m", "max_tokens": 5, "messages": '
                                            + "[" * 5000 + "]" * 5000 + "}"),
    "metadata 900 levels deep": _with("metadata", _nested(900, "1")),
    "output schema 900 levels deep": _with("output_config", '{"format": {"type": "json_schema", "schema": '
                                           + _nested(900, '{"type": "string"}') + "}}"),
    "lone surrogate in text": _raw(json.dumps(body("hi"))[:-1].replace('"hi"', '"h\\ud800i"') + "}"),
    "lone surrogate in a key": _raw('{"model": "m", "max_tokens": 5, "\\udfff": 1, '
                                    '"messages": [{"role": "user", "content": "x"}]}'),
    "lone surrogate in the model": _raw('{"model": "\\ud800", "max_tokens": 5, '
                                        '"messages": [{"role": "user", "content": "x"}]}'),
    "huge max_tokens": json.dumps({**body("hi"), "max_tokens": 10**400}).encode(),
    "huge budget": json.dumps({**body("hi"), "max_tokens": 2000,
                               "thinking": {"type": "enabled", "budget_tokens": 10**400}}).encode(),
}


def test_no_body_gets_a_500(http, caplog):
    for name, content in NASTY.items():
        for path in ("/v1/messages", "/api/v1/messages", "/v1/messages/count_tokens"):
            for stream in (False, True):
                data = content.replace(b'"max_tokens"', b'"stream": true, "max_tokens"', 1) if stream else content
                response = http.post(path, content=data, headers={"content-type": "application/json"})
                assert response.status_code < 500, (name, path, response.text[:300])
                if response.status_code == 200:  # a huge max_tokens is only a big number: answered
                    continue
                error = response.json()["error"]
                assert error["type"] == "invalid_request_error" and "x-nbmessages-fault" not in error["message"], name
    assert "Traceback" not in caplog.text and "internal error" not in caplog.text


@pytest.mark.parametrize(("spec", "named"), [
    ("stall;after=nan", "after"), ("stall;after=-1", "after"), ("stall;after=1.5", "after"),
    ("server_error;times=nan", "times"), ("slow_start;seconds=inf", "seconds"), ("slow_start;seconds=-2", "seconds"),
    ("rate_limit;retry_after=nan", "retry_after"), ("stall;sceonds=2", "sceonds"),
])
def test_bad_fault_parameters_are_a_400_naming_the_parameter(http, spec, named):
    for stream in (False, True):
        response = http.post("/v1/messages", json={**body("x"), "stream": stream},
                             headers={"x-nbmessages-fault": spec})
        assert response.status_code == 400, response.text
        assert f"'{named}'" in response.json()["error"]["message"] and "x-nbmessages-fault" in response.text


def test_slow_start_delays_a_stream_but_never_cuts_it(http):
    response = http.post("/v1/messages", json={**body("a long answer please " * 10), "stream": True},
                         headers={"x-nbmessages-fault": "slow_start;seconds=0.2"})
    events = sse_events(response.text)
    assert len(events) > 10 and events[-1]["type"] == "message_stop"


def test_a_client_leaving_mid_upload_is_one_log_line(server, caplog):
    import logging
    import socket

    caplog.set_level(logging.DEBUG)
    host, port = server.base_url.removeprefix("http://").split(":")
    served = server.requests_served
    for _ in range(3):
        with socket.create_connection((host, int(port))) as sock:
            sock.sendall(b"POST /v1/messages HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
                         b"content-length: 100000\r\n\r\n" + b'{"model": "m", "messages": [' + b" " * 1000)
    deadline = time.monotonic() + 10
    while server.requests_served < served + 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    said = [r for r in caplog.records if r.name.startswith(("nbmessages", "uvicorn"))]
    assert "Traceback" not in caplog.text and not any(r.exc_info for r in said)
    assert sum("disconnected" in r.getMessage() for r in said) == 3


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) / 1024


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads the server's memory from /proc")
def test_memory_returns_close_to_the_start_after_200_concurrent_streams():
    process = subprocess.Popen([sys.executable, "-m", "nbmessages", "serve", "--pace", "150", "--ttft", "0"],
                               stdout=subprocess.PIPE, text=True)
    try:
        url = process.stdout.readline().split()[-1]
        with httpx.Client(base_url=url, timeout=30) as client:
            assert client.post("/v1/messages", json={**body("warm up"), "stream": True}).status_code == 200
        start_mb = _rss_mb(process.pid)

        async def many() -> None:
            limits = httpx.Limits(max_connections=250, max_keepalive_connections=250)
            async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:
                async def one(i: int) -> None:
                    response = await client.post("/v1/messages", json={**body(f"concurrent {i} " * 40),
                                                                        "stream": True})
                    assert sse_events(response.text)[-1]["type"] == "message_stop"

                await asyncio.gather(*(one(i) for i in range(200)))

        for _ in range(2):
            asyncio.run(many())
        assert _rss_mb(process.pid) < start_mb + 60, (start_mb, _rss_mb(process.pid))
    finally:
        process.terminate()
        process.wait(10)
