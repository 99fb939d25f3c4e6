"""Values that satisfy a JSON Schema, preferring values the prompt mentions (for tool inputs and JSON output)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

try:  # the regex parser moved in 3.11; it lets us build a string matching a ``pattern``
    import re._parser as sre_parse  # type: ignore[import-not-found,unused-ignore]
except ImportError:  # pragma: no cover - Python 3.10
    import sre_parse  # type: ignore[no-redef,unused-ignore]

MAX_DEPTH = 8
_QUERY_NAMES = {"query", "q", "text", "prompt", "question", "input", "message", "search", "search_query", "content"}
_FORMATS = {
    "date": "2025-01-01", "date-time": "2025-01-01T00:00:00Z", "time": "12:00:00Z", "email": "user@example.com",
    "uri": "https://example.com", "url": "https://example.com", "uri-reference": "https://example.com",
    "iri": "https://example.com", "uuid": "00000000-0000-4000-8000-000000000000", "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1", "hostname": "example.com", "idn-hostname": "example.com", "duration": "P1D",
    "idn-email": "user@example.com", "json-pointer": "/a", "regex": ".*",
}
_KV = re.compile(r"""\b([A-Za-z_][\w-]*)\s*[:=]\s*(?:"([^"]*)"|'([^']*)'|([^\s,;)]+))""")
_QUOTED = re.compile(r""""([^"\n]{1,200})"|“([^”\n]{1,200})”|`([^`\n]{1,200})`|(?<!\w)'([^'\n]{2,200})'(?!\w)""")
_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w.]*\w)")
_SENTENCE = re.compile(r"[^.!?\n]+")
_WORD = re.compile(r"[A-Za-z][\w'-]*")


@dataclass
class PromptHints:
    """Candidate values found in the prompt: ``key=value`` pairs, quoted text, proper nouns, numbers."""

    text: str = ""
    pairs: dict[str, str] = field(default_factory=dict)
    strings: list[str] = field(default_factory=list)
    numbers: list[float] = field(default_factory=list)

    @classmethod
    def from_text(cls, text: str, exclude: tuple[str, ...] = ()) -> PromptHints:
        """Hints from a prompt; words in ``exclude`` (e.g. tool names) are never offered as values."""
        pairs = {m.group(1).lower(): next(g for g in m.groups()[1:] if g is not None) for m in _KV.finditer(text)}
        quoted = [(m.start(), next(g for g in m.groups() if g is not None).strip()) for m in _QUOTED.finditer(text)]
        skip = {e.lower() for e in exclude} | set(pairs.values())
        found = sorted([*quoted, *_proper_nouns(text)])  # in reading order: the first mention is used first
        strings = [s for _, s in found if s and s.lower() not in skip]
        numbers = [float(m.group()) for m in _NUMBER.finditer(text)]
        return cls(text.strip(), pairs, list(dict.fromkeys(strings)), numbers)

    def pair(self, name: str) -> str | None:
        """The value written as ``name=value`` or ``name: value`` in the prompt."""
        return self.pairs.get(name.lower())

    def take_string(self) -> str | None:
        """The next unused quoted string or proper noun."""
        return self.strings.pop(0) if self.strings else None

    def take_number(self, fits: Any) -> float | None:
        """The first unused number of the prompt that ``fits`` accepts."""
        for i, number in enumerate(self.numbers):
            if fits(number):
                return self.numbers.pop(i)
        return None

    def mentioned(self, options: list[Any]) -> Any:
        """The first option whose text appears in the prompt (case-insensitive), else None."""
        lowered = self.text.lower()
        for option in options:
            if isinstance(option, str) and option and re.search(rf"\b{re.escape(option.lower())}\b", lowered):
                return option
        return None


def _proper_nouns(text: str) -> list[tuple[int, str]]:
    """Capitalised words that do not start a sentence, consecutive ones joined ("New York"), with positions."""
    found: list[tuple[int, str]] = []
    for sentence in _SENTENCE.finditer(text):
        run: list[re.Match[str]] = []
        for i, word in enumerate(_WORD.finditer(sentence.group())):
            if i > 0 and word.group()[0].isupper() and word.group() not in ("I", "I'm", "I'll"):
                run.append(word)
                continue
            if run:
                found.append((sentence.start() + run[0].start(), " ".join(w.group() for w in run)))
            run = []
        if run:
            found.append((sentence.start() + run[0].start(), " ".join(w.group() for w in run)))
    return found


def value_for(schema: Any, hints: PromptHints | None = None, root: Any = None) -> Any:
    """A value valid against ``schema``, taking prompt values from ``hints`` where they fit."""
    return _Generator(root if root is not None else schema, hints or PromptHints()).value(schema, "", 0)


