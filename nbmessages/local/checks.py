"""Request rules beyond the shared validation: API version, required max_tokens, count_tokens fields."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..types import OPENROUTER_ONLY_FIELDS, RequestValidationError, validate_params
from ..types.rules import COUNT_TOKENS_FIELDS, DEFAULT_API_VERSION, unsupported_version, version_problems
from .envelopes import ApiError


def api_version(value: str | None) -> str:
    """The ``anthropic-version`` in force; an unknown one is a 400."""
    if value is None:
        return DEFAULT_API_VERSION
    if (why := unsupported_version(value)) is not None:
        raise ApiError(400, f"anthropic-version: {why}")
    return value


def _anthropic_problems(body: dict[str, Any], version: str) -> Iterator[tuple[str, str]]:
    if "max_tokens" not in body:
        yield "max_tokens", "is required"
    for name in OPENROUTER_ONLY_FIELDS:
        if name in body:
            yield name, "unknown field (an OpenRouter-only field; the Anthropic API refuses it)"
    yield from version_problems(version, body)


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
    if anthropic:
        _raise(list(version_problems(version, body)))
