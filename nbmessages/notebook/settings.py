"""Every request option once: name, type, default, allowed values, magic flags, widget, request field, help.

The magic's parser and request parameters, the playground's controls and its get-code output, and the
magic session's defaults all read ``ROWS``; adding a request option is adding a row. ``request_params``
turns plain settings into Request keywords with no widget and no IPython (for any front end, ``map`` too);
``call_options`` gives the per-call keywords of ``messages.create`` / ``stream`` (options sent as headers,
such as OpenRouter's response cache, that are no part of the body).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..types.openrouter import MAX_CACHE_TTL, MIN_CACHE_TTL
from ..types.rules import EFFORTS, MIN_THINKING_BUDGET

THINKING_DISPLAY_FIXED = ("claude-3",)  # models that show full thinking and take no `display` choice
DEFAULT_THINKING_BUDGET = 2048


@dataclass(frozen=True)
class Setting:
    """One request option: what it is called and holds, how the magic and the playground set it, where it goes."""

    name: str  # the setting's name: playground(**defaults), compare columns, request_params(...)
    help: str
    type: type = str  # the value's type (of each item, for a list)
    default: Any = None  # None: not sent unless set
    choices: tuple[Any, ...] = ()  # the allowed values, when there is a fixed set
    flags: tuple[str, ...] = ()  # the magic's flags; get-code writes the first
    metavar: str | None = None
    many: str | None = None  # a list: "repeat" (one flag per item) or "comma" (items split at commas)
    pick: str | None = None  # a name in the notebook may stand for the value: "text", "tool" or "model"
    widget: str | None = None  # the playground's control kind (see playground/controls.py); None: none
    control: str = ""  # the playground attribute holding the control (default: the name)
    section: str = ""  # where the playground shows it: "" the top rows, else an accordion section's title
    bounds: tuple[float, float, float] | None = None  # the control's min, max and step
    initial: Any = None  # what an unset optional control shows once switched on
    placeholder: str = ""  # what an empty text or list control says to type
    field: str = ""  # the request field it fills, dotted (``output_config.effort``); "" for none
    keyword: str = ""  # or the per-call keyword of create/stream it fills (sent as headers); "" for none
    unit: str = ""  # what a toggle's number is called (its control is ``<attribute>_<unit>``)
    aliases: tuple[str, ...] = ()
    encode: Callable[[Any, Mapping[str, Any]], Any] | None = None  # value (and all settings) → field value
    from_text: Callable[[str], Any] | None = None  # the magic's argument text → value, beyond argparse's type
    to_text: Callable[[Any], str] | None = None  # value → the magic's argument text (for get-code)

    @property
    def attribute(self) -> str:
        """The playground attribute of this setting's control."""
        return self.control or self.name

    @property
    def flag(self) -> str:
        """The flag get-code writes (the first one)."""
        return self.flags[0]

    def field_value(self, value: Any, values: Mapping[str, Any]) -> Any:
        """What the request field gets for ``value`` (None: nothing)."""
        if empty(value):
            return None
        if self.encode is not None:
            return self.encode(value, values)
        return list(value) if self.many else value

    def parse(self, text: Any) -> Any:
        """A value from the magic's argument text (argparse has applied ``type`` and ``choices`` already)."""
        if self.many == "comma" and isinstance(text, str):
            return [item.strip() for item in text.split(",") if item.strip()]
        if self.from_text is not None and isinstance(text, str):
            return self.from_text(text)
        return text


def empty(value: Any) -> bool:
    """Whether a value sends nothing: None, False, or an empty text or list."""
    return value is None or value is False or (isinstance(value, (str, list, tuple)) and not value)


def parse_switch(text: str) -> bool:
    """``on`` or ``off`` (``true`` / ``false``)."""
    if text in ("on", "true"):
        return True
    if text in ("off", "false"):
        return False
    raise ValueError(f"{text!r}: give on or off")


def parse_cache(text: str) -> bool | int:
    """``--openrouter-cache`` text: ``on`` (the server's default TTL), ``off``, or a TTL in seconds."""
    if text.isdigit() and MIN_CACHE_TTL <= int(text) <= MAX_CACHE_TTL:
        return int(text)
    try:
        return parse_switch(text)
    except ValueError:
        raise ValueError(f"{text!r}: give on, off or a TTL in seconds from {MIN_CACHE_TTL} to "
                         f"{MAX_CACHE_TTL}") from None


