"""Fault injection: parse ``x-nbmessages-fault`` and decide, per request, which fault applies."""

from __future__ import annotations

import math
import random
import threading
from collections import Counter
from dataclasses import dataclass, field

HTTP_FAULTS = {
    "rate_limit": (429, "Number of requests has exceeded your rate limit (nbmessages fault injection)"),
    "overloaded": (529, "Overloaded (nbmessages fault injection)"),
    "server_error": (500, "Internal server error (nbmessages fault injection)"),
    "bad_gateway": (502, "Bad gateway: the upstream returned an invalid response (nbmessages fault injection)"),
}
STREAM_FAULTS = ("disconnect", "error_event", "malformed", "stall")
FAULT_NAMES = (*HTTP_FAULTS, *STREAM_FAULTS, "slow_start", "unavailable")
NUMBER_PARAMS = ("after", "times", "seconds", "retry_after")
WHOLE_PARAMS = ("after", "times")
TEXT_PARAMS = ("type", "message", "code", "retryable", "fallback")  # the parameters that are not numbers
DEFAULT_AFTER = 6  # events sent before a mid-stream fault: message_start, ping, a block start, some text


@dataclass(frozen=True)
class Fault:
    """A fault and its parameters, e.g. ``rate_limit;retry_after=0.1;times=2``."""

    name: str
    params: dict[str, str] = field(default_factory=dict)
    spec: str = ""

    def number(self, key: str, default: float) -> float:
        """A numeric parameter, or ``default`` when it is absent."""
        return float(self.params[key]) if key in self.params else default

    @property
    def times(self) -> int | None:
        """How many requests with the same body get this fault (None: every one)."""
        return int(self.params["times"]) if "times" in self.params else None


def parse_fault(spec: str) -> Fault:
    """Parse ``NAME[;key=value]...``; ValueError says what is wrong."""
    name, *pairs = [part.strip() for part in spec.split(";")]
    if name not in FAULT_NAMES:
        raise ValueError(f"unknown fault {name!r}; known faults: {', '.join(FAULT_NAMES)}")
    params = {}
    for pair in filter(None, pairs):
        key, sep, value = pair.partition("=")
        if not sep:
            raise ValueError(f"fault parameter {pair!r} must be key=value")
        params[key.strip()] = value.strip()
    for key, value in params.items():
        if key in TEXT_PARAMS:
            continue
        if key not in NUMBER_PARAMS:
            known = ", ".join((*NUMBER_PARAMS, *TEXT_PARAMS))
            raise ValueError(f"unknown fault parameter {key!r}; known: {known}")
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        whole = key in WHOLE_PARAMS
        if not (math.isfinite(number) and number >= 0) or (whole and number != int(number)):
            kind = "a whole number" if whole else "a finite number"
            raise ValueError(f"fault parameter {key!r} must be {kind} >= 0 (got {value!r})")
    return Fault(name, params, spec.strip())


class FaultPlan:
    """The server's fault policy: a default fault at a rate (seeded RNG) and ``times=N`` counts per body."""

    def __init__(self, default: str | None = None, rate: float = 1.0, seed: int = 0):
        self.default = parse_fault(default) if default else None
        self.rate = rate
        self._random = random.Random(seed)
        self._seen: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()

    def choose(self, header: str | None, body_key: str) -> Fault | None:
        """The fault for one request: the header's, else the server's default drawn at its rate."""
        with self._lock:
            fault = parse_fault(header) if header else self._drawn()
            if fault is None or fault.times is None:
                return fault
            self._seen[(body_key, fault.spec)] += 1
            return fault if self._seen[(body_key, fault.spec)] <= fault.times else None

    def _drawn(self) -> Fault | None:
        if self.default is None or self._random.random() >= self.rate:
            return None
        return self.default

    def reset(self) -> None:
        """Forget the ``times`` counts."""
        with self._lock:
            self._seen.clear()
