"""nbmessages.map over real loopback HTTP against the embedded server: columns, schema, errors, dedupe, resume."""

from __future__ import annotations

import signal
import threading
from typing import Literal

import pandas as pd
import pytest
from pydantic import BaseModel, field_validator

import nbmessages
from nbmessages.ledger.budget import BudgetExceededError
from nbmessages.ledger.store import MIGRATIONS, Ledger
from nbmessages.local import start
from nbmessages.notebook.map.store import ResultStore

REVIEWS = pd.DataFrame(
    {"review": ["A positive surprise, I love it", "Negative: the battery died in a day",
                "A positive surprise, I love it", "It works; neutral about it", "Positive! I give it 11 stars of 5"]},
    index=pd.Index([10, 20, 30, 40, 50], name="id"),
)


class Verdict(BaseModel):
    sentiment: Literal["positive", "negative", "neutral"]
    stars: int

    @field_validator("stars")
    @classmethod
    def one_to_five(cls, value: int) -> int:
        if not 1 <= value <= 5:
            raise ValueError("stars must be 1 to 5")
        return value


@pytest.fixture
def ledger(tmp_path) -> Ledger:
    return Ledger(tmp_path / "usage.sqlite")


@pytest.fixture
def client(server, ledger):
    with nbmessages.Client(base_url=server.base_url, ledger=ledger) as c:
        yield c


def test_results_are_aligned_columns_with_tokens_cost_and_status(client, server, ledger):
    served = server.requests_served
    out = nbmessages.map(REVIEWS, "Classify this review: {review}", client=client, max_tokens=80, progress=False)
    assert list(out.index) == [10, 20, 30, 40, 50] and out.index.name == "id"
    assert list(out.columns) == ["text", "stop_reason", "input_tokens", "output_tokens", "cache_read_tokens",
                                 "cache_creation_tokens", "cost_usd", "duration", "message_id", "status",
                                 "error_type", "error_message"]
    assert "Classify this review: Negative: the battery died in a day" in out.loc[20, "text"]
    assert str(out["input_tokens"].dtype) == "Int64" and str(out["cost_usd"].dtype) == "Float64"
    assert list(out["status"]) == ["ok", "ok", "cached", "ok", "ok"]  # row 30 repeats row 10: sent once
    assert server.requests_served - served == 4
    assert out.loc[30, "cost_usd"] == 0 and out.loc[10, "cost_usd"] > 0
    assert out.loc[30, "message_id"] == out.loc[10, "message_id"]
    calls = ledger.rows("WHERE json_extract(tags, '$.map') = ?", (out.attrs["map_id"],))
    assert len(calls) == 4 and {c["outcome"] for c in calls} == {"ok"}
    assert nbmessages.usage(ledger=ledger, tags={"map": out.attrs["map_id"]})["cost_usd"].sum() == pytest.approx(
        out["cost_usd"].sum())


def test_schema_gives_columns_and_a_bad_answer_is_a_row_error_not_a_crash(client):
    out = nbmessages.map(REVIEWS, "Review: {review}. Sentiment and stars?", client=client, output_format=Verdict,
                         max_tokens=200, progress=False)
    assert list(out.columns[:2]) == ["sentiment", "stars"]
    assert out.loc[20, "sentiment"] == "negative" and out.loc[10, "sentiment"] == "positive"
    bad = out.loc[50]
    assert bad["status"] == "error" and bad["error_type"] == "validation_error"
    assert "stars must be 1 to 5" in bad["error_message"] and pd.isna(bad["stars"])
    assert bad["output_tokens"] > 0 and bad["cost_usd"] > 0  # the answer came and was paid for
    assert (out.drop(index=50)["status"].isin(["ok", "cached"])).all()


def test_series_lists_and_requests_are_inputs_too(client):
    series = REVIEWS["review"].head(2)
    out = nbmessages.map(series, "Say: {review}", client=client, max_tokens=80, progress=False)
    assert "Say: A positive surprise" in out.loc[10, "text"]
    out = nbmessages.map(["one", "two"], client=client, max_tokens=80, progress=False)
    assert list(out.index) == [0, 1] and "two" in out.loc[1, "text"]
    reqs = [nbmessages.Request(model="claude-haiku-4-5", max_tokens=20, messages="hi")]
    out = nbmessages.map(reqs, client=client, progress=False)
    assert out.loc[0, "status"] == "ok"