def switch_text(value: Any) -> str:
    """A cache setting as ``--openrouter-cache`` text: ``on``, ``off`` or its TTL."""
    return ("on" if value else "off") if isinstance(value, bool) else str(value)


def parse_thinking(text: str) -> int | str:
    """``--thinking`` text: a token budget, or ``adaptive``."""
    if text == "adaptive":
        return text
    if text.isdigit():
        return int(text)
    raise ValueError(f"{text!r}: give a token budget ({MIN_THINKING_BUDGET} or more) or 'adaptive'")


def thinking_text(value: Any) -> str:
    """A thinking setting as ``--thinking`` text: its budget, or ``adaptive``."""
    adaptive = value == "adaptive" or (isinstance(value, dict) and value.get("type") == "adaptive")
    return "adaptive" if adaptive else str(thinking_budget(value))


def thinking_config(value: Any, values: Mapping[str, Any]) -> dict[str, Any] | None:
    """A ``thinking`` field from a setting: off (None/False/0), True (default budget), a budget, adaptive, or a dict."""
    if value is None or value is False or value == 0:
        return None
    if isinstance(value, dict):
        return value
    config: dict[str, Any]
    if value == "adaptive":
        config = {"type": "adaptive"}
    else:
        config = {"type": "enabled", "budget_tokens": thinking_budget(value)}
    if not str(values.get("model") or "").startswith(THINKING_DISPLAY_FIXED):
        config["display"] = "summarized"
    return config


def thinking_budget(value: Any) -> int:
    """The token budget a thinking setting stands for (0 when it has none)."""
    if isinstance(value, dict):
        return int(value.get("budget_tokens") or 0)
    if value is True:
        return DEFAULT_THINKING_BUDGET
    return int(value) if isinstance(value, int) else 0


def tool_choice(value: str, _values: Mapping[str, Any]) -> dict[str, Any]:
    """``auto``, ``any``, ``none``, or the name of the one tool to call."""
    return {"type": value} if value in ("auto", "any", "none") else {"type": "tool", "name": value}


ROWS: tuple[Setting, ...] = (
    Setting("model", "the model (any name the backend takes)", default="claude-sonnet-4-5",
            flags=("--model", "-m"), widget="combobox", field="model"),
    Setting("max_tokens", "the most tokens to generate (thinking's budget is added when it would not fit)", int,
            default=1024, flags=("--max-tokens",), widget="int", bounds=(1, 1_000_000, 1), field="max_tokens"),
    Setting("system", "the system prompt: text, or the name of a variable holding it", flags=("-s", "--system"),
            pick="text", widget="textarea", field="system"),
    Setting("temperature", "sampling temperature, 0 to 1", float, flags=("--temperature", "-t"), widget="slider",
            section="Sampling", bounds=(0, 1, 0.05), initial=1.0, field="temperature"),
    Setting("top_p", "nucleus sampling, 0 to 1", float, flags=("--top-p",), widget="slider", section="Sampling",
            bounds=(0, 1, 0.01), initial=0.95, field="top_p"),
    Setting("top_k", "sample from the top K tokens only", int, flags=("--top-k",), widget="number",
            section="Sampling", bounds=(1, 1000, 1), initial=40, field="top_k"),
    Setting("thinking", f"extended thinking: a token budget (>= {MIN_THINKING_BUDGET}) or 'adaptive'",
            flags=("--thinking",),
            metavar="BUDGET", widget="toggle", unit="budget", section="Thinking, effort, stops",
            bounds=(MIN_THINKING_BUDGET, 1_000_000, 1), initial=DEFAULT_THINKING_BUDGET, field="thinking", encode=thinking_config,
            from_text=parse_thinking, to_text=thinking_text),
    Setting("effort", "how much effort the model spends (output_config.effort)", choices=EFFORTS,
            flags=("--effort",), widget="choice", section="Thinking, effort, stops", field="output_config.effort"),
    Setting("stop_sequences", "a stop sequence (repeatable)", flags=("--stop",), metavar="TEXT", many="repeat",
            widget="tags", section="Thinking, effort, stops", field="stop_sequences", aliases=("stop",),
            placeholder="a stop sequence, then Enter"),
    Setting("tools", "tools: names of Python functions or tool dicts in the notebook", flags=("--tools",),
            metavar="F,G", many="comma", pick="tool", widget="pick_many", section="Tools and output schema",
            field="tools"),
    Setting("tool_choice", "auto, any, none, or the name of the tool to call", flags=("--tool-choice",),
            metavar="CHOICE", field="tool_choice", encode=tool_choice),
    Setting("output_format", "structured output: a pydantic model; the parsed object is the result",
            flags=("--schema",), metavar="NAME", pick="model", widget="pick_one", control="schema",
            section="Tools and output schema", field="output_format", aliases=("schema",)),
    Setting("cache", "prompt caching (top-level cache_control)", bool, flags=("--cache",),
            field="cache_control.type", encode=lambda on, _values: "ephemeral"),
    Setting("provider_order", "OpenRouter: provider order", flags=("--provider",), metavar="A,B", many="comma",
            widget="tags", section="OpenRouter routing", field="provider.order", aliases=("provider",),
            placeholder="a provider (e.g. anthropic), then Enter"),
    Setting("fallback_models", "OpenRouter: fallback models", flags=("--models",), metavar="M1,M2", many="comma",
            widget="tags", section="OpenRouter routing", field="models", aliases=("models",),
            placeholder="a fallback model (e.g. anthropic/claude-haiku-4.5), then Enter"),
    Setting("session_id", "OpenRouter: session id grouping related calls", flags=("--session-id",),
            field="session_id"),
    Setting("openrouter_cache", f"OpenRouter: response cache, on, off or a TTL in seconds ({MIN_CACHE_TTL}-"
            f"{MAX_CACHE_TTL}); a hit costs nothing", flags=("--openrouter-cache",), metavar="on|off|TTL",
            widget="toggle", unit="ttl", section="OpenRouter routing", bounds=(MIN_CACHE_TTL, MAX_CACHE_TTL, 1),
            initial=300, keyword="openrouter_cache", from_text=parse_cache, to_text=switch_text),
    Setting("openrouter_cache_clear", "OpenRouter: refresh this call's cached response", bool,
            flags=("--openrouter-cache-clear",), keyword="openrouter_cache_clear"),
    Setting("openrouter_metadata", "OpenRouter: ask for the router's metadata (which provider served, attempts)",
            bool, flags=("--openrouter-metadata",), widget="check", section="OpenRouter routing",
            keyword="openrouter_metadata", from_text=parse_switch),
)


