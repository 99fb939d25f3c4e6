"""Message Batches on the wire: the batch object, its per-request results, and the rules of a batch.

The rules are shared: the client refuses a bad batch before sending, the embedded server answers 400 with
the same words.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any, Literal, TypeAlias, Union

from pydantic import Discriminator, Field, Tag

from ._base import WireModel, type_tag
from .message import ErrorResponse, Message

CUSTOM_ID_PATTERN = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
MAX_BATCH_REQUESTS = 100_000
MAX_BATCH_BYTES = 256 * 1024 * 1024
MAX_PROBLEMS_SHOWN = 20  # a 100,000-request batch could have as many problems: show the first ones
BATCH_LIFETIME_HOURS = 24
ProcessingStatus = Literal["in_progress", "canceling", "ended"]
RESULT_TYPES = ("succeeded", "errored", "canceled", "expired")

Problem = tuple[str, str]


class MessageBatchRequestCounts(WireModel):
    """How many requests are still processing, and how many ended which way."""

    processing: int = 0
    succeeded: int = 0
    errored: int = 0
    canceled: int = 0
    expired: int = 0

    @property
    def total(self) -> int:
        """All requests of the batch."""
        return self.processing + self.succeeded + self.errored + self.canceled + self.expired


class MessageBatch(WireModel):
    """A batch: its processing status, request counts, and where its results are once it ended."""

    id: str
    type: str = "message_batch"
    processing_status: ProcessingStatus
    request_counts: MessageBatchRequestCounts = Field(default_factory=MessageBatchRequestCounts)
    created_at: datetime
    expires_at: datetime
    ended_at: datetime | None = None
    cancel_initiated_at: datetime | None = None
    archived_at: datetime | None = None
    results_url: str | None = None

    @property
    def ended(self) -> bool:
        """Whether processing ended (results can be read)."""
        return self.processing_status == "ended"


class DeletedMessageBatch(WireModel):
    """The answer of a delete."""

    id: str
    type: str = "message_batch_deleted"


class MessageBatchList(WireModel):
    """One page of batches, newest first."""

    data: list[MessageBatch] = Field(default_factory=list)
    has_more: bool = False
    first_id: str | None = None
    last_id: str | None = None


class MessageBatchSucceededResult(WireModel):
    type: Literal["succeeded"] = "succeeded"
    message: Message


class MessageBatchErroredResult(WireModel):
    type: Literal["errored"] = "errored"
    error: ErrorResponse = Field(default_factory=ErrorResponse)


class MessageBatchCanceledResult(WireModel):
    type: Literal["canceled"] = "canceled"


class MessageBatchExpiredResult(WireModel):
    type: Literal["expired"] = "expired"


class MessageBatchUnknownResult(WireModel):
    """A result type this version does not know: kept, not dropped."""

    type: str


# an open union on ``type``: a result type added later parses as MessageBatchUnknownResult
MessageBatchResult: TypeAlias = Annotated[
    Union[  # noqa: UP007
        Annotated[MessageBatchSucceededResult, Tag("succeeded")], Annotated[MessageBatchErroredResult, Tag("errored")],
        Annotated[MessageBatchCanceledResult, Tag("canceled")], Annotated[MessageBatchExpiredResult, Tag("expired")],
        Annotated[MessageBatchUnknownResult, Tag("unknown")],
    ],
    Discriminator(type_tag(RESULT_TYPES)),
]


class MessageBatchIndividualResponse(WireModel):
    """One line of a batch's results: which request (``custom_id``) and how it ended."""

    custom_id: str
    result: MessageBatchResult

    @property
    def message(self) -> Message | None:
        """The message of a succeeded request, else None."""
        return self.result.message if isinstance(self.result, MessageBatchSucceededResult) else None


# -- the rules of a batch (spec §5.5)

def custom_id_problems(where: str, custom_id: Any, seen: set[str]) -> Iterator[Problem]:
    """A custom_id must be 1-64 characters of ``[a-zA-Z0-9_-]`` and unique within the batch."""
    path = f"{where}.custom_id"
    if not isinstance(custom_id, str) or not CUSTOM_ID_PATTERN.match(custom_id):
        shown = repr(custom_id) if len(repr(custom_id)) <= 70 else repr(custom_id)[:67] + "..."
        yield path, f"must be 1 to 64 characters of letters, digits, '_' or '-' (got {shown})"
    elif custom_id in seen:
        yield path, f"duplicate custom_id {custom_id!r}; each request of a batch needs its own"
    else:
        seen.add(custom_id)


def params_problems(where: str, params: dict[str, Any]) -> Iterator[Problem]:
    """What a batch refuses in a request that a single call accepts: ``stream`` and ``max_tokens: 0``."""
    if "stream" in params:
        yield f"{where}.stream", "batches do not stream; drop stream (results are read once the batch ends)"
    if params.get("max_tokens") == 0:
        yield f"{where}.max_tokens", "must be at least 1 in a batch (max_tokens 0, cache pre-warming, is refused)"


def count_problems(count: int) -> Iterator[Problem]:
    """A batch holds 1 to 100,000 requests."""
    if count == 0:
        yield "requests", "a batch needs at least one request"
    elif count > MAX_BATCH_REQUESTS:
        yield "requests", (f"{count:,} requests; a batch takes at most {MAX_BATCH_REQUESTS:,}: "
                           "split them into several batches")


def size_problems(size: int) -> Iterator[Problem]:
    """A batch body is at most 256 MB."""
    if size > MAX_BATCH_BYTES:
        yield "requests", (f"the batch is {size / 2**20:.1f} MB; a batch takes at most "
                           f"{MAX_BATCH_BYTES // 2**20} MB: split it into several batches")


def shown_problems(problems: list[Problem]) -> list[Problem]:
    """The first problems, and how many more there are (an error message stays readable)."""
    if len(problems) <= MAX_PROBLEMS_SHOWN:
        return problems
    more = len(problems) - MAX_PROBLEMS_SHOWN
    return [*problems[:MAX_PROBLEMS_SHOWN], ("requests", f"... and {more:,} more problems")]


def batch_problems(requests: Any) -> list[Problem]:
    """The batch-level rules of a create body's ``requests`` (shape, count, custom_ids, stream, max_tokens)."""
    if not isinstance(requests, list):
        return [("requests", "must be a list of {custom_id, params} objects")]
    problems = list(count_problems(len(requests)))
    seen: set[str] = set()
    for i, item in enumerate(requests):
        where = f"requests[{i}]"
        if not isinstance(item, dict):
            problems.append((where, "must be an object with custom_id and params"))
            continue
        problems += custom_id_problems(where, item.get("custom_id"), seen)
        params = item.get("params")
        if not isinstance(params, dict):
            problems.append((f"{where}.params", "is required: the Messages request, as an object"))
            continue
        problems += params_problems(f"{where}.params", params)
        problems += [(f"{where}.{k}", "unknown field") for k in item if k not in ("custom_id", "params")]
    return shown_problems(problems)
