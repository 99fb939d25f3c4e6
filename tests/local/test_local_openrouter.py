"""The embedded server's /api/v1 speaks OpenRouter: availability faults, response caching, metadata, /key, /generation.

Real HTTP over loopback, the real client and a real SQLite ledger.
"""

from __future__ import annotations

import pytest
from local_fixtures import body, error_of, sse_events, stream

from nbmessages import Client
from nbmessages.client import errors
from nbmessages.ledger.store import Ledger
from nbmessages.local import start

MODEL = "anthropic/claude-sonnet-4.5"


@pytest.fixture()
def ledger(tmp_path) -> Ledger:
    return Ledger(tmp_path / "usage.sqlite")


def _client(server, ledger=False, **kw) -> Client:
    return Client(base_url=server.base_url + "/api", api_key="sk-or-test", ledger=ledger, **kw)


# -- availability ------------------------------------------------------------------------------------------------

def test_an_availability_fault_answers_in_the_documented_shape(http) -> None:
    r = http.post("/api/v1/messages", json=body(model=MODEL),
                  headers={"x-nbmessages-fault": "unavailable;code=no_endpoints;fallback=anthropic/claude-haiku-4.5"})
    assert r.status_code == 404
    error = error_of(r)
    assert error["type"] == "not_found_error" and error["error_type"] == "not_found"
    availability = error["availability"]
    assert availability["code"] == "no_endpoints" and availability["retryable"] is False
    assert availability["requested_models"] == [MODEL] and availability["fallback_models"] == ["anthropic/claude-haiku-4.5"]
    assert availability["docs_url"].endswith("#no_endpoints")
    capacity = http.post("/api/v1/messages", json=body(model=MODEL),
                         headers={"x-nbmessages-fault": "unavailable;code=capacity_exhausted;retry_after=0.5"})
    assert capacity.status_code == 429 and capacity.headers["retry-after"] == "0.5"
    assert error_of(capacity)["availability"]["retryable"] is True


def test_every_api_v1_error_carries_the_canonical_type(http) -> None:
    r = http.post("/api/v1/messages", json=body(model=MODEL), headers={"x-nbmessages-fault": "overloaded"})
    assert error_of(r)["error_type"] == "provider_overloaded"
    anthropic = http.post("/v1/messages", json=body(), headers={"x-nbmessages-fault": "overloaded"})
    assert "error_type" not in error_of(anthropic)


def test_a_404_marked_retryable_is_retried_and_recorded(server, ledger) -> None:
    fault = "unavailable;code=no_endpoints;retryable=true;retry_after=0;times=1"
    client = _client(server, ledger, max_retries=2, default_headers={"x-nbmessages-fault": fault})
    message = client.messages.create(model=MODEL, max_tokens=20, messages="retry me")
    assert message.text and ledger.rows()[-1]["retries"] == 1


def test_a_503_marked_not_retryable_fails_at_once(server, ledger) -> None:
    fault = "unavailable;code=temporarily_unavailable;retryable=false;fallback=anthropic/claude-haiku-4.5"
    client = _client(server, ledger, max_retries=3, default_headers={"x-nbmessages-fault": fault})
    with pytest.raises(errors.ServiceUnavailableError) as caught:
        client.messages.create(model=MODEL, max_tokens=20, messages="no retry")
    err = caught.value
    assert err.retries == 0 and err.availability.code == "temporarily_unavailable"
    assert err.availability.models_option == "anthropic/claude-haiku-4.5"
    row = ledger.rows()[-1]
    assert row["availability"] == "temporarily_unavailable" and row["outcome"] == "overloaded_error"


def test_an_availability_error_mid_stream(server, ledger) -> None:
    client = _client(server, ledger, default_headers={"x-nbmessages-fault": "unavailable;code=capacity_exhausted;after=4"})
    with pytest.raises(errors.StreamEventError) as caught, client.messages.stream(
            model=MODEL, max_tokens=50, messages="tell me a long story") as s:
        s.until_done()
    assert caught.value.availability.code == "capacity_exhausted" and caught.value.canonical_type == "rate_limit_exceeded"
    assert caught.value.partial_message is not None
    assert ledger.rows()[-1]["availability"] == "capacity_exhausted"


def test_metadata_rides_on_an_availability_error_when_asked(http) -> None:
    r = http.post("/api/v1/messages", json=body(model=MODEL),
                  headers={"x-nbmessages-fault": "unavailable;code=constraint_filtered", "X-OpenRouter-Metadata": "enabled"})
    envelope = r.json()
    assert envelope["openrouter_metadata"]["attempt"] == 0
    assert not any(e["selected"] for e in envelope["openrouter_metadata"]["endpoints"]["available"])
    assert envelope["error"]["availability"]["excluded_by"] == ["max_price"]


