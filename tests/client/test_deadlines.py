"""Time limits a user can rely on: an idle limit between events, a total deadline, bounded retry waits."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import httpx
import pytest
from starlette.responses import JSONResponse, Response, StreamingResponse

from nbmessages import AsyncClient, Client
from nbmessages.client import errors
from nbmessages.client.deadlines import MAX_TOTAL_RETRY_WAIT, CallClock
from nbmessages.ledger.store import Ledger
from nbmessages.testing import message_events

HEAD = message_events([{"type": "text", "text": "Hello"}])[:3]  # message_start, block start, one delta


def frame(event: dict) -> bytes:
    return f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()


def streaming(tail) -> object:  # noqa: ANN001
    async def handler(request):
        async def body():
            for event in HEAD:
                yield frame(event)
            async for chunk in tail():
                yield chunk

        return StreamingResponse(body(), media_type="text/event-stream")

    return handler


async def drip():
    for byte in frame({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "x" * 500}}):
        await asyncio.sleep(0.1)
        yield bytes([byte])


async def pings():
    while True:
        await asyncio.sleep(0.1)
        yield frame({"type": "ping"})


def ask_stream(c: Client) -> None:
    with c.messages.stream(model="m", max_tokens=50, messages="hi") as s:
        s.get_final_message()


@pytest.mark.parametrize("tail", [drip, pings], ids=["dripped bytes", "only pings"])
def test_a_stream_that_only_trickles_hits_the_idle_limit(bad_server, tail, tmp_path: Path):
    bad_server.handler = streaming(tail)
    ledger = Ledger(tmp_path / "u.sqlite")
    c = Client(base_url=bad_server.base_url, timeout=1, max_retries=0, ledger=ledger)
    started = time.monotonic()
    with pytest.raises(errors.APITimeoutError) as info:
        ask_stream(c)
    assert time.monotonic() - started < 30
    assert isinstance(info.value, errors.StreamError) and info.value.partial_message.text == "Hello"
    assert "idle limit" in str(info.value)
    assert [r["outcome"] for r in ledger.rows()] == ["timeout"]


def test_the_async_client_has_the_same_idle_limit(bad_server):
    bad_server.handler = streaming(pings)

    async def main():
        async with AsyncClient(base_url=bad_server.base_url, timeout=1, max_retries=0, ledger=False) as c:
            async with c.messages.stream(model="m", max_tokens=50, messages="hi") as s:
                await s.get_final_message()

    with pytest.raises(errors.APITimeoutError) as info:
        asyncio.run(main())
    assert info.value.partial_message.text == "Hello"


def test_a_total_deadline_ends_a_stream_that_keeps_talking(slow_server):
    c = Client(base_url=slow_server.base_url, deadline=1.0, ledger=False)
    with pytest.raises(errors.APITimeoutError, match="deadline of 1 s") as info:
        with c.messages.stream(model="m", max_tokens=2000, messages="a long story please " * 30) as s:
            s.get_final_message()
    assert info.value.partial_message.text  # what arrived is kept


def test_a_dripped_whole_body_times_out_and_is_not_retried(bad_server, tmp_path: Path):
    async def handler(request):
        async def body():
            for byte in b'{"id": "msg_1", "type": "message", "content": []}':
                await asyncio.sleep(0.1)
                yield bytes([byte])

        return StreamingResponse(body(), media_type="application/json")

    bad_server.handler = handler
    bad_server.requests = 0
    ledger = Ledger(tmp_path / "u.sqlite")
    c = Client(base_url=bad_server.base_url, timeout=1, max_retries=3, ledger=ledger)
    with pytest.raises(errors.APITimeoutError):
        c.messages.create(model="m", max_tokens=5, messages="hi")
    assert bad_server.requests == 1
    assert [r["outcome"] for r in ledger.rows()] == ["timeout"]


@pytest.mark.parametrize("hint", [
    {"retry-after": "nan"}, {"retry-after-ms": "nan"}, {"retry-after": "-5"}, {"retry-after": "inf"},
    {"retry-after-ms": "-1e9"}, {"retry-after": "Thu, 01 Jan 99999 00:00:00 GMT"},
])
def test_bad_retry_hints_are_ignored(bad_server, hint):
    answers = [JSONResponse({"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}}, 429,
                            headers=hint),
               JSONResponse({"id": "msg_1", "type": "message", "role": "assistant", "content": []})]

    async def handler(request) -> Response:
        return answers.pop(0)

    bad_server.handler = handler
    c = Client(base_url=bad_server.base_url, max_retries=1, ledger=False)
    assert c.messages.create(model="m", max_tokens=5, messages="hi").id == "msg_1"


def test_huge_hints_are_capped_and_total_retry_time_is_bounded():
    from nbmessages.client.retries import MAX_RETRY_WAIT, retry_delay

    assert retry_delay(0, httpx.Headers({"retry-after": "86400"})) == MAX_RETRY_WAIT
    clock = CallClock(idle=None, deadline=None)
    clock.waiting(MAX_TOTAL_RETRY_WAIT - 10)
    assert clock.may_wait(5) and not clock.may_wait(MAX_RETRY_WAIT)


def test_no_retry_wait_past_the_deadline(bad_server):
    async def handler(request) -> Response:
        return JSONResponse({"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}, 529,
                            headers={"retry-after": "30"})

    bad_server.handler = handler
    c = Client(base_url=bad_server.base_url, max_retries=2, deadline=5, ledger=False)
    started = time.monotonic()
    with pytest.raises(errors.OverloadedError):
        c.messages.create(model="m", max_tokens=5, messages="hi")
    assert time.monotonic() - started < 20  # it did not sleep 30 s
