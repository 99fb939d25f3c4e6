"""The deterministic token count shared by count_tokens, usage and the prompt-cache simulation."""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any

TOKEN_PATTERN = re.compile(r"\w+|[^\w\s]")
REQUEST_OVERHEAD = 3
MESSAGE_OVERHEAD = 3
SYSTEM_OVERHEAD = 3
TOOL_OVERHEAD = 8
IMAGE_TOKENS = 85
DOCUMENT_OVERHEAD = 10
PDF_PAGE_TOKENS = 250
TOOL_BLOCK_OVERHEAD = 5


def count_text(text: str) -> int:
    """Tokens of a text: the number of matches of ``\\w+|[^\\w\\s]`` (a word, or one punctuation mark)."""
    return sum(1 for _ in TOKEN_PATTERN.finditer(text))


def cut_text(text: str, tokens: int) -> str:
    """The longest prefix of ``text`` holding at most ``tokens`` tokens (ending right after the last one)."""
    if tokens <= 0:
        return ""
    for n, match in enumerate(TOKEN_PATTERN.finditer(text), start=1):
        if n == tokens:
            return text[: match.end()]
    return text


def chunk_text(text: str, per_chunk: int) -> list[str]:
    """``text`` split after every ``per_chunk`` tokens; the pieces join back to ``text``."""
    pieces, start = [], 0
    for n, match in enumerate(TOKEN_PATTERN.finditer(text), start=1):
        if n % per_chunk == 0:
            pieces.append(text[start : match.end()])
            start = match.end()
    if start < len(text) or not pieces:
        pieces.append(text[start:])
    return pieces


def _decoded_size(data: str) -> int:
    try:
        return len(base64.b64decode(data, validate=False))
    except (binascii.Error, ValueError):
        return len(data) * 3 // 4


def pdf_pages(data: str) -> int:
    """Pages of a base64 PDF: its ``/Type /Page`` objects, at least one."""
    try:
        raw = base64.b64decode(data, validate=False)
    except (binascii.Error, ValueError):
        return 1
    return max(1, len(re.findall(rb"/Type\s*/Page(?!s)", raw)))


def _json_tokens(value: Any) -> int:
    return count_text(json.dumps(value, sort_keys=True, ensure_ascii=False))


def _source_tokens(source: dict[str, Any]) -> int:
    kind = source.get("type")
    if kind == "text":
        return count_text(str(source.get("data", "")))
    if kind == "content":
        return content_tokens(source.get("content", ""))
    if kind == "base64":
        return PDF_PAGE_TOKENS * pdf_pages(str(source.get("data", "")))
    return PDF_PAGE_TOKENS  # url / file: the pages are unknown here, count one


def block_tokens(block: Any) -> int:
    """Tokens of one content block (see ``count_input_tokens`` for the rules)."""
    if isinstance(block, str):
        return count_text(block)
    if not isinstance(block, dict):
        return 0
    kind = block.get("type")
    if kind == "text":
        return count_text(str(block.get("text", "")))
    if kind == "image":
        return IMAGE_TOKENS
    if kind == "document":
        extra = count_text(str(block.get("title") or "")) + count_text(str(block.get("context") or ""))
        return DOCUMENT_OVERHEAD + extra + _source_tokens(block.get("source") or {})
    if kind in ("tool_use", "server_tool_use"):
        return TOOL_BLOCK_OVERHEAD + count_text(str(block.get("name", ""))) + _json_tokens(block.get("input", {}))
    if kind == "tool_result":
        return TOOL_BLOCK_OVERHEAD + content_tokens(block.get("content") or "")
    if kind == "thinking":
        return count_text(str(block.get("thinking", "")))
    if kind == "redacted_thinking":
        return count_text(str(block.get("data", "")))
    if kind == "search_result":
        head = count_text(f"{block.get('source', '')} {block.get('title', '')}")
        return head + content_tokens(block.get("content") or [])
    return _json_tokens({k: v for k, v in block.items() if k != "cache_control"})


