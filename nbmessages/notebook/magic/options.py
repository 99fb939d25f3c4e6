"""From the magic's parsed options and the user namespace to a call plan: request params, prompt, display flags."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic_arguments import ArgDecorator
from pydantic import BaseModel

from ...request.content import attachment
from ...request.templating import fill
from .. import settings
from ..turns import DEFAULT_MAX_ITERATIONS

_TOKENS = re.compile(r"""\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|\S+)""")


@dataclass
class Plan:
    """Everything one call needs besides the conversation: params, the new user turn, display flags."""

    params: dict[str, Any]
    content: Any  # the new user turn's content (text, or blocks with attachments)
    chat: str
    profile: str | None = None
    stream: bool = True
    raw: bool = False
    out: str | None = None
    schema: type[BaseModel] | None = None
    max_rounds: int = DEFAULT_MAX_ITERATIONS
    warnings: list[str] = field(default_factory=list)
    call_options: dict[str, Any] = field(default_factory=dict)  # headers-only options (OpenRouter's cache)


def split_line(parser: Any, line: str) -> tuple[str, str]:
    """Split a line magic's text into its leading options and the prompt (the rest, verbatim)."""
    actions = parser._option_string_actions  # noqa: SLF001 - argparse keeps options here, with no public accessor
    pos = 0
    while True:
        match = _TOKENS.match(line, pos)
        if match is None:
            break
        token = match.group(1)
        name = token.split("=", 1)[0]
        if token == "--":
            return line[:match.start()], line[match.end():].strip()
        if name not in actions:
            break
        pos = match.end()
        if "=" not in token and actions[name].nargs != 0:
            value = _TOKENS.match(line, pos)
            pos = value.end() if value else pos
    return line[:pos], line[pos:].strip()


def unquote(args: Any) -> Any:
    """Strip the quotes IPython's argument splitter leaves on values (``-s "Be brief"``)."""
    for key, value in vars(args).items():
        if isinstance(value, str):
            setattr(args, key, _unquote(value))
        elif isinstance(value, list):
            setattr(args, key, [_unquote(v) if isinstance(v, str) else v for v in value])
    return args


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def lookup(ns: Mapping[str, Any], name: str, what: str) -> Any:
    """A value from the user namespace, or a UsageError naming what was looked for."""
    if name not in ns:
        raise UsageError(f"{what}: no variable named {name!r} in the notebook")
    return ns[name]


def prompt_text(text: str, ns: Mapping[str, Any], no_vars: bool) -> tuple[str, list[str]]:
    """The prompt with ``{references}`` filled (unless --no-vars), and the warnings to show."""
    if no_vars:
        return text, []
    filled = fill(text, ns)
    warning = filled.warning()
    return filled.text, [warning] if warning else []


def attachments(values: list[str] | None, ns: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Content blocks for ``--attach``: each a path, or a variable holding a path, bytes or a block."""
    blocks = []
    for value in values or ():
        item = ns.get(value, value) if value.isidentifier() else value
        if isinstance(item, dict):
            blocks.append(item)
        elif isinstance(item, (bytes, Path)) or (isinstance(item, str) and item.startswith(("http://", "https://"))):
            blocks.append(attachment(item))
        elif isinstance(item, str):
            blocks.append(attachment(Path(item)))
        else:
            raise UsageError(f"--attach {value}: expected a path, bytes or a content block, not {type(item).__name__}")
    return blocks


def user_content(text: str, blocks: list[dict[str, Any]]) -> Any:
    """The user turn: text alone, or the attachments first and the text after them."""
    if not blocks:
        return text
    return [*blocks, {"type": "text", "text": text}] if text.strip() else blocks


def system_prompt(value: str | None, ns: Mapping[str, Any]) -> Any:
    """``-s``: the value of a variable with that name (text or blocks), else the text itself."""
    if value is None:
        return None
    held = ns.get(value) if value.isidentifier() else None
    return held if isinstance(held, (str, list)) else value


def tools(names: list[str], ns: Mapping[str, Any]) -> list[Any]:
    """``--tools f,g``: Python functions or tool dicts from the namespace."""
    found = []
    for name in names:
        item = lookup(ns, name, "--tools")
        if not (callable(item) or isinstance(item, dict)):
            raise UsageError(f"--tools {name}: expected a function or a tool dict, not {type(item).__name__}")
        found.append(item)
    return found


def schema(value: str, ns: Mapping[str, Any]) -> type[BaseModel]:
    """``--schema NAME``: a pydantic model class from the namespace."""
    model = lookup(ns, value, "--schema")
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise UsageError(f"--schema {value}: expected a pydantic model class, not {type(model).__name__}")
    return model


# what a name given to a flag may stand for, by the row's ``pick``
PICKERS: dict[str, Callable[[Any, Mapping[str, Any]], Any]] = {"text": system_prompt, "tool": tools, "model": schema}


class request_arguments(ArgDecorator):  # noqa: N801 - named like IPython's own argument decorators
    """Adds one argument per row of the settings table to a magic's parser."""

    def add_to_parser(self, parser: Any, group: Any) -> None:
        """Add the table's flags (type, choices, repeatable, help), in the table's order."""
        for row in settings.rows():
            if not row.flags:
                continue
            kwargs: dict[str, Any] = {"dest": row.name, "help": row.help}
            if row.type is bool:
                kwargs["action"] = "store_true"
            else:
                kwargs["metavar"] = row.metavar
                if row.many == "repeat":
                    kwargs["action"] = "append"
                if row.type in (int, float):
                    kwargs["type"] = row.type
                if row.choices:
                    kwargs["choices"] = row.choices
            (group or parser).add_argument(*row.flags, **kwargs)


def given_settings(args: Any, ns: Mapping[str, Any]) -> dict[str, Any]:
    """The settings the options give (names looked up in the notebook); the ones not given are absent."""
    out = {}
    for row in settings.rows():
        raw = getattr(args, row.name, None) if row.flags else None
        if raw is None or raw is False:
            continue
        try:
            value = row.parse(raw)
        except ValueError as exc:
            raise UsageError(f"{row.flag}: {exc}") from None
        out[row.name] = PICKERS[row.pick](value, ns) if row.pick else value
    return out


def request_params(args: Any, ns: Mapping[str, Any], model: str, max_tokens: int) -> dict[str, Any]:
    """The request fields the options ask for (everything but the messages); the session's model and max_tokens."""
    return settings.request_params({"model": model, "max_tokens": max_tokens, **given_settings(args, ns)})


def call_options(args: Any, ns: Mapping[str, Any]) -> dict[str, Any]:
    """The per-call options the flags give that travel as headers, not in the body (OpenRouter's cache)."""
    return settings.call_options(given_settings(args, ns))
