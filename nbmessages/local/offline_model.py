"""The deterministic offline model: its answer follows the request and exercises the whole protocol."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from . import ids
from .citations import cited_blocks
from .describe import blocks_of, last_user, markdown_answer, quote, text_of
from .schema_values import PromptHints, value_for
from .search_results import cited_results
from .server_tools import counted_text, requested, usage_counts, web_blocks
from .tokens import TOOL_BLOCK_OVERHEAD, count_text, cut_text

CALLS = ("tool_use", "server_tool_use")  # blocks whose output tokens include the tool-call overhead


@dataclass
class Draft:
    """A block being generated; ``counted`` is the text its tokens are counted on (and cut from)."""

    block: dict[str, Any]
    counted: str


@dataclass
class Reply:
    """The generated content and how it stopped."""

    content: list[dict[str, Any]]
    stop_reason: str
    stop_sequence: str | None = None
    output_tokens: int = 0
    thinking_tokens: int = 0
    server_tool_use: dict[str, int] | None = None


def respond(body: dict[str, Any]) -> Reply:
    """The offline model's answer to a validated request body (same body, same answer)."""
    seed = ids.answer_seed(body)
    drafts = _thinking(body, seed) + _answer(body, seed)
    reply = _limit(drafts, body.get("max_tokens"), body.get("stop_sequences") or [])
    reply.server_tool_use = usage_counts(reply.content)
    return reply


