"""Content blocks as Markdown and as plain text: prose, thinking, tool calls and results, citations, the rest."""

from __future__ import annotations

import html
import json
import textwrap
from collections.abc import Callable
from typing import Any

from .markdown import close_fences, stable_markdown

MAX_JSON_CHARS = 4000  # a server tool's result (a fetched page) can be huge: show its start
MAX_STRING_CHARS = 300  # base64 payloads in JSON views are shortened to this


class Footnotes:
    """Citations collected across a rendering, numbered in order of first appearance."""

    def __init__(self) -> None:
        self.entries: list[str] = []
        self._index: dict[str, int] = {}

    def number(self, citation: dict[str, Any]) -> int:
        """The footnote number of a citation (the same source cited twice keeps its number)."""
        label = citation_label(citation)
        if label not in self._index:
            self.entries.append(label)
            self._index[label] = len(self.entries)
        return self._index[label]


def citation_label(c: dict[str, Any]) -> str:
    """One line naming what a citation quotes and where it comes from."""
    quoted = " ".join((c.get("cited_text") or "").split())
    quoted = quoted if len(quoted) <= 160 else quoted[:157] + "…"
    where = c.get("document_title") or c.get("title") or c.get("source") or c.get("url")
    if where is None and c.get("document_index") is not None:
        where = f"document {c['document_index'] + 1}"
    place = _citation_place(c)
    parts = [f"“{quoted}”" if quoted else "", where or "", place]
    return " — ".join(p for p in parts if p)


def _citation_place(c: dict[str, Any]) -> str:
    start, end = c.get("start_page_number"), c.get("end_page_number")
    if start is not None:
        last = (end or start + 1) - 1  # end_page_number is exclusive
        return f"p. {start}" if last <= start else f"pp. {start}–{last}"
    if c.get("url") and (c.get("document_title") or c.get("title")):
        return c["url"]
    return ""


