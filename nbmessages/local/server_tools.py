"""Server tools (web search, web fetch) answered from a deterministic fake web of example.com pages.

Rule: with a ``web_search`` tool (Anthropic ``web_search_*`` or OpenRouter ``openrouter:web_search``) the
model searches once when the last user message, URLs left out, has the word ``search`` (or ``searches``,
``searching``…) or ``web``; with a ``web_fetch`` tool (``web_fetch_*`` or ``openrouter:web_fetch``) it
fetches each distinct ``http(s)://`` URL of that message, in order. ``max_uses`` and the domain lists apply.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from . import ids

SEARCH_WORDS = re.compile(r"\b(?:search\w*|web)\b", re.IGNORECASE)
URL = re.compile(r"https?://[^\s<>\"'`)\]]+")
_QUOTED = re.compile(r"\"([^\"\n]+)\"|“([^”\n]+)”")
_CLAUSE_END = re.compile(r"[?!;,\n]|\.(?:\s|$)")
_AFTER = re.compile(r"\b(?:search\w*|web)\b.*?\b(?:for|about)\s+(.+)", re.IGNORECASE | re.DOTALL)
MAX_QUERY_WORDS = 12
MAX_FETCHES = 5
SITES = (
    ("example.com", "wiki", "Example Wiki", "an overview written for the nbmessages offline web."),
    ("example.org", "news", "Example News", "the latest news, as far as an offline model knows."),
    ("docs.example.com", "guides", "Example Guides", "a step-by-step guide with worked examples."),
)


@dataclass(frozen=True)
class ServerTool:
    """One offered server tool: its kind (``web_search`` / ``web_fetch``), use limit and domain lists."""

    kind: str
    max_uses: int | None
    allowed: tuple[str, ...]
    blocked: tuple[str, ...]
    citations: bool = False

    def allows(self, url: str) -> bool:
        """Whether ``url``'s host passes ``allowed_domains`` / ``blocked_domains``."""
        host = host_of(url)
        if self.allowed and not any(_on(host, d) for d in self.allowed):
            return False
        return not any(_on(host, d) for d in self.blocked)


def host_of(url: str) -> str:
    """The lower-case host of ``url`` (empty when it has none or cannot be parsed)."""
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:  # e.g. a broken IPv6 literal
        return ""


def _on(host: str, domain: str) -> bool:
    domain = re.sub(r"^[a-z]+://", "", domain.lower()).split("/", 1)[0].removeprefix("www.")
    return bool(domain) and (host == domain or host.endswith("." + domain))


def _kind(tool: dict[str, Any]) -> str | None:
    kind, name = str(tool.get("type") or ""), tool.get("name")
    for wanted in ("web_search", "web_fetch"):
        if (kind.startswith(wanted + "_") and name == wanted) or kind == f"openrouter:{wanted}":
            return wanted
    return None


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _domains(value: Any) -> tuple[str, ...]:
    return tuple(str(d) for d in value) if isinstance(value, list) else ()


def offered(body: dict[str, Any]) -> dict[str, ServerTool]:
    """The web search and web fetch tools of the request, by kind (the first of each kind)."""
    found: dict[str, ServerTool] = {}
    for tool in body.get("tools") or []:
        kind = _kind(tool) if isinstance(tool, dict) else None
        if kind is None or kind in found:
            continue
        settings = (tool.get("parameters") or {}) if str(tool["type"]).startswith("openrouter:") else tool
        blocked = settings.get("blocked_domains") or settings.get("excluded_domains")
        found[kind] = ServerTool(kind, _count(settings.get("max_uses")), _domains(settings.get("allowed_domains")),
                                 _domains(blocked), bool((settings.get("citations") or {}).get("enabled")))
    return found


def search_query(text: str) -> str:
    """The query: the first quoted phrase, else the clause after ``search … for/about``, else the first clause."""
    quoted = _QUOTED.search(text)
    after = _AFTER.search(text)
    if quoted:
        query = next(g for g in quoted.groups() if g)
    else:
        query = _CLAUSE_END.split((after.group(1) if after else text).strip(), 1)[0]
    words = " ".join(query.split()).split(" ")[:MAX_QUERY_WORDS]
    return " ".join(words).strip(" ?.!:;,") or "nbmessages"


def requested(body: dict[str, Any], prompt: str) -> list[tuple[str, str]]:
    """The calls ``prompt`` asks of the offered tools: ``("web_search", query)`` then ``("web_fetch", url)``s."""
    tools = offered(body)
    words = URL.sub(" ", prompt)
    calls = []
    if "web_search" in tools and SEARCH_WORDS.search(words):
        calls.append(("web_search", search_query(words)))
    if "web_fetch" in tools:
        urls = list(dict.fromkeys(u.rstrip(".,;:!?") for u in URL.findall(prompt)))
        calls += [("web_fetch", url) for url in urls[:MAX_FETCHES]]
    return calls


def _text(text: str, citations: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"type": "text", "text": text, "citations": citations}


