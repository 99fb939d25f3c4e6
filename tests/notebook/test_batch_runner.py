"""Batch runs end to end against the embedded server: split, persisted, resumed in a new process, retried."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import pytest

import nbmessages
from nbmessages import Client, Request
from nbmessages.client.errors import APIConnectionError
from nbmessages.ledger.batch_jobs import BatchJobs
from nbmessages.ledger.store import Ledger
from nbmessages.local import start
from nbmessages.notebook.batch_runner import chunked, custom_id_for
from nbmessages.types.batches import CUSTOM_ID_PATTERN


def make_requests(n: int, distinct: int | None = None) -> list[Request]:
    distinct = distinct or n
    return [Request(model="claude-haiku-4-5", max_tokens=50, messages=f"Classify review {i % distinct}")
            for i in range(n)]


def client_for(server, ledger_path: str, **headers: str) -> Client:
    return Client(base_url=server.base_url, api_key="t", ledger=ledger_path, default_headers=headers)


def test_custom_ids_and_chunks():
    cid = custom_id_for("anthropic", "api.anthropic.com", {"model": "m", "messages": []})
    assert CUSTOM_ID_PATTERN.match(cid) and len(cid) == 41
    assert cid == custom_id_for("anthropic", "api.anthropic.com", {"messages": [], "model": "m"})  # key order
    assert cid != custom_id_for("openrouter", "openrouter.ai", {"model": "m", "messages": []})
    assert chunked(list("abcde"), [1] * 5, max_requests=2) == [["a", "b"], ["c", "d"], ["e"]]
    assert chunked(list("abcd"), [40, 40, 40, 10], max_bytes=85) == [["a", "b"], ["c", "d"]]


def test_end_to_end_split_deduped_priced_and_in_row_order(batch_server, ledger_path):
    client = client_for(batch_server, ledger_path)
    requests = make_requests(25, distinct=10)
    run = nbmessages.batches.submit(requests, client=client, max_requests=4)
    jobs = BatchJobs(Ledger(ledger_path)).jobs(run.run)
    assert len(jobs) == 3 and all(j.status == "in_progress" for j in jobs)  # in the database before wait()
    seen: list[str] = []
    results = run.wait(poll_interval=0.05, progress=lambda r: seen.append(r.status_line()))
    assert [r.status for r in results] == ["succeeded"] * 25
    assert all(f"review {i % 10}" in r.message.text for i, r in enumerate(results))  # matched by custom_id
    assert results[3].message.id == results[13].message.id  # duplicates were sent once
    assert {r.cost_source for r in results} == {"price_table_batch"} and results[0].cost_usd > 0
    assert "3 collected" in seen[-1] and "10 succeeded" in seen[-1]
    calls = nbmessages.usage(ledger=ledger_path)
    assert len(calls) == 10 and set(calls["service_tier"]) == {"batch"}
    assert set(calls["cost_source"]) == {"price_table_batch"}


def test_the_same_call_picks_up_its_batches(batch_server, ledger_path):
    requests = make_requests(6)
    first = nbmessages.batches.submit(requests, client=client_for(batch_server, ledger_path))
    again = nbmessages.batches.submit(requests, client=client_for(batch_server, ledger_path))
    assert again.run == first.run and len(again.jobs.jobs(again.run)) == 1  # nothing submitted twice
    assert [r.status for r in again.wait(poll_interval=0.05)] == ["succeeded"] * 6
    with pytest.raises(ValueError, match="was started with other requests"):
        nbmessages.batches.submit(make_requests(2), client=client_for(batch_server, ledger_path), run=first.run)


def test_errored_rows_are_resubmitted(ledger_path):
    with start(pace=0, ttft=0, batch_delay=0.1, fault="overloaded;times=1") as server:
        run = nbmessages.batches.submit(make_requests(5), client=client_for(server, ledger_path))
        first = run.wait(poll_interval=0.05)
        assert {r.status for r in first} == {"errored"} and first[0].error_type == "overloaded_error"
        assert len(run.failed()) == 5
        results = run.wait(retry_failed=True, poll_interval=0.05)
    assert [r.status for r in results] == ["succeeded"] * 5
    assert sorted(j.round for j in run.jobs.jobs(run.run)) == [0, 1]


def test_expired_rows_are_resubmitted(batch_server, ledger_path):
    run = nbmessages.batches.submit(make_requests(8), client=client_for(
        batch_server, ledger_path, **{"x-nbmessages-batch-expire": "0.5"}))
    assert sorted(r.status for r in run.wait(poll_interval=0.05)) == ["expired"] * 4 + ["succeeded"] * 4
    run.client = client_for(batch_server, ledger_path)  # the resubmission does not expire
    assert [r.status for r in run.wait(retry_failed=True, poll_interval=0.05)] == ["succeeded"] * 8


def test_an_interrupt_cancels_the_batches(batch_server, ledger_path):
    run = nbmessages.batches.submit(make_requests(3), client=client_for(
        batch_server, ledger_path, **{"x-nbmessages-batch-delay": "30"}))

    def interrupt(_run):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run.wait(poll_interval=0.05, progress=interrupt)
    (job,) = run.jobs.jobs(run.run)
    assert job.status == "canceling"
    assert client_for(batch_server, ledger_path).messages.batches.retrieve(job.batch_id).cancel_initiated_at


SUBMIT_AND_DIE = """
import os, signal, sys
import nbmessages
from nbmessages import Client, Request
from nbmessages.client.errors import APIConnectionError
client = Client(base_url=sys.argv[1], api_key="t", ledger=sys.argv[2],
                default_headers={"x-nbmessages-batch-delay": "1"})
