"""The async engine: sends a map's requests through the limiter, retries them, keeps every answer at once.

One dispatcher takes the jobs in order and waits at the limiter before each (so thousands of rows never
wake thousands of waiters); each admitted job runs as its own task. The map's client retries nothing: a 429
or 529 here slows every request down (AIMD in the limiter), not just the one that got it. ``stop()`` (an
interrupt, a budget, ``on_error="raise"``) ends sending at once; rows not sent are reported as skipped.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from ...client.errors import APIError
from ...client.retries import retry_delay, should_retry
from ...ledger.budget import BudgetExceededError
from ...request.builder import Request
from ...types import Message
from ..turns import Turn
from .frame import Outcome
from .limits import InputEstimate, Limiter, RateLimitTooSmall
from .plan import Job
from .progress import Tally
from .spend import SpendGate
from .store import FLUSH_EVERY, ResultStore, Stored

THROTTLE_RETRIES = 8  # 429/529 answers are paced by the limiter, so they may be retried more often


@dataclass
class Settings:
    """How the engine treats failures and what it tags each call with."""

    map_id: str
    schema: type[BaseModel] | None = None
    on_error: str = "return"  # "return": error columns | "raise": stop and raise the first error
    max_retries: int = 2
    price: Callable[[Message], float | None] = lambda m: None


def _retry_after(error: APIError) -> float | None:
    try:
        return float(error.headers["retry-after"])
    except (KeyError, ValueError):
        return None


def parse_answer(message: Message, schema: type[BaseModel] | None) -> tuple[Any, str | None]:
    """The structured output validated against the schema, or the validation error's text."""
    if schema is None:
        return None, None
    try:
        return schema.model_validate_json(message.text), None
    except ValidationError as exc:
        return None, "; ".join(f"{'.'.join(map(str, e['loc'])) or '(answer)'}: {e['msg']}" for e in exc.errors())


def stored_outcome(stored: Stored, schema: type[BaseModel] | None) -> Outcome:
    """A stored answer as a row's outcome: ``cached`` at cost 0, or an error when it does not fit the schema."""
    parsed, problem = parse_answer(stored.message, schema)
    return Outcome("cached" if problem is None else "error", stored.message, [stored.message], parsed, 0.0,
                   stored.duration, "validation_error" if problem else None, problem)


