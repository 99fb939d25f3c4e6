"""Prompt templating that never breaks a prompt full of braces (JSON, code, f-strings, LaTeX).

Only ``{name}``, ``{name.attr}`` and ``{name[key]}`` (optionally with ``!r`` or ``:spec``) naming a defined
variable are filled in; any other brace text is sent unchanged. ``{{x}}`` is a literal ``{x}``; a lone ``{{`` or ``}}``
(the end of nested JSON) and ``${{ … }}`` are sent as they are. The
text is scanned with a regular expression and each reference is resolved by hand: nothing is evaluated.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

_TOKEN = re.compile(r"\{\{(?P<literal>[^{}]*)\}\}|\{(?P<ref>[^{}\s]+)\}")
_REF = re.compile(
    r"(?P<name>[A-Za-z_]\w*)(?P<path>(?:\.[A-Za-z]\w*|\[[^\[\]]+\])*)(?:!(?P<conv>[rsa]))?(?::(?P<spec>[^{}]*))?"
)
_STEP = re.compile(r"\.(?P<attr>[A-Za-z]\w*)|\[(?P<key>[^\[\]]+)\]")
_LATEX_COMMAND = re.compile(r"\\[A-Za-z]+\*?$")


class _Unresolved(Exception):
    """A reference whose base name is defined but whose attribute, key or format failed."""


@dataclass
class Filled:
    """The filled text, the names that were not defined and the references that could not be resolved."""

    text: str
    undefined: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def warning(self) -> str | None:
        """One line naming what was sent unchanged, or None when everything resolved."""
        if not self.undefined and not self.failed:
            return None
        parts = []
        if self.undefined:
            parts.append("not defined: " + ", ".join("{" + n + "}" for n in self.undefined))
        if self.failed:
            parts.append("could not be filled: " + ", ".join("{" + n + "}" for n in self.failed))
        return f"nbmessages: {'; '.join(parts)}; sent unchanged (write {{{{x}}}} for a literal {{x}}, or use --no-vars)"


def fill(text: str, namespace: Mapping[str, Any]) -> Filled:
    """Fill ``{references}`` to defined variables; leave every other brace as it is."""
    out: list[str] = []
    result = Filled("")
    pos = 0
    for match in _TOKEN.finditer(text):
        out.append(text[pos:match.start()])
        pos = match.end()
        token = match.group(0)
        if _latex_argument(text, match.start()):
            out.append(token)
        elif match.group("literal") is not None:
            out.append("{" + match.group("literal") + "}")
        else:
            value = _substitute(match.group("ref"), namespace, result)
            out.append(token if value is None else value)  # an empty value fills in as empty
    out.append(text[pos:])
    result.text = "".join(out)
    return result


def _latex_argument(text: str, start: int) -> bool:
    """Whether a brace group is a LaTeX argument (``\\frac{a}{b}``, ``x^{n}``, ``${x}``): never a reference."""
    before = text[:start]
    return bool(before) and (before[-1] in "}^_$\\" or bool(_LATEX_COMMAND.search(before)))


def _substitute(inner: str, namespace: Mapping[str, Any], result: Filled) -> str | None:
    ref = _REF.fullmatch(inner)
    if ref is None:
        return None  # JSON, code or prose in braces: not a reference
    name = ref.group("name")
    if name not in namespace:
        result.undefined.append(inner)
        return None
    try:
        value = _walk(namespace[name], ref.group("path"))
        return _format(value, ref.group("conv"), ref.group("spec"))
    except _Unresolved:
        result.failed.append(inner)
        return None


def _walk(value: Any, path: str) -> Any:
    for step in _STEP.finditer(path):
        attr, key = step.group("attr"), step.group("key")
        try:
            value = getattr(value, attr) if attr is not None else value[_key(key)]
        except Exception as exc:  # noqa: BLE001 - any failure leaves the reference unchanged
            raise _Unresolved(str(exc)) from None
    return value


def _key(raw: str) -> Any:
    """A subscript: an integer, a quoted string, or a bare word taken as a string (as str.format does)."""
    raw = raw.strip()
    if re.fullmatch(r"-?\d+", raw):
        return int(raw)
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"":
        return raw[1:-1]
    return raw


def _format(value: Any, conv: str | None, spec: str | None) -> str:
    if conv == "r":
        value = repr(value)
    elif conv == "a":
        value = ascii(value)
    try:
        return format(value, spec or "")
    except (TypeError, ValueError) as exc:
        raise _Unresolved(str(exc)) from None
