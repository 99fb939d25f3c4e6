"""How the API's rate limits count: a token bucket per limit, shared by the embedded server and the map's limiter."""

from __future__ import annotations

import math
from collections.abc import Callable


class TokenBucket:
    """``rate`` tokens a second, holding ``capacity`` at most, starting full."""

    def __init__(self, rate: float, capacity: float, clock: Callable[[], float]) -> None:
        self.rate, self.capacity, self.clock = rate, capacity, clock
        self.level = capacity
        self.stamp = clock()

    def refill(self) -> float:
        """The level now."""
        now = self.clock()
        self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
        self.stamp = now
        return self.level

    def wait(self, amount: float) -> float:
        """Seconds until ``amount`` fits (0 when it fits now; inf when it is more than the bucket holds)."""
        if amount > self.capacity:
            return math.inf
        return max(0.0, (amount - self.refill()) / self.rate)