def test_bad_input_is_refused_before_anything_is_sent(client, server):
    served = server.requests_served
    with pytest.raises(ValueError, match=r"\{revew\} names no column.*review"):
        nbmessages.map(REVIEWS, "Classify {revew}", client=client, progress=False)
    with pytest.raises(ValueError, match="temperature"):
        nbmessages.map(REVIEWS, "Classify {review}", client=client, temperature=7, progress=False)
    with pytest.raises(ValueError, match="on_error"):
        nbmessages.map(REVIEWS, "{review}", client=client, on_error="ignore")
    with pytest.raises(ValueError, match="concurrency"):
        nbmessages.map(REVIEWS, "{review}", client=client, concurrency=0)
    with pytest.raises(ValueError, match="rpm"):
        nbmessages.map(REVIEWS, "{review}", client=client, limits={"rpm": -1})
    assert server.requests_served == served


def test_a_row_that_cannot_be_built_is_an_error_row(client):
    out = nbmessages.map(pd.DataFrame({"t": ["fine", ""]}), "{t}", client=client, max_tokens=20, progress=False)
    assert list(out["status"]) == ["ok", "error"] and out.loc[1, "error_type"] == "invalid_request"
    assert "must not be empty" in out.loc[1, "error_message"]


def test_failed_requests_do_not_stop_the_others_unless_raise(ledger):
    with start(pace=0, ttft=0, fault="server_error", fault_rate=1.0) as failing, \
            nbmessages.Client(base_url=failing.base_url, ledger=ledger, max_retries=1) as c:
        out = nbmessages.map(REVIEWS.head(2), "{review}", client=c, max_tokens=20, progress=False)
        assert list(out["status"]) == ["error", "error"] and set(out["error_type"]) == {"api_error"}
        assert failing.requests_served == 4  # one retry each, then the row is an error
        with pytest.raises(nbmessages.InternalServerError):
            nbmessages.map(REVIEWS.head(2), "again {review}", client=c, on_error="raise", progress=False)


def test_transient_errors_are_retried(server, ledger):
    with nbmessages.Client(base_url=server.base_url, ledger=ledger,
                           default_headers={"x-nbmessages-fault": "overloaded;times=1;retry_after=0.05"}) as c:
        out = nbmessages.map(REVIEWS.head(3), "retry me {review}", client=c, max_tokens=20, progress=False)
    assert set(out["status"]) <= {"ok", "cached"}


def test_a_second_run_sends_nothing_and_cache_false_sends_again(client, server, ledger):
    args = (REVIEWS, "Resume me: {review}")
    first = nbmessages.map(*args, client=client, max_tokens=80, progress=False)
    served = server.requests_served
    again = nbmessages.map(*args, client=client, max_tokens=80, progress=False)
    assert server.requests_served == served and set(again["status"]) == {"cached"}
    assert again.attrs["map_id"] == first.attrs["map_id"]
    assert list(again["text"]) == list(first["text"]) and (again["cost_usd"] == 0).all()
    fresh = nbmessages.map(*args, client=client, max_tokens=30, cache=False, progress=False)
    assert server.requests_served - served == 4 and set(fresh["status"]) == {"ok", "cached"}
    assert ledger.schema_version == len(MIGRATIONS)
    assert ResultStore(ledger).count(first.attrs["map_id"]) == 4
    assert nbmessages.notebook.map.forget(first.attrs["map_id"], client=client) == 4


def test_dry_run_previews_counts_tokens_cost_and_sends_no_answer(client, server):
    nbmessages.map(REVIEWS.head(2), "Preview {review}", client=client, max_tokens=100, progress=False)
    est = nbmessages.map(REVIEWS, "Preview {review}", client=client, max_tokens=100, dry_run=True)
    assert (est.rows, est.unique, est.cached, est.to_send, est.invalid) == (5, 4, 2, 2, 0)
    assert est.input_tokens > 0 and "count_tokens for all 2 requests" in est.basis[0]
    assert est.worst_case_usd > est.expected_usd > 0
    assert "mean of this map's 2 stored answers" in est.basis[1]
    assert est.expected_seconds is not None and "concurrency" in est.basis[2]
    assert "Map preview: nothing was sent" in repr(est) and "| worst-case cost |" in est._repr_markdown_()
    again = REVIEWS.messages.estimate("Preview {review}", client=client, max_tokens=100)
    assert again.to_dict() == est.to_dict() | {"expected_seconds": again.expected_seconds}


