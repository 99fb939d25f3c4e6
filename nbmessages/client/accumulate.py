"""One step of stream accumulation, ``accumulate(snapshot, event) -> snapshot``, reused by every consumer.

The client, the renderer, the ledger and replay all build messages with this step. It works on the raw
event dicts and is linear in the number of deltas: text pieces are joined once, when read or when the
block stops; tool input JSON is parsed once, at ``content_block_stop``.
"""

from __future__ import annotations

from typing import Any

from pydantic_core import from_json

from ..types import Message
from .output_count import OutputCount

_TEXT_FIELD = {"text": "text", "thinking": "thinking"}
_DELTA_FIELD = {"text_delta": "text", "input_json_delta": "partial_json", "thinking_delta": "thinking"}
_JSON_BLOCKS = ("tool_use", "server_tool_use")


class Snapshot:
    """The message as received so far, as raw dicts plus the pending pieces of open blocks."""

    __slots__ = ("message", "pieces", "done", "invalid_json", "output")

    def __init__(self) -> None:
        self.message: dict[str, Any] | None = None
        self.pieces: dict[int, list[str]] = {}  # open blocks' text or JSON fragments
        self.done = False  # message_stop seen
        self.invalid_json: dict[int, str] = {}  # tool inputs that were not valid JSON (kept raw)
        self.output: OutputCount | None = None  # counting output tokens until the server's count arrives

    @property
    def output_counted(self) -> bool:
        """Whether ``usage.output_tokens`` is the client's count (no final usage from the server yet)."""
        return self.output is not None and self.output.tokens > 0

    @property
    def started(self) -> bool:
        """Whether message_start has arrived."""
        return self.message is not None

    def blocks(self) -> list[dict[str, Any]]:
        """The content blocks so far, open ones included, with their text joined."""
        if self.message is None:
            return []
        for index in list(self.pieces):
            self._flush(index)
        return self.message["content"]

    def live_input(self, index: int) -> Any:
        """The partial tool input of an open block, parsed leniently (only when someone asks)."""
        pieces = self.pieces.get(index)
        if pieces is None:
            return self.blocks()[index].get("input", {})
        raw = "".join(pieces)
        try:
            return from_json(raw, allow_partial=True) if raw else {}
        except ValueError:
            return {}

    def to_message(self) -> Message:
        """The message so far, typed (readable at any moment of a stream)."""
        if self.message is None:
            return Message()
        self.blocks()
        return Message.model_validate(self.message)

    def _flush(self, index: int) -> None:
        """Join an open text block's pieces so far (keeps re-reads linear overall)."""
        block = self.message["content"][index]  # type: ignore[index]
        name = _TEXT_FIELD.get(block.get("type", ""))
        if name is not None:
            pieces = self.pieces[index]
            if len(pieces) > 1:
                pieces[:] = ["".join(pieces)]
            block[name] = pieces[0] if pieces else ""


def accumulate(snapshot: Snapshot, event: dict[str, Any]) -> Snapshot:
    """Apply one stream event (a parsed JSON dict) to the snapshot and return it."""
    step = _STEPS.get(event.get("type"))  # type: ignore[arg-type]
    if step is not None:
        step(snapshot, event)
    return snapshot


def _message_start(s: Snapshot, event: dict[str, Any]) -> None:
    message = dict(event.get("message") or {})
    message["content"] = list(message.get("content") or [])
    message["usage"] = dict(message.get("usage") or {})
    s.message = message
    s.output = OutputCount(message["usage"].get("output_tokens") or 0)


def _block_start(s: Snapshot, event: dict[str, Any]) -> None:
    content = _content(s)
    index = event["index"]
    block = dict(event.get("content_block") or {})
    while len(content) <= index:
        content.append({"type": "text", "text": ""})
    content[index] = block
    kind = block.get("type", "")
    if kind in _TEXT_FIELD:
        s.pieces[index] = [block.get(_TEXT_FIELD[kind]) or ""]
    elif kind in _JSON_BLOCKS:
        s.pieces[index] = []


def _block_delta(s: Snapshot, event: dict[str, Any]) -> None:
    index = event["index"]
    delta = event.get("delta") or {}
    kind = delta.get("type")
    piece = delta.get(_DELTA_FIELD.get(kind or "", ""))
    if piece is not None:
        s.pieces[index].append(piece)
        if s.output is not None:
            _message(s)["usage"]["output_tokens"] = s.output.add(piece)
    elif kind == "signature_delta":
        _content(s)[index]["signature"] = delta.get("signature", "")
    elif kind == "citations_delta":
        block = _content(s)[index]
        block["citations"] = [*(block.get("citations") or []), delta.get("citation")]
    elif kind == "compaction_delta":
        block = _content(s)[index]
        block.update({k: v for k, v in delta.items() if k != "type"})


def _block_stop(s: Snapshot, event: dict[str, Any]) -> None:
    index = event["index"]
    pieces = s.pieces.pop(index, None)
    if pieces is None:
        return
    block = _content(s)[index]
    kind = block.get("type", "")
    if kind in _TEXT_FIELD:
        block[_TEXT_FIELD[kind]] = "".join(pieces)
        return
    raw = "".join(pieces)
    try:
        block["input"] = from_json(raw) if raw else (block.get("input") or {})
    except ValueError:
        s.invalid_json[index] = raw  # e.g. cut by max_tokens: kept raw, the block's input stays {}
        block["input"] = {}


def _message_delta(s: Snapshot, event: dict[str, Any]) -> None:
    message = _message(s)
    for key, value in (event.get("delta") or {}).items():
        message[key] = value
    usage = message["usage"]
    for key, value in (event.get("usage") or {}).items():
        if value is not None:  # cumulative totals: overwrite; absent/null keeps message_start's value
            usage[key] = value
    if (event.get("usage") or {}).get("output_tokens") is not None:
        s.output = None  # the server's count replaces the client's
    if event.get("context_management") is not None:
        message["context_management"] = event["context_management"]


def _message_stop(s: Snapshot, event: dict[str, Any]) -> None:
    s.done = True
    if event.get("openrouter_metadata") is not None:
        _message(s)["openrouter_metadata"] = event["openrouter_metadata"]


def _message(s: Snapshot) -> dict[str, Any]:
    if s.message is None:
        raise ValueError("stream event before message_start")
    return s.message


def _content(s: Snapshot) -> list[dict[str, Any]]:
    return _message(s)["content"]


_STEPS = {
    "message_start": _message_start,
    "content_block_start": _block_start,
    "content_block_delta": _block_delta,
    "content_block_stop": _block_stop,
    "message_delta": _message_delta,
    "message_stop": _message_stop,
}
