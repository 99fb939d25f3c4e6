"""The Starlette app: routes of the Messages API under ``/v1`` and ``/api/v1``, errors in the API's shape."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from sse_starlette import EventSourceResponse
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..types.rules import DEFAULT_API_VERSION
from . import ids
from .answers import build_message
from .batches import batch_routes
from .billing import provider_name
from .checks import api_version, check_count, check_create
from .envelopes import ApiError, error_response
from .events import Pace, message_events, paced_stream
from .faults import HTTP_FAULTS, STREAM_FAULTS, Fault
from .intake import (
    Incoming,
    ServerState,
    body_request_id,
    check_auth,
    header_number,
    incoming,
    is_openrouter,
    state_of,
    wait_unless_gone,
)
from .limits import HEADER as LIMITS_HEADER
from .limits import Admission, Refused
from .openrouter import availability_fault, metadata_wanted, router_metadata, with_canonical_type
from .options import ServerConfig
from .tokens import count_input_tokens

logger = logging.getLogger("nbmessages.local")

MODELS = (
    ("claude-opus-4-8", "Claude Opus 4.8"), ("claude-sonnet-4-6", "Claude Sonnet 4.6"),
    ("claude-sonnet-4-5", "Claude Sonnet 4.5"), ("claude-haiku-4-5", "Claude Haiku 4.5"), ("nbmessages-offline", "nbmessages offline model"),
)


def pace_of(request: Request, config: ServerConfig) -> Pace:
    """The pace of this request: the server's, overridden by ``x-nbmessages-pace`` / ``x-nbmessages-ttft``."""
    return Pace(header_number(request, "x-nbmessages-pace", config.pace),
                header_number(request, "x-nbmessages-ttft", config.ttft))


def fault_of(request: Request, state: ServerState, body: dict[str, Any]) -> Fault | None:
    """The fault this request gets, from ``x-nbmessages-fault`` or the server's policy."""
    body_key = ids.body_hash(body)  # outside the try: only the header's own problems are blamed on it
    try:
        return state.faults.choose(request.headers.get("x-nbmessages-fault"), body_key)
    except ValueError as exc:
        raise ApiError(400, f"x-nbmessages-fault: {exc}") from None


def http_fault(fault: Fault) -> ApiError:
    """The HTTP error a pre-response fault answers with."""
    status, message = HTTP_FAULTS[fault.name]
    headers = {}
    if fault.name == "rate_limit" or "retry_after" in fault.params:
        headers["retry-after"] = f"{fault.number('retry_after', 1.0):g}"
    return ApiError(status, message, headers=headers)


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


class _Sent:
    """How many events of a stream went out, and their output tokens."""

    def __init__(self) -> None:
        self.events = self.tokens = 0

    def __call__(self, tokens: int) -> None:
        self.events += 1
        self.tokens += tokens


async def _billed(state: ServerState, generation_id: str, stream: AsyncIterator[Any], sent: _Sent,
                  total: int) -> AsyncIterator[Any]:
    """``stream``; when it ends before its last event (left early, or cut by a fault) the generation is re-billed."""
    try:
        async with contextlib.aclosing(stream):  # type: ignore[type-var]
            async for item in stream:
                yield item
    finally:
        if sent.events < total:
            state.generations.cancel(generation_id, sent.tokens)


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
    version = api_version(request.headers.get("anthropic-version")) if not openrouter else DEFAULT_API_VERSION
    pace = pace_of(request, state.config)
    check_create(body, anthropic=not openrouter, version=version)
    admission = admit(request, state, body)
    fault = fault_of(request, state, body)
    if fault is not None and fault.name in HTTP_FAULTS:
        raise http_fault(fault)
    if fault is not None and fault.name == "unavailable":
        fault = _availability(request, body, fault)
    if fault is not None and fault.name == "slow_start":
        await wait_unless_gone(request, fault.number("seconds", state.config.slow_start))
    message, headers = _answer(request, state, got, fault) if openrouter else (build_message(state, body, False), {})
    # the offline answer is known whole before it is sent, so the buckets are corrected at once
    headers = {**headers, **settle(admission, message)}
    if body.get("stream"):
        if fault is not None and fault.name == "stall" and "seconds" not in fault.params:
            fault = Fault(fault.name, {**fault.params, "seconds": str(state.config.stall_cap)}, fault.spec)
        mid_stream = fault if fault is not None and fault.name in (*STREAM_FAULTS, "unavailable") else None
        events, sent = _events(message), _Sent()
        stream = paced_stream(events, pace, mid_stream, request_id=got.request_id,
                              abort=request.scope["state"]["abort"],
                              comment="OPENROUTER PROCESSING" if openrouter else None, sent=sent)
        if openrouter:
            stream = _billed(state, got.request_id, stream, sent, len(events))
        return EventSourceResponse(_counted(state, stream), ping=0, sep="\n", headers=headers)
    return await _whole_message(request, message, pace, fault, headers)


