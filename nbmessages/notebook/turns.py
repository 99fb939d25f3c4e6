"""The turn runner shared by every front end: runs tools on ``tool_use``, continues ``pause_turn``, bounded.

One async implementation (``Turn.run``, ``run_turn``) for an ``AsyncClient``; ``Turn.run_sync`` and ``run_loop``
run the very same coroutine for a ``Client``: its sends and tool calls then finish without ever waiting on an
event loop, so it is driven to its end right here, also inside a running loop (a Jupyter kernel), where
``asyncio.run`` is not allowed. Each step is reported to ``on_step`` and, when streaming, each event to
``on_event``; the steps taken and the stream in progress stay on the ``Turn`` when it is interrupted.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import json
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel

from ..request.builder import Request
from ..types import Message

DEFAULT_MAX_ITERATIONS = 10
MAX_PAUSE_CONTINUATIONS = 5

T = TypeVar("T")
Send = Callable[[Request], "Message | Awaitable[Message]"]
CallTool = Callable[[Callable[..., Any], dict[str, Any]], Awaitable[Any]]


@dataclass
class Step:
    """One step of a loop: an assistant message, or the tool results sent back (a user turn)."""

    kind: str  # "assistant" | "tool_results"
    message: Message | None = None
    results: list[dict[str, Any]] = field(default_factory=list)
    ttft: float | None = None  # seconds to the first content of the stream that brought the message

    @property
    def turn(self) -> Any:
        """This step as a conversation turn."""
        return self.message if self.kind == "assistant" else {"role": "user", "content": self.results}

    @property
    def content(self) -> Any:
        """What a renderer draws for this step: the message, or the list of tool results."""
        return self.message if self.message is not None else self.results


@dataclass
class LoopResult:
    """The steps taken, the final message and why the loop stopped."""

    steps: list[Step]
    final: Message
    requests: list[Request]
    guard_hit: bool = False
    pauses: int = 0

    @property
    def turns(self) -> list[Any]:
        """The new conversation turns, in order (assistant messages and tool-result turns)."""
        return [s.turn for s in self.steps]

    @property
    def messages(self) -> list[Message]:
        """The assistant messages of the loop."""
        return [s.message for s in self.steps if s.message is not None]

    def notes(self) -> list[str]:
        """Sentences for the rendering: automatic continuations and a guard that stopped the loop."""
        out = []
        if self.pauses:
            out.append(f"⏸ The model paused its turn (`pause_turn`); continued automatically {self.pauses}×.")
        if self.guard_hit:
            out.append(f"⚠ Stopped after {len(self.requests)} requests (the tool loop's iteration guard).")
        return out


def tool_result_content(value: Any) -> str:
    """A tool's return value as tool_result text: strings as they are, anything else as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, BaseModel):
        return value.model_dump_json()
    return json.dumps(value, ensure_ascii=False, default=str)


# -- calling tools: on the event loop (async), or right here (sync)


async def call_tool_async(fn: Callable[..., Any], arguments: dict[str, Any]) -> Any:
    """Await an async tool on the loop; run a plain function in a worker thread, so other streams go on."""
    if inspect.iscoroutinefunction(fn):
        return await fn(**arguments)
    result = await asyncio.to_thread(fn, **arguments)
    return await result if inspect.isawaitable(result) else result


async def call_tool_now(fn: Callable[..., Any], arguments: dict[str, Any]) -> Any:
    """Call a tool in this thread and return without suspending (an async tool runs to its end first)."""
    result = fn(**arguments)
    return _await(result) if inspect.isawaitable(result) else result


def _await(awaitable: Awaitable[T]) -> T:
    """Wait for a coroutine, also when this thread already runs an event loop (a Jupyter kernel)."""
    async def runner() -> T:
        return await awaitable

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(runner())
    with concurrent.futures.ThreadPoolExecutor(1) as pool:  # that loop is busy running us: use a fresh one
        return pool.submit(asyncio.run, runner()).result()


async def answer_tools(message: Message, functions: dict[str, Callable[..., Any]],
                       call: CallTool = call_tool_async) -> list[dict[str, Any]]:
    """The tool_result blocks for each tool_use; a tool that raises gives an ``is_error`` result."""
    results = []
    for use in message.tool_uses:
        block: dict[str, Any] = {"type": "tool_result", "tool_use_id": use.id}
        fn = functions.get(use.name)
        try:
            if fn is None:
                raise LookupError(f"no Python function for the tool {use.name!r}")
            block["content"] = tool_result_content(await call(fn, dict(use.input or {})))
        except Exception as exc:  # noqa: BLE001 - the model hears about the failure instead of the cell crashing
            block["content"] = f"{type(exc).__name__}: {exc}"
            block["is_error"] = True
        results.append(block)
    return results


def run_tools(message: Message, functions: dict[str, Callable[..., Any]]) -> list[dict[str, Any]]:
    """``answer_tools`` in this thread: the tool_result blocks for each tool_use of ``message``."""
    return run_now(answer_tools(message, functions, call_tool_now))


