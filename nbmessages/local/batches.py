"""Message Batches on the embedded server: Anthropic's six endpoints and OpenRouter's beta ``/api/beta/batches``.

A batch is processed in the background over ``batch_delay`` seconds (``x-nbmessages-batch-delay`` per batch),
its requests in a shuffled order, so results come out of order. Each request is validated when processed (a
bad one ends ``errored``, as on the real API); ``x-nbmessages-fault`` (or the server's fault policy) marks
requests errored, ``x-nbmessages-batch-expire: F`` lets the last fraction F of them expire. Two faults act on
the create itself, as a crash in flight looks to a client: ``disconnect`` makes the batch, then drops the
connection before answering; ``stall;seconds=S`` makes the batch, then holds the answer S seconds.
"""

from __future__ import annotations

import asyncio
import json
import random
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from ..types import RequestValidationError
from ..types.batches import BATCH_LIFETIME_HOURS, MAX_BATCH_BYTES, MessageBatch, batch_problems
from ..types.rules import error_type_of
from . import ids
from .answers import build_message
from .checks import api_version, check_create
from .envelopes import ApiError, error_body
from .faults import HTTP_FAULTS, parse_fault
from .intake import ServerState, check_auth, header_number, parse_body, read_body, state_of, wait_unless_gone

STEPS = 10  # a batch's requests are processed in this many rounds spread over its delay
ROUND_SIZE = 500  # requests processed between yields to the event loop, so other calls stay served
LIST_LIMIT = (1, 1000)
OPENROUTER_ENDPOINT = "/v1/messages"
_NOT_TEXT = ("image", "document")
CREATE_FAULTS = ("disconnect", "stall")  # faults of the create call itself (the batch is made either way)


def _now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class LocalBatch:
    """A batch being (or done being) processed, with its results in the order they were produced."""

    id: str
    requests: list[tuple[str, dict[str, Any]]]
    version: str
    delay: float
    fault: str | None
    expire: float
    openrouter: bool = False
    model: str | None = None
    created_at: datetime = field(default_factory=_now)
    ended_at: datetime | None = None
    cancel_initiated_at: datetime | None = None
    results: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(
        ("succeeded", "errored", "canceled", "expired"), 0))
    task: asyncio.Task[None] | None = None

    @property
    def status(self) -> str:
        """Anthropic's processing_status."""
        if self.ended_at is not None:
            return "ended"
        return "canceling" if self.cancel_initiated_at is not None else "in_progress"

    def add(self, custom_id: str, result: dict[str, Any]) -> None:
        """Record one request's result."""
        self.results.append({"custom_id": custom_id, "result": result})
        self.counts[result["type"]] += 1

    def as_anthropic(self, base_url: str) -> dict[str, Any]:
        """The MessageBatch object."""
        done = sum(self.counts.values())
        batch = MessageBatch(
            id=self.id, processing_status=self.status,
            request_counts={**self.counts, "processing": len(self.requests) - done},
            created_at=self.created_at, expires_at=self.created_at + timedelta(hours=BATCH_LIFETIME_HOURS),
            ended_at=self.ended_at, cancel_initiated_at=self.cancel_initiated_at,
            results_url=f"{base_url}/v1/messages/batches/{self.id}/results" if self.ended_at else None,
        )
        return batch.model_dump(mode="json")

    def as_openrouter(self, with_results: bool) -> dict[str, Any]:
        """OpenRouter's batch object; its ``results`` inline once completed."""
        c = self.counts
        if self.ended_at is None:
            status = "cancelling" if self.cancel_initiated_at else ("in_progress" if self.results else "validating")
        elif c["expired"]:
            status = "expired"
        else:
            status = "cancelled" if c["canceled"] else "completed"
        results = None
        if status == "completed" and with_results:
            results = [_openrouter_result(r) for r in self.results]
        usage = None
        if self.ended_at is not None:
            costs = [r["result"]["message"]["usage"].get("cost") for r in self.results
                     if r["result"]["type"] == "succeeded"]
            usage = {"cost": sum(x for x in costs if x is not None), "is_byok": False}
        return {
            "id": self.id, "object": "batch", "endpoint": OPENROUTER_ENDPOINT, "model": self.model,
            "completion_window": "24h", "status": status, "created_at": int(self.created_at.timestamp()),
            "finalized_at": int(self.ended_at.timestamp()) if self.ended_at else None,
            "request_counts": {"total": len(self.requests), "completed": c["succeeded"], "failed": c["errored"]},
            "usage": usage, "results": results, "error": None,
        }


