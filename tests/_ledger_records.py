"""Helpers for the ledger tests: call records built from real Message objects."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from nbmessages.client.observers import CallRecord
from nbmessages.types import Message

SONNET_USAGE = {
    "input_tokens": 1000, "output_tokens": 500, "cache_creation_input_tokens": 300,
    "cache_read_input_tokens": 2000,
    "cache_creation": {"ephemeral_5m_input_tokens": 300, "ephemeral_1h_input_tokens": 0},
}
SONNET_COST = 0.012225


def message(model: str = "claude-sonnet-4-5", usage: dict[str, Any] | None = None, **extra: Any) -> Message:
    """A response message with usage."""
    body = {"id": "msg_01abc", "type": "message", "role": "assistant", "model": model,
            "content": [{"type": "text", "text": "Hello"}], "stop_reason": "end_turn",
            "usage": SONNET_USAGE if usage is None else usage, **extra}
    return Message.model_validate(body)


def record(
    model: str = "claude-sonnet-4-5",
    outcome: str = "ok",
    usage: dict[str, Any] | None = None,
    profile: str = "anthropic",
    when: datetime | None = None,
    with_message: bool = True,
    **kw: Any,
) -> CallRecord:
    """A call record to Anthropic (or OpenRouter with profile='openrouter')."""
    host = "openrouter.ai" if profile == "openrouter" else "api.anthropic.com"
    msg = message(model, usage, **kw.pop("message_extra", {})) if with_message else None
    defaults: dict[str, Any] = dict(request_id="req_01", ttft=0.25, duration=1.25, session_id="sess-1",
                                    chat="main", tags={"notebook": "a.ipynb"})
    defaults.update(kw)
    return CallRecord(started_at=when or datetime.now(timezone.utc), profile=profile, base_host=host,
                      model_requested=model, streamed=True, outcome=outcome, message=msg, **defaults)
