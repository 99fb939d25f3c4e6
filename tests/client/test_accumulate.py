"""The accumulation step: one pure (snapshot, event) -> snapshot that every consumer reuses."""

from __future__ import annotations

from nbmessages.client.accumulate import Snapshot, accumulate
from nbmessages.testing import message_events


def run(events):
    snapshot = Snapshot()
    for event in events:
        snapshot = accumulate(snapshot, event)
    return snapshot


def test_blocks_of_every_kind_are_rebuilt():
    blocks = [
        {"type": "thinking", "thinking": "Let me think.", "signature": "sig-1"},
        {"type": "text", "text": "Paris is the capital of France."},
        {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"q": "café \u00e9", "n": [1, 2.5]}},
        {"type": "web_search_tool_result", "tool_use_id": "srv_1", "content": []},
    ]
    snapshot = run(message_events(blocks, stop_reason="tool_use"))
    message = snapshot.to_message()
    assert snapshot.done
    assert [b.to_dict() for b in message.content] == blocks
    assert message.stop_reason == "tool_use"


def test_deltas_are_keyed_by_index_not_by_last_block():
    events = message_events([{"type": "text", "text": "A"}, {"type": "text", "text": "B"}])
    start, rest = events[0], events[1:]
    # interleave: start both blocks, then deltas for block 0 after block 1 started
    reordered = [start, rest[0], rest[3], rest[1], rest[4], rest[2], rest[5], *rest[6:]]
    message = run(reordered).to_message()
    assert [b.text for b in message.content] == ["A", "B"]


def test_message_delta_usage_overwrites_and_keeps_nulls():
    events = message_events([{"type": "text", "text": "hi"}], usage={"cache_read_input_tokens": 50})
    events[-2]["usage"] = {"output_tokens": 42, "input_tokens": None, "cache_read_input_tokens": None}
    usage = run(events).to_message().usage
    assert (usage.input_tokens, usage.output_tokens, usage.cache_read_input_tokens) == (10, 42, 50)


def test_signature_replaced_and_citations_appended():
    snapshot = run(message_events()[:1])
    accumulate(snapshot, {"type": "content_block_start", "index": 0,
                          "content_block": {"type": "text", "text": "", "citations": None}})
    citation = {"type": "char_location", "cited_text": "x", "document_index": 0, "document_title": None,
                "start_char_index": 0, "end_char_index": 1}
    for _ in range(2):
        accumulate(snapshot, {"type": "content_block_delta", "index": 0,
                              "delta": {"type": "citations_delta", "citation": citation}})
    accumulate(snapshot, {"type": "content_block_stop", "index": 0})
    assert len(snapshot.to_message().content[0].citations) == 2


def test_message_so_far_is_readable_at_any_moment():
    events = message_events([{"type": "text", "text": "Hello there, world"},
                             {"type": "tool_use", "id": "t", "name": "f", "input": {"city": "Paris"}}])
    snapshot = Snapshot()
    seen = []
    for event in events:
        accumulate(snapshot, event)
        seen.append(snapshot.to_message().text)
    assert seen[-1] == "Hello there, world"
    assert "Hello" in seen[3] and len(seen[3]) < len(seen[-1])
    # the open tool block's input is available, parsed leniently, only when asked
    partial = Snapshot()
    for event in events[:-5]:
        accumulate(partial, event)
    assert partial.live_input(1) == {"city": "Paris"} or isinstance(partial.live_input(1), dict)


def test_invalid_tool_json_is_kept_raw_not_fatal():
    events = message_events([{"type": "tool_use", "id": "t", "name": "f", "input": {"a": 1}}], stop_reason="max_tokens")
    events = [e for e in events if not (e["type"] == "content_block_delta")]
    events.insert(2, {"type": "content_block_delta", "index": 0,
                      "delta": {"type": "input_json_delta", "partial_json": '{"a": '}})
    snapshot = run(events)
    assert snapshot.invalid_json == {0: '{"a": '}
    assert snapshot.to_message().content[0].input == {}


def test_unknown_events_and_deltas_are_ignored():
    events = message_events([{"type": "text", "text": "ok"}])
    events.insert(2, {"type": "telemetry", "x": 1})
    events.insert(3, {"type": "content_block_delta", "index": 0, "delta": {"type": "sparkle_delta"}})
    assert run(events).to_message().text == "ok"


def test_text_pieces_are_joined_once_when_read():
    snapshot = run(message_events()[:1])
    accumulate(snapshot, {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})
    for _ in range(1000):
        accumulate(snapshot, {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "ab"}})
    assert len(snapshot.pieces[0]) == 1001
    assert len(snapshot.to_message().text) == 2000
    assert len(snapshot.pieces[0]) == 1  # joined, so the next read does not redo the work


def test_output_tokens_are_counted_while_streaming_and_the_servers_count_replaces_them():
    text = "Streaming answers arrive piece by piece, and so do their tokens."
    events = message_events([{"type": "text", "text": text}])  # 5-character deltas: words split across them
    snapshot, seen = Snapshot(), []
    for event in events:
        accumulate(snapshot, event)
        if event["type"] == "content_block_delta":
            seen.append(snapshot.message["usage"]["output_tokens"])
    assert seen == sorted(seen) and seen[-1] == 13 and len(set(seen)) > 5  # 11 words, a comma and a period
    assert snapshot.message["usage"]["output_tokens"] == 20 and not snapshot.output_counted  # message_delta's


def test_a_partial_stream_keeps_the_clients_count_marked_as_counted():
    events = message_events([{"type": "thinking", "thinking": "Let me think it over"},
                             {"type": "tool_use", "id": "t", "name": "f", "input": {"city": "Paris"}}])
    snapshot = run(events[:-2])  # cut before message_delta: no final usage
    assert snapshot.output_counted and snapshot.to_message().usage.output_tokens == 5 + 9  # thinking + JSON
