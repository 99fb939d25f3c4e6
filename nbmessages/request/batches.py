"""A batch's requests validated before sending, and the two batch APIs' wire shapes (Anthropic's, OpenRouter's).

A profile names its batch API (``Profile.batches``); the clients speak to whichever it names through the
same calls and get the same typed objects back.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol

from ..types import MessageCreateParams, RequestValidationError
from ..types.batches import (
    BATCH_LIFETIME_HOURS,
    MessageBatch,
    MessageBatchIndividualResponse,
    MessageBatchList,
    Problem,
    count_problems,
    custom_id_problems,
    params_problems,
    shown_problems,
    size_problems,
)
from .builder import Request


class Backend(Protocol):
    """What a batch needs of a profile (``Profile`` is one; profiles.py imports this module, not the reverse)."""

    @property
    def batches(self) -> AnthropicBatches | OpenRouterBatches | None: ...

    def check(self, params: MessageCreateParams, version: str) -> None: ...

    def body(self, params: MessageCreateParams, extra: dict[str, Any] | None) -> dict[str, Any]: ...


@dataclass(frozen=True)
class PreparedBatch:
    """A batch whose every request passed validation: custom ids, the Requests and their wire bodies."""

    custom_ids: list[str]
    requests: list[Request]
    bodies: list[dict[str, Any]]


def _prefixed(where: str, problems: Iterable[Problem]) -> Iterator[Problem]:
    for path, message in problems:
        yield (f"{where}.{path}" if path else where), message


def prepare_batch(items: Iterable[Mapping[str, Any]], profile: Backend, version: str) -> PreparedBatch:
    """Validate ``[{custom_id, params}]`` (params a Request or a dict) for ``profile``; raise naming every field."""
    items = list(items)
    problems: list[Problem] = list(count_problems(len(items)))
    if problems:  # too many (or none): no use validating each one
        raise RequestValidationError(problems)
    seen: set[str] = set()
    prepared = PreparedBatch([], [], [])
    for i, item in enumerate(items):
        where = f"requests[{i}]"
        if not isinstance(item, Mapping) or "params" not in item:
            problems.append((where, "must be a {'custom_id': ..., 'params': ...} mapping"))
            continue
        problems += custom_id_problems(where, item.get("custom_id"), seen)
        try:
            req = Request.of(item["params"])
            profile.check(req, version)
        except RequestValidationError as exc:
            problems += _prefixed(f"{where}.params", exc.problems)
            continue
        body = profile.body(req, req.extra_body)
        problems += params_problems(f"{where}.params", body)
        prepared.custom_ids.append(str(item.get("custom_id")))
        prepared.requests.append(req)
        prepared.bodies.append(body)
    if not problems and profile.batches is not None:
        problems += profile.batches.problems(prepared)
    if problems:
        raise RequestValidationError(shown_problems(problems))
    return prepared


def _checked_size(content: bytes) -> bytes:
    problems = list(size_problems(len(content)))
    if problems:
        raise RequestValidationError(problems)
    return content


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


class AnthropicBatches:
    """Anthropic's Message Batches: ``/v1/messages/batches``, results as JSONL at ``results_url``."""

    name = "Anthropic"
    inline_results = False

    def __repr__(self) -> str:
        return "AnthropicBatches()"

    def path(self, batch_id: str | None = None, action: str | None = None) -> str:
        """The path under the base URL of the collection, a batch, or an action on it."""
        return "/".join(p for p in ("v1/messages/batches", batch_id, action) if p)

    def problems(self, prepared: PreparedBatch) -> list[Problem]:
        """What this API refuses beyond the shared rules: nothing."""
        return []

    def create_body(self, prepared: PreparedBatch) -> bytes:
        """The JSON body of a create."""
        items = [{"custom_id": c, "params": b} for c, b in zip(prepared.custom_ids, prepared.bodies, strict=True)]
        return _checked_size(_dumps({"requests": items}))

    def list_params(self, limit: int | None, after_id: str | None, before_id: str | None) -> dict[str, Any]:
        """The query of a list call."""
        query = {"limit": limit, "after_id": after_id, "before_id": before_id}
        return {k: v for k, v in query.items() if v is not None}

    def batch(self, data: Any) -> MessageBatch:
        """The batch object of an answer."""
        return MessageBatch.model_validate(data)

    def page(self, data: Any) -> MessageBatchList:
        """A page of a list answer."""
        return MessageBatchList.model_validate(data)

    def supports(self, action: str) -> None:
        """Every action is supported."""

    def results(self, data: Any) -> Iterator[MessageBatchIndividualResponse]:
        """Results are not inline on Anthropic's API (they are read from ``results_url``)."""
        raise TypeError("Anthropic batches serve their results as JSONL at results_url")


# OpenRouter's statuses, as Anthropic's processing_status, and what its unfinished requests became
_OPENROUTER_STATUS = {
    "validating": ("in_progress", "processing"), "in_progress": ("in_progress", "processing"),
    "finalizing": ("in_progress", "processing"), "cancelling": ("canceling", "processing"),
    "completed": ("ended", "expired"), "failed": ("ended", "errored"), "expired": ("ended", "expired"),
    "cancelled": ("ended", "canceled"),
}
_NOT_TEXT = ("image", "document")


