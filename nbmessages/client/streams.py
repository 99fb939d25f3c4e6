"""Message streams over SSE (httpx-sse): typed events, ``text_stream``, the message so far, the final one."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from httpx_sse import EventSource, SSEError
from pydantic import ValidationError
from pydantic_core import from_json

from ..types import EVENT_TYPES, Message, parse_event
from .accumulate import ProtocolError, Snapshot, accumulate
from .deadlines import CallClock, DeadlineExceeded
from .errors import (
    IncompleteStreamError,
    MalformedStreamError,
    StreamError,
    StreamEventError,
    StreamTimeoutError,
)

Finish = Callable[["StreamBase", str, "BaseException | None"], None]


class StreamBase:
    """What sync and async streams share: decoding, accumulation, errors with the partial message."""

    def __init__(self, finish: Finish, started: float, clock: CallClock | None = None) -> None:
        self._clock = clock
        self._snapshot = Snapshot()
        self._finish_cb = finish
        self._started = started
        self.finished = False
        self.outcome: str | None = None
        self.response: httpx.Response | None = None
        self.retries = 0
        self.ttft: float | None = None
        self.duration: float | None = None
        self.final_message: Message | None = None

    @property
    def snapshot(self) -> Snapshot:
        """The accumulation state (raw dicts), for renderers that want to read it cheaply."""
        return self._snapshot

    @property
    def current_message_snapshot(self) -> Message:
        """The message received so far, readable at any moment."""
        return self._snapshot.to_message()

    @property
    def request_id(self) -> str | None:
        """The server's request id, when it sent one."""
        return self.response.headers.get("request-id") if self.response is not None else None

    def _decode(self, data: str, name: str) -> dict[str, Any] | None:
        """One SSE payload → its event dict, accumulated; None for pings' kin that carry nothing."""
        if not data or data == "[DONE]":
            return None
        try:
            event = from_json(data)  # pydantic's Rust parser: about 4x json.loads on small events
        except ValueError:
            raise self._fail(MalformedStreamError(f"an event's data is not valid JSON: {data[:80]!r}")) from None
        if not isinstance(event, dict):
            raise self._fail(MalformedStreamError(f"an event's data is not a JSON object: {data[:80]!r}"))
        kind = event.get("type") or name
        if kind == "error":
            raise self._fail(_event_error(event))
        if self._snapshot.message is None and kind in EVENT_TYPES and kind not in ("message_start", "ping"):
            raise self._fail(MalformedStreamError(f"unexpected event order: {kind!r} before message_start"))
        try:
            accumulate(self._snapshot, event)
        except (KeyError, IndexError, ValueError, TypeError, AttributeError) as exc:
            raise self._fail(MalformedStreamError(f"could not apply a {kind!r} event: {_problem(exc)}")) from None
        if kind != "ping" and self._clock is not None:
            self._clock.heard()
        if self.ttft is None and kind in ("content_block_start", "content_block_delta"):
            self.ttft = time.perf_counter() - self._started
        if kind == "message_stop":
            self._finish("ok", None)
        return event

    def _ended(self) -> None:
        if not self._snapshot.done and not self.finished:
            raise self._fail(IncompleteStreamError("the stream ended before message_stop; the answer is partial"))

    def _broken(self, exc: httpx.TransportError) -> StreamError:
        if isinstance(exc, DeadlineExceeded):
            err: StreamError = StreamTimeoutError(f"the stream timed out: {exc}; the answer is partial")
        elif isinstance(exc, httpx.TimeoutException):
            err = StreamTimeoutError(f"the stream stalled: no data within the read timeout ({exc})")
        else:
            err = IncompleteStreamError(f"the connection broke mid-stream: {exc or type(exc).__name__}")
        return self._fail(err)

    @contextmanager
    def _wire_errors(self) -> Iterator[None]:
        """Turn what the wire throws mid-stream into stream errors that carry the partial message."""
        try:
            yield
        except SSEError as exc:  # a subclass of TransportError: not an SSE response at all
            raise self._fail(MalformedStreamError(str(exc))) from None
        except httpx.TransportError as exc:
            raise self._broken(exc) from exc

    def _fail(self, exc: StreamError) -> StreamError:
        exc.partial_message = self._snapshot.to_message()
        exc.request_id = exc.request_id or self.request_id
        self._finish(exc.error_type or "error", exc)
        return exc

    def _finish(self, outcome: str, error: BaseException | None) -> None:
        if self.finished:
            return
        self.finished = True
        self.outcome = outcome
        self.duration = time.perf_counter() - self._started
        if outcome == "ok":
            self.final_message = self._snapshot.to_message()
        self._finish_cb(self, outcome, error)

    def _interrupted(self) -> None:
        self._finish("interrupted", None)

    @staticmethod
    def _text(event: dict[str, Any]) -> str | None:
        if event.get("type") == "content_block_delta":
            delta = event.get("delta") or {}
            if delta.get("type") == "text_delta":
                return str(delta.get("text", ""))
        return None


