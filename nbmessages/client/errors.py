"""The exception hierarchy: one class per HTTP status and failure, each with what a user needs to act."""

from __future__ import annotations

import json
from typing import Any

import httpx

from ..types import Message, RequestValidationError
from ..types.openrouter import Availability, RouterMetadata

__all__ = [
    "APIConnectionError", "APIError", "APIStatusError", "APITimeoutError", "AuthenticationError",
    "BadGatewayError", "BadRequestError", "BillingError", "ConflictError", "GatewayTimeoutError",
    "IncompleteStreamError", "InternalServerError", "MalformedStreamError", "NbmessagesError", "NotFoundError",
    "OverloadedError", "PermissionDeniedError", "RateLimitError", "RequestTimeoutError", "RequestTooLargeError",
    "RequestValidationError", "ServiceUnavailableError", "StreamError", "StreamEventError",
    "UnprocessableEntityError",
]


class NbmessagesError(Exception):
    """Base of every error nbmessages raises (request validation errors are ValueErrors instead)."""


class APIError(NbmessagesError):
    """A failed exchange with the API: status, error type, message, request id and response headers.

    From OpenRouter also ``canonical_type`` (``error.error_type``, lossless where ``error_type`` is not),
    ``availability`` (why a model could not be served) and ``router`` (``openrouter_metadata``, when asked).
    """

    status_code: int | None = None
    error_type: str | None = None
    canonical_type: str | None = None
    availability: Availability | None = None
    router: RouterMetadata | None = None

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        error_type: str | None = None,
        request_id: str | None = None,
        headers: httpx.Headers | None = None,
        body: Any = None,
    ):
        super().__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code
        if error_type is not None:
            self.error_type = error_type
        self.request_id = request_id
        self.headers = headers if headers is not None else httpx.Headers()
        self.body = body
        self.canonical_type, self.availability, self.router = openrouter_details(body)

    def __str__(self) -> str:
        parts = [p for p in (str(self.status_code) if self.status_code else None, self.error_type) if p]
        head = f"[{' '.join(parts)}] " if parts else ""
        tail = f" (request id {self.request_id})" if self.request_id else ""
        return f"{head}{self.message}{tail}"


class APIStatusError(APIError):
    """The API answered with an error status."""


class BadRequestError(APIStatusError):
    status_code, error_type = 400, "invalid_request_error"


class AuthenticationError(APIStatusError):
    status_code, error_type = 401, "authentication_error"


class BillingError(APIStatusError):
    status_code, error_type = 402, "billing_error"


class PermissionDeniedError(APIStatusError):
    status_code, error_type = 403, "permission_error"


class NotFoundError(APIStatusError):
    status_code, error_type = 404, "not_found_error"


class RequestTimeoutError(APIStatusError):
    status_code, error_type = 408, "timeout_error"


class ConflictError(APIStatusError):
    status_code, error_type = 409, "conflict_error"


class RequestTooLargeError(APIStatusError):
    status_code, error_type = 413, "request_too_large"


class UnprocessableEntityError(APIStatusError):
    status_code, error_type = 422, "invalid_request_error"


class RateLimitError(APIStatusError):
    status_code, error_type = 429, "rate_limit_error"


class InternalServerError(APIStatusError):
    status_code, error_type = 500, "api_error"


class BadGatewayError(InternalServerError):
    status_code, error_type = 502, "api_error"


class ServiceUnavailableError(InternalServerError):
    status_code, error_type = 503, "overloaded_error"


class GatewayTimeoutError(InternalServerError):
    status_code, error_type = 504, "timeout_error"


class OverloadedError(InternalServerError):
    status_code, error_type = 529, "overloaded_error"


_BY_STATUS: dict[int, type[APIStatusError]] = {
    cls.status_code: cls  # type: ignore[misc]
    for cls in (
        BadRequestError, AuthenticationError, BillingError, PermissionDeniedError, NotFoundError,
        RequestTimeoutError, ConflictError, RequestTooLargeError, UnprocessableEntityError, RateLimitError,
        InternalServerError, BadGatewayError, ServiceUnavailableError, GatewayTimeoutError, OverloadedError,
    )
}


class APIConnectionError(APIError):
    """The API could not be reached, or the connection broke before an answer."""

    error_type = "connection_error"


class APITimeoutError(APIConnectionError):
    """The API did not answer in time."""

    error_type = "timeout"


class StreamError(APIError):
    """A stream that failed after it started; ``partial_message`` holds everything received so far."""

    def __init__(self, message: str, *, partial_message: Message | None = None, **kw: Any):
        super().__init__(message, **kw)
        self.partial_message = partial_message


class StreamEventError(StreamError):
    """The server sent an ``error`` event mid-stream (``error_type`` says which, e.g. overloaded_error)."""


class MalformedStreamError(StreamError):
    """An event could not be parsed, or events came in an impossible order."""

    error_type = "malformed_stream"


class IncompleteStreamError(StreamError):
    """The stream ended (or the connection dropped) before ``message_stop``."""

    error_type = "incomplete_stream"


def openrouter_details(body: Any) -> tuple[str | None, Availability | None, RouterMetadata | None]:
    """OpenRouter's additions to an error envelope: ``error.error_type``, ``error.availability``, metadata."""
    error = body.get("error") if isinstance(body, dict) else None
    error = error if isinstance(error, dict) else {}
    canonical = error.get("error_type") if isinstance(error.get("error_type"), str) else None
    availability = _parsed(Availability, error.get("availability"))
    router = _parsed(RouterMetadata, body.get("openrouter_metadata") if isinstance(body, dict) else None)
    return canonical, availability, router


def _parsed(model: Any, value: Any) -> Any:
    if not isinstance(value, dict):
        return None
    try:
        return model.model_validate(value)
    except ValueError:  # a malformed addition must not hide the error itself
        return None


def error_from_response(response: httpx.Response) -> APIStatusError:
    """The typed error for an HTTP error response (its body already read)."""
    body: Any
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = response.text
    error = body.get("error") if isinstance(body, dict) else None
    error = error if isinstance(error, dict) else {}
    message = error.get("message") or (body if isinstance(body, str) and body else response.reason_phrase)
    status = response.status_code
    cls = _BY_STATUS.get(status) or (InternalServerError if status >= 500 else APIStatusError)
    request_id = response.headers.get("request-id") or (body.get("request_id") if isinstance(body, dict) else None)
    return cls(
        str(message)[:2000],
        status_code=status,
        error_type=error.get("type") or cls.error_type,
        request_id=request_id,
        headers=response.headers,
        body=body,
    )
