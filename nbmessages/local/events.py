"""Stream events of a message (spec §4 order), their pacing, and mid-stream faults."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from sse_starlette import ServerSentEvent

from ..types.rules import error_type_of
from .envelopes import error_body
from .faults import DEFAULT_AFTER, Fault
from .openrouter import availability_fault
from .tokens import chunk_text, count_text

TOKENS_PER_DELTA = 3
JSON_CHARS_PER_DELTA = 10
PING_EVERY = 20
STALL_CAP = 120.0

Event = tuple[str, dict[str, Any], int]  # (event name, data, tokens it carries, for pacing)


@dataclass(frozen=True)
class Pace:
    """Output speed in tokens per second (0 = no delay) and the wait before the first event."""

    tokens_per_s: float = 150.0
    ttft: float = 0.3

    def delay(self, tokens: int) -> float:
        """Seconds that ``tokens`` take at this pace."""
        return tokens / self.tokens_per_s if self.tokens_per_s > 0 else 0.0


def _start_message(message: dict[str, Any]) -> dict[str, Any]:
    # cost is known only at the end: OpenRouter's stream usage carries none
    usage = {k: v for k, v in message["usage"].items() if k not in ("cost", "cost_details", "is_byok")}
    start = {**message, "content": [], "stop_reason": None, "stop_sequence": None, "stop_details": None}
    start["usage"] = {**usage, "output_tokens": 1, "output_tokens_details": None, "server_tool_use": None}
    return start


def _block_events(index: int, block: dict[str, Any]) -> list[Event]:
    kind = block["type"]
    events: list[Event] = []
    start: dict[str, Any]
    if kind == "text":
        start = {"type": "text", "text": ""}
        events += [("content_block_delta", _delta(index, {"type": "citations_delta", "citation": c}), 0)
                   for c in block.get("citations") or []]
        events += [("content_block_delta", _delta(index, {"type": "text_delta", "text": t}), count_text(t))
                   for t in chunk_text(block["text"], TOKENS_PER_DELTA) if t]
    elif kind == "thinking":
        start = {"type": "thinking", "thinking": "", "signature": ""}
        events += [("content_block_delta", _delta(index, {"type": "thinking_delta", "thinking": t}), count_text(t))
                   for t in chunk_text(block["thinking"], TOKENS_PER_DELTA) if t]
        events.append(("content_block_delta", _delta(index, {"type": "signature_delta",
                                                              "signature": block["signature"]}), 0))
    elif kind in ("tool_use", "server_tool_use"):
        start = {**block, "input": {}}
        text = json.dumps(block["input"], ensure_ascii=False)
        parts = [""] + [text[i : i + JSON_CHARS_PER_DELTA] for i in range(0, len(text), JSON_CHARS_PER_DELTA)]
        events += [("content_block_delta", _delta(index, {"type": "input_json_delta", "partial_json": p}),
                    count_text(p)) for p in parts]
    else:
        start = block  # a complete block: no deltas follow
    opening: Event = ("content_block_start", {"type": "content_block_start", "index": index, "content_block": start}, 0)
    return [opening, *events, ("content_block_stop", {"type": "content_block_stop", "index": index}, 0)]


def _delta(index: int, delta: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_delta", "index": index, "delta": delta}


def message_events(message: dict[str, Any]) -> list[Event]:
    """The events that stream ``message``: message_start, ping, the blocks, message_delta, message_stop."""
    usage = message["usage"]
    events: list[Event] = [("message_start", {"type": "message_start", "message": _start_message(message)}, 0),
                           ("ping", {"type": "ping"}, 0)]
    for index, block in enumerate(message["content"]):
        for event in _block_events(index, block):
            events.append(event)
            if len(events) % PING_EVERY == 0:
                events.append(("ping", {"type": "ping"}, 0))
    delta_usage = {k: usage.get(k) for k in ("input_tokens", "cache_creation_input_tokens",
                                             "cache_read_input_tokens", "output_tokens")}
    for key in ("output_tokens_details", "server_tool_use"):  # sent only when set, like the API
        if usage.get(key):
            delta_usage[key] = usage[key]
    delta = {"stop_reason": message["stop_reason"], "stop_sequence": message["stop_sequence"], "stop_details": None}
    events.append(("message_delta", {"type": "message_delta", "delta": delta, "usage": delta_usage}, 0))
    events.append(("message_stop", {"type": "message_stop"}, 0))
    return events


def encode(name: str, data: dict[str, Any]) -> ServerSentEvent:
    """One SSE event, compact JSON, ``\\n`` line ends like the real API."""
    return ServerSentEvent(data=json.dumps(data, ensure_ascii=False, separators=(",", ":")), event=name, sep="\n")


async def paced_stream(events: list[Event], pace: Pace, fault: Fault | None, *, request_id: str,
                       abort: Callable[[], None], comment: str | None = None,
                       sent: Callable[[int], None] | None = None) -> AsyncIterator[ServerSentEvent]:
    """Send ``events`` at ``pace``; a mid-stream ``fault`` strikes after a few of them.

    ``sent`` hears the output tokens of each event as it goes out (what a stream left early is billed for).
    """
    if comment:
        yield ServerSentEvent(comment=comment, sep="\n")
    at = min(int(fault.number("after", DEFAULT_AFTER)), len(events) - 1) if fault else -1
    for i, (name, data, tokens) in enumerate(events):
        if i == at and fault is not None:
            async for item in _strike(fault, request_id, abort):
                yield item
            if fault.name != "malformed":
                return
        await asyncio.sleep(pace.ttft if i == 0 else pace.delay(tokens))
        if sent is not None:
            sent(tokens)
        yield encode(name, data)


async def _strike(fault: Fault, request_id: str, abort: Callable[[], None]) -> AsyncIterator[ServerSentEvent]:
    if fault.name == "error_event":
        kind = fault.params.get("type", error_type_of(529))  # as an overloaded API sends it
        yield encode("error", error_body(kind, fault.params.get("message", "Overloaded"), request_id))
    elif fault.name == "unavailable":  # an availability error after the stream began (OpenRouter)
        error = availability_fault(fault, fault.params.get("model", ""), None)
        yield encode("error", error_body(error.error_type, error.message, request_id, error.details))
    elif fault.name == "malformed":
        yield ServerSentEvent(data='{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","te',
                              event="content_block_delta", sep="\n")
    elif fault.name == "disconnect":
        abort()
        await asyncio.sleep(0)  # let the transport notice before the response would finish
    elif fault.name == "stall":
        await asyncio.sleep(fault.number("seconds", STALL_CAP))