requests = [Request(model="claude-haiku-4-5", max_tokens=300, messages=f"Row {i}") for i in range(12)]
run = nbmessages.batches.submit(requests, client=client, max_requests=5)
print(run.run, flush=True)
os.kill(os.getpid(), signal.SIGKILL)  # the kernel dies right after submitting
"""

RESUME = """
import sys
import nbmessages
from nbmessages import Client
run = nbmessages.batches.resume(client=Client(base_url=sys.argv[1], api_key="t", ledger=sys.argv[2]))
results = run.wait(poll_interval=0.1)
print(run.run, len(run.jobs.jobs(run.run)), sorted({r.status for r in results}), "Row 7" in results[7].message.text)
"""


def test_resume_in_a_new_process_after_a_kill(batch_server, ledger_path):
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    killed = subprocess.run([sys.executable, "-c", textwrap.dedent(SUBMIT_AND_DIE), batch_server.base_url,
                             ledger_path], capture_output=True, text=True, env=env, timeout=60)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    run_key = killed.stdout.strip()
    resumed = subprocess.run([sys.executable, "-c", textwrap.dedent(RESUME), batch_server.base_url, ledger_path],
                             capture_output=True, text=True, env=env, timeout=60, check=True)
    key, batches, statuses, text = resumed.stdout.split(" ", 3)
    assert key == run_key and batches == "3" and statuses == "['succeeded']"
    assert text.strip() == "True"  # row 7's answer, matched back by its custom_id
    assert len(nbmessages.usage(ledger=ledger_path)) == 12  # each answer recorded once


SUBMIT_AND_FAIL = """
import sys
import nbmessages
from nbmessages import Client, Request
from nbmessages.client.errors import APIConnectionError
client = Client(base_url=sys.argv[1], api_key="t", ledger=sys.argv[2],
                default_headers={"x-nbmessages-fault": "overloaded;times=1"})
requests = [Request(model="claude-haiku-4-5", max_tokens=50, messages=f"Row {i}") for i in range(5)]
run = nbmessages.batches.submit(requests, client=client, run="flaky")
print(sorted({r.status for r in run.wait(poll_interval=0.05)}))
"""


def test_resume_in_a_new_process_resubmits_failed_rows_from_the_ledger(batch_server, ledger_path):
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    first = subprocess.run([sys.executable, "-c", textwrap.dedent(SUBMIT_AND_FAIL), batch_server.base_url,
                            ledger_path], capture_output=True, text=True, env=env, timeout=60, check=True)
    assert first.stdout.strip() == "['errored']"  # that process is gone; only the ledger knows the requests
    run = nbmessages.batches.resume("flaky", client=client_for(batch_server, ledger_path), retry_failed=True)
    assert len(run.jobs.jobs(run.run)) == 2  # resubmitted at once, from the bodies the ledger keeps
    results = run.wait(retry_failed=True, poll_interval=0.05)
    assert [r.status for r in results] == ["succeeded"] * 5 and "Row 3" in results[3].message.text
    assert sorted(j.round for j in run.jobs.jobs(run.run)) == [0, 1]


def test_a_run_without_kept_bodies_asks_for_its_requests(batch_server, ledger_path):
    with start(pace=0, ttft=0, batch_delay=0.1, fault="overloaded;times=1") as server:
        nbmessages.batches.submit(make_requests(2), client=client_for(server, ledger_path), run="old").wait(
            poll_interval=0.05)
        kept = Ledger(ledger_path)
        kept.connection.execute("DELETE FROM batch_bodies")  # as a run from before V8 has none
        run = nbmessages.batches.resume("old", client=client_for(server, ledger_path))
        with pytest.raises(ValueError, match="no request body in the ledger.*pass the requests again"):
            run.retry_failed()
    with pytest.raises(LookupError, match="no batch run 'nope'"):
        nbmessages.batches.resume("nope", client=client_for(batch_server, ledger_path))


def server_batches(server) -> list:
    return Client(base_url=server.base_url, api_key="t", ledger=False).messages.batches.list(limit=100).data


SUBMIT_STALLED = """
import sys
import nbmessages
from nbmessages import Client, Request
from nbmessages.client.errors import APIConnectionError
client = Client(base_url=sys.argv[1], api_key="t", ledger=sys.argv[2],
                default_headers={"x-nbmessages-fault": "stall;seconds=60"})  # the batch is made, the answer held
