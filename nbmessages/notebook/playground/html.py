"""HTML for the output area, drawn by the shared renderer (the same blocks, notes, error box and footer)."""

from __future__ import annotations

import html

from ...ledger.money import usd
from ...types import Usage
from ..render import Status, Transcript, add_cost, add_usage, price, render_bundle
from ..render.status import footer_parts
from .conversation import Exchange, Thread

USER_STYLE = "border-left:3px solid #9ab;padding:2px 8px;margin:6px 0;background:rgba(128,160,200,0.08)"
ANSWER_STYLE = "padding:2px 8px;margin:4px 0 10px 0"


def _html(content: object, status: Status | None = None) -> str:
    return render_bundle(content, status, html=True)["text/html"]


def user_html(ex: Exchange) -> str:
    """The prompt of an exchange, as the renderer draws a user turn."""
    return f'<div class="nbmessages-you" style="{USER_STYLE}"><b>You</b>{_html(ex.prompt_turn)}</div>'


def answer_html(ex: Exchange) -> str:
    """What came back, drawn as the magic draws it: live while streaming (earlier tool-loop steps first), then final."""
    if ex.live is not None and not ex.done:
        body = _html(Transcript(*ex.steps, ex.live.snapshot), Status(streaming=True, footer=False))
    elif not ex.done:
        body = _html(Transcript(*ex.steps), Status(streaming=True, footer=False))
    else:
        body = _html(Transcript(*ex.parts()), ex.status())
    return f'<div class="nbmessages-answer" style="{ANSWER_STYLE}">{body}</div>'


def exchange_html(ex: Exchange) -> str:
    """One exchange: the prompt, then the answer."""
    return user_html(ex) + answer_html(ex)


def stats_html(ex: Exchange | None) -> str:
    """The usage line of a column: tokens, cost, time to first token, duration (live while streaming)."""
    if ex is None:
        return ""
    status = ex.status(streaming=not ex.done)
    live = (ex.live.snapshot.message or {}) if ex.live is not None and not ex.done else None
    if live is not None:
        usage = _usage(live.get("usage"))
        cost = price(usage, live.get("model") or ex.model, ex.profile, ex.host)
        status = status.with_(ttft=ex.ttft or ex.live.ttft, usage=add_usage(ex.usage, usage), cost=add_cost(ex.cost, cost))
        status = status.merged(live)
    elif ex.message is not None:
        status = status.merged(ex.message.model_dump(mode="python"))
    parts = footer_parts(status)
    if ex.error is not None:
        parts.append("error")
    return f'<span class="nbmessages-stats" style="color:#666;font-size:90%">{html.escape(" · ".join(parts))}</span>'


def _usage(raw: object) -> Usage | None:
    return Usage.model_validate(raw) if isinstance(raw, dict) else None


def session_html(threads: list[Thread]) -> str:
    """The running total of the playground: calls, tokens, cost."""
    exchanges = [ex for t in threads for ex in t.exchanges if ex.done]
    calls = sum(len(ex.messages) for ex in exchanges)
    tokens_in = sum((ex.usage.input_tokens or 0) for ex in exchanges if ex.usage)
    tokens_out = sum((ex.usage.output_tokens or 0) for ex in exchanges if ex.usage)
    costs = [ex.cost for ex in exchanges if ex.cost is not None]
    cost = f" · {usd(sum(costs), 4)}" if costs else ""
    text = f"session: {calls} call{'s' * (calls != 1)} · in {tokens_in} · out {tokens_out}{cost}"
    return f'<span class="nbmessages-session" style="color:#666;font-size:90%">{html.escape(text)}</span>'
