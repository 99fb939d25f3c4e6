"""An HTTP pool nbmessages owns: each request goes straight into its transport, past httpx.AsyncClient's layers.

A client builds every request itself (URL, headers, key, Basic auth), so httpx.AsyncClient's auth, redirect,
cookie and event-hook layers do nothing for it but cost: at a map's rate of hundreds of requests a second,
cookie extraction alone (a urllib request and an email message per response) took a tenth of the CPU.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import httpx

_httpx_log = logging.getLogger("httpx")


class DirectPool:
    """What AsyncClient sends through (``send``, ``aclose``, as on httpx.AsyncClient), straight into a transport.

    ``timeout`` applies to every request without its own (as httpx.AsyncClient's does); ``on_response`` sees
    each response as it arrives, its body not read yet (the map's limiter reads the rate-limit headers).
    """

    def __init__(self, transport: httpx.AsyncBaseTransport, timeout: httpx.Timeout,
                 on_response: Callable[[httpx.Response], None] | None = None) -> None:
        self.transport = transport
        self._timeout = timeout.as_dict()
        self._on_response = on_response
        self._closed = False

    async def send(self, request: httpx.Request, *, stream: bool = False) -> httpx.Response:
        """The response to ``request``: its headers, and its body too unless ``stream``."""
        if self._closed:
            raise RuntimeError("Cannot send a request, as the pool has been closed.")
        request.extensions.setdefault("timeout", self._timeout)
        response = await self.transport.handle_async_request(request)
        response.request = request
        try:
            if _httpx_log.isEnabledFor(logging.INFO):  # the line httpx.AsyncClient logs for each request
                _httpx_log.info('HTTP Request: %s %s "%s %d %s"', request.method, request.url,
                                response.http_version, response.status_code, response.reason_phrase)
            if self._on_response is not None:
                self._on_response(response)
            if not stream:
                await response.aread()
        except BaseException:
            await response.aclose()
            raise
        return response

    async def aclose(self) -> None:
        """Close the transport's connections."""
        self._closed = True
        await self.transport.aclose()
