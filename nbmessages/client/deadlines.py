"""One call's time limits: an idle limit between events and an optional total deadline, retries included.

httpx's read timeout only bounds the wait for the next *byte*: a server that drips a byte a second, or sends
nothing but pings, keeps a call alive forever. Here every chunk that arrives is checked against the time since
the last event that carried something (pings do not count) and against the call's deadline.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator

import httpx

MAX_TOTAL_RETRY_WAIT = 120.0  # seconds one call may spend waiting between retries, whatever the hints say


class DeadlineExceeded(httpx.ReadTimeout):
    """The idle limit or the call's deadline passed while data still trickled in."""


class CallClock:
    """The limits of one call: ``idle`` seconds between events that carry content, ``deadline`` in all."""

    def __init__(self, idle: float | None, deadline: float | None) -> None:
        self.idle, self.deadline = idle, deadline
        self.started = self.last = time.monotonic()
        self.waited = 0.0  # seconds slept between retries
        self.retries = 0  # retries begun (their wait included)

    def heard(self) -> None:
        """Something arrived that counts as progress (an event other than a ping, response headers)."""
        self.last = time.monotonic()

    def remaining(self) -> float | None:
        """Seconds left before the deadline (None: no deadline)."""
        return None if self.deadline is None else self.deadline - (time.monotonic() - self.started)

    def overdue(self) -> str | None:
        """Why the call must end now, or None."""
        now = time.monotonic()
        if self.deadline is not None and now - self.started > self.deadline:
            return f"the call's deadline of {self.deadline:g} s passed"
        if self.idle is not None and now - self.last > self.idle:
            return f"nothing but pings or dribbles for {self.idle:g} s (the idle limit, timeout=)"
        return None

    def may_wait(self, delay: float) -> bool:
        """Whether a retry after ``delay`` seconds still fits the deadline and the total retry wait."""
        remaining = self.remaining()
        return self.waited + delay <= MAX_TOTAL_RETRY_WAIT and (remaining is None or delay < remaining)

    def waiting(self, delay: float) -> float:
        """Count a retry wait; returns it."""
        self.waited += delay
        self.retries += 1
        return delay

    def limit(self, request: httpx.Request, timeout: httpx.Timeout) -> None:
        """Give the request httpx timeouts that end no later than the deadline."""
        remaining = self.remaining()
        if remaining is None:
            return
        left = max(remaining, 0.001)
        request.extensions["timeout"] = {
            name: left if value is None else min(value, left) for name, value in timeout.as_dict().items()
        }

    def guard(self, response: httpx.Response) -> None:
        """Check every chunk of the response body against the limits (sync or async)."""
        self.heard()  # the headers arrived
        response.stream = _Guard(response.stream, self)

    def check(self) -> None:
        """Raise DeadlineExceeded when a limit passed."""
        reason = self.overdue()
        if reason is not None:
            raise DeadlineExceeded(reason)


class _Guard(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A response byte stream that checks the clock at each chunk."""

    def __init__(self, inner: httpx.SyncByteStream | httpx.AsyncByteStream, clock: CallClock) -> None:
        self._inner, self._clock = inner, clock

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._inner:  # type: ignore[union-attr]
            self._clock.check()
            yield chunk

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:  # type: ignore[union-attr]
            self._clock.check()
            yield chunk

    def close(self) -> None:
        self._inner.close()  # type: ignore[union-attr]

    async def aclose(self) -> None:
        await self._inner.aclose()  # type: ignore[union-attr]
