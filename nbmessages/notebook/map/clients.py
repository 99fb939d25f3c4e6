"""The map's own async client, derived from the user's: same key, backend, ledger, budget and tags.

It differs in two ways: the map retries by itself (so that a 429 slows every request down, not one), and its
HTTP pool reports each response's headers to the limiter. With the ``map`` extra (httpx-aiohttp, the transport
the official SDK offers too) the pool is aiohttp's: at 50 requests in flight it costs well under half the CPU
of httpcore's, whose idle-connection checks grow with the pool (so there, few connections are kept alive).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from ...client.asynchronous import AsyncClient
from ...client.base import BaseClient


def http_pool(timeout: httpx.Timeout, concurrency: int,
              on_response: Callable[[httpx.Response], None]) -> httpx.AsyncClient:
    """An httpx pool with a keep-alive connection per concurrent request, reporting every response."""
    async def report(response: httpx.Response) -> None:
        on_response(response)

    limits = httpx.Limits(max_connections=max(100, concurrency + 8), max_keepalive_connections=20)
    try:
        from httpx_aiohttp import AiohttpTransport
    except ImportError:
        return httpx.AsyncClient(timeout=timeout, limits=limits, event_hooks={"response": [report]})
    transport = AiohttpTransport(limits=httpx.Limits(max_connections=limits.max_connections,
                                                     max_keepalive_connections=concurrency + 8))
    return httpx.AsyncClient(timeout=timeout, transport=transport, event_hooks={"response": [report]})


def derive(client: BaseClient | None, concurrency: int, on_response: Callable[[httpx.Response], None]) -> AsyncClient:
    """An AsyncClient with the user's client's settings (a default client's when None), retrying nothing itself."""
    if client is None:
        client = AsyncClient()
    return AsyncClient.from_client(client, max_retries=0, http_client=http_pool(client.timeout, concurrency,
                                                                               on_response))


def retries_of(client: Any, default: int = 2) -> int:
    """How many times the user's client would retry a failed request."""
    return int(getattr(client, "max_retries", default))