requests = [Request(model="claude-haiku-4-5", max_tokens=50, messages=f"Row {i}") for i in range(12)]
nbmessages.batches.submit(requests, client=client, max_requests=5, run="in-flight")
"""


def test_a_kill_while_create_is_in_flight_loses_no_batch_and_sends_none_twice(ledger_path):
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    with start(pace=0, ttft=0, batch_delay=0.2) as server:
        doomed = subprocess.Popen([sys.executable, "-c", textwrap.dedent(SUBMIT_STALLED), server.base_url,
                                   ledger_path], env=env)
        try:
            deadline = time.monotonic() + 60
            while not server_batches(server) and time.monotonic() < deadline:
                time.sleep(0.05)
            (made,) = server_batches(server)  # the server has the first batch; its create has not answered
        finally:
            doomed.kill()  # the kernel dies in the window between create and the ledger's batch id
            doomed.wait(10)
        (job,) = BatchJobs(Ledger(ledger_path)).jobs("in-flight")
        assert job.status == "submitting"  # recorded before create was sent: nothing is unknown to the ledger
        run = nbmessages.batches.resume(client=client_for(server, ledger_path))
        results = run.wait(poll_interval=0.05)
        batches = server_batches(server)
    assert run.run == "in-flight" and [r.status for r in results] == ["succeeded"] * 12
    assert made.id in {j.batch_id for j in run.jobs.jobs(run.run)}  # adopted, not sent again
    assert len(batches) == 2 and sum(b.request_counts.succeeded for b in batches) == 12  # 5 adopted + 7 unsent
    assert len(nbmessages.usage(ledger=ledger_path)) == 12


def test_a_dropped_create_is_adopted_not_sent_twice(ledger_path):
    with start(pace=0, ttft=0, batch_delay=0.1) as server:
        client = client_for(server, ledger_path, **{"x-nbmessages-fault": "disconnect"})  # made, answer lost
        run = nbmessages.batches.submit(make_requests(4), client=client)  # the client alone would send it again
        (batch,) = server_batches(server)
        assert [j.batch_id for j in run.jobs.jobs(run.run)] == [batch.id]
        assert [r.status for r in run.wait(poll_interval=0.05)] == ["succeeded"] * 4


def test_a_create_that_never_arrived_is_submitted_again(ledger_path):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        nowhere = f"http://127.0.0.1:{closed.getsockname()[1]}"
    unreachable = Client(base_url=nowhere, api_key="t", ledger=ledger_path, max_retries=0)
    with pytest.raises(APIConnectionError):
        nbmessages.batches.submit(make_requests(3), client=unreachable, run="never-sent")
    (job,) = BatchJobs(Ledger(ledger_path)).jobs("never-sent")
    assert job.status == "submitting"
    with start(pace=0, ttft=0, batch_delay=0.1) as server:
        run = nbmessages.batches.resume("never-sent", client=client_for(server, ledger_path))
        results = run.wait(poll_interval=0.05)
        assert len(server_batches(server)) == 1
    assert [r.status for r in results] == ["succeeded"] * 3


def test_openrouter_expired_batch_rows_are_marked_expired(batch_server, ledger_path):
    client = Client(base_url=batch_server.openrouter_base_url, api_key="t", ledger=ledger_path,
                    default_headers={"x-nbmessages-batch-expire": "1"})
    requests = [Request(model="anthropic/claude-haiku-4.5", max_tokens=20, messages=f"hi {i}") for i in range(3)]
    results = nbmessages.batches.submit(requests, client=client).wait(poll_interval=0.05)
    assert [r.status for r in results] == ["expired"] * 3


def test_openrouter_batch_costs_come_from_the_provider(batch_server, ledger_path):
    client = Client(base_url=batch_server.openrouter_base_url, api_key="t", ledger=ledger_path)
    requests = [Request(model="anthropic/claude-haiku-4.5", max_tokens=20, messages=f"hey {i}") for i in range(2)]
    results = nbmessages.batches.submit(requests, client=client).wait(poll_interval=0.05)
    assert [r.status for r in results] == ["succeeded"] * 2 and {r.cost_source for r in results} == {"provider"}
