"""Reading a successful response's body: a typed error, never a bare JSONDecodeError or an empty Message."""

from __future__ import annotations

import json
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from ..types import Message
from .errors import MalformedResponseError

Model = TypeVar("Model", bound=BaseModel)
_SHOWN = 120  # characters of a wrong body quoted in the error


def message_from(response: httpx.Response) -> Message:
    """The Message of a non-streamed answer; a body that is not one raises MalformedResponseError."""
    try:  # the answer as it nearly always is, parsed straight from the bytes (half the time of loads + validate)
        message = Message.model_validate_json(response.content)
    except ValidationError:
        pass
    else:
        if message.type == "message" and "content" in message.model_fields_set:
            return message
    body = json_body(response, "a Message")  # what is wrong with it, then
    if not isinstance(body, dict):
        raise malformed(response, f"the body is a JSON {type(body).__name__}, not a Message object")
    kind = body.get("type", "message")
    if kind == "error":
        found = body.get("error")
        error: dict[str, Any] = found if isinstance(found, dict) else {}
        detail = f"{error.get('type') or 'error'}: {error.get('message') or 'no message'}"
        raise malformed(response, f"the body is an error envelope, not a Message ({detail})")
    if kind != "message" or not isinstance(body.get("content"), list):
        raise malformed(response, f"the body is not a Message (type {kind!r}, keys {sorted(body)[:8]})")
    return model_from(response, Message, body)


def parsed(response: httpx.Response, model: type[Model]) -> Model:
    """A response body validated into ``model`` (count_tokens, models), or MalformedResponseError."""
    return model_from(response, model, json_body(response, model.__name__))


def json_body(response: httpx.Response, what: str) -> Any:
    """The body as JSON, or MalformedResponseError saying what came instead."""
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        kind = response.headers.get("content-type", "no content type")
        raise malformed(
            response, f"expected {what} as JSON; the body is not JSON ({kind}): {response.text[:_SHOWN]!r}"
        ) from None


def model_from(response: httpx.Response, model: type[Model], body: Any) -> Model:
    """Validate a decoded body; the first problem is named with its path."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise malformed(response, f"the body is not a valid {model.__name__}: {where}: {first['msg']}") from None


def malformed(response: httpx.Response, detail: str) -> MalformedResponseError:
    """The error for a successful status with a body that is not what it claims."""
    return MalformedResponseError(
        f"the server answered {response.status_code} but {detail}",
        status_code=response.status_code,
        request_id=response.headers.get("request-id"),
        headers=response.headers,
    )
