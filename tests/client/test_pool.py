"""A pool of ours sends straight into its transport, and the client around it behaves as with httpx.AsyncClient:
the same answers, errors, retries, timeouts, records and cassettes; ``on_response`` sees every response."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from httpx_aiohttp import AiohttpTransport
from starlette.responses import JSONResponse, Response

from nbmessages import AsyncClient
from nbmessages.client import errors
from nbmessages.client.pool import DirectPool
from nbmessages.ledger.store import Ledger

TRANSPORTS: dict[str, Callable[[], httpx.AsyncBaseTransport]] = {
    "aiohttp": AiohttpTransport, "httpcore": httpx.AsyncHTTPTransport}


@pytest.fixture(params=list(TRANSPORTS))
def transport(request: pytest.FixtureRequest) -> Callable[[], httpx.AsyncBaseTransport]:
    return TRANSPORTS[request.param]


def client(base_url: str, transport: Callable[[], httpx.AsyncBaseTransport], seen: list[httpx.Response],
           timeout: float = 30.0, **options: object) -> AsyncClient:
    pool = DirectPool(transport(), httpx.Timeout(timeout), seen.append)
    return AsyncClient(base_url=base_url, api_key="sk-ant-pool-test", http_client=pool, **options)  # type: ignore[arg-type]


def test_answers_streams_and_records_through_the_pool(server, transport, tmp_path: Path):
    seen: list[httpx.Response] = []
    ledger = Ledger(tmp_path / "u.sqlite")

    async def main() -> tuple[str, str]:
        async with client(server.base_url, transport, seen, ledger=ledger) as c:
            message = await c.messages.create(model="claude-haiku-4-5", max_tokens=30, messages="hello pool")
            async with c.messages.stream(model="claude-haiku-4-5", max_tokens=30, messages="stream it") as s:
                streamed = await s.get_final_message()
            return message.text, streamed.text

    text, streamed = asyncio.run(main())
    assert text and streamed
    ledger.flush()
    rows = ledger.connection.execute("SELECT outcome, request_id FROM calls").fetchall()
    assert [r[0] for r in rows] == ["ok", "ok"]
    assert [r[1] for r in rows] == [r.headers["request-id"] for r in seen] and all(r[1] for r in rows)


def test_errors_and_retries_are_the_clients(bad_server, transport):
    answers = iter([JSONResponse({"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}, 529,
                                 headers={"retry-after": "0"}),
                    JSONResponse({"type": "error", "error": {"type": "invalid_request_error", "message": "bad x"}},
                                 400)])

    async def handler(request) -> Response:  # noqa: ANN001
        return next(answers)

    bad_server.handler = handler
    seen: list[httpx.Response] = []

    async def main() -> None:
        async with client(bad_server.base_url, transport, seen, ledger=False) as c:
            await c.messages.create(model="m", max_tokens=5, messages="hi")

    with pytest.raises(errors.BadRequestError, match="bad x") as caught:
        asyncio.run(main())
    assert caught.value.retries == 1  # type: ignore[attr-defined]
    assert [r.status_code for r in seen] == [529, 400]


def test_the_pools_timeout_applies(bad_server, transport):
    async def handler(request) -> Response:  # noqa: ANN001
        await asyncio.sleep(3)
        return JSONResponse({})

    bad_server.handler = handler

    async def main() -> None:
        async with client(bad_server.base_url, transport, [], timeout=0.3, ledger=False, max_retries=0) as c:
            await c.messages.create(model="m", max_tokens=5, messages="hi")

    with pytest.raises(errors.APITimeoutError):
        asyncio.run(main())


def test_a_recording_client_records_through_the_pool(server, tmp_path: Path):
    cassette = tmp_path / "calls.json"

    async def main() -> None:
        async with client(server.base_url, AiohttpTransport, [], ledger=False, record=cassette) as c:
            await c.messages.create(model="claude-haiku-4-5", max_tokens=30, messages="record me")

    asyncio.run(main())
    saved = json.loads(cassette.read_text())
    assert len(saved) == 1 and "pool-test" not in cassette.read_text()


def test_a_closed_pool_refuses_to_send(server):
    async def main() -> None:
        pool = DirectPool(httpx.AsyncHTTPTransport(), httpx.Timeout(5))
        await pool.aclose()
        await pool.send(httpx.Request("GET", server.base_url + "/v1/models"))

    with pytest.raises(RuntimeError, match="closed"):
        asyncio.run(main())


def test_clients_share_one_ssl_context_until_its_variables_change(monkeypatch, tmp_path):
    import ssl

    from nbmessages.client.tls import ssl_context

    first = ssl_context()
    assert isinstance(first, ssl.SSLContext) and ssl_context() is first  # the roots are loaded once
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path))  # a variable httpx reads: a context made for it
    assert ssl_context() is not first