# -- response caching --------------------------------------------------------------------------------------------

def test_the_server_caches_by_exact_body_with_zero_usage_hits(http) -> None:
    headers = {"X-OpenRouter-Cache": "true", "X-OpenRouter-Cache-TTL": "120"}
    payload = body("cache this please", model=MODEL)
    miss = http.post("/api/v1/messages", json=payload, headers=headers)
    assert miss.headers["x-openrouter-cache-status"] == "MISS" and miss.headers["x-openrouter-cache-ttl"] == "120"
    hit = http.post("/api/v1/messages", json=payload, headers=headers)
    assert hit.headers["x-openrouter-cache-status"] == "HIT"
    assert hit.headers["x-openrouter-cache-source-id"] == miss.headers["x-generation-id"]
    assert hit.headers["x-generation-id"] != miss.headers["x-generation-id"]
    assert int(hit.headers["x-openrouter-cache-age"]) >= 0 and int(hit.headers["x-openrouter-cache-ttl"]) <= 120
    assert hit.json()["content"] == miss.json()["content"]
    assert hit.json()["usage"]["input_tokens"] == 0 and hit.json()["usage"]["output_tokens"] == 0
    assert hit.json()["usage"]["cost"] == 0
    reordered = dict(reversed(list(payload.items())))  # property order is part of the key
    assert http.post("/api/v1/messages", json=reordered, headers=headers).headers["x-openrouter-cache-status"] == "MISS"
    cleared = http.post("/api/v1/messages", json=payload, headers={**headers, "X-OpenRouter-Cache-Clear": "true"})
    assert cleared.headers["x-openrouter-cache-status"] == "MISS"
    assert "x-openrouter-cache-status" not in http.post("/api/v1/messages", json=payload).headers


def test_streams_are_cached_apart_and_replayed(http) -> None:
    headers = {"X-OpenRouter-Cache": "true"}
    payload = body("stream and cache", model=MODEL, stream=True)
    first = stream(http, payload, path="/api/v1/messages", headers=headers)
    second = stream(http, payload, path="/api/v1/messages", headers=headers)
    assert first.headers["x-openrouter-cache-status"] == "MISS" and second.headers["x-openrouter-cache-status"] == "HIT"
    text = [e for e in sse_events(second.text) if e["type"] == "content_block_delta"]
    assert text == [e for e in sse_events(first.text) if e["type"] == "content_block_delta"]
    delta = next(e for e in sse_events(second.text) if e["type"] == "message_delta")
    assert delta["usage"]["output_tokens"] == 0
    unstreamed = {k: v for k, v in payload.items() if k != "stream"}
    assert http.post("/api/v1/messages", json=unstreamed, headers=headers).headers["x-openrouter-cache-status"] == "MISS"


def test_a_hit_is_recorded_free_with_its_own_cost_source(server, ledger) -> None:
    client = _client(server, ledger, openrouter_cache=60)
    first = client.messages.create(model=MODEL, max_tokens=30, messages="the same question")
    again = client.messages.create(model=MODEL, max_tokens=30, messages="the same question")
    assert not first.response_cache.hit and again.response_cache.hit
    miss, hit = ledger.rows("ORDER BY ts")[-2:]
    assert miss["response_cache"] == "MISS" and miss["cost_source"] == "provider" and miss["cost_usd"] > 0
    assert hit["response_cache"] == "HIT" and hit["cost_usd"] == 0 and hit["cost_source"] == "response_cache"
    assert hit["input_tokens"] == 0


# -- router metadata ---------------------------------------------------------------------------------------------

def test_metadata_only_when_asked_and_on_message_stop_when_streaming(server, ledger) -> None:
    client = _client(server, ledger)
    plain = client.messages.create(model=MODEL, max_tokens=20, messages="who served?")
    assert plain.openrouter_metadata is None and ledger.rows()[-1]["routing"] is None
    asked = client.messages.create(model=MODEL, max_tokens=20, messages="who served?", openrouter_metadata=True)
    assert asked.router.selected.provider == "Anthropic" and asked.router.attempt == 1
    assert ledger.rows("ORDER BY ts")[-1]["routing"].startswith("served by Anthropic")
    with client.messages.stream(model=MODEL, max_tokens=20, messages="streamed", openrouter_metadata=True) as s:
        streamed = s.get_final_message()
    assert streamed.router is not None and streamed.router.requested == MODEL


