"""The API's JSON error envelope and the exception that carries one out of a route."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

from ..types.rules import error_type_of


class ApiError(Exception):
    """An error answered as ``{"type": "error", "error": {...}, "request_id": ...}`` with its HTTP status."""

    def __init__(self, status: int, message: str, error_type: str | None = None,
                 headers: dict[str, str] | None = None, details: dict[str, Any] | None = None,
                 top: dict[str, Any] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type or error_type_of(status)
        self.headers = headers or {}
        self.details = details or {}  # more keys of the error object (OpenRouter: error_type, availability)
        self.top = top or {}  # more top-level keys (OpenRouter: openrouter_metadata)


def error_body(error_type: str, message: str, request_id: str | None, details: dict[str, Any] | None = None,
               top: dict[str, Any] | None = None) -> dict[str, Any]:
    """The error envelope, as the body of an HTTP error or the data of a stream ``error`` event."""
    # a message may quote the request, lone surrogates included: escape them, or the error itself cannot be sent
    message = message.encode("utf-8", "backslashreplace").decode("utf-8")
    error = {"type": error_type, "message": message, **(details or {})}
    return {"type": "error", "error": error, "request_id": request_id, **(top or {})}


def error_response(error: ApiError, request_id: str | None) -> JSONResponse:
    """The HTTP response of ``error``."""
    body = error_body(error.error_type, error.message, request_id, error.details, error.top)
    return JSONResponse(body, status_code=error.status, headers=error.headers)
