"""A playground conversation: exchanges (a prompt and what came back) and the history they replay."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...types import Message, TextBlock, Usage
from ..render import Status, add_cost, add_usage, price


@dataclass
class Exchange:
    """One send in one column: the prompt, the assistant messages and tool results, and how it ended."""

    prompt: str
    model: str = ""
    profile: str | None = None
    host: str | None = None
    max_tokens: int | None = None
    steps: list[Any] = field(default_factory=list)  # assistant Messages and tool-result user turns
    partial: Message | None = None  # what a stopped or failed stream had received
    live: Any = None  # the stream in progress
    error: BaseException | None = None
    interrupted: bool = False
    done: bool = False
    ttft: float | None = None
    duration: float | None = None
    usage: Usage | None = None
    cost: float | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def prompt_turn(self) -> dict[str, Any]:
        """The user turn this exchange started with."""
        return {"role": "user", "content": self.prompt}

    @property
    def messages(self) -> list[Message]:
        """The assistant messages received, the partial one last."""
        found = [s for s in self.steps if isinstance(s, Message)]
        return found + ([self.partial] if self.partial is not None else [])

    @property
    def message(self) -> Message | None:
        """The last assistant message (complete, or the partial one of a stopped stream)."""
        found = self.messages
        return found[-1] if found else None

    @property
    def text(self) -> str:
        """The text of the last assistant message."""
        message = self.message
        return message.text if message is not None else ""

    def add_message(self, message: Message, ttft: float | None) -> None:
        """Count a complete assistant message in."""
        self.steps.append(message)
        self._count(message, ttft)

    def add_partial(self, message: Message, ttft: float | None) -> None:
        """Keep what a stopped or failed stream had received."""
        if message.content or message.usage.input_tokens:
            self.partial = message
            self._count(message, ttft)

    def _count(self, message: Message, ttft: float | None) -> None:
        if self.ttft is None:
            self.ttft = ttft
        self.usage = add_usage(self.usage, message.usage)
        hit = message.response_cache is not None and message.response_cache.hit
        self.cost = add_cost(self.cost, price(message.usage, message.model or self.model, self.profile, self.host,
                                              cache_hit=hit))

    def parts(self) -> list[Any]:
        """What the renderer draws, in order: the steps, then the partial message."""
        return [*self.steps, *([self.partial] if self.partial is not None else [])]

    def status(self, streaming: bool = False) -> Status:
        """The footer's facts, as the magic shows them: provider, summed usage and cost, timings, how it ended."""
        message = self.message
        provider = (message.provider if message is not None else None) or self.profile
        return Status(
            model=None if self.parts() else self.model or None, provider=provider, usage=self.usage,
            cost=self.cost, ttft=self.ttft, duration=self.duration, max_tokens=self.max_tokens,
            streaming=streaming, interrupted=self.interrupted, error=self.error, notes=list(self.notes),
            response_cache=message.response_cache if message is not None else None,
            footer=False,  # the column's usage line shows the figures: once per answer, not twice
        )

    def history(self) -> list[Any]:
        """The turns a later request replays: the prompt and what came back, cut to what the API accepts."""
        turns: list[Any] = [self.prompt_turn, *self.steps]
        partial = _plain_text_turn(self.partial)
        if partial is not None:
            turns.append(partial)
        while len(turns) > 1 and not _plain_answer(turns[-1]):
            turns.pop()  # a tool call without its result, or tool results without the answer to them
        return turns if len(turns) > 1 else []


def _plain_answer(turn: Any) -> bool:
    if isinstance(turn, Message):
        return not turn.tool_uses and bool(turn.content)
    return turn.get("role") == "assistant"


def _plain_text_turn(message: Message | None) -> dict[str, Any] | None:
    """A partial answer as an assistant turn of text only (open thinking and tool calls cannot be replayed)."""
    if message is None:
        return None
    texts = [b.text for b in message.content if isinstance(b, TextBlock) and b.text.strip()]
    text = "".join(texts).rstrip()
    return {"role": "assistant", "content": [{"type": "text", "text": text}]} if text else None


@dataclass
class Thread:
    """One column's conversation: its setting overrides and its exchanges."""

    overrides: dict[str, Any] = field(default_factory=dict)
    exchanges: list[Exchange] = field(default_factory=list)

    def history(self) -> list[Any]:
        """Every replayable turn so far."""
        return [turn for ex in self.exchanges for turn in ex.history()]

    @property
    def last(self) -> Exchange | None:
        """The latest exchange."""
        return self.exchanges[-1] if self.exchanges else None

    def pop(self) -> Exchange | None:
        """Remove and return the latest exchange."""
        return self.exchanges.pop() if self.exchanges else None
