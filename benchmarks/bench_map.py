"""nbmessages.map against the embedded server: throughput, client CPU, rate limits and resume, side by side.

Run: python benchmarks/bench_map.py [ROWS]   (default 2000)
Targets:
  (a) ROWS rows at concurrency 50, time to first token 0.2 s, pace 0: wall time within 1.2x of the ideal
      (rows x latency / concurrency); at least the throughput of a hand-written AsyncAnthropic + Semaphore loop on
      the same server and settings, with at most half its client CPU per row; a raw aiohttp loop shows the floor.
  (b) a server limited to 600 requests a minute: throughput at least 90 % of the limit, at most 1 % answered 429.
  (c) a run interrupted at 50 % and run again: requests sent in total at most 1.05 x the rows.
The server of (a) runs in its own process (`python -m nbmessages serve`), so its CPU is not the client's.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time

import pandas as pd

import nbmessages
from nbmessages.ledger.store import Ledger
from nbmessages.local import start
from nbmessages.notebook.map.store import ResultStore

CONCURRENCY = 50
TTFT = 0.2
MAX_TOKENS = 20
REPEATS = 3


def _rows(n: int, tag: str) -> pd.DataFrame:
    return pd.DataFrame({"q": [f"{tag} question number {i}" for i in range(n)]})


class ServerProcess:
    """`python -m nbmessages serve` in a child process."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "nbmessages", "serve", *args], stdout=subprocess.PIPE,
                                     text=True, env={**os.environ, "PYTHONPATH": os.getcwd()})
        line = self.proc.stdout.readline()  # type: ignore[union-attr]
        found = re.search(r"(http://\S+)", line)
        if found is None:
            raise RuntimeError(f"the server did not start: {line!r}")
        self.base_url = found.group(1)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(10)


def timed(fn) -> tuple[float, float, object]:  # noqa: ANN001
    """Wall seconds, this process's CPU seconds (every thread), and the result."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def with_map(base_url: str, rows: pd.DataFrame, ledger_path: str) -> pd.DataFrame:
    with nbmessages.Client(base_url=base_url, ledger=ledger_path) as client:
        return nbmessages.map(rows, "{q}", client=client, model="claude-haiku-4-5", max_tokens=MAX_TOKENS,
                              concurrency=CONCURRENCY, progress=False)


def with_sdk(base_url: str, rows: pd.DataFrame) -> list[str]:
    """What a user writes by hand: AsyncAnthropic, an asyncio.Semaphore and gather, in row order."""
    from anthropic import AsyncAnthropic

    async def run() -> list[str]:
        client = AsyncAnthropic(api_key="bench", base_url=base_url)
        semaphore = asyncio.Semaphore(CONCURRENCY)

        async def one(q: str) -> str:
            async with semaphore:
                message = await client.messages.create(model="claude-haiku-4-5", max_tokens=MAX_TOKENS,
                                                       messages=[{"role": "user", "content": q}])
                return message.content[0].text

        try:
            return list(await asyncio.gather(*(one(q) for q in rows["q"])))
        finally:
            await client.close()

    return asyncio.run(run())


def with_raw(base_url: str, rows: pd.DataFrame) -> list[str]:
    """The floor: aiohttp alone on uvloop (what the map's pool is), a Semaphore, JSON in and out, nothing else."""
    import json

    import aiohttp
    import uvloop

    headers = {"content-type": "application/json", "x-api-key": "bench", "anthropic-version": "2023-06-01"}

    async def run() -> list[str]:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY + 8),
                                         cookie_jar=aiohttp.DummyCookieJar()) as session:
            semaphore = asyncio.Semaphore(CONCURRENCY)

            async def one(q: str) -> str:
                body = json.dumps({"model": "claude-haiku-4-5", "max_tokens": MAX_TOKENS,
                                   "messages": [{"role": "user", "content": q}]}).encode()
                async with semaphore, session.post(f"{base_url}/v1/messages", data=body, headers=headers) as r:
                    return str(json.loads(await r.read())["content"][0]["text"])

            return list(await asyncio.gather(*(one(q) for q in rows["q"])))

    return uvloop.run(run())