class Engine:
    """Runs the jobs of one map on the current event loop."""

    def __init__(self, client: Any, limiter: Limiter, store: ResultStore, settings: Settings, tally: Tally,
                 gate: SpendGate) -> None:
        self.client, self.limiter, self.store, self.settings = client, limiter, store, settings
        self.tally, self.gate = tally, gate
        self.estimate = InputEstimate()
        self.outcomes: dict[str, Outcome] = {}
        self.stopped: str | None = None  # why sending stopped: interrupted | budget_exceeded | error
        self.failure: BaseException | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._dispatcher: asyncio.Task[None] | None = None
        self.tags = {"map": settings.map_id}

    # -- control

    def stop(self, reason: str) -> None:
        """Stop sending; an interrupt also cancels the requests in flight."""
        self.stopped = self.stopped or reason
        if reason == "interrupted":
            for task in [*self._tasks, *([self._dispatcher] if self._dispatcher else [])]:
                task.cancel()

    async def run(self, jobs: list[Job]) -> dict[str, Outcome]:
        """Send every job (until stopped); the outcome of each, skipped ones included."""
        self._dispatcher = asyncio.ensure_future(self._dispatch(jobs))
        flusher = asyncio.ensure_future(self._flush_regularly())
        try:
            try:
                await self._dispatcher
            except asyncio.CancelledError:
                pass
            while self._tasks:
                await asyncio.gather(*list(self._tasks), return_exceptions=True)
        finally:
            flusher.cancel()
            self.store.flush()
        for job in jobs:
            if job.key not in self.outcomes:
                self.outcomes[job.key] = self._skipped()
                self.tally.skipped += 1
        return self.outcomes

    async def _flush_regularly(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_EVERY)
            self.store.flush()

    def _skipped(self) -> Outcome:
        reason = self.stopped or "interrupted"
        text = {"interrupted": "not sent: the map was interrupted; run it again to send the rest",
                "budget_exceeded": "not sent: the budget would not cover it; raise the budget and run the map "
                                   "again to send the rest",
                "error": "not sent: the map stopped at the first error (on_error='raise')"}[reason]
        return Outcome("skipped", error_type=reason, error_message=text)

    async def _dispatch(self, jobs: list[Job]) -> None:
        for job in jobs:
            if self.stopped:
                return
            try:
                await self.limiter.acquire(self.estimate.tokens(job.chars), job.max_tokens)
            except RateLimitTooSmall as exc:
                self._finish(job, Outcome("error", error_type="rate_limit_too_small", error_message=str(exc)))
                continue
            if self.stopped:
                self.limiter.release(ok=False)
                return
            worst = self.gate.worst_case(job, self.estimate.tokens(job.chars))
            if not self.gate.reserve(worst):
                self.limiter.release(ok=False)
                self.stop("budget_exceeded")
                return
            task = asyncio.ensure_future(self._job(job, worst))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    # -- one job

    async def _job(self, job: Job, worst: float) -> None:
        started = time.perf_counter()
        try:
            messages = await self._ask(job)
        except BudgetExceededError as exc:
            self.stop("budget_exceeded")
            self._finish(job, Outcome("skipped", error_type="budget_exceeded", error_message=str(exc)))
            return
        except APIError as exc:
            self._failed(job, exc, time.perf_counter() - started)
            return
        except asyncio.CancelledError:
            self._finish(job, self._skipped())
            self.tally.skipped += 1
            return
        finally:
            self.gate.settle(worst)
        self._answered(job, messages, time.perf_counter() - started)

    def _failed(self, job: Job, exc: APIError, duration: float) -> None:
        if self.settings.on_error == "raise":
            self.failure = self.failure or exc
            self.stop("error")
        self.tally.failed += 1
        self._finish(job, Outcome("error", duration=duration, error_type=exc.error_type or type(exc).__name__,
                                  error_message=str(exc)))

    def _answered(self, job: Job, messages: list[Message], duration: float) -> None:
        final = messages[-1]
        cost = _total([self.settings.price(m) for m in messages])
        parsed, problem = parse_answer(final, self.settings.schema)
        self.store.put(job.key, self.settings.map_id, final, cost, duration, {"rounds": len(messages)})
        for m in messages:
            self.tally.add_usage(m.usage)
        self.tally.cost += cost or 0.0
        if problem is not None:
            self.tally.failed += 1
            outcome = Outcome("error", final, messages, None, cost, duration, "validation_error",
                              f"the answer does not fit {self.settings.schema.__name__}: {problem}")  # type: ignore[union-attr]
        else:
            self.tally.done += 1
            outcome = Outcome("ok", final, messages, parsed, cost, duration)
        self._finish(job, outcome)

    def _finish(self, job: Job, outcome: Outcome) -> None:
        self.outcomes[job.key] = outcome

    async def _ask(self, job: Job) -> list[Message]:
        """The answers of one job: one request, or a tool loop run by the turn runner."""
        if not job.request.functions:
            return [await self._send(job.request, job, acquired=True)]
        first = [True]

        async def send(req: Request) -> Message:  # the first request was admitted by the dispatcher
            acquired, first[0] = first[0], False
            return await self._send(req, job, acquired=acquired)

        result = await Turn(self.client, job.request, send=send).run()
        return result.messages

    async def _send(self, request: Request, job: Job, acquired: bool) -> Message:
        """One request with the map's retries; the limiter is told how each attempt ended."""
        attempt = 0
        estimate = self.estimate.tokens(job.chars)
        while True:
            if not acquired:
                await self.limiter.acquire(estimate, job.max_tokens)
            acquired = False
            try:
                message: Message = await self.client.messages.create(request, tags=self.tags)
            except APIError as exc:
                throttled = exc.status_code in (429, 529)
                self.limiter.release(ok=False, throttled=throttled, retry_after=_retry_after(exc),
                                     reserved_output=job.max_tokens, output_tokens=0,
                                     estimated_input=estimate, input_tokens=0)
                limit = THROTTLE_RETRIES if throttled else self.settings.max_retries
                if attempt >= limit or not should_retry(exc) or self.stopped:
                    raise
                if not throttled:  # a 429's wait is the limiter's cooldown, shared by every request
                    await asyncio.sleep(retry_delay(attempt, exc.headers))
                attempt += 1
                self.tally.retries += 1
                continue
            except BaseException:
                self.limiter.release(ok=False)
                raise
            usage = message.usage
            used_input = (usage.input_tokens or 0) + (usage.cache_creation_input_tokens or 0) if usage else None
            self.limiter.release(ok=True, reserved_output=job.max_tokens,
                                 output_tokens=usage.output_tokens if usage else None,
                                 estimated_input=estimate, input_tokens=used_input)
            if used_input is not None and attempt == 0:
                self.estimate.learn(job.chars, used_input + ((usage.cache_read_input_tokens or 0) if usage else 0))
            return message


def _total(costs: list[float | None]) -> float | None:
    known = [c for c in costs if c is not None]
    return sum(known) if known else None