def _when(value: Any) -> datetime | None:
    """OpenRouter's Unix seconds (or an RFC 3339 string) as a datetime."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, timezone.utc)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _blocks_not_text(body: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for i, message in enumerate(body.get("messages") or ()):
        content = message.get("content")
        for j, block in enumerate(content if isinstance(content, list) else ()):
            where = f"messages[{i}].content[{j}]"
            if block.get("type") in _NOT_TEXT:
                yield where, block["type"]
            for k, inner in enumerate(block.get("content") if isinstance(block.get("content"), list) else ()):
                if isinstance(inner, dict) and inner.get("type") in _NOT_TEXT:
                    yield f"{where}.content[{k}]", inner["type"]


class OpenRouterBatches:
    """OpenRouter's beta Batch API: ``POST /api/beta/batches`` with one model, text only, results inline."""

    name = "OpenRouter"
    inline_results = True

    def __repr__(self) -> str:
        return "OpenRouterBatches()"
    endpoint = "/v1/messages"

    def path(self, batch_id: str | None = None, action: str | None = None) -> str:
        """The path under the base URL (``…/api``) of the collection or a batch."""
        return "/".join(p for p in ("beta/batches", batch_id, action) if p)

    def problems(self, prepared: PreparedBatch) -> list[Problem]:
        """One model for the whole batch, and no image or document blocks (OpenRouter's batches are text-only)."""
        problems: list[Problem] = []
        model = prepared.bodies[0].get("model") if prepared.bodies else None
        for i, body in enumerate(prepared.bodies):
            where = f"requests[{i}].params"
            if body.get("model") != model:
                problems.append((f"{where}.model", f"{body.get('model')!r}: an OpenRouter batch takes one model "
                                                   f"for every request (the first request's is {model!r})"))
            problems += [(f"{where}.{path}", f"a {kind} block: OpenRouter's batch API is text-only (it refuses "
                                             "image and document blocks); send this request in real time instead")
                         for path, kind in _blocks_not_text(body)]
        return problems

    def create_body(self, prepared: PreparedBatch) -> bytes:
        """The JSON body: ``endpoint`` and ``model`` before ``requests`` (OpenRouter stream-parses it)."""
        items = [{"custom_id": c, "body": b} for c, b in zip(prepared.custom_ids, prepared.bodies, strict=True)]
        body = {"endpoint": self.endpoint, "model": prepared.bodies[0].get("model"), "requests": items}
        return _checked_size(_dumps(body))

    def list_params(self, limit: int | None, after_id: str | None, before_id: str | None) -> dict[str, Any]:
        """The query of a list call (OpenRouter pages forward only)."""
        if before_id is not None:
            raise ValueError("before_id: OpenRouter's batch list pages forward only; use after_id")
        return {k: v for k, v in {"limit": limit, "after": after_id}.items() if v is not None}

    def batch(self, data: Any) -> MessageBatch:
        """OpenRouter's batch object as a MessageBatch (its own status and usage kept as extra fields)."""
        status = str(data.get("status"))
        processing_status, unfinished = _OPENROUTER_STATUS.get(status, ("in_progress", "processing"))
        counts = data.get("request_counts") or {}
        total, done, failed = (int(counts.get(k) or 0) for k in ("total", "completed", "failed"))
        tally = {"succeeded": done, "errored": failed}
        tally[unfinished] = tally.get(unfinished, 0) + max(total - done - failed, 0)
        created = _when(data.get("created_at")) or datetime.now(timezone.utc)
        return MessageBatch(
            id=str(data["id"]), processing_status=processing_status, request_counts=tally, created_at=created,
            expires_at=created + timedelta(hours=BATCH_LIFETIME_HOURS),
            ended_at=_when(data.get("finalized_at")) if processing_status == "ended" else None,
            status=status, model=data.get("model"), usage=data.get("usage"), error=data.get("error"),
        )

    def page(self, data: Any) -> MessageBatchList:
        """A page of OpenRouter's list answer, as MessageBatches."""
        items = [self.batch(item) for item in data.get("data") or ()]
        return MessageBatchList(data=items, has_more=bool(data.get("has_more")), first_id=data.get("first_id"),
                                last_id=data.get("last_id"))

    def supports(self, action: str) -> None:
        """Refuse what OpenRouter's batch API does not document (cancel, delete)."""
        if action in ("cancel", "delete"):
            raise NotImplementedError(
                f"{action}: OpenRouter's batch API (beta) documents no {action} endpoint; an OpenRouter batch "
                "runs until it completes or expires (24 h)")

    def results(self, data: Any) -> Iterator[MessageBatchIndividualResponse]:
        """The inline results of a completed batch, as individual responses."""
        for item in data.get("results") or ():
            response, error = item.get("response"), item.get("error")
            if response is not None and error is None and int(response.get("status_code") or 200) < 400:
                result: dict[str, Any] = {"type": "succeeded", "message": response.get("body") or {}}
            else:
                result = {"type": "errored", "error": _error_envelope(error or response)}
            yield MessageBatchIndividualResponse.model_validate({"custom_id": item["custom_id"], "result": result})


def _error_envelope(error: Any) -> dict[str, Any]:
    """An Anthropic-shaped error envelope from whatever OpenRouter put in a result's ``error``."""
    if isinstance(error, dict) and isinstance(error.get("body"), dict) and "error" in error["body"]:
        return {"type": "error", **error["body"]}
    if isinstance(error, dict):
        kind = error.get("type") or (f"http_{error['code']}" if error.get("code") else "api_error")
        return {"type": "error", "error": {"type": str(kind), "message": str(error.get("message") or error)}}
    return {"type": "error", "error": {"type": "api_error", "message": str(error)}}