def _openrouter_result(line: dict[str, Any]) -> dict[str, Any]:
    result = line["result"]
    item: dict[str, Any] = {"id": "batch_req_" + line["custom_id"], "custom_id": line["custom_id"],
                            "response": None, "error": None}
    if result["type"] == "succeeded":
        item["response"] = {"status_code": 200, "request_id": ids.request_id(), "body": result["message"]}
    else:
        item["error"] = result.get("error", {}).get("error") or {"type": result["type"], "message": result["type"]}
    return item


class BatchStore:
    """The server's batches, newest last, and the background processing of each."""

    def __init__(self, state: ServerState) -> None:
        self.state = state
        self.batches: dict[str, LocalBatch] = {}

    def add(self, batch: LocalBatch) -> LocalBatch:
        """Keep a new batch and start processing it on the server's loop."""
        self.batches[batch.id] = batch
        batch.task = asyncio.get_running_loop().create_task(self._process(batch))
        return batch

    def get(self, batch_id: str, openrouter: bool = False) -> LocalBatch:
        """A batch by id, or 404."""
        batch = self.batches.get(batch_id)
        if batch is None or batch.openrouter != openrouter:
            raise ApiError(404, f"batch {batch_id!r} not found")
        return batch

    async def _process(self, batch: LocalBatch) -> None:
        order = list(range(len(batch.requests)))
        random.Random(batch.id).shuffle(order)  # results come out of order, as on the real API
        expiring = int(round(len(order) * batch.expire))
        to_run, to_expire = order[: len(order) - expiring], order[len(order) - expiring:]
        steps = max(1, min(STEPS, len(to_run)))
        for step in range(steps):
            await asyncio.sleep(batch.delay / steps)
            if batch.cancel_initiated_at is not None:
                break
            for k, index in enumerate(to_run[step::steps]):
                batch.add(batch.requests[index][0], self._answer(batch, batch.requests[index][1]))
                if k % ROUND_SIZE == ROUND_SIZE - 1:
                    await asyncio.sleep(0)
        done = {line["custom_id"] for line in batch.results}
        for index in to_run:
            if batch.requests[index][0] not in done:
                batch.add(batch.requests[index][0], {"type": "canceled"})
        for index in to_expire:
            batch.add(batch.requests[index][0], {"type": "expired"})
        batch.ended_at = _now()

    def _answer(self, batch: LocalBatch, params: dict[str, Any]) -> dict[str, Any]:
        """One request's result: errored if it is invalid or a fault hits it, else succeeded."""
        body = {"model": batch.model, **params} if batch.openrouter else params
        try:
            check_create(body, anthropic=not batch.openrouter, version=batch.version)
        except ApiError as exc:
            return _errored(exc.error_type, exc.message)
        fault = self.state.faults.choose(batch.fault, ids.body_hash(body))
        if fault is not None:
            status = HTTP_FAULTS.get(fault.name, (500, "Internal server error (nbmessages fault injection)"))
            return _errored(error_type_of(status[0]), status[1])
        message = build_message(self.state, body, batch.openrouter)
        message["usage"]["service_tier"] = "batch"
        if message["usage"].get("cost") is not None:
            message["usage"]["cost"] /= 2  # batches are billed at half price
        return {"type": "succeeded", "message": message}


def _errored(error_type: str, message: str) -> dict[str, Any]:
    return {"type": "errored", "error": error_body(error_type, message, ids.request_id())}


def store_of(request: Request) -> BatchStore:
    """The batch store of the server behind a request (made on its first batch call)."""
    app_state = request.app.state
    if not hasattr(app_state, "batches"):  # only the server's own loop gets here: no race
        app_state.batches = BatchStore(state_of(request))
    return app_state.batches


async def _body(request: Request) -> tuple[bytes, dict[str, Any]]:
    check_auth(request, state_of(request).config.key)
    raw = await read_body(request, MAX_BATCH_BYTES)
    return raw, parse_body(raw)


def _options(request: Request) -> dict[str, Any]:
    """The per-batch settings from the headers of a create (a fault of the create itself is not one)."""
    fault = request.headers.get("x-nbmessages-fault")
    if fault:
        try:
            parsed = parse_fault(fault)
        except ValueError as exc:
            raise ApiError(400, f"x-nbmessages-fault: {exc}") from None
        fault = None if parsed.name in CREATE_FAULTS else fault
    return {
        "delay": header_number(request, "x-nbmessages-batch-delay", state_of(request).config.batch_delay),
        "expire": header_number(request, "x-nbmessages-batch-expire", 0.0, upper=1.0),
        "fault": fault or None,
    }


