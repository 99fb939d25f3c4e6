"""Rate limits like the API's: token buckets for requests, input tokens and output tokens per minute.

Each bucket holds ``limit * burst / 60`` (``burst`` seconds of refill; 60 = the whole minute's allowance at
once) and refills continuously at ``limit / 60`` a second. A request is admitted only if every bucket has
room: one request, its input tokens and its ``max_tokens`` (output is reserved at the start, as the API
does, and the unused part given back once the answer's length is known). Otherwise it is answered 429 with
``retry-after``. Every answer carries the ``anthropic-ratelimit-*`` headers of the buckets.

Limits come from the server's settings or, per request, from ``x-nbmessages-limits: rpm=600;itpm=…;otpm=…``;
requests that name the same limits share the same buckets.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

from ..types.rate_limits import TokenBucket

AXES = ("requests", "input-tokens", "output-tokens")
_NAMES = {"rpm": "requests", "itpm": "input-tokens", "otpm": "output-tokens"}
HEADER = "x-nbmessages-limits"


@dataclass(frozen=True)
class RateLimits:
    """Per-minute limits (None: unlimited) and the burst in seconds of refill a bucket holds."""

    rpm: float | None = None
    itpm: float | None = None
    otpm: float | None = None
    burst: float = 60.0

    def __post_init__(self) -> None:
        for name in ("rpm", "itpm", "otpm"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"{name}: must be a number > 0 (got {value!r})")
        if not self.burst > 0:
            raise ValueError(f"burst: must be a number of seconds > 0 (got {self.burst!r})")

    @property
    def any(self) -> bool:
        """Whether any axis is limited."""
        return any(v is not None for v in (self.rpm, self.itpm, self.otpm))

    @classmethod
    def parse(cls, spec: str) -> RateLimits:
        """Limits from ``rpm=600;itpm=40000;otpm=8000;burst=1`` (ValueError names what is wrong)."""
        values: dict[str, float] = {}
        for pair in filter(None, (p.strip() for p in spec.split(";"))):
            key, sep, raw = pair.partition("=")
            key = key.strip()
            if not sep or key not in ("rpm", "itpm", "otpm", "burst"):
                raise ValueError(f"{pair!r}: expected rpm=N, itpm=N, otpm=N or burst=SECONDS")
            try:
                values[key] = float(raw)
            except ValueError:
                raise ValueError(f"{key}: must be a number (got {raw.strip()!r})") from None
        return cls(**values)


class Bucket(TokenBucket):
    """One limit per minute as a token bucket holding ``burst`` seconds of refill, starting full."""

    def __init__(self, limit: float, burst: float, clock: Callable[[], float]) -> None:
        super().__init__(limit / 60.0, max(limit * burst / 60.0, 1.0), clock)
        self.limit = limit

    def headers(self, axis: str) -> dict[str, str]:
        """The ``anthropic-ratelimit-{axis}-*`` headers: limit, remaining (floored) and the RFC 3339 reset."""
        full_in = (self.capacity - self.level) / self.rate
        reset = datetime.fromtimestamp(time.time() + full_in, timezone.utc)
        return {
            f"anthropic-ratelimit-{axis}-limit": f"{self.limit:g}",
            f"anthropic-ratelimit-{axis}-remaining": str(max(0, math.floor(self.level))),
            f"anthropic-ratelimit-{axis}-reset": reset.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        }


@dataclass
class Admission:
    """An admitted request: its headers, and how to give back the output tokens it did not use."""

    headers: dict[str, str]
    reserved_output: int
    estimated_input: int
    buckets: RateBuckets

    def settle(self, output_tokens: int, input_tokens: int) -> None:
        """Give back the output tokens reserved but not used, and correct the input to its real count."""
        self.buckets.settle(self, output_tokens, input_tokens)


class Refused(Exception):
    """A request over a limit: the axis and the seconds until it would fit (inf when it never can)."""

    def __init__(self, axis: str, retry_after: float, headers: dict[str, str]) -> None:
        super().__init__(axis)
        self.axis = axis
        self.retry_after = retry_after
        self.headers = headers


class RateBuckets:
    """The buckets of one set of limits."""

    def __init__(self, limits: RateLimits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._lock = threading.Lock()
        self.buckets = {
            axis: Bucket(limit, limits.burst, clock)
            for axis, limit in zip(AXES, (limits.rpm, limits.itpm, limits.otpm), strict=True)
            if limit is not None
        }
        self.refused = 0

    def admit(self, input_tokens: int, max_tokens: int) -> Admission:
        """Take one request, its input and its max_tokens, or raise Refused (nothing taken)."""
        need = {"requests": 1.0, "input-tokens": float(input_tokens), "output-tokens": float(max_tokens)}
        with self._lock:
            waits = {axis: bucket.wait(need[axis]) for axis, bucket in self.buckets.items()}
            axis = max(waits, key=waits.__getitem__, default=None)
            if axis is not None and waits[axis] > 0:
                self.refused += 1
                raise Refused(axis, waits[axis], self._headers())
            for name, bucket in self.buckets.items():
                bucket.level -= need[name]
            return Admission(self._headers(), max_tokens, input_tokens, self)

    def settle(self, admission: Admission, output_tokens: int, input_tokens: int) -> None:
        """Correct the buckets once a request's real usage is known."""
        corrections = {"output-tokens": admission.reserved_output - output_tokens,
                       "input-tokens": admission.estimated_input - input_tokens}
        with self._lock:
            for axis, delta in corrections.items():
                bucket = self.buckets.get(axis)
                if bucket is not None and delta:
                    bucket.level = min(bucket.capacity, bucket.refill() + delta)

    def _headers(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        for axis, bucket in self.buckets.items():
            headers.update(bucket.headers(axis))
        tokens = [a for a in self.buckets if a != "requests"]
        if tokens:  # the combined `tokens-*` headers show the most restrictive token bucket, as the API's do
            tight = min(tokens, key=lambda a: self.buckets[a].level / self.buckets[a].capacity)
            for key, value in self.buckets[tight].headers(tight).items():
                headers[key.replace(f"-{tight}-", "-tokens-")] = value
        return headers


class LimitBook:
    """The server's limits and the buckets of per-request limits, one set per distinct header value."""

    def __init__(self, limits: RateLimits | None = None) -> None:
        self.default = RateBuckets(limits) if limits is not None and limits.any else None
        self._named: dict[str, RateBuckets] = {}
        self._lock = threading.Lock()

    def for_header(self, spec: str | None) -> RateBuckets | None:
        """The buckets a request falls under: its header's (ValueError if malformed), else the server's."""
        if not spec:
            return self.default
        key = spec.strip()
        with self._lock:
            if key not in self._named:
                self._named[key] = RateBuckets(RateLimits.parse(key))
            return self._named[key]

    @property
    def refused(self) -> int:
        """Requests answered 429 so far."""
        return sum(b.refused for b in [*([self.default] if self.default else []), *self._named.values()])

    def reset(self) -> None:
        """Forget the per-request buckets and refill the server's."""
        with self._lock:
            self._named.clear()
            if self.default is not None:
                self.default = RateBuckets(self.default.limits)