def compact_json(value: Any, limit: int = MAX_JSON_CHARS) -> str:
    """One-line JSON, long strings shortened, the whole cut at ``limit`` characters."""
    text = json.dumps(shorten(value), ensure_ascii=False, separators=(",", ":"), default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def pretty_json(value: Any, limit: int = MAX_JSON_CHARS) -> str:
    """Indented JSON, long strings shortened, the whole cut at ``limit`` characters."""
    text = json.dumps(shorten(value), ensure_ascii=False, indent=2, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def shorten(value: Any, limit: int = MAX_STRING_CHARS) -> Any:
    """A copy with long strings (base64 data) cut, so a JSON view stays readable."""
    if isinstance(value, str) and len(value) > limit:
        return f"{value[:40]}…({len(value)} chars)"
    if isinstance(value, dict):
        return {k: shorten(v, limit) for k, v in value.items()}
    if isinstance(value, list):
        return [shorten(v, limit) for v in value]
    return value


OPAQUE_KEYS = ("data", "encrypted_content", "encrypted_stdout", "signature")


def shorten_data(value: Any, limit: int = MAX_STRING_CHARS) -> Any:
    """A copy with long opaque strings (base64 ``data``, signatures) cut; prose stays whole."""
    if isinstance(value, dict):
        return {k: (shorten(v, limit) if k in OPAQUE_KEYS else shorten_data(v, limit)) for k, v in value.items()}
    if isinstance(value, list):
        return [shorten_data(v, limit) for v in value]
    return value


def _fenced(body: str, lang: str = "") -> str:
    ticks = "```"
    while ticks in body:  # a fence longer than any run of backticks inside
        ticks += "`"
    return f"{ticks}{lang}\n{body}\n{ticks}"


def _result_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            b.get("text", "") if isinstance(b, dict) and b.get("type") == "text" else f"[{_kind(b)}]"
            for b in content
        )
    return compact_json(content)


def _kind(block: Any) -> str:
    return block.get("type", "?") if isinstance(block, dict) else type(block).__name__


class Context:
    """What block renderers share: streaming state, footnotes, tool names by id."""

    def __init__(self, streaming: bool = False, open_indices: frozenset[int] = frozenset()) -> None:
        self.streaming = streaming
        self.open = open_indices  # blocks still streaming in
        self.footnotes = Footnotes()
        self.tool_names: dict[str, str] = {}

    def note_tools(self, blocks: list[dict[str, Any]]) -> None:
        """Remember tool names so results can say which tool they come from."""
        for b in blocks:
            if b.get("type") in ("tool_use", "server_tool_use") and b.get("id"):
                self.tool_names[b["id"]] = b.get("name", "?")


# -- Markdown


def md_block(block: dict[str, Any], ctx: Context, index: int = -1) -> str:
    """One block as Markdown."""
    fn = _MD.get(block.get("type", ""), _md_generic)
    return fn(block, ctx, index)


def _md_text(b: dict[str, Any], ctx: Context, index: int) -> str:
    text = stable_markdown(b.get("text", ""), streaming=ctx.streaming and index in ctx.open)
    marks = "".join(f"<sup>[{ctx.footnotes.number(c)}]</sup>" for c in b.get("citations") or ())
    if marks:
        stripped = text.rstrip("\n")
        text = stripped + marks + text[len(stripped):]
    return text


# expanded thinking set apart from the answer: a rule on the left and grey text (inline styles: JupyterLab keeps
# them in Markdown output, no stylesheet reaches a saved notebook); mid-grey reads on light and dark themes
THINKING_STYLE = "border-left:3px solid #a0a0c0;padding-left:10px;color:#808080"


def _md_thinking(b: dict[str, Any], ctx: Context, index: int) -> str:
    text = b.get("thinking", "")
    live = ctx.streaming and index in ctx.open
    if not text:
        return "<details><summary>💭 Thinking (not shown by the API)</summary></details>"
    body = close_fences(stable_markdown(text.replace("</details>", "&lt;/details&gt;")))
    # open while it streams so the reader sees it grow; folded once the answer starts
    return f"<details{' open' if live else ''} style=\"{THINKING_STYLE}\"><summary>💭 Thinking</summary>\n\n{body}\n\n</details>"


def _md_redacted(b: dict[str, Any], ctx: Context, index: int) -> str:
    return "<details><summary>💭 Thinking (redacted by the API; kept for the next turn)</summary></details>"


def _md_tool_use(b: dict[str, Any], ctx: Context, index: int) -> str:
    label = "🛠 server tool" if b.get("type") == "server_tool_use" else "🔧 tool call"
    head = f"**{label}** `{b.get('name', '?')}`"
    if ctx.streaming and index in ctx.open:
        head += " *(arguments streaming…)*"
    return f"{head}\n\n{_fenced(pretty_json(b.get('input') or {}), 'json')}"


def _md_tool_result(b: dict[str, Any], ctx: Context, index: int) -> str:
    name = ctx.tool_names.get(b.get("tool_use_id", ""), b.get("tool_use_id", "?"))
    head = f"**❌ tool error** from `{name}`" if b.get("is_error") else f"**↩ tool result** from `{name}`"
    return f"{head}\n\n{_fenced(_result_text(b.get('content')), 'text')}"


def _md_attachment(b: dict[str, Any], ctx: Context, index: int) -> str:
    source = b.get("source") or {}
    what = source.get("media_type") or source.get("url") or source.get("type", "")
    title = f" “{b['title']}”" if b.get("title") else ""
    return f"📎 *{b.get('type')}{title}* ({what})"


def _md_generic(b: dict[str, Any], ctx: Context, index: int) -> str:
    body = {k: v for k, v in b.items() if k != "type"}
    return f"**{b.get('type', 'block')}**\n\n{_fenced(compact_json(body), 'json')}"


_MD: dict[str, Callable[[dict[str, Any], Context, int], str]] = {
    "text": _md_text,
    "thinking": _md_thinking,
    "redacted_thinking": _md_redacted,
    "tool_use": _md_tool_use,
    "server_tool_use": _md_tool_use,
    "tool_result": _md_tool_result,
    "image": _md_attachment,
    "document": _md_attachment,
}


# -- plain text (terminal IPython, text exports)


def plain_block(block: dict[str, Any], ctx: Context, index: int = -1) -> str:
    """One block as plain text."""
    kind = block.get("type", "")
    if kind == "text":
        marks = "".join(f"[{ctx.footnotes.number(c)}]" for c in block.get("citations") or ())
        return block.get("text", "") + marks
    if kind == "thinking":
        text = block.get("thinking", "") or "(not shown by the API)"
        return "[thinking]\n" + textwrap.indent(text, "  │ ")
    if kind == "redacted_thinking":
        return "[thinking redacted]"
    if kind in ("tool_use", "server_tool_use"):
        label = "server tool" if kind == "server_tool_use" else "tool call"
        return f"→ {label} {block.get('name', '?')} {compact_json(block.get('input') or {})}"
    if kind == "tool_result":
        name = ctx.tool_names.get(block.get("tool_use_id", ""), block.get("tool_use_id", "?"))
        label = "tool error from" if block.get("is_error") else "result of"
        return f"← {label} {name}:\n" + textwrap.indent(_result_text(block.get("content")), "  ")
    if kind in ("image", "document"):
        return f"[{kind} attached]"
    return f"[{kind}] {compact_json({k: v for k, v in block.items() if k != 'type'})}"


def escape_html(text: str) -> str:
    """HTML-escaped text."""
    return html.escape(text, quote=False)
