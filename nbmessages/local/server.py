"""The Starlette app: routes of the Messages API under ``/v1`` and ``/api/v1``, errors in the API's shape."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sse_starlette import EventSourceResponse
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import ids
from .billing import anthropic_usage, openrouter_usage, provider_name
from .cache import PromptCache
from .checks import api_version, check_count, check_create
from .envelopes import ApiError, error_response
from .events import Pace, message_events, paced_stream
from .faults import HTTP_FAULTS, Fault, FaultPlan
from .limits import HEADER as LIMITS_HEADER
from .limits import Admission, LimitBook, Refused
from .offline_model import respond
from .options import ServerConfig
from .tokens import count_input_tokens

logger = logging.getLogger("nbmessages.local")

MODELS = (
    ("claude-opus-4-8", "Claude Opus 4.8"), ("claude-sonnet-4-6", "Claude Sonnet 4.6"),
    ("claude-sonnet-4-5", "Claude Sonnet 4.5"), ("claude-haiku-4-5", "Claude Haiku 4.5"), ("nbmessages-offline", "nbmessages offline model"),
)


class ServerState:
    """What the server remembers between requests: prompt cache, fault counts, open streams."""

    def __init__(self, config: ServerConfig):
        self.config = config
        self.cache = PromptCache()
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


def is_openrouter(path: str) -> bool:
    """Whether ``path`` is on the OpenRouter-style ``/api`` base URL."""
    return path == "/api" or path.startswith("/api/")


def state_of(request: Request) -> ServerState:
    """The server state behind a request."""
    return request.app.state.local


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
        raise ApiError(401, why, "authentication_error")


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
        raise ApiError(413, f"request body is too large: over {limit} bytes (the limit)", "request_too_large")
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
    return body


async def incoming(request: Request) -> Incoming:
    """Auth, size and JSON checks shared by the POST routes."""
    config = state_of(request).config
    check_auth(request, config.key)
    body = parse_body(await read_body(request, config.max_body_size))
    return Incoming(body, is_openrouter(request.url.path), body_request_id(request))


def _header_number(request: Request, name: str, default: float) -> float:
    value = request.headers.get(name)
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not number >= 0:
        raise ApiError(400, f"{name}: must be a number >= 0 (got {value!r})")
    return number


def pace_of(request: Request, config: ServerConfig) -> Pace:
    """The pace of this request: the server's, overridden by ``x-nbmessages-pace`` / ``x-nbmessages-ttft``."""
    return Pace(_header_number(request, "x-nbmessages-pace", config.pace),
                _header_number(request, "x-nbmessages-ttft", config.ttft))


def fault_of(request: Request, state: ServerState, body: dict[str, Any]) -> Fault | None:
    """The fault this request gets, from ``x-nbmessages-fault`` or the server's policy."""
    try:
        return state.faults.choose(request.headers.get("x-nbmessages-fault"), ids.body_hash(body))
    except ValueError as exc:
        raise ApiError(400, f"x-nbmessages-fault: {exc}") from None


def http_fault(fault: Fault) -> ApiError:
    """The HTTP error a pre-response fault answers with."""
    status, message = HTTP_FAULTS[fault.name]
    headers = {}
    if fault.name == "rate_limit" or "retry_after" in fault.params:
        headers["retry-after"] = f"{fault.number('retry_after', 1.0):g}"
    return ApiError(status, message, headers=headers)


async def wait_unless_gone(request: Request, seconds: float) -> bool:
    """Sleep ``seconds``, ending early (False) if the client disconnects meanwhile."""
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while (left := end - loop.time()) > 0:
        await asyncio.sleep(min(left, 0.25))
        if await request.is_disconnected():
            return False
    return True


def build_message(state: ServerState, body: dict[str, Any], openrouter: bool) -> dict[str, Any]:
    """The complete assistant message for ``body`` (usage and, on /api/v1, OpenRouter's extras)."""
    reply = respond(body)
    model = str(body["model"])
    usage = anthropic_usage(state.cache.account(body), reply.output_tokens, reply.thinking_tokens,
                            reply.server_tool_use)
    message: dict[str, Any] = {
        "id": ids.derived_id("msg", ids.answer_seed(body)), "type": "message", "role": "assistant", "model": model,
        "content": reply.content, "stop_reason": reply.stop_reason, "stop_sequence": reply.stop_sequence,
        "stop_details": None, "container": None, "usage": usage,
    }
    if openrouter:
        message["provider"] = provider_name(model)
        message["usage"] = openrouter_usage(usage, model)
    return message


