"""What is shown around the content: the footer, stop-reason notes, and the error box."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

from ...ledger.money import usd
from ...types import Message, RequestValidationError, Usage
from ...types._base import WireModel
from ...types.redact import scrub
from .markdown import escape_dollars
from .openrouter import availability_lines, router_of


@dataclass
class Status:
    """Facts about a call for the footer and notes; unset fields are taken from the message when there is one."""

    model: str | None = None
    provider: str | None = None
    stop_reason: str | None = None
    stop_sequence: str | None = None
    stop_details: dict[str, Any] | None = None
    usage: Usage | None = None
    cost: float | None = None
    ttft: float | None = None
    duration: float | None = None
    max_tokens: int | None = None
    streaming: bool = False
    interrupted: bool = False
    error: BaseException | None = None
    error_hint: str | None = None  # a front end's own hint, after the error's
    notes: list[str] = field(default_factory=list)
    routing: Any = None  # OpenRouter's router metadata (RouterMetadata), shown folded under the answer
    response_cache: Any = None  # OpenRouter's response-cache facts (ResponseCache) of the last call
    footer: bool = True  # False where a usage line of its own shows these figures (the playground's columns)

    def merged(self, message: dict[str, Any] | None) -> Status:
        """This status with gaps filled from a raw message dict (model, stop reason, usage, provider)."""
        if not message:
            return self
        details = message.get("stop_details")
        usage = message.get("usage")
        found: dict[str, Any] = {
            "model": message.get("model") or None,
            "provider": message.get("provider"),
            "stop_reason": message.get("stop_reason"),
            "stop_sequence": message.get("stop_sequence"),
            "stop_details": details.to_dict() if isinstance(details, WireModel) else details,
            "usage": Usage.model_validate(usage) if isinstance(usage, dict) else usage,
            "routing": router_of(message),
        }
        return replace(self, **{k: v for k, v in found.items() if getattr(self, k) is None and v is not None})

    def with_(self, **changes: Any) -> Status:
        """A copy with some fields changed."""
        return replace(self, **changes)


STATUS_FIELDS = tuple(f.name for f in fields(Status))


def price(usage: Usage | None, model: str | None, profile: str | None = None, host: str | None = None,
          cache_hit: bool = False) -> float | None:
    """The USD cost of a call from the ledger's price function, or None when unknown or unavailable."""
    if cache_hit:
        return 0.0  # OpenRouter bills a response-cache HIT nothing
    if usage is None or not model:
        return None
    try:
        from ...ledger import prices  # the price tables load lazily and may be absent
    except ImportError:
        return None
    try:  # quietly: the ledger already warns once about unknown prices
        return prices.cost_of(usage, model, prices.provider_id(profile, host), quiet=True).usd
    except Exception:  # noqa: BLE001 - a missing price must never cost the user the answer
        return None


