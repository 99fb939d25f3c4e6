"""Get code: the %%message cell and the Python code that send what the playground would (never the key)."""

from __future__ import annotations

import pprint
from typing import Any

from ...request.profiles import PROFILES, guess_profile
from ...types import Message
from .. import settings as table
from ..settings import Setting, call_options, request_params

INDENT = "    "


def _quoted(value: str) -> str | None:
    """A magic option value in quotes, or None when it needs a variable (several lines, both quote kinds)."""
    if "\n" in value:
        return None
    if " " not in value and not value.startswith(("'", '"', "-")) and value:
        return value
    for quote in ('"', "'"):
        if quote not in value:
            return f"{quote}{value}{quote}"
    return None


def magic_cell(settings: dict[str, Any], prompt: str, *, history: bool, profile: str | None) -> str:
    """The %%message cell (with any setup lines before it) for these settings and prompt."""
    values = table.resolve(settings)
    setup: list[str] = []
    flags = [_flag(row, values[row.name], setup) for row in table.rows() if row.flags]
    known = PROFILES.get(profile or "")
    if known is not None and known.base_url:  # a backend with a home of its own: the magic finds it by name
        flags.append(f"--profile {profile}")
    flags.append("--new" if not history else "")
    if "{" in prompt:
        flags.append("--no-vars")
    cell = "%%message " + " ".join(f for f in flags if f) + "\n" + prompt
    lines = []
    if history:
        lines.append("# this cell continues the magic's current chat; the Python code below replays this conversation")
    if setup:
        lines += ["# first, in a cell of its own:", *setup, "", "# then:"]
    return "\n".join([*lines, cell])


def _flag(row: Setting, value: Any, setup: list[str]) -> str:
    """The magic flag that sets ``value`` for this row ("" when it sends nothing)."""
    if table.empty(value):
        return ""
    if row.type is bool:
        return row.flag
    items = list(value) if row.many else [value]
    if row.pick in ("tool", "model") or row.many == "comma":
        return f"{row.flag} " + ",".join(_name(item) for item in items)
    texts = [_text(row, item, setup, i if row.many else None) for i, item in enumerate(items)]
    return " ".join(f"{row.flag} {text}" for text in texts)


def _text(row: Setting, value: Any, setup: list[str], index: int | None) -> str:
    """One value as the magic's argument text; text that cannot be quoted goes to a setup line."""
    if row.to_text is not None:
        return row.to_text(value)
    if isinstance(value, float):
        return f"{value:g}"
    if not isinstance(value, str):
        return str(value)
    quoted = _quoted(value)
    if quoted is not None:
        return quoted
    name = f"playground_{row.name}" + (f"_{index}" if index is not None else "")
    if row.pick == "text":  # the flag takes a variable's name: put the text in one
        setup.append(f"{name} = {value!r}")
        return name
    setup.append(f"{name} = {value!r}  # {row.flag} takes text only: paste it in quotes")
    return repr(value)


def _name(value: Any) -> str:
    return getattr(value, "__name__", str(value))


class _Name:
    """Prints as a bare name in generated code (a function or a model class from the notebook)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


def _turn(turn: Any) -> Any:
    return turn.to_param() if isinstance(turn, Message) else turn


def python_code(settings: dict[str, Any], history: list[Any], prompt: str, client_setup: str) -> str:
    """Python that sends the same request with ``nbmessages.Client`` (and runs the tool loop when tools are on)."""
    params = request_params(settings)
    if params.get("tools"):
        params["tools"] = [_Name(_name(f)) if callable(f) else f for f in params["tools"]]
    if "output_format" in params:
        params["output_format"] = _Name(_name(params["output_format"]))
    turns = [_turn(t) for t in history] + [{"role": "user", "content": prompt}]
    params["messages"] = prompt if len(turns) == 1 else turns
    options = call_options(settings)  # sent as headers: keywords of the call, not of the request
    args = "".join(f"{INDENT}{key}={_literal(value)},\n" for key, value in params.items())
    extra = "".join(f", {key}={value!r}" for key, value in options.items())
    keywords = "".join(f"{INDENT}{key}={value!r},\n" for key, value in options.items())
    imports = ["import nbmessages"] + (["from nbmessages.notebook.turns import run_loop"] if settings.get("tools") else [])
    head = [*imports, "", client_setup]
    if settings.get("tools"):
        call = f"request = nbmessages.Request(\n{args})\nmessage = run_loop(client, request{extra}).final"
    else:
        call = f"message = client.messages.create(\n{args}{keywords})"
    return "\n".join([*head, call, "print(message.text)"]) + "\n"


def _literal(value: Any) -> str:
    """A value as Python source at one indent; a list of several items gets one item per line."""
    if isinstance(value, list) and len(value) > 1:
        items = "".join(f"{INDENT * 2}{_literal(v).replace(chr(10), chr(10) + INDENT)},\n" for v in value)
        return f"[\n{items}{INDENT}]"
    text = pprint.pformat(value, width=100, sort_dicts=False)
    return text.replace("\n", "\n" + INDENT)


def client_setup(client: Any) -> str:
    """The ``client = nbmessages.Client(...)`` line that reaches the same backend (the key stays in the environment)."""
    if getattr(client, "uses_embedded_server", False):
        return "client = nbmessages.Client()  # no key: the embedded offline server"
    profile = client.profile
    args = []
    if profile.base_url:  # a backend with a home of its own: its name is enough
        args.append(f"profile={profile.name!r}")
        if client.base_url != profile.base_url:
            args.append(f"base_url={client.base_url!r}")
    else:
        args.append(f"base_url={client.base_url!r}")
        if guess_profile(client.base_url) is not profile:  # the URL alone would imply another profile
            args.append(f"profile={profile.name!r}")
    line = f"client = nbmessages.Client({', '.join(args)})"
    if client.api_key is not None and profile.key_env:
        return f"# the key: set {profile.key_env[0]} in the environment (never written here)\n{line}"
    return line
