"""Stream events and deltas; unknown event and delta types are kept, never fatal."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import TypeAdapter

from ._base import WireModel, tagged
from .blocks import Citation, ResponseContentBlock
from .message import ErrorObject, Message, Usage


class TextDelta(WireModel):
    type: Literal["text_delta"] = "text_delta"
    text: str = ""


class InputJSONDelta(WireModel):
    type: Literal["input_json_delta"] = "input_json_delta"
    partial_json: str = ""


class ThinkingDelta(WireModel):
    type: Literal["thinking_delta"] = "thinking_delta"
    thinking: str = ""


class SignatureDelta(WireModel):
    type: Literal["signature_delta"] = "signature_delta"
    signature: str = ""


class CitationsDelta(WireModel):
    type: Literal["citations_delta"] = "citations_delta"
    citation: Citation


class CompactionDelta(WireModel):
    type: Literal["compaction_delta"] = "compaction_delta"
    content: str | None = None
    encrypted_content: str | None = None


class UnknownDelta(WireModel):
    type: str


if TYPE_CHECKING:  # the type checker sees the plain union; pydantic gets the open, tagged one
    Delta = (
        TextDelta | InputJSONDelta | ThinkingDelta | SignatureDelta | CitationsDelta | CompactionDelta
        | UnknownDelta
    )
else:
    Delta = tagged(
        text_delta=TextDelta, input_json_delta=InputJSONDelta, thinking_delta=ThinkingDelta,
        signature_delta=SignatureDelta, citations_delta=CitationsDelta, compaction_delta=CompactionDelta,
        unknown=UnknownDelta,
    )


class MessageStartEvent(WireModel):
    type: Literal["message_start"] = "message_start"
    message: Message


class ContentBlockStartEvent(WireModel):
    type: Literal["content_block_start"] = "content_block_start"
    index: int
    content_block: ResponseContentBlock


class ContentBlockDeltaEvent(WireModel):
    type: Literal["content_block_delta"] = "content_block_delta"
    index: int
    delta: Delta


class ContentBlockStopEvent(WireModel):
    type: Literal["content_block_stop"] = "content_block_stop"
    index: int


class MessageDeltaBody(WireModel):
    stop_reason: str | None = None
    stop_sequence: str | None = None
    stop_details: dict[str, Any] | None = None
    container: dict[str, Any] | None = None


class MessageDeltaEvent(WireModel):
    type: Literal["message_delta"] = "message_delta"
    delta: MessageDeltaBody
    usage: Usage | None = None
    context_management: dict[str, Any] | None = None


class MessageStopEvent(WireModel):
    type: Literal["message_stop"] = "message_stop"
    openrouter_metadata: dict[str, Any] | None = None


class PingEvent(WireModel):
    type: Literal["ping"] = "ping"


class ErrorEvent(WireModel):
    type: Literal["error"] = "error"
    error: ErrorObject
    request_id: str | None = None


class UnknownEvent(WireModel):
    type: str


if TYPE_CHECKING:  # the type checker sees the plain union; pydantic gets the open, tagged one
    StreamEvent = (
        MessageStartEvent | ContentBlockStartEvent | ContentBlockDeltaEvent | ContentBlockStopEvent
        | MessageDeltaEvent | MessageStopEvent | PingEvent | ErrorEvent | UnknownEvent
    )
else:
    StreamEvent = tagged(
        message_start=MessageStartEvent, content_block_start=ContentBlockStartEvent,
        content_block_delta=ContentBlockDeltaEvent, content_block_stop=ContentBlockStopEvent,
        message_delta=MessageDeltaEvent, message_stop=MessageStopEvent, ping=PingEvent, error=ErrorEvent,
        unknown=UnknownEvent,
    )

EVENT_TYPES = (
    "message_start", "content_block_start", "content_block_delta", "content_block_stop", "message_delta",
    "message_stop", "ping", "error",
)

_events: TypeAdapter[Any] = TypeAdapter(StreamEvent)


def parse_event(data: dict[str, Any]) -> Any:
    """A typed event from its JSON dict (unknown types become ``UnknownEvent``)."""
    return _events.validate_python(data)
