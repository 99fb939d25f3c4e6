"""One column's send: stream the request into an Exchange, run tools the model calls, keep partial answers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from ...request.builder import Request
from ...types import Message
from ..turns import DEFAULT_MAX_ITERATIONS, MAX_PAUSE_CONTINUATIONS, run_tools
from .conversation import Exchange

Refresh = Callable[[bool], None]  # redraw the column; True forces it past the rate limit
TAGS = {"source": "playground"}


async def run_exchange(client: Any, build: Callable[[], Request], ex: Exchange, refresh: Refresh) -> None:
    """Fill ``ex`` from the API; Stop (task cancellation) and errors end it with the partial answer kept."""
    started = time.perf_counter()
    refresh(True)
    try:
        await _tool_loop(client, build(), ex, refresh)
    except asyncio.CancelledError:
        ex.interrupted = True
        _keep_partial(ex, None)
    except Exception as exc:  # noqa: BLE001 - every failure is shown in the widget's error box
        ex.error = exc
        _keep_partial(ex, getattr(exc, "partial_message", None))
    finally:
        ex.live = None
        ex.duration = time.perf_counter() - started
        ex.done = True
        refresh(True)


async def _tool_loop(client: Any, request: Request, ex: Exchange, refresh: Refresh) -> None:
    """Like ``tool_loop.run_loop``, streamed: answer tool calls with the request's functions, continue pauses."""
    functions = request.functions
    req, rounds, pauses = request, 0, 0
    while True:
        rounds += 1
        message = await _stream_step(client, req, ex, refresh)
        if message.stop_reason in ("tool_use", "pause_turn") and rounds >= DEFAULT_MAX_ITERATIONS:
            ex.notes.append(f"⚠ Stopped after {rounds} requests (the tool loop's iteration guard).")
            return
        if message.stop_reason == "pause_turn" and pauses < MAX_PAUSE_CONTINUATIONS:
            pauses += 1
            req = req.followed_by(message)
        elif message.stop_reason == "tool_use" and functions and message.tool_uses:
            results = await asyncio.get_running_loop().run_in_executor(None, run_tools, message, functions)
            ex.steps.append({"role": "user", "content": results})
            refresh(True)
            req = req.followed_by(message, {"role": "user", "content": results})
        else:
            if pauses:
                ex.notes.append(f"⏸ The model paused its turn (`pause_turn`); continued automatically {pauses}×.")
            return


async def _stream_step(client: Any, req: Request, ex: Exchange, refresh: Refresh) -> Message:
    stream = client.messages.stream(req, chat="playground", tags=TAGS)
    ex.live = stream
    async with stream:
        async for _event in stream.raw_events():
            refresh(False)
    message = stream.final_message
    assert message is not None  # the stream raises IncompleteStreamError otherwise
    ex.live = None
    ex.add_message(message, stream.ttft)
    refresh(True)
    return message


def _keep_partial(ex: Exchange, partial: Message | None) -> None:
    stream = ex.live
    if partial is None and stream is not None:
        partial = stream.current_message_snapshot
    if partial is not None:
        ex.add_partial(partial, getattr(stream, "ttft", None))