def _problem(exc: Exception) -> str:
    """What was wrong with an event, in one line (a validation error's first problem with its path)."""
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        return f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']} (got {first.get('input')!r:.60})"
    return str(exc) if isinstance(exc, ProtocolError) else repr(exc)


def _event_error(event: dict[str, Any]) -> StreamEventError:
    found = event.get("error")
    error: dict[str, Any] = found if isinstance(found, dict) else {}
    return StreamEventError(
        f"the server sent an error mid-stream: {error.get('message') or 'no message'}",
        error_type=error.get("type") or "api_error",
        request_id=event.get("request_id"),
        body=event,
    )


class MessageStream(StreamBase):
    """A streaming response: a context manager; iterate for typed events, or use the helpers."""

    def __init__(self, opener: Callable[[], tuple[httpx.Response, int]], finish: Finish, started: float,
                 clock: CallClock | None = None):
        super().__init__(finish, started, clock)
        self._opener = opener
        self._events: Iterator[dict[str, Any]] | None = None

    def __enter__(self) -> MessageStream:
        self._open()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def _open(self) -> Iterator[dict[str, Any]]:
        if self._events is None:
            self.finished = True  # an opener that fails has recorded the failure itself
            self.response, self.retries = self._opener()
            self.finished = False
            self._events = self._iter_events(self.response)
        return self._events

    def _iter_events(self, response: httpx.Response) -> Iterator[dict[str, Any]]:
        with self._wire_errors():
            for sse in EventSource(response).iter_sse():
                event = self._decode(sse.data, sse.event)
                if event is not None:
                    yield event
        self._ended()

    def raw_events(self) -> Iterator[dict[str, Any]]:
        """The events as JSON dicts (already accumulated into the snapshot)."""
        yield from self._open()

    def __iter__(self) -> Iterator[Any]:
        for event in self.raw_events():
            yield parse_event(event)

    @property
    def text_stream(self) -> Iterator[str]:
        """The text deltas, as they arrive."""
        for event in self.raw_events():
            text = self._text(event)
            if text is not None:
                yield text

    def until_done(self) -> None:
        """Consume the stream to its end."""
        for _ in self.raw_events():
            pass

    def get_final_message(self) -> Message:
        """Consume the stream and return the whole message."""
        self.until_done()
        assert self.final_message is not None
        return self.final_message

    def get_final_text(self) -> str:
        """Consume the stream and return the text of its text blocks."""
        return self.get_final_message().text

    def close(self) -> None:
        """Close the connection; a stream closed before its end counts as interrupted."""
        if self.response is not None:
            self.response.close()
        if not self.finished:
            self._interrupted()


class AsyncMessageStream(StreamBase):
    """The async twin of MessageStream: ``async with``, ``async for``."""

    def __init__(self, opener: Callable[[], Awaitable[tuple[httpx.Response, int]]], finish: Finish, started: float,
                 clock: CallClock | None = None):
        super().__init__(finish, started, clock)
        self._opener = opener
        self._events: AsyncIterator[dict[str, Any]] | None = None

    async def __aenter__(self) -> AsyncMessageStream:
        await self._open()
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.close()

    async def _open(self) -> AsyncIterator[dict[str, Any]]:
        if self._events is None:
            self.finished = True  # an opener that fails has recorded the failure itself
            self.response, self.retries = await self._opener()
            self.finished = False
            self._events = self._iter_events(self.response)
        return self._events

    async def _iter_events(self, response: httpx.Response) -> AsyncIterator[dict[str, Any]]:
        with self._wire_errors():
            async for sse in EventSource(response).aiter_sse():
                event = self._decode(sse.data, sse.event)
                if event is not None:
                    yield event
        self._ended()

    async def raw_events(self) -> AsyncIterator[dict[str, Any]]:
        """The events as JSON dicts (already accumulated into the snapshot)."""
        async for event in await self._open():
            yield event

    async def __aiter__(self) -> AsyncIterator[Any]:
        async for event in self.raw_events():
            yield parse_event(event)

    @property
    async def text_stream(self) -> AsyncIterator[str]:
        """The text deltas, as they arrive."""
        async for event in self.raw_events():
            text = self._text(event)
            if text is not None:
                yield text

    async def until_done(self) -> None:
        """Consume the stream to its end."""
        async for _ in self.raw_events():
            pass

    async def get_final_message(self) -> Message:
        """Consume the stream and return the whole message."""
        await self.until_done()
        assert self.final_message is not None
        return self.final_message

    async def get_final_text(self) -> str:
        """Consume the stream and return the text of its text blocks."""
        return (await self.get_final_message()).text

    async def close(self) -> None:
        """Close the connection; a stream closed before its end counts as interrupted."""
        if self.response is not None:
            await self.response.aclose()
        if not self.finished:
            self._interrupted()
