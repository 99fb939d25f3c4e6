"""OpenRouter's behaviour on ``/api/v1``: availability errors, the response cache, router metadata, ``/key``, ``/generation``.

Follows OpenRouter's documentation (2026-08): ``errors-and-debugging.mdx`` (``error.error_type`` beside the
Anthropic ``error.type``; ``error.availability``), ``response-caching.mdx``, ``router-metadata.mdx`` and the
OpenAPI ``/key`` and ``/generation`` operations.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from ..types.openrouter import (
    CACHE_AGE_HEADER,
    CACHE_CLEAR_HEADER,
    CACHE_HEADER,
    CACHE_SOURCE_HEADER,
    CACHE_STATUS_HEADER,
    CACHE_TTL_HEADER,
    LEGACY_METADATA_HEADER,
    MAX_CACHE_TTL,
    METADATA_HEADER,
    MIN_CACHE_TTL,
)
from .billing import openrouter_usage
from .envelopes import ApiError
from .faults import Fault

DEFAULT_CACHE_TTL = 300

# availability.code → (HTTP status, canonical error_type, retryable by default), as the docs' table has it
AVAILABILITY = {
    "model_not_found": (400, "invalid_request", False),
    "wrong_endpoint": (400, "invalid_request", False),
    "no_endpoints": (404, "not_found", False),
    "model_deprecated": (404, "not_found", False),
    "model_unavailable_upstream": (404, "not_found", False),
    "capacity_exhausted": (429, "rate_limit_exceeded", True),
    "temporarily_unavailable": (503, "provider_overloaded", True),
    "region_restricted": (403, "permission_denied", False),
    "privacy_restricted": (404, "not_found", False),
    "constraint_filtered": (404, "not_found", False),
    "free_variant_ended": (404, "not_found", False),
}
# the Anthropic skin's lossy error.type of each canonical error_type
ANTHROPIC_TYPES = {
    "invalid_request": "invalid_request_error", "not_found": "not_found_error", "authentication": "authentication_error",
    "permission_denied": "permission_error", "payment_required": "billing_error",
    "rate_limit_exceeded": "rate_limit_error", "provider_overloaded": "overloaded_error",
    "timeout": "timeout_error", "payload_too_large": "invalid_request_error",
}
# the canonical error_type of the statuses the server answers with
STATUS_ERROR_TYPES = {
    400: "invalid_request", 401: "authentication", 402: "payment_required", 403: "permission_denied",
    404: "not_found", 405: "invalid_request", 413: "payload_too_large", 429: "rate_limit_exceeded",
    500: "server", 502: "provider_unavailable", 503: "provider_overloaded", 504: "timeout",
    529: "provider_overloaded",
}


def availability_fault(fault: Fault, model: str, router: dict[str, Any] | None) -> ApiError:
    """The error of ``unavailable;code=…;retryable=…;retry_after=…;fallback=a|b`` (code default no_endpoints)."""
    code = fault.params.get("code", "no_endpoints")
    status, canonical, retryable = AVAILABILITY.get(code, (404, "not_found", False))
    if "retryable" in fault.params:
        retryable = fault.params["retryable"].lower() in ("true", "1", "yes")
    availability: dict[str, Any] = {
        "code": code, "retryable": retryable, "requested_models": [model],
        "affected_providers": ["nbmessages-local"], "docs_url": f"https://openrouter.ai/docs/errors#{code}",
    }
    if "retry_after" in fault.params:
        availability["retry_after"] = fault.number("retry_after", 0.0)
    if fault.params.get("fallback"):
        availability["fallback_models"] = [m for m in fault.params["fallback"].split("|") if m]
    if code in ("privacy_restricted", "constraint_filtered"):
        availability["excluded_by"] = ["data_policy:zdr" if code == "privacy_restricted" else "max_price"]
    headers = {"retry-after": f"{availability['retry_after']:g}"} if "retry_after" in availability else {}
    message = f"{model} is not available: {code} (nbmessages fault injection)"
    return ApiError(status, message, ANTHROPIC_TYPES.get(canonical, "api_error"), headers=headers,
                    details={"error_type": canonical, "availability": availability},
                    top={"openrouter_metadata": router} if router else None)


def with_canonical_type(error: ApiError) -> ApiError:
    """``error`` with OpenRouter's ``error.error_type`` added (the Anthropic skin carries both)."""
    if "error_type" not in error.details:
        error.details["error_type"] = STATUS_ERROR_TYPES.get(error.status, "unmapped")
    return error


