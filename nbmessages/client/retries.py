"""When to retry a failed request, and how long to wait first."""

from __future__ import annotations

import math
import random
from email.utils import parsedate_to_datetime
from time import time

import httpx

from .errors import APIConnectionError, APIError

NEVER_RETRIED = frozenset({400, 401, 402, 403, 404, 413, 422})
INITIAL_DELAY = 0.5
MAX_BACKOFF = 8.0
MAX_RETRY_WAIT = 60.0  # a server's retry-after beyond this is capped: a notebook should not hang for hours


def should_retry(error: APIError) -> bool:
    """Retry connection errors, timeouts, 408, 409, 429 and 5xx (529 included); obey x-should-retry.

    An OpenRouter availability error decides by its own ``retryable`` flag, whatever its status.
    """
    verdict = error.headers.get("x-should-retry")
    if verdict in ("true", "false"):
        return bool(verdict == "true")
    if error.availability is not None:
        return bool(error.availability.retryable)
    if isinstance(error, APIConnectionError):
        return True
    status = error.status_code or 0
    return status not in NEVER_RETRIED and (status in (408, 409, 429) or status >= 500)


def retry_delay(retries_done: int, headers: httpx.Headers, body_hint: float | None = None) -> float:
    """Seconds to wait: the body's hint (``availability.retry_after``), else retry-after-ms / retry-after, else backoff."""
    usable = body_hint is not None and math.isfinite(body_hint) and body_hint >= 0  # as a header's hint is read
    hinted = body_hint if usable else _hinted_delay(headers)
    if hinted is not None:
        return min(float(hinted), MAX_RETRY_WAIT)
    backoff = min(INITIAL_DELAY * 2.0**retries_done, MAX_BACKOFF)
    return backoff * (1 - 0.25 * random.random())


def _hinted_delay(headers: httpx.Headers) -> float | None:
    """The server's hint in seconds; a hint that is not a finite, non-negative number is ignored."""
    ms = _seconds(headers.get("retry-after-ms"))
    if ms is not None:
        return ms / 1000
    after = headers.get("retry-after")
    if after is None:
        return None
    seconds = _seconds(after)
    if seconds is not None:
        return seconds
    try:
        return max(parsedate_to_datetime(after).timestamp() - time(), 0.0)
    except (TypeError, ValueError, OverflowError):
        return None


def _seconds(value: str | None) -> float | None:
    try:
        number = float(value) if value is not None else math.nan
    except ValueError:
        return None
    return number if math.isfinite(number) and number >= 0 else None
