"""``Client``: the call shapes of the official SDK (``client.messages.create / stream / count_tokens``), sync."""

from __future__ import annotations

import time
from typing import Any

import httpx

from ..request.builder import Request
from ..types import Message, ModelInfo, TokenCount
from .base import BaseClient, Call
from .batches import Batches
from .errors import error_from_response
from .streams import MessageStream


class Client(BaseClient):
    """The synchronous client: ``client.messages.create / stream / count_tokens``, ``client.models.list``."""

    def __init__(self, api_key: str | None = None, base_url: str | None = None, *,
                 http_client: httpx.Client | None = None, **options: Any) -> None:
        super().__init__(api_key, base_url, **options)
        self._http = self._recorded(http_client or httpx.Client(timeout=self.timeout))
        self.messages = Messages(self)
        self.models = Models(self)

    def _send(self, request: httpx.Request, stream: bool = False) -> tuple[httpx.Response, int]:
        """Send with retries; return the successful response and how many retries it took."""
        attempt = 0
        while True:
            try:
                response = self._http.send(request, stream=stream)
            except httpx.TransportError as exc:
                error = self._transport_error(exc)
            else:
                if response.status_code < 400:
                    return response, attempt
                response.read()
                response.close()
                error = error_from_response(response)
            time.sleep(self._retry_or_raise(error, attempt))
            attempt += 1

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
        self.batches = Batches(client)

    def create(self, request: Request | dict[str, Any] | None = None, **params: Any) -> Message:
        """Send a request and return the whole message (streamed under the hood when it may run long)."""
        c = self._client
        req = c._prepare(request, params, stream=False)
        if c._should_stream(req):
            with self._stream(req) as stream:
                return stream.get_final_message()
        call = Call(c, req)
        with call.recorded_failure():
            response, retries = c._send(call.http_request)
        return call.succeeded(response, retries)

    def stream(self, request: Request | dict[str, Any] | None = None, **params: Any) -> MessageStream:
        """Open a stream: ``with client.messages.stream(...) as s: for text in s.text_stream: ...``."""
        return self._stream(self._client._prepare(request, params, stream=True))

    def _stream(self, req: Request) -> MessageStream:
        c = self._client
        call = Call(c, req, streamed=True)

        def opener() -> tuple[httpx.Response, int]:
            with call.recorded_failure():
                return c._send(call.http_request, stream=True)

        return MessageStream(opener, call.finish_stream, call.t0)

    def count_tokens(self, request: Request | dict[str, Any] | None = None, **params: Any) -> TokenCount:
        """Count the input tokens of a request without sending it for an answer."""
        c = self._client
        response, _ = c._send(c._count_request(request, params))
        return c._token_count(response)


class Models:
    """``client.models``."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def list(self) -> list[ModelInfo]:
        """The models the backend offers (``GET /v1/models``)."""
        c = self._client
        response, _ = c._send(c._models_request())
        return c._model_list(response)