async def _answer_created(request: Request, raw: bytes, answer: Response) -> Response:
    """The answer to a create whose batch is made, unless a create fault drops or holds it."""
    state = state_of(request)
    fault = state.faults.choose(request.headers.get("x-nbmessages-fault"), ids.body_hash(raw.decode()))
    if fault is None or fault.name not in CREATE_FAULTS:
        return answer
    if fault.name == "disconnect":
        request.scope["state"]["abort"]()
        await asyncio.sleep(0)  # let uvicorn see the closed connection: it then sends nothing
        return Response(status_code=499)
    await wait_unless_gone(request, fault.number("seconds", state.config.stall_cap))
    return answer


def _new_id(prefix: str) -> str:
    return ids.derived_id(prefix, secrets.token_hex(16))


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


async def create_batch(request: Request) -> Response:
    """``POST /v1/messages/batches``: validate the batch, start it, answer with the MessageBatch."""
    raw, body = await _body(request)
    version = api_version(request.headers.get("anthropic-version"))
    problems = [(k, "unknown field") for k in body if k != "requests"] + batch_problems(body.get("requests"))
    if problems:
        raise ApiError(400, str(RequestValidationError(problems)))
    pairs = [(r["custom_id"], r["params"]) for r in body["requests"]]
    batch = store_of(request).add(LocalBatch(_new_id("msgbatch"), pairs, version, **_options(request)))
    return await _answer_created(request, raw, JSONResponse(batch.as_anthropic(_base_url(request))))


def _page(items: list[dict[str, Any]], has_more: bool) -> dict[str, Any]:
    return {"data": items, "has_more": has_more, "first_id": items[0]["id"] if items else None,
            "last_id": items[-1]["id"] if items else None}


def _listed(request: Request, openrouter: bool) -> tuple[list[LocalBatch], bool]:
    """The batches of a list call, newest first, paged by ``limit`` and ``after_id``/``before_id``."""
    query = request.query_params
    try:
        limit = int(query.get("limit", "20"))
    except ValueError:
        limit = -1
    if not LIST_LIMIT[0] <= limit <= LIST_LIMIT[1]:
        raise ApiError(400, f"limit: must be an integer from {LIST_LIMIT[0]} to {LIST_LIMIT[1]} "
                            f"(got {query.get('limit')!r})")
    store = store_of(request)
    newest = [b for b in reversed(store.batches.values()) if b.openrouter == openrouter]
    positions = {b.id: i for i, b in enumerate(newest)}
    after, before = query.get("after_id") or query.get("after"), query.get("before_id")
    if before is not None:
        end = positions.get(before, 0)
        return newest[max(0, end - limit):end], end - limit > 0
    start = positions[after] + 1 if after in positions else 0
    return newest[start:start + limit], start + limit < len(newest)


async def list_batches(request: Request) -> Response:
    """``GET /v1/messages/batches``: newest first."""
    check_auth(request, state_of(request).config.key)
    batches, more = _listed(request, openrouter=False)
    return JSONResponse(_page([b.as_anthropic(_base_url(request)) for b in batches], more))


async def retrieve_batch(request: Request) -> Response:
    """``GET /v1/messages/batches/{id}``."""
    check_auth(request, state_of(request).config.key)
    batch = store_of(request).get(request.path_params["batch_id"])
    return JSONResponse(batch.as_anthropic(_base_url(request)))


async def cancel_batch(request: Request) -> Response:
    """``POST /v1/messages/batches/{id}/cancel``: requests not yet processed end canceled."""
    check_auth(request, state_of(request).config.key)
    batch = store_of(request).get(request.path_params["batch_id"])
    if batch.ended_at is None and batch.cancel_initiated_at is None:
        batch.cancel_initiated_at = _now()
    return JSONResponse(batch.as_anthropic(_base_url(request)))


async def delete_batch(request: Request) -> Response:
    """``DELETE /v1/messages/batches/{id}``: only once it ended."""
    check_auth(request, state_of(request).config.key)
    store = store_of(request)
    batch = store.get(request.path_params["batch_id"])
    if batch.ended_at is None:
        raise ApiError(400, f"batch {batch.id} is still processing; cancel it and wait until it ends to delete it")
    del store.batches[batch.id]
    return JSONResponse({"id": batch.id, "type": "message_batch_deleted"})


async def _jsonl(lines: list[dict[str, Any]]) -> AsyncIterator[bytes]:
    for start in range(0, len(lines), ROUND_SIZE):
        yield "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines[start:start + ROUND_SIZE]).encode()


async def batch_results(request: Request) -> Response:
    """``GET /v1/messages/batches/{id}/results``: one JSON result per line, in the order they were produced."""
    check_auth(request, state_of(request).config.key)
    batch = store_of(request).get(request.path_params["batch_id"])
    if batch.ended_at is None:
        raise ApiError(400, f"batch {batch.id} is still processing; its results are available once it ends")
    return StreamingResponse(_jsonl(list(batch.results)), media_type="application/binary")


