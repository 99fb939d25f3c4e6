"""The Dask path: map over a dask DataFrame on a LocalCluster of 2 worker processes, one global rate limit."""

from __future__ import annotations

import pickle
import time

import pandas as pd
import pytest

import nbmessages
from nbmessages import Client
from nbmessages.local import start
from nbmessages.notebook.map.partitions import PartitionMap, partition_function

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=2, processes=True, dashboard_address=None) as c:
        with distributed.Client(c) as dask_client:
            yield dask_client


def questions(n: int) -> pd.DataFrame:
    return pd.DataFrame({"q": [f"question {i}" for i in range(n)]}, index=[f"k{i}" for i in range(n)])


def test_the_partition_function_is_plain_pandas_and_picklable(server, tmp_path):
    client = Client(base_url=server.base_url, api_key="secret-canary", ledger=str(tmp_path / "u.sqlite"))
    fn = partition_function("Answer: {q}", client=client, max_tokens=20)
    assert "secret-canary" not in repr(fn)
    again = pickle.loads(pickle.dumps(fn))
    assert isinstance(again, PartitionMap)
    out = again(questions(3))  # what Ray's map_batches(batch_format="pandas") or Spark's mapInPandas call
    assert list(out.index) == ["k0", "k1", "k2"] and set(out["status"]) == {"ok"}
    assert list(out.columns) == list(fn.meta(questions(0)).columns)


def test_dask_map_shares_one_rate_limit_across_workers(cluster, tmp_path):
    ledger = str(tmp_path / "usage.sqlite")
    # 2 requests a second, in a bucket of 2 s: a provider's bucket is a minute; one of 1 s (as in the test
    # below) refuses a request whose predecessor a loaded machine delayed in transit by a few hundred ms
    with start(pace=0, ttft=0, rpm=120, burst=2) as server:
        client = Client(base_url=server.base_url, api_key="t", ledger=ledger)
        ddf = dd.from_pandas(questions(30), npartitions=4)
        out = nbmessages.map(ddf, "Answer: {q}", client=client, limits={"rpm": 120}, max_tokens=20)
        assert isinstance(out, dd.DataFrame) and server.requests_served == 0  # meta given: nothing was called
        started = time.monotonic()
        result = out.compute()
        elapsed = time.monotonic() - started
        refused = server.rate_limited
    assert len(result) == 30 and set(result["status"]) == {"ok"} and sorted(result.index) == sorted(questions(30).index)
    assert refused == 0, f"{refused} refused in {elapsed:.1f} s"  # the server's limit held, for both workers
    assert 30 / elapsed * 60 <= 120 * 1.01 + 2 * 60 / elapsed, f"{elapsed:.2f} s"  # the limit, and first leases
    calls = nbmessages.usage(ledger=ledger)
    assert len(calls) == 30 and calls["outcome"].eq("ok").all()  # every worker's calls reached the ledger


def test_identical_rows_in_different_partitions_are_sent_once(cluster, tmp_path):
    ledger = str(tmp_path / "usage.sqlite")
    frame = pd.DataFrame({"q": [f"question {i % 6}" for i in range(24)]}, index=[f"k{i}" for i in range(24)])
    with start(pace=0, ttft=0) as server:
        client = Client(base_url=server.base_url, api_key="t", ledger=ledger)
        ddf = dd.from_pandas(frame, npartitions=4, sort=False)  # each partition holds all six questions
        assert [p.compute()["q"].nunique() for p in ddf.to_delayed()] == [6, 6, 6, 6]
        result = nbmessages.map(ddf, "Answer: {q}", client=client, max_tokens=300, concurrency=4).compute()
        served = server.requests_served
    assert served == 6  # six distinct requests, sent once each across two worker processes
    assert result["status"].value_counts().to_dict() == {"ok": 6, "cached": 18, "error": 0, "skipped": 0}
    assert all(f"question {i % 6}" in result.loc[f"k{i}", "text"] for i in range(24))
    assert result["cost_usd"].sum() == pytest.approx(result.loc[result["status"] == "ok", "cost_usd"].sum())
    assert len(nbmessages.usage(ledger=ledger)) == 6


class CountingSlots:
    """A stand-in for the semaphore that counts what is taken and given back."""

    def __init__(self) -> None:
        self.acquired = self.released = 0

    def acquire(self) -> None:
        self.acquired += 1

    def release(self) -> None:
        self.released += 1


