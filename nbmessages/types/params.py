"""The request body of ``POST /v1/messages``: every documented field, Anthropic's and OpenRouter's."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator, model_validator

from ._base import OpenParamModel, ParamModel, tagged
from .blocks import CacheControl, ContentBlockParam, TextBlockParam
from .plugins import check_plugin

MAX_ID_LENGTH = 128
"""Longest ``user`` / ``session_id`` accepted (the seed's limit; OpenRouter itself now takes 256)."""

MAX_MESSAGES = 100_000
MAX_CACHE_BREAKPOINTS = 4
MIN_THINKING_BUDGET = 1024
TOOL_NAME_PATTERN = r"^[a-zA-Z0-9_-]{1,64}$"

Effort = Literal["low", "medium", "high", "xhigh", "max"]
ThinkingDisplay = Literal["summarized", "omitted", "updates"]


class MessageParam(ParamModel):
    """One turn of the conversation."""

    role: Literal["user", "assistant", "system"]
    content: str | list[ContentBlockParam]
    clear_at: Literal["next_user_message", "never"] | None = None
    output_config: dict[str, Any] | None = None

    @field_validator("content")
    @classmethod
    def _not_empty(cls, value: Any) -> Any:
        if not value:
            raise ValueError("must not be empty (a non-empty string or a non-empty list of blocks)")
        return value


class CustomTool(ParamModel):
    """A client tool: the model asks, your code runs it."""

    name: str = Field(pattern=TOOL_NAME_PATTERN)
    description: str | None = None
    input_schema: dict[str, Any]
    type: Literal["custom"] | None = None
    cache_control: CacheControl | None = None
    strict: bool | None = None
    defer_loading: bool | None = None
    eager_input_streaming: bool | None = None
    input_examples: list[dict[str, Any]] | None = None
    allowed_callers: list[str] | None = None

    @field_validator("input_schema")
    @classmethod
    def _object_schema(cls, value: dict[str, Any]) -> dict[str, Any]:
        if value.get("type") != "object":
            raise ValueError(f"must be a JSON Schema with type 'object' (got type {value.get('type')!r})")
        return value


class ServerTool(OpenParamModel):
    """A versioned Anthropic tool (``web_search_20250305`` …) or an OpenRouter server tool (``openrouter:*``)."""

    type: str
    name: str | None = None
    cache_control: CacheControl | None = None


def _tool_tag(value: Any) -> str:
    get = value.get if isinstance(value, dict) else lambda k, d=None: getattr(value, k, d)
    return "custom" if get("type") in (None, "custom") else "server"


if TYPE_CHECKING:  # the type checker sees the plain union; pydantic gets the open, tagged one
    Tool = CustomTool | ServerTool
else:
    Tool = tagged(tag=_tool_tag, custom=CustomTool, server=ServerTool)


class ToolChoiceAuto(ParamModel):
    type: Literal["auto"] = "auto"
    disable_parallel_tool_use: bool | None = None


class ToolChoiceAny(ParamModel):
    type: Literal["any"] = "any"
    disable_parallel_tool_use: bool | None = None


class ToolChoiceTool(ParamModel):
    type: Literal["tool"] = "tool"
    name: str
    disable_parallel_tool_use: bool | None = None


class ToolChoiceNone(ParamModel):
    type: Literal["none"] = "none"


if TYPE_CHECKING:  # the type checker sees the plain union; pydantic gets the open, tagged one
    ToolChoice = ToolChoiceAuto | ToolChoiceAny | ToolChoiceTool | ToolChoiceNone
else:
    ToolChoice = tagged(
        fallback="invalid", auto=ToolChoiceAuto, any=ToolChoiceAny, tool=ToolChoiceTool, none=ToolChoiceNone
    )


class BlockBinding(ParamModel):
    prefix_mismatch_behavior: Literal["error", "drop_block"] | None = None
    mismatch_behavior: Literal["error", "drop_block"] | None = None


class ThinkingEnabled(ParamModel):
    type: Literal["enabled"] = "enabled"
    budget_tokens: int = Field(ge=MIN_THINKING_BUDGET)
    display: ThinkingDisplay | None = None
    block_binding: BlockBinding | None = None


class ThinkingAdaptive(ParamModel):
    type: Literal["adaptive"] = "adaptive"
    display: ThinkingDisplay | None = None
    block_binding: BlockBinding | None = None


class ThinkingDisabled(ParamModel):
    type: Literal["disabled"] = "disabled"


class ThinkingBetweenTools(ParamModel):
    type: Literal["between_tools"] = "between_tools"


if TYPE_CHECKING:  # the type checker sees the plain union; pydantic gets the open, tagged one
    Thinking = ThinkingEnabled | ThinkingAdaptive | ThinkingDisabled | ThinkingBetweenTools
else:
    Thinking = tagged(
        fallback="invalid", enabled=ThinkingEnabled, adaptive=ThinkingAdaptive, disabled=ThinkingDisabled,
        between_tools=ThinkingBetweenTools,
    )


class JsonSchemaFormat(ParamModel):
    type: Literal["json_schema"] = "json_schema"
    schema_: dict[str, Any] = Field(alias="schema")

    @field_validator("schema_")
    @classmethod
    def _object_schema(cls, value: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(value, dict) or not value:
            raise ValueError("must be a non-empty JSON Schema object")
        return value


class TaskBudget(ParamModel):
    type: Literal["tokens"] = "tokens"
    total: int = Field(ge=1)
    remaining: int | None = Field(default=None, ge=0)


class OutputConfig(ParamModel):
    """Effort, structured output (json_schema) and OpenRouter's task budget."""

    effort: Effort | None = None
    format: JsonSchemaFormat | None = None
    task_budget: TaskBudget | None = None


class Metadata(ParamModel):
    user_id: str | None = Field(default=None, max_length=256)


class ContextManagement(ParamModel):
    edits: list[dict[str, Any]] | None = None


class ProviderSort(ParamModel):
    by: Literal["price", "throughput", "latency", "exacto"] | None = None
    partition: Literal["model", "none"] | None = None


class MaxPrice(ParamModel):
    """Price ceilings, decimal strings in USD (per million tokens, per request, per image, per unit)."""

    prompt: str | None = Field(default=None, pattern=r"^\d+(\.\d+)?$")
    completion: str | None = Field(default=None, pattern=r"^\d+(\.\d+)?$")
    request: str | None = Field(default=None, pattern=r"^\d+(\.\d+)?$")
    image: str | None = Field(default=None, pattern=r"^\d+(\.\d+)?$")
    audio: str | None = Field(default=None, pattern=r"^\d+(\.\d+)?$")

    @field_validator("*", mode="before")
    @classmethod
    def _numbers_as_strings(cls, value: Any) -> Any:
        return str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value


class Percentiles(ParamModel):
    p50: float | None = Field(default=None, ge=0)
    p75: float | None = Field(default=None, ge=0)
    p90: float | None = Field(default=None, ge=0)
    p99: float | None = Field(default=None, ge=0)


Quantization = Literal[
    "int4", "int8", "fp4", "mxfp4", "nvfp4", "fp6", "fp8", "mxfp8", "fp16", "bf16", "fp32", "unknown"
]


class ProviderPreferences(ParamModel):
    """OpenRouter provider routing: exactly the published schema's keys (it forbids any other)."""

    order: list[str] | None = None
    only: list[str] | None = None
    ignore: list[str] | None = None
    allow_fallbacks: bool | None = None
    require_parameters: bool | None = None
    data_collection: Literal["allow", "deny"] | None = None
    zdr: bool | None = None
    enforce_distillable_text: bool | None = None
    quantizations: list[Quantization] | None = None
    sort: Literal["price", "throughput", "latency", "exacto"] | ProviderSort | None = None
    max_price: MaxPrice | None = None
    preferred_max_latency: float | Percentiles | None = None
    preferred_min_throughput: float | Percentiles | None = None


class Plugin(OpenParamModel):
    """An OpenRouter plugin: ``{"id": ..., **settings}``, checked against the documented ids and fields."""

    id: str = Field(min_length=1)
    enabled: bool | None = None

    @model_validator(mode="before")
    @classmethod
    def _documented(cls, value: Any) -> Any:
        check_plugin(value)
        return value


class Trace(OpenParamModel):
    """OpenRouter observability: known keys are strings, any other key passes through."""

    trace_id: str | None = None
    trace_name: str | None = None
    span_name: str | None = None
    generation_name: str | None = None
    parent_span_id: str | None = None


class Fallback(ParamModel):
    model: str = Field(min_length=1)


class Safeguard(OpenParamModel):
    type: str


class MessageCreateParams(ParamModel):
    """The whole body of a Messages request, as sent on the wire."""

    model: str = Field(min_length=1)
    messages: list[MessageParam] = Field(min_length=1, max_length=MAX_MESSAGES)
    max_tokens: int | None = Field(default=None, ge=0)
    system: str | list[TextBlockParam] | None = None
    metadata: Metadata | None = None
    stop_sequences: list[str] | None = None
    stream: bool | None = None
    temperature: float | None = Field(default=None, ge=0.0, le=1.0)
    top_p: float | None = Field(default=None, ge=0.0, le=1.0)
    top_k: int | None = Field(default=None, ge=1)
    tools: list[Tool] | None = None
    tool_choice: ToolChoice | None = None
    thinking: Thinking | None = None
    output_config: OutputConfig | None = None
    cache_control: CacheControl | None = None
    service_tier: Literal["auto", "standard_only", "flex", "priority", "fast", "default"] | None = None
    speed: Literal["standard", "fast"] | None = None
    context_management: ContextManagement | None = None
    container: str | dict[str, Any] | None = None
    diagnostics: dict[str, Any] | None = None
    inference_geo: str | None = None
    # OpenRouter
    provider: ProviderPreferences | None = None
    plugins: list[Plugin] | None = None
    models: list[str] | None = None
    fallbacks: list[Fallback] | None = Field(default=None, max_length=3)
    user: str | None = Field(default=None, max_length=MAX_ID_LENGTH)
    session_id: str | None = Field(default=None, max_length=MAX_ID_LENGTH)
    trace: Trace | None = None
    safeguards: list[Safeguard] | None = None
    stop_server_tools_when: list[dict[str, Any]] | None = None
    deferred_tools: dict[str, Any] | None = None
    route: Literal["fallback", "sort"] | None = None

    @field_validator("stop_sequences")
    @classmethod
    def _real_stops(cls, value: list[str] | None) -> list[str] | None:
        for i, stop in enumerate(value or ()):
            if not stop or not stop.strip():
                raise ValueError(f"item {i} is empty or only whitespace; each stop sequence needs visible text")
        return value

    @field_validator("models")
    @classmethod
    def _model_slugs(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and not all(isinstance(m, str) and m.strip() for m in value):
            raise ValueError("must be a list of non-empty model slugs")
        return value

