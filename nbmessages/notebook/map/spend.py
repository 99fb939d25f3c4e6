"""Budget reservation: before each send the map holds back the request's worst-case cost from the budget.

The client's ``Budget`` refuses a call only once the limit is already spent, so concurrent requests could
overshoot it; the map reserves ``input + max_tokens`` at the model's prices per request in flight and stops
sending, cleanly, when the budget's remaining USD would not cover the next one.
"""

from __future__ import annotations

from typing import Any

from ...ledger import prices


class SpendGate:
    """Reservations against one budget (no budget: everything passes)."""

    def __init__(self, budget: Any, provider: str | None) -> None:
        # a Budget that reserves at send by itself (it has `reserved`) refuses the call in the client, which
        # stops the map the same clean way: then reserving here too would count each request twice
        self.budget = None if hasattr(budget, "reserved") else budget
        self.provider = provider
        self.reserved = 0.0

    def worst_case(self, job: Any, input_tokens: int) -> float:
        """The most a job can cost: its input and all of its max_tokens at the model's prices (0 if unknown)."""
        if self.budget is None:
            return 0.0
        unit = prices.unit_prices(job.request.model, self.provider)
        if unit is None or unit.input is None or unit.output is None:
            return 0.0
        return float(input_tokens * unit.input + job.max_tokens * unit.output) / 1e6

    def reserve(self, usd: float) -> bool:
        """Hold ``usd`` back for a request about to go; False when the budget cannot cover it."""
        if self.budget is None:
            return True
        if self.budget.remaining - self.reserved < usd or self.budget.remaining <= 0:
            return False
        self.reserved += usd
        return True

    def settle(self, usd: float) -> None:
        """Release a reservation once its request ended (the budget itself counts the real cost)."""
        self.reserved = max(0.0, self.reserved - usd)
