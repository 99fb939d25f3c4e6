"""``LocalServer``: uvicorn in a daemon thread with its own event loop, safe inside a running Jupyter kernel."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import Any

import uvicorn

from .options import ServerConfig
from .server import LocalApp, create_app

START_TIMEOUT = 10.0


class LocalServer:
    """A running local Messages API server; ``stop()`` it, or use it as a context manager."""

    def __init__(self, config: ServerConfig, host: str = "127.0.0.1", port: int = 0):
        self.config = config
        self.host = host
        self.app: LocalApp = create_app(config)
        self._socket = _listening_socket(host, port)  # bound here, so port 0 is resolved before start
        self.port: int = self._socket.getsockname()[1]
        self._server = uvicorn.Server(uvicorn.Config(
            self.app, log_config=None, log_level="warning", access_log=False, lifespan="off", http="h11",
            ws="none", timeout_graceful_shutdown=1, timeout_keep_alive=30,
        ))
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """The Anthropic-style base URL, e.g. ``http://127.0.0.1:54321`` (clients append ``/v1/messages``)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def openrouter_base_url(self) -> str:
        """The OpenRouter-style base URL, ``base_url + "/api"`` (clients append ``/v1/messages``)."""
        return self.base_url + "/api"

    @property
    def active_streams(self) -> int:
        """Streams being sent right now (0 once every client finished or went away)."""
        return self.app.state.active_streams

    @property
    def requests_served(self) -> int:
        """HTTP requests received since the start."""
        return self.app.state.requests

    @property
    def running(self) -> bool:
        """Whether the server thread is alive and serving."""
        return self._thread is not None and self._thread.is_alive() and not self._server.should_exit

    @property
    def rate_limited(self) -> int:
        """Requests answered 429 by the rate limits since the start."""
        return self.app.state.limits.refused

    def reset(self) -> None:
        """Forget the prompt cache, the ``times=N`` fault counts and the rate-limit buckets."""
        self.app.state.cache.clear()
        self.app.state.faults.reset()
        self.app.state.limits.reset()

    def start(self) -> LocalServer:
        """Start serving; returns once connections are accepted."""
        if self._thread is not None:
            return self
        self._thread = threading.Thread(target=self._run, name=f"nbmessages-local:{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the local server on {self.base_url} did not start")
            time.sleep(0.002)
        return self

    def _run(self) -> None:
        # a fresh loop in this thread: the caller's (e.g. a Jupyter kernel's) running loop is never touched,
        # and uvicorn installs no signal handlers outside the main thread
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._server.serve(sockets=[self._socket]))
        finally:
            _cancel_leftovers(loop)
            loop.close()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving and wait for the thread (open streams are cut after a one-second grace)."""
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                self._server.force_exit = True
                self._thread.join(timeout)
        self._socket.close()

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<LocalServer {self.base_url} {state}>"


def _listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must be IPPROTO_TCP: asyncio sets TCP_NODELAY on accepted sockets only then (else Nagle adds 40 ms)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def _cancel_leftovers(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel tasks still pending (e.g. sse-starlette's shutdown watcher) so none is destroyed while pending."""
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    loop.run_until_complete(loop.shutdown_asyncgens())