def test_a_sender_goes_on_while_its_lease_is_held_for_the_limit(server):
    fn = partition_function("Answer: {q}", client=Client(base_url=server.base_url, api_key="t", ledger=False),
                            rpm=120, leases=2, max_tokens=20)  # each lease stands for 2 * 60 / 120 = 1 s
    slots = CountingSlots()
    request = nbmessages.Request(model="claude-haiku-4-5", max_tokens=20, messages="hi")
    outcome = fn.one(fn.client(), slots, request, None)
    assert outcome.status == "ok" and (slots.acquired, slots.released) == (1, 0)  # answered; lease still held
    deadline = time.monotonic() + 30
    while slots.released == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert slots.released == 1  # given back by the releaser once its second is over


def test_the_workers_warm_up_when_map_is_called(cluster, server, tmp_path):
    client = Client(base_url=server.base_url, api_key="t", ledger=str(tmp_path / "u.sqlite"))
    nbmessages.map(dd.from_pandas(questions(4), npartitions=2), "Answer: {q}", client=client, max_tokens=20)

    def imported() -> bool:  # a task's partition function would import it: none has run
        import sys

        return "nbmessages.notebook.map.partitions" in sys.modules

    deadline = time.monotonic() + 60
    while not all(cluster.run(imported).values()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert all(cluster.run(imported).values())  # before any compute: each worker imported nbmessages


def test_without_the_shared_limit_the_workers_overrun_it(cluster, tmp_path):
    with start(pace=0, ttft=0, rpm=120, burst=2) as server:
        client = Client(base_url=server.base_url, api_key="t", ledger=str(tmp_path / "u.sqlite"))
        ddf = dd.from_pandas(questions(12), npartitions=4)
        result = nbmessages.map(ddf, "Answer: {q}", client=client, max_tokens=20, concurrency=4).compute()
        assert server.rate_limited > 0  # the test above has teeth
    assert len(result) == 12


def test_a_dask_map_run_again_sends_only_what_is_not_answered_yet(cluster, tmp_path):
    ledger = str(tmp_path / "usage.sqlite")
    with start(pace=0, ttft=0) as server:
        client = Client(base_url=server.base_url, api_key="t", ledger=ledger)
        nbmessages.map(questions(4), "Answer: {q}", client=client, max_tokens=20, progress=False)  # pandas first
        ddf = dd.from_pandas(questions(8), npartitions=2)
        first = nbmessages.map(ddf, "Answer: {q}", client=client, max_tokens=20, name="resumed").compute()
        assert server.requests_served == 8 and first["status"].value_counts()["cached"] == 4
        again = nbmessages.map(ddf, "Answer: {q}", client=client, max_tokens=20).compute()
        assert server.requests_served == 8 and set(again["status"]) == {"cached"} and again["cost_usd"].sum() == 0
        fresh = nbmessages.map(ddf, "Answer: {q}", client=client, max_tokens=20, cache=False).compute()
        assert server.requests_served == 16 and set(fresh["status"]) == {"ok"}
    calls = nbmessages.usage(ledger=ledger)
    assert (calls["tags"].str.contains('"map": "resumed"')).sum() == 4  # the named map's own calls, by its id


def test_a_dask_map_carries_the_clients_options_and_on_error(cluster, tmp_path):
    with start(pace=0, ttft=0) as server:
        client = Client(base_url=server.base_url, api_key="t", ledger=str(tmp_path / "u.sqlite"),
                        default_headers={"x-nbmessages-fault": "overloaded"}, tags={"team": "nlp"})
        ddf = dd.from_pandas(questions(2), npartitions=1)
        out = nbmessages.map(ddf, "Answer: {q}", client=client, max_tokens=20).compute()
        assert set(out["error_type"]) == {"overloaded_error"}  # the workers sent the client's headers
        with pytest.raises(nbmessages.APIError):
            nbmessages.map(ddf, "Answer: {q}", client=client, max_tokens=20, on_error="raise", cache=False).compute()
    assert set(nbmessages.usage(ledger=str(tmp_path / "u.sqlite"), tags={"team": "nlp"})["outcome"]) == {"overloaded_error"}


def test_what_a_dask_map_cannot_do_is_refused_before_anything_runs(server):
    ddf = dd.from_pandas(questions(2), npartitions=1)
    client = Client(base_url=server.base_url, api_key="t", ledger=False)
    with pytest.raises(ValueError, match="dry_run: a preview needs every row"):
        nbmessages.map(ddf, "Answer: {q}", client=client, dry_run=True)
    with pytest.raises(ValueError, match="mode='batch'"):
        nbmessages.map(ddf, "Answer: {q}", client=client, mode="batch")
    with pytest.raises(ValueError, match="budget: the workers of a Dask map"):
        nbmessages.map(ddf, "Answer: {q}", client=client.copy(budget=1.0))
