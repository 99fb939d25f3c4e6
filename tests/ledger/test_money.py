"""USD amounts as text: a budget of $0.002 reads $0.002, never $0.00."""

from __future__ import annotations

import pytest

from nbmessages.ledger.budget import Budget, BudgetExceededError
from nbmessages.ledger.money import usd


def test_cents_from_a_cent_up_and_two_significant_digits_below():
    assert [usd(a) for a in (0, 5, 0.25, 0.01)] == ["$0.00", "$5.00", "$0.25", "$0.01"]
    assert [usd(a) for a in (0.002, 0.0016, 0.000001)] == ["$0.002", "$0.0016", "$0.000001"]


def test_spend_keeps_four_decimals():
    assert usd(0.0611, 4) == "$0.0611" and usd(0.000012, 4) == "$0.000012" and usd(0, 4) == "$0.0000"


def test_a_small_budget_is_shown_as_set():
    assert repr(Budget(0.002)) == "Budget(limit=$0.002, spent=$0.0000, calls=0)"


def test_the_budget_error_names_a_small_limit_as_set():
    budget = Budget(0.002)
    budget.spent = 0.0031
    with pytest.raises(BudgetExceededError, match=r"spent \$0\.0031 of \$0\.002\."):
        budget.before_request(None)
