"""One step of stream accumulation, ``accumulate(snapshot, event) -> snapshot``, reused by every consumer.

The client, the renderer, the ledger and replay all build messages with this step. It works on the raw
event dicts and is linear in the number of deltas: text pieces are joined once, when read or when the
block stops; tool input JSON is parsed once, at ``content_block_stop``.
"""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter
from pydantic_core import from_json

from ..types import Message
from ..types.events import ContentBlockStartEvent, MessageDeltaEvent, MessageStartEvent
from .output_count import OutputCount

_TEXT_FIELD = {"text": "text", "thinking": "thinking"}
_PIECE_FIELD = {"text_delta": "text", "input_json_delta": "partial_json", "thinking_delta": "thinking"}  # the deltas that grow a block
_JSON_BLOCKS = ("tool_use", "server_tool_use")
# which block type each known delta extends; a delta of another type is kept out (unknown: forward-compatible)
_DELTA_BLOCKS = {
    "text_delta": ("text",), "thinking_delta": ("thinking",), "signature_delta": ("thinking",),
    "input_json_delta": _JSON_BLOCKS, "citations_delta": ("text",),
}
_DELTA_FIELDS = {"text_delta": "text", "thinking_delta": "thinking", "signature_delta": "signature",
                 "input_json_delta": "partial_json"}
# the structural events are few per stream: validated in full before they touch the snapshot
_check_start = TypeAdapter(MessageStartEvent).validate_python
_check_block = TypeAdapter(ContentBlockStartEvent).validate_python
_check_delta = TypeAdapter(MessageDeltaEvent).validate_python


class ProtocolError(ValueError):
    """An event that breaks the stream protocol: its order, its block index or its field types."""


class Snapshot:
    """The message as received so far, as raw dicts plus the pending pieces of open blocks."""

    __slots__ = ("message", "pieces", "done", "invalid_json", "open", "output")

    def __init__(self) -> None:
        self.message: dict[str, Any] | None = None
        self.pieces: dict[int, list[str]] = {}  # open blocks' text or JSON fragments
        self.done = False  # message_stop seen
        self.invalid_json: dict[int, str] = {}  # tool inputs that were not valid JSON (kept raw)
        self.open: set[int] = set()  # blocks started and not yet stopped
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
        content: list[dict[str, Any]] = self.message["content"]
        return content

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
    if s.message is not None:
        raise ProtocolError("a second message_start in one stream")
    _check_start(event)
    message = dict(event["message"])
    message["content"] = list(message.get("content") or [])
    message["usage"] = dict(message.get("usage") or {})
    s.message = message
    s.output = OutputCount(message["usage"].get("output_tokens") or 0)


def _block_start(s: Snapshot, event: dict[str, Any]) -> None:
    content = _content(s)
    _check_block(event)
    index = event["index"]
    if index != len(content):  # also what bounds memory: a block costs what was received, never an index
        raise ProtocolError(f"content_block_start index {index}: the next block's index is {len(content)}")
    block = dict(event["content_block"])
    content.append(block)
    s.open.add(index)
    kind = block.get("type", "")
    if kind in _TEXT_FIELD:
        s.pieces[index] = [block.get(_TEXT_FIELD[kind]) or ""]
    elif kind in _JSON_BLOCKS:
        s.pieces[index] = []


def _open_block(s: Snapshot, event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    index = event.get("index")
    if type(index) is not int or index not in s.open:
        state = "already stopped" if type(index) is int and index < len(_content(s)) else "never started"
        raise ProtocolError(f"{event.get('type')} for block {index!r}, which was {state}")
    return index, _content(s)[index]


def _block_delta(s: Snapshot, event: dict[str, Any]) -> None:
    index, block = _open_block(s, event)
    delta = event.get("delta")
    if not isinstance(delta, dict):
        raise ProtocolError(f"content_block_delta for block {index}: delta is not an object")
    kind = delta.get("type")
    allowed = _DELTA_BLOCKS.get(kind)  # type: ignore[arg-type]
    if allowed is not None and block.get("type") not in allowed:
        raise ProtocolError(f"a {kind} for block {index}, a {block.get('type')!r} block")
    field = _DELTA_FIELDS.get(kind)  # type: ignore[arg-type]
    if field is not None and not isinstance(delta.get(field, ""), str):
        raise ProtocolError(f"{kind}.{field} for block {index} is not a string")
    piece = delta.get(_PIECE_FIELD.get(str(kind), ""))
    if piece is not None:
        s.pieces[index].append(piece)
        if s.output is not None:
            _message(s)["usage"]["output_tokens"] = s.output.add(piece)
    elif kind == "signature_delta":
        block["signature"] = delta.get("signature", "")
    elif kind == "citations_delta":
        if not isinstance(delta.get("citation"), dict):
            raise ProtocolError(f"citations_delta for block {index}: citation is not an object")
        block["citations"] = [*(block.get("citations") or []), delta["citation"]]
    elif kind == "compaction_delta":
        block.update({k: v for k, v in delta.items() if k != "type"})


def _block_stop(s: Snapshot, event: dict[str, Any]) -> None:
    index, block = _open_block(s, event)
    s.open.discard(index)
    pieces = s.pieces.pop(index, None)
    if pieces is None:
        return
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
    _check_delta(event)
    replaced = sorted({"content", "usage", "type", "role", "id"} & set(event["delta"]))
    if replaced:
        raise ProtocolError(f"message_delta may not replace the message's {', '.join(replaced)}")
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
        raise ProtocolError("stream event before message_start")
    return s.message


def _content(s: Snapshot) -> list[dict[str, Any]]:
    content: list[dict[str, Any]] = _message(s)["content"]
    return content


_STEPS = {
    "message_start": _message_start,
    "content_block_start": _block_start,
    "content_block_delta": _block_delta,
    "content_block_stop": _block_stop,
    "message_delta": _message_delta,
    "message_stop": _message_stop,
}
