"""The ``usage`` object of a reply, with an OpenRouter-style cost on the ``/api/v1`` path."""

from __future__ import annotations

import functools
from typing import Any

from .cache import CacheUsage


def anthropic_usage(cache: CacheUsage, output_tokens: int, thinking_tokens: int,
                    server_tool_use: dict[str, int] | None = None) -> dict[str, Any]:
    """The Anthropic usage object (``input_tokens`` excludes cache reads and writes, as the API does)."""
    usage: dict[str, Any] = {
        "input_tokens": cache.input_tokens,
        "output_tokens": output_tokens,
        "cache_creation_input_tokens": cache.cache_write,
        "cache_read_input_tokens": cache.cache_read,
        "cache_creation": {"ephemeral_5m_input_tokens": cache.write_5m, "ephemeral_1h_input_tokens": cache.write_1h},
        "server_tool_use": server_tool_use,
        "service_tier": "standard",
        "inference_geo": None,
        "output_tokens_details": {"thinking_tokens": thinking_tokens} if thinking_tokens else None,
    }
    return usage


def provider_name(model: str) -> str:
    """The OpenRouter ``provider`` reported for ``model``."""
    return "Anthropic" if model.startswith("anthropic/") else "nbmessages-local"


@functools.lru_cache(maxsize=256)
def _price(model: str, total_input: int, output: int, read: int, write: int) -> tuple[float, float, float] | None:
    import genai_prices  # slow to import: only when a price is first needed

    usage = genai_prices.Usage(input_tokens=total_input, output_tokens=output, cache_read_tokens=read,
                               cache_write_tokens=write)
    for provider in ("openrouter", None):
        try:
            price = genai_prices.calc_price(usage, model_ref=model, provider_id=provider)
        except LookupError:
            continue
        return float(price.total_price), float(price.input_price), float(price.output_price)
    return None


def openrouter_usage(usage: dict[str, Any], model: str) -> dict[str, Any]:
    """``usage`` plus ``is_byok`` and, when genai-prices knows ``model``, ``cost`` and ``cost_details``."""
    read, write = usage["cache_read_input_tokens"], usage["cache_creation_input_tokens"]
    # genai-prices counts input_tokens as ALL input, cache reads and writes included
    total_input = usage["input_tokens"] + read + write
    out = {**usage, "is_byok": False}
    price = _price(model, total_input, usage["output_tokens"], read, write)
    if price is not None:
        total, prompt, completion = price
        out["cost"] = total
        out["cost_details"] = {"upstream_inference_cost": None, "upstream_inference_prompt_cost": prompt,
                               "upstream_inference_completions_cost": completion}
    return out
