"""Batch mode's client time per row (submit, poll, read results) and the Dask path's throughput.

Targets (issue 14): under 0.2 ms of client time per row at 10,000 rows, linear from 1,000 to 100,000 rows,
memory flat while reading results; Dask with 2 workers against one shared limit: at least 90 % of it, cold
(a new cluster, no warm-up run; ``--no-batches`` runs only this).
Client time is the client process's CPU time: the server runs in its own process, and waiting for it (the
offline model answering every request) is not client work. ``--rows 1000,10000,100000`` chooses the sizes; ``--no-dask`` skips it.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import nbmessages
from nbmessages import Client, Request
from nbmessages.local import start
from nbmessages.notebook.batch_runner import start as start_run


def client_time(server, rows: int, ledger: str) -> tuple[float, float, float]:
    """CPU seconds of the client to submit, poll and collect ``rows`` requests (waiting on the server is not)."""
    client = Client(base_url=server.base_url, api_key="bench", ledger=ledger)
    requests = [Request(model="claude-haiku-4-5", max_tokens=16, messages=f"Classify review {i}")
                for i in range(rows)]
    t0 = time.process_time()
    run = start_run(requests, client=client)
    submit = time.process_time() - t0
    poll = 0.0
    while True:  # poll without collecting: the server's processing is not client time
        t1 = time.process_time()
        ended = all(client.messages.batches.retrieve(j.batch_id).ended for j in run.jobs.jobs(run.run))
        poll += time.process_time() - t1
        if ended:
            break
        time.sleep(0.05)
    t2 = time.process_time()
    results = run.wait(poll_interval=0.01)
    collect = time.process_time() - t2
    assert len(results) == rows and all(r.status == "succeeded" for r in results)
    return submit, poll, collect


def stream_memory(server, rows: int) -> int:
    """Peak memory of reading one batch's results line by line (nothing kept)."""
    client = Client(base_url=server.base_url, api_key="bench", ledger=False)
    batch = client.messages.batches.create([
        {"custom_id": f"m{i}", "params": {"model": "m", "max_tokens": 16, "messages": f"row {i}"}}
        for i in range(rows)])
    while not client.messages.batches.retrieve(batch.id).ended:
        time.sleep(0.05)
    tracemalloc.start()
    count = sum(1 for _ in client.messages.batches.results(batch.id))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert count == rows
    return peak


def bench_dask(rows: int, rpm: float) -> None:
    """Dask with 2 workers against one shared limit: cold (a new cluster whose workers have not imported
    nbmessages, as in a notebook; timed from the ``map`` call), then warm on the same cluster."""
    import dask.dataframe as dd
    import distributed
    import pandas as pd

    with start(pace=0, ttft=0, rpm=rpm, burst=1) as server, tempfile.TemporaryDirectory() as tmp, \
            distributed.LocalCluster(n_workers=2, threads_per_worker=2, dashboard_address=None) as cluster, \
            distributed.Client(cluster):
        client = Client(base_url=server.base_url, api_key="bench", ledger=str(Path(tmp) / "u.sqlite"))
        for run in ("cold", "warm"):
            ddf = dd.from_pandas(pd.DataFrame({"q": [f"{run} q{i}" for i in range(rows)]}), npartitions=8)
            refused = server.rate_limited
            t0 = time.perf_counter()
            frame = nbmessages.map(ddf, "Answer {q}", client=client, limits={"rpm": rpm}, max_tokens=8,
                                   concurrency=4).compute()
            elapsed = time.perf_counter() - t0
            rate = len(frame) / elapsed * 60
            share = rate / rpm
            print(f"dask, 2 workers, {run}: {len(frame)} rows in {elapsed:.1f} s = {rate:.0f} rpm of a {rpm:.0f} rpm "
                  f"limit ({share:.0%}; target >= 90 %: {'met' if share >= 0.9 else 'NOT met'}); "
                  f"429s from the server: {server.rate_limited - refused}", flush=True)
            time.sleep(2)  # let the server's bucket refill


def dask_in_a_new_process(rows: int, rpm: float) -> None:
    """Run ``bench_dask`` from ``python -c``: spawned workers then import nothing of this module (which imports
    nbmessages), so the cold run pays the workers' imports as it would in a notebook."""
    code = f"import bench_batches; bench_batches.bench_dask({rows}, {rpm})"
    subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).parent, check=True)


class ServerProcess:
    """The embedded server in its own process, so its work is not counted as (or slowed by) the client's."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "nbmessages", "serve", "--pace", "0", "--ttft", "0",
                                      "--batch-delay", "0"], stdout=subprocess.PIPE, text=True)
        first = self.proc.stdout.readline() if self.proc.stdout else ""
        self.base_url = first.rsplit(" ", 1)[-1].strip()

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def bench_batch_mode(sizes: list[int]) -> None:
    """Client time per row of batch mode, and the memory of reading results."""
    per_row = {}
    with ServerProcess() as server, tempfile.TemporaryDirectory() as tmp:
        for rows in sizes:
            submit, poll, collect = client_time(server, rows, str(Path(tmp) / f"l{rows}.sqlite"))
            total = submit + poll + collect
            per_row[rows] = total / rows * 1000
            print(f"{rows:>7,} rows: submit {submit:6.2f} s, poll {poll:5.2f} s, results {collect:6.2f} s = "
                  f"{per_row[rows]:.3f} ms per row")
        if 10_000 in per_row:
            ok = per_row[10_000] < 0.2
            print(f"target: under 0.2 ms per row at 10,000 rows: {'met' if ok else 'NOT met'} "
                  f"({per_row[10_000]:.3f} ms)")
        if len(per_row) > 1:
            low, high = min(per_row), max(per_row)
            ratio = per_row[high] / per_row[low]
            print(f"linear: per-row time at {high:,} rows is {ratio:.2f}x that at {low:,} "
                  f"({'met' if ratio < 1.5 else 'NOT met'}: within 1.5x)")
        small, large = stream_memory(server, 1_000), stream_memory(server, 10_000)
        print(f"reading results: peak {small / 2**10:.0f} KB at 1,000 rows, {large / 2**10:.0f} KB at 10,000 "
              f"({'flat: met' if large < 3 * small else 'NOT flat'})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", default="1000,10000,100000")
    parser.add_argument("--no-dask", action="store_true")
    parser.add_argument("--no-batches", action="store_true")
    parser.add_argument("--dask-rows", type=int, default=300)
    parser.add_argument("--rpm", type=float, default=600.0)
    args = parser.parse_args()
    if not args.no_batches:
        bench_batch_mode([int(n) for n in args.rows.split(",")])
    if not args.no_dask:
        dask_in_a_new_process(args.dask_rows, args.rpm)


if __name__ == "__main__":
    main()
