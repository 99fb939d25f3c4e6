"""Resume across processes: a map killed halfway (SIGKILL, like a dead kernel) and run again costs one pass."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pandas as pd

import nbmessages
from nbmessages.ledger.store import Ledger
from nbmessages.local import start

ROWS = 200
SCRIPT = textwrap.dedent("""
    import sys
    import pandas as pd
    import nbmessages
    base_url, ledger = sys.argv[1], sys.argv[2]
    rows = pd.DataFrame({"q": [f"question {i}" for i in range(ROWS)]})
    with nbmessages.Client(base_url=base_url, ledger=ledger) as client:
        nbmessages.map(rows, "Answer: {q}", client=client, max_tokens=20, concurrency=5, progress=False)
    print("finished", flush=True)
""").replace("ROWS", str(ROWS))


def _stored(path: str) -> int:
    try:
        with sqlite3.connect(path, timeout=5) as conn:
            return conn.execute("SELECT count(*) FROM map_results").fetchone()[0]
    except sqlite3.OperationalError:  # not created yet
        return 0


def test_a_map_killed_halfway_resumes_in_another_process_for_about_one_pass(tmp_path):
    path = str(tmp_path / "usage.sqlite")
    with start(pace=0, ttft=0.1) as server:
        child = subprocess.Popen([sys.executable, "-c", SCRIPT, server.base_url, path],
                                 env={**os.environ, "PYTHONPATH": os.getcwd()}, stdout=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while _stored(path) < ROWS // 2 and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.02)
        child.send_signal(signal.SIGKILL)
        child.wait()
        assert b"finished" not in child.stdout.read()
        first = _stored(path)
        assert ROWS // 2 <= first < ROWS
        rows = pd.DataFrame({"q": [f"question {i}" for i in range(ROWS)]})
        ledger = Ledger(path)
        with nbmessages.Client(base_url=server.base_url, ledger=ledger) as client:
            out = nbmessages.map(rows, "Answer: {q}", client=client, max_tokens=20, concurrency=10, progress=False)
        assert (out["status"] == "cached").sum() == first and (out["status"] == "ok").sum() == ROWS - first
        calls = ledger.rows("WHERE json_extract(tags, '$.map') = ?", (out.attrs["map_id"],))
        # every call of both processes is in the ledger with the map's id; the ones cut off by the kill cost extra
        # at most the requests in flight (5) and the answers of the last unflushed 0.1 s (~5) are asked twice
        assert ROWS <= len(calls) <= ROWS + 15 and server.requests_served <= ROWS + 15
