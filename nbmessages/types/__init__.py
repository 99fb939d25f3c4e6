"""Pydantic models of the Messages API wire format, and (in ``rules``) the rules client and server share."""

from .blocks import *  # noqa: F403
from .blocks import CacheControl, ContentBlock, TextBlock, ThinkingBlock, ToolUseBlock
from .events import EVENT_TYPES, StreamEvent, parse_event
from .explained import Explained
from .message import ErrorObject, ErrorResponse, Message, ModelInfo, ModelList, TokenCount, Usage
from .params import MAX_ID_LENGTH, MessageCreateParams, MessageParam
from .plugins import KNOWN_PLUGINS
from .rules import ANTHROPIC_ONLY_FIELDS, OPENROUTER_ONLY_FIELDS, SAMPLING_FIELDS
from .validation import RequestValidationError, validate_params

__all__ = [
    "ANTHROPIC_ONLY_FIELDS", "EVENT_TYPES", "KNOWN_PLUGINS", "MAX_ID_LENGTH", "OPENROUTER_ONLY_FIELDS",
    "SAMPLING_FIELDS", "CacheControl", "ContentBlock", "ErrorObject", "ErrorResponse", "Explained", "Message",
    "MessageCreateParams", "MessageParam", "ModelInfo", "ModelList", "RequestValidationError", "StreamEvent",
    "TextBlock", "ThinkingBlock", "TokenCount", "ToolUseBlock", "Usage", "parse_event", "validate_params",
]
