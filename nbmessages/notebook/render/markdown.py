"""Markdown that renders stably while it streams: open fences closed, partial table rows held, ``$`` escaped.

JupyterLab and Notebook 7 pair any two ``$`` of a paragraph as TeX: their ``removeMath`` runs before the
Markdown parser (which turns ``\\$`` into a bare ``$``), then MathJax typesets the page's text, where an entity
``&#36;`` is a ``$`` again. The entity hides it from ``removeMath`` (and from mistune's math in nbconvert), and
MathJax (2 and 3) only pairs delimiters within one element's text, so ``<span>&#36;</span>`` reads as money in
those front ends, nbconvert's HTML, VS Code and GitHub (checked in Chromium by tests/test_magic_browser.py).
"""

from __future__ import annotations

import html
import re
from typing import Any

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
_CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.S)
# Math the notebook front ends typeset: $$…$$, \[…\], \(…\), and $…$ whose inside starts and ends with a
# non-space and whose closing $ is not followed by a digit (pandoc's rule: "$5 and $10" is not math).
_MATH = re.compile(r"\$\$.+?\$\$|\\\[.+?\\\]|\\\(.+?\\\)|(?<![\\$])\$(?=\S)(?:[^$\n\\]|\\.)+?(?<=\S)\$(?!\d)", re.S)


def fence_segments(text: str) -> list[tuple[bool, str]]:
    """Split text into (is_fenced_code, chunk) pieces; an unterminated fence runs to the end."""
    return _scan(text)[0]


def open_fence(text: str) -> str | None:
    """The fence (e.g. ``````` or ``~~~``) left open at the end of the text, if any."""
    return _scan(text)[1]


def _scan(text: str) -> tuple[list[tuple[bool, str]], str | None]:
    out: list[tuple[bool, str]] = []
    buf: list[str] = []
    fence: str | None = None
    for line in text.splitlines(keepends=True):
        match = _FENCE.match(line.rstrip("\r\n"))
        if fence is None and match and not (match.group(1)[0] == "`" and "`" in match.group(2)):
            if buf:
                out.append((False, "".join(buf)))
            buf, fence = [line], match.group(1)
        elif fence is not None and match and _closes(match, fence):
            buf.append(line)
            out.append((True, "".join(buf)))
            buf, fence = [], None
        else:
            buf.append(line)
    if buf:
        out.append((fence is not None, "".join(buf)))
    return out, fence


def _closes(match: re.Match[str], fence: str) -> bool:
    marks = match.group(1)
    return marks[0] == fence[0] and len(marks) >= len(fence) and not match.group(2).strip()


def close_fences(text: str) -> str:
    """The text with an unterminated code fence closed, so what follows it is not swallowed as code."""
    fence = open_fence(text)
    if fence is None:
        return text
    return text + ("" if text.endswith("\n") else "\n") + fence + "\n"


def hold_partial_row(text: str) -> str:
    """While streaming, hold back an unfinished table row (a last line starting with ``|``)."""
    head, sep, last = text.rpartition("\n")
    if sep and last.lstrip().startswith("|"):
        return head + "\n"
    return text


LITERAL_DOLLAR = "<span>&#36;</span>"
_PARAGRAPH_BREAK = re.compile(r"(\n[ \t]*\n)")


def escape_dollars(text: str) -> str:
    """Make ``$`` that is not math (currency like ``$5``) literal outside code, so front ends don't typeset it."""
    return "".join(chunk if fenced else _escape_prose(chunk) for fenced, chunk in fence_segments(text))


def _escape_prose(text: str) -> str:
    return "".join(_escape_paragraph(piece) for piece in _PARAGRAPH_BREAK.split(text))


def _escape_paragraph(text: str) -> str:
    if text.count("$") < 2:  # a lone $ pairs with nothing: leave it readable in Markdown exports
        return text
    out, pos = [], 0
    for span in _CODE_SPAN.finditer(text):
        out.append(_escape_outside_math(text[pos:span.start()]))
        out.append(span.group(0))
        pos = span.end()
    out.append(_escape_outside_math(text[pos:]))
    return "".join(out)


def _escape_outside_math(text: str) -> str:
    if "$" not in text:
        return text
    out, pos = [], 0
    for math in _MATH.finditer(text):
        out.append(_escape_bare(text[pos:math.start()]))
        out.append(math.group(0))
        pos = math.end()
    out.append(_escape_bare(text[pos:]))
    return "".join(out)


def _escape_bare(text: str) -> str:
    # a model's own \$ is turned into a bare $ by the Markdown parser, so it is replaced too
    return re.sub(r"\\?\$", LITERAL_DOLLAR, text)


def stable_markdown(text: str, streaming: bool = False) -> str:
    """Markdown ready to show: ``$`` escaped, partial rows held while streaming, open fences closed."""
    if streaming:
        text = hold_partial_row(text)
    return close_fences(escape_dollars(text))


def to_html(markdown: str) -> str:
    """HTML from Markdown (mistune, with tables, strikethrough and math), or escaped ``<pre>`` text without it."""
    global _renderer
    if _renderer is None:
        try:
            import mistune
        except ImportError:  # mistune comes with nbconvert; plain text is a fine fallback
            return f"<pre>{html.escape(markdown)}</pre>"
        _renderer = mistune.create_markdown(escape=False, plugins=["table", "strikethrough", "math"])
    return _renderer(markdown)


_renderer: Any = None
