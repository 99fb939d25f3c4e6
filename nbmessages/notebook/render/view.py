"""The one renderer: content (blocks, a Message, a stream's snapshot) plus a status → a MIME bundle."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from ...client.accumulate import Snapshot
from ...types import Message
from .blocks import Context, escape_html, md_block, plain_block
from .markdown import escape_dollars, to_html
from .openrouter import routing_markdown, routing_plain
from .status import Status, error_markdown, error_plain, footer_parts, stop_note

Content = Any  # a Message, a Snapshot, a stream, a list of block dicts or models, or None


class Transcript:
    """Several pieces rendered as one (a tool loop's steps, then the live stream); the last names the model."""

    def __init__(self, *parts: Content) -> None:
        self.parts = parts


def content_of(content: Content) -> tuple[list[dict[str, Any]], dict[str, Any] | None, frozenset[int]]:
    """Blocks as dicts, the message-level fields, and the indices of blocks still streaming in."""
    if content is None:
        return [], None, frozenset()
    if isinstance(content, Transcript):
        return _joined(content.parts)
    if hasattr(content, "snapshot") and isinstance(content.snapshot, Snapshot):
        content = content.snapshot
    if isinstance(content, Snapshot):
        return _from_snapshot(content)
    if isinstance(content, Message):
        return [b.to_dict() for b in content.content], _fields(content), frozenset()
    if isinstance(content, dict) and "role" in content:
        raw = content.get("content")
        return _blocks([raw] if isinstance(raw, str) else raw or []), None, frozenset()
    return _blocks(content), None, frozenset()


def _joined(parts: tuple[Content, ...]) -> tuple[list[dict[str, Any]], dict[str, Any] | None, frozenset[int]]:
    blocks: list[dict[str, Any]] = []
    open_indices: set[int] = set()
    message = None
    for part in parts:
        more, fields_, opened = content_of(part)
        open_indices.update(len(blocks) + i for i in opened)
        blocks += more
        message = fields_ or message
    return blocks, message, frozenset(open_indices)


def _fields(m: Message) -> dict[str, Any]:
    keys = ("model", "provider", "stop_reason", "stop_sequence", "stop_details", "usage", "openrouter_metadata")
    return {k: getattr(m, k) for k in keys}


def _from_snapshot(s: Snapshot) -> tuple[list[dict[str, Any]], dict[str, Any] | None, frozenset[int]]:
    blocks = [dict(b) for b in s.blocks()]
    open_indices = frozenset(s.pieces)
    for i in open_indices:
        if blocks[i].get("type") in ("tool_use", "server_tool_use"):
            blocks[i]["input"] = s.live_input(i)
    return blocks, s.message, open_indices


def _blocks(items: Any) -> list[dict[str, Any]]:
    out = []
    for item in items:
        if isinstance(item, str):
            out.append({"type": "text", "text": item})
        elif isinstance(item, BaseModel):
            out.append(item.model_dump(mode="json", exclude_none=True, by_alias=True))
        else:
            out.append(dict(item))
    return out


def _status(content: Content, status: Status | None, message: dict[str, Any] | None) -> Status:
    status = (status or Status()).merged(message)
    if hasattr(content, "ttft") and status.ttft is None and getattr(content, "ttft", None) is not None:
        status = status.with_(ttft=content.ttft)
    return status


def _sections(blocks: list[dict[str, Any]], ctx: Context, render: Any) -> list[str]:
    ctx.note_tools(blocks)
    parts: list[str] = []
    previous = None
    for i, block in enumerate(blocks):
        text = render(block, ctx, i)
        kind = block.get("type")
        if kind == "text" and previous == "text" and parts:
            parts[-1] += text  # the API splits a paragraph into text blocks around citations: rejoin them
        elif text.strip():
            parts.append(text if kind == "text" else text.strip("\n"))
        previous = kind
    return [p.strip("\n") for p in parts if p.strip()]


def render_markdown(content: Content, status: Status | None = None) -> str:
    """The Markdown view: blocks, citations as sources, the stop note, the error box, the footer."""
    blocks, message, open_indices = content_of(content)
    s = _status(content, status, message)
    ctx = Context(s.streaming, open_indices)
    parts = _sections(blocks, ctx, md_block)
    if ctx.footnotes.entries:
        parts.append("**Sources**\n\n" + "\n".join(f"{i}. {e}" for i, e in enumerate(ctx.footnotes.entries, 1)))
    parts += [escape_dollars(f"> {note}") for note in [*s.notes, stop_note(s)] if note]
    if s.routing is not None:
        parts.append(escape_dollars(routing_markdown(s.routing)))
    if s.error is not None:
        parts.append(error_markdown(s.error, hint=s.error_hint))
    if s.streaming and not blocks:
        parts.append("*⏳ waiting for the model…*")
    foot = footer_parts(s) if s.footer else []
    if foot:
        parts.append(escape_dollars(f"<sub>{escape_html(' · '.join(foot))}</sub>"))
    return "\n\n".join(parts) + "\n"


def render_plain(content: Content, status: Status | None = None) -> str:
    """The plain-text view, for terminals and text exports."""
    blocks, message, open_indices = content_of(content)
    s = _status(content, status, message)
    ctx = Context(s.streaming, open_indices)
    parts = _sections(blocks, ctx, plain_block)
    if ctx.footnotes.entries:
        parts.append("Sources:\n" + "\n".join(f"  [{i}] {e}" for i, e in enumerate(ctx.footnotes.entries, 1)))
    parts += [_plain_note(note) for note in [*s.notes, stop_note(s)] if note]
    if s.routing is not None:
        parts.append(routing_plain(s.routing))
    if s.error is not None:
        parts.append(error_plain(s.error, hint=s.error_hint))
    foot = footer_parts(s) if s.footer else []
    if foot:
        parts.append("── " + " · ".join(foot))
    return "\n\n".join(parts)


def _plain_note(note: str) -> str:
    return note.replace("**", "").replace("`", "")


def render_bundle(content: Content, status: Status | None = None, *, html: bool = False) -> dict[str, str]:
    """The MIME bundle: text/markdown and text/plain, plus text/html when asked (for widgets).

    Notebook outputs carry Markdown rather than HTML on purpose: JupyterLab, Notebook 7 and VS Code prefer
    text/html when present, and our own HTML would lose their math typesetting and code highlighting.
    """
    markdown = render_markdown(content, status)
    bundle = {"text/markdown": markdown, "text/plain": render_plain(content, status)}
    if html:
        bundle["text/html"] = f'<div class="nbmessages">{to_html(markdown)}</div>'
    return bundle
