"""What the client reports about each call, and the observers it reports to (the ledger, a budget).

The client layer only defines this interface; a higher layer (the ledger) registers the default observers,
so the client never imports the layers above it. An observer with a role beyond watching has the shape of
one of the protocols below, and is found by that shape, never by its class name: a ``SpendingGuard`` is the
client's ``budget``, a ``UsageRecorder`` is the client's ``ledger``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from ..types import Message, MessageCreateParams


@dataclass
class CallRecord:
    """One request's outcome, whatever it was: ok, an API error, interrupted or an incomplete stream."""

    started_at: datetime  # UTC
    profile: str  # "anthropic" | "openrouter" | "local" | a custom profile's name
    base_host: str
    model_requested: str
    streamed: bool
    outcome: str  # "ok" | "interrupted" | "incomplete" | an error type such as "rate_limit_error"
    message: Message | None = None  # the final message, or the partial one
    request_id: str | None = None
    generation_id: str | None = None
    status_code: int | None = None
    ttft: float | None = None  # seconds to the first content event
    duration: float = 0.0  # seconds, the whole call including retries
    retries: int = 0
    session_id: str | None = None
    chat: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    params: MessageCreateParams | None = None  # for content logging, if the user turns it on
    error_message: str | None = None
    output_counted: bool = False  # the output tokens are the client's count: the stream ended before its usage
    simulated: bool = False  # the offline model answered: no real spending
    response_cache: str | None = None  # OpenRouter's X-OpenRouter-Cache-Status: "HIT" (billed $0) or "MISS"
    availability: str | None = None  # OpenRouter's availability.code of a failed call


class Observer(Protocol):
    """Sees every call: may refuse one before it starts (a budget), records each when it ends."""

    def before_request(self, params: MessageCreateParams) -> None: ...

    def record(self, record: CallRecord) -> None: ...


@runtime_checkable
class SpendingGuard(Protocol):
    """An observer that refuses calls once a USD limit is spent (the ledger's Budget); ``limit`` can be changed."""

    limit: float
    spent: float

    def before_request(self, params: MessageCreateParams) -> None: ...

    def record(self, record: CallRecord) -> None: ...

    def reset(self) -> None: ...


@runtime_checkable
class UsageRecorder(Protocol):
    """An observer that writes every call into a usage ledger (``ledger``: where)."""

    ledger: Any

    def before_request(self, params: MessageCreateParams) -> None: ...

    def record(self, record: CallRecord) -> None: ...


ObserverFactory = Callable[[dict[str, Any]], list[Observer]]
_factories: list[ObserverFactory] = []


def register_observer_factory(factory: ObserverFactory) -> None:
    """Register a factory that makes observers for each new client from its options (ledger=, budget=…)."""
    if factory not in _factories:
        _factories.append(factory)


def make_observers(options: dict[str, Any]) -> list[Observer]:
    """The observers of a new client."""
    return [obs for factory in _factories for obs in factory(options)]
