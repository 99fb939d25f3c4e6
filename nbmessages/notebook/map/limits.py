"""The map's view of the provider's rate limits: token buckets, header parsing, and AIMD concurrency.

Buckets for requests, input tokens and output tokens are learned from the ``anthropic-ratelimit-*`` headers
(limit, remaining, reset: the reset says when a bucket is full again, which gives its capacity) or given as
``limits=dict(rpm=, itpm=, otpm=)``. Output tokens are reserved from ``max_tokens`` at send and the unused part
given back when the answer arrives, as the API does. A 429/529 halves the number of requests in flight and
pauses sending for its ``retry-after``; every success adds back a little (additive increase). Until the first
answer says what the limits are, one request is sent at a time (not to a backend an earlier map found sends
no limits at all). Everything is clock-injected for tests.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from ...types.rate_limits import TokenBucket

AXES = ("requests", "input-tokens", "output-tokens")
SAFETY = 0.97  # refill a little slower than the server: request timing jitters on its way there
MIN_INTERVAL = 0.001


class Bucket(TokenBucket):
    """A token bucket mirroring one of the server's: ``limit`` a minute (a little slower), ``capacity`` at most."""

    def __init__(self, limit: float, capacity: float | None = None, clock: Callable[[], float] = time.monotonic):
        super().__init__(limit / 60.0 * SAFETY, capacity if capacity is not None else limit, clock)
        self.limit = limit

    def observe(self, limit: float, remaining: float, full_in: float | None, *, level: bool) -> None:
        """Follow the server's rate and capacity (the reset time says it); its level too when ``level``.

        A success's ``remaining`` is as old as the request (counted when it was admitted): taking it as the
        level now would forget the refill since and halve a steady throughput. So it is believed only when
        nothing is known yet and on a 429, where it shows another client sharing the limit.
        """
        self.refill()
        if limit != self.limit:
            self.limit, self.rate = limit, limit / 60.0 * SAFETY
        if full_in is not None:
            self.capacity = max(1.0, min(limit, remaining + full_in * limit / 60.0))
        self.level = min(self.level, remaining, self.capacity) if level else min(self.level, self.capacity)


@dataclass(frozen=True)
class Observed:
    """One axis of the rate-limit headers."""

    limit: float
    remaining: float
    full_in: float | None  # seconds until the bucket is full again


def parse_headers(headers: Mapping[str, str], now: float | None = None) -> dict[str, Observed]:
    """The ``anthropic-ratelimit-{requests,input-tokens,output-tokens}-*`` headers by axis (bad values skipped)."""
    found: dict[str, Observed] = {}
    wall = time.time() if now is None else now
    for axis in AXES:
        prefix = f"anthropic-ratelimit-{axis}-"
        try:
            limit = float(headers[prefix + "limit"])
            remaining = float(headers[prefix + "remaining"])
        except (KeyError, ValueError):
            continue
        reset = headers.get(prefix + "reset")
        full_in = None
        if reset:
            try:
                full_in = max(0.0, datetime.fromisoformat(reset.replace("Z", "+00:00")).timestamp() - wall)
            except ValueError:
                full_in = None
        if limit > 0:
            found[axis] = Observed(limit, remaining, full_in)
    return found


_KEYS = (("rpm", "requests"), ("itpm", "input-tokens"), ("otpm", "output-tokens"))


def check_limits(limits: Mapping[str, float] | None) -> None:
    """Refuse limits that are not ``rpm``/``itpm``/``otpm`` numbers > 0 (ValueError naming the key)."""
    known = {k for k, _ in _KEYS}
    for key, value in (limits or {}).items():
        if key not in known:
            raise ValueError(f"limits: {key!r} is not one of rpm, itpm, otpm")
        if not isinstance(value, (int, float)) or not value > 0:
            raise ValueError(f"limits: {key} must be a number > 0 (got {value!r})")