def test_stream_carries_metadata_on_the_terminal_event(http) -> None:
    r = stream(http, body("meta", model=MODEL, stream=True), path="/api/v1/messages",
               headers={"X-OpenRouter-Metadata": "ENABLED"})
    events = sse_events(r.text)
    assert "openrouter_metadata" in events[-1] and events[-1]["type"] == "message_stop"
    assert "openrouter_metadata" not in events[0]["message"]
    legacy = http.post("/api/v1/messages", json=body(model=MODEL), headers={"X-OpenRouter-Experimental-Metadata": "enabled"})
    assert legacy.json()["openrouter_metadata"]["strategy"] == "direct"
    other = http.post("/api/v1/messages", json=body(model=MODEL), headers={"X-OpenRouter-Metadata": "yes"})
    assert "openrouter_metadata" not in other.json()


def test_cache_hits_never_carry_metadata(http) -> None:
    headers = {"X-OpenRouter-Cache": "true", "X-OpenRouter-Metadata": "enabled"}
    payload = body("hits are bare", model=MODEL)
    assert "openrouter_metadata" in http.post("/api/v1/messages", json=payload, headers=headers).json()
    hit = http.post("/api/v1/messages", json=payload, headers=headers)
    assert hit.headers["x-openrouter-cache-status"] == "HIT" and "openrouter_metadata" not in hit.json()


# -- /key and /generation ----------------------------------------------------------------------------------------

def test_key_reports_the_limit_and_what_was_billed() -> None:
    with start(pace=0, ttft=0, credit_limit=5.0) as srv:
        client = _client(srv)
        assert client.openrouter.key().usage == 0
        message = client.messages.create(model=MODEL, max_tokens=30, messages="bill me")
        key = client.openrouter.key()
        assert key.limit == 5.0 and key.usage == pytest.approx(message.usage.cost)
        assert key.limit_remaining == pytest.approx(5.0 - message.usage.cost)


def test_generation_fills_in_the_cost_of_an_interrupted_stream(server, ledger) -> None:
    client = _client(server, ledger)
    with client.messages.stream(model=MODEL, max_tokens=200, messages="a long answer to cut") as s:
        for _ in s.text_stream:
            break  # stop reading: the stream is closed early and recorded as interrupted
    row = ledger.rows("ORDER BY ts")[-1]
    assert row["outcome"] == "interrupted" and row["cost_source"] != "provider" and row["generation_id"]
    record = client.openrouter.generation(row["generation_id"])
    assert record.id == row["generation_id"] and record.total_cost > 0
    assert ledger.fill_costs(client) >= 1
    filled = ledger.rows("WHERE id = ?", (row["id"],))[0]
    assert filled["cost_source"] == "generation_lookup" and filled["cost_usd"] == pytest.approx(record.total_cost)
    assert ledger.fill_costs(client) == 0  # nothing left to look up


def test_an_unknown_generation_is_a_404(server) -> None:
    with pytest.raises(errors.NotFoundError) as caught:
        _client(server).openrouter.generation("gen-nope")
    assert caught.value.canonical_type == "not_found"


def test_the_async_client_reads_key_and_generation(server, ledger) -> None:
    import asyncio

    from nbmessages import AsyncClient

    async def main() -> tuple:
        async with AsyncClient(base_url=server.base_url + "/api", api_key="sk-or-test", ledger=ledger) as client:
            message = await client.messages.create(model=MODEL, max_tokens=20, messages="async bill",
                                                   openrouter_cache=30)
            record = await client.openrouter.generation(ledger.rows("ORDER BY ts")[-1]["generation_id"])
            return message, await client.openrouter.key(), record

    message, key, record = asyncio.run(main())
    assert message.response_cache.status == "MISS" and key.usage > 0
    assert record.total_cost == pytest.approx(message.usage.cost)


@pytest.mark.parametrize(("header", "ttl"), [("60", 60), ("60abc", 60), ("1.5", 1), ("0", 1), ("999999", 86_400),
                                             ("abc", 300), (None, 300)])
def test_the_cache_ttl_header_is_read_as_documented(header, ttl) -> None:
    from nbmessages.local.openrouter import cache_ttl

    assert cache_ttl(header) == ttl


def test_a_stream_left_early_is_billed_for_what_was_sent(ledger) -> None:
    import time

    with start(pace=100, ttft=0) as srv:
        client = _client(srv, ledger)
        whole = client.messages.create(model=MODEL, max_tokens=200, messages="a long answer to cut short")
        with client.messages.stream(model=MODEL, max_tokens=200, messages="a long answer to cut short") as s:
            for _ in s.text_stream:
                break
        generation_id = ledger.rows("ORDER BY ts")[-1]["generation_id"]
        deadline = time.monotonic() + 5
        while not (record := client.openrouter.generation(generation_id)).cancelled:
            assert time.monotonic() < deadline, "the server did not notice the stream was left"
            time.sleep(0.05)
        assert 0 < record.total_cost < whole.usage.cost
        assert 0 < (record.tokens_completion or 0) < whole.usage.output_tokens
