"""OpenRouter's plugins as documented: each id's fields (OpenAPI ``MessagesRequest.plugins``, docs repo 2026-08-22).

An id or field outside this list is refused with a did-you-mean; an id documented later can be sent through
``extra_body``. Every plugin takes ``enabled: false`` to turn off an account default for one request
(``guides/features/plugins.mdx``), so ``enabled`` is accepted on each.
"""

from __future__ import annotations

from difflib import get_close_matches
from typing import Any, Literal

from pydantic import Field, ValidationError

from ._base import ParamModel


class _Plugin(ParamModel):
    id: str
    enabled: bool | None = None


class UserLocation(ParamModel):
    type: Literal["approximate"]
    city: str | None = None
    region: str | None = None
    country: str | None = None
    timezone: str | None = None


class WebSearchPlugin(_Plugin):
    """``web`` (deprecated: the ``openrouter:web_search`` server tool replaces it)."""

    engine: Literal["native", "exa", "firecrawl", "parallel", "perplexity"] | None = None
    max_results: int | None = Field(default=None, ge=1)
    max_uses: int | None = Field(default=None, ge=1)
    mode: Literal["instant", "fast", "auto", "deep-lite", "deep", "deep-reasoning", "turbo", "basic",
                  "advanced"] | None = None
    search_prompt: str | None = None
    include_domains: list[str] | None = None
    exclude_domains: list[str] | None = None
    user_location: UserLocation | None = None


class WebFetchPlugin(_Plugin):
    max_uses: int | None = Field(default=None, ge=1)
    max_content_tokens: int | None = Field(default=None, ge=1)
    allowed_domains: list[str] | None = None
    blocked_domains: list[str] | None = None


class PdfOptions(ParamModel):
    engine: Literal["mistral-ocr", "native", "cloudflare-ai", "pdf-text"] | None = None


class FileParserPlugin(_Plugin):
    pdf: PdfOptions | None = None


class ContextCompressionPlugin(_Plugin):
    engine: Literal["middle-out"] | None = None


class AutoBetaRouterPlugin(_Plugin):
    allowed_models: list[str] | None = Field(default=None, max_length=1024)
    excluded_models: list[str] | None = Field(default=None, max_length=1024)
    cost_tier: Literal["low", "medium", "high", "xhigh", "max"] | None = None
    cost_quality_tradeoff: int | None = Field(default=None, ge=0, le=10)  # deprecated by OpenRouter


class AutoRouterPlugin(AutoBetaRouterPlugin):
    pin_model: bool | None = None


class ParetoRouterPlugin(_Plugin):
    min_coding_score: float | None = Field(default=None, ge=0, le=1)
    max_price: float | None = Field(default=None, ge=0)
    price_source: Literal["prompt", "weighted_avg"] | None = None


class FusionTool(ParamModel):
    type: str
    parameters: dict[str, Any] | None = None


class FusionPlugin(_Plugin):
    preset: Literal["general-high", "general-budget", "general-fast"] | None = None
    model: str | None = None
    analysis_models: list[str] | None = Field(default=None, min_length=1, max_length=8)
    max_tool_calls: int | None = Field(default=None, ge=1, le=16)
    tools: list[FusionTool] | None = Field(default=None, max_length=8)


PLUGINS: dict[str, type[_Plugin]] = {
    "auto-router": AutoRouterPlugin, "auto-beta-router": AutoBetaRouterPlugin, "moderation": _Plugin,
    "web": WebSearchPlugin, "web-fetch": WebFetchPlugin, "file-parser": FileParserPlugin,
    "response-healing": _Plugin, "context-compression": ContextCompressionPlugin,
    "pareto-router": ParetoRouterPlugin, "fusion": FusionPlugin,
}
KNOWN_PLUGINS = tuple(PLUGINS)


def check_plugin(value: Any) -> None:
    """Refuse an undocumented plugin id or field, naming what is allowed (did-you-mean for typos)."""
    if not isinstance(value, dict):
        return  # pydantic says what a plugin must be
    plugin_id = value.get("id")
    spec = PLUGINS.get(plugin_id) if isinstance(plugin_id, str) else None
    if spec is None:
        near = get_close_matches(str(plugin_id), KNOWN_PLUGINS, n=1)
        hint = f"did you mean {near[0]!r}? " if near else ""
        raise ValueError(f"{plugin_id!r} is not a documented plugin id; {hint}documented: {', '.join(KNOWN_PLUGINS)}"
                         " (an id documented later goes in extra_body={'plugins': [...]})")
    fields = tuple(spec.model_fields)
    for key in value:
        if key not in fields:
            near = get_close_matches(key, fields, n=1)
            hint = f"did you mean {near[0]!r}? " if near else ""
            raise ValueError(f"{key!r} is not a field of the {plugin_id!r} plugin; {hint}its fields: {', '.join(fields)}")
    try:
        spec.model_validate(value)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ValueError(f"{where} of the {plugin_id!r} plugin: {first['msg']}") from None


def web_search_tool(plugin: dict[str, Any]) -> dict[str, Any]:
    """The ``openrouter:web_search`` server tool that does what a deprecated ``web`` plugin asked for."""
    renamed = {"include_domains": "allowed_domains", "exclude_domains": "excluded_domains"}
    kept = ("engine", "max_results", "max_uses", "mode", "user_location")
    parameters = {renamed.get(k, k): v for k, v in plugin.items() if k in kept or k in renamed}
    return {"type": "openrouter:web_search", **({"parameters": parameters} if parameters else {})}


def plugin_notes(plugins: list[Any], streamed: bool, has_schema: bool) -> list[tuple[str, str]]:
    """(key, sentence) for what OpenRouter will do differently from what the plugins ask (shown once per key)."""
    notes = []
    for plugin in plugins:
        data = plugin if isinstance(plugin, dict) else plugin.to_dict()
        if data.get("enabled") is False:
            continue  # turning a default off: nothing to warn about
        if data.get("id") == "web":
            notes.append(("web", "the 'web' plugin is deprecated by OpenRouter; write the openrouter:web_search "
                                 f"server tool instead: tools=[{web_search_tool(data)!r}]"))
        if data.get("id") == "response-healing" and streamed:
            notes.append(("response-healing:stream", "response-healing runs only on non-streaming requests: this "
                                                     "streamed call is sent without healing (use messages.create, "
                                                     "or --no-stream in the magic)"))
        elif data.get("id") == "response-healing" and not has_schema:
            notes.append(("response-healing:schema", "response-healing only repairs structured output: give a "
                                                     "JSON schema (output_config.format / output_format=)"))
    return notes