class Limiter:
    """Decides when the next request may go: buckets, a cooldown after 429s, and an AIMD window in flight."""

    def __init__(self, concurrency: int, limits: Mapping[str, float] | None = None,
                 clock: Callable[[], float] = time.monotonic, probe: bool = True) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency: must be 1 or more (got {concurrency})")
        self.clock = clock
        self.cap = concurrency
        check_limits(limits)
        self.buckets: dict[str, Bucket] = {}
        for key, axis in _KEYS:
            value = (limits or {}).get(key)
            if value is not None:
                self.buckets[axis] = Bucket(float(value), clock=clock)
        self.window = float(concurrency)
        self.in_flight = 0
        self.cooldown_until = 0.0
        # nothing known yet: one request until an answer says more (``probe=False``: answers never say)
        self.probing = probe and not self.buckets
        self.answered = 0  # successful answers
        self.throttled = 0  # 429/529 answers seen
        self.waiting_for = ""  # why the last acquire waited: shown by the progress line
        self._changed = asyncio.Event()

    # -- sending

    def wait_time(self, need: Mapping[str, float]) -> float:
        """Seconds until a request needing ``need`` may go (0 now; inf never)."""
        now = self.clock()
        slots = 1 if self.probing else max(1, int(self.window))
        if self.in_flight >= slots:
            self.waiting_for = "concurrency"
            return -1.0  # wait for a request to finish
        waits = {"cooldown": self.cooldown_until - now}
        waits.update({axis: b.wait(need.get(axis, 0.0)) for axis, b in self.buckets.items()})
        reason = max(waits, key=waits.__getitem__)
        self.waiting_for = reason if waits[reason] > 0 else ""
        return max(0.0, waits[reason])

    async def acquire(self, input_tokens: int, max_tokens: int) -> None:
        """Wait until this request may be sent and take its share (RuntimeError if it can never fit)."""
        need = {"requests": 1.0, "input-tokens": float(input_tokens), "output-tokens": float(max_tokens)}
        while True:
            wait = self.wait_time(need)
            if wait == math.inf:
                axis = next(a for a, b in self.buckets.items() if need[a] > b.capacity)
                raise RateLimitTooSmall(f"this request needs {need[axis]:.0f} {axis}, more than the "
                                        f"{axis} bucket holds ({self.buckets[axis].capacity:.0f})")
            if wait == 0:
                for axis, bucket in self.buckets.items():
                    bucket.level -= need[axis]
                self.in_flight += 1
                return
            self._changed.clear()
            if wait < 0:  # only a release can help: no timer (wait_for costs a task and a timer per request)
                await self._changed.wait()
                continue
            try:
                await asyncio.wait_for(self._changed.wait(), max(wait, MIN_INTERVAL))
            except asyncio.TimeoutError:
                pass

    # -- answers

    def observe(self, headers: Mapping[str, str], status: int = 200) -> None:
        """Learn from any answer's rate-limit headers (successes and errors alike)."""
        for axis, seen in parse_headers(headers).items():
            bucket = self.buckets.get(axis)
            new = bucket is None
            if bucket is None:
                bucket = self.buckets[axis] = Bucket(seen.limit, seen.limit, self.clock)
            bucket.observe(seen.limit, seen.remaining, seen.full_in, level=new or status == 429)

    def release(self, *, ok: bool, throttled: bool = False, retry_after: float | None = None,
                reserved_output: int = 0, output_tokens: int | None = None,
                estimated_input: int = 0, input_tokens: int | None = None) -> None:
        """A request ended: settle its tokens, and grow (success) or halve (429/529) the window."""
        self.in_flight = max(0, self.in_flight - 1)
        self.probing = False
        out, inp = self.buckets.get("output-tokens"), self.buckets.get("input-tokens")
        if out is not None and output_tokens is not None:
            out.level = min(out.capacity, out.refill() + reserved_output - output_tokens)
        if inp is not None and input_tokens is not None:
            inp.level = min(inp.capacity, inp.refill() + estimated_input - input_tokens)
        if throttled:
            self.throttled += 1
            self.window = max(1.0, self.window / 2)
            pause = retry_after if retry_after is not None else 1.0
            self.cooldown_until = max(self.cooldown_until, self.clock() + pause)
        elif ok:
            self.answered += 1
            self.window = min(float(self.cap), self.window + 1.0 / max(self.window, 1.0))
        self._changed.set()

    def state(self) -> str:
        """A short description for the progress line: the window and why sending waits, if it does."""
        parts = [f"{self.in_flight} in flight"]
        if self.window < self.cap:
            parts.append(f"window {self.window:.0f}/{self.cap}")
        if self.waiting_for and self.waiting_for != "concurrency":
            parts.append(f"waiting for {self.waiting_for}")
        return ", ".join(parts)


class InputEstimate:
    """Input tokens of a request from its size in characters: 4 a token at first, then the answers' ratio."""

    def __init__(self, chars_per_token: float = 4.0) -> None:
        self.chars, self.tokens_seen = chars_per_token, 1.0  # a prior worth one small request

    def tokens(self, chars: int) -> int:
        """The estimate for a request of ``chars`` characters."""
        return max(1, math.ceil(chars * self.tokens_seen / self.chars))

    def learn(self, chars: int, tokens: int) -> None:
        """Fold in a request whose real input count is known."""
        self.chars += chars
        self.tokens_seen += tokens


class RateLimitTooSmall(RuntimeError):
    """A request that can never fit the provider's rate limit (e.g. input larger than the ITPM bucket)."""


_PER_MINUTE = {axis: key for key, axis in _KEYS}


@dataclass
class Known:
    """What earlier maps in this process learned about a backend: its limits per minute and its latency."""

    limits: dict[str, float]
    latency: float | None
    silent: bool = False  # answers came and none carried rate-limit headers: probing it learns nothing


_known: dict[str, Known] = {}


def remember(backend: str, limiter: Limiter, latency: float | None) -> None:
    """Keep a finished map's limits and mean latency for the next preview of the same backend."""
    limits = {_PER_MINUTE[axis]: b.limit for axis, b in limiter.buckets.items()}
    before = _known.get(backend)
    _known[backend] = Known(limits or (before.limits if before else {}),
                            latency if latency is not None else (before.latency if before else None),
                            silent=not limits and limiter.answered > 0 and not (before and before.limits))


def recall(backend: str) -> Known | None:
    """What is known about a backend's limits and latency (None: nothing yet)."""
    return _known.get(backend)
