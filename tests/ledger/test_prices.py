"""Prices: genai-prices with Messages-API usage normalised, provider cost preferred, unknown models NaN."""

from __future__ import annotations

import math
import warnings

import pytest
from _ledger_records import SONNET_COST, SONNET_USAGE, record

from nbmessages.ledger import prices
from nbmessages.ledger.store import Ledger
from nbmessages.types import Usage


def _usage(**kw: object) -> Usage:
    return Usage.model_validate({**SONNET_USAGE, **kw})


@pytest.mark.parametrize(("model", "provider"), [
    ("claude-sonnet-4-5", "anthropic"),
    ("anthropic/claude-sonnet-4.5", "openrouter"),
    ("anthropic/claude-sonnet-4.5", "anthropic"),
    ("claude-sonnet-4-5", None),
])
def test_sonnet_known_answer(model: str, provider: str | None) -> None:
    cost = prices.cost_of(_usage(), model, provider)
    assert cost.source == "price_table"
    assert cost.usd == pytest.approx(SONNET_COST, abs=1e-12)


def test_known_answer_recorded_on_both_spellings(tmp_path) -> None:
    led = Ledger(tmp_path / "u.sqlite")
    led.record(record())
    led.record(record("anthropic/claude-sonnet-4.5", profile="openrouter"))
    costs = [r["cost_usd"] for r in led.rows()]
    assert costs == [pytest.approx(SONNET_COST, abs=1e-12)] * 2


def test_one_hour_cache_writes_cost_more() -> None:
    split = {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 300}
    cost = prices.cost_of(_usage(cache_creation=split), "claude-sonnet-4-5", "anthropic")
    assert cost.usd == pytest.approx(SONNET_COST + 300 * (6 - 3.75) / 1e6)


def test_thinking_is_priced_as_output_not_twice() -> None:
    plain = prices.cost_of(_usage(), "claude-sonnet-4-5", "anthropic").usd
    thinking = prices.cost_of(_usage(output_tokens_details={"thinking_tokens": 400}), "claude-sonnet-4-5",
                              "anthropic").usd
    assert thinking == pytest.approx(plain)


def test_provider_cost_preferred() -> None:
    cost = prices.cost_of(_usage(cost=0.5), "anthropic/claude-sonnet-4.5", "openrouter")
    assert (cost.usd, cost.source) == (0.5, "provider")


def test_unknown_model_is_nan_with_one_warning(tmp_path) -> None:
    led = Ledger(tmp_path / "u.sqlite")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):
            led.record(record("mystery-model-x1"))
    named = [w for w in caught if "mystery-model-x1" in str(w.message)]
    assert len(named) == 1
    rows = led.rows()
    assert all(r["cost_usd"] is None and r["cost_source"] == "unknown" for r in rows)
    df = led.usage()
    assert math.isnan(df["cost_usd"].iloc[0])


def test_unit_prices_cached_and_cheap() -> None:
    p = prices.unit_prices("claude-sonnet-4-5", "anthropic")
    assert (p.input, p.cache_read, p.cache_write, p.output) == (3.0, 0.3, 3.75, 15.0)
    assert prices.unit_prices("claude-sonnet-4-5", "anthropic") is p
    assert prices.unit_prices("no-such-model-zz", "anthropic") is None


def test_provider_id_from_profile_and_host() -> None:
    assert prices.provider_id("openrouter", "openrouter.ai") == "openrouter"
    assert prices.provider_id("custom", "api.anthropic.com") == "anthropic"
    assert prices.provider_id("local", "127.0.0.1") is None


def test_the_same_usage_is_priced_once_a_day():
    prices_mod = prices
    usage = Usage(input_tokens=1234, output_tokens=567)
    prices_mod.clear_priced()
    first = prices_mod.price_usage(usage, "claude-sonnet-4-5", "anthropic")
    assert prices_mod.priced_usages() == 1
    assert prices_mod.price_usage(usage, "claude-sonnet-4-5", "anthropic") == first and prices_mod.priced_usages() == 1
    prices_mod.price_usage(Usage(input_tokens=1234, output_tokens=568), "claude-sonnet-4-5", "anthropic")
    assert prices_mod.priced_usages() == 2


def test_batch_calls_are_priced_at_the_batch_tier_or_half() -> None:
    from nbmessages.ledger.prices import BATCH_HALF, BATCH_TABLE, cost_of
    from nbmessages.types import Usage

    standard = Usage(input_tokens=10_000, output_tokens=2_000)
    batch = Usage(input_tokens=10_000, output_tokens=2_000, service_tier="batch")
    tiered = cost_of(batch, "claude-haiku-4-5", "anthropic")  # genai-prices has a batch tier for it
    assert tiered.source == BATCH_TABLE
    assert tiered.usd == pytest.approx(cost_of(standard, "claude-haiku-4-5", "anthropic").usd / 2)
    old = cost_of(batch, "claude-3-haiku-20240307", "anthropic")  # no batch tier in the table: half price
    assert old.source == BATCH_HALF
    assert old.usd == pytest.approx(cost_of(standard, "claude-3-haiku-20240307", "anthropic").usd / 2)
