"""Validation of a request body: field paths like ``messages[2].content[0].source.media_type``.

Shared by the client (before anything is sent) and the embedded server (which answers 400 with the same
words), so both sides agree on what a valid request is.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from typing import Any

from pydantic import ValidationError

from . import request_checks
from .explained import Explained
from .params import (
    MAX_CACHE_BREAKPOINTS,
    MessageCreateParams,
    ProviderPreferences,
)

Problem = tuple[str, str]


class RequestValidationError(Explained, ValueError):
    """A request that cannot be sent; ``problems`` holds ``(field path, what is wrong and allowed)``."""

    title = "Invalid request (not sent)"

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__(self._describe())

    @property
    def path(self) -> str:
        """The field path of the first problem."""
        return self.problems[0][0]

    def _describe(self) -> str:
        lines = [f"{path}: {message}" if path else message for path, message in self.problems]
        if len(lines) == 1:
            return f"invalid request: {lines[0]}"
        return "invalid request:\n" + "\n".join(f"  - {line}" for line in lines)


def join_path(path: str, key: str | int) -> str:
    """``messages`` + 2 → ``messages[2]``; ``source`` + ``data`` → ``source.data``."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _walk_loc(loc: tuple[Any, ...], data: Any) -> tuple[str, Any, bool]:
    """The user-facing path of a pydantic location: union tags, absent from the data, are skipped."""
    path, node, found = "", data, True
    for key in loc:
        if isinstance(key, str) and key.startswith("<"):
            continue  # a union member's tag (see tagged()): not part of the user's data
        if isinstance(node, dict) and key in node:
            path, node = join_path(path, key), node[key]
        elif isinstance(node, (list, tuple)) and isinstance(key, int) and key < len(node):
            path, node = join_path(path, key), node[key]
        elif isinstance(node, dict) and isinstance(key, str) and key == loc[-1]:
            path, node, found = join_path(path, key), None, False  # the missing or unknown key itself
        # anything else is a union member's tag: not part of the user's data
    return path, node, found


def _field_names(model_fields: dict[str, Any]) -> list[str]:
    return [info.alias or name for name, info in model_fields.items()]


def _message(err: dict[str, Any], value: Any, found: bool) -> str:
    kind, msg = str(err["type"]), str(err["msg"])
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "missing":
        return "is required"
    if kind == "union_tag_invalid" or kind == "union_tag_not_found":
        expected = str((err.get("ctx") or {}).get("expected_tags", "")).replace("<", "").replace(">", "")
        got = value.get("type") if isinstance(value, dict) else value
        return f"type {got!r} is not allowed here; use one of {expected}" if expected else msg
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return f"{msg} (got {shown})" if found else msg


def problems_from_pydantic(exc: ValidationError, data: Any) -> list[Problem]:
    """Turn pydantic's errors into ``(path, message)``; of union alternatives, the deepest wins."""
    walked = []
    for err in exc.errors(include_url=False):
        path, value, found = _walk_loc(err["loc"], data)
        walked.append((path.count(".") + path.count("["), path, _message(dict(err), value, found), err))
    deepest: dict[str, int] = {}
    for depth, path, _, _err in walked:
        root = _root_of(path)
        deepest[root] = max(deepest.get(root, 0), depth)
    out: list[Problem] = []
    for depth, path, message, err in walked:
        if depth < deepest[_root_of(path)] or (path, message) in out:
            continue
        if err["type"] == "extra_forbidden":
            message = _unknown_field_message(path, data)
        out.append((path, message))
    return out


def _root_of(path: str) -> str:
    """Errors under one list item compete (union alternatives); elsewhere each path stands alone."""
    head = path.split(".")[0]
    return head if "[" in head else path


def _unknown_field_message(path: str, data: Any) -> str:
    name = path.rsplit(".", 1)[-1].split("[")[0]
    if "." not in path and "[" not in path:
        allowed = _field_names(MessageCreateParams.model_fields)
        hint = difflib.get_close_matches(name, allowed, n=1)
        did_you = f"; did you mean {hint[0]!r}?" if hint else ""
        return f"unknown field{did_you} Send fields the API documents later through extra_body."
    if path.startswith("provider.") and path.count(".") == 1:  # OpenRouter's schema forbids any other key
        allowed = _field_names(ProviderPreferences.model_fields)
        hint = difflib.get_close_matches(name, allowed, n=1)
        did_you = f"did you mean {hint[0]!r}? " if hint else ""
        return f"not in OpenRouter's published provider preferences; {did_you}allowed: {', '.join(allowed)}"
    return "unknown field (not part of this object's schema)"


def validate_params(data: Any) -> MessageCreateParams:
    """Validate a request body (a dict) and return it typed; raise RequestValidationError naming the field."""
    try:
        params = MessageCreateParams.model_validate(data)
    except ValidationError as exc:
        raise RequestValidationError(problems_from_pydantic(exc, data)) from None
    problems = list(semantic_problems(params))
    if problems:
        raise RequestValidationError(problems)
    return params


