"""Helpers for tests (ours and users'): SSE bytes from events, long streams, in-memory transports."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import httpx


def sse(events: Iterable[dict[str, Any]], *, newline: str = "\n", split_data: bool = False) -> bytes:
    """Encode events as an SSE body; ``newline="\\r\\n"`` for CRLF, ``split_data`` for multi-line data."""
    out = []
    for event in events:
        data = json.dumps(event, separators=(",", ":"))
        if split_data and "," in data:
            # a JSON object split after a comma across data: lines; SSE joins them with "\n", which JSON allows
            cut = data.index(",") + 1
            lines = [f"data: {data[:cut]}", f"data: {data[cut:]}"]
        else:
            lines = [f"data: {data}"]
        out.append(newline.join([f"event: {event['type']}", *lines, "", ""]))
    return "".join(out).encode()


def message_events(
    blocks: Iterable[dict[str, Any]] = (),
    *,
    model: str = "claude-test",
    stop_reason: str = "end_turn",
    usage: dict[str, Any] | None = None,
    message_id: str = "msg_test",
) -> list[dict[str, Any]]:
    """A complete, well-ordered event list from final blocks (text split into a few deltas)."""
    events: list[dict[str, Any]] = [{
        "type": "message_start",
        "message": {"id": message_id, "type": "message", "role": "assistant", "model": model, "content": [],
                    "stop_reason": None, "stop_sequence": None,
                    "usage": {"input_tokens": 10, "output_tokens": 1, **(usage or {})}},
    }]
    for index, block in enumerate(blocks):
        events += _block_events(index, block)
    events.append({"type": "message_delta", "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                   "usage": {"output_tokens": 20}})
    events.append({"type": "message_stop"})
    return events


def _block_events(index: int, block: dict[str, Any]) -> list[dict[str, Any]]:
    kind = block["type"]

    def delta(d: dict[str, Any]) -> dict[str, Any]:
        return {"type": "content_block_delta", "index": index, "delta": d}

    start: dict[str, Any]
    if kind == "text":
        start, text = {"type": "text", "text": ""}, block["text"]
        deltas = [delta({"type": "text_delta", "text": text[i:i + 5]}) for i in range(0, len(text), 5)]
    elif kind == "thinking":
        start = {"type": "thinking", "thinking": "", "signature": ""}
        deltas = [delta({"type": "thinking_delta", "thinking": block["thinking"]}),
                  delta({"type": "signature_delta", "signature": block.get("signature", "sig")})]
    elif kind in ("tool_use", "server_tool_use"):
        start = {**block, "input": {}}
        raw = json.dumps(block["input"])
        deltas = [delta({"type": "input_json_delta", "partial_json": raw[i:i + 7]}) for i in range(0, len(raw), 7)]
    else:
        start, deltas = block, []
    return [{"type": "content_block_start", "index": index, "content_block": start}, *deltas,
            {"type": "content_block_stop", "index": index}]


def long_stream(text_deltas: int = 20_000, tool_json_deltas: int = 0, chunk: str = "lorem ipsum ") -> bytes:
    """A long stream for benchmarks: many text deltas (with pings), then a tool call's JSON in many pieces."""
    events: list[dict[str, Any]] = message_events()[:1]
    events.append({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})
    for i in range(text_deltas):
        if i % 500 == 0:
            events.append({"type": "ping"})
        events.append({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": chunk}})
    events.append({"type": "content_block_stop", "index": 0})
    if tool_json_deltas:
        payload = json.dumps({"items": [{"k": i, "v": f"value {i}"} for i in range(tool_json_deltas // 4)]})
        step = max(1, len(payload) // tool_json_deltas)
        events.append({"type": "content_block_start", "index": 1,
                       "content_block": {"type": "tool_use", "id": "toolu_1", "name": "record", "input": {}}})
        for j in range(0, len(payload), step):
            events.append({"type": "content_block_delta", "index": 1,
                           "delta": {"type": "input_json_delta", "partial_json": payload[j:j + step]}})
        events.append({"type": "content_block_stop", "index": 1})
    events += message_events()[-2:]
    return sse(events)


def mock_transport(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> httpx.MockTransport:
    """An in-memory transport that answers every request with these bytes (SSE by default)."""
    headers = {"content-type": "text/event-stream", **(headers or {})}
    return httpx.MockTransport(lambda request: httpx.Response(status, content=body, headers=headers))
