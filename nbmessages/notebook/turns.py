"""The turn runner shared by every front end: runs tools on ``tool_use``, continues ``pause_turn``, bounded.

Each request goes through a ``send`` function (create by default; a front end passes one that streams and
renders), and every step is reported to ``on_step`` so each can be shown as it happens.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from ..request.builder import Request
from ..types import Message

DEFAULT_MAX_ITERATIONS = 10
MAX_PAUSE_CONTINUATIONS = 5


@dataclass
class Step:
    """One step of a loop: an assistant message, or the tool results sent back (a user turn)."""

    kind: str  # "assistant" | "tool_results"
    message: Message | None = None
    results: list[dict[str, Any]] = field(default_factory=list)

    @property
    def turn(self) -> Any:
        """This step as a conversation turn."""
        return self.message if self.kind == "assistant" else {"role": "user", "content": self.results}


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


def _call(fn: Callable[..., Any], arguments: dict[str, Any]) -> Any:
    result = fn(**arguments)
    if inspect.isawaitable(result):
        return _await(result)
    return result


def _await(awaitable: Any) -> Any:
    """Wait for a coroutine, also when this thread already runs an event loop (a Jupyter kernel)."""
    async def runner() -> Any:
        return await awaitable

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(runner())
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, runner()).result()


def run_tools(message: Message, functions: dict[str, Callable[..., Any]]) -> list[dict[str, Any]]:
    """The tool_result blocks for each tool_use; a tool that raises gives an ``is_error`` result."""
    results = []
    for use in message.tool_uses:
        block: dict[str, Any] = {"type": "tool_result", "tool_use_id": use.id}
        fn = functions.get(use.name)
        try:
            if fn is None:
                raise LookupError(f"no Python function for the tool {use.name!r}")
            block["content"] = tool_result_content(_call(fn, dict(use.input or {})))
        except Exception as exc:  # noqa: BLE001 - the model hears about the failure instead of the cell crashing
            block["content"] = f"{type(exc).__name__}: {exc}"
            block["is_error"] = True
        results.append(block)
    return results


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
    """Send ``request``; while the model calls tools we have functions for (or pauses), answer and go on."""
    send = send or (lambda req: client.messages.create(req, **call_options))
    functions = request.functions if functions is None else functions
    steps: list[Step] = []
    requests: list[Request] = []
    pauses = 0
    req = request
    while True:
        requests.append(req)
        message = send(req)
        _report(steps, Step("assistant", message), on_step)
        if len(requests) >= max_iterations:
            guard = message.stop_reason in ("tool_use", "pause_turn")
            return LoopResult(steps, message, requests, guard_hit=guard, pauses=pauses)
        if message.stop_reason == "pause_turn" and pauses < MAX_PAUSE_CONTINUATIONS:
            pauses += 1
            req = req.followed_by(message)  # sent back as it is, the server continues the turn
        elif message.stop_reason == "tool_use" and functions and message.tool_uses:
            results = run_tools(message, functions)
            _report(steps, Step("tool_results", results=results), on_step)
            req = req.followed_by(message, {"role": "user", "content": results})
        else:
            return LoopResult(steps, message, requests, pauses=pauses)


def _report(steps: list[Step], step: Step, on_step: Callable[[Step], None] | None) -> None:
    steps.append(step)
    if on_step is not None:
        on_step(step)
