"""``client.messages.batches``: create, retrieve, list, cancel, delete and results, as in the official SDK.

Every request of a batch is validated (by ``Request`` and the profile) before anything is sent; results are
read line by line from the JSONL stream, so memory stays flat however large the batch.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urljoin

import httpx
from pydantic import ValidationError

from ..request.batches import AnthropicBatches, OpenRouterBatches, prepare_batch
from ..types.batches import (
    DeletedMessageBatch,
    MessageBatch,
    MessageBatchIndividualResponse,
    MessageBatchList,
)
from .errors import MalformedStreamError, NbmessagesError

if TYPE_CHECKING:
    from .base import BaseClient

# the client's send(request, stream=False): passed in, as the clients import this module
SyncSend = Callable[..., tuple[httpx.Response, int]]
AsyncSend = Callable[..., Awaitable[tuple[httpx.Response, int]]]

BatchItems = Iterable[Mapping[str, Any]]


class BatchNotEndedError(NbmessagesError):
    """Results were asked for while the batch is still processing."""


def _parse_line(number: int, line: str) -> MessageBatchIndividualResponse:
    try:
        return MessageBatchIndividualResponse.model_validate_json(line)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "the line"
        raise MalformedStreamError(f"batch results line {number} is not a result ({where}: {first['msg']}): "
                                   f"{line[:200]!r}") from None


def parse_results(lines: Iterable[str]) -> Iterator[MessageBatchIndividualResponse]:
    """Typed results from JSONL lines (blank lines skipped); a line that is no result is a MalformedStreamError."""
    for number, line in enumerate(lines, 1):
        if line.strip():
            yield _parse_line(number, line)


async def aparse_results(lines: AsyncIterator[str]) -> AsyncIterator[MessageBatchIndividualResponse]:
    """``parse_results`` over an async stream of lines."""
    number = 0
    async for line in lines:
        number += 1
        if line.strip():
            yield _parse_line(number, line)


class BatchResults:
    """The results of a batch, one per request in any order: iterate it (``with`` closes it early)."""

    def __init__(self, items: Iterator[MessageBatchIndividualResponse], close: Callable[[], None]) -> None:
        self._items, self._close = items, close

    def __iter__(self) -> BatchResults:
        return self

    def __next__(self) -> MessageBatchIndividualResponse:
        try:
            return next(self._items)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Close the connection (done by itself once every line is read)."""
        self._close()

    def __enter__(self) -> BatchResults:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


class AsyncBatchResults:
    """``BatchResults`` of the async client: ``async for result in ...``."""

    def __init__(self, items: AsyncIterator[MessageBatchIndividualResponse],
                 close: Callable[[], Awaitable[None]]) -> None:
        self._items, self._close = items, close

    def __aiter__(self) -> AsyncBatchResults:
        return self

    async def __anext__(self) -> MessageBatchIndividualResponse:
        try:
            return await self._items.__anext__()
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        """Close the connection (done by itself once every line is read)."""
        await self._close()

    async def __aenter__(self) -> AsyncBatchResults:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.close()


class BatchPage:
    """One page of ``list()``: ``.data`` holds it; iterating goes on through the following pages."""

    def __init__(self, page: MessageBatchList, following: Callable[[str], BatchPage]) -> None:
        self.data, self.has_more = page.data, page.has_more
        self.first_id, self.last_id = page.first_id, page.last_id
        self._following = following

    def __iter__(self) -> Iterator[MessageBatch]:
        page: BatchPage | None = self
        while page is not None:
            yield from page.data
            page = self._following(page.last_id) if page.has_more and page.last_id else None


class AsyncBatchPage:
    """``BatchPage`` of the async client: ``async for batch in await client.messages.batches.list()``."""

    def __init__(self, page: MessageBatchList, following: Callable[[str], Awaitable[AsyncBatchPage]]) -> None:
        self.data, self.has_more = page.data, page.has_more
        self.first_id, self.last_id = page.first_id, page.last_id
        self._following = following

    async def __aiter__(self) -> AsyncIterator[MessageBatch]:
        page: AsyncBatchPage | None = self
        while page is not None:
            for batch in page.data:
                yield batch
            page = await self._following(page.last_id) if page.has_more and page.last_id else None


class _BatchCalls:
    """What both twins share: the HTTP requests of each call and the reading of their answers."""

    def __init__(self, client: BaseClient) -> None:
        self._base = client

    @property
    def _api(self) -> AnthropicBatches | OpenRouterBatches:
        api = self._base.profile.batches
        if api is None:
            raise NotImplementedError(f"the {self._base.profile.name!r} profile has no Message Batches API")
        return api

    def _request(self, method: str, path: str, content: bytes | None = None,
                 params: dict[str, Any] | None = None) -> httpx.Request:
        c = self._base
        return httpx.Request(method, f"{c.base_url}/{path}", content=content, params=params,
                             headers=c.request_headers())

    def _on(self, batch_id: str, action: str | None = None, method: str = "GET") -> httpx.Request:
        if not batch_id:
            raise ValueError(f"batch_id: expected a batch id such as 'msgbatch_…' (got {batch_id!r})")
        api = self._api
        if action is not None or method == "DELETE":
            api.supports(action or "delete")
        return self._request(method, api.path(quote(batch_id, safe=""), action))

    def _create(self, requests: BatchItems) -> httpx.Request:
        c, api = self._base, self._api
        prepared = prepare_batch(requests, c.profile, c.anthropic_version)
        for observer in c.observers:  # a spent budget refuses the batch, as it refuses a call
            observer.before_request(prepared.requests[0])
        return self._request("POST", api.path(), api.create_body(prepared))

    def _list(self, limit: int | None, after_id: str | None, before_id: str | None) -> httpx.Request:
        api = self._api
        return self._request("GET", api.path(), params=api.list_params(limit, after_id, before_id))

    def _results_of(self, batch: MessageBatch) -> httpx.Request:
        if not batch.ended or (batch.results_url is None and not self._api.inline_results):
            raise BatchNotEndedError(f"batch {batch.id} has not ended (processing_status "
                                     f"{batch.processing_status!r}); its results can be read once it ends")
        url = urljoin(self._base.base_url + "/", batch.results_url or "")
        return httpx.Request("GET", url, headers=self._base.request_headers())


