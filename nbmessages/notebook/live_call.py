"""One front-end call, shown live: streams each step of the turn into a LiveDisplay, survives interrupts and errors."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..client.errors import NbmessagesError, StreamError
from ..ledger.budget import BudgetExceededError
from ..request.builder import Request
from ..types import Message, RequestValidationError, Usage
from .render import LiveDisplay, Status, Transcript, add_cost, add_usage, price, render_bundle
from .turns import DEFAULT_MAX_ITERATIONS, LoopResult, Step, Turn

SHOWN_ERRORS = (NbmessagesError, RequestValidationError, BudgetExceededError)


@dataclass
class Outcome:
    """How a call ended: the final (or partial) message, the loop, an error, an interrupt, what was sent."""

    final: Message | None = None
    loop: LoopResult | None = None
    error: BaseException | None = None
    interrupted: bool = False
    exchanges: list[tuple[Request, Message | None]] = field(default_factory=list)
    bundle: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether the turn completed (no error, no interrupt)."""
        return self.error is None and not self.interrupted and self.final is not None


class LiveCall:
    """Runs a request through the tool loop, rendering each step and the live stream in one display."""

    def __init__(self, client: Any, request: Request, *, stream: bool = True, chat: str | None = None,
                 max_rounds: int = DEFAULT_MAX_ITERATIONS, display: LiveDisplay | None = None,
                 hint: Callable[[BaseException], str | None] | None = None,
                 call_options: dict[str, Any] | None = None) -> None:
        self.client = client
        self.hint = hint  # the front end's own hint for an error, shown after the error's
        self.request = request
        self.live = display or LiveDisplay()
        self.turn = Turn(client, request, stream=stream, on_step=self._on_step, on_event=self._on_event,
                         max_iterations=max_rounds, chat=chat, **(call_options or {}))  # e.g. openrouter_cache
        self.outcome = Outcome()

    @property
    def steps(self) -> list[Any]:
        """The finished steps' content, rendered before the live stream."""
        return [s.content for s in self.turn.steps]

    @property
    def messages(self) -> list[Message]:
        """The finished assistant messages."""
        return [s.message for s in self.turn.steps if s.message is not None]

    def run(self) -> Outcome:
        """Send, stream, run tools, continue; show the final rendering; never raise the shown errors."""
        started = time.perf_counter()
        out = self.outcome
        self.live.start()
        try:
            out.loop = self.turn.run_sync()
            out.final = out.loop.final
        except KeyboardInterrupt:
            out.interrupted, out.final = True, self.turn.partial
        except SHOWN_ERRORS as exc:
            partial = getattr(exc, "partial_message", None) if isinstance(exc, StreamError) else None
            out.error, out.final = exc, partial if partial is not None and partial.content else None
        out.exchanges = self.turn.exchanges()
        status = self._status(time.perf_counter() - started)
        parts = [*self.steps, out.final] if self._final_is_extra() else self.steps
        out.bundle = render_bundle(Transcript(*parts), status)
        self.live.finish(out.bundle)
        return out

    # -- the turn's hooks

    def _on_event(self, _stream: Any) -> None:
        self.live.update(self._live_bundle)

    def _on_step(self, step: Step) -> None:
        if step.message is None:
            self.live.update(self._live_bundle, force=True)  # show each tool result as soon as it exists

    def _live_bundle(self) -> dict[str, str]:
        stream = self.turn.live
        current = [stream.snapshot] if stream is not None else []
        return render_bundle(Transcript(*self.steps, *current), Status(streaming=True))

    # -- the footer

    def _final_is_extra(self) -> bool:
        """Whether the final message is a partial one that no finished step holds."""
        final = self.outcome.final
        return final is not None and all(final is not m for m in self.messages)

    def _status(self, duration: float) -> Status:
        out = self.outcome
        extra = [out.final] if out.final is not None and self._final_is_extra() else []
        messages = [*self.messages, *extra]
        usage: Usage | None = None
        cost: float | None = None
        profile = self.client.profile.name
        host = self.client.base_host
        for m in messages:
            usage = add_usage(usage, m.usage)
            hit = m.response_cache is not None and m.response_cache.hit
            cost = add_cost(cost, price(m.usage, m.model, profile, host, cache_hit=hit))
        final = out.final
        return Status(
            provider=(final.provider if final is not None else None) or profile,
            usage=usage,
            cost=cost,
            ttft=self.turn.ttft,
            duration=duration,
            max_tokens=self.request.max_tokens,
            interrupted=out.interrupted,
            error=out.error,
            error_hint=self.hint(out.error) if self.hint is not None and out.error is not None else None,
            notes=out.loop.notes() if out.loop is not None else [],
            response_cache=final.response_cache if final is not None else None,
        )
