"""The offline model's server tools (web search, web fetch) and cited search_result blocks, over loopback HTTP."""

from __future__ import annotations

import anthropic
import pytest
from anthropic.types import Message
from local_fixtures import accumulate, body, sse_events, stream

import nbmessages
from nbmessages.ledger.store import Ledger

SEARCH = {"type": "web_search_20250305", "name": "web_search"}
FETCH = {"type": "web_fetch_20250910", "name": "web_fetch"}
OR_SEARCH = {"type": "openrouter:web_search", "parameters": {"max_results": 3}}
ASK_SEARCH = "Search the web for the tallest tree, please."
ASK_FETCH = "Read https://docs.example.org/intro and https://example.com/b."
FACTS = {"type": "search_result", "source": "https://example.com/trees", "title": "Trees",
         "content": [{"type": "text", "text": "Oaks live long."}, {"type": "text", "text": "Redwoods grow tall."}],
         "citations": {"enabled": True}}


def create(http, payload, path="/v1/messages"):
    response = http.post(path, json=payload)
    assert response.status_code == 200, response.text
    return response.json()


def both(http, payload, path="/v1/messages"):
    """The plain answer, after checking the stream rebuilds exactly the same message."""
    message = create(http, payload, path)
    rebuilt = accumulate(sse_events(stream(http, payload, path).text))
    unpriced = {k: v for k, v in message["usage"].items() if k not in ("cost", "cost_details", "is_byok")}
    assert rebuilt == {**message, "usage": unpriced}  # OpenRouter prices only the whole message
    return message


def types(message):
    return [b["type"] for b in message["content"]]


def hosts(urls):
    return {u.split("/")[2] for u in urls}


def test_web_search_answers_like_the_api(http):
    message = both(http, body(ASK_SEARCH, tools=[SEARCH]))
    assert types(message)[:4] == ["text", "server_tool_use", "web_search_tool_result", "text"]
    call, result = message["content"][1], message["content"][2]
    assert call["id"].startswith("srvtoolu_01") and call["name"] == "web_search"
    assert call["input"] == {"query": "the tallest tree"} and result["tool_use_id"] == call["id"]
    results = result["content"]
    assert len(results) == 3 and hosts(r["url"] for r in results) <= {"example.com", "example.org",
                                                                       "docs.example.com"}
    assert all(set(r) == {"type", "url", "title", "encrypted_content", "page_age"} for r in results)
    cited = [c for b in message["content"] if b["type"] == "text" for c in b["citations"] or []]
    assert [c["url"] for c in cited] == [r["url"] for r in results]
    assert all(c["type"] == "web_search_result_location" and c["encrypted_index"] and c["cited_text"]
               for c in cited)
    assert message["stop_reason"] == "end_turn"
    assert message["usage"]["server_tool_use"] == {"web_search_requests": 1, "web_fetch_requests": 0}
    assert create(http, body(ASK_SEARCH, tools=[SEARCH])) == message  # same body, same answer


def test_stream_shape_of_server_tool_blocks(http):
    events = sse_events(stream(http, body(ASK_SEARCH, tools=[SEARCH])).text)
    starts = {e["index"]: e["content_block"] for e in events if e["type"] == "content_block_start"}
    deltas = {}
    for e in events:
        if e["type"] == "content_block_delta":
            deltas.setdefault(e["index"], []).append(e["delta"])
    assert starts[1]["type"] == "server_tool_use" and starts[1]["input"] == {}
    assert {d["type"] for d in deltas[1]} == {"input_json_delta"} and deltas[1][0]["partial_json"] == ""
    assert starts[2]["type"] == "web_search_tool_result" and len(starts[2]["content"]) == 3
    assert 2 not in deltas  # a result block arrives complete
    citing = [i for i, d in deltas.items() if any(x["type"] == "citations_delta" for x in d)]
    assert len(citing) == 3
    (delta,) = [e for e in events if e["type"] == "message_delta"]
    assert delta["usage"]["server_tool_use"] == {"web_search_requests": 1, "web_fetch_requests": 0}
    start = next(e for e in events if e["type"] == "message_start")
    assert start["message"]["usage"]["server_tool_use"] is None