def _custom_tools(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [t for t in body.get("tools") or [] if "input_schema" in t]


def _tool_results(body: dict[str, Any]) -> list[dict[str, Any]]:
    content = last_user(body).get("content")
    return [b for b in blocks_of(content) if isinstance(b, dict) and b.get("type") == "tool_result"]


def _plan(body: dict[str, Any]) -> str:
    choice = (body.get("tool_choice") or {}).get("type", "auto")
    if _custom_tools(body) and choice != "none" and not _tool_results(body):
        return "tools"
    if ((body.get("output_config") or {}).get("format") or {}).get("type") == "json_schema":
        return "json"
    if _tool_results(body):
        return "after_tools"
    if choice != "none" and requested(body, _prompt(body)):
        return "web"
    if cited_blocks(body, ""):
        return "cited"
    return "results" if cited_results(body, "") else "markdown"


def _prompt(body: dict[str, Any]) -> str:
    return text_of(last_user(body).get("content"))


_PLAN_WORDS = {
    "tools": "Tools are available and no result came back yet, so I will call the tools the message names.",
    "json": "A JSON schema was given, so I will answer with a JSON document that satisfies it.",
    "after_tools": "A tool result came back, so I will report it.",
    "cited": "Documents with citations are attached, so I will quote them and cite each passage.",
    "web": "The message asks for the web and server tools are available, so I will use them and cite what they "
           "return.",
    "results": "Search results with citations are attached, so I will quote them and cite each one.",
    "markdown": "I will quote the message in full and summarise what the request asked for.",
}


def _thinking(body: dict[str, Any], seed: str) -> list[Draft]:
    thinking = body.get("thinking") or {}
    if thinking.get("type") not in ("enabled", "adaptive"):
        return []
    words = count_text(text_of(last_user(body).get("content")))
    count = len(body.get("messages") or [])
    text = (
        f"Let me look at the request. It has {count} message{'s' * (count != 1)}; the last user message has "
        f"{words} tokens. {_PLAN_WORDS[_plan(body)]}"
    )
    shown = "" if thinking.get("display") == "omitted" else text
    block = {"type": "thinking", "thinking": shown, "signature": ids.signature(seed)}
    return [Draft(block, text)]


def _text(text: str, citations: list[dict[str, Any]] | None = None) -> Draft:
    return Draft({"type": "text", "text": text, "citations": citations}, text)


def _answer(body: dict[str, Any], seed: str) -> list[Draft]:
    plan = _plan(body)
    if plan == "tools":
        return _tool_calls(body, seed)
    if plan == "json":
        schema = body["output_config"]["format"]["schema"]
        hints = PromptHints.from_text(text_of(last_user(body).get("content")))
        return [_text(json.dumps(value_for(schema, hints), ensure_ascii=False))]
    if plan == "after_tools":
        cited = [Draft(b, b["text"]) for b in cited_results(body, _prompt(body))]
        return [*cited, _text(("\n" if cited else "") + _after_tools(body))]
    if plan in ("web", "cited", "results"):
        return _cited_answer(body, seed, plan)
    return [_text(markdown_answer(body))]


def _cited_answer(body: dict[str, Any], seed: str, plan: str) -> list[Draft]:
    """Server tool calls (plan ``web``), then cited documents and search results, then the plain answer."""
    question = _prompt(body)
    web = web_blocks(body, question, seed) if plan == "web" else []
    documents = cited_blocks(body, question)
    blocks = web + documents + cited_results(body, question, "\n" if web or documents else "")
    return [*(Draft(b, counted_text(b)) for b in blocks), _text("\n" + markdown_answer(body))]


def _chosen_tools(body: dict[str, Any]) -> list[dict[str, Any]]:
    tools = _custom_tools(body)
    choice = body.get("tool_choice") or {}
    if choice.get("type") == "tool":
        return [t for t in tools if t["name"] == choice.get("name")][:1]
    prompt = text_of(last_user(body).get("content")).lower()
    places = {t["name"]: _mention(prompt, t["name"].lower()) for t in tools}
    mentioned = sorted((t for t in tools if places[t["name"]] >= 0), key=lambda t: places[t["name"]])
    chosen = mentioned or tools[:1]
    return chosen[:1] if choice.get("disable_parallel_tool_use") else chosen


def _mention(prompt: str, name: str) -> int:
    """Where the prompt first names a tool (``get_weather`` or ``get weather``), -1 if it does not."""
    places = [p for p in (prompt.find(name), prompt.find(name.replace("_", " "))) if p >= 0]
    return min(places, default=-1)


def _tool_calls(body: dict[str, Any], seed: str) -> list[Draft]:
    tools = _chosen_tools(body)
    prompt = text_of(last_user(body).get("content"))
    hints = PromptHints.from_text(prompt, exclude=tuple(t["name"] for t in _custom_tools(body)))
    names = " and ".join(f"`{t['name']}`" for t in tools)
    drafts = [_text(f"I'll call {names} with arguments taken from your message.")]
    for i, tool in enumerate(tools):
        arguments = value_for(tool["input_schema"], hints)
        block = {"type": "tool_use", "id": ids.derived_id("toolu", seed, i), "name": tool["name"], "input": arguments}
        drafts.append(Draft(block, tool["name"] + " " + json.dumps(arguments, sort_keys=True, ensure_ascii=False)))
    return drafts


def _tool_names(body: dict[str, Any]) -> dict[str, str]:
    names: dict[str, str] = {}
    for message in body.get("messages") or []:
        for block in blocks_of(message.get("content")):
            if isinstance(block, dict) and block.get("type") == "tool_use":
                names[str(block.get("id"))] = str(block.get("name"))
    return names


def _result_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    parts = [b.get("text", "") if b.get("type") == "text" else f"[{b.get('type')}]" for b in content]
    return "\n".join(parts)


def _after_tools(body: dict[str, Any]) -> str:
    names = _tool_names(body)
    parts = []
    for result in _tool_results(body):
        use_id = str(result.get("tool_use_id"))
        name = names.get(use_id, use_id)
        verb = "reported an error" if result.get("is_error") else "returned"
        parts.append(f"The tool `{name}` {verb}:\n\n{quote(_result_text(result.get('content')))}")
    return "\n\n".join(parts) + "\n\nThat is what the tool call gave; the offline model reports it as it came.\n"


def _first_stop(text: str, stops: list[str]) -> tuple[int, str] | None:
    found = [(text.find(s), s) for s in stops if s and s in text]
    return min(found) if found else None


def _limit(drafts: list[Draft], max_tokens: int | None, stops: list[str]) -> Reply:
    """Apply stop sequences (on text) and the max_tokens budget, in generation order."""
    budget = max_tokens if max_tokens is not None else 1 << 30
    content: list[dict[str, Any]] = []
    used = thinking_used = 0
    for draft in drafts:
        block, counted, stop = dict(draft.block), draft.counted, None
        if block["type"] == "text":
            stop = _first_stop(counted, stops)
            if stop is not None:
                counted = block["text"] = counted[: stop[0]]
        tokens = count_text(counted) + (TOOL_BLOCK_OVERHEAD if block["type"] in CALLS else 0)
        if used + tokens > budget:
            return _cut(content, block, counted, budget - used, used, thinking_used)
        used += tokens
        thinking_used += tokens if block["type"] == "thinking" else 0
        if block["type"] != "text" or block["text"]:
            content.append(block)
        if stop is not None:
            return Reply(content, "stop_sequence", stop[1], used, thinking_used)
    reason = "tool_use" if any(b["type"] == "tool_use" for b in content) else "end_turn"
    return Reply(content, reason, None, used, thinking_used)


def _cut(content: list[dict[str, Any]], block: dict[str, Any], counted: str, room: int, used: int,
         thinking_used: int) -> Reply:
    """The reply when ``block`` does not fit: text and thinking are cut to the room left, a tool call dropped."""
    if block["type"] in ("text", "thinking") and room > 0:
        kept = cut_text(counted, room)
        if block["type"] == "text":
            block["text"] = kept
        elif block["thinking"]:
            block["thinking"] = kept
        content.append(block)
        used += count_text(kept)
        thinking_used += count_text(kept) if block["type"] == "thinking" else 0
    return Reply(content, "max_tokens", None, used, thinking_used)
