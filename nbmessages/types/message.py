"""The response: Message, its usage and its stop details."""

from __future__ import annotations

import json
from typing import Any

from pydantic import Field, PrivateAttr

from ._base import WireModel
from .blocks import ResponseContentBlock, TextBlock, ToolUseBlock


class CacheCreation(WireModel):
    ephemeral_5m_input_tokens: int | None = None
    ephemeral_1h_input_tokens: int | None = None


class ServerToolUsage(WireModel):
    web_search_requests: int | None = None
    web_fetch_requests: int | None = None


class OutputTokensDetails(WireModel):
    thinking_tokens: int | None = None


class Usage(WireModel):
    """Token counts (``input_tokens`` excludes cache reads and writes) and any provider-reported cost."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_creation_input_tokens: int | None = None
    cache_read_input_tokens: int | None = None
    cache_creation: CacheCreation | None = None
    server_tool_use: ServerToolUsage | None = None
    service_tier: str | None = None
    speed: str | None = None
    inference_geo: str | None = None
    output_tokens_details: OutputTokensDetails | None = None
    iterations: list[dict[str, Any]] | None = None
    cost: float | None = None
    cost_details: dict[str, Any] | None = None
    is_byok: bool | None = None

    @property
    def total_input_tokens(self) -> int:
        """All input: uncached plus cache writes plus cache reads."""
        return (self.input_tokens or 0) + (self.cache_creation_input_tokens or 0) + (
            self.cache_read_input_tokens or 0
        )


class StopDetails(WireModel):
    type: str | None = None
    category: str | None = None
    explanation: str | None = None


class Container(WireModel):
    id: str | None = None
    expires_at: str | None = None


class Message(WireModel):
    """An assistant message as the API returns it; unknown fields and block types are kept."""

    id: str = ""
    type: str = "message"
    role: str = "assistant"
    model: str = ""
    content: list[ResponseContentBlock] = Field(default_factory=list)
    stop_reason: str | None = None
    stop_sequence: str | None = None
    stop_details: StopDetails | None = None
    usage: Usage = Field(default_factory=Usage)
    container: Container | None = None
    diagnostics: dict[str, Any] | None = None
    context_management: dict[str, Any] | None = None
    provider: str | None = None
    openrouter_metadata: dict[str, Any] | None = None
    _parsed_output: Any = PrivateAttr(default=None)
    _response_cache: Any = PrivateAttr(default=None)

    @property
    def text(self) -> str:
        """The text of all text blocks, joined."""
        return "".join(b.text for b in self.content if isinstance(b, TextBlock))

    @property
    def tool_uses(self) -> list[ToolUseBlock]:
        """The client tool calls the model asked for."""
        return [b for b in self.content if isinstance(b, ToolUseBlock)]

    @property
    def parsed_output(self) -> Any:
        """The structured output parsed into the requested type (set when the request asked for one)."""
        return self._parsed_output

    def keep_parsed_output(self, value: Any) -> None:
        """Keep the structured output parsed from this message (the client does, when the request asked for one)."""
        self._parsed_output = value

    @property
    def response_cache(self) -> Any:
        """OpenRouter's response-cache facts of this answer (a ResponseCache: ``hit``, age, TTL), or None."""
        return self._response_cache

    def note_response_cache(self, cache: Any) -> None:
        """Attach the response-cache facts read from the answer's headers (the client does this)."""
        self._response_cache = cache

    @property
    def router(self) -> Any:
        """``openrouter_metadata`` typed (a RouterMetadata), or None when the call did not ask for it."""
        from .openrouter import RouterMetadata

        return RouterMetadata.model_validate(self.openrouter_metadata) if self.openrouter_metadata else None

    def to_param(self) -> dict[str, Any]:
        """This message as an assistant turn of a later request, its blocks replayed unchanged."""
        return {"role": "assistant", "content": [b.to_param() for b in self.content]}

    def json_output(self) -> Any:
        """The text parsed as JSON (structured output)."""
        return json.loads(self.text)


class ErrorObject(WireModel):
    type: str = "api_error"
    message: str = ""
    details: dict[str, Any] | None = None
    error_type: str | None = None


class ErrorResponse(WireModel):
    """The error envelope: ``{"type": "error", "error": {...}, "request_id": ...}``."""

    type: str = "error"
    error: ErrorObject = Field(default_factory=ErrorObject)
    request_id: str | None = None


class TokenCount(WireModel):
    """The answer of count_tokens."""

    input_tokens: int


class ModelInfo(WireModel):
    id: str
    type: str = "model"
    display_name: str | None = None
    created_at: str | None = None


class ModelList(WireModel):
    data: list[ModelInfo] = Field(default_factory=list)
    has_more: bool = False
    first_id: str | None = None
    last_id: str | None = None