# -- router metadata


def metadata_wanted(headers: Mapping[str, str]) -> bool:
    """Whether the request opted in (``X-OpenRouter-Metadata: enabled``, or the legacy header), any case."""
    value = headers.get(METADATA_HEADER) or headers.get(LEGACY_METADATA_HEADER) or ""
    return value.strip().lower() == "enabled"


def router_metadata(body: dict[str, Any], provider: str, served: bool = True) -> dict[str, Any]:
    """The ``openrouter_metadata`` of one answer: one local endpoint, selected when it served."""
    model = str(body.get("model"))
    endpoint = {"provider": provider, "model": model, "selected": served}
    meta: dict[str, Any] = {
        "requested": model, "strategy": "fallback" if body.get("models") else "direct", "region": "local",
        "summary": f"available=1{', selected=' + provider if served else ''}", "attempt": 1 if served else 0,
        "is_byok": False, "endpoints": {"total": 1, "available": [endpoint]},
    }
    if served:
        meta["attempts"] = [{"provider": provider, "model": model, "status": 200}]
    stages = [{"type": "plugin", "name": p["id"], "summary": f"{p['id']} ran (offline: no effect)"}
              for p in body.get("plugins") or [] if isinstance(p, dict) and p.get("enabled", True) is not False]
    if stages:
        meta["pipeline"] = stages
    return meta


# -- the response cache


def cache_ttl(value: str | None) -> int:
    """``X-OpenRouter-Cache-TTL`` as the docs parse it: leading digits, clamped to 1–86400, else the default."""
    match = re.match(r"^\s*(\d+)", value or "")
    if match is None:
        return DEFAULT_CACHE_TTL
    return min(max(int(match.group(1)), MIN_CACHE_TTL), MAX_CACHE_TTL)


@dataclass
class CacheEntry:
    """One cached answer: the message, when it was stored, until when it lives, which generation made it."""

    message: dict[str, Any]
    stored: float
    expires: float
    source_id: str


@dataclass(frozen=True)
class CacheLookup:
    """A request's place in the cache: its key and TTL, and the entry when it is a HIT."""

    key: str
    ttl: int
    entry: CacheEntry | None