def admit(request: Request, state: ServerState, body: dict[str, Any]) -> Admission | None:
    """Take this request from its rate-limit buckets, or answer 429 with ``retry-after`` (None: no limits)."""
    try:
        buckets = state.limits.for_header(request.headers.get(LIMITS_HEADER))
    except ValueError as exc:
        raise ApiError(400, f"{LIMITS_HEADER}: {exc}") from None
    if buckets is None:
        return None
    try:
        return buckets.admit(count_input_tokens(body), int(body.get("max_tokens") or 0))
    except Refused as refused:
        if refused.retry_after == float("inf"):
            raise ApiError(429, f"this request alone exceeds the {refused.axis} rate limit; it can never be "
                           "admitted: make it smaller", "rate_limit_error",
                           headers={**refused.headers, "x-should-retry": "false"}) from None
        raise ApiError(429, f"Number of {refused.axis.replace('-', ' ')} has exceeded your per-minute rate limit",
                       "rate_limit_error",
                       headers={**refused.headers, "retry-after": f"{refused.retry_after:.3f}"}) from None


def settle(admission: Admission | None, message: dict[str, Any]) -> dict[str, str]:
    """Correct the buckets to the answer's real usage; the headers to send."""
    if admission is None:
        return {}
    usage = message["usage"]
    admission.settle(int(usage.get("output_tokens") or 0),
                     int(usage.get("input_tokens") or 0) + int(usage.get("cache_creation_input_tokens") or 0))
    return admission.headers


async def _counted(state: ServerState, stream: AsyncIterator[Any]) -> AsyncIterator[Any]:
    state.active_streams += 1
    try:
        async with contextlib.aclosing(stream):  # type: ignore[type-var]
            async for item in stream:
                yield item
    finally:
        state.active_streams -= 1


async def create_message(request: Request) -> Response:
    """``POST /v1/messages``: validate, pick a fault, answer with the offline model (JSON or SSE)."""
    state = state_of(request)
    got = await incoming(request)
    body, openrouter = got.body, got.openrouter
    version = api_version(request.headers.get("anthropic-version")) if not openrouter else "2023-06-01"
    pace = pace_of(request, state.config)
    check_create(body, anthropic=not openrouter, version=version)
    admission = admit(request, state, body)
    fault = fault_of(request, state, body)
    if fault is not None and fault.name in HTTP_FAULTS:
        raise http_fault(fault)
    if fault is not None and fault.name == "slow_start":
        await wait_unless_gone(request, fault.number("seconds", state.config.slow_start))
    message = build_message(state, body, openrouter)
    # the offline answer is known whole before it is sent, so the buckets are corrected at once
    headers = settle(admission, message)
    if body.get("stream"):
        if fault is not None and fault.name == "stall" and "seconds" not in fault.params:
            fault = Fault(fault.name, {**fault.params, "seconds": str(state.config.stall_cap)}, fault.spec)
        stream = paced_stream(message_events(message), pace, fault, request_id=got.request_id,
                              abort=request.scope["state"]["abort"],
                              comment="OPENROUTER PROCESSING" if openrouter else None)
        return EventSourceResponse(_counted(state, stream), ping=0, sep="\n", headers=headers)
    return await _whole_message(request, message, pace, fault, headers)


