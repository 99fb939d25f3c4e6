"""The budget guard: warns once at 80 %, refuses calls that would start past the limit, adjustable."""

from __future__ import annotations

import warnings

import pytest
from _ledger_records import SONNET_COST, record

from nbmessages import Client
from nbmessages.ledger.budget import Budget, BudgetExceededError


def test_warns_once_at_80_percent_and_refuses_past_the_limit() -> None:
    budget = Budget(SONNET_COST * 5)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):
            budget.before_request(None)
            budget.record(record())
        assert not caught  # 60 %
        budget.before_request(None)
        budget.record(record())  # 80 %
        budget.before_request(None)
        budget.record(record())  # 100 %
    assert len([w for w in caught if "budget" in str(w.message)]) == 1
    assert budget.spent == pytest.approx(SONNET_COST * 5)
    with pytest.raises(BudgetExceededError, match=r"spent \$0\.0611 of \$0\.06.*client\.budget\.limit"):
        budget.before_request(None)


def test_raising_the_limit_lets_calls_through_again() -> None:
    budget = Budget(0.01)
    with pytest.warns(UserWarning):
        budget.record(record())
    with pytest.raises(BudgetExceededError):
        budget.before_request(None)
    budget.limit = 10
    budget.before_request(None)
    assert budget.remaining == pytest.approx(10 - SONNET_COST)
    assert isinstance(BudgetExceededError("x"), RuntimeError)


def test_unknown_costs_count_zero_but_are_noted() -> None:
    budget = Budget(0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        budget.record(record("mystery-model-b1"))
    budget.record(record(with_message=False, outcome="rate_limit_error"))
    assert budget.spent == 0 and budget.unknown_cost_calls == 1 and budget.calls == 2
    with pytest.raises(BudgetExceededError, match="1 call of unknown cost not counted"):
        budget.before_request(None)


def test_provider_reported_cost_is_counted() -> None:
    budget = Budget(1.0)
    budget.record(record("anthropic/claude-sonnet-4.5", profile="openrouter",
                         usage={"input_tokens": 1, "output_tokens": 1, "cost": 0.5}))
    assert budget.spent == 0.5
    budget.reset()
    assert budget.spent == 0 and budget.calls == 0


def test_the_budget_and_the_ledger_are_found_by_their_protocols(tmp_path) -> None:
    from nbmessages.client.observers import SpendingGuard, UsageRecorder
    from nbmessages.ledger.store import get_ledger

    guard = Budget(3.0)
    assert isinstance(guard, SpendingGuard) and not isinstance(guard, UsageRecorder)
    client = Client(api_key="k", base_url="http://127.0.0.1:9", ledger=tmp_path / "l.sqlite", budget=guard)
    assert client.budget is guard and client.ledger is get_ledger(tmp_path / "l.sqlite")
    client.budget.limit = 4.0
    assert guard.limit == 4.0
    bare = Client(api_key="k", base_url="http://127.0.0.1:9", ledger=False)
    assert bare.budget is None and bare.ledger is None
