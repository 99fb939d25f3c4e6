"""Cost of a call in USD: the provider's reported cost when present, else priced with genai-prices.

genai-prices is imported lazily (it takes ~100 ms); model lookups are cached so pricing a record stays fast.
The Messages API's ``input_tokens`` excludes cache reads and writes, genai-prices' includes them: normalised here.
"""

from __future__ import annotations

import threading
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

from ..request.profiles import profile_of
from ..types import Usage

PROVIDER = "provider"
PRICE_TABLE = "price_table"
UNKNOWN = "unknown"
BATCH_TABLE = "price_table_batch"  # genai-prices' batch tier
BATCH_HALF = "batch_half_price"  # no batch tier known: half the standard price, as batches are billed
RESPONSE_CACHE = "response_cache"  # an OpenRouter response-cache HIT: billed $0, whatever the tokens say
GENERATION_LOOKUP = "generation_lookup"  # filled in later from OpenRouter's GET /api/v1/generation

_warned: set[str] = set()
_warn_lock = threading.Lock()


@dataclass(frozen=True)
class Cost:
    """A call's cost in USD (None when unknown) and where it came from."""

    usd: float | None
    # "provider" | "price_table" | "price_table_batch" | "batch_half_price" | "response_cache" | "generation_lookup"
    # | "unknown"
    source: str


@dataclass(frozen=True)
class UnitPrices:
    """USD per million tokens for one model: input, cache read, cache write, output."""

    input: float | None
    cache_read: float | None
    cache_write: float | None
    output: float | None


def provider_id(profile: str | None, base_host: str | None) -> str | None:
    """The genai-prices provider id for a client profile and host (None: let genai-prices guess from the model)."""
    known = profile_of(profile, base_host)
    return known.price_provider if known is not None else None


@lru_cache(maxsize=512)
def _lookup(model: str, provider: str | None) -> tuple[Any, Any] | None:
    """(genai-prices Provider, ModelInfo) for a model, trying the vendor of an OpenRouter slug too; None if unknown."""
    from genai_prices.data_snapshot import get_snapshot

    snapshot = get_snapshot()
    candidates: list[tuple[str, str | None]] = [(model, provider)]
    if "/" in model:
        vendor, _, name = model.partition("/")
        candidates += [(name, vendor), (name, None)]
    if provider is not None:
        candidates.append((model, None))
    for ref, prov in candidates:
        try:
            return snapshot.find_provider_model(ref, None, prov, None)
        except LookupError:
            continue
    return None


def _warn_unknown(model: str) -> None:
    """Warn once per model per process that its price is unknown."""
    with _warn_lock:
        if model in _warned:
            return
        _warned.add(model)
    warnings.warn(
        f"nbmessages: no price known for model {model!r}; its cost is recorded as unknown (NaN), not 0.",
        stacklevel=3,
    )


def _genai_usage(usage: Usage) -> Any:
    """A genai-prices Usage from Messages-API usage (input normalised to include cache reads and writes)."""
    from genai_prices import Usage as GUsage

    cache_write = usage.cache_creation_input_tokens or 0
    cache_read = usage.cache_read_input_tokens or 0
    output = usage.output_tokens or 0
    kw: dict[str, int] = {
        "input_tokens": (usage.input_tokens or 0) + cache_write + cache_read,
        "output_tokens": output,
        "cache_write_tokens": cache_write,
        "cache_read_tokens": cache_read,
    }
    split = usage.cache_creation
    if split is not None and cache_write:
        five, hour = split.ephemeral_5m_input_tokens or 0, split.ephemeral_1h_input_tokens or 0
        if five + hour == cache_write:
            kw["cache_write_5m_tokens"], kw["cache_write_1h_tokens"] = five, hour
    details = usage.output_tokens_details
    if details is not None and details.thinking_tokens:
        kw["output_reasoning_tokens"] = min(details.thinking_tokens, output)
    tools = usage.server_tool_use
    if tools is not None and tools.web_search_requests:
        kw["web_searches"] = tools.web_search_requests
    return GUsage(**kw)


def _price_context(usage: Usage) -> dict[str, str] | None:
    """genai-prices request context (fast mode, priority tier, batch) from the usage, if any."""
    ctx: dict[str, str] = {}
    if usage.speed and usage.speed != "standard":
        ctx["speed"] = usage.speed
    if usage.service_tier == "batch":
        ctx["processing"] = "batch"
    elif usage.service_tier and usage.service_tier != "standard":
        ctx["service_tier"] = usage.service_tier
    return ctx or None


