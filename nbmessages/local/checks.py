"""Request rules beyond the shared validation: API version, required max_tokens, count_tokens fields."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..types import OPENROUTER_ONLY_FIELDS, SAMPLING_FIELDS, RequestValidationError, validate_params
from .envelopes import ApiError

DEFAULT_VERSION = "2023-06-01"
VERSIONS = ("2023-06-01", "2026-10-21")
COUNT_TOKENS_FIELDS = (
    "model", "messages", "system", "tools", "tool_choice", "thinking", "output_config", "cache_control", "speed",
    "context_management",
)


def api_version(value: str | None) -> str:
    """The ``anthropic-version`` in force; an unknown one is a 400."""
    if value is None:
        return DEFAULT_VERSION
    if value not in VERSIONS:
        raise ApiError(400, f"anthropic-version: {value!r} is not a supported version; use one of "
                            + ", ".join(repr(v) for v in VERSIONS))
    return value


def _v2026_problems(body: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """What ``anthropic-version: 2026-10-21`` removed (spec §0.1)."""
    for name in SAMPLING_FIELDS:
        if name in body:
            yield name, "was removed in anthropic-version 2026-10-21; drop it or send anthropic-version 2023-06-01"
    for i, message in enumerate(body.get("messages") or []):
        content = message.get("content") if isinstance(message, dict) else None
        for j, block in enumerate(content if isinstance(content, list) else []):
            if not isinstance(block, dict):
                continue
            where = f"messages[{i}].content[{j}]"
            if message.get("role") == "assistant" and block.get("type") == "document":
                yield where, "a document block cannot be in an assistant message under anthropic-version 2026-10-21"
            if message.get("role") == "user" and block.get("type") == "text" and block.get("citations"):
                yield f"{where}.citations", "must be empty in a user message under anthropic-version 2026-10-21"


def _anthropic_problems(body: dict[str, Any], version: str) -> Iterator[tuple[str, str]]:
    if "max_tokens" not in body:
        yield "max_tokens", "is required"
    for name in OPENROUTER_ONLY_FIELDS:
        if name in body:
            yield name, "unknown field (an OpenRouter-only field; the Anthropic API refuses it)"
    if version == "2026-10-21":
        yield from _v2026_problems(body)


def _raise(problems: list[tuple[str, str]]) -> None:
    if problems:
        raise ApiError(400, str(RequestValidationError(problems)))


def _validate(body: dict[str, Any]) -> None:
    try:
        validate_params(body)
    except RequestValidationError as exc:
        raise ApiError(400, str(exc)) from None


def check_create(body: dict[str, Any], *, anthropic: bool, version: str) -> None:
    """Validate a create body like the API: 400 naming the field."""
    _validate(body)
    if anthropic:
        _raise(list(_anthropic_problems(body, version)))


def check_count(body: dict[str, Any], *, anthropic: bool, version: str) -> None:
    """Validate a count_tokens body: the create rules, less max_tokens, and only the fields count_tokens takes."""
    _raise([(k, "unknown field (count_tokens does not take it)") for k in body if k not in COUNT_TOKENS_FIELDS])
    _validate(body)
    if anthropic and version == "2026-10-21":
        _raise(list(_v2026_problems(body)))
