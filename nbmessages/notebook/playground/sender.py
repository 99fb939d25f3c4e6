"""One column's send: the shared turn runner, streamed into an Exchange; Stop and errors keep the partial answer."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from ...request.builder import Request
from ...types import Message
from ..turns import Step, Turn
from .conversation import Exchange

Refresh = Callable[[bool], None]  # redraw the column; True forces it past the rate limit
TAGS = {"source": "playground"}


async def run_exchange(client: Any, build: Callable[[], Request], ex: Exchange, refresh: Refresh,
                       call_options: dict[str, Any] | None = None) -> None:
    """Fill ``ex`` from the API; Stop (task cancellation) and errors end it with the partial answer kept.

    ``call_options``: the settings sent as headers (OpenRouter's response cache, router metadata).
    """
    started = time.perf_counter()
    refresh(True)
    turn: Turn | None = None
    try:
        turn = Turn(client, build(), stream=True, on_step=lambda step: _step(ex, step, refresh),
                    on_event=lambda stream: _event(ex, stream, refresh), chat="playground", tags=TAGS,
                    **(call_options or {}))
        ex.notes += (await turn.run()).notes()
    except asyncio.CancelledError:
        ex.interrupted = True
        _keep_partial(ex, turn, None)
    except Exception as exc:  # noqa: BLE001 - every failure is shown in the widget's error box
        ex.error = exc
        _keep_partial(ex, turn, getattr(exc, "partial_message", None))
    finally:
        ex.live = None
        ex.duration = time.perf_counter() - started
        ex.done = True
        refresh(True)


def _event(ex: Exchange, stream: Any, refresh: Refresh) -> None:
    ex.live = stream
    refresh(False)


def _step(ex: Exchange, step: Step, refresh: Refresh) -> None:
    ex.live = None
    if step.message is not None:
        ex.add_message(step.message, step.ttft)
    else:
        ex.steps.append(step.turn)
    refresh(True)


def _keep_partial(ex: Exchange, turn: Turn | None, partial: Message | None) -> None:
    stream = turn.live if turn is not None else None
    if partial is None and turn is not None:
        partial = turn.partial
    if partial is not None:
        ex.add_partial(partial, getattr(stream, "ttft", None))
