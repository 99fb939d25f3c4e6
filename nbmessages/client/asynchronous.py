"""``AsyncClient``: the same calls as ``Client`` with ``await``, ``async with`` and ``async for``."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from ..request.builder import Request
from ..types import Message, ModelInfo, TokenCount
from .base import BaseClient, Call
from .batches import AsyncBatches
from .errors import error_from_response
from .streams import AsyncMessageStream


class AsyncClient(BaseClient):
    """The asynchronous client: ``await client.messages.create(...)``; ``async with client.messages.stream(...)``."""

    def __init__(self, api_key: str | None = None, base_url: str | None = None, *,
                 http_client: httpx.AsyncClient | None = None, **options: Any) -> None:
        super().__init__(api_key, base_url, **options)
        self._http = self._recorded(http_client or httpx.AsyncClient(timeout=self.timeout))
        self.messages = AsyncMessages(self)
        self.models = AsyncModels(self)

    async def _send(self, request: httpx.Request, stream: bool = False) -> tuple[httpx.Response, int]:
        """Send with retries; return the successful response and how many retries it took."""
        attempt = 0
        while True:
            try:
                response = await self._http.send(request, stream=stream)
            except httpx.TransportError as exc:
                error = self._transport_error(exc)
            else:
                if response.status_code < 400:
                    return response, attempt
                await response.aread()
                await response.aclose()
                error = error_from_response(response)
            await asyncio.sleep(self._retry_or_raise(error, attempt))
            attempt += 1

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
        self.batches = AsyncBatches(client)

    async def create(self, request: Request | dict[str, Any] | None = None, **params: Any) -> Message:
        """Send a request and return the whole message (streamed under the hood when it may run long)."""
        c = self._client
        req = c._prepare(request, params, stream=False)
        if c._should_stream(req):
            async with self._stream(req) as stream:
                return await stream.get_final_message()
        call = Call(c, req)
        with call.recorded_failure():
            response, retries = await c._send(call.http_request)
        return call.succeeded(response, retries)

    def stream(self, request: Request | dict[str, Any] | None = None, **params: Any) -> AsyncMessageStream:
        """Open a stream: ``async with client.messages.stream(...) as s: async for t in s.text_stream: ...``."""
        return self._stream(self._client._prepare(request, params, stream=True))

    def _stream(self, req: Request) -> AsyncMessageStream:
        c = self._client
        call = Call(c, req, streamed=True)

        async def opener() -> tuple[httpx.Response, int]:
            with call.recorded_failure():
                return await c._send(call.http_request, stream=True)

        return AsyncMessageStream(opener, call.finish_stream, call.t0)

    async def count_tokens(self, request: Request | dict[str, Any] | None = None, **params: Any) -> TokenCount:
        """Count the input tokens of a request without sending it for an answer."""
        c = self._client
        response, _ = await c._send(c._count_request(request, params))
        return c._token_count(response)


class AsyncModels:
    """``client.models`` of the async client."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def list(self) -> list[ModelInfo]:
        """The models the backend offers (``GET /v1/models``)."""
        c = self._client
        response, _ = await c._send(c._models_request())
        return c._model_list(response)