def run_now(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never waits on an event loop to its end, here (inside a running loop too)."""
    try:
        while coro.send(None) is None:  # a bare yield (``asyncio.sleep(0)``) only lets others run: go on
            pass
    except StopIteration as done:
        return done.value
    coro.close()
    raise RuntimeError("this turn waited on the event loop (an async client or send): use `await turn.run()`")


# -- the runner


class Turn:
    """One turn run to its end: send, run the tools the model calls, continue pauses; at most ``max_iterations``.

    ``stream=True`` streams each request and reports every event to ``on_event(stream)``; ``on_step(step)`` sees
    each assistant message and each tool-result turn. After an interrupt, ``steps`` and ``partial`` keep what
    arrived. ``send`` replaces the client's call (a function of the request, sync or async).
    """

    def __init__(
        self,
        client: Any,
        request: Request,
        *,
        stream: bool = False,
        on_step: Callable[[Step], None] | None = None,
        on_event: Callable[[Any], None] | None = None,
        max_iterations: int = DEFAULT_MAX_ITERATIONS,
        functions: dict[str, Callable[..., Any]] | None = None,
        send: Send | None = None,
        **call_options: Any,
    ) -> None:
        self.client, self.request, self.stream = client, request, stream
        self.on_step, self.on_event, self.send = on_step, on_event, send
        self.max_iterations = max_iterations
        self.functions = request.functions if functions is None else functions
        self.call_options = call_options
        self.steps: list[Step] = []
        self.requests: list[Request] = []
        self.pauses = 0
        self.live: Any = None  # the stream in progress (after an interrupt: the one cut short)

    async def run(self) -> LoopResult:
        """Run the turn on the running event loop (the client is an ``AsyncClient``, or ``send`` is given)."""
        return await self._loop(self._send_async, call_tool_async)

    def run_sync(self) -> LoopResult:
        """Run the turn in this thread (the client is a ``Client``), also when this thread runs an event loop."""
        if self.send is None and inspect.iscoroutinefunction(self.client.messages.create):
            raise TypeError("run_sync() sends with a Client; with an AsyncClient use `await turn.run()`")
        return run_now(self._loop(self._send_now, call_tool_now))

    @property
    def partial(self) -> Message | None:
        """What the stream in progress (or the one cut short) had received, when it validates."""
        if self.live is None:
            return None
        try:
            return self.live.current_message_snapshot
        except ValueError:  # an interrupt mid-event can leave a block half-built
            return None

    @property
    def ttft(self) -> float | None:
        """Seconds to the first content of the first stream that sent any."""
        found = [s.ttft for s in self.steps] + [getattr(self.live, "ttft", None)]
        return next((t for t in found if t is not None), None)

    def exchanges(self) -> list[tuple[Request, Message | None]]:
        """Each request sent and the message that answered it (None for one that did not finish)."""
        messages = [s.message for s in self.steps if s.message is not None]
        return [(req, messages[i] if i < len(messages) else None) for i, req in enumerate(self.requests)]

    # -- the loop, one for both ways of running

    async def _loop(self, send: Callable[[Request], Awaitable[Step]], call_tool: CallTool) -> LoopResult:
        req = self.request
        while True:
            self.requests.append(req)
            step = await send(req)
            self.live = None
            self._report(step)
            message = step.message
            assert message is not None
            if len(self.requests) >= self.max_iterations:
                guard = message.stop_reason in ("tool_use", "pause_turn")
                return LoopResult(self.steps, message, self.requests, guard_hit=guard, pauses=self.pauses)
            if message.stop_reason == "pause_turn" and self.pauses < MAX_PAUSE_CONTINUATIONS:
                self.pauses += 1
                req = req.followed_by(message)  # sent back as it is, the server continues the turn
            elif message.stop_reason == "tool_use" and self.functions and message.tool_uses:
                results = await answer_tools(message, self.functions, call_tool)
                self._report(Step("tool_results", results=results))
                req = req.followed_by(message, {"role": "user", "content": results})
            else:
                return LoopResult(self.steps, message, self.requests, pauses=self.pauses)

    def _report(self, step: Step) -> None:
        self.steps.append(step)
        if self.on_step is not None:
            self.on_step(step)

    def _event(self, stream: Any) -> None:
        self.live = stream
        if self.on_event is not None:
            self.on_event(stream)

    # -- one request: the I/O of each client flavour

    async def _send_async(self, req: Request) -> Step:
        if self.send is not None:
            sent = self.send(req)
            return Step("assistant", await sent if inspect.isawaitable(sent) else sent)
        if not self.stream:
            return Step("assistant", await self.client.messages.create(req, **self.call_options))
        async with self.client.messages.stream(req, **self.call_options) as stream:
            self.live = stream
            async for _event in stream.raw_events():
                self._event(stream)
            message = await stream.get_final_message()
        return Step("assistant", message, ttft=stream.ttft)

    async def _send_now(self, req: Request) -> Step:
        if self.send is not None:
            sent = self.send(req)
            return Step("assistant", _await(sent) if inspect.isawaitable(sent) else sent)
        if not self.stream:
            return Step("assistant", self.client.messages.create(req, **self.call_options))
        with self.client.messages.stream(req, **self.call_options) as stream:
            self.live = stream
            for _event in stream.raw_events():
                self._event(stream)
            message = stream.get_final_message()
        return Step("assistant", message, ttft=stream.ttft)


async def run_turn(client: Any, request: Request, **options: Any) -> LoopResult:
    """Run one turn on the running event loop with an ``AsyncClient`` (options as ``Turn`` takes them)."""
    return await Turn(client, request, **options).run()


def run_loop(
    client: Any,
    request: Request,
    *,
    send: Callable[[Request], Message] | None = None,
    on_step: Callable[[Step], None] | None = None,
    max_iterations: int = DEFAULT_MAX_ITERATIONS,
    functions: dict[str, Callable[..., Any]] | None = None,
    **call_options: Any,
) -> LoopResult:
    """Send ``request`` with a ``Client``; while the model calls tools we have functions for (or pauses), go on."""
    return Turn(client, request, send=send, on_step=on_step, max_iterations=max_iterations, functions=functions,
                **call_options).run_sync()
