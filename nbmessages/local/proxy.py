"""Replay (answers from a cassette) and record (a proxy to an upstream that writes a cassette) modes.

Both relay bytes that were not composed here, so they use Starlette's plain and streaming responses rather
than sse-starlette, which would re-encode events: a replayed or proxied stream must stay byte for byte.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from .cassette import Cassette
from .envelopes import ApiError
from .intake import check_auth, read_body, state_of
from .options import ServerConfig

HOP_HEADERS = {
    "host", "content-length", "connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
    "proxy-authorization", "proxy-authenticate", "accept-encoding", "content-encoding",
}


def _replayer(cassette: Cassette):  # noqa: ANN202 - a Starlette endpoint
    async def replay(request: Request) -> Response:
        """Serve the recorded response of a matching request, byte for byte."""
        config = state_of(request).config
        check_auth(request, config.key)
        body = await read_body(request, config.max_body_size)
        found = cassette.match(request.method, request.url.path, body)
        if found is None:
            raise ApiError(404, "no recorded interaction matches this request")
        response = found["response"]
        return Response(str(response.get("body", "")).encode("utf-8"), status_code=int(response["status"]),
                        headers=dict(response.get("headers") or {}))

    return replay


class Recorder:
    """Forwards each request to the upstream, streams the answer back and records the exchange."""

    def __init__(self, config: ServerConfig):
        self.upstream = str(config.upstream).rstrip("/")
        self.cassette = Cassette.open(str(config.record))
        self._client: httpx.AsyncClient | None = None
        self._lock = asyncio.Lock()

    def client(self) -> httpx.AsyncClient:
        """One client per server loop, made on first use (inside that loop)."""
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=httpx.Timeout(600.0, connect=10.0))
        return self._client

    async def handle(self, request: Request) -> Response:
        """Forward, relay and record one request."""
        config = state_of(request).config
        check_auth(request, config.key)
        body = await read_body(request, config.max_body_size)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_HEADERS}
        url = self.upstream + request.url.path + (f"?{request.url.query}" if request.url.query else "")
        try:
            upstream = await self.client().send(
                self.client().build_request(request.method, url, headers=headers, content=body), stream=True)
        except httpx.HTTPError as exc:
            raise ApiError(502, f"upstream {self.upstream} unreachable: {exc}") from None
        chunks: list[bytes] = []
        out_headers = {k: v for k, v in upstream.headers.items() if k.lower() not in HOP_HEADERS}
        done = BackgroundTask(self._finish, request, body, upstream, chunks)
        return StreamingResponse(self._relay(upstream, chunks), status_code=upstream.status_code,
                                 headers=out_headers, background=done)

    @staticmethod
    async def _relay(upstream: httpx.Response, chunks: list[bytes]) -> AsyncIterator[bytes]:
        try:
            async for chunk in upstream.aiter_bytes():
                chunks.append(chunk)
                yield chunk
        finally:  # also when the client went away: the upstream connection must not leak
            await upstream.aclose()

    async def _finish(self, request: Request, body: bytes, upstream: httpx.Response, chunks: list[bytes]) -> None:
        """Record the exchange once the whole answer was relayed."""
        self.cassette.add(request.method, request.url.path, body, upstream.status_code, upstream.headers,
                          b"".join(chunks))
        async with self._lock:  # one writer at a time; the file is replaced atomically
            await asyncio.to_thread(self.cassette.save)


def proxy_routes(config: ServerConfig) -> list[Route]:
    """A catch-all route answering from the cassette (replay) or through the upstream (record)."""
    # a bound method, not the Recorder itself: Starlette would take a callable object for a raw ASGI app
    handler: Any = _replayer(Cassette.load(str(config.replay))) if config.replay is not None else Recorder(config).handle
    return [Route("/{path:path}", handler, methods=["GET", "POST"])]
