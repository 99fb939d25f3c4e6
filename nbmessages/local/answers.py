"""The offline answer to a request, whole: what both the Messages route and a batch's requests send back."""

from __future__ import annotations

from typing import Any

from . import ids
from .billing import anthropic_usage, openrouter_usage, provider_name
from .intake import ServerState
from .offline_model import respond


def build_message(state: ServerState, body: dict[str, Any], openrouter: bool) -> dict[str, Any]:
    """The complete assistant message for ``body`` (usage and, on /api/v1, OpenRouter's extras)."""
    reply = respond(body)
    model = str(body["model"])
    usage = anthropic_usage(state.cache.account(body), reply.output_tokens, reply.thinking_tokens,
                            reply.server_tool_use)
    message: dict[str, Any] = {
        "id": ids.derived_id("msg", ids.answer_seed(body)), "type": "message", "role": "assistant", "model": model,
        "content": reply.content, "stop_reason": reply.stop_reason, "stop_sequence": reply.stop_sequence,
        "stop_details": None, "container": None, "usage": usage,
    }
    if openrouter:
        message["provider"] = provider_name(model)
        message["usage"] = openrouter_usage(usage, model)
    return message
