"""The API's JSON error envelope and the exception that carries one out of a route."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

STATUS_TYPES = {
    400: "invalid_request_error", 401: "authentication_error", 403: "permission_error", 404: "not_found_error",
    405: "invalid_request_error", 413: "request_too_large", 429: "rate_limit_error", 500: "api_error",
    502: "api_error", 504: "timeout_error", 529: "overloaded_error",
}


class ApiError(Exception):
    """An error answered as ``{"type": "error", "error": {...}, "request_id": ...}`` with its HTTP status."""

    def __init__(self, status: int, message: str, error_type: str | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type or STATUS_TYPES.get(status, "api_error")
        self.headers = headers or {}


def error_body(error_type: str, message: str, request_id: str | None) -> dict[str, Any]:
    """The error envelope, as the body of an HTTP error or the data of a stream ``error`` event."""
    # a message may quote the request, lone surrogates included: escape them, or the error itself cannot be sent
    message = message.encode("utf-8", "backslashreplace").decode("utf-8")
    return {"type": "error", "error": {"type": error_type, "message": message}, "request_id": request_id}


def error_response(error: ApiError, request_id: str | None) -> JSONResponse:
    """The HTTP response of ``error``."""
    body = error_body(error.error_type, error.message, request_id)
    return JSONResponse(body, status_code=error.status, headers=error.headers)
