"""A request's worst-case cost, reserved when it is sent and settled when its record arrives.

Reserving at send, not counting at the end, is what keeps concurrent calls inside a budget: twenty calls
started together each see the others' reservations. The worst case is the input (estimated from the body:
text by length, images and PDF pages at fixed rates) at the higher of the input and cache-write prices, plus
``max_tokens`` at the output price. Server tool fees (web search) are not included.
"""

from __future__ import annotations

import base64
import threading
import weakref
from dataclasses import dataclass
from typing import Any

from . import prices

CHARS_PER_TOKEN = 3  # fewer characters per token than English averages: an estimate that errs high
IMAGE_TOKENS = 1_600  # an image at the API's default resolution (about 1.15 megapixels / 750)
PDF_PAGE_TOKENS = 3_000  # a page's text plus its image
PDF_BYTES_PER_PAGE = 50_000  # when the pages cannot be counted
OUTPUT_WITHOUT_MAX_TOKENS = 8_192  # OpenRouter lets max_tokens out: assume this many output tokens


@dataclass(frozen=True)
class Estimate:
    """A request's worst-case cost and what it was made of."""

    usd: float
    input_tokens: int
    output_tokens: int

    def describe(self) -> str:
        """The estimate in words, for error messages."""
        return (f"up to ${self.usd:.4f} (about {self.input_tokens} input tokens, "
                f"max_tokens {self.output_tokens} at the output price)")


def estimate_input_tokens(body: Any) -> int:
    """An upper-leaning estimate of a request body's input tokens."""
    if isinstance(body, dict):
        source_data = body.get("data") if body.get("type") == "base64" else None
        if isinstance(source_data, str):
            return _media_tokens(str(body.get("media_type", "")), source_data)
        return sum(len(str(key)) // CHARS_PER_TOKEN + 1 + estimate_input_tokens(v) for key, v in body.items())
    if isinstance(body, (list, tuple)):
        return sum(estimate_input_tokens(v) for v in body)
    if isinstance(body, str):
        return len(body) // CHARS_PER_TOKEN + 1
    return 1


def _media_tokens(media_type: str, data: str) -> int:
    if media_type != "application/pdf":
        return IMAGE_TOKENS
    raw = base64.b64decode(data)
    pages = raw.count(b"/Type /Page") - raw.count(b"/Type /Pages") or raw.count(b"/Type/Page") - raw.count(
        b"/Type/Pages")
    return max(pages, len(raw) // PDF_BYTES_PER_PAGE, 1) * PDF_PAGE_TOKENS


def worst_case(params: Any, provider: str | None) -> Estimate | None:
    """The most a request can cost; None when the model has no known price."""
    unit = prices.unit_prices(params.model, provider)
    if unit is None or unit.output is None or unit.input is None:
        return None
    input_tokens = estimate_input_tokens(params.to_dict())
    output_tokens = params.max_tokens if params.max_tokens is not None else OUTPUT_WITHOUT_MAX_TOKENS
    input_price = max(unit.input, unit.cache_write or 0.0)
    usd = (input_tokens * input_price + output_tokens * unit.output) / 1e6
    return Estimate(usd, input_tokens, output_tokens)


class Reservations:
    """Reserved amounts per request in flight; a request dropped unsent releases its reservation with it."""

    def __init__(self) -> None:
        self._lock = threading.RLock()  # a finalizer may run inside hold() on this very thread
        self._held: dict[int, tuple[float, weakref.finalize]] = {}  # requests are unhashable: keyed by id

    @property
    def total(self) -> float:
        """USD reserved by requests in flight."""
        with self._lock:
            return sum(usd for usd, _ in self._held.values())

    def hold(self, request: Any, usd: float) -> None:
        """Reserve ``usd`` for a request (released when it is settled, or when it is dropped unsent)."""
        key = id(request)
        with self._lock:
            held, done = self._held.pop(key, (0.0, None))
            if done is not None:
                done.detach()
            self._held[key] = (held + usd, weakref.finalize(request, self._forget, key))

    def release(self, request: Any) -> float:
        """Drop a request's reservation; returns what it held."""
        if request is None:
            return 0.0
        with self._lock:
            usd, done = self._held.pop(id(request), (0.0, None))
        if done is not None:
            done.detach()
        return usd

    def _forget(self, key: int) -> None:
        with self._lock:
            self._held.pop(key, None)