async def _whole_message(request: Request, message: dict[str, Any], pace: Pace, fault: Fault | None,
                         headers: dict[str, str]) -> Response:
    """A non-streaming answer after ttft plus the output's time at pace; stream faults have plain equivalents."""
    if not await wait_unless_gone(request, pace.ttft + pace.delay(message["usage"]["output_tokens"])):
        return Response(status_code=499)
    name = fault.name if fault is not None else None
    if name == "disconnect":
        request.scope["state"]["abort"]()
        await asyncio.sleep(0)  # let uvicorn see the closed connection: it then sends nothing
        return Response(status_code=499)
    if name == "error_event":
        raise ApiError(529, "Overloaded (nbmessages fault injection)")
    if name == "malformed":
        text = json.dumps(message, ensure_ascii=False)
        return Response(text[: len(text) // 2], media_type="application/json")
    if name == "stall":
        await wait_unless_gone(request, fault.number("seconds", state_of(request).config.stall_cap))
        raise ApiError(504, "the request stalled and timed out (nbmessages fault injection)")
    return JSONResponse(message, headers=headers)


async def count_tokens(request: Request) -> Response:
    """``POST /v1/messages/count_tokens``: the same count as usage, without touching the cache."""
    got = await incoming(request)
    version = api_version(request.headers.get("anthropic-version")) if not got.openrouter else "2023-06-01"
    check_count(got.body, anthropic=not got.openrouter, version=version)
    fault = fault_of(request, state_of(request), got.body)
    if fault is not None and fault.name in HTTP_FAULTS:
        raise http_fault(fault)
    return JSONResponse({"input_tokens": count_input_tokens(got.body)})


async def list_models(request: Request) -> Response:
    """``GET /v1/models``: a few well-known ids (the offline model answers to any name)."""
    check_auth(request, state_of(request).config.key)
    openrouter = is_openrouter(request.url.path)
    data = [{"type": "model", "id": (f"anthropic/{mid.replace('-4-', '-4.')}" if openrouter else mid),
             "display_name": name, "created_at": "2026-01-01T00:00:00Z"} for mid, name in MODELS]
    return JSONResponse({"data": data, "has_more": False, "first_id": data[0]["id"], "last_id": data[-1]["id"]})


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc, body_request_id(request))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        error = ApiError(405, f"method {request.method} is not allowed for {request.url.path}",
                         headers=dict(exc.headers or {}))
    elif exc.status_code == 404:
        error = ApiError(404, f"not found: {request.method} {request.url.path}")
    else:
        error = ApiError(exc.status_code, str(exc.detail))
    return error_response(error, body_request_id(request))


async def _crash(request: Request, exc: Exception) -> Response:
    logger.exception("internal error in the local server", exc_info=exc)
    return error_response(ApiError(500, "internal server error"), body_request_id(request))


def api_routes(handlers: dict[str, Callable[[Request], Awaitable[Response]]]) -> list[Route]:
    """The three endpoints under both base paths."""
    routes = []
    for prefix in ("/v1", "/api/v1"):
        routes += [
            Route(f"{prefix}/messages", handlers["create"], methods=["POST"]),
            Route(f"{prefix}/messages/count_tokens", handlers["count"], methods=["POST"]),
            Route(f"{prefix}/models", handlers["models"], methods=["GET"]),
        ]
    return routes


def create_app(config: ServerConfig) -> LocalApp:
    """The ASGI app of a local server (offline model, or replay/record when configured)."""
    if config.replay is not None or config.record is not None:
        from .proxy import proxy_routes  # only these modes need httpx and the cassette

        routes = proxy_routes(config)
    else:
        from .batches import batch_routes  # it imports this module

        routes = api_routes({"create": create_message, "count": count_tokens, "models": list_models}) + batch_routes()
    handlers = {ApiError: _api_error, HTTPException: _http_error, Exception: _crash}
    app = Starlette(routes=routes, exception_handlers=handlers)  # type: ignore[arg-type]
    state = ServerState(config)
    app.state.local = state
    return LocalApp(app, state)


def _aborter(receive: Receive) -> Callable[[], None]:
    """A function that drops the TCP connection at once (uvicorn's protocol cycle holds the transport)."""

    def abort() -> None:
        transport = getattr(getattr(receive, "__self__", None), "transport", None)
        if transport is None:
            raise ConnectionAbortedError("nbmessages: cannot reach the transport to drop the connection")
        transport.abort()

    return abort


class LocalApp:
    """The outermost ASGI layer: ``request-id`` (and on /api ``x-generation-id``) on every response."""

    def __init__(self, app: ASGIApp, state: ServerState):
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.state.requests += 1
        extra = scope.setdefault("state", {})
        extra["request_id"] = ids.request_id()
        extra["abort"] = _aborter(receive)
        if is_openrouter(scope["path"]):
            extra["generation_id"] = ids.generation_id()

        async def send_with_ids(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if "request-id" not in headers:  # replayed and proxied answers keep their own
                    headers["request-id"] = extra["request_id"]
                if "generation_id" in extra and "x-generation-id" not in headers:
                    headers["x-generation-id"] = extra["generation_id"]
            await send(message)

        await self.app(scope, receive, send_with_ids)
