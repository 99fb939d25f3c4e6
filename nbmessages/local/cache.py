"""A simulated prompt cache: which prefix of a request was written to, or read from, the cache."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .tokens import Piece, prompt_pieces

TTL_SECONDS = {"5m": 300.0, "1h": 3600.0}


@dataclass(frozen=True)
class CacheUsage:
    """Input tokens split as the API reports them."""

    input_tokens: int
    cache_read: int = 0
    write_5m: int = 0
    write_1h: int = 0

    @property
    def cache_write(self) -> int:
        """All tokens written to the cache."""
        return self.write_5m + self.write_1h


def _breakpoints(body: dict[str, Any], pieces: list[Piece]) -> dict[int, str]:
    """Piece index → ttl of each cache breakpoint; top-level ``cache_control`` marks the last piece."""
    marks = {i: (p.cache_control or {}).get("ttl") or "5m" for i, p in enumerate(pieces) if p.cache_control}
    if body.get("cache_control") and pieces:
        marks[len(pieces) - 1] = body["cache_control"].get("ttl") or "5m"
    return marks


class PromptCache:
    """Prefix hashes seen by this server, with their expiry; reads refresh the expiry like the real cache."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._entries: dict[str, tuple[float, str]] = {}
        self._clock = clock

    def clear(self) -> None:
        """Forget every cached prefix."""
        self._entries.clear()

    def account(self, body: dict[str, Any]) -> CacheUsage:
        """Split the request's input tokens into uncached, cache-read and cache-write, and update the cache.

        A breakpoint (``cache_control`` on a tool, system block or message block, or the top-level one, which
        marks the last block) caches the prefix ending there. The longest prefix ending at any block boundary
        up to the last breakpoint that is still cached is read; each breakpoint beyond it writes the tokens
        since the previous one, at its ttl. There is no minimum prefix length.
        """
        pieces = prompt_pieces(body)
        total = sum(p.tokens for p in pieces)
        marks = _breakpoints(body, pieces)
        if not marks:
            return CacheUsage(total)
        now, hashes, sums = self._clock(), _prefix_hashes(str(body.get("model")), pieces), _running(pieces)
        last = max(marks)
        hit = max((i for i in range(last + 1) if self._alive(hashes[i], now)), default=-1)
        read = sums[hit] if hit >= 0 else 0
        if hit >= 0:
            self._refresh(hashes[hit], now)
        writes = {"5m": 0, "1h": 0}
        previous = hit
        for index in sorted(marks):
            if index <= hit:
                self._refresh(hashes[index], now)
                continue
            ttl = marks[index] if marks[index] in TTL_SECONDS else "5m"
            writes[ttl] += sums[index] - (sums[previous] if previous >= 0 else 0)
            self._entries[hashes[index]] = (now + TTL_SECONDS[ttl], ttl)
            previous = index
        written = writes["5m"] + writes["1h"]
        return CacheUsage(total - read - written, read, writes["5m"], writes["1h"])

    def _alive(self, key: str, now: float) -> bool:
        entry = self._entries.get(key)
        return entry is not None and entry[0] > now

    def _refresh(self, key: str, now: float) -> None:
        entry = self._entries.get(key)
        if entry is not None:
            self._entries[key] = (now + TTL_SECONDS[entry[1]], entry[1])


def _prefix_hashes(model: str, pieces: list[Piece]) -> list[str]:
    digest = hashlib.sha256(model.encode())  # caches are per model
    out = []
    for piece in pieces:
        digest.update(piece.key.encode())
        out.append(digest.copy().hexdigest())
    return out


def _running(pieces: list[Piece]) -> list[int]:
    total, sums = 0, []
    for piece in pieces:
        total += piece.tokens
        sums.append(total)
    return sums
