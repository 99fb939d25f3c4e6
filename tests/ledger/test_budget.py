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


# -- reservations: concurrent calls stay inside the limit; unpriced models are refused under a budget


def test_twenty_concurrent_calls_stay_within_one_call_of_the_limit(server) -> None:
    import asyncio

    from nbmessages import AsyncClient

    limit = 0.01

    async def main() -> tuple[list, AsyncClient]:
        client = AsyncClient(base_url=server.base_url, ledger=False, budget=limit)
        calls = [client.messages.create(model="claude-sonnet-4-5", max_tokens=200,
                                        messages=f"Tell me about concurrency, part {i}.") for i in range(20)]
        results = await asyncio.gather(*calls, return_exceptions=True)
        await client.close()
        return results, client

    results, client = asyncio.run(main())
    answered = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, BudgetExceededError)]
    assert answered and refused and len(answered) + len(refused) == 20
    one_call = max(r.usage.output_tokens for r in answered) * 15e-6 + 0.001
    assert client.budget.spent <= limit + one_call
    assert client.budget.reserved == 0  # every reservation was settled
    assert "reserved by calls in flight" in str(refused[0]) or "could cost up to" in str(refused[0])


def test_a_request_whose_worst_case_passes_the_limit_is_refused_before_sending(server) -> None:
    from nbmessages import Client

    client = Client(base_url=server.base_url, ledger=False, budget=0.01)
    served = server.requests_served
    with pytest.raises(BudgetExceededError, match=r"could cost up to \$0\.06.*max_tokens 4000.*Lower max_tokens"):
        client.messages.create(model="claude-sonnet-4-5", max_tokens=4000, messages="hi")
    assert server.requests_served == served and client.budget.reserved == 0
    assert client.messages.create(model="claude-sonnet-4-5", max_tokens=100, messages="hi").text


def test_an_unpriced_model_under_a_budget_is_refused_with_the_way_to_allow_it(server) -> None:
    from nbmessages import Client
    from nbmessages.ledger.budget import UnpricedModelError

    client = Client(base_url=server.base_url, ledger=False, budget=1.0)
    with pytest.raises(UnpricedModelError, match="no price is known.*allow_unpriced = True"):
        client.messages.create(model="mystery-model-b2", max_tokens=50, messages="hi")
    client.budget.allow_unpriced = True
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert client.messages.create(model="mystery-model-b2", max_tokens=50, messages="hi").text
    assert client.budget.unknown_cost_calls == 1


def test_estimates_count_text_images_and_pdf_pages() -> None:
    import base64

    from nbmessages.ledger.reservations import IMAGE_TOKENS, PDF_PAGE_TOKENS, estimate_input_tokens

    pdf = base64.b64encode(b"%PDF-1.4 /Type /Pages /Type /Page x /Type /Page y").decode()
    body = {"messages": [{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "A" * 10_000_000}},
        {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": pdf}},
        {"type": "text", "text": "word " * 300}]}]}
    tokens = estimate_input_tokens(body)
    assert IMAGE_TOKENS + 2 * PDF_PAGE_TOKENS + 500 < tokens < IMAGE_TOKENS + 2 * PDF_PAGE_TOKENS + 700