class _Generator:
    def __init__(self, root: Any, hints: PromptHints):
        self.root, self.hints = root, hints

    def value(self, schema: Any, name: str, depth: int) -> Any:
        schema = self._resolve(schema)
        if schema is True or schema == {} or not isinstance(schema, dict):
            return self._string({}, name)
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            return self._enum(schema, name)
        if "allOf" in schema:
            return self.value(self._merge(schema), name, depth)
        for key in ("anyOf", "oneOf"):
            if key in schema:
                return self.value(self._pick_option(schema, key), name, depth)
        if "default" in schema and self.hints.pair(name) is None:
            return schema["default"]
        kind = self._type(schema)
        makers = {
            "object": lambda: self._object(schema, depth), "array": lambda: self._array(schema, name, depth),
            "integer": lambda: self._number(schema, name, integer=True),
            "number": lambda: self._number(schema, name, integer=False),
            "boolean": lambda: self._boolean(name), "null": lambda: None,
        }
        return makers.get(kind, lambda: self._string(schema, name))()

    def _resolve(self, schema: Any) -> Any:
        seen = 0
        while isinstance(schema, dict) and isinstance(schema.get("$ref"), str) and seen < 32:
            target = self._pointer(schema["$ref"])
            rest = {k: v for k, v in schema.items() if k != "$ref"}
            schema = {**target, **rest} if isinstance(target, dict) else target
            seen += 1
        return schema

    def _pointer(self, ref: str) -> Any:
        node = self.root
        if not ref.startswith("#"):
            return {}
        for part in [p for p in ref[1:].split("/") if p]:
            part = part.replace("~1", "/").replace("~0", "~")
            node = node.get(part, {}) if isinstance(node, dict) else {}
        return node

    def _merge(self, schema: dict[str, Any]) -> dict[str, Any]:
        merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
        for part in schema["allOf"]:
            part = self._resolve(part)
            if not isinstance(part, dict):
                continue
            for key, val in part.items():
                if key == "properties":
                    merged["properties"] = {**merged.get("properties", {}), **val}
                elif key == "required":
                    merged["required"] = [*merged.get("required", []), *val]
                else:
                    merged.setdefault(key, val)
        return merged

    def _pick_option(self, schema: dict[str, Any], key: str) -> Any:
        options = [self._resolve(o) for o in schema[key]]
        real = [o for o in options if not (isinstance(o, dict) and o.get("type") == "null")]
        base = {k: v for k, v in schema.items() if k != key}
        chosen = (real or options)[0]
        return {**base, **chosen} if isinstance(chosen, dict) else chosen

    @staticmethod
    def _type(schema: dict[str, Any]) -> str:
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), kind[0] if kind else "string")
        if isinstance(kind, str):
            return kind
        if "properties" in schema or "required" in schema or "additionalProperties" in schema:
            return "object"
        if "items" in schema or "prefixItems" in schema:
            return "array"
        if any(k in schema for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")):
            return "number"
        return "string"

    def _enum(self, schema: dict[str, Any], name: str) -> Any:
        options = list(schema["enum"])
        pair = self.hints.pair(name)
        for option in options:
            if pair is not None and str(option).lower() == pair.lower():
                return option
        mentioned = self.hints.mentioned(options)
        if mentioned is not None:
            return mentioned
        return schema["default"] if schema.get("default") in options else options[0]

    def _object(self, schema: dict[str, Any], depth: int) -> dict[str, Any]:
        props: dict[str, Any] = schema.get("properties") or {}
        required = [r for r in schema.get("required") or [] if isinstance(r, str)]
        names = list(dict.fromkeys([*required, *(props if depth < MAX_DEPTH else [])]))
        limit = schema.get("maxProperties")
        if isinstance(limit, int):
            names = names[: max(limit, len(required))]
        extra = schema.get("additionalProperties", True)
        out: dict[str, Any] = {}
        for key in names:
            sub = props.get(key, extra if isinstance(extra, dict) else {})
            out[key] = self.value(sub, key, depth + 1)
        minimum = schema.get("minProperties", 0)
        while isinstance(minimum, int) and len(out) < minimum and extra is not False:
            key = f"key{len(out) + 1}"
            out[key] = self.value(extra if isinstance(extra, dict) else {}, key, depth + 1)
        return out

    def _array(self, schema: dict[str, Any], name: str, depth: int) -> list[Any]:
        prefix = schema.get("prefixItems") or []
        items = schema.get("items", {})
        low = max(int(schema.get("minItems", 0)), len(prefix), 1 if depth < MAX_DEPTH else 0)
        high = schema.get("maxItems")
        count = min(low, high) if isinstance(high, int) else low
        out = [self.value(prefix[i], name, depth + 1) for i in range(min(count, len(prefix)))]
        while len(out) < count:
            item = self.value(items if items is not False else {}, name, depth + 1)
            if schema.get("uniqueItems") and item in out:
                item = _vary(item, len(out))
            out.append(item)
        if "contains" in schema and out:
            out[-1] = self.value(schema["contains"], name, depth + 1)
        return out

    def _number(self, schema: dict[str, Any], name: str, integer: bool) -> int | float:
        low, high = _bounds(schema, integer)
        step = schema.get("multipleOf")

        def fits(x: float) -> bool:
            ok = (low is None or x >= low) and (high is None or x <= high)
            ok = ok and (not integer or float(x).is_integer())
            return ok and (not step or math.isclose(x / step, round(x / step)))

        pair = self.hints.pair(name)
        candidate = _as_number(pair) if pair is not None else None
        if candidate is None or not fits(candidate):
            candidate = self.hints.take_number(fits)
        if candidate is None:
            candidate = _in_range(low, high, step)
        return int(candidate) if integer else candidate

    def _boolean(self, name: str) -> bool:
        pair = self.hints.pair(name)
        return pair.lower() not in ("false", "no", "0", "off") if pair is not None else True

    def _string(self, schema: dict[str, Any], name: str) -> str:
        candidates = [self.hints.pair(name)]
        if name.lower() in _QUERY_NAMES and self.hints.text:
            candidates.append(self.hints.text[:200])
        candidates += [self.hints.take_string(), _FORMATS.get(str(schema.get("format", ""))), "example"]
        for candidate in candidates:
            if candidate is not None and _string_ok(candidate, schema):
                return candidate
        return _forced_string(schema)


def _bounds(schema: dict[str, Any], integer: bool) -> tuple[float | None, float | None]:
    low, high = schema.get("minimum"), schema.get("maximum")
    ex_low, ex_high = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    tiny = 1 if integer else 1e-6
    if isinstance(ex_low, (int, float)) and not isinstance(ex_low, bool):
        low = max(low, ex_low + tiny) if low is not None else ex_low + tiny
    if isinstance(ex_high, (int, float)) and not isinstance(ex_high, bool):
        high = min(high, ex_high - tiny) if high is not None else ex_high - tiny
    if integer:
        low = math.ceil(low) if low is not None else None
        high = math.floor(high) if high is not None else None
    return low, high


def _in_range(low: float | None, high: float | None, step: float | None) -> float:
    start = low if low is not None else (min(1, high) if high is not None else 1)
    if step:
        start = math.ceil(start / step) * step
        if high is not None and start > high:
            start = math.floor(high / step) * step
    return start


def _as_number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _vary(item: Any, index: int) -> Any:
    if isinstance(item, bool):
        return not item
    if isinstance(item, (int, float)):
        return item + index
    if isinstance(item, str):
        return f"{item}{index}"
    return item


def _string_ok(text: str, schema: dict[str, Any]) -> bool:
    if len(text) < int(schema.get("minLength", 0)):
        return False
    if isinstance(schema.get("maxLength"), int) and len(text) > schema["maxLength"]:
        return False
    pattern = schema.get("pattern")
    if isinstance(pattern, str):
        try:
            return re.search(pattern, text) is not None
        except re.error:
            return True
    fmt = schema.get("format")
    return not (fmt in _FORMATS and text != _FORMATS[fmt] and fmt in ("date", "date-time", "uuid", "email"))


def _forced_string(schema: dict[str, Any]) -> str:
    """A string built to satisfy length and pattern when no natural candidate did."""
    pattern = schema.get("pattern")
    text = _from_pattern(pattern) if isinstance(pattern, str) else "example"
    low, high = int(schema.get("minLength", 0)), schema.get("maxLength")
    if len(text) < low:
        text += "x" * (low - len(text))
    if isinstance(high, int):
        text = text[:high]
    return text


def _from_pattern(pattern: str) -> str:
    try:
        return _emit(sre_parse.parse(pattern))
    except Exception:  # an exotic pattern: fall back to a plain word
        return "example"


def _emit(parsed: Any) -> str:
    out = []
    for op, arg in parsed:
        name = str(op)
        if name == "LITERAL":
            out.append(chr(arg))
        elif name == "ANY":
            out.append("a")
        elif name == "IN":
            out.append(_from_set(arg))
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            low, _high, sub = arg
            out.append(_emit(sub) * low)
        elif name == "SUBPATTERN":
            out.append(_emit(arg[-1]))
        elif name == "BRANCH":
            out.append(_emit(arg[1][0]))
        elif name == "CATEGORY":
            out.append(_from_category(str(arg)))
    return "".join(out)


def _from_set(items: Any) -> str:
    negated = any(str(op) == "NEGATE" for op, _ in items)
    if negated:
        excluded = "".join(_emit([(op, a)]) for op, a in items if str(op) != "NEGATE")
        return next(c for c in "aZ0_x" if c not in excluded)
    op, arg = items[0]
    if str(op) == "RANGE":
        return chr(arg[0])
    if str(op) == "CATEGORY":
        return _from_category(str(arg))
    return chr(arg) if str(op) == "LITERAL" else "a"


def _from_category(name: str) -> str:
    return {"CATEGORY_DIGIT": "0", "CATEGORY_SPACE": " ", "CATEGORY_WORD": "a"}.get(name, "-" if "NOT" in name else "a")
