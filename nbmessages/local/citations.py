"""Cited answer blocks for documents sent with ``citations: {"enabled": true}``."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from .describe import blocks_of

_SENTENCE = re.compile(r"[^.!?\n]+[.!?]*")
_WORDS = re.compile(r"\w{3,}")
_PDF_TEXT = re.compile(rb"\(((?:\\.|[^\\)])*)\)\s*Tj")


def documents(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Every document block of the conversation, in order (their position is the ``document_index``)."""
    found = []
    for message in body.get("messages") or []:
        for block in blocks_of(message.get("content")):
            if isinstance(block, dict) and block.get("type") == "document":
                found.append(block)
    return found


def best_span(spans: list[tuple[int, int, str]], question: str) -> tuple[int, int, str]:
    """The span sharing most words with ``question`` (the earliest on a tie); ``(0, 0, "")`` if none."""
    if not spans:
        return (0, 0, "")
    wanted = {w.lower() for w in _WORDS.findall(question)}

    def score(i: int) -> tuple[int, int]:  # most shared words wins, the earliest on a tie
        return len(wanted & {w.lower() for w in _WORDS.findall(spans[i][2])}), -i

    return spans[max(range(len(spans)), key=score)]


def _sentences(text: str) -> list[tuple[int, int, str]]:
    spans = []
    for match in _SENTENCE.finditer(text):
        start = match.start() + len(match.group()) - len(match.group().lstrip())
        if match.group().strip():
            spans.append((start, match.end(), text[start : match.end()]))
    return spans


def pdf_text(data: str) -> str:
    """Text drawn with ``Tj`` in an uncompressed base64 PDF (empty when there is none)."""
    try:
        raw = base64.b64decode(data, validate=False)
    except (binascii.Error, ValueError):
        return ""
    parts = [re.sub(rb"\\(.)", rb"\1", m.group(1)).decode("latin-1") for m in _PDF_TEXT.finditer(raw)]
    return " ".join(parts)


def citation_for(index: int, document: dict[str, Any], question: str) -> dict[str, Any]:
    """The citation of the passage of ``document`` closest to ``question``, in the shape its source calls for."""
    source = document.get("source") or {}
    base = {"document_index": index, "document_title": document.get("title")}
    if source.get("type") == "text":
        start, end, text = best_span(_sentences(str(source.get("data", ""))), question)
        return {"type": "char_location", "cited_text": text, **base, "start_char_index": start,
                "end_char_index": end, "file_id": None}
    if source.get("type") == "content":
        content = source.get("content")
        texts = [b.get("text", "") if isinstance(b, dict) else "" for b in blocks_of(content)]
        spans = [(i, i + 1, t) for i, t in enumerate(texts)]
        start, end, text = best_span(spans, question)
        return {"type": "content_block_location", "cited_text": text, **base, "start_block_index": start,
                "end_block_index": end, "file_id": None}
    text = pdf_text(str(source.get("data", ""))) if source.get("type") == "base64" else ""
    sentence = best_span(_sentences(text), question)[2] if text else ""
    return {"type": "page_location", "cited_text": sentence, **base, "start_page_number": 1,
            "end_page_number": 2, "file_id": None}


def cited_blocks(body: dict[str, Any], question: str) -> list[dict[str, Any]]:
    """Text blocks quoting each citable document, each carrying one citation (empty if none is citable)."""
    blocks = []
    for index, document in enumerate(documents(body)):
        if not (document.get("citations") or {}).get("enabled"):
            continue
        citation = citation_for(index, document, question)
        name = document.get("title") or f"document {index + 1}"
        shown = citation["cited_text"].strip() or "(this page)"
        blocks.append({"type": "text", "text": f"- {name}: {shown}\n", "citations": [citation]})
    if blocks:
        intro: dict[str, Any] = {"type": "text", "text": "Here is what the attached documents say:\n\n",
                                 "citations": None}
        blocks.insert(0, intro)
    return blocks
