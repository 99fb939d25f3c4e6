"""What every route does first with a request: find the server's state, check the key, the size and the JSON body."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from ..types.request_checks import json_problem
from . import ids
from .cache import PromptCache
from .envelopes import ApiError
from .faults import FaultPlan
from .limits import LimitBook
from .openrouter import Generations, ResponseCache
from .options import ServerConfig


class ServerState:
    """What the server remembers between requests: caches, fault counts, rate limits, streams, OpenRouter's records."""

    def __init__(self, config: ServerConfig):
        self.config = config
        self.cache = PromptCache()
        self.response_cache = ResponseCache()  # OpenRouter's, on /api/v1 only
        self.generations = Generations(config.credit_limit)
        self.faults = FaultPlan(config.fault, config.fault_rate, config.seed)
        self.limits = LimitBook(config.limits)
        self.active_streams = 0
        self.requests = 0


@dataclass
class Incoming:
    """A request that passed auth, size and JSON checks."""

    body: dict[str, Any]
    openrouter: bool
    request_id: str
    raw: bytes = b""  # the body as sent: OpenRouter's response cache keys on its SHA-256


def is_openrouter(path: str) -> bool:
    """Whether ``path`` is on the OpenRouter-style ``/api`` base URL."""
    return path == "/api" or path.startswith("/api/")


def state_of(request: Request) -> ServerState:
    """The server state behind a request."""
    state: ServerState = request.app.state.local
    return state


def body_request_id(request: Request) -> str:
    """The id in error bodies: ``req_…`` on /v1, the ``gen-…`` id on /api/v1 (as OpenRouter does)."""
    state = request.scope.get("state", {})
    return state.get("generation_id") or state.get("request_id") or ids.request_id()


def check_auth(request: Request, key: str | None) -> None:
    """401 unless the server has no key or the request carries it (``x-api-key`` or ``Authorization: Bearer``)."""
    if key is None:
        return
    bearer = request.headers.get("authorization", "")
    given = request.headers.get("x-api-key") or (bearer[7:].strip() if bearer.lower().startswith("bearer ") else None)
    if given != key:
        why = "invalid x-api-key" if given else "missing API key: send x-api-key or Authorization: Bearer"
        raise ApiError(401, why)


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, or 413 past ``limit`` bytes (the rest is drained, so the client still reads the answer)."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size <= limit:
            chunks.append(chunk)
        elif size > 4 * limit:  # not worth draining further: answer now
            break
    if size > limit:
        raise ApiError(413, f"request body is too large: over {limit} bytes (the limit)")
    return b"".join(chunks)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_body(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object, or a 400 saying why it is not one."""
    if not raw.strip():
        raise ApiError(400, "request body is empty; send a JSON object")
    try:
        body = json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise ApiError(400, f"request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ApiError(400, f"request body must be a JSON object, not a JSON {type(body).__name__}")
    problem = json_problem(body)
    if problem:
        raise ApiError(400, f"request body: {problem[0] or 'the body'} {problem[1]}")
    return body


async def incoming(request: Request) -> Incoming:
    """Auth, size and JSON checks shared by the POST routes."""
    config = state_of(request).config
    check_auth(request, config.key)
    raw = await read_body(request, config.max_body_size)
    return Incoming(parse_body(raw), is_openrouter(request.url.path), body_request_id(request), raw)


def header_number(request: Request, name: str, default: float, upper: float | None = None) -> float:
    """A request header holding a number >= 0 (at most ``upper``), else ``default``; a bad one is a 400 naming it."""
    value = request.headers.get(name)
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not number >= 0 or (upper is not None and number > upper):
        bound = f" and <= {upper:g}" if upper is not None else ""
        raise ApiError(400, f"{name}: must be a number >= 0{bound} (got {value!r})")
    return number


async def wait_unless_gone(request: Request, seconds: float) -> bool:
    """Sleep ``seconds``, ending early (False) if the client disconnects meanwhile."""
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while (left := end - loop.time()) > 0:
        await asyncio.sleep(min(left, 0.25))
        if await request.is_disconnected():
            return False
    return True
