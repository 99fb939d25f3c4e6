"""The embedded local Messages API server: an offline deterministic model, faults, record and replay.

``start()`` runs one in a background thread and returns its handle; ``shared()`` is the process-wide one
the client falls back to when nothing else is configured.
"""

from __future__ import annotations

import threading
from pathlib import Path

from ..types.rules import MAX_BODY_BYTES
from .cassette import Cassette
from .options import DEFAULT_BATCH_DELAY, DEFAULT_PACE, DEFAULT_TTFT, ServerConfig
from .runner import LocalServer
from .tokens import count_input_tokens

__all__ = ["Cassette", "LocalServer", "ServerConfig", "count_input_tokens", "shared", "start"]

_shared: LocalServer | None = None
_shared_lock = threading.Lock()


def start(host: str = "127.0.0.1", port: int = 0, *, pace: float = DEFAULT_PACE, ttft: float = DEFAULT_TTFT,
          key: str | None = None, replay: str | Path | None = None, record: str | Path | None = None,
          upstream: str | None = None, fault: str | None = None, fault_rate: float = 1.0, seed: int = 0,
          max_body_size: int = MAX_BODY_BYTES, stall_cap: float = 120.0, slow_start: float = 5.0,
          credit_limit: float | None = None, rpm: float | None = None, itpm: float | None = None,
          otpm: float | None = None, burst: float = 60.0, batch_delay: float = DEFAULT_BATCH_DELAY) -> LocalServer:
    """Start a local server (port 0 picks a free port); returns once it accepts connections.

    ``rpm``, ``itpm`` and ``otpm`` are rate limits per minute enforced like the API's (token buckets holding
    ``burst`` seconds of refill; 429 with ``retry-after`` when exceeded; ``anthropic-ratelimit-*`` headers).
    """
    config = ServerConfig(pace=pace, ttft=ttft, key=key, max_body_size=max_body_size, fault=fault,
                          fault_rate=fault_rate, seed=seed, stall_cap=stall_cap, slow_start=slow_start,
                          replay=replay, record=record, upstream=upstream, credit_limit=credit_limit, rpm=rpm,
                          itpm=itpm, otpm=otpm, burst=burst, batch_delay=batch_delay)
    return LocalServer(config, host, port).start()


def shared() -> LocalServer:
    """The process-wide offline server at the default pace, started on first use (thread-safe)."""
    global _shared
    with _shared_lock:
        if _shared is None or not _shared.running:
            _shared = start()
        return _shared
