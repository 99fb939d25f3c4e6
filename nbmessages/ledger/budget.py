"""A spending guard: reserves each request's worst-case cost at send, settles it on completion, warns at 80 %.

A request whose reservation would take spent plus reserved past the limit is refused, so concurrent calls
overshoot the limit by no more than one call's underestimated input, and a model without a known price is
refused while a budget is set (unless ``allow_unpriced``).
"""

from __future__ import annotations

import threading
import warnings
from typing import Any

from ..client.observers import CallRecord
from ..types import Explained
from . import prices
from .money import usd
from .reservations import Estimate, Reservations, worst_case

WARN_AT = 0.8


class BudgetExceededError(Explained, RuntimeError):
    """A call was refused because the session's spending budget is used up."""

    title = "Budget exceeded"
    hint = "`client.budget.reset()` starts counting again from zero."


class UnpricedModelError(BudgetExceededError):
    """A budget is set and no price is known for the model, so its cost cannot be bounded."""

    title = "No price known for this model"
    hint = "`client.budget.allow_unpriced = True` lets such calls run under the budget, their cost unknown."


class Budget:
    """An observer counting the cost of the calls it sees since it was set; adjust with ``budget.limit = N``."""

    def __init__(self, limit_usd: float, provider: str | None = None, allow_unpriced: bool = False) -> None:
        self._lock = threading.Lock()
        self._limit = float(limit_usd)
        self.provider = provider  # genai-prices provider id for reservations (None: guessed from the model)
        self.allow_unpriced = allow_unpriced  # let calls to models without a known price through
        self.reservations = Reservations()
        self.spent = 0.0
        self.calls = 0
        self.unknown_cost_calls = 0
        self._warned = False

    def __repr__(self) -> str:
        return f"Budget(limit={usd(self._limit)}, spent={usd(self.spent, 4)}, calls={self.calls})"

    @property
    def limit(self) -> float:
        """The limit in USD."""
        return self._limit

    @limit.setter
    def limit(self, value: float) -> None:
        with self._lock:
            self._limit = float(value)
            self._warned = self.spent >= WARN_AT * self._limit

    @property
    def remaining(self) -> float:
        """USD left before calls are refused (reservations of calls in flight not deducted)."""
        return self._limit - self.spent

    @property
    def reserved(self) -> float:
        """USD held by calls in flight (their worst case, until they finish)."""
        return self.reservations.total

    def reset(self) -> None:
        """Forget the spend counted so far."""
        with self._lock:
            self.spent, self.calls, self.unknown_cost_calls, self._warned = 0.0, 0, 0, False

    def _note(self) -> str:
        """A remark on calls whose cost could not be counted."""
        n = self.unknown_cost_calls
        return f" ({n} call{'s' if n != 1 else ''} of unknown cost not counted)" if n else ""

    def before_request(self, params: Any) -> None:
        """Reserve the request's worst-case cost, or refuse it when that would pass the limit."""
        estimate = worst_case(params, self.provider) if params is not None else None
        if params is not None and estimate is None and not self.allow_unpriced:
            raise UnpricedModelError(
                f"nbmessages budget: no price is known for model {params.model!r}, so its cost cannot be bounded "
                "and the call was refused. To allow such calls under the budget (their cost counts as unknown), "
                "set `client.budget.allow_unpriced = True`; or make the client without a budget."
            )
        with self._lock:
            reserved = self.reservations.total
            cost = estimate.usd if estimate is not None else 0.0
            if self.spent >= self._limit or self.spent + reserved + cost > self._limit:
                raise BudgetExceededError(self._refusal(reserved, estimate))
            if estimate is not None:
                self.reservations.hold(params, estimate.usd)

    def _refusal(self, reserved: float, estimate: Estimate | None) -> str:
        flight = f", {usd(reserved, 4)} reserved by calls in flight" if reserved else ""
        this = f"; this request could cost {estimate.describe()}" if estimate is not None else ""
        return (f"nbmessages budget exceeded: spent {usd(self.spent, 4)} of {usd(self._limit)}{flight}{self._note()}"
                f"{this}. Lower max_tokens, or raise the limit with "
                f"`client.budget.limit = N` (N in USD).")

    def record(self, record: CallRecord) -> None:
        """Count a finished call's cost; warn once when 80 % of the limit is spent."""
        msg = record.message
        usage = msg.usage if msg is not None else None
        model = (msg.model if msg is not None else "") or record.model_requested
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the ledger already warns about unknown prices
            cost = prices.cost_of(usage, model, prices.provider_id(record.profile, record.base_host), record.started_at)
        with self._lock:
            self.reservations.release(record.params)
            self.calls += 1
            if cost.usd is None:
                self.unknown_cost_calls += usage is not None
                return
            self.spent += cost.usd
            warn = not self._warned and self.spent >= WARN_AT * self._limit
            self._warned = self._warned or warn
        if warn:
            warnings.warn(
                f"nbmessages budget: spent {usd(self.spent, 4)} of {usd(self._limit)} "
                f"({self.spent / self._limit:.0%}){self._note()}; calls stop at the limit.",
                stacklevel=2,
            )
