"""Content blocks of requests and responses, citations and their sources."""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator, model_validator

from ._base import OpenParamModel, ParamModel, WireModel, tagged

IMAGE_MEDIA_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")


class CacheControl(ParamModel):
    """A prompt-cache breakpoint."""

    type: Literal["ephemeral"] = "ephemeral"
    ttl: Literal["5m", "1h"] | None = None


def _check_base64(data: str) -> str:
    try:
        base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("is not valid base64 (it cannot be decoded)") from None
    return data


class _Base64Data(ParamModel):
    type: Literal["base64"] = "base64"
    data: str

    @field_validator("data")
    @classmethod
    def _decodes(cls, value: str) -> str:
        return _check_base64(value)


_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
)
_PDF_HEADER_WITHIN = 1024  # readers accept the %PDF- header anywhere in the first kilobyte


def sniff_media_type(data: bytes) -> str | None:
    """The media type of image or PDF bytes, from their magic numbers."""
    for magic, media_type in _SIGNATURES:
        if data.startswith(magic):
            return media_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if b"%PDF-" in data[:_PDF_HEADER_WITHIN]:
        return "application/pdf"
    return None


def _head(data: str) -> bytes:
    """The first kilobyte or so of base64 data, decoded (the rest is never decoded twice)."""
    return base64.b64decode(data[: (_PDF_HEADER_WITHIN // 3 + 1) * 4])


class _SniffedData(_Base64Data):
    media_type: str

    @model_validator(mode="after")
    def _bytes_match_media_type(self) -> _SniffedData:
        found = sniff_media_type(_head(self.data))
        if found != self.media_type:
            what = f"{found} bytes" if found else f"bytes that are not {self.media_type} (no magic number)"
            raise ValueError(f"media_type is {self.media_type!r} but the data holds {what}")
        return self


class Base64ImageSource(_SniffedData):
    media_type: Literal["image/jpeg", "image/png", "image/gif", "image/webp"]


class Base64PDFSource(_SniffedData):
    media_type: Literal["application/pdf"] = "application/pdf"


class URLSource(ParamModel):
    type: Literal["url"] = "url"
    url: str = Field(min_length=1)


class FileSource(ParamModel):
    type: Literal["file"] = "file"
    file_id: str = Field(min_length=1)


class PlainTextSource(ParamModel):
    type: Literal["text"] = "text"
    media_type: Literal["text/plain"] = "text/plain"
    data: str


class ContentSource(ParamModel):
    type: Literal["content"] = "content"
    content: str | list[Any]


if TYPE_CHECKING:  # the type checker sees the plain union; pydantic gets the open, tagged one
    ImageSource = Base64ImageSource | URLSource | FileSource
else:
    ImageSource = tagged(fallback="invalid", base64=Base64ImageSource, url=URLSource, file=FileSource)
if TYPE_CHECKING:  # the type checker sees the plain union; pydantic gets the open, tagged one
    DocumentSource = Base64PDFSource | URLSource | FileSource | PlainTextSource | ContentSource
else:
    DocumentSource = tagged(
        fallback="invalid", base64=Base64PDFSource, url=URLSource, file=FileSource, text=PlainTextSource,
        content=ContentSource,
    )


class Citation(WireModel):
    """A citation on a text block (char, page, content-block, search-result or web location)."""

    type: str
    cited_text: str | None = None
    document_index: int | None = None
    document_title: str | None = None


class BlockParam(OpenParamModel):
    """Base of request blocks: known fields are checked, fields of replayed responses pass through."""

    type: str
    cache_control: CacheControl | None = None


class TextBlockParam(BlockParam):
    type: Literal["text"] = "text"
    text: str
    citations: list[dict[str, Any]] | None = None


class ImageBlockParam(BlockParam):
    type: Literal["image"] = "image"
    source: ImageSource


class DocumentBlockParam(BlockParam):
    type: Literal["document"] = "document"
    source: DocumentSource
    title: str | None = None
    context: str | None = None
    citations: dict[str, Any] | None = None


class SearchResultBlockParam(BlockParam):
    type: Literal["search_result"] = "search_result"
    source: str
    title: str
    content: list[TextBlockParam]
    citations: dict[str, Any] | None = None


class ToolUseBlockParam(BlockParam):
    type: Literal["tool_use"] = "tool_use"
    id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    input: dict[str, Any]


class ServerToolUseBlockParam(BlockParam):
    type: Literal["server_tool_use"] = "server_tool_use"
    id: str
    name: str
    input: dict[str, Any]


class ThinkingBlockParam(BlockParam):
    type: Literal["thinking"] = "thinking"
    thinking: str
    signature: str


class RedactedThinkingBlockParam(BlockParam):
    type: Literal["redacted_thinking"] = "redacted_thinking"
    data: str


if TYPE_CHECKING:  # the type checker sees the plain union; pydantic gets the open, tagged one
    ToolResultContent = (
        TextBlockParam | ImageBlockParam | DocumentBlockParam | SearchResultBlockParam | BlockParam
    )
else:
    ToolResultContent = tagged(
        fallback="unknown", text=TextBlockParam, image=ImageBlockParam, document=DocumentBlockParam,
        search_result=SearchResultBlockParam, unknown=BlockParam,
    )


class ToolResultBlockParam(BlockParam):
    type: Literal["tool_result"] = "tool_result"
    tool_use_id: str = Field(min_length=1)
    content: str | list[ToolResultContent] | None = None
    is_error: bool | None = None


if TYPE_CHECKING:  # the type checker sees the plain union; pydantic gets the open, tagged one
    ContentBlockParam = (
        TextBlockParam | ImageBlockParam | DocumentBlockParam | SearchResultBlockParam
        | ToolUseBlockParam | ServerToolUseBlockParam | ToolResultBlockParam | ThinkingBlockParam
        | RedactedThinkingBlockParam | BlockParam
    )
else:
    ContentBlockParam = tagged(
        fallback="unknown",
        text=TextBlockParam,
        image=ImageBlockParam,
        document=DocumentBlockParam,
        search_result=SearchResultBlockParam,
        tool_use=ToolUseBlockParam,
        server_tool_use=ServerToolUseBlockParam,
        tool_result=ToolResultBlockParam,
        thinking=ThinkingBlockParam,
        redacted_thinking=RedactedThinkingBlockParam,
        unknown=BlockParam,
    )


# Response blocks: every field a server adds is kept (WireModel), unknown block types too.


class ContentBlock(WireModel):
    """Base of response blocks; an unknown block type is kept as this, with all its fields."""

    type: str

    def to_param(self) -> dict[str, Any]:
        """The block as it is sent back in a later request (replay), unchanged but for nulls."""
        return self.to_dict()


class TextBlock(ContentBlock):
    type: Literal["text"] = "text"
    text: str = ""
    citations: list[Citation] | None = None


class ThinkingBlock(ContentBlock):
    type: Literal["thinking"] = "thinking"
    thinking: str = ""
    signature: str = ""


class RedactedThinkingBlock(ContentBlock):
    type: Literal["redacted_thinking"] = "redacted_thinking"
    data: str = ""


class ToolUseBlock(ContentBlock):
    type: Literal["tool_use"] = "tool_use"
    id: str
    name: str
    input: Any = Field(default_factory=dict)


class ServerToolUseBlock(ContentBlock):
    type: Literal["server_tool_use"] = "server_tool_use"
    id: str
    name: str
    input: Any = Field(default_factory=dict)


class ServerToolResultBlock(ContentBlock):
    """A server tool's result (web search, web fetch, code execution, …)."""

    tool_use_id: str | None = None
    content: Any = None


SERVER_TOOL_RESULT_TYPES = (
    "web_search_tool_result", "web_fetch_tool_result", "code_execution_tool_result",
    "bash_code_execution_tool_result", "text_editor_code_execution_tool_result", "tool_search_tool_result",
    "advisor_tool_result", "openrouter_shell_tool_result", "openrouter_bash_tool_result",
    "openrouter_tool_search_result",
)

if TYPE_CHECKING:  # the type checker sees the plain union; pydantic gets the open, tagged one
    ResponseContentBlock = (
        TextBlock | ThinkingBlock | RedactedThinkingBlock | ToolUseBlock | ServerToolUseBlock
        | ServerToolResultBlock | ContentBlock
    )
else:
    ResponseContentBlock = tagged(
        fallback="unknown",
        text=TextBlock,
        thinking=ThinkingBlock,
        redacted_thinking=RedactedThinkingBlock,
        tool_use=ToolUseBlock,
        server_tool_use=ServerToolUseBlock,
        **dict.fromkeys(SERVER_TOOL_RESULT_TYPES, ServerToolResultBlock),
        unknown=ContentBlock,
    )