def rows(*, widget: bool = False) -> tuple[Setting, ...]:
    """The table (read at call time, so a row added to ``ROWS`` shows everywhere); ``widget``: those with controls."""
    return tuple(r for r in ROWS if r.widget or not widget)


def row(name: str) -> Setting:
    """The row of a setting, by name or alias."""
    for r in ROWS:
        if name == r.name or name in r.aliases:
            return r
    raise KeyError(name)


def default(name: str) -> Any:
    """A setting's default."""
    return row(name).default


def normalise(values: Mapping[str, Any], table: Sequence[Setting] | None = None) -> dict[str, Any]:
    """Settings with aliases resolved (``schema`` → ``output_format``…); names not in the table are refused."""
    table = rows() if table is None else table
    names = {alias: r.name for r in table for alias in (r.name, *r.aliases)}
    out = {}
    for name, value in values.items():
        if name not in names:
            raise TypeError(f"unknown setting {name!r}; settings are {', '.join(r.name for r in table)}")
        out[names[name]] = value
    return out


def resolve(values: Mapping[str, Any]) -> dict[str, Any]:
    """Every setting's value: the given ones, then the defaults; max_tokens keeps room beside thinking's budget."""
    given = normalise(values)
    full = {r.name: given.get(r.name, r.default) for r in rows()}
    budget = thinking_budget(full.get("thinking"))
    if budget and budget >= int(full["max_tokens"]):
        full["max_tokens"] = int(full["max_tokens"]) + budget  # thinking counts toward max_tokens
    return full


def request_params(values: Mapping[str, Any]) -> dict[str, Any]:
    """The Request keywords (all but ``messages``) that a set of settings stands for."""
    full = resolve(values)
    params: dict[str, Any] = {}
    for r in rows():
        value = r.field_value(full[r.name], full) if r.field else None
        if value is not None:
            _put(params, r.field, value)
    return params


def call_options(values: Mapping[str, Any]) -> dict[str, Any]:
    """The per-call keywords of ``messages.create`` / ``stream`` that a set of settings stands for (headers)."""
    given = normalise(values)
    out = {}
    for r in rows():
        value = given.get(r.name, r.default)
        if r.keyword and value is not None and not (r.type is bool and value is False):  # off: the client's choice
            out[r.keyword] = value
    return out


def _put(params: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for part in parents:
        params = params.setdefault(part, {})
    params[last] = value
