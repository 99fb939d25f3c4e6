"""The map's own async client, derived from the user's: same key, backend, ledger, budget and tags.

It differs in two ways: the map retries by itself (so that a 429 slows every request down, not one), and its
HTTP pool reports each response's headers to the limiter. With the ``map`` extra (httpx-aiohttp, the transport
the official SDK offers too) the pool is aiohttp's: at 50 requests in flight it costs well under half the CPU
of httpcore's, whose idle-connection checks grow with the pool (so there, few connections are kept alive),
and requests go straight into it (client.pool.DirectPool), past httpx.AsyncClient's layers.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import httpx

from ...client.asynchronous import AsyncClient
from ...client.base import BaseClient
from ...client.pool import DirectPool
from ...client.tls import ssl_context
from .. import settings


def http_pool(timeout: httpx.Timeout, concurrency: int,
              on_response: Callable[[httpx.Response], None]) -> httpx.AsyncClient | DirectPool:
    """An HTTP pool with a keep-alive connection per concurrent request, reporting every response."""
    connections = max(100, concurrency + 8)
    try:
        from httpx_aiohttp import AiohttpTransport
    except ImportError:
        async def report(response: httpx.Response) -> None:
            on_response(response)

        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=20)
        return httpx.AsyncClient(timeout=timeout, limits=limits, event_hooks={"response": [report]})
    # the session is made on the map's loop, at its first request
    transport = AiohttpTransport(verify=ssl_context(), client=functools.partial(_session, connections))
    return DirectPool(transport, timeout, on_response)


def _session(connections: int) -> Any:
    """The aiohttp session of a map's pool: no cookie jar (the API authenticates by header; jars cost CPU
    per request and response), no proxy or netrc lookups from the environment (aiohttp's default)."""
    import aiohttp

    # idle connections kept 5 s, as httpx keeps them (aiohttp's 15 s outlives some servers' idle timeouts)
    connector = aiohttp.TCPConnector(limit=connections, keepalive_timeout=5.0, ssl=ssl_context())
    return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar(), trust_env=False)


def derive(client: BaseClient | None, concurrency: int, on_response: Callable[[httpx.Response], None]) -> AsyncClient:
    """An AsyncClient with the user's client's settings (a default client's when None), retrying nothing itself."""
    if client is None:
        client = AsyncClient()
    return AsyncClient.from_client(client, max_retries=0, http_client=http_pool(client.timeout, concurrency,
                                                                               on_response))


def client_for(client: BaseClient | None, options: dict[str, Any]) -> BaseClient | None:
    """The user's client as the options reshape it, those options taken out: another ``profile``, or the options
    sent as headers (OpenRouter's response cache, router metadata).

    A map sends every row with its client's options, so a per-call option becomes the client's; one that only
    makes sense for a single call (clearing a cached answer) is refused.
    """
    names = [r.name for r in settings.rows() if r.keyword]
    overrides: dict[str, Any] = settings.call_options({n: options.pop(n) for n in names if n in options})
    takes = inspect.signature(BaseClient.__init__).parameters
    for keyword in overrides:
        if keyword not in takes:
            raise ValueError(f"{keyword}: an option of one call; map sends every row alike and does not take it")
    profile = options.pop("profile", None)
    if profile is not None and (client is None or client.profile.name != profile):
        overrides.update(profile=profile, base_url=None, api_key=None)  # that backend's own URL and key
    if not overrides:
        return client
    if client is None:
        return AsyncClient(**overrides)
    return client.copy(**overrides)


def retries_of(client: Any, default: int = 2) -> int:
    """How many times the user's client would retry a failed request."""
    return int(getattr(client, "max_retries", default))