def test_budget_stops_cleanly_and_the_rest_is_resumable(server, ledger):
    many = pd.DataFrame({"q": [f"question number {i}" for i in range(30)]})
    with nbmessages.Client(base_url=server.base_url, ledger=ledger, budget=0.01) as c:
        out = nbmessages.map(many, "{q}", client=c, max_tokens=200, concurrency=4, progress=False)
        assert c.budget.spent <= 0.01
        skipped = out[out["status"] == "skipped"]
        assert 0 < len(skipped) < 30 and set(skipped["error_type"]) == {"budget_exceeded"}
        assert "raise the limit" in skipped["error_message"].iloc[0]
        c.budget.limit = 1.0
        rest = nbmessages.map(many, "{q}", client=c, max_tokens=200, concurrency=4, progress=False)
    assert set(rest["status"]) == {"ok", "cached"} and (rest["status"] == "ok").sum() == len(skipped)


def test_budget_exceeded_error_from_the_client_stops_the_map(server, ledger):
    with nbmessages.Client(base_url=server.base_url, ledger=ledger, budget=0.0) as c:
        out = nbmessages.map(REVIEWS, "{review}", client=c, max_tokens=10, progress=False)
    assert set(out["status"]) == {"skipped"}
    assert BudgetExceededError.__name__  # the client's refusal and the map's reservation both end cleanly


def test_interrupt_keeps_finished_rows_and_marks_the_rest(ledger):
    rows = pd.DataFrame({"q": [f"slow {i}" for i in range(40)]})
    with start(pace=0, ttft=0.3) as slow, nbmessages.Client(base_url=slow.base_url, ledger=ledger) as c:
        timer = threading.Timer(0.8, signal.raise_signal, (signal.SIGINT,))
        timer.start()
        out = nbmessages.map(rows, "{q}", client=c, max_tokens=20, concurrency=4, progress=False)
        timer.join()
        done = out[out["status"] == "ok"]
        rest = out[out["status"] == "skipped"]
        assert 0 < len(done) < 40 and len(done) + len(rest) == 40
        assert set(rest["error_type"]) == {"interrupted"}
        calls = ledger.rows("WHERE json_extract(tags, '$.map') = ?", (out.attrs["map_id"],))
        assert len(calls) == slow.requests_served  # every call sent, the ones cut off as `interrupted` too
        again = nbmessages.map(rows, "{q}", client=c, max_tokens=20, concurrency=8, progress=False)
    assert (again["status"] == "cached").sum() == len(done) and (again["status"] == "ok").sum() == len(rest)


def test_tools_run_through_the_turn_runner(client):
    def lookup(city: str) -> str:
        """The weather of a city."""
        return f"sunny in {city}"

    out = nbmessages.map(pd.DataFrame({"city": ["Lisbon"]}), "Use lookup for the weather in city={city}",
                         client=client, tools=[lookup], max_tokens=200, progress=False)
    assert out.loc[0, "status"] == "ok" and "sunny in Lisbon" in out.loc[0, "text"]
    assert out.loc[0, "input_tokens"] > 0


def test_import_nbmessages_stays_without_pandas():
    import subprocess
    import sys

    code = "import sys, nbmessages; assert 'pandas' not in sys.modules; nbmessages.map; assert 'pandas' in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_options_are_the_settings_table_of_every_front_end():
    from nbmessages.notebook.map.frame import request_options

    params, schema = request_options({"effort": "low", "schema": Verdict, "thinking": 2048, "stop": ["END"],
                                      "tool_choice": {"type": "auto"}})
    assert schema is Verdict and params["model"] == "claude-sonnet-4-5"  # the table's defaults
    assert params["output_config"]["effort"] == "low" and params["output_config"]["format"]["type"] == "json_schema"
    assert params["thinking"]["budget_tokens"] == 2048 and params["max_tokens"] > 2048
    assert params["stop_sequences"] == ["END"] and params["tool_choice"] == {"type": "auto"}