class ResponseCache:
    """Answers cached by API key, endpoint, streaming mode, model and the SHA-256 of the normalised body."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._entries: dict[str, CacheEntry] = {}
        self._clock = clock
        self._lock = threading.Lock()

    def lookup(self, headers: Mapping[str, str], raw: bytes, body: dict[str, Any], path: str) -> CacheLookup | None:
        """None when the request did not enable caching; else its key, TTL and the live entry (a HIT) if any."""
        if (headers.get(CACHE_HEADER) or "").strip().lower() != "true":
            return None
        # whitespace is normalised away, property order is kept: it is part of the key, as documented
        normal = json.dumps(json.loads(raw), ensure_ascii=False, separators=(",", ":"))
        digest = hashlib.sha256(normal.encode()).hexdigest()
        auth = headers.get("authorization") or headers.get("x-api-key") or ""
        scope = hashlib.sha256(auth.encode()).hexdigest()[:16]
        key = f"{scope}:{path}:{bool(body.get('stream'))}:{body.get('model')}:{digest}"
        ttl = cache_ttl(headers.get(CACHE_TTL_HEADER))
        with self._lock:
            if (headers.get(CACHE_CLEAR_HEADER) or "").strip().lower() == "true":
                self._entries.pop(key, None)
            entry = self._entries.get(key)
            if entry is not None and entry.expires <= self._clock():
                del self._entries[key]
                entry = None
        return CacheLookup(key, ttl, entry)

    def store(self, found: CacheLookup, message: dict[str, Any], generation_id: str) -> None:
        """Keep a successful answer (never metadata: a replay must not pin stale routing)."""
        kept = {k: v for k, v in copy.deepcopy(message).items() if k != "openrouter_metadata"}
        now = self._clock()
        with self._lock:
            self._entries[found.key] = CacheEntry(kept, now, now + found.ttl, generation_id)

    def hit_message(self, entry: CacheEntry) -> dict[str, Any]:
        """The cached answer as a HIT returns it: the same content, every billable counter zero."""
        message = copy.deepcopy(entry.message)
        usage = message.get("usage") or {}
        for name in ("input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"):
            if name in usage:
                usage[name] = 0
        usage["cache_creation"] = None
        usage["cost"] = 0.0
        usage.pop("cost_details", None)
        message["usage"] = usage
        return message

    def headers(self, found: CacheLookup) -> dict[str, str]:
        """The response headers: status, and TTL (remaining on a HIT, with the age and the source generation)."""
        entry = found.entry
        if entry is None:
            return {CACHE_STATUS_HEADER: "MISS", CACHE_TTL_HEADER: str(found.ttl)}
        now = self._clock()
        return {CACHE_STATUS_HEADER: "HIT", CACHE_AGE_HEADER: str(int(now - entry.stored)),
                CACHE_TTL_HEADER: str(max(int(entry.expires - now), 0)), CACHE_SOURCE_HEADER: entry.source_id}


# -- /key and /generation


class Generations:
    """The generation records of this server (``GET /api/v1/generation``) and the key's usage (``/api/v1/key``)."""

    def __init__(self, credit_limit: float | None = None):
        self.credit_limit = credit_limit
        self._records: dict[str, dict[str, Any]] = {}
        self._usage: dict[str, dict[str, Any]] = {}  # the usage each record was billed from (to bill a cut stream)
        self._lock = threading.Lock()

    def add(self, generation_id: str, message: dict[str, Any], *, streamed: bool,
            cache_source: str | None = None) -> None:
        """Record one answered call."""
        usage = message.get("usage") or {}
        record = {
            "id": generation_id, "model": message.get("model"), "provider_name": message.get("provider"),
            "total_cost": float(usage.get("cost") or 0.0), "usage": float(usage.get("cost") or 0.0),
            "cache_discount": None, "upstream_inference_cost": None, "is_byok": False,
            "tokens_prompt": usage.get("input_tokens"), "tokens_completion": usage.get("output_tokens"),
            "native_tokens_prompt": usage.get("input_tokens"), "native_tokens_completion": usage.get("output_tokens"),
            "native_tokens_cached": usage.get("cache_read_input_tokens"), "streamed": streamed, "cancelled": False,
            "finish_reason": message.get("stop_reason"), "origin": "", "api_type": "completions",
            "created_at": datetime.now(timezone.utc).isoformat(), "response_cache_source_id": cache_source,
        }
        with self._lock:
            self._records[generation_id] = record
            if cache_source is None:  # a response-cache HIT stays free, however its stream ends
                self._usage[generation_id] = usage

    def cancel(self, generation_id: str, output_tokens: int) -> None:
        """A stream the client left early: billed, as OpenRouter does, for the input and the output it was sent."""
        with self._lock:
            record, usage = self._records.get(generation_id), self._usage.pop(generation_id, None)
            if record is None or usage is None:
                return
            billed = openrouter_usage({**usage, "output_tokens": output_tokens}, str(record["model"]))
            cost = float(billed.get("cost") or 0.0)
            record.update(cancelled=True, total_cost=cost, usage=cost, tokens_completion=output_tokens,
                          native_tokens_completion=output_tokens, finish_reason=None)

    def get(self, generation_id: str | None) -> dict[str, Any]:
        """``{"data": record}``, or the API's 400 / 404."""
        if not generation_id:
            raise with_canonical_type(ApiError(400, "id: the generation id is required (?id=gen-…)"))
        with self._lock:
            record = self._records.get(generation_id)
        if record is None:
            raise with_canonical_type(ApiError(404, f"generation {generation_id!r} not found"))
        return {"data": record}

    def key(self) -> dict[str, Any]:
        """``{"data": …}`` of ``GET /api/v1/key``: what this server billed, against its credit limit."""
        with self._lock:
            used = sum(r["total_cost"] for r in self._records.values())
        limit = self.credit_limit
        data = {
            "label": "nbmessages-local", "limit": limit, "limit_remaining": None if limit is None else limit - used,
            "limit_reset": None, "include_byok_in_limit": False, "usage": used, "usage_daily": used,
            "usage_weekly": used, "usage_monthly": used, "byok_usage": 0.0, "byok_usage_daily": 0.0,
            "byok_usage_weekly": 0.0, "byok_usage_monthly": 0.0, "is_free_tier": False, "is_management_key": False,
            "is_provisioning_key": False, "expires_at": None, "creator_user_id": None,
        }
        return {"data": data}