# -- OpenRouter's beta batch API

def _openrouter_problems(body: dict[str, Any], keys: list[str]) -> list[tuple[str, str]]:
    if "requests" in keys and any(k in keys[keys.index("requests"):] for k in ("endpoint", "model")):
        return [("requests", "endpoint and model must come before requests in the JSON body")]
    if body.get("endpoint") != OPENROUTER_ENDPOINT:
        return [("endpoint", f"the embedded server emulates only {OPENROUTER_ENDPOINT!r} (got "
                             f"{body.get('endpoint')!r})")]
    if not isinstance(body.get("model"), str) or not body["model"]:
        return [("model", "is required: one model slug for the whole batch")]
    requests = body.get("requests")
    as_anthropic = [{"custom_id": r.get("custom_id"), "params": r.get("body")} if isinstance(r, dict) else r
                    for r in (requests if isinstance(requests, list) else [])]
    problems = batch_problems(as_anthropic if isinstance(requests, list) else requests)
    for i, item in enumerate(as_anthropic):
        params = item.get("params") if isinstance(item, dict) else None
        if not isinstance(params, dict):
            continue
        if params.get("model") not in (None, body["model"]):
            problems.append((f"requests[{i}].body.model", f"must match the batch's model {body['model']!r}"))
        for j, message in enumerate(params.get("messages") or ()):
            content = message.get("content") if isinstance(message, dict) else None
            for k, block in enumerate(content if isinstance(content, list) else ()):
                if isinstance(block, dict) and block.get("type") in _NOT_TEXT:
                    problems.append((f"requests[{i}].body.messages[{j}].content[{k}]",
                                     f"{block['type']} blocks are refused: the batch API is text-only"))
    return [(p.replace(".params", ".body"), m) for p, m in problems]


def _top_level_keys(raw: bytes) -> list[str]:
    """The top-level keys of a JSON object in the order sent (the hook sees nested objects first)."""
    objects: list[list[str]] = []

    def keep(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        objects.append([k for k, _ in pairs])
        return dict(pairs)

    json.loads(raw, object_pairs_hook=keep)
    return objects[-1]


async def create_openrouter_batch(request: Request) -> Response:
    """``POST /api/beta/batches``: ``endpoint`` and ``model`` first, text only; answers 202 ``validating``."""
    check_auth(request, state_of(request).config.key)
    raw = await read_body(request, MAX_BATCH_BYTES)
    body = parse_body(raw)
    problems = _openrouter_problems(body, _top_level_keys(raw))
    if problems:
        raise ApiError(400, str(RequestValidationError(problems)))
    pairs = [(r["custom_id"], r["body"]) for r in body["requests"]]
    batch = LocalBatch(_new_id("batch"), pairs, "2023-06-01", openrouter=True, model=body["model"],
                       **_options(request))
    store_of(request).add(batch)
    return await _answer_created(request, raw, JSONResponse(batch.as_openrouter(with_results=False),
                                                            status_code=202))


async def list_openrouter_batches(request: Request) -> Response:
    """``GET /api/beta/batches``: newest first, metadata only."""
    check_auth(request, state_of(request).config.key)
    batches, more = _listed(request, openrouter=True)
    return JSONResponse({"object": "list", **_page([b.as_openrouter(False) for b in batches], more)})


async def retrieve_openrouter_batch(request: Request) -> Response:
    """``GET /api/beta/batches/{id}``: the results inline once completed."""
    check_auth(request, state_of(request).config.key)
    batch = store_of(request).get(request.path_params["batch_id"], openrouter=True)
    return JSONResponse(batch.as_openrouter(with_results=True))


def batch_routes() -> list[Route]:
    """The batch endpoints: Anthropic's under /v1, OpenRouter's under /api/beta."""
    one = "/v1/messages/batches/{batch_id}"
    return [
        Route("/v1/messages/batches", create_batch, methods=["POST"]),
        Route("/v1/messages/batches", list_batches, methods=["GET"]),
        Route(one, retrieve_batch, methods=["GET"]),
        Route(one, delete_batch, methods=["DELETE"]),
        Route(f"{one}/cancel", cancel_batch, methods=["POST"]),
        Route(f"{one}/results", batch_results, methods=["GET"]),
        Route("/api/beta/batches", create_openrouter_batch, methods=["POST"]),
        Route("/api/beta/batches", list_openrouter_batches, methods=["GET"]),
        Route("/api/beta/batches/{batch_id}", retrieve_openrouter_batch, methods=["GET"]),
    ]