def test_openrouter_header_options_ride_on_the_maps_client(server, ledger):
    with nbmessages.Client(base_url=server.base_url + "/api", api_key="sk-or-local", ledger=ledger) as c:
        args = (REVIEWS.head(2), "Cache this: {review}")
        first = nbmessages.map(*args, client=c, model="anthropic/claude-haiku-4.5", openrouter_cache=120,
                               openrouter_metadata=True, progress=False)
        again = nbmessages.map(*args, client=c, model="anthropic/claude-haiku-4.5", openrouter_cache=120,
                               cache=False, progress=False)
        assert list(again["status"]) == ["ok", "ok"] and (again["cost_usd"] == 0).all()  # the server's cache: free
        misses, hits = ledger.rows("WHERE json_extract(tags, '$.map') = ?", (again.attrs["map_id"],))[-4:][:2], \
            ledger.rows("WHERE json_extract(tags, '$.map') = ?", (again.attrs["map_id"],))[-2:]
        assert [h["response_cache"] for h in hits] == ["HIT", "HIT"] and {h["cost_source"] for h in hits} == {
            "response_cache"}
        assert (first["cost_usd"] > 0).all() and all(m["routing"] for m in misses)  # the router's metadata, kept
        with pytest.raises(ValueError, match="openrouter_cache_clear: an option of one call"):
            nbmessages.map(*args, client=c, openrouter_cache_clear=True, progress=False)


def test_profile_picks_another_backend_for_the_clients_settings(server, ledger, monkeypatch):
    monkeypatch.setenv("OPENROUTER_BASE_URL", server.base_url + "/api")
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-local")
    with nbmessages.Client(base_url=server.base_url, ledger=ledger) as c:
        out = nbmessages.map(REVIEWS.head(2), "Route {review}", client=c, profile="openrouter",
                             model="anthropic/claude-haiku-4.5", progress=False)
    assert list(out["status"]) == ["ok", "ok"], out["error_message"].tolist()
    rows = ledger.rows("WHERE json_extract(tags, '$.map') = ?", (out.attrs["map_id"],))
    assert {r["profile"] for r in rows} == {"openrouter"}  # the same ledger, the other backend
    with pytest.raises(ValueError, match="unknown profile 'openruter'"):
        nbmessages.map(REVIEWS.head(1), "{review}", client=c, profile="openruter", progress=False)


def test_the_maps_pool_goes_straight_into_aiohttp_and_still_records_cassettes(server, tmp_path):
    import json

    import httpx
    from httpx_aiohttp import AiohttpTransport

    from nbmessages.client.pool import DirectPool
    from nbmessages.notebook.map import clients

    pool = clients.http_pool(httpx.Timeout(5), 50, lambda response: None)
    assert isinstance(pool, DirectPool) and isinstance(pool.transport, AiohttpTransport)
    again = clients.http_pool(httpx.Timeout(5), 50, lambda response: None)
    assert again.transport.ssl_context is pool.transport.ssl_context  # type: ignore[union-attr]  # loaded once
    cassette = tmp_path / "map.json"
    client = nbmessages.Client(base_url=server.base_url, ledger=False, record=cassette)
    out = nbmessages.map(REVIEWS, "Say: {review}", client=client, model="claude-haiku-4-5", max_tokens=20,
                         progress=False)
    assert (out["status"] != "error").all()
    assert len(json.loads(cassette.read_text())) == 4  # the distinct requests, each recorded once


def test_the_heap_before_a_map_is_left_out_of_collections_while_it_runs(client):
    import gc

    seen: list[int] = []

    def lookup(city: str) -> str:
        """The weather of a city."""
        seen.append(gc.get_freeze_count())
        return f"sunny in {city}"

    out = nbmessages.map(pd.DataFrame({"city": ["Oslo"]}), "Use lookup for the weather in city={city}",
                         client=client, tools=[lookup], max_tokens=200, progress=False)
    assert out.loc[0, "status"] == "ok" and seen and seen[0] > 0  # frozen while the map ran
    assert gc.get_freeze_count() == 0  # and given back to the collector after
