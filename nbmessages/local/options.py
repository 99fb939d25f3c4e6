"""Settings of one local server."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..types.rules import MAX_BODY_BYTES
from .limits import RateLimits

DEFAULT_PACE = 150.0  # tokens per second, about what a mid-size model streams
DEFAULT_TTFT = 0.3
DEFAULT_BATCH_DELAY = 2.0


@dataclass(frozen=True)
class ServerConfig:
    """How a local server answers: pace, auth, limits, faults, and replay or record mode."""

    pace: float = DEFAULT_PACE
    ttft: float = DEFAULT_TTFT
    key: str | None = None
    max_body_size: int = MAX_BODY_BYTES  # the API's request size limit, unless a test wants a smaller one
    fault: str | None = None
    fault_rate: float = 1.0
    seed: int = 0
    stall_cap: float = 120.0
    slow_start: float = 5.0
    replay: str | Path | None = None
    record: str | Path | None = None
    upstream: str | None = None
    credit_limit: float | None = None  # the USD limit /api/v1/key reports (None: no limit)
    batch_delay: float = DEFAULT_BATCH_DELAY  # seconds a Message Batch takes to process
    rpm: float | None = None  # rate limits per minute (None: unlimited), enforced by token buckets
    itpm: float | None = None
    otpm: float | None = None
    burst: float = 60.0  # seconds of refill a bucket holds: 60 = a minute's allowance at once, 1 = smooth

    @property
    def limits(self) -> RateLimits:
        """The server's rate limits (validated)."""
        return RateLimits(self.rpm, self.itpm, self.otpm, self.burst)

    def __post_init__(self) -> None:
        if self.pace < 0 or self.ttft < 0 or self.batch_delay < 0:
            raise ValueError("pace, ttft and batch_delay must be >= 0")
        if not 0 <= self.fault_rate <= 1:
            raise ValueError("fault_rate must be between 0 and 1")
        if self.record is not None and not self.upstream:
            raise ValueError("record mode needs upstream=URL (where to forward requests)")
        if self.record is not None and self.replay is not None:
            raise ValueError("choose replay or record, not both")
        self.limits  # noqa: B018 - validates the limits now, not at the first request
