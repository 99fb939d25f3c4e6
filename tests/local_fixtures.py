"""Helpers for the local server tests: request bodies, SSE parsing and accumulation (fixtures are in conftest)."""

from __future__ import annotations

import json
from typing import Any

import httpx


def body(text: str = "Hello there", **fields: Any) -> dict[str, Any]:
    """A minimal valid create body with one user message."""
    return {"model": "claude-sonnet-4-6", "max_tokens": 1024, "messages": [{"role": "user", "content": text}],
            **fields}


def sse_events(text: str) -> list[dict[str, Any]]:
    """The JSON data of every SSE event of a body (comments skipped), with its ``event:`` name as ``_event``."""
    events = []
    for frame in text.replace("\r\n", "\n").split("\n\n"):
        lines = [line for line in frame.split("\n") if line and not line.startswith(":")]
        if not lines:
            continue
        name = next((line[7:] for line in lines if line.startswith("event: ")), None)
        data = "\n".join(line[6:] for line in lines if line.startswith("data: "))
        events.append({**json.loads(data), "_event": name})
    return events


def accumulate(events: list[dict[str, Any]]) -> dict[str, Any]:
    """Rebuild the message from stream events the way spec §4.4 says."""
    message: dict[str, Any] = {}
    partial: dict[int, str] = {}
    for event in events:
        kind = event["type"]
        if kind == "message_start":
            message = json.loads(json.dumps(event["message"]))
        elif kind == "content_block_start":
            assert event["index"] == len(message["content"])
            block = dict(event["content_block"])
            if block["type"] == "text":  # a start block has no citations key; the full message has null
                block.setdefault("citations", None)
            message["content"].append(block)
        elif kind == "content_block_delta":
            _apply_delta(message["content"][event["index"]], event["delta"], partial, event["index"])
        elif kind == "content_block_stop" and event["index"] in partial:
            message["content"][event["index"]]["input"] = json.loads(partial.pop(event["index"]) or "{}")
        elif kind == "message_delta":
            message.update({k: v for k, v in event["delta"].items()})
            message["usage"].update({k: v for k, v in event["usage"].items() if v is not None})
    return message


def _apply_delta(block: dict[str, Any], delta: dict[str, Any], partial: dict[int, str], index: int) -> None:
    kind = delta["type"]
    if kind == "text_delta":
        block["text"] += delta["text"]
    elif kind == "thinking_delta":
        block["thinking"] += delta["thinking"]
    elif kind == "signature_delta":
        block["signature"] = delta["signature"]
    elif kind == "citations_delta":
        block["citations"] = [*(block.get("citations") or []), delta["citation"]]
    elif kind == "input_json_delta":
        partial[index] = partial.get(index, "") + delta["partial_json"]


def stream(http: httpx.Client, payload: dict[str, Any], path: str = "/v1/messages", **kw: Any) -> httpx.Response:
    """POST ``payload`` with ``stream: true``."""
    return http.post(path, json={**payload, "stream": True}, **kw)


def error_of(response: httpx.Response) -> dict[str, Any]:
    """The ``error`` object of a JSON error response, after checking the envelope."""
    data = response.json()
    assert data["type"] == "error" and set(data) == {"type", "error", "request_id"}, data
    assert isinstance(data["error"]["message"], str) and data["error"]["message"]
    return data["error"]