def _availability(request: Request, body: dict[str, Any], fault: Fault) -> Fault:
    """An ``unavailable`` fault: an HTTP availability error, or (``after=N`` on a stream) one mid-stream."""
    if body.get("stream") and "after" in fault.params:
        return Fault(fault.name, {**fault.params, "model": str(body["model"])}, fault.spec)
    router = router_metadata(body, provider_name(str(body["model"])), served=False)
    raise availability_fault(fault, str(body["model"]), router if metadata_wanted(request.headers) else None)


def _answer(request: Request, state: ServerState, got: Incoming, fault: Fault | None
            ) -> tuple[dict[str, Any], dict[str, str]]:
    """The answer on /api/v1: from the response cache when it holds one, else made (and cached when asked)."""
    body = got.body
    found = state.response_cache.lookup(request.headers, got.raw, body, request.url.path)
    if found is not None and found.entry is not None:
        message = state.response_cache.hit_message(found.entry)
        state.generations.add(got.request_id, message, streamed=bool(body.get("stream")),
                              cache_source=found.entry.source_id)
        return message, state.response_cache.headers(found)
    message = build_message(state, body, True)
    state.generations.add(got.request_id, message, streamed=bool(body.get("stream")))
    if found is not None and (fault is None or fault.name == "slow_start"):  # only whole answers are cached
        state.response_cache.store(found, message, got.request_id)
    if metadata_wanted(request.headers):
        message["openrouter_metadata"] = router_metadata(body, message["provider"])
    return message, state.response_cache.headers(found) if found is not None else {}


def _events(message: dict[str, Any]) -> list[Any]:
    """The stream of ``message``; OpenRouter's metadata rides on the terminal ``message_stop``, as documented."""
    meta = message.pop("openrouter_metadata", None)
    events = message_events(message)
    if meta is not None:
        name, data, tokens = events[-1]
        events[-1] = (name, {**data, "openrouter_metadata": meta}, tokens)
    return events


async def _whole_message(request: Request, message: dict[str, Any], pace: Pace, fault: Fault | None,
                         headers: dict[str, str] | None = None) -> Response:
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
    if name == "stall" and fault is not None:
        await wait_unless_gone(request, fault.number("seconds", state_of(request).config.stall_cap))
        raise ApiError(504, "the request stalled and timed out (nbmessages fault injection)")
    return JSONResponse(message, headers=headers)


async def count_tokens(request: Request) -> Response:
    """``POST /v1/messages/count_tokens``: the same count as usage, without touching the cache."""
    got = await incoming(request)
    version = api_version(request.headers.get("anthropic-version")) if not got.openrouter else DEFAULT_API_VERSION
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


async def key_info(request: Request) -> Response:
    """``GET /api/v1/key``: the key's limit and what this server billed (OpenRouter's credits)."""
    check_auth(request, state_of(request).config.key)
    return JSONResponse(state_of(request).generations.key())


async def generation(request: Request) -> Response:
    """``GET /api/v1/generation?id=gen-…``: one answered call's record, its total_cost included."""
    check_auth(request, state_of(request).config.key)
    return JSONResponse(state_of(request).generations.get(request.query_params.get("id")))


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    if is_openrouter(request.url.path):
        exc = with_canonical_type(exc)
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


async def _gone(request: Request, exc: Exception) -> Response:
    logger.info("client disconnected before its request arrived: %s %s", request.method, request.url.path)
    return Response(status_code=499)


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
    if "key" in handlers:
        routes += [Route("/api/v1/key", handlers["key"], methods=["GET"]),
                   Route("/api/v1/generation", handlers["generation"], methods=["GET"])]
    return routes


def create_app(config: ServerConfig) -> LocalApp:
    """The ASGI app of a local server (offline model, or replay/record when configured)."""
    if config.replay is not None or config.record is not None:
        from .proxy import proxy_routes  # only these modes need httpx and the cassette

        routes = proxy_routes(config)
    else:
        routes = api_routes({"create": create_message, "count": count_tokens, "models": list_models,
                             "key": key_info, "generation": generation}) + batch_routes()
    handlers = {ApiError: _api_error, HTTPException: _http_error, ClientDisconnect: _gone, Exception: _crash}
    app = Starlette(routes=routes, exception_handlers=handlers)
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
