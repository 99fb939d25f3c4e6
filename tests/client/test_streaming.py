"""SSE parsing and stream errors, over in-memory transports (these tests are about parsing)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from nbmessages import AsyncClient, Client
from nbmessages.client.errors import IncompleteStreamError, MalformedStreamError, StreamEventError
from nbmessages.testing import message_events, mock_transport, sse
from nbmessages.types.events import ContentBlockDeltaEvent, MessageStartEvent, PingEvent

BLOCKS = [
    {"type": "thinking", "thinking": "Considering.", "signature": "sig"},
    {"type": "text", "text": "The answer is 42, of course."},
    {"type": "tool_use", "id": "toolu_1", "name": "calc", "input": {"expr": "6*7"}},
]


def client_for(body: bytes, **kw) -> Client:
    transport = mock_transport(body, **kw)
    return Client(api_key="k", base_url="http://test", http_client=httpx.Client(transport=transport),
                  max_retries=0, ledger=False)


def stream(body: bytes):
    return client_for(body).messages.stream(model="m", max_tokens=100, messages="hi")


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
@pytest.mark.parametrize("split_data", [False, True])
def test_every_event_type_with_crlf_and_multiline_data(newline, split_data):
    body = sse(message_events(BLOCKS, stop_reason="tool_use"), newline=newline, split_data=split_data)
    with stream(body) as s:
        events = list(s)
    assert isinstance(events[0], MessageStartEvent)
    assert any(isinstance(e, ContentBlockDeltaEvent) for e in events)
    message = s.get_final_message()
    assert [b.type for b in message.content] == ["thinking", "text", "tool_use"]
    assert message.content[2].input == {"expr": "6*7"}
    assert message.stop_reason == "tool_use"


def test_pings_comments_done_and_unknown_events_are_tolerated():
    events = message_events([{"type": "text", "text": "fine"}])
    body = b": OPENROUTER PROCESSING\n\n" + sse([{"type": "ping"}, events[0], {"type": "ping"},
                                                 {"type": "future_event", "x": 1}, *events[1:]])
    body += b"data: [DONE]\n\n"
    with stream(body) as s:
        kinds = [type(e).__name__ for e in s]
    assert "PingEvent" in kinds and "UnknownEvent" in kinds
    assert s.get_final_message().text == "fine"


def test_text_stream_and_snapshot_mid_stream():
    body = sse(message_events([{"type": "text", "text": "Hello streaming world"}]))
    pieces, snapshots = [], []
    with stream(body) as s:
        for text in s.text_stream:
            pieces.append(text)
            snapshots.append(s.current_message_snapshot.text)
    assert "".join(pieces) == "Hello streaming world"
    assert snapshots[0] == pieces[0] and snapshots[-1] == "Hello streaming world"


def test_error_event_raises_with_partial_message():
    events = message_events([{"type": "text", "text": "Once upon a time"}])[:4]
    events.append({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    with pytest.raises(StreamEventError) as info, stream(sse(events)) as s:
        s.get_final_message()
    err = info.value
    assert err.error_type == "overloaded_error" and "Overloaded" in str(err)
    assert err.partial_message.text == "Once upon a"[: len(err.partial_message.text)]
    assert err.partial_message.text.startswith("Once")


def test_malformed_json_raises_with_partial_message():
    events = message_events([{"type": "text", "text": "Partial answer here"}])
    body = sse(events[:4]) + b"event: content_block_delta\ndata: {not json\n\n" + sse(events[4:])
    with pytest.raises(MalformedStreamError) as info, stream(body) as s:
        s.get_final_message()
    assert info.value.partial_message.text.startswith("Parti")


def test_stream_without_message_stop_is_an_error_not_a_short_answer():
    events = message_events([{"type": "text", "text": "Cut off mid sentence"}])[:-3]
    with pytest.raises(IncompleteStreamError) as info, stream(sse(events)) as s:
        s.get_final_message()
    assert info.value.partial_message.text.startswith("Cut off")


def test_event_before_message_start_is_malformed():
    body = sse([{"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}])
    with pytest.raises(MalformedStreamError, match="before message_start"), stream(body) as s:
        s.get_final_message()


def test_non_sse_response_is_malformed():
    client = client_for(b'{"ok": true}', headers={"content-type": "application/json"})
    with pytest.raises(MalformedStreamError), client.messages.stream(model="m", max_tokens=5, messages="x") as s:
        s.get_final_message()


def test_async_stream():
    body = sse(message_events(BLOCKS, stop_reason="tool_use"))

    async def main():
        transport = httpx.MockTransport(lambda r: httpx.Response(200, content=body,
                                                                  headers={"content-type": "text/event-stream"}))
        client = AsyncClient(api_key="k", base_url="http://test", http_client=httpx.AsyncClient(transport=transport),
                             ledger=False)
        texts = []
        async with client.messages.stream(model="m", max_tokens=100, messages="hi") as s:
            async for text in s.text_stream:
                texts.append(text)
            message = await s.get_final_message()
        events = []
        async with client.messages.stream(model="m", max_tokens=100, messages="hi") as s2:
            async for event in s2:
                events.append(event)
        return "".join(texts), message, events

    text, message, events = asyncio.run(main())
    assert text == "The answer is 42, of course." and message.content[2].input == {"expr": "6*7"}
    assert not any(isinstance(e, PingEvent) for e in events[:1])


def _text_events(text: str = "Kept so far") -> list[dict]:
    return message_events([{"type": "text", "text": text}])


def _start(index: int, kind: str = "text") -> dict:
    block = {"type": "text", "text": ""} if kind == "text" else {"type": kind, "id": "t", "name": "f", "input": {}}
    return {"type": "content_block_start", "index": index, "content_block": block}


def _delta(index: int, text: str = "x") -> dict:
    return {"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": text}}


BROKEN = {  # name: the events after a complete first text block (index 0, "Kept so far", stopped)
    "delta for a block never started": [_delta(1)],
    "gap in block indices": [_start(2)],
    "index reused": [_start(0)],
    "huge index": [_start(10_000_000)],
    "string index": [{**_start(1), "index": "1"}],
    "second message_start": [message_events()[0]],
    "delta after content_block_stop": [_delta(0)],
    "signature after stop": [{"type": "content_block_delta", "index": 0,
                              "delta": {"type": "signature_delta", "signature": "s"}}],
    "stop of a block never started": [{"type": "content_block_stop", "index": 5}],
    "text delta into a tool block": [_start(1, "tool_use"), _delta(1)],
    "json delta into a text block": [_start(1), {"type": "content_block_delta", "index": 1,
                                                 "delta": {"type": "input_json_delta", "partial_json": "{"}}],
    "text that is not a string": [_start(1), _delta(1, 42)],  # type: ignore[arg-type]
    "usage of the wrong type": [{"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                                 "usage": {"input_tokens": "lots"}}],
    "delta that replaces content": [{"type": "message_delta", "delta": {"content": "gone"}}],
    "block that is not an object": [{"type": "content_block_start", "index": 1, "content_block": "text"}],
}


@pytest.mark.parametrize("name", list(BROKEN))
def test_protocol_breaks_are_malformed_and_keep_what_came(name):
    events = _text_events()
    body = sse([*events[:-2], *BROKEN[name], *events[-2:]])
    with pytest.raises(MalformedStreamError) as info, stream(body) as s:
        s.get_final_message()
    partial = info.value.partial_message
    assert partial.text == "Kept so far" and len(partial.content) <= 2  # nothing invented, nothing dropped
    assert all(b.type in ("text", "tool_use") for b in partial.content)


def test_wrong_types_in_message_start_are_malformed_not_a_validation_error():
    events = _text_events()
    events[0]["message"]["usage"]["input_tokens"] = "lots"
    with pytest.raises(MalformedStreamError, match="input_tokens") as info, stream(sse(events)) as s:
        s.get_final_message()
    assert info.value.partial_message.content == []


def test_a_huge_block_index_costs_no_memory():
    import tracemalloc

    events = _text_events()
    tracemalloc.start()
    with pytest.raises(MalformedStreamError, match="10000000"), stream(sse([*events[:3], _start(10_000_000)])) as s:
        s.get_final_message()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 20_000_000
