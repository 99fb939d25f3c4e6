"""A spending guard: warns at 80 % of a USD limit and refuses calls that would start past it."""

from __future__ import annotations

import threading
import warnings
from typing import Any

from ..client.observers import CallRecord
from ..types import Explained
from . import prices
from .money import usd

WARN_AT = 0.8


class BudgetExceededError(Explained, RuntimeError):
    """A call was refused because the session's spending budget is used up."""

    title = "Budget exceeded"
    hint = "`client.budget.reset()` starts counting again from zero."


class Budget:
    """An observer counting the cost of the calls it sees since it was set; adjust with ``budget.limit = N``."""

    def __init__(self, limit_usd: float) -> None:
        self._lock = threading.Lock()
        self._limit = float(limit_usd)
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
        """USD left before calls are refused."""
        return self._limit - self.spent

    def reset(self) -> None:
        """Forget the spend counted so far."""
        with self._lock:
            self.spent, self.calls, self.unknown_cost_calls, self._warned = 0.0, 0, 0, False

    def _note(self) -> str:
        """A remark on calls whose cost could not be counted."""
        n = self.unknown_cost_calls
        return f" ({n} call{'s' if n != 1 else ''} of unknown cost not counted)" if n else ""

    def before_request(self, params: Any) -> None:
        """Refuse a call when the limit is already reached."""
        if self.spent >= self._limit:
            raise BudgetExceededError(
                f"nbmessages budget exceeded: spent {usd(self.spent, 4)} of {usd(self._limit)}{self._note()}. "
                "Raise it with `client.budget.limit = N` (N in USD)."
            )

    def record(self, record: CallRecord) -> None:
        """Count a finished call's cost; warn once when 80 % of the limit is spent."""
        msg = record.message
        usage = msg.usage if msg is not None else None
        model = (msg.model if msg is not None else "") or record.model_requested
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the ledger already warns about unknown prices
            cost = prices.cost_of(usage, model, prices.provider_id(record.profile, record.base_host), record.started_at)
        with self._lock:
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
