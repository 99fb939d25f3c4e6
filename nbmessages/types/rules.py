"""The API's rules that the client and the embedded server both apply, defined once for both.

API versions and what each removes, the body size limit, the fields ``count_tokens`` takes, the HTTP status
→ error type table, the backend-only field groups and the enum values front ends offer. The client checks a
request against these before sending it; the local server answers a request that breaks them with a 400.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, get_args

from .params import (
    MIN_THINKING_BUDGET as MIN_THINKING_BUDGET,  # the smallest budget_tokens: front ends bound inputs by it
)
from .params import Effort

API_VERSIONS = ("2023-06-01", "2026-10-21")
"""The ``anthropic-version`` values the API accepts (spec §0.1)."""
DEFAULT_API_VERSION = "2023-06-01"

SAMPLING_FIELDS = ("temperature", "top_p", "top_k")
REMOVED_FIELDS: dict[str, tuple[str, ...]] = {"2026-10-21": SAMPLING_FIELDS}
"""Request fields an API version refuses with a 400 (even at their default values)."""
STRICT_CONTENT_VERSIONS = ("2026-10-21",)
"""Versions that refuse a document block in an assistant turn and citations on user text."""
RESTRICTED_VERSIONS = frozenset(REMOVED_FIELDS) | frozenset(STRICT_CONTENT_VERSIONS)
"""Versions with any rule ``version_problems`` checks (the others accept every request the types accept)."""

MAX_BODY_BYTES = 32 * 1024 * 1024
"""The largest request body ``/v1/messages`` and ``count_tokens`` accept; past it the API answers 413."""

COUNT_TOKENS_FIELDS = (
    "model", "messages", "system", "tools", "tool_choice", "thinking", "output_config", "cache_control", "speed",
    "context_management",
)
"""The body fields ``POST /v1/messages/count_tokens`` takes: the client sends only these, the server refuses others."""

OPENROUTER_ONLY_FIELDS = (
    "provider", "plugins", "models", "fallbacks", "user", "session_id", "trace", "safeguards",
    "stop_server_tools_when", "deferred_tools", "route",
)
ANTHROPIC_ONLY_FIELDS = ("container", "diagnostics", "inference_geo")

ANTHROPIC_SERVICE_TIERS = ("auto", "standard_only")
OPENROUTER_SERVICE_TIERS = ("flex", "priority", "fast", "default")

EFFORTS: tuple[str, ...] = get_args(Effort)
"""The values of ``output_config.effort``, lowest first (what front ends offer)."""

ERROR_TYPES: dict[int, str] = {
    400: "invalid_request_error", 401: "authentication_error", 402: "billing_error", 403: "permission_error",
    404: "not_found_error", 405: "invalid_request_error", 408: "timeout_error", 409: "conflict_error",
    413: "request_too_large", 422: "invalid_request_error", 429: "rate_limit_error", 500: "api_error",
    502: "api_error", 503: "overloaded_error", 504: "timeout_error", 529: "overloaded_error",
}
"""The error ``type`` of each HTTP status (spec §5.2); the server answers with it, the client maps it to a class."""


def error_type_of(status: int) -> str:
    """The error type of an HTTP status (``api_error`` for one the table does not name)."""
    return ERROR_TYPES.get(status, "api_error")


def unsupported_version(value: str) -> str | None:
    """Why ``value`` is not an ``anthropic-version`` the API takes, or None when it is one."""
    if value in API_VERSIONS:
        return None
    allowed = ", ".join(repr(v) for v in API_VERSIONS)
    return f"{value!r} is not a supported version; use one of {allowed}"


def version_problems(version: str, body: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(field path, problem) for each part of a JSON request body that ``version`` refuses (spec §0.1)."""
    for name in REMOVED_FIELDS.get(version, ()):
        if name in body:  # even null: the API refuses the key itself
            yield name, f"was removed in anthropic-version {version}; drop it, or use anthropic-version {DEFAULT_API_VERSION}"
    if version not in STRICT_CONTENT_VERSIONS:
        return
    for i, message in enumerate(body.get("messages") or ()):
        content = message.get("content") if isinstance(message, Mapping) else None
        for j, block in enumerate(content if isinstance(content, list) else ()):
            if not isinstance(block, Mapping):
                continue
            where = f"messages[{i}].content[{j}]"
            if message.get("role") == "assistant" and block.get("type") == "document":
                yield where, f"a document block cannot be in an assistant message under anthropic-version {version}"
            if message.get("role") == "user":
                yield from _cited_user_text(where, block, version)


def _cited_user_text(where: str, block: Mapping[str, Any], version: str) -> Iterator[tuple[str, str]]:
    """User text with citations, directly or inside a search result (both refused by ``version``)."""
    if block.get("type") == "text" and block.get("citations"):
        yield f"{where}.citations", f"must be empty in a user message under anthropic-version {version}"
    if block.get("type") == "search_result":
        for k, inner in enumerate(block.get("content") or ()):
            if isinstance(inner, Mapping):
                yield from _cited_user_text(f"{where}.content[{k}]", inner, version)