def add_usage(total: Usage | None, more: Usage | None) -> Usage | None:
    """The sum of two calls' token counts (for a tool loop's footer)."""
    if more is None:
        return total
    if total is None:
        return more
    keys = ("input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
    return Usage(**{k: (getattr(total, k) or 0) + (getattr(more, k) or 0) for k in keys})


def add_cost(total: float | None, more: float | None) -> float | None:
    """The sum of two calls' costs; an unknown cost adds nothing, and only two unknowns stay unknown."""
    if total is None and more is None:
        return None
    return (total or 0.0) + (more or 0.0)


def _seconds(value: float) -> str:
    return f"{value:.2f} s"


def footer_parts(s: Status) -> list[str]:
    """The footer's pieces: model, provider, stop reason, tokens, cost, time to first token, duration."""
    parts = [p for p in (s.model, s.provider) if p]
    if s.streaming:
        parts.append("streaming…")
    elif s.interrupted:
        parts.append("interrupted")
    elif s.stop_reason:
        parts.append(s.stop_reason)
    u = s.usage
    if u is not None:
        parts.append(
            f"in {u.input_tokens or 0} · out {u.output_tokens or 0} · cache read {u.cache_read_input_tokens or 0}"
            f" · cache write {u.cache_creation_input_tokens or 0}"
        )
    if s.response_cache is not None and s.response_cache.hit:
        parts.append("response cache HIT (free)")
    if s.cost is not None:
        parts.append(usd(s.cost, 4) if s.cost < 0.01 else usd(s.cost))
    if s.ttft is not None:
        parts.append(f"first token {_seconds(s.ttft)}")
    if s.duration is not None and not s.streaming:
        parts.append(_seconds(s.duration))
    return parts


def stop_note(s: Status) -> str | None:
    """A visible sentence for the way the answer ended, when it is not a plain end of turn."""
    if s.streaming or s.error is not None:
        return None
    if s.interrupted:
        return "⏹ **Interrupted**: the stream was stopped; this is the partial answer received so far."
    reason = s.stop_reason
    if reason in (None, "end_turn"):
        return None
    if reason == "max_tokens":
        limit = f" ({s.max_tokens} tokens)" if s.max_tokens else ""
        return f"✂ **The answer was cut**: it reached max_tokens{limit}. Raise `--max-tokens` for a longer answer."
    if reason == "stop_sequence":
        return f"⏹ Stopped at the stop sequence `{s.stop_sequence or '?'}`."
    if reason == "refusal":
        d = s.stop_details or {}
        category = f" (category: {d.get('category')})" if d.get("category") else ""
        explanation = f": {d['explanation']}" if d.get("explanation") else "."
        return f"⛔ **The model declined to answer**{category}{explanation}"
    if reason == "tool_use":
        return "🔧 The model asked to call a tool and waits for its result (`tool_use`); pass `--tools` with a Python function to run it."
    if reason == "pause_turn":
        return "⏸ The model paused a long turn (`pause_turn`); run the cell again to continue it."
    if reason == "model_context_window_exceeded":
        return "✂ **The answer was cut**: the model's context window is full."
    return f"ℹ The answer ended with stop_reason `{reason}`."


def error_lines(error: BaseException, *, title: str | None = None, hint: str | None = None) -> tuple[str, list[str]]:
    """A title and the detail lines of an error, without a traceback.

    Title and hint come from the error itself (``Explained``); a front end may give a ``title`` for an error that
    has none (another library's) and add its own ``hint`` after the error's.
    """
    name = type(error).__name__
    title = getattr(error, "title", None) or title or name
    code = [str(v) for v in (getattr(error, "error_type", None), getattr(error, "status_code", None)) if v]
    if code:
        title += f" ({' '.join(code)})"
    if isinstance(error, RequestValidationError):
        lines = [f"{path or '(request)'}: {msg}" for path, msg in error.problems]
    else:
        lines = [str(getattr(error, "message", None) or error) or name]
    lines += availability_lines(error)
    if request_id := getattr(error, "request_id", None):
        lines.append(f"request id {request_id}")
    lines += [h for h in (getattr(error, "hint", None), hint) if h]
    return title, [scrub(line) for line in lines]


def error_markdown(error: BaseException, *, title: str | None = None, hint: str | None = None) -> str:
    """The error box as a Markdown blockquote."""
    title, lines = error_lines(error, title=title, hint=hint)
    body = "\n>\n".join(f"> {line}" for line in lines)
    return escape_dollars(f"> **⚠ {title}**\n>\n{body}")


def error_plain(error: BaseException, *, title: str | None = None, hint: str | None = None) -> str:
    """The error box as plain text."""
    title, lines = error_lines(error, title=title, hint=hint)
    return "\n".join([f"⚠ {title}", *(f"  {line}" for line in lines)])


def status_of(message: Message | None) -> Status:
    """A status from a message alone."""
    return Status().merged(message.model_dump(mode="python") if message is not None else None)