class Batches(_BatchCalls):
    """``client.messages.batches`` of the sync client."""

    def __init__(self, client: BaseClient, send: SyncSend) -> None:
        super().__init__(client)
        self._send = send

    def create(self, requests: BatchItems) -> MessageBatch:
        """Submit ``[{"custom_id": ..., "params": Request or dict}]``, validated first; returns the new batch."""
        response, _ = self._send(self._create(requests))
        return self._api.batch(response.json())

    def retrieve(self, batch_id: str) -> MessageBatch:
        """The batch as it is now (poll this until ``processing_status == "ended"``)."""
        response, _ = self._send(self._on(batch_id))
        return self._api.batch(response.json())

    def list(self, *, limit: int | None = None, after_id: str | None = None,
             before_id: str | None = None) -> BatchPage:
        """Batches, newest first: ``.data`` is one page; iterating the page walks through all of them."""
        response, _ = self._send(self._list(limit, after_id, before_id))
        return BatchPage(self._api.page(response.json()), lambda last: self.list(limit=limit, after_id=last))

    def cancel(self, batch_id: str) -> MessageBatch:
        """Ask to cancel a batch: requests not yet processed end ``canceled``."""
        response, _ = self._send(self._on(batch_id, "cancel", "POST"))
        return self._api.batch(response.json())

    def delete(self, batch_id: str) -> DeletedMessageBatch:
        """Delete an ended batch (and its results)."""
        response, _ = self._send(self._on(batch_id, method="DELETE"))
        return DeletedMessageBatch.model_validate(response.json())

    def results(self, batch_id: str) -> BatchResults:
        """The results of an ended batch, read as a stream: ``for r in results: r.custom_id, r.result``."""
        if self._api.inline_results:
            response, _ = self._send(self._on(batch_id))
            data = response.json()
            self._results_of(self._api.batch(data))
            return BatchResults(self._api.results(data), lambda: None)
        response, _ = self._send(self._results_of(self.retrieve(batch_id)), stream=True)
        return BatchResults(parse_results(response.iter_lines()), response.close)


class AsyncBatches(_BatchCalls):
    """``client.messages.batches`` of the async client: the same calls, awaited."""

    def __init__(self, client: BaseClient, send: AsyncSend) -> None:
        super().__init__(client)
        self._send = send

    async def create(self, requests: BatchItems) -> MessageBatch:
        """Submit ``[{"custom_id": ..., "params": Request or dict}]``, validated first; returns the new batch."""
        response, _ = await self._send(self._create(requests))
        return self._api.batch(response.json())

    async def retrieve(self, batch_id: str) -> MessageBatch:
        """The batch as it is now (poll this until ``processing_status == "ended"``)."""
        response, _ = await self._send(self._on(batch_id))
        return self._api.batch(response.json())

    async def list(self, *, limit: int | None = None, after_id: str | None = None,
                   before_id: str | None = None) -> AsyncBatchPage:
        """Batches, newest first: ``.data`` is one page; ``async for`` walks through all of them."""
        response, _ = await self._send(self._list(limit, after_id, before_id))
        return AsyncBatchPage(self._api.page(response.json()), lambda last: self.list(limit=limit, after_id=last))

    async def cancel(self, batch_id: str) -> MessageBatch:
        """Ask to cancel a batch: requests not yet processed end ``canceled``."""
        response, _ = await self._send(self._on(batch_id, "cancel", "POST"))
        return self._api.batch(response.json())

    async def delete(self, batch_id: str) -> DeletedMessageBatch:
        """Delete an ended batch (and its results)."""
        response, _ = await self._send(self._on(batch_id, method="DELETE"))
        return DeletedMessageBatch.model_validate(response.json())

    async def results(self, batch_id: str) -> AsyncBatchResults:
        """The results of an ended batch, read as a stream: ``async for r in await ...results(id)``."""
        if self._api.inline_results:
            response, _ = await self._send(self._on(batch_id))
            data = response.json()
            self._results_of(self._api.batch(data))
            return AsyncBatchResults(_aiter(self._api.results(data)), _nothing)
        batch = await self.retrieve(batch_id)
        response, _ = await self._send(self._results_of(batch), stream=True)
        return AsyncBatchResults(aparse_results(response.aiter_lines()), response.aclose)


async def _aiter(items: Iterable[MessageBatchIndividualResponse]) -> AsyncIterator[MessageBatchIndividualResponse]:
    for item in items:
        yield item


async def _nothing() -> None:
    return None