def semantic_problems(p: MessageCreateParams) -> Iterator[Problem]:
    """Rules that span fields (spec §6): thinking budget, tools and tool_choice, turns and tool results."""
    yield from _thinking_problems(p)
    yield from _tool_problems(p)
    yield from _turn_problems(p)
    yield from _cache_problems(p)
    deep = list(request_checks.body_problems(p))
    if deep:  # the other rules would recurse into it
        yield from deep
        return
    yield from request_checks.block_problems(p)
    yield from request_checks.tool_pairing_problems(p)
    yield from request_checks.schema_problems(p)
    yield from request_checks.model_problems(p)
    if p.models is not None and p.fallbacks is not None:
        yield "fallbacks", "cannot be combined with models; use one of them"


def _thinking_problems(p: MessageCreateParams) -> Iterator[Problem]:
    thinking = p.thinking
    if thinking is None or thinking.type in ("disabled", "between_tools"):
        return
    if thinking.type == "enabled" and p.max_tokens is not None and thinking.budget_tokens >= p.max_tokens:
        yield (
            "thinking.budget_tokens",
            f"must be below max_tokens ({thinking.budget_tokens} >= {p.max_tokens}); thinking tokens count "
            "toward max_tokens, so raise max_tokens or lower the budget",
        )
    if p.tool_choice is not None and p.tool_choice.type in ("any", "tool"):
        yield "tool_choice.type", f"{p.tool_choice.type!r} cannot be used with thinking; use 'auto' or 'none'"
    if p.temperature is not None and p.temperature != 1:
        yield "temperature", "cannot be changed while thinking is on (only 1.0 is allowed)"
    if p.top_k is not None:
        yield "top_k", "cannot be set while thinking is on"


def _tool_problems(p: MessageCreateParams) -> Iterator[Problem]:
    names: list[str] = []
    for i, tool in enumerate(p.tools or ()):
        if tool.name is None:
            continue
        if tool.name in names:
            yield f"tools[{i}].name", f"duplicate tool name {tool.name!r}; tool names must be unique"
        names.append(tool.name)
    choice = p.tool_choice
    if choice is None:
        return
    if choice.type in ("any", "tool") and not p.tools:
        yield "tool_choice", f"type {choice.type!r} needs tools, and no tools are defined"
    elif choice.type == "tool" and choice.name not in names:
        defined = ", ".join(repr(n) for n in names)
        yield "tool_choice.name", f"{choice.name!r} is not a defined tool; defined tools: {defined}"


def _blocks(content: Any) -> list[Any]:
    return content if isinstance(content, list) else []


_PLACES = {
    "tool_result": ("user",), "image": ("user",), "search_result": ("user",), "document": ("user", "assistant"),
    "tool_use": ("assistant",), "server_tool_use": ("assistant",), "thinking": ("assistant",),
    "redacted_thinking": ("assistant",),
}


def _turn_problems(p: MessageCreateParams) -> Iterator[Problem]:
    previous_tool_uses: set[str] = set()
    for i, message in enumerate(p.messages):
        for j, block in enumerate(_blocks(message.content)):
            roles = _PLACES.get(block.type)
            if roles and message.role not in roles:
                yield (
                    f"messages[{i}].content[{j}].type",
                    f"a {block.type!r} block cannot be in a {message.role!r} message (allowed in: "
                    + ", ".join(roles) + ")",
                )
        if message.role == "user":
            yield from _tool_result_problems(i, message.content, previous_tool_uses)
        if message.role != "system":
            previous_tool_uses = {b.id for b in _blocks(message.content) if b.type == "tool_use"}
    last = p.messages[-1]
    if last.role == "assistant":
        text = last.content if isinstance(last.content, str) else getattr(_blocks(last.content)[-1], "text", None)
        if isinstance(text, str) and text != text.rstrip():
            yield (
                f"messages[{len(p.messages) - 1}].content",
                "a final assistant message (prefill) cannot end with whitespace; strip the trailing whitespace",
            )


def _tool_result_problems(i: int, content: Any, expected: set[str]) -> Iterator[Problem]:
    seen_other = False
    for j, block in enumerate(_blocks(content)):
        if block.type != "tool_result":
            seen_other = True
            continue
        where = f"messages[{i}].content[{j}]"
        if block.tool_use_id not in expected:
            known = ", ".join(sorted(expected)) or "none"
            yield (
                f"{where}.tool_use_id",
                f"{block.tool_use_id!r} answers no tool_use of the previous assistant turn (its tool_use ids: "
                f"{known})",
            )
        elif seen_other:
            yield where, "tool_result blocks must come first in the message, before any text"


def _cache_problems(p: MessageCreateParams) -> Iterator[Problem]:
    count = sum(1 for _ in _cache_marks(p))
    if count > MAX_CACHE_BREAKPOINTS:
        yield "cache_control", f"{count} blocks carry cache_control; at most {MAX_CACHE_BREAKPOINTS} are allowed"


def _cache_marks(p: MessageCreateParams) -> Iterator[str]:
    for block in p.system if isinstance(p.system, list) else ():
        if block.cache_control is not None:
            yield "system"
    for tool in p.tools or ():
        if getattr(tool, "cache_control", None) is not None:
            yield "tools"
    for message in p.messages:
        for block in _blocks(message.content):
            if block.cache_control is not None:
                yield "messages"
