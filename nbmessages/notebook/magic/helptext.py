"""``%message --help`` as plain text: IPython's magic docstrings are reST (a ``::`` block, ````code````)."""

from __future__ import annotations

import re
import textwrap


def plain_help(doc: str) -> str:
    """The help without reST markup: no ``::`` line before the usage block, code in plain backticks."""
    text = textwrap.dedent(doc).strip("\n")
    if text.startswith("::"):  # magic_arguments' usage block: "::", a blank line, then indented lines
        head, _, rest = text.partition("\n\n")
        usage, _, body = rest.partition("\n\n")
        text = textwrap.dedent(usage) + "\n\n" + body
    return re.sub(r"``([^`]+)``", r"`\1`", text)
