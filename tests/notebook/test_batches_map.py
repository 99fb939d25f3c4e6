"""``nbmessages.map(..., mode="batch")`` against the embedded server: the same frame as real time, resumable."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pandas as pd
import pytest

import nbmessages
from nbmessages import Client
from nbmessages.ledger.batch_jobs import BatchJobs
from nbmessages.ledger.store import Ledger
from nbmessages.local import start

FAST = {"poll_interval": 0.05}




def reviews(n: int, distinct: int | None = None) -> pd.DataFrame:
    return pd.DataFrame({"review": [f"review number {i % (distinct or n)}" for i in range(n)]},
                        index=[f"id{i}" for i in range(n)])


def test_batch_mode_fills_the_same_columns(batch_server, ledger_path):
    client = Client(base_url=batch_server.base_url, api_key="t", ledger=ledger_path)
    df = reviews(12, distinct=8)
    out = nbmessages.map(df, "Classify: {review}", client=client, mode="batch", max_tokens=300, batch=FAST,
                         progress=False)
    realtime = nbmessages.map(df, "Classify: {review}", client=client, max_tokens=300, cache=False, progress=False)
    assert list(out.index) == list(df.index)
    assert set(realtime.columns) <= set(out.columns) and "cost_source" in out.columns
    assert all(f"review number {i % 8}" in text for i, text in enumerate(out["text"]))
    assert out["status"].value_counts().to_dict() == {"ok": 8, "cached": 4, "error": 0, "skipped": 0}
    assert set(out.loc[out["status"] == "ok", "cost_source"]) == {"price_table_batch"}
    assert set(out.loc[out["status"] == "cached", "cost_source"]) == {"cached"}  # repeats: sent and paid once
    batch_cost = out["cost_usd"].sum()
    assert batch_cost == pytest.approx(realtime["cost_usd"].sum() / 2, rel=0.01)  # half the real-time price
    again = nbmessages.map(df, "Classify: {review}", client=client, mode="batch", max_tokens=300, batch=FAST,
                           progress=False)
    assert set(again["status"]) == {"cached"}  # nothing is sent twice
    (run_key,) = {out.attrs["batch_run"]}
    assert len(BatchJobs(Ledger(ledger_path)).jobs(run_key)) == 1


def test_batch_mode_splits_and_resubmits_failures(ledger_path):
    with start(pace=0, ttft=0, batch_delay=0.1, fault="overloaded;times=1") as server:
        client = Client(base_url=server.base_url, api_key="t", ledger=ledger_path)
        failed = nbmessages.map(reviews(4), "Say: {review}", client=client, mode="batch", batch=FAST,
                                progress=False)
        assert set(failed["status"]) == {"error"} and set(failed["error_type"]) == {"overloaded_error"}
        fixed = nbmessages.map(reviews(4), "Say: {review}", client=client, mode="batch", retry_failed=True,
                               batch=FAST, progress=False)
    assert set(fixed["status"]) == {"ok"}


SUBMIT_AND_DIE = """
import os, signal, sys
import pandas as pd
import nbmessages
client = nbmessages.Client(base_url=sys.argv[1], api_key="t", ledger=sys.argv[2],
                           default_headers={"x-nbmessages-batch-delay": "1"})
df = pd.DataFrame({"q": [f"question {i}" for i in range(30)]})
run = nbmessages.map(df, "Answer: {q}", client=client, mode="batch", max_tokens=20, batch={"wait": False},
                     progress=False)
print(run.run, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_the_same_map_call_resumes_after_a_kill(batch_server, ledger_path):
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    killed = subprocess.run([sys.executable, "-c", textwrap.dedent(SUBMIT_AND_DIE), batch_server.base_url,
                             ledger_path], capture_output=True, text=True, env=env, timeout=120)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    client = Client(base_url=batch_server.base_url, api_key="t", ledger=ledger_path)
    df = pd.DataFrame({"q": [f"question {i}" for i in range(30)]})
    out = nbmessages.map(df, "Answer: {q}", client=client, mode="batch", max_tokens=20, batch=FAST, progress=False)
    assert out.attrs["batch_run"] == killed.stdout.strip() and set(out["status"]) == {"ok"}
    assert len(BatchJobs(Ledger(ledger_path)).jobs(out.attrs["batch_run"])) == 1  # picked up, not resubmitted
    assert len(nbmessages.usage(ledger=ledger_path)) == 30


MAP_STALLED = SUBMIT_AND_DIE.replace('"x-nbmessages-batch-delay": "1"', '"x-nbmessages-fault": "stall;seconds=60"')


def test_the_same_map_call_adopts_a_batch_whose_create_was_cut_off(ledger_path):
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    with start(pace=0, ttft=0, batch_delay=0.2) as server:
        lister = Client(base_url=server.base_url, api_key="t", ledger=False)
        doomed = subprocess.Popen([sys.executable, "-c", textwrap.dedent(MAP_STALLED), server.base_url,
                                   ledger_path], env=env, stdout=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 60
            while not lister.messages.batches.list().data and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            doomed.kill()  # killed while create is in flight: the server made the batch, the kernel never heard
            doomed.wait(10)
        client = Client(base_url=server.base_url, api_key="t", ledger=ledger_path)
        df = pd.DataFrame({"q": [f"question {i}" for i in range(30)]})
        out = nbmessages.map(df, "Answer: {q}", client=client, mode="batch", max_tokens=20, batch=FAST,
                             progress=False)
        made = lister.messages.batches.list().data
    assert set(out["status"]) == {"ok"} and len(made) == 1  # the one batch adopted, none sent twice
    assert [j.batch_id for j in BatchJobs(Ledger(ledger_path)).jobs(out.attrs["batch_run"])] == [made[0].id]


def test_unknown_mode_is_refused(batch_server, ledger_path):
    client = Client(base_url=batch_server.base_url, api_key="t", ledger=ledger_path)
    with pytest.raises(ValueError, match="mode: 'bulk' is not one of 'realtime', 'batch'"):
        nbmessages.map(reviews(1), "x {review}", client=client, mode="bulk")


def test_the_preview_shows_the_batch_price(batch_server, ledger_path):
    client = Client(base_url=batch_server.base_url, api_key="t", ledger=ledger_path)
    preview = nbmessages.map(reviews(3), "Classify: {review}", client=client, dry_run=True)
    assert preview.batch_expected_usd == pytest.approx(preview.expected_usd / 2)
    assert "expected cost in batch mode" in repr(preview) and "mode='batch'" in preview._repr_markdown_()