def bench_throughput(n: int, tmp: str) -> None:
    server = ServerProcess("--pace", "0", "--ttft", str(TTFT))
    try:
        with_sdk(server.base_url, _rows(20, "warm"))  # imports and connections warm for both
        with_map(server.base_url, _rows(20, "warm"), os.path.join(tmp, "warm.sqlite"))
        with_raw(server.base_url, _rows(20, "warm"))
        ideal = n * TTFT / CONCURRENCY
        runs: dict[str, list[tuple[float, float, object]]] = {"sdk": [], "map": [], "raw": []}
        for i in range(REPEATS):  # interleaved, best of each: the machine is shared, its load comes and goes
            sdk_rows, map_rows, ledger = _rows(n, f"sdk{i}"), _rows(n, f"map{i}"), os.path.join(tmp, f"a{i}.sqlite")
            runs["sdk"].append(timed(lambda rows=sdk_rows: with_sdk(server.base_url, rows)))
            runs["map"].append(timed(lambda rows=map_rows, path=ledger: with_map(server.base_url, rows, path)))
            runs["raw"].append(timed(lambda rows=_rows(n, f"raw{i}"): with_raw(server.base_url, rows)))
        sdk_wall, sdk_cpu = min(r[0] for r in runs["sdk"]), min(r[1] for r in runs["sdk"])
        map_wall, map_cpu = min(r[0] for r in runs["map"]), min(r[1] for r in runs["map"])
        raw_wall, raw_cpu = min(r[0] for r in runs["raw"]), min(r[1] for r in runs["raw"])
        out = runs["map"][-1][2]
    finally:
        server.stop()
    ok = (out["status"] == "ok").sum()  # type: ignore[index]
    print(f"(a) {n} rows, concurrency {CONCURRENCY}, ttft {TTFT} s, pace 0 (server in its own process; "
          f"best of {REPEATS} interleaved runs each)")
    print(f"    ideal (rows x latency / concurrency)   {ideal:7.2f} s")
    print(f"    nbmessages.map                          {map_wall:7.2f} s  = {map_wall / ideal:.2f}x ideal "
          f"(target <= 1.2x)   {n / map_wall:7.1f} rows/s   client CPU {map_cpu / n * 1e3:.2f} ms/row   ({ok} ok)")
    print(f"    AsyncAnthropic + Semaphore              {sdk_wall:7.2f} s  = {sdk_wall / ideal:.2f}x ideal"
          f"                     {n / sdk_wall:7.1f} rows/s   client CPU {sdk_cpu / n * 1e3:.2f} ms/row")
    print(f"    raw loop (aiohttp + uvloop, the floor)  {raw_wall:7.2f} s  = {raw_wall / ideal:.2f}x ideal"
          f"                     {n / raw_wall:7.1f} rows/s   client CPU {raw_cpu / n * 1e3:.2f} ms/row")
    print(f"    throughput map / SDK {sdk_wall / map_wall:.2f}x (target >= 1.0); "
          f"CPU per row map / SDK {map_cpu / sdk_cpu:.2f} (target <= 0.5)  "
          f"[map CPU includes the ledger and the results table]")
    print(f"    map over the raw loop: {map_wall / raw_wall:.2f}x the wall, {map_cpu / raw_cpu:.2f}x the CPU per row "
          "(what validation, retries, limits, records and resume cost)")


def bench_rate_limit(n: int, tmp: str) -> None:
    rpm = 600
    with start(pace=0, ttft=TTFT, rpm=rpm, burst=1) as server:
        wall, _, out = timed(lambda: with_map(server.base_url, _rows(n, "limited"), os.path.join(tmp, "b.sqlite")))
        refused, served = server.rate_limited, server.requests_served
    rate = n / wall * 60
    print(f"(b) {n} rows against a server limited to {rpm} requests/minute (bucket of 1 s: no minute-long burst)")
    print(f"    throughput {rate:.0f} requests/minute = {rate / rpm:.0%} of the limit (target >= 90 %); "
          f"{refused} of {served} answered 429 = {refused / served:.2%} (target <= 1 %); "
          f"{(out['status'] == 'ok').sum()} ok")  # type: ignore[index]


def bench_resume(n: int, tmp: str) -> None:
    path = os.path.join(tmp, "c.sqlite")
    rows = _rows(n, "resume")
    with start(pace=0, ttft=TTFT) as server:
        store = ResultStore(Ledger(path))
        stop = threading.Event()

        def interrupt_at_half() -> None:
            while not stop.is_set():
                try:
                    stored = store.ledger.connection.execute("SELECT count(*) FROM map_results").fetchone()[0]
                except Exception:  # noqa: BLE001 - the table appears with the first map
                    stored = 0
                if stored >= n // 2:
                    signal.raise_signal(signal.SIGINT)  # what the kernel's interrupt does
                    return
                time.sleep(0.01)

        watcher = threading.Thread(target=interrupt_at_half, daemon=True)
        watcher.start()
        first = with_map(server.base_url, rows, path)
        stop.set()
        second = with_map(server.base_url, rows, path)
        sent = server.requests_served
    print(f"(c) {n} rows interrupted at {(first['status'] == 'ok').sum() / n:.0%} and run again: "
          f"{sent} requests sent in total = {sent / n:.3f}x the rows (target <= 1.05x); "
          f"second run: {(second['status'] == 'cached').sum()} cached, {(second['status'] == 'ok').sum()} sent")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    with tempfile.TemporaryDirectory() as tmp:
        bench_throughput(n, tmp)
        bench_rate_limit(min(n, 200), tmp)
        bench_resume(n, tmp)


if __name__ == "__main__":
    main()
