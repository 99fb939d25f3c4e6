"""The API's JSON error envelope and the exception that carries one out of a route."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

from ..types.rules import error_type_of


class ApiError(Exception):
    """An error answered as ``{"type": "error", "error": {...}, "request_id": ...}`` with its HTTP status."""

    def __init__(self, status: int, message: str, error_type: str | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type or error_type_of(status)
        self.headers = headers or {}


def error_body(error_type: str, message: str, request_id: str | None) -> dict[str, Any]:
    """The error envelope, as the body of an HTTP error or the data of a stream ``error`` event."""
    return {"type": "error", "error": {"type": error_type, "message": message}, "request_id": request_id}


def error_response(error: ApiError, request_id: str | None) -> JSONResponse:
    """The HTTP response of ``error``."""
    body = error_body(error.error_type, error.message, request_id)
    return JSONResponse(body, status_code=error.status, headers=error.headers)
