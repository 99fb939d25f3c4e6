"""A tiny loopback HTTP server that answers whatever nonsense a test scripts (the embedded one is too correct)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

Handler = Callable[[Request], Awaitable[Response]]


class BadServer:
    """Every request goes to ``handler`` (set by each test); ``requests`` counts them."""

    def __init__(self) -> None:
        self.handler: Handler = self._default
        self.requests = 0
        app = Starlette(routes=[Route("/{path:path}", self._dispatch, methods=["GET", "POST"])])
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._socket.bind(("127.0.0.1", 0))
        self._server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self._socket.getsockname()[1]}"

    async def _dispatch(self, request: Request) -> Response:
        self.requests += 1
        return await self.handler(request)

    @staticmethod
    async def _default(request: Request) -> Response:
        return JSONResponse({"type": "error", "error": {"type": "not_found_error", "message": "no handler"}}, 404)

    def _run(self) -> None:
        asyncio.run(self._server.serve(sockets=[self._socket]))

    def start(self) -> BadServer:
        """Serve in a daemon thread; return once it accepts connections."""
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop serving."""
        self._server.should_exit = True
        self._thread.join(5)

    def __enter__(self) -> BadServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