def content_tokens(content: Any) -> int:
    """Tokens of a message ``content``: a string or a list of blocks."""
    if isinstance(content, list):
        return sum(block_tokens(b) for b in content)
    return block_tokens(content)


def tool_tokens(tool: dict[str, Any]) -> int:
    """Tokens of one tool definition: overhead, name, description and the JSON of its schema."""
    if "input_schema" in tool:
        text = f"{tool.get('name', '')} {tool.get('description') or ''}"
        return TOOL_OVERHEAD + count_text(text) + _json_tokens(tool.get("input_schema"))
    return TOOL_OVERHEAD + _json_tokens({k: v for k, v in tool.items() if k != "cache_control"})


@dataclass(frozen=True)
class Piece:
    """One cacheable unit of the prompt, in prompt order: a tool, a system block or a message block."""

    tokens: int
    key: str  # canonical text of the unit (role included), for the cache's prefix hashes
    cache_control: dict[str, Any] | None


def _strip_cache(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if k != "cache_control"}
    return value


def _key(kind: str, value: Any) -> str:
    return kind + ":" + json.dumps(_strip_cache(value), sort_keys=True, ensure_ascii=False)


def _system_blocks(system: Any) -> list[Any]:
    if system is None:
        return []
    return system if isinstance(system, list) else [{"type": "text", "text": str(system)}]


def _message_blocks(message: dict[str, Any]) -> list[Any]:
    content = message.get("content", "")
    return content if isinstance(content, list) else [{"type": "text", "text": str(content)}]


def prompt_pieces(body: dict[str, Any]) -> list[Piece]:
    """The prompt as cacheable pieces (tools, then system, then messages), overheads included."""
    pieces: list[Piece] = []
    for tool in body.get("tools") or []:
        pieces.append(Piece(tool_tokens(tool), _key("tool", tool), tool.get("cache_control")))
    for i, block in enumerate(_system_blocks(body.get("system"))):
        overhead = SYSTEM_OVERHEAD if i == 0 else 0
        pieces.append(Piece(overhead + block_tokens(block), _key("system", block), _cache_of(block)))
    for message in body.get("messages") or []:
        role = message.get("role", "user")
        for i, block in enumerate(_message_blocks(message)):
            overhead = MESSAGE_OVERHEAD if i == 0 else 0
            pieces.append(Piece(overhead + block_tokens(block), _key(role, block), _cache_of(block)))
    if pieces:  # the request overhead rides on the first piece so the sum stays exact
        first = pieces[0]
        pieces[0] = Piece(first.tokens + REQUEST_OVERHEAD, first.key, first.cache_control)
    return pieces


def _cache_of(block: Any) -> dict[str, Any] | None:
    return block.get("cache_control") if isinstance(block, dict) else None


def count_input_tokens(body: dict[str, Any]) -> int:
    """The input token count of a request body; count_tokens answers it and usage splits it by cache.

    Definition: a *text token* is one match of the regex ``\\w+|[^\\w\\s]`` (a run of word characters, or a
    single punctuation/symbol character); whitespace is free. The input count is the sum of:

    * 3 per request;
    * the system prompt: 3 + its text tokens;
    * each tool: 8 + text tokens of ``name`` and ``description`` + text tokens of
      ``json.dumps(input_schema, sort_keys=True)`` (server tools: 8 + tokens of their JSON);
    * each message: 3 + its blocks, where a block counts:
      text → its text tokens; image → 85; document → 10 + title/context tokens + (plain text: its tokens;
      content source: its blocks; base64 PDF: 250 per ``/Type /Page`` object, at least one; url/file: 250);
      tool_use → 5 + name tokens + tokens of the JSON input; tool_result → 5 + tokens of its content;
      thinking → tokens of its text; redacted_thinking → tokens of its data; search_result → source, title
      and content tokens; any other block → tokens of its JSON.

    ``cache_control`` markers never count. Output tokens use the same text-token rule on the generated text
    (thinking text, answer text, and tool calls as name + JSON input + 5).
    """
    return sum(piece.tokens for piece in prompt_pieces(body))
