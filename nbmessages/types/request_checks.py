"""Request rules beyond the field types: block types and fields, empty text, tool pairing, schemas, models.

Part of ``semantic_problems`` (validation.py), so the client refuses before sending and the embedded server
answers 400 with the same words. Blocks replayed from responses (assistant turns) stay open to new types and
fields; what a user writes (user turns, system, tool results) is closed, so a typo never goes out silently.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from pydantic import BaseModel

from .blocks import BlockParam, ToolResultBlockParam
from .model_capabilities import capabilities
from .params import MessageCreateParams

Problem = tuple[str, str]

REQUEST_BLOCK_TYPES = ("text", "image", "document", "search_result", "tool_use", "server_tool_use", "tool_result",
                       "thinking", "redacted_thinking")
USER_BLOCK_TYPES = (*REQUEST_BLOCK_TYPES, "container_upload")
NEAR_MISS = 0.85  # an assistant block type this close to a known one is a typo, not a new server type


def _blocks(content: Any) -> list[Any]:
    return content if isinstance(content, list) else []


def block_problems(p: MessageCreateParams) -> Iterator[Problem]:
    """Unknown block types and fields in what the user wrote, and empty or whitespace-only text."""
    for j, part in enumerate(p.system if isinstance(p.system, list) else ()):
        yield from _closed_block(f"system[{j}]", part)
    for i, message in enumerate(p.messages):
        where = f"messages[{i}].content"
        if isinstance(message.content, str):
            if not message.content.strip():
                yield where, "is only whitespace; send visible text"
            continue
        for j, block in enumerate(message.content):
            if message.role != "user":  # replayed answers, and system turns (new kinds such as tool_addition)
                yield from _open_block(f"{where}[{j}]", block)
            else:
                yield from _closed_block(f"{where}[{j}]", block)
            if isinstance(block, ToolResultBlockParam):
                for k, inner in enumerate(_blocks(block.content)):
                    yield from _closed_block(f"{where}[{j}].content[{k}]", inner)


def _closed_block(path: str, block: BlockParam) -> Iterator[Problem]:
    if block.type not in USER_BLOCK_TYPES:
        yield f"{path}.type", _unknown_type(block.type, USER_BLOCK_TYPES)
        return
    if type(block) is not BlockParam:
        allowed = [info.alias or name for name, info in type(block).model_fields.items()]
        for name in block.model_extra or {}:
            yield f"{path}.{name}", f"unknown field on a {block.type!r} block; allowed: {', '.join(allowed)}"
    yield from _text_problem(path, block)


def _open_block(path: str, block: BlockParam) -> Iterator[Problem]:
    if block.type not in REQUEST_BLOCK_TYPES and difflib.get_close_matches(block.type, REQUEST_BLOCK_TYPES, 1,
                                                                           NEAR_MISS):
        yield f"{path}.type", _unknown_type(block.type, REQUEST_BLOCK_TYPES)
    yield from _text_problem(path, block)


def _text_problem(path: str, block: BlockParam) -> Iterator[Problem]:
    if block.type == "text" and not str(getattr(block, "text", "")).strip():
        yield f"{path}.text", "is empty or only whitespace; a text block needs visible text (or leave it out)"


def _unknown_type(kind: str, known: tuple[str, ...]) -> str:
    hint = difflib.get_close_matches(kind, known, 1)
    did_you = f"; did you mean {hint[0]!r}?" if hint else ""
    return f"unknown block type {kind!r}{did_you} Allowed: {', '.join(known)}"


def tool_pairing_problems(p: MessageCreateParams) -> Iterator[Problem]:
    """Every tool_use is answered once, in the next user message; tool_use ids are unique."""
    seen: dict[str, str] = {}
    turns = [(i, m) for i, m in enumerate(p.messages) if m.role != "system"]
    for n, (i, message) in enumerate(turns):
        if message.role != "assistant":
            continue
        uses = {}
        for j, block in enumerate(_blocks(message.content)):
            if block.type != "tool_use":
                continue
            where = f"messages[{i}].content[{j}]"
            if block.id in seen:
                yield f"{where}.id", f"duplicate tool_use id {block.id!r} (also at {seen[block.id]}); ids are unique"
            seen[block.id], uses[block.id] = where, where
        if uses and n + 1 < len(turns):
            yield from _answers(*turns[n + 1], uses)


def _answers(i: int, message: Any, uses: dict[str, str]) -> Iterator[Problem]:
    answered: dict[str, int] = {}
    for j, block in enumerate(_blocks(message.content)):
        if block.type == "tool_result" and block.tool_use_id in uses:
            if block.tool_use_id in answered:
                yield (f"messages[{i}].content[{j}].tool_use_id",
                       f"a second tool_result for {block.tool_use_id!r} (the first is content[{answered[block.tool_use_id]}])")
            answered.setdefault(block.tool_use_id, j)
    for tool_id, where in uses.items():
        if message.role == "user" and tool_id not in answered:
            yield (f"messages[{i}].content",
                   f"no tool_result answers tool_use {tool_id!r} ({where}); the next user message must answer "
                   "every tool_use of the assistant turn before it")


def body_problems(p: MessageCreateParams) -> Iterator[Problem]:
    """Nesting too deep to send (or to check), and lone surrogates, anywhere in the request."""
    problem = json_problem(p)
    if problem is not None:
        yield problem


def schema_problems(p: MessageCreateParams) -> Iterator[Problem]:
    """Tool input schemas and the structured output schema must be valid JSON Schemas."""
    for i, tool in enumerate(p.tools or ()):
        schema = getattr(tool, "input_schema", None)
        if isinstance(schema, dict):
            yield from _schema_problem(f"tools[{i}].input_schema", schema)
    fmt = p.output_config.format if p.output_config is not None else None
    if fmt is not None:
        yield from _schema_problem("output_config.format.schema", fmt.schema_)


def _schema_problem(path: str, schema: dict[str, Any]) -> Iterator[Problem]:
    problem = _check_schema(json.dumps(schema, sort_keys=True, default=str))
    if problem is not None:
        where, message = problem
        yield (f"{path}.{where}" if where else path), f"is not a valid JSON Schema: {message}"


@lru_cache(maxsize=256)
def _check_schema(text: str) -> tuple[str, str] | None:
    from jsonschema import SchemaError, validators  # type: ignore[import-untyped]  # loaded only when needed

    schema = json.loads(text)
    try:
        validators.validator_for(schema, default=validators.Draft202012Validator).check_schema(schema)
    except SchemaError as exc:
        where = ".".join(str(part) for part in exc.absolute_path)
        return where, exc.message[:200]
    except RecursionError:
        return "", "it is nested too deeply to check"
    return None


def model_problems(p: MessageCreateParams) -> Iterator[Problem]:
    """The rules that depend on the model, from its capabilities (model_capabilities.RULES)."""
    caps = capabilities(p.model)
    if not caps.system_messages:
        for i, message in enumerate(p.messages):
            if message.role == "system":
                yield (f"messages[{i}].role",
                       f"{p.model!r} does not take 'system' turns inside messages; put it in the top-level "
                       "system field (mid-conversation system turns need Claude Opus 4.8 or later)")
    if not caps.temperature_with_top_p and p.temperature is not None and p.top_p is not None:
        yield "top_p", f"{p.model!r} refuses temperature and top_p together; set only one of them"


MAX_DEPTH = 200  # nesting levels of JSON a request may use; deeper is refused before anything recurses on it


def json_problem(body: Any) -> Problem | None:
    """What makes a body unsendable though it is JSON: nesting too deep, or a lone surrogate in a string."""
    return None if _sendable(body) else _where_unsendable(body)


def _sendable(body: Any) -> bool:
    """Whether nothing in ``body`` is nested too deep or holds a lone surrogate: the walk of every request, so
    it builds no paths (``_where_unsendable`` finds the place once something is wrong)."""
    stack: list[tuple[Any, int]] = [(body, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            return False
        if isinstance(value, str):
            if not value.isascii():
                try:
                    value.encode("utf-8")
                except UnicodeEncodeError:
                    return False
            continue
        if isinstance(value, BaseModel):
            value = {k: v for k, v in {**value.__dict__, **(value.model_extra or {})}.items() if v is not None}
        if isinstance(value, dict):
            stack += [(item, depth + 1) for pair in value.items() for item in pair]  # keys are strings too
        elif isinstance(value, list):
            stack += [(item, depth + 1) for item in value]
    return True


def _where_unsendable(body: Any) -> Problem | None:
    stack: list[tuple[Any, str, int]] = [(body, "", 1)]
    while stack:
        value, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            shown = path if len(path) <= 80 else f"{path[:60]}…{path[-20:]}"
            return shown, f"is nested more than {MAX_DEPTH} levels deep"
        if isinstance(value, BaseModel):  # a typed request: walked as the dict it is sent as
            value = {k: v for k, v in {**value.__dict__, **(value.model_extra or {})}.items() if v is not None}
        if isinstance(value, dict):
            for key, item in value.items():
                where = f"{path}.{key}" if path else str(key)
                stack += [(item, where, depth + 1), (key, where, depth + 1)]  # keys are strings too
        elif isinstance(value, list):
            stack += [(item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value)]
        elif isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as exc:  # the path may hold one too: shown escaped
                path = path.encode("utf-8", "backslashreplace").decode("utf-8")
                return path, f"holds a lone surrogate ({value[exc.start]!r} at character {exc.start}): send valid Unicode"
    return None