def fake_results(seed: str, query: str) -> list[dict[str, Any]]:
    """Three search results for ``query`` on example.com / example.org, each with its snippet text."""
    slug = "-".join(re.findall(r"\w+", query.lower()))[:60].strip("-") or "results"
    results = []
    for host, section, site, fact in SITES:
        url = f"https://{host}/{section}/{slug}"
        results.append({"type": "web_search_result", "url": url, "title": f"{query} - {site}",
                        "encrypted_content": ids.signature(seed, "web_search", url), "page_age": None,
                        "snippet": f"{query[:1].upper()}{query[1:]}: {fact}"})
    return results


def _search(seed: str, query: str, tool: ServerTool, use: int) -> list[dict[str, Any]]:
    """Blocks of one search: intro, server_tool_use, its result, and text citing each result."""
    call_id = ids.derived_id("srvtoolu", seed, "web_search", use)
    blocks = [_text(f'I\'ll search the web for "{query}".'),
              {"type": "server_tool_use", "id": call_id, "name": "web_search", "input": {"query": query}}]
    if tool.max_uses is not None and use >= tool.max_uses:
        error = {"type": "web_search_tool_result_error", "error_code": "max_uses_exceeded"}
        return blocks + [{"type": "web_search_tool_result", "tool_use_id": call_id, "content": error},
                         _text("The web search could not run (max_uses_exceeded), so there is nothing to cite.\n")]
    found = [r for r in fake_results(seed, query) if tool.allows(r["url"])]
    shown = [{k: v for k, v in r.items() if k != "snippet"} for r in found]
    blocks.append({"type": "web_search_tool_result", "tool_use_id": call_id, "content": shown})
    if not found:
        return blocks + [_text("The web search found nothing on the allowed domains.\n")]
    blocks.append(_text("Here is what the web search found:\n\n"))
    for result in found:
        citation = {"type": "web_search_result_location", "cited_text": result["snippet"], "url": result["url"],
                    "title": result["title"], "encrypted_index": ids.signature(seed, "index", result["url"])[:64]}
        blocks.append(_text(f"- {result['title']}: {result['snippet']}\n", [citation]))
    return blocks


def page_text(url: str) -> str:
    """The plain text every fetched page has: a stand-in naming its address."""
    return (f"Offline copy of {url}\n\nThe nbmessages offline model never reaches the network, so this page is a "
            "stand-in with the same text on every request.")


def _fetch(seed: str, url: str, tool: ServerTool, use: int) -> list[dict[str, Any]]:
    """Blocks of one fetch: intro, server_tool_use, its result (or error) and a short report."""
    call_id = ids.derived_id("srvtoolu", seed, "web_fetch", use)
    blocks = [_text(f"I'll fetch {url}."),
              {"type": "server_tool_use", "id": call_id, "name": "web_fetch", "input": {"url": url}}]
    code = "max_uses_exceeded" if tool.max_uses is not None and use >= tool.max_uses else None
    code = code or (None if tool.allows(url) else "url_not_allowed")
    if code is not None:
        error = {"type": "web_fetch_tool_result_error", "error_code": code}
        return blocks + [{"type": "web_fetch_tool_result", "tool_use_id": call_id, "content": error},
                         _text(f"Fetching {url} failed ({code}).\n")]
    document = {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": page_text(url)},
                "title": f"Offline copy of {host_of(url) or url}", "citations": {"enabled": tool.citations}}
    content = {"type": "web_fetch_result", "url": url, "retrieved_at": None, "content": document}
    return blocks + [{"type": "web_fetch_tool_result", "tool_use_id": call_id, "content": content},
                     _text(f"The page at {url} is an offline stand-in; it says the offline model never reaches "
                           "the network.\n")]


def web_blocks(body: dict[str, Any], prompt: str, seed: str) -> list[dict[str, Any]]:
    """Every block of the server tool calls ``prompt`` asks for (empty when it asks for none)."""
    tools, uses, blocks = offered(body), {"web_search": 0, "web_fetch": 0}, []
    for kind, argument in requested(body, prompt):
        call = _search if kind == "web_search" else _fetch
        blocks += call(seed, argument, tools[kind], uses[kind])
        uses[kind] += 1
    return blocks


def counted_text(block: dict[str, Any]) -> str:
    """The text a server-tool block's output tokens are counted on: the call's name and input, results none."""
    if block["type"] == "server_tool_use":
        return block["name"] + " " + json.dumps(block["input"], sort_keys=True, ensure_ascii=False)
    return block.get("text", "") if block["type"] == "text" else ""


def usage_counts(content: list[dict[str, Any]]) -> dict[str, int] | None:
    """``usage.server_tool_use``: searches and fetches that ran (errors excluded); None when none was called."""
    if not any(b["type"] == "server_tool_use" for b in content):
        return None
    searches = sum(1 for b in content if b["type"] == "web_search_tool_result" and isinstance(b["content"], list))
    fetches = sum(1 for b in content if b["type"] == "web_fetch_tool_result"
                  and b["content"].get("type") == "web_fetch_result")
    return {"web_search_requests": searches, "web_fetch_requests": fetches}
