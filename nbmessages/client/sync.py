"""``Client``: the call shapes of the official SDK (``client.messages.create / stream / count_tokens``), sync."""

from __future__ import annotations

import time
from typing import Any

import httpx

from ..request.builder import Request
from ..types import Message, ModelInfo, ModelList, TokenCount
from ..types.openrouter import Generation, KeyInfo
from .base import BaseClient, Call
from .batches import Batches
from .deadlines import CallClock
from .errors import error_from_response
from .openrouter import account_data, check_account_api, generation_query
from .responses import parsed
from .streams import MessageStream
from .tls import ssl_context


class Client(BaseClient):
    """The synchronous client: ``client.messages.create / stream / count_tokens``, ``client.models.list``."""

    def __init__(self, api_key: str | None = None, base_url: str | None = None, *,
                 http_client: httpx.Client | None = None, **options: Any) -> None:
        super().__init__(api_key, base_url, **options)
        self._http = self._recorded(http_client or httpx.Client(timeout=self.timeout, verify=ssl_context()))
        self.messages = Messages(self)
        self.openrouter = OpenRouterAPI(self)
        self.models = Models(self)

    def send(self, request: httpx.Request, stream: bool = False,
              clock: CallClock | None = None) -> tuple[httpx.Response, int]:
        """Send with retries; return the successful response and how many retries it took.

        A whole (non-streamed) body is read under the call's time limits and never retried once its
        success status arrived: the server did the work.
        """
        clock = clock or self.call_clock()
        attempt = 0
        while True:
            clock.limit(request, self.timeout)
            try:
                response = self._http.send(request, stream=True)
                clock.guard(response)
                if response.status_code >= 400:
                    response.read()
            except httpx.TransportError as exc:
                error = self._transport_error(exc)
            else:
                if response.status_code < 400:
                    break
                response.close()
                error = error_from_response(response)
            error.retries = attempt  # type: ignore[attr-defined]
            time.sleep(self._retry_or_raise(error, attempt, clock))
            attempt += 1
        if not stream:
            try:
                response.read()
            except httpx.TransportError as exc:
                response.close()
                error = self._transport_error(exc)
                error.retries = attempt  # type: ignore[attr-defined]
                raise error from None
        return response, attempt

    def close(self) -> None:
        """Close the HTTP connections."""
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


class Messages:
    """``client.messages``; every method also takes ``chat=`` and ``tags=``, recorded with the call, not sent."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self.batches = Batches(client, client.send)

    def create(self, request: Request | dict[str, Any] | None = None, **params: Any) -> Message:
        """Send a request and return the whole message (streamed under the hood when it may run long)."""
        c = self._client
        req = c.prepare(request, params, stream=False)
        if c.wants_stream(req):
            with self._stream(req) as stream:
                return stream.get_final_message()
        call = Call(c, req)
        with call.recorded_failure():
            response, retries = c.send(call.http_request, clock=call.clock)
        return call.succeeded(response, retries)

    def stream(self, request: Request | dict[str, Any] | None = None, **params: Any) -> MessageStream:
        """Open a stream: ``with client.messages.stream(...) as s: for text in s.text_stream: ...``."""
        return self._stream(self._client.prepare(request, params, stream=True))

    def _stream(self, req: Request) -> MessageStream:
        c = self._client
        call = Call(c, req, streamed=True)

        def opener() -> tuple[httpx.Response, int]:
            with call.recorded_failure():
                return c.send(call.http_request, stream=True, clock=call.clock)

        return MessageStream(opener, call.stream_finished, call.t0, call.clock)

    def count_tokens(self, request: Request | dict[str, Any] | None = None, **params: Any) -> TokenCount:
        """Count the input tokens of a request without sending it for an answer."""
        c = self._client
        response, _ = c.send(c.build_request("POST", "messages/count_tokens", c.count_body(request, params)))
        return parsed(response, TokenCount)


class Models:
    """``client.models``."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def list(self) -> list[ModelInfo]:
        """The models the backend offers (``GET /v1/models``)."""
        c = self._client
        response, _ = c.send(c.build_request("GET", "models"))
        return parsed(response, ModelList).data


class OpenRouterAPI:
    """``client.openrouter``: the key's credits (``key()``) and a generation's record (``generation(id)``)."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def key(self) -> KeyInfo:
        """``GET /api/v1/key``: limit, usage and ``limit_remaining`` of the key in use (USD)."""
        c = self._client
        check_account_api(c.profile, "key()")
        response, _ = c.send(c.build_request("GET", "key"))
        return account_data(response, KeyInfo)

    def generation(self, generation_id: str) -> Generation:
        """``GET /api/v1/generation?id=…``: the record of one call, its ``total_cost`` included."""
        c = self._client
        check_account_api(c.profile, "generation()")
        response, _ = c.send(c.build_request("GET", "generation", params=generation_query(generation_id)))
        return account_data(response, Generation)
