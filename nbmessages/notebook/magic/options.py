"""From the magic's parsed options and the user namespace to a call plan: request params, prompt, display flags."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from IPython.core.error import UsageError
from pydantic import BaseModel

from ...request.content import attachment
from ...request.templating import fill
from ...types.rules import MIN_THINKING_BUDGET

THINKING_DISPLAY_FIXED = ("claude-3",)  # models that show full thinking and do not take a `display` choice
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
    max_rounds: int = 10
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


def tools(value: str | None, ns: Mapping[str, Any]) -> list[Any] | None:
    """``--tools f,g``: Python functions or tool dicts from the namespace."""
    if not value:
        return None
    found = []
    for name in filter(None, (n.strip() for n in value.split(","))):
        item = lookup(ns, name, "--tools")
        if not (callable(item) or isinstance(item, dict)):
            raise UsageError(f"--tools {name}: expected a function or a tool dict, not {type(item).__name__}")
        found.append(item)
    return found


def tool_choice(value: str | None) -> dict[str, Any] | None:
    """``--tool-choice``: auto, any, none, or the name of the one tool to call."""
    if value is None:
        return None
    return {"type": value} if value in ("auto", "any", "none") else {"type": "tool", "name": value}


def thinking(value: str | None, model: str) -> dict[str, Any] | None:
    """``--thinking BUDGET`` (or ``adaptive``), with a visible summary where the model lets us choose."""
    if value is None:
        return None
    config: dict[str, Any]
    if value == "adaptive":
        config = {"type": "adaptive"}
    elif value.isdigit():
        config = {"type": "enabled", "budget_tokens": int(value)}
    else:
        raise UsageError(f"--thinking {value}: give a token budget ({MIN_THINKING_BUDGET} or more) or 'adaptive'")
    if not model.startswith(THINKING_DISPLAY_FIXED):
        config["display"] = "summarized"
    return config


def schema(value: str | None, ns: Mapping[str, Any]) -> type[BaseModel] | None:
    """``--schema NAME``: a pydantic model class from the namespace."""
    if value is None:
        return None
    model = lookup(ns, value, "--schema")
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise UsageError(f"--schema {value}: expected a pydantic model class, not {type(model).__name__}")
    return model


def _split(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def request_params(args: Any, ns: Mapping[str, Any], model: str, max_tokens: int) -> dict[str, Any]:
    """The request fields the options ask for (everything but the messages)."""
    think = thinking(args.thinking, model)
    if args.max_tokens is None and think and think.get("budget_tokens", 0) >= max_tokens:
        max_tokens += think["budget_tokens"]  # thinking counts toward max_tokens; keep room for the answer
    params: dict[str, Any] = {
        "model": model,
        "max_tokens": args.max_tokens if args.max_tokens is not None else max_tokens,
        "system": system_prompt(args.system, ns),
        "temperature": args.temperature,
        "top_p": args.top_p,
        "top_k": args.top_k,
        "stop_sequences": args.stop,
        "thinking": think,
        "tools": tools(args.tools, ns),
        "tool_choice": tool_choice(args.tool_choice),
        "output_config": {"effort": args.effort} if args.effort else None,
        "output_format": schema(args.schema, ns),
        "cache_control": {"type": "ephemeral"} if args.cache else None,
        "provider": {"order": _split(args.provider)} if args.provider else None,
        "models": _split(args.models),
        "session_id": args.session_id,
    }
    return {k: v for k, v in params.items() if v is not None}


def openrouter_cache(value: str | None) -> bool | int | None:
    """``--openrouter-cache`` (OpenRouter's response cache): ``on``, ``off``, or a TTL in seconds (1-86400)."""
    if value is None:
        return None
    if value in ("on", "true"):
        return True
    if value in ("off", "false"):
        return False
    if value.isdigit() and 1 <= int(value) <= 86_400:
        return int(value)
    raise UsageError(f"--openrouter-cache {value}: give on, off or a TTL in seconds from 1 to 86400")


def call_options(args: Any) -> dict[str, Any]:
    """The per-call options that travel as headers, not in the body."""
    cache = openrouter_cache(getattr(args, "openrouter_cache", None))
    return {"openrouter_cache": cache} if cache is not None else {}