def price_usage(
    usage: Usage, model: str, provider: str | None = None, when: datetime | None = None, quiet: bool = False
) -> float | None:
    """The table price in USD of one call's usage, or None (and one warning, unless ``quiet``) if the model is
    unknown."""
    found = _lookup(model, provider) if model else None
    if found is None:
        if not quiet:
            _warn_unknown(model or "<no model>")
        return None
    when = when or datetime.now(timezone.utc)
    split, details, tools = usage.cache_creation, usage.output_tokens_details, usage.server_tool_use
    key = (usage.input_tokens, usage.output_tokens, usage.cache_creation_input_tokens, usage.cache_read_input_tokens,
           split.ephemeral_5m_input_tokens if split else None, split.ephemeral_1h_input_tokens if split else None,
           details.thinking_tokens if details else None, tools.web_search_requests if tools else None,
           usage.speed, usage.service_tier)
    # priced once per distinct usage a day: the ledger and the front ends price the same call, and a map's
    # rows often use the same counts; price tables change by the day at most
    return _priced(model, provider, when, key, usage, quiet)


_cache: dict[tuple[Any, ...], float] = {}
_CACHE_SIZE = 8192


def priced_usages() -> int:
    """How many distinct usages are priced and kept (each is priced once a day)."""
    return len(_cache)


def clear_priced() -> None:
    """Forget the usages priced so far."""
    _cache.clear()


def _priced(model: str, provider: str | None, when: datetime, key: tuple[Any, ...], usage: Usage,
            quiet: bool = False) -> float:
    """The price of a usage (``key`` holds its counts), computed once per model, provider, UTC day and counts."""
    full = (model, provider, when.astimezone(timezone.utc).date(), key)
    found = _cache.get(full)
    if found is not None:
        return found
    if quiet:  # genai-prices' own warnings, silenced only here: an answer from the cache never warns
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _priced(model, provider, when, key, usage)
    prov, info = _lookup(model, provider)  # type: ignore[misc]
    calc = info.calc_price(_genai_usage(usage), prov, genai_request_timestamp=when, price_context=_price_context(usage))
    if len(_cache) >= _CACHE_SIZE:
        _cache.clear()
    _cache[full] = value = float(calc.total_price)
    return value


def cost_of(
    usage: Usage | None,
    model: str,
    provider: str | None = None,
    when: datetime | None = None,
    response_cache_hit: bool = False,
    quiet: bool = False,
) -> Cost:
    """The cost of one call: $0 for a response-cache HIT, the provider's cost, else the price table, else unknown.

    ``quiet``: no warnings (a front end showing a cost the ledger has already warned about).
    """
    if response_cache_hit:
        return Cost(0.0, RESPONSE_CACHE)
    if usage is None:
        return Cost(None, UNKNOWN)
    if usage.cost is not None:
        return Cost(float(usage.cost), PROVIDER)
    try:
        usd = price_usage(usage, model, provider, when, quiet)
        if usd is not None and usage.service_tier == "batch":
            return _batch_cost(usage, model, provider, when, usd)
    except (ValueError, TypeError, ArithmeticError) as exc:  # inconsistent counts
        if not quiet:
            warnings.warn(f"nbmessages: could not price a call to {model!r}: {exc}", stacklevel=2)
        return Cost(None, UNKNOWN)
    return Cost(usd, PRICE_TABLE if usd is not None else UNKNOWN)


def _batch_cost(usage: Usage, model: str, provider: str | None, when: datetime | None, usd: float) -> Cost:
    """A batch call: genai-prices' batch tier, or half the standard price where the table has none."""
    if _has_batch_tier(model, provider):
        return Cost(usd, BATCH_TABLE)
    return Cost(usd / 2, BATCH_HALF)  # without a batch tier the table priced it at the standard rate


@lru_cache(maxsize=512)
def _has_batch_tier(model: str, provider: str | None) -> bool:
    """Whether genai-prices prices batch calls of this model below its standard calls."""
    probe = {"input_tokens": 1_000_000, "output_tokens": 1_000_000}
    batch = price_usage(Usage(**probe, service_tier="batch"), model, provider)
    standard = price_usage(Usage(**probe), model, provider)
    return batch is not None and standard is not None and batch < standard * 0.99


@lru_cache(maxsize=512)
def unit_prices(model: str, provider: str | None = None) -> UnitPrices | None:
    """Current USD per million tokens of a model (flat base prices; tiers ignored), or None if unknown."""
    found = _lookup(model, provider)
    if found is None:
        return None
    price = found[1].get_prices(datetime.now(timezone.utc))

    def base(key: str) -> float | None:
        value = getattr(price, key, None)
        value = getattr(value, "base", value)
        return None if value is None else float(value)

    return UnitPrices(base("input_mtok"), base("cache_read_mtok"), base("cache_write_mtok"), base("output_mtok"))