def test_max_uses_zero_is_an_error_result(http):
    message = both(http, body(ASK_SEARCH, tools=[{**SEARCH, "max_uses": 0}]))
    result = message["content"][2]
    assert result["content"] == {"type": "web_search_tool_result_error", "error_code": "max_uses_exceeded"}
    assert message["usage"]["server_tool_use"] == {"web_search_requests": 0, "web_fetch_requests": 0}
    assert message["stop_reason"] == "end_turn"


@pytest.mark.parametrize(("limits", "expected"), [
    ({"allowed_domains": ["example.org"]}, {"example.org"}),
    ({"blocked_domains": ["example.com"]}, {"example.org"}),
    ({"allowed_domains": ["nowhere.test"]}, set()),
])
def test_domain_lists_filter_results(http, limits, expected):
    message = create(http, body(ASK_SEARCH, tools=[{**SEARCH, **limits}]))
    assert hosts(r["url"] for r in message["content"][2]["content"]) == expected
    assert message["usage"]["server_tool_use"]["web_search_requests"] == 1


def test_web_fetch_returns_a_plain_text_document(http):
    message = both(http, body(ASK_FETCH, tools=[{**FETCH, "max_uses": 1}]))
    calls = [b for b in message["content"] if b["type"] == "server_tool_use"]
    assert [c["input"] for c in calls] == [{"url": "https://docs.example.org/intro"}, {"url": "https://example.com/b"}]
    ok, over = [b["content"] for b in message["content"] if b["type"] == "web_fetch_tool_result"]
    assert ok["type"] == "web_fetch_result" and ok["url"] == "https://docs.example.org/intro"
    assert ok["content"]["type"] == "document" and ok["content"]["source"]["media_type"] == "text/plain"
    assert "https://docs.example.org/intro" in ok["content"]["source"]["data"]
    assert over == {"type": "web_fetch_tool_result_error", "error_code": "max_uses_exceeded"}
    assert message["usage"]["server_tool_use"] == {"web_search_requests": 0, "web_fetch_requests": 1}


def test_fetch_outside_allowed_domains_is_refused(http):
    prompt = "Fetch https://example.net/page and http://[broken/x"
    message = create(http, body(prompt, tools=[{**FETCH, "allowed_domains": ["example.com"]}]))
    results = [b["content"] for b in message["content"] if b["type"] == "web_fetch_tool_result"]
    assert [r["error_code"] for r in results] == ["url_not_allowed", "url_not_allowed"]


def test_search_and_fetch_together_count_both(http):
    message = create(http, body(ASK_SEARCH + " " + ASK_FETCH, tools=[SEARCH, FETCH]))
    assert [b["name"] for b in message["content"] if b["type"] == "server_tool_use"] == [
        "web_search", "web_fetch", "web_fetch"]
    assert message["usage"]["server_tool_use"] == {"web_search_requests": 1, "web_fetch_requests": 2}


def test_openrouter_web_search_tool(http):
    payload = body(ASK_SEARCH, model="anthropic/claude-sonnet-4.6", tools=[OR_SEARCH])
    message = both(http, payload, "/api/v1/messages")
    assert message["content"][1]["name"] == "web_search" and message["provider"] == "Anthropic"
    assert message["usage"]["server_tool_use"] == {"web_search_requests": 1, "web_fetch_requests": 0}


@pytest.mark.parametrize("payload", [
    body("Tell me about trees.", tools=[SEARCH]),  # the message does not ask for the web
    body(ASK_SEARCH, tools=[SEARCH], tool_choice={"type": "none"}),
    body("See https://example.com/x", tools=[SEARCH]),  # a URL asks for fetch, not search
])
def test_server_tools_only_when_asked(http, payload):
    message = create(http, payload)
    assert types(message) == ["text"] and message["usage"]["server_tool_use"] is None


