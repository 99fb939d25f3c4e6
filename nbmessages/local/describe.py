"""Markdown pieces of the offline answer: the quoted user message and a summary of the request."""

from __future__ import annotations

import json
import re
from typing import Any

from .tokens import count_text

_PARAMS = ("max_tokens", "temperature", "top_p", "top_k", "service_tier", "speed", "inference_geo")


def blocks_of(content: Any) -> list[Any]:
    """A message ``content`` as a list of blocks (a string becomes one text block)."""
    if isinstance(content, list):
        return content
    return [{"type": "text", "text": str(content)}]


def text_of(content: Any) -> str:
    """The text blocks of a ``content``, joined by blank lines."""
    parts = [b.get("text", "") for b in blocks_of(content) if isinstance(b, dict) and b.get("type") == "text"]
    return "\n\n".join(p for p in parts if p)


def last_user(body: dict[str, Any]) -> dict[str, Any]:
    """The last message with role ``user`` (an empty one if there is none)."""
    for message in reversed(body.get("messages") or []):
        if message.get("role") == "user":
            return message
    return {"role": "user", "content": []}


def quote(text: str) -> str:
    """``text`` in a fenced block whose fence is longer than any backtick run inside, so nothing breaks out."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"


def blockquote(text: str) -> str:
    """``text`` as a Markdown blockquote: prose wraps at word breaks (front ends wrap code blocks mid-word)."""
    return "\n".join(f"> {line}" if line.strip() else ">" for line in text.splitlines())


def human_size(size: int) -> str:
    """``1536`` → ``1.5 KB``."""
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / 1024 / 1024:.1f} MB"


def _b64_size(data: str) -> int:
    data = data.strip()
    return max(0, len(data) * 3 // 4 - data[-2:].count("="))


def _describe_source(kind: str, source: dict[str, Any]) -> str:
    stype = source.get("type")
    if stype == "base64":
        return f"{source.get('media_type', '?')} {kind}, {human_size(_b64_size(str(source.get('data', ''))))}"
    if stype == "text":
        return f"text/plain {kind}, {len(str(source.get('data', '')))} characters"
    if stype == "content":
        inner = source.get("content")
        count = len(inner) if isinstance(inner, list) else 1
        return f"content {kind} of {count} block{'s' * (count != 1)}"
    if stype == "url":
        return f"{kind} at {source.get('url')}"
    if stype == "file":
        return f"{kind} file {source.get('file_id')}"
    return kind


def attachments(body: dict[str, Any]) -> list[str]:
    """One line per image or document in the conversation, with media type and size."""
    found = []
    for message in body.get("messages") or []:
        for block in blocks_of(message.get("content")):
            if not isinstance(block, dict) or block.get("type") not in ("image", "document"):
                continue
            line = _describe_source(block["type"], block.get("source") or {})
            if block.get("title"):
                line += f', titled "{block["title"]}"'
            if (block.get("citations") or {}).get("enabled"):
                line += ", citations on"
            found.append(line)
    return found


def _system_line(system: Any) -> str | None:
    if not system:
        return None
    text = system if isinstance(system, str) else "\n".join(b.get("text", "") for b in system)
    short = " ".join(text.split())
    short = short if len(short) <= 100 else short[:97] + "..."
    return f'system prompt: "{short}" ({count_text(text)} tokens)'


def _roles_line(messages: list[dict[str, Any]]) -> str:
    counts: dict[str, int] = {}
    for message in messages:
        counts[message.get("role", "?")] = counts.get(message.get("role", "?"), 0) + 1
    detail = ", ".join(f"{n} {role}" for role, n in counts.items())
    return f"conversation: {len(messages)} message{'s' * (len(messages) != 1)} ({detail})"


def _tools_line(body: dict[str, Any]) -> str | None:
    tools = body.get("tools") or []
    if not tools:
        return None
    names = ", ".join(f"`{t.get('name') or t.get('type')}`" for t in tools)
    choice = body.get("tool_choice")
    return f"tools: {names}" + (f" (tool_choice {json.dumps(choice)})" if choice else "")


def summary_lines(body: dict[str, Any]) -> list[str]:
    """Bullet lines describing what the request asked for: model, system, parameters, attachments, tools."""
    lines = [f"model: `{body.get('model')}`", _roles_line(body.get("messages") or [])]
    lines.append(_system_line(body.get("system")) or "system prompt: none")
    params = [f"{k}={json.dumps(body[k])}" for k in _PARAMS if body.get(k) is not None]
    lines.append("parameters: " + (", ".join(params) or "defaults"))
    if body.get("stop_sequences"):
        # never repeat them verbatim: the answer would stop on its own summary
        count = len(body["stop_sequences"])
        lines.append(f"stop sequences: {count} given (not repeated here, or the answer would stop on them)")
    lines += [f"attachment: {a}" for a in attachments(body)]
    optional = [
        _tools_line(body),
        f"thinking: {json.dumps(body['thinking'])}" if body.get("thinking") else None,
        f"output_config: {json.dumps(body['output_config'])}" if body.get("output_config") else None,
        f"metadata: {json.dumps(body['metadata'])}" if body.get("metadata") else None,
        "automatic prompt caching on" if body.get("cache_control") else None,
    ]
    return lines + [line for line in optional if line]


def markdown_answer(body: dict[str, Any]) -> str:
    """The plain answer: who answers, the last user message quoted in full, and the request summary."""
    message = last_user(body)
    text = text_of(message.get("content"))
    quoted = blockquote(text) if text else "_(your last message has no text)_"
    bullets = "\n".join(f"- {line}" for line in summary_lines(body))
    return (
        f"This is the **nbmessages offline model** answering as `{body.get('model')}` "
        "(deterministic, no network). You wrote:\n\n"
        f"{quoted}\n\n**What the request asked for**\n\n{bullets}\n"
    )
