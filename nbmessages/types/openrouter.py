"""OpenRouter's own wire objects: availability errors, router metadata, the key and generation records.

Shapes follow OpenRouter's documentation (docs repository, 2026-08): ``api_reference/errors-and-debugging.mdx``
(``error.error_type``, ``error.availability``), ``guides/features/router-metadata.mdx`` (``openrouter_metadata``),
``guides/features/response-caching.mdx`` (the ``X-OpenRouter-Cache*`` headers) and the OpenAPI paths ``/key``
and ``/generation``. All are response objects: unknown fields are kept.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from ._base import WireModel

AVAILABILITY_CODES = (
    "model_not_found", "wrong_endpoint", "no_endpoints", "model_deprecated", "model_unavailable_upstream",
    "capacity_exhausted", "temporarily_unavailable", "region_restricted", "privacy_restricted",
    "constraint_filtered", "free_variant_ended",
)
"""The documented ``availability.code`` values (the list is open: new codes may come; switch on ``retryable``)."""

CACHE_HEADER = "x-openrouter-cache"
CACHE_TTL_HEADER = "x-openrouter-cache-ttl"
CACHE_CLEAR_HEADER = "x-openrouter-cache-clear"
CACHE_STATUS_HEADER = "x-openrouter-cache-status"
CACHE_AGE_HEADER = "x-openrouter-cache-age"
CACHE_SOURCE_HEADER = "x-openrouter-cache-source-id"
METADATA_HEADER = "x-openrouter-metadata"
LEGACY_METADATA_HEADER = "x-openrouter-experimental-metadata"
MIN_CACHE_TTL, MAX_CACHE_TTL = 1, 86_400


class AvailabilityConstraint(WireModel):
    """The routing constraint that removed the last endpoints (``constraint_filtered``, ``wrong_endpoint``)."""

    field: str | None = None
    detail: str | None = None


class Availability(WireModel):
    """``error.availability``: why a model could not be served, whether to retry, what to use instead."""

    code: str
    retryable: bool = False
    retry_after: float | None = None
    requested_models: list[str] = Field(default_factory=list)
    affected_providers: list[str] | None = None
    excluded_by: list[str] | None = None
    fallback_models: list[str] | None = None
    constraint: AvailabilityConstraint | None = None
    docs_url: str | None = None

    @property
    def models_option(self) -> str | None:
        """The suggested fallback models as a ready ``--models`` value (None when there are none)."""
        if not self.fallback_models:
            return None
        return ",".join(self.fallback_models)


class EndpointInfo(WireModel):
    provider: str = ""
    model: str = ""
    selected: bool = False


class EndpointsMetadata(WireModel):
    total: int = 0
    available: list[EndpointInfo] = Field(default_factory=list)


class RouterAttempt(WireModel):
    provider: str = ""
    model: str = ""
    status: int | None = None


class PipelineStage(WireModel):
    type: str = ""
    name: str = ""
    summary: str | None = None
    data: dict[str, Any] | None = None
    cost_usd: float | None = None


class RouterMetadata(WireModel):
    """``openrouter_metadata``: what the router did (sent only with ``X-OpenRouter-Metadata: enabled``)."""

    requested: str = ""
    strategy: str | None = None
    region: str | None = None
    summary: str | None = None
    attempt: int | None = None
    is_byok: bool | None = None
    endpoints: EndpointsMetadata | None = None
    params: dict[str, Any] | None = None
    attempts: list[RouterAttempt] | None = None
    pipeline: list[PipelineStage] | None = None

    @property
    def selected(self) -> EndpointInfo | None:
        """The endpoint that served the answer (none on a failure)."""
        endpoints = self.endpoints.available if self.endpoints is not None else []
        return next((e for e in endpoints if e.selected), None)

    def headline(self) -> str:
        """One line: who served, after how many attempts, by which strategy (the ledger keeps this)."""
        chosen = self.selected
        served = f"{chosen.provider} ({chosen.model})" if chosen is not None else "no provider"
        parts = [f"served by {served}" if chosen is not None else served]
        if self.attempt is not None and self.attempt != 1:
            parts.append(f"attempt {self.attempt}")
        if self.strategy:
            parts.append(f"strategy {self.strategy}")
        if self.region:
            parts.append(f"region {self.region}")
        return ", ".join(parts)

    def detail_lines(self) -> list[str]:
        """The attempts, the endpoints considered and the pipeline stages, one line each."""
        lines = [f"requested `{self.requested}`" + (f": {self.summary}" if self.summary else "")]
        for a in self.attempts or ():
            lines.append(f"attempt: {a.provider} {a.model} → {a.status}")
        if self.endpoints is not None:
            names = ", ".join(f"{e.provider}{' ✓' if e.selected else ''}" for e in self.endpoints.available)
            lines.append(f"endpoints: {self.endpoints.total} ({names})" if names else f"endpoints: {self.endpoints.total}")
        for stage in self.pipeline or ():
            lines.append(f"{stage.type} {stage.name}" + (f": {stage.summary}" if stage.summary else ""))
        return lines


class ResponseCache(WireModel):
    """The response-cache headers of one answer: ``HIT`` or ``MISS``, age and TTL in seconds, the source id."""

    status: str
    age: float | None = None
    ttl: float | None = None
    source_id: str | None = None

    @property
    def hit(self) -> bool:
        """Whether the answer came from the cache (billed $0, usage zeroed)."""
        return self.status.upper() == "HIT"

    @classmethod
    def from_headers(cls, headers: Any) -> ResponseCache | None:
        """The cache facts of a response's headers, or None when it carries none."""
        status = headers.get(CACHE_STATUS_HEADER)
        if not status:
            return None
        return cls(status=status.upper(), age=_number(headers.get(CACHE_AGE_HEADER)),
                   ttl=_number(headers.get(CACHE_TTL_HEADER)), source_id=headers.get(CACHE_SOURCE_HEADER))


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class KeyInfo(WireModel):
    """``GET /api/v1/key``: the key's label, credit limit, usage and what is left of the limit (USD)."""

    label: str | None = None
    limit: float | None = None
    limit_remaining: float | None = None
    limit_reset: str | None = None
    usage: float | None = None
    usage_daily: float | None = None
    usage_weekly: float | None = None
    usage_monthly: float | None = None
    byok_usage: float | None = None
    include_byok_in_limit: bool | None = None
    is_free_tier: bool | None = None
    is_management_key: bool | None = None
    expires_at: str | None = None


class Generation(WireModel):
    """``GET /api/v1/generation?id=…``: one generation's record, its ``total_cost`` in USD included."""

    id: str
    model: str | None = None
    total_cost: float | None = None
    usage: float | None = None
    cache_discount: float | None = None
    upstream_inference_cost: float | None = None
    provider_name: str | None = None
    tokens_prompt: int | None = None
    tokens_completion: int | None = None
    native_tokens_prompt: int | None = None
    native_tokens_completion: int | None = None
    native_tokens_cached: int | None = None
    native_tokens_reasoning: int | None = None
    streamed: bool | None = None
    cancelled: bool | None = None
    finish_reason: str | None = None
    is_byok: bool | None = None
    created_at: str | None = None
    response_cache_source_id: str | None = None
