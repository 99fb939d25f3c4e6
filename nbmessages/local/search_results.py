"""Cited answer blocks for ``search_result`` blocks sent with ``citations: {"enabled": true}``."""

from __future__ import annotations

from typing import Any

from .citations import best_span
from .describe import blocks_of

INTRO = "Here is what the search results say:\n\n"


def _inner(block: dict[str, Any]) -> list[Any]:
    """The blocks inside a block: a ``tool_result``'s list content, else none."""
    content = block.get("content") if block.get("type") == "tool_result" else None
    return content if isinstance(content, list) else []


def search_results(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Every search_result block, in messages and tool results, in order (its position is the index)."""
    found = []
    for message in body.get("messages") or []:
        for block in blocks_of(message.get("content")):
            if not isinstance(block, dict):
                continue
            for candidate in [block, *_inner(block)]:
                if isinstance(candidate, dict) and candidate.get("type") == "search_result":
                    found.append(candidate)
    return found


def result_citation(index: int, result: dict[str, Any], question: str) -> dict[str, Any]:
    """The ``search_result_location`` of the content block of ``result`` closest to ``question``."""
    texts = [b.get("text", "") if isinstance(b, dict) else "" for b in result.get("content") or []]
    start, end, text = best_span([(i, i + 1, t) for i, t in enumerate(texts)], question)
    return {"type": "search_result_location", "cited_text": text, "search_result_index": index,
            "source": result.get("source"), "title": result.get("title"), "start_block_index": start,
            "end_block_index": end}


def cited_results(body: dict[str, Any], question: str, lead: str = "") -> list[dict[str, Any]]:
    """Text blocks quoting each citable search result, one citation each (empty if none is citable)."""
    blocks = []
    for index, result in enumerate(search_results(body)):
        if not (result.get("citations") or {}).get("enabled") or not result.get("content"):
            continue
        citation = result_citation(index, result, question)
        shown = citation["cited_text"].strip() or "(no text)"
        blocks.append({"type": "text", "text": f"- {result.get('title') or result.get('source')}: {shown}\n",
                       "citations": [citation]})
    if blocks:
        intro: dict[str, Any] = {"type": "text", "text": lead + INTRO, "citations": None}
        blocks.insert(0, intro)
    return blocks
