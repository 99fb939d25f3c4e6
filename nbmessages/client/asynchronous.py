"""``AsyncClient``: the same calls as ``Client`` with ``await``, ``async with`` and ``async for``."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from ..request.builder import Request
from ..types import Message, ModelInfo, ModelList, TokenCount
from ..types.openrouter import Generation, KeyInfo
from .base import BaseClient, Call
from .batches import AsyncBatches
from .deadlines import CallClock
from .errors import error_from_response
from .openrouter import account_data, check_account_api, generation_query
from .pool import DirectPool
from .responses import parsed
from .streams import AsyncMessageStream
from .tls import ssl_context


class AsyncClient(BaseClient):
    """The asynchronous client: ``await client.messages.create(...)``; ``async with client.messages.stream(...)``."""

    def __init__(self, api_key: str | None = None, base_url: str | None = None, *,
                 http_client: httpx.AsyncClient | DirectPool | None = None, **options: Any) -> None:
        super().__init__(api_key, base_url, **options)
        self._http: httpx.AsyncClient | DirectPool = self._recorded(http_client or httpx.AsyncClient(timeout=self.timeout, verify=ssl_context()))
        self.messages = AsyncMessages(self)
        self.openrouter = AsyncOpenRouterAPI(self)
        self.models = AsyncModels(self)

    async def send(self, request: httpx.Request, stream: bool = False,
                    clock: CallClock | None = None) -> tuple[httpx.Response, int]:
        """Send with retries; return the successful response and how many retries it took (see Client.send)."""
        clock = clock or self.call_clock()
        attempt = 0
        while True:
            clock.limit(request, self.timeout)
            try:
                response = await self._http.send(request, stream=True)
                clock.guard(response)
                if response.status_code >= 400:
                    await response.aread()
            except httpx.TransportError as exc:
                error = self._transport_error(exc)
            else:
                if response.status_code < 400:
                    break
                await response.aclose()
                error = error_from_response(response)
            error.retries = attempt  # type: ignore[attr-defined]
            await asyncio.sleep(self._retry_or_raise(error, attempt, clock))
            attempt += 1
        if not stream:
            try:
                await response.aread()
            except httpx.TransportError as exc:
                await response.aclose()
                error = self._transport_error(exc)
                error.retries = attempt  # type: ignore[attr-defined]
                raise error from None
        return response, attempt

    async def close(self) -> None:
        """Close the HTTP connections."""
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.close()


class AsyncMessages:
    """``client.messages`` of the async client; ``chat=`` and ``tags=`` as in the sync one."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client
        self.batches = AsyncBatches(client, client.send)

    async def create(self, request: Request | dict[str, Any] | None = None, **params: Any) -> Message:
        """Send a request and return the whole message (streamed under the hood when it may run long)."""
        c = self._client
        req = c.prepare(request, params, stream=False)
        if c.wants_stream(req):
            async with self._stream(req) as stream:
                return await stream.get_final_message()
        call = Call(c, req)
        with call.recorded_failure():
            response, retries = await c.send(call.http_request, clock=call.clock)
        return call.succeeded(response, retries)

    def stream(self, request: Request | dict[str, Any] | None = None, **params: Any) -> AsyncMessageStream:
        """Open a stream: ``async with client.messages.stream(...) as s: async for t in s.text_stream: ...``."""
        return self._stream(self._client.prepare(request, params, stream=True))

    def _stream(self, req: Request) -> AsyncMessageStream:
        c = self._client
        call = Call(c, req, streamed=True)

        async def opener() -> tuple[httpx.Response, int]:
            with call.recorded_failure():
                return await c.send(call.http_request, stream=True, clock=call.clock)

        return AsyncMessageStream(opener, call.stream_finished, call.t0, call.clock)

    async def count_tokens(self, request: Request | dict[str, Any] | None = None, **params: Any) -> TokenCount:
        """Count the input tokens of a request without sending it for an answer."""
        c = self._client
        response, _ = await c.send(c.build_request("POST", "messages/count_tokens", c.count_body(request, params)))
        return parsed(response, TokenCount)


class AsyncModels:
    """``client.models`` of the async client."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def list(self) -> list[ModelInfo]:
        """The models the backend offers (``GET /v1/models``)."""
        c = self._client
        response, _ = await c.send(c.build_request("GET", "models"))
        return parsed(response, ModelList).data


class AsyncOpenRouterAPI:
    """``client.openrouter`` of the async client: the key's credits and a generation's record."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def key(self) -> KeyInfo:
        """``GET /api/v1/key``: limit, usage and ``limit_remaining`` of the key in use (USD)."""
        c = self._client
        check_account_api(c.profile, "key()")
        response, _ = await c.send(c.build_request("GET", "key"))
        return account_data(response, KeyInfo)

    async def generation(self, generation_id: str) -> Generation:
        """``GET /api/v1/generation?id=…``: the record of one call, its ``total_cost`` included."""
        c = self._client
        check_account_api(c.profile, "generation()")
        response, _ = await c.send(c.build_request("GET", "generation", params=generation_query(generation_id)))
        return account_data(response, Generation)
