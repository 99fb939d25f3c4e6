"""The exception hierarchy: one class per HTTP status and failure, each with what a user needs to act."""

from __future__ import annotations

import json
from typing import Any

import httpx

from ..types import Explained, Message, RequestValidationError
from ..types.openrouter import Availability, RouterMetadata
from ..types.redact import scrub, scrub_value
from ..types.rules import ERROR_TYPES, MAX_BODY_BYTES, error_type_of

__all__ = [
    "APIConnectionError", "APIError", "APIStatusError", "APITimeoutError", "AuthenticationError",
    "BadGatewayError", "BadRequestError", "BillingError", "ConflictError", "GatewayTimeoutError",
    "IncompleteStreamError", "InternalServerError", "MalformedStreamError", "NbmessagesError", "NotFoundError",
    "OverloadedError", "PermissionDeniedError", "RateLimitError", "RequestTimeoutError", "RequestTooLargeError",
    "RequestValidationError", "ServiceUnavailableError", "StreamError", "StreamEventError",
    "UnprocessableEntityError", "MalformedResponseError", "StreamTimeoutError",
]


class NbmessagesError(Explained, Exception):
    """Base of every error nbmessages raises (request validation errors are ValueErrors instead)."""

    title = "nbmessages error"


class APIError(NbmessagesError):
    """A failed exchange with the API: status, error type, message, request id and response headers.

    From OpenRouter also ``canonical_type`` (``error.error_type``, lossless where ``error_type`` is not),
    ``availability`` (why a model could not be served) and ``router`` (``openrouter_metadata``, when asked).
    """

    title = "API error"

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
        message = scrub(message)  # a proxy that echoes the key must not put it in the error box or the ledger
        super().__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code
        if error_type is not None:
            self.error_type = error_type
        self.request_id = request_id
        self.headers = headers if headers is not None else httpx.Headers()
        self.body = scrub_value(body)
        self.canonical_type, self.availability, self.router = openrouter_details(self.body)

    def __str__(self) -> str:
        parts = [p for p in (str(self.status_code) if self.status_code else None, self.error_type) if p]
        head = f"[{' '.join(parts)}] " if parts else ""
        tail = f" (request id {self.request_id})" if self.request_id else ""
        return f"{head}{self.message}{tail}"


class APIStatusError(APIError):
    """The API answered with an error status; each status's subclass takes its error type from the shared table."""

    title = "The API refused the request"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.status_code is not None and "error_type" not in vars(cls):
            cls.error_type = error_type_of(cls.status_code)


class BadRequestError(APIStatusError):
    status_code, title = 400, "Bad request"


class AuthenticationError(APIStatusError):
    status_code, title = 401, "Authentication failed"
    hint = "Check the API key (ANTHROPIC_API_KEY or OPENROUTER_API_KEY, or api_key=); its value is never shown."


class BillingError(APIStatusError):
    status_code, title = 402, "Billing problem"
    hint = "Add credits to the account (or raise the key's limit), then try again."


class PermissionDeniedError(APIStatusError):
    status_code, title = 403, "Permission denied"


class NotFoundError(APIStatusError):
    status_code, title = 404, "Not found"
    hint = "Check the model name and the base URL."


class RequestTimeoutError(APIStatusError):
    status_code, title = 408, "The request timed out"
    hint = "Try again; long answers are safer streamed."


class ConflictError(APIStatusError):
    status_code, title = 409, "Conflict"


class RequestTooLargeError(APIStatusError):
    status_code, title = 413, "Request too large"
    hint = f"A request body takes at most {MAX_BODY_BYTES // 2**20} MB: send fewer or smaller attachments."


class UnprocessableEntityError(APIStatusError):
    status_code, title = 422, "Unprocessable request"


class RateLimitError(APIStatusError):
    status_code, title = 429, "Rate limited"
    hint = "Wait a moment and try again."


class InternalServerError(APIStatusError):
    status_code, title = 500, "Server error"
    hint = "Usually temporary: try again."


class BadGatewayError(InternalServerError):
    status_code, title = 502, "Bad gateway"


class ServiceUnavailableError(InternalServerError):
    status_code, title = 503, "Service unavailable"


class GatewayTimeoutError(InternalServerError):
    status_code, title = 504, "Gateway timeout"


class OverloadedError(InternalServerError):
    status_code, title = 529, "The API is overloaded"
    hint = "Wait a moment and try again."


_BY_STATUS: dict[int, type[APIStatusError]] = {
    cls.status_code: cls
    for cls in (
        BadRequestError, AuthenticationError, BillingError, PermissionDeniedError, NotFoundError,
        RequestTimeoutError, ConflictError, RequestTooLargeError, UnprocessableEntityError, RateLimitError,
        InternalServerError, BadGatewayError, ServiceUnavailableError, GatewayTimeoutError, OverloadedError,
    )
}


class APIConnectionError(APIError):
    """The API could not be reached, or the connection broke before an answer."""

    error_type, title = "connection_error", "Could not reach the API"
    hint = "Check the network and the base URL."


class APITimeoutError(APIConnectionError):
    """The API did not answer in time."""

    error_type, title = "timeout", "The API did not answer in time"
    hint = "Try again; long answers are safer streamed."


class MalformedResponseError(APIError):
    """A successful status whose body is not what it claims (not JSON, not a Message, an error envelope)."""

    error_type, title = "malformed_response", "The answer was not a Message"
    hint = "The server (or a proxy in front of it) answered 200 with something else; the message says what."


class StreamError(APIError):
    """A stream that failed after it started; ``partial_message`` holds everything received so far."""

    title = "The stream failed"
    hint = "The partial answer is kept; send the request again for a whole one."

    def __init__(self, message: str, *, partial_message: Message | None = None, **kw: Any):
        super().__init__(message, **kw)
        self.partial_message = partial_message


class StreamEventError(StreamError):
    """The server sent an ``error`` event mid-stream (``error_type`` says which, e.g. overloaded_error)."""

    title = "The server reported an error mid-stream"


class MalformedStreamError(StreamError):
    """An event could not be parsed, or events came in an impossible order."""

    error_type, title = "malformed_stream", "The stream could not be read"


class IncompleteStreamError(StreamError):
    """The stream ended (or the connection dropped) before ``message_stop``."""

    error_type, title = "incomplete_stream", "The stream broke off"


class StreamTimeoutError(IncompleteStreamError, APITimeoutError):
    """A stream that went quiet (no event within the idle limit) or passed its deadline; the answer is partial."""

    error_type, title = "timeout", "The stream went quiet"
    hint = "No event came within the idle limit (timeout=) or the call passed its deadline=; the partial answer is kept."


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
        error_type=error.get("type") or cls.error_type or ERROR_TYPES.get(status),
        request_id=request_id,
        headers=response.headers,
        body=body,
    )
