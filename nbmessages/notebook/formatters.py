"""Rich display of Messages, content blocks and Usage, registered with IPython (the types never import the renderer)."""

from __future__ import annotations

from typing import Any

from ..types import ContentBlock, Message, Usage
from ..types.blocks import BlockParam
from .render import Status, render_markdown, render_plain


def usage_markdown(usage: Usage) -> str:
    """Usage as a one-row Markdown table."""
    u = usage
    head = "| input | output | cache read | cache write |"
    row = (f"| {u.input_tokens or 0} | {u.output_tokens or 0} | {u.cache_read_input_tokens or 0} "
           f"| {u.cache_creation_input_tokens or 0} |")
    cost = f"\n\nprovider-reported cost: ${u.cost:.4f}" if u.cost is not None else ""
    return f"{head}\n|---:|---:|---:|---:|\n{row}{cost}\n"


def usage_plain(usage: Usage) -> str:
    """Usage on one line."""
    u = usage
    return (f"Usage(in {u.input_tokens or 0} · out {u.output_tokens or 0} · cache read "
            f"{u.cache_read_input_tokens or 0} · cache write {u.cache_creation_input_tokens or 0})")


def _markdown(obj: Any) -> str:
    if isinstance(obj, Usage):
        return usage_markdown(obj)
    if isinstance(obj, Message):
        return render_markdown(obj, Status())
    return render_markdown([obj])


def _plain(obj: Any) -> str:
    if isinstance(obj, Usage):
        return usage_plain(obj)
    if isinstance(obj, Message):
        return render_plain(obj, Status())
    return render_plain([obj])


def _pretty(obj: Any, p: Any, cycle: bool) -> None:
    p.text(_plain(obj))


DISPLAYED = (Message, ContentBlock, BlockParam, Usage)


def register_formatters(ip: Any) -> None:
    """Make Message, content blocks and Usage show as Markdown in notebooks and readable text elsewhere."""
    formatters = ip.display_formatter.formatters
    for cls in DISPLAYED:
        formatters["text/markdown"].for_type(cls, _markdown)
        formatters["text/plain"].for_type(cls, _pretty)


def register_if_running() -> None:
    """Register the formatters when imported inside a running IPython (never imports IPython itself)."""
    import sys

    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is not None:
        register_formatters(shell)