def test_max_tokens_never_leaves_a_result_without_its_call(http):
    message = create(http, body(ASK_SEARCH, tools=[SEARCH], max_tokens=12))
    assert types(message) == ["text"] and message["stop_reason"] == "max_tokens"
    assert message["usage"]["server_tool_use"] is None


def test_search_results_in_user_content_are_cited(http):
    plain = {**FACTS, "citations": {"enabled": False}}
    content = [plain, FACTS, {"type": "text", "text": "Which trees grow tall?"}]
    message = both(http, body(content))
    (citation,) = [c for b in message["content"] for c in b["citations"] or []]
    assert citation == {"type": "search_result_location", "cited_text": "Redwoods grow tall.",
                        "search_result_index": 1, "source": "https://example.com/trees", "title": "Trees",
                        "start_block_index": 1, "end_block_index": 2}
    events = sse_events(stream(http, body(content)).text)
    assert any(e["type"] == "content_block_delta" and e["delta"]["type"] == "citations_delta" for e in events)


def test_search_results_inside_a_tool_result_are_cited(http):
    tool = {"name": "lookup", "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}}}
    messages = [
        {"role": "user", "content": "Use lookup for oaks"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"q": "oaks"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": [FACTS]}]},
    ]
    message = both(http, {"model": "m", "max_tokens": 2000, "tools": [tool], "messages": messages})
    cited = [c for b in message["content"] for c in b["citations"] or []]
    assert [c["search_result_index"] for c in cited] == [0] and cited[0]["start_block_index"] == 0
    assert "The tool `lookup` returned" in message["content"][-1]["text"] and message["stop_reason"] == "end_turn"


@pytest.fixture(scope="module")
def sdk(server):
    return anthropic.Anthropic(api_key="test", base_url=server.base_url, max_retries=0)


@pytest.mark.parametrize(("kw", "cited"), [
    ({"tools": [SEARCH], "messages": [{"role": "user", "content": ASK_SEARCH}]}, "CitationsWebSearchResultLocation"),
    ({"tools": [SEARCH], "messages": [{"role": "user", "content": ASK_SEARCH}], "thinking": {"type": "adaptive"}},
     "CitationsWebSearchResultLocation"),
    ({"tools": [{**SEARCH, "max_uses": 0}, FETCH], "messages": [{"role": "user", "content": ASK_SEARCH + ASK_FETCH}]},
     None),
    ({"messages": [{"role": "user", "content": [FACTS, {"type": "text", "text": "tall?"}]}]},
     "CitationsSearchResultLocation"),
], ids=["search", "thinking", "errors-and-fetch", "search-results"])
def test_the_sdk_parses_them_with_its_own_types(sdk, kw, cited):
    whole = sdk.messages.create(model="claude-sonnet-4-6", max_tokens=3000, **kw)
    with sdk.messages.stream(model="claude-sonnet-4-6", max_tokens=3000, **kw) as live:
        final = live.get_final_message()
    assert isinstance(whole, Message) and final.model_dump() == whole.model_dump()
    Message.model_validate(whole.model_dump())
    known = {"text", "thinking", "server_tool_use", "web_search_tool_result", "web_fetch_tool_result"}
    assert {type(b).__name__ for b in whole.content} <= {
        "TextBlock", "ThinkingBlock", "ServerToolUseBlock", "WebSearchToolResultBlock", "WebFetchToolResultBlock"}
    assert {b.type for b in whole.content} <= known
    citations = {type(c).__name__ for b in whole.content if b.type == "text" for c in b.citations or []}
    assert citations == ({cited} if cited else set())


def test_nbmessages_client_records_server_tool_use_in_the_ledger(server, tmp_path):
    path = tmp_path / "l.sqlite"
    with nbmessages.Client(base_url=server.base_url, ledger=path) as client:
        message = client.messages.create(model="claude-sonnet-4-6", max_tokens=2000, tools=[SEARCH, FETCH],
                                         messages=ASK_SEARCH + " " + ASK_FETCH)
    assert message.usage.server_tool_use.web_search_requests == 1
    (row,) = Ledger(path).rows()
    assert row["web_search_requests"] == 1 and row["web_fetch_requests"] == 2
